/* Soak benchmark (minutes; run by hand, never in CI): steady QoS 1 traffic
 * through two K8S-SAT sessions (publisher, subscriber) against mosquitto
 * with the aioe_jwt_auth plugin and persistence, while the token file is
 * rotated (kubelet-style atomic replace) and the broker restarted
 * periodically. Every few seconds it samples the process's RSS and open
 * file descriptors; at the end it reports what was sent, acknowledged,
 * received (distinct, duplicates, missing) and how RSS and fds moved.
 *
 *   bench-soak [seconds=300] [msgs_per_s=500] [restart_every_s=30]
 *              [rotate_every_s=10]
 *
 * Exit status 0 when nothing is missing and the fd count at the end is
 * within 8 of the first sample; 1 otherwise. bench/soak.sh runs it and
 * keeps the output; docs/benchmarks.md records figures. */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aioendpoint/aioendpoint.h>

#include "harness.h"

#define MAX_MSGS (4u * 1000 * 1000)

typedef struct soak {
    pthread_mutex_t mu;
    unsigned char *seen;      /* per seq: times received */
    unsigned char *acked;     /* per seq: publish completed OK */
    size_t sent, acked_ok, failed, received, distinct, dups, republished;
    size_t connects[2], disconnects[2];
    uint32_t *retry;          /* seqs whose publish failed: publish again */
    size_t n_retry;
} soak;

static soak S;

static void on_state(aioe_session *s, const aioe_session_event *e, void *ud)
{
    int who = (int)(intptr_t)ud;
    (void)s;
    pthread_mutex_lock(&S.mu);
    if (e->state == AIOE_SESSION_CONNECTED)
        S.connects[who]++;
    else if (e->state == AIOE_SESSION_DISCONNECTED)
        S.disconnects[who]++;
    pthread_mutex_unlock(&S.mu);
    if (e->state == AIOE_SESSION_STOPPED && e->status != AIOE_OK)
        fprintf(stderr, "soak: session %d stopped: %s\n", who, e->message);
}

static void on_message(aioe_session *s, const aioe_message *m, void *ud)
{
    (void)s;
    (void)ud;
    size_t len;
    const void *p = aioe_message_payload(m, &len);
    uint32_t seq;
    if (len != sizeof seq)
        return;
    memcpy(&seq, p, sizeof seq);
    pthread_mutex_lock(&S.mu);
    S.received++;
    if (seq < MAX_MSGS) {
        if (S.seen[seq] == 0)
            S.distinct++;
        else
            S.dups++;
        if (S.seen[seq] < 255)
            S.seen[seq]++;
    }
    pthread_mutex_unlock(&S.mu);
}

static void on_published(aioe_session *s, int status, int reason, void *ud)
{
    uint32_t seq = (uint32_t)(uintptr_t)ud;
    (void)s;
    (void)reason;
    pthread_mutex_lock(&S.mu);
    if (status == AIOE_OK) {
        S.acked_ok++;
        S.acked[seq] = 1;
    } else {
        /* at-least-once at the application: publish it again */
        S.failed++;
        S.retry[S.n_retry++] = seq;
    }
    pthread_mutex_unlock(&S.mu);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the DIR's own fd */
}

