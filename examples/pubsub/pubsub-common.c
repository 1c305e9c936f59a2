/* Shared pieces of aioe-pub and aioe-sub (see pubsub-common.h). */
#include "../common/parse-error.h"
#include "../common/tool.h"
#include "pubsub-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool pubsub_common_option(pubsub_common *c, int opt, const char *arg)
{
    switch (opt) {
    case 'E': c->endpoint_name = arg; return true;
    case 'N': c->instance = arg; return true;
    case 'R': c->resource_dir = arg; return true;
    case 'T': c->token_file = arg; return true;
    case 'W': c->timeout_s = (unsigned)strtoul(arg, NULL, 10); return true;
    case 'v': c->verbose = true; return true;
    case 'X': c->from_env = true; return true;
    default: return false;
    }
}

aioe_session_options *pubsub_options(pubsub_common *c)
{
    if (!c->opts && aioe_session_options_new(&c->opts) != AIOE_OK)
        c->opts = NULL;
    return c->opts;
}

static int load_env(pubsub_common *c)
{
    aioe_session_options *o = pubsub_options(c);
    if (!o)
        return TOOL_EXIT_FAILURE;
    int rc = aioe_endpoint_from_env(&c->env_ep, o, &c->res);
    for (size_t i = 0; i < aioe_parse_result_error_count(c->res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(c->res, i);
        fprintf(stderr, "%s: %s (%s)\n", c->prog, e->message, e->hint);
    }
    if (rc != AIOE_OK) {
        if (rc != AIOE_ERR_INVALID_SPEC)
            fprintf(stderr, "%s: environment: %s\n", c->prog, aioe_strerror(rc));
        return rc == AIOE_ERR_INVALID_SPEC ? TOOL_EXIT_INVALID : TOOL_EXIT_FAILURE;
    }
    c->ep = c->env_ep;
    if (!c->instance)
        c->instance = ""; /* the client ID is AIO_MQTT_CLIENT_ID */
    return 0;
}

int pubsub_load(pubsub_common *c)
{
    if (c->from_env)
        return load_env(c);
    int rc = aioe_parse_file(c->file, NULL, &c->res);
    if (!c->res) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, c->file, aioe_strerror(rc));
        return TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < aioe_parse_result_error_count(c->res); i++) {
        example_print_parse_error(stderr, aioe_parse_result_error(c->res, i));
    }
    if (rc != AIOE_OK)
        return tool_exit_for(rc); /* 3 when the file cannot be read */
    size_t n = aioe_parse_result_endpoint_count(c->res);
    if (c->endpoint_name) {
        c->ep = aioe_parse_result_find_endpoint(c->res, c->endpoint_name);
        if (!c->ep) {
            fprintf(stderr, "%s: %s: no DataflowEndpoint named '%s'\n", c->prog, c->file,
                    c->endpoint_name);
            return TOOL_EXIT_INVALID;
        }
    } else if (n == 1) {
        c->ep = aioe_parse_result_endpoint(c->res, 0);
    } else {
        fprintf(stderr, "%s: %s holds %zu endpoints; pick one with --endpoint NAME\n",
                c->prog, c->file, n);
        return TOOL_EXIT_USAGE;
    }
    return 0;
}

