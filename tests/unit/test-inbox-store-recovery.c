/* The inbox's segment store (lib/inbox/store.c, store_open.c), recovery: a
 * crash keeps everything not acknowledged; damaged records, lengths and
 * acknowledgements, a crafted record with a valid CRC, a torn tail, FIFOs
 * and symbolic links named like segments. Writing is in
 * test-inbox-store-write.c; issue #15's cases are listed in
 * inbox-store-fixture.h. */
#include "inbox-store-fixture.h"

static void crash_keeps_everything_not_acknowledged(void **state)
{
    (void)state;
    const char *dir = newdir("crash");
    int acks[] = { 2, 4, 6 };
    crash_after_appends(dir, NULL, 10, acks, 3);
    logbuf log = { 0 };
    seqs r = { 0 };
    aioe__store *st = open_store(dir, NULL, &r, &log);
    assert_int_equal(r.n, 7);
    for (size_t k = 0; k < r.n; k++)
        check_msg(st, r.v[k], (int)r.v[k]);
    aioe__store_close(st);
    assert_int_equal(log.errors, 0);
}

/* Issue #15 case 1: damage in record `victim` (0-based record index) of
 * 300; `where` is the byte offset inside the record to change. */
static void damage_and_recover(const char *name, size_t victim, size_t where, unsigned char x)
{
    const char *dir = newdir(name);
    crash_after_appends(dir, NULL, 300, NULL, 0);
    char path[512];
    only_segment(dir, path, sizeof path);
    size_t len;
    unsigned char *b = slurp(path, &len);
    size_t off = record_offset(b, len, victim);
    b[off + where] ^= x;
    spit(path, b, len);
    free(b);

    logbuf log = { 0 };
    seqs r = { 0 };
    aioe__store *st = open_store(dir, NULL, &r, &log);
    assert_int_equal(r.n, 299); /* every intact record */
    for (size_t k = 0; k < r.n; k++) {
        assert_true(r.v[k] != victim + 1);
        check_msg(st, r.v[k], (int)r.v[k]);
    }
    aioe__store_stats stats;
    aioe__store_get_stats(st, &stats);
    assert_int_equal(stats.damaged_ranges, 1);
    assert_int_equal(stats.records_lost, 1);
    assert_int_equal(stats.files_damaged, 1);
    assert_true(log.errors >= 1);
    /* the error names the file and the offset */
    char want[600];
    snprintf(want, sizeof want, "at offset %zu skipped", off);
    assert_non_null(strstr(log.text, want));
    assert_non_null(strstr(log.text, strrchr(path, '/') + 1));
    /* the damaged file is kept aside, not deleted */
    char aside[600];
    snprintf(aside, sizeof aside, "%s.damaged", path);
    struct stat sb;
    assert_int_equal(stat(aside, &sb), 0);
    aioe__store_close(st);
    /* and a second open finds no damage: the good records were moved */
    logbuf log2 = { 0 };
    seqs r2 = { 0 };
    st = open_store(dir, NULL, &r2, &log2);
    assert_int_equal(r2.n, 299);
    assert_int_equal(log2.errors, 0);
    aioe__store_close(st);
}

static void bit_flip_loses_only_that_record(void **state)
{
    (void)state;
    damage_and_recover("flip", 100, AIOE__REC_HEADER + 20, 0x04);
}

static void damaged_length_field_loses_only_that_record(void **state)
{
    (void)state;
    damage_and_recover("length", 100, 9, 0x40);
}

static void damaged_first_record_loses_only_that_record(void **state)
{
    (void)state;
    damage_and_recover("first", 0, 2, 0x01);
}

/* Issue #15 case 2: acknowledgements carry a CRC. */
static void damaged_ack_record_redelivers_never_drops(void **state)
{
    (void)state;
    const char *dir = newdir("ackdamage");
    int acks[] = { 170 };
    crash_after_appends(dir, NULL, 300, acks, 1);
    char path[512];
    only_segment(dir, path, sizeof path);
    size_t len;
    unsigned char *b = slurp(path, &len);
    size_t off = record_offset(b, len, 300); /* the ack record after 300 messages */
    aioe__rec_view v;
    assert_int_equal(aioe__rec_parse(b + off, len - off, &v), AIOE__REC_OK);
    assert_int_equal(v.type, AIOE__REC_ACK);
    b[off + AIOE__REC_HEADER + 4] ^= 0x01; /* the sequence number 170 */
    spit(path, b, len);
    free(b);

    logbuf log = { 0 };
    seqs r = { 0 };
    aioe__store *st = open_store(dir, NULL, &r, &log);
    assert_int_equal(r.n, 300); /* 170 comes again: a duplicate, not a loss */
    assert_true(log.errors >= 1);
    assert_non_null(strstr(log.text, "skipped"));
    aioe__store_close(st);
}

