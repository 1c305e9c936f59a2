/* Managed-identity token sources, one fetch driven through a scripted HTTP
 * transport: response parsing, retry policy, request shapes per platform
 * and the Arc challenge rules. Schedule, selection, configuration and the
 * shared cache are in test-mi-cache.c; the real HTTP path is covered by
 * tests/integration/test-mi.c against tests/identity/. */
#include "mi-fixture.h"

/* ---- response parsing ------------------------------------------------- */

static void parse_imds_strings_and_jwt_exp(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    char *t = jwt(now - 10, now + 3000);
    char body[1024], err[128];
    /* expires_on later than the JWT's exp: the JWT wins (earliest) */
    snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":\"86399\","
             "\"expires_on\":\"%lld\",\"resource\":\"https://eventgrid.azure.net\"}",
             t, (long long)(now + 86399));
    mi_token tok;
    assert_int_equal(aioe__mi_parse_token_response(body, strlen(body), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_string_equal(tok.access_token, t);
    assert_int_equal(tok.len, strlen(t));
    assert_int_equal(tok.exp, now + 3000);
    assert_int_equal(tok.iat, now - 10);
    assert_int_equal(tok.refresh_at, now + 3000 - 300);
    aioe__mi_token_clear(&tok);
    assert_null(tok.access_token);
    free(t);
}

static void parse_numbers_opaque_token(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    char err[128];
    const char *b = "{\"token_type\":\"Bearer\",\"expires_in\":86400,"
                    "\"access_token\":\"opaque-not-a-jwt\"}";
    mi_token tok;
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, now + 86400);
    assert_int_equal(tok.iat, now);
    assert_int_equal(tok.refresh_at, now + 43200); /* half-life */
    aioe__mi_token_clear(&tok);
    /* expires_on as a number, earlier than now+expires_in */
    b = "{\"access_token\":\"x\",\"expires_in\":3600,\"expires_on\":1700000600}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, 1700000600);
    aioe__mi_token_clear(&tok);
    /* App Service's old date format in expires_on is ignored */
    b = "{\"access_token\":\"x\",\"expires_in\":\"600\",\"expires_on\":\"09/14/2017 00:00:00 PM +00:00\"}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_OK);
    assert_int_equal(tok.exp, now + 600);
    aioe__mi_token_clear(&tok);
    /* a token that has already expired is refused, not sent */
    b = "{\"access_token\":\"x\",\"expires_on\":1699999000}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_ERR_PROTOCOL);
    assert_non_null(strstr(err, "already expired (1000 s ago)"));
    b = "{\"access_token\":\"x\",\"expires_in\":0}";
    assert_int_equal(aioe__mi_parse_token_response(b, strlen(b), now, &tok, err,
                                             sizeof err), AIOE_ERR_PROTOCOL);
}

static void parse_rejects_bad_responses(void **state)
{
    (void)state;
    char err[128];
    mi_token tok;
    const char *bad[] = {
        "", "not json", "{\"access_token\":", "[1,2]", "{\"expires_in\":5}",
        "{\"access_token\":\"\",\"expires_in\":5}",
        "{\"access_token\":42,\"expires_in\":5}",
        "{\"access_token\":\"opaque\"}", /* no expiry anywhere */
        "{\"access_token\":\"opaque\",\"expires_in\":\"soon\"}",
        /* json-c reads NaN and Infinity as doubles (found by fuzz-token-response) */
        "{\"access_token\":\"opaque\",\"expires_in\":NaN}",
        "{\"access_token\":\"opaque\",\"expires_in\":-Infinity}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(aioe__mi_parse_token_response(bad[i], strlen(bad[i]), 1000,
                                                 &tok, err, sizeof err),
                         AIOE_ERR_PROTOCOL);
        assert_null(tok.access_token);
        assert_true(strlen(err) > 0);
    }
}

static void error_text_prefers_description(void **state)
{
    (void)state;
    char buf[128];
    const char *b = "{\"error\":\"invalid_request\",\"error_description\":"
                    "\"Identity not found\"}";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "Identity not found");
    b = "{\"error\":{\"code\":\"x\",\"message\":\"nested text\"}}";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "nested text");
    b = "plain\ntext";
    aioe__mi_error_text(b, strlen(b), buf, sizeof buf);
    assert_string_equal(buf, "plain text");
}

/* ---- retry policy ------------------------------------------------------- */

static void classify_statuses(void **state)
{
    (void)state;
    assert_int_equal(aioe__mi_classify(0), MI_RETRY);
    assert_int_equal(aioe__mi_classify(404), MI_RETRY);
    assert_int_equal(aioe__mi_classify(429), MI_RETRY);
    assert_int_equal(aioe__mi_classify(500), MI_RETRY);
    assert_int_equal(aioe__mi_classify(503), MI_RETRY);
    assert_int_equal(aioe__mi_classify(410), MI_RETRY_GONE);
    assert_int_equal(aioe__mi_classify(400), MI_FINAL);
    assert_int_equal(aioe__mi_classify(401), MI_FINAL);
    assert_int_equal(aioe__mi_classify(403), MI_FINAL);
    assert_int_equal(aioe__mi_classify(200), MI_FINAL);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 1, 0), 1000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 2, 0), 2000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 5, 0), 16000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 40, 0), 16000);
    assert_int_equal(aioe__mi_backoff_ms(1000, 16000, 1, 7), 7000); /* Retry-After */
}

