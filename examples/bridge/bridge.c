/* aioe-bridge runtime (see bridge.h and docs/bridge.md).
 *
 * Message path, per instance:
 *   source message callback (Paho's receive thread)
 *     → expand the destination topic (drop + count when unresolvable)
 *     → append to the durable store (write(2), optional fdatasync): done
 *       before the callback returns, so the PUBACK Paho sends afterwards
 *       never acknowledges a message that only lives in memory
 *     → publish to the destination at once when nothing is queued ahead,
 *       else queue the record's sequence number for the pump thread
 *   destination completion (a Paho thread)
 *     → success: ack the record in the store; failure: queue it again
 *   pump thread
 *     → publishes queued records (read back with pread), flushes acks,
 *       pauses/resumes the source at the store's high/low-water marks.
 * Nothing in the steady-state path allocates: topics expand into
 * per-instance buffers, records are built in the store's buffer, and the
 * publish completion's user_data carries (instance id, sequence number).
 */
#include "../common/tool.h"
#include "bridge.h"
#include "store.h"
#include "transform_step.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_INSTANCES 4096
#define TOPIC_MAX 65536
#define PROPS_INLINE 64
#define SEQ_BITS 48
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

_Static_assert(sizeof(void *) >= 8, "user_data carries instance id and sequence");

typedef struct sub_filter {
    struct bridge_instance *bi;
    char filter[];
} sub_filter;

struct bridge_instance {
    unsigned id;
    char name[256];
    bridge_options opts;
    aioe_dataflow *df;
    transform_step *xf;        /* NULL: no BuiltInTransformation */
    aioe_endpoint *src_ep, *dst_ep;
    aioe_session *src, *dst;
    bstore *store;
    uint64_t high_bytes, low_bytes;
    int src_qos, dst_qos;
    bool retain_keep;
    sub_filter **filters;
    size_t nfilters;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t *ring;            /* deque of sequence numbers for the pump */
    size_t ring_cap, ring_head, ring_len;
    int ring_busy;             /* records popped and being published */
    bool pump_stop;
    bool pump_wants_room;      /* the pump waits for a publish completion */
    bool pump_started;
    pthread_t pump;
    uint64_t completions;      /* bumped by every publish completion */

    pthread_mutex_t src_mu;    /* guards replacing bi->src (pause/resume) */
    bool shutting_down;        /* under src_mu: no more pause/resume */
    atomic_bool paused;
    atomic_bool stopping_src, stopping_dst;
    atomic_bool src_ever_connected, dst_ever_connected;
    atomic_int fatal;
    char fatal_why[256];

    /* counters */
    atomic_uint_fast64_t received, stored, forwarded, dropped_unresolved,
        dropped_rejected, dropped_invalid, dropped_invalid_event, dropped_untransformable,
        dropped_qos0, duplicates,
        store_errors,
        reconnects_src, reconnects_dst, pauses, over_limit;

    /* used only on the source's callback thread (one message at a time) */
    char in_topic[TOPIC_MAX + 1];
    char out_topic[TOPIC_MAX + 1];
    aioe_user_property props_inline[PROPS_INLINE];
    aioe_user_property *props;
    size_t props_cap;

    /* pump only */
    unsigned char *rbuf;
    size_t rcap;
    aioe_user_property rprops[PROPS_INLINE];
    /* completion-side draining, under cb_mu */
    pthread_mutex_t cb_mu;
    unsigned char *cbuf;
    size_t ccap;
    aioe_user_property cprops[PROPS_INLINE];
};

static bridge_instance *g_instances[MAX_INSTANCES];
static pthread_mutex_t g_instances_mu = PTHREAD_MUTEX_INITIALIZER;
/* set when an instance is made, read by every thread that logs */
static atomic_int g_log_level = AIOE_LOG_INFO;

