/* Proves the integration-test harness works against real mosquitto brokers,
 * with Paho (the client libaioendpoint uses) on one side and libmosquitto
 * (the harness observer) on the other: workspace and PKI, plain, TLS,
 * mutual TLS and WebSockets listeners, restart, pause, limits, the
 * observer's reconnect policy. The aioe_jwt_auth plugin is proved in
 * test-harness-jwt.c. */
#include "paho-fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_workspace_and_pki),
        T(test_plain_pubsub),
        T(test_tls_server_certs),
        T(test_mutual_tls),
        T(test_websockets),
        T(test_restart_keeps_queued_message),
        T(test_pause_resume),
        T(test_broker_limits),
        T(test_observer_reconnect_policy),
    };

    /* AIOE_TEST_FILTER=test_mutual_tls (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("integration-harness-broker", tests, NULL,
                                       NULL);
}
