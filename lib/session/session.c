/* Session lifecycle: creation, start (preflight), stop, free. The
 * supervisor thread that connects lives in session_supervisor.c.
 *
 * Paho's automatic reconnect would resend the first CONNECT's properties
 * (a stale token) and Paho cannot send AUTH packets, so every connect is
 * made by our own supervisor. */
#include <errno.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aioendpoint/cloudevents.h"
#include "aioendpoint/eventgrid.h"
#include "auth/auth.h"
#include "session_internal.h"
#include "session_reason.h"

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- creation ------------------------------------------------------ */

/* The endpoint's CloudEvents stage (cloudEventAttributes), made once per
 * session through the stage's public API; publishing runs it
 * (pubsub/message.c). */
static int cloudevents_init(aioe_session *s)
{
    aioe_cloud_event_attributes mode = aioe_endpoint_cloud_event_attributes(s->ep);
    if (mode == AIOE_CLOUD_EVENTS_NONE)
        return AIOE_OK;
    aioe_cloudevents_options *o = NULL;
    int rc = aioe_cloudevents_options_new(&o);
    if (rc == AIOE_OK)
        rc = aioe_cloudevents_options_set_mode(o, mode);
    if (rc == AIOE_OK)
        rc = aioe_cloudevents_options_set_target_name(
            o, s->opt.ce_target ? s->opt.ce_target : aioe_endpoint_name(s->ep));
    if (rc == AIOE_OK && s->opt.ce_content_type)
        rc = aioe_cloudevents_options_set_output_content_type(o, s->opt.ce_content_type);
    if (rc == AIOE_OK && s->opt.ce_schema)
        rc = aioe_cloudevents_options_set_output_schema(o, s->opt.ce_schema);
    if (rc == AIOE_OK)
        rc = aioe_cloudevents_new(&s->ce, o);
    aioe_cloudevents_options_free(o);
    return rc;
}

static int copy_options(aioe_session *s, const aioe_session_options *o)
{
    aioe_session_options def;
    if (!o) {
        memset(&def, 0, sizeof def);
        def.log_level = AIOE_LOG_INFO;
        def.token_check_ms = 1000;
        def.backoff_initial_ms = 128;
        def.backoff_max_ms = 60000;
        def.connect_timeout_ms = 30000;
        o = &def;
    }
    s->opt = *o;
    s->opt.resource_dir = NULL;
    s->opt.token_file = NULL;
    s->opt.ws_path = NULL;
    s->opt.identity = NULL; /* read from opts by aioe_session_new only */
    s->opt.ce_target = NULL;
    s->opt.ce_content_type = NULL;
    s->opt.ce_schema = NULL;
    aioe__session_conn_opts_init(&s->opt.conn);
    if (aioe__session_conn_opts_copy(&s->opt.conn, &o->conn) != AIOE_OK)
        return AIOE_ERR_NOMEM;
    if ((o->ce_target && !(s->opt.ce_target = strdup(o->ce_target))) ||
        (o->ce_content_type && !(s->opt.ce_content_type = strdup(o->ce_content_type))) ||
        (o->ce_schema && !(s->opt.ce_schema = strdup(o->ce_schema))))
        return AIOE_ERR_NOMEM;
    const char *dir = aioe_resolver_pick_root(o->resource_dir,
                                              getenv(AIOE_RESOURCE_DIR_ENV));
    const char *tok = o->token_file;
    if (!tok) {
        tok = getenv(AIOE_SAT_TOKEN_FILE_ENV);
        if (!tok || !*tok)
            tok = AIOE_SAT_TOKEN_FILE_DEFAULT;
    }
    if (!(s->opt.resource_dir = strdup(dir)) ||
        !(s->opt.token_file = strdup(tok)) ||
        !(s->opt.ws_path = strdup(o->ws_path ? o->ws_path
                                   : aioe_endpoint_websocket_path(s->ep)
                                       ? aioe_endpoint_websocket_path(s->ep) : "/mqtt")))
        return AIOE_ERR_NOMEM;
    return AIOE_OK;
}

