/* Field paths: dot notation with "quoted" segments, one `*` wildcard,
 * `$metadata.*` and `$source.` prefixes, and the `? $last` suffix.
 * The segmentation algorithm is the documented one (docs/transform.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transform_internal.h"

enum { MAX_SEGMENTS = 64 };

static int fail(int rc, char *err, size_t errlen, size_t *off, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(int rc, char *err, size_t errlen, size_t *off, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    *off = at;
    return rc;
}

void aioe__transform_fpath_clear(fpath *p)
{
    for (size_t i = 0; i < p->nseg; i++)
        free(p->segs[i]);
    free(p->segs);
    free(p->lens);
    memset(p, 0, sizeof *p);
    p->star = -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Strips a trailing `? $last` (any case, any blanks): true when found. */
static bool strip_last(const char *s, size_t *len)
{
    size_t n = *len;
    while (n && is_space(s[n - 1]))
        n--;
    if (n < 5 || strncasecmp(s + n - 5, "$last", 5) != 0)
        return false;
    n -= 5;
    while (n && is_space(s[n - 1]))
        n--;
    if (!n || s[n - 1] != '?' || (n >= 2 && s[n - 2] == '?'))
        return false;
    n--;
    while (n && is_space(s[n - 1]))
        n--;
    *len = n;
    return true;
}

static int add_seg(fpath *p, const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (!c)
        return AIOE_ERR_NOMEM;
    memcpy(c, s, len);
    c[len] = 0;
    p->segs[p->nseg] = c;
    p->lens[p->nseg] = len;
    p->nseg++;
    return 0;
}

/* Splits s[from..len) into segments. */
static int split(const char *s, size_t from, size_t len, bool allow_star, fpath *p, char *err,
                 size_t errlen, size_t *off)
{
    size_t i = from;
    for (;;) {
        if (p->nseg == MAX_SEGMENTS)
            return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, i,
                        "more than %d segments", MAX_SEGMENTS);
        size_t st = i, seg_len;
        const char *seg = s + i;
        bool quoted = false;
        if (i < len && s[i] == '"') {
            const char *q = memchr(s + i + 1, '"', len - i - 1);
            if (!q)
                return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, i,
                            "quoted segment not closed: add '\"'");
            seg = s + i + 1;
            seg_len = (size_t)(q - seg);
            i = (size_t)(q - s) + 1;
            quoted = true;
            if (i < len && s[i] != '.')
                return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, i,
                            "expected '.' after a quoted segment");
        } else {
            const char *d = memchr(s + i, '.', len - i);
            size_t end = d ? (size_t)(d - s) : len;
            seg_len = end - i;
            i = end;
        }
        if (seg_len == 0 && !quoted)
            return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                        "empty segment: a path cannot start or end with '.', or hold '..'");
        if (!quoted && seg_len == 1 && seg[0] == '*') {
            if (!allow_star)
                return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                            "wildcards are not allowed here");
            if (p->star >= 0)
                return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                            "only one '*' is allowed in a path");
            p->star = (int)p->nseg;
        } else if (!quoted && memchr(seg, '*', seg_len)) {
            return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                        "'*' must be a whole segment (write a.*.c, not a.b*.c)");
        }
        int rc = add_seg(p, seg, seg_len);
        if (rc)
            return fail(rc, err, errlen, off, st, "out of memory");
        if (i >= len)
            return 0;
        i++; /* the '.' */
        if (i >= len)
            return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, i - 1,
                        "empty segment: a path cannot end with '.'");
    }
}

