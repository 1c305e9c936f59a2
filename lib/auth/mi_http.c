/* The one HTTP exchange the token sources need, on libcurl: no proxy (IMDS
 * and the local agents must never be reached through one), no redirects,
 * no signals (we run on session threads), bounded time and body size. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "curl_loader.h"

#include "aioendpoint/common.h"
#include "mi.h"

#define MI_HTTP_MAX_BODY (1024 * 1024)

void aioe__mi_http_resp_clear(mi_http_resp *r)
{
    if (!r)
        return;
    if (r->body) {
        OPENSSL_cleanse(r->body, r->body_len);
        free(r->body);
    }
    free(r->www_authenticate);
    memset(r, 0, sizeof *r);
}

typedef struct body_buf {
    char *data;
    size_t len, cap;
    bool too_big;
} body_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > MI_HTTP_MAX_BODY) {
        b->too_big = true;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        /* grow by copy so the old buffer (maybe holding a token) is wiped */
        char *d = malloc(cap);
        if (!d)
            return 0;
        if (b->data) {
            memcpy(d, b->data, b->len);
            OPENSSL_cleanse(b->data, b->len);
            free(b->data);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int aioe__mi_http_curl(void *ctx, const mi_http_req *req, mi_http_resp *resp)
{
    (void)ctx;
    memset(resp, 0, sizeof *resp);
    const char *why = NULL;
    const aioe_curl_api *C = aioe_curl(&why);
    if (!C) {
        snprintf(resp->transport_error, sizeof resp->transport_error, "%s", why);
        return AIOE_ERR_UNSUPPORTED;
    }
    CURL *c = C->easy_init();
    if (!c)
        return AIOE_ERR_NOMEM;
    struct curl_slist *hl = NULL;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *n = C->slist_append(hl, *h);
        if (!n) {
            C->slist_free_all(hl);
            C->easy_cleanup(c);
            return AIOE_ERR_NOMEM;
        }
        hl = n;
    }
    body_buf b = { 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    C->easy_setopt(c, CURLOPT_URL, req->url);
    C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    C->easy_setopt(c, CURLOPT_NOPROXY, "*");
    C->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    C->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    C->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    C->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    C->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    C->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    C->easy_setopt(c, CURLOPT_WRITEDATA, &b);
    C->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    C->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (req->ca_file)
        C->easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (hl)
        C->easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (req->body) {
        C->easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        C->easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
    } else if (req->method && strcmp(req->method, "POST") == 0) {
        C->easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = C->easy_perform(c);
    int status = AIOE_OK;
    if (rc == CURLE_OK) {
        long code = 0;
        C->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        resp->status = (int)code;
        curl_off_t ra = 0;
        if (C->easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
            ra > 0 && ra < 3600)
            resp->retry_after_s = (uint32_t)ra;
        struct curl_header *h = NULL;
        if (C->easy_header(c, "WWW-Authenticate", 0, CURLH_HEADER, -1, &h)
            == CURLHE_OK && h && h->value &&
            !(resp->www_authenticate = strdup(h->value)))
            status = AIOE_ERR_NOMEM;
        resp->body = b.data ? b.data : strdup("");
        resp->body_len = b.len;
        b.data = NULL;
        if (!resp->body)
            status = AIOE_ERR_NOMEM;
    } else {
        resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        snprintf(resp->transport_error, sizeof resp->transport_error, "%s",
                 b.too_big ? "response larger than 1 MiB" :
                 *errbuf ? errbuf : C->easy_strerror(rc));
        status = resp->timed_out ? AIOE_ERR_TIMEOUT :
                 (rc == CURLE_PEER_FAILED_VERIFICATION ||
                  rc == CURLE_SSL_CONNECT_ERROR ||
                  rc == CURLE_SSL_CACERT_BADFILE) ? AIOE_ERR_TLS :
                 AIOE_ERR_CONNECTION;
    }
    if (b.data) {
        OPENSSL_cleanse(b.data, b.len);
        free(b.data);
    }
    C->slist_free_all(hl);
    C->easy_cleanup(c);
    return status;
}
