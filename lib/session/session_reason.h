/* MQTT v5 reason codes: what they mean for a session. Pure. */
#ifndef AIOE_SESSION_REASON_H
#define AIOE_SESSION_REASON_H

#include <stdbool.h>

typedef struct aioe_reason_class {
    int status;     /* aioe_status for the host */
    bool terminal;  /* retrying cannot succeed: stop the session */
} aioe_reason_class;

/* Classifies a CONNACK or server DISCONNECT reason code (0..255). Codes
 * below 0x80 other than 0x00 in a DISCONNECT (e.g. 0x04) are not errors but
 * still end the connection: retry. */
aioe_reason_class aioe_reason_classify(int reason_code);
/* Status for a negative PUBACK / SUBACK reason code (>= 0x80). */
int aioe_reason_ack_status(int reason_code);
/* Short English name ("Not authorized"); never NULL. */
const char *aioe_reason_name(int reason_code);

#endif
