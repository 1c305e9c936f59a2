/* The endpoint builder (issue #17 §3): YAML and code produce the same
 * endpoint, with the same defaults, and a value the parser refuses is
 * refused by the builder with the same field path and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#define HEADER                                              \
    "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\n"                              \
    "metadata:\n"                                           \
    "  name: ep\n"

static aioe_parse_result *yaml_parse(const char *body, int expect)
{
    char doc[4096];
    snprintf(doc, sizeof doc, HEADER "%s", body);
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(doc, strlen(doc), "t.yaml", NULL, &res);
    if (rc != expect)
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            print_error("yaml: %s: %s\n", aioe_parse_result_error(res, i)->path,
                        aioe_parse_result_error(res, i)->message);
    assert_int_equal(rc, expect);
    return res;
}

static aioe_endpoint *build_ok(aioe_endpoint_builder *b)
{
    aioe_endpoint *ep = NULL;
    aioe_parse_result *errs = NULL;
    int rc = aioe_endpoint_builder_build(b, &ep, &errs);
    if (rc != AIOE_OK)
        for (size_t i = 0; i < aioe_parse_result_error_count(errs); i++)
            print_error("builder: %s: %s\n", aioe_parse_result_error(errs, i)->path,
                        aioe_parse_result_error(errs, i)->message);
    assert_int_equal(rc, AIOE_OK);
    assert_non_null(ep);
    assert_int_equal(aioe_parse_result_error_count(errs), 0);
    aioe_parse_result_free(errs);
    return ep;
}

/* Same settings, and the same canonical YAML (every default written out). */
static void assert_same(const aioe_endpoint *built, const char *yaml_body)
{
    aioe_parse_result *res = yaml_parse(yaml_body, AIOE_OK);
    const aioe_endpoint *parsed = aioe_parse_result_endpoint(res, 0);
    assert_true(aioe_endpoint_equal(built, parsed));
    char *a = NULL, *y = NULL;
    assert_int_equal(aioe_endpoint_to_yaml(built, &a, NULL), AIOE_OK);
    assert_int_equal(aioe_endpoint_to_yaml(parsed, &y, NULL), AIOE_OK);
    assert_string_equal(a, y);
    assert_int_equal(aioe_endpoint_host_is_default(built),
                     aioe_endpoint_host_is_default(parsed));
    aioe_free(a);
    aioe_free(y);
    aioe_parse_result_free(res);
}

static void defaults_match_the_parser(void **state)
{
    (void)state;
    aioe_endpoint_builder *b;
    assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
    aioe_endpoint_builder_set_name(b, "ep");
    aioe_endpoint *ep = build_ok(b);
    assert_same(ep, "spec:\n  endpointType: Mqtt\n");
    assert_string_equal(aioe_endpoint_host(ep), "aio-broker");
    assert_int_equal(aioe_endpoint_port(ep), 18883);
    assert_string_equal(aioe_endpoint_auth_audience(ep), "aio-internal");
    /* the newest apiVersion's (v1) defaults, as a v1 document gets */
    assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep),
                        "azure-iot-operations-aio-ca-trust-bundle");
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 600);
    assert_string_equal(aioe_endpoint_source_file(ep), "(builder)");
    aioe_endpoint_unref(ep);
    aioe_endpoint_builder_free(b);
}

