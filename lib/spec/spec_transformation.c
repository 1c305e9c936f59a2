/* A Dataflow's BuiltInTransformation settings: map, filter and
 * serializationFormat, checked by compiling every rule so that a bad path
 * or expression is reported at parse time with file:line:col and field
 * path. The stage itself is lib/transform/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_util.h"
#include "spec_walk.h"
#include "transform/transform.h"

static const char *const settings_keys[] = { "map", "filter", "serializationFormat",
                                             "datasets", "schemaRef", NULL };
static const char *const map_keys[] = { "inputs", "output", "expression", "description", NULL };
static const char *const filter_keys[] = { "inputs", "expression", "description", NULL };

void aioe__spec_df_rules_free(struct aioe_df_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < rules[i].input_count; k++)
            free(rules[i].inputs[k]);
        free(rules[i].inputs);
        free(rules[i].output);
        free(rules[i].expression);
    }
    free(rules);
}

/* Where byte @p off of a scalar's text is in the file (exact for
 * single-line plain and quoted scalars without escapes). */
static yt_pos pos_in_scalar(const yaml_node_t *node, size_t off)
{
    yt_pos p = aioe__yt_node_pos(node);
    const char *t = aioe__yt_text(node);
    size_t len = aioe__yt_len(node);
    if (off > len || memchr(t, '\n', off))
        return p;
    if (node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
        node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        p.column += 1;
    else if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
             node->data.scalar.style != YAML_ANY_SCALAR_STYLE)
        return p;
    p.column += (unsigned)off;
    return p;
}

static char *scalar_copy(pctx *c, const yaml_node_t *n)
{
    char *s = aioe_strndup(aioe__yt_text(n), aioe__yt_len(n));
    if (!s)
        c->oom = true;
    return s;
}

