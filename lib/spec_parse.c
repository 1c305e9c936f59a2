/* DataflowEndpoint YAML → validated, defaulted aioe_endpoint.
 *
 * The stream is loaded one document at a time with libyaml's loader, then
 * walked against the schema. Every problem is recorded with its position
 * and field path and the walk goes on, so one run reports all of them.
 * Aliases resolve to shared nodes and only known fields are walked, so
 * alias bombs cost nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include <yaml.h>

#include "spec_internal.h"
#include "spec_util.h"
#include "yaml_tree.h"

/* Mappings the schema walks may hold at most this many keys. */
#define MAX_SCHEMA_KEYS 256
#define PATH_MAX_LEN 256

typedef struct pctx {
    aioe_parse_result *res;
    yaml_document_t *doc;
    bool failed; /* the current document has errors */
    bool oom;
} pctx;

/* ---- error reporting ------------------------------------------------ */

__attribute__((format(printf, 5, 0)))
static void verr(pctx *c, yt_pos pos, const char *path, const char *hint,
                 const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    c->failed = true;
    if (!aioe_result_add_error(c->res, pos.line, pos.column, path, hint, "%s", msg))
        c->oom = true;
}

__attribute__((format(printf, 5, 6)))
static void err_at(pctx *c, const yaml_node_t *node, const char *path,
                   const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    yt_pos pos = node ? yt_node_pos(node) : (yt_pos){ 0, 0 };
    verr(c, pos, path, hint, fmt, ap);
    va_end(ap);
}

/* parent + "." + key into a PATH_MAX_LEN buffer; over-long paths (only
 * possible with unknown user keys) are cut, never overflowed. */
static void join_path(char *out, const char *parent, const char *key)
{
    size_t used = 0;
    const char *parts[3] = { parent, parent[0] ? "." : "", key };
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && used < PATH_MAX_LEN - 1; p++)
            out[used++] = *p;
    out[used] = '\0';
}

/* ---- generic checks ------------------------------------------------- */

/* Reports non-string keys, duplicate keys and keys outside `known`
 * (unless listed in `ignored`), with a suggestion for likely typos.
 * `extra_hint` adds context to unknown-key errors (may be NULL). */
static void check_keys(pctx *c, const yaml_node_t *map, const char *path,
                       const char *const *known, const char *const *ignored)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n > MAX_SCHEMA_KEYS) {
        err_at(c, map, path, "remove the unknown fields",
               "mapping has %zu keys, more than the %d this resource can hold",
               n, MAX_SCHEMA_KEYS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = yt_node(c->doc, map->data.mapping.pairs.start[i].key);
        if (!k)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            err_at(c, k, path, "use plain field names as keys",
                   "a key is %s, expected a field name", yt_describe(k));
            continue;
        }
        const char *key = yt_text(k);
        size_t klen = yt_len(k);
        char kpath[PATH_MAX_LEN];
        join_path(kpath, path, key);
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *prev = yt_node(c->doc, map->data.mapping.pairs.start[j].key);
            if (prev && prev->type == YAML_SCALAR_NODE && yt_len(prev) == klen &&
                memcmp(yt_text(prev), key, klen) == 0) {
                yt_pos pp = yt_node_pos(prev);
                char hint[96];
                snprintf(hint, sizeof hint, "keep one of the two; the first is at line %u",
                         pp.line);
                err_at(c, k, kpath, hint, "duplicate key '%s'", key);
                break;
            }
        }
        bool found = false;
        for (const char *const *w = known; *w && !found; w++)
            found = strlen(*w) == klen && memcmp(*w, key, klen) == 0;
        for (const char *const *w = ignored; w && *w && !found; w++)
            found = strlen(*w) == klen && memcmp(*w, key, klen) == 0;
        if (found)
            continue;
        const char *sugg = aioe_did_you_mean(key, klen, known);
        char hint[512];
        if (sugg) {
            snprintf(hint, sizeof hint, "did you mean '%s'?", sugg);
        } else {
            size_t used = (size_t)snprintf(hint, sizeof hint, "known fields here:");
            for (const char *const *w = known; *w && used < sizeof hint; w++)
                used += (size_t)snprintf(hint + used, sizeof hint - used, "%s %s",
                                         w == known ? "" : ",", *w);
        }
        err_at(c, k, kpath, hint, "unknown field '%s'", key);
    }
}

/* Returns the value of `key` when present and not null; else NULL.
 * `*key_out` (may be NULL) gets the key node. */
static yaml_node_t *field(pctx *c, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = yt_map_get(c->doc, map, key);
    return v && !yt_is_null(v) ? v : NULL;
}

