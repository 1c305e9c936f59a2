/* The CloudEvents stage beyond the two tables: structured mode and mode
 * None, exact attribute names, ordinary user properties, duplicates, very
 * long values, many properties, argument and option checks, names, and one
 * stage shared by several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"
#include "cloudevents-fixture.h"

/* ---- structured mode, mode NONE ------------------------------------ */

static void structured_mode_passes_through(void **s)
{
    (void)s;
    static const char *const structured[] = {
        "application/cloudevents+json", "application/cloudevents+json; charset=utf-8",
        "APPLICATION/CloudEvents+JSON", "application/cloudevents", "application/cloudevents;x=y",
        "application/cloudevents+avro", "application/cloudevents-batch+json",
        " application/cloudevents+json",
    };
    static const char *const not_structured[] = {
        "application/json", "application/cloudeventsx", "text/cloudevents+json",
        "application/cloudevents-batchy", "application/cloud", "",
    };
    aioe_cloudevents *prop = make(PROPAGATE_CFG, NULL), *cor = make(COR_CFG, NULL);
    aioe_cloudevents_output *out = new_out();
    /* User properties, even invalid-looking attributes, are untouched. */
    aioe_user_property in[] = {P("specversion", "1.0"), P("id", ""), P("x", "y")};
    for (size_t i = 0; i < NPROPS(structured); i++) {
        const char *ct = structured[i];
        assert_true(aioe_ce_is_structured_content_type(ct, strlen(ct)));
        aioe_cloudevents *stages[] = {prop, cor};
        for (int k = 0; k < 2; k++) {
            aioe_cloudevents_outcome oc = 0;
            assert_int_equal(aioe_cloudevents_apply(stages[k], in, NPROPS(in), ct, strlen(ct),
                                                    LIT(TOPIC), out, &oc),
                             AIOE_OK);
            assert_int_equal(oc, AIOE_CE_STRUCTURED);
            assert_unchanged(out, in, NPROPS(in), ct, strlen(ct));
        }
    }
    for (size_t i = 0; i < NPROPS(not_structured); i++)
        if (aioe_ce_is_structured_content_type(not_structured[i], strlen(not_structured[i])))
            fail_msg("should not be structured: %s", not_structured[i]);
    assert_false(aioe_ce_is_structured_content_type(NULL, 0));
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(prop);
    aioe_cloudevents_free(cor);
}

