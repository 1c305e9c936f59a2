/* Managed-identity token sources (OAUTH2-JWT): configuration, the pure
 * protocol parts (response parsing, retry classification, Arc challenge
 * path rules, refresh schedule, source selection), the HTTP exchange
 * (libcurl, behind a function pointer so unit tests substitute it), the
 * per-process token cache and the aioe_token_source that sessions use.
 *
 * Files: mi_options.c (public options, environment), mi_protocol.c (pure),
 * mi_http.c (libcurl), mi_fetch.c (one source's request flow + retries),
 * mi_cache.c (cache, token source). */
#ifndef AIOE_MI_H
#define AIOE_MI_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "aioendpoint/identity.h"
#include "aioendpoint/spec.h"
#include "auth.h"

#define MI_IMDS_DEFAULT_URL "http://169.254.169.254/metadata/identity/oauth2/token"
#define MI_ARC_DEFAULT_URL "http://127.0.0.1:40342/metadata/identity/oauth2/token"
#define MI_AUTHORITY_DEFAULT "https://login.microsoftonline.com/"
#define MI_ARC_KEY_DIR_DEFAULT "/var/opt/azcmagent/tokens"
#define MI_ARC_KEY_MAX 4096
#define MI_DEFAULT_RESOURCE "https://eventgrid.azure.net"
#define MI_DEFAULT_SCOPE "https://eventgrid.azure.net/.default"

/* Our own overrides (the Azure variables keep their Azure meaning). */
#define MI_ENV_SOURCE "AIOE_IDENTITY_SOURCE"     /* imds|arc|appservice|workload */
#define MI_ENV_ENDPOINT "AIOE_IDENTITY_ENDPOINT"
#define MI_ENV_CA_FILE "AIOE_IDENTITY_CA_FILE"
#define MI_ENV_ARC_KEY_DIR "AIOE_IDENTITY_ARC_KEY_DIR"

struct aioe_identity_options {
    aioe_identity_source source;
    char *endpoint;
    char *ca_file;
    char *federated_token_file;
    char *identity_header;
    char *arc_key_dir;
    uint32_t request_timeout_ms, backoff_initial_ms, retry_total_ms,
        gone_window_ms;
};

/* aioe_identity_options_copy(): declared in the door, auth.h. */

/* ---- HTTP seam ----------------------------------------------------- */

typedef struct mi_http_req {
    const char *method;        /* "GET" or "POST" */
    const char *url;
    const char *const *headers;/* "Name: value", NULL-terminated; may be NULL */
    const char *body;          /* POST form body, may be NULL */
    const char *ca_file;       /* NULL = system store */
    uint32_t timeout_ms;
} mi_http_req;

typedef struct mi_http_resp {
    int status;                /* HTTP status, 0 when no response */
    bool timed_out;            /* no response in time */
    char *body;                /* NUL-terminated, wiped and freed by _clear */
    size_t body_len;
    char *www_authenticate;    /* header value or NULL */
    uint32_t retry_after_s;    /* Retry-After, 0 = none */
    char transport_error[160]; /* when status == 0 */
} mi_http_resp;

typedef int (*mi_http_fn)(void *ctx, const mi_http_req *req, mi_http_resp *resp);
/* The libcurl implementation; ctx unused. Returns AIOE_OK when an HTTP
 * response (any status) arrived, else AIOE_ERR_TIMEOUT / AIOE_ERR_CONNECTION
 * with transport_error set. */
int aioe__mi_http_curl(void *ctx, const mi_http_req *req, mi_http_resp *resp);
void aioe__mi_http_resp_clear(mi_http_resp *r);

/* ---- resolved configuration ------------------------------------------ */

typedef struct mi_config {
    aioe_identity_source source;   /* never AUTO */
    char *url;                     /* token URL, or authority host (workload) */
    char *ca_file;
    char *federated_token_file;
    char *identity_header;         /* App Service secret */
    char *arc_key_dir;
    /* what to ask for */
    char *resource;                /* IMDS/Arc/App Service */
    char *scope;                   /* workload identity */
    char *client_id;               /* user-assigned / workload identity */
    char *tenant_id;               /* workload identity */
    bool user_assigned;
    uint32_t request_timeout_ms, backoff_initial_ms, backoff_max_ms,
        retry_total_ms, gone_window_ms;
    /* seams for tests */
    mi_http_fn http;
    void *http_ctx;
    void (*sleep_ms)(void *ctx, uint32_t ms);
    void *sleep_ctx;
} mi_config;

typedef const char *(*mi_getenv_fn)(void *ctx, const char *name);

