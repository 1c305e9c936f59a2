/* Secret hygiene below the session API: no heap block that the library
 * frees may still hold a token or private key. The test binary is linked
 * with -Wl,--wrap=free, so every free() made by the library's objects
 * (this test links the static archive) goes through __wrap_free below,
 * which scans the block (malloc_usable_size) for the secrets of the
 * current case before releasing it. Frees inside shared libraries
 * (OpenSSL, json-c, Paho) are not seen: those copies are documented in
 * docs/security.md.
 *
 * Cases: the K8S-SAT token source (fetch, rotation check, fetch again,
 * empty file, destroy), the resolver on a private key (get, clear), TLS
 * client material (aioe_tls_prepare with a key in the secret), and the
 * managed-identity token response parser. */
#define _GNU_SOURCE /* memmem */
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <aioendpoint/aioendpoint.h>
#include "mi.h"
#include "resolver.h"
#include "tls.h"
#include "token_source.h"

#define TMPDIR_FIXTURE_NAME "secrets"
#include "tmpdir-fixture.h"

void __real_free(void *p);
void __wrap_free(void *p);

static const char *volatile marker;   /* the secret of the current case */
static size_t marker_len;
static volatile int leaks_seen;       /* freed blocks still holding it */

void __wrap_free(void *p)
{
    if (p && marker) {
        size_t n = malloc_usable_size(p);
        if (memmem(p, n, marker, marker_len))
            leaks_seen++;
    }
    __real_free(p);
}

static void watch(const char *secret)
{
    marker = secret;
    marker_len = strlen(secret);
    leaks_seen = 0;
}

static int unwatch(void)
{
    marker = NULL;
    return leaks_seen;
}

/* The scanner itself: a block freed with the secret in it is seen. */
static void scanner_sees_unwiped_blocks(void **state)
{
    (void)state;
    watch("NOT-WIPED-SECRET");
    /* volatile: at -O2 clang removes a strdup()/free() pair whose block
     * is never read, and the scanner would see nothing */
    char *volatile p = strdup("xxNOT-WIPED-SECRETxx");
    free(p);
    assert_int_equal(unwatch(), 1);
    /* a block freed by the library: aioe_resource_clear on an unwiped copy
     * whose length says 0 (so the wipe covers nothing) */
    watch("NOT-WIPED-SECRET");
    aioe_resource res = { (unsigned char *)strdup("NOT-WIPED-SECRET"), 0, NULL };
    aioe_resource_clear(&res);
    assert_int_equal(unwatch(), 1);
}

static void sat_token_buffers_are_wiped(void **state)
{
    (void)state;
    static const char tok1[] = "eyJhbGciOiJSUzI1NiJ9.eyJTRUNSRVQtT05FIjoxfQ.c2lnLW9uZS1zZWNyZXQ";
    static const char tok2[] = "eyJhbGciOiJSUzI1NiJ9.eyJTRUNSRVQtVFdPIjoxfQ.c2lnLXR3by1zZWNyZXQ";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/token", root);
    put(path, tok1);

    aioe_token_source src;
    aioe_token t = { 0 };
    char err[256];
    watch("c2lnLW9uZS1zZWNyZXQ"); /* signature part of tok1 */
    assert_int_equal(aioe_token_source_sat_new(path, &src), AIOE_OK);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(t.len, strlen(tok1));
    aioe_token_clear(&t);
    assert_false(src.ops->changed(src.self));
    /* rotate (new inode, like the kubelet's swap) */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/token.new", root);
    put(tmp, tok2);
    assert_int_equal(rename(tmp, path), 0);
    assert_true(src.ops->changed(src.self));
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    assert_int_equal(unwatch(), 0);

    watch("c2lnLXR3by1zZWNyZXQ");
    /* emptied file: fetch fails, the old contents are released wiped */
    put(path, "");
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_null(strstr(err, "c2ln"));
    put(path, tok2);
    assert_int_equal(src.ops->fetch(src.self, &t, err, sizeof err), AIOE_OK);
    aioe_token_clear(&t);
    aioe_token_source_destroy(&src);
    assert_int_equal(unwatch(), 0);
}

static char *pem_of_key(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static char *pem_of_cert(EVP_PKEY *k)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"c", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static void private_key_buffers_are_wiped(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    char *key = pem_of_key(k), *cert = pem_of_cert(k);
    char dir[PATH_MAX], p[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/secrets", root);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/secrets/x509", root);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/client_key.pem", dir);
    put(p, key);
    snprintf(p, sizeof p, "%s/client_cert.pem", dir);
    put(p, cert);
    /* 40 characters of the key's base64 body */
    char body[41];
    const char *nl = strchr(key, '\n');
    assert_non_null(nl);
    snprintf(body, sizeof body, "%s", nl + 1);

    aioe_resolver r = { .root = root };
    aioe_resource res;
    char err[512];
    watch(body);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "x509", "client_key.pem",
                                       &res, err, sizeof err),
                     AIOE_OK);
    aioe_resource_clear(&res);
    assert_int_equal(unwatch(), 0);

    /* the whole client-material path, as every connect runs it */
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
             "metadata:\n  name: e\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
             "    host: localhost:8883\n    authentication:\n      method: X509Certificate\n"
             "      x509CertificateSettings:\n        secretRef: x509\n"
             "    tls:\n      mode: Enabled\n");
    aioe_parse_result *pr = NULL;
    assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), "t", NULL, &pr), AIOE_OK);
    aioe_tls_files f = { 0 };
    watch(body);
    int rc = aioe_tls_prepare(&f, &r, aioe_parse_result_endpoint(pr, 0), err, sizeof err);
    assert_int_equal(rc, AIOE_OK);
    assert_null(strstr(err, body));
    aioe_tls_files_free(&f);
    assert_int_equal(unwatch(), 0);
    aioe_parse_result_free(pr);

    /* a mismatched key: the error path wipes too, and never quotes the key */
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *key2 = pem_of_key(k2);
    snprintf(p, sizeof p, "%s/client_key.pem", dir);
    put(p, key2);
    char body2[41];
    snprintf(body2, sizeof body2, "%s", strchr(key2, '\n') + 1);
    assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), "t", NULL, &pr), AIOE_OK);
    memset(&f, 0, sizeof f);
    watch(body2);
    assert_int_equal(aioe_tls_prepare(&f, &r, aioe_parse_result_endpoint(pr, 0), err,
                                      sizeof err),
                     AIOE_ERR_TLS);
    assert_null(strstr(err, body2));
    aioe_tls_files_free(&f);
    assert_int_equal(unwatch(), 0);
    aioe_parse_result_free(pr);

    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    free(key);
    free(key2);
    free(cert);
}

static void token_response_buffers_are_wiped(void **state)
{
    (void)state;
    static const char body[] =
        "{\"access_token\":\"opaque-SECRET-access-token-value\",\"expires_in\":\"3599\"}";
    mi_token t;
    char err[256];
    watch("SECRET-access-token");
    assert_int_equal(aioe__mi_parse_token_response(body, strlen(body), 1767225600, &t, err,
                                             sizeof err),
                     AIOE_OK);
    aioe__mi_token_clear(&t);
    char text[256];
    aioe__mi_error_text(body, strlen(body), text, sizeof text);
    assert_int_equal(unwatch(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scanner_sees_unwiped_blocks),
        cmocka_unit_test(sat_token_buffers_are_wiped),
        cmocka_unit_test(private_key_buffers_are_wiped),
        cmocka_unit_test(token_response_buffers_are_wiped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
