/* aioe-bridge operated as a service (docs/operations.md), against real
 * mosquitto brokers, scraped with a real HTTP client (curl):
 *
 * - metrics_during_stream: /healthz answers, /readyz turns 200 once both
 *   sides are connected; a QoS 1 stream is forwarded while /metrics is
 *   scraped repeatedly and while one client holds a half-sent request
 *   and another sent garbage; the counters only grow, and at the end
 *   received, forwarded and the latency histogram's count equal what the
 *   subscriber on the destination saw; /readyz turns 503 and the
 *   connected gauge 0 when the destination broker stops; every log line
 *   is a JSON object with ts, level and msg (--log-format json)
 * - sighup: SIGHUP reopens --log-file (after a logrotate-style rename the
 *   new lines go to a new file), and a YAML file that no longer validates
 *   is refused with its errors logged while forwarding goes on
 * - sd_notify: with NOTIFY_SOCKET naming a datagram socket the test binds
 *   and WATCHDOG_USEC set, the bridge sends STATUS=, then READY=1 once
 *   both sides are connected, WATCHDOG=1 pings, RELOADING=1 then READY=1
 *   around SIGHUP, and STOPPING=1 at SIGTERM (built with libsystemd only)
 * - bad_options: --metrics-addr that cannot be listened on exits 3,
 *   --log-format other than text/json exits 2; text log lines carry a
 *   timestamp and a level
 *
 * The bridge runs as a child process (AIOE_BRIDGE); every wait is on a
 * condition with a deadline. */
#include "bridge-fixture.h" /* first: it defines _GNU_SOURCE */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#define STREAM 600
#define CHUNK 100

/* ---- YAML ---- */

static char *bridge_yaml(const char *name, int src_port, int dst_port)
{
    char *s = NULL;
    assert_true(asprintf(&s,
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: site\n"
        "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:%d\n"
        "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n"
        "    tls:\n      mode: Disabled\n    clientIdPrefix: t-\n"
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: cloud\n"
        "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:%d\n"
        "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n"
        "    tls:\n      mode: Disabled\n    clientIdPrefix: t-\n"
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: Dataflow\nmetadata:\n  name: %s\n"
        "spec:\n  operations:\n"
        "    - operationType: Source\n      sourceSettings:\n"
        "        endpointRef: site\n        dataSources: [\"factory/#\"]\n"
        "    - operationType: Destination\n      destinationSettings:\n"
        "        endpointRef: cloud\n        dataDestination: cloud/${inputTopic}\n",
        src_port, dst_port, name) > 0);
    char *path = harness_path("ops.yaml");
    assert_int_equal(harness_write_file(path, s, strlen(s)), 0);
    free(s);
    return path;
}

/* the bridge process: bridge-fixture.h (bridge_spawn, bridge_wait_exit) */

/* ---- curl ---- */

typedef struct http_reply {
    long code;  /* 0: no answer */
    char *body; /* owned */
} http_reply;

static http_reply curl_get(int port, const char *path)
{
    static int n;
    char name[64];
    snprintf(name, sizeof name, "curl-%d.out", ++n);
    char *out = harness_path(name);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "curl -s --max-time 10 -o '%s' -w '%%{http_code}' "
                               "'http://127.0.0.1:%d%s'", out, port, path) > 0);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    http_reply r = {0};
    if (fscanf(p, "%ld", &r.code) != 1)
        r.code = 0;
    pclose(p);
    r.body = harness_read_file(out, NULL);
    unlink(out);
    free(out);
    free(cmd);
    return r;
}

/* Value of the sample @p series ("name{labels}") in @p text, or -1. */
static double metric(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, series, len) && p[len] == ' ')
            return strtod(p + len + 1, NULL);
    }
    return -1;
}

typedef struct scrape_wait {
    int port;
    const char *path;
    long code;
    const char *series;
    double value;
} scrape_wait;

static bool scrape_matches(void *arg)
{
    scrape_wait *w = arg;
    http_reply r = curl_get(w->port, w->path);
    bool ok = r.code == w->code && (!w->series || (r.body && metric(r.body, w->series) == w->value));
    free(r.body);
    return ok;
}

#define S(name, extra) name "{dataflow=\"ops\",instance=\"0\"" extra "}"

/* ---- misbehaving HTTP clients ---- */

static int raw_client(int port, const char *send_bytes, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, send_bytes, len, MSG_NOSIGNAL), (ssize_t)len);
    return fd;
}

/* ---- observer bookkeeping ---- */