/* Picks the source the Azure SDKs would pick from the environment, for an
 * endpoint whose user-assigned settings name client_id/tenant_id (NULL for
 * system-assigned). Pure. */
aioe_identity_source aioe__mi_select_source(mi_getenv_fn env, void *ctx,
                                      const char *client_id,
                                      const char *tenant_id);

/* Builds a config for ep (a managed-identity endpoint) from opts (may be
 * NULL) and the environment. On failure writes a message naming what is
 * missing. */
int aioe__mi_config_resolve(mi_config *cfg, const aioe_endpoint *ep,
                      const aioe_identity_options *opts, mi_getenv_fn env,
                      void *env_ctx, char *err, size_t errlen);
void aioe__mi_config_clear(mi_config *cfg);
const char *aioe__mi_getenv_process(void *ctx, const char *name);

/* The cache key: "<source>|<url>|<client_id>|<tenant_id>|<resource or scope>". */
char *aioe__mi_config_key(const mi_config *cfg);

/* ---- pure protocol parts --------------------------------------------- */

typedef struct mi_token {
    char *access_token;        /* wiped on clear */
    size_t len;
    int64_t exp;               /* effective expiry (earliest known) */
    int64_t iat;               /* JWT iat, else the time it was obtained */
    int64_t refresh_at;        /* when to fetch the next one */
} mi_token;

void aioe__mi_token_clear(mi_token *t);

/* Parses a token response body. expires_in / expires_on may be numbers or
 * decimal strings; the token's own exp is read when it is a JWT. The
 * effective exp is the earliest of JWT exp, expires_on, now+expires_in
 * (the broker enforces the JWT's exp; a service that says earlier is
 * believed). Returns AIOE_OK, AIOE_ERR_PROTOCOL (not JSON, no
 * access_token, no expiry at all) or AIOE_ERR_NOMEM. */
int aioe__mi_parse_token_response(const char *body, size_t len, int64_t now,
                            mi_token *out, char *err, size_t errlen);

/* Copies the service's error text (error_description, error.message,
 * message, error, or the start of the body) into buf, printable ASCII only. */
void aioe__mi_error_text(const char *body, size_t len, char *buf, size_t buflen);

typedef enum mi_retry_class {
    MI_FINAL = 0,      /* do not retry */
    MI_RETRY = 1,      /* exponential backoff within the total bound */
    MI_RETRY_GONE = 2, /* 410: keep retrying for the gone window */
} mi_retry_class;

/* status 0 = transport failure (timeout, refused): retry. */
mi_retry_class aioe__mi_classify(int http_status);

/* Delay before try number `attempt` (1 = the first retry): initial * 2^(attempt-1),
 * capped at max_ms, and at least retry_after_s seconds when the service said so. */
uint32_t aioe__mi_backoff_ms(uint32_t initial_ms, uint32_t max_ms, unsigned attempt,
                       uint32_t retry_after_s);

/* Parses `Basic realm=<path>` (case-insensitive scheme, optional quotes)
 * and checks the path: absolute, inside dir (after resolving symlinks and
 * "..", which requires the file to exist), ending in ".key", a regular file
 * of at most MI_ARC_KEY_MAX bytes. On success *path_out is malloc'd
 * (resolved path). Returns AIOE_OK or AIOE_ERR_AUTH with a message. */
int aioe__mi_arc_challenge_path(const char *www_authenticate, const char *dir,
                          char **path_out, char *err, size_t errlen);

/* Refresh schedule: a token living at least 2 h (exp - iat) is refreshed
 * at half-life; a shorter one min(300 s, life / 2) before exp. */
int64_t aioe__mi_refresh_at(int64_t iat, int64_t exp);

/* ---- fetching ---------------------------------------------------------- */

/* One token from the configured source: the whole request flow (Arc
 * challenge, workload form POST), with retries when `retry` is set
 * (otherwise one exchange). */
int aioe__mi_fetch(const mi_config *cfg, bool retry, mi_token *out, char *err,
             size_t errlen);

/* ---- cache and token source ------------------------------------------- */

/* Creates the OAUTH2-JWT token source for ep; cfg is moved into the
 * source (cleared on return, success or not). Sources with the same key
 * share one cache entry. */
int aioe_token_source_mi_new(mi_config *cfg, aioe_token_source *out);

/* aioe_token_source_mi_for_endpoint(): declared in the door, auth.h. */

/* For tests: how many HTTP fetches the cache entry for key made. */
unsigned aioe__mi_cache_fetch_count(const char *key);

/* The wall clock the cache and the fetch flow use (seconds), replaceable
 * by tests. Defined in mi_fetch.c. */
extern int64_t (*aioe__mi_wall_clock)(void);

#endif
