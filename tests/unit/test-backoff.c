/* Reconnect backoff schedule with an injected random source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static uint32_t fixed_rng(void *ctx)
{
    return *(uint32_t *)ctx;
}

static void schedule_doubles_from_128ms_to_60s(void **state)
{
    (void)state;
    uint32_t mid = 0x80000000u; /* factor 1.0 */
    aioe_backoff b;
    aioe_backoff_init(&b, 128, 60000);
    uint32_t expect[] = { 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
                          32768, 60000, 60000, 60000 };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_int_equal(aioe_backoff_next(&b, fixed_rng, &mid), expect[i]);
    aioe_backoff_reset(&b);
    assert_int_equal(aioe_backoff_next(&b, fixed_rng, &mid), 128);
}

static void jitter_stays_within_20_percent(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 12; a++) {
        uint32_t lo = aioe_backoff_delay(128, 60000, a, 0);
        uint32_t hi = aioe_backoff_delay(128, 60000, a, UINT32_MAX);
        uint32_t base = aioe_backoff_delay(128, 60000, a, 0x80000000u);
        assert_true(lo <= base && base <= hi);
        assert_true(lo >= base * 8 / 10 - 1);
        assert_true(hi <= 60000);
        if (base < 60000)
            assert_true(hi >= base * 12 / 10 - 2);
    }
    /* the first retry is "about 128 ms" */
    assert_in_range(aioe_backoff_delay(128, 60000, 0, 0), 102, 103);
    assert_in_range(aioe_backoff_delay(128, 60000, 0, UINT32_MAX), 153, 154);
}

static void cap_holds_for_huge_attempts(void **state)
{
    (void)state;
    assert_true(aioe_backoff_delay(128, 60000, 1000, UINT32_MAX) <= 60000);
    assert_true(aioe_backoff_delay(128, 60000, 1000, 0) >= 48000);
    assert_int_equal(aioe_backoff_delay(0, 0, 0, 0), 1);
}

static void default_rng_varies(void **state)
{
    (void)state;
    uint32_t a = aioe_backoff_default_rng(NULL);
    int same = 0;
    for (int i = 0; i < 10; i++)
        same += aioe_backoff_default_rng(NULL) == a;
    assert_true(same < 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schedule_doubles_from_128ms_to_60s),
        cmocka_unit_test(jitter_stays_within_20_percent),
        cmocka_unit_test(cap_holds_for_huge_attempts),
        cmocka_unit_test(default_rng_varies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
