// Compactions that wait for the views of a LevelDB database to close (storage/zkv_ldbpins.c).
//
// A view is a LevelDB snapshot, and LevelDB keeps every version a snapshot sees: compacting a
// deleted range while one is open returns nothing, and nothing compacts that range again until
// later writes land there. So a range deleted while views are open is remembered, and compacted
// when the last of them closes. One per database; thread-safe (every group of a node shares it).
//
// The compactions run on a thread of their own: a manual compaction of a deleted shard rewrites
// what its files share with other ranges and takes up to seconds, which the group that deleted
// the shard (and every other group, through the shared write queue it would hold) must not wait
// for. One range at a time, in the order asked.
#ifndef ZKV_LDBPINS_H
#define ZKV_LDBPINS_H

#include <leveldb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_ldbpins zkv_ldbpins_t;

// Ranges remembered while views are open; past it, they merge into one range from the lowest
// start to the highest limit.
#define ZKV_LDBPINS_MAX_RANGES 32
// Longest start or limit key of a range.
#define ZKV_LDBPINS_KEY_MAX 32

typedef struct {
    uint64_t views_opened;   // views opened since the database was
    uint64_t deferred;       // compactions put off because a view was open
    uint64_t merged;         // ... which merged into a wider range (ZKV_LDBPINS_MAX_RANGES)
    uint64_t compacted_late; // ranges compacted when the last view closed
    uint64_t requested;      // compactions asked for
    uint64_t compacted;      // ranges compacted (a merged range counts once)
} zkv_ldbpins_counters_t;

zkv_ldbpins_t *zkv_ldbpins_new (leveldb_t *db);
void zkv_ldbpins_destroy (zkv_ldbpins_t **self_p);
// A view of the database as it is now: a LevelDB snapshot, released with zkv_ldbpins_close.
const leveldb_snapshot_t *zkv_ldbpins_open (zkv_ldbpins_t *self);
// Releases a view; the last one to close lets the ranges that waited for it be compacted.
void zkv_ldbpins_close (zkv_ldbpins_t *self, const leveldb_snapshot_t *snap);
// Has [start, limit) compacted soon, in the background, once no view is open. start and limit
// are prefixes that no stored key equals (a tombstone is written for each); keys longer than
// ZKV_LDBPINS_KEY_MAX are a caller's bug.
void zkv_ldbpins_compact (zkv_ldbpins_t *self, const uint8_t *start, size_t slen,
                          const uint8_t *limit, size_t llen);
void zkv_ldbpins_counters (zkv_ldbpins_t *self, zkv_ldbpins_counters_t *out);
// Waits up to timeout_ms until no compaction is asked for or running (a view left open keeps
// one asked for). True if so.
bool zkv_ldbpins_wait_idle (zkv_ldbpins_t *self, int64_t timeout_ms);
// The node is stopping: nothing more is compacted (one running ends first). A compaction asked
// for can take seconds (a whole old generation of a group's state), and a stopping node must
// exit promptly; LevelDB's own compactions reclaim that space as the levels fill.
void zkv_ldbpins_stopping (zkv_ldbpins_t *self);

#endif
