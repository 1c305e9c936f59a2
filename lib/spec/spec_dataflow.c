/* Dataflow and DataflowProfile resources: schema, lifetime and getters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_util.h"
#include "spec_walk.h"

/* ---- Dataflow ---------------------------------------------------------- */

static const char *const dataflow_spec_keys[] = { "profileRef", "mode", "operations", NULL };
static const char *const dataflow_spec_ignored[] = { "requestDiskPersistence", NULL };
static const char *const operation_keys[] = {
    "operationType", "name", "sourceSettings", "destinationSettings",
    "builtInTransformationSettings", NULL };
static const char *const operation_types[] = {
    "Source", "Destination", "BuiltInTransformation", NULL };
static const char *const source_keys[] = {
    "endpointRef", "dataSources", "serializationFormat", NULL };
/* Accepted and without effect here: they name an asset and a schema in
 * registries this library does not read. */
static const char *const source_ignored[] = { "assetRef", "schemaRef", NULL };
/* SourceSerializationFormat (REST 2024-11-01 and 2025-10-01): Json only. */
static const char *const source_formats[] = { "Json", NULL };
static const char *const destination_keys[] = { "endpointRef", "dataDestination", NULL };
/* Added by REST 2025-10-01 (header actions); accepted, not applied. */
static const char *const destination_ignored[] = { "headers", NULL };
static const char *const modes[] = { "Enabled", "Disabled", NULL };

/* DataflowOperation.name: "maxLength": 64 (REST 2024-11-01, 2025-10-01). */
#define MAX_OPERATION_NAME 64

enum { OP_SOURCE, OP_DESTINATION, OP_TRANSFORMATION };

/* Remembers where a reference's value was written. */
static void note_pos(pctx *c, const yaml_node_t *map, const char *key, const char *parent,
                     aioe_ref_pos *pos)
{
    yaml_node_t *v = aioe__spec_field(c, map, key);
    yt_pos p = v ? aioe__yt_node_pos(v) : (yt_pos){ 0, 0 };
    pos->line = p.line;
    pos->column = p.column;
    _Static_assert(sizeof pos->path == PATH_MAX_LEN, "aioe__spec_join_path writes PATH_MAX_LEN");
    aioe__spec_join_path(pos->path, parent, key);
}

/* The AIO docs write shared subscriptions as $shared/<GROUP>/<FILTER>
 * ("Configure a data flow source"); MQTT v5 (4.8.2) spells the prefix
 * $share. Both are accepted; the MQTT spelling is kept so subscribing
 * works with any broker. Returns a malloc'd copy, NULL on OOM. */
static char *normalize_filter(const char *t, size_t len)
{
    if (len > 8 && strncmp(t, "$shared/", 8) == 0)
        return aioe_strdup_printf("$share/%.*s", (int)(len - 8), t + 8);
    return aioe_strndup(t, len);
}

