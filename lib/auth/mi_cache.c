/* The process-wide managed-identity token cache and the OAUTH2-JWT token
 * source sessions use.
 *
 * One entry per (source, URL, client ID, tenant, resource/scope, federated
 * token file), shared by every session that resolves to the same key and
 * freed (token wiped) when the last of them goes. One fetch at a time per
 * entry: a caller that finds a fetch running waits for it and takes its
 * result, success or failure, instead of starting another.
 *
 * Refresh: fetch() (called before every connect) returns the cached token
 * until its refresh time (aioe__mi_refresh_at: half-life for tokens living 2 h or
 * more, else up to 5 min before exp), then fetches with retries; if that
 * fails while the old token is still valid, the old one is handed out.
 * changed() (polled by the session while connected) makes one
 * opportunistic fetch attempt once the refresh time has come (backing off
 * on failure) and says true when the entry holds a newer token than the
 * one this session connected with, so the session reconnects with it
 * (Clean Start 0) before exp. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aioendpoint/common.h"
#include "mi.h"

/* Below this many seconds before exp (a quarter of the lifetime for very
 * short tokens) a cached token is not handed out even as a fallback: the
 * connect would be dropped at once. */
#define MI_MIN_VALIDITY_S 5

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct mi_entry {
    struct mi_entry *next;
    char *key;
    unsigned refs;
    pthread_cond_t cv;
    bool fetching;
    uint64_t fetch_seq;        /* completed fetches */
    int last_rc;
    char last_err[256];
    mi_token tok;              /* access_token NULL: none yet */
    uint64_t gen;              /* bumped with each new token */
    unsigned fetches;          /* HTTP fetches started (tests) */
    unsigned refresh_failures;
    int64_t next_try_ms;       /* opportunistic refresh backoff */
} mi_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static mi_entry *cache_head;

typedef struct mi_source {
    mi_config cfg;
    mi_entry *e;
    uint64_t handed_gen;
} mi_source;

static mi_entry *entry_get(const char *key)
{
    for (mi_entry *e = cache_head; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            e->refs++;
            return e;
        }
    mi_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->refs = 1;
    e->next = cache_head;
    cache_head = e;
    return e;
}

