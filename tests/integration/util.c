/* Workspace, paths, clocks and polling helpers. */
#define _GNU_SOURCE
#include "harness-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXIT_HOOKS 16

static pthread_mutex_t util_lock = PTHREAD_MUTEX_INITIALIZER;
static char *workspace;
static pid_t workspace_owner;
static void (*exit_hooks[MAX_EXIT_HOOKS])(void);
static int exit_hook_count;
static bool atexit_registered;

void harness_log(const char *fmt, ...)
{
    va_list ap;
    char buf[4096];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "harness: %s\n", buf);
}

char *harness_strdupf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        fprintf(stderr, "harness: cannot remove %s: %s\n", path,
                strerror(errno));
    return 0;
}

static void run_exit(void)
{
    /* Only the process that created the workspace cleans up (a forked child
     * that exits without exec must not remove it). */
    if (getpid() != workspace_owner && workspace)
        return;
    pthread_mutex_lock(&util_lock);
    int n = exit_hook_count;
    exit_hook_count = 0;
    pthread_mutex_unlock(&util_lock);
    for (int i = n - 1; i >= 0; i--)
        exit_hooks[i]();
    if (workspace) {
        const char *keep = getenv("AIOE_TEST_KEEP");
        if (keep && strcmp(keep, "0") != 0 && *keep) {
            fprintf(stderr, "harness: AIOE_TEST_KEEP set, workspace kept: %s\n",
                    workspace);
        } else {
            nftw(workspace, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
        free(workspace);
        workspace = NULL;
    }
}

/* meson's timeout sends SIGTERM (Ctrl-C sends SIGINT): exit handlers do not
 * run then. Brokers die through PR_SET_PDEATHSIG; say where the workspace
 * (kept for inspection) is, then die of the same signal. */
static char signal_message[512];

static void on_fatal_signal(int sig)
{
    ssize_t n = write(2, signal_message, strlen(signal_message));
    (void)n;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    static const int sigs[] = { SIGTERM, SIGINT };

    snprintf(signal_message, sizeof signal_message,
             "harness: terminated by a signal; workspace kept: %s\n",
             workspace ? workspace : "(none)");
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
            struct sigaction sa = { .sa_handler = on_fatal_signal };
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_RESETHAND;
            sigaction(sigs[i], &sa, NULL);
        }
    }
}

static void ensure_atexit_locked(void)
{
    if (!atexit_registered) {
        atexit(run_exit);
        atexit_registered = true;
    }
}

void harness_at_exit(void (*fn)(void))
{
    pthread_mutex_lock(&util_lock);
    ensure_atexit_locked();
    for (int i = 0; i < exit_hook_count; i++) {
        if (exit_hooks[i] == fn) {
            pthread_mutex_unlock(&util_lock);
            return;
        }
    }
    if (exit_hook_count < MAX_EXIT_HOOKS)
        exit_hooks[exit_hook_count++] = fn;
    else
        abort();
    pthread_mutex_unlock(&util_lock);
}

const char *harness_workspace(void)
{
    pthread_mutex_lock(&util_lock);
    if (!workspace) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        char *tmpl = harness_strdupf("%s/aioe-test-XXXXXX", tmp);
        if (!mkdtemp(tmpl)) {
            harness_log("mkdtemp(%s): %s", tmpl, strerror(errno));
            free(tmpl);
        } else {
            workspace = tmpl;
            workspace_owner = getpid();
            ensure_atexit_locked();
            install_signal_handlers();
        }
    }
    pthread_mutex_unlock(&util_lock);
    return workspace;
}

char *harness_path(const char *name)
{
    const char *ws = harness_workspace();

    return ws ? harness_strdupf("%s/%s", ws, name) : NULL;
}

char *harness_mkdir(const char *name)
{
    char *path = harness_path(name);

    if (!path)
        return NULL;
    size_t base = strlen(harness_workspace()) + 1;
    for (char *p = path + base; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                harness_log("mkdir(%s): %s", path, strerror(errno));
                free(path);
                return NULL;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return path;
}

int harness_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        harness_log("open(%s): %s", path, strerror(errno));
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            harness_log("write(%s): %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : -1;
}

char *harness_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rbe");

    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool harness_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms)
{
    int64_t left = deadline_ms - harness_now_ms();
    if (left <= 0)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cond, mu, &ts);
    return true;
}

int64_t harness_time(void)
{
    return (int64_t)time(NULL);
}

bool harness_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        if (cond(arg))
            return true;
        if (harness_now_ms() >= deadline)
            return cond(arg);
        harness_sleep_ms(2);
    }
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

char *harness_unique(const char *prefix)
{
    static unsigned counter;
    unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

    return harness_strdupf("%s-%ld-%u", prefix, (long)getpid(), n);
}
