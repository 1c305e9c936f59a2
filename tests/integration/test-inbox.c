/* The durable inbox (<aioendpoint/inbox.h>) against real mosquitto brokers.
 *
 * - out_of_order_ack_and_redelivery: 10 messages, the odd ones
 *   acknowledged in reverse order; after a restart (same client ID, same
 *   directory) exactly the 5 others come back, marked redelivered
 * - two_sessions_one_paused: one inbox is never drained and pauses its
 *   session at the high-water mark (the broker keeps the messages) while
 *   a second session in the same process receives its whole stream; the
 *   first resumes at the low-water mark once drained: nothing lost
 * - byte_limit_back_pressure: an inbox with a small byte limit and
 *   nobody consuming: the session pauses with `full` (byte limit) and a
 *   clear log line; consuming afterwards gets every message
 * - batched_wakeups: with a 1 s batch delay, a burst of 640 messages wakes
 *   the consumer at most once per 64 messages (plus the first), every
 *   message in order; after the stream ends a lone message wakes the
 *   consumer at once (one wake-up, not a timed nap)
 * - sigkill_consumer_loses_nothing: `aioe-sub --inbox` (AIOE_SUB) is
 *   SIGKILLed four times while a QoS 1 stream arrives and restarted: every
 *   message is printed at least once (duplicates only for messages printed
 *   but not yet acknowledged when the process died)
 * Every wait is on a condition with a deadline. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "session-fixture.h"

#define LONG_WAIT_MS 30000

static broker *start_broker(int max_inflight)
{
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.max_inflight_messages = max_inflight;
    cfg.log_types = "error warning notice";
    broker *b = NULL;
    assert_int_equal(broker_start(&cfg, &b), 0);
    return b;
}

static aioe_parse_result *endpoint_for(broker *b)
{
    return fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF
                       "    sessionExpirySeconds: 600\n", broker_port(b, 0));
}

static aioe_session *new_session(const aioe_endpoint *ep, recorder *r, const char *instance)
{
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_reconnect_backoff(o, 128, 1000);
    aioe_session_options_set_connect_timeout(o, 5000);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, ep, instance, o), AIOE_OK);
    aioe_session_options_free(o);
    return s;
}

static void subscribe(aioe_session *s, recorder *r, const char *filter)
{
    size_t before = r->sub_done;
    assert_int_equal(aioe_session_subscribe(s, filter, 1, fx_on_subscribed, r), AIOE_OK);
    size_t want = before + 1;
    assert_true(fx_wait(r, pred_sub_done, &want, WAIT_MS));
    assert_int_equal(r->last_sub_status, AIOE_OK);
}

static void publish_range(broker *b, const char *topic, unsigned from, unsigned to)
{
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    char *id = harness_unique("pub");
    co.client_id = id;
    size_t n = to - from;
    harness_pub *msgs = calloc(n, sizeof *msgs);
    char (*payloads)[32] = calloc(n, 32);
    assert_true(msgs && payloads);
    for (size_t i = 0; i < n; i++) {
        snprintf(payloads[i], 32, "%u", (unsigned)(from + i));
        msgs[i].topic = topic;
        msgs[i].payload = payloads[i];
        msgs[i].payload_len = strlen(payloads[i]);
        msgs[i].qos = 1;
    }
    assert_int_equal(harness_publish_opts(&co, msgs, n), 0);
    free(msgs);
    free(payloads);
    free(id);
}

static long payload_number(const aioe_message *m)
{
    size_t n;
    const char *p = aioe_message_payload(m, &n);
    char buf[32];
    assert_true(n > 0 && n < sizeof buf);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* Takes messages until count distinct numbers (< MAX_SEQ) were seen or the
 * deadline passes; acknowledges each. Returns how many distinct. */
static size_t drain(aioe_inbox *ib, unsigned char *seen, size_t count, int timeout_ms)
{
    int64_t end = harness_now_ms() + timeout_ms;
    size_t distinct = 0;
    for (size_t i = 0; i < MAX_SEQ; i++)
        distinct += seen[i];
    while (distinct < count && harness_now_ms() < end) {
        aioe_message *m = NULL;
        int rc = aioe_inbox_next(ib, 100, &m);
        if (rc == AIOE_ERR_TIMEOUT)
            continue;
        assert_int_equal(rc, AIOE_OK);
        long v = payload_number(m);
        assert_true(v >= 0 && v < MAX_SEQ);
        if (!seen[v]) {
            seen[v] = 1;
            distinct++;
        }
        assert_int_equal(aioe_inbox_ack(ib, aioe_inbox_message_id(m)), AIOE_OK);
        aioe_message_free(m);
    }
    return distinct;
}

