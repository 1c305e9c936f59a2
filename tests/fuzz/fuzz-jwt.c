/* libFuzzer target: JWT claim reading (lib/auth/jwt.h) and the refresh point
 * computed from it.
 *
 * The first byte picks what the rest is:
 *   even: a whole token, handed to aioe_jwt_read_claims() as is;
 *   odd:  a JSON payload, wrapped as "e30.<base64url(payload)>.sig" so the
 *         fuzzer reaches the claim reader directly instead of spending its
 *         time on base64url.
 * Invariants: no crash, leak or UB; the decoder never writes past its
 * capacity and agrees with an encode/decode round trip; claims reported
 * for a wrapped payload are the ones json-c itself sees; the refresh point
 * lies in [exp - 300, exp - 1] whatever exp and iat are. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aioendpoint/common.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
    }
    return o;
}

static void check_refresh(const aioe_jwt_claims *c)
{
    /* now: a fixed recent time, and the extremes */
    static const int64_t nows[] = { 1767225600, 0, INT64_MAX, INT64_MIN };
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        int64_t at = aioe_jwt_refresh_at(c, nows[i]);
        if (!c->has_exp) {
            if (at != 0)
                abort();
            continue;
        }
        /* margin between 1 and 300 s before exp (exp near INT64_MIN cannot
         * go lower; the function must still not overflow) */
        if (c->exp > INT64_MIN + 300 && (at > c->exp - 1 || at < c->exp - 300))
            abort();
    }
}

/* What json-c says about an integer member, mirroring the documented rule:
 * integers, and doubles within int64 range. */
static void expect_claim(json_object *obj, const char *name, bool has, int64_t val)
{
    json_object *v;
    bool want = false;
    int64_t wv = 0;
    if (json_object_object_get_ex(obj, name, &v)) {
        if (json_object_is_type(v, json_type_int)) {
            want = true;
            wv = json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_double)) {
            double d = json_object_get_double(v);
            if (d > -9.2e18 && d < 9.2e18) {
                want = true;
                wv = (int64_t)d;
            }
        }
    }
    if (want != has || (want && wv != val))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool wrap = data[0] & 1;
    data++;
    size--;

    /* base64url decoder on the raw bytes, exact capacity, plus a guard */
    {
        size_t cap = size / 4 * 3 + 3;
        unsigned char *out = malloc(cap + 1);
        if (!out)
            return 0;
        out[cap] = 0xA5;
        size_t len = cap;
        if (aioe_base64url_decode((const char *)data, size, out, &len) == 0 &&
            len > cap)
            abort();
        if (out[cap] != 0xA5)
            abort();
        /* too small a buffer must fail, never overflow */
        size_t small = 2;
        unsigned char tiny[2];
        (void)aioe_base64url_decode((const char *)data, size, tiny, &small);
        free(out);
    }

    aioe_jwt_claims c;
    if (!wrap) {
        char *tok = malloc(size ? size : 1);
        if (!tok)
            return 0;
        memcpy(tok, data, size);
        int rc = aioe_jwt_read_claims(tok, size, &c);
        if (rc != AIOE_OK && rc != AIOE_ERR_INVALID_ARG && rc != AIOE_ERR_NOMEM)
            abort();
        if (rc == AIOE_OK)
            check_refresh(&c);
        free(tok);
        return 0;
    }

    /* round trip: encode the payload, decode it back */
    size_t enc_cap = size / 3 * 4 + 8;
    char *tok = malloc(4 + enc_cap + 5);
    if (!tok)
        return 0;
    memcpy(tok, "e30.", 4);
    size_t elen = encode(data, size, tok + 4);
    {
        unsigned char *back = malloc(size + 3);
        size_t blen = size + 3;
        if (!back)
            abort();
        if (aioe_base64url_decode(tok + 4, elen, back, &blen) != 0 || blen != size ||
            (size && memcmp(back, data, size) != 0))
            abort();
        free(back);
    }
    memcpy(tok + 4 + elen, ".sig", 4);
    size_t tlen = 4 + elen + 4;
    int rc = aioe_jwt_read_claims(tok, tlen, &c);

    /* compare with json-c on the same bytes */
    json_tokener *jt = json_tokener_new();
    json_object *obj = jt ? json_tokener_parse_ex(jt, (const char *)data, (int)size) : NULL;
    bool is_obj = obj && json_tokener_get_error(jt) == json_tokener_success &&
                  json_object_is_type(obj, json_type_object);
    if (size > 0 && size <= 48 * 1024) {
        /* the reader sees the payload NUL-terminated; an embedded NUL ends
         * the JSON text for both, so compare only NUL-free payloads */
        if (!memchr(data, 0, size)) {
            if (is_obj != (rc == AIOE_OK))
                abort();
            if (is_obj) {
                expect_claim(obj, "exp", c.has_exp, c.exp);
                expect_claim(obj, "iat", c.has_iat, c.iat);
                expect_claim(obj, "nbf", c.has_nbf, c.nbf);
            }
        }
    }
    if (rc == AIOE_OK)
        check_refresh(&c);
    json_object_put(obj);
    if (jt)
        json_tokener_free(jt);
    free(tok);
    return 0;
}
