/* The DataflowEndpoint schema: YAML tree → validated, defaulted
 * aioe_endpoint. Every problem is recorded with its position and field
 * path and the walk goes on, so one run reports all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_fields.h"
#include "spec_util.h"
#include "spec_walk.h"

/* ---- the DataflowEndpoint schema ------------------------------------ */

/* hostType is from REST 2025-10-01 (apiVersion v1); parse_host_type
 * refuses it in older versions with the reason. */
static const char *const spec_keys_host_type[] = {
    "endpointType", "hostType", "mqttSettings", NULL };
/* DataflowEndpointHostType (REST 2025-10-01); the first three are the
 * ones an Mqtt endpoint takes. */
static const char *const host_types[] = {
    "LocalBroker", "EventGrid", "CustomMqtt", "FabricRT", "Eventhub", "CustomKafka", NULL };
enum { MQTT_HOST_TYPES = 3 };
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
/* Indexed by aioe_auth_method - 1 (spec_fields.c, shared with the builder). */
#define auth_methods aioe__spec_auth_methods
#define auth_settings_key aioe__spec_auth_settings_keys
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

static void parse_uami(pctx *c, aioe_endpoint *ep, const yaml_node_t *settings,
                       const yaml_node_t *auth, const char *path)
{
    /* The settings object is required: clientId and tenantId are. */
    if (!settings) {
        char p[PATH_MAX_LEN];
        aioe__spec_join_path(p, path, "userAssignedManagedIdentitySettings");
        aioe__spec_err_at(c, auth, p, "add userAssignedManagedIdentitySettings with clientId and tenantId",
               "UserAssignedManagedIdentity needs userAssignedManagedIdentitySettings");
        return;
    }
    char sp[PATH_MAX_LEN];
    aioe__spec_join_path(sp, path, "userAssignedManagedIdentitySettings");
    aioe__spec_check_keys(c, settings, sp, uami_keys, NULL);
    aioe__field_problem pb;
    if (aioe__spec_get_string(c, settings, sp, "clientId", true, &ep->client_id) &&
        !aioe__spec_check_uami_client_id(ep->client_id, &pb)) {
        char p[PATH_MAX_LEN];
        aioe__spec_join_path(p, sp, "clientId");
        aioe__spec_err_at(c, aioe__spec_field(c, settings, "clientId"), p, pb.hint, "%s", pb.message);
    }
    if (aioe__spec_get_string(c, settings, sp, "tenantId", true, &ep->tenant_id) &&
        !aioe__spec_check_uami_tenant_id(ep->tenant_id, &pb)) {
        char p[PATH_MAX_LEN];
        aioe__spec_join_path(p, sp, "tenantId");
        aioe__spec_err_at(c, aioe__spec_field(c, settings, "tenantId"), p, pb.hint, "%s", pb.message);
    }
    aioe__spec_get_string(c, settings, sp, "scope", false, &ep->scope); /* default: finish */
}

static void parse_authentication(pctx *c, aioe_endpoint *ep,
                                 const yaml_node_t *mqtt, const char *parent)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, "authentication");
    map_state st;
    yaml_node_t *auth = aioe__spec_get_map(c, mqtt, parent, "authentication", &st);

    int method = -1;
    if (auth) {
        aioe__spec_check_keys(c, auth, path, auth_keys, NULL);
        method = aioe__spec_get_enum(c, auth, path, "method", auth_methods);
        if (method < 0 && !aioe__spec_field(c, auth, "method")) {
            char mp[PATH_MAX_LEN];
            aioe__spec_join_path(mp, path, "method");
            aioe__spec_err_at(c, auth, mp,
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
        if (i != method && aioe__yt_map_get_key(c->doc, auth, auth_settings_key[i], &key_node)) {
            char p[PATH_MAX_LEN];
            aioe__spec_join_path(p, path, auth_settings_key[i]);
            char hint[160];
            snprintf(hint, sizeof hint, "remove it, or set method: %s", auth_methods[i]);
            aioe__spec_err_at(c, key_node, p, hint, "%s is set but method is %s",
                   auth_settings_key[i], auth_methods[method]);
        }
    }

    char sp[PATH_MAX_LEN];
    aioe__spec_join_path(sp, path, auth_settings_key[method]);
    map_state sst = MAP_ABSENT;
    yaml_node_t *settings = auth ? aioe__spec_get_map(c, auth, path, auth_settings_key[method], &sst)
                                 : NULL;
    if (sst == MAP_WRONG)
        return;
    switch (ep->auth_method) {
    case AIOE_AUTH_SERVICE_ACCOUNT_TOKEN:
    case AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY:
        if (settings) {
            aioe__spec_check_keys(c, settings, sp,
                       ep->auth_method == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN ? sat_keys : sami_keys,
                       NULL);
            aioe__spec_get_string(c, settings, sp, "audience", false, &ep->audience);
        }
        break; /* the default audience: aioe__spec_finish_defaults */
    case AIOE_AUTH_X509_CERTIFICATE:
        if (!settings) {
            aioe__spec_err_at(c, auth, sp, "add x509CertificateSettings with secretRef: <secret name>",
                   "X509Certificate needs x509CertificateSettings.secretRef");
            break;
        }
        aioe__spec_check_keys(c, settings, sp, x509_keys, NULL);
        aioe__spec_get_k8s_name(c, settings, sp, "secretRef", true, &ep->secret_ref);
        break;
    case AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY:
        parse_uami(c, ep, settings, auth, path);
        break;
    case AIOE_AUTH_ANONYMOUS:
        if (settings)
            aioe__spec_check_keys(c, settings, sp, no_keys, NULL);
        break;
    }
}

static void parse_tls(pctx *c, aioe_endpoint *ep, const yaml_node_t *mqtt,
                      const char *parent)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, "tls");
    map_state st;
    yaml_node_t *tls = aioe__spec_get_map(c, mqtt, parent, "tls", &st);
    if (tls) {
        aioe__spec_check_keys(c, tls, path, tls_keys, NULL);
        int mode = aioe__spec_get_enum(c, tls, path, "mode", tls_modes);
        if (mode >= 0)
            ep->tls_mode = (aioe_tls_mode)(mode + 1);
        aioe__spec_get_k8s_name(c, tls, path, "trustedCaCertificateConfigMapRef", false,
                     &ep->ca_config_map_ref);
    } /* the built-in broker's CA: aioe__spec_finish_defaults */
}

