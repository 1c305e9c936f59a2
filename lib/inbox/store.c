/* The inbox's segment store: append-only segment files in one directory,
 * message and acknowledgement records (record.c), recovery that skips
 * damage and keeps every intact record, reclamation, a byte limit and
 * space reserved ahead so that a full disk is seen before it bites.
 *
 * Directory layout:
 *   LOCK                 flock()ed while a process uses the directory
 *   XXXXXXXXXXXXXXXX.log segments, 16 hex digits, in creation order
 *   *.log.damaged        segments that held unreadable ranges, renamed
 *                        aside (never deleted) once their good records
 *                        were copied into a new segment
 *
 * Space: every segment is reserved with fallocate(FALLOC_FL_KEEP_SIZE)
 * when it is created, so writes inside it cannot fail with ENOSPC, and the
 * next segment is reserved when the current one is half full. When that
 * reservation fails (disk full, or the byte limit), the store reports
 * `full` while there is still half a segment of room: the inbox pauses the
 * session then, and what arrives before the pause takes effect still fits.
 *
 * Reclaim: the oldest segment is deleted once all its messages are
 * acknowledged; when a few old messages pin it, they are copied forward
 * (same sequence numbers) and it is deleted. Acknowledgements are only in
 * segments at or after their message's segment, so deleting oldest first
 * never loses an acknowledgement of a message still on disk; recovery
 * writes one checkpoint record of the acknowledgements it needs before it
 * deletes anything out of order.
 *
 * Threads: one mutex; appends in POWER mode sync outside it with group
 * commit (one fdatasync covers every append written before it started).
 *
 * This file is the segment log itself (files, the index, space, writing
 * and group commit); reclamation and the store's operations (append, read,
 * acknowledge, flush) are in store_ops.c, recovery in store_open.c. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "aioendpoint/session.h"
#include "inbox.h"

#include "store_private.h"

/* ---- small helpers ---- */

/* Log lines are made under s->mu and queued; aioe__st_emit_logs() hands
 * them to the host's log callback after the mutex is released, so the
 * callback never runs under the store's lock (it may take the host's own
 * locks, which may be held around a call into the inbox). */
void aioe__st_log(aioe__store *s, int level, const char *fmt, ...)
{
    if (!s->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 1, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strlen(line + 1) + 2; /* level byte, text, NUL */
    line[0] = (char)('0' + level);
    if (!aioe__st_grow((void **)&s->logq, &s->logq_cap, s->logq_len + len, 1))
        return; /* out of memory: the line is lost, nothing else */
    memcpy(s->logq + s->logq_len, line, len);
    __atomic_store_n(&s->logq_len, s->logq_len + len, __ATOMIC_RELAXED);
}

void aioe__st_emit_logs(aioe__store *s)
{
    if (!s || !__atomic_load_n(&s->logq_len, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&s->mu);
    char *q = s->logq;
    size_t n = s->logq_len;
    s->logq = NULL;
    s->logq_cap = 0;
    __atomic_store_n(&s->logq_len, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->mu);
    for (size_t off = 0; off < n;) {
        size_t len = strlen(q + off);
        s->cfg.log(s->cfg.log_ctx, q[off] - '0', q + off + 1);
        off += len + 1;
    }
    free(q);
}

void aioe__st_seg_name(uint64_t id, char *out, size_t n)
{
    snprintf(out, n, "%016" PRIx64 ".log", id);
}

static int fs_fallocate(aioe__store *s, int fd, uint64_t len)
{
    if (s->fs.fallocate)
        return s->fs.fallocate(fd, len, s->fs.ctx);
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)len) == 0)
        return 0;
    return -errno;
}

static long fs_pwrite(aioe__store *s, int fd, const void *buf, size_t len, uint64_t off)
{
    if (s->fs.pwrite)
        return s->fs.pwrite(fd, buf, len, off, s->fs.ctx);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return done ? (long)done : -errno;
        }
        done += (size_t)n;
    }
    return (long)done;
}

/* The caller counts it in s->st.syncs (under the mutex). */
static int fs_fdatasync(aioe__store *s, int fd)
{
    if (s->fs.fdatasync)
        return s->fs.fdatasync(fd, s->fs.ctx);
    return fdatasync(fd) == 0 ? 0 : -errno;
}

