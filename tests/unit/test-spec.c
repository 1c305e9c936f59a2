/* The DataflowEndpoint parser: every field, default and error class, and
 * every example of the seed document verbatim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#include "spec_util.h"
#include "yaml_tree.h"

#define HEADER                                              \
    "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\n"                              \
    "metadata:\n"                                           \
    "  name: ep\n"                                          \
    "  namespace: azure-iot-operations\n"
#define MQTT HEADER "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"

/* ---- helpers ---------------------------------------------------------- */

static aioe_parse_result *parse(const char *yaml, int expect_rc)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "test.yaml", NULL, &res);
    if (rc != expect_rc) {
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
            const aioe_parse_error *e = aioe_parse_result_error(res, i);
            print_error("  %u:%u %s: %s (%s)\n", e->line, e->column, e->path,
                        e->message, e->hint);
        }
    }
    assert_int_equal(rc, expect_rc);
    assert_non_null(res);
    return res;
}

/* Parses a document that must hold exactly one valid endpoint. */
static aioe_parse_result *parse_ok(const char *yaml, const aioe_endpoint **ep)
{
    aioe_parse_result *res = parse(yaml, AIOE_OK);
    assert_int_equal(aioe_parse_result_error_count(res), 0);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
    *ep = aioe_parse_result_endpoint(res, 0);
    assert_non_null(*ep);
    return res;
}

/* Finds the error for a field path; fails the test when absent. */
static const aioe_parse_error *error_at(const aioe_parse_result *res, const char *path)
{
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (strcmp(e->path, path) == 0)
            return e;
    }
    print_error("no error for path '%s'; errors:\n", path);
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        print_error("  %u:%u %s: %s\n", e->line, e->column, e->path, e->message);
    }
    fail();
    abort(); /* cmocka's fail() is not declared noreturn; never reached */
}

/* Parses a document with exactly one error, at `path`, whose message
 * contains `needle` and whose hint contains `hint_needle` (NULL: any). */
static void expect_single_error(const char *yaml, const char *path, const char *needle,
                                const char *hint_needle)
{
    aioe_parse_result *res = parse(yaml, AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 0);
    const aioe_parse_error *e = error_at(res, path);
    if (!strstr(e->message, needle)) {
        print_error("message '%s' lacks '%s'\n", e->message, needle);
        fail();
    }
    if (hint_needle && !strstr(e->hint, hint_needle)) {
        print_error("hint '%s' lacks '%s'\n", e->hint, hint_needle);
        fail();
    }
    assert_true(e->line > 0);
    assert_true(e->column > 0);
    assert_string_equal(e->file, "test.yaml");
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    aioe_parse_result_free(res);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* A seed snippet made into a whole resource: the snippet's lines stay as
 * written, indented under spec (or appended when it starts with spec:). */
static char *seed_document(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed/%s", AIOE_TEST_DATA_DIR, file);
    char *snippet = read_text(path);
    if (strncmp(snippet, "apiVersion:", 11) == 0)
        return snippet;
    size_t cap = strlen(snippet) * 2 + 512;
    char *doc = malloc(cap);
    assert_non_null(doc);
    bool under_spec = strncmp(snippet, "spec:", 5) != 0;
    strcpy(doc, HEADER);
    if (under_spec)
        strcat(doc, "spec:\n  endpointType: Mqtt\n");
    for (char *line = strtok(snippet, "\n"); line; line = strtok(NULL, "\n")) {
        if (under_spec)
            strcat(doc, "  ");
        strcat(doc, line);
        strcat(doc, "\n");
    }
    free(snippet);
    return doc;
}

static void assert_defaults_except_auth(const aioe_endpoint *ep)
{
    /* The session expiry default is the document's apiVersion's: 3600 in
     * the v1beta1 docs (the seed), 600 in the v1 (GA) docs. */
    bool beta = strstr(aioe_endpoint_api_version(ep), "v1beta1") != NULL;
    assert_int_equal(aioe_endpoint_qos(ep), 1);
    assert_int_equal(aioe_endpoint_retain(ep), AIOE_RETAIN_KEEP);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), beta ? 3600 : 600);
    assert_int_equal(aioe_endpoint_protocol(ep), AIOE_PROTOCOL_MQTT);
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 100);
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 60);
    assert_int_equal(aioe_endpoint_cloud_event_attributes(ep), AIOE_CLOUD_EVENTS_NONE);
    assert_null(aioe_endpoint_client_id_prefix(ep));
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_ENABLED);
}

/* ---- the seed document's examples -------------------------------------- */

static void seed_builtin_broker(void **state)
{
    (void)state;
    char *doc = seed_document("01-builtin-broker.yaml");
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(doc, &ep);
    assert_string_equal(aioe_endpoint_name(ep), "mq");
    assert_string_equal(aioe_endpoint_namespace(ep), "azure-iot-operations");
    assert_string_equal(aioe_endpoint_api_version(ep),
                        "connectivity.iotoperations.azure.com/v1beta1");
    assert_true(aioe_endpoint_host_is_default(ep));
    assert_string_equal(aioe_endpoint_host(ep), "aio-broker");
    assert_int_equal(aioe_endpoint_port(ep), 18883);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "aio-internal");
    /* v1beta1: the seed's default CA config map */
    assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep), "aio-ca-key-pair-test-only");
    assert_defaults_except_auth(ep);
    aioe_parse_result_free(res);
    free(doc);
}

static void seed_eventgrid(void **state)
{
    (void)state;
    char *doc = seed_document("02-eventgrid-sami.yaml");
    aioe_parse_result *res = parse(doc, AIOE_ERR_INVALID_SPEC);
    const aioe_parse_error *e = error_at(res, "spec.mqttSettings.host");
    assert_int_equal(e->line, 9);
    assert_int_equal(e->column, 11);
    assert_non_null(strstr(e->message, "placeholder"));
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    aioe_parse_result_free(res);

    /* Filled in, the same document is an Event Grid endpoint with the
     * system-assigned identity's default audience. */
    char *filled = strdup(doc);
    char *p = strstr(filled, "<NAMESPACE>.<REGION>");
    assert_non_null(p);
    const char *real = "contoso00.westus2";
    memcpy(p, real, strlen(real));
    memmove(p + strlen(real), p + 20, strlen(p + 20) + 1); /* 20-char placeholder */
    const aioe_endpoint *ep;
    res = parse_ok(filled, &ep);
    assert_string_equal(aioe_endpoint_host(ep), "contoso00.westus2-1.ts.eventgrid.azure.net");
    assert_int_equal(aioe_endpoint_port(ep), 8883);
    assert_false(aioe_endpoint_host_is_default(ep));
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "https://eventgrid.azure.net");
    assert_null(aioe_endpoint_tls_ca_config_map_ref(ep));
    assert_defaults_except_auth(ep);
    aioe_parse_result_free(res);
    free(filled);
    free(doc);
}

static void seed_other_broker(void **state)
{
    (void)state;
    char *doc = seed_document("03-other-broker.yaml");
    aioe_parse_result *res = parse(doc, AIOE_ERR_INVALID_SPEC);
    /* All three problems of the template are reported at once. */
    assert_int_equal(aioe_parse_result_error_count(res), 3);
    assert_non_null(strstr(error_at(res, "spec.mqttSettings.host")->message, "placeholder"));
    assert_non_null(strstr(error_at(res, "spec.mqttSettings.authentication")->message,
                           "expected a mapping"));
    assert_non_null(strstr(error_at(res, "spec.mqttSettings.tls.trustedCaCertificateConfigMapRef")
                               ->message, "placeholder"));
    aioe_parse_result_free(res);
    free(doc);
}

