/**
 * @file session.h
 * @brief Authenticated TLS MQTT v5 sessions built from an endpoint spec.
 *
 * A session turns one aioe_endpoint into one MQTT v5 client connection and
 * keeps it alive: it connects, re-reads credentials before every connect,
 * reconnects with exponential backoff and jitter, reconnects early when a
 * token rotates or nears its `exp`, and stops for good on broker answers
 * that cannot succeed on retry. Lifecycle: aioe_session_new() →
 * aioe_session_start() → ... → aioe_session_stop() → aioe_session_free().
 *
 * Threads (see docs/threading.md):
 * - State and log callbacks run on the session's own supervisor thread
 *   (one per started session), except log lines written while
 *   aioe_session_start() or aioe_session_stop() run, which come from the
 *   calling thread.
 * - Message, publish-completion and subscribe-completion callbacks run on
 *   Paho's receive/send threads, which are shared by every session in the
 *   process: keep them short and never wait there for another session.
 *   Completions of work that is abandoned by aioe_session_stop() run on the
 *   thread calling stop (or free).
 * - Every function may be called from any thread, except that
 *   aioe_session_stop() and aioe_session_free() must not be called from a
 *   callback of the same session (they return AIOE_ERR_STATE / do nothing
 *   and log, respectively).
 */
#ifndef AIOENDPOINT_SESSION_H
#define AIOENDPOINT_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "spec.h"
#include "properties.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One MQTT v5 client session. */
typedef struct aioe_session aioe_session;
/** Settings and callbacks for aioe_session_new(); copied at creation. */
typedef struct aioe_session_options aioe_session_options;
/** A read-only view of one received message (see the aioe_message_* getters). */
typedef struct aioe_message aioe_message;
/** One request to a host resource resolver (see aioe_resolver_cb). */
typedef struct aioe_resource_request aioe_resource_request;

/** Where a session is in its life. Values are ABI. */
typedef enum aioe_session_state {
    /** Created or stopped and not started. Never reported by a callback. */
    AIOE_SESSION_IDLE = 0,
    /** A connect attempt is in progress. */
    AIOE_SESSION_CONNECTING = 1,
    /** CONNACK with reason code Success received. */
    AIOE_SESSION_CONNECTED = 2,
    /** The connection ended or an attempt failed; see will_retry. */
    AIOE_SESSION_DISCONNECTED = 3,
    /** The session gave up (terminal error) or was stopped; it will not
     *  connect again unless started again. */
    AIOE_SESSION_STOPPED = 4
} aioe_session_state;

/** Log levels, most severe first. */
typedef enum aioe_log_level {
    AIOE_LOG_ERROR = 0,
    AIOE_LOG_WARNING = 1,
    AIOE_LOG_INFO = 2,
    AIOE_LOG_DEBUG = 3
} aioe_log_level;

/** Kinds of resources an endpoint spec refers to by name. */
typedef enum aioe_resource_kind {
    /** A Kubernetes Secret (X.509 client certificate and key). */
    AIOE_RESOURCE_SECRET = 1,
    /** A Kubernetes ConfigMap (trusted CA certificates). */
    AIOE_RESOURCE_CONFIG_MAP = 2
} aioe_resource_kind;

/** The value of aioe_session_event.version for this header. */
#define AIOE_SESSION_EVENT_VERSION 1

/**
 * What a state callback is told. Owned by the library, valid during the
 * callback only. Fields are only ever appended; check @c version before
 * reading a field added after version 1.
 */
typedef struct aioe_session_event {
    unsigned version;          /**< AIOE_SESSION_EVENT_VERSION or newer */
    aioe_session_state state;  /**< the state just entered */
    /** AIOE_OK, or why the connection ended / an attempt failed / the
     *  session stopped (e.g. AIOE_ERR_NOT_AUTHORIZED, AIOE_ERR_TLS_UNKNOWN_CA,
     *  AIOE_ERR_SESSION_TAKEN_OVER, AIOE_ERR_CONNECTION, AIOE_ERR_AUTH). */
    int status;
    /** The MQTT reason code from the broker's CONNACK or DISCONNECT
     *  (e.g. 0x87 Not authorized, 0x8E Session taken over), or -1 when
     *  the broker sent none. */
    int reason_code;
    /** CONNECTED: the broker reported Session Present = 1. */
    bool session_present;
    /** CONNECTED: this was a reconnect and the broker no longer had the
     *  session (Session Present = 0): messages queued for this client and
     *  subscriptions were lost upstream; the library re-subscribes, and
     *  unacknowledged publishes completed with AIOE_ERR_CONNECTION. */
    bool session_lost;
    /** DISCONNECTED: the library will try again after retry_delay_ms. */
    bool will_retry;
    /** DISCONNECTED with will_retry: delay before the next attempt. */
    uint32_t retry_delay_ms;
    /** CONNECTING: 1-based number of the attempt since the session was
     *  last connected (or started). */
    unsigned attempt;
    /** CONNECTING: why (e.g. "start", "retry", "token file changed",
     *  "token expires soon"). Other states: detail text, never a secret.
     *  Never NULL. */
    const char *message;
} aioe_session_event;