static int build_uri(aioe_session *s)
{
    int rc = aioe__session_build_servers(s); /* endpoint first, then failover */
    if (rc != AIOE_OK)
        return rc;
    if (strlen(s->servers[0].uri) >= 1024)
        return AIOE_ERR_TOO_LARGE;
    if (!(s->server_uri = strdup(s->servers[0].uri)) ||
        !(s->host = strdup(aioe_endpoint_host(s->ep))))
        return AIOE_ERR_NOMEM;
    return AIOE_OK;
}

/* localhost, 127.0.0.0/8, ::1 (and IPv4-mapped 127/8). */
static bool is_loopback_host(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "localhost.") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ||
               (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

int aioe_session_new(aioe_session **out, const aioe_endpoint *ep,
                     const char *instance_name, const aioe_session_options *opts)
{
    if (!out || !ep || !instance_name)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    const char *prefix = aioe_endpoint_client_id_prefix(ep);
    if (!prefix)
        prefix = "";
    if (!*prefix && !*instance_name)
        return AIOE_ERR_INVALID_ARG;
    aioe_auth_method m = aioe_endpoint_auth_method(ep);

    aioe_session *s = calloc(1, sizeof *s);
    if (!s)
        return AIOE_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->ep = aioe_endpoint_ref(ep);
    s->port = aioe_endpoint_port(ep);
    s->tls = aioe_endpoint_tls_mode(ep) != AIOE_TLS_DISABLED;
    s->last_reason = -1;
    s->window = aioe__endpoint_inflight_limit(ep);
    s->endpoint_max_packet = aioe_endpoint_max_packet_size(ep); /* once, not per publish */
    int rc = copy_options(s, opts);
    size_t idlen = strlen(prefix) + strlen(instance_name) + 1;
    if (rc == AIOE_OK && !(s->client_id = malloc(idlen)))
        rc = AIOE_ERR_NOMEM;
    if (rc == AIOE_OK) {
        snprintf(s->client_id, idlen, "%s%s", prefix, instance_name);
        rc = build_uri(s);
    }
    if (rc == AIOE_OK)
        rc = cloudevents_init(s); /* the endpoint's cloudEventAttributes */
    if (rc == AIOE_OK && m == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN)
        rc = aioe_token_source_sat_new(s->opt.token_file, &s->tokens);
    else if (rc == AIOE_OK && (m == AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY ||
                               m == AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY))
        rc = aioe_token_source_mi_for_endpoint(ep, opts ? opts->identity : NULL,
                                               &s->tokens); /* OAUTH2-JWT */
    if (rc != AIOE_OK) {
        aioe_session_free(s);
        return rc;
    }
    if (!s->tls && !is_loopback_host(aioe_endpoint_host(ep)))
        aioe_session_log(s, AIOE_LOG_WARNING,
                         "tls.mode is Disabled for %s, which is not a loopback "
                         "address: credentials and messages will cross the network "
                         "unencrypted", aioe_endpoint_host(ep));
    s->resolver.root = s->opt.resource_dir;
    s->resolver.cb = s->opt.resolver_cb;
    s->resolver.cb_data = s->opt.resolver_data;
    s->resolver.session = s;
    s->resolver.pins = s->opt.conn.pins;
    s->resolver.n_pins = s->opt.conn.n_pins;
    *out = s;
    return AIOE_OK;
}

int aioe_session_set_token_source(aioe_session *s, aioe_token_source *src)
{
    if (!s || !src || !src->ops)
        return AIOE_ERR_INVALID_ARG;
    if (s->thread_running)
        return AIOE_ERR_STATE;
    aioe_token_source_destroy(&s->tokens);
    s->tokens = *src;
    s->token_watch_tried = false;
    memset(src, 0, sizeof *src);
    return AIOE_OK;
}

/* ---- start / stop / free ------------------------------------------- */

/* Checks material once on the caller's thread so start() can refuse. */
static int preflight(aioe_session *s)
{
    char err[256] = "";
    int rc = aioe_endpoint_check_event_grid(s->ep, s->opt.ws_path, err,
                                            sizeof err);
    if (rc == AIOE_OK && s->tokens.ops) {
        aioe_token tok;
        rc = s->tokens.ops->fetch(s->tokens.self, &tok, err, sizeof err);
        if (rc == AIOE_OK && tok.exp && tok.exp <= wall_s()) {
            /* report, but still try: the broker decides */
            aioe_session_log(s, AIOE_LOG_WARNING, "service account token "
                             "expired %lld s ago", (long long)(wall_s() - tok.exp));
        }
        aioe_token_clear(&tok);
    }
    aioe__conn_secrets sec = { 0 };
    if (rc == AIOE_OK)
        rc = aioe__session_secrets_read(&s->opt.conn, &sec, err, sizeof err);
    if (rc == AIOE_OK) {
        s->tls_files.key_password = sec.key_password;
        rc = aioe_tls_prepare(&s->tls_files, &s->resolver, s->ep, err, sizeof err);
        s->tls_files.key_password = NULL;
    }
    aioe__session_secrets_wipe(&sec);
    if (rc == AIOE_OK)
        aioe__session_check_key_mode(s);
    if (rc != AIOE_OK) {
        aioe_session_set_error(s, rc, -1, "%s", err);
        aioe_session_log(s, AIOE_LOG_ERROR, "cannot start: %s", err);
    }
    return rc;
}

/* Paho's default trace level records every function entry and formats
 * about nine log lines per message into an in-memory ring under a global
 * mutex, whether or not anyone reads them; ERROR keeps only errors (about
 * 10 % of a bridged message's CPU, docs/benchmarks.md). Process-wide, so
 * done once, and left alone when the host asked for Paho's own tracing
 * through a non-empty MQTT_C_CLIENT_TRACE. It overwrites a level the host
 * set earlier (Paho cannot report it) and also limits what a Paho trace
 * callback receives; a host can call MQTTAsync_setTraceLevel() again after
 * its first session started. */
static pthread_once_t paho_trace_once = PTHREAD_ONCE_INIT;

static void paho_trace_init(void)
{
    const char *v = getenv("MQTT_C_CLIENT_TRACE");
    if (!v || !*v)
        MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

static int create_client(aioe_session *s)
{
    pthread_once(&paho_trace_once, paho_trace_init);
    MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer5;
    cr.MQTTVersion = MQTTVERSION_5;
    /* Publishes made while reconnecting wait in Paho's buffer; our window
     * bounds how many there can be. */
    cr.sendWhileDisconnected = 1;
    cr.allowDisconnectedSendAtAnyTime = 1;
    cr.maxBufferedMessages = (int)aioe__endpoint_inflight_limit(s->ep) + 1;
    cr.deleteOldestMessages = 0;
    cr.restoreMessages = 0;
    cr.persistQoS0 = 0;
    if (MQTTAsync_createWithOptions(&s->client, s->server_uri, s->client_id,
                                    MQTTCLIENT_PERSISTENCE_NONE, NULL, &cr)
        != MQTTASYNC_SUCCESS) {
        s->client = NULL;
        return AIOE_ERR_INVALID_ARG;
    }
    MQTTAsync_setCallbacks(s->client, s, aioe_session_on_connection_lost,
                           aioe_pubsub_on_message, NULL);
    MQTTAsync_setDisconnected(s->client, s, aioe_session_on_server_disconnect);
    return AIOE_OK;
}

int aioe__session_set_inbound_hook(aioe_session *s, aioe__inbound_hook hook, void *ctx)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    if (s->thread_running || s->client)
        return AIOE_ERR_STATE;
    s->inbound_hook = hook;
    s->inbound_ctx = ctx;
    return AIOE_OK;
}

/* The token source's watcher thread: something changed near the token
 * file. Only a flag for the supervisor. */
static void on_token_event(void *ctx)
{
    aioe_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    aioe_session_post(s, EV_TOKEN);
    pthread_mutex_unlock(&s->mu);
}

/* Once per token source: ask it to tell us about changes (inotify), or
 * say once that only polling notices them. */
static void watch_tokens(aioe_session *s)
{
    if (s->token_watch_tried || !s->tokens.ops || !s->tokens.ops->watch)
        return;
    s->token_watch_tried = true;
    char err[256] = "";
    int rc = s->tokens.ops->watch(s->tokens.self, on_token_event, s, err, sizeof err);
    if (rc == AIOE_OK)
        aioe_session_log(s, AIOE_LOG_DEBUG, "token file: changes are noticed at once "
                         "(inotify) and checked every %u ms", (unsigned)s->opt.token_check_ms);
    else
        aioe_session_log(s, AIOE_LOG_WARNING, "token file: cannot watch for changes "
                         "(%s: %s); checking it every %u ms only", aioe_strerror(rc), err,
                         (unsigned)s->opt.token_check_ms);
}

int aioe_session_start(aioe_session *s)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    if (s->thread_running || s->client)
        return AIOE_ERR_STATE;
    aioe_paho_init();
    int rc = preflight(s);
    if (rc != AIOE_OK)
        return rc;
    watch_tokens(s);
    rc = create_client(s);
    if (rc != AIOE_OK) {
        aioe_session_set_error(s, rc, -1, "Paho rejected server URI %s or "
                               "client ID", s->server_uri);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    s->events = 0;
    s->accepting = true;
    s->ever_connected = false;
    s->window = aioe__endpoint_inflight_limit(s->ep);
    pthread_mutex_unlock(&s->mu);
    if (pthread_create(&s->thread, NULL, aioe_session_supervisor_main, s) != 0) {
        MQTTAsync_destroy(&s->client);
        s->client = NULL;
        s->accepting = false;
        return AIOE_ERR_NOMEM;
    }
    s->thread_running = true;
    return AIOE_OK;
}

int aioe_session_reload_credentials(aioe_session *s)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    /* only a flag for the supervisor: safe from any thread and from this
     * session's callbacks; aioe_session_start() clears it (a start reads
     * everything anyway) */
    pthread_mutex_lock(&s->mu);
    aioe_session_post(s, EV_RELOAD);
    pthread_mutex_unlock(&s->mu);
    return AIOE_OK;
}

