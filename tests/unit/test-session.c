/* Session pure parts (reason codes, window, TLS classification) and the
 * checks made before any connect (arguments, options, preflight). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509_vfy.h>

#include <aioendpoint/aioendpoint.h>
#include "session_internal.h"
#include "session_reason.h"
#include "tls.h"

static void reason_classification(void **state)
{
    (void)state;
    struct { int rc; int status; bool terminal; } t[] = {
        { 0x00, AIOE_OK, false },
        { 0x80, AIOE_ERR_CONNECTION, false },
        { 0x84, AIOE_ERR_PROTOCOL, true },
        { 0x85, AIOE_ERR_INVALID_ARG, true },
        { 0x86, AIOE_ERR_AUTH, true },
        { 0x87, AIOE_ERR_NOT_AUTHORIZED, true },
        { 0x88, AIOE_ERR_CONNECTION, false },
        { 0x89, AIOE_ERR_CONNECTION, false },
        { 0x8A, AIOE_ERR_NOT_AUTHORIZED, true },
        { 0x8B, AIOE_ERR_CONNECTION, false },
        { 0x8C, AIOE_ERR_AUTH, true },
        { 0x8D, AIOE_ERR_CONNECTION, false },
        { 0x8E, AIOE_ERR_SESSION_TAKEN_OVER, true },
        { 0x97, AIOE_ERR_CONNECTION, false },
        { 0x98, AIOE_ERR_CONNECTION, false }, /* how a broker kicks an expired token */
        { 0x9C, AIOE_ERR_UNSUPPORTED, true },
        { 0x9D, AIOE_ERR_UNSUPPORTED, true },
        { 0x9F, AIOE_ERR_CONNECTION, false },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        aioe_reason_class c = aioe_reason_classify(t[i].rc);
        assert_int_equal(c.status, t[i].status);
        assert_int_equal(c.terminal, t[i].terminal);
        assert_string_not_equal(aioe_reason_name(t[i].rc), "Unknown reason code");
    }
    assert_string_equal(aioe_reason_name(0x55), "Unknown reason code");
    assert_int_equal(aioe_reason_ack_status(0x00), AIOE_OK);
    assert_int_equal(aioe_reason_ack_status(0x10), AIOE_OK);
    assert_int_equal(aioe_reason_ack_status(0x87), AIOE_ERR_NOT_AUTHORIZED);
    assert_int_equal(aioe_reason_ack_status(0x97), AIOE_ERR_PROTOCOL);
    assert_int_equal(aioe_reason_ack_status(0x80), AIOE_ERR_PROTOCOL);
}

static void publish_window(void **state)
{
    (void)state;
    assert_int_equal(aioe_pubsub_window(100, 65535), 100);
    assert_int_equal(aioe_pubsub_window(100, 100), 99);  /* below Paho's limit */
    assert_int_equal(aioe_pubsub_window(100, 20), 19);   /* mosquitto default */
    assert_int_equal(aioe_pubsub_window(100, 1), 1);
    assert_int_equal(aioe_pubsub_window(1, 65535), 1);
    assert_int_equal(aioe_pubsub_window(65535, 65535), 65534);
    assert_int_equal(aioe_pubsub_window(10, 0), 10);     /* none sent */
}

static void publish_packet_size(void **state)
{
    (void)state;
    /* 1 fixed header + 1 length + 2 + "t" + 2 packet id + 1 props + "x" */
    assert_int_equal(aioe_pubsub_publish_size(1, 1, 1), 9);
    assert_int_equal(aioe_pubsub_publish_size(1, 1, 0), 7);
    /* remaining length 127 -> 1-byte length, 128 -> 2 bytes */
    assert_int_equal(aioe_pubsub_publish_size(1, 121, 1), 1 + 1 + 127);
    assert_int_equal(aioe_pubsub_publish_size(1, 122, 1), 1 + 2 + 128);
    assert_int_equal(aioe_pubsub_publish_size(7, 4096, 1), 1 + 2 + 2 + 7 + 2 + 1 + 4096);
}

static void tls_verify_classification(void **state)
{
    (void)state;
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_OK), AIOE_OK);
    assert_int_equal(aioe_tls_classify_verify_result(
                         X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
                     AIOE_ERR_TLS_UNKNOWN_CA);
    assert_int_equal(aioe_tls_classify_verify_result(
                         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
                     AIOE_ERR_TLS_UNKNOWN_CA);
    assert_int_equal(aioe_tls_classify_verify_result(
                         X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN),
                     AIOE_ERR_TLS_UNKNOWN_CA);
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_ERR_HOSTNAME_MISMATCH),
                     AIOE_ERR_TLS_HOSTNAME_MISMATCH);
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_ERR_IP_ADDRESS_MISMATCH),
                     AIOE_ERR_TLS_HOSTNAME_MISMATCH);
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_ERR_CERT_HAS_EXPIRED),
                     AIOE_ERR_TLS_CERT_EXPIRED);
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_ERR_CERT_NOT_YET_VALID),
                     AIOE_ERR_TLS_CERT_EXPIRED);
    assert_int_equal(aioe_tls_classify_verify_result(X509_V_ERR_CERT_REVOKED),
                     AIOE_ERR_TLS);
    assert_string_not_equal(aioe_strerror(AIOE_ERR_TLS_UNKNOWN_CA),
                            aioe_strerror(AIOE_ERR_TLS_HOSTNAME_MISMATCH));
}

