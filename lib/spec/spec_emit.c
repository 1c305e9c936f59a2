/* Serializing endpoints: canonical YAML (libyaml's emitter) and JSON
 * (json-c). Both write every default and the canonical field spellings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <yaml.h>

#include "spec_internal.h"
#include "spec_util.h"
#include "util/util.h"

/* "host:port", with brackets around IPv6 addresses, and the WebSocket
 * path when the host gave one. */
static char *host_port(const aioe_endpoint *ep)
{
    const char *path = ep->ws_path ? ep->ws_path : "";
    return strchr(ep->host, ':') ? aioe_strdup_printf("[%s]:%u%s", ep->host, ep->port, path)
                                 : aioe_strdup_printf("%s:%u%s", ep->host, ep->port, path);
}

/* The settings object of the endpoint's auth method, as a flat list of
 * (key, value) pairs, NULL-terminated. */
static const char *auth_settings_name(aioe_auth_method m)
{
    switch (m) {
    case AIOE_AUTH_SERVICE_ACCOUNT_TOKEN: return "serviceAccountTokenSettings";
    case AIOE_AUTH_X509_CERTIFICATE: return "x509CertificateSettings";
    case AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY: return "systemAssignedManagedIdentitySettings";
    case AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY: return "userAssignedManagedIdentitySettings";
    case AIOE_AUTH_ANONYMOUS: return "anonymousSettings";
    }
    return "";
}

typedef struct kv {
    const char *key;
    const char *value;
} kv;

static void auth_settings(const aioe_endpoint *ep, kv out[4])
{
    memset(out, 0, sizeof(kv) * 4);
    switch (ep->auth_method) {
    case AIOE_AUTH_SERVICE_ACCOUNT_TOKEN:
    case AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY:
        out[0] = (kv){ "audience", ep->audience };
        break;
    case AIOE_AUTH_X509_CERTIFICATE:
        out[0] = (kv){ "secretRef", ep->secret_ref };
        break;
    case AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY:
        out[0] = (kv){ "clientId", ep->client_id };
        out[1] = (kv){ "tenantId", ep->tenant_id };
        out[2] = (kv){ "scope", ep->scope };
        break;
    case AIOE_AUTH_ANONYMOUS:
        break;
    }
}

/* ---- YAML -------------------------------------------------------------- */

typedef struct outbuf {
    char *data;
    size_t len, cap;
    bool failed;
} outbuf;

static int write_out(void *data, unsigned char *buffer, size_t size)
{
    outbuf *o = data;
    if (o->len + size + 1 > o->cap) {
        size_t ncap = (o->cap ? o->cap : 512);
        while (ncap < o->len + size + 1)
            ncap *= 2;
        char *n = realloc(o->data, ncap);
        if (!n) {
            o->failed = true;
            return 0;
        }
        o->data = n;
        o->cap = ncap;
    }
    memcpy(o->data + o->len, buffer, size);
    o->len += size;
    o->data[o->len] = '\0';
    return 1;
}

typedef struct ye {
    yaml_emitter_t em;
    bool ok;
} ye;

static void ye_emit(ye *y, yaml_event_t *ev)
{
    if (y->ok && !yaml_emitter_emit(&y->em, ev))
        y->ok = false;
}

static void ye_str(ye *y, const char *s)
{
    yaml_event_t ev;
    size_t len = strlen(s);
    /* Quote strings a plain scalar would turn into a number, bool or null. */
    bool plain_safe = aioe__yt_resolve_plain(s, len) == YT_STRING;
    if (!y->ok || !yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len,
                                                plain_safe, 1,
                                                plain_safe ? YAML_ANY_SCALAR_STYLE
                                                           : YAML_DOUBLE_QUOTED_SCALAR_STYLE)) {
        y->ok = false;
        return;
    }
    ye_emit(y, &ev);
}

static void ye_num(ye *y, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", v);
    yaml_event_t ev;
    if (!y->ok || !yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)buf,
                                                (int)strlen(buf), 1, 0,
                                                YAML_PLAIN_SCALAR_STYLE)) {
        y->ok = false;
        return;
    }
    ye_emit(y, &ev);
}

