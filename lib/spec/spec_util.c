/* Pure helpers for the spec parser. */
#include "spec_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_letter(char a, char b)
{
    return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours each cost one, letter case costs none. */
unsigned aioe_edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
    enum { MAX = 64 };
    if (alen >= MAX || blen >= MAX)
        return 255;
    unsigned rows[3][MAX + 1];
    unsigned *before = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= blen; j++) {
            unsigned best = prev[j - 1] + (same_letter(a[i - 1], b[j - 1]) ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) &&
                same_letter(a[i - 2], b[j - 1]) && before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        unsigned *t = before;
        before = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen] > 255 ? 255 : prev[blen];
}

static bool has_prefix_ci(const char *s, size_t slen, const char *prefix, size_t plen)
{
    if (plen > slen)
        return false;
    for (size_t i = 0; i < plen; i++)
        if (!same_letter(s[i], prefix[i]))
            return false;
    return true;
}

const char *aioe_did_you_mean(const char *word, size_t len,
                              const char *const *candidates)
{
    const char *best = NULL;
    unsigned best_d = 255;
    for (const char *const *c = candidates; *c; c++) {
        size_t clen = strlen(*c);
        unsigned d = aioe_edit_distance(word, len, *c, clen);
        /* Allow about one typo per four characters, at least one. */
        unsigned allowed = (unsigned)(clen > len ? clen : len) / 4;
        if (allowed < 1)
            allowed = 1;
        if (d <= allowed && d < best_d) {
            best = *c;
            best_d = d;
        }
    }
    if (best || len < 4)
        return best;
    /* A shortened or lengthened name: "keepAlive" for "keepAliveSeconds". */
    for (const char *const *c = candidates; *c; c++) {
        size_t clen = strlen(*c);
        if (has_prefix_ci(*c, clen, word, len) || has_prefix_ci(word, len, *c, clen))
            return *c;
    }
    return NULL;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool aioe_is_dns1123_label(const char *s, size_t len)
{
    if (len == 0 || len > 63)
        return false;
    if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool aioe_is_dns1123_subdomain(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;
            if (n == 0 || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
                return false;
            for (size_t k = start; k < i; k++)
                if (!is_lower_alnum(s[k]) && s[k] != '-')
                    return false;
            start = i + 1;
        }
    }
    return true;
}

bool aioe_is_hostname(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '.')
        len--; /* a fully qualified name may end with a dot */
    if (len == 0 || len > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;
            if (n == 0 || n > 63 || s[start] == '-' || s[i - 1] == '-')
                return false;
            for (size_t k = start; k < i; k++)
                if (!isalnum((unsigned char)s[k]) && s[k] != '-')
                    return false;
            start = i + 1;
        }
    }
    return true;
}

bool aioe_is_placeholder(const char *s, size_t len)
{
    const char *lt = memchr(s, '<', len);
    return lt && memchr(lt, '>', len - (size_t)(lt - s)) != NULL;
}

bool aioe_has_control_char(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* An HTTP path for the WebSocket upgrade: '/' then printable ASCII
 * without spaces, and no query or fragment (the broker's URL is ours). */
static bool is_ws_path(const char *s, size_t len)
{
    if (len == 0 || s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '?' || s[i] == '#')
            return false;
    return true;
}

const char *aioe_split_host_port(const char *s, size_t len, bool websockets, char **host,
                                 uint16_t *port, char **path, const char **hint)
{
    *host = NULL;
    *path = NULL;
    *port = 0;
    *hint = "";
    if (len == 0) {
        *hint = "write the broker as <hostname>:<port>, for example aio-broker:18883";
        return "host is empty";
    }
    if (aioe_is_placeholder(s, len)) {
        *hint = "replace the <...> placeholder with your broker's host name and port";
        return "host still holds a documentation placeholder";
    }
    /* The path starts at the first '/' after the host (and after the
     * brackets of an IPv6 address). */
    const char *after = s;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        after = close ? close : s;
    }
    const char *slash = memchr(after, '/', len - (size_t)(after - s));
    size_t plen = 0;
    if (slash) {
        plen = len - (size_t)(slash - s);
        if (!websockets) {
            *hint = "a path is part of a WebSocket URL: set protocol: WebSockets, or remove "
                    "the path (MQTT over TCP is host:port only)";
            return "host has a path, which only protocol: WebSockets takes";
        }
        if (!is_ws_path(slash, plen)) {
            *hint = "give the WebSocket path as /<segments> without spaces, '?' or '#', "
                    "for example host:443/mqtt";
            return "not a valid WebSocket path";
        }
        len = (size_t)(slash - s);
        if (len == 0) {
            *hint = "put the host name before the path, for example host:443/mqtt";
            return "host is empty";
        }
    }
    const char *name, *port_text = NULL;
    size_t name_len, port_len = 0;
    bool v6 = false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            *hint = "close the IPv6 address with ']', for example [fd00::1]:8883";
            return "IPv6 address has no closing ']'";
        }
        name = s + 1;
        name_len = (size_t)(close - name);
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest > 0 && close[1] != ':') {
            *hint = "add the port after the address, for example [fd00::1]:8883";
            return "host has no port";
        }
        if (rest > 0) {
            port_text = close + 2;
            port_len = rest - 1;
        }
        v6 = true;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
            *hint = "write IPv6 addresses in brackets, for example [fd00::1]:8883";
            return "host has more than one ':'";
        }
        name = s;
        name_len = colon ? (size_t)(colon - s) : len;
        if (colon) {
            port_text = colon + 1;
            port_len = len - name_len - 1;
        }
    }
    if (!port_text && !websockets) {
        *hint = "add the port, for example :8883 for MQTT over TLS or :1883 without TLS";
        return "host has no port";
    }
    if (port_text && !parse_port(port_text, port_len, port)) {
        *hint = "use a port number from 1 to 65535";
        return "port is not a number from 1 to 65535";
    }
    char *copy = aioe_strndup(name, name_len);
    if (!copy)
        return "out of memory";
    if (v6) {
        unsigned char buf[16];
        if (inet_pton(AF_INET6, copy, buf) != 1) {
            free(copy);
            *hint = "put only an IPv6 address inside the brackets";
            return "not a valid IPv6 address";
        }
    } else if (!aioe_is_hostname(copy, name_len)) {
        free(copy);
        *hint = "use a DNS name (letters, digits, '-' and '.') or an IPv4 address";
        return "not a valid host name";
    }
    if (slash && !(*path = aioe_strndup(slash, plen))) {
        free(copy);
        return "out of memory";
    }
    *host = copy;
    return NULL;
}

char *aioe_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

char *aioe_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
