/* Publish/subscribe against a real mosquitto, configurable limits: queued
 * bytes bound, the publish-window callback, stop draining outstanding
 * publishes, and the token size bound. */
#include "pubsub-fixture.h"

/* ---- configurable limits ------------------------------------------------ */

static void queued_bytes_bound(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    recorder *r = recorder_new();
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_max_queued_bytes(NULL, 1), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_max_queued_bytes(o, 600), AIOE_OK);
    aioe_session *s = started_with(aioe_parse_result_endpoint(res, 0), r, o);

    /* With the broker stalled nothing completes: two 250-byte messages fit
     * in 600 bytes, the third does not, although the window has room. */
    static char payload[250];
    memset(payload, 'p', sizeof payload);
    assert_int_equal(broker_pause(b), 0);
    assert_int_equal(aioe_session_publish(s, "qb/1", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/2", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/3", payload, 250, 1, false, fx_on_published, r),
                     AIOE_ERR_WOULD_BLOCK);
    assert_int_equal(aioe_session_publish_outstanding(s), 2);
    assert_int_equal(broker_resume(b), 0);
    size_t two = 2;
    assert_true(fx_wait(r, pred_pub_done, &two, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/3", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    size_t three = 3;
    assert_true(fx_wait(r, pred_pub_done, &three, WAIT_MS));
    /* a message larger than the bound still goes when it is alone */
    static char big[1000];
    assert_int_equal(aioe_session_publish(s, "qb/big", big, sizeof big, 1, false,
                                          fx_on_published, r), AIOE_OK);
    size_t four = 4;
    assert_true(fx_wait(r, pred_pub_done, &four, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- room in the publish window ------------------------------------------
 * issue #14 item 4: a host that got AIOE_ERR_WOULD_BLOCK learns from the
 * window callback that there is room again, instead of spinning. */

typedef struct window_rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t calls, room;
    pthread_t cb_thread, completion_thread;
    bool completion_seen;
    int publish_rc;         /* publishing from inside the callback */
    aioe_session *s;
} window_rec;

static void on_window(aioe_session *s, size_t room, void *ud)
{
    window_rec *w = ud;
    /* the intended use: publish from here */
    int rc = aioe_session_publish(s, "win/from-callback", "cb", 2, 1, false, NULL, NULL);
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->room = room;
    w->cb_thread = pthread_self();
    w->publish_rc = rc;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_window_completion(aioe_session *s, int status, int reason, void *ud)
{
    window_rec *w = ud;
    (void)s;
    (void)status;
    (void)reason;
    pthread_mutex_lock(&w->mu);
    w->completion_thread = pthread_self();
    w->completion_seen = true;
    pthread_mutex_unlock(&w->mu);
}

static void window_callback(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "win/#", 1, &o), 0);
    aioe_parse_result *res = endpoint_for(b, "    maxInflightMessages: 4\n");
    recorder *r = recorder_new();
    window_rec w = { .publish_rc = 1 };
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    aioe_session_options *opts = NULL;
    assert_int_equal(aioe_session_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_session_options_set_window_callback(NULL, on_window, &w),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_window_callback(opts, on_window, &w), AIOE_OK);
    aioe_session *s = started_with(aioe_parse_result_endpoint(res, 0), r, opts);
    size_t window = aioe_session_publish_window(s);
    assert_true(window >= 1 && window <= 4);

    /* the broker stalls: the window fills, the next publish is refused */
    assert_int_equal(broker_pause(b), 0);
    for (size_t i = 0; i < window; i++)
        assert_int_equal(aioe_session_publish(s, "win/fill", "x", 1, 1, false,
                                              on_window_completion, &w), AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "win/refused", "x", 1, 1, false, NULL, NULL),
                     AIOE_ERR_WOULD_BLOCK);
    pthread_mutex_lock(&w.mu);
    assert_int_equal(w.calls, 0); /* no room yet, no call */
    pthread_mutex_unlock(&w.mu);

    /* room comes back: the callback fires, on neither Paho's thread (where
     * the completions ran) nor ours, and may publish */
    assert_int_equal(broker_resume(b), 0);
    pthread_mutex_lock(&w.mu);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (w.calls == 0 && harness_cond_wait_until(&w.cv, &w.mu, deadline))
        ;
    assert_int_equal(w.calls, 1);
    assert_true(w.room >= 1);
    assert_int_equal(w.publish_rc, AIOE_OK);
    assert_true(w.completion_seen);
    assert_false(pthread_equal(w.cb_thread, w.completion_thread));
    assert_false(pthread_equal(w.cb_thread, pthread_self()));
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(observer_wait(o, window + 1, WAIT_MS), window + 1);
    assert_string_equal(observer_get(o, window)->topic, "win/from-callback");

    /* no refusal since: no more calls */
    assert_int_equal(aioe_session_stop(s, 5000), AIOE_OK);
    pthread_mutex_lock(&w.mu);
    assert_int_equal(w.calls, 1);
    pthread_mutex_unlock(&w.mu);
    aioe_session_free(s);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

static bool pred_log_has(recorder *r, const void *arg)
{
    return r->log && strstr(r->log, (const char *)arg);
}

typedef struct stopper {
    aioe_session *s;
    int rc;
    int64_t returned_ms;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *st = arg;
    st->rc = aioe_session_stop(st->s, 20000);
    st->returned_ms = harness_now_ms();
    return NULL;
}

/* stop() waits for unacknowledged publishes and returns as soon as the last
 * one completes, not at its timeout: the completions must wake it. */
static void stop_drains_outstanding(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);

    /* the broker holds every PUBACK until it resumes */
    assert_int_equal(broker_pause(b), 0);
    enum { N = 40 };
    for (int i = 0; i < N; i++)
        assert_int_equal(aioe_session_publish(s, "drain/t", "x", 1, 1, false,
                                              fx_on_published, r), AIOE_OK);
    /* static: a failed assert longjmps out while the thread may run */
    static stopper st;
    st = (stopper){.s = s, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, &st), 0);
    assert_true(fx_wait(r, pred_log_has, "unacknowledged publish", WAIT_MS));
    int64_t resumed = harness_now_ms();
    assert_int_equal(broker_resume(b), 0);
    pthread_join(th, NULL);
    assert_int_equal(st.rc, AIOE_OK);
    pthread_mutex_lock(&r->mu);
    assert_int_equal(r->pub_done, N);
    assert_int_equal(r->pub_ok, N);
    pthread_mutex_unlock(&r->mu);
    /* a missed wake-up would hold stop() for its whole 20 s timeout */
    assert_true(st.returned_ms - resumed < 10000);

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

static bool pred_too_large(recorder *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].state == AIOE_SESSION_DISCONNECTED && r->ev[i].status == AIOE_ERR_TOO_LARGE &&
            strstr(r->ev[i].msg, "configured maximum of 100"))
            return true;
    return false;
}

static void token_size_bound(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_SAT TLS_OFF
                                         "    clientIdPrefix: big-token-\n",
                                         broker_port(b, 0));
    char token[300];
    memset(token, 'k', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    token_dir t;
    fx_token_init(&t, token);
    recorder *r = recorder_new();
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_max_token_bytes(o, 65536), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_max_token_bytes(o, 100), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_token_file(o, t.path);
    aioe_session_options_set_reconnect_backoff(o, 5000, 5000);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "x", o), AIOE_OK);
    aioe_session_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    /* the attempt fails before anything is sent, and says why */
    assert_true(fx_wait(r, pred_too_large, NULL, WAIT_MS));
    assert_false(broker_log_contains(b, "big-token-x"));
    assert_true(fx_log_lacks(r, token));

    aioe_session_free(s);
    fx_token_free(&t);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queued_bytes_bound),
        cmocka_unit_test(window_callback),
        cmocka_unit_test(stop_drains_outstanding),
        cmocka_unit_test(token_size_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
