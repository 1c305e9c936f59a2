/* aioe-bridge (examples/bridge) against real mosquitto brokers, what it
 * forwards: source A, destination B, an independent observer subscribed on B.
 *
 * - forward: topic templates, unresolvable variables dropped and counted,
 *   retain Never, QoS 0 and 1, clean SIGTERM drain with exit 0
 * - transformation: a published-style BuiltInTransformation (filter, map):
 *   the documented output; filtered and non-JSON messages dropped, counted
 * - properties_and_cloudevents: content type and user properties through
 *   the store, the destination's CloudEvents stage, retain Keep
 * - pubsub_tools: aioe-pub and aioe-sub over an endpoint file
 * - exit_codes: bad YAML, unknown endpointRef, Event Grid instanceCount:
 *   exit 1; unreadable token, broker refusing the credentials: exit 3
 *   (examples/common/tool.h)
 *
 * Crashes, restarts, backpressure and shared instances are in
 * test-bridge-resilience.c. The bridge runs as a child process
 * (AIOE_BRIDGE); every wait is on a condition with a deadline. */
#include "bridge-fixture.h"

/* ---- tests ---- */

static void test_forward(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "cloud/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), "    retain: Never\n");
    char *df = dataflow_yaml("fwd", "site", "cloud", "factory/#",
                             "cloud/${inputTopic.2}/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("forward.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-forward");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to factory/#", 1, WAIT_MS));

    assert_int_equal(harness_publish(a, 0, "factory/l1/temp", "m-000000", 8, 1, true), 0);
    assert_int_equal(harness_publish(a, 0, "factory", "m-999999", 8, 1, false), 0);
    publish_range(a, "factory/q0-", 1, 50, 0);
    publish_range(a, "factory/q1-", 50, 200, 1);
    tally t = {.o = o, .want = 200, .seen = calloc(200, 1)};
    assert_true(harness_wait_until(tally_complete, &t, WAIT_MS));
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "cloud/l1/factory/l1/temp");
    assert_false(m->retain); /* retain: Never on the destination */
    assert_int_equal(t.dups, 0);
    assert_int_equal(t.foreign, 0);

    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "received"), 201);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "forwarded"), 200);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "dropped_unresolved"), 1);
    assert_int_equal(stat_value(bp.log, "instance=fwd-0", "store_undone"), 0);
    assert_true(count_in_file(bp.log, "cannot resolve") >= 1);
    assert_true(count_in_file(bp.log, "stopped cleanly") == 1);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static int run_for_status(const char *yaml_path, const char *extra, const char *expect)
{
    char *sd = harness_mkdir("state-exit");
    const char *args[8] = {"--state-dir", sd, "--log-level", "warning"};
    size_t k = 4;
    if (extra) {
        args[k++] = "--token-file";
        args[k++] = extra;
    }
    args[k++] = yaml_path;
    args[k] = NULL;
    bridge_proc bp = bridge_spawn(args);
    int rc = bridge_wait_exit(&bp, WAIT_MS);
    if (expect && count_in_file(bp.log, expect) == 0) {
        char *text = harness_read_file(bp.log, NULL);
        fprintf(stderr, "expected '%s' in:\n%s\n", expect, text ? text : "");
        free(text);
        rc = -100;
    }
    free(bp.log);
    free(sd);
    return rc;
}

static void test_exit_codes(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.allow_anonymous = false;
    broker *closed;
    assert_int_equal(broker_start(&cfg, &closed), 0);
    int port = broker_port(closed, 0);

    char *ea = endpoint_yaml("site", port, NULL);
    char *eb = endpoint_yaml("cloud", port, NULL);
    char *df = dataflow_yaml("x", "site", "cloud", "a/#", "b/${inputTopic}", NULL, 0);

    /* bad YAML */
    char *p = write_yaml("bad.yaml", "kind: [unclosed\n", NULL, NULL);
    assert_int_equal(run_for_status(p, NULL, "bad.yaml:"), 1);
    free(p);
    /* unknown endpointRef */
    char *df2 = dataflow_yaml("x", "site", "nowhere", "a/#", "b", NULL, 0);
    p = write_yaml("unknown.yaml", ea, df2, NULL);
    assert_int_equal(run_for_status(p, NULL, "unknown endpointRef 'nowhere'"), 1);
    free(p);
    free(df2);
    /* a dataflow without a Destination operation */
    char *nodst = NULL;
    assert_true(asprintf(&nodst,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
        "metadata:\n  name: x\nspec:\n  operations:\n"
        "    - operationType: Source\n      sourceSettings:\n"
        "        endpointRef: site\n        dataSources: [\"a/#\"]\n") > 0);
    p = write_yaml("nodst.yaml", ea, nodst, NULL);
    assert_int_equal(run_for_status(p, NULL, "no Destination operation"), 1);
    free(p);
    free(nodst);
    /* no dataflow at all */
    p = write_yaml("nodf.yaml", ea, NULL, NULL);
    assert_int_equal(run_for_status(p, NULL, "no Dataflow"), 1);
    free(p);
    /* Event Grid source with instanceCount 2 */
    char *eg = NULL;
    assert_true(asprintf(&eg,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: eg\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: ns.westeurope-1.ts.eventgrid.azure.net:8883\n"
        "    authentication:\n      method: X509Certificate\n"
        "      x509CertificateSettings:\n        secretRef: eg-cert\n"
        "    tls:\n      mode: Enabled\n---\n") > 0);
    char *df3 = dataflow_yaml("x", "eg", "cloud", "a/#", "b", "two", 2);
    p = write_yaml("eg.yaml", eg, eb, df3);
    assert_int_equal(run_for_status(p, NULL, "instanceCount 2"), 1);
    free(p);
    free(df3);
    free(eg);
    /* token file missing: the endpoint cannot authenticate */
    char *sat = NULL;
    assert_true(asprintf(&sat,
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: site\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:%d\n"
        "    authentication:\n      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
        "    tls:\n      mode: Disabled\n---\n", port) > 0);
    p = write_yaml("sat.yaml", sat, eb, df);
    char *missing = harness_path("no-such-token");
    assert_int_equal(run_for_status(p, missing, "cannot start"), 3);
    free(missing);
    free(p);
    free(sat);
    /* the broker refuses anonymous clients: CONNACK "not authorized" */
    p = write_yaml("refused.yaml", ea, eb, df);
    assert_int_equal(run_for_status(p, NULL, "stopped for good"), 3);
    free(p);

    free(ea); free(eb); free(df);
    broker_free(closed);
}

