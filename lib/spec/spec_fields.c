/* Per-field rules of the DataflowEndpoint schema (spec_fields.h): the one
 * copy of every check, default and error wording that the YAML parser and
 * the endpoint builder share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "spec_fields.h"
#include "spec_internal.h"
#include "spec_util.h"

const char *const aioe__spec_auth_methods[] = {
    "ServiceAccountToken", "X509Certificate", "SystemAssignedManagedIdentity",
    "UserAssignedManagedIdentity", "Anonymous", NULL };
const char *const aioe__spec_auth_settings_keys[] = {
    "serviceAccountTokenSettings", "x509CertificateSettings",
    "systemAssignedManagedIdentitySettings", "userAssignedManagedIdentitySettings",
    "anonymousSettings", NULL };

const aioe__int_field aioe__spec_field_qos = {
    "qos", 0, 1, "use 0 (at most once) or 1 (at least once); QoS 2 is not supported" };
/* sessionExpirySeconds is an int32 in the REST specs; its hint depends on
 * the apiVersion's default (aioe__spec_session_expiry_hint). */
const aioe__int_field aioe__spec_field_session_expiry = {
    "sessionExpirySeconds", 0, AIOE_MAX_SESSION_EXPIRY, NULL };
/* 0 is in the schema ("minimum": 0) and means no limit of ours: MQTT v5
 * forbids a Receive Maximum of 0, so none is sent (the protocol's 65535
 * applies) and publishing is bounded by the broker's only. */
const aioe__int_field aioe__spec_field_max_inflight = {
    "maxInflightMessages", 0, 65535,
    "use 0..65535 (default 100; 0 = no limit set by the endpoint)" };
const aioe__int_field aioe__spec_field_keep_alive = {
    "keepAliveSeconds", 0, 65535,
    "use 0..65535 seconds (default 60; 0 turns keep-alive off)" };

static bool problem(aioe__field_problem *p, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool problem(aioe__field_problem *p, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof p->message) {
        /* messages quote user values: cut long ones on a UTF-8 character
         * boundary and say so (as spec_walk.c does for every error) */
        size_t end = sizeof p->message - 4;
        while (end > 0 && ((unsigned char)p->message[end] & 0xC0) == 0x80)
            end--;
        memcpy(p->message + end, "...", 4);
    }
    snprintf(p->hint, sizeof p->hint, "%s", hint ? hint : "");
    return false;
}

bool aioe__spec_check_text(const char *s, size_t len, aioe__field_problem *p)
{
    if (len == 0)
        return problem(p, "give a non-empty value or remove the field", "value is empty");
    if (aioe_has_control_char(s, len))
        return problem(p, "remove the control character or NUL byte",
                       "value contains a control character");
    if (aioe_is_placeholder(s, len))
        return problem(p, "replace the <...> placeholder with a real value",
                       "'%.*s' is a documentation placeholder", (int)len, s);
    return true;
}

#define K8S_NAME_HINT \
    "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"

bool aioe__spec_check_k8s_name(const char *s, size_t len, aioe__field_problem *p)
{
    if (!aioe__spec_check_text(s, len, p))
        return false;
    if (!aioe_is_dns1123_subdomain(s, len))
        return problem(p, K8S_NAME_HINT, "'%.*s' is not a valid Kubernetes resource name",
                       (int)len, s);
    return true;
}

bool aioe__spec_check_metadata_name(const char *s, size_t len, aioe__field_problem *p)
{
    return aioe__spec_check_k8s_name(s, len, p);
}

bool aioe__spec_check_metadata_namespace(const char *s, size_t len, aioe__field_problem *p)
{
    if (!aioe__spec_check_text(s, len, p))
        return false;
    if (!aioe_is_dns1123_label(s, len))
        return problem(p, "use lowercase letters, digits and '-', at most 63 characters",
                       "'%.*s' is not a valid namespace name", (int)len, s);
    return true;
}

