/* Session state, shared by the files of lib/session/ and, through the
 * door session.h, by lib/pubsub/ (publish, subscribe, received messages). */
#ifndef AIOE_SESSION_INTERNAL_H
#define AIOE_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include <MQTTAsync.h>

#include "aioendpoint/cloudevents.h"
#include "aioendpoint/identity.h"
#include "aioendpoint/pubsub.h"
#include "aioendpoint/session.h"
#include "util/util.h"
#include "auth/auth.h"

/* A will message, deep-copied from a message builder. */
typedef struct aioe__will {
    char *topic;
    void *payload;
    size_t payload_len;
    int qos;                    /* -1: the endpoint's */
    bool retain;
    MQTTProperties props;       /* Paho's deep copy, incl. Will Delay */
} aioe__will;

/* One server a session may connect to: the endpoint's host first, then
 * the failover servers in the order they were added. */
typedef struct aioe__server {
    char *host;                 /* without IPv6 brackets */
    uint16_t port;
    char *uri;                  /* Paho server URI, built by the session */
} aioe__server;

/* Host-engine connection options (session_hostopts.c). */
typedef struct aioe__conn_opts {
    char *username;
    char *password_file;        /* read before each connect, wiped after */
    char *key_password_file;    /* TLS private-key password, likewise */
    bool clean_start;           /* first connect after start only */
    aioe__will *will;
    aioe__server *servers;      /* failover servers (not the endpoint's) */
    size_t n_servers;
    char *proxy;                /* http://[user:pass@]host:port */
    char *proxy_host;           /* its host and port, for diagnosis */
    uint16_t proxy_port;
    char *no_proxy;             /* comma-separated hosts / domain suffixes */
    unsigned char *alpn;        /* ALPN wire format, NUL-terminated for Paho */
    size_t alpn_len;
    aioe__pinned_file *pins;    /* resources pinned to files */
    size_t n_pins;
} aioe__conn_opts;

struct aioe_session_options {
    aioe_session_state_cb state_cb;
    void *state_data;
    aioe_log_cb log_cb;
    void *log_data;
    aioe_log_level log_level;
    aioe_message_cb message_cb;
    void *message_data;
    char *resource_dir;
    aioe_resolver_cb resolver_cb;
    void *resolver_data;
    char *token_file;
    uint32_t token_check_ms;
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
    uint32_t connect_timeout_ms;
    char *ws_path;
    aioe_identity_options *identity; /* auth/ (mi_options.c) */
    char *ce_target;        /* CloudEvents stage (session.c, pubsub/message.c); */
    char *ce_content_type;  /* NULL: defaults */
    char *ce_schema;
    uint32_t max_token_bytes;   /* 0: the MQTT limit, 65535 */
    size_t max_queued_bytes;    /* 0: bounded by the window only */
    uint32_t max_packet_size;   /* sent in CONNECT; 0: none (the MQTT limit) */
    uint32_t op_timeout_ms;     /* publish/subscribe completion deadline, 0 none */
    aioe_window_cb window_cb;   /* room again after WOULD_BLOCK (supervisor) */
    void *window_data;
    aioe__conn_opts conn;       /* session_hostopts.c: deep-copied */
};

/* Maximum Packet Size a session announces unless told otherwise. */
#define AIOE_DEFAULT_MAX_PACKET_SIZE (16u * 1024 * 1024)

/* One accepted publish. Records come from a pool and go back only when
 * both the host was told (reported) and Paho is done with the context
 * pointer (paho_done), so a late Paho callback never hits a reused record. */
typedef struct pub_record {
    struct pub_record *next_free;
    struct pub_record *prev, *next; /* outstanding list */
    aioe_session *session;
    aioe_publish_cb cb;
    void *user_data;
    uint64_t gen;
    int token;          /* Paho token, 0 until known */
    int qos;
    size_t bytes;       /* encoded PUBLISH size, counted in outstanding_bytes */
    int64_t deadline;   /* monotonic ms to fail it with AIOE_ERR_TIMEOUT, 0 none */
    bool in_use, reported, paho_done;
} pub_record;

typedef struct pub_chunk {
    struct pub_chunk *next;
    size_t count;
    pub_record recs[];
} pub_chunk;