static void mode_none_passes_through(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make((cfg){AIOE_CLOUD_EVENTS_NONE, NULL, "application/json", NULL},
                                NULL);
    assert_int_equal(aioe_cloudevents_mode(ce), AIOE_CLOUD_EVENTS_NONE);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {P("id", ""), P("x", "y")};
    aioe_cloudevents_outcome oc = 0;
    assert_int_equal(aioe_cloudevents_apply(ce, in, 2, NULL, 0, NULL, 0, out, &oc), AIOE_OK);
    assert_int_equal(oc, AIOE_CE_UNCHANGED);
    assert_unchanged(out, in, 2, NULL, 0);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

/* ---- attribute names, ordinary user properties, duplicates ---------- */

static void attribute_names_are_exact(void **s)
{
    (void)s;
    /* Only the exact lower-case names are attributes. "ID", "Type",
     * "spec-version" or a trailing space are ordinary user properties. */
    aioe_user_property in[] = {P("specversion", "1.0"), P("Type", "t"), P("source", "/s"),
                               P("ID", "1"), P("type ", "t"), P("spec-version", "x")};
    aioe_cloudevents *prop = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_cloudevents_outcome oc = 0;
    assert_int_equal(aioe_cloudevents_apply(prop, in, NPROPS(in), NULL, 0, NULL, 0, out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_UNCHANGED); /* no `type`, no `id` */
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(prop);

    run *r = cor_run(COR, in, NPROPS(in), NULL);
    assert_value(r->out, "ID", "1");
    assert_value(r->out, "Type", "t");
    assert_value(r->out, "id", FIXED_UUID);
    assert_value(r->out, "type", "ms.aio-dataflow.telemetry");
    assert_value(r->out, "spec-version", "x");
    assert_value(r->out, "specversion", "1.0");
    run_free(r);
}

static void ordinary_user_properties_preserved(void **s)
{
    (void)s;
    /* Extension attributes and ordinary user properties cannot be told
     * apart in binary mode: they are never validated or changed, whatever
     * their names or values, and keep their order, duplicates included. */
    aioe_user_property in[] = {
        P("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        P("Not_A-CE_name!", "\x01 control in a user property"),
        P("dup", "1"), FULL_EVENT, P("dup", "2"), P("", ""), P("dup", "1"),
        P("caf\xc3\xa9", "\xf0\x9f\x98\x80"),
    };
    aioe_cloudevents *stages[] = {make(PROPAGATE_CFG, NULL), make(COR_CFG, NULL)};
    aioe_cloudevents_output *out = new_out();
    for (int k = 0; k < 2; k++) {
        assert_int_equal(aioe_cloudevents_apply(stages[k], in, NPROPS(in), NULL, 0, LIT(TOPIC),
                                                out, NULL),
                         AIOE_OK);
        size_t n;
        const aioe_user_property *p = aioe_cloudevents_output_properties(out, &n);
        assert_true(n >= NPROPS(in));
        for (size_t i = 0; i < NPROPS(in); i++) {
            assert_ptr_equal(p[i].name, in[i].name);
            assert_int_equal(p[i].name_len, in[i].name_len);
            if (strcmp(in[i].name, "dataschema") == 0) continue; /* configured */
            assert_ptr_equal(p[i].value, in[i].value);
            assert_int_equal(p[i].value_len, in[i].value_len);
        }
        aioe_cloudevents_free(stages[k]);
    }
    aioe_cloudevents_output_free(out);
}

static void duplicated_attribute_is_invalid(void **s)
{
    (void)s;
    static const char *const names[] = {"specversion", "type", "source", "id",
                                        "subject", "time", "datacontenttype", "dataschema"};
    aioe_cloudevents *prop = make(PROPAGATE, NULL), *cor = make(COR, NULL);
    aioe_cloudevents_output *out = new_out();
    for (size_t k = 0; k < NPROPS(names); k++) {
        aioe_user_property in[12];
        aioe_user_property full[] = {FULL_EVENT, P("datacontenttype", "text/plain")};
        size_t n = 0;
        for (size_t i = 0; i < NPROPS(full); i++) {
            in[n++] = full[i];
            /* The same name again, with the same value: still a duplicate. */
            if (strcmp(full[i].name, names[k]) == 0) in[n++] = full[i];
        }
        assert_int_equal(n, NPROPS(full) + 1);
        aioe_cloudevents_outcome oc = 0;
        assert_int_equal(aioe_cloudevents_apply(prop, in, n, NULL, 0, LIT(TOPIC), out, &oc),
                         AIOE_OK);
        assert_int_equal(oc, AIOE_CE_INVALID_ATTRIBUTE);
        assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), (int)k + 1);
        assert_int_equal(aioe_cloudevents_output_invalid_reason(out), AIOE_CE_REASON_DUPLICATE);
        assert_unchanged(out, in, n, NULL, 0);
        assert_int_equal(aioe_cloudevents_apply(cor, in, n, NULL, 0, LIT(TOPIC), out, &oc),
                         AIOE_ERR_INVALID_EVENT);
        assert_int_equal(aioe_cloudevents_output_invalid_reason(out), AIOE_CE_REASON_DUPLICATE);
        assert_unchanged(out, in, n, NULL, 0);
    }
    /* Propagate: a duplicate does not matter when a required attribute is
     * missing — the message is not a CloudEvent at all. */
    aioe_user_property in[] = {P("id", "1"), P("id", "2"), P("type", "t")};
    aioe_cloudevents_outcome oc = 0;
    assert_int_equal(aioe_cloudevents_apply(prop, in, 3, NULL, 0, NULL, 0, out, &oc), AIOE_OK);
    assert_int_equal(oc, AIOE_CE_UNCHANGED);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(prop);
    aioe_cloudevents_free(cor);
}

static void very_long_values(void **s)
{
    (void)s;
    size_t big = 1u << 20;
    char *id = malloc(big), *subject = malloc(big), *topic = malloc(big);
    assert_non_null(id);
    assert_non_null(subject);
    assert_non_null(topic);
    memset(id, 'i', big);
    memset(subject, 's', big);
    memset(topic, 't', big);
    aioe_user_property in[] = {P("specversion", "1.0"), P("type", "t"), P("source", "/s"),
                               {"id", 2, id, big}, {"subject", 7, subject, big}};
    aioe_cloudevents *prop = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    assert_int_equal(aioe_cloudevents_apply(prop, in, 5, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_PROPAGATED);
    assert_unchanged(out, in, 5, NULL, 0);
    aioe_cloudevents_free(prop);

    /* CreateOrRemap: a 1 MiB topic becomes the subject, not copied. */
    aioe_cloudevents *cor = make(COR, NULL);
    assert_int_equal(aioe_cloudevents_apply(cor, in, 4, NULL, 0, topic, big, out, NULL), AIOE_OK);
    size_t n;
    const aioe_user_property *p = aioe_cloudevents_output_properties(out, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(p[4].name, "subject", 7);
    assert_ptr_equal(p[4].value, topic);
    assert_int_equal(p[4].value_len, big);
    aioe_cloudevents_free(cor);
    aioe_cloudevents_output_free(out);
    free(id);
    free(subject);
    free(topic);
}

static void many_properties_grow_output(void **s)
{
    (void)s;
    enum { N = 1000 };
    aioe_user_property *in = calloc(N, sizeof *in);
    char (*names)[8] = calloc(N, 8);
    assert_non_null(in);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], 8, "p%zu", i);
        in[i] = (aioe_user_property){names[i], strlen(names[i]), "v", 1};
    }
    run *r = cor_run(COR_CFG, in, N, NULL);
    size_t n;
    const aioe_user_property *p = aioe_cloudevents_output_properties(r->out, &n);
    assert_int_equal(n, N + 7);
    assert_ptr_equal(p[N - 1].name, names[N - 1]);
    /* Reuse with a small message afterwards. */
    assert_int_equal(aioe_cloudevents_apply(r->ce, in, 2, NULL, 0, LIT(TOPIC), r->out, NULL),
                     AIOE_OK);
    aioe_cloudevents_output_properties(r->out, &n);
    assert_int_equal(n, 2 + 7);
    run_free(r);
    free(in);
    free(names);
}

