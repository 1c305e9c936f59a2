/**
 * @file dataflow.h
 * @brief `Dataflow` and `DataflowProfile` resources, and destination topic
 *        templates, for engines and bridges that run dataflows.
 *
 * These kinds are parsed only when asked for with
 * aioe_parse_options_set_kinds(); by default a parse reads
 * `DataflowEndpoint`s and skips everything else. Like endpoints, dataflows
 * and profiles are immutable and reference counted, and may be read from
 * any number of threads.
 *
 * Supported shape: one `Source` operation (`sourceSettings.endpointRef`,
 * `sourceSettings.dataSources` MQTT topic filters), at most one
 * `BuiltInTransformation` (map and filter on JSON, run by
 * aioe_transform_new_for_dataflow() in transform.h; datasets and schemaRef
 * are refused), and one `Destination` operation
 * (`destinationSettings.endpointRef`, `dataDestination` topic with
 * `${inputTopic}` / `${inputTopic.N}`), in that order. References between
 * resources are resolved by aioe_parse_results_check_references(). See
 * docs/spec.md and docs/transform.md.
 */
#ifndef AIOENDPOINT_DATAFLOW_H
#define AIOENDPOINT_DATAFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An immutable, validated `Dataflow` (one source, one destination). */
typedef struct aioe_dataflow aioe_dataflow;
/** An immutable, validated `DataflowProfile`. */
typedef struct aioe_profile aioe_profile;

/** Resource kinds a parse reads, for aioe_parse_options_set_kinds(). */
enum {
    AIOE_KIND_DATAFLOW_ENDPOINT = 1u << 0,
    AIOE_KIND_DATAFLOW = 1u << 1,
    AIOE_KIND_DATAFLOW_PROFILE = 1u << 2
};

/**
 * Which resource kinds to parse (a mix of AIOE_KIND_*; default
 * AIOE_KIND_DATAFLOW_ENDPOINT). Documents of other kinds are skipped.
 * Returns AIOE_ERR_INVALID_ARG for 0 or unknown bits.
 */
AIOE_API int aioe_parse_options_set_kinds(aioe_parse_options *opts, unsigned kinds);

/** Number of valid Dataflow documents in a result. */
AIOE_API size_t aioe_parse_result_dataflow_count(const aioe_parse_result *res);
/** The i-th valid dataflow, borrowed from the result; NULL when out of range. */
AIOE_API const aioe_dataflow *aioe_parse_result_dataflow(const aioe_parse_result *res,
                                                         size_t i);
/** Number of valid DataflowProfile documents in a result. */
AIOE_API size_t aioe_parse_result_profile_count(const aioe_parse_result *res);
/** The i-th valid profile, borrowed from the result; NULL when out of range. */
AIOE_API const aioe_profile *
aioe_parse_result_profile(const aioe_parse_result *res, size_t i);
/** Looks a profile up by metadata.name; NULL when absent. */
AIOE_API const aioe_profile *
aioe_parse_result_find_profile(const aioe_parse_result *res, const char *name);

/** Adds a reference; returns @p df. Thread-safe. */
AIOE_API aioe_dataflow *aioe_dataflow_ref(const aioe_dataflow *df);
/** Drops a reference; the last one frees. NULL does nothing. */
AIOE_API void aioe_dataflow_unref(const aioe_dataflow *df);

/* Getters: NULL/0 for a NULL dataflow; strings owned by the dataflow. */

/** metadata.name. */
AIOE_API const char *aioe_dataflow_name(const aioe_dataflow *df);
/** metadata.namespace, or NULL. */
AIOE_API const char *aioe_dataflow_namespace(const aioe_dataflow *df);
/** Where the document starts: file name and 1-based line. */
AIOE_API const char *aioe_dataflow_source_file(const aioe_dataflow *df);
AIOE_API unsigned aioe_dataflow_source_line(const aioe_dataflow *df);
/** spec.profileRef (default "default"). */
AIOE_API const char *aioe_dataflow_profile_ref(const aioe_dataflow *df);
/** spec.mode: true for Enabled (the default), false for Disabled. */
AIOE_API bool aioe_dataflow_enabled(const aioe_dataflow *df);
/** The Source operation's sourceSettings.endpointRef. */
AIOE_API const char *aioe_dataflow_source_endpoint_ref(const aioe_dataflow *df);
/** Number of sourceSettings.dataSources topic filters (at least one). */
AIOE_API size_t aioe_dataflow_source_topic_count(const aioe_dataflow *df);
/** The i-th topic filter, as written; NULL when out of range. */
AIOE_API const char *aioe_dataflow_source_topic(const aioe_dataflow *df, size_t i);
/** The Destination operation's destinationSettings.endpointRef. */
AIOE_API const char *aioe_dataflow_destination_endpoint_ref(const aioe_dataflow *df);
/** destinationSettings.dataDestination: a topic template for
 *  aioe_topic_expand(). */
