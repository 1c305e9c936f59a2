/* Door of lib/inbox/ ("inbox/inbox.h"): the durable inbox behind the
 * public <aioendpoint/inbox.h>. Nothing else in the library calls into it
 * (the session reaches the inbox only through the inbound hook it is
 * given); tests, the fuzz target and the benchmarks use the codec and the
 * store declared here. Layer: inbox, beside pubsub/ and cloudevents/;
 * includes "session/session.h" (inbox.c) and nothing else of lib/.
 *
 *   crc32c.c   CRC32C (pure)
 *   record.c   the on-disk record codec (pure: buffer in, struct out)
 *   store.c    segment files: append, recovery, acknowledgement, reclaim
 *   inbox.c    the public aioe_inbox object: session binding, delivery
 *
 * On-disk record (little-endian), modelled on LevelDB's log and SQLite's
 * WAL: a 16-byte header
 *   magic u32  AIOE__REC_MAGIC, a sync marker to find the next record
 *              after damage
 *   crc   u32  CRC32C over header bytes 8..15 and the body
 *   len   u32  body length
 *   type  u8   AIOE__REC_MSG or AIOE__REC_ACK
 *   ver   u8   AIOE__REC_VERSION
 *   zero  u16  must be 0
 * then the body. See docs/inbox.md for the body layouts. */
#ifndef AIOE_INBOX_DOOR_H
#define AIOE_INBOX_DOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioendpoint/properties.h"

/* ---- crc32c.c ---- */
/* CRC32C of data; aioe__crc32c_extend(aioe__crc32c(A), B) == CRC32C(A||B). */
uint32_t aioe__crc32c(const void *data, size_t len);
uint32_t aioe__crc32c_extend(uint32_t crc, const void *data, size_t len);
/* The table-driven path only (tests compare it with the hardware path). */
uint32_t aioe__crc32c_sw_extend(uint32_t crc, const void *data, size_t len);

/* ---- record.c ---- */
#define AIOE__REC_MAGIC 0x1b0ea10eu
#define AIOE__REC_HEADER 16u
#define AIOE__REC_VERSION 1u
/* Largest body: an MQTT packet is at most 268435455 bytes. */
#define AIOE__REC_MAX_BODY 268435455u
/* Fixed part of a message body (seq, flags, qos, pfi, reserved, expiry). */
#define AIOE__REC_MSG_FIXED 16u

enum { AIOE__REC_MSG = 1, AIOE__REC_ACK = 2 };

/* One message record. Encode: every pointer is borrowed from the caller
 * and props/prop_count describe the user properties. Decode: every pointer
 * is a view into the decoded buffer; props is NULL and the properties are
 * read with aioe__rec_msg_props() (they were validated by decode). */
typedef struct aioe__rec_msg {
    uint64_t seq;
    int qos;
    bool retain;
    bool dup;
    const char *topic;
    size_t topic_len;
    const char *content_type; /* NULL: absent */
    size_t content_type_len;
    const void *correlation;  /* NULL: absent */
    size_t correlation_len;
    const char *response_topic; /* NULL: absent */
    size_t response_topic_len;
    bool has_expiry;
    uint32_t expiry;
    int payload_format;       /* -1: absent, else 0 or 1 */
    const aioe_user_property *props;
    size_t prop_count;
    const unsigned char *props_raw; /* decode only */
    size_t props_raw_len;
    const void *payload;
    size_t payload_len;
} aioe__rec_msg;

/* Size of the encoded record (header + body), or 0 when a field does not
 * fit the format (string over 65535 bytes, body over AIOE__REC_MAX_BODY,
 * empty topic, qos outside 0..2, payload format outside -1..1). */
size_t aioe__rec_msg_size(const aioe__rec_msg *m);
/* Encodes into out (cap bytes); returns the size written, 0 when invalid
 * or cap is too small. */
size_t aioe__rec_encode_msg(const aioe__rec_msg *m, unsigned char *out, size_t cap);
/* An acknowledgement record listing n sequence numbers. */
size_t aioe__rec_ack_size(size_t n);
size_t aioe__rec_encode_ack(const uint64_t *seqs, size_t n, unsigned char *out, size_t cap);

/* A framed record found in a buffer (views into it). */
typedef struct aioe__rec_view {
    unsigned type;
    const unsigned char *body;
    size_t body_len;
    size_t total;             /* header + body: where the next record starts */
} aioe__rec_view;

typedef enum aioe__rec_parse_result {
    AIOE__REC_OK = 0,         /* a whole record with a good CRC */
    AIOE__REC_SHORT = 1,      /* plausible header, but the buffer ends first */
    AIOE__REC_BAD = 2         /* no record here (magic, header or CRC wrong) */
} aioe__rec_parse_result;

/* Frames the record at buf[0..len): never reads past len. */
aioe__rec_parse_result aioe__rec_parse(const unsigned char *buf, size_t len,
                                       aioe__rec_view *out);
/* The offset >= from of the next whole record with a good CRC in
 * buf[0..len), or len when there is none (resynchronisation after damage). */
size_t aioe__rec_resync(const unsigned char *buf, size_t len, size_t from);
/* Number of magic markers in buf[from..to): at least how many records a
 * damaged range held. */
size_t aioe__rec_count_markers(const unsigned char *buf, size_t from, size_t to);

/* Decodes a message body; every length and count is checked against what
 * remains before use. AIOE_OK, or AIOE_ERR_INVALID_ARG for a body that is
 * not a valid message (then *out is unspecified). */
int aioe__rec_decode_msg(const unsigned char *body, size_t len, aioe__rec_msg *out);
/* Fills out[0..cap) with the user properties of a decoded message (views);
 * returns how many were written (min(cap, prop_count)). */
