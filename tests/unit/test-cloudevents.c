/* The CloudEvents stage: every row of both tables of the endpoint
 * documentation, every validation rule, structured mode, ordinary user
 * properties, duplicates, odd values, argument checks. */
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
#include <pthread.h>
#include <uuid/uuid.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"

/* ---- helpers -------------------------------------------------------- */

#define P(n, v) {(n), sizeof(n) - 1, (v), sizeof(v) - 1}
#define NPROPS(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) (s), (sizeof(s) - 1)

static const char TOPIC[] = "factory/oven1/out";
#define FIXED_TIME_SEC 1795782896 /* 2026-11-27T12:34:56Z */
#define FIXED_TIME_NSEC 789012345L
static const char FIXED_TIME[] = "2026-11-27T12:34:56.789012Z";
static const char FIXED_UUID[] = "00010203-0405-0607-0809-0a0b0c0d0e0f";

typedef struct hook_calls {
    int now;
    int uuid;
} hook_calls;

static void fixed_now(struct timespec *ts, void *ud)
{
    ((hook_calls *)ud)->now++;
    ts->tv_sec = FIXED_TIME_SEC;
    ts->tv_nsec = FIXED_TIME_NSEC;
}

static void fixed_uuid(unsigned char b[16], void *ud)
{
    ((hook_calls *)ud)->uuid++;
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)i;
}

typedef struct cfg {
    aioe_cloud_event_attributes mode;
    const char *target;
    const char *ct;
    const char *schema;
} cfg;

/* A stage with the fixed hooks; calls counts hook use. */
static aioe_cloudevents *make(cfg c, hook_calls *calls)
{
    aioe_cloudevents_options *o = NULL;
    aioe_cloudevents *ce = NULL;
    assert_int_equal(aioe_cloudevents_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_mode(o, c.mode), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_target_name(o, c.target), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_content_type(o, c.ct), AIOE_OK);
    assert_int_equal(aioe_cloudevents_options_set_output_schema(o, c.schema), AIOE_OK);
    assert_int_equal(aioe_cloudevents_new(&ce, o), AIOE_OK);
    aioe_cloudevents_options_free(o);
    if (calls) {
        aioe_ce_hooks h = {fixed_now, fixed_uuid, calls};
        aioe_cloudevents_set_hooks(ce, &h);
    }
    return ce;
}

static aioe_cloudevents_output *new_out(void)
{
    aioe_cloudevents_output *out = NULL;
    assert_int_equal(aioe_cloudevents_output_new(&out), AIOE_OK);
    return out;
}

/* Value of the only property called name; fails if there are several.
 * Returns NULL when absent. */
static char *value_of(const aioe_cloudevents_output *out, const char *name)
{
    size_t n, found = 0;
    const aioe_user_property *p = aioe_cloudevents_output_properties(out, &n);
    char *v = NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i].name_len == strlen(name) && memcmp(p[i].name, name, p[i].name_len) == 0) {
            found++;
            free(v);
            v = strndup(p[i].value ? p[i].value : "", p[i].value_len);
        }
    }
    assert_true(found <= 1);
    return v;
}

static void assert_value(const aioe_cloudevents_output *out, const char *name,
                         const char *expected)
{
    char *v = value_of(out, name);
    if (expected == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, expected);
    free(v);
}

static void assert_content_type(const aioe_cloudevents_output *out, const char *expected)
{
    size_t len = 99;
    const char *ct = aioe_cloudevents_output_content_type(out, &len);
    if (!expected) {
        assert_null(ct);
        return;
    }
    assert_non_null(ct);
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(ct, expected, len);
}

/* The output is exactly the input: same properties, same order, same
 * bytes, same content type pointer. */
static void assert_unchanged(const aioe_cloudevents_output *out, const aioe_user_property *in,
                             size_t n, const char *ct, size_t ct_len)
{
    size_t m;
    const aioe_user_property *p = aioe_cloudevents_output_properties(out, &m);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(p[i].name, in[i].name);
        assert_int_equal(p[i].name_len, in[i].name_len);
        assert_ptr_equal(p[i].value, in[i].value);
        assert_int_equal(p[i].value_len, in[i].value_len);
    }
    size_t ol;
    assert_ptr_equal(aioe_cloudevents_output_content_type(out, &ol), ct);
    assert_int_equal(ol, ct_len);
    assert_int_equal(aioe_cloudevents_output_changed(out), 0);
}

/* A complete event plus two ordinary user properties. */
#define FULL_EVENT                                                   \
    P("specversion", "1.0"), P("type", "ms.aio.telemetry"),          \
        P("source", "aio://mycluster/myoven"), P("id", "A234-1234-1234"), \
        P("subject", "aio/myoven/telemetry/temperature"),            \
        P("time", "2018-04-05T17:31:00Z"),                           \
        P("dataschema", "sr://fabrikam-schemas/123123123234234234234234#1.0.0")

