/* The stage's own types (private to stage.c and stage_apply.c): its rules,
 * the scratch used while one message is mapped, and the stage object.
 * Not in transform_internal.h: the names are short and only the stage's
 * two files use them. */
#ifndef AIOE_TRANSFORM_STAGE_INTERNAL_H
#define AIOE_TRANSFORM_STAGE_INTERNAL_H

#include "transform_internal.h"

enum { MAX_INPUTS = 64, MAX_DEPTH = 64, COUNTERS = 5 };

typedef struct rule {
    fpath *in;
    size_t nin;
    fpath out;       /* map: out.nseg == 0 and FP_PAYLOAD: write nothing */
    expr *ex;        /* NULL: copy the one input */
    cJSON **last;    /* `? $last` values (copies), per input */
} rule;

/* One resolution of a map rule: a capture of its wildcard (or none). */
typedef struct instance {
    const rule *r;
    size_t cap_off, ncap;   /* captured segments in the stage's caps[] */
    size_t res_off;         /* resolved inputs in the stage's res[] */
    bool overridden;
} instance;

typedef struct seg {
    const char *p;
    size_t len;
    const cJSON *node; /* the captured field */
} seg;

/* A resolved input: the JSON node, or a metadata string. */
typedef struct resolved {
    const void *ident;      /* what the input is, for specialization; NULL: missing */
    bool meta;              /* metadata: the value is s/slen */
    const cJSON *j;         /* payload: the value's node (NULL: missing) */
    const char *s;          /* metadata text when j is NULL */
    size_t slen;
} resolved;

struct aioe_transform {
    rule *filters, *maps;
    size_t nfilters, nmaps, filters_cap, maps_cap;
    bool wildcards;              /* some map rule has a `*` */
    arena ar;
    json_reader rd;
    char err[256];
    aioe_transform_field err_field;
    size_t err_index, err_off;
    atomic_uint_fast64_t counts[COUNTERS];
    /* scratch, reused by every message */
    instance *inst;
    size_t ninst, inst_cap;
    seg *caps;
    size_t ncaps, caps_cap;
    resolved *res;
    size_t nres, res_cap;
    struct ordkey *order;        /* instances grouped by first input */
    size_t order_cap;
};

/* stage.c: the stage's last error and its counters, shared with the
 * apply step (stage_apply.c). */
void aioe__transform_set_err(aioe_transform *t, aioe_transform_field f, size_t idx, size_t off,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void aioe__transform_count(aioe_transform *t, aioe_transform_counter c);

#endif /* AIOE_TRANSFORM_STAGE_INTERNAL_H */