int aioe_session_stop(aioe_session *s, uint32_t timeout_ms)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    if (aioe_session_in_own_callback(s))
        return AIOE_ERR_STATE;
    if (!s->thread_running && !s->client)
        return AIOE_ERR_STATE;
    pthread_mutex_lock(&s->mu);
    s->stop_timeout_ms = timeout_ms;
    aioe_session_post(s, EV_STOP);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_running) {
        pthread_join(s->thread, NULL);
        s->thread_running = false;
    }
    /* no host thread may still be inside a Paho call with this client */
    pthread_mutex_lock(&s->mu);
    s->accepting = false;
    s->drain_waiters++;
    while (s->api_calls > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    s->drain_waiters--;
    pthread_mutex_unlock(&s->mu);
    if (s->client) {
        /* after destroy no Paho callback can reach this session */
        MQTTAsync_destroy(&s->client);
        s->client = NULL;
    }
    aioe_pubsub_fail_all(s, AIOE_ERR_STATE, "session stopped");
    aioe_pubsub_after_destroy(s);
    return AIOE_OK;
}

void aioe_session_free(aioe_session *s)
{
    if (!s)
        return;
    if (aioe_session_in_own_callback(s)) {
        aioe_session_log(s, AIOE_LOG_ERROR, "aioe_session_free() called from "
                         "the session's own callback: ignored (leaks)");
        return;
    }
    if (s->thread_running || s->client)
        aioe_session_stop(s, 0);
    aioe_pubsub_free(s);
    aioe_token_source_destroy(&s->tokens);
    aioe_tls_files_free(&s->tls_files);
    aioe_endpoint_unref(s->ep);
    free(s->client_id);
    free(s->server_uri);
    free(s->host);
    free(s->opt.resource_dir);
    free(s->opt.token_file);
    free(s->opt.ws_path);
    free(s->opt.ce_target);
    free(s->opt.ce_content_type);
    free(s->opt.ce_schema);
    aioe__session_conn_opts_clear(&s->opt.conn);
    aioe__session_free_servers(s);
    aioe_cloudevents_free(s->ce);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

