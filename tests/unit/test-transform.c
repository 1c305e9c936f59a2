/* The BuiltInTransformation stage: every worked example of the Azure IoT
 * Operations pages it implements, and the decisions of docs/transform.md.
 * Sources (cited per test):
 *   [MAP]  learn.microsoft.com/azure/iot-operations/connect-to-cloud/concept-dataflow-mapping
 *   [CONV] .../connect-to-cloud/concept-dataflow-conversions
 *   [EXPR] .../connect-to-cloud/concept-dataflow-graphs-expressions ("Expressions
 *          reference for data flows": applies to data flows and data flow graphs)
 *   [FILT] .../connect-to-cloud/howto-dataflow-filter
 *   [CREATE] .../connect-to-cloud/howto-create-dataflow */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include <aioendpoint/aioendpoint.h>

#include "transform_internal.h"

/* ---- helpers -------------------------------------------------------------- */

static aioe_transform *stage(void)
{
    aioe_transform *t = NULL;
    assert_int_equal(aioe_transform_new(&t), AIOE_OK);
    return t;
}

/* inputs are given as one '|'-separated string */
static int add_map(aioe_transform *t, const char *inputs, const char *output, const char *expression)
{
    char buf[512];
    const char *in[16];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", inputs);
    for (char *s = buf, *tok; (tok = strsep(&s, "|"));)
        in[n++] = tok;
    int rc = aioe_transform_add_map(t, in, n, output, expression);
    if (rc != AIOE_OK)
        print_error("add_map(%s -> %s): %s\n", inputs, output ? output : "(none)",
                    aioe_transform_last_error(t, NULL, NULL, NULL));
    return rc;
}

static int add_filter(aioe_transform *t, const char *inputs, const char *expression)
{
    char buf[512];
    const char *in[16];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", inputs);
    for (char *s = buf, *tok; (tok = strsep(&s, "|"));)
        in[n++] = tok;
    return aioe_transform_add_filter(t, in, n, expression);
}

static aioe_transform_message *g_out;

/* Applies the stage; returns the outcome, the output payload in *json. */
static aioe_transform_outcome run_full(aioe_transform *t, const char *payload, const char *topic,
                                       const char *prop_name, const char *prop_value,
                                       const char **json)
{
    aioe_transform_message *in = NULL;
    assert_int_equal(aioe_transform_message_new(&in), AIOE_OK);
    if (!g_out)
        assert_int_equal(aioe_transform_message_new(&g_out), AIOE_OK);
    assert_int_equal(aioe_transform_message_set_payload(in, payload, strlen(payload)), AIOE_OK);
    if (topic)
        assert_int_equal(aioe_transform_message_set_topic(in, topic, strlen(topic)), AIOE_OK);
    if (prop_name)
        assert_int_equal(aioe_transform_message_add_user_property(
                             in, prop_name, strlen(prop_name), prop_value, strlen(prop_value)),
                         AIOE_OK);
    aioe_transform_outcome o = AIOE_TRANSFORM_INVALID;
    assert_int_equal(aioe_transform_apply(t, in, g_out, &o), AIOE_OK);
    aioe_transform_message_free(in);
    size_t len = 0;
    *json = aioe_transform_message_payload(g_out, &len);
    return o;
}

static aioe_transform_outcome run(aioe_transform *t, const char *payload, const char **json)
{
    return run_full(t, payload, NULL, NULL, NULL, json);
}

/* Compares two JSON texts as values (numbers within 1e-9). */
static bool json_same(struct json_object *a, struct json_object *b)
{
    if (json_object_is_type(a, json_type_double) || json_object_is_type(b, json_type_double)) {
        if (!(json_object_is_type(a, json_type_double) || json_object_is_type(a, json_type_int)) ||
            !(json_object_is_type(b, json_type_double) || json_object_is_type(b, json_type_int)))
            return false;
        return fabs(json_object_get_double(a) - json_object_get_double(b)) < 1e-9;
    }
    if (json_object_get_type(a) != json_object_get_type(b))
        return false;
    if (json_object_is_type(a, json_type_object)) {
        if (json_object_object_length(a) != json_object_object_length(b))
            return false;
        json_object_object_foreach(a, k, v)
        {
            struct json_object *w;
            if (!json_object_object_get_ex(b, k, &w) || !json_same(v, w))
                return false;
        }
        return true;
    }
    if (json_object_is_type(a, json_type_array)) {
        if (json_object_array_length(a) != json_object_array_length(b))
            return false;
        for (size_t i = 0; i < json_object_array_length(a); i++)
            if (!json_same(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return false;
        return true;
    }
    return json_object_equal(a, b);
}

static void expect_json(const char *got, const char *want)
{
    struct json_object *a = json_tokener_parse(got), *b = json_tokener_parse(want);
    assert_non_null(b);
    bool same = a && json_same(a, b);
    if (!same)
        print_error("got  %s\nwant %s\n", got, want);
    json_object_put(a);
    json_object_put(b);
    assert_true(same);
}

static void expect_map(aioe_transform *t, const char *in, const char *want)
{
    const char *out;
    assert_int_equal(run(t, in, &out), AIOE_TRANSFORM_PASSED);
    expect_json(out, want);
}

static int teardown(void **state)
{
    (void)state;
    aioe_transform_message_free(g_out);
    g_out = NULL;
    return 0;
}

/* ---- [MAP] introduction: rename, restructure, merge ------------------------ */

static void map_intro_example(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "Name", "Employee.Name", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "Birth Date", "Employee.Date of Birth", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "Start Date", "Employment.Start Date", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "Position|Office", "Employment.Position", "$1 + \", \" + $2"),
                     AIOE_OK);
    expect_map(t,
               "{\"Name\": \"Grace Owens\", \"Place of birth\": \"London, TX\","
               " \"Birth Date\": \"19840202\", \"Start Date\": \"20180812\","
               " \"Position\": \"Analyst\", \"Office\": \"Kent, WA\"}",
               "{\"Employee\": {\"Name\": \"Grace Owens\", \"Date of Birth\": \"19840202\"},"
               " \"Employment\": {\"Start Date\": \"20180812\","
               " \"Position\": \"Analyst, Kent, WA\"}}");
    /* "expression is required when multiple input fields are combined" */
    assert_int_equal(add_map(t, "Position|Office", "x", NULL), AIOE_ERR_INVALID_SPEC);
    /* $context needs datasets: refused when the rule is added */
    assert_int_equal(add_map(t, "$context(position).BaseSalary", "Employment.BaseSalary", NULL),
                     AIOE_ERR_UNSUPPORTED);
    aioe_transform_free(t);
}

