/* JWT claim reading (no verification) and the refresh point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/common.h>
#include "jwt.h"

/* base64url of {"alg":"RS256","typ":"JWT"} */
#define HDR "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"

static void b64(const char *in, char *out)
{
    static const char *t =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = t[v & 63];
    }
    out[o] = '\0';
}

static void make(const char *claims, char *tok, size_t size)
{
    char p[1024];
    b64(claims, p);
    snprintf(tok, size, HDR ".%s.c2ln", p);
}

static void reads_exp_iat_nbf(void **state)
{
    (void)state;
    char tok[2048];
    make("{\"aud\":\"aio-internal\",\"exp\":1700000600,\"iat\":1700000000,"
         "\"nbf\":1700000000,\"sub\":\"system:serviceaccount:x:y\"}", tok,
         sizeof tok);
    aioe_jwt_claims c;
    assert_int_equal(aioe_jwt_read_claims(tok, strlen(tok), &c), AIOE_OK);
    assert_true(c.has_exp && c.has_iat && c.has_nbf);
    assert_true(c.exp == 1700000600 && c.iat == 1700000000);
}

static void tolerates_whitespace_and_padding(void **state)
{
    (void)state;
    char tok[2048], padded[2100];
    make("{\"exp\":42}", tok, sizeof tok);
    /* whitespace as in a token file with a trailing newline */
    snprintf(padded, sizeof padded, "  %s\n", tok);
    aioe_jwt_claims c;
    assert_int_equal(aioe_jwt_read_claims(padded, strlen(padded), &c), AIOE_OK);
    assert_true(c.has_exp && c.exp == 42);
    unsigned char out[16];
    size_t len = sizeof out;
    assert_int_equal(aioe_base64url_decode("YQ==", 4, out, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 'a');
}

static void missing_or_odd_claims(void **state)
{
    (void)state;
    char tok[2048];
    aioe_jwt_claims c;
    make("{\"exp\":\"soon\",\"iat\":1.5e9}", tok, sizeof tok);
    assert_int_equal(aioe_jwt_read_claims(tok, strlen(tok), &c), AIOE_OK);
    assert_false(c.has_exp);
    assert_true(c.has_iat && c.iat == 1500000000);
    make("{}", tok, sizeof tok);
    assert_int_equal(aioe_jwt_read_claims(tok, strlen(tok), &c), AIOE_OK);
    assert_false(c.has_exp);
}

static void rejects_non_jwts(void **state)
{
    (void)state;
    aioe_jwt_claims c;
    const char *bad[] = { "", "opaque-token", "a.b", "a.b.c.d", HDR "..sig",
                          HDR ".!!!.sig", HDR ".WzFd.sig" /* [1] */,
                          HDR ".eyJleHAiOjF.sig" /* truncated JSON */ };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(aioe_jwt_read_claims(bad[i], strlen(bad[i]), &c),
                         AIOE_ERR_INVALID_ARG);
    unsigned char out[4];
    size_t len = sizeof out;
    assert_int_equal(aioe_base64url_decode("AAAAAAAA", 8, out, &len), -1);
    len = sizeof out;
    assert_int_equal(aioe_base64url_decode("A", 1, out, &len), -1);
    len = sizeof out;
    assert_int_equal(aioe_base64url_decode("a+b/", 4, out, &len), -1);
}

static void refresh_point(void **state)
{
    (void)state;
    aioe_jwt_claims c = { 0 };
    assert_int_equal(aioe_jwt_refresh_at(&c, 1000), 0);   /* no exp */
    c.has_exp = true;
    c.exp = 1000 + 3600;
    c.has_iat = true;
    c.iat = 1000;
    assert_int_equal(aioe_jwt_refresh_at(&c, 1000), 4600 - 300); /* capped */
    c.exp = 1000 + 100;
    assert_int_equal(aioe_jwt_refresh_at(&c, 1000), 1100 - 20);  /* a fifth */
    c.exp = 1000 + 3;
    assert_int_equal(aioe_jwt_refresh_at(&c, 1000), 1003 - 1);   /* floor 1 s */
    c.has_iat = false;
    c.exp = 1000 + 50;
    assert_int_equal(aioe_jwt_refresh_at(&c, 1000), 1050 - 10);  /* now..exp */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_exp_iat_nbf),
        cmocka_unit_test(tolerates_whitespace_and_padding),
        cmocka_unit_test(missing_or_odd_claims),
        cmocka_unit_test(rejects_non_jwts),
        cmocka_unit_test(refresh_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
