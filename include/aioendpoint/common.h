/**
 * @file common.h
 * @brief Error codes, version queries and memory helpers shared by every
 *        part of libaioendpoint.
 */
#ifndef AIOENDPOINT_COMMON_H
#define AIOENDPOINT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function as part of the exported ABI. */
#if defined(AIOE_BUILDING_LIBRARY) && defined(__GNUC__)
#define AIOE_API __attribute__((visibility("default")))
#else
#define AIOE_API
#endif

/**
 * Result codes. `AIOE_OK` is zero; every failure is negative. Values are
 * part of the ABI: they are never renumbered or reused, new codes are only
 * appended.
 */
typedef enum aioe_status {
    AIOE_OK = 0,
    /** A required pointer was NULL or a value was out of range. */
    AIOE_ERR_INVALID_ARG = -1,
    /** Memory allocation failed. */
    AIOE_ERR_NOMEM = -2,
    /** A file could not be opened or read (detail says which and why). */
    AIOE_ERR_IO = -3,
    /** A resource document is invalid; the parse result lists every error. */
    AIOE_ERR_INVALID_SPEC = -4,
    /** The input asks for something this library does not implement. */
    AIOE_ERR_UNSUPPORTED = -5,
    /** A named thing (index, resource, key) does not exist. */
    AIOE_ERR_NOT_FOUND = -6,
    /** An input exceeded a configured size or depth limit. */
    AIOE_ERR_TOO_LARGE = -7,
    /** The call is not allowed in the object's current state. */
    AIOE_ERR_STATE = -8,
    /** TLS failed: handshake, certificate verification or key material. */
    AIOE_ERR_TLS = -9,
    /** Credentials could not be obtained or were rejected. */
    AIOE_ERR_AUTH = -10,
    /** The broker refused the operation as not authorized. */
    AIOE_ERR_NOT_AUTHORIZED = -11,
    /** An operation did not complete in time. */
    AIOE_ERR_TIMEOUT = -12,
    /** The peer broke the MQTT protocol or sent a negative reason code. */
    AIOE_ERR_PROTOCOL = -13,
    /** The network connection could not be made or was lost. */
    AIOE_ERR_CONNECTION = -14,
    /** A bounded queue or window is full; retry after a completion. */
    AIOE_ERR_WOULD_BLOCK = -15,
    /** An internal invariant failed; please report it. */
    AIOE_ERR_INTERNAL = -16,
    /** A message's CloudEvents attributes are present but invalid, so the
     *  CloudEvents stage cannot produce an event without overwriting them
     *  (see cloudevents.h). */
    AIOE_ERR_INVALID_EVENT = -17,
    /** TLS: the server's certificate chain does not lead to a trusted CA
     *  (unknown issuer, self-signed, or the wrong trust bundle). */
    AIOE_ERR_TLS_UNKNOWN_CA = -18,
    /** TLS: the server's certificate is valid but not for the host name
     *  (or address) the session connected to. */
    AIOE_ERR_TLS_HOSTNAME_MISMATCH = -19,
    /** TLS: a certificate in the server's chain has expired or is not yet
     *  valid. */
    AIOE_ERR_TLS_CERT_EXPIRED = -20,
    /** Another client connected with this session's client ID and the
     *  broker ended this connection (MQTT reason 0x8E Session taken over). */
    AIOE_ERR_SESSION_TAKEN_OVER = -21,
    /** The broker's host name (or the proxy's) could not be resolved. */
    AIOE_ERR_NAME_RESOLUTION = -22,
    /** The host answered a TCP connect with a refusal: nothing listens on
     *  that port (a timeout is AIOE_ERR_TIMEOUT). */
    AIOE_ERR_CONNECTION_REFUSED = -23
} aioe_status;

/**
 * Returns a short, static English description of a status code.
 * Never returns NULL; unknown codes give "unknown error".
 */
AIOE_API const char *aioe_strerror(int status);

/**
 * Returns the library's version as "MAJOR.MINOR.PATCH". The string is
 * static. Compare with AIOE_VERSION_STRING from version.h to detect a
 * header/library mismatch.
 */
AIOE_API const char *aioe_version(void);

/**
 * Returns the library's version as one number:
 * MAJOR * 10000 + MINOR * 100 + PATCH.
 */
AIOE_API unsigned aioe_version_number(void);

/**
 * Frees memory that a libaioendpoint function handed to the caller
 * (serialized documents, copies). NULL does nothing.
 */
AIOE_API void aioe_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_COMMON_H */
