/* libFuzzer target: the resource parser (DataflowEndpoint, Dataflow,
 * DataflowProfile) over arbitrary bytes.
 * Every input must give a result or a clean error, never a crash, a leak
 * or a hang; valid endpoints must also survive a serialize/re-parse round
 * trip unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <aioendpoint/aioendpoint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const aioe_endpoint *ep)
{
    char *text = NULL;
    if (aioe_endpoint_to_yaml(ep, &text, NULL) != AIOE_OK)
        abort();
    aioe_parse_result *again = NULL;
    if (aioe_parse_buffer(text, strlen(text), "round-trip", NULL, &again) != AIOE_OK ||
        aioe_parse_result_endpoint_count(again) != 1 ||
        !aioe_endpoint_equal(ep, aioe_parse_result_endpoint(again, 0)))
        abort();
    aioe_parse_result_free(again);
    aioe_free(text);
    if (aioe_endpoint_to_json(ep, AIOE_JSON_SUMMARY, &text, NULL) != AIOE_OK)
        abort();
    aioe_free(text);
}

static aioe_parse_options *all_kinds(void)
{
    static aioe_parse_options *opts;
    if (!opts && (aioe_parse_options_new(&opts) != AIOE_OK ||
                  aioe_parse_options_set_kinds(opts, AIOE_KIND_DATAFLOW_ENDPOINT |
                                                         AIOE_KIND_DATAFLOW |
                                                         AIOE_KIND_DATAFLOW_PROFILE) != AIOE_OK))
        abort();
    return opts;
}

static void check_dataflow(const aioe_dataflow *df)
{
    /* Every accepted source filter and destination template is valid by
     * the same checks the bridge uses at run time. */
    for (size_t i = 0; i < aioe_dataflow_source_topic_count(df); i++)
        if (!aioe_topic_filter_is_valid(aioe_dataflow_source_topic(df, i)))
            abort();
    if (!aioe_topic_template_is_valid(aioe_dataflow_destination_topic(df)))
        abort();
    char buf[256];
    int rc = aioe_topic_expand(aioe_dataflow_destination_topic(df), "a/b/c", buf, sizeof buf, NULL);
    if (rc != AIOE_OK && rc != AIOE_ERR_NOT_FOUND && rc != AIOE_ERR_TOO_LARGE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(data, size, "fuzz", all_kinds(), &res);
    if (rc == AIOE_ERR_NOMEM || !res)
        return 0;
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (!e->file || !e->path || !e->message || !e->hint)
            abort();
    }
    for (size_t i = 0; i < aioe_parse_result_endpoint_count(res); i++)
        check_round_trip(aioe_parse_result_endpoint(res, i));
    for (size_t i = 0; i < aioe_parse_result_dataflow_count(res); i++)
        check_dataflow(aioe_parse_result_dataflow(res, i));
    /* Resolving references only adds errors and drops dataflows. */
    size_t errors = aioe_parse_result_error_count(res);
    rc = aioe_parse_results_check_references(&res, 1);
    if (rc != AIOE_ERR_NOMEM &&
        (rc < 0 || aioe_parse_result_error_count(res) != errors + (size_t)rc))
        abort();
    for (size_t i = 0; i < aioe_parse_result_dataflow_count(res); i++) {
        char *text = NULL;
        if (aioe_dataflow_to_json(aioe_parse_result_dataflow(res, i), 0, &text, NULL) == AIOE_OK)
            aioe_free(text);
    }
    for (size_t i = 0; i < aioe_parse_result_profile_count(res); i++) {
        char *text = NULL;
        if (aioe_profile_to_json(aioe_parse_result_profile(res, i), 0, &text, NULL) == AIOE_OK)
            aioe_free(text);
    }
    aioe_parse_result_free(res);
    return 0;
}
