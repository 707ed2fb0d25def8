// CRC-32C (zkv_crc32c.h).
#include "zkv_crc32c.h"

#include <string.h>

// CRC-32C (Castagnoli), as LevelDB checksums its blocks. x86-64 CPUs since 2008 compute it in
// hardware (SSE4.2 crc32, 8 bytes a cycle or so); elsewhere a 16-entry table, one nibble at a
// time: a few lines and no mutable state.
static const uint32_t s_crc_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

static uint32_t
s_crc32c_table (uint32_t crc, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ s_crc_nibble[crc & 15];
        crc = (crc >> 4) ^ s_crc_nibble[crc & 15];
    }
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__ ((target ("sse4.2"))) static uint32_t
s_crc32c_hw (uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy (&word, p, 8); // unaligned-safe load
        c = __builtin_ia32_crc32di (c, word);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi (c32, *p++);
    return c32;
}
#endif

uint32_t
zkv_crc32c (uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports ("sse4.2"))
        return ~s_crc32c_hw (~crc, p, len);
#endif
    return ~s_crc32c_table (~crc, p, len);
}
