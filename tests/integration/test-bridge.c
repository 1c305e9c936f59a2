/* aioe-bridge (examples/bridge) against real mosquitto brokers: source A,
 * destination B, an independent observer subscribed on B.
 *
 * - forward: topic templates, unresolvable variables dropped and counted,
 *   retain Never, QoS 0 and 1, clean SIGTERM drain with exit 0
 * - transformation: a published-style BuiltInTransformation (filter, map):
 *   the documented output; filtered and non-JSON messages dropped, counted
 * - sigkill_and_broker_restart: a QoS 1 stream while the bridge is
 *   SIGKILLed three times and the destination broker (persistent) is
 *   restarted once: zero messages missing, duplicates counted
 * - backpressure: destination down longer than the bounded store holds:
 *   the source is paused (messages wait in A's persistent session), the
 *   store stays bounded, nothing is dropped, everything arrives later
 * - shared_instances: instanceCount 3 shares the source ($share/), three
 *   stable client IDs, every message exactly once
 * - exit_codes: bad YAML, unknown endpointRef, Event Grid instanceCount:
 *   exit 1; unreadable token, broker refusing the credentials: exit 3
 *   (examples/common/tool.h)
 *
 * The bridge runs as a child process (AIOE_BRIDGE); every wait is on a
 * condition with a deadline. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 20000

static const char *bridge_bin(void)
{
    const char *p = getenv("AIOE_BRIDGE");
    assert_non_null(p);
    return p;
}

/* ---- YAML ---- */

static char *endpoint_yaml(const char *name, int port, const char *extra)
{
    char *s = NULL;
    assert_true(asprintf(&s,
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\n"
        "metadata:\n  name: %s\n"
        "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:%d\n"
        "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n"
        "    tls:\n      mode: Disabled\n"
        "    clientIdPrefix: t-\n"
        "%s"
        "---\n", name, port, extra ? extra : "") > 0);
    return s;
}

static char *dataflow_yaml(const char *name, const char *src, const char *dst,
                           const char *filter, const char *dest, const char *profile,
                           unsigned instances)
{
    char *s = NULL;
    char prof[512] = "";
    if (profile)
        snprintf(prof, sizeof prof,
                 "---\napiVersion: connectivity.iotoperations.azure.com/v1\n"
                 "kind: DataflowProfile\nmetadata:\n  name: %s\nspec:\n  instanceCount: %u\n",
                 profile, instances);
    assert_true(asprintf(&s,
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: Dataflow\n"
        "metadata:\n  name: %s\n"
        "spec:\n  profileRef: %s\n  operations:\n"
        "    - operationType: Source\n      sourceSettings:\n"
        "        endpointRef: %s\n        dataSources: [\"%s\"]\n"
        "    - operationType: Destination\n      destinationSettings:\n"
        "        endpointRef: %s\n        dataDestination: %s\n%s",
        name, profile ? profile : "default", src, filter, dst, dest, prof) > 0);
    return s;
}

static char *write_yaml(const char *name, const char *a, const char *b, const char *c)
{
    char *path = harness_path(name);
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *all = malloc(la + lb + lc + 1);
    memcpy(all, a, la);
    if (b)
        memcpy(all + la, b, lb);
    if (c)
        memcpy(all + la + lb, c, lc);
    all[la + lb + lc] = 0;
    assert_int_equal(harness_write_file(path, all, la + lb + lc), 0);
    free(all);
    return path;
}

/* ---- the bridge process ---- */

typedef struct bridge_proc {
    pid_t pid;
    char *log;
} bridge_proc;

static bridge_proc spawn_bin(const char *bin, const char *const *args);

static bridge_proc bridge_spawn(const char *const *args)
{
    return spawn_bin(bridge_bin(), args);
}