/* ---- [MAP][EXPR] metadata --------------------------------------------------- */

static void metadata_topic_and_user_properties(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "$metadata.topic", "origin_topic", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "$metadata.topic", "$metadata.user_property.origin_topic", NULL),
                     AIOE_OK);
    assert_int_equal(add_map(t, "$metadata.user_property.priority", "priority", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "priority", "$metadata.user_property.level", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "$metadata.topic|$metadata.user_property.device_id", "key",
                             "$1 + \"/\" + $2"),
                     AIOE_OK);
    const char *out;
    assert_int_equal(run_full(t, "{\"priority\": 3}", "plant/a", "priority", "high", &out),
                     AIOE_TRANSFORM_PASSED);
    /* device_id is missing: `+` with an empty value fails, key is not written */
    expect_json(out, "{\"origin_topic\": \"plant/a\", \"priority\": \"high\"}");
    assert_int_equal(aioe_transform_message_user_property_count(g_out), 3);
    aioe_user_property p;
    assert_int_equal(aioe_transform_message_user_property(g_out, 0, &p), AIOE_OK);
    assert_memory_equal(p.name, "priority", 8); /* the input's, forwarded */
    assert_int_equal(aioe_transform_message_user_property(g_out, 1, &p), AIOE_OK);
    assert_int_equal(p.name_len, strlen("origin_topic"));
    assert_memory_equal(p.value, "plant/a", 7);
    assert_int_equal(aioe_transform_message_user_property(g_out, 2, &p), AIOE_OK);
    assert_memory_equal(p.name, "level", 5);
    assert_memory_equal(p.value, "3", 1);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS), 1);
    /* [EXPR] "Read from metadata": $1 + "/" + $2 */
    assert_int_equal(run_full(t, "{\"priority\": 3}", "plant/a", "device_id", "d7", &out),
                     AIOE_TRANSFORM_PASSED);
    expect_json(out, "{\"origin_topic\": \"plant/a\", \"key\": \"plant/a/d7\"}");
    /* the content type (system property) */
    aioe_transform *ct = stage();
    assert_int_equal(add_map(ct, "$metadata.system_property.content_type", "ct", NULL), AIOE_OK);
    aioe_transform_message *in = NULL;
    assert_int_equal(aioe_transform_message_new(&in), AIOE_OK);
    assert_int_equal(aioe_transform_message_set_payload(in, "{}", 2), AIOE_OK);
    assert_int_equal(aioe_transform_message_set_content_type(in, "application/json", 16),
                     AIOE_OK);
    aioe_transform_outcome oc;
    assert_int_equal(aioe_transform_apply(ct, in, g_out, &oc), AIOE_OK);
    assert_int_equal(oc, AIOE_TRANSFORM_PASSED);
    expect_json(aioe_transform_message_payload(g_out, NULL), "{\"ct\": \"application/json\"}");
    size_t ctlen = 0;
    assert_non_null(aioe_transform_message_content_type(g_out, &ctlen));
    assert_int_equal(ctlen, 16);
    assert_int_equal(aioe_transform_apply(ct, in, in, &oc), AIOE_ERR_INVALID_ARG);
    aioe_transform_message_free(in);
    aioe_transform_free(ct);
    /* Kafka headers and unknown metadata are refused at load time */
    assert_int_equal(add_map(t, "$metadata.header.priority", "p", NULL), AIOE_ERR_UNSUPPORTED);
    assert_int_equal(add_map(t, "$metadata.qos", "p", NULL), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(add_map(t, "a", "$metadata.topic", NULL), AIOE_ERR_INVALID_SPEC);
    aioe_transform_free(t);
}

/* [EXPR] "Setting a metadata field to an empty value (()) removes it." */
static void metadata_empty_value_removes(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "a", "$metadata.user_property.priority", "()"), AIOE_OK);
    const char *out;
    assert_int_equal(run_full(t, "{\"a\": 1}", "t", "priority", "high", &out),
                     AIOE_TRANSFORM_PASSED);
    assert_int_equal(aioe_transform_message_user_property_count(g_out), 0);
    aioe_transform_free(t);
}

/* ---- [MAP][EXPR] dot notation, escaping, segmentation ---------------------- */

static void expect_segments(const char *path, size_t n, ...)
{
    fpath p;
    char err[200];
    size_t off;
    assert_int_equal(aioe__transform_fpath_parse(path, FPATH_INPUT, &p, err, sizeof err, &off), 0);
    assert_int_equal(p.nseg, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(p.segs[i], va_arg(ap, const char *));
    va_end(ap);
    aioe__transform_fpath_clear(&p);
}

static void paths_dot_notation_and_escaping(void **state)
{
    (void)state;
    expect_segments("Person.Address.Street.Number", 4, "Person", "Address", "Street", "Number");
    expect_segments("Person.Date of Birth", 2, "Person", "Date of Birth");
    expect_segments(":Person:.:name:", 2, ":Person:", ":name:");
    expect_segments("100 celsius.hot", 2, "100 celsius", "hot");
    expect_segments("Payload.\"Tag.10\".Value", 3, "Payload", "Tag.10", "Value");
    expect_segments("Payload.\"Tag.10\".Measurements.\"Vibration.$12\".Value", 5, "Payload",
                    "Tag.10", "Measurements", "Vibration.$12", "Value");
    expect_segments("Payload.He said: \"Hello\", and waved", 2, "Payload",
                    "He said: \"Hello\", and waved");
    expect_segments("Payload.He said: \"No. It is done\"", 3, "Payload", "He said: \"No",
                    " It is done\"");
    expect_segments("\"nsu=http://opcfoundation.org/UA/Plc/Applications;s=RandomSignedInt32\"",
                    1, "nsu=http://opcfoundation.org/UA/Plc/Applications;s=RandomSignedInt32");
    expect_segments("$source.deviceId", 1, "deviceId");

    /* the same through a stage */
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "Payload.\"Tag.10\".Value", "v", NULL), AIOE_OK);
    expect_map(t, "{\"Payload\": {\"Tag.10\": {\"Value\": 7}}}", "{\"v\": 7}");
    aioe_transform_free(t);

    /* refused, with the offset of the problem */
    static const struct {
        const char *path;
        size_t off;
    } bad[] = {
        { "a..b", 2 }, { ".a", 0 }, { "a.", 1 }, { "a.\"b", 2 }, { "a.\"b\"c", 5 },
        { "a.b*.c", 2 }, { "*.a.*", 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fpath p;
        char err[200];
        size_t off = 99;
        assert_int_equal(aioe__transform_fpath_parse(bad[i].path, FPATH_INPUT, &p, err, sizeof err, &off),
                         AIOE_ERR_INVALID_SPEC);
        if (off != bad[i].off)
            print_error("%s: offset %zu, want %zu (%s)\n", bad[i].path, off, bad[i].off, err);
        assert_int_equal(off, bad[i].off);
    }
}