static void ye_map(ye *y, bool start)
{
    yaml_event_t ev;
    int ok = start ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                         YAML_BLOCK_MAPPING_STYLE)
                   : yaml_mapping_end_event_initialize(&ev);
    if (!ok) {
        y->ok = false;
        return;
    }
    ye_emit(y, &ev);
}

static void ye_kv(ye *y, const char *k, const char *v)
{
    ye_str(y, k);
    ye_str(y, v);
}

int aioe_endpoint_to_yaml(const aioe_endpoint *ep, char **out, size_t *len)
{
    if (!ep || !out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    char *hp = host_port(ep);
    if (!hp)
        return AIOE_ERR_NOMEM;
    outbuf o = { 0 };
    ye y = { .ok = true };
    if (!yaml_emitter_initialize(&y.em)) {
        free(hp);
        return AIOE_ERR_NOMEM;
    }
    yaml_emitter_set_output(&y.em, write_out, &o);
    yaml_emitter_set_unicode(&y.em, 1);
    yaml_emitter_set_width(&y.em, -1);
    yaml_event_t ev;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
        ye_emit(&y, &ev);
    if (yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0))
        ye_emit(&y, &ev);
    ye_map(&y, true);
    ye_kv(&y, "apiVersion", ep->api_version);
    ye_kv(&y, "kind", "DataflowEndpoint");
    ye_str(&y, "metadata");
    ye_map(&y, true);
    ye_kv(&y, "name", ep->name);
    if (ep->namespace_)
        ye_kv(&y, "namespace", ep->namespace_);
    ye_map(&y, false);
    ye_str(&y, "spec");
    ye_map(&y, true);
    ye_kv(&y, "endpointType", "Mqtt");
    ye_str(&y, "mqttSettings");
    ye_map(&y, true);
    ye_kv(&y, "host", hp);
    ye_str(&y, "authentication");
    ye_map(&y, true);
    ye_kv(&y, "method", aioe_auth_method_name(ep->auth_method));
    ye_str(&y, auth_settings_name(ep->auth_method));
    ye_map(&y, true);
    kv settings[4];
    auth_settings(ep, settings);
    for (kv *s = settings; s->key; s++)
        ye_kv(&y, s->key, s->value);
    ye_map(&y, false);
    ye_map(&y, false);
    ye_str(&y, "tls");
    ye_map(&y, true);
    ye_kv(&y, "mode", aioe_tls_mode_name(ep->tls_mode));
    if (ep->ca_config_map_ref)
        ye_kv(&y, "trustedCaCertificateConfigMapRef", ep->ca_config_map_ref);
    ye_map(&y, false);
    if (ep->client_id_prefix)
        ye_kv(&y, "clientIdPrefix", ep->client_id_prefix);
    ye_str(&y, "qos");
    ye_num(&y, (unsigned long long)ep->qos);
    ye_kv(&y, "retain", aioe_retain_name(ep->retain));
    ye_str(&y, "sessionExpirySeconds");
    ye_num(&y, ep->session_expiry_seconds);
    ye_kv(&y, "protocol", aioe_protocol_name(ep->protocol));
    ye_str(&y, "maxInflightMessages");
    ye_num(&y, ep->max_inflight_messages);
    ye_str(&y, "keepAliveSeconds");
    ye_num(&y, ep->keep_alive_seconds);
    if (ep->cloud_event_attributes != AIOE_CLOUD_EVENTS_NONE)
        ye_kv(&y, "cloudEventAttributes",
              aioe_cloud_event_attributes_name(ep->cloud_event_attributes));
    ye_map(&y, false); /* mqttSettings */
    ye_map(&y, false); /* spec */
    ye_map(&y, false); /* document */
    if (yaml_document_end_event_initialize(&ev, 1))
        ye_emit(&y, &ev);
    if (yaml_stream_end_event_initialize(&ev))
        ye_emit(&y, &ev);
    bool ok = y.ok && !o.failed && yaml_emitter_flush(&y.em);
    yaml_emitter_delete(&y.em);
    free(hp);
    if (!ok) {
        free(o.data);
        return o.failed || y.em.error == YAML_MEMORY_ERROR ? AIOE_ERR_NOMEM : AIOE_ERR_INTERNAL;
    }
    *out = o.data;
    if (len)
        *len = o.len;
    return AIOE_OK;
}