bool aioe__st_read_all(int fd, unsigned char *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

bool aioe__st_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

/* ---- the index of live messages: seq -> location ---- */

static size_t slot_of(uint64_t seq, size_t cap)
{
    seq *= 0x9E3779B97F4A7C15ull;
    return (size_t)(seq >> 32) & (cap - 1);
}

ent *aioe__st_tab_find(aioe__store *s, uint64_t seq)
{
    if (!s->tab_cap || !seq)
        return NULL;
    for (size_t i = slot_of(seq, s->tab_cap);; i = (i + 1) & (s->tab_cap - 1)) {
        if (s->tab[i].seq == seq)
            return &s->tab[i];
        if (s->tab[i].seq == 0)
            return NULL;
    }
}

bool aioe__st_tab_put(aioe__store *s, const ent *e)
{
    if ((s->tab_n + 1) * 2 > s->tab_cap) {
        size_t cap = s->tab_cap ? s->tab_cap * 2 : 1024;
        ent *t = calloc(cap, sizeof *t);
        if (!t)
            return false;
        for (size_t i = 0; i < s->tab_cap; i++) {
            if (!s->tab[i].seq)
                continue;
            size_t j = slot_of(s->tab[i].seq, cap);
            while (t[j].seq)
                j = (j + 1) & (cap - 1);
            t[j] = s->tab[i];
        }
        free(s->tab);
        s->tab = t;
        s->tab_cap = cap;
    }
    size_t i = slot_of(e->seq, s->tab_cap);
    while (s->tab[i].seq && s->tab[i].seq != e->seq)
        i = (i + 1) & (s->tab_cap - 1);
    if (!s->tab[i].seq)
        s->tab_n++;
    s->tab[i] = *e;
    return true;
}

/* Removes with backward shift (no tombstones). */
void aioe__st_tab_del(aioe__store *s, ent *e)
{
    size_t cap = s->tab_cap, i = (size_t)(e - s->tab);
    s->tab[i].seq = 0;
    s->tab_n--;
    for (size_t j = (i + 1) & (cap - 1); s->tab[j].seq; j = (j + 1) & (cap - 1)) {
        size_t home = slot_of(s->tab[j].seq, cap);
        /* move j into the hole at i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            s->tab[i] = s->tab[j];
            s->tab[j].seq = 0;
            i = j;
        }
    }
}

seg *aioe__st_seg_by_id(aioe__store *s, uint64_t id)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->segs[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsegs && s->segs[lo]->id == id ? s->segs[lo] : NULL;
}

seg *aioe__st_active(aioe__store *s)
{
    return s->nsegs ? s->segs[s->nsegs - 1] : NULL;
}

/* ---- segments ---- */

void aioe__st_seg_close(seg *g)
{
    if (g) {
        if (g->map)
            munmap(g->map, g->map_len);
        if (g->fd >= 0)
            close(g->fd);
        free(g);
    }
}

static void set_full(aioe__store *s, int status)
{
    if (!s->st.full)
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: %s: pausing until acknowledgements free space",
              s->dir,
              status == AIOE_ERR_WOULD_BLOCK ? "byte limit reached"
                                             : "disk full (cannot reserve the next segment)");
    s->st.full = true;
    s->st.full_status = status;
}

/* Creates and reserves a new segment file. AIOE_OK, AIOE_ERR_WOULD_BLOCK
 * (byte limit), AIOE_ERR_IO (disk full or another error: errno in *err). */
int aioe__st_seg_create(aioe__store *s, uint64_t reserve, seg **out)
{
    *out = NULL;
    if (s->cfg.max_bytes && s->st.file_bytes + reserve > s->cfg.max_bytes)
        return AIOE_ERR_WOULD_BLOCK;
    seg *g = calloc(1, sizeof *g);
    if (!g)
        return AIOE_ERR_NOMEM;
    g->id = s->next_seg_id;
    char name[32];
    aioe__st_seg_name(g->id, name, sizeof name);
    g->fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (g->fd < 0) {
        int e = errno;
        free(g);
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: cannot create: %s", s->dir, name, strerror(e));
        return AIOE_ERR_IO;
    }
    /* SIGKILL-safe mode writes through a shared mapping of the reserved
     * file: the bytes are in the kernel's page cache as soon as they are
     * copied, like write(2), without a system call per message (a write(2)
     * costs several microseconds on a virtual machine). The reservation
     * then sets the file's size; recovery reads the zeros after the last
     * record as unused space. Power-loss mode and injected file systems
     * use pwrite(2). */
    bool want_map = s->cfg.durability == AIOE__DURABLE_PROCESS && !s->fs.pwrite &&
                    !s->fs.fallocate;
    int rc = want_map ? (fallocate(g->fd, 0, 0, (off_t)reserve) == 0 ? 0 : -errno)
                      : fs_fallocate(s, g->fd, reserve);
    if (rc == 0 && want_map) {
        void *p = mmap(NULL, (size_t)reserve, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
        if (p != MAP_FAILED) {
            g->map = p;
            g->map_len = (size_t)reserve;
        }
    }
    if (rc == -EOPNOTSUPP) {
        rc = 0; /* no reservation on this file system: ENOSPC shows at write */
    } else if (rc < 0) {
        if (rc != -ENOSPC && rc != -EDQUOT)
            aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: cannot reserve %" PRIu64 " bytes: %s",
                  s->dir, name, reserve, strerror(-rc));
        close(g->fd);
        unlinkat(s->dir_fd, name, 0); /* nothing in it: no empty files accumulate */
        free(g);
        return AIOE_ERR_IO;
    }
    if (s->cfg.durability == AIOE__DURABLE_POWER)
        fsync(s->dir_fd);
    s->next_seg_id++;
    g->reserved = reserve;
    s->st.file_bytes += reserve;
    *out = g;
    return AIOE_OK;
}

bool aioe__st_seg_push(aioe__store *s, seg *g)
{
    if (!aioe__st_grow((void **)&s->segs, &s->segs_cap, s->nsegs + 1, sizeof *s->segs))
        return false;
    s->segs[s->nsegs++] = g;
    s->st.segments = s->nsegs;
    return true;
}

/* Gives back the reserved space past the end of a segment that will not be
 * written again. */
static void seg_trim(aioe__store *s, seg *g)
{
    /* the mapping stays for reads (never past g->size) until the segment
     * is deleted */
    if (g->reserved > g->size) {
        struct stat sb;
        bool sized = fstat(g->fd, &sb) == 0 && (uint64_t)sb.st_size > g->size;
        if ((sized && ftruncate(g->fd, (off_t)g->size) == 0) ||
            fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)g->size,
                      (off_t)(g->reserved - g->size)) == 0) {
            s->st.file_bytes -= g->reserved - g->size;
            g->reserved = g->size;
        }
    }
}

