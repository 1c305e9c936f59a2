/* aioe_endpoint_from_env() (env.h): the AIO SDKs' MqttConnectionSettings
 * environment variables -> an endpoint (through the endpoint builder, so
 * values are checked like DataflowEndpoint fields) + session options.
 * The table, its source and the choices where the SDKs disagree are in
 * docs/environment.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aioendpoint/endpoint_builder.h"
#include "aioendpoint/env.h"
#include "session_internal.h"
#include "spec/spec.h"

#define ENV_FILE "(environment)"
#define ENV_CA_CONFIG_MAP "aio-env-ca"
#define ENV_CLIENT_SECRET "aio-env-client-cert"
#define ENV_DEFAULT_PORT 8883u  /* all three SDKs (docs/environment.md) */

typedef struct ectx {
    aioe_parse_result *res;
    bool failed, oom;
} ectx;

static void env_err(ectx *c, const char *var, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void env_err(ectx *c, const char *var, const char *hint, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->failed = true;
    if (!aioe_result_add_error(c->res, 0, 0, var, hint, "%s", msg))
        c->oom = true;
}

/* Set and non-empty (the SDKs treat an empty variable as unset). */
static const char *get(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* "true" / "false" in any case (.NET's bool.Parse; Rust takes lower case
 * only, Go also 1/0/t/f: those are refused here, naming the variable). */
static bool get_bool(ectx *c, const char *var, bool def)
{
    const char *v = get(var);
    if (!v)
        return def;
    if (strcasecmp(v, "true") == 0)
        return true;
    if (strcasecmp(v, "false") == 0)
        return false;
    env_err(c, var, "use true or false", "%s='%.64s' is not a boolean", var, v);
    return def;
}

/* Decimal digits only, at most max; the SDKs' unsigned integer types. */
static uint64_t get_uint(ectx *c, const char *var, uint64_t min, uint64_t max,
                         uint64_t def, const char *hint)
{
    const char *v = get(var);
    if (!v)
        return def;
    uint64_t n = 0;
    bool ok = true;
    for (const char *p = v; *p && ok; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            ok = false;
        else
            n = n * 10 + (uint64_t)(*p - '0');
    }
    if (!ok) {
        env_err(c, var, hint, "%s='%.64s' is not an unsigned decimal integer", var, v);
        return def;
    }
    if (n < min || n > max) {
        env_err(c, var, hint, "%s=%llu is out of range; allowed %llu..%llu", var,
                (unsigned long long)n, (unsigned long long)min,
                (unsigned long long)max);
        return def;
    }
    return n;
}

/* The builder names endpoint fields; the environment names variables. */
static const char *variable_of(const char *path)
{
    static const struct { const char *path, *var; } map[] = {
        { "spec.mqttSettings.host", "AIO_BROKER_HOSTNAME" },
        { "spec.mqttSettings.keepAliveSeconds", "AIO_MQTT_KEEP_ALIVE" },
        { "spec.mqttSettings.sessionExpirySeconds", "AIO_MQTT_SESSION_EXPIRY" },
        { "spec.mqttSettings.clientIdPrefix", "AIO_MQTT_CLIENT_ID" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(path, map[i].path) == 0)
            return map[i].var;
    return path;
}

typedef struct env_values {
    const char *host, *client_id, *ca, *cert, *key, *key_pw, *sat, *user, *pw;
    bool tls, clean_start;
    uint64_t port, keep_alive, expiry;
} env_values;

static void read_values(ectx *c, env_values *v)
{
    v->host = get("AIO_BROKER_HOSTNAME");
    v->client_id = get("AIO_MQTT_CLIENT_ID");
    v->ca = get("AIO_TLS_CA_FILE");
    v->cert = get("AIO_TLS_CERT_FILE");
    v->key = get("AIO_TLS_KEY_FILE");
    v->key_pw = get("AIO_TLS_KEY_PASSWORD_FILE");
    v->sat = get("AIO_SAT_FILE");
    v->user = get("AIO_MQTT_USERNAME");
    v->pw = get("AIO_MQTT_PASSWORD_FILE");
    if (!v->host)
        env_err(c, "AIO_BROKER_HOSTNAME", "set it to the broker's host name, e.g. aio-broker",
                "AIO_BROKER_HOSTNAME is not set; it is required");
    v->port = get_uint(c, "AIO_BROKER_TCP_PORT", 1, 65535, ENV_DEFAULT_PORT,
                       "use a port number from 1 to 65535 (default 8883)");
    v->tls = get_bool(c, "AIO_MQTT_USE_TLS", true);
    v->clean_start = get_bool(c, "AIO_MQTT_CLEAN_START", false);
    v->keep_alive = get_uint(c, "AIO_MQTT_KEEP_ALIVE", 0, UINT32_MAX, 60,
                             "use seconds, 0..65535 (default 60)");
    v->expiry = get_uint(c, "AIO_MQTT_SESSION_EXPIRY", 0, UINT32_MAX, 3600,
                         "use seconds, 0..4294967295 (default 3600)");
    if (!v->client_id)
        env_err(c, "AIO_MQTT_CLIENT_ID", "set it to a client ID that stays the same across "
                "restarts", "AIO_MQTT_CLIENT_ID is not set; it is required");
}

/* The rules between variables (the SDKs' validation). */
static void check_combinations(ectx *c, const env_values *v)
{
    if (!v->tls) {
        const char *tls_vars[] = { "AIO_TLS_CA_FILE", "AIO_TLS_CERT_FILE",
                                   "AIO_TLS_KEY_FILE", "AIO_TLS_KEY_PASSWORD_FILE" };
        const char *vals[] = { v->ca, v->cert, v->key, v->key_pw };
        for (size_t i = 0; i < 4; i++)
            if (vals[i])
                env_err(c, tls_vars[i], "unset it, or set AIO_MQTT_USE_TLS=true",
                        "%s is set but AIO_MQTT_USE_TLS is false", tls_vars[i]);
    }
    if (v->cert && !v->key)
        env_err(c, "AIO_TLS_KEY_FILE", "set AIO_TLS_KEY_FILE to the certificate's key",
                "AIO_TLS_CERT_FILE is set but AIO_TLS_KEY_FILE is not; they go together");
    if (v->key && !v->cert)
        env_err(c, "AIO_TLS_CERT_FILE", "set AIO_TLS_CERT_FILE to the key's certificate",
                "AIO_TLS_KEY_FILE is set but AIO_TLS_CERT_FILE is not; they go together");
    if (v->key_pw && !v->key)
        env_err(c, "AIO_TLS_KEY_PASSWORD_FILE", "unset it, or set AIO_TLS_KEY_FILE",
                "AIO_TLS_KEY_PASSWORD_FILE is set but AIO_TLS_KEY_FILE is not");
    if (v->sat && v->pw)
        env_err(c, "AIO_MQTT_PASSWORD_FILE", "use either AIO_SAT_FILE or a user name and "
                "password", "AIO_SAT_FILE and AIO_MQTT_PASSWORD_FILE are both set; only "
                "one can be used");
    if (v->sat && v->cert)
        env_err(c, "AIO_TLS_CERT_FILE", "use either AIO_SAT_FILE or the client certificate",
                "AIO_SAT_FILE and AIO_TLS_CERT_FILE together are not supported: an "
                "endpoint has one authentication method");
    /* what aioe_session_options_set_username() accepts */
    aioe__field_problem pb;
    if (v->user && (strlen(v->user) > 65535 ||
                    !aioe__spec_check_text(v->user, strlen(v->user), &pb)))
        env_err(c, "AIO_MQTT_USERNAME", "use a user name without control characters",
                "AIO_MQTT_USERNAME is not a valid MQTT user name");
}

static int build_endpoint(ectx *c, const env_values *v, aioe_endpoint **out)
{
    aioe_endpoint_builder *b = NULL;
    int rc = aioe_endpoint_builder_new(&b);
    if (rc != AIOE_OK)
        return rc;
    char hp[600];
    bool v6 = strchr(v->host, ':') != NULL;
    snprintf(hp, sizeof hp, "%s%.512s%s:%u", v6 ? "[" : "", v->host, v6 ? "]" : "",
             (unsigned)v->port);
    aioe_endpoint_builder_set_name(b, AIOE_ENV_ENDPOINT_NAME);
    aioe_endpoint_builder_set_host(b, hp);
    aioe_endpoint_builder_set_tls_mode(b, v->tls ? AIOE_TLS_ENABLED : AIOE_TLS_DISABLED);
    if (v->ca)
        aioe_endpoint_builder_set_tls_ca_config_map_ref(b, ENV_CA_CONFIG_MAP);
    if (v->sat) {
        aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_SERVICE_ACCOUNT_TOKEN);
    } else if (v->cert) {
        aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_X509_CERTIFICATE);
        aioe_endpoint_builder_set_auth_secret_ref(b, ENV_CLIENT_SECRET);
    } else {
        aioe_endpoint_builder_set_auth_method(b, AIOE_AUTH_ANONYMOUS);
    }
    aioe_endpoint_builder_set_client_id_prefix(b, v->client_id);
    aioe_endpoint_builder_set_keep_alive_seconds(b, (int64_t)v->keep_alive);
    aioe_endpoint_builder_set_session_expiry_seconds(b, (int64_t)v->expiry);
    aioe_parse_result *errs = NULL;
    rc = aioe_endpoint_builder_build(b, out, &errs);
    aioe_endpoint_builder_free(b);
    for (size_t i = 0; errs && i < aioe_parse_result_error_count(errs); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(errs, i);
        const char *var = variable_of(e->path);
        env_err(c, var, e->hint, "%s: %s", var, e->message);
    }
    aioe_parse_result_free(errs);
    return rc == AIOE_ERR_INVALID_SPEC ? AIOE_OK : rc; /* reported above */
}

static int apply_options(aioe_session_options *o, const env_values *v)
{
    int rc = aioe_session_options_set_clean_start(o, v->clean_start);
    if (rc == AIOE_OK && v->user)
        rc = aioe_session_options_set_username(o, v->user);
    if (rc == AIOE_OK && v->pw)
        rc = aioe_session_options_set_password_file(o, v->pw);
    if (rc == AIOE_OK && v->key_pw)
        rc = aioe_session_options_set_key_password_file(o, v->key_pw);
    if (rc == AIOE_OK && v->sat)
        rc = aioe_session_options_set_token_file(o, v->sat);
    if (rc == AIOE_OK && v->ca)
        rc = aioe_session_options_set_resource_file(o, AIOE_RESOURCE_CONFIG_MAP,
                                                    ENV_CA_CONFIG_MAP, NULL, v->ca);
    if (rc == AIOE_OK && v->cert)
        rc = aioe_session_options_set_resource_file(o, AIOE_RESOURCE_SECRET,
                                                    ENV_CLIENT_SECRET, "client_cert.pem",
                                                    v->cert);
    if (rc == AIOE_OK && v->key)
        rc = aioe_session_options_set_resource_file(o, AIOE_RESOURCE_SECRET,
                                                    ENV_CLIENT_SECRET, "client_key.pem",
                                                    v->key);
    return rc;
}

int aioe_endpoint_from_env(aioe_endpoint **out, aioe_session_options *opts,
                           aioe_parse_result **errors)
{
    if (out)
        *out = NULL;
    if (errors)
        *errors = NULL;
    if (!out || !opts)
        return AIOE_ERR_INVALID_ARG;
    ectx c = { .res = aioe_result_new(ENV_FILE) };
    if (!c.res)
        return AIOE_ERR_NOMEM;
    env_values v;
    memset(&v, 0, sizeof v);
    read_values(&c, &v);
    check_combinations(&c, &v);
    aioe_endpoint *ep = NULL;
    int rc = AIOE_OK;
    if (v.host && v.client_id)
        rc = build_endpoint(&c, &v, &ep);
    if (rc == AIOE_OK && c.oom)
        rc = AIOE_ERR_NOMEM;
    if (rc == AIOE_OK && c.failed)
        rc = AIOE_ERR_INVALID_SPEC;
    if (rc == AIOE_OK)
        rc = apply_options(opts, &v);
    if (rc == AIOE_OK) {
        *out = ep;
        ep = NULL;
    }
    aioe_endpoint_unref(ep);
    if (errors && (rc == AIOE_OK || rc == AIOE_ERR_INVALID_SPEC))
        *errors = c.res;
    else
        aioe_parse_result_free(c.res);
    return rc;
}
