/* aioe-bridge's SIGHUP (bridge_reload.h). */
#include "bridge_reload.h"
#include "bridge_log.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aioendpoint/aioendpoint.h>

#include "../common/tool.h"

int bridge_log_file_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    /* dup2 replaces fd 2 in one step: a thread writing a line at the same
     * moment writes it whole to the old file or to the new one */
    int rc = fd == STDERR_FILENO ? 0 : dup2(fd, STDERR_FILENO);
    if (fd != STDERR_FILENO)
        close(fd);
    return rc < 0 ? -1 : 0;
}

/* ---- the running set ---- */

static int running_push(bridge_running *run, bridge_instance *bi)
{
    if (run->n == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 16;
        bridge_instance **p = realloc(run->inst, cap * sizeof *p);
        if (!p)
            return -1;
        run->inst = p;
        run->cap = cap;
    }
    run->inst[run->n++] = bi;
    return 0;
}

int bridge_running_start(bridge_running *run, const bridge_options *opts,
                         const bridge_plan_item *it, unsigned k, char *err, size_t errlen)
{
    bridge_instance *bi = NULL;
    if (bridge_instance_new(&bi, opts, it->df, it->src, it->dst, k, it->count, err,
                            errlen) != 0)
        return -1;
    if (running_push(run, bi) != 0) {
        bridge_instance_free(bi);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return bridge_instance_start(bi, err, errlen) != 0 ? -1 : 0;
}

void bridge_running_free(bridge_running *run)
{
    for (size_t i = 0; i < run->n; i++)
        bridge_instance_free(run->inst[i]);
    free(run->inst);
    memset(run, 0, sizeof *run);
}

/* ---- applying a new configuration ---- */

enum verdict { KEEP, RESTART, REMOVE };

static const bridge_plan_item *plan_find(const bridge_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nplan; i++)
        if (!strcmp(aioe_dataflow_name(cfg->plan[i].df), name))
            return &cfg->plan[i];
    return NULL;
}

static bool selected(const bridge_selection *sel, unsigned k)
{
    return !sel || sel->instance < 0 || (unsigned)sel->instance == k;
}

static enum verdict judge(bridge_instance *bi, const bridge_config *cfg,
                          const bridge_selection *sel, const bridge_plan_item **item)
{
    const bridge_plan_item *it = plan_find(cfg, bridge_instance_dataflow_name(bi));
    *item = it;
    unsigned k = bridge_instance_index(bi);
    if (!it || k >= it->count || !selected(sel, k))
        return REMOVE;
    if (aioe_dataflow_equal(bridge_instance_dataflow(bi), it->df) &&
        aioe_endpoint_equal(bridge_instance_endpoint(bi, true), it->src) &&
        aioe_endpoint_equal(bridge_instance_endpoint(bi, false), it->dst) &&
        bridge_instance_count(bi) == it->count)
        return KEEP;
    return RESTART;
}