/* One rule: its strings into @p out, then compiled into @p t. */
static void parse_rule(pctx *c, aioe_transform *t, bool filter, const yaml_node_t *item,
                       const char *path, struct aioe_df_rule *out)
{
    if (item->type != YAML_MAPPING_NODE) {
        aioe__spec_err_at(c, item, path, filter ? "write the rule as {inputs: [...], expression: ...}"
                                          : "write the rule as {inputs: [...], output: ...}",
                    "expected a mapping, got %s", aioe__yt_describe(item));
        return;
    }
    aioe__spec_check_keys(c, item, path, filter ? filter_keys : map_keys, NULL);
    char p[PATH_MAX_LEN];
    aioe__spec_join_path(p, path, "inputs");
    yaml_node_t *list = aioe__spec_field(c, item, "inputs");
    if (!list) {
        aioe__spec_err_at(c, item, p, "add inputs: [<field path>, ...]",
                    "required field 'inputs' is missing");
        return;
    }
    if (list->type != YAML_SEQUENCE_NODE) {
        aioe__spec_err_at(c, list, p, "write the inputs as a list of field paths",
                    "expected a list, got %s", aioe__yt_describe(list));
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0 || n > 64) {
        aioe__spec_err_at(c, list, p, "give 1 to 64 field paths", "%zu inputs", n);
        return;
    }
    out->inputs = calloc(n, sizeof *out->inputs);
    if (!out->inputs) {
        c->oom = true;
        return;
    }
    yaml_node_t *items[64];
    for (size_t i = 0; i < n; i++) {
        items[i] = aioe__yt_node(c->doc, list->data.sequence.items.start[i]);
        char ip[PATH_MAX_LEN + 24];
        snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        if (!items[i] || items[i]->type != YAML_SCALAR_NODE || aioe__yt_is_null(items[i]) ||
            aioe_has_control_char(aioe__yt_text(items[i]), aioe__yt_len(items[i]))) {
            aioe__spec_err_at(c, items[i] ? items[i] : list, ip,
                        "give a field path such as temperature.Value",
                        "expected a field path, got %s",
                        items[i] ? aioe__yt_describe(items[i]) : "nothing");
            return;
        }
        if (!(out->inputs[i] = scalar_copy(c, items[i])))
            return;
        out->input_count++;
    }
    yaml_node_t *outn = NULL, *exn = aioe__spec_field(c, item, "expression");
    if (!filter) {
        yaml_node_t *k = NULL;
        outn = aioe__yt_map_get_key(c->doc, item, "output", &k);
        char op[PATH_MAX_LEN];
        aioe__spec_join_path(op, path, "output");
        if (!k) {
            aioe__spec_err_at(c, item, op,
                        "add output: <field path>, or 'output:' with no value to drop "
                        "the inputs",
                        "required field 'output' is missing");
            return;
        }
        if (outn && !aioe__yt_is_null(outn)) {
            if (outn->type != YAML_SCALAR_NODE) {
                aioe__spec_err_at(c, outn, op, "give a field path", "expected a field path, got %s",
                            aioe__yt_describe(outn));
                return;
            }
            if (!(out->output = scalar_copy(c, outn)))
                return;
        }
    }
    if (exn) {
        char ep[PATH_MAX_LEN];
        aioe__spec_join_path(ep, path, "expression");
        if (exn->type != YAML_SCALAR_NODE) {
            aioe__spec_err_at(c, exn, ep, "write the expression as a string, e.g. \"$1 > 20\"",
                        "expected an expression, got %s", aioe__yt_describe(exn));
            return;
        }
        if (!(out->expression = scalar_copy(c, exn)))
            return;
    } else if (filter) {
        char ep[PATH_MAX_LEN];
        aioe__spec_join_path(ep, path, "expression");
        aioe__spec_err_at(c, item, ep, "add expression: a condition on $1..$n, e.g. \"$1 > 20\"",
                    "required field 'expression' is missing");
        return;
    }
    int rc = filter ? aioe_transform_add_filter(t, (const char *const *)out->inputs,
                                                out->input_count, out->expression)
                    : aioe_transform_add_map(t, (const char *const *)out->inputs,
                                             out->input_count, out->output, out->expression);
    if (rc == AIOE_ERR_NOMEM) {
        c->oom = true;
        return;
    }
    if (rc == AIOE_OK)
        return;
    aioe_transform_field f;
    size_t idx, off;
    const char *msg = aioe_transform_last_error(t, &f, &idx, &off);
    const yaml_node_t *at = item;
    char fp[PATH_MAX_LEN + 24];
    switch (f) {
    case AIOE_TRANSFORM_FIELD_INPUT:
        at = idx < n ? items[idx] : list;
        snprintf(fp, sizeof fp, "%s[%zu]", p, idx);
        break;
    case AIOE_TRANSFORM_FIELD_OUTPUT:
        at = outn ? outn : item;
        aioe__spec_join_path(fp, path, "output");
        break;
    case AIOE_TRANSFORM_FIELD_EXPRESSION:
        at = exn ? exn : item;
        aioe__spec_join_path(fp, path, "expression");
        break;
    default:
        snprintf(fp, sizeof fp, "%s", path);
        break;
    }
    const char *hint = rc == AIOE_ERR_UNSUPPORTED
                           ? "this feature is not supported by libaioendpoint yet "
                             "(docs/transform.md)"
                           : "see docs/transform.md for the mapping language";
    if (at && at->type == YAML_SCALAR_NODE)
        aioe__spec_err_pos(c, pos_in_scalar(at, off), fp, hint, "%s", msg);
    else
        aioe__spec_err_at(c, at, fp, hint, "%s", msg);
}