static void blog(aioe_log_level lvl, const bridge_instance *bi, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void blog(aioe_log_level lvl, const bridge_instance *bi, const char *fmt, ...)
{
    if ((int)lvl > atomic_load_explicit(&g_log_level, memory_order_relaxed))
        return;
    static const char *names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf per line keeps lines whole across threads */
    fprintf(stderr, "aioe-bridge: %s%s%s: %s\n", bi ? bi->name : "", bi ? ": " : "",
            names[lvl], line);
}

static inline void *ud_encode(unsigned id, uint64_t seq)
{
    return (void *)(uintptr_t)(((uint64_t)id << SEQ_BITS) | (seq & SEQ_MASK));
}

/* ---- queue (bi->mu held) ---- */

static int ring_reserve(bridge_instance *bi)
{
    if (bi->ring_len < bi->ring_cap)
        return 0;
    size_t ncap = bi->ring_cap ? bi->ring_cap * 2 : 1024;
    uint64_t *n = malloc(ncap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i < bi->ring_len; i++)
        n[i] = bi->ring[(bi->ring_head + i) % bi->ring_cap];
    free(bi->ring);
    bi->ring = n;
    bi->ring_cap = ncap;
    bi->ring_head = 0;
    return 0;
}

static void ring_push_back(bridge_instance *bi, uint64_t seq)
{
    if (ring_reserve(bi) != 0) {
        /* stays in the store: replayed on the next start */
        blog(AIOE_LOG_ERROR, bi, "out of memory queueing record %" PRIu64, seq);
        return;
    }
    bi->ring[(bi->ring_head + bi->ring_len) % bi->ring_cap] = seq;
    bi->ring_len++;
}

static void ring_push_front(bridge_instance *bi, uint64_t seq)
{
    if (ring_reserve(bi) != 0) {
        blog(AIOE_LOG_ERROR, bi, "out of memory queueing record %" PRIu64, seq);
        return;
    }
    bi->ring_head = (bi->ring_head + bi->ring_cap - 1) % bi->ring_cap;
    bi->ring[bi->ring_head] = seq;
    bi->ring_len++;
}

static uint64_t ring_pop_front(bridge_instance *bi)
{
    uint64_t seq = bi->ring[bi->ring_head];
    bi->ring_head = (bi->ring_head + 1) % bi->ring_cap;
    bi->ring_len--;
    return seq;
}

static void queue(bridge_instance *bi, uint64_t seq, bool front)
{
    pthread_mutex_lock(&bi->mu);
    if (front)
        ring_push_front(bi, seq);
    else
        ring_push_back(bi, seq);
    pthread_cond_signal(&bi->cv);
    pthread_mutex_unlock(&bi->mu);
}

/* ---- publish path ---- */

static bool reason_is_transient(int reason)
{
    return reason == 0x97 /* quota exceeded */ || reason == 0x91 /* packet id in use */;
}

static void drain_on_completion(bridge_instance *bi);

static void on_published(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    uint64_t v = (uint64_t)(uintptr_t)ud;
    unsigned id = (unsigned)(v >> SEQ_BITS);
    uint64_t seq = v & SEQ_MASK;
    bridge_instance *bi = id < MAX_INSTANCES ? g_instances[id] : NULL;
    if (!bi)
        return;
    if (status == AIOE_OK) {
        atomic_fetch_add(&bi->forwarded, 1);
        if (seq)
            bstore_ack(bi->store, seq);
    } else if (status == AIOE_ERR_STATE) {
        /* stopping: the record stays in the store for the next start */
        if (!seq)
            atomic_fetch_add(&bi->dropped_qos0, 1);
    } else if (reason >= 0x80 && !reason_is_transient(reason)) {
        uint64_t n = atomic_fetch_add(&bi->dropped_rejected, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi,
                 "destination refused a message (PUBACK reason 0x%02x, %s); dropped "
                 "(%" PRIu64 " so far)", (unsigned)reason, aioe_strerror(status), n + 1);
        if (seq)
            bstore_ack(bi->store, seq);
    } else if (seq) {
        /* delivery not confirmed: send again (a suspected duplicate) */
        atomic_fetch_add(&bi->duplicates, 1);
        queue(bi, seq, true);
    } else {
        atomic_fetch_add(&bi->dropped_qos0, 1);
    }
    pthread_mutex_lock(&bi->mu);
    bi->completions++;
    /* wake the pump only when it waits for room in the window: a wake-up
     * per acknowledgement would cost a context switch per message */
    bool waiting = bi->ring_len > 0;
    pthread_mutex_unlock(&bi->mu);
    if (waiting)
        drain_on_completion(bi);
}

/* Publishes; returns the library status. */
/* Publishing runs on several threads (the source's message callback, the
 * destination's completion callbacks, the pump), so each thread has its own
 * reusable message builder, freed when the thread ends. */
static pthread_key_t builder_key;
static pthread_once_t builder_once = PTHREAD_ONCE_INIT;

static void builder_free(void *b)
{
    aioe_message_builder_free(b);
}

static void builder_key_init(void)
{
    pthread_key_create(&builder_key, builder_free);
}

static aioe_message_builder *thread_builder(void)
{
    pthread_once(&builder_once, builder_key_init);
    aioe_message_builder *b = pthread_getspecific(builder_key);
    if (!b && aioe_message_builder_new(&b) == AIOE_OK && pthread_setspecific(builder_key, b)) {
        aioe_message_builder_free(b);
        b = NULL;
    }
    return b;
}

/* Publishes one message with its content type and user properties; the
 * library runs the destination endpoint's CloudEvents stage. */
static int publish(bridge_instance *bi, const bstore_msg *m, uint64_t seq)
{
    aioe_message_builder *b = thread_builder();
    if (!b)
        return AIOE_ERR_NOMEM;
    aioe_message_builder_reset(b);
    int rc = aioe_message_builder_set_topic(b, m->topic, m->topic_len);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_payload(b, m->payload, m->payload_len);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_qos(b, bi->dst_qos);
    if (rc == AIOE_OK)
        rc = aioe_message_builder_set_retain(b, m->retain && bi->retain_keep);
    if (rc == AIOE_OK && m->content_type)
        rc = aioe_message_builder_set_content_type(b, m->content_type, m->content_type_len);
    for (size_t i = 0; rc == AIOE_OK && i < m->prop_count; i++)
        rc = aioe_message_builder_add_user_property(b, m->props[i].name, m->props[i].name_len,
                                                    m->props[i].value, m->props[i].value_len);
    if (rc != AIOE_OK)
        return rc;
    rc = aioe_session_publish_message(bi->dst, b, on_published, ud_encode(bi->id, seq));
    if (rc == AIOE_ERR_INVALID_EVENT) {
        uint64_t n = atomic_fetch_add(&bi->dropped_invalid_event, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi, "dropped a message on '%.*s': its CloudEvents "
                 "attributes are invalid for CreateOrRemap (%" PRIu64 " so far)",
                 (int)m->topic_len, m->topic, n + 1);
    }
    return rc;
}

static void on_message(aioe_session *s, const aioe_message *m, void *ud)
{
    (void)s;
    bridge_instance *bi = ud;
    atomic_fetch_add(&bi->received, 1);
    size_t tlen = 0, plen = 0;
    const char *t = aioe_message_topic(m, &tlen);
    const void *payload = aioe_message_payload(m, &plen);
    if (tlen > TOPIC_MAX) {
        atomic_fetch_add(&bi->dropped_invalid, 1);
        return;
    }
    memcpy(bi->in_topic, t, tlen);
    bi->in_topic[tlen] = 0;
    size_t olen = 0;
    int rc = aioe_topic_expand(aioe_dataflow_destination_topic(bi->df), bi->in_topic,
                               bi->out_topic, sizeof bi->out_topic, &olen);
    if (rc == AIOE_ERR_NOT_FOUND) {
        uint64_t n = atomic_fetch_add(&bi->dropped_unresolved, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi,
                 "dropped a message on '%s': destination topic '%s' has a variable this "
                 "topic cannot resolve (%" PRIu64 " so far)",
                 bi->in_topic, aioe_dataflow_destination_topic(bi->df), n + 1);
        return;
    }
    if (rc != AIOE_OK) {
        atomic_fetch_add(&bi->dropped_invalid, 1);
        blog(AIOE_LOG_WARNING, bi, "dropped a message on '%s': cannot build the "
             "destination topic (%s)", bi->in_topic, aioe_strerror(rc));
        return;
    }
    bool retain = aioe_message_retain(m);
    int qos = aioe_message_qos(m);
    if (aioe_message_dup(m))
        atomic_fetch_add(&bi->duplicates, 1); /* the source redelivers it */

    bstore_msg rec = {.topic = bi->out_topic, .topic_len = olen, .payload = payload,
                      .payload_len = plen, .qos = qos, .retain = retain};
    size_t ctlen = 0;
    rec.content_type = aioe_message_content_type(m, &ctlen);
    rec.content_type_len = ctlen;
    size_t np = aioe_message_user_property_count(m);
    if (np > bi->props_cap) {
        aioe_user_property *n = realloc(bi->props == bi->props_inline ? NULL : bi->props,
                                        np * sizeof *n);
        if (n) {
            bi->props = n;
            bi->props_cap = np;
        } else {
            np = bi->props_cap;
        }
    }
    for (size_t i = 0; i < np; i++)
        aioe_message_user_property(m, i, &bi->props[i]);
    rec.props = bi->props;
    rec.prop_count = np;

    /* the Dataflow's BuiltInTransformation: filtered and untransformable
     * messages are dropped, counted and logged (docs/transform.md) */
    const char *why = NULL;
    aioe_transform_outcome oc =
        bi->xf ? transform_step_apply(bi->xf, bi->in_topic, tlen, &rec, &why)
               : AIOE_TRANSFORM_PASSED;
    if (oc == AIOE_TRANSFORM_INVALID) {
        uint64_t n = atomic_fetch_add(&bi->dropped_untransformable, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_WARNING, bi, "dropped a message on '%s': cannot transform it: %s "
                 "(%" PRIu64 " so far)", bi->in_topic, why, n + 1);
    }
    if (oc != AIOE_TRANSFORM_PASSED)
        return;

    /* QoS 0 in: at most once, so try without the store first */
    if (qos == 0) {
        pthread_mutex_lock(&bi->mu);
        bool direct = bi->ring_len == 0 && bi->ring_busy == 0;
        pthread_mutex_unlock(&bi->mu);
        if (direct) {
            rc = publish(bi, &rec, 0);
            if (rc == AIOE_OK)
                return;
            if (rc != AIOE_ERR_WOULD_BLOCK && rc != AIOE_ERR_STATE) {
                atomic_fetch_add(&bi->dropped_invalid, 1);
                return;
            }
        }
    }

    uint64_t seq = 0;
    rc = bstore_append(bi->store, &rec, &seq);
    if (rc != 0) {
        /* cannot make it durable: still try to deliver, and say so */
        uint64_t n = atomic_fetch_add(&bi->store_errors, 1);
        if (n == 0 || (n + 1) % 1000 == 0)
            blog(AIOE_LOG_ERROR, bi, "cannot append to the store (%s); sending without "
                 "durability (%" PRIu64 " so far)", strerror(-rc), n + 1);
        if (publish(bi, &rec, 0) != AIOE_OK)
            atomic_fetch_add(&bi->dropped_invalid, 1);
        return;
    }
    atomic_fetch_add(&bi->stored, 1);
    if (bi->opts.max_store_bytes && bstore_bytes(bi->store) > bi->opts.max_store_bytes)
        atomic_fetch_add(&bi->over_limit, 1);

    pthread_mutex_lock(&bi->mu);
    bool direct = bi->ring_len == 0 && bi->ring_busy == 0;
    if (!direct) {
        /* completions drain the queue; wake the pump only when the queue
         * was empty (nothing may be in flight to complete) */
        if (bi->ring_len == 0 && bi->pump_wants_room) {
            bi->pump_wants_room = false;
            pthread_cond_signal(&bi->cv);
        }
        ring_push_back(bi, seq);
    }
    pthread_mutex_unlock(&bi->mu);
    if (!direct) {
        /* others are ahead of it: send from the head while the window has
         * room, rather than leave it to the next completion or pump tick */
        drain_on_completion(bi);
        return;
    }
    rc = publish(bi, &rec, seq);
    if (rc == AIOE_OK)
        return;
    if (rc == AIOE_ERR_WOULD_BLOCK || rc == AIOE_ERR_STATE || rc == AIOE_ERR_NOMEM ||
        rc == AIOE_ERR_CONNECTION) {
        queue(bi, seq, false);
        return;
    }
    atomic_fetch_add(&bi->dropped_invalid, 1);
    blog(AIOE_LOG_WARNING, bi, "cannot publish to '%s': %s; dropped", bi->out_topic,
         aioe_strerror(rc));
    bstore_ack(bi->store, seq);
}

/* ---- sessions ---- */

static void on_log(aioe_session *s, aioe_log_level lvl, const char *msg, void *ud)
{
    bridge_instance *bi = ud;
    blog(lvl, bi, "%s: %s", s != bi->dst ? "source" : "destination", msg);
}

/* @p exit_status: TOOL_EXIT_INVALID (refused) or TOOL_EXIT_FAILURE. */
static void set_fatal(bridge_instance *bi, int exit_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_fatal(bridge_instance *bi, int exit_status, const char *fmt, ...)
{
    int expected = 0;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&bi->mu);
    if (atomic_load(&bi->fatal) == 0)
        snprintf(bi->fatal_why, sizeof bi->fatal_why, "%s", why);
    pthread_mutex_unlock(&bi->mu);
    atomic_compare_exchange_strong(&bi->fatal, &expected, exit_status);
}

static void on_state(aioe_session *s, const aioe_session_event *ev, void *ud)
{
    bridge_instance *bi = ud;
    bool is_src = s != bi->dst; /* bi->src changes on resume */
    const char *side = is_src ? "source" : "destination";
    atomic_bool *ever = is_src ? &bi->src_ever_connected : &bi->dst_ever_connected;
    switch (ev->state) {
    case AIOE_SESSION_CONNECTED:
        if (atomic_exchange(ever, true))
            atomic_fetch_add(is_src ? &bi->reconnects_src : &bi->reconnects_dst, 1);
        blog(AIOE_LOG_INFO, bi, "%s connected as %s (session present: %s)", side,
             aioe_session_client_id(s), ev->session_present ? "yes" : "no");
        if (ev->session_lost)
            blog(AIOE_LOG_WARNING, bi, "%s: the broker lost this client's session; %s",
                 side, is_src ? "messages queued upstream while disconnected are gone"
                              : "unacknowledged publishes are sent again");
        /* wake the pump: the window may have opened */
        pthread_mutex_lock(&bi->mu);
        pthread_cond_signal(&bi->cv);
        pthread_mutex_unlock(&bi->mu);
        break;
    case AIOE_SESSION_DISCONNECTED:
        blog(AIOE_LOG_INFO, bi, "%s disconnected (%s)%s", side, ev->message,
             ev->will_retry ? "; retrying" : "");
        break;
    case AIOE_SESSION_STOPPED:
        if (!atomic_load(is_src ? &bi->stopping_src : &bi->stopping_dst) &&
            ev->status != AIOE_OK) {
            char buf[256];
            aioe_session_last_error(s, buf, sizeof buf);
            set_fatal(bi, TOOL_EXIT_FAILURE, "%s endpoint '%s' stopped for good: %s (%s)",
                      side, aioe_endpoint_name(is_src ? bi->src_ep : bi->dst_ep),
                      aioe_strerror(ev->status), buf[0] ? buf : ev->message);
        }
        break;
    default:
        break;
    }
}

static void on_subscribed(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    sub_filter *f = ud;
    if (status == AIOE_OK)
        blog(AIOE_LOG_INFO, f->bi, "subscribed to %s (granted QoS %d)", f->filter, reason);
    else if (status == AIOE_ERR_STATE || reason < 0x80)
        /* stopped (paused) or disconnected before the SUBACK: the
         * subscription is sent again on the next start or connect */
        blog(AIOE_LOG_INFO, f->bi, "subscription to %s not confirmed yet: %s", f->filter,
             aioe_strerror(status));
    else
        set_fatal(f->bi, TOOL_EXIT_INVALID, "source refused subscription to %s: %s (reason 0x%02x)",
                  f->filter, aioe_strerror(status), reason < 0 ? 0u : (unsigned)reason);
}

static int make_session(bridge_instance *bi, bool src, aioe_session **out, char *err,
                        size_t errlen)
{
    aioe_session_options *o = NULL;
    int rc = aioe_session_options_new(&o);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "%s", aioe_strerror(rc));
        return rc;
    }
    aioe_session_options_set_state_callback(o, on_state, bi);
    aioe_session_options_set_log_callback(o, bi->opts.log_level, on_log, bi);
    if (src)
        aioe_session_options_set_message_callback(o, on_message, bi);
    if (bi->opts.resource_dir)
        aioe_session_options_set_resource_dir(o, bi->opts.resource_dir);
    if (bi->opts.token_file)
        aioe_session_options_set_token_file(o, bi->opts.token_file);
    if (bi->opts.reconnect_max_ms)
        aioe_session_options_set_reconnect_backoff(o, 50, bi->opts.reconnect_max_ms);
    char inst[300];
    /* The source keeps the documented client ID (prefix + instance name),
     * whose broker-side session holds messages while the bridge is down;
     * the destination adds "-dst" so both may use one broker and prefix. */
    snprintf(inst, sizeof inst, "%s%s", bi->name, src ? "" : "-dst");
    rc = aioe_session_new(out, src ? bi->src_ep : bi->dst_ep, inst, o);
    aioe_session_options_free(o);
    if (rc != AIOE_OK)
        snprintf(err, errlen, "%s endpoint '%s': cannot create a session: %s",
                 src ? "source" : "destination",
                 aioe_endpoint_name(src ? bi->src_ep : bi->dst_ep), aioe_strerror(rc));
    return rc;
}

