/* Shared fixture of the hostile-input unit tests (test-hostile-files.c,
 * test-hostile-crypto.c): a scratch directory for the group, files written
 * into it, a time bound on a call. */
#ifndef AIOE_TESTS_UNIT_HOSTILE_FIXTURE_H
#define AIOE_TESTS_UNIT_HOSTILE_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <aioendpoint/common.h>
#include <aioendpoint/session.h>
#include <aioendpoint/spec.h>
#include "jwt.h"
#include "mi.h"
#include "resolver.h"
#include "tls.h"
#include "token_source.h"

static char root[64];

static inline void put(const char *rel, const void *data, size_t len)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline char *path_of(const char *rel)
{
    static char p[4][PATH_MAX];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", root, rel);
    return p[i];
}

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/aioe-hostile-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/secrets", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/secrets/s", root);
    mkdir(p, 0700);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs fn(arg) in a child and fails if it does not finish within ms (a
 * hang on a FIFO would otherwise hang the test). Returns fn's result. */
static inline int within(int ms, int (*fn)(const char *), const char *arg)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int rc = fn(arg);
        if (write(pfd[1], &rc, sizeof rc) != sizeof rc)
            _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    int64_t deadline = now_ms() + ms;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        usleep(2000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(pfd[0]);
        fail_msg("hung for more than %d ms on %s", ms, arg);
    }
    int rc = 1;
    assert_int_equal(read(pfd[0], &rc, sizeof rc), sizeof rc);
    close(pfd[0]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return rc;
}

#endif
