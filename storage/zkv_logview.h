// Private to storage/: the shape of one group's log as writes are issued (and the checksum the
// stores use, zkv_crc32c.h).
//
// Both stores validate every write against the same rules, so the in-memory store the
// simulator uses and the LevelDB store the daemon uses accept and refuse exactly the same
// calls. The view describes the log as it will be once every write issued so far is synced.
#ifndef ZKV_LOGVIEW_H
#define ZKV_LOGVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "zkv_crc32c.h"
#include "zkv_msg.h"

typedef struct {
    uint64_t first;      // index of the first entry kept: compaction point + 1
    uint64_t last;       // index of the last entry; first - 1 when the log is empty
    uint64_t snap_index; // index of the latest saved snapshot, 0 for none
} zkv_logview_t;

// A range of indexes lo..hi to delete; empty when lo > hi.
typedef struct {
    uint64_t lo; // first index to delete
    uint64_t hi; // last index to delete
} zkv_logview_range_t;

// The view of a group that has never been written.
void zkv_logview_init (zkv_logview_t *view);

// Validates an append and applies it to the view. Rules:
// - indexes are contiguous within the call and never 0;
// - the first index is in first..last+1; an index inside the log overwrites it and deletes
//   every later entry (an implicit truncate_suffix, as etcd's storage does): *gone is the range
//   past the new entries that must be deleted;
// - an empty log may also restart at snap_index + 1 (after a snapshot was saved);
// - an index below first returns ZKV_ECOMPACTED, a gap returns ZKV_EINVAL.
int zkv_logview_append (zkv_logview_t *view, const zkv_entry_t *entries, size_t n,
                        zkv_logview_range_t *gone);
// Applies truncate_suffix; *gone is the range of entries to delete. A from_index below first
// deletes the whole log (compacted entries are gone already); the compaction point stays.
void zkv_logview_truncate (zkv_logview_t *view, uint64_t from_index, zkv_logview_range_t *gone);
// Validates and applies compact_prefix; *gone is the range of entries to delete. Compacting
// past the saved snapshot would lose committed entries for good: ZKV_EINVAL.
int zkv_logview_compact (zkv_logview_t *view, uint64_t upto_index, zkv_logview_range_t *gone);
// Validates and applies save_snapshot. A snapshot older than the compaction point would leave
// a hole between it and the log: ZKV_EINVAL.
int zkv_logview_snapshot (zkv_logview_t *view, uint64_t index);

#endif
