/**
 * @file inbox.h
 * @brief A durable inbox: at-least-once delivery of received messages
 *        through an on-disk log, with explicit acknowledgement.
 *
 * Paho MQTT C acknowledges an inbound QoS 1 message (PUBACK) as soon as the
 * message callback returns, whatever it returns. An inbox bound to a
 * session appends every received message to its log *inside* that
 * callback, before the PUBACK goes out; the host then takes messages with
 * aioe_inbox_next() and acknowledges each one with aioe_inbox_ack() when
 * it is done with it. After a crash or restart every message that was not
 * acknowledged is delivered again, marked as redelivered. See
 * docs/inbox.md for the guarantees, the on-disk format and the threads.
 *
 * Lifecycle: aioe_session_new() → aioe_inbox_new() (binds the inbox to
 * the session, recovers the directory) → aioe_session_start() → ... →
 * aioe_session_stop() → aioe_inbox_free() → aioe_session_free().
 *
 * Threads: aioe_inbox_next(), aioe_inbox_ack(), aioe_inbox_flush() and
 * aioe_inbox_get_stats() may be called from any thread, concurrently;
 * acknowledgements may come in any order. Never call aioe_inbox_next() from
 * a callback of any session (it waits).
 */
#ifndef AIOENDPOINT_INBOX_H
#define AIOENDPOINT_INBOX_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A durable inbox bound to one session and one directory. */
typedef struct aioe_inbox aioe_inbox;
/** Settings for aioe_inbox_new(); copied at creation. */
typedef struct aioe_inbox_options aioe_inbox_options;

/** What an inbox survives before a message is acknowledged to the broker.
 *  Values are ABI. */
typedef enum aioe_inbox_durability {
    /** The record is written with write(2) before the PUBACK: it survives
     *  SIGKILL or a crash of the process, not a power loss or kernel crash
     *  (the page cache belongs to the kernel). The default. */
    AIOE_INBOX_SURVIVE_PROCESS_CRASH = 0,
    /** The record is also on stable storage (fdatasync) before the PUBACK:
     *  it survives a power loss. Syncs are group-committed: one fdatasync
     *  covers every record written before it started. */
    AIOE_INBOX_SURVIVE_POWER_LOSS = 1
} aioe_inbox_durability;

/** Creates options with every default (SIGKILL-safe, 4 MiB segments, no
 *  byte limit but the disk, pause at 100000 unacknowledged messages and
 *  resume at 50000). */
AIOE_API int aioe_inbox_options_new(aioe_inbox_options **out);
/** Frees options; NULL does nothing. */
AIOE_API void aioe_inbox_options_free(aioe_inbox_options *opts);
/** Durability level (see aioe_inbox_durability). */
AIOE_API int aioe_inbox_options_set_durability(aioe_inbox_options *opts,
                                               aioe_inbox_durability durability);
/**
 * Bytes the log's segment files may take (0: no limit but the disk, the
 * default). Reaching it pauses the session like a full disk does; space
 * comes back as messages are acknowledged. Must be at least three segments.
 */
AIOE_API int aioe_inbox_options_set_max_bytes(aioe_inbox_options *opts, uint64_t max_bytes);
/**
 * Size of one segment file, reserved on disk when it is created (default
 * 4 MiB, at least 4096). The next segment is reserved when the current one
 * is half full: half a segment must hold what can arrive before a pause
 * takes effect (see docs/inbox.md).
 */
AIOE_API int aioe_inbox_options_set_segment_bytes(aioe_inbox_options *opts, uint64_t bytes);
/**
 * Flow control: the session is paused (disconnected, the broker keeps its
 * session and queues QoS 1 messages) when the unacknowledged messages reach
 * @p high_messages or their record bytes reach @p high_bytes, and resumed
 * when both are at or below @p low_messages / @p low_bytes. 0 turns a
 * bound off. Low must be below high.
 */
AIOE_API int aioe_inbox_options_set_watermarks(aioe_inbox_options *opts,
                                               uint64_t high_messages, uint64_t low_messages,
                                               uint64_t high_bytes, uint64_t low_bytes);

/** Default of aioe_inbox_options_set_batch_delay(), in microseconds. */
#define AIOE_INBOX_DEFAULT_BATCH_DELAY_US 200u

/**
 * Wake-up batching for aioe_inbox_next(). While messages stream in (the
 * previous wait ended with a message), a consumer that finds no message
 * waits up to @p max_delay_us for the next ones instead of being woken for
 * each message: one wake-up then serves every message that arrived
 * meanwhile (at most 64; the 64th wakes it at once). When that wait finds
 * nothing, the stream is over and the next message wakes the consumer at
 * once, so a lone message is never delayed. Each wake-up costs the
 * receiving thread a system call and the consumer two context switches;
 * batching trades at most @p max_delay_us of added latency under load for
 * that CPU (docs/inbox.md has the figures). 0 wakes the consumer for every
 * message. Default AIOE_INBOX_DEFAULT_BATCH_DELAY_US; at most 1000000.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG.
 */
