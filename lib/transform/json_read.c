/* Reading a message's payload into a cJSON tree (docs/transform.md,
 * "Reading the payload").
 *
 * cJSON parses a typical record in less than half the time json-c takes
 * (no locale switch per call, no hash table per object), so it reads the
 * payload. json-c read payloads before it, and it still decides every
 * case where the two libraries would not agree, so that what the stage
 * accepts and what it reads stay json-c's:
 *
 *  - a payload cJSON refuses, or that is not one object with nothing but
 *    JSON whitespace after it: json-c reads it (it accepts more: comments,
 *    single quotes, NaN, trailing commas) or says why not;
 *  - control bytes other than tab, newline and return anywhere, or a UTF-8
 *    byte order mark at the start: cJSON skips them as whitespace, json-c
 *    refuses them outside strings;
 *  - a \u escape without four hex digits: cJSON reads \u0000, json-c
 *    refuses it;
 *  - a tree deeper than json-c's limit (31 nested objects or arrays);
 *  - a duplicate key in an object: json-c keeps the last value, cJSON both;
 *  - a number from 2^53 up (or not finite): a double cannot hold every
 *    integer there, and json-c keeps 64-bit integers exactly.
 *
 * A tree read by json-c is converted to cJSON; its numbers become
 * cJSON_Raw nodes holding the text json-c writes (the exact digits of an
 * integer; a double as written, kept for NaN and infinities), valuedouble
 * the value and valueint which kind json-c read (value.c reads them). */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform_internal.h"

/* json-c's default tokener depth (JSON_TOKENER_DEFAULT_DEPTH, 32) refuses
 * the 32nd nested object or array. */
enum { JSON_C_MAX_NESTING = 31, PAIRWISE_KEYS = 16 };

void aioe__transform_json_reader_free(json_reader *r)
{
    if (r->tok) /* json-c 0.16 does not take NULL */
        json_tokener_free(r->tok);
    free(r->keys);
    r->tok = NULL;
    r->keys = NULL;
    r->keys_cap = 0;
}

/* ---- the fast path: cJSON ------------------------------------------------ */

/* False for bytes cJSON would read and json-c refuses: control bytes cJSON
 * takes as whitespace (eight bytes at a time: a word with no byte below
 * 0x20, the usual case, is passed over), a byte order mark, a bad \u
 * escape. A backslash that is itself escaped may be taken for the start of
 * an escape here: json-c then reads the payload, which costs time only. */
static bool plain_bytes(const unsigned char *p, size_t len)
{
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        return false;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        /* non-zero when some byte is below 0x20 ("hasless", Bit Twiddling Hacks) */
        if (((w - ones * 0x20) & ~w & highs) == 0)
            continue;
        for (size_t k = i; k < i + 8; k++)
            if (p[k] < 0x20 && p[k] != '\t' && p[k] != '\n' && p[k] != '\r')
                return false;
    }
    for (; i < len; i++)
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    /* cJSON reads a \u not followed by four hex digits as \u0000 */
    for (const unsigned char *b = memchr(p, '\\', len); b;
         b = memchr(b + 1, '\\', len - (size_t)(b + 1 - p))) {
        size_t left = len - (size_t)(b - p);
        if (left > 1 && b[1] == 'u' &&
            (left < 6 || !isxdigit(b[2]) || !isxdigit(b[3]) || !isxdigit(b[4]) || !isxdigit(b[5])))
            return false;
    }
    return true;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when no two members of @p o have the same key. Small objects are
 * compared pairwise on their first two bytes first, large ones sorted (a
 * wide record must stay O(n log n)). */
