/* libFuzzer target: received messages (the network-facing side of the
 * publish/subscribe layer). A Paho message is built from the input with
 * any mix of the properties a broker may send — content types, user
 * properties (empty, with NUL bytes, hundreds of them), correlation data,
 * response topics, expiry, payload format — and read back through every
 * aioe_message_* getter, copied with aioe_message_copy(), and loaded into a
 * builder with aioe_message_builder_set_from_message() (what a bridge does
 * before forwarding).
 *
 * Input: byte 0 = QoS (mod 3) | retain << 2 | dup << 3; then fields split
 * at 0xFF: topic, payload, then properties, each field's first byte picking
 * the kind (mod 6) and the rest its data; a user property takes the next
 * field as its value.
 * Invariants: getters agree with what was put in (first content type, the
 * i-th user property in order, lengths); an owned copy answers exactly like
 * the view; loading into a builder returns OK or INVALID_ARG (a topic the
 * library would not publish to) and never reads out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

#include <aioendpoint/aioendpoint.h>

#include "session_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 600

typedef struct field {
    const uint8_t *p;
    size_t n;
} field;

static bool same(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void add_data(MQTTProperties *props, enum MQTTPropertyCodes id, const field *f,
                     const field *v)
{
    MQTTProperty p;
    memset(&p, 0, sizeof p);
    p.identifier = id;
    p.value.data.data = (char *)f->p;
    p.value.data.len = (int)f->n;
    if (v) {
        p.value.value.data = (char *)v->p;
        p.value.value.len = (int)v->n;
    }
    MQTTProperties_add(props, &p);
}

static void compare(const aioe_message *a, const aioe_message *b)
{
    size_t al, bl;
    const void *ap, *bp;
    ap = aioe_message_topic(a, &al);
    bp = aioe_message_topic(b, &bl);
    if (!same(ap, al, bp, bl))
        abort();
    ap = aioe_message_payload(a, &al);
    bp = aioe_message_payload(b, &bl);
    if (!same(ap, al, bp, bl))
        abort();
    ap = aioe_message_content_type(a, &al);
    bp = aioe_message_content_type(b, &bl);
    if ((ap == NULL) != (bp == NULL) || !same(ap, al, bp, bl))
        abort();
    ap = aioe_message_correlation_data(a, &al);
    bp = aioe_message_correlation_data(b, &bl);
    if ((ap == NULL) != (bp == NULL) || !same(ap, al, bp, bl))
        abort();
    ap = aioe_message_response_topic(a, &al);
    bp = aioe_message_response_topic(b, &bl);
    if ((ap == NULL) != (bp == NULL) || !same(ap, al, bp, bl))
        abort();
    uint32_t ea = 0, eb = 0;
    if (aioe_message_expiry(a, &ea) != aioe_message_expiry(b, &eb) || ea != eb)
        abort();
    if (aioe_message_payload_format(a) != aioe_message_payload_format(b) ||
        aioe_message_qos(a) != aioe_message_qos(b) ||
        aioe_message_retain(a) != aioe_message_retain(b) ||
        aioe_message_dup(a) != aioe_message_dup(b))
        abort();
    size_t n = aioe_message_user_property_count(a);
    if (n != aioe_message_user_property_count(b))
        abort();
    for (size_t i = 0; i < n; i++) {
        aioe_user_property x, y;
        if (aioe_message_user_property(a, i, &x) != AIOE_OK ||
            aioe_message_user_property(b, i, &y) != AIOE_OK ||
            !same(x.name, x.name_len, y.name, y.name_len) ||
            !same(x.value, x.value_len, y.value, y.value_len))
            abort();
    }
    aioe_user_property z;
    if (aioe_message_user_property(a, n, &z) != AIOE_ERR_NOT_FOUND)
        abort();
}

/* Debian's Paho tracks its heap; the tracking is set up by the first
 * MQTTAsync_create() (a session always has a client before it sees a
 * message). Without it every property Paho allocates shows as a leak. */
