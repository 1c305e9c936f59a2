/* Walking resource documents against a schema: typed field access that
 * records every problem with its position, field path and a fix hint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_fields.h"
#include "spec_util.h"
#include "spec_walk.h"

/* ---- error reporting ------------------------------------------------ */

__attribute__((format(printf, 5, 0)))
static void spec_verr(pctx *c, yt_pos pos, const char *path, const char *hint,
                 const char *fmt, va_list ap)
{
    char msg[512];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n >= (int)sizeof msg) {
        /* Messages quote user values; cut long ones on a UTF-8 character
         * boundary and say so. */
        size_t end = sizeof msg - 4;
        while (end > 0 && ((unsigned char)msg[end] & 0xC0) == 0x80)
            end--;
        memcpy(msg + end, "...", 4);
    }
    c->failed = true;
    if (!aioe_result_add_error(c->res, pos.line, pos.column, path, hint, "%s", msg))
        c->oom = true;
}

void aioe__spec_err_at(pctx *c, const yaml_node_t *node, const char *path,
                   const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    yt_pos pos = node ? aioe__yt_node_pos(node) : (yt_pos){ 0, 0 };
    spec_verr(c, pos, path, hint, fmt, ap);
    va_end(ap);
}

void aioe__spec_err_pos(pctx *c, yt_pos pos, const char *path, const char *hint, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    spec_verr(c, pos, path, hint, fmt, ap);
    va_end(ap);
}

/* parent + "." + key into a PATH_MAX_LEN buffer; over-long paths (only
 * possible with unknown user keys) are cut, never overflowed. */
void aioe__spec_join_path(char *out, const char *parent, const char *key)
{
    size_t used = 0;
    const char *parts[3] = { parent, parent[0] ? "." : "", key };
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && used < PATH_MAX_LEN - 1; p++)
            out[used++] = *p;
    out[used] = '\0';
}

/* ---- generic checks ------------------------------------------------- */

/* Reports non-string keys, duplicate keys and keys outside `known`
 * (unless listed in `ignored`), with a suggestion for likely typos.
 * `extra_hint` adds context to unknown-key errors (may be NULL). */
void aioe__spec_check_keys(pctx *c, const yaml_node_t *map, const char *path,
                       const char *const *known, const char *const *ignored)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n > MAX_SCHEMA_KEYS) {
        aioe__spec_err_at(c, map, path, "remove the unknown fields",
               "mapping has %zu keys, more than the %d this resource can hold",
               n, MAX_SCHEMA_KEYS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = aioe__yt_node(c->doc, map->data.mapping.pairs.start[i].key);
        if (!k)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            aioe__spec_err_at(c, k, path, "use plain field names as keys",
                   "a key is %s, expected a field name", aioe__yt_describe(k));
            continue;
        }
        const char *key = aioe__yt_text(k);
        size_t klen = aioe__yt_len(k);
        char kpath[PATH_MAX_LEN];
        aioe__spec_join_path(kpath, path, key);
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *prev = aioe__yt_node(c->doc, map->data.mapping.pairs.start[j].key);
            if (prev && prev->type == YAML_SCALAR_NODE && aioe__yt_len(prev) == klen &&
                memcmp(aioe__yt_text(prev), key, klen) == 0) {
                yt_pos pp = aioe__yt_node_pos(prev);
                char hint[96];
                snprintf(hint, sizeof hint, "keep one of the two; the first is at line %u",
                         pp.line);
                aioe__spec_err_at(c, k, kpath, hint, "duplicate key '%s'", key);
                break;
            }
        }
        bool found = false;
        for (const char *const *w = known; *w && !found; w++)
            found = strlen(*w) == klen && memcmp(*w, key, klen) == 0;
        for (const char *const *w = ignored; w && *w && !found; w++)
            found = strlen(*w) == klen && memcmp(*w, key, klen) == 0;
        if (found)
            continue;
        const char *sugg = aioe_did_you_mean(key, klen, known);
        char hint[512];
        if (sugg) {
            snprintf(hint, sizeof hint, "did you mean '%s'?", sugg);
        } else {
            size_t used = (size_t)snprintf(hint, sizeof hint, "known fields here:");
            for (const char *const *w = known; *w && used < sizeof hint; w++)
                used += (size_t)snprintf(hint + used, sizeof hint - used, "%s %s",
                                         w == known ? "" : ",", *w);
        }
        aioe__spec_err_at(c, k, kpath, hint, "unknown field '%s'", key);
    }
}

/* Returns the value of `key` when present and not null; else NULL.
 * `*key_out` (may be NULL) gets the key node. */
