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
};

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
    bool acked;             /* the broker session has it */
    bool inflight;          /* a SUBSCRIBE is outstanding */
} sub_entry;

enum {
    EV_CONNECT_OK = 1u << 0,
    EV_CONNECT_FAIL = 1u << 1,
    EV_LOST = 1u << 2,
    EV_DISCONNECT_DONE = 1u << 3,
    EV_STOP = 1u << 4,
};

struct aioe_session {
    aioe_endpoint *ep;
    char *client_id;
    char *server_uri;
    char *host;                 /* for TLS diagnosis */
    uint16_t port;
    bool tls;
    struct aioe_session_options opt;
    aioe_resolver resolver;
    aioe_token_source tokens;   /* ops == NULL: no token auth */
    aioe_tls_files tls_files;
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
    bool ev_session_present;
    int ev_receive_max;
    uint32_t ev_max_packet;     /* CONNACK Maximum Packet Size, 0 none */
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
    uint32_t max_packet;        /* server's Maximum Packet Size, 0 = none */
    uint32_t endpoint_max_packet; /* the endpoint's own limit (Event Grid), 0 = none */
    uint64_t gen;
    pub_record *free_recs;
    pub_record *out_head;       /* outstanding (not reported) records */
    pub_chunk *chunks;

    sub_entry *subs;
    bool ever_connected;
    aioe_cloudevents *ce;       /* NULL: the endpoint sets no CloudEvents mode */
};

/* A received message: a view during the message callback, or an owned copy
 * (aioe_message_copy) whose topic and Paho message belong to it. */
struct aioe_message {
    const char *topic;
    size_t topic_len;
    MQTTAsync_message *m;
    bool owned;
};

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
/* session.c */
/* Replaces the session's token source (tests; managed identity sources).
 * Only while not started. Takes ownership of src. */
int aioe_session_set_token_source(aioe_session *s, aioe_token_source *src);
/* session_supervisor.c */
void *aioe_session_supervisor_main(void *arg);
void aioe_session_post(aioe_session *s, unsigned ev); /* s->mu held */
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
