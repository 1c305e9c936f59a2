/* Expressions: the evaluator (operators and their types). Built-in
 * functions are in functions.c. Semantics: docs/transform.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

static bool is_num(const tval *v)
{
    return v->k == TV_INT || v->k == TV_FLOAT;
}

static double as_f(const tval *v)
{
    return v->k == TV_INT ? (double)v->u.i : v->u.f;
}

static void set_f(tval *out, double d)
{
    out->k = TV_FLOAT;
    out->u.f = d;
}

static void set_i(tval *out, int64_t i)
{
    out->k = TV_INT;
    out->u.i = i;
}

static void set_b(tval *out, bool b)
{
    out->k = TV_BOOL;
    out->u.b = b;
}

/* Integer power by squaring; false on overflow. */
static bool ipow(int64_t b, int64_t e, int64_t *out)
{
    int64_t r = 1;
    while (e > 0) {
        if ((e & 1) && __builtin_mul_overflow(r, b, &r))
            return false;
        e >>= 1;
        if (e && __builtin_mul_overflow(b, b, &b))
            return false;
    }
    *out = r;
    return true;
}

static bool concat(arena *a, const tval *x, const tval *y, tval *out, const char **why)
{
    const char *p1, *p2;
    size_t l1, l2;
    if (x->k == TV_MISSING || y->k == TV_MISSING) {
        *why = "'+' with an empty value";
        return false;
    }
    if (!aioe__transform_tval_to_text(a, x, &p1, &l1) ||
        !aioe__transform_tval_to_text(a, y, &p2, &l2)) {
        *why = "out of memory";
        return false;
    }
    char *s = aioe__transform_arena_alloc(a, l1 + l2 + 1);
    if (!s) {
        *why = "out of memory";
        return false;
    }
    memcpy(s, p1, l1);
    memcpy(s + l1, p2, l2);
    s[l1 + l2] = 0;
    out->k = TV_STRING;
    out->u.s.p = s;
    out->u.s.len = l1 + l2;
    return true;
}

static bool arith(op o, const tval *x, const tval *y, tval *out, const char **why)
{
    if (!is_num(x) || !is_num(y)) {
        *why = x->k == TV_MISSING || y->k == TV_MISSING
                   ? "arithmetic on an empty value (missing input?)"
                   : "arithmetic needs numbers";
        return false;
    }
    if (x->k == TV_INT && y->k == TV_INT) {
        int64_t a = x->u.i, b = y->u.i, r;
        switch (o) {
        case OP_ADD:
            if (!__builtin_add_overflow(a, b, &r))
                return set_i(out, r), true;
            break;
        case OP_SUB:
            if (!__builtin_sub_overflow(a, b, &r))
                return set_i(out, r), true;
            break;
        case OP_MUL:
            if (!__builtin_mul_overflow(a, b, &r))
                return set_i(out, r), true;
            break;
        case OP_DIV:
        case OP_MOD:
            if (b == 0) {
                *why = "division by zero";
                return false;
            }
            if (a == INT64_MIN && b == -1)
                break;
            return set_i(out, o == OP_DIV ? a / b : a % b), true;
        case OP_POW:
            if (b >= 0 && ipow(a, b, &r))
                return set_i(out, r), true;
            break;
        default:
            break;
        }
        /* out of the integer range: go on in floating point */
    }
    double a = as_f(x), b = as_f(y), r = 0;
    switch (o) {
    case OP_ADD: r = a + b; break;
    case OP_SUB: r = a - b; break;
    case OP_MUL: r = a * b; break;
    case OP_DIV:
        if (b == 0) {
            *why = "division by zero";
            return false;
        }
        r = a / b;
        break;
    case OP_MOD:
        if (b == 0) {
            *why = "division by zero";
            return false;
        }
        r = fmod(a, b);
        break;
    case OP_POW: r = pow(a, b); break;
    default: break;
    }
    if (!isfinite(r)) {
        *why = "result is not a finite number";
        return false;
    }
    set_f(out, r);
    return true;
}

