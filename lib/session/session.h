/* Door of lib/session/: the only header of this folder that other folders
 * include ("session/session.h"). session/ owns one MQTT v5 connection to
 * one endpoint: options, lifecycle (new, start, stop, free), the
 * supervisor thread (connect, reconnect with backoff, token rotation),
 * and what is in flight on it (the publish window, the subscription
 * table, received-message dispatch). The public pub/sub calls in
 * lib/pubsub/ go through the functions declared here.
 *
 * Private to the folder: session_reason.h (MQTT reason codes). The
 * session state itself (struct aioe_session, session_internal.h) is
 * shared with pubsub/ through this door.
 * Layer: session, above auth/tls; includes "auth/auth.h", "spec/spec.h",
 * "util/util.h". */
#ifndef AIOE_SESSION_DOOR_H
#define AIOE_SESSION_DOOR_H

#include "session_internal.h"

#endif
