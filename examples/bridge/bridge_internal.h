/* aioe-bridge internals shared by bridge.c (lifecycle, sessions, counters)
 * and bridge_pump.c (the path from the source's inbox to the destination).
 * Example code, built only against the public API. */
#ifndef AIOE_BRIDGE_INTERNAL_H
#define AIOE_BRIDGE_INTERNAL_H

#include "bridge.h"
#include "transform_step.h"

#include <pthread.h>
#include <stdatomic.h>

#define MAX_INSTANCES 4096
#define SLOT_BITS 40
#define SLOT_MASK ((UINT64_C(1) << SLOT_BITS) - 1)

typedef struct sub_filter {
    struct bridge_instance *bi;
    char filter[];
} sub_filter;

/* One message taken from the inbox and not yet done: in flight to the
 * destination, or waiting to be sent again. */
typedef struct slot {
    aioe_message *msg;         /* owned; NULL: the slot is free */
    uint64_t id;               /* inbox id, acknowledged when done */
    char *topic;               /* destination topic, owned */
    size_t topic_len;
    bool transformed;          /* the fields below replace msg's */
    unsigned char *xblob;      /* owned: payload, content type, properties */
    const void *xpayload;
    size_t xpayload_len;
    const char *xct;           /* NULL: none */
    size_t xct_len;
    aioe_user_property *xprops; /* owned array */
    size_t xprop_count;
    int64_t taken_us;          /* CLOCK_MONOTONIC, for the latency histogram */
    size_t next_free;
} slot;

struct bridge_instance {
    unsigned id;
    unsigned index;            /* in the dataflow */
    unsigned count;            /* instances of the dataflow */
    char name[256];
    bridge_options opts;
    aioe_dataflow *df;
    transform_step *xf;        /* NULL: no BuiltInTransformation */
    aioe_endpoint *src_ep, *dst_ep;
    aioe_session *src, *dst;
    aioe_inbox *inbox;         /* bound to src: the durable store */
    int src_qos, dst_qos;
    bool retain_keep;
    sub_filter **filters;
    size_t nfilters;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;               /* under mu */
    size_t nslots, free_slot;  /* free list through next_free; SIZE_MAX ends */
    size_t busy;               /* slots in use */
    size_t *retry;             /* slots to send again, a ring (under mu) */
    size_t retry_cap, retry_head, retry_len;
    bool pump_stop;
    bool pump_wants_room;      /* the pump waits for a publish completion */
    bool pump_started;
    pthread_t pump;
    uint64_t completions;

    aioe_user_property *tprops; /* pump only: the transformation's input */
    size_t tprops_cap;

    atomic_bool paused;
    atomic_bool stopping_src, stopping_dst;
    atomic_bool src_ever_connected, dst_ever_connected;
    atomic_bool src_up, dst_up;   /* connected now */
    atomic_uint_fast64_t latency[BRIDGE_LATENCY_BOUNDS + 1], latency_sum_us;
    atomic_int fatal;
    char fatal_why[256];

    atomic_uint_fast64_t received, forwarded, dropped_unresolved, dropped_rejected,
        dropped_invalid, dropped_invalid_event, dropped_untransformable, dropped_qos0,
        duplicates, reconnects_src,
        reconnects_dst, pauses;
};

extern bridge_instance *g_bridge_instances[MAX_INSTANCES];

void blog(aioe_log_level lvl, const bridge_instance *bi, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* bridge_pump.c */
void *bridge_pump_main(void *arg);
/* Frees every slot (at the end; their messages stay in the inbox). */
void bridge_pump_free_slots(bridge_instance *bi);

#endif /* AIOE_BRIDGE_INTERNAL_H */