/* Seed snippets whose only problem is one placeholder. */
static void seed_placeholders(void **state)
{
    (void)state;
    static const struct { const char *file, *path; } cases[] = {
        { "04-x509.yaml", "spec.mqttSettings.authentication.x509CertificateSettings.secretRef" },
        { "06-sami-audience.yaml",
          "spec.mqttSettings.authentication.systemAssignedManagedIdentitySettings.audience" },
        { "08-sat.yaml", "spec.mqttSettings.authentication.serviceAccountTokenSettings.audience" },
        { "11-tls-trusted-ca.yaml", "spec.mqttSettings.tls.trustedCaCertificateConfigMapRef" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *doc = seed_document(cases[i].file);
        aioe_parse_result *res = parse(doc, AIOE_ERR_INVALID_SPEC);
        assert_int_equal(aioe_parse_result_error_count(res), 1);
        const aioe_parse_error *e = error_at(res, cases[i].path);
        assert_non_null(strstr(e->message, "placeholder"));
        assert_non_null(strstr(e->hint, "placeholder"));
        aioe_parse_result_free(res);
        free(doc);
    }
}

static void seed_uami(void **state)
{
    (void)state;
    char *doc = seed_document("07-uami.yaml");
    aioe_parse_result *res = parse(doc, AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(res), 2);
    error_at(res, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.clientId");
    error_at(res, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.tenantId");
    aioe_parse_result_free(res);
    free(doc);

    const aioe_endpoint *ep;
    res = parse_ok(MQTT
                   "    authentication:\n"
                   "      method: UserAssignedManagedIdentity\n"
                   "      userAssignedManagedIdentitySettings:\n"
                   "        clientId: 11111111-2222-3333-4444-555555555555\n"
                   "        tenantId: contoso.onmicrosoft.com\n", &ep);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY);
    assert_string_equal(aioe_endpoint_auth_client_id(ep), "11111111-2222-3333-4444-555555555555");
    assert_string_equal(aioe_endpoint_auth_tenant_id(ep), "contoso.onmicrosoft.com");
    assert_string_equal(aioe_endpoint_auth_scope(ep), "https://eventgrid.azure.net/.default");
    assert_null(aioe_endpoint_auth_audience(ep));
    aioe_parse_result_free(res);
}

static void seed_valid_snippets(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    char *doc;
    aioe_parse_result *res;

#define SEED_OK(file) (doc = seed_document(file), res = parse_ok(doc, &ep))
#define SEED_DONE() (aioe_parse_result_free(res), free(doc))
    SEED_OK("05-sami-empty.yaml");
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "https://eventgrid.azure.net");
    SEED_DONE();
    SEED_OK("09-anonymous.yaml");
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_ANONYMOUS);
    assert_null(aioe_endpoint_auth_audience(ep));
    SEED_DONE();
    SEED_OK("10-tls-mode.yaml");
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_ENABLED);
    /* host omitted: the built-in broker and its defaults */
    assert_string_equal(aioe_endpoint_host(ep), "aio-broker");
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "aio-internal");
    SEED_DONE();
    SEED_OK("12-client-id-prefix.yaml");
    assert_string_equal(aioe_endpoint_client_id_prefix(ep), "dataflow");
    SEED_DONE();
    SEED_OK("13-qos.yaml");
    assert_int_equal(aioe_endpoint_qos(ep), 1);
    SEED_DONE();
    SEED_OK("14-retain.yaml");
    assert_int_equal(aioe_endpoint_retain(ep), AIOE_RETAIN_KEEP);
    SEED_DONE();
    SEED_OK("15-session-expiry.yaml");
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 3600);
    SEED_DONE();
    SEED_OK("16-websockets.yaml");
    assert_int_equal(aioe_endpoint_protocol(ep), AIOE_PROTOCOL_WEBSOCKETS);
    SEED_DONE();
    SEED_OK("17-max-inflight.yaml");
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 100);
    SEED_DONE();
    SEED_OK("18-keep-alive.yaml");
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 60);
    SEED_DONE();
    SEED_OK("19-cloud-event-attributes.yaml");
    assert_int_equal(aioe_endpoint_cloud_event_attributes(ep), AIOE_CLOUD_EVENTS_PROPAGATE);
    SEED_DONE();
#undef SEED_OK
#undef SEED_DONE
}

static void round_trip(const aioe_endpoint *ep);

/* ---- issue #18: WebSockets hosts, maxInflightMessages 0, apiVersions -- */

static void websocket_hosts(void **state)
{
    (void)state;
    /* "Configure MQTT data flow endpoints" (ms.date 06/13/2025), MQTT or
     * WebSockets protocol: "Event Grid requires /mqtt appended to the end
     * of the host name value. For example,
     * my-event-grid.eventgrid.azure.net:443/mqtt or my-event-grid/mqtt". */
    static const struct { const char *host, *tls, *name, *path; unsigned port; } ok[] = {
        { "ns.westus-1.ts.eventgrid.azure.net:443/mqtt", "Enabled",
          "ns.westus-1.ts.eventgrid.azure.net", "/mqtt", 443 },
        { "my-event-grid/mqtt", "Enabled", "my-event-grid", "/mqtt", 443 },
        { "broker:8080", "Disabled", "broker", "/mqtt", 8080 },  /* default path */
        { "broker", "Disabled", "broker", "/mqtt", 80 },         /* ws:// default port */
        { "\"[fd00::1]/ws/mqtt\"", "Enabled", "fd00::1", "/ws/mqtt", 443 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc, MQTT "    protocol: WebSockets\n    host: %s\n"
                 "    tls: {mode: %s}\n", ok[i].host, ok[i].tls);
        const aioe_endpoint *ep;
        aioe_parse_result *res = parse_ok(doc, &ep);
        assert_string_equal(aioe_endpoint_host(ep), ok[i].name);
        assert_int_equal(aioe_endpoint_port(ep), ok[i].port);
        assert_string_equal(aioe_endpoint_websocket_path(ep), ok[i].path);
        round_trip(ep);
        aioe_parse_result_free(res);
    }
    /* Mqtt endpoints have no WebSocket path, and a path is refused there
     * with the way out in the hint (it used to say "port is not a number"). */
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(MQTT "    host: broker:1883\n", &ep);
    assert_null(aioe_endpoint_websocket_path(ep));
    aioe_parse_result_free(res);
    expect_single_error(MQTT "    host: ns.westus-1.ts.eventgrid.azure.net:443/mqtt\n",
                        "spec.mqttSettings.host",
                        "host has a path, which only protocol: WebSockets takes",
                        "set protocol: WebSockets");
    expect_single_error(MQTT "    protocol: WebSockets\n    host: \"broker:443/a b\"\n",
                        "spec.mqttSettings.host", "not a valid WebSocket path", NULL);
    expect_single_error(MQTT "    protocol: WebSockets\n    host: broker:443/mqtt?x=1\n",
                        "spec.mqttSettings.host", "not a valid WebSocket path", NULL);
    expect_single_error(MQTT "    protocol: WebSockets\n    host: /mqtt\n",
                        "spec.mqttSettings.host", "host is empty", NULL);
    expect_single_error(MQTT "    protocol: WebSockets\n    host: broker:0/mqtt\n",
                        "spec.mqttSettings.host", "port is not a number", NULL);
}

static void max_inflight_zero(void **state)
{
    (void)state;
    /* REST specs 2024-11-01 and 2025-10-01, DataflowEndpointMqtt:
     * "maxInflightMessages": {"format": "int32", "default": 100,
     * "minimum": 0}, "For subscribe, this is the receive maximum". MQTT v5
     * 3.1.2.11.3 makes a Receive Maximum of 0 a protocol error, so 0 means
     * the endpoint sets no limit (see docs/spec.md). */
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(MQTT "    maxInflightMessages: 0\n", &ep);
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 0);
    round_trip(ep);
    aioe_parse_result_free(res);
}