AIOE_API const char *aioe_dataflow_destination_topic(const aioe_dataflow *df);

/** True when the dataflow has a BuiltInTransformation operation (make
 *  its stage with aioe_transform_new_for_dataflow()). */
AIOE_API bool aioe_dataflow_has_transformation(const aioe_dataflow *df);

/**
 * True when both dataflows would run the same way: the same name,
 * namespace, profileRef, mode, source endpointRef and dataSources,
 * destination endpointRef and dataDestination, and the same
 * BuiltInTransformation rules (inputs, outputs and expressions, in order).
 * Where the documents were written (file, line) does not count. Endpoints
 * and profiles are compared on their own (aioe_endpoint_equal(),
 * aioe_profile_instance_count()). Both are borrowed; two NULLs are equal,
 * one NULL is not. Thread-safe.
 */
AIOE_API bool aioe_dataflow_equal(const aioe_dataflow *a, const aioe_dataflow *b);

/**
 * Serializes a dataflow as one JSON object: `kind` ("Dataflow"), `name`,
 * `namespace` (or null), `profileRef`, `mode`, `source` (`endpointRef`,
 * `dataSources`), `transformation` (true/false), `destination`
 * (`endpointRef`, `dataDestination`). @p flags: 0 or AIOE_JSON_PRETTY.
 * @p *out is NUL-terminated; free it with aioe_free(). @p len may be NULL.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_dataflow_to_json(const aioe_dataflow *df, unsigned flags, char **out,
                                   size_t *len);

/**
 * Resolves references between the resources of one or more parse results
 * (for example one per file): every Dataflow's Source and Destination
 * `endpointRef` must name a valid DataflowEndpoint, and its `profileRef` a
 * valid DataflowProfile unless it is "default" (the profile Azure IoT
 * Operations creates), in any of @p results. Each problem adds one error,
 * positioned at the reference, to the result that holds the dataflow, and
 * such a dataflow is removed from its result (and released), as invalid
 * documents are. Call it once, after parsing, before taking pointers to
 * dataflows; the results must not be read by other threads meanwhile.
 * @return the number of errors added (0: everything resolved);
 *         AIOE_ERR_INVALID_ARG for a NULL array or element;
 *         AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_parse_results_check_references(aioe_parse_result *const *results,
                                                 size_t count);

/** Adds a reference; returns @p p. Thread-safe. */
AIOE_API aioe_profile *aioe_profile_ref(const aioe_profile *p);
/** Drops a reference; the last one frees. NULL does nothing. */
AIOE_API void aioe_profile_unref(const aioe_profile *p);
/** metadata.name. */
AIOE_API const char *aioe_profile_name(const aioe_profile *p);
/** metadata.namespace, or NULL. */
AIOE_API const char *aioe_profile_namespace(const aioe_profile *p);
/** spec.instanceCount, 1..20 (default 1). */
AIOE_API unsigned aioe_profile_instance_count(const aioe_profile *p);
/**
 * Serializes a profile as one JSON object: `kind` ("DataflowProfile"),
 * `name`, `namespace` (or null), `instanceCount`. As aioe_dataflow_to_json().
 */
AIOE_API int aioe_profile_to_json(const aioe_profile *p, unsigned flags, char **out,
                                  size_t *len);

/* ---- topics ---------------------------------------------------------- */

/**
 * Checks an MQTT topic filter: non-empty, at most 65535 bytes, no NUL,
 * `+` only as a whole level, `#` only as the whole last level. A shared
 * subscription (`$share/<group>/<filter>`) is accepted.
 */
AIOE_API bool aioe_topic_filter_is_valid(const char *filter);

/**
 * Checks a destination topic template: a non-empty MQTT topic name (no
 * `+`, `#` or NUL) whose only variables are `${inputTopic}` and
 * `${inputTopic.N}` with N from 1.
 */
AIOE_API bool aioe_topic_template_is_valid(const char *tmpl);

/**
 * Expands a destination topic template for one message.
 * `${inputTopic}` becomes @p input_topic; `${inputTopic.N}` its N-th level
 * (1-based). Writes a NUL-terminated topic into @p buf (no allocation);
 * @p out_len (may be NULL) receives its length, or the length needed when
 * the buffer is too small.
 * @return AIOE_OK; AIOE_ERR_NOT_FOUND when a variable cannot be resolved
 *         (N beyond the input topic's levels) — the message should then
 *         be dropped and counted, as AIO does;
 *         AIOE_ERR_TOO_LARGE when @p buf is too small;
 *         AIOE_ERR_INVALID_ARG for NULL arguments or an invalid template.
 */
AIOE_API int aioe_topic_expand(const char *tmpl, const char *input_topic,
                               char *buf, size_t buf_len, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_DATAFLOW_H */
