/* Integration-test harness: real mosquitto brokers on loopback, a generated
 * PKI, JWT minting for the aioe_jwt_auth broker plugin, and an independent
 * MQTT v5 observer client (libmosquitto, not Paho).
 *
 * Not part of libaioendpoint and never linked into it; the harness itself does
 * not link libaioendpoint either. Test programs get it via `harness_dep`
 * (tests/integration/meson.build) and must add `depends : harness_test_depends`
 * to their test() so the broker plugin is built first.
 *
 * Conventions
 * - Functions returning int return 0 on success and -1 on failure; on failure
 *   they print the reason (with the broker log tail where useful) to stderr,
 *   which meson captures into the test log. Functions returning a pointer
 *   return NULL on failure, likewise with a message on stderr.
 * - Every string returned as `const char *` is owned by the harness and valid
 *   until the process exits (broker_* strings: until broker_free); `char *`
 *   results are malloc'd and the caller frees them with free().
 * - String arguments are copied unless stated otherwise.
 * - Observer, PKI, JWT and workspace functions are thread-safe; a broker
 *   object must be used from one thread at a time. Broker
 *   children get PR_SET_PDEATHSIG(SIGKILL), which fires when the *thread* that
 *   started them exits, so start brokers from the main thread.
 * - Environment: AIOE_TEST_KEEP=1 keeps the workspace (configs, logs, certs)
 *   after exit and prints its path; AIOE_MOSQUITTO overrides the broker
 *   binary; AIOE_JWT_PLUGIN overrides the plugin path; AIOE_TEST_VERBOSE=1
 *   echoes broker logs to stderr when a broker is freed.
 */
#ifndef AIOE_TEST_HARNESS_H
#define AIOE_TEST_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Workspace and small utilities                                            */
/* ------------------------------------------------------------------------ */

/* The per-process temporary directory (created on first use with mkdtemp under
 * $TMPDIR or /tmp, removed recursively at exit unless AIOE_TEST_KEEP=1).
 * Returns NULL only if it cannot be created. */
const char *harness_workspace(void);

/* Returns a malloc'd "<workspace>/<name>" (name may contain '/'; parent
 * directories are NOT created), or NULL. */
char *harness_path(const char *name);

/* Creates "<workspace>/<name>" as a directory (and parents) and returns its
 * malloc'd path, or NULL. */
char *harness_mkdir(const char *name);

/* Writes len bytes to path (created/truncated, mode 0600). */
int harness_write_file(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'd NUL-terminated buffer; *len_out (if not
 * NULL) gets the length without the NUL. Returns NULL on error. */
char *harness_read_file(const char *path, size_t *len_out);

/* Monotonic clock in milliseconds. */
int64_t harness_now_ms(void);

/* Wall clock, seconds since the epoch (what JWT exp/iat/nbf use). */
int64_t harness_time(void);

/* With mu held: waits on cond until it is signalled or deadline_ms (the
 * harness_now_ms() clock; cond uses the default CLOCK_REALTIME) passes.
 * Returns false without waiting when the deadline has passed already, so
 * `while (!done && harness_cond_wait_until(...)) {}` waits for done. */
bool harness_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms);

/* Polls cond(arg) every ~2 ms until it returns true or timeout_ms elapses.
 * Returns true if the condition became true. Use this instead of sleeps. */
bool harness_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Returns a free TCP port on 127.0.0.1 (bound with port 0 then closed), or -1.
 * Inherently racy; broker_start retries on a collision. */
int harness_free_port(void);

/* Returns a process-unique string "<prefix>-<pid>-<counter>" (malloc'd), handy
 * for client IDs and topics so parallel tests never collide. */
char *harness_unique(const char *prefix);

/* ------------------------------------------------------------------------ */
/* PKI                                                                       */
/* ------------------------------------------------------------------------ */

/* All paths are PEM files in "<workspace>/pki"; keys are unencrypted
 * unless stated. Generated once per process (EC P-256 keys, so it is fast)
 * on the first harness_pki() call. */
