/* Public identity options and the resolution of a managed-identity
 * endpoint + options + environment into one mi_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "aioendpoint/common.h"
#include "mi.h"

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

int aioe_identity_options_new(aioe_identity_options **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? AIOE_OK : AIOE_ERR_NOMEM;
}

void aioe_identity_options_free(aioe_identity_options *o)
{
    if (!o)
        return;
    free(o->endpoint);
    free(o->ca_file);
    free(o->federated_token_file);
    free_secret(o->identity_header);
    free(o->arc_key_dir);
    free(o);
}

static int dup_or_null(const char *s, char **out)
{
    *out = NULL;
    if (s && !(*out = strdup(s)))
        return AIOE_ERR_NOMEM;
    return AIOE_OK;
}

int aioe_identity_options_copy(const aioe_identity_options *src,
                               aioe_identity_options **out)
{
    *out = NULL;
    if (!src)
        return AIOE_OK;
    aioe_identity_options *o = calloc(1, sizeof *o);
    if (!o)
        return AIOE_ERR_NOMEM;
    *o = *src;
    const char *e = src->endpoint, *c = src->ca_file,
               *f = src->federated_token_file, *h = src->identity_header,
               *d = src->arc_key_dir;
    o->endpoint = o->ca_file = o->federated_token_file = NULL;
    o->identity_header = o->arc_key_dir = NULL;
    if (dup_or_null(e, &o->endpoint) || dup_or_null(c, &o->ca_file) ||
        dup_or_null(f, &o->federated_token_file) ||
        dup_or_null(h, &o->identity_header) || dup_or_null(d, &o->arc_key_dir)) {
        aioe_identity_options_free(o);
        return AIOE_ERR_NOMEM;
    }
    *out = o;
    return AIOE_OK;
}

static int set_str(aioe_identity_options *o, char **slot, const char *v,
                   bool secret)
{
    if (!o || (v && !*v))
        return AIOE_ERR_INVALID_ARG;
    char *c = NULL;
    if (v && !(c = strdup(v)))
        return AIOE_ERR_NOMEM;
    if (secret)
        free_secret(*slot);
    else
        free(*slot);
    *slot = c;
    return AIOE_OK;
}

int aioe_identity_options_set_source(aioe_identity_options *o,
                                     aioe_identity_source source)
{
    if (!o || source < AIOE_IDENTITY_SOURCE_AUTO ||
        source > AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY)
        return AIOE_ERR_INVALID_ARG;
    o->source = source;
    return AIOE_OK;
}

static bool is_http_url(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

int aioe_identity_options_set_endpoint(aioe_identity_options *o, const char *url)
{
    if (url && (!is_http_url(url) || strpbrk(url, " \r\n")))
        return AIOE_ERR_INVALID_ARG;
    return set_str(o, o ? &o->endpoint : NULL, url, false);
}

int aioe_identity_options_set_ca_file(aioe_identity_options *o, const char *path)
{
    return set_str(o, o ? &o->ca_file : NULL, path, false);
}

int aioe_identity_options_set_federated_token_file(aioe_identity_options *o,
                                                   const char *path)
{
    return set_str(o, o ? &o->federated_token_file : NULL, path, false);
}

int aioe_identity_options_set_identity_header(aioe_identity_options *o,
                                              const char *value)
{
    if (value && strpbrk(value, "\r\n"))
        return AIOE_ERR_INVALID_ARG;
    return set_str(o, o ? &o->identity_header : NULL, value, true);
}

int aioe_identity_options_set_arc_key_dir(aioe_identity_options *o,
                                          const char *dir)
{
    return set_str(o, o ? &o->arc_key_dir : NULL, dir, false);
}

int aioe_identity_options_set_timing(aioe_identity_options *o,
                                     uint32_t request_timeout_ms,
                                     uint32_t backoff_initial_ms,
                                     uint32_t retry_total_ms,
                                     uint32_t gone_window_ms)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->request_timeout_ms = request_timeout_ms;
    o->backoff_initial_ms = backoff_initial_ms;
    o->retry_total_ms = retry_total_ms;
    o->gone_window_ms = gone_window_ms;
    return AIOE_OK;
}

const char *aioe_identity_source_name(aioe_identity_source s)
{
    switch (s) {
    case AIOE_IDENTITY_SOURCE_AUTO: return "Auto";
    case AIOE_IDENTITY_SOURCE_IMDS: return "IMDS";
    case AIOE_IDENTITY_SOURCE_ARC: return "AzureArc";
    case AIOE_IDENTITY_SOURCE_APP_SERVICE: return "AppService";
    case AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY: return "WorkloadIdentity";
    }
    return "unknown";
}

/* ---- resolution ------------------------------------------------------ */

