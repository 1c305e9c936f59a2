/* Shared helpers of the DataflowEndpoint parser tests (test-spec-endpoint.c,
 * test-spec-errors.c). */
#ifndef AIOE_TESTS_UNIT_SPEC_FIXTURE_H
#define AIOE_TESTS_UNIT_SPEC_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <aioendpoint/aioendpoint.h>

#include "spec_util.h"
#include "yaml_tree.h"

#define HEADER                                              \
    "apiVersion: connectivity.iotoperations.azure.com/v1\n" \
    "kind: DataflowEndpoint\n"                              \
    "metadata:\n"                                           \
    "  name: ep\n"                                          \
    "  namespace: azure-iot-operations\n"
#define MQTT HEADER "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"

/* ---- helpers ---------------------------------------------------------- */

static inline aioe_parse_result *parse(const char *yaml, int expect_rc)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(yaml, strlen(yaml), "test.yaml", NULL, &res);
    if (rc != expect_rc) {
        for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
            const aioe_parse_error *e = aioe_parse_result_error(res, i);
            print_error("  %u:%u %s: %s (%s)\n", e->line, e->column, e->path,
                        e->message, e->hint);
        }
    }
    assert_int_equal(rc, expect_rc);
    assert_non_null(res);
    return res;
}

/* Parses a document that must hold exactly one valid endpoint. */
static inline aioe_parse_result *parse_ok(const char *yaml, const aioe_endpoint **ep)
{
    aioe_parse_result *res = parse(yaml, AIOE_OK);
    assert_int_equal(aioe_parse_result_error_count(res), 0);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
    *ep = aioe_parse_result_endpoint(res, 0);
    assert_non_null(*ep);
    return res;
}

/* Finds the error for a field path; fails the test when absent. */
static inline const aioe_parse_error *error_at(const aioe_parse_result *res, const char *path)
{
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        if (strcmp(e->path, path) == 0)
            return e;
    }
    print_error("no error for path '%s'; errors:\n", path);
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++) {
        const aioe_parse_error *e = aioe_parse_result_error(res, i);
        print_error("  %u:%u %s: %s\n", e->line, e->column, e->path, e->message);
    }
    fail();
    abort(); /* cmocka's fail() is not declared noreturn; never reached */
}

/* Parses a document with exactly one error, at `path`, whose message
 * contains `needle` and whose hint contains `hint_needle` (NULL: any). */
static inline void expect_single_error(const char *yaml, const char *path, const char *needle,
                                       const char *hint_needle)
{
    aioe_parse_result *res = parse(yaml, AIOE_ERR_INVALID_SPEC);
    assert_int_equal(aioe_parse_result_endpoint_count(res), 0);
    const aioe_parse_error *e = error_at(res, path);
    if (!strstr(e->message, needle)) {
        print_error("message '%s' lacks '%s'\n", e->message, needle);
        fail();
    }
    if (hint_needle && !strstr(e->hint, hint_needle)) {
        print_error("hint '%s' lacks '%s'\n", e->hint, hint_needle);
        fail();
    }
    assert_true(e->line > 0);
    assert_true(e->column > 0);
    assert_string_equal(e->file, "test.yaml");
    assert_int_equal(aioe_parse_result_error_count(res), 1);
    aioe_parse_result_free(res);
}

static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* A seed snippet made into a whole resource: the snippet's lines stay as
 * written, indented under spec (or appended when it starts with spec:). */
static inline char *seed_document(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed/%s", AIOE_TEST_DATA_DIR, file);
    char *snippet = read_text(path);
    if (strncmp(snippet, "apiVersion:", 11) == 0)
        return snippet;
    size_t cap = strlen(snippet) * 2 + 512;
    char *doc = malloc(cap);
    assert_non_null(doc);
    bool under_spec = strncmp(snippet, "spec:", 5) != 0;
    strcpy(doc, HEADER);
    if (under_spec)
        strcat(doc, "spec:\n  endpointType: Mqtt\n");
    for (char *line = strtok(snippet, "\n"); line; line = strtok(NULL, "\n")) {
        if (under_spec)
            strcat(doc, "  ");
        strcat(doc, line);
        strcat(doc, "\n");
    }
    free(snippet);
    return doc;
}

static inline void assert_defaults_except_auth(const aioe_endpoint *ep)
{
    /* The session expiry default is the document's apiVersion's: 3600 in
     * the v1beta1 docs (the seed), 600 in the v1 (GA) docs. */
    bool beta = strstr(aioe_endpoint_api_version(ep), "v1beta1") != NULL;
    assert_int_equal(aioe_endpoint_qos(ep), 1);
    assert_int_equal(aioe_endpoint_retain(ep), AIOE_RETAIN_KEEP);
    assert_int_equal(aioe_endpoint_session_expiry_seconds(ep), beta ? 3600 : 600);
    assert_int_equal(aioe_endpoint_protocol(ep), AIOE_PROTOCOL_MQTT);
    assert_int_equal(aioe_endpoint_max_inflight_messages(ep), 100);
    assert_int_equal(aioe_endpoint_keep_alive_seconds(ep), 60);
    assert_int_equal(aioe_endpoint_cloud_event_attributes(ep), AIOE_CLOUD_EVENTS_NONE);
    assert_null(aioe_endpoint_client_id_prefix(ep));
    assert_int_equal(aioe_endpoint_tls_mode(ep), AIOE_TLS_ENABLED);
}

static inline void round_trip(const aioe_endpoint *ep)
{
    char *yaml = NULL, *json = NULL;
    size_t ylen = 0, jlen = 0;
    assert_int_equal(aioe_endpoint_to_yaml(ep, &yaml, &ylen), AIOE_OK);
    assert_int_equal(strlen(yaml), ylen);
    assert_int_equal(aioe_endpoint_to_json(ep, AIOE_JSON_PRETTY, &json, &jlen), AIOE_OK);
    assert_int_equal(strlen(json), jlen);
    const char *texts[] = { yaml, json };
    for (int i = 0; i < 2; i++) {
        aioe_parse_result *res = NULL;
        int rc = aioe_parse_buffer(texts[i], strlen(texts[i]), "round-trip", NULL, &res);
        if (rc != AIOE_OK)
            print_error("re-parse failed for:\n%s\n", texts[i]);
        assert_int_equal(rc, AIOE_OK);
        assert_int_equal(aioe_parse_result_endpoint_count(res), 1);
        assert_true(aioe_endpoint_equal(ep, aioe_parse_result_endpoint(res, 0)));
        aioe_parse_result_free(res);
    }
    /* canonical spelling */
    assert_null(strstr(yaml, "CloudEventAttributes"));
    aioe_free(yaml);
    aioe_free(json);
}

#endif
