/* Broker behaviour the session must survive, from real servers: a mosquitto
 * that stalls (SIGSTOP) longer than the keep-alive, that advertises Receive
 * Maximum 1, or a small Maximum Packet Size (a publish over it is refused
 * up front with AIOE_ERR_TOO_LARGE), and an openssl s_server offering only
 * TLS 1.1. The fake broker's cases are in test-broker-faults-fake.c. */
#include "broker-faults-fixture.h"

/* ---- a real broker that stalls longer than the keep-alive ---------------- */

static void test_stall_beyond_keepalive(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.log_types = "error warning notice";
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n    keepAliveSeconds: 1\n"
                                         AUTH_ANON TLS_OFF, broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_int_equal(aioe_session_publish(s, "stall/a", "0", 1, 1, false, fx_on_published,
                                          r), AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r, pred_pub_done, &one, WAIT_MS));

    assert_int_equal(broker_pause(b), 0);
    /* published while stalled: must complete once the broker is back */
    assert_int_equal(aioe_session_publish(s, "stall/a", "1", 1, 1, false, fx_on_published,
                                          r), AIOE_OK);
    ev_rec ev;
    int64_t t0 = harness_now_ms();
    assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, &ev, WAIT_MS));
    print_message("stall detected after %lld ms: %s (%s)\n",
                  (long long)(harness_now_ms() - t0), aioe_strerror(ev.status), ev.msg);
    assert_true(ev.will_retry);
    assert_int_equal(broker_resume(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    size_t two = 2;
    assert_true(fx_wait(r, pred_pub_done, &two, WAIT_MS));
    print_message("publish during stall: %s\n", aioe_strerror(r->last_pub_status));
    assert_int_equal(r->pub_done, 2); /* exactly once each */
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- Receive Maximum 1 ----------------------------------------------------- */

static void test_receive_maximum_one(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.max_inflight_messages = 1; /* sent as Receive Maximum 1 */
    cfg.log_types = "error warning notice";
    assert_int_equal(broker_start(&cfg, &b), 0);
    observer *o;
    assert_int_equal(observer_start(b, 0, "rm1/#", 1, &o), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    size_t sent = 0, n = 200;
    int64_t t0 = harness_now_ms();
    while (sent < n && harness_now_ms() - t0 < 20000) {
        char p[16];
        snprintf(p, sizeof p, "%zu", sent);
        int rc = aioe_session_publish(s, "rm1/x", p, strlen(p), 1, false, fx_on_published, r);
        if (rc == AIOE_OK)
            sent++;
        else if (rc == AIOE_ERR_WOULD_BLOCK)
            fx_wait(r, pred_pub_done, &sent, 100);
        else
            fail_msg("publish: %s", aioe_strerror(rc));
    }
    assert_int_equal(sent, n);
    assert_true(fx_wait(r, pred_pub_done, &n, WAIT_MS));
    print_message("Receive Maximum 1: window %zu, %zu QoS 1 publishes in %lld ms\n",
                  aioe_session_publish_window(s), n,
                  (long long)(harness_now_ms() - t0));
    assert_int_equal(r->pub_ok, n);
    assert_int_equal(aioe_session_publish_window(s), 1);
    assert_int_equal(observer_wait(o, n, WAIT_MS), n);
    assert_int_equal(fx_count_state(r, AIOE_SESSION_DISCONNECTED), 0);
    aioe_session_free(s);
    observer_free(o);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- a small Maximum Packet Size ------------------------------------------ */

static void test_small_maximum_packet_size(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.max_packet_size = 1024;
    cfg.log_types = "error warning notice";
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    static char big[4096];
    memset(big, 'x', sizeof big);
    int rc = aioe_session_publish(s, "mps/big", big, sizeof big, 1, false, fx_on_published, r);
    print_message("publish of 4 KiB with server Maximum Packet Size 1 KiB: %s\n",
                  aioe_strerror(rc));
    if (rc == AIOE_OK) {
        size_t one = 1;
        /* before 2b441f8 the oversized QoS 1 PUBLISH was sent, mosquitto
         * disconnected with 0x95 and the session resent it on every
         * reconnect: no completion, the session flapping */
        assert_true(fx_wait(r, pred_pub_done, &one, 5000));
        print_message("  completion: %s reason %d; disconnects so far %zu\n",
                      aioe_strerror(r->last_pub_status), r->last_pub_reason,
                      fx_count_state(r, AIOE_SESSION_DISCONNECTED));
        assert_int_not_equal(r->last_pub_status, AIOE_OK);
    } else {
        assert_int_equal(rc, AIOE_ERR_TOO_LARGE);
    }
    /* the session is still usable for messages that fit */
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, 0) ||
                aioe_session_get_state(s) == AIOE_SESSION_CONNECTED);
    size_t before = r->pub_done;
    assert_int_equal(aioe_session_publish(s, "mps/small", "ok", 2, 1, false,
                                          fx_on_published, r), AIOE_OK);
    size_t want = before + 1;
    assert_true(fx_wait(r, pred_pub_done, &want, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- TLS 1.1 is refused ---------------------------------------------------
 * `openssl s_server` offering only TLS 1.1 (security level 0 so OpenSSL 3
 * allows it at all) with the harness's valid localhost certificate: the
 * session must fail with a TLS error. The same server with TLS 1.2 as the
 * control: the handshake succeeds (no TLS error; s_server speaks no MQTT,
 * so the connect then times out). */

static pid_t s_server(const char *version, int port)
{
    const harness_pki *pki = harness_pki_get();
    char accept_arg[32];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("openssl", "openssl", "s_server", "-accept", accept_arg, "-cert",
               pki->server_cert, "-key", pki->server_key, version, "-cipher",
               "DEFAULT:@SECLEVEL=0", "-quiet", (char *)NULL);
        _exit(127);
    }
    /* wait until it accepts */
    int64_t deadline = harness_now_ms() + 5000;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0)
            break;
        if (harness_now_ms() > deadline)
            fail_msg("openssl s_server did not start");
        usleep(5000);
    }
    return pid;
}

static void test_tls_1_1_refused(void **state)
{
    (void)state;
    struct { const char *version; bool tls_error; } cases[] = {
        { "-tls1_1", true }, { "-tls1", true }, { "-tls1_2", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int port = harness_free_port();
        pid_t pid = s_server(cases[i].version, port);
        recorder *r = recorder_new();
        aioe_parse_result *res;
        aioe_session *s = session_for_port(port, r, &res, true, 1000);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        size_t cur = 0;
        ev_rec ev = { 0 };
        assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, &ev, WAIT_MS));
        print_message("server %-8s -> %s: %s\n", cases[i].version, aioe_strerror(ev.status),
                      ev.msg);
        bool tls = ev.status == AIOE_ERR_TLS || ev.status == AIOE_ERR_TLS_UNKNOWN_CA ||
                   ev.status == AIOE_ERR_TLS_HOSTNAME_MISMATCH ||
                   ev.status == AIOE_ERR_TLS_CERT_EXPIRED;
        assert_int_equal(tls, cases[i].tls_error);
        assert_int_equal(fx_count_state(r, AIOE_SESSION_CONNECTED), 0);
        aioe_session_stop(s, 0);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall_beyond_keepalive),
        cmocka_unit_test(test_receive_maximum_one),
        cmocka_unit_test(test_small_maximum_packet_size),
        cmocka_unit_test(test_tls_1_1_refused),
    };
    if (getenv("AIOE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("AIOE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