static void parse_sources(pctx *c, aioe_dataflow *df, const yaml_node_t *settings,
                          const char *path)
{
    char p[PATH_MAX_LEN];
    aioe__spec_join_path(p, path, "dataSources");
    yaml_node_t *list = aioe__spec_field(c, settings, "dataSources");
    if (!list) {
        aioe__spec_err_at(c, settings, p, "add dataSources: [\"<topic filter>\", ...]",
                    "required field 'dataSources' is missing");
        return;
    }
    if (list->type != YAML_SEQUENCE_NODE) {
        aioe__spec_err_at(c, list, p, "write the topic filters as a list: [\"a/#\", \"b/+\"]",
                    "expected a list of topic filters, got %s", aioe__yt_describe(list));
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0) {
        aioe__spec_err_at(c, list, p, "add at least one MQTT topic filter", "dataSources is empty");
        return;
    }
    if (n > MAX_SCHEMA_KEYS) {
        aioe__spec_err_at(c, list, p, "subscribe with wildcards instead",
                    "%zu topic filters, more than the %d allowed", n, MAX_SCHEMA_KEYS);
        return;
    }
    df->source_topics = calloc(n, sizeof(char *));
    if (!df->source_topics) {
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = aioe__yt_node(c->doc, list->data.sequence.items.start[i]);
        char ip[PATH_MAX_LEN + 24];
        snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        if (!item || item->type != YAML_SCALAR_NODE || aioe__yt_scalar_type_of(item) != YT_STRING ||
            aioe__yt_len(item) == 0 || aioe_has_control_char(aioe__yt_text(item), aioe__yt_len(item))) {
            aioe__spec_err_at(c, item, ip, "give the topic filter as a non-empty string",
                        "expected a topic filter, got %s", item ? aioe__yt_describe(item) : "nothing");
            continue;
        }
        if (aioe_is_placeholder(aioe__yt_text(item), aioe__yt_len(item))) {
            aioe__spec_err_at(c, item, ip, "replace the <...> placeholder with a real topic filter",
                        "'%s' is a documentation placeholder", aioe__yt_text(item));
            continue;
        }
        char *filter = normalize_filter(aioe__yt_text(item), aioe__yt_len(item));
        if (!filter) {
            c->oom = true;
            return;
        }
        if (!aioe_topic_filter_is_valid(filter)) {
            bool shared = strncmp(filter, "$share/", 7) == 0;
            aioe__spec_err_at(c, item, ip,
                        shared ? "write a shared subscription as $shared/<group>/<filter>: "
                                 "a group without wildcards, then a topic filter"
                               : "'+' must be a whole level and '#' the whole last level, "
                                 "e.g. a/+/c/#",
                        "'%s' is not a valid MQTT topic filter", aioe__yt_text(item));
            free(filter);
            continue;
        }
        df->source_topics[df->source_topic_count++] = filter;
    }
}

static void parse_operation(pctx *c, aioe_dataflow *df, const yaml_node_t *op,
                            const char *path, int *seen, int *type_out)
{
    *type_out = -1;
    if (op->type != YAML_MAPPING_NODE) {
        aioe__spec_err_at(c, op, path, "each operation is a mapping with operationType and its settings",
                    "expected a mapping, got %s", aioe__yt_describe(op));
        return;
    }
    aioe__spec_check_keys(c, op, path, operation_keys, NULL);
    char *name = NULL;
    if (aioe__spec_get_string(c, op, path, "name", false, &name) &&
        strlen(name) > MAX_OPERATION_NAME) {
        char np[PATH_MAX_LEN];
        aioe__spec_join_path(np, path, "name");
        aioe__spec_err_at(c, aioe__spec_field(c, op, "name"), np, "shorten the name to 64 characters",
                    "operation name is %zu characters, more than the schema's %d",
                    strlen(name), MAX_OPERATION_NAME);
    }
    free(name);
    int type = aioe__spec_get_enum(c, op, path, "operationType", operation_types);
    if (type < 0) {
        if (!aioe__spec_field(c, op, "operationType")) {
            char p[PATH_MAX_LEN];
            aioe__spec_join_path(p, path, "operationType");
            aioe__spec_err_at(c, op, p, "add operationType: Source, BuiltInTransformation or Destination",
                        "required field 'operationType' is missing");
        }
        return;
    }
    *type_out = type;
    static const char *const settings_key[] = {
        "sourceSettings", "destinationSettings", "builtInTransformationSettings" };
    for (int i = 0; i < 3; i++) {
        yaml_node_t *k = NULL;
        if (i != type && aioe__yt_map_get_key(c->doc, op, settings_key[i], &k)) {
            char p[PATH_MAX_LEN];
            aioe__spec_join_path(p, path, settings_key[i]);
            aioe__spec_err_at(c, k, p, "remove it, or change operationType",
                        "%s does not apply to operationType %s", settings_key[i],
                        operation_types[type]);
        }
    }
    char p[PATH_MAX_LEN];
    aioe__spec_join_path(p, path, settings_key[type]);
    if (seen[type]++) {
        aioe__spec_err_at(c, op, path,
                    type == OP_TRANSFORMATION
                        ? "merge the map and filter rules into one BuiltInTransformation"
                        : "a dataflow has exactly one Source and one Destination",
                    "more than one %s operation", operation_types[type]);
        return;
    }
    map_state st;
    yaml_node_t *settings = aioe__spec_get_map(c, op, path, settings_key[type], &st);
    if (!settings) {
        if (st != MAP_WRONG)
            aioe__spec_err_at(c, op, p, type == OP_TRANSFORMATION
                                      ? "add the settings with map and/or filter"
                                      : "add the settings with endpointRef",
                        "required field '%s' is missing", settings_key[type]);
        return;
    }
    if (type == OP_TRANSFORMATION) {
        aioe__spec_parse_transformation(c, df, settings, p);
        return;
    }
    if (type == OP_SOURCE) {
        aioe__spec_check_keys(c, settings, p, source_keys, source_ignored);
        if (aioe__spec_get_k8s_name(c, settings, p, "endpointRef", true, &df->source_endpoint_ref))
            note_pos(c, settings, "endpointRef", p, &df->source_ref_pos);
        aioe__spec_get_enum(c, settings, p, "serializationFormat", source_formats);
        parse_sources(c, df, settings, p);
        return;
    }
    aioe__spec_check_keys(c, settings, p, destination_keys, destination_ignored);
    if (aioe__spec_get_k8s_name(c, settings, p, "endpointRef", true, &df->destination_endpoint_ref))
        note_pos(c, settings, "endpointRef", p, &df->destination_ref_pos);
    if (aioe__spec_get_string(c, settings, p, "dataDestination", true, &df->destination_topic) &&
        !aioe_topic_template_is_valid(df->destination_topic)) {
        char dp[PATH_MAX_LEN];
        aioe__spec_join_path(dp, p, "dataDestination");
        aioe__spec_err_at(c, aioe__spec_field(c, settings, "dataDestination"), dp,
                    "use a topic without '+' or '#'; variables are ${inputTopic} and "
                    "${inputTopic.N} (N from 1)",
                    "'%s' is not a valid destination topic", df->destination_topic);
    }
}

