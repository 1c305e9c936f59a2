/* Pure parts of the managed-identity protocols: token response parsing,
 * retry classification and backoff, the Arc challenge path rules, the
 * refresh schedule and source selection. No network I/O (the Arc path
 * check stats and resolves the named file). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "aioendpoint/common.h"
#include "jwt.h"
#include "mi.h"

void aioe__mi_token_clear(mi_token *t)
{
    if (!t)
        return;
    if (t->access_token) {
        OPENSSL_cleanse(t->access_token, t->len);
        free(t->access_token);
    }
    memset(t, 0, sizeof *t);
}

/* A number, or a string of decimal digits (what IMDS sends). */
static bool json_int_field(json_object *obj, const char *name, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || !v)
        return false;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return true;
    }
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (!(d >= 0 && d <= 9.0e15)) /* also refuses NaN */
            return false;
        *out = (int64_t)d;
        return true;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (!*s)
            return false;
        for (const char *p = s; *p; p++)
            if (!isdigit((unsigned char)*p))
                return false; /* e.g. an old App Service date string */
        errno = 0;
        long long n = strtoll(s, NULL, 10);
        if (errno)
            return false;
        *out = n;
        return true;
    }
    return false;
}

int aioe__mi_parse_token_response(const char *body, size_t len, int64_t now,
                            mi_token *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body || len == 0 || len > 1024 * 1024) {
        snprintf(err, errlen, "empty or oversized token response");
        return AIOE_ERR_PROTOCOL;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return AIOE_ERR_NOMEM;
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    bool ok_json = obj && json_tokener_get_error(tok) == json_tokener_success &&
                   json_object_is_type(obj, json_type_object);
    json_tokener_free(tok);
    int rc = AIOE_ERR_PROTOCOL;
    json_object *at;
    if (!ok_json) {
        snprintf(err, errlen, "token response is not a JSON object");
        goto out;
    }
    if (!json_object_object_get_ex(obj, "access_token", &at) ||
        !json_object_is_type(at, json_type_string) ||
        json_object_get_string_len(at) == 0) {
        snprintf(err, errlen, "token response has no access_token");
        goto out;
    }
    int64_t exp = 0, v;
    if (json_int_field(obj, "expires_on", &v) && v > 0)
        exp = v;
    if (json_int_field(obj, "expires_in", &v) && v >= 0) {
        /* saturate: a hostile expires_in must not overflow */
        int64_t until = now > 0 && v > INT64_MAX - now ? INT64_MAX : now + v;
        if (exp == 0 || until < exp)
            exp = until;
    }
    const char *s = json_object_get_string(at);
    size_t slen = (size_t)json_object_get_string_len(at);
    aioe_jwt_claims c;
    int64_t iat = now;
    if (aioe_jwt_read_claims(s, slen, &c) == AIOE_OK) {
        if (c.has_exp && (exp == 0 || c.exp < exp))
            exp = c.exp;
        if (c.has_iat && c.iat > 0 && c.iat <= now + 300)
            iat = c.iat;
    }
    if (exp == 0) {
        snprintf(err, errlen, "token response has no expires_in, expires_on "
                 "or exp");
        goto out;
    }
    if (now > 0 && exp <= now) {
        /* sending it would only get the CONNECT refused */
        snprintf(err, errlen, "token response holds a token that has already "
                 "expired (%lld s ago)", (long long)(now - exp));
        goto out;
    }
    out->access_token = malloc(slen + 1);
    if (!out->access_token) {
        rc = AIOE_ERR_NOMEM;
        goto out;
    }
    memcpy(out->access_token, s, slen + 1);
    out->len = slen;
    out->exp = exp;
    out->iat = iat < exp ? iat : now;
    out->refresh_at = aioe__mi_refresh_at(out->iat, exp);
    rc = AIOE_OK;
out:
    /* the parsed tree holds a copy of the token */
    if (obj && json_object_object_get_ex(obj, "access_token", &at) &&
        json_object_is_type(at, json_type_string))
        OPENSSL_cleanse((void *)json_object_get_string(at),
                        (size_t)json_object_get_string_len(at));
    json_object_put(obj);
    return rc;
}

static void copy_printable(char *buf, size_t buflen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < buflen; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    if (buflen)
        buf[o] = '\0';
}

void aioe__mi_error_text(const char *body, size_t len, char *buf, size_t buflen)
{
    if (!buflen)
        return;
    buf[0] = '\0';
    if (!body || !len)
        return;
    json_object *obj = json_tokener_parse(body);
    const char *text = NULL;
    if (obj && json_object_is_type(obj, json_type_object)) {
        json_object *v, *m;
        if (json_object_object_get_ex(obj, "error_description", &v) &&
            json_object_is_type(v, json_type_string))
            text = json_object_get_string(v);
        else if (json_object_object_get_ex(obj, "error", &v) &&
                 json_object_is_type(v, json_type_object) &&
                 json_object_object_get_ex(v, "message", &m) &&
                 json_object_is_type(m, json_type_string))
            text = json_object_get_string(m);
        else if (json_object_object_get_ex(obj, "message", &v) &&
                 json_object_is_type(v, json_type_string))
            text = json_object_get_string(v);
        else if (json_object_object_get_ex(obj, "error", &v) &&
                 json_object_is_type(v, json_type_string))
            text = json_object_get_string(v);
    }
    if (text)
        copy_printable(buf, buflen, text, strlen(text));
    else
        copy_printable(buf, buflen, body, len < 200 ? len : 200);
    json_object_put(obj);
}

