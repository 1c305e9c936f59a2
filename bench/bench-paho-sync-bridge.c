/* bench-paho-sync-bridge: the same floor as bench-paho-bridge, on Paho's
 * synchronous MQTTClient API (libpaho-mqtt3c) instead of MQTTAsync.
 *
 * MQTTClient_publishMessage5() writes the PUBLISH on the calling thread
 * (here: the source client's receive thread, inside its message callback),
 * so there is no hand-off to a send thread; PUBACKs from B are read by the
 * destination client's own background thread. bench/bridge-bench.sh runs
 * it with BRIDGES="pahosync". No store, no properties, no reconnect.
 *
 *   bench-paho-sync-bridge A_PORT B_PORT QOS [INFLIGHT]
 *
 * Prints "subscribed to bench/in/#" on stderr once both sides are up, then
 * runs until SIGTERM/SIGINT. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "paho-ref.h"

static MQTTClient g_dst;
static int g_qos;

static int on_message(void *ctx, char *topic, int topic_len, MQTTClient_message *m)
{
    (void)ctx;
    char out[256];
    if (ref_out_topic(topic, topic_len, out, sizeof out)) {
        MQTTClient_message pm = MQTTClient_message_initializer;
        pm.payload = m->payload;
        pm.payloadlen = m->payloadlen;
        pm.qos = g_qos;
        MQTTClient_deliveryToken tok;
        /* blocks while B's in-flight window is full: back-pressure on A */
        MQTTResponse r = MQTTClient_publishMessage5(g_dst, out, &pm, &tok);
        if (r.reasonCode != MQTTCLIENT_SUCCESS)
            fprintf(stderr, "bench-paho-sync-bridge: publish: %d\n", r.reasonCode);
        MQTTResponse_free(r);
    }
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-paho-sync-bridge A_PORT B_PORT QOS [INFLIGHT]\n");
        return 2;
    }
    g_qos = atoi(argv[3]);
    int inflight = argc > 4 ? atoi(argv[4]) : 1000;
    MQTTClient_setTraceLevel(MQTTCLIENT_TRACE_ERROR);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);

    MQTTClient src = make(argv[1], "bench-paho-sync-src");
    g_dst = make(argv[2], "bench-paho-sync-dst");
    MQTTClient_setCallbacks(src, NULL, on_lost, on_message, NULL);
    MQTTClient_setCallbacks(g_dst, NULL, on_lost, on_dst_message, on_delivered);

    MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer5;
    co.cleanstart = 1;
    co.keepAliveInterval = 60;
    co.maxInflightMessages = inflight;
    MQTTResponse r = MQTTClient_connect5(g_dst, &co, NULL, NULL);
    if (r.reasonCode != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "bench-paho-sync-bridge: connect B: %d\n", r.reasonCode);
        return 1;
    }
    MQTTResponse_free(r);
    r = MQTTClient_connect5(src, &co, NULL, NULL);
    if (r.reasonCode != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "bench-paho-sync-bridge: connect A: %d\n", r.reasonCode);
        return 1;
    }
    MQTTResponse_free(r);
    r = MQTTClient_subscribe5(src, "bench/in/#", g_qos, NULL, NULL);
    if ((int)r.reasonCode != g_qos) {
        fprintf(stderr, "bench-paho-sync-bridge: subscribe: %d\n", r.reasonCode);
        return 1;
    }
    MQTTResponse_free(r);
    fprintf(stderr, "subscribed to bench/in/#\n");
    while (!g_stop)
        pause();
    MQTTClient_disconnect5(src, 1000, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_disconnect5(g_dst, 1000, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_destroy(&src);
    MQTTClient_destroy(&g_dst);
    return 0;
}