/* A string field. Returns true and a malloc'd copy in *out when present;
 * false when absent or wrong (wrong values are reported). */
static bool get_string(pctx *c, const yaml_node_t *map, const char *parent,
                       const char *key, bool required, char **out)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, key);
    *out = NULL;
    yaml_node_t *v = field(c, map, key);
    if (!v) {
        if (required) {
            char hint[160];
            snprintf(hint, sizeof hint, "add '%s: <value>' under %s", key,
                     parent[0] ? parent : "the document");
            err_at(c, map, path, hint, "required field '%s' is missing", key);
        }
        return false;
    }
    if (v->type != YAML_SCALAR_NODE || yt_scalar_type_of(v) != YT_STRING) {
        const char *hint = v->type == YAML_SCALAR_NODE
                               ? "put the value in quotes to make it a string"
                               : "give a single string value";
        err_at(c, v, path, hint, "expected a string, got %s", yt_describe(v));
        return false;
    }
    const char *t = yt_text(v);
    size_t len = yt_len(v);
    if (len == 0) {
        err_at(c, v, path, "give a non-empty value or remove the field",
               "value is empty");
        return false;
    }
    if (aioe_has_control_char(t, len)) {
        err_at(c, v, path, "remove the control character or NUL byte",
               "value contains a control character");
        return false;
    }
    if (aioe_is_placeholder(t, len)) {
        err_at(c, v, path, "replace the <...> placeholder with a real value",
               "'%s' is a documentation placeholder", t);
        return false;
    }
    *out = aioe_strndup(t, len);
    if (!*out) {
        c->oom = true;
        return false;
    }
    return true;
}

/* An integer field in [min, max]; returns true when present and valid. */
static bool get_int(pctx *c, const yaml_node_t *map, const char *parent,
                    const char *key, int64_t min, int64_t max,
                    const char *range_hint, int64_t *out)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, key);
    yaml_node_t *v = field(c, map, key);
    if (!v)
        return false;
    if (v->type != YAML_SCALAR_NODE) {
        err_at(c, v, path, range_hint, "expected an integer, got %s", yt_describe(v));
        return false;
    }
    yt_scalar_type t = yt_scalar_type_of(v);
    int64_t value = 0;
    bool overflow = false;
    if (t != YT_INT || !yt_parse_int(yt_text(v), yt_len(v), &value, &overflow)) {
        if (t == YT_INT || overflow) {
            err_at(c, v, path, range_hint, "integer %s does not fit; allowed %lld..%lld",
                   yt_text(v), (long long)min, (long long)max);
        } else if (t == YT_STRING && v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
            err_at(c, v, path, "remove the quotes around the number",
                   "expected an integer, got a quoted string");
        } else {
            err_at(c, v, path, range_hint, "expected an integer, got %s", yt_describe(v));
        }
        return false;
    }
    if (value < min || value > max) {
        err_at(c, v, path, range_hint, "%lld is out of range; allowed %lld..%lld",
               (long long)value, (long long)min, (long long)max);
        return false;
    }
    *out = value;
    return true;
}

/* An enum field: one of names[] (case-sensitive, as the schema is).
 * Returns the index, or -1 when absent or invalid. */
static int get_enum(pctx *c, const yaml_node_t *map, const char *parent,
                    const char *key, const char *const *names)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, key);
    yaml_node_t *v = field(c, map, key);
    if (!v)
        return -1;
    if (v->type == YAML_SCALAR_NODE) {
        for (int i = 0; names[i]; i++)
            if (strlen(names[i]) == yt_len(v) && memcmp(names[i], yt_text(v), yt_len(v)) == 0)
                return i;
    }
    /* Only wrong values pay for building the message. */
    char expected[160];
    size_t used = 0;
    for (const char *const *w = names; *w && used < sizeof expected; w++)
        used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s",
                                 w == names ? "" : w[1] ? ", " : " or ", *w);
    if (v->type != YAML_SCALAR_NODE) {
        char hint[200];
        snprintf(hint, sizeof hint, "use one of %s", expected);
        err_at(c, v, path, hint, "expected one of %s, got %s", expected, yt_describe(v));
        return -1;
    }
    const char *t = yt_text(v);
    size_t len = yt_len(v);
    const char *sugg = aioe_did_you_mean(t, len, names);
    char hint[200];
    if (sugg)
        snprintf(hint, sizeof hint, "did you mean '%s'? (values are case-sensitive)", sugg);
    else
        snprintf(hint, sizeof hint, "use one of %s", expected);
    err_at(c, v, path, hint, "'%.*s' is not a valid value; expected %s",
           len > 64 ? 64 : (int)len, t, expected);
    return -1;
}

