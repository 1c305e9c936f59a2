/* The BuiltInTransformation stage reading payloads (docs/transform.md,
 * "Reading the payload"): cJSON reads them, and json-c decides every case
 * where the two would not read the same record, so what the stage accepts
 * and what it reads are what json-c gave before the switch. Cases where a
 * plain cJSON reader differs from json-c are marked "(cJSON alone: ...)". */
#include "transform-fixture.h"

/* The output payload as written (exact text, not compared as values). */
static void expect_text(aioe_transform *t, const char *payload, size_t len, const char *want)
{
    aioe_transform_message *in = NULL;
    if (!g_out)
        assert_int_equal(aioe_transform_message_new(&g_out), AIOE_OK);
    assert_int_equal(aioe_transform_message_new(&in), AIOE_OK);
    assert_int_equal(aioe_transform_message_set_payload(in, payload, len), AIOE_OK);
    aioe_transform_outcome o = AIOE_TRANSFORM_INVALID;
    assert_int_equal(aioe_transform_apply(t, in, g_out, &o), AIOE_OK);
    aioe_transform_message_free(in);
    if (o != AIOE_TRANSFORM_PASSED)
        print_error("%.*s: %s\n", (int)len, payload,
                    aioe_transform_last_error(t, NULL, NULL, NULL));
    assert_int_equal(o, AIOE_TRANSFORM_PASSED);
    size_t n = 0;
    const char *got = aioe_transform_message_payload(g_out, &n);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        print_error("%.*s\n  got  %.*s\n  want %s\n", (int)len, payload, (int)n, got, want);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
}

static void expect_out(aioe_transform *t, const char *payload, const char *want)
{
    expect_text(t, payload, strlen(payload), want);
}

static void expect_invalid(aioe_transform *t, const char *payload, size_t len)
{
    aioe_transform_message *in = NULL;
    if (!g_out)
        assert_int_equal(aioe_transform_message_new(&g_out), AIOE_OK);
    assert_int_equal(aioe_transform_message_new(&in), AIOE_OK);
    assert_int_equal(aioe_transform_message_set_payload(in, payload, len), AIOE_OK);
    aioe_transform_outcome o = AIOE_TRANSFORM_PASSED;
    assert_int_equal(aioe_transform_apply(t, in, g_out, &o), AIOE_OK);
    aioe_transform_message_free(in);
    if (o != AIOE_TRANSFORM_INVALID)
        print_error("%.*s passed\n", (int)len, payload);
    assert_int_equal(o, AIOE_TRANSFORM_INVALID);
    assert_non_null(strstr(aioe_transform_last_error(t, NULL, NULL, NULL), "not a JSON object"));
}

/* Duplicate keys: the last value wins, in the place of the first (json-c).
 * (cJSON alone: both kept, lookups find the first.) */
static void duplicate_keys_last_wins(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a", "x", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "b.c", "y", NULL), AIOE_OK);
    expect_out(t, "{\"a\": 1, \"b\": {\"c\": \"p\", \"c\": \"q\"}, \"a\": 2}",
               "{\"x\":2,\"y\":\"q\"}");
    aioe_transform_free(t);
    t = stage();
    assert_int_equal(add_map(t, "*", "*", NULL), AIOE_OK);
    expect_out(t, "{\"a\": 1, \"b\": true, \"a\": [3]}", "{\"a\":[3],\"b\":true}");
    /* a wide object (sorted, not compared pairwise) */
    char wide[2048];
    size_t o = 0;
    wide[o++] = '{';
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(wide + o, sizeof wide - o, "\"k%d\": %d, ", i, i);
    o += (size_t)snprintf(wide + o, sizeof wide - o, "\"k7\": \"last\"}");
    const char *out;
    assert_int_equal(run(t, wide, &out), AIOE_TRANSFORM_PASSED);
    struct json_object *j = json_tokener_parse(out), *v;
    assert_non_null(j);
    assert_int_equal(json_object_object_length(j), 40);
    assert_true(json_object_object_get_ex(j, "k7", &v));
    assert_string_equal(json_object_get_string(v), "last");
    json_object_put(j);
    aioe_transform_free(t);
}

/* 64-bit integers exactly, as json-c reads them. (cJSON alone: a double,
 * 1733567730123456789 would become 1733567730123456768.) */
