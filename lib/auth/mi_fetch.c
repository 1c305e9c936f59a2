/* One token from one source: the request each platform documents, and the
 * retry policy around it.
 *   IMDS         GET {url}?api-version=2018-02-01&resource=R[&client_id=C]
 *                Metadata: true
 *   Azure Arc    GET {url}?api-version=2020-06-01&resource=R, Metadata: true
 *                -> 401 WWW-Authenticate: Basic realm=<key file>
 *                -> again with Authorization: Basic <key file contents>
 *   App Service  GET {url}?api-version=2019-08-01&resource=R[&client_id=C]
 *                X-IDENTITY-HEADER: <IDENTITY_HEADER>
 *   Workload     POST {authority}{tenant}/oauth2/v2.0/token, form body with
 *                the federated token as client_assertion
 * Tokens, key files and assertions are wiped from memory after use and
 * never appear in an error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curl_loader.h"
#include <openssl/crypto.h>

#include "aioendpoint/common.h"
#include "mi.h"
#include "resolver.h"

/* Defined here, the lower of the two files that read it (mi_cache.c calls
 * aioe__mi_fetch(), not the other way round). */
static int64_t default_wall_clock(void)
{
    return (int64_t)time(NULL);
}

int64_t (*aioe__mi_wall_clock)(void) = default_wall_clock;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void default_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void wipe_free(char *s, size_t n)
{
    if (s) {
        OPENSSL_cleanse(s, n);
        free(s);
    }
}

/* Appends "&name=<escaped value>" (or "?" first) to a malloc'd string. */
static int append_param(char **s, const char *name, const char *value)
{
    const aioe_curl_api *C = aioe_curl(NULL);
    char *esc = C ? C->easy_escape(NULL, value, 0) : NULL;
    if (!esc)
        return C ? AIOE_ERR_NOMEM : AIOE_ERR_UNSUPPORTED;
    size_t n = strlen(*s) + strlen(name) + strlen(esc) + 3;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s%s%s=%s", *s, strchr(*s, '?') ? "&" : "?", name, esc);
    C->free(esc);
    if (!r)
        return AIOE_ERR_NOMEM;
    free(*s);
    *s = r;
    return AIOE_OK;
}

