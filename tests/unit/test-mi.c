/* Managed-identity token sources, pure parts and request flows driven
 * through a scripted HTTP transport: response parsing, retry policy, Arc
 * challenge rules, refresh schedule, source selection, configuration,
 * request shapes per platform, and the shared cache. The real HTTP path is
 * covered by tests/integration/test-mi.c against tests/identity/. */
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

static void b64url(const char *in, char *out)
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
static char *jwt(int64_t iat, int64_t exp)
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
    sprintf(r, "%s.%s.c2ln", h, c);
    return r;
}

static int64_t now_s(void)
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

static int fake_http(void *ctx, const mi_http_req *req, mi_http_resp *resp)
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

static void add(script *s, int status, const char *body)
{
    step *st = &s->steps[s->count++];
    memset(st, 0, sizeof *st);
    st->status = status;
    snprintf(st->body, sizeof st->body, "%s", body ? body : "");
}

static void add_token(script *s, int64_t iat, int64_t exp, bool strings)
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

static void script_init(script *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static unsigned sleeps[32];
static unsigned sleep_count;

static void record_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    if (sleep_count < 32)
        sleeps[sleep_count] = ms;
    sleep_count++;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void cfg_fake(mi_config *c, aioe_identity_source src, script *s)
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

/* ---- response parsing ------------------------------------------------- */

static void parse_imds_strings_and_jwt_exp(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    char *t = jwt(now - 10, now + 3000);
    char body[1024], err[128];
    /* expires_on later than the JWT's exp: the JWT wins (earliest) */
    snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":\"86399\","
             "\"expires_on\":\"%lld\",\"resource\":\"https://eventgrid.azure.net\"}",
             t, (long long)(now + 86399));
    mi_token tok;
    assert_int_equal(aioe__mi_parse_token_response(body, strlen(body), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_string_equal(tok.access_token, t);
    assert_int_equal(tok.len, strlen(t));
    assert_int_equal(tok.exp, now + 3000);
    assert_int_equal(tok.iat, now - 10);
    assert_int_equal(tok.refresh_at, now + 3000 - 300);
    aioe__mi_token_clear(&tok);
    assert_null(tok.access_token);
    free(t);
}

static void parse_numbers_opaque_token(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    char err[128];
    const char *b = "{\"token_type\":\"Bearer\",\"expires_in\":86400,"
                    "\"access_token\":\"opaque-not-a-jwt\"}";
    mi_token tok;
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, now + 86400);
    assert_int_equal(tok.iat, now);
    assert_int_equal(tok.refresh_at, now + 43200); /* half-life */
    aioe__mi_token_clear(&tok);
    /* expires_on as a number, earlier than now+expires_in */
    b = "{\"access_token\":\"x\",\"expires_in\":3600,\"expires_on\":1700000600}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, 1700000600);
    aioe__mi_token_clear(&tok);
    /* App Service's old date format in expires_on is ignored */
    b = "{\"access_token\":\"x\",\"expires_in\":\"600\",\"expires_on\":\"09/14/2017 00:00:00 PM +00:00\"}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, now + 600);
    aioe__mi_token_clear(&tok);
    /* a token that has already expired is refused, not sent */
    b = "{\"access_token\":\"x\",\"expires_on\":1699999000}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_ERR_PROTOCOL);
    assert_non_null(strstr(err, "already expired (1000 s ago)"));
    b = "{\"access_token\":\"x\",\"expires_in\":0}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_ERR_PROTOCOL);
}

static void parse_rejects_bad_responses(void **state)
{
    (void)state;
    char err[128];
    mi_token tok;
    const char *bad[] = {
        "", "not json", "{\"access_token\":", "[1,2]", "{\"expires_in\":5}",
        "{\"access_token\":\"\",\"expires_in\":5}",
        "{\"access_token\":42,\"expires_in\":5}",
        "{\"access_token\":\"opaque\"}", /* no expiry anywhere */
        "{\"access_token\":\"opaque\",\"expires_in\":\"soon\"}",
        /* json-c reads NaN and Infinity as doubles (found by fuzz-token-response) */
        "{\"access_token\":\"opaque\",\"expires_in\":NaN}",
        "{\"access_token\":\"opaque\",\"expires_in\":-Infinity}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(aioe__mi_parse_token_response(bad[i], strlen(bad[i]), 1000,
                                                 &tok, err, sizeof err),
                         AIOE_ERR_PROTOCOL);
        assert_null(tok.access_token);
        assert_true(strlen(err) > 0);
    }
}