static void integers_beyond_2_pow_53(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "ts", "ts", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "ts", "next", "$1 + 1"), AIOE_OK);
    assert_int_equal(add_map(t, "ts", "kind", "typeof($1)"), AIOE_OK);
    expect_out(t, "{\"ts\": 1733567730123456789}",
               "{\"ts\":1733567730123456789,\"next\":1733567730123456790,\"kind\":\"int\"}");
    expect_out(t, "{\"ts\": -9223372036854775808}",
               "{\"ts\":-9223372036854775808,\"next\":-9223372036854775807,\"kind\":\"int\"}");
    /* above INT64_MAX: json-c's uint64, a float in expressions */
    expect_out(t, "{\"ts\": 18446744073709551615}",
               "{\"ts\":18446744073709551615,\"next\":1.8446744073709552e+19,\"kind\":\"float\"}");
    /* 2^53 - 1 is still exact as a double */
    expect_out(t, "{\"ts\": 9007199254740991}",
               "{\"ts\":9007199254740991,\"next\":9007199254740992,\"kind\":\"int\"}");
    aioe_transform_free(t);
}

/* Numbers: a whole number is an integer, a float is written in its
 * shortest form (docs/transform.md). */
static void numbers(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "n", "n", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "n", "kind", "typeof($1)"), AIOE_OK);
    expect_out(t, "{\"n\": 21.75}", "{\"n\":21.75,\"kind\":\"float\"}");
    expect_out(t, "{\"n\": 21.750}", "{\"n\":21.75,\"kind\":\"float\"}");
    expect_out(t, "{\"n\": -0.5e-3}", "{\"n\":-0.0005,\"kind\":\"float\"}");
    expect_out(t, "{\"n\": 12}", "{\"n\":12,\"kind\":\"int\"}");
    expect_out(t, "{\"n\": -0}", "{\"n\":0,\"kind\":\"int\"}");
    /* the decision of the switch to cJSON: a whole number written with a
     * fraction or an exponent is an integer */
    expect_out(t, "{\"n\": 21.0}", "{\"n\":21,\"kind\":\"int\"}");
    expect_out(t, "{\"n\": 1e2}", "{\"n\":100,\"kind\":\"int\"}");
    /* non-finite values are json-c's (cJSON alone: 1e999 is infinity,
     * NaN is refused) */
    expect_out(t, "{\"n\": 1e999}", "{\"n\":1e999,\"kind\":\"float\"}");
    expect_out(t, "{\"n\": NaN}", "{\"n\":NaN,\"kind\":\"float\"}");
    /* in an array copied as is, and through a tuple */
    assert_int_equal(add_map(t, "a", "a", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "a", "m", "max($1)"), AIOE_OK);
    expect_out(t, "{\"n\": 1, \"a\": [1, 2.5, 9007199254740993, 0.1]}",
               "{\"n\":1,\"kind\":\"int\",\"a\":[1,2.5,9007199254740993,0.1],"
               "\"m\":9007199254740993}");
    aioe_transform_free(t);
}

/* Nesting: json-c's limit, 31 objects or arrays. (cJSON alone: 1000.) */
static void nesting_limit(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a", "a", NULL), AIOE_OK);
    char buf[3000];
    for (int depth = 30; depth <= 33; depth++) {
        size_t o = (size_t)snprintf(buf, sizeof buf, "{\"a\": ");
        for (int i = 1; i < depth; i++)
            buf[o++] = '[';
        buf[o++] = '1';
        for (int i = 1; i < depth; i++)
            buf[o++] = ']';
        buf[o++] = '}';
        buf[o] = 0;
        const char *out;
        assert_int_equal(run(t, buf, &out),
                         depth <= 31 ? AIOE_TRANSFORM_PASSED : AIOE_TRANSFORM_INVALID);
    }
    /* deep enough for cJSON to refuse it: json-c refuses it too, and
     * neither runs out of stack */
    size_t o = (size_t)snprintf(buf, sizeof buf, "{\"a\": ");
    for (int i = 0; i < 1200; i++)
        buf[o++] = '[';
    buf[o] = 0;
    expect_invalid(t, buf, o);
    assert_non_null(strstr(aioe_transform_last_error(t, NULL, NULL, NULL), "nesting too deep"));
    aioe_transform_free(t);
}

/* What cJSON takes as whitespace and json-c does not, and what json-c
 * accepts and cJSON does not. */
