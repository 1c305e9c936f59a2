/* aioe-bridge's configuration and plan (bridge_plan.h). */
#define _GNU_SOURCE /* open_memstream */
#include "bridge_plan.h"
#include "bridge_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parse-error.h"
#include "../common/tool.h"

typedef struct loader {
    bool reload;
    size_t errors;
} loader;

/* One problem (or a note when !error): stderr at start, a log line on reload. */
static void report(loader *l, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(loader *l, bool error, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (error)
        l->errors++;
    if (l->reload)
        bridge_log(error ? AIOE_LOG_ERROR : AIOE_LOG_INFO, "reload: %s", line);
    else
        fprintf(stderr, "%s\n", line);
}

static void report_parse_error(loader *l, const aioe_parse_error *e)
{
    l->errors++;
    if (!l->reload) {
        example_print_parse_error(stderr, e);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    example_print_parse_error(f, e);
    if (fclose(f) == 0) {
        if (len && text[len - 1] == '\n')
            text[len - 1] = 0;
        bridge_log(AIOE_LOG_ERROR, "reload: %s", text);
    }
    free(text);
}

bool bridge_selection_wants(const bridge_selection *sel, const char *name)
{
    if (!sel || !sel->ndataflows)
        return true;
    for (size_t j = 0; j < sel->ndataflows; j++)
        if (!strcmp(sel->dataflows[j], name))
            return true;
    return false;
}

static const aioe_endpoint *find_endpoint(const bridge_config *c, const char *name)
{
    for (size_t i = 0; i < c->nresults; i++) {
        const aioe_endpoint *ep = aioe_parse_result_find_endpoint(c->results[i], name);
        if (ep)
            return ep;
    }
    return NULL;
}

static const aioe_profile *find_profile(const bridge_config *c, const char *name)
{
    for (size_t i = 0; i < c->nresults; i++) {
        const aioe_profile *p = aioe_parse_result_find_profile(c->results[i], name);
        if (p)
            return p;
    }
    return NULL;
}

/* Plans one dataflow: 0 (added or skipped) or an exit status. */
static int plan_one(loader *l, bridge_config *c, const aioe_dataflow *df,
                    const bridge_selection *sel, size_t *cap)
{
    const char *file = aioe_dataflow_source_file(df);
    unsigned line = aioe_dataflow_source_line(df);
    const char *name = aioe_dataflow_name(df);
    if (!bridge_selection_wants(sel, name))
        return 0;
    if (!aioe_dataflow_enabled(df)) {
        report(l, false, "%s:%u: note: dataflow '%s' is Disabled; not run", file, line, name);
        return 0;
    }
    bridge_plan_item it = {.df = df};
    const char *sref = aioe_dataflow_source_endpoint_ref(df);
    const char *dref = aioe_dataflow_destination_endpoint_ref(df);
    if (!sref || !dref || !aioe_dataflow_source_topic_count(df)) {
        report(l, true, "%s:%u: error: dataflow '%s' needs a Source operation with "
               "dataSources and a Destination operation", file, line, name);
        return TOOL_EXIT_INVALID;
    }
    it.src = find_endpoint(c, sref);
    it.dst = find_endpoint(c, dref);
    if (!it.src || !it.dst) {
        report(l, true, "%s:%u: error: dataflow '%s': unknown endpointRef '%s' (no "
               "DataflowEndpoint of that name in the input files)", file, line, name,
               !it.src ? sref : dref);
        return TOOL_EXIT_INVALID;
    }
    const char *pref = aioe_dataflow_profile_ref(df);
    const aioe_profile *prof = find_profile(c, pref);
    if (!prof && strcmp(pref, "default") != 0) {
        report(l, true, "%s:%u: error: dataflow '%s': unknown profileRef '%s' (no "
               "DataflowProfile of that name in the input files)", file, line, name, pref);
        return TOOL_EXIT_INVALID;
    }
    it.count = prof ? aioe_profile_instance_count(prof) : 1;
    char msg[512] = "";
    if (aioe_endpoint_check_instance_count(it.src, it.count, msg, sizeof msg) != AIOE_OK) {
        report(l, true, "%s:%u: error: dataflow '%s': instanceCount %u with source "
               "endpoint '%s': %s", file, line, name, it.count, aioe_endpoint_name(it.src),
               msg[0] ? msg : "the source broker has no shared subscriptions");
        return TOOL_EXIT_INVALID;
    }
    if (sel && sel->instance >= (long)it.count) {
        report(l, true, "%s:%u: error: dataflow '%s' has %u instance(s); --instance "
               "%ld does not exist", file, line, name, it.count, sel->instance);
        return TOOL_EXIT_INVALID;
    }
    for (size_t i = 0; i < c->nplan; i++) {
        if (!strcmp(aioe_dataflow_name(c->plan[i].df), name)) {
            /* two instances would share one client ID and one store */
            report(l, true, "%s:%u: error: dataflow '%s' is defined twice (also at %s:%u)",
                   file, line, name, aioe_dataflow_source_file(c->plan[i].df),
                   aioe_dataflow_source_line(c->plan[i].df));
            return TOOL_EXIT_INVALID;
        }
    }
    if (c->nplan == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        bridge_plan_item *p = realloc(c->plan, ncap * sizeof *p);
        if (!p) {
            report(l, true, "aioe-bridge: out of memory");
            return TOOL_EXIT_FAILURE;
        }
        c->plan = p;
        *cap = ncap;
    }
    c->plan[c->nplan++] = it;
    return 0;
}

int bridge_config_load(bridge_config **out, char *const *files, size_t n,
                       const bridge_selection *sel, bool reload, size_t *nerrors)
{
    loader l = {.reload = reload};
    int status = 0;
    *out = NULL;
    *nerrors = 0;
    bridge_config *c = calloc(1, sizeof *c);
    if (c)
        c->results = calloc(n ? n : 1, sizeof *c->results);
    aioe_parse_options *po = NULL;
    if (!c || !c->results || aioe_parse_options_new(&po) != AIOE_OK ||
        aioe_parse_options_set_kinds(po, AIOE_KIND_DATAFLOW_ENDPOINT | AIOE_KIND_DATAFLOW |
                                             AIOE_KIND_DATAFLOW_PROFILE) != AIOE_OK) {
        aioe_parse_options_free(po);
        report(&l, true, "aioe-bridge: cannot set up the parser");
        *nerrors = l.errors;
        *out = c;
        return TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++) {
        aioe_parse_result *res = NULL;
        int rc = aioe_parse_file(files[i], po, &res);
        if (!res) {
            report(&l, true, "%s: error: %s", files[i], aioe_strerror(rc));
            status = TOOL_EXIT_FAILURE;
            continue;
        }
        c->results[c->nresults++] = res;
        size_t ne = aioe_parse_result_error_count(res);
        for (size_t k = 0; k < ne; k++)
            report_parse_error(&l, aioe_parse_result_error(res, k));
        if (rc != AIOE_OK && ne == 0)
            l.errors++;
        if (rc != AIOE_OK && status < tool_exit_for(rc))
            status = tool_exit_for(rc); /* 3 when a file cannot be read */
    }
    aioe_parse_options_free(po);

    size_t cap = 0;
    for (size_t r = 0; r < c->nresults && status == 0; r++) {
        for (size_t k = 0; k < aioe_parse_result_dataflow_count(c->results[r]); k++) {
            c->ndataflows++;
            int st = plan_one(&l, c, aioe_parse_result_dataflow(c->results[r], k), sel, &cap);
            if (st > status)
                status = st;
            if (st == TOOL_EXIT_FAILURE)
                break;
        }
    }
    if (status == 0 && c->nplan == 0) {
        report(&l, true, "aioe-bridge: error: no %sDataflow to run in the input files",
               c->ndataflows ? "enabled or selected " : "");
        status = TOOL_EXIT_INVALID;
    }
    *nerrors = l.errors;
    *out = c;
    return status;
}

void bridge_config_free(bridge_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nresults; i++)
        aioe_parse_result_free(c->results[i]);
    free(c->results);
    free(c->plan);
    free(c);
}
