/* Proves the integration-test harness and the aioe_jwt_auth plugin work,
 * against real mosquitto brokers, with Paho (the client libaioendpoint uses)
 * on one side and libmosquitto (the harness observer) on the other. */
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

static void paho_on_connect(void *ctx, MQTTAsync_successData5 *r)
{
    paho *p = ctx;

    (void)r;
    pthread_mutex_lock(&p->lock);
    p->connect_state = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void paho_on_connect_failure(void *ctx, MQTTAsync_failureData5 *r)
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

static void paho_on_lost(void *ctx, char *cause)
{
    paho *p = ctx;

    (void)cause;
    pthread_mutex_lock(&p->lock);
    p->lost = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static int paho_on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    (void)ctx;
    (void)len;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void paho_on_disconnected(void *ctx, MQTTProperties *props,
                                 enum MQTTReasonCodes rc)
{
    paho *p = ctx;

    (void)props;
    pthread_mutex_lock(&p->lock);
    p->disconnect_reason = (int)rc;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void paho_on_published(void *ctx, MQTTAsync_successData5 *r)
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
static paho *paho_connect(const char *uri, const paho_opts *o)
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

static int paho_state(paho *p)
{
    pthread_mutex_lock(&p->lock);
    int s = p->connect_state;
    pthread_mutex_unlock(&p->lock);
    return s;
}

static void paho_publish(paho *p, const char *topic, const char *payload)
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

static void paho_free(paho *p)
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
static int try_connect(const char *uri, const paho_opts *o, int *reason)
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

/* --- tests -------------------------------------------------------------- */

static void test_workspace_and_pki(void **state)
{
    (void)state;
    const char *ws = harness_workspace();
    assert_non_null(ws);
    const harness_pki *pki = harness_pki_get();
    assert_non_null(pki);
    assert_ptr_equal(pki, harness_pki_get()); /* cached */
    const char *files[] = { pki->ca_cert, pki->server_cert, pki->client_chain,
                            pki->client_key_encrypted, pki->mismatched_key };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *text = harness_read_file(files[i], NULL);
        assert_non_null(text);
        assert_non_null(strstr(text, "-----BEGIN"));
        free(text);
    }
    char *enc = harness_read_file(pki->client_key_encrypted, NULL);
    assert_non_null(strstr(enc, "ENCRYPTED PRIVATE KEY"));
    free(enc);
    char *chain = harness_read_file(pki->client_chain, NULL);
    assert_non_null(strstr(strstr(chain, "BEGIN CERTIFICATE") + 1,
                           "BEGIN CERTIFICATE"));
    free(chain);
}

static void test_plain_pubsub(void **state)
{
    broker *b;
    observer *o;

    (void)state;
    assert_int_equal(broker_start(NULL, &b), 0);
    assert_true(broker_port(b, 0) > 0);
    assert_int_equal(observer_start(b, 0, "harness/plain/#", 1, &o), 0);

    const char *props[] = { "b", "2", "a", "1", "b", "3" };
    harness_pub m = {
        .topic = "harness/plain/x", .payload = "hello", .payload_len = 5,
        .qos = 1, .content_type = "text/plain", .user_props = props,
        .user_prop_pairs = 3,
    };
    harness_client_opts opts;
    harness_client_opts_for(b, 0, &opts);
    assert_int_equal(harness_publish_opts(&opts, &m, 1), 0);
    assert_int_equal(harness_publish(b, 0, "harness/plain/y", "", 0, 0, false), 0);
    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);

    const observer_msg *r = observer_get(o, 0);
    assert_string_equal(r->topic, "harness/plain/x");
    assert_string_equal((const char *)r->payload, "hello");
    assert_int_equal(r->payload_len, 5);
    assert_int_equal(r->qos, 1);
    assert_false(r->retain);
    assert_string_equal(r->content_type, "text/plain");
    assert_int_equal(r->user_prop_count, 3);
    assert_string_equal(r->user_props[0].name, "b");
    assert_string_equal(r->user_props[0].value, "2");
    assert_string_equal(r->user_props[1].name, "a");
    assert_string_equal(r->user_props[2].value, "3");
    assert_string_equal(observer_msg_prop(r, "a"), "1");
    r = observer_get(o, 1);
    assert_string_equal(r->topic, "harness/plain/y");
    assert_int_equal(r->payload_len, 0);
    assert_int_equal(r->qos, 0);
    assert_null(r->content_type);

    /* Paho against the same broker. */
    char *paho_id = harness_unique("paho-plain");
    paho_opts po = { .client_id = paho_id };
    paho *p = paho_connect(broker_uri(b, 0), &po);
    assert_int_equal(paho_state(p), 1);
    assert_true(broker_wait_client(b, paho_id, 1, WAIT_MS));
    free(paho_id);
    paho_publish(p, "harness/plain/paho", "from paho");
    assert_int_equal(observer_wait(o, 3, WAIT_MS), 3);
    assert_string_equal((const char *)observer_get(o, 2)->payload, "from paho");
    paho_free(p);

    observer_free(o);
    assert_true(broker_log_contains(b, "Received PUBLISH"));
    assert_true(broker_log_count(b, "Received PUBLISH") >= 3);
    broker_free(b);
}

static void test_tls_server_certs(void **state)
{
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;
    int reason;

    (void)state;
    assert_non_null(pki);
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int good = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    int mism = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.listeners[mism].certfile = pki->server_mismatch_cert;
    cfg.listeners[mism].keyfile = pki->server_mismatch_key;
    int expd = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.listeners[expd].certfile = pki->server_expired_cert;
    cfg.listeners[expd].keyfile = pki->server_expired_key;
    int wrong = broker_config_add_listener(&cfg, BROKER_TCP, true, false);
    cfg.listeners[wrong].certfile = pki->server_wrong_ca_cert;
    cfg.listeners[wrong].keyfile = pki->server_wrong_ca_key;
    assert_int_equal(broker_start(&cfg, &b), 0);
    assert_non_null(strstr(broker_uri(b, good), "ssl://localhost:"));

    paho_opts ok = { .cafile = pki->ca_cert };
    paho_opts wrong_ca = { .cafile = pki->wrong_ca_cert };
    assert_int_equal(try_connect(broker_uri(b, good), &ok, NULL), 1);
    assert_int_equal(try_connect(broker_uri(b, good), &wrong_ca, &reason), 2);
    assert_int_equal(try_connect(broker_uri(b, mism), &ok, &reason), 2);
    assert_int_equal(try_connect(broker_uri(b, expd), &ok, &reason), 2);
    assert_int_equal(try_connect(broker_uri(b, wrong), &ok, &reason), 2);

    /* The libmosquitto observer verifies too. */
    observer *o;
    assert_int_equal(observer_start(b, good, "harness/tls", 1, &o), 0);
    assert_int_equal(harness_publish(b, good, "harness/tls", "x", 1, 1, false), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    observer_free(o);
    broker_free(b);
}

static void test_mutual_tls(void **state)
{
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;

    (void)state;
    broker_config_init(&cfg);
    cfg.listener_count = 0;
    int l = broker_config_add_listener(&cfg, BROKER_TCP, true, true);
    cfg.listeners[l].use_identity_as_username = true;
    assert_int_equal(broker_start(&cfg, &b), 0);
    const char *uri = broker_uri(b, l);

    paho_opts none = { .cafile = pki->ca_cert };
    paho_opts chain = { .cafile = pki->ca_cert, .certfile = pki->client_chain,
                        .keyfile = pki->client_key };
    paho_opts leaf_only = { .cafile = pki->ca_cert, .certfile = pki->client_cert,
                            .keyfile = pki->client_key };
    paho_opts root = { .cafile = pki->ca_cert, .certfile = pki->client_root_cert,
                       .keyfile = pki->client_root_key };
    paho_opts wrong = { .cafile = pki->ca_cert,
                        .certfile = pki->client_wrong_ca_cert,
                        .keyfile = pki->client_wrong_ca_key };
    paho_opts badkey = { .cafile = pki->ca_cert,
                         .certfile = pki->client_root_cert,
                         .keyfile = pki->mismatched_key };
    assert_int_equal(try_connect(uri, &chain, NULL), 1);
    assert_int_equal(try_connect(uri, &root, NULL), 1);
    assert_int_equal(try_connect(uri, &none, NULL), 2);
    assert_int_equal(try_connect(uri, &leaf_only, NULL), 2);
    assert_int_equal(try_connect(uri, &wrong, NULL), 2);
    assert_int_equal(try_connect(uri, &badkey, NULL), 2);
    assert_true(broker_wait_log(b, "aioe-client-root", WAIT_MS));

    observer *o;
    assert_int_equal(observer_start(b, l, "harness/mtls", 1, &o), 0);
    assert_int_equal(harness_publish(b, l, "harness/mtls", "x", 1, 1, false), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    observer_free(o);
    broker_free(b);
}

static void test_websockets(void **state)
{
    const harness_pki *pki = harness_pki_get();
    broker_config cfg;
    broker *b;
    observer *o;

    (void)state;
    broker_config_init(&cfg); /* listener 0: plain TCP for the observer */
    int ws = broker_config_add_listener(&cfg, BROKER_WEBSOCKETS, false, false);
    int wss = broker_config_add_listener(&cfg, BROKER_WEBSOCKETS, true, false);
    assert_int_equal(broker_start(&cfg, &b), 0);
    assert_non_null(strstr(broker_uri(b, ws), "ws://127.0.0.1:"));
    assert_non_null(strstr(broker_uri(b, wss), "wss://localhost:"));
    assert_int_equal(observer_start(b, 0, "harness/ws/#", 1, &o), 0);

    paho_opts plain = { 0 };
    paho *p = paho_connect(broker_uri(b, ws), &plain);
    assert_int_equal(paho_state(p), 1);
    paho_publish(p, "harness/ws/plain", "over ws");
    paho_free(p);

    paho_opts tls = { .cafile = pki->ca_cert };
    p = paho_connect(broker_uri(b, wss), &tls);
    assert_int_equal(paho_state(p), 1);
    paho_publish(p, "harness/ws/tls", "over wss");
    paho_free(p);

    paho_opts wrong = { .cafile = pki->wrong_ca_cert };
    assert_int_equal(try_connect(broker_uri(b, wss), &wrong, NULL), 2);

    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);
    assert_string_equal((const char *)observer_get(o, 0)->payload, "over ws");
    assert_string_equal((const char *)observer_get(o, 1)->payload, "over wss");
    observer_free(o);
    broker_free(b);

    /* A broker with only a WebSockets listener (mosquitto 2.0.11 needs a
     * hidden TCP one, added by the harness). */
    broker_config_init(&cfg);
    cfg.listeners[0].transport = BROKER_WEBSOCKETS;
    assert_int_equal(broker_start(&cfg, &b), 0);
    assert_int_equal(try_connect(broker_uri(b, 0), &plain, NULL), 1);
    assert_int_equal(broker_port(b, 1), -1);
    broker_free(b);
}

static void test_restart_keeps_queued_message(void **state)
{
    broker_config cfg;
    broker *b;
    observer *o;
    harness_client_opts opts;

    (void)state;
    broker_config_init(&cfg);
    cfg.persistence = true;
    assert_int_equal(broker_start(&cfg, &b), 0);
    int port = broker_port(b, 0);
    char *id = harness_unique("persistent");

    harness_client_opts_for(b, 0, &opts);
    opts.client_id = id;
    opts.persistent_session = true;
    assert_int_equal(observer_connect(&opts, "harness/persist", 1, &o), 0);
    observer_free(o); /* session (and subscription) stay on the broker */

    assert_int_equal(harness_publish(b, 0, "harness/persist", "queued", 6, 1,
                                     false), 0);
    int old_pid = broker_pid(b);
    assert_int_equal(broker_restart(b), 0);
    assert_int_not_equal(broker_pid(b), old_pid);
    assert_int_equal(broker_port(b, 0), port);

    assert_int_equal(observer_connect(&opts, "harness/persist", 1, &o), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    assert_string_equal((const char *)observer_get(o, 0)->payload, "queued");
    assert_int_equal(observer_get(o, 0)->qos, 1);
    observer_free(o);

    /* kill loses nothing already saved; restart after kill works too. */
    assert_int_equal(broker_kill(b), 0);
    assert_false(broker_running(b));
    assert_int_equal(broker_restart(b), 0);
    assert_true(broker_running(b));
    free(id);
    broker_free(b);
}

static void test_pause_resume(void **state)
{
    broker *b;
    observer *o;

    (void)state;
    assert_int_equal(broker_start(NULL, &b), 0);
    assert_int_equal(observer_start(b, 0, "harness/pause", 1, &o), 0);
    assert_int_equal(broker_pause(b), 0);
    assert_int_equal(broker_resume(b), 0);
    assert_int_equal(harness_publish(b, 0, "harness/pause", "x", 1, 1, false), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    observer_free(o);
    assert_int_equal(broker_pause(b), 0);
    broker_free(b); /* stopping a paused broker must not hang */
}

static void test_broker_limits(void **state)
{
    broker_config cfg;
    broker *b;
    observer *o;
    char big[4000];

    (void)state;
    memset(big, 'x', sizeof big);
    broker_config_init(&cfg);
    cfg.max_packet_size = 1024;
    cfg.extra_conf = "retain_available false";
    cfg.log_types = "warning";
    assert_int_equal(broker_start(&cfg, &b), 0);
    assert_int_equal(observer_start(b, 0, "harness/limits", 1, &o), 0);
    assert_int_equal(harness_publish(b, 0, "harness/limits", big, 100, 1, false), 0);
    /* libmosquitto honours the CONNACK Maximum Packet Size and refuses. */
    assert_int_equal(harness_publish(b, 0, "harness/limits", big, sizeof big, 1,
                                     false), -1);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    assert_int_equal(observer_get(o, 0)->payload_len, 100);
    assert_false(broker_log_contains(b, "Received PUBLISH")); /* no debug */
    observer_free(o);
    broker_free(b);
}

static bool observer_down(void *arg)
{
    return !observer_connected(arg);
}

static void test_observer_reconnect_policy(void **state)
{
    broker *b;
    observer *a, *c, *r;
    harness_client_opts opts;

    (void)state;
    assert_int_equal(broker_start(NULL, &b), 0);
    char *id = harness_unique("taken");
    harness_client_opts_for(b, 0, &opts);
    opts.client_id = id;
    assert_int_equal(observer_connect(&opts, "harness/takeover", 1, &a), 0);
    /* A second client with the same ID takes the session over; the first
     * must stay down rather than take it back. */
    assert_int_equal(observer_connect(&opts, "harness/takeover", 1, &c), 0);
    assert_true(harness_wait_until(observer_down, a, WAIT_MS));
    /* libmosquitto would retry after its 1 s reconnect delay. */
    assert_false(broker_wait_client(b, id, 3, 1300));
    assert_true(observer_connected(c));
    observer_free(a);
    observer_free(c);

    /* auto_reconnect: survives a broker restart and re-subscribes. */
    harness_client_opts_for(b, 0, &opts);
    opts.auto_reconnect = true;
    assert_int_equal(observer_connect(&opts, "harness/again", 1, &r), 0);
    assert_int_equal(broker_restart(b), 0);
    assert_true(broker_wait_log(b, "harness/again (QoS 1)", WAIT_MS));
    assert_true(broker_wait_log_count(b, "harness/again (QoS 1)", 2, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "harness/again", "x", 1, 1, false), 0);
    assert_int_equal(observer_wait(r, 1, WAIT_MS), 1);
    observer_free(r);
    free(id);
    broker_free(b);
}

/* --- token authentication through the plugin ---------------------------- */

static broker *start_auth_broker(const char *methods)
{
    broker_config cfg;
    broker *b;

    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    cfg.jwt_plugin = true;
    cfg.jwt_methods = methods;
    cfg.jwt_audience = "aio-internal";
    assert_int_equal(broker_start(&cfg, &b), 0);
    return b;
}

static void test_jwt_auth_decisions(void **state)
{
    broker *b = start_auth_broker("K8S-SAT,OAUTH2-JWT");
    const char *uri = broker_uri(b, 0);
    int64_t now = harness_time();
    int reason = 0;

    (void)state;
    char *good = harness_jwt_simple("aio-internal", 3600);
    paho_opts o = { .auth_method = "K8S-SAT", .auth_data = good };
    assert_int_equal(try_connect(uri, &o, &reason), 1);
    assert_true(broker_wait_log(b, "method K8S-SAT: accepted", WAIT_MS));
    assert_false(broker_log_contains(b, good)); /* tokens are never logged */

    /* ES256 with an array audience, via the other method. */
    const char *auds[] = { "other", "aio-internal" };
    harness_jwt_claims es = { .alg = HARNESS_JWT_ES256, .sub = "es",
                              .aud_list = auds, .aud_count = 2,
                              .exp = now + 600 };
    char *es_tok = harness_jwt_mint(&es);
    paho_opts oe = { .auth_method = "OAUTH2-JWT", .auth_data = es_tok };
    assert_int_equal(try_connect(uri, &oe, NULL), 1);

    /* Wrong audience, expired, bad signature, nbf in the future. */
    char *wrong_aud = harness_jwt_simple("someone-else", 3600);
    char *expired = harness_jwt_simple("aio-internal", -60);
    harness_jwt_claims bad = { .aud = "aio-internal", .exp = now + 600,
                               .wrong_key = true };
    char *bad_sig = harness_jwt_mint(&bad);
    harness_jwt_claims early = { .aud = "aio-internal", .exp = now + 600,
                                 .nbf = now + 300 };
    char *not_yet = harness_jwt_mint(&early);
    const char *rejected[] = { wrong_aud, expired, bad_sig, not_yet,
                               "not-a-jwt" };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        paho_opts r = { .auth_method = "K8S-SAT", .auth_data = rejected[i] };
        reason = 0;
        assert_int_equal(try_connect(uri, &r, &reason), 2);
        assert_int_equal(reason, MQTTREASONCODE_NOT_AUTHORIZED); /* 0x87 */
    }
    assert_true(broker_log_contains(b, "rejected: audience mismatch"));
    assert_true(broker_log_contains(b, "rejected: expired"));
    assert_true(broker_log_contains(b, "rejected: bad signature"));
    assert_true(broker_log_contains(b, "rejected: not yet valid"));

    /* Unknown method. */
    paho_opts u = { .auth_method = "SCRAM-SHA-1", .auth_data = good };
    assert_int_equal(try_connect(uri, &u, &reason), 2);
    assert_int_equal(reason, MQTTREASONCODE_BAD_AUTHENTICATION_METHOD); /* 0x8C */

    /* No method at all: allow_anonymous false decides. */
    paho_opts anon = { 0 };
    assert_int_equal(try_connect(uri, &anon, &reason), 2);
    assert_int_equal(reason, MQTTREASONCODE_NOT_AUTHORIZED);

    free(good);
    free(es_tok);
    free(wrong_aud);
    free(expired);
    free(bad_sig);
    free(not_yet);
    broker_free(b);
}

static void test_jwt_methods_option(void **state)
{
    broker *b = start_auth_broker("OAUTH2-JWT");
    char *tok = harness_jwt_simple("aio-internal", 600);
    int reason = 0;

    (void)state;
    paho_opts sat = { .auth_method = "K8S-SAT", .auth_data = tok };
    assert_int_equal(try_connect(broker_uri(b, 0), &sat, &reason), 2);
    assert_int_equal(reason, MQTTREASONCODE_BAD_AUTHENTICATION_METHOD);
    paho_opts oauth = { .auth_method = "OAUTH2-JWT", .auth_data = tok };
    assert_int_equal(try_connect(broker_uri(b, 0), &oauth, NULL), 1);
    free(tok);
    broker_free(b);
}

static bool paho_gone(void *arg)
{
    paho *p = arg;

    pthread_mutex_lock(&p->lock);
    bool gone = p->lost || p->disconnect_reason >= 0;
    pthread_mutex_unlock(&p->lock);
    return gone;
}

static void test_jwt_expiry_kicks_client(void **state)
{
    broker *b = start_auth_broker("K8S-SAT");
    char *tok = harness_jwt_simple("aio-internal", 2);
    char *long_tok = harness_jwt_simple("aio-internal", 3600);

    (void)state;
    paho_opts o = { .auth_method = "K8S-SAT", .auth_data = tok };
    paho_opts ol = { .auth_method = "K8S-SAT", .auth_data = long_tok };
    paho *p = paho_connect(broker_uri(b, 0), &o);
    paho *pl = paho_connect(broker_uri(b, 0), &ol);
    assert_int_equal(paho_state(p), 1);
    assert_int_equal(paho_state(pl), 1);
    int64_t t0 = harness_now_ms();
    assert_true(harness_wait_until(paho_gone, p, 5000));
    int64_t waited = harness_now_ms() - t0;
    assert_true(waited < 4000);
    if (p->disconnect_reason >= 0)
        assert_int_equal(p->disconnect_reason,
                         MQTTREASONCODE_ADMINISTRATIVE_ACTION);
    assert_true(broker_log_contains(b, "token expired, disconnecting"));
    /* The long-lived session is untouched. */
    assert_false(paho_gone(pl));
    assert_true(MQTTAsync_isConnected(pl->client));
    paho_free(p);
    paho_free(pl);
    free(tok);
    free(long_tok);
    broker_free(b);
}

static void test_jwt_mint_format(void **state)
{
    (void)state;
    char *t = harness_jwt_simple("aud", 10);
    assert_non_null(t);
    assert_null(strchr(t, '='));
    assert_null(strchr(t, '+'));
    assert_null(strchr(t, '/'));
    char *dot = strchr(t, '.');
    assert_non_null(dot);
    assert_non_null(strchr(dot + 1, '.'));
    free(t);
    const char *keys = harness_jwt_public_keys_path();
    assert_non_null(keys);
    char *pem = harness_read_file(keys, NULL);
    assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
    free(pem);
    char *path = harness_jwt_write_file("token", "abc");
    char *back = harness_read_file(path, NULL);
    assert_string_equal(back, "abc");
    free(back);
    free(path);
}

static int64_t test_started;

static int timed_setup(void **state)
{
    (void)state;
    test_started = harness_now_ms();
    return 0;
}

static int timed_teardown(void **state)
{
    (void)state;
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "  (%lld ms)\n",
                (long long)(harness_now_ms() - test_started));
    return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, timed_setup, timed_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_workspace_and_pki),
        T(test_jwt_mint_format),
        T(test_plain_pubsub),
        T(test_tls_server_certs),
        T(test_mutual_tls),
        T(test_websockets),
        T(test_restart_keeps_queued_message),
        T(test_pause_resume),
        T(test_broker_limits),
        T(test_observer_reconnect_policy),
        T(test_jwt_auth_decisions),
        T(test_jwt_methods_option),
        T(test_jwt_expiry_kicks_client),
    };

    /* AIOE_TEST_FILTER=test_mutual_tls (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("integration-harness", tests, NULL,
                                       NULL);
}
