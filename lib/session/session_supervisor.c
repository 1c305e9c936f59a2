/* The session supervisor: one thread per started session that makes every
 * connect (fresh token, fresh TLS material), waits for Paho's callbacks
 * (which only record an event and signal), applies backoff, rotates tokens
 * by a clean reconnect with Clean Start = 0, and reports state changes.
 * No Paho call is made while s->mu is held, and no host callback is called
 * with s->mu held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "session_internal.h"
#include "session_reason.h"

static int64_t now_ms(void)
{
    return aioe__session_now_ms();
}

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- Paho callbacks: record and signal, nothing else ---------------- */

void aioe_session_on_connection_lost(void *ctx, char *cause)
{
    aioe_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (!(s->events & EV_LOST)) {
        snprintf(s->ev_detail, sizeof s->ev_detail, "%s",
                 cause ? cause : "connection lost");
    }
    aioe_session_post(s, EV_LOST);
    pthread_mutex_unlock(&s->mu);
}

void aioe_session_on_server_disconnect(void *ctx, MQTTProperties *props,
                                      enum MQTTReasonCodes rc)
{
    aioe_session *s = ctx;
    (void)props;
    pthread_mutex_lock(&s->mu);
    s->ev_reason = (int)rc;
    snprintf(s->ev_detail, sizeof s->ev_detail, "broker sent DISCONNECT: %s",
             aioe_reason_name((int)rc));
    aioe_session_post(s, EV_LOST);
    pthread_mutex_unlock(&s->mu);
}

static void on_disconnect_done(void *ctx, MQTTAsync_successData5 *r)
{
    aioe_session *s = ctx;
    (void)r;
    pthread_mutex_lock(&s->mu);
    aioe_session_post(s, EV_DISCONNECT_DONE);
    pthread_mutex_unlock(&s->mu);
}

static void on_disconnect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    on_disconnect_done(ctx, (MQTTAsync_successData5 *)(void *)r);
}

/* ---- supervisor ------------------------------------------------------ */

/* A connection that lasted this long resets the reconnect backoff. */
#define AIOE_STABLE_CONNECTION_MS 10000

static void emit(aioe_session *s, aioe_session_state st, int status,
                 int reason, const char *msg, void (*fill)(aioe_session_event *, const void *),
                 const void *arg)
{
    aioe_session_event ev = { AIOE_SESSION_EVENT_VERSION, st, status, reason,
                              false, false, false, 0, 0, msg ? msg : "" };
    if (fill)
        fill(&ev, arg);
    pthread_mutex_lock(&s->mu);
    s->state = st;
    pthread_mutex_unlock(&s->mu);
    if (s->opt.state_cb) {
        aioe_session *prev = aioe_session_enter_callback(s);
        s->opt.state_cb(s, &ev, s->opt.state_data);
        aioe_session_leave_callback(prev);
    }
}

static void fill_attempt(aioe_session_event *ev, const void *arg)
{
    ev->attempt = *(const unsigned *)arg;
}

static void fill_retry(aioe_session_event *ev, const void *arg)
{
    ev->will_retry = true;
    ev->retry_delay_ms = *(const uint32_t *)arg;
}

typedef struct { bool present, lost; } connack_info;

static void fill_connected(aioe_session_event *ev, const void *arg)
{
    const connack_info *ci = arg;
    ev->session_present = ci->present;
    ev->session_lost = ci->lost;
}

static void attempt_failed(supervisor *sv, int status, int reason,
                           bool terminal, const char *msg)
{
    aioe_session *s = sv->s;
    aioe_session_set_error(s, status, reason, "%s", msg);
    if (terminal) {
        aioe_session_log(s, AIOE_LOG_ERROR, "giving up: %s", msg);
        pthread_mutex_lock(&s->mu);
        s->accepting = false;
        pthread_mutex_unlock(&s->mu);
        aioe_pubsub_fail_all(s, status, msg);
        emit(s, AIOE_SESSION_STOPPED, status, reason, msg, NULL, NULL);
        sv->phase = P_DONE;
        return;
    }
    uint32_t delay = aioe_backoff_next(&sv->backoff, NULL, NULL);
    aioe_session_log(s, AIOE_LOG_WARNING, "%s; retrying in %u ms", msg, delay);
    emit(s, AIOE_SESSION_DISCONNECTED, status, reason, msg, fill_retry, &delay);
    sv->retry_at = now_ms() + delay;
    sv->phase = P_WAIT_RETRY;
    sv->why = "retry";
}