typedef struct harness_pki {
    const char *dir;

    /* Root CA: trust anchor for everything below except wrong_ca_*. */
    const char *ca_cert;
    const char *ca_key;

    /* An unrelated CA; verifying any server below against it fails. */
    const char *wrong_ca_cert;
    const char *wrong_ca_key;

    /* Server certificate for CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
     * IP:::1, issued by the root CA. */
    const char *server_cert;
    const char *server_key;

    /* Server certificate valid only for DNS:other.example (CN too), issued
     * by the root CA: use it to prove hostname verification. */
    const char *server_mismatch_cert;
    const char *server_mismatch_key;

    /* Server certificate for localhost whose notAfter lies in the past
     * (valid from now-2d to now-1d), issued by the root CA. */
    const char *server_expired_cert;
    const char *server_expired_key;

    /* Server certificate for localhost issued by the wrong CA. */
    const char *server_wrong_ca_cert;
    const char *server_wrong_ca_key;

    /* Intermediate CA (issued by the root CA, pathlen 0). */
    const char *intermediate_cert;
    const char *intermediate_key;

    /* Client certificate CN=aioe-client issued by the intermediate CA.
     * client_chain = leaf followed by the intermediate (what a client must
     * send; the broker only trusts the root). */
    const char *client_cert;
    const char *client_key;
    const char *client_chain;

    /* Client certificate CN=aioe-client-root issued directly by the root. */
    const char *client_root_cert;
    const char *client_root_key;

    /* client_key encrypted with AES-256-CBC (PKCS#8) under
     * client_key_passphrase. */
    const char *client_key_encrypted;
    const char *client_key_passphrase;

    /* A private key that does NOT match client_cert / client_root_cert. */
    const char *mismatched_key;

    /* Client certificate CN=aioe-wrong-client issued by the wrong CA (a
     * broker requiring certificates must reject it). */
    const char *client_wrong_ca_cert;
    const char *client_wrong_ca_key;

    /* Directory laid out like an AIO X509 secret mount:
     * client_cert.pem (leaf issued by the intermediate), client_key.pem,
     * client_intermediate_certs.pem (the intermediate). */
    const char *secret_x509_dir;
    /* Directory laid out like a kubernetes.io/tls secret mount:
     * tls.crt (client_root_cert) and tls.key. */
    const char *secret_tls_dir;
    /* Directory with ca.crt (root CA) like a trust-bundle config map. */
    const char *secret_ca_dir;
} harness_pki;

/* Returns the process-wide PKI, generating it on first call, or NULL. */
const harness_pki *harness_pki_get(void);

/* ------------------------------------------------------------------------ */
/* JWT minting                                                               */
/* ------------------------------------------------------------------------ */

typedef enum harness_jwt_alg {
    HARNESS_JWT_RS256 = 0,
    HARNESS_JWT_ES256 = 1,
} harness_jwt_alg;

/* Claims for harness_jwt_mint(). Zero-initialise, then set what you need.
 * Times are absolute seconds since the epoch (see harness_time()); a time
 * field equal to 0 is omitted from the token, except iat which defaults to
 * now. String fields that are NULL are omitted. */
typedef struct harness_jwt_claims {
    harness_jwt_alg alg;
    const char *iss;
    const char *sub;
    const char *aud;          /* "aud": "<aud>" (ignored if aud_list set) */
    const char *const *aud_list; /* "aud": [..] with aud_count entries */
    size_t aud_count;
    int64_t exp;
    int64_t iat;              /* 0 -> now */
    int64_t nbf;
    /* Sign with a second, untrusted key of the same algorithm, so the
     * signature is well-formed but does not verify. */
    bool wrong_key;
    /* Extra members merged into the claims object verbatim, e.g.
     * "\"kubernetes.io\":{\"namespace\":\"x\"}" (no surrounding braces). */
    const char *extra_json;
} harness_jwt_claims;

/* Mints "header.claims.signature" (base64url, no padding) with the harness's
 * RSA-1024 (RS256; small so it is generated in ~10 ms) or P-256 (ES256) key.
 * Returns a malloc'd string or NULL. */
char *harness_jwt_mint(const harness_jwt_claims *claims);

/* Convenience: a K8S-SAT-like RS256 token for audience aud valid for
 * ttl_seconds from now (negative = already expired). Malloc'd. */
char *harness_jwt_simple(const char *aud, int ttl_seconds);

/* PEM file with BOTH trusted public keys (RSA then EC): what the plugin's
 * plugin_opt_public_key points at by default. */
const char *harness_jwt_public_keys_path(void);

/* Writes token to "<workspace>/<name>" (like a projected token file) and
 * returns the malloc'd path. The file is replaced atomically (write + rename),
 * so calling it again with the same name simulates a kubelet rotation. */
char *harness_jwt_write_file(const char *name, const char *token);

/* ------------------------------------------------------------------------ */
/* Broker                                                                    */
/* ------------------------------------------------------------------------ */

#define BROKER_MAX_LISTENERS 8

typedef enum broker_transport {
    BROKER_TCP = 0,        /* "protocol mqtt" */
    BROKER_WEBSOCKETS = 1, /* "protocol websockets" (path-independent) */
} broker_transport;

