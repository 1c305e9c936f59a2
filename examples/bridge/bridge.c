/* aioe-bridge runtime (see bridge.h and docs/bridge.md): one instance =
 * one source session with a durable inbox (<aioendpoint/inbox.h>, which
 * stores every message before the source broker gets its PUBACK and pauses
 * the source at the high-water mark), one destination session, and the
 * pump thread of bridge_pump.c that moves messages from the inbox to the
 * destination and acknowledges them in the inbox once delivered. This
 * file: sessions, lifecycle and counters. */
#include "../common/tool.h"
#include "bridge_internal.h"
#include "bridge_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bridge_instance *g_bridge_instances[MAX_INSTANCES];
static pthread_mutex_t g_instances_mu = PTHREAD_MUTEX_INITIALIZER;
/* set when an instance is made, read by every thread that logs */
static atomic_int g_log_level = AIOE_LOG_INFO;

void blog(aioe_log_level lvl, const bridge_instance *bi, const char *fmt, ...)
{
    if ((int)lvl > atomic_load_explicit(&g_log_level, memory_order_relaxed))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    bridge_log_line(lvl, bi ? bi->name : NULL, line);
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
        atomic_store(is_src ? &bi->src_up : &bi->dst_up, true);
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
        atomic_store(is_src ? &bi->src_up : &bi->dst_up, false);
        blog(AIOE_LOG_INFO, bi, "%s disconnected (%s)%s", side, ev->message,
             ev->will_retry ? "; retrying" : "");
        break;
    case AIOE_SESSION_STOPPED:
        atomic_store(is_src ? &bi->src_up : &bi->dst_up, false);
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

/* ---- lifecycle ---- */

/* The durable store is the source session's inbox, in
 * <state-dir>/<instance name>. It pauses the source at the high-water mark
 * and resumes it at the low-water mark (bytes of unacknowledged records). */
static int open_inbox(bridge_instance *bi, char *err, size_t errlen)
{
    const bridge_options *opts = &bi->opts;
    aioe_inbox_options *o = NULL;
    int rc = aioe_inbox_options_new(&o);
    uint64_t max = opts->max_store_bytes;
    uint64_t seg = opts->segment_bytes;
    if (!seg) {
        seg = UINT64_C(4) << 20;
        if (max && max / 8 < seg)
            seg = max / 8 > 4096 ? max / 8 : 4096;
    }
    if (rc == AIOE_OK)
        rc = aioe_inbox_options_set_durability(o, opts->fsync ? AIOE_INBOX_SURVIVE_POWER_LOSS
                                                              : AIOE_INBOX_SURVIVE_PROCESS_CRASH);
    if (rc == AIOE_OK)
        rc = aioe_inbox_options_set_segment_bytes(o, seg);
    /* the watermarks bound the store; no hard byte limit, so that what
     * arrives before a pause takes effect is always stored (docs/inbox.md) */
    if (rc == AIOE_OK && max)
        rc = aioe_inbox_options_set_watermarks(o, 0, 0, max / 100 * opts->high_water_pct,
                                               max / 100 * opts->low_water_pct);
    else if (rc == AIOE_OK)
        rc = aioe_inbox_options_set_watermarks(o, 0, 0, 0, 0);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", opts->state_dir, bi->name);
    if (rc == AIOE_OK)
        rc = aioe_inbox_new(&bi->inbox, bi->src, dir, o);
    aioe_inbox_options_free(o);
    if (rc != AIOE_OK) {
        char buf[256] = "";
        aioe_session_last_error(bi->src, buf, sizeof buf);
        snprintf(err, errlen, "store %s: %s%s%s", dir, aioe_strerror(rc), buf[0] ? ": " : "",
                 buf);
        return -1;
    }
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    aioe_inbox_get_stats(bi->inbox, &st);
    if (st.recovered)
        blog(AIOE_LOG_INFO, bi, "store %s: %" PRIu64 " not yet acknowledged by the "
             "destination (sent again, counted as suspected duplicates)", dir,
             st.recovered);
    return 0;
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
    pthread_cond_init(&bi->cv, NULL);
    bi->opts = *opts;
    bi->free_slot = SIZE_MAX;
    bi->df = aioe_dataflow_ref(df);
    bi->src_ep = aioe_endpoint_ref(src);
    bi->dst_ep = aioe_endpoint_ref(dst);
    snprintf(bi->name, sizeof bi->name, "%s-%u", aioe_dataflow_name(df), index);
    bi->index = index;
    bi->count = count;
    bi->src_qos = aioe_endpoint_qos(src);
    bi->dst_qos = aioe_endpoint_qos(dst);
    bi->retain_keep = aioe_endpoint_retain(dst) == AIOE_RETAIN_KEEP;

    pthread_mutex_lock(&g_instances_mu);
    for (bi->id = 0; bi->id < MAX_INSTANCES && g_bridge_instances[bi->id]; bi->id++)
        ;
    if (bi->id < MAX_INSTANCES)
        g_bridge_instances[bi->id] = bi;
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

    if (make_session(bi, true, &bi->src, err, errlen) != AIOE_OK ||
        make_session(bi, false, &bi->dst, err, errlen) != AIOE_OK) {
        bridge_instance_free(bi);
        return -1;
    }
    if (transform_step_new(&bi->xf, df, err, errlen) != 0 || open_inbox(bi, err, errlen) != 0) {
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
    if (pthread_create(&bi->pump, NULL, bridge_pump_main, bi) != 0) {
        snprintf(err, errlen, "cannot start the pump thread");
        return -1;
    }
    bi->pump_started = true;
    return start_source(bi, err, errlen);
}

void bridge_instance_stop_source(bridge_instance *bi)
{
    if (!bi)
        return;
    atomic_store(&bi->stopping_src, true);
    if (bi->src && aioe_session_get_state(bi->src) != AIOE_SESSION_IDLE)
        aioe_session_stop(bi->src, 1000);
}

bool bridge_instance_drained(bridge_instance *bi)
{
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    aioe_inbox_get_stats(bi->inbox, &st);
    pthread_mutex_lock(&bi->mu);
    bool idle = bi->retry_len == 0 && bi->busy == 0;
    pthread_mutex_unlock(&bi->mu);
    return idle && st.waiting == 0 && aioe_session_publish_outstanding(bi->dst) == 0;
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
    if (bi->src) {
        atomic_store(&bi->stopping_src, true);
        /* unconditionally: a session just started may still report IDLE
         * (AIOE_ERR_STATE when it never started is harmless) */
        aioe_session_stop(bi->src, 1000);
    }
    if (bi->pump_started) {
        pthread_mutex_lock(&bi->mu);
        bi->pump_stop = true;
        pthread_cond_signal(&bi->cv);
        pthread_mutex_unlock(&bi->mu);
        pthread_join(bi->pump, NULL);
    }
    if (bi->dst) {
        atomic_store(&bi->stopping_dst, true);
        aioe_session_stop(bi->dst, 2000); /* completions after this fail with STATE */
        aioe_session_free(bi->dst);
        bi->dst = NULL;
    }
    bridge_pump_free_slots(bi);
    aioe_inbox_free(bi->inbox); /* the source is stopped: writes buffered acks */
    transform_step_free(bi->xf);
    free(bi->tprops);
    aioe_session_free(bi->src);
    pthread_mutex_lock(&g_instances_mu);
    if (bi->id < MAX_INSTANCES && g_bridge_instances[bi->id] == bi)
        g_bridge_instances[bi->id] = NULL;
    pthread_mutex_unlock(&g_instances_mu);
    for (size_t i = 0; i < bi->nfilters; i++)
        free(bi->filters[i]);
    free(bi->filters);
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

const char *bridge_instance_dataflow_name(const bridge_instance *bi)
{
    return aioe_dataflow_name(bi->df);
}

unsigned bridge_instance_index(const bridge_instance *bi)
{
    return bi->index;
}

const aioe_dataflow *bridge_instance_dataflow(const bridge_instance *bi)
{
    return bi->df;
}

const aioe_endpoint *bridge_instance_endpoint(const bridge_instance *bi, bool source)
{
    return source ? bi->src_ep : bi->dst_ep;
}

unsigned bridge_instance_count(const bridge_instance *bi)
{
    return bi->count;
}

bool bridge_instance_connected(bridge_instance *bi)
{
    return atomic_load(&bi->src_up) && atomic_load(&bi->dst_up);
}

aioe_session *bridge_instance_session(bridge_instance *bi, bool source)
{
    return source ? bi->src : bi->dst;
}

void bridge_instance_latency(bridge_instance *bi, bridge_latency *out)
{
    for (size_t k = 0; k <= BRIDGE_LATENCY_BOUNDS; k++)
        out->bucket[k] = atomic_load_explicit(&bi->latency[k], memory_order_relaxed);
    out->sum_us = atomic_load_explicit(&bi->latency_sum_us, memory_order_relaxed);
}

void bridge_instance_stats(bridge_instance *bi, bridge_stats *o)
{
    memset(o, 0, sizeof *o);
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    aioe_inbox_get_stats(bi->inbox, &st);
    o->received = atomic_load(&bi->received);
    o->stored = st.stored;
    o->forwarded = atomic_load(&bi->forwarded);
    o->dropped_unresolved = atomic_load(&bi->dropped_unresolved);
    o->dropped_rejected = atomic_load(&bi->dropped_rejected);
    o->dropped_invalid = atomic_load(&bi->dropped_invalid);
    o->dropped_qos0 = atomic_load(&bi->dropped_qos0);
    o->duplicates_suspected = atomic_load(&bi->duplicates);
    o->store_errors = st.append_failures;
    o->reconnects_source = atomic_load(&bi->reconnects_src);
    o->reconnects_destination = atomic_load(&bi->reconnects_dst);
    o->pauses = atomic_load(&bi->pauses);
    o->over_limit = bi->opts.max_store_bytes && st.unacknowledged_bytes > bi->opts.max_store_bytes;
    o->in_flight = bi->dst ? aioe_session_publish_outstanding(bi->dst) : 0;
    pthread_mutex_lock(&bi->mu);
    o->queued = st.waiting + bi->retry_len;
    pthread_mutex_unlock(&bi->mu);
    o->store_bytes = st.unacknowledged_bytes;
    o->store_undone = st.unacknowledged;
    o->store_lost = st.records_lost;
    o->paused = st.paused;
    o->source_connected = atomic_load(&bi->src_up);
    o->destination_connected = atomic_load(&bi->dst_up);
    if (bi->xf) {
        transform_step_stats x;
        transform_step_stats_get(bi->xf, &x);
        o->dropped_filtered = x.filtered;
        o->transform_incomplete = x.incomplete;
        o->transform_eval_errors = x.eval_errors;
    }
    o->dropped_untransformable = atomic_load(&bi->dropped_untransformable);
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
    a->store_lost += b->store_lost;
    a->dropped_filtered += b->dropped_filtered;
    a->dropped_untransformable += b->dropped_untransformable;
    a->transform_incomplete += b->transform_incomplete;
    a->transform_eval_errors += b->transform_eval_errors;
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
            " store_undone=%" PRIu64 " store_lost=%" PRIu64 " paused=%d dropped_filtered=%" PRIu64
            " dropped_untransformable=%" PRIu64 " transform_incomplete=%" PRIu64
            " transform_eval_errors=%" PRIu64 "\n",
            label, s->received, s->stored, s->forwarded, s->dropped_unresolved,
            s->dropped_rejected, s->dropped_invalid, s->dropped_qos0,
            s->duplicates_suspected, s->store_errors, s->reconnects_source,
            s->reconnects_destination, s->pauses, s->over_limit, s->in_flight, s->queued,
            s->store_bytes, s->store_undone, s->store_lost, s->paused ? 1 : 0,
            s->dropped_filtered, s->dropped_untransformable, s->transform_incomplete,
            s->transform_eval_errors);
}
