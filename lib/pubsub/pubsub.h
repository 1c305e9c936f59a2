/* Door of lib/pubsub/: the only header of this folder that other folders
 * include ("pubsub/pubsub.h"). pubsub/ is the public publish/subscribe
 * API over a session: message builder and publishing (with the endpoint's
 * CloudEvents stage), subscribe options, subscribe/unsubscribe, and the
 * accessors and copies of received messages. The state it works on lives
 * in the session (session/session.h).
 * Layer: pubsub/cloudevents/inbox, above session; includes
 * "session/session.h" and lower doors. Nothing above it in lib/ uses it
 * yet, so this door only names the public header. */
#ifndef AIOE_PUBSUB_DOOR_H
#define AIOE_PUBSUB_DOOR_H

#include "aioendpoint/pubsub.h"

#endif
