/* Noticing at once that a file may have changed (the service account token
 * file), with Linux inotify: one watcher thread and one inotify descriptor
 * for the whole process, started with the first watch and stopped with
 * the last. What is watched is the directory that holds the path as given,
 * so the kubelet's rotation of a projected volume (a new ..TIMESTAMP
 * directory, the ..data symlink renamed over, the old one deleted) and a
 * file rewritten in place or replaced by a rename are all seen. A watch only
 * says "look again": callers still compare contents, and keep polling
 * (a symlink into another directory, a network file system, inotify limits
 * reached are not seen here). Private to lib/auth/. */
#ifndef AIOE_AUTH_FILE_WATCH_H
#define AIOE_AUTH_FILE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aioe__file_watch aioe__file_watch;

/* Called on the watcher thread after events in the watched directory
 * (several events may give one call). It must be short and must not call
 * aioe__file_watch_remove(). */
typedef void (*aioe__file_watch_cb)(void *ctx);

/* Watches the directory of @p path (copied) and calls @p cb(@p ctx) after
 * something in it was created, renamed in or out, closed after writing,
 * deleted or had its attributes changed, or when the directory itself goes.
 * AIOE_OK; AIOE_ERR_UNSUPPORTED when watches are turned off (tests);
 * AIOE_ERR_IO with a message in @p err when inotify refuses (no inotify,
 * a limit reached, the directory missing); AIOE_ERR_NOMEM. */
int aioe__file_watch_add(const char *path, aioe__file_watch_cb cb, void *ctx,
                         aioe__file_watch **out, char *err, size_t errlen);

/* Stops the watch. When it returns, @p cb is not running and will not be
 * called again. Not from the callback. NULL does nothing. */
void aioe__file_watch_remove(aioe__file_watch *w);

/* Tests only: false makes every later aioe__file_watch_add() fail with
 * AIOE_ERR_UNSUPPORTED, as if inotify were missing, so the polling
 * fallback can be tested. Default true. */
void aioe__file_watch_set_enabled(bool enabled);

#endif