static int start_source(bridge_instance *bi, char *err, size_t errlen)
{
    atomic_store(&bi->stopping_src, false);
    int rc = aioe_session_start(bi->src);
    if (rc != AIOE_OK) {
        char buf[256];
        aioe_session_last_error(bi->src, buf, sizeof buf);
        snprintf(err, errlen, "source endpoint '%s' cannot start: %s (%s)",
                 aioe_endpoint_name(bi->src_ep), aioe_strerror(rc), buf);
        return rc;
    }
    for (size_t i = 0; i < bi->nfilters; i++) {
        /* Retain As Published: live messages keep their RETAIN flag, so
         * the destination's `retain: Keep` can carry it */
        aioe_subscribe_options *so = NULL;
        rc = aioe_subscribe_options_new(&so);
        if (rc == AIOE_OK)
            rc = aioe_subscribe_options_set_qos(so, bi->src_qos);
        if (rc == AIOE_OK)
            rc = aioe_subscribe_options_set_retain_as_published(so, true);
        if (rc == AIOE_OK)
            rc = aioe_session_subscribe_with(bi->src, bi->filters[i]->filter, so,
                                             on_subscribed, bi->filters[i]);
        aioe_subscribe_options_free(so);
        if (rc != AIOE_OK) {
            snprintf(err, errlen, "cannot subscribe to %s: %s", bi->filters[i]->filter,
                     aioe_strerror(rc));
            return rc;
        }
    }
    return AIOE_OK;
}