/* A nested object: returns the mapping, or NULL with *state saying why
 * (absent, null, or a wrong type that has been reported). */
typedef enum { MAP_ABSENT, MAP_NULL, MAP_WRONG, MAP_OK } map_state;

static yaml_node_t *get_map(pctx *c, const yaml_node_t *map, const char *parent,
                            const char *key, map_state *state)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, key);
    yaml_node_t *v = yt_map_get(c->doc, map, key);
    if (!v) {
        *state = MAP_ABSENT;
        return NULL;
    }
    if (yt_is_null(v)) {
        *state = MAP_NULL;
        return NULL;
    }
    if (v->type != YAML_MAPPING_NODE) {
        err_at(c, v, path, "write the settings as indented 'field: value' lines, or {} for none",
               "expected a mapping, got %s", yt_describe(v));
        *state = MAP_WRONG;
        return NULL;
    }
    *state = MAP_OK;
    return v;
}

/* A Kubernetes object reference (secret or config map name). */
static bool get_k8s_name(pctx *c, const yaml_node_t *map, const char *parent,
                         const char *key, bool required, char **out)
{
    if (!get_string(c, map, parent, key, required, out))
        return false;
    size_t len = strlen(*out);
    if (aioe_is_dns1123_subdomain(*out, len))
        return true;
    char path[PATH_MAX_LEN];
    join_path(path, parent, key);
    yaml_node_t *v = field(c, map, key);
    if (aioe_is_placeholder(*out, len))
        err_at(c, v, path, "replace the <...> placeholder with the resource's name",
               "'%s' is a documentation placeholder, not a name", *out);
    else
        err_at(c, v, path,
               "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
               "'%s' is not a valid Kubernetes resource name", *out);
    free(*out);
    *out = NULL;
    return false;
}

/* ---- the DataflowEndpoint schema ------------------------------------ */

static const char *const top_keys[] = { "apiVersion", "kind", "metadata", "spec", NULL };
static const char *const top_ignored[] = { "status", NULL };
static const char *const metadata_keys[] = { "name", "namespace", NULL };
static const char *const metadata_ignored[] = {
    "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "finalizers", "ownerReferences", "managedFields", "generateName",
    "selfLink", NULL };
static const char *const spec_keys[] = { "endpointType", "mqttSettings", NULL };
/* Settings of endpoint types this library does not implement. */
static const char *const other_settings[] = {
    "kafkaSettings", "localStorageSettings", "fabricOneLakeSettings",
    "dataExplorerSettings", "dataLakeStorageSettings", "openTelemetrySettings",
    NULL };
static const char *const endpoint_types[] = { "Mqtt", NULL };
static const char *const other_endpoint_types[] = {
    "Kafka", "LocalStorage", "FabricOneLake", "DataExplorer",
    "DataLakeStorage", "OpenTelemetry", NULL };
static const char *const mqtt_keys[] = {
    "host", "authentication", "tls", "clientIdPrefix", "qos", "retain",
    "sessionExpirySeconds", "protocol", "maxInflightMessages",
    "keepAliveSeconds", "cloudEventAttributes", "CloudEventAttributes", NULL };
static const char *const auth_keys[] = {
    "method", "serviceAccountTokenSettings", "x509CertificateSettings",
    "systemAssignedManagedIdentitySettings", "userAssignedManagedIdentitySettings",
    "anonymousSettings", NULL };
/* Indexed by aioe_auth_method - 1. */
static const char *const auth_methods[] = {
    "ServiceAccountToken", "X509Certificate", "SystemAssignedManagedIdentity",
    "UserAssignedManagedIdentity", "Anonymous", NULL };
static const char *const auth_settings_key[] = {
    "serviceAccountTokenSettings", "x509CertificateSettings",
    "systemAssignedManagedIdentitySettings", "userAssignedManagedIdentitySettings",
    "anonymousSettings", NULL };
static const char *const sat_keys[] = { "audience", NULL };
static const char *const x509_keys[] = { "secretRef", NULL };
static const char *const sami_keys[] = { "audience", NULL };
static const char *const uami_keys[] = { "clientId", "tenantId", "scope", NULL };
static const char *const no_keys[] = { NULL };
static const char *const tls_keys[] = { "mode", "trustedCaCertificateConfigMapRef", NULL };
static const char *const tls_modes[] = { "Enabled", "Disabled", NULL };
static const char *const retain_values[] = { "Keep", "Never", NULL };
static const char *const protocols[] = { "Mqtt", "WebSockets", NULL };
static const char *const ce_values[] = { "Propagate", "CreateOrRemap", NULL };

