/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI (RFC 3720
 * B.4), ext4 and LevelDB use it. None of the chosen dependencies provides
 * it (zlib and OpenSSL have CRC-32 only), so it is ours: slicing-by-8
 * tables built once, and the SSE4.2 crc32 instruction when the CPU has it
 * (checked once at run time). Pure, no I/O. */
#include <pthread.h>
#include <string.h>

#include "inbox.h"

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW_PATH 1
static bool use_hw;

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                        size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#ifdef HAVE_HW_PATH
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

uint32_t aioe__crc32c_extend(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, build_tables);
    const unsigned char *p = data;
    crc = ~crc;
    if (len) {
#ifdef HAVE_HW_PATH
        if (use_hw)
            crc = crc_hw(crc, p, len);
        else
#endif
            crc = crc_sw(crc, p, len);
    }
    return ~crc;
}

uint32_t aioe__crc32c_sw_extend(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, build_tables);
    return ~crc_sw(~crc, data, len);
}

uint32_t aioe__crc32c(const void *data, size_t len)
{
    return aioe__crc32c_extend(0, data, len);
}