/* ---- pump ---- */

static void pause_source(bridge_instance *bi, uint64_t bytes)
{
    blog(AIOE_LOG_WARNING, bi, "store holds %" PRIu64 " bytes (high-water mark %" PRIu64
         "): pausing the source; messages wait in the source broker's session", bytes,
         bi->high_bytes);
    atomic_store(&bi->stopping_src, true);
    aioe_session_stop(bi->src, 0);
    atomic_store(&bi->paused, true);
    atomic_fetch_add(&bi->pauses, 1);
}

static void resume_source(bridge_instance *bi, uint64_t bytes)
{
    blog(AIOE_LOG_WARNING, bi, "store down to %" PRIu64 " bytes (low-water mark %" PRIu64
         "): resuming the source", bytes, bi->low_bytes);
    /* a fresh session object: the broker-side session (same client ID,
     * Clean Start 0) still holds the subscription and queued messages */
    aioe_session *old = bi->src;
    aioe_session *n = NULL;
    char err[256];
    if (make_session(bi, true, &n, err, sizeof err) != AIOE_OK) {
        blog(AIOE_LOG_ERROR, bi, "cannot resume: %s", err);
        return;
    }
    bi->src = n;
    aioe_session_free(old);
    if (start_source(bi, err, sizeof err) != AIOE_OK) {
        set_fatal(bi, TOOL_EXIT_FAILURE, "cannot resume the source: %s", err);
        return;
    }
    atomic_store(&bi->paused, false);
}

