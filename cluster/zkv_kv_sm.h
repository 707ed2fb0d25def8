// The KV service as a state machine behind the zkv_sm.h interface: zkv_kv (zkv_kv.h) over a
// KV store, with its blob and streamed snapshots.
#ifndef ZKV_KV_SM_H
#define ZKV_KV_SM_H

#include "zkv_kv.h"
#include "zkv_mover.h"
#include "zkv_sm.h"

// The KV state machine of group over store (which must outlive it), serving the shards owned
// marks (owned[s] for each of nshards shards; NULL: all of them). NULL and *err on a bad
// argument or a store error.
zkv_sm_t *zkv_kv_sm_new (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
                         const zkv_kv_limits_t *limits, const bool *owned, int *err);

// The KV state machine of a shard group that follows the shard controller's configurations
// (zkv_kv_shards.h): it serves the shards its current configuration gives it once they have
// arrived, and its leader moves shards with a shard mover (zkv_mover.h, mover: its tunables).
// Other groups' pulls (ZKV_OP_PULL) and questions (ZKV_OP_HAVE) are answered from the applied
// state, whoever leads.
zkv_sm_t *zkv_kv_sm_new_sharded (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
                                 const zkv_kv_limits_t *limits, const zkv_mover_config_t *mover,
                                 int *err);
// Its mover (NULL for a KV state machine that follows no configuration).
zkv_mover_t *zkv_kv_sm_mover (zkv_sm_t *sm);

// The zkv_kv_t inside a KV state machine (for tests and the simulator's checks).
zkv_kv_t *zkv_kv_sm_kv (zkv_sm_t *sm);

#endif
