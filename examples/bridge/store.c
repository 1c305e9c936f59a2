/* aioe-bridge durable store; see store.h for the format and guarantees. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAGIC 0x52494f41u    /* "AOIR" little-endian */
#define COMMIT_MAGIC 0xc0117e11u
#define HDR_LEN 16u               /* magic, body_len, seq */
#define BODY_FIXED 16u            /* qos, flags, nprops, topic/ct/payload lens */
#define TRAILER_LEN 4u
#define ACKBUF 512u
#define MAX_BODY (512u * 1024u * 1024u)

typedef struct seg {
    uint64_t id;
    int fd;
    int ack_fd;
    uint64_t first_seq, next_seq; /* records [first_seq, next_seq) */
    uint64_t acked;
    uint64_t bytes;
    uint64_t *offs;               /* offset of record (seq - first_seq) */
    uint8_t *done;                /* 1 bit per record */
    size_t cap;
    uint64_t ackbuf[ACKBUF];
    size_t nack;
    bool sealed;
} seg;

struct bstore {
    pthread_mutex_t mu;
    char *dir;
    int dir_fd;
    int lock_fd;
    bstore_config cfg;
    seg **segs;                   /* ordered by id (and so by seq) */
    size_t nsegs, segs_cap;
    uint64_t next_seq;
    uint64_t bytes;
    uint64_t undone;
    unsigned char *wbuf;
    size_t wcap;
    bool opened;                  /* open completed: close may clean up */
};

static uint32_t checksum(const unsigned char *p, size_t n, uint64_t seq)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h ^ (uint32_t)seq ^ (uint32_t)(seq >> 32) ^ COMMIT_MAGIC;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void seg_name(char *buf, size_t len, uint64_t id, const char *ext)
{
    snprintf(buf, len, "%016" PRIx64 ".%s", id, ext);
}

static int seg_grow(seg *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    while (ncap < need)
        ncap *= 2;
    uint64_t *o = realloc(s->offs, ncap * sizeof *o);
    if (!o)
        return -ENOMEM;
    s->offs = o;
    uint8_t *d = realloc(s->done, (ncap + 7) / 8);
    if (!d)
        return -ENOMEM;
    memset(d + (s->cap + 7) / 8, 0, (ncap + 7) / 8 - (s->cap + 7) / 8);
    s->done = d;
    s->cap = ncap;
    return 0;
}

static void seg_free(seg *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    free(s->offs);
    free(s->done);
    free(s);
}

static int seg_flush_acks(seg *s)
{
    if (!s->nack)
        return 0;
    int rc = write_all(s->ack_fd, s->ackbuf, s->nack * sizeof s->ackbuf[0]);
    s->nack = 0;
    return rc;
}

/* Removes segment i (fully acknowledged and sealed) from disk and memory. */
static void seg_delete(bstore *st, size_t i)
{
    seg *s = st->segs[i];
    char name[64];
    seg_name(name, sizeof name, s->id, "seg");
    unlinkat(st->dir_fd, name, 0);
    seg_name(name, sizeof name, s->id, "ack");
    unlinkat(st->dir_fd, name, 0);
    st->bytes -= s->bytes;
    seg_free(s);
    memmove(&st->segs[i], &st->segs[i + 1], (st->nsegs - i - 1) * sizeof *st->segs);
    st->nsegs--;
}

static int segs_push(bstore *st, seg *s)
{
    if (st->nsegs == st->segs_cap) {
        size_t ncap = st->segs_cap ? st->segs_cap * 2 : 16;
        seg **n = realloc(st->segs, ncap * sizeof *n);
        if (!n)
            return -ENOMEM;
        st->segs = n;
        st->segs_cap = ncap;
    }
    st->segs[st->nsegs++] = s;
    return 0;
}

