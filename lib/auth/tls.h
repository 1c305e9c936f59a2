/* TLS material for Paho (which takes file paths only) and TLS failure
 * classification. */
#ifndef AIOE_TLS_H
#define AIOE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "aioendpoint/spec.h"
#include "resolver.h"

/* Files handed to Paho for one connect attempt. Files we write live in a
 * private 0700 directory, each 0600, and are removed by _free. */
typedef struct aioe_tls_files {
    char *dir;         /* private directory, created on first need */
    char *ca_file;     /* trust bundle; NULL = system trust store */
    char *cert_chain;  /* client leaf + intermediates; NULL = none */
    char *key_file;    /* client key (the secret's own file when it has one) */
    unsigned key_mode; /* permission bits of the secret's own key file when
                        * Paho reads that; 0 when we wrote the copy */
    /* Password of an encrypted client key, borrowed for one prepare call
     * (NULL: the key must be unencrypted). Set by the caller. */
    const char *key_password;
} aioe_tls_files;

/* ---- pure (PEM bytes in, verdict out) ---- */
/* Checks client material: leaf certificate parses, key parses, is not
 * encrypted and matches the leaf; intermediates (may be empty) parse.
 * Returns AIOE_OK or AIOE_ERR_TLS with a message in err. */
int aioe_tls_check_client(const unsigned char *cert, size_t cert_len,
                          const unsigned char *inter, size_t inter_len,
                          const unsigned char *key, size_t key_len,
                          char *err, size_t errlen);
/* The same with the password of an encrypted key (NULL: as above). */
int aioe__auth_tls_check_client_pw(const unsigned char *cert, size_t cert_len,
                              const unsigned char *inter, size_t inter_len,
                              const unsigned char *key, size_t key_len,
                              const char *key_password, char *err, size_t errlen);
/* A trust bundle holds at least one certificate. */
int aioe_tls_check_ca_bundle(const unsigned char *pem, size_t len, char *err,
                             size_t errlen);
/* Maps an X509_V_ERR_* verification result to a status:
 * AIOE_ERR_TLS_UNKNOWN_CA, _HOSTNAME_MISMATCH, _CERT_EXPIRED or AIOE_ERR_TLS
 * (AIOE_OK for X509_V_OK). */
int aioe_tls_classify_verify_result(long verify_result);

/* ---- I/O ---- */
/* Resolves and checks the CA bundle (configmap ref) and, for X509 auth,
 * the client certificate/key from the endpoint's secret, and writes the
 * files Paho loads. Called before every connect, so rotated material is
 * picked up. Returns AIOE_OK or an error with a message (never key bytes). */
int aioe_tls_prepare(aioe_tls_files *f, const aioe_resolver *r,
                     const aioe_endpoint *ep, char *err, size_t errlen);
void aioe_tls_files_free(aioe_tls_files *f);
/* SHA-256 over the contents of the files f names (CA bundle, client chain,
 * client key; which are present counts too), for noticing that rotated
 * material differs from what the last connect used. AIOE_OK, or the
 * aioe_read_file() error of a file that cannot be read. */
int aioe__auth_tls_files_digest(const aioe_tls_files *f, unsigned char md[32]);

/* After a failed TLS connect: handshakes with host:port itself (TLS 1.2+,
 * same trust, host name checked) to say why. Returns AIOE_OK if the server
 * verifies, the aioe__auth_tcp_probe() status if TCP fails (name resolution,
 * refused, timeout, other), else the classified TLS error. */
int aioe_tls_diagnose(const char *host, uint16_t port, const char *ca_file,
                      int timeout_ms, char *err, size_t errlen);

#endif