/**
 * State callback. Runs on the session's supervisor thread. It may call any
 * aioe_session_* function of this session except stop and free.
 */
typedef void (*aioe_session_state_cb)(aioe_session *session,
                                      const aioe_session_event *event,
                                      void *user_data);

/**
 * Log callback: one line of text without a trailing newline, valid during
 * the call. Never contains a token, key or other secret. Runs on whichever
 * thread logs (supervisor, Paho's threads, or the caller of start/stop).
 */
typedef void (*aioe_log_cb)(aioe_session *session, aioe_log_level level,
                            const char *message, void *user_data);

/**
 * Message callback: @p message is valid only during the call. Runs on
 * Paho's receive thread. For QoS 1 the PUBACK is sent after this returns,
 * so anything the host must not lose has to be handed off durably here.
 */
typedef void (*aioe_message_cb)(aioe_session *session,
                                const aioe_message *message, void *user_data);

/**
 * Completion of aioe_session_publish(), called exactly once per accepted
 * publish: @p status AIOE_OK when delivered (PUBACK with a reason code
 * below 0x80 for QoS 1; written to the socket for QoS 0), otherwise why it
 * failed (AIOE_ERR_PROTOCOL or AIOE_ERR_NOT_AUTHORIZED with the broker's
 * PUBACK reason code, AIOE_ERR_CONNECTION when delivery could not be
 * confirmed, AIOE_ERR_STATE when the session was stopped first,
 * AIOE_ERR_TIMEOUT after the operation timeout, see
 * aioe_session_options_set_operation_timeout()).
 * @p reason_code is the PUBACK reason code, or -1 when there was none.
 * Runs on a Paho thread, on the session's supervisor thread (timeouts,
 * terminal errors), or on the thread calling stop/free.
 */
typedef void (*aioe_publish_cb)(aioe_session *session, int status,
                                int reason_code, void *user_data);

/**
 * Completion of aioe_session_subscribe(), called exactly once: AIOE_OK with
 * the granted QoS as @p reason_code (0 or 1), or a failure with the SUBACK
 * reason code (>= 0x80) or -1 (AIOE_ERR_TIMEOUT after the operation
 * timeout). Threads as for aioe_publish_cb.
 */
typedef void (*aioe_subscribe_cb)(aioe_session *session, int status,
                                  int reason_code, void *user_data);

/**
 * Publish-window callback: after aioe_session_publish() (or
 * aioe_session_publish_message()) returned AIOE_ERR_WOULD_BLOCK, it is
 * called once when a completion has freed room, with @p room the free slots
 * of the window at that moment (another thread may publish first; a new
 * AIOE_ERR_WOULD_BLOCK arms it again, so a host that only publishes from
 * here never misses room and never spins). Not called when no publish was
 * refused. Runs on the session's supervisor thread, never on Paho's
 * threads. It may publish (the intended use) and call any aioe_session_*
 * function of this session except stop and free. It may block, for
 * instance waiting for the host's own queue, but while it does this
 * session's supervisor does nothing else: reconnects, token rotation,
 * operation timeouts and state events wait (other sessions and Paho's
 * threads are not held up).
 */
typedef void (*aioe_window_cb)(aioe_session *session, size_t room, void *user_data);

/**
 * Host resource resolver: supplies the material for one resource instead
 * of the directory layout. Read the request with the
 * aioe_resource_request_* getters and hand the bytes over with
 * aioe_resource_request_set_data() (copied). Return AIOE_OK when data was
 * set, AIOE_ERR_NOT_FOUND when the resource or key does not exist, or
 * another status to fail the connect attempt. Called on the thread that
 * connects (the supervisor, or the caller of aioe_session_start()), once
 * per resource per connect attempt; it may block briefly.
 */
typedef int (*aioe_resolver_cb)(aioe_session *session,
                                aioe_resource_request *request,
                                void *user_data);

