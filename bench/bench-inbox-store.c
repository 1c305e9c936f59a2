/* The inbox's store alone, no broker: append + read + acknowledge one
 * message of 64 bytes at a time, CPU per message.
 *
 *   bench-inbox-store [power]
 *
 * SIGKILL-safe mode (default, 500 000 messages) or power-loss mode (2 000
 * messages: one fdatasync each when one thread appends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "inbox/inbox.h"

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    bool power = argc > 1 && strcmp(argv[1], "power") == 0;
    char tmpl[] = "/tmp/aioe-bench-store-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        return 1;
    aioe__store *st;
    char err[256];
    aioe__store_config cfg = { .durability = power ? AIOE__DURABLE_POWER
                                                   : AIOE__DURABLE_PROCESS };
    if (aioe__store_open(&st, d, &cfg, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char payload[64];
    memset(payload, 'x', sizeof payload);
    aioe__rec_msg m = { .qos = 1, .topic = "bench/inbox", .topic_len = 11,
                        .payload = payload, .payload_len = sizeof payload,
                        .payload_format = -1 };
    unsigned char *buf = NULL;
    size_t cap = 0;
    int n = power ? 2000 : 500000;
    double c0 = cpu(), w0 = wall();
    for (int i = 0; i < n; i++) {
        uint64_t seq;
        aioe__rec_msg r;
        if (aioe__store_append(st, &m, &seq, NULL) != 0 ||
            aioe__store_read(st, seq, &buf, &cap, &r) != 0 || aioe__store_ack(st, seq) != 0)
            return 1;
    }
    double c1 = cpu(), w1 = wall();
    aioe__store_stats s;
    aioe__store_get_stats(st, &s);
    printf("%s: append+read+ack %.2f us CPU, %.2f us wall per message, %.0f msg/s, "
           "%llu fdatasync\n", power ? "power-loss" : "sigkill", (c1 - c0) * 1e6 / n,
           (w1 - w0) * 1e6 / n, n / (w1 - w0), (unsigned long long)s.syncs);
    free(buf);
    aioe__store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    return system(cmd) == 0 ? 0 : 1;
}
