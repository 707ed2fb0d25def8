// Log shape rules shared by the memory and LevelDB stores (their CRC-32C: messages/zkv_crc32c.h).
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
