/* Shared by the example programs: prints one parse error the way
 * docs/spec.md describes, `FILE:LINE:COL: error: PATH: MESSAGE (hint: ...)`
 * (`FILE: error: ...` when the error has no position). */
#ifndef AIOE_EXAMPLES_PARSE_ERROR_H
#define AIOE_EXAMPLES_PARSE_ERROR_H

#include <stdio.h>

#include <aioendpoint/aioendpoint.h>

static inline void example_print_parse_error(FILE *to, const aioe_parse_error *e)
{
    if (e->line == 0)
        fprintf(to, "%s: error: ", e->file);
    else
        fprintf(to, "%s:%u:%u: error: ", e->file, e->line, e->column);
    if (e->path[0])
        fprintf(to, "%s: ", e->path);
    fputs(e->message, to);
    if (e->hint[0])
        fprintf(to, " (hint: %s)", e->hint);
    fputc('\n', to);
}

#endif