bool aioe__spec_check_host(const char *s, size_t len, bool websockets, char **host,
                      uint16_t *port, char **ws_path, aioe__field_problem *p)
{
    *host = NULL;
    char *path = NULL;
    if (!aioe__spec_check_text(s, len, p))
        return false;
    const char *hint = "";
    const char *bad = aioe_split_host_port(s, len, websockets, host, port, &path, &hint);
    if (bad) {
        free(*host);
        free(path);
        *host = NULL;
        return problem(p, hint, "%s: '%.*s'", bad, (int)len, s);
    }
    if (ws_path)
        *ws_path = path;
    else
        free(path);
    return true;
}

void aioe__spec_session_expiry_hint(const struct aioe_api_version *ver, char *buf,
                               size_t size)
{
    snprintf(buf, size, "use 0..%u seconds (the schema's int32; default %u for %s)",
             AIOE_MAX_SESSION_EXPIRY, (unsigned)ver->default_session_expiry, ver->name);
}

static bool is_uuid(const char *s)
{
    uuid_t u;
    return strlen(s) == 36 && uuid_parse(s, u) == 0;
}

bool aioe__spec_check_uami_client_id(const char *s, aioe__field_problem *p)
{
    if (!aioe__spec_check_text(s, strlen(s), p))
        return false;
    if (!is_uuid(s))
        return problem(p, "use the identity's client ID, a GUID like "
                          "00000000-0000-0000-0000-000000000000",
                       "clientId '%s' is not a GUID", s);
    return true;
}

bool aioe__spec_check_uami_tenant_id(const char *s, aioe__field_problem *p)
{
    if (!aioe__spec_check_text(s, strlen(s), p))
        return false;
    if (!is_uuid(s) && !aioe_is_hostname(s, strlen(s)))
        return problem(p, "use the Microsoft Entra tenant's GUID or its domain name",
                       "tenantId '%s' is neither a GUID nor a domain name", s);
    return true;
}

bool aioe__spec_check_range(int64_t v, int64_t min, int64_t max, const char *hint,
                       aioe__field_problem *p)
{
    if (v < min || v > max)
        return problem(p, hint, "%lld is out of range; allowed %lld..%lld",
                       (long long)v, (long long)min, (long long)max);
    return true;
}

bool aioe__spec_check_int(const aioe__int_field *f, int64_t v, aioe__field_problem *p)
{
    return aioe__spec_check_range(v, f->min, f->max, f->hint, p);
}

void aioe__spec_set_defaults(aioe_endpoint *ep, const aioe_api_version *ver)
{
    ep->qos = AIOE_DEFAULT_QOS;
    ep->retain = AIOE_RETAIN_KEEP;
    ep->session_expiry_seconds = ver->default_session_expiry;
    ep->protocol = AIOE_PROTOCOL_MQTT;
    ep->max_inflight_messages = AIOE_DEFAULT_MAX_INFLIGHT;
    ep->keep_alive_seconds = AIOE_DEFAULT_KEEP_ALIVE;
    ep->cloud_event_attributes = AIOE_CLOUD_EVENTS_NONE;
    ep->tls_mode = AIOE_TLS_ENABLED;
}

static bool default_string(char **slot, const char *value)
{
    if (*slot)
        return true;
    *slot = strdup(value);
    return *slot != NULL;
}

bool aioe__spec_finish_defaults(aioe_endpoint *ep, const aioe_api_version *ver)
{
    bool ok = true;
    if (ep->host_default) {
        if (!ep->host) {
            ok &= default_string(&ep->host, ver->default_host);
            ep->port = ver->default_port;
        }
        /* the built-in broker's listener and its CA bundle */
        ok &= default_string(&ep->ca_config_map_ref, ver->default_ca_config_map);
    }
    if (ep->host && ep->port == 0) /* WebSockets without a port: HTTPS's or HTTP's */
        ep->port = ep->tls_mode == AIOE_TLS_DISABLED ? 80 : 443;
    if (ep->auth_method == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN)
        ok &= default_string(&ep->audience, AIOE_DEFAULT_SAT_AUDIENCE);
    else if (ep->auth_method == AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY)
        ok &= default_string(&ep->audience, AIOE_DEFAULT_MI_AUDIENCE);
    else if (ep->auth_method == AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY)
        ok &= default_string(&ep->scope, AIOE_DEFAULT_MI_SCOPE);
    return ok;
}
