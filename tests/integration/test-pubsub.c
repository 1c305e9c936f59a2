/* Publish/subscribe hooks against a real mosquitto: MQTT v5 properties
 * through the message builder, the CloudEvents stage on publish (checked
 * with the independent libmosquitto observer and with mosquitto_sub's own
 * output), retain Keep/Never for forwarded messages, shared subscriptions
 * in both spellings, unsubscribe, re-subscribe, copies of messages, and
 * subscriptions restored by the broker session without a SUBSCRIBE storm. */
#include "session-fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <uuid/uuid.h>

static broker *start_broker(bool persistence)
{
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.persistence = persistence;
    broker *b = NULL;
    assert_int_equal(broker_start(&cfg, &b), 0);
    return b;
}

/* An anonymous plain-TCP endpoint for b, with extra mqttSettings lines. */
static aioe_parse_result *endpoint_for(broker *b, const char *extra)
{
    return fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF "%s", broker_port(b, 0),
                       extra ? extra : "");
}

/* A recording session on ep, started and connected; o (NULL: defaults)
 * holds extra settings and is freed. */
static aioe_session *started_with(const aioe_endpoint *ep, recorder *r, aioe_session_options *o)
{
    aioe_session *s = fx_session_with(ep, r, NULL, o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
    return s;
}

static aioe_session *started(const aioe_endpoint *ep, recorder *r)
{
    return started_with(ep, r, NULL);
}

static void publish_and_wait(aioe_session *s, recorder *r, aioe_message_builder *b)
{
    pthread_mutex_lock(&r->mu);
    size_t before = r->pub_done;
    pthread_mutex_unlock(&r->mu);
    assert_int_equal(aioe_session_publish_message(s, b, fx_on_published, r), AIOE_OK);
    size_t want = before + 1;
    assert_true(fx_wait(r, pred_pub_done, &want, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
}

static void properties_round_trip(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "pp/#", 1, &o), 0);
    aioe_parse_result *res = endpoint_for(b, NULL);
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);

    aioe_message_builder *mb = NULL;
    assert_int_equal(aioe_message_builder_new(&mb), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_topic(mb, "pp/one", 6), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_payload(mb, "{\"t\":21}", 8), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_content_type(mb, "application/json", 16), AIOE_OK);
    assert_int_equal(aioe_message_builder_add_user_property(mb, "a", 1, "1", 1), AIOE_OK);
    assert_int_equal(aioe_message_builder_add_user_property(mb, "b", 1, "2", 1), AIOE_OK);
    assert_int_equal(aioe_message_builder_add_user_property(mb, "a", 1, "3", 1), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_correlation_data(mb, "\x01\x00\x02", 3), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_response_topic(mb, "reply/x", 7), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_message_expiry(mb, 300), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_payload_format(mb, AIOE_PAYLOAD_UTF8), AIOE_OK);
    publish_and_wait(s, r, mb);

    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "pp/one");
    assert_string_equal((const char *)m->payload, "{\"t\":21}");
    assert_int_equal(m->qos, 1); /* the endpoint's default qos */
    assert_string_equal(m->content_type, "application/json");
    assert_int_equal(m->user_prop_count, 3);
    assert_string_equal(m->user_props[0].name, "a");
    assert_string_equal(m->user_props[0].value, "1");
    assert_string_equal(m->user_props[1].name, "b");
    assert_string_equal(m->user_props[2].name, "a");
    assert_string_equal(m->user_props[2].value, "3");
    assert_int_equal(m->correlation_len, 3);
    assert_memory_equal(m->correlation_data, "\x01\x00\x02", 3);
    assert_string_equal(m->response_topic, "reply/x");
    assert_true(m->has_message_expiry);
    assert_true(m->message_expiry <= 300 && m->message_expiry >= 298);
    assert_int_equal(m->payload_format, 1);

    /* The builder is reusable: reset forgets the properties. */
    aioe_message_builder_reset(mb);
    assert_int_equal(aioe_session_publish_message(s, mb, NULL, NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_message_builder_set_topic(mb, "pp/two", 6), AIOE_OK);
    assert_int_equal(aioe_message_builder_set_qos(mb, 0), AIOE_OK);
    publish_and_wait(s, r, mb);
    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);
    m = observer_get(o, 1);
    assert_int_equal(m->user_prop_count, 0);
    assert_null(m->content_type);
    assert_int_equal(m->payload_len, 0);
    assert_int_equal(m->qos, 0);

    /* argument checks */
    assert_int_equal(aioe_message_builder_set_topic(mb, "a/+", 3), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_message_builder_set_qos(mb, 2), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_message_builder_set_payload(mb, NULL, 3), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_message_builder_set_payload_format(mb, 7), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_publish_message(NULL, mb, NULL, NULL), AIOE_ERR_INVALID_ARG);

    aioe_message_builder_free(mb);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