static void paho_heap_setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    MQTTAsync c;
    if (MQTTAsync_create(&c, "tcp://127.0.0.1:1", "fuzz", MQTTCLIENT_PERSISTENCE_NONE,
                         NULL) == MQTTASYNC_SUCCESS)
        MQTTAsync_destroy(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    paho_heap_setup();
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    static field f[MAX_FIELDS];
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= size && nf < MAX_FIELDS; i++)
        if (i == size || data[i] == 0xFF) {
            f[nf].p = data + start;
            f[nf].n = i - start;
            nf++;
            start = i + 1;
        }
    if (nf < 2)
        return 0;

    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.payload = (void *)f[1].p;
    m.payloadlen = (int)f[1].n;
    m.qos = flags % 3;
    m.retained = (flags >> 2) & 1;
    m.dup = (flags >> 3) & 1;
    m.properties = (MQTTProperties)MQTTProperties_initializer;

    /* what we put in, to check the getters against */
    const field *first_ct = NULL;
    const field *up_name[MAX_FIELDS], *up_value[MAX_FIELDS];
    size_t n_up = 0;
    bool have_expiry = false, have_format = false;
    uint32_t expiry = 0;
    int format = -1;
    for (size_t i = 2; i < nf; i++) {
        if (f[i].n == 0)
            continue;
        field d = { f[i].p + 1, f[i].n - 1 };
        switch (f[i].p[0] % 6) {
        case 0:
            add_data(&m.properties, MQTTPROPERTY_CODE_CONTENT_TYPE, &d, NULL);
            if (!first_ct)
                first_ct = &f[i];
            break;
        case 1: {
            static field empty = { (const uint8_t *)"", 0 };
            const field *v = i + 1 < nf ? &f[i + 1] : &empty;
            static field names[MAX_FIELDS];
            names[n_up] = d;
            add_data(&m.properties, MQTTPROPERTY_CODE_USER_PROPERTY, &names[n_up], v);
            up_name[n_up] = &names[n_up];
            up_value[n_up] = v;
            n_up++;
            i++;
            break;
        }
        case 2:
            add_data(&m.properties, MQTTPROPERTY_CODE_CORRELATION_DATA, &d, NULL);
            break;
        case 3:
            add_data(&m.properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC, &d, NULL);
            break;
        case 4:
            if (!have_expiry && d.n >= 4) {
                MQTTProperty p;
                memset(&p, 0, sizeof p);
                p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
                memcpy(&expiry, d.p, 4);
                p.value.integer4 = expiry;
                MQTTProperties_add(&m.properties, &p);
                have_expiry = true;
            }
            break;
        default:
            if (!have_format && d.n >= 1) {
                MQTTProperty p;
                memset(&p, 0, sizeof p);
                p.identifier = MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR;
                p.value.byte = d.p[0] & 1;
                format = p.value.byte;
                MQTTProperties_add(&m.properties, &p);
                have_format = true;
            }
            break;
        }
    }

    aioe_message view = { (const char *)f[0].p, f[0].n, &m, false };
    size_t len;
    const char *ct = aioe_message_content_type(&view, &len);
    if (first_ct ? (!ct || !same(ct, len, first_ct->p + 1, first_ct->n - 1)) : ct != NULL)
        abort();
    if (aioe_message_user_property_count(&view) != n_up)
        abort();
    for (size_t i = 0; i < n_up; i++) {
        aioe_user_property p;
        if (aioe_message_user_property(&view, i, &p) != AIOE_OK ||
            !same(p.name, p.name_len, up_name[i]->p, up_name[i]->n) ||
            !same(p.value, p.value_len, up_value[i]->p, up_value[i]->n))
            abort();
    }
    uint32_t e;
    if (aioe_message_expiry(&view, &e) != have_expiry || (have_expiry && e != expiry))
        abort();
    if (aioe_message_payload_format(&view) != format)
        abort();

    aioe_message *copy = NULL;
    if (aioe_message_copy(&view, &copy) == AIOE_OK) {
        compare(&view, copy);
        aioe_message_builder *b = NULL;
        if (aioe_message_builder_new(&b) == AIOE_OK) {
            int rc = aioe_message_builder_set_from_message(b, copy);
            if (rc != AIOE_OK && rc != AIOE_ERR_INVALID_ARG && rc != AIOE_ERR_NOMEM)
                abort();
            /* the copy may go; the builder borrowed from it, so reset first */
            aioe_message_builder_reset(b);
            rc = aioe_message_builder_set_from_message(b, &view);
            if (rc != AIOE_OK && rc != AIOE_ERR_INVALID_ARG && rc != AIOE_ERR_NOMEM)
                abort();
            aioe_message_builder_free(b);
        }
        aioe_message_free(copy);
    }
    MQTTProperties_free(&m.properties);
    return 0;
}
