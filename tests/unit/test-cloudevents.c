/* The CloudEvents stage against the endpoint documentation: every row of
 * the Propagate and CreateOrRemap tables, and every invalid attribute
 * under both modes. Modes, ordinary properties and arguments:
 * test-cloudevents-stage.c; validators: test-cloudevents-syntax.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <uuid/uuid.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"
#include "cloudevents-fixture.h"

/* Runs Propagate on a full event with user properties around it and
 * checks that the named attribute came out with its input value. */
static void propagate_keeps(const char *name, const char *value)
{
    hook_calls calls = {0};
    aioe_cloudevents *ce = make(PROPAGATE_CFG, &calls);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {P("before", "x"), FULL_EVENT, P("after", "y")};
    aioe_cloudevents_outcome oc = 0;
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), LIT("text/plain"), LIT(TOPIC),
                                            out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_PROPAGATED);
    assert_value(out, name, value);
    /* The attribute is at its input position, untouched. */
    size_t n;
    const aioe_user_property *p = aioe_cloudevents_output_properties(out, &n);
    assert_int_equal(n, NPROPS(in));
    for (size_t i = 0; i < n; i++)
        if (strlen(name) == p[i].name_len && memcmp(name, p[i].name, p[i].name_len) == 0)
            assert_ptr_equal(p[i].value, in[i].value);
    assert_false(aioe_cloudevents_output_changed(out) &
                 ~(AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATACONTENTTYPE) |
                   AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATASCHEMA)));
    assert_int_equal(calls.now, 0);
    assert_int_equal(calls.uuid, 0);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

/* ---- Propagate table ----------------------------------------------- */

static void propagate_specversion_as_is(void **s) { (void)s; propagate_keeps("specversion", "1.0"); }
static void propagate_type_as_is(void **s) { (void)s; propagate_keeps("type", "ms.aio.telemetry"); }
static void propagate_source_as_is(void **s)
{
    (void)s;
    propagate_keeps("source", "aio://mycluster/myoven");
}
static void propagate_id_as_is(void **s) { (void)s; propagate_keeps("id", "A234-1234-1234"); }
static void propagate_subject_as_is(void **s)
{
    (void)s;
    propagate_keeps("subject", "aio/myoven/telemetry/temperature");
}
static void propagate_time_not_restamped(void **s)
{
    (void)s;
    propagate_keeps("time", "2018-04-05T17:31:00Z");
}

static void propagate_datacontenttype_becomes_output_content_type(void **s)
{
    (void)s;
    aioe_user_property in[] = {FULL_EVENT, P("datacontenttype", "text/plain")};
    aioe_cloudevents_output *out = new_out();
    aioe_cloudevents *ce = make(PROPAGATE_CFG, NULL);
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), LIT("text/plain"), NULL, 0,
                                            out, NULL),
                     AIOE_OK);
    assert_content_type(out, "application/json");
    /* The user-property mirror some producers send follows the property. */
    assert_value(out, "datacontenttype", "application/json");
    assert_true(aioe_cloudevents_output_changed(out) &
                AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATACONTENTTYPE));
    /* No input content type: the configured one is set. */
    aioe_user_property in2[] = {FULL_EVENT};
    assert_int_equal(aioe_cloudevents_apply(ce, in2, NPROPS(in2), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    assert_content_type(out, "application/json");
    assert_value(out, "datacontenttype", NULL); /* never added as a user property */
    aioe_cloudevents_free(ce);

    /* Only a content type configured: the mirror still follows it, and
     * the caller's array is not written to. */
    ce = make((cfg){AIOE_CLOUD_EVENTS_PROPAGATE, NULL, "application/json", NULL}, NULL);
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), LIT("text/plain"), NULL, 0,
                                            out, NULL),
                     AIOE_OK);
    assert_value(out, "datacontenttype", "application/json");
    assert_memory_equal(in[NPROPS(in) - 1].value, "text/plain", 10);
    aioe_cloudevents_free(ce);

    /* Without a transform content type the input one is kept. */
    ce = make(PROPAGATE, NULL);
    const char ct[] = "application/xml";
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), ct, strlen(ct), NULL, 0, out,
                                            NULL),
                     AIOE_OK);
    assert_unchanged(out, in, NPROPS(in), ct, strlen(ct));
    aioe_cloudevents_free(ce);
    aioe_cloudevents_output_free(out);
}