const char *aioe__mi_getenv_process(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

void aioe__mi_config_clear(mi_config *c)
{
    if (!c)
        return;
    free(c->url);
    free(c->ca_file);
    free(c->federated_token_file);
    free_secret(c->identity_header);
    free(c->arc_key_dir);
    free(c->resource);
    free(c->scope);
    free(c->client_id);
    free(c->tenant_id);
    memset(c, 0, sizeof *c);
}

static const char *env_nonempty(mi_getenv_fn env, void *ctx, const char *name)
{
    const char *v = env(ctx, name);
    return v && *v ? v : NULL;
}

static const char *first(const char *a, const char *b, const char *c)
{
    return a ? a : b ? b : c;
}

/* "https://eventgrid.azure.net/.default" -> "https://eventgrid.azure.net" */
static char *scope_to_resource(const char *scope)
{
    size_t n = strlen(scope);
    if (n > 9 && strcmp(scope + n - 9, "/.default") == 0)
        n -= 9;
    return strndup(scope, n);
}

static char *audience_to_scope(const char *aud)
{
    size_t n = strlen(aud);
    while (n > 0 && aud[n - 1] == '/')
        n--;
    char *s = malloc(n + 10);
    if (s) {
        memcpy(s, aud, n);
        memcpy(s + n, "/.default", 10);
    }
    return s;
}

static aioe_identity_source parse_source(const char *v)
{
    if (!v)
        return AIOE_IDENTITY_SOURCE_AUTO;
    if (!strcasecmp(v, "imds"))
        return AIOE_IDENTITY_SOURCE_IMDS;
    if (!strcasecmp(v, "arc") || !strcasecmp(v, "azurearc"))
        return AIOE_IDENTITY_SOURCE_ARC;
    if (!strcasecmp(v, "appservice"))
        return AIOE_IDENTITY_SOURCE_APP_SERVICE;
    if (!strcasecmp(v, "workload") || !strcasecmp(v, "workloadidentity"))
        return AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY;
    return (aioe_identity_source)-1;
}

#define DUP(slot, v) \
    do { if ((v) && !((slot) = strdup(v))) goto nomem; } while (0)

int aioe__mi_config_resolve(mi_config *cfg, const aioe_endpoint *ep,
                      const aioe_identity_options *o, mi_getenv_fn env,
                      void *ctx, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    aioe_auth_method m = aioe_endpoint_auth_method(ep);
    bool ua = m == AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY;
    if (!ua && m != AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY) {
        snprintf(err, errlen, "endpoint does not use a managed identity");
        return AIOE_ERR_INVALID_ARG;
    }
    const char *spec_client = ua ? aioe_endpoint_auth_client_id(ep) : NULL;
    const char *spec_tenant = ua ? aioe_endpoint_auth_tenant_id(ep) : NULL;
    aioe_identity_source src = o ? o->source : AIOE_IDENTITY_SOURCE_AUTO;
    if (src == AIOE_IDENTITY_SOURCE_AUTO) {
        const char *forced = env_nonempty(env, ctx, MI_ENV_SOURCE);
        src = parse_source(forced);
        if ((int)src == -1) {
            snprintf(err, errlen, "%s=%s: expected imds, arc, appservice or "
                     "workload", MI_ENV_SOURCE, forced);
            return AIOE_ERR_INVALID_ARG;
        }
    }
    if (src == AIOE_IDENTITY_SOURCE_AUTO)
        src = aioe__mi_select_source(env, ctx, spec_client, spec_tenant);
    cfg->source = src;
    cfg->user_assigned = ua;
    cfg->http = aioe__mi_http_curl;
    cfg->request_timeout_ms = o && o->request_timeout_ms ? o->request_timeout_ms : 10000;
    cfg->backoff_initial_ms = o && o->backoff_initial_ms ? o->backoff_initial_ms : 1000;
    cfg->backoff_max_ms = 16000;
    if (cfg->backoff_max_ms < cfg->backoff_initial_ms)
        cfg->backoff_max_ms = cfg->backoff_initial_ms;
    cfg->retry_total_ms = o && o->retry_total_ms ? o->retry_total_ms : 60000;
    cfg->gone_window_ms = o && o->gone_window_ms ? o->gone_window_ms : 70000;

    const char *url_opt = o ? o->endpoint : NULL;
    const char *url_env = env_nonempty(env, ctx, MI_ENV_ENDPOINT);
    const char *idep = env_nonempty(env, ctx, "IDENTITY_ENDPOINT");
    const char *url = NULL;
    switch (src) {
    case AIOE_IDENTITY_SOURCE_IMDS:
        url = first(url_opt, url_env, MI_IMDS_DEFAULT_URL);
        break;
    case AIOE_IDENTITY_SOURCE_ARC:
        url = first(url_opt, url_env, first(idep, MI_ARC_DEFAULT_URL, NULL));
        break;
    case AIOE_IDENTITY_SOURCE_APP_SERVICE:
        url = first(url_opt, url_env, idep);
        if (!url) {
            snprintf(err, errlen, "App Service identity: IDENTITY_ENDPOINT is "
                     "not set");
            return AIOE_ERR_AUTH;
        }
        break;
    case AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY:
        url = first(url_opt, url_env,
                    first(env_nonempty(env, ctx, "AZURE_AUTHORITY_HOST"),
                          MI_AUTHORITY_DEFAULT, NULL));
        break;
    default:
        snprintf(err, errlen, "unknown identity source %d", (int)src);
        return AIOE_ERR_INVALID_ARG;
    }
    DUP(cfg->url, url);
    DUP(cfg->ca_file, first(o ? o->ca_file : NULL,
                            env_nonempty(env, ctx, MI_ENV_CA_FILE), NULL));
    DUP(cfg->arc_key_dir, first(o ? o->arc_key_dir : NULL,
                                env_nonempty(env, ctx, MI_ENV_ARC_KEY_DIR),
                                MI_ARC_KEY_DIR_DEFAULT));

    /* what to ask for */
    if (ua) {
        const char *scope = aioe_endpoint_auth_scope(ep);
        DUP(cfg->scope, scope ? scope : MI_DEFAULT_SCOPE);
        if (!(cfg->resource = scope_to_resource(cfg->scope)))
            goto nomem;
        DUP(cfg->client_id, spec_client);
        DUP(cfg->tenant_id, spec_tenant);
    } else {
        const char *aud = aioe_endpoint_auth_audience(ep);
        DUP(cfg->resource, aud ? aud : MI_DEFAULT_RESOURCE);
        if (!(cfg->scope = audience_to_scope(cfg->resource)))
            goto nomem;
    }

    if (src == AIOE_IDENTITY_SOURCE_APP_SERVICE) {
        const char *h = first(o ? o->identity_header : NULL,
                              env_nonempty(env, ctx, "IDENTITY_HEADER"), NULL);
        if (!h) {
            snprintf(err, errlen, "App Service identity: IDENTITY_HEADER is "
                     "not set");
            aioe__mi_config_clear(cfg);
            return AIOE_ERR_AUTH;
        }
        DUP(cfg->identity_header, h);
    }
    if (src == AIOE_IDENTITY_SOURCE_ARC && ua) {
        snprintf(err, errlen, "Azure Arc supports only the system-assigned "
                 "identity (authentication.method "
                 "UserAssignedManagedIdentity)");
        aioe__mi_config_clear(cfg);
        return AIOE_ERR_UNSUPPORTED;
    }
    if (src == AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY) {
        const char *f = first(o ? o->federated_token_file : NULL,
                              env_nonempty(env, ctx, "AZURE_FEDERATED_TOKEN_FILE"),
                              NULL);
        if (!cfg->client_id)
            DUP(cfg->client_id, env_nonempty(env, ctx, "AZURE_CLIENT_ID"));
        if (!cfg->tenant_id)
            DUP(cfg->tenant_id, env_nonempty(env, ctx, "AZURE_TENANT_ID"));
        if (!f || !cfg->client_id || !cfg->tenant_id) {
            snprintf(err, errlen, "workload identity needs %s%s%s",
                     !f ? "AZURE_FEDERATED_TOKEN_FILE " : "",
                     !cfg->client_id ? "a client ID (clientId or AZURE_CLIENT_ID) " : "",
                     !cfg->tenant_id ? "a tenant ID (tenantId or AZURE_TENANT_ID)" : "");
            aioe__mi_config_clear(cfg);
            return AIOE_ERR_AUTH;
        }
        DUP(cfg->federated_token_file, f);
    }
    return AIOE_OK;
nomem:
    aioe__mi_config_clear(cfg);
    return AIOE_ERR_NOMEM;
}

char *aioe__mi_config_key(const mi_config *c)
{
    const char *what = c->source == AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY
                           ? c->scope : c->resource;
    const char *cid = c->client_id ? c->client_id : "";
    const char *tid = c->tenant_id ? c->tenant_id : "";
    size_t n = strlen(c->url) + strlen(cid) + strlen(tid) + strlen(what) +
               (c->federated_token_file ? strlen(c->federated_token_file) : 0) + 32;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%d|%s|%s|%s|%s|%s", (int)c->source, c->url, cid, tid,
                 what, c->federated_token_file ? c->federated_token_file : "");
    return k;
}
