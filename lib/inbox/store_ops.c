/* The inbox store's operations: append, read, acknowledge, flush, the
 * reserve check and statistics, and reclamation (deleting the oldest
 * segments once empty, copying pinned messages forward). Built on the
 * segment log of store.c; the layout, space and threading rules are in
 * store.c's opening comment. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "aioendpoint/session.h"
#include "inbox.h"

#include "store_private.h"

static int64_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deletes a segment file (all its messages are acknowledged). */
void aioe__st_seg_delete(aioe__store *s, size_t idx)
{
    seg *g = s->segs[idx];
    char name[32];
    aioe__st_seg_name(g->id, name, sizeof name);
    if (unlinkat(s->dir_fd, name, 0) != 0)
        aioe__st_log(s, AIOE_LOG_WARNING, "inbox %s/%s: cannot delete: %s", s->dir, name,
              strerror(errno));
    s->st.file_bytes -= g->reserved;
    aioe__st_seg_close(g);
    memmove(&s->segs[idx], &s->segs[idx + 1], (s->nsegs - idx - 1) * sizeof *s->segs);
    s->nsegs--;
    s->st.segments = s->nsegs;
}

/* Copies the live messages of segment g to the active segment. Returns
 * false when that cannot be done now (no room, or a record no longer
 * reads back: then g is kept). */
bool aioe__st_copy_forward(aioe__store *s, seg *g)
{
    for (size_t i = 0; i < s->tab_cap && g->live; i++) {
        ent *e = &s->tab[i];
        if (!e->seq || e->seg_id != g->id)
            continue;
        if (!aioe__st_grow((void **)&s->wbuf, &s->wcap, e->len, 1))
            return false;
        aioe__rec_view v;
        if (!aioe__st_seg_read(g, s->wbuf, e->len, e->off) ||
            aioe__rec_parse(s->wbuf, e->len, &v) != AIOE__REC_OK || v.total != e->len) {
            char name[32];
            aioe__st_seg_name(g->id, name, sizeof name);
            aioe__st_log(s, AIOE_LOG_ERROR,
                  "inbox %s/%s: record at offset %" PRIu64 " no longer reads back", s->dir,
                  name, e->off);
            g->damaged = true;
            return false;
        }
        seg *a = aioe__st_active(s);
        if (a == g)
            return false;
        if (aioe__st_write_record(s, s->wbuf, e->len) != AIOE_OK)
            return false;
        a = aioe__st_active(s);
        if (!a)
            return false;
        g->live--;
        g->live_bytes -= e->len;
        e->seg_id = a->id;
        e->off = a->size - e->len;
        a->live++;
        a->live_bytes += e->len;
    }
    if (g->live)
        return false;
    if (s->cfg.durability == AIOE__DURABLE_POWER && aioe__st_wait_durable(s) != AIOE_OK)
        return false;
    return true;
}

/* Frees space: deletes the oldest segments once empty, and copies a few
 * pinned messages forward when the store is short of space. */
static void reclaim(aioe__store *s)
{
    bool freed = false;
    while (s->nsegs > 1 && !s->syncing) {
        seg *g = s->segs[0];
        if (g->damaged)
            break;
        if (g->live == 0) {
            aioe__st_seg_delete(s, 0);
            freed = true;
            continue;
        }
        /* copy forward only what pins space: a few messages in the oldest
         * segment when space is short, or when many segments are kept
         * for almost nothing (never the tail of a segment being acked in
         * order, which empties by itself) */
        bool short_of_space = s->st.full ||
                              (s->cfg.max_bytes && s->st.file_bytes * 2 > s->cfg.max_bytes);
        bool pinned = s->nsegs > 8 && g->live_bytes <= s->cfg.segment_bytes / 64;
        if (!(short_of_space && g->live_bytes <= s->cfg.segment_bytes / 4) && !pinned)
            break;
        seg *a = aioe__st_active(s);
        if (a->reserved - a->size < g->live_bytes + AIOE__REC_HEADER)
            break; /* no room to copy into now */
        if (!aioe__st_copy_forward(s, g))
            break;
        aioe__st_seg_delete(s, 0);
        freed = true;
    }
    if (freed && (s->st.full || !s->spare))
        aioe__st_reserve_ahead(s);
}

/* ---- public (internal) operations ---- */

