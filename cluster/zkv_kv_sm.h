// The KV service as a state machine behind the zkv_sm.h interface: zkv_kv (zkv_kv.h) over a
// KV store, with its blob and streamed snapshots.
#ifndef ZKV_KV_SM_H
#define ZKV_KV_SM_H

#include "zkv_kv.h"
#include "zkv_sm.h"

// The KV state machine of group over store (which must outlive it), serving the shards owned
// marks (owned[s] for each of nshards shards; NULL: all of them). NULL and *err on a bad
// argument or a store error.
zkv_sm_t *zkv_kv_sm_new (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
                         const zkv_kv_limits_t *limits, const bool *owned, int *err);

// The zkv_kv_t inside a KV state machine (for tests and the simulator's checks).
zkv_kv_t *zkv_kv_sm_kv (zkv_sm_t *sm);

#endif
