/* The endpoint builder (endpoint_builder.h): typed setters collect values,
 * build checks each with the parser's own rules (spec_fields.c), applies
 * the parser's defaults and reports every problem as a parse error whose
 * path names the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aioendpoint/endpoint_builder.h"
#include "spec_fields.h"
#include "spec_internal.h"
#include "spec_util.h"

#define BUILDER_FILE "(builder)"
#define MQTT "spec.mqttSettings."
#define AUTH MQTT "authentication."

struct aioe_endpoint_builder {
    char *name, *ns, *host;
    char *audience, *secret_ref, *client_id, *tenant_id, *scope;
    char *ca_config_map_ref, *client_id_prefix;
    aioe_auth_method method;        /* 0: not set */
    aioe_tls_mode tls_mode;         /* 0: not set */
    aioe_retain retain;
    aioe_protocol protocol;
    aioe_cloud_event_attributes ce;
    bool has_qos, has_expiry, has_inflight, has_keep_alive;
    int64_t qos, expiry, inflight, keep_alive;
};

int aioe_endpoint_builder_new(aioe_endpoint_builder **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? AIOE_OK : AIOE_ERR_NOMEM;
}

void aioe_endpoint_builder_reset(aioe_endpoint_builder *b)
{
    if (!b)
        return;
    char *strings[] = { b->name, b->ns, b->host, b->audience, b->secret_ref,
                        b->client_id, b->tenant_id, b->scope,
                        b->ca_config_map_ref, b->client_id_prefix };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    memset(b, 0, sizeof *b);
}

void aioe_endpoint_builder_free(aioe_endpoint_builder *b)
{
    aioe_endpoint_builder_reset(b);
    free(b);
}

static int set_str(aioe_endpoint_builder *b, char **slot, const char *v)
{
    if (!b)
        return AIOE_ERR_INVALID_ARG;
    char *c = NULL;
    if (v && !(c = strdup(v)))
        return AIOE_ERR_NOMEM;
    free(*slot);
    *slot = c;
    return AIOE_OK;
}

#define STRING_SETTER(fn, field)                                               \
    int aioe_endpoint_builder_set_##fn(aioe_endpoint_builder *b, const char *v) \
    {                                                                          \
        return b ? set_str(b, &b->field, v) : AIOE_ERR_INVALID_ARG;            \
    }

STRING_SETTER(name, name)
STRING_SETTER(namespace, ns)
STRING_SETTER(host, host)
STRING_SETTER(auth_audience, audience)
STRING_SETTER(auth_secret_ref, secret_ref)
STRING_SETTER(auth_client_id, client_id)
STRING_SETTER(auth_tenant_id, tenant_id)
STRING_SETTER(auth_scope, scope)
STRING_SETTER(tls_ca_config_map_ref, ca_config_map_ref)
STRING_SETTER(client_id_prefix, client_id_prefix)

#define ENUM_SETTER(fn, type, field, lo, hi)                                   \
    int aioe_endpoint_builder_set_##fn(aioe_endpoint_builder *b, type v)       \
    {                                                                          \
        if (!b || (int)v < (int)(lo) || (int)v > (int)(hi))                    \
            return AIOE_ERR_INVALID_ARG;                                       \
        b->field = v;                                                          \
        return AIOE_OK;                                                        \
    }

ENUM_SETTER(auth_method, aioe_auth_method, method, AIOE_AUTH_SERVICE_ACCOUNT_TOKEN,
            AIOE_AUTH_ANONYMOUS)
ENUM_SETTER(tls_mode, aioe_tls_mode, tls_mode, AIOE_TLS_ENABLED, AIOE_TLS_DISABLED)
ENUM_SETTER(retain, aioe_retain, retain, AIOE_RETAIN_KEEP, AIOE_RETAIN_NEVER)
ENUM_SETTER(protocol, aioe_protocol, protocol, AIOE_PROTOCOL_MQTT,
            AIOE_PROTOCOL_WEBSOCKETS)
ENUM_SETTER(cloud_event_attributes, aioe_cloud_event_attributes, ce,
            AIOE_CLOUD_EVENTS_NONE, AIOE_CLOUD_EVENTS_CREATE_OR_REMAP)

#define INT_SETTER(fn, field)                                                  \
    int aioe_endpoint_builder_set_##fn(aioe_endpoint_builder *b, int64_t v)    \
    {                                                                          \
        if (!b)                                                                \
            return AIOE_ERR_INVALID_ARG;                                       \
        b->field = v;                                                          \
        b->has_##field = true;                                                 \
        return AIOE_OK;                                                        \
    }