static bool unique_keys(json_reader *r, const cJSON *o, size_t n)
{
    if (n <= PAIRWISE_KEYS) {
        const cJSON *m[PAIRWISE_KEYS];
        unsigned sig[PAIRWISE_KEYS];
        size_t i = 0;
        for (const cJSON *c = o->child; c; c = c->next, i++) {
            const unsigned char *k = (const unsigned char *)c->string;
            m[i] = c;
            sig[i] = k[0] ? (unsigned)k[0] << 8 | k[1] : 0;
        }
        for (i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (sig[i] == sig[j] && strcmp(m[i]->string, m[j]->string) == 0)
                    return false;
        return true;
    }
    if (n > r->keys_cap) {
        const char **k = realloc(r->keys, n * sizeof *k);
        if (!k)
            return false; /* json-c decides, with its own memory */
        r->keys = k;
        r->keys_cap = n;
    }
    size_t i = 0;
    for (const cJSON *c = o->child; c; c = c->next)
        r->keys[i++] = c->string;
    qsort(r->keys, n, sizeof *r->keys, by_key);
    for (i = 1; i < n; i++)
        if (strcmp(r->keys[i - 1], r->keys[i]) == 0)
            return false;
    return true;
}

/* True when json-c would have read the tree below @p n (at nesting
 * @p depth, the root object being 1) the same way. */
static bool as_json_c_reads(json_reader *r, const cJSON *n, int depth)
{
    int type = aioe__transform_json_type(n);
    if (type == cJSON_Number) /* every double from 2^53 up is a whole number */
        return fabs(n->valuedouble) < 9007199254740992.0; /* false for NaN too */
    if (type != cJSON_Object && type != cJSON_Array)
        return true;
    if (depth > JSON_C_MAX_NESTING)
        return false;
    size_t count = 0;
    for (const cJSON *c = n->child; c; c = c->next, count++)
        if (!as_json_c_reads(r, c, depth + 1))
            return false;
    return type != cJSON_Object || count < 2 || unique_keys(r, n, count);
}

/* ---- the fallback: json-c -------------------------------------------------- */

static cJSON *from_json_c(struct json_object *j)
{
    cJSON *n = NULL;
    switch (json_object_get_type(j)) {
    case json_type_null:
        return cJSON_CreateNull();
    case json_type_boolean:
        return cJSON_CreateBool(json_object_get_boolean(j));
    case json_type_int:
    case json_type_double: {
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        n = text ? cJSON_CreateRaw(text) : NULL;
        if (n) {
            n->valuedouble = json_object_get_double(j);
            n->valueint = !json_object_is_type(j, json_type_int) ? AIOE_RAW_DOUBLE
                          : json_object_get_int64(j) == INT64_MAX &&
                                  json_object_get_uint64(j) > INT64_MAX
                              ? AIOE_RAW_UINT64
                              : AIOE_RAW_INT64;
        }
        return n;
    }
    case json_type_string:
        /* a string is cut at a "\u0000" in it, as cJSON reads it */
        return cJSON_CreateString(json_object_get_string(j));
    case json_type_array: {
        n = cJSON_CreateArray();
        size_t len = json_object_array_length(j);
        for (size_t i = 0; n && i < len; i++) {
            cJSON *e = from_json_c(json_object_array_get_idx(j, i));
            if (!e || !cJSON_AddItemToArray(n, e)) {
                cJSON_Delete(e);
                cJSON_Delete(n);
                n = NULL;
            }
        }
        return n;
    }
    case json_type_object:
        n = cJSON_CreateObject();
        if (!n)
            return NULL;
        json_object_object_foreach(j, key, val)
        {
            cJSON *e = from_json_c(val);
            if (!e || !cJSON_AddItemToObject(n, key, e)) {
                cJSON_Delete(e);
                cJSON_Delete(n);
                return NULL;
            }
        }
        return n;
    }
    return NULL;
}

const char *aioe__transform_json_read_json_c(json_reader *r, const char *p, size_t len,
                                             cJSON **root, size_t *err_off, bool *nomem)
{
    if (!r->tok && !(r->tok = json_tokener_new())) {
        *nomem = true;
        return "out of memory";
    }
    json_tokener_reset(r->tok);
    struct json_object *j = NULL;
    if (len > 0 && len <= INT32_MAX)
        j = json_tokener_parse_ex(r->tok, p, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(r->tok);
    size_t end = j ? json_tokener_get_parse_end(r->tok) : 0;
    while (j && end < len && p[end] && strchr(" \t\r\n", p[end]))
        end++;
    if (!j || jerr != json_tokener_success || end != len ||
        !json_object_is_type(j, json_type_object)) {
        bool read = j != NULL;
        if (!read && jerr == json_tokener_success)
            jerr = json_tokener_continue;
        json_object_put(j);
        *err_off = read ? end : 0;
        return len == 0                                 ? "empty payload"
               : !read && jerr == json_tokener_continue ? "incomplete JSON"
               : !read                                  ? json_tokener_error_desc(jerr)
               : end != len                             ? "bytes after the JSON value"
                                                        : "a JSON value that is not an object";
    }
    *root = from_json_c(j);
    json_object_put(j);
    if (!*root) {
        *nomem = true;
        return "out of memory";
    }
    return NULL;
}

const char *aioe__transform_json_read(json_reader *r, const char *p, size_t len, cJSON **root,
                                      size_t *err_off, bool *nomem)
{
    *root = NULL;
    *err_off = 0;
    *nomem = false;
    if (len > 0 && len <= INT32_MAX && plain_bytes((const unsigned char *)p, len)) {
        const char *end = NULL;
        cJSON *c = cJSON_ParseWithLengthOpts(p, len, &end, false);
        if (c && end) {
            size_t at = (size_t)(end - p);
            while (at < len && p[at] && strchr(" \t\r\n", p[at]))
                at++;
            if (at == len && aioe__transform_json_type(c) == cJSON_Object &&
                as_json_c_reads(r, c, 1)) {
                *root = c;
                return NULL;
            }
        }
        cJSON_Delete(c);
    }
    return aioe__transform_json_read_json_c(r, p, len, root, err_off, nomem);
}
