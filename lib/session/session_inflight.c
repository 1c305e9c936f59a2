/* What is in flight on a session: the publish window and the records of
 * outstanding publishes, the subscription table with its SUBSCRIBE /
 * UNSUBSCRIBE exchanges (sent again after a reconnect), and the dispatch
 * of received messages to the host's message callback. The public calls
 * that feed it live in lib/pubsub/ (message.c, subscribe.c, received.c).
 *
 * Window: at most min(maxInflightMessages, server Receive Maximum - 1)
 * publishes are outstanding, so Paho's own in-flight limit is never
 * reached (Paho 1.3.12 sleeps up to 1 s per message when it is). A full
 * window is AIOE_ERR_WOULD_BLOCK, never a silent queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"
#include "session_reason.h"

size_t aioe_pubsub_window(uint16_t max_inflight, int server_receive_max)
{
    size_t w = max_inflight ? max_inflight : 1;
    if (server_receive_max > 0 && (size_t)server_receive_max - 1 < w)
        w = server_receive_max > 1 ? (size_t)server_receive_max - 1 : 1;
    return w;
}

size_t aioe_pubsub_publish_size(size_t topic_len, size_t payload_len, int qos)
{
    /* topic length + topic + packet id + property length (0) + payload */
    size_t rem = 2 + topic_len + (qos > 0 ? 2 : 0) + 1 + payload_len;
    size_t vbi = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
    return 1 + vbi + rem;
}

/* ---- record pool (s->mu held) ---- */

static pub_record *rec_get(aioe_session *s)
{
    if (!s->free_recs) {
        size_t n = 64;
        pub_chunk *c = calloc(1, sizeof *c + n * sizeof(pub_record));
        if (!c)
            return NULL;
        c->count = n;
        c->next = s->chunks;
        s->chunks = c;
        for (size_t i = 0; i < n; i++) {
            c->recs[i].next_free = s->free_recs;
            s->free_recs = &c->recs[i];
        }
    }
    pub_record *r = s->free_recs;
    s->free_recs = r->next_free;
    r->next_free = NULL;
    r->session = s;
    r->gen = ++s->gen;
    r->token = 0;
    r->in_use = true;
    r->reported = false;
    r->paho_done = false;
    r->prev = NULL;
    r->next = s->out_head;
    if (s->out_head)
        s->out_head->prev = r;
    else
        s->out_tail = r;
    s->out_head = r;
    s->outstanding++;
    r->deadline = 0;
    return r;
}

static void rec_maybe_release(aioe_session *s, pub_record *r)
{
    if (r->in_use && r->reported && r->paho_done) {
        r->in_use = false;
        r->cb = NULL;
        r->user_data = NULL;
        r->next_free = s->free_recs;
        s->free_recs = r;
    }
}

/* Marks r reported (removing it from the outstanding list); returns true if
 * this call is the one that must tell the host. */
static bool rec_report(aioe_session *s, pub_record *r)
{
    if (r->reported)
        return false;
    r->reported = true;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->out_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->out_tail = r->prev;
    r->prev = r->next = NULL;
    s->outstanding--;
    s->outstanding_bytes -= r->bytes;
    if (s->window_armed) {
        /* a refused publisher waits for room: the supervisor tells it (never
         * from here, which may be Paho's receive thread) */
        s->window_armed = false;
        aioe_session_post(s, EV_WINDOW);
    }
    return true;
}

static void complete(pub_record *r, int status, int reason, bool from_paho)
{
    aioe_session *s = r->session;
    pthread_mutex_lock(&s->mu);
    bool tell = rec_report(s, r);
    aioe_publish_cb cb = r->cb;
    void *ud = r->user_data;
    if (from_paho)
        r->paho_done = true;
    rec_maybe_release(s, r);
    if (tell && s->outstanding == 0 && s->drain_waiters)
        pthread_cond_broadcast(&s->cv); /* stop() is draining */
    pthread_mutex_unlock(&s->mu);
    if (tell && cb) {
        aioe_session *prev = aioe_session_enter_callback(s);
        cb(s, status, reason, ud);
        aioe_session_leave_callback(prev);
    }
}

static void on_pub_ok(void *ctx, MQTTAsync_successData5 *r)
{
    pub_record *rec = ctx;
    int rc = r ? (int)r->reasonCode : 0;
    if (rc >= 0x80)
        complete(rec, aioe_reason_ack_status(rc), rc, true);
    else
        complete(rec, AIOE_OK, rec->qos > 0 ? rc : -1, true);
}