#define HEADER_V(v)                                                  \
    "apiVersion: connectivity.iotoperations.azure.com/" v "\n"       \
    "kind: DataflowEndpoint\nmetadata:\n  name: ep\n"

static void api_version_defaults(void **state)
{
    (void)state;
    static const struct { const char *version, *ca; unsigned expiry; } rows[] = {
        /* seed, ms.date 09/09/2024: aio-ca-key-pair-test-only, 3600 s */
        { "v1beta1", "aio-ca-key-pair-test-only", 3600 },
        /* GA page, ms.date 06/13/2025: azure-iot-operations-aio-ca-trust-bundle,
         * "The default is 600 seconds." */
        { "v1", "azure-iot-operations-aio-ca-trust-bundle", 600 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc, "apiVersion: connectivity.iotoperations.azure.com/%s\n"
                 "kind: DataflowEndpoint\nmetadata:\n  name: ep\nspec:\n  endpointType: Mqtt\n",
                 rows[i].version);
        const aioe_endpoint *ep;
        aioe_parse_result *res = parse_ok(doc, &ep);
        assert_string_equal(aioe_endpoint_host(ep), "aio-broker");
        assert_int_equal(aioe_endpoint_port(ep), 18883);
        assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep), rows[i].ca);
        assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), rows[i].expiry);
        round_trip(ep);
        aioe_parse_result_free(res);
    }
    /* Unknown versions are refused by name, with the supported ones; a
     * REST API version gets its own hint. */
    expect_single_error(HEADER_V("v2") "spec:\n  endpointType: Mqtt\n", "apiVersion",
                        "supported: connectivity.iotoperations.azure.com/v1, "
                        "connectivity.iotoperations.azure.com/v1beta1", NULL);
    expect_single_error("apiVersion: 2025-10-01\nkind: DataflowEndpoint\nmetadata:\n"
                        "  name: ep\nspec:\n  endpointType: Mqtt\n", "apiVersion",
                        "unsupported apiVersion '2025-10-01'", "Azure Resource Manager");
    /* spec.hostType (REST 2025-10-01, DataflowEndpointHostType) is a v1
     * field; an Mqtt endpoint takes LocalBroker, EventGrid or CustomMqtt. */
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(HEADER_V("v1") "spec:\n  endpointType: Mqtt\n"
                                      "  hostType: EventGrid\n", &ep);
    aioe_parse_result_free(res);
    expect_single_error(HEADER_V("v1") "spec:\n  endpointType: Mqtt\n  hostType: CustomKafka\n",
                        "spec.hostType", "does not apply to endpointType Mqtt", "CustomMqtt");
    expect_single_error(HEADER_V("v1") "spec:\n  endpointType: Mqtt\n  hostType: Kafka\n",
                        "spec.hostType", "not a valid value", NULL);
    expect_single_error(HEADER_V("v1beta1") "spec:\n  endpointType: Mqtt\n"
                        "  hostType: LocalBroker\n", "spec.hostType",
                        "hostType is not a field of apiVersion", "2025-10-01");
}

/* ---- fields and defaults ----------------------------------------------- */

static void defaults_without_mqtt_settings(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(HEADER "spec:\n  endpointType: Mqtt\n", &ep);
    assert_true(aioe_endpoint_host_is_default(ep));
    assert_string_equal(aioe_endpoint_host(ep), "aio-broker");
    assert_int_equal(aioe_endpoint_port(ep), 18883);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "aio-internal");
    assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep),
                        "azure-iot-operations-aio-ca-trust-bundle");
    assert_defaults_except_auth(ep);
    aioe_parse_result_free(res);

    /* null settings objects mean the same as omitted ones */
    res = parse_ok(MQTT "    authentication:\n    tls:\n", &ep);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_ENABLED);
    aioe_parse_result_free(res);
}

static void every_field_set(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(MQTT
        "    host: broker.example.com:8884\n"
        "    authentication:\n"
        "      method: X509Certificate\n"
        "      x509CertificateSettings:\n"
        "        secretRef: my-tls-secret\n"
        "    tls:\n"
        "      mode: Disabled\n"
        "      trustedCaCertificateConfigMapRef: my-ca\n"
        "    clientIdPrefix: df-\n"
        "    qos: 0\n"
        "    retain: Never\n"
        "    sessionExpirySeconds: 0\n"
        "    protocol: WebSockets\n"
        "    maxInflightMessages: 65535\n"
        "    keepAliveSeconds: 0\n"
        "    cloudEventAttributes: CreateOrRemap\n", &ep);
    assert_string_equal(aioe_endpoint_host(ep), "broker.example.com");
    assert_int_equal(aioe_endpoint_port(ep), 8884);
    assert_false(aioe_endpoint_host_is_default(ep));
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_X509_CERTIFICATE);
    assert_string_equal(aioe_endpoint_auth_secret_ref(ep), "my-tls-secret");
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_DISABLED);
    assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep), "my-ca");
    assert_string_equal(aioe_endpoint_client_id_prefix(ep), "df-");
    assert_int_equal(aioe_endpoint_qos(ep), 0);
    assert_int_equal(aioe_endpoint_retain(ep), AIOE_RETAIN_NEVER);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 0);
    assert_int_equal(aioe_endpoint_protocol(ep), AIOE_PROTOCOL_WEBSOCKETS);
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 65535);
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 0);
    assert_int_equal(aioe_endpoint_cloud_event_attributes(ep), AIOE_CLOUD_EVENTS_CREATE_OR_REMAP);
    assert_string_equal(aioe_endpoint_source_file(ep), "test.yaml");
    assert_int_equal(aioe_endpoint_source_line(ep), 1);
    aioe_parse_result_free(res);
}

static void host_forms(void **state)
{
    (void)state;
    static const struct { const char *yaml, *host; unsigned port; } ok[] = {
        { "localhost:1883", "localhost", 1883 },
        { "10.0.0.7:8883", "10.0.0.7", 8883 },
        { "\"[::1]:18883\"", "::1", 18883 },
        { "\"[fd00:10::20]:65535\"", "fd00:10::20", 65535 },
        { "mqtt.example.com.:1", "mqtt.example.com.", 1 },
        { "My-Broker:8883", "My-Broker", 8883 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc, MQTT "    host: %s\n", ok[i].yaml);
        const aioe_endpoint *ep;
        aioe_parse_result *res = parse_ok(doc, &ep);
        assert_string_equal(aioe_endpoint_host(ep), ok[i].host);
        assert_int_equal(aioe_endpoint_port(ep), ok[i].port);
        /* An explicit host carries no CA default. */
        assert_null(aioe_endpoint_tls_ca_config_map_ref(ep));
        aioe_parse_result_free(res);
    }
    static const struct { const char *yaml, *needle, *hint; } bad[] = {
        { "broker", "no port", ":8883" },
        { "\"broker:\"", "port is not a number", "1 to 65535" },
        { "broker:0", "port is not a number", NULL },
        { "broker:65536", "port is not a number", NULL },
        { "broker:88a3", "port is not a number", NULL },
        { "fd00::1:8883", "more than one ':'", "brackets" },
        { "\"[fd00::1]\"", "no port", NULL },
        { "\"[fd00::1:8883\"", "no closing", NULL },
        { "\"[not-v6]:8883\"", "not a valid IPv6", NULL },
        { "bad_name:8883", "not a valid host name", NULL },
        { "-lead.example.com:8883", "not a valid host name", NULL },
        { "\"\"", "value is empty", NULL },
        { "1883", "expected a string", "quotes" },
        { "[a, b]", "expected a string", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc, MQTT "    host: %s\n", bad[i].yaml);
        expect_single_error(doc, "spec.mqttSettings.host", bad[i].needle, bad[i].hint);
    }
}

