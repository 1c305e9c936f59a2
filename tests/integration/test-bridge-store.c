/* Unit tests for aioe-bridge's durable store (examples/bridge/store.c):
 * round trip, replay of undone records, torn tails, segment roll and
 * deletion, the directory lock, and a crash (child _exit) before acks are
 * flushed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

static char *mkstate(void)
{
    char tmpl[] = "/tmp/aioe-store-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rmstate(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static size_t count_files(const char *dir, const char *ext)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.%s$' || true", dir, ext);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    assert_int_equal(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

typedef struct seqlist {
    uint64_t seq[4096];
    size_t n;
} seqlist;

static void collect(uint64_t seq, void *ud)
{
    seqlist *l = ud;
    if (l->n < 4096)
        l->seq[l->n++] = seq;
}

static void put(bstore *st, int i, uint64_t *seq)
{
    char topic[64], payload[64];
    snprintf(topic, sizeof topic, "t/%d", i);
    snprintf(payload, sizeof payload, "payload-%06d", i);
    bstore_msg m = {.topic = topic, .topic_len = strlen(topic), .payload = payload,
                    .payload_len = strlen(payload), .qos = 1, .retain = (i % 2) == 0};
    assert_int_equal(bstore_append(st, &m, seq), 0);
}

static void round_trip(void **state)
{
    (void)state;
    char *dir = mkstate();
    char err[256];
    bstore *st;
    assert_int_equal(bstore_open(&st, dir, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    aioe_user_property up[2] = {{"a", 1, "1", 1}, {"name", 4, "", 0}};
    bstore_msg m = {.topic = "x/y", .topic_len = 3, .payload = "\0bin\0", .payload_len = 5,
                    .qos = 1, .retain = true, .content_type = "application/json",
                    .content_type_len = 16, .props = up, .prop_count = 2};
    uint64_t seq = 0;
    assert_int_equal(bstore_append(st, &m, &seq), 0);
    assert_int_equal(seq, 1);
    bstore_msg e = {.topic = "e", .topic_len = 1};
    uint64_t seq2;
    assert_int_equal(bstore_append(st, &e, &seq2), 0);
    assert_int_equal(seq2, 2);

    unsigned char *buf = NULL;
    size_t cap = 0, total = 0;
    aioe_user_property props[4];
    bstore_msg r;
    assert_int_equal(bstore_read(st, 1, &buf, &cap, &r, props, 4, &total), 0);
    assert_string_equal(r.topic, "x/y");
    assert_int_equal(r.payload_len, 5);
    assert_memory_equal(r.payload, "\0bin\0", 5);
    assert_true(r.retain);
    assert_int_equal(r.qos, 1);
    assert_int_equal(r.content_type_len, 16);
    assert_memory_equal(r.content_type, "application/json", 16);
    assert_int_equal(total, 2);
    assert_int_equal(r.prop_count, 2);
    assert_memory_equal(r.props[0].name, "a", 1);
    assert_int_equal(r.props[1].name_len, 4);
    assert_int_equal(r.props[1].value_len, 0);
    /* fewer property slots than properties: the view is cut, total kept */
    assert_int_equal(bstore_read(st, 1, &buf, &cap, &r, props, 1, &total), 0);
    assert_int_equal(r.prop_count, 1);
    assert_int_equal(total, 2);
    assert_int_equal(bstore_read(st, 2, &buf, &cap, &r, props, 4, &total), 0);
    assert_string_equal(r.topic, "e");
    assert_null(r.content_type);
    assert_false(r.retain);
    assert_int_equal(bstore_read(st, 3, &buf, &cap, &r, props, 4, &total), -ENOENT);
    assert_int_equal(bstore_undone(st), 2);
    free(buf);
    bstore_close(st);
    rmstate(dir);
}

