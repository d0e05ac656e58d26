#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cri/cri.h"
#include "cri/service.h"

static void every_kind_maps_deliberately(void **state)
{
    (void)state;
    static const struct {
        cric_errkind kind;
        rpc_code code;
    } map[] = {
        {CRIC_ERR_INVALID, RPC_INVALID_ARGUMENT},
        {CRIC_ERR_NOT_FOUND, RPC_NOT_FOUND},
        {CRIC_ERR_EXISTS, RPC_ALREADY_EXISTS},
        {CRIC_ERR_PRECONDITION, RPC_FAILED_PRECONDITION},
        {CRIC_ERR_UNAVAILABLE, RPC_UNAVAILABLE},
        {CRIC_ERR_TIMEOUT, RPC_DEADLINE_EXCEEDED},
        {CRIC_ERR_RESOURCE, RPC_RESOURCE_EXHAUSTED},
        {CRIC_ERR_UNIMPLEMENTED, RPC_UNIMPLEMENTED},
        {CRIC_ERR_CANCELLED, RPC_CANCELLED},
        {CRIC_ERR_PERMISSION, RPC_PERMISSION_DENIED},
        {CRIC_ERR_INTERNAL, RPC_INTERNAL},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        cric_err err = {0};
        cric_err_set(&err, map[i].kind, "container %s: boom", "3f2a");
        rpc_status st = {0};
        assert_int_equal(cri_status_from_err(&err, &st), map[i].code);
        assert_int_equal(st.code, map[i].code);
        assert_string_equal(st.message, "container 3f2a: boom");
    }
}

static void method_table_is_complete(void **state)
{
    (void)state;
    size_t n = 0;
    const rpc_method *m = cri_methods(&n);
    assert_int_equal(n, 43);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(m[i].handler);
        assert_true(strncmp(m[i].path, "/runtime.v1.", 12) == 0);
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(m[i].path, m[j].path);
        bool stream = strstr(m[i].path, "/Stream") || strstr(m[i].path, "GetContainerEvents");
        assert_int_equal(stream, (m[i].flags & RPC_METHOD_SERVER_STREAMING) != 0);
    }
    /* Every method the proto declares has an entry. */
    const ProtobufCServiceDescriptor *svcs[] = {&runtime__v1__runtime_service__descriptor,
                                                &runtime__v1__image_service__descriptor};
    size_t declared = 0;
    for (size_t s = 0; s < 2; s++) {
        for (unsigned k = 0; k < svcs[s]->n_methods; k++, declared++) {
            char path[256];
            snprintf(path, sizeof(path), "/%s/%s", svcs[s]->name, svcs[s]->methods[k].name);
            bool found = false;
            for (size_t i = 0; i < n; i++)
                found = found || strcmp(m[i].path, path) == 0;
            if (!found)
                fail_msg("%s has no entry in the method table", path);
        }
    }
    assert_int_equal(declared, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind_maps_deliberately),
        cmocka_unit_test(method_table_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