static void on_state(aioe_session *s, const aioe_session_event *ev, void *ud)
{
    pubsub_common *c = ud;
    (void)s;
    if (c->verbose)
        fprintf(stderr, "%s: session %s: %s\n", c->prog,
                ev->state == AIOE_SESSION_CONNECTING     ? "connecting"
                : ev->state == AIOE_SESSION_CONNECTED    ? "connected"
                : ev->state == AIOE_SESSION_DISCONNECTED ? "disconnected"
                                                         : "stopped",
                ev->message);
    pthread_mutex_lock(&c->mu);
    if (ev->state == AIOE_SESSION_CONNECTED)
        c->connected = true;
    if (ev->state == AIOE_SESSION_DISCONNECTED)
        c->connected = false;
    if (ev->state == AIOE_SESSION_STOPPED) {
        c->stopped = true;
        c->connected = false;
        c->stop_status = ev->status;
        snprintf(c->stop_why, sizeof c->stop_why, "%s", ev->message);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_log(aioe_session *s, aioe_log_level lvl, const char *msg, void *ud)
{
    pubsub_common *c = ud;
    (void)s;
    if (c->verbose || lvl <= AIOE_LOG_WARNING)
        fprintf(stderr, "%s: %s\n", c->prog, msg);
}

int pubsub_connect(pubsub_common *c, aioe_message_cb on_message, void *user_data)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (!c->instance) {
        snprintf(c->instance_buf, sizeof c->instance_buf, "%s-%ld", c->prog, (long)getpid());
        c->instance = c->instance_buf;
    }
    aioe_session_options *o = pubsub_options(c);
    if (!o)
        return TOOL_EXIT_FAILURE;
    aioe_session_options_set_state_callback(o, on_state, c);
    aioe_session_options_set_log_callback(o, c->verbose ? AIOE_LOG_DEBUG : AIOE_LOG_WARNING,
                                          on_log, c);
    if (on_message)
        aioe_session_options_set_message_callback(o, on_message, user_data);
    if (c->resource_dir)
        aioe_session_options_set_resource_dir(o, c->resource_dir);
    if (c->token_file)
        aioe_session_options_set_token_file(o, c->token_file);
    /* a broker that never acknowledges must not keep the tool waiting */
    aioe_session_options_set_operation_timeout(o, (c->timeout_s ? c->timeout_s : 10) * 1000u);
    int rc = aioe_session_new(&c->session, c->ep, c->instance, o);
    aioe_session_options_free(o);
    c->opts = NULL;
    if (rc != AIOE_OK) {
        fprintf(stderr, "%s: endpoint '%s': %s\n", c->prog, aioe_endpoint_name(c->ep),
                aioe_strerror(rc));
        return tool_exit_for(rc);
    }
    if (c->inbox_dir) {
        rc = aioe_inbox_new(&c->inbox, c->session, c->inbox_dir, NULL);
        if (rc != AIOE_OK) {
            char buf[256];
            aioe_session_last_error(c->session, buf, sizeof buf);
            fprintf(stderr, "%s: inbox %s: %s (%s)\n", c->prog, c->inbox_dir,
                    aioe_strerror(rc), buf);
            return TOOL_EXIT_FAILURE;
        }
    }
    rc = aioe_session_start(c->session);
    if (rc != AIOE_OK) {
        char buf[256];
        aioe_session_last_error(c->session, buf, sizeof buf);
        fprintf(stderr, "%s: endpoint '%s' cannot start: %s (%s)\n", c->prog,
                aioe_endpoint_name(c->ep), aioe_strerror(rc), buf);
        return tool_exit_for(rc);
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += c->timeout_s ? c->timeout_s : 10;
    pthread_mutex_lock(&c->mu);
    while (!c->connected && !c->stopped) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    }
    bool ok = c->connected;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        char buf[256];
        int st = aioe_session_last_error(c->session, buf, sizeof buf);
        fprintf(stderr, "%s: cannot connect to endpoint '%s' (%s:%u): %s%s%s\n", c->prog,
                aioe_endpoint_name(c->ep), aioe_endpoint_host(c->ep),
                (unsigned)aioe_endpoint_port(c->ep),
                st != AIOE_OK ? aioe_strerror(st) : "timed out", buf[0] ? ": " : "", buf);
        return TOOL_EXIT_FAILURE;
    }
    return 0;
}

void pubsub_close(pubsub_common *c)
{
    if (c->session) {
        if (aioe_session_get_state(c->session) != AIOE_SESSION_IDLE)
            aioe_session_stop(c->session, 2000);
        aioe_inbox_free(c->inbox); /* after the session stopped */
        aioe_session_free(c->session);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
    }
    aioe_parse_result_free(c->res);
    aioe_endpoint_unref(c->env_ep);
    aioe_session_options_free(c->opts);
}
