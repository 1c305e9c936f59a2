/* aioe-bridge: the Dataflow's BuiltInTransformation between receiving a
 * message and publishing it (docs/bridge.md, docs/transform.md).
 * A thin adapter from the bridge's record to the library's stage. */
#ifndef AIOE_BRIDGE_TRANSFORM_STEP_H
#define AIOE_BRIDGE_TRANSFORM_STEP_H

#include <stddef.h>
#include <stdint.h>

#include <aioendpoint/aioendpoint.h>

/* What the stage reads and rewrites: views. */
typedef struct bridge_msg {
    const void *payload;
    size_t payload_len;
    const char *content_type; /* NULL when absent */
    size_t content_type_len;
    const aioe_user_property *props;
    size_t prop_count;
} bridge_msg;

typedef struct transform_step transform_step;

/* *out is NULL (and 0 returned) when the dataflow has no transformation;
 * non-zero with @p err filled in on failure. */
int transform_step_new(transform_step **out, const aioe_dataflow *df, char *err,
                       size_t errlen);
void transform_step_free(transform_step *x);

/* Runs the stage on @p rec (its payload, content type and user
 * properties; @p in_topic is the topic it was received on) and, when the
 * message passes, points @p rec at the transformed payload and properties
 * (valid until the next call).
 * Returns AIOE_TRANSFORM_PASSED, AIOE_TRANSFORM_FILTERED, or
 * AIOE_TRANSFORM_INVALID (not JSON, or out of memory): drop the message;
 * *why says why for INVALID. Called by one thread at a time. */
aioe_transform_outcome transform_step_apply(transform_step *x, const char *in_topic,
                                            size_t in_topic_len, bridge_msg *rec,
                                            const char **why);

/* Counters (thread-safe). */
typedef struct transform_step_stats {
    uint64_t filtered, invalid, incomplete, eval_errors;
} transform_step_stats;
void transform_step_stats_get(const transform_step *x, transform_step_stats *s);

#endif
