/* The stage applied to one message: its inputs resolved (payload fields,
 * `*` captures, metadata), the filter rules, then the map rules with
 * specialization, written into a new payload (docs/transform.md). The
 * rules themselves are compiled in stage.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_internal.h"
#include "transform_internal.h"

/* ---- resolving inputs ------------------------------------------------- */

/* The node of the field at segs[0..n) below @p j, or NULL when there is
 * none (a JSON null is a node). The node says which field it is: keys are
 * unique in a tree json_read.c gives. */
static const cJSON *walk_entry(const cJSON *j, char *const *segs, size_t n)
{
    const cJSON *e = NULL;
    for (size_t i = 0; i < n; i++) {
        if (aioe__transform_json_type(j) != cJSON_Object ||
            !(e = cJSON_GetObjectItemCaseSensitive(j, segs[i])))
            return NULL;
        j = e;
    }
    return e;
}

static const cJSON *walk(const cJSON *j, char *const *segs, size_t n)
{
    return n == 0 ? j : walk_entry(j, segs, n);
}

/* Resolves a payload path with the capture substituted for its `*`. The
 * capture was found below @p base: when the path's `*` is there too, its
 * node is known (a `*` over a wide record stays O(n)). */
static const cJSON *walk_captured(const cJSON *root, const fpath *p, const seg *cap, size_t ncap,
                                  const cJSON *base)
{
    if (p->star < 0)
        return walk_entry(root, p->segs, p->nseg);
    const cJSON *j = walk(root, p->segs, (size_t)p->star);
    const cJSON *e = NULL;
    if (ncap && j && j == base) {
        e = j = cap[ncap - 1].node;
    } else {
        for (size_t i = 0; i < ncap; i++) {
            /* captured keys come from the same record: NUL-terminated */
            if (aioe__transform_json_type(j) != cJSON_Object ||
                !(e = cJSON_GetObjectItemCaseSensitive(j, cap[i].p)))
                return NULL;
            j = e;
        }
    }
    size_t rest = p->nseg - (size_t)p->star - 1;
    return rest ? walk_entry(j, p->segs + p->star + 1, rest) : e;
}

static void resolve(const aioe_transform_message *in, const cJSON *root, rule *r, size_t i,
                    const seg *cap, size_t ncap, const cJSON *base, resolved *out)
{
    const fpath *p = &r->in[i];
    memset(out, 0, sizeof *out);
    switch (p->root) {
    case FP_PAYLOAD: {
        const cJSON *e = walk_captured(root, p, cap, ncap, base);
        out->ident = e;
        out->j = e;
        if (p->last) {
            /* a JSON null counts as missing here; the value is kept in a
             * copy (the record is freed after the message) */
            if (e && aioe__transform_json_type(e) != cJSON_NULL) {
                cJSON *keep = cJSON_Duplicate(e, true);
                if (keep) {
                    cJSON_Delete(r->last[i]);
                    r->last[i] = keep;
                }
            } else if (r->last[i]) {
                out->j = r->last[i];
                out->ident = r->last[i];
            }
        }
        return;
    }
    case FP_TOPIC:
        if (in->topic) {
            out->meta = true;
            out->s = in->topic;
            out->slen = in->topic_len;
            out->ident = &in->topic;
        }
        return;
    case FP_CONTENT_TYPE:
        if (in->content_type) {
            out->meta = true;
            out->s = in->content_type;
            out->slen = in->content_type_len;
            out->ident = &in->content_type;
        }
        return;
    case FP_USER_PROPERTY:
        for (size_t k = 0; k < in->nprops; k++)
            if (in->props[k].name_len == p->lens[0] &&
                memcmp(in->props[k].name, p->segs[0], p->lens[0]) == 0) {
                out->meta = true;
                out->s = in->props[k].value;
                out->slen = in->props[k].value_len;
                out->ident = &in->props[k];
                return;
            }
        return;
    }
}

static bool to_tval(arena *a, const resolved *r, tval *v)
{
    if (r->j)
        return aioe__transform_tval_from_json(a, r->j, v);
    if (r->meta) {
        v->k = TV_STRING;
        v->u.s.p = r->s;
        v->u.s.len = r->slen;
        return true;
    }
    v->k = TV_MISSING;
    return true;
}

/* ---- filter ------------------------------------------------------------- */

