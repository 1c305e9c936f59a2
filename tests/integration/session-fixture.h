/* Shared fixture for the session integration tests: endpoint YAML → session
 * with recording callbacks, waits on conditions with deadlines (no sleeps),
 * resource directories laid out like Kubernetes mounts, kubelet-style token
 * files. Header-only so each test program stays one file. */
#ifndef AIOE_SESSION_FIXTURE_H
#define AIOE_SESSION_FIXTURE_H

#include "harness.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#define WAIT_MS 8000
#define MAX_SEQ 20000

typedef struct ev_rec {
    aioe_session_state state;
    int status, reason;
    bool present, lost, will_retry;
    uint32_t delay;
    unsigned attempt;
    char msg[200];
    int64_t t_ms;
} ev_rec;

typedef struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ev_rec ev[1024];
    size_t nev;
    char *log;
    size_t loglen;
    /* received messages */
    size_t msgs;
    unsigned char seen[MAX_SEQ];
    size_t distinct;
    char last_topic[128];
    char last_ct[64];
    size_t last_props;
    char prop0[64];
    bool last_retain;
    int last_qos;
    /* publish completions */
    unsigned short calls[MAX_SEQ];
    size_t pub_done, pub_ok;
    int last_pub_status, last_pub_reason;
    size_t sub_done;
    int last_sub_status, last_sub_reason;
} recorder;