static void authentication_methods(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(MQTT
        "    authentication:\n"
        "      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n"
        "        audience: my-audience\n", &ep);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "my-audience");
    assert_null(aioe_endpoint_auth_secret_ref(ep));
    aioe_parse_result_free(res);

    res = parse_ok(MQTT "    authentication:\n      method: ServiceAccountToken\n", &ep);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "aio-internal");
    aioe_parse_result_free(res);

    res = parse_ok(MQTT "    authentication:\n      method: SystemAssignedManagedIdentity\n"
                   "      systemAssignedManagedIdentitySettings:\n"
                   "        audience: https://custom.example\n", &ep);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "https://custom.example");
    aioe_parse_result_free(res);

    res = parse_ok(MQTT "    authentication:\n      method: Anonymous\n", &ep);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_ANONYMOUS);
    aioe_parse_result_free(res);

    res = parse_ok(MQTT "    authentication:\n      method: UserAssignedManagedIdentity\n"
                   "      userAssignedManagedIdentitySettings:\n"
                   "        clientId: 11111111-2222-3333-4444-555555555555\n"
                   "        tenantId: 66666666-7777-8888-9999-000000000000\n"
                   "        scope: api://custom/.default\n", &ep);
    assert_string_equal(aioe_endpoint_auth_scope(ep), "api://custom/.default");
    aioe_parse_result_free(res);
}

static void missing_required_settings(void **state)
{
    (void)state;
    expect_single_error(MQTT "    authentication:\n      method: X509Certificate\n",
                        "spec.mqttSettings.authentication.x509CertificateSettings",
                        "needs x509CertificateSettings.secretRef", "secretRef");
    expect_single_error(MQTT "    authentication:\n      method: X509Certificate\n"
                        "      x509CertificateSettings: {}\n",
                        "spec.mqttSettings.authentication.x509CertificateSettings.secretRef",
                        "required field 'secretRef' is missing", "secretRef");
    expect_single_error(MQTT "    authentication:\n      method: UserAssignedManagedIdentity\n",
                        "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings",
                        "needs userAssignedManagedIdentitySettings", "clientId");

    aioe_parse_result *res = parse(MQTT "    authentication:\n"
                                   "      method: UserAssignedManagedIdentity\n"
                                   "      userAssignedManagedIdentitySettings: {}\n",
                                   AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(res), 2);
    error_at(res, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.clientId");
    error_at(res, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.tenantId");
    aioe_parse_result_free(res);

    expect_single_error(MQTT "    authentication:\n      serviceAccountTokenSettings: {}\n",
                        "spec.mqttSettings.authentication.method",
                        "required field 'method' is missing", "ServiceAccountToken");
    expect_single_error(MQTT "    authentication:\n      method: UserAssignedManagedIdentity\n"
                        "      userAssignedManagedIdentitySettings:\n"
                        "        clientId: not-a-guid\n"
                        "        tenantId: 66666666-7777-8888-9999-000000000000\n",
                        "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.clientId",
                        "not a GUID", NULL);
    expect_single_error(HEADER "spec:\n  mqttSettings: {}\n", "spec.endpointType",
                        "required field 'endpointType' is missing", "Mqtt");
    expect_single_error("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                        "kind: DataflowEndpoint\nspec:\n  endpointType: Mqtt\n",
                        "metadata", "required field 'metadata' is missing", NULL);
    expect_single_error("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                        "kind: DataflowEndpoint\nmetadata:\n  namespace: x\n"
                        "spec:\n  endpointType: Mqtt\n",
                        "metadata.name", "required field 'name' is missing", NULL);
    expect_single_error(HEADER, "spec", "required field 'spec' is missing", NULL);
    expect_single_error("kind: DataflowEndpoint\nmetadata:\n  name: a\n"
                        "spec:\n  endpointType: Mqtt\n",
                        "apiVersion", "required field 'apiVersion' is missing", NULL);
}

static void wrong_method_settings(void **state)
{
    (void)state;
    expect_single_error(MQTT "    authentication:\n      method: Anonymous\n"
                        "      serviceAccountTokenSettings:\n        audience: x\n",
                        "spec.mqttSettings.authentication.serviceAccountTokenSettings",
                        "is set but method is Anonymous", "method: ServiceAccountToken");
    expect_single_error(MQTT "    authentication:\n      method: Anonymous\n"
                        "      anonymousSettings:\n        user: x\n",
                        "spec.mqttSettings.authentication.anonymousSettings.user",
                        "unknown field 'user'", NULL);
}

static void enum_values(void **state)
{
    (void)state;
    expect_single_error(MQTT "    retain: keep\n", "spec.mqttSettings.retain",
                        "'keep' is not a valid value; expected Keep or Never", "did you mean 'Keep'");
    expect_single_error(MQTT "    protocol: WebSocket\n", "spec.mqttSettings.protocol",
                        "expected Mqtt or WebSockets", "did you mean 'WebSockets'");
    expect_single_error(MQTT "    tls:\n      mode: enabled\n", "spec.mqttSettings.tls.mode",
                        "not a valid value", "did you mean 'Enabled'");
    expect_single_error(MQTT "    authentication:\n      method: Anonymus\n",
                        "spec.mqttSettings.authentication.method", "not a valid value",
                        "did you mean 'Anonymous'");
    expect_single_error(MQTT "    cloudEventAttributes: propagate\n",
                        "spec.mqttSettings.cloudEventAttributes", "not a valid value",
                        "did you mean 'Propagate'");
    expect_single_error(MQTT "    retain: Sometimes\n", "spec.mqttSettings.retain",
                        "not a valid value", "use one of Keep or Never");
    expect_single_error(MQTT "    retain: [Keep]\n", "spec.mqttSettings.retain",
                        "expected one of Keep or Never, got a list", NULL);
}

static void integer_ranges(void **state)
{
    (void)state;
    static const struct { const char *field, *value, *needle; } bad[] = {
        { "qos", "2", "2 is out of range; allowed 0..1" },
        { "qos", "-1", "-1 is out of range" },
        { "qos", "\"1\"", "quoted string" },
        { "qos", "1.0", "got a floating-point number" },
        { "qos", "true", "got a boolean" },
        { "qos", "{}", "got a mapping" },
        { "keepAliveSeconds", "65536", "out of range; allowed 0..65535" },
        { "keepAliveSeconds", "-5", "out of range" },
        { "maxInflightMessages", "-1", "-1 is out of range; allowed 0..65535" },
        { "maxInflightMessages", "70000", "out of range" },
        { "sessionExpirySeconds", "-1", "out of range" },
        /* REST specs 2024-11-01 and 2025-10-01, DataflowEndpointMqtt:
         * "sessionExpirySeconds": {"type": "integer", "format": "int32",
         * "minimum": 0}: an int32, so at most 2147483647. */
        { "sessionExpirySeconds", "2147483648", "2147483648 is out of range; allowed 0..2147483647" },
        { "sessionExpirySeconds", "4294967295", "out of range; allowed 0..2147483647" },
        { "sessionExpirySeconds", "99999999999999999999999", "does not fit" },
        { "sessionExpirySeconds", "12abc", "got a string" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[1024], path[128];
        snprintf(doc, sizeof doc, MQTT "    %s: %s\n", bad[i].field, bad[i].value);
        snprintf(path, sizeof path, "spec.mqttSettings.%s", bad[i].field);
        expect_single_error(doc, path, bad[i].needle, NULL);
    }
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(MQTT "    sessionExpirySeconds: 2147483647\n"
                                      "    keepAliveSeconds: 0x10\n"
                                      "    maxInflightMessages: +7\n", &ep);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 2147483647u);
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 16);
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 7);
    aioe_parse_result_free(res);
}