int aioe__store_append(aioe__store *s, const aioe__rec_msg *m, uint64_t *seq, uint32_t *size)
{
    if (!s || !m)
        return AIOE_ERR_INVALID_ARG;
    size_t len = aioe__rec_msg_size(m);
    if (!len || len > UINT32_MAX)
        return AIOE_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    int rc = AIOE_OK;
    if (!aioe__st_grow((void **)&s->wbuf, &s->wcap, len, 1)) {
        rc = AIOE_ERR_NOMEM;
        goto out;
    }
    aioe__rec_msg copy = *m;
    copy.seq = s->next_seq;
    aioe__rec_encode_msg(&copy, s->wbuf, len);
    rc = aioe__st_write_record(s, s->wbuf, len);
    if (rc != AIOE_OK)
        goto out;
    seg *a = aioe__st_active(s);
    if (!a) {
        rc = AIOE_ERR_INTERNAL;
        goto out;
    }
    ent e = { copy.seq, a->id, a->size - len, (uint32_t)len };
    if (!aioe__st_tab_put(s, &e)) {
        /* written but not indexed: it is redelivered after a restart */
        rc = AIOE_ERR_NOMEM;
        goto out;
    }
    s->next_seq++;
    a->live++;
    a->live_bytes += len;
    s->st.appended++;
    s->st.live++;
    s->st.live_bytes += len;
    aioe__st_reserve_ahead(s);
    if (s->cfg.durability == AIOE__DURABLE_POWER)
        rc = aioe__st_wait_durable(s);
    if (rc == AIOE_OK) {
        if (seq)
            *seq = copy.seq;
        if (size)
            *size = (uint32_t)len;
    }
out:
    if (rc != AIOE_OK)
        s->st.append_failures++;
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    return rc;
}

int aioe__store_read(aioe__store *s, uint64_t seq, unsigned char **buf, size_t *cap,
                     aioe__rec_msg *out)
{
    if (!s || !buf || !cap || !out)
        return AIOE_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    ent *e = aioe__st_tab_find(s, seq);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        aioe__st_emit_logs(s);
        return AIOE_ERR_NOT_FOUND;
    }
    seg *g = aioe__st_seg_by_id(s, e->seg_id);
    int rc = AIOE_OK;
    if (!aioe__st_grow((void **)buf, cap, e->len, 1)) {
        rc = AIOE_ERR_NOMEM;
        goto out;
    }
    aioe__rec_view v;
    if (!g || !aioe__st_seg_read(g, *buf, e->len, e->off) ||
        aioe__rec_parse(*buf, e->len, &v) != AIOE__REC_OK || v.type != AIOE__REC_MSG ||
        aioe__rec_decode_msg(v.body, v.body_len, out) != AIOE_OK || out->seq != seq) {
        char name[32];
        aioe__st_seg_name(e->seg_id, name, sizeof name);
        aioe__st_log(s, AIOE_LOG_ERROR,
              "inbox %s/%s: message %" PRIu64 " at offset %" PRIu64
              " no longer reads back: lost",
              s->dir, name, seq, e->off);
        if (g) {
            g->damaged = true;
            g->live--;
            g->live_bytes -= e->len;
        }
        s->st.live--;
        s->st.live_bytes -= e->len;
        s->st.records_lost++;
        aioe__st_tab_del(s, e);
        rc = AIOE_ERR_IO;
    }
out:
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    return rc;
}

int aioe__store_ack(aioe__store *s, uint64_t seq)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    ent *e = aioe__st_tab_find(s, seq);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        aioe__st_emit_logs(s);
        return AIOE_ERR_NOT_FOUND;
    }
    seg *g = aioe__st_seg_by_id(s, e->seg_id);
    if (g) {
        g->live--;
        g->live_bytes -= e->len;
    }
    s->st.live--;
    s->st.live_bytes -= e->len;
    s->st.acked++;
    aioe__st_tab_del(s, e);
    int64_t now = coarse_ms();
    if (aioe__st_grow((void **)&s->acks, &s->acks_cap, s->nacks + 1, sizeof *s->acks)) {
        if (!s->nacks)
            s->acks_since_ms = now;
        s->acks[s->nacks++] = seq;
    }
    /* written in batches, and at least every ACK_FLUSH_MS while acks come:
     * an ack lost in a crash is a duplicate delivery, not a loss */
    if (s->nacks >= ACK_FLUSH || now - s->acks_since_ms >= ACK_FLUSH_MS)
        aioe__st_flush_acks(s);
    reclaim(s);
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    return AIOE_OK;
}

int aioe__store_flush(aioe__store *s)
{
    if (!s)
        return AIOE_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    int rc = aioe__st_flush_acks(s);
    if (rc == AIOE_OK && s->cfg.durability == AIOE__DURABLE_POWER)
        rc = aioe__st_wait_durable(s);
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    return rc;
}

bool aioe__store_has_reserve(aioe__store *s)
{
    if (!s)
        return false;
    pthread_mutex_lock(&s->mu);
    if (s->st.full) {
        reclaim(s);
        aioe__st_reserve_ahead(s);
    }
    bool ok = !s->st.full;
    pthread_mutex_unlock(&s->mu);
    aioe__st_emit_logs(s);
    return ok;
}

void aioe__store_get_stats(aioe__store *s, aioe__store_stats *out)
{
    if (!s || !out)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

const char *aioe__store_dir(const aioe__store *s)
{
    return s ? s->dir : NULL;
}
