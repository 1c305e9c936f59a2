/* aioe-bridge's SIGHUP (docs/operations.md#reload): reopen --log-file and
 * check the YAML files again. Example code. */
#ifndef AIOE_BRIDGE_RELOAD_H
#define AIOE_BRIDGE_RELOAD_H

#include <stddef.h>

/** Opens @p path (borrowed) for appending and makes it standard error.
 *  0, or -1 with errno set (standard error is left as it was). */
int bridge_log_file_open(const char *path);

/**
 * Parses the @p n files of @p files again (borrowed) as at start and logs
 * every error as an error line. Returns the number of errors (a file that
 * cannot be read counts as one); 0 when every file is valid.
 */
size_t bridge_reload_check(char *const *files, size_t n);

#endif /* AIOE_BRIDGE_RELOAD_H */