static const cfg PROPAGATE = {AIOE_CLOUD_EVENTS_PROPAGATE, NULL, NULL, NULL};
static const cfg PROPAGATE_CFG = {AIOE_CLOUD_EVENTS_PROPAGATE, NULL, "application/json",
                                  "sr://out-schemas/42#2.0.0"};
static const cfg COR = {AIOE_CLOUD_EVENTS_CREATE_OR_REMAP, "my-target", NULL, NULL};
static const cfg COR_CFG = {AIOE_CLOUD_EVENTS_CREATE_OR_REMAP, "my-target",
                            "application/json", "sr://out-schemas/42#2.0.0"};

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

typedef struct run {
    aioe_cloudevents *ce;
    aioe_cloudevents_output *out;
    hook_calls calls;
} run;

/* Applies CreateOrRemap (or config c) to `in` with the fixed hooks. */
static run *cor_run(cfg c, const aioe_user_property *in, size_t n, const char *ct)
{
    run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->ce = make(c, &r->calls);
    r->out = new_out();
    aioe_cloudevents_outcome oc = 0;
    assert_int_equal(aioe_cloudevents_apply(r->ce, in, n, ct, ct ? strlen(ct) : 0, LIT(TOPIC),
                                            r->out, &oc),
                     AIOE_OK);
    assert_int_equal(oc, AIOE_CE_CREATED_OR_REMAPPED);
    return r;
}

static void run_free(run *r)
{
    aioe_cloudevents_output_free(r->out);
    aioe_cloudevents_free(r->ce);
    free(r);
}

static bool changed(const run *r, aioe_cloudevents_attribute a)
{
    return (aioe_cloudevents_output_changed(r->out) & AIOE_CE_ATTR_BIT(a)) != 0;
}

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
        time_t before = time(NULL);
        assert_int_equal(aioe_cloudevents_apply(ce, NULL, 0, NULL, 0, LIT(TOPIC), out, NULL),
                         AIOE_OK);
        time_t after = time(NULL);
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

/* ---- validators ---------------------------------------------------- */

static void uri_reference_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "aio://mycluster/myoven", "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "/cloudevents/spec/pull/123", "/sensors/tn-1234567/alerts", "1-555-123-4567",
        "a", "./x", "../y:z", "?q=1", "#frag", "//host", "//user:pw@host:8080/p",
        "https://[::1]:8883/x", "https://[2001:db8::7]/", "http://[v7.fe80::a+en1]/",
        "http://192.168.0.1:1/", "s://h/%41%2f", "x:", "a+b-c.d:rest", "//h:", "/a//b",
        "aio://my-target", "http://h/p?x=/y?#f/?",
    };
    static const char *const bad[] = {
        "not a uri", "http://exa mple.com", "%4", "%zz", "x%", ":foo", "1:x", "a/b\\c",
        "<x>", "\"q\"", "http://[::1", "http://[zz]/", "http://[]/", "http://host:80a/",
        "http://a@b@c/", "caf\xc3\xa9", "http://h/\x01", "{x}", "a|b", "http://[v.x]/",
        "http://[v1.]/", "a#b#c", "^", "http://[::1]x/", "http://[::1]:8a/",
    };
    for (size_t i = 0; i < NPROPS(good); i++) {
        if (!aioe_ce_is_uri_reference(good[i], strlen(good[i])))
            fail_msg("should be a URI-reference: %s", good[i]);
    }
    for (size_t i = 0; i < NPROPS(bad); i++) {
        if (aioe_ce_is_uri_reference(bad[i], strlen(bad[i])))
            fail_msg("should not be a URI-reference: %s", bad[i]);
    }
    /* The length is authoritative: a triplet cut by it is invalid. */
    assert_false(aioe_ce_is_uri_reference("%41", 2));
    assert_true(aioe_ce_is_uri_reference("%41", 3));
    /* Through the stage: source is checked with this rule. */
    aioe_cloudevents *ce = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {P("specversion", "1.0"), P("type", "t"), P("id", "1"),
                               P("source", "1-555-123-4567")};
    assert_int_equal(aioe_cloudevents_apply(ce, in, 4, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_PROPAGATED);
    in[3] = (aioe_user_property)P("source", "1:x");
    assert_int_equal(aioe_cloudevents_apply(ce, in, 4, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(out),
                     AIOE_CE_REASON_NOT_URI_REFERENCE);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

static void absolute_uri_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "sr://fabrikam-schemas/123123123234234234234234#1.0.0", "https://example.com/s.json",
        "urn:example:schema", "x:", "http://h?q",
    };
    static const char *const bad[] = {
        "/schemas/1", "schemas/1.json", "//host/s", "#1.0.0", "1x://h", "sr://a b", "",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_absolute_uri(good[i], strlen(good[i])))
            fail_msg("should be an absolute URI: %s", good[i]);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_absolute_uri(bad[i], strlen(bad[i])))
            fail_msg("should not be an absolute URI: %s", bad[i]);
}