typedef struct sub_entry {
    struct sub_entry *next;
    aioe_session *session;
    char *filter;           /* as sent: $shared/ already mapped to $share/ */
    int qos;
    bool no_local, retain_as_published;
    unsigned char retain_handling;
    bool removing;          /* unsubscribed: UNSUBSCRIBE not yet acknowledged */
    bool dead;              /* unsubscribed and acknowledged (kept, see pubsub) */
    aioe_subscribe_cb unsub_cb; /* cleared once reported */
    void *unsub_data;
    aioe_subscribe_cb cb;   /* cleared once reported */
    void *user_data;
    int64_t deadline;       /* for cb (monotonic ms), 0 none */
    int64_t unsub_deadline; /* for unsub_cb */
    bool acked;             /* the broker session has it */
    bool inflight;          /* a SUBSCRIBE is outstanding */
} sub_entry;

enum {
    EV_CONNECT_OK = 1u << 0,
    EV_CONNECT_FAIL = 1u << 1,
    EV_LOST = 1u << 2,
    EV_DISCONNECT_DONE = 1u << 3,
    EV_STOP = 1u << 4,
    EV_PROTOCOL = 1u << 5,      /* the broker broke the protocol while
                                 * connected: disconnect with ev_reason */
    EV_WINDOW = 1u << 6,        /* room in the window after a WOULD_BLOCK */
    EV_PAUSE = 1u << 7,         /* inbound_paused changed */
    EV_TOKEN = 1u << 9,         /* the token file's directory changed
                                 * (inotify): check the token now */
    EV_RELOAD = 1u << 8,        /* aioe_session_reload_credentials(): handled
                                 * while connected or waiting to retry */
};

/* Takes every received message instead of the host's message callback
 * (the inbox, lib/inbox/). Runs on Paho's receive thread; the PUBACK of a
 * QoS 1 message goes out when it returns. */
typedef void (*aioe__inbound_hook)(void *ctx, aioe_session *s, const aioe_message *msg);

struct aioe_session {
    aioe_endpoint *ep;
    char *client_id;
    char *server_uri;           /* = servers[0].uri */
    char *host;                 /* for TLS diagnosis */
    uint16_t port;
    aioe__server *servers;      /* endpoint first, then failover servers */
    size_t n_servers;
    bool use_proxy;             /* opt.conn.proxy set and host not in no_proxy */
    char *https_proxy;          /* the same proxy spelt https:// (see hostopts) */
    bool tls;
    struct aioe_session_options opt;
    aioe_resolver resolver;
    aioe_token_source tokens;   /* ops == NULL: no token auth */
    aioe_tls_files tls_files;
    unsigned char tls_digest[32]; /* of the TLS files the last connect used
                                   * (supervisor thread only) */
    bool have_tls_digest;
    bool token_watch_tried;     /* tokens.ops->watch called (once) */
    MQTTAsync client;           /* NULL when not started */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_running;
    aioe_session_state state;
    bool accepting;             /* publish/subscribe allowed */
    unsigned api_calls;         /* host threads inside a Paho call; stop()
                                 * waits for 0 before destroying the client */
    unsigned drain_waiters;     /* threads waiting on cv for api_calls or
                                 * outstanding to reach 0: only then do the
                                 * publish paths broadcast (a broadcast per
                                 * message woke the supervisor each time) */

    /* events from Paho callbacks, consumed by the supervisor */
    unsigned events;
    int ev_reason;              /* CONNACK / DISCONNECT reason, -1 none */
    int ev_code;                /* Paho return code of a failed connect */
    char ev_server[300];        /* CONNACK: the server URI Paho connected to */
    bool ev_session_present;
    int ev_receive_max;
    uint32_t ev_max_packet;     /* CONNACK Maximum Packet Size, 0 none */
    const char *ev_connack_error; /* a protocol error in the CONNACK, or NULL */
    bool ev_tls_error;
    char ev_detail[160];
    uint32_t stop_timeout_ms;

    /* last failure */
    int last_status;
    int last_reason;
    char last_msg[256];

    /* publish window */
    size_t window;
    size_t outstanding;
    size_t outstanding_bytes;   /* sum of the outstanding records' bytes */
    bool window_armed;          /* a publish was refused with WOULD_BLOCK and
                                 * opt.window_cb is set: the next freed slot
                                 * posts EV_WINDOW */
    uint32_t max_packet;        /* server's Maximum Packet Size, 0 = none */
    uint32_t endpoint_max_packet; /* the endpoint's own limit (Event Grid), 0 = none */
    uint64_t gen;
    pub_record *free_recs;
    pub_record *out_head;       /* outstanding (not reported) records, newest
                                 * first */
    pub_record *out_tail;       /* the oldest: the earliest deadline */
    pub_chunk *chunks;

