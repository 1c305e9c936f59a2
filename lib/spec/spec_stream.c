/* Streams and files: loads a YAML stream one document at a time with
 * libyaml and hands each document to the parser of its kind. Aliases
 * resolve to shared nodes and only known fields are walked, so alias
 * bombs cost nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "spec_util.h"
#include "spec_walk.h"

/* ---- documents and streams ----------------------------------------- */

static const char *scalar_or_empty(yaml_document_t *doc, const yaml_node_t *map,
                                   const char *key)
{
    yaml_node_t *v = yt_map_get(doc, map, key);
    return v && v->type == YAML_SCALAR_NODE && !aioe_has_control_char(yt_text(v), yt_len(v))
               ? yt_text(v)
               : "";
}

static void skip_document(pctx *c, const yaml_node_t *root, yt_pos start)
{
    aioe_skipped_document *s = AIOE_VEC_PUSH_SLOT(c->res->skipped);
    if (!s) {
        c->oom = true;
        return;
    }
    const char *api = "", *kind = "", *name = "";
    if (root && root->type == YAML_MAPPING_NODE) {
        api = scalar_or_empty(c->doc, root, "apiVersion");
        kind = scalar_or_empty(c->doc, root, "kind");
        name = scalar_or_empty(c->doc, yt_map_get(c->doc, root, "metadata"), "name");
    }
    s->file = c->res->file;
    s->line = start.line;
    s->column = start.column;
    s->api_version = strdup(api);
    s->kind = strdup(kind);
    s->name = strdup(name);
    if (!s->api_version || !s->kind || !s->name)
        c->oom = true;
}

static void parse_document(pctx *c, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yt_pos start = yt_mark_pos(doc->start_mark);
    c->doc = doc;
    c->failed = false;
    yaml_node_t *kind = root && root->type == YAML_MAPPING_NODE
                            ? yt_map_get(doc, root, "kind") : NULL;
    static const struct {
        const char *kind;
        unsigned bit;
        void (*parse)(pctx *c, const yaml_node_t *root, yt_pos start);
    } kinds[] = {
        { "DataflowEndpoint", AIOE_KIND_DATAFLOW_ENDPOINT, spec_parse_endpoint },
        { "Dataflow", AIOE_KIND_DATAFLOW, spec_parse_dataflow },
        { "DataflowProfile", AIOE_KIND_DATAFLOW_PROFILE, spec_parse_profile },
    };
    for (size_t i = 0; kind && kind->type == YAML_SCALAR_NODE && i < 3; i++) {
        if ((c->opts->kinds & kinds[i].bit) && yt_len(kind) == strlen(kinds[i].kind) &&
            memcmp(yt_text(kind), kinds[i].kind, yt_len(kind)) == 0) {
            kinds[i].parse(c, root, start);
            return;
        }
    }
    skip_document(c, root, start);
}

static int parse_stream(pctx *c, const void *data, size_t len,
                        const aioe_parse_options *opts)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return AIOE_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, data, len);
    int rc = AIOE_OK;
    size_t documents = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = AIOE_ERR_NOMEM;
                break;
            }
            yt_pos pos = yt_mark_pos(parser.problem_mark);
            const char *problem = parser.problem ? parser.problem : "malformed YAML";
            bool ok;
            if (parser.context) {
                yt_pos ctx = yt_mark_pos(parser.context_mark);
                ok = aioe_result_add_error(c->res, pos.line, pos.column, "",
                                           "fix the YAML syntax at this position",
                                           "YAML syntax error: %s %s (started at line %u)",
                                           problem, parser.context, ctx.line);
            } else {
                ok = aioe_result_add_error(c->res, pos.line, pos.column, "",
                                           "fix the YAML syntax at this position",
                                           "YAML syntax error: %s", problem);
            }
            if (!ok)
                rc = AIOE_ERR_NOMEM;
            break;
        }
        if (!yaml_document_get_root_node(&doc)) {
            yaml_document_delete(&doc); /* end of stream */
            break;
        }
        if (++documents > opts->max_documents) {
            yaml_document_delete(&doc);
            yt_pos pos = yt_mark_pos(doc.start_mark);
            if (!aioe_result_add_error(c->res, pos.line, pos.column, "",
                                       "split the stream or raise the document limit",
                                       "more than %zu documents in one stream",
                                       opts->max_documents))
                rc = AIOE_ERR_NOMEM;
            else
                rc = AIOE_ERR_TOO_LARGE;
            break;
        }
        parse_document(c, &doc);
        yaml_document_delete(&doc);
        if (c->oom) {
            rc = AIOE_ERR_NOMEM;
            break;
        }
    }
    yaml_parser_delete(&parser);
    if (rc == AIOE_OK && c->res->errors.len > 0)
        rc = AIOE_ERR_INVALID_SPEC;
    return rc;
}