/* True when a filter rule drops the message. */
static bool filtered(aioe_transform *t, const aioe_transform_message *in, const cJSON *root)
{
    for (size_t f = 0; f < t->nfilters; f++) {
        rule *r = &t->filters[f];
        tval vars[MAX_INPUTS];
        for (size_t i = 0; i < r->nin; i++) {
            resolved rs;
            resolve(in, root, r, i, NULL, 0, NULL, &rs);
            if (!to_tval(&t->ar, &rs, &vars[i]))
                vars[i].k = TV_MISSING;
        }
        tval v;
        const char *why = NULL;
        if (!aioe__transform_expr_eval(r->ex, vars, &t->ar, &v, &why) || v.k != TV_BOOL) {
            aioe__transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS);
            aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_EXPRESSION, f, 0,
                    "filter[%zu]: %s; the rule drops nothing", f,
                    why ? why : "the expression is not a boolean");
            continue;
        }
        if (v.u.b)
            return true;
    }
    return false;
}

/* ---- map ---------------------------------------------------------------- */

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *n = realloc(*p, nc * size);
    if (!n)
        return false;
    *p = n;
    *cap = nc;
    return true;
}

/* Adds an instance of rule @p r for capture caps[cap_off..+ncap); false
 * only when out of memory. Instances whose inputs do not all resolve are
 * skipped when the rule has a wildcard (documented), kept otherwise. */
static bool add_instance(aioe_transform *t, const aioe_transform_message *in, const cJSON *root,
                         rule *r, size_t cap_off, size_t ncap, const cJSON *base)
{
    if (!grow((void **)&t->res, &t->res_cap, t->nres + r->nin, sizeof *t->res) ||
        !grow((void **)&t->inst, &t->inst_cap, t->ninst + 1, sizeof *t->inst))
        return false;
    resolved *rs = &t->res[t->nres];
    bool star = r->in[0].star >= 0;
    for (size_t i = 0; i < r->nin; i++) {
        resolve(in, root, r, i, ncap ? t->caps + cap_off : NULL, ncap, base, &rs[i]);
        if (star && !rs[i].ident)
            return true; /* this capture does not resolve every input: skipped */
    }
    t->inst[t->ninst++] = (instance){ .r = r, .cap_off = cap_off, .ncap = ncap,
                                      .res_off = t->nres };
    t->nres += r->nin;
    return true;
}

typedef struct enum_ctx {
    aioe_transform *t;
    const aioe_transform_message *in;
    const cJSON *root;
    const cJSON *base; /* where the first input's `*` starts */
    rule *r;
    seg stack[MAX_DEPTH];
    size_t depth;
    bool oom;
} enum_ctx;

static void capture(enum_ctx *c)
{
    aioe_transform *t = c->t;
    if (!grow((void **)&t->caps, &t->caps_cap, t->ncaps + c->depth, sizeof *t->caps)) {
        c->oom = true;
        return;
    }
    size_t off = t->ncaps;
    memcpy(t->caps + off, c->stack, c->depth * sizeof *c->stack);
    t->ncaps += c->depth;
    if (!add_instance(t, c->in, c->root, c->r, off, c->depth, c->base))
        c->oom = true;
}

/* Every capture of the first input's `*` below node @p j. */
static void enumerate(enum_ctx *c, const cJSON *j)
{
    const fpath *p = &c->r->in[0];
    size_t suffix = p->nseg - (size_t)p->star - 1;
    if (c->depth == MAX_DEPTH)
        return;
    for (const cJSON *val = j->child; val; val = val->next) {
        if (c->oom)
            return;
        c->stack[c->depth++] = (seg){ val->string, strlen(val->string), val };
        bool obj = aioe__transform_json_type(val) == cJSON_Object && val->child;
        if (suffix == 0) {
            if (obj)
                enumerate(c, val);
            else
                capture(c);
        } else {
            if (walk_entry(val, p->segs + p->star + 1, suffix))
                capture(c);
            if (obj)
                enumerate(c, val);
        }
        c->depth--;
    }
}

static bool same_inputs(const aioe_transform *t, const instance *a, const instance *b)
{
    if (a->r->nin != b->r->nin)
        return false;
    for (size_t i = 0; i < a->r->nin; i++) {
        const void *x = t->res[a->res_off + i].ident, *y = t->res[b->res_off + i].ident;
        if (!x || x != y)
            return false;
    }
    return true;
}

typedef struct ordkey {
    uintptr_t id; /* the first input's field */
    size_t k;     /* the instance */
} ordkey;

static int by_first_input(const void *a, const void *b)
{
    const ordkey *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k; /* rule order within a field */
}

/* Specialization: a later instance on the same fields with a lower rank
 * (fewer captured segments) overrides the earlier one. Only instances on
 * the same first input can match, so they are grouped by it first:
 * O(n log n) for a `*` over a large record, not O(n^2). */
