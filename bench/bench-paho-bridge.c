/* bench-paho-bridge: the least a bridge built on Paho MQTT C can cost.
 *
 * A reference point for bench/bridge-bench.sh (BRIDGES="paho"), not a
 * product: two MQTTAsync clients, a subscription on A, and inside the
 * message callback one MQTTAsync_sendMessage() to B with the topic prefix
 * rewritten (bench/in/X -> out/X). No store, no CloudEvents stage, no
 * properties, no flow control beyond Paho's own buffer, no reconnect.
 * Paho's trace level is ERROR, as libaioendpoint sets it. What aioe-bridge
 * costs above this is ours; what this costs is Paho's.
 *
 *   bench-paho-bridge A_PORT B_PORT QOS [INFLIGHT]
 *
 * Prints "subscribed to bench/in/#" on stderr once both sides are up, then
 * runs until SIGTERM/SIGINT. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "paho-ref.h"

static MQTTAsync g_dst;
static int g_qos;

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    (void)ctx;
    char out[256];
    if (ref_out_topic(topic, topic_len, out, sizeof out)) {
        MQTTAsync_message pm = MQTTAsync_message_initializer;
        pm.payload = m->payload;
        pm.payloadlen = m->payloadlen;
        pm.qos = g_qos;
        int rc = MQTTAsync_sendMessage(g_dst, out, &pm, NULL);
        if (rc != MQTTASYNC_SUCCESS)
            fprintf(stderr, "bench-paho-bridge: sendMessage: %d\n", rc);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_subscribed(void *ctx, MQTTAsync_successData5 *d)
{
    (void)ctx;
    (void)d;
    fprintf(stderr, "subscribed to bench/in/#\n");
}

static void on_fail(void *ctx, MQTTAsync_failureData5 *d)
{
    fprintf(stderr, "bench-paho-bridge: %s failed: %d %s\n", (const char *)ctx,
            d ? d->code : 0, d && d->message ? d->message : "");
    exit(1);
}

static void on_src_fail(void *ctx, MQTTAsync_failureData5 *d)
{
    (void)ctx;
    on_fail("connect A", d);
}

static void on_src_connected(void *ctx, MQTTAsync_successData5 *d)
{
    (void)d;
    MQTTAsync src = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess5 = on_subscribed;
    ro.onFailure5 = on_fail;
    ro.context = "subscribe";
    if (MQTTAsync_subscribe(src, "bench/in/#", g_qos, &ro) != MQTTASYNC_SUCCESS)
        exit(1);
}

static void on_dst_connected(void *ctx, MQTTAsync_successData5 *d)
{
    (void)d;
    (void)ctx;
}

static MQTTAsync make(const char *port, const char *id)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%s", port);
    MQTTAsync c;
    MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer5;
    cr.sendWhileDisconnected = 1;
    cr.maxBufferedMessages = 1000000;
    if (MQTTAsync_createWithOptions(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cr) !=
        MQTTASYNC_SUCCESS)
        exit(1);
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-paho-bridge A_PORT B_PORT QOS [INFLIGHT]\n");
        return 2;
    }
    g_qos = atoi(argv[3]);
    MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
    int inflight = argc > 4 ? atoi(argv[4]) : 1000;
    sigset_t stop_signals;
    ref_block_stop_signals(&stop_signals);

    MQTTAsync src = make(argv[1], "bench-paho-src");
    g_dst = make(argv[2], "bench-paho-dst");
    MQTTAsync_setCallbacks(src, NULL, NULL, on_message, NULL);

    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    co.cleanstart = 1;
    co.keepAliveInterval = 60;
    co.maxInflight = inflight;
    co.onFailure5 = on_fail;
    co.context = "connect B";
    co.onSuccess5 = on_dst_connected;
    if (MQTTAsync_connect(g_dst, &co) != MQTTASYNC_SUCCESS)
        return 1;
    co.context = src;
    co.onSuccess5 = on_src_connected;
    co.onFailure5 = on_src_fail;
    if (MQTTAsync_connect(src, &co) != MQTTASYNC_SUCCESS)
        return 1;
    ref_wait_stop(&stop_signals);
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnect(src, &dopt);
    MQTTAsync_disconnect(g_dst, &dopt);
    MQTTAsync_destroy(&src);
    MQTTAsync_destroy(&g_dst);
    return 0;
}