AIOE_API int aioe_inbox_options_set_batch_delay(aioe_inbox_options *opts,
                                                uint32_t max_delay_us);

/**
 * Creates an inbox in @p dir (copied; created with mode 0700 when missing)
 * and binds it to @p session, which must not be started: from then on every
 * message the session receives is appended to the inbox, and the session's
 * own message callback is no longer called. Messages found in the
 * directory and not acknowledged are queued for delivery first, marked as
 * redelivered. Damage found in the log is logged (error level, with file
 * and offset) through the session's log callback and counted in
 * aioe_inbox_stats; it never stops the intact records from being delivered.
 * @p opts may be NULL (defaults); it is copied.
 * @return AIOE_OK; AIOE_ERR_STATE when the session is started or already
 *         has an inbox, or another process holds the directory;
 *         AIOE_ERR_IO (aioe_session_last_error() says why);
 *         AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_inbox_new(aioe_inbox **out, aioe_session *session, const char *dir,
                            const aioe_inbox_options *opts);

/**
 * Writes buffered acknowledgements, closes the log and unbinds the inbox
 * from its session. The session must be stopped (or never started) first;
 * otherwise this logs an error and does nothing. NULL does nothing.
 */
AIOE_API void aioe_inbox_free(aioe_inbox *inbox);

/**
 * Takes the next message not yet handed out, waiting up to @p timeout_ms
 * for one. *out is an owned message (every aioe_message_* getter works on
 * it; free it with aioe_message_free() — freeing does not acknowledge it).
 * Each message is handed out once per process run; one that is not
 * acknowledged is handed out again after a restart.
 * @return AIOE_OK; AIOE_ERR_TIMEOUT when none arrived in time;
 *         AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_inbox_next(aioe_inbox *inbox, uint32_t timeout_ms, aioe_message **out);

/**
 * Acknowledges the message with this id (aioe_inbox_message_id()): it will
 * not be delivered again. Acknowledgements are buffered and written in
 * batches (and by aioe_inbox_flush() and aioe_inbox_free()): after a crash
 * the last ones may be lost, which only means a redelivery. Any order, any
 * thread.
 * @return AIOE_OK; AIOE_ERR_NOT_FOUND when the id is unknown or was
 *         acknowledged already; AIOE_ERR_INVALID_ARG.
 */
AIOE_API int aioe_inbox_ack(aioe_inbox *inbox, uint64_t id);

/** Writes buffered acknowledgements now (and syncs them in power-loss
 *  mode). AIOE_OK or AIOE_ERR_IO. */
AIOE_API int aioe_inbox_flush(aioe_inbox *inbox);

/** The inbox id of a message from aioe_inbox_next() (never 0), or 0 for
 *  any other message. */
AIOE_API uint64_t aioe_inbox_message_id(const aioe_message *msg);
/** True when the message was stored before the inbox was last opened: it
 *  may have been handed to the host before (at-least-once). */
AIOE_API bool aioe_inbox_message_redelivered(const aioe_message *msg);

/** The value of aioe_inbox_stats.version for this header. */
#define AIOE_INBOX_STATS_VERSION 2

/** Counters of an inbox. Fields are only ever appended. */
typedef struct aioe_inbox_stats {
    unsigned version;            /**< set to AIOE_INBOX_STATS_VERSION */
    uint64_t stored;             /**< messages appended since opened */
    uint64_t acknowledged;       /**< acknowledged since opened */
    uint64_t unacknowledged;     /**< stored and not acknowledged */
    uint64_t unacknowledged_bytes; /**< their record bytes */
    uint64_t waiting;            /**< not yet handed out by aioe_inbox_next() */
    uint64_t file_bytes;         /**< space the segment files take */
    uint64_t recovered;          /**< not acknowledged when opened */
    uint64_t damaged_ranges;     /**< unreadable ranges found when opened */
    uint64_t records_lost;       /**< at least this many records were in them */
    uint64_t files_damaged;      /**< files renamed to *.damaged */
    uint64_t files_refused;      /**< named like a segment, not a regular file */
    uint64_t syncs;              /**< fdatasync calls */
    uint64_t append_failures;    /**< appends that failed (see docs/inbox.md) */
    bool paused;                 /**< the session is paused by this inbox */
    bool full;                   /**< no space can be reserved: byte limit or disk */
    int full_status;             /**< AIOE_ERR_WOULD_BLOCK (byte limit) or
                                      AIOE_ERR_IO (disk full) when full */
    /* version 2 */
    uint64_t consumer_wakeups;   /**< times the receiving thread woke a
                                      consumer waiting in aioe_inbox_next()
                                      (see aioe_inbox_options_set_batch_delay()) */
} aioe_inbox_stats;

/** Fills the fields of @p out up to the version the caller set (1 or 2;
 *  a later one is read as 2) and sets version to the version filled.
 *  AIOE_OK or AIOE_ERR_INVALID_ARG. */
AIOE_API int aioe_inbox_get_stats(aioe_inbox *inbox, aioe_inbox_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_INBOX_H */