static bridge_proc spawn_bin(const char *bin, const char *const *args)
{
    static int n;
    char name[64];
    snprintf(name, sizeof name, "bridge-%d.log", ++n);
    bridge_proc bp = {.log = harness_path(name)};
    const char *argv[32];
    size_t k = 0;
    argv[k++] = bin;
    for (size_t i = 0; args[i] && k < 31; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    bp.pid = fork();
    assert_true(bp.pid >= 0);
    if (bp.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(bp.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return bp;
}

typedef struct log_wait {
    const char *path;
    const char *needle;
    size_t count;
} log_wait;

static size_t count_in_file(const char *path, const char *needle)
{
    char *text = harness_read_file(path, NULL);
    size_t n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

static bool log_has(void *arg)
{
    log_wait *w = arg;
    return count_in_file(w->path, w->needle) >= w->count;
}

static bool bridge_wait_log(const bridge_proc *bp, const char *needle, size_t count,
                            int timeout_ms)
{
    log_wait w = {bp->log, needle, count};
    bool ok = harness_wait_until(log_has, &w, timeout_ms);
    if (!ok) {
        char *text = harness_read_file(bp->log, NULL);
        fprintf(stderr, "bridge log %s (waiting for '%s' x%zu):\n%s\n", bp->log, needle,
                count, text ? text : "(none)");
        free(text);
    }
    return ok;
}

static bool pid_exited(void *arg)
{
    int *st = arg;
    pid_t pid = (pid_t)st[0];
    pid_t r = waitpid(pid, &st[1], WNOHANG);
    return r == pid;
}

/* Waits for the bridge to exit; returns its exit status (or 128+signal). */
static int bridge_wait_exit(bridge_proc *bp, int timeout_ms)
{
    int st[2] = {bp->pid, 0};
    if (!harness_wait_until(pid_exited, st, timeout_ms)) {
        char *text = harness_read_file(bp->log, NULL);
        fprintf(stderr, "bridge did not exit; log:\n%s\n", text ? text : "");
        free(text);
        kill(bp->pid, SIGKILL);
        waitpid(bp->pid, NULL, 0);
        return -1;
    }
    bp->pid = 0;
    if (WIFEXITED(st[1]))
        return WEXITSTATUS(st[1]);
    return 128 + WTERMSIG(st[1]);
}

static int bridge_stop(bridge_proc *bp)
{
    kill(bp->pid, SIGTERM);
    return bridge_wait_exit(bp, WAIT_MS);
}

static void bridge_kill9(bridge_proc *bp)
{
    kill(bp->pid, SIGKILL);
    assert_int_equal(bridge_wait_exit(bp, WAIT_MS), 128 + SIGKILL);
}

/* Value of key=... in the last "stats <label>" line of the log. */
static long long stat_value(const char *log, const char *label, const char *key)
{
    char *text = harness_read_file(log, NULL);
    assert_non_null(text);
    char needle[128];
    snprintf(needle, sizeof needle, "stats %s ", label);
    const char *line = NULL;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        line = p;
    long long v = -1;
    if (line) {
        char k[64];
        snprintf(k, sizeof k, " %s=", key);
        const char *eol = strchr(line, '\n');
        const char *q = strstr(line, k);
        if (q && (!eol || q < eol))
            v = strtoll(q + strlen(k), NULL, 10);
    }
    free(text);
    return v;
}

/* ---- observer bookkeeping ---- */

typedef struct tally {
    observer *o;
    size_t scanned;
    size_t want;
    unsigned char *seen;
    size_t distinct, dups, foreign;
} tally;

static void tally_scan(tally *t)
{
    const observer_msg *m;
    while ((m = observer_get(t->o, t->scanned)) != NULL) {
        t->scanned++;
        unsigned n;
        if (sscanf((const char *)m->payload, "m-%u", &n) != 1 || n >= t->want) {
            t->foreign++;
            continue;
        }
        if (t->seen[n])
            t->dups++;
        else
            t->distinct++;
        t->seen[n] = 1;
    }
}

static bool tally_complete(void *arg)
{
    tally *t = arg;
    tally_scan(t);
    return t->distinct >= t->want;
}

static void publish_range(broker *a, const char *prefix, unsigned from, unsigned to, int qos)
{
    harness_client_opts co;
    harness_client_opts_for(a, 0, &co);
    char *id = harness_unique("pub"); /* a shared ID would cut the last batch short */
    co.client_id = id;
    size_t n = to - from;
    harness_pub *msgs = calloc(n, sizeof *msgs);
    char (*topics)[64] = calloc(n, 64);
    char (*payloads)[64] = calloc(n, 64);
    for (size_t i = 0; i < n; i++) {
        snprintf(topics[i], 64, "%s%u", prefix, (unsigned)(from + i) % 7);
        snprintf(payloads[i], 64, "m-%06u", (unsigned)(from + i));
        msgs[i].topic = topics[i];
        msgs[i].payload = payloads[i];
        msgs[i].payload_len = strlen(payloads[i]);
        msgs[i].qos = qos;
    }
    assert_int_equal(harness_publish_opts(&co, msgs, n), 0);
    free(msgs);
    free(topics);
    free(payloads);
    free(id);
}

static void start_brokers(broker **a, broker **b)
{
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.persistence = true;
    cfg.log_types = "error warning notice";
    assert_int_equal(broker_start(&cfg, a), 0);
    assert_int_equal(broker_start(&cfg, b), 0);
}

static observer *observe(broker *b, const char *filter)
{
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    char *id = harness_unique("obs");
    co.client_id = id;
    co.persistent_session = true;
    co.auto_reconnect = true;
    observer *o = NULL;
    assert_int_equal(observer_connect(&co, filter, 1, &o), 0);
    free(id);
    return o;
}

/* ---- tests ---- */

static void test_forward(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "cloud/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), "    retain: Never\n");
    char *df = dataflow_yaml("fwd", "site", "cloud", "factory/#",
                             "cloud/${inputTopic.2}/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("forward.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-forward");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to factory/#", 1, WAIT_MS));

    assert_int_equal(harness_publish(a, 0, "factory/l1/temp", "m-000000", 8, 1, true), 0);
    assert_int_equal(harness_publish(a, 0, "factory", "m-999999", 8, 1, false), 0);
    publish_range(a, "factory/q0-", 1, 50, 0);
    publish_range(a, "factory/q1-", 50, 200, 1);
    tally t = {.o = o, .want = 200, .seen = calloc(200, 1)};
    assert_true(harness_wait_until(tally_complete, &t, WAIT_MS));
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "cloud/l1/factory/l1/temp");
    assert_false(m->retain); /* retain: Never on the destination */
    assert_int_equal(t.dups, 0);
    assert_int_equal(t.foreign, 0);

    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "received"), 201);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "forwarded"), 200);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "dropped_unresolved"), 1);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "store_undone"), 0);
    assert_true(count_in_file(bp.log, "cannot resolve") >= 1);
    assert_true(count_in_file(bp.log, "stopped cleanly") == 1);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

