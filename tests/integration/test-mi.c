/* Managed-identity tokens against a local identity server
 * (tests/identity/identity_server.py: IMDS, Azure Arc 401 challenge with a
 * key file, App Service header, workload-identity form POST over HTTPS with
 * the harness CA), and OAUTH2-JWT sessions through a real mosquitto whose
 * aioe_jwt_auth plugin accepts only unexpired tokens for
 * https://eventgrid.azure.net/ signed by the identity server's key.
 *
 * Timings printed with "measure:" are collected in docs/authentication.md. */
#include "session-fixture.h"
#include "identity-server.h"

#include "jwt.h"
#include "mi.h"

#define EG_AUD "https://eventgrid.azure.net/"
#define UAMI_CLIENT "11111111-2222-3333-4444-555555555555"

static identity_server *ids;

static int group_setup(void **state)
{
    (void)state;
    return identity_server_start(&ids);
}

static int group_teardown(void **state)
{
    (void)state;
    identity_server_stop(ids);
    return 0;
}

#define AUTH_SAMI "    authentication:\n      method: SystemAssignedManagedIdentity\n" \
    "      systemAssignedManagedIdentitySettings: {}\n"
#define AUTH_UAMI "    authentication:\n      method: UserAssignedManagedIdentity\n" \
    "      userAssignedManagedIdentitySettings:\n        clientId: " UAMI_CLIENT "\n" \
    "        tenantId: " IDENTITY_TENANT "\n"

/* Identity options pointing source src at the local server, test timings. */
static aioe_identity_options *local_identity(aioe_identity_source src)
{
    aioe_identity_options *o;
    assert_int_equal(aioe_identity_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_source(o, src), AIOE_OK);
    const char *url = src == AIOE_IDENTITY_SOURCE_IMDS ? ids->imds_url :
                      src == AIOE_IDENTITY_SOURCE_ARC ? ids->arc_url :
                      src == AIOE_IDENTITY_SOURCE_APP_SERVICE ? ids->appservice_url :
                      ids->authority;
    assert_int_equal(aioe_identity_options_set_endpoint(o, url), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_ca_file(o, harness_pki_get()->ca_cert),
                     AIOE_OK);
    assert_int_equal(aioe_identity_options_set_arc_key_dir(o, ids->arc_dir), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_identity_header(o, IDENTITY_HEADER_VALUE),
                     AIOE_OK);
    assert_int_equal(aioe_identity_options_set_federated_token_file(
                         o, ids->federated_token_file), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_timing(o, 2000, 5, 3000, 200), AIOE_OK);
    return o;
}

static void check_token(const aioe_token *t, int64_t ttl)
{
    char *s = strndup((const char *)t->data, t->len);
    aioe_jwt_claims c;
    assert_int_equal(aioe_jwt_read_claims(s, t->len, &c), AIOE_OK);
    assert_true(c.has_exp);
    assert_int_equal(t->exp, c.exp);
    assert_true(c.exp >= harness_time() + ttl - 5 && c.exp <= harness_time() + ttl + 5);
    /* the audience is checked for real by the broker plugin below */
    free(s);
}

static aioe_token_source source_for(const char *auth, aioe_identity_source src,
                                    aioe_parse_result **res)
{
    *res = fx_endpoint("    host: localhost:8883\n%s" TLS_OFF, auth);
    aioe_identity_options *o = local_identity(src);
    aioe_token_source ts;
    assert_int_equal(aioe_token_source_mi_for_endpoint(
                         aioe_parse_result_endpoint(*res, 0), o, &ts), AIOE_OK);
    aioe_identity_options_free(o);
    return ts;
}

/* ---- each source over real HTTP ------------------------------------------- */