/* ---- [MAP][EXPR] wildcards -------------------------------------------------- */

static void wildcard_pass_through_and_flatten(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    expect_map(t, "{\"a\": 1, \"b\": {\"c\": [1, 2], \"d\": {\"e\": null}}, \"f\": {}}",
               "{\"a\": 1, \"b\": {\"c\": [1, 2], \"d\": {\"e\": null}}, \"f\": {}}");
    aioe_transform_free(t);

    t = stage();
    assert_int_equal(add_map(t, "ColorProperties.*", "*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "TextureProperties.*", "*", NULL), AIOE_OK);
    expect_map(t,
               "{\"ColorProperties\": {\"Hue\": \"blue\", \"Saturation\": \"90%\","
               " \"Brightness\": \"50%\", \"Opacity\": \"0.8\"},"
               " \"TextureProperties\": {\"type\": \"fabric\", \"SurfaceFeel\": \"soft\","
               " \"SurfaceAppearance\": \"matte\", \"Pattern\": \"knitted\"}}",
               "{\"Hue\": \"blue\", \"Saturation\": \"90%\", \"Brightness\": \"50%\","
               " \"Opacity\": \"0.8\", \"type\": \"fabric\", \"SurfaceFeel\": \"soft\","
               " \"SurfaceAppearance\": \"matte\", \"Pattern\": \"knitted\"}");
    aioe_transform_free(t);

    /* [EXPR] flatten, and restructure under a new parent */
    t = stage();
    assert_int_equal(add_map(t, "Sensors.*", "*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "Metadata.*", "*", NULL), AIOE_OK);
    expect_map(t,
               "{\"Sensors\": {\"Temperature\": 72.5, \"Pressure\": 14.7},"
               " \"Metadata\": {\"LineId\": \"Line-3\", \"Shift\": \"A\"}}",
               "{\"Temperature\": 72.5, \"Pressure\": 14.7, \"LineId\": \"Line-3\","
               " \"Shift\": \"A\"}");
    aioe_transform_free(t);
    t = stage();
    assert_int_equal(add_map(t, "*", "Telemetry.*", NULL), AIOE_OK);
    expect_map(t, "{\"a\": 1, \"b\": {\"c\": 2}}", "{\"Telemetry\": {\"a\": 1, \"b\": {\"c\": 2}}}");
    /* placement rules */
    assert_int_equal(add_map(t, "path1.partial*.path3", "*", NULL), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(add_map(t, "a", "b.*", NULL), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(add_map(t, "*.a", "b", NULL), AIOE_ERR_INVALID_SPEC);
    assert_int_equal(add_map(t, "*.path2.path3", "x.*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "path1.*.path3", "y.*", NULL), AIOE_OK);
    aioe_transform_free(t);
}

#define COLORS                                                                         \
    "{\"Saturation\": {\"Max\": 0.42, \"Min\": 0.67, \"Mid\": {\"Avg\": 0.51, \"Mean\": 0.56}}," \
    " \"Brightness\": {\"Max\": 0.78, \"Min\": 0.93, \"Mid\": {\"Avg\": 0.81, \"Mean\": 0.82}}," \
    " \"Opacity\": {\"Max\": 0.88, \"Min\": 0.91, \"Mid\": {\"Avg\": 0.89, \"Mean\": 0.89}}}"

static void wildcard_multi_input(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min", "ColorProperties.*", "($1 + $2) / 2"), AIOE_OK);
    /* the doc rounds its figures; these are the exact averages */
    expect_map(t, COLORS,
               "{\"ColorProperties\": {\"Saturation\": 0.545, \"Brightness\": 0.855,"
               " \"Opacity\": 0.895}}");
    aioe_transform_free(t);

    /* [MAP] "This configuration fails": Avg and Mean are under Mid */
    t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min|*.Avg|*.Mean", "ColorProperties.*",
                             "($1, $2, $3, $4)"),
                     AIOE_OK);
    expect_map(t, COLORS, "{}");
    aioe_transform_free(t);
    t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min|*.Mid.Avg|*.Mid.Mean", "ColorProperties.*",
                             "($1, $2, $3, $4)"),
                     AIOE_OK);
    expect_map(t, COLORS,
               "{\"ColorProperties\": {\"Saturation\": [0.42, 0.67, 0.51, 0.56],"
               " \"Brightness\": [0.78, 0.93, 0.81, 0.82],"
               " \"Opacity\": [0.88, 0.91, 0.89, 0.89]}}");
    aioe_transform_free(t);

    /* [EXPR] Averaged example */
    t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min", "Averaged.*", "($1 + $2) / 2"), AIOE_OK);
    expect_map(t,
               "{\"Temperature\": {\"Max\": 85.3, \"Min\": 62.1},"
               " \"Pressure\": {\"Max\": 15.2, \"Min\": 14.1}}",
               "{\"Averaged\": {\"Temperature\": 73.7, \"Pressure\": 14.65}}");
    aioe_transform_free(t);
}

static void wildcard_second_rule_and_specialization(void **state)
{
    (void)state;
    /* second rule: same rank, both apply */
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min", "ColorProperties.*.Avg", "($1 + $2) / 2"),
                     AIOE_OK);
    assert_int_equal(add_map(t, "*.Max|*.Min", "ColorProperties.*.Diff", "abs($1 - $2)"),
                     AIOE_OK);
    expect_map(t, COLORS,
               "{\"ColorProperties\": {"
               "\"Saturation\": {\"Avg\": 0.545, \"Diff\": 0.25},"
               " \"Brightness\": {\"Avg\": 0.855, \"Diff\": 0.15},"
               " \"Opacity\": {\"Avg\": 0.895, \"Diff\": 0.03}}}");
    aioe_transform_free(t);

    /* specialization: an empty output removes Opacity */
    t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min", "ColorProperties.*", "($1 + $2) / 2"), AIOE_OK);
    assert_int_equal(add_map(t, "Opacity.Max|Opacity.Min", NULL, NULL), AIOE_OK);
    expect_map(t, COLORS,
               "{\"ColorProperties\": {\"Saturation\": 0.545, \"Brightness\": 0.855}}");
    aioe_transform_free(t);

    /* [MAP][EXPR] a specific rule with a lower rank replaces the wildcard
     * rule for its fields */
    t = stage();
    assert_int_equal(add_map(t, "*.Max|*.Min", "Averaged.*", "($1 + $2) / 2"), AIOE_OK);
    assert_int_equal(add_map(t, "Pressure.Max|Pressure.Min", "Averaged.PressureAdj",
                             "($1 + $2 + 1.0) / 2"),
                     AIOE_OK);
    expect_map(t,
               "{\"Temperature\": {\"Max\": 85.3, \"Min\": 62.1},"
               " \"Pressure\": {\"Max\": 15.2, \"Min\": 14.1}}",
               "{\"Averaged\": {\"Temperature\": 73.7, \"PressureAdj\": 15.15}}");
    aioe_transform_free(t);

    /* a later wildcard rule (higher rank) does not replace a specific one */
    t = stage();
    assert_int_equal(add_map(t, "a.b", "x", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    expect_map(t, "{\"a\": {\"b\": 1}, \"c\": 2}", "{\"x\": 1, \"a\": {\"b\": 1}, \"c\": 2}");
    aioe_transform_free(t);
}

/* A wide record through '*' with a specialization: every field once, the
 * specialized one renamed (instances are grouped by field, not compared
 * pairwise). */
static void wildcard_wide_record(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *json = malloc((size_t)N * 24 + 8);
    assert_non_null(json);
    size_t o = 0;
    json[o++] = '{';
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(json + o, "%s\"k%d\": %d", i ? ", " : "", i, i);
    json[o++] = '}';
    json[o] = 0;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "k5", "x", NULL), AIOE_OK);
    const char *out;
    assert_int_equal(run(t, json, &out), AIOE_TRANSFORM_PASSED);
    struct json_object *j = json_tokener_parse(out);
    assert_non_null(j);
    assert_int_equal(json_object_object_length(j), N);
    struct json_object *v;
    assert_false(json_object_object_get_ex(j, "k5", &v));
    assert_true(json_object_object_get_ex(j, "x", &v));
    assert_int_equal(json_object_get_int(v), 5);
    json_object_put(j);
    aioe_transform_free(t);
    free(json);
}

/* ---- [MAP][FILT][CREATE] last known value ---------------------------------- */

static void last_known_value(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "Temperature ? $last", "Thermostat.Temperature", NULL), AIOE_OK);
    expect_map(t, "{\"Temperature\": 21.5}", "{\"Thermostat\": {\"Temperature\": 21.5}}");
    expect_map(t, "{\"Humidity\": 40}", "{\"Thermostat\": {\"Temperature\": 21.5}}");
    expect_map(t, "{\"Temperature\": 22}", "{\"Thermostat\": {\"Temperature\": 22}}");
    /* "case-insensitive and supports flexible whitespace" */
    assert_int_equal(add_map(t, "a  ?   $LAST ", "b", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "*.a ? $last", "*", NULL), AIOE_ERR_INVALID_SPEC);
    /* `?? <default>` is a data flow graph feature */
    assert_int_equal(add_map(t, "temperature ?? 0", "t", NULL), AIOE_ERR_UNSUPPORTED);
    aioe_transform_free(t);

    /* [FILT] filter with last known value: drop when the last known
     * temperature is 20 or below */
    t = stage();
    assert_int_equal(add_filter(t, "temperature ? $last", "$1 <= 20"), AIOE_OK);
    const char *out;
    assert_int_equal(run(t, "{\"temperature\": 25}", &out), AIOE_TRANSFORM_PASSED);
    assert_int_equal(run(t, "{\"humidity\": 3}", &out), AIOE_TRANSFORM_PASSED);
    assert_int_equal(run(t, "{\"temperature\": 10}", &out), AIOE_TRANSFORM_FILTERED);
    assert_int_equal(run(t, "{\"humidity\": 3}", &out), AIOE_TRANSFORM_FILTERED);
    aioe_transform_free(t);
}

/* ---- [FILT] filter --------------------------------------------------------- */

static void filter_drops_when_true(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_filter(t, "temperature", "$1 <= 20"), AIOE_OK);
    const char *out;
    assert_int_equal(run(t, "{\"temperature\": 20}", &out), AIOE_TRANSFORM_FILTERED);
    assert_int_equal(run(t, "{\"temperature\": 20.5, \"x\": \"y\"}", &out),
                     AIOE_TRANSFORM_PASSED);
    /* no map: the payload goes through byte for byte */
    assert_string_equal(out, "{\"temperature\": 20.5, \"x\": \"y\"}");
    /* a missing input makes the comparison fail: counted, nothing dropped */
    assert_int_equal(run(t, "{\"humidity\": 3}", &out), AIOE_TRANSFORM_PASSED);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS), 1);
    assert_non_null(strstr(aioe_transform_last_error(t, NULL, NULL, NULL), "empty value"));
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_FILTERED), 1);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_PASSED), 2);
    aioe_transform_free(t);

    /* multiple conditions; multiple rules are OR-ed */
    t = stage();
    assert_int_equal(add_filter(t, "temperature.Value|humidity.Value", "$1 * $2 >= 100000"),
                     AIOE_OK);
    assert_int_equal(run(t, "{\"temperature\": {\"Value\": 1000}, \"humidity\": {\"Value\": 100}}",
                         &out),
                     AIOE_TRANSFORM_FILTERED);
    assert_int_equal(run(t, "{\"temperature\": {\"Value\": 999}, \"humidity\": {\"Value\": 100}}",
                         &out),
                     AIOE_TRANSFORM_PASSED);
    aioe_transform_free(t);
    t = stage();
    assert_int_equal(add_filter(t, "temperature", "$1 <= 20"), AIOE_OK);
    assert_int_equal(add_filter(t, "humidity", "$1 >= 80"), AIOE_OK);
    assert_int_equal(run(t, "{\"temperature\": 30, \"humidity\": 85}", &out),
                     AIOE_TRANSFORM_FILTERED);
    assert_int_equal(run(t, "{\"temperature\": 10, \"humidity\": 50}", &out),
                     AIOE_TRANSFORM_FILTERED);
    assert_int_equal(run(t, "{\"temperature\": 30, \"humidity\": 50}", &out),
                     AIOE_TRANSFORM_PASSED);
    /* a non-boolean result drops nothing and is counted */
    assert_int_equal(add_filter(t, "temperature", "$1 + 1"), AIOE_OK);
    assert_int_equal(run(t, "{\"temperature\": 30, \"humidity\": 50}", &out),
                     AIOE_TRANSFORM_PASSED);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS), 1);
    /* no wildcards in filters */
    assert_int_equal(add_filter(t, "*.a", "$1 > 1"), AIOE_ERR_INVALID_SPEC);
    aioe_transform_free(t);
}