static void parse_rules(pctx *c, aioe_transform *t, const yaml_node_t *settings,
                        const char *path, bool filter, struct aioe_df_rule **out, size_t *count)
{
    const char *key = filter ? "filter" : "map";
    char p[PATH_MAX_LEN];
    aioe__spec_join_path(p, path, key);
    yaml_node_t *list = aioe__spec_field(c, settings, key);
    if (!list)
        return;
    if (list->type != YAML_SEQUENCE_NODE) {
        aioe__spec_err_at(c, list, p, "write the rules as a list", "expected a list, got %s",
                    aioe__yt_describe(list));
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > MAX_SCHEMA_KEYS) {
        aioe__spec_err_at(c, list, p, "use wildcards to cover many fields",
                    "%zu rules, more than the %d allowed", n, MAX_SCHEMA_KEYS);
        return;
    }
    if (n == 0)
        return;
    *out = calloc(n, sizeof **out);
    if (!*out) {
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < n && !c->oom; i++) {
        char rp[PATH_MAX_LEN + 24];
        snprintf(rp, sizeof rp, "%s[%zu]", p, i);
        yaml_node_t *item = aioe__yt_node(c->doc, list->data.sequence.items.start[i]);
        (*count)++;
        if (item)
            parse_rule(c, t, filter, item, rp, &(*out)[i]);
    }
}

void aioe__spec_parse_transformation(pctx *c, aioe_dataflow *df, const yaml_node_t *settings,
                               const char *path)
{
    df->has_transformation = true;
    aioe__spec_check_keys(c, settings, path, settings_keys, NULL);
    yaml_node_t *k = NULL, *v;
    char p[PATH_MAX_LEN];
    if ((v = aioe__yt_map_get_key(c->doc, settings, "datasets", &k)) && !aioe__yt_is_null(v) &&
        !(v->type == YAML_SEQUENCE_NODE &&
          v->data.sequence.items.top == v->data.sequence.items.start)) {
        aioe__spec_join_path(p, path, "datasets");
        aioe__spec_err_at(c, k, p, "remove datasets; enrichment is not supported yet",
                    "datasets (contextualization/enrichment) are not supported");
    }
    if ((v = aioe__yt_map_get_key(c->doc, settings, "schemaRef", &k)) && !aioe__yt_is_null(v)) {
        aioe__spec_join_path(p, path, "schemaRef");
        aioe__spec_err_at(c, k, p, "remove schemaRef; the output is JSON with inferred types",
                    "schemaRef (serializing to a schema) is not supported");
    }
    if ((v = aioe__spec_field(c, settings, "serializationFormat"))) {
        aioe__spec_join_path(p, path, "serializationFormat");
        if (v->type != YAML_SCALAR_NODE || strcasecmp(aioe__yt_text(v), "Json") != 0)
            aioe__spec_err_at(c, v, p, "use serializationFormat: Json (Parquet and Delta are "
                                 "for storage destinations)",
                        "serialization format %s is not supported",
                        v->type == YAML_SCALAR_NODE ? aioe__yt_text(v) : aioe__yt_describe(v));
    }
    aioe_transform *t = NULL;
    if (aioe_transform_new(&t) != AIOE_OK) {
        c->oom = true;
        return;
    }
    parse_rules(c, t, settings, path, true, &df->filters, &df->filter_count);
    parse_rules(c, t, settings, path, false, &df->maps, &df->map_count);
    aioe_transform_free(t);
}

bool aioe_dataflow_has_transformation(const aioe_dataflow *df)
{
    return df && df->has_transformation;
}

int aioe_transform_new_for_dataflow(aioe_transform **out, const aioe_dataflow *df)
{
    if (!out || !df)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!df->has_transformation)
        return AIOE_ERR_NOT_FOUND;
    aioe_transform *t = NULL;
    int rc = aioe_transform_new(&t);
    for (size_t i = 0; rc == AIOE_OK && i < df->filter_count; i++)
        rc = aioe_transform_add_filter(t, (const char *const *)df->filters[i].inputs,
                                       df->filters[i].input_count, df->filters[i].expression);
    for (size_t i = 0; rc == AIOE_OK && i < df->map_count; i++)
        rc = aioe_transform_add_map(t, (const char *const *)df->maps[i].inputs,
                                    df->maps[i].input_count, df->maps[i].output,
                                    df->maps[i].expression);
    if (rc != AIOE_OK) {
        aioe_transform_free(t);
        return rc == AIOE_ERR_NOMEM ? rc : AIOE_ERR_INTERNAL;
    }
    *out = t;
    return AIOE_OK;
}
