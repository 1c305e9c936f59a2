/* Group fixture for unit tests that read files: `root` is a fresh
 * /tmp/aioe-<TMPDIR_FIXTURE_NAME>-XXXXXX directory for the whole group
 * (cmocka_run_group_tests(tests, setup, teardown)), removed afterwards;
 * put() writes a text file. Define TMPDIR_FIXTURE_NAME before including;
 * include after <cmocka.h>. */
#ifndef AIOE_TMPDIR_FIXTURE_H
#define AIOE_TMPDIR_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char root[64];

/* inline: a test program that writes no file need not use it */
static inline void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/aioe-" TMPDIR_FIXTURE_NAME "-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
