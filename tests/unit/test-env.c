/* aioe_endpoint_from_env() (issue #17 §2): the AIO SDK connection
 * variables, their defaults, their validation (each error names its
 * variable) and what lands in the endpoint and the session options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#include "session_internal.h"

static const char *const all_vars[] = {
    "AIO_BROKER_HOSTNAME", "AIO_BROKER_TCP_PORT", "AIO_MQTT_USE_TLS",
    "AIO_TLS_CA_FILE", "AIO_TLS_CERT_FILE", "AIO_TLS_KEY_FILE",
    "AIO_TLS_KEY_PASSWORD_FILE", "AIO_SAT_FILE", "AIO_MQTT_CLIENT_ID",
    "AIO_MQTT_CLEAN_START", "AIO_MQTT_KEEP_ALIVE", "AIO_MQTT_SESSION_EXPIRY",
    "AIO_MQTT_USERNAME", "AIO_MQTT_PASSWORD_FILE", NULL };

static int clear_env(void **state)
{
    (void)state;
    for (const char *const *v = all_vars; *v; v++)
        unsetenv(*v);
    return 0;
}

static void set(const char *name, const char *value)
{
    assert_int_equal(setenv(name, value, 1), 0);
}

/* Runs the call; returns its status, the endpoint in *ep. */
static int from_env(aioe_session_options *o, aioe_endpoint **ep, aioe_parse_result **errs)
{
    int rc = aioe_endpoint_from_env(ep, o, errs);
    for (size_t i = 0; *errs && i < aioe_parse_result_error_count(*errs); i++)
        print_message("  %s: %s (%s)\n", aioe_parse_result_error(*errs, i)->path,
                      aioe_parse_result_error(*errs, i)->message,
                      aioe_parse_result_error(*errs, i)->hint);
    return rc;
}

static bool has_error(const aioe_parse_result *r, const char *var)
{
    for (size_t i = 0; i < aioe_parse_result_error_count(r); i++)
        if (strcmp(aioe_parse_result_error(r, i)->path, var) == 0)
            return true;
    return false;
}

static void defaults(void **state)
{
    (void)state;
    set("AIO_BROKER_HOSTNAME", "broker.example.com");
    set("AIO_MQTT_CLIENT_ID", "engine-7");
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_endpoint *ep = NULL;
    aioe_parse_result *errs = NULL;
    assert_int_equal(from_env(o, &ep, &errs), AIOE_OK);
    assert_int_equal(aioe_parse_result_error_count(errs), 0);
    assert_string_equal(aioe_endpoint_name(ep), AIOE_ENV_ENDPOINT_NAME);
    assert_string_equal(aioe_endpoint_host(ep), "broker.example.com");
    assert_int_equal(aioe_endpoint_port(ep), 8883);
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_ENABLED);
    assert_null(aioe_endpoint_tls_ca_config_map_ref(ep)); /* system trust store */
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_ANONYMOUS);
    assert_string_equal(aioe_endpoint_client_id_prefix(ep), "engine-7");
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 60);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 3600);
    assert_false(o->conn.clean_start);
    assert_null(o->conn.username);
    assert_int_equal(o->conn.n_pins, 0);
    /* the session's client ID is the variable's value */
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, ep, "", o), AIOE_OK);
    assert_string_equal(aioe_session_client_id(s), "engine-7");
    aioe_session_free(s);
    aioe_endpoint_unref(ep);
    aioe_parse_result_free(errs);
    aioe_session_options_free(o);
}

static void every_variable(void **state)
{
    (void)state;
    set("AIO_BROKER_HOSTNAME", "fd00::5");
    set("AIO_BROKER_TCP_PORT", "18883");
    set("AIO_MQTT_USE_TLS", "TRUE");
    set("AIO_TLS_CA_FILE", "/certs/ca.pem");
    set("AIO_TLS_CERT_FILE", "/certs/client.pem");
    set("AIO_TLS_KEY_FILE", "/certs/client.key");
    set("AIO_TLS_KEY_PASSWORD_FILE", "/certs/key.pw");
    set("AIO_MQTT_CLIENT_ID", "engine-7");
    set("AIO_MQTT_CLEAN_START", "true");
    set("AIO_MQTT_KEEP_ALIVE", "15");
    set("AIO_MQTT_SESSION_EXPIRY", "0");
    set("AIO_MQTT_USERNAME", "operator");
    set("AIO_MQTT_PASSWORD_FILE", "/secrets/pw");
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_endpoint *ep = NULL;
    aioe_parse_result *errs = NULL;
    assert_int_equal(from_env(o, &ep, &errs), AIOE_OK);
    assert_string_equal(aioe_endpoint_host(ep), "fd00::5");
    assert_int_equal(aioe_endpoint_port(ep), 18883);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_X509_CERTIFICATE);
    assert_string_equal(aioe_endpoint_auth_secret_ref(ep), "aio-env-client-cert");
    assert_string_equal(aioe_endpoint_tls_ca_config_map_ref(ep), "aio-env-ca");
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 15);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), 0);
    assert_true(o->conn.clean_start);
    assert_string_equal(o->conn.username, "operator");
    assert_string_equal(o->conn.password_file, "/secrets/pw");
    assert_string_equal(o->conn.key_password_file, "/certs/key.pw");
    assert_int_equal(o->conn.n_pins, 3);
    aioe_endpoint_unref(ep);
    aioe_parse_result_free(errs);

    /* SAT instead of the certificate (and no password with it) */
    clear_env(NULL);
    set("AIO_BROKER_HOSTNAME", "aio-broker");
    set("AIO_BROKER_TCP_PORT", "18883");
    set("AIO_MQTT_CLIENT_ID", "engine-7");
    set("AIO_SAT_FILE", "/var/run/secrets/tokens/mq-sat");
    set("AIO_MQTT_USE_TLS", "false");
    assert_int_equal(from_env(o, &ep, &errs), AIOE_OK);
    assert_int_equal(aioe_endpoint_auth_method(ep), AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_DISABLED);
    assert_string_equal(o->token_file, "/var/run/secrets/tokens/mq-sat");
    aioe_endpoint_unref(ep);
    aioe_parse_result_free(errs);
    aioe_session_options_free(o);
}

