/* Status strings, version queries and the allocator hand-back. */
#include <stdlib.h>

#include "aioendpoint/common.h"
#include "version.h"

const char *aioe_strerror(int status)
{
    switch ((aioe_status)status) {
    case AIOE_OK: return "success";
    case AIOE_ERR_INVALID_ARG: return "invalid argument";
    case AIOE_ERR_NOMEM: return "out of memory";
    case AIOE_ERR_IO: return "input/output error";
    case AIOE_ERR_INVALID_SPEC: return "invalid resource specification";
    case AIOE_ERR_UNSUPPORTED: return "not supported";
    case AIOE_ERR_NOT_FOUND: return "not found";
    case AIOE_ERR_TOO_LARGE: return "input exceeds a configured limit";
    case AIOE_ERR_STATE: return "not allowed in the current state";
    case AIOE_ERR_TLS: return "TLS failure";
    case AIOE_ERR_AUTH: return "authentication failed";
    case AIOE_ERR_NOT_AUTHORIZED: return "not authorized";
    case AIOE_ERR_TIMEOUT: return "timed out";
    case AIOE_ERR_PROTOCOL: return "MQTT protocol error";
    case AIOE_ERR_CONNECTION: return "connection failed or lost";
    case AIOE_ERR_WOULD_BLOCK: return "would block: window or queue full";
    case AIOE_ERR_INTERNAL: return "internal error";
    case AIOE_ERR_INVALID_EVENT: return "invalid CloudEvents attribute";
    case AIOE_ERR_TLS_UNKNOWN_CA: return "TLS: server certificate not issued by a trusted CA";
    case AIOE_ERR_TLS_HOSTNAME_MISMATCH: return "TLS: server certificate does not match the host name";
    case AIOE_ERR_TLS_CERT_EXPIRED: return "TLS: certificate expired or not yet valid";
    case AIOE_ERR_SESSION_TAKEN_OVER: return "session taken over by another client with the same client ID";
    case AIOE_ERR_NAME_RESOLUTION: return "host name could not be resolved";
    case AIOE_ERR_CONNECTION_REFUSED: return "connection refused";
    }
    return "unknown error";
}

const char *aioe_version(void)
{
    return AIOE_VERSION_STRING;
}

unsigned aioe_version_number(void)
{
    return AIOE_VERSION_NUMBER;
}

void aioe_free(void *ptr)
{
    free(ptr);
}
