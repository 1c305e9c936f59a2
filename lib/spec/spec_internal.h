/* Private layout of endpoint specs and parse results, shared by the
 * parser, the getters and the serializers. */
#ifndef AIOE_SPEC_INTERNAL_H
#define AIOE_SPEC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioendpoint/dataflow.h"
#include "aioendpoint/spec.h"
#include "spec_fields.h"

#define AIOE_API_GROUP "connectivity.iotoperations.azure.com"
#define AIOE_DEFAULT_SAT_AUDIENCE "aio-internal"
#define AIOE_DEFAULT_MI_AUDIENCE "https://eventgrid.azure.net"
#define AIOE_DEFAULT_MI_SCOPE "https://eventgrid.azure.net/.default"
#define AIOE_DEFAULT_QOS 1
#define AIOE_DEFAULT_MAX_INFLIGHT 100u
#define AIOE_DEFAULT_KEEP_ALIVE 60u
/* The WebSocket path when the host gives none: Event Grid's documented
 * path, and the usual one of MQTT brokers' WebSocket listeners. */
#define AIOE_DEFAULT_WS_PATH "/mqtt"
/* sessionExpirySeconds is an int32 in the REST specs (2024-11-01 and
 * 2025-10-01: "format": "int32", "minimum": 0). */
#define AIOE_MAX_SESSION_EXPIRY 2147483647u

/* Defaults and fields that differ between apiVersions (spec_version.c). */
typedef struct aioe_api_version {
    const char *name;                  /* the full apiVersion */
    const char *default_host;          /* mqttSettings.host omitted */
    uint16_t default_port;
    const char *default_ca_config_map; /* ...and tls.trustedCaCertificateConfigMapRef */
    uint32_t default_session_expiry;   /* mqttSettings.sessionExpirySeconds */
    bool host_type;                    /* spec.hostType is a field */
} aioe_api_version;

/* The row of an apiVersion, or NULL when it is not supported. */
const aioe_api_version *aioe__api_version_find(const char *api_version);
/* The newest row: the defaults used while reporting a document whose
 * apiVersion is missing or unsupported. */
const aioe_api_version *aioe__api_version_newest(void);

#define AIOE_DEFAULT_MAX_INPUT_BYTES ((size_t)16 * 1024 * 1024)
#define AIOE_DEFAULT_MAX_DOCUMENTS ((size_t)100000)
#define AIOE_DEFAULT_MAX_DEPTH ((size_t)64)
#define AIOE_DEFAULT_MAX_NODES ((size_t)100000)

struct aioe_endpoint {
    atomic_uint refs;
    char *file;        /* where the document came from */
    unsigned line;
    char *api_version;
    char *name;
    char *namespace_;  /* NULL when absent */

    char *host;        /* without IPv6 brackets */
    uint16_t port;
    bool host_default;
    char *ws_path;     /* the host's /path (WebSockets only); NULL: none given */

    aioe_auth_method auth_method;
    char *audience;    /* SAT and system-assigned */
    char *secret_ref;  /* X.509 */
    char *client_id;   /* user-assigned */
    char *tenant_id;
    char *scope;

    aioe_tls_mode tls_mode;
    char *ca_config_map_ref; /* NULL: system trust store */

    char *client_id_prefix;  /* NULL when absent */
    int qos;
    aioe_retain retain;
    uint32_t session_expiry_seconds;
    aioe_protocol protocol;
    uint16_t max_inflight_messages;
    uint16_t keep_alive_seconds;
    aioe_cloud_event_attributes cloud_event_attributes;
};

/* Where a reference was written, for errors found when references are
 * resolved across streams (aioe_parse_results_check_references()). */
typedef struct aioe_ref_pos {
    unsigned line, column;
    char path[256]; /* e.g. spec.operations[0].sourceSettings.endpointRef */
} aioe_ref_pos;

struct aioe_dataflow {
    atomic_uint refs;
    char *file;
    unsigned line;
    char *api_version;
    char *name;
    char *namespace_;
    char *profile_ref;
    bool enabled;
    char *source_endpoint_ref;
    char **source_topics;
    size_t source_topic_count;
    char *destination_endpoint_ref;
    char *destination_topic;
    /* the BuiltInTransformation operation, checked by compiling it */
    bool has_transformation;
    struct aioe_df_rule *filters, *maps;
    size_t filter_count, map_count;
    aioe_ref_pos profile_ref_pos, source_ref_pos, destination_ref_pos;
};

/* One filter or map rule of a Dataflow, as written. */
struct aioe_df_rule {
    char **inputs;
    size_t input_count;
    char *output;     /* map only; NULL: write nothing */
    char *expression; /* NULL when absent */
};

struct aioe_profile {
    atomic_uint refs;
    char *file;
    unsigned line;
    char *api_version;
    char *name;
    char *namespace_;
    unsigned instance_count;
};

struct aioe_parse_options {
    size_t max_input_bytes;
    size_t max_documents;
    size_t max_depth;           /* collections nested in one another */
    size_t max_nodes;           /* scalars, collections and aliases per document */
    unsigned kinds;
};

/* A growable array of pointers or structs. */
#define AIOE_VEC(type) struct { type *items; size_t len, cap; }

struct aioe_parse_result {
    char *file;
    AIOE_VEC(aioe_endpoint *) endpoints;
    AIOE_VEC(aioe_dataflow *) dataflows;
    AIOE_VEC(aioe_profile *) profiles;
    AIOE_VEC(aioe_parse_error) errors;
    AIOE_VEC(aioe_skipped_document) skipped;
};

/* spec_errors.c: vectors, new results, the error list. */
/* Grows a vector to hold one more item; false on allocation failure. */
bool aioe_vec_reserve(void **items, size_t *cap, size_t len, size_t item_size);
#define AIOE_VEC_PUSH_SLOT(vec) \
    (aioe_vec_reserve((void **)&(vec).items, &(vec).cap, (vec).len, \
                      sizeof(*(vec).items)) ? &(vec).items[(vec).len++] : NULL)

/* aioe_result_new() and aioe_result_add_error(): spec_fields.h. */

/* Reference counts of the immutable resource objects. */
static inline void aioe_refcount_inc(atomic_uint *refs)
{
    atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
}

/* True when this call dropped the last reference. */
static inline bool aioe_refcount_dec(atomic_uint *refs)
{
    return atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1;
}

aioe_endpoint *aioe_endpoint_alloc(void);
void aioe_endpoint_destroy(aioe_endpoint *ep);
void aioe_dataflow_destroy(aioe_dataflow *df);
void aioe_profile_destroy(aioe_profile *p);

#endif /* AIOE_SPEC_INTERNAL_H */
