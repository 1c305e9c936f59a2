/* Token sources: where a token-based authentication method gets the bytes
 * it puts in CONNECT's Authentication Data. The session only sees this
 * vtable, so a managed-identity source (OAUTH2-JWT, fetched over HTTP)
 * slots in without touching session code. */
#ifndef AIOE_TOKEN_SOURCE_H
#define AIOE_TOKEN_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "aioendpoint/spec.h"

typedef struct aioe_token {
    unsigned char *data;  /* owned; the secret itself: never log it */
    size_t len;
    int64_t exp;          /* seconds since the epoch; 0 = unknown */
    int64_t iat;          /* 0 = unknown */
} aioe_token;

typedef struct aioe_token_source_ops {
    /* CONNECT Authentication Method, e.g. "K8S-SAT". */
    const char *auth_method;
    /* Gets a fresh token. Called on the supervisor thread before every
     * connect; may block (file read, HTTP). On failure writes a message
     * (never the token) to err and returns an aioe_status. */
    int (*fetch)(void *self, aioe_token *out, char *err, size_t errlen);
    /* Cheap check, called every token-check interval while connected:
     * true when the source now has a token different from the one last
     * fetched (file rotated). NULL = never. */
    bool (*changed)(void *self);
    /* The host asked for credentials to be re-read now
     * (aioe_session_reload_credentials): like changed(), but skipping every
     * shortcut (file metadata, refresh schedule, backoff), so a token that
     * differs is seen at once. Supervisor thread, while connected; may
     * block (file read, one HTTP exchange). NULL = use changed(). */
    bool (*reload)(void *self);
    /* Starts calling notify(ctx), from another thread, whenever the token
     * may have changed (the token file's directory changed: inotify), so
     * the session checks at once instead of at its next poll; polling goes
     * on regardless. Idempotent; the watch ends with destroy. AIOE_OK, or
     * an error with a message (the session logs it and relies on polling).
     * notify must be short, may take the session's lock, and must not call
     * back into the source. NULL = nothing to watch. */
    int (*watch)(void *self, void (*notify)(void *ctx), void *ctx, char *err,
                 size_t errlen);
    void (*destroy)(void *self);
} aioe_token_source_ops;

typedef struct aioe_token_source {
    const aioe_token_source_ops *ops;
    void *self;
} aioe_token_source;

void aioe_token_clear(aioe_token *t);
void aioe_token_source_destroy(aioe_token_source *src);

/* The service account token source: reads `path` on every fetch; changed()
 * stats the path (following the kubelet's ..data symlink swap) and
 * compares contents. path is copied. */
int aioe_token_source_sat_new(const char *path, aioe_token_source *out);

#define AIOE_SAT_TOKEN_FILE_ENV "AIOE_SAT_TOKEN_FILE"
#define AIOE_SAT_TOKEN_FILE_DEFAULT "/var/run/secrets/tokens/broker-sat"

#endif
