/* aioe-bridge applies a changed configuration on SIGHUP
 * (docs/operations.md#reload-sighup), against two real mosquitto brokers:
 * source A, destination B, independent observers on B.
 *
 * - apply: two dataflows stream across a SIGHUP that changes one's
 *   destination topic and leaves the other alone. Nothing is lost on
 *   either; the changed one restarts (a second CONNECT of its client ID
 *   on both brokers) and what is published after the reload arrives on
 *   its new topic; the unchanged one never reconnects (one CONNECT of
 *   each of its client IDs, no reconnect counted). A second SIGHUP
 *   removes one dataflow (its store stays on disk) and adds another,
 *   which forwards. Every running session is asked to re-read its
 *   credentials on SIGHUP (aioe_session_reload_credentials(); here nothing
 *   changed, so none reconnects).
 *
 * The bridge runs as a child process (AIOE_BRIDGE); every wait is on a
 * condition with a deadline. */
#include "bridge-fixture.h"

#include <sys/stat.h>

#define BATCH 400u

/* Marks m-NNNNNN payloads of @p o in @p seen (size want); returns how many
 * were new. */
static size_t mark(observer *o, size_t *scanned, unsigned char *seen, unsigned want)
{
    size_t added = 0;
    const observer_msg *m;
    while ((m = observer_get(o, *scanned)) != NULL) {
        (*scanned)++;
        unsigned n;
        if (sscanf((const char *)m->payload, "m-%u", &n) == 1 && n < want && !seen[n]) {
            seen[n] = 1;
            added++;
        }
    }
    return added;
}

typedef struct union_wait {
    observer *o[2];
    size_t scanned[2];
    unsigned char *seen;
    unsigned want;
    size_t distinct;
} union_wait;

static bool union_complete(void *arg)
{
    union_wait *u = arg;
    for (int i = 0; i < 2; i++)
        if (u->o[i])
            u->distinct += mark(u->o[i], &u->scanned[i], u->seen, u->want);
    return u->distinct >= u->want;
}

static void report_missing(const union_wait *u, const char *what)
{
    unsigned shown = 0;
    fprintf(stderr, "%s: %zu of %u arrived; missing:", what, u->distinct, u->want);
    for (unsigned i = 0; i < u->want && shown < 20; i++)
        if (!u->seen[i]) {
            fprintf(stderr, " %u", i);
            shown++;
        }
    fprintf(stderr, "\n");
}

static char *flows_yaml(int pa, int pb, const char *move_dest, bool with_move, bool with_extra)
{
    char *ea = endpoint_yaml("site", pa, NULL);
    char *eb = endpoint_yaml("cloud", pb, NULL);
    char *keep = dataflow_yaml("keep", "site", "cloud", "keep/#", "out/keep/${inputTopic}",
                               NULL, 0);
    char *move = dataflow_yaml("move", "site", "cloud", "move/#", move_dest, NULL, 0);
    char *extra = dataflow_yaml("extra", "site", "cloud", "extra/#", "out/extra/${inputTopic}",
                                NULL, 0);
    char *all = NULL;
    assert_true(asprintf(&all, "%s%s%s%s%s%s", ea, eb, keep, with_move ? "---\n" : "",
                         with_move ? move : "", with_extra ? "---\n" : "") > 0);
    char *path = write_yaml("reload.yaml", all, with_extra ? extra : "", NULL);
    free(ea); free(eb); free(keep); free(move); free(extra); free(all);
    return path;
}

