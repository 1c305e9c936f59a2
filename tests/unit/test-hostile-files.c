/* Hostile input below the session API, files: token files of gigabytes
 * (sparse), zero bytes, directories, symlink loops, FIFOs and character
 * devices in place of files, files nobody may read; resource references
 * that try to leave their directory; YAML whose cost is bounded. Every case
 * must end with a clear error, quickly, without a crash, a leak or a hang.
 * Keys, certificates and numbers are in test-hostile-crypto.c; session-level
 * cases (aioe_session_start) are in tests/integration/test-hostile.c. */
#include "hostile-fixture.h"

/* ---- spec files ------------------------------------------------------ */

static int parse_file_rc(const char *path)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_file(path, NULL, &res);
    aioe_parse_result_free(res);
    return rc;
}

/* A FIFO as the YAML path used to block in open() for ever (issue #15
 * item 7): with no writer it now reads as an empty stream at once. */
static void spec_fifo(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(path_of("spec.fifo"), 0600), 0);
    assert_int_equal(within(3000, parse_file_rc, path_of("spec.fifo")), AIOE_OK);
}

/* ---- YAML that costs: time and memory bounded by the harness ----------
 * Each input is built and parsed in a child with RLIMIT_CPU (SIGXCPU ends
 * a parse that runs away) and, outside ASan and TSan, RLIMIT_AS; the child reports
 * the parse's status and how much its peak RSS grew during the parse.
 * Before issue #15 item 6, `[[[...]]]` 80000 deep took 28 s of CPU, 1 M
 * deep never finished and a 16 MB flat list under metadata.labels took
 * 1.36 GB. */

/* ASan and TSan reserve terabytes of address space: no RLIMIT_AS there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

enum { HOSTILE_CPU_S = 5, HOSTILE_RSS_GROWTH_MB = 96 };

typedef enum { DEEP_FLOW, DEEP_BLOCK, FLAT_LIST } yaml_shape;

static char *hostile_yaml(yaml_shape shape, size_t n, size_t *len)
{
    static const char head[] = "apiVersion: connectivity.iotoperations.azure.com/v1\n"
                               "kind: DataflowEndpoint\nmetadata:\n  name: ep\n  labels: ";
    char *b = malloc(sizeof head + 4 * n + 64);
    assert_non_null(b);
    char *p = b + sprintf(b, "%s", head);
    if (shape == DEEP_FLOW) {
        memset(p, '[', n);
        memset(p + n, ']', n);
        p += 2 * n;
    } else if (shape == DEEP_BLOCK) {
        p += sprintf(p, "\n    ");
        for (size_t i = 0; i < n; i++) { /* "- - - - ... x" on one line */
            *p++ = '-';
            *p++ = ' ';
        }
        *p++ = 'x';
    } else {
        *p++ = '[';
        for (size_t i = 0; i < n; i++) {
            *p++ = '1';
            *p++ = ',';
        }
        *p++ = ']';
    }
    p += sprintf(p, "\nspec:\n  endpointType: Mqtt\n");
    *len = (size_t)(p - b);
    return b;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Parses the input in a child under the limits; returns the status and
 * the RSS growth in KiB through *growth_kb. */
static int parse_bounded(yaml_shape shape, size_t n, long *growth_kb)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        struct rlimit cpu = { HOSTILE_CPU_S, HOSTILE_CPU_S + 1 };
        setrlimit(RLIMIT_CPU, &cpu);
#ifndef UNDER_SANITIZER
        struct rlimit as = { (rlim_t)1 << 30, (rlim_t)1 << 30 };
        setrlimit(RLIMIT_AS, &as);
#endif
        size_t len;
        char *yaml = hostile_yaml(shape, n, &len);
        long before = max_rss_kb();
        aioe_parse_result *res = NULL;
        int out[2] = { aioe_parse_buffer(yaml, len, "hostile.yaml", NULL, &res), 0 };
        out[1] = (int)(max_rss_kb() - before);
        aioe_parse_result_free(res);
        free(yaml);
        if (write(pfd[1], out, sizeof out) != sizeof out)
            _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("parse of %zu (shape %d) killed by signal %d%s", n, (int)shape,
                 WTERMSIG(status),
                 WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL
                     ? " (more than the CPU limit)" : "");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int out[2];
    assert_int_equal(read(pfd[0], out, sizeof out), sizeof out);
    close(pfd[0]);
    *growth_kb = out[1];
    return out[0];
}