/* Source first, Destination last, at most one BuiltInTransformation
 * between them ("Create a data flow": source, transformation,
 * destination). Reports the first operation out of place. */
static void check_order(pctx *c, const yaml_node_t *ops, const int *types, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int t = types[i];
        const char *problem = NULL;
        if (t == OP_SOURCE && i != 0)
            problem = "the Source operation must come first";
        else if (t == OP_DESTINATION && i != n - 1)
            problem = "the Destination operation must come last";
        else if (t == OP_TRANSFORMATION && (i == 0 || i == n - 1))
            problem = "a BuiltInTransformation goes between the Source and the Destination";
        if (problem) {
            char path[PATH_MAX_LEN];
            snprintf(path, sizeof path, "spec.operations[%zu]", i);
            aioe__spec_err_at(c, aioe__yt_node(c->doc, ops->data.sequence.items.start[i]), path,
                        "order the operations Source, BuiltInTransformation (optional), "
                        "Destination", "%s", problem);
            return;
        }
    }
}

static void parse_dataflow_spec(pctx *c, aioe_dataflow *df, const yaml_node_t *root)
{
    map_state st;
    yaml_node_t *spec = aioe__spec_get_map(c, root, "", "spec", &st);
    if (!spec) {
        if (st != MAP_WRONG)
            aioe__spec_err_at(c, root, "spec", "add spec with operations", "required field 'spec' is missing");
        return;
    }
    aioe__spec_check_keys(c, spec, "spec", dataflow_spec_keys, dataflow_spec_ignored);
    if (aioe__spec_get_k8s_name(c, spec, "spec", "profileRef", false, &df->profile_ref)) {
        note_pos(c, spec, "profileRef", "spec", &df->profile_ref_pos);
    } else if (!aioe__spec_field(c, spec, "profileRef")) {
        df->profile_ref = strdup("default");
        if (!df->profile_ref)
            c->oom = true;
    }
    df->enabled = aioe__spec_get_enum(c, spec, "spec", "mode", modes) != 1;
    yaml_node_t *ops = aioe__spec_field(c, spec, "operations");
    if (!ops) {
        aioe__spec_err_at(c, spec, "spec.operations",
                    "add operations with one Source and one Destination",
                    "required field 'operations' is missing");
        return;
    }
    if (ops->type != YAML_SEQUENCE_NODE) {
        aioe__spec_err_at(c, ops, "spec.operations", "write the operations as a list",
                    "expected a list, got %s", aioe__yt_describe(ops));
        return;
    }
    size_t n = (size_t)(ops->data.sequence.items.top - ops->data.sequence.items.start);
    if (n > MAX_SCHEMA_KEYS)
        n = MAX_SCHEMA_KEYS;
    int seen[3] = { 0, 0, 0 };
    int types[MAX_SCHEMA_KEYS];
    bool all_typed = true;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "spec.operations[%zu]", i);
        yaml_node_t *op = aioe__yt_node(c->doc, ops->data.sequence.items.start[i]);
        types[i] = -1;
        if (op)
            parse_operation(c, df, op, path, seen, &types[i]);
        all_typed = all_typed && types[i] >= 0;
    }
    if (!seen[OP_SOURCE])
        aioe__spec_err_at(c, ops, "spec.operations", "add an operation with operationType: Source",
                    "no Source operation");
    if (!seen[OP_DESTINATION])
        aioe__spec_err_at(c, ops, "spec.operations",
                    "add an operation with operationType: Destination", "no Destination operation");
    if (all_typed && seen[OP_SOURCE] == 1 && seen[OP_DESTINATION] == 1 &&
        seen[OP_TRANSFORMATION] <= 1)
        check_order(c, ops, types, n);
}