/* Query URL for IMDS / Arc / App Service. */
static int build_get_url(const mi_config *c, char **out)
{
    const char *ver = c->source == AIOE_IDENTITY_SOURCE_ARC ? "2020-06-01" :
                      c->source == AIOE_IDENTITY_SOURCE_APP_SERVICE ? "2019-08-01" :
                      "2018-02-01";
    *out = strdup(c->url);
    if (!*out)
        return AIOE_ERR_NOMEM;
    int rc = append_param(out, "api-version", ver);
    if (rc == AIOE_OK)
        rc = append_param(out, "resource", c->resource);
    if (rc == AIOE_OK && c->user_assigned && c->client_id &&
        c->source != AIOE_IDENTITY_SOURCE_ARC)
        rc = append_param(out, "client_id", c->client_id);
    if (rc != AIOE_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static char *form_field(const char *name, const char *value, bool first)
{
    const aioe_curl_api *C = aioe_curl(NULL);
    char *esc = C ? C->easy_escape(NULL, value, 0) : NULL;
    if (!esc)
        return NULL;
    size_t n = strlen(name) + strlen(esc) + 3;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s%s=%s", first ? "" : "&", name, esc);
    OPENSSL_cleanse(esc, strlen(esc));
    C->free(esc);
    return r;
}

/* The workload-identity form body; contains the federated token. */
static int build_workload_body(const mi_config *c, char **out, size_t *out_len,
                               char *err, size_t errlen)
{
    unsigned char *assertion;
    size_t alen;
    *out = NULL;
    int rc = aioe_read_file(c->federated_token_file, 64 * 1024, &assertion, &alen);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "workload identity: federated token file %s %s",
                 c->federated_token_file,
                 rc == AIOE_ERR_NOT_FOUND ? "does not exist" :
                 rc == AIOE_ERR_TOO_LARGE ? "is larger than 64 KiB" :
                 "cannot be read");
        return AIOE_ERR_AUTH;
    }
    while (alen > 0 && (assertion[alen - 1] == '\n' || assertion[alen - 1] == '\r' ||
                        assertion[alen - 1] == ' '))
        alen--;
    char *a = malloc(alen + 1);
    if (!a) {
        wipe_free((char *)assertion, alen);
        return AIOE_ERR_NOMEM;
    }
    memcpy(a, assertion, alen);
    a[alen] = '\0';
    wipe_free((char *)assertion, alen);
    if (alen == 0) {
        free(a);
        snprintf(err, errlen, "workload identity: federated token file %s is "
                 "empty", c->federated_token_file);
        return AIOE_ERR_AUTH;
    }
    char *parts[5] = {
        form_field("client_assertion", a, true),
        form_field("client_assertion_type",
                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", false),
        form_field("client_id", c->client_id, false),
        form_field("grant_type", "client_credentials", false),
        form_field("scope", c->scope, false),
    };
    wipe_free(a, alen);
    size_t n = 1;
    bool ok = true;
    for (int i = 0; i < 5; i++) {
        if (!parts[i])
            ok = false;
        else
            n += strlen(parts[i]);
    }
    char *body = ok ? malloc(n) : NULL;
    if (body) {
        body[0] = '\0';
        for (int i = 0; i < 5; i++)
            strcat(body, parts[i]);
    }
    for (int i = 0; i < 5; i++)
        if (parts[i])
            wipe_free(parts[i], strlen(parts[i]));
    if (!body)
        return AIOE_ERR_NOMEM;
    *out = body;
    *out_len = n - 1;
    return AIOE_OK;
}

static const char *source_label(const mi_config *c)
{
    switch (c->source) {
    case AIOE_IDENTITY_SOURCE_IMDS: return "IMDS";
    case AIOE_IDENTITY_SOURCE_ARC: return "Azure Arc";
    case AIOE_IDENTITY_SOURCE_APP_SERVICE: return "App Service";
    case AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY: return "workload identity";
    default: return "identity";
    }
}

/* Reads the Arc key file named by the challenge into "Authorization: Basic ..". */
static int arc_auth_header(const mi_config *c, const char *www, char **hdr,
                           size_t *hdr_len, char *err, size_t errlen)
{
    char *path;
    int rc = aioe__mi_arc_challenge_path(www, c->arc_key_dir, &path, err, errlen);
    if (rc != AIOE_OK)
        return rc;
    unsigned char *key;
    size_t klen;
    rc = aioe_read_file(path, MI_ARC_KEY_MAX, &key, &klen);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "Azure Arc: cannot read challenge file %s", path);
        free(path);
        return AIOE_ERR_AUTH;
    }
    free(path);
    while (klen > 0 && (key[klen - 1] == '\n' || key[klen - 1] == '\r'))
        klen--;
    size_t n = klen + 32;
    *hdr = malloc(n);
    if (!*hdr) {
        wipe_free((char *)key, klen);
        return AIOE_ERR_NOMEM;
    }
    snprintf(*hdr, n, "Authorization: Basic %.*s", (int)klen, (const char *)key);
    *hdr_len = n;
    wipe_free((char *)key, klen);
    return AIOE_OK;
}

typedef struct attempt_result {
    int status;           /* HTTP status, 0 = transport failure */
    uint32_t retry_after_s;
} attempt_result;

