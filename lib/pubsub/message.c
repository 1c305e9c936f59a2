/* Publishing: aioe_session_publish(), the reusable message builder with
 * MQTT v5 properties, publishing a builder through the endpoint's
 * CloudEvents stage, and the publish-window queries. The window itself and
 * the records of outstanding publishes belong to the session
 * (session/session_inflight.c: aioe_pubsub_send()).
 *
 * Hot path: the builder keeps borrowed views and a reusable array of Paho
 * property descriptors pointing at them, so a publish copies the message
 * once, inside Paho (MQTTAsync_sendMessage copies payload and properties). */
#include <stdlib.h>
#include <string.h>

#include "session/session.h"

#define MQTT_MAX_STRING 65535u
#define MQTT_MAX_PAYLOAD 268435455u

struct aioe_message_builder {
    char *topic;            /* owned, NUL-terminated (Paho wants a C string) */
    size_t topic_len, topic_cap;
    const void *payload;
    size_t payload_len;
    int qos;                /* -1: the endpoint's */
    bool retain;
    bool from_mqtt;         /* filled from a received message */
    const char *content_type;
    size_t content_type_len;
    bool has_content_type;
    aioe_user_property *props;
    size_t n_props, props_cap;
    const void *correlation;
    size_t correlation_len;
    bool has_correlation;
    const char *response_topic;
    size_t response_topic_len;
    bool has_response_topic;
    uint32_t expiry;
    bool has_expiry;
    int payload_format;     /* -1: absent */
    MQTTProperty *wire;     /* descriptors for Paho, rebuilt per publish */
    size_t wire_cap;
    aioe_cloudevents_output *ce_out; /* made on first use */
};

/* ---- builder --------------------------------------------------------- */

int aioe_message_builder_new(aioe_message_builder **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return AIOE_ERR_NOMEM;
    aioe_message_builder_reset(*out);
    return AIOE_OK;
}

void aioe_message_builder_free(aioe_message_builder *b)
{
    if (!b)
        return;
    free(b->topic);
    free(b->props);
    free(b->wire);
    aioe_cloudevents_output_free(b->ce_out);
    free(b);
}

void aioe_message_builder_reset(aioe_message_builder *b)
{
    if (!b)
        return;
    if (b->topic)
        b->topic[0] = '\0';
    b->topic_len = 0;
    b->payload = NULL;
    b->payload_len = 0;
    b->qos = -1;
    b->retain = false;
    b->from_mqtt = false;
    b->has_content_type = false;
    b->n_props = 0;
    b->has_correlation = false;
    b->has_response_topic = false;
    b->has_expiry = false;
    b->payload_format = -1;
}

int aioe_message_builder_set_topic(aioe_message_builder *b, const char *topic, size_t len)
{
    if (!b || !topic || len == 0 || len > MQTT_MAX_STRING || memchr(topic, '\0', len) ||
        memchr(topic, '+', len) || memchr(topic, '#', len))
        return AIOE_ERR_INVALID_ARG;
    if (len + 1 > b->topic_cap) {
        char *t = realloc(b->topic, len + 1);
        if (!t)
            return AIOE_ERR_NOMEM;
        b->topic = t;
        b->topic_cap = len + 1;
    }
    memcpy(b->topic, topic, len);
    b->topic[len] = '\0';
    b->topic_len = len;
    return AIOE_OK;
}

int aioe_message_builder_set_payload(aioe_message_builder *b, const void *data, size_t len)
{
    if (!b || (!data && len) || len > MQTT_MAX_PAYLOAD)
        return AIOE_ERR_INVALID_ARG;
    b->payload = data;
    b->payload_len = len;
    return AIOE_OK;
}

int aioe_message_builder_set_qos(aioe_message_builder *b, int qos)
{
    if (!b || qos < 0 || qos > 1)
        return AIOE_ERR_INVALID_ARG;
    b->qos = qos;
    return AIOE_OK;
}

int aioe_message_builder_set_retain(aioe_message_builder *b, bool retain)
{
    if (!b)
        return AIOE_ERR_INVALID_ARG;
    b->retain = retain;
    return AIOE_OK;
}

int aioe_message_builder_set_content_type(aioe_message_builder *b,
                                          const char *content_type, size_t len)
{
    if (!b || (!content_type && len) || len > MQTT_MAX_STRING)
        return AIOE_ERR_INVALID_ARG;
    b->content_type = content_type;
    b->content_type_len = len;
    b->has_content_type = content_type != NULL;
    return AIOE_OK;
}

