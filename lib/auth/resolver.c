/* Resource resolver. The default layout mirrors Kubernetes volume mounts:
 * a Secret or ConfigMap mounted at <root>/secrets/<name> or
 * <root>/configmaps/<name> has one file per key. A host callback can
 * replace the layout entirely (material from a vault, an API...). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "resolver.h"

bool aioe_resolver_valid_component(const char *s)
{
    if (!s || !*s || s[0] == '.')
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n <= 253;
}

const char *aioe_resolver_pick_root(const char *option, const char *env)
{
    if (option && *option)
        return option;
    if (env && *env)
        return env;
    return AIOE_RESOURCE_DIR_DEFAULT;
}

int aioe_resolver_path(const char *root, aioe_resource_kind kind,
                       const char *name, const char *key, char *buf,
                       size_t size)
{
    const char *sub;
    if (!root || !*root || !buf)
        return AIOE_ERR_INVALID_ARG;
    switch (kind) {
    case AIOE_RESOURCE_SECRET: sub = "secrets"; break;
    case AIOE_RESOURCE_CONFIG_MAP: sub = "configmaps"; break;
    default: return AIOE_ERR_INVALID_ARG;
    }
    if (!aioe_resolver_valid_component(name) ||
        (key && !aioe_resolver_valid_component(key)))
        return AIOE_ERR_INVALID_ARG;
    int n = key ? snprintf(buf, size, "%s/%s/%s/%s", root, sub, name, key)
                : snprintf(buf, size, "%s/%s/%s", root, sub, name);
    if (n < 0 || (size_t)n >= size)
        return AIOE_ERR_TOO_LARGE;
    return AIOE_OK;
}

const char *aioe_read_file_reason(int rc, int err)
{
    if (rc == AIOE_ERR_NOT_FOUND)
        return "no such file";
    if (rc == AIOE_ERR_TOO_LARGE)
        return "larger than the size limit";
    if (rc == AIOE_ERR_IO && err == EACCES)
        return "permission denied";
    if (rc == AIOE_ERR_IO && err == EISDIR)
        return "is a directory, not a file";
    if (rc == AIOE_ERR_IO && err == EINVAL)
        return "is not a regular file";
    if (rc == AIOE_ERR_IO && err)
        return strerror(err); /* e.g. "Too many levels of symbolic links" */
    return aioe_strerror(rc);
}

int aioe_read_file(const char *path, size_t max, unsigned char **data,
                   size_t *len)
{
    /* O_NONBLOCK: opening a FIFO planted in place of a file must not
     * block until a writer appears (fstat then refuses it); no effect on
     * regular files. Symlinks are followed: kubelet mounts are made of them. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? AIOE_ERR_NOT_FOUND : AIOE_ERR_IO;
    struct stat st;
    int frc = fstat(fd, &st);
    if (frc != 0 || !S_ISREG(st.st_mode)) {
        /* errno says why for aioe_read_file_reason(): EISDIR for a
         * directory, EINVAL for a FIFO, socket or device */
        int e = frc != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        errno = e;
        return AIOE_ERR_IO;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return AIOE_ERR_TOO_LARGE;
    }
    /* + 2: room for the NUL and one spare byte, so a file of exactly
     * `max` bytes reaches EOF without tripping the growth check below */
    size_t cap = (size_t)st.st_size + 2, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return AIOE_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) { /* file grew while reading */
            if (cap > max) {
                OPENSSL_cleanse(buf, n);
                free(buf);
                close(fd);
                return AIOE_ERR_TOO_LARGE;
            }
            /* not realloc: the old block holds secret bytes to wipe */
            unsigned char *nb = malloc(cap * 2);
            if (!nb) {
                OPENSSL_cleanse(buf, n);
                free(buf);
                close(fd);
                return AIOE_ERR_NOMEM;
            }
            memcpy(nb, buf, n);
            OPENSSL_cleanse(buf, n);
            free(buf);
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            OPENSSL_cleanse(buf, n);
            free(buf);
            close(fd);
            return AIOE_ERR_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return AIOE_OK;
}

