/* Expressions: lexer and recursive-descent parser to an AST, run once when
 * a rule is added, so that a bad expression is refused with its position
 * at load time. Grammar and precedence: docs/transform.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

enum { MAX_DEPTH = 64, MAX_EXPR_LEN = 65536 };

typedef enum tok_kind {
    T_END, T_INT, T_FLOAT, T_STRING, T_VAR, T_IDENT, T_TRUE, T_FALSE,
    T_LPAREN, T_RPAREN, T_COMMA, T_OP
} tok_kind;

typedef struct tok {
    tok_kind kind;
    size_t pos, len;
    op op;
    bool unary_capable; /* '-' can be negation */
} tok;

typedef struct parser {
    const char *s;
    size_t len, i;
    tok t;             /* current token */
    size_t n_vars;
    int depth;
    expr *e;
    char *err;
    size_t errlen;
    size_t err_off;
    bool failed, unsupported;
} parser;

static void perr(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err_off = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void next(parser *p)
{
    const char *s = p->s;
    while (p->i < p->len && (s[p->i] == ' ' || s[p->i] == '\t' || s[p->i] == '\n' ||
                             s[p->i] == '\r'))
        p->i++;
    tok t = { .pos = p->i };
    if (p->i >= p->len) {
        t.kind = T_END;
        p->t = t;
        return;
    }
    char c = s[p->i];
    size_t st = p->i;
    if (is_digit(c) || (c == '.' && p->i + 1 < p->len && is_digit(s[p->i + 1]))) {
        bool fl = false;
        while (p->i < p->len && is_digit(s[p->i]))
            p->i++;
        if (p->i < p->len && s[p->i] == '.') {
            fl = true;
            p->i++;
            while (p->i < p->len && is_digit(s[p->i]))
                p->i++;
        }
        if (p->i < p->len && (s[p->i] == 'e' || s[p->i] == 'E')) {
            size_t j = p->i + 1;
            if (j < p->len && (s[j] == '+' || s[j] == '-'))
                j++;
            if (j < p->len && is_digit(s[j])) {
                fl = true;
                p->i = j;
                while (p->i < p->len && is_digit(s[p->i]))
                    p->i++;
            }
        }
        if (p->i < p->len && (is_ident_start(s[p->i]) || s[p->i] == '.')) {
            perr(p, p->i, "unexpected '%c' after a number", s[p->i]);
            t.kind = T_END;
            p->t = t;
            return;
        }
        t.kind = fl ? T_FLOAT : T_INT;
    } else if (c == '"' || c == '\'') {
        p->i++;
        while (p->i < p->len && s[p->i] != c) {
            if (s[p->i] == '\\')
                p->i++;
            p->i++;
        }
        if (p->i >= p->len) {
            perr(p, st, "string not closed: add %c", c);
            t.kind = T_END;
            p->t = t;
            return;
        }
        p->i++;
        t.kind = T_STRING;
    } else if (c == '$') {
        p->i++;
        while (p->i < p->len && is_digit(s[p->i]))
            p->i++;
        if (p->i == st + 1) {
            if (p->len - st >= 9 && strncmp(s + st, "$metadata", 9) == 0)
                perr(p, st, "$metadata goes in the inputs, not in the expression: add it "
                     "as an input and use its $N");
            else
                perr(p, st, "expected $1, $2, ... after '$'");
            t.kind = T_END;
            p->t = t;
            return;
        }
        t.kind = T_VAR;
    } else if (is_ident_start(c)) {
        for (;;) {
            while (p->i < p->len && (is_ident_start(s[p->i]) || is_digit(s[p->i])))
                p->i++;
            if (p->i + 2 < p->len && s[p->i] == ':' && s[p->i + 1] == ':' &&
                is_ident_start(s[p->i + 2])) {
                p->i += 2;
                continue;
            }
            break;
        }
        t.kind = T_IDENT;
        if (p->i - st == 4 && memcmp(s + st, "true", 4) == 0)
            t.kind = T_TRUE;
        else if (p->i - st == 5 && memcmp(s + st, "false", 5) == 0)
            t.kind = T_FALSE;
    } else {
        static const struct {
            const char *text;
            op op;
        } ops[] = {
            { "&&", OP_AND }, { "||", OP_OR }, { "==", OP_EQ }, { "!=", OP_NE },
            { "<=", OP_LE },  { ">=", OP_GE }, { "<", OP_LT },  { ">", OP_GT },
            { "+", OP_ADD },  { "-", OP_SUB }, { "*", OP_MUL }, { "/", OP_DIV },
            { "%", OP_MOD },  { "^", OP_POW }, { "!", OP_NOT },
        };
        if (c == '(' || c == ')' || c == ',') {
            p->i++;
            t.kind = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
        } else {
            t.kind = T_END;
            for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
                size_t n = strlen(ops[k].text);
                if (p->len - p->i >= n && memcmp(s + p->i, ops[k].text, n) == 0) {
                    p->i += n;
                    t.kind = T_OP;
                    t.op = ops[k].op;
                    break;
                }
            }
            if (t.kind == T_END) {
                if (c == '=')
                    perr(p, st, "'=' is not an operator: compare with '=='");
                else if (c == '&' || c == '|')
                    perr(p, st, "'%c' is not an operator: use '&&' or '||'", c);
                else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                    perr(p, st, "unexpected byte 0x%02x", (unsigned char)c);
                else
                    perr(p, st, "unexpected '%c'", c);
                p->t = t;
                return;
            }
        }
    }
    t.len = p->i - st;
    p->t = t;
}

