/* The public aioe_inbox: binds the segment store (store.c) to a session.
 *
 * Receive path (Paho's receive thread, inside the message callback, before
 * the PUBACK): the message is appended to the store (write(2), plus a
 * group-committed fdatasync in power-loss mode) and its id queued for
 * aioe_inbox_next(). No allocation per message in the steady state here
 * (the user-property array is reused; the store reuses its write buffer).
 *
 * Flow control: after each append and each acknowledgement the inbox
 * compares the unacknowledged messages/bytes with its watermarks (and the
 * store's `full` flag) and asks the session's supervisor thread to pause
 * or resume inbound delivery (aioe__session_set_paused: disconnect keeping
 * the broker session; Paho's shared thread never waits for it).
 *
 * An append that fails (the reserve was used up before the pause took
 * effect, or an I/O error) must not be followed by a normal return: Paho
 * would acknowledge a message that is not stored. The callback then holds
 * Paho's receive thread, retrying as acknowledgements free space, with an
 * error logged, for up to 30 s, and then aborts the process: the least bad
 * honest behaviour available with Paho 1.3, which has no way to withhold a
 * PUBACK (docs/inbox.md). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aioendpoint/inbox.h"
#include "inbox.h"
#include "session/session.h"

/* How long a receive thread is held for space before the process is
 * ended: 30 s of wall time without a successful store. (Counted as time,
 * not as tries: every acknowledgement wakes the waiting thread, so a busy
 * consumer makes hundreds of tries a second while space is still being
 * freed.) */
#define HOLD_MS 30000

static int64_t hold_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* While messages stream in, a consumer napping in aioe_inbox_next() is
 * woken early only once this many wait (so a nap never holds more). */
#define NAP_WAKE_AT 64

/* The read buffer lent to aioe_inbox_next() is kept up to this size; one
 * grown by a larger record is freed after use. */
#define RBUF_KEEP (1024u * 1024u)

struct aioe_inbox_options {
    aioe_inbox_durability durability;
    uint64_t max_bytes, segment_bytes;
    uint64_t high_msgs, low_msgs, high_bytes, low_bytes;
    uint32_t batch_delay_us;
};

struct aioe_inbox {
    aioe_session *s;
    aioe__store *st;
    struct aioe_inbox_options o;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a message queued, or space freed */
    uint64_t *q;                /* ids waiting for aioe_inbox_next(), a ring */
    size_t q_cap, q_head, q_len;
    uint64_t first_new;         /* ids below were recovered at open */
    bool paused;                /* we asked the session to pause */
    unsigned waiters;           /* threads waiting in aioe_inbox_next() */
    unsigned nappers;           /* of which napping (woken by time, or by
                                 * NAP_WAKE_AT queued messages) */
    unsigned signalled;         /* signals sent to waiters not yet awake */
    bool streaming;             /* the last wait ended with a message */
    uint64_t wakeups;           /* signals sent to waiting consumers */
    unsigned char *rbuf;        /* a record read buffer, lent to one
                                 * aioe_inbox_next() at a time */
    size_t rcap;
    bool holding;               /* the receive thread waits for space */
    aioe_user_property *props;  /* receive thread only */
    size_t props_cap;
};

/* ---- options ---- */

int aioe_inbox_options_new(aioe_inbox_options **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return AIOE_ERR_NOMEM;
    (*out)->high_msgs = 100000;
    (*out)->low_msgs = 50000;
    (*out)->batch_delay_us = AIOE_INBOX_DEFAULT_BATCH_DELAY_US;
    return AIOE_OK;
}

void aioe_inbox_options_free(aioe_inbox_options *opts)
{
    free(opts);
}

int aioe_inbox_options_set_durability(aioe_inbox_options *opts, aioe_inbox_durability d)
{
    if (!opts || (d != AIOE_INBOX_SURVIVE_PROCESS_CRASH && d != AIOE_INBOX_SURVIVE_POWER_LOSS))
        return AIOE_ERR_INVALID_ARG;
    opts->durability = d;
    return AIOE_OK;
}

