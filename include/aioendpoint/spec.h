/**
 * @file spec.h
 * @brief Parsing Azure IoT Operations `DataflowEndpoint` resources.
 *
 * A parse reads one YAML stream (a file or a buffer) that may hold many
 * documents. Every `DataflowEndpoint` document of a supported apiVersion is
 * validated and every default of the documented schema is applied; documents
 * of other kinds are skipped and listed. All errors of all documents are
 * collected, each with file, line, column, field path, message and a hint.
 *
 * The parser does no I/O besides reading the file it is given.
 * Thread safety: a parse result is not shared between threads while being
 * freed; an aioe_endpoint is immutable and reference counted, so it may be
 * read from any number of threads at once.
 */
#ifndef AIOENDPOINT_SPEC_H
#define AIOENDPOINT_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An immutable, validated, fully defaulted MQTT DataflowEndpoint. */
typedef struct aioe_endpoint aioe_endpoint;
/** The outcome of parsing one YAML stream. */
typedef struct aioe_parse_result aioe_parse_result;
/** Limits and settings for a parse; NULL everywhere means the defaults. */
typedef struct aioe_parse_options aioe_parse_options;

/** `spec.mqttSettings.authentication.method`. */
typedef enum aioe_auth_method {
    AIOE_AUTH_SERVICE_ACCOUNT_TOKEN = 1,
    AIOE_AUTH_X509_CERTIFICATE = 2,
    AIOE_AUTH_SYSTEM_ASSIGNED_MANAGED_IDENTITY = 3,
    AIOE_AUTH_USER_ASSIGNED_MANAGED_IDENTITY = 4,
    AIOE_AUTH_ANONYMOUS = 5
} aioe_auth_method;

/** `spec.mqttSettings.tls.mode`. */
typedef enum aioe_tls_mode {
    AIOE_TLS_ENABLED = 1,
    AIOE_TLS_DISABLED = 2
} aioe_tls_mode;

/** `spec.mqttSettings.retain`. */
typedef enum aioe_retain {
    AIOE_RETAIN_KEEP = 1,
    AIOE_RETAIN_NEVER = 2
} aioe_retain;

/** `spec.mqttSettings.protocol`. */
typedef enum aioe_protocol {
    AIOE_PROTOCOL_MQTT = 1,
    AIOE_PROTOCOL_WEBSOCKETS = 2
} aioe_protocol;

/** `spec.mqttSettings.cloudEventAttributes`. */
typedef enum aioe_cloud_event_attributes {
    AIOE_CLOUD_EVENTS_NONE = 0, /**< field not set: the stage does not run */
    AIOE_CLOUD_EVENTS_PROPAGATE = 1,
    AIOE_CLOUD_EVENTS_CREATE_OR_REMAP = 2
} aioe_cloud_event_attributes;

/**
 * One error found while parsing. Every string is owned by the parse result
 * and valid until aioe_parse_result_free().
 */
typedef struct aioe_parse_error {
    /** The file name, or the name given for a buffer ("<buffer>" if none). */
    const char *file;
    /** 1-based line and column of the offending node; 0 when not tied to
     *  a position (for example a file that cannot be opened). */
    unsigned line;
    unsigned column;
    /** Dotted field path such as "spec.mqttSettings.qos"; "" for errors
     *  about the stream or document as a whole. */
    const char *path;
    /** What is wrong, in one sentence. */
    const char *message;
    /** How to fix it; never NULL, may be "". */
    const char *hint;
} aioe_parse_error;

/** A document that was read but is not a DataflowEndpoint. */
typedef struct aioe_skipped_document {
    const char *file;
    unsigned line;   /**< line where the document starts */
    unsigned column;
    const char *api_version; /**< "" when absent */
    const char *kind;        /**< "" when absent or not a mapping */
    const char *name;        /**< metadata.name, "" when absent */
} aioe_skipped_document;

