/* bench-cloudevents: nanoseconds per message of the CloudEvents stage, and
 * heap allocations per message, on a realistic property set (6 CloudEvents
 * attributes + 3 ordinary user properties).
 *
 *   bench-cloudevents [iterations [name-filter]]   (default 2000000, all)
 *
 * Allocations are counted by defining malloc/calloc/realloc in this
 * executable: the library's calls (it is linked statically here, so the
 * internal clock/UUID hook is reachable) and libuuid's resolve to these
 * definitions and are forwarded to glibc's __libc_* implementations.
 *
 * One scenario replaces libuuid with a stub through the internal hook, to
 * separate the stage's own cost from uuid_generate_random()'s, which makes
 * several system calls per UUID (getrandom, getpid, getuid, ...).
 * Benchmarks are not tests: nothing here asserts a timing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid/uuid.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"

/* ---- allocation counter -------------------------------------------- */

#if defined(__GLIBC__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
#define HAVE_COUNTER 1
#else
#define HAVE_COUNTER 0
#endif

static volatile unsigned long long n_allocs;

#if HAVE_COUNTER
void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

/* ---- timing ---------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define P(n, v) {(n), sizeof(n) - 1, (v), sizeof(v) - 1}

static const aioe_user_property event_props[] = {
    P("specversion", "1.0"),
    P("type", "ms.aio.telemetry"),
    P("source", "aio://mycluster/myoven"),
    P("id", "A234-1234-1234"),
    P("subject", "aio/myoven/telemetry/temperature"),
    P("time", "2018-04-05T17:31:00Z"),
    P("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    P("site", "fabrikam-plant-7"),
    P("line", "3"),
};
static const aioe_user_property plain_props[] = {
    P("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    P("site", "fabrikam-plant-7"),
    P("line", "3"),
};
static const char content_type[] = "application/json";
static const char topic[] = "azure-iot-operations/data/oven/telemetry";

typedef struct scenario {
    const char *name;
    aioe_cloud_event_attributes mode;
    const char *out_content_type;
    const char *out_schema;
    const aioe_user_property *props;
    size_t n_props;
    aioe_cloudevents_outcome expect;
    bool stub_uuid;
} scenario;

static void stub_uuid(unsigned char b[16], void *ud)
{
    unsigned long long *counter = ud;
    ++*counter;
    memset(b, 0, 16);
    memcpy(b, counter, sizeof *counter);
    b[6] = 0x40; /* version 4 */
    b[8] = 0x80; /* variant 10 */
}

static void real_now(struct timespec *ts, void *ud)
{
    (void)ud;
    clock_gettime(CLOCK_REALTIME, ts);
}

static volatile size_t sink;