int aioe_message_builder_add_user_property(aioe_message_builder *b, const char *name,
                                           size_t name_len, const char *value,
                                           size_t value_len)
{
    if (!b || (!name && name_len) || (!value && value_len) || name_len > MQTT_MAX_STRING ||
        value_len > MQTT_MAX_STRING)
        return AIOE_ERR_INVALID_ARG;
    if (b->n_props == b->props_cap) {
        size_t cap = b->props_cap ? b->props_cap * 2 : 8;
        aioe_user_property *p = realloc(b->props, cap * sizeof *p);
        if (!p)
            return AIOE_ERR_NOMEM;
        b->props = p;
        b->props_cap = cap;
    }
    b->props[b->n_props++] = (aioe_user_property){ name ? name : "", name_len,
                                                   value ? value : "", value_len };
    return AIOE_OK;
}

int aioe_message_builder_set_correlation_data(aioe_message_builder *b, const void *data,
                                              size_t len)
{
    if (!b || (!data && len) || len > MQTT_MAX_STRING)
        return AIOE_ERR_INVALID_ARG;
    b->correlation = data ? data : "";
    b->correlation_len = len;
    b->has_correlation = data != NULL;
    return AIOE_OK;
}

int aioe_message_builder_set_response_topic(aioe_message_builder *b, const char *topic,
                                            size_t len)
{
    if (!b || (!topic && len) || len > MQTT_MAX_STRING ||
        (topic && (memchr(topic, '+', len) || memchr(topic, '#', len))))
        return AIOE_ERR_INVALID_ARG;
    b->response_topic = topic;
    b->response_topic_len = len;
    b->has_response_topic = topic != NULL;
    return AIOE_OK;
}

int aioe_message_builder_set_message_expiry(aioe_message_builder *b, uint32_t seconds)
{
    if (!b)
        return AIOE_ERR_INVALID_ARG;
    b->expiry = seconds;
    b->has_expiry = true;
    return AIOE_OK;
}

int aioe_message_builder_set_payload_format(aioe_message_builder *b,
                                            aioe_payload_format format)
{
    if (!b || (format != AIOE_PAYLOAD_BYTES && format != AIOE_PAYLOAD_UTF8))
        return AIOE_ERR_INVALID_ARG;
    b->payload_format = (int)format;
    return AIOE_OK;
}

int aioe_message_builder_set_from_message(aioe_message_builder *b, const aioe_message *msg)
{
    if (!b || !msg)
        return AIOE_ERR_INVALID_ARG;
    aioe_message_builder_reset(b);
    size_t len;
    const char *topic = aioe_message_topic(msg, &len);
    int rc = aioe_message_builder_set_topic(b, topic, len);
    if (rc != AIOE_OK)
        return rc;
    const void *payload = aioe_message_payload(msg, &len);
    b->payload = payload;
    b->payload_len = len;
    b->qos = aioe_message_qos(msg) > 1 ? 1 : aioe_message_qos(msg);
    b->retain = aioe_message_retain(msg);
    b->from_mqtt = true;
    const char *ct = aioe_message_content_type(msg, &len);
    if (ct)
        aioe_message_builder_set_content_type(b, ct, len);
    size_t n = aioe_message_user_property_count(msg);
    for (size_t i = 0; i < n; i++) {
        aioe_user_property p;
        if (aioe_message_user_property(msg, i, &p) == AIOE_OK &&
            (rc = aioe_message_builder_add_user_property(b, p.name, p.name_len, p.value,
                                                         p.value_len)) != AIOE_OK)
            return rc;
    }
    const void *corr = aioe_message_correlation_data(msg, &len);
    if (corr)
        aioe_message_builder_set_correlation_data(b, corr, len);
    const char *resp = aioe_message_response_topic(msg, &len);
    if (resp) {
        b->response_topic = resp;
        b->response_topic_len = len;
        b->has_response_topic = true;
    }
    uint32_t expiry;
    if (aioe_message_expiry(msg, &expiry))
        aioe_message_builder_set_message_expiry(b, expiry);
    b->payload_format = aioe_message_payload_format(msg);
    return AIOE_OK;
}

/* ---- publishing --------------------------------------------------------- */

/* Encoded size of a string/binary property: id + 2-byte length + bytes. */
static size_t str_prop_size(size_t len)
{
    return 1 + 2 + len;
}