/* ---- [CREATE] the published example ---------------------------------------- */

static void published_example(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_filter(t, "temperature.Value|\"Tag 10\".Value", "$1*$2<100000"),
                     AIOE_OK);
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "temperature.Value", "TemperatureF", "cToF($1)"), AIOE_OK);
    assert_int_equal(add_map(t, "\"Tag 10\".Value", "Tag 10", NULL), AIOE_OK);
    const char *out;
    assert_int_equal(run(t, "{\"temperature\": {\"Value\": 10}, \"Tag 10\": {\"Value\": 5}}",
                         &out),
                     AIOE_TRANSFORM_FILTERED);
    /* the specific rules replace the pass-through for their fields */
    expect_map(t,
               "{\"temperature\": {\"Value\": 100, \"Unit\": \"C\"},"
               " \"Tag 10\": {\"Value\": 1000}, \"id\": \"t1\"}",
               "{\"temperature\": {\"Unit\": \"C\"}, \"id\": \"t1\", \"TemperatureF\": 212.0,"
               " \"Tag 10\": 1000}");
    aioe_transform_free(t);
}

/* ---- invalid and incomplete messages --------------------------------------- */

static void invalid_and_incomplete_messages(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a", "b", NULL), AIOE_OK);
    const char *out;
    static const char *const bad[] = { "", "not json", "{\"a\": 1", "[1, 2]", "3",
                                       "{\"a\": 1} x", "{\"a\": 1}{}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(run(t, bad[i], &out), AIOE_TRANSFORM_INVALID);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_INVALID), 7);
    assert_non_null(strstr(aioe_transform_last_error(t, NULL, NULL, NULL), "not a JSON object"));
    expect_map(t, "{\"a\": 1}\n", "{\"b\": 1}");
    expect_map(t, "{\"c\": 1}", "{}");
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_INCOMPLETE), 1);
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_PASSED), 2);
    aioe_transform_count(NULL, AIOE_TRANSFORM_COUNT_PASSED);
    assert_int_equal(aioe_transform_count(t, (aioe_transform_counter)99), 0);
    aioe_transform_free(t);
}