static void error_text_prefers_description(void **state)
{
    (void)state;
    char buf[128];
    const char *b = "{\"error\":\"invalid_request\",\"error_description\":"
                    "\"Identity not found\"}";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "Identity not found");
    b = "{\"error\":{\"code\":\"x\",\"message\":\"nested text\"}}";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "nested text");
    b = "plain\ntext";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "plain text");
}

/* ---- retry policy ------------------------------------------------------- */

static void classify_statuses(void **state)
{
    (void)state;
    assert_int_equal(aioe__mi_classify(0), MI_RETRY);
    assert_int_equal(aioe__mi_classify(404), MI_RETRY);
    assert_int_equal(aioe__mi_classify(429), MI_RETRY);
    assert_int_equal(aioe__mi_classify(500), MI_RETRY);
    assert_int_equal(aioe__mi_classify(503), MI_RETRY);
    assert_int_equal(aioe__mi_classify(410), MI_RETRY_GONE);
    assert_int_equal(aioe__mi_classify(400), MI_FINAL);
    assert_int_equal(aioe__mi_classify(401), MI_FINAL);
    assert_int_equal(aioe__mi_classify(403), MI_FINAL);
    assert_int_equal(aioe__mi_classify(200), MI_FINAL);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 1, 0), 1000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 2, 0), 2000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 5, 0), 16000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 40, 0), 16000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 1, 7), 7000); /* Retry-After */
}

static void retries_then_succeeds(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 404, "{}");
    add(&s, 429, "{}");
    add(&s, 500, "{}");
    add(&s, 0, NULL);            /* timeout */
    add(&s, 200, "{malformed"); /* malformed JSON is retried like a 5xx */
    add_token(&s, now_s(), now_s() + 3600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    /* This case checks the retry sequence, not the total budget (that is
     * retry_total_is_bounded_and_410_waits_its_window): the fixture's
     * 200 ms of real time ran out under ASan on a loaded machine. */
    c.retry_total_ms = 60000;
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 6);
    assert_int_equal(sleep_count, 5);
    assert_int_equal(sleeps[0], 1);
    assert_int_equal(sleeps[1], 2);
    assert_int_equal(sleeps[2], 4);
    assert_int_equal(sleeps[3], 8);
    assert_int_equal(sleeps[4], 8); /* capped */
    assert_non_null(t.access_token);
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);
}

static void final_4xx_carries_service_text(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 400, "{\"error\":\"invalid_request\",\"error_description\":"
        "\"Identity not found\"}");
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 1);
    assert_non_null(strstr(err, "HTTP 400"));
    assert_non_null(strstr(err, "Identity not found"));
    aioe__mi_config_clear(&c);
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void retry_total_is_bounded_and_410_waits_its_window(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 503, "{\"error\":\"busy\"}");
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.retry_total_ms = 60;
    mi_token t;
    char err[256] = "";
    int64_t t0 = mono();
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_CONNECTION);
    int64_t took = mono() - t0;
    assert_true(took >= 60 && took < 1000);
    assert_non_null(strstr(err, "HTTP 503"));
    assert_non_null(strstr(err, "gave up"));
    aioe__mi_config_clear(&c);

    script_init(&s);
    add(&s, 410, "{}");
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.retry_total_ms = 20;
    c.gone_window_ms = 150;
    t0 = mono();
    assert_int_not_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    took = mono() - t0;
    assert_true(took >= 150 && took < 2000); /* the 410 window, not 20 ms */
    aioe__mi_config_clear(&c);

    /* 410 then success inside the window */
    script_init(&s);
    add(&s, 410, "{}");
    add(&s, 410, "{}");
    add_token(&s, now_s(), now_s() + 600, false);
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 3);
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);

    /* without retry: one exchange */
    script_init(&s);
    add(&s, 500, "{}");
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    assert_int_not_equal(aioe__mi_fetch(&c, false, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 1);
    aioe__mi_config_clear(&c);
}