static void test_each_source_fetches(void **state)
{
    (void)state;
    struct { const char *name, *auth; aioe_identity_source src; const char *stat; } c[] = {
        { "IMDS", AUTH_SAMI, AIOE_IDENTITY_SOURCE_IMDS, "imds" },
        { "IMDS user-assigned", AUTH_UAMI, AIOE_IDENTITY_SOURCE_IMDS, "imds" },
        { "Azure Arc", AUTH_SAMI, AIOE_IDENTITY_SOURCE_ARC, "arc" },
        { "App Service", AUTH_SAMI, AIOE_IDENTITY_SOURCE_APP_SERVICE, "appservice" },
        { "workload identity", AUTH_UAMI, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY,
          "workload" },
    };
    assert_int_equal(identity_server_control(ids, "faults=&ttl=3600"), 0);
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        aioe_parse_result *res;
        aioe_token_source ts = source_for(c[i].auth, c[i].src, &res);
        int before = identity_server_stat(ids, c[i].stat);
        aioe_token t;
        char err[256] = "";
        int64_t t0 = harness_now_ms();
        int rc = ts.ops->fetch(ts.self, &t, err, sizeof err);
        if (rc != AIOE_OK)
            fprintf(stderr, "%s: %s\n", c[i].name, err);
        assert_int_equal(rc, AIOE_OK);
        int64_t t1 = harness_now_ms();
        check_token(&t, 3600);
        aioe_token_clear(&t);
        assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_OK);
        int64_t t2 = harness_now_ms();
        aioe_token_clear(&t);
        assert_int_equal(identity_server_stat(ids, c[i].stat), before + 1); /* cached */
        printf("measure: %s first fetch %lld ms, cached %lld ms\n", c[i].name,
               (long long)(t1 - t0), (long long)(t2 - t1));
        aioe_token_source_destroy(&ts);
        aioe_parse_result_free(res);
    }
    /* Arc answered each first request with a challenge and left no key file */
    assert_true(identity_server_stat(ids, "challenges") >= 1);
}

/* No options: the environment picks the source, as the Azure SDKs do. */
static void test_environment_selects_source(void **state)
{
    (void)state;
    assert_int_equal(identity_server_control(ids, "faults=&ttl=3600"), 0);
    struct { const char *auth, *stat; const char *env[10]; } c[] = {
        { AUTH_SAMI, "appservice", { "IDENTITY_ENDPOINT", ids->appservice_url,
                                     "IDENTITY_HEADER", IDENTITY_HEADER_VALUE, NULL } },
        { AUTH_SAMI, "arc", { "IDENTITY_ENDPOINT", ids->arc_url,
                              "IMDS_ENDPOINT", "http://127.0.0.1:1",
                              "AIOE_IDENTITY_ARC_KEY_DIR", ids->arc_dir, NULL } },
        { AUTH_UAMI, "workload", { "AZURE_FEDERATED_TOKEN_FILE", ids->federated_token_file,
                                   "AZURE_AUTHORITY_HOST", ids->authority,
                                   "AIOE_IDENTITY_CA_FILE", harness_pki_get()->ca_cert,
                                   NULL } },
        { AUTH_SAMI, "imds", { "AIOE_IDENTITY_ENDPOINT", ids->imds_url, NULL } },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        for (int k = 0; c[i].env[k]; k += 2)
            setenv(c[i].env[k], c[i].env[k + 1], 1);
        aioe_parse_result *res = fx_endpoint("    host: localhost:8883\n%s" TLS_OFF,
                                             c[i].auth);
        aioe_token_source ts;
        assert_int_equal(aioe_token_source_mi_for_endpoint(
                             aioe_parse_result_endpoint(res, 0), NULL, &ts), AIOE_OK);
        int before = identity_server_stat(ids, c[i].stat);
        aioe_token t;
        char err[256] = "";
        int rc = ts.ops->fetch(ts.self, &t, err, sizeof err);
        if (rc != AIOE_OK)
            fprintf(stderr, "%s: %s\n", c[i].stat, err);
        assert_int_equal(rc, AIOE_OK);
        assert_int_equal(identity_server_stat(ids, c[i].stat), before + 1);
        aioe_token_clear(&t);
        aioe_token_source_destroy(&ts);
        aioe_parse_result_free(res);
        for (int k = 0; c[i].env[k]; k += 2)
            unsetenv(c[i].env[k]);
    }
}

