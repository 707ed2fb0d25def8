// Compactions that wait for the views of a LevelDB database to close (storage/zkv_ldbpins.c).
//
// A view is a LevelDB snapshot, and LevelDB keeps every version a snapshot sees: compacting a
// deleted range while one is open returns nothing, and nothing compacts that range again until
// later writes land there. So a range deleted while views are open is remembered, and compacted
// when the last of them closes. One per database; thread-safe (every group of a node shares it).
#ifndef ZKV_LDBPINS_H
#define ZKV_LDBPINS_H

#include <leveldb/c.h>
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
} zkv_ldbpins_counters_t;

zkv_ldbpins_t *zkv_ldbpins_new (leveldb_t *db);
void zkv_ldbpins_destroy (zkv_ldbpins_t **self_p);
// A view of the database as it is now: a LevelDB snapshot, released with zkv_ldbpins_close.
const leveldb_snapshot_t *zkv_ldbpins_open (zkv_ldbpins_t *self);
// Releases a view; the last one to close compacts the ranges that waited for it.
void zkv_ldbpins_close (zkv_ldbpins_t *self, const leveldb_snapshot_t *snap);
// Compacts [start, limit) now, or once no view is open. start and limit are prefixes that no
// stored key equals (a tombstone is written for each); keys longer than ZKV_LDBPINS_KEY_MAX are a caller's bug.
void zkv_ldbpins_compact (zkv_ldbpins_t *self, const uint8_t *start, size_t slen,
                          const uint8_t *limit, size_t llen);
void zkv_ldbpins_counters (zkv_ldbpins_t *self, zkv_ldbpins_counters_t *out);
// The node is stopping: views closed from now on compact nothing. A compaction put off for a
// view can take seconds (a whole old generation of a group's state), and a stopping node must
// exit promptly; LevelDB's own compactions reclaim that space as the levels fill.
void zkv_ldbpins_stopping (zkv_ldbpins_t *self);

#endif
