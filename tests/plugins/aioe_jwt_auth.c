/* aioe_jwt_auth: mosquitto 2.0 (plugin API v5) test plugin for MQTT v5
 * enhanced authentication with JWTs, the way the AIO broker does K8S-SAT and
 * Event Grid does OAUTH2-JWT.
 *
 * Options (mosquitto.conf):
 *   plugin_opt_methods     comma list of accepted Authentication Methods
 *                          (default "K8S-SAT,OAUTH2-JWT")
 *   plugin_opt_public_key  PEM file with one or more public keys (RSA for
 *                          RS256, EC P-256 for ES256); required
 *   plugin_opt_audience    required "aud" (string claim, or member of an
 *                          array claim); required
 *   plugin_opt_kick_expired  "false" disables disconnecting clients whose
 *                          token expired (default true)
 *   plugin_opt_acl_allow_all "false" leaves ACL checks to others (default
 *                          true: every authenticated client may publish and
 *                          subscribe anything)
 *
 * On MOSQ_EVT_EXT_AUTH_START (CONNECT with an Authentication Method, or an
 * AUTH re-authentication): unknown method -> MOSQ_ERR_NOT_SUPPORTED (CONNACK
 * 0x8C Bad authentication method); invalid token -> MOSQ_ERR_AUTH (CONNACK
 * 0x87 Not authorized); valid -> MOSQ_ERR_SUCCESS, and the token's exp is
 * remembered. On MOSQ_EVT_TICK, clients whose exp has passed are kicked with
 * mosquitto_kick_client_by_clientid (DISCONNECT 0x98 Administrative action).
 * Tokens are never logged.
 */
#include <ctype.h>
#include <json-c/json.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLUGIN "aioe_jwt_auth"
#define MAX_KEYS 8
#define MAX_METHODS 8

typedef struct tracked {
    char *client_id;
    const struct mosquitto *client;
    time_t exp;
    struct tracked *next;
} tracked;

typedef struct plugin_state {
    mosquitto_plugin_id_t *id;
    char *methods[MAX_METHODS];
    int method_count;
    EVP_PKEY *keys[MAX_KEYS];
    int key_count;
    char *audience;
    bool kick_expired;
    bool acl_allow_all;
    tracked *clients;          /* the broker is single-threaded */
} plugin_state;

static plugin_state state;

int mosquitto_plugin_version(int supported_version_count,
                             const int *supported_versions);
int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count);
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                             int option_count);

/* --- base64url ---------------------------------------------------------- */

static int b64url_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes unpadded base64url; returns a malloc'd buffer (NUL-terminated) or
 * NULL if the input is not base64url. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *out_len)
{
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len * 3 / 4 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_val((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* --- JWT verification --------------------------------------------------- */

static json_object *decode_json_part(const char *part, size_t len)
{
    size_t n = 0;
    unsigned char *raw = b64url_decode(part, len, &n);
    json_object *obj = NULL;

    if (!raw)
        return NULL;
    if (strlen((char *)raw) == n) {
        json_tokener *tok = json_tokener_new();
        obj = json_tokener_parse_ex(tok, (char *)raw, (int)n);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(obj, json_type_object)) {
            json_object_put(obj);
            obj = NULL;
        }
        json_tokener_free(tok);
    }
    free(raw);
    return obj;
}

static bool verify_signature(bool es256, const char *input, size_t input_len,
                             const unsigned char *sig, size_t sig_len)
{
    unsigned char *der = NULL;
    int der_len = 0;

    if (es256) {
        /* JWS ES256 signatures are raw R||S; OpenSSL wants DER. */
        if (sig_len != 64)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (der_len <= 0)
            return false;
        sig = der;
        sig_len = (size_t)der_len;
    }
    bool ok = false;
    for (int i = 0; i < state.key_count && !ok; i++) {
        int type = EVP_PKEY_get_base_id(state.keys[i]);
        if ((es256 && type != EVP_PKEY_EC) || (!es256 && type != EVP_PKEY_RSA))
            continue;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md &&
            EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, state.keys[i]) == 1 &&
            EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input,
                             input_len) == 1)
            ok = true;
        EVP_MD_CTX_free(md);
    }
    OPENSSL_free(der);
    return ok;
}

static bool audience_matches(json_object *aud)
{
    if (json_object_is_type(aud, json_type_string))
        return strcmp(json_object_get_string(aud), state.audience) == 0;
    if (json_object_is_type(aud, json_type_array)) {
        size_t n = json_object_array_length(aud);
        for (size_t i = 0; i < n; i++) {
            json_object *a = json_object_array_get_idx(aud, i);
            if (json_object_is_type(a, json_type_string) &&
                strcmp(json_object_get_string(a), state.audience) == 0)
                return true;
        }
    }
    return false;
}