yaml_node_t *aioe__spec_field(pctx *c, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = aioe__yt_map_get(c->doc, map, key);
    return v && !aioe__yt_is_null(v) ? v : NULL;
}

/* A string field. Returns true and a malloc'd copy in *out when present;
 * false when absent or wrong (wrong values are reported). */
bool aioe__spec_get_string(pctx *c, const yaml_node_t *map, const char *parent,
                       const char *key, bool required, char **out)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, key);
    *out = NULL;
    yaml_node_t *v = aioe__spec_field(c, map, key);
    if (!v) {
        if (required) {
            char hint[160];
            snprintf(hint, sizeof hint, "add '%s: <value>' under %s", key,
                     parent[0] ? parent : "the document");
            aioe__spec_err_at(c, map, path, hint, "required field '%s' is missing", key);
        }
        return false;
    }
    if (v->type != YAML_SCALAR_NODE || aioe__yt_scalar_type_of(v) != YT_STRING) {
        const char *hint = v->type == YAML_SCALAR_NODE
                               ? "put the value in quotes to make it a string"
                               : "give a single string value";
        aioe__spec_err_at(c, v, path, hint, "expected a string, got %s", aioe__yt_describe(v));
        return false;
    }
    const char *t = aioe__yt_text(v);
    size_t len = aioe__yt_len(v);
    aioe__field_problem pb;
    if (!aioe__spec_check_text(t, len, &pb)) {
        aioe__spec_err_at(c, v, path, pb.hint, "%s", pb.message);
        return false;
    }
    *out = aioe_strndup(t, len);
    if (!*out) {
        c->oom = true;
        return false;
    }
    return true;
}

/* An integer field in [min, max]; returns true when present and valid. */
bool aioe__spec_get_int(pctx *c, const yaml_node_t *map, const char *parent,
                    const char *key, int64_t min, int64_t max,
                    const char *range_hint, int64_t *out)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, key);
    yaml_node_t *v = aioe__spec_field(c, map, key);
    if (!v)
        return false;
    if (v->type != YAML_SCALAR_NODE) {
        aioe__spec_err_at(c, v, path, range_hint, "expected an integer, got %s", aioe__yt_describe(v));
        return false;
    }
    yt_scalar_type t = aioe__yt_scalar_type_of(v);
    int64_t value = 0;
    bool overflow = false;
    if (t != YT_INT || !aioe__yt_parse_int(aioe__yt_text(v), aioe__yt_len(v), &value, &overflow)) {
        if (t == YT_INT || overflow) {
            aioe__spec_err_at(c, v, path, range_hint, "integer %s does not fit; allowed %lld..%lld",
                   aioe__yt_text(v), (long long)min, (long long)max);
        } else if (t == YT_STRING && v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
            aioe__spec_err_at(c, v, path, "remove the quotes around the number",
                   "expected an integer, got a quoted string");
        } else {
            aioe__spec_err_at(c, v, path, range_hint, "expected an integer, got %s", aioe__yt_describe(v));
        }
        return false;
    }
    aioe__field_problem pb;
    if (!aioe__spec_check_range(value, min, max, range_hint, &pb)) {
        aioe__spec_err_at(c, v, path, pb.hint, "%s", pb.message);
        return false;
    }
    *out = value;
    return true;
}

/* An enum field: one of names[] (case-sensitive, as the schema is).
 * Returns the index, or -1 when absent or invalid. */
int aioe__spec_get_enum(pctx *c, const yaml_node_t *map, const char *parent,
                    const char *key, const char *const *names)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, key);
    yaml_node_t *v = aioe__spec_field(c, map, key);
    if (!v)
        return -1;
    if (v->type == YAML_SCALAR_NODE) {
        for (int i = 0; names[i]; i++)
            if (strlen(names[i]) == aioe__yt_len(v) && memcmp(names[i], aioe__yt_text(v), aioe__yt_len(v)) == 0)
                return i;
    }
    /* Only wrong values pay for building the message. */
    char expected[160];
    size_t used = 0;
    for (const char *const *w = names; *w && used < sizeof expected; w++)
        used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s",
                                 w == names ? "" : w[1] ? ", " : " or ", *w);
    if (v->type != YAML_SCALAR_NODE) {
        char hint[200];
        snprintf(hint, sizeof hint, "use one of %s", expected);
        aioe__spec_err_at(c, v, path, hint, "expected one of %s, got %s", expected, aioe__yt_describe(v));
        return -1;
    }
    const char *t = aioe__yt_text(v);
    size_t len = aioe__yt_len(v);
    const char *sugg = aioe_did_you_mean(t, len, names);
    char hint[200];
    if (sugg)
        snprintf(hint, sizeof hint, "did you mean '%s'? (values are case-sensitive)", sugg);
    else
        snprintf(hint, sizeof hint, "use one of %s", expected);
    aioe__spec_err_at(c, v, path, hint, "'%.*s' is not a valid value; expected %s",
           len > 64 ? 64 : (int)len, t, expected);
    return -1;
}

