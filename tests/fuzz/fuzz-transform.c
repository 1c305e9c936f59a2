/* libFuzzer target: the transformation stage's expression parser, field
 * path parser and evaluator. The input is split at NULs into an
 * expression, two input paths, an output path and a JSON payload; the
 * expression is added both as a map rule and as a filter rule (errors are
 * fine), then the stage runs on the payload twice (`? $last` state).
 * Invariants: rules that are refused leave an error message; apply never
 * fails on a valid stage except for memory; the output of a passed
 * message is a JSON object when there are map rules. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <aioendpoint/aioendpoint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next_part(const char **p, const char *end)
{
    const char *s = *p;
    if (s >= end)
        return "";
    *p = s + strlen(s) + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *p = copy, *end = copy + size;
    const char *expression = next_part(&p, end);
    const char *in[2];
    in[0] = next_part(&p, end);
    in[1] = next_part(&p, end);
    const char *output = next_part(&p, end);
    const char *payload = p < end ? p : "";
    size_t plen = p < end ? (size_t)(end - p) : 0;

    aioe_transform *t = NULL;
    if (aioe_transform_new(&t) != AIOE_OK) {
        free(copy);
        return 0;
    }
    bool maps = false;
    int rc = aioe_transform_add_map(t, in, 2, output, expression);
    if (rc == AIOE_OK)
        maps = true;
    else if (rc != AIOE_ERR_NOMEM && !aioe_transform_last_error(t, NULL, NULL, NULL)[0])
        abort();
    rc = aioe_transform_add_map(t, in, 1, output, NULL);
    maps |= rc == AIOE_OK;
    rc = aioe_transform_add_filter(t, in, 2, expression);
    if (rc != AIOE_OK && rc != AIOE_ERR_NOMEM &&
        !aioe_transform_last_error(t, NULL, NULL, NULL)[0])
        abort();

    aioe_transform_message *msg = NULL, *out = NULL;
    if (aioe_transform_message_new(&msg) == AIOE_OK &&
        aioe_transform_message_new(&out) == AIOE_OK) {
        aioe_transform_message_set_payload(msg, payload, plen);
        aioe_transform_message_set_topic(msg, "a/b", 3);
        aioe_transform_message_add_user_property(msg, "k", 1, "v", 1);
        for (int round = 0; round < 2; round++) {
            aioe_transform_outcome oc;
            rc = aioe_transform_apply(t, msg, out, &oc);
            if (rc != AIOE_OK && rc != AIOE_ERR_NOMEM)
                abort();
            if (rc == AIOE_OK && oc == AIOE_TRANSFORM_PASSED && maps) {
                size_t n = 0;
                const char *o = aioe_transform_message_payload(out, &n);
                struct json_object *j = json_tokener_parse(o);
                if (!j || !json_object_is_type(j, json_type_object))
                    abort();
                json_object_put(j);
            }
        }
    }
    aioe_transform_message_free(msg);
    aioe_transform_message_free(out);
    aioe_transform_free(t);
    free(copy);
    return 0;
}