static void check_water_marks(bridge_instance *bi)
{
    if (!bi->high_bytes)
        return;
    uint64_t bytes = bstore_bytes(bi->store);
    /* src_mu: bi->src is replaced on resume; shutdown must not race that */
    pthread_mutex_lock(&bi->src_mu);
    if (!bi->shutting_down) {
        if (!atomic_load(&bi->paused) && bytes >= bi->high_bytes)
            pause_source(bi, bytes);
        else if (atomic_load(&bi->paused) && bytes <= bi->low_bytes)
            resume_source(bi, bytes);
    }
    pthread_mutex_unlock(&bi->src_mu);
}

/* Pops the queue's head and publishes it with the caller's buffers.
 * Returns 1 when a record was consumed (published, or dropped/kept for a
 * reason already counted), 0 when the queue is empty, -1 when the window
 * is full (the record went back to the head; *no_room_since says whether
 * no completion came meanwhile). */
static int send_next(bridge_instance *bi, unsigned char **buf, size_t *cap,
                     aioe_user_property *props, bool *no_room)
{
    pthread_mutex_lock(&bi->mu);
    if (!bi->ring_len) {
        pthread_mutex_unlock(&bi->mu);
        return 0;
    }
    uint64_t seq = ring_pop_front(bi);
    uint64_t seen = bi->completions;
    bi->ring_busy++;
    pthread_mutex_unlock(&bi->mu);
    bstore_msg m;
    int rc = bstore_read(bi->store, seq, buf, cap, &m, props, PROPS_INLINE, NULL);
    if (rc == 0) {
        rc = publish(bi, &m, seq);
        if (rc != AIOE_OK && rc != AIOE_ERR_WOULD_BLOCK && rc != AIOE_ERR_STATE &&
            rc != AIOE_ERR_NOMEM && rc != AIOE_ERR_CONNECTION) {
            atomic_fetch_add(&bi->dropped_invalid, 1);
            blog(AIOE_LOG_WARNING, bi, "cannot publish to '%s': %s; dropped", m.topic,
                 aioe_strerror(rc));
            bstore_ack(bi->store, seq);
            rc = AIOE_OK;
        }
    } else if (rc == -ENOENT) {
        rc = AIOE_OK; /* already done */
    } else {
        blog(AIOE_LOG_ERROR, bi, "cannot read record %" PRIu64 ": %s; it stays in the "
             "store for the next start", seq, strerror(-rc));
        rc = AIOE_OK;
    }
    pthread_mutex_lock(&bi->mu);
    bi->ring_busy--;
    int ret = 1;
    if (rc != AIOE_OK) {
        ring_push_front(bi, seq);
        *no_room = bi->completions == seen;
        ret = -1;
    }
    pthread_mutex_unlock(&bi->mu);
    return ret;
}