/* aioe-pub and aioe-sub over an endpoint file: the subscriber prints the
 * content type and user properties; the publisher's message arrives. */
static void test_pubsub_tools(void **state)
{
    (void)state;
    const char *pub = getenv("AIOE_PUB"), *sub = getenv("AIOE_SUB");
    assert_non_null(pub);
    assert_non_null(sub);
    broker_config cfg;
    broker_config_init(&cfg);
    cfg.log_types = "error warning notice";
    broker *b;
    assert_int_equal(broker_start(&cfg, &b), 0);
    char *ep = endpoint_yaml("local", broker_port(b, 0), NULL);
    char *yaml = write_yaml("pubsub.yaml", ep, NULL, NULL);
    const char *sargs[] = {"-C", "2", yaml, "tools/#", NULL};
    bridge_proc sp = spawn_bin(sub, sargs);
    assert_true(bridge_wait_log(&sp, "subscribed to tools/#", 1, WAIT_MS));

    const char *props[] = {"specversion", "1.0", "source", "aio://test"};
    harness_client_opts co;
    harness_client_opts_for(b, 0, &co);
    harness_pub hp = {.topic = "tools/a", .payload = "{\"v\":1}", .payload_len = 7, .qos = 1,
                      .content_type = "application/json", .user_props = props,
                      .user_prop_pairs = 2};
    assert_int_equal(harness_publish_opts(&co, &hp, 1), 0);
    const char *pargs[] = {"-m", "from-aioe-pub", yaml, "tools/b", NULL};
    bridge_proc pp = spawn_bin(pub, pargs);
    assert_int_equal(bridge_wait_exit(&pp, WAIT_MS), 0);
    assert_int_equal(bridge_wait_exit(&sp, WAIT_MS), 0);
    char *out = harness_read_file(sp.log, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "tools/a qos=1 retain=0"));
    assert_non_null(strstr(out, "content-type: application/json"));
    assert_non_null(strstr(out, "user-property: specversion=1.0"));
    assert_non_null(strstr(out, "user-property: source=aio://test"));
    assert_non_null(strstr(out, "payload (7 bytes): {\"v\":1}"));
    assert_non_null(strstr(out, "payload (13 bytes): from-aioe-pub"));
    free(out);

    /* an endpoint that cannot connect: exit 3 with the reason */
    char *bad = endpoint_yaml("local", harness_free_port(), NULL);
    char *byaml = write_yaml("pubsub-bad.yaml", bad, NULL, NULL);
    const char *bargs[] = {"--timeout", "1", byaml, "tools/c", NULL};
    bridge_proc bpp = spawn_bin(pub, bargs);
    assert_int_equal(bridge_wait_exit(&bpp, WAIT_MS), 3);
    assert_true(count_in_file(bpp.log, "cannot connect to endpoint") == 1);

    free(bad); free(byaml); free(bpp.log);
    free(ep); free(yaml); free(sp.log); free(pp.log);
    broker_free(b);
}

/* Content type and user properties travel through the store, the
 * destination's CloudEvents stage adds its attributes, and with retain:
 * Keep a live retained message keeps its flag (Retain As Published). */