#define STREAM 3000
#define CHUNK 100

static void test_sigkill_and_broker_restart(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "out/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("kill", "site", "cloud", "in/#", "out/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("kill.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-kill");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "300", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to in/#", 1, WAIT_MS));

    int kills = 0;
    for (unsigned c = 0; c < STREAM / CHUNK; c++) {
        publish_range(a, "in/s", c * CHUNK, (c + 1) * CHUNK, 1);
        if (c == 4 || c == 11 || c == 19) {
            /* mid-stream: the chunk just published is still moving */
            bridge_kill9(&bp);
            free(bp.log);
            kills++;
            bp = bridge_spawn(args);
        }
        if (c == 15)
            assert_int_equal(broker_restart(b), 0);
    }
    tally t = {.o = o, .want = STREAM, .seen = calloc(STREAM, 1)};
    bool all = harness_wait_until(tally_complete, &t, 40000);
    print_message("received %zu distinct of %d, %zu duplicates, %d SIGKILLs\n", t.distinct,
                  STREAM, t.dups, kills);
    if (!all) {
        for (unsigned i = 0, shown = 0; i < STREAM && shown < 20; i++)
            if (!t.seen[i]) {
                fprintf(stderr, "missing m-%06u\n", i);
                shown++;
            }
    }
    assert_true(all);
    assert_int_equal(t.foreign, 0);
    assert_int_equal(bridge_stop(&bp), 0);
    long long dup = stat_value(bp.log, "instance=kill-0", "duplicates_suspected");
    print_message("last run: duplicates_suspected=%lld\n", dup);
    assert_true(dup >= 0);
    assert_int_equal(stat_value(bp.log, "instance=kill-0", "store_undone"), 0);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static void test_backpressure(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "bp/#");
    assert_int_equal(broker_stop(b), 0); /* destination down from the start */
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("bp", "site", "cloud", "src/#", "bp/${inputTopic.2}", NULL, 0);
    char *yaml = write_yaml("bp.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-bp");
    const char *args[] = {"--state-dir", sd, "--max-store-bytes", "64K", "--segment-bytes",
                          "4K", "--high-water", "50", "--low-water", "25",
                          "--reconnect-max-ms", "300", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to src/#", 1, WAIT_MS));

    const unsigned n = 2000; /* ~90 bytes a record: ~180 KB, the store holds 64 KB */
    publish_range(a, "src/", 0, n, 1);
    assert_true(bridge_wait_log(&bp, "pausing the source", 1, WAIT_MS));
    kill(bp.pid, SIGUSR1);
    assert_true(bridge_wait_log(&bp, "stats instance=bp-0", 1, WAIT_MS));
    long long bytes = stat_value(bp.log, "instance=bp-0", "store_bytes");
    long long received = stat_value(bp.log, "instance=bp-0", "received");
    print_message("paused with store_bytes=%lld after %lld received of %u\n", bytes,
                  received, n);
    /* bounded: at most the bound plus what the source had in flight */
    assert_true(bytes > 0 && bytes <= 64 * 1024 + 100 * 128);
    assert_true(received < n);

    assert_int_equal(broker_restart(b), 0);
    tally t = {.o = o, .want = n, .seen = calloc(n, 1)};
    assert_true(harness_wait_until(tally_complete, &t, 40000));
    assert_true(bridge_wait_log(&bp, "resuming the source", 1, WAIT_MS));
    int rc = bridge_stop(&bp);
    if (rc != 0) {
        char *text = harness_read_file(bp.log, NULL);
        fprintf(stderr, "bridge exit %d; log:\n%s\n", rc, text ? text : "");
        free(text);
    }
    assert_int_equal(rc, 0);
    assert_true(stat_value(bp.log, "instance=bp-0", "pauses") >= 1);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_rejected"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_invalid"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_qos0"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "store_errors"), 0);
    /* pausing disconnects the source with messages delivered but not yet
     * acknowledged: the source broker sends those again (duplicates) */
    assert_true(stat_value(bp.log, "instance=bp-0", "forwarded") >= n);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static void test_shared_instances(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "sh/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("sh", "site", "cloud", "in/#", "sh/${inputTopic}", "three", 3);
    char *yaml = write_yaml("shared.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-shared");
    const char *args[] = {"--state-dir", sd, yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to $share/sh/in/#", 3, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-0", 1, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-1", 1, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-2", 1, WAIT_MS));
    publish_range(a, "in/", 0, 600, 1);
    tally t = {.o = o, .want = 600, .seen = calloc(600, 1)};
    assert_true(harness_wait_until(tally_complete, &t, WAIT_MS));
    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(t.dups, 0);
    assert_int_equal(stat_value(bp.log, "total", "forwarded"), 600);
    /* the broker spread the load over more than one instance */
    int busy = 0;
    for (int i = 0; i < 3; i++) {
        char label[32];
        snprintf(label, sizeof label, "instance=sh-%d", i);
        busy += stat_value(bp.log, label, "forwarded") > 0;
    }
    assert_true(busy >= 2);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static int run_for_status(const char *yaml_path, const char *extra, const char *expect)
{
    char *sd = harness_mkdir("state-exit");
    const char *args[8] = {"--state-dir", sd, "--log-level", "warning"};
    size_t k = 4;
    if (extra) {
        args[k++] = "--token-file";
        args[k++] = extra;
    }
    args[k++] = yaml_path;
    args[k] = NULL;
    bridge_proc bp = bridge_spawn(args);
    int rc = bridge_wait_exit(&bp, WAIT_MS);
    if (expect && count_in_file(bp.log, expect) == 0) {
        char *text = harness_read_file(bp.log, NULL);
        fprintf(stderr, "expected '%s' in:\n%s\n", expect, text ? text : "");
        free(text);
        rc = -100;
    }
    free(bp.log);
    free(sd);
    return rc;
}

static void test_exit_codes(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    broker *closed;
    assert_int_equal(broker_start(&cfg, &closed), 0);
    int port = broker_port(closed, 0);

    char *ea = endpoint_yaml("site", port, NULL);
    char *eb = endpoint_yaml("cloud", port, NULL);
    char *df = dataflow_yaml("x", "site", "cloud", "a/#", "b/${inputTopic}", NULL, 0);

    /* bad YAML */
    char *p = write_yaml("bad.yaml", "kind: [unclosed\n", NULL, NULL);
    assert_int_equal(run_for_status(p, NULL, "bad.yaml:"), 1);
    free(p);
    /* unknown endpointRef */
    char *df2 = dataflow_yaml("x", "site", "nowhere", "a/#", "b", NULL, 0);
    p = write_yaml("unknown.yaml", ea, df2, NULL);
    assert_int_equal(run_for_status(p, NULL, "unknown endpointRef 'nowhere'"), 1);
    free(p);
    free(df2);
    /* a dataflow without a Destination operation */
    char *nodst = NULL;
    assert_true(asprintf(&nodst,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
        "metadata:\n  name: x\nspec:\n  operations:\n"
        "    - operationType: Source\n      sourceSettings:\n"
        "        endpointRef: site\n        dataSources: [\"a/#\"]\n") > 0);
    p = write_yaml("nodst.yaml", ea, nodst, NULL);
    assert_int_equal(run_for_status(p, NULL, "no Destination operation"), 1);
    free(p);
    free(nodst);
    /* no dataflow at all */
    p = write_yaml("nodf.yaml", ea, NULL, NULL);
    assert_int_equal(run_for_status(p, NULL, "no Dataflow"), 1);
    free(p);
    /* Event Grid source with instanceCount 2 */
    char *eg = NULL;
    assert_true(asprintf(&eg,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: eg\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: ns.westeurope-1.ts.eventgrid.azure.net:8883\n"
        "    authentication:\n      method: X509Certificate\n"
        "      x509CertificateSettings:\n        secretRef: eg-cert\n"
        "    tls:\n      mode: Enabled\n---\n") > 0);
    char *df3 = dataflow_yaml("x", "eg", "cloud", "a/#", "b", "two", 2);
    p = write_yaml("eg.yaml", eg, eb, df3);
    assert_int_equal(run_for_status(p, NULL, "instanceCount 2"), 1);
    free(p);
    free(df3);
    free(eg);
    /* token file missing: the endpoint cannot authenticate */
    char *sat = NULL;
    assert_true(asprintf(&sat,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: site\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:%d\n"
        "    authentication:\n      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
        "    tls:\n      mode: Disabled\n---\n", port) > 0);
    p = write_yaml("sat.yaml", sat, eb, df);
    char *missing = harness_path("no-such-token");
    assert_int_equal(run_for_status(p, missing, "cannot start"), 3);
    free(missing);
    free(p);
    free(sat);
    /* the broker refuses anonymous clients: CONNACK "not authorized" */
    p = write_yaml("refused.yaml", ea, eb, df);
    assert_int_equal(run_for_status(p, NULL, "stopped for good"), 3);
    free(p);

    free(ea); free(eb); free(df);
    broker_free(closed);
}

/* aioe-pub and aioe-sub over an endpoint file: the subscriber prints the
 * content type and user properties; the publisher's message arrives. */
static void test_pubsub_tools(void **state)
{
    (void)state;
    const char *pub = getenv("AIOE_PUB"), *sub = getenv("AIOE_SUB");
    assert_non_null(pub);
    assert_non_null(sub);
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.log_types = "error warning notice";
    broker *b;
    assert_int_equal(broker_start(&cfg, &b), 0);
    char *ep = endpoint_yaml("local", broker_port(b, 0), NULL);
    char *yaml = write_yaml("pubsub.yaml", ep, NULL, NULL);
    const char *sargs[] = {"-C", "2", yaml, "tools/#", NULL};
    bridge_proc sp = spawn_bin(sub, sargs);
    assert_true(bridge_wait_log(&sp, "subscribed to tools/#", 1, WAIT_MS));

    const char *props[] = {"specversion", "1.0", "source", "aio://test"};
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    harness_pub hp = {.topic = "tools/a", .payload = "{\"v\":1}", .payload_len = 7, .qos = 1,
                      .content_type = "application/json", .user_props = props,
                      .user_prop_pairs = 2};
    assert_int_equal(harness_publish_opts(&co, &hp, 1), 0);
    const char *pargs[] = {"-m", "from-aioe-pub", yaml, "tools/b", NULL};
    bridge_proc pp = spawn_bin(pub, pargs);
    assert_int_equal(bridge_wait_exit(&pp, WAIT_MS), 0);
    assert_int_equal(bridge_wait_exit(&sp, WAIT_MS), 0);
    char *out = harness_read_file(sp.log, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "tools/a qos=1 retain=0"));
    assert_non_null(strstr(out, "content-type: application/json"));
    assert_non_null(strstr(out, "user-property: specversion=1.0"));
    assert_non_null(strstr(out, "user-property: source=aio://test"));
    assert_non_null(strstr(out, "payload (7 bytes): {\"v\":1}"));
    assert_non_null(strstr(out, "payload (13 bytes): from-aioe-pub"));
    free(out);

    /* an endpoint that cannot connect: exit 3 with the reason */
    char *bad = endpoint_yaml("local", harness_free_port(), NULL);
    char *byaml = write_yaml("pubsub-bad.yaml", bad, NULL, NULL);
    const char *bargs[] = {"--timeout", "1", byaml, "tools/c", NULL};
    bridge_proc bpp = spawn_bin(pub, bargs);
    assert_int_equal(bridge_wait_exit(&bpp, WAIT_MS), 3);
    assert_true(count_in_file(bpp.log, "cannot connect to endpoint") == 1);

    free(bad); free(byaml); free(bpp.log);
    free(ep); free(yaml); free(sp.log); free(pp.log);
    broker_free(b);
}

/* Content type and user properties travel through the store, the
 * destination's CloudEvents stage adds its attributes, and with retain:
 * Keep a live retained message keeps its flag (Retain As Published). */
static void test_properties_and_cloudevents(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0),
                             "    retain: Keep\n    cloudEventAttributes: CreateOrRemap\n");
    char *df = dataflow_yaml("props", "site", "cloud", "plant/#", "out/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("props.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-props");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to plant/#", 1, WAIT_MS));
    observer *o = observe(b, "out/#");

    static const char *const props[] = { "site", "plant-7", "line", "4" };
    harness_pub msg = { .topic = "plant/oven", .payload = "21", .payload_len = 2, .qos = 1,
                        .retain = true, .content_type = "application/json",
                        .user_props = props, .user_prop_pairs = 2 };
    harness_client_opts co;
    memset(&co, 0, sizeof co);
    harness_client_opts_for(a, 0, &co);
    assert_int_equal(harness_publish_opts(&co, &msg, 1), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "out/plant/oven");
    assert_string_equal(m->content_type, "application/json");
    assert_string_equal(m->user_props[0].name, "site");
    assert_string_equal(m->user_props[1].name, "line");
    assert_string_equal(observer_msg_prop(m, "specversion"), "1.0");
    assert_string_equal(observer_msg_prop(m, "source"), "aio://cloud");
    assert_string_equal(observer_msg_prop(m, "subject"), "out/plant/oven");
    assert_non_null(observer_msg_prop(m, "id"));

    /* the destination broker now holds it as retained */
    observer *late = observe(b, "out/#");
    assert_int_equal(observer_wait(late, 1, WAIT_MS), 1);
    assert_true(observer_get(late, 0)->retain);

    assert_int_equal(bridge_stop(&bp), 0);
    observer_free(late);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

/* A published-style Dataflow with a BuiltInTransformation (filter and
 * map, from learn.microsoft.com .../howto-create-dataflow) between two
 * brokers: the documented output, and filtered and untransformable
 * messages dropped and counted (docs/transform.md). */
static void test_transformation(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "factory");
    char *ea = endpoint_yaml("mq-site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("mq-cloud", broker_port(b, 0), NULL);
    const char *df =
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: Dataflow\n"
        "metadata:\n"
        "  name: my-dataflow\n"
        "  namespace: azure-iot-operations\n"
        "spec:\n"
        "  profileRef: default\n"
        "  mode: Enabled\n"
        "  operations:\n"
        "    - operationType: Source\n"
        "      sourceSettings:\n"
        "        endpointRef: mq-site\n"
        "        dataSources:\n"
        "          - thermostats/+/telemetry/temperature/#\n"
        "          - humidifiers/+/telemetry/humidity/#\n"
        "    - operationType: BuiltInTransformation\n"
        "      builtInTransformationSettings:\n"
        "        filter:\n"
        "          - inputs:\n"
        "              - 'temperature.Value'\n"
        "              - '\"Tag 10\".Value'\n"
        "            expression: \"$1*$2<100000\"\n"
        "        map:\n"
        "          - inputs:\n"
        "              - '*'\n"
        "            output: '*'\n"
        "          - inputs:\n"
        "              - temperature.Value\n"
        "            output: TemperatureF\n"
        "            expression: cToF($1)\n"
        "          - inputs:\n"
        "              - '\"Tag 10\".Value'\n"
        "            output: 'Tag 10'\n"
        "        serializationFormat: Json\n"
        "    - operationType: Destination\n"
        "      destinationSettings:\n"
        "        endpointRef: mq-cloud\n"
        "        dataDestination: factory\n";
    char *yaml = write_yaml("transform.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-transform");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to humidifiers/+/telemetry/humidity/#", 1,
                                WAIT_MS));

    static const char *const in[] = {
        ("{\"temperature\": {\"Value\": 100, \"Unit\": \"C\"}, \"Tag 10\": {\"Value\": 1000},"
         " \"id\": \"a\"}"),
        /* 10 * 5 < 100000: the filter is true, the message is dropped */
        "{\"temperature\": {\"Value\": 10}, \"Tag 10\": {\"Value\": 5}, \"id\": \"b\"}",
        "not json",
        "{\"temperature\": {\"Value\": 37.5}, \"Tag 10\": {\"Value\": 4000}, \"id\": \"c\"}",
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(harness_publish(a, 0, "thermostats/t1/telemetry/temperature/x", in[i],
                                         strlen(in[i]), 1, false),
                         0);
    assert_true(observer_wait(o, 2, WAIT_MS) >= 2);
    assert_string_equal((const char *)observer_get(o, 0)->payload,
                        "{\"temperature\":{\"Unit\":\"C\"},\"id\":\"a\",\"TemperatureF\":212.0,"
                        "\"Tag 10\":1000}");
    assert_string_equal((const char *)observer_get(o, 1)->payload,
                        "{\"id\":\"c\",\"TemperatureF\":99.5,\"Tag 10\":4000}");
    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(observer_count(o), 2);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "received"), 4);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "forwarded"), 2);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "dropped_filtered"), 1);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "dropped_untransformable"), 1);
    assert_true(count_in_file(bp.log, "cannot transform it: payload is not a JSON object") == 1);

    observer_free(o);
    free(ea); free(eb); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_transformation),
        cmocka_unit_test(test_properties_and_cloudevents),
        cmocka_unit_test(test_sigkill_and_broker_restart),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_shared_instances),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_pubsub_tools),
    };
    /* AIOE_TEST_FILTER=test_backpressure (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