/* Runs mosquitto_sub for one message on filter and returns its -F output
 * (malloc'd). Waits until the broker has its SUBSCRIBE before returning
 * the pid, so the caller publishes after it is listening. */
static pid_t cli_sub_start(broker *b, const char *filter, const char *format, int *out_fd)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char port[16], id[64];
    snprintf(port, sizeof port, "%d", broker_port(b, 0));
    char *uid = harness_unique("cli-sub");
    snprintf(id, sizeof id, "%s", uid);
    free(uid);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("mosquitto_sub", "mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", port,
               "-i", id, "-t", filter, "-q", "1", "-C", "1", "-W", "10", "-F", format,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char needle[128];
    snprintf(needle, sizeof needle, "Received SUBSCRIBE from %s", id);
    assert_true(broker_wait_log(b, needle, WAIT_MS));
    *out_fd = fds[0];
    return pid;
}

static char *cli_sub_finish(pid_t pid, int fd)
{
    char buf[4096];
    size_t used = 0;
    ssize_t n;
    while ((n = read(fd, buf + used, sizeof buf - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return strdup(buf);
}

static void cloudevents_create_or_remap(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "ce/#", 1, &o), 0);
    int fd;
    pid_t cli = cli_sub_start(b, "ce/#", "%t|%C|%P", &fd);

    aioe_parse_result *res = endpoint_for(b, "    cloudEventAttributes: CreateOrRemap\n");
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);
    aioe_message_builder *mb = NULL;
    assert_int_equal(aioe_message_builder_new(&mb), AIOE_OK);
    aioe_message_builder_set_topic(mb, "ce/oven/temp", 12);
    aioe_message_builder_set_payload(mb, "21", 2);
    aioe_message_builder_set_content_type(mb, "application/json", 16);
    aioe_message_builder_add_user_property(mb, "site", 4, "plant-7", 7);
    publish_and_wait(s, r, mb);

    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(observer_msg_prop(m, "site"), "plant-7");
    assert_string_equal(m->user_props[0].name, "site"); /* input first */
    assert_string_equal(observer_msg_prop(m, "specversion"), "1.0");
    assert_string_equal(observer_msg_prop(m, "type"), "ms.aio-dataflow.telemetry");
    assert_string_equal(observer_msg_prop(m, "source"), "aio://test-endpoint");
    assert_string_equal(observer_msg_prop(m, "subject"), "ce/oven/temp");
    uuid_t u;
    assert_non_null(observer_msg_prop(m, "id"));
    assert_int_equal(uuid_parse(observer_msg_prop(m, "id"), u), 0);
    const char *t = observer_msg_prop(m, "time");
    assert_non_null(t);
    assert_int_equal(t[4], '-');
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[strlen(t) - 1], 'Z');
    assert_string_equal(m->content_type, "application/json");

    /* mosquitto's own client sees the same properties. */
    char *line = cli_sub_finish(cli, fd);
    assert_non_null(strstr(line, "ce/oven/temp|application/json|"));
    assert_non_null(strstr(line, "site:plant-7"));
    assert_non_null(strstr(line, "specversion:1.0"));
    assert_non_null(strstr(line, "source:aio://test-endpoint"));
    free(line);

    /* A present but invalid attribute is never silently corrupted: the
     * publish is refused and nothing reaches the broker. */
    aioe_message_builder_reset(mb);
    aioe_message_builder_set_topic(mb, "ce/bad", 6);
    aioe_message_builder_add_user_property(mb, "specversion", 11, "0.3", 3);
    assert_int_equal(aioe_session_publish_message(s, mb, fx_on_published, r),
                     AIOE_ERR_INVALID_EVENT);
    aioe_message_builder_reset(mb);
    aioe_message_builder_set_topic(mb, "ce/marker", 9);
    publish_and_wait(s, r, mb);
    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);
    assert_string_equal(observer_get(o, 1)->topic, "ce/marker");

    aioe_message_builder_free(mb);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

