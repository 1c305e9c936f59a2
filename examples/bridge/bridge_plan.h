/* aioe-bridge's configuration: the YAML files parsed, and the plan
 * (which dataflows run, with which endpoints and how many instances),
 * read at start and again on SIGHUP (docs/operations.md#reload-sighup).
 * Example code, built only against the public API. */
#ifndef AIOE_BRIDGE_PLAN_H
#define AIOE_BRIDGE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <aioendpoint/aioendpoint.h>

/** One dataflow to run: borrowed from the configuration that holds it. */
typedef struct bridge_plan_item {
    const aioe_dataflow *df;
    const aioe_endpoint *src, *dst;
    unsigned count;            /* instanceCount of its profile (1 for "default") */
} bridge_plan_item;

/** What the command line selects (--dataflow, --instance). */
typedef struct bridge_selection {
    const char *const *dataflows; /* NULL/0: every dataflow */
    size_t ndataflows;
    long instance;                /* -1: every instance */
} bridge_selection;

typedef struct bridge_config {
    aioe_parse_result **results;  /* owned, one per file read */
    size_t nresults;
    bridge_plan_item *plan;       /* owned array; items borrow from results */
    size_t nplan;
    size_t ndataflows;            /* dataflows in the files, selected or not */
} bridge_config;

/** True when @p sel selects dataflow @p name. */
bool bridge_selection_wants(const bridge_selection *sel, const char *name);

/**
 * Reads the @p n files of @p files (borrowed) and plans the dataflows
 * @p sel selects. @p reload false: every problem is printed to stderr the
 * way the tools do (`FILE:LINE:COL: error: ...`); true: each is an error
 * log line starting with "reload: ". Always sets @p *out (free it with
 * bridge_config_free()) and @p *nerrors (problems found). Returns 0 when
 * there is something valid to run, else the exit status (TOOL_EXIT_INVALID
 * or TOOL_EXIT_FAILURE, examples/common/tool.h).
 */
int bridge_config_load(bridge_config **out, char *const *files, size_t n,
                       const bridge_selection *sel, bool reload, size_t *nerrors);

/** NULL does nothing. Objects other holders took references on live on. */
void bridge_config_free(bridge_config *c);

#endif /* AIOE_BRIDGE_PLAN_H */
