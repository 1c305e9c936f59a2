/* The DataflowEndpoint parser, invalid input: every error class, its path,
 * position and hint; hostile YAML and bytes, files, limits and argument
 * checks. Valid documents are in test-spec-endpoint.c. */
#include "spec-fixture.h"

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
    if (!doc) /* not assert_non_null(): gcc must see that doc is not NULL below */
        abort();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
