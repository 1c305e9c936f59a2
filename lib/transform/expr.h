/* The expression AST shared by the parser and the evaluator (private to
 * lib/transform/). */
#ifndef AIOE_TRANSFORM_EXPR_H
#define AIOE_TRANSFORM_EXPR_H

#include "transform_internal.h"

typedef enum node_kind {
    N_LIT,   /* literal value */
    N_VAR,   /* $n (index in var) */
    N_UNARY, /* op, a */
    N_BINARY,/* op, a, b */
    N_CALL,  /* fn, args[0..nargs) */
    N_TUPLE  /* args[0..nargs); () is a tuple of none and means missing */
} node_kind;

typedef enum op {
    OP_NEG, OP_NOT,
    OP_POW, OP_MUL, OP_DIV, OP_MOD, OP_ADD, OP_SUB,
    OP_LT, OP_GT, OP_LE, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR
} op;

typedef struct func func;

/* Calls a built-in with evaluated arguments. */
typedef bool (*func_impl)(const tval *args, size_t n, arena *a, tval *out, const char **why);

struct func {
    const char *name;
    int min_args, max_args; /* max -1: any number */
    func_impl impl;         /* NULL for if(): evaluated lazily */
};

typedef struct node {
    node_kind kind;
    op op;
    size_t pos;          /* byte offset in the expression, for messages */
    size_t var;          /* N_VAR: 0-based */
    const func *fn;      /* N_CALL */
    struct node *a, *b;  /* operands */
    struct node **args;  /* N_CALL, N_TUPLE */
    size_t nargs;
    tval lit;            /* N_LIT (strings point into the expr's storage) */
} node;

struct expr {
    node *root;
    node *nodes;         /* every node, one allocation */
    size_t nnodes, cap;
    node **argv;         /* argument arrays, one allocation */
    size_t nargv, argv_cap;
    char *strings;       /* unescaped string literals */
    size_t strings_len, strings_cap;
};

/* The built-in function named @p name (length @p len), or NULL.
 * *graphs_only is set for functions only data flow graphs have. */
const func *aioe__transform_func_lookup(const char *name, size_t len, bool *graphs_only);

#endif /* AIOE_TRANSFORM_EXPR_H */