void aioe_dataflow_destroy(aioe_dataflow *df)
{
    if (!df)
        return;
    for (size_t i = 0; i < df->source_topic_count; i++)
        free(df->source_topics[i]);
    free(df->source_topics);
    aioe__spec_df_rules_free(df->filters, df->filter_count);
    aioe__spec_df_rules_free(df->maps, df->map_count);
    char *strings[] = { df->file, df->api_version, df->name, df->namespace_,
                        df->profile_ref, df->source_endpoint_ref,
                        df->destination_endpoint_ref, df->destination_topic };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    free(df);
}

void aioe__spec_parse_dataflow(pctx *c, const yaml_node_t *root, yt_pos start)
{
    aioe_dataflow *df = calloc(1, sizeof *df);
    if (!df || !(df->file = strdup(c->res->file))) {
        free(df);
        c->oom = true;
        return;
    }
    atomic_init(&df->refs, 1);
    df->line = start.line;
    aioe__spec_check_keys(c, root, "", aioe__spec_top_keys, aioe__spec_top_ignored);
    aioe__spec_parse_header(c, root, "Dataflow", &df->api_version, &df->name, &df->namespace_);
    parse_dataflow_spec(c, df, root);
    aioe_dataflow **slot;
    if (c->failed || c->oom || !(slot = AIOE_VEC_PUSH_SLOT(c->res->dataflows))) {
        if (!c->failed)
            c->oom = true;
        aioe_dataflow_destroy(df);
        return;
    }
    *slot = df;
}

/* ---- DataflowProfile ---------------------------------------------------- */

static const char *const profile_spec_keys[] = { "instanceCount", NULL };
static const char *const profile_spec_ignored[] = { "diagnostics", NULL };

void aioe_profile_destroy(aioe_profile *p)
{
    if (!p)
        return;
    free(p->file);
    free(p->api_version);
    free(p->name);
    free(p->namespace_);
    free(p);
}

void aioe__spec_parse_profile(pctx *c, const yaml_node_t *root, yt_pos start)
{
    aioe_profile *p = calloc(1, sizeof *p);
    if (!p || !(p->file = strdup(c->res->file))) {
        free(p);
        c->oom = true;
        return;
    }
    atomic_init(&p->refs, 1);
    p->line = start.line;
    p->instance_count = 1;
    aioe__spec_check_keys(c, root, "", aioe__spec_top_keys, aioe__spec_top_ignored);
    aioe__spec_parse_header(c, root, "DataflowProfile", &p->api_version, &p->name, &p->namespace_);
    map_state st;
    yaml_node_t *spec = aioe__spec_get_map(c, root, "", "spec", &st);
    if (spec) {
        aioe__spec_check_keys(c, spec, "spec", profile_spec_keys, profile_spec_ignored);
        int64_t v;
        if (aioe__spec_get_int(c, spec, "spec", "instanceCount", 1, 20,
                         "use 1..20 instances (default 1)", &v))
            p->instance_count = (unsigned)v;
    }
    aioe_profile **slot;
    if (c->failed || c->oom || !(slot = AIOE_VEC_PUSH_SLOT(c->res->profiles))) {
        if (!c->failed)
            c->oom = true;
        aioe_profile_destroy(p);
        return;
    }
    *slot = p;
}

