/* aioe-bridge runtime: one bridge instance = one source session with a
 * durable inbox (the library's <aioendpoint/inbox.h>), one destination
 * session and one pump thread. See
 * docs/bridge.md for the design. Example code, built only against the
 * public API of libaioendpoint. */
#ifndef AIOE_BRIDGE_BRIDGE_H
#define AIOE_BRIDGE_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <aioendpoint/aioendpoint.h>

typedef struct bridge_options {
    const char *state_dir;       /* parent of the per-instance directories */
    bool fsync;
    uint64_t max_store_bytes;    /* per instance */
    uint64_t segment_bytes;      /* 0: min(4 MiB, max_store_bytes / 8) */
    unsigned high_water_pct;     /* pause the source at this fill level */
    unsigned low_water_pct;      /* resume it at this one */
    const char *resource_dir;    /* NULL: library default */
    const char *token_file;      /* NULL: library default */
    aioe_log_level log_level;
    uint32_t reconnect_max_ms;   /* 0: library default */
} bridge_options;

typedef struct bridge_instance bridge_instance;

/** Counters of one instance (a snapshot). */
typedef struct bridge_stats {
    uint64_t received;            /* messages the source delivered */
    uint64_t stored;              /* appended to the durable store */
    uint64_t forwarded;           /* acknowledged by the destination */
    uint64_t dropped_unresolved;  /* topic variable could not be resolved */
    uint64_t dropped_rejected;    /* destination refused (PUBACK >= 0x80) */
    uint64_t dropped_invalid;     /* cannot be published at all (too long...) */
    uint64_t dropped_qos0;        /* QoS 0 lost with a broken connection */
    uint64_t dropped_filtered;    /* a BuiltInTransformation filter rule was true */
    uint64_t dropped_untransformable; /* payload not a JSON object (transformation) */
    uint64_t transform_incomplete;/* passed with a map rule that wrote nothing */
    uint64_t transform_eval_errors; /* rule evaluations that failed */
    uint64_t duplicates_suspected;/* replayed after restart or re-sent */
    uint64_t store_errors;        /* appends the inbox could not make at once (held,
                                   * never acknowledged unstored: docs/inbox.md) */
    uint64_t reconnects_source;
    uint64_t reconnects_destination;
    uint64_t pauses;              /* times the source was paused */
    uint64_t over_limit;          /* 1 while the store is above max_store_bytes */
    uint64_t in_flight;           /* destination publishes outstanding */
    uint64_t queued;              /* waiting for the pump */
    uint64_t store_bytes;
    uint64_t store_undone;
    uint64_t store_lost;          /* records found damaged when the store opened */
    bool paused;
    bool source_connected;        /* the session is connected now */
    bool destination_connected;
} bridge_stats;

/* Forwarding latency: from the pump taking a message from the store to
 * the destination's PUBACK. Upper bounds in seconds of the buckets. */
#define BRIDGE_LATENCY_BOUNDS 12
extern const double bridge_latency_bounds_s[BRIDGE_LATENCY_BOUNDS];

/** A snapshot of the forwarding-latency histogram of one instance. */
typedef struct bridge_latency {
    uint64_t bucket[BRIDGE_LATENCY_BOUNDS + 1]; /* not cumulative; the last one
                                                 * counts what is above every bound */
    uint64_t sum_us;
} bridge_latency;

/**
 * Creates instance @p index of @p count of dataflow @p df (references are
 * taken on the dataflow and endpoints). Opens the store (replaying what it
 * holds) and creates the sessions, but connects nothing. On failure writes
 * a one-line reason to @p err and returns non-zero.
 */
int bridge_instance_new(bridge_instance **out, const bridge_options *opts,
                        const aioe_dataflow *df, const aioe_endpoint *src,
                        const aioe_endpoint *dst, unsigned index,
                        unsigned count, char *err, size_t errlen);

/** Starts the pump and both sessions, and subscribes. 0 or non-zero with
 *  @p err filled in (credentials or TLS material unusable). */
int bridge_instance_start(bridge_instance *bi, char *err, size_t errlen);

/** Stops the source session (no new messages); the broker keeps them. */
void bridge_instance_stop_source(bridge_instance *bi);

/** True when nothing waits to be published and nothing is in flight. */
bool bridge_instance_drained(bridge_instance *bi);

/**
 * Non-zero when a session stopped for good: the tool's exit status
 * (examples/common/tool.h), TOOL_EXIT_INVALID for a subscription the
 * source broker refused, TOOL_EXIT_FAILURE otherwise (cannot
 * authenticate, TLS, lost for good). @p why gets the reason.
 */
int bridge_instance_fatal(bridge_instance *bi, char *why, size_t len);

/** Stops everything, flushes the store, frees. NULL does nothing. */
void bridge_instance_free(bridge_instance *bi);

const char *bridge_instance_name(const bridge_instance *bi);
/** The dataflow's name (borrowed for the instance's life) and the
 *  instance's index in it. */
const char *bridge_instance_dataflow_name(const bridge_instance *bi);
unsigned bridge_instance_index(const bridge_instance *bi);
/** What the instance runs (borrowed for its life): the dataflow, an
 *  endpoint (@p source true: the source's) and the dataflow's instance
 *  count. SIGHUP compares them with the files (bridge_reload.h). */
const aioe_dataflow *bridge_instance_dataflow(const bridge_instance *bi);
const aioe_endpoint *bridge_instance_endpoint(const bridge_instance *bi, bool source);
unsigned bridge_instance_count(const bridge_instance *bi);
/** True while both sessions are connected. */
bool bridge_instance_connected(bridge_instance *bi);
/** The source (@p source true) or destination session, borrowed for the
 *  instance's life. */
aioe_session *bridge_instance_session(bridge_instance *bi, bool source);
void bridge_instance_latency(bridge_instance *bi, bridge_latency *out);
void bridge_instance_stats(bridge_instance *bi, bridge_stats *out);
/** Adds @p b into @p a (bool fields: or). */
void bridge_stats_add(bridge_stats *a, const bridge_stats *b);
/** One line "key=value ..." for @p s. */
void bridge_stats_print(FILE *to, const char *label, const bridge_stats *s);

#endif /* AIOE_BRIDGE_BRIDGE_H */
