/* aioe-bridge: running the BuiltInTransformation stage on a record. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "transform_step.h"

struct transform_step {
    aioe_transform *stage;
    aioe_transform_message *in, *out;
    aioe_user_property *props;
    size_t props_cap;
    atomic_uint_fast64_t nomem;
};

int transform_step_new(transform_step **out, const aioe_dataflow *df, char *err, size_t errlen)
{
    *out = NULL;
    if (!aioe_dataflow_has_transformation(df))
        return 0;
    transform_step *x = calloc(1, sizeof *x);
    int rc = x ? aioe_transform_new_for_dataflow(&x->stage, df) : AIOE_ERR_NOMEM;
    if (rc == AIOE_OK)
        rc = aioe_transform_message_new(&x->in);
    if (rc == AIOE_OK)
        rc = aioe_transform_message_new(&x->out);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "cannot build the transformation of dataflow %s: %s",
                 aioe_dataflow_name(df), aioe_strerror(rc));
        transform_step_free(x);
        return -1;
    }
    atomic_init(&x->nomem, 0);
    *out = x;
    return 0;
}

void transform_step_free(transform_step *x)
{
    if (!x)
        return;
    aioe_transform_free(x->stage);
    aioe_transform_message_free(x->in);
    aioe_transform_message_free(x->out);
    free(x->props);
    free(x);
}

aioe_transform_outcome transform_step_apply(transform_step *x, const char *in_topic,
                                            size_t in_topic_len, bridge_msg *rec,
                                            const char **why)
{
    aioe_transform_message_reset(x->in);
    int rc = aioe_transform_message_set_payload(x->in, rec->payload, rec->payload_len);
    if (rc == AIOE_OK)
        rc = aioe_transform_message_set_topic(x->in, in_topic, in_topic_len);
    if (rc == AIOE_OK && rec->content_type)
        rc = aioe_transform_message_set_content_type(x->in, rec->content_type,
                                                     rec->content_type_len);
    for (size_t i = 0; rc == AIOE_OK && i < rec->prop_count; i++)
        rc = aioe_transform_message_add_user_property(x->in, rec->props[i].name,
                                                      rec->props[i].name_len,
                                                      rec->props[i].value,
                                                      rec->props[i].value_len);
    aioe_transform_outcome oc = AIOE_TRANSFORM_INVALID;
    if (rc == AIOE_OK)
        rc = aioe_transform_apply(x->stage, x->in, x->out, &oc);
    size_t np = aioe_transform_message_user_property_count(x->out);
    if (rc == AIOE_OK && oc == AIOE_TRANSFORM_PASSED && np > x->props_cap) {
        aioe_user_property *p = realloc(x->props, np * sizeof *p);
        if (p) {
            x->props = p;
            x->props_cap = np;
        } else {
            rc = AIOE_ERR_NOMEM;
        }
    }
    if (rc != AIOE_OK) {
        atomic_fetch_add(&x->nomem, 1);
        *why = aioe_strerror(rc);
        return AIOE_TRANSFORM_INVALID;
    }
    if (oc != AIOE_TRANSFORM_PASSED) {
        *why = aioe_transform_last_error(x->stage, NULL, NULL, NULL);
        return oc;
    }
    rec->payload = aioe_transform_message_payload(x->out, &rec->payload_len);
    rec->content_type = aioe_transform_message_content_type(x->out, &rec->content_type_len);
    for (size_t i = 0; i < np; i++)
        aioe_transform_message_user_property(x->out, i, &x->props[i]);
    rec->props = x->props;
    rec->prop_count = np;
    return AIOE_TRANSFORM_PASSED;
}

void transform_step_stats_get(const transform_step *x, transform_step_stats *s)
{
    s->filtered = aioe_transform_count(x->stage, AIOE_TRANSFORM_COUNT_FILTERED);
    s->invalid = aioe_transform_count(x->stage, AIOE_TRANSFORM_COUNT_INVALID) +
                 atomic_load(&((transform_step *)x)->nomem);
    s->incomplete = aioe_transform_count(x->stage, AIOE_TRANSFORM_COUNT_INCOMPLETE);
    s->eval_errors = aioe_transform_count(x->stage, AIOE_TRANSFORM_COUNT_EVAL_ERRORS);
}