bool aioe__st_seg_read(const seg *g, unsigned char *buf, size_t len, uint64_t off)
{
    if (g->map && off + len <= g->size) {
        memcpy(buf, g->map + off, len);
        return true;
    }
    return aioe__st_read_all(g->fd, buf, len, off);
}

/* Makes room for `need` bytes in the active segment: moves to the spare
 * or a new segment. */
static int roll(aioe__store *s, uint64_t need)
{
    seg *old = aioe__st_active(s);
    seg *g = NULL;
    /* POWER: what the old segment holds must be durable before waiters
     * start syncing only the new one */
    if (old && s->cfg.durability == AIOE__DURABLE_POWER && s->synced < s->written) {
        s->st.syncs++;
        int rc = fs_fdatasync(s, old->fd);
        if (rc != 0) {
            aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: fdatasync failed: %s", s->dir,
                         strerror(-rc));
            return AIOE_ERR_IO;
        }
        s->synced = s->written;
    }
    if (s->spare && s->spare->reserved >= need) {
        g = s->spare;
        s->spare = NULL;
    } else {
        uint64_t want = s->cfg.segment_bytes > need ? s->cfg.segment_bytes : need;
        int rc = aioe__st_seg_create(s, want, &g);
        if (rc != AIOE_OK) {
            set_full(s, rc == AIOE_ERR_WOULD_BLOCK ? rc : AIOE_ERR_IO);
            return AIOE_ERR_WOULD_BLOCK;
        }
    }
    if (!aioe__st_seg_push(s, g)) {
        s->st.file_bytes -= g->reserved;
        char name[32];
        aioe__st_seg_name(g->id, name, sizeof name);
        aioe__st_seg_close(g);
        unlinkat(s->dir_fd, name, 0);
        return AIOE_ERR_NOMEM;
    }
    if (old)
        seg_trim(s, old);
    return AIOE_OK;
}