/* aioe_session_publish() runs the endpoint's cloudEventAttributes stage as
 * aioe_session_publish_message() does (issue #14 item 4: it used to skip
 * it silently, so the same endpoint published events or bare messages
 * depending on the call). */
static void cloudevents_on_plain_publish(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "cep/#", 1, &o), 0);
    aioe_parse_result *res = endpoint_for(b, "    cloudEventAttributes: CreateOrRemap\n");
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);
    assert_int_equal(aioe_session_publish(s, "cep/oven", "21", 2, 1, false, fx_on_published, r),
                     AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r, pred_pub_done, &one, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "cep/oven");
    assert_non_null(observer_msg_prop(m, "specversion")); /* the stage ran */
    assert_string_equal(observer_msg_prop(m, "specversion"), "1.0");
    assert_string_equal(observer_msg_prop(m, "source"), "aio://test-endpoint");
    assert_string_equal(observer_msg_prop(m, "subject"), "cep/oven");
    assert_non_null(observer_msg_prop(m, "id"));
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

static void cloudevents_propagate(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "pr/#", 1, &o), 0);
    aioe_parse_result *res = endpoint_for(b, "    cloudEventAttributes: Propagate\n");
    recorder *r = recorder_new();
    aioe_session_options *opts = NULL;
    assert_int_equal(aioe_session_options_new(&opts), AIOE_OK);
    /* the host's transform produced this content type and schema */
    assert_int_equal(aioe_session_options_set_cloudevents(opts, NULL, "application/avro",
                                                          "sr://schemas/oven#2"),
                     AIOE_OK);
    aioe_session_options_set_state_callback(opts, fx_on_state, r);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "prop", opts),
                     AIOE_OK);
    aioe_session_options_free(opts);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));

    aioe_message_builder *mb = NULL;
    assert_int_equal(aioe_message_builder_new(&mb), AIOE_OK);
    aioe_message_builder_set_topic(mb, "pr/x", 4);
    static const char *const attrs[][2] = {
        { "specversion", "1.0" }, { "type", "ms.aio.telemetry" },
        { "source", "aio://mycluster/myoven" }, { "id", "A234-1234-1234" },
        { "time", "2018-04-05T17:31:00Z" }, { "dataschema", "sr://old#1" },
    };
    for (size_t i = 0; i < 6; i++)
        aioe_message_builder_add_user_property(mb, attrs[i][0], strlen(attrs[i][0]), attrs[i][1],
                                               strlen(attrs[i][1]));
    aioe_message_builder_set_content_type(mb, "application/json", 16);
    publish_and_wait(s, r, mb);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(observer_msg_prop(m, "id"), "A234-1234-1234");
    assert_string_equal(observer_msg_prop(m, "time"), "2018-04-05T17:31:00Z"); /* not restamped */
    assert_string_equal(observer_msg_prop(m, "dataschema"), "sr://schemas/oven#2");
    assert_string_equal(m->content_type, "application/avro");

    /* Not an event (no id): passed through unchanged. */
    aioe_message_builder_reset(mb);
    aioe_message_builder_set_topic(mb, "pr/y", 4);
    aioe_message_builder_add_user_property(mb, "type", 4, "t", 1);
    aioe_message_builder_set_content_type(mb, "text/plain", 10);
    publish_and_wait(s, r, mb);
    assert_int_equal(observer_wait(o, 2, WAIT_MS), 2);
    m = observer_get(o, 1);
    assert_int_equal(m->user_prop_count, 1);
    assert_string_equal(m->content_type, "text/plain");

    aioe_message_builder_free(mb);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