yaml_node_t *aioe__spec_get_map(pctx *c, const yaml_node_t *map, const char *parent,
                            const char *key, map_state *state)
{
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, key);
    yaml_node_t *v = aioe__yt_map_get(c->doc, map, key);
    if (!v) {
        *state = MAP_ABSENT;
        return NULL;
    }
    if (aioe__yt_is_null(v)) {
        *state = MAP_NULL;
        return NULL;
    }
    if (v->type != YAML_MAPPING_NODE) {
        aioe__spec_err_at(c, v, path, "write the settings as indented 'field: value' lines, or {} for none",
               "expected a mapping, got %s", aioe__yt_describe(v));
        *state = MAP_WRONG;
        return NULL;
    }
    *state = MAP_OK;
    return v;
}

/* A Kubernetes object reference (secret or config map name). */
bool aioe__spec_get_k8s_name(pctx *c, const yaml_node_t *map, const char *parent,
                         const char *key, bool required, char **out)
{
    if (!aioe__spec_get_string(c, map, parent, key, required, out))
        return false;
    aioe__field_problem pb;
    if (aioe__spec_check_k8s_name(*out, strlen(*out), &pb))
        return true;
    char path[PATH_MAX_LEN];
    aioe__spec_join_path(path, parent, key);
    aioe__spec_err_at(c, aioe__spec_field(c, map, key), path, pb.hint, "%s", pb.message);
    free(*out);
    *out = NULL;
    return false;
}


/* ---- resource header ----------------------------------------------- */

const char *const aioe__spec_top_keys[] = { "apiVersion", "kind", "metadata", "spec", NULL };
const char *const aioe__spec_top_ignored[] = { "status", NULL };
static const char *const metadata_keys[] = { "name", "namespace", NULL };
/* Kubernetes bookkeeping: accepted and not walked. */
static const char *const metadata_ignored[] = {
    "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "finalizers", "ownerReferences", "managedFields", "generateName",
    "selfLink", NULL };

void aioe__spec_parse_header(pctx *c, const yaml_node_t *root, const char *kind,
                       char **api_version, char **name, char **namespace_)
{
    c->ver = aioe__api_version_newest();
    if (aioe__spec_get_string(c, root, "", "apiVersion", true, api_version)) {
        const aioe_api_version *v = aioe__api_version_find(*api_version);
        if (v) {
            c->ver = v;
        } else {
            /* A REST API version (2024-11-01) or another group's version
             * is the usual mistake; say what Kubernetes documents use. */
            bool rest = (*api_version)[0] >= '0' && (*api_version)[0] <= '9';
            aioe__spec_err_at(c, aioe__spec_field(c, root, "apiVersion"), "apiVersion",
                        rest ? "REST API versions such as 2025-10-01 are for Azure Resource "
                               "Manager requests; Kubernetes resources use "
                               AIOE_API_GROUP "/v1 (or /v1beta1)"
                             : "use " AIOE_API_GROUP "/v1 (or /v1beta1 for preview "
                               "documents)",
                        "unsupported apiVersion '%s' for kind %s; supported: "
                        AIOE_API_GROUP "/v1, " AIOE_API_GROUP "/v1beta1",
                        *api_version, kind);
        }
    }

    map_state st;
    yaml_node_t *md = aioe__spec_get_map(c, root, "", "metadata", &st);
    if (!md) {
        if (st != MAP_WRONG)
            aioe__spec_err_at(c, root, "metadata", "add metadata with name: <resource name>",
                        "required field 'metadata' is missing");
        return;
    }
    aioe__spec_check_keys(c, md, "metadata", metadata_keys, metadata_ignored);
    aioe__field_problem pb;
    if (aioe__spec_get_string(c, md, "metadata", "name", true, name) &&
        !aioe__spec_check_metadata_name(*name, strlen(*name), &pb))
        aioe__spec_err_at(c, aioe__spec_field(c, md, "name"), "metadata.name", pb.hint, "%s",
                    pb.message);
    if (aioe__spec_get_string(c, md, "metadata", "namespace", false, namespace_) &&
        !aioe__spec_check_metadata_namespace(*namespace_, strlen(*namespace_), &pb))
        aioe__spec_err_at(c, aioe__spec_field(c, md, "namespace"), "metadata.namespace", pb.hint,
                    "%s", pb.message);
}