/* Reserves the next segment once the active one is half full. */
void aioe__st_reserve_ahead(aioe__store *s)
{
    seg *a = aioe__st_active(s);
    if (s->spare || (a && a->size < a->reserved / 2 && !s->st.full))
        return;
    seg *g;
    int rc = aioe__st_seg_create(s, s->cfg.segment_bytes, &g);
    if (rc == AIOE_OK) {
        s->spare = g;
        if (s->st.full)
            aioe__st_log(s, AIOE_LOG_INFO, "inbox %s: space reserved again", s->dir);
        s->st.full = false;
        s->st.full_status = AIOE_OK;
    } else {
        set_full(s, rc == AIOE_ERR_WOULD_BLOCK ? rc : AIOE_ERR_IO);
    }
}

/* Writes bytes at the end of the active segment, rolling first if needed.
 * A short write is cut off again, so the log never keeps half a record. */
int aioe__st_write_record(aioe__store *s, const unsigned char *rec, size_t len)
{
    seg *a = aioe__st_active(s);
    if (!a || a->size + len > a->reserved) {
        int rc = roll(s, len);
        if (rc != AIOE_OK)
            return rc;
        a = aioe__st_active(s);
        if (!a)
            return AIOE_ERR_INTERNAL;
    }
    if (a->map && a->size + len <= a->map_len && len > 4) {
        /* the magic last: a record cut short by a SIGKILL has none, and
         * recovery tells it from damage by that (store_open.c) */
        memcpy(a->map + a->size + 4, rec + 4, len - 4);
        /* only program order matters (a SIGKILL stops this thread at an
         * instruction boundary; no other thread reads the record before
         * the append returns), so a compiler barrier is enough */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        memcpy(a->map + a->size, rec, 4);
        goto written;
    }
    long n = fs_pwrite(s, a->fd, rec, len, a->size);
    if (n != (long)len) {
        int e = n < 0 ? (int)-n : ENOSPC;
        if (n > 0 && ftruncate(a->fd, (off_t)a->size) != 0)
            aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: cannot cut off a partial write: %s", s->dir,
                  strerror(errno));
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: write failed: %s", s->dir, strerror(e));
        if (e == ENOSPC || e == EDQUOT) {
            set_full(s, AIOE_ERR_IO);
            return AIOE_ERR_WOULD_BLOCK;
        }
        return AIOE_ERR_IO;
    }
written:
    a->size += len;
    if (a->size > a->reserved) {
        s->st.file_bytes += a->size - a->reserved;
        a->reserved = a->size;
    }
    s->written += len;
    return AIOE_OK;
}

/* Group commit: returns once everything written before the call is on
 * stable storage. One caller syncs; the others wait for it. */
int aioe__st_wait_durable(aioe__store *s)
{
    uint64_t mine = s->written;
    while (s->synced < mine) {
        if (s->syncing) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        seg *a = aioe__st_active(s);
        if (!a)
            return AIOE_OK; /* nothing was ever written */
        s->syncing = true;
        uint64_t target = s->written;
        int fd = a->fd;
        s->st.syncs++;
        pthread_mutex_unlock(&s->mu);
        int rc = fs_fdatasync(s, fd);
        pthread_mutex_lock(&s->mu);
        s->syncing = false;
        if (rc == 0 && target > s->synced)
            s->synced = target;
        pthread_cond_broadcast(&s->cv);
        if (rc != 0) {
            aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: fdatasync failed: %s", s->dir, strerror(-rc));
            return AIOE_ERR_IO;
        }
    }
    return AIOE_OK;
}

int aioe__st_flush_acks(aioe__store *s)
{
    if (!s->nacks)
        return AIOE_OK;
    size_t len = aioe__rec_ack_size(s->nacks);
    if (!aioe__st_grow((void **)&s->wbuf, &s->wcap, len, 1))
        return AIOE_ERR_NOMEM;
    aioe__rec_encode_ack(s->acks, s->nacks, s->wbuf, len);
    int rc = aioe__st_write_record(s, s->wbuf, len);
    if (rc == AIOE_OK)
        s->nacks = 0; /* otherwise kept: a lost ack is a duplicate, not a loss */
    return rc;
}