static void retries_then_succeeds(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 404, "{}");
    add(&s, 429, "{}");
    add(&s, 500, "{}");
    add(&s, 0, NULL);            /* timeout */
    add(&s, 200, "{malformed"); /* malformed JSON is retried like a 5xx */
    add_token(&s, now_s(), now_s() + 3600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    /* This case checks the retry sequence, not the total budget (that is
     * retry_total_is_bounded_and_410_waits_its_window): the fixture's
     * 200 ms of real time ran out under ASan on a loaded machine. */
    c.retry_total_ms = 60000;
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 6);
    assert_int_equal(sleep_count, 5);
    assert_int_equal(sleeps[0], 1);
    assert_int_equal(sleeps[1], 2);
    assert_int_equal(sleeps[2], 4);
    assert_int_equal(sleeps[3], 8);
    assert_int_equal(sleeps[4], 8); /* capped */
    assert_non_null(t.access_token);
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);
}

static void final_4xx_carries_service_text(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 400, "{\"error\":\"invalid_request\",\"error_description\":"
        "\"Identity not found\"}");
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 1);
    assert_non_null(strstr(err, "HTTP 400"));
    assert_non_null(strstr(err, "Identity not found"));
    aioe__mi_config_clear(&c);
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void retry_total_is_bounded_and_410_waits_its_window(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add(&s, 503, "{\"error\":\"busy\"}");
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.retry_total_ms = 60;
    mi_token t;
    char err[256] = "";
    int64_t t0 = mono();
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_CONNECTION);
    int64_t took = mono() - t0;
    assert_true(took >= 60 && took < 1000);
    assert_non_null(strstr(err, "HTTP 503"));
    assert_non_null(strstr(err, "gave up"));
    aioe__mi_config_clear(&c);

    script_init(&s);
    add(&s, 410, "{}");
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.retry_total_ms = 20;
    c.gone_window_ms = 150;
    t0 = mono();
    assert_int_not_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    took = mono() - t0;
    assert_true(took >= 150 && took < 2000); /* the 410 window, not 20 ms */
    aioe__mi_config_clear(&c);

    /* 410 then success inside the window */
    script_init(&s);
    add(&s, 410, "{}");
    add(&s, 410, "{}");
    add_token(&s, now_s(), now_s() + 600, false);
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 3);
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);

    /* without retry: one exchange */
    script_init(&s);
    add(&s, 500, "{}");
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    assert_int_not_equal(aioe__mi_fetch(&c, false, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 1);
    aioe__mi_config_clear(&c);
}

/* ---- request shapes ------------------------------------------------------ */

static void imds_and_app_service_requests(void **state)
{
    (void)state;
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_IMDS, &s);
    c.user_assigned = true;
    c.client_id = strdup("11111111-2222");
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.methods[0], "GET");
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2018-02-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net"
                        "&client_id=11111111-2222");
    assert_string_equal(s.headers[0], "Metadata: true\n");
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);

    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, true);
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_APP_SERVICE, &s);
    c.identity_header = strdup("secret-header");
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2019-08-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net");
    assert_string_equal(s.headers[0], "X-IDENTITY-HEADER: secret-header\n");
    aioe__mi_token_clear(&t);
    aioe__mi_config_clear(&c);
}

static void workload_identity_form_post(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/federated", root);
    put(path, "fed.eral+token\n");
    script s;
    script_init(&s);
    add_token(&s, now_s(), now_s() + 600, false);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY, &s);
    c.client_id = strdup("cid");
    c.tenant_id = strdup("tid");
    c.federated_token_file = strdup(path);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_string_equal(s.methods[0], "POST");
    assert_string_equal(s.urls[0], "https://login.example/tid/oauth2/v2.0/token");
    assert_string_equal(s.bodies[0],
        "client_assertion=fed.eral%2Btoken"
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        "&client_id=cid&grant_type=client_credentials"
        "&scope=https%3A%2F%2Feventgrid.azure.net%2F.default");
    assert_non_null(strstr(s.headers[0], "Content-Type: application/x-www-form-urlencoded"));
    aioe__mi_token_clear(&t);
    /* AAD errors are final and quoted */
    script_init(&s);
    add(&s, 401, "{\"error\":\"invalid_client\",\"error_description\":"
        "\"AADSTS700016: Application not found\"}");
    c.http_ctx = &s;
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "AADSTS700016"));
    assert_int_equal(s.calls, 1);
    /* a missing assertion file is final, with no request made */
    script_init(&s);
    c.http_ctx = &s;
    unlink(path);
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 0);
    assert_non_null(strstr(err, "federated token file"));
    aioe__mi_config_clear(&c);
}

