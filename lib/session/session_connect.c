/* One connect attempt of the supervisor: the token fetched and checked
 * against the MQTT limits, the connection secrets and TLS files, the CONNECT
 * options and properties built for Paho, and Paho's connect callbacks (which
 * only record an event and signal). Split out of session_supervisor.c, which
 * decides when to connect; no Paho call is made while s->mu is held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "session_internal.h"

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- Paho callbacks: record and signal, nothing else ---------------- */

static void on_connect_ok(void *ctx, MQTTAsync_successData5 *r)
{
    aioe_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->ev_session_present = r && r->alt.connect.sessionPresent;
    snprintf(s->ev_server, sizeof s->ev_server, "%s",
             r && r->alt.connect.serverURI ? r->alt.connect.serverURI : "");
    s->ev_receive_max = 65535;
    s->ev_max_packet = 0;
    s->ev_connack_error = NULL;
    if (r && MQTTProperties_hasProperty(&r->properties,
                                        MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE)) {
        s->ev_max_packet = (uint32_t)MQTTProperties_getNumericValue(
            &r->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
        if (s->ev_max_packet == 0)
            s->ev_connack_error = "Maximum Packet Size 0"; /* MQTT 5.0 3.2.2.3.6 */
    }
    if (r && MQTTProperties_hasProperty(&r->properties,
                                        MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        s->ev_receive_max = MQTTProperties_getNumericValue(
            &r->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
        /* MQTT 5.0 3.2.2.3.3; Paho 1.3.12 takes it as an in-flight limit of
         * 0, so nothing would ever be sent and publishes would never end */
        if (s->ev_receive_max <= 0)
            s->ev_connack_error = "Receive Maximum 0";
    }
    aioe_session_post(s, EV_CONNECT_OK);
    pthread_mutex_unlock(&s->mu);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    aioe_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    /* Paho 1.3.12 reports a refused CONNACK with reasonCode 0, the CONNACK
     * reason code in `code` and the message "CONNACK return code". */
    s->ev_reason = -1;
    if (r && r->reasonCode >= 0x80)
        s->ev_reason = (int)r->reasonCode;
    else if (r && r->message && strcmp(r->message, "CONNACK return code") == 0 &&
             r->code >= 0x80 && r->code <= 0xFF)
        s->ev_reason = r->code;
    s->ev_code = r ? r->code : MQTTASYNC_FAILURE;
    snprintf(s->ev_detail, sizeof s->ev_detail, "%s",
             r && r->message ? r->message : "");
    aioe_session_post(s, EV_CONNECT_FAIL);
    pthread_mutex_unlock(&s->mu);
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
    aioe_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->ev_tls_error = true;
    pthread_mutex_unlock(&s->mu);
    aioe_session_log(s, AIOE_LOG_DEBUG, "OpenSSL: %.*s", (int)len, str);
    return 0;
}

/* ---- the CONNECT packet ------------------------------------------- */

static void add_prop_int(MQTTProperties *p, int id, uint32_t v)
{
    MQTTProperty pr;
    memset(&pr, 0, sizeof pr);
    pr.identifier = id;
    if (id == MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)
        pr.value.integer2 = (unsigned short)v;
    else
        pr.value.integer4 = v;
    MQTTProperties_add(p, &pr);
}

static void add_prop_data(MQTTProperties *p, int id, const void *d, size_t len)
{
    MQTTProperty pr;
    memset(&pr, 0, sizeof pr);
    pr.identifier = id;
    pr.value.data.len = (int)len;
    pr.value.data.data = (char *)d;
    MQTTProperties_add(p, &pr); /* Paho deep-copies binary/string values */
}

/* Starts one connect attempt. Returns AIOE_OK when Paho accepted it. */
int aioe__session_start_connect(supervisor *sv, char *err, size_t errlen)
{
    aioe_session *s = sv->s;
    aioe_token tok = { 0 };
    int rc = AIOE_OK;
    if (s->tokens.ops) {
        rc = s->tokens.ops->fetch(s->tokens.self, &tok, err, errlen);
        if (rc != AIOE_OK)
            return rc;
        if (tok.len > 65535) {
            /* MQTT binary data carries a 16-bit length; Paho would write a
             * wrong one and send a malformed CONNECT */
            aioe_token_clear(&tok);
            snprintf(err, errlen, "%s token is longer than 65535 bytes, the MQTT "
                     "limit for Authentication Data", s->tokens.ops->auth_method);
            return AIOE_ERR_AUTH;
        }
        if (s->opt.max_token_bytes && tok.len > s->opt.max_token_bytes) {
            size_t n = tok.len;
            aioe_token_clear(&tok);
            snprintf(err, errlen, "%s token is %zu bytes, more than the configured "
                     "maximum of %u", s->tokens.ops->auth_method, n,
                     (unsigned)s->opt.max_token_bytes);
            return AIOE_ERR_TOO_LARGE;
        }
    }
    aioe__conn_secrets sec;
    rc = aioe__session_secrets_read(&s->opt.conn, &sec, err, errlen);
    if (rc == AIOE_OK) {
        s->tls_files.key_password = sec.key_password;
        rc = aioe_tls_prepare(&s->tls_files, &s->resolver, s->ep, err, errlen);
        s->tls_files.key_password = NULL;
    }
    if (rc == AIOE_OK && s->tls)
        s->have_tls_digest = aioe__auth_tls_files_digest(&s->tls_files, s->tls_digest) ==
                             AIOE_OK;
    if (rc != AIOE_OK) {
        aioe__session_secrets_wipe(&sec);
        aioe_token_clear(&tok);
        return rc;
    }
    aioe__session_check_key_mode(s);
    const aioe__conn_opts *cx = &s->opt.conn;
    const aioe_endpoint *ep = s->ep;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_SSLOptions so = MQTTAsync_SSLOptions_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    co.keepAliveInterval = aioe_endpoint_keep_alive_seconds(ep);
    /* Clean Start only until the first CONNACK after start: a reconnect
     * resumes the session it started (tokens rotate by reconnecting). */
    co.cleanstart = sv->clean_pending ? 1 : 0;
    co.username = cx->username;
    if (sec.password) {
        co.binarypwd.data = sec.password;
        co.binarypwd.len = (int)sec.password_len;
    }
    MQTTAsync_willOptions wo = MQTTAsync_willOptions_initializer;
    if (cx->will) {
        wo.topicName = cx->will->topic;
        wo.payload.data = cx->will->payload;
        wo.payload.len = (int)cx->will->payload_len;
        wo.qos = cx->will->qos >= 0 ? cx->will->qos : aioe_endpoint_qos(ep);
        wo.retained = cx->will->retain;
        co.will = &wo;
        co.willProperties = (MQTTProperties *)&cx->will->props; /* Paho copies */
    }
    char *uris[65];
    if (s->n_servers > 1) {
        /* Paho tries them in order within this one connect; the next
         * connect starts from the first again */
        for (size_t i = 0; i < s->n_servers && i < 65; i++)
            uris[i] = s->servers[i].uri;
        co.serverURIs = uris;
        co.serverURIcount = (int)(s->n_servers < 65 ? s->n_servers : 65);
    }
    if (s->use_proxy) {
        co.httpProxy = cx->proxy;   /* tcp:// and ws:// */
        co.httpsProxy = s->https_proxy; /* ssl:// and wss:// */
    }
    co.MQTTVersion = MQTTVERSION_5;
    co.automaticReconnect = 0;
    co.connectTimeout = (int)((s->opt.connect_timeout_ms + 999) / 1000);
    /* Paho's own window one above ours: we never fill it (1.3.12 defect). */
    unsigned mi = aioe__endpoint_inflight_limit(ep);
    co.maxInflight = mi >= 65535 ? 65535 : (int)mi + 1;
    co.onSuccess5 = on_connect_ok;
    co.onFailure5 = on_connect_fail;
    co.context = s;
    add_prop_int(&props, MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
                 aioe_endpoint_session_expiry_seconds(ep));
    /* maxInflightMessages: 0 sends no Receive Maximum (0 is a protocol
     * error in MQTT v5; absent means 65535). */
    if (aioe_endpoint_max_inflight_messages(ep) != 0)
        add_prop_int(&props, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM, mi);
    if (s->opt.max_packet_size)
        add_prop_int(&props, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE, s->opt.max_packet_size);
    if (s->tokens.ops) {
        const char *method = s->tokens.ops->auth_method;
        add_prop_data(&props, MQTTPROPERTY_CODE_AUTHENTICATION_METHOD, method,
                      strlen(method));
        add_prop_data(&props, MQTTPROPERTY_CODE_AUTHENTICATION_DATA, tok.data,
                      tok.len);
    }
    co.connectProperties = &props;
    if (s->tls) {
        so.enableServerCertAuth = 1;
        so.verify = 1;
        so.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
        so.trustStore = s->tls_files.ca_file;
        so.disableDefaultTrustStore = s->tls_files.ca_file ? 1 : 0;
        so.keyStore = s->tls_files.cert_chain;
        so.privateKey = s->tls_files.cert_chain ? s->tls_files.key_file : NULL;
        so.privateKeyPassword = sec.key_password; /* Paho copies it */
        so.ssl_error_cb = on_ssl_error;
        so.ssl_error_context = s;
        if (cx->alpn_len) {
            so.protos = cx->alpn;
            so.protos_len = (unsigned)cx->alpn_len;
        }
        co.ssl = &so;
    }
    pthread_mutex_lock(&s->mu);
    s->events &= ~(unsigned)(EV_CONNECT_OK | EV_CONNECT_FAIL | EV_LOST |
                             EV_DISCONNECT_DONE | EV_PROTOCOL);
    s->ev_reason = -1;
    s->ev_tls_error = false;
    s->ev_detail[0] = '\0';
    s->ev_server[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    int prc = MQTTAsync_connect(s->client, &co);
    /* Paho deep-copied the token into props: wipe that copy before freeing
     * (the copy Paho keeps inside the client for this connect is out of
     * reach) */
    for (int i = 0; i < props.count; i++)
        if (props.array[i].identifier == MQTTPROPERTY_CODE_AUTHENTICATION_DATA &&
            props.array[i].value.data.data)
            OPENSSL_cleanse(props.array[i].value.data.data,
                            (size_t)props.array[i].value.data.len);
    MQTTProperties_free(&props);
    aioe__session_secrets_wipe(&sec);
    int64_t exp = tok.exp, iat = tok.iat;
    aioe_token_clear(&tok);
    if (prc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "Paho refused to start a connect (code %d)", prc);
        return AIOE_ERR_CONNECTION;
    }
    if (s->tokens.ops) {
        aioe_jwt_claims c = { exp != 0, exp, iat != 0, iat, false, 0 };
        int64_t at = aioe_jwt_refresh_at(&c, wall_s());
        if (exp && exp <= sv->token_exp && sv->why &&
            strcmp(sv->why, "token expires soon") == 0) {
            /* the file still holds the same token: no refresh loop */
            aioe_session_log(s, AIOE_LOG_WARNING, "service account token was "
                             "not rotated; it expires in %lld s",
                             (long long)(exp - wall_s()));
            at = 0;
        }
        sv->token_exp = exp;
        sv->refresh_at = at;
    }
    return AIOE_OK;
}

int aioe__session_tls_refresh(aioe_session *s, bool *changed, char *err, size_t errlen)
{
    *changed = false;
    if (!s->tls)
        return AIOE_OK;
    aioe__conn_secrets sec;
    int rc = aioe__session_secrets_read(&s->opt.conn, &sec, err, errlen);
    if (rc == AIOE_OK) {
        s->tls_files.key_password = sec.key_password;
        rc = aioe_tls_prepare(&s->tls_files, &s->resolver, s->ep, err, errlen);
        s->tls_files.key_password = NULL;
    }
    aioe__session_secrets_wipe(&sec);
    if (rc != AIOE_OK)
        return rc;
    unsigned char md[32];
    rc = aioe__auth_tls_files_digest(&s->tls_files, md);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "cannot read the TLS files written for the connection: %s",
                 aioe_strerror(rc));
        return rc;
    }
    *changed = !s->have_tls_digest || CRYPTO_memcmp(md, s->tls_digest, sizeof md) != 0;
    OPENSSL_cleanse(md, sizeof md);
    return AIOE_OK;
}