static void what_is_accepted(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a", "b", NULL), AIOE_OK);
    /* (cJSON alone: accepted) */
    static const char *const refused[] = {
        "{\"a\":\x01 1}", "{\"a\":\f1}", "{\"a\":\v1}", "\xEF\xBB\xBF{\"a\":1}", "{\"a\":1}\x1F",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_invalid(t, refused[i], strlen(refused[i]));
    expect_invalid(t, "{\"a\":1}\0", 8);
    expect_invalid(t, "{\"a\": \"\\u12G4\"}", 15); /* (cJSON alone: \u0000) */
    expect_invalid(t, "{\"a\\u\": 1}", 10);
    expect_invalid(t, "{\"a\":1} {", 9);
    expect_invalid(t, "[{\"a\":1}]", 9);
    expect_invalid(t, "\"a\"", 3);
    expect_invalid(t, "  ", 2);
    /* (cJSON alone: refused) */
    expect_out(t, "{'a': 1}", "{\"b\":1}");
    expect_out(t, "{\"a\": [1, 2,],}", "{\"b\":[1,2]}");
    expect_out(t, "{\"a\": /* c */ true}", "{\"b\":true}");
    expect_out(t, "{\"a\": \"\\ud800\"}", "{\"b\":\"\xEF\xBF\xBD\"}");
    /* whitespace json-c accepts, on either side */
    expect_out(t, " \t\r\n{\"a\":\t\"x\"}\r\n ", "{\"b\":\"x\"}");
    /* a payload is read to its length, not to a NUL */
    expect_text(t, "{\"a\": 5}{\"a\": 6}", 8, "{\"b\":5}");
    /* bytes that are not UTF-8 go through, as with json-c */
    expect_out(t, "{\"a\": \"\xFF\xFE\"}", "{\"b\":\"\xFF\xFE\"}");
    aioe_transform_free(t);
}

/* A \u0000 in a string ends it (cJSON's strings are NUL-terminated;
 * json-c kept the bytes after it in values, not in keys). */
static void nul_in_strings(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "a", "b", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "a", "n", "len($1)"), AIOE_OK);
    expect_out(t, "{\"a\": \"x\\u0000y\"}", "{\"b\":\"x\",\"n\":1}");
    aioe_transform_free(t);
}

/* `? $last` keeps a copy: the record it came from is freed. */
static void last_value_outlives_its_record(void **state)
{
    (void)state;
    aioe_transform *t = stage();
    assert_int_equal(add_map(t, "o ? $last", "o", NULL), AIOE_OK);
    assert_int_equal(add_map(t, "o ? $last", "same", "$1 == $1"), AIOE_OK);
    expect_out(t, "{\"o\": {\"k\": [1, \"s\"], \"f\": 2.5}}",
               "{\"o\":{\"k\":[1,\"s\"],\"f\":2.5},\"same\":true}");
    expect_out(t, "{\"x\": 1}", "{\"o\":{\"k\":[1,\"s\"],\"f\":2.5},\"same\":true}");
    /* one read by json-c (a duplicate key), then kept */
    expect_out(t, "{\"o\": {\"k\": 1, \"k\": 12345678901234567}}",
               "{\"o\":{\"k\":12345678901234567},\"same\":true}");
    expect_out(t, "{\"o\": null}", "{\"o\":{\"k\":12345678901234567},\"same\":true}");
    aioe_transform_free(t);
}

/* The two readers give the same tree for the records of the other tests. */
static void both_readers_agree(void **state)
{
    (void)state;
    static const char *const records[] = {
        ("{\"deviceId\":\"thermostat-0042\",\"temperature\":{\"Value\":21.75,\"Unit\":\"C\"},"
         "\"seq\":12345678,\"ok\":true,\"none\":null,\"list\":[1,\"two\",[3.5],{}]}"),
        "{\"Name\": \"Grace Owens\", \"Birth Date\": \"19840202\", \"e\": \"\\u00e9\\n\\\"\"}",
        "{}",
    };
    json_reader rd = { 0 };
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
        cJSON *a = NULL, *b = NULL;
        size_t off;
        bool nomem;
        assert_null(aioe__transform_json_read(&rd, records[i], strlen(records[i]), &a, &off,
                                              &nomem));
        assert_null(aioe__transform_json_read_json_c(&rd, records[i], strlen(records[i]), &b, &off,
                                                     &nomem));
        struct json_object *ja = NULL, *jb = NULL;
        assert_true(aioe__transform_json_out(a, &ja));
        assert_true(aioe__transform_json_out(b, &jb));
        const char *sa = json_object_to_json_string_ext(ja, JSON_C_TO_STRING_PLAIN);
        const char *sb = json_object_to_json_string_ext(jb, JSON_C_TO_STRING_PLAIN);
        if (strcmp(sa, sb) != 0)
            print_error("cJSON  %s\njson-c %s\n", sa, sb);
        assert_string_equal(sa, sb);
        json_object_put(ja);
        json_object_put(jb);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    aioe__transform_json_reader_free(&rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(duplicate_keys_last_wins, teardown),
        cmocka_unit_test_teardown(integers_beyond_2_pow_53, teardown),
        cmocka_unit_test_teardown(numbers, teardown),
        cmocka_unit_test_teardown(nesting_limit, teardown),
        cmocka_unit_test_teardown(what_is_accepted, teardown),
        cmocka_unit_test_teardown(nul_in_strings, teardown),
        cmocka_unit_test_teardown(last_value_outlives_its_record, teardown),
        cmocka_unit_test_teardown(both_readers_agree, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
