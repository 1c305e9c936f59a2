/* Session against real mosquitto brokers, connecting: anonymous TCP
 * publish/subscribe, TLS (good, wrong CA, hostname mismatch, expired),
 * WebSockets (ws, wss), X.509 mutual TLS with intermediates and a Kubernetes
 * TLS secret, bad keys, a trust bundle from the host resolver callback.
 * Publish flow is in test-session-flow.c, the connection's life in
 * test-session-lifecycle.c. */
#include "session-fixture.h"

/* ---- anonymous TCP: subscribe, publish, message view ---- */

static void test_anonymous_tcp_pubsub(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n    clientIdPrefix: df-\n"
                                         AUTH_ANON TLS_OFF, broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(strncmp(aioe_session_client_id(s), "df-inst-", 8), 0);
    observer *o;
    assert_int_equal(observer_start(b, 0, "pubsub/#", 1, &o), 0);

    int64_t t0 = harness_now_ms();
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_int_equal(aioe_session_start(s), AIOE_ERR_STATE);
    /* subscribe before CONNACK: sent on connect */
    assert_int_equal(aioe_session_subscribe(s, "in/#", 1, fx_on_subscribed, r), AIOE_OK);
    size_t cur = 0;
    ev_rec ev = { 0 };
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, &ev, WAIT_MS));
    print_message("connect took %lld ms\n", (long long)(harness_now_ms() - t0));
    assert_false(ev.lost);
    size_t one = 1;
    assert_true(fx_wait(r, pred_sub_done, &one, WAIT_MS));
    assert_int_equal(r->last_sub_status, AIOE_OK);
    assert_int_equal(r->last_sub_reason, 1); /* granted QoS */
    assert_true(broker_wait_log(b, aioe_session_client_id(s), WAIT_MS));

    /* publish: completion once each, observer sees them */
    for (int i = 0; i < 10; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d", i);
        assert_int_equal(aioe_session_publish(s, "pubsub/a", p, strlen(p), i % 2,
                                              false, fx_on_published, r), AIOE_OK);
    }
    size_t ten = 10;
    assert_true(fx_wait(r, pred_pub_done, &ten, WAIT_MS));
    assert_int_equal(r->pub_ok, 10);
    assert_int_equal(observer_wait(o, 10, WAIT_MS), 10);

    /* inbound: view of topic, payload, content type, user properties */
    const char *props[] = { "specversion", "1.0", "id", "x" };
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    harness_pub pub = { .topic = "in/view", .payload = "42", .payload_len = 2,
                        .qos = 1, .retain = true, .content_type = "application/json",
                        .user_props = props, .user_prop_pairs = 2 };
    assert_int_equal(harness_publish_opts(&co, &pub, 1), 0);
    size_t want = 1;
    assert_true(fx_wait(r, pred_distinct, &want, WAIT_MS));
    pthread_mutex_lock(&r->mu);
    assert_string_equal(r->last_topic, "in/view");
    assert_string_equal(r->last_ct, "application/json");
    assert_int_equal(r->last_props, 2);
    assert_string_equal(r->prop0, "specversion=1.0");
    assert_int_equal(r->last_qos, 1);
    pthread_mutex_unlock(&r->mu);

    assert_int_equal(aioe_session_stop(s, 1000), AIOE_OK);
    assert_int_equal(aioe_session_get_state(s), AIOE_SESSION_STOPPED);
    assert_true(fx_wait_state(r, AIOE_SESSION_STOPPED, &cur, &ev, 10));
    assert_int_equal(ev.status, AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "pubsub/a", "x", 1, 1, false, NULL, NULL),
                     AIOE_ERR_STATE);
    aioe_session_free(s);
    observer_free(o);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- TLS: good and the three distinct failures ---- */

static void run_tls_case_host(broker *b, int listener, const char *host,
                              const char *cm, int expect_status)
{
    aioe_parse_result *res = fx_endpoint("    host: \"%s:%d\"\n" AUTH_ANON
                                         "    tls:\n      mode: Enabled\n"
                                         "      trustedCaCertificateConfigMapRef: %s\n",
                                         host, broker_port(b, listener), cm);
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    ev_rec ev = { 0 };
    if (expect_status == AIOE_OK) {
        assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, &ev, WAIT_MS));
    } else {
        assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, &ev, WAIT_MS));
        print_message("%s -> %s: %s\n", cm, aioe_strerror(ev.status), ev.msg);
        assert_int_equal(ev.status, expect_status);
        assert_true(ev.will_retry);
        assert_int_equal(fx_count_state(r, AIOE_SESSION_CONNECTED), 0);
        char err[256];
        assert_int_equal(aioe_session_last_error(s, err, sizeof err), expect_status);
    }
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
}

static void run_tls_case(broker *b, int listener, const char *cm,
                         int expect_status)
{
    run_tls_case_host(b, listener, "localhost", cm, expect_status);
}

