/* The BuiltInTransformation stage (private): the door of lib/transform/.
 * Pure: no I/O. Field paths (path.c), expressions parsed to an AST once
 * (expr_parse.c) and evaluated over values read from the payload's cJSON
 * tree (expr_eval.c, value.c; the payload is read in json_read.c, the
 * output record is built and written with json-c), and the stage applying
 * filter then map (stage.c, stage_apply.c, message.c; the stage's own
 * types are in stage_internal.h). */
#ifndef AIOE_TRANSFORM_INTERNAL_H
#define AIOE_TRANSFORM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <json-c/json.h>

#include "aioendpoint/transform.h"

/* ---- values ------------------------------------------------------------ */

typedef enum tv_kind {
    TV_MISSING, /* `()`: a missing field or JSON null */
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STRING,
    TV_TUPLE,
    TV_JSON /* a JSON object of the payload: copied as is, cannot take part in operators */
} tv_kind;

typedef struct tval {
    tv_kind k;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t len;
        } s;
        struct {
            struct tval *items;
            size_t n;
        } t;
        const cJSON *j;
    } u;
} tval;

/* A bump allocator for values made while one message is evaluated. */
typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
} arena;

void *aioe__transform_arena_alloc(arena *a, size_t n);
void aioe__transform_arena_reset(arena *a);
void aioe__transform_arena_free(arena *a);

/* The value a node of the payload stands for in an expression (a JSON
 * null: missing). False when out of memory. */
bool aioe__transform_tval_from_json(arena *a, const cJSON *j, tval *out);
/* A new json-c object for a value (NULL for a missing one, or on failure:
 * *err says which). */
struct json_object *aioe__transform_tval_to_json(const tval *v, bool *err);
/* A new json-c object for a node of the payload, copied as is (*out NULL
 * for a JSON null). False when out of memory. Object keys are not copied:
 * @p n must outlive *out. */
bool aioe__transform_json_out(const cJSON *n, struct json_object **out);
/* The text of a value as `str::from` and string `+` write it. */
bool aioe__transform_tval_to_text(arena *a, const tval *v, const char **p, size_t *len);
/* The shortest text that reads back as exactly d ("%.17g" at most). */
void aioe__transform_format_double(double d, char *buf, size_t len);
/* Element-wise equality as `==` has it. */
bool aioe__transform_tval_equal(const tval *a, const tval *b);
const char *aioe__transform_tval_kind_name(tv_kind k);

/* ---- reading the payload (json_read.c) ----------------------------------- */

/* What a cJSON_Raw node of a tree read by json-c holds in valueint: the
 * kind of number json-c read (valuestring is its text as json-c writes it,
 * valuedouble its value). Trees read by cJSON have no cJSON_Raw node. */
enum { AIOE_RAW_DOUBLE = 0, AIOE_RAW_INT64 = 1, AIOE_RAW_UINT64 = 2 };

/* A node's type (cJSON_Object, cJSON_Number...; cJSON_Invalid for NULL):
 * cJSON_Is*() are calls into the library, this is inline. */
static inline int aioe__transform_json_type(const cJSON *n)
{
    return n ? n->type & 0xFF : cJSON_Invalid;
}

/* Kept by the stage, reused by every message. */
typedef struct json_reader {
    json_tokener *tok;   /* json-c, for what cJSON cannot decide (created when first needed) */
    const char **keys;   /* scratch of the duplicate-key check */
    size_t keys_cap;
} json_reader;

/* Reads @p len bytes as one JSON object into *root (free it with
 * cJSON_Delete()). NULL on success; otherwise why not (a static string),
 * *err_off the offset it concerns, *nomem when memory ran out. */
const char *aioe__transform_json_read(json_reader *r, const char *p, size_t len, cJSON **root,
                                      size_t *err_off, bool *nomem);
/* The same with json-c alone: what aioe__transform_json_read() falls back
 * on (and what tests compare it with). */
const char *aioe__transform_json_read_json_c(json_reader *r, const char *p, size_t len,
                                             cJSON **root, size_t *err_off, bool *nomem);
void aioe__transform_json_reader_free(json_reader *r);

/* ---- expressions --------------------------------------------------------- */

typedef struct expr expr;

/* Parses @p text with @p n_vars positional variables ($1..$n). On error
 * returns NULL and writes a message and the 0-based byte offset. */
expr *aioe__transform_expr_parse(const char *text, size_t n_vars, char *err, size_t errlen,
                       size_t *err_offset, bool *unsupported);
void aioe__transform_expr_free(expr *e);

/* Evaluates with vars[0..n_vars). On a run-time error returns false with a
 * static message in *why. Values live in @p a until it is reset. */
bool aioe__transform_expr_eval(const expr *e, const tval *vars, arena *a, tval *out,
                               const char **why);

/* ---- field paths --------------------------------------------------------- */

typedef enum fpath_root {
    FP_PAYLOAD,
    FP_TOPIC,
    FP_USER_PROPERTY,
    FP_CONTENT_TYPE
} fpath_root;

typedef struct fpath {
    fpath_root root;
    char **segs;    /* payload segments, or the user property name in [0] */
    size_t *lens;
    size_t nseg;
    int star;       /* index of the `*` segment, or -1 */
    bool last;      /* `? $last` */
} fpath;

typedef enum { FPATH_INPUT, FPATH_OUTPUT } fpath_use;

/* Parses a field path. 0, or AIOE_ERR_INVALID_SPEC / AIOE_ERR_UNSUPPORTED /
 * AIOE_ERR_NOMEM with a message and an offset. An empty output path gives
 * nseg == 0 (write nothing). */
int aioe__transform_fpath_parse(const char *text, fpath_use use, fpath *out, char *err, size_t errlen,
                      size_t *err_offset);
void aioe__transform_fpath_clear(fpath *p);

/* ---- messages ------------------------------------------------------------ */

struct aioe_transform_message {
    const unsigned char *payload;
    size_t payload_len;
    unsigned char *owned;      /* the output payload buffer */
    size_t owned_cap;
    const char *topic;
    size_t topic_len;
    const char *content_type;
    size_t content_type_len;
    aioe_user_property *props;
    size_t nprops, props_cap;
    char **strs;               /* strings the stage wrote, freed on reset */
    size_t nstrs, strs_cap;
};

int aioe__transform_tmsg_set_owned_payload(aioe_transform_message *m, const char *p, size_t len);
/* Appends a property whose strings are copied into the message. */
int aioe__transform_tmsg_add_owned_property(aioe_transform_message *m, const char *name, size_t nlen,
                                  const char *value, size_t vlen);
/* Removes every property named @p name. */
void aioe__transform_tmsg_remove_property(aioe_transform_message *m, const char *name, size_t nlen);

#endif /* AIOE_TRANSFORM_INTERNAL_H */
