/**
 * @file cloudevents.h
 * @brief The CloudEvents stage of a dataflow destination: what the
 *        `cloudEventAttributes` setting of a DataflowEndpoint does to the
 *        user properties and content type of each message it publishes.
 *
 * It implements the binary content mode of the CloudEvents MQTT binding
 * (v1.0.2): attributes travel as MQTT v5 user properties named exactly as
 * the attributes, `datacontenttype` is the MQTT Content Type property.
 * Messages in structured content mode (Content Type
 * `application/cloudevents` with any `+format` suffix and parameters) are
 * passed through intact. docs/cloudevents.md has the full behaviour, with
 * both tables of the endpoint documentation.
 *
 * The stage is pure: no I/O, no logging, no global state. It reads a
 * message's user properties and content type and writes the ones to
 * publish into a caller-owned, reusable output object.
 *
 * Objects:
 * - aioe_cloudevents_options: settings, filled with typed setters.
 * - aioe_cloudevents: the stage, built from options; immutable, so one
 *   object may be used by any number of threads at once.
 * - aioe_cloudevents_output: the result of one call; reused from call to
 *   call so the stage does not allocate per message. One per thread.
 *
 * Typical use, on the publish path of a destination:
 * @code
 *   aioe_cloudevents_options *o;  aioe_cloudevents *ce;
 *   aioe_cloudevents_options_new(&o);
 *   aioe_cloudevents_options_set_mode(o, aioe_endpoint_cloud_event_attributes(ep));
 *   aioe_cloudevents_options_set_target_name(o, "my-dataflow");
 *   aioe_cloudevents_new(&ce, o);
 *   aioe_cloudevents_options_free(o);
 *   ... per thread: aioe_cloudevents_output_new(&out);
 *   ... per message: aioe_cloudevents_apply(ce, props, n, ct, ct_len,
 *                                           topic, topic_len, out, &outcome);
 * @endcode
 */
#ifndef AIOENDPOINT_CLOUDEVENTS_H
#define AIOENDPOINT_CLOUDEVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "properties.h"
#include "spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Settings for a CloudEvents stage. */
typedef struct aioe_cloudevents_options aioe_cloudevents_options;
/** An immutable CloudEvents stage; shareable across threads. */
typedef struct aioe_cloudevents aioe_cloudevents;
/** The result of aioe_cloudevents_apply(); reusable, one per thread. */
typedef struct aioe_cloudevents_output aioe_cloudevents_output;

/**
 * The CloudEvents context attributes the stage knows. Values are ABI.
 * Use AIOE_CE_ATTR_BIT() to test the mask of
 * aioe_cloudevents_output_changed().
 */
typedef enum aioe_cloudevents_attribute {
    AIOE_CE_ATTR_NONE = 0,
    AIOE_CE_ATTR_SPECVERSION = 1,
    AIOE_CE_ATTR_TYPE = 2,
    AIOE_CE_ATTR_SOURCE = 3,
    AIOE_CE_ATTR_ID = 4,
    AIOE_CE_ATTR_SUBJECT = 5,
    AIOE_CE_ATTR_TIME = 6,
    AIOE_CE_ATTR_DATACONTENTTYPE = 7,
    AIOE_CE_ATTR_DATASCHEMA = 8
} aioe_cloudevents_attribute;

/** The bit of attribute @p a in an attribute mask. */
#define AIOE_CE_ATTR_BIT(a) (1u << (unsigned)(a))

/** What aioe_cloudevents_apply() did with a message. Values are ABI. */
typedef enum aioe_cloudevents_outcome {
    /** Not a CloudEvent under Propagate (a required attribute is missing),
     *  or the stage's mode is AIOE_CLOUD_EVENTS_NONE: the output is the
     *  input, user properties and content type unchanged. */
    AIOE_CE_UNCHANGED = 1,
    /** Propagate, a valid event: every attribute passed through as is,
     *  except `datacontenttype`/`dataschema` when the stage sets them. */
    AIOE_CE_PROPAGATED = 2,
    /** CreateOrRemap: present attributes kept, missing ones generated
     *  (aioe_cloudevents_output_changed() says which). */
    AIOE_CE_CREATED_OR_REMAPPED = 3,
    /** Structured content mode: passed through intact in every mode. */
    AIOE_CE_STRUCTURED = 4,
    /** An attribute is present but invalid (or duplicated). The output is
     *  the input unchanged; aioe_cloudevents_output_invalid_attribute()
     *  and _invalid_reason() say which and why. Under Propagate the call
     *  returns AIOE_OK; under CreateOrRemap it returns
     *  AIOE_ERR_INVALID_EVENT so the host decides. */
    AIOE_CE_INVALID_ATTRIBUTE = 5
} aioe_cloudevents_outcome;

