/* Loading one YAML document from libyaml's event stream, as
 * yaml_parser_load() does, but with limits checked on every event: the
 * depth of nested collections and the nodes of the document. libyaml's
 * scanner costs time quadratic in flow nesting (`[[[[...`) and a loaded
 * node about 160 bytes, so stopping at the first event over a limit keeps
 * any input linear in time and the document bounded in memory, in one
 * pass. Pure: no I/O beyond the parser's input. */
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

typedef struct anchor {
    char *name;
    int node;
} anchor;

typedef struct frame {
    int node;     /* the open collection */
    int key;      /* a mapping's key waiting for its value, 0 none */
} frame;

typedef struct loader {
    yaml_document_t *doc;
    frame *stack;
    size_t depth, cap;
    anchor *anchors;
    size_t n_anchors, anchors_cap;
    size_t nodes;
} loader;

static void loader_free(loader *l)
{
    for (size_t i = 0; i < l->n_anchors; i++)
        free(l->anchors[i].name);
    free(l->anchors);
    free(l->stack);
}

/* Remembers (or redefines: the later anchor wins) an anchor. */
static bool add_anchor(loader *l, const yaml_char_t *name, int node)
{
    for (size_t i = 0; i < l->n_anchors; i++)
        if (strcmp(l->anchors[i].name, (const char *)name) == 0) {
            l->anchors[i].node = node;
            return true;
        }
    if (l->n_anchors == l->anchors_cap) {
        size_t cap = l->anchors_cap ? 2 * l->anchors_cap : 8;
        anchor *a = realloc(l->anchors, cap * sizeof *a);
        if (!a)
            return false;
        l->anchors = a;
        l->anchors_cap = cap;
    }
    char *copy = strdup((const char *)name);
    if (!copy)
        return false;
    l->anchors[l->n_anchors++] = (anchor){ copy, node };
    return true;
}

static int find_anchor(const loader *l, const yaml_char_t *name)
{
    for (size_t i = l->n_anchors; i-- > 0;)
        if (strcmp(l->anchors[i].name, (const char *)name) == 0)
            return l->anchors[i].node;
    return 0;
}

/* Hangs a finished node under the open collection (or makes it the root). */
static bool attach(loader *l, int node)
{
    if (l->depth == 0)
        return true; /* the root: node 1 */
    frame *f = &l->stack[l->depth - 1];
    yaml_node_t *parent = yaml_document_get_node(l->doc, f->node);
    if (parent->type == YAML_SEQUENCE_NODE)
        return yaml_document_append_sequence_item(l->doc, f->node, node) != 0;
    if (!f->key) {
        f->key = node;
        return true;
    }
    int key = f->key;
    f->key = 0;
    return yaml_document_append_mapping_pair(l->doc, f->node, key, node) != 0;
}

/* "!" is the non-specific tag: the node gets its kind's default, as in
 * yaml_parser_load(). */
static const yaml_char_t *tag_of(const yaml_char_t *tag)
{
    return tag && strcmp((const char *)tag, "!") != 0 ? tag : NULL;
}

/* Adds the event's scalar to the document, taking its value and tag over
 * from the event (as yaml_parser_load() does) rather than copying them as
 * yaml_document_add_scalar() would: scalars are most of a document.
 * Returns the node's index, or 0 when out of memory. */
static int take_scalar(yaml_document_t *doc, yaml_event_t *ev)
{
    yaml_char_t *tag = ev->data.scalar.tag;
    if (tag && strcmp((const char *)tag, "!") == 0)
        tag = NULL;
    yaml_char_t *own_tag = tag ? tag : (yaml_char_t *)strdup(YAML_DEFAULT_SCALAR_TAG);
    if (!own_tag)
        return 0;
    if (doc->nodes.top == doc->nodes.end) {
        size_t n = (size_t)(doc->nodes.end - doc->nodes.start);
        size_t cap = n ? 2 * n : 16;
        yaml_node_t *nodes = realloc(doc->nodes.start, cap * sizeof *nodes);
        if (!nodes) {
            if (!tag)
                free(own_tag);
            return 0;
        }
        doc->nodes.start = nodes;
        doc->nodes.top = nodes + n;
        doc->nodes.end = nodes + cap;
    }
    yaml_node_t *node = doc->nodes.top++;
    memset(node, 0, sizeof *node);
    node->type = YAML_SCALAR_NODE;
    node->tag = own_tag;
    node->data.scalar.value = ev->data.scalar.value;
    node->data.scalar.length = ev->data.scalar.length;
    node->data.scalar.style = ev->data.scalar.style;
    node->start_mark = ev->start_mark;
    node->end_mark = ev->end_mark;
    /* the document owns them now */
    if (tag)
        ev->data.scalar.tag = NULL;
    ev->data.scalar.value = NULL;
    return (int)(doc->nodes.top - doc->nodes.start);
}

