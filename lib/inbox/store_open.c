/* Opening a store: the directory lock, recovery of what the segment files
 * hold, and closing. Recovery never stops at damage: an unreadable range
 * is reported with file and offset (at error level), the reader
 * resynchronises on the next record marker with a good CRC, and every
 * intact record after it is kept. A segment with damage is renamed to
 * `<name>.damaged` (never deleted) once its good messages were copied into
 * the new segment. An incomplete last record of the newest segment is a
 * torn tail: it was being written when the process died, so it was never
 * acknowledged to the broker (warning, not counted as lost). Only regular
 * files are opened (O_NOFOLLOW | O_NONBLOCK, then fstat): a FIFO or a
 * symbolic link named like a segment is reported and left alone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "aioendpoint/session.h"
#include "store_private.h"

typedef struct found {
    uint64_t seq, seg_id, off;
    uint32_t len;
} found;

typedef struct scan_state {
    found *recs;
    size_t nrecs, recs_cap;
    uint64_t *acks;
    size_t nacks, acks_cap;
} scan_state;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_found(const void *a, const void *b)
{
    const found *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->seg_id < y->seg_id ? -1 : x->seg_id > y->seg_id;
}

static bool parse_name(const char *name, const char *suffix, uint64_t *id)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != 16 + sl || strcmp(name + 16, suffix) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *id = v;
    return true;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A record cut short when the process died: written through a mapping,
 * the magic goes in last (store.c), so such a record has none yet: its
 * first four bytes are still zero. A complete record whose CRC fails has
 * its magic: that is damage. */
static bool torn_write(const unsigned char *p, size_t n)
{
    return n >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0;
}

static void damage(aioe__store *s, seg *g, const char *name, uint64_t off, uint64_t end,
                   const unsigned char *buf, const char *what)
{
    size_t markers = aioe__rec_count_markers(buf, (size_t)off, (size_t)end);
    size_t lost = markers ? markers : 1;
    aioe__st_log(s, AIOE_LOG_ERROR,
                 "inbox %s/%s: %s: %" PRIu64 " bytes at offset %" PRIu64
                 " skipped (at least %zu record(s) lost); reading on at offset %" PRIu64,
                 s->dir, name, what, end - off, off, lost, end);
    s->st.damaged_ranges++;
    s->st.records_lost += lost;
    g->damaged = true;
}

/* Reads one segment file into the scan state. Returns the segment, or NULL
 * when the file is refused or cannot be read (reported). */
static seg *recover_one(aioe__store *s, uint64_t id, bool newest, scan_state *ss, int *err)
{
    char name[32];
    aioe__st_seg_name(id, name, sizeof name);
    *err = AIOE_OK;
    int fd = openat(s->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: cannot open (%s): left alone", s->dir,
                     name, errno == ELOOP ? "a symbolic link" : strerror(errno));
        s->st.files_refused++;
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > MAX_SEGMENT_FILE) {
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: %s: left alone", s->dir, name,
                     !S_ISREG(sb.st_mode) ? "not a regular file" : "too large for a segment");
        s->st.files_refused++;
        close(fd);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    seg *g = calloc(1, sizeof *g);
    if (!buf || !g || !aioe__st_read_all(fd, buf, size, 0)) {
        if (buf && g)
            aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: cannot read: %s", s->dir, name,
                         strerror(errno));
        *err = buf && g ? AIOE_ERR_IO : AIOE_ERR_NOMEM;
        free(buf);
        free(g);
        close(fd);
        return NULL;
    }
    g->id = id;
    g->fd = fd;
    g->size = size;
    uint64_t blocks = (uint64_t)sb.st_blocks * 512;
    g->reserved = blocks > size ? blocks : size;

    size_t off = 0;
    while (off < size) {
        aioe__rec_view v;
        aioe__rec_parse_result r = aioe__rec_parse(buf + off, size - off, &v);
        if (r == AIOE__REC_OK) {
            if (v.type == AIOE__REC_MSG) {
                aioe__rec_msg m;
                if (aioe__rec_decode_msg(v.body, v.body_len, &m) != AIOE_OK || m.seq == 0) {
                    damage(s, g, name, off, off + v.total, buf, "invalid message record");
                } else if (aioe__st_grow((void **)&ss->recs, &ss->recs_cap, ss->nrecs + 1,
                                         sizeof *ss->recs)) {
                    ss->recs[ss->nrecs++] = (found){ m.seq, id, off, (uint32_t)v.total };
                } else {
                    *err = AIOE_ERR_NOMEM;
                }
            } else {
                size_t count;
                if (aioe__rec_decode_ack(v.body, v.body_len, &count) != AIOE_OK) {
                    damage(s, g, name, off, off + v.total, buf, "invalid acknowledgement record");
                } else if (aioe__st_grow((void **)&ss->acks, &ss->acks_cap, ss->nacks + count,
                                         sizeof *ss->acks)) {
                    for (size_t i = 0; i < count; i++)
                        ss->acks[ss->nacks++] = aioe__rec_ack_seq(v.body, i);
                } else {
                    *err = AIOE_ERR_NOMEM;
                }
            }
            off += v.total;
            continue;
        }
        size_t next = aioe__rec_resync(buf, size, off + 1);
        if (next < size) {
            damage(s, g, name, off, next, buf, "damaged record");
            off = next;
            continue;
        }
        /* nothing readable up to the end of the file */
        if (all_zero(buf + off, size - off))
            break; /* space written as zeros, not records */
        if (newest && (r == AIOE__REC_SHORT || torn_write(buf + off, size - off))) {
            aioe__st_log(s, AIOE_LOG_WARNING,
                         "inbox %s/%s: incomplete record at offset %zu (%zu bytes) ignored: "
                         "it was being written when the process stopped and was never "
                         "acknowledged",
                         s->dir, name, off, size - off);
            s->st.torn_tails++;
        } else {
            damage(s, g, name, off, size, buf, "damaged record at the end");
        }
        break;
    }
    free(buf);
    if (*err != AIOE_OK) {
        aioe__st_seg_close(g);
        return NULL;
    }
    return g;
}

