/* Why did a TCP connect fail? Paho reports every failure before CONNACK as
 * "TCP/TLS connect failure" (code -1), so after a failed attempt the
 * supervisor opens a TCP connection itself and reads the answer. */
#ifndef AIOE_NET_PROBE_H
#define AIOE_NET_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* Resolves host and connects to port within timeout_ms (each address in
 * turn). AIOE_OK with the connected blocking socket in *fd (or closed when
 * fd is NULL); else AIOE_ERR_NAME_RESOLUTION, AIOE_ERR_CONNECTION_REFUSED,
 * AIOE_ERR_TIMEOUT or AIOE_ERR_CONNECTION with a message naming host:port
 * in err. */
int aioe__auth_tcp_probe(const char *host, uint16_t port, int timeout_ms, int *fd,
                    char *err, size_t errlen);

#endif