/* ---- options ------------------------------------------------------ */

/** Creates an options object holding the defaults. */
AIOE_API int aioe_parse_options_new(aioe_parse_options **out);
/** Frees an options object; NULL does nothing. */
AIOE_API void aioe_parse_options_free(aioe_parse_options *opts);
/**
 * Largest input accepted, in bytes (default 16 MiB). Larger files or
 * buffers fail with AIOE_ERR_TOO_LARGE before any parsing.
 */
AIOE_API int aioe_parse_options_set_max_input_bytes(aioe_parse_options *opts,
                                                   size_t max_bytes);
/** Largest number of documents in one stream (default 100000). */
AIOE_API int aioe_parse_options_set_max_documents(aioe_parse_options *opts,
                                                 size_t max_documents);
/**
 * Deepest nesting of lists and mappings accepted (default 64). A deeper
 * document fails the parse with AIOE_ERR_TOO_LARGE and an error at the
 * collection that went too deep; the check runs while libyaml reads, so a
 * hostile input costs time linear in its size.
 */
AIOE_API int aioe_parse_options_set_max_depth(aioe_parse_options *opts,
                                             size_t max_depth);
/**
 * Most YAML nodes (scalars, lists, mappings and aliases) accepted in one
 * document, ignored fields such as metadata.labels included (default
 * 100000, about 20 MB of parser memory). More fail the parse with
 * AIOE_ERR_TOO_LARGE before the document is loaded.
 */
AIOE_API int aioe_parse_options_set_max_nodes(aioe_parse_options *opts,
                                             size_t max_nodes);

/* ---- parsing ------------------------------------------------------ */

/**
 * Parses a YAML file.
 *
 * @param path  file to read (borrowed for the call).
 * @param opts  limits, or NULL for the defaults (borrowed for the call).
 * @param out   receives a new result the caller frees with
 *              aioe_parse_result_free(); set whenever the return value is
 *              not AIOE_ERR_INVALID_ARG or AIOE_ERR_NOMEM.
 * @return AIOE_OK when every DataflowEndpoint document is valid;
 *         AIOE_ERR_INVALID_SPEC when any document or the YAML itself has
 *         errors (valid endpoints are still in the result);
 *         AIOE_ERR_IO when the file cannot be read; AIOE_ERR_TOO_LARGE when
 *         it exceeds a limit (both with one error entry saying why);
 *         AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_parse_file(const char *path, const aioe_parse_options *opts,
                             aioe_parse_result **out);

/**
 * Parses YAML from memory. Like aioe_parse_file(); @p name (may be NULL)
 * is what errors report as the file. @p data need not be NUL-terminated
 * and may contain NUL bytes (which YAML rejects).
 * This is also the parser's fuzzing entry point.
 */
AIOE_API int aioe_parse_buffer(const void *data, size_t len, const char *name,
                               const aioe_parse_options *opts,
                               aioe_parse_result **out);

/** Frees a parse result. Endpoints taken with aioe_endpoint_ref() stay valid. */
AIOE_API void aioe_parse_result_free(aioe_parse_result *res);

/** Number of valid DataflowEndpoint documents. */
AIOE_API size_t aioe_parse_result_endpoint_count(const aioe_parse_result *res);
/** The i-th valid endpoint, in document order; borrowed from the result
 *  (take a reference to keep it longer). NULL when out of range. */
AIOE_API const aioe_endpoint *
aioe_parse_result_endpoint(const aioe_parse_result *res, size_t i);
/** Looks an endpoint up by metadata.name; NULL when absent. */
AIOE_API const aioe_endpoint *
aioe_parse_result_find_endpoint(const aioe_parse_result *res, const char *name);

/** Number of errors, over all documents. */
AIOE_API size_t aioe_parse_result_error_count(const aioe_parse_result *res);
/** The i-th error in input order; NULL when out of range. */
AIOE_API const aioe_parse_error *
aioe_parse_result_error(const aioe_parse_result *res, size_t i);