/** Why an attribute is invalid. Values are ABI. */
typedef enum aioe_cloudevents_invalid_reason {
    AIOE_CE_REASON_NONE = 0,
    /** The user property appears more than once. */
    AIOE_CE_REASON_DUPLICATE = 1,
    /** The value is the empty string. */
    AIOE_CE_REASON_EMPTY = 2,
    /** A String value has a character CloudEvents disallows (U+0000-U+001F,
     *  U+007F-U+009F, a surrogate or a noncharacter) or is not UTF-8. */
    AIOE_CE_REASON_BAD_CHARACTER = 3,
    /** `specversion` is not `1.0`. */
    AIOE_CE_REASON_BAD_SPECVERSION = 4,
    /** `source` is not an RFC 3986 URI-reference. */
    AIOE_CE_REASON_NOT_URI_REFERENCE = 5,
    /** `dataschema` is not an absolute RFC 3986 URI. */
    AIOE_CE_REASON_NOT_ABSOLUTE_URI = 6,
    /** `time` is not an RFC 3339 date-time. */
    AIOE_CE_REASON_NOT_RFC3339 = 7
} aioe_cloudevents_invalid_reason;

/* ---- options ------------------------------------------------------ */

/**
 * Creates options holding the defaults: mode AIOE_CLOUD_EVENTS_NONE, no
 * target name, no output content type, no output schema.
 * @param out receives the new object; free it with
 *            aioe_cloudevents_options_free().
 * @return AIOE_OK, AIOE_ERR_INVALID_ARG (out is NULL), AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_options_new(aioe_cloudevents_options **out);

/** Frees options; NULL does nothing. Stages built from them are unaffected. */
AIOE_API void aioe_cloudevents_options_free(aioe_cloudevents_options *opts);

/**
 * The mode, normally aioe_endpoint_cloud_event_attributes() of the
 * destination endpoint. With AIOE_CLOUD_EVENTS_NONE the stage passes every
 * message through unchanged.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when opts is NULL or mode is not
 *         one of the three values.
 */
AIOE_API int aioe_cloudevents_options_set_mode(aioe_cloudevents_options *opts,
                                               aioe_cloud_event_attributes mode);

/**
 * The target name used for a generated `source`: `aio://<name>`. Required
 * for CreateOrRemap, unused otherwise.
 * @param name NUL-terminated, copied. NULL clears it.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when opts is NULL, name is empty,
 *         or `aio://<name>` is not an RFC 3986 URI-reference (for example
 *         a space or a control character in the name); AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_options_set_target_name(aioe_cloudevents_options *opts,
                                                      const char *name);

/**
 * The content type of the data after the optional transform stage. When
 * set, it becomes the output Content Type (`datacontenttype`) of every
 * message that is a CloudEvent on output (outcomes PROPAGATED and
 * CREATED_OR_REMAPPED). When not set, the input Content Type is kept.
 * @param content_type NUL-terminated, copied. NULL clears it.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when opts is NULL, the value is
 *         empty, has a control character, or is a structured-mode type
 *         (`application/cloudevents...`), which would mislabel a binary-mode
 *         event; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_options_set_output_content_type(
    aioe_cloudevents_options *opts, const char *content_type);

/**
 * The schema of the output data (from the transform configuration / schema
 * registry). When set, it becomes the `dataschema` of every message that is
 * a CloudEvent on output: replacing a present value or added when absent.
 * @param schema NUL-terminated, copied. NULL clears it.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when opts is NULL or the value is
 *         not an absolute URI (RFC 3986 `scheme ":" ...`, a fragment is
 *         allowed, see docs/cloudevents.md); AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_options_set_output_schema(aioe_cloudevents_options *opts,
                                                        const char *schema);

/* ---- the stage ----------------------------------------------------- */

/**
 * Builds a stage from options. Every string is copied: @p opts may be
 * freed or changed afterwards without affecting the stage.
 * @param out  receives the stage; free with aioe_cloudevents_free().
 * @param opts borrowed for the call.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when a pointer is NULL or the mode
 *         is CreateOrRemap without a target name; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_new(aioe_cloudevents **out,
                                  const aioe_cloudevents_options *opts);

/** Frees a stage; NULL does nothing. No apply may be running on it. */
AIOE_API void aioe_cloudevents_free(aioe_cloudevents *ce);

/** The stage's mode (AIOE_CLOUD_EVENTS_NONE when ce is NULL). */
AIOE_API aioe_cloud_event_attributes aioe_cloudevents_mode(const aioe_cloudevents *ce);

/* ---- output -------------------------------------------------------- */

/**
 * Creates an empty output object. Reuse it for every message of one
 * thread: it keeps its buffers, so after the first few calls the stage
 * allocates nothing.
 * @return AIOE_OK, AIOE_ERR_INVALID_ARG (out is NULL), AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_cloudevents_output_new(aioe_cloudevents_output **out);

/** Frees an output object; NULL does nothing. */
AIOE_API void aioe_cloudevents_output_free(aioe_cloudevents_output *out);

