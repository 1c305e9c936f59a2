/* aioe-bridge's log lines: a UTC timestamp and a level on every line,
 * as text or as one JSON object per line (--log-format json). Every line
 * is written with one call, so lines from different threads never mix.
 * Example code. */
#ifndef AIOE_BRIDGE_LOG_H
#define AIOE_BRIDGE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <aioendpoint/aioendpoint.h>

/** Chooses JSON lines (true) or text (false, the default). Call before
 *  any thread logs. */
void bridge_log_set_json(bool json);

/** Lines above @p lvl are not written (default AIOE_LOG_INFO). */
void bridge_log_set_level(aioe_log_level lvl);

/**
 * Writes one line to stderr. @p instance: the instance's name or NULL for
 * the process; @p msg: the text (all borrowed for the call). Text form:
 * "2026-12-07T12:00:00.123Z aioe-bridge: NAME: LEVEL: MSG"; JSON form:
 * {"ts":...,"level":...,"instance":...,"msg":...}.
 */
void bridge_log_line(aioe_log_level lvl, const char *instance, const char *msg);

/** printf-style bridge_log_line() for the process (no instance). */
void bridge_log(aioe_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** vprintf-style bridge_log(). */
void bridge_log_v(aioe_log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif /* AIOE_BRIDGE_LOG_H */