static void propagate_dataschema_becomes_output_schema(void **s)
{
    (void)s;
    aioe_cloudevents_output *out = new_out();
    aioe_cloudevents *ce = make(PROPAGATE_CFG, NULL);
    aioe_user_property in[] = {FULL_EVENT};
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    assert_value(out, "dataschema", "sr://out-schemas/42#2.0.0");
    size_t n;
    const aioe_user_property *p = aioe_cloudevents_output_properties(out, &n);
    assert_int_equal(n, NPROPS(in)); /* replaced in place */
    assert_memory_equal(p[6].name, "dataschema", 10);
    assert_true(aioe_cloudevents_output_changed(out) & AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATASCHEMA));
    /* The input array itself is not modified. */
    assert_memory_equal(in[6].value, "sr://fabrikam", 13);

    /* Absent in the input: added after the input properties. */
    aioe_user_property in2[] = {P("specversion", "1.0"), P("type", "t"), P("source", "/s"),
                                P("id", "1")};
    assert_int_equal(aioe_cloudevents_apply(ce, in2, NPROPS(in2), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    p = aioe_cloudevents_output_properties(out, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(p[4].name, "dataschema", 10);
    assert_value(out, "dataschema", "sr://out-schemas/42#2.0.0");

    /* Already the configured value: not counted as a change. */
    aioe_user_property in3[] = {FULL_EVENT};
    in3[6] = (aioe_user_property)P("dataschema", "sr://out-schemas/42#2.0.0");
    assert_int_equal(aioe_cloudevents_apply(ce, in3, NPROPS(in3), LIT("application/json"),
                                            NULL, 0, out, NULL),
                     AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_changed(out), 0);
    aioe_cloudevents_free(ce);

    /* No output schema configured: passed through as is. */
    ce = make(PROPAGATE, NULL);
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    assert_unchanged(out, in, NPROPS(in), NULL, 0);
    assert_value(out, "dataschema", "sr://fabrikam-schemas/123123123234234234234234#1.0.0");
    aioe_cloudevents_free(ce);
    aioe_cloudevents_output_free(out);
}

static void propagate_missing_required_passes_unchanged(void **s)
{
    (void)s;
    static const char *const required[] = {"specversion", "type", "source", "id"};
    aioe_cloudevents *ce = make(PROPAGATE_CFG, NULL);
    aioe_cloudevents_output *out = new_out();
    for (size_t r = 0; r < 4; r++) {
        aioe_user_property full[] = {FULL_EVENT, P("u", "v")}, in[9];
        size_t n = 0;
        for (size_t i = 0; i < NPROPS(full); i++)
            if (strcmp(full[i].name, required[r]) != 0) in[n++] = full[i];
        assert_int_equal(n, NPROPS(full) - 1);
        aioe_cloudevents_outcome oc = 0;
        const char ct[] = "text/plain";
        assert_int_equal(aioe_cloudevents_apply(ce, in, n, ct, strlen(ct), LIT(TOPIC), out, &oc),
                         AIOE_OK);
        assert_int_equal(oc, AIOE_CE_UNCHANGED);
        assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_UNCHANGED);
        /* Even the configured content type and schema are not applied. */
        assert_unchanged(out, in, n, ct, strlen(ct));
    }
    /* No properties at all. */
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_UNCHANGED);
    size_t n;
    assert_null(aioe_cloudevents_output_properties(out, &n));
    assert_int_equal(n, 0);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

static void propagate_invalid_passes_unchanged_and_reports(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(PROPAGATE_CFG, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {P("specversion", "0.3"), P("type", "t"), P("source", "/s"),
                               P("id", "1"), P("time", "yesterday")};
    aioe_cloudevents_outcome oc = 0;
    const char ct[] = "text/plain";
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), ct, strlen(ct), NULL, 0, out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_INVALID_ATTRIBUTE);
    assert_unchanged(out, in, NPROPS(in), ct, strlen(ct));
    /* The first invalid attribute in enum order is reported. */
    assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), AIOE_CE_ATTR_SPECVERSION);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(out), AIOE_CE_REASON_BAD_SPECVERSION);

    in[0] = (aioe_user_property)P("specversion", "1.0");
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), ct, strlen(ct), NULL, 0, out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_INVALID_ATTRIBUTE);
    assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), AIOE_CE_ATTR_TIME);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(out), AIOE_CE_REASON_NOT_RFC3339);

    /* A valid event afterwards clears the report. */
    in[4] = (aioe_user_property)P("time", "2018-04-05T17:31:00Z");
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), ct, strlen(ct), NULL, 0, out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_PROPAGATED);
    assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), AIOE_CE_ATTR_NONE);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(out), AIOE_CE_REASON_NONE);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