static bool is_uuid(const char *s)
{
    uuid_t u;
    return strlen(s) == 36 && uuid_parse(s, u) == 0;
}

static void parse_uami(pctx *c, aioe_endpoint *ep, const yaml_node_t *settings,
                       const yaml_node_t *auth, const char *path)
{
    /* The settings object is required: clientId and tenantId are. */
    if (!settings) {
        char p[PATH_MAX_LEN];
        join_path(p, path, "userAssignedManagedIdentitySettings");
        err_at(c, auth, p, "add userAssignedManagedIdentitySettings with clientId and tenantId",
               "UserAssignedManagedIdentity needs userAssignedManagedIdentitySettings");
        return;
    }
    char sp[PATH_MAX_LEN];
    join_path(sp, path, "userAssignedManagedIdentitySettings");
    check_keys(c, settings, sp, uami_keys, NULL);
    if (get_string(c, settings, sp, "clientId", true, &ep->client_id) &&
        !is_uuid(ep->client_id)) {
        char p[PATH_MAX_LEN];
        join_path(p, sp, "clientId");
        err_at(c, field(c, settings, "clientId"), p,
               aioe_is_placeholder(ep->client_id, strlen(ep->client_id))
                   ? "replace the <...> placeholder with the identity's client ID"
                   : "use the identity's client ID, a GUID like 00000000-0000-0000-0000-000000000000",
               "clientId '%s' is not a GUID", ep->client_id);
    }
    if (get_string(c, settings, sp, "tenantId", true, &ep->tenant_id) &&
        !is_uuid(ep->tenant_id) &&
        !aioe_is_hostname(ep->tenant_id, strlen(ep->tenant_id))) {
        char p[PATH_MAX_LEN];
        join_path(p, sp, "tenantId");
        err_at(c, field(c, settings, "tenantId"), p,
               aioe_is_placeholder(ep->tenant_id, strlen(ep->tenant_id))
                   ? "replace the <...> placeholder with the tenant's ID"
                   : "use the Microsoft Entra tenant's GUID or its domain name",
               "tenantId '%s' is neither a GUID nor a domain name", ep->tenant_id);
    }
    if (!get_string(c, settings, sp, "scope", false, &ep->scope) && !c->oom &&
        !ep->scope)
        ep->scope = strdup(AIOE_DEFAULT_MI_SCOPE);
}

static void parse_authentication(pctx *c, aioe_endpoint *ep,
                                 const yaml_node_t *mqtt, const char *parent)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, "authentication");
    map_state st;
    yaml_node_t *auth = get_map(c, mqtt, parent, "authentication", &st);

    int method = -1;
    if (auth) {
        check_keys(c, auth, path, auth_keys, NULL);
        method = get_enum(c, auth, path, "method", auth_methods);
        if (method < 0 && !field(c, auth, "method")) {
            char mp[PATH_MAX_LEN];
            join_path(mp, path, "method");
            err_at(c, auth, mp,
                   "add 'method:' with one of ServiceAccountToken, X509Certificate, "
                   "SystemAssignedManagedIdentity, UserAssignedManagedIdentity, Anonymous",
                   "required field 'method' is missing");
        }
    } else if (st != MAP_WRONG) {
        method = AIOE_AUTH_SERVICE_ACCOUNT_TOKEN - 1; /* documented default */
    }
    if (method < 0) {
        c->failed = true;
        return;
    }
    ep->auth_method = (aioe_auth_method)(method + 1);

    /* Settings objects of other methods are mistakes, not decoration. */
    for (int i = 0; auth && auth_settings_key[i]; i++) {
        yaml_node_t *key_node = NULL;
        if (i != method && yt_map_get_key(c->doc, auth, auth_settings_key[i], &key_node)) {
            char p[PATH_MAX_LEN];
            join_path(p, path, auth_settings_key[i]);
            char hint[160];
            snprintf(hint, sizeof hint, "remove it, or set method: %s", auth_methods[i]);
            err_at(c, key_node, p, hint, "%s is set but method is %s",
                   auth_settings_key[i], auth_methods[method]);
        }
    }

    char sp[PATH_MAX_LEN];
    join_path(sp, path, auth_settings_key[method]);
    map_state sst = MAP_ABSENT;
    yaml_node_t *settings = auth ? get_map(c, auth, path, auth_settings_key[method], &sst)
                                 : NULL;
    if (sst == MAP_WRONG)
        return;
    switch (ep->auth_method) {
    case AIOE_AUTH_SERVICE_ACCOUNT_TOKEN:
    case AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY:
        if (settings) {
            check_keys(c, settings, sp,
                       ep->auth_method == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN ? sat_keys : sami_keys,
                       NULL);
            get_string(c, settings, sp, "audience", false, &ep->audience);
        }
        if (!ep->audience && !c->oom)
            ep->audience = strdup(ep->auth_method == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN
                                      ? AIOE_DEFAULT_SAT_AUDIENCE
                                      : AIOE_DEFAULT_MI_AUDIENCE);
        break;
    case AIOE_AUTH_X509_CERTIFICATE:
        if (!settings) {
            err_at(c, auth, sp, "add x509CertificateSettings with secretRef: <secret name>",
                   "X509Certificate needs x509CertificateSettings.secretRef");
            break;
        }
        check_keys(c, settings, sp, x509_keys, NULL);
        get_k8s_name(c, settings, sp, "secretRef", true, &ep->secret_ref);
        break;
    case AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY:
        parse_uami(c, ep, settings, auth, path);
        break;
    case AIOE_AUTH_ANONYMOUS:
        if (settings)
            check_keys(c, settings, sp, no_keys, NULL);
        break;
    }
    if (ep->audience == NULL && (ep->auth_method == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN ||
                                 ep->auth_method == AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY))
        c->oom = true;
}

