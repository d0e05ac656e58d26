#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/path.h"

/* Joins the components path_next yields with '|'. */
static void walk(const char *path, char *out, size_t size)
{
    const char *p = path, *c;
    size_t n, off = 0;
    out[0] = '\0';
    while (path_next(&p, &c, &n))
        off += (size_t)snprintf(out + off, size - off, "%s%.*s", off ? "|" : "", (int)n, c);
    assert_int_equal(*p, '\0');
}

static void components(void **state)
{
    (void)state;
    char buf[128];
    walk("/a/bb/c", buf, sizeof(buf));
    assert_string_equal(buf, "a|bb|c");
    walk("a//b///", buf, sizeof(buf));
    assert_string_equal(buf, "a|b");
    walk("///", buf, sizeof(buf));
    assert_string_equal(buf, "");
    walk("", buf, sizeof(buf));
    assert_string_equal(buf, "");
    walk("/./../x", buf, sizeof(buf));
    assert_string_equal(buf, ".|..|x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(components)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