int aioe__transform_fpath_parse(const char *text, fpath_use use, fpath *p, char *err, size_t errlen,
                      size_t *off)
{
    memset(p, 0, sizeof *p);
    p->star = -1;
    *off = 0;
    size_t len = strlen(text), st = 0;
    while (st < len && is_space(text[st]))
        st++;
    while (len > st && is_space(text[len - 1]))
        len--;
    if (use == FPATH_INPUT && strip_last(text, &len)) {
        p->last = true;
        if (len <= st)
            return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                        "'? $last' needs a field path before it");
    }
    if (len == st) {
        if (use == FPATH_OUTPUT)
            return 0;
        return fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st, "empty input path");
    }
    /* `?? <default>` is a data flow graph feature; refuse it rather than
     * reading it as part of a field name */
    for (size_t i = st; i + 1 < len; i++)
        if (text[i] == '?' && text[i + 1] == '?' && i > st && is_space(text[i - 1]))
            return fail(AIOE_ERR_UNSUPPORTED, err, errlen, off, i,
                        "default values ('?? <default>') are available in data flow graphs "
                        "only, not in a Dataflow's BuiltInTransformation");
    p->segs = calloc(MAX_SEGMENTS, sizeof *p->segs);
    p->lens = calloc(MAX_SEGMENTS, sizeof *p->lens);
    if (!p->segs || !p->lens) {
        aioe__transform_fpath_clear(p);
        return fail(AIOE_ERR_NOMEM, err, errlen, off, 0, "out of memory");
    }
    const char *s = text;
    int rc = 0;
    if (s[st] == '$') {
        size_t rest = len - st;
        if (rest >= 8 && strncmp(s + st, "$source.", 8) == 0) {
            if (use == FPATH_OUTPUT)
                rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                          "$source names the input record; outputs are plain paths");
            else
                rc = split(s, st + 8, len, true, p, err, errlen, off);
        } else if (rest >= 8 && strncmp(s + st, "$context", 8) == 0) {
            rc = fail(AIOE_ERR_UNSUPPORTED, err, errlen, off, st,
                      "$context (contextualization datasets) is not supported yet");
        } else if (rest >= 10 && strncmp(s + st, "$metadata.", 10) == 0) {
            const char *m = s + st + 10;
            size_t mlen = len - st - 10;
            if (mlen == 5 && memcmp(m, "topic", 5) == 0 && use == FPATH_INPUT) {
                p->root = FP_TOPIC;
            } else if (mlen == strlen("system_property.content_type") &&
                       memcmp(m, "system_property.content_type", mlen) == 0 &&
                       use == FPATH_INPUT) {
                p->root = FP_CONTENT_TYPE;
            } else if (mlen > 14 && memcmp(m, "user_property.", 14) == 0) {
                p->root = FP_USER_PROPERTY;
                rc = split(s, st + 24, len, false, p, err, errlen, off);
                if (rc == 0 && p->nseg != 1)
                    rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st + 24,
                              "a user property name is one segment: quote it when it "
                              "holds a '.'");
            } else if (mlen >= 7 && memcmp(m, "header.", 7) == 0) {
                rc = fail(AIOE_ERR_UNSUPPORTED, err, errlen, off, st,
                          "$metadata.header is for Kafka; MQTT messages have "
                          "$metadata.user_property");
            } else if (use == FPATH_OUTPUT) {
                rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                          "the only metadata an output can set is "
                          "$metadata.user_property.<name>");
            } else {
                rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                          "unknown metadata: use $metadata.topic, "
                          "$metadata.user_property.<name> or "
                          "$metadata.system_property.content_type");
            }
            if (rc == 0 && p->last)
                rc = fail(AIOE_ERR_UNSUPPORTED, err, errlen, off, st,
                          "'? $last' applies to payload fields, not to metadata");
        } else {
            rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                      "unknown reference: paths starting with '$' are $metadata.<field>, "
                      "$source.<path> or $context(<dataset>).<path>");
        }
    } else {
        rc = split(s, st, len, true, p, err, errlen, off);
    }
    if (rc == 0 && p->last && p->star >= 0)
        rc = fail(AIOE_ERR_INVALID_SPEC, err, errlen, off, st,
                  "'? $last' cannot be used with a wildcard");
    if (rc) {
        aioe__transform_fpath_clear(p);
        return rc;
    }
    return 0;
}