    sub_entry *subs;
    bool ever_connected;
    aioe_cloudevents *ce;       /* NULL: the endpoint sets no CloudEvents mode */
    unsigned key_mode_warned;   /* key file mode last warned about (supervisor
                                 * or start(), never both at once) */

    /* inbound flow control (the inbox): set only while not started */
    aioe__inbound_hook inbound_hook;
    void *inbound_ctx;
    bool inbound_paused;        /* under mu: stay disconnected (keeping the
                                 * broker session) until cleared */
};

/* A received message: a view during the message callback, or an owned copy
 * (aioe_message_copy) whose topic and Paho message belong to it. */
struct aioe_message {
    const char *topic;
    size_t topic_len;
    MQTTAsync_message *m;
    bool owned;
    bool one_block;             /* owned, and m, topic and payload live in
                                 * the same allocation as the message */
    uint64_t inbox_id;          /* 0: not from an inbox */
    bool inbox_redelivered;
};

/* session_hostopts.c */
void aioe__session_conn_opts_init(aioe__conn_opts *c);
void aioe__session_conn_opts_clear(aioe__conn_opts *c);
int aioe__session_conn_opts_copy(aioe__conn_opts *dst, const aioe__conn_opts *src);
/* True when host matches the comma-separated no_proxy list ("*", exact
 * names, ".suffix" or "suffix" domain matches, case-insensitive). */
bool aioe__session_no_proxy_match(const char *no_proxy, const char *host);
/* Reads a secret file (password) into a malloc'd NUL-terminated buffer,
 * dropping one trailing newline. The caller wipes and frees it. */
int aioe__session_read_secret_file(const char *what, const char *path, char **out,
                           size_t *len, char *err, size_t errlen);
/* Fills the session's server list (endpoint first) and URIs. */
int aioe__session_build_servers(aioe_session *s);
void aioe__session_free_servers(aioe_session *s);
/* The secrets of one connect, read from their files; wiped after use. */
typedef struct aioe__conn_secrets {
    char *password;             /* NULL: no password file */
    size_t password_len;
    char *key_password;         /* NULL: no key password file */
    size_t key_password_len;
} aioe__conn_secrets;
int aioe__session_secrets_read(const aioe__conn_opts *c, aioe__conn_secrets *out,
                            char *err, size_t errlen);
void aioe__session_secrets_wipe(aioe__conn_secrets *s);

