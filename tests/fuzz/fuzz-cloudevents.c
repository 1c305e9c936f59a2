/* libFuzzer target: the CloudEvents stage (cloudevents.h) over arbitrary
 * user properties, content types, topics and option values.
 *
 * Input: byte 0 = mode (mod 3), byte 1 = flags, then fields separated by
 * 0xFF (which never occurs in UTF-8, so values may hold any other byte,
 * NUL included): target name, output content type, output schema, content
 * type, topic, then name/value pairs of user properties.
 * flags: 1 set target name, 2 set output content type, 4 set output schema,
 *        8 message has a content type, 16 message has a topic.
 * Option values the setters refuse fall back to fixed valid ones.
 *
 * Invariants checked on every input:
 * - the return code and outcome agree with cloudevents.h;
 * - UNCHANGED, STRUCTURED and INVALID_ATTRIBUTE outputs equal the input
 *   (same properties, same order, same bytes; same content type);
 * - PROPAGATED / CREATED_OR_REMAPPED outputs keep every input property
 *   name in order at the front (values change only for dataschema);
 * - every event the stage emits re-validates: a Propagate stage with no
 *   settings accepts it as a valid event and changes nothing, and each
 *   generated attribute passes its own syntax check;
 * - CreateOrRemap is idempotent: run again on its own output it generates
 *   nothing new;
 * - the same output object reused gives the same result. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PROPS 64

static void fixed_now(struct timespec *ts, void *ud)
{
    (void)ud;
    ts->tv_sec = 1767225600;
    ts->tv_nsec = 123456000;
}

static void fixed_uuid(unsigned char b[16], void *ud)
{
    (void)ud;
    for (int i = 0; i < 16; i++)
        b[i] = (unsigned char)(0x11 * i);
    b[6] = 0x40 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
}

typedef struct field {
    const char *p;
    size_t n;
} field;

static bool bytes_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool name_is(const aioe_user_property *p, const char *name)
{
    return bytes_eq(p->name, p->name_len, name, strlen(name));
}

/* Output == input, byte for byte. */
static void check_unchanged(const aioe_cloudevents_output *out,
                            const aioe_user_property *in, size_t n, const char *ct,
                            size_t ct_len)
{
    size_t count;
    const aioe_user_property *o = aioe_cloudevents_output_properties(out, &count);
    if (count != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!bytes_eq(o[i].name, o[i].name_len, in[i].name, in[i].name_len) ||
            !bytes_eq(o[i].value, o[i].value_len, in[i].value, in[i].value_len))
            abort();
    size_t ol;
    const char *oc = aioe_cloudevents_output_content_type(out, &ol);
    if ((oc == NULL) != (ct == NULL) || (ct && !bytes_eq(oc, ol, ct, ct_len)))
        abort();
}

/* Copies an output (properties and content type) so it can be fed back in
 * while the original output object is reused. */
typedef struct snapshot {
    aioe_user_property props[MAX_PROPS + 16];
    size_t n;
    const char *ct;
    size_t ct_len;
    aioe_cloudevents_outcome outcome;
    unsigned changed;
} snapshot;

static void snap(snapshot *s, const aioe_cloudevents_output *out)
{
    const aioe_user_property *o = aioe_cloudevents_output_properties(out, &s->n);
    if (s->n > sizeof s->props / sizeof s->props[0])
        abort();
    if (s->n)
        memcpy(s->props, o, s->n * sizeof *o);
    s->ct = aioe_cloudevents_output_content_type(out, &s->ct_len);
    s->outcome = aioe_cloudevents_output_outcome(out);
    s->changed = aioe_cloudevents_output_changed(out);
}

static void check_attributes(const snapshot *s)
{
    bool seen[9] = { 0 };
    for (size_t i = 0; i < s->n; i++) {
        const aioe_user_property *p = &s->props[i];
        for (int a = AIOE_CE_ATTR_SPECVERSION; a <= AIOE_CE_ATTR_DATASCHEMA; a++) {
            if (a == AIOE_CE_ATTR_DATACONTENTTYPE ||
                !name_is(p, aioe_cloudevents_attribute_name((aioe_cloudevents_attribute)a)))
                continue;
            if (seen[a])
                abort(); /* an emitted event never has a duplicate attribute */
            seen[a] = true;
            if (p->value_len == 0 || !aioe_ce_is_string(p->value, p->value_len))
                abort();
            if (a == AIOE_CE_ATTR_SPECVERSION && !bytes_eq(p->value, p->value_len, "1.0", 3))
                abort();
            if (a == AIOE_CE_ATTR_SOURCE && !aioe_ce_is_uri_reference(p->value, p->value_len))
                abort();
            if (a == AIOE_CE_ATTR_TIME && !aioe_ce_is_rfc3339(p->value, p->value_len))
                abort();
            if (a == AIOE_CE_ATTR_DATASCHEMA &&
                !aioe_ce_is_absolute_uri(p->value, p->value_len))
                abort();
        }
    }
    if (!seen[AIOE_CE_ATTR_SPECVERSION] || !seen[AIOE_CE_ATTR_TYPE] ||
        !seen[AIOE_CE_ATTR_SOURCE] || !seen[AIOE_CE_ATTR_ID])
        abort();
}