INT_SETTER(qos, qos)
INT_SETTER(session_expiry_seconds, expiry)
INT_SETTER(max_inflight_messages, inflight)
INT_SETTER(keep_alive_seconds, keep_alive)

/* ---- build ------------------------------------------------------------ */

typedef struct bctx {
    aioe_parse_result *res;
    bool failed, oom;
} bctx;

static void err(bctx *c, const char *path, const char *hint, const char *msg)
{
    c->failed = true;
    if (!aioe_result_add_error(c->res, 0, 0, path, hint, "%s", msg))
        c->oom = true;
}

static void err_problem(bctx *c, const char *path, const aioe__field_problem *p)
{
    err(c, path, p->hint, p->message);
}

/* A string checked by `check`, copied into *slot when valid. */
static void take(bctx *c, const char *path, const char *v,
                 bool (*check)(const char *, size_t, aioe__field_problem *),
                 char **slot)
{
    if (!v)
        return;
    aioe__field_problem p;
    if (!check(v, strlen(v), &p)) {
        err_problem(c, path, &p);
        return;
    }
    if (!(*slot = strdup(v)))
        c->oom = true;
}

static void take_int(bctx *c, const aioe__int_field *f, bool has, int64_t v,
                     int64_t *out, const aioe_api_version *ver)
{
    if (!has)
        return;
    char path[128], hint[160];
    snprintf(path, sizeof path, MQTT "%s", f->key);
    aioe__field_problem p;
    const char *h = f->hint;
    if (!h) { /* sessionExpirySeconds: the hint names the version's default */
        aioe__spec_session_expiry_hint(ver, hint, sizeof hint);
        h = hint;
    }
    if (!aioe__spec_check_range(v, f->min, f->max, h, &p))
        err_problem(c, path, &p);
    else
        *out = v;
}

/* A setting of another method than the one in use: the parser's error. */
static void not_for_method(bctx *c, aioe_auth_method method, aioe_auth_method owner,
                           const char *field)
{
    char path[200], hint[160], msg[240];
    const char *key = aioe__spec_auth_settings_keys[owner - 1];
    snprintf(path, sizeof path, AUTH "%s.%s", key, field);
    snprintf(hint, sizeof hint, "remove it, or set method: %s",
             aioe__spec_auth_methods[owner - 1]);
    snprintf(msg, sizeof msg, "%s is set but method is %s", key,
             aioe__spec_auth_methods[method - 1]);
    err(c, path, hint, msg);
}

static void required(bctx *c, const char *path, const char *field, const char *setter)
{
    char hint[160], msg[160];
    snprintf(hint, sizeof hint, "set it with aioe_endpoint_builder_set_%s()", setter);
    snprintf(msg, sizeof msg, "required field '%s' is missing", field);
    err(c, path, hint, msg);
}

static void build_auth(bctx *c, const aioe_endpoint_builder *b, aioe_endpoint *ep)
{
    aioe_auth_method m = b->method ? b->method : AIOE_AUTH_SERVICE_ACCOUNT_TOKEN;
    ep->auth_method = m;
    bool audience_ok = m == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN ||
                       m == AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY;
    char path[200];
    if (b->audience && !audience_ok)
        not_for_method(c, m, AIOE_AUTH_SERVICE_ACCOUNT_TOKEN, "audience");
    else if (b->audience) {
        snprintf(path, sizeof path, AUTH "%s.audience", aioe__spec_auth_settings_keys[m - 1]);
        take(c, path, b->audience, aioe__spec_check_text, &ep->audience);
    }
    if (m == AIOE_AUTH_X509_CERTIFICATE) {
        if (!b->secret_ref)
            required(c, AUTH "x509CertificateSettings.secretRef", "secretRef",
                     "auth_secret_ref");
        take(c, AUTH "x509CertificateSettings.secretRef", b->secret_ref,
             aioe__spec_check_k8s_name, &ep->secret_ref);
    } else if (b->secret_ref) {
        not_for_method(c, m, AIOE_AUTH_X509_CERTIFICATE, "secretRef");
    }
    const char *uami = AUTH "userAssignedManagedIdentitySettings.";
    if (m == AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY) {
        aioe__field_problem p;
        snprintf(path, sizeof path, "%sclientId", uami);
        if (!b->client_id)
            required(c, path, "clientId", "auth_client_id");
        else if (!aioe__spec_check_uami_client_id(b->client_id, &p))
            err_problem(c, path, &p);
        else if (!(ep->client_id = strdup(b->client_id)))
            c->oom = true;
        snprintf(path, sizeof path, "%stenantId", uami);
        if (!b->tenant_id)
            required(c, path, "tenantId", "auth_tenant_id");
        else if (!aioe__spec_check_uami_tenant_id(b->tenant_id, &p))
            err_problem(c, path, &p);
        else if (!(ep->tenant_id = strdup(b->tenant_id)))
            c->oom = true;
        snprintf(path, sizeof path, "%sscope", uami);
        take(c, path, b->scope, aioe__spec_check_text, &ep->scope);
    } else {
        if (b->client_id)
            not_for_method(c, m, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY, "clientId");
        if (b->tenant_id)
            not_for_method(c, m, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY, "tenantId");
        if (b->scope)
            not_for_method(c, m, AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY, "scope");
    }
}