typedef struct broker_listener {
    broker_transport transport;
    bool tls;                  /* serve TLS (tls_version tlsv1.2 minimum) */
    bool require_certificate;  /* mutual TLS (implies tls) */
    bool use_identity_as_username; /* client cert CN becomes the username */
    /* NULL -> PKI defaults: server_cert/server_key, cafile = root CA. */
    const char *certfile;
    const char *keyfile;
    const char *cafile;
} broker_listener;

typedef struct broker_config {
    broker_listener listeners[BROKER_MAX_LISTENERS];
    int listener_count;        /* 0 -> one plain TCP listener */
    bool allow_anonymous;
    bool persistence;          /* own persistence_location in the workspace */
    int max_inflight_messages; /* 0 -> 1000 (mosquitto default 20 distorts) */
    int max_queued_messages;   /* 0 -> 1000000 (default 1000 drops QoS 1) */
    uint32_t max_packet_size;  /* 0 -> mosquitto default (unlimited) */
    /* Load tests/plugins/aioe_jwt_auth. */
    bool jwt_plugin;
    const char *jwt_methods;   /* NULL -> "K8S-SAT,OAUTH2-JWT" */
    const char *jwt_audience;  /* NULL -> "aio-internal" */
    const char *jwt_public_key;/* NULL -> harness_jwt_public_keys_path() */
    /* Space-separated mosquitto log_type values; NULL -> "all" (every
     * packet is logged: slow for bulk traffic, use e.g. "error warning
     * notice" there; "error" and "information" are always added because
     * the harness reads them; broker_wait_client needs "notice"). */
    const char *log_types;
    /* Appended verbatim to mosquitto.conf (one option per line). */
    const char *extra_conf;
} broker_config;

/* Sets *cfg to: one plain TCP listener, allow_anonymous true, persistence
 * false, the high in-flight/queue limits above, no plugin. */
void broker_config_init(broker_config *cfg);

/* Appends a listener; returns its index, or -1 if the table is full. */
int broker_config_add_listener(broker_config *cfg, broker_transport transport,
                               bool tls, bool require_certificate);

typedef struct broker broker;

/* Writes "<workspace>/broker-N/mosquitto.conf", picks a free loopback port
 * per listener, spawns mosquitto and waits (up to 5 s) until every listener
 * accepts TCP connections. Retries with new ports if a port was taken.
 * cfg is copied. On failure prints the broker's log tail and returns -1. */
int broker_start(const broker_config *cfg, broker **out);

/* TCP port of listener i (the same across broker_restart). */
int broker_port(const broker *b, int listener_index);

/* Paho-style server URI for listener i, owned by the broker (valid until
 * broker_free): "tcp://127.0.0.1:P", "ssl://localhost:P",
 * "ws://127.0.0.1:P/mqtt" or "wss://localhost:P/mqtt". TLS URIs use
 * "localhost" so hostname verification matches server_cert. Listeners bind
 * 127.0.0.1 only. */
const char *broker_uri(const broker *b, int listener_index);

/* The listener's settings as started (defaults resolved). */
const broker_listener *broker_listener_info(const broker *b, int listener_index);

/* SIGTERM, then wait up to 5 s (SIGKILL after that). mosquitto writes its
 * persistence file on SIGTERM. Idempotent. */
int broker_stop(broker *b);

/* SIGKILL and reap: no persistence write-out. Idempotent. */
int broker_kill(broker *b);

/* Stops (SIGTERM) if running, then starts again with the same config file,
 * ports and persistence directory, and waits for readiness. */
int broker_restart(broker *b);

/* SIGSTOP / SIGCONT: the broker stops answering but keeps its sockets open
 * (the kernel still completes TCP handshakes), for stall tests. */
int broker_pause(broker *b);
int broker_resume(broker *b);

bool broker_running(broker *b);
int broker_pid(const broker *b);

/* mosquitto's log file (log_type all). */
const char *broker_log_path(const broker *b);

/* True if the broker log contains needle (re-reads the file). */
bool broker_log_contains(const broker *b, const char *needle);

/* Waits until the log contains needle; true if it did within timeout_ms. */
bool broker_wait_log(const broker *b, const char *needle, int timeout_ms);

/* Number of (non-overlapping) occurrences of needle in the broker log. */
size_t broker_log_count(const broker *b, const char *needle);

/* Waits until needle occurs at least count times in the log. */
bool broker_wait_log_count(const broker *b, const char *needle, size_t count,
                           int timeout_ms);