static bool running_has(const bridge_running *run, const char *name, unsigned k)
{
    for (size_t i = 0; i < run->n; i++)
        if (bridge_instance_index(run->inst[i]) == k &&
            !strcmp(bridge_instance_dataflow_name(run->inst[i]), name))
            return true;
    return false;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stops the sources of @p n instances, gives what they hold until the
 * deadline to reach the destination, and frees them (the rest stays in
 * their stores). */
static void retire(bridge_instance **gone, size_t n, unsigned drain_timeout_s,
                   void (*tick)(void))
{
    for (size_t i = 0; i < n; i++)
        bridge_instance_stop_source(gone[i]);
    int64_t deadline = mono_ms() + (int64_t)drain_timeout_s * 1000;
    for (size_t i = 0; i < n; i++) {
        while (!bridge_instance_drained(gone[i]) && mono_ms() < deadline) {
            if (tick)
                tick();
            nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
        }
        if (!bridge_instance_drained(gone[i]))
            bridge_log_line(AIOE_LOG_WARNING, bridge_instance_name(gone[i]),
                            "reload: not drained in time; what was not forwarded stays in "
                            "the store and is sent again by the next instance that opens it");
        bridge_instance_free(gone[i]);
    }
}

int bridge_reload_apply(bridge_running *run, const bridge_config *cfg,
                        const bridge_options *opts, const bridge_selection *sel,
                        unsigned drain_timeout_s, bridge_http *http,
                        void (*tick)(void), bridge_reload_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    size_t n = run->n;
    enum verdict *v = calloc(n ? n : 1, sizeof *v);
    const bridge_plan_item **items = calloc(n ? n : 1, sizeof *items);
    bridge_instance **gone = calloc(n ? n : 1, sizeof *gone);
    /* what restarts: plan item and index, kept past the instance's free */
    unsigned *restart_k = calloc(n ? n : 1, sizeof *restart_k);
    const bridge_plan_item **restart_it = calloc(n ? n : 1, sizeof *restart_it);
    if (!v || !items || !gone || !restart_k || !restart_it) {
        free(v); free(items); free(gone); free(restart_k); free(restart_it);
        bridge_log(AIOE_LOG_ERROR, "reload: out of memory; the running configuration is kept");
        return TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = judge(run->inst[i], cfg, sel, &items[i]);

    /* added: in the plan, not running (judged against the set as it was) */
    size_t nadd = 0;
    for (size_t p = 0; p < cfg->nplan; p++)
        for (unsigned k = 0; k < cfg->plan[p].count; k++)
            if (selected(sel, k) && !running_has(run, aioe_dataflow_name(cfg->plan[p].df), k))
                nadd++;

    /* take the changed and removed ones out of the set, tell the HTTP
     * server, then stop them */
    size_t keep = 0, ngone = 0, nrestart = 0;
    char line[4200];
    for (size_t i = 0; i < n; i++) {
        bridge_instance *bi = run->inst[i];
        switch (v[i]) {
        case KEEP:
            run->inst[keep++] = bi;
            counts->unchanged++;
            bridge_log_line(AIOE_LOG_INFO, bridge_instance_name(bi),
                            "reload: unchanged (keeps running, sessions untouched)");
            break;
        case RESTART:
            gone[ngone++] = bi;
            restart_it[nrestart] = items[i];
            restart_k[nrestart++] = bridge_instance_index(bi);
            counts->restarted++;
            bridge_log_line(AIOE_LOG_INFO, bridge_instance_name(bi),
                            "reload: changed: restarting (source stopped, draining, then "
                            "started with the new configuration)");
            break;
        case REMOVE:
            gone[ngone++] = bi;
            counts->removed++;
            snprintf(line, sizeof line, "reload: removed: stopping; its store %s/%s is left "
                     "on disk", opts->state_dir, bridge_instance_name(bi));
            bridge_log_line(AIOE_LOG_INFO, bridge_instance_name(bi), line);
            break;
        }
    }
    run->n = keep;
    /* out of memory here would leave the server reading freed instances:
     * keep them all until it has the new list */
    bool told = bridge_http_set_instances(http, run->inst, run->n) == 0;
    if (told) {
        retire(gone, ngone, drain_timeout_s, tick);
    } else {
        bridge_log(AIOE_LOG_ERROR, "reload: out of memory; %zu instance(s) to stop or "
                   "restart are left running as they were", ngone);
        for (size_t i = 0; i < ngone; i++)
            run->inst[run->n++] = gone[i]; /* the array held them a moment ago */
    }

    int status = 0;
    char err[1024];
    for (size_t r = 0; r < nrestart && told; r++) {
        if (bridge_running_start(run, opts, restart_it[r], restart_k[r], err, sizeof err) != 0) {
            bridge_log(AIOE_LOG_ERROR, "reload: dataflow '%s' instance %u: %s",
                       aioe_dataflow_name(restart_it[r]->df), restart_k[r], err);
            status = TOOL_EXIT_FAILURE;
            continue;
        }
        bridge_log_line(AIOE_LOG_INFO, bridge_instance_name(run->inst[run->n - 1]),
                        "reload: restarted with the new configuration");
    }
    for (size_t p = 0; p < cfg->nplan && nadd; p++) {
        const bridge_plan_item *it = &cfg->plan[p];
        for (unsigned k = 0; k < it->count; k++) {
            if (!selected(sel, k) || running_has(run, aioe_dataflow_name(it->df), k))
                continue;
            bool was_restart = false;
            for (size_t r = 0; r < nrestart; r++)
                was_restart = was_restart || (restart_it[r] == it && restart_k[r] == k);
            if (was_restart)
                continue; /* it failed to start again: reported above */
            counts->added++;
            if (bridge_running_start(run, opts, it, k, err, sizeof err) != 0) {
                bridge_log(AIOE_LOG_ERROR, "reload: dataflow '%s' instance %u: %s",
                           aioe_dataflow_name(it->df), k, err);
                status = TOOL_EXIT_FAILURE;
                continue;
            }
            bridge_log_line(AIOE_LOG_INFO, bridge_instance_name(run->inst[run->n - 1]),
                            "reload: added: started");
        }
    }
    if (bridge_http_set_instances(http, run->inst, run->n) != 0)
        bridge_log(AIOE_LOG_ERROR, "reload: out of memory; /metrics and /readyz show the "
                   "instances that kept running only");
    free(v); free(items); free(gone); free(restart_k); free(restart_it);
    return status;
}