int aioe_inbox_options_set_max_bytes(aioe_inbox_options *opts, uint64_t max_bytes)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    opts->max_bytes = max_bytes;
    return AIOE_OK;
}

int aioe_inbox_options_set_segment_bytes(aioe_inbox_options *opts, uint64_t bytes)
{
    if (!opts || (bytes && bytes < 4096))
        return AIOE_ERR_INVALID_ARG;
    opts->segment_bytes = bytes;
    return AIOE_OK;
}

int aioe_inbox_options_set_watermarks(aioe_inbox_options *opts, uint64_t high_messages,
                                      uint64_t low_messages, uint64_t high_bytes,
                                      uint64_t low_bytes)
{
    if (!opts || (high_messages && low_messages >= high_messages) ||
        (high_bytes && low_bytes >= high_bytes))
        return AIOE_ERR_INVALID_ARG;
    opts->high_msgs = high_messages;
    opts->low_msgs = low_messages;
    opts->high_bytes = high_bytes;
    opts->low_bytes = low_bytes;
    return AIOE_OK;
}

int aioe_inbox_options_set_batch_delay(aioe_inbox_options *opts, uint32_t max_delay_us)
{
    if (!opts || max_delay_us > 1000000)
        return AIOE_ERR_INVALID_ARG;
    opts->batch_delay_us = max_delay_us;
    return AIOE_OK;
}

/* ---- flow control ---- */

static void check_flow(aioe_inbox *ib, bool may_reserve)
{
    /* One decision at a time, on fresh figures, and the session told in
     * the order the decisions were taken: the acknowledging thread and
     * Paho's receive thread both come here. Deciding under ib->mu but
     * telling the session after unlocking let a "pause" overtake a later
     * "resume" (the session stayed paused while the inbox thought it was
     * not, and nothing resumed it again); figures read before the lock
     * could be stale the same way. Lock order: ib->mu, then the store's
     * and the session's. Trying to reserve space again (which may do I/O
     * and emit log lines) happens before the lock; it updates the store's
     * `full` flag, read below with the rest. */
    if (may_reserve)
        aioe__store_has_reserve(ib->st);
    pthread_mutex_lock(&ib->mu);
    aioe__store_stats st;
    aioe__store_get_stats(ib->st, &st);
    bool want;
    if (!ib->paused)
        want = (ib->o.high_msgs && st.live >= ib->o.high_msgs) ||
               (ib->o.high_bytes && st.live_bytes >= ib->o.high_bytes) || st.full;
    else
        want = (ib->o.high_msgs && st.live > ib->o.low_msgs) ||
               (ib->o.high_bytes && st.live_bytes > ib->o.low_bytes) || st.full;
    bool changed = want != ib->paused;
    ib->paused = want;
    if (changed)
        aioe__session_set_paused(ib->s, want);
    pthread_mutex_unlock(&ib->mu);
    if (!changed)
        return;
    aioe_session_log(ib->s, want ? AIOE_LOG_WARNING : AIOE_LOG_INFO,
                     "inbox %s: %s (%llu unacknowledged message(s), %llu bytes%s)",
                     aioe__store_dir(ib->st), want ? "pausing the session" : "resuming",
                     (unsigned long long)st.live, (unsigned long long)st.live_bytes,
                     st.full ? (st.full_status == AIOE_ERR_WOULD_BLOCK ? ", byte limit reached"
                                                                       : ", disk full")
                             : "");
}

/* ---- receive path ---- */

static bool queue_push(aioe_inbox *ib, uint64_t id)
{
    if (ib->q_len == ib->q_cap) {
        size_t cap = ib->q_cap ? ib->q_cap * 2 : 256;
        uint64_t *q = malloc(cap * sizeof *q);
        if (!q)
            return false;
        for (size_t i = 0; i < ib->q_len; i++)
            q[i] = ib->q[(ib->q_head + i) % ib->q_cap];
        free(ib->q);
        ib->q = q;
        ib->q_cap = cap;
        ib->q_head = 0;
    }
    ib->q[(ib->q_head + ib->q_len++) % ib->q_cap] = id;
    return true;
}

