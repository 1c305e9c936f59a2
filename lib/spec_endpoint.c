/* Endpoint objects, parse results and parse options: lifetime and getters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"
#include "spec_util.h"

/* ---- vectors and results -------------------------------------------- */

bool aioe_vec_reserve(void **items, size_t *cap, size_t len, size_t item_size)
{
    if (len < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / item_size)
        return false;
    void *n = realloc(*items, ncap * item_size);
    if (!n)
        return false;
    *items = n;
    *cap = ncap;
    return true;
}

aioe_parse_result *aioe_result_new(const char *file)
{
    aioe_parse_result *res = calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->file = strdup(file);
    if (!res->file) {
        free(res);
        return NULL;
    }
    return res;
}

bool aioe_result_add_error(aioe_parse_result *res, unsigned line,
                           unsigned column, const char *path,
                           const char *hint, const char *fmt, ...)
{
    aioe_parse_error *e = AIOE_VEC_PUSH_SLOT(res->errors);
    if (!e)
        return false;
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->file = res->file;
    e->line = line;
    e->column = column;
    e->path = strdup(path ? path : "");
    e->message = strdup(msg);
    e->hint = strdup(hint ? hint : "");
    if (!e->path || !e->message || !e->hint) {
        free((char *)e->path);
        free((char *)e->message);
        free((char *)e->hint);
        res->errors.len--;
        return false;
    }
    return true;
}

void aioe_parse_result_free(aioe_parse_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->endpoints.len; i++)
        aioe_endpoint_unref(res->endpoints.items[i]);
    for (size_t i = 0; i < res->dataflows.len; i++)
        aioe_dataflow_unref(res->dataflows.items[i]);
    for (size_t i = 0; i < res->profiles.len; i++)
        aioe_profile_unref(res->profiles.items[i]);
    for (size_t i = 0; i < res->errors.len; i++) {
        free((char *)res->errors.items[i].path);
        free((char *)res->errors.items[i].message);
        free((char *)res->errors.items[i].hint);
    }
    for (size_t i = 0; i < res->skipped.len; i++) {
        free((char *)res->skipped.items[i].api_version);
        free((char *)res->skipped.items[i].kind);
        free((char *)res->skipped.items[i].name);
    }
    free(res->endpoints.items);
    free(res->dataflows.items);
    free(res->profiles.items);
    free(res->errors.items);
    free(res->skipped.items);
    free(res->file);
    free(res);
}

size_t aioe_parse_result_endpoint_count(const aioe_parse_result *res)
{
    return res ? res->endpoints.len : 0;
}

const aioe_endpoint *aioe_parse_result_endpoint(const aioe_parse_result *res, size_t i)
{
    return res && i < res->endpoints.len ? res->endpoints.items[i] : NULL;
}

const aioe_endpoint *aioe_parse_result_find_endpoint(const aioe_parse_result *res,
                                                     const char *name)
{
    if (!res || !name)
        return NULL;
    for (size_t i = 0; i < res->endpoints.len; i++)
        if (strcmp(res->endpoints.items[i]->name, name) == 0)
            return res->endpoints.items[i];
    return NULL;
}

size_t aioe_parse_result_error_count(const aioe_parse_result *res)
{
    return res ? res->errors.len : 0;
}

const aioe_parse_error *aioe_parse_result_error(const aioe_parse_result *res, size_t i)
{
    return res && i < res->errors.len ? &res->errors.items[i] : NULL;
}

size_t aioe_parse_result_skipped_count(const aioe_parse_result *res)
{
    return res ? res->skipped.len : 0;
}

const aioe_skipped_document *aioe_parse_result_skipped(const aioe_parse_result *res,
                                                       size_t i)
{
    return res && i < res->skipped.len ? &res->skipped.items[i] : NULL;
}

/* ---- options --------------------------------------------------------- */

