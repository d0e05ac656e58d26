/* The deadline min-heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rpc/deadline.h"

static void test_order_and_remove(void **state)
{
    enum { N = 500 };
    rpc_dl_node *nodes = calloc(N, sizeof(*nodes));
    assert_non_null(nodes);
    rpc_dl_heap h;
    rpc_dl_heap_init(&h);
    assert_null(rpc_dl_peek(&h));
    uint32_t seed = 7;
    for (int i = 0; i < N; i++) {
        rpc_dl_node_init(&nodes[i]);
        seed = seed * 1103515245u + 12345u;
        nodes[i].when = (seed >> 8) % 1000; /* with duplicates */
        assert_int_equal(rpc_dl_push(&h, &nodes[i]), 0);
        assert_true(rpc_dl_node_queued(&nodes[i]));
    }
    /* remove every third node from the middle of the heap */
    for (int i = 0; i < N; i += 3) {
        rpc_dl_remove(&h, &nodes[i]);
        assert_false(rpc_dl_node_queued(&nodes[i]));
        rpc_dl_remove(&h, &nodes[i]); /* twice is harmless */
    }
    uint64_t last = 0;
    size_t popped = 0;
    rpc_dl_node *n;
    while ((n = rpc_dl_peek(&h))) {
        assert_true(n->when >= last);
        last = n->when;
        rpc_dl_remove(&h, n);
        popped++;
    }
    assert_int_equal(popped, N - (N + 2) / 3);
    rpc_dl_heap_free(&h);
    free(nodes);
}

static void test_free_unqueues(void **state)
{
    rpc_dl_node a, b;
    rpc_dl_node_init(&a);
    rpc_dl_node_init(&b);
    a.when = 5;
    b.when = 3;
    rpc_dl_heap h;
    rpc_dl_heap_init(&h);
    rpc_dl_push(&h, &a);
    rpc_dl_push(&h, &b);
    assert_ptr_equal(rpc_dl_peek(&h), &b);
    rpc_dl_heap_free(&h);
    assert_false(rpc_dl_node_queued(&a));
    assert_false(rpc_dl_node_queued(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_remove),
        cmocka_unit_test(test_free_unqueues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