static bool compare(op o, const tval *x, const tval *y, tval *out, const char **why)
{
    if (o == OP_EQ || o == OP_NE) {
        bool eq = aioe__transform_tval_equal(x, y);
        set_b(out, o == OP_EQ ? eq : !eq);
        return true;
    }
    int c;
    if (is_num(x) && is_num(y)) {
        if (x->k == TV_INT && y->k == TV_INT) {
            c = (x->u.i > y->u.i) - (x->u.i < y->u.i);
        } else {
            double a = as_f(x), b = as_f(y);
            if (isnan(a) || isnan(b)) {
                set_b(out, false);
                return true;
            }
            c = (a > b) - (a < b);
        }
    } else if (x->k == TV_STRING && y->k == TV_STRING) {
        size_t n = x->u.s.len < y->u.s.len ? x->u.s.len : y->u.s.len;
        c = memcmp(x->u.s.p, y->u.s.p, n);
        if (c == 0)
            c = (x->u.s.len > y->u.s.len) - (x->u.s.len < y->u.s.len);
    } else if (x->k == TV_BOOL && y->k == TV_BOOL) {
        c = (int)x->u.b - (int)y->u.b;
    } else {
        *why = x->k == TV_MISSING || y->k == TV_MISSING
                   ? "comparison with an empty value (missing input?)"
                   : "comparison of values of different types";
        return false;
    }
    bool r = o == OP_LT ? c < 0 : o == OP_GT ? c > 0 : o == OP_LE ? c <= 0 : c >= 0;
    set_b(out, r);
    return true;
}

static bool eval(const node *n, const tval *vars, arena *a, tval *out, const char **why);

static bool eval_bool(const node *n, const tval *vars, arena *a, bool *b, const char **why)
{
    tval v;
    if (!eval(n, vars, a, &v, why))
        return false;
    if (v.k != TV_BOOL) {
        *why = v.k == TV_MISSING ? "a condition is empty (missing input?)"
                                 : "a condition is not a boolean";
        return false;
    }
    *b = v.u.b;
    return true;
}

static bool eval(const node *n, const tval *vars, arena *a, tval *out, const char **why)
{
    switch (n->kind) {
    case N_LIT:
        *out = n->lit;
        return true;
    case N_VAR:
        *out = vars[n->var];
        return true;
    case N_UNARY: {
        tval v;
        if (n->op == OP_NOT) {
            bool b;
            if (!eval_bool(n->a, vars, a, &b, why))
                return false;
            set_b(out, !b);
            return true;
        }
        if (!eval(n->a, vars, a, &v, why))
            return false;
        if (v.k == TV_INT && v.u.i != INT64_MIN) {
            set_i(out, -v.u.i);
            return true;
        }
        if (!is_num(&v)) {
            *why = v.k == TV_MISSING ? "negation of an empty value (missing input?)"
                                     : "negation needs a number";
            return false;
        }
        set_f(out, -as_f(&v));
        return true;
    }
    case N_BINARY: {
        if (n->op == OP_AND || n->op == OP_OR) {
            bool l, r;
            if (!eval_bool(n->a, vars, a, &l, why))
                return false;
            if (n->op == OP_AND ? !l : l) {
                set_b(out, l);
                return true;
            }
            if (!eval_bool(n->b, vars, a, &r, why))
                return false;
            set_b(out, r);
            return true;
        }
        tval x, y;
        if (!eval(n->a, vars, a, &x, why) || !eval(n->b, vars, a, &y, why))
            return false;
        switch (n->op) {
        case OP_ADD:
            if (x.k == TV_STRING || y.k == TV_STRING)
                return concat(a, &x, &y, out, why);
            return arith(n->op, &x, &y, out, why);
        case OP_SUB:
        case OP_MUL:
        case OP_DIV:
        case OP_MOD:
        case OP_POW:
            return arith(n->op, &x, &y, out, why);
        default:
            return compare(n->op, &x, &y, out, why);
        }
    }
    case N_TUPLE: {
        if (n->nargs == 0) {
            out->k = TV_MISSING;
            return true;
        }
        tval *items = aioe__transform_arena_alloc(a, n->nargs * sizeof *items);
        if (!items) {
            *why = "out of memory";
            return false;
        }
        for (size_t i = 0; i < n->nargs; i++)
            if (!eval(n->args[i], vars, a, &items[i], why))
                return false;
        out->k = TV_TUPLE;
        out->u.t.items = items;
        out->u.t.n = n->nargs;
        return true;
    }
    case N_CALL: {
        if (!n->fn->impl) { /* if(condition, then, else): only one branch runs */
            bool c;
            if (!eval_bool(n->args[0], vars, a, &c, why))
                return false;
            return eval(n->args[c ? 1 : 2], vars, a, out, why);
        }
        tval stack[8];
        tval *args = n->nargs <= 8 ? stack
                                   : aioe__transform_arena_alloc(a, n->nargs * sizeof *args);
        if (!args) {
            *why = "out of memory";
            return false;
        }
        for (size_t i = 0; i < n->nargs; i++)
            if (!eval(n->args[i], vars, a, &args[i], why))
                return false;
        return n->fn->impl(args, n->nargs, a, out, why);
    }
    }
    *why = "internal error";
    return false;
}

bool aioe__transform_expr_eval(const expr *e, const tval *vars, arena *a, tval *out,
                               const char **why)
{
    *why = NULL;
    return eval(e->root, vars, a, out, why);
}