static void test_faults_are_retried(void **state)
{
    (void)state;
    aioe_parse_result *res;
    aioe_token t;
    char err[256] = "";
    /* 404, 410, 429, 500 and malformed JSON, then a token */
    assert_int_equal(identity_server_control(ids, "faults=404,410,429,500,malformed"
                                             "&ttl=3600"), 0);
    int before = identity_server_stat(ids, "requests");
    aioe_token_source ts = source_for(AUTH_SAMI, AIOE_IDENTITY_SOURCE_IMDS, &res);
    int64_t t0 = harness_now_ms();
    assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_OK);
    printf("measure: IMDS fetch through 5 injected faults %lld ms\n",
           (long long)(harness_now_ms() - t0));
    assert_int_equal(identity_server_stat(ids, "requests"), before + 6 + 1);
    aioe_token_clear(&t);
    aioe_token_source_destroy(&ts);
    aioe_parse_result_free(res);

    /* a slow answer times out (2 s request timeout) and the retry succeeds */
    assert_int_equal(identity_server_control(ids, "faults=slow&slow_ms=1000"), 0);
    res = fx_endpoint("    host: localhost:8883\n" AUTH_UAMI TLS_OFF);
    aioe_identity_options *slow = local_identity(AIOE_IDENTITY_SOURCE_IMDS);
    aioe_identity_options_set_timing(slow, 300, 5, 3000, 200);
    assert_int_equal(aioe_token_source_mi_for_endpoint(
                         aioe_parse_result_endpoint(res, 0), slow, &ts), AIOE_OK);
    aioe_identity_options_free(slow);
    t0 = harness_now_ms();
    assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_OK);
    int64_t took = harness_now_ms() - t0;
    printf("measure: IMDS fetch after one 300 ms request timeout %lld ms\n",
           (long long)took);
    assert_true(took >= 300 && took < 2000);
    aioe_token_clear(&t);
    aioe_token_source_destroy(&ts);
    aioe_parse_result_free(res);

    /* 400 is final and quotes the service */
    assert_int_equal(identity_server_control(ids, "faults=400"), 0);
    ts = source_for(AUTH_SAMI, AIOE_IDENTITY_SOURCE_APP_SERVICE, &res);
    assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "HTTP 400"));
    assert_non_null(strstr(err, "injected HTTP 400"));
    aioe_token_source_destroy(&ts);
    aioe_parse_result_free(res);

    /* persistent 503: bounded total time (3 s configured) */
    assert_int_equal(identity_server_control(ids, "faults=503,503,503,503,503,503,"
                                             "503,503,503,503,503,503,503,503"), 0);
    res = fx_endpoint("    host: localhost:8883\n" AUTH_SAMI TLS_OFF);
    aioe_identity_options *o = local_identity(AIOE_IDENTITY_SOURCE_IMDS);
    aioe_identity_options_set_timing(o, 2000, 5, 100, 100);
    assert_int_equal(aioe_token_source_mi_for_endpoint(
                         aioe_parse_result_endpoint(res, 0), o, &ts), AIOE_OK);
    t0 = harness_now_ms();
    assert_int_not_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_OK);
    took = harness_now_ms() - t0;
    assert_true(took >= 100 && took < 2000);
    assert_non_null(strstr(err, "gave up"));
    aioe_token_source_destroy(&ts);
    aioe_identity_options_free(o);
    aioe_parse_result_free(res);
    assert_int_equal(identity_server_control(ids, "faults="), 0);
}