static void propagate_without_configuration_is_zero_copy(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {FULL_EVENT, P("a", "b")};
    assert_int_equal(aioe_cloudevents_apply(ce, in, NPROPS(in), NULL, 0, NULL, 0, out, NULL),
                     AIOE_OK);
    size_t n;
    assert_ptr_equal(aioe_cloudevents_output_properties(out, &n), in);
    assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_PROPAGATED);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

/* ---- CreateOrRemap table ------------------------------------------- */


static void cor_specversion(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "specversion", "1.0");
    assert_true(changed(r, AIOE_CE_ATTR_SPECVERSION));
    run_free(r);
    aioe_user_property in[] = {P("specversion", "1.0")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "specversion", "1.0");
    assert_ptr_equal(aioe_cloudevents_output_properties(r->out, &(size_t){0})[0].value,
                     in[0].value);
    assert_false(changed(r, AIOE_CE_ATTR_SPECVERSION));
    run_free(r);
}

static void cor_type(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "type", "ms.aio-dataflow.telemetry");
    assert_true(changed(r, AIOE_CE_ATTR_TYPE));
    run_free(r);
    aioe_user_property in[] = {P("type", "ms.aio.telemetry")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "type", "ms.aio.telemetry");
    assert_false(changed(r, AIOE_CE_ATTR_TYPE));
    run_free(r);
}

static void cor_source(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "source", "aio://my-target");
    assert_true(changed(r, AIOE_CE_ATTR_SOURCE));
    run_free(r);
    aioe_user_property in[] = {P("source", "aio://mycluster/myoven")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "source", "aio://mycluster/myoven");
    assert_false(changed(r, AIOE_CE_ATTR_SOURCE));
    run_free(r);
}

static void cor_id(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "id", FIXED_UUID);
    assert_int_equal(r->calls.uuid, 1);
    assert_true(changed(r, AIOE_CE_ATTR_ID));
    run_free(r);
    aioe_user_property in[] = {P("id", "A234-1234-1234")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "id", "A234-1234-1234");
    assert_int_equal(r->calls.uuid, 0);
    assert_false(changed(r, AIOE_CE_ATTR_ID));
    run_free(r);
}

static void cor_subject(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "subject", TOPIC);
    assert_true(changed(r, AIOE_CE_ATTR_SUBJECT));
    run_free(r);
    aioe_user_property in[] = {P("subject", "aio/myoven/telemetry/temperature")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "subject", "aio/myoven/telemetry/temperature");
    assert_false(changed(r, AIOE_CE_ATTR_SUBJECT));
    run_free(r);
}

static void cor_time(void **s)
{
    (void)s;
    run *r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "time", FIXED_TIME);
    assert_int_equal(r->calls.now, 1);
    assert_true(changed(r, AIOE_CE_ATTR_TIME));
    run_free(r);
    aioe_user_property in[] = {P("time", "2018-04-05T17:31:00Z")};
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "time", "2018-04-05T17:31:00Z");
    assert_int_equal(r->calls.now, 0);
    assert_false(changed(r, AIOE_CE_ATTR_TIME));
    run_free(r);
}

static void cor_datacontenttype(void **s)
{
    (void)s;
    /* Transform content type configured: it wins, present or not. */
    run *r = cor_run(COR_CFG, NULL, 0, NULL);
    assert_content_type(r->out, "application/json");
    assert_true(changed(r, AIOE_CE_ATTR_DATACONTENTTYPE));
    run_free(r);
    aioe_user_property in[] = {P("datacontenttype", "text/csv")};
    r = cor_run(COR_CFG, in, 1, "text/csv");
    assert_content_type(r->out, "application/json");
    assert_value(r->out, "datacontenttype", "application/json");
    run_free(r);
    /* Same value as configured: not counted as a change. */
    r = cor_run(COR_CFG, NULL, 0, "application/json");
    assert_false(changed(r, AIOE_CE_ATTR_DATACONTENTTYPE));
    run_free(r);
    /* Not configured: the input content type is kept; none stays none. */
    r = cor_run(COR, NULL, 0, "text/csv");
    assert_content_type(r->out, "text/csv");
    assert_false(changed(r, AIOE_CE_ATTR_DATACONTENTTYPE));
    run_free(r);
    r = cor_run(COR, NULL, 0, NULL);
    assert_content_type(r->out, NULL);
    assert_value(r->out, "datacontenttype", NULL);
    run_free(r);
}

