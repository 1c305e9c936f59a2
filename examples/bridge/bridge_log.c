/* aioe-bridge's log lines (bridge_log.h). JSON strings are written by
 * json-c, which escapes them. */
#include "bridge_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

static atomic_bool g_json;
static atomic_int g_level = AIOE_LOG_INFO;

void bridge_log_set_level(aioe_log_level lvl)
{
    atomic_store(&g_level, (int)lvl);
}

void bridge_log_set_json(bool json)
{
    atomic_store(&g_json, json);
}

static const char *level_name(aioe_log_level lvl)
{
    switch (lvl) {
    case AIOE_LOG_ERROR: return "error";
    case AIOE_LOG_WARNING: return "warning";
    case AIOE_LOG_INFO: return "info";
    case AIOE_LOG_DEBUG: return "debug";
    }
    return "info";
}

void bridge_log_line(aioe_log_level lvl, const char *instance, const char *msg)
{
    if ((int)lvl > atomic_load(&g_level))
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);

    if (!atomic_load(&g_json)) {
        fprintf(stderr, "%s aioe-bridge: %s%s%s: %s\n", stamp, instance ? instance : "",
                instance ? ": " : "", level_name(lvl), msg);
        return;
    }
    json_object *o = json_object_new_object();
    if (!o) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"error\",\"msg\":\"out of memory\"}\n", stamp);
        return;
    }
    json_object_object_add(o, "ts", json_object_new_string(stamp));
    json_object_object_add(o, "level", json_object_new_string(level_name(lvl)));
    if (instance)
        json_object_object_add(o, "instance", json_object_new_string(instance));
    json_object_object_add(o, "msg", json_object_new_string(msg));
    fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

void bridge_log_v(aioe_log_level lvl, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    bridge_log_line(lvl, NULL, line);
}

void bridge_log(aioe_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bridge_log_v(lvl, fmt, ap);
    va_end(ap);
}