/* On a completion or a new message (Paho threads): send what waits right
 * here while the window has room, instead of waking the pump thread for
 * it. One thread at a time drains (try-lock); the others leave it to that
 * one. */
static void drain_on_completion(bridge_instance *bi)
{
    if (atomic_load(&bi->stopping_dst) || pthread_mutex_trylock(&bi->cb_mu) != 0)
        return;
    bool no_room = false;
    for (int i = 0; i < 4; i++)
        if (send_next(bi, &bi->cbuf, &bi->ccap, bi->cprops, &no_room) <= 0)
            break;
    pthread_mutex_unlock(&bi->cb_mu);
}

static void *pump_main(void *arg)
{
    bridge_instance *bi = arg;
    struct timespec last_flush;
    clock_gettime(CLOCK_MONOTONIC, &last_flush);
    for (;;) {
        bool blocked = true;
        pthread_mutex_lock(&bi->mu);
        bool stop = bi->pump_stop;
        pthread_mutex_unlock(&bi->mu);
        if (!stop) {
            bool no_room = false;
            int r = send_next(bi, &bi->rbuf, &bi->rcap, bi->rprops, &no_room);
            blocked = r == 0 || (r < 0 && no_room);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t since = (now.tv_sec - last_flush.tv_sec) * 1000 +
                        (now.tv_nsec - last_flush.tv_nsec) / 1000000;
        if (since >= 20 || blocked) {
            bstore_flush_acks(bi->store);
            check_water_marks(bi);
            last_flush = now;
        }
        pthread_mutex_lock(&bi->mu);
        if (bi->pump_stop) {
            pthread_mutex_unlock(&bi->mu);
            break;
        }
        if (blocked) {
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
    }
    return NULL;
}

/* ---- lifecycle ---- */

static void replay_cb(uint64_t seq, void *ud)
{
    bridge_instance *bi = ud;
    ring_push_back(bi, seq);
}

int bridge_instance_new(bridge_instance **out, const bridge_options *opts,
                        const aioe_dataflow *df, const aioe_endpoint *src,
                        const aioe_endpoint *dst, unsigned index, unsigned count,
                        char *err, size_t errlen)
{
    *out = NULL;
    atomic_store_explicit(&g_log_level, (int)opts->log_level, memory_order_relaxed);
    bridge_instance *bi = calloc(1, sizeof *bi);
    if (!bi) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&bi->mu, NULL);
    pthread_mutex_init(&bi->cb_mu, NULL);
    pthread_mutex_init(&bi->src_mu, NULL);
    pthread_cond_init(&bi->cv, NULL);
    bi->opts = *opts;
    bi->props = bi->props_inline;
    bi->props_cap = PROPS_INLINE;
    bi->df = aioe_dataflow_ref(df);
    if (transform_step_new(&bi->xf, df, err, errlen) != 0) {
        bridge_instance_free(bi);
        return -1;
    }
    bi->src_ep = aioe_endpoint_ref(src);
    bi->dst_ep = aioe_endpoint_ref(dst);
    snprintf(bi->name, sizeof bi->name, "%s-%u", aioe_dataflow_name(df), index);
    bi->src_qos = aioe_endpoint_qos(src);
    bi->dst_qos = aioe_endpoint_qos(dst);
    bi->retain_keep = aioe_endpoint_retain(dst) == AIOE_RETAIN_KEEP;

    pthread_mutex_lock(&g_instances_mu);
    for (bi->id = 0; bi->id < MAX_INSTANCES && g_instances[bi->id]; bi->id++)
        ;
    if (bi->id < MAX_INSTANCES)
        g_instances[bi->id] = bi;
    pthread_mutex_unlock(&g_instances_mu);
    if (bi->id >= MAX_INSTANCES) {
        snprintf(err, errlen, "too many instances (at most %d)", MAX_INSTANCES);
        bridge_instance_free(bi);
        return -1;
    }

    /* filters: $share/<dataflow>/<filter> when instances share the source */
    size_t nf = aioe_dataflow_source_topic_count(df);
    bi->filters = calloc(nf, sizeof *bi->filters);
    if (!bi->filters) {
        snprintf(err, errlen, "out of memory");
        bridge_instance_free(bi);
        return -1;
    }
    for (size_t i = 0; i < nf; i++) {
        const char *t = aioe_dataflow_source_topic(df, i);
        bool shared = count > 1 && strncmp(t, "$share/", 7) != 0;
        size_t len = strlen(t) + strlen(aioe_dataflow_name(df)) + 16;
        sub_filter *f = malloc(sizeof *f + len);
        if (!f) {
            snprintf(err, errlen, "out of memory");
            bridge_instance_free(bi);
            return -1;
        }
        f->bi = bi;
        if (shared)
            snprintf(f->filter, len, "$share/%s/%s", aioe_dataflow_name(df), t);
        else
            snprintf(f->filter, len, "%s", t);
        bi->filters[bi->nfilters++] = f;
    }

    uint64_t max = opts->max_store_bytes;
    if (max) {
        bi->high_bytes = max / 100 * opts->high_water_pct;
        bi->low_bytes = max / 100 * opts->low_water_pct;
    }
    bstore_config sc = {.segment_bytes = opts->segment_bytes, .fsync = opts->fsync};
    if (!sc.segment_bytes) {
        sc.segment_bytes = UINT64_C(4) << 20;
        if (max && max / 8 < sc.segment_bytes)
            sc.segment_bytes = max / 8 > 4096 ? max / 8 : 4096;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", opts->state_dir, bi->name);
    bstore_replay_info info;
    char serr[512];
    if (bstore_open(&bi->store, dir, &sc, replay_cb, bi, &info, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "%s", serr);
        bridge_instance_free(bi);
        return -1;
    }
    atomic_store(&bi->duplicates, info.undone);
    if (info.records || info.torn_tails)
        blog(AIOE_LOG_INFO, bi, "store %s: %" PRIu64 " records found, %" PRIu64
             " not yet acknowledged by the destination (sent again, counted as suspected "
             "duplicates), %" PRIu64 " torn tail(s) ignored", dir, info.records,
             info.undone, info.torn_tails);

    if (make_session(bi, true, &bi->src, err, errlen) != AIOE_OK ||
        make_session(bi, false, &bi->dst, err, errlen) != AIOE_OK) {
        bridge_instance_free(bi);
        return -1;
    }
    *out = bi;
    return 0;
}

int bridge_instance_start(bridge_instance *bi, char *err, size_t errlen)
{
    int rc = aioe_session_start(bi->dst);
    if (rc != AIOE_OK) {
        char buf[256];
        aioe_session_last_error(bi->dst, buf, sizeof buf);
        snprintf(err, errlen, "destination endpoint '%s' cannot start: %s (%s)",
                 aioe_endpoint_name(bi->dst_ep), aioe_strerror(rc), buf);
        return rc;
    }
    if (pthread_create(&bi->pump, NULL, pump_main, bi) != 0) {
        snprintf(err, errlen, "cannot start the pump thread");
        return -1;
    }
    bi->pump_started = true;
    pthread_mutex_lock(&bi->src_mu);
    rc = start_source(bi, err, errlen);
    pthread_mutex_unlock(&bi->src_mu);
    return rc;
}

void bridge_instance_stop_source(bridge_instance *bi)
{
    if (!bi)
        return;
    pthread_mutex_lock(&bi->src_mu);
    bi->shutting_down = true;
    atomic_store(&bi->stopping_src, true);
    if (bi->src && aioe_session_get_state(bi->src) != AIOE_SESSION_IDLE)
        aioe_session_stop(bi->src, 1000);
    pthread_mutex_unlock(&bi->src_mu);
}

bool bridge_instance_drained(bridge_instance *bi)
{
    pthread_mutex_lock(&bi->mu);
    bool idle = bi->ring_len == 0 && bi->ring_busy == 0;
    pthread_mutex_unlock(&bi->mu);
    return idle && aioe_session_publish_outstanding(bi->dst) == 0;
}

int bridge_instance_fatal(bridge_instance *bi, char *why, size_t len)
{
    int f = atomic_load(&bi->fatal);
    if (f && why) {
        pthread_mutex_lock(&bi->mu);
        snprintf(why, len, "%s", bi->fatal_why);
        pthread_mutex_unlock(&bi->mu);
    }
    return f;
}

void bridge_instance_free(bridge_instance *bi)
{
    if (!bi)
        return;
    pthread_mutex_lock(&bi->src_mu);
    bi->shutting_down = true;
    if (bi->src) {
        atomic_store(&bi->stopping_src, true);
        aioe_session_free(bi->src);
        bi->src = NULL;
    }
    pthread_mutex_unlock(&bi->src_mu);
    if (bi->pump_started) {
        pthread_mutex_lock(&bi->mu);
        bi->pump_stop = true;
        pthread_cond_signal(&bi->cv);
        pthread_mutex_unlock(&bi->mu);
        pthread_join(bi->pump, NULL);
    }
    if (bi->dst) {
        atomic_store(&bi->stopping_dst, true);
        if (aioe_session_get_state(bi->dst) != AIOE_SESSION_IDLE)
            aioe_session_stop(bi->dst, 2000);
        aioe_session_free(bi->dst);
        bi->dst = NULL;
    }
    bstore_close(bi->store);
    pthread_mutex_lock(&g_instances_mu);
    if (bi->id < MAX_INSTANCES && g_instances[bi->id] == bi)
        g_instances[bi->id] = NULL;
    pthread_mutex_unlock(&g_instances_mu);
    for (size_t i = 0; i < bi->nfilters; i++)
        free(bi->filters[i]);
    free(bi->filters);
    if (bi->props != bi->props_inline)
        free(bi->props);
    free(bi->ring);
    free(bi->rbuf);
    free(bi->cbuf);
    pthread_mutex_destroy(&bi->cb_mu);
    pthread_mutex_destroy(&bi->src_mu);
    transform_step_free(bi->xf);
    aioe_dataflow_unref(bi->df);
    aioe_endpoint_unref(bi->src_ep);
    aioe_endpoint_unref(bi->dst_ep);
    pthread_cond_destroy(&bi->cv);
    pthread_mutex_destroy(&bi->mu);
    free(bi);
}

const char *bridge_instance_name(const bridge_instance *bi)
{
    return bi->name;
}

void bridge_instance_stats(bridge_instance *bi, bridge_stats *o)
{
    memset(o, 0, sizeof *o);
    o->received = atomic_load(&bi->received);
    o->stored = atomic_load(&bi->stored);
    o->forwarded = atomic_load(&bi->forwarded);
    o->dropped_unresolved = atomic_load(&bi->dropped_unresolved);
    o->dropped_rejected = atomic_load(&bi->dropped_rejected);
    o->dropped_invalid = atomic_load(&bi->dropped_invalid);
    o->dropped_qos0 = atomic_load(&bi->dropped_qos0);
    if (bi->xf) {
        transform_step_stats x;
        transform_step_stats_get(bi->xf, &x);
        o->dropped_filtered = x.filtered;
        o->transform_incomplete = x.incomplete;
        o->transform_eval_errors = x.eval_errors;
    }
    o->dropped_untransformable = atomic_load(&bi->dropped_untransformable);
    o->duplicates_suspected = atomic_load(&bi->duplicates);
    o->store_errors = atomic_load(&bi->store_errors);
    o->reconnects_source = atomic_load(&bi->reconnects_src);
    o->reconnects_destination = atomic_load(&bi->reconnects_dst);
    o->pauses = atomic_load(&bi->pauses);
    o->over_limit = atomic_load(&bi->over_limit);
    o->in_flight = bi->dst ? aioe_session_publish_outstanding(bi->dst) : 0;
    pthread_mutex_lock(&bi->mu);
    o->queued = bi->ring_len;
    pthread_mutex_unlock(&bi->mu);
    o->store_bytes = bstore_bytes(bi->store);
    o->store_undone = bstore_undone(bi->store);
    o->paused = atomic_load(&bi->paused);
}

void bridge_stats_add(bridge_stats *a, const bridge_stats *b)
{
    a->received += b->received;
    a->stored += b->stored;
    a->forwarded += b->forwarded;
    a->dropped_unresolved += b->dropped_unresolved;
    a->dropped_rejected += b->dropped_rejected;
    a->dropped_invalid += b->dropped_invalid;
    a->dropped_qos0 += b->dropped_qos0;
    a->dropped_filtered += b->dropped_filtered;
    a->dropped_untransformable += b->dropped_untransformable;
    a->transform_incomplete += b->transform_incomplete;
    a->transform_eval_errors += b->transform_eval_errors;
    a->duplicates_suspected += b->duplicates_suspected;
    a->store_errors += b->store_errors;
    a->reconnects_source += b->reconnects_source;
    a->reconnects_destination += b->reconnects_destination;
    a->pauses += b->pauses;
    a->over_limit += b->over_limit;
    a->in_flight += b->in_flight;
    a->queued += b->queued;
    a->store_bytes += b->store_bytes;
    a->store_undone += b->store_undone;
    a->paused = a->paused || b->paused;
}

void bridge_stats_print(FILE *to, const char *label, const bridge_stats *s)
{
    fprintf(to,
            "aioe-bridge: stats %s received=%" PRIu64 " stored=%" PRIu64
            " forwarded=%" PRIu64 " dropped_unresolved=%" PRIu64
            " dropped_rejected=%" PRIu64 " dropped_invalid=%" PRIu64
            " dropped_qos0=%" PRIu64 " duplicates_suspected=%" PRIu64
            " store_errors=%" PRIu64 " reconnects_source=%" PRIu64
            " reconnects_destination=%" PRIu64 " pauses=%" PRIu64 " over_limit=%" PRIu64
            " in_flight=%" PRIu64 " queued=%" PRIu64 " store_bytes=%" PRIu64
            " store_undone=%" PRIu64 " paused=%d dropped_filtered=%" PRIu64
            " dropped_untransformable=%" PRIu64 " transform_incomplete=%" PRIu64
            " transform_eval_errors=%" PRIu64 "\n",
            label, s->received, s->stored, s->forwarded, s->dropped_unresolved,
            s->dropped_rejected, s->dropped_invalid, s->dropped_qos0,
            s->duplicates_suspected, s->store_errors, s->reconnects_source,
            s->reconnects_destination, s->pauses, s->over_limit, s->in_flight, s->queued,
            s->store_bytes, s->store_undone, s->paused ? 1 : 0, s->dropped_filtered,
            s->dropped_untransformable, s->transform_incomplete, s->transform_eval_errors);
}
