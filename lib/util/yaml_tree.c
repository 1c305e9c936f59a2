/* Typed access to libyaml document trees. */
#include "yaml_tree.h"

#include <string.h>

yaml_node_t *aioe__yt_node(yaml_document_t *doc, int index)
{
    return index > 0 ? yaml_document_get_node(doc, index) : NULL;
}

yt_pos aioe__yt_mark_pos(yaml_mark_t mark)
{
    yt_pos p = { (unsigned)mark.line + 1, (unsigned)mark.column + 1 };
    return p;
}

yt_pos aioe__yt_node_pos(const yaml_node_t *node)
{
    return aioe__yt_mark_pos(node->start_mark);
}

const char *aioe__yt_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

size_t aioe__yt_len(const yaml_node_t *node)
{
    return node->data.scalar.length;
}

static bool equals_any(const char *text, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(*words, text, len) == 0)
            return true;
    return false;
}

static bool all_in(const char *s, size_t len, const char *set)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(set, s[i]))
            return false;
    return true;
}

yt_scalar_type aioe__yt_resolve_plain(const char *text, size_t len)
{
    static const char *const nulls[] = { "~", "null", "Null", "NULL", NULL };
    /* YAML 1.1 booleans, as the Kubernetes YAML reader resolves them. */
    static const char *const bools[] = {
        "true", "True", "TRUE", "false", "False", "FALSE",
        "yes", "Yes", "YES", "no", "No", "NO",
        "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", NULL };
    static const char *const floats[] = {
        ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf",
        "+.INF", ".nan", ".NaN", ".NAN", NULL };

    if (len == 0)
        return YT_NULL;
    /* Fast path: most scalars are names and words that cannot be a null,
     * bool or number. Those all start with a digit, a sign, '.', '~' or
     * one of the letters of null/true/false/yes/no/on/off/y/n, and are
     * short when they are words. */
    char first = text[0];
    bool numeric_start = (first >= '0' && first <= '9') || first == '-' ||
                         first == '+' || first == '.';
    if (!numeric_start && (len > 5 || !strchr("~nNtTfFyYoO", first)))
        return YT_STRING;
    if (equals_any(text, len, nulls))
        return YT_NULL;
    if (equals_any(text, len, bools))
        return YT_BOOL;
    int64_t v;
    bool overflow = false;
    if (aioe__yt_parse_int(text, len, &v, &overflow) || overflow)
        return YT_INT;
    if (equals_any(text, len, floats))
        return YT_FLOAT;
    /* [-+]? ( digits [. digits?] | . digits ) ([eE][-+]? digits)? */
    size_t i = 0;
    if (text[i] == '-' || text[i] == '+')
        i++;
    size_t int_digits = 0, frac_digits = 0;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        i++;
        int_digits++;
    }
    bool dot = false;
    if (i < len && text[i] == '.') {
        dot = true;
        i++;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            i++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return YT_STRING;
    bool exp = false;
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '-' || text[i] == '+'))
            i++;
        size_t exp_digits = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return YT_STRING;
        exp = true;
    }
    if (i == len && (dot || exp))
        return YT_FLOAT;
    return YT_STRING;
}

bool aioe__yt_parse_int(const char *text, size_t len, int64_t *out, bool *overflow)
{
    size_t i = 0;
    bool negative = false;
    *overflow = false;
    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        i = 1;
    }
    unsigned base = 10;
    const char *digits = "0123456789";
    if (len - i > 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
        base = 16;
        digits = "0123456789abcdefABCDEF";
        i += 2;
    } else if (len - i > 2 && text[i] == '0' && text[i + 1] == 'o') {
        base = 8;
        digits = "01234567";
        i += 2;
    }
    if (!all_in(text + i, len - i, digits))
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (; i < len; i++) {
        char c = text[i];
        unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
                   : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                            : (unsigned)(c - 'A' + 10);
        if (value > (limit - d) / base) {
            *overflow = true;
            return false;
        }
        value = value * base + d;
    }
    if (negative)
        *out = value == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)value;
    else
        *out = (int64_t)value;
    return true;
}

yt_scalar_type aioe__yt_scalar_type_of(const yaml_node_t *node)
{
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return YT_STRING;
    const char *tag = (const char *)node->tag;
    /* An explicit tag other than the default string one decides. */
    if (tag && strcmp(tag, YAML_INT_TAG) == 0)
        return YT_INT;
    if (tag && strcmp(tag, YAML_NULL_TAG) == 0)
        return YT_NULL;
    return aioe__yt_resolve_plain(aioe__yt_text(node), aioe__yt_len(node));
}

bool aioe__yt_is_null(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && aioe__yt_scalar_type_of(node) == YT_NULL;
}

const char *aioe__yt_describe(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE:
        switch (aioe__yt_scalar_type_of(node)) {
        case YT_STRING: return "a string";
        case YT_NULL: return "null";
        case YT_BOOL: return "a boolean";
        case YT_INT: return "an integer";
        case YT_FLOAT: return "a floating-point number";
        }
        break;
    case YAML_NO_NODE: break;
    }
    return "nothing";
}

yaml_node_t *aioe__yt_map_get_key(yaml_document_t *doc, const yaml_node_t *map,
                            const char *key, yaml_node_t **key_node)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    size_t klen = strlen(key);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = aioe__yt_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && aioe__yt_len(k) == klen &&
            memcmp(aioe__yt_text(k), key, klen) == 0) {
            if (key_node)
                *key_node = k;
            return aioe__yt_node(doc, p->value);
        }
    }
    return NULL;
}

yaml_node_t *aioe__yt_map_get(yaml_document_t *doc, const yaml_node_t *map,
                        const char *key)
{
    return aioe__yt_map_get_key(doc, map, key, NULL);
}
