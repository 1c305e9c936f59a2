/* What a session tells its host, and the guard around it: log lines
 * (through the host's log callback, never printed), the last error
 * (aioe_session_last_error()), and the thread-local marker that tells a
 * library call it is running inside one of the session's own callbacks;
 * also the supervisor's wake-up (aioe_session_post) and clock, which the
 * in-flight code uses too. The lowest file of session/: everything else in
 * the folder calls it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "session_internal.h"

static _Thread_local aioe_session *tl_callback_session;

aioe_session *aioe_session_enter_callback(aioe_session *s)
{
    aioe_session *prev = tl_callback_session;
    tl_callback_session = s;
    return prev;
}

void aioe_session_leave_callback(aioe_session *prev)
{
    tl_callback_session = prev;
}

bool aioe_session_in_own_callback(const aioe_session *s)
{
    return tl_callback_session == s;
}

void aioe_session_log(aioe_session *s, aioe_log_level lvl, const char *fmt, ...)
{
    if (!s->opt.log_cb || lvl > s->opt.log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    aioe_session *prev = aioe_session_enter_callback(s);
    s->opt.log_cb(s, lvl, line, s->opt.log_data);
    aioe_session_leave_callback(prev);
}

void aioe_session_set_error(aioe_session *s, int status, int reason,
                            const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->mu);
    s->last_status = status;
    s->last_reason = reason;
    memcpy(s->last_msg, msg, sizeof msg);
    pthread_mutex_unlock(&s->mu);
}

void aioe_session_post(aioe_session *s, unsigned ev)
{
    s->events |= ev;
    pthread_cond_broadcast(&s->cv);
}

int64_t aioe__session_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void aioe__session_check_key_mode(aioe_session *s)
{
    unsigned mode = s->tls_files.key_mode;
    if (!(mode & 077) || mode == s->key_mode_warned)
        return;
    s->key_mode_warned = mode;
    /* Kubernetes mounts secrets 0644 unless the volume sets defaultMode */
    aioe_session_log(s, AIOE_LOG_WARNING, "private key file %s is readable by %s "
                     "(mode %04o); restrict it to 0600 or 0400 (on Kubernetes: "
                     "defaultMode: 0400 on the secret volume)", s->tls_files.key_file,
                     (mode & 044) == 044 ? "group and others" : (mode & 004) ? "others"
                     : (mode & 040) ? "its group" : "group or others (write/execute)",
                     mode);
}