static const aioe_parse_options default_options = {
    .max_input_bytes = AIOE_DEFAULT_MAX_INPUT_BYTES,
    .max_documents = AIOE_DEFAULT_MAX_DOCUMENTS,
    .kinds = AIOE_KIND_DATAFLOW_ENDPOINT,
};

int aioe_parse_buffer(const void *data, size_t len, const char *name,
                      const aioe_parse_options *opts, aioe_parse_result **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!data && len > 0)
        return AIOE_ERR_INVALID_ARG;
    if (!opts)
        opts = &default_options;
    aioe_parse_result *res = aioe_result_new(name ? name : "<buffer>");
    if (!res)
        return AIOE_ERR_NOMEM;
    int rc;
    if (len > opts->max_input_bytes) {
        rc = aioe_result_add_error(res, 0, 0, "", "raise the limit or split the input",
                                   "input is %zu bytes, more than the limit of %zu",
                                   len, opts->max_input_bytes)
                 ? AIOE_ERR_TOO_LARGE : AIOE_ERR_NOMEM;
    } else {
        pctx c = { .res = res, .opts = opts };
        rc = parse_stream(&c, len ? data : "", len, opts);
    }
    if (rc == AIOE_ERR_NOMEM) {
        aioe_parse_result_free(res);
        return rc;
    }
    *out = res;
    return rc;
}

/* Reads a whole file, refusing directories and anything over the limit. */
static int read_file(const char *path, size_t max, char **data, size_t *len,
                     aioe_parse_result *res)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return aioe_result_add_error(res, 0, 0, "",
                                     e == ENOENT ? "check the path" : "check the file's permissions",
                                     "cannot open: %s", strerror(e))
                   ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return aioe_result_add_error(res, 0, 0, "", "give a YAML file, not a directory",
                                     "is a directory")
                   ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
    }
    size_t cap = 64 * 1024, used = 0;
    if (S_ISREG(st.st_mode) && (size_t)st.st_size < max)
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    int rc = buf ? AIOE_OK : AIOE_ERR_NOMEM;
    while (rc == AIOE_OK) {
        if (used == cap) {
            size_t ncap = cap * 2;
            char *n = realloc(buf, ncap);
            if (!n) {
                rc = AIOE_ERR_NOMEM;
                break;
            }
            buf = n;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            rc = aioe_result_add_error(res, 0, 0, "", "check the file",
                                       "cannot read: %s", strerror(e))
                     ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max) {
            rc = aioe_result_add_error(res, 0, 0, "", "raise the limit or split the file",
                                       "file is larger than the limit of %zu bytes", max)
                     ? AIOE_ERR_TOO_LARGE : AIOE_ERR_NOMEM;
            break;
        }
    }
    close(fd);
    if (rc != AIOE_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = used;
    return AIOE_OK;
}

int aioe_parse_file(const char *path, const aioe_parse_options *opts,
                    aioe_parse_result **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    if (!path)
        return AIOE_ERR_INVALID_ARG;
    if (!opts)
        opts = &default_options;
    aioe_parse_result *res = aioe_result_new(path);
    if (!res)
        return AIOE_ERR_NOMEM;
    char *data;
    size_t len;
    int rc = read_file(path, opts->max_input_bytes, &data, &len, res);
    if (rc == AIOE_OK) {
        pctx c = { .res = res, .opts = opts };
        rc = parse_stream(&c, data, len, opts);
        free(data);
    }
    if (rc == AIOE_ERR_NOMEM) {
        aioe_parse_result_free(res);
        return rc;
    }
    *out = res;
    return rc;
}
