/* Private helpers shared by the harness's source files. */
#ifndef AIOE_TEST_HARNESS_INTERNAL_H
#define AIOE_TEST_HARNESS_INTERNAL_H

#include "harness.h"

#include <stdarg.h>

#include <openssl/evp.h>

/* Prints "harness: <message>\n" to stderr. */
void harness_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* malloc'd printf. Aborts on allocation failure (test code). */
char *harness_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Registers fn to run at exit before the workspace is removed (LIFO). */
void harness_at_exit(void (*fn)(void));

/* Sleeps ms milliseconds (only inside polling loops with a deadline). */
void harness_sleep_ms(int ms);

/* A fresh EC P-256 key, or NULL. */
EVP_PKEY *harness_gen_ec_key(void);

#endif
