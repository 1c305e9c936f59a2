/* Dataflow and DataflowProfile parsing, topic filters and destination
 * topic templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#define DF_HEADER                                           \
    "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: Dataflow\n"                                      \
    "metadata:\n  name: bridge\n  namespace: azure-iot-operations\n"

#define DF_OPS(src, dst)                                                   \
    DF_HEADER "spec:\n  profileRef: fast\n  operations:\n"                 \
    "    - operationType: Source\n      sourceSettings:\n"                 \
    "        endpointRef: local\n        dataSources: " src "\n"           \
    "    - operationType: Destination\n      destinationSettings:\n"       \
    "        endpointRef: cloud\n        dataDestination: " dst "\n"

static aioe_parse_result *parse_all(const char *yaml, int expect_rc)
{
    aioe_parse_options *opts = NULL;
    assert_int_equal(aioe_parse_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_kinds(opts, AIOE_KIND_DATAFLOW_ENDPOINT |
                                                            AIOE_KIND_DATAFLOW |
                                                            AIOE_KIND_DATAFLOW_PROFILE),
                     AIOE_OK);
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "df.yaml", opts, &res);
    if (rc != expect_rc)
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            print_error("  %u:%u %s: %s\n", aioe_parse_result_error(res, i)->line,
                        aioe_parse_result_error(res, i)->column,
                        aioe_parse_result_error(res, i)->path,
                        aioe_parse_result_error(res, i)->message);
    assert_int_equal(rc, expect_rc);
    aioe_parse_options_free(opts);
    return res;
}

static void expect_error(const char *yaml, const char *path, const char *needle)
{
    aioe_parse_result *res = parse_all(yaml, AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_dataflow_count(res), 0);
    bool found = false;
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (strcmp(e->path, path) == 0 && strstr(e->message, needle))
            found = true;
    }
    if (!found) {
        print_error("no error '%s' at %s; got:\n", needle, path);
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            print_error("  %s: %s\n", aioe_parse_result_error(res, i)->path,
                        aioe_parse_result_error(res, i)->message);
    }
    assert_true(found);
    aioe_parse_result_free(res);
}

static void dataflow_and_profile(void **state)
{
    (void)state;
    aioe_parse_result *res = parse_all(
        DF_OPS("[\"factory/+/temp\", \"plant/#\"]", "cloud/${inputTopic.2}/${inputTopic}")
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowProfile\nmetadata:\n  name: fast\nspec:\n  instanceCount: 3\n"
        "  diagnostics: {logs: {level: info}}\n"
        "---\n"
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowProfile\nmetadata:\n  name: default\n",
        AIOE_OK);
    assert_int_equal(aioe_parse_result_dataflow_count(res), 1);
    const aioe_dataflow *df = aioe_parse_result_dataflow(res, 0);
    assert_string_equal(aioe_dataflow_name(df), "bridge");
    assert_string_equal(aioe_dataflow_namespace(df), "azure-iot-operations");
    assert_string_equal(aioe_dataflow_profile_ref(df), "fast");
    assert_true(aioe_dataflow_enabled(df));
    assert_string_equal(aioe_dataflow_source_endpoint_ref(df), "local");
    assert_int_equal(aioe_dataflow_source_topic_count(df), 2);
    assert_string_equal(aioe_dataflow_source_topic(df, 0), "factory/+/temp");
    assert_string_equal(aioe_dataflow_source_topic(df, 1), "plant/#");
    assert_null(aioe_dataflow_source_topic(df, 2));
    assert_string_equal(aioe_dataflow_destination_endpoint_ref(df), "cloud");
    assert_string_equal(aioe_dataflow_destination_topic(df),
                        "cloud/${inputTopic.2}/${inputTopic}");
    assert_int_equal(aioe_dataflow_source_line(df), 1);
    assert_int_equal(aioe_parse_result_profile_count(res), 2);
    assert_int_equal(aioe_profile_instance_count(aioe_parse_result_find_profile(res, "fast")), 3);
    assert_int_equal(aioe_profile_instance_count(aioe_parse_result_find_profile(res, "default")), 1);
    assert_null(aioe_parse_result_find_profile(res, "none"));
    aioe_dataflow *kept = aioe_dataflow_ref(df);
    aioe_profile *pk = aioe_profile_ref(aioe_parse_result_profile(res, 0));
    aioe_parse_result_free(res);
    assert_string_equal(aioe_dataflow_source_topic(kept, 1), "plant/#");
    assert_string_equal(aioe_profile_name(pk), "fast");
    aioe_dataflow_unref(kept);
    aioe_profile_unref(pk);
}

static void dataflows_skipped_by_default(void **state)
{
    (void)state;
    const char *yaml = DF_OPS("[a]", "b");
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), NULL, NULL, &res), AIOE_OK);
    assert_int_equal(aioe_parse_result_dataflow_count(res), 0);
    assert_int_equal(aioe_parse_result_skipped_count(res), 1);
    assert_string_equal(aioe_parse_result_skipped(res, 0)->kind, "Dataflow");
    aioe_parse_result_free(res);

    aioe_parse_options *opts = NULL;
    assert_int_equal(aioe_parse_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_kinds(opts, 0), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_kinds(opts, 1u << 9), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_kinds(NULL, AIOE_KIND_DATAFLOW), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_options_set_kinds(opts, AIOE_KIND_DATAFLOW), AIOE_OK);
    const char *both = DF_OPS("[a]", "b") "---\n"
                       "apiVersion: connectivity.iotoperations.azure.com/v1\n"
                       "kind: DataflowEndpoint\nmetadata:\n  name: x\n"
                       "spec:\n  endpointType: Mqtt\n";
    assert_int_equal(aioe_parse_buffer(both, strlen(both), NULL, opts, &res), AIOE_OK);
    assert_int_equal(aioe_parse_result_dataflow_count(res), 1);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 0);
    aioe_parse_result_free(res);
    aioe_parse_options_free(opts);
}

static void dataflow_errors(void **state)
{
    (void)state;
    expect_error(DF_OPS("[\"a/b+\"]", "x"), "spec.operations[0].sourceSettings.dataSources[0]",
                 "not a valid MQTT topic filter");
    expect_error(DF_OPS("[\"a/#/b\"]", "x"), "spec.operations[0].sourceSettings.dataSources[0]",
                 "not a valid MQTT topic filter");
    expect_error(DF_OPS("[]", "x"), "spec.operations[0].sourceSettings.dataSources",
                 "dataSources is empty");
    expect_error(DF_OPS("a/b", "x"), "spec.operations[0].sourceSettings.dataSources",
                 "expected a list of topic filters");
    expect_error(DF_OPS("[a]", "x/+"), "spec.operations[1].destinationSettings.dataDestination",
                 "not a valid destination topic");
    expect_error(DF_OPS("[a]", "x/${inputTopic.0}"),
                 "spec.operations[1].destinationSettings.dataDestination",
                 "not a valid destination topic");
    expect_error(DF_OPS("[a]", "x/${outputTopic}"),
                 "spec.operations[1].destinationSettings.dataDestination",
                 "not a valid destination topic");
    expect_error(DF_OPS("[a]", "\"x/${inputTopic\""),
                 "spec.operations[1].destinationSettings.dataDestination",
                 "not a valid destination topic");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: Source\n      sourceSettings:\n"
                 "        endpointRef: a\n        dataSources: [t]\n",
                 "spec.operations", "no Destination operation");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: Source\n      sourceSettings: {endpointRef: a, dataSources: [t]}\n"
                 "    - operationType: Source\n      sourceSettings: {endpointRef: a, dataSources: [t]}\n"
                 "    - operationType: Destination\n      destinationSettings: {endpointRef: b, dataDestination: t}\n",
                 "spec.operations[1]", "more than one Source operation");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: BuiltInTransformation\n"
                 "      builtInTransformationSettings: {schemaRef: x}\n",
                 "spec.operations[0].builtInTransformationSettings.schemaRef",
                 "schemaRef (serializing to a schema) is not supported");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: BuiltInTransformation\n      builtInTransformationSettings: {}\n",
                 "spec.operations", "no Source operation");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: Source\n      destinationSettings: {}\n",
                 "spec.operations[0].destinationSettings", "does not apply to operationType Source");
    expect_error(DF_HEADER "spec:\n  operations:\n    - operationType: Sink\n",
                 "spec.operations[0].operationType", "not a valid value");
    expect_error(DF_HEADER "spec:\n  operation: []\n", "spec.operation", "unknown field");
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: Source\n      sourceSettings: {dataSources: [t]}\n",
                 "spec.operations[0].sourceSettings.endpointRef", "required field");
    expect_error("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                 "kind: DataflowProfile\nmetadata:\n  name: p\nspec:\n  instanceCount: 21\n",
                 "spec.instanceCount", "out of range; allowed 1..20");
    expect_error("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                 "kind: DataflowProfile\nmetadata:\n  name: p\nspec:\n  instanceCount: 0\n",
                 "spec.instanceCount", "out of range");

    /* mode and ignored source fields */
    aioe_parse_result *res = parse_all(
        DF_HEADER "spec:\n  mode: Disabled\n  operations:\n"
        "    - operationType: Source\n      name: in\n      sourceSettings:\n"
        "        endpointRef: a\n        serializationFormat: Json\n        dataSources: [t]\n"
        "    - operationType: Destination\n      destinationSettings: {endpointRef: b, dataDestination: t}\n",
        AIOE_OK);
    const aioe_dataflow *df = aioe_parse_result_dataflow(res, 0);
    assert_false(aioe_dataflow_enabled(df));
    assert_string_equal(aioe_dataflow_profile_ref(df), "default");
    aioe_parse_result_free(res);
}

