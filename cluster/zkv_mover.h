// The shard mover: what a shard group's leader does on its own to follow the controller's
// configurations (the replicated half, what its log entries do, is zkv_kv_shards.h). Pure: it
// runs inside the KV state machine's work (zkv_sm.h), on ticks and answers, and acts only
// through the driver's io (calls to other groups, proposals to its own log, events).
//
// While leading:
// - when every shard is settled, it asks the controller (group 0) for configuration n+1 every
//   poll_ticks (at once after one was applied) and proposes it (ZKV_OP_CONFIG);
// - for each PULLING shard (max_pulls at once) it pulls chunks from the previous owner, from
//   the position the shard's replicated progress names, and proposes each (ZKV_OP_CHUNK): the
//   next pull leaves as soon as a chunk arrives, while at most window chunks of the shard wait
//   to be applied, so fetching overlaps replication;
// - for each HANDOFF shard it asks the new owner whether it holds the shard (ZKV_OP_HAVE) and,
//   once it does, proposes its deletion (ZKV_OP_GC).
// Nothing of this is durable: a new leader starts from the replicated state, and every log
// command applies at most once whoever proposed it, so lost calls, duplicate proposals and
// leader changes cost time, never data. A call unanswered or a proposal unapplied for
// retry_ticks is made again.
#ifndef ZKV_MOVER_H
#define ZKV_MOVER_H

#include "zkv_kv.h"
#include "zkv_sm.h"

typedef struct {
    uint32_t poll_ticks;       // ask for the next configuration this often (and retry a refusal)
    uint32_t retry_ticks;      // a call or proposal with no effect this long is made again
    uint32_t call_deadline_ms; // each call's deadline at the frontend
    size_t chunk_bytes;        // records asked for per pulled chunk
    uint32_t window;           // chunks of one shard proposed and not yet applied, at most
    uint32_t max_pulls;        // shards pulled at once
    uint64_t rate_per_tick;    // records' bytes pulled per tick at most, on average (0: no limit);
                               // a pull leaves while the budget is positive, a burst of at most
                               // one chunk beyond it
} zkv_mover_config_t;

// 10 ticks, 200 ticks, 2 s, 1 MiB, 4 chunks, 8 shards, no rate limit.
void zkv_mover_config_defaults (zkv_mover_config_t *cfg);

typedef struct zkv_mover zkv_mover_t;

// A mover for kv (which must have configuration following on, zkv_kv_shards_enable).
zkv_mover_t *zkv_mover_new (const zkv_mover_config_t *cfg, zkv_kv_t *kv);
void zkv_mover_destroy (zkv_mover_t **self_p);

// zkv_sm_ops_t.work and .call_reply, for the KV state machine to forward.
void zkv_mover_work (zkv_mover_t *self, const zkv_sm_io_t *io, bool leading, uint64_t term,
                     bool tick);
void zkv_mover_reply (zkv_mover_t *self, const zkv_sm_io_t *io, uint64_t id, int status,
                      const zkv_bytes_t *value);

typedef struct {
    uint64_t queries;   // configuration queries sent
    uint64_t pulls;     // pulls sent
    uint64_t chunks;    // chunks proposed
    uint64_t haves;     // ownership questions sent
    uint64_t gcs;       // deletions proposed
    uint64_t configs;   // configurations proposed
    uint64_t refused;   // answers that were errors or did not match what was asked
} zkv_mover_counters_t;

void zkv_mover_counters (const zkv_mover_t *self, zkv_mover_counters_t *out);

#endif