static void cor_dataschema(void **s)
{
    (void)s;
    run *r = cor_run(COR_CFG, NULL, 0, NULL);
    assert_value(r->out, "dataschema", "sr://out-schemas/42#2.0.0");
    assert_true(changed(r, AIOE_CE_ATTR_DATASCHEMA));
    run_free(r);
    aioe_user_property in[] = {P("dataschema", "sr://in/1#1.0.0")};
    r = cor_run(COR_CFG, in, 1, NULL);
    assert_value(r->out, "dataschema", "sr://out-schemas/42#2.0.0");
    assert_true(changed(r, AIOE_CE_ATTR_DATASCHEMA));
    run_free(r);
    /* No schema configured: a present one is kept, none is generated. */
    r = cor_run(COR, in, 1, NULL);
    assert_value(r->out, "dataschema", "sr://in/1#1.0.0");
    assert_false(changed(r, AIOE_CE_ATTR_DATASCHEMA));
    run_free(r);
    r = cor_run(COR, NULL, 0, NULL);
    assert_value(r->out, "dataschema", NULL);
    run_free(r);
}

static void cor_generated_order_after_user_properties(void **s)
{
    (void)s;
    aioe_user_property in[] = {P("b", "2"), P("a", "1"), P("b", "3")};
    run *r = cor_run(COR_CFG, in, NPROPS(in), NULL);
    size_t n;
    const aioe_user_property *p = aioe_cloudevents_output_properties(r->out, &n);
    static const char *const names[] = {"b", "a", "b", "specversion", "type", "source",
                                        "id", "subject", "time", "dataschema"};
    assert_int_equal(n, NPROPS(names));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].name_len, strlen(names[i]));
        assert_memory_equal(p[i].name, names[i], p[i].name_len);
    }
    for (size_t i = 0; i < NPROPS(in); i++) assert_ptr_equal(p[i].value, in[i].value);
    run_free(r);
}

static void cor_full_event_kept(void **s)
{
    (void)s;
    aioe_user_property in[] = {FULL_EVENT, P("x", "y")};
    static const char ct[] = "application/json";
    run *r = cor_run(COR, in, NPROPS(in), ct);
    /* Everything present and valid: nothing generated, nothing changed. */
    assert_unchanged(r->out, in, NPROPS(in), ct, strlen(ct));
    assert_int_equal(r->calls.now + r->calls.uuid, 0);
    run_free(r);
}

/* Generated ids come from a per-thread pool of kernel random bytes: they
 * stay version 4 and unique across pool refills, and a forked child never
 * repeats the id its parent generates next. */
static void cor_real_uuid_pool(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(COR, NULL);
    aioe_cloudevents_output *out = new_out();
    enum { N = 1000 };
    static char ids[N][37];
    for (int i = 0; i < N; i++) {
        assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL),
                         AIOE_OK);
        char *id = value_of(out, "id");
        uuid_t u;
        assert_int_equal(uuid_parse(id, u), 0);
        assert_int_equal(uuid_type(u), UUID_TYPE_DCE_RANDOM);
        assert_int_equal(uuid_variant(u), UUID_VARIANT_DCE);
        strcpy(ids[i], id);
        free(id);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(ids[i], ids[j]);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL);
        char *id = value_of(out, "id");
        ssize_t w = write(fds[1], id, 36);
        _exit(w == 36 ? 0 : 1);
    }
    char child[37] = "";
    assert_int_equal(read(fds[0], child, 36), 36);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL),
                     AIOE_OK);
    char *parent = value_of(out, "id");
    assert_string_not_equal(parent, child);
    free(parent);
    close(fds[0]);
    close(fds[1]);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

