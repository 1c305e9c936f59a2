/* The inbox's pure parts: CRC32C against the RFC 3720 B.4 vectors, the
 * record codec (round trips, every truncation, every bit flip, crafted
 * counts with a valid CRC: issue #15 case 4) and resynchronisation after
 * damage (issue #15 case 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aioendpoint/common.h"
#include "inbox/inbox.h"

static void crc32c_rfc3720_vectors(void **state)
{
    (void)state;
    unsigned char buf[48];
    memset(buf, 0, 32);
    assert_int_equal(aioe__crc32c(buf, 32), 0x8A9136AAu);
    assert_int_equal(aioe__crc32c_sw_extend(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    assert_int_equal(aioe__crc32c(buf, 32), 0x62A8AB43u);
    assert_int_equal(aioe__crc32c_sw_extend(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(aioe__crc32c(buf, 32), 0x46DD794Eu);
    assert_int_equal(aioe__crc32c_sw_extend(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(aioe__crc32c(buf, 32), 0x113FDB5Cu);
    assert_int_equal(aioe__crc32c_sw_extend(0, buf, 32), 0x113FDB5Cu);
    /* the iSCSI SCSI Read (10) command PDU */
    static const unsigned char pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    assert_int_equal(aioe__crc32c(pdu, 48), 0xD9963A56u);
    assert_int_equal(aioe__crc32c_sw_extend(0, pdu, 48), 0xD9963A56u);
    assert_int_equal(aioe__crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(aioe__crc32c(NULL, 0), 0);
}

static void crc32c_extends_and_paths_agree(void **state)
{
    (void)state;
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof buf; n += 37) {
        uint32_t whole = aioe__crc32c(buf, n);
        assert_int_equal(aioe__crc32c_sw_extend(0, buf, n), whole);
        for (size_t cut = 0; cut <= n; cut += 13)
            assert_int_equal(aioe__crc32c_extend(aioe__crc32c(buf, cut), buf + cut, n - cut),
                             whole);
    }
}

static const aioe_user_property props[3] = {
    { "a", 1, "1", 1 }, { "empty", 5, "", 0 }, { "a", 1, "dup", 3 },
};

static aioe__rec_msg full_msg(void)
{
    return (aioe__rec_msg){ .seq = 0x0102030405060708ull, .qos = 1, .retain = true,
                            .dup = true, .topic = "x/y", .topic_len = 3,
                            .content_type = "text/plain", .content_type_len = 10,
                            .correlation = "\0c", .correlation_len = 2,
                            .response_topic = "r/t", .response_topic_len = 3,
                            .has_expiry = true, .expiry = 3600, .payload_format = 1,
                            .props = props, .prop_count = 3, .payload = "\0bin\0",
                            .payload_len = 5 };
}

static unsigned char *encode(const aioe__rec_msg *m, size_t *n)
{
    *n = aioe__rec_msg_size(m);
    assert_true(*n > AIOE__REC_HEADER);
    unsigned char *buf = malloc(*n);
    assert_non_null(buf);
    assert_int_equal(aioe__rec_encode_msg(m, buf, *n), *n);
    return buf;
}

static void message_round_trip(void **state)
{
    (void)state;
    aioe__rec_msg m = full_msg();
    size_t n;
    unsigned char *buf = encode(&m, &n);
    aioe__rec_view v;
    assert_int_equal(aioe__rec_parse(buf, n, &v), AIOE__REC_OK);
    assert_int_equal(v.type, AIOE__REC_MSG);
    assert_int_equal(v.total, n);
    aioe__rec_msg d;
    assert_int_equal(aioe__rec_decode_msg(v.body, v.body_len, &d), AIOE_OK);
    assert_true(d.seq == m.seq);
    assert_int_equal(d.qos, 1);
    assert_true(d.retain && d.dup && d.has_expiry);
    assert_int_equal(d.expiry, 3600);
    assert_int_equal(d.payload_format, 1);
    assert_memory_equal(d.topic, "x/y", 3);
    assert_int_equal(d.content_type_len, 10);
    assert_memory_equal(d.content_type, "text/plain", 10);
    assert_int_equal(d.correlation_len, 2);
    assert_memory_equal(d.correlation, "\0c", 2);
    assert_memory_equal(d.response_topic, "r/t", 3);
    assert_int_equal(d.payload_len, 5);
    assert_memory_equal(d.payload, "\0bin\0", 5);
    assert_int_equal(d.prop_count, 3);
    aioe_user_property got[4];
    assert_int_equal(aioe__rec_msg_props(&d, got, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].name_len, props[i].name_len);
        assert_memory_equal(got[i].name, props[i].name, props[i].name_len);
        assert_int_equal(got[i].value_len, props[i].value_len);
        assert_memory_equal(got[i].value, props[i].value, props[i].value_len);
    }
    assert_int_equal(aioe__rec_msg_props(&d, got, 1), 1);
    free(buf);

    /* the smallest message: absent options stay absent */
    aioe__rec_msg small = { .seq = 7, .topic = "t", .topic_len = 1, .payload_format = -1 };
    buf = encode(&small, &n);
    assert_int_equal(aioe__rec_parse(buf, n, &v), AIOE__REC_OK);
    assert_int_equal(aioe__rec_decode_msg(v.body, v.body_len, &d), AIOE_OK);
    assert_null(d.content_type);
    assert_null(d.correlation);
    assert_null(d.response_topic);
    assert_null(d.payload);
    assert_false(d.has_expiry || d.retain || d.dup);
    assert_int_equal(d.payload_format, -1);
    assert_int_equal(d.prop_count, 0);
    free(buf);
}