static void yaml_costs_are_bounded(void **state)
{
    (void)state;
    static const struct {
        yaml_shape shape;
        size_t n;
    } cases[] = {
        { DEEP_FLOW, 80000 },     /* 160 KB: took 28 s */
        { DEEP_FLOW, 1000000 },   /* 2 MB: never finished */
        { DEEP_FLOW, 8000000 },   /* 16 MB, the input limit */
        { DEEP_BLOCK, 1000000 },
        { FLAT_LIST, 8000000 },   /* 16 MB under metadata.labels: took 1.36 GB */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long growth_kb = 0;
        int rc = parse_bounded(cases[i].shape, cases[i].n, &growth_kb);
        print_message("shape %d n %zu: %s, peak RSS +%ld KiB\n", (int)cases[i].shape,
                      cases[i].n, aioe_strerror(rc), growth_kb);
        assert_int_equal(rc, AIOE_ERR_TOO_LARGE);
        assert_true(growth_kb < HOSTILE_RSS_GROWTH_MB * 1024);
    }
}

/* ---- token files ---------------------------------------------------- */

static char last_err[512];

static int sat_fetch_rc(const char *path)
{
    aioe_token_source src;
    aioe_token tok;
    if (aioe_token_source_sat_new(path, &src) != AIOE_OK)
        return 99;
    last_err[0] = '\0';
    int rc = src.ops->fetch(src.self, &tok, last_err, sizeof last_err);
    (void)src.ops->changed(src.self);
    aioe_token_clear(&tok);
    aioe_token_source_destroy(&src);
    return rc;
}

static int sat_fetch_in_child(const char *path)
{
    return sat_fetch_rc(path);
}

static void token_files(void **state)
{
    (void)state;
    /* 4 GiB sparse: refused from its size, without reading it */
    int fd = open(path_of("huge-token"), O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)4 << 30), 0);
    close(fd);
    int64_t t0 = now_ms();
    assert_int_equal(sat_fetch_rc(path_of("huge-token")), AIOE_ERR_AUTH);
    assert_non_null(strstr(last_err, "larger than 64 KiB"));
    assert_true(now_ms() - t0 < 1000);

    /* just over the limit, and just under */
    char *big = malloc(64 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'a', 64 * 1024 + 1);
    put("token-64k1", big, 64 * 1024 + 1);
    assert_int_equal(sat_fetch_rc(path_of("token-64k1")), AIOE_ERR_AUTH);
    put("token-64k", big, 64 * 1024);
    assert_int_equal(sat_fetch_rc(path_of("token-64k")), AIOE_OK);
    free(big);

    /* zero bytes, whitespace only */
    put("empty-token", "", 0);
    assert_int_equal(sat_fetch_rc(path_of("empty-token")), AIOE_ERR_AUTH);
    assert_non_null(strstr(last_err, "is empty"));
    put("blank-token", " \n\t\r\n", 5);
    assert_int_equal(sat_fetch_rc(path_of("blank-token")), AIOE_ERR_AUTH);

    /* a directory */
    assert_int_equal(mkdir(path_of("dir-token"), 0700), 0);
    assert_int_equal(sat_fetch_rc(path_of("dir-token")), AIOE_ERR_AUTH);
    assert_non_null(strstr(last_err, "is a directory, not a file"));

    /* symlink loop, dangling symlink */
    assert_int_equal(symlink("loop-b", path_of("loop-a")), 0);
    assert_int_equal(symlink("loop-a", path_of("loop-b")), 0);
    assert_int_equal(sat_fetch_rc(path_of("loop-a")), AIOE_ERR_AUTH);
    assert_int_equal(symlink("nowhere", path_of("dangling")), 0);
    assert_int_equal(sat_fetch_rc(path_of("dangling")), AIOE_ERR_AUTH);
    assert_non_null(strstr(last_err, "no such file"));

    /* a FIFO with no writer: must not block (used to hang in open()) */
    assert_int_equal(mkfifo(path_of("fifo-token"), 0600), 0);
    assert_int_equal(within(3000, sat_fetch_in_child, path_of("fifo-token")),
                     AIOE_ERR_AUTH);

    /* character devices: endless (/dev/zero) or empty (/dev/null) */
    assert_int_equal(within(3000, sat_fetch_in_child, "/dev/zero"), AIOE_ERR_AUTH);
    assert_int_equal(within(3000, sat_fetch_in_child, "/dev/null"), AIOE_ERR_AUTH);

    /* a symlink to any readable regular file is followed and read: the
     * documented rule (kubelet's projected volumes are symlinks), so the
     * defence is who may write the mount (docs/security.md) */
    put("elsewhere-token", "not-a-jwt-but-sent", 18);
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s", path_of("elsewhere-token"));
    assert_int_equal(symlink(target, path_of("linked-token")), 0);
    assert_int_equal(sat_fetch_rc(path_of("linked-token")), AIOE_OK);
}

