/* JWT minting (RS256 / ES256) with harness-generated keys. */
#include "harness-internal.h"

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t jwt_lock = PTHREAD_MUTEX_INITIALIZER;
/* [alg][0] trusted, [alg][1] untrusted ("wrong") key. */
static EVP_PKEY *keys[2][2];
static char *pubkeys_path;

static void jwt_free_all(void)
{
    for (int a = 0; a < 2; a++)
        for (int w = 0; w < 2; w++) {
            EVP_PKEY_free(keys[a][w]);
            keys[a][w] = NULL;
        }
    free(pubkeys_path);
    pubkeys_path = NULL;
}

static EVP_PKEY *get_key_locked(harness_jwt_alg alg, bool wrong)
{
    EVP_PKEY **slot = &keys[alg == HARNESS_JWT_ES256][wrong];

    if (!*slot) {
        if (alg == HARNESS_JWT_ES256)
            *slot = harness_gen_ec_key();
        else
            /* 1024 bits: key generation stays ~10 ms (2048 takes up to
             * ~1 s); the size plays no part in what the tests check. */
            *slot = EVP_RSA_gen(1024);
        if (!*slot)
            harness_log("JWT key generation failed");
        harness_at_exit(jwt_free_all);
    }
    return *slot;
}

static char *b64url(const unsigned char *in, size_t len)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(len * 4 / 3 + 4);
    size_t o = 0, i = 0;

    if (!out)
        abort();
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

/* Signs data; for ES256 converts the DER signature to raw R||S (RFC 7518). */
static unsigned char *sign(EVP_PKEY *key, harness_jwt_alg alg,
                           const char *data, size_t *sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t len = 0;

    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &len, (const unsigned char *)data,
                       strlen(data)) != 1)
        goto fail;
    sig = malloc(len);
    if (!sig || EVP_DigestSign(md, sig, &len, (const unsigned char *)data,
                               strlen(data)) != 1)
        goto fail;
    EVP_MD_CTX_free(md);
    if (alg == HARNESS_JWT_ES256) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        unsigned char *raw = malloc(64);
        if (!es || !raw) {
            ECDSA_SIG_free(es);
            free(raw);
            free(sig);
            return NULL;
        }
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        free(sig);
        sig = raw;
        len = 64;
    }
    *sig_len = len;
    return sig;
fail:
    EVP_MD_CTX_free(md);
    free(sig);
    return NULL;
}

char *harness_jwt_mint(const harness_jwt_claims *c)
{
    json_object *claims = json_object_new_object();
    char *result = NULL;

    if (c->iss)
        json_object_object_add(claims, "iss", json_object_new_string(c->iss));
    if (c->sub)
        json_object_object_add(claims, "sub", json_object_new_string(c->sub));
    if (c->aud_list) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < c->aud_count; i++)
            json_object_array_add(arr, json_object_new_string(c->aud_list[i]));
        json_object_object_add(claims, "aud", arr);
    } else if (c->aud) {
        json_object_object_add(claims, "aud", json_object_new_string(c->aud));
    }
    if (c->exp)
        json_object_object_add(claims, "exp", json_object_new_int64(c->exp));
    json_object_object_add(claims, "iat",
                           json_object_new_int64(c->iat ? c->iat : harness_time()));
    if (c->nbf)
        json_object_object_add(claims, "nbf", json_object_new_int64(c->nbf));
    if (c->extra_json) {
        char *wrapped = harness_strdupf("{%s}", c->extra_json);
        json_object *extra = json_tokener_parse(wrapped);
        free(wrapped);
        if (!extra || !json_object_is_type(extra, json_type_object)) {
            harness_log("jwt: extra_json is not valid JSON members");
            json_object_put(extra);
            json_object_put(claims);
            return NULL;
        }
        json_object_object_foreach(extra, key, val) {
            json_object_object_add(claims, key, json_object_get(val));
        }
        json_object_put(extra);
    }

    const char *header = c->alg == HARNESS_JWT_ES256
                             ? "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
                             : "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    const char *body = json_object_to_json_string_ext(
        claims, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *h64 = b64url((const unsigned char *)header, strlen(header));
    char *c64 = b64url((const unsigned char *)body, strlen(body));
    char *signing_input = harness_strdupf("%s.%s", h64, c64);
    free(h64);
    free(c64);
    json_object_put(claims);

    pthread_mutex_lock(&jwt_lock);
    EVP_PKEY *key = get_key_locked(c->alg, c->wrong_key);
    size_t sig_len = 0;
    unsigned char *sig = key ? sign(key, c->alg, signing_input, &sig_len) : NULL;
    pthread_mutex_unlock(&jwt_lock);
    if (sig) {
        char *s64 = b64url(sig, sig_len);
        result = harness_strdupf("%s.%s", signing_input, s64);
        free(s64);
        free(sig);
    } else {
        harness_log("jwt: signing failed");
    }
    free(signing_input);
    return result;
}

char *harness_jwt_simple(const char *aud, int ttl_seconds)
{
    int64_t now = harness_time();
    harness_jwt_claims c = {
        .alg = HARNESS_JWT_RS256,
        .iss = "https://kubernetes.default.svc.cluster.local",
        .sub = "system:serviceaccount:azure-iot-operations:aioe-test",
        .aud = aud,
        .iat = ttl_seconds < 0 ? now + 2 * ttl_seconds : now,
        .exp = now + ttl_seconds,
    };

    return harness_jwt_mint(&c);
}

const char *harness_jwt_public_keys_path(void)
{
    const char *result = NULL;

    pthread_mutex_lock(&jwt_lock);
    if (!pubkeys_path) {
        EVP_PKEY *rsa = get_key_locked(HARNESS_JWT_RS256, false);
        EVP_PKEY *ec = get_key_locked(HARNESS_JWT_ES256, false);
        char *path = harness_path("jwt-public-keys.pem");
        FILE *f = path ? fopen(path, "we") : NULL;
        int ok = f && rsa && ec && PEM_write_PUBKEY(f, rsa) &&
                 PEM_write_PUBKEY(f, ec);
        if (f && fclose(f) != 0)
            ok = 0;
        if (ok) {
            pubkeys_path = path;
        } else {
            harness_log("cannot write JWT public keys");
            free(path);
        }
    }
    result = pubkeys_path;
    pthread_mutex_unlock(&jwt_lock);
    return result;
}

char *harness_jwt_write_file(const char *name, const char *token)
{
    char *path = harness_path(name);

    if (!path)
        return NULL;
    /* Write a sibling and rename it over: readers never see a torn file
     * (kubelet swaps projected tokens atomically too). */
    char *tmp = harness_strdupf("%s.tmp", path);
    if (harness_write_file(tmp, token, strlen(token)) != 0 ||
        rename(tmp, path) != 0) {
        harness_log("cannot write token file %s", path);
        free(tmp);
        free(path);
        return NULL;
    }
    free(tmp);
    return path;
}
