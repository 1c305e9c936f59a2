/* Hostile material through the public session API. aioe_session_start()
 * must refuse each with a clear status and last_error, at once, with no
 * callback; a running session whose token file turns hostile (a FIFO, a
 * 4 GiB sparse file, a directory, a symlink loop) must keep its
 * connection or report, never hang, and still stop promptly.
 * Lower-level cases are in tests/unit/test-hostile-files.c and
 * test-hostile-crypto.c. */
#include "session-fixture.h"

#include <fcntl.h>

static aioe_session *sat_session(int port, recorder *r, const char *token_file,
                                 aioe_parse_result **res)
{
    *res = fx_endpoint("    host: localhost:%d\n" AUTH_SAT TLS_OFF, port);
    return fx_session(aioe_parse_result_endpoint(*res, 0), r, token_file);
}

static char *hostile_path(const char *name)
{
    char *n = harness_unique(name);
    char *p = harness_path(n);
    free(n);
    return p;
}

/* start() on each hostile token file: AIOE_ERR_AUTH within 2 s, no event */
static void test_start_refuses_hostile_token_files(void **state)
{
    (void)state;
    struct { const char *name; int kind; const char *needle; } cases[] = {
        { "huge", 0, "larger than 64 KiB" },
        { "empty", 1, "is empty" },
        { "dir", 2, "is a directory" },
        { "loop", 3, "symbolic links" },
        { "fifo", 4, "not a regular file" },
        { "devzero", 5, "not a regular file" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = hostile_path(cases[i].name);
        int fd;
        switch (cases[i].kind) {
        case 0:
            fd = open(p, O_CREAT | O_WRONLY, 0600);
            assert_true(fd >= 0);
            assert_int_equal(ftruncate(fd, (off_t)4 << 30), 0);
            close(fd);
            break;
        case 1: assert_int_equal(harness_write_file(p, "", 0), 0); break;
        case 2: assert_int_equal(mkdir(p, 0700), 0); break;
        case 3: assert_int_equal(symlink(p, p), 0); break;
        case 4: assert_int_equal(mkfifo(p, 0600), 0); break;
        case 5: assert_int_equal(symlink("/dev/zero", p), 0); break;
        }
        recorder *r = recorder_new();
        aioe_parse_result *res;
        aioe_session *s = sat_session(1, r, p, &res);
        int64_t t0 = harness_now_ms();
        int rc = aioe_session_start(s);
        int64_t took = harness_now_ms() - t0;
        char err[512];
        aioe_session_last_error(s, err, sizeof err);
        print_message("%-8s -> %s in %lld ms: %s\n", cases[i].name, aioe_strerror(rc),
                      (long long)took, err);
        assert_int_equal(rc, AIOE_ERR_AUTH);
        assert_true(took < 2000);
        assert_non_null(strstr(err, cases[i].needle));
        assert_int_equal(r->nev, 0);
        assert_int_equal(aioe_session_get_state(s), AIOE_SESSION_IDLE);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
        free(p);
    }
}

/* A running SAT session whose token file is replaced by hostile things:
 * no hang, the connection is kept (nothing usable to reconnect with), and
 * stop() returns promptly; a good token afterwards is picked up. */
static void test_running_session_survives_hostile_rotation(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    cfg.jwt_plugin = true;
    cfg.jwt_methods = "K8S-SAT";
    assert_int_equal(broker_start(&cfg, &b), 0);
    char *tok = harness_jwt_simple("aio-internal", 3600);
    char *tok2 = harness_jwt_simple("aio-internal", 7200);
    char *dir = hostile_path("rot");
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[700], tmp[700];
    snprintf(path, sizeof path, "%s/token", dir);
    snprintf(tmp, sizeof tmp, "%s/token.tmp", dir);
    assert_int_equal(harness_write_file(path, tok, strlen(tok)), 0);
    recorder *r = recorder_new();
    aioe_parse_result *res;
    aioe_session *s = sat_session(broker_port(b, 0), r, path, &res);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));

    for (int kind = 0; kind < 4; kind++) {
        switch (kind) {
        case 0: assert_int_equal(mkfifo(tmp, 0600), 0); break;
        case 1: {
            int fd = open(tmp, O_CREAT | O_WRONLY, 0600);
            assert_true(fd >= 0);
            assert_int_equal(ftruncate(fd, (off_t)4 << 30), 0);
            close(fd);
            break;
        }
        case 2: assert_int_equal(mkdir(tmp, 0700), 0); break;
        case 3: assert_int_equal(symlink("token.tmp", tmp), 0); break;
        }
        if (kind == 2) {
            /* rename() cannot replace a file with a directory: remove first */
            assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rename(tmp, path), 0);
        /* several token-check intervals (50 ms) pass; the supervisor must
         * not block in open() and the publish path must keep working */
        usleep(300 * 1000);
        assert_int_equal(aioe_session_publish(s, "hostile/x", "1", 1, 1, false,
                                              fx_on_published, r), AIOE_OK);
        size_t want = (size_t)kind + 1;
        assert_true(fx_wait(r, pred_pub_done, &want, WAIT_MS));
        if (kind == 2)
            assert_int_equal(rmdir(path), 0);
        else
            assert_int_equal(unlink(path), 0);
        assert_int_equal(harness_write_file(path, tok, strlen(tok)), 0);
    }
    print_message("after 4 hostile rotations: %zu connects, %zu disconnects\n",
                  fx_count_state(r, AIOE_SESSION_CONNECTED),
                  fx_count_state(r, AIOE_SESSION_DISCONNECTED));
    /* a genuinely new token is still picked up */
    assert_int_equal(harness_write_file(tmp, tok2, strlen(tok2)), 0);
    assert_int_equal(rename(tmp, path), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    int64_t t0 = harness_now_ms();
    assert_int_equal(aioe_session_stop(s, 1000), AIOE_OK);
    assert_true(harness_now_ms() - t0 < 3000);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    free(dir);
    free(tok);
    free(tok2);
    broker_free(b);
}

