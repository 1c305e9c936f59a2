/* The parse result handed to the host: its getters and its release, which
 * drops the endpoints, dataflows and profiles it holds. The top file of
 * spec/'s parse path: it calls spec_endpoint.c and spec_dataflow.c, and
 * nothing in spec/ calls it but the stream reader (spec_stream.c). */
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

void aioe_parse_result_free(aioe_parse_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->endpoints.len; i++)
        aioe_endpoint_unref(res->endpoints.items[i]);
    for (size_t i = 0; i < res->dataflows.len; i++)
        aioe_dataflow_unref(res->dataflows.items[i]);
    for (size_t i = 0; i < res->profiles.len; i++)
        aioe_profile_unref(res->profiles.items[i]);
    for (size_t i = 0; i < res->errors.len; i++) {
        free((char *)res->errors.items[i].path);
        free((char *)res->errors.items[i].message);
        free((char *)res->errors.items[i].hint);
    }
    for (size_t i = 0; i < res->skipped.len; i++) {
        free((char *)res->skipped.items[i].api_version);
        free((char *)res->skipped.items[i].kind);
        free((char *)res->skipped.items[i].name);
    }
    free(res->endpoints.items);
    free(res->dataflows.items);
    free(res->profiles.items);
    free(res->errors.items);
    free(res->skipped.items);
    free(res->file);
    free(res);
}

size_t aioe_parse_result_endpoint_count(const aioe_parse_result *res)
{
    return res ? res->endpoints.len : 0;
}

const aioe_endpoint *aioe_parse_result_endpoint(const aioe_parse_result *res, size_t i)
{
    return res && i < res->endpoints.len ? res->endpoints.items[i] : NULL;
}

const aioe_endpoint *aioe_parse_result_find_endpoint(const aioe_parse_result *res,
                                                     const char *name)
{
    if (!res || !name)
        return NULL;
    for (size_t i = 0; i < res->endpoints.len; i++)
        if (strcmp(res->endpoints.items[i]->name, name) == 0)
            return res->endpoints.items[i];
    return NULL;
}

size_t aioe_parse_result_error_count(const aioe_parse_result *res)
{
    return res ? res->errors.len : 0;
}

const aioe_parse_error *aioe_parse_result_error(const aioe_parse_result *res, size_t i)
{
    return res && i < res->errors.len ? &res->errors.items[i] : NULL;
}

size_t aioe_parse_result_skipped_count(const aioe_parse_result *res)
{
    return res ? res->skipped.len : 0;
}

const aioe_skipped_document *aioe_parse_result_skipped(const aioe_parse_result *res,
                                                       size_t i)
{
    return res && i < res->skipped.len ? &res->skipped.items[i] : NULL;
}

size_t aioe_parse_result_dataflow_count(const aioe_parse_result *res)
{
    return res ? res->dataflows.len : 0;
}

const aioe_dataflow *aioe_parse_result_dataflow(const aioe_parse_result *res, size_t i)
{
    return res && i < res->dataflows.len ? res->dataflows.items[i] : NULL;
}

size_t aioe_parse_result_profile_count(const aioe_parse_result *res)
{
    return res ? res->profiles.len : 0;
}

const aioe_profile *aioe_parse_result_profile(const aioe_parse_result *res, size_t i)
{
    return res && i < res->profiles.len ? res->profiles.items[i] : NULL;
}

const aioe_profile *aioe_parse_result_find_profile(const aioe_parse_result *res,
                                                   const char *name)
{
    if (!res || !name)
        return NULL;
    for (size_t i = 0; i < res->profiles.len; i++)
        if (strcmp(res->profiles.items[i]->name, name) == 0)
            return res->profiles.items[i];
    return NULL;
}
