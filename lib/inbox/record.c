/* The inbox's on-disk record codec: pure, buffer in / struct out, no I/O,
 * no allocation. The header layout is in inbox_internal.h; a message body
 * is (little-endian)
 *   seq u64 | flags u8 | qos u8 | payload format u8 | 0 u8 | expiry u32 |
 *   topic (u16 len + bytes) | [content type] | [correlation data] |
 *   [response topic] | user property count u32 | count x (name, value),
 *   each u16 len + bytes | payload length u32 | payload
 * where the bracketed strings are there when their flag is set, and the
 * body must end exactly after the payload. An acknowledgement body is
 *   count u32 | count x seq u64.
 * Decoding checks every length and count against the bytes that remain
 * before using it (issue #15 case 4: a count of 65535 with a valid CRC
 * must not read past the record). */
#include <string.h>

#include "aioendpoint/common.h"
#include "inbox.h"

enum {
    F_RETAIN = 1u << 0,
    F_DUP = 1u << 1,
    F_CT = 1u << 2,
    F_CORR = 1u << 3,
    F_RESP = 1u << 4,
    F_EXPIRY = 1u << 5,
    F_PFI = 1u << 6,
};

#define STR_MAX 65535u

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- encoding ---- */

static size_t msg_body_size(const aioe__rec_msg *m)
{
    if (!m || !m->topic || m->topic_len == 0 || m->topic_len > STR_MAX || m->qos < 0 ||
        m->qos > 2 || m->payload_format < -1 || m->payload_format > 1 ||
        (m->content_type && m->content_type_len > STR_MAX) ||
        (m->correlation && m->correlation_len > STR_MAX) ||
        (m->response_topic && m->response_topic_len > STR_MAX) ||
        (m->prop_count && !m->props) || (m->payload_len && !m->payload) ||
        m->prop_count > UINT32_MAX || m->payload_len > AIOE__REC_MAX_BODY)
        return 0;
    size_t n = AIOE__REC_MSG_FIXED + 2 + m->topic_len;
    if (m->content_type)
        n += 2 + m->content_type_len;
    if (m->correlation)
        n += 2 + m->correlation_len;
    if (m->response_topic)
        n += 2 + m->response_topic_len;
    n += 4;
    for (size_t i = 0; i < m->prop_count; i++) {
        const aioe_user_property *p = &m->props[i];
        if (p->name_len > STR_MAX || p->value_len > STR_MAX || (p->name_len && !p->name) ||
            (p->value_len && !p->value))
            return 0;
        n += 4 + p->name_len + p->value_len;
        if (n > AIOE__REC_MAX_BODY)
            return 0;
    }
    n += 4 + m->payload_len;
    return n > AIOE__REC_MAX_BODY ? 0 : n;
}

size_t aioe__rec_msg_size(const aioe__rec_msg *m)
{
    size_t body = msg_body_size(m);
    return body ? AIOE__REC_HEADER + body : 0;
}

static unsigned char *put_str(unsigned char *p, const void *s, size_t len)
{
    put16(p, (uint16_t)len);
    if (len)
        memcpy(p + 2, s, len);
    return p + 2 + len;
}

/* Writes the header for a body already in place after it. */
static void seal(unsigned char *out, unsigned type, size_t body_len)
{
    put32(out, AIOE__REC_MAGIC);
    put32(out + 8, (uint32_t)body_len);
    out[12] = (unsigned char)type;
    out[13] = AIOE__REC_VERSION;
    put16(out + 14, 0);
    uint32_t crc = aioe__crc32c_extend(0, out + 8, 8);
    crc = aioe__crc32c_extend(crc, out + AIOE__REC_HEADER, body_len);
    put32(out + 4, crc);
}

size_t aioe__rec_encode_msg(const aioe__rec_msg *m, unsigned char *out, size_t cap)
{
    size_t body = msg_body_size(m);
    if (!body || !out || cap < AIOE__REC_HEADER + body)
        return 0;
    unsigned char *b = out + AIOE__REC_HEADER;
    unsigned flags = (m->retain ? F_RETAIN : 0) | (m->dup ? F_DUP : 0) |
                     (m->content_type ? F_CT : 0) | (m->correlation ? F_CORR : 0) |
                     (m->response_topic ? F_RESP : 0) | (m->has_expiry ? F_EXPIRY : 0) |
                     (m->payload_format >= 0 ? F_PFI : 0);
    put64(b, m->seq);
    b[8] = (unsigned char)flags;
    b[9] = (unsigned char)m->qos;
    b[10] = (unsigned char)(m->payload_format > 0 ? m->payload_format : 0);
    b[11] = 0;
    put32(b + 12, m->has_expiry ? m->expiry : 0);
    unsigned char *p = put_str(b + AIOE__REC_MSG_FIXED, m->topic, m->topic_len);
    if (m->content_type)
        p = put_str(p, m->content_type, m->content_type_len);
    if (m->correlation)
        p = put_str(p, m->correlation, m->correlation_len);
    if (m->response_topic)
        p = put_str(p, m->response_topic, m->response_topic_len);
    put32(p, (uint32_t)m->prop_count);
    p += 4;
    for (size_t i = 0; i < m->prop_count; i++) {
        p = put_str(p, m->props[i].name, m->props[i].name_len);
        p = put_str(p, m->props[i].value, m->props[i].value_len);
    }
    put32(p, (uint32_t)m->payload_len);
    p += 4;
    if (m->payload_len)
        memcpy(p, m->payload, m->payload_len);
    seal(out, AIOE__REC_MSG, body);
    return AIOE__REC_HEADER + body;
}

