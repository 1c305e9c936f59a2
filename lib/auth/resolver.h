/* Resource resolver: secret / config map references -> bytes (and, for the
 * directory layout, the file path Paho can load directly). */
#ifndef AIOE_RESOLVER_H
#define AIOE_RESOLVER_H

#include <stddef.h>
#include <stdbool.h>

#include "aioendpoint/session.h"

#define AIOE_RESOURCE_DIR_ENV "AIOE_RESOURCE_DIR"
#define AIOE_RESOURCE_DIR_DEFAULT "/etc/aioendpoint"
/* Largest resource read (certificates, keys, bundles). */
#define AIOE_RESOURCE_MAX_BYTES (1024 * 1024)

struct aioe_resource_request {
    aioe_resource_kind kind;
    const char *name;
    const char *key;
    unsigned char *data;
    size_t len;
    bool set;
};

/* A resource key pinned to a file (aioe_session_options_set_resource_file):
 * key NULL = a config map's whole bundle. */
typedef struct aioe__pinned_file {
    aioe_resource_kind kind;
    char *name;
    char *key;
    char *path;
} aioe__pinned_file;

typedef struct aioe_resolver {
    char *root;            /* directory layout root (always set) */
    aioe_resolver_cb cb;   /* host callback, replaces the layout when set */
    void *cb_data;
    aioe_session *session; /* passed to cb */
    /* Pinned files, consulted first; a pinned (kind, name) is answered by
     * its pins only (a key without a pin is not found). Borrowed. */
    const aioe__pinned_file *pins;
    size_t n_pins;
} aioe_resolver;

typedef struct aioe_resource {
    unsigned char *data;   /* NUL-terminated copy (len excludes the NUL) */
    size_t len;
    char *path;            /* file it came from; NULL from a callback or a
                            * concatenated bundle */
} aioe_resource;

/* ---- pure ---- */
/* A secret/config map name or key: 1..253 of [A-Za-z0-9._-], not starting
 * with '.', so "..", "../x", "a/b" and kubelet's "..data" are refused. */
bool aioe_resolver_valid_component(const char *s);
/* Root choice: option, else env (when non-empty), else the default. */
const char *aioe_resolver_pick_root(const char *option, const char *env);
/* "<root>/secrets|configmaps/<name>[/<key>]" into buf. Returns AIOE_OK,
 * AIOE_ERR_INVALID_ARG for an invalid component, AIOE_ERR_TOO_LARGE. */
int aioe_resolver_path(const char *root, aioe_resource_kind kind,
                       const char *name, const char *key, char *buf,
                       size_t size);

/* ---- I/O ---- */
/* Fetches one resource; key NULL (config maps only) = every file of the
 * config map concatenated in name order. On failure writes a message to
 * err and returns AIOE_ERR_NOT_FOUND, AIOE_ERR_IO, AIOE_ERR_TOO_LARGE,
 * AIOE_ERR_INVALID_ARG or the callback's status. */
int aioe_resolver_get(const aioe_resolver *r, aioe_resource_kind kind,
                      const char *name, const char *key, aioe_resource *out,
                      char *err, size_t errlen);
void aioe_resource_clear(aioe_resource *res);
/* Reads a whole regular file (NUL-terminated copy). */
/* Why aioe_read_file() failed, in words, from its status and the errno
 * it left ("permission denied", "is a directory, not a file", ...). */
const char *aioe_read_file_reason(int rc, int err);

int aioe_read_file(const char *path, size_t max, unsigned char **data,
                   size_t *len);

#endif
