// Internals of the KV state machine shared by its files: the struct and a small hash map.
#ifndef ZKV_KV_INT_H
#define ZKV_KV_INT_H

#include "zkv_kv.h"

// One slot of a map keyed by (shard, key bytes). The dedup table keys by (shard, client id as
// 8 big-endian bytes) and uses seq / status / last_ms / value; the apply overlay keys by
// (shard, user key) and uses value.
typedef struct {
    bool used;         // slot holds an entry
    uint32_t shard;    // key part 1
    zkv_bytes_t key;   // key part 2, owned
    uint64_t hash;     // hash of (shard, key)
    uint64_t seq;      // dedup: last seq applied
    uint64_t status;   // dedup: its reply status (positive ZKV code or 0)
    uint64_t last_ms;  // dedup: log time of the client's last request applied on the shard
    bool deleted;      // overlay: the key was deleted in this batch (value empty)
    zkv_bytes_t value; // dedup: reply value; overlay: the key's new stored value; owned
} zkv_kv_slot_t;

// Open addressing with linear probing; never more than half full. Removal shifts the entries
// after it back (zkv_kv_map_remove), so a probe never meets a hole it should have passed.
typedef struct {
    zkv_kv_slot_t *slots; // capacity slots, a power of two (NULL when empty)
    size_t capacity;      // number of slots
    size_t count;         // used slots
} zkv_kv_map_t;

zkv_kv_slot_t *zkv_kv_map_find (const zkv_kv_map_t *map, uint32_t shard, const uint8_t *key,
                                size_t key_len);
// The slot for (shard, key), created (zeroed but for the key) if missing.
zkv_kv_slot_t *zkv_kv_map_upsert (zkv_kv_map_t *map, uint32_t shard, const uint8_t *key,
                                  size_t key_len);
void zkv_kv_map_free (zkv_kv_map_t *map);
// Removes (shard, key) if present (true), freeing its bytes. Slot pointers into the map are
// invalid after it.
bool zkv_kv_map_remove (zkv_kv_map_t *map, uint32_t shard, const uint8_t *key, size_t key_len);

// The dedup key of a client: its id as 8 big-endian bytes, and back.
void zkv_kv_client_key (uint64_t client_id, uint8_t out[8]);
uint64_t zkv_kv_client_of (const zkv_kv_slot_t *slot);
// A dedup record into a slot of the table (the value copied).
void zkv_kv_slot_set (zkv_kv_slot_t *slot, const zkv_kvdedup_t *rec);

// Stored values: the key's revision (8 bytes, big-endian), then the value ("Revisions" in
// zkv_kv.h). The apply overlay and shard chunks carry values stored this way.
#define ZKV_KV_REV_BYTES 8
// A new stored value (out owns its bytes).
void zkv_kv_value_pack (uint64_t revision, const uint8_t *data, size_t len, zkv_bytes_t *out);
// Strips the revision from a stored value in place; ZKV_ECORRUPT when it is too short.
int zkv_kv_value_unpack (zkv_bytes_t *stored, uint64_t *revision);
// A KV write's dedup value is its answer's revision (so a retry gets the same one); empty
// for an answer without one. *revision 0 for any other value.
void zkv_kv_dedup_value (uint64_t revision, zkv_bytes_t *out);
uint64_t zkv_kv_dedup_revision (const zkv_bytes_t *value);

// Removes every entry of one shard (rebuilds the map).
void zkv_kv_map_drop_shard (zkv_kv_map_t *map, uint32_t shard);

typedef struct zkv_kv_shards zkv_kv_shards_t;

struct zkv_kv {
    zkv_kvstore_t *store;   // where data, dedup records and applied live (not owned)
    uint64_t group;         // group id
    uint32_t nshards;       // shards of the key space
    zkv_kv_limits_t limits; // key and value limits
    uint32_t gen;           // the current generation (0 or 1), see zkv_kv.h
    uint64_t sid;           // its storage id, the store's key prefix: zkv_kv_sid (group, gen);
                            // every read and write of the state (shard deletes too) uses it
    uint64_t applied;       // last index applied and committed to the store
    zkv_kv_map_t dedup;     // dedup records as applied (mirror of the store's; a failed commit
                            // reloads it, zkv_kv_reload)
    uint64_t log_ms;        // log time: the largest time_ms applied ("Client sessions")
    uint64_t *evicted;      // evicted[s]: shard s's evicted_through (0: none evicted)
    uint64_t cap_wait_ms;   // no session is old enough to go for the cap before this log time:
                            // a cache of a scan, never a decision (0: scan)
    zkv_kv_session_stats_t stats; // this replica's counters
    bool *owned;            // owned[s]: shard s is served here (NULL: every shard)
    zkv_kv_exec_fn *exec;   // executor of ops other than Put / Append (NULL: none)
    void *exec_arg;         // its argument
    zkv_kv_shards_t *shards; // configuration following (zkv_kv_shards.h), NULL when off
};