static node *new_node(parser *p, node_kind k, size_t pos)
{
    expr *e = p->e;
    if (e->nnodes >= e->cap) {
        perr(p, pos, "expression too complex");
        return NULL;
    }
    node *n = &e->nodes[e->nnodes++];
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->pos = pos;
    return n;
}

static node *parse_expr(parser *p);
static node *parse_unary(parser *p);

/* Copies a string literal without its quotes, undoing \\ \" \' \n \t. */
static node *string_literal(parser *p)
{
    expr *e = p->e;
    const char *s = p->s + p->t.pos + 1;
    size_t n = p->t.len - 2;
    char *out = e->strings + e->strings_len;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char d = s[++i];
            c = d == 'n' ? '\n' : d == 't' ? '\t' : d == 'r' ? '\r' : d;
            if (d != 'n' && d != 't' && d != 'r' && d != '\\' && d != '"' && d != '\'') {
                perr(p, p->t.pos + 1 + i - 1, "unknown escape '\\%c'", d);
                return NULL;
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    e->strings_len += o + 1;
    node *nd = new_node(p, N_LIT, p->t.pos);
    if (!nd)
        return NULL;
    nd->lit.k = TV_STRING;
    nd->lit.u.s.p = out;
    nd->lit.u.s.len = o;
    return nd;
}

static node **take_args(parser *p, node **tmp, size_t n)
{
    expr *e = p->e;
    if (e->nargv + n > e->argv_cap)
        return NULL;
    node **a = &e->argv[e->nargv];
    memcpy(a, tmp, n * sizeof *tmp);
    e->nargv += n;
    return a;
}

/* '(' already consumed: a list of expressions up to ')'. */
static bool parse_list(parser *p, node ***args, size_t *nargs, size_t open_pos)
{
    node *tmp[64];
    size_t n = 0;
    if (p->t.kind == T_RPAREN) {
        next(p);
        *args = NULL;
        *nargs = 0;
        return true;
    }
    for (;;) {
        if (n == sizeof tmp / sizeof tmp[0]) {
            perr(p, p->t.pos, "more than 64 values in one list");
            return false;
        }
        node *x = parse_expr(p);
        if (!x)
            return false;
        tmp[n++] = x;
        if (p->t.kind == T_COMMA) {
            next(p);
            continue;
        }
        if (p->t.kind == T_RPAREN) {
            next(p);
            break;
        }
        if (p->t.kind == T_END && !p->failed)
            perr(p, open_pos, "'(' is not closed: add ')'");
        else
            perr(p, p->t.pos, "expected ',' or ')'");
        return false;
    }
    *args = take_args(p, tmp, n);
    *nargs = n;
    if (!*args) {
        perr(p, open_pos, "expression too complex");
        return false;
    }
    return true;
}

static node *parse_primary(parser *p)
{
    tok t = p->t;
    const char *s = p->s + t.pos;
    node *n = NULL;
    switch (t.kind) {
    case T_INT: {
        char buf[32];
        if (t.len >= sizeof buf) {
            perr(p, t.pos, "integer literal out of range");
            return NULL;
        }
        memcpy(buf, s, t.len);
        buf[t.len] = 0;
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) {
            perr(p, t.pos, "integer literal out of range");
            return NULL;
        }
        if (!(n = new_node(p, N_LIT, t.pos)))
            return NULL;
        n->lit.k = TV_INT;
        n->lit.u.i = v;
        next(p);
        return n;
    }
    case T_FLOAT: {
        char buf[64];
        if (t.len >= sizeof buf) {
            perr(p, t.pos, "number literal too long");
            return NULL;
        }
        memcpy(buf, s, t.len);
        buf[t.len] = 0;
        if (!(n = new_node(p, N_LIT, t.pos)))
            return NULL;
        n->lit.k = TV_FLOAT;
        n->lit.u.f = strtod(buf, NULL);
        next(p);
        return n;
    }
    case T_STRING:
        n = string_literal(p);
        if (n)
            next(p);
        return n;
    case T_TRUE:
    case T_FALSE:
        if (!(n = new_node(p, N_LIT, t.pos)))
            return NULL;
        n->lit.k = TV_BOOL;
        n->lit.u.b = t.kind == T_TRUE;
        next(p);
        return n;
    case T_VAR: {
        size_t v = 0;
        for (size_t i = 1; i < t.len; i++) {
            v = v * 10 + (size_t)(s[i] - '0');
            if (v > 1000000)
                break;
        }
        if (v == 0 || v > p->n_vars) {
            if (p->n_vars == 0)
                perr(p, t.pos, "%.*s: this rule has no inputs", (int)t.len, s);
            else
                perr(p, t.pos, "%.*s: there %s only %zu input%s ($1..$%zu)", (int)t.len, s,
                     p->n_vars == 1 ? "is" : "are", p->n_vars, p->n_vars == 1 ? "" : "s",
                     p->n_vars);
            return NULL;
        }
        if (!(n = new_node(p, N_VAR, t.pos)))
            return NULL;
        n->var = v - 1;
        next(p);
        return n;
    }
    case T_IDENT: {
        bool graphs_only = false;
        const func *f = aioe__transform_func_lookup(s, t.len, &graphs_only);
        next(p);
        if (p->t.kind != T_LPAREN) {
            if (!p->failed)
                perr(p, t.pos, "'%.*s' is not a value: use $1..$n for inputs, quote "
                     "strings, or call a function with '('", (int)t.len, s);
            return NULL;
        }
        if (!f) {
            if (graphs_only) {
                p->unsupported = true;
                perr(p, t.pos, "%.*s() is available in data flow graphs only, not in a "
                     "Dataflow's BuiltInTransformation", (int)t.len, s);
            } else {
                perr(p, t.pos, "unknown function '%.*s'", (int)t.len, s);
            }
            return NULL;
        }
        size_t open = p->t.pos;
        next(p);
        if (!(n = new_node(p, N_CALL, t.pos)))
            return NULL;
        n->fn = f;
        if (!parse_list(p, &n->args, &n->nargs, open))
            return NULL;
        if ((int)n->nargs < f->min_args || (f->max_args >= 0 && (int)n->nargs > f->max_args)) {
            if (f->min_args == f->max_args)
                perr(p, t.pos, "%s() takes %d argument%s, got %zu", f->name, f->min_args,
                     f->min_args == 1 ? "" : "s", n->nargs);
            else
                perr(p, t.pos, "%s() takes at least %d argument%s, got %zu", f->name,
                     f->min_args, f->min_args == 1 ? "" : "s", n->nargs);
            return NULL;
        }
        return n;
    }
    case T_LPAREN: {
        size_t open = t.pos;
        next(p);
        node **args;
        size_t nargs;
        if (!parse_list(p, &args, &nargs, open))
            return NULL;
        if (nargs == 1)
            return args[0]; /* parentheses */
        if (!(n = new_node(p, N_TUPLE, open)))
            return NULL;
        n->args = args;
        n->nargs = nargs;
        return n;
    }
    case T_END:
        if (!p->failed)
            perr(p, t.pos, t.pos == 0 ? "empty expression" : "expression ends too early");
        return NULL;
    default:
        perr(p, t.pos, "unexpected '%.*s'", (int)t.len, s);
        return NULL;
    }
}

