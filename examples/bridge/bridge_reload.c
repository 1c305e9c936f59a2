/* aioe-bridge's SIGHUP (bridge_reload.h). */
#include "bridge_reload.h"
#include "bridge_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <aioendpoint/aioendpoint.h>

int bridge_log_file_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    /* dup2 replaces fd 2 in one step: a thread writing a line at the same
     * moment writes it whole to the old file or to the new one */
    int rc = fd == STDERR_FILENO ? 0 : dup2(fd, STDERR_FILENO);
    if (fd != STDERR_FILENO)
        close(fd);
    return rc < 0 ? -1 : 0;
}

size_t bridge_reload_check(char *const *files, size_t n)
{
    aioe_parse_options *po = NULL;
    if (aioe_parse_options_new(&po) != AIOE_OK ||
        aioe_parse_options_set_kinds(po, AIOE_KIND_DATAFLOW_ENDPOINT | AIOE_KIND_DATAFLOW |
                                             AIOE_KIND_DATAFLOW_PROFILE) != AIOE_OK) {
        aioe_parse_options_free(po);
        bridge_log(AIOE_LOG_ERROR, "reload: cannot set up the parser");
        return 1;
    }
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        aioe_parse_result *res = NULL;
        int rc = aioe_parse_file(files[i], po, &res);
        if (!res) {
            bridge_log(AIOE_LOG_ERROR, "reload: %s: %s", files[i], aioe_strerror(rc));
            errors++;
            continue;
        }
        size_t ne = aioe_parse_result_error_count(res);
        for (size_t k = 0; k < ne; k++) {
            const aioe_parse_error *e = aioe_parse_result_error(res, k);
            bridge_log(AIOE_LOG_ERROR, "reload: %s:%u:%u: %s%s%s%s%s%s", e->file, e->line,
                       e->column, e->path, e->path[0] ? ": " : "", e->message,
                       e->hint[0] ? " (hint: " : "", e->hint, e->hint[0] ? ")" : "");
        }
        if (rc != AIOE_OK && ne == 0) {
            bridge_log(AIOE_LOG_ERROR, "reload: %s: %s", files[i], aioe_strerror(rc));
            errors++;
        }
        errors += ne;
        aioe_parse_result_free(res);
    }
    aioe_parse_options_free(po);
    return errors;
}
