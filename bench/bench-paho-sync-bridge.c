/* bench-paho-sync-bridge: the same floor as bench-paho-bridge, on Paho's
 * synchronous MQTTClient API (libpaho-mqtt3c) instead of MQTTAsync.
 *
 * MQTTClient_publishMessage5() writes the PUBLISH on the calling thread,
 * with no hand-off to a send thread. It must not be called from the message
 * callback: MQTTClient has one reader thread for the whole process, which
 * both delivers A's messages and reads B's PUBACKs, and a publish blocks
 * while B's in-flight window is full, so publishing from the callback
 * deadlocks as soon as the window fills. The callback therefore copies the
 * message into a queue and one publisher thread sends it (the one hand-off
 * a real bridge on this API would need too). No store, no properties, no
 * reconnect. bench/bridge-bench.sh runs it with BRIDGES="pahosync".
 *
 *   bench-paho-sync-bridge A_PORT B_PORT QOS [INFLIGHT]
 *
 * Prints "subscribed to bench/in/#" on stderr once both sides are up, then
 * runs until SIGTERM/SIGINT. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <MQTTClient.h>

#include "paho-ref.h"

typedef struct item {
    struct item *next;
    int len;
    char topic[128];
    char payload[];
} item;

static MQTTClient g_dst;
static int g_qos;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static item *g_head, *g_tail;
static bool g_quit;

static int on_message(void *ctx, char *topic, int topic_len, MQTTClient_message *m)
{
    (void)ctx;
    item *it = malloc(sizeof *it + (size_t)m->payloadlen);
    if (it && ref_out_topic(topic, topic_len, it->topic, sizeof it->topic)) {
        it->next = NULL;
        it->len = m->payloadlen;
        memcpy(it->payload, m->payload, (size_t)m->payloadlen);
        pthread_mutex_lock(&g_mu);
        if (g_tail)
            g_tail->next = it;
        else
            g_head = it;
        g_tail = it;
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
    } else {
        free(it);
    }
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
}

/* Takes the whole queue at once, publishes it in order. */
static void *publisher(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_mu);
        while (!g_head && !g_quit)
            pthread_cond_wait(&g_cv, &g_mu);
        item *it = g_head;
        g_head = g_tail = NULL;
        bool quit = g_quit;
        pthread_mutex_unlock(&g_mu);
        while (it) {
            item *next = it->next;
            MQTTClient_message pm = MQTTClient_message_initializer;
            pm.payload = it->payload;
            pm.payloadlen = it->len;
            pm.qos = g_qos;
            MQTTClient_deliveryToken tok;
            MQTTResponse r = MQTTClient_publishMessage5(g_dst, it->topic, &pm, &tok);
            if (r.reasonCode != MQTTCLIENT_SUCCESS)
                fprintf(stderr, "bench-paho-sync-bridge: publish: %d\n", r.reasonCode);
            MQTTResponse_free(r);
            free(it);
            it = next;
        }
        if (quit)
            return NULL;
    }
}

static void on_lost(void *ctx, char *cause)
{
    (void)ctx;
    fprintf(stderr, "bench-paho-sync-bridge: connection lost: %s\n", cause ? cause : "");
    exit(1);
}

static int on_dst_message(void *ctx, char *topic, int len, MQTTClient_message *m)
{
    (void)ctx;
    (void)len;
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
}

static void on_delivered(void *ctx, MQTTClient_deliveryToken tok)
{
    (void)ctx;
    (void)tok;
}

static MQTTClient make(const char *port, const char *id)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%s", port);
    MQTTClient c;
    MQTTClient_createOptions cr = MQTTClient_createOptions_initializer;
    cr.MQTTVersion = MQTTVERSION_5;
    if (MQTTClient_createWithOptions(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cr) !=
        MQTTCLIENT_SUCCESS)
        exit(1);
    return c;
}

/* Exits on a failed response, freeing it first. */
static void check(MQTTResponse r, int want, const char *what)
{
    int code = (int)r.reasonCode;
    MQTTResponse_free(r);
    if (code != want) {
        fprintf(stderr, "bench-paho-sync-bridge: %s: %d\n", what, code);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-paho-sync-bridge A_PORT B_PORT QOS [INFLIGHT]\n");
        return 2;
    }
    g_qos = atoi(argv[3]);
    int inflight = argc > 4 ? atoi(argv[4]) : 1000;
    sigset_t stop_signals;
    ref_block_stop_signals(&stop_signals);
    MQTTClient_setTraceLevel(MQTTCLIENT_TRACE_ERROR);

    MQTTClient src = make(argv[1], "bench-paho-sync-src");
    g_dst = make(argv[2], "bench-paho-sync-dst");
    MQTTClient_setCallbacks(src, NULL, on_lost, on_message, NULL);
    MQTTClient_setCallbacks(g_dst, NULL, on_lost, on_dst_message, on_delivered);
    pthread_t pub;
    if (pthread_create(&pub, NULL, publisher, NULL) != 0)
        return 1;

    MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer5;
    co.cleanstart = 1;
    co.keepAliveInterval = 60;
    co.maxInflightMessages = inflight;
    check(MQTTClient_connect5(g_dst, &co, NULL, NULL), MQTTCLIENT_SUCCESS, "connect B");
    check(MQTTClient_connect5(src, &co, NULL, NULL), MQTTCLIENT_SUCCESS, "connect A");
    check(MQTTClient_subscribe5(src, "bench/in/#", g_qos, NULL, NULL), g_qos, "subscribe");
    fprintf(stderr, "subscribed to bench/in/#\n");
    ref_wait_stop(&stop_signals);

    MQTTClient_disconnect5(src, 1000, MQTTREASONCODE_SUCCESS, NULL);
    pthread_mutex_lock(&g_mu);
    g_quit = true;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(pub, NULL);
    MQTTClient_disconnect5(g_dst, 1000, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_destroy(&src);
    MQTTClient_destroy(&g_dst);
    return 0;
}