/* ---- issue #18: operation shape, schema limits, references ------------- */

#define OP_SRC "    - operationType: Source\n      sourceSettings: {endpointRef: a, dataSources: [t]}\n"
#define OP_TR  "    - operationType: BuiltInTransformation\n      builtInTransformationSettings: {}\n"
#define OP_DST "    - operationType: Destination\n      destinationSettings: {endpointRef: b, dataDestination: t}\n"

static void operation_shape(void **state)
{
    (void)state;
    /* "Create a data flow": a source, optional transformation, a
     * destination; REST DataflowOperation.operationType: Source,
     * Destination, BuiltInTransformation. */
    aioe_parse_result *res = parse_all(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_TR OP_DST,
                                       AIOE_OK);
    assert_true(aioe_dataflow_has_transformation(aioe_parse_result_dataflow(res, 0)));
    aioe_parse_result_free(res);
    res = parse_all(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_DST, AIOE_OK);
    assert_false(aioe_dataflow_has_transformation(aioe_parse_result_dataflow(res, 0)));
    aioe_parse_result_free(res);
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_TR OP_TR OP_DST,
                 "spec.operations[2]", "more than one BuiltInTransformation operation");
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_DST OP_SRC,
                 "spec.operations[0]", "the Destination operation must come last");
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_DST OP_TR,
                 "spec.operations[1]", "the Destination operation must come last");
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_TR OP_SRC OP_DST,
                 "spec.operations[0]", "goes between the Source and the Destination");
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_DST OP_SRC,
                 "spec.operations[2]", "more than one Source operation");
    /* An unknown operationType is named. */
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_SRC
                 "    - operationType: Transform\n" OP_DST,
                 "spec.operations[1].operationType", "'Transform' is not a valid value");
    /* The transformation's output format: Json only here (Delta and
     * Parquet are storage formats; "Configure a data flow destination"). */
    expect_error(DF_HEADER "spec:\n  operations:\n" OP_SRC
                 "    - operationType: BuiltInTransformation\n"
                 "      builtInTransformationSettings: {serializationFormat: Parquet}\n" OP_DST,
                 "spec.operations[1].builtInTransformationSettings.serializationFormat",
                 "serialization format Parquet is not supported");
}

