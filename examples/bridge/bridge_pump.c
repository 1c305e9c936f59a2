/* aioe-bridge: the path from the source's inbox to the destination.
 *
 *   source session → inbox (the library appends each message to its log
 *   inside Paho's message callback, before the PUBACK; see docs/inbox.md)
 *   pump thread: aioe_inbox_next() → expand the destination topic (drop
 *     and acknowledge when a variable cannot be resolved) → publish; a
 *     message the publish window cannot take now waits in the retry ring
 *   destination completion (a Paho thread): delivered, or refused for
 *     good → acknowledge it in the inbox; not confirmed → send it again.
 * A message is acknowledged in the inbox only once the destination has it
 * (or refused it), so a SIGKILL at any moment loses nothing: the inbox
 * hands out again whatever was not acknowledged. Pausing the source at the
 * high-water mark is the inbox's flow control. */
#include "bridge_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC_MAX 65536

_Static_assert(sizeof(void *) >= 8, "user_data carries instance id and slot");

static inline void *ud_encode(unsigned id, size_t slot_idx)
{
    return (void *)(uintptr_t)(((uint64_t)id << SLOT_BITS) | ((uint64_t)slot_idx + 1));
}

/* ---- slots and the retry ring (bi->mu held) ---- */

static size_t slot_alloc(bridge_instance *bi)
{
    if (bi->free_slot == SIZE_MAX) {
        size_t n = bi->nslots ? bi->nslots * 2 : 256;
        slot *s = realloc(bi->slots, n * sizeof *s);
        if (!s)
            return SIZE_MAX;
        for (size_t i = bi->nslots; i < n; i++)
            s[i] = (slot){ .next_free = i + 1 < n ? i + 1 : bi->free_slot };
        bi->free_slot = bi->nslots;
        bi->slots = s;
        bi->nslots = n;
    }
    size_t i = bi->free_slot;
    bi->free_slot = bi->slots[i].next_free;
    bi->busy++;
    return i;
}

static void slot_release(bridge_instance *bi, size_t i)
{
    slot *s = &bi->slots[i];
    aioe_message_free(s->msg);
    free(s->topic);
    free(s->xblob);
    free(s->xprops);
    *s = (slot){ .next_free = bi->free_slot };
    bi->free_slot = i;
    bi->busy--;
}

static bool retry_push(bridge_instance *bi, size_t i, bool front)
{
    if (bi->retry_len == bi->retry_cap) {
        size_t n = bi->retry_cap ? bi->retry_cap * 2 : 256;
        size_t *r = malloc(n * sizeof *r);
        if (!r)
            return false;
        for (size_t k = 0; k < bi->retry_len; k++)
            r[k] = bi->retry[(bi->retry_head + k) % bi->retry_cap];
        free(bi->retry);
        bi->retry = r;
        bi->retry_cap = n;
        bi->retry_head = 0;
    }
    if (front) {
        bi->retry_head = (bi->retry_head + bi->retry_cap - 1) % bi->retry_cap;
        bi->retry[bi->retry_head] = i;
    } else {
        bi->retry[(bi->retry_head + bi->retry_len) % bi->retry_cap] = i;
    }
    bi->retry_len++;
    return true;
}

static size_t retry_pop(bridge_instance *bi)
{
    size_t i = bi->retry[bi->retry_head];
    bi->retry_head = (bi->retry_head + 1) % bi->retry_cap;
    bi->retry_len--;
    return i;
}

void bridge_pump_free_slots(bridge_instance *bi)
{
    pthread_mutex_lock(&bi->mu);
    for (size_t i = 0; i < bi->nslots; i++)
        if (bi->slots[i].msg)
            slot_release(bi, i); /* not acknowledged: the inbox keeps it */
    free(bi->slots);
    bi->slots = NULL;
    bi->nslots = 0;
    bi->free_slot = SIZE_MAX;
    free(bi->retry);
    bi->retry = NULL;
    bi->retry_len = bi->retry_cap = 0;
    pthread_mutex_unlock(&bi->mu);
}

