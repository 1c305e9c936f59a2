/* MQTT topic filters and destination topic templates. Pure, no
 * allocation: the bridge expands a template for every message. */
#include <string.h>

#include "aioendpoint/dataflow.h"

#define MAX_TOPIC_BYTES 65535u
#define VAR_PREFIX "${inputTopic"

bool aioe_topic_filter_is_valid(const char *filter)
{
    if (!filter || !filter[0])
        return false;
    size_t len = strlen(filter);
    if (len > MAX_TOPIC_BYTES)
        return false;
    const char *f = filter;
    if (strncmp(f, "$share/", 7) == 0) {
        /* $share/<group>/<filter>: the group is one non-empty level
         * without wildcards, and a filter must follow. */
        const char *group = f + 7;
        const char *slash = strchr(group, '/');
        if (!slash || slash == group || !slash[1])
            return false;
        for (const char *p = group; p < slash; p++)
            if (*p == '+' || *p == '#')
                return false;
        f = slash + 1;
    }
    for (const char *p = f; *p; p++) {
        bool level_start = p == f || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end))
            return false;
        if (*p == '#' && !(level_start && p[1] == '\0'))
            return false;
    }
    return true;
}

/* Parses a variable at t (which starts with "${inputTopic"). Sets *level
 * (0 for the whole topic) and returns the length of the variable, or 0
 * when it is malformed. */
static size_t parse_var(const char *t, unsigned long *level)
{
    size_t n = strlen(VAR_PREFIX);
    *level = 0;
    if (strncmp(t, VAR_PREFIX, n) != 0)
        return 0;
    if (t[n] == '}')
        return n + 1;
    if (t[n] != '.' || t[n + 1] < '1' || t[n + 1] > '9')
        return 0;
    size_t i = n + 1;
    unsigned long v = 0;
    while (t[i] >= '0' && t[i] <= '9') {
        v = v * 10 + (unsigned long)(t[i] - '0');
        if (v > MAX_TOPIC_BYTES)
            return 0;
        i++;
    }
    if (t[i] != '}')
        return 0;
    *level = v;
    return i + 1;
}

bool aioe_topic_template_is_valid(const char *tmpl)
{
    if (!tmpl || !tmpl[0] || strlen(tmpl) > MAX_TOPIC_BYTES)
        return false;
    for (const char *p = tmpl; *p;) {
        if (*p == '+' || *p == '#')
            return false;
        if (p[0] == '$' && p[1] == '{') {
            unsigned long level;
            size_t n = parse_var(p, &level);
            if (n == 0)
                return false;
            p += n;
            continue;
        }
        p++;
    }
    return true;
}

/* The n-th (1-based) level of topic: start and length; false when absent. */
static bool topic_level(const char *topic, unsigned long n, const char **start, size_t *len)
{
    const char *p = topic;
    for (unsigned long i = 1; i < n; i++) {
        p = strchr(p, '/');
        if (!p)
            return false;
        p++;
    }
    const char *end = strchr(p, '/');
    *start = p;
    *len = end ? (size_t)(end - p) : strlen(p);
    return true;
}

int aioe_topic_expand(const char *tmpl, const char *input_topic, char *buf,
                      size_t buf_len, size_t *out_len)
{
    /* Validate the whole template first, so an invalid template is always
     * reported as such, even when an earlier variable cannot resolve. */
    if (!aioe_topic_template_is_valid(tmpl) || !input_topic || (!buf && buf_len > 0))
        return AIOE_ERR_INVALID_ARG;
    size_t used = 0;
    bool fits = true;
    for (const char *p = tmpl; *p;) {
        const char *piece = p;
        size_t piece_len = 1;
        if (p[0] == '$' && p[1] == '{') {
            unsigned long level;
            size_t n = parse_var(p, &level);
            if (n == 0)
                return AIOE_ERR_INVALID_ARG;
            if (level == 0) {
                piece = input_topic;
                piece_len = strlen(input_topic);
            } else if (!topic_level(input_topic, level, &piece, &piece_len)) {
                return AIOE_ERR_NOT_FOUND;
            }
            p += n;
        } else {
            if (*p == '+' || *p == '#')
                return AIOE_ERR_INVALID_ARG;
            p++;
        }
        if (fits && used + piece_len < buf_len)
            memcpy(buf + used, piece, piece_len);
        else
            fits = false;
        used += piece_len;
    }
    if (out_len)
        *out_len = used;
    if (!fits || used >= buf_len) {
        if (buf_len > 0)
            buf[0] = '\0';
        return AIOE_ERR_TOO_LARGE;
    }
    buf[used] = '\0';
    return AIOE_OK;
}
