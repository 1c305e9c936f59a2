/* Managed-identity token sources around the fetch: refresh schedule,
 * source selection, configuration and the shared cache, driven through a
 * scripted HTTP transport. One fetch (parsing, retries, request shapes) is
 * in test-mi-fetch.c; the real HTTP path is covered by
 * tests/integration/test-mi.c against tests/identity/. */
#include "mi-fixture.h"

/* ---- schedule, selection, configuration ------------------------------------ */

static void refresh_schedule(void **state)
{
    (void)state;
    assert_int_equal(aioe__mi_refresh_at(0, 86400), 43200);     /* half-life */
    assert_int_equal(aioe__mi_refresh_at(0, 7200), 3600);
    assert_int_equal(aioe__mi_refresh_at(0, 3600), 3300);       /* 5 min before */
    assert_int_equal(aioe__mi_refresh_at(1000, 1010), 1005);    /* short: half */
    assert_int_equal(aioe__mi_refresh_at(1000, 1000), 1000);
}

typedef struct { const char *kv[12]; } fake_env;

static const char *env_get(void *ctx, const char *name)
{
    fake_env *e = ctx;
    for (int i = 0; e->kv[i]; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

static void source_selection_like_the_sdks(void **state)
{
    (void)state;
    fake_env none = { { NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &none, NULL, NULL), AIOE_IDENTITY_SOURCE_IMDS);
    fake_env wi = { { "AZURE_FEDERATED_TOKEN_FILE", "/t", "AZURE_CLIENT_ID", "c",
                      "AZURE_TENANT_ID", "t", "IDENTITY_ENDPOINT", "http://x",
                      "IMDS_ENDPOINT", "http://y", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &wi, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    fake_env wi_partial = { { "AZURE_FEDERATED_TOKEN_FILE", "/t", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &wi_partial, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_IMDS);
    /* the endpoint's clientId/tenantId complete it */
    assert_int_equal(aioe__mi_select_source(env_get, &wi_partial, "c", "t"),
                     AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    fake_env arc = { { "IDENTITY_ENDPOINT", "http://x", "IMDS_ENDPOINT", "http://y",
                       "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &arc, NULL, NULL), AIOE_IDENTITY_SOURCE_ARC);
    fake_env app = { { "IDENTITY_ENDPOINT", "http://x", "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &app, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_APP_SERVICE);
    fake_env empty = { { "IDENTITY_ENDPOINT", "", "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &empty, NULL, NULL), AIOE_IDENTITY_SOURCE_IMDS);
}

static aioe_parse_result *parse_ep(const char *auth)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "apiVersion: connectivity.iotoperations.azure.com/v1beta1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: eg\n  namespace: ns\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: ns.westeurope-1.ts.eventgrid.azure.net:8883\n"
             "    authentication:\n%s    tls:\n      mode: Enabled\n", auth);
    aioe_parse_result *r = NULL;
    int rc = aioe_parse_buffer(doc, strlen(doc), "t.yaml", NULL, &r);
    if (rc != AIOE_OK && r && aioe_parse_result_error_count(r))
        fprintf(stderr, "%s: %s\n", aioe_parse_result_error(r, 0)->path,
                aioe_parse_result_error(r, 0)->message);
    assert_int_equal(rc, AIOE_OK);
    assert_int_equal(aioe_parse_result_endpoint_count(r), 1);
    return r;
}

#define SAMI "      method: SystemAssignedManagedIdentity\n" \
             "      systemAssignedManagedIdentitySettings: {}\n"
#define UAMI "      method: UserAssignedManagedIdentity\n" \
             "      userAssignedManagedIdentitySettings:\n" \
             "        clientId: 11111111-2222-3333-4444-555555555555\n        tenantId: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"

static void config_resolution(void **state)
{
    (void)state;
    aioe_parse_result *sami = parse_ep(SAMI), *uami = parse_ep(UAMI);
    const aioe_endpoint *se = aioe_parse_result_endpoint(sami, 0);
    const aioe_endpoint *ue = aioe_parse_result_endpoint(uami, 0);
    mi_config c;
    char err[256];
    fake_env none = { { NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &none, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_IMDS);
    assert_string_equal(c.url, MI_IMDS_DEFAULT_URL);
    assert_string_equal(c.resource, "https://eventgrid.azure.net");
    assert_string_equal(c.scope, "https://eventgrid.azure.net/.default");
    assert_false(c.user_assigned);
    assert_int_equal(c.retry_total_ms, 60000);
    assert_int_equal(c.gone_window_ms, 70000);
    assert_string_equal(c.arc_key_dir, "/var/opt/azcmagent/tokens");
    aioe__mi_config_clear(&c);

    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &none, err, sizeof err), AIOE_OK);
    assert_true(c.user_assigned);
    assert_string_equal(c.client_id, "11111111-2222-3333-4444-555555555555");
    assert_string_equal(c.resource, "https://eventgrid.azure.net");
    aioe__mi_config_clear(&c);

    /* UAMI with only the federated token file: workload identity */
    fake_env wi = { { "AZURE_FEDERATED_TOKEN_FILE", "/var/run/t",
                      "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &wi, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    assert_string_equal(c.url, "https://login.microsoftonline.us/");
    assert_string_equal(c.tenant_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    assert_string_equal(c.federated_token_file, "/var/run/t");
    aioe__mi_config_clear(&c);

    /* forced workload identity for SAMI without client ID: named error */
    fake_env forced = { { "AIOE_IDENTITY_SOURCE", "workload", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &forced, err, sizeof err),
                     AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "AZURE_FEDERATED_TOKEN_FILE"));
    fake_env bogus = { { "AIOE_IDENTITY_SOURCE", "carrier-pigeon", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &bogus, err, sizeof err),
                     AIOE_ERR_INVALID_ARG);
    /* Arc has no user-assigned identities */
    fake_env arc = { { "IDENTITY_ENDPOINT", "http://127.0.0.1:1/x", "IMDS_ENDPOINT", "y", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &arc, err, sizeof err),
                     AIOE_ERR_UNSUPPORTED);
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &arc, err, sizeof err), AIOE_OK);
    assert_string_equal(c.url, "http://127.0.0.1:1/x");
    aioe__mi_config_clear(&c);

    /* options beat the environment */
    aioe_identity_options *o;
    assert_int_equal(aioe_identity_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_source(o, AIOE_IDENTITY_SOURCE_APP_SERVICE), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_endpoint(o, "http://127.0.0.1:9/msi"), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_identity_header(o, "hdr"), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_timing(o, 5, 6, 7, 8), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_endpoint(o, "ftp://x"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_identity_options_set_source(o, 99), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe__mi_config_resolve(&c, se, o, env_get, &arc, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_APP_SERVICE);
    assert_string_equal(c.url, "http://127.0.0.1:9/msi");
    assert_string_equal(c.identity_header, "hdr");
    assert_int_equal(c.request_timeout_ms, 5);
    assert_int_equal(c.backoff_initial_ms, 6);
    assert_int_equal(c.retry_total_ms, 7);
    assert_int_equal(c.gone_window_ms, 8);
    aioe__mi_config_clear(&c);
    aioe_session_options *so;
    assert_int_equal(aioe_session_options_new(&so), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, NULL), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, o), AIOE_OK);
    aioe_session_options_free(so);
    aioe_identity_options_free(o);
    aioe_identity_options_free(NULL);
    assert_string_equal(aioe_identity_source_name(AIOE_IDENTITY_SOURCE_ARC), "AzureArc");
    assert_string_equal(aioe_identity_source_name((aioe_identity_source)42), "unknown");

    aioe_parse_result_free(sami);
    aioe_parse_result_free(uami);
}

/* ---- cache ------------------------------------------------------------------ */

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static mi_config cache_cfg(script *s, const char *url)
{
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, s);
    free(c.url);
    c.url = strdup(url);
    return c;
}

static void *fetch_thread(void *arg)
{
    aioe_token_source *src = arg;
    aioe_token t;
    char err[128];
    int rc = src->ops->fetch(src->self, &t, err, sizeof err);
    aioe_token_clear(&t);
    return (void *)(intptr_t)rc;
}

static void cache_shares_one_fetch(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 3600, true);
    s.steps[0].delay_ms = 50; /* slow: the others must wait, not fetch */
    aioe_token_source src[4];
    for (int i = 0; i < 4; i++) {
        mi_config c = cache_cfg(&s, "http://cache.example/one");
        assert_int_equal(aioe_token_source_mi_new(&c, &src[i]), AIOE_OK);
        assert_string_equal(src[i].ops->auth_method, "OAUTH2-JWT");
    }
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, fetch_thread, &src[i]);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_int_equal((int)(intptr_t)rv, AIOE_OK);
    }
    assert_int_equal(s.calls, 1);
    mi_config k = cache_cfg(&s, "http://cache.example/one");
    char *key = aioe__mi_config_key(&k);
    assert_int_equal(aioe__mi_cache_fetch_count(key), 1);
    /* a different resource is a different entry */
    mi_config other = cache_cfg(&s, "http://cache.example/one");
    free(other.resource);
    other.resource = strdup("https://other");
    aioe_token_source o;
    assert_int_equal(aioe_token_source_mi_new(&other, &o), AIOE_OK);
    aioe_token t;
    char err[128];
    assert_int_equal(o.ops->fetch(o.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 2);
    aioe_token_clear(&t);
    aioe_token_source_destroy(&o);
    for (int i = 0; i < 4; i++)
        aioe_token_source_destroy(&src[i]);
    assert_int_equal(aioe__mi_cache_fetch_count(key), 0); /* entry gone with its users */
    free(key);
    aioe__mi_config_clear(&k);
}

static void cache_refreshes_ahead_and_signals_change(void **state)
{
    (void)state;
    int64_t base = now_s();
    fake_now = base;
    aioe__mi_wall_clock = fake_clock;
    script s;
    script_init(&s);
    add_token(&s, base, base + 3600, true);     /* refresh at base+3300 */
    add(&s, 500, "{}");                         /* first refresh attempt fails */
    add_token(&s, base + 3310, base + 7200, true);
    mi_config c = cache_cfg(&s, "http://cache.example/refresh");
    c.backoff_initial_ms = 20; /* failed refresh: retried after 20 ms */
    c.backoff_max_ms = 20;
    aioe_token_source src;
    assert_int_equal(aioe_token_source_mi_new(&c, &src), AIOE_OK);
    aioe_token t;
    char err[256];
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 3600);
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));   /* not due */
    assert_int_equal(s.calls, 1);
    fake_now = base + 3300;
    assert_false(src.ops->changed(src.self));   /* due, the attempt fails */
    assert_int_equal(s.calls, 2);
    /* within the backoff the old, still valid token is handed out at once */
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 3600);
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 2);
    assert_false(src.ops->changed(src.self));   /* backing off: no request */
    assert_int_equal(s.calls, 2);
    /* after it (time passing is the point here, not synchronisation) */
    struct timespec pause = { 0, 30 * 1000000L };
    nanosleep(&pause, NULL);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 7200);       /* fetch() itself refreshed */
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 3);
    assert_false(src.ops->changed(src.self));   /* this session has the newest */
    aioe_token_source_destroy(&src);

    /* a second session on the same entry learns about the new token */
    script_init(&s);
    fake_now = base;
    add_token(&s, base, base + 600, true);      /* refresh at base+300 */
    add_token(&s, base + 300, base + 900, true);
    mi_config c1 = cache_cfg(&s, "http://cache.example/two");
    mi_config c2 = cache_cfg(&s, "http://cache.example/two");
    aioe_token_source a, b;
    assert_int_equal(aioe_token_source_mi_new(&c1, &a), AIOE_OK);
    assert_int_equal(aioe_token_source_mi_new(&c2, &b), AIOE_OK);
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    assert_int_equal(b.ops->fetch(b.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 1);
    fake_now = base + 301;
    assert_true(a.ops->changed(a.self));        /* a refreshed it */
    assert_int_equal(s.calls, 2);
    assert_true(b.ops->changed(b.self));        /* b sees it without a fetch */
    assert_int_equal(s.calls, 2);
    assert_int_equal(b.ops->fetch(b.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 900);
    aioe_token_clear(&t);
    assert_false(b.ops->changed(b.self));
    aioe_token_source_destroy(&a);
    aioe_token_source_destroy(&b);

    /* an expired cached token is never handed out: the failure is */
    script_init(&s);
    fake_now = base;
    add_token(&s, base, base + 100, true);
    add(&s, 400, "{\"error_description\":\"identity gone\"}");
    mi_config c3 = cache_cfg(&s, "http://cache.example/three");
    assert_int_equal(aioe_token_source_mi_new(&c3, &a), AIOE_OK);
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    fake_now = base + 99;
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "identity gone"));
    assert_null(t.data);
    aioe_token_source_destroy(&a);
}

static int64_t real_clock(void)
{
    return (int64_t)time(NULL);
}

static int restore_clock(void **state)
{
    (void)state;
    aioe__mi_wall_clock = real_clock;
    return 0;
}

static void broken_config_reports_at_fetch(void **state)
{
    (void)state;
    aioe_parse_result *uami = parse_ep(UAMI);
    aioe_identity_options *o;
    assert_int_equal(aioe_identity_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_source(o, AIOE_IDENTITY_SOURCE_ARC), AIOE_OK);
    aioe_token_source src;
    assert_int_equal(aioe_token_source_mi_for_endpoint(
        aioe_parse_result_endpoint(uami, 0), o, &src), AIOE_OK);
    aioe_token t;
    char err[256];
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "Azure Arc"));
    aioe_token_source_destroy(&src);
    aioe_identity_options_free(o);
    aioe_parse_result_free(uami);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refresh_schedule),
        cmocka_unit_test(source_selection_like_the_sdks),
        cmocka_unit_test(config_resolution),
        cmocka_unit_test(cache_shares_one_fetch),
        cmocka_unit_test_teardown(cache_refreshes_ahead_and_signals_change, restore_clock),
        cmocka_unit_test(broken_config_reports_at_fetch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
