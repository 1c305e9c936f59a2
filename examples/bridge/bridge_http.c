/* aioe-bridge's HTTP endpoint (bridge_http.h), on libmicrohttpd: one
 * internal polling thread (epoll), a per-connection timeout and a
 * connection limit, so clients that stall or send garbage are dropped by
 * the server without involving the bridge's threads. */
#define _GNU_SOURCE /* open_memstream */
#include "bridge_http.h"
#include "bridge_log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct bridge_http {
    struct MHD_Daemon *daemon;
    /* a private copy of the instance list, replaced on SIGHUP; held for
     * the length of one snapshot */
    pthread_mutex_t mu;
    bridge_instance **inst;
    size_t n;
};

/* ---- /metrics ---- */

/* Label values are dataflow names (DNS labels), escaped anyway as the
 * exposition format says: backslash, double quote and newline. */
static void put_label(FILE *to, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(to, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", to);
        else
            fputc(*v, to);
    }
}

static void put_labels(FILE *to, bridge_instance *bi, const char *extra_k, const char *extra_v)
{
    fputs("{dataflow=\"", to);
    put_label(to, bridge_instance_dataflow_name(bi));
    fprintf(to, "\",instance=\"%u\"", bridge_instance_index(bi));
    if (extra_k)
        fprintf(to, ",%s=\"%s\"", extra_k, extra_v);
    fputc('}', to);
}

typedef struct metric {
    const char *name;
    const char *type;           /* counter or gauge */
    const char *help;
    const char *label;          /* NULL or the extra label's name */
    struct { const char *value; size_t off; bool is_bool; } series[6];
} metric;

#define U64(f) offsetof(bridge_stats, f), false
#define BOOL(f) offsetof(bridge_stats, f), true

static const metric metrics[] = {
    {"aioe_bridge_received_messages_total", "counter",
     "Messages the pump took from the durable store (each delivery from the source once).",
     NULL, {{NULL, U64(received)}}},
    {"aioe_bridge_stored_messages_total", "counter",
     "Messages appended to the durable store.", NULL, {{NULL, U64(stored)}}},
    {"aioe_bridge_forwarded_messages_total", "counter",
     "Messages the destination acknowledged.", NULL, {{NULL, U64(forwarded)}}},
    {"aioe_bridge_duplicates_suspected_total", "counter",
     "Messages sent again after a restart or an unconfirmed publish (may be duplicates).",
     NULL, {{NULL, U64(duplicates_suspected)}}},
    {"aioe_bridge_dropped_messages_total", "counter",
     "Messages dropped, by reason.", "reason",
     {{"unresolved", U64(dropped_unresolved)}, {"rejected", U64(dropped_rejected)},
      {"invalid", U64(dropped_invalid)}, {"qos0", U64(dropped_qos0)},
      {"filtered", U64(dropped_filtered)}, {"untransformable", U64(dropped_untransformable)}}},
    {"aioe_bridge_transform_eval_errors_total", "counter",
     "Transformation rule evaluations that failed.", NULL, {{NULL, U64(transform_eval_errors)}}},
    {"aioe_bridge_store_errors_total", "counter",
     "Appends the durable store could not make at once (held, never acknowledged unstored).",
     NULL, {{NULL, U64(store_errors)}}},
    {"aioe_bridge_store_lost_records_total", "counter",
     "Records found damaged when the store was opened.", NULL, {{NULL, U64(store_lost)}}},
    {"aioe_bridge_reconnects_total", "counter",
     "Reconnections after the first connection, per side.", "side",
     {{"source", U64(reconnects_source)}, {"destination", U64(reconnects_destination)}}},
    {"aioe_bridge_pauses_total", "counter",
     "Times the source was paused at the store's high-water mark.", NULL, {{NULL, U64(pauses)}}},
    {"aioe_bridge_store_bytes", "gauge",
     "Bytes of unacknowledged messages in the durable store.", NULL, {{NULL, U64(store_bytes)}}},
    {"aioe_bridge_store_messages", "gauge",
     "Unacknowledged messages in the durable store.", NULL, {{NULL, U64(store_undone)}}},
    {"aioe_bridge_in_flight_messages", "gauge",
     "Destination publishes awaiting their PUBACK.", NULL, {{NULL, U64(in_flight)}}},
    {"aioe_bridge_queued_messages", "gauge",
     "Messages waiting for the pump.", NULL, {{NULL, U64(queued)}}},
    {"aioe_bridge_store_over_limit", "gauge",
     "1 while the store holds more than --max-store-bytes.", NULL, {{NULL, U64(over_limit)}}},
    {"aioe_bridge_paused", "gauge",
     "1 while the source is paused.", NULL, {{NULL, BOOL(paused)}}},
    {"aioe_bridge_connected", "gauge",
     "1 while the side's session is connected.", "side",
     {{"source", BOOL(source_connected)}, {"destination", BOOL(destination_connected)}}},
};

