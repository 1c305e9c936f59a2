/* What every stage of the parser appends to: growable vectors, a new
 * parse result, and its error list. The lowest file of spec/: the walker,
 * the resource parsers and the stream reader all call it, and it calls
 * none of them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

bool aioe_vec_reserve(void **items, size_t *cap, size_t len, size_t item_size)
{
    if (len < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / item_size)
        return false;
    void *n = realloc(*items, ncap * item_size);
    if (!n)
        return false;
    *items = n;
    *cap = ncap;
    return true;
}

aioe_parse_result *aioe_result_new(const char *file)
{
    aioe_parse_result *res = calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->file = strdup(file);
    if (!res->file) {
        free(res);
        return NULL;
    }
    return res;
}

bool aioe_result_add_error(aioe_parse_result *res, unsigned line,
                           unsigned column, const char *path,
                           const char *hint, const char *fmt, ...)
{
    aioe_parse_error *e = AIOE_VEC_PUSH_SLOT(res->errors);
    if (!e)
        return false;
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->file = res->file;
    e->line = line;
    e->column = column;
    e->path = strdup(path ? path : "");
    e->message = strdup(msg);
    e->hint = strdup(hint ? hint : "");
    if (!e->path || !e->message || !e->hint) {
        free((char *)e->path);
        free((char *)e->message);
        free((char *)e->hint);
        res->errors.len--;
        return false;
    }
    return true;
}