static void test_tls_verification(void **state)
{
    (void)state;
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int good = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    int mism = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.listeners[mism].certfile = pki->server_mismatch_cert;
    cfg.listeners[mism].keyfile = pki->server_mismatch_key;
    int expd = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.listeners[expd].certfile = pki->server_expired_cert;
    cfg.listeners[expd].keyfile = pki->server_expired_key;
    assert_int_equal(broker_start(&cfg, &b), 0);
    run_tls_case(b, good, "test-ca", AIOE_OK);
    run_tls_case_host(b, good, "127.0.0.1", "test-ca", AIOE_OK); /* IP SAN */
    run_tls_case(b, good, "wrong-ca", AIOE_ERR_TLS_UNKNOWN_CA);
    run_tls_case(b, mism, "test-ca", AIOE_ERR_TLS_HOSTNAME_MISMATCH);
    run_tls_case(b, expd, "test-ca", AIOE_ERR_TLS_CERT_EXPIRED);
    broker_free(b);
}

/* ---- WebSockets ---- */

static void test_websockets(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg); /* listener 0: plain TCP for the observer */
    int ws = broker_config_add_listener(&cfg, BROKER_WEBSOCKETS, false, false);
    int wss = broker_config_add_listener(&cfg, BROKER_WEBSOCKETS, true, false);
    assert_int_equal(broker_start(&cfg, &b), 0);
    observer *o;
    assert_int_equal(observer_start(b, 0, "ws/#", 1, &o), 0);
    struct { int l; const char *tls; } cases[] = {
        { ws, TLS_OFF }, { wss, TLS_CA("test-ca") } };
    for (int i = 0; i < 2; i++) {
        aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                             "    protocol: WebSockets\n%s%s",
                                             broker_port(b, cases[i].l), AUTH_ANON,
                                             cases[i].tls);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        size_t cur = 0;
        assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
        assert_int_equal(aioe_session_publish(s, "ws/t", "x", 1, 1, false,
                                              fx_on_published, r), AIOE_OK);
        size_t one = 1;
        assert_true(fx_wait(r, pred_pub_done, &one, WAIT_MS));
        assert_int_equal(r->last_pub_status, AIOE_OK);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);
    observer_free(o);
    broker_free(b);
}

/* ---- X.509 ---- */

static void test_x509_mutual_tls(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int mtls = broker_config_add_listener(&cfg, BROKER_TCP, true, true);
    cfg.allow_anonymous = true;
    assert_int_equal(broker_start(&cfg, &b), 0);
    /* "x509": leaf issued by an intermediate the broker does not know, so
     * connecting proves the chain is sent. "tls": kubernetes.io/tls. */
    const char *secrets[] = { "x509", "tls" };
    for (int i = 0; i < 2; i++) {
        aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                             "    authentication:\n      method: X509Certificate\n"
                                             "      x509CertificateSettings:\n        secretRef: %s\n"
                                             TLS_CA("test-ca"), broker_port(b, mtls),
                                             secrets[i]);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        size_t cur = 0;
        assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
        aioe_session_free(s);
        assert_true(fx_log_lacks(r, "PRIVATE KEY"));
        recorder_free(r);
        aioe_parse_result_free(res);
    }
    /* bad keys: refused by start(), before any connect */
    struct { const char *secret; const char *needle; } bad[] = {
        { "encrypted-key", "encrypted" },
        { "mismatched-key", "does not match" },
        { "no-such-secret", "no-such-secret" },
    };
    for (int i = 0; i < 3; i++) {
        aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                             "    authentication:\n      method: X509Certificate\n"
                                             "      x509CertificateSettings:\n        secretRef: %s\n"
                                             TLS_CA("test-ca"), broker_port(b, mtls),
                                             bad[i].secret);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        int rc = aioe_session_start(s);
        char err[256];
        assert_int_equal(aioe_session_last_error(s, err, sizeof err), rc);
        print_message("%s: %s (%s)\n", bad[i].secret, aioe_strerror(rc), err);
        assert_true(rc == AIOE_ERR_TLS || rc == AIOE_ERR_NOT_FOUND);
        assert_non_null(strstr(err, bad[i].needle));
        assert_int_equal(r->nev, 0);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
    broker_free(b);
}

/* ---- host resolver callback supplies the trust bundle ---- */

static int ca_from_host(aioe_session *s, aioe_resource_request *req, void *ud)
{
    const char *ca_path = ud;
    (void)s;
    if (aioe_resource_request_kind(req) != AIOE_RESOURCE_CONFIG_MAP ||
        strcmp(aioe_resource_request_name(req), "vault-ca") != 0 ||
        aioe_resource_request_key(req) != NULL)
        return AIOE_ERR_NOT_FOUND;
    size_t len;
    char *pem = harness_read_file(ca_path, &len);
    int rc = aioe_resource_request_set_data(req, pem, len);
    free(pem);
    return rc;
}

static void test_resolver_callback(void **state)
{
    (void)state;
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int l = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_ANON
                                         TLS_CA("vault-ca"), broker_port(b, l));
    recorder *r = recorder_new();
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_resolver(o, ca_from_host, (void *)pki->ca_cert);
    aioe_session *s;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0),
                                      "resolver", o), AIOE_OK);
    aioe_session_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymous_tcp_pubsub),
        cmocka_unit_test(test_tls_verification),
        cmocka_unit_test(test_resolver_callback),
        cmocka_unit_test(test_websockets),
        cmocka_unit_test(test_x509_mutual_tls),
    };
    if (getenv("AIOE_TEST_FILTER")) /* e.g. AIOE_TEST_FILTER='*race*' */
        cmocka_set_test_filter(getenv("AIOE_TEST_FILTER"));
    if (getenv("AIOE_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("AIOE_TEST_SKIP"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