static int run(const scenario *sc, long iterations)
{
    aioe_cloudevents_options *o = NULL;
    aioe_cloudevents *ce = NULL;
    aioe_cloudevents_output *out = NULL;
    if (aioe_cloudevents_options_new(&o) != AIOE_OK ||
        aioe_cloudevents_options_set_mode(o, sc->mode) != AIOE_OK ||
        aioe_cloudevents_options_set_target_name(o, "bench-dataflow") != AIOE_OK ||
        aioe_cloudevents_options_set_output_content_type(o, sc->out_content_type) != AIOE_OK ||
        aioe_cloudevents_options_set_output_schema(o, sc->out_schema) != AIOE_OK ||
        aioe_cloudevents_new(&ce, o) != AIOE_OK || aioe_cloudevents_output_new(&out) != AIOE_OK) {
        fprintf(stderr, "%s: setup failed\n", sc->name);
        return 1;
    }
    aioe_cloudevents_options_free(o);
    unsigned long long uuid_counter = 0;
    if (sc->stub_uuid) {
        aioe_ce_hooks h = {real_now, stub_uuid, &uuid_counter};
        aioe_cloudevents_set_hooks(ce, &h);
    }

    aioe_cloudevents_outcome oc = 0;
    /* Warm-up (and correctness check of the scenario). */
    for (int i = 0; i < 1000; i++) {
        if (aioe_cloudevents_apply(ce, sc->props, sc->n_props, content_type,
                                   sizeof content_type - 1, topic, sizeof topic - 1, out,
                                   &oc) != AIOE_OK ||
            oc != sc->expect) {
            fprintf(stderr, "%s: unexpected outcome %s\n", sc->name,
                    aioe_cloudevents_outcome_name(oc));
            return 1;
        }
    }

    enum { RUNS = 5 };
    double total = 0, best = 1e300;
    unsigned long long allocs = 0;
    for (int r = 0; r < RUNS; r++) {
        unsigned long long a0 = n_allocs;
        double t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            aioe_cloudevents_apply(ce, sc->props, sc->n_props, content_type,
                                   sizeof content_type - 1, topic, sizeof topic - 1, out, &oc);
            size_t n;
            aioe_cloudevents_output_properties(out, &n);
            sink += n;
        }
        double per = (now_ns() - t0) / (double)iterations;
        allocs += n_allocs - a0;
        total += per;
        if (per < best) best = per;
    }
    size_t n_out;
    aioe_cloudevents_output_properties(out, &n_out);
    printf("%-44s %8.1f ns/msg mean (min %.1f) | %zu props in, %zu out | "
           "heap allocations: %llu in %ld msgs (%.3f/msg)%s\n",
           sc->name, total / RUNS, best, sc->n_props, n_out, allocs,
           (long)RUNS * iterations, (double)allocs / ((double)RUNS * (double)iterations),
           HAVE_COUNTER ? "" : " [counter unavailable]");
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
    return 0;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 2000000;
    if (iterations <= 0) iterations = 2000000;
    const scenario scenarios[] = {
        {"Propagate, 6 attrs + 3 props, ct+schema set", AIOE_CLOUD_EVENTS_PROPAGATE,
         "application/json", "sr://fabrikam-schemas/out#2.0.0", event_props, 9,
         AIOE_CE_PROPAGATED},
        {"Propagate, 6 attrs + 3 props, nothing set", AIOE_CLOUD_EVENTS_PROPAGATE, NULL, NULL,
         event_props, 9, AIOE_CE_PROPAGATED},
        {"Propagate, not an event (3 props)", AIOE_CLOUD_EVENTS_PROPAGATE, "application/json",
         NULL, plain_props, 3, AIOE_CE_UNCHANGED},
        {"CreateOrRemap, 6 attrs + 3 props (remap)", AIOE_CLOUD_EVENTS_CREATE_OR_REMAP,
         "application/json", "sr://fabrikam-schemas/out#2.0.0", event_props, 9,
         AIOE_CE_CREATED_OR_REMAPPED},
        {"CreateOrRemap, 3 props (create all + uuid/time)", AIOE_CLOUD_EVENTS_CREATE_OR_REMAP,
         "application/json", "sr://fabrikam-schemas/out#2.0.0", plain_props, 3,
         AIOE_CE_CREATED_OR_REMAPPED, false},
        {"CreateOrRemap, 3 props, create all, stub uuid", AIOE_CLOUD_EVENTS_CREATE_OR_REMAP,
         "application/json", "sr://fabrikam-schemas/out#2.0.0", plain_props, 3,
         AIOE_CE_CREATED_OR_REMAPPED, true},
    };
    printf("bench-cloudevents: %ld iterations x 5 runs per scenario, libaioendpoint %s\n",
           iterations, aioe_version());
    /* Show that the counter sees the library's allocations at all. */
    unsigned long long before = n_allocs;
    aioe_cloudevents_output *probe = NULL;
    if (aioe_cloudevents_output_new(&probe) != AIOE_OK) return 1;
    aioe_cloudevents_output_free(probe);
    printf("allocation counter check: aioe_cloudevents_output_new made %llu allocations "
           "(expected 2)\n", n_allocs - before);
    const char *filter = argc > 2 ? argv[2] : NULL;
    if (!filter || strstr("uuid_generate_random", filter)) {
        /* Reference: libuuid alone, as the stage calls it. */
        uuid_t u;
        char str[37];
        long n = iterations / 4 + 1;
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            uuid_generate_random(u);
            uuid_unparse_lower(u, str);
            sink += (size_t)str[0];
        }
        printf("%-44s %8.1f ns/call (reference, not the stage)\n",
               "uuid_generate_random + uuid_unparse_lower", (now_ns() - t0) / (double)n);
    }
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if ((!filter || strstr(scenarios[i].name, filter)) && run(&scenarios[i], iterations))
            return 1;
    return 0;
}
