/* Received messages: the view a message callback gets (built by the
 * session's dispatch, session/session_inflight.c), its accessors, and the
 * owned copies a host may keep after the callback returns. */
#include <stdlib.h>
#include <string.h>

#include "session/session.h"

const char *aioe_message_topic(const aioe_message *msg, size_t *len)
{
    if (!msg) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = msg->topic_len;
    return msg->topic;
}

const void *aioe_message_payload(const aioe_message *msg, size_t *len)
{
    size_t n = msg && msg->m->payloadlen > 0 ? (size_t)msg->m->payloadlen : 0;
    if (len)
        *len = n;
    return n ? msg->m->payload : NULL;
}

int aioe_message_qos(const aioe_message *msg)
{
    return msg ? msg->m->qos : 0;
}

bool aioe_message_retain(const aioe_message *msg)
{
    return msg && msg->m->retained;
}

const char *aioe_message_content_type(const aioe_message *msg, size_t *len)
{
    MQTTProperty *p = msg ? MQTTProperties_getProperty(
                                &msg->m->properties, MQTTPROPERTY_CODE_CONTENT_TYPE)
                          : NULL;
    if (len)
        *len = p ? (size_t)p->value.data.len : 0;
    return p ? p->value.data.data : NULL;
}

size_t aioe_message_user_property_count(const aioe_message *msg)
{
    if (!msg)
        return 0;
    int n = MQTTProperties_propertyCount(&msg->m->properties,
                                         MQTTPROPERTY_CODE_USER_PROPERTY);
    return n > 0 ? (size_t)n : 0;
}

int aioe_message_user_property(const aioe_message *msg, size_t i,
                               aioe_user_property *out)
{
    if (!msg || !out)
        return AIOE_ERR_INVALID_ARG;
    if (i >= aioe_message_user_property_count(msg))
        return AIOE_ERR_NOT_FOUND;
    MQTTProperty *p = MQTTProperties_getPropertyAt(
        &msg->m->properties, MQTTPROPERTY_CODE_USER_PROPERTY, (int)i);
    if (!p)
        return AIOE_ERR_NOT_FOUND;
    out->name = p->value.data.data;
    out->name_len = (size_t)p->value.data.len;
    out->value = p->value.value.data;
    out->value_len = (size_t)p->value.value.len;
    return AIOE_OK;
}

static MQTTProperty *prop(const aioe_message *msg, enum MQTTPropertyCodes id)
{
    return msg ? MQTTProperties_getProperty(&msg->m->properties, id) : NULL;
}

bool aioe_message_dup(const aioe_message *msg)
{
    return msg && msg->m->dup;
}

const void *aioe_message_correlation_data(const aioe_message *msg, size_t *len)
{
    MQTTProperty *p = prop(msg, MQTTPROPERTY_CODE_CORRELATION_DATA);
    if (len)
        *len = p ? (size_t)p->value.data.len : 0;
    return p ? p->value.data.data : NULL;
}

const char *aioe_message_response_topic(const aioe_message *msg, size_t *len)
{
    MQTTProperty *p = prop(msg, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    if (len)
        *len = p ? (size_t)p->value.data.len : 0;
    return p ? p->value.data.data : NULL;
}

bool aioe_message_expiry(const aioe_message *msg, uint32_t *seconds)
{
    MQTTProperty *p = prop(msg, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
    if (p && seconds)
        *seconds = p->value.integer4;
    return p != NULL;
}

int aioe_message_payload_format(const aioe_message *msg)
{
    MQTTProperty *p = prop(msg, MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR);
    return p ? p->value.byte : -1;
}

int aioe_message_copy(const aioe_message *msg, aioe_message **out)
{
    if (!msg || !out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    aioe_message *c = calloc(1, sizeof *c);
    MQTTAsync_message *m = calloc(1, sizeof *m);
    char *topic = malloc(msg->topic_len + 1);
    void *payload = msg->m->payloadlen > 0 ? malloc((size_t)msg->m->payloadlen) : NULL;
    if (!c || !m || !topic || (msg->m->payloadlen > 0 && !payload)) {
        free(c);
        free(m);
        free(topic);
        free(payload);
        return AIOE_ERR_NOMEM;
    }
    *m = *msg->m;
    m->payload = payload;
    if (payload)
        memcpy(payload, msg->m->payload, (size_t)msg->m->payloadlen);
    m->properties = MQTTProperties_copy(&msg->m->properties);
    if (msg->m->properties.count > 0 && m->properties.count != msg->m->properties.count) {
        MQTTProperties_free(&m->properties);
        free(c);
        free(m);
        free(topic);
        free(payload);
        return AIOE_ERR_NOMEM;
    }
    memcpy(topic, msg->topic, msg->topic_len);
    topic[msg->topic_len] = '\0';
    c->topic = topic;
    c->topic_len = msg->topic_len;
    c->m = m;
    c->owned = true;
    c->inbox_id = msg->inbox_id; /* a copy of an inbox message acknowledges alike */
    c->inbox_redelivered = msg->inbox_redelivered;
    *out = c;
    return AIOE_OK;
}

void aioe_message_free(aioe_message *msg)
{
    if (!msg || !msg->owned)
        return;
    MQTTProperties_free(&msg->m->properties);
    if (msg->one_block) {
        free(msg);
        return;
    }
    free(msg->m->payload);
    free(msg->m);
    free((char *)msg->topic);
    free(msg);
}
