/* Resolving references between resources parsed from several streams:
 * a Dataflow names its endpoints and its profile, and those usually live
 * in other documents or other files. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec_internal.h"

static bool has_endpoint(aioe_parse_result *const *results, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (aioe_parse_result_find_endpoint(results[i], name))
            return true;
    return false;
}

static bool has_profile(aioe_parse_result *const *results, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (aioe_parse_result_find_profile(results[i], name))
            return true;
    return false;
}

/* Adds an error about a reference to the result that holds the dataflow.
 * Returns false only when memory ran out. */
__attribute__((format(printf, 5, 6)))
static bool ref_error(aioe_parse_result *res, const aioe_ref_pos *pos, const char *hint,
                      int *added, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!aioe_result_add_error(res, pos->line, pos->column, pos->path, hint, "%s", msg))
        return false;
    (*added)++;
    return true;
}

static int check_dataflow(aioe_parse_result *const *results, size_t count,
                          aioe_parse_result *res, const aioe_dataflow *df, int *added)
{
    const struct { const char *ref; const aioe_ref_pos *pos; const char *role; } eps[] = {
        { df->source_endpoint_ref, &df->source_ref_pos, "Source" },
        { df->destination_endpoint_ref, &df->destination_ref_pos, "Destination" },
    };
    for (size_t i = 0; i < 2; i++) {
        if (!eps[i].ref || has_endpoint(results, count, eps[i].ref))
            continue;
        if (!ref_error(res, eps[i].pos,
                       "add a valid DataflowEndpoint of that name to the files, or fix the name",
                       added, "dataflow '%s': %s endpointRef '%s' names no valid "
                       "DataflowEndpoint in the given files", df->name, eps[i].role,
                       eps[i].ref))
            return AIOE_ERR_NOMEM;
    }
    if (df->profile_ref && strcmp(df->profile_ref, "default") != 0 &&
        !has_profile(results, count, df->profile_ref) &&
        !ref_error(res, &df->profile_ref_pos,
                   "add a DataflowProfile of that name to the files, or use the default "
                   "profile (omit profileRef)",
                   added, "dataflow '%s': profileRef '%s' names no valid DataflowProfile in "
                   "the given files", df->name, df->profile_ref))
        return AIOE_ERR_NOMEM;
    return AIOE_OK;
}

int aioe_parse_results_check_references(aioe_parse_result *const *results, size_t count)
{
    if (!results && count > 0)
        return AIOE_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!results[i])
            return AIOE_ERR_INVALID_ARG;
    /* Dataflows with a problem leave their result, as invalid documents
     * do; only endpoints and profiles are looked up, so removing one does
     * not change what the others resolve against. */
    int added = 0;
    for (size_t i = 0; i < count; i++) {
        aioe_parse_result *res = results[i];
        size_t kept = 0;
        for (size_t k = 0; k < res->dataflows.len; k++) {
            aioe_dataflow *df = res->dataflows.items[k];
            int before = added;
            int rc = check_dataflow(results, count, res, df, &added);
            if (rc != AIOE_OK) {
                /* keep the rest as they are */
                for (; k < res->dataflows.len; k++)
                    res->dataflows.items[kept++] = res->dataflows.items[k];
                res->dataflows.len = kept;
                return rc;
            }
            if (added == before)
                res->dataflows.items[kept++] = df;
            else
                aioe_dataflow_unref(df); /* invalid, like any document with errors */
        }
        res->dataflows.len = kept;
    }
    return added;
}