/* Reads a received message into a record, in one pass over its MQTT v5
 * properties (the view's Paho message, as lib/pubsub/received.c reads it;
 * the first of a repeated property wins). False when out of memory. */
static bool fill_record(aioe_inbox *ib, const aioe_message *msg, aioe__rec_msg *r)
{
    const MQTTAsync_message *m = msg->m;
    memset(r, 0, sizeof *r);
    r->topic = msg->topic;
    r->topic_len = msg->topic_len;
    r->payload = m->payloadlen > 0 ? m->payload : NULL;
    r->payload_len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    r->qos = m->qos;
    r->retain = m->retained;
    r->dup = m->dup;
    r->payload_format = -1;
    size_t n = 0;
    for (int k = 0; k < m->properties.count; k++)
        n += m->properties.array[k].identifier == MQTTPROPERTY_CODE_USER_PROPERTY;
    if (n > ib->props_cap) {
        aioe_user_property *p = realloc(ib->props, n * sizeof *p);
        if (!p)
            return false;
        ib->props = p;
        ib->props_cap = n;
    }
    for (int k = 0; k < m->properties.count; k++) {
        const MQTTProperty *p = &m->properties.array[k];
        switch (p->identifier) {
        case MQTTPROPERTY_CODE_USER_PROPERTY:
            ib->props[r->prop_count++] = (aioe_user_property){
                p->value.data.data, (size_t)p->value.data.len, p->value.value.data,
                (size_t)p->value.value.len };
            break;
        case MQTTPROPERTY_CODE_CONTENT_TYPE:
            if (!r->content_type) {
                r->content_type = p->value.data.data ? p->value.data.data : "";
                r->content_type_len = (size_t)p->value.data.len;
            }
            break;
        case MQTTPROPERTY_CODE_CORRELATION_DATA:
            if (!r->correlation) {
                r->correlation = p->value.data.data ? p->value.data.data : "";
                r->correlation_len = (size_t)p->value.data.len;
            }
            break;
        case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
            if (!r->response_topic) {
                r->response_topic = p->value.data.data ? p->value.data.data : "";
                r->response_topic_len = (size_t)p->value.data.len;
            }
            break;
        case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
            if (!r->has_expiry) {
                r->has_expiry = true;
                r->expiry = (uint32_t)p->value.integer4;
            }
            break;
        case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
            if (r->payload_format < 0)
                r->payload_format = p->value.byte ? 1 : 0;
            break;
        default:
            break;
        }
    }
    r->props = ib->props;
    return true;
}

static bool store_one(aioe_inbox *ib, const aioe__rec_msg *r)
{
    uint64_t id;
    if (aioe__store_append(ib->st, r, &id, NULL) != AIOE_OK)
        return false;
    pthread_mutex_lock(&ib->mu);
    bool ok = queue_push(ib, id);
    /* A wake-up costs a system call and two context switches: only for a
     * consumer that waits for a message and was not signalled yet (a
     * woken one takes every queued message before it waits again), not
     * for one that naps (it wakes by itself within the batch delay) unless
     * the batch is full. */
    bool wake = ib->waiters - ib->nappers > ib->signalled;
    if (wake || (ib->nappers && ib->q_len == NAP_WAKE_AT)) {
        pthread_cond_signal(&ib->cv);
        ib->signalled += wake;
        ib->wakeups++;
    }
    pthread_mutex_unlock(&ib->mu);
    if (!ok) /* stored; delivered after a restart */
        aioe_session_log(ib->s, AIOE_LOG_ERROR,
                         "inbox %s: out of memory: message %llu is delivered after a restart",
                         aioe__store_dir(ib->st), (unsigned long long)id);
    return true;
}

