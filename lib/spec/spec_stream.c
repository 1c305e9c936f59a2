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
    yaml_node_t *v = aioe__yt_map_get(doc, map, key);
    return v && v->type == YAML_SCALAR_NODE && !aioe_has_control_char(aioe__yt_text(v), aioe__yt_len(v))
               ? aioe__yt_text(v)
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
        name = scalar_or_empty(c->doc, aioe__yt_map_get(c->doc, root, "metadata"), "name");
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

/* The schema walk visits fields in schema order (host, authentication,
 * tls, then the rest), not file order, and spec.h promises errors in input
 * order: sort one document's errors by position, stably, so errors at the
 * same place keep the walk's order. An error without a position (line 0)
 * counts as at the document's start. Documents are few errors each, so
 * insertion sort. */
static unsigned error_line(const aioe_parse_error *e, unsigned doc_line)
{
    return e->line ? e->line : doc_line;
}

static bool error_before(const aioe_parse_error *a, const aioe_parse_error *b,
                         unsigned doc_line)
{
    unsigned la = error_line(a, doc_line), lb = error_line(b, doc_line);
    return la < lb || (la == lb && a->column < b->column);
}

static void sort_document_errors(aioe_parse_result *res, size_t from,
                                 unsigned doc_line)
{
    aioe_parse_error *e = res->errors.items;
    for (size_t i = from + 1; i < res->errors.len; i++) {
        aioe_parse_error x = e[i];
        size_t j = i;
        while (j > from && error_before(&x, &e[j - 1], doc_line)) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

static void parse_kind(pctx *c, yaml_document_t *doc, yaml_node_t *root,
                       yt_pos start);

static void parse_document(pctx *c, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yt_pos start = aioe__yt_mark_pos(doc->start_mark);
    size_t first_error = c->res->errors.len;
    parse_kind(c, doc, root, start);
    sort_document_errors(c->res, first_error, start.line);
}

static void parse_kind(pctx *c, yaml_document_t *doc, yaml_node_t *root,
                       yt_pos start)
{
    c->doc = doc;
    c->failed = false;
    yaml_node_t *kind = root && root->type == YAML_MAPPING_NODE
                            ? aioe__yt_map_get(doc, root, "kind") : NULL;
    static const struct {
        const char *kind;
        unsigned bit;
        void (*parse)(pctx *c, const yaml_node_t *root, yt_pos start);
    } kinds[] = {
        { "DataflowEndpoint", AIOE_KIND_DATAFLOW_ENDPOINT, aioe__spec_parse_endpoint },
        { "Dataflow", AIOE_KIND_DATAFLOW, aioe__spec_parse_dataflow },
        { "DataflowProfile", AIOE_KIND_DATAFLOW_PROFILE, aioe__spec_parse_profile },
    };
    for (size_t i = 0; kind && kind->type == YAML_SCALAR_NODE && i < 3; i++) {
        if ((c->opts->kinds & kinds[i].bit) && aioe__yt_len(kind) == strlen(kinds[i].kind) &&
            memcmp(aioe__yt_text(kind), kinds[i].kind, aioe__yt_len(kind)) == 0) {
            kinds[i].parse(c, root, start);
            return;
        }
    }
    skip_document(c, root, start);
}

/* 1-based line and column (in characters, as libyaml's marks count them)
 * of byte offset `off` in UTF-8 text; a CR LF pair is one line break. */
static yt_pos offset_pos(const unsigned char *data, size_t len, size_t off)
{
    yt_pos pos = { 1, 1 };
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char b = data[i];
        if (b == '\n' || (b == '\r' && (i + 1 >= len || data[i + 1] != '\n'))) {
            pos.line++;
            pos.column = 1;
        } else if ((b & 0xc0) != 0x80 && b != '\r') {
            pos.column++; /* continuation bytes are part of one character */
        }
    }
    return pos;
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
    /* The depth and node limits are checked while loading (aioe__yt_load):
     * libyaml's scanner is quadratic in flow nesting and a loaded node
     * costs about 160 bytes, so stopping at the first node over a limit
     * keeps any input linear in time and each document bounded. */
    const yt_limits lim = { opts->max_depth, opts->max_nodes };
    for (;;) {
        yaml_document_t doc;
        yaml_mark_t where;
        yt_load_status ls = aioe__yt_load(&parser, &doc, &lim, &where);
        if (ls == YT_LOAD_NOMEM) {
            rc = AIOE_ERR_NOMEM;
            break;
        }
        if (ls == YT_LOAD_TOO_DEEP || ls == YT_LOAD_TOO_MANY || ls == YT_LOAD_BAD_ALIAS) {
            yt_pos pos = aioe__yt_mark_pos(where);
            bool ok = ls == YT_LOAD_BAD_ALIAS
                ? aioe_result_add_error(c->res, pos.line, pos.column, "",
                                        "define the anchor before using it",
                                        "YAML syntax error: found undefined alias")
                : aioe_result_add_error(
                      c->res, pos.line, pos.column, "",
                      ls == YT_LOAD_TOO_DEEP
                          ? "flatten the document or raise the depth limit"
                          : "remove what the document does not need or raise the node limit",
                      ls == YT_LOAD_TOO_DEEP ? "YAML nested more than %zu levels deep"
                                             : "more than %zu YAML nodes in one document",
                      ls == YT_LOAD_TOO_DEEP ? opts->max_depth : opts->max_nodes);
            if (!ok)
                rc = AIOE_ERR_NOMEM;
            else if (ls != YT_LOAD_BAD_ALIAS)
                rc = AIOE_ERR_TOO_LARGE;
            break;
        }
        if (ls == YT_LOAD_SYNTAX) {
            yt_pos pos = aioe__yt_mark_pos(parser.problem_mark);
            const char *problem = parser.problem ? parser.problem : "malformed YAML";
            bool ok;
            if (parser.error == YAML_READER_ERROR) {
                /* libyaml's reader gives a byte offset, not a mark */
                pos = offset_pos(data, len, parser.problem_offset);
                ok = aioe_result_add_error(c->res, pos.line, pos.column, "",
                                           "fix the bytes at this position (YAML is UTF-8 "
                                           "text without control characters)",
                                           "YAML syntax error: %s (byte 0x%02X)", problem,
                                           (unsigned)parser.problem_value & 0xffu);
            } else if (parser.context) {
                yt_pos ctx = aioe__yt_mark_pos(parser.context_mark);
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
            yt_pos pos = aioe__yt_mark_pos(doc.start_mark);
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
    .max_depth = AIOE_DEFAULT_MAX_DEPTH,
    .max_nodes = AIOE_DEFAULT_MAX_NODES,
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

/* Reads a whole file, refusing directories and anything over the limit.
 * The open never blocks: a FIFO without a writer would otherwise hang it
 * for ever. A FIFO or pipe (`<(cmd)`, /dev/stdin) is then read in blocking
 * mode until its writer closes it; with no writer at all it reads as
 * empty at once. */
static int read_file(const char *path, size_t max, char **data, size_t *len,
                     aioe_parse_result *res)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
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
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
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