/* ---- JSON -------------------------------------------------------------- */

/* json-c's add functions fail only on allocation failure; the builder
 * records that once and the caller checks at the end. */
typedef struct jb {
    bool failed;
} jb;

static void jadd(jb *b, json_object *obj, const char *key, json_object *val)
{
    if (!obj || (!val && b->failed) || json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        b->failed = true;
    }
}

static json_object *jstr(jb *b, const char *s)
{
    if (!s)
        return NULL; /* JSON null */
    json_object *o = json_object_new_string(s);
    if (!o)
        b->failed = true;
    return o;
}

static json_object *jint(jb *b, int64_t v)
{
    json_object *o = json_object_new_int64(v);
    if (!o)
        b->failed = true;
    return o;
}

static json_object *jobj(jb *b)
{
    json_object *o = json_object_new_object();
    if (!o)
        b->failed = true;
    return o;
}

static json_object *auth_json(jb *b, const aioe_endpoint *ep, bool summary)
{
    json_object *auth = jobj(b);
    jadd(b, auth, "method", jstr(b, aioe_auth_method_name(ep->auth_method)));
    kv settings[4];
    auth_settings(ep, settings);
    json_object *target = auth;
    if (!summary) {
        target = jobj(b);
        jadd(b, auth, auth_settings_name(ep->auth_method), target);
    }
    for (kv *s = settings; s->key; s++)
        jadd(b, target, s->key, jstr(b, s->value));
    return auth;
}

static json_object *tls_json(jb *b, const aioe_endpoint *ep, bool summary)
{
    json_object *tls = jobj(b);
    jadd(b, tls, "mode", jstr(b, aioe_tls_mode_name(ep->tls_mode)));
    if (summary || ep->ca_config_map_ref)
        jadd(b, tls, "trustedCaCertificateConfigMapRef", jstr(b, ep->ca_config_map_ref));
    return tls;
}

/* The messaging settings both forms share, in schema order. */
static void messaging_json(jb *b, json_object *o, const aioe_endpoint *ep, bool summary)
{
    if (summary || ep->client_id_prefix)
        jadd(b, o, "clientIdPrefix", jstr(b, ep->client_id_prefix));
    jadd(b, o, "qos", jint(b, ep->qos));
    jadd(b, o, "retain", jstr(b, aioe_retain_name(ep->retain)));
    jadd(b, o, "sessionExpirySeconds", jint(b, ep->session_expiry_seconds));
    jadd(b, o, "protocol", jstr(b, aioe_protocol_name(ep->protocol)));
    jadd(b, o, "maxInflightMessages", jint(b, ep->max_inflight_messages));
    jadd(b, o, "keepAliveSeconds", jint(b, ep->keep_alive_seconds));
    if (summary || ep->cloud_event_attributes != AIOE_CLOUD_EVENTS_NONE)
        jadd(b, o, "cloudEventAttributes",
             jstr(b, aioe_cloud_event_attributes_name(ep->cloud_event_attributes)));
}

static json_object *summary_json(jb *b, const aioe_endpoint *ep)
{
    json_object *o = jobj(b);
    jadd(b, o, "name", jstr(b, ep->name));
    jadd(b, o, "namespace", jstr(b, ep->namespace_));
    jadd(b, o, "host", jstr(b, ep->host));
    jadd(b, o, "port", jint(b, ep->port));
    jadd(b, o, "authentication", auth_json(b, ep, true));
    jadd(b, o, "tls", tls_json(b, ep, true));
    messaging_json(b, o, ep, true);
    return o;
}

static json_object *resource_json(jb *b, const aioe_endpoint *ep)
{
    char *hp = host_port(ep);
    if (!hp) {
        b->failed = true;
        return NULL;
    }
    json_object *o = jobj(b);
    jadd(b, o, "apiVersion", jstr(b, ep->api_version));
    jadd(b, o, "kind", jstr(b, "DataflowEndpoint"));
    json_object *md = jobj(b);
    jadd(b, o, "metadata", md);
    jadd(b, md, "name", jstr(b, ep->name));
    if (ep->namespace_)
        jadd(b, md, "namespace", jstr(b, ep->namespace_));
    json_object *spec = jobj(b);
    jadd(b, o, "spec", spec);
    jadd(b, spec, "endpointType", jstr(b, "Mqtt"));
    json_object *mqtt = jobj(b);
    jadd(b, spec, "mqttSettings", mqtt);
    jadd(b, mqtt, "host", jstr(b, hp));
    jadd(b, mqtt, "authentication", auth_json(b, ep, false));
    jadd(b, mqtt, "tls", tls_json(b, ep, false));
    messaging_json(b, mqtt, ep, false);
    free(hp);
    return o;
}