void aioe_resource_clear(aioe_resource *res)
{
    if (!res)
        return;
    if (res->data) /* may be a private key: wipe, not just free */
        OPENSSL_cleanse(res->data, res->len);
    free(res->data);
    free(res->path);
    res->data = NULL;
    res->path = NULL;
    res->len = 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Concatenates the regular files of a config map directory in name order,
 * skipping kubelet's dot-entries (..data, ..2024_...). */
static int read_bundle(const char *dir, aioe_resource *out, char *err,
                       size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "config map directory %s: %s", dir,
                 strerror(errno));
        return errno == ENOENT ? AIOE_ERR_NOT_FOUND : AIOE_ERR_IO;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = AIOE_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) { rc = AIOE_ERR_NOMEM; break; }
            names = nn;
            cap = nc;
        }
        if (!(names[count] = strdup(e->d_name))) { rc = AIOE_ERR_NOMEM; break; }
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, name_cmp);
    unsigned char *all = NULL;
    size_t total = 0;
    for (size_t i = 0; i < count && rc == AIOE_OK; i++) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        unsigned char *data;
        size_t len;
        rc = aioe_read_file(path, AIOE_RESOURCE_MAX_BYTES, &data, &len);
        if (rc != AIOE_OK) {
            snprintf(err, errlen, "cannot read %s", path);
            break;
        }
        if (total + len + 2 > AIOE_RESOURCE_MAX_BYTES) {
            free(data);
            rc = AIOE_ERR_TOO_LARGE;
            snprintf(err, errlen, "config map %s is too large", dir);
            break;
        }
        unsigned char *na = realloc(all, total + len + 2);
        if (!na) {
            free(data);
            rc = AIOE_ERR_NOMEM;
            break;
        }
        all = na;
        memcpy(all + total, data, len);
        total += len;
        if (len && data[len - 1] != '\n')
            all[total++] = '\n';
        all[total] = '\0';
        free(data);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (rc == AIOE_OK && total == 0) {
        snprintf(err, errlen, "config map directory %s holds no files", dir);
        rc = AIOE_ERR_NOT_FOUND;
    }
    if (rc != AIOE_OK) {
        free(all);
        return rc;
    }
    out->data = all;
    out->len = total;
    return AIOE_OK;
}

int aioe_resolver_get(const aioe_resolver *r, aioe_resource_kind kind,
                      const char *name, const char *key, aioe_resource *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *what = kind == AIOE_RESOURCE_SECRET ? "secret" : "config map";
    if (!aioe_resolver_valid_component(name) ||
        (key && !aioe_resolver_valid_component(key))) {
        snprintf(err, errlen, "invalid %s reference \"%s\"%s%s", what,
                 name ? name : "", key ? " key " : "", key ? key : "");
        return AIOE_ERR_INVALID_ARG;
    }
    bool pinned = false;
    for (size_t i = 0; i < r->n_pins; i++) {
        const aioe__pinned_file *p = &r->pins[i];
        if (p->kind != kind || strcmp(p->name, name) != 0)
            continue;
        pinned = true;
        if (!(p->key == key || (p->key && key && strcmp(p->key, key) == 0)))
            continue;
        errno = 0;
        int rc = aioe_read_file(p->path, AIOE_RESOURCE_MAX_BYTES, &out->data, &out->len);
        if (rc != AIOE_OK) {
            snprintf(err, errlen, "%s %s%s%s (%s): %s", what, name, key ? " key " : "",
                     key ? key : "", p->path, aioe_read_file_reason(rc, errno));
            return rc;
        }
        if (!(out->path = strdup(p->path))) {
            aioe_resource_clear(out);
            return AIOE_ERR_NOMEM;
        }
        return AIOE_OK;
    }
    if (pinned) {
        snprintf(err, errlen, "%s %s key %s: not among the files set for it", what,
                 name, key ? key : "(bundle)");
        return AIOE_ERR_NOT_FOUND;
    }
    if (r->cb) {
        struct aioe_resource_request req = { kind, name, key, NULL, 0, false };
        int rc = r->cb(r->session, &req, r->cb_data);
        if (rc == AIOE_OK && !req.set)
            rc = AIOE_ERR_NOT_FOUND;
        if (rc != AIOE_OK) {
            free(req.data);
            snprintf(err, errlen, "resolver callback: %s %s%s%s: %s", what,
                     name, key ? " key " : "", key ? key : "",
                     aioe_strerror(rc));
            return rc;
        }
        out->data = req.data;
        out->len = req.len;
        return AIOE_OK;
    }
    char path[4096];
    int rc = aioe_resolver_path(r->root, kind, name, key, path, sizeof path);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "%s %s: path too long", what, name);
        return rc;
    }
    if (!key)
        return read_bundle(path, out, err, errlen);
    errno = 0;
    rc = aioe_read_file(path, AIOE_RESOURCE_MAX_BYTES, &out->data, &out->len);
    if (rc != AIOE_OK) {
        snprintf(err, errlen, "%s %s key %s (%s): %s", what, name, key, path,
                 aioe_read_file_reason(rc, errno));
        return rc;
    }
    if (!(out->path = strdup(path))) {
        aioe_resource_clear(out);
        return AIOE_ERR_NOMEM;
    }
    return AIOE_OK;
}

/* ---- public request accessors ---- */

aioe_resource_kind aioe_resource_request_kind(const aioe_resource_request *req)
{
    return req ? req->kind : (aioe_resource_kind)0;
}

const char *aioe_resource_request_name(const aioe_resource_request *req)
{
    return req ? req->name : NULL;
}

const char *aioe_resource_request_key(const aioe_resource_request *req)
{
    return req ? req->key : NULL;
}

int aioe_resource_request_set_data(aioe_resource_request *req,
                                   const void *data, size_t len)
{
    if (!req || (!data && len))
        return AIOE_ERR_INVALID_ARG;
    if (len > AIOE_RESOURCE_MAX_BYTES)
        return AIOE_ERR_TOO_LARGE;
    unsigned char *copy = malloc(len + 1);
    if (!copy)
        return AIOE_ERR_NOMEM;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    free(req->data);
    req->data = copy;
    req->len = len;
    req->set = true;
    return AIOE_OK;
}