static void unknown_fields_suggest(void **state)
{
    (void)state;
    expect_single_error(MQTT "    qoss: 1\n", "spec.mqttSettings.qoss", "unknown field 'qoss'",
                        "did you mean 'qos'");
    expect_single_error(MQTT "    keepAlive: 30\n", "spec.mqttSettings.keepAlive",
                        "unknown field", "did you mean 'keepAliveSeconds'");
    expect_single_error(MQTT "    tls:\n      trustedCaCertificateConfigMap: ca\n",
                        "spec.mqttSettings.tls.trustedCaCertificateConfigMap", "unknown field",
                        "did you mean 'trustedCaCertificateConfigMapRef'");
    expect_single_error(MQTT "    zzz: 1\n", "spec.mqttSettings.zzz", "unknown field",
                        "known fields here: host, authentication");
    expect_single_error(HEADER "specs:\n  endpointType: Mqtt\n"
                        "spec:\n  endpointType: Mqtt\n", "specs", "unknown field",
                        "did you mean 'spec'");
    /* Kubernetes bookkeeping is accepted and ignored. */
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\n"
        "metadata:\n  name: x\n  labels:\n    a: b\n  annotations: {k: v}\n"
        "  resourceVersion: \"12\"\n"
        "spec:\n  endpointType: Mqtt\nstatus:\n  phase: Ready\n", &ep);
    aioe_parse_result_free(res);
}

static void duplicate_keys(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(MQTT "    qos: 1\n    retain: Keep\n    qos: 0\n",
                                   AIOE_ERR_INVALID_SPEC);
    const aioe_parse_error *e = error_at(res, "spec.mqttSettings.qos");
    assert_non_null(strstr(e->message, "duplicate key 'qos'"));
    assert_non_null(strstr(e->hint, "line 9"));
    assert_int_equal(e->line, 11);
    assert_int_equal(e->column, 5);
    aioe_parse_result_free(res);

    expect_single_error(MQTT "    cloudEventAttributes: Propagate\n"
                        "    CloudEventAttributes: CreateOrRemap\n",
                        "spec.mqttSettings.CloudEventAttributes",
                        "both cloudEventAttributes and CloudEventAttributes", NULL);
}

static void endpoint_types(void **state)
{
    (void)state;
    expect_single_error(HEADER "spec:\n  endpointType: Kafka\n", "spec.endpointType",
                        "endpointType 'Kafka' is not supported", "MQTT endpoints only");
    expect_single_error(HEADER "spec:\n  endpointType: Mqqt\n", "spec.endpointType",
                        "not a valid value", "did you mean 'Mqtt'");
    expect_single_error(HEADER "spec:\n  endpointType: Mqtt\n  kafkaSettings: {}\n",
                        "spec.kafkaSettings", "does not apply to endpointType Mqtt", NULL);
    expect_single_error(HEADER "spec:\n  endpointType: Mqtt\n  mqttSettings: []\n",
                        "spec.mqttSettings", "expected a mapping, got a list", NULL);
}

static void api_versions_and_names(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(
        "apiVersion: connectivity.iotoperations.azure.com/v1beta1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: a.b-c\n"
        "spec:\n  endpointType: Mqtt\n", &ep);
    assert_null(aioe_endpoint_namespace(ep));
    aioe_parse_result_free(res);
    expect_single_error("apiVersion: connectivity.iotoperations.azure.com/v2\n"
                        "kind: DataflowEndpoint\nmetadata:\n  name: a\n"
                        "spec:\n  endpointType: Mqtt\n",
                        "apiVersion", "unsupported apiVersion", "/v1");
    expect_single_error("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                        "kind: DataflowEndpoint\nmetadata:\n  name: My_Endpoint\n"
                        "spec:\n  endpointType: Mqtt\n",
                        "metadata.name", "not a valid Kubernetes resource name", "lowercase");
    expect_single_error(MQTT "    tls:\n      trustedCaCertificateConfigMapRef: ../../etc\n",
                        "spec.mqttSettings.tls.trustedCaCertificateConfigMapRef",
                        "not a valid Kubernetes resource name", NULL);
    expect_single_error(MQTT "    authentication:\n      method: X509Certificate\n"
                        "      x509CertificateSettings:\n        secretRef: a/b\n",
                        "spec.mqttSettings.authentication.x509CertificateSettings.secretRef",
                        "not a valid Kubernetes resource name", NULL);
}

static void strings_reject_control_bytes(void **state)
{
    (void)state;
    expect_single_error(MQTT "    clientIdPrefix: \"a\\0b\"\n", "spec.mqttSettings.clientIdPrefix",
                        "control character", NULL);
    expect_single_error(MQTT "    clientIdPrefix: \"a\\tb\"\n", "spec.mqttSettings.clientIdPrefix",
                        "control character", NULL);
    /* A raw NUL byte is not YAML at all. */
    static const char raw[] = "apiVersion: x\0\nkind: DataflowEndpoint\n";
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_buffer(raw, sizeof raw - 1, NULL, NULL, &res),
                     AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "YAML syntax error"));
    assert_string_equal(aioe_parse_result_error(res, 0)->file, "<buffer>");
    aioe_parse_result_free(res);
}

static void all_errors_reported(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(MQTT "    qos: 2\n    retain: Sometimes\n"
                                   "    keepAliveSeconds: -1\n    protocol: Tcp\n"
                                   "    host: nowhere\n", AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(res), 5);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 0);
    /* in input order of the walk, each with its own line */
    assert_int_equal(error_at(res, "spec.mqttSettings.qos")->line, 9);
    assert_int_equal(error_at(res, "spec.mqttSettings.retain")->line, 10);
    assert_int_equal(error_at(res, "spec.mqttSettings.keepAliveSeconds")->line, 11);
    assert_int_equal(error_at(res, "spec.mqttSettings.protocol")->line, 12);
    assert_int_equal(error_at(res, "spec.mqttSettings.host")->line, 13);
    aioe_parse_result_free(res);
}

/* spec.h promises errors "in input order": the schema walk visits host,
 * authentication and tls before qos, whatever the order in the file, so
 * the errors must be put back into line order (issue #17: lines 11, 14,
 * 15 came out as 15, 11, 14). Two documents: order holds across them. */
static void errors_in_input_order(void **state)
{
    (void)state;
    aioe_parse_result *res = parse(MQTT "    qos: 2\n    retain: Sometimes\n"
                                   "    keepAliveSeconds: -1\n    protocol: Tcp\n"
                                   "    host: nowhere\n"
                                   "    tls:\n      mode: Maybe\n"
                                   "---\n" MQTT "    maxInflightMessages: 70000\n"
                                   "    authentication:\n      method: Nope\n",
                                   AIOE_ERR_INVALID_SPEC);
    size_t n = aioe_parse_result_error_count(res);
    assert_int_equal(n, 8);
    unsigned prev = 0;
    for (size_t i = 0; i < n; i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (e->line < prev)
            print_error("error %zu at line %u (%s) after line %u\n", i,
                        e->line, e->path, prev);
        assert_true(e->line >= prev);
        prev = e->line;
    }
    assert_string_equal(aioe_parse_result_error(res, 0)->path, "spec.mqttSettings.qos");
    assert_string_equal(aioe_parse_result_error(res, 4)->path, "spec.mqttSettings.host");
    assert_string_equal(aioe_parse_result_error(res, 5)->path, "spec.mqttSettings.tls.mode");
    aioe_parse_result_free(res);
}

