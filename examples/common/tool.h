/* Shared by every installed tool (aioe-validate, aioe-bridge, aioe-pub,
 * aioe-sub): the one exit-status convention and --version.
 *
 * The convention, the same for every tool (docs/tools.md, aioe-tools(7)
 * and each tool's --help and man page say the same):
 *
 *   0  success
 *   1  invalid input or refused: a YAML file or Dataflow plan that is not
 *      valid, a topic the library rejects, a subscription or publish the
 *      broker refused
 *   2  usage: the command line cannot be used (unknown option, missing
 *      argument, an option value of the wrong form)
 *   3  runtime failure: a file that cannot be read or written, an endpoint
 *      that cannot connect or authenticate, a session that stops for good,
 *      a drain that times out
 *
 * When several things go wrong the highest status wins. */
#ifndef AIOE_EXAMPLES_TOOL_H
#define AIOE_EXAMPLES_TOOL_H

#include <stdio.h>

enum {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_INVALID = 1,
    TOOL_EXIT_USAGE = 2,
    TOOL_EXIT_FAILURE = 3,
};

/* The closing lines of every --help. */
#define TOOL_HELP_TRAILER                                                        \
    "  -V, --version        print the versions of the tool and its libraries\n"  \
    "  -h, --help           this text\n"                                         \
    "Exit status: 0 success, 1 invalid input or refused, 2 usage error,\n"       \
    "3 runtime failure (I/O, connection, authentication).\n"

/* Prints "PROG VERSION" and the run-time versions of libaioendpoint,
 * Paho MQTT C and OpenSSL to stdout; returns the exit status for it
 * (TOOL_EXIT_OK, or TOOL_EXIT_FAILURE when stdout cannot be written). */
int tool_print_version(const char *prog);

/* The exit status for a libaioendpoint status code returned by a call
 * that takes the user's input (aioe_session_new, a publish or subscribe
 * call): TOOL_EXIT_INVALID when the library rejects the input (invalid
 * argument or spec, unsupported setting, too large, invalid CloudEvent),
 * TOOL_EXIT_FAILURE for everything else (I/O, TLS, connection, ...). */
int tool_exit_for(int status);

#endif /* AIOE_EXAMPLES_TOOL_H */