int aioe_parse_options_new(aioe_parse_options **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = malloc(sizeof **out);
    if (!*out)
        return AIOE_ERR_NOMEM;
    (*out)->max_input_bytes = AIOE_DEFAULT_MAX_INPUT_BYTES;
    (*out)->max_documents = AIOE_DEFAULT_MAX_DOCUMENTS;
    (*out)->max_depth = AIOE_DEFAULT_MAX_DEPTH;
    (*out)->max_nodes = AIOE_DEFAULT_MAX_NODES;
    (*out)->kinds = AIOE_KIND_DATAFLOW_ENDPOINT;
    return AIOE_OK;
}

int aioe_parse_options_set_kinds(aioe_parse_options *opts, unsigned kinds)
{
    const unsigned all = AIOE_KIND_DATAFLOW_ENDPOINT | AIOE_KIND_DATAFLOW |
                         AIOE_KIND_DATAFLOW_PROFILE;
    if (!opts || kinds == 0 || (kinds & ~all))
        return AIOE_ERR_INVALID_ARG;
    opts->kinds = kinds;
    return AIOE_OK;
}

void aioe_parse_options_free(aioe_parse_options *opts)
{
    free(opts);
}

int aioe_parse_options_set_max_input_bytes(aioe_parse_options *opts, size_t max_bytes)
{
    if (!opts || max_bytes == 0)
        return AIOE_ERR_INVALID_ARG;
    opts->max_input_bytes = max_bytes;
    return AIOE_OK;
}

int aioe_parse_options_set_max_documents(aioe_parse_options *opts, size_t max_documents)
{
    if (!opts || max_documents == 0)
        return AIOE_ERR_INVALID_ARG;
    opts->max_documents = max_documents;
    return AIOE_OK;
}

int aioe_parse_options_set_max_depth(aioe_parse_options *opts, size_t max_depth)
{
    if (!opts || max_depth == 0)
        return AIOE_ERR_INVALID_ARG;
    opts->max_depth = max_depth;
    return AIOE_OK;
}

int aioe_parse_options_set_max_nodes(aioe_parse_options *opts, size_t max_nodes)
{
    if (!opts || max_nodes == 0)
        return AIOE_ERR_INVALID_ARG;
    opts->max_nodes = max_nodes;
    return AIOE_OK;
}

/* ---- endpoints ------------------------------------------------------- */

aioe_endpoint *aioe_endpoint_alloc(void)
{
    aioe_endpoint *ep = calloc(1, sizeof *ep);
    if (ep)
        atomic_init(&ep->refs, 1);
    return ep;
}

