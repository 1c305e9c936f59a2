/* Shared fixture of the harness tests (test-harness-broker.c,
 * test-harness-jwt.c): a small synchronous Paho MQTT v5 client (the client
 * libaioendpoint uses) and per-case timing (AIOE_TEST_VERBOSE). */
#ifndef AIOE_TESTS_INTEGRATION_PAHO_FIXTURE_H
#define AIOE_TESTS_INTEGRATION_PAHO_FIXTURE_H

#include "harness.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_MS 5000

/* --- a small synchronous Paho MQTT v5 client for the tests -------------- */

typedef struct paho {
    MQTTAsync client;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int connect_state;   /* 0 pending, 1 connected, 2 failed */
    int reason;          /* CONNACK reason code on failure */
    int code;            /* Paho error code on failure */
    int disconnect_reason;  /* from a server DISCONNECT, -1 if none */
    bool lost;
    int published;
} paho;

typedef struct paho_opts {
    const char *cafile;
    const char *certfile;
    const char *keyfile;
    const char *auth_method;
    const char *auth_data;
    const char *client_id;
} paho_opts;

static inline void paho_on_connect(void *ctx, MQTTAsync_successData5 *r)
{
    paho *p = ctx;

    (void)r;
    pthread_mutex_lock(&p->lock);
    p->connect_state = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static inline void paho_on_connect_failure(void *ctx, MQTTAsync_failureData5 *r)
{
    paho *p = ctx;

    pthread_mutex_lock(&p->lock);
    p->connect_state = 2;
    /* Paho 1.3.12 reports a refused CONNACK with reasonCode 0 and the
     * CONNACK reason code in `code` ("CONNACK return code"). */
    p->reason = -1;
    if (r && r->reasonCode)
        p->reason = (int)r->reasonCode;
    else if (r && r->message && strcmp(r->message, "CONNACK return code") == 0)
        p->reason = r->code;
    p->code = r ? r->code : -1;
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "paho connect failure: reason %d code %d message %s\n",
                r ? (int)r->reasonCode : -1, p->code,
                r && r->message ? r->message : "-");
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static inline void paho_on_lost(void *ctx, char *cause)
{
    paho *p = ctx;

    (void)cause;
    pthread_mutex_lock(&p->lock);
    p->lost = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static inline int paho_on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    (void)ctx;
    (void)len;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static inline void paho_on_disconnected(void *ctx, MQTTProperties *props,
                                        enum MQTTReasonCodes rc)
{
    paho *p = ctx;

    (void)props;
    pthread_mutex_lock(&p->lock);
    p->disconnect_reason = (int)rc;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static inline void paho_on_published(void *ctx, MQTTAsync_successData5 *r)
{
    paho *p = ctx;

    (void)r;
    pthread_mutex_lock(&p->lock);
    p->published++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Connects with MQTT v5, clean start; returns the paho (check
 * connect_state == 1) or fails the test on API errors. */
static inline paho *paho_connect(const char *uri, const paho_opts *o)
{
    paho *p = calloc(1, sizeof *p);
    MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer5;
    char *generated = o->client_id ? NULL : harness_unique("paho");

    assert_non_null(p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->disconnect_reason = -1;
    assert_int_equal(MQTTAsync_createWithOptions(&p->client, uri,
                         o->client_id ? o->client_id : generated,
                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts),
                     MQTTASYNC_SUCCESS);
    free(generated);
    MQTTAsync_setCallbacks(p->client, p, paho_on_lost, paho_on_message, NULL);
    MQTTAsync_setDisconnected(p->client, p, paho_on_disconnected);

    bool ws = strncmp(uri, "ws", 2) == 0;
    MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions conn_ws = MQTTAsync_connectOptions_initializer5_ws;
    if (ws)
        conn = conn_ws;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    conn.cleanstart = 1;
    conn.connectTimeout = 5;
    conn.onSuccess5 = paho_on_connect;
    conn.onFailure5 = paho_on_connect_failure;
    conn.context = p;
    if (o->cafile) {
        ssl.trustStore = o->cafile;
        ssl.keyStore = o->certfile;
        ssl.privateKey = o->keyfile;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
        conn.ssl = &ssl;
    }
    if (o->auth_method) {
        MQTTProperty prop = { .identifier = MQTTPROPERTY_CODE_AUTHENTICATION_METHOD };
        prop.value.data.data = (char *)o->auth_method;
        prop.value.data.len = (int)strlen(o->auth_method);
        assert_int_equal(MQTTProperties_add(&props, &prop), 0);
        if (o->auth_data) {
            MQTTProperty d = { .identifier = MQTTPROPERTY_CODE_AUTHENTICATION_DATA };
            d.value.data.data = (char *)o->auth_data;
            d.value.data.len = (int)strlen(o->auth_data);
            assert_int_equal(MQTTProperties_add(&props, &d), 0);
        }
        conn.connectProperties = &props;
    }
    assert_int_equal(MQTTAsync_connect(p->client, &conn), MQTTASYNC_SUCCESS);
    MQTTProperties_free(&props);

    int64_t deadline = harness_now_ms() + WAIT_MS + 2000;
    pthread_mutex_lock(&p->lock);
    while (p->connect_state == 0 && harness_now_ms() < deadline) {
        pthread_mutex_unlock(&p->lock);
        /* Paho gives no condition to wait on before its callback; poll. */
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return p;
}

static inline int paho_state(paho *p)
{
    pthread_mutex_lock(&p->lock);
    int s = p->connect_state;
    pthread_mutex_unlock(&p->lock);
    return s;
}

static inline void paho_publish(paho *p, const char *topic, const char *payload)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message m = MQTTAsync_message_initializer;

    ro.onSuccess5 = paho_on_published;
    ro.context = p;
    m.payload = (void *)payload;
    m.payloadlen = (int)strlen(payload);
    m.qos = 1;
    int before = p->published;
    assert_int_equal(MQTTAsync_sendMessage(p->client, topic, &m, &ro),
                     MQTTASYNC_SUCCESS);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int n = p->published;
        pthread_mutex_unlock(&p->lock);
        if (n > before)
            break;
        assert_true(harness_now_ms() < deadline);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

static inline void paho_free(paho *p)
{
    if (!p)
        return;
    if (MQTTAsync_isConnected(p->client)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
        d.timeout = 1000;
        MQTTAsync_disconnect(p->client, &d);
        int64_t deadline = harness_now_ms() + 2000;
        while (MQTTAsync_isConnected(p->client) && harness_now_ms() < deadline) {
            struct timespec ts = { 0, 2000000 };
            nanosleep(&ts, NULL);
        }
    }
    MQTTAsync_destroy(&p->client);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Connects and returns connect_state (1 ok, 2 failed); *reason gets the
 * CONNACK reason code on failure. */
static inline int try_connect(const char *uri, const paho_opts *o, int *reason)
{
    int64_t t0 = harness_now_ms();
    paho *p = paho_connect(uri, o);
    int64_t t1 = harness_now_ms();
    int s = paho_state(p);

    if (reason)
        *reason = p->reason;
    paho_free(p);
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "try_connect %s: connect %lld ms, free %lld ms\n", uri,
                (long long)(t1 - t0), (long long)(harness_now_ms() - t1));
    return s;
}

static int64_t test_started;

static inline int timed_setup(void **state)
{
    (void)state;
    test_started = harness_now_ms();
    return 0;
}

static inline int timed_teardown(void **state)
{
    (void)state;
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "  (%lld ms)\n",
                (long long)(harness_now_ms() - test_started));
    return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, timed_setup, timed_teardown)

#endif
