/* Shared pieces of aioe-pub and aioe-sub: load one endpoint from a YAML
 * file, create and start a session, wait for it to connect. Example code,
 * built only against the public API. */
#ifndef AIOE_PUBSUB_COMMON_H
#define AIOE_PUBSUB_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <aioendpoint/aioendpoint.h>

typedef struct pubsub_common {
    const char *prog;            /* "aioe-pub" / "aioe-sub" */
    const char *file;            /* endpoint YAML (NULL with --from-env) */
    bool from_env;               /* --from-env: the AIO SDK variables */
    const char *endpoint_name;   /* --endpoint, or NULL for the only one */
    const char *instance;        /* client ID suffix (default prog-pid) */
    const char *resource_dir;
    const char *token_file;
    bool verbose;
    unsigned timeout_s;          /* connect and acknowledgement timeout */
    const char *inbox_dir;       /* aioe-sub --inbox: a durable inbox there */

    aioe_parse_result *res;
    const aioe_endpoint *ep;
    aioe_endpoint *env_ep;       /* owned, from the environment */
    aioe_session_options *opts;  /* pubsub_options(); used by pubsub_connect */
    aioe_session *session;
    aioe_inbox *inbox;           /* with inbox_dir */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool connected;
    bool stopped;
    int stop_status;
    char stop_why[256];
    char instance_buf[64];
} pubsub_common;

/* Handles a common option; returns true when @p opt was one (using @p arg). */
bool pubsub_common_option(pubsub_common *c, int opt, const char *arg);
/* getopt_long entries for the common options (terminated by the caller). */
#define PUBSUB_COMMON_LONGOPTS                                          \
    {"endpoint", required_argument, NULL, 'E'},                         \
    {"instance", required_argument, NULL, 'N'},                         \
    {"resource-dir", required_argument, NULL, 'R'},                     \
    {"token-file", required_argument, NULL, 'T'},                       \
    {"timeout", required_argument, NULL, 'W'},                          \
    {"verbose", no_argument, NULL, 'v'},                                \
    {"from-env", no_argument, NULL, 'X'}
#define PUBSUB_COMMON_USAGE                                                        \
    "  --endpoint NAME      the DataflowEndpoint to use (default: the only one)\n" \
    "  --instance NAME      client ID suffix after clientIdPrefix (default PROG-PID)\n" \
    "  --resource-dir DIR   secrets/config maps root (AIOE_RESOURCE_DIR)\n"         \
    "  --token-file FILE    service account token file (AIOE_SAT_TOKEN_FILE)\n"     \
    "  --timeout SEC        connect timeout, and how long a PUBACK/SUBACK may take\n" \
    "                       (default 10)\n"                                          \
    "  -v, --verbose        log session events to stderr\n"                      \
    "  --from-env           no ENDPOINT.yaml: the AIO SDK variables AIO_BROKER_HOSTNAME,\n" \
    "                       AIO_MQTT_CLIENT_ID, ... (docs/environment.md)\n"

/* The session options pubsub_connect() will use (created on first call,
 * NULL when memory runs out). */
aioe_session_options *pubsub_options(pubsub_common *c);
/* Parses the file (or reads the environment with --from-env) and picks the
 * endpoint; 0 or an exit status (examples/common/tool.h: 3 unreadable,
 * 1 invalid or no such endpoint or a bad AIO_* variable, 2 several
 * endpoints and no --endpoint). */
int pubsub_load(pubsub_common *c);
/* Creates the session (with @p on_message when not NULL; with an inbox in
 * inbox_dir when that is set), starts it and waits until it is connected;
 * 0 or an exit status (1: the library rejects the endpoint; 3: cannot
 * authenticate/connect, or the inbox cannot be opened), with a message on
 * stderr. */
int pubsub_connect(pubsub_common *c, aioe_message_cb on_message, void *user_data);
/* Stops and frees everything. */
void pubsub_close(pubsub_common *c);

#endif /* AIOE_PUBSUB_COMMON_H */
