/* Internals of the CloudEvents stage: the test hooks for clock and UUID,
 * and the pure validators, exposed so unit tests can drive them directly.
 * Nothing here is exported from the shared library. */
#ifndef AIOE_CLOUDEVENTS_INTERNAL_H
#define AIOE_CLOUDEVENTS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aioendpoint/cloudevents.h"

/* Longest generated time: "YYYY-MM-DDTHH:MM:SS.ffffffZ" is 27 bytes. */
#define AIOE_CE_TIME_LEN 27
/* A lower-case UUID string: 36 bytes. */
#define AIOE_CE_UUID_LEN 36

/* Where generated `time` and `id` come from. The defaults are
 * clock_gettime(CLOCK_REALTIME) and uuid_generate_random(); tests put in
 * fixed ones. Both are called from aioe_cloudevents_apply() on the
 * caller's thread and must be thread-safe if the stage is shared. */
typedef struct aioe_ce_hooks {
    void (*now)(struct timespec *ts, void *user_data);
    void (*uuid)(unsigned char bytes[16], void *user_data);
    void *user_data;
} aioe_ce_hooks;

/* Replaces the hooks of a stage (NULL restores the defaults). Call it
 * before the stage is shared: the stage is otherwise immutable. */
void aioe_cloudevents_set_hooks(aioe_cloudevents *ce, const aioe_ce_hooks *hooks);

/* RFC 3986 URI-reference (section 4.1): a URI or a relative reference. */
bool aioe_ce_is_uri_reference(const char *s, size_t len);
/* RFC 3986 URI with a scheme (section 3). Unlike the strict
 * `absolute-URI` of section 4.3 a fragment is accepted, because the
 * schema-registry references AIO emits carry one
 * (`sr://fabrikam-schemas/123#1.0.0`). */
bool aioe_ce_is_absolute_uri(const char *s, size_t len);
/* RFC 3339 section 5.6 `date-time`; "T" and "Z" in either case. */
bool aioe_ce_is_rfc3339(const char *s, size_t len);
/* A CloudEvents `String`: well-formed UTF-8 without U+0000-U+001F,
 * U+007F-U+009F, surrogates or noncharacters. */
bool aioe_ce_is_string(const char *s, size_t len);
/* Structured content mode: media type `application/cloudevents` or
 * `application/cloudevents-batch`, with any `+suffix` and parameters,
 * compared case-insensitively. */
bool aioe_ce_is_structured_content_type(const char *s, size_t len);

/* Writes ts as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, AIOE_CE_TIME_LEN bytes,
 * plus a NUL). Returns false for a year outside 0000..9999. */
bool aioe_ce_format_time(const struct timespec *ts, char buf[AIOE_CE_TIME_LEN + 1]);

#endif /* AIOE_CLOUDEVENTS_INTERNAL_H */