/* ---- forwarding: retain Keep/Never, copies ------------------------------ */

typedef struct forwarder {
    aioe_session *dest;
    aioe_message_builder *mb;
    recorder *r;
    aioe_message *copy;
    int rc;
} forwarder;

static void forward_cb(aioe_session *s, const aioe_message *m, void *ud)
{
    (void)s;
    forwarder *f = ud;
    pthread_mutex_lock(&f->r->mu);
    if (!f->copy)
        aioe_message_copy(m, &f->copy);
    pthread_mutex_unlock(&f->r->mu);
    int rc = aioe_message_builder_set_from_message(f->mb, m);
    if (rc == AIOE_OK)
        rc = aioe_session_publish_message(f->dest, f->mb, fx_on_published, f->r);
    pthread_mutex_lock(&f->r->mu);
    f->rc = rc;
    pthread_mutex_unlock(&f->r->mu);
}

/* Forwards one retained message from broker A to broker B through an
 * endpoint with `retain` = retain_setting; returns whether B then holds a
 * retained message on the topic. */
static bool forward_retained(const char *retain_setting, forwarder *f_out)
{
    broker *a = start_broker(false), *bb = start_broker(false);
    assert_int_equal(harness_publish(a, 0, "fw/t", "v1", 2, 1, true), 0);

    char extra[64];
    snprintf(extra, sizeof extra, "    retain: %s\n", retain_setting);
    aioe_parse_result *dres = endpoint_for(bb, extra);
    aioe_parse_result *sres = endpoint_for(a, NULL);
    recorder *dr = recorder_new(), *sr = recorder_new();
    forwarder f = { .r = dr };
    f.dest = started(aioe_parse_result_endpoint(dres, 0), dr);
    assert_int_equal(aioe_message_builder_new(&f.mb), AIOE_OK);

    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, sr);
    aioe_session_options_set_message_callback(o, forward_cb, &f);
    aioe_session *src = NULL;
    assert_int_equal(aioe_session_new(&src, aioe_parse_result_endpoint(sres, 0), "fw-src", o),
                     AIOE_OK);
    aioe_session_options_free(o);
    assert_int_equal(aioe_session_start(src), AIOE_OK);
    aioe_subscribe_options *so = NULL;
    assert_int_equal(aioe_subscribe_options_new(&so), AIOE_OK);
    assert_int_equal(aioe_subscribe_options_set_retain_as_published(so, true), AIOE_OK);
    assert_int_equal(aioe_session_subscribe_with(src, "fw/#", so, fx_on_subscribed, sr), AIOE_OK);
    aioe_subscribe_options_free(so);
    size_t one = 1;
    assert_true(fx_wait(dr, pred_pub_done, &one, WAIT_MS));
    assert_int_equal(dr->last_pub_status, AIOE_OK);

    /* A fresh subscriber on B sees a retained message only if the flag
     * was kept. */
    observer *o2 = NULL;
    assert_int_equal(observer_start(bb, 0, "fw/#", 1, &o2), 0);
    /* a marker published after subscribing arrives after any retained one */
    assert_int_equal(harness_publish(bb, 0, "fw/marker", "m", 1, 1, false), 0);
    size_t got = observer_wait(o2, 1, WAIT_MS);
    assert_true(got >= 1);
    bool retained = strcmp(observer_get(o2, 0)->topic, "fw/t") == 0;
    if (retained)
        assert_true(observer_get(o2, 0)->retain);

    aioe_session_free(src);
    aioe_session_free(f.dest);
    *f_out = f;
    f_out->dest = NULL;
    observer_free(o2);
    recorder_free(dr);
    recorder_free(sr);
    aioe_parse_result_free(dres);
    aioe_parse_result_free(sres);
    broker_free(a);
    broker_free(bb);
    return retained;
}

