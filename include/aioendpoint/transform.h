/**
 * @file transform.h
 * @brief The `BuiltInTransformation` stage of a Dataflow (filter and map)
 *        for JSON payloads, sans I/O: bytes and MQTT metadata in, bytes and
 *        metadata out.
 *
 * A stage is built once (rules are parsed and compiled when added, and a
 * bad path or expression is refused there with its position, never when a
 * message runs), then applied to each message:
 *
 * 1. the payload is parsed as a JSON object;
 * 2. filter rules run in order: the message is dropped as soon as one
 *    rule's expression is true (the rules are OR-ed);
 * 3. map rules build a new record from an empty object, in order, with
 *    wildcard specialization; without map rules the payload goes through
 *    unchanged.
 *
 * The mapping language (field paths, `*` wildcards, `$metadata`,
 * `? $last`, operators, functions, types) and every decision taken where
 * the Azure IoT Operations documentation is silent are in
 * docs/transform.md.
 *
 * Threads: a stage keeps `? $last` values and counters, and must be
 * applied by one thread at a time (make one stage per thread);
 * aioe_transform_count() may be called from any thread. Messages are
 * used by one thread at a time.
 */
#ifndef AIOENDPOINT_TRANSFORM_H
#define AIOENDPOINT_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "dataflow.h"
#include "properties.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A compiled transformation stage. */
typedef struct aioe_transform aioe_transform;
/** One message going into or coming out of a stage. */
typedef struct aioe_transform_message aioe_transform_message;

/**
 * Creates an empty stage (no rule: every JSON object passes unchanged).
 * @return AIOE_OK, AIOE_ERR_INVALID_ARG for NULL, AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_transform_new(aioe_transform **out);

/**
 * Creates the stage of a parsed Dataflow's `BuiltInTransformation`
 * operation (its rules were already checked by the parse).
 * @return AIOE_OK; AIOE_ERR_NOT_FOUND when the dataflow has no
 *         transformation; AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_transform_new_for_dataflow(aioe_transform **out, const aioe_dataflow *df);

/** Frees a stage. NULL does nothing. */
AIOE_API void aioe_transform_free(aioe_transform *t);

/**
 * Adds a filter rule: @p inputs are field paths bound to `$1..$n`, and
 * @p expression must be a boolean expression. A message for which it is
 * true is dropped. Strings are copied.
 * @return AIOE_OK; AIOE_ERR_INVALID_SPEC (see aioe_transform_last_error())
 *         for a bad path or expression; AIOE_ERR_UNSUPPORTED for a
 *         documented feature this stage does not run (`$context`,
 *         Kafka headers, `?? default`); AIOE_ERR_INVALID_ARG for NULL or
 *         no input; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_transform_add_filter(aioe_transform *t, const char *const *inputs,
                                       size_t n_inputs, const char *expression);

/**
 * Adds a map rule: @p inputs are field paths (`*` wildcards allowed),
 * @p output the field path written (NULL or "" writes nothing, which
 * removes the inputs when it specializes a wildcard rule), @p expression
 * (may be NULL when there is one input: the value is copied) computes the
 * value from `$1..$n`. Strings are copied. Returns as
 * aioe_transform_add_filter().
 */
AIOE_API int aioe_transform_add_map(aioe_transform *t, const char *const *inputs,
                                    size_t n_inputs, const char *output,
                                    const char *expression);

/** Which part of a rule an error is about. */
typedef enum aioe_transform_field {
    AIOE_TRANSFORM_FIELD_NONE = 0,
    AIOE_TRANSFORM_FIELD_INPUT = 1,
    AIOE_TRANSFORM_FIELD_OUTPUT = 2,
    AIOE_TRANSFORM_FIELD_EXPRESSION = 3
} aioe_transform_field;

/**
 * The last error of aioe_transform_add_filter()/aioe_transform_add_map(),
 * or why the last aioe_transform_apply() could not transform its message
 * or one of its rules. Never NULL ("" when none); owned by the stage,
 * valid until its next call. @p field, @p input_index (which input; for
 * an apply error, which rule) and @p offset (0-based byte offset in that
 * string) may be NULL.
 */
AIOE_API const char *aioe_transform_last_error(const aioe_transform *t,
                                               aioe_transform_field *field,
                                               size_t *input_index, size_t *offset);

/* ---- messages -------------------------------------------------------- */