/* ---- options ------------------------------------------------------ */

/** Creates an options object with every default. */
AIOE_API int aioe_session_options_new(aioe_session_options **out);
/** Frees an options object; NULL does nothing. */
AIOE_API void aioe_session_options_free(aioe_session_options *opts);
/** State callback (default none). */
AIOE_API int aioe_session_options_set_state_callback(
    aioe_session_options *opts, aioe_session_state_cb cb, void *user_data);
/** Log callback and the most verbose level passed to it (default none,
 *  AIOE_LOG_INFO). */
AIOE_API int aioe_session_options_set_log_callback(
    aioe_session_options *opts, aioe_log_level max_level, aioe_log_cb cb,
    void *user_data);
/** Message callback for every subscription (default none: messages are
 *  acknowledged and dropped). */
AIOE_API int aioe_session_options_set_message_callback(
    aioe_session_options *opts, aioe_message_cb cb, void *user_data);
/**
 * Root of the resource directory layout (copied). Default: the
 * AIOE_RESOURCE_DIR environment variable, else "/etc/aioendpoint". Secrets
 * resolve to `<root>/secrets/<name>/<key>`, config maps to
 * `<root>/configmaps/<name>/<key>`.
 */
AIOE_API int aioe_session_options_set_resource_dir(aioe_session_options *opts,
                                                   const char *dir);
/**
 * Largest token (service account or managed identity) a connect may send,
 * in bytes: 1..65535, or 0 for the MQTT limit of 65535 (the default). A
 * larger token fails the attempt with AIOE_ERR_TOO_LARGE, before anything
 * is sent.
 */
AIOE_API int aioe_session_options_set_max_token_bytes(aioe_session_options *opts,
                                                      uint32_t max_bytes);
/** Replaces the directory layout with a host callback (NULL restores it). */
AIOE_API int aioe_session_options_set_resolver(aioe_session_options *opts,
                                               aioe_resolver_cb cb,
                                               void *user_data);
/**
 * Service account token file (copied). Default: the AIOE_SAT_TOKEN_FILE
 * environment variable, else "/var/run/secrets/tokens/broker-sat".
 */
AIOE_API int aioe_session_options_set_token_file(aioe_session_options *opts,
                                                 const char *path);
/** How often the token file is checked for changes, in ms (default 1000,
 *  minimum 10). */
AIOE_API int aioe_session_options_set_token_check_interval(
    aioe_session_options *opts, uint32_t interval_ms);
/** Reconnect backoff: first delay and cap, in ms (defaults 128 and 60000;
 *  each delay gets +/-20 % jitter). */
AIOE_API int aioe_session_options_set_reconnect_backoff(
    aioe_session_options *opts, uint32_t initial_ms, uint32_t max_ms);
/** Time allowed for TCP + TLS + CONNACK, in ms (default 30000). */
AIOE_API int aioe_session_options_set_connect_timeout(
    aioe_session_options *opts, uint32_t timeout_ms);
/**
 * Largest packet this session accepts from the broker, in bytes, sent as
 * Maximum Packet Size in CONNECT (default 16777216, 16 MiB; 0 sends none,
 * leaving the MQTT limit of about 256 MiB; 1..63 is AIOE_ERR_INVALID_ARG).
 * A conforming broker then never sends a larger PUBLISH (mosquitto drops
 * it for this client). One that does anyway breaks the protocol: Paho
 * has read the message and acknowledges it whatever the library does, so
 * it is delivered (not lost); the session logs an error, sends DISCONNECT
 * 0x95 and reconnects with backoff (state event AIOE_ERR_PROTOCOL). Paho
 * 1.3.12 reads the packet before the library sees it, so such a broker
 * still costs its size in memory once per attempt (docs/security.md).
 */
AIOE_API int aioe_session_options_set_max_packet_size(aioe_session_options *opts,
                                                      uint32_t max_bytes);
/**
 * Operation timeout, in ms (default 0: none). A publish whose completion
 * has not come this long after aioe_session_publish() (or
 * aioe_session_publish_message()) accepted it completes with
 * AIOE_ERR_TIMEOUT, and a subscribe or unsubscribe likewise, instead of
 * waiting for ever on a broker that never sends PUBACK / SUBACK / UNSUBACK;
 * the timeout runs from the call, also while disconnected. It is checked
 * on the session's supervisor thread, which then calls the completion.
 * A timed-out publish frees its window slot; Paho may still hold the
 * message, so a QoS 1 publish can still reach the broker (resent on
 * reconnect) and its late PUBACK is ignored: the host decides whether to
 * publish again. A timed-out subscription stays registered and is still
 * sent on the next connect (unsubscribe to drop it).
 */