/* One request flow (for Arc: challenge + answer). */
static int fetch_once(const mi_config *c, mi_token *out, attempt_result *ar,
                      char *err, size_t errlen)
{
    mi_http_req req = { 0 };
    mi_http_resp resp = { 0 };
    char *url = NULL, *body = NULL, *auth = NULL;
    size_t body_len = 0, auth_len = 0;
    char *idh = NULL;
    const char *headers[4] = { NULL };
    int rc;
    ar->status = 0;
    ar->retry_after_s = 0;
    req.ca_file = c->ca_file;
    req.timeout_ms = c->request_timeout_ms;
    req.headers = headers;
    if (c->source == AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY) {
        size_t n = strlen(c->url) + strlen(c->tenant_id) + 32;
        if (!(url = malloc(n)))
            return AIOE_ERR_NOMEM;
        snprintf(url, n, "%s%s%s/oauth2/v2.0/token", c->url,
                 c->url[strlen(c->url) - 1] == '/' ? "" : "/", c->tenant_id);
        rc = build_workload_body(c, &body, &body_len, err, errlen);
        if (rc != AIOE_OK) {
            free(url);
            return rc;
        }
        req.method = "POST";
        req.body = body;
        headers[0] = "Content-Type: application/x-www-form-urlencoded";
        headers[1] = "Accept: application/json";
    } else {
        if ((rc = build_get_url(c, &url)) != AIOE_OK)
            return rc;
        req.method = "GET";
        if (c->source == AIOE_IDENTITY_SOURCE_APP_SERVICE) {
            size_t n = strlen(c->identity_header) + 32;
            if (!(idh = malloc(n))) {
                free(url);
                return AIOE_ERR_NOMEM;
            }
            snprintf(idh, n, "X-IDENTITY-HEADER: %s", c->identity_header);
            headers[0] = idh;
        } else {
            headers[0] = "Metadata: true";
        }
    }
    req.url = url;
    rc = c->http(c->http_ctx, &req, &resp);
    if (rc == AIOE_OK && c->source == AIOE_IDENTITY_SOURCE_ARC &&
        resp.status == 401) {
        rc = arc_auth_header(c, resp.www_authenticate, &auth, &auth_len, err,
                             errlen);
        aioe__mi_http_resp_clear(&resp);
        if (rc != AIOE_OK) {
            ar->status = 401;
            goto done;
        }
        headers[1] = auth;
        rc = c->http(c->http_ctx, &req, &resp);
    }
    if (rc != AIOE_OK && rc != AIOE_ERR_NOMEM) {
        snprintf(err, errlen, "%s %s: %s", source_label(c),
                 resp.timed_out ? "timed out" : "unreachable",
                 resp.transport_error);
        ar->status = 0;
        goto done;
    }
    if (rc != AIOE_OK)
        goto done;
    ar->status = resp.status;
    ar->retry_after_s = resp.retry_after_s;
    if (resp.status == 200) {
        char perr[128];
        int64_t now = aioe__mi_wall_clock();
        rc = aioe__mi_parse_token_response(resp.body, resp.body_len, now, out, perr,
                                     sizeof perr);
        if (rc != AIOE_OK) {
            snprintf(err, errlen, "%s: %s", source_label(c), perr);
            ar->status = 502; /* malformed answer: treat like a server error */
        }
    } else {
        char text[200];
        aioe__mi_error_text(resp.body, resp.body_len, text, sizeof text);
        snprintf(err, errlen, "%s answered HTTP %d%s%s", source_label(c),
                 resp.status, *text ? ": " : "", text);
        rc = resp.status == 401 || resp.status == 403 || resp.status == 400
                 ? AIOE_ERR_AUTH : AIOE_ERR_CONNECTION;
        if (c->source == AIOE_IDENTITY_SOURCE_ARC && resp.status == 401)
            rc = AIOE_ERR_AUTH;
    }
done:
    aioe__mi_http_resp_clear(&resp);
    free(url);
    if (body)
        wipe_free(body, body_len);
    if (auth)
        wipe_free(auth, auth_len);
    if (idh)
        wipe_free(idh, strlen(idh));
    return rc;
}

int aioe__mi_fetch(const mi_config *c, bool retry, mi_token *out, char *err,
             size_t errlen)
{
    memset(out, 0, sizeof *out);
    int64_t start = mono_ms();
    int64_t deadline = start + c->retry_total_ms;
    bool gone_seen = false;
    for (unsigned attempt = 1;; attempt++) {
        attempt_result ar;
        int rc = fetch_once(c, out, &ar, err, errlen);
        if (rc == AIOE_OK || rc == AIOE_ERR_NOMEM || !retry)
            return rc;
        mi_retry_class cls = rc == AIOE_ERR_AUTH && ar.status == 401 &&
                             c->source == AIOE_IDENTITY_SOURCE_ARC
                                 ? MI_FINAL : aioe__mi_classify(ar.status);
        if ((rc == AIOE_ERR_AUTH && ar.status == 0) || rc == AIOE_ERR_TLS)
            cls = MI_FINAL; /* local problem: key file, assertion, trust */
        if (cls == MI_FINAL)
            return rc;
        if (cls == MI_RETRY_GONE && !gone_seen) {
            gone_seen = true;
            int64_t gd = mono_ms() + c->gone_window_ms;
            if (gd > deadline)
                deadline = gd;
        }
        uint32_t delay = aioe__mi_backoff_ms(c->backoff_initial_ms, c->backoff_max_ms,
                                       attempt, ar.retry_after_s);
        int64_t now = mono_ms();
        if (now >= deadline) {
            size_t l = strlen(err);
            snprintf(err + l, errlen - l, " (gave up after %u tries in %lld ms)",
                     attempt, (long long)(now - start));
            return rc;
        }
        if (now + delay > deadline)
            delay = (uint32_t)(deadline - now);
        if (c->sleep_ms)
            c->sleep_ms(c->sleep_ctx, delay);
        else
            default_sleep(NULL, delay);
    }
}
