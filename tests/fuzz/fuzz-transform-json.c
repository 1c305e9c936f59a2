/* libFuzzer target: the transformation stage's payload reader
 * (lib/transform/json_read.c) against json-c alone. The input is a
 * payload. Invariants: when the reader accepts it, json-c accepts it too
 * (cJSON accepts nothing json-c refuses), and both give the same tree:
 * same types, keys in the same order, same strings, numbers of the same
 * value (a whole number is an integer on the cJSON side, docs/transform.md);
 * when the reader refuses it, the reason is json-c's. Either tree written
 * back with json-c reads again as an object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double number(const cJSON *n)
{
    if (aioe__transform_json_type(n) == cJSON_Raw && n->valueint == AIOE_RAW_INT64)
        return (double)strtoll(n->valuestring, NULL, 10);
    if (aioe__transform_json_type(n) == cJSON_Raw && n->valueint == AIOE_RAW_UINT64)
        return (double)strtoull(n->valuestring, NULL, 10);
    return n->valuedouble;
}

static bool is_number(const cJSON *n)
{
    int t = aioe__transform_json_type(n);
    return t == cJSON_Number || t == cJSON_Raw;
}

static bool same(const cJSON *a, const cJSON *b)
{
    if (is_number(a) && is_number(b)) {
        double x = number(a), y = number(b);
        return x == y || (x != x && y != y);
    }
    if (aioe__transform_json_type(a) != aioe__transform_json_type(b))
        return false;
    switch (aioe__transform_json_type(a)) {
    case cJSON_String:
        return strcmp(a->valuestring, b->valuestring) == 0;
    case cJSON_Array:
    case cJSON_Object: {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((aioe__transform_json_type(a) == cJSON_Object && strcmp(x->string, y->string)) ||
                !same(x, y))
                return false;
        return !x && !y;
    }
    default:
        return true;
    }
}

static void written_back_reads(const cJSON *root)
{
    struct json_object *j = NULL;
    if (!aioe__transform_json_out(root, &j))
        return; /* out of memory */
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    struct json_object *again = s ? json_tokener_parse(s) : NULL;
    if (s && (!again || !json_object_is_type(again, json_type_object)))
        abort();
    json_object_put(again);
    json_object_put(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_reader fast, slow;
    cJSON *a = NULL, *b = NULL;
    size_t off_a = 0, off_b = 0;
    bool nomem_a = false, nomem_b = false;
    const char *p = (const char *)data;
    const char *why_a = aioe__transform_json_read(&fast, p, size, &a, &off_a, &nomem_a);
    const char *why_b = aioe__transform_json_read_json_c(&slow, p, size, &b, &off_b, &nomem_b);
    if (!nomem_a && !nomem_b) {
        if (!why_a != !why_b)
            abort(); /* the readers disagree on accepting it */
        if (why_a && (strcmp(why_a, why_b) != 0 || off_a != off_b))
            abort(); /* a refusal is json-c's */
        if (a && b && !same(a, b))
            abort();
        if (a)
            written_back_reads(a);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return 0;
}
