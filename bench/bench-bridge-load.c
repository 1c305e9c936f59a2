/* bench-bridge-load: load generator and meter for bench/bridge-bench.sh.
 *
 * Subscribes on broker B, publishes COUNT messages of SIZE bytes on broker A
 * (as fast as possible, or at RATE msg/s), and measures what arrives on B:
 * end-to-end latency (send time is carried in the payload; both clients
 * run in this process, one clock), throughput from the first publish to the
 * last arrival, missing and duplicate messages. Uses libmosquitto (MQTT
 * v5), independent of libaioendpoint and Paho, so it meters any bridge.
 *
 *   bench-bridge-load --pub-port A --sub-port B --count N --qos Q
 *                     [--rate R] [--size 64] [--pub-topic bench/in/t]
 *                     [--sub-topic 'out/#'] [--timeout SEC] [--persistent]
 *
 * --persistent gives the subscriber a fixed client ID and a persistent
 * session (Clean Start 0, expiry 1 h) and lets libmosquitto reconnect, so
 * it misses nothing across a restart of broker B (fault runs).
 *
 * Prints one line: key=value pairs (sent, received, distinct, missing,
 * duplicates, seconds, msgs_per_s, p50_us, p99_us, max_us). Exit 0 when
 * nothing is missing, 1 otherwise. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct meter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long count;
    unsigned char *seen;
    uint32_t *lat_us;      /* latency of the first arrival of each message */
    unsigned long received, distinct;
    uint64_t last_ns;
    bool subscribed, connected;
} meter;

static meter M = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
static int pub_connected;
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pub_cv = PTHREAD_COND_INITIALIZER;
static unsigned long pub_acked;

static void on_sub_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                           const mosquitto_property *props)
{
    (void)m;
    (void)ud;
    (void)props;
    uint64_t t = now_ns();
    if (msg->payloadlen < 16)
        return;
    uint64_t seq, sent;
    memcpy(&seq, msg->payload, 8);
    memcpy(&sent, (const char *)msg->payload + 8, 8);
    pthread_mutex_lock(&M.mu);
    M.received++;
    if (seq < M.count && !M.seen[seq]) {
        M.seen[seq] = 1;
        uint64_t us = (t - sent) / 1000;
        M.lat_us[seq] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        M.distinct++;
        M.last_ns = t;
        if (M.distinct == M.count)
            pthread_cond_broadcast(&M.cv);
    }
    pthread_mutex_unlock(&M.mu);
}

static void on_sub_subscribe(struct mosquitto *m, void *ud, int mid, int qc, const int *gq,
                             const mosquitto_property *p)
{
    (void)m; (void)ud; (void)mid; (void)qc; (void)gq; (void)p;
    pthread_mutex_lock(&M.mu);
    M.subscribed = true;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

static void on_pub_connect(struct mosquitto *m, void *ud, int rc, int flags,
                           const mosquitto_property *p)
{
    (void)m; (void)ud; (void)flags; (void)p;
    pthread_mutex_lock(&pub_mu);
    pub_connected = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&pub_cv);
    pthread_mutex_unlock(&pub_mu);
}

