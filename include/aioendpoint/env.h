/**
 * @file env.h
 * @brief An endpoint and session options from the Azure IoT Operations
 *        SDKs' connection environment variables (AIO_BROKER_HOSTNAME...).
 *
 * The AIO SDKs (.NET, Go, Rust) configure their MQTT client from a fixed
 * set of environment variables (MqttConnectionSettings). A program built on
 * this library reads the same variables, with the same names, types and
 * defaults, by one call; docs/environment.md has the table, its source and
 * where the SDK languages differ.
 */
#ifndef AIOENDPOINT_ENV_H
#define AIOENDPOINT_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "spec.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Name of the endpoint aioe_endpoint_from_env() builds. */
#define AIOE_ENV_ENDPOINT_NAME "aio-env"

/**
 * Reads the AIO SDK connection variables of the process environment and
 * builds an endpoint through the endpoint builder (so every value is
 * checked like a DataflowEndpoint field), and sets on @p opts what an
 * endpoint does not hold: clean start, user name, password file, key
 * password file, the SAT token file and the CA/certificate/key files
 * (pinned with aioe_session_options_set_resource_file()). Settings of
 * @p opts that no variable names are left alone. The client ID
 * (AIO_MQTT_CLIENT_ID) becomes the endpoint's clientIdPrefix: create the
 * session with an empty instance name, aioe_session_new(&s, ep, "", opts).
 *
 * Reads the environment with getenv(): do not change it from another
 * thread meanwhile.
 *
 * @param out     receives the endpoint (one reference; aioe_endpoint_unref())
 *                on success, NULL otherwise.
 * @param opts    options to complete (borrowed; changed only on success).
 * @param errors  (may be NULL) receives, on AIOE_OK and AIOE_ERR_INVALID_SPEC,
 *                a result listing every problem: `path` is the variable's
 *                name (e.g. "AIO_BROKER_TCP_PORT"), `message` says why and
 *                `hint` how to fix it; file "(environment)". Free it with
 *                aioe_parse_result_free().
 * @return AIOE_OK; AIOE_ERR_INVALID_SPEC when a variable is missing, does
 *         not parse, is out of range or conflicts with another;
 *         AIOE_ERR_INVALID_ARG; AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_endpoint_from_env(aioe_endpoint **out, aioe_session_options *opts,
                                    aioe_parse_result **errors);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_ENV_H */