static void test_local_rules(void **state)
{
    (void)state;
    aioe_parse_result *res;
    aioe_token t;
    char err[256] = "";
    /* Arc: a challenge naming a file outside the key directory */
    char *outside = harness_path("outside.key");
    harness_write_file(outside, "k", 1);
    const char *realms[] = { "/etc/passwd", outside };
    for (int i = 0; i < 2; i++) {
        char q[600];
        snprintf(q, sizeof q, "faults=&arc_realm=%s", realms[i]);
        assert_int_equal(identity_server_control(ids, q), 0);
        aioe_token_source ts = source_for(AUTH_SAMI, AIOE_IDENTITY_SOURCE_ARC, &res);
        assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_ERR_AUTH);
        assert_non_null(strstr(err, "Azure Arc"));
        aioe_token_source_destroy(&ts);
        aioe_parse_result_free(res);
    }
    free(outside);
    assert_int_equal(identity_server_control(ids, "arc_realm="), 0);

    /* App Service with the wrong secret header: final, service text kept */
    aioe_identity_options *o = local_identity(AIOE_IDENTITY_SOURCE_APP_SERVICE);
    aioe_identity_options_set_identity_header(o, "wrong");
    res = fx_endpoint("    host: localhost:8883\n" AUTH_SAMI TLS_OFF);
    aioe_token_source ts;
    assert_int_equal(aioe_token_source_mi_for_endpoint(
                         aioe_parse_result_endpoint(res, 0), o, &ts), AIOE_OK);
    assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "X-IDENTITY-HEADER mismatch"));
    aioe_token_source_destroy(&ts);
    aioe_identity_options_free(o);
    aioe_parse_result_free(res);

    /* workload identity: the authority's certificate must verify */
    o = local_identity(AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    aioe_identity_options_set_ca_file(o, harness_pki_get()->wrong_ca_cert);
    res = fx_endpoint("    host: localhost:8883\n" AUTH_UAMI TLS_OFF);
    assert_int_equal(aioe_token_source_mi_for_endpoint(
                         aioe_parse_result_endpoint(res, 0), o, &ts), AIOE_OK);
    assert_int_equal(ts.ops->fetch(ts.self, &t, err, sizeof err), AIOE_ERR_TLS);
    aioe_token_source_destroy(&ts);
    aioe_identity_options_free(o);
    aioe_parse_result_free(res);
}

/* ---- OAUTH2-JWT sessions through mosquitto ------------------------------------ */

static broker *start_broker(int *tls_listener)
{
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg); /* listener 0: plain TCP for observer/publisher */
    *tls_listener = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.jwt_plugin = true;
    cfg.jwt_methods = "OAUTH2-JWT";
    cfg.jwt_audience = EG_AUD;
    cfg.jwt_public_key = ids->pub_key;
    assert_int_equal(broker_start(&cfg, &b), 0);
    return b;
}

static aioe_session *mi_session(const aioe_endpoint *ep, recorder *r,
                                aioe_identity_source src)
{
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_message_callback(o, fx_on_message, r);
    aioe_session_options_set_resource_dir(o, fx_resource_root());
    aioe_session_options_set_reconnect_backoff(o, 50, 1000);
    aioe_session_options_set_connect_timeout(o, 5000);
    aioe_session_options_set_token_check_interval(o, 50);
    aioe_identity_options *io = local_identity(src);
    assert_int_equal(aioe_session_options_set_identity(o, io), AIOE_OK);
    aioe_identity_options_free(io);
    char *inst = harness_unique("mi");
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, ep, inst, o), AIOE_OK);
    free(inst);
    aioe_session_options_free(o);
    return s;
}

typedef struct stream_result {
    size_t published, received_in, rotations;
    int64_t reconnect_max_ms, reconnect_sum_ms, duration_ms;
} stream_result;

static bool pred_rotations(recorder *r, const void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nev; i++)
        n += r->ev[i].state == AIOE_SESSION_DISCONNECTED &&
             strstr(r->ev[i].msg, "token") != NULL;
    return n >= *(const size_t *)arg;
}

/* Publishes out/<seq> (QoS 1, one at a time) and injects in/<k> every 10th
 * message until the session has reconnected `rotations` times because of
 * token refresh; then checks nothing was lost either way. */