void aioe_endpoint_destroy(aioe_endpoint *ep)
{
    if (!ep)
        return;
    char *strings[] = {
        ep->file, ep->api_version, ep->name, ep->namespace_, ep->host,
        ep->audience, ep->secret_ref, ep->client_id, ep->tenant_id, ep->scope,
        ep->ca_config_map_ref, ep->client_id_prefix,
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    free(ep);
}

aioe_endpoint *aioe_endpoint_ref(const aioe_endpoint *ep)
{
    aioe_endpoint *mut = (aioe_endpoint *)ep; /* the count is not the value */
    if (mut)
        aioe_refcount_inc(&mut->refs);
    return mut;
}

void aioe_endpoint_unref(const aioe_endpoint *ep)
{
    aioe_endpoint *mut = (aioe_endpoint *)ep;
    if (mut && aioe_refcount_dec(&mut->refs))
        aioe_endpoint_destroy(mut);
}

#define GETTER(type, name, expr, fallback) \
    type aioe_endpoint_##name(const aioe_endpoint *ep) { return ep ? (expr) : (fallback); }

GETTER(const char *, name, ep->name, NULL)
GETTER(const char *, namespace, ep->namespace_, NULL)
GETTER(const char *, api_version, ep->api_version, NULL)
GETTER(const char *, source_file, ep->file, NULL)
GETTER(unsigned, source_line, ep->line, 0)
GETTER(const char *, host, ep->host, NULL)
GETTER(uint16_t, port, ep->port, 0)
GETTER(bool, host_is_default, ep->host_default, false)
GETTER(aioe_auth_method, auth_method, ep->auth_method, (aioe_auth_method)0)
GETTER(const char *, auth_audience, ep->audience, NULL)
GETTER(const char *, auth_secret_ref, ep->secret_ref, NULL)
GETTER(const char *, auth_client_id, ep->client_id, NULL)
GETTER(const char *, auth_tenant_id, ep->tenant_id, NULL)
GETTER(const char *, auth_scope, ep->scope, NULL)
GETTER(aioe_tls_mode, tls_mode, ep->tls_mode, (aioe_tls_mode)0)
GETTER(const char *, tls_ca_config_map_ref, ep->ca_config_map_ref, NULL)
GETTER(const char *, client_id_prefix, ep->client_id_prefix, NULL)
GETTER(int, qos, ep->qos, 0)
GETTER(aioe_retain, retain, ep->retain, (aioe_retain)0)
GETTER(uint32_t, session_expiry_seconds, ep->session_expiry_seconds, 0)
GETTER(aioe_protocol, protocol, ep->protocol, (aioe_protocol)0)
GETTER(uint16_t, max_inflight_messages, ep->max_inflight_messages, 0)
GETTER(uint16_t, keep_alive_seconds, ep->keep_alive_seconds, 0)
GETTER(aioe_cloud_event_attributes, cloud_event_attributes, ep->cloud_event_attributes,
       AIOE_CLOUD_EVENTS_NONE)

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool aioe_endpoint_equal(const aioe_endpoint *a, const aioe_endpoint *b)
{
    if (!a || !b)
        return a == b;
    return str_eq(a->name, b->name) && str_eq(a->namespace_, b->namespace_) &&
           str_eq(a->api_version, b->api_version) && str_eq(a->host, b->host) &&
           a->port == b->port && a->auth_method == b->auth_method &&
           str_eq(a->audience, b->audience) && str_eq(a->secret_ref, b->secret_ref) &&
           str_eq(a->client_id, b->client_id) && str_eq(a->tenant_id, b->tenant_id) &&
           str_eq(a->scope, b->scope) && a->tls_mode == b->tls_mode &&
           str_eq(a->ca_config_map_ref, b->ca_config_map_ref) &&
           str_eq(a->client_id_prefix, b->client_id_prefix) && a->qos == b->qos &&
           a->retain == b->retain &&
           a->session_expiry_seconds == b->session_expiry_seconds &&
           a->protocol == b->protocol &&
           a->max_inflight_messages == b->max_inflight_messages &&
           a->keep_alive_seconds == b->keep_alive_seconds &&
           a->cloud_event_attributes == b->cloud_event_attributes;
}

/* ---- enum names ------------------------------------------------------ */

const char *aioe_auth_method_name(aioe_auth_method m)
{
    switch (m) {
    case AIOE_AUTH_SERVICE_ACCOUNT_TOKEN: return "ServiceAccountToken";
    case AIOE_AUTH_X509_CERTIFICATE: return "X509Certificate";
    case AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY: return "SystemAssignedManagedIdentity";
    case AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY: return "UserAssignedManagedIdentity";
    case AIOE_AUTH_ANONYMOUS: return "Anonymous";
    }
    return NULL;
}

const char *aioe_tls_mode_name(aioe_tls_mode m)
{
    switch (m) {
    case AIOE_TLS_ENABLED: return "Enabled";
    case AIOE_TLS_DISABLED: return "Disabled";
    }
    return NULL;
}

const char *aioe_retain_name(aioe_retain r)
{
    switch (r) {
    case AIOE_RETAIN_KEEP: return "Keep";
    case AIOE_RETAIN_NEVER: return "Never";
    }
    return NULL;
}

const char *aioe_protocol_name(aioe_protocol p)
{
    switch (p) {
    case AIOE_PROTOCOL_MQTT: return "Mqtt";
    case AIOE_PROTOCOL_WEBSOCKETS: return "WebSockets";
    }
    return NULL;
}

const char *aioe_cloud_event_attributes_name(aioe_cloud_event_attributes c)
{
    switch (c) {
    case AIOE_CLOUD_EVENTS_PROPAGATE: return "Propagate";
    case AIOE_CLOUD_EVENTS_CREATE_OR_REMAP: return "CreateOrRemap";
    case AIOE_CLOUD_EVENTS_NONE: break;
    }
    return NULL;
}