/** Number of documents skipped because they are not DataflowEndpoints. */
AIOE_API size_t aioe_parse_result_skipped_count(const aioe_parse_result *res);
/** The i-th skipped document; NULL when out of range. */
AIOE_API const aioe_skipped_document *
aioe_parse_result_skipped(const aioe_parse_result *res, size_t i);

/* ---- endpoints ---------------------------------------------------- */

/** Adds a reference; returns @p ep. Thread-safe. */
AIOE_API aioe_endpoint *aioe_endpoint_ref(const aioe_endpoint *ep);
/** Drops a reference; the last one frees. NULL does nothing. Thread-safe. */
AIOE_API void aioe_endpoint_unref(const aioe_endpoint *ep);

/* All getters below take a non-NULL endpoint (NULL returns 0/NULL) and
 * return values owned by the endpoint, valid while a reference is held. */

/** metadata.name (always set). */
AIOE_API const char *aioe_endpoint_name(const aioe_endpoint *ep);
/** metadata.namespace, or NULL when the document has none. */
AIOE_API const char *aioe_endpoint_namespace(const aioe_endpoint *ep);
/** apiVersion as written ("connectivity.iotoperations.azure.com/v1" ...). */
AIOE_API const char *aioe_endpoint_api_version(const aioe_endpoint *ep);
/** Where the document starts: file name (borrowed) and 1-based line. */
AIOE_API const char *aioe_endpoint_source_file(const aioe_endpoint *ep);
AIOE_API unsigned aioe_endpoint_source_line(const aioe_endpoint *ep);

/** Broker host name or address, without IPv6 brackets
 *  ("aio-broker" when `host` is omitted). */
AIOE_API const char *aioe_endpoint_host(const aioe_endpoint *ep);
/** Broker port (18883 when `host` is omitted). */
AIOE_API uint16_t aioe_endpoint_port(const aioe_endpoint *ep);
/** True when `host` was omitted and the built-in broker defaults apply. */
AIOE_API bool aioe_endpoint_host_is_default(const aioe_endpoint *ep);
/**
 * The HTTP path of the WebSocket URL when `protocol` is `WebSockets`: the
 * path written after the host (`ns.region-1.ts.eventgrid.azure.net:443/mqtt`),
 * or "/mqtt" when the host has none. NULL when `protocol` is `Mqtt` (or
 * @p ep is NULL). Owned by the endpoint.
 */
AIOE_API const char *aioe_endpoint_websocket_path(const aioe_endpoint *ep);

AIOE_API aioe_auth_method aioe_endpoint_auth_method(const aioe_endpoint *ep);
/** Audience for ServiceAccountToken (default "aio-internal") and
 *  SystemAssignedManagedIdentity (default "https://eventgrid.azure.net");
 *  NULL for other methods. */
AIOE_API const char *aioe_endpoint_auth_audience(const aioe_endpoint *ep);
/** x509CertificateSettings.secretRef; NULL for other methods. */
AIOE_API const char *aioe_endpoint_auth_secret_ref(const aioe_endpoint *ep);
/** userAssignedManagedIdentitySettings fields; NULL for other methods.
 *  The scope defaults to "https://eventgrid.azure.net/.default". */
AIOE_API const char *aioe_endpoint_auth_client_id(const aioe_endpoint *ep);
AIOE_API const char *aioe_endpoint_auth_tenant_id(const aioe_endpoint *ep);
AIOE_API const char *aioe_endpoint_auth_scope(const aioe_endpoint *ep);

AIOE_API aioe_tls_mode aioe_endpoint_tls_mode(const aioe_endpoint *ep);
/** tls.trustedCaCertificateConfigMapRef. When `host` is omitted and no
 *  reference is given, the apiVersion's default:
 *  "azure-iot-operations-aio-ca-trust-bundle" (v1) or
 *  "aio-ca-key-pair-test-only" (v1beta1); otherwise NULL when not set (the
 *  system trust store is used). */