static int new_segment(bstore *st)
{
    uint64_t id = st->nsegs ? st->segs[st->nsegs - 1]->id + 1 : 1;
    seg *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->id = id;
    s->fd = s->ack_fd = -1;
    s->first_seq = s->next_seq = st->next_seq;
    char name[64];
    seg_name(name, sizeof name, id, "seg");
    s->fd = openat(st->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    seg_name(name, sizeof name, id, "ack");
    s->ack_fd = openat(st->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    int rc = 0;
    if (s->fd < 0 || s->ack_fd < 0)
        rc = -errno;
    if (!rc && st->cfg.fsync && fsync(st->dir_fd) != 0)
        rc = -errno;
    if (!rc)
        rc = segs_push(st, s);
    if (rc) {
        seg_free(s);
        return rc;
    }
    return 0;
}

/* ---- replay ---- */

static int read_whole(int fd, unsigned char **out, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -errno;
    size_t n = (size_t)sb.st_size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return -ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(b);
            return e;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *out = b;
    *len = got;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Loads one existing segment; returns 0 and a sealed seg (maybe empty). */
static int load_segment(bstore *st, uint64_t id, seg **out, bstore_replay_info *info)
{
    char name[64];
    seg *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->id = id;
    s->sealed = true;
    s->fd = s->ack_fd = -1;
    seg_name(name, sizeof name, id, "seg");
    s->fd = openat(st->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        int e = -errno;
        seg_free(s);
        return e;
    }
    unsigned char *b = NULL;
    size_t len = 0;
    int rc = read_whole(s->fd, &b, &len);
    if (rc) {
        seg_free(s);
        return rc;
    }
    size_t off = 0;
    bool first = true;
    while (off + HDR_LEN + TRAILER_LEN <= len) {
        const unsigned char *h = b + off;
        uint32_t blen = get32(h + 4);
        uint64_t seq = get64(h + 8);
        if (get32(h) != REC_MAGIC || blen > MAX_BODY || blen < BODY_FIXED ||
            off + HDR_LEN + blen + TRAILER_LEN > len)
            break;
        if (get32(h + HDR_LEN + blen) != checksum(h + HDR_LEN, blen, seq))
            break;
        if (first) {
            s->first_seq = s->next_seq = seq;
            first = false;
        } else if (seq != s->next_seq) {
            break; /* not ours: treat like a torn tail */
        }
        if ((rc = seg_grow(s, (size_t)(s->next_seq - s->first_seq) + 1)) != 0)
            break;
        s->offs[s->next_seq - s->first_seq] = off;
        s->next_seq++;
        off += HDR_LEN + blen + TRAILER_LEN;
    }
    free(b);
    if (rc) {
        seg_free(s);
        return rc;
    }
    if (off != len)
        info->torn_tails++;
    s->bytes = off;
    info->records += s->next_seq - s->first_seq;

    seg_name(name, sizeof name, id, "ack");
    s->ack_fd = openat(st->dir_fd, name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->ack_fd < 0) {
        int e = -errno;
        seg_free(s);
        return e;
    }
    unsigned char *ab = NULL;
    size_t alen = 0;
    if ((rc = read_whole(s->ack_fd, &ab, &alen)) != 0) {
        seg_free(s);
        return rc;
    }
    for (size_t i = 0; i + 8 <= alen; i += 8) {
        uint64_t q = get64(ab + i);
        if (q >= s->first_seq && q < s->next_seq) {
            size_t k = (size_t)(q - s->first_seq);
            if (!(s->done[k / 8] & (1u << (k % 8)))) {
                s->done[k / 8] |= (uint8_t)(1u << (k % 8));
                s->acked++;
            }
        }
    }
    free(ab);
    *out = s;
    return 0;
}

static int replay(bstore *st, bstore_replay_cb cb, void *ud, bstore_replay_info *info)
{
    DIR *d = opendir(st->dir);
    if (!d)
        return -errno;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l != 20 || strcmp(e->d_name + 16, ".seg") != 0)
            continue;
        char *end;
        uint64_t id = strtoull(e->d_name, &end, 16);
        if (end != e->d_name + 16)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ni = realloc(ids, cap * sizeof *ni);
            if (!ni) {
                rc = -ENOMEM;
                break;
            }
            ids = ni;
        }
        ids[n++] = id;
    }
    closedir(d);
    if (rc) {
        free(ids);
        return rc;
    }
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n && !rc; i++) {
        seg *s = NULL;
        if ((rc = load_segment(st, ids[i], &s, info)) != 0 || !s)
            break;
        st->bytes += s->bytes;
        if ((rc = segs_push(st, s)) != 0) {
            seg_free(s);
            break;
        }
        if (s->next_seq > st->next_seq)
            st->next_seq = s->next_seq;
    }
    free(ids);
    if (rc)
        return rc;
    /* Drop fully acknowledged segments, replay the rest in order. */
    for (size_t i = 0; i < st->nsegs;) {
        seg *s = st->segs[i];
        if (s->acked == s->next_seq - s->first_seq) {
            info->segments_deleted++;
            seg_delete(st, i);
            continue;
        }
        for (uint64_t q = s->first_seq; q < s->next_seq; q++) {
            size_t k = (size_t)(q - s->first_seq);
            if (s->done[k / 8] & (1u << (k % 8)))
                continue;
            info->undone++;
            st->undone++;
            if (cb)
                cb(q, ud);
        }
        i++;
    }
    return 0;
}

