/* Shared fixture of the aioe-bridge tests (test-bridge-forward.c,
 * test-bridge-resilience.c, test-bridge-reload.c, test-bridge-ops.c):
 * endpoint and Dataflow YAML, the bridge as a child process (AIOE_BRIDGE)
 * with its log, observer bookkeeping, two brokers. Include first (it defines _GNU_SOURCE). */
#ifndef AIOE_TESTS_INTEGRATION_BRIDGE_FIXTURE_H
#define AIOE_TESTS_INTEGRATION_BRIDGE_FIXTURE_H

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

static inline const char *bridge_bin(void)
{
    const char *p = getenv("AIOE_BRIDGE");
    assert_non_null(p);
    return p;
}

/* ---- YAML ---- */

static inline char *endpoint_yaml(const char *name, int port, const char *extra)
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

static inline char *dataflow_yaml(const char *name, const char *src, const char *dst,
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

static inline char *write_yaml(const char *name, const char *a, const char *b, const char *c)
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

static inline bridge_proc spawn_bin(const char *bin, const char *const *args);

static inline bridge_proc bridge_spawn(const char *const *args)
{
    return spawn_bin(bridge_bin(), args);
}

static inline bridge_proc spawn_bin(const char *bin, const char *const *args)
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

static inline size_t count_in_file(const char *path, const char *needle)
{
    char *text = harness_read_file(path, NULL);
    size_t n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

static inline bool log_has(void *arg)
{
    log_wait *w = arg;
    return count_in_file(w->path, w->needle) >= w->count;
}

static inline bool bridge_wait_log(const bridge_proc *bp, const char *needle, size_t count,
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

static inline bool pid_exited(void *arg)
{
    int *st = arg;
    pid_t pid = (pid_t)st[0];
    pid_t r = waitpid(pid, &st[1], WNOHANG);
    return r == pid;
}

/* Waits for the bridge to exit; returns its exit status (or 128+signal). */
static inline int bridge_wait_exit(bridge_proc *bp, int timeout_ms)
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

static inline int bridge_stop(bridge_proc *bp)
{
    kill(bp->pid, SIGTERM);
    return bridge_wait_exit(bp, WAIT_MS);
}

static inline void bridge_kill9(bridge_proc *bp)
{
    kill(bp->pid, SIGKILL);
    assert_int_equal(bridge_wait_exit(bp, WAIT_MS), 128 + SIGKILL);
}

/* Value of key=... in the last "stats <label>" line of the log. */
static inline long long stat_value(const char *log, const char *label, const char *key)
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

static inline void tally_scan(tally *t)
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

static inline bool tally_complete(void *arg)
{
    tally *t = arg;
    tally_scan(t);
    return t->distinct >= t->want;
}

static inline void publish_range(broker *a, const char *prefix, unsigned from, unsigned to, int qos)
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

static inline void start_brokers(broker **a, broker **b)
{
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.persistence = true;
    cfg.log_types = "error warning notice";
    assert_int_equal(broker_start(&cfg, a), 0);
    assert_int_equal(broker_start(&cfg, b), 0);
}

static inline observer *observe(broker *b, const char *filter)
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

#endif
