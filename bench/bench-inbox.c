/* Inbox cost: receiving QoS 1 messages through a durable inbox (append in
 * Paho's callback, then next + ack on a consumer thread) against plain
 * receiving (a message callback that only counts), on one broker.
 *
 *   bench-inbox PORT [MESSAGES] [ROUNDS]
 *
 * Each round and mode: a subscriber session (fixed client ID, persistent)
 * subscribes and stops; MESSAGES QoS 1 messages of 64 bytes are published
 * and wait in its broker session; then the subscriber starts again and the
 * clock (wall time and the process's CPU time, getrusage) runs until every
 * message was received (plain) or taken and acknowledged (inbox). Modes:
 *   plain          message callback, nothing stored
 *   inbox-sigkill  AIOE_INBOX_SURVIVE_PROCESS_CRASH (write(2) before PUBACK)
 *   inbox-power    AIOE_INBOX_SURVIVE_POWER_LOSS (fdatasync before PUBACK)
 * Prints, for the best round of each mode, messages/s, CPU µs per message,
 * the extra CPU µs per message against plain, and fdatasync calls per
 * second for the power-loss mode. bench/inbox-bench.sh starts the broker.
 * BENCH_INBOX_MODES (e.g. "01") limits the run to some modes, for profiling
 * one mode at a time with PERF="perf stat ..." bench/inbox-bench.sh;
 * BENCH_INBOX_BATCH_US sets aioe_inbox_options_set_batch_delay() (default:
 * the library's). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <aioendpoint/aioendpoint.h>

enum { PAYLOAD = 64 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool connected, subscribed;
static unsigned long outstanding, done;
static atomic_ulong received;

static void on_state(aioe_session *s, const aioe_session_event *e, void *ud)
{
    (void)s;
    (void)ud;
    pthread_mutex_lock(&mu);
    connected = e->state == AIOE_SESSION_CONNECTED;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_sub(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    (void)reason;
    (void)ud;
    pthread_mutex_lock(&mu);
    subscribed = status == AIOE_OK;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_pub(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    (void)status;
    (void)reason;
    (void)ud;
    pthread_mutex_lock(&mu);
    outstanding--;
    done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_msg(aioe_session *s, const aioe_message *m, void *ud)
{
    (void)s;
    (void)m;
    (void)ud;
    atomic_fetch_add(&received, 1);
}

static void wait_flag(bool *flag)
{
    pthread_mutex_lock(&mu);
    while (!*flag)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static aioe_session *session(const aioe_endpoint *ep, const char *id, bool callback)
{
    aioe_session_options *o;
    aioe_session_options_new(&o);
    aioe_session_options_set_state_callback(o, on_state, NULL);
    if (callback)
        aioe_session_options_set_message_callback(o, on_msg, NULL);
    aioe_session *s;
    if (aioe_session_new(&s, ep, id, o) != AIOE_OK)
        exit(1);
    aioe_session_options_free(o);
    return s;
}

static void publish_all(const aioe_endpoint *ep, unsigned long n)
{
    aioe_session *p = session(ep, "bench-inbox-pub", false);
    connected = false;
    if (aioe_session_start(p) != AIOE_OK)
        exit(1);
    wait_flag(&connected);
    char payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    done = outstanding = 0;
    for (unsigned long i = 0; i < n;) {
        pthread_mutex_lock(&mu);
        outstanding++;
        pthread_mutex_unlock(&mu);
        int rc = aioe_session_publish(p, "bench/inbox", payload, PAYLOAD, 1, false, on_pub,
                                      NULL);
        if (rc == AIOE_OK) {
            i++;
            continue;
        }
        pthread_mutex_lock(&mu);
        outstanding--;
        unsigned long d = done;
        while (done == d && outstanding > 0)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_lock(&mu);
    while (outstanding)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    aioe_session_stop(p, 2000);
    aioe_session_free(p);
}

typedef struct result {
    double wall, cpu;
    unsigned long syncs, wakeups;
} result;

/* mode 0 plain, 1 inbox-sigkill, 2 inbox-power */
static result run(const aioe_endpoint *ep, unsigned long n, int mode, const char *dir)
{
    char id[64];
    snprintf(id, sizeof id, "bench-inbox-sub-%d", mode);
    /* make the broker session and its subscription, then leave */
    aioe_session *s = session(ep, id, true);
    connected = subscribed = false;
    if (aioe_session_start(s) != AIOE_OK)
        exit(1);
    wait_flag(&connected);
    aioe_session_subscribe(s, "bench/inbox", 1, on_sub, NULL);
    wait_flag(&subscribed);
    aioe_session_stop(s, 1000);
    aioe_session_free(s);
    publish_all(ep, n);

    s = session(ep, id, mode == 0);
    aioe_inbox *ib = NULL;
    if (mode) {
        aioe_inbox_options *o;
        aioe_inbox_options_new(&o);
        aioe_inbox_options_set_durability(o, mode == 2 ? AIOE_INBOX_SURVIVE_POWER_LOSS
                                                       : AIOE_INBOX_SURVIVE_PROCESS_CRASH);
        aioe_inbox_options_set_watermarks(o, 0, 0, 0, 0);
        const char *bd = getenv("BENCH_INBOX_BATCH_US");
        if (bd)
            aioe_inbox_options_set_batch_delay(o, (uint32_t)strtoul(bd, NULL, 10));
        if (aioe_inbox_new(&ib, s, dir, o) != AIOE_OK)
            exit(1);
        aioe_inbox_options_free(o);
    }
    atomic_store(&received, 0);
    connected = false;
    double w0 = now(), c0 = cpu();
    if (aioe_session_start(s) != AIOE_OK)
        exit(1);
    if (mode == 0) {
        while (atomic_load(&received) < n)
            usleep(1000);
    } else {
        for (unsigned long k = 0; k < n;) {
            aioe_message *m;
            if (aioe_inbox_next(ib, 1000, &m) != AIOE_OK)
                continue;
            aioe_inbox_ack(ib, aioe_inbox_message_id(m));
            aioe_message_free(m);
            k++;
        }
    }
    result r = { now() - w0, cpu() - c0, 0, 0 };
    if (ib) {
        aioe_inbox_stats st = { .version = AIOE_INBOX_STATS_VERSION };
        aioe_inbox_get_stats(ib, &st);
        r.syncs = (unsigned long)st.syncs;
        r.wakeups = (unsigned long)st.consumer_wakeups;
    }
    aioe_session_stop(s, 1000);
    aioe_inbox_free(ib);
    aioe_session_free(s);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-inbox PORT [MESSAGES] [ROUNDS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 50000;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "apiVersion: connectivity.iotoperations.azure.com/v1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: bench\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: 127.0.0.1:%d\n"
             "    authentication: {method: Anonymous}\n"
             "    tls: {mode: Disabled}\n"
             "    maxInflightMessages: 100\n", port);
    aioe_parse_result *res = NULL;
    if (aioe_parse_buffer(yaml, strlen(yaml), "bench", NULL, &res) != AIOE_OK)
        return 1;
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char tmpl[] = "/tmp/aioe-bench-inbox-XXXXXX";
    const char *root = mkdtemp(tmpl);
    if (!root)
        return 1;
    static const char *const names[3] = { "plain", "inbox-sigkill", "inbox-power" };
    result best[3];
    for (int k = 0; k < 3; k++)
        best[k] = (result){ 1e9, 1e9, 0, 0 };
    const char *modes = getenv("BENCH_INBOX_MODES");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 3; k++) {
            if (modes && !strchr(modes, '0' + k))
                continue;
            char dir[256];
            snprintf(dir, sizeof dir, "%s/%s-%d", root, names[k], r);
            result x = run(ep, n, k, dir);
            if (x.cpu < best[k].cpu)
                best[k] = x;
        }
    }
    printf("%lu QoS 1 messages of %d bytes from a broker session, best of %d rounds "
           "(lowest CPU)\n", n, PAYLOAD, rounds);
    for (int k = 0; k < 3; k++) {
        if (modes && !strchr(modes, '0' + k))
            continue;
        printf("%-14s %8.0f msg/s  CPU %6.2f us/msg  extra %+6.2f us/msg", names[k],
               (double)n / best[k].wall, best[k].cpu * 1e6 / (double)n,
               (best[k].cpu - best[0].cpu) * 1e6 / (double)n);
        if (k)
            printf("  wake-ups %.3f per message", (double)best[k].wakeups / (double)n);
        if (k == 2)
            printf("  fdatasync %lu (%.0f/s, %.2f per message)", best[k].syncs,
                   (double)best[k].syncs / best[k].wall, (double)best[k].syncs / (double)n);
        printf("\n");
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-inbox: could not remove %s\n", root);
    aioe_parse_result_free(res);
    return 0;
}