static void do_connect(supervisor *sv)
{
    aioe_session *s = sv->s;
    char err[256] = "";
    sv->attempt++;
    aioe_session_log(s, AIOE_LOG_INFO, "connecting to %s as %s (attempt %u, %s)",
                     s->server_uri, s->client_id, sv->attempt, sv->why);
    emit(s, AIOE_SESSION_CONNECTING, AIOE_OK, -1, sv->why, fill_attempt,
         &sv->attempt);
    int rc = aioe__session_start_connect(sv, err, sizeof err);
    if (rc != AIOE_OK) {
        attempt_failed(sv, rc, -1, false, err);
        return;
    }
    /* Paho answers every connect with onSuccess or onFailure after at most
     * its connect timeout; if neither comes (a connection lost between the
     * socket and CONNACK has been seen to end in neither), do not wait
     * forever: give up on the attempt a little after that timeout. */
    sv->connect_deadline = now_ms() +
                           (int64_t)s->opt.connect_timeout_ms * (int64_t)s->n_servers + 2000;
    sv->phase = P_CONNECTING;
}

/* Why did a connect fail before CONNACK? Paho says only "TCP/TLS connect
 * failure", so probe each server (or the proxy) the way Paho reached it:
 * name resolution, refused, timeout, then the TLS handshake. Returns the
 * status and writes a message naming host:port. */
static int diagnose_connect(aioe_session *s, bool tls_err, const char *detail,
                            int code, char *msg, size_t msglen)
{
    int probe_ms = s->opt.connect_timeout_ms < 2000 ? (int)s->opt.connect_timeout_ms
                                                    : 2000;
    if (s->use_proxy) {
        char perr[256] = "";
        int d = aioe__auth_tcp_probe(s->opt.conn.proxy_host, s->opt.conn.proxy_port,
                                probe_ms, NULL, perr, sizeof perr);
        if (d != AIOE_OK) {
            snprintf(msg, msglen, "proxy: %s", perr);
            return d;
        }
        snprintf(msg, msglen, "cannot connect to %s through the proxy at %s:%u "
                 "(%s%s%d)", s->server_uri, s->opt.conn.proxy_host,
                 (unsigned)s->opt.conn.proxy_port, detail,
                 *detail ? ", code " : "code ", code);
        return AIOE_ERR_CONNECTION;
    }
    int status = AIOE_ERR_CONNECTION;
    size_t at = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < s->n_servers; i++) {
        const aioe__server *sv = &s->servers[i];
        char one[256] = "";
        int d;
        if (s->tls) {
            d = aioe_tls_diagnose(sv->host, sv->port, s->tls_files.ca_file,
                                  probe_ms, one, sizeof one);
            if (d == AIOE_OK && tls_err) {
                d = AIOE_ERR_TLS;
                snprintf(one, sizeof one, "TLS handshake with %s:%u failed (server "
                         "certificate verifies; check the client certificate)",
                         sv->host, (unsigned)sv->port);
            } else if (d == AIOE_OK) {
                d = AIOE_ERR_CONNECTION;
                snprintf(one, sizeof one, "cannot connect to %s (%s%s%d)", sv->uri,
                         detail, *detail ? ", code " : "code ", code);
            } else if (d != AIOE_ERR_NAME_RESOLUTION && d != AIOE_ERR_CONNECTION_REFUSED &&
                       d != AIOE_ERR_TIMEOUT && d != AIOE_ERR_CONNECTION) {
                char t[256];
                snprintf(t, sizeof t, "TLS: %s", one);
                snprintf(one, sizeof one, "%s", t);
            }
        } else {
            d = aioe__auth_tcp_probe(sv->host, sv->port, probe_ms, NULL, one, sizeof one);
            if (d == AIOE_OK) {
                d = AIOE_ERR_CONNECTION;
                snprintf(one, sizeof one, "cannot connect to %s (%s%s%d)", sv->uri,
                         detail, *detail ? ", code " : "code ", code);
            }
        }
        /* one server: its status; several: theirs when they agree */
        status = i == 0 || d == status ? d : AIOE_ERR_CONNECTION;
        int n = snprintf(msg + at, msglen - at, "%s%s", i ? "; " : "", one);
        if (n < 0 || (size_t)n >= msglen - at)
            break;
        at += (size_t)n;
    }
    return status;
}