// One apply call (zkv_kv_apply.c): its batch, and the values it wrote so far, visible to the
// entries after (the store shows only what was committed before the call). Dedup records and
// the session state change in the state machine itself: a failed commit reloads them.
struct zkv_kv_exec {
    zkv_kv_t *kv;         // the state machine
    zkv_kvbatch_t *batch; // this call's writes
    zkv_kv_map_t data;    // (shard, key) -> value written in this batch
    bool *deleted;        // deleted[s]: shard s was deleted in this batch (NULL: none was)
    uint32_t shard;       // executor calls: the command's shard
    uint64_t index;       // the log index of the entry being applied
    uint64_t log_ms;      // the log time when the call began (written back if it moved)
    bool *evicted_dirty;  // evicted_dirty[s]: shard s's evicted_through moved (NULL: none did)
};

// In an apply: writes key's value (taken from *value) to the batch and the overlay.
void zkv_kv_apply_write (zkv_kv_exec_t *a, uint32_t shard, const zkv_bytes_t *key,
                         zkv_bytes_t *value);
// In an apply: a dedup record into the batch and the table.
void zkv_kv_apply_dedup (zkv_kv_exec_t *a, const zkv_kvdedup_t *rec);
// In an apply: deletes a shard's data and dedup records (store, table and overlay).
int zkv_kv_apply_delete_shard (zkv_kv_exec_t *a, uint32_t shard);

// zkv_kv_shards.c: applies a ZKV_OP_CONFIG / CHUNK / GC command (the entry's outcome in r);
// returns a store error. reload: the state from the store again (after a snapshot replaced
// it); free: at destroy.
int zkv_kv_shards_apply (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd, zkv_kv_result_t *r);
int zkv_kv_shards_reload (zkv_kv_t *kv);
void zkv_kv_shards_free (zkv_kv_t *kv);

// Generations (zkv_kv.h, "Streamed snapshots"). A group's state lives under one of two storage
// ids, group | gen << 63; the generation that is not current holds a staged stream, or
// garbage, or nothing. Each generation's applied row tells which it is:
//     0                               nothing: never written, or emptied (the current
//                                     generation of a new store, at applied 0)
//     ZKV_KV_APPLIED_INCOMPLETE       a stream being staged, or leftovers: not a state
//     ZKV_KV_STAGED_BIT | S           a whole staged stream of the state at S, not yet current
//     anything else                   the current generation's applied index
#define ZKV_KV_STAGED_BIT (1ULL << 63)

static inline uint64_t
zkv_kv_sid (uint64_t group, uint32_t gen)
{
    return group | ((uint64_t)gen << 63);
}

// True if an applied row holds a current state's index.
static inline bool
zkv_kv_row_valid (uint64_t row)
{
    return row != 0 && !(row & ZKV_KV_STAGED_BIT);
}

// True if an applied row holds a whole staged state (its index: row & ~ZKV_KV_STAGED_BIT).
static inline bool
zkv_kv_row_staged (uint64_t row)
{
    return row != ZKV_KV_APPLIED_INCOMPLETE && (row & ZKV_KV_STAGED_BIT);
}

// Finds the current generation of group in store (a store or a view) and its applied index
// (ZKV_KV_APPLIED_INCOMPLETE for a store an older version left mid-install); *other_row is the
// other generation's applied row. ZKV_ECORRUPT if both generations claim to be current.
int zkv_kv_find_current (zkv_kvstore_t *store, uint64_t group, uint32_t *gen, uint64_t *applied,
                         uint64_t *other_row);

// Fills the dedup table from the store (used at boot and after a restore); sid is a storage id.
int zkv_kv_load_dedup (zkv_kvstore_t *store, uint64_t sid, zkv_kv_map_t *map);

// --- Client sessions (zkv_kv_sessions.c; zkv_kv.h, "Client sessions") -----------------------

// The meta-shard keys of the session state: the log time, and each shard's evicted_through.
#define ZKV_KV_CLOCK_KEY "time"
#define ZKV_KV_EVICTED_KEY 'x' // + shard, 4 bytes big-endian

// Reloads the state the store holds (dedup table, log time, evicted_through, shard states):
// at boot (without the shards' part), after a restore or a promotion, after a failed commit.
int zkv_kv_reload (zkv_kv_t *kv);
// Loads the log time and evicted_through of kv's current generation.
int zkv_kv_sessions_load (zkv_kv_t *kv);
// In an apply, before a client's command: the log time moves to the command's time_ms, and a
// sweep evicts the sessions idle past its session_ttl_ms when the log time passed a sweep point.
void zkv_kv_sessions_clock (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd);
// In an apply, for a command of a client the shard has no record of: 0 to apply it, else the
// answer (r->status, r->error): ZKV_ESESSION (its session there may have expired) or ZKV_EBUSY
// (the table is at max_sessions and no session is idle long enough to make room).
int zkv_kv_sessions_admit (zkv_kv_exec_t *a, uint32_t shard, const zkv_kv_command_t *cmd,
                           zkv_kv_result_t *r);
// True if a client unknown to shard, whose request carries session_t0, may have had its
// session there evicted.
bool zkv_kv_session_maybe_evicted (const zkv_kv_t *kv, uint32_t shard, uint64_t session_t0);
// In an apply: shard's evicted_through rises to at least ms (a pulled chunk's).
void zkv_kv_sessions_evicted_max (zkv_kv_exec_t *a, uint32_t shard, uint64_t ms);
// At the end of an apply: the log time and the evicted_through that moved, into the batch once.
void zkv_kv_sessions_flush (zkv_kv_exec_t *a);

#endif