static void retain_keep_and_never(void **state)
{
    (void)state;
    forwarder f;
    assert_true(forward_retained("Keep", &f));
    /* the copy made inside the callback outlives it */
    assert_non_null(f.copy);
    size_t len;
    assert_memory_equal(aioe_message_topic(f.copy, &len), "fw/t", 4);
    assert_int_equal(len, 4);
    assert_memory_equal(aioe_message_payload(f.copy, &len), "v1", 2);
    assert_true(aioe_message_retain(f.copy));
    aioe_message_free(f.copy);
    aioe_message_builder_free(f.mb);

    assert_false(forward_retained("Never", &f));
    aioe_message_free(f.copy);
    aioe_message_builder_free(f.mb);
}

/* ---- subscriptions -------------------------------------------------------- */

static bool pred_msgs(recorder *r, const void *arg)
{
    return r->msgs >= *(const size_t *)arg;
}

enum { N_SHARED = 40 };

static bool both_received_n(void *arg)
{
    recorder **pair = arg;
    pthread_mutex_lock(&pair[0]->mu);
    size_t a = pair[0]->msgs;
    pthread_mutex_unlock(&pair[0]->mu);
    pthread_mutex_lock(&pair[1]->mu);
    size_t b = pair[1]->msgs;
    pthread_mutex_unlock(&pair[1]->mu);
    return a + b >= N_SHARED;
}

static void shared_subscriptions_and_unsubscribe(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);
    recorder *r1 = recorder_new(), *r2 = recorder_new();
    aioe_session *s1 = started(ep, r1), *s2 = started(ep, r2);
    /* the AIO documentation's spelling and MQTT's: the same group */
    assert_int_equal(aioe_session_subscribe_with(s1, "$shared/grp/sh/#", NULL, fx_on_subscribed, r1),
                     AIOE_OK);
    assert_int_equal(aioe_session_subscribe_with(s2, "$share/grp/sh/#", NULL, fx_on_subscribed, r2),
                     AIOE_OK);
    size_t one = 1;
    assert_true(fx_wait(r1, pred_sub_done, &one, WAIT_MS));
    assert_true(fx_wait(r2, pred_sub_done, &one, WAIT_MS));
    assert_int_equal(r1->last_sub_status, AIOE_OK);
    assert_true(broker_log_contains(b, "$share/grp/sh/#"));
    assert_false(broker_log_contains(b, "$shared/"));

    enum { N = N_SHARED };
    for (int i = 0; i < N; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", i);
        assert_int_equal(harness_publish(b, 0, "sh/x", p, strlen(p), 1, false), 0);
    }
    /* every message once, spread over both members */
    recorder *pair[2] = { r1, r2 };
    assert_true(harness_wait_until(both_received_n, pair, WAIT_MS));
    assert_int_equal(r1->msgs + r2->msgs, N);
    assert_true(r1->msgs > 0 && r2->msgs > 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(r1->seen[i] + r2->seen[i], 1);

    /* unsubscribe: acknowledged once, and nothing more arrives */
    assert_int_equal(aioe_session_unsubscribe(s1, "$shared/grp/sh/#", fx_on_subscribed, r1),
                     AIOE_OK);
    size_t two = 2;
    assert_true(fx_wait(r1, pred_sub_done, &two, WAIT_MS));
    assert_int_equal(r1->last_sub_status, AIOE_OK);
    assert_int_equal(aioe_session_unsubscribe(s1, "$share/grp/sh/#", NULL, NULL),
                     AIOE_ERR_NOT_FOUND);
    size_t before1 = r1->msgs, before2 = r2->msgs;
    for (int i = N; i < N + 10; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", i);
        assert_int_equal(harness_publish(b, 0, "sh/x", p, strlen(p), 1, false), 0);
    }
    size_t want2 = before2 + 10;
    assert_true(fx_wait(r2, pred_msgs, &want2, WAIT_MS));
    assert_int_equal(r1->msgs, before1);

    /* invalid filters are refused before anything is sent */
    assert_int_equal(aioe_session_subscribe_with(s1, "a/#/b", NULL, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_subscribe_with(s1, "$shared/g", NULL, NULL, NULL),
                     AIOE_ERR_INVALID_ARG);

    aioe_session_free(s1);
    aioe_session_free(s2);
    recorder_free(r1);
    recorder_free(r2);
    aioe_parse_result_free(res);
    broker_free(b);
}

static void resubscribe_and_restore(void **state)
{
    (void)state;
    broker *b = start_broker(true);
    aioe_parse_result *res = endpoint_for(b, "    clientIdPrefix: pubsub-\n");
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);
    const char *id = aioe_session_client_id(s);
    char needle[160];
    snprintf(needle, sizeof needle, "Received SUBSCRIBE from %s", id);

    assert_int_equal(aioe_session_subscribe(s, "rs/#", 1, fx_on_subscribed, r), AIOE_OK);
    size_t one = 1, two = 2;
    assert_true(fx_wait(r, pred_sub_done, &one, WAIT_MS));
    /* the same filter again replaces it: one subscription, one delivery */
    assert_int_equal(aioe_session_subscribe(s, "rs/#", 1, fx_on_subscribed, r), AIOE_OK);
    assert_true(fx_wait(r, pred_sub_done, &two, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "0", 1, 1, false), 0);
    assert_true(fx_wait(r, pred_msgs, &one, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "1", 1, 1, false), 0);
    assert_true(fx_wait(r, pred_msgs, &two, WAIT_MS));
    assert_int_equal(r->msgs, 2);
    size_t subscribes = broker_log_count(b, needle);
    assert_int_equal(subscribes, 2);

    /* A restart with persistence keeps the broker session: the session
     * reconnects and does not subscribe again. */
    size_t from = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &from, NULL, WAIT_MS));
    assert_int_equal(broker_restart(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &from, NULL, WAIT_MS));
    assert_int_equal(harness_publish(b, 0, "rs/a", "2", 1, 1, false), 0);
    size_t three = 3;
    assert_true(fx_wait(r, pred_msgs, &three, WAIT_MS));
    assert_int_equal(broker_log_count(b, needle), subscribes); /* no new SUBSCRIBE */

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