static void multi_document_streams(void **state)
{
    (void)state;
    const char *yaml =
        "# several resources\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata: {}\n"
        "---\n" HEADER "spec:\n  endpointType: Mqtt\n"
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: broken\n"
        "spec:\n  endpointType: Mqtt\n  mqttSettings:\n    qos: 7\n"
        "---\n- just\n- a list\n"
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: second\n"
        "spec:\n  endpointType: Mqtt\n";
    aioe_parse_result *res = parse(yaml, AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 2);
    assert_string_equal(aioe_endpoint_name(aioe_parse_result_endpoint(res, 0)), "ep");
    assert_string_equal(aioe_endpoint_name(aioe_parse_result_endpoint(res, 1)), "second");
    assert_non_null(aioe_parse_result_find_endpoint(res, "second"));
    assert_null(aioe_parse_result_find_endpoint(res, "broken"));
    assert_null(aioe_parse_result_endpoint(res, 2));
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    const aioe_parse_error *e = error_at(res, "spec.mqttSettings.qos");
    assert_int_equal(e->line, 23);
    assert_int_equal(aioe_parse_result_skipped_count(res), 2);
    const aioe_skipped_document *s = aioe_parse_result_skipped(res, 0);
    assert_string_equal(s->kind, "ConfigMap");
    assert_string_equal(s->name, "cfg");
    assert_string_equal(s->api_version, "v1");
    assert_int_equal(s->line, 2);
    s = aioe_parse_result_skipped(res, 1);
    assert_string_equal(s->kind, "");
    assert_null(aioe_parse_result_skipped(res, 2));
    aioe_parse_result_free(res);

    /* An empty stream is valid and holds nothing. */
    res = parse("", AIOE_OK);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 0);
    aioe_parse_result_free(res);
}

static void yaml_syntax_errors(void **state)
{
    (void)state;
    const char *yaml = HEADER "spec:\n  endpointType: Mqtt\n"
                       "---\n"
                       "apiVersion: [unclosed\n";
    aioe_parse_result *res = parse(yaml, AIOE_ERR_INVALID_SPEC);
    /* the document before the broken one is kept */
    assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    const aioe_parse_error *e = aioe_parse_result_error(res, 0);
    assert_non_null(strstr(e->message, "YAML syntax error"));
    assert_true(e->line >= 9);
    assert_string_equal(e->path, "");
    aioe_parse_result_free(res);

    res = parse("a: b: c\n", AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error(res, 0)->line, 1);
    aioe_parse_result_free(res);

    res = parse("key: *undefined\n", AIOE_ERR_INVALID_SPEC);
    aioe_parse_result_free(res);
}

static void hostile_yaml_is_cheap(void **state)
{
    (void)state;
    /* A billion-laughs alias tree under an ignored field: aliases share
     * nodes and unknown subtrees are never walked. */
    char doc[4096] = HEADER "  labels:\n    l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        char line[128];
        snprintf(line, sizeof line, "    l%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(doc, line);
    }
    strcat(doc, "spec:\n  endpointType: Mqtt\n");
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(doc, &ep);
    aioe_parse_result_free(res);

    /* Deep nesting is refused at the depth limit, at the collection that
     * went too deep (time and memory bounds: unit hostile). */
    enum { DEPTH = 20000 };
    size_t n = strlen(HEADER) + 16 + 2 * DEPTH + 64;
    char *deep = malloc(n);
    assert_non_null(deep);
    char *p = deep + sprintf(deep, "%s  labels: ", HEADER);
    for (int i = 0; i < DEPTH; i++)
        *p++ = '[';
    for (int i = 0; i < DEPTH; i++)
        *p++ = ']';
    strcpy(p, "\nspec:\n  endpointType: Mqtt\n");
    aioe_parse_result *r2 = NULL;
    assert_int_equal(aioe_parse_buffer(deep, strlen(deep), NULL, NULL, &r2),
                     AIOE_ERR_TOO_LARGE);
    assert_non_null(r2);
    const aioe_parse_error *e = aioe_parse_result_error(r2, 0);
    assert_string_equal(e->message, "YAML nested more than 64 levels deep");
    assert_int_equal(e->line, 6);
    /* "  labels: " then the 63rd [: the root and metadata are levels 1 and 2 */
    assert_int_equal(e->column, 11 + 62);
    aioe_parse_result_free(r2);
    free(deep);

    /* Both limits can be set; a normal endpoint is far below either. */
    aioe_parse_options *po = NULL;
    assert_int_equal(aioe_parse_options_new(&po), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_max_depth(po, 0), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_max_nodes(NULL, 5), AIOE_ERR_INVALID_ARG);
    const char small[] = MQTT "    host: h:1883\n";
    assert_int_equal(aioe_parse_buffer(small, strlen(small), NULL, po, &r2), AIOE_OK);
    aioe_parse_result_free(r2);
    assert_int_equal(aioe_parse_options_set_max_depth(po, 2), AIOE_OK); /* mqttSettings is 3 */
    assert_int_equal(aioe_parse_buffer(small, strlen(small), NULL, po, &r2), AIOE_ERR_TOO_LARGE);
    aioe_parse_result_free(r2);
    assert_int_equal(aioe_parse_options_set_max_depth(po, 64), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_max_nodes(po, 10), AIOE_OK);
    assert_int_equal(aioe_parse_buffer(small, strlen(small), NULL, po, &r2), AIOE_ERR_TOO_LARGE);
    assert_string_equal(aioe_parse_result_error(r2, 0)->message,
                        "more than 10 YAML nodes in one document");
    aioe_parse_result_free(r2);
    aioe_parse_options_free(po);

    /* A mapping with thousands of keys at a schema level is refused in
     * one error, not compared pairwise. */
    size_t cap = 20000 * 16 + 512;
    char *wide = malloc(cap);
    assert_non_null(wide);
    p = wide + sprintf(wide, MQTT);
    for (int i = 0; i < 20000; i++)
        p += sprintf(p, "    k%d: 1\n", i);
    aioe_parse_result *r3 = parse(wide, AIOE_ERR_INVALID_SPEC);
    assert_non_null(strstr(error_at(r3, "spec.mqttSettings")->message, "more than the 256"));
    aioe_parse_result_free(r3);
    free(wide);
}

/* A NUL byte or invalid UTF-8 is reported where it is (issue #15 item 8:
 * libyaml's reader gives only a byte offset, and the error said 1:1). */
static void reader_error_positions(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        size_t len;
        unsigned line, column;
    } cases[] = {
#define CASE(text, l, col) { text, sizeof text - 1, l, col }
        CASE("apiVersion: v1\nkind: DataflowEndpoint\nmetadata:\n  name: ep\n"
             "  namespace: azure\xff\n", 5, 19),
        CASE("apiVersion: v1\nkind: DataflowEndpoint\nmetadata:\n  name: ep\n"
             "  namespace: azure\0x\n", 5, 19),
        /* CR LF and CR line breaks; a two-byte character is one column */
        CASE("apiVersion: v1\r\nkind: DataflowEndpoint\rmetadata:\r\n  name: ep\n"
             "  namespace: a\xc3\xa9\xc3\x28\n", 5, 17), /* at the 0x28 */
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aioe_parse_result *res = NULL;
        assert_int_equal(aioe_parse_buffer(cases[i].doc, cases[i].len, "t.yaml", NULL, &res),
                         AIOE_ERR_INVALID_SPEC);
        const aioe_parse_error *e = aioe_parse_result_error(res, 0);
        if (e->line != cases[i].line || e->column != cases[i].column)
            fail_msg("case %zu: reported at %u:%u, want %u:%u (%s)", i, e->line, e->column,
                     cases[i].line, cases[i].column, e->message);
        assert_non_null(strstr(e->message, "YAML syntax error"));
        aioe_parse_result_free(res);
    }
}