/* ---- [CONV][EXPR] expressions ---------------------------------------------- */

static arena g_arena; /* values of ev(), freed at exit */

static tval ev(const char *text, size_t n, const tval *vars, bool *ok)
{
    char err[200];
    size_t off;
    bool unsup;
    expr *e = aioe__transform_expr_parse(text, n, err, sizeof err, &off, &unsup);
    if (!e)
        print_error("%s: %s at %zu\n", text, err, off);
    assert_non_null(e);
    tval out = { 0 };
    const char *why;
    *ok = aioe__transform_expr_eval(e, vars, &g_arena, &out, &why);
    if (*ok && out.k == TV_STRING) { /* literals live in the expression */
        char *copy = aioe__transform_arena_alloc(&g_arena, out.u.s.len + 1);
        assert_non_null(copy);
        memcpy(copy, out.u.s.p, out.u.s.len);
        out.u.s.p = copy;
    }
    aioe__transform_expr_free(e);
    return out;
}

static void expect_int(const char *text, int64_t want)
{
    bool ok;
    tval v = ev(text, 0, NULL, &ok);
    if (!ok || v.k != TV_INT || v.u.i != want)
        print_error("%s: kind %d ok %d\n", text, v.k, ok);
    assert_true(ok);
    assert_int_equal(v.k, TV_INT);
    assert_int_equal(v.u.i, want);
}

static void expect_float(const char *text, double want)
{
    bool ok;
    tval v = ev(text, 0, NULL, &ok);
    if (!ok || v.k != TV_FLOAT || fabs(v.u.f - want) > 1e-9)
        print_error("%s: kind %d ok %d value %g\n", text, v.k, ok, v.k == TV_FLOAT ? v.u.f : 0);
    assert_true(ok && v.k == TV_FLOAT);
    assert_true(fabs(v.u.f - want) < 1e-9);
}

static void expect_bool(const char *text, bool want)
{
    bool ok;
    tval v = ev(text, 0, NULL, &ok);
    assert_true(ok);
    assert_int_equal(v.k, TV_BOOL);
    assert_int_equal(v.u.b, want);
}