static void handle_connect_fail(supervisor *sv, int reason, int code,
                                bool tls_err, const char *detail)
{
    aioe_session *s = sv->s;
    char msg[600];
    if (reason >= 0x80) {
        aioe_reason_class c = aioe_reason_classify(reason);
        snprintf(msg, sizeof msg, "broker refused the connection: %s (0x%02X)",
                 aioe_reason_name(reason), (unsigned)reason);
        attempt_failed(sv, c.status, reason, c.terminal, msg);
        return;
    }
    int status = diagnose_connect(s, tls_err, detail, code, msg, sizeof msg);
    attempt_failed(sv, status, -1, false, msg);
}

static void handle_connected(supervisor *sv, bool present, int recv_max,
                             uint32_t max_packet, const char *server)
{
    aioe_session *s = sv->s;
    sv->clean_pending = false;
    connack_info ci = { present, s->ever_connected && !present };
    pthread_mutex_lock(&s->mu);
    s->window = aioe_pubsub_window(aioe__endpoint_inflight_limit(s->ep), recv_max);
    s->ever_connected = true;
    s->max_packet = max_packet;
    if (s->window_armed && s->outstanding < s->window) {
        s->window_armed = false; /* a larger window from this CONNACK */
        aioe_session_post(s, EV_WINDOW);
    }
    pthread_mutex_unlock(&s->mu);
    /* The backoff is reset only once a connection proved stable (see
     * handle_lost): a broker that accepts and then drops us at once (or
     * another client with our ID taking the session over on a broker that
     * closes without DISCONNECT 0x8E) must not cause a reconnect storm. */
    sv->connected_at = now_ms();
    sv->attempt = 0;
    sv->phase = P_CONNECTED;
    sv->next_check = now_ms() + s->opt.token_check_ms;
    if (ci.lost)
        aioe_session_log(s, AIOE_LOG_WARNING, "reconnected but the broker no "
                         "longer has this client's session: queued messages "
                         "were lost upstream");
    aioe_session_log(s, AIOE_LOG_INFO, "connected to %s (session present %d, "
                     "publish window %zu)", *server ? server : s->server_uri,
                     present, s->window);
    aioe_pubsub_connected(s, !present);
    emit(s, AIOE_SESSION_CONNECTED, AIOE_OK, 0,
         ci.lost ? "broker session lost" : "connected", fill_connected, &ci);
}

/* A CONNACK that breaks the protocol (MQTT 5.0 4.13: the client closes the
 * connection, with DISCONNECT 0x82 where it can): not a usable connection.
 * Retried with backoff, as the answer may change. */
static void refuse_connack(supervisor *sv, const char *what)
{
    aioe_session *s = sv->s;
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    d.timeout = 0;
    d.reasonCode = MQTTREASONCODE_PROTOCOL_ERROR;
    MQTTAsync_disconnect(s->client, &d);
    char msg[160];
    snprintf(msg, sizeof msg, "broker's CONNACK carries %s, a protocol error; "
             "disconnected (0x82)", what);
    attempt_failed(sv, AIOE_ERR_PROTOCOL, -1, false, msg);
}

