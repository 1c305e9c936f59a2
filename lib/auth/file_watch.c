/* One inotify descriptor and one watcher thread for the process
 * (file_watch.h). Locks: g_life serializes add and remove (which start and
 * stop the thread); g_mu guards the list and is held while callbacks run,
 * so remove() returning means the callback is done. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "aioendpoint/common.h"
#include "file_watch.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE | \
                    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

struct aioe__file_watch {
    struct aioe__file_watch *next;
    int wd;                    /* -1: the directory went; never fires again */
    bool fired;
    aioe__file_watch_cb cb;
    void *ctx;
};

static pthread_mutex_t g_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static aioe__file_watch *g_head;   /* under g_mu */
static int g_fd = -1;              /* inotify; set under g_life */
static int g_wake[2] = { -1, -1 }; /* a pipe: a byte stops the thread */
static pthread_t g_thread;
static bool g_running;             /* under g_life */
static atomic_bool g_enabled = true;

void aioe__file_watch_set_enabled(bool enabled)
{
    atomic_store(&g_enabled, enabled);
}

/* Marks the watches of @p wd as fired (and dead when the kernel dropped
 * the watch). g_mu held. */
static void mark(int wd, bool gone)
{
    for (aioe__file_watch *w = g_head; w; w = w->next) {
        if (w->wd != wd)
            continue;
        w->fired = true;
        if (gone)
            w->wd = -1;
    }
}

static void *watcher_main(void *arg)
{
    (void)arg;
    /* aligned as the kernel writes struct inotify_event records */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct pollfd p[2] = { { g_fd, POLLIN, 0 }, { g_wake[0], POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        pthread_mutex_lock(&g_mu);
        ssize_t n;
        while ((n = read(g_fd, buf, sizeof buf)) > 0) {
            for (char *at = buf; at < buf + n;) {
                const struct inotify_event *ev = (const struct inotify_event *)(void *)at;
                if (ev->mask & IN_Q_OVERFLOW) {
                    for (aioe__file_watch *w = g_head; w; w = w->next)
                        w->fired = true; /* events lost: everyone looks again */
                } else {
                    mark(ev->wd, (ev->mask & IN_IGNORED) != 0);
                }
                at += sizeof *ev + ev->len;
            }
        }
        for (aioe__file_watch *w = g_head; w; w = w->next) {
            if (w->fired) {
                w->fired = false;
                w->cb(w->ctx);
            }
        }
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

/* g_life held. */
static int start_thread(char *err, size_t errlen)
{
    g_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (g_fd < 0) {
        snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
        return AIOE_ERR_IO;
    }
    if (pipe(g_wake) != 0 || fcntl(g_wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(g_wake[1], F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(g_fd);
        if (g_wake[0] >= 0) {
            close(g_wake[0]);
            close(g_wake[1]);
        }
        g_fd = g_wake[0] = g_wake[1] = -1;
        return AIOE_ERR_IO;
    }
    if (pthread_create(&g_thread, NULL, watcher_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the watcher thread");
        close(g_fd);
        close(g_wake[0]);
        close(g_wake[1]);
        g_fd = g_wake[0] = g_wake[1] = -1;
        return AIOE_ERR_NOMEM;
    }
    g_running = true;
    return AIOE_OK;
}

/* g_life held, the list empty. */
static void stop_thread(void)
{
    char c = 0;
    while (write(g_wake[1], &c, 1) < 0 && errno == EINTR)
        ;
    pthread_join(g_thread, NULL);
    close(g_fd);
    close(g_wake[0]);
    close(g_wake[1]);
    g_fd = g_wake[0] = g_wake[1] = -1;
    g_running = false;
}

int aioe__file_watch_add(const char *path, aioe__file_watch_cb cb, void *ctx,
                         aioe__file_watch **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!atomic_load(&g_enabled)) {
        snprintf(err, errlen, "file watches are turned off");
        return AIOE_ERR_UNSUPPORTED;
    }
    /* the directory of the path as given: a projected volume's symlinks
     * (token -> ..data/token, ..data -> ..TIMESTAMP) are swapped there */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    aioe__file_watch *w = calloc(1, sizeof *w);
    if (!w)
        return AIOE_ERR_NOMEM;
    w->cb = cb;
    w->ctx = ctx;
    pthread_mutex_lock(&g_life);
    int rc = g_running ? AIOE_OK : start_thread(err, errlen);
    if (rc == AIOE_OK) {
        pthread_mutex_lock(&g_mu);
        w->wd = inotify_add_watch(g_fd, dir, WATCH_MASK);
        if (w->wd < 0) {
            snprintf(err, errlen, "inotify_add_watch %s: %s", dir, strerror(errno));
            rc = AIOE_ERR_IO;
        } else {
            w->next = g_head;
            g_head = w;
        }
        bool idle = !g_head;
        pthread_mutex_unlock(&g_mu);
        if (idle)
            stop_thread();
    }
    pthread_mutex_unlock(&g_life);
    if (rc != AIOE_OK) {
        free(w);
        return rc;
    }
    *out = w;
    return AIOE_OK;
}

void aioe__file_watch_remove(aioe__file_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&g_life);
    pthread_mutex_lock(&g_mu); /* waits for a callback that is running */
    bool shared = false;
    for (aioe__file_watch **p = &g_head; *p;) {
        if (*p == w) {
            *p = w->next;
            continue;
        }
        shared = shared || (w->wd >= 0 && (*p)->wd == w->wd);
        p = &(*p)->next;
    }
    /* one kernel watch per directory: removed with its last user */
    if (w->wd >= 0 && !shared)
        inotify_rm_watch(g_fd, w->wd);
    bool idle = !g_head;
    pthread_mutex_unlock(&g_mu);
    if (idle && g_running)
        stop_thread();
    pthread_mutex_unlock(&g_life);
    free(w);
}