static void out_of_order_ack_and_redelivery(void **state)
{
    (void)state;
    broker *b = start_broker(0);
    aioe_parse_result *res = endpoint_for(b);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char *inst = harness_unique("inbox-ooo");
    char *dir = harness_path("inbox-ooo");
    recorder *r = recorder_new();
    aioe_session *s = new_session(ep, r, inst);
    aioe_inbox *ib = NULL;
    assert_int_equal(aioe_inbox_new(&ib, s, dir, NULL), AIOE_OK);
    aioe_inbox *twice = NULL;
    assert_int_equal(aioe_inbox_new(&twice, s, dir, NULL), AIOE_ERR_STATE);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    subscribe(s, r, "ooo/#");
    publish_range(b, "ooo/x", 0, 10);

    uint64_t ids[10];
    for (int i = 0; i < 10; i++) {
        aioe_message *m = NULL;
        assert_int_equal(aioe_inbox_next(ib, WAIT_MS, &m), AIOE_OK);
        assert_int_equal(payload_number(m), i);
        assert_false(aioe_inbox_message_redelivered(m));
        assert_int_equal(aioe_message_qos(m), 1);
        size_t tl;
        const char *t = aioe_message_topic(m, &tl);
        assert_int_equal(tl, 5);
        assert_memory_equal(t, "ooo/x", 5);
        ids[i] = aioe_inbox_message_id(m);
        assert_true(ids[i] != 0);
        aioe_message_free(m);
    }
    for (int i = 9; i >= 1; i -= 2) /* 9, 7, 5, 3, 1 */
        assert_int_equal(aioe_inbox_ack(ib, ids[i]), AIOE_OK);
    assert_int_equal(aioe_inbox_ack(ib, ids[9]), AIOE_ERR_NOT_FOUND);
    aioe_message *none = NULL;
    assert_int_equal(aioe_inbox_next(ib, 50, &none), AIOE_ERR_TIMEOUT);
    assert_int_equal(aioe_session_stop(s, 2000), AIOE_OK);
    aioe_inbox_free(ib);
    aioe_session_free(s);

    /* restart: same client ID, same directory */
    s = new_session(ep, r, inst);
    assert_int_equal(aioe_inbox_new(&ib, s, dir, NULL), AIOE_OK);
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_int_equal(st.recovered, 5);
    assert_int_equal(st.waiting, 5);
    for (int i = 0; i < 10; i += 2) {
        aioe_message *m = NULL;
        assert_int_equal(aioe_inbox_next(ib, WAIT_MS, &m), AIOE_OK);
        assert_int_equal(payload_number(m), i);
        assert_true(aioe_inbox_message_redelivered(m));
        assert_true(aioe_inbox_message_id(m) == ids[i]);
        /* a copy keeps the inbox id */
        aioe_message *c = NULL;
        assert_int_equal(aioe_message_copy(m, &c), AIOE_OK);
        assert_true(aioe_inbox_message_id(c) == ids[i]);
        aioe_message_free(c);
        assert_int_equal(aioe_inbox_ack(ib, aioe_inbox_message_id(m)), AIOE_OK);
        aioe_message_free(m);
    }
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    publish_range(b, "ooo/y", 10, 11);
    aioe_message *m = NULL;
    assert_int_equal(aioe_inbox_next(ib, WAIT_MS, &m), AIOE_OK);
    assert_int_equal(payload_number(m), 10);
    assert_false(aioe_inbox_message_redelivered(m));
    assert_int_equal(aioe_inbox_ack(ib, aioe_inbox_message_id(m)), AIOE_OK);
    aioe_message_free(m);
    assert_int_equal(aioe_inbox_next(ib, 50, &m), AIOE_ERR_TIMEOUT);
    assert_int_equal(aioe_session_stop(s, 2000), AIOE_OK);
    aioe_inbox_free(ib);
    aioe_session_free(s);
    recorder_free(r);
    free(dir);
    free(inst);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* A consumer thread taking `count` messages in order (payloads from..),
 * acknowledging each; `calling` is set just before its first
 * aioe_inbox_next(), so a publisher started after that finds it waiting. */
typedef struct taker {
    aioe_inbox *ib;
    long from, count;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool calling;
    int rc;
    long bad;                   /* first out-of-order payload, or -1 */
} taker;

static void *take_in_order(void *arg)
{
    taker *t = arg;
    pthread_mutex_lock(&t->mu);
    t->calling = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    t->bad = -1;
    for (long i = 0; i < t->count; i++) {
        aioe_message *m = NULL;
        t->rc = aioe_inbox_next(t->ib, LONG_WAIT_MS, &m);
        if (t->rc != AIOE_OK)
            return NULL;
        if (payload_number(m) != t->from + i && t->bad < 0)
            t->bad = payload_number(m);
        t->rc = aioe_inbox_ack(t->ib, aioe_inbox_message_id(m));
        aioe_message_free(m);
        if (t->rc != AIOE_OK)
            return NULL;
    }
    return NULL;
}

/* Starts a taker, waits until it is about to wait in aioe_inbox_next(),
 * publishes [from, from + count) (a new client: connect, then publish, so
 * the taker waits before the first message arrives), joins it. */
static void take_while_publishing(broker *b, aioe_inbox *ib, long from, long count)
{
    taker t = { .ib = ib, .from = from, .count = count };
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, take_in_order, &t), 0);
    pthread_mutex_lock(&t.mu);
    while (!t.calling)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    publish_range(b, "batch/x", (unsigned)from, (unsigned)(from + count));
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
    assert_int_equal(t.rc, AIOE_OK);
    assert_int_equal(t.bad, -1);
}