static void entry_put(mi_entry *e)
{
    if (--e->refs)
        return;
    for (mi_entry **p = &cache_head; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    aioe__mi_token_clear(&e->tok);
    pthread_cond_destroy(&e->cv);
    free(e->key);
    free(e);
}

unsigned aioe__mi_cache_fetch_count(const char *key)
{
    unsigned n = 0;
    pthread_mutex_lock(&cache_mu);
    for (mi_entry *e = cache_head; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            n = e->fetches;
    pthread_mutex_unlock(&cache_mu);
    return n;
}

/* Copies the entry's token for the session. Called with cache_mu held. */
static int hand_out(mi_source *s, aioe_token *out)
{
    mi_entry *e = s->e;
    out->data = malloc(e->tok.len ? e->tok.len : 1);
    if (!out->data)
        return AIOE_ERR_NOMEM;
    memcpy(out->data, e->tok.access_token, e->tok.len);
    out->len = e->tok.len;
    out->exp = e->tok.exp;
    out->iat = e->tok.iat;
    s->handed_gen = e->gen;
    return AIOE_OK;
}

/* Stores a fetch's outcome. Called with cache_mu held. */
static void store(mi_entry *e, int rc, mi_token *t, const char *err)
{
    e->fetching = false;
    e->fetch_seq++;
    e->last_rc = rc;
    snprintf(e->last_err, sizeof e->last_err, "%s", rc == AIOE_OK ? "" : err);
    if (rc == AIOE_OK) {
        aioe__mi_token_clear(&e->tok);
        e->tok = *t;
        memset(t, 0, sizeof *t);
        e->gen++;
        e->refresh_failures = 0;
        e->next_try_ms = 0;
    }
    pthread_cond_broadcast(&e->cv);
}

static bool usable(const mi_entry *e, int64_t now)
{
    /* unsigned: iat <= exp always, and hostile claims must not overflow */
    uint64_t life = (uint64_t)e->tok.exp - (uint64_t)e->tok.iat;
    int64_t margin = life / 4 > MI_MIN_VALIDITY_S ? MI_MIN_VALIDITY_S
                                                  : (int64_t)(life / 4);
    return e->tok.access_token && now + margin < e->tok.exp;
}

static int mi_src_fetch(void *self, aioe_token *out, char *err, size_t errlen)
{
    mi_source *s = self;
    mi_entry *e = s->e;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&cache_mu);
    for (;;) {
        int64_t now = aioe__mi_wall_clock();
        /* fresh enough, or still valid while the service recently failed
         * (do not make every reconnect wait out a retry loop) */
        if (usable(e, now) &&
            (now < e->tok.refresh_at || mono_ms() < e->next_try_ms)) {
            int rc = hand_out(s, out);
            pthread_mutex_unlock(&cache_mu);
            return rc;
        }
        if (!e->fetching)
            break;
        uint64_t seq = e->fetch_seq;
        while (e->fetching)
            pthread_cond_wait(&e->cv, &cache_mu);
        if (e->fetch_seq != seq && e->last_rc != AIOE_OK) {
            /* the fetch we waited for failed: share its answer */
            int rc = e->last_rc;
            if (usable(e, aioe__mi_wall_clock())) {
                rc = hand_out(s, out);
            } else {
                snprintf(err, errlen, "%s", e->last_err);
            }
            pthread_mutex_unlock(&cache_mu);
            return rc;
        }
    }
    e->fetching = true;
    e->fetches++;
    pthread_mutex_unlock(&cache_mu);

    mi_token t;
    int rc = aioe__mi_fetch(&s->cfg, true, &t, err, errlen);

    pthread_mutex_lock(&cache_mu);
    store(e, rc, &t, err);
    if (rc != AIOE_OK) {
        e->refresh_failures++;
        e->next_try_ms = mono_ms() +
            aioe__mi_backoff_ms(s->cfg.backoff_initial_ms, s->cfg.backoff_max_ms,
                          e->refresh_failures, 0);
    }
    if (rc == AIOE_OK || usable(e, aioe__mi_wall_clock()))
        rc = hand_out(s, out); /* on failure: the old, still valid token */
    pthread_mutex_unlock(&cache_mu);
    aioe__mi_token_clear(&t);
    return rc;
}

/* Called with cache_mu held and no fetch running for the entry: marks it
 * fetching, runs one exchange without the lock (store() ends the fetch)
 * and returns with cache_mu held again. */
static int exchange_once(mi_source *s, mi_token *t, char *err, size_t errlen)
{
    s->e->fetching = true;
    s->e->fetches++;
    pthread_mutex_unlock(&cache_mu);
    int rc = aioe__mi_fetch(&s->cfg, false, t, err, errlen);
    pthread_mutex_lock(&cache_mu);
    return rc;
}

static bool mi_src_changed(void *self)
{
    mi_source *s = self;
    mi_entry *e = s->e;
    pthread_mutex_lock(&cache_mu);
    if (e->tok.access_token && e->gen != s->handed_gen) {
        pthread_mutex_unlock(&cache_mu);
        return true;
    }
    if (!e->tok.access_token || aioe__mi_wall_clock() < e->tok.refresh_at ||
        e->fetching || mono_ms() < e->next_try_ms) {
        pthread_mutex_unlock(&cache_mu);
        return false;
    }
    /* One exchange, no retry loop: the connection is still up and this
     * runs on the session's supervisor thread. */
    mi_token t;
    char err[256] = "";
    int rc = exchange_once(s, &t, err, sizeof err);
    store(e, rc, &t, err);
    bool changed = rc == AIOE_OK;
    if (!changed) {
        e->refresh_failures++;
        e->next_try_ms = mono_ms() +
            aioe__mi_backoff_ms(s->cfg.backoff_initial_ms, s->cfg.backoff_max_ms,
                          e->refresh_failures, 0);
    }
    pthread_mutex_unlock(&cache_mu);
    aioe__mi_token_clear(&t);
    return changed;
}

/* aioe_session_reload_credentials(): one exchange now, whatever the
 * refresh schedule and backoff say; this reads the federated token file
 * (workload identity) again. True when the entry now holds a token other
 * than the one this session connected with. */
static bool mi_src_reload(void *self)
{
    mi_source *s = self;
    mi_entry *e = s->e;
    pthread_mutex_lock(&cache_mu);
    if (e->fetching) {
        /* another session is fetching: its result is picked up by the next
         * changed() poll */
        pthread_mutex_unlock(&cache_mu);
        return false;
    }
    mi_token t;
    char err[256] = "";
    int rc = exchange_once(s, &t, err, sizeof err);
    /* the same bytes as this session holds (a service that caches its
     * tokens): nothing to reconnect for */
    bool same = rc == AIOE_OK && e->tok.access_token && s->handed_gen == e->gen &&
                t.len == e->tok.len && CRYPTO_memcmp(t.access_token, e->tok.access_token,
                                                     t.len) == 0;
    store(e, rc, &t, err);
    if (same)
        s->handed_gen = e->gen;
    bool changed = e->tok.access_token && e->gen != s->handed_gen;
    pthread_mutex_unlock(&cache_mu);
    aioe__mi_token_clear(&t);
    return changed;
}

static void mi_src_destroy(void *self)
{
    mi_source *s = self;
    if (!s)
        return;
    pthread_mutex_lock(&cache_mu);
    entry_put(s->e);
    pthread_mutex_unlock(&cache_mu);
    aioe__mi_config_clear(&s->cfg);
    free(s);
}

static const aioe_token_source_ops mi_ops = {
    .auth_method = "OAUTH2-JWT",
    .fetch = mi_src_fetch,
    .changed = mi_src_changed,
    .reload = mi_src_reload,
    .destroy = mi_src_destroy,
};

int aioe_token_source_mi_new(mi_config *cfg, aioe_token_source *out)
{
    if (!cfg || !out || !cfg->url)
        return AIOE_ERR_INVALID_ARG;
    mi_source *s = calloc(1, sizeof *s);
    char *key = aioe__mi_config_key(cfg);
    if (!s || !key) {
        free(s);
        free(key);
        aioe__mi_config_clear(cfg);
        return AIOE_ERR_NOMEM;
    }
    pthread_mutex_lock(&cache_mu);
    s->e = entry_get(key);
    pthread_mutex_unlock(&cache_mu);
    free(key);
    if (!s->e) {
        free(s);
        aioe__mi_config_clear(cfg);
        return AIOE_ERR_NOMEM;
    }
    s->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    out->ops = &mi_ops;
    out->self = s;
    return AIOE_OK;
}

/* A source whose configuration could not be resolved: every fetch reports
 * why, so aioe_session_start() can show it in aioe_session_last_error(). */
typedef struct mi_broken {
    int rc;
    char err[256];
} mi_broken;

static int broken_fetch(void *self, aioe_token *out, char *err, size_t errlen)
{
    mi_broken *b = self;
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "%s", b->err);
    return b->rc;
}

static const aioe_token_source_ops mi_broken_ops = {
    .auth_method = "OAUTH2-JWT",
    .fetch = broken_fetch,
    .changed = NULL,
    .destroy = free,
};

int aioe_token_source_mi_for_endpoint(const aioe_endpoint *ep,
                                      const aioe_identity_options *opts,
                                      aioe_token_source *out)
{
    if (!ep || !out)
        return AIOE_ERR_INVALID_ARG;
    mi_config cfg;
    char err[256] = "";
    int rc = aioe__mi_config_resolve(&cfg, ep, opts, aioe__mi_getenv_process, NULL, err,
                               sizeof err);
    if (rc == AIOE_OK)
        return aioe_token_source_mi_new(&cfg, out);
    if (rc == AIOE_ERR_NOMEM)
        return rc;
    mi_broken *b = calloc(1, sizeof *b);
    if (!b)
        return AIOE_ERR_NOMEM;
    b->rc = rc == AIOE_ERR_INVALID_ARG ? AIOE_ERR_AUTH : rc;
    snprintf(b->err, sizeof b->err, "managed identity: %s", err);
    out->ops = &mi_broken_ops;
    out->self = b;
    return AIOE_OK;
}
