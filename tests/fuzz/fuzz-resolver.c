/* libFuzzer target: path handling of the resource-reference resolver
 * (lib/auth/resolver.h) and of the Azure Arc challenge (aioe__mi_arc_challenge_path).
 *
 * Input: byte 0 picks the kind and whether a key is given; the rest is
 * split at the first NUL into a name and a key. A scratch tree is built
 * once per process:
 *
 *   <tmp>/outside.key, <tmp>/root/secrets.key ... files holding OUTSIDE
 *   <tmp>/root/secrets/s/{k,tls.crt}, <tmp>/root/configmaps/c/ca.crt
 *   <tmp>/root/secrets/s/up -> ../../../outside.key  (a planted symlink)
 *   <tmp>/arc/{ok.key, link.key -> ../outside.key, dir.key/}
 *
 * Invariants: a valid component has no '/', is not "." or "..", does not
 * start with '.' and is 1..253 bytes; a built path is exactly
 * root/<kind>/<name>[/<key>]; the resolver never returns OUTSIDE bytes
 * unless it was asked for the planted symlink itself by its exact key
 * (the layout follows symlinks on purpose: kubelet's mounts are made of
 * them); an accepted Arc challenge file is a regular *.key file directly
 * in the key directory after resolving symlinks. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "mi.h"
#include "resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[PATH_MAX], root[PATH_MAX], arc[PATH_MAX], arc_real[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void mk(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    if (mkdir(p, 0700) != 0)
        abort();
}

static void ln(const char *target, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    if (symlink(target, p) != 0)
        abort();
}

static void cleanup(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) {
        /* nothing more to do at exit */
    }
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/fuzz-resolver-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base))
        abort();
    atexit(cleanup);
    put("outside.key", "OUTSIDE");
    mk("root");
    put("root/secrets.key", "OUTSIDE");
    put("root/secret", "OUTSIDE");
    mk("root/secrets");
    mk("root/configmaps");
    mk("root/secrets/s");
    put("root/secrets/s/k", "inside");
    put("root/secrets/s/tls.crt", "inside");
    put("root/secrets/OUTSIDE", "OUTSIDE-but-named"); /* a file, not a dir */
    ln("../../../outside.key", "root/secrets/s/up");
    mk("root/configmaps/c");
    put("root/configmaps/c/ca.crt", "inside");
    mk("arc");
    put("arc/ok.key", "inside");
    ln("../outside.key", "arc/link.key");
    mk("arc/dir.key");
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(arc, sizeof arc, "%s/arc", base);
    if (!realpath(arc, arc_real))
        abort();
}

static void check_component(const char *s)
{
    if (!aioe_resolver_valid_component(s))
        return;
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || strchr(s, '/') ||
        strcmp(s, "..") == 0 || strcmp(s, ".") == 0)
        abort();
}

static void check_resolver(aioe_resource_kind kind, const char *name, const char *key)
{
    check_component(name);
    if (key)
        check_component(key);

    char path[PATH_MAX];
    int rc = aioe_resolver_path(root, kind, name, key, path, sizeof path);
    if (rc == AIOE_OK) {
        char want[PATH_MAX * 2];
        snprintf(want, sizeof want, "%s/%s/%s%s%s", root,
                 kind == AIOE_RESOURCE_SECRET ? "secrets" : "configmaps", name,
                 key ? "/" : "", key ? key : "");
        if (strcmp(want, path) != 0)
            abort();
        /* no "." or ".." segment after the root */
        const char *rest = path + strlen(root);
        for (const char *p = rest; (p = strchr(p, '/')) != NULL; p++)
            if (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
                                (p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))
                abort();
    } else if (rc != AIOE_ERR_INVALID_ARG && rc != AIOE_ERR_TOO_LARGE) {
        abort();
    }

    aioe_resolver r = { .root = root };
    aioe_resource res;
    char err[512];
    memset(err, 0x7f, sizeof err);
    rc = aioe_resolver_get(&r, kind, name, key, &res, err, sizeof err);
    if (rc == AIOE_OK) {
        if (!res.data || res.data[res.len] != '\0')
            abort();
        bool planted = kind == AIOE_RESOURCE_SECRET && strcmp(name, "s") == 0 &&
                       key && strcmp(key, "up") == 0;
        if (strstr((const char *)res.data, "OUTSIDE") && !planted)
            abort();
    } else if (!memchr(err, '\0', sizeof err)) {
        abort();
    }
    aioe_resource_clear(&res);
}

static void check_arc(const char *realm)
{
    char hdr[PATH_MAX + 32];
    snprintf(hdr, sizeof hdr, "Basic realm=%s", realm);
    char *path = NULL, err[PATH_MAX + 128];
    int rc = aioe__mi_arc_challenge_path(hdr, arc, &path, err, sizeof err);
    if (rc == AIOE_OK) {
        size_t dl = strlen(arc_real), pl = strlen(path);
        struct stat st;
        if (strncmp(path, arc_real, dl) != 0 || path[dl] != '/' ||
            strchr(path + dl + 1, '/') || pl < 5 ||
            strcmp(path + pl - 4, ".key") != 0 || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            abort();
        free(path);
    } else if (path || (rc != AIOE_ERR_AUTH && rc != AIOE_ERR_NOMEM)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        setup();
    if (size == 0 || size > 4096)
        return 0;
    uint8_t mode = data[0];
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *name = buf;
    size_t nl = strlen(name);
    const char *key = nl + 1 < size ? buf + nl + 1 : NULL;
    if (!(mode & 1))
        key = NULL;

    switch (mode >> 1 & 3) {
    case 0: check_resolver(AIOE_RESOURCE_SECRET, name, key ? key : ""); break;
    case 1: check_resolver(AIOE_RESOURCE_CONFIG_MAP, name, key); break;
    case 2: check_arc(name); break;
    default: {
        /* a relative realm, resolved against the key directory's parent */
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "%s/%s", arc, name);
        check_arc(rel);
        break;
    }
    }
    free(buf);
    return 0;
}