static void subscribe_options_checks(void **state)
{
    (void)state;
    aioe_subscribe_options *o = NULL;
    assert_int_equal(aioe_subscribe_options_new(NULL), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_subscribe_options_set_qos(o, 2), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_set_retain_handling(o, 3), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_subscribe_options_set_retain_handling(o, AIOE_RETAIN_DO_NOT_SEND),
                     AIOE_OK);
    assert_int_equal(aioe_subscribe_options_set_no_local(NULL, true), AIOE_ERR_INVALID_ARG);
    aioe_subscribe_options_free(o);
    aioe_subscribe_options_free(NULL);
    aioe_message_free(NULL);
    assert_int_equal(aioe_message_copy(NULL, NULL), AIOE_ERR_INVALID_ARG);
    assert_false(aioe_message_dup(NULL));
    assert_int_equal(aioe_message_payload_format(NULL), -1);
}

/* ---- configurable limits ------------------------------------------------ */

static void queued_bytes_bound(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    recorder *r = recorder_new();
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_max_queued_bytes(NULL, 1), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_max_queued_bytes(o, 600), AIOE_OK);
    aioe_session *s = started_with(aioe_parse_result_endpoint(res, 0), r, o);

    /* With the broker stalled nothing completes: two 250-byte messages fit
     * in 600 bytes, the third does not, although the window has room. */
    static char payload[250];
    memset(payload, 'p', sizeof payload);
    assert_int_equal(broker_pause(b), 0);
    assert_int_equal(aioe_session_publish(s, "qb/1", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/2", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/3", payload, 250, 1, false, fx_on_published, r),
                     AIOE_ERR_WOULD_BLOCK);
    assert_int_equal(aioe_session_publish_outstanding(s), 2);
    assert_int_equal(broker_resume(b), 0);
    size_t two = 2;
    assert_true(fx_wait(r, pred_pub_done, &two, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "qb/3", payload, 250, 1, false, fx_on_published, r),
                     AIOE_OK);
    size_t three = 3;
    assert_true(fx_wait(r, pred_pub_done, &three, WAIT_MS));
    /* a message larger than the bound still goes when it is alone */
    static char big[1000];
    assert_int_equal(aioe_session_publish(s, "qb/big", big, sizeof big, 1, false,
                                          fx_on_published, r), AIOE_OK);
    size_t four = 4;
    assert_true(fx_wait(r, pred_pub_done, &four, WAIT_MS));
    assert_int_equal(r->last_pub_status, AIOE_OK);

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

