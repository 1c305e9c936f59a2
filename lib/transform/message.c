/* Messages going into and out of a transformation stage: borrowed input
 * bytes, owned output bytes, user properties. */
#include <stdlib.h>
#include <string.h>

#include "transform_internal.h"

int aioe_transform_message_new(aioe_transform_message **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? AIOE_OK : AIOE_ERR_NOMEM;
}

void aioe_transform_message_reset(aioe_transform_message *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nstrs; i++)
        free(m->strs[i]);
    m->nstrs = 0;
    m->payload = NULL;
    m->payload_len = 0;
    m->topic = NULL;
    m->topic_len = 0;
    m->content_type = NULL;
    m->content_type_len = 0;
    m->nprops = 0;
}

void aioe_transform_message_free(aioe_transform_message *m)
{
    if (!m)
        return;
    aioe_transform_message_reset(m);
    free(m->strs);
    free(m->owned);
    free(m->props);
    free(m);
}

int aioe_transform_message_set_payload(aioe_transform_message *m, const void *payload,
                                       size_t len)
{
    if (!m || (!payload && len))
        return AIOE_ERR_INVALID_ARG;
    m->payload = payload;
    m->payload_len = len;
    return AIOE_OK;
}

int aioe_transform_message_set_topic(aioe_transform_message *m, const char *topic, size_t len)
{
    if (!m || (!topic && len))
        return AIOE_ERR_INVALID_ARG;
    m->topic = topic;
    m->topic_len = len;
    return AIOE_OK;
}

int aioe_transform_message_set_content_type(aioe_transform_message *m, const char *ct,
                                            size_t len)
{
    if (!m || (!ct && len))
        return AIOE_ERR_INVALID_ARG;
    m->content_type = ct;
    m->content_type_len = ct ? len : 0;
    return AIOE_OK;
}

int aioe_transform_message_add_user_property(aioe_transform_message *m, const char *name,
                                             size_t name_len, const char *value,
                                             size_t value_len)
{
    if (!m || (!name && name_len) || (!value && value_len))
        return AIOE_ERR_INVALID_ARG;
    if (m->nprops == m->props_cap) {
        size_t cap = m->props_cap ? m->props_cap * 2 : 8;
        aioe_user_property *p = realloc(m->props, cap * sizeof *p);
        if (!p)
            return AIOE_ERR_NOMEM;
        m->props = p;
        m->props_cap = cap;
    }
    m->props[m->nprops++] = (aioe_user_property){ .name = name ? name : "",
                                                  .name_len = name_len,
                                                  .value = value ? value : "",
                                                  .value_len = value_len };
    return AIOE_OK;
}

const void *aioe_transform_message_payload(const aioe_transform_message *m, size_t *len)
{
    if (len)
        *len = m ? m->payload_len : 0;
    return m ? m->payload : NULL;
}

const char *aioe_transform_message_content_type(const aioe_transform_message *m, size_t *len)
{
    if (len)
        *len = m ? m->content_type_len : 0;
    return m ? m->content_type : NULL;
}

size_t aioe_transform_message_user_property_count(const aioe_transform_message *m)
{
    return m ? m->nprops : 0;
}

int aioe_transform_message_user_property(const aioe_transform_message *m, size_t i,
                                         aioe_user_property *out)
{
    if (!m || !out || i >= m->nprops)
        return AIOE_ERR_INVALID_ARG;
    *out = m->props[i];
    return AIOE_OK;
}

int aioe__transform_tmsg_set_owned_payload(aioe_transform_message *m, const char *p, size_t len)
{
    if (len + 1 > m->owned_cap) {
        size_t cap = len + 1 > 256 ? len + 1 : 256;
        unsigned char *n = realloc(m->owned, cap);
        if (!n)
            return AIOE_ERR_NOMEM;
        m->owned = n;
        m->owned_cap = cap;
    }
    if (len)
        memcpy(m->owned, p, len);
    m->owned[len] = 0;
    m->payload = m->owned;
    m->payload_len = len;
    return AIOE_OK;
}

int aioe__transform_tmsg_add_owned_property(aioe_transform_message *m, const char *name, size_t nlen,
                                  const char *value, size_t vlen)
{
    if (m->nstrs == m->strs_cap) {
        size_t cap = m->strs_cap ? m->strs_cap * 2 : 4;
        char **n = realloc(m->strs, cap * sizeof *n);
        if (!n)
            return AIOE_ERR_NOMEM;
        m->strs = n;
        m->strs_cap = cap;
    }
    char *s = malloc(nlen + vlen + 2);
    if (!s)
        return AIOE_ERR_NOMEM;
    memcpy(s, name, nlen);
    s[nlen] = 0;
    memcpy(s + nlen + 1, value, vlen);
    s[nlen + 1 + vlen] = 0;
    m->strs[m->nstrs++] = s;
    int rc = aioe_transform_message_add_user_property(m, s, nlen, s + nlen + 1, vlen);
    return rc;
}

void aioe__transform_tmsg_remove_property(aioe_transform_message *m, const char *name, size_t nlen)
{
    size_t w = 0;
    for (size_t i = 0; i < m->nprops; i++)
        if (!(m->props[i].name_len == nlen && memcmp(m->props[i].name, name, nlen) == 0))
            m->props[w++] = m->props[i];
    m->nprops = w;
}
