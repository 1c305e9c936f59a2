/**
 * @file pubsub.h
 * @brief Publish/subscribe hooks for host engines: subscription options,
 *        unsubscribe, a message builder that carries MQTT v5 properties
 *        and runs the endpoint's CloudEvents stage, and copies of received
 *        messages.
 *
 * These extend session.h. Threads and callbacks follow its rules: publish
 * and subscribe calls may come from any thread, including a message
 * callback of another session; completion callbacks run on Paho's threads
 * and are called exactly once unless the call that took them returned an
 * error. See docs/pubsub.md.
 */
#ifndef AIOENDPOINT_PUBSUB_H
#define AIOENDPOINT_PUBSUB_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common.h"
#include "properties.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- subscriptions --------------------------------------------------- */

/** Settings of one subscription; NULL everywhere means the defaults. */
typedef struct aioe_subscribe_options aioe_subscribe_options;

/** MQTT v5 Retain Handling of a subscription. Values are ABI. */
typedef enum aioe_retain_handling {
    /** Send retained messages whenever the subscription is made (default). */
    AIOE_RETAIN_SEND_ON_SUBSCRIBE = 0,
    /** Send them only when the subscription did not exist before. */
    AIOE_RETAIN_SEND_IF_NEW = 1,
    /** Never send retained messages for this subscription. */
    AIOE_RETAIN_DO_NOT_SEND = 2
} aioe_retain_handling;

/** Creates subscription options: QoS of the endpoint's `qos`, No Local
 *  off, Retain As Published off, retained messages sent on subscribe. */
AIOE_API int aioe_subscribe_options_new(aioe_subscribe_options **out);
/** Frees subscription options; NULL does nothing. */
AIOE_API void aioe_subscribe_options_free(aioe_subscribe_options *opts);
/** Maximum QoS of the subscription: 0 or 1. */
AIOE_API int aioe_subscribe_options_set_qos(aioe_subscribe_options *opts, int qos);
/** No Local: do not receive this client's own publishes. */
AIOE_API int aioe_subscribe_options_set_no_local(aioe_subscribe_options *opts, bool on);
/** Retain As Published: keep the RETAIN flag of live messages as the
 *  publisher set it (a bridge needs this for `retain: Keep`). */
AIOE_API int aioe_subscribe_options_set_retain_as_published(aioe_subscribe_options *opts,
                                                            bool on);
/** Retain Handling (AIOE_RETAIN_SEND_ON_SUBSCRIBE and so on). */
AIOE_API int aioe_subscribe_options_set_retain_handling(aioe_subscribe_options *opts,
                                                        aioe_retain_handling rh);

/**
 * Subscribes to @p filter (copied) with @p opts (copied; NULL for the
 * defaults). Like aioe_session_subscribe(), and:
 * - a shared subscription may be written `$share/<group>/<filter>` or, as
 *   the Azure IoT Operations documentation does, `$shared/<group>/<filter>`,
 *   which is sent as `$share/...`;
 * - subscribing again to the same filter replaces its options (as MQTT
 *   does) instead of adding a second subscription;
 * - the filter is checked first (`+` a whole level, `#` the whole last
 *   level): AIOE_ERR_INVALID_ARG otherwise.
 * @p cb (may be NULL) fires once with the SUBACK result.
 */
AIOE_API int aioe_session_subscribe_with(aioe_session *session, const char *filter,
                                         const aioe_subscribe_options *opts,
                                         aioe_subscribe_cb cb, void *user_data);

/**
 * Removes the subscription to @p filter (the same spelling rules as
 * subscribing). When connected an UNSUBSCRIBE is sent now; otherwise on the
 * next connect, since a persistent broker session still holds it. @p cb
 * (may be NULL) fires once: AIOE_OK with the UNSUBACK reason code, or a
 * failure. Messages already on their way may still arrive.
 * @return AIOE_OK; AIOE_ERR_NOT_FOUND when there is no such subscription;
 *         AIOE_ERR_INVALID_ARG; AIOE_ERR_STATE when not started.
 */
