/* Door of lib/cloudevents/: the only header of this folder that other
 * folders include ("cloudevents/cloudevents.h"). cloudevents/ is the
 * pure CloudEvents stage (user properties and content type in, the
 * rewritten set out): no I/O, no session, no MQTT client.
 *
 * Everything the rest of the library needs is the public API in
 * aioendpoint/cloudevents.h; the test hooks and validators
 * (cloudevents_internal.h) are for this folder and tests only.
 * Layer: pubsub/cloudevents/inbox; includes "util/util.h" at most. */
#ifndef AIOE_CLOUDEVENTS_DOOR_H
#define AIOE_CLOUDEVENTS_DOOR_H

#include "aioendpoint/cloudevents.h"

#endif