static void stream(const char *auth, aioe_identity_source src, int ttl,
                   size_t rotations, stream_result *out)
{
    int tls;
    broker *b = start_broker(&tls);
    char q[64];
    snprintf(q, sizeof q, "faults=&ttl=%d", ttl);
    assert_int_equal(identity_server_control(ids, q), 0);
    observer *obs;
    char *topic_out = harness_unique("mi-out"), *topic_in = harness_unique("mi-in");
    char filter[128];
    snprintf(filter, sizeof filter, "%s/#", topic_out);
    assert_int_equal(observer_start(b, 0, filter, 1, &obs), 0);

    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n%s" TLS_CA("test-ca"),
                                         broker_port(b, tls), auth);
    recorder *r = recorder_new();
    aioe_session *s = mi_session(aioe_parse_result_endpoint(res, 0), r, src);
    const char *stat = src == AIOE_IDENTITY_SOURCE_IMDS ? "imds" : "workload";
    int tokens_before = identity_server_stat(ids, stat);
    int64_t t0 = harness_now_ms();
    int rc = aioe_session_start(s);
    if (rc != AIOE_OK) {
        char e[256];
        aioe_session_last_error(s, e, sizeof e);
        fprintf(stderr, "start: %s\n", e);
    }
    assert_int_equal(rc, AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    printf("measure: %s session connected %lld ms after start (token fetch "
           "included)\n", aioe_identity_source_name(src),
           (long long)(harness_now_ms() - t0));
    snprintf(filter, sizeof filter, "%s/#", topic_in);
    assert_int_equal(aioe_session_subscribe(s, filter, 1, fx_on_subscribed, r), AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r, pred_sub_done, &one, WAIT_MS));
    assert_int_equal(r->last_sub_status, AIOE_OK);

    int64_t start = harness_now_ms();
    size_t seq = 0, injected = 0;
    while (!fx_wait(r, pred_rotations, &rotations, 0)) {
        assert_true(harness_now_ms() - start < (int64_t)ttl * 1000 * (int64_t)(rotations + 2));
        char topic[160], payload[16];
        snprintf(topic, sizeof topic, "%s/%zu", topic_out, seq);
        snprintf(payload, sizeof payload, "%zu", seq);
        assert_true(seq < MAX_SEQ);
        assert_int_equal(aioe_session_publish(s, topic, payload, strlen(payload), 1,
                                              false, fx_on_published, r), AIOE_OK);
        seq++;
        assert_true(fx_wait(r, pred_pub_done, &seq, WAIT_MS));
        assert_int_equal(r->last_pub_status, AIOE_OK);
        if (seq % 10 == 0) {
            snprintf(topic, sizeof topic, "%s/%zu", topic_in, injected);
            snprintf(payload, sizeof payload, "%zu", injected);
            assert_int_equal(harness_publish(b, 0, topic, payload, strlen(payload),
                                             1, false), 0);
            injected++;
        }
    }
    out->duration_ms = harness_now_ms() - start;
    /* every inbound message arrives (queued by the broker across reconnects) */
    assert_true(fx_wait(r, pred_distinct, &injected, WAIT_MS));
    /* every outbound message reached the observer */
    assert_true(observer_wait(obs, seq, WAIT_MS) >= seq);
    unsigned char *seen = calloc(seq, 1);
    size_t distinct = 0;
    for (size_t i = 0; i < observer_count(obs); i++) {
        const observer_msg *m = observer_get(obs, i);
        long v = strtol((const char *)m->payload, NULL, 10);
        if (v >= 0 && (size_t)v < seq && !seen[v]) {
            seen[v] = 1;
            distinct++;
        }
    }
    free(seen);
    assert_int_equal(distinct, seq);
    assert_int_equal(r->pub_ok, seq);

    /* reconnects were made by the session with fresh tokens before exp:
     * the plugin never had to kick, and every CONNECT was accepted */
    assert_false(broker_log_contains(b, "token expired, disconnecting"));
    assert_false(broker_log_contains(b, "rejected"));
    /* no token in the log */
    assert_true(fx_log_lacks(r, "eyJ"));

    pthread_mutex_lock(&r->mu);
    out->rotations = 0;
    for (size_t i = 0; i < r->nev; i++) {
        if (r->ev[i].state != AIOE_SESSION_DISCONNECTED || !strstr(r->ev[i].msg, "token"))
            continue;
        out->rotations++;
        for (size_t j = i + 1; j < r->nev; j++)
            if (r->ev[j].state == AIOE_SESSION_CONNECTED) {
                int64_t d = r->ev[j].t_ms - r->ev[i].t_ms;
                out->reconnect_sum_ms += d;
                if (d > out->reconnect_max_ms)
                    out->reconnect_max_ms = d;
                assert_true(r->ev[j].present); /* Clean Start 0 kept the session */
                break;
            }
    }
    pthread_mutex_unlock(&r->mu);
    /* one token request per refresh: the reconnect takes the cached token */
    int tokens = identity_server_stat(ids, stat) - tokens_before;
    assert_true(tokens >= (int)out->rotations + 1 && tokens <= (int)out->rotations + 2);
    out->published = seq;
    out->received_in = injected;

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(obs);
    broker_free(b);
    free(topic_out);
    free(topic_in);
}