static void schema_limits(void **state)
{
    (void)state;
    /* REST DataflowOperation.name: "maxLength": 64. */
    char doc[2048], name[66];
    memset(name, 'n', 65);
    name[65] = '\0';
    snprintf(doc, sizeof doc, DF_HEADER "spec:\n  operations:\n"
             "    - operationType: Source\n      name: %s\n"
             "      sourceSettings: {endpointRef: a, dataSources: [t]}\n" OP_DST, name);
    expect_error(doc, "spec.operations[0].name", "65 characters, more than the schema's 64");
    name[64] = '\0';
    snprintf(doc, sizeof doc, DF_HEADER "spec:\n  operations:\n"
             "    - operationType: Source\n      name: %s\n"
             "      sourceSettings: {endpointRef: a, dataSources: [t]}\n" OP_DST, name);
    aioe_parse_result *res = parse_all(doc, AIOE_OK);
    aioe_parse_result_free(res);
    /* REST SourceSerializationFormat: "enum": ["Json"]. */
    expect_error(DF_HEADER "spec:\n  operations:\n"
                 "    - operationType: Source\n      sourceSettings:\n"
                 "        {endpointRef: a, dataSources: [t], serializationFormat: Parquet}\n" OP_DST,
                 "spec.operations[0].sourceSettings.serializationFormat", "expected Json");
    /* "Configure a data flow source": shared subscriptions are written
     * $shared/<GROUP_NAME>/<TOPIC_FILTER>; kept as MQTT's $share/. */
    res = parse_all(DF_OPS("[\"$shared/grp/factory/#\"]", "x"), AIOE_OK);
    assert_string_equal(aioe_dataflow_source_topic(aioe_parse_result_dataflow(res, 0), 0),
                        "$share/grp/factory/#");
    aioe_parse_result_free(res);
    expect_error(DF_OPS("[\"$shared/grp\"]", "x"),
                 "spec.operations[0].sourceSettings.dataSources[0]", "not a valid MQTT topic filter");
    expect_error(DF_OPS("[\"$shared/g+/t\"]", "x"),
                 "spec.operations[0].sourceSettings.dataSources[0]", "not a valid MQTT topic filter");
    expect_error(DF_OPS("[\"<TOPIC_FILTER>\"]", "x"),
                 "spec.operations[0].sourceSettings.dataSources[0]", "documentation placeholder");
}

