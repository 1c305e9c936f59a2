/* bench-transform: nanoseconds per message of the BuiltInTransformation
 * stage (parse the JSON payload, filter, map, serialize), with the
 * public API only.
 *
 *   bench-transform [iterations [name-filter]]   (default 1000000, all)
 *
 * The goal (issue #20) is a 3-field map on a 200-byte JSON payload under
 * 2 us per message. The first rows are floors: the JSON libraries alone
 * on the same payload (name filter "json-c" or "cJSON"). Benchmarks are
 * not tests: nothing here asserts a timing; docs/benchmarks.md records the
 * figures and the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <json-c/json.h>

#include <aioendpoint/aioendpoint.h>

/* 200 bytes: a typical telemetry record */
static const char payload[] =
    "{\"deviceId\":\"thermostat-0042\",\"timestamp\":\"2026-12-07T10:15:30.123Z\","
    "\"temperature\":{\"Value\":21.75,\"Unit\":\"C\"},\"humidity\":{\"Value\":48.2},"
    "\"site\":\"plant-7\",\"line\":\"L3\",\"status\":\"ok\",\"seq\":12345678,\"v\":1}";

typedef struct scenario {
    const char *name;
    void (*setup)(aioe_transform *t);
} scenario;

#define ADD_MAP(t, in, out, ex) \
    do { const char *i_[] = { in }; \
         if (aioe_transform_add_map(t, i_, 1, out, ex) != AIOE_OK) abort(); } while (0)

static void map3(aioe_transform *t)
{
    ADD_MAP(t, "deviceId", "id", NULL);
    ADD_MAP(t, "temperature.Value", "TemperatureF", "cToF($1)");
    ADD_MAP(t, "humidity.Value", "Humidity", NULL);
}

static void map3_copy(aioe_transform *t)
{
    ADD_MAP(t, "deviceId", "id", NULL);
    ADD_MAP(t, "temperature.Value", "t", NULL);
    ADD_MAP(t, "humidity.Value", "h", NULL);
}

static void filter_only(aioe_transform *t)
{
    const char *in[] = { "temperature.Value", "humidity.Value" };
    if (aioe_transform_add_filter(t, in, 2, "$1 * $2 >= 100000") != AIOE_OK)
        abort();
}

static void pass_through(aioe_transform *t)
{
    ADD_MAP(t, "*", "*", NULL);
    ADD_MAP(t, "temperature.Value", "TemperatureF", "cToF($1)");
}

static const scenario scenarios[] = {
    { "map 3 fields (1 with cToF) on 200 B", map3 },
    { "map 3 fields, copies only, on 200 B", map3_copy },
    { "filter only (passes), payload unchanged", filter_only },
    { "'*' -> '*' plus one specialization", pass_through },
};

/* CPU time of this thread: on a machine shared with other jobs the wall
 * clock also counts the time spent waiting for a core. Both are shown. */
static double now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The floors: a JSON library alone on the same payload, in the same
 * rounds. json-c read payloads before cJSON did; cJSON reads them now
 * (docs/transform.md); cJSON's own writer is shown to say why the output
 * is still written by json-c. */
typedef enum floor_kind { JSON_C_PARSE, CJSON_PARSE, CJSON_PARSE_PRINT } floor_kind;

static void floor_row(floor_kind k, long iters)
{
    static const char *const names[] = {
        "json-c alone: parse + free the payload",
        "cJSON alone: parse + free the payload",
        "cJSON: parse + print (prealloc) + free",
    };
    json_tokener *tok = json_tokener_new();
    char out[512];
    size_t len = strlen(payload);
    double best = 1e18, sum = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < iters; i++) {
            if (k == JSON_C_PARSE) {
                json_tokener_reset(tok);
                json_object_put(json_tokener_parse_ex(tok, payload, (int)len));
                continue;
            }
            cJSON *c = cJSON_ParseWithLengthOpts(payload, len, NULL, 0);
            if (!c || (k == CJSON_PARSE_PRINT &&
                       !cJSON_PrintPreallocated(c, out, (int)sizeof out, 0)))
                abort();
            cJSON_Delete(c);
        }
        double ns = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)iters;
        sum += ns;
        if (ns < best)
            best = ns;
    }
    printf("%-42s CPU %5.0f ns/message (best round %4.0f)\n", names[k], sum / 5, best);
    json_tokener_free(tok);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    printf("payload %zu bytes, %ld messages x 5 rounds\n", strlen(payload), iters);
    if (!only || strstr("json-c", only))
        floor_row(JSON_C_PARSE, iters);
    if (!only || strstr("cJSON", only)) {
        floor_row(CJSON_PARSE, iters);
        floor_row(CJSON_PARSE_PRINT, iters);
    }
    for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
        if (only && !strstr(scenarios[s].name, only))
            continue;
        aioe_transform *t = NULL;
        aioe_transform_message *in = NULL, *out = NULL;
        if (aioe_transform_new(&t) || aioe_transform_message_new(&in) ||
            aioe_transform_message_new(&out))
            return 1;
        scenarios[s].setup(t);
        aioe_transform_message_set_topic(in, "thermostats/42/telemetry", 24);
        aioe_transform_message_set_payload(in, payload, strlen(payload));
        aioe_transform_outcome oc;
        for (long i = 0; i < iters / 10; i++) /* warm-up */
            aioe_transform_apply(t, in, out, &oc);
        size_t olen = 0;
        const char *o = aioe_transform_message_payload(out, &olen);
        double best = 1e18, sum = 0, wall = 0;
        for (int r = 0; r < 5; r++) {
            double t0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
            for (long i = 0; i < iters; i++)
                if (aioe_transform_apply(t, in, out, &oc) != AIOE_OK ||
                    oc != AIOE_TRANSFORM_PASSED)
                    return 1;
            double ns = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)iters;
            wall += (now_ns(CLOCK_MONOTONIC) - w0) / (double)iters;
            sum += ns;
            if (ns < best)
                best = ns;
        }
        printf("%-42s CPU %5.0f ns/message (best round %4.0f), wall %5.0f  -> %.*s\n",
               scenarios[s].name, sum / 5, best, wall / 5, (int)(olen > 50 ? 50 : olen), o);
        aioe_transform_message_free(in);
        aioe_transform_message_free(out);
        aioe_transform_free(t);
    }
    return 0;
}