static void arc_challenge_flow(void **state)
{
    (void)state;
    char key[128], www[160];
    snprintf(key, sizeof key, "%s/abc.key", root);
    put(key, "s3cret-key");
    snprintf(www, sizeof www, "Basic realm=%s", key);
    script s;
    script_init(&s);
    add(&s, 401, "");
    s.steps[0].www = www;
    add_token(&s, now_s(), now_s() + 600, true);
    mi_config c;
    cfg_fake(&c, AIOE_IDENTITY_SOURCE_ARC, &s);
    mi_token t;
    char err[256] = "";
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_OK);
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.urls[0], "http://mi.example/token?api-version=2020-06-01"
                        "&resource=https%3A%2F%2Feventgrid.azure.net");
    assert_string_equal(s.headers[0], "Metadata: true\n");
    assert_string_equal(s.headers[1], "Metadata: true\nAuthorization: Basic s3cret-key\n");
    aioe__mi_token_clear(&t);
    /* a challenge outside the key directory is final */
    script_init(&s);
    add(&s, 401, "");
    s.steps[0].www = "Basic realm=/etc/passwd";
    c.http_ctx = &s;
    assert_int_equal(aioe__mi_fetch(&c, true, &t, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(s.calls, 1);
    aioe__mi_config_clear(&c);
}

static void arc_path_rules(void **state)
{
    (void)state;
    char sub[128], good[160], big[160], txt[160], hdr[400], esc[200];
    snprintf(sub, sizeof sub, "%s/tokens", root);
    mkdir(sub, 0700);
    snprintf(good, sizeof good, "%s/ok.key", sub);
    put(good, "k");
    snprintf(txt, sizeof txt, "%s/ok.txt", sub);
    put(txt, "k");
    snprintf(big, sizeof big, "%s/big.key", sub);
    FILE *f = fopen(big, "w");
    for (int i = 0; i < 4097; i++)
        fputc('a', f);
    fclose(f);
    snprintf(esc, sizeof esc, "%s/outside.key", root);
    put(esc, "k");
    char *p = NULL, err[256];

    snprintf(hdr, sizeof hdr, "Basic realm=%s", good);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    assert_string_equal(p, good);
    free(p);
    snprintf(hdr, sizeof hdr, "basic realm=\"%s\"", good);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    free(p);
    /* exactly 4096 bytes is allowed */
    f = fopen(big, "w");
    for (int i = 0; i < 4096; i++)
        fputc('a', f);
    fclose(f);
    snprintf(hdr, sizeof hdr, "Basic realm=%s", big);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_OK);
    free(p);
    f = fopen(big, "a");
    fputc('a', f);
    fclose(f);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "4096"));

    const char *bad_scheme[] = { "Basic realm=", "Bearer realm=", "Basic x=" };
    const char *bad_path[] = { txt, good, good };
    for (int i = 0; i < 3; i++) {
        snprintf(hdr, sizeof hdr, "%s%s", bad_scheme[i], bad_path[i]);
        assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err),
                         AIOE_ERR_AUTH);
        assert_null(p);
    }
    /* outside the directory, by name, by "..", by symlink */
    snprintf(hdr, sizeof hdr, "Basic realm=%s", esc);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_non_null(strstr(err, "is not in"));
    snprintf(hdr, sizeof hdr, "Basic realm=%s/../outside.key", sub);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    char link[200];
    snprintf(link, sizeof link, "%s/link.key", sub);
    assert_int_equal(symlink(esc, link), 0);
    snprintf(hdr, sizeof hdr, "Basic realm=%s", link);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    assert_int_equal(aioe__mi_arc_challenge_path(NULL, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    snprintf(hdr, sizeof hdr, "Basic realm=%s/missing.key", sub);
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
    snprintf(hdr, sizeof hdr, "Basic realm=relative/ok.key");
    assert_int_equal(aioe__mi_arc_challenge_path(hdr, sub, &p, err, sizeof err), AIOE_ERR_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_imds_strings_and_jwt_exp),
        cmocka_unit_test(parse_numbers_opaque_token),
        cmocka_unit_test(parse_rejects_bad_responses),
        cmocka_unit_test(error_text_prefers_description),
        cmocka_unit_test(classify_statuses),
        cmocka_unit_test(retries_then_succeeds),
        cmocka_unit_test(final_4xx_carries_service_text),
        cmocka_unit_test(retry_total_is_bounded_and_410_waits_its_window),
        cmocka_unit_test(imds_and_app_service_requests),
        cmocka_unit_test(workload_identity_form_post),
        cmocka_unit_test(arc_challenge_flow),
        cmocka_unit_test(arc_path_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