static aioe_parse_result *parse_named(const char *yaml, const char *name)
{
    aioe_parse_options *opts = NULL;
    assert_int_equal(aioe_parse_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_kinds(opts, AIOE_KIND_DATAFLOW_ENDPOINT |
                                                            AIOE_KIND_DATAFLOW |
                                                            AIOE_KIND_DATAFLOW_PROFILE),
                     AIOE_OK);
    aioe_parse_result *res = NULL;
    aioe_parse_buffer(yaml, strlen(yaml), name, opts, &res);
    aioe_parse_options_free(opts);
    assert_non_null(res);
    return res;
}

#define EP(name) "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\nmetadata:\n  name: " name "\nspec:\n  endpointType: Mqtt\n" \
    "  mqttSettings: {host: \"b:1883\", tls: {mode: Disabled}, authentication: {method: Anonymous}}\n"

static void references_across_results(void **state)
{
    (void)state;
    /* Endpoints in one stream, the dataflow (profileRef fast) in another. */
    aioe_parse_result *eps = parse_named(EP("local") "---\n" EP("cloud"), "endpoints.yaml");
    aioe_parse_result *flow = parse_named(DF_OPS("[a]", "b"), "flow.yaml");
    aioe_parse_result *both[] = { eps, flow };
    /* profileRef 'fast' is missing. */
    assert_int_equal(aioe_parse_results_check_references(both, 2), 1);
    const aioe_parse_error *e = aioe_parse_result_error(flow, 0);
    assert_string_equal(e->file, "flow.yaml");
    assert_string_equal(e->path, "spec.profileRef");
    assert_int_equal(e->line, 7);
    assert_int_equal(e->column, 15);
    assert_non_null(strstr(e->message, "profileRef 'fast' names no valid DataflowProfile"));
    assert_int_equal(aioe_parse_result_dataflow_count(flow), 0); /* removed */
    aioe_parse_result_free(flow);

    /* With the profile, and one endpoint missing: the error names it and
     * sits at the reference. */
    const char *profile = "---\napiVersion: connectivity.iotoperations.azure.com/v1\n"
                          "kind: DataflowProfile\nmetadata:\n  name: fast\n";
    char doc[2048];
    snprintf(doc, sizeof doc, "%s%s", DF_OPS("[a]", "b"), profile);
    flow = parse_named(doc, "flow.yaml");
    aioe_parse_result *only_local = parse_named(EP("local"), "local.yaml");
    aioe_parse_result *pair[] = { only_local, flow };
    assert_int_equal(aioe_parse_results_check_references(pair, 2), 1);
    e = aioe_parse_result_error(flow, 0);
    assert_string_equal(e->path, "spec.operations[1].destinationSettings.endpointRef");
    assert_int_equal(e->line, 15);
    assert_int_equal(e->column, 22);
    assert_non_null(strstr(e->message, "Destination endpointRef 'cloud' names no valid"));
    aioe_parse_result_free(flow);

    /* Everything present: nothing added, the dataflow stays. */
    flow = parse_named(doc, "flow.yaml");
    both[1] = flow;
    assert_int_equal(aioe_parse_results_check_references(both, 2), 0);
    assert_int_equal(aioe_parse_result_dataflow_count(flow), 1);
    char *json = NULL;
    assert_int_equal(aioe_dataflow_to_json(aioe_parse_result_dataflow(flow, 0), 0, &json, NULL),
                     AIOE_OK);
    assert_string_equal(json, "{\"kind\":\"Dataflow\",\"name\":\"bridge\",\"namespace\":"
                        "\"azure-iot-operations\",\"profileRef\":\"fast\",\"mode\":\"Enabled\","
                        "\"source\":{\"endpointRef\":\"local\",\"dataSources\":[\"a\"]},"
                        "\"transformation\":false,\"destination\":{\"endpointRef\":\"cloud\","
                        "\"dataDestination\":\"b\"}}");
    aioe_free(json);
    assert_int_equal(aioe_profile_to_json(aioe_parse_result_profile(flow, 0), 0, &json, NULL),
                     AIOE_OK);
    assert_string_equal(json, "{\"kind\":\"DataflowProfile\",\"name\":\"fast\",\"namespace\":null,"
                        "\"instanceCount\":1}");
    aioe_free(json);
    aioe_parse_result_free(flow);

    assert_int_equal(aioe_parse_results_check_references(NULL, 1), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_parse_results_check_references(NULL, 0), 0);
    aioe_parse_result_free(eps);
    aioe_parse_result_free(only_local);
}

