/* The BuiltInTransformation stage, expressions and Dataflow YAML: every
 * worked example of the Azure IoT Operations pages it implements, and the
 * decisions of docs/transform.md. Maps and filters are in
 * test-transform-map.c. Sources (cited per test):
 *   [MAP]  learn.microsoft.com/azure/iot-operations/connect-to-cloud/concept-dataflow-mapping
 *   [CONV] .../connect-to-cloud/concept-dataflow-conversions
 *   [EXPR] .../connect-to-cloud/concept-dataflow-graphs-expressions ("Expressions
 *          reference for data flows": applies to data flows and data flow graphs)
 *   [FILT] .../connect-to-cloud/howto-dataflow-filter
 *   [CREATE] .../connect-to-cloud/howto-create-dataflow */
#include "transform-fixture.h"

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
