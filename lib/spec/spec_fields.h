/* Per-field rules of the DataflowEndpoint schema, shared by the YAML
 * parser (spec_parse.c, spec_walk.c) and the endpoint builder
 * (spec_builder.c), so both accept exactly the same values, apply exactly
 * the same defaults and word errors the same way. Pure: values in, verdict
 * out. The door (spec/spec.h) exposes it: the session's options check a
 * failover server or proxy "host:port" with the same rule as `host`, and
 * the AIO SDK environment reports its errors as a parse result. */
#ifndef AIOE_SPEC_FIELDS_H
#define AIOE_SPEC_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioendpoint/spec.h"

/* Why a value was refused: a message and a fix. */
typedef struct aioe__field_problem {
    char message[512];     /* cut with "..." like every parse error */
    char hint[200];
} aioe__field_problem;

/* A string value: non-empty, no control character, no <placeholder>. */
bool aioe__spec_check_text(const char *s, size_t len, aioe__field_problem *p);
/* A Kubernetes object reference: aioe__spec_check_text, then a DNS-1123
 * subdomain. */
bool aioe__spec_check_k8s_name(const char *s, size_t len, aioe__field_problem *p);
/* metadata.name (DNS-1123 subdomain) and metadata.namespace (label); the
 * text rules are checked first. */
bool aioe__spec_check_metadata_name(const char *s, size_t len, aioe__field_problem *p);
bool aioe__spec_check_metadata_namespace(const char *s, size_t len, aioe__field_problem *p);
/* mqttSettings.host: "host:port", or with `websockets` "host[:port][/path]"
 * (*port 0 when left out, *ws_path a malloc'd path or NULL; ws_path may be
 * NULL without websockets). *host (malloc'd) on success. */
bool aioe__spec_check_host(const char *s, size_t len, bool websockets, char **host,
                      uint16_t *port, char **ws_path, aioe__field_problem *p);
/* userAssignedManagedIdentitySettings.clientId (a GUID) and tenantId (a
 * GUID or a domain name). */
bool aioe__spec_check_uami_client_id(const char *s, aioe__field_problem *p);
bool aioe__spec_check_uami_tenant_id(const char *s, aioe__field_problem *p);

/* The integer fields of mqttSettings with their ranges. */
typedef struct aioe__int_field {
    const char *key;
    int64_t min, max;
    const char *hint;
} aioe__int_field;
extern const aioe__int_field aioe__spec_field_qos;
extern const aioe__int_field aioe__spec_field_session_expiry; /* hint: see below */
extern const aioe__int_field aioe__spec_field_max_inflight;
extern const aioe__int_field aioe__spec_field_keep_alive;
bool aioe__spec_check_int(const aioe__int_field *f, int64_t v, aioe__field_problem *p);
/* Any integer in [min, max] (the wording of every range error). */
bool aioe__spec_check_range(int64_t v, int64_t min, int64_t max, const char *hint,
                       aioe__field_problem *p);

/* sessionExpirySeconds' hint names the apiVersion's default. */
struct aioe_api_version;
void aioe__spec_session_expiry_hint(const struct aioe_api_version *ver, char *buf,
                               size_t size);

/* Schema spellings, indexed by enum value - 1 (NULL-terminated). */
extern const char *const aioe__spec_auth_methods[];
extern const char *const aioe__spec_auth_settings_keys[];

/* A parse result for errors found outside a parse (builder, environment);
 * aioe_result_add_error() appends one (message and hint are printf
 * formats, hint may be NULL; false only when memory ran out). */
aioe_parse_result *aioe_result_new(const char *file);
bool aioe_result_add_error(aioe_parse_result *res, unsigned line,
                           unsigned column, const char *path,
                           const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Defaults of mqttSettings for an apiVersion, applied before any field is
 * read. */
void aioe__spec_set_defaults(aioe_endpoint *ep, const struct aioe_api_version *ver);
/* Defaults that depend on other fields, applied after they were read:
 * the built-in broker's host, port and CA config map (host omitted), a
 * WebSocket port (443, or 80 without TLS), the audience (SAT,
 * system-assigned) and the UAMI scope. false when memory ran out. */
bool aioe__spec_finish_defaults(aioe_endpoint *ep, const struct aioe_api_version *ver);

#endif