static void write_latency(FILE *to, bridge_instance *const *inst, size_t n)
{
    const char *name = "aioe_bridge_forward_latency_seconds";
    fprintf(to, "# HELP %s Time from the pump taking a message from the store to the "
                "destination's PUBACK.\n# TYPE %s histogram\n", name, name);
    for (size_t i = 0; i < n; i++) {
        bridge_latency l;
        bridge_instance_latency(inst[i], &l);
        uint64_t cum = 0;
        for (size_t k = 0; k <= BRIDGE_LATENCY_BOUNDS; k++) {
            cum += l.bucket[k];
            char le[32];
            if (k < BRIDGE_LATENCY_BOUNDS)
                snprintf(le, sizeof le, "%g", bridge_latency_bounds_s[k]);
            else
                snprintf(le, sizeof le, "+Inf");
            fprintf(to, "%s_bucket", name);
            put_labels(to, inst[i], "le", le);
            fprintf(to, " %llu\n", (unsigned long long)cum);
        }
        fprintf(to, "%s_sum", name);
        put_labels(to, inst[i], NULL, NULL);
        fprintf(to, " %.6f\n%s_count", (double)l.sum_us / 1e6, name);
        put_labels(to, inst[i], NULL, NULL);
        fprintf(to, " %llu\n", (unsigned long long)cum);
    }
}

void bridge_metrics_write(FILE *to, bridge_instance *const *inst, size_t n)
{
    bridge_stats *st = calloc(n ? n : 1, sizeof *st);
    if (!st)
        return;
    for (size_t i = 0; i < n; i++)
        bridge_instance_stats(inst[i], &st[i]);
    for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
        const metric *mt = &metrics[m];
        fprintf(to, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help, mt->name, mt->type);
        for (size_t i = 0; i < n; i++) {
            for (size_t s = 0; s < 6 && (s == 0 || mt->series[s].value); s++) {
                const unsigned char *base = (const unsigned char *)&st[i] + mt->series[s].off;
                unsigned long long v;
                if (mt->series[s].is_bool) {
                    bool b;
                    memcpy(&b, base, sizeof b);
                    v = b;
                } else {
                    uint64_t u;
                    memcpy(&u, base, sizeof u);
                    v = u;
                }
                fputs(mt->name, to);
                put_labels(to, inst[i], mt->label, mt->series[s].value);
                fprintf(to, " %llu\n", v);
            }
        }
    }
    write_latency(to, inst, n);
    free(st);
}

bool bridge_instances_ready(bridge_instance *const *inst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bridge_stats s;
        bridge_instance_stats(inst[i], &s);
        if (!s.source_connected || !s.destination_connected || s.paused)
            return false;
    }
    return true;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             char *body, size_t len)
{
    /* the body is ours: libmicrohttpd frees it after sending */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    char *b = strdup(text);
    if (!b)
        return MHD_NO;
    return reply(c, code, "text/plain; charset=utf-8", b, strlen(b));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    bridge_http *h = cls;
    if (!*con_cls) {
        /* first call: headers only; answer on the next one */
        static int marker;
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body is read and ignored */
        return MHD_YES;
    }
    bool head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (!strcmp(url, "/metrics")) {
        char *body = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);
        if (!f)
            return MHD_NO;
        pthread_mutex_lock(&h->mu);
        bridge_metrics_write(f, h->inst, h->n);
        pthread_mutex_unlock(&h->mu);
        if (fclose(f) != 0) {
            free(body);
            return MHD_NO;
        }
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
    if (!strcmp(url, "/healthz"))
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (!strcmp(url, "/readyz")) {
        pthread_mutex_lock(&h->mu);
        bool ready = bridge_instances_ready(h->inst, h->n);
        pthread_mutex_unlock(&h->mu);
        return reply_text(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                          ready ? "ready\n" : "not ready: a session is not connected or "
                                              "the source is paused\n");
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: /metrics, /healthz, /readyz\n");
}

/* libmicrohttpd's own messages (mostly clients that sent a malformed
 * request or went away): debug lines, so scanners cannot flood the log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    bridge_log_v(AIOE_LOG_DEBUG, fmt, ap);
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
                      char *err, size_t errlen)
{
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host)
            goto bad;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = 0;
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host)
            goto bad;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = 0;
        port = colon + 1;
    }
    if (!*port)
        goto bad;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "--metrics-addr %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
bad:
    snprintf(err, errlen, "--metrics-addr %s: need HOST:PORT, [IPV6]:PORT or :PORT", addr);
    return -1;
}

int bridge_http_start(bridge_http **out, const char *addr, bridge_instance *const *inst,
                      size_t n, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_addr(addr, &ss, &sslen, err, errlen) != 0)
        return -1;
    bridge_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&h->mu, NULL);
    if (bridge_http_set_instances(h, inst, n) != 0) {
        snprintf(err, errlen, "out of memory");
        pthread_mutex_destroy(&h->mu);
        free(h);
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    h->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "--metrics-addr %s: cannot listen (address in use or not "
                 "local?)", addr);
        free(h->inst);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

void bridge_http_stop(bridge_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h->inst);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int bridge_http_set_instances(bridge_http *h, bridge_instance *const *inst, size_t n)
{
    if (!h)
        return 0;
    bridge_instance **copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return -1;
    if (n)
        memcpy(copy, inst, n * sizeof *copy);
    pthread_mutex_lock(&h->mu);
    bridge_instance **old = h->inst;
    h->inst = copy;
    h->n = n;
    pthread_mutex_unlock(&h->mu);
    free(old);
    return 0;
}