AIOE_API int aioe_session_options_set_operation_timeout(aioe_session_options *opts,
                                                        uint32_t timeout_ms);
/** Publish-window callback (default none), see aioe_window_cb. */
AIOE_API int aioe_session_options_set_window_callback(aioe_session_options *opts,
                                                      aioe_window_cb cb, void *user_data);
/** HTTP path for `protocol: WebSockets` (copied); overrides the endpoint's
 *  own, aioe_endpoint_websocket_path() (the host's /path, else "/mqtt"). */
AIOE_API int aioe_session_options_set_websocket_path(
    aioe_session_options *opts, const char *path);

/* ---- host-engine connection options (docs/session.md) ------------- */

/**
 * MQTT User Name sent in every CONNECT (copied; NULL, the default, sends
 * none). Works with every authentication method of the endpoint.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG for an empty name, one over 65535
 *         bytes or with a control character; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_set_username(aioe_session_options *opts,
                                               const char *username);
/**
 * File holding the MQTT Password (path copied; NULL, the default, sends
 * none). The file is read before every connect, so a rotated password is
 * picked up; one trailing newline is dropped; the bytes are wiped from
 * memory once Paho has taken its copy and never reach a log line.
 * aioe_session_start() fails with AIOE_ERR_NOT_FOUND / AIOE_ERR_IO when it
 * cannot be read.
 */
AIOE_API int aioe_session_options_set_password_file(aioe_session_options *opts,
                                                    const char *path);
/**
 * Clean Start for the first connect after aioe_session_start() (default
 * false: resume the broker-side session). Until that connect succeeds every
 * attempt asks for a clean start; reconnects after it never do, so
 * subscriptions and queued messages survive token rotation and network
 * failures.
 */
AIOE_API int aioe_session_options_set_clean_start(aioe_session_options *opts,
                                                  bool clean_start);
/**
 * Adds a failover server "host:port" (IPv6 as "[addr]:port"; copied;
 * checked like the endpoint's `host` field). Every connect tries the
 * endpoint's host first and then these in the order they were added, with
 * the endpoint's protocol, TLS settings and credentials; when all fail the
 * usual reconnect backoff applies and the next connect starts from the
 * first again, as does the connect after a lost connection. At most 64.
 * TLS hostname verification applies to each server's own name.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_add_server(aioe_session_options *opts,
                                             const char *host_port);
/** Forgets every server added with aioe_session_options_add_server(). */
AIOE_API int aioe_session_options_clear_servers(aioe_session_options *opts);
/**
 * HTTP CONNECT proxy for the broker connection, TLS or not (copied):
 * @p url is "http://host:port" or "http://user:password@host:port" (the
 * credentials are sent as Basic authentication and never logged).
 * @p no_proxy (copied, may be NULL) lists hosts that bypass the proxy, in
 * the NO_PROXY format: comma-separated names, "*" for all, and domain
 * suffixes (".example.com" and "example.com" both match a.example.com);
 * it is matched against the endpoint's host and decides for the session.
 * NULL @p url removes the proxy. Without one, Paho itself uses the
 * http_proxy / https_proxy environment variables and ignores no_proxy
 * (docs/session.md).
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG for another scheme, a path or a
 *         missing port; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_set_proxy(aioe_session_options *opts,
                                            const char *url,
                                            const char *no_proxy);
/**
 * ALPN protocol names offered in the TLS handshake, in order of preference
 * (copied; each 1..255 bytes). @p count 0 offers none (the default). Only
 * used when the endpoint's TLS is enabled.
 */
AIOE_API int aioe_session_options_set_alpn(aioe_session_options *opts,
                                           const char *const *protocols,
                                           size_t count);
/**
 * File holding the password of an encrypted client private key (path
 * copied; NULL, the default, requires an unencrypted key). Read before each
 * connect, wiped after; a wrong password fails aioe_session_start() with
 * AIOE_ERR_TLS.
 */
AIOE_API int aioe_session_options_set_key_password_file(aioe_session_options *opts,
                                                        const char *path);

