/* Independent MQTT v5 observer and publisher built on libmosquitto. */
#include "harness-internal.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000
#define PUBLISH_TIMEOUT_MS 10000

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* No mosquitto_lib_cleanup() at exit: an observer leaked by a failed
 * assertion may still have its thread running then, and with OpenSSL 3 the
 * call frees nothing that matters. */
static void lib_init(void)
{
    mosquitto_lib_init();
}

struct observer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct mosquitto *mosq;
    char *filter;
    int qos;
    bool auto_reconnect;
    bool connected;
    int connack_rc;            /* -1 until a CONNACK arrived */
    int sub_mid;
    int suback_rc;             /* -1 until SUBACK; else granted qos/reason */
    observer_msg **msgs;
    size_t count, cap;
};

static void free_msg(observer_msg *m)
{
    if (!m)
        return;
    free(m->topic);
    free(m->payload);
    free(m->content_type);
    free(m->response_topic);
    free(m->correlation_data);
    for (size_t i = 0; i < m->user_prop_count; i++) {
        free(m->user_props[i].name);
        free(m->user_props[i].value);
    }
    free(m->user_props);
    free(m);
}

static struct mosquitto *make_client(const harness_client_opts *o, void *ud,
                                     const char **host_out)
{
    pthread_once(&lib_once, lib_init);
    char *generated = o->client_id ? NULL : harness_unique("aioe-observer");
    struct mosquitto *mosq = mosquitto_new(o->client_id ? o->client_id
                                                        : generated,
                                           !o->persistent_session, ud);
    free(generated);
    if (!mosq) {
        harness_log("mosquitto_new failed");
        return NULL;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    if (o->username)
        mosquitto_username_pw_set(mosq, o->username, o->password);
    if (o->tls) {
        const char *cafile = o->cafile;
        if (!cafile) {
            const harness_pki *pki = harness_pki_get();
            if (!pki) {
                mosquitto_destroy(mosq);
                return NULL;
            }
            cafile = pki->ca_cert;
        }
        int rc = mosquitto_tls_set(mosq, cafile, NULL, o->certfile, o->keyfile,
                                   NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            harness_log("mosquitto_tls_set: %s", mosquitto_strerror(rc));
            mosquitto_destroy(mosq);
            return NULL;
        }
    }
    *host_out = o->host ? o->host : o->tls ? "localhost" : "127.0.0.1";
    return mosq;
}

static int client_connect(struct mosquitto *mosq, const harness_client_opts *o,
                          const char *host)
{
    mosquitto_property *props = NULL;
    int rc;

    if (o->persistent_session)
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     3600);
    rc = mosquitto_connect_bind_v5(mosq, host, o->port,
                                   o->keepalive ? o->keepalive : 30, NULL,
                                   props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        harness_log("connect %s:%d: %s", host, o->port,
                    rc == MOSQ_ERR_ERRNO ? "socket error"
                                         : mosquitto_strerror(rc));
        return -1;
    }
    rc = mosquitto_loop_start(mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        harness_log("mosquitto_loop_start: %s", mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

void harness_client_opts_for(broker *b, int i, harness_client_opts *o)
{
    const broker_listener *l = broker_listener_info(b, i);

    memset(o, 0, sizeof *o);
    o->port = broker_port(b, i);
    if (l && l->tls) {
        const harness_pki *pki = harness_pki_get();
        o->tls = true;
        o->cafile = pki ? pki->ca_cert : NULL;
        if (l->require_certificate && pki) {
            o->certfile = pki->client_root_cert;
            o->keyfile = pki->client_root_key;
        }
    }
}

/* --- observer ----------------------------------------------------------- */

static void obs_on_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
                           const mosquitto_property *props)
{
    observer *o = ud;

    (void)flags;
    (void)props;
    pthread_mutex_lock(&o->lock);
    o->connack_rc = rc;
    o->connected = rc == 0;
    if (rc == 0) {
        /* Also after an automatic reconnect (auto_reconnect, e.g. across
         * broker_restart): subscribe again in case the session is new. */
        mosquitto_subscribe_v5(mosq, &o->sub_mid, o->filter, o->qos, 0, NULL);
    }
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void obs_on_disconnect(struct mosquitto *mosq, void *ud, int rc,
                              const mosquitto_property *props)
{
    observer *o = ud;

    (void)rc;
    (void)props;
    /* Without auto_reconnect, putting the client in the "disconnecting"
     * state stops libmosquitto's loop thread from reconnecting. */
    if (!o->auto_reconnect)
        mosquitto_disconnect_v5(mosq, 0, NULL);
    pthread_mutex_lock(&o->lock);
    o->connected = false;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void obs_on_subscribe(struct mosquitto *mosq, void *ud, int mid,
                             int count, const int *granted,
                             const mosquitto_property *props)
{
    observer *o = ud;

    (void)mosq;
    (void)props;
    pthread_mutex_lock(&o->lock);
    if (mid == o->sub_mid)
        o->suback_rc = count > 0 ? granted[0] : 0x80;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void obs_on_message(struct mosquitto *mosq, void *ud,
                           const struct mosquitto_message *msg,
                           const mosquitto_property *props)
{
    observer *o = ud;
    observer_msg *m = calloc(1, sizeof *m);

    (void)mosq;
    if (!m)
        abort();
    m->topic = dup_or_null(msg->topic);
    m->payload_len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    m->payload = malloc(m->payload_len + 1);
    if (!m->payload)
        abort();
    if (m->payload_len)
        memcpy(m->payload, msg->payload, m->payload_len);
    m->payload[m->payload_len] = '\0';
    m->qos = msg->qos;
    m->retain = msg->retain;
    m->payload_format = -1;
    for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
        int id = mosquitto_property_identifier(p);
        char *name = NULL, *value = NULL;
        void *bin = NULL;
        uint16_t bin_len = 0;
        uint8_t byte = 0;
        switch (id) {
        case MQTT_PROP_CONTENT_TYPE:
            if (!m->content_type)
                mosquitto_property_read_string(p, id, &m->content_type, false);
            break;
        case MQTT_PROP_RESPONSE_TOPIC:
            if (!m->response_topic)
                mosquitto_property_read_string(p, id, &m->response_topic, false);
            break;
        case MQTT_PROP_CORRELATION_DATA:
            if (!m->correlation_data &&
                mosquitto_property_read_binary(p, id, &bin, &bin_len, false)) {
                m->correlation_data = bin;
                m->correlation_len = bin_len;
            }
            break;
        case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
            if (mosquitto_property_read_int32(p, id, &m->message_expiry, false))
                m->has_message_expiry = true;
            break;
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
            if (mosquitto_property_read_byte(p, id, &byte, false))
                m->payload_format = byte;
            break;
        case MQTT_PROP_USER_PROPERTY:
            if (mosquitto_property_read_string_pair(p, id, &name, &value,
                                                    false)) {
                observer_prop *np = realloc(m->user_props,
                                            (m->user_prop_count + 1) *
                                                sizeof *np);
                if (!np)
                    abort();
                m->user_props = np;
                np[m->user_prop_count].name = name;
                np[m->user_prop_count].value = value;
                m->user_prop_count++;
            }
            break;
        default:
            break;
        }
    }
    pthread_mutex_lock(&o->lock);
    if (o->count == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->msgs = realloc(o->msgs, o->cap * sizeof *o->msgs);
        if (!o->msgs)
            abort();
    }
    o->msgs[o->count++] = m;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

/* Waits on o->cond until *field != -1 or the deadline; returns its value. */
static int wait_field(observer *o, int *field, int64_t deadline)
{
    pthread_mutex_lock(&o->lock);
    while (*field == -1 && harness_cond_wait_until(&o->cond, &o->lock, deadline)) {
    }
    int v = *field;
    pthread_mutex_unlock(&o->lock);
    return v;
}

int observer_connect(const harness_client_opts *opts, const char *filter,
                     int qos, observer **out)
{
    observer *o = calloc(1, sizeof *o);
    const char *host = NULL;

    *out = NULL;
    if (!o)
        abort();
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->filter = dup_or_null(filter);
    o->qos = qos;
    o->auto_reconnect = opts->auto_reconnect;
    o->connack_rc = -1;
    o->suback_rc = -1;
    o->sub_mid = -1;
    o->mosq = make_client(opts, o, &host);
    if (!o->mosq) {
        observer_free(o);
        return -1;
    }
    mosquitto_connect_v5_callback_set(o->mosq, obs_on_connect);
    mosquitto_disconnect_v5_callback_set(o->mosq, obs_on_disconnect);
    mosquitto_subscribe_v5_callback_set(o->mosq, obs_on_subscribe);
    mosquitto_message_v5_callback_set(o->mosq, obs_on_message);
    mosquitto_reconnect_delay_set(o->mosq, 1, 1, false);
    if (client_connect(o->mosq, opts, host) != 0) {
        observer_free(o);
        return -1;
    }
    int64_t deadline = harness_now_ms() + CONNECT_TIMEOUT_MS;
    int rc = wait_field(o, &o->connack_rc, deadline);
    if (rc != 0) {
        harness_log("observer: CONNACK %s (%d)",
                    rc < 0 ? "timeout" : mosquitto_reason_string(rc), rc);
        observer_free(o);
        return -1;
    }
    rc = wait_field(o, &o->suback_rc, deadline);
    if (rc < 0 || rc >= 0x80) {
        harness_log("observer: SUBACK for '%s' %s (%d)", filter,
                    rc < 0 ? "timeout" : "failure", rc);
        observer_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

int observer_start(broker *b, int i, const char *filter, int qos,
                   observer **out)
{
    harness_client_opts opts;
    const broker_listener *l = broker_listener_info(b, i);

    *out = NULL;
    if (!l) {
        harness_log("observer_start: no listener %d", i);
        return -1;
    }
    if (l->transport != BROKER_TCP) {
        harness_log("observer_start: listener %d is not TCP", i);
        return -1;
    }
    harness_client_opts_for(b, i, &opts);
    return observer_connect(&opts, filter, qos, out);
}

size_t observer_count(observer *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->count;
    pthread_mutex_unlock(&o->lock);
    return n;
}

size_t observer_wait(observer *o, size_t count, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    pthread_mutex_lock(&o->lock);
    while (o->count < count && harness_cond_wait_until(&o->cond, &o->lock, deadline)) {
    }
    size_t n = o->count;
    pthread_mutex_unlock(&o->lock);
    return n;
}

const observer_msg *observer_get(observer *o, size_t i)
{
    pthread_mutex_lock(&o->lock);
    const observer_msg *m = i < o->count ? o->msgs[i] : NULL;
    pthread_mutex_unlock(&o->lock);
    return m;
}

const char *observer_msg_prop(const observer_msg *m, const char *name)
{
    for (size_t i = 0; m && i < m->user_prop_count; i++)
        if (strcmp(m->user_props[i].name, name) == 0)
            return m->user_props[i].value;
    return NULL;
}

void observer_clear(observer *o)
{
    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->count; i++)
        free_msg(o->msgs[i]);
    o->count = 0;
    pthread_mutex_unlock(&o->lock);
}

bool observer_connected(observer *o)
{
    pthread_mutex_lock(&o->lock);
    bool c = o->connected;
    pthread_mutex_unlock(&o->lock);
    return c;
}

void observer_free(observer *o)
{
    if (!o)
        return;
    if (o->mosq) {
        mosquitto_disconnect_v5(o->mosq, 0, NULL);
        mosquitto_loop_stop(o->mosq, false);
        mosquitto_destroy(o->mosq);
    }
    observer_clear(o);
    free(o->msgs);
    free(o->filter);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

/* --- publisher ---------------------------------------------------------- */

typedef struct pub_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int connack_rc;
    size_t done;
    int failed;
} pub_state;

static void pub_on_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
                           const mosquitto_property *props)
{
    pub_state *s = ud;

    (void)mosq;
    (void)flags;
    (void)props;
    pthread_mutex_lock(&s->lock);
    s->connack_rc = rc;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void pub_on_publish(struct mosquitto *mosq, void *ud, int mid,
                           int reason, const mosquitto_property *props)
{
    pub_state *s = ud;

    (void)mosq;
    (void)mid;
    (void)props;
    pthread_mutex_lock(&s->lock);
    s->done++;
    if (reason >= 0x80)
        s->failed++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static bool pub_wait(pub_state *s, bool (*done)(pub_state *, size_t), size_t n,
                     int64_t deadline)
{
    pthread_mutex_lock(&s->lock);
    while (!done(s, n) && harness_cond_wait_until(&s->cond, &s->lock, deadline)) {
    }
    bool ok = done(s, n);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static bool connack_arrived(pub_state *s, size_t n)
{
    (void)n;
    return s->connack_rc != -1;
}

static bool all_published(pub_state *s, size_t n)
{
    return s->done >= n;
}

int harness_publish_opts(const harness_client_opts *opts,
                         const harness_pub *msgs, size_t count)
{
    pub_state s = { .connack_rc = -1 };
    const char *host = NULL;
    int result = -1;

    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    struct mosquitto *mosq = make_client(opts, &s, &host);
    if (!mosq)
        goto out;
    mosquitto_connect_v5_callback_set(mosq, pub_on_connect);
    mosquitto_publish_v5_callback_set(mosq, pub_on_publish);
    if (client_connect(mosq, opts, host) != 0)
        goto out;
    int64_t deadline = harness_now_ms() + PUBLISH_TIMEOUT_MS;
    if (!pub_wait(&s, connack_arrived, 0, deadline) || s.connack_rc != 0) {
        harness_log("publish: CONNACK %d", s.connack_rc);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const harness_pub *m = &msgs[i];
        mosquitto_property *props = NULL;
        if (m->content_type)
            mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE,
                                          m->content_type);
        for (size_t j = 0; j < m->user_prop_pairs; j++)
            mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY,
                                               m->user_props[2 * j],
                                               m->user_props[2 * j + 1]);
        int rc = mosquitto_publish_v5(mosq, NULL, m->topic,
                                      (int)m->payload_len, m->payload, m->qos,
                                      m->retain, props);
        mosquitto_property_free_all(&props);
        if (rc != MOSQ_ERR_SUCCESS) {
            harness_log("mosquitto_publish_v5(%s): %s", m->topic,
                        mosquitto_strerror(rc));
            goto out;
        }
    }
    if (!pub_wait(&s, all_published, count, deadline)) {
        harness_log("publish: only %zu of %zu completed", s.done, count);
        goto out;
    }
    result = s.failed ? -1 : 0;
    if (s.failed)
        harness_log("publish: %d message(s) refused by the broker", s.failed);
out:
    if (mosq) {
        mosquitto_disconnect_v5(mosq, 0, NULL);
        mosquitto_loop_stop(mosq, false);
        mosquitto_destroy(mosq);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return result;
}

int harness_publish(broker *b, int i, const char *topic, const void *payload,
                    size_t len, int qos, bool retain)
{
    harness_client_opts opts;
    harness_pub m = { .topic = topic, .payload = payload, .payload_len = len,
                      .qos = qos, .retain = retain };

    harness_client_opts_for(b, i, &opts);
    return harness_publish_opts(&opts, &m, 1);
}