int aioe_endpoint_builder_build(const aioe_endpoint_builder *b, aioe_endpoint **out,
                                aioe_parse_result **errors)
{
    if (out)
        *out = NULL;
    if (errors)
        *errors = NULL;
    if (!b || !out)
        return AIOE_ERR_INVALID_ARG;
    /* the newest apiVersion's defaults, as a YAML document of it gets */
    const aioe_api_version *ver = aioe__api_version_newest();
    bctx c = { .res = aioe_result_new(BUILDER_FILE) };
    aioe_endpoint *ep = aioe_endpoint_alloc();
    if (!c.res || !ep) {
        aioe_parse_result_free(c.res);
        aioe_endpoint_destroy(ep);
        return AIOE_ERR_NOMEM;
    }
    if (!(ep->file = strdup(BUILDER_FILE)) ||
        !(ep->api_version = strdup(ver->name)))
        c.oom = true;
    aioe__spec_set_defaults(ep, ver);

    if (!b->name)
        required(&c, "metadata.name", "name", "name");
    take(&c, "metadata.name", b->name, aioe__spec_check_metadata_name, &ep->name);
    take(&c, "metadata.namespace", b->ns, aioe__spec_check_metadata_namespace,
         &ep->namespace_);
    if (b->host) {
        aioe__field_problem p;
        if (!aioe__spec_check_host(b->host, strlen(b->host),
                                   b->protocol == AIOE_PROTOCOL_WEBSOCKETS, &ep->host,
                                   &ep->port, &ep->ws_path, &p))
            err_problem(&c, MQTT "host", &p);
    } else {
        ep->host_default = true;
    }
    build_auth(&c, b, ep);
    if (b->tls_mode)
        ep->tls_mode = b->tls_mode;
    take(&c, MQTT "tls.trustedCaCertificateConfigMapRef", b->ca_config_map_ref,
         aioe__spec_check_k8s_name, &ep->ca_config_map_ref);
    take(&c, MQTT "clientIdPrefix", b->client_id_prefix, aioe__spec_check_text,
         &ep->client_id_prefix);
    int64_t v = ep->qos;
    take_int(&c, &aioe__spec_field_qos, b->has_qos, b->qos, &v, ver);
    ep->qos = (int)v;
    v = ep->session_expiry_seconds;
    take_int(&c, &aioe__spec_field_session_expiry, b->has_expiry, b->expiry, &v, ver);
    ep->session_expiry_seconds = (uint32_t)v;
    v = ep->max_inflight_messages;
    take_int(&c, &aioe__spec_field_max_inflight, b->has_inflight, b->inflight, &v, ver);
    ep->max_inflight_messages = (uint16_t)v;
    v = ep->keep_alive_seconds;
    take_int(&c, &aioe__spec_field_keep_alive, b->has_keep_alive, b->keep_alive, &v, ver);
    ep->keep_alive_seconds = (uint16_t)v;
    if (b->retain)
        ep->retain = b->retain;
    if (b->protocol)
        ep->protocol = b->protocol;
    ep->cloud_event_attributes = b->ce;
    if (!c.oom && !aioe__spec_finish_defaults(ep, ver))
        c.oom = true;

    int rc = c.oom ? AIOE_ERR_NOMEM : c.failed ? AIOE_ERR_INVALID_SPEC : AIOE_OK;
    if (rc == AIOE_OK)
        *out = ep;
    else
        aioe_endpoint_destroy(ep);
    if (errors && rc != AIOE_ERR_NOMEM)
        *errors = c.res;
    else
        aioe_parse_result_free(c.res);
    return rc;
}
