/* Paho's process-wide set-up, done once. OpenSSL 3 initializes itself, so
 * Paho must not (do_openssl_init = 0): a second init by a library would
 * fight the host's own OpenSSL use. */
#include <pthread.h>

#include <MQTTAsync.h>

#include "session_internal.h"

static pthread_once_t paho_once = PTHREAD_ONCE_INIT;

static void paho_init_once(void)
{
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;
    io.do_openssl_init = 0;
    MQTTAsync_global_init(&io);
}

void aioe_paho_init(void)
{
    pthread_once(&paho_once, paho_init_once);
}
