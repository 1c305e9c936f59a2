/* aioe-bridge's systemd notifications (bridge_notify.h), through
 * libsystemd's sd_notify() when built with it. */
#include "bridge_notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#ifdef AIOE_BRIDGE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static int64_t watchdog_ms;   /* half of WATCHDOG_USEC; 0: no watchdog */
static int64_t last_ping_ms = -1;

static void notify_send(const char *state)
{
#ifdef AIOE_BRIDGE_SYSTEMD
    /* unset_environment 0: NOTIFY_SOCKET stays for later messages */
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

static void send_with_status(const char *head, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void send_with_status(const char *head, const char *fmt, va_list ap)
{
    char status[512], msg[600];
    vsnprintf(status, sizeof status, fmt, ap);
    snprintf(msg, sizeof msg, "%sSTATUS=%s", head, status);
    notify_send(msg);
}

void bridge_notify_init(void)
{
#ifdef AIOE_BRIDGE_SYSTEMD
    uint64_t usec = 0;
    /* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is us) */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_ms = (int64_t)(usec / 2000) > 0 ? (int64_t)(usec / 2000) : 1;
#endif
}

void bridge_notify_ready(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_with_status("READY=1\n", fmt, ap);
    va_end(ap);
}

void bridge_notify_status(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_with_status("", fmt, ap);
    va_end(ap);
}

void bridge_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[128];
    /* MONOTONIC_USEC: what Type=notify-reload (systemd 253) expects with it */
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    notify_send(msg);
}

void bridge_notify_stopping(void)
{
    notify_send("STOPPING=1\nSTATUS=draining");
}

bool bridge_notify_watchdog_due(int64_t now_ms)
{
    return watchdog_ms && (last_ping_ms < 0 || now_ms - last_ping_ms >= watchdog_ms);
}

void bridge_notify_watchdog_ping(int64_t now_ms)
{
    last_ping_ms = now_ms;
    notify_send("WATCHDOG=1");
}
