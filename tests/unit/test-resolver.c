/* Resource resolver: path rules, directory layout, host callback. */
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

#include "resolver.h"

static void component_rules(void **state)
{
    (void)state;
    const char *good[] = { "aio-ca-trust-bundle", "client_cert.pem", "tls.crt",
                           "a", "A.b_c-9" };
    const char *bad[] = { "", ".", "..", "../x", "x/../y", "a/b", "..data",
                          ".hidden", "sp ace", "tab\t", "new\nline", "ü",
                          "back\\slash", NULL };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(aioe_resolver_valid_component(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(aioe_resolver_valid_component(bad[i]));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(aioe_resolver_valid_component(longname));
    longname[253] = '\0';
    assert_true(aioe_resolver_valid_component(longname));
}

static void paths(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(aioe_resolver_path("/etc/aioendpoint", AIOE_RESOURCE_SECRET,
                                        "x509", "client_key.pem", buf, sizeof buf),
                     AIOE_OK);
    assert_string_equal(buf, "/etc/aioendpoint/secrets/x509/client_key.pem");
    assert_int_equal(aioe_resolver_path("/r", AIOE_RESOURCE_CONFIG_MAP, "ca",
                                        NULL, buf, sizeof buf), AIOE_OK);
    assert_string_equal(buf, "/r/configmaps/ca");
    assert_int_equal(aioe_resolver_path("/r", AIOE_RESOURCE_SECRET, "..",
                                        "k", buf, sizeof buf), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_resolver_path("/r", AIOE_RESOURCE_SECRET, "s",
                                        "../../etc/shadow", buf, sizeof buf),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_resolver_path("/r", (aioe_resource_kind)9, "s", "k",
                                        buf, sizeof buf), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_resolver_path("/r", AIOE_RESOURCE_SECRET, "s", "k",
                                        buf, 8), AIOE_ERR_TOO_LARGE);
}

static void root_precedence(void **state)
{
    (void)state;
    assert_string_equal(aioe_resolver_pick_root("/opt", "/env"), "/opt");
    assert_string_equal(aioe_resolver_pick_root(NULL, "/env"), "/env");
    assert_string_equal(aioe_resolver_pick_root(NULL, ""), AIOE_RESOURCE_DIR_DEFAULT);
    assert_string_equal(aioe_resolver_pick_root(NULL, NULL), "/etc/aioendpoint");
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void directory_layout(void **state)
{
    (void)state;
    char root[] = "/tmp/aioe-resolver-XXXXXX", p[512];
    assert_non_null(mkdtemp(root));
    snprintf(p, sizeof p, "%s/secrets", root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/secrets/s1", root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/configmaps", root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/configmaps/ca", root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/configmaps/ca/..2024_01", root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/secrets/s1/tls.crt", root); put(p, "CERT");
    snprintf(p, sizeof p, "%s/configmaps/ca/b.crt", root); put(p, "B");
    snprintf(p, sizeof p, "%s/configmaps/ca/a.crt", root); put(p, "A\n");
    snprintf(p, sizeof p, "%s/configmaps/ca/..2024_01/zz", root); put(p, "HIDDEN");

    aioe_resolver r = { root, NULL, NULL, NULL };
    aioe_resource res;
    char err[256];
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s1", "tls.crt",
                                       &res, err, sizeof err), AIOE_OK);
    assert_int_equal(res.len, 4);
    assert_memory_equal(res.data, "CERT", 4);
    assert_non_null(res.path);
    aioe_resource_clear(&res);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s1", "tls.key",
                                       &res, err, sizeof err), AIOE_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "tls.key"));
    /* bundle: every key in name order, dot-entries skipped */
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_CONFIG_MAP, "ca", NULL,
                                       &res, err, sizeof err), AIOE_OK);
    assert_string_equal((char *)res.data, "A\nB\n");
    assert_null(res.path);
    aioe_resource_clear(&res);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_CONFIG_MAP, "nope", NULL,
                                       &res, err, sizeof err), AIOE_ERR_NOT_FOUND);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "..", "tls.crt",
                                       &res, err, sizeof err), AIOE_ERR_INVALID_ARG);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static int host_cb(aioe_session *s, aioe_resource_request *req, void *ud)
{
    (void)s;
    int *calls = ud;
    (*calls)++;
    if (aioe_resource_request_kind(req) != AIOE_RESOURCE_SECRET)
        return AIOE_ERR_NOT_FOUND;
    if (strcmp(aioe_resource_request_name(req), "vault") != 0)
        return AIOE_ERR_NOT_FOUND;
    if (strcmp(aioe_resource_request_key(req), "empty") == 0)
        return AIOE_OK; /* OK without data counts as not found */
    return aioe_resource_request_set_data(req, "bytes", 5);
}

static void host_callback(void **state)
{
    (void)state;
    int calls = 0;
    aioe_resolver r = { "/nonexistent", host_cb, &calls, NULL };
    aioe_resource res;
    char err[256];
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "vault", "k",
                                       &res, err, sizeof err), AIOE_OK);
    assert_int_equal(res.len, 5);
    assert_memory_equal(res.data, "bytes", 5);
    assert_null(res.path);
    aioe_resource_clear(&res);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "vault", "empty",
                                       &res, err, sizeof err), AIOE_ERR_NOT_FOUND);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_CONFIG_MAP, "x", NULL,
                                       &res, err, sizeof err), AIOE_ERR_NOT_FOUND);
    /* invalid names never reach the callback */
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "../x", "k",
                                       &res, err, sizeof err), AIOE_ERR_INVALID_ARG);
    assert_int_equal(calls, 3);
    assert_int_equal(aioe_resource_request_set_data(NULL, "x", 1),
                     AIOE_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(component_rules),
        cmocka_unit_test(paths),
        cmocka_unit_test(root_precedence),
        cmocka_unit_test(directory_layout),
        cmocka_unit_test(host_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
