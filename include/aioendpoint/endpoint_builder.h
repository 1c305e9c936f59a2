/**
 * @file endpoint_builder.h
 * @brief Endpoints without YAML: typed setters for every `mqttSettings`
 *        field, with the parser's defaults and validation.
 *
 * A host with its own configuration builds the same immutable
 * aioe_endpoint that aioe_parse_buffer() would give for the equivalent
 * DataflowEndpoint document: every field left unset takes the schema's
 * default, every value set is checked by the same code as the parser's,
 * and aioe_endpoint_builder_build() reports every problem at once as
 * parse errors whose `path` names the field (e.g.
 * "spec.mqttSettings.qos"), with the parser's message and hint for a
 * refused value (a missing required field's hint names the setter).
 *
 * Setters copy strings, never fail on a value (they return
 * AIOE_ERR_INVALID_ARG only for a NULL builder, a NULL required pointer or
 * an enum value outside its type) and keep the last value set; checking
 * happens in build, so one build lists every mistake. A builder may be
 * built many times and reused; it is not thread-safe, the endpoints it
 * makes are (see spec.h).
 */
#ifndef AIOENDPOINT_ENDPOINT_BUILDER_H
#define AIOENDPOINT_ENDPOINT_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Collects the fields of one endpoint. */
typedef struct aioe_endpoint_builder aioe_endpoint_builder;

/** A builder with nothing set (every field at its default). */
AIOE_API int aioe_endpoint_builder_new(aioe_endpoint_builder **out);
/** Frees a builder; endpoints it built are not affected. NULL does nothing. */
AIOE_API void aioe_endpoint_builder_free(aioe_endpoint_builder *b);
/** Forgets every field set so far. NULL does nothing. */
AIOE_API void aioe_endpoint_builder_reset(aioe_endpoint_builder *b);

/** metadata.name (copied; required). */
AIOE_API int aioe_endpoint_builder_set_name(aioe_endpoint_builder *b, const char *name);
/** metadata.namespace (copied; NULL: none). */
AIOE_API int aioe_endpoint_builder_set_namespace(aioe_endpoint_builder *b,
                                                 const char *ns);
/** mqttSettings.host as "host:port" or "[v6]:port", with protocol
 *  WebSockets "host[:port][/path]" (copied; NULL: the built-in broker
 *  aio-broker:18883 with its CA config map). The endpoint's apiVersion is
 *  the newest (v1) and every default is that version's. */
AIOE_API int aioe_endpoint_builder_set_host(aioe_endpoint_builder *b,
                                            const char *host_port);
/** authentication.method (default ServiceAccountToken). */
AIOE_API int aioe_endpoint_builder_set_auth_method(aioe_endpoint_builder *b,
                                                   aioe_auth_method method);
/** serviceAccountTokenSettings.audience or
 *  systemAssignedManagedIdentitySettings.audience, by method (copied; NULL:
 *  the method's default). An error for other methods. */
AIOE_API int aioe_endpoint_builder_set_auth_audience(aioe_endpoint_builder *b,
                                                     const char *audience);
/** x509CertificateSettings.secretRef (copied; required for
 *  X509Certificate, an error for other methods). */
AIOE_API int aioe_endpoint_builder_set_auth_secret_ref(aioe_endpoint_builder *b,
                                                       const char *secret_ref);
/** userAssignedManagedIdentitySettings clientId and tenantId (required for
 *  UserAssignedManagedIdentity) and scope (NULL: the default); copied. An
 *  error for other methods. */
AIOE_API int aioe_endpoint_builder_set_auth_client_id(aioe_endpoint_builder *b,
                                                      const char *client_id);
AIOE_API int aioe_endpoint_builder_set_auth_tenant_id(aioe_endpoint_builder *b,
                                                      const char *tenant_id);
AIOE_API int aioe_endpoint_builder_set_auth_scope(aioe_endpoint_builder *b,
                                                  const char *scope);
/** tls.mode (default Enabled). */
AIOE_API int aioe_endpoint_builder_set_tls_mode(aioe_endpoint_builder *b,
                                                aioe_tls_mode mode);
/** tls.trustedCaCertificateConfigMapRef (copied; NULL: none). */
AIOE_API int aioe_endpoint_builder_set_tls_ca_config_map_ref(aioe_endpoint_builder *b,
                                                             const char *name);
/** clientIdPrefix (copied; NULL: none). */
AIOE_API int aioe_endpoint_builder_set_client_id_prefix(aioe_endpoint_builder *b,
                                                        const char *prefix);
/** qos, 0..1 (default 1). Out-of-range values are reported by build. */
AIOE_API int aioe_endpoint_builder_set_qos(aioe_endpoint_builder *b, int64_t qos);
/** retain (default Keep). */
AIOE_API int aioe_endpoint_builder_set_retain(aioe_endpoint_builder *b,
                                              aioe_retain retain);
/** sessionExpirySeconds, 0..2147483647 (default 600, v1's). */
AIOE_API int aioe_endpoint_builder_set_session_expiry_seconds(aioe_endpoint_builder *b,
                                                              int64_t seconds);
/** protocol (default Mqtt). */
AIOE_API int aioe_endpoint_builder_set_protocol(aioe_endpoint_builder *b,
                                                aioe_protocol protocol);
/** maxInflightMessages, 0..65535 (default 100; 0 = no limit of ours). */
AIOE_API int aioe_endpoint_builder_set_max_inflight_messages(aioe_endpoint_builder *b,
                                                             int64_t count);
/** keepAliveSeconds, 0..65535 (default 60). */
AIOE_API int aioe_endpoint_builder_set_keep_alive_seconds(aioe_endpoint_builder *b,
                                                          int64_t seconds);
/** cloudEventAttributes (default AIOE_CLOUD_EVENTS_NONE: not set). */
AIOE_API int aioe_endpoint_builder_set_cloud_event_attributes(
    aioe_endpoint_builder *b, aioe_cloud_event_attributes mode);

/**
 * Checks every field and builds the endpoint.
 * @param out     receives a new endpoint (one reference, released with
 *                aioe_endpoint_unref()) on success, NULL otherwise.
 * @param errors  (may be NULL) receives, on AIOE_OK and on
 *                AIOE_ERR_INVALID_SPEC, a result listing every error (none
 *                on success), each with `path` naming the field; file
 *                "(builder)", line 0, in field order. Free
 *                it with aioe_parse_result_free(). It holds no endpoint.
 * @return AIOE_OK; AIOE_ERR_INVALID_SPEC; AIOE_ERR_INVALID_ARG;
 *         AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_endpoint_builder_build(const aioe_endpoint_builder *b,
                                         aioe_endpoint **out,
                                         aioe_parse_result **errors);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_ENDPOINT_BUILDER_H */