/**
 * Runs the stage on one message.
 *
 * @param ce      the stage (borrowed; must outlive the use of @p out's
 *                contents, which may point into it).
 * @param props   the message's user properties in order, @p n_props of
 *                them (borrowed; the output may point into them, so they
 *                must stay valid while the output is read). NULL when
 *                n_props is 0.
 * @param content_type      the message's Content Type property, or NULL
 *                when it has none (borrowed, not NUL-terminated; an empty
 *                but present content type is a non-NULL pointer with
 *                length 0).
 * @param content_type_len  its length.
 * @param topic   the topic the message is published to, the generated
 *                `subject` (borrowed, not NUL-terminated). Required (non-NULL,
 *                non-empty) under CreateOrRemap; may be NULL otherwise.
 * @param topic_len its length.
 * @param out     receives the properties and content type to publish and
 *                the details of the outcome. Its previous contents are
 *                replaced. Everything it holds stays valid until the next
 *                apply on it or its free, provided @p ce, @p props and the
 *                strings they point to, @p content_type and @p topic are
 *                still valid.
 * @param outcome receives what happened (may be NULL; the output's
 *                getters carry the same information).
 * @return AIOE_OK with outcome UNCHANGED, PROPAGATED, CREATED_OR_REMAPPED,
 *         STRUCTURED, or (Propagate only) INVALID_ATTRIBUTE;
 *         AIOE_ERR_INVALID_EVENT under CreateOrRemap when a present
 *         attribute is invalid or duplicated: outcome INVALID_ATTRIBUTE and
 *         the output holds the input unchanged, so the host may drop the
 *         message, dead-letter it, or publish it as is — the stage never
 *         overwrites a present value;
 *         AIOE_ERR_INVALID_ARG when a required pointer is NULL, a length
 *         is non-zero with a NULL pointer, the topic is missing under
 *         CreateOrRemap, or the topic is not a valid `subject` when one
 *         must be generated (the output is then empty);
 *         AIOE_ERR_NOMEM when the output could not grow (output empty).
 */
AIOE_API int aioe_cloudevents_apply(const aioe_cloudevents *ce,
                                    const aioe_user_property *props, size_t n_props,
                                    const char *content_type, size_t content_type_len,
                                    const char *topic, size_t topic_len,
                                    aioe_cloudevents_output *out,
                                    aioe_cloudevents_outcome *outcome);

/**
 * The user properties to publish, in order: the input ones in their input
 * order (values of `dataschema` and `datacontenttype` possibly replaced),
 * then the generated ones in the order specversion, type, source, id,
 * subject, time, dataschema. Ordinary user properties (and extension
 * attributes) are never changed, dropped or reordered.
 * @param count receives the number of entries (0 when out is NULL).
 * @return the array, or NULL when empty. Valid as described in
 *         aioe_cloudevents_apply().
 */
AIOE_API const aioe_user_property *
aioe_cloudevents_output_properties(const aioe_cloudevents_output *out, size_t *count);

/**
 * The Content Type to publish, or NULL for none.
 * @param len receives its length (may be NULL). The string is not
 *            guaranteed to be NUL-terminated.
 */
AIOE_API const char *aioe_cloudevents_output_content_type(const aioe_cloudevents_output *out,
                                                          size_t *len);

/** The outcome of the last apply (0 before the first, or after an error
 *  other than AIOE_ERR_INVALID_EVENT). */
AIOE_API aioe_cloudevents_outcome
aioe_cloudevents_output_outcome(const aioe_cloudevents_output *out);

/** With outcome AIOE_CE_INVALID_ATTRIBUTE: the first invalid attribute in
 *  enum order; AIOE_CE_ATTR_NONE otherwise. */
AIOE_API aioe_cloudevents_attribute
aioe_cloudevents_output_invalid_attribute(const aioe_cloudevents_output *out);

/** With outcome AIOE_CE_INVALID_ATTRIBUTE: why it is invalid;
 *  AIOE_CE_REASON_NONE otherwise. */
AIOE_API aioe_cloudevents_invalid_reason
aioe_cloudevents_output_invalid_reason(const aioe_cloudevents_output *out);

/**
 * The attributes the stage wrote (generated, or replaced with a configured
 * value) in the last apply, as a mask of AIOE_CE_ATTR_BIT(); `datacontenttype`
 * counts when the output Content Type differs from the input one.
 */
AIOE_API unsigned aioe_cloudevents_output_changed(const aioe_cloudevents_output *out);

/* ---- names, for logs and metrics ---------------------------------- */

/** The attribute's CloudEvents name ("specversion", ...); "" for NONE or
 *  an unknown value. Never NULL. */
AIOE_API const char *aioe_cloudevents_attribute_name(aioe_cloudevents_attribute attr);
/** "unchanged", "propagated", "created_or_remapped", "structured",
 *  "invalid_attribute"; "unknown" otherwise. Never NULL. */
AIOE_API const char *aioe_cloudevents_outcome_name(aioe_cloudevents_outcome outcome);
/** A short English description; "unknown" for an unknown value. Never NULL. */
AIOE_API const char *
aioe_cloudevents_invalid_reason_name(aioe_cloudevents_invalid_reason reason);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_CLOUDEVENTS_H */
