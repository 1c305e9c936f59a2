/* Session against real mosquitto brokers, publish flow: full publish window
 * (WOULD_BLOCK, never a silent queue), stop completes every publish exactly
 * once, negative PUBACK, the window below the server's Receive Maximum,
 * unlimited in-flight, unacknowledged publishes across a lost session. */
#include "session-fixture.h"

/* ---- window: WOULD_BLOCK, never a silent queue; stop completes all ---- */

static void test_publish_window_and_stop(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                         "    maxInflightMessages: 5\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    fx_seq_recorder = r;
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_int_equal(aioe_session_publish_window(s), 5);

    assert_int_equal(broker_pause(b), 0); /* no PUBACKs now */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(aioe_session_publish(s, "w/t", "x", 1, 1, false,
                                              fx_on_published_seq, (void *)(uintptr_t)i),
                         AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "w/t", "x", 1, 1, false,
                                          fx_on_published_seq, (void *)(uintptr_t)5),
                     AIOE_ERR_WOULD_BLOCK);
    assert_int_equal(aioe_session_publish_outstanding(s), 5);
    assert_int_equal(broker_resume(b), 0);
    size_t five = 5;
    assert_true(fx_wait(r, pred_pub_done, &five, WAIT_MS));
    assert_int_equal(r->pub_ok, 5);

    /* stop with work outstanding: each publish completes exactly once */
    assert_int_equal(broker_pause(b), 0);
    for (size_t i = 10; i < 15; i++)
        assert_int_equal(aioe_session_publish(s, "w/t", "x", 1, 1, false,
                                              fx_on_published_seq, (void *)(uintptr_t)i),
                         AIOE_OK);
    int64_t t0 = harness_now_ms();
    assert_int_equal(aioe_session_stop(s, 200), AIOE_OK);
    print_message("stop with 5 unacknowledged took %lld ms (timeout 200)\n",
                  (long long)(harness_now_ms() - t0));
    assert_int_equal(broker_resume(b), 0);
    size_t ten = 10;
    assert_true(fx_wait(r, pred_pub_done, &ten, 10));
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(r->calls[i], (i < 5 || i >= 10) ? 1 : 0);
    assert_int_equal(r->last_pub_status, AIOE_ERR_STATE);
    aioe_session_free(s);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(r->calls[i], (i < 5 || i >= 10) ? 1 : 0);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- negative PUBACK reaches the completion with its reason code ---- */

static void test_negative_puback(void **state)
{
    (void)state;
    char *acl = harness_path("acl-session");
    const char *rules = "topic readwrite allowed/#\n";
    assert_int_equal(harness_write_file(acl, rules, strlen(rules)), 0);
    char extra[600];
    snprintf(extra, sizeof extra, "acl_file %s\n", acl);
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.extra_conf = extra;
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_int_equal(aioe_session_publish(s, "denied/x", "1", 1, 1, false,
                                          fx_on_published, r), AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r, pred_pub_done, &one, WAIT_MS));
    print_message("denied publish: %s, reason 0x%02X\n",
                  aioe_strerror(r->last_pub_status), (unsigned)r->last_pub_reason);
    assert_int_equal(r->last_pub_status, AIOE_ERR_NOT_AUTHORIZED);
    assert_int_equal(r->last_pub_reason, 0x87);
    assert_int_equal(aioe_session_publish(s, "allowed/x", "1", 1, 1, false,
                                          fx_on_published, r), AIOE_OK);
    size_t two = 2;
    assert_true(fx_wait(r, pred_pub_done, &two, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
    free(acl);
}

/* ---- window capped below the server's Receive Maximum; throughput ----
 * With the broker's Receive Maximum equal to maxInflightMessages the window
 * is one below it, so Paho 1.3.12 never reaches its full-window path (which
 * sleeps up to 1 s per message): 5000 QoS 1 messages must take well under a
 * second each... and in practice a few hundred ms in total. */

static bool pred_more_done(recorder *r, const void *arg)
{
    return r->pub_done > *(const size_t *)arg;
}

static void test_window_below_receive_maximum(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.max_inflight_messages = 100; /* sent as Receive Maximum 100 */
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                         "    maxInflightMessages: 100\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_int_equal(aioe_session_publish_window(s), 99);
    const size_t n = 5000;
    size_t wb = 0;
    int64_t t0 = harness_now_ms();
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            int rc = aioe_session_publish(s, "tp/x", "payload", 7, 1, false,
                                          fx_on_published, r);
            if (rc == AIOE_OK)
                break;
            assert_int_equal(rc, AIOE_ERR_WOULD_BLOCK);
            wb++;
            pthread_mutex_lock(&r->mu);
            size_t done = r->pub_done;
            pthread_mutex_unlock(&r->mu);
            assert_true(fx_wait(r, pred_more_done, &done, 2000));
        }
    }
    assert_true(fx_wait(r, pred_pub_done, &n, 20000));
    int64_t ms = harness_now_ms() - t0;
    print_message("%zu QoS 1 publishes, window 99 under Receive Maximum 100: "
                  "%lld ms (%.0f msg/s), %zu WOULD_BLOCK waits\n", n,
                  (long long)ms, ms ? n * 1000.0 / (double)ms : 0.0, wb);
    assert_int_equal(r->pub_ok, n);
    assert_true(ms < 10000);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* Issue #18: maxInflightMessages 0 (the schema's minimum) means no limit of
 * the endpoint's. MQTT v5 makes a Receive Maximum of 0 a protocol error, so
 * the session must not send one (mosquitto would refuse the CONNECT), and
 * its window follows the broker's Receive Maximum alone. */