/* ---- room in the publish window ------------------------------------------
 * issue #14 item 4: a host that got AIOE_ERR_WOULD_BLOCK learns from the
 * window callback that there is room again, instead of spinning. */

typedef struct window_rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t calls, room;
    pthread_t cb_thread, completion_thread;
    bool completion_seen;
    int publish_rc;         /* publishing from inside the callback */
    aioe_session *s;
} window_rec;

static void on_window(aioe_session *s, size_t room, void *ud)
{
    window_rec *w = ud;
    /* the intended use: publish from here */
    int rc = aioe_session_publish(s, "win/from-callback", "cb", 2, 1, false, NULL, NULL);
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->room = room;
    w->cb_thread = pthread_self();
    w->publish_rc = rc;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_window_completion(aioe_session *s, int status, int reason, void *ud)
{
    window_rec *w = ud;
    (void)s;
    (void)status;
    (void)reason;
    pthread_mutex_lock(&w->mu);
    w->completion_thread = pthread_self();
    w->completion_seen = true;
    pthread_mutex_unlock(&w->mu);
}

static void window_callback(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    observer *o = NULL;
    assert_int_equal(observer_start(b, 0, "win/#", 1, &o), 0);
    aioe_parse_result *res = endpoint_for(b, "    maxInflightMessages: 4\n");
    recorder *r = recorder_new();
    window_rec w = { .publish_rc = 1 };
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    aioe_session_options *opts = NULL;
    assert_int_equal(aioe_session_options_new(&opts), AIOE_OK);
    assert_int_equal(aioe_session_options_set_window_callback(NULL, on_window, &w),
                     AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_window_callback(opts, on_window, &w), AIOE_OK);
    aioe_session *s = started_with(aioe_parse_result_endpoint(res, 0), r, opts);
    size_t window = aioe_session_publish_window(s);
    assert_true(window >= 1 && window <= 4);

    /* the broker stalls: the window fills, the next publish is refused */
    assert_int_equal(broker_pause(b), 0);
    for (size_t i = 0; i < window; i++)
        assert_int_equal(aioe_session_publish(s, "win/fill", "x", 1, 1, false,
                                              on_window_completion, &w), AIOE_OK);
    assert_int_equal(aioe_session_publish(s, "win/refused", "x", 1, 1, false, NULL, NULL),
                     AIOE_ERR_WOULD_BLOCK);
    pthread_mutex_lock(&w.mu);
    assert_int_equal(w.calls, 0); /* no room yet, no call */
    pthread_mutex_unlock(&w.mu);

    /* room comes back: the callback fires, on neither Paho's thread (where
     * the completions ran) nor ours, and may publish */
    assert_int_equal(broker_resume(b), 0);
    pthread_mutex_lock(&w.mu);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (w.calls == 0 && harness_cond_wait_until(&w.cv, &w.mu, deadline))
        ;
    assert_int_equal(w.calls, 1);
    assert_true(w.room >= 1);
    assert_int_equal(w.publish_rc, AIOE_OK);
    assert_true(w.completion_seen);
    assert_false(pthread_equal(w.cb_thread, w.completion_thread));
    assert_false(pthread_equal(w.cb_thread, pthread_self()));
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(observer_wait(o, window + 1, WAIT_MS), window + 1);
    assert_string_equal(observer_get(o, window)->topic, "win/from-callback");

    /* no refusal since: no more calls */
    assert_int_equal(aioe_session_stop(s, 5000), AIOE_OK);
    pthread_mutex_lock(&w.mu);
    assert_int_equal(w.calls, 1);
    pthread_mutex_unlock(&w.mu);
    aioe_session_free(s);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    recorder_free(r);
    aioe_parse_result_free(res);
    observer_free(o);
    broker_free(b);
}

static bool pred_log_has(recorder *r, const void *arg)
{
    return r->log && strstr(r->log, (const char *)arg);
}

typedef struct stopper {
    aioe_session *s;
    int rc;
    int64_t returned_ms;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *st = arg;
    st->rc = aioe_session_stop(st->s, 20000);
    st->returned_ms = harness_now_ms();
    return NULL;
}

/* stop() waits for unacknowledged publishes and returns as soon as the last
 * one completes, not at its timeout: the completions must wake it. */
static void stop_drains_outstanding(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = endpoint_for(b, NULL);
    recorder *r = recorder_new();
    aioe_session *s = started(aioe_parse_result_endpoint(res, 0), r);

    /* the broker holds every PUBACK until it resumes */
    assert_int_equal(broker_pause(b), 0);
    enum { N = 40 };
    for (int i = 0; i < N; i++)
        assert_int_equal(aioe_session_publish(s, "drain/t", "x", 1, 1, false,
                                              fx_on_published, r), AIOE_OK);
    /* static: a failed assert longjmps out while the thread may run */
    static stopper st;
    st = (stopper){.s = s, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, &st), 0);
    assert_true(fx_wait(r, pred_log_has, "unacknowledged publish", WAIT_MS));
    int64_t resumed = harness_now_ms();
    assert_int_equal(broker_resume(b), 0);
    pthread_join(th, NULL);
    assert_int_equal(st.rc, AIOE_OK);
    pthread_mutex_lock(&r->mu);
    assert_int_equal(r->pub_done, N);
    assert_int_equal(r->pub_ok, N);
    pthread_mutex_unlock(&r->mu);
    /* a missed wake-up would hold stop() for its whole 20 s timeout */
    assert_true(st.returned_ms - resumed < 10000);

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

static bool pred_too_large(recorder *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].state == AIOE_SESSION_DISCONNECTED && r->ev[i].status == AIOE_ERR_TOO_LARGE &&
            strstr(r->ev[i].msg, "configured maximum of 100"))
            return true;
    return false;
}