static void parse_host(pctx *c, aioe_endpoint *ep, const yaml_node_t *mqtt,
                       const char *parent)
{
    char *text = NULL;
    if (!aioe__spec_get_string(c, mqtt, parent, "host", false, &text)) {
        if (!aioe__spec_field(c, mqtt, "host") && !c->oom)
            ep->host_default = true; /* the apiVersion's host: finish_defaults */
        return;
    }
    aioe__field_problem pb;
    if (!aioe__spec_check_host(text, strlen(text), ep->protocol == AIOE_PROTOCOL_WEBSOCKETS,
                          &ep->host, &ep->port, &ep->ws_path, &pb)) {
        char path[PATH_MAX_LEN];
        aioe__spec_join_path(path, parent, "host");
        aioe__spec_err_at(c, aioe__spec_field(c, mqtt, "host"), path, pb.hint, "%s", pb.message);
    }
    free(text);
}

static void parse_mqtt_settings(pctx *c, aioe_endpoint *ep, const yaml_node_t *spec)
{
    const char *path = "spec.mqttSettings";
    map_state st;
    yaml_node_t *m = aioe__spec_get_map(c, spec, "spec", "mqttSettings", &st);
    if (st == MAP_WRONG)
        return;

    /* Defaults first; present fields override them (spec_fields.c, the
     * same for the builder). */
    aioe__spec_set_defaults(ep, c->ver);

    static const yaml_node_t empty = { .type = YAML_MAPPING_NODE };
    if (!m)
        m = (yaml_node_t *)&empty;
    else
        aioe__spec_check_keys(c, m, path, mqtt_keys, NULL);

    /* The protocol decides the form of the host (WebSockets takes a path
     * and a default port), so it is read first. */
    int e = aioe__spec_get_enum(c, m, path, "protocol", protocols);
    if (e >= 0)
        ep->protocol = (aioe_protocol)(e + 1);
    parse_host(c, ep, m, path);
    parse_authentication(c, ep, m, path);
    parse_tls(c, ep, m, path);
    aioe__spec_get_string(c, m, path, "clientIdPrefix", false, &ep->client_id_prefix);

    int64_t v;
    const aioe__int_field *f = &aioe__spec_field_qos;
    if (aioe__spec_get_int(c, m, path, f->key, f->min, f->max, f->hint, &v))
        ep->qos = (int)v;
    e = aioe__spec_get_enum(c, m, path, "retain", retain_values);
    if (e >= 0)
        ep->retain = (aioe_retain)(e + 1);
    char hint[160];
    aioe__spec_session_expiry_hint(c->ver, hint, sizeof hint);
    f = &aioe__spec_field_session_expiry;
    if (aioe__spec_get_int(c, m, path, f->key, f->min, f->max, hint, &v))
        ep->session_expiry_seconds = (uint32_t)v;
    f = &aioe__spec_field_max_inflight; /* 0: no limit of ours (spec_fields.c) */
    if (aioe__spec_get_int(c, m, path, f->key, f->min, f->max, f->hint, &v))
        ep->max_inflight_messages = (uint16_t)v;
    f = &aioe__spec_field_keep_alive;
    if (aioe__spec_get_int(c, m, path, f->key, f->min, f->max, f->hint, &v))
        ep->keep_alive_seconds = (uint16_t)v;

    yaml_node_t *k1 = NULL, *k2 = NULL;
    aioe__yt_map_get_key(c->doc, m, "cloudEventAttributes", &k1);
    aioe__yt_map_get_key(c->doc, m, "CloudEventAttributes", &k2);
    if (k1 && k2) {
        aioe__spec_err_at(c, k2, "spec.mqttSettings.CloudEventAttributes",
               "keep only cloudEventAttributes (the current spelling)",
               "both cloudEventAttributes and CloudEventAttributes are set");
    } else {
        e = aioe__spec_get_enum(c, m, path, k2 ? "CloudEventAttributes" : "cloudEventAttributes",
                     ce_values);
        if (e >= 0)
            ep->cloud_event_attributes = (aioe_cloud_event_attributes)(e + 1);
    }
    if (!c->oom && !aioe__spec_finish_defaults(ep, c->ver))
        c->oom = true;
}

