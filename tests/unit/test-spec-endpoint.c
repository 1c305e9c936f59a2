/* The DataflowEndpoint parser, valid documents: every field and default,
 * every example of the seed document verbatim, serialization and the pure
 * helpers. Errors are in test-spec-errors.c. */
#include "spec-fixture.h"

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

/* ---- serialization -------------------------------------------------------- */

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