static void test_unlimited_inflight(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.max_inflight_messages = 40; /* sent as Receive Maximum 40 */
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n"
                                         "    maxInflightMessages: 0\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_int_equal(aioe_session_publish_window(s), 39);
    const size_t n = 200;
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            int rc = aioe_session_publish(s, "tp/u", "p", 1, 1, false, fx_on_published, r);
            if (rc == AIOE_OK)
                break;
            assert_int_equal(rc, AIOE_ERR_WOULD_BLOCK);
            pthread_mutex_lock(&r->mu);
            size_t done = r->pub_done;
            pthread_mutex_unlock(&r->mu);
            assert_true(fx_wait(r, pred_more_done, &done, 2000));
        }
    }
    assert_true(fx_wait(r, pred_pub_done, &n, 20000));
    assert_int_equal(r->pub_ok, n);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- a lost broker session while QoS 1 publishes are unacknowledged:
 * every completion still fires exactly once ---- */

static void test_unacked_publishes_across_lost_session(void **state)
{
    (void)state;
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg); /* no persistence: a restart loses the session */
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    fx_seq_recorder = r;
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    ev_rec ev = { 0 };
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, &ev, WAIT_MS));
    assert_int_equal(broker_pause(b), 0);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(aioe_session_publish(s, "lost/x", "1", 1, 1, false,
                                              fx_on_published_seq,
                                              (void *)(uintptr_t)i), AIOE_OK);
    assert_int_equal(broker_kill(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, &ev, WAIT_MS));
    /* published while down: buffered, sent after the reconnect */
    for (size_t i = 20; i < 25; i++)
        assert_int_equal(aioe_session_publish(s, "lost/x", "1", 1, 1, false,
                                              fx_on_published_seq,
                                              (void *)(uintptr_t)i), AIOE_OK);
    assert_int_equal(broker_restart(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, &ev, WAIT_MS));
    assert_true(ev.lost);
    size_t n = 25;
    assert_true(fx_wait(r, pred_pub_done, &n, WAIT_MS));
    pthread_mutex_lock(&r->mu);
    print_message("after the lost session: %zu of 25 confirmed, %zu completed "
                  "unconfirmed\n", r->pub_ok, r->pub_done - r->pub_ok);
    for (size_t i = 0; i < 25; i++)
        assert_int_equal(r->calls[i], 1);
    pthread_mutex_unlock(&r->mu);
    assert_int_equal(aioe_session_publish_outstanding(s), 0);
    aioe_session_free(s);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < 25; i++)
        assert_int_equal(r->calls[i], 1);
    pthread_mutex_unlock(&r->mu);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_window_and_stop),
        cmocka_unit_test(test_negative_puback),
        cmocka_unit_test(test_window_below_receive_maximum),
        cmocka_unit_test(test_unlimited_inflight),
        cmocka_unit_test(test_unacked_publishes_across_lost_session),
    };
    if (getenv("AIOE_TEST_FILTER")) /* e.g. AIOE_TEST_FILTER='*race*' */
        cmocka_set_test_filter(getenv("AIOE_TEST_FILTER"));
    if (getenv("AIOE_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("AIOE_TEST_SKIP"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