static void parse_tls(pctx *c, aioe_endpoint *ep, const yaml_node_t *mqtt,
                      const char *parent)
{
    char path[PATH_MAX_LEN];
    join_path(path, parent, "tls");
    map_state st;
    yaml_node_t *tls = get_map(c, mqtt, parent, "tls", &st);
    ep->tls_mode = AIOE_TLS_ENABLED;
    if (tls) {
        check_keys(c, tls, path, tls_keys, NULL);
        int mode = get_enum(c, tls, path, "mode", tls_modes);
        if (mode >= 0)
            ep->tls_mode = (aioe_tls_mode)(mode + 1);
        get_k8s_name(c, tls, path, "trustedCaCertificateConfigMapRef", false,
                     &ep->ca_config_map_ref);
    }
    if (!ep->ca_config_map_ref && ep->host_default && !c->oom) {
        ep->ca_config_map_ref = strdup(AIOE_DEFAULT_CA_CONFIG_MAP);
        if (!ep->ca_config_map_ref)
            c->oom = true;
    }
}

static void parse_host(pctx *c, aioe_endpoint *ep, const yaml_node_t *mqtt,
                       const char *parent)
{
    char *text = NULL;
    if (!get_string(c, mqtt, parent, "host", false, &text)) {
        if (!field(c, mqtt, "host") && !c->oom) {
            ep->host_default = true;
            ep->host = strdup(AIOE_DEFAULT_HOST);
            ep->port = AIOE_DEFAULT_PORT;
            if (!ep->host)
                c->oom = true;
        }
        return;
    }
    const char *hint = "";
    const char *problem = aioe_split_host_port(text, strlen(text), &ep->host,
                                               &ep->port, &hint);
    if (problem) {
        char path[PATH_MAX_LEN];
        join_path(path, parent, "host");
        err_at(c, field(c, mqtt, "host"), path, hint, "%s: '%s'", problem, text);
    }
    free(text);
}

