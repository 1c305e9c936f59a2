/* JWT claim reading: base64url + json-c. The token is never logged. */
#include <string.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "aioendpoint/common.h"
#include "jwt.h"

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int aioe_base64url_decode(const char *in, size_t in_len, unsigned char *out,
                          size_t *out_len)
{
    while (in_len > 0 && in[in_len - 1] == '=')
        in_len--;
    if (in_len % 4 == 1)
        return -1;
    size_t need = in_len / 4 * 3 + (in_len % 4 ? in_len % 4 - 1 : 0);
    if (need > *out_len)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < in_len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* leftover bits must be zero in canonical encoding; be lenient */
    *out_len = o;
    return 0;
}

static void read_int_claim(json_object *obj, const char *name, bool *has,
                           int64_t *val)
{
    json_object *v;
    *has = false;
    if (!json_object_object_get_ex(obj, name, &v))
        return;
    if (json_object_is_type(v, json_type_int)) {
        *val = json_object_get_int64(v);
        *has = true;
    } else if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d > -9.2e18 && d < 9.2e18) {
            *val = (int64_t)d;
            *has = true;
        }
    }
}

int aioe_jwt_read_claims(const char *token, size_t len, aioe_jwt_claims *out)
{
    if (!token || !out)
        return AIOE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    while (len > 0 && (token[0] == ' ' || token[0] == '\n' ||
                       token[0] == '\r' || token[0] == '\t')) {
        token++;
        len--;
    }
    while (len > 0 && (token[len - 1] == ' ' || token[len - 1] == '\n' ||
                       token[len - 1] == '\r' || token[len - 1] == '\t'))
        len--;
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return AIOE_ERR_INVALID_ARG;
    const char *p = dot1 + 1;
    size_t rest = len - (size_t)(p - token);
    const char *dot2 = memchr(p, '.', rest);
    if (!dot2 || memchr(dot2 + 1, '.', rest - (size_t)(dot2 + 1 - p)))
        return AIOE_ERR_INVALID_ARG;
    size_t plen = (size_t)(dot2 - p);
    if (plen == 0 || plen > 64 * 1024)
        return AIOE_ERR_INVALID_ARG;
    size_t cap = plen / 4 * 3 + 3;
    unsigned char *json = malloc(cap + 1);
    if (!json)
        return AIOE_ERR_NOMEM;
    size_t jlen = cap;
    if (aioe_base64url_decode(p, plen, json, &jlen) != 0) {
        free(json);
        return AIOE_ERR_INVALID_ARG;
    }
    json[jlen] = '\0';
    json_tokener *tok = json_tokener_new();
    json_object *obj = tok ? json_tokener_parse_ex(tok, (const char *)json,
                                                   (int)jlen) : NULL;
    int rc = AIOE_ERR_INVALID_ARG;
    if (obj && json_tokener_get_error(tok) == json_tokener_success &&
        json_object_is_type(obj, json_type_object)) {
        read_int_claim(obj, "exp", &out->has_exp, &out->exp);
        read_int_claim(obj, "iat", &out->has_iat, &out->iat);
        read_int_claim(obj, "nbf", &out->has_nbf, &out->nbf);
        rc = AIOE_OK;
    }
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    free(json);
    return rc;
}

int64_t aioe_jwt_refresh_at(const aioe_jwt_claims *c, int64_t now)
{
    if (!c->has_exp)
        return 0;
    int64_t start = c->has_iat && c->iat < c->exp ? c->iat : now;
    /* exp and iat come from the token: the difference is taken unsigned
     * (exact when start < exp) so hostile values cannot overflow */
    uint64_t life = start < c->exp ? (uint64_t)c->exp - (uint64_t)start : 0;
    int64_t margin = life / 5 > 300 ? 300 : (int64_t)(life / 5);
    if (margin < 1)
        margin = 1;
    return c->exp < INT64_MIN + margin ? INT64_MIN : c->exp - margin;
}