static void test_properties_and_cloudevents(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0),
                             "    retain: Keep\n    cloudEventAttributes: CreateOrRemap\n");
    char *df = dataflow_yaml("props", "site", "cloud", "plant/#", "out/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("props.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-props");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to plant/#", 1, WAIT_MS));
    observer *o = observe(b, "out/#");

    static const char *const props[] = { "site", "plant-7", "line", "4" };
    harness_pub msg = { .topic = "plant/oven", .payload = "21", .payload_len = 2, .qos = 1,
                        .retain = true, .content_type = "application/json",
                        .user_props = props, .user_prop_pairs = 2 };
    harness_client_opts co;
    memset(&co, 0, sizeof co);
    harness_client_opts_for(a, 0, &co);
    assert_int_equal(harness_publish_opts(&co, &msg, 1), 0);
    assert_int_equal(observer_wait(o, 1, WAIT_MS), 1);
    const observer_msg *m = observer_get(o, 0);
    assert_string_equal(m->topic, "out/plant/oven");
    assert_string_equal(m->content_type, "application/json");
    assert_string_equal(m->user_props[0].name, "site");
    assert_string_equal(m->user_props[1].name, "line");
    assert_string_equal(observer_msg_prop(m, "specversion"), "1.0");
    assert_string_equal(observer_msg_prop(m, "source"), "aio://cloud");
    assert_string_equal(observer_msg_prop(m, "subject"), "out/plant/oven");
    assert_non_null(observer_msg_prop(m, "id"));

    /* the destination broker now holds it as retained */
    observer *late = observe(b, "out/#");
    assert_int_equal(observer_wait(late, 1, WAIT_MS), 1);
    assert_true(observer_get(late, 0)->retain);

    assert_int_equal(bridge_stop(&bp), 0);
    observer_free(late);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

/* A published-style Dataflow with a BuiltInTransformation (filter and
 * map, from learn.microsoft.com .../howto-create-dataflow) between two
 * brokers: the documented output, and filtered and untransformable
 * messages dropped and counted (docs/transform.md). */
static void test_transformation(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "factory");
    char *ea = endpoint_yaml("mq-site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("mq-cloud", broker_port(b, 0), NULL);
    const char *df =
        "apiVersion: connectivity.iotoperations.azure.com/v1\n"
        "kind: Dataflow\n"
        "metadata:\n"
        "  name: my-dataflow\n"
        "  namespace: azure-iot-operations\n"
        "spec:\n"
        "  profileRef: default\n"
        "  mode: Enabled\n"
        "  operations:\n"
        "    - operationType: Source\n"
        "      sourceSettings:\n"
        "        endpointRef: mq-site\n"
        "        dataSources:\n"
        "          - thermostats/+/telemetry/temperature/#\n"
        "          - humidifiers/+/telemetry/humidity/#\n"
        "    - operationType: BuiltInTransformation\n"
        "      builtInTransformationSettings:\n"
        "        filter:\n"
        "          - inputs:\n"
        "              - 'temperature.Value'\n"
        "              - '\"Tag 10\".Value'\n"
        "            expression: \"$1*$2<100000\"\n"
        "        map:\n"
        "          - inputs:\n"
        "              - '*'\n"
        "            output: '*'\n"
        "          - inputs:\n"
        "              - temperature.Value\n"
        "            output: TemperatureF\n"
        "            expression: cToF($1)\n"
        "          - inputs:\n"
        "              - '\"Tag 10\".Value'\n"
        "            output: 'Tag 10'\n"
        "        serializationFormat: Json\n"
        "    - operationType: Destination\n"
        "      destinationSettings:\n"
        "        endpointRef: mq-cloud\n"
        "        dataDestination: factory\n";
    char *yaml = write_yaml("transform.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-transform");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to humidifiers/+/telemetry/humidity/#", 1,
                                WAIT_MS));

    static const char *const in[] = {
        ("{\"temperature\": {\"Value\": 100, \"Unit\": \"C\"}, \"Tag 10\": {\"Value\": 1000},"
         " \"id\": \"a\"}"),
        /* 10 * 5 < 100000: the filter is true, the message is dropped */
        "{\"temperature\": {\"Value\": 10}, \"Tag 10\": {\"Value\": 5}, \"id\": \"b\"}",
        "not json",
        "{\"temperature\": {\"Value\": 37.5}, \"Tag 10\": {\"Value\": 4000}, \"id\": \"c\"}",
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(harness_publish(a, 0, "thermostats/t1/telemetry/temperature/x", in[i],
                                         strlen(in[i]), 1, false),
                         0);
    assert_true(observer_wait(o, 2, WAIT_MS) >= 2);
    assert_string_equal((const char *)observer_get(o, 0)->payload,
                        "{\"temperature\":{\"Unit\":\"C\"},\"id\":\"a\",\"TemperatureF\":212.0,"
                        "\"Tag 10\":1000}");
    assert_string_equal((const char *)observer_get(o, 1)->payload,
                        "{\"id\":\"c\",\"TemperatureF\":99.5,\"Tag 10\":4000}");
    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(observer_count(o), 2);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "received"), 4);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "forwarded"), 2);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "dropped_filtered"), 1);
    assert_int_equal(stat_value(bp.log, "instance=my-dataflow-0", "dropped_untransformable"), 1);
    assert_true(count_in_file(bp.log, "cannot transform it: payload is not a JSON object") == 1);

    observer_free(o);
    free(ea); free(eb); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_transformation),
        cmocka_unit_test(test_properties_and_cloudevents),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_pubsub_tools),
    };
    /* AIOE_TEST_FILTER=test_backpressure (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
