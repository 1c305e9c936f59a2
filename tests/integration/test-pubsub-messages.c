/* Publish/subscribe against a real mosquitto, what a message carries: MQTT v5
 * properties through the message builder, the CloudEvents stage on publish
 * (checked with the independent libmosquitto observer and with
 * mosquitto_sub's own output), retain Keep/Never for forwarded messages and
 * copies of messages. Subscriptions are in test-pubsub-subscribe.c, limits
 * in test-pubsub-limits.c. */
#include "pubsub-fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <uuid/uuid.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(properties_round_trip),
        cmocka_unit_test(cloudevents_create_or_remap),
        cmocka_unit_test(cloudevents_on_plain_publish),
        cmocka_unit_test(cloudevents_propagate),
        cmocka_unit_test(retain_keep_and_never),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