AIOE_API const char *aioe_endpoint_tls_ca_config_map_ref(const aioe_endpoint *ep);

/** clientIdPrefix, or NULL when not set. */
AIOE_API const char *aioe_endpoint_client_id_prefix(const aioe_endpoint *ep);
/** qos: 0 or 1 (default 1). */
AIOE_API int aioe_endpoint_qos(const aioe_endpoint *ep);
/** retain (default Keep). */
AIOE_API aioe_retain aioe_endpoint_retain(const aioe_endpoint *ep);
/** sessionExpirySeconds, 0..2147483647 (default: 600 for apiVersion v1,
 *  3600 for v1beta1; docs/spec.md, "API versions"). */
AIOE_API uint32_t aioe_endpoint_session_expiry_seconds(const aioe_endpoint *ep);
/** protocol (default Mqtt). */
AIOE_API aioe_protocol aioe_endpoint_protocol(const aioe_endpoint *ep);
/** maxInflightMessages, 0..65535 (default 100); 0 means the endpoint sets
 *  no limit: no Receive Maximum is sent and publishing is bounded by the
 *  broker's Receive Maximum only. */
AIOE_API uint16_t aioe_endpoint_max_inflight_messages(const aioe_endpoint *ep);
/** keepAliveSeconds, 0..65535 (default 60; 0 turns keep-alive off). */
AIOE_API uint16_t aioe_endpoint_keep_alive_seconds(const aioe_endpoint *ep);
/** cloudEventAttributes (AIOE_CLOUD_EVENTS_NONE when not set). */
AIOE_API aioe_cloud_event_attributes
aioe_endpoint_cloud_event_attributes(const aioe_endpoint *ep);

/** Canonical spelling of enum values as the schema writes them
 *  ("ServiceAccountToken", "Enabled", "Keep", "Mqtt", "Propagate"...).
 *  Static strings; NULL for values outside the enum (and for
 *  AIOE_CLOUD_EVENTS_NONE). */
AIOE_API const char *aioe_auth_method_name(aioe_auth_method m);
AIOE_API const char *aioe_tls_mode_name(aioe_tls_mode m);
AIOE_API const char *aioe_retain_name(aioe_retain r);
AIOE_API const char *aioe_protocol_name(aioe_protocol p);
AIOE_API const char *aioe_cloud_event_attributes_name(aioe_cloud_event_attributes c);

/** Serialization flags for aioe_endpoint_to_json(). */
enum {
    /** The full resource (apiVersion, kind, metadata, spec), as YAML has it. */
    AIOE_JSON_RESOURCE = 0,
    /** The flat summary `aioe-validate --json` prints (see docs/spec.md). */
    AIOE_JSON_SUMMARY = 1u << 0,
    /** Indent for people instead of one line. */
    AIOE_JSON_PRETTY = 1u << 1
};

/**
 * Serializes the endpoint as a canonical YAML document with every default
 * written out and canonical field spellings. Parsing the output gives an
 * equal endpoint.
 * @param out  receives a NUL-terminated string the caller frees with
 *             aioe_free(). @param len (may be NULL) receives its length.
 */
AIOE_API int aioe_endpoint_to_yaml(const aioe_endpoint *ep, char **out, size_t *len);

/**
 * Serializes the endpoint as JSON; @p flags is a mix of AIOE_JSON_*.
 * Output ownership as for aioe_endpoint_to_yaml().
 */
AIOE_API int aioe_endpoint_to_json(const aioe_endpoint *ep, unsigned flags,
                                   char **out, size_t *len);

/** True when both endpoints have the same name, namespace and settings. */
AIOE_API bool aioe_endpoint_equal(const aioe_endpoint *a, const aioe_endpoint *b);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_SPEC_H */