static void every_field_matches_the_parser(void **state)
{
    (void)state;
    aioe_endpoint_builder *b;
    assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
    aioe_endpoint_builder_set_name(b, "ep");
    aioe_endpoint_builder_set_namespace(b, "factory");
    aioe_endpoint_builder_set_host(b, "[fd00::1]:8883");
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY);
    aioe_endpoint_builder_set_auth_client_id(b, "11111111-2222-3333-4444-555555555555");
    aioe_endpoint_builder_set_auth_tenant_id(b, "contoso.onmicrosoft.com");
    aioe_endpoint_builder_set_auth_scope(b, "https://example.net/.default");
    aioe_endpoint_builder_set_tls_mode(b, AIOE_TLS_ENABLED);
    aioe_endpoint_builder_set_tls_ca_config_map_ref(b, "my-ca");
    aioe_endpoint_builder_set_client_id_prefix(b, "engine-");
    aioe_endpoint_builder_set_qos(b, 0);
    aioe_endpoint_builder_set_retain(b, AIOE_RETAIN_NEVER);
    aioe_endpoint_builder_set_session_expiry_seconds(b, 0);
    aioe_endpoint_builder_set_protocol(b, AIOE_PROTOCOL_WEBSOCKETS);
    aioe_endpoint_builder_set_max_inflight_messages(b, 65535);
    aioe_endpoint_builder_set_keep_alive_seconds(b, 0);
    aioe_endpoint_builder_set_cloud_event_attributes(b, AIOE_CLOUD_EVENTS_CREATE_OR_REMAP);
    aioe_endpoint *ep = build_ok(b);
    assert_same(ep, "  namespace: factory\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
                    "    host: \"[fd00::1]:8883\"\n"
                    "    authentication:\n      method: UserAssignedManagedIdentity\n"
                    "      userAssignedManagedIdentitySettings:\n"
                    "        clientId: 11111111-2222-3333-4444-555555555555\n"
                    "        tenantId: contoso.onmicrosoft.com\n"
                    "        scope: https://example.net/.default\n"
                    "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: my-ca\n"
                    "    clientIdPrefix: engine-\n    qos: 0\n    retain: Never\n"
                    "    sessionExpirySeconds: 0\n    protocol: WebSockets\n"
                    "    maxInflightMessages: 65535\n    keepAliveSeconds: 0\n"
                    "    cloudEventAttributes: CreateOrRemap\n");
    aioe_endpoint_unref(ep);

    /* every other method, each with and without its optional settings */
    struct {
        aioe_auth_method m;
        const char *audience, *secret;
        const char *yaml;
    } auth[] = {
        { AIOE_AUTH_SERVICE_ACCOUNT_TOKEN, "my-aud", NULL,
          "      method: ServiceAccountToken\n      serviceAccountTokenSettings:\n"
          "        audience: my-aud\n" },
        { AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY, NULL, NULL,
          "      method: SystemAssignedManagedIdentity\n"
          "      systemAssignedManagedIdentitySettings: {}\n" },
        { AIOE_AUTH_X509_CERTIFICATE, NULL, "client-secret",
          "      method: X509Certificate\n      x509CertificateSettings:\n"
          "        secretRef: client-secret\n" },
        { AIOE_AUTH_ANONYMOUS, NULL, NULL, "      method: Anonymous\n" },
    };
    for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++) {
        aioe_endpoint_builder_reset(b);
        aioe_endpoint_builder_set_name(b, "ep");
        aioe_endpoint_builder_set_host(b, "broker.example.com:1883");
        aioe_endpoint_builder_set_tls_mode(b, AIOE_TLS_DISABLED);
        aioe_endpoint_builder_set_auth_method(b, auth[i].m);
        aioe_endpoint_builder_set_auth_audience(b, auth[i].audience);
        aioe_endpoint_builder_set_auth_secret_ref(b, auth[i].secret);
        ep = build_ok(b);
        char body[1024];
        snprintf(body, sizeof body, "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
                 "    host: broker.example.com:1883\n    tls:\n      mode: Disabled\n"
                 "    authentication:\n%s", auth[i].yaml);
        assert_same(ep, body);
        aioe_endpoint_unref(ep);
    }
    aioe_endpoint_builder_free(b);
}

/* The builder's error for a field equals the parser's for the same value. */
typedef void (*set_fn)(aioe_endpoint_builder *b);
static void s_qos(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_qos(b, 2); }
static void s_exp(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_session_expiry_seconds(b, -1); }
static void s_inf(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_max_inflight_messages(b, 70000); }
static void s_ka(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_keep_alive_seconds(b, 70000); }
static void s_host(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_host(b, "nohost"); }
static void s_host2(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_host(b, "<broker>:1883"); }
static void s_host3(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_host(b, "b:99999"); }
static void s_ns(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_namespace(b, "Bad_NS"); }
static void s_ca(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_tls_ca_config_map_ref(b, "UPPER"); }
static void s_prefix(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_client_id_prefix(b, ""); }
static void s_ctl(aioe_endpoint_builder *b) { aioe_endpoint_builder_set_client_id_prefix(b, "a\tb"); }
static void s_secret(aioe_endpoint_builder *b)
{
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_X509_CERTIFICATE);
    aioe_endpoint_builder_set_auth_secret_ref(b, "Bad_Ref");
}
static void s_uami(aioe_endpoint_builder *b)
{
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY);
    aioe_endpoint_builder_set_auth_client_id(b, "not-a-guid");
    aioe_endpoint_builder_set_auth_tenant_id(b, "00000000-0000-0000-0000-000000000000");
}
static void s_tenant(aioe_endpoint_builder *b)
{
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY);
    aioe_endpoint_builder_set_auth_client_id(b, "00000000-0000-0000-0000-000000000000");
    aioe_endpoint_builder_set_auth_tenant_id(b, "bad tenant!");
}

