/* Publish throughput: libaioendpoint sessions against raw Paho MQTTAsync on
 * the same broker, in one run.
 *
 *   bench-publish PORT [MESSAGES] [ROUNDS]
 *
 * Publishes MESSAGES (default 100000) QoS 1 messages of 64 bytes to a
 * broker on 127.0.0.1:PORT with the same in-flight window (99, one below
 * the broker's Receive Maximum of 100) three ways, ROUNDS times each,
 * alternating:
 *   raw-paho     MQTTAsync_sendMessage + onSuccess5, windowed by a counter
 *   aioe         aioe_session_publish()
 *   aioe-builder aioe_session_publish_message() with 3 user properties and
 *                a content type
 * and prints the best round's messages per second for each and the ratio.
 * BENCH_PUBLISH_MODES (e.g. "13") runs only some of them (0 raw-paho,
 * 1 aioe, 2 raw-paho+props, 3 aioe-builder), for bench/alloc-count.sh.
 * bench/publish-bench.sh starts the broker and runs this. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTAsync.h>

#include <aioendpoint/aioendpoint.h>

enum { WINDOW = 99, PAYLOAD = 64 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A counting window shared by both clients' completion callbacks. */
typedef struct window {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned outstanding;
    unsigned long done, failed;
    bool connected;
} window;

static window win = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, false };

static void win_done(bool ok)
{
    pthread_mutex_lock(&win.mu);
    win.outstanding--;
    win.done++;
    if (!ok)
        win.failed++;
    pthread_cond_broadcast(&win.cv);
    pthread_mutex_unlock(&win.mu);
}

static void win_acquire(void)
{
    pthread_mutex_lock(&win.mu);
    while (win.outstanding >= WINDOW)
        pthread_cond_wait(&win.cv, &win.mu);
    win.outstanding++;
    pthread_mutex_unlock(&win.mu);
}

static void win_drain(void)
{
    pthread_mutex_lock(&win.mu);
    while (win.outstanding > 0)
        pthread_cond_wait(&win.cv, &win.mu);
    pthread_mutex_unlock(&win.mu);
}

/* ---- raw Paho ---------------------------------------------------------- */

static void paho_ok(void *ctx, MQTTAsync_successData5 *r)
{
    (void)ctx;
    (void)r;
    win_done(true);
}

static void paho_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    (void)ctx;
    (void)r;
    win_done(false);
}

static void paho_connected(void *ctx, MQTTAsync_successData5 *r)
{
    (void)ctx;
    (void)r;
    pthread_mutex_lock(&win.mu);
    win.connected = true;
    pthread_cond_broadcast(&win.cv);
    pthread_mutex_unlock(&win.mu);
}

