/* Client certificate, key and trust bundle: resolve, check with OpenSSL
 * before any connect (so a bad key is a clear error, not a handshake
 * failure), and write what Paho needs. Paho loads the client certificate
 * with SSL_CTX_use_certificate_chain_file(keyStore), so a file holding the
 * leaf followed by the intermediates sends the whole chain. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aioendpoint/common.h"
#include "tls.h"

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1; /* never prompt: encrypted keys are refused */
}

/* Hands OpenSSL the key password (never prompts). */
static int key_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    size_t n = pw ? strlen(pw) : 0;
    if (!pw || n > (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

static bool pem_is_encrypted_key(const unsigned char *key, size_t len)
{
    static const char *marks[] = { "-----BEGIN ENCRYPTED PRIVATE KEY-----",
                                   "Proc-Type: 4,ENCRYPTED" };
    for (size_t m = 0; m < 2; m++) {
        size_t ml = strlen(marks[m]);
        for (size_t i = 0; i + ml <= len; i++)
            if (memcmp(key + i, marks[m], ml) == 0)
                return true;
    }
    return false;
}

/* Counts the certificates in a PEM buffer; -1 if one does not parse. */
static int count_certs(const unsigned char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return -1;
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    unsigned long e = ERR_peek_last_error();
    /* running out of PEM blocks is the normal end */
    if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
               ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
        n = -1;
    ERR_clear_error();
    BIO_free(bio);
    return n;
}

int aioe_tls_check_ca_bundle(const unsigned char *pem, size_t len, char *err,
                             size_t errlen)
{
    int n = count_certs(pem, len);
    if (n <= 0) {
        snprintf(err, errlen, "trusted CA bundle %s",
                 n < 0 ? "holds a certificate that does not parse"
                       : "holds no PEM certificate");
        return AIOE_ERR_TLS;
    }
    return AIOE_OK;
}

int aioe_tls_check_client(const unsigned char *cert, size_t cert_len,
                          const unsigned char *inter, size_t inter_len,
                          const unsigned char *key, size_t key_len,
                          char *err, size_t errlen)
{
    return aioe__auth_tls_check_client_pw(cert, cert_len, inter, inter_len, key,
                                     key_len, NULL, err, errlen);
}

int aioe__auth_tls_check_client_pw(const unsigned char *cert, size_t cert_len,
                              const unsigned char *inter, size_t inter_len,
                              const unsigned char *key, size_t key_len,
                              const char *key_password, char *err, size_t errlen)
{
    int rc = AIOE_ERR_TLS;
    X509 *leaf = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;

    bool encrypted = pem_is_encrypted_key(key, key_len);
    if (encrypted && !key_password) {
        snprintf(err, errlen, "client private key is encrypted and no key "
                 "password is configured (aioe_session_options_set_key_password_file, "
                 "or store the key unencrypted in the secret)");
        return AIOE_ERR_TLS;
    }
    bio = BIO_new_mem_buf(cert, (int)cert_len);
    leaf = bio ? PEM_read_bio_X509(bio, NULL, no_password, NULL) : NULL;
    BIO_free(bio);
    if (!leaf) {
        snprintf(err, errlen, "client certificate is not a PEM certificate");
        goto out;
    }
    bio = BIO_new_mem_buf(key, (int)key_len);
    pkey = !bio ? NULL
           : encrypted ? PEM_read_bio_PrivateKey(bio, NULL, key_password_cb,
                                                 (void *)key_password)
                       : PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (!pkey) {
        snprintf(err, errlen, encrypted
                 ? "client private key cannot be decrypted with the configured key password"
                 : "client private key is not an unencrypted PEM private key");
        goto out;
    }
    if (X509_check_private_key(leaf, pkey) != 1) {
        snprintf(err, errlen, "client private key does not match the client certificate");
        goto out;
    }
    bool inter_blank = true;
    for (size_t i = 0; inter && i < inter_len && inter_blank; i++)
        inter_blank = inter[i] == ' ' || inter[i] == '\n' || inter[i] == '\r' ||
                      inter[i] == '\t';
    /* bytes that hold no certificate at all are a broken file, not "none" */
    int n_inter = inter && inter_len && !inter_blank ? count_certs(inter, inter_len) : 1;
    if (n_inter <= 0) {
        snprintf(err, errlen, "client intermediate certificates %s",
                 n_inter < 0 ? "do not parse" : "hold no PEM certificate");
        goto out;
    }
    rc = AIOE_OK;
out:
    ERR_clear_error();
    X509_free(leaf);
    EVP_PKEY_free(pkey);
    return rc;
}

int aioe_tls_classify_verify_result(long v)
{
    switch (v) {
    case X509_V_OK:
        return AIOE_OK;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return AIOE_ERR_TLS_UNKNOWN_CA;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return AIOE_ERR_TLS_HOSTNAME_MISMATCH;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return AIOE_ERR_TLS_CERT_EXPIRED;
    default:
        return AIOE_ERR_TLS;
    }
}

static int ensure_dir(aioe_tls_files *f)
{
    if (f->dir)
        return AIOE_OK;
    const char *tmp = getenv("TMPDIR");
    char templ[4096];
    if (snprintf(templ, sizeof templ, "%s/aioe-session-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp") >= (int)sizeof templ)
        return AIOE_ERR_TOO_LARGE;
    if (!mkdtemp(templ))
        return AIOE_ERR_IO;
    chmod(templ, 0700);
    if (!(f->dir = strdup(templ))) {
        rmdir(templ);
        return AIOE_ERR_NOMEM;
    }
    return AIOE_OK;
}

/* Writes parts to <dir>/<name> atomically (temp + rename), mode 0600. */
static int write_private(aioe_tls_files *f, const char *name,
                         const unsigned char *a, size_t alen,
                         const unsigned char *b, size_t blen, char **path_out)
{
    int rc = ensure_dir(f);
    if (rc != AIOE_OK)
        return rc;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return AIOE_ERR_IO;
    const unsigned char *parts[3] = { a, (const unsigned char *)"\n", b };
    size_t lens[3] = { alen, (alen && a[alen - 1] != '\n' && blen) ? 1 : 0,
                       blen };
    for (int i = 0; i < 3; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = write(fd, parts[i] + off, lens[i] - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                close(fd);
                unlink(tmp);
                return AIOE_ERR_IO;
            }
            off += (size_t)w;
        }
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return AIOE_ERR_IO;
    }
    if (!*path_out || strcmp(*path_out, path) != 0) {
        char *p = strdup(path);
        if (!p)
            return AIOE_ERR_NOMEM;
        free(*path_out);
        *path_out = p;
    }
    return AIOE_OK;
}

static int prepare_ca(aioe_tls_files *f, const aioe_resolver *r,
                      const char *ref, char *err, size_t errlen)
{
    aioe_resource ca;
    int rc = aioe_resolver_get(r, AIOE_RESOURCE_CONFIG_MAP, ref, NULL, &ca,
                               err, errlen);
    if (rc != AIOE_OK)
        return rc;
    rc = aioe_tls_check_ca_bundle(ca.data, ca.len, err, errlen);
    if (rc == AIOE_OK) {
        rc = write_private(f, "ca.pem", ca.data, ca.len, NULL, 0, &f->ca_file);
        if (rc != AIOE_OK)
            snprintf(err, errlen, "cannot write the trust bundle for Paho: %s",
                     aioe_strerror(rc));
    }
    aioe_resource_clear(&ca);
    return rc;
}

static int prepare_client(aioe_tls_files *f, const aioe_resolver *r,
                          const char *secret, char *err, size_t errlen)
{
    aioe_resource cert = { 0 }, key = { 0 }, inter = { 0 };
    const char *cert_key = "client_cert.pem", *key_key = "client_key.pem";
    int rc = aioe_resolver_get(r, AIOE_RESOURCE_SECRET, secret, cert_key,
                               &cert, err, errlen);
    if (rc == AIOE_ERR_NOT_FOUND) {
        /* a kubernetes.io/tls secret instead */
        char err2[256];
        cert_key = "tls.crt";
        key_key = "tls.key";
        int rc2 = aioe_resolver_get(r, AIOE_RESOURCE_SECRET, secret, cert_key,
                                    &cert, err2, sizeof err2);
        if (rc2 == AIOE_OK)
            rc = AIOE_OK;
        else if (rc2 != AIOE_ERR_NOT_FOUND) {
            snprintf(err, errlen, "%s", err2);
            rc = rc2;
        } else {
            snprintf(err, errlen, "secret %s has neither client_cert.pem nor "
                     "tls.crt", secret);
        }
    }
    if (rc != AIOE_OK)
        goto out;
    rc = aioe_resolver_get(r, AIOE_RESOURCE_SECRET, secret, key_key, &key,
                           err, errlen);
    if (rc != AIOE_OK)
        goto out;
    if (strcmp(cert_key, "client_cert.pem") == 0) {
        char err2[256];
        int rc2 = aioe_resolver_get(r, AIOE_RESOURCE_SECRET, secret,
                                    "client_intermediate_certs.pem", &inter,
                                    err2, sizeof err2);
        if (rc2 != AIOE_OK && rc2 != AIOE_ERR_NOT_FOUND) {
            snprintf(err, errlen, "%s", err2);
            rc = rc2;
            goto out;
        }
    }
    rc = aioe__auth_tls_check_client_pw(cert.data, cert.len, inter.data, inter.len,
                                   key.data, key.len, f->key_password, err, errlen);
    if (rc != AIOE_OK) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", err);
        snprintf(err, errlen, "secret %s: %s", secret, detail);
        goto out;
    }
    rc = write_private(f, "client-chain.pem", cert.data, cert.len, inter.data,
                       inter.len, &f->cert_chain);
    if (rc == AIOE_OK) {
        struct stat st;
        f->key_mode = key.path && stat(key.path, &st) == 0 ? (unsigned)st.st_mode & 07777u : 0;
        if (key.path) {
            free(f->key_file);
            f->key_file = key.path; /* Paho reads the secret's file itself */
            key.path = NULL;
        } else {
            rc = write_private(f, "client-key.pem", key.data, key.len, NULL, 0,
                               &f->key_file);
        }
    }
    if (rc != AIOE_OK)
        snprintf(err, errlen, "cannot write client certificate files for Paho: %s",
                 aioe_strerror(rc));
out:
    if (key.data)
        memset(key.data, 0, key.len);
    aioe_resource_clear(&cert);
    aioe_resource_clear(&key);
    aioe_resource_clear(&inter);
    return rc;
}

