/* aioe-validate: check DataflowEndpoint YAML files and show the settings
 * libaioendpoint would use, with every default filled in.
 *
 *   aioe-validate [--json] [--quiet] FILE...
 *
 * Errors go to stderr as FILE:LINE:COL: error: FIELD.PATH: message (hint).
 * Exit status (examples/common/tool.h): 0 all valid, 1 any invalid (or too
 * large), 2 usage, 3 a file that cannot be read. Built only against the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aioendpoint/aioendpoint.h>

#include "../common/parse-error.h"
#include "../common/tool.h"

static void usage(FILE *to)
{
    fprintf(to,
            "usage: aioe-validate [--json] [--quiet] FILE...\n"
            "Validates every DataflowEndpoint in the YAML files.\n"
            "  --json               print each valid endpoint as one JSON line, defaults filled in\n"
            "  --quiet              print errors only\n"
            TOOL_HELP_TRAILER
            "(1: a file is not valid; 3: a file cannot be read.)\n");
}

static int validate(const char *path, bool json, bool quiet)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_file(path, NULL, &res);
    if (!res) {
        fprintf(stderr, "%s: error: %s\n", path, aioe_strerror(rc));
        return tool_exit_for(rc);
    }
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
        example_print_parse_error(stderr, aioe_parse_result_error(res, i));
    for (size_t i = 0; !quiet && i < aioe_parse_result_skipped_count(res); i++) {
        const aioe_skipped_document *s = aioe_parse_result_skipped(res, i);
        fprintf(stderr, "%s:%u:%u: note: skipped %s%s%s%s%s (not a DataflowEndpoint)\n",
                s->file, s->line, s->column, s->kind[0] ? "" : "a document",
                s->kind, s->name[0] ? " '" : "", s->name, s->name[0] ? "'" : "");
    }
    int status = tool_exit_for(rc); /* 3 for a file that cannot be read */
    for (size_t i = 0; i < aioe_parse_result_endpoint_count(res); i++) {
        const aioe_endpoint *ep = aioe_parse_result_endpoint(res, i);
        if (json) {
            char *text = NULL;
            int jrc = aioe_endpoint_to_json(ep, AIOE_JSON_SUMMARY, &text, NULL);
            if (jrc != AIOE_OK) {
                fprintf(stderr, "%s: error: %s\n", path, aioe_strerror(jrc));
                status = TOOL_EXIT_FAILURE;
                continue;
            }
            puts(text);
            aioe_free(text);
        } else if (!quiet) {
            printf("%s:%u: ok: %s -> %s%s%s:%u (%s, TLS %s)\n", path,
                   aioe_endpoint_source_line(ep), aioe_endpoint_name(ep),
                   strchr(aioe_endpoint_host(ep), ':') ? "[" : "", aioe_endpoint_host(ep),
                   strchr(aioe_endpoint_host(ep), ':') ? "]" : "", aioe_endpoint_port(ep),
                   aioe_auth_method_name(aioe_endpoint_auth_method(ep)),
                   aioe_tls_mode_name(aioe_endpoint_tls_mode(ep)));
        }
    }
    aioe_parse_result_free(res);
    return status;
}

int main(int argc, char **argv)
{
    bool json = false, quiet = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[first], "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (strcmp(argv[first], "--version") == 0 || strcmp(argv[first], "-V") == 0) {
            return tool_print_version("aioe-validate");
        } else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else {
            fprintf(stderr, "aioe-validate: unknown option '%s'\n", argv[first]);
            usage(stderr);
            return TOOL_EXIT_USAGE;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    int worst = TOOL_EXIT_OK;
    for (int i = first; i < argc; i++) {
        int s = validate(argv[i], json, quiet);
        if (s > worst)
            worst = s;
    }
    if (fflush(stdout) != 0)
        return TOOL_EXIT_FAILURE;
    return worst;
}