/* Waits until the broker has logged count CONNECTs accepted for client_id
 * ("New client connected from ... as <client_id> ("), e.g. count 2 to see a
 * reconnect. */
bool broker_wait_client(const broker *b, const char *client_id, size_t count,
                        int timeout_ms);

/* Stops the broker (if running) and frees it. NULL is a no-op. */
void broker_free(broker *b);

/* ------------------------------------------------------------------------ */
/* Observer client (libmosquitto, MQTT v5): an independent subscriber         */
/* ------------------------------------------------------------------------ */

typedef struct observer_prop {
    char *name;
    char *value;
} observer_prop;

typedef struct observer_msg {
    char *topic;
    unsigned char *payload;    /* NUL-terminated for convenience */
    size_t payload_len;
    int qos;
    bool retain;
    char *content_type;        /* NULL if absent */
    char *response_topic;      /* NULL if absent */
    unsigned char *correlation_data; /* NULL if absent */
    size_t correlation_len;
    bool has_message_expiry;
    uint32_t message_expiry;
    int payload_format;        /* -1 if absent */
    observer_prop *user_props; /* in wire order */
    size_t user_prop_count;
} observer_msg;

/* Connection options for observer_connect() and harness_publish_opts().
 * Zero-initialise; unset fields get defaults. */
typedef struct harness_client_opts {
    const char *host;          /* NULL -> "127.0.0.1" ("localhost" if tls) */
    int port;
    bool tls;
    const char *cafile;        /* NULL with tls -> root CA */
    const char *certfile;      /* client certificate (mutual TLS) */
    const char *keyfile;
    const char *client_id;     /* NULL -> unique */
    bool persistent_session;   /* clean start 0 + session expiry 1 h */
    const char *username;
    const char *password;
    int keepalive;             /* 0 -> 30 s */
    /* Observer only: reconnect (every 1 s) and re-subscribe after the
     * connection drops, e.g. across broker_restart. Off by default: a
     * dropped observer stays down (observer_connected() turns false), so
     * it never fights another client over a client ID. */
    bool auto_reconnect;
} harness_client_opts;

typedef struct observer observer;

/* Connects to listener i of b (TLS and client certificate chosen to match
 * the listener: root CA, and client_root_cert if it requires one) and
 * subscribes to filter at qos (MQTT v5, clean start). Returns once SUBACK
 * arrives (or fails after 5 s). TCP listeners only (libmosquitto has no
 * WebSockets client); use any other listener of the broker. */
int observer_start(broker *b, int listener_index, const char *filter, int qos,
                   observer **out);

/* Same with explicit connection options. */
int observer_connect(const harness_client_opts *opts, const char *filter,
                     int qos, observer **out);

/* Number of messages received so far. Thread-safe. */
size_t observer_count(observer *o);

/* Waits until at least count messages arrived or timeout_ms passed; returns
 * the number received (compare with count). Thread-safe. */
size_t observer_wait(observer *o, size_t count, int timeout_ms);

/* Message i (0-based, arrival order) or NULL if not (yet) there. The
 * pointer stays valid until observer_free/observer_clear. Thread-safe. */
const observer_msg *observer_get(observer *o, size_t i);

/* Value of the first user property called name in m, or NULL. */
const char *observer_msg_prop(const observer_msg *m, const char *name);

/* Forgets all received messages. */
void observer_clear(observer *o);

/* True while the observer's connection is up. */
bool observer_connected(observer *o);

/* Disconnects and frees. NULL is a no-op. */
void observer_free(observer *o);

/* ------------------------------------------------------------------------ */
/* Publishing helper (libmosquitto, MQTT v5)                                 */
/* ------------------------------------------------------------------------ */

typedef struct harness_pub {
    const char *topic;
    const void *payload;
    size_t payload_len;
    int qos;
    bool retain;
    const char *content_type;         /* optional */
    const char *const *user_props;    /* optional name,value pairs ... */
    size_t user_prop_pairs;           /* number of pairs */
} harness_pub;

/* Connects, publishes each message in order, waits for completion (PUBACK
 * for QoS 1/2), disconnects. Returns 0 only if every message completed. */
int harness_publish_opts(const harness_client_opts *opts,
                         const harness_pub *msgs, size_t count);

/* One message to listener i of b (TLS/client cert chosen as in
 * observer_start). */
int harness_publish(broker *b, int listener_index, const char *topic,
                    const void *payload, size_t len, int qos, bool retain);

/* Fills opts (TLS, cafile, client certificate) to reach listener i of b.
 * Pointers inside stay owned by the harness/broker. */
void harness_client_opts_for(broker *b, int listener_index,
                             harness_client_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