static MQTTProperty *next_prop(MQTTProperty *wire, size_t *n, enum MQTTPropertyCodes id)
{
    MQTTProperty *p = &wire[(*n)++];
    memset(p, 0, sizeof *p);
    p->identifier = id;
    return p;
}

/* aioe_session_publish() on an endpoint with a CloudEvents stage: the same
 * publish through the message builder path, which runs the stage. A
 * builder on the stack costs one topic copy per publish, only on
 * CloudEvents endpoints. */
static int publish_through_ce(aioe_session *s, const char *topic, const void *payload,
                              size_t len, int qos, bool retain, aioe_publish_cb cb,
                              void *user_data)
{
    struct aioe_message_builder b;
    memset(&b, 0, sizeof b);
    aioe_message_builder_reset(&b);
    int rc = aioe_message_builder_set_topic(&b, topic, strlen(topic));
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_payload(&b, payload, len);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_qos(&b, qos);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_retain(&b, retain);
    if (rc == AIOE_OK)
        rc = aioe_session_publish_message(s, &b, cb, user_data);
    free(b.topic);
    free(b.props);
    free(b.wire);
    aioe_cloudevents_output_free(b.ce_out);
    return rc;
}

int aioe_session_publish(aioe_session *s, const char *topic,
                         const void *payload, size_t len, int qos, bool retain,
                         aioe_publish_cb cb, void *user_data)
{
    if (!s || !topic || !*topic || (!payload && len) || qos < 0 || qos > 1 ||
        len > 268435455u || strpbrk(topic, "+#"))
        return AIOE_ERR_INVALID_ARG;
    if (s->ce) /* never skip the endpoint's cloudEventAttributes stage */
        return publish_through_ce(s, topic, payload, len, qos, retain, cb, user_data);
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = retain;
    return aioe_pubsub_send(s, topic, &msg, 0, cb, user_data);
}

size_t aioe_session_publish_window(const aioe_session *cs)
{
    if (!cs)
        return 0;
    aioe_session *s = (aioe_session *)cs;
    pthread_mutex_lock(&s->mu);
    size_t w = s->window;
    pthread_mutex_unlock(&s->mu);
    return w;
}

size_t aioe_session_publish_outstanding(const aioe_session *cs)
{
    if (!cs)
        return 0;
    aioe_session *s = (aioe_session *)cs;
    pthread_mutex_lock(&s->mu);
    size_t n = s->outstanding;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int aioe_session_publish_message(aioe_session *s, aioe_message_builder *b,
                                 aioe_publish_cb cb, void *user_data)
{
    if (!s || !b || b->topic_len == 0)
        return AIOE_ERR_INVALID_ARG;
    const aioe_user_property *props = b->props;
    size_t n_props = b->n_props;
    const char *ct = b->has_content_type ? b->content_type : NULL;
    size_t ct_len = b->has_content_type ? b->content_type_len : 0;

    if (s->ce) {
        if (!b->ce_out && aioe_cloudevents_output_new(&b->ce_out) != AIOE_OK)
            return AIOE_ERR_NOMEM;
        int rc = aioe_cloudevents_apply(s->ce, props, n_props, ct, ct_len, b->topic,
                                        b->topic_len, b->ce_out, NULL);
        if (rc != AIOE_OK)
            return rc; /* INVALID_EVENT: the host decides; never published */
        props = aioe_cloudevents_output_properties(b->ce_out, &n_props);
        ct = aioe_cloudevents_output_content_type(b->ce_out, &ct_len);
    }

    size_t need = n_props + 5;
    if (need > b->wire_cap) {
        MQTTProperty *w = realloc(b->wire, need * sizeof *w);
        if (!w)
            return AIOE_ERR_NOMEM;
        b->wire = w;
        b->wire_cap = need;
    }
    size_t n = 0, props_len = 0;
    for (size_t i = 0; i < n_props; i++) {
        if (props[i].name_len > MQTT_MAX_STRING || props[i].value_len > MQTT_MAX_STRING)
            return AIOE_ERR_INVALID_ARG;
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_USER_PROPERTY);
        p->value.data.data = (char *)props[i].name;
        p->value.data.len = (int)props[i].name_len;
        p->value.value.data = (char *)props[i].value;
        p->value.value.len = (int)props[i].value_len;
        props_len += 1 + 2 + props[i].name_len + 2 + props[i].value_len;
    }
    if (ct) {
        if (ct_len > MQTT_MAX_STRING)
            return AIOE_ERR_INVALID_ARG;
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_CONTENT_TYPE);
        p->value.data.data = (char *)ct;
        p->value.data.len = (int)ct_len;
        props_len += str_prop_size(ct_len);
    }
    if (b->has_correlation) {
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_CORRELATION_DATA);
        p->value.data.data = (char *)b->correlation;
        p->value.data.len = (int)b->correlation_len;
        props_len += str_prop_size(b->correlation_len);
    }
    if (b->has_response_topic) {
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
        p->value.data.data = (char *)b->response_topic;
        p->value.data.len = (int)b->response_topic_len;
        props_len += str_prop_size(b->response_topic_len);
    }
    if (b->has_expiry) {
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
        p->value.integer4 = b->expiry;
        props_len += 1 + 4;
    }
    if (b->payload_format >= 0) {
        MQTTProperty *p = next_prop(b->wire, &n, MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR);
        p->value.byte = (unsigned char)b->payload_format;
        props_len += 1 + 1;
    }

    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)b->payload;
    msg.payloadlen = (int)b->payload_len;
    msg.qos = b->qos >= 0 ? b->qos : aioe_endpoint_qos(s->ep);
    /* retain: Keep/Never applies to messages that came from an MQTT source */
    msg.retained = b->retain &&
                   !(b->from_mqtt && aioe_endpoint_retain(s->ep) == AIOE_RETAIN_NEVER);
    msg.properties.count = (int)n;
    msg.properties.max_count = (int)n;
    msg.properties.length = (int)props_len;
    msg.properties.array = n ? b->wire : NULL;
    return aioe_pubsub_send(s, b->topic, &msg, props_len, cb, user_data);
}

