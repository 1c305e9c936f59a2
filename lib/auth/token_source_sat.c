/* K8S-SAT: the projected service account token file. The kubelet rotates
 * it by writing a new timestamped directory and swapping the ..data
 * symlink, so the path's stat (which follows symlinks) changes inode. We
 * compare contents too, since an in-place rewrite may keep the inode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aioendpoint/common.h"
#include "file_watch.h"
#include "jwt.h"
#include "resolver.h"
#include "token_source.h"

#define SAT_MAX_BYTES (64 * 1024)

typedef struct sat_source {
    char *path;
    struct stat last_st;
    bool have_st;
    /* SHA-256 of the raw contents of the last fetch, for changed(): no
     * second copy of the token is kept for the life of the session */
    unsigned char last_digest[32];
    bool have_last;
    aioe__file_watch *watch;   /* NULL: not watched (polling only) */
} sat_source;

void aioe_token_clear(aioe_token *t)
{
    if (!t)
        return;
    if (t->data) {
        /* OPENSSL_cleanse, not memset: a memset right before free may be
         * optimised away */
        OPENSSL_cleanse(t->data, t->len);
        free(t->data);
    }
    memset(t, 0, sizeof *t);
}

void aioe_token_source_destroy(aioe_token_source *src)
{
    if (src && src->ops && src->ops->destroy)
        src->ops->destroy(src->self);
    if (src)
        memset(src, 0, sizeof *src);
}

static bool digest(const unsigned char *d, size_t len, unsigned char md[32])
{
    unsigned int n = 0;
    return EVP_Digest(d, len, md, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

/* Token file contents are the secret itself: wipe before free. */
static void wipe_free(unsigned char *p, size_t n)
{
    if (p)
        OPENSSL_cleanse(p, n);
    free(p);
}

static size_t trim_len(const unsigned char *d, size_t len, size_t *start)
{
    size_t s = 0;
    while (s < len && (d[s] == ' ' || d[s] == '\n' || d[s] == '\r' || d[s] == '\t'))
        s++;
    while (len > s && (d[len - 1] == ' ' || d[len - 1] == '\n' ||
                       d[len - 1] == '\r' || d[len - 1] == '\t'))
        len--;
    *start = s;
    return len - s;
}

static int sat_fetch(void *self, aioe_token *out, char *err, size_t errlen)
{
    sat_source *s = self;
    unsigned char *data;
    size_t len;
    struct stat st;
    memset(out, 0, sizeof *out);
    bool have_st = stat(s->path, &st) == 0;
    int rc = aioe_read_file(s->path, SAT_MAX_BYTES, &data, &len);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "service account token file %s: %s", s->path,
                 rc == AIOE_ERR_TOO_LARGE ? "larger than 64 KiB" :
                 aioe_read_file_reason(rc, errno));
        return AIOE_ERR_AUTH;
    }
    size_t start, tlen = trim_len(data, len, &start);
    if (tlen == 0) {
        wipe_free(data, len);
        snprintf(err, errlen, "service account token file %s is empty", s->path);
        return AIOE_ERR_AUTH;
    }
    /* remember a digest of the raw contents for changed() */
    s->have_last = digest(data, len, s->last_digest);
    s->last_st = st;
    s->have_st = have_st;

    out->data = malloc(tlen);
    if (!out->data) {
        wipe_free(data, len);
        return AIOE_ERR_NOMEM;
    }
    memcpy(out->data, data + start, tlen);
    wipe_free(data, len);
    out->len = tlen;
    aioe_jwt_claims c;
    if (aioe_jwt_read_claims((const char *)out->data, tlen, &c) == AIOE_OK) {
        out->exp = c.has_exp ? c.exp : 0;
        out->iat = c.has_iat ? c.iat : 0;
    }
    return AIOE_OK;
}

/* @p force: compare contents even when the file's metadata is the same
 * as at the last fetch (a rewrite within the file system's timestamp
 * granularity keeps size and mtime). */
static bool sat_compare(sat_source *s, bool force)
{
    struct stat st;
    if (stat(s->path, &st) != 0)
        return false; /* gone: keep the current connection, report at connect */
    if (!force && s->have_st && st.st_ino == s->last_st.st_ino &&
        st.st_dev == s->last_st.st_dev && st.st_size == s->last_st.st_size &&
        st.st_mtim.tv_sec == s->last_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->last_st.st_mtim.tv_nsec)
        return false;
    unsigned char *data;
    size_t len;
    if (aioe_read_file(s->path, SAT_MAX_BYTES, &data, &len) != AIOE_OK)
        return false;
    unsigned char md[32];
    bool differs = !s->have_last || !digest(data, len, md) ||
                   memcmp(md, s->last_digest, sizeof md) != 0;
    size_t start;
    if (trim_len(data, len, &start) == 0)
        differs = false; /* half-written or emptied: wait for real content */
    wipe_free(data, len);
    if (!differs) {
        s->last_st = st;
        s->have_st = true;
    }
    return differs;
}

static bool sat_changed(void *self)
{
    return sat_compare(self, false);
}

static bool sat_reload(void *self)
{
    return sat_compare(self, true);
}

static int sat_watch(void *self, void (*notify)(void *ctx), void *ctx, char *err,
                     size_t errlen)
{
    sat_source *s = self;
    if (s->watch)
        return AIOE_OK;
    return aioe__file_watch_add(s->path, notify, ctx, &s->watch, err, errlen);
}

static void sat_destroy(void *self)
{
    sat_source *s = self;
    if (!s)
        return;
    aioe__file_watch_remove(s->watch); /* notify never runs after this */
    free(s->path);
    OPENSSL_cleanse(s->last_digest, sizeof s->last_digest);
    free(s);
}

static const aioe_token_source_ops sat_ops = {
    .auth_method = "K8S-SAT",
    .fetch = sat_fetch,
    .changed = sat_changed,
    .reload = sat_reload,
    .watch = sat_watch,
    .destroy = sat_destroy,
};

int aioe_token_source_sat_new(const char *path, aioe_token_source *out)
{
    if (!path || !*path || !out)
        return AIOE_ERR_INVALID_ARG;
    sat_source *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return AIOE_ERR_NOMEM;
    }
    out->ops = &sat_ops;
    out->self = s;
    return AIOE_OK;
}
