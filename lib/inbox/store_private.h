/* Private to lib/inbox/: the store's state, shared by store.c (running)
 * and store_open.c (recovery, close). */
#ifndef AIOE_INBOX_STORE_PRIVATE_H
#define AIOE_INBOX_STORE_PRIVATE_H

#include <pthread.h>

#include "inbox.h"

#define DEFAULT_SEGMENT (4u << 20)
#define MIN_SEGMENT 4096u
#define ACK_FLUSH 256u
#define ACK_FLUSH_MS 20
#define MAX_SEGMENT_FILE (1ull << 32)

typedef struct seg {
    uint64_t id;
    int fd;
    uint64_t size;       /* bytes written */
    uint64_t reserved;   /* bytes the file takes (>= size) */
    uint64_t live;       /* messages not acknowledged */
    uint64_t live_bytes;
    bool damaged;        /* recovery found unreadable ranges */
    unsigned char *map;  /* the active segment, mapped shared: NULL when
                          * written with pwrite(2) */
    size_t map_len;
} seg;

typedef struct ent {
    uint64_t seq;        /* 0: empty slot */
    uint64_t seg_id;
    uint64_t off;
    uint32_t len;
} ent;

struct aioe__store {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *dir;
    int dir_fd, lock_fd;
    aioe__store_config cfg;
    aioe__store_fs fs;
    seg **segs;          /* by id; the last one is the active segment */
    size_t nsegs, segs_cap;
    seg *spare;          /* reserved ahead, not written yet */
    uint64_t next_seg_id;
    ent *tab;            /* live messages, open addressing */
    size_t tab_cap, tab_n;
    uint64_t next_seq;
    unsigned char *wbuf;
    size_t wcap;
    uint64_t *acks;      /* acknowledged, not yet written */
    size_t nacks, acks_cap;
    int64_t acks_since_ms; /* when the oldest buffered one came */
    char *logq;          /* log lines waiting for the mutex to be released */
    size_t logq_len, logq_cap;
    uint64_t written, synced;
    bool syncing;
    aioe__store_stats st;
};

void aioe__st_log(aioe__store *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hands the queued log lines to the log callback; s->mu NOT held. */
void aioe__st_emit_logs(aioe__store *s);
void aioe__st_seg_name(uint64_t id, char *out, size_t n);
bool aioe__st_grow(void **p, size_t *cap, size_t need, size_t elem);
bool aioe__st_read_all(int fd, unsigned char *buf, size_t len, uint64_t off);
/* Reads bytes of a segment (from its mapping when it has one). */
bool aioe__st_seg_read(const seg *g, unsigned char *buf, size_t len, uint64_t off);
ent *aioe__st_tab_find(aioe__store *s, uint64_t seq);
bool aioe__st_tab_put(aioe__store *s, const ent *e);
/* Removes an entry of the index (backward shift, no tombstones). */
void aioe__st_tab_del(aioe__store *s, ent *e);
seg *aioe__st_active(aioe__store *s);
seg *aioe__st_seg_by_id(aioe__store *s, uint64_t id);
void aioe__st_seg_close(seg *g);
int aioe__st_seg_create(aioe__store *s, uint64_t reserve, seg **out);
bool aioe__st_seg_push(aioe__store *s, seg *g);
void aioe__st_seg_delete(aioe__store *s, size_t idx);
int aioe__st_write_record(aioe__store *s, const unsigned char *rec, size_t len);
int aioe__st_wait_durable(aioe__store *s);
int aioe__st_flush_acks(aioe__store *s);
void aioe__st_reserve_ahead(aioe__store *s);
bool aioe__st_copy_forward(aioe__store *s, seg *g);

#endif
