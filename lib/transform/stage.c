/* The stage: the object, its last error and counters, and its rules,
 * compiled when added; filter and map are applied to each message in
 * stage_apply.c (docs/transform.md has the semantics and their sources). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_internal.h"
#include "transform_internal.h"

void aioe__transform_set_err(aioe_transform *t, aioe_transform_field f, size_t idx, size_t off,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    t->err_field = f;
    t->err_index = idx;
    t->err_off = off;
}

int aioe_transform_new(aioe_transform **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    aioe_transform *t = calloc(1, sizeof *t);
    if (!t) {
        *out = NULL;
        return AIOE_ERR_NOMEM;
    }
    for (int i = 0; i < COUNTERS; i++)
        atomic_init(&t->counts[i], 0);
    *out = t;
    return AIOE_OK;
}

static void rule_clear(rule *r)
{
    for (size_t i = 0; i < r->nin; i++) {
        aioe__transform_fpath_clear(&r->in[i]);
        if (r->last)
            cJSON_Delete(r->last[i]);
    }
    free(r->in);
    free(r->last);
    aioe__transform_fpath_clear(&r->out);
    aioe__transform_expr_free(r->ex);
}

void aioe_transform_free(aioe_transform *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nfilters; i++)
        rule_clear(&t->filters[i]);
    for (size_t i = 0; i < t->nmaps; i++)
        rule_clear(&t->maps[i]);
    free(t->filters);
    free(t->maps);
    aioe__transform_arena_free(&t->ar);
    aioe__transform_json_reader_free(&t->rd);
    free(t->inst);
    free(t->caps);
    free(t->res);
    free(t->order);
    free(t);
}

const char *aioe_transform_last_error(const aioe_transform *t, aioe_transform_field *field,
                                      size_t *input_index, size_t *offset)
{
    if (field)
        *field = t ? t->err_field : AIOE_TRANSFORM_FIELD_NONE;
    if (input_index)
        *input_index = t ? t->err_index : 0;
    if (offset)
        *offset = t ? t->err_off : 0;
    return t ? t->err : "";
}

uint64_t aioe_transform_count(const aioe_transform *t, aioe_transform_counter which)
{
    if (!t || (unsigned)which >= COUNTERS)
        return 0;
    return atomic_load(&((aioe_transform *)t)->counts[which]);
}

void aioe__transform_count(aioe_transform *t, aioe_transform_counter c)
{
    atomic_fetch_add_explicit(&t->counts[c], 1, memory_order_relaxed);
}

/* ---- adding rules ----------------------------------------------------- */

static int add_rule(aioe_transform *t, bool filter, const char *const *inputs, size_t nin,
                    const char *output, const char *expression)
{
    if (!t || !inputs || nin == 0 || (filter && !expression))
        return AIOE_ERR_INVALID_ARG;
    for (size_t i = 0; i < nin; i++)
        if (!inputs[i])
            return AIOE_ERR_INVALID_ARG;
    aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_NONE, 0, 0, "%s", "");
    if (nin > MAX_INPUTS) {
        aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_INPUT, MAX_INPUTS, 0, "more than %d inputs",
                MAX_INPUTS);
        return AIOE_ERR_INVALID_SPEC;
    }
    rule r = { .nin = nin };
    r.out.star = -1;
    r.in = calloc(nin, sizeof *r.in);
    r.last = calloc(nin, sizeof *r.last);
    if (!r.in || !r.last) {
        free(r.in);
        free(r.last);
        return AIOE_ERR_NOMEM;
    }
    int rc = 0;
    char msg[200];
    size_t off = 0;
    size_t parsed = 0;
    for (; parsed < nin; parsed++) {
        rc = aioe__transform_fpath_parse(inputs[parsed], FPATH_INPUT, &r.in[parsed], msg, sizeof msg,
                               &off);
        if (rc) {
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_INPUT, parsed, off, "%s", msg);
            break;
        }
        if (r.in[parsed].star >= 0 && filter) {
            rc = AIOE_ERR_INVALID_SPEC;
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_INPUT, parsed, 0,
                    "wildcards are for map rules; a filter reads named fields");
            parsed++;
            break;
        }
        if (r.in[parsed].star >= 0 && parsed > 0 && r.in[0].star < 0) {
            rc = AIOE_ERR_INVALID_SPEC;
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_INPUT, parsed, 0,
                    "the first input decides what '*' captures: put the wildcard in "
                    "the first input too");
            parsed++;
            break;
        }
    }
    r.nin = parsed;
    bool star = rc == 0 && r.in[0].star >= 0;
    if (rc == 0 && !filter) {
        rc = aioe__transform_fpath_parse(output ? output : "", FPATH_OUTPUT, &r.out, msg, sizeof msg,
                               &off);
        if (rc)
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_OUTPUT, 0, off, "%s", msg);
        else if (r.out.star >= 0 && !star) {
            rc = AIOE_ERR_INVALID_SPEC;
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_OUTPUT, 0, 0,
                    "'*' in the output needs a '*' in the first input to capture it");
        } else if (star && r.out.star < 0 && (r.out.nseg || r.out.root != FP_PAYLOAD)) {
            rc = AIOE_ERR_INVALID_SPEC;
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_OUTPUT, 0, 0,
                    "the inputs have a '*': put one in the output to place what it "
                    "captures (or leave the output empty to drop the fields)");
        }
    }
    if (rc == 0 && expression) {
        bool unsupported = false;
        r.ex = aioe__transform_expr_parse(expression, nin, msg, sizeof msg, &off, &unsupported);
        if (!r.ex) {
            rc = unsupported ? AIOE_ERR_UNSUPPORTED : AIOE_ERR_INVALID_SPEC;
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_EXPRESSION, 0, off, "%s", msg);
        }
    } else if (rc == 0 && nin > 1 && !(r.out.nseg == 0 && r.out.root == FP_PAYLOAD)) {
        rc = AIOE_ERR_INVALID_SPEC;
        aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_EXPRESSION, 0, 0,
                "%zu inputs need an expression that combines them ($1..$%zu)", nin, nin);
    }
    rule **list = filter ? &t->filters : &t->maps;
    size_t *n = filter ? &t->nfilters : &t->nmaps;
    size_t *cap = filter ? &t->filters_cap : &t->maps_cap;
    if (rc == 0 && *n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        rule *nl = realloc(*list, nc * sizeof *nl);
        if (!nl)
            rc = AIOE_ERR_NOMEM;
        else {
            *list = nl;
            *cap = nc;
        }
    }
    if (rc) {
        rule_clear(&r);
        return rc;
    }
    (*list)[(*n)++] = r;
    if (star)
        t->wildcards = true;
    return AIOE_OK;
}

int aioe_transform_add_filter(aioe_transform *t, const char *const *inputs, size_t n_inputs,
                              const char *expression)
{
    return add_rule(t, true, inputs, n_inputs, NULL, expression);
}

int aioe_transform_add_map(aioe_transform *t, const char *const *inputs, size_t n_inputs,
                           const char *output, const char *expression)
{
    return add_rule(t, false, inputs, n_inputs, output, expression);
}
