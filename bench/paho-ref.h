/* Shared by the raw-Paho reference bridges (bench-paho-bridge.c,
 * bench-paho-sync-bridge.c): the topic rewrite both do per message. */
#ifndef AIOE_BENCH_PAHO_REF_H
#define AIOE_BENCH_PAHO_REF_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* bench/in/X -> out/X into out (NUL-terminated); false when the topic is
 * not under bench/in/ or does not fit. topic_len 0 means NUL-terminated
 * (Paho's convention). */
static inline bool ref_out_topic(const char *topic, int topic_len, char *out, size_t cap)
{
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    const size_t skip = sizeof "bench/in/" - 1;
    if (tl < skip || tl - skip + 5 > cap || memcmp(topic, "bench/in/", skip) != 0)
        return false;
    memcpy(out, "out/", 4);
    memcpy(out + 4, topic + skip, tl - skip);
    out[4 + tl - skip] = 0;
    return true;
}

#endif
