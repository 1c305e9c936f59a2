/* Why did a TLS connect fail? Paho's ssl_error_cb only relays OpenSSL's
 * error queue ("certificate verify failed"), not the X.509 verification
 * result, so after a failed TLS connect the supervisor handshakes once
 * itself with the same trust and host name and reads the result. This runs
 * only after a failure, so it costs nothing on the good path. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "aioendpoint/common.h"
#include "net_probe.h"
#include "tls.h"

int aioe_tls_diagnose(const char *host, uint16_t port, const char *ca_file,
                      int timeout_ms, char *err, size_t errlen)
{
    int fd = -1;
    int prc = aioe__auth_tcp_probe(host, port, timeout_ms, &fd, err, errlen);
    if (prc != AIOE_OK)
        return prc;
    int rc = AIOE_ERR_TLS;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    if (!ctx)
        goto out;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "cannot load the trust store");
        goto out;
    }
    /* Verify, but let the handshake finish so the result can be read. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    ssl = SSL_new(ctx);
    if (!ssl)
        goto out;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 ||
                 inet_pton(AF_INET6, host, addr) == 1;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host);
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, host, 0);
        SSL_set_tlsext_host_name(ssl, host);
    }
    SSL_set_fd(ssl, fd);
    int hs = SSL_connect(ssl);
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
        long v = SSL_get_verify_result(ssl);
        X509_free(peer);
        rc = aioe_tls_classify_verify_result(v);
        if (rc == AIOE_OK && hs != 1) {
            rc = AIOE_ERR_TLS;
            snprintf(err, errlen, "TLS handshake with %s:%u failed after the "
                     "server certificate verified (client certificate "
                     "rejected, or protocol/cipher mismatch)", host,
                     (unsigned)port);
        } else if (rc != AIOE_OK) {
            snprintf(err, errlen, "server certificate of %s:%u: %s", host,
                     (unsigned)port, X509_verify_cert_error_string(v));
        }
    } else {
        snprintf(err, errlen, "TLS handshake with %s:%u failed before the "
                 "server sent a certificate (not a TLS server, or TLS < 1.2)",
                 host, (unsigned)port);
    }
out:
    ERR_clear_error();
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    close(fd);
    return rc;
}
