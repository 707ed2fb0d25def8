// Log shape rules shared by the memory and LevelDB stores, and the CRC-32C they store.
#include "zkv_logview.h"

#include <assert.h>

void
zkv_logview_init (zkv_logview_t *view)
{
    view->first = 1;
    view->last = 0;
    view->snap_index = 0;
}

static void
s_range_none (zkv_logview_range_t *range)
{
    range->lo = 1;
    range->hi = 0;
}

int
zkv_logview_append (zkv_logview_t *view, const zkv_entry_t *entries, size_t n,
                    zkv_logview_range_t *gone)
{
    s_range_none (gone);
    if (n == 0)
        return 0;
    uint64_t start = entries[0].index;
    for (size_t i = 0; i < n; i++)
        if (entries[i].index == 0 || entries[i].index != start + i)
            return ZKV_EINVAL; // also refuses an index range that wraps around
    bool empty = view->last < view->first;
    if (start < view->first)
        return ZKV_ECOMPACTED;
    if (start > view->last + 1) {
        // The log may restart right after the snapshot. Entries the snapshot covers may still
        // be stored (a crash kept the snapshot but not the compaction): they go now.
        if (start != view->snap_index + 1 || view->last > view->snap_index)
            return ZKV_EINVAL;
        if (!empty) {
            gone->lo = view->first;
            gone->hi = view->last;
        }
        view->first = start;
    } else if (start + n - 1 < view->last) {
        gone->lo = start + n;
        gone->hi = view->last;
    }
    view->last = start + n - 1;
    return 0;
}

void
zkv_logview_truncate (zkv_logview_t *view, uint64_t from_index, zkv_logview_range_t *gone)
{
    s_range_none (gone);
    if (from_index < view->first)
        from_index = view->first;
    if (from_index > view->last)
        return;
    gone->lo = from_index;
    gone->hi = view->last;
    view->last = from_index - 1;
}

int
zkv_logview_compact (zkv_logview_t *view, uint64_t upto_index, zkv_logview_range_t *gone)
{
    s_range_none (gone);
    if (upto_index > view->snap_index)
        return ZKV_EINVAL;
    if (upto_index < view->first)
        return 0;
    gone->lo = view->first;
    gone->hi = upto_index < view->last ? upto_index : view->last;
    view->first = upto_index + 1;
    if (view->last < upto_index)
        view->last = upto_index; // the whole log went: empty, based at the compaction point
    return 0;
}

int
zkv_logview_snapshot (zkv_logview_t *view, uint64_t index)
{
    if (index + 1 < view->first)
        return ZKV_EINVAL;
    view->snap_index = index;
    return 0;
}

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
#include <string.h>
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