int aioe_tls_prepare(aioe_tls_files *f, const aioe_resolver *r,
                     const aioe_endpoint *ep, char *err, size_t errlen)
{
    int rc = AIOE_OK;
    const char *ca = aioe_endpoint_tls_ca_config_map_ref(ep);
    bool tls = aioe_endpoint_tls_mode(ep) != AIOE_TLS_DISABLED;
    if (tls && ca) {
        rc = prepare_ca(f, r, ca, err, errlen);
        if (rc != AIOE_OK)
            return rc;
    } else if (f->ca_file) {
        unlink(f->ca_file);
        free(f->ca_file);
        f->ca_file = NULL;
    }
    if (aioe_endpoint_auth_method(ep) == AIOE_AUTH_X509_CERTIFICATE) {
        if (!tls) {
            snprintf(err, errlen, "X509Certificate authentication needs "
                     "tls.mode Enabled");
            return AIOE_ERR_INVALID_SPEC;
        }
        const char *secret = aioe_endpoint_auth_secret_ref(ep);
        if (!secret) {
            snprintf(err, errlen, "X509Certificate authentication without a secretRef");
            return AIOE_ERR_INVALID_SPEC;
        }
        rc = prepare_client(f, r, secret, err, errlen);
    }
    return rc;
}

int aioe__auth_tls_files_digest(const aioe_tls_files *f, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return AIOE_ERR_NOMEM;
    }
    const char *paths[3] = { f->ca_file, f->cert_chain, f->key_file };
    int rc = AIOE_OK;
    for (size_t i = 0; i < 3 && rc == AIOE_OK; i++) {
        /* which file it is counts too: a CA dropped is a change */
        unsigned char tag[2] = { (unsigned char)i, paths[i] != NULL };
        if (EVP_DigestUpdate(ctx, tag, sizeof tag) != 1) {
            rc = AIOE_ERR_NOMEM;
            break;
        }
        if (!paths[i])
            continue;
        unsigned char *data = NULL;
        size_t len = 0;
        rc = aioe_read_file(paths[i], 16 * 1024 * 1024, &data, &len);
        if (rc != AIOE_OK)
            break;
        if (EVP_DigestUpdate(ctx, data, len) != 1)
            rc = AIOE_ERR_NOMEM;
        OPENSSL_cleanse(data, len); /* may be the private key */
        free(data);
    }
    unsigned int n = 0;
    if (rc == AIOE_OK && (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32))
        rc = AIOE_ERR_NOMEM;
    EVP_MD_CTX_free(ctx);
    return rc;
}

static void unlink_ours(const aioe_tls_files *f, const char *path)
{
    size_t dl = f->dir ? strlen(f->dir) : 0;
    if (path && dl && strncmp(path, f->dir, dl) == 0 && path[dl] == '/')
        unlink(path);
}

void aioe_tls_files_free(aioe_tls_files *f)
{
    if (!f)
        return;
    unlink_ours(f, f->ca_file);
    unlink_ours(f, f->cert_chain);
    unlink_ours(f, f->key_file);
    if (f->dir)
        rmdir(f->dir);
    free(f->ca_file);
    free(f->cert_chain);
    free(f->key_file);
    free(f->dir);
    memset(f, 0, sizeof *f);
}
