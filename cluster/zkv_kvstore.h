// KV data store: the interface the pure KV state machine (cluster/zkv_kv.h) keeps its data in.
//
// Per group and shard it holds the user's keys and values, the per-client dedup records (client
// id -> last sequence applied and its reply) and, per group, the applied index. Writes go through
// a batch that commits atomically: data, dedup records and the applied index of the same Raft
// entries land together or not at all.
//
// Durability: a commit does NOT fsync. The Raft log is the durable source of truth and the
// applied index, written in the same batch as the data, says where to replay it from: whatever a
// machine crash takes back (a suffix of commits; LevelDB recovers a prefix of its write-ahead
// log), the log re-applies. When the log was compacted past the applied index the store lost, the
// node restores the Raft snapshot first (see zkv_kv.h, "Boot"). On LevelDB the next synced write of
// the log store fsyncs the same write-ahead log, so KV commits rarely stay volatile for long.
//
// One store serves every group a node hosts. The core owns this interface (cluster/); storage/
// implements it (storage/zkv_kvstores.h), twice, under one contract test (tests/unit/test_kv.c):
// memory (the simulator's: hundreds per process, no static state) and LevelDB (the node's
// database, shared with its Raft log store).
//
// Keys in LevelDB (the memory store orders the same encoded keys the same way), big-endian
// integers so that bytewise order is numeric order:
//     'k' + group u64 + shard u32 + user key bytes   -> the user's value, as is
//     'c' + group u64 + shard u32 + client id u64    -> dedup record (version, seq, status,
//                                                       last_ms, value)
//     'a' + group u64                                -> applied index (version, index)
// The Raft log store owns 'e', 'h', 'm' and 's'.
//
// "group" here is a storage id: the KV state machine keeps two generations of a group's state
// (the current one, and a snapshot stream being staged) under group | gen << 63, gen 0 or 1
// (cluster/zkv_kv_int.h). The store gives the top bit no meaning; group ids stay below 2^63
// (config/ allows 0..65535).
//
// Dedup records are kept per shard, not per group, so that a shard that migrates takes exactly
// its own clients' records with it, and a shard's garbage collection deletes them.
//
// This header is all the pure core needs: the dispatch functions are static inline, so cluster/
// calls a store without linking storage/ (or LevelDB).
#ifndef ZKV_KVSTORE_H
#define ZKV_KVSTORE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_msg.h"

// One dedup record: the last request of a client applied to a shard, and its reply.
typedef struct {
    uint32_t shard;     // shard the record belongs to
    uint64_t client_id; // the client
    uint64_t seq;       // last sequence number applied for it
    uint64_t status;    // that request's reply status: 0, or the positive value of a ZKV_E* code
    uint64_t last_ms;   // log time of its last request applied on the shard (zkv_kv.h, sessions)
    zkv_bytes_t value;  // that reply's value (empty for Put / Append), owned
} zkv_kvdedup_t;

// One item of a group's data.
typedef struct {
    uint32_t shard;    // shard of the key
    zkv_bytes_t key;   // user key, owned
    zkv_bytes_t value; // its value, owned
} zkv_kvitem_t;

// A position in a group's data: the first item >= (shard, key) in (shard, key bytes) order.
typedef struct {
    uint32_t shard;  // shard to start in
    zkv_bytes_t key; // key to start at (empty: the shard's first key), owned
} zkv_kvpos_t;

// One bounded chunk of a scan.
typedef struct {
    zkv_kvitem_t *items; // items in order, owned
    size_t count;        // number of items
    bool more;           // items remain after these: scan again from next
    zkv_kvpos_t next;    // where the next chunk starts (valid when more)
} zkv_kvchunk_t;

// A write batch; its type is the implementation's.
typedef struct zkv_kvbatch zkv_kvbatch_t;

