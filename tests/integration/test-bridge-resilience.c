/* aioe-bridge (examples/bridge) against real mosquitto brokers, when things
 * go wrong: source A, destination B, an independent observer subscribed on B.
 *
 * - sigkill_and_broker_restart: a QoS 1 stream while the bridge is
 *   SIGKILLed three times and the destination broker (persistent) is
 *   restarted once: zero messages missing, duplicates counted
 * - backpressure: destination down longer than the bounded store holds:
 *   the source is paused (messages wait in A's persistent session), the
 *   store stays bounded, nothing is dropped, everything arrives later
 * - shared_instances: instanceCount 3 shares the source ($share/), three
 *   stable client IDs, every message exactly once
 *
 * What the bridge forwards is in test-bridge-forward.c. The bridge runs as
 * a child process (AIOE_BRIDGE); every wait is on a condition with a
 * deadline. */
#include "bridge-fixture.h"

#define STREAM 3000
#define CHUNK 100

static void test_sigkill_and_broker_restart(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "out/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("kill", "site", "cloud", "in/#", "out/${inputTopic}", NULL, 0);
    char *yaml = write_yaml("kill.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-kill");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "300", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to in/#", 1, WAIT_MS));

    int kills = 0;
    for (unsigned c = 0; c < STREAM / CHUNK; c++) {
        publish_range(a, "in/s", c * CHUNK, (c + 1) * CHUNK, 1);
        if (c == 4 || c == 11 || c == 19) {
            /* mid-stream: the chunk just published is still moving */
            bridge_kill9(&bp);
            free(bp.log);
            kills++;
            bp = bridge_spawn(args);
        }
        if (c == 15)
            assert_int_equal(broker_restart(b), 0);
    }
    tally t = {.o = o, .want = STREAM, .seen = calloc(STREAM, 1)};
    bool all = harness_wait_until(tally_complete, &t, 40000);
    print_message("received %zu distinct of %d, %zu duplicates, %d SIGKILLs\n", t.distinct,
                  STREAM, t.dups, kills);
    if (!all) {
        for (unsigned i = 0, shown = 0; i < STREAM && shown < 20; i++)
            if (!t.seen[i]) {
                fprintf(stderr, "missing m-%06u\n", i);
                shown++;
            }
    }
    assert_true(all);
    assert_int_equal(t.foreign, 0);
    assert_int_equal(bridge_stop(&bp), 0);
    long long dup = stat_value(bp.log, "instance=kill-0", "duplicates_suspected");
    print_message("last run: duplicates_suspected=%lld\n", dup);
    assert_true(dup >= 0);
    assert_int_equal(stat_value(bp.log, "instance=kill-0", "store_undone"), 0);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static void test_backpressure(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "bp/#");
    assert_int_equal(broker_stop(b), 0); /* destination down from the start */
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("bp", "site", "cloud", "src/#", "bp/${inputTopic.2}", NULL, 0);
    char *yaml = write_yaml("bp.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-bp");
    const char *args[] = {"--state-dir", sd, "--max-store-bytes", "64K", "--segment-bytes",
                          "4K", "--high-water", "50", "--low-water", "25",
                          "--reconnect-max-ms", "300", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to src/#", 1, WAIT_MS));

    const unsigned n = 2000; /* ~90 bytes a record: ~180 KB, the store holds 64 KB */
    publish_range(a, "src/", 0, n, 1);
    assert_true(bridge_wait_log(&bp, "pausing the source", 1, WAIT_MS));
    kill(bp.pid, SIGUSR1);
    assert_true(bridge_wait_log(&bp, "stats instance=bp-0", 1, WAIT_MS));
    long long bytes = stat_value(bp.log, "instance=bp-0", "store_bytes");
    long long received = stat_value(bp.log, "instance=bp-0", "received");
    print_message("paused with store_bytes=%lld after %lld received of %u\n", bytes,
                  received, n);
    /* bounded: at most the bound plus what the source had in flight */
    assert_true(bytes > 0 && bytes <= 64 * 1024 + 100 * 128);
    assert_true(received < n);

    assert_int_equal(broker_restart(b), 0);
    tally t = {.o = o, .want = n, .seen = calloc(n, 1)};
    assert_true(harness_wait_until(tally_complete, &t, 40000));
    assert_true(bridge_wait_log(&bp, "resuming the source", 1, WAIT_MS));
    int rc = bridge_stop(&bp);
    if (rc != 0) {
        char *text = harness_read_file(bp.log, NULL);
        fprintf(stderr, "bridge exit %d; log:\n%s\n", rc, text ? text : "");
        free(text);
    }
    assert_int_equal(rc, 0);
    assert_true(stat_value(bp.log, "instance=bp-0", "pauses") >= 1);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_rejected"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_invalid"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "dropped_qos0"), 0);
    assert_int_equal(stat_value(bp.log, "instance=bp-0", "store_errors"), 0);
    /* pausing disconnects the source with messages delivered but not yet
     * acknowledged: the source broker sends those again (duplicates) */
    assert_true(stat_value(bp.log, "instance=bp-0", "forwarded") >= n);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

static void test_shared_instances(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o = observe(b, "sh/#");
    char *ea = endpoint_yaml("site", broker_port(a, 0), NULL);
    char *eb = endpoint_yaml("cloud", broker_port(b, 0), NULL);
    char *df = dataflow_yaml("sh", "site", "cloud", "in/#", "sh/${inputTopic}", "three", 3);
    char *yaml = write_yaml("shared.yaml", ea, eb, df);
    char *sd = harness_mkdir("state-shared");
    const char *args[] = {"--state-dir", sd, yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to $share/sh/in/#", 3, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-0", 1, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-1", 1, WAIT_MS));
    assert_true(broker_wait_client(a, "t-sh-2", 1, WAIT_MS));
    publish_range(a, "in/", 0, 600, 1);
    tally t = {.o = o, .want = 600, .seen = calloc(600, 1)};
    assert_true(harness_wait_until(tally_complete, &t, WAIT_MS));
    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(t.dups, 0);
    assert_int_equal(stat_value(bp.log, "total", "forwarded"), 600);
    /* the broker spread the load over more than one instance */
    int busy = 0;
    for (int i = 0; i < 3; i++) {
        char label[32];
        snprintf(label, sizeof label, "instance=sh-%d", i);
        busy += stat_value(bp.log, label, "forwarded") > 0;
    }
    assert_true(busy >= 2);

    free(t.seen);
    observer_free(o);
    free(ea); free(eb); free(df); free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_and_broker_restart),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_shared_instances),
    };
    /* AIOE_TEST_FILTER=test_backpressure (glob) runs a subset. */
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