static void set_marks(yaml_document_t *doc, int node, yaml_mark_t start, yaml_mark_t end)
{
    yaml_node_t *n = yaml_document_get_node(doc, node);
    n->start_mark = start;
    n->end_mark = end;
}

yt_load_status aioe__yt_load(yaml_parser_t *parser, yaml_document_t *doc, const yt_limits *lim,
                       yaml_mark_t *where)
{
    memset(doc, 0, sizeof *doc);
    loader l = { .doc = doc };
    yt_load_status st = YT_LOAD_OK;
    bool in_doc = false, done = false;
    while (!done && st == YT_LOAD_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            st = parser->error == YAML_MEMORY_ERROR ? YT_LOAD_NOMEM : YT_LOAD_SYNTAX;
            break;
        }
        *where = ev.start_mark;
        int node = 0;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            /* no more documents: an empty one, as yaml_parser_load() */
            if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1))
                st = YT_LOAD_NOMEM;
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (!yaml_document_initialize(doc, NULL, NULL, NULL,
                                          ev.data.document_start.implicit, 1))
                st = YT_LOAD_NOMEM;
            doc->start_mark = ev.start_mark;
            in_doc = true;
            break;
        case YAML_DOCUMENT_END_EVENT:
            doc->end_mark = ev.end_mark;
            doc->end_implicit = ev.data.document_end.implicit;
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            if (++l.nodes > lim->max_nodes) {
                st = YT_LOAD_TOO_MANY;
            } else if (!(node = find_anchor(&l, ev.data.alias.anchor))) {
                st = YT_LOAD_BAD_ALIAS;
            } else if (!attach(&l, node)) {
                st = YT_LOAD_NOMEM;
            }
            break;
        case YAML_SCALAR_EVENT:
            if (++l.nodes > lim->max_nodes) {
                st = YT_LOAD_TOO_MANY;
                break;
            }
            node = take_scalar(doc, &ev);
            if (!node) {
                st = YT_LOAD_NOMEM;
                break;
            }
            if ((ev.data.scalar.anchor && !add_anchor(&l, ev.data.scalar.anchor, node)) ||
                !attach(&l, node))
                st = YT_LOAD_NOMEM;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
            if (l.depth + 1 > lim->max_depth) {
                st = YT_LOAD_TOO_DEEP;
                break;
            }
            if (++l.nodes > lim->max_nodes) {
                st = YT_LOAD_TOO_MANY;
                break;
            }
            node = seq ? yaml_document_add_sequence(doc, tag_of(ev.data.sequence_start.tag),
                                                    ev.data.sequence_start.style)
                       : yaml_document_add_mapping(doc, tag_of(ev.data.mapping_start.tag),
                                                   ev.data.mapping_start.style);
            const yaml_char_t *anchor_name = seq ? ev.data.sequence_start.anchor
                                                 : ev.data.mapping_start.anchor;
            if (!node || (anchor_name && !add_anchor(&l, anchor_name, node))) {
                st = YT_LOAD_NOMEM;
                break;
            }
            set_marks(doc, node, ev.start_mark, ev.end_mark);
            if (l.depth == l.cap) {
                size_t cap = l.cap ? 2 * l.cap : 16;
                frame *f = realloc(l.stack, cap * sizeof *f);
                if (!f) {
                    st = YT_LOAD_NOMEM;
                    break;
                }
                l.stack = f;
                l.cap = cap;
            }
            l.stack[l.depth++] = (frame){ node, 0 };
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            node = l.stack[--l.depth].node;
            yaml_document_get_node(doc, node)->end_mark = ev.end_mark;
            if (!attach(&l, node))
                st = YT_LOAD_NOMEM;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    loader_free(&l);
    if (st != YT_LOAD_OK && (in_doc || doc->nodes.start))
        yaml_document_delete(doc);
    return st;
}