/* TLS material that is garbage, a directory or a FIFO, through start(). */
static void test_start_refuses_hostile_tls_material(void **state)
{
    (void)state;
    const char *root = fx_resource_root();
    char p[1024];
    /* configmaps/garbage-ca/ca.crt: not PEM; configmaps/fifo-ca/ca.crt: FIFO;
     * secrets/garbage-cert: garbage certificate + real key;
     * secrets/dir-key: client_key.pem is a directory */
    snprintf(p, sizeof p, "%s/configmaps/garbage-ca", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/configmaps/garbage-ca/ca.crt", root);
    assert_int_equal(harness_write_file(p, "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                           "-----END CERTIFICATE-----\n", 60), 0);
    snprintf(p, sizeof p, "%s/configmaps/fifo-ca", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/configmaps/fifo-ca/ca.crt", root);
    assert_int_equal(mkfifo(p, 0600), 0);
    const harness_pki *pki = harness_pki_get();
    size_t len;
    char *key = harness_read_file(pki->client_key, &len);
    snprintf(p, sizeof p, "%s/secrets/garbage-cert", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/secrets/garbage-cert/client_cert.pem", root);
    assert_int_equal(harness_write_file(p, "\x01\x02garbage\xff", 11), 0);
    snprintf(p, sizeof p, "%s/secrets/garbage-cert/client_key.pem", root);
    assert_int_equal(harness_write_file(p, key, len), 0);
    free(key);
    char *cert = harness_read_file(pki->client_cert, &len);
    snprintf(p, sizeof p, "%s/secrets/dir-key", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/secrets/dir-key/client_cert.pem", root);
    assert_int_equal(harness_write_file(p, cert, len), 0);
    snprintf(p, sizeof p, "%s/secrets/dir-key/client_key.pem", root);
    assert_int_equal(mkdir(p, 0700), 0);
    free(cert);

    struct { const char *auth, *tls; int want; const char *needle; } cases[] = {
        { AUTH_ANON, TLS_CA("garbage-ca"), AIOE_ERR_TLS, "does not parse" },
        /* non-regular files in a config map are skipped: none left */
        { AUTH_ANON, TLS_CA("fifo-ca"), AIOE_ERR_NOT_FOUND, "holds no files" },
        { AUTH_X509("garbage-cert"), TLS_CA("test-ca"), AIOE_ERR_TLS, "not a PEM certificate" },
        { AUTH_X509("dir-key"), TLS_CA("test-ca"), AIOE_ERR_IO, "client_key.pem" },
        { AUTH_X509("mismatched-key"), TLS_CA("test-ca"), AIOE_ERR_TLS, "does not match" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "    host: localhost:1\n%s%s", cases[i].auth,
                 cases[i].tls);
        aioe_parse_result *res = fx_endpoint("%s", body);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        int64_t t0 = harness_now_ms();
        int rc = aioe_session_start(s);
        char err[512];
        aioe_session_last_error(s, err, sizeof err);
        print_message("case %zu -> %s in %lld ms: %s\n", i, aioe_strerror(rc),
                      (long long)(harness_now_ms() - t0), err);
        assert_int_equal(rc, cases[i].want);
        assert_non_null(strstr(err, cases[i].needle));
        assert_true(harness_now_ms() - t0 < 2000);
        assert_int_equal(r->nev, 0);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
}

/* References that try to leave their directory never get past the parser;
 * a host resolver that answers too much is refused. */
static int big_resolver(aioe_session *s, aioe_resource_request *req, void *ud)
{
    (void)s;
    (void)ud;
    static char big[2 * 1024 * 1024];
    return aioe_resource_request_set_data(req, big, sizeof big);
}

static void test_escaping_references_and_oversized_answers(void **state)
{
    (void)state;
    static const char *const refs[] = { "../outside", "a/b", "..", "/etc", "x/../../y" };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, EP_HEAD "    host: localhost:1\n" AUTH_X509("%s")
                 TLS_CA("%s"), refs[i], refs[i]);
        aioe_parse_result *res = NULL;
        assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), "t", NULL, &res),
                         AIOE_ERR_INVALID_SPEC);
        assert_true(aioe_parse_result_error_count(res) >= 2); /* both references */
        aioe_parse_result_free(res);
    }
    aioe_parse_result *res = fx_endpoint("    host: localhost:1\n" AUTH_ANON TLS_CA("any"));
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_resolver(o, big_resolver, NULL);
    aioe_session *s;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "i", o),
                     AIOE_OK);
    int rc = aioe_session_start(s);
    char err[512];
    aioe_session_last_error(s, err, sizeof err);
    print_message("2 MiB from the resolver -> %s: %s\n", aioe_strerror(rc), err);
    assert_int_equal(rc, AIOE_ERR_TOO_LARGE);
    aioe_session_free(s);
    aioe_session_options_free(o);
    aioe_parse_result_free(res);
}