static void token_size_bound(void **state)
{
    (void)state;
    broker *b = start_broker(false);
    aioe_parse_result *res = fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_SAT TLS_OFF
                                         "    clientIdPrefix: big-token-\n",
                                         broker_port(b, 0));
    char token[300];
    memset(token, 'k', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    token_dir t;
    fx_token_init(&t, token);
    recorder *r = recorder_new();
    aioe_session_options *o = NULL;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    assert_int_equal(aioe_session_options_set_max_token_bytes(o, 65536), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_set_max_token_bytes(o, 100), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_token_file(o, t.path);
    aioe_session_options_set_reconnect_backoff(o, 5000, 5000);
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "x", o), AIOE_OK);
    aioe_session_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    /* the attempt fails before anything is sent, and says why */
    assert_true(fx_wait(r, pred_too_large, NULL, WAIT_MS));
    assert_false(broker_log_contains(b, "big-token-x"));
    assert_true(fx_log_lacks(r, token));

    aioe_session_free(s);
    fx_token_free(&t);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_options_checks),
        cmocka_unit_test(properties_round_trip),
        cmocka_unit_test(cloudevents_create_or_remap),
        cmocka_unit_test(cloudevents_on_plain_publish),
        cmocka_unit_test(cloudevents_propagate),
        cmocka_unit_test(retain_keep_and_never),
        cmocka_unit_test(shared_subscriptions_and_unsubscribe),
        cmocka_unit_test(resubscribe_and_restore),
        cmocka_unit_test(queued_bytes_bound),
        cmocka_unit_test(window_callback),
        cmocka_unit_test(stop_drains_outstanding),
        cmocka_unit_test(token_size_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
