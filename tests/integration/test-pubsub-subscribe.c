/* Publish/subscribe against a real mosquitto, subscriptions: shared
 * subscriptions in both spellings, unsubscribe, re-subscribe, subscriptions
 * restored by the broker session without a SUBSCRIBE storm, and the checks
 * on subscribe options. */
#include "pubsub-fixture.h"

/* ---- subscriptions -------------------------------------------------------- */

static bool pred_msgs(recorder *r, const void *arg)
{
    return r->msgs >= *(const size_t *)arg;
}

enum { N_SHARED = 40 };

static bool both_received_n(void *arg)
{
    recorder **pair = arg;
    pthread_mutex_lock(&pair[0]->mu);
    size_t a = pair[0]->msgs;
    pthread_mutex_unlock(&pair[0]->mu);
    pthread_mutex_lock(&pair[1]->mu);
    size_t b = pair[1]->msgs;
    pthread_mutex_unlock(&pair[1]->mu);
    return a + b >= N_SHARED;
}

static void shared_subscriptions_and_unsubscribe(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    recorder *r1 = recorder_new(), *r2 = recorder_new();
    aioe_session *s1 = started(ep, r1), *s2 = started(ep, r2);
    /* the AIO documentation's spelling and MQTT's: the same group */
    assert_int_equal(aioe_session_subscribe_with(s1, "$shared/grp/sh/#", NULL, fx_on_subscribed, r1),
                     AIOE_OK);
    assert_int_equal(aioe_session_subscribe_with(s2, "$share/grp/sh/#", NULL, fx_on_subscribed, r2),
                     AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r1, pred_sub_done, &one, WAIT_MS));
    assert_true(fx_wait(r2, pred_sub_done, &one, WAIT_MS));
    assert_int_equal(r1->last_sub_status, AIOE_OK);
    assert_true(broker_log_contains(b, "$share/grp/sh/#"));
    assert_false(broker_log_contains(b, "$shared/"));

    enum { N = N_SHARED };
    for (int i = 0; i < N; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", i);
        assert_int_equal(harness_publish(b, 0, "sh/x", p, strlen(p), 1, false), 0);
    }
    /* every message once, spread over both members */
    recorder *pair[2] = { r1, r2 };
    assert_true(harness_wait_until(both_received_n, pair, WAIT_MS));
    assert_int_equal(r1->msgs + r2->msgs, N);
    assert_true(r1->msgs > 0 && r2->msgs > 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(r1->seen[i] + r2->seen[i], 1);

    /* unsubscribe: acknowledged once, and nothing more arrives */
    assert_int_equal(aioe_session_unsubscribe(s1, "$shared/grp/sh/#", fx_on_subscribed, r1),
                     AIOE_OK);
    size_t two = 2;
    assert_true(fx_wait(r1, pred_sub_done, &two, WAIT_MS));
    assert_int_equal(r1->last_sub_status, AIOE_OK);
    assert_int_equal(aioe_session_unsubscribe(s1, "$share/grp/sh/#", NULL, NULL),
                     AIOE_ERR_NOT_FOUND);
    size_t before1 = r1->msgs, before2 = r2->msgs;
    for (int i = N; i < N + 10; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", i);
        assert_int_equal(harness_publish(b, 0, "sh/x", p, strlen(p), 1, false), 0);
    }
    size_t want2 = before2 + 10;
    assert_true(fx_wait(r2, pred_msgs, &want2, WAIT_MS));
    assert_int_equal(r1->msgs, before1);

    /* invalid filters are refused before anything is sent */
    assert_int_equal(aioe_session_subscribe_with(s1, "a/#/b", NULL, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_subscribe_with(s1, "$shared/g", NULL, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);

    aioe_session_free(s1);
    aioe_session_free(s2);
    recorder_free(r1);
    recorder_free(r2);
    aioe_parse_result_free(res);
    broker_free(b);
}

static void resubscribe_and_restore(void **state)
{
    (void)state;
    broker *b = start_broker(true);
    aioe_parse_result *res = endpoint_for(b, "    clientIdPrefix: pubsub-\n");
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);
    const char *id = aioe_session_client_id(s);
    char needle[160];
    snprintf(needle, sizeof needle, "Received SUBSCRIBE from %s", id);

    assert_int_equal(aioe_session_subscribe(s, "rs/#", 1, fx_on_subscribed, r), AIOE_OK);
    size_t one = 1, two = 2;
    assert_true(fx_wait(r, pred_sub_done, &one, WAIT_MS));
    /* the same filter again replaces it: one subscription, one delivery */
    assert_int_equal(aioe_session_subscribe(s, "rs/#", 1, fx_on_subscribed, r), AIOE_OK);
    assert_true(fx_wait(r, pred_sub_done, &two, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "0", 1, 1, false), 0);
    assert_true(fx_wait(r, pred_msgs, &one, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "1", 1, 1, false), 0);
    assert_true(fx_wait(r, pred_msgs, &two, WAIT_MS));
    assert_int_equal(r->msgs, 2);
    size_t subscribes = broker_log_count(b, needle);
    assert_int_equal(subscribes, 2);

    /* A restart with persistence keeps the broker session: the session
     * reconnects and does not subscribe again. */
    size_t from = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &from, NULL, WAIT_MS));
    assert_int_equal(broker_restart(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &from, NULL, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "2", 1, 1, false), 0);
    size_t three = 3;
    assert_true(fx_wait(r, pred_msgs, &three, WAIT_MS));
    assert_int_equal(broker_log_count(b, needle), subscribes); /* no new SUBSCRIBE */

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

static void subscribe_options_checks(void **state)
{
    (void)state;
    aioe_subscribe_options *o = NULL;
    assert_int_equal(aioe_subscribe_options_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_subscribe_options_set_qos(o, 2), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_set_retain_handling(o, 3), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_set_retain_handling(o, AIOE_RETAIN_DO_NOT_SEND),
                     AIOE_OK);
    assert_int_equal(aioe_subscribe_options_set_no_local(NULL, true), AIOE_ERR_INVALID_ARG);
    aioe_subscribe_options_free(o);
    aioe_subscribe_options_free(NULL);
    aioe_message_free(NULL);
    assert_int_equal(aioe_message_copy(NULL, NULL), AIOE_ERR_INVALID_ARG);
    assert_false(aioe_message_dup(NULL));
    assert_int_equal(aioe_message_payload_format(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_options_checks),
        cmocka_unit_test(shared_subscriptions_and_unsubscribe),
        cmocka_unit_test(resubscribe_and_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
