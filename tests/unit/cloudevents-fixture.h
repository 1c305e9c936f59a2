/* Shared by the CloudEvents unit tests (test-cloudevents.c: both tables of
 * the endpoint documentation; test-cloudevents-stage.c: modes, ordinary
 * properties, arguments, threads; test-cloudevents-syntax.c: validators):
 * property literals, a full event, stages with fixed clock and UUID hooks,
 * and assertions on an output. */
#ifndef AIOE_TEST_CLOUDEVENTS_FIXTURE_H
#define AIOE_TEST_CLOUDEVENTS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <aioendpoint/aioendpoint.h>

#define P(n, v) {(n), sizeof(n) - 1, (v), sizeof(v) - 1}
#define NPROPS(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) (s), (sizeof(s) - 1)

static const char TOPIC[] = "factory/oven1/out";
#define FIXED_TIME_SEC 1795782896 /* 2026-11-27T12:34:56Z */
#define FIXED_TIME_NSEC 789012345L
static const char FIXED_TIME[] = "2026-11-27T12:34:56.789012Z";
static const char FIXED_UUID[] = "00010203-0405-0607-0809-0a0b0c0d0e0f";

typedef struct hook_calls {
    int now;
    int uuid;
} hook_calls;

typedef struct cfg {
    aioe_cloud_event_attributes mode;
    const char *target;
    const char *ct;
    const char *schema;
} cfg;

/* A complete event plus two ordinary user properties. */
#define FULL_EVENT                                                   \
    P("specversion", "1.0"), P("type", "ms.aio.telemetry"),          \
        P("source", "aio://mycluster/myoven"), P("id", "A234-1234-1234"), \
        P("subject", "aio/myoven/telemetry/temperature"),            \
        P("time", "2018-04-05T17:31:00Z"),                           \
        P("dataschema", "sr://fabrikam-schemas/123123123234234234234234#1.0.0")

static const cfg PROPAGATE = {AIOE_CLOUD_EVENTS_PROPAGATE, NULL, NULL, NULL};
static const cfg PROPAGATE_CFG = {AIOE_CLOUD_EVENTS_PROPAGATE, NULL, "application/json",
                                  "sr://out-schemas/42#2.0.0"};
static const cfg COR = {AIOE_CLOUD_EVENTS_CREATE_OR_REMAP, "my-target", NULL, NULL};
static const cfg COR_CFG = {AIOE_CLOUD_EVENTS_CREATE_OR_REMAP, "my-target",
                            "application/json", "sr://out-schemas/42#2.0.0"};

/* A stage with the fixed hooks; calls counts hook use. */
aioe_cloudevents *make(cfg c, hook_calls *calls);
aioe_cloudevents_output *new_out(void);
/* Value of the only property called name (malloc'd); fails if there are
 * several. Returns NULL when absent. */
char *value_of(const aioe_cloudevents_output *out, const char *name);
void assert_value(const aioe_cloudevents_output *out, const char *name,
                  const char *expected);
void assert_content_type(const aioe_cloudevents_output *out, const char *expected);
/* The output is exactly the input: same properties, same order, same
 * bytes, same content type pointer. */
void assert_unchanged(const aioe_cloudevents_output *out, const aioe_user_property *in,
                      size_t n, const char *ct, size_t ct_len);

typedef struct run {
    aioe_cloudevents *ce;
    aioe_cloudevents_output *out;
    hook_calls calls;
} run;
/* Applies CreateOrRemap (or config c) to `in` with the fixed hooks. */
run *cor_run(cfg c, const aioe_user_property *in, size_t n, const char *ct);
void run_free(run *r);
/* True when the output changed attribute a. */
bool changed(const run *r, aioe_cloudevents_attribute a);

#endif
