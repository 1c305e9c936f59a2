/* Reading (not verifying) JWT claims: the library only needs `exp`, `iat`
 * and `aud` to decide when to reconnect with a fresh token. Pure. */
#ifndef AIOE_JWT_H
#define AIOE_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct aioe_jwt_claims {
    bool has_exp;
    int64_t exp;   /* seconds since the epoch */
    bool has_iat;
    int64_t iat;
    bool has_nbf;
    int64_t nbf;
} aioe_jwt_claims;

/* Decodes base64url (padding optional) into out (capacity *out_len, which
 * receives the decoded length). Returns 0, or -1 on invalid input or a
 * buffer too small. */
int aioe_base64url_decode(const char *in, size_t in_len, unsigned char *out,
                          size_t *out_len);

/* Reads the claims of a compact JWS "header.payload.signature" (surrounding
 * whitespace ignored). Returns AIOE_OK, or AIOE_ERR_INVALID_ARG when the
 * token is not a JWT with a JSON object payload; numeric claims that are
 * not integers are ignored. */
int aioe_jwt_read_claims(const char *token, size_t len, aioe_jwt_claims *out);

/* When to refresh a token: exp minus a margin of a fifth of its lifetime
 * (iat..exp, or now..exp without iat), at least 1 s and at most 300 s.
 * Returns 0 when the token has no exp (refresh only on file change). */
int64_t aioe_jwt_refresh_at(const aioe_jwt_claims *c, int64_t now);

#endif