static int threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static aioe_session *make(const aioe_endpoint *ep, const char *name, const char *token,
                          int who)
{
    aioe_session_options *o;
    aioe_session *s = NULL;
    if (aioe_session_options_new(&o) != AIOE_OK)
        abort();
    aioe_session_options_set_state_callback(o, on_state, (void *)(intptr_t)who);
    if (who == 1)
        aioe_session_options_set_message_callback(o, on_message, NULL);
    aioe_session_options_set_token_file(o, token);
    aioe_session_options_set_token_check_interval(o, 200);
    aioe_session_options_set_reconnect_backoff(o, 100, 2000);
    aioe_session_options_set_connect_timeout(o, 5000);
    if (aioe_session_new(&s, ep, name, o) != AIOE_OK)
        abort();
    aioe_session_options_free(o);
    return s;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 300;
    int rate = argc > 2 ? atoi(argv[2]) : 500;
    int restart_every = argc > 3 ? atoi(argv[3]) : 30;
    int rotate_every = argc > 4 ? atoi(argv[4]) : 10;
    if (seconds <= 0 || rate <= 0 || (uint64_t)seconds * (uint64_t)rate >= MAX_MSGS) {
        fprintf(stderr, "usage: bench-soak [seconds] [msgs/s] [restart_s] [rotate_s]\n");
        return 2;
    }
    pthread_mutex_init(&S.mu, NULL);
    S.seen = calloc(MAX_MSGS, 1);
    S.acked = calloc(MAX_MSGS, 1);
    S.retry = calloc(MAX_MSGS, sizeof *S.retry);
    if (!S.seen || !S.acked || !S.retry)
        return 2;
    /* touch the bookkeeping now, so its pages do not show up as RSS growth
     * (2 bytes per message) in the samples */
    for (size_t i = 0; i < MAX_MSGS; i += 4096) {
        ((volatile unsigned char *)S.seen)[i] = 0;
        ((volatile unsigned char *)S.acked)[i] = 0;
    }
    for (size_t i = 0; i < MAX_MSGS; i += 1024)
        ((volatile uint32_t *)S.retry)[i] = 0;

    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    cfg.jwt_plugin = true;
    cfg.jwt_methods = "K8S-SAT";
    cfg.persistence = true;
    cfg.log_types = "error warning notice";
    if (broker_start(&cfg, &b) != 0)
        return 2;
    char *tok = harness_jwt_simple("aio-internal", 3600);
    char *token_path = harness_jwt_write_file("soak-token", tok);
    free(tok);

    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
             "metadata:\n  name: soak\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: localhost:%d\n    maxInflightMessages: 100\n"
             "    authentication:\n      method: ServiceAccountToken\n"
             "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
             "    tls:\n      mode: Disabled\n", broker_port(b, 0));
    aioe_parse_result *res = NULL;
    if (aioe_parse_buffer(yaml, strlen(yaml), "soak", NULL, &res) != AIOE_OK)
        return 2;
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char pub_name[64], sub_name[64];
    snprintf(pub_name, sizeof pub_name, "soak-pub-%d", (int)getpid());
    snprintf(sub_name, sizeof sub_name, "soak-sub-%d", (int)getpid());
    aioe_session *pub = make(ep, pub_name, token_path, 0);
    aioe_session *sub = make(ep, sub_name, token_path, 1);
    if (aioe_session_start(sub) != AIOE_OK || aioe_session_start(pub) != AIOE_OK ||
        aioe_session_subscribe(sub, "soak/#", 1, NULL, NULL) != AIOE_OK)
        return 2;
    while (aioe_session_get_state(sub) != AIOE_SESSION_CONNECTED)
        usleep(10000);
    usleep(200000); /* SUBACK */

    printf("soak: %d s, %d msg/s QoS 1, broker restart every %d s, token rotation every "
           "%d s\n", seconds, rate, restart_every, rotate_every);
    printf("%6s %9s %9s %9s %6s %8s %4s %4s\n", "t(s)", "sent", "acked", "received",
           "retry", "rss(KiB)", "fds", "thr");
    int64_t t0 = harness_now_ms(), next_sample = t0, next_restart = t0 + restart_every * 1000LL,
            next_rotate = t0 + rotate_every * 1000LL;
    long rss_first = -1, rss_max = 0, rss_last = 0;
    int fd_first = -1, fd_max = 0, fd_last = 0, restarts = 0, rotations = 0;
    uint32_t seq = 0;
    for (;;) {
        int64_t now = harness_now_ms();
        if (now - t0 >= seconds * 1000LL)
            break;
        /* publish to schedule */
        uint64_t due = (uint64_t)(now - t0) * (uint64_t)rate / 1000;
        for (;;) {
            uint32_t this_seq;
            pthread_mutex_lock(&S.mu);
            bool again = S.n_retry > 0;
            if (again)
                this_seq = S.retry[--S.n_retry];
            pthread_mutex_unlock(&S.mu);
            if (!again) {
                if (seq >= due)
                    break;
                this_seq = seq;
            }
            int rc = aioe_session_publish(pub, "soak/data", &this_seq, sizeof this_seq, 1,
                                          false, on_published,
                                          (void *)(uintptr_t)this_seq);
            if (rc == AIOE_OK) {
                if (again) {
                    pthread_mutex_lock(&S.mu);
                    S.republished++;
                    pthread_mutex_unlock(&S.mu);
                } else {
                    seq++;
                    S.sent++;
                }
                continue;
            }
            if (again) {
                pthread_mutex_lock(&S.mu);
                S.retry[S.n_retry++] = this_seq;
                pthread_mutex_unlock(&S.mu);
            }
            if (rc != AIOE_ERR_WOULD_BLOCK)
                fprintf(stderr, "soak: publish: %s\n", aioe_strerror(rc));
            break;
        }
        if (now >= next_rotate) {
            char *t = harness_jwt_simple("aio-internal", 3600);
            free(harness_jwt_write_file("soak-token", t));
            free(t);
            rotations++;
            next_rotate += rotate_every * 1000LL;
        }
        if (now >= next_restart) {
            if (broker_restart(b) != 0)
                fprintf(stderr, "soak: broker restart failed\n");
            restarts++;
            next_restart += restart_every * 1000LL;
        }
        if (now >= next_sample) {
            long rss = rss_kib();
            int fds = fd_count();
            if (rss_first < 0) {
                rss_first = rss;
                fd_first = fds;
            }
            rss_max = rss > rss_max ? rss : rss_max;
            fd_max = fds > fd_max ? fds : fd_max;
            rss_last = rss;
            fd_last = fds;
            pthread_mutex_lock(&S.mu);
            printf("%6.0f %9zu %9zu %9zu %6zu %8ld %4d %4d\n", (now - t0) / 1000.0, S.sent,
                   S.acked_ok, S.received, S.failed, rss, fds, threads());
            pthread_mutex_unlock(&S.mu);
            fflush(stdout);
            next_sample += 5000;
        }
        usleep(1000);
    }
    /* drain: wait until every seq is received, republishing failures */
    int64_t deadline = harness_now_ms() + 60000;
    for (;;) {
        pthread_mutex_lock(&S.mu);
        bool done = S.distinct >= seq && S.n_retry == 0;
        bool have_retry = S.n_retry > 0;
        uint32_t r = have_retry ? S.retry[--S.n_retry] : 0;
        pthread_mutex_unlock(&S.mu);
        if (done || harness_now_ms() > deadline)
            break;
        if (have_retry &&
            aioe_session_publish(pub, "soak/data", &r, sizeof r, 1, false, on_published,
                                 (void *)(uintptr_t)r) != AIOE_OK) {
            pthread_mutex_lock(&S.mu);
            S.retry[S.n_retry++] = r;
            pthread_mutex_unlock(&S.mu);
        } else if (have_retry) {
            pthread_mutex_lock(&S.mu);
            S.republished++;
            pthread_mutex_unlock(&S.mu);
        }
        usleep(2000);
    }
    size_t missing = 0;
    for (uint32_t i = 0; i < seq; i++)
        missing += S.seen[i] == 0;
    aioe_session_stop(pub, 2000);
    aioe_session_stop(sub, 2000);
    long rss_end = rss_kib();
    int fd_end = fd_count();
    printf("soak: sent %zu, acknowledged %zu, failed completions %zu (republished %zu), "
           "received %zu (distinct %zu, duplicates %zu), missing %zu\n",
           S.sent, S.acked_ok, S.failed, S.republished, S.received, S.distinct, S.dups,
           missing);
    printf("soak: %d broker restarts, %d token rotations; reconnects publisher %zu, "
           "subscriber %zu\n", restarts, rotations, S.connects[0], S.connects[1]);
    printf("soak: RSS KiB first %ld, max %ld, last sample %ld, after stop %ld; fds first %d, "
           "max %d, last sample %d, after stop %d\n", rss_first, rss_max, rss_last, rss_end,
           fd_first, fd_max, fd_last, fd_end);
    aioe_session_free(pub);
    aioe_session_free(sub);
    aioe_parse_result_free(res);
    broker_free(b);
    free(token_path);
    bool ok = missing == 0 && fd_last <= fd_first + 8;
    printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
