/* Reconnect backoff schedule: pure, the random source is injected. */
#ifndef AIOE_BACKOFF_H
#define AIOE_BACKOFF_H

#include <stdint.h>

/* Returns a uniformly distributed 32-bit value. */
typedef uint32_t (*aioe_rng_fn)(void *ctx);

typedef struct aioe_backoff {
    uint32_t initial_ms;  /* delay before the first retry, before jitter */
    uint32_t max_ms;      /* cap, after jitter */
    unsigned attempt;     /* retries scheduled since the last reset */
} aioe_backoff;

void aioe_backoff_init(aioe_backoff *b, uint32_t initial_ms, uint32_t max_ms);
/* Forget past failures (call on a successful connect). */
void aioe_backoff_reset(aioe_backoff *b);
/* Delay for retry number `attempt` (0-based) given one random value:
 * base = min(max, initial * 2^attempt), then +/-20 % jitter, clamped to
 * [1, max]. Pure. */
uint32_t aioe_backoff_delay(uint32_t initial_ms, uint32_t max_ms,
                            unsigned attempt, uint32_t random);
/* Delay for the next retry; advances the attempt counter. */
uint32_t aioe_backoff_next(aioe_backoff *b, aioe_rng_fn rng, void *rng_ctx);
/* Default random source: per-thread xorshift seeded from /dev/urandom-free
 * entropy (time and address); jitter needs no cryptographic quality. */
uint32_t aioe_backoff_default_rng(void *ctx);

#endif