// An implementation: a table of functions over its own state (impl).
typedef struct {
    const char *name; // "memory", "leveldb"
    // Owned copy of the value of key in (group, shard), or ZKV_ENOTFOUND.
    int (*get) (void *impl, uint64_t group, uint32_t shard, const uint8_t *key, size_t key_len,
                zkv_bytes_t *value);
    // The group's applied index (0 when never set).
    int (*load_applied) (void *impl, uint64_t group, uint64_t *applied);
    // Every dedup record of the group, in (shard, client id) order; *recs_p is owned (free with
    // zkv_kvdedup_free_all).
    int (*load_dedup) (void *impl, uint64_t group, zkv_kvdedup_t **recs_p, size_t *n_p);
    // Items of the group from *from, up to and including shard last_shard, in order: at least one
    // item (if any remain) and otherwise no more than max_bytes of keys and values.
    int (*scan) (void *impl, uint64_t group, const zkv_kvpos_t *from, uint32_t last_shard,
                 size_t max_bytes, zkv_kvchunk_t *out);
    zkv_kvbatch_t *(*batch_new) (void *impl);
    void (*put) (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
                 size_t key_len, const uint8_t *value, size_t value_len);
    void (*del) (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
                 size_t key_len);
    void (*put_dedup) (void *impl, zkv_kvbatch_t *b, uint64_t group, const zkv_kvdedup_t *rec);
    // Deletes one client's dedup record of a shard (an expired session).
    void (*del_dedup) (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard,
                       uint64_t client_id);
    void (*set_applied) (void *impl, zkv_kvbatch_t *b, uint64_t group, uint64_t applied);
    // Deletes the data and dedup records of one shard (all_shards: of the whole group) as
    // committed when called; put them before later writes to the same keys in the batch.
    int (*delete_shard) (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard,
                         bool all_shards);
    // Writes the batch atomically and destroys it.
    int (*commit) (void *impl, zkv_kvbatch_t *b);
    // Destroys a batch without writing it.
    void (*batch_destroy) (void *impl, zkv_kvbatch_t *b);
    void (*destroy) (void *impl);
    // A read-only point-in-time view of the store (its own impl and ops), or NULL when the
    // implementation has none. See zkv_kvstore_view.
    struct zkv_kvstore_s *(*view) (void *impl);
    // Approximate bytes the group's data and dedup records take (optional; NULL: unknown).
    uint64_t (*approx_bytes) (void *impl, uint64_t group);
} zkv_kvstore_ops_t;

// A store: the implementation's functions and state. Visible so the dispatch below can be
// inline; treat as opaque.
typedef struct zkv_kvstore_s {
    const zkv_kvstore_ops_t *ops; // the implementation's functions
    void *impl;                   // its state, owned
} zkv_kvstore_t;

// Frees a dedup record's value / an array of records / a chunk / a position.
void zkv_kvdedup_free_all (zkv_kvdedup_t *recs, size_t n);
void zkv_kvchunk_free (zkv_kvchunk_t *chunk);

// Wraps an implementation; the store owns impl and destroys it through ops->destroy.
static inline zkv_kvstore_t *
zkv_kvstore_wrap (const zkv_kvstore_ops_t *ops, void *impl)
{
    assert (ops);
    zkv_kvstore_t *self = (zkv_kvstore_t *)calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->ops = ops;
    self->impl = impl;
    return self;
}

// Destroys the store (not the log store it may share a database with); nulls *self_p.
static inline void
zkv_kvstore_destroy (zkv_kvstore_t **self_p)
{
    assert (self_p);
    zkv_kvstore_t *self = *self_p;
    if (!self)
        return;
    self->ops->destroy (self->impl);
    free (self);
    *self_p = NULL;
}

static inline int
zkv_kvstore_get (zkv_kvstore_t *self, uint64_t group, uint32_t shard, const uint8_t *key,
                 size_t key_len, zkv_bytes_t *value)
{
    assert (self && value && (key || key_len == 0));
    value->data = NULL;
    value->len = 0;
    return self->ops->get (self->impl, group, shard, key, key_len, value);
}

static inline int
zkv_kvstore_load_applied (zkv_kvstore_t *self, uint64_t group, uint64_t *applied)
{
    assert (self && applied);
    *applied = 0;
    return self->ops->load_applied (self->impl, group, applied);
}

static inline int
zkv_kvstore_load_dedup (zkv_kvstore_t *self, uint64_t group, zkv_kvdedup_t **recs_p, size_t *n_p)
{
    assert (self && recs_p && n_p);
    *recs_p = NULL;
    *n_p = 0;
    return self->ops->load_dedup (self->impl, group, recs_p, n_p);
}

