/* libFuzzer target: managed-identity token-response parsing (lib/auth/mi.h:
 * aioe__mi_parse_token_response, aioe__mi_error_text) and the refresh schedule.
 *
 * The input is the HTTP response body. Invariants: no crash, leak or UB
 * (including integer overflow on hostile expires_in / expires_on / JWT
 * exp / iat values); on success the token is a non-empty copy of the
 * body's access_token, refresh_at <= exp, and refresh_at >= iat whenever
 * the token has a positive lifetime; the error text is NUL-terminated printable ASCII
 * that fits its buffer. */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aioendpoint/common.h"
#include "mi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error_text(const char *body, size_t len, size_t buflen)
{
    char buf[256];
    memset(buf, 0x7f, sizeof buf);
    aioe__mi_error_text(body, len, buf, buflen);
    if (buflen == 0)
        return;
    size_t n = strnlen(buf, buflen);
    if (n >= buflen)
        abort(); /* not terminated within the buffer */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
            abort();
    for (size_t i = buflen; i < sizeof buf; i++)
        if (buf[i] != 0x7f)
            abort(); /* wrote past buflen */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* bodies from the HTTP layer are NUL-terminated (mi_http_resp.body) */
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';

    static const int64_t nows[] = { 1767225600, 0 };
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        mi_token t;
        char err[128];
        memset(err, 0x7f, sizeof err);
        int rc = aioe__mi_parse_token_response(body, size, nows[i], &t, err, sizeof err);
        if (rc == AIOE_OK) {
            if (!t.access_token || t.len == 0 || t.exp == 0)
                abort();
            if (!memmem(body, size, t.access_token, strnlen(t.access_token, t.len)) &&
                !memchr(body, '\\', size))
                abort(); /* not from the body (unless JSON escapes changed it) */
            /* an already expired answer (expires_on in the past) is
             * accepted with iat = now > exp; it is refreshed at exp */
            if (t.refresh_at > t.exp)
                abort();
            if (t.exp > t.iat && t.refresh_at < t.iat)
                abort();
        } else if (rc == AIOE_ERR_PROTOCOL) {
            if (!memchr(err, '\0', sizeof err))
                abort();
        } else if (rc != AIOE_ERR_NOMEM) {
            abort();
        }
        aioe__mi_token_clear(&t);
    }
    check_error_text(body, size, 200);
    check_error_text(body, size, 1);
    check_error_text(body, size, 0);

    /* the schedule alone, on the extremes the body may carry */
    if (size >= 16) {
        int64_t a, b;
        memcpy(&a, data, 8);
        memcpy(&b, data + 8, 8);
        int64_t at = aioe__mi_refresh_at(a, b);
        if (b > a && (at > b || at < a))
            abort();
    }
    free(body);
    return 0;
}