/* The broker broke the protocol on a live connection (detail says how):
 * DISCONNECT with `reason` and retry with backoff. */
static void drop_connection(supervisor *sv, int reason, const char *detail)
{
    aioe_session *s = sv->s;
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    d.timeout = 0;
    d.reasonCode = (enum MQTTReasonCodes)reason;
    MQTTAsync_disconnect(s->client, &d);
    char msg[320];
    snprintf(msg, sizeof msg, "%s; disconnected (0x%02X)", detail, (unsigned)reason);
    attempt_failed(sv, AIOE_ERR_PROTOCOL, -1, false, msg);
}

static void handle_lost(supervisor *sv, int reason, const char *detail)
{
    char msg[320];
    if (now_ms() - sv->connected_at >= AIOE_STABLE_CONNECTION_MS)
        aioe_backoff_reset(&sv->backoff);
    if (reason >= 0) {
        aioe_reason_class c = aioe_reason_classify(reason);
        snprintf(msg, sizeof msg, "%s (0x%02X)", detail, (unsigned)reason);
        if (reason < 0x80)
            c.status = AIOE_ERR_CONNECTION;
        attempt_failed(sv, c.status, reason, c.terminal, msg);
    } else {
        snprintf(msg, sizeof msg, "connection lost: %s", detail);
        attempt_failed(sv, AIOE_ERR_CONNECTION, -1, false, msg);
    }
}

static void start_rotation(supervisor *sv, const char *why)
{
    aioe_session *s = sv->s;
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer5;
    aioe_session_log(s, AIOE_LOG_INFO, "%s: reconnecting with a fresh token", why);
    dopt.timeout = 0; /* unacknowledged QoS 1 stays in the session, resent */
    dopt.reasonCode = MQTTREASONCODE_NORMAL_DISCONNECTION;
    dopt.onSuccess5 = on_disconnect_done;
    dopt.onFailure5 = on_disconnect_fail;
    dopt.context = s;
    sv->why = why;
    if (MQTTAsync_disconnect(s->client, &dopt) != MQTTASYNC_SUCCESS) {
        sv->phase = P_CONNECT_NOW; /* already down: just connect */
        return;
    }
    sv->phase = P_ROTATING;
}

/* Inbound flow control (the inbox, aioe__session_set_paused): disconnect
 * like a token rotation, so the broker keeps the session and queues QoS 1
 * messages, and stay down until resumed. Done here, never on Paho's shared
 * receive thread, so other sessions keep flowing. */
static void start_pause(supervisor *sv)
{
    aioe_session *s = sv->s;
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer5;
    aioe_session_log(s, AIOE_LOG_INFO, "pausing inbound messages: disconnecting, "
                     "the broker keeps the session");
    dopt.timeout = 0;
    dopt.reasonCode = MQTTREASONCODE_NORMAL_DISCONNECTION;
    dopt.onSuccess5 = on_disconnect_done;
    dopt.onFailure5 = on_disconnect_fail;
    dopt.context = s;
    sv->why = "paused";
    sv->phase = MQTTAsync_disconnect(s->client, &dopt) == MQTTASYNC_SUCCESS ? P_PAUSING
                                                                            : P_PAUSED;
}

void aioe__session_set_paused(aioe_session *s, bool paused)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->inbound_paused != paused) {
        s->inbound_paused = paused;
        aioe_session_post(s, EV_PAUSE);
    }
    pthread_mutex_unlock(&s->mu);
}

bool aioe__session_paused(aioe_session *s)
{
    pthread_mutex_lock(&s->mu);
    bool p = s->inbound_paused;
    pthread_mutex_unlock(&s->mu);
    return p;
}

/* Waits on s->cv (s->mu held; the condition uses CLOCK_MONOTONIC) for at
 * most left_ms. */
