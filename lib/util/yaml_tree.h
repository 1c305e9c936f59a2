/* Reading libyaml document trees: typed access to scalars, mappings and
 * positions. Pure: no I/O. */
#ifndef AIOE_YAML_TREE_H
#define AIOE_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* What a scalar means under the YAML core schema (as Kubernetes reads
 * plain scalars). Quoted and block scalars are always strings. */
typedef enum yt_scalar_type {
    YT_STRING,
    YT_NULL,
    YT_BOOL,
    YT_INT,
    YT_FLOAT,
} yt_scalar_type;

/* 1-based position of a node. */
typedef struct yt_pos {
    unsigned line;
    unsigned column;
} yt_pos;

yaml_node_t *aioe__yt_node(yaml_document_t *doc, int index);
yt_pos aioe__yt_node_pos(const yaml_node_t *node);
yt_pos aioe__yt_mark_pos(yaml_mark_t mark);

/* Classifies a scalar node (plain style is resolved; other styles are
 * strings). */
yt_scalar_type aioe__yt_scalar_type_of(const yaml_node_t *node);

/* Classifies text as a plain scalar would be read. */
yt_scalar_type aioe__yt_resolve_plain(const char *text, size_t len);

/* True when the node is a null: a plain null scalar or an empty plain
 * scalar. */
bool aioe__yt_is_null(const yaml_node_t *node);

/* Parses an integer scalar (decimal, 0x hex, 0o octal, optional sign) into
 * *out. Returns false when the text is not an integer, and sets *overflow
 * when it is one but does not fit in int64_t. */
bool aioe__yt_parse_int(const char *text, size_t len, int64_t *out, bool *overflow);

/* Scalar text as a C string (libyaml keeps a terminating NUL) and its
 * length; the text may contain NUL bytes when the YAML used "\0". */
const char *aioe__yt_text(const yaml_node_t *node);
size_t aioe__yt_len(const yaml_node_t *node);

/* Human name of a node's type for messages: "a mapping", "a list",
 * "a string", "an integer", "null"... */
const char *aioe__yt_describe(const yaml_node_t *node);

/* Looks a key up in a mapping (first match); NULL when absent. */
yaml_node_t *aioe__yt_map_get(yaml_document_t *doc, const yaml_node_t *map,
                        const char *key);
/* Same, returning the key node too (for positions). */
yaml_node_t *aioe__yt_map_get_key(yaml_document_t *doc, const yaml_node_t *map,
                            const char *key, yaml_node_t **key_node);

/* ---- loading with limits (yaml_load.c) ---- */

typedef struct yt_limits {
    size_t max_depth;   /* collections nested in one another */
    size_t max_nodes;   /* scalars, collections and aliases in one document */
} yt_limits;

typedef enum yt_load_status {
    YT_LOAD_OK,
    YT_LOAD_SYNTAX,     /* libyaml's error: the parser's fields say why */
    YT_LOAD_NOMEM,
    YT_LOAD_TOO_DEEP,   /* *where: the collection over max_depth */
    YT_LOAD_TOO_MANY,   /* *where: the node over max_nodes */
    YT_LOAD_BAD_ALIAS,  /* *where: an alias of an undefined anchor */
} yt_load_status;

/* Loads the next document of the stream like yaml_parser_load() (an empty
 * document, no root node, at the end of the stream), stopping at the first
 * event over a limit, so any input costs time linear in its size and a
 * bounded document. On YT_LOAD_OK the caller owns *doc
 * (yaml_document_delete()); otherwise nothing is left to free. */
yt_load_status aioe__yt_load(yaml_parser_t *parser, yaml_document_t *doc, const yt_limits *lim,
                       yaml_mark_t *where);

#endif /* AIOE_YAML_TREE_H */
