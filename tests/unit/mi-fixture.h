/* Shared helpers of the managed-identity unit tests (test-mi-fetch.c,
 * test-mi-cache.c): tokens, a scripted HTTP transport, recorded sleeps. */
#ifndef AIOE_TESTS_UNIT_MI_FIXTURE_H
#define AIOE_TESTS_UNIT_MI_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>
#include "mi.h"

#define TMPDIR_FIXTURE_NAME "mi"
#include "tmpdir-fixture.h"

/* ---- helpers ---------------------------------------------------------- */

static inline void b64url(const char *in, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in), o = 0;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = t[v & 63];
    }
    out[o] = '\0';
}

/* An (unsigned) JWT with the given iat/exp; 0 omits a claim. */
static inline char *jwt(int64_t iat, int64_t exp)
{
    char claims[256], h[64], c[400];
    int n = snprintf(claims, sizeof claims, "{\"aud\":\"https://eventgrid.azure.net/\"");
    if (iat)
        n += snprintf(claims + n, sizeof claims - (size_t)n, ",\"iat\":%lld", (long long)iat);
    if (exp)
        n += snprintf(claims + n, sizeof claims - (size_t)n, ",\"exp\":%lld", (long long)exp);
    snprintf(claims + n, sizeof claims - (size_t)n, "}");
    b64url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", h);
    b64url(claims, c);
    char *r = malloc(strlen(h) + strlen(c) + 8);
    if (!r)
        abort();
    sprintf(r, "%s.%s.c2ln", h, c);
    return r;
}

static inline int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- scripted transport ----------------------------------------------- */

typedef struct step {
    int status;              /* 0 = transport failure */
    char body[1024];
    const char *www;
    uint32_t retry_after;
    int delay_ms;
} step;

typedef struct script {
    step steps[16];
    int count, next;
    int calls;
    char urls[16][512];
    char headers[16][512];
    char bodies[16][1024];
    char methods[16][8];
    pthread_mutex_t mu;
} script;

static inline int fake_http(void *ctx, const mi_http_req *req, mi_http_resp *resp)
{
    script *s = ctx;
    memset(resp, 0, sizeof *resp);
    pthread_mutex_lock(&s->mu);
    int i = s->next < s->count ? s->next++ : s->count - 1;
    int c = s->calls++;
    if (c < 16) {
        snprintf(s->urls[c], sizeof s->urls[c], "%s", req->url);
        snprintf(s->methods[c], sizeof s->methods[c], "%s", req->method);
        snprintf(s->bodies[c], sizeof s->bodies[c], "%s", req->body ? req->body : "");
        s->headers[c][0] = '\0';
        for (const char *const *h = req->headers; h && *h; h++) {
            strncat(s->headers[c], *h, sizeof s->headers[c] - strlen(s->headers[c]) - 2);
            strcat(s->headers[c], "\n");
        }
    }
    step st = s->steps[i];
    pthread_mutex_unlock(&s->mu);
    if (st.delay_ms) {
        struct timespec ts = { 0, st.delay_ms * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (st.status == 0) {
        resp->timed_out = true;
        snprintf(resp->transport_error, sizeof resp->transport_error, "timeout");
        return AIOE_ERR_TIMEOUT;
    }
    resp->status = st.status;
    resp->body = strdup(st.body);
    resp->body_len = strlen(st.body);
    resp->retry_after_s = st.retry_after;
    if (st.www)
        resp->www_authenticate = strdup(st.www);
    return AIOE_OK;
}

static inline void add(script *s, int status, const char *body)
{
    step *st = &s->steps[s->count++];
    memset(st, 0, sizeof *st);
    st->status = status;
    snprintf(st->body, sizeof st->body, "%s", body ? body : "");
}

static inline void add_token(script *s, int64_t iat, int64_t exp, bool strings)
{
    char *t = jwt(iat, exp);
    char body[1024];
    if (strings)
        snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":\"%lld\","
                 "\"expires_on\":\"%lld\",\"token_type\":\"Bearer\"}", t,
                 (long long)(exp - now_s()), (long long)exp);
    else
        snprintf(body, sizeof body, "{\"token_type\":\"Bearer\",\"expires_in\":%lld,"
                 "\"access_token\":\"%s\"}", (long long)(exp - now_s()), t);
    add(s, 200, body);
    free(t);
}

static inline void script_init(script *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static unsigned sleeps[32];
static unsigned sleep_count;

static inline void record_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    if (sleep_count < 32)
        sleeps[sleep_count] = ms;
    sleep_count++;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static inline void cfg_fake(mi_config *c, aioe_identity_source src, script *s)
{
    memset(c, 0, sizeof *c);
    c->source = src;
    c->url = strdup(src == AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY
                        ? "https://login.example/" : "http://mi.example/token");
    c->resource = strdup("https://eventgrid.azure.net");
    c->scope = strdup("https://eventgrid.azure.net/.default");
    c->arc_key_dir = strdup(root);
    c->request_timeout_ms = 1000;
    c->backoff_initial_ms = 1;
    c->backoff_max_ms = 8;
    c->retry_total_ms = 200;
    c->gone_window_ms = 300;
    c->http = fake_http;
    c->http_ctx = s;
    c->sleep_ms = record_sleep;
    sleep_count = 0;
}


#endif