static void on_pub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    pub_record *rec = ctx;
    int rc = r ? (int)r->reasonCode : -1;
    if (rc >= 0x80)
        complete(rec, aioe_reason_ack_status(rc), rc, true);
    else
        complete(rec, AIOE_ERR_CONNECTION, -1, true);
}

int aioe_pubsub_send(aioe_session *s, const char *topic, MQTTAsync_message *msg,
                     size_t props_len, aioe_publish_cb cb, void *user_data)
{
    size_t len = (size_t)msg->payloadlen, topic_len = strlen(topic);
    /* Event Grid drops the connection on a packet over 512 KiB (and Paho
     * would resend it after every reconnect): refuse it here. 16 bytes cover
     * PUBLISH's fixed header, lengths, packet ID and the property length. */
    if (s->endpoint_max_packet && len + topic_len + props_len + 16 > s->endpoint_max_packet)
        return AIOE_ERR_TOO_LARGE;
    pthread_mutex_lock(&s->mu);
    if (!s->accepting || !s->client) {
        pthread_mutex_unlock(&s->mu);
        return AIOE_ERR_STATE;
    }
    if (s->max_packet &&
        aioe_pubsub_publish_size(topic_len, len + props_len, msg->qos) > s->max_packet) {
        /* the broker would disconnect (0x95) and a QoS 1 resend would do it
         * again on every reconnect: refuse up front */
        pthread_mutex_unlock(&s->mu);
        return AIOE_ERR_TOO_LARGE;
    }
    size_t bytes = aioe_pubsub_publish_size(topic_len, len + props_len, msg->qos);
    if (s->outstanding >= s->window ||
        /* the byte bound; a message alone in the window always goes */
        (s->opt.max_queued_bytes && s->outstanding > 0 &&
         s->outstanding_bytes + bytes > s->opt.max_queued_bytes)) {
        if (s->opt.window_cb)
            s->window_armed = true;
        pthread_mutex_unlock(&s->mu);
        return AIOE_ERR_WOULD_BLOCK;
    }
    pub_record *r = rec_get(s);
    if (!r) {
        pthread_mutex_unlock(&s->mu);
        return AIOE_ERR_NOMEM;
    }
    r->bytes = bytes;
    s->outstanding_bytes += bytes;
    if (s->opt.op_timeout_ms) {
        r->deadline = aioe__session_now_ms() + s->opt.op_timeout_ms;
        if (s->outstanding == 1)
            pthread_cond_broadcast(&s->cv); /* the supervisor has no deadline yet */
    }
    r->cb = cb;
    r->user_data = user_data;
    r->qos = msg->qos;
    uint64_t gen = r->gen;
    MQTTAsync client = s->client;
    s->api_calls++;
    pthread_mutex_unlock(&s->mu);

    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess5 = on_pub_ok;
    ro.onFailure5 = on_pub_fail;
    ro.context = r;
    int prc = MQTTAsync_sendMessage(client, topic, msg, &ro);
    pthread_mutex_lock(&s->mu);
    --s->api_calls;
    if (prc != MQTTASYNC_SUCCESS) {
        /* Paho took nothing: the callback must never fire */
        rec_report(s, r);
        r->paho_done = true;
        rec_maybe_release(s, r);
    }
    /* a drain waits for api_calls (stop) or outstanding (supervisor) */
    if (s->drain_waiters && (s->api_calls == 0 || s->outstanding == 0))
        pthread_cond_broadcast(&s->cv);
    if (prc != MQTTASYNC_SUCCESS) {
        pthread_mutex_unlock(&s->mu);
        if (prc == MQTTASYNC_MAX_BUFFERED_MESSAGES)
            return AIOE_ERR_WOULD_BLOCK;
        if (prc == MQTTASYNC_BAD_UTF8_STRING || prc == MQTTASYNC_BAD_QOS ||
            prc == MQTTASYNC_NULL_PARAMETER)
            return AIOE_ERR_INVALID_ARG;
        return AIOE_ERR_CONNECTION;
    }
    if (r->gen == gen && !r->reported)
        r->token = ro.token;
    pthread_mutex_unlock(&s->mu);
    return AIOE_OK;
}

/* Fails outstanding records. With only_forgotten, just those Paho no
 * longer tracks (it drops in-flight publishes without a callback when a
 * reconnect finds the broker session gone). */