mi_retry_class aioe__mi_classify(int status)
{
    if (status == 0 || status == 404 || status == 408 || status == 429 ||
        (status >= 500 && status <= 599))
        return MI_RETRY;
    if (status == 410)
        return MI_RETRY_GONE;
    return MI_FINAL;
}

uint32_t aioe__mi_backoff_ms(uint32_t initial_ms, uint32_t max_ms, unsigned attempt,
                       uint32_t retry_after_s)
{
    uint64_t d = initial_ms ? initial_ms : 1;
    for (unsigned i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t ra = (uint64_t)retry_after_s * 1000;
    if (ra > d)
        d = ra;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int aioe__mi_arc_challenge_path(const char *hdr, const char *dir, char **path_out,
                          char *err, size_t errlen)
{
    *path_out = NULL;
    if (!hdr) {
        snprintf(err, errlen, "Azure Arc: 401 without WWW-Authenticate");
        return AIOE_ERR_AUTH;
    }
    while (*hdr == ' ')
        hdr++;
    if (strncasecmp(hdr, "Basic", 5) != 0 || hdr[5] != ' ') {
        snprintf(err, errlen, "Azure Arc: challenge is not Basic");
        return AIOE_ERR_AUTH;
    }
    const char *r = NULL;
    for (const char *q = hdr; *q && !r; q++)
        if (strncasecmp(q, "realm=", 6) == 0)
            r = q;
    if (!r) {
        snprintf(err, errlen, "Azure Arc: challenge has no realm");
        return AIOE_ERR_AUTH;
    }
    r += 6;
    char path[PATH_MAX];
    size_t n = 0;
    bool quoted = *r == '"';
    if (quoted)
        r++;
    while (*r && n + 1 < sizeof path &&
           (quoted ? *r != '"' : (*r != ',' && *r != ' ' && *r != '\r' && *r != '\n')))
        path[n++] = *r++;
    path[n] = '\0';
    size_t plen = strlen(path);
    if (plen < 5 || path[0] != '/' || strcmp(path + plen - 4, ".key") != 0) {
        snprintf(err, errlen, "Azure Arc: challenge file \"%s\" is not an "
                 "absolute path ending in .key", path);
        return AIOE_ERR_AUTH;
    }
    char rdir[PATH_MAX], rfile[PATH_MAX];
    if (!realpath(dir, rdir)) {
        snprintf(err, errlen, "Azure Arc: key directory %s does not exist", dir);
        return AIOE_ERR_AUTH;
    }
    if (!realpath(path, rfile)) {
        snprintf(err, errlen, "Azure Arc: challenge file %s does not exist", path);
        return AIOE_ERR_AUTH;
    }
    size_t dl = strlen(rdir);
    if (strncmp(rfile, rdir, dl) != 0 || rfile[dl] != '/' ||
        strchr(rfile + dl + 1, '/') != NULL) {
        snprintf(err, errlen, "Azure Arc: challenge file %s is not in %s",
                 path, dir);
        return AIOE_ERR_AUTH;
    }
    size_t rl = strlen(rfile);
    if (rl < 5 || strcmp(rfile + rl - 4, ".key") != 0) {
        snprintf(err, errlen, "Azure Arc: challenge file %s does not end in .key",
                 path);
        return AIOE_ERR_AUTH;
    }
    struct stat st;
    if (stat(rfile, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "Azure Arc: challenge file %s is not a regular file",
                 path);
        return AIOE_ERR_AUTH;
    }
    if (st.st_size > MI_ARC_KEY_MAX) {
        snprintf(err, errlen, "Azure Arc: challenge file %s is larger than "
                 "%d bytes", path, MI_ARC_KEY_MAX);
        return AIOE_ERR_AUTH;
    }
    if (!(*path_out = strdup(rfile)))
        return AIOE_ERR_NOMEM;
    return AIOE_OK;
}

int64_t aioe__mi_refresh_at(int64_t iat, int64_t exp)
{
    if (exp <= iat)
        return exp;
    /* unsigned: exact for iat < exp, no overflow on hostile claims */
    uint64_t life = (uint64_t)exp - (uint64_t)iat;
    if (life >= 7200)
        return (int64_t)((uint64_t)iat + life / 2);
    int64_t margin = life / 2 < 300 ? (int64_t)(life / 2) : 300;
    return exp - margin;
}

static bool set(mi_getenv_fn env, void *ctx, const char *name)
{
    const char *v = env(ctx, name);
    return v && *v;
}

aioe_identity_source aioe__mi_select_source(mi_getenv_fn env, void *ctx,
                                      const char *client_id,
                                      const char *tenant_id)
{
    if (set(env, ctx, "AZURE_FEDERATED_TOKEN_FILE") &&
        (client_id || set(env, ctx, "AZURE_CLIENT_ID")) &&
        (tenant_id || set(env, ctx, "AZURE_TENANT_ID")))
        return AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY;
    if (set(env, ctx, "IDENTITY_ENDPOINT") && set(env, ctx, "IMDS_ENDPOINT"))
        return AIOE_IDENTITY_SOURCE_ARC;
    if (set(env, ctx, "IDENTITY_ENDPOINT") && set(env, ctx, "IDENTITY_HEADER"))
        return AIOE_IDENTITY_SOURCE_APP_SERVICE;
    return AIOE_IDENTITY_SOURCE_IMDS;
}