/* Authentication Data is MQTT binary data: at most 65535 bytes. A 65536-byte
 * token used to reach Paho, which wrote a 16-bit length of 0 and sent a
 * malformed CONNECT; now the attempt fails with AIOE_ERR_AUTH and nothing is
 * sent. 65535 bytes still go out (the plugin refuses the non-JWT: 0x87). */
static void test_token_over_mqtt_binary_limit(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    cfg.jwt_plugin = true;
    cfg.jwt_methods = "K8S-SAT";
    assert_int_equal(broker_start(&cfg, &b), 0);
    static char big[65536];
    memset(big, 'a', sizeof big);
    for (size_t len = 65535; len <= 65536; len++) {
        char *p = hostile_path("bigtoken");
        assert_int_equal(harness_write_file(p, big, len), 0);
        recorder *r = recorder_new();
        aioe_parse_result *res;
        aioe_session *s = sat_session(broker_port(b, 0), r, p, &res);
        int rc = aioe_session_start(s);
        char err[512] = "";
        if (rc == AIOE_OK) {
            size_t cur = 0;
            ev_rec ev;
            aioe_session_state want = len == 65535 ? AIOE_SESSION_STOPPED
                                                   : AIOE_SESSION_DISCONNECTED;
            assert_true(fx_wait_state(r, want, &cur, &ev, WAIT_MS));
            rc = ev.status;
            snprintf(err, sizeof err, "%s (reason %d)", ev.msg, ev.reason);
            if (len == 65535)
                assert_int_equal(ev.reason, 0x87);
        } else {
            aioe_session_last_error(s, err, sizeof err);
        }
        print_message("%zu-byte token -> %s: %s\n", len, aioe_strerror(rc), err);
        if (len == 65536) {
            assert_int_equal(rc, AIOE_ERR_AUTH);
            assert_non_null(strstr(err, "65535"));
            char needle[128];
            snprintf(needle, sizeof needle, "client %s:", aioe_session_client_id(s));
            assert_false(broker_log_contains(b, needle)); /* no CONNECT reached it */
        } else {
            assert_int_equal(rc, AIOE_ERR_NOT_AUTHORIZED);
        }
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
        free(p);
    }
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_refuses_hostile_token_files),
        cmocka_unit_test(test_running_session_survives_hostile_rotation),
        cmocka_unit_test(test_start_refuses_hostile_tls_material),
        cmocka_unit_test(test_escaping_references_and_oversized_answers),
        cmocka_unit_test(test_token_over_mqtt_binary_limit),
    };
    if (getenv("AIOE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("AIOE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
