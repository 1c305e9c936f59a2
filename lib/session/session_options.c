/* Session options (typed setters on an opaque object, copied by
 * aioe_session_new) and thread-safe queries on a session. */
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

/* ---- options ------------------------------------------------------- */

int aioe_session_options_new(aioe_session_options **out)
{
    if (!out)
        return AIOE_ERR_INVALID_ARG;
    aioe_session_options *o = calloc(1, sizeof *o);
    if (!o)
        return AIOE_ERR_NOMEM;
    o->log_level = AIOE_LOG_INFO;
    o->token_check_ms = 1000;
    o->backoff_initial_ms = 128;
    o->backoff_max_ms = 60000;
    o->connect_timeout_ms = 30000;
    o->max_packet_size = AIOE_DEFAULT_MAX_PACKET_SIZE;
    *out = o;
    return AIOE_OK;
}

void aioe_session_options_free(aioe_session_options *o)
{
    if (!o)
        return;
    free(o->resource_dir);
    free(o->token_file);
    free(o->ws_path);
    free(o->ce_target);
    free(o->ce_content_type);
    free(o->ce_schema);
    aioe_identity_options_free(o->identity);
    aioe__session_conn_opts_clear(&o->conn);
    free(o);
}

int aioe_session_options_set_state_callback(aioe_session_options *o,
                                            aioe_session_state_cb cb, void *ud)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->state_cb = cb;
    o->state_data = ud;
    return AIOE_OK;
}

int aioe_session_options_set_log_callback(aioe_session_options *o,
                                          aioe_log_level max_level,
                                          aioe_log_cb cb, void *ud)
{
    if (!o || max_level < AIOE_LOG_ERROR || max_level > AIOE_LOG_DEBUG)
        return AIOE_ERR_INVALID_ARG;
    o->log_cb = cb;
    o->log_data = ud;
    o->log_level = max_level;
    return AIOE_OK;
}

int aioe_session_options_set_message_callback(aioe_session_options *o,
                                              aioe_message_cb cb, void *ud)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->message_cb = cb;
    o->message_data = ud;
    return AIOE_OK;
}

static int set_string(char **slot, const char *v, bool allow_null)
{
    if (!v && !allow_null)
        return AIOE_ERR_INVALID_ARG;
    if (v && !*v)
        return AIOE_ERR_INVALID_ARG;
    char *c = NULL;
    if (v && !(c = strdup(v)))
        return AIOE_ERR_NOMEM;
    free(*slot);
    *slot = c;
    return AIOE_OK;
}

int aioe_session_options_set_resource_dir(aioe_session_options *o, const char *dir)
{
    return o ? set_string(&o->resource_dir, dir, true) : AIOE_ERR_INVALID_ARG;
}

int aioe_session_options_set_resolver(aioe_session_options *o,
                                      aioe_resolver_cb cb, void *ud)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->resolver_cb = cb;
    o->resolver_data = ud;
    return AIOE_OK;
}

int aioe_session_options_set_token_file(aioe_session_options *o, const char *path)
{
    return o ? set_string(&o->token_file, path, true) : AIOE_ERR_INVALID_ARG;
}

int aioe_session_options_set_token_check_interval(aioe_session_options *o,
                                                  uint32_t ms)
{
    if (!o || ms < 10)
        return AIOE_ERR_INVALID_ARG;
    o->token_check_ms = ms;
    return AIOE_OK;
}

int aioe_session_options_set_reconnect_backoff(aioe_session_options *o,
                                               uint32_t initial_ms,
                                               uint32_t max_ms)
{
    if (!o || initial_ms == 0 || max_ms < initial_ms)
        return AIOE_ERR_INVALID_ARG;
    o->backoff_initial_ms = initial_ms;
    o->backoff_max_ms = max_ms;
    return AIOE_OK;
}

int aioe_session_options_set_connect_timeout(aioe_session_options *o,
                                             uint32_t timeout_ms)
{
    if (!o || timeout_ms == 0)
        return AIOE_ERR_INVALID_ARG;
    o->connect_timeout_ms = timeout_ms;
    return AIOE_OK;
}

