/* aioe-bridge's SIGHUP (docs/operations.md#reload-sighup): reopen
 * --log-file, read the YAML files again and apply what changed, dataflow
 * instance by dataflow instance. Also the set of running instances, which
 * start-up fills the same way. Example code. */
#ifndef AIOE_BRIDGE_RELOAD_H
#define AIOE_BRIDGE_RELOAD_H

#include <stddef.h>

#include "bridge.h"
#include "bridge_http.h"
#include "bridge_plan.h"

/** Opens @p path (borrowed) for appending and makes it standard error.
 *  0, or -1 with errno set (standard error is left as it was). */
int bridge_log_file_open(const char *path);

/** The running instances (owned), in start order. */
typedef struct bridge_running {
    bridge_instance **inst;
    size_t n, cap;
} bridge_running;

/**
 * Creates instance @p k of @p it and starts it; it joins @p run even when
 * it does not start (bridge_running_free() frees it). 0, or non-zero with
 * a one-line reason in @p err.
 */
int bridge_running_start(bridge_running *run, const bridge_options *opts,
                         const bridge_plan_item *it, unsigned k, char *err, size_t errlen);

/** Frees every instance (see bridge_instance_free()) and the array. */
void bridge_running_free(bridge_running *run);

typedef struct bridge_reload_counts {
    size_t unchanged, restarted, added, removed;
} bridge_reload_counts;

/**
 * Applies @p cfg (valid, borrowed; instances take references on what they
 * use) to @p run. Per dataflow instance, keyed by dataflow name and index:
 * - unchanged (aioe_dataflow_equal(), both aioe_endpoint_equal(), the same
 *   instance count): left running, untouched;
 * - changed: its source is stopped (the broker keeps the session and
 *   queues for it), in-flight and stored messages get up to
 *   @p drain_timeout_s to be forwarded, then it is freed (what is left
 *   stays in its store) and started again from @p cfg with the same client
 *   IDs and store, which sends the rest again;
 * - in @p cfg only: started; - not in @p cfg any more: stopped the same
 *   way and freed, its store left on disk.
 * One log line per instance says which. @p http (may be NULL) is told the
 * new list before anything it serves is freed. @p tick (may be NULL) is
 * called every few milliseconds while it waits for a drain, so the caller
 * can keep a watchdog fed. Returns 0, or
 * TOOL_EXIT_FAILURE when an instance could not be created or started (logged;
 * the others run on). @p counts is filled in either way.
 */
int bridge_reload_apply(bridge_running *run, const bridge_config *cfg,
                        const bridge_options *opts, const bridge_selection *sel,
                        unsigned drain_timeout_s, bridge_http *http,
                        void (*tick)(void), bridge_reload_counts *counts);

#endif /* AIOE_BRIDGE_RELOAD_H */
