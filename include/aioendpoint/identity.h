/**
 * @file identity.h
 * @brief Where managed-identity tokens come from (OAUTH2-JWT sessions).
 *
 * Endpoints whose authentication method is `SystemAssignedManagedIdentity`
 * or `UserAssignedManagedIdentity` connect with MQTT v5 Authentication
 * Method `OAUTH2-JWT` and a Microsoft Entra access token that the library
 * fetches over HTTP from one of four token sources, caches per
 * (source, identity, resource) for the whole process, and refreshes ahead
 * of expiry (see docs/authentication.md).
 *
 * Without options the source is chosen from the environment the way the
 * Azure SDKs choose it: AZURE_FEDERATED_TOKEN_FILE (+ AZURE_CLIENT_ID,
 * AZURE_TENANT_ID unless the endpoint names them) → Kubernetes workload
 * identity; IDENTITY_ENDPOINT + IMDS_ENDPOINT → Azure Arc;
 * IDENTITY_ENDPOINT + IDENTITY_HEADER → App Service; otherwise IMDS.
 * An aioe_identity_options object attached to the session options
 * overrides any of that.
 *
 * Threads: an options object is configured from one thread at a time;
 * sessions copy it. Tokens are cached process-wide and shared by sessions
 * with the same source, identity and resource (internally locked).
 */
#ifndef AIOENDPOINT_IDENTITY_H
#define AIOENDPOINT_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Token source for the managed-identity methods. */
typedef enum aioe_identity_source {
    /** Choose from the environment (the default). */
    AIOE_IDENTITY_SOURCE_AUTO = 0,
    /** Azure Instance Metadata Service (VMs, AKS node identity). */
    AIOE_IDENTITY_SOURCE_IMDS = 1,
    /** Azure Arc-enabled server agent (HIMDS, 401 key-file challenge). */
    AIOE_IDENTITY_SOURCE_ARC = 2,
    /** Azure App Service / Functions (IDENTITY_HEADER). */
    AIOE_IDENTITY_SOURCE_APP_SERVICE = 3,
    /** Kubernetes workload identity (federated token exchanged at the
     *  Microsoft Entra authority). */
    AIOE_IDENTITY_SOURCE_WORKLOAD_IDENTITY = 4
} aioe_identity_source;

/** Managed-identity settings; every setting not made falls back to the
 *  environment, then to the documented default. */
typedef struct aioe_identity_options aioe_identity_options;

/** Creates empty options. @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM. */
AIOE_API int aioe_identity_options_new(aioe_identity_options **out);
/** Frees options; NULL does nothing. */
AIOE_API void aioe_identity_options_free(aioe_identity_options *opts);

/** Forces a token source instead of choosing from the environment.
 *  @return AIOE_OK or AIOE_ERR_INVALID_ARG. */
AIOE_API int aioe_identity_options_set_source(aioe_identity_options *opts,
                                              aioe_identity_source source);

/**
 * Overrides the source's URL (copied; NULL restores the default): the token
 * URL for IMDS, Arc and App Service (e.g.
 * "http://169.254.169.254/metadata/identity/oauth2/token"), or the
 * authority host for workload identity (e.g.
 * "https://login.microsoftonline.us/"). Must start with http:// or https://.
 * @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_identity_options_set_endpoint(aioe_identity_options *opts,
                                                const char *url);

/** PEM CA bundle (path, copied) trusted for HTTPS identity endpoints
 *  instead of the system store; NULL restores the system store.
 *  @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM. */
AIOE_API int aioe_identity_options_set_ca_file(aioe_identity_options *opts,
                                               const char *path);

/** Workload identity: the federated (service account) token file (path,
 *  copied) instead of AZURE_FEDERATED_TOKEN_FILE.
 *  @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM. */
AIOE_API int aioe_identity_options_set_federated_token_file(
    aioe_identity_options *opts, const char *path);

/** App Service: the X-IDENTITY-HEADER secret (copied, wiped on free)
 *  instead of IDENTITY_HEADER. @return AIOE_OK, AIOE_ERR_INVALID_ARG,
 *  AIOE_ERR_NOMEM. */
AIOE_API int aioe_identity_options_set_identity_header(
    aioe_identity_options *opts, const char *value);

/** Azure Arc: the only directory the challenge key file may lie in (path,
 *  copied; default "/var/opt/azcmagent/tokens").
 *  @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM. */
AIOE_API int aioe_identity_options_set_arc_key_dir(aioe_identity_options *opts,
                                                   const char *dir);

/**
 * Request timing. @p request_timeout_ms bounds one HTTP exchange (default
 * 10000); retryable failures (HTTP 404, 429, 5xx, timeouts, connection
 * errors) are retried with exponential backoff starting at
 * @p backoff_initial_ms (default 1000, doubling, at most 16 s between
 * tries) until @p retry_total_ms have passed (default 60000); an HTTP 410
 * from IMDS extends that to at least @p gone_window_ms after the first 410
 * (default 70000, the window IMDS documents). 0 keeps a value's default.
 * @return AIOE_OK or AIOE_ERR_INVALID_ARG.
 */
AIOE_API int aioe_identity_options_set_timing(aioe_identity_options *opts,
                                              uint32_t request_timeout_ms,
                                              uint32_t backoff_initial_ms,
                                              uint32_t retry_total_ms,
                                              uint32_t gone_window_ms);

/**
 * Attaches identity options to session options (@p identity is copied;
 * NULL removes them). Sessions created from @p opts with a
 * managed-identity endpoint use them.
 * @return AIOE_OK, AIOE_ERR_INVALID_ARG, AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_set_identity(aioe_session_options *opts,
                                               const aioe_identity_options *identity);

/** "Auto", "IMDS", "AzureArc", "AppService", "WorkloadIdentity"; never NULL. */
AIOE_API const char *aioe_identity_source_name(aioe_identity_source source);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_IDENTITY_H */