/* session_notify.c */
void aioe_session_log(aioe_session *s, aioe_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void aioe_session_set_error(aioe_session *s, int status, int reason,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Marks the calling thread as inside a callback of s (re-entrancy guard). */
aioe_session *aioe_session_enter_callback(aioe_session *s);
void aioe_session_leave_callback(aioe_session *prev);
bool aioe_session_in_own_callback(const aioe_session *s);
/* Warns (once per mode) when the client key file Paho reads is readable by
 * group or others, as ssh does. After aioe_tls_prepare(). */
void aioe__session_check_key_mode(aioe_session *s);
/* Records an event for the supervisor and wakes it (s->mu held). */
void aioe_session_post(aioe_session *s, unsigned ev);
/* Monotonic clock in ms (operation deadlines, supervisor timers). */
int64_t aioe__session_now_ms(void);
/* session.c */
/* Replaces the session's token source (tests; managed identity sources).
 * Only while not started. Takes ownership of src. */
int aioe_session_set_token_source(aioe_session *s, aioe_token_source *src);
/* Inbound hook (see aioe__inbound_hook): only while the session is not
 * started. AIOE_OK or AIOE_ERR_STATE. */
int aioe__session_set_inbound_hook(aioe_session *s, aioe__inbound_hook hook, void *ctx);
/* Pauses (true) or resumes inbound delivery: the supervisor disconnects with
 * Clean Start = 0 semantics (the broker keeps the session and queues QoS 1
 * messages) and does not reconnect until resumed. Any thread; never blocks
 * on the network. */
void aioe__session_set_paused(aioe_session *s, bool paused);
bool aioe__session_paused(aioe_session *s);
/* The supervisor thread's state (session_supervisor.c), shared with the
 * connect attempt it starts (session_connect.c). */
enum phase { P_CONNECT_NOW, P_CONNECTING, P_CONNECTED, P_WAIT_RETRY,
             P_ROTATING, P_DONE, P_PAUSING, P_PAUSED };

typedef struct supervisor {
    aioe_session *s;
    enum phase phase;
    aioe_backoff backoff;
    unsigned attempt;
    int64_t retry_at;        /* monotonic ms */
    int64_t next_check;      /* monotonic ms */
    int64_t refresh_at;      /* wall s, 0 = none */
    int64_t token_exp;       /* exp of the token in use */
    int64_t connected_at;    /* monotonic ms of the last CONNACK */
    int64_t connect_deadline;/* monotonic ms: give up waiting for Paho */
    const char *why;         /* reason for the next connect */
    bool clean_pending;      /* Clean Start = 1 until the first CONNACK */
} supervisor;

/* session_connect.c: starts one connect attempt (fresh token, TLS files,
 * CONNECT options). Returns AIOE_OK when Paho accepted it. Supervisor
 * thread, s->mu not held. */
int aioe__session_start_connect(supervisor *sv, char *err, size_t errlen);
/* aioe_session_reload_credentials() for TLS: resolves and writes the TLS
 * material again now and sets *changed when it differs from what the last
 * connect used. AIOE_OK, or the error the next connect would report (with
 * a message). Supervisor thread, s->mu not held. */
int aioe__session_tls_refresh(aioe_session *s, bool *changed, char *err, size_t errlen);
/* session_supervisor.c */
void *aioe_session_supervisor_main(void *arg);
void aioe_session_on_connection_lost(void *ctx, char *cause);
void aioe_session_on_server_disconnect(void *ctx, MQTTProperties *props,
                                      enum MQTTReasonCodes rc);
/* One-time Paho set-up (paho_init.c). */
void aioe_paho_init(void);

/* session_inflight.c (called by the supervisor / lifecycle code, and by
 * lib/pubsub/) */
int aioe_pubsub_on_message(void *ctx, char *topic, int topic_len,
                           MQTTAsync_message *m);
/* Called with s->mu NOT held. */
void aioe_pubsub_connected(aioe_session *s, bool session_lost);
/* Fails every outstanding publish/subscribe with status (stop/terminal). */
void aioe_pubsub_fail_all(aioe_session *s, int status, const char *why);
void aioe_pubsub_free(aioe_session *s);
/* After MQTTAsync_destroy: no Paho callback can come any more. */
void aioe_pubsub_after_destroy(aioe_session *s);
/* Size of a PUBLISH packet without properties. */
size_t aioe_pubsub_publish_size(size_t topic_len, size_t payload_len, int qos);
/* Sends one PUBLISH under the window (msg's payload and properties are
 * copied by Paho); props_len = encoded size of msg's properties. */
int aioe_pubsub_send(aioe_session *s, const char *topic, MQTTAsync_message *msg,
                     size_t props_len, aioe_publish_cb cb, void *user_data);
/* Operation timeouts: the earliest deadline of an outstanding publish or
 * subscribe (monotonic ms, s->mu held), or -1; and failing what is past its
 * deadline with AIOE_ERR_TIMEOUT (s->mu not held; supervisor thread). */
int64_t aioe__pubsub_next_deadline(aioe_session *s);
void aioe__pubsub_expire(aioe_session *s);
/* The subscription entry for a filter as sent, live or dead; s->mu held. */
sub_entry *aioe__session_sub_find(aioe_session *s, const char *filter);
/* Sends SUBSCRIBE or UNSUBSCRIBE for e, unless one is outstanding or e is
 * dead. s->mu not held. */
void aioe__session_sub_send(aioe_session *s, sub_entry *e);
/* window = min(maxInflight, server Receive Maximum - 1), at least 1 */
size_t aioe_pubsub_window(uint16_t max_inflight, int server_receive_max);

/* The endpoint's in-flight limit: maxInflightMessages, where 0 (no limit
 * of the endpoint's) is MQTT's largest Receive Maximum, 65535. */
static inline uint16_t aioe__endpoint_inflight_limit(const aioe_endpoint *ep)
{
    uint16_t mi = aioe_endpoint_max_inflight_messages(ep);
    return mi ? mi : 65535;
}

#endif