size_t aioe__rec_msg_props(const aioe__rec_msg *m, aioe_user_property *out, size_t cap);
/* The user property at byte *pos of a decoded message's properties (start
 * with *pos = 0), advancing *pos; false after the last one. */
bool aioe__rec_msg_prop_next(const aioe__rec_msg *m, size_t *pos, aioe_user_property *out);
/* Decodes an acknowledgement body: AIOE_OK and *count, or
 * AIOE_ERR_INVALID_ARG. aioe__rec_ack_seq() reads entry i < count. */
int aioe__rec_decode_ack(const unsigned char *body, size_t len, size_t *count);
uint64_t aioe__rec_ack_seq(const unsigned char *body, size_t i);


/* ---- store.c ---- */
/* How far an append is durable before it returns. */
typedef enum aioe__durability {
    AIOE__DURABLE_PROCESS = 0, /* write(2): survives SIGKILL of the process */
    AIOE__DURABLE_POWER = 1    /* write(2) + fdatasync, group-committed */
} aioe__durability;

/* File operations the store uses for writing, replaceable by tests to
 * inject faults (a full disk, a failing sync). NULL members: the real
 * system call. Each returns 0 or -errno (pwrite: bytes written or -errno). */
typedef struct aioe__store_fs {
    int (*fallocate)(int fd, uint64_t len, void *ctx);
    long (*pwrite)(int fd, const void *buf, size_t len, uint64_t off, void *ctx);
    int (*fdatasync)(int fd, void *ctx);
    void *ctx;
} aioe__store_fs;

typedef struct aioe__store_config {
    uint64_t segment_bytes;   /* 0: 4 MiB */
    uint64_t max_bytes;       /* bytes all segment files may take; 0: the disk */
    aioe__durability durability;
    const aioe__store_fs *fs; /* NULL: the real file system */
    /* log: level is an aioe_log_level; the line has no newline */
    void (*log)(void *ctx, int level, const char *line);
    void *log_ctx;
} aioe__store_config;

typedef struct aioe__store_stats {
    uint64_t appended;        /* messages appended since open */
    uint64_t acked;           /* acknowledged since open */
    uint64_t live;            /* stored, not acknowledged */
    uint64_t live_bytes;      /* record bytes of those */
    uint64_t file_bytes;      /* space the segment files take (reserved) */
    uint64_t segments;
    uint64_t recovered;       /* not acknowledged when opened */
    uint64_t damaged_ranges;  /* unreadable ranges found when opened */
    uint64_t records_lost;    /* at least this many records were in them */
    uint64_t torn_tails;      /* incomplete last records (not acknowledged) */
    uint64_t files_damaged;   /* renamed to *.damaged */
    uint64_t files_refused;   /* named like a segment, not a regular file */
    uint64_t syncs;           /* fdatasync calls */
    uint64_t append_failures;
    bool full;                /* the next segment cannot be reserved */
    int full_status;          /* why: AIOE_ERR_WOULD_BLOCK (byte limit) or
                               * AIOE_ERR_IO (disk) */
} aioe__store_stats;

typedef struct aioe__store aioe__store;

/* Called by open for each message found not acknowledged, oldest first. */
typedef void (*aioe__store_replay_fn)(void *ctx, uint64_t seq, uint32_t size);

/* Opens (creating) the directory, takes its lock, recovers what it holds
 * (damaged ranges are skipped and reported, damaged files renamed aside
 * after their good records were copied forward) and starts a new segment.
 * AIOE_OK; AIOE_ERR_STATE when another process holds the directory;
 * AIOE_ERR_IO (err says which file and why); AIOE_ERR_NOMEM. */
int aioe__store_open(aioe__store **out, const char *dir, const aioe__store_config *cfg,
                     aioe__store_replay_fn replay, void *replay_ctx, char *err,
                     size_t errlen);
/* Writes buffered acknowledgements and closes. NULL does nothing. */
void aioe__store_close(aioe__store *st);
/* Appends m (m->seq is ignored; the new one goes to *seq) and returns
 * when it is as durable as configured. AIOE_OK; AIOE_ERR_WOULD_BLOCK when
 * no space can be reserved (byte limit or disk full: nothing was written);
 * AIOE_ERR_IO; AIOE_ERR_INVALID_ARG when m does not fit the format. *size
 * (may be NULL) gets the record's size. */
int aioe__store_append(aioe__store *st, const aioe__rec_msg *m, uint64_t *seq,
                       uint32_t *size);
/* Reads message seq into *buf (grown with realloc; the caller frees it)
 * and decodes it into *out (views into *buf). AIOE_OK; AIOE_ERR_NOT_FOUND
 * when acknowledged or unknown; AIOE_ERR_IO when it no longer reads back
 * (then it is counted lost and forgotten). */
int aioe__store_read(aioe__store *st, uint64_t seq, unsigned char **buf, size_t *cap,
                     aioe__rec_msg *out);
/* Acknowledges seq: AIOE_OK, or AIOE_ERR_NOT_FOUND when unknown or
 * already acknowledged. Space is reclaimed as segments empty. */
int aioe__store_ack(aioe__store *st, uint64_t seq);
/* Writes buffered acknowledgements (and syncs in POWER mode). */
int aioe__store_flush(aioe__store *st);
/* Tries again to reserve the next segment after space was freed. */
bool aioe__store_has_reserve(aioe__store *st);
void aioe__store_get_stats(aioe__store *st, aioe__store_stats *out);
const char *aioe__store_dir(const aioe__store *st);

#endif