static aioe_parse_result *parse(const char *yaml)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "test", NULL, &res);
    if (rc != AIOE_OK && res) {
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            fprintf(stderr, "%s: %s\n", aioe_parse_result_error(res, i)->path,
                    aioe_parse_result_error(res, i)->message);
    }
    assert_int_equal(rc, AIOE_OK);
    return res;
}

#define EP_HEAD "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\nmetadata:\n  name: e\nspec:\n  endpointType: Mqtt\n" \
    "  mqttSettings:\n"

static void options_validate(void **state)
{
    (void)state;
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_reconnect_backoff(o, 0, 10),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_reconnect_backoff(o, 100, 10),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_reconnect_backoff(o, 10, 100), AIOE_OK);
    assert_int_equal(aioe_session_options_set_token_check_interval(o, 1),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_websocket_path(o, "mqtt"),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_websocket_path(o, "/ws"), AIOE_OK);
    assert_int_equal(aioe_session_options_set_log_callback(o, (aioe_log_level)7,
                                                           NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_resource_dir(o, ""),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_connect_timeout(o, 0),
                     AIOE_ERR_INVALID_ARG);
    aioe_session_options_free(o);
    aioe_session_options_free(NULL);
}

/* Issue #18: the endpoint's own WebSocket path (Event Grid's host form
 * "ns...:443/mqtt") goes into the URL; maxInflightMessages 0 means no limit
 * of ours, so the window is MQTT's largest Receive Maximum. */
static void endpoint_websocket_path_and_unlimited_inflight(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(EP_HEAD
        "    host: contoso.westus2-1.ts.eventgrid.azure.net:443/ws/mqtt\n"
        "    protocol: WebSockets\n    maxInflightMessages: 0\n"
        "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n");
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    assert_non_null(ep);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, ep, "i0", NULL), AIOE_OK);
    assert_string_equal(s->server_uri,
                        "wss://contoso.westus2-1.ts.eventgrid.azure.net:443/ws/mqtt");
    assert_int_equal(s->window, 65535);
    assert_int_equal(aioe__endpoint_inflight_limit(ep), 65535);
    aioe_session_free(s);
    aioe_parse_result_free(res);
}

static void new_builds_client_id_and_uri(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(EP_HEAD
        "    host: \"[::1]:8443\"\n    protocol: WebSockets\n"
        "    clientIdPrefix: df-\n"
        "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n");
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    aioe_session_options *o;
    aioe_session_options_new(&o);
    aioe_session_options_set_websocket_path(o, "/custom");
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(NULL, ep, "x", o), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_new(&s, NULL, "x", o), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_new(&s, ep, NULL, o), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_new(&s, ep, "instance-0", o), AIOE_OK);
    aioe_session_options_free(o);
    aioe_parse_result_free(res); /* the session holds its own reference */
    assert_string_equal(aioe_session_client_id(s), "df-instance-0");
    assert_string_equal(s->server_uri, "wss://[::1]:8443/custom");
    assert_int_equal(aioe_session_get_state(s), AIOE_SESSION_IDLE);
    assert_int_equal(aioe_session_stop(s, 0), AIOE_ERR_STATE);
    assert_int_equal(aioe_session_publish(s, "t", "x", 1, 1, false, NULL, NULL),
                     AIOE_ERR_STATE);
    assert_int_equal(aioe_session_subscribe(s, "t/#", 1, NULL, NULL),
                     AIOE_ERR_STATE);
    assert_int_equal(aioe_session_publish(s, "t/+", "x", 1, 1, false, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_publish(s, "t", "x", 1, 2, false, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_last_error(s, NULL, 0), AIOE_OK);
    assert_int_equal(aioe_session_last_reason_code(s), -1);
    aioe_session_free(s);
    aioe_session_free(NULL);
}

static void managed_identity_needs_its_token_source(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(EP_HEAD
        "    host: eg.example.net:8883\n"
        "    authentication:\n      method: SystemAssignedManagedIdentity\n"
        "      systemAssignedManagedIdentitySettings: {}\n");
    aioe_session *s = NULL;
    /* the OAUTH2-JWT managed-identity source (lib/mi_*.c) plugs in */
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0),
                                      "i", NULL), AIOE_OK);
    assert_non_null(s);
    assert_string_equal(s->tokens.ops->auth_method, "OAUTH2-JWT");
    aioe_session_free(s);
    aioe_parse_result_free(res);
}

