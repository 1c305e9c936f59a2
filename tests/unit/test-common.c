/* Status strings and version queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

static void strerror_never_null(void **state)
{
    (void)state;
    for (int code = -200; code <= 5; code++) {
        const char *s = aioe_strerror(code);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
    }
    assert_string_equal(aioe_strerror(12345), "unknown error");
    assert_string_equal(aioe_strerror(AIOE_OK), "success");
}

static void strerror_codes_are_distinct(void **state)
{
    (void)state;
    for (int a = AIOE_ERR_INTERNAL; a <= AIOE_OK; a++)
        for (int b = a + 1; b <= AIOE_OK; b++)
            assert_string_not_equal(aioe_strerror(a), aioe_strerror(b));
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(aioe_version(), AIOE_VERSION_STRING);
    assert_int_equal(aioe_version_number(), AIOE_VERSION_NUMBER);
}

static void free_null_is_noop(void **state)
{
    (void)state;
    aioe_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_never_null),
        cmocka_unit_test(strerror_codes_are_distinct),
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(free_null_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
