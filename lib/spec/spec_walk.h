/* Schema walking for resource documents (private). */
#ifndef AIOE_SPEC_WALK_H
#define AIOE_SPEC_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "spec_internal.h"
#include "util/util.h"

/* Mappings the schema walks may hold at most this many keys. */
#define MAX_SCHEMA_KEYS 256
#define PATH_MAX_LEN 256

/* The state of one parse: the result being filled and the document
 * being walked. */
typedef struct pctx {
    aioe_parse_result *res;
    const aioe_parse_options *opts;
    yaml_document_t *doc;
    /* The document's apiVersion row (the newest when it has none or an
     * unsupported one, so the walk can go on and report the rest). */
    const aioe_api_version *ver;
    bool failed; /* the current document has errors */
    bool oom;
} pctx;

/* Records an error at a node (NULL: no position) and marks the document
 * failed. */
void aioe__spec_err_at(pctx *c, const yaml_node_t *node, const char *path,
                 const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Same, at an explicit position (inside a scalar). */
void aioe__spec_err_pos(pctx *c, yt_pos pos, const char *path, const char *hint, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

/* parent + "." + key into a PATH_MAX_LEN buffer. */
void aioe__spec_join_path(char *out, const char *parent, const char *key);

/* Reports non-string, duplicate and unknown keys (unless in `ignored`),
 * with a suggestion for likely typos. */
void aioe__spec_check_keys(pctx *c, const yaml_node_t *map, const char *path,
                     const char *const *known, const char *const *ignored);

/* The value of `key` when present and not null; else NULL. */
yaml_node_t *aioe__spec_field(pctx *c, const yaml_node_t *map, const char *key);

/* A string field: true and a malloc'd copy in *out when present and
 * valid (non-empty, no control characters, no <placeholder>). */
bool aioe__spec_get_string(pctx *c, const yaml_node_t *map, const char *parent,
                     const char *key, bool required, char **out);

/* An integer field in [min, max]: true when present and valid. */
bool aioe__spec_get_int(pctx *c, const yaml_node_t *map, const char *parent,
                  const char *key, int64_t min, int64_t max,
                  const char *range_hint, int64_t *out);

/* An enum field: the index in names[], or -1 when absent or invalid. */
int aioe__spec_get_enum(pctx *c, const yaml_node_t *map, const char *parent,
                  const char *key, const char *const *names);

/* A nested object: the mapping, or NULL with *state saying why. */
typedef enum { MAP_ABSENT, MAP_NULL, MAP_WRONG, MAP_OK } map_state;
yaml_node_t *aioe__spec_get_map(pctx *c, const yaml_node_t *map, const char *parent,
                          const char *key, map_state *state);

/* A Kubernetes object reference (secret, config map, endpoint name). */
bool aioe__spec_get_k8s_name(pctx *c, const yaml_node_t *map, const char *parent,
                       const char *key, bool required, char **out);

/* Top-level keys every resource kind has, and those it ignores. */
extern const char *const aioe__spec_top_keys[];
extern const char *const aioe__spec_top_ignored[];

/* apiVersion (one of the rows of spec_version.c; sets c->ver) and
 * metadata.name/namespace, shared by every resource kind. */
void aioe__spec_parse_header(pctx *c, const yaml_node_t *root, const char *kind,
                       char **api_version, char **name, char **namespace_);

/* Kinds of documents a stream may hold (private dispatch). */
void aioe__spec_parse_endpoint(pctx *c, const yaml_node_t *root, yt_pos start);
void aioe__spec_parse_dataflow(pctx *c, const yaml_node_t *root, yt_pos start);
void aioe__spec_parse_profile(pctx *c, const yaml_node_t *root, yt_pos start);

/* A Dataflow's builtInTransformationSettings (spec_transformation.c). */
void aioe__spec_parse_transformation(pctx *c, aioe_dataflow *df, const yaml_node_t *settings,
                               const char *path);
void aioe__spec_df_rules_free(struct aioe_df_rule *rules, size_t n);

#endif /* AIOE_SPEC_WALK_H */
