/* The CloudEvents stage's validators, driven directly: URI-reference,
 * absolute URI, RFC 3339 date-time, CloudEvents String, and the time
 * format the stage writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#include "cloudevents_internal.h"
#include "cloudevents-fixture.h"

/* ---- validators ---------------------------------------------------- */

static void uri_reference_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "aio://mycluster/myoven", "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "/cloudevents/spec/pull/123", "/sensors/tn-1234567/alerts", "1-555-123-4567",
        "a", "./x", "../y:z", "?q=1", "#frag", "//host", "//user:pw@host:8080/p",
        "https://[::1]:8883/x", "https://[2001:db8::7]/", "http://[v7.fe80::a+en1]/",
        "http://192.168.0.1:1/", "s://h/%41%2f", "x:", "a+b-c.d:rest", "//h:", "/a//b",
        "aio://my-target", "http://h/p?x=/y?#f/?",
    };
    static const char *const bad[] = {
        "not a uri", "http://exa mple.com", "%4", "%zz", "x%", ":foo", "1:x", "a/b\\c",
        "<x>", "\"q\"", "http://[::1", "http://[zz]/", "http://[]/", "http://host:80a/",
        "http://a@b@c/", "caf\xc3\xa9", "http://h/\x01", "{x}", "a|b", "http://[v.x]/",
        "http://[v1.]/", "a#b#c", "^", "http://[::1]x/", "http://[::1]:8a/",
    };
    for (size_t i = 0; i < NPROPS(good); i++) {
        if (!aioe_ce_is_uri_reference(good[i], strlen(good[i])))
            fail_msg("should be a URI-reference: %s", good[i]);
    }
    for (size_t i = 0; i < NPROPS(bad); i++) {
        if (aioe_ce_is_uri_reference(bad[i], strlen(bad[i])))
            fail_msg("should not be a URI-reference: %s", bad[i]);
    }
    /* The length is authoritative: a triplet cut by it is invalid. */
    assert_false(aioe_ce_is_uri_reference("%41", 2));
    assert_true(aioe_ce_is_uri_reference("%41", 3));
    /* Through the stage: source is checked with this rule. */
    aioe_cloudevents *ce = make(PROPAGATE, NULL);
    aioe_cloudevents_output *out = new_out();
    aioe_user_property in[] = {P("specversion", "1.0"), P("type", "t"), P("id", "1"),
                               P("source", "1-555-123-4567")};
    assert_int_equal(aioe_cloudevents_apply(ce, in, 4, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_outcome(out), AIOE_CE_PROPAGATED);
    in[3] = (aioe_user_property)P("source", "1:x");
    assert_int_equal(aioe_cloudevents_apply(ce, in, 4, NULL, 0, NULL, 0, out, NULL), AIOE_OK);
    assert_int_equal(aioe_cloudevents_output_invalid_reason(out),
                     AIOE_CE_REASON_NOT_URI_REFERENCE);
    aioe_cloudevents_output_free(out);
    aioe_cloudevents_free(ce);
}

static void absolute_uri_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "sr://fabrikam-schemas/123123123234234234234234#1.0.0", "https://example.com/s.json",
        "urn:example:schema", "x:", "http://h?q",
    };
    static const char *const bad[] = {
        "/schemas/1", "schemas/1.json", "//host/s", "#1.0.0", "1x://h", "sr://a b", "",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_absolute_uri(good[i], strlen(good[i])))
            fail_msg("should be an absolute URI: %s", good[i]);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_absolute_uri(bad[i], strlen(bad[i])))
            fail_msg("should not be an absolute URI: %s", bad[i]);
}

