/* Proves the aioe_jwt_auth plugin and the harness's JWTs work, against real
 * mosquitto brokers with Paho: the plugin's decisions, its methods option,
 * a client kicked when its token expires, the minted token's format. The
 * rest of the harness is proved in test-harness-broker.c. */
#include "paho-fixture.h"

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
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_jwt_mint_format),
        T(test_jwt_auth_decisions),
        T(test_jwt_methods_option),
        T(test_jwt_expiry_kicks_client),
    };

    /* AIOE_TEST_FILTER=test_jwt_methods_option (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("integration-harness-jwt", tests, NULL,
                                       NULL);
}