// Reads the next chunk of the group's data; out is emptied first and owned by the caller after
// (zkv_kvchunk_free). A whole-group scan passes last_shard UINT32_MAX; one shard s passes
// from = {s, empty} and last_shard s. Chunks read at different times may see different data:
// a caller that needs one consistent view must not commit to the group between chunks.
static inline int
zkv_kvstore_scan (zkv_kvstore_t *self, uint64_t group, const zkv_kvpos_t *from, uint32_t last_shard,
                  size_t max_bytes, zkv_kvchunk_t *out)
{
    assert (self && from && out);
    memset (out, 0, sizeof *out);
    return self->ops->scan (self->impl, group, from, last_shard, max_bytes, out);
}

static inline zkv_kvbatch_t *
zkv_kvstore_batch_new (zkv_kvstore_t *self)
{
    assert (self);
    return self->ops->batch_new (self->impl);
}

static inline void
zkv_kvstore_put (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group, uint32_t shard,
                 const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    assert (self && b && (key || key_len == 0) && (value || value_len == 0));
    self->ops->put (self->impl, b, group, shard, key, key_len, value, value_len);
}

static inline void
zkv_kvstore_del (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group, uint32_t shard,
                 const uint8_t *key, size_t key_len)
{
    assert (self && b && (key || key_len == 0));
    self->ops->del (self->impl, b, group, shard, key, key_len);
}

static inline void
zkv_kvstore_put_dedup (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group,
                       const zkv_kvdedup_t *rec)
{
    assert (self && b && rec);
    self->ops->put_dedup (self->impl, b, group, rec);
}

static inline void
zkv_kvstore_del_dedup (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group, uint32_t shard,
                       uint64_t client_id)
{
    assert (self && b);
    self->ops->del_dedup (self->impl, b, group, shard, client_id);
}

static inline void
zkv_kvstore_set_applied (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group, uint64_t applied)
{
    assert (self && b);
    self->ops->set_applied (self->impl, b, group, applied);
}

// Deletes one shard's data and dedup records in the batch (migration garbage collection).
static inline int
zkv_kvstore_delete_shard (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group, uint32_t shard)
{
    assert (self && b);
    return self->ops->delete_shard (self->impl, b, group, shard, false);
}

// Deletes every shard's data and dedup records of the group in the batch (snapshot restore).
static inline int
zkv_kvstore_clear_group (zkv_kvstore_t *self, zkv_kvbatch_t *b, uint64_t group)
{
    assert (self && b);
    return self->ops->delete_shard (self->impl, b, group, 0, true);
}

// A read-only view of the store as committed now: get, load_applied, load_dedup and scan
// through it keep seeing that state whatever is committed later (LevelDB: a leveldb snapshot;
// memory: a copy). Lets a snapshot transfer read one consistent state in bounded chunks while
// the applier keeps applying. Batches and commits through a view are refused (ZKV_EINVAL).
// Destroy it with zkv_kvstore_destroy (the store must outlive it). NULL if not supported.
static inline zkv_kvstore_t *
zkv_kvstore_view (zkv_kvstore_t *self)
{
    assert (self);
    return self->ops->view ? self->ops->view (self->impl) : NULL;
}

// Approximate bytes the group's data and dedup records take in the store (0 if unknown).
static inline uint64_t
zkv_kvstore_approx_bytes (zkv_kvstore_t *self, uint64_t group)
{
    assert (self);
    return self->ops->approx_bytes ? self->ops->approx_bytes (self->impl, group) : 0;
}

// Commits *b_p atomically and destroys it (also on error), nulling *b_p.
static inline int
zkv_kvstore_commit (zkv_kvstore_t *self, zkv_kvbatch_t **b_p)
{
    assert (self && b_p && *b_p);
    zkv_kvbatch_t *b = *b_p;
    *b_p = NULL;
    return self->ops->commit (self->impl, b);
}

// Destroys *b_p unwritten; safe on NULL.
static inline void
zkv_kvstore_batch_destroy (zkv_kvstore_t *self, zkv_kvbatch_t **b_p)
{
    assert (self && b_p);
    if (*b_p)
        self->ops->batch_destroy (self->impl, *b_p);
    *b_p = NULL;
}

#endif
