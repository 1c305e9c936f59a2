/* --version and the exit-status mapping shared by the tools (tool.h).
 * The tools link Paho and OpenSSL directly for their version strings: the
 * library's public API exposes neither. */
#include "tool.h"

#include <string.h>

#include <MQTTAsync.h>
#include <openssl/crypto.h>

#include <aioendpoint/aioendpoint.h>

static const char *paho_version(void)
{
    for (MQTTAsync_nameValue *v = MQTTAsync_getVersionInfo(); v && v->name; v++)
        if (strcmp(v->name, "Version") == 0)
            return v->value;
    return "unknown";
}

int tool_print_version(const char *prog)
{
    /* The tools are built with the library, so the project version is
     * the version of the headers they were compiled against. */
    printf("%s %s\n", prog, AIOE_VERSION_STRING);
    printf("libaioendpoint %s\n", aioe_version());
    printf("Eclipse Paho MQTT C %s\n", paho_version());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    return fflush(stdout) == 0 && !ferror(stdout) ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE;
}

int tool_exit_for(int status)
{
    switch (status) {
    case AIOE_OK:
        return TOOL_EXIT_OK;
    case AIOE_ERR_INVALID_ARG:
    case AIOE_ERR_INVALID_SPEC:
    case AIOE_ERR_UNSUPPORTED:
    case AIOE_ERR_TOO_LARGE:
    case AIOE_ERR_INVALID_EVENT:
        return TOOL_EXIT_INVALID;
    default:
        return TOOL_EXIT_FAILURE;
    }
}
