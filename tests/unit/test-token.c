/* The K8S-SAT token source: re-read per fetch, rotation detection through
 * the kubelet's ..data symlink swap, empty/missing files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <aioendpoint/common.h>
#include "token_source.h"

#define TMPDIR_FIXTURE_NAME "token"
#include "tmpdir-fixture.h"

/* {"exp":2000000000,"iat":1999999000} */
#define JWT "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjIwMDAwMDAwMDAsImlhdCI6MTk5OTk5OTAwMH0.c2ln"

static void fetch_trims_and_reads_exp(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/plain", root);
    put(path, JWT "\n");
    aioe_token_source src;
    assert_int_equal(aioe_token_source_sat_new(path, &src), AIOE_OK);
    assert_string_equal(src.ops->auth_method, "K8S-SAT");
    aioe_token t;
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.len, strlen(JWT));
    assert_memory_equal(t.data, JWT, t.len);
    assert_true(t.exp == 2000000000 && t.iat == 1999999000);
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));
    /* in-place rewrite with the same bytes is not a rotation */
    put(path, JWT "\n");
    assert_false(src.ops->changed(src.self));
    put(path, "opaque-token-2");
    assert_true(src.ops->changed(src.self));
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, 0); /* not a JWT: no exp-driven refresh */
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));
    aioe_token_source_destroy(&src);
}

static void kubelet_symlink_swap(void **state)
{
    (void)state;
    char d1[128], d2[128], data[128], tok[128], err[256], f[160];
    snprintf(d1, sizeof d1, "%s/..ts1", root);
    snprintf(d2, sizeof d2, "%s/..ts2", root);
    snprintf(data, sizeof data, "%s/..data", root);
    snprintf(tok, sizeof tok, "%s/token", root);
    mkdir(d1, 0700);
    mkdir(d2, 0700);
    snprintf(f, sizeof f, "%s/token", d1); put(f, "first");
    snprintf(f, sizeof f, "%s/token", d2); put(f, "second");
    assert_int_equal(symlink("..ts1", data), 0);
    assert_int_equal(symlink("..data/token", tok), 0);
    aioe_token_source src;
    assert_int_equal(aioe_token_source_sat_new(tok, &src), AIOE_OK);
    aioe_token t;
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_memory_equal(t.data, "first", 5);
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));
    /* atomic swap as the kubelet does it */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", root);
    assert_int_equal(symlink("..ts2", tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
    assert_true(src.ops->changed(src.self));
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_memory_equal(t.data, "second", 6);
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));
    aioe_token_source_destroy(&src);
}

static void empty_and_missing_are_reported(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/empty", root);
    put(path, " \n");
    aioe_token_source src;
    aioe_token t;
    assert_int_equal(aioe_token_source_sat_new(path, &src), AIOE_OK);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "empty"));
    assert_null(t.data);
    aioe_token_source_destroy(&src);
    snprintf(path, sizeof path, "%s/missing", root);
    assert_int_equal(aioe_token_source_sat_new(path, &src), AIOE_OK);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, path));
    assert_false(src.ops->changed(src.self));
    aioe_token_source_destroy(&src);
    assert_int_equal(aioe_token_source_sat_new("", &src), AIOE_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fetch_trims_and_reads_exp),
        cmocka_unit_test(kubelet_symlink_swap),
        cmocka_unit_test(empty_and_missing_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