/* ---- publishing ---- */

static bool reason_is_transient(int reason)
{
    return reason == 0x97 /* quota exceeded */ || reason == 0x91 /* packet id in use */;
}

/* Done with slot i: acknowledge it in the inbox (when it need not come
 * again) and free it. */
static void finish(bridge_instance *bi, size_t i, bool ack)
{
    pthread_mutex_lock(&bi->mu);
    uint64_t id = bi->slots[i].id;
    slot_release(bi, i);
    pthread_mutex_unlock(&bi->mu);
    if (ack)
        aioe_inbox_ack(bi->inbox, id);
}

static void on_published(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    uint64_t v = (uint64_t)(uintptr_t)ud;
    unsigned id = (unsigned)(v >> SLOT_BITS);
    size_t i = (size_t)(v & SLOT_MASK) - 1;
    bridge_instance *bi = id < MAX_INSTANCES ? g_bridge_instances[id] : NULL;
    if (!bi)
        return;
    if (status == AIOE_OK) {
        atomic_fetch_add(&bi->forwarded, 1);
        finish(bi, i, true);
    } else if (status == AIOE_ERR_STATE) {
        finish(bi, i, false); /* stopping: the inbox hands it out on the next start */
    } else if (reason >= 0x80 && !reason_is_transient(reason)) {
        uint64_t n = atomic_fetch_add(&bi->dropped_rejected, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi,
                 "destination refused a message (PUBACK reason 0x%02x, %s); dropped "
                 "(%" PRIu64 " so far)", (unsigned)reason, aioe_strerror(status), n + 1);
        finish(bi, i, true);
    } else {
        /* delivery not confirmed: send again (a suspected duplicate) */
        atomic_fetch_add(&bi->duplicates, 1);
        pthread_mutex_lock(&bi->mu);
        if (!retry_push(bi, i, true)) {
            pthread_mutex_unlock(&bi->mu);
            blog(AIOE_LOG_ERROR, bi, "out of memory: a message waits for the next start");
            finish(bi, i, false);
            pthread_mutex_lock(&bi->mu);
        }
        bi->pump_wants_room = false;
        pthread_cond_signal(&bi->cv);
        pthread_mutex_unlock(&bi->mu);
        return;
    }
    pthread_mutex_lock(&bi->mu);
    bi->completions++;
    /* wake the pump only when it waits for room in the window: a wake-up
     * per acknowledgement would cost a context switch per message */
    if (bi->pump_wants_room) {
        bi->pump_wants_room = false;
        pthread_cond_signal(&bi->cv);
    }
    pthread_mutex_unlock(&bi->mu);
}

/* Publishes slot i with its content type and user properties; the library
 * runs the destination endpoint's CloudEvents stage. Pump thread only. */