/* Writes a built object as text and frees it. */
static int json_finish(jb *b, json_object *root, unsigned flags, char **out, size_t *len)
{
    if (b->failed || !root) {
        json_object_put(root);
        return AIOE_ERR_NOMEM;
    }
    int jflags = JSON_C_TO_STRING_NOSLASHESCAPE |
                 ((flags & AIOE_JSON_PRETTY) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                             : JSON_C_TO_STRING_PLAIN);
    size_t n = 0;
    const char *text = json_object_to_json_string_length(root, jflags, &n);
    *out = text ? aioe_strndup(text, n) : NULL;
    json_object_put(root);
    if (!*out)
        return AIOE_ERR_NOMEM;
    if (len)
        *len = n;
    return AIOE_OK;
}

int aioe_endpoint_to_json(const aioe_endpoint *ep, unsigned flags, char **out, size_t *len)
{
    if (!ep || !out || (flags & ~(unsigned)(AIOE_JSON_SUMMARY | AIOE_JSON_PRETTY)))
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    jb b = { false };
    json_object *root = (flags & AIOE_JSON_SUMMARY) ? summary_json(&b, ep)
                                                    : resource_json(&b, ep);
    return json_finish(&b, root, flags, out, len);
}

/* ---- Dataflow and DataflowProfile (aioe-validate --json) ---------------- */

int aioe_dataflow_to_json(const aioe_dataflow *df, unsigned flags, char **out, size_t *len)
{
    if (!df || !out || (flags & ~(unsigned)AIOE_JSON_PRETTY))
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    jb b = { false };
    json_object *o = jobj(&b);
    jadd(&b, o, "kind", jstr(&b, "Dataflow"));
    jadd(&b, o, "name", jstr(&b, df->name));
    jadd(&b, o, "namespace", jstr(&b, df->namespace_));
    jadd(&b, o, "profileRef", jstr(&b, df->profile_ref));
    jadd(&b, o, "mode", jstr(&b, df->enabled ? "Enabled" : "Disabled"));
    json_object *src = jobj(&b);
    jadd(&b, o, "source", src);
    jadd(&b, src, "endpointRef", jstr(&b, df->source_endpoint_ref));
    json_object *topics = json_object_new_array();
    if (!topics)
        b.failed = true;
    for (size_t i = 0; topics && i < df->source_topic_count; i++) {
        json_object *t = jstr(&b, df->source_topics[i]);
        if (!t || json_object_array_add(topics, t) != 0) {
            json_object_put(t);
            b.failed = true;
        }
    }
    jadd(&b, src, "dataSources", topics);
    json_object *tr = json_object_new_boolean(df->has_transformation);
    if (!tr)
        b.failed = true;
    jadd(&b, o, "transformation", tr);
    json_object *dst = jobj(&b);
    jadd(&b, o, "destination", dst);
    jadd(&b, dst, "endpointRef", jstr(&b, df->destination_endpoint_ref));
    jadd(&b, dst, "dataDestination", jstr(&b, df->destination_topic));
    return json_finish(&b, o, flags, out, len);
}

int aioe_profile_to_json(const aioe_profile *p, unsigned flags, char **out, size_t *len)
{
    if (!p || !out || (flags & ~(unsigned)AIOE_JSON_PRETTY))
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    jb b = { false };
    json_object *o = jobj(&b);
    jadd(&b, o, "kind", jstr(&b, "DataflowProfile"));
    jadd(&b, o, "name", jstr(&b, p->name));
    jadd(&b, o, "namespace", jstr(&b, p->namespace_));
    jadd(&b, o, "instanceCount", jint(&b, p->instance_count));
    return json_finish(&b, o, flags, out, len);
}