static void topic_filters(void **state)
{
    (void)state;
    const char *good[] = { "a", "a/b", "+", "#", "a/+/c", "a/#", "+/+", "/", "a//b",
                           "$share/g/a/#", "$SYS/broker", "sport/tennis/+/#" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(aioe_topic_filter_is_valid(good[i]));
    const char *bad[] = { "", "a+", "a/b#", "#/a", "a/#/b", "+a", "$share/g", "$share//a",
                          "$share/g+/a", "$share/g/" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (aioe_topic_filter_is_valid(bad[i]))
            print_error("accepted '%s'\n", bad[i]);
        assert_false(aioe_topic_filter_is_valid(bad[i]));
    }
    assert_false(aioe_topic_filter_is_valid(NULL));
}

static void topic_templates(void **state)
{
    (void)state;
    char buf[64];
    size_t len = 0;
    assert_int_equal(aioe_topic_expand("out/${inputTopic}", "a/b/c", buf, sizeof buf, &len), AIOE_OK);
    assert_string_equal(buf, "out/a/b/c");
    assert_int_equal(len, 9);
    assert_int_equal(aioe_topic_expand("${inputTopic.1}-${inputTopic.3}/x", "a/b/c", buf,
                                       sizeof buf, &len), AIOE_OK);
    assert_string_equal(buf, "a-c/x");
    assert_int_equal(aioe_topic_expand("${inputTopic.2}", "a//c", buf, sizeof buf, NULL), AIOE_OK);
    assert_string_equal(buf, "");
    assert_int_equal(aioe_topic_expand("static/topic", "ignored", buf, sizeof buf, NULL), AIOE_OK);
    assert_string_equal(buf, "static/topic");
    /* unresolvable: drop */
    assert_int_equal(aioe_topic_expand("x/${inputTopic.4}", "a/b/c", buf, sizeof buf, NULL),
                     AIOE_ERR_NOT_FOUND);
    /* too small: the needed length is reported */
    char tiny[8];
    assert_int_equal(aioe_topic_expand("out/${inputTopic}", "a/b/c", tiny, sizeof tiny, &len),
                     AIOE_ERR_TOO_LARGE);
    assert_int_equal(len, 9);
    assert_string_equal(tiny, "");
    assert_int_equal(aioe_topic_expand("out/${inputTopic}", "a/b/c", buf, 9, &len),
                     AIOE_ERR_TOO_LARGE);
    assert_int_equal(aioe_topic_expand("out/${inputTopic}", "a/b/c", buf, 10, &len), AIOE_OK);
    assert_int_equal(aioe_topic_expand("x/${bogus}", "a", buf, sizeof buf, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_topic_expand("x/+", "a", buf, sizeof buf, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_topic_expand("", "a", buf, sizeof buf, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_topic_expand(NULL, "a", buf, sizeof buf, NULL), AIOE_ERR_INVALID_ARG);
    /* Found by fuzz-topic: an unresolvable variable before a malformed one
     * must still report the template as invalid. */
    assert_int_equal(aioe_topic_expand("${inputTopic.9}${inputTopic.", "a", buf, sizeof buf, NULL),
                     AIOE_ERR_INVALID_ARG);

    assert_true(aioe_topic_template_is_valid("a/${inputTopic.10}/${inputTopic}"));
    assert_true(aioe_topic_template_is_valid("cost$/x{y}"));
    assert_false(aioe_topic_template_is_valid("${inputTopic.01}"));
    assert_false(aioe_topic_template_is_valid("${inputTopic."));
    assert_false(aioe_topic_template_is_valid("${inputTopic.99999999}"));
    assert_false(aioe_topic_template_is_valid(""));
}

/* aioe_dataflow_equal(): what the bridge's SIGHUP compares (docs/operations.md) */
#define OP_MAP(expr)                                                              \
    "    - operationType: BuiltInTransformation\n      builtInTransformationSettings:\n" \
    "        map:\n          - inputs: [temperature]\n            output: t\n"          \
    "            expression: \"" expr "\"\n"

static bool df_equal_yaml(const char *a, const char *b)
{
    aioe_parse_result *ra = parse_all(a, AIOE_OK), *rb = parse_all(b, AIOE_OK);
    bool eq = aioe_dataflow_equal(aioe_parse_result_dataflow(ra, 0),
                                  aioe_parse_result_dataflow(rb, 0));
    assert_true(aioe_dataflow_equal(aioe_parse_result_dataflow(ra, 0),
                                    aioe_parse_result_dataflow(ra, 0)));
    aioe_parse_result_free(ra);
    aioe_parse_result_free(rb);
    return eq;
}

static void dataflow_equal(void **state)
{
    (void)state;
    const char *base = DF_HEADER "spec:\n  operations:\n" OP_SRC OP_DST;
    /* the same dataflow written further down a file is equal */
    assert_true(df_equal_yaml(base, "\n\n# moved\n" DF_HEADER "spec:\n  operations:\n" OP_SRC OP_DST));
    assert_false(df_equal_yaml(base, DF_HEADER "spec:\n  operations:\n" OP_SRC
        "    - operationType: Destination\n      destinationSettings: {endpointRef: b, dataDestination: u}\n"));
    assert_false(df_equal_yaml(base, DF_HEADER "spec:\n  operations:\n"
        "    - operationType: Source\n      sourceSettings: {endpointRef: a, dataSources: [t, v]}\n" OP_DST));
    assert_false(df_equal_yaml(base, DF_HEADER "spec:\n  profileRef: p\n  operations:\n" OP_SRC OP_DST));
    assert_false(df_equal_yaml(base, DF_HEADER "spec:\n  operations:\n" OP_SRC OP_MAP("$1 * 2") OP_DST));
    assert_true(df_equal_yaml(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_MAP("$1 * 2") OP_DST,
                              DF_HEADER "spec:\n  operations:\n" OP_SRC OP_MAP("$1 * 2") OP_DST));
    assert_false(df_equal_yaml(DF_HEADER "spec:\n  operations:\n" OP_SRC OP_MAP("$1 * 2") OP_DST,
                               DF_HEADER "spec:\n  operations:\n" OP_SRC OP_MAP("$1 * 3") OP_DST));
    assert_true(aioe_dataflow_equal(NULL, NULL));
    aioe_parse_result *r = parse_all(base, AIOE_OK);
    assert_false(aioe_dataflow_equal(aioe_parse_result_dataflow(r, 0), NULL));
    aioe_parse_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dataflow_and_profile),
        cmocka_unit_test(dataflows_skipped_by_default),
        cmocka_unit_test(dataflow_errors),
        cmocka_unit_test(topic_filters),
        cmocka_unit_test(operation_shape),
        cmocka_unit_test(schema_limits),
        cmocka_unit_test(references_across_results),
        cmocka_unit_test(topic_templates),
        cmocka_unit_test(dataflow_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
