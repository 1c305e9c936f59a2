/* Subscribing: subscribe options, subscribe and unsubscribe. The
 * subscription table and the SUBSCRIBE/UNSUBSCRIBE exchanges belong to
 * the session (session/session_inflight.c), which also sends them again
 * after a reconnect; this file checks the host's request and records it. */
#include <stdlib.h>
#include <string.h>

#include "aioendpoint/dataflow.h"
#include "session/session.h"

/* `$shared/<group>/...` (the AIO documentation's spelling) is MQTT's
 * `$share/<group>/...`. Returns a malloc'd filter, or NULL on NOMEM. */
static char *map_filter(const char *filter)
{
    static const char aio[] = "$shared/";
    if (strncmp(filter, aio, sizeof aio - 1) != 0)
        return strdup(filter);
    size_t n = strlen(filter);
    char *out = malloc(n); /* one byte shorter, plus NUL */
    if (out) {
        memcpy(out, "$share/", 7);
        memcpy(out + 7, filter + sizeof aio - 1, n - (sizeof aio - 1) + 1);
    }
    return out;
}

struct aioe_subscribe_options {
    int qos; /* -1: the endpoint's */
    bool no_local, retain_as_published;
    aioe_retain_handling retain_handling;
};

int aioe_subscribe_options_new(aioe_subscribe_options **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return AIOE_ERR_NOMEM;
    (*out)->qos = -1;
    return AIOE_OK;
}

void aioe_subscribe_options_free(aioe_subscribe_options *opts)
{
    free(opts);
}

int aioe_subscribe_options_set_qos(aioe_subscribe_options *opts, int qos)
{
    if (!opts || qos < 0 || qos > 1)
        return AIOE_ERR_INVALID_ARG;
    opts->qos = qos;
    return AIOE_OK;
}

int aioe_subscribe_options_set_no_local(aioe_subscribe_options *opts, bool on)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    opts->no_local = on;
    return AIOE_OK;
}

int aioe_subscribe_options_set_retain_as_published(aioe_subscribe_options *opts, bool on)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    opts->retain_as_published = on;
    return AIOE_OK;
}

int aioe_subscribe_options_set_retain_handling(aioe_subscribe_options *opts,
                                               aioe_retain_handling rh)
{
    if (!opts || rh < AIOE_RETAIN_SEND_ON_SUBSCRIBE || rh > AIOE_RETAIN_DO_NOT_SEND)
        return AIOE_ERR_INVALID_ARG;
    opts->retain_handling = rh;
    return AIOE_OK;
}

int aioe_session_subscribe_with(aioe_session *s, const char *filter,
                                const aioe_subscribe_options *opts,
                                aioe_subscribe_cb cb, void *user_data)
{
    if (!s || !filter)
        return AIOE_ERR_INVALID_ARG;
    char *mapped = map_filter(filter);
    if (!mapped)
        return AIOE_ERR_NOMEM;
    if (!aioe_topic_filter_is_valid(mapped)) {
        free(mapped);
        return AIOE_ERR_INVALID_ARG;
    }
    int qos = opts && opts->qos >= 0 ? opts->qos : aioe_endpoint_qos(s->ep);
    pthread_mutex_lock(&s->mu);
    if (!s->accepting) {
        pthread_mutex_unlock(&s->mu);
        free(mapped);
        return AIOE_ERR_STATE;
    }
    sub_entry *e = aioe__session_sub_find(s, mapped);
    if (e) {
        free(mapped);
        if (e->cb) {
            /* the previous SUBSCRIBE has not been answered: one at a time */
            pthread_mutex_unlock(&s->mu);
            return AIOE_ERR_WOULD_BLOCK;
        }
    } else {
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&s->mu);
            free(mapped);
            return AIOE_ERR_NOMEM;
        }
        e->filter = mapped;
        e->session = s;
        e->next = s->subs;
        s->subs = e;
    }
    e->qos = qos;
    e->no_local = opts && opts->no_local;
    e->retain_as_published = opts && opts->retain_as_published;
    e->retain_handling = opts ? (unsigned char)opts->retain_handling : 0;
    e->cb = cb;
    e->user_data = user_data;
    e->deadline = cb && s->opt.op_timeout_ms ? aioe__session_now_ms() + s->opt.op_timeout_ms : 0;
    if (e->deadline)
        pthread_cond_broadcast(&s->cv); /* the supervisor's next deadline */
    e->dead = false;
    e->removing = false;
    e->acked = false; /* (re)send with these options */
    bool connected = s->state == AIOE_SESSION_CONNECTED;
    pthread_mutex_unlock(&s->mu);
    if (connected)
        aioe__session_sub_send(s, e);
    return AIOE_OK;
}

int aioe_session_subscribe(aioe_session *s, const char *filter, int qos,
                           aioe_subscribe_cb cb, void *user_data)
{
    if (qos < 0 || qos > 1)
        return AIOE_ERR_INVALID_ARG;
    aioe_subscribe_options o = { .qos = qos };
    return aioe_session_subscribe_with(s, filter, &o, cb, user_data);
}

int aioe_session_unsubscribe(aioe_session *s, const char *filter,
                             aioe_subscribe_cb cb, void *user_data)
{
    if (!s || !filter)
        return AIOE_ERR_INVALID_ARG;
    char *mapped = map_filter(filter);
    if (!mapped)
        return AIOE_ERR_NOMEM;
    pthread_mutex_lock(&s->mu);
    if (!s->accepting) {
        pthread_mutex_unlock(&s->mu);
        free(mapped);
        return AIOE_ERR_STATE;
    }
    sub_entry *e = aioe__session_sub_find(s, mapped);
    free(mapped);
    if (!e || e->dead || e->removing) {
        pthread_mutex_unlock(&s->mu);
        return AIOE_ERR_NOT_FOUND;
    }
    e->removing = true;
    e->acked = false;
    e->unsub_cb = cb;
    e->unsub_data = user_data;
    e->unsub_deadline = cb && s->opt.op_timeout_ms
                            ? aioe__session_now_ms() + s->opt.op_timeout_ms : 0;
    if (e->unsub_deadline)
        pthread_cond_broadcast(&s->cv);
    bool connected = s->state == AIOE_SESSION_CONNECTED;
    pthread_mutex_unlock(&s->mu);
    if (connected)
        aioe__session_sub_send(s, e);
    return AIOE_OK;
}