static void hostile_bytes_and_files(void **state)
{
    (void)state;
    /* Invalid UTF-8 in a name is a YAML error, not a crash. */
    const char bad_utf8[] = HEADER "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
                            "    clientIdPrefix: \"\xc3\x28\"\n";
    aioe_parse_result *res = parse(bad_utf8, AIOE_ERR_INVALID_SPEC);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "YAML syntax error"));
    aioe_parse_result_free(res);

    /* A megabyte scalar is read and rejected where it does not belong. */
    size_t big = 1 << 20;
    char *doc = malloc(big + 512);
    assert_non_null(doc);
    char *p = doc + sprintf(doc, MQTT "    host: ");
    memset(p, 'a', big);
    strcpy(p + big, ":1883\n");
    res = parse(doc, AIOE_ERR_INVALID_SPEC);
    assert_non_null(strstr(error_at(res, "spec.mqttSettings.host")->message, "not a valid host name"));
    /* the message quotes the value only in part, and says so */
    const char *m = error_at(res, "spec.mqttSettings.host")->message;
    assert_true(strlen(m) < 1024);
    assert_string_equal(m + strlen(m) - 3, "...");
    aioe_parse_result_free(res);
    free(doc);

    /* A symlink loop is an I/O error with the reason. */
    char dir[] = "/tmp/aioe-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64];
    snprintf(a, sizeof a, "%s/a.yaml", dir);
    snprintf(b, sizeof b, "%s/b.yaml", dir);
    assert_int_equal(symlink(b, a), 0);
    assert_int_equal(symlink(a, b), 0);
    assert_int_equal(aioe_parse_file(a, NULL, &res), AIOE_ERR_IO);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "cannot open"));
    aioe_parse_result_free(res);
    unlink(a);
    unlink(b);
    rmdir(dir);

    /* /dev/zero never ends: the size limit stops it. */
    aioe_parse_options *opts = NULL;
    assert_int_equal(aioe_parse_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_max_input_bytes(opts, 1 << 16), AIOE_OK);
    assert_int_equal(aioe_parse_file("/dev/zero", opts, &res), AIOE_ERR_TOO_LARGE);
    aioe_parse_result_free(res);
    aioe_parse_options_free(opts);
}

/* ---- files, limits and arguments ---------------------------------------- */

static void file_errors_and_limits(void **state)
{
    (void)state;
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_file("/nonexistent/endpoint.yaml", NULL, &res), AIOE_ERR_IO);
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    assert_int_equal(aioe_parse_result_error(res, 0)->line, 0);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "cannot open"));
    assert_string_equal(aioe_parse_result_error(res, 0)->file, "/nonexistent/endpoint.yaml");
    aioe_parse_result_free(res);

    assert_int_equal(aioe_parse_file(AIOE_TEST_DATA_DIR, NULL, &res), AIOE_ERR_IO);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "directory"));
    aioe_parse_result_free(res);

    char path[512];
    snprintf(path, sizeof path, "%s/seed/01-builtin-broker.yaml", AIOE_TEST_DATA_DIR);
    assert_int_equal(aioe_parse_file(path, NULL, &res), AIOE_OK);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
    assert_string_equal(aioe_endpoint_source_file(aioe_parse_result_endpoint(res, 0)), path);
    aioe_parse_result_free(res);

    aioe_parse_options *opts = NULL;
    assert_int_equal(aioe_parse_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_max_input_bytes(opts, 0), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_max_input_bytes(opts, 64), AIOE_OK);
    assert_int_equal(aioe_parse_file(path, opts, &res), AIOE_ERR_TOO_LARGE);
    assert_non_null(strstr(aioe_parse_result_error(res, 0)->message, "limit"));
    aioe_parse_result_free(res);
    const char *yaml = HEADER "spec:\n  endpointType: Mqtt\n";
    assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), NULL, opts, &res), AIOE_ERR_TOO_LARGE);
    aioe_parse_result_free(res);

    assert_int_equal(aioe_parse_options_set_max_input_bytes(opts, 1 << 20), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_max_documents(opts, 0), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_max_documents(opts, 2), AIOE_OK);
    const char *three = "a: 1\n---\nb: 2\n---\nc: 3\n";
    assert_int_equal(aioe_parse_buffer(three, strlen(three), NULL, opts, &res), AIOE_ERR_TOO_LARGE);
    assert_int_equal(aioe_parse_result_skipped_count(res), 2);
    aioe_parse_result_free(res);
    aioe_parse_options_free(opts);
    aioe_parse_options_free(NULL);
}