/* ---- resources ------------------------------------------------------ */

static int read_file_rc(const char *path)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int rc = aioe_read_file(path, AIOE_RESOURCE_MAX_BYTES, &d, &n);
    free(d);
    return rc;
}

static void resources(void **state)
{
    (void)state;
    aioe_resolver r = { .root = root };
    aioe_resource res;
    char err[512];
    put("outside.pem", "OUTSIDE", 7);
    put("secrets/s/ok", "inside", 6);

    /* escapes are refused before touching the file system, and the error
     * names the reference */
    static const char *const bad_keys[] = {
        "../outside.pem", "../../outside.pem", "..", ".", "", "a/b",
        "/etc/passwd", "..data", ".hidden", "ok/", "ok\n",
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s", bad_keys[i],
                                           &res, err, sizeof err),
                         AIOE_ERR_INVALID_ARG);
        assert_null(res.data);
        assert_non_null(strstr(err, "invalid secret reference"));
    }
    static const char *const bad_names[] = { "..", "../secrets/s", "s/..", "." };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, bad_names[i], "ok",
                                           &res, err, sizeof err),
                         AIOE_ERR_INVALID_ARG);
    /* 254 characters: over the Kubernetes name limit */
    char longname[255];
    memset(longname, 'a', 254);
    longname[254] = '\0';
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, longname, "ok", &res,
                                       err, sizeof err),
                     AIOE_ERR_INVALID_ARG);

    /* the key is a directory, a loop, a FIFO, too big, empty */
    assert_int_equal(mkdir(path_of("secrets/s/dirkey"), 0700), 0);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s", "dirkey", &res,
                                       err, sizeof err),
                     AIOE_ERR_IO);
    assert_non_null(strstr(err, "dirkey"));
    assert_int_equal(symlink("loopkey", path_of("secrets/s/loopkey")), 0);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s", "loopkey", &res,
                                       err, sizeof err),
                     AIOE_ERR_IO);
    assert_int_equal(mkfifo(path_of("secrets/s/fifokey"), 0600), 0);
    assert_int_equal(within(3000, read_file_rc, path_of("secrets/s/fifokey")),
                     AIOE_ERR_IO);
    int fd = open(path_of("secrets/s/hugekey"), O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)2 << 30), 0);
    close(fd);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s", "hugekey", &res,
                                       err, sizeof err),
                     AIOE_ERR_TOO_LARGE);
    put("secrets/s/emptykey", "", 0);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "s", "emptykey", &res,
                                       err, sizeof err),
                     AIOE_OK);
    assert_int_equal(res.len, 0);
    assert_int_equal(res.data[0], '\0');
    aioe_resource_clear(&res);
    assert_int_equal(within(3000, read_file_rc, "/dev/zero"), AIOE_ERR_IO);
    /* a /proc file reports size 0 but has content: read, bounded */
    assert_int_equal(read_file_rc("/proc/self/status"), AIOE_OK);
    /* a secret name that is a file, not a directory */
    put("secrets/plainfile", "x", 1);
    assert_int_equal(aioe_resolver_get(&r, AIOE_RESOURCE_SECRET, "plainfile", "ok",
                                       &res, err, sizeof err),
                     AIOE_ERR_IO);
}

/* ---- unreadable files ------------------------------------------------ */

/* Mode 000 files. Root ignores file modes, so when running as root the
 * check runs in a child that has dropped to nobody (65534). */
static int unreadable_child(const char *path)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 98;
    int a = sat_fetch_rc(path);
    unsigned char *d = NULL;
    size_t n;
    int b = aioe_read_file(path, AIOE_RESOURCE_MAX_BYTES, &d, &n);
    free(d);
    /* both must fail cleanly: the token source with AUTH, the reader with IO */
    return a == AIOE_ERR_AUTH && b == AIOE_ERR_IO ? 0 : 1;
}

static void unreadable_files(void **state)
{
    (void)state;
    /* a world-traversable directory, so only the file's mode stops nobody */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/open", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(root, 0755), 0);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/token", dir);
    put("open/token", "eyJ.eyJ.sig", 11);
    assert_int_equal(chmod(p, 0), 0);
    assert_int_equal(within(3000, unreadable_child, p), 0);
    assert_int_equal(chmod(root, 0700), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_fifo),
        cmocka_unit_test(yaml_costs_are_bounded),
        cmocka_unit_test(token_files),
        cmocka_unit_test(resources),
        cmocka_unit_test(unreadable_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