static void parse_mqtt_settings(pctx *c, aioe_endpoint *ep, const yaml_node_t *spec)
{
    const char *path = "spec.mqttSettings";
    map_state st;
    yaml_node_t *m = get_map(c, spec, "spec", "mqttSettings", &st);
    if (st == MAP_WRONG)
        return;

    /* Defaults first; present fields override them. */
    ep->qos = AIOE_DEFAULT_QOS;
    ep->retain = AIOE_RETAIN_KEEP;
    ep->session_expiry_seconds = AIOE_DEFAULT_SESSION_EXPIRY;
    ep->protocol = AIOE_PROTOCOL_MQTT;
    ep->max_inflight_messages = AIOE_DEFAULT_MAX_INFLIGHT;
    ep->keep_alive_seconds = AIOE_DEFAULT_KEEP_ALIVE;
    ep->cloud_event_attributes = AIOE_CLOUD_EVENTS_NONE;

    static const yaml_node_t empty = { .type = YAML_MAPPING_NODE };
    if (!m)
        m = (yaml_node_t *)&empty;
    else
        check_keys(c, m, path, mqtt_keys, NULL);

    parse_host(c, ep, m, path);
    parse_authentication(c, ep, m, path);
    parse_tls(c, ep, m, path);
    get_string(c, m, path, "clientIdPrefix", false, &ep->client_id_prefix);

    int64_t v;
    if (get_int(c, m, path, "qos", 0, 1,
                "use 0 (at most once) or 1 (at least once); QoS 2 is not supported", &v))
        ep->qos = (int)v;
    int e = get_enum(c, m, path, "retain", retain_values);
    if (e >= 0)
        ep->retain = (aioe_retain)(e + 1);
    if (get_int(c, m, path, "sessionExpirySeconds", 0, UINT32_MAX,
                "use 0..4294967295 seconds (default 3600)", &v))
        ep->session_expiry_seconds = (uint32_t)v;
    e = get_enum(c, m, path, "protocol", protocols);
    if (e >= 0)
        ep->protocol = (aioe_protocol)(e + 1);
    if (get_int(c, m, path, "maxInflightMessages", 1, 65535,
                "use 1..65535 (default 100)", &v))
        ep->max_inflight_messages = (uint16_t)v;
    if (get_int(c, m, path, "keepAliveSeconds", 0, 65535,
                "use 0..65535 seconds (default 60; 0 turns keep-alive off)", &v))
        ep->keep_alive_seconds = (uint16_t)v;

    yaml_node_t *k1 = NULL, *k2 = NULL;
    yt_map_get_key(c->doc, m, "cloudEventAttributes", &k1);
    yt_map_get_key(c->doc, m, "CloudEventAttributes", &k2);
    if (k1 && k2) {
        err_at(c, k2, "spec.mqttSettings.CloudEventAttributes",
               "keep only cloudEventAttributes (the current spelling)",
               "both cloudEventAttributes and CloudEventAttributes are set");
    } else {
        e = get_enum(c, m, path, k2 ? "CloudEventAttributes" : "cloudEventAttributes",
                     ce_values);
        if (e >= 0)
            ep->cloud_event_attributes = (aioe_cloud_event_attributes)(e + 1);
    }
}

static void parse_metadata(pctx *c, aioe_endpoint *ep, const yaml_node_t *root)
{
    map_state st;
    yaml_node_t *md = get_map(c, root, "", "metadata", &st);
    if (!md) {
        if (st != MAP_WRONG)
            err_at(c, root, "metadata", "add metadata with name: <endpoint name>",
                   "required field 'metadata' is missing");
        return;
    }
    check_keys(c, md, "metadata", metadata_keys, metadata_ignored);
    if (get_string(c, md, "metadata", "name", true, &ep->name) &&
        !aioe_is_dns1123_subdomain(ep->name, strlen(ep->name)))
        err_at(c, field(c, md, "name"), "metadata.name",
               "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
               "'%s' is not a valid Kubernetes resource name", ep->name);
    if (get_string(c, md, "metadata", "namespace", false, &ep->namespace_) &&
        !aioe_is_dns1123_label(ep->namespace_, strlen(ep->namespace_)))
        err_at(c, field(c, md, "namespace"), "metadata.namespace",
               "use lowercase letters, digits and '-', at most 63 characters",
               "'%s' is not a valid namespace name", ep->namespace_);
}

static void parse_api_version(pctx *c, aioe_endpoint *ep, const yaml_node_t *root)
{
    if (!get_string(c, root, "", "apiVersion", true, &ep->api_version))
        return;
    if (strcmp(ep->api_version, AIOE_API_GROUP "/v1") != 0 &&
        strcmp(ep->api_version, AIOE_API_GROUP "/v1beta1") != 0)
        err_at(c, field(c, root, "apiVersion"), "apiVersion",
               "use " AIOE_API_GROUP "/v1 or " AIOE_API_GROUP "/v1beta1",
               "unsupported apiVersion '%s' for kind DataflowEndpoint", ep->api_version);
}

