/* Hostile input below the session API, keys and numbers: certificate files
 * holding garbage; keys that do not match the certificate; a group- or
 * world-readable private key; hostile numbers in JWT claims and token
 * responses (found by the fuzz targets: regression cases). Every case must
 * end with a clear error, quickly, without a crash, a leak or a hang. Files
 * are in test-hostile-files.c; session-level cases (aioe_session_start) are
 * in tests/integration/test-hostile.c. */
#include "hostile-fixture.h"

/* ---- TLS material --------------------------------------------------- */

static char *pem_key(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

static char *pem_cert(EVP_PKEY *k, size_t *len)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"client",
                               -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *p;
    long l = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)l + 1);
    memcpy(out, p, (size_t)l);
    out[l] = '\0';
    *len = (size_t)l;
    BIO_free(b);
    X509_free(x);
    return out;
}

/* The base64 body of a PEM block: what must never appear in an error. */
static const char *pem_body(const char *pem)
{
    const char *p = strchr(pem, '\n');
    return p ? p + 1 : pem;
}

static void tls_material(void **state)
{
    (void)state;
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k1);
    assert_non_null(k2);
    size_t cl, kl, k2l;
    char *cert = pem_cert(k1, &cl);
    char *key = pem_key(k1, &kl);
    char *other = pem_key(k2, &k2l);
    char err[512], body[33];
    snprintf(body, sizeof body, "%s", pem_body(other));

    assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl, NULL, 0,
                                           (unsigned char *)key, kl, err, sizeof err),
                     AIOE_OK);
    /* key that does not match the certificate */
    assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl, NULL, 0,
                                           (unsigned char *)other, k2l, err, sizeof err),
                     AIOE_ERR_TLS);
    assert_non_null(strstr(err, "does not match"));
    assert_null(strstr(err, body));

    static const char garbage[] = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n"
                                  "-----END CERTIFICATE-----\n";
    unsigned char rnd[4096];
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (unsigned char)(i * 131 + 7);
    struct { const void *p; size_t n; } bad[] = {
        { garbage, sizeof garbage - 1 }, { rnd, sizeof rnd }, { "", 0 },
        { cert, cl / 2 }, /* truncated */
        { key, kl },      /* a key where the certificate should be */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(aioe_tls_check_client(bad[i].p, bad[i].n, NULL, 0,
                                               (unsigned char *)key, kl, err, sizeof err),
                         AIOE_ERR_TLS);
        assert_true(strlen(err) > 0);
        err[0] = '\0';
        /* garbage where the key should be: no key bytes in the message */
        assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl, NULL, 0,
                                               bad[i].p == key ? (const void *)cert : bad[i].p,
                                               bad[i].p == key ? cl : bad[i].n, err,
                                               sizeof err),
                         AIOE_ERR_TLS);
        assert_true(strlen(err) > 0);
        err[0] = '\0';
        if (bad[i].p != key) {
            assert_int_equal(aioe_tls_check_ca_bundle(bad[i].p, bad[i].n, err, sizeof err),
                             AIOE_ERR_TLS);
            assert_true(strlen(err) > 0);
        }
    }
    /* intermediates: a PEM block that does not parse is refused, and so
     * are bytes without any PEM block; an empty or blank file means none */
    assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl,
                                           (const unsigned char *)garbage,
                                           sizeof garbage - 1, (unsigned char *)key, kl,
                                           err, sizeof err),
                     AIOE_ERR_TLS);
    assert_non_null(strstr(err, "intermediate"));
    assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl, rnd, sizeof rnd,
                                           (unsigned char *)key, kl, err, sizeof err),
                     AIOE_ERR_TLS);
    assert_non_null(strstr(err, "intermediate"));
    assert_int_equal(aioe_tls_check_client((unsigned char *)cert, cl,
                                           (const unsigned char *)" \n\t\n", 4,
                                           (unsigned char *)key, kl, err, sizeof err),
                     AIOE_OK);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    free(cert);
    free(key);
    free(other);
}

/* ---- numbers (fuzz regressions) ------------------------------------- */

/* ---- a group/world-readable private key is warned about ---------------- */

static char key_log[4096];

static void on_key_log(aioe_session *s, aioe_log_level l, const char *m, void *ud)
{
    (void)s;
    (void)ud;
    if (l == AIOE_LOG_WARNING && strlen(key_log) + strlen(m) + 2 < sizeof key_log) {
        strcat(key_log, m);
        strcat(key_log, "\n");
    }
}

/* Starts an X509 session over secrets/x509/ (nothing listens on the port:
 * only the material check at start matters) and returns what it warned. */
static const char *start_x509_warnings(void)
{
    static const char yaml[] =
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: ep\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:1\n    authentication:\n      method: X509Certificate\n"
        "      x509CertificateSettings:\n        secretRef: x509\n"
        "    tls:\n      mode: Enabled\n";
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_buffer(yaml, strlen(yaml), NULL, NULL, &res), AIOE_OK);
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_resource_dir(o, root);
    aioe_session_options_set_log_callback(o, AIOE_LOG_WARNING, on_key_log, NULL);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "k", o), AIOE_OK);
    key_log[0] = '\0';
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    aioe_session_free(s);
    aioe_session_options_free(o);
    aioe_parse_result_free(res);
    return key_log;
}