static int publish(bridge_instance *bi, aioe_message_builder *b, size_t i)
{
    pthread_mutex_lock(&bi->mu);
    slot sl = bi->slots[i];
    pthread_mutex_unlock(&bi->mu);
    const aioe_message *m = sl.msg;
    const char *topic = sl.topic;
    size_t tlen = sl.topic_len;
    size_t plen = 0, ctlen = 0;
    const void *payload = aioe_message_payload(m, &plen);
    const char *ct = aioe_message_content_type(m, &ctlen);
    if (sl.transformed) {
        payload = sl.xpayload;
        plen = sl.xpayload_len;
        ct = sl.xct;
        ctlen = sl.xct_len;
    }
    aioe_message_builder_reset(b);
    int rc = aioe_message_builder_set_topic(b, topic, tlen);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_payload(b, payload, plen);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_qos(b, bi->dst_qos);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_retain(b, aioe_message_retain(m) && bi->retain_keep);
    if (rc == AIOE_OK && ct)
        rc = aioe_message_builder_set_content_type(b, ct, ctlen);
    size_t np = sl.transformed ? sl.xprop_count : aioe_message_user_property_count(m);
    for (size_t k = 0; rc == AIOE_OK && k < np; k++) {
        aioe_user_property up;
        if (sl.transformed)
            up = sl.xprops[k];
        else if (aioe_message_user_property(m, k, &up) != AIOE_OK)
            continue;
        rc = aioe_message_builder_add_user_property(b, up.name, up.name_len, up.value,
                                                    up.value_len);
    }
    if (rc != AIOE_OK)
        return rc;
    rc = aioe_session_publish_message(bi->dst, b, on_published, ud_encode(bi->id, i));
    if (rc == AIOE_ERR_INVALID_EVENT) {
        uint64_t n = atomic_fetch_add(&bi->dropped_invalid_event, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi, "dropped a message on '%.*s': its CloudEvents "
                 "attributes are invalid for CreateOrRemap (%" PRIu64 " so far)",
                 (int)tlen, topic, n + 1);
    }
    return rc;
}

/* Runs the Dataflow's BuiltInTransformation on @p m and, when it passes,
 * keeps the result in slot-owned memory (the stage's output is valid only
 * until its next call; the message may be sent again later). Returns the
 * stage's outcome, or AIOE_TRANSFORM_INVALID when out of memory. */
static aioe_transform_outcome transform(bridge_instance *bi, const aioe_message *m,
                                        const char *in_topic, size_t in_len, slot *out)
{
    bridge_msg rec = { 0 };
    rec.payload = aioe_message_payload(m, &rec.payload_len);
    rec.content_type = aioe_message_content_type(m, &rec.content_type_len);
    size_t np = aioe_message_user_property_count(m);
    if (np > bi->tprops_cap) {
        aioe_user_property *p = realloc(bi->tprops, np * sizeof *p);
        if (!p)
            return AIOE_TRANSFORM_INVALID;
        bi->tprops = p;
        bi->tprops_cap = np;
    }
    for (size_t k = 0; k < np; k++)
        aioe_message_user_property(m, k, &bi->tprops[k]);
    rec.props = bi->tprops;
    rec.prop_count = np;
    const char *why = NULL;
    aioe_transform_outcome oc = transform_step_apply(bi->xf, in_topic, in_len, &rec, &why);
    if (oc == AIOE_TRANSFORM_INVALID) {
        uint64_t n = atomic_fetch_add(&bi->dropped_untransformable, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi, "dropped a message on '%s': cannot transform it: %s "
                 "(%" PRIu64 " so far)", in_topic, why ? why : "", n + 1);
    }
    if (oc != AIOE_TRANSFORM_PASSED)
        return oc;
    size_t blob = rec.payload_len + rec.content_type_len + 1;
    for (size_t k = 0; k < rec.prop_count; k++)
        blob += rec.props[k].name_len + rec.props[k].value_len;
    unsigned char *b = malloc(blob);
    aioe_user_property *xp = rec.prop_count ? malloc(rec.prop_count * sizeof *xp) : NULL;
    if (!b || (rec.prop_count && !xp)) {
        free(b);
        free(xp);
        return AIOE_TRANSFORM_INVALID;
    }
    unsigned char *w = b;
    if (rec.payload_len)
        memcpy(w, rec.payload, rec.payload_len);
    out->xpayload = w;
    out->xpayload_len = rec.payload_len;
    w += rec.payload_len;
    out->xct = NULL;
    out->xct_len = 0;
    if (rec.content_type) {
        memcpy(w, rec.content_type, rec.content_type_len);
        out->xct = (const char *)w;
        out->xct_len = rec.content_type_len;
        w += rec.content_type_len;
    }
    for (size_t k = 0; k < rec.prop_count; k++) {
        const aioe_user_property *p = &rec.props[k];
        memcpy(w, p->name, p->name_len);
        xp[k].name = (const char *)w;
        xp[k].name_len = p->name_len;
        w += p->name_len;
        memcpy(w, p->value, p->value_len);
        xp[k].value = (const char *)w;
        xp[k].value_len = p->value_len;
        w += p->value_len;
    }
    out->xblob = b;
    out->xprops = xp;
    out->xprop_count = rec.prop_count;
    out->transformed = true;
    return oc;
}