static void batched_wakeups(void **state)
{
    (void)state;
    broker *b = start_broker(0);
    aioe_parse_result *res = endpoint_for(b);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char *inst = harness_unique("inbox-batch");
    char *dir = harness_path("inbox-batch");
    recorder *r = recorder_new();
    aioe_session *s = new_session(ep, r, inst);
    aioe_inbox_options *o = NULL;
    assert_int_equal(aioe_inbox_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_inbox_options_set_batch_delay(o, 1000001), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_inbox_options_set_batch_delay(o, 1000000), AIOE_OK);
    aioe_inbox *ib = NULL;
    assert_int_equal(aioe_inbox_new(&ib, s, dir, o), AIOE_OK);
    aioe_inbox_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    subscribe(s, r, "batch/#");

    enum { BURST = 640 };
    take_while_publishing(b, ib, 0, BURST);
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_int_equal(st.version, 2);
    /* 1 for the first message (the consumer waited for it), 1 per 64
     * queued while napping; a few more only if the burst itself paused
     * for a whole second */
    assert_in_range(st.consumer_wakeups, 1, 1 + BURST / 64 + 4);

    /* the stream is over: the next wait naps 1 s, finds nothing, and waits
     * to its deadline; then a lone message is signalled, not napped on */
    aioe_message *m = NULL;
    assert_int_equal(aioe_inbox_next(ib, 1500, &m), AIOE_ERR_TIMEOUT);
    uint64_t before = st.consumer_wakeups;
    take_while_publishing(b, ib, BURST, 1);
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_int_equal(st.consumer_wakeups, before + 1);
    /* a caller built for version 1 gets version 1 and nothing beyond */
    aioe_inbox_stats v1 = { .version = 1, .consumer_wakeups = 12345 };
    assert_int_equal(aioe_inbox_get_stats(ib, &v1), AIOE_OK);
    assert_int_equal(v1.version, 1);
    assert_int_equal(v1.consumer_wakeups, 12345);

    assert_int_equal(aioe_session_stop(s, 2000), AIOE_OK);
    aioe_inbox_free(ib);
    aioe_session_free(s);
    recorder_free(r);
    free(dir);
    free(inst);
    aioe_parse_result_free(res);
    broker_free(b);
}

static bool paused_pred(recorder *r, const void *arg)
{
    (void)r;
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    aioe_inbox_get_stats((aioe_inbox *)arg, &st);
    return st.paused;
}

typedef struct pub_job {
    broker *b;
    const char *topic;
    unsigned from, to;
} pub_job;

