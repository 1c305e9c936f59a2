/* libFuzzer target: topic filter checks and destination topic template
 * expansion. The input is split at the first NUL into a template and an
 * input topic. Expansion must never overrun its buffer, must agree with
 * aioe_topic_template_is_valid(), and must report the needed length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <aioendpoint/aioendpoint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 2);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    copy[size + 1] = '\0';
    const char *tmpl = copy;
    const char *topic = copy + strlen(copy) + 1;
    if (topic > copy + size)
        topic = copy + size;

    (void)aioe_topic_filter_is_valid(tmpl);
    bool valid = aioe_topic_template_is_valid(tmpl);
    char small[16], big[1024];
    size_t need = 0, got = 0;
    int rc = aioe_topic_expand(tmpl, topic, small, sizeof small, &need);
    if (!valid && rc != AIOE_ERR_INVALID_ARG)
        abort();
    if (valid && rc == AIOE_ERR_INVALID_ARG)
        abort();
    if (rc == AIOE_OK && strlen(small) != need)
        abort();
    if (rc == AIOE_ERR_TOO_LARGE && need < sizeof big) {
        if (aioe_topic_expand(tmpl, topic, big, sizeof big, &got) != AIOE_OK || got != need ||
            strlen(big) != need)
            abort();
    }
    free(copy);
    return 0;
}