static void errors_match_the_parser(void **state)
{
    (void)state;
    struct {
        set_fn set;
        const char *path;
        const char *yaml; /* mqttSettings body */
    } cases[] = {
        { s_qos, "spec.mqttSettings.qos", "    qos: 2\n" },
        { s_exp, "spec.mqttSettings.sessionExpirySeconds", "    sessionExpirySeconds: -1\n" },
        { s_inf, "spec.mqttSettings.maxInflightMessages", "    maxInflightMessages: 70000\n" },
        { s_ka, "spec.mqttSettings.keepAliveSeconds", "    keepAliveSeconds: 70000\n" },
        { s_host, "spec.mqttSettings.host", "    host: nohost\n" },
        { s_host2, "spec.mqttSettings.host", "    host: \"<broker>:1883\"\n" },
        { s_host3, "spec.mqttSettings.host", "    host: b:99999\n" },
        { s_ca, "spec.mqttSettings.tls.trustedCaCertificateConfigMapRef",
          "    tls:\n      trustedCaCertificateConfigMapRef: UPPER\n" },
        { s_prefix, "spec.mqttSettings.clientIdPrefix", "    clientIdPrefix: \"\"\n" },
        { s_ctl, "spec.mqttSettings.clientIdPrefix", "    clientIdPrefix: \"a\\tb\"\n" },
        { s_secret, "spec.mqttSettings.authentication.x509CertificateSettings.secretRef",
          "    authentication:\n      method: X509Certificate\n"
          "      x509CertificateSettings:\n        secretRef: Bad_Ref\n" },
        { s_uami, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.clientId",
          "    authentication:\n      method: UserAssignedManagedIdentity\n"
          "      userAssignedManagedIdentitySettings:\n        clientId: not-a-guid\n"
          "        tenantId: 00000000-0000-0000-0000-000000000000\n" },
        { s_tenant, "spec.mqttSettings.authentication.userAssignedManagedIdentitySettings.tenantId",
          "    authentication:\n      method: UserAssignedManagedIdentity\n"
          "      userAssignedManagedIdentitySettings:\n"
          "        clientId: 00000000-0000-0000-0000-000000000000\n"
          "        tenantId: bad tenant!\n" },
        { s_ns, "metadata.namespace", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aioe_endpoint_builder *b;
        assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
        aioe_endpoint_builder_set_name(b, "ep");
        cases[i].set(b);
        aioe_endpoint *ep = (aioe_endpoint *)(uintptr_t)1;
        aioe_parse_result *errs = NULL;
        assert_int_equal(aioe_endpoint_builder_build(b, &ep, &errs), AIOE_ERR_INVALID_SPEC);
        assert_null(ep);
        assert_int_equal(aioe_parse_result_error_count(errs), 1);
        const aioe_parse_error *be = aioe_parse_result_error(errs, 0);
        print_message("%s: %s (%s)\n", be->path, be->message, be->hint);
        assert_string_equal(be->path, cases[i].path);
        char body[1024];
        if (cases[i].yaml)
            snprintf(body, sizeof body, "spec:\n  endpointType: Mqtt\n  mqttSettings:\n%s",
                     cases[i].yaml);
        else
            snprintf(body, sizeof body, "  namespace: Bad_NS\nspec:\n  endpointType: Mqtt\n");
        aioe_parse_result *res = yaml_parse(body, AIOE_ERR_INVALID_SPEC);
        assert_int_equal(aioe_parse_result_error_count(res), 1);
        const aioe_parse_error *pe = aioe_parse_result_error(res, 0);
        assert_string_equal(pe->path, be->path);
        assert_string_equal(pe->message, be->message);
        assert_string_equal(pe->hint, be->hint);
        aioe_parse_result_free(res);
        aioe_parse_result_free(errs);
        aioe_endpoint_builder_free(b);
    }
}

static void every_error_at_once(void **state)
{
    (void)state;
    aioe_endpoint_builder *b;
    assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
    /* no name, a wrong host, a setting of another method, three ranges */
    aioe_endpoint_builder_set_host(b, "nohost");
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_ANONYMOUS);
    aioe_endpoint_builder_set_auth_secret_ref(b, "some-secret");
    aioe_endpoint_builder_set_qos(b, -1);
    aioe_endpoint_builder_set_max_inflight_messages(b, 70000);
    aioe_endpoint_builder_set_keep_alive_seconds(b, -5);
    aioe_endpoint *ep = NULL;
    aioe_parse_result *errs = NULL;
    assert_int_equal(aioe_endpoint_builder_build(b, &ep, &errs), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(errs), 6);
    const char *paths[] = { "metadata.name", "spec.mqttSettings.host",
                            "spec.mqttSettings.authentication.x509CertificateSettings.secretRef",
                            "spec.mqttSettings.qos", "spec.mqttSettings.maxInflightMessages",
                            "spec.mqttSettings.keepAliveSeconds" };
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(aioe_parse_result_error(errs, i)->path, paths[i]);
    assert_string_equal(aioe_parse_result_error(errs, 2)->message,
                        "x509CertificateSettings is set but method is Anonymous");
    aioe_parse_result_free(errs);

    /* X509 without a secret, UAMI without ids */
    aioe_endpoint_builder_reset(b);
    aioe_endpoint_builder_set_name(b, "ep");
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_X509_CERTIFICATE);
    assert_int_equal(aioe_endpoint_builder_build(b, &ep, &errs), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(errs), 1);
    assert_string_equal(aioe_parse_result_error(errs, 0)->path,
                        "spec.mqttSettings.authentication.x509CertificateSettings.secretRef");
    aioe_parse_result_free(errs);
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY);
    assert_int_equal(aioe_endpoint_builder_build(b, &ep, NULL), AIOE_ERR_INVALID_SPEC);
    assert_null(ep);
    aioe_endpoint_builder_free(b);
}