/* ---- request shapes ------------------------------------------------------ */

static void imds_and_app_service_requests(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.user_assigned = true;
    c.client_id = strdup("11111111-2222");
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.methods[0], "GET");
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2018-02-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net"
                        "&client_id=11111111-2222");
    assert_string_equal(s.headers[0], "Metadata: true\n");
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);

    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, true);
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_APP_SERVICE, &s);
    c.identity_header = strdup("secret-header");
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2019-08-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net");
    assert_string_equal(s.headers[0], "X-IDENTITY-HEADER: secret-header\n");
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);
}

static void workload_identity_form_post(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/federated", root);
    put(path, "fed.eral+token\n");
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, false);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY, &s);
    c.client_id = strdup("cid");
    c.tenant_id = strdup("tid");
    c.federated_token_file = strdup(path);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.methods[0], "POST");
    assert_string_equal(s.urls[0], "https://login.example/tid/oauth2/v2.0/token");
    assert_string_equal(s.bodies[0],
        "client_assertion=fed.eral%2Btoken"
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        "&client_id=cid&grant_type=client_credentials"
        "&scope=https%3A%2F%2Feventgrid.azure.net%2F.default");
    assert_non_null(strstr(s.headers[0], "Content-Type: application/x-www-form-urlencoded"));
    aioe__mi_token_clear(&t);
    /* AAD errors are final and quoted */
    script_init(&s);
    add(&s, 401, "{\"error\":\"invalid_client\",\"error_description\":"
        "\"AADSTS700016: Application not found\"}");
    c.http_ctx = &s;
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "AADSTS700016"));
    assert_int_equal(s.calls, 1);
    /* a missing assertion file is final, with no request made */
    script_init(&s);
    c.http_ctx = &s;
    unlink(path);
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 0);
    assert_non_null(strstr(err, "federated token file"));
    aioe__mi_config_clear(&c);
}

static void arc_challenge_flow(void **state)
{
    (void)state;
    char key[128], www[160];
    snprintf(key, sizeof key, "%s/abc.key", root);
    put(key, "s3cret-key");
    snprintf(www, sizeof www, "Basic realm=%s", key);
    script s;
    script_init(&s);
    add(&s, 401, "");
    s.steps[0].www = www;
    add_token(&s, now_s(), now_s() + 600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_ARC, &s);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2020-06-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net");
    assert_string_equal(s.headers[0], "Metadata: true\n");
    assert_string_equal(s.headers[1], "Metadata: true\nAuthorization: Basic s3cret-key\n");
    aioe__mi_token_clear(&t);
    /* a challenge outside the key directory is final */
    script_init(&s);
    add(&s, 401, "");
    s.steps[0].www = "Basic realm=/etc/passwd";
    c.http_ctx = &s;
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 1);
    aioe__mi_config_clear(&c);
}