/* pow := primary ( '^' unary )?  -- right-associative; binds tighter than
 * negation on its left: -2^2 is -(2^2). */
static node *parse_pow(parser *p)
{
    node *l = parse_primary(p);
    if (!l || p->t.kind != T_OP || p->t.op != OP_POW)
        return l;
    size_t pos = p->t.pos;
    next(p);
    node *r = parse_unary(p);
    if (!r)
        return NULL;
    node *n = new_node(p, N_BINARY, pos);
    if (!n)
        return NULL;
    n->op = OP_POW;
    n->a = l;
    n->b = r;
    return n;
}

static node *parse_unary(parser *p)
{
    if (p->t.kind == T_OP && (p->t.op == OP_SUB || p->t.op == OP_NOT)) {
        if (++p->depth > MAX_DEPTH) {
            perr(p, p->t.pos, "expression nested too deeply");
            return NULL;
        }
        size_t pos = p->t.pos;
        op o = p->t.op == OP_SUB ? OP_NEG : OP_NOT;
        next(p);
        node *a = parse_unary(p);
        p->depth--;
        if (!a)
            return NULL;
        node *n = new_node(p, N_UNARY, pos);
        if (!n)
            return NULL;
        n->op = o;
        n->a = a;
        return n;
    }
    return parse_pow(p);
}

