/* Event Grid rules on parsed endpoints: host detection, each connection
 * rule failing with the field's name, the instanceCount refusal, and the
 * session refusing to start (before any network I/O) on a broken rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

static aioe_parse_result *parse(const char *host, const char *auth,
                                const char *extra)
{
    char doc[2048];
    snprintf(doc, sizeof doc,
             "apiVersion: connectivity.iotoperations.azure.com/v1beta1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: eg\n  namespace: ns\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: %s\n"
             "    authentication:\n%s%s", host, auth, extra);
    aioe_parse_result *r = NULL;
    int rc = aioe_parse_buffer(doc, strlen(doc), "eg.yaml", NULL, &r);
    if (rc != AIOE_OK && r && aioe_parse_result_error_count(r))
        fprintf(stderr, "%s: %s\n", aioe_parse_result_error(r, 0)->path,
                aioe_parse_result_error(r, 0)->message);
    assert_int_equal(rc, AIOE_OK);
    return r;
}

#define SAMI "      method: SystemAssignedManagedIdentity\n" \
             "      systemAssignedManagedIdentitySettings: {}\n"
#define SAT "      method: ServiceAccountToken\n" \
            "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
#define EG "ns.westeurope-1.ts.eventgrid.azure.net:8883"
#define TLS "    tls:\n      mode: Enabled\n"

static int check(const char *host, const char *auth, const char *extra,
                 const char *ws_path, char *msg, size_t len)
{
    aioe_parse_result *r = parse(host, auth, extra);
    int rc = aioe_endpoint_check_event_grid(aioe_parse_result_endpoint(r, 0),
                                            ws_path, msg, len);
    aioe_parse_result_free(r);
    return rc;
}

static void detects_event_grid_hosts(void **state)
{
    (void)state;
    const char *yes[] = { EG, "NS.WESTEUROPE-1.TS.EVENTGRID.AZURE.NET:8883",
                          "x.eventgrid.azure.net:443" };
    const char *no[] = { "eventgrid.azure.net:8883", "x.eventgrid.azure.net.evil.com:8883",
                         "aio-broker:18883", "xeventgrid.azure.net:8883",
                         "127.0.0.1:8883" };
    for (size_t i = 0; i < 3; i++) {
        aioe_parse_result *r = parse(yes[i], SAMI, TLS);
        const aioe_endpoint *ep = aioe_parse_result_endpoint(r, 0);
        assert_true(aioe_endpoint_is_event_grid(ep));
        assert_false(aioe_endpoint_supports_shared_subscriptions(ep));
        assert_int_equal(aioe_endpoint_max_packet_size(ep), 524288);
        aioe_parse_result_free(r);
    }
    for (size_t i = 0; i < 5; i++) {
        aioe_parse_result *r = parse(no[i], SAMI, TLS);
        const aioe_endpoint *ep = aioe_parse_result_endpoint(r, 0);
        assert_false(aioe_endpoint_is_event_grid(ep));
        assert_true(aioe_endpoint_supports_shared_subscriptions(ep));
        assert_int_equal(aioe_endpoint_max_packet_size(ep), 0);
        char msg[256];
        /* other brokers: none of Event Grid's limits apply */
        aioe_parse_result_free(r);
        assert_int_equal(check(no[i], SAT, "    keepAliveSeconds: 3000\n"
                               "    sessionExpirySeconds: 86400\n", "/x", msg,
                               sizeof msg), AIOE_OK);
    }
    assert_false(aioe_endpoint_is_event_grid(NULL));
    assert_false(aioe_endpoint_supports_shared_subscriptions(NULL));
    assert_int_equal(aioe_endpoint_check_event_grid(NULL, NULL, NULL, 0),
                     AIOE_ERR_INVALID_ARG);
}

