/* Door of lib/auth/: the only header of this folder that other folders
 * include ("auth/auth.h"). auth/ turns an endpoint's authentication and
 * TLS settings into what one connect attempt needs: token sources (the
 * Kubernetes service account token file, managed identities over HTTP),
 * JWT claim reading, the secret / config map resolver, and the TLS files
 * Paho loads, with TLS failure diagnosis. It knows nothing of sessions.
 *
 * Private to the folder: mi.h (managed-identity protocol, HTTP seam,
 * cache) and curl_loader.h (libcurl, dlopen'ed). Tests may include them.
 * Layer: auth/tls, above spec/; includes "spec/spec.h" and "util/util.h". */
#ifndef AIOE_AUTH_DOOR_H
#define AIOE_AUTH_DOOR_H

#include "aioendpoint/identity.h"
#include "aioendpoint/spec.h"
#include "jwt.h"          /* JWT claims, refresh point (jwt.c) */
#include "net_probe.h"    /* why a TCP connect failed (net_probe.c) */
#include "resolver.h"     /* secret / config map references -> bytes (resolver.c) */
#include "tls.h"          /* TLS material and diagnosis (tls_material.c, tls_diagnose.c) */
#include "token_source.h" /* the token-source vtable; the SAT source (token_source_sat.c) */

/* ---- managed identity (mi_*.c) ---- */

/* Deep copy of identity options (src may be NULL: *out = NULL). */
int aioe_identity_options_copy(const aioe_identity_options *src,
                               aioe_identity_options **out);

/* What the session calls for a managed-identity endpoint: resolves the
 * configuration from opts (may be NULL) and the process environment. A
 * configuration error does not fail here: the source's fetch reports it,
 * so aioe_session_start() can show it. */
int aioe_token_source_mi_for_endpoint(const aioe_endpoint *ep,
                                      const aioe_identity_options *opts,
                                      aioe_token_source *out);

#endif