static void parse_spec(pctx *c, aioe_endpoint *ep, const yaml_node_t *root)
{
    map_state st;
    yaml_node_t *spec = get_map(c, root, "", "spec", &st);
    if (!spec) {
        if (st != MAP_WRONG)
            err_at(c, root, "spec", "add spec with endpointType: Mqtt and mqttSettings",
                   "required field 'spec' is missing");
        return;
    }
    check_keys(c, spec, "spec", spec_keys, other_settings);
    yaml_node_t *type = field(c, spec, "endpointType");
    if (!type) {
        err_at(c, spec, "spec.endpointType", "add 'endpointType: Mqtt'",
               "required field 'endpointType' is missing");
        return;
    }
    bool other = false;
    if (type->type == YAML_SCALAR_NODE)
        for (const char *const *w = other_endpoint_types; *w; w++)
            other |= strlen(*w) == yt_len(type) && memcmp(*w, yt_text(type), yt_len(type)) == 0;
    if (other) {
        err_at(c, type, "spec.endpointType",
               "libaioendpoint implements MQTT endpoints only; use endpointType: Mqtt",
               "endpointType '%s' is not supported", yt_text(type));
        return;
    }
    if (get_enum(c, spec, "spec", "endpointType", endpoint_types) < 0)
        return;
    for (const char *const *w = other_settings; *w; w++) {
        yaml_node_t *k = NULL;
        if (yt_map_get_key(c->doc, spec, *w, &k)) {
            char p[PATH_MAX_LEN];
            join_path(p, "spec", *w);
            err_at(c, k, p, "remove it; an Mqtt endpoint reads only mqttSettings",
                   "%s does not apply to endpointType Mqtt", *w);
        }
    }
    parse_mqtt_settings(c, ep, spec);
}

static void parse_endpoint(pctx *c, const yaml_node_t *root, yt_pos start)
{
    aioe_endpoint *ep = aioe_endpoint_alloc();
    if (!ep) {
        c->oom = true;
        return;
    }
    ep->line = start.line;
    ep->file = strdup(c->res->file);
    if (!ep->file)
        c->oom = true;
    check_keys(c, root, "", top_keys, top_ignored);
    parse_api_version(c, ep, root);
    parse_metadata(c, ep, root);
    parse_spec(c, ep, root);

    aioe_endpoint **slot;
    if (c->failed || c->oom || !(slot = AIOE_VEC_PUSH_SLOT(c->res->endpoints))) {
        if (!c->failed)
            c->oom = true;
        aioe_endpoint_destroy(ep);
        return;
    }
    *slot = ep;
}

/* ---- documents and streams ----------------------------------------- */

static const char *scalar_or_empty(yaml_document_t *doc, const yaml_node_t *map,
                                   const char *key)
{
    yaml_node_t *v = yt_map_get(doc, map, key);
    return v && v->type == YAML_SCALAR_NODE && !aioe_has_control_char(yt_text(v), yt_len(v))
               ? yt_text(v)
               : "";
}

static void skip_document(pctx *c, const yaml_node_t *root, yt_pos start)
{
    aioe_skipped_document *s = AIOE_VEC_PUSH_SLOT(c->res->skipped);
    if (!s) {
        c->oom = true;
        return;
    }
    const char *api = "", *kind = "", *name = "";
    if (root && root->type == YAML_MAPPING_NODE) {
        api = scalar_or_empty(c->doc, root, "apiVersion");
        kind = scalar_or_empty(c->doc, root, "kind");
        name = scalar_or_empty(c->doc, yt_map_get(c->doc, root, "metadata"), "name");
    }
    s->file = c->res->file;
    s->line = start.line;
    s->column = start.column;
    s->api_version = strdup(api);
    s->kind = strdup(kind);
    s->name = strdup(name);
    if (!s->api_version || !s->kind || !s->name)
        c->oom = true;
}

static void parse_document(pctx *c, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yt_pos start = yt_mark_pos(doc->start_mark);
    c->doc = doc;
    c->failed = false;
    yaml_node_t *kind = root && root->type == YAML_MAPPING_NODE
                            ? yt_map_get(doc, root, "kind") : NULL;
    if (kind && kind->type == YAML_SCALAR_NODE &&
        yt_len(kind) == strlen("DataflowEndpoint") &&
        memcmp(yt_text(kind), "DataflowEndpoint", yt_len(kind)) == 0)
        parse_endpoint(c, root, start);
    else
        skip_document(c, root, start);
}