int bstore_open(bstore **out, const char *dir, const bstore_config *cfg,
                bstore_replay_cb cb, void *user_data, bstore_replay_info *info,
                char *err, size_t errlen)
{
    bstore_replay_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "cannot create state directory %s: %s", dir, strerror(e));
        return -e;
    }
    bstore *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->dir_fd = st->lock_fd = -1;
    st->next_seq = 1;
    if (cfg)
        st->cfg = *cfg;
    if (!st->cfg.segment_bytes)
        st->cfg.segment_bytes = 4u << 20;
    st->dir = strdup(dir);
    int rc = 0;
    const char *what = "open";
    st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!st->dir || st->dir_fd < 0) {
        rc = st->dir ? -errno : -ENOMEM;
        goto fail;
    }
    st->lock_fd = openat(st->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = -errno;
        what = "lock (is another aioe-bridge using it?)";
        goto fail;
    }
    what = "replay";
    if ((rc = replay(st, cb, user_data, info)) != 0)
        goto fail;
    what = "create a segment in";
    if ((rc = new_segment(st)) != 0)
        goto fail;
    st->opened = true;
    *out = st;
    return 0;
fail:
    snprintf(err, errlen, "cannot %s state directory %s: %s", what, dir, strerror(-rc));
    bstore_close(st);
    return rc;
}

