// The Raft core's in-memory log: entries after the snapshot offset, term lookups, truncation.
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
zkv_raft_log_init (zkv_raft_log_t *log, uint64_t offset, uint64_t offset_term)
{
    memset (log, 0, sizeof *log);
    log->offset = offset;
    log->offset_term = offset ? offset_term : 0;
    log->stable = offset;
}

void
zkv_raft_log_free (zkv_raft_log_t *log)
{
    for (size_t i = 0; i < log->count; i++)
        zkv_entry_free (&log->items[log->start + i]);
    free (log->items);
    memset (log, 0, sizeof *log);
}

uint64_t
zkv_raft_log_last_index (const zkv_raft_log_t *log)
{
    return log->offset + log->count;
}

uint64_t
zkv_raft_log_last_term (const zkv_raft_log_t *log)
{
    return log->count ? log->items[log->start + log->count - 1].term : log->offset_term;
}

int
zkv_raft_log_term (const zkv_raft_log_t *log, uint64_t index, uint64_t *term_p)
{
    if (index < log->offset)
        return ZKV_ECOMPACTED;
    if (index > zkv_raft_log_last_index (log))
        return ZKV_EUNAVAILABLE;
    *term_p = index == log->offset ? log->offset_term
                                   : log->items[log->start + (index - log->offset - 1)].term;
    return 0;
}

uint64_t
zkv_raft_log_term_or0 (const zkv_raft_log_t *log, uint64_t index)
{
    uint64_t term = 0;
    if (zkv_raft_log_term (log, index, &term))
        return 0;
    return term;
}

const zkv_entry_t *
zkv_raft_log_entry (const zkv_raft_log_t *log, uint64_t index)
{
    if (index <= log->offset || index > zkv_raft_log_last_index (log))
        return NULL;
    return &log->items[log->start + (index - log->offset - 1)];
}

void
zkv_raft_log_append (zkv_raft_log_t *log, const zkv_entry_t *entry)
{
    assert (entry->index == zkv_raft_log_last_index (log) + 1);
    if (log->start + log->count == log->cap) {
        if (log->start > 0 && log->start >= log->count) {
            // Slide the live entries down rather than growing behind a compacted prefix.
            memmove (log->items, log->items + log->start, log->count * sizeof (zkv_entry_t));
            log->start = 0;
        } else {
            log->cap = log->cap ? log->cap * 2 : 64;
            log->items = zkv_raft_realloc (log->items, log->cap * sizeof (zkv_entry_t));
        }
    }
    zkv_entry_copy (entry, &log->items[log->start + log->count]);
    log->count++;
    log->bytes += entry->data.len;
}

void
zkv_raft_log_truncate (zkv_raft_log_t *log, uint64_t from)
{
    assert (from > log->offset && from <= zkv_raft_log_last_index (log));
    size_t keep = (size_t)(from - log->offset - 1);
    for (size_t i = keep; i < log->count; i++) {
        zkv_entry_t *e = &log->items[log->start + i];
        log->bytes -= e->data.len;
        zkv_entry_free (e);
    }
    log->count = keep;
    if (log->stable >= from)
        log->stable = from - 1;
}

void
zkv_raft_log_compact (zkv_raft_log_t *log, uint64_t upto)
{
    assert (upto > log->offset && upto <= zkv_raft_log_last_index (log));
    size_t drop = (size_t)(upto - log->offset);
    uint64_t term = log->items[log->start + drop - 1].term;
    for (size_t i = 0; i < drop; i++) {
        zkv_entry_t *e = &log->items[log->start + i];
        log->bytes -= e->data.len;
        zkv_entry_free (e);
    }
    log->start += drop;
    log->count -= drop;
    if (log->count == 0)
        log->start = 0;
    log->offset = upto;
    log->offset_term = term;
    if (log->stable < upto)
        log->stable = upto;
}

void
zkv_raft_log_reset (zkv_raft_log_t *log, uint64_t index, uint64_t term)
{
    for (size_t i = 0; i < log->count; i++)
        zkv_entry_free (&log->items[log->start + i]);
    log->start = 0;
    log->count = 0;
    log->bytes = 0;
    log->offset = index;
    log->offset_term = term;
    log->stable = index;
}

uint64_t
zkv_raft_log_last_of_term (const zkv_raft_log_t *log, uint64_t term, uint64_t upto)
{
    uint64_t last = zkv_raft_log_last_index (log);
    if (upto > last)
        upto = last;
    if (upto <= log->offset)
        return 0;
    // Terms never decrease along a log: binary search the last index with term <= term.
    uint64_t lo = log->offset + 1, hi = upto, found = 0;
    while (lo <= hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (zkv_raft_log_entry (log, mid)->term <= term) {
            found = mid;
            lo = mid + 1;
        } else
            hi = mid - 1;
    }
    if (found && zkv_raft_log_entry (log, found)->term == term)
        return found;
    return 0;
}

uint64_t
zkv_raft_log_first_of_term (const zkv_raft_log_t *log, uint64_t index)
{
    const zkv_entry_t *e = zkv_raft_log_entry (log, index);
    assert (e);
    uint64_t term = e->term;
    // Binary search the first index whose term is >= term (terms never decrease).
    uint64_t lo = log->offset + 1, hi = index, found = index;
    while (lo <= hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (zkv_raft_log_entry (log, mid)->term >= term) {
            found = mid;
            if (mid == 0)
                break;
            hi = mid - 1;
        } else
            lo = mid + 1;
    }
    return found;
}

bool
zkv_raft_log_up_to_date (const zkv_raft_log_t *log, uint64_t last_index, uint64_t last_term)
{
    // §5.4.1: compare the terms of the last entries first, then the lengths.
    uint64_t my_term = zkv_raft_log_last_term (log);
    return last_term > my_term ||
           (last_term == my_term && last_index >= zkv_raft_log_last_index (log));
}