static bool specialize(aioe_transform *t)
{
    if (t->ninst < 2)
        return true;
    if (!grow((void **)&t->order, &t->order_cap, t->ninst, sizeof *t->order))
        return false;
    for (size_t k = 0; k < t->ninst; k++)
        t->order[k] = (ordkey){ (uintptr_t)t->res[t->inst[k].res_off].ident, k };
    qsort(t->order, t->ninst, sizeof *t->order, by_first_input);
    for (size_t g = 0; g < t->ninst;) {
        size_t e = g + 1;
        while (e < t->ninst && t->order[e].id == t->order[g].id)
            e++;
        for (size_t j = g + 1; t->order[g].id && j < e; j++)
            for (size_t i = g; i < j; i++) {
                instance *x = &t->inst[t->order[i].k], *y = &t->inst[t->order[j].k];
                if (x->r != y->r && y->ncap < x->ncap && same_inputs(t, x, y))
                    x->overridden = true;
            }
        g = e;
    }
    return true;
}

/* Output keys are the rules' segments (alive as long as the stage) or
 * keys of the input record, which is freed after the output: json-c need
 * not copy them (aioe__transform_json_out() does the same). */
#define KEY_FLAGS JSON_C_OBJECT_ADD_CONSTANT_KEY

/* Writes @p v at the output path (capture substituted); takes @p v. */
static bool write_payload(struct json_object *out, const fpath *p, const seg *cap, size_t ncap,
                          struct json_object *v)
{
    const char *keys[2 * MAX_DEPTH + 2];
    size_t total = 0;
    for (size_t i = 0; i < p->nseg && total < sizeof keys / sizeof keys[0]; i++) {
        if ((int)i != p->star) {
            keys[total++] = p->segs[i];
            continue;
        }
        for (size_t k = 0; k < ncap && total < sizeof keys / sizeof keys[0]; k++)
            keys[total++] = cap[k].p;
    }
    struct json_object *j = out;
    for (size_t i = 0; i + 1 < total; i++) {
        struct json_object *next = NULL;
        if (!json_object_object_get_ex(j, keys[i], &next) ||
            !json_object_is_type(next, json_type_object)) {
            next = json_object_new_object();
            if (!next || json_object_object_add_ex(j, keys[i], next, KEY_FLAGS) != 0) {
                json_object_put(next);
                json_object_put(v);
                return false;
            }
        }
        j = next;
    }
    if (total == 0 || json_object_object_add_ex(j, keys[total - 1], v, KEY_FLAGS) != 0) {
        json_object_put(v);
        return total == 0;
    }
    return true;
}

/* Runs the map rules; false only when out of memory. */
static bool map(aioe_transform *t, const aioe_transform_message *in, aioe_transform_message *out,
                const cJSON *root, struct json_object *dst, bool *incomplete)
{
    t->ninst = t->ncaps = t->nres = 0;
    for (size_t m = 0; m < t->nmaps; m++) {
        rule *r = &t->maps[m];
        if (r->in[0].star < 0) {
            if (!add_instance(t, in, root, r, 0, 0, NULL))
                return false;
            continue;
        }
        const cJSON *base = walk(root, r->in[0].segs, (size_t)r->in[0].star);
        if (!base || aioe__transform_json_type(base) != cJSON_Object)
            continue;
        enum_ctx c = { .t = t, .in = in, .root = root, .base = base, .r = r };
        enumerate(&c, base);
        if (c.oom)
            return false;
    }
    /* specialization: a later instance on the same fields with a lower
     * rank (fewer captured segments) replaces the earlier one */
    if (t->wildcards && !specialize(t))
        return false;
    for (size_t k = 0; k < t->ninst; k++) {
        instance *ins = &t->inst[k];
        const rule *r = ins->r;
        if (ins->overridden || (r->out.nseg == 0 && r->out.root == FP_PAYLOAD))
            continue;
        resolved *rs = &t->res[ins->res_off];
        bool missing = false;
        for (size_t i = 0; i < r->nin; i++)
            missing |= rs[i].ident == NULL;
        tval v;
        if (r->ex) {
            tval vars[MAX_INPUTS];
            for (size_t i = 0; i < r->nin; i++)
                if (!to_tval(&t->ar, &rs[i], &vars[i]))
                    return false;
            const char *why = NULL;
            if (!aioe__transform_expr_eval(r->ex, vars, &t->ar, &v, &why)) {
                aioe__transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS);
                aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_EXPRESSION,
                                        (size_t)(r - t->maps), 0,
                        "map[%zu]: %s; nothing written", (size_t)(r - t->maps), why);
                *incomplete = true;
                continue;
            }
        } else if (missing) {
            *incomplete = true;
            continue;
        } else if (!to_tval(&t->ar, &rs[0], &v)) {
            return false;
        }
        if (r->out.root == FP_USER_PROPERTY) {
            if (v.k == TV_MISSING) {
                if (missing)
                    *incomplete = true;
                aioe__transform_tmsg_remove_property(out, r->out.segs[0], r->out.lens[0]);
                continue;
            }
            const char *s;
            size_t len;
            if (!aioe__transform_tval_to_text(&t->ar, &v, &s, &len) ||
                aioe__transform_tmsg_add_owned_property(out, r->out.segs[0], r->out.lens[0], s,
                                                        len))
                return false;
            continue;
        }
        struct json_object *jv;
        if (!r->ex && !rs[0].meta) {
            /* copied as is */
            if (!aioe__transform_json_out(rs[0].j, &jv))
                return false;
        } else {
            if (v.k == TV_MISSING) {
                if (missing)
                    *incomplete = true;
                continue;
            }
            bool err = false;
            jv = aioe__transform_tval_to_json(&v, &err);
            if (err) {
                aioe__transform_count(t, AIOE_TRANSFORM_COUNT_EVAL_ERRORS);
                aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_EXPRESSION,
                                        (size_t)(r - t->maps), 0,
                        "map[%zu]: the result cannot be written as JSON; nothing written",
                        (size_t)(r - t->maps));
                *incomplete = true;
                continue;
            }
        }
        const seg *cap = ins->ncap ? t->caps + ins->cap_off : NULL;
        if (!write_payload(dst, &r->out, cap, ins->ncap, jv))
            return false;
    }
    return true;
}