static void on_message(void *ctx, aioe_session *s, const aioe_message *msg)
{
    aioe_inbox *ib = ctx;
    aioe__rec_msg r;
    if (!fill_record(ib, msg, &r)) {
        aioe_session_log(s, AIOE_LOG_ERROR, "inbox: out of memory reading a message");
    } else if (store_one(ib, &r)) {
        check_flow(ib, false);
        return;
    }
    /* Not stored. Returning now would acknowledge it to the broker. */
    pthread_mutex_lock(&ib->mu);
    ib->paused = true;
    ib->holding = true;
    aioe__session_set_paused(s, true); /* under ib->mu, as in check_flow() */
    pthread_mutex_unlock(&ib->mu);
    aioe_session_log(s, AIOE_LOG_ERROR,
                     "inbox %s: cannot store a message: holding Paho's receive thread "
                     "until acknowledgements free space (the message is not acknowledged "
                     "to the broker meanwhile)",
                     aioe__store_dir(ib->st));
    int64_t hold_until = hold_now_ms() + HOLD_MS, next_log = hold_now_ms() + 5000;
    for (unsigned tries = 1;; tries++) {
        pthread_mutex_lock(&ib->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* ib->cv runs on CLOCK_MONOTONIC */
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ib->cv, &ib->mu, &ts);
        pthread_mutex_unlock(&ib->mu);
        aioe__store_has_reserve(ib->st);
        if (fill_record(ib, msg, &r) && store_one(ib, &r)) {
            pthread_mutex_lock(&ib->mu);
            ib->holding = false;
            pthread_mutex_unlock(&ib->mu);
            aioe_session_log(s, AIOE_LOG_WARNING, "inbox %s: message stored after %u tries",
                             aioe__store_dir(ib->st), tries);
            return;
        }
        if (hold_now_ms() >= next_log && (next_log += 5000))
            aioe_session_log(s, AIOE_LOG_ERROR, "inbox %s: still cannot store a message",
                             aioe__store_dir(ib->st));
        if (hold_now_ms() >= hold_until) {
            /* Nothing freed space: returning would acknowledge a message
             * that is not stored. A host that acknowledges from Paho's
             * threads (a bridge acking on the destination's PUBACK) cannot
             * make progress while this thread is held, so end the process
             * instead: the broker keeps the message and delivers it again
             * after the restart. */
            aioe_session_log(s, AIOE_LOG_ERROR,
                             "inbox %s: no space for %u s: ending the process rather than "
                             "acknowledging a message that is not stored",
                             aioe__store_dir(ib->st), HOLD_MS / 1000);
            abort();
        }
    }
}

/* ---- lifecycle ---- */

static void store_log(void *ctx, int level, const char *line)
{
    aioe_session_log(ctx, (aioe_log_level)level, "%s", line);
}

static void replayed(void *ctx, uint64_t id, uint32_t size)
{
    (void)size;
    aioe_inbox *ib = ctx;
    if (queue_push(ib, id))
        ib->first_new = id + 1;
}

int aioe_inbox_new(aioe_inbox **out, aioe_session *session, const char *dir,
                   const aioe_inbox_options *opts)
{
    if (!out || !session || !dir || !*dir)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (session->inbound_hook || session->thread_running || session->client)
        return AIOE_ERR_STATE;
    aioe_inbox *ib = calloc(1, sizeof *ib);
    if (!ib)
        return AIOE_ERR_NOMEM;
    ib->s = session;
    if (opts) {
        ib->o = *opts;
    } else {
        ib->o.high_msgs = 100000;
        ib->o.low_msgs = 50000;
        ib->o.batch_delay_us = AIOE_INBOX_DEFAULT_BATCH_DELAY_US;
    }
    pthread_mutex_init(&ib->mu, NULL);
    /* waits on ib->cv measure CLOCK_MONOTONIC: a wall-clock step must not
     * stretch a nap (the receive thread does not wake nappers) */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ib->cv, &ca);
    pthread_condattr_destroy(&ca);
    ib->first_new = 1;
    aioe__store_config cfg = {
        .segment_bytes = ib->o.segment_bytes,
        .max_bytes = ib->o.max_bytes,
        .durability = ib->o.durability == AIOE_INBOX_SURVIVE_POWER_LOSS ? AIOE__DURABLE_POWER
                                                                        : AIOE__DURABLE_PROCESS,
        .log = store_log,
        .log_ctx = session,
    };
    char err[256];
    int rc = aioe__store_open(&ib->st, dir, &cfg, replayed, ib, err, sizeof err);
    if (rc == AIOE_OK)
        rc = aioe__session_set_inbound_hook(session, on_message, ib);
    if (rc != AIOE_OK) {
        if (err[0])
            aioe_session_set_error(session, rc, -1, "inbox: %s", err);
        aioe__store_close(ib->st);
        ib->st = NULL;
        aioe_inbox_free(ib);
        return rc;
    }
    check_flow(ib, false); /* recovered above the high-water mark: start paused */
    *out = ib;
    return AIOE_OK;
}

