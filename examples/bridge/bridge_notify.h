/* aioe-bridge's systemd notifications (sd_notify, docs/operations.md):
 * READY=1 once every instance has connected both sides the first time,
 * STATUS= lines, WATCHDOG=1 at half of WATCHDOG_USEC while the bridge is
 * healthy, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 at the drain.
 * Every call is a no-op when the bridge is built without libsystemd
 * (meson option systemd) or runs without NOTIFY_SOCKET. Main thread only.
 * Example code. */
#ifndef AIOE_BRIDGE_NOTIFY_H
#define AIOE_BRIDGE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/** Reads WATCHDOG_USEC (and WATCHDOG_PID) once. */
void bridge_notify_init(void);

/** READY=1 with a STATUS= line (printf-style). */
void bridge_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A STATUS= line (printf-style). */
void bridge_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** RELOADING=1 (with MONOTONIC_USEC) and a STATUS= line. */
void bridge_notify_reloading(void);

/** STOPPING=1 and a STATUS= line. */
void bridge_notify_stopping(void);

/** True when systemd wants a watchdog ping and half of WATCHDOG_USEC has
 *  passed since the last one at @p now_ms (CLOCK_MONOTONIC). */
bool bridge_notify_watchdog_due(int64_t now_ms);

/** WATCHDOG=1 (call only after a health check found the bridge healthy:
 *  a bridge that stays unhealthy is then restarted by systemd). */
void bridge_notify_watchdog_ping(int64_t now_ms);

#endif /* AIOE_BRIDGE_NOTIFY_H */
