/**
 * @file properties.h
 * @brief A borrowed view of one MQTT v5 user property (name/value pair).
 *
 * Used wherever libaioendpoint reads or hands back the user properties of a
 * PUBLISH: the CloudEvents stage (cloudevents.h) and the publish/subscribe
 * layer. A list of user properties is an array of these plus a count; MQTT
 * allows the same name more than once and the order is significant, so a
 * list is never reordered or deduplicated by the library unless a function
 * says so.
 */
#ifndef AIOENDPOINT_PROPERTIES_H
#define AIOENDPOINT_PROPERTIES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One user property. Both strings are views: they are not NUL-terminated
 * (the length is authoritative) and are owned by whoever filled in the
 * struct; the function that takes or returns a property says for how long
 * they stay valid. A length of 0 is an empty string, and then the pointer
 * may be NULL. MQTT requires UTF-8 without U+0000; the library does not
 * check that except where a function says so.
 *
 * ABI note: this struct is an array element, so unlike option structs it
 * has no version field and can never grow (that would change the array
 * stride). Its four fields are frozen; anything more goes in a new type.
 */
typedef struct aioe_user_property {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} aioe_user_property;

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_PROPERTIES_H */