void aioe_inbox_free(aioe_inbox *ib)
{
    if (!ib)
        return;
    if (ib->st) {
        if (ib->s->thread_running || ib->s->client) {
            aioe_session_log(ib->s, AIOE_LOG_ERROR,
                             "aioe_inbox_free: the session is running: stop it first");
            return;
        }
        aioe__session_set_inbound_hook(ib->s, NULL, NULL);
        aioe__session_set_paused(ib->s, false);
        aioe__store_close(ib->st);
    }
    pthread_mutex_destroy(&ib->mu);
    pthread_cond_destroy(&ib->cv);
    free(ib->q);
    free(ib->props);
    free(ib->rbuf);
    free(ib);
}

/* ---- delivery ---- */

static int add_data(MQTTProperties *props, enum MQTTPropertyCodes id, const void *data,
                    size_t len)
{
    MQTTProperty p;
    memset(&p, 0, sizeof p);
    p.identifier = id;
    p.value.data.data = (char *)data;
    p.value.data.len = (int)len;
    return MQTTProperties_add(props, &p) == 0 ? AIOE_OK : AIOE_ERR_NOMEM;
}

/* An owned aioe_message from a stored record: it looks like one received
 * live (the caller frees it with aioe_message_free()). One allocation holds
 * the message, its Paho message, topic and payload (`one_block`); only
 * MQTT v5 properties, when the record has any, are allocated by Paho. */
static int make_message(const aioe__rec_msg *r, uint64_t id, bool redelivered,
                        aioe_message **out)
{
    size_t head = sizeof(aioe_message) + sizeof(MQTTAsync_message);
    if (r->topic_len > SIZE_MAX - head - 1 - r->payload_len)
        return AIOE_ERR_NOMEM;
    aioe_message *c = malloc(head + r->topic_len + 1 + r->payload_len);
    if (!c)
        return AIOE_ERR_NOMEM;
    MQTTAsync_message *m = (MQTTAsync_message *)(c + 1);
    char *topic = (char *)(m + 1);
    char *payload = topic + r->topic_len + 1;
    MQTTAsync_message init = MQTTAsync_message_initializer;
    *m = init;
    memcpy(topic, r->topic, r->topic_len);
    topic[r->topic_len] = '\0';
    if (r->payload_len)
        memcpy(payload, r->payload, r->payload_len);
    m->payload = r->payload_len ? payload : NULL;
    m->payloadlen = (int)r->payload_len;
    m->qos = r->qos;
    m->retained = r->retain;
    m->dup = r->dup;
    int rc = AIOE_OK;
    size_t pos = 0;
    aioe_user_property up;
    for (size_t i = 0; rc == AIOE_OK && i < r->prop_count; i++) {
        if (!aioe__rec_msg_prop_next(r, &pos, &up)) {
            rc = AIOE_ERR_INTERNAL; /* cannot happen after decode */
            break;
        }
        MQTTProperty p;
        memset(&p, 0, sizeof p);
        p.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
        p.value.data.data = (char *)up.name;
        p.value.data.len = (int)up.name_len;
        p.value.value.data = (char *)up.value;
        p.value.value.len = (int)up.value_len;
        if (MQTTProperties_add(&m->properties, &p) != 0)
            rc = AIOE_ERR_NOMEM;
    }
    if (rc == AIOE_OK && r->content_type)
        rc = add_data(&m->properties, MQTTPROPERTY_CODE_CONTENT_TYPE, r->content_type,
                      r->content_type_len);
    if (rc == AIOE_OK && r->correlation)
        rc = add_data(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA, r->correlation,
                      r->correlation_len);
    if (rc == AIOE_OK && r->response_topic)
        rc = add_data(&m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC, r->response_topic,
                      r->response_topic_len);
    if (rc == AIOE_OK && r->has_expiry) {
        MQTTProperty p;
        memset(&p, 0, sizeof p);
        p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
        p.value.integer4 = r->expiry;
        if (MQTTProperties_add(&m->properties, &p) != 0)
            rc = AIOE_ERR_NOMEM;
    }
    if (rc == AIOE_OK && r->payload_format >= 0) {
        MQTTProperty p;
        memset(&p, 0, sizeof p);
        p.identifier = MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR;
        p.value.byte = (unsigned char)r->payload_format;
        if (MQTTProperties_add(&m->properties, &p) != 0)
            rc = AIOE_ERR_NOMEM;
    }
    *c = (aioe_message){ .topic = topic, .topic_len = r->topic_len, .m = m, .owned = true,
                         .one_block = true, .inbox_id = id,
                         .inbox_redelivered = redelivered };
    if (rc != AIOE_OK) {
        MQTTProperties_free(&m->properties);
        free(c);
        return rc;
    }
    *out = c;
    return AIOE_OK;
}

