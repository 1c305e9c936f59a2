/* Shared fixture of the segment-store tests (test-inbox-store-write.c,
 * test-inbox-store-recovery.c). The inbox's segment store
 * (lib/inbox/store.c, store_open.c): round trip, out-of-order
 * acknowledgement, reclaim and compaction, the byte limit and a full disk
 * (injected), durability levels, and recovery after damage.
 * Issue #15's store cases, each against this store:
 *   1 one flipped bit (and a damaged length field, and a damaged first
 *     record) loses only the damaged record: error with file and offset,
 *     every later record recovered, the file kept as *.damaged, counters;
 *   2 acknowledgement records carry a CRC: a changed byte is detected and
 *     turns into a redelivery, never a loss;
 *   3 a full disk / the byte limit: `full` is raised while there is still
 *     room, a failing append writes nothing and leaves no empty files;
 *   4 a crafted record with a valid CRC and 65535 user properties;
 *   5 a FIFO (and a symbolic link) named like a segment does not hang.
 * "Crash" = a forked child that appends and _exit()s without closing. */
#ifndef AIOE_TESTS_UNIT_INBOX_STORE_FIXTURE_H
#define AIOE_TESTS_UNIT_INBOX_STORE_FIXTURE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "aioendpoint/common.h"
#include "aioendpoint/session.h"
#include "inbox/inbox.h"

#define TMPDIR_FIXTURE_NAME "inbox-store"
#include "tmpdir-fixture.h"

/* the fixture's put() is for text files; these tests write bytes */
static void (*const unused_put)(const char *, const char *) __attribute__((unused)) = put;

/* ---- helpers ---- */

typedef struct logbuf {
    char text[16384];
    size_t len;
    int errors;
} logbuf;

static inline void log_to(void *ctx, int level, const char *line)
{
    logbuf *l = ctx;
    if (level == AIOE_LOG_ERROR)
        l->errors++;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%d %s\n", level, line);
    if (n > 0 && (size_t)n < sizeof l->text - l->len)
        l->len += (size_t)n;
    if (getenv("AIOE_TEST_VERBOSE"))
        fprintf(stderr, "log %d %s\n", level, line);
}

static inline char *newdir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

typedef struct seqs {
    uint64_t v[8192];
    size_t n;
} seqs;

static inline void collect(void *ctx, uint64_t seq, uint32_t size)
{
    (void)size;
    seqs *s = ctx;
    if (s->n < 8192)
        s->v[s->n++] = seq;
}

static inline aioe__store *open_store(const char *dir, const aioe__store_config *cfg, seqs *replayed,
                                      logbuf *log)
{
    aioe__store_config c = cfg ? *cfg : (aioe__store_config){ 0 };
    c.log = log_to;
    c.log_ctx = log;
    aioe__store *st = NULL;
    char err[256];
    int rc = aioe__store_open(&st, dir, &c, collect, replayed, err, sizeof err);
    if (rc != AIOE_OK)
        fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, AIOE_OK);
    return st;
}

static inline uint64_t put_msg(aioe__store *st, int i)
{
    char topic[32], payload[64];
    int tl = snprintf(topic, sizeof topic, "t/%d", i);
    int pl = snprintf(payload, sizeof payload, "payload-%06d", i);
    aioe_user_property up[1] = { { "i", 1, payload, (size_t)pl } };
    aioe__rec_msg m = { .qos = 1, .topic = topic, .topic_len = (size_t)tl, .payload = payload,
                        .payload_len = (size_t)pl, .payload_format = -1, .props = up,
                        .prop_count = 1 };
    uint64_t seq = 0;
    assert_int_equal(aioe__store_append(st, &m, &seq, NULL), AIOE_OK);
    return seq;
}

static inline void check_msg(aioe__store *st, uint64_t seq, int i)
{
    unsigned char *buf = NULL;
    size_t cap = 0;
    aioe__rec_msg m;
    assert_int_equal(aioe__store_read(st, seq, &buf, &cap, &m), AIOE_OK);
    char payload[64];
    int pl = snprintf(payload, sizeof payload, "payload-%06d", i);
    assert_int_equal(m.payload_len, (size_t)pl);
    assert_memory_equal(m.payload, payload, (size_t)pl);
    assert_int_equal(m.prop_count, 1);
    free(buf);
}

/* Appends n messages in a child that then dies without closing. */
static inline void crash_after_appends(const char *dir, const aioe__store_config *cfg, int n,
                                       const int *acks, size_t nacks)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        logbuf log = { 0 };
        seqs r = { 0 };
        aioe__store *st = open_store(dir, cfg, &r, &log);
        for (int i = 1; i <= n; i++)
            put_msg(st, i);
        for (size_t k = 0; k < nacks; k++)
            if (aioe__store_ack(st, (uint64_t)acks[k]) != AIOE_OK)
                _exit(3);
        if (nacks && aioe__store_flush(st) != AIOE_OK)
            _exit(4);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The only .log file in dir (fails when there are more). */
static inline void only_segment(const char *dir, char *out, size_t n)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep '\\.log$'", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char name[128];
    assert_non_null(fgets(name, sizeof name, p));
    name[strcspn(name, "\n")] = '\0';
    char more[128];
    assert_null(fgets(more, sizeof more, p));
    pclose(p);
    snprintf(out, n, "%s/%s", dir, name);
}

static inline size_t count_files(const char *dir, const char *suffix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '%s$' || true", dir, suffix);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    assert_int_equal(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

static inline unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static inline void spit(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Offset of the k-th record (0-based) of a segment file. */
static inline size_t record_offset(const unsigned char *b, size_t len, size_t k)
{
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        aioe__rec_view v;
        assert_int_equal(aioe__rec_parse(b + off, len - off, &v), AIOE__REC_OK);
        off += v.total;
    }
    return off;
}

#endif