/* With the real hooks: a parseable random UUID and the current time. */
static void cor_real_uuid_and_time(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(COR, NULL);
    aioe_cloudevents_output *out = new_out();
    char prev[37] = "";
    for (int i = 0; i < 3; i++) {
        /* The stage reads CLOCK_REALTIME; time() is the coarse clock, which
         * can still say second N when CLOCK_REALTIME is past N+1. */
        struct timespec b, a;
        clock_gettime(CLOCK_REALTIME, &b);
        assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL),
                         AIOE_OK);
        clock_gettime(CLOCK_REALTIME, &a);
        time_t before = b.tv_sec, after = a.tv_sec;
        char *id = value_of(out, "id");
        assert_non_null(id);
        assert_int_equal(strlen(id), 36);
        uuid_t u;
        assert_int_equal(uuid_parse(id, u), 0);
        assert_int_equal(uuid_type(u), UUID_TYPE_DCE_RANDOM);
        assert_int_equal(uuid_variant(u), UUID_VARIANT_DCE);
        for (const char *c = id; *c; c++) assert_false(*c >= 'A' && *c <= 'F');
        assert_string_not_equal(id, prev);
        strcpy(prev, id);
        free(id);

        char *t = value_of(out, "time");
        assert_non_null(t);
        assert_true(aioe_ce_is_rfc3339(t, strlen(t)));
        assert_int_equal(t[strlen(t) - 1], 'Z');
        struct tm tm = {0};
        assert_int_equal(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                         6);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t got = timegm(&tm);
        assert_true(got >= before && got <= after);
        free(t);
    }
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

typedef struct invalid_case {
    aioe_user_property prop;
    aioe_cloudevents_attribute attr;
    aioe_cloudevents_invalid_reason reason;
} invalid_case;

static const invalid_case invalid_cases[] = {
    {P("specversion", "1.1"), AIOE_CE_ATTR_SPECVERSION, AIOE_CE_REASON_BAD_SPECVERSION},
    {P("specversion", "1.0.2"), AIOE_CE_ATTR_SPECVERSION, AIOE_CE_REASON_BAD_SPECVERSION},
    {P("specversion", " 1.0"), AIOE_CE_ATTR_SPECVERSION, AIOE_CE_REASON_BAD_SPECVERSION},
    {P("specversion", ""), AIOE_CE_ATTR_SPECVERSION, AIOE_CE_REASON_EMPTY},
    {P("id", ""), AIOE_CE_ATTR_ID, AIOE_CE_REASON_EMPTY},
    {P("id", "a\x01" "b"), AIOE_CE_ATTR_ID, AIOE_CE_REASON_BAD_CHARACTER},
    {P("type", ""), AIOE_CE_ATTR_TYPE, AIOE_CE_REASON_EMPTY},
    {P("type", "line\nbreak"), AIOE_CE_ATTR_TYPE, AIOE_CE_REASON_BAD_CHARACTER},
    {P("source", ""), AIOE_CE_ATTR_SOURCE, AIOE_CE_REASON_EMPTY},
    {P("source", "not a uri"), AIOE_CE_ATTR_SOURCE, AIOE_CE_REASON_NOT_URI_REFERENCE},
    {P("subject", ""), AIOE_CE_ATTR_SUBJECT, AIOE_CE_REASON_EMPTY},
    {P("subject", "tab\there"), AIOE_CE_ATTR_SUBJECT, AIOE_CE_REASON_BAD_CHARACTER},
    {P("time", ""), AIOE_CE_ATTR_TIME, AIOE_CE_REASON_EMPTY},
    {P("time", "2018-04-05 17:31:00Z"), AIOE_CE_ATTR_TIME, AIOE_CE_REASON_NOT_RFC3339},
    {P("datacontenttype", ""), AIOE_CE_ATTR_DATACONTENTTYPE, AIOE_CE_REASON_EMPTY},
    {P("dataschema", ""), AIOE_CE_ATTR_DATASCHEMA, AIOE_CE_REASON_EMPTY},
    {P("dataschema", "schemas/1.json"), AIOE_CE_ATTR_DATASCHEMA,
     AIOE_CE_REASON_NOT_ABSOLUTE_URI},
};

/* Builds a full event with c's property replacing (or added to) it. */
static size_t event_with(const invalid_case *c, aioe_user_property *in)
{
    aioe_user_property full[] = {P("u1", "v1"), FULL_EVENT, P("u2", "v2")};
    size_t n = 0;
    bool placed = false;
    for (size_t i = 0; i < NPROPS(full); i++) {
        if (strcmp(full[i].name, c->prop.name) == 0) {
            in[n++] = c->prop;
            placed = true;
        } else {
            in[n++] = full[i];
        }
    }
    if (!placed) in[n++] = c->prop;
    return n;
}