/* ---- will message ------------------------------------------------------ */

static int add_will_prop(MQTTProperties *props, MQTTProperty *p)
{
    /* MQTTProperties_add deep-copies strings and binary data */
    return MQTTProperties_add(props, p) == 0 ? AIOE_OK : AIOE_ERR_NOMEM;
}

int aioe_session_options_set_will(aioe_session_options *opts,
                                  const aioe_message_builder *b,
                                  uint32_t delay_seconds)
{
    if (!opts || (b && b->topic_len == 0))
        return AIOE_ERR_INVALID_ARG;
    aioe__will *w = NULL;
    if (b) {
        if (!(w = calloc(1, sizeof *w)))
            return AIOE_ERR_NOMEM;
        w->qos = b->qos;
        w->retain = b->retain;
        w->payload_len = b->payload_len;
        w->topic = strdup(b->topic);
        w->payload = malloc(b->payload_len ? b->payload_len : 1);
        int rc = w->topic && w->payload ? AIOE_OK : AIOE_ERR_NOMEM;
        if (rc == AIOE_OK && b->payload_len)
            memcpy(w->payload, b->payload, b->payload_len);
        MQTTProperty p;
        for (size_t i = 0; rc == AIOE_OK && i < b->n_props; i++) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
            p.value.data.data = (char *)b->props[i].name;
            p.value.data.len = (int)b->props[i].name_len;
            p.value.value.data = (char *)b->props[i].value;
            p.value.value.len = (int)b->props[i].value_len;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && b->has_content_type) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_CONTENT_TYPE;
            p.value.data.data = (char *)b->content_type;
            p.value.data.len = (int)b->content_type_len;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && b->has_correlation) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
            p.value.data.data = (char *)b->correlation;
            p.value.data.len = (int)b->correlation_len;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && b->has_response_topic) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC;
            p.value.data.data = (char *)b->response_topic;
            p.value.data.len = (int)b->response_topic_len;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && b->has_expiry) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
            p.value.integer4 = b->expiry;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && b->payload_format >= 0) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR;
            p.value.byte = (unsigned char)b->payload_format;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc == AIOE_OK && delay_seconds) {
            memset(&p, 0, sizeof p);
            p.identifier = MQTTPROPERTY_CODE_WILL_DELAY_INTERVAL;
            p.value.integer4 = delay_seconds;
            rc = add_will_prop(&w->props, &p);
        }
        if (rc != AIOE_OK) {
            free(w->topic);
            free(w->payload);
            MQTTProperties_free(&w->props);
            free(w);
            return rc;
        }
    }
    aioe__conn_opts tmp = { .will = opts->conn.will };
    aioe__session_conn_opts_clear(&tmp); /* frees the old will only */
    opts->conn.will = w;
    return AIOE_OK;
}