static void timed_wait(aioe_session *s, int64_t left_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += left_ms / 1000;
    ts.tv_nsec += (left_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static bool wait_until(aioe_session *s, int64_t deadline,
                       bool (*done)(const aioe_session *))
{
    pthread_mutex_lock(&s->mu);
    bool ok;
    s->drain_waiters++;
    while (!(ok = done(s))) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        timed_wait(s, left);
    }
    s->drain_waiters--;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool drained(const aioe_session *s)
{
    return s->outstanding == 0 ||
           (s->events & (EV_LOST | EV_CONNECT_FAIL)) != 0;
}

static bool disconnect_finished(const aioe_session *s)
{
    return (s->events & (EV_DISCONNECT_DONE | EV_CONNECT_FAIL | EV_LOST)) != 0;
}

/* Stop: no new publishes, wait up to the stop timeout for outstanding ones
 * (our own window, so the timeout is exact rather than Paho's ~1 s timer
 * granularity), then DISCONNECT (reason 0x00) and give Paho a moment to
 * write it. */
static void stop_connection(supervisor *sv)
{
    aioe_session *s = sv->s;
    if (sv->phase != P_CONNECTED && sv->phase != P_CONNECTING &&
        sv->phase != P_ROTATING && sv->phase != P_PAUSING)
        return;
    pthread_mutex_lock(&s->mu);
    s->accepting = false;
    s->events &= ~(unsigned)EV_DISCONNECT_DONE;
    size_t pending = s->outstanding;
    pthread_mutex_unlock(&s->mu);
    if (sv->phase == P_CONNECTED && s->stop_timeout_ms > 0 && pending > 0) {
        aioe_session_log(s, AIOE_LOG_DEBUG, "stopping: waiting up to %u ms for %zu "
                         "unacknowledged publish(es)", (unsigned)s->stop_timeout_ms, pending);
        wait_until(s, now_ms() + s->stop_timeout_ms, drained);
    }
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer5;
    dopt.timeout = 0;
    dopt.onSuccess5 = on_disconnect_done;
    dopt.onFailure5 = on_disconnect_fail;
    dopt.context = s;
    if (MQTTAsync_disconnect(s->client, &dopt) != MQTTASYNC_SUCCESS)
        return;
    /* past this the client is destroyed anyway (which closes the socket) */
    wait_until(s, now_ms() + 500, disconnect_finished);
}

static void check_token(supervisor *sv)
{
    aioe_session *s = sv->s;
    sv->next_check = now_ms() + s->opt.token_check_ms;
    if (!s->tokens.ops)
        return;
    if (s->tokens.ops->changed && s->tokens.ops->changed(s->tokens.self))
        start_rotation(sv, strcmp(s->tokens.ops->auth_method, "OAUTH2-JWT") == 0
                               ? "new token fetched" : "token file changed");
    else if (sv->refresh_at && wall_s() >= sv->refresh_at)
        start_rotation(sv, "token expires soon");
}

/* aioe_session_reload_credentials(), while connected: the token source
 * compares without its shortcuts (the same rotation as check_token() when
 * it differs), then the TLS material is resolved again and compared with
 * what this connection used. Either change reconnects with Clean Start 0. */
static void reload_credentials(supervisor *sv)
{
    aioe_session *s = sv->s;
    sv->next_check = now_ms() + s->opt.token_check_ms;
    const char *why = NULL;
    if (s->tokens.ops) {
        bool (*differs)(void *) = s->tokens.ops->reload ? s->tokens.ops->reload
                                                        : s->tokens.ops->changed;
        if (differs && differs(s->tokens.self))
            why = strcmp(s->tokens.ops->auth_method, "OAUTH2-JWT") == 0
                      ? "credentials reloaded: new token fetched"
                      : "credentials reloaded: token file changed";
    }
    if (!why) {
        bool changed = false;
        char err[256] = "";
        int rc = aioe__session_tls_refresh(s, &changed, err, sizeof err);
        if (rc != AIOE_OK)
            aioe_session_log(s, AIOE_LOG_WARNING, "credentials reloaded: TLS material "
                             "unusable (%s): %s; the current connection is kept",
                             aioe_strerror(rc), err);
        else if (changed)
            why = "credentials reloaded: TLS material changed";
    }
    if (why)
        start_rotation(sv, why);
    else
        aioe_session_log(s, AIOE_LOG_INFO, "credentials reloaded: unchanged; the "
                         "connection is kept");
}

void *aioe_session_supervisor_main(void *arg)
{
    aioe_session *s = arg;
    supervisor sv = { .s = s, .phase = P_CONNECT_NOW, .why = "start",
                      .clean_pending = s->opt.conn.clean_start };
    aioe_backoff_init(&sv.backoff, s->opt.backoff_initial_ms,
                      s->opt.backoff_max_ms);
    for (;;) {
        if (sv.phase == P_CONNECT_NOW && aioe__session_paused(s))
            sv.phase = P_PAUSED;
        if (sv.phase == P_CONNECT_NOW)
            do_connect(&sv);
        if (sv.phase == P_DONE)
            break;
        pthread_mutex_lock(&s->mu);
        for (;;) {
            if (s->events & EV_STOP)
                break;
            unsigned relevant = 0;
            int64_t deadline = -1;
            switch (sv.phase) {
            case P_CONNECTING:
                relevant = EV_CONNECT_OK | EV_CONNECT_FAIL | EV_LOST;
                deadline = sv.connect_deadline;
                break;
            case P_CONNECTED:
                relevant = EV_LOST | EV_PROTOCOL | EV_PAUSE | EV_RELOAD | EV_TOKEN;
                if (s->tokens.ops)
                    deadline = sv.next_check;
                break;
            case P_ROTATING: relevant = EV_DISCONNECT_DONE | EV_LOST; break;
            case P_PAUSING: relevant = EV_DISCONNECT_DONE | EV_LOST; break;
            case P_PAUSED: relevant = EV_PAUSE; break;
            case P_WAIT_RETRY:
                relevant = EV_RELOAD;
                deadline = sv.retry_at;
                break;
            default: break;
            }
            relevant |= EV_WINDOW;
            if (s->events & relevant)
                break;
            /* publishes and subscriptions past their operation timeout */
            int64_t op = aioe__pubsub_next_deadline(s);
            if (op >= 0 && (deadline < 0 || op < deadline))
                deadline = op;
            if (deadline >= 0 && now_ms() >= deadline)
                break;
            if (deadline < 0) {
                pthread_cond_wait(&s->cv, &s->mu);
            } else {
                timed_wait(s, deadline - now_ms());
            }
        }
        unsigned ev = s->events;
        int reason = s->ev_reason, code = s->ev_code, recv_max = s->ev_receive_max;
        uint32_t max_packet = s->ev_max_packet;
        const char *connack_error = s->ev_connack_error;
        bool present = s->ev_session_present, tls_err = s->ev_tls_error;
        bool paused = s->inbound_paused;
        char detail[160], server[300];
        memcpy(detail, s->ev_detail, sizeof detail);
        memcpy(server, s->ev_server, sizeof server);
        if (ev & EV_STOP) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        s->events &= ~(unsigned)EV_WINDOW;
        size_t room = s->window > s->outstanding ? s->window - s->outstanding : 0;
        switch (sv.phase) {
        case P_CONNECTING:
            s->events &= ~(unsigned)(EV_CONNECT_OK | EV_CONNECT_FAIL);
            if (!(ev & (EV_CONNECT_OK | EV_CONNECT_FAIL)))
                s->events &= ~(unsigned)EV_LOST; /* handled below as the failure */
            break;
        case P_CONNECTED:
            s->events &= ~(unsigned)(EV_LOST | EV_PROTOCOL | EV_PAUSE | EV_RELOAD | EV_TOKEN);
            break;
        case P_WAIT_RETRY:
            s->events &= ~(unsigned)EV_RELOAD;
            break;
        case P_ROTATING:
        case P_PAUSING:
            s->events &= ~(unsigned)(EV_DISCONNECT_DONE | EV_LOST);
            break;
        case P_PAUSED:
            s->events &= ~(unsigned)EV_PAUSE;
            break;
        default:
            break;
        }
        pthread_mutex_unlock(&s->mu);
        aioe__pubsub_expire(s);
        if ((ev & EV_WINDOW) && s->opt.window_cb) {
            aioe_session *prev = aioe_session_enter_callback(s);
            s->opt.window_cb(s, room, s->opt.window_data);
            aioe_session_leave_callback(prev);
        }

        switch (sv.phase) {
        case P_CONNECTING:
            if ((ev & EV_CONNECT_OK) && connack_error) {
                refuse_connack(&sv, connack_error);
            } else if (ev & EV_CONNECT_OK) {
                handle_connected(&sv, present, recv_max, max_packet, server);
            } else if (ev & EV_CONNECT_FAIL) {
                handle_connect_fail(&sv, reason, code, tls_err, detail);
            } else if ((ev & EV_LOST) || now_ms() >= sv.connect_deadline) {
                /* lost before CONNACK, or Paho never answered: abandon the
                 * attempt (so a late answer cannot race the next one) */
                MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
                d.timeout = 0;
                MQTTAsync_disconnect(s->client, &d);
                handle_connect_fail(&sv, -1, -1, false,
                                    (ev & EV_LOST) ? "connection lost before CONNACK"
                                                   : "no answer to CONNECT in time");
            }
            break;
        case P_CONNECTED:
            if (ev & EV_LOST)
                handle_lost(&sv, reason, detail);
            else if (ev & EV_PROTOCOL)
                drop_connection(&sv, reason, detail);
            else if (paused)
                start_pause(&sv);
            else if (ev & EV_RELOAD)
                reload_credentials(&sv);
            else if ((ev & EV_TOKEN) || now_ms() >= sv.next_check)
                check_token(&sv);
            break;
        case P_PAUSING:
            if (!(ev & (EV_DISCONNECT_DONE | EV_LOST)))
                break; /* woken for an operation timeout or window room */
            emit(s, AIOE_SESSION_DISCONNECTED, AIOE_OK, -1,
                 "paused: inbound messages wait in the broker session", fill_retry,
                 &(uint32_t){ 0 });
            sv.phase = paused ? P_PAUSED : P_CONNECT_NOW;
            sv.why = "resumed";
            break;
        case P_PAUSED:
            if (!paused) {
                aioe_session_log(s, AIOE_LOG_INFO, "resuming inbound messages");
                sv.phase = P_CONNECT_NOW;
                sv.why = "resumed";
            }
            break;
        case P_ROTATING:
            if (!(ev & (EV_DISCONNECT_DONE | EV_LOST)))
                break; /* woken for an operation timeout */
            emit(s, AIOE_SESSION_DISCONNECTED, AIOE_OK, -1, sv.why, fill_retry,
                 &(uint32_t){ 0 });
            sv.phase = P_CONNECT_NOW;
            break;
        case P_WAIT_RETRY:
            if (ev & EV_RELOAD) {
                /* the material the last attempt failed with may be fixed */
                aioe_session_log(s, AIOE_LOG_INFO, "credentials reloaded: connecting "
                                 "now instead of in %lld ms",
                                 (long long)(sv.retry_at - now_ms()));
                sv.phase = P_CONNECT_NOW;
                sv.why = "credentials reloaded";
            } else if (now_ms() >= sv.retry_at) {
                sv.phase = P_CONNECT_NOW;
            }
            break;
        default:
            break;
        }
    }
    if (sv.phase != P_DONE) {
        stop_connection(&sv);
        pthread_mutex_lock(&s->mu);
        s->accepting = false;
        pthread_mutex_unlock(&s->mu);
        aioe_pubsub_fail_all(s, AIOE_ERR_STATE, "session stopped");
        emit(s, AIOE_SESSION_STOPPED, AIOE_OK, -1, "stopped by the host", NULL,
             NULL);
    }
    return NULL;
}