static void argument_checks(void **state)
{
    (void)state;
    aioe_parse_result *res = (aioe_parse_result *)1;
    assert_int_equal(aioe_parse_buffer("a", 1, NULL, NULL, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_buffer(NULL, 5, NULL, NULL, &res), AIOE_ERR_INVALID_ARG);
    assert_null(res);
    assert_int_equal(aioe_parse_buffer(NULL, 0, NULL, NULL, &res), AIOE_OK);
    aioe_parse_result_free(res);
    assert_int_equal(aioe_parse_file(NULL, NULL, &res), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_file("x", NULL, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_new(NULL), AIOE_ERR_INVALID_ARG);
    aioe_parse_result_free(NULL);
    assert_int_equal(aioe_parse_result_endpoint_count(NULL), 0);
    assert_null(aioe_parse_result_error(NULL, 0));
    assert_null(aioe_endpoint_name(NULL));
    assert_int_equal(aioe_endpoint_port(NULL), 0);
    assert_null(aioe_endpoint_ref(NULL));
    aioe_endpoint_unref(NULL);
    char *out = NULL;
    assert_int_equal(aioe_endpoint_to_yaml(NULL, &out, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_to_json(NULL, 0, &out, NULL), AIOE_ERR_INVALID_ARG);
    assert_null(aioe_auth_method_name((aioe_auth_method)99));
    assert_null(aioe_cloud_event_attributes_name(AIOE_CLOUD_EVENTS_NONE));
    assert_string_equal(aioe_protocol_name(AIOE_PROTOCOL_WEBSOCKETS), "WebSockets");
}

static void endpoints_outlive_results(void **state)
{
    (void)state;
    const aioe_endpoint *borrowed;
    aioe_parse_result *res = parse_ok(MQTT "    clientIdPrefix: keep-me\n", &borrowed);
    aioe_endpoint *ep = aioe_endpoint_ref(borrowed);
    aioe_parse_result_free(res);
    assert_string_equal(aioe_endpoint_client_id_prefix(ep), "keep-me");
    assert_string_equal(aioe_endpoint_source_file(ep), "test.yaml");
    aioe_endpoint_unref(ep);
}

/* ---- serialization -------------------------------------------------------- */

static void round_trip(const aioe_endpoint *ep)
{
    char *yaml = NULL, *json = NULL;
    size_t ylen = 0, jlen = 0;
    assert_int_equal(aioe_endpoint_to_yaml(ep, &yaml, &ylen), AIOE_OK);
    assert_int_equal(strlen(yaml), ylen);
    assert_int_equal(aioe_endpoint_to_json(ep, AIOE_JSON_PRETTY, &json, &jlen), AIOE_OK);
    assert_int_equal(strlen(json), jlen);
    const char *texts[] = { yaml, json };
    for (int i = 0; i < 2; i++) {
        aioe_parse_result *res = NULL;
        int rc = aioe_parse_buffer(texts[i], strlen(texts[i]), "round-trip", NULL, &res);
        if (rc != AIOE_OK)
            print_error("re-parse failed for:\n%s\n", texts[i]);
        assert_int_equal(rc, AIOE_OK);
        assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
        assert_true(aioe_endpoint_equal(ep, aioe_parse_result_endpoint(res, 0)));
        aioe_parse_result_free(res);
    }
    /* canonical spelling */
    assert_null(strstr(yaml, "CloudEventAttributes"));
    aioe_free(yaml);
    aioe_free(json);
}

static void serialization_round_trips(void **state)
{
    (void)state;
    const char *docs[] = {
        HEADER "spec:\n  endpointType: Mqtt\n",
        MQTT "    host: \"[fd00::1]:8883\"\n    CloudEventAttributes: Propagate\n"
             "    clientIdPrefix: \"123\"\n",
        MQTT "    host: b:1\n    authentication:\n      method: UserAssignedManagedIdentity\n"
             "      userAssignedManagedIdentitySettings:\n"
             "        clientId: 11111111-2222-3333-4444-555555555555\n"
             "        tenantId: 66666666-7777-8888-9999-000000000000\n"
             "    clientIdPrefix: \"yes\"\n    qos: 0\n    retain: Never\n",
        MQTT "    authentication:\n      method: X509Certificate\n"
             "      x509CertificateSettings: {secretRef: s}\n"
             "    tls: {mode: Disabled}\n    protocol: WebSockets\n"
             "    clientIdPrefix: \"quote\\\"s and: colons # not a comment\"\n",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        const aioe_endpoint *ep;
        aioe_parse_result *res = parse_ok(docs[i], &ep);
        round_trip(ep);
        aioe_parse_result_free(res);
    }
}

static void json_summary_shape(void **state)
{
    (void)state;
    const aioe_endpoint *ep;
    aioe_parse_result *res = parse_ok(HEADER "spec:\n  endpointType: Mqtt\n", &ep);
    char *json = NULL;
    assert_int_equal(aioe_endpoint_to_json(ep, AIOE_JSON_SUMMARY, &json, NULL), AIOE_OK);
    assert_string_equal(json,
        "{\"name\":\"ep\",\"namespace\":\"azure-iot-operations\",\"host\":\"aio-broker\","
        "\"port\":18883,\"authentication\":{\"method\":\"ServiceAccountToken\","
        "\"audience\":\"aio-internal\"},\"tls\":{\"mode\":\"Enabled\","
        "\"trustedCaCertificateConfigMapRef\":\"azure-iot-operations-aio-ca-trust-bundle\"},"
        "\"clientIdPrefix\":null,\"qos\":1,\"retain\":\"Keep\",\"sessionExpirySeconds\":600,"
        "\"protocol\":\"Mqtt\",\"maxInflightMessages\":100,\"keepAliveSeconds\":60,"
        "\"cloudEventAttributes\":null}");
    aioe_free(json);
    assert_int_equal(aioe_endpoint_to_json(ep, 1u << 7, &json, NULL), AIOE_ERR_INVALID_ARG);
    aioe_parse_result_free(res);
}

static void examples_are_valid(void **state)
{
    (void)state;
    const char *files[] = { "local-mosquitto.yaml", "eventgrid-user-assigned.yaml",
                            "x509-websockets.yaml", "seed/builtin-broker.yaml" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/endpoints/%s", AIOE_EXAMPLES_DIR, files[i]);
        aioe_parse_result *res = NULL;
        assert_int_equal(aioe_parse_file(path, NULL, &res), AIOE_OK);
        assert_true(aioe_parse_result_endpoint_count(res) >= 1);
        for (size_t k = 0; k < aioe_parse_result_endpoint_count(res); k++)
            round_trip(aioe_parse_result_endpoint(res, k));
        aioe_parse_result_free(res);
    }
}

/* ---- pure helpers ----------------------------------------------------------- */

static void helper_functions(void **state)
{
    (void)state;
    static const char *const words[] = { "qos", "retain", "keepAliveSeconds", NULL };
    assert_string_equal(aioe_did_you_mean("Qos", 3, words), "qos");
    assert_string_equal(aioe_did_you_mean("retian", 6, words), "retain");
    assert_null(aioe_did_you_mean("banana", 6, words));
    assert_int_equal(aioe_edit_distance("kitten", 6, "sitting", 7), 3);
    assert_true(aioe_is_dns1123_subdomain("a.b-c", 5));
    assert_false(aioe_is_dns1123_subdomain("a..b", 4));
    assert_false(aioe_is_dns1123_subdomain("-a", 2));
    assert_false(aioe_is_dns1123_label("a.b", 3));
    assert_true(aioe_is_placeholder("x<Y>z", 5));
    assert_false(aioe_is_placeholder("a>b<c", 5));
    assert_int_equal(aioe__yt_resolve_plain("0x1F", 4), YT_INT);
    assert_int_equal(aioe__yt_resolve_plain("1e3", 3), YT_FLOAT);
    assert_int_equal(aioe__yt_resolve_plain(".5", 2), YT_FLOAT);
    assert_int_equal(aioe__yt_resolve_plain("on", 2), YT_BOOL);
    assert_int_equal(aioe__yt_resolve_plain("~", 1), YT_NULL);
    assert_int_equal(aioe__yt_resolve_plain("1.2.3", 5), YT_STRING);
    assert_int_equal(aioe__yt_resolve_plain("e5", 2), YT_STRING);
    int64_t v;
    bool overflow;
    assert_true(aioe__yt_parse_int("-9223372036854775808", 20, &v, &overflow));
    assert_true(v == INT64_MIN);
    assert_false(aioe__yt_parse_int("9223372036854775808", 19, &v, &overflow));
    assert_true(overflow);
    assert_true(aioe__yt_parse_int("0o17", 4, &v, &overflow));
    assert_int_equal(v, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_builtin_broker),
        cmocka_unit_test(seed_eventgrid),
        cmocka_unit_test(seed_other_broker),
        cmocka_unit_test(seed_placeholders),
        cmocka_unit_test(seed_uami),
        cmocka_unit_test(seed_valid_snippets),
        cmocka_unit_test(defaults_without_mqtt_settings),
        cmocka_unit_test(every_field_set),
        cmocka_unit_test(host_forms),
        cmocka_unit_test(authentication_methods),
        cmocka_unit_test(missing_required_settings),
        cmocka_unit_test(wrong_method_settings),
        cmocka_unit_test(enum_values),
        cmocka_unit_test(integer_ranges),
        cmocka_unit_test(unknown_fields_suggest),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(endpoint_types),
        cmocka_unit_test(api_versions_and_names),
        cmocka_unit_test(strings_reject_control_bytes),
        cmocka_unit_test(all_errors_reported),
        cmocka_unit_test(errors_in_input_order),
        cmocka_unit_test(multi_document_streams),
        cmocka_unit_test(yaml_syntax_errors),
        cmocka_unit_test(hostile_yaml_is_cheap),
        cmocka_unit_test(reader_error_positions),
        cmocka_unit_test(hostile_bytes_and_files),
        cmocka_unit_test(file_errors_and_limits),
        cmocka_unit_test(argument_checks),
        cmocka_unit_test(endpoints_outlive_results),
        cmocka_unit_test(serialization_round_trips),
        cmocka_unit_test(json_summary_shape),
        cmocka_unit_test(examples_are_valid),
        cmocka_unit_test(helper_functions),
        cmocka_unit_test(websocket_hosts),
        cmocka_unit_test(max_inflight_zero),
        cmocka_unit_test(api_version_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
