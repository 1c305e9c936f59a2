/* lib/auth/file_watch.c: the inotify watcher behind prompt token rotation
 * (docs/authentication.md). A kubelet-style ..data symlink swap, a file
 * rewritten in place and a file renamed over are each seen; two watches on
 * one directory share the kernel watch and both fire; once remove()
 * returns, the callback never runs again; turned off, add() refuses. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "aioendpoint/common.h"
#include "file_watch.h"

typedef struct hits {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned n;
} hits;

static void on_event(void *ctx)
{
    hits *h = ctx;
    pthread_mutex_lock(&h->mu);
    h->n++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Waits (up to 10 s) for more than @p seen calls; returns the count. */
static unsigned wait_more(hits *h, unsigned seen)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&h->mu);
    while (h->n <= seen && pthread_cond_timedwait(&h->cv, &h->mu, &dl) == 0)
        ;
    unsigned n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

static unsigned count(hits *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/aioe-watch-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void kubelet_swap_and_rewrites(void **state)
{
    (void)state;
    char *dir = make_dir();
    char p[512], q[512];
    /* token -> ..data/token, ..data -> ..ts1 */
    snprintf(p, sizeof p, "%s/..ts1", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/..ts1/token", dir);
    write_file(p, "one");
    snprintf(p, sizeof p, "%s/..data", dir);
    assert_int_equal(symlink("..ts1", p), 0);
    snprintf(p, sizeof p, "%s/token", dir);
    assert_int_equal(symlink("..data/token", p), 0);

    hits h = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    aioe__file_watch *w = NULL;
    char err[256] = "";
    assert_int_equal(aioe__file_watch_add(p, on_event, &h, &w, err, sizeof err), AIOE_OK);

    /* the swap: new directory, a temporary symlink renamed over ..data */
    snprintf(q, sizeof q, "%s/..ts2", dir);
    assert_int_equal(mkdir(q, 0700), 0);
    snprintf(q, sizeof q, "%s/..ts2/token", dir);
    write_file(q, "two");
    snprintf(q, sizeof q, "%s/..data_tmp", dir);
    assert_int_equal(symlink("..ts2", q), 0);
    unsigned seen = count(&h);
    snprintf(p, sizeof p, "%s/..data", dir);
    assert_int_equal(rename(q, p), 0);
    seen = wait_more(&h, seen);
    assert_true(seen >= 1);

    /* a plain file in another directory, rewritten in place, then
     * replaced by a rename */
    hits h2 = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    hits h3 = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    char *dir2 = make_dir();
    snprintf(p, sizeof p, "%s/plain", dir2);
    write_file(p, "a");
    aioe__file_watch *w2 = NULL, *w3 = NULL;
    assert_int_equal(aioe__file_watch_add(p, on_event, &h2, &w2, err, sizeof err), AIOE_OK);
    assert_int_equal(aioe__file_watch_add(p, on_event, &h3, &w3, err, sizeof err), AIOE_OK);
    write_file(p, "b");
    assert_true(wait_more(&h2, 0) >= 1);
    assert_true(wait_more(&h3, 0) >= 1); /* two watches, one directory: both fire */
    aioe__file_watch_remove(w3);
    unsigned s2 = count(&h2), s3 = count(&h3);
    snprintf(q, sizeof q, "%s/plain.new", dir2);
    write_file(q, "c");
    assert_int_equal(rename(q, p), 0);
    assert_true(wait_more(&h2, s2) > s2);
    /* removed: never again, though its directory still changes */
    assert_int_equal(count(&h3), s3);

    aioe__file_watch_remove(w2);
    aioe__file_watch_remove(w);
    unsigned after = count(&h);
    /* a new watch on the same directory fires for the next change; the
     * removed one, dispatched in the same batch, does not */
    hits h4 = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    aioe__file_watch *w4 = NULL;
    snprintf(p, sizeof p, "%s/token", dir);
    assert_int_equal(aioe__file_watch_add(p, on_event, &h4, &w4, err, sizeof err), AIOE_OK);
    snprintf(q, sizeof q, "%s/new-file", dir);
    write_file(q, "three");
    assert_true(wait_more(&h4, 0) >= 1);
    assert_int_equal(count(&h), after);
    aioe__file_watch_remove(w4);

    /* a directory that does not exist: refused with a reason */
    assert_int_equal(aioe__file_watch_add("/nonexistent-aioe/dir/token", on_event, &h, &w,
                                          err, sizeof err), AIOE_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent-aioe/dir"));
    assert_null(w);
    /* turned off (tests of the polling fallback) */
    aioe__file_watch_set_enabled(false);
    assert_int_equal(aioe__file_watch_add(p, on_event, &h, &w, err, sizeof err),
                     AIOE_ERR_UNSUPPORTED);
    aioe__file_watch_set_enabled(true);
    aioe__file_watch_remove(NULL);

    rm_rf(dir);
    rm_rf(dir2);
    free(dir);
    free(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kubelet_swap_and_rewrites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
