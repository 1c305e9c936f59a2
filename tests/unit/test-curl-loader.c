/* libcurl is loaded only when a managed-identity token is fetched: a
 * process that parses endpoints and runs other sessions never maps it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#include "curl_loader.h"

static bool libcurl_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof line, f))
        found |= strstr(line, "libcurl") != NULL;
    fclose(f);
    return found;
}

static void loaded_on_first_use(void **state)
{
    (void)state;
    static const char yaml[] =
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: DataflowEndpoint\nmetadata:\n  name: ep\n"
        "spec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: localhost:1883\n";
    aioe_parse_result *res = NULL;
    assert_int_equal(aioe_parse_buffer(yaml, sizeof yaml - 1, NULL, NULL, &res), AIOE_OK);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "i", NULL),
                     AIOE_OK);
    assert_false(libcurl_mapped());

    const char *why = "untouched";
    const aioe_curl_api *api = aioe_curl(&why);
    assert_non_null(api);
    assert_string_equal(why, "untouched"); /* only set on failure */
    assert_true(libcurl_mapped());
    assert_ptr_equal(aioe_curl(NULL), api); /* loaded once */
    char *esc = api->easy_escape(NULL, "a b&c", 0);
    assert_string_equal(esc, "a%20b%26c");
    api->free(esc);

    aioe_session_free(s);
    aioe_parse_result_free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loaded_on_first_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