static void arc_path_rules(void **state)
{
    (void)state;
    char sub[128], good[160], big[160], txt[160], hdr[400], esc[200];
    snprintf(sub, sizeof sub, "%s/tokens", root);
    mkdir(sub, 0700);
    snprintf(good, sizeof good, "%s/ok.key", sub);
    put(good, "k");
    snprintf(txt, sizeof txt, "%s/ok.txt", sub);
    put(txt, "k");
    snprintf(big, sizeof big, "%s/big.key", sub);
    FILE *f = fopen(big, "w");
    for (int i = 0; i < 4097; i++)
        fputc('a', f);
    fclose(f);
    snprintf(esc, sizeof esc, "%s/outside.key", root);
    put(esc, "k");
    char *p = NULL, err[256];

    snprintf(hdr, sizeof hdr, "Basic realm=%s", good);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    assert_string_equal(p, good);
    free(p);
    snprintf(hdr, sizeof hdr, "basic realm=\"%s\"", good);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    free(p);
    /* exactly 4096 bytes is allowed */
    f = fopen(big, "w");
    for (int i = 0; i < 4096; i++)
        fputc('a', f);
    fclose(f);
    snprintf(hdr, sizeof hdr, "Basic realm=%s", big);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    free(p);
    f = fopen(big, "a");
    fputc('a', f);
    fclose(f);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "4096"));

    const char *bad_scheme[] = { "Basic realm=", "Bearer realm=", "Basic x=" };
    const char *bad_path[] = { txt, good, good };
    for (int i = 0; i < 3; i++) {
        snprintf(hdr, sizeof hdr, "%s%s", bad_scheme[i], bad_path[i]);
        assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err),
                         AIOE_ERR_AUTH);
        assert_null(p);
    }
    /* outside the directory, by name, by "..", by symlink */
    snprintf(hdr, sizeof hdr, "Basic realm=%s", esc);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "is not in"));
    snprintf(hdr, sizeof hdr, "Basic realm=%s/../outside.key", sub);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    char link[200];
    snprintf(link, sizeof link, "%s/link.key", sub);
    assert_int_equal(symlink(esc, link), 0);
    snprintf(hdr, sizeof hdr, "Basic realm=%s", link);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(aioe__mi_arc_challenge_path(NULL, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    snprintf(hdr, sizeof hdr, "Basic realm=%s/missing.key", sub);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    snprintf(hdr, sizeof hdr, "Basic realm=relative/ok.key");
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
}

/* ---- schedule, selection, configuration ------------------------------------ */

static void refresh_schedule(void **state)
{
    (void)state;
    assert_int_equal(aioe__mi_refresh_at(0, 86400), 43200);     /* half-life */
    assert_int_equal(aioe__mi_refresh_at(0, 7200), 3600);
    assert_int_equal(aioe__mi_refresh_at(0, 3600), 3300);       /* 5 min before */
    assert_int_equal(aioe__mi_refresh_at(1000, 1010), 1005);    /* short: half */
    assert_int_equal(aioe__mi_refresh_at(1000, 1000), 1000);
}

typedef struct { const char *kv[12]; } fake_env;

static const char *env_get(void *ctx, const char *name)
{
    fake_env *e = ctx;
    for (int i = 0; e->kv[i]; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

static void source_selection_like_the_sdks(void **state)
{
    (void)state;
    fake_env none = { { NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &none, NULL, NULL), AIOE_IDENTITY_SOURCE_IMDS);
    fake_env wi = { { "AZURE_FEDERATED_TOKEN_FILE", "/t", "AZURE_CLIENT_ID", "c",
                      "AZURE_TENANT_ID", "t", "IDENTITY_ENDPOINT", "http://x",
                      "IMDS_ENDPOINT", "http://y", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &wi, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    fake_env wi_partial = { { "AZURE_FEDERATED_TOKEN_FILE", "/t", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &wi_partial, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_IMDS);
    /* the endpoint's clientId/tenantId complete it */
    assert_int_equal(aioe__mi_select_source(env_get, &wi_partial, "c", "t"),
                     AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    fake_env arc = { { "IDENTITY_ENDPOINT", "http://x", "IMDS_ENDPOINT", "http://y",
                       "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &arc, NULL, NULL), AIOE_IDENTITY_SOURCE_ARC);
    fake_env app = { { "IDENTITY_ENDPOINT", "http://x", "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &app, NULL, NULL),
                     AIOE_IDENTITY_SOURCE_APP_SERVICE);
    fake_env empty = { { "IDENTITY_ENDPOINT", "", "IDENTITY_HEADER", "h", NULL } };
    assert_int_equal(aioe__mi_select_source(env_get, &empty, NULL, NULL), AIOE_IDENTITY_SOURCE_IMDS);
}

static aioe_parse_result *parse_ep(const char *auth)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "apiVersion: connectivity.iotoperations.azure.com/v1beta1\n"
             "kind: DataflowEndpoint\nmetadata:\n  name: eg\n  namespace: ns\n"
             "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: ns.westeurope-1.ts.eventgrid.azure.net:8883\n"
             "    authentication:\n%s    tls:\n      mode: Enabled\n", auth);
    aioe_parse_result *r = NULL;
    int rc = aioe_parse_buffer(doc, strlen(doc), "t.yaml", NULL, &r);
    if (rc != AIOE_OK && r && aioe_parse_result_error_count(r))
        fprintf(stderr, "%s: %s\n", aioe_parse_result_error(r, 0)->path,
                aioe_parse_result_error(r, 0)->message);
    assert_int_equal(rc, AIOE_OK);
    assert_int_equal(aioe_parse_result_endpoint_count(r), 1);
    return r;
}

#define SAMI "      method: SystemAssignedManagedIdentity\n" \
             "      systemAssignedManagedIdentitySettings: {}\n"
#define UAMI "      method: UserAssignedManagedIdentity\n" \
             "      userAssignedManagedIdentitySettings:\n" \
             "        clientId: 11111111-2222-3333-4444-555555555555\n        tenantId: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"

static void config_resolution(void **state)
{
    (void)state;
    aioe_parse_result *sami = parse_ep(SAMI), *uami = parse_ep(UAMI);
    const aioe_endpoint *se = aioe_parse_result_endpoint(sami, 0);
    const aioe_endpoint *ue = aioe_parse_result_endpoint(uami, 0);
    mi_config c;
    char err[256];
    fake_env none = { { NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &none, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_IMDS);
    assert_string_equal(c.url, MI_IMDS_DEFAULT_URL);
    assert_string_equal(c.resource, "https://eventgrid.azure.net");
    assert_string_equal(c.scope, "https://eventgrid.azure.net/.default");
    assert_false(c.user_assigned);
    assert_int_equal(c.retry_total_ms, 60000);
    assert_int_equal(c.gone_window_ms, 70000);
    assert_string_equal(c.arc_key_dir, "/var/opt/azcmagent/tokens");
    aioe__mi_config_clear(&c);

    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &none, err, sizeof err), AIOE_OK);
    assert_true(c.user_assigned);
    assert_string_equal(c.client_id, "11111111-2222-3333-4444-555555555555");
    assert_string_equal(c.resource, "https://eventgrid.azure.net");
    aioe__mi_config_clear(&c);

    /* UAMI with only the federated token file: workload identity */
    fake_env wi = { { "AZURE_FEDERATED_TOKEN_FILE", "/var/run/t",
                      "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &wi, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY);
    assert_string_equal(c.url, "https://login.microsoftonline.us/");
    assert_string_equal(c.tenant_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    assert_string_equal(c.federated_token_file, "/var/run/t");
    aioe__mi_config_clear(&c);

    /* forced workload identity for SAMI without client ID: named error */
    fake_env forced = { { "AIOE_IDENTITY_SOURCE", "workload", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &forced, err, sizeof err),
                     AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "AZURE_FEDERATED_TOKEN_FILE"));
    fake_env bogus = { { "AIOE_IDENTITY_SOURCE", "carrier-pigeon", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &bogus, err, sizeof err),
                     AIOE_ERR_INVALID_ARG);
    /* Arc has no user-assigned identities */
    fake_env arc = { { "IDENTITY_ENDPOINT", "http://127.0.0.1:1/x", "IMDS_ENDPOINT", "y", NULL } };
    assert_int_equal(aioe__mi_config_resolve(&c, ue, NULL, env_get, &arc, err, sizeof err),
                     AIOE_ERR_UNSUPPORTED);
    assert_int_equal(aioe__mi_config_resolve(&c, se, NULL, env_get, &arc, err, sizeof err), AIOE_OK);
    assert_string_equal(c.url, "http://127.0.0.1:1/x");
    aioe__mi_config_clear(&c);

    /* options beat the environment */
    aioe_identity_options *o;
    assert_int_equal(aioe_identity_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_source(o, AIOE_IDENTITY_SOURCE_APP_SERVICE), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_endpoint(o, "http://127.0.0.1:9/msi"), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_identity_header(o, "hdr"), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_timing(o, 5, 6, 7, 8), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_endpoint(o, "ftp://x"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_identity_options_set_source(o, 99), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe__mi_config_resolve(&c, se, o, env_get, &arc, err, sizeof err), AIOE_OK);
    assert_int_equal(c.source, AIOE_IDENTITY_SOURCE_APP_SERVICE);
    assert_string_equal(c.url, "http://127.0.0.1:9/msi");
    assert_string_equal(c.identity_header, "hdr");
    assert_int_equal(c.request_timeout_ms, 5);
    assert_int_equal(c.backoff_initial_ms, 6);
    assert_int_equal(c.retry_total_ms, 7);
    assert_int_equal(c.gone_window_ms, 8);
    aioe__mi_config_clear(&c);
    aioe_session_options *so;
    assert_int_equal(aioe_session_options_new(&so), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, NULL), AIOE_OK);
    assert_int_equal(aioe_session_options_set_identity(so, o), AIOE_OK);
    aioe_session_options_free(so);
    aioe_identity_options_free(o);
    aioe_identity_options_free(NULL);
    assert_string_equal(aioe_identity_source_name(AIOE_IDENTITY_SOURCE_ARC), "AzureArc");
    assert_string_equal(aioe_identity_source_name((aioe_identity_source)42), "unknown");

    aioe_parse_result_free(sami);
    aioe_parse_result_free(uami);
}

/* ---- cache ------------------------------------------------------------------ */

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static mi_config cache_cfg(script *s, const char *url)
{
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, s);
    free(c.url);
    c.url = strdup(url);
    return c;
}

static void *fetch_thread(void *arg)
{
    aioe_token_source *src = arg;
    aioe_token t;
    char err[128];
    int rc = src->ops->fetch(src->self, &t, err, sizeof err);
    aioe_token_clear(&t);
    return (void *)(intptr_t)rc;
}

static void cache_shares_one_fetch(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 3600, true);
    s.steps[0].delay_ms = 50; /* slow: the others must wait, not fetch */
    aioe_token_source src[4];
    for (int i = 0; i < 4; i++) {
        mi_config c = cache_cfg(&s, "http://cache.example/one");
        assert_int_equal(aioe_token_source_mi_new(&c, &src[i]), AIOE_OK);
        assert_string_equal(src[i].ops->auth_method, "OAUTH2-JWT");
    }
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, fetch_thread, &src[i]);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_int_equal((int)(intptr_t)rv, AIOE_OK);
    }
    assert_int_equal(s.calls, 1);
    mi_config k = cache_cfg(&s, "http://cache.example/one");
    char *key = aioe__mi_config_key(&k);
    assert_int_equal(aioe__mi_cache_fetch_count(key), 1);
    /* a different resource is a different entry */
    mi_config other = cache_cfg(&s, "http://cache.example/one");
    free(other.resource);
    other.resource = strdup("https://other");
    aioe_token_source o;
    assert_int_equal(aioe_token_source_mi_new(&other, &o), AIOE_OK);
    aioe_token t;
    char err[128];
    assert_int_equal(o.ops->fetch(o.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 2);
    aioe_token_clear(&t);
    aioe_token_source_destroy(&o);
    for (int i = 0; i < 4; i++)
        aioe_token_source_destroy(&src[i]);
    assert_int_equal(aioe__mi_cache_fetch_count(key), 0); /* entry gone with its users */
    free(key);
    aioe__mi_config_clear(&k);
}

static void cache_refreshes_ahead_and_signals_change(void **state)
{
    (void)state;
    int64_t base = now_s();
    fake_now = base;
    aioe__mi_wall_clock = fake_clock;
    script s;
    script_init(&s);
    add_token(&s, base, base + 3600, true);     /* refresh at base+3300 */
    add(&s, 500, "{}");                         /* first refresh attempt fails */
    add_token(&s, base + 3310, base + 7200, true);
    mi_config c = cache_cfg(&s, "http://cache.example/refresh");
    c.backoff_initial_ms = 20; /* failed refresh: retried after 20 ms */
    c.backoff_max_ms = 20;
    aioe_token_source src;
    assert_int_equal(aioe_token_source_mi_new(&c, &src), AIOE_OK);
    aioe_token t;
    char err[256];
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 3600);
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));   /* not due */
    assert_int_equal(s.calls, 1);
    fake_now = base + 3300;
    assert_false(src.ops->changed(src.self));   /* due, the attempt fails */
    assert_int_equal(s.calls, 2);
    /* within the backoff the old, still valid token is handed out at once */
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 3600);
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 2);
    assert_false(src.ops->changed(src.self));   /* backing off: no request */
    assert_int_equal(s.calls, 2);
    /* after it (time passing is the point here, not synchronisation) */
    struct timespec pause = { 0, 30 * 1000000L };
    nanosleep(&pause, NULL);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 7200);       /* fetch() itself refreshed */
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 3);
    assert_false(src.ops->changed(src.self));   /* this session has the newest */
    aioe_token_source_destroy(&src);

    /* a second session on the same entry learns about the new token */
    script_init(&s);
    fake_now = base;
    add_token(&s, base, base + 600, true);      /* refresh at base+300 */
    add_token(&s, base + 300, base + 900, true);
    mi_config c1 = cache_cfg(&s, "http://cache.example/two");
    mi_config c2 = cache_cfg(&s, "http://cache.example/two");
    aioe_token_source a, b;
    assert_int_equal(aioe_token_source_mi_new(&c1, &a), AIOE_OK);
    assert_int_equal(aioe_token_source_mi_new(&c2, &b), AIOE_OK);
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    assert_int_equal(b.ops->fetch(b.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    assert_int_equal(s.calls, 1);
    fake_now = base + 301;
    assert_true(a.ops->changed(a.self));        /* a refreshed it */
    assert_int_equal(s.calls, 2);
    assert_true(b.ops->changed(b.self));        /* b sees it without a fetch */
    assert_int_equal(s.calls, 2);
    assert_int_equal(b.ops->fetch(b.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.exp, base + 900);
    aioe_token_clear(&t);
    assert_false(b.ops->changed(b.self));
    aioe_token_source_destroy(&a);
    aioe_token_source_destroy(&b);

    /* an expired cached token is never handed out: the failure is */
    script_init(&s);
    fake_now = base;
    add_token(&s, base, base + 100, true);
    add(&s, 400, "{\"error_description\":\"identity gone\"}");
    mi_config c3 = cache_cfg(&s, "http://cache.example/three");
    assert_int_equal(aioe_token_source_mi_new(&c3, &a), AIOE_OK);
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    fake_now = base + 99;
    assert_int_equal(a.ops->fetch(a.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "identity gone"));
    assert_null(t.data);
    aioe_token_source_destroy(&a);
}

static int64_t real_clock(void)
{
    return (int64_t)time(NULL);
}

static int restore_clock(void **state)
{
    (void)state;
    aioe__mi_wall_clock = real_clock;
    return 0;
}

static void broken_config_reports_at_fetch(void **state)
{
    (void)state;
    aioe_parse_result *uami = parse_ep(UAMI);
    aioe_identity_options *o;
    assert_int_equal(aioe_identity_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_identity_options_set_source(o, AIOE_IDENTITY_SOURCE_ARC), AIOE_OK);
    aioe_token_source src;
    assert_int_equal(aioe_token_source_mi_for_endpoint(
        aioe_parse_result_endpoint(uami, 0), o, &src), AIOE_OK);
    aioe_token t;
    char err[256];
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "Azure Arc"));
    aioe_token_source_destroy(&src);
    aioe_identity_options_free(o);
    aioe_parse_result_free(uami);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_imds_strings_and_jwt_exp),
        cmocka_unit_test(parse_numbers_opaque_token),
        cmocka_unit_test(parse_rejects_bad_responses),
        cmocka_unit_test(error_text_prefers_description),
        cmocka_unit_test(classify_statuses),
        cmocka_unit_test(retries_then_succeeds),
        cmocka_unit_test(final_4xx_carries_service_text),
        cmocka_unit_test(retry_total_is_bounded_and_410_waits_its_window),
        cmocka_unit_test(imds_and_app_service_requests),
        cmocka_unit_test(workload_identity_form_post),
        cmocka_unit_test(arc_challenge_flow),
        cmocka_unit_test(arc_path_rules),
        cmocka_unit_test(refresh_schedule),
        cmocka_unit_test(source_selection_like_the_sdks),
        cmocka_unit_test(config_resolution),
        cmocka_unit_test(cache_shares_one_fetch),
        cmocka_unit_test_teardown(cache_refreshes_ahead_and_signals_change, restore_clock),
        cmocka_unit_test(broken_config_reports_at_fetch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