/* Renames a damaged segment aside once its live messages were copied. */
static void set_aside(aioe__store *s, size_t idx)
{
    seg *g = s->segs[idx];
    char name[32], aside[48];
    aioe__st_seg_name(g->id, name, sizeof name);
    snprintf(aside, sizeof aside, "%s.damaged", name);
    if (renameat(s->dir_fd, name, s->dir_fd, aside) != 0) {
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: cannot rename to %s: %s", s->dir, name,
                     aside, strerror(errno));
        return;
    }
    aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s/%s: kept as %s for inspection", s->dir, name,
                 aside);
    s->st.files_damaged++;
    s->st.file_bytes -= g->reserved;
    aioe__st_seg_close(g);
    memmove(&s->segs[idx], &s->segs[idx + 1], (s->nsegs - idx - 1) * sizeof *s->segs);
    s->nsegs--;
    s->st.segments = s->nsegs;
}

static int list_segments(aioe__store *s, uint64_t **ids, size_t *n, char *err, size_t errlen)
{
    int dfd = dup(s->dir_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        snprintf(err, errlen, "%s: cannot list: %s", s->dir, strerror(errno));
        return AIOE_ERR_IO;
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = AIOE_OK;
    while ((de = readdir(d)) != NULL) {
        uint64_t id;
        if (parse_name(de->d_name, ".log.damaged", &id)) {
            if (id >= s->next_seg_id)
                s->next_seg_id = id + 1;
            continue;
        }
        if (!parse_name(de->d_name, ".log", &id))
            continue;
        if (id >= s->next_seg_id)
            s->next_seg_id = id + 1;
        if (!aioe__st_grow((void **)ids, &cap, *n + 1, sizeof **ids)) {
            rc = AIOE_ERR_NOMEM;
            break;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    if (*n)
        qsort(*ids, *n, sizeof **ids, cmp_u64);
    return rc;
}

/* Writes one acknowledgement checkpoint (in chunks) so that segments can be
 * deleted in any order. */
static int write_checkpoint(aioe__store *s, const uint64_t *seqs, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = n - i > 65536 ? 65536 : n - i;
        size_t len = aioe__rec_ack_size(k);
        if (!aioe__st_grow((void **)&s->wbuf, &s->wcap, len, 1))
            return AIOE_ERR_NOMEM;
        aioe__rec_encode_ack(seqs + i, k, s->wbuf, len);
        int rc = aioe__st_write_record(s, s->wbuf, len);
        if (rc != AIOE_OK)
            return rc;
        i += k;
    }
    return AIOE_OK;
}

static int recover(aioe__store *s, char *err, size_t errlen)
{
    uint64_t *ids = NULL;
    size_t nids = 0;
    int rc = list_segments(s, &ids, &nids, err, errlen);
    scan_state ss = { 0 };
    for (size_t i = 0; rc == AIOE_OK && i < nids; i++) {
        int e;
        seg *g = recover_one(s, ids[i], i + 1 == nids, &ss, &e);
        if (e != AIOE_OK) {
            rc = e;
            snprintf(err, errlen, "%s: recovery failed: %s", s->dir, aioe_strerror(e));
        } else if (g && !aioe__st_seg_push(s, g)) {
            aioe__st_seg_close(g);
            rc = AIOE_ERR_NOMEM;
        } else if (g) {
            s->st.file_bytes += g->reserved;
        }
    }
    free(ids);
    if (rc != AIOE_OK)
        goto out;

    if (ss.nacks)
        qsort(ss.acks, ss.nacks, sizeof *ss.acks, cmp_u64);
    if (ss.nrecs)
        qsort(ss.recs, ss.nrecs, sizeof *ss.recs, cmp_found);
    uint64_t max_seq = ss.nacks ? ss.acks[ss.nacks - 1] : 0;
    /* first pass: which messages are live (a copied-forward duplicate of a
     * sequence number counts once, in its oldest segment) */
    size_t nlive = 0;
    uint64_t *keep = NULL; /* acknowledged messages in segments kept */
    size_t nkeep = 0, keep_cap = 0;
    for (size_t i = 0; i < ss.nrecs; i++) {
        found *f = &ss.recs[i];
        if (f->seq > max_seq)
            max_seq = f->seq;
        bool dup = i > 0 && ss.recs[i - 1].seq == f->seq;
        bool acked = ss.nacks &&
                     bsearch(&f->seq, ss.acks, ss.nacks, sizeof *ss.acks, cmp_u64) != NULL;
        seg *g = aioe__st_seg_by_id(s, f->seg_id);
        if (dup || acked || !g) {
            f->len = 0; /* not live */
            continue;
        }
        ent e = { f->seq, f->seg_id, f->off, f->len };
        if (!aioe__st_tab_put(s, &e)) {
            rc = AIOE_ERR_NOMEM;
            goto out_keep;
        }
        g->live++;
        g->live_bytes += f->len;
        s->st.live++;
        s->st.live_bytes += f->len;
        nlive++;
    }
    for (size_t i = 0; i < ss.nrecs; i++) {
        found *f = &ss.recs[i];
        seg *g = aioe__st_seg_by_id(s, f->seg_id);
        if (f->len == 0 && g && g->live && !g->damaged && ss.nacks &&
            bsearch(&f->seq, ss.acks, ss.nacks, sizeof *ss.acks, cmp_u64)) {
            if (!aioe__st_grow((void **)&keep, &keep_cap, nkeep + 1, sizeof *keep)) {
                rc = AIOE_ERR_NOMEM;
                goto out_keep;
            }
            keep[nkeep++] = f->seq;
        }
    }
    s->next_seq = max_seq + 1;
    s->st.recovered = nlive;

    /* the new active segment; a full disk here is reported, not fatal:
     * what was recovered can still be delivered and acknowledged */
    seg *a = NULL;
    int crc = aioe__st_seg_create(s, s->cfg.segment_bytes, &a);
    if (crc == AIOE_OK && !aioe__st_seg_push(s, a)) {
        aioe__st_seg_close(a);
        rc = AIOE_ERR_NOMEM;
        goto out_keep;
    }
    if (crc != AIOE_OK) {
        s->st.full = true;
        s->st.full_status = crc == AIOE_ERR_WOULD_BLOCK ? crc : AIOE_ERR_IO;
        aioe__st_log(s, AIOE_LOG_ERROR, "inbox %s: no space for a new segment: %s", s->dir,
                     crc == AIOE_ERR_WOULD_BLOCK ? "byte limit reached" : "disk full");
    }
    bool checkpointed = crc == AIOE_OK && write_checkpoint(s, keep, nkeep) == AIOE_OK;

    /* damaged segments: good messages forward, the file aside */
    for (size_t i = 0; crc == AIOE_OK && i + 1 < s->nsegs;) {
        seg *g = s->segs[i];
        if (g->damaged && aioe__st_copy_forward(s, g)) {
            set_aside(s, i);
            continue;
        }
        if (g->damaged)
            aioe__st_log(s, AIOE_LOG_ERROR,
                         "inbox %s: a damaged segment stays in place (no room to copy its "
                         "messages forward)",
                         s->dir);
        i++;
    }
    if (s->cfg.durability == AIOE__DURABLE_POWER && crc == AIOE_OK)
        aioe__st_wait_durable(s);
    /* segments with nothing live left */
    for (size_t i = 0; i + 1 < s->nsegs;) {
        seg *g = s->segs[i];
        if (!g->live && !g->damaged && (checkpointed || i == 0)) {
            aioe__st_seg_delete(s, i);
            continue;
        }
        i++;
    }
    if (s->cfg.durability == AIOE__DURABLE_POWER)
        fsync(s->dir_fd);
out_keep:
    free(keep);
out:
    free(ss.acks);
    free(ss.recs);
    if (rc == AIOE_OK && (s->st.recovered || s->st.damaged_ranges || s->st.torn_tails))
        aioe__st_log(s, AIOE_LOG_INFO,
                     "inbox %s: %" PRIu64 " message(s) not acknowledged, %" PRIu64
                     " damaged range(s) with at least %" PRIu64 " record(s) lost, %" PRIu64
                     " torn tail(s)",
                     s->dir, s->st.recovered, s->st.damaged_ranges, s->st.records_lost,
                     s->st.torn_tails);
    return rc;
}

int aioe__store_open(aioe__store **out, const char *dir, const aioe__store_config *cfg,
                     aioe__store_replay_fn replay, void *replay_ctx, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!out || !dir || !*dir)
        return AIOE_ERR_INVALID_ARG;
    *out = NULL;
    aioe__store *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return AIOE_ERR_NOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->dir_fd = s->lock_fd = -1;
    if (cfg)
        s->cfg = *cfg;
    if (cfg && cfg->fs)
        s->fs = *cfg->fs;
    s->cfg.fs = NULL;
    if (!s->cfg.segment_bytes)
        s->cfg.segment_bytes = DEFAULT_SEGMENT;
    if (s->cfg.segment_bytes < MIN_SEGMENT)
        s->cfg.segment_bytes = MIN_SEGMENT;
    s->next_seq = 1;
    s->next_seg_id = 1;

    int rc = AIOE_OK;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        rc = AIOE_ERR_IO;
        goto fail;
    }
    s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", dir, strerror(errno));
        rc = AIOE_ERR_IO;
        goto fail;
    }
    s->lock_fd = openat(s->dir_fd, "LOCK", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                        0600);
    struct stat sb;
    if (s->lock_fd < 0 || fstat(s->lock_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s/LOCK: %s", dir,
                 s->lock_fd < 0 ? strerror(errno) : "not a regular file");
        rc = AIOE_ERR_IO;
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "%s: in use by another process", dir);
        rc = errno == EWOULDBLOCK ? AIOE_ERR_STATE : AIOE_ERR_IO;
        goto fail;
    }
    pthread_mutex_lock(&s->mu);
    rc = recover(s, err, errlen);
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    if (rc != AIOE_OK)
        goto fail;
    if (replay) {
        /* oldest first */
        uint64_t *seqs = malloc((s->tab_n ? s->tab_n : 1) * sizeof *seqs);
        if (!seqs) {
            rc = AIOE_ERR_NOMEM;
            goto fail;
        }
        size_t n = 0;
        for (size_t i = 0; i < s->tab_cap; i++)
            if (s->tab[i].seq)
                seqs[n++] = s->tab[i].seq;
        if (n)
            qsort(seqs, n, sizeof *seqs, cmp_u64);
        for (size_t i = 0; i < n; i++)
            replay(replay_ctx, seqs[i], aioe__st_tab_find(s, seqs[i])->len);
        free(seqs);
    }
    *out = s;
    return AIOE_OK;
fail:
    aioe__store_close(s);
    return rc;
}

void aioe__store_close(aioe__store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->nsegs)
        aioe__st_flush_acks(s);
    if (s->nsegs && s->cfg.durability == AIOE__DURABLE_POWER)
        aioe__st_wait_durable(s);
    char name[32];
    if (s->spare) {
        aioe__st_seg_name(s->spare->id, name, sizeof name);
        unlinkat(s->dir_fd, name, 0); /* reserved ahead, never written */
        aioe__st_seg_close(s->spare);
    }
    seg *a = aioe__st_active(s);
    if (a && a->size == 0) {
        aioe__st_seg_name(a->id, name, sizeof name);
        unlinkat(s->dir_fd, name, 0);
    } else if (a && a->reserved > a->size) {
        if (a->map) {
            munmap(a->map, a->map_len);
            a->map = NULL;
        }
        (void)!ftruncate(a->fd, (off_t)a->size); /* gives back the reservation */
    }
    for (size_t i = 0; i < s->nsegs; i++)
        aioe__st_seg_close(s->segs[i]);
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->segs);
    free(s->tab);
    free(s->wbuf);
    free(s->acks);
    free(s->logq);
    free(s->dir);
    free(s);
}