/* ---- tests ---- */

static void test_metrics_during_stream(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.persistence = true;
    broker *a, *b;
    assert_int_equal(broker_start(&cfg, &a), 0);
    assert_int_equal(broker_start(&cfg, &b), 0);
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    char *oid = harness_unique("obs");
    co.client_id = oid;
    observer *o = NULL;
    assert_int_equal(observer_connect(&co, "cloud/#", 1, &o), 0);

    char *yaml = bridge_yaml("ops", broker_port(a, 0), broker_port(b, 0));
    char *sd = harness_mkdir("state-ops");
    int port = harness_free_port();
    assert_true(port > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", "--metrics-addr",
                          addr, "--log-format", "json", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);

    scrape_wait health = {port, "/healthz", 200, NULL, 0};
    assert_true(harness_wait_until(scrape_matches, &health, WAIT_MS));
    scrape_wait ready = {port, "/readyz", 200, NULL, 0};
    assert_true(harness_wait_until(scrape_matches, &ready, WAIT_MS));
    http_reply nf = curl_get(port, "/nope");
    assert_int_equal(nf.code, 404);
    free(nf.body);

    /* a client stuck halfway through its request line, and one that sent garbage */
    static const char half[] = "GET /metr";
    static const char junk[] = "\x16\x03\x01 not http at all\r\n\r\n";
    int slow = raw_client(port, half, sizeof half - 1);
    int bad = raw_client(port, junk, sizeof junk - 1);

    tally *t = calloc(1, sizeof *t);
    unsigned char *seen = calloc(STREAM, 1);
    assert_true(t && seen);
    *t = (tally){.o = o, .want = STREAM, .seen = seen};
    double last_fwd = 0;
    for (unsigned from = 0; from < STREAM; from += CHUNK) {
        publish_range(a, "factory/line", from, from + CHUNK, 1);
        http_reply r = curl_get(port, "/metrics");
        assert_int_equal(r.code, 200);
        double fwd = metric(r.body, S("aioe_bridge_forwarded_messages_total", ""));
        assert_true(fwd >= last_fwd); /* counters never go back */
        last_fwd = fwd;
        free(r.body);
    }
    assert_true(harness_wait_until(tally_complete, t, WAIT_MS));
    assert_int_equal(t->dups, 0);

    /* the counters settle on what the subscriber saw */
    scrape_wait done = {port, "/metrics", 200, S("aioe_bridge_forwarded_messages_total", ""),
                        (double)t->distinct};
    assert_true(harness_wait_until(scrape_matches, &done, WAIT_MS));
    http_reply r = curl_get(port, "/metrics");
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body, "# TYPE aioe_bridge_forwarded_messages_total counter\n"));
    assert_non_null(strstr(r.body, "# HELP aioe_bridge_forward_latency_seconds "));
    assert_non_null(strstr(r.body, "# TYPE aioe_bridge_forward_latency_seconds histogram\n"));
    assert_true(metric(r.body, S("aioe_bridge_received_messages_total", "")) == STREAM);
    assert_true(metric(r.body, S("aioe_bridge_stored_messages_total", "")) >= STREAM);
    assert_true(metric(r.body, S("aioe_bridge_forward_latency_seconds_count", "")) == STREAM);
    assert_true(metric(r.body, S("aioe_bridge_forward_latency_seconds_bucket", ",le=\"+Inf\"")) ==
                STREAM);
    assert_true(metric(r.body, S("aioe_bridge_forward_latency_seconds_sum", "")) > 0);
    assert_true(metric(r.body, S("aioe_bridge_dropped_messages_total", ",reason=\"unresolved\"")) == 0);
    assert_true(metric(r.body, S("aioe_bridge_in_flight_messages", "")) == 0);
    assert_true(metric(r.body, S("aioe_bridge_connected", ",side=\"destination\"")) == 1);
    assert_true(metric(r.body, S("aioe_bridge_paused", "")) == 0);
    free(r.body);
    close(slow);
    close(bad);

    /* not ready once the destination is gone; alive all the same */
    assert_int_equal(broker_stop(b), 0);
    scrape_wait unready = {port, "/readyz", 503, NULL, 0};
    assert_true(harness_wait_until(scrape_matches, &unready, WAIT_MS));
    scrape_wait gauge = {port, "/metrics", 200, S("aioe_bridge_connected", ",side=\"destination\""), 0};
    assert_true(harness_wait_until(scrape_matches, &gauge, WAIT_MS));
    assert_true(harness_wait_until(scrape_matches, &health, WAIT_MS));

    kill(bp.pid, SIGTERM);
    assert_int_equal(bridge_wait_exit(&bp, WAIT_MS), 0);

    /* --log-format json: one object a line, each with ts, level and msg */
    char *text = harness_read_file(bp.log, NULL);
    assert_non_null(text);
    size_t lines = 0;
    bool saw_stats = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_object *j = json_tokener_parse(line);
        if (!j)
            fprintf(stderr, "not JSON: %s\n", line);
        assert_non_null(j);
        json_object *ts, *lvl, *msg;
        assert_true(json_object_object_get_ex(j, "ts", &ts));
        assert_true(json_object_object_get_ex(j, "level", &lvl));
        assert_true(json_object_object_get_ex(j, "msg", &msg));
        assert_int_equal(strlen(json_object_get_string(ts)), strlen("2026-01-01T00:00:00.000Z"));
        saw_stats = saw_stats || !strncmp(json_object_get_string(msg), "stats instance=ops-0 ", 21);
        json_object_put(j);
        lines++;
    }
    assert_true(lines > 3);
    assert_true(saw_stats);
    free(text);

    free(t->seen);
    free(t);
    observer_free(o);
    free(oid); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static void test_sighup(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    broker *a, *b;
    assert_int_equal(broker_start(&cfg, &a), 0);
    assert_int_equal(broker_start(&cfg, &b), 0);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "cloud/#", 1, &o), 0);
    char *yaml = bridge_yaml("ops", broker_port(a, 0), broker_port(b, 0));
    char *sd = harness_mkdir("state-ops-hup");
    char *log = harness_path("ops-hup.log");
    char *rotated = harness_path("ops-hup.log.1");
    const char *args[] = {"--state-dir", sd, "--log-file", log, yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    log_wait w = {log, "subscribed to factory/#", 1};
    assert_true(harness_wait_until(log_has, &w, WAIT_MS));

    /* logrotate: rename, then SIGHUP; new lines go to a new file */
    assert_int_equal(rename(log, rotated), 0);
    kill(bp.pid, SIGHUP);
    w.needle = "SIGHUP: the YAML files are valid";
    assert_true(harness_wait_until(log_has, &w, WAIT_MS));
    log_wait old = {rotated, "SIGHUP", 1};
    assert_false(log_has(&old));

    /* a file that no longer validates: refused, errors logged, still forwarding */
    static const char bad[] = "apiVersion: connectivity.iotoperations.azure.com/v1\n"
                              "kind: Dataflow\nmetadata:\n  name: ops\nspec:\n  operations: 7\n";
    assert_int_equal(harness_write_file(yaml, bad, sizeof bad - 1), 0);
    kill(bp.pid, SIGHUP);
    w.needle = "reload refused";
    assert_true(harness_wait_until(log_has, &w, WAIT_MS));
    w.needle = ": error: reload: ";
    assert_true(log_has(&w));
    publish_range(a, "factory/line", 0, 20, 1);
    assert_int_equal(observer_wait(o, 20, WAIT_MS), 20);

    kill(bp.pid, SIGTERM);
    assert_int_equal(bridge_wait_exit(&bp, WAIT_MS), 0);
    w.needle = "stopped cleanly";
    assert_true(log_has(&w));

    observer_free(o);
    free(yaml); free(sd); free(log); free(rotated); free(bp.log);
    broker_free(a);
    broker_free(b);
}