static void expect_str(const char *text, const char *want)
{
    bool ok;
    tval v = ev(text, 0, NULL, &ok);
    assert_true(ok);
    assert_int_equal(v.k, TV_STRING);
    assert_int_equal(v.u.s.len, strlen(want));
    assert_memory_equal(v.u.s.p, want, v.u.s.len);
}

static void expect_fail(const char *text)
{
    bool ok;
    ev(text, 0, NULL, &ok);
    if (ok)
        print_error("%s evaluated\n", text);
    assert_false(ok);
}

static void expressions_operators(void **state)
{
    (void)state;
    /* precedence [CONV]: ^ first, then negation, then * / %, + -, comparisons */
    expect_int("5 * 2 ^ 3", 40);
    expect_int("(5 * 2) ^ 3", 1000);
    expect_int("-5 * 2", -10);
    expect_int("-(5 * 2)", -10);
    expect_int("-2 ^ 2", -4);
    expect_int("5 + 2 * 3", 11);
    expect_int("(5 + 2) * 3", 21);
    expect_bool("5 * 2 <= 10", true);
    expect_bool("101 > 100 && 201 > 200", true);
    expect_bool("1 > 2 || 3 > 2 && 1 > 2", false); /* && binds tighter [EXPR] */
    expect_bool("!(1 > 2)", true);
    expect_bool("1 < 2 == true", true);
    /* division: integer when both are integers, else float */
    expect_int("7 / 2", 3);
    expect_float("7 / 2.0", 3.5);
    expect_float("(212.0 - 32) * 5/9", 100.0);
    expect_int("7 % 3", 1);
    expect_float("7.5 % 2", 1.5);
    expect_float("2 ^ -1", 0.5);
    expect_float("9223372036854775807 + 1", 9223372036854775808.0);
    /* + concatenates when one operand is a string */
    expect_str("\"Analyst\" + \", \" + 'Kent, WA'", "Analyst, Kent, WA");
    expect_str("\"n=\" + 3 + \" f=\" + 0.5 + \" b=\" + true", "n=3 f=0.5 b=true");
    expect_str("'it\\'s'", "it's");
    expect_bool("\"abc\" < \"abd\"", true);
    expect_bool("() == ()", true);
    expect_bool("1 == 1.0", true);
    expect_bool("\"1\" == 1", false);
    expect_bool("(1, 2) == (1, 2)", true);
    expect_fail("1 / 0");
    expect_fail("1 % 0");
    expect_fail("\"a\" < 1");
    expect_fail("() < 1");
    expect_fail("1 && true");
    expect_fail("-\"a\"");
    expect_fail("2.0 ^ 5000");
}

/* Floats are written in the shortest text that reads back exactly. */
static void float_output_round_trips(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        { 71.15, "71.15" },     { 0.1, "0.1" },       { 2.5, "2.5" },
        { 100.0, "100.0" },     { -0.5, "-0.5" },     { 212.0, "212.0" },
        { 1e20, "1e+20" },      { 1e-7, "0.0000001" },    { 0.1 + 0.2, "0.30000000000000004" },
        { 123456.789, "123456.789" }, { -0.0, "-0.0" }, { 21.75 * 9 / 5 + 32, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        aioe__transform_format_double(cases[i].d, buf, sizeof buf);
        assert_true(strtod(buf, NULL) == cases[i].d);
        if (cases[i].text && strcmp(buf, cases[i].text) != 0) {
            print_error("%.17g -> %s, want %s\n", cases[i].d, buf, cases[i].text);
            fail();
        }
    }
}

static void expressions_functions(void **state)
{
    (void)state;
    /* [CONV] the table of available functions, with its examples */
    expect_int("min(2, 3, 1)", 1);
    expect_int("max(2, 3, 1)", 3);
    expect_float("min((2.34, 12.3, 32.4))", 2.34);
    expect_str("if(11 > 10, 'High', 'Low')", "High");
    expect_str("if(9 > 10, 'High', 'Low')", "Low");
    expect_int("if(true, 1, 1 / 0)", 1); /* only the chosen branch runs */
    expect_int("len(\"Azure\")", 5);
    expect_int("len(\"h\xc3\xa9llo\")", 5);
    expect_int("len(1, 2, 3)", 3);
    expect_int("len((1, 2, 3))", 3);
    expect_int("floor(2.9)", 2);
    expect_int("round(2.5)", 3);
    expect_int("round(-2.5)", -3);
    expect_int("ceil(2.1)", 3);
    expect_float("scale(5, 0, 10, 0, 100)", 50.0);
    expect_float("abs(0.42 - 0.67)", 0.25);
    expect_int("abs(-3)", 3);
    /* [CONV] conversion functions and their reverses */
    expect_float("cToF(100)", 212.0);
    expect_float("fToC(212)", 100.0);
    expect_float("psiToBar(1)", 0.0689476);
    expect_float("barToPsi(0.0689476)", 1.0);
    expect_float("inToCm(1)", 2.54);
    expect_float("cmToIn(2.54)", 1.0);
    expect_float("ftToM(1)", 0.3048);
    expect_float("mToFt(0.3048)", 1.0);
    expect_float("lbToKg(1)", 0.453592);
    expect_float("kgToLb(0.453592)", 1.0);
    expect_float("galToL(1)", 3.78541);
    expect_float("lToGal(3.78541)", 1.0);
    /* [EXPR] math, string, collection functions */
    expect_float("round_n(3.14159, 2)", 3.14);
    expect_float("math::sqrt(16)", 4.0);
    expect_float("math::pow(2, 10)", 1024.0);
    expect_float("math::log(8, 2)", 3.0);
    expect_float("math::hypot(3, 4)", 5.0);
    expect_str("str::to_uppercase(\"abc\")", "ABC");
    expect_str("str::to_lowercase(\"ABC\")", "abc");
    expect_str("str::trim(\"  a b  \")", "a b");
    expect_str("str::from(42)", "42");
    expect_str("str::substring(\"Hello\", 1, 3)", "el");
    expect_bool("contains((1, 2, 3), 2)", true);
    expect_bool("contains_any((1, 2), (5, 2))", true);
    expect_str("typeof(1)", "int");
    expect_str("typeof(1.5)", "float");
    expect_str("typeof(\"a\")", "string");
    expect_str("typeof(true)", "boolean");
    expect_str("typeof((1, 2))", "tuple");
    expect_str("typeof(())", "empty");
    expect_fail("math::sqrt(-1)");
    expect_fail("scale(1, 2, 2, 0, 1)");
    expect_fail("min(\"a\")");

    /* [CONV] missing value: if($1 == (), $2, $1) */
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "BaseSalary|DefaultSalary", "BaseSalary",
                             "if($1 == (), $2, $1)"),
                     AIOE_OK);
    expect_map(t, "{\"BaseSalary\": 75000, \"DefaultSalary\": 70000}", "{\"BaseSalary\": 75000}");
    expect_map(t, "{\"DefaultSalary\": 70000}", "{\"BaseSalary\": 70000}");
    assert_int_equal(aioe_transform_count(t, AIOE_TRANSFORM_COUNT_INCOMPLETE), 0);
    aioe_transform_free(t);

    /* [CONV] arrays: min of an array, and an array from single values */
    t = stage();
    assert_int_equal(add_map(t, "Measurements", "Measurement", "min($1)"), AIOE_OK);
    assert_int_equal(add_map(t, "minimum|maximum|average|mean", "stats", "($1, $2, $3, $4)"),
                     AIOE_OK);
    expect_map(t,
               "{\"Measurements\": [2.34, 12.3, 32.4], \"minimum\": 1, \"maximum\": 9,"
               " \"average\": 4.5, \"mean\": 4}",
               "{\"Measurement\": 2.34, \"stats\": [1, 9, 4.5, 4]}");
    aioe_transform_free(t);
}