/* ---- apply -------------------------------------------------------------- */

static int copy_metadata(aioe_transform_message *out, const aioe_transform_message *in)
{
    out->topic = in->topic;
    out->topic_len = in->topic_len;
    out->content_type = in->content_type;
    out->content_type_len = in->content_type_len;
    for (size_t i = 0; i < in->nprops; i++) {
        int rc = aioe_transform_message_add_user_property(
            out, in->props[i].name, in->props[i].name_len, in->props[i].value,
            in->props[i].value_len);
        if (rc)
            return rc;
    }
    return AIOE_OK;
}

int aioe_transform_apply(aioe_transform *t, const aioe_transform_message *in,
                         aioe_transform_message *out, aioe_transform_outcome *outcome)
{
    if (!t || !in || !out || !outcome || in == out)
        return AIOE_ERR_INVALID_ARG;
    aioe_transform_message_reset(out);
    aioe__transform_arena_reset(&t->ar);
    t->err[0] = 0;
    t->err_field = AIOE_TRANSFORM_FIELD_NONE;

    cJSON *root = NULL;
    size_t off = 0;
    bool nomem = false;
    const char *why = aioe__transform_json_read(&t->rd, (const char *)in->payload,
                                                in->payload_len, &root, &off, &nomem);
    if (nomem)
        return AIOE_ERR_NOMEM;
    if (why) {
        aioe__transform_set_err(t, AIOE_TRANSFORM_FIELD_NONE, 0, off,
                                "payload is not a JSON object (%s)", why);
        aioe__transform_count(t, AIOE_TRANSFORM_COUNT_INVALID);
        *outcome = AIOE_TRANSFORM_INVALID;
        return AIOE_OK;
    }

    if (filtered(t, in, root)) {
        cJSON_Delete(root);
        aioe__transform_count(t, AIOE_TRANSFORM_COUNT_FILTERED);
        *outcome = AIOE_TRANSFORM_FILTERED;
        return AIOE_OK;
    }
    int rc = copy_metadata(out, in);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    bool incomplete = false;
    if (t->nmaps == 0) {
        rc = aioe__transform_tmsg_set_owned_payload(out, (const char *)in->payload,
                                                    in->payload_len);
    } else {
        struct json_object *dst = json_object_new_object();
        if (!dst || !map(t, in, out, root, dst, &incomplete)) {
            rc = AIOE_ERR_NOMEM;
        } else {
            size_t n = 0;
            const char *s = json_object_to_json_string_length(
                dst, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
            rc = s ? aioe__transform_tmsg_set_owned_payload(out, s, n) : AIOE_ERR_NOMEM;
        }
        json_object_put(dst);
    }
    cJSON_Delete(root);
    if (rc)
        return rc;
    aioe__transform_count(t, AIOE_TRANSFORM_COUNT_PASSED);
    if (incomplete)
        aioe__transform_count(t, AIOE_TRANSFORM_COUNT_INCOMPLETE);
    *outcome = AIOE_TRANSFORM_PASSED;
    return AIOE_OK;
}
