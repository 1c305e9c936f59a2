/* Test PKI generated with the OpenSSL C API (EC P-256 keys: fast). */
#include "harness-internal.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (24L * 3600L)

static pthread_mutex_t pki_lock = PTHREAD_MUTEX_INITIALIZER;
static harness_pki pki;
static bool pki_ready;
/* Every string the struct points at, freed at exit. */
static char *pki_strings[64];
static int pki_string_count;

static const char *keep(char *s)
{
    if (pki_string_count < (int)(sizeof pki_strings / sizeof pki_strings[0]))
        pki_strings[pki_string_count++] = s;
    return s;
}

static void pki_free_all(void)
{
    for (int i = 0; i < pki_string_count; i++)
        free(pki_strings[i]);
    pki_string_count = 0;
    memset(&pki, 0, sizeof pki);
    pki_ready = false;
}

EVP_PKEY *harness_gen_ec_key(void)
{
    return EVP_EC_gen("P-256");
}

typedef struct cert_spec {
    const char *cn;
    EVP_PKEY *key;
    X509 *issuer;        /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    bool ca;
    int pathlen;         /* -1: unlimited */
    const char *san;     /* e.g. "DNS:localhost,IP:127.0.0.1" */
    const char *eku;     /* e.g. "serverAuth" */
    long not_before;     /* seconds relative to now */
    long not_after;
} cert_spec;

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static X509 *make_cert(const cert_spec *s)
{
    static uint64_t serial_counter;
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char rnd[8];
    X509V3_CTX ctx;
    char buf[64];

    if (!cert || !name)
        goto fail;
    X509_set_version(cert, 2);
    /* Random high bits + a counter: unique within and across runs. */
    RAND_bytes(rnd, sizeof rnd);
    rnd[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(rnd, sizeof rnd, NULL);
    BN_lshift(bn, bn, 16);
    BN_add_word(bn, (BN_ULONG)++serial_counter);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);

    X509_gmtime_adj(X509_getm_notBefore(cert), s->not_before);
    X509_gmtime_adj(X509_getm_notAfter(cert), s->not_after);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *)"aioe-test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)s->cn, -1, -1, 0);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, s->issuer ? X509_get_subject_name(s->issuer)
                                         : name);
    X509_set_pubkey(cert, s->key);

    X509V3_set_ctx(&ctx, s->issuer ? s->issuer : cert, cert, NULL, NULL, 0);
    if (s->ca) {
        if (s->pathlen >= 0)
            snprintf(buf, sizeof buf, "critical,CA:TRUE,pathlen:%d", s->pathlen);
        else
            snprintf(buf, sizeof buf, "critical,CA:TRUE");
        if (add_ext(cert, &ctx, NID_basic_constraints, buf) ||
            add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"))
            goto fail;
    } else {
        if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
            add_ext(cert, &ctx, NID_key_usage,
                    "critical,digitalSignature,keyAgreement"))
            goto fail;
    }
    if (add_ext(cert, &ctx, NID_subject_key_identifier, "hash"))
        goto fail;
    if (s->issuer && add_ext(cert, &ctx, NID_authority_key_identifier,
                             "keyid:always"))
        goto fail;
    if (s->san && add_ext(cert, &ctx, NID_subject_alt_name, s->san))
        goto fail;
    if (s->eku && add_ext(cert, &ctx, NID_ext_key_usage, s->eku))
        goto fail;
    if (!X509_sign(cert, s->issuer_key ? s->issuer_key : s->key, EVP_sha256()))
        goto fail;
    X509_NAME_free(name);
    return cert;
fail:
    harness_log("cannot build certificate CN=%s", s->cn);
    X509_NAME_free(name);
    X509_free(cert);
    return NULL;
}

static int write_pem(const char *path, X509 *const *certs, int ncerts,
                     EVP_PKEY *key, const char *pass)
{
    FILE *f = fopen(path, "we");
    int ok = f != NULL;

    for (int i = 0; ok && i < ncerts; i++)
        ok = PEM_write_X509(f, certs[i]);
    if (ok && key) {
        if (pass)
            ok = PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(),
                                           (char *)pass, (int)strlen(pass),
                                           NULL, NULL);
        else
            ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    }
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        harness_log("cannot write %s", path);
    return ok ? 0 : -1;
}