static void fail_records(aioe_session *s, int status, bool only_forgotten)
{
    MQTTAsync_token *pending = NULL;
    if (only_forgotten && s->client &&
        MQTTAsync_getPendingTokens(s->client, &pending) != MQTTASYNC_SUCCESS)
        return;
    for (;;) {
        pub_record *victim = NULL;
        pthread_mutex_lock(&s->mu);
        for (pub_record *r = s->out_head; r; r = r->next) {
            if (only_forgotten) {
                bool found = false;
                if (r->token == 0)
                    continue; /* sendMessage still returning: Paho has it */
                for (MQTTAsync_token *t = pending; t && *t != -1; t++)
                    if (*t == r->token) {
                        found = true;
                        break;
                    }
                if (found)
                    continue;
                r->paho_done = true; /* Paho forgot it: no callback will come */
            }
            victim = r;
            break;
        }
        pthread_mutex_unlock(&s->mu);
        if (!victim)
            break;
        complete(victim, status, -1, false);
    }
    if (pending)
        MQTTAsync_free(pending);
}

/* ---- subscriptions ----
 * Entries are never unlinked while the session lives (the supervisor walks
 * the list without the lock): an unsubscribed entry becomes `dead` and is
 * reused if the same filter is subscribed again. */

/* Calls and clears one of e's callbacks (*cb is e->cb or e->unsub_cb). */
static void report(sub_entry *e, aioe_subscribe_cb *cbp, void **udp, int status, int reason)
{
    aioe_session *s = e->session;
    pthread_mutex_lock(&s->mu);
    aioe_subscribe_cb cb = *cbp;
    void *ud = *udp;
    *cbp = NULL;
    pthread_mutex_unlock(&s->mu);
    if (cb) {
        aioe_session *prev = aioe_session_enter_callback(s);
        cb(s, status, reason, ud);
        aioe_session_leave_callback(prev);
    }
}

static void sub_report(sub_entry *e, int status, int reason)
{
    report(e, &e->cb, &e->user_data, status, reason);
}

static void unsub_report(sub_entry *e, int status, int reason)
{
    report(e, &e->unsub_cb, &e->unsub_data, status, reason);
}

/* A SUBACK/UNSUBACK reason code >= 0x80: log it and tell the host. */
static void refused(sub_entry *e, bool unsub, int rc)
{
    aioe_session_log(e->session, AIOE_LOG_ERROR, "%s %s refused: %s (0x%02X)",
                     unsub ? "UNSUBSCRIBE" : "SUBSCRIBE", e->filter, aioe_reason_name(rc),
                     (unsigned)rc);
    if (unsub)
        unsub_report(e, aioe_reason_ack_status(rc), rc);
    else
        sub_report(e, aioe_reason_ack_status(rc), rc);
}

/* The end of a SUBSCRIBE or UNSUBSCRIBE exchange. answered: Paho's success
 * path (a SUBACK/UNSUBACK came; rc is its reason code); otherwise rc is the
 * failure's reason code, below 0x80 when the connection dropped before an
 * answer (the entry is sent again on the next connect). One filter per
 * packet, so the code is r->reasonCode (alt.sub is only filled by
 * MQTTAsync_subscribeMany). An UNSUBACK of 0x11 "no subscription existed"
 * is a success: the subscription is gone either way. */
static void sub_done(sub_entry *e, bool unsub, bool answered, int rc)
{
    aioe_session *s = e->session;
    bool refused_now = rc >= 0x80;
    pthread_mutex_lock(&s->mu);
    e->inflight = false;
    if (!unsub && answered)
        e->acked = !refused_now;
    if (unsub && (answered || refused_now)) {
        /* done or refused: stop tracking it */
        e->removing = false;
        e->dead = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (refused_now)
        refused(e, unsub, rc);
    else if (answered && unsub)
        unsub_report(e, AIOE_OK, rc);
    else if (answered)
        sub_report(e, AIOE_OK, rc);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData5 *r)
{
    sub_done(ctx, false, true, r ? (int)r->reasonCode : 0);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    sub_done(ctx, false, false, r ? (int)r->reasonCode : -1);
}

static void on_unsub_ok(void *ctx, MQTTAsync_successData5 *r)
{
    sub_done(ctx, true, true, r ? (int)r->reasonCode : 0);
}

static void on_unsub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    sub_done(ctx, true, false, r ? (int)r->reasonCode : -1);
}

