// Shard migration inside a shard group's KV state machine (zkv_kv.h): the replicated half. Which
// configuration the group is in, and each shard's state in it, change only by applying log
// entries, so every replica agrees on when a shard is gained or lost, across crashes and
// snapshots. The leader's half, which decides what to propose and whom to ask, is the shard
// mover (zkv_mover.h).
//
// Configurations are processed one at a time, in order. A ZKV_OP_CONFIG entry carrying
// configuration n+1 is applied only when the group is in n and every shard is settled (serving
// or none); it then moves each shard:
//     kept                 SERVING stays SERVING (it never stops serving)
//     gained from nobody   SERVING at once, empty (configuration 1, a shard no group had)
//     gained from group P  PULLING from P: not served until its last chunk is installed
//     lost to group Q      HANDOFF: not served, kept frozen until Q holds it
// A ZKV_OP_CHUNK entry installs a pulled chunk (dedup records, then keys) only if it starts where
// the shard's progress stands, and moves the progress to its end: a chunk logged twice, or by a
// deposed leader, installs once. The last chunk makes the shard SERVING. A ZKV_OP_GC entry
// deletes a HANDOFF shard (data and dedup records) once its new owner holds it: NONE.
//
// A handed-off shard is frozen from the configuration entry on (writes to it answer "wrong
// group" when applied), so any replica that applied that entry holds the same bytes of it: a
// pull is answered from the applied state without a ReadIndex round (zkv_kv_shards_pull).
//
// The state is stored in the group's store under a meta shard (ZKV_KV_META_SHARD, above every
// real shard): "cfg" and "prev" (config_reply of the current and previous configuration;
// absent: configuration 0) and "s" + shard (4 bytes big-endian, a shard_meta). Snapshots carry
// it like data, so a replica installing one installs the migration state with it.
#ifndef ZKV_KV_SHARDS_H
#define ZKV_KV_SHARDS_H

#include "zkv_kv.h"
#include "zkv_routing.h"

// The storage shard of the migration state: no key hashes to it.
#define ZKV_KV_META_SHARD UINT32_MAX

// Turns configuration following on: the state is loaded from the store (configuration 0, every
// shard NONE, when there is none), and the shards served are those SERVING from now on (not
// zkv_kv_set_owned's). 0 or a store error (or ZKV_ECORRUPT).
int zkv_kv_shards_enable (zkv_kv_t *kv);
bool zkv_kv_shards_enabled (const zkv_kv_t *kv);

// The current configuration (number 0: none yet) and the previous one (NULL: none).
const zkv_routing_t *zkv_kv_shards_config (const zkv_kv_t *kv);
const zkv_routing_t *zkv_kv_shards_prev (const zkv_kv_t *kv);
// The state of a shard (borrowed; valid until the next apply).
const zkv_shard_meta_t *zkv_kv_shards_meta (const zkv_kv_t *kv, uint32_t shard);
// True when no shard is PULLING or HANDOFF: the next configuration may start.
bool zkv_kv_shards_settled (const zkv_kv_t *kv);
// Counts of shards per zkv_shard_state_t (4 entries).
void zkv_kv_shards_counts (const zkv_kv_t *kv, uint32_t counts[4]);

// Answers a pull (another group's, for a shard this group hands off): the chunk at the pull's
// position, at most max_bytes of records (at least one), as an encoded shard_chunk in *out.
// ZKV_ENOTREADY while the group has not reached the pull's configuration, ZKV_ESTALE when the
// shard is not handed off in it (deleted already: the puller has it), ZKV_EINVAL for a bad
// position; or a store error.
int zkv_kv_shards_pull (zkv_kv_t *kv, const zkv_shard_pull_t *pull, size_t max_bytes,
                        zkv_bytes_t *out);
// 0 if this group holds shard of configuration num (it is past num, or in num with the shard
// installed), ZKV_ENOTREADY if not yet.
int zkv_kv_shards_have (const zkv_kv_t *kv, uint64_t num, uint32_t shard);

// The log commands (kv_command, client 0), free() *buf_p: start configuration (cfg: an encoded
// config_reply), install a chunk (an encoded shard_chunk), delete a handed-off shard.
int zkv_kv_shards_cmd (uint64_t op, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len, uint8_t **buf_p, size_t *len_p);

// Events the applies since the last call produced (topics zkv.shard.*, bodies event_shard with
// node and time 0: the host stamps them). Moves them to the caller: free with
// zkv_kv_shard_events_free.
typedef struct {
    const char *topic;        // static string
    zkv_event_shard_t body;   // its body
} zkv_kv_shard_event_t;

typedef struct {
    zkv_kv_shard_event_t *items; // in order
    size_t count;
} zkv_kv_shard_events_t;

void zkv_kv_shards_take_events (zkv_kv_t *kv, zkv_kv_shard_events_t *out);
void zkv_kv_shard_events_free (zkv_kv_shard_events_t *events);

#endif