/** Creates an empty message. AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM. */
AIOE_API int aioe_transform_message_new(aioe_transform_message **out);
/** Frees a message. NULL does nothing. */
AIOE_API void aioe_transform_message_free(aioe_transform_message *m);
/** Empties a message for reuse (keeps its buffers). */
AIOE_API void aioe_transform_message_reset(aioe_transform_message *m);

/* Input setters. The bytes are borrowed, not copied: they must stay valid
 * until the message is reset or freed, and until the output message of an
 * aioe_transform_apply() that read them is no longer used. Each returns
 * AIOE_OK, AIOE_ERR_INVALID_ARG (NULL message, NULL bytes with a non-zero
 * length) or AIOE_ERR_NOMEM. */

/** The payload. */
AIOE_API int aioe_transform_message_set_payload(aioe_transform_message *m,
                                                const void *payload, size_t len);
/** The MQTT topic (`$metadata.topic`). */
AIOE_API int aioe_transform_message_set_topic(aioe_transform_message *m, const char *topic,
                                              size_t len);
/** The content type (`$metadata.system_property.content_type`); NULL: none. */
AIOE_API int aioe_transform_message_set_content_type(aioe_transform_message *m,
                                                     const char *ct, size_t len);
/** Appends a user property (`$metadata.user_property.<name>`). */
AIOE_API int aioe_transform_message_add_user_property(aioe_transform_message *m,
                                                      const char *name, size_t name_len,
                                                      const char *value, size_t value_len);

/** The payload (NULL and 0 when none); owned by, or borrowed through, the
 *  message. @p len may be NULL. */
AIOE_API const void *aioe_transform_message_payload(const aioe_transform_message *m,
                                                    size_t *len);
/** The content type, or NULL. */
AIOE_API const char *aioe_transform_message_content_type(const aioe_transform_message *m,
                                                         size_t *len);
/** Number of user properties. */
AIOE_API size_t aioe_transform_message_user_property_count(const aioe_transform_message *m);
/** The i-th user property (strings valid as long as the message and the
 *  input it came from). AIOE_OK, or AIOE_ERR_INVALID_ARG out of range. */
AIOE_API int aioe_transform_message_user_property(const aioe_transform_message *m, size_t i,
                                                  aioe_user_property *out);

/* ---- applying -------------------------------------------------------- */

/** What a stage did with one message. */
typedef enum aioe_transform_outcome {
    /** @p out holds the message to send. */
    AIOE_TRANSFORM_PASSED = 0,
    /** A filter rule was true: drop the message (documented behaviour). */
    AIOE_TRANSFORM_FILTERED = 1,
    /** The payload is not a JSON object: it cannot be transformed and
     *  must be dropped; aioe_transform_last_error() says why. */
    AIOE_TRANSFORM_INVALID = 2
} aioe_transform_outcome;

/**
 * Runs the stage on @p in and writes the result into @p out (which is
 * reset first; its payload is owned by @p out, its user properties may
 * borrow strings from @p in). Every call is counted.
 * @return AIOE_OK with *@p outcome set; AIOE_ERR_INVALID_ARG for NULL
 *         arguments or @p in == @p out; AIOE_ERR_NOMEM (nothing counted).
 */
AIOE_API int aioe_transform_apply(aioe_transform *t, const aioe_transform_message *in,
                                  aioe_transform_message *out,
                                  aioe_transform_outcome *outcome);

/** Counters for aioe_transform_count(). */
typedef enum aioe_transform_counter {
    /** Messages that passed. */
    AIOE_TRANSFORM_COUNT_PASSED = 0,
    /** Messages dropped by a filter rule. */
    AIOE_TRANSFORM_COUNT_FILTERED = 1,
    /** Messages dropped because the payload is not a JSON object. */
    AIOE_TRANSFORM_COUNT_INVALID = 2,
    /** Passed messages in which at least one map rule wrote nothing
     *  because an input was missing or its expression failed. */
    AIOE_TRANSFORM_COUNT_INCOMPLETE = 3,
    /** Rule evaluations that failed (a type error, division by zero...):
     *  a failed filter rule drops nothing, a failed map rule writes
     *  nothing. */
    AIOE_TRANSFORM_COUNT_EVAL_ERRORS = 4
} aioe_transform_counter;

/** A counter's value since the stage was made; 0 for NULL or an unknown
 *  counter. Thread-safe. */
AIOE_API uint64_t aioe_transform_count(const aioe_transform *t, aioe_transform_counter which);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_TRANSFORM_H */