static void rules_name_the_field(void **state)
{
    (void)state;
    char msg[256];
    assert_int_equal(check(EG, SAMI, TLS, NULL, msg, sizeof msg), AIOE_OK);
    assert_int_equal(check(EG, SAMI, TLS "    keepAliveSeconds: 1160\n"
                           "    sessionExpirySeconds: 28800\n    qos: 1\n",
                           "/mqtt", msg, sizeof msg), AIOE_OK);
    struct { const char *host, *auth, *extra, *ws, *field; } bad[] = {
        { EG, SAMI, TLS "    keepAliveSeconds: 1161\n", NULL, "keepAliveSeconds" },
        { EG, SAMI, TLS "    sessionExpirySeconds: 28801\n", NULL, "sessionExpirySeconds" },
        { EG, SAMI, "    tls:\n      mode: Disabled\n", NULL, "tls.mode" },
        { EG, SAT, TLS, NULL, "authentication.method" },
        { EG, "      method: Anonymous\n      anonymousSettings: {}\n", TLS, NULL,
          "authentication.method" },
        { "ns.x-1.ts.eventgrid.azure.net:1883", SAMI, TLS, NULL, "host" },
        { "ns.x-1.ts.eventgrid.azure.net:8883", SAMI, TLS "    protocol: WebSockets\n",
          NULL, "host" },
        { "ns.x-1.ts.eventgrid.azure.net:443", SAMI, TLS "    protocol: WebSockets\n",
          "/ws", "WebSocket path" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        msg[0] = '\0';
        assert_int_equal(check(bad[i].host, bad[i].auth, bad[i].extra, bad[i].ws,
                               msg, sizeof msg), AIOE_ERR_INVALID_SPEC);
        assert_true(strncmp(msg, bad[i].field, strlen(bad[i].field)) == 0);
    }
    /* WebSockets on 443 at /mqtt is fine; X.509 too */
    assert_int_equal(check("ns.x-1.ts.eventgrid.azure.net:443", SAMI,
                           TLS "    protocol: WebSockets\n", "/mqtt", msg,
                           sizeof msg), AIOE_OK);
    assert_int_equal(check(EG, "      method: X509Certificate\n"
                           "      x509CertificateSettings:\n"
                           "        secretRef: cert\n", TLS, NULL, msg, sizeof msg),
                     AIOE_OK);
}

static void instance_count_refused_for_event_grid(void **state)
{
    (void)state;
    char msg[256];
    aioe_parse_result *r = parse(EG, SAMI, TLS);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(r, 0);
    assert_int_equal(aioe_endpoint_check_instance_count(ep, 1, msg, sizeof msg), AIOE_OK);
    assert_int_equal(aioe_endpoint_check_instance_count(ep, 2, msg, sizeof msg),
                     AIOE_ERR_UNSUPPORTED);
    assert_non_null(strstr(msg, "instanceCount 2"));
    assert_non_null(strstr(msg, "shared subscriptions"));
    assert_int_equal(aioe_endpoint_check_instance_count(ep, 0, msg, sizeof msg),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_check_instance_count(NULL, 2, msg, sizeof msg),
                     AIOE_ERR_INVALID_ARG);
    aioe_parse_result_free(r);
    r = parse("aio-broker:18883", SAT, TLS);
    assert_int_equal(aioe_endpoint_check_instance_count(
                         aioe_parse_result_endpoint(r, 0), 20, msg, sizeof msg),
                     AIOE_OK);
    aioe_parse_result_free(r);
}

static void session_refuses_to_start(void **state)
{
    (void)state;
    aioe_parse_result *r = parse(EG, SAMI, TLS "    keepAliveSeconds: 1200\n");
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(r, 0), "i",
                                      NULL), AIOE_OK);
    assert_int_equal(aioe_session_start(s), AIOE_ERR_INVALID_SPEC);
    char msg[256];
    assert_int_equal(aioe_session_last_error(s, msg, sizeof msg),
                     AIOE_ERR_INVALID_SPEC);
    assert_non_null(strstr(msg, "keepAliveSeconds"));
    aioe_session_free(s);
    aioe_parse_result_free(r);

    /* a custom WebSocket path is caught too */
    r = parse("ns.x-1.ts.eventgrid.azure.net:443", SAMI, TLS "    protocol: WebSockets\n");
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_websocket_path(o, "/custom"), AIOE_OK);
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(r, 0), "i", o),
                     AIOE_OK);
    assert_int_equal(aioe_session_start(s), AIOE_ERR_INVALID_SPEC);
    aioe_session_last_error(s, msg, sizeof msg);
    assert_non_null(strstr(msg, "WebSocket path"));
    aioe_session_free(s);
    aioe_session_options_free(o);
    aioe_parse_result_free(r);
}

static void publish_over_512_kib_refused(void **state)
{
    (void)state;
    static char big[600000];
    aioe_parse_result *r = parse(EG, SAMI, TLS);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(r, 0), "i",
                                      NULL), AIOE_OK);
    /* checked before anything else: no connection needed */
    assert_int_equal(aioe_session_publish(s, "t", big, 524272, 1, false,
                                          NULL, NULL), AIOE_ERR_TOO_LARGE);
    assert_int_equal(aioe_session_publish(s, "t", big, sizeof big, 1, false, NULL,
                                          NULL), AIOE_ERR_TOO_LARGE);
    /* at the limit it passes the size check (then: not started) */
    assert_int_equal(aioe_session_publish(s, "t", big, 524288 - 16 - 1, 1, false,
                                          NULL, NULL), AIOE_ERR_STATE);
    aioe_session_free(s);
    aioe_parse_result_free(r);
    /* other brokers: no such limit */
    r = parse("aio-broker:18883", SAT, TLS);
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(r, 0), "i",
                                      NULL), AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "t", big, sizeof big, 1, false, NULL,
                                          NULL), AIOE_ERR_STATE);
    aioe_session_free(s);
    aioe_parse_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detects_event_grid_hosts),
        cmocka_unit_test(rules_name_the_field),
        cmocka_unit_test(instance_count_refused_for_event_grid),
        cmocka_unit_test(session_refuses_to_start),
        cmocka_unit_test(publish_over_512_kib_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