/**
 * Pins one resource key to a file (all strings copied): @p kind and
 * @p name as the endpoint refers to them, @p key the file name inside the
 * secret or config map (e.g. "client_cert.pem"), or NULL for a config
 * map's whole trust bundle; @p path the file to read instead, before
 * every connect. Pins are consulted before the resolver callback and the
 * directory layout; a pinned secret or config map is answered by its pins
 * only (a key without a pin is "not found", which is fine for the
 * optional client_intermediate_certs.pem). NULL @p path removes the pin.
 * aioe_endpoint_from_env() uses this for AIO_TLS_CA_FILE,
 * AIO_TLS_CERT_FILE and AIO_TLS_KEY_FILE.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG for a bad kind, name or key, or a
 *         NULL key for a secret; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_set_resource_file(aioe_session_options *opts,
                                                    aioe_resource_kind kind,
                                                    const char *name,
                                                    const char *key,
                                                    const char *path);

/* ---- resolver requests -------------------------------------------- */

AIOE_API aioe_resource_kind
aioe_resource_request_kind(const aioe_resource_request *req);
/** The Secret or ConfigMap name, as written in the spec. */
AIOE_API const char *aioe_resource_request_name(const aioe_resource_request *req);
/** The key (file name) wanted, e.g. "client_cert.pem"; NULL for a trusted
 *  CA config map, where the answer is every certificate in it as one PEM
 *  bundle. */
AIOE_API const char *aioe_resource_request_key(const aioe_resource_request *req);
/** Hands the resource's bytes to the library (copied). */
AIOE_API int aioe_resource_request_set_data(aioe_resource_request *req,
                                            const void *data, size_t len);

/* ---- lifecycle ---------------------------------------------------- */

/**
 * Creates a session for @p endpoint (a reference is taken).
 * Client ID = clientIdPrefix + @p instance_name (copied; must be non-empty
 * when there is no prefix). @p opts may be NULL; it is copied.
 * Every authentication method has a token source (managed identities
 * through identity.h and aioe_session_options_set_identity()).
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG; AIOE_ERR_UNSUPPORTED for a
 *         managed-identity setting the chosen identity source cannot serve
 *         (e.g. a user-assigned identity on Azure Arc); AIOE_ERR_AUTH when
 *         the identity source is incompletely configured; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_new(aioe_session **out, const aioe_endpoint *endpoint,
                              const char *instance_name,
                              const aioe_session_options *opts);

/**
 * Checks credentials and TLS material (token readable and non-empty, client
 * key readable, unencrypted or decrypted by the key password file, and
 * matching the certificate, CA bundle readable, password files readable)
 * and starts connecting in the background. On error nothing was
 * started and no callback fires; aioe_session_last_error() says why.
 * A session that stopped (by aioe_session_stop(), or on its own after a
 * terminal error and then cleaned up with aioe_session_stop()) may be
 * started again; its subscriptions are kept.
 * The first session created in a process sets Paho's process-wide trace
 * level to MQTTASYNC_TRACE_ERROR unless MQTT_C_CLIENT_TRACE is set and
 * non-empty (docs/threading.md).
 * @return AIOE_OK; AIOE_ERR_STATE when running, or stopped on its own and
 *         not yet cleaned up with aioe_session_stop(); AIOE_ERR_AUTH,
 *         AIOE_ERR_TLS, AIOE_ERR_IO, AIOE_ERR_NOT_FOUND for bad material.
 */
AIOE_API int aioe_session_start(aioe_session *session);

/**
 * Stops: refuses new publishes, waits up to @p timeout_ms for in-flight
 * QoS 1 publishes to be acknowledged, sends DISCONNECT (allowing Paho up to
 * 0.5 s more to write it), fails whatever is left with AIOE_ERR_STATE,
 * reports AIOE_SESSION_STOPPED and returns. The broker-side
 * session is kept (Session Expiry applies). A session that already stopped
 * on its own is cleaned up likewise. Blocks; not from a callback.
 * @return AIOE_OK; AIOE_ERR_STATE when never started or called from one of
 *         this session's callbacks.
 */
AIOE_API int aioe_session_stop(aioe_session *session, uint32_t timeout_ms);

/**
 * Re-reads the credentials now instead of at the next check: the service
 * account token file (compared by contents), a managed identity's token
 * (one exchange with the identity service at once, which also reads a
 * workload identity's federated token file again), and the TLS material
 * (CA bundle, client certificate, intermediates and key, resolved from the
 * resource directory or resolver again). When the token or the TLS material
 * differs from what the current connection used, the session reconnects
 * with it the way a token rotation does (Clean Start 0: the broker keeps
 * the session; unacknowledged QoS 1 publishes are sent again), reported as
 * DISCONNECTED then CONNECTING with the message "credentials reloaded:
 * ..."; otherwise the connection is kept. While waiting to retry after a
 * failed attempt, it connects at once. Material that cannot be used is
 * logged (a warning) and the connection kept.
 * Returns at once: the work is done on the session's supervisor thread.
 * Thread-safe; may be called from any thread, including this session's
 * callbacks. On a session that is not started it does nothing
 * (aioe_session_start() reads everything).
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG for NULL.
 */