/* Writes "<dir>/<name>.crt" and, if key, "<dir>/<name>.key"; stores paths. */
static int save_pair(const char *dir, const char *name, X509 *cert,
                     EVP_PKEY *key, const char **cert_path,
                     const char **key_path)
{
    char *cp = harness_strdupf("%s/%s.crt", dir, name);

    *cert_path = keep(cp);
    if (write_pem(cp, &cert, 1, NULL, NULL))
        return -1;
    if (key) {
        char *kp = harness_strdupf("%s/%s.key", dir, name);
        *key_path = keep(kp);
        if (write_pem(kp, NULL, 0, key, NULL))
            return -1;
    }
    return 0;
}

static int generate(void)
{
    enum { ROOT, WRONG, SRV, MISM, EXP, SRVW, INTER, CLI, CLIR, CLIE, BADKEY,
           CLIW, NKEYS };
    EVP_PKEY *k[NKEYS] = { 0 };
    X509 *c[NKEYS] = { 0 };
    int rc = -1;
    char *dir = harness_mkdir("pki");

    if (!dir)
        return -1;
    pki.dir = keep(dir);
    for (int i = 0; i < NKEYS; i++)
        if (!(k[i] = harness_gen_ec_key()))
            goto out;

    const char *localhost_san = "DNS:localhost,IP:127.0.0.1,IP:::1";
    cert_spec specs[NKEYS] = {
        [ROOT] = { "aioe-test-root-ca", k[ROOT], NULL, NULL, true, -1, NULL,
                   NULL, -60, 30 * DAY },
        [WRONG] = { "aioe-test-wrong-ca", k[WRONG], NULL, NULL, true, -1, NULL,
                    NULL, -60, 30 * DAY },
        [INTER] = { "aioe-test-intermediate-ca", k[INTER], NULL, k[ROOT], true,
                    0, NULL, NULL, -60, 30 * DAY },
        [SRV] = { "localhost", k[SRV], NULL, k[ROOT], false, 0, localhost_san,
                  "serverAuth", -60, 30 * DAY },
        [MISM] = { "other.example", k[MISM], NULL, k[ROOT], false, 0,
                   "DNS:other.example", "serverAuth", -60, 30 * DAY },
        [EXP] = { "localhost", k[EXP], NULL, k[ROOT], false, 0, localhost_san,
                  "serverAuth", -2 * DAY, -1 * DAY },
        [SRVW] = { "localhost", k[SRVW], NULL, k[WRONG], false, 0,
                   localhost_san, "serverAuth", -60, 30 * DAY },
        [CLI] = { "aioe-client", k[CLI], NULL, k[INTER], false, 0, NULL,
                  "clientAuth", -60, 30 * DAY },
        [CLIR] = { "aioe-client-root", k[CLIR], NULL, k[ROOT], false, 0, NULL,
                   "clientAuth", -60, 30 * DAY },
        [CLIW] = { "aioe-wrong-client", k[CLIW], NULL, k[WRONG], false, 0,
                   NULL, "clientAuth", -60, 30 * DAY },
    };
    /* Order matters: issuers first. */
    const int order[] = { ROOT, WRONG, INTER, SRV, MISM, EXP, SRVW, CLI, CLIR,
                          CLIW };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int j = order[i];
        cert_spec *s = &specs[j];
        if (s->issuer_key == k[ROOT])
            s->issuer = c[ROOT];
        else if (s->issuer_key == k[WRONG])
            s->issuer = c[WRONG];
        else if (s->issuer_key == k[INTER])
            s->issuer = c[INTER];
        if (!(c[j] = make_cert(s)))
            goto out;
    }

    if (save_pair(dir, "ca", c[ROOT], k[ROOT], &pki.ca_cert, &pki.ca_key) ||
        save_pair(dir, "wrong-ca", c[WRONG], k[WRONG], &pki.wrong_ca_cert,
                  &pki.wrong_ca_key) ||
        save_pair(dir, "intermediate-ca", c[INTER], k[INTER],
                  &pki.intermediate_cert, &pki.intermediate_key) ||
        save_pair(dir, "server", c[SRV], k[SRV], &pki.server_cert,
                  &pki.server_key) ||
        save_pair(dir, "server-mismatch", c[MISM], k[MISM],
                  &pki.server_mismatch_cert, &pki.server_mismatch_key) ||
        save_pair(dir, "server-expired", c[EXP], k[EXP],
                  &pki.server_expired_cert, &pki.server_expired_key) ||
        save_pair(dir, "server-wrong-ca", c[SRVW], k[SRVW],
                  &pki.server_wrong_ca_cert, &pki.server_wrong_ca_key) ||
        save_pair(dir, "client", c[CLI], k[CLI], &pki.client_cert,
                  &pki.client_key) ||
        save_pair(dir, "client-root", c[CLIR], k[CLIR], &pki.client_root_cert,
                  &pki.client_root_key) ||
        save_pair(dir, "client-wrong-ca", c[CLIW], k[CLIW],
                  &pki.client_wrong_ca_cert, &pki.client_wrong_ca_key))
        goto out;

    X509 *chain[2] = { c[CLI], c[INTER] };
    pki.client_chain = keep(harness_strdupf("%s/client-chain.crt", dir));
    if (write_pem(pki.client_chain, chain, 2, NULL, NULL))
        goto out;
    pki.client_key_passphrase = "aioe-test-passphrase";
    pki.client_key_encrypted = keep(harness_strdupf("%s/client-encrypted.key",
                                                    dir));
    if (write_pem(pki.client_key_encrypted, NULL, 0, k[CLI],
                  pki.client_key_passphrase))
        goto out;
    pki.mismatched_key = keep(harness_strdupf("%s/mismatched.key", dir));
    if (write_pem(pki.mismatched_key, NULL, 0, k[BADKEY], NULL))
        goto out;

    /* Secret-mount layouts. */
    char *x509 = harness_mkdir("pki/secret-x509");
    char *tls = harness_mkdir("pki/secret-tls");
    char *ca = harness_mkdir("pki/secret-ca");
    if (!x509 || !tls || !ca) {
        free(x509);
        free(tls);
        free(ca);
        goto out;
    }
    pki.secret_x509_dir = keep(x509);
    pki.secret_tls_dir = keep(tls);
    pki.secret_ca_dir = keep(ca);
    char *p[6] = {
        harness_strdupf("%s/client_cert.pem", x509),
        harness_strdupf("%s/client_key.pem", x509),
        harness_strdupf("%s/client_intermediate_certs.pem", x509),
        harness_strdupf("%s/tls.crt", tls),
        harness_strdupf("%s/tls.key", tls),
        harness_strdupf("%s/ca.crt", ca),
    };
    int bad = write_pem(p[0], &c[CLI], 1, NULL, NULL) ||
              write_pem(p[1], NULL, 0, k[CLI], NULL) ||
              write_pem(p[2], &c[INTER], 1, NULL, NULL) ||
              write_pem(p[3], &c[CLIR], 1, NULL, NULL) ||
              write_pem(p[4], NULL, 0, k[CLIR], NULL) ||
              write_pem(p[5], &c[ROOT], 1, NULL, NULL);
    for (int i = 0; i < 6; i++)
        free(p[i]);
    if (bad)
        goto out;
    rc = 0;
out:
    for (int i = 0; i < NKEYS; i++) {
        EVP_PKEY_free(k[i]);
        X509_free(c[i]);
    }
    return rc;
}

const harness_pki *harness_pki_get(void)
{
    const harness_pki *result = NULL;

    pthread_mutex_lock(&pki_lock);
    if (!pki_ready) {
        int64_t t0 = harness_now_ms();
        if (generate() == 0) {
            pki_ready = true;
            harness_at_exit(pki_free_all);
            if (getenv("AIOE_TEST_VERBOSE"))
                harness_log("PKI generated in %lld ms in %s",
                            (long long)(harness_now_ms() - t0), pki.dir);
        } else {
            pki_free_all();
        }
    }
    if (pki_ready)
        result = &pki;
    pthread_mutex_unlock(&pki_lock);
    return result;
}