int aioe_session_options_set_websocket_path(aioe_session_options *o,
                                            const char *path)
{
    if (!o || !path || path[0] != '/' || strpbrk(path, " \r\n?#"))
        return AIOE_ERR_INVALID_ARG;
    return set_string(&o->ws_path, path, false);
}

/* ---- queries -------------------------------------------------------- */

aioe_session_state aioe_session_get_state(const aioe_session *cs)
{
    if (!cs)
        return AIOE_SESSION_IDLE;
    aioe_session *s = (aioe_session *)cs;
    pthread_mutex_lock(&s->mu);
    aioe_session_state st = s->state;
    pthread_mutex_unlock(&s->mu);
    return st;
}

const char *aioe_session_client_id(const aioe_session *s)
{
    return s ? s->client_id : NULL;
}

int aioe_session_last_error(const aioe_session *cs, char *buf, size_t size)
{
    if (!cs)
        return AIOE_ERR_INVALID_ARG;
    aioe_session *s = (aioe_session *)cs;
    pthread_mutex_lock(&s->mu);
    int st = s->last_status;
    if (buf && size)
        snprintf(buf, size, "%s", s->last_msg);
    pthread_mutex_unlock(&s->mu);
    return st;
}

int aioe_session_last_reason_code(const aioe_session *cs)
{
    if (!cs)
        return -1;
    aioe_session *s = (aioe_session *)cs;
    pthread_mutex_lock(&s->mu);
    int r = s->last_reason;
    pthread_mutex_unlock(&s->mu);
    return r;
}

int aioe_session_options_set_max_token_bytes(aioe_session_options *o, uint32_t max_bytes)
{
    if (!o || max_bytes > 65535)
        return AIOE_ERR_INVALID_ARG;
    o->max_token_bytes = max_bytes;
    return AIOE_OK;
}

int aioe_session_options_set_identity(aioe_session_options *so,
                                      const aioe_identity_options *identity)
{
    if (!so)
        return AIOE_ERR_INVALID_ARG;
    aioe_identity_options *c;
    int rc = aioe_identity_options_copy(identity, &c);
    if (rc != AIOE_OK)
        return rc;
    aioe_identity_options_free(so->identity);
    so->identity = c;
    return AIOE_OK;
}

int aioe_session_options_set_max_queued_bytes(aioe_session_options *opts, size_t max_bytes)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    opts->max_queued_bytes = max_bytes;
    return AIOE_OK;
}

int aioe_session_options_set_cloudevents(aioe_session_options *opts,
                                         const char *target_name,
                                         const char *content_type, const char *schema)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    char *t = target_name ? strdup(target_name) : NULL;
    char *c = content_type ? strdup(content_type) : NULL;
    char *sc = schema ? strdup(schema) : NULL;
    if ((target_name && !t) || (content_type && !c) || (schema && !sc)) {
        free(t);
        free(c);
        free(sc);
        return AIOE_ERR_NOMEM;
    }
    free(opts->ce_target);
    free(opts->ce_content_type);
    free(opts->ce_schema);
    opts->ce_target = t;
    opts->ce_content_type = c;
    opts->ce_schema = sc;
    return AIOE_OK;
}

int aioe_session_options_set_max_packet_size(aioe_session_options *o, uint32_t max_bytes)
{
    if (!o || (max_bytes > 0 && max_bytes < 64))
        return AIOE_ERR_INVALID_ARG;
    o->max_packet_size = max_bytes;
    return AIOE_OK;
}

int aioe_session_options_set_operation_timeout(aioe_session_options *o, uint32_t timeout_ms)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->op_timeout_ms = timeout_ms;
    return AIOE_OK;
}

int aioe_session_options_set_window_callback(aioe_session_options *opts, aioe_window_cb cb,
                                             void *user_data)
{
    if (!opts)
        return AIOE_ERR_INVALID_ARG;
    opts->window_cb = cb;
    opts->window_data = user_data;
    return AIOE_OK;
}