static void rfc3339_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "2018-04-05T17:31:00Z", "2018-04-05t17:31:00z", "2018-04-05T17:31:00.1Z",
        "2018-04-05T17:31:00.123456789+05:30", "2024-02-29T00:00:00-00:00",
        "2000-02-29T23:59:59+23:59", "2016-12-31T23:59:60Z", "0001-01-01T00:00:00Z",
        "1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00",
    };
    static const char *const bad[] = {
        "", "2018-04-05", "2018-04-05 17:31:00Z", "2018-04-05T17:31:00", "2018-04-05T17:31Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-13-01T00:00:00Z",
        "2018-00-01T00:00:00Z", "2018-04-31T00:00:00Z", "2018-04-00T00:00:00Z",
        "2018-04-05T24:00:00Z", "2018-04-05T17:60:00Z", "2018-04-05T17:31:61Z",
        "2018-04-05T17:31:00.Z", "2018-04-05T17:31:00+5:30", "2018-04-05T17:31:00+05:60",
        "2018-04-05T17:31:00+24:00", "2018-4-05T17:31:00Z", "2018-04-05T17:31:00ZZ",
        "2018-04-05T17:31:00+05:30x", "2018-04-05T17:31:00+0530", "+2018-04-05T17:31:00Z",
        "2018-04-05T17:31:00,5Z", "2018-04-05T17:31:00 Z", "１９８５-04-12T23:20:50Z",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_rfc3339(good[i], strlen(good[i])))
            fail_msg("should be RFC 3339: %s", good[i]);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_rfc3339(bad[i], strlen(bad[i])))
            fail_msg("should not be RFC 3339: %s", bad[i]);
    /* The length is authoritative: a valid prefix is not enough. */
    assert_false(aioe_ce_is_rfc3339("2018-04-05T17:31:00Z", 19));
}

static void string_rule(void **s)
{
    (void)s;
    static const char *const good[] = {
        "plain", "with space", "<weird>|\"'{}[]\\`~", "caf\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\xc2\xa0", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbd",
        /* 8 bytes and longer: the word-at-a-time path and its tail */
        "abcdefgh", "abcdefghijk", "aio/myoven/telemetry/temperature", " ~~~~~~~~~~~~~~ ",
        "caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet", "01234567\xe2\x82\xac",
    };
    static const char *const bad[] = {
        "\x01", "a\x1f", "\x7f", "tab\t", "nl\n", "\xc2\x85" /* U+0085 */, "\xc2\x9f",
        "\xff", "\xc0\x80" /* overlong NUL */, "\xe0\x80\xaf", "\xe2\x82" /* truncated */,
        "\x80", "\xed\xa0\x80" /* surrogate */, "\xef\xbf\xbe" /* U+FFFE */,
        "\xef\xb7\x90" /* U+FDD0 */, "\xf0\x9f\xbf\xbf" /* U+1FFFF */, "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        /* 8 bytes and longer, the bad byte in a word or in the tail */
        "abcdefg\x01", "\x1f" "bcdefgh", "abc\x7f" "defgh", "abcdefghijklmno\x01",
        "abcdefghij\x7f", "0123456789abcdef\xc2\x85", "abcdefghi\xff", "abcdefgh\x80",
        "\xc2\x9f" "abcdefghijklmn",
    };
    for (size_t i = 0; i < NPROPS(good); i++)
        if (!aioe_ce_is_string(good[i], strlen(good[i])))
            fail_msg("should be a CloudEvents String: case %zu", i);
    for (size_t i = 0; i < NPROPS(bad); i++)
        if (aioe_ce_is_string(bad[i], strlen(bad[i])))
            fail_msg("should not be a CloudEvents String: case %zu", i);
    /* An embedded NUL (lengths are explicit) is a control character. */
    assert_false(aioe_ce_is_string("a\0b", 3));
}

static void time_formatting(void **s)
{
    (void)s;
    char buf[AIOE_CE_TIME_LEN + 1];
    struct timespec ts = {0, 0};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    ts = (struct timespec){-1, 999999999};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    ts = (struct timespec){1709164800, 5000}; /* 2024-02-29 */
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "2024-02-29T00:00:00.000005Z");
    ts = (struct timespec){253402300800LL, 0}; /* 10000-01-01 */
    assert_false(aioe_ce_format_time(&ts, buf));
    ts = (struct timespec){253402300799LL, 0};
    assert_true(aioe_ce_format_time(&ts, buf));
    assert_string_equal(buf, "9999-12-31T23:59:59.000000Z");
    /* Agrees with gmtime_r over a spread of instants. */
    srand(1234);
    for (int i = 0; i < 20000; i++) {
        time_t t = (time_t)(((int64_t)rand() << 16 ^ rand()) % 32503680000LL);
        ts = (struct timespec){t, 123456789};
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.123456Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_true(aioe_ce_format_time(&ts, buf));
        assert_string_equal(buf, want);
        assert_true(aioe_ce_is_rfc3339(buf, strlen(buf)));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_reference_rule),
        cmocka_unit_test(absolute_uri_rule),
        cmocka_unit_test(rfc3339_rule),
        cmocka_unit_test(string_rule),
        cmocka_unit_test(time_formatting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