static aioe_cloudevents *propagate_plain(void)
{
    static aioe_cloudevents *ce;
    if (!ce) {
        aioe_cloudevents_options *o;
        if (aioe_cloudevents_options_new(&o) != AIOE_OK ||
            aioe_cloudevents_options_set_mode(o, AIOE_CLOUD_EVENTS_PROPAGATE) != AIOE_OK ||
            aioe_cloudevents_new(&ce, o) != AIOE_OK)
            abort();
        aioe_cloudevents_options_free(o);
    }
    return ce;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aioe_cloudevents_output *out, *out2;
    if (!out && (aioe_cloudevents_output_new(&out) != AIOE_OK ||
                 aioe_cloudevents_output_new(&out2) != AIOE_OK))
        abort();
    if (size < 2)
        return 0;
    static const aioe_cloud_event_attributes modes[] = {
        AIOE_CLOUD_EVENTS_NONE, AIOE_CLOUD_EVENTS_PROPAGATE,
        AIOE_CLOUD_EVENTS_CREATE_OR_REMAP
    };
    aioe_cloud_event_attributes mode = modes[data[0] % 3];
    uint8_t flags = data[1];
    data += 2;
    size -= 2;

    /* split at 0xFF */
    field f[5 + 2 * MAX_PROPS];
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= size && nf < sizeof f / sizeof f[0]; i++) {
        if (i == size || data[i] == 0xFF) {
            f[nf].p = (const char *)data + start;
            f[nf].n = i - start;
            nf++;
            start = i + 1;
        }
    }
    while (nf < 5) {
        f[nf].p = "";
        f[nf].n = 0;
        nf++;
    }
    /* NUL-terminated copies of the option strings */
    char *optstr[3];
    for (int i = 0; i < 3; i++) {
        optstr[i] = malloc(f[i].n + 1);
        if (!optstr[i])
            abort();
        memcpy(optstr[i], f[i].p, f[i].n);
        optstr[i][f[i].n] = '\0';
    }

    aioe_cloudevents_options *o;
    if (aioe_cloudevents_options_new(&o) != AIOE_OK ||
        aioe_cloudevents_options_set_mode(o, mode) != AIOE_OK)
        abort();
    if (!(flags & 1) || aioe_cloudevents_options_set_target_name(o, optstr[0]) != AIOE_OK)
        if (aioe_cloudevents_options_set_target_name(o, "fuzz-flow") != AIOE_OK)
            abort();
    if ((flags & 2) &&
        aioe_cloudevents_options_set_output_content_type(o, optstr[1]) != AIOE_OK &&
        aioe_cloudevents_options_set_output_content_type(o, "application/json") != AIOE_OK)
        abort();
    if ((flags & 4) &&
        aioe_cloudevents_options_set_output_schema(o, optstr[2]) != AIOE_OK &&
        aioe_cloudevents_options_set_output_schema(o, "sr://schemas/7#1.0.0") != AIOE_OK)
        abort();
    aioe_cloudevents *ce;
    if (aioe_cloudevents_new(&ce, o) != AIOE_OK)
        abort();
    aioe_cloudevents_options_free(o);
    aioe_ce_hooks hooks = { fixed_now, fixed_uuid, NULL };
    aioe_cloudevents_set_hooks(ce, &hooks);

    const char *ct = (flags & 8) ? f[3].p : NULL;
    size_t ct_len = (flags & 8) ? f[3].n : 0;
    const char *topic = (flags & 16) ? f[4].p : NULL;
    size_t topic_len = (flags & 16) ? f[4].n : 0;
    aioe_user_property props[MAX_PROPS];
    size_t n = 0;
    for (size_t i = 5; i + 1 < nf && n < MAX_PROPS; i += 2, n++)
        props[n] = (aioe_user_property){ f[i].p, f[i].n, f[i + 1].p, f[i + 1].n };

    aioe_cloudevents_outcome oc = 0;
    int rc = aioe_cloudevents_apply(ce, n ? props : NULL, n, ct, ct_len, topic,
                                    topic_len, out, &oc);
    if (rc == AIOE_OK) {
        if (oc < AIOE_CE_UNCHANGED || oc > AIOE_CE_INVALID_ATTRIBUTE)
            abort();
        if (oc == AIOE_CE_INVALID_ATTRIBUTE && mode != AIOE_CLOUD_EVENTS_PROPAGATE)
            abort();
        if (mode == AIOE_CLOUD_EVENTS_NONE && oc != AIOE_CE_UNCHANGED)
            abort();
        if (mode == AIOE_CLOUD_EVENTS_CREATE_OR_REMAP &&
            (oc == AIOE_CE_UNCHANGED || oc == AIOE_CE_PROPAGATED))
            abort();
    } else if (rc == AIOE_ERR_INVALID_EVENT) {
        if (mode != AIOE_CLOUD_EVENTS_CREATE_OR_REMAP || oc != AIOE_CE_INVALID_ATTRIBUTE)
            abort();
    } else if (rc == AIOE_ERR_INVALID_ARG) {
        /* only a missing or invalid topic when one must be generated */
        if (mode != AIOE_CLOUD_EVENTS_CREATE_OR_REMAP)
            abort();
        goto done;
    } else {
        abort();
    }
    if (aioe_cloudevents_output_outcome(out) != oc)
        abort();
    if ((aioe_cloudevents_output_invalid_attribute(out) != AIOE_CE_ATTR_NONE) !=
        (oc == AIOE_CE_INVALID_ATTRIBUTE))
        abort();
    if (aioe_cloudevents_output_changed(out) &
        ~(unsigned)((AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATASCHEMA) << 1) - 2))
        abort();

    if (oc == AIOE_CE_UNCHANGED || oc == AIOE_CE_STRUCTURED ||
        oc == AIOE_CE_INVALID_ATTRIBUTE) {
        check_unchanged(out, props, n, ct, ct_len);
        if (aioe_cloudevents_output_changed(out) != 0)
            abort();
        goto done;
    }

    /* an event: inputs kept in order at the front, then re-validated */
    snapshot s1;
    snap(&s1, out);
    if (s1.n < n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!bytes_eq(s1.props[i].name, s1.props[i].name_len, props[i].name,
                      props[i].name_len))
            abort();
        /* cloudevents.h: only dataschema and datacontenttype values may be
         * replaced (by the configured output schema / content type) */
        if (!name_is(&props[i], "dataschema") && !name_is(&props[i], "datacontenttype") &&
            !bytes_eq(s1.props[i].value, s1.props[i].value_len, props[i].value,
                      props[i].value_len))
            abort();
    }
    check_attributes(&s1);

    aioe_cloudevents_outcome oc2;
    if (aioe_cloudevents_apply(propagate_plain(), s1.n ? s1.props : NULL, s1.n, s1.ct,
                               s1.ct_len, topic, topic_len, out2, &oc2) != AIOE_OK ||
        oc2 != AIOE_CE_PROPAGATED || aioe_cloudevents_output_changed(out2) != 0)
        abort();

    if (mode == AIOE_CLOUD_EVENTS_CREATE_OR_REMAP) {
        const unsigned replaceable = AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATASCHEMA) |
                                     AIOE_CE_ATTR_BIT(AIOE_CE_ATTR_DATACONTENTTYPE);
        if (aioe_cloudevents_apply(ce, s1.n ? s1.props : NULL, s1.n, s1.ct, s1.ct_len,
                                   topic, topic_len, out2, &oc2) != AIOE_OK ||
            oc2 != AIOE_CE_CREATED_OR_REMAPPED ||
            (aioe_cloudevents_output_changed(out2) & ~replaceable) != 0)
            abort();
        size_t n2;
        (void)aioe_cloudevents_output_properties(out2, &n2);
        if (n2 != s1.n)
            abort();
    }

    /* reusing the same output object gives the same answer */
    if (aioe_cloudevents_apply(ce, n ? props : NULL, n, ct, ct_len, topic, topic_len,
                               out, &oc2) != rc || oc2 != oc)
        abort();
    snapshot s2;
    snap(&s2, out);
    if (s2.n != s1.n || s2.changed != s1.changed)
        abort();
    for (size_t i = 0; i < s1.n; i++)
        if (!bytes_eq(s1.props[i].name, s1.props[i].name_len, s2.props[i].name,
                      s2.props[i].name_len) ||
            !bytes_eq(s1.props[i].value, s1.props[i].value_len, s2.props[i].value,
                      s2.props[i].value_len))
            abort();

done:
    aioe_cloudevents_free(ce);
    for (int i = 0; i < 3; i++)
        free(optstr[i]);
    return 0;
}
