/**
 * @file eventgrid.h
 * @brief Azure Event Grid MQTT broker rules (docs/eventgrid.md).
 *
 * Endpoints whose host ends in ".eventgrid.azure.net" are Event Grid
 * namespaces. Event Grid drops connections that break its limits, so the
 * library checks them before connecting (aioe_session_start() fails with
 * AIOE_ERR_INVALID_SPEC and a message naming the field) and offers the
 * checks here for validators and the dataflow runtime.
 */
#ifndef AIOENDPOINT_EVENTGRID_H
#define AIOENDPOINT_EVENTGRID_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest keepAliveSeconds Event Grid accepts. */
#define AIOE_EVENTGRID_MAX_KEEP_ALIVE 1160
/** Largest sessionExpirySeconds Event Grid accepts (8 h). */
#define AIOE_EVENTGRID_MAX_SESSION_EXPIRY 28800
/** Largest MQTT packet Event Grid accepts (512 KiB). */
#define AIOE_EVENTGRID_MAX_PACKET 524288

/** True when @p endpoint's host is an Event Grid namespace
 *  ("*.eventgrid.azure.net", any case). False for NULL. */
AIOE_API bool aioe_endpoint_is_event_grid(const aioe_endpoint *endpoint);

/**
 * Checks @p endpoint against Event Grid's connection rules: TLS on, a
 * managed-identity or X.509 authentication method, QoS <= 1,
 * keepAliveSeconds <= 1160, sessionExpirySeconds <= 28800, port 8883 for
 * Mqtt, port 443 and path "/mqtt" for WebSockets. @p websocket_path is the
 * path the session will use (NULL = the endpoint's,
 * aioe_endpoint_websocket_path()). Endpoints that are not Event
 * Grid always pass. On failure writes one message naming the field to
 * @p msg (may be NULL when @p msg_len is 0).
 * @return AIOE_OK; AIOE_ERR_INVALID_SPEC when a rule is broken;
 *         AIOE_ERR_INVALID_ARG when @p endpoint is NULL.
 */
AIOE_API int aioe_endpoint_check_event_grid(const aioe_endpoint *endpoint,
                                            const char *websocket_path,
                                            char *msg, size_t msg_len);

/** False when the broker behind @p endpoint has no shared subscriptions
 *  (Event Grid, per the Azure IoT Operations documentation); true
 *  otherwise. False for NULL. */
AIOE_API bool aioe_endpoint_supports_shared_subscriptions(const aioe_endpoint *endpoint);

/**
 * The check a dataflow runtime makes before starting @p instance_count
 * instances (DataflowProfile spec.instanceCount) that read from
 * @p source_endpoint: more than one instance needs shared subscriptions.
 * @return AIOE_OK; AIOE_ERR_UNSUPPORTED (message in @p msg) when
 *         @p instance_count > 1 and the endpoint has no shared
 *         subscriptions; AIOE_ERR_INVALID_ARG for NULL or a count of 0.
 */
AIOE_API int aioe_endpoint_check_instance_count(const aioe_endpoint *source_endpoint,
                                                unsigned instance_count,
                                                char *msg, size_t msg_len);

/** Largest packet the broker behind @p endpoint accepts: 524288 for Event
 *  Grid, 0 (no limit known) otherwise. */
AIOE_API uint32_t aioe_endpoint_max_packet_size(const aioe_endpoint *endpoint);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_EVENTGRID_H */