static void each_bad_variable_is_named(void **state)
{
    (void)state;
    struct { const char *var, *value; } bad[] = {
        { "AIO_BROKER_TCP_PORT", "0" },
        { "AIO_BROKER_TCP_PORT", "65536" },
        { "AIO_BROKER_TCP_PORT", "-1" },
        { "AIO_BROKER_TCP_PORT", " 1883" },
        { "AIO_MQTT_USE_TLS", "yes" },
        { "AIO_MQTT_CLEAN_START", "1" },
        { "AIO_MQTT_KEEP_ALIVE", "4294967296" },
        { "AIO_MQTT_KEEP_ALIVE", "70000" },       /* a uint32, but over MQTT's 65535 */
        { "AIO_MQTT_SESSION_EXPIRY", "1h" },
        { "AIO_BROKER_HOSTNAME", "bad host name" },
        { "AIO_MQTT_CLIENT_ID", "a\tb" },
        { "AIO_MQTT_USERNAME", "x\ny" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clear_env(NULL);
        set("AIO_BROKER_HOSTNAME", "broker");
        set("AIO_MQTT_CLIENT_ID", "c");
        set(bad[i].var, bad[i].value);
        print_message("%s=%s\n", bad[i].var, bad[i].value);
        aioe_session_options *o;
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        aioe_endpoint *ep = (aioe_endpoint *)(uintptr_t)1;
        aioe_parse_result *errs = NULL;
        assert_int_equal(from_env(o, &ep, &errs), AIOE_ERR_INVALID_SPEC);
        assert_null(ep);
        assert_int_equal(aioe_parse_result_error_count(errs), 1);
        assert_string_equal(aioe_parse_result_error(errs, 0)->path, bad[i].var);
        assert_non_null(strstr(aioe_parse_result_error(errs, 0)->message, bad[i].var));
        assert_string_equal(aioe_parse_result_error(errs, 0)->file, "(environment)");
        assert_null(o->conn.username); /* options unchanged on error */
        aioe_parse_result_free(errs);
        aioe_session_options_free(o);
    }
}

static void combinations(void **state)
{
    (void)state;
    struct {
        const char *set[8];  /* name, value pairs */
        const char *named[4];
    } cases[] = {
        { { NULL }, { "AIO_BROKER_HOSTNAME", "AIO_MQTT_CLIENT_ID" } },
        { { "AIO_BROKER_HOSTNAME", "b", "AIO_MQTT_CLIENT_ID", "c", "AIO_TLS_CERT_FILE", "/c" },
          { "AIO_TLS_KEY_FILE" } },
        { { "AIO_BROKER_HOSTNAME", "b", "AIO_MQTT_CLIENT_ID", "c", "AIO_TLS_KEY_FILE", "/k" },
          { "AIO_TLS_CERT_FILE" } },
        { { "AIO_BROKER_HOSTNAME", "b", "AIO_MQTT_CLIENT_ID", "c",
            "AIO_TLS_KEY_PASSWORD_FILE", "/p" }, { "AIO_TLS_KEY_PASSWORD_FILE" } },
        { { "AIO_BROKER_HOSTNAME", "b", "AIO_MQTT_CLIENT_ID", "c", "AIO_SAT_FILE", "/t",
            "AIO_MQTT_PASSWORD_FILE", "/p" }, { "AIO_MQTT_PASSWORD_FILE" } },
        { { "AIO_BROKER_HOSTNAME", "b", "AIO_MQTT_CLIENT_ID", "c", "AIO_MQTT_USE_TLS", "false",
            "AIO_TLS_CA_FILE", "/ca" }, { "AIO_TLS_CA_FILE" } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env(NULL);
        for (size_t k = 0; k < 8 && cases[i].set[k]; k += 2)
            set(cases[i].set[k], cases[i].set[k + 1]);
        aioe_session_options *o;
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        aioe_endpoint *ep = NULL;
        aioe_parse_result *errs = NULL;
        assert_int_equal(from_env(o, &ep, &errs), AIOE_ERR_INVALID_SPEC);
        size_t n = 0;
        for (; n < 4 && cases[i].named[n]; n++)
            assert_true(has_error(errs, cases[i].named[n]));
        assert_int_equal(aioe_parse_result_error_count(errs), n);
        aioe_parse_result_free(errs);
        aioe_session_options_free(o);
    }
    /* several problems at once: every one is listed */
    clear_env(NULL);
    set("AIO_BROKER_TCP_PORT", "x");
    set("AIO_MQTT_USE_TLS", "maybe");
    set("AIO_MQTT_KEEP_ALIVE", "-3");
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_endpoint *ep = NULL;
    aioe_parse_result *errs = NULL;
    assert_int_equal(from_env(o, &ep, &errs), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_error_count(errs), 5);
    aioe_parse_result_free(errs);
    assert_int_equal(aioe_endpoint_from_env(NULL, o, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_endpoint_from_env(&ep, NULL, NULL), AIOE_ERR_INVALID_ARG);
    aioe_session_options_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults, clear_env),
        cmocka_unit_test_setup(every_variable, clear_env),
        cmocka_unit_test_setup(each_bad_variable_is_named, clear_env),
        cmocka_unit_test_setup(combinations, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