/* Takes one message from the inbox into a slot: 1 taken, 0 none in time,
 * -1 dropped (counted and acknowledged). *out gets the slot. */
static int take(bridge_instance *bi, char *in_topic, char *out_topic, size_t *out)
{
    aioe_message *m = NULL;
    int rc = aioe_inbox_next(bi->inbox, 20, &m);
    if (rc != AIOE_OK)
        return 0;
    atomic_fetch_add(&bi->received, 1);
    if (aioe_message_dup(m) || aioe_inbox_message_redelivered(m))
        atomic_fetch_add(&bi->duplicates, 1); /* it may have gone out before */
    uint64_t id = aioe_inbox_message_id(m);
    size_t tlen = 0, olen = 0;
    const char *t = aioe_message_topic(m, &tlen);
    if (tlen > TOPIC_MAX) {
        rc = AIOE_ERR_TOO_LARGE;
    } else {
        memcpy(in_topic, t, tlen);
        in_topic[tlen] = 0;
        rc = aioe_topic_expand(aioe_dataflow_destination_topic(bi->df), in_topic, out_topic,
                               TOPIC_MAX + 1, &olen);
    }
    if (rc == AIOE_ERR_NOT_FOUND) {
        uint64_t n = atomic_fetch_add(&bi->dropped_unresolved, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi,
                 "dropped a message on '%s': destination topic '%s' has a variable this "
                 "topic cannot resolve (%" PRIu64 " so far)",
                 in_topic, aioe_dataflow_destination_topic(bi->df), n + 1);
    } else if (rc != AIOE_OK) {
        atomic_fetch_add(&bi->dropped_invalid, 1);
        blog(AIOE_LOG_WARNING, bi, "dropped a message on '%.*s': cannot build the "
             "destination topic (%s)", (int)(tlen > 256 ? 256 : tlen), t, aioe_strerror(rc));
    }
    char *topic = rc == AIOE_OK ? malloc(olen + 1) : NULL;
    if (rc == AIOE_OK && !topic) {
        aioe_message_free(m); /* not acknowledged: handed out after a restart */
        return 0;
    }
    if (rc != AIOE_OK) {
        aioe_message_free(m);
        aioe_inbox_ack(bi->inbox, id);
        return -1;
    }
    memcpy(topic, out_topic, olen + 1);
    slot x = { 0 };
    if (bi->xf) {
        /* filtered (counted by the stage) or untransformable: dropped */
        if (transform(bi, m, in_topic, tlen, &x) != AIOE_TRANSFORM_PASSED) {
            free(topic);
            aioe_message_free(m);
            aioe_inbox_ack(bi->inbox, id);
            return -1;
        }
    }
    pthread_mutex_lock(&bi->mu);
    size_t i = slot_alloc(bi);
    if (i != SIZE_MAX) {
        bi->slots[i].msg = m;
        bi->slots[i].id = id;
        bi->slots[i].topic = topic;
        bi->slots[i].topic_len = olen;
        bi->slots[i].transformed = x.transformed;
        bi->slots[i].xblob = x.xblob;
        bi->slots[i].xpayload = x.xpayload;
        bi->slots[i].xpayload_len = x.xpayload_len;
        bi->slots[i].xct = x.xct;
        bi->slots[i].xct_len = x.xct_len;
        bi->slots[i].xprops = x.xprops;
        bi->slots[i].xprop_count = x.xprop_count;
    }
    pthread_mutex_unlock(&bi->mu);
    if (i == SIZE_MAX) {
        free(x.xblob);
        free(x.xprops);
        free(topic);
        aioe_message_free(m);
        return 0;
    }
    *out = i;
    return 1;
}