void bstore_close(bstore *st)
{
    if (!st)
        return;
    bstore_flush_acks(st);
    /* Everything done: leave an empty directory behind. */
    bool empty = st->opened && st->undone == 0;
    for (size_t i = 0; i < st->nsegs; i++) {
        if (empty) {
            char name[64];
            seg_name(name, sizeof name, st->segs[i]->id, "seg");
            unlinkat(st->dir_fd, name, 0);
            seg_name(name, sizeof name, st->segs[i]->id, "ack");
            unlinkat(st->dir_fd, name, 0);
        }
        seg_free(st->segs[i]);
    }
    free(st->segs);
    if (st->dir_fd >= 0)
        close(st->dir_fd);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock */
    free(st->dir);
    free(st->wbuf);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static size_t record_size(const bstore_msg *m)
{
    size_t body = BODY_FIXED + m->topic_len + 1 + m->payload_len +
                  (m->content_type ? m->content_type_len : 0);
    for (size_t i = 0; i < m->prop_count; i++)
        body += 8 + m->props[i].name_len + m->props[i].value_len;
    return HDR_LEN + body + TRAILER_LEN;
}

int bstore_append(bstore *st, const bstore_msg *m, uint64_t *seq_out)
{
    size_t total = record_size(m);
    if (total - HDR_LEN - TRAILER_LEN > MAX_BODY || m->prop_count > 0xffff)
        return -EMSGSIZE;
    pthread_mutex_lock(&st->mu);
    int rc = 0;
    seg *s = st->segs[st->nsegs - 1];
    if (s->next_seq > s->first_seq && s->bytes + total > st->cfg.segment_bytes) {
        s->sealed = true;
        if ((rc = new_segment(st)) != 0) {
            s->sealed = false;
            goto out;
        }
        if (s->acked == s->next_seq - s->first_seq)
            seg_delete(st, st->nsegs - 2);
        s = st->segs[st->nsegs - 1];
    }
    if (total > st->wcap) {
        size_t ncap = st->wcap ? st->wcap : 4096;
        while (ncap < total)
            ncap *= 2;
        unsigned char *nb = realloc(st->wbuf, ncap);
        if (!nb) {
            rc = -ENOMEM;
            goto out;
        }
        st->wbuf = nb;
        st->wcap = ncap;
    }
    if ((rc = seg_grow(s, (size_t)(s->next_seq - s->first_seq) + 1)) != 0)
        goto out;
    uint64_t seq = st->next_seq;
    uint32_t blen = (uint32_t)(total - HDR_LEN - TRAILER_LEN);
    unsigned char *p = st->wbuf;
    put32(p, REC_MAGIC);
    put32(p + 4, blen);
    put64(p + 8, seq);
    unsigned char *b = p + HDR_LEN;
    b[0] = (unsigned char)m->qos;
    b[1] = (unsigned char)((m->retain ? 1 : 0) | (m->content_type ? 2 : 0));
    b[2] = (unsigned char)(m->prop_count & 0xff);
    b[3] = (unsigned char)(m->prop_count >> 8);
    put32(b + 4, (uint32_t)m->topic_len);
    put32(b + 8, (uint32_t)(m->content_type ? m->content_type_len : 0));
    put32(b + 12, (uint32_t)m->payload_len);
    unsigned char *q = b + BODY_FIXED;
    memcpy(q, m->topic, m->topic_len);
    q += m->topic_len;
    *q++ = 0;
    if (m->content_type && m->content_type_len) {
        memcpy(q, m->content_type, m->content_type_len);
        q += m->content_type_len;
    }
    if (m->payload_len) {
        memcpy(q, m->payload, m->payload_len);
        q += m->payload_len;
    }
    for (size_t i = 0; i < m->prop_count; i++) {
        const aioe_user_property *up = &m->props[i];
        put32(q, (uint32_t)up->name_len);
        put32(q + 4, (uint32_t)up->value_len);
        q += 8;
        if (up->name_len)
            memcpy(q, up->name, up->name_len);
        q += up->name_len;
        if (up->value_len)
            memcpy(q, up->value, up->value_len);
        q += up->value_len;
    }
    put32(q, checksum(b, blen, seq));
    if ((rc = write_all(s->fd, p, total)) != 0) {
        /* A partial write leaves a torn tail that replay ignores; start a
         * fresh segment so later records do not follow it. */
        s->sealed = true;
        if (new_segment(st) != 0)
            s->sealed = false;
        goto out;
    }
    if (st->cfg.fsync && fdatasync(s->fd) != 0) {
        rc = -errno;
        goto out;
    }
    s->offs[seq - s->first_seq] = s->bytes;
    s->bytes += total;
    s->next_seq++;
    st->next_seq++;
    st->bytes += total;
    st->undone++;
    *seq_out = seq;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static size_t find_seg(bstore *st, uint64_t seq)
{
    size_t lo = 0, hi = st->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (st->segs[mid]->next_seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < st->nsegs && st->segs[lo]->first_seq <= seq)
        return lo;
    return (size_t)-1;
}

int bstore_read(bstore *st, uint64_t seq, unsigned char **buf, size_t *cap,
                bstore_msg *out, aioe_user_property *props, size_t props_cap,
                size_t *props_total)
{
    pthread_mutex_lock(&st->mu);
    size_t i = find_seg(st, seq);
    if (i == (size_t)-1) {
        pthread_mutex_unlock(&st->mu);
        return -ENOENT;
    }
    seg *s = st->segs[i];
    uint64_t off = s->offs[seq - s->first_seq];
    uint64_t end = (seq + 1 < s->next_seq) ? s->offs[seq + 1 - s->first_seq] : s->bytes;
    size_t len = (size_t)(end - off);
    int rc = 0;
    if (len > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < len)
            ncap *= 2;
        unsigned char *nb = realloc(*buf, ncap);
        if (!nb) {
            pthread_mutex_unlock(&st->mu);
            return -ENOMEM;
        }
        *buf = nb;
        *cap = ncap;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(s->fd, *buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)r;
    }
    pthread_mutex_unlock(&st->mu);
    if (rc)
        return rc;
    const unsigned char *h = *buf;
    uint32_t blen = get32(h + 4);
    if (get32(h) != REC_MAGIC || get64(h + 8) != seq || HDR_LEN + blen + TRAILER_LEN != len)
        return -EIO;
    const unsigned char *b = h + HDR_LEN;
    memset(out, 0, sizeof *out);
    out->qos = b[0];
    out->retain = b[1] & 1;
    size_t np = (size_t)b[2] | ((size_t)b[3] << 8);
    out->topic_len = get32(b + 4);
    size_t ctl = get32(b + 8);
    out->payload_len = get32(b + 12);
    const unsigned char *q = b + BODY_FIXED;
    out->topic = (const char *)q;
    q += out->topic_len + 1;
    if (b[1] & 2) {
        out->content_type = (const char *)q;
        out->content_type_len = ctl;
    }
    q += ctl;
    out->payload = q;
    q += out->payload_len;
    size_t kept = 0;
    for (size_t k = 0; k < np; k++) {
        uint32_t nl = get32(q), vl = get32(q + 4);
        q += 8;
        if (kept < props_cap) {
            props[kept].name = (const char *)q;
            props[kept].name_len = nl;
            props[kept].value = (const char *)q + nl;
            props[kept].value_len = vl;
            kept++;
        }
        q += nl + vl;
    }
    out->props = props;
    out->prop_count = kept;
    if (props_total)
        *props_total = np;
    return 0;
}

void bstore_ack(bstore *st, uint64_t seq)
{
    pthread_mutex_lock(&st->mu);
    size_t i = find_seg(st, seq);
    if (i != (size_t)-1) {
        seg *s = st->segs[i];
        size_t k = (size_t)(seq - s->first_seq);
        if (!(s->done[k / 8] & (1u << (k % 8)))) {
            s->done[k / 8] |= (uint8_t)(1u << (k % 8));
            s->acked++;
            st->undone--;
            if (s->sealed && s->acked == s->next_seq - s->first_seq) {
                seg_delete(st, i);
            } else {
                s->ackbuf[s->nack++] = seq;
                if (s->nack == ACKBUF)
                    seg_flush_acks(s);
            }
        }
    }
    pthread_mutex_unlock(&st->mu);
}

int bstore_flush_acks(bstore *st)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nsegs; i++) {
        int r = seg_flush_acks(st->segs[i]);
        if (r && !rc)
            rc = r;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

uint64_t bstore_bytes(bstore *st)
{
    pthread_mutex_lock(&st->mu);
    uint64_t b = st->bytes;
    pthread_mutex_unlock(&st->mu);
    return b;
}

uint64_t bstore_undone(bstore *st)
{
    pthread_mutex_lock(&st->mu);
    uint64_t n = st->undone;
    pthread_mutex_unlock(&st->mu);
    return n;
}

size_t bstore_segments(bstore *st)
{
    pthread_mutex_lock(&st->mu);
    size_t n = st->nsegs;
    pthread_mutex_unlock(&st->mu);
    return n;
}