/* Issue #15 case 4 at the store level. */
static void crafted_record_with_valid_crc_is_skipped(void **state)
{
    (void)state;
    const char *dir = newdir("crafted");
    crash_after_appends(dir, NULL, 3, NULL, 0);
    char path[512];
    only_segment(dir, path, sizeof path);
    size_t len;
    unsigned char *b = slurp(path, &len);
    size_t off = record_offset(b, len, 1);
    aioe__rec_view v;
    assert_int_equal(aioe__rec_parse(b + off, len - off, &v), AIOE__REC_OK);
    /* user property count (after fixed part and topic "t/2") := 65535 */
    size_t at = off + AIOE__REC_HEADER + AIOE__REC_MSG_FIXED + 2 + 3;
    b[at] = 0xff;
    b[at + 1] = 0xff;
    b[at + 2] = b[at + 3] = 0;
    uint32_t crc = aioe__crc32c_extend(0, b + off + 8, 8);
    crc = aioe__crc32c_extend(crc, b + off + AIOE__REC_HEADER, v.body_len);
    for (int i = 0; i < 4; i++)
        b[off + 4 + i] = (unsigned char)(crc >> (8 * i));
    spit(path, b, len);
    free(b);
    logbuf log = { 0 };
    seqs r = { 0 };
    aioe__store *st = open_store(dir, NULL, &r, &log);
    assert_int_equal(r.n, 2);
    assert_true(r.v[0] == 1 && r.v[1] == 3);
    assert_non_null(strstr(log.text, "invalid message record"));
    aioe__store_close(st);
}

static void torn_tail_is_a_warning_not_a_loss(void **state)
{
    (void)state;
    const char *dir = newdir("torn");
    crash_after_appends(dir, NULL, 20, NULL, 0);
    char path[512];
    only_segment(dir, path, sizeof path);
    size_t len;
    unsigned char *b = slurp(path, &len);
    size_t off = record_offset(b, len, 19);
    spit(path, b, off + 10); /* the last write was cut short */
    free(b);
    logbuf log = { 0 };
    seqs r = { 0 };
    aioe__store *st = open_store(dir, NULL, &r, &log);
    assert_int_equal(r.n, 19);
    aioe__store_stats stats;
    aioe__store_get_stats(st, &stats);
    assert_int_equal(stats.torn_tails, 1);
    assert_int_equal(stats.records_lost, 0);
    assert_int_equal(log.errors, 0);
    assert_non_null(strstr(log.text, "incomplete record at offset"));
    aioe__store_close(st);
}

/* Issue #15 case 5. */
static void fifo_and_symlink_named_like_segments_are_refused(void **state)
{
    (void)state;
    const char *dir = newdir("fifo");
    crash_after_appends(dir, NULL, 2, NULL, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/00000000000000f0.log", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/00000000000000f1.log", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    logbuf log = { 0 };
    seqs r = { 0 };
    alarm(20); /* a hang fails the test instead of the suite's timeout */
    aioe__store *st = open_store(dir, NULL, &r, &log);
    alarm(0);
    assert_int_equal(r.n, 2);
    aioe__store_stats stats;
    aioe__store_get_stats(st, &stats);
    assert_int_equal(stats.files_refused, 2);
    assert_non_null(strstr(log.text, "not a regular file"));
    assert_non_null(strstr(log.text, "symbolic link"));
    /* new segments never take the refused names */
    put_msg(st, 3);
    aioe__store_close(st);
    struct stat sb;
    snprintf(p, sizeof p, "%s/00000000000000f0.log", dir);
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_keeps_everything_not_acknowledged),
        cmocka_unit_test(bit_flip_loses_only_that_record),
        cmocka_unit_test(damaged_length_field_loses_only_that_record),
        cmocka_unit_test(damaged_first_record_loses_only_that_record),
        cmocka_unit_test(damaged_ack_record_redelivers_never_drops),
        cmocka_unit_test(crafted_record_with_valid_crc_is_skipped),
        cmocka_unit_test(torn_tail_is_a_warning_not_a_loss),
        cmocka_unit_test(fifo_and_symlink_named_like_segments_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