static void replay_undone(void **state)
{
    (void)state;
    char *dir = mkstate();
    char err[256];
    bstore *st;
    assert_int_equal(bstore_open(&st, dir, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    for (int i = 0; i < 10; i++) {
        uint64_t s;
        put(st, i, &s);
        assert_int_equal(s, (uint64_t)i + 1);
    }
    for (uint64_t s = 1; s <= 10; s += 2)
        bstore_ack(st, s);
    bstore_ack(st, 1); /* a second ack changes nothing */
    assert_int_equal(bstore_undone(st), 5);
    bstore_close(st);

    seqlist l = {0};
    bstore_replay_info info;
    assert_int_equal(bstore_open(&st, dir, NULL, collect, &l, &info, err, sizeof err), 0);
    assert_int_equal(info.records, 10);
    assert_int_equal(info.undone, 5);
    assert_int_equal(info.torn_tails, 0);
    assert_int_equal(l.n, 5);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.seq[i], 2 + 2 * i);
    unsigned char *buf = NULL;
    size_t cap = 0;
    bstore_msg r;
    aioe_user_property props[1];
    assert_int_equal(bstore_read(st, 4, &buf, &cap, &r, props, 1, NULL), 0);
    assert_string_equal(r.topic, "t/3");
    free(buf);
    /* new records continue the sequence */
    uint64_t s;
    put(st, 99, &s);
    assert_int_equal(s, 11);
    for (size_t i = 0; i < l.n; i++)
        bstore_ack(st, l.seq[i]);
    bstore_ack(st, 11);
    assert_int_equal(bstore_undone(st), 0);
    bstore_close(st);

    /* everything done: a clean close leaves no segment behind */
    assert_int_equal(count_files(dir, "seg"), 0);
    l.n = 0;
    assert_int_equal(bstore_open(&st, dir, NULL, collect, &l, &info, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(bstore_segments(st), 1);
    assert_int_equal(count_files(dir, "seg"), 1);
    bstore_close(st);
    rmstate(dir);
}

static void torn_tail(void **state)
{
    (void)state;
    char *dir = mkstate();
    char err[256];
    bstore *st;
    assert_int_equal(bstore_open(&st, dir, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t s;
        put(st, i, &s);
    }
    bstore_close(st);
    char path[512];
    snprintf(path, sizeof path, "%s/%016x.seg", dir, 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* cut the last record's commit marker, as a power loss may */
    assert_int_equal(truncate(path, sb.st_size - 3), 0);

    seqlist l = {0};
    bstore_replay_info info;
    assert_int_equal(bstore_open(&st, dir, NULL, collect, &l, &info, err, sizeof err), 0);
    assert_int_equal(info.records, 2);
    assert_int_equal(info.torn_tails, 1);
    assert_int_equal(l.n, 2);
    bstore_close(st);

    /* a flipped byte inside the second record (all three have one size)
     * fails its checksum: replay keeps only the first */
    assert_int_equal(stat(path, &sb), 0);
    off_t rec = (sb.st_size + 3) / 3;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, 2 * rec - 10), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, 2 * rec - 10), 1);
    close(fd);
    l.n = 0;
    assert_int_equal(bstore_open(&st, dir, NULL, collect, &l, &info, err, sizeof err), 0);
    assert_int_equal(info.records, 1);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.seq[0], 1);
    bstore_close(st);
    rmstate(dir);
}

static void roll_and_delete(void **state)
{
    (void)state;
    char *dir = mkstate();
    char err[256];
    bstore *st;
    bstore_config cfg = {.segment_bytes = 1024, .fsync = true};
    assert_int_equal(bstore_open(&st, dir, &cfg, NULL, NULL, NULL, err, sizeof err), 0);
    uint64_t seqs[200];
    for (int i = 0; i < 200; i++)
        put(st, i, &seqs[i]);
    assert_true(bstore_segments(st) > 10);
    uint64_t full = bstore_bytes(st);
    assert_true(full > 200 * 40);
    for (int i = 0; i < 199; i++)
        bstore_ack(st, seqs[i]);
    /* every sealed segment is gone; the last one holds seq 200 */
    assert_int_equal(bstore_segments(st), 1);
    assert_true(bstore_bytes(st) <= 1024);
    assert_int_equal(count_files(dir, "seg"), 1);
    assert_int_equal(bstore_flush_acks(st), 0);
    bstore_close(st);
    seqlist l = {0};
    assert_int_equal(bstore_open(&st, dir, &cfg, collect, &l, NULL, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.seq[0], 200);
    bstore_close(st);
    rmstate(dir);
}

static void lock_held(void **state)
{
    (void)state;
    char *dir = mkstate();
    char err[256];
    bstore *a, *b;
    assert_int_equal(bstore_open(&a, dir, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(bstore_open(&b, dir, NULL, NULL, NULL, NULL, err, sizeof err), -EWOULDBLOCK);
    assert_non_null(strstr(err, "another aioe-bridge"));
    bstore_close(a);
    assert_int_equal(bstore_open(&b, dir, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    bstore_close(b);
    rmstate(dir);
}

/* A process that dies without closing: appended records survive, acks not
 * yet flushed come back as undone (duplicates, never loss). */
static void crash_before_flush(void **state)
{
    (void)state;
    char *dir = mkstate();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        bstore *st;
        if (bstore_open(&st, dir, NULL, NULL, NULL, NULL, err, sizeof err) != 0)
            _exit(3);
        for (int i = 0; i < 100; i++) {
            uint64_t s;
            put(st, i, &s);
        }
        for (uint64_t s = 1; s <= 50; s++)
            bstore_ack(st, s);
        bstore_flush_acks(st);
        for (uint64_t s = 51; s <= 60; s++)
            bstore_ack(st, s); /* buffered only */
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char err[256];
    bstore *st;
    seqlist l = {0};
    bstore_replay_info info;
    assert_int_equal(bstore_open(&st, dir, NULL, collect, &l, &info, err, sizeof err), 0);
    assert_int_equal(info.records, 100);
    assert_int_equal(l.n, 50);
    assert_int_equal(l.seq[0], 51);
    assert_int_equal(l.seq[49], 100);
    bstore_close(st);
    rmstate(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(replay_undone),
        cmocka_unit_test(torn_tail),
        cmocka_unit_test(roll_and_delete),
        cmocka_unit_test(lock_held),
        cmocka_unit_test(crash_before_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
