/* Exponential backoff with +/-20 % jitter (why jitter: many sessions that
 * lost the same broker must not reconnect in lock-step). */
#include <stdint.h>
#include <time.h>

#include "backoff.h"

void aioe_backoff_init(aioe_backoff *b, uint32_t initial_ms, uint32_t max_ms)
{
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
    b->attempt = 0;
}

void aioe_backoff_reset(aioe_backoff *b)
{
    b->attempt = 0;
}

uint32_t aioe_backoff_delay(uint32_t initial_ms, uint32_t max_ms,
                            unsigned attempt, uint32_t random)
{
    if (initial_ms == 0)
        initial_ms = 1;
    if (max_ms < initial_ms)
        max_ms = initial_ms;
    uint64_t base = initial_ms;
    for (unsigned i = 0; i < attempt && base < max_ms; i++)
        base *= 2;
    if (base > max_ms)
        base = max_ms;
    /* factor in [0.8, 1.2): 0.8 + 0.4 * random / 2^32 */
    uint64_t spread = (base * 4 / 10) * (uint64_t)random >> 32;
    uint64_t d = base - base * 2 / 10 + spread;
    if (d > max_ms)
        d = max_ms;
    if (d == 0)
        d = 1;
    return (uint32_t)d;
}

uint32_t aioe_backoff_next(aioe_backoff *b, aioe_rng_fn rng, void *rng_ctx)
{
    uint32_t r = rng ? rng(rng_ctx) : aioe_backoff_default_rng(NULL);
    uint32_t d = aioe_backoff_delay(b->initial_ms, b->max_ms, b->attempt, r);
    if (b->attempt < 64)
        b->attempt++;
    return d;
}

uint32_t aioe_backoff_default_rng(void *ctx)
{
    static _Thread_local uint64_t state;
    (void)ctx;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                (uint64_t)(uintptr_t)&state;
        if (state == 0)
            state = 0x9e3779b97f4a7c15ull;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 32);
}