static void invalid_attribute_under_both_modes(void **s)
{
    (void)s;
    hook_calls calls = {0};
    aioe_cloudevents *prop = make(PROPAGATE_CFG, &calls), *cor = make(COR_CFG, &calls);
    aioe_cloudevents_output *out = new_out();
    for (size_t k = 0; k < NPROPS(invalid_cases); k++) {
        const invalid_case *c = &invalid_cases[k];
        aioe_user_property in[16];
        size_t n = event_with(c, in);
        const char ct[] = "text/plain";
        aioe_cloudevents_outcome oc = 0;
        /* Propagate: AIOE_OK, passed through unchanged, reported. */
        assert_int_equal(aioe_cloudevents_apply(prop, in, n, ct, strlen(ct), LIT(TOPIC), out,
                                                &oc),
                         AIOE_OK);
        assert_int_equal(oc, AIOE_CE_INVALID_ATTRIBUTE);
        assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), c->attr);
        assert_int_equal(aioe_cloudevents_output_invalid_reason(out), c->reason);
        assert_unchanged(out, in, n, ct, strlen(ct));
        /* CreateOrRemap: an error, nothing overwritten or generated. */
        oc = 0;
        assert_int_equal(aioe_cloudevents_apply(cor, in, n, ct, strlen(ct), LIT(TOPIC), out,
                                                &oc),
                         AIOE_ERR_INVALID_EVENT);
        assert_int_equal(oc, AIOE_CE_INVALID_ATTRIBUTE);
        assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_INVALID_ATTRIBUTE);
        assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), c->attr);
        assert_int_equal(aioe_cloudevents_output_invalid_reason(out), c->reason);
        assert_unchanged(out, in, n, ct, strlen(ct));
        /* CreateOrRemap also validates when required attributes are
         * missing: the invalid attribute alone is enough. */
        assert_int_equal(aioe_cloudevents_apply(cor, &c->prop, 1, NULL, 0, LIT(TOPIC), out, &oc),
                         AIOE_ERR_INVALID_EVENT);
        assert_int_equal(aioe_cloudevents_output_invalid_attribute(out), c->attr);
    }
    assert_int_equal(calls.now + calls.uuid, 0);
    assert_string_equal(aioe_strerror(AIOE_ERR_INVALID_EVENT), "invalid CloudEvents attribute");
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(prop);
    aioe_cloudevents_free(cor);
}

static void cor_topic_checks(void **s)
{
    (void)s;
    aioe_cloudevents *ce = make(COR, NULL);
    aioe_cloudevents_output *out = new_out();
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, NULL, 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, "", 0, out, NULL),
                     AIOE_ERR_INVALID_ARG);
    /* A topic that cannot be a `subject` is refused only when it would be
     * used as one. */
    const char bad[] = "a\x7f" "b";
    assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(bad), out, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_cloudevents_output_outcome(out), 0);
    aioe_user_property in[] = {P("subject", "s")};
    assert_int_equal(aioe_cloudevents_apply(ce, in, 1, NULL, 0, LIT(bad), out, NULL), AIOE_OK);
    assert_value(out, "subject", "s");
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(propagate_specversion_as_is),
        cmocka_unit_test(propagate_type_as_is),
        cmocka_unit_test(propagate_source_as_is),
        cmocka_unit_test(propagate_id_as_is),
        cmocka_unit_test(propagate_subject_as_is),
        cmocka_unit_test(propagate_time_not_restamped),
        cmocka_unit_test(propagate_datacontenttype_becomes_output_content_type),
        cmocka_unit_test(propagate_dataschema_becomes_output_schema),
        cmocka_unit_test(propagate_missing_required_passes_unchanged),
        cmocka_unit_test(propagate_invalid_passes_unchanged_and_reports),
        cmocka_unit_test(propagate_without_configuration_is_zero_copy),
        cmocka_unit_test(cor_specversion),
        cmocka_unit_test(cor_type),
        cmocka_unit_test(cor_source),
        cmocka_unit_test(cor_id),
        cmocka_unit_test(cor_subject),
        cmocka_unit_test(cor_time),
        cmocka_unit_test(cor_datacontenttype),
        cmocka_unit_test(cor_dataschema),
        cmocka_unit_test(cor_generated_order_after_user_properties),
        cmocka_unit_test(cor_full_event_kept),
        cmocka_unit_test(cor_real_uuid_and_time),
        cmocka_unit_test(cor_real_uuid_pool),
        cmocka_unit_test(cor_topic_checks),
        cmocka_unit_test(invalid_attribute_under_both_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