AIOE_API int aioe_session_unsubscribe(aioe_session *session, const char *filter,
                                      aioe_subscribe_cb cb, void *user_data);

/* ---- building and publishing messages --------------------------------- */

/**
 * A reusable description of one outgoing message. A builder belongs to one
 * thread at a time; reuse it for every message (aioe_message_builder_reset()
 * keeps its memory, so steady publishing allocates nothing in the builder).
 *
 * Ownership: the topic is copied. Payload, content type, user properties,
 * correlation data and response topic are **borrowed**: they must stay
 * valid until aioe_session_publish_message() returns (it hands a copy to
 * the MQTT client), and are forgotten by the next reset.
 */
typedef struct aioe_message_builder aioe_message_builder;

/** MQTT v5 Payload Format Indicator. */
typedef enum aioe_payload_format {
    AIOE_PAYLOAD_BYTES = 0, /**< unspecified bytes */
    AIOE_PAYLOAD_UTF8 = 1   /**< UTF-8 text */
} aioe_payload_format;

AIOE_API int aioe_message_builder_new(aioe_message_builder **out);
AIOE_API void aioe_message_builder_free(aioe_message_builder *b);
/** Forgets everything set so far; keeps the memory. NULL does nothing. */
AIOE_API void aioe_message_builder_reset(aioe_message_builder *b);
/** Topic name (copied): non-empty, no `+` or `#`. */
AIOE_API int aioe_message_builder_set_topic(aioe_message_builder *b, const char *topic,
                                            size_t len);
/** Payload (borrowed); NULL with 0 for an empty payload. */
AIOE_API int aioe_message_builder_set_payload(aioe_message_builder *b, const void *data,
                                              size_t len);
/** QoS 0 or 1; by default the endpoint's `qos`. */
AIOE_API int aioe_message_builder_set_qos(aioe_message_builder *b, int qos);
/** RETAIN flag (default false). */
AIOE_API int aioe_message_builder_set_retain(aioe_message_builder *b, bool retain);
/** Content Type property (borrowed). */
AIOE_API int aioe_message_builder_set_content_type(aioe_message_builder *b,
                                                   const char *content_type, size_t len);
/** Appends a user property (borrowed); order and duplicates are kept. */
AIOE_API int aioe_message_builder_add_user_property(aioe_message_builder *b,
                                                    const char *name, size_t name_len,
                                                    const char *value, size_t value_len);
/** Correlation Data property (borrowed). */
AIOE_API int aioe_message_builder_set_correlation_data(aioe_message_builder *b,
                                                       const void *data, size_t len);
/** Response Topic property (borrowed). */
AIOE_API int aioe_message_builder_set_response_topic(aioe_message_builder *b,
                                                     const char *topic, size_t len);
/** Message Expiry Interval in seconds. */
AIOE_API int aioe_message_builder_set_message_expiry(aioe_message_builder *b,
                                                     uint32_t seconds);
/** Payload Format Indicator. */
AIOE_API int aioe_message_builder_set_payload_format(aioe_message_builder *b,
                                                     aioe_payload_format format);
/**
 * Fills the builder from a received message: topic, payload, QoS, RETAIN,
 * content type, user properties, correlation data, response topic, message
 * expiry and payload format. The values are borrowed from @p msg (valid
 * during its message callback, or until a copy is freed). The message is
 * marked as coming from an MQTT source, so the publishing endpoint's
 * `retain: Never` clears its RETAIN flag (`Keep` keeps it), as the
 * endpoint documentation says for MQTT-to-MQTT dataflows.
 */
AIOE_API int aioe_message_builder_set_from_message(aioe_message_builder *b,
                                                   const aioe_message *msg);