static int parse_stream(pctx *c, const void *data, size_t len,
                        const aioe_parse_options *opts)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return AIOE_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, data, len);
    int rc = AIOE_OK;
    size_t documents = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = AIOE_ERR_NOMEM;
                break;
            }
            yt_pos pos = yt_mark_pos(parser.problem_mark);
            const char *problem = parser.problem ? parser.problem : "malformed YAML";
            bool ok;
            if (parser.context) {
                yt_pos ctx = yt_mark_pos(parser.context_mark);
                ok = aioe_result_add_error(c->res, pos.line, pos.column, "",
                                           "fix the YAML syntax at this position",
                                           "YAML syntax error: %s %s (started at line %u)",
                                           problem, parser.context, ctx.line);
            } else {
                ok = aioe_result_add_error(c->res, pos.line, pos.column, "",
                                           "fix the YAML syntax at this position",
                                           "YAML syntax error: %s", problem);
            }
            if (!ok)
                rc = AIOE_ERR_NOMEM;
            break;
        }
        if (!yaml_document_get_root_node(&doc)) {
            yaml_document_delete(&doc); /* end of stream */
            break;
        }
        if (++documents > opts->max_documents) {
            yaml_document_delete(&doc);
            yt_pos pos = yt_mark_pos(doc.start_mark);
            if (!aioe_result_add_error(c->res, pos.line, pos.column, "",
                                       "split the stream or raise the document limit",
                                       "more than %zu documents in one stream",
                                       opts->max_documents))
                rc = AIOE_ERR_NOMEM;
            else
                rc = AIOE_ERR_TOO_LARGE;
            break;
        }
        parse_document(c, &doc);
        yaml_document_delete(&doc);
        if (c->oom) {
            rc = AIOE_ERR_NOMEM;
            break;
        }
    }
    yaml_parser_delete(&parser);
    if (rc == AIOE_OK && c->res->errors.len > 0)
        rc = AIOE_ERR_INVALID_SPEC;
    return rc;
}

static const aioe_parse_options default_options = {
    .max_input_bytes = AIOE_DEFAULT_MAX_INPUT_BYTES,
    .max_documents = AIOE_DEFAULT_MAX_DOCUMENTS,
};

int aioe_parse_buffer(const void *data, size_t len, const char *name,
                      const aioe_parse_options *opts, aioe_parse_result **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!data && len > 0)
        return AIOE_ERR_INVALID_ARG;
    if (!opts)
        opts = &default_options;
    aioe_parse_result *res = aioe_result_new(name ? name : "<buffer>");
    if (!res)
        return AIOE_ERR_NOMEM;
    int rc;
    if (len > opts->max_input_bytes) {
        rc = aioe_result_add_error(res, 0, 0, "", "raise the limit or split the input",
                                   "input is %zu bytes, more than the limit of %zu",
                                   len, opts->max_input_bytes)
                 ? AIOE_ERR_TOO_LARGE : AIOE_ERR_NOMEM;
    } else {
        pctx c = { .res = res };
        rc = parse_stream(&c, len ? data : "", len, opts);
    }
    if (rc == AIOE_ERR_NOMEM) {
        aioe_parse_result_free(res);
        return rc;
    }
    *out = res;
    return rc;
}

/* Reads a whole file, refusing directories and anything over the limit. */
static int read_file(const char *path, size_t max, char **data, size_t *len,
                     aioe_parse_result *res)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return aioe_result_add_error(res, 0, 0, "",
                                     e == ENOENT ? "check the path" : "check the file's permissions",
                                     "cannot open: %s", strerror(e))
                   ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return aioe_result_add_error(res, 0, 0, "", "give a YAML file, not a directory",
                                     "is a directory")
                   ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
    }
    size_t cap = 64 * 1024, used = 0;
    if (S_ISREG(st.st_mode) && (size_t)st.st_size < max)
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    int rc = buf ? AIOE_OK : AIOE_ERR_NOMEM;
    while (rc == AIOE_OK) {
        if (used == cap) {
            size_t ncap = cap * 2;
            char *n = realloc(buf, ncap);
            if (!n) {
                rc = AIOE_ERR_NOMEM;
                break;
            }
            buf = n;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            rc = aioe_result_add_error(res, 0, 0, "", "check the file",
                                       "cannot read: %s", strerror(e))
                     ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max) {
            rc = aioe_result_add_error(res, 0, 0, "", "raise the limit or split the file",
                                       "file is larger than the limit of %zu bytes", max)
                     ? AIOE_ERR_TOO_LARGE : AIOE_ERR_NOMEM;
            break;
        }
    }
    close(fd);
    if (rc != AIOE_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = used;
    return AIOE_OK;
}

int aioe_parse_file(const char *path, const aioe_parse_options *opts,
                    aioe_parse_result **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!path)
        return AIOE_ERR_INVALID_ARG;
    if (!opts)
        opts = &default_options;
    aioe_parse_result *res = aioe_result_new(path);
    if (!res)
        return AIOE_ERR_NOMEM;
    char *data;
    size_t len;
    int rc = read_file(path, opts->max_input_bytes, &data, &len, res);
    if (rc == AIOE_OK) {
        pctx c = { .res = res };
        rc = parse_stream(&c, data, len, opts);
        free(data);
    }
    if (rc == AIOE_ERR_NOMEM) {
        aioe_parse_result_free(res);
        return rc;
    }
    *out = res;
    return rc;
}