static int state_calls;

static void count_state(aioe_session *s, const aioe_session_event *ev, void *ud)
{
    (void)s; (void)ev; (void)ud;
    state_calls++;
}

static void log_line(aioe_session *s, aioe_log_level l, const char *m, void *ud)
{
    (void)s; (void)l;
    char *buf = ud;
    strncat(buf, m, 4095 - strlen(buf));
}

static void start_refuses_bad_material(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(EP_HEAD
        "    host: localhost:1\n"
        "    authentication:\n      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
        "    tls:\n      mode: Disabled\n");
    char logbuf[4096] = "";
    aioe_session_options *o;
    aioe_session_options_new(&o);
    aioe_session_options_set_token_file(o, "/nonexistent/aioe/token");
    aioe_session_options_set_state_callback(o, count_state, NULL);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, log_line, logbuf);
    aioe_session *s;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "i", o),
                     AIOE_OK);
    state_calls = 0;
    assert_int_equal(aioe_session_start(s), AIOE_ERR_AUTH);
    char err[256];
    assert_int_equal(aioe_session_last_error(s, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "/nonexistent/aioe/token"));
    assert_non_null(strstr(logbuf, "/nonexistent/aioe/token"));
    assert_int_equal(state_calls, 0); /* failed start: no callback */
    assert_int_equal(aioe_session_get_state(s), AIOE_SESSION_IDLE);
    aioe_session_free(s);

    /* X509 with a secret that is not there */
    aioe_parse_result_free(res);
    res = parse(EP_HEAD
        "    host: localhost:1\n"
        "    authentication:\n      method: X509Certificate\n"
        "      x509CertificateSettings:\n        secretRef: no-such-secret\n"
        "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: no-ca\n");
    aioe_session_options_set_resource_dir(o, "/nonexistent/aioe");
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "i", o),
                     AIOE_OK);
    assert_int_equal(aioe_session_start(s), AIOE_ERR_NOT_FOUND);
    assert_int_equal(aioe_session_last_error(s, err, sizeof err), AIOE_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no-ca"));
    aioe_session_free(s);
    aioe_session_options_free(o);
    aioe_parse_result_free(res);
}

/* tls.mode: Disabled towards a host that is not loopback is allowed but
 * said out loud, when the session is made (before any connection). */
static char warned[512];

static void capture_log(aioe_session *s, aioe_log_level l, const char *m, void *ud)
{
    (void)s;
    (void)ud;
    if (l == AIOE_LOG_WARNING && strstr(m, "unencrypted"))
        snprintf(warned, sizeof warned, "%s", m);
}

static void plaintext_warning(void **state)
{
    (void)state;
    static const struct { const char *host; bool warn; } cases[] = {
        { "mqtt.example.com:1883", true }, { "10.1.2.3:1883", true },
        { "\"[fd00::1]:1883\"", true }, { "localhost:1883", false },
        { "127.0.0.1:1883", false }, { "127.9.9.9:1883", false },
        { "\"[::1]:1883\"", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, EP_HEAD "    host: %s\n"
                 "    authentication: {method: Anonymous}\n    tls: {mode: Disabled}\n",
                 cases[i].host);
        aioe_parse_result *res = parse(yaml);
        aioe_session_options *o = NULL;
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        assert_int_equal(aioe_session_options_set_log_callback(o, AIOE_LOG_INFO, capture_log,
                                                               NULL), AIOE_OK);
        warned[0] = '\0';
        aioe_session *s = NULL;
        assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "w", o),
                         AIOE_OK);
        if (cases[i].warn != (warned[0] != '\0'))
            fprintf(stderr, "host %s: warned '%s'\n", cases[i].host, warned);
        assert_int_equal(cases[i].warn, warned[0] != '\0');
        aioe_session_free(s);
        aioe_session_options_free(o);
        aioe_parse_result_free(res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reason_classification),
        cmocka_unit_test(plaintext_warning),
        cmocka_unit_test(publish_window),
        cmocka_unit_test(publish_packet_size),
        cmocka_unit_test(tls_verify_classification),
        cmocka_unit_test(options_validate),
        cmocka_unit_test(new_builds_client_id_and_uri),
        cmocka_unit_test(endpoint_websocket_path_and_unlimited_inflight),
        cmocka_unit_test(managed_identity_needs_its_token_source),
        cmocka_unit_test(start_refuses_bad_material),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