static void readable_private_key(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    size_t cl, kl;
    char *cert = pem_cert(k, &cl);
    char *key = pem_key(k, &kl);
    assert_int_equal(mkdir(path_of("secrets/x509"), 0700), 0);
    put("secrets/x509/client_cert.pem", cert, cl);
    put("secrets/x509/client_key.pem", key, kl);

    assert_int_equal(chmod(path_of("secrets/x509/client_key.pem"), 0600), 0);
    assert_null(strstr(start_x509_warnings(), "private key"));
    assert_int_equal(chmod(path_of("secrets/x509/client_key.pem"), 0400), 0);
    assert_null(strstr(start_x509_warnings(), "private key"));
    /* as ssh: group or world readable is warned about, with the mode */
    assert_int_equal(chmod(path_of("secrets/x509/client_key.pem"), 0644), 0);
    const char *w = start_x509_warnings();
    assert_non_null(strstr(w, "client_key.pem is readable by group and others (mode 0644)"));
    assert_null(strstr(w, pem_body(key))); /* names the file, never its bytes */
    assert_int_equal(chmod(path_of("secrets/x509/client_key.pem"), 0640), 0);
    assert_non_null(strstr(start_x509_warnings(), "readable by its group (mode 0640)"));
    free(cert);
    free(key);
    EVP_PKEY_free(k);
}

static char *b64url(const char *s)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s), o = 0;
    char *out = malloc(n / 3 * 4 + 5);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n) out[o++] = a[v >> 6 & 63];
        if (i + 2 < n) out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return out;
}

/* fuzz-jwt: aioe_jwt_refresh_at overflowed (signed) on exp - iat with a
 * hostile iat; fuzz-token-response: now + expires_in and aioe__mi_refresh_at's
 * exp - iat overflowed. All three saturate / use unsigned differences now. */
static void hostile_numbers(void **state)
{
    (void)state;
    aioe_jwt_claims c = { true, INT64_MAX, true, INT64_MIN, false, 0 };
    int64_t at = aioe_jwt_refresh_at(&c, 1767225600);
    assert_true(at == INT64_MAX - 300);
    c = (aioe_jwt_claims){ true, -5, false, 0, false, 0 };
    at = aioe_jwt_refresh_at(&c, INT64_MAX);
    assert_true(at == -6);
    c = (aioe_jwt_claims){ true, INT64_MIN, false, 0, false, 0 };
    assert_true(aioe_jwt_refresh_at(&c, 0) == INT64_MIN);
    c = (aioe_jwt_claims){ true, INT64_MAX, false, 0, false, 0 };
    assert_true(aioe_jwt_refresh_at(&c, INT64_MIN) == INT64_MAX - 300);

    assert_true(aioe__mi_refresh_at(INT64_MIN, INT64_MAX) < INT64_MAX);
    assert_true(aioe__mi_refresh_at(INT64_MIN, INT64_MAX) > INT64_MIN);
    assert_true(aioe__mi_refresh_at(INT64_MAX, INT64_MIN) == INT64_MIN);
    assert_true(aioe__mi_refresh_at(0, 600) == 300);

    mi_token t;
    char err[256];
    static const char huge[] =
        "{\"access_token\":\"opaque\",\"expires_in\":9223372036854775807,"
        "\"expires_on\":9223372036854775807}";
    assert_int_equal(aioe__mi_parse_token_response(huge, strlen(huge), 1767225600, &t, err,
                                             sizeof err),
                     AIOE_OK);
    assert_true(t.exp == INT64_MAX);
    assert_true(t.refresh_at <= t.exp && t.refresh_at >= t.iat);
    aioe__mi_token_clear(&t);

    char *payload = b64url("{\"exp\":9223372036854775807,\"iat\":-9223372036854775808}");
    char body[512];
    snprintf(body, sizeof body,
             "{\"access_token\":\"e30.%s.sig\",\"expires_in\":\"3600\"}", payload);
    assert_int_equal(aioe__mi_parse_token_response(body, strlen(body), 1767225600, &t, err,
                                             sizeof err),
                     AIOE_OK);
    assert_true(t.exp == 1767225600 + 3600);
    assert_true(t.refresh_at <= t.exp);
    aioe__mi_token_clear(&t);
    free(payload);

    /* an int64 that does not fit: refused as a string, clamped as a number */
    static const char big_str[] =
        "{\"access_token\":\"x\",\"expires_in\":\"99999999999999999999\"}";
    assert_int_equal(aioe__mi_parse_token_response(big_str, strlen(big_str), 1767225600, &t,
                                             err, sizeof err),
                     AIOE_ERR_PROTOCOL);
    aioe__mi_token_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls_material),
        cmocka_unit_test(readable_private_key),
        cmocka_unit_test(hostile_numbers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