static void expression_errors_have_positions(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n_vars;
        size_t off;
        const char *needle;
    } bad[] = {
        { "", 1, 0, "empty expression" },
        { "$1 +", 1, 4, "ends too early" },
        { "$1 + $3", 2, 5, "only 2 inputs" },
        { "$0", 1, 0, "only 1 input" },
        { "foo($1)", 1, 0, "unknown function 'foo'" },
        { "cToF($1, 2)", 1, 0, "takes 1 argument" },
        { "$1 = 2", 1, 3, "'=='" },
        { "$1 and $2", 2, 3, "expected an operator" },
        { "($1 + 2", 1, 0, "not closed" },
        { "$1 + 2)", 1, 6, "without a matching" },
        { "\"abc", 1, 0, "string not closed" },
        { "$1 + $metadata.topic", 1, 5, "$metadata goes in the inputs" },
        { "1.2.3", 1, 3, "after a number" },
        { "abc", 1, 0, "is not a value" },
        { "$1 & $2", 2, 3, "'&&'" },
        { "str::regex_matches($1, \"a\")", 1, 0, "data flow graphs only" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[200];
        size_t off = 99;
        bool unsup;
        expr *e = aioe__transform_expr_parse(bad[i].text, bad[i].n_vars, err, sizeof err, &off, &unsup);
        if (e || off != bad[i].off || !strstr(err, bad[i].needle))
            print_error("'%s': %s at %zu\n", bad[i].text, e ? "(parsed)" : err, off);
        assert_null(e);
        assert_int_equal(off, bad[i].off);
        assert_non_null(strstr(err, bad[i].needle));
    }
    /* nesting is bounded */
    char deep[400];
    memset(deep, '(', 200);
    strcpy(deep + 200, "1");
    memset(deep + 201, ')', 198);
    deep[399] = 0;
    char err[200];
    size_t off;
    bool unsup;
    assert_null(aioe__transform_expr_parse(deep, 0, err, sizeof err, &off, &unsup));
    assert_non_null(strstr(err, "nested too deeply"));

    /* through the stage: field and offset */
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a|b", "c", "$1 + $3"), AIOE_ERR_INVALID_SPEC);
    aioe_transform_field f;
    size_t idx;
    aioe_transform_last_error(t, &f, &idx, &off);
    assert_int_equal(f, AIOE_TRANSFORM_FIELD_EXPRESSION);
    assert_int_equal(off, 5);
    assert_int_equal(add_map(t, "a|b.c*", "c", "$1"), AIOE_ERR_INVALID_SPEC);
    aioe_transform_last_error(t, &f, &idx, &off);
    assert_int_equal(f, AIOE_TRANSFORM_FIELD_INPUT);
    assert_int_equal(idx, 1);
    assert_int_equal(off, 2);
    assert_int_equal(aioe_transform_add_map(t, NULL, 1, "a", NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_transform_add_filter(t, (const char *[]){ "a" }, 1, NULL),
                     AIOE_ERR_INVALID_ARG);
    aioe_transform_free(t);
}

/* ---- Dataflow YAML ----------------------------------------------------------- */

#define DF_HEAD                                                                   \
    "apiVersion: connectivity.iotoperations.azure.com/v1\n"                       \
    "kind: Dataflow\n"                                                            \
    "metadata:\n  name: my-dataflow\n"                                            \
    "spec:\n  operations:\n"                                                      \
    "    - operationType: Source\n      sourceSettings:\n"                        \
    "        endpointRef: mq\n        dataSources: [thermostats/+/telemetry/#]\n" \
    "    - operationType: BuiltInTransformation\n"                                \
    "      builtInTransformationSettings:\n"
#define DF_TAIL                                                                   \
    "    - operationType: Destination\n      destinationSettings:\n"              \
    "        endpointRef: mq\n        dataDestination: factory\n"

static aioe_parse_result *parse_df(const char *yaml, int want)
{
    aioe_parse_options *o = NULL;
    assert_int_equal(aioe_parse_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_parse_options_set_kinds(o, AIOE_KIND_DATAFLOW), AIOE_OK);
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "df.yaml", o, &res);
    if (rc != want)
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            print_error("%u:%u %s: %s\n", aioe_parse_result_error(res, i)->line,
                        aioe_parse_result_error(res, i)->column,
                        aioe_parse_result_error(res, i)->path,
                        aioe_parse_result_error(res, i)->message);
    assert_int_equal(rc, want);
    aioe_parse_options_free(o);
    return res;
}

