/* aioe-validate: check Azure IoT Operations DataflowEndpoint, Dataflow and
 * DataflowProfile YAML files together and show the settings
 * libaioendpoint would use, with every default filled in.
 *
 *   aioe-validate [--json] [--quiet] FILE...
 *
 * The files are checked as one set: a Dataflow's endpointRef may name an
 * endpoint in another file. Errors go to stderr as
 * FILE:LINE:COL: error: FIELD.PATH: message (hint).
 * Exit status (examples/common/tool.h): 0 all valid, 1 any invalid (or too
 * large), 2 usage, 3 a file that cannot be read. Built only against the
 * public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aioendpoint/aioendpoint.h>

#include "../common/parse-error.h"
#include "../common/tool.h"

#define MAX_FILES 1024

static void usage(FILE *to)
{
    fprintf(to,
            "usage: aioe-validate [--json] [--quiet] FILE...\n"
            "Validates every DataflowEndpoint, Dataflow and DataflowProfile in the YAML\n"
            "files, as one set: references between them are resolved across files.\n"
            "  --json               print each valid resource as one JSON line, defaults filled in\n"
            "  --quiet              print errors only\n"
            TOOL_HELP_TRAILER
            "(1: a file is not valid; 3: a file cannot be read.)\n");
}

/* Prints one JSON line; false when serializing failed. */
static bool print_json(const char *path, int rc, char *text)
{
    if (rc != AIOE_OK || !text) {
        fprintf(stderr, "%s: error: %s\n", path,
                aioe_strerror(rc != AIOE_OK ? rc : AIOE_ERR_NOMEM));
        return false;
    }
    puts(text);
    aioe_free(text);
    return true;
}

static int report(aioe_parse_result *res, const char *path, bool json, bool quiet)
{
    int status = aioe_parse_result_error_count(res) > 0 ? TOOL_EXIT_INVALID : TOOL_EXIT_OK;
    for (size_t i = 0; i < aioe_parse_result_error_count(res); i++)
        example_print_parse_error(stderr, aioe_parse_result_error(res, i));
    for (size_t i = 0; !quiet && i < aioe_parse_result_skipped_count(res); i++) {
        const aioe_skipped_document *s = aioe_parse_result_skipped(res, i);
        fprintf(stderr, "%s:%u:%u: note: skipped %s%s%s%s%s (not a kind aioe-validate "
                "checks)\n", s->file, s->line, s->column, s->kind[0] ? "" : "a document",
                s->kind, s->name[0] ? " '" : "", s->name, s->name[0] ? "'" : "");
    }
    for (size_t i = 0; i < aioe_parse_result_endpoint_count(res); i++) {
        const aioe_endpoint *ep = aioe_parse_result_endpoint(res, i);
        if (json) {
            char *text = NULL;
            int rc = aioe_endpoint_to_json(ep, AIOE_JSON_SUMMARY, &text, NULL);
            if (!print_json(path, rc, text))
                status = TOOL_EXIT_FAILURE;
        } else if (!quiet) {
            const char *host = aioe_endpoint_host(ep);
            const char *ws = aioe_endpoint_websocket_path(ep);
            printf("%s:%u: ok: %s -> %s%s%s:%u%s (%s, TLS %s)\n", path,
                   aioe_endpoint_source_line(ep), aioe_endpoint_name(ep),
                   strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
                   aioe_endpoint_port(ep), ws ? ws : "",
                   aioe_auth_method_name(aioe_endpoint_auth_method(ep)),
                   aioe_tls_mode_name(aioe_endpoint_tls_mode(ep)));
        }
    }
    for (size_t i = 0; i < aioe_parse_result_dataflow_count(res); i++) {
        const aioe_dataflow *df = aioe_parse_result_dataflow(res, i);
        if (json) {
            char *text = NULL;
            int rc = aioe_dataflow_to_json(df, 0, &text, NULL);
            if (!print_json(path, rc, text))
                status = TOOL_EXIT_FAILURE;
        } else if (!quiet) {
            printf("%s:%u: ok: dataflow %s: %s (%zu topic filter%s)%s -> %s '%s'\n", path,
                   aioe_dataflow_source_line(df), aioe_dataflow_name(df),
                   aioe_dataflow_source_endpoint_ref(df), aioe_dataflow_source_topic_count(df),
                   aioe_dataflow_source_topic_count(df) == 1 ? "" : "s",
                   aioe_dataflow_has_transformation(df) ? " -> transformation" : "",
                   aioe_dataflow_destination_endpoint_ref(df),
                   aioe_dataflow_destination_topic(df));
        }
    }
    for (size_t i = 0; i < aioe_parse_result_profile_count(res); i++) {
        const aioe_profile *p = aioe_parse_result_profile(res, i);
        if (json) {
            char *text = NULL;
            int rc = aioe_profile_to_json(p, 0, &text, NULL);
            if (!print_json(path, rc, text))
                status = TOOL_EXIT_FAILURE;
        } else if (!quiet) {
            printf("%s: ok: profile %s (%u instance%s)\n", path, aioe_profile_name(p),
                   aioe_profile_instance_count(p),
                   aioe_profile_instance_count(p) == 1 ? "" : "s");
        }
    }
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
    if (argc - first > MAX_FILES) {
        fprintf(stderr, "aioe-validate: more than %d files\n", MAX_FILES);
        return TOOL_EXIT_USAGE;
    }
    aioe_parse_options *opts = NULL;
    if (aioe_parse_options_new(&opts) != AIOE_OK ||
        aioe_parse_options_set_kinds(opts, AIOE_KIND_DATAFLOW_ENDPOINT | AIOE_KIND_DATAFLOW |
                                               AIOE_KIND_DATAFLOW_PROFILE) != AIOE_OK) {
        fprintf(stderr, "aioe-validate: %s\n", aioe_strerror(AIOE_ERR_NOMEM));
        aioe_parse_options_free(opts);
        return TOOL_EXIT_FAILURE;
    }
    static aioe_parse_result *results[MAX_FILES];
    static const char *paths[MAX_FILES];
    size_t n = 0;
    int worst = TOOL_EXIT_OK;
    for (int i = first; i < argc; i++) {
        aioe_parse_result *res = NULL;
        int rc = aioe_parse_file(argv[i], opts, &res);
        if (!res) {
            fprintf(stderr, "%s: error: %s\n", argv[i], aioe_strerror(rc));
            if (tool_exit_for(rc) > worst)
                worst = tool_exit_for(rc);
            continue;
        }
        /* 3 for a file that cannot be read, 1 for one over the limit */
        if (rc != AIOE_OK && tool_exit_for(rc) > worst)
            worst = tool_exit_for(rc);
        paths[n] = argv[i];
        results[n++] = res;
    }
    aioe_parse_options_free(opts);
    /* endpointRef and profileRef are resolved over all the files. */
    int lrc = aioe_parse_results_check_references(results, n);
    if (lrc < 0) {
        fprintf(stderr, "aioe-validate: %s\n", aioe_strerror(lrc));
        worst = TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++) {
        int s = report(results[i], paths[i], json, quiet);
        if (s > worst)
            worst = s;
        aioe_parse_result_free(results[i]);
    }
    if (fflush(stdout) != 0)
        return TOOL_EXIT_FAILURE;
    return worst;
}
