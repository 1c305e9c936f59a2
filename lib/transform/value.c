/* Expression values: the arena they live in, and conversions from the
 * payload's cJSON nodes and to json-c objects (the output record) and text. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform_internal.h"

/* ---- arena ----------------------------------------------------------- */

struct arena_chunk {
    arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

enum { ARENA_CHUNK = 4096 };

void *aioe__transform_arena_alloc(arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        a->head = c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* Keeps the newest chunk for the next message, frees the others. */
void aioe__transform_arena_reset(arena *a)
{
    arena_chunk *c = a->head;
    if (!c)
        return;
    arena_chunk *rest = c->next;
    c->next = NULL;
    c->used = 0;
    while (rest) {
        arena_chunk *n = rest->next;
        free(rest);
        rest = n;
    }
}

void aioe__transform_arena_free(arena *a)
{
    aioe__transform_arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* ---- JSON -> value --------------------------------------------------- */

/* A number read by cJSON is its double: a whole number below 2^53 is an
 * integer (the text "21.0" cannot be told from "21"), anything else a
 * float. json_read.c lets json-c read the numbers a double cannot hold
 * exactly (integers beyond 2^53, non-finite values); they come as
 * cJSON_Raw nodes with json-c's kind. */
static void number_tval(const cJSON *j, tval *out)
{
    double d = j->valuedouble;
    if (aioe__transform_json_type(j) == cJSON_Raw) {
        if (j->valueint == AIOE_RAW_INT64) {
            out->k = TV_INT;
            out->u.i = strtoll(j->valuestring, NULL, 10);
            return;
        }
        /* integers above INT64_MAX are floats (json-c keeps them as uint64) */
        out->k = TV_FLOAT;
        out->u.f = j->valueint == AIOE_RAW_UINT64 ? (double)strtoull(j->valuestring, NULL, 10)
                                                  : d;
        return;
    }
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        out->k = TV_INT;
        out->u.i = (int64_t)d;
        return;
    }
    out->k = TV_FLOAT;
    out->u.f = d;
}

bool aioe__transform_tval_from_json(arena *a, const cJSON *j, tval *out)
{
    switch (aioe__transform_json_type(j)) {
    case cJSON_NULL:
        out->k = TV_MISSING;
        return true;
    case cJSON_False:
    case cJSON_True:
        out->k = TV_BOOL;
        out->u.b = aioe__transform_json_type(j) == cJSON_True;
        return true;
    case cJSON_Number:
    case cJSON_Raw:
        number_tval(j, out);
        return true;
    case cJSON_String:
        out->k = TV_STRING;
        out->u.s.p = j->valuestring;
        out->u.s.len = strlen(j->valuestring);
        return true;
    case cJSON_Array: {
        size_t n = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        tval *items = n ? aioe__transform_arena_alloc(a, n * sizeof *items) : NULL;
        if (n && !items)
            return false;
        size_t i = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            if (!aioe__transform_tval_from_json(a, c, &items[i++]))
                return false;
        out->k = TV_TUPLE;
        out->u.t.items = items;
        out->u.t.n = n;
        return true;
    }
    case cJSON_Object:
    default:
        out->k = TV_JSON;
        out->u.j = j;
        return true;
    }
}

/* ---- value -> JSON --------------------------------------------------- */

/* Fast path: d == m / 10^k for an integer |m| < 2^53 and a small k. The
 * division of two exact doubles is correctly rounded, like strtod() of
 * the decimal text m·10^-k, so that text reads back as exactly d; the
 * smallest such k gives the shortest plain text. */
static bool format_short_decimal(double d, char *buf, size_t len)
{
    static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
    if (!(d > -1e15 && d < 1e15) || len < 32)
        return false;
    for (int k = 0; k < 10; k++) {
        double m = round(d * pow10[k]);
        if (fabs(m) >= 9007199254740992.0)
            return false;
        if (m / pow10[k] != d)
            continue;
        long long n = (long long)m;
        unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (nd <= k)
            digits[nd++] = '0'; /* at least one digit before the point */
        size_t o = 0;
        if (n < 0 || (n == 0 && signbit(d)))
            buf[o++] = '-';
        for (int i = nd - 1; i >= 0; i--) {
            buf[o++] = digits[i];
            if (i == k && k > 0)
                buf[o++] = '.';
        }
        if (k == 0) {
            buf[o++] = '.';
            buf[o++] = '0';
        }
        buf[o] = 0;
        return true;
    }
    return false;
}

void aioe__transform_format_double(double d, char *buf, size_t len)
{
    if (format_short_decimal(d, buf, len))
        return;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* keep it a JSON number that reads back as a float */
    if (!strpbrk(buf, ".eEn") && strlen(buf) + 2 < len)
        strcat(buf, ".0");
}

static struct json_object *new_double(double d)
{
    char buf[40];
    aioe__transform_format_double(d, buf, sizeof buf);
    return json_object_new_double_s(d, buf);
}

bool aioe__transform_json_out(const cJSON *n, struct json_object **out)
{
    struct json_object *j = NULL;
    *out = NULL;
    switch (aioe__transform_json_type(n)) {
    case cJSON_NULL:
        return true;
    case cJSON_False:
    case cJSON_True:
        j = json_object_new_boolean(aioe__transform_json_type(n) == cJSON_True);
        break;
    case cJSON_Raw:
        /* a number read by json-c: integers exactly; a double in its
         * shortest form like one read by cJSON, unless it is not finite
         * (json-c's text, as it was in the payload) */
        if (n->valueint == AIOE_RAW_INT64)
            j = json_object_new_int64(strtoll(n->valuestring, NULL, 10));
        else if (n->valueint == AIOE_RAW_UINT64)
            j = json_object_new_uint64(strtoull(n->valuestring, NULL, 10));
        else if (isfinite(n->valuedouble))
            j = new_double(n->valuedouble); /* as a double read by cJSON */
        else
            j = json_object_new_double_s(n->valuedouble, n->valuestring); /* NaN, 1e999 */
        break;
    case cJSON_Number: {
        tval v;
        number_tval(n, &v);
        j = v.k == TV_INT ? json_object_new_int64(v.u.i) : new_double(v.u.f);
        break;
    }
    case cJSON_String:
        j = json_object_new_string(n->valuestring);
        break;
    case cJSON_Array:
        j = json_object_new_array();
        for (const cJSON *c = n->child; j && c; c = c->next) {
            struct json_object *e;
            if (!aioe__transform_json_out(c, &e) || json_object_array_add(j, e) != 0) {
                json_object_put(e);
                json_object_put(j);
                return false;
            }
        }
        break;
    case cJSON_Object:
        j = json_object_new_object();
        for (const cJSON *c = n->child; j && c; c = c->next) {
            struct json_object *e;
            if (!aioe__transform_json_out(c, &e) ||
                json_object_object_add_ex(j, c->string, e, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
                json_object_put(e);
                json_object_put(j);
                return false;
            }
        }
        break;
    default:
        return false;
    }
    *out = j;
    return j != NULL;
}

struct json_object *aioe__transform_tval_to_json(const tval *v, bool *err)
{
    struct json_object *j = NULL;
    switch (v->k) {
    case TV_MISSING:
        return NULL;
    case TV_BOOL:
        j = json_object_new_boolean(v->u.b);
        break;
    case TV_INT:
        j = json_object_new_int64(v->u.i);
        break;
    case TV_FLOAT:
        if (!isfinite(v->u.f)) {
            *err = true; /* JSON has no NaN or infinity */
            return NULL;
        }
        j = new_double(v->u.f);
        break;
    case TV_STRING:
        j = json_object_new_string_len(v->u.s.p, (int)v->u.s.len);
        break;
    case TV_TUPLE:
        j = json_object_new_array_ext((int)v->u.t.n);
        for (size_t i = 0; j && i < v->u.t.n; i++) {
            struct json_object *e = aioe__transform_tval_to_json(&v->u.t.items[i], err);
            if (*err || json_object_array_add(j, e) != 0) {
                json_object_put(e);
                json_object_put(j);
                *err = true;
                return NULL;
            }
        }
        break;
    case TV_JSON:
        if (!aioe__transform_json_out(v->u.j, &j))
            j = NULL;
        break;
    }
    if (!j)
        *err = true;
    return j;
}

/* ---- text ------------------------------------------------------------ */

bool aioe__transform_tval_to_text(arena *a, const tval *v, const char **p, size_t *len)
{
    char buf[40];
    switch (v->k) {
    case TV_STRING:
        *p = v->u.s.p;
        *len = v->u.s.len;
        return true;
    case TV_MISSING:
        *p = "";
        *len = 0;
        return true;
    case TV_BOOL:
        *p = v->u.b ? "true" : "false";
        *len = strlen(*p);
        return true;
    case TV_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
        break;
    case TV_FLOAT:
        aioe__transform_format_double(v->u.f, buf, sizeof buf);
        break;
    case TV_TUPLE:
    case TV_JSON: {
        bool err = false;
        struct json_object *j = aioe__transform_tval_to_json(v, &err);
        if (err)
            return false;
        size_t n = 0;
        const char *s = json_object_to_json_string_length(
            j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        char *copy = s ? aioe__transform_arena_alloc(a, n + 1) : NULL;
        if (copy)
            memcpy(copy, s, n + 1);
        json_object_put(j);
        *p = copy;
        *len = n;
        return copy != NULL;
    }
    }
    size_t n = strlen(buf);
    char *copy = aioe__transform_arena_alloc(a, n + 1);
    if (!copy)
        return false;
    memcpy(copy, buf, n + 1);
    *p = copy;
    *len = n;
    return true;
}

bool aioe__transform_tval_equal(const tval *a, const tval *b)
{
    if ((a->k == TV_INT || a->k == TV_FLOAT) && (b->k == TV_INT || b->k == TV_FLOAT)) {
        if (a->k == TV_INT && b->k == TV_INT)
            return a->u.i == b->u.i;
        double x = a->k == TV_INT ? (double)a->u.i : a->u.f;
        double y = b->k == TV_INT ? (double)b->u.i : b->u.f;
        return x == y;
    }
    if (a->k != b->k)
        return false;
    switch (a->k) {
    case TV_MISSING:
        return true;
    case TV_BOOL:
        return a->u.b == b->u.b;
    case TV_STRING:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
    case TV_TUPLE:
        if (a->u.t.n != b->u.t.n)
            return false;
        for (size_t i = 0; i < a->u.t.n; i++)
            if (!aioe__transform_tval_equal(&a->u.t.items[i], &b->u.t.items[i]))
                return false;
        return true;
    case TV_JSON:
        return cJSON_Compare(a->u.j, b->u.j, true);
    default:
        return false;
    }
}

const char *aioe__transform_tval_kind_name(tv_kind k)
{
    static const char *const names[] = { "empty", "boolean", "int",  "float",
                                         "string", "tuple", "object" };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
