/* Small pure helpers for the spec parser: suggestions, name and host
 * validation, string formatting. */
#ifndef AIOE_SPEC_UTIL_H
#define AIOE_SPEC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the candidate closest to word (case-insensitive edit distance)
 * when it is close enough to be a plausible typo, else NULL. */
const char *aioe_did_you_mean(const char *word, size_t len,
                              const char *const *candidates);

/* Case-insensitive edit distance, capped at 255. */
unsigned aioe_edit_distance(const char *a, size_t alen, const char *b, size_t blen);

/* Kubernetes object names. */
bool aioe_is_dns1123_subdomain(const char *s, size_t len);
bool aioe_is_dns1123_label(const char *s, size_t len);

/* A host name (RFC 1123, labels of letters, digits and '-') or an IPv4
 * address. */
bool aioe_is_hostname(const char *s, size_t len);

/* True when the text looks like a documentation placeholder: <...>. */
bool aioe_is_placeholder(const char *s, size_t len);

/* True when the text has a control character (including NUL). */
bool aioe_has_control_char(const char *s, size_t len);

/* Splits "host:port" / "[v6]:port". With `websockets`, the form is
 * "host[:port][/path]": the port may be left out (*port is then 0) and a
 * path starting with '/' may follow (*path gets a malloc'd copy, else
 * NULL). *host is a malloc'd copy; the caller frees both. Returns NULL on
 * success or a static message describing the problem; *hint then gets a
 * static fix. */
const char *aioe_split_host_port(const char *s, size_t len, bool websockets, char **host,
                                 uint16_t *port, char **path, const char **hint);

/* malloc'd printf. NULL when memory runs out. */
char *aioe_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *aioe_strndup(const char *s, size_t len);

#endif /* AIOE_SPEC_UTIL_H */
