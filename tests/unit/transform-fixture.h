/* Shared helpers of the BuiltInTransformation stage tests
 * (test-transform-map.c, test-transform-expr.c). */
#ifndef AIOE_TESTS_UNIT_TRANSFORM_FIXTURE_H
#define AIOE_TESTS_UNIT_TRANSFORM_FIXTURE_H

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

static inline aioe_transform *stage(void)
{
    aioe_transform *t = NULL;
    assert_int_equal(aioe_transform_new(&t), AIOE_OK);
    return t;
}

/* inputs are given as one '|'-separated string */
static inline int add_map(aioe_transform *t, const char *inputs, const char *output, const char *expression)
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

static inline int add_filter(aioe_transform *t, const char *inputs, const char *expression)
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
static inline aioe_transform_outcome run_full(aioe_transform *t, const char *payload, const char *topic,
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

static inline aioe_transform_outcome run(aioe_transform *t, const char *payload, const char **json)
{
    return run_full(t, payload, NULL, NULL, NULL, json);
}

/* Compares two JSON texts as values (numbers within 1e-9). */
static inline bool json_same(struct json_object *a, struct json_object *b)
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

static inline void expect_json(const char *got, const char *want)
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

static inline void expect_map(aioe_transform *t, const char *in, const char *want)
{
    const char *out;
    assert_int_equal(run(t, in, &out), AIOE_TRANSFORM_PASSED);
    expect_json(out, want);
}

static inline int teardown(void **state)
{
    (void)state;
    aioe_transform_message_free(g_out);
    g_out = NULL;
    return 0;
}

#endif
