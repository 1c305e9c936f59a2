/* Shared by the raw-Paho reference bridges (bench-paho-bridge.c,
 * bench-paho-sync-bridge.c): the per-message topic rewrite and the
 * shutdown wait. */
#ifndef AIOE_BENCH_PAHO_REF_H
#define AIOE_BENCH_PAHO_REF_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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

/* Blocks SIGINT and SIGTERM in the calling thread; call first in main(),
 * before Paho starts threads, so they inherit the mask. */
static inline void ref_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Waits for SIGINT or SIGTERM (no race with a signal that came earlier). */
static inline void ref_wait_stop(const sigset_t *set)
{
    int sig;
    sigwait(set, &sig);
}

#endif