static void *publisher(void *arg)
{
    pub_job *j = arg;
    harness_client_opts co;
    harness_client_opts_for(j->b, 0, &co);
    char *id = harness_unique("pubt");
    co.client_id = id;
    size_t n = j->to - j->from;
    harness_pub *msgs = calloc(n, sizeof *msgs);
    char (*payloads)[32] = calloc(n, 32);
    int rc = -1;
    if (msgs && payloads) {
        for (size_t i = 0; i < n; i++) {
            snprintf(payloads[i], 32, "%u", (unsigned)(j->from + i));
            msgs[i] = (harness_pub){ .topic = j->topic, .payload = payloads[i],
                                     .payload_len = strlen(payloads[i]), .qos = 1 };
        }
        rc = harness_publish_opts(&co, msgs, n);
    }
    free(msgs);
    free(payloads);
    free(id);
    return (void *)(intptr_t)rc;
}

static void two_sessions_one_paused(void **state)
{
    (void)state;
    broker *b = start_broker(0);
    aioe_parse_result *res = endpoint_for(b);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char *i1 = harness_unique("slow"), *i2 = harness_unique("fast");
    char *d1 = harness_path("inbox-slow"), *d2 = harness_path("inbox-fast");
    recorder *r1 = recorder_new(), *r2 = recorder_new();
    aioe_session *s1 = new_session(ep, r1, i1), *s2 = new_session(ep, r2, i2);
    aioe_inbox_options *o = NULL;
    assert_int_equal(aioe_inbox_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_inbox_options_set_watermarks(o, 100, 10, 0, 0), AIOE_OK);
    aioe_inbox *ib1 = NULL, *ib2 = NULL;
    assert_int_equal(aioe_inbox_new(&ib1, s1, d1, o), AIOE_OK);
    assert_int_equal(aioe_inbox_new(&ib2, s2, d2, NULL), AIOE_OK);
    aioe_inbox_options_free(o);
    assert_int_equal(aioe_session_start(s1), AIOE_OK);
    assert_int_equal(aioe_session_start(s2), AIOE_OK);
    assert_true(fx_wait_state(r1, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    assert_true(fx_wait_state(r2, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    subscribe(s1, r1, "slow/#");
    subscribe(s2, r2, "fast/#");

    /* the slow inbox is not drained: it pauses its session */
    publish_range(b, "slow/a", 0, 1000);
    assert_true(fx_wait(r1, paused_pred, ib1, WAIT_MS));
    /* meanwhile the other session gets its whole stream */
    pub_job job = { b, "fast/b", 0, 5000 };
    pthread_t t;
    int64_t t0 = harness_now_ms();
    assert_int_equal(pthread_create(&t, NULL, publisher, &job), 0);
    unsigned char *seen2 = calloc(MAX_SEQ, 1);
    assert_int_equal(drain(ib2, seen2, 5000, LONG_WAIT_MS), 5000);
    int64_t t1 = harness_now_ms();
    void *prc;
    pthread_join(t, &prc);
    assert_null(prc);
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    assert_int_equal(aioe_inbox_get_stats(ib1, &st), AIOE_OK);
    assert_true(st.paused); /* still paused all along */
    assert_true(st.unacknowledged >= 100 && st.unacknowledged < 1000);
    print_message("two sessions: fast session 5000 messages in %lld ms while the slow one "
                  "was paused with %llu unacknowledged\n",
                  (long long)(t1 - t0), (unsigned long long)st.unacknowledged);
    /* draining the slow one resumes it; every message arrives */
    unsigned char *seen1 = calloc(MAX_SEQ, 1);
    assert_int_equal(drain(ib1, seen1, 1000, LONG_WAIT_MS), 1000);
    assert_int_equal(aioe_inbox_get_stats(ib1, &st), AIOE_OK);
    assert_false(st.paused);
    assert_int_equal(st.append_failures, 0);
    assert_true(fx_log_lacks(r1, "cannot store"));

    aioe_session_stop(s1, 2000);
    aioe_session_stop(s2, 2000);
    aioe_inbox_free(ib1);
    aioe_inbox_free(ib2);
    aioe_session_free(s1);
    aioe_session_free(s2);
    recorder_free(r1);
    recorder_free(r2);
    free(seen1);
    free(seen2);
    free(i1);
    free(i2);
    free(d1);
    free(d2);
    aioe_parse_result_free(res);
    broker_free(b);
}

static bool full_pred(recorder *r, const void *arg)
{
    (void)r;
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    aioe_inbox_get_stats((aioe_inbox *)arg, &st);
    return st.paused && st.full;
}

static void byte_limit_back_pressure(void **state)
{
    (void)state;
    broker *b = start_broker(0);
    aioe_parse_result *res = endpoint_for(b);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char *inst = harness_unique("limit");
    char *dir = harness_path("inbox-limit");
    recorder *r = recorder_new();
    aioe_session *s = new_session(ep, r, inst);
    aioe_inbox_options *o = NULL;
    assert_int_equal(aioe_inbox_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_inbox_options_set_segment_bytes(o, 65536), AIOE_OK);
    assert_int_equal(aioe_inbox_options_set_max_bytes(o, 3 * 65536), AIOE_OK);
    aioe_inbox *ib = NULL;
    assert_int_equal(aioe_inbox_new(&ib, s, dir, o), AIOE_OK);
    aioe_inbox_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    subscribe(s, r, "lim/#");
    publish_range(b, "lim/a-topic-name-that-takes-some-room/x", 0, 5000);
    assert_true(fx_wait(r, full_pred, ib, WAIT_MS));
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_int_equal(st.full_status, AIOE_ERR_WOULD_BLOCK);
    assert_true(st.file_bytes <= 3 * 65536);
    assert_false(fx_log_lacks(r, "byte limit reached"));
    print_message("byte limit: paused with %llu stored, %llu bytes in files, %llu append "
                  "failure(s)\n",
                  (unsigned long long)st.unacknowledged, (unsigned long long)st.file_bytes,
                  (unsigned long long)st.append_failures);
    unsigned char *seen = calloc(MAX_SEQ, 1);
    assert_int_equal(drain(ib, seen, 5000, LONG_WAIT_MS), 5000);
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_false(st.full);
    aioe_session_stop(s, 2000);
    aioe_inbox_free(ib);
    aioe_session_free(s);
    recorder_free(r);
    free(seen);
    free(inst);
    free(dir);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* Issue #15 case 3 with a real full disk: the inbox in a 512 KiB tmpfs
 * (skipped when tmpfs cannot be mounted, e.g. without CAP_SYS_ADMIN). */
static void full_tmpfs_back_pressure(void **state)
{
    (void)state;
    char *mnt = harness_mkdir("tmpfs");
    assert_non_null(mnt);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=512k tmpfs '%s' 2>/dev/null", mnt);
    if (system(cmd) != 0) {
        free(mnt);
        skip();
    }
    broker *b = start_broker(0);
    aioe_parse_result *res = endpoint_for(b);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char *inst = harness_unique("tmpfs");
    char dir[700];
    snprintf(dir, sizeof dir, "%s/inbox", mnt);
    recorder *r = recorder_new();
    aioe_session *s = new_session(ep, r, inst);
    aioe_inbox_options *o = NULL;
    assert_int_equal(aioe_inbox_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_inbox_options_set_segment_bytes(o, 65536), AIOE_OK);
    aioe_inbox *ib = NULL;
    assert_int_equal(aioe_inbox_new(&ib, s, dir, o), AIOE_OK);
    aioe_inbox_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    subscribe(s, r, "full/#");
    publish_range(b, "full/a-topic-name-that-takes-some-room/x", 0, 8000);
    assert_true(fx_wait(r, full_pred, ib, WAIT_MS));
    aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
    assert_int_equal(aioe_inbox_get_stats(ib, &st), AIOE_OK);
    assert_int_equal(st.full_status, AIOE_ERR_IO);
    assert_false(fx_log_lacks(r, "disk full"));
    print_message("full tmpfs: paused with %llu stored, %llu bytes in files, %llu append "
                  "failure(s)\n",
                  (unsigned long long)st.unacknowledged, (unsigned long long)st.file_bytes,
                  (unsigned long long)st.append_failures);
    unsigned char *seen = calloc(MAX_SEQ, 1);
    assert_int_equal(drain(ib, seen, 8000, LONG_WAIT_MS), 8000);
    aioe_session_stop(s, 2000);
    aioe_inbox_free(ib);
    /* no empty files left behind */
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '\\.log$') -le 2", dir);
    assert_int_equal(system(cmd), 0);
    aioe_session_free(s);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    assert_int_equal(system(cmd), 0);
    recorder_free(r);
    free(seen);
    free(inst);
    free(mnt);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- aioe-sub --inbox as a child process ---- */

static pid_t spawn_sub(const char *yaml, const char *dir, const char *instance,
                       const char *out)
{
    const char *bin = getenv("AIOE_SUB");
    assert_non_null(bin);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "-v", "--inbox", dir, "--instance", instance, "-p", "-q", "1", yaml, "kill/#",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

typedef struct out_scan {
    const char *path;
    size_t want;        /* distinct numbers */
    const char *needle; /* or: this text count times */
    size_t count;
} out_scan;

static size_t count_text(const char *path, const char *needle)
{
    char *t = harness_read_file(path, NULL);
    size_t n = 0;
    for (const char *p = t; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(t);
    return n;
}

static size_t distinct_numbers(const char *path, size_t *lines)
{
    char *t = harness_read_file(path, NULL);
    unsigned char *seen = calloc(MAX_SEQ, 1);
    size_t d = 0, n = 0;
    for (char *line = t, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (!next)
            break; /* an unfinished last line */
        *next++ = '\0';
        char *end;
        long v = strtol(line, &end, 10);
        if (end == line || *end || v < 0 || v >= MAX_SEQ)
            continue;
        n++;
        if (!seen[v]) {
            seen[v] = 1;
            d++;
        }
    }
    free(seen);
    free(t);
    if (lines)
        *lines = n;
    return d;
}

static bool out_ready(void *arg)
{
    out_scan *o = arg;
    if (o->needle)
        return count_text(o->path, o->needle) >= o->count;
    return distinct_numbers(o->path, NULL) >= o->want;
}

static void sigkill_consumer_loses_nothing(void **state)
{
    (void)state;
    broker *b = start_broker(0);
    char yaml_text[1024];
    snprintf(yaml_text, sizeof yaml_text,
             "apiVersion: connectivity.iotoperations.azure.com/v1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: src\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: 127.0.0.1:%d\n"
             "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n"
             "    tls:\n      mode: Disabled\n    clientIdPrefix: t-\n"
             "    sessionExpirySeconds: 600\n",
             broker_port(b, 0));
    char *yaml = harness_path("kill.yaml");
    assert_int_equal(harness_write_file(yaml, yaml_text, strlen(yaml_text)), 0);
    char *dir = harness_path("inbox-kill");
    char *out = harness_path("kill.out");
    char *inst = harness_unique("killed");
    const unsigned total = 8000, rounds = 4;
    pid_t pid = spawn_sub(yaml, dir, inst, out);
    out_scan sub = { out, 0, "subscribed to", 1 };
    assert_true(harness_wait_until(out_ready, &sub, WAIT_MS));
    pub_job job = { b, "kill/t", 0, total };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, publisher, &job), 0);
    for (unsigned k = 1; k <= rounds; k++) {
        /* kill mid-stream, once this run printed something more */
        out_scan progress = { out, total * k / (rounds + 2), NULL, 0 };
        assert_true(harness_wait_until(out_ready, &progress, LONG_WAIT_MS));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        sub.count++;
        pid = spawn_sub(yaml, dir, inst, out);
        assert_true(harness_wait_until(out_ready, &sub, WAIT_MS));
    }
    void *prc;
    pthread_join(t, &prc);
    assert_null(prc);
    out_scan all = { out, total, NULL, 0 };
    bool ok = harness_wait_until(out_ready, &all, LONG_WAIT_MS);
    size_t lines = 0, distinct = distinct_numbers(out, &lines);
    print_message("SIGKILL x%u: %zu of %u distinct, %zu lines (%zu duplicates)\n", rounds,
                  distinct, total, lines, lines - distinct);
    assert_true(ok);
    assert_int_equal(distinct, total);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(yaml);
    free(dir);
    free(out);
    free(inst);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_of_order_ack_and_redelivery),
        cmocka_unit_test(batched_wakeups),
        cmocka_unit_test(two_sessions_one_paused),
        cmocka_unit_test(byte_limit_back_pressure),
        cmocka_unit_test(full_tmpfs_back_pressure),
        cmocka_unit_test(sigkill_consumer_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