static void deadline_in(struct timespec *ts, uint64_t us)
{
    clock_gettime(CLOCK_MONOTONIC, ts); /* ib->cv's clock */
    ts->tv_sec += (time_t)(us / 1000000);
    ts->tv_nsec += (long)(us % 1000000) * 1000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Waits (under ib->mu) until a message is queued or the deadline passes.
 * While messages stream in (the last wait ended with one), the consumer
 * first naps for the batch delay: the receive thread does not wake it per
 * message, so one wake-up serves every message queued meanwhile. A nap
 * that finds nothing ends the streaming; the wait then goes on woken per
 * message, so a lone message is not delayed. */
static void wait_queued(aioe_inbox *ib, const struct timespec *deadline)
{
    if (ib->q_len)
        return;
    if (ib->streaming && ib->o.batch_delay_us) {
        struct timespec nap;
        deadline_in(&nap, ib->o.batch_delay_us);
        if (before(deadline, &nap))
            nap = *deadline;
        ib->waiters++;
        ib->nappers++;
        /* woken early: a full batch, or a message meant for another waiter */
        int w;
        do {
            w = pthread_cond_timedwait(&ib->cv, &ib->mu, &nap);
            if (ib->signalled) /* it may have been meant for a waiter */
                ib->signalled--;
        } while (w == 0 && ib->q_len == 0);
        ib->nappers--;
        ib->waiters--;
        ib->streaming = ib->q_len > 0;
    }
    while (ib->q_len == 0) {
        ib->waiters++;
        int w = pthread_cond_timedwait(&ib->cv, &ib->mu, deadline);
        ib->waiters--;
        if (ib->signalled)
            ib->signalled--;
        if (w != 0 && ib->q_len == 0)
            return;
        ib->streaming = ib->q_len > 0;
    }
}

int aioe_inbox_next(aioe_inbox *ib, uint32_t timeout_ms, aioe_message **out)
{
    if (!ib || !out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    struct timespec deadline;
    deadline_in(&deadline, (uint64_t)timeout_ms * 1000);
    unsigned char *buf = NULL;
    size_t cap = 0;
    int rc = AIOE_ERR_TIMEOUT;
    pthread_mutex_lock(&ib->mu);
    if (ib->rbuf) { /* borrow the inbox's read buffer */
        buf = ib->rbuf;
        cap = ib->rcap;
        ib->rbuf = NULL;
        ib->rcap = 0;
    }
    for (;;) {
        wait_queued(ib, &deadline);
        if (ib->q_len == 0)
            break;
        uint64_t id = ib->q[ib->q_head];
        ib->q_head = (ib->q_head + 1) % ib->q_cap;
        ib->q_len--;
        /* The signal that woke this thread may have been counted for
         * another waiter (a condition variable wakes whom it picks): when
         * messages are left and a waiter was not signalled for them, pass
         * the wake-up on, or they would wait for that waiter's deadline. */
        if (ib->q_len && ib->waiters - ib->nappers > ib->signalled) {
            pthread_cond_signal(&ib->cv);
            ib->signalled++;
            ib->wakeups++;
        }
        bool redelivered = id < ib->first_new;
        pthread_mutex_unlock(&ib->mu);
        aioe__rec_msg r;
        int rr = aioe__store_read(ib->st, id, &buf, &cap, &r);
        if (rr == AIOE_OK)
            rc = make_message(&r, id, redelivered, out);
        pthread_mutex_lock(&ib->mu);
        if (rr == AIOE_OK || rr == AIOE_ERR_NOMEM) {
            if (rr != AIOE_OK)
                rc = rr;
            break;
        }
        /* NOT_FOUND (acknowledged without being taken) or lost (logged) */
    }
    if (!ib->rbuf && cap <= RBUF_KEEP) { /* give it back (another thread
                                             * may have lent it), unless a
                                             * large record grew it */
        ib->rbuf = buf;
        ib->rcap = cap;
        buf = NULL;
    }
    pthread_mutex_unlock(&ib->mu);
    free(buf);
    return rc;
}

int aioe_inbox_ack(aioe_inbox *ib, uint64_t id)
{
    if (!ib || !id)
        return AIOE_ERR_INVALID_ARG;
    int rc = aioe__store_ack(ib->st, id);
    if (rc != AIOE_OK)
        return rc;
    pthread_mutex_lock(&ib->mu);
    bool paused = ib->paused;
    if (ib->holding)
        pthread_cond_broadcast(&ib->cv); /* a held receive thread retries */
    pthread_mutex_unlock(&ib->mu);
    if (paused)
        check_flow(ib, true);
    return AIOE_OK;
}

int aioe_inbox_flush(aioe_inbox *ib)
{
    return ib ? aioe__store_flush(ib->st) : AIOE_ERR_INVALID_ARG;
}

uint64_t aioe_inbox_message_id(const aioe_message *msg)
{
    return msg ? msg->inbox_id : 0;
}

bool aioe_inbox_message_redelivered(const aioe_message *msg)
{
    return msg && msg->inbox_redelivered;
}

int aioe_inbox_get_stats(aioe_inbox *ib, aioe_inbox_stats *out)
{
    if (!ib || !out || out->version < 1)
        return AIOE_ERR_INVALID_ARG;
    aioe__store_stats st;
    aioe__store_get_stats(ib->st, &st);
    pthread_mutex_lock(&ib->mu);
    uint64_t waiting = ib->q_len, wakeups = ib->wakeups;
    bool paused = ib->paused;
    pthread_mutex_unlock(&ib->mu);
    out->stored = st.appended;
    out->acknowledged = st.acked;
    out->unacknowledged = st.live;
    out->unacknowledged_bytes = st.live_bytes;
    out->waiting = waiting;
    out->file_bytes = st.file_bytes;
    out->recovered = st.recovered;
    out->damaged_ranges = st.damaged_ranges;
    out->records_lost = st.records_lost;
    out->files_damaged = st.files_damaged;
    out->files_refused = st.files_refused;
    out->syncs = st.syncs;
    out->append_failures = st.append_failures;
    out->paused = paused;
    out->full = st.full;
    out->full_status = st.full_status;
    if (out->version >= 2)
        out->consumer_wakeups = wakeups;
    out->version = out->version >= 2 ? 2 : 1;
    return AIOE_OK;
}
