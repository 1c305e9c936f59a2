/* Endpoint objects and parse options: lifetime and getters. The parse
 * result is in spec_result.c, its error list in spec_errors.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"
#include "spec_util.h"

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
        ep->file, ep->api_version, ep->name, ep->namespace_, ep->host, ep->ws_path,
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

const char *aioe_endpoint_websocket_path(const aioe_endpoint *ep)
{
    if (!ep || ep->protocol != AIOE_PROTOCOL_WEBSOCKETS)
        return NULL;
    return ep->ws_path ? ep->ws_path : AIOE_DEFAULT_WS_PATH;
}
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
           str_eq(a->ws_path, b->ws_path) && a->port == b->port &&
           a->auth_method == b->auth_method &&
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
