/* What differs between the apiVersions of the AIO connectivity resources.
 * One row per version; the parser reads defaults from the row of the
 * document's own apiVersion instead of testing versions in place. The
 * sources of every value are tabulated in docs/spec.md ("API versions"). */
#include <string.h>

#include "spec_internal.h"

static const aioe_api_version versions[] = {
    {
        /* AIO preview (0.7/0.8, REST 2024-08-15-preview and
         * 2024-09-15-preview): "Configure MQTT dataflow endpoints",
         * ms.date 09/09/2024 (the seed). */
        .name = AIOE_API_GROUP "/v1beta1",
        .default_host = "aio-broker",
        .default_port = 18883,
        .default_ca_config_map = "aio-ca-key-pair-test-only",
        .default_session_expiry = 3600,
        .host_type = false,
    },
    {
        /* AIO GA (REST 2024-11-01, 2025-04-01, 2025-10-01): the same page,
         * ms.date 06/13/2025, and the REST specs; hostType arrives with
         * 2025-10-01. */
        .name = AIOE_API_GROUP "/v1",
        .default_host = "aio-broker",
        .default_port = 18883,
        .default_ca_config_map = "azure-iot-operations-aio-ca-trust-bundle",
        .default_session_expiry = 600,
        .host_type = true,
    },
};

const aioe_api_version *aioe__api_version_find(const char *api_version)
{
    for (size_t i = 0; api_version && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(versions[i].name, api_version) == 0)
            return &versions[i];
    return NULL;
}

const aioe_api_version *aioe__api_version_newest(void)
{
    return &versions[sizeof versions / sizeof versions[0] - 1];
}