static void on_pub_publish(struct mosquitto *m, void *ud, int mid, int rc,
                           const mosquitto_property *p)
{
    (void)m; (void)ud; (void)mid; (void)rc; (void)p;
    pthread_mutex_lock(&pub_mu);
    pub_acked++;
    pthread_cond_broadcast(&pub_cv);
    pthread_mutex_unlock(&pub_mu);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static struct mosquitto *client(const char *id)
{
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (!m) {
        fprintf(stderr, "bench-bridge-load: mosquitto_new failed\n");
        exit(2);
    }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    return m;
}

int main(int argc, char **argv)
{
    int pub_port = 0, sub_port = 0, qos = 1;
    unsigned long count = 100000, rate = 0, size = 64, timeout_s = 120;
    const char *pub_topic = "bench/in/t", *sub_topic = "out/#";
    bool persistent = false;
    static const struct option lo[] = {
        {"pub-port", required_argument, NULL, 'a'}, {"sub-port", required_argument, NULL, 'b'},
        {"count", required_argument, NULL, 'n'},    {"qos", required_argument, NULL, 'q'},
        {"rate", required_argument, NULL, 'r'},     {"size", required_argument, NULL, 's'},
        {"pub-topic", required_argument, NULL, 'p'}, {"sub-topic", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'w'},  {"persistent", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'a': pub_port = atoi(optarg); break;
        case 'b': sub_port = atoi(optarg); break;
        case 'n': count = strtoul(optarg, NULL, 10); break;
        case 'q': qos = atoi(optarg); break;
        case 'r': rate = strtoul(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'p': pub_topic = optarg; break;
        case 't': sub_topic = optarg; break;
        case 'w': timeout_s = strtoul(optarg, NULL, 10); break;
        case 'P': persistent = true; break;
        default: return 2;
        }
    }
    if (!pub_port || !sub_port || !count || size < 16) {
        fprintf(stderr, "usage: bench-bridge-load --pub-port A --sub-port B [--count N] "
                        "[--qos Q] [--rate R] [--size >=16] [--pub-topic T] [--sub-topic F]\n");
        return 2;
    }
    M.count = count;
    M.seen = calloc(count, 1);
    M.lat_us = calloc(count, sizeof *M.lat_us);
    mosquitto_lib_init();

    char id[64];
    snprintf(id, sizeof id, "bench-sub-%d", (int)getpid());
    struct mosquitto *sub;
    mosquitto_property *cprops = NULL;
    if (persistent) {
        sub = mosquitto_new("bench-sub-persistent", false, NULL);
        if (!sub)
            return 2;
        mosquitto_int_option(sub, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_property_add_int32(&cprops, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
        mosquitto_reconnect_delay_set(sub, 1, 1, false);
    } else {
        sub = client(id);
    }
    mosquitto_int_option(sub, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
    mosquitto_message_v5_callback_set(sub, on_sub_message);
    mosquitto_subscribe_v5_callback_set(sub, on_sub_subscribe);
    if (mosquitto_connect_bind_v5(sub, "127.0.0.1", sub_port, 60, NULL, cprops) != MOSQ_ERR_SUCCESS ||
        mosquitto_subscribe_v5(sub, NULL, sub_topic, qos, 0, NULL) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(sub) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench-bridge-load: cannot subscribe on port %d\n", sub_port);
        return 2;
    }
    snprintf(id, sizeof id, "bench-pub-%d", (int)getpid());
    struct mosquitto *pub = client(id);
    mosquitto_int_option(pub, MOSQ_OPT_SEND_MAXIMUM, 1000);
    mosquitto_connect_v5_callback_set(pub, on_pub_connect);
    mosquitto_publish_v5_callback_set(pub, on_pub_publish);
    if (mosquitto_connect_bind_v5(pub, "127.0.0.1", pub_port, 60, NULL, NULL) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(pub) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench-bridge-load: cannot connect on port %d\n", pub_port);
        return 2;
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&M.mu);
    while (!M.subscribed)
        if (pthread_cond_timedwait(&M.cv, &M.mu, &dl) == ETIMEDOUT)
            break;
    bool subscribed = M.subscribed;
    pthread_mutex_unlock(&M.mu);
    pthread_mutex_lock(&pub_mu);
    while (!pub_connected)
        if (pthread_cond_timedwait(&pub_cv, &pub_mu, &dl) == ETIMEDOUT)
            break;
    int pc = pub_connected;
    pthread_mutex_unlock(&pub_mu);
    if (!subscribed || pc != 1) {
        fprintf(stderr, "bench-bridge-load: subscriber/publisher not ready\n");
        return 2;
    }

    unsigned char *payload = calloc(1, size);
    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < count; i++) {
        if (rate) {
            uint64_t due = t0 + (uint64_t)((double)i * 1e9 / (double)rate);
            uint64_t t = now_ns();
            if (due > t) {
                struct timespec ts = {(time_t)((due - t) / 1000000000u),
                                      (long)((due - t) % 1000000000u)};
                nanosleep(&ts, NULL);
            }
        } else if (qos > 0) {
            /* keep at most ~2000 unacknowledged in libmosquitto's queue */
            pthread_mutex_lock(&pub_mu);
            while (i - pub_acked > 2000)
                pthread_cond_wait(&pub_cv, &pub_mu);
            pthread_mutex_unlock(&pub_mu);
        }
        uint64_t seq = i, t = now_ns();
        memcpy(payload, &seq, 8);
        memcpy(payload + 8, &t, 8);
        int rc = mosquitto_publish_v5(pub, NULL, pub_topic, (int)size, payload, qos, false,
                                      NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "bench-bridge-load: publish failed: %s\n", mosquitto_strerror(rc));
            return 2;
        }
    }

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)timeout_s;
    pthread_mutex_lock(&M.mu);
    while (M.distinct < count)
        if (pthread_cond_timedwait(&M.cv, &M.mu, &dl) == ETIMEDOUT)
            break;
    unsigned long distinct = M.distinct, received = M.received;
    uint64_t last = M.last_ns;
    uint32_t *lat = malloc(distinct ? distinct * sizeof *lat : 1);
    size_t k = 0;
    for (unsigned long i = 0; i < count; i++)
        if (M.seen[i])
            lat[k++] = M.lat_us[i];
    pthread_mutex_unlock(&M.mu);
    qsort(lat, k, sizeof *lat, cmp_u32);
    double secs = (double)(last - t0) / 1e9;
    printf("sent=%lu received=%lu distinct=%lu missing=%lu duplicates=%lu seconds=%.3f "
           "msgs_per_s=%.0f p50_us=%u p99_us=%u max_us=%u\n",
           count, received, distinct, count - distinct, received - distinct, secs,
           secs > 0 ? (double)distinct / secs : 0.0, k ? lat[k / 2] : 0,
           k ? lat[(k * 99) / 100] : 0, k ? lat[k - 1] : 0);
    fflush(stdout);
    mosquitto_disconnect(pub);
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(pub, false);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(pub);
    mosquitto_destroy(sub);
    mosquitto_property_free_all(&cprops);
    mosquitto_lib_cleanup();
    free(payload);
    free(lat);
    free(M.seen);
    free(M.lat_us);
    return distinct == count ? 0 : 1;
}