static bool get_time_claim(json_object *claims, const char *name, int64_t *out)
{
    json_object *v;

    if (!json_object_object_get_ex(claims, name, &v))
        return false;
    if (!json_object_is_type(v, json_type_int) &&
        !json_object_is_type(v, json_type_double))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

/* Returns NULL if the token is valid (and sets *exp), else a reason that is
 * safe to log (never contains the token). */
static const char *verify_jwt(const char *token, size_t len, time_t *exp)
{
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))
                            : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return "not a JWS compact token";

    json_object *header = decode_json_part(token, (size_t)(dot1 - token));
    if (!header)
        return "malformed header";
    json_object *alg;
    bool es256 = false;
    const char *reason = NULL;
    if (!json_object_object_get_ex(header, "alg", &alg) ||
        !json_object_is_type(alg, json_type_string))
        reason = "no alg";
    else if (strcmp(json_object_get_string(alg), "ES256") == 0)
        es256 = true;
    else if (strcmp(json_object_get_string(alg), "RS256") != 0)
        reason = "unsupported alg";
    json_object_put(header);
    if (reason)
        return reason;

    size_t sig_len = 0;
    unsigned char *sig = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token),
                                       &sig_len);
    if (!sig)
        return "malformed signature";
    bool sig_ok = verify_signature(es256, token, (size_t)(dot2 - token), sig,
                                   sig_len);
    free(sig);
    if (!sig_ok)
        return "bad signature";

    json_object *claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims)
        return "malformed claims";
    json_object *aud;
    int64_t exp_v = 0, nbf_v = 0, now = (int64_t)time(NULL);
    if (!json_object_object_get_ex(claims, "aud", &aud) || !audience_matches(aud))
        reason = "audience mismatch";
    else if (!get_time_claim(claims, "exp", &exp_v))
        reason = "no exp";
    else if (exp_v <= now)
        reason = "expired";
    else if (get_time_claim(claims, "nbf", &nbf_v) && nbf_v > now)
        reason = "not yet valid (nbf)";
    json_object_put(claims);
    if (!reason)
        *exp = (time_t)exp_v;
    return reason;
}

/* --- client tracking ---------------------------------------------------- */

static void track(const struct mosquitto *client, const char *id, time_t exp)
{
    tracked *t;

    for (t = state.clients; t; t = t->next)
        if (strcmp(t->client_id, id) == 0)
            break;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return;
        t->client_id = strdup(id);
        if (!t->client_id) {
            free(t);
            return;
        }
        t->next = state.clients;
        state.clients = t;
    }
    t->client = client;
    t->exp = exp;
}

static void untrack_client(const struct mosquitto *client)
{
    for (tracked **p = &state.clients; *p; p = &(*p)->next) {
        if ((*p)->client == client) {
            tracked *t = *p;
            *p = t->next;
            free(t->client_id);
            free(t);
            return;
        }
    }
}

/* --- callbacks ---------------------------------------------------------- */

static bool method_enabled(const char *method)
{
    for (int i = 0; i < state.method_count; i++)
        if (strcmp(state.methods[i], method) == 0)
            return true;
    return false;
}

static int on_auth_start(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_extended_auth *ed = event_data;
    const char *id = mosquitto_client_id(ed->client);
    time_t exp = 0;

    (void)event;
    (void)userdata;
    if (!ed->auth_method || !method_enabled(ed->auth_method)) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             PLUGIN ": client %s: method '%s' not supported",
                             id ? id : "?",
                             ed->auth_method ? ed->auth_method : "");
        return MOSQ_ERR_NOT_SUPPORTED;
    }
    const char *reason = ed->data_in && ed->data_in_len
                             ? verify_jwt(ed->data_in, ed->data_in_len, &exp)
                             : "no authentication data";
    if (reason) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             PLUGIN ": client %s: method %s: rejected: %s",
                             id ? id : "?", ed->auth_method, reason);
        return MOSQ_ERR_AUTH;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         PLUGIN ": client %s: method %s: accepted, token "
                                "expires in %lld s",
                         id ? id : "?", ed->auth_method,
                         (long long)(exp - time(NULL)));
    if (id)
        track(ed->client, id, exp);
    return MOSQ_ERR_SUCCESS;
}

static int on_auth_continue(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_extended_auth *ed = event_data;

    (void)event;
    (void)userdata;
    if (!ed->auth_method || !method_enabled(ed->auth_method))
        return MOSQ_ERR_NOT_SUPPORTED;
    /* Single-step methods: there is nothing to continue. */
    return MOSQ_ERR_AUTH;
}