/* Sends slot i; on a full window it goes back to the head of the retry
 * ring and the pump waits for a completion. */
static void send_slot(bridge_instance *bi, aioe_message_builder *b, size_t i)
{
    pthread_mutex_lock(&bi->mu);
    uint64_t seen = bi->completions;
    pthread_mutex_unlock(&bi->mu);
    int rc = publish(bi, b, i);
    if (rc == AIOE_OK)
        return;
    if (rc == AIOE_ERR_WOULD_BLOCK || rc == AIOE_ERR_STATE || rc == AIOE_ERR_NOMEM ||
        rc == AIOE_ERR_CONNECTION) {
        pthread_mutex_lock(&bi->mu);
        bool queued = retry_push(bi, i, true);
        if (queued && bi->completions == seen && !bi->pump_stop) {
            bi->pump_wants_room = true;
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 20 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&bi->cv, &bi->mu, &dl);
        }
        pthread_mutex_unlock(&bi->mu);
        if (!queued)
            finish(bi, i, false);
        return;
    }
    if (rc != AIOE_ERR_INVALID_EVENT) {
        atomic_fetch_add(&bi->dropped_invalid, 1);
        pthread_mutex_lock(&bi->mu);
        blog(AIOE_LOG_WARNING, bi, "cannot publish to '%s': %s; dropped", bi->slots[i].topic,
             aioe_strerror(rc));
        pthread_mutex_unlock(&bi->mu);
    }
    finish(bi, i, true);
}

/* Logs pause/resume of the source (done by the inbox) and counts them. */
static void watch_inbox(bridge_instance *bi)
{
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    if (aioe_inbox_get_stats(bi->inbox, &st) != AIOE_OK)
        return;
    bool was = atomic_load(&bi->paused);
    if (st.paused && !was) {
        atomic_fetch_add(&bi->pauses, 1);
        blog(AIOE_LOG_WARNING, bi, "store holds %" PRIu64 " bytes: pausing the source; "
             "messages wait in the source broker's session", st.unacknowledged_bytes);
    } else if (!st.paused && was) {
        blog(AIOE_LOG_WARNING, bi, "store down to %" PRIu64 " bytes: resuming the source",
             st.unacknowledged_bytes);
    }
    atomic_store(&bi->paused, st.paused);
}

void *bridge_pump_main(void *arg)
{
    bridge_instance *bi = arg;
    aioe_message_builder *b = NULL;
    char *in_topic = malloc(TOPIC_MAX + 1), *out_topic = malloc(TOPIC_MAX + 1);
    if (aioe_message_builder_new(&b) != AIOE_OK || !in_topic || !out_topic) {
        blog(AIOE_LOG_ERROR, bi, "out of memory starting the pump");
        aioe_message_builder_free(b);
        free(in_topic);
        free(out_topic);
        return NULL;
    }
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    for (;;) {
        pthread_mutex_lock(&bi->mu);
        bool stop = bi->pump_stop;
        bool have_retry = bi->retry_len > 0;
        size_t i = have_retry ? retry_pop(bi) : SIZE_MAX;
        pthread_mutex_unlock(&bi->mu);
        if (stop) {
            if (have_retry) {
                pthread_mutex_lock(&bi->mu);
                retry_push(bi, i, true);
                pthread_mutex_unlock(&bi->mu);
            }
            break;
        }
        if (!have_retry && take(bi, in_topic, out_topic, &i) <= 0)
            i = SIZE_MAX;
        if (i != SIZE_MAX)
            send_slot(bi, b, i);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= 20) {
            watch_inbox(bi);
            last = now;
        }
    }
    aioe_message_builder_free(b);
    free(in_topic);
    free(out_topic);
    return NULL;
}
