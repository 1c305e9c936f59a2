/* Azure Event Grid MQTT broker rules, checked before connecting because
 * Event Grid answers a broken rule by dropping the connection, which would
 * otherwise look like a network fault and be retried forever.
 *
 * Every limit fails rather than clamps: the endpoint spec is the record of
 * what the operator asked for, and connecting with other values than it
 * says would hide the mistake (docs/eventgrid.md). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aioendpoint/eventgrid.h"

#define EG_SUFFIX ".eventgrid.azure.net"

bool aioe_endpoint_is_event_grid(const aioe_endpoint *ep)
{
    if (!ep)
        return false;
    const char *h = aioe_endpoint_host(ep);
    if (!h)
        return false;
    size_t n = strlen(h), sl = strlen(EG_SUFFIX);
    while (n > 0 && h[n - 1] == '.')
        n--; /* absolute name "x.eventgrid.azure.net." */
    return n > sl && strncasecmp(h + n - sl, EG_SUFFIX, sl) == 0;
}

#define FAIL(...)                                   \
    do {                                            \
        if (msg && msg_len)                         \
            snprintf(msg, msg_len, __VA_ARGS__);    \
        return AIOE_ERR_INVALID_SPEC;               \
    } while (0)

int aioe_endpoint_check_event_grid(const aioe_endpoint *ep,
                                   const char *ws_path, char *msg,
                                   size_t msg_len)
{
    if (!ep)
        return AIOE_ERR_INVALID_ARG;
    if (msg && msg_len)
        msg[0] = '\0';
    if (!aioe_endpoint_is_event_grid(ep))
        return AIOE_OK;
    if (aioe_endpoint_tls_mode(ep) == AIOE_TLS_DISABLED)
        FAIL("tls.mode: Event Grid accepts only TLS connections; set Enabled");
    aioe_auth_method m = aioe_endpoint_auth_method(ep);
    if (m == AIOE_AUTH_SERVICE_ACCOUNT_TOKEN || m == AIOE_AUTH_ANONYMOUS)
        FAIL("authentication.method: Event Grid does not accept %s; use "
             "SystemAssignedManagedIdentity, UserAssignedManagedIdentity or "
             "X509Certificate", aioe_auth_method_name(m));
    if (aioe_endpoint_qos(ep) > 1)
        FAIL("qos: Event Grid supports QoS 0 and 1 only (got %d)",
             aioe_endpoint_qos(ep));
    if (aioe_endpoint_keep_alive_seconds(ep) > AIOE_EVENTGRID_MAX_KEEP_ALIVE)
        FAIL("keepAliveSeconds: %u exceeds Event Grid's maximum of %d s",
             (unsigned)aioe_endpoint_keep_alive_seconds(ep),
             AIOE_EVENTGRID_MAX_KEEP_ALIVE);
    if (aioe_endpoint_session_expiry_seconds(ep) > AIOE_EVENTGRID_MAX_SESSION_EXPIRY)
        FAIL("sessionExpirySeconds: %u exceeds Event Grid's maximum of %d s (8 h)",
             (unsigned)aioe_endpoint_session_expiry_seconds(ep),
             AIOE_EVENTGRID_MAX_SESSION_EXPIRY);
    uint16_t port = aioe_endpoint_port(ep);
    if (aioe_endpoint_protocol(ep) == AIOE_PROTOCOL_WEBSOCKETS) {
        if (!ws_path)
            ws_path = aioe_endpoint_websocket_path(ep);
        if (port != 443)
            FAIL("host: Event Grid serves MQTT over WebSockets on port 443 "
                 "only (got %u)", (unsigned)port);
        if (ws_path && strcmp(ws_path, "/mqtt") != 0)
            FAIL("WebSocket path: Event Grid serves MQTT over WebSockets at "
                 "/mqtt only (got %s)", ws_path);
    } else if (port != 8883) {
        FAIL("host: Event Grid serves MQTT on port 8883 only (got %u; "
             "WebSockets use 443 with protocol WebSockets)", (unsigned)port);
    }
    return AIOE_OK;
}

bool aioe_endpoint_supports_shared_subscriptions(const aioe_endpoint *ep)
{
    return ep && !aioe_endpoint_is_event_grid(ep);
}

int aioe_endpoint_check_instance_count(const aioe_endpoint *ep,
                                       unsigned instance_count, char *msg,
                                       size_t msg_len)
{
    if (!ep || instance_count == 0)
        return AIOE_ERR_INVALID_ARG;
    if (msg && msg_len)
        msg[0] = '\0';
    if (instance_count > 1 && !aioe_endpoint_supports_shared_subscriptions(ep)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "instanceCount %u: endpoint %s (%s) is an "
                     "Azure Event Grid broker, which has no shared "
                     "subscriptions; a dataflow reading from it must run "
                     "with instanceCount 1", instance_count,
                     aioe_endpoint_name(ep) ? aioe_endpoint_name(ep) : "?",
                     aioe_endpoint_host(ep));
        return AIOE_ERR_UNSUPPORTED;
    }
    return AIOE_OK;
}

uint32_t aioe_endpoint_max_packet_size(const aioe_endpoint *ep)
{
    return aioe_endpoint_is_event_grid(ep) ? AIOE_EVENTGRID_MAX_PACKET : 0;
}