static int on_tick(int event, void *event_data, void *userdata)
{
    time_t now = time(NULL);

    (void)event;
    (void)event_data;
    (void)userdata;
    if (!state.kick_expired)
        return MOSQ_ERR_SUCCESS;
    /* Kicking can re-enter on_disconnect, which edits the list: unlink the
     * entry first and restart the scan after each kick. */
    for (bool again = true; again;) {
        again = false;
        for (tracked **p = &state.clients; *p; p = &(*p)->next) {
            tracked *t = *p;
            if (t->exp > now)
                continue;
            *p = t->next;
            mosquitto_log_printf(MOSQ_LOG_NOTICE,
                                 PLUGIN ": client %s: token expired, "
                                        "disconnecting", t->client_id);
            mosquitto_kick_client_by_clientid(t->client_id, false);
            free(t->client_id);
            free(t);
            again = true;
            break;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_disconnect *ed = event_data;

    (void)event;
    (void)userdata;
    untrack_client(ed->client);
    return MOSQ_ERR_SUCCESS;
}

static int on_acl(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    (void)userdata;
    return MOSQ_ERR_SUCCESS;
}

/* --- plugin entry points ------------------------------------------------ */

int mosquitto_plugin_version(int supported_version_count,
                             const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

static int load_keys(const char *path)
{
    FILE *f = fopen(path, "r");

    if (!f) {
        mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN ": cannot open %s", path);
        return -1;
    }
    EVP_PKEY *k;
    while (state.key_count < MAX_KEYS &&
           (k = PEM_read_PUBKEY(f, NULL, NULL, NULL)) != NULL)
        state.keys[state.key_count++] = k;
    fclose(f);
    if (state.key_count == 0) {
        mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN ": no public key in %s", path);
        return -1;
    }
    return 0;
}

static void set_methods(const char *list)
{
    char *copy = strdup(list), *save = NULL;

    if (!copy)
        return;
    for (char *m = strtok_r(copy, ", ", &save);
         m && state.method_count < MAX_METHODS; m = strtok_r(NULL, ", ", &save))
        state.methods[state.method_count++] = strdup(m);
    free(copy);
}

static void free_state(void)
{
    for (int i = 0; i < state.method_count; i++)
        free(state.methods[i]);
    for (int i = 0; i < state.key_count; i++)
        EVP_PKEY_free(state.keys[i]);
    free(state.audience);
    while (state.clients) {
        tracked *t = state.clients;
        state.clients = t->next;
        free(t->client_id);
        free(t);
    }
    memset(&state, 0, sizeof state);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    const char *methods = "K8S-SAT,OAUTH2-JWT", *key = NULL;

    memset(&state, 0, sizeof state);
    state.id = identifier;
    state.kick_expired = true;
    state.acl_allow_all = true;
    *userdata = &state;
    for (int i = 0; i < option_count; i++) {
        const char *k = options[i].key, *v = options[i].value;
        if (strcmp(k, "methods") == 0)
            methods = v;
        else if (strcmp(k, "public_key") == 0)
            key = v;
        else if (strcmp(k, "audience") == 0) {
            free(state.audience);
            state.audience = strdup(v);
        } else if (strcmp(k, "kick_expired") == 0)
            state.kick_expired = strcmp(v, "false") != 0;
        else if (strcmp(k, "acl_allow_all") == 0)
            state.acl_allow_all = strcmp(v, "false") != 0;
        else
            mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN ": unknown option %s",
                                 k);
    }
    if (!key || !state.audience) {
        mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN ": plugin_opt_public_key and "
                                           "plugin_opt_audience are required");
        free_state();
        return MOSQ_ERR_INVAL;
    }
    set_methods(methods);
    if (load_keys(key) != 0) {
        free_state();
        return MOSQ_ERR_INVAL;
    }
    int rc = mosquitto_callback_register(identifier, MOSQ_EVT_EXT_AUTH_START,
                                         on_auth_start, NULL, NULL);
    if (!rc)
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_EXT_AUTH_CONTINUE,
                                         on_auth_continue, NULL, NULL);
    if (!rc)
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick,
                                         NULL, NULL);
    if (!rc)
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT,
                                         on_disconnect, NULL, NULL);
    if (!rc && state.acl_allow_all)
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl,
                                         NULL, NULL);
    if (rc) {
        mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN ": callback registration "
                                           "failed: %d", rc);
        free_state();
        return rc;
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, PLUGIN ": loaded %d key(s), audience "
                                       "%s, %d method(s)",
                         state.key_count, state.audience, state.method_count);
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                             int option_count)
{
    (void)userdata;
    (void)options;
    (void)option_count;
    if (state.id) {
        mosquitto_callback_unregister(state.id, MOSQ_EVT_EXT_AUTH_START,
                                      on_auth_start, NULL);
        mosquitto_callback_unregister(state.id, MOSQ_EVT_EXT_AUTH_CONTINUE,
                                      on_auth_continue, NULL);
        mosquitto_callback_unregister(state.id, MOSQ_EVT_TICK, on_tick, NULL);
        mosquitto_callback_unregister(state.id, MOSQ_EVT_DISCONNECT,
                                      on_disconnect, NULL);
        if (state.acl_allow_all)
            mosquitto_callback_unregister(state.id, MOSQ_EVT_ACL_CHECK, on_acl,
                                          NULL);
    }
    free_state();
    return MOSQ_ERR_SUCCESS;
}