/**
 * Publishes the builder's message. When the session's endpoint sets
 * `cloudEventAttributes`, the CloudEvents stage runs first on the message's
 * user properties and content type (with the topic as `subject`); see
 * docs/cloudevents.md and docs/pubsub.md. @p cb fires exactly once unless
 * this returns an error.
 * @return AIOE_OK; AIOE_ERR_WOULD_BLOCK when the publish window is full;
 *         AIOE_ERR_INVALID_EVENT when CreateOrRemap finds a present but
 *         invalid CloudEvents attribute (nothing is published: the host
 *         decides to drop it or publish it with the stage off);
 *         AIOE_ERR_TOO_LARGE over the broker's Maximum Packet Size;
 *         AIOE_ERR_STATE, AIOE_ERR_INVALID_ARG (no topic), AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_publish_message(aioe_session *session, aioe_message_builder *b,
                                          aioe_publish_cb cb, void *user_data);

/**
 * Sets the CloudEvents stage of sessions made with these options. By
 * default the stage runs in the endpoint's `cloudEventAttributes` mode with
 * the endpoint's name as the target name (`source` = `aio://<name>`), and
 * no output content type or schema. @p target_name, @p content_type and
 * @p schema are copied; NULL keeps the default (no content type, no
 * schema). Checked when the session is created.
 */
AIOE_API int aioe_session_options_set_cloudevents(aioe_session_options *opts,
                                                  const char *target_name,
                                                  const char *content_type,
                                                  const char *schema);

/**
 * Will message of sessions made with these options: the broker publishes
 * it when the connection ends without a DISCONNECT (the process was
 * killed, the network failed) and @p delay_seconds (MQTT v5 Will Delay
 * Interval; 0 = at once) have passed without a reconnect. Topic, payload,
 * QoS (default: the endpoint's), RETAIN, content type, user properties,
 * correlation data, response topic, message expiry and payload format are
 * copied from @p will now; the builder may be reused or freed after.
 * NULL removes the will. The CloudEvents stage does not run on a will.
 * aioe_session_stop() sends DISCONNECT with reason 0x00, so a stopped
 * session's will is not published.
 * @return AIOE_OK; AIOE_ERR_INVALID_ARG when the builder has no topic;
 *         AIOE_ERR_NOMEM.
 */
AIOE_API int aioe_session_options_set_will(aioe_session_options *opts,
                                           const aioe_message_builder *will,
                                           uint32_t delay_seconds);

/**
 * Bounds the bytes of publishes outstanding (accepted, not yet completed)
 * as well as their number: a publish that would take the total (encoded
 * PUBLISH sizes) over @p max_bytes returns AIOE_ERR_WOULD_BLOCK, unless
 * the window is empty (one message of any allowed size can always go).
 * 0, the default, leaves only the message-count window.
 */
AIOE_API int aioe_session_options_set_max_queued_bytes(aioe_session_options *opts,
                                                       size_t max_bytes);

/* ---- received messages ------------------------------------------------- */

/** The DUP flag: the broker may have delivered this message before. */
AIOE_API bool aioe_message_dup(const aioe_message *msg);
/** Correlation Data property, or NULL when absent. */
AIOE_API const void *aioe_message_correlation_data(const aioe_message *msg, size_t *len);
/** Response Topic property (not NUL-terminated), or NULL when absent. */
AIOE_API const char *aioe_message_response_topic(const aioe_message *msg, size_t *len);
/** Message Expiry Interval: true and *seconds set when present. */
AIOE_API bool aioe_message_expiry(const aioe_message *msg, uint32_t *seconds);
/** Payload Format Indicator: 0 or 1, or -1 when absent. */
AIOE_API int aioe_message_payload_format(const aioe_message *msg);

/**
 * Copies a received message out of its callback: the copy owns all its
 * bytes, every aioe_message_* getter works on it, and it stays valid until
 * aioe_message_free(). Thread-safe; the copy may move between threads.
 */
AIOE_API int aioe_message_copy(const aioe_message *msg, aioe_message **out);
/** Frees a copy made by aioe_message_copy(). NULL does nothing; a view
 *  passed to a message callback is not the caller's and is left alone. */
AIOE_API void aioe_message_free(aioe_message *msg);

#ifdef __cplusplus
}
#endif

#endif /* AIOENDPOINT_PUBSUB_H */