static void test_apply(void **state)
{
    (void)state;
    broker *a, *b;
    start_brokers(&a, &b);
    observer *o_keep = observe(b, "out/keep/#");
    observer *o_old = observe(b, "out/old/#");
    observer *o_new = observe(b, "out/new/#");
    observer *o_extra = observe(b, "out/extra/#");
    int pa = broker_port(a, 0), pb = broker_port(b, 0);
    char *yaml = flows_yaml(pa, pb, "out/old/${inputTopic}", true, false);
    char *sd = harness_mkdir("state-reload");
    const char *args[] = {"--state-dir", sd, "--reconnect-max-ms", "500", yaml, NULL};
    bridge_proc bp = bridge_spawn(args);
    assert_true(bridge_wait_log(&bp, "subscribed to keep/#", 1, WAIT_MS));
    assert_true(bridge_wait_log(&bp, "subscribed to move/#", 1, WAIT_MS));

    /* a stream on both dataflows: one batch before the SIGHUP, one while
     * it is being applied, one after it is done */
    publish_range(a, "keep/", 0, BATCH, 1);
    publish_range(a, "move/", 0, BATCH, 1);
    char *y2 = flows_yaml(pa, pb, "out/new/${inputTopic}", true, false);
    free(y2);
    kill(bp.pid, SIGHUP);
    publish_range(a, "keep/", BATCH, 2 * BATCH, 1);
    publish_range(a, "move/", BATCH, 2 * BATCH, 1);
    assert_true(bridge_wait_log(&bp, "SIGHUP: reload done: 1 unchanged, 1 restarted, "
                                     "0 added, 0 removed", 1, WAIT_MS));
    assert_true(bridge_wait_log(&bp, "keep-0: info: reload: unchanged", 1, 0));
    assert_true(bridge_wait_log(&bp, "move-0: info: reload: restarted", 1, 0));
    /* every session was asked to re-read its credentials (nothing changed) */
    assert_true(bridge_wait_log(&bp, "keep-0: info: source: credentials reloaded: unchanged",
                                1, WAIT_MS));
    assert_true(bridge_wait_log(&bp, "keep-0: info: destination: credentials reloaded: "
                                     "unchanged", 1, WAIT_MS));
    publish_range(a, "keep/", 2 * BATCH, 3 * BATCH, 1);
    publish_range(a, "move/", 2 * BATCH, 3 * BATCH, 1);

    /* nothing lost on either dataflow */
    union_wait uk = {.o = {o_keep, NULL}, .seen = calloc(3 * BATCH, 1), .want = 3 * BATCH};
    bool ok = harness_wait_until(union_complete, &uk, WAIT_MS);
    if (!ok)
        report_missing(&uk, "keep");
    assert_true(ok);
    union_wait um = {.o = {o_old, o_new}, .seen = calloc(3 * BATCH, 1), .want = 3 * BATCH};
    ok = harness_wait_until(union_complete, &um, WAIT_MS);
    if (!ok)
        report_missing(&um, "move");
    assert_true(ok);
    /* after the reload, the changed dataflow publishes on its new topic */
    union_wait after = {.o = {o_new, NULL}, .seen = calloc(3 * BATCH, 1), .want = 3 * BATCH};
    union_complete(&after);
    for (unsigned i = 2 * BATCH; i < 3 * BATCH; i++)
        assert_true(after.seen[i]);
    size_t on_old = observer_count(o_old);
    assert_true(on_old >= 1);

    /* the unchanged dataflow's sessions were never replaced or reconnected;
     * the changed one's were (once) */
    assert_int_equal(broker_log_count(a, "as t-keep-0 ("), 1);
    assert_int_equal(broker_log_count(b, "as t-keep-0-dst ("), 1);
    assert_int_equal(broker_log_count(a, "as t-move-0 ("), 2);
    assert_int_equal(broker_log_count(b, "as t-move-0-dst ("), 2);
    assert_int_equal(count_in_file(bp.log, "keep-0: info: source connected"), 1);
    assert_int_equal(count_in_file(bp.log, "keep-0: info: destination connected"), 1);

    /* remove "move" (its store stays), add "extra" */
    y2 = flows_yaml(pa, pb, "out/new/${inputTopic}", false, true);
    free(y2);
    kill(bp.pid, SIGHUP);
    assert_true(bridge_wait_log(&bp, "SIGHUP: reload done: 1 unchanged, 0 restarted, "
                                     "1 added, 1 removed", 1, WAIT_MS));
    assert_true(bridge_wait_log(&bp, "move-0: info: reload: removed", 1, 0));
    assert_true(bridge_wait_log(&bp, "extra-0: info: reload: added", 1, 0));
    assert_true(bridge_wait_log(&bp, "subscribed to extra/#", 1, WAIT_MS));
    char *move_store = NULL;
    assert_true(asprintf(&move_store, "%s/move-0", sd) > 0);
    struct stat st;
    assert_int_equal(stat(move_store, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    publish_range(a, "extra/", 0, 50, 1);
    union_wait ux = {.o = {o_extra, NULL}, .seen = calloc(50, 1), .want = 50};
    assert_true(harness_wait_until(union_complete, &ux, WAIT_MS));
    publish_range(a, "keep/", 3 * BATCH, 3 * BATCH + 50, 1);
    assert_true(observer_wait(o_keep, uk.scanned[0] + 50, WAIT_MS) >= uk.scanned[0] + 50);
    assert_int_equal(broker_log_count(a, "as t-keep-0 ("), 1);

    assert_int_equal(bridge_stop(&bp), 0);
    assert_int_equal(stat_value(bp.log, "instance=keep-0", "reconnects_source"), 0);
    assert_int_equal(stat_value(bp.log, "instance=keep-0", "reconnects_destination"), 0);
    assert_int_equal(stat_value(bp.log, "instance=keep-0", "dropped_rejected"), 0);
    assert_int_equal(stat_value(bp.log, "instance=keep-0", "store_undone"), 0);

    free(uk.seen); free(um.seen); free(after.seen); free(ux.seen); free(move_store);
    observer_free(o_keep); observer_free(o_old); observer_free(o_new); observer_free(o_extra);
    free(yaml); free(sd); free(bp.log);
    broker_free(a);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