static void dataflow_yaml(void **state)
{
    (void)state;
    aioe_parse_result *res = parse_df(DF_HEAD
                                      "        filter:\n"
                                      "          - inputs:\n"
                                      "              - 'temperature.Value'\n"
                                      "              - '\"Tag 10\".Value'\n"
                                      "            expression: \"$1*$2<100000\"\n"
                                      "            description: drop small products\n"
                                      "        map:\n"
                                      "          - inputs: ['*']\n"
                                      "            output: '*'\n"
                                      "          - inputs: [temperature.Value]\n"
                                      "            output: TemperatureF\n"
                                      "            expression: cToF($1)\n"
                                      "          - inputs: ['\"Tag 10\".Value']\n"
                                      "            output: 'Tag 10'\n"
                                      "          - inputs: [Opacity.Max, Opacity.Min]\n"
                                      "            output:\n"
                                      "        serializationFormat: Json\n" DF_TAIL,
                                      AIOE_OK);
    const aioe_dataflow *df = aioe_parse_result_dataflow(res, 0);
    assert_true(aioe_dataflow_has_transformation(df));
    aioe_transform *t = NULL;
    assert_int_equal(aioe_transform_new_for_dataflow(&t, df), AIOE_OK);
    expect_map(t, "{\"temperature\": {\"Value\": 100}, \"Tag 10\": {\"Value\": 1000}}",
               "{\"TemperatureF\": 212.0, \"Tag 10\": 1000}");
    aioe_transform_free(t);
    aioe_parse_result_free(res);

    /* without a transformation */
    res = parse_df("apiVersion: connectivity.iotoperations.azure.com/v1\n"
                   "kind: Dataflow\nmetadata:\n  name: d\nspec:\n  operations:\n"
                   "    - operationType: Source\n      sourceSettings:\n"
                   "        endpointRef: mq\n        dataSources: [a]\n" DF_TAIL,
                   AIOE_OK);
    assert_false(aioe_dataflow_has_transformation(aioe_parse_result_dataflow(res, 0)));
    assert_int_equal(aioe_transform_new_for_dataflow(&t, aioe_parse_result_dataflow(res, 0)),
                     AIOE_ERR_NOT_FOUND);
    assert_null(t);
    aioe_parse_result_free(res);
}

static void expect_df_error(const char *settings, unsigned line, unsigned col, const char *path,
                            const char *needle)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s%s", DF_HEAD, settings, DF_TAIL);
    aioe_parse_result *res = parse_df(yaml, AIOE_ERR_INVALID_SPEC);
    bool found = false;
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (strcmp(e->path, path) == 0 && strstr(e->message, needle) &&
            (line == 0 || (e->line == line && e->column == col)))
            found = true;
    }
    if (!found) {
        print_error("no '%s' at %u:%u %s; got:\n", needle, line, col, path);
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
            print_error("  %u:%u %s: %s\n", aioe_parse_result_error(res, i)->line,
                        aioe_parse_result_error(res, i)->column,
                        aioe_parse_result_error(res, i)->path,
                        aioe_parse_result_error(res, i)->message);
    }
    assert_true(found);
    aioe_parse_result_free(res);
}

#define OPS "spec.operations[1].builtInTransformationSettings"

static void dataflow_yaml_errors(void **state)
{
    (void)state;
    /* line 13 is the first settings line */
    expect_df_error("        filter:\n"
                    "          - inputs: [a]\n"
                    "            expression: \"$1 <= $2\"\n",
                    15, 32, OPS ".filter[0].expression", "$2: there is only 1 input");
    expect_df_error("        map:\n"
                    "          - inputs: [a, 'b..c']\n"
                    "            output: x\n"
                    "            expression: $1 + $2\n",
                    14, 28, OPS ".map[0].inputs[1]", "empty segment");
    expect_df_error("        map:\n"
                    "          - inputs: [a]\n"
                    "            output: x.*\n",
                    15, 21, OPS ".map[0].output", "needs a '*' in the first input");
    expect_df_error("        map:\n"
                    "          - inputs: [a]\n", 0, 0, OPS ".map[0].output",
                    "required field 'output' is missing");
    expect_df_error("        filter:\n"
                    "          - inputs: [a]\n", 0, 0, OPS ".filter[0].expression",
                    "required field 'expression' is missing");
    expect_df_error("        datasets:\n"
                    "          - key: assetDataset\n", 0, 0, OPS ".datasets",
                    "datasets (contextualization/enrichment) are not supported");
    expect_df_error("        serializationFormat: Parquet\n", 0, 0, OPS ".serializationFormat",
                    "Parquet is not supported");
    expect_df_error("        map:\n"
                    "          - inputs: [$context(assetDataset).location]\n"
                    "            output: location\n",
                    0, 0, OPS ".map[0].inputs[0]", "$context");
    expect_df_error("        map:\n"
                    "          - inputs: [a]\n"
                    "            output: b\n"
                    "            expresion: $1\n",
                    0, 0, OPS ".map[0].expresion", "unknown field");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(map_intro_example, teardown),
        cmocka_unit_test_teardown(metadata_topic_and_user_properties, teardown),
        cmocka_unit_test_teardown(metadata_empty_value_removes, teardown),
        cmocka_unit_test_teardown(paths_dot_notation_and_escaping, teardown),
        cmocka_unit_test_teardown(wildcard_pass_through_and_flatten, teardown),
        cmocka_unit_test_teardown(wildcard_multi_input, teardown),
        cmocka_unit_test_teardown(wildcard_second_rule_and_specialization, teardown),
        cmocka_unit_test_teardown(wildcard_wide_record, teardown),
        cmocka_unit_test_teardown(last_known_value, teardown),
        cmocka_unit_test_teardown(filter_drops_when_true, teardown),
        cmocka_unit_test_teardown(published_example, teardown),
        cmocka_unit_test_teardown(invalid_and_incomplete_messages, teardown),
        cmocka_unit_test(expressions_operators),
        cmocka_unit_test(float_output_round_trips),
        cmocka_unit_test_teardown(expressions_functions, teardown),
        cmocka_unit_test_teardown(expression_errors_have_positions, teardown),
        cmocka_unit_test_teardown(dataflow_yaml, teardown),
        cmocka_unit_test(dataflow_yaml_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    aioe__transform_arena_free(&g_arena);
    return rc;
}