/* ---- arguments, options, names ------------------------------------- */

static void apply_argument_checks(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property ok[] = {FULL_EVENT};
    aioe_cloudevents_outcome oc = 42;
    assert_int_equal(aioe_cloudevents_apply(ce, ok, NPROPS(ok), NULL, 0, NULL, 0, NULL, &oc),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(oc, 0);
    /* A good call first, so the failures below must reset the output. */
    assert_int_equal(aioe_cloudevents_apply(ce, ok, NPROPS(ok), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    assert_int_equal(aioe_cloudevents_apply(NULL, ok, 1, NULL, 0, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    size_t n = 9;
    assert_null(aioe_cloudevents_output_properties(out, &n));
    assert_int_equal(n, 0);
    assert_int_equal(aioe_cloudevents_output_outcome(out), 0);
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 1, NULL, 0, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_apply(ce, ok, 1, NULL, 5, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_apply(ce, ok, 1, NULL, 0, NULL, 3, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    aioe_user_property bad_name[] = {{NULL, 3, "v", 1}};
    aioe_user_property bad_value[] = {{"id", 2, NULL, 1}};
    assert_int_equal(aioe_cloudevents_apply(ce, bad_name, 1, NULL, 0, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_apply(ce, bad_value, 1, NULL, 0, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    /* ...also on the structured path. */
    assert_int_equal(aioe_cloudevents_apply(ce, bad_value, 1, LIT("application/cloudevents"),
                                            NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    /* An empty-but-present property (NULL pointers, zero lengths) is fine. */
    aioe_user_property empty[] = {{NULL, 0, NULL, 0}};
    assert_int_equal(aioe_cloudevents_apply(ce, empty, 1, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    /* Getters on NULL. */
    assert_null(aioe_cloudevents_output_properties(NULL, &n));
    assert_int_equal(n, 0);
    assert_null(aioe_cloudevents_output_content_type(NULL, &n));
    assert_int_equal(aioe_cloudevents_output_outcome(NULL), 0);
    assert_int_equal(aioe_cloudevents_output_invalid_attribute(NULL), AIOE_CE_ATTR_NONE);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(NULL), AIOE_CE_REASON_NONE);
    assert_int_equal(aioe_cloudevents_output_changed(NULL), 0);
    assert_int_equal(aioe_cloudevents_mode(NULL), AIOE_CLOUD_EVENTS_NONE);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
    aioe_cloudevents_output_free(NULL);
    aioe_cloudevents_free(NULL);
    aioe_cloudevents_options_free(NULL);
}

static void options_checks(void **s)
{
    (void)s;
    aioe_cloudevents_options *o = NULL;
    aioe_cloudevents *ce = NULL;
    assert_int_equal(aioe_cloudevents_options_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_output_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_mode(NULL, AIOE_CLOUD_EVENTS_PROPAGATE),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_mode(o, (aioe_cloud_event_attributes)3),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_mode(o, AIOE_CLOUD_EVENTS_CREATE_OR_REMAP),
                     AIOE_OK);
    /* CreateOrRemap needs a target name. */
    assert_int_equal(aioe_cloudevents_new(&ce, o), AIOE_ERR_INVALID_ARG);
    assert_null(ce);
    assert_int_equal(aioe_cloudevents_new(&ce, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_new(NULL, o), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_target_name(NULL, "x"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, ""), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, "my target"),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, "a\nb"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(o, ""),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(o, "text/\x01"),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(
                         o, "application/cloudevents+json; charset=utf-8"),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, "schemas/1.json"),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, ""), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(NULL, NULL),
                     AIOE_ERR_INVALID_ARG);

    /* Strings are copied: changing or freeing the caller's buffers, or the
     * options, does not affect the stage. */
    char target[] = "cluster-1/oven", ct[] = "application/json", schema[] = "sr://s/1#1";
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, target), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(o, ct), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, schema), AIOE_OK);
    assert_int_equal(aioe_cloudevents_new(&ce, o), AIOE_OK);
    memset(target, 'X', sizeof target - 1);
    memset(ct, 'X', sizeof ct - 1);
    memset(schema, 'X', sizeof schema - 1);
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, "other"), AIOE_OK);
    aioe_cloudevents_options_free(o);
    assert_int_equal(aioe_cloudevents_mode(ce), AIOE_CLOUD_EVENTS_CREATE_OR_REMAP);
    aioe_cloudevents_output *out = new_out();
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL), AIOE_OK);
    assert_value(out, "source", "aio://cluster-1/oven");
    assert_value(out, "dataschema", "sr://s/1#1");
    assert_content_type(out, "application/json");
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);

    /* Clearing with NULL. */
    assert_int_equal(aioe_cloudevents_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_mode(o, AIOE_CLOUD_EVENTS_PROPAGATE), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, "sr://s/1"), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_new(&ce, o), AIOE_OK);
    aioe_cloudevents_options_free(o);
    out = new_out();
    aioe_user_property in[] = {FULL_EVENT};
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    assert_unchanged(out, in, NPROPS(in), NULL, 0);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

static void names_never_null(void **s)
{
    (void)s;
    assert_string_equal(aioe_cloudevents_attribute_name(AIOE_CE_ATTR_DATACONTENTTYPE),
                        "datacontenttype");
    assert_string_equal(aioe_cloudevents_attribute_name(AIOE_CE_ATTR_NONE), "");
    assert_string_equal(aioe_cloudevents_attribute_name((aioe_cloudevents_attribute)99), "");
    assert_string_equal(aioe_cloudevents_outcome_name(AIOE_CE_CREATED_OR_REMAPPED),
                        "created_or_remapped");
    assert_string_equal(aioe_cloudevents_outcome_name((aioe_cloudevents_outcome)0), "unknown");
    for (int r = 0; r <= AIOE_CE_REASON_NOT_RFC3339; r++) {
        const char *n = aioe_cloudevents_invalid_reason_name((aioe_cloudevents_invalid_reason)r);
        assert_true(strlen(n) > 0 && strcmp(n, "unknown") != 0);
    }
    assert_string_equal(aioe_cloudevents_invalid_reason_name((aioe_cloudevents_invalid_reason)99),
                        "unknown");
}

/* One stage shared by several threads, one output object each: every
 * thread must see its own topic as `subject` and its own valid event. */
typedef struct thread_arg {
    const aioe_cloudevents *cor, *prop;
    char topic[32];
    int failures;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    aioe_cloudevents_output *out = NULL;
    if (aioe_cloudevents_output_new(&out) != AIOE_OK) {
        a->failures++;
        return NULL;
    }
    aioe_user_property ev[] = {FULL_EVENT};
    for (int i = 0; i < 2000; i++) {
        aioe_cloudevents_outcome oc = 0;
        size_t n;
        if (aioe_cloudevents_apply(a->cor, NULL, 0, NULL, 0, a->topic, strlen(a->topic), out,
                                   &oc) != AIOE_OK ||
            oc != AIOE_CE_CREATED_OR_REMAPPED) {
            a->failures++;
            continue;
        }
        const aioe_user_property *pr = aioe_cloudevents_output_properties(out, &n);
        /* generated order: specversion type source id subject time */
        if (n != 6 || pr[4].value_len != strlen(a->topic) ||
            memcmp(pr[4].value, a->topic, pr[4].value_len) != 0 ||
            !aioe_ce_is_rfc3339(pr[5].value, pr[5].value_len))
            a->failures++;
        if (aioe_cloudevents_apply(a->prop, ev, NPROPS(ev), NULL, 0, NULL, 0, out, &oc) !=
                AIOE_OK ||
            oc != AIOE_CE_PROPAGATED)
            a->failures++;
    }
    aioe_cloudevents_output_free(out);
    return NULL;
}

static void shared_stage_across_threads(void **s)
{
    (void)s;
    aioe_cloudevents *cor = make(COR, NULL), *prop = make(PROPAGATE_CFG, NULL);
    enum { T = 4 };
    pthread_t th[T];
    thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){cor, prop, "", 0};
        snprintf(args[i].topic, sizeof args[i].topic, "thread/%d/out", i);
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    aioe_cloudevents_free(cor);
    aioe_cloudevents_free(prop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(structured_mode_passes_through),
        cmocka_unit_test(mode_none_passes_through),
        cmocka_unit_test(attribute_names_are_exact),
        cmocka_unit_test(ordinary_user_properties_preserved),
        cmocka_unit_test(duplicated_attribute_is_invalid),
        cmocka_unit_test(very_long_values),
        cmocka_unit_test(many_properties_grow_output),
        cmocka_unit_test(apply_argument_checks),
        cmocka_unit_test(options_checks),
        cmocka_unit_test(names_never_null),
        cmocka_unit_test(shared_stage_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