/* Binary levels from tightest to loosest. */
static const op levels[][4] = {
    { OP_MUL, OP_DIV, OP_MOD, OP_MUL },
    { OP_ADD, OP_SUB, OP_ADD, OP_ADD },
    { OP_LT, OP_GT, OP_LE, OP_GE },
    { OP_EQ, OP_NE, OP_EQ, OP_EQ },
    { OP_AND, OP_AND, OP_AND, OP_AND },
    { OP_OR, OP_OR, OP_OR, OP_OR },
};

static bool at_level(const parser *p, int lvl)
{
    if (p->t.kind != T_OP)
        return false;
    for (int k = 0; k < 4; k++)
        if (levels[lvl][k] == p->t.op)
            return true;
    return false;
}

static node *parse_level(parser *p, int lvl)
{
    node *l = lvl == 0 ? parse_unary(p) : parse_level(p, lvl - 1);
    while (l && at_level(p, lvl)) {
        size_t pos = p->t.pos;
        op o = p->t.op;
        next(p);
        node *r = lvl == 0 ? parse_unary(p) : parse_level(p, lvl - 1);
        if (!r)
            return NULL;
        node *n = new_node(p, N_BINARY, pos);
        if (!n)
            return NULL;
        n->op = o;
        n->a = l;
        n->b = r;
        l = n;
    }
    return l;
}

static node *parse_expr(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        perr(p, p->t.pos, "expression nested too deeply");
        return NULL;
    }
    node *n = parse_level(p, 5);
    p->depth--;
    return n;
}

void aioe__transform_expr_free(expr *e)
{
    if (!e)
        return;
    free(e->nodes);
    free(e->argv);
    free(e->strings);
    free(e);
}

expr *aioe__transform_expr_parse(const char *text, size_t n_vars, char *err, size_t errlen,
                       size_t *err_offset, bool *unsupported)
{
    *unsupported = false;
    *err_offset = 0;
    size_t len = strlen(text);
    if (len > MAX_EXPR_LEN) {
        snprintf(err, errlen, "expression longer than %d bytes", MAX_EXPR_LEN);
        return NULL;
    }
    expr *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    /* every token makes at most one node and one argument slot */
    e->cap = e->argv_cap = len + 2;
    e->strings_cap = len + 2;
    e->nodes = malloc(e->cap * sizeof *e->nodes);
    e->argv = malloc(e->argv_cap * sizeof *e->argv);
    e->strings = malloc(e->strings_cap);
    if (!e->nodes || !e->argv || !e->strings) {
        aioe__transform_expr_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    parser p = { .s = text, .len = len, .n_vars = n_vars, .e = e, .err = err, .errlen = errlen };
    next(&p);
    node *root = p.failed ? NULL : parse_expr(&p);
    if (root && !p.failed && p.t.kind != T_END) {
        if (p.t.kind == T_RPAREN)
            perr(&p, p.t.pos, "')' without a matching '('");
        else
            perr(&p, p.t.pos, "expected an operator here, found '%.*s'", (int)p.t.len,
                 text + p.t.pos);
    }
    if (!root || p.failed) {
        if (!p.failed)
            perr(&p, p.t.pos, "invalid expression");
        *err_offset = p.err_off;
        *unsupported = p.unsupported;
        aioe__transform_expr_free(e);
        return NULL;
    }
    e->root = root;
    return e;
}