/* ---- sd_notify ---- */

#ifdef AIOE_BRIDGE_SYSTEMD
/* Every datagram received on a fake NOTIFY_SOCKET, one after another,
 * separated by "\n|\n". */
typedef struct notify_rx {
    int fd;
    char *text;
    size_t len;
} notify_rx;

static void notify_drain(notify_rx *n, int wait_ms)
{
    struct pollfd p = { n->fd, POLLIN, 0 };
    while (poll(&p, 1, wait_ms) > 0) {
        char buf[4096];
        ssize_t r = recv(n->fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        n->text = realloc(n->text, n->len + (size_t)r + 4);
        assert_non_null(n->text);
        memcpy(n->text + n->len, buf, (size_t)r);
        memcpy(n->text + n->len + r, "\n|\n", 4);
        n->len += (size_t)r + 3;
        n->text[n->len] = 0;
        wait_ms = 0;
    }
}

static size_t notify_count(const notify_rx *n, const char *needle)
{
    size_t k = 0;
    for (const char *p = n->text; p && (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

/* Waits until @p needle was received @p count times in all. */
static bool notify_wait(notify_rx *n, const char *needle, size_t count)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (notify_count(n, needle) < count) {
        if (harness_now_ms() >= deadline) {
            fprintf(stderr, "waiting for '%s' x%zu; received:\n%s\n", needle, count,
                    n->text ? n->text : "(nothing)");
            return false;
        }
        notify_drain(n, 50);
    }
    return true;
}

#endif

static void test_sd_notify(void **state)
{
    (void)state;
#ifndef AIOE_BRIDGE_SYSTEMD
    skip(); /* built without libsystemd: the notifications are no-ops */
#else
    broker_config cfg;
    broker_config_init(&cfg);
    broker *a, *b;
    assert_int_equal(broker_start(&cfg, &a), 0);
    assert_int_equal(broker_start(&cfg, &b), 0);
    char *yaml = bridge_yaml("ops", broker_port(a, 0), broker_port(b, 0));
    char *sd = harness_mkdir("state-ops-notify");
    char *sock = harness_path("notify.sock");
    notify_rx n = { socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), NULL, 0 };
    assert_true(n.fd >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(sock) < sizeof sa.sun_path);
    strcpy(sa.sun_path, sock);
    assert_int_equal(bind(n.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", sock, 1);
    setenv("WATCHDOG_USEC", "400000", 1); /* pings every 200 ms */
    const char *args[] = {"--state-dir", sd, yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");

    assert_true(notify_wait(&n, "READY=1", 1));
    /* STATUS=connecting came first, READY=1 with both sides connected */
    const char *connecting = strstr(n.text, "STATUS=connecting 1 instance(s)");
    const char *ready = strstr(n.text, "READY=1\nSTATUS=forwarding: 1 instance(s) of 1 "
                                       "dataflow(s) connected");
    assert_non_null(connecting);
    assert_non_null(ready);
    assert_true(connecting < ready);
    assert_true(notify_wait(&n, "WATCHDOG=1", 3));

    kill(bp.pid, SIGHUP);
    assert_true(notify_wait(&n, "RELOADING=1\nMONOTONIC_USEC=", 1));
    assert_true(notify_wait(&n, "READY=1\nSTATUS=forwarding: reloaded (1 unchanged", 1));
    assert_true(strstr(n.text, "RELOADING=1") < strstr(n.text, "STATUS=forwarding: reloaded"));
    size_t pings = notify_count(&n, "WATCHDOG=1");
    assert_true(notify_wait(&n, "WATCHDOG=1", pings + 2)); /* still pinging */

    kill(bp.pid, SIGTERM);
    assert_int_equal(bridge_wait_exit(&bp, WAIT_MS), 0);
    notify_drain(&n, 0);
    assert_non_null(strstr(n.text, "STOPPING=1"));
    assert_int_equal(notify_count(&n, "READY=1"), 2);

    close(n.fd);
    free(n.text);
    free(yaml); free(sd); free(sock); free(bp.log);
    broker_free(a);
    broker_free(b);
#endif
}

static void test_bad_options(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    broker *a;
    assert_int_equal(broker_start(&cfg, &a), 0);
    char *yaml = bridge_yaml("ops", broker_port(a, 0), broker_port(a, 0));
    char *sd = harness_mkdir("state-ops-bad");

    const char *fmt[] = {"--state-dir", sd, "--log-format", "xml", yaml, NULL};
    bridge_proc bp = bridge_spawn(fmt);
    assert_int_equal(bridge_wait_exit(&bp, WAIT_MS), 2);
    free(bp.log);

    /* a port someone else holds */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    const char *busy[] = {"--state-dir", sd, "--metrics-addr", addr, yaml, NULL};
    bp = bridge_spawn(busy);
    assert_int_equal(bridge_wait_exit(&bp, WAIT_MS), 3);
    char *text = harness_read_file(bp.log, NULL);
    assert_non_null(strstr(text, ": error: --metrics-addr "));
    /* text lines: "YYYY-MM-DDTHH:MM:SS.mmmZ aioe-bridge: ..." */
    const char *line = strstr(text, "Z aioe-bridge: error: --metrics-addr");
    assert_non_null(line);
    assert_true(line - text >= 23 && line[-4] == '.' && line[-13] == 'T');
    free(text);
    free(bp.log);
    close(fd);

    free(yaml); free(sd);
    broker_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_during_stream),
        cmocka_unit_test(test_sighup),
        cmocka_unit_test(test_sd_notify),
        cmocka_unit_test(test_bad_options),
    };
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
