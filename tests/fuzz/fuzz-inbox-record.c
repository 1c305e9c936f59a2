/* libFuzzer target: the inbox's record reader (lib/inbox/record.c), fed a
 * whole segment file as recovery reads it: frame each record, decode it,
 * resynchronise after anything that does not parse (issue #15 cases 1 and
 * 4). A decoded message must re-encode to the same bytes; nothing may read
 * outside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aioendpoint/common.h"
#include "inbox/inbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const aioe__rec_view *v)
{
    aioe__rec_msg m;
    if (aioe__rec_decode_msg(v->body, v->body_len, &m) != AIOE_OK)
        return;
    aioe_user_property *props = calloc(m.prop_count ? m.prop_count : 1, sizeof *props);
    if (!props)
        return;
    if (aioe__rec_msg_props(&m, props, m.prop_count) != m.prop_count)
        abort();
    m.props = props;
    size_t n = aioe__rec_msg_size(&m);
    if (n != v->total)
        abort();
    unsigned char *out = malloc(n);
    if (out) {
        if (aioe__rec_encode_msg(&m, out, n) != n ||
            memcmp(out + AIOE__REC_HEADER, v->body, v->body_len) != 0)
            abort();
        free(out);
    }
    free(props);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly `size` bytes, so ASan sees any overread */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t off = 0;
    while (off < size) {
        aioe__rec_view v;
        if (aioe__rec_parse(buf + off, size - off, &v) != AIOE__REC_OK) {
            size_t next = aioe__rec_resync(buf, size, off + 1);
            if (next <= off || next > size)
                abort();
            (void)aioe__rec_count_markers(buf, off, next);
            off = next;
            continue;
        }
        if (v.total < AIOE__REC_HEADER || v.total > size - off)
            abort();
        if (v.type == AIOE__REC_MSG) {
            check_message(&v);
        } else {
            size_t count;
            if (aioe__rec_decode_ack(v.body, v.body_len, &count) == AIOE_OK)
                for (size_t i = 0; i < count; i++)
                    (void)aioe__rec_ack_seq(v.body, i);
        }
        off += v.total;
    }
    free(buf);
    return 0;
}