static void round_trip_and_reuse(void **state)
{
    (void)state;
    aioe_endpoint_builder *b;
    assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
    aioe_endpoint_builder_set_name(b, "ep");
    aioe_endpoint_builder_set_host(b, "localhost:1883");
    aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_ANONYMOUS);
    aioe_endpoint *a = build_ok(b);
    aioe_endpoint *a2 = build_ok(b); /* a builder builds again */
    assert_true(aioe_endpoint_equal(a, a2));
    char *y = NULL;
    assert_int_equal(aioe_endpoint_to_yaml(a, &y, NULL), AIOE_OK);
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_buffer(y, strlen(y), "rt", NULL, &res), AIOE_OK);
    assert_true(aioe_endpoint_equal(a, aioe_parse_result_endpoint(res, 0)));
    aioe_parse_result_free(res);
    aioe_free(y);
    aioe_endpoint_builder_free(b); /* endpoints outlive their builder */
    assert_string_equal(aioe_endpoint_host(a), "localhost");
    aioe_endpoint_unref(a);
    aioe_endpoint_unref(a2);
}

static void argument_checks(void **state)
{
    (void)state;
    aioe_endpoint_builder *b;
    assert_int_equal(aioe_endpoint_builder_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_new(&b), AIOE_OK);
    assert_int_equal(aioe_endpoint_builder_set_name(NULL, "x"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_set_qos(NULL, 1), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_set_auth_method(b, (aioe_auth_method)0),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_set_auth_method(b, (aioe_auth_method)6),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_set_tls_mode(b, (aioe_tls_mode)3),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_builder_set_cloud_event_attributes(
                         b, (aioe_cloud_event_attributes)9), AIOE_ERR_INVALID_ARG);
    aioe_parse_result *errs = NULL;
    assert_int_equal(aioe_endpoint_builder_build(b, NULL, &errs), AIOE_ERR_INVALID_ARG);
    assert_null(errs);
    assert_int_equal(aioe_endpoint_builder_build(NULL, NULL, NULL), AIOE_ERR_INVALID_ARG);
    aioe_endpoint_builder_free(b);
    aioe_endpoint_builder_free(NULL);
    aioe_endpoint_builder_reset(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_the_parser),
        cmocka_unit_test(every_field_matches_the_parser),
        cmocka_unit_test(errors_match_the_parser),
        cmocka_unit_test(every_error_at_once),
        cmocka_unit_test(round_trip_and_reuse),
        cmocka_unit_test(argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
