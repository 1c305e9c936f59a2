/* aioe-bridge's durable message store: append-only segment files in a state
 * directory, one acknowledgement file per segment.
 *
 * Layout of a state directory (one per bridge instance):
 *   NNNNNNNNNNNNNNNN.seg   records, appended with one write(2) each
 *   NNNNNNNNNNNNNNNN.ack   8-byte sequence numbers of records that are done
 *   LOCK                   flock()ed while a process uses the directory
 *
 * A record is [magic u32][body_len u32][seq u64][body][commit u32] where
 * commit = checksum(body, seq) ^ COMMIT_MAGIC: a torn tail (power loss in
 * the middle of a write) fails the check and replay stops there. write(2)
 * alone survives SIGKILL of the process (the page cache belongs to the
 * kernel); with fsync on, each append is also fdatasync()ed so it survives
 * power loss. Acks are buffered in memory and written in batches: losing
 * them only turns into duplicates on replay, never into loss.
 *
 * Not an aioe_ API: this is example code of aioe-bridge, thread-safe
 * through one internal mutex. No allocation per record in the steady state
 * (the per-segment offset index grows by doubling).
 */
#ifndef AIOE_BRIDGE_STORE_H
#define AIOE_BRIDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aioendpoint/aioendpoint.h>

typedef struct bstore bstore;

/** A message as stored (views; see bstore_append / bstore_read). */
typedef struct bstore_msg {
    const char *topic;      /* NUL-terminated after bstore_read */
    size_t topic_len;
    const void *payload;
    size_t payload_len;
    int qos;
    bool retain;
    const char *content_type; /* NULL when absent */
    size_t content_type_len;
    const aioe_user_property *props; /* append: caller's; read: see below */
    size_t prop_count;
} bstore_msg;

typedef struct bstore_config {
    uint64_t segment_bytes; /* roll to a new segment past this (default 4 MiB) */
    bool fsync;             /* fdatasync each append */
} bstore_config;

/** What replay found in an existing directory. */
typedef struct bstore_replay_info {
    uint64_t records;       /* valid records found */
    uint64_t undone;        /* of which not acknowledged (replayed) */
    uint64_t torn_tails;    /* segments whose tail was invalid and ignored */
    uint64_t segments_deleted;
} bstore_replay_info;

/** Called by bstore_open for each undone record, oldest first. */
typedef void (*bstore_replay_cb)(uint64_t seq, void *user_data);

/**
 * Opens (creating it) the state directory @p dir, replays what it holds and
 * starts a new segment for appends. Fails when another process holds it.
 * On error writes a message to @p err and returns a negative errno.
 */
int bstore_open(bstore **out, const char *dir, const bstore_config *cfg,
                bstore_replay_cb cb, void *user_data, bstore_replay_info *info,
                char *err, size_t errlen);

/** Flushes acks and closes. NULL does nothing. */
void bstore_close(bstore *st);

/** Appends one record; *seq_out gets its sequence number. 0 or -errno. */
int bstore_append(bstore *st, const bstore_msg *m, uint64_t *seq_out);

/**
 * Reads record @p seq into @p *buf (grown with realloc as needed; the
 * caller owns and frees it) and fills @p out with views into it. User
 * properties are decoded into @p props (capacity @p props_cap; the rest are
 * dropped from the view and *props_total says how many there were).
 * 0, -ENOENT when the record is gone, or -errno.
 */
int bstore_read(bstore *st, uint64_t seq, unsigned char **buf, size_t *cap,
                bstore_msg *out, aioe_user_property *props, size_t props_cap,
                size_t *props_total);

/** Marks @p seq done (buffered); deletes segments that are fully done. */
void bstore_ack(bstore *st, uint64_t seq);

/** Writes buffered acks to the ack files. 0 or -errno. */
int bstore_flush_acks(bstore *st);

/** Bytes held in live segment files. */
uint64_t bstore_bytes(bstore *st);
/** Records appended or replayed and not yet acknowledged. */
uint64_t bstore_undone(bstore *st);
/** Number of live segment files. */
size_t bstore_segments(bstore *st);

#endif /* AIOE_BRIDGE_STORE_H */
