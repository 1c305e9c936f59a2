/* The smallest libaioendpoint consumer: prints the library's version and
 * checks that it matches the headers it was compiled against.
 *
 * Builds with nothing but pkg-config:
 *   cc -Wall -Wextra -Werror -o print-version print-version.c \
 *      $(pkg-config --cflags --libs libaioendpoint)
 * tests/install/check-pkgconfig.sh compiles and runs it against an
 * installed tree. Exit status: 0 when header and library agree, 1 if not. */
#include <stdio.h>
#include <string.h>

#include <aioendpoint/aioendpoint.h>

int main(void)
{
    const char *runtime = aioe_version();

    printf("libaioendpoint %s (headers %s)\n", runtime, AIOE_VERSION_STRING);
    if (strcmp(runtime, AIOE_VERSION_STRING) != 0) {
        fprintf(stderr, "print-version: library is %s but headers are %s\n",
                runtime, AIOE_VERSION_STRING);
        return 1;
    }
    if (aioe_version_number() != AIOE_VERSION_NUMBER) {
        fprintf(stderr, "print-version: aioe_version_number() is %u, expected %u\n",
                aioe_version_number(), (unsigned)AIOE_VERSION_NUMBER);
        return 1;
    }
    return 0;
}