void aioe__session_sub_send(aioe_session *s, sub_entry *e)
{
    pthread_mutex_lock(&s->mu);
    MQTTAsync client = s->client;
    if (e->inflight || e->dead || !client || !s->accepting) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    bool unsub = e->removing;
    e->inflight = true;
    s->api_calls++;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = e;
    if (unsub) {
        ro.onSuccess5 = on_unsub_ok;
        ro.onFailure5 = on_unsub_fail;
    } else {
        ro.onSuccess5 = on_sub_ok;
        ro.onFailure5 = on_sub_fail;
        ro.subscribeOptions.noLocal = e->no_local;
        ro.subscribeOptions.retainAsPublished = e->retain_as_published;
        ro.subscribeOptions.retainHandling = e->retain_handling;
    }
    int qos = e->qos;
    pthread_mutex_unlock(&s->mu);
    /* e->filter never changes once the entry exists */
    int prc = unsub ? MQTTAsync_unsubscribe(client, e->filter, &ro)
                    : MQTTAsync_subscribe(client, e->filter, qos, &ro);
    pthread_mutex_lock(&s->mu);
    if (prc != MQTTASYNC_SUCCESS)
        e->inflight = false;
    if (--s->api_calls == 0 && s->drain_waiters)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The entry for a filter as sent, live or dead; s->mu held. */
sub_entry *aioe__session_sub_find(aioe_session *s, const char *filter)
{
    for (sub_entry *e = s->subs; e; e = e->next)
        if (strcmp(e->filter, filter) == 0)
            return e;
    return NULL;
}

void aioe_pubsub_connected(aioe_session *s, bool no_session)
{
    if (no_session && s->ever_connected)
        fail_records(s, AIOE_ERR_CONNECTION, true);
    for (sub_entry *e = s->subs; e; e = e->next) {
        pthread_mutex_lock(&s->mu);
        bool gone = false;
        if (no_session && e->removing) {
            /* the broker has no session, so no subscription to remove */
            e->removing = false;
            e->dead = true;
            gone = true;
        }
        if (no_session)
            e->acked = false;
        bool need = !e->dead && (e->removing || !e->acked);
        pthread_mutex_unlock(&s->mu);
        if (gone)
            unsub_report(e, AIOE_OK, -1);
        else if (need)
            aioe__session_sub_send(s, e);
    }
}

/* ---- operation timeouts ----
 * Deadlines are a fixed time after the call, so the oldest outstanding
 * publish (the tail) always has the earliest one. A publish or subscribe
 * that times out is reported now; Paho may still hold it (and a late
 * acknowledgement is then ignored, a QoS 1 message may still arrive at the
 * broker, resent on reconnect). Its window slot is freed. */

int64_t aioe__pubsub_next_deadline(aioe_session *s)
{
    if (!s->opt.op_timeout_ms)
        return -1;
    int64_t d = s->out_tail ? s->out_tail->deadline : 0;
    for (sub_entry *e = s->subs; e; e = e->next) {
        if (e->cb && e->deadline && (!d || e->deadline < d))
            d = e->deadline;
        if (e->unsub_cb && e->unsub_deadline && (!d || e->unsub_deadline < d))
            d = e->unsub_deadline;
    }
    return d ? d : -1;
}

void aioe__pubsub_expire(aioe_session *s)
{
    if (!s->opt.op_timeout_ms)
        return;
    int64_t now = aioe__session_now_ms();
    size_t expired = 0;
    for (;;) {
        /* taken under the lock: once unlocked, Paho's own completion could
         * release the record and a new publish reuse it */
        pthread_mutex_lock(&s->mu);
        pub_record *r = s->out_tail;
        if (!r || !r->deadline || r->deadline > now) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        rec_report(s, r);
        aioe_publish_cb cb = r->cb;
        void *ud = r->user_data;
        rec_maybe_release(s, r); /* not yet: Paho still holds the context */
        if (s->outstanding == 0 && s->drain_waiters)
            pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        expired++;
        if (cb) {
            aioe_session *prev = aioe_session_enter_callback(s);
            cb(s, AIOE_ERR_TIMEOUT, -1, ud);
            aioe_session_leave_callback(prev);
        }
    }
    if (expired)
        aioe_session_log(s, AIOE_LOG_WARNING, "%zu publish(es) not acknowledged within %u ms",
                         expired, (unsigned)s->opt.op_timeout_ms);
    for (sub_entry *e = s->subs; e; e = e->next) {
        pthread_mutex_lock(&s->mu);
        bool sub_due = e->cb && e->deadline && e->deadline <= now;
        bool unsub_due = e->unsub_cb && e->unsub_deadline && e->unsub_deadline <= now;
        if (sub_due)
            e->deadline = 0;
        if (unsub_due)
            e->unsub_deadline = 0;
        pthread_mutex_unlock(&s->mu);
        if (sub_due || unsub_due)
            aioe_session_log(s, AIOE_LOG_WARNING, "%s %s not acknowledged within %u ms",
                             sub_due ? "SUBSCRIBE" : "UNSUBSCRIBE", e->filter,
                             (unsigned)s->opt.op_timeout_ms);
        if (sub_due)
            sub_report(e, AIOE_ERR_TIMEOUT, -1);
        if (unsub_due)
            unsub_report(e, AIOE_ERR_TIMEOUT, -1);
    }
}

void aioe_pubsub_fail_all(aioe_session *s, int status, const char *why)
{
    (void)why;
    fail_records(s, status, false);
    for (sub_entry *e = s->subs; e; e = e->next) {
        sub_report(e, status, -1);
        unsub_report(e, status, -1);
    }
}

void aioe_pubsub_after_destroy(aioe_session *s)
{
    pthread_mutex_lock(&s->mu);
    for (pub_chunk *c = s->chunks; c; c = c->next)
        for (size_t i = 0; i < c->count; i++)
            if (c->recs[i].in_use && c->recs[i].reported) {
                c->recs[i].paho_done = true;
                rec_maybe_release(s, &c->recs[i]);
            }
    pthread_mutex_unlock(&s->mu);
}

void aioe_pubsub_free(aioe_session *s)
{
    while (s->subs) {
        sub_entry *e = s->subs;
        s->subs = e->next;
        free(e->filter);
        free(e);
    }
    while (s->chunks) {
        pub_chunk *c = s->chunks;
        s->chunks = c->next;
        free(c);
    }
    s->free_recs = NULL;
    s->out_head = NULL;
    s->out_tail = NULL;
    s->outstanding = 0;
}

/* ---- received messages ---- */

/* Size of the PUBLISH packet Paho read for m. */
static size_t received_size(size_t topic_len, const MQTTAsync_message *m)
{
    size_t props = m->properties.length > 0 ? (size_t)m->properties.length : 0;
    size_t payload = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    /* publish_size() counts a one-byte property length: add the rest */
    size_t vbi = props < 128 ? 1 : props < 16384 ? 2 : props < 2097152 ? 3 : 4;
    return aioe_pubsub_publish_size(topic_len, payload + props + vbi - 1, m->qos);
}

int aioe_pubsub_on_message(void *ctx, char *topic, int topic_len,
                           MQTTAsync_message *m)
{
    aioe_session *s = ctx;
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t size;
    if (s->opt.max_packet_size && (size = received_size(tlen, m)) > s->opt.max_packet_size) {
        /* MQTT 5.0 3.1.2.11.4: a protocol error, DISCONNECT 0x95. Paho 1.3.12
         * has already read it (it has no such limit), so all that is left is
         * to keep it from the host and leave. */
        aioe_session_log(s, AIOE_LOG_ERROR, "broker sent a %zu-byte PUBLISH, more than "
                         "this session's Maximum Packet Size of %u; not delivered",
                         size, (unsigned)s->opt.max_packet_size);
        pthread_mutex_lock(&s->mu);
        if (!(s->events & EV_PROTOCOL)) {
            s->ev_reason = MQTTREASONCODE_PACKET_TOO_LARGE;
            snprintf(s->ev_detail, sizeof s->ev_detail, "broker sent a %zu-byte PUBLISH "
                     "over the Maximum Packet Size of %u", size,
                     (unsigned)s->opt.max_packet_size);
            aioe_session_post(s, EV_PROTOCOL);
        }
        pthread_mutex_unlock(&s->mu);
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
    }
    if (s->inbound_hook || s->opt.message_cb) {
        struct aioe_message view = { topic, tlen, m, false, 0, false };
        aioe_session *prev = aioe_session_enter_callback(s);
        if (s->inbound_hook)
            s->inbound_hook(s->inbound_ctx, s, &view);
        else
            s->opt.message_cb(s, &view, s->opt.message_data);
        aioe_session_leave_callback(prev);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

