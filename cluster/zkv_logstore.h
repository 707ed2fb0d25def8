// Raft log store: the interface the runtime and the simulator persist a Raft group through.
// The core owns it (cluster/); storage/ implements it: LevelDB for zkvd (storage/zkv_ldbstore.h)
// and the crash-faithful memory store of the simulator (storage/zkv_memstore.h).
//
// Writes (append, truncate, compact, hard state, snapshot) are buffered and become durable
// together at the next zkv_logstore_sync: many appends share one sync (group commit). A crash
// loses every write not yet synced, and nothing that was synced.
//
// One store serves several groups (multi-raft per node): every call names its group.
#ifndef ZKV_LOGSTORE_H
#define ZKV_LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"

// Raft state that must survive a crash (Figure 2 "persistent state", plus commit).
typedef struct {
    uint64_t term;    // current term
    uint64_t vote;    // node voted for in term, 0 for none
    uint64_t commit;  // highest index known committed (an optimisation: may lag)
} zkv_hard_state_t;

// What a snapshot covers.
typedef struct {
    uint64_t index;  // last log index included, 0 for no snapshot
    uint64_t term;   // term of that entry
} zkv_snapshot_meta_t;

// Everything a store holds for one group, as returned by zkv_logstore_load.
typedef struct {
    zkv_hard_state_t hard_state;    // zeroes when never saved
    zkv_snapshot_meta_t snapshot;   // index 0 when there is none
    zkv_bytes_t snapshot_data;      // owned copy of the snapshot
    zkv_entry_t *entries;           // owned: contiguous entries after snapshot.index
    size_t n_entries;               // number of entries
} zkv_logstore_state_t;

// Frees what a loaded state owns and zeroes it.
void zkv_logstore_state_free (zkv_logstore_state_t *state);

typedef struct zkv_logstore zkv_logstore_t;

// An implementation: a table of functions over its own state.
typedef struct {
    const char *name;  // "memory", "leveldb"
    int (*append) (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n);
    int (*truncate_suffix) (void *impl, uint64_t group, uint64_t from_index);
    int (*compact_prefix) (void *impl, uint64_t group, uint64_t upto_index);
    int (*save_hard_state) (void *impl, uint64_t group, const zkv_hard_state_t *hs);
    int (*save_snapshot) (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta,
                          const uint8_t *data, size_t len);
    int (*sync) (void *impl);
    int (*load) (void *impl, uint64_t group, zkv_logstore_state_t *out);
    void (*destroy) (void *impl);
} zkv_logstore_ops_t;

// Wraps an implementation; the store owns impl and destroys it through ops->destroy.
zkv_logstore_t *zkv_logstore_new (const zkv_logstore_ops_t *ops, void *impl);
void zkv_logstore_destroy (zkv_logstore_t **self_p);
void *zkv_logstore_impl (zkv_logstore_t *self);

// Appends entries; their indexes must follow the group's last index (or a truncation point).
int zkv_logstore_append (zkv_logstore_t *self, uint64_t group, const zkv_entry_t *entries,
                         size_t n);
// Deletes entries with index >= from_index (a follower's conflicting suffix, §5.3).
int zkv_logstore_truncate_suffix (zkv_logstore_t *self, uint64_t group, uint64_t from_index);
// Deletes entries with index <= upto_index (covered by a saved snapshot, §7).
int zkv_logstore_compact_prefix (zkv_logstore_t *self, uint64_t group, uint64_t upto_index);
int zkv_logstore_save_hard_state (zkv_logstore_t *self, uint64_t group,
                                  const zkv_hard_state_t *hs);
// Replaces the group's snapshot. Entries at or below meta->index that do not match
// meta->term are the caller's to truncate or compact.
int zkv_logstore_save_snapshot (zkv_logstore_t *self, uint64_t group,
                                const zkv_snapshot_meta_t *meta, const uint8_t *data, size_t len);
// Makes every write so far durable, atomically per sync where the implementation can.
int zkv_logstore_sync (zkv_logstore_t *self);
// Reads back one group's durable state (what a restarted node boots from).
int zkv_logstore_load (zkv_logstore_t *self, uint64_t group, zkv_logstore_state_t *out);

#endif