static void encode_rejects_what_does_not_fit(void **state)
{
    (void)state;
    unsigned char buf[64];
    aioe__rec_msg m = { .seq = 1, .topic = "t", .topic_len = 0, .payload_format = -1 };
    assert_int_equal(aioe__rec_msg_size(&m), 0); /* empty topic */
    m.topic_len = 70000;
    assert_int_equal(aioe__rec_msg_size(&m), 0);
    m.topic_len = 1;
    m.qos = 3;
    assert_int_equal(aioe__rec_msg_size(&m), 0);
    m.qos = 0;
    m.payload_format = 2;
    assert_int_equal(aioe__rec_msg_size(&m), 0);
    m.payload_format = -1;
    m.prop_count = 1; /* no array */
    assert_int_equal(aioe__rec_msg_size(&m), 0);
    m.prop_count = 0;
    m.payload_len = (size_t)AIOE__REC_MAX_BODY + 1;
    m.payload = buf;
    assert_int_equal(aioe__rec_msg_size(&m), 0);
    m.payload_len = 0;
    assert_int_equal(aioe__rec_encode_msg(&m, buf, 10), 0); /* too small */
    assert_int_equal(aioe__rec_encode_ack(NULL, 0, buf, sizeof buf), 0);
    assert_int_equal(aioe__rec_msg_size(NULL), 0);
}

static void every_truncation_is_short_never_ok(void **state)
{
    (void)state;
    aioe__rec_msg m = full_msg();
    size_t n;
    unsigned char *buf = encode(&m, &n);
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        assert_int_equal(aioe__rec_parse(copy, cut, NULL), AIOE__REC_SHORT);
        free(copy);
    }
    /* and a body cut short (with a re-made CRC) never decodes */
    aioe__rec_msg d;
    for (size_t cut = 0; cut + AIOE__REC_HEADER < n; cut++) {
        unsigned char *body = malloc(cut ? cut : 1);
        memcpy(body, buf + AIOE__REC_HEADER, cut);
        assert_int_not_equal(aioe__rec_decode_msg(body, cut, &d), AIOE_OK);
        free(body);
    }
    free(buf);
}

static void every_bit_flip_is_detected(void **state)
{
    (void)state;
    aioe__rec_msg m = full_msg();
    size_t n;
    unsigned char *buf = encode(&m, &n);
    for (size_t bit = 0; bit < n * 8; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_not_equal(aioe__rec_parse(buf, n, NULL), AIOE__REC_OK);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_int_equal(aioe__rec_parse(buf, n, NULL), AIOE__REC_OK);
    free(buf);
}

/* Re-seals a record after its body was changed (a crafted record). */
static void reseal(unsigned char *rec, size_t body_len)
{
    uint32_t crc = aioe__crc32c_extend(0, rec + 8, 8);
    crc = aioe__crc32c_extend(crc, rec + AIOE__REC_HEADER, body_len);
    for (int i = 0; i < 4; i++)
        rec[4 + i] = (unsigned char)(crc >> (8 * i));
}

static void crafted_counts_with_valid_crc_are_rejected(void **state)
{
    (void)state;
    aioe__rec_msg m = full_msg();
    size_t n;
    unsigned char *buf = encode(&m, &n);
    size_t body = n - AIOE__REC_HEADER;
    /* the property count sits after the fixed part, the topic (2+3), the
     * content type (2+10), correlation (2+2) and response topic (2+3) */
    size_t at = AIOE__REC_HEADER + AIOE__REC_MSG_FIXED + 5 + 12 + 4 + 5;
    assert_int_equal(buf[at], 3);
    uint32_t bad_counts[] = { 65535, 4, 0xffffffffu, 2 };
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        for (int k = 0; k < 4; k++)
            buf[at + k] = (unsigned char)(bad_counts[i] >> (8 * k));
        reseal(buf, body);
        aioe__rec_view v;
        assert_int_equal(aioe__rec_parse(buf, n, &v), AIOE__REC_OK);
        aioe__rec_msg d;
        assert_int_equal(aioe__rec_decode_msg(v.body, v.body_len, &d), AIOE_ERR_INVALID_ARG);
    }
    /* a topic length past the end */
    for (int k = 0; k < 4; k++)
        buf[at + k] = (unsigned char)(3u >> (8 * k));
    size_t tl = AIOE__REC_HEADER + AIOE__REC_MSG_FIXED;
    buf[tl] = 0xff;
    buf[tl + 1] = 0xff;
    reseal(buf, body);
    aioe__rec_msg d;
    assert_int_equal(aioe__rec_decode_msg(buf + AIOE__REC_HEADER, body, &d),
                     AIOE_ERR_INVALID_ARG);
    /* a body length in the header over the maximum is not a record */
    buf[tl] = 3;
    buf[tl + 1] = 0;
    buf[8] = buf[9] = buf[10] = buf[11] = 0xff;
    assert_int_equal(aioe__rec_parse(buf, n, NULL), AIOE__REC_BAD);
    free(buf);
}

