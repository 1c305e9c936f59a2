/* bench-mosq-floor: the floor row of bench/bridge-bench.sh (BRIDGES="floor").
 *
 * Measurement only, never part of the product: libaioendpoint and
 * aioe-bridge never link libmosquitto. This is the cheapest out-of-process
 * forwarder a C MQTT client allows on this machine, so that aioe-bridge and
 * the raw Paho rows can be read as a ratio to it: one thread, two
 * libmosquitto 2.0.11 clients (MQTT v5), one poll() loop over both sockets.
 * It subscribes to bench/in/# on broker A at QOS and, inside the message
 * callback, publishes the payload to broker B at QOS as out/X (the same
 * rewrite as the other rows). B's in-flight window is INFLIGHT (libmosquitto
 * queues what does not fit); no store, no properties, no reconnect.
 *
 * No end-to-end acknowledgement: libmosquitto 2.0.11 has no manual-ack API
 * (mosquitto.h has no call to defer or send a PUBACK; manual acks arrived
 * in a later libmosquitto). It acknowledges A's QoS 1 PUBLISH by itself
 * while handling it, whatever happens to the copy sent to B. aioe-bridge
 * acknowledges A only once the message is in its store, so this row is a
 * lower bound on what a lossless forwarder can cost, not an equal.
 *
 *   bench-mosq-floor A_PORT B_PORT QOS [INFLIGHT]
 *
 * Prints "subscribed to bench/in/#" on stderr once the subscription on A is
 * granted and B is connected, then runs until SIGTERM/SIGINT and prints the
 * number of messages forwarded. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "paho-ref.h" /* ref_out_topic(): the topic rewrite every row does */

typedef struct floor_state {
    struct mosquitto *src, *dst;
    int qos;
    bool subscribed, dst_connected, announced;
    unsigned long forwarded, failed;
} floor_state;

static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-mosq-floor: %s: %s\n", what, mosquitto_strerror(rc));
    exit(1);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)m;
    (void)props;
    floor_state *st = ud;
    char out[256];
    if (!ref_out_topic(msg->topic, 0, out, sizeof out))
        return;
    /* B's client is not inside a callback, so libmosquitto writes the
     * PUBLISH now when the socket takes it, or queues it (window full,
     * socket full) for the loop below. */
    int rc = mosquitto_publish_v5(st->dst, NULL, out, msg->payloadlen, msg->payload, st->qos,
                                  false, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        st->forwarded++;
    else if (st->failed++ == 0)
        fprintf(stderr, "bench-mosq-floor: publish to B: %s\n", mosquitto_strerror(rc));
}

static void on_src_connect(struct mosquitto *m, void *ud, int rc, int flags,
                           const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    floor_state *st = ud;
    if (rc != 0) {
        fprintf(stderr, "bench-mosq-floor: A refused the connection: %d\n", rc);
        exit(1);
    }
    rc = mosquitto_subscribe_v5(m, NULL, "bench/in/#", st->qos, 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        die("subscribe on A", rc);
}

static void on_src_subscribe(struct mosquitto *m, void *ud, int mid, int count,
                             const int *granted, const mosquitto_property *props)
{
    (void)m;
    (void)mid;
    (void)props;
    floor_state *st = ud;
    if (count < 1 || granted[0] > 2) {
        fprintf(stderr, "bench-mosq-floor: A refused the subscription\n");
        exit(1);
    }
    st->subscribed = true;
}

static void on_dst_connect(struct mosquitto *m, void *ud, int rc, int flags,
                           const mosquitto_property *props)
{
    (void)m;
    (void)flags;
    (void)props;
    floor_state *st = ud;
    if (rc != 0) {
        fprintf(stderr, "bench-mosq-floor: B refused the connection: %d\n", rc);
        exit(1);
    }
    st->dst_connected = true;
}

static struct mosquitto *make(const char *id, floor_state *st, int inflight)
{
    struct mosquitto *m = mosquitto_new(id, true, st);
    if (!m) {
        fprintf(stderr, "bench-mosq-floor: mosquitto_new failed\n");
        exit(1);
    }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, inflight);
    mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, inflight);
    return m;
}

/* One pass over a client's socket: read what poll() reported, write what
 * libmosquitto has queued, keep-alive. Any error ends the benchmark. */
static void service(struct mosquitto *m, short revents, const char *side)
{
    int rc;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        rc = mosquitto_loop_read(m, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            die(side, rc);
    }
    if (mosquitto_want_write(m)) {
        rc = mosquitto_loop_write(m, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            die(side, rc);
    }
    rc = mosquitto_loop_misc(m);
    if (rc != MOSQ_ERR_SUCCESS)
        die(side, rc);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-mosq-floor A_PORT B_PORT QOS [INFLIGHT]\n");
        return 2;
    }
    floor_state st = {.qos = atoi(argv[3])};
    int inflight = argc > 4 ? atoi(argv[4]) : 1000;
    if (st.qos < 0 || st.qos > 1 || inflight < 1 || inflight > 65535) {
        fprintf(stderr, "bench-mosq-floor: QOS is 0 or 1, INFLIGHT 1..65535\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mosquitto_lib_init();
    st.src = make("bench-floor-src", &st, inflight);
    st.dst = make("bench-floor-dst", &st, inflight);
    mosquitto_connect_v5_callback_set(st.src, on_src_connect);
    mosquitto_subscribe_v5_callback_set(st.src, on_src_subscribe);
    mosquitto_message_v5_callback_set(st.src, on_message);
    mosquitto_connect_v5_callback_set(st.dst, on_dst_connect);
    int rc = mosquitto_connect_bind_v5(st.dst, "127.0.0.1", atoi(argv[2]), 60, NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        die("connect B", rc);
    rc = mosquitto_connect_bind_v5(st.src, "127.0.0.1", atoi(argv[1]), 60, NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        die("connect A", rc);

    struct mosquitto *clients[2] = {st.src, st.dst};
    static const char *const sides[2] = {"broker A", "broker B"};
    while (!g_stop) {
        struct pollfd pfd[2];
        for (int i = 0; i < 2; i++) {
            pfd[i].fd = mosquitto_socket(clients[i]);
            pfd[i].events = (short)(POLLIN | (mosquitto_want_write(clients[i]) ? POLLOUT : 0));
            pfd[i].revents = 0;
        }
        if (poll(pfd, 2, 1000) < 0) {
            if (errno == EINTR)
                continue;
            perror("bench-mosq-floor: poll");
            return 1;
        }
        for (int i = 0; i < 2; i++)
            service(clients[i], pfd[i].revents, sides[i]);
        if (!st.announced && st.subscribed && st.dst_connected) {
            st.announced = true;
            fprintf(stderr, "subscribed to bench/in/#\n");
        }
    }
    fprintf(stderr, "bench-mosq-floor: forwarded %lu, failed %lu\n", st.forwarded, st.failed);
    mosquitto_disconnect_v5(st.src, 0, NULL);
    mosquitto_disconnect_v5(st.dst, 0, NULL);
    mosquitto_destroy(st.src);
    mosquitto_destroy(st.dst);
    mosquitto_lib_cleanup();
    return 0;
}