AIOE_API int aioe_session_reload_credentials(aioe_session *session);

/** Stops (timeout 0) if needed and frees. NULL does nothing. */
AIOE_API void aioe_session_free(aioe_session *session);

/** Current state (thread-safe snapshot). */
AIOE_API aioe_session_state aioe_session_get_state(const aioe_session *session);
/** The MQTT client ID, owned by the session. */
AIOE_API const char *aioe_session_client_id(const aioe_session *session);
/**
 * The last failure of this session: returns its status (AIOE_OK if none)
 * and copies a one-line description, never containing a secret, into
 * @p buf (NUL-terminated, truncated to @p size; @p buf may be NULL).
 */
AIOE_API int aioe_session_last_error(const aioe_session *session, char *buf,
                                     size_t size);
/** MQTT reason code of the last broker refusal, or -1. */
AIOE_API int aioe_session_last_reason_code(const aioe_session *session);

/* ---- publish / subscribe ------------------------------------------ */

/**
 * Subscribes to @p filter (copied) at @p qos (0 or 1). When not connected
 * the subscription is sent on the next connect. The session remembers its
 * subscriptions and sends them again when a reconnect finds the broker
 * session gone. @p cb (may be NULL) fires once with the SUBACK result.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG; AIOE_ERR_STATE when not started;
 *         AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_subscribe(aioe_session *session, const char *filter,
                                    int qos, aioe_subscribe_cb cb,
                                    void *user_data);

/**
 * Publishes @p len bytes of @p payload (copied) to @p topic (copied).
 * While disconnected the message is kept (within the window) and sent on
 * reconnect. The endpoint's cloudEventAttributes stage runs on it as on
 * aioe_session_publish_message() (AIOE_ERR_INVALID_EVENT as there). @p cb (may be NULL) is called exactly once unless this
 * function returns an error, in which case it is never called.
 * @return AIOE_OK; AIOE_ERR_WOULD_BLOCK when the publish window (
 *         maxInflightMessages, capped below the broker's Receive Maximum)
 *         is full — retry after a completion, or when the window callback
 *         (aioe_session_options_set_window_callback()) fires;
 *         AIOE_ERR_TOO_LARGE when the
 *         PUBLISH would exceed the Maximum Packet Size of the broker's last
 *         CONNACK; AIOE_ERR_STATE when not started or stopped;
 *         AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_publish(aioe_session *session, const char *topic,
                                  const void *payload, size_t len, int qos,
                                  bool retain, aioe_publish_cb cb,
                                  void *user_data);

/** Current publish window size (0 before the first CONNACK is known it is
 *  maxInflightMessages) and publishes now outstanding. Thread-safe. */
AIOE_API size_t aioe_session_publish_window(const aioe_session *session);
AIOE_API size_t aioe_session_publish_outstanding(const aioe_session *session);

/* ---- received messages (views valid during the message callback) --- */

/** Topic name (not NUL-terminated; *len gets its length). */
AIOE_API const char *aioe_message_topic(const aioe_message *msg, size_t *len);
/** Payload bytes (may be NULL when *len is 0). */
AIOE_API const void *aioe_message_payload(const aioe_message *msg, size_t *len);
/** QoS of the delivery: 0 or 1 (or 2). */
AIOE_API int aioe_message_qos(const aioe_message *msg);
/** The RETAIN flag as received. */
AIOE_API bool aioe_message_retain(const aioe_message *msg);
/** Content Type property (not NUL-terminated), or NULL when absent. */
AIOE_API const char *aioe_message_content_type(const aioe_message *msg,
                                               size_t *len);
/** Number of user properties, in wire order, duplicates kept. */
AIOE_API size_t aioe_message_user_property_count(const aioe_message *msg);
/** The i-th user property as a view valid during the callback.
 *  @return AIOE_OK; AIOE_ERR_NOT_FOUND when @p i is out of range. */
AIOE_API int aioe_message_user_property(const aioe_message *msg, size_t i,
                                        aioe_user_property *out);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_SESSION_H */
