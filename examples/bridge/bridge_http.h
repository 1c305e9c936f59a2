/* aioe-bridge's HTTP endpoint (--metrics-addr): GET /metrics (Prometheus
 * text exposition format 0.0.4), /healthz and /readyz. Served by
 * libmicrohttpd on its own thread; each request takes a snapshot of the
 * counters (atomics and one short mutex hold per instance) and the reply
 * is sent from a private buffer, so a slow or malformed client never
 * holds anything the forwarding path waits for. Example code. */
#ifndef AIOE_BRIDGE_HTTP_H
#define AIOE_BRIDGE_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "bridge.h"

typedef struct bridge_http bridge_http;

/**
 * Listens on @p addr ("HOST:PORT", "[V6]:PORT" or ":PORT" for every
 * address; borrowed) and serves the @p n instances of @p inst (the array
 * is copied; the instances are borrowed until bridge_http_stop() or until
 * bridge_http_set_instances() names others). On failure writes the reason
 * to @p err and returns non-zero.
 */
int bridge_http_start(bridge_http **out, const char *addr, bridge_instance *const *inst,
                      size_t n, char *err, size_t errlen);

/**
 * Serves @p inst (copied array; instances borrowed as above) from now on.
 * Once it returns, no request reads an instance of the previous list, so
 * those may be freed. NULL @p h does nothing. 0, or -1 (out of memory: the
 * previous list stays).
 */
int bridge_http_set_instances(bridge_http *h, bridge_instance *const *inst, size_t n);

/** Stops serving (waits for the server thread) and frees. NULL does nothing. */
void bridge_http_stop(bridge_http *h);

/** Writes the /metrics body for @p inst to @p to. */
void bridge_metrics_write(FILE *to, bridge_instance *const *inst, size_t n);

/** True when every instance has both sessions connected and is not paused. */
bool bridge_instances_ready(bridge_instance *const *inst, size_t n);

#endif /* AIOE_BRIDGE_HTTP_H */
