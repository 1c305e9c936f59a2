/* The BuiltInTransformation stage, maps and filters: every worked example
 * of the Azure IoT Operations pages it implements, and the decisions of
 * docs/transform.md. Expressions and Dataflow YAML are in
 * test-transform-expr.c. Sources (cited per test):
 *   [MAP]  learn.microsoft.com/azure/iot-operations/connect-to-cloud/concept-dataflow-mapping
 *   [CONV] .../connect-to-cloud/concept-dataflow-conversions
 *   [EXPR] .../connect-to-cloud/concept-dataflow-graphs-expressions ("Expressions
 *          reference for data flows": applies to data flows and data flow graphs)
 *   [FILT] .../connect-to-cloud/howto-dataflow-filter
 *   [CREATE] .../connect-to-cloud/howto-create-dataflow */
#include "transform-fixture.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