static void report(const char *what, const stream_result *x)
{
    printf("measure: %s: %zu published + %zu received over %lld ms, %zu token "
           "reconnects (mean %lld ms, max %lld ms), 0 lost\n", what, x->published,
           x->received_in, (long long)x->duration_ms, x->rotations,
           (long long)(x->rotations ? x->reconnect_sum_ms / (int64_t)x->rotations : 0),
           (long long)x->reconnect_max_ms);
}

static void test_system_assigned_imds_session(void **state)
{
    (void)state;
    stream_result x = { 0 };
    /* 4 s tokens: refreshed 2 s before exp, twice during the stream */
    stream(AUTH_SAMI, AIOE_IDENTITY_SOURCE_IMDS, 4, 2, &x);
    assert_true(x.rotations >= 2);
    report("SystemAssignedManagedIdentity via IMDS", &x);
}

static void test_user_assigned_workload_session(void **state)
{
    (void)state;
    stream_result x = { 0 };
    stream(AUTH_UAMI, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY, 4, 2, &x);
    assert_true(x.rotations >= 2);
    report("UserAssignedManagedIdentity via workload identity", &x);
}

static bool pred_failed(recorder *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].status != AIOE_OK)
            return true;
    return false;
}

static void test_broker_rejects_wrong_audience(void **state)
{
    (void)state;
    /* a token for another resource is refused by the broker: terminal */
    int tls;
    broker *b = start_broker(&tls);
    assert_int_equal(identity_server_control(ids, "faults=&ttl=3600"), 0);
    aioe_parse_result *res = fx_endpoint(
        "    host: localhost:%d\n"
        "    authentication:\n      method: SystemAssignedManagedIdentity\n"
        "      systemAssignedManagedIdentitySettings:\n"
        "        audience: https://other.example\n" TLS_CA("test-ca"),
        broker_port(b, tls));
    recorder *r = recorder_new();
    aioe_session *s = mi_session(aioe_parse_result_endpoint(res, 0), r,
                                 AIOE_IDENTITY_SOURCE_APP_SERVICE);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait(r, pred_failed, NULL, WAIT_MS));
    assert_true(broker_wait_log(b, "audience mismatch", WAIT_MS));
    char err[256];
    int st = aioe_session_last_error(s, err, sizeof err);
    printf("refused: %s (%s)\n", err, aioe_strerror(st));
    assert_true(st == AIOE_ERR_NOT_AUTHORIZED || st == AIOE_ERR_AUTH);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

static void test_sessions_share_one_token(void **state)
{
    (void)state;
    int tls;
    broker *b = start_broker(&tls);
    assert_int_equal(identity_server_control(ids, "faults=slow&slow_ms=300&ttl=3600"), 0);
    int before = identity_server_stat(ids, "appservice");
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_SAMI
                                         TLS_CA("test-ca"), broker_port(b, tls));
    recorder *r[4];
    aioe_session *s[4];
    for (int i = 0; i < 4; i++) {
        r[i] = recorder_new();
        s[i] = mi_session(aioe_parse_result_endpoint(res, 0), r[i],
                          AIOE_IDENTITY_SOURCE_APP_SERVICE);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(aioe_session_start(s[i]), AIOE_OK);
    for (int i = 0; i < 4; i++) {
        size_t cur = 0;
        assert_true(fx_wait_state(r[i], AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    }
    assert_int_equal(identity_server_stat(ids, "appservice"), before + 1);
    for (int i = 0; i < 4; i++) {
        aioe_session_free(s[i]);
        recorder_free(r[i]);
    }
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_source_fetches),
        cmocka_unit_test(test_environment_selects_source),
        cmocka_unit_test(test_faults_are_retried),
        cmocka_unit_test(test_local_rules),
        cmocka_unit_test(test_system_assigned_imds_session),
        cmocka_unit_test(test_user_assigned_workload_session),
        cmocka_unit_test(test_broker_rejects_wrong_audience),
        cmocka_unit_test(test_sessions_share_one_token),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