static inline recorder *recorder_new(void)
{
    recorder *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

static inline void recorder_free(recorder *r)
{
    if (!r)
        return;
    free(r->log);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static inline void fx_on_state(aioe_session *s, const aioe_session_event *e, void *ud)
{
    recorder *r = ud;
    (void)s;
    pthread_mutex_lock(&r->mu);
    if (r->nev < sizeof r->ev / sizeof r->ev[0]) {
        ev_rec *x = &r->ev[r->nev++];
        x->state = e->state;
        x->status = e->status;
        x->reason = e->reason_code;
        x->present = e->session_present;
        x->lost = e->session_lost;
        x->will_retry = e->will_retry;
        x->delay = e->retry_delay_ms;
        x->attempt = e->attempt;
        snprintf(x->msg, sizeof x->msg, "%s", e->message);
        x->t_ms = harness_now_ms();
    }
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "%lld state %d status %d reason %d lost %d: %s\n",
                (long long)harness_now_ms(), e->state, e->status,
                e->reason_code, e->session_lost, e->message);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static inline void fx_on_log(aioe_session *s, aioe_log_level l, const char *m, void *ud)
{
    recorder *r = ud;
    (void)s;
    (void)l;
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "log %d: %s\n", l, m);
    pthread_mutex_lock(&r->mu);
    size_t n = strlen(m);
    char *nl = realloc(r->log, r->loglen + n + 2);
    if (nl) {
        r->log = nl;
        memcpy(r->log + r->loglen, m, n);
        r->loglen += n;
        r->log[r->loglen++] = '\n';
        r->log[r->loglen] = '\0';
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static inline void fx_on_message(aioe_session *s, const aioe_message *m, void *ud)
{
    recorder *r = ud;
    size_t tl, pl, cl;
    (void)s;
    const char *t = aioe_message_topic(m, &tl);
    const char *p = aioe_message_payload(m, &pl);
    const char *ct = aioe_message_content_type(m, &cl);
    pthread_mutex_lock(&r->mu);
    r->msgs++;
    snprintf(r->last_topic, sizeof r->last_topic, "%.*s", (int)tl, t);
    snprintf(r->last_ct, sizeof r->last_ct, "%.*s", ct ? (int)cl : 0, ct ? ct : "");
    r->last_props = aioe_message_user_property_count(m);
    r->last_retain = aioe_message_retain(m);
    r->last_qos = aioe_message_qos(m);
    aioe_user_property up;
    if (r->last_props && aioe_message_user_property(m, 0, &up) == AIOE_OK)
        snprintf(r->prop0, sizeof r->prop0, "%.*s=%.*s", (int)up.name_len,
                 up.name, (int)up.value_len, up.value);
    char num[16] = "";
    if (pl > 0 && pl < sizeof num) {
        memcpy(num, p, pl);
        long seq = strtol(num, NULL, 10);
        if (seq >= 0 && seq < MAX_SEQ && !r->seen[seq]) {
            r->seen[seq] = 1;
            r->distinct++;
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

typedef struct pub_ctx {
    recorder *r;
    size_t seq;
} pub_ctx;

static inline void fx_on_published(aioe_session *s, int status, int reason, void *ud)
{
    recorder *r = ud;
    (void)s;
    pthread_mutex_lock(&r->mu);
    r->pub_done++;
    if (status == AIOE_OK)
        r->pub_ok++;
    r->last_pub_status = status;
    r->last_pub_reason = reason;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* user_data = recorder; seq counted through a global table set per call */
static recorder *fx_seq_recorder;

static inline void fx_on_published_seq(aioe_session *s, int status, int reason, void *ud)
{
    size_t seq = (size_t)(uintptr_t)ud;
    recorder *r = fx_seq_recorder;
    pthread_mutex_lock(&r->mu);
    if (seq < MAX_SEQ)
        r->calls[seq]++;
    pthread_mutex_unlock(&r->mu);
    fx_on_published(s, status, reason, r);
}

static inline void fx_on_subscribed(aioe_session *s, int status, int reason, void *ud)
{
    recorder *r = ud;
    (void)s;
    pthread_mutex_lock(&r->mu);
    r->sub_done++;
    r->last_sub_status = status;
    r->last_sub_reason = reason;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Waits (deadline) until pred(r) holds; r->mu is held while pred runs. */
static inline bool fx_wait(recorder *r, bool (*pred)(recorder *, const void *),
                           const void *arg, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    pthread_mutex_lock(&r->mu);
    bool ok;
    while (!(ok = pred(r, arg))) {
        /* re-check at least every 20 ms: some predicates read the clock */
        int64_t step = harness_now_ms() + 20;
        if (!harness_cond_wait_until(&r->cv, &r->mu, step < deadline ? step : deadline))
            break;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

typedef struct state_query {
    aioe_session_state state;
    size_t from;     /* event index to start at */
    size_t *found;   /* receives the index */
} state_query;

static inline bool pred_state(recorder *r, const void *arg)
{
    const state_query *q = arg;
    for (size_t i = q->from; i < r->nev; i++)
        if (r->ev[i].state == q->state) {
            if (q->found)
                *q->found = i;
            return true;
        }
    return false;
}

/* Waits for the first event in state st at index >= *from; returns it in
 * *out and advances *from past it. */
static inline bool fx_wait_state(recorder *r, aioe_session_state st, size_t *from,
                                 ev_rec *out, int timeout_ms)
{
    size_t idx = 0;
    state_query q = { st, from ? *from : 0, &idx };
    if (!fx_wait(r, pred_state, &q, timeout_ms))
        return false;
    pthread_mutex_lock(&r->mu);
    if (out)
        *out = r->ev[idx];
    pthread_mutex_unlock(&r->mu);
    if (from)
        *from = idx + 1;
    return true;
}

static inline size_t fx_count_state(recorder *r, aioe_session_state st)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nev; i++)
        n += r->ev[i].state == st;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static inline bool pred_pub_done(recorder *r, const void *arg)
{
    return r->pub_done >= *(const size_t *)arg;
}

static inline bool pred_distinct(recorder *r, const void *arg)
{
    return r->distinct >= *(const size_t *)arg;
}

static inline bool pred_sub_done(recorder *r, const void *arg)
{
    return r->sub_done >= *(const size_t *)arg;
}

/* ---- endpoints and sessions ---- */

#define EP_HEAD "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\nmetadata:\n  name: test-endpoint\n" \
    "  namespace: azure-iot-operations\nspec:\n  endpointType: Mqtt\n" \
    "  mqttSettings:\n"

/* mqttSettings body (indented 4) via printf format; returns the result,
 * endpoint 0 is the one. */
static inline aioe_parse_result *fx_endpoint(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline aioe_parse_result *fx_endpoint(const char *fmt, ...)
{
    char body[4096], yaml[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(yaml, sizeof yaml, "%s%s", EP_HEAD, body);
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "fixture", NULL, &res);
    if (rc != AIOE_OK) {
        for (size_t i = 0; res && i < aioe_parse_result_error_count(res); i++)
            fprintf(stderr, "spec error %s: %s\n",
                    aioe_parse_result_error(res, i)->path,
                    aioe_parse_result_error(res, i)->message);
        fprintf(stderr, "%s\n", yaml);
    }
    assert_int_equal(rc, AIOE_OK);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
    return res;
}

#define AUTH_ANON "    authentication:\n      method: Anonymous\n      anonymousSettings: {}\n"
#define AUTH_SAT "    authentication:\n      method: ServiceAccountToken\n" \
    "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
#define AUTH_X509(secret) "    authentication:\n      method: X509Certificate\n" \
    "      x509CertificateSettings:\n        secretRef: " secret "\n"
#define TLS_OFF "    tls:\n      mode: Disabled\n"
#define TLS_CA(cm) "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: " cm "\n"

/* Resource root: configmaps/test-ca, configmaps/wrong-ca, secrets/x509,
 * secrets/tls, secrets/encrypted-key, secrets/mismatched-key. */
static inline const char *fx_resource_root(void)
{
    static char *root;
    if (root)
        return root;
    const harness_pki *pki = harness_pki_get();
    assert_non_null(pki);
    root = harness_mkdir("resources");
    char *cm = harness_mkdir("resources/configmaps");
    char *sec = harness_mkdir("resources/secrets");
    char p[1024];
    snprintf(p, sizeof p, "%s/test-ca", cm);
    assert_int_equal(symlink(pki->secret_ca_dir, p), 0);
    snprintf(p, sizeof p, "%s/x509", sec);
    assert_int_equal(symlink(pki->secret_x509_dir, p), 0);
    snprintf(p, sizeof p, "%s/tls", sec);
    assert_int_equal(symlink(pki->secret_tls_dir, p), 0);
    free(harness_mkdir("resources/configmaps/wrong-ca"));
    size_t len;
    char *data = harness_read_file(pki->wrong_ca_cert, &len);
    snprintf(p, sizeof p, "%s/wrong-ca/ca.crt", cm);
    assert_int_equal(harness_write_file(p, data, len), 0);
    free(data);
    /* x509 secrets with a bad key */
    struct { const char *name; const char *key; } bad[] = {
        { "encrypted-key", pki->client_key_encrypted },
        { "mismatched-key", pki->mismatched_key },
    };
    for (size_t i = 0; i < 2; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "resources/secrets/%s", bad[i].name);
        free(harness_mkdir(dir));
        data = harness_read_file(pki->client_cert, &len);
        snprintf(p, sizeof p, "%s/%s/client_cert.pem", sec, bad[i].name);
        assert_int_equal(harness_write_file(p, data, len), 0);
        free(data);
        data = harness_read_file(bad[i].key, &len);
        snprintf(p, sizeof p, "%s/%s/client_key.pem", sec, bad[i].name);
        assert_int_equal(harness_write_file(p, data, len), 0);
        free(data);
    }
    free(cm);
    free(sec);
    return root;
}

/* A token file like a projected volume: <dir>/token -> ..data/token,
 * ..data -> ..tsN. fx_token_rotate swaps ..data atomically. */
typedef struct token_dir {
    char *dir;
    char path[512];
    int gen;
} token_dir;

static inline void fx_token_rotate(token_dir *t, const char *token)
{
    char d[600], f[700], tmp[600], data[600];
    t->gen++;
    snprintf(d, sizeof d, "%s/..ts%d", t->dir, t->gen);
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(f, sizeof f, "%s/token", d);
    assert_int_equal(harness_write_file(f, token, strlen(token)), 0);
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", t->dir);
    snprintf(data, sizeof data, "%s/..data", t->dir);
    snprintf(d, sizeof d, "..ts%d", t->gen);
    assert_int_equal(symlink(d, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
}

static inline void fx_token_init(token_dir *t, const char *token)
{
    memset(t, 0, sizeof *t);
    char *name = harness_unique("sat");
    t->dir = harness_mkdir(name);
    free(name);
    fx_token_rotate(t, token);
    snprintf(t->path, sizeof t->path, "%s/token", t->dir);
    assert_int_equal(symlink("..data/token", t->path), 0);
}

static inline void fx_token_free(token_dir *t)
{
    free(t->dir);
}

/* How often sessions made by fx_session_with() check the token file (a
 * test that must not be rescued by the poll sets it high first). */
static uint32_t fx_token_check_ms = 50;

/* Session with recording callbacks and test-speed timings. */
/* Like fx_session(), on top of the settings already in o (NULL: none);
 * o is freed. */
static inline aioe_session *fx_session_with(const aioe_endpoint *ep, recorder *r,
                                            const char *token_file, aioe_session_options *o)
{
    if (!o)
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_message_callback(o, fx_on_message, r);
    aioe_session_options_set_resource_dir(o, fx_resource_root());
    aioe_session_options_set_reconnect_backoff(o, 128, 2000);
    aioe_session_options_set_connect_timeout(o, 5000);
    aioe_session_options_set_token_check_interval(o, fx_token_check_ms);
    if (token_file)
        aioe_session_options_set_token_file(o, token_file);
    char *inst = harness_unique("inst");
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, ep, inst, o), AIOE_OK);
    free(inst);
    aioe_session_options_free(o);
    return s;
}

static inline aioe_session *fx_session(const aioe_endpoint *ep, recorder *r,
                                       const char *token_file)
{
    return fx_session_with(ep, r, token_file, NULL);
}

/* True if the log never contains needle (a token must never be logged). */
static inline bool fx_log_lacks(recorder *r, const char *needle)
{
    pthread_mutex_lock(&r->mu);
    bool lacks = !r->log || !strstr(r->log, needle);
    pthread_mutex_unlock(&r->mu);
    return lacks;
}

#endif