/* spec.hostType: checked, not kept (it names the kind of broker for the
 * portal; the endpoint's settings say everything the session needs). */
static void parse_host_type(pctx *c, const yaml_node_t *spec)
{
    yaml_node_t *key = NULL;
    if (!aioe__yt_map_get_key(c->doc, spec, "hostType", &key))
        return;
    if (!c->ver->host_type) {
        char hint[200];
        snprintf(hint, sizeof hint, "hostType came with REST API 2025-10-01: use apiVersion "
                 "%s, or remove it", aioe__api_version_newest()->name);
        aioe__spec_err_at(c, key, "spec.hostType", hint, "hostType is not a field of apiVersion %s",
                    c->ver->name);
        return;
    }
    int t = aioe__spec_get_enum(c, spec, "spec", "hostType", host_types);
    if (t >= MQTT_HOST_TYPES)
        aioe__spec_err_at(c, aioe__spec_field(c, spec, "hostType"), "spec.hostType",
                    "an Mqtt endpoint takes hostType LocalBroker, EventGrid or CustomMqtt",
                    "hostType '%s' does not apply to endpointType Mqtt", host_types[t]);
}

static void parse_spec(pctx *c, aioe_endpoint *ep, const yaml_node_t *root)
{
    map_state st;
    yaml_node_t *spec = aioe__spec_get_map(c, root, "", "spec", &st);
    if (!spec) {
        if (st != MAP_WRONG)
            aioe__spec_err_at(c, root, "spec", "add spec with endpointType: Mqtt and mqttSettings",
                   "required field 'spec' is missing");
        return;
    }
    aioe__spec_check_keys(c, spec, "spec", spec_keys_host_type, other_settings);
    parse_host_type(c, spec);
    yaml_node_t *type = aioe__spec_field(c, spec, "endpointType");
    if (!type) {
        aioe__spec_err_at(c, spec, "spec.endpointType", "add 'endpointType: Mqtt'",
               "required field 'endpointType' is missing");
        return;
    }
    bool other = false;
    if (type->type == YAML_SCALAR_NODE)
        for (const char *const *w = other_endpoint_types; *w; w++)
            other |= strlen(*w) == aioe__yt_len(type) && memcmp(*w, aioe__yt_text(type), aioe__yt_len(type)) == 0;
    if (other) {
        aioe__spec_err_at(c, type, "spec.endpointType",
               "libaioendpoint implements MQTT endpoints only; use endpointType: Mqtt",
               "endpointType '%s' is not supported", aioe__yt_text(type));
        return;
    }
    if (aioe__spec_get_enum(c, spec, "spec", "endpointType", endpoint_types) < 0)
        return;
    for (const char *const *w = other_settings; *w; w++) {
        yaml_node_t *k = NULL;
        if (aioe__yt_map_get_key(c->doc, spec, *w, &k)) {
            char p[PATH_MAX_LEN];
            aioe__spec_join_path(p, "spec", *w);
            aioe__spec_err_at(c, k, p, "remove it; an Mqtt endpoint reads only mqttSettings",
                   "%s does not apply to endpointType Mqtt", *w);
        }
    }
    parse_mqtt_settings(c, ep, spec);
}

void aioe__spec_parse_endpoint(pctx *c, const yaml_node_t *root, yt_pos start)
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
    aioe__spec_check_keys(c, root, "", aioe__spec_top_keys, aioe__spec_top_ignored);
    aioe__spec_parse_header(c, root, "DataflowEndpoint", &ep->api_version, &ep->name,
                      &ep->namespace_);
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