aioe_dataflow *aioe_dataflow_ref(const aioe_dataflow *df)
{
    aioe_dataflow *mut = (aioe_dataflow *)df;
    if (mut)
        aioe_refcount_inc(&mut->refs);
    return mut;
}

void aioe_dataflow_unref(const aioe_dataflow *df)
{
    aioe_dataflow *mut = (aioe_dataflow *)df;
    if (mut && aioe_refcount_dec(&mut->refs))
        aioe_dataflow_destroy(mut);
}

aioe_profile *aioe_profile_ref(const aioe_profile *p)
{
    aioe_profile *mut = (aioe_profile *)p;
    if (mut)
        aioe_refcount_inc(&mut->refs);
    return mut;
}

void aioe_profile_unref(const aioe_profile *p)
{
    aioe_profile *mut = (aioe_profile *)p;
    if (mut && aioe_refcount_dec(&mut->refs))
        aioe_profile_destroy(mut);
}

#define DF_GETTER(type, name, expr, fallback) \
    type aioe_dataflow_##name(const aioe_dataflow *df) { return df ? (expr) : (fallback); }

DF_GETTER(const char *, name, df->name, NULL)
DF_GETTER(const char *, namespace, df->namespace_, NULL)
DF_GETTER(const char *, source_file, df->file, NULL)
DF_GETTER(unsigned, source_line, df->line, 0)
DF_GETTER(const char *, profile_ref, df->profile_ref, NULL)
DF_GETTER(bool, enabled, df->enabled, false)
DF_GETTER(const char *, source_endpoint_ref, df->source_endpoint_ref, NULL)
DF_GETTER(size_t, source_topic_count, df->source_topic_count, 0)
DF_GETTER(const char *, destination_endpoint_ref, df->destination_endpoint_ref, NULL)
DF_GETTER(const char *, destination_topic, df->destination_topic, NULL)

const char *aioe_dataflow_source_topic(const aioe_dataflow *df, size_t i)
{
    return df && i < df->source_topic_count ? df->source_topics[i] : NULL;
}

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool rules_same(const struct aioe_df_rule *a, size_t na, const struct aioe_df_rule *b,
                       size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (a[i].input_count != b[i].input_count || !str_same(a[i].output, b[i].output) ||
            !str_same(a[i].expression, b[i].expression))
            return false;
        for (size_t k = 0; k < a[i].input_count; k++)
            if (!str_same(a[i].inputs[k], b[i].inputs[k]))
                return false;
    }
    return true;
}

/* Every field that decides what runs; not where the document was written
 * (file, line, reference positions), so a moved document is equal. */
bool aioe_dataflow_equal(const aioe_dataflow *a, const aioe_dataflow *b)
{
    if (!a || !b)
        return a == b;
    if (!str_same(a->name, b->name) || !str_same(a->namespace_, b->namespace_) ||
        !str_same(a->api_version, b->api_version) || !str_same(a->profile_ref, b->profile_ref) ||
        a->enabled != b->enabled || !str_same(a->source_endpoint_ref, b->source_endpoint_ref) ||
        a->source_topic_count != b->source_topic_count ||
        !str_same(a->destination_endpoint_ref, b->destination_endpoint_ref) ||
        !str_same(a->destination_topic, b->destination_topic) ||
        a->has_transformation != b->has_transformation)
        return false;
    for (size_t i = 0; i < a->source_topic_count; i++)
        if (!str_same(a->source_topics[i], b->source_topics[i]))
            return false;
    return rules_same(a->filters, a->filter_count, b->filters, b->filter_count) &&
           rules_same(a->maps, a->map_count, b->maps, b->map_count);
}

const char *aioe_profile_name(const aioe_profile *p)
{
    return p ? p->name : NULL;
}

const char *aioe_profile_namespace(const aioe_profile *p)
{
    return p ? p->namespace_ : NULL;
}

unsigned aioe_profile_instance_count(const aioe_profile *p)
{
    return p ? p->instance_count : 0;
}
