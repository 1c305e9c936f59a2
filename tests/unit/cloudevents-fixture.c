/* Helpers shared by the CloudEvents unit tests (cloudevents-fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cloudevents-fixture.h"
#include "cloudevents_internal.h"

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

aioe_cloudevents *make(cfg c, hook_calls *calls)
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

aioe_cloudevents_output *new_out(void)
{
    aioe_cloudevents_output *out = NULL;
    assert_int_equal(aioe_cloudevents_output_new(&out), AIOE_OK);
    return out;
}

char *value_of(const aioe_cloudevents_output *out, const char *name)
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

void assert_value(const aioe_cloudevents_output *out, const char *name,
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

void assert_content_type(const aioe_cloudevents_output *out, const char *expected)
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

void assert_unchanged(const aioe_cloudevents_output *out, const aioe_user_property *in,
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

run *cor_run(cfg c, const aioe_user_property *in, size_t n, const char *ct)
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

void run_free(run *r)
{
    aioe_cloudevents_output_free(r->out);
    aioe_cloudevents_free(r->ce);
    free(r);
}

bool changed(const run *r, aioe_cloudevents_attribute a)
{
    return (aioe_cloudevents_output_changed(r->out) & AIOE_CE_ATTR_BIT(a)) != 0;
}
