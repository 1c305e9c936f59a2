/* Which broker refusals end a session for good.
 *
 * Terminal: answers that a fresh connect with fresh credentials cannot
 * change (bad credentials, not authorized, banned, bad auth method, client
 * identifier rejected, protocol mismatch, session taken over by another
 * client with our ID, server moved). Everything else - server busy or
 * shutting down, keep-alive timeout, quota, administrative kick (how a
 * broker drops an expired token), unspecified - is retried with backoff. */
#include "aioendpoint/common.h"
#include "session_reason.h"

aioe_reason_class aioe_reason_classify(int rc)
{
    aioe_reason_class c = { AIOE_ERR_CONNECTION, false };
    switch (rc) {
    case 0x00:
        c.status = AIOE_OK;
        break;
    case 0x81: /* Malformed packet */
    case 0x82: /* Protocol error */
    case 0x84: /* Unsupported protocol version */
        c.status = AIOE_ERR_PROTOCOL;
        c.terminal = true;
        break;
    case 0x85: /* Client identifier not valid */
        c.status = AIOE_ERR_INVALID_ARG;
        c.terminal = true;
        break;
    case 0x86: /* Bad user name or password */
    case 0x8C: /* Bad authentication method */
        c.status = AIOE_ERR_AUTH;
        c.terminal = true;
        break;
    case 0x87: /* Not authorized */
    case 0x8A: /* Banned */
        c.status = AIOE_ERR_NOT_AUTHORIZED;
        c.terminal = true;
        break;
    case 0x8E: /* Session taken over */
        c.status = AIOE_ERR_SESSION_TAKEN_OVER;
        c.terminal = true;
        break;
    case 0x9C: /* Use another server */
    case 0x9D: /* Server moved */
        c.status = AIOE_ERR_UNSUPPORTED;
        c.terminal = true;
        break;
    default:
        c.status = AIOE_ERR_CONNECTION;
        break;
    }
    return c;
}

int aioe_reason_ack_status(int rc)
{
    if (rc < 0x80)
        return AIOE_OK;
    if (rc == 0x87)
        return AIOE_ERR_NOT_AUTHORIZED;
    return AIOE_ERR_PROTOCOL;
}

const char *aioe_reason_name(int rc)
{
    switch (rc) {
    case 0x00: return "Success";
    case 0x04: return "Disconnect with Will message";
    case 0x10: return "No matching subscribers";
    case 0x80: return "Unspecified error";
    case 0x81: return "Malformed packet";
    case 0x82: return "Protocol error";
    case 0x83: return "Implementation specific error";
    case 0x84: return "Unsupported protocol version";
    case 0x85: return "Client identifier not valid";
    case 0x86: return "Bad user name or password";
    case 0x87: return "Not authorized";
    case 0x88: return "Server unavailable";
    case 0x89: return "Server busy";
    case 0x8A: return "Banned";
    case 0x8B: return "Server shutting down";
    case 0x8C: return "Bad authentication method";
    case 0x8D: return "Keep alive timeout";
    case 0x8E: return "Session taken over";
    case 0x8F: return "Topic filter invalid";
    case 0x90: return "Topic name invalid";
    case 0x93: return "Receive maximum exceeded";
    case 0x94: return "Topic alias invalid";
    case 0x95: return "Packet too large";
    case 0x96: return "Message rate too high";
    case 0x97: return "Quota exceeded";
    case 0x98: return "Administrative action";
    case 0x99: return "Payload format invalid";
    case 0x9A: return "Retain not supported";
    case 0x9B: return "QoS not supported";
    case 0x9C: return "Use another server";
    case 0x9D: return "Server moved";
    case 0x9E: return "Shared subscriptions not supported";
    case 0x9F: return "Connection rate exceeded";
    case 0xA0: return "Maximum connect time";
    case 0xA1: return "Subscription identifiers not supported";
    case 0xA2: return "Wildcard subscriptions not supported";
    }
    return "Unknown reason code";
}
