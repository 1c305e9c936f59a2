/* Shared helpers of the publish/subscribe tests (test-pubsub-messages.c,
 * test-pubsub-subscribe.c, test-pubsub-limits.c): a mosquitto, an anonymous
 * plain-TCP endpoint for it, a started session. */
#ifndef AIOE_TESTS_INTEGRATION_PUBSUB_FIXTURE_H
#define AIOE_TESTS_INTEGRATION_PUBSUB_FIXTURE_H

#include "session-fixture.h"

static inline broker *start_broker(bool persistence)
{
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.persistence = persistence;
    broker *b = NULL;
    assert_int_equal(broker_start(&cfg, &b), 0);
    return b;
}

/* An anonymous plain-TCP endpoint for b, with extra mqttSettings lines. */
static inline aioe_parse_result *endpoint_for(broker *b, const char *extra)
{
    return fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF "%s", broker_port(b, 0),
                       extra ? extra : "");
}

/* A recording session on ep, started and connected; o (NULL: defaults)
 * holds extra settings and is freed. */
static inline aioe_session *started_with(const aioe_endpoint *ep, recorder *r, aioe_session_options *o)
{
    aioe_session *s = fx_session_with(ep, r, NULL, o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    return s;
}

static inline aioe_session *started(const aioe_endpoint *ep, recorder *r)
{
    return started_with(ep, r, NULL);
}

static inline void publish_and_wait(aioe_session *s, recorder *r, aioe_message_builder *b)
{
    pthread_mutex_lock(&r->mu);
    size_t before = r->pub_done;
    pthread_mutex_unlock(&r->mu);
    assert_int_equal(aioe_session_publish_message(s, b, fx_on_published, r), AIOE_OK);
    size_t want = before + 1;
    assert_true(fx_wait(r, pred_pub_done, &want, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
}

#endif