static int arrived(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    (void)ctx;
    (void)len;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void add_str(MQTTProperties *props, enum MQTTPropertyCodes id, const char *a,
                    const char *b)
{
    MQTTProperty p;
    memset(&p, 0, sizeof p);
    p.identifier = id;
    p.value.data.data = (char *)a;
    p.value.data.len = (int)strlen(a);
    if (b) {
        p.value.value.data = (char *)b;
        p.value.value.len = (int)strlen(b);
    }
    MQTTProperties_add(props, &p);
}

static double run_paho(const char *uri, unsigned long n, const char *payload, bool props)
{
    MQTTAsync c;
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    if (MQTTAsync_createWithOptions(&c, uri, "bench-raw-paho", MQTTCLIENT_PERSISTENCE_NONE,
                                    NULL, &co) != MQTTASYNC_SUCCESS)
        exit(1);
    MQTTAsync_setCallbacks(c, NULL, NULL, arrived, NULL);
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer5;
    o.cleanstart = 1;
    o.onSuccess5 = paho_connected;
    win.connected = false;
    if (MQTTAsync_connect(c, &o) != MQTTASYNC_SUCCESS)
        exit(1);
    pthread_mutex_lock(&win.mu);
    while (!win.connected)
        pthread_cond_wait(&win.cv, &win.mu);
    pthread_mutex_unlock(&win.mu);

    double t0 = now();
    for (unsigned long i = 0; i < n; i++) {
        win_acquire();
        MQTTAsync_message m = MQTTAsync_message_initializer;
        m.payload = (void *)payload;
        m.payloadlen = PAYLOAD;
        m.qos = 1;
        if (props) {
            /* what a Paho user writes for the builder's message */
            add_str(&m.properties, MQTTPROPERTY_CODE_CONTENT_TYPE, "application/json", NULL);
            add_str(&m.properties, MQTTPROPERTY_CODE_USER_PROPERTY, "site", "plant-7");
            add_str(&m.properties, MQTTPROPERTY_CODE_USER_PROPERTY, "line", "4");
            add_str(&m.properties, MQTTPROPERTY_CODE_USER_PROPERTY, "traceparent",
                    "00-0af7651916cd43dd-00");
        }
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        ro.onSuccess5 = paho_ok;
        ro.onFailure5 = paho_fail;
        if (MQTTAsync_sendMessage(c, "bench/publish", &m, &ro) != MQTTASYNC_SUCCESS)
            win_done(false);
        MQTTProperties_free(&m.properties);
    }
    win_drain();
    double t = now() - t0;
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnect(c, &d);
    MQTTAsync_destroy(&c);
    return t;
}

/* ---- libaioendpoint ------------------------------------------------------ */

static void aioe_done(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    (void)reason;
    (void)ud;
    win_done(status == AIOE_OK);
}

static void on_state(aioe_session *s, const aioe_session_event *e, void *ud)
{
    (void)s;
    (void)ud;
    if (e->state == AIOE_SESSION_CONNECTED) {
        pthread_mutex_lock(&win.mu);
        win.connected = true;
        pthread_cond_broadcast(&win.cv);
        pthread_mutex_unlock(&win.mu);
    }
}

static double run_aioe(const aioe_endpoint *ep, unsigned long n, const char *payload,
                       bool builder)
{
    aioe_session_options *o;
    aioe_session_options_new(&o);
    aioe_session_options_set_state_callback(o, on_state, NULL);
    aioe_session *s;
    if (aioe_session_new(&s, ep, builder ? "builder" : "plain", o) != AIOE_OK)
        exit(1);
    aioe_session_options_free(o);
    win.connected = false;
    if (aioe_session_start(s) != AIOE_OK)
        exit(1);
    pthread_mutex_lock(&win.mu);
    while (!win.connected)
        pthread_cond_wait(&win.cv, &win.mu);
    pthread_mutex_unlock(&win.mu);

    aioe_message_builder *mb = NULL;
    aioe_message_builder_new(&mb);
    double t0 = now();
    for (unsigned long i = 0; i < n; i++) {
        win_acquire();
        int rc;
        for (;;) {
            if (builder) {
                aioe_message_builder_reset(mb);
                aioe_message_builder_set_topic(mb, "bench/publish", 13);
                aioe_message_builder_set_payload(mb, payload, PAYLOAD);
                aioe_message_builder_set_content_type(mb, "application/json", 16);
                aioe_message_builder_add_user_property(mb, "site", 4, "plant-7", 7);
                aioe_message_builder_add_user_property(mb, "line", 4, "4", 1);
                aioe_message_builder_add_user_property(mb, "traceparent", 11,
                                                       "00-0af7651916cd43dd-00", 22);
                rc = aioe_session_publish_message(s, mb, aioe_done, NULL);
            } else {
                rc = aioe_session_publish(s, "bench/publish", payload, PAYLOAD, 1, false,
                                          aioe_done, NULL);
            }
            if (rc != AIOE_ERR_WOULD_BLOCK)
                break;
            /* the library's window may lag ours by a callback: wait for one */
            pthread_mutex_lock(&win.mu);
            unsigned long d = win.done;
            while (win.done == d && win.outstanding > 1)
                pthread_cond_wait(&win.cv, &win.mu);
            pthread_mutex_unlock(&win.mu);
        }
        if (rc != AIOE_OK)
            win_done(false);
    }
    win_drain();
    double t = now() - t0;
    aioe_message_builder_free(mb);
    aioe_session_stop(s, 5000);
    aioe_session_free(s);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-publish PORT [MESSAGES] [ROUNDS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    char uri[64], yaml[1024];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    snprintf(yaml, sizeof yaml,
             "apiVersion: connectivity.iotoperations.azure.com/v1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: bench\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: 127.0.0.1:%d\n"
             "    authentication: {method: Anonymous}\n"
             "    tls: {mode: Disabled}\n"
             "    maxInflightMessages: %d\n", port, WINDOW);
    aioe_parse_result *res = NULL;
    if (aioe_parse_buffer(yaml, strlen(yaml), "bench", NULL, &res) != AIOE_OK)
        return 1;
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    char payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);

    double best[4] = { 1e9, 1e9, 1e9, 1e9 };
    const char *modes = getenv("BENCH_PUBLISH_MODES"); /* e.g. "1": aioe only */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 4; k++) {
            if (modes && !strchr(modes, '0' + k))
                continue;
            double t = k & 1 ? run_aioe(ep, n, payload, k >= 2) : run_paho(uri, n, payload, k >= 2);
            if (t < best[k])
                best[k] = t;
        }
    }
    static const char *const names[4] = { "raw-paho", "aioe", "raw-paho+props",
                                           "aioe-builder" };
    printf("%lu QoS 1 messages of %d bytes, window %d, best of %d rounds\n", n, PAYLOAD, WINDOW,
           rounds);
    /* each library row against the raw Paho row above it */
    for (int k = 0; k < 4; k++)
        if (!modes || strchr(modes, '0' + k))
            printf("%-15s %8.0f msg/s  (%.3f s)  ratio to raw Paho %.3f\n", names[k],
               (double)n / best[k], best[k], best[k & ~1] / best[k]);
    printf("failed completions: %lu\n", win.failed);
    aioe_parse_result_free(res);
    return win.failed ? 1 : 0;
}
