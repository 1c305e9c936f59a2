/* Secrets never reach the log callback (at AIOE_LOG_DEBUG, the most
 * verbose level), state-event messages or aioe_session_last_error():
 * - a K8S-SAT session through the aioe_jwt_auth plugin: connect, traffic,
 *   two token rotations, a broker restart, then a token the broker refuses
 *   (terminal 0x87), and a token file that vanishes;
 * - X.509 mutual TLS with the harness client key, and the refused
 *   encrypted-key and mismatched-key secrets.
 * Everything the library said is collected and searched for each token
 * (whole, payload and signature segments, and every 20-byte window of the
 * signature, so a truncated print is caught too) and for every line of the
 * private keys' PEM bodies and the key passphrase. */
#include "session-fixture.h"

/* All text the library produced for a recorder and session. */
static char *everything(recorder *r, aioe_session *s)
{
    size_t cap = 4096 + r->loglen, n = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    pthread_mutex_lock(&r->mu);
    if (r->log) {
        memcpy(all, r->log, r->loglen);
        n = r->loglen;
    }
    for (size_t i = 0; i < r->nev; i++) {
        size_t l = strlen(r->ev[i].msg);
        char *na = realloc(all, n + l + 2 + 512);
        assert_non_null(na);
        all = na;
        memcpy(all + n, r->ev[i].msg, l);
        n += l;
        all[n++] = '\n';
    }
    pthread_mutex_unlock(&r->mu);
    char err[512] = "";
    aioe_session_last_error(s, err, sizeof err);
    size_t l = strlen(err);
    char *na = realloc(all, n + l + 2);
    assert_non_null(na);
    all = na;
    memcpy(all + n, err, l);
    n += l;
    all[n] = '\0';
    return all;
}

/* Fails if any piece of the token shows in text. */
static void assert_token_absent(const char *text, const char *token)
{
    if (strstr(text, token))
        fail_msg("the whole token reached the library's output");
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    char payload[4096];
    snprintf(payload, sizeof payload, "%.*s", (int)(d2 - d1 - 1), d1 + 1);
    if (strstr(text, payload))
        fail_msg("the token's claims segment reached the library's output");
    const char *sig = d2 + 1;
    size_t sl = strlen(sig);
    for (size_t i = 0; i + 20 <= sl; i++) {
        char w[21];
        memcpy(w, sig + i, 20);
        w[20] = '\0';
        if (strstr(text, w))
            fail_msg("20 bytes of the token's signature reached the library's output");
    }
}

/* Fails if any line of a PEM body (or its first 20 bytes) shows in text. */
static void assert_pem_absent(const char *text, const char *pem_path)
{
    size_t len;
    char *pem = harness_read_file(pem_path, &len);
    assert_non_null(pem);
    for (char *line = strtok(pem, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "-----", 5) == 0 || strchr(line, ':') || strlen(line) < 20)
            continue;
        char w[21];
        memcpy(w, line, 20);
        w[20] = '\0';
        if (strstr(text, line) || strstr(text, w))
            fail_msg("private key bytes from %s reached the library's output", pem_path);
    }
    free(pem);
}

static void test_sat_session_never_logs_the_token(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    cfg.jwt_plugin = true;
    cfg.jwt_methods = "K8S-SAT";
    cfg.jwt_audience = "aio-internal";
    cfg.persistence = true;
    assert_int_equal(broker_start(&cfg, &b), 0);
    char *tok[4] = {
        harness_jwt_simple("aio-internal", 3600),
        harness_jwt_simple("aio-internal", 7200),
        harness_jwt_simple("aio-internal", 5400),
        harness_jwt_simple("someone-else", 3600), /* refused: 0x87 */
    };
    token_dir td;
    fx_token_init(&td, tok[0]);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_SAT TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, td.path);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_int_equal(aioe_session_subscribe(s, "sec/#", 1, fx_on_subscribed, r), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    for (int i = 0; i < 20; i++)
        assert_int_equal(aioe_session_publish(s, "sec/a", "x", 1, 1, false,
                                              fx_on_published, r), AIOE_OK);
    size_t twenty = 20;
    assert_true(fx_wait(r, pred_pub_done, &twenty, WAIT_MS));

    /* rotation: reconnect with the new token */
    fx_token_rotate(&td, tok[1]);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    /* broker restart: reconnect */
    assert_int_equal(broker_restart(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    fx_token_rotate(&td, tok[2]);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    /* a token the broker refuses: terminal */
    fx_token_rotate(&td, tok[3]);
    ev_rec ev;
    assert_true(fx_wait_state(r, AIOE_SESSION_STOPPED, &cur, &ev, WAIT_MS));
    assert_int_equal(ev.reason, 0x87);
    assert_int_equal(aioe_session_stop(s, 0), AIOE_OK);

    /* start again with the token file gone: start() refuses, error text */
    char gone[600];
    snprintf(gone, sizeof gone, "%s/..data", td.dir);
    assert_int_equal(unlink(gone), 0);
    assert_int_not_equal(aioe_session_start(s), AIOE_OK);

    char *all = everything(r, s);
    print_message("%zu bytes of log/event/error text searched\n", strlen(all));
    assert_true(strlen(all) > 500); /* the debug log did say things */
    for (int i = 0; i < 4; i++)
        assert_token_absent(all, tok[i]);
    free(all);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    fx_token_free(&td);
    for (int i = 0; i < 4; i++)
        free(tok[i]);
    broker_free(b);
}

static void test_x509_session_never_logs_key_bytes(void **state)
{
    (void)state;
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int mtls = broker_config_add_listener(&cfg, BROKER_TCP, true, true);
    assert_int_equal(broker_start(&cfg, &b), 0);
    const char *secrets[] = { "x509", "tls", "encrypted-key", "mismatched-key" };
    for (int i = 0; i < 4; i++) {
        aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                             "    authentication:\n      method: X509Certificate\n"
                                             "      x509CertificateSettings:\n        secretRef: %s\n"
                                             TLS_CA("test-ca"), broker_port(b, mtls),
                                             secrets[i]);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        int rc = aioe_session_start(s);
        if (i < 2) {
            assert_int_equal(rc, AIOE_OK);
            size_t cur = 0;
            assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
            assert_int_equal(aioe_session_stop(s, 1000), AIOE_OK);
        } else {
            assert_int_equal(rc, AIOE_ERR_TLS);
        }
        char *all = everything(r, s);
        assert_pem_absent(all, pki->client_key);
        assert_pem_absent(all, pki->client_root_key);
        assert_pem_absent(all, pki->client_key_encrypted);
        assert_pem_absent(all, pki->mismatched_key);
        if (strstr(all, pki->client_key_passphrase))
            fail_msg("the key passphrase reached the library's output");
        assert_null(strstr(all, "PRIVATE KEY"));
        free(all);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sat_session_never_logs_the_token),
        cmocka_unit_test(test_x509_session_never_logs_key_bytes),
    };
    if (getenv("AIOE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("AIOE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