static void acks_round_trip_and_reject_bad_counts(void **state)
{
    (void)state;
    uint64_t seqs[3] = { 5, 1, 0xffffffffffull };
    unsigned char buf[64];
    size_t n = aioe__rec_encode_ack(seqs, 3, buf, sizeof buf);
    assert_int_equal(n, AIOE__REC_HEADER + 4 + 24);
    aioe__rec_view v;
    assert_int_equal(aioe__rec_parse(buf, n, &v), AIOE__REC_OK);
    assert_int_equal(v.type, AIOE__REC_ACK);
    size_t count;
    assert_int_equal(aioe__rec_decode_ack(v.body, v.body_len, &count), AIOE_OK);
    assert_int_equal(count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(aioe__rec_ack_seq(v.body, i) == seqs[i]);
    buf[AIOE__REC_HEADER] = 4; /* count no longer matches the length */
    assert_int_equal(aioe__rec_decode_ack(v.body, v.body_len, &count), AIOE_ERR_INVALID_ARG);
    buf[AIOE__REC_HEADER] = 0;
    assert_int_equal(aioe__rec_decode_ack(v.body, v.body_len, &count), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe__rec_decode_ack(v.body, 3, &count), AIOE_ERR_INVALID_ARG);
}

static void resync_skips_damage_and_finds_the_next_record(void **state)
{
    (void)state;
    unsigned char log[4096];
    size_t off[6], n = 0;
    for (int i = 0; i < 5; i++) {
        char topic[16];
        int tl = snprintf(topic, sizeof topic, "t/%d", i);
        aioe__rec_msg m = { .seq = (uint64_t)i + 1, .qos = 1, .topic = topic,
                            .topic_len = (size_t)tl, .payload = "p", .payload_len = 1,
                            .payload_format = -1 };
        off[i] = n;
        n += aioe__rec_encode_msg(&m, log + n, sizeof log - n);
    }
    off[5] = n;
    assert_int_equal(aioe__rec_resync(log, n, 0), 0);
    assert_int_equal(aioe__rec_resync(log, n, 1), off[1]);
    /* flip one bit in record 2's body: it no longer parses, record 3 does */
    log[off[2] + AIOE__REC_HEADER + 3] ^= 0x10;
    assert_int_equal(aioe__rec_parse(log + off[2], n - off[2], NULL), AIOE__REC_BAD);
    assert_int_equal(aioe__rec_resync(log, n, off[2] + 1), off[3]);
    assert_int_equal(aioe__rec_count_markers(log, off[2], off[3]), 1);
    /* a damaged length field: the rest still resynchronises */
    log[off[3] + 9] ^= 0x7f;
    assert_int_not_equal(aioe__rec_parse(log + off[3], n - off[3], NULL), AIOE__REC_OK);
    assert_int_equal(aioe__rec_resync(log, n, off[3] + 1), off[4]);
    /* nothing valid after the last record */
    assert_int_equal(aioe__rec_resync(log, n, off[4] + 1), n);
    assert_int_equal(aioe__rec_resync(NULL, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_rfc3720_vectors),
        cmocka_unit_test(crc32c_extends_and_paths_agree),
        cmocka_unit_test(message_round_trip),
        cmocka_unit_test(encode_rejects_what_does_not_fit),
        cmocka_unit_test(every_truncation_is_short_never_ok),
        cmocka_unit_test(every_bit_flip_is_detected),
        cmocka_unit_test(crafted_counts_with_valid_crc_are_rejected),
        cmocka_unit_test(acks_round_trip_and_reject_bad_counts),
        cmocka_unit_test(resync_skips_damage_and_finds_the_next_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