size_t aioe__rec_ack_size(size_t n)
{
    if (n == 0 || n > (AIOE__REC_MAX_BODY - 4) / 8)
        return 0;
    return AIOE__REC_HEADER + 4 + 8 * n;
}

size_t aioe__rec_encode_ack(const uint64_t *seqs, size_t n, unsigned char *out, size_t cap)
{
    size_t total = aioe__rec_ack_size(n);
    if (!total || !seqs || !out || cap < total)
        return 0;
    unsigned char *b = out + AIOE__REC_HEADER;
    put32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put64(b + 4 + 8 * i, seqs[i]);
    seal(out, AIOE__REC_ACK, total - AIOE__REC_HEADER);
    return total;
}

/* ---- framing ---- */

aioe__rec_parse_result aioe__rec_parse(const unsigned char *buf, size_t len,
                                       aioe__rec_view *out)
{
    if (!buf || len < 4)
        return AIOE__REC_SHORT;
    if (get32(buf) != AIOE__REC_MAGIC)
        return AIOE__REC_BAD;
    if (len < AIOE__REC_HEADER)
        return AIOE__REC_SHORT;
    uint32_t body_len = get32(buf + 8);
    unsigned type = buf[12];
    if ((type != AIOE__REC_MSG && type != AIOE__REC_ACK) || buf[13] != AIOE__REC_VERSION ||
        get16(buf + 14) != 0 || body_len > AIOE__REC_MAX_BODY)
        return AIOE__REC_BAD;
    if (len - AIOE__REC_HEADER < body_len)
        return AIOE__REC_SHORT;
    uint32_t crc = aioe__crc32c_extend(0, buf + 8, 8);
    crc = aioe__crc32c_extend(crc, buf + AIOE__REC_HEADER, body_len);
    if (crc != get32(buf + 4))
        return AIOE__REC_BAD;
    if (out) {
        out->type = type;
        out->body = buf + AIOE__REC_HEADER;
        out->body_len = body_len;
        out->total = AIOE__REC_HEADER + (size_t)body_len;
    }
    return AIOE__REC_OK;
}

static const unsigned char magic_bytes[4] = {
    AIOE__REC_MAGIC & 0xff, (AIOE__REC_MAGIC >> 8) & 0xff, (AIOE__REC_MAGIC >> 16) & 0xff,
    AIOE__REC_MAGIC >> 24,
};

static const unsigned char *find_marker(const unsigned char *buf, size_t from, size_t to)
{
    while (from + 4 <= to) {
        const unsigned char *p = memchr(buf + from, magic_bytes[0], to - from - 3);
        if (!p)
            return NULL;
        if (memcmp(p, magic_bytes, 4) == 0)
            return p;
        from = (size_t)(p - buf) + 1;
    }
    return NULL;
}

size_t aioe__rec_resync(const unsigned char *buf, size_t len, size_t from)
{
    if (!buf)
        return len;
    while (from < len) {
        const unsigned char *p = find_marker(buf, from, len);
        if (!p)
            return len;
        size_t off = (size_t)(p - buf);
        if (aioe__rec_parse(p, len - off, NULL) == AIOE__REC_OK)
            return off;
        from = off + 1;
    }
    return len;
}

size_t aioe__rec_count_markers(const unsigned char *buf, size_t from, size_t to)
{
    size_t n = 0;
    const unsigned char *p;
    while (buf && (p = find_marker(buf, from, to)) != NULL) {
        n++;
        from = (size_t)(p - buf) + 4;
    }
    return n;
}

/* ---- decoding ---- */

typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static bool take(cursor *c, size_t n, const unsigned char **out)
{
    if (c->left < n)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_str(cursor *c, const unsigned char **s, size_t *len)
{
    const unsigned char *l;
    if (!take(c, 2, &l))
        return false;
    *len = get16(l);
    return take(c, *len, s);
}

int aioe__rec_decode_msg(const unsigned char *body, size_t len, aioe__rec_msg *out)
{
    if (!body || !out || len < AIOE__REC_MSG_FIXED)
        return AIOE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    unsigned flags = body[8];
    if ((flags & 0x80u) || body[9] > 2 || body[10] > 1 || body[11] != 0 ||
        (!(flags & F_PFI) && body[10] != 0) || (!(flags & F_EXPIRY) && get32(body + 12)))
        return AIOE_ERR_INVALID_ARG;
    out->seq = get64(body);
    out->retain = flags & F_RETAIN;
    out->dup = flags & F_DUP;
    out->qos = body[9];
    out->payload_format = (flags & F_PFI) ? body[10] : -1;
    out->has_expiry = flags & F_EXPIRY;
    out->expiry = get32(body + 12);

    cursor c = { body + AIOE__REC_MSG_FIXED, len - AIOE__REC_MSG_FIXED };
    const unsigned char *s, *n4;
    size_t l;
    if (!take_str(&c, &s, &l) || l == 0)
        return AIOE_ERR_INVALID_ARG;
    out->topic = (const char *)s;
    out->topic_len = l;
    if (flags & F_CT) {
        if (!take_str(&c, &s, &l))
            return AIOE_ERR_INVALID_ARG;
        out->content_type = (const char *)s;
        out->content_type_len = l;
    }
    if (flags & F_CORR) {
        if (!take_str(&c, &s, &l))
            return AIOE_ERR_INVALID_ARG;
        out->correlation = s;
        out->correlation_len = l;
    }
    if (flags & F_RESP) {
        if (!take_str(&c, &s, &l))
            return AIOE_ERR_INVALID_ARG;
        out->response_topic = (const char *)s;
        out->response_topic_len = l;
    }
    if (!take(&c, 4, &n4))
        return AIOE_ERR_INVALID_ARG;
    uint32_t count = get32(n4);
    /* each property takes at least 4 bytes: reject impossible counts at once */
    if (count > c.left / 4)
        return AIOE_ERR_INVALID_ARG;
    const unsigned char *props_start = c.p;
    for (uint32_t i = 0; i < count; i++) {
        if (!take_str(&c, &s, &l) || !take_str(&c, &s, &l))
            return AIOE_ERR_INVALID_ARG;
    }
    out->prop_count = count;
    out->props_raw = props_start;
    out->props_raw_len = (size_t)(c.p - props_start);
    if (!take(&c, 4, &n4))
        return AIOE_ERR_INVALID_ARG;
    uint32_t plen = get32(n4);
    if (plen != c.left)
        return AIOE_ERR_INVALID_ARG;
    out->payload = plen ? c.p : NULL;
    out->payload_len = plen;
    return AIOE_OK;
}

size_t aioe__rec_msg_props(const aioe__rec_msg *m, aioe_user_property *out, size_t cap)
{
    if (!m || !out || !m->props_raw)
        return 0;
    cursor c = { m->props_raw, m->props_raw_len };
    size_t i = 0;
    for (; i < m->prop_count && i < cap; i++) {
        const unsigned char *n, *v;
        size_t nl, vl;
        if (!take_str(&c, &n, &nl) || !take_str(&c, &v, &vl))
            break; /* cannot happen after decode; stay safe anyway */
        out[i] = (aioe_user_property){ (const char *)n, nl, (const char *)v, vl };
    }
    return i;
}

bool aioe__rec_msg_prop_next(const aioe__rec_msg *m, size_t *pos, aioe_user_property *out)
{
    if (!m || !pos || !out || !m->props_raw || *pos >= m->props_raw_len)
        return false;
    cursor c = { m->props_raw + *pos, m->props_raw_len - *pos };
    const unsigned char *n, *v;
    size_t nl, vl;
    if (!take_str(&c, &n, &nl) || !take_str(&c, &v, &vl))
        return false;
    *out = (aioe_user_property){ (const char *)n, nl, (const char *)v, vl };
    *pos = m->props_raw_len - c.left;
    return true;
}

int aioe__rec_decode_ack(const unsigned char *body, size_t len, size_t *count)
{
    if (!body || !count || len < 4)
        return AIOE_ERR_INVALID_ARG;
    uint32_t n = get32(body);
    if (n == 0 || n > (len - 4) / 8 || len != 4 + (size_t)n * 8)
        return AIOE_ERR_INVALID_ARG;
    *count = n;
    return AIOE_OK;
}

uint64_t aioe__rec_ack_seq(const unsigned char *body, size_t i)
{
    return get64(body + 4 + 8 * i);
}