static void rfc3339_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "2018-04-05T17:31:00Z", "2018-04-05t17:31:00z", "2018-04-05T17:31:00.1Z",
        "2018-04-05T17:31:00.123456789+05:30", "2024-02-29T00:00:00-00:00",
        "2000-02-29T23:59:59+23:59", "2016-12-31T23:59:60Z", "0001-01-01T00:00:00Z",
        "1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00",
    };
    static const char *const bad[] = {
        "", "2018-04-05", "2018-04-05 17:31:00Z", "2018-04-05T17:31:00", "2018-04-05T17:31Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-13-01T00:00:00Z",
        "2018-00-01T00:00:00Z", "2018-04-31T00:00:00Z", "2018-04-00T00:00:00Z",
        "2018-04-05T24:00:00Z", "2018-04-05T17:60:00Z", "2018-04-05T17:31:61Z",
        "2018-04-05T17:31:00.Z", "2018-04-05T17:31:00+5:30", "2018-04-05T17:31:00+05:60",
        "2018-04-05T17:31:00+24:00", "2018-4-05T17:31:00Z", "2018-04-05T17:31:00ZZ",
        "2018-04-05T17:31:00+05:30x", "2018-04-05T17:31:00+0530", "+2018-04-05T17:31:00Z",
        "2018-04-05T17:31:00,5Z", "2018-04-05T17:31:00 Z", "１９８５-04-12T23:20:50Z",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_rfc3339(good[i], strlen(good[i])))
            fail_msg("should be RFC 3339: %s", good[i]);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_rfc3339(bad[i], strlen(bad[i])))
            fail_msg("should not be RFC 3339: %s", bad[i]);
    /* The length is authoritative: a valid prefix is not enough. */
    assert_false(aioe_ce_is_rfc3339("2018-04-05T17:31:00Z", 19));
}

static void string_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "plain", "with space", "<weird>|\"'{}[]\\`~", "caf\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\xc2\xa0", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbd",
        /* 8 bytes and longer: the word-at-a-time path and its tail */
        "abcdefgh", "abcdefghijk", "aio/myoven/telemetry/temperature", " ~~~~~~~~~~~~~~ ",
        "caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet", "01234567\xe2\x82\xac",
    };
    static const char *const bad[] = {
        "\x01", "a\x1f", "\x7f", "tab\t", "nl\n", "\xc2\x85" /* U+0085 */, "\xc2\x9f",
        "\xff", "\xc0\x80" /* overlong NUL */, "\xe0\x80\xaf", "\xe2\x82" /* truncated */,
        "\x80", "\xed\xa0\x80" /* surrogate */, "\xef\xbf\xbe" /* U+FFFE */,
        "\xef\xb7\x90" /* U+FDD0 */, "\xf0\x9f\xbf\xbf" /* U+1FFFF */, "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        /* 8 bytes and longer, the bad byte in a word or in the tail */
        "abcdefg\x01", "\x1f" "bcdefgh", "abc\x7f" "defgh", "abcdefghijklmno\x01",
        "abcdefghij\x7f", "0123456789abcdef\xc2\x85", "abcdefghi\xff", "abcdefgh\x80",
        "\xc2\x9f" "abcdefghijklmn",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_string(good[i], strlen(good[i])))
            fail_msg("should be a CloudEvents String: case %zu", i);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_string(bad[i], strlen(bad[i])))
            fail_msg("should not be a CloudEvents String: case %zu", i);
    /* An embedded NUL (lengths are explicit) is a control character. */
    assert_false(aioe_ce_is_string("a\0b", 3));
}

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

static void time_formatting(void **s)
{
    (void)s;
    char buf[AIOE_CE_TIME_LEN + 1];
    struct timespec ts = {0, 0};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    ts = (struct timespec){-1, 999999999};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    ts = (struct timespec){1709164800, 5000}; /* 2024-02-29 */
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "2024-02-29T00:00:00.000005Z");
    ts = (struct timespec){253402300800LL, 0}; /* 10000-01-01 */
    assert_false(aioe_ce_format_time(&ts, buf));
    ts = (struct timespec){253402300799LL, 0};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "9999-12-31T23:59:59.000000Z");
    /* Agrees with gmtime_r over a spread of instants. */
    srand(1234);
    for (int i = 0; i < 20000; i++) {
        time_t t = (time_t)(((int64_t)rand() << 16 ^ rand()) % 32503680000LL);
        ts = (struct timespec){t, 123456789};
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.123456Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_true(aioe_ce_format_time(&ts, buf));
        assert_string_equal(buf, want);
        assert_true(aioe_ce_is_rfc3339(buf, strlen(buf)));
    }
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
        cmocka_unit_test(uri_reference_rule),
        cmocka_unit_test(absolute_uri_rule),
        cmocka_unit_test(rfc3339_rule),
        cmocka_unit_test(string_rule),
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
        cmocka_unit_test(time_formatting),
        cmocka_unit_test(shared_stage_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
