// The shard of a key: FNV-1a 64 of its bytes modulo the cluster's shard count, fixed when the
// cluster is created. The one function servers (zkv_kv.h, zkv_routing.h) and clients
// (client/zkv_client_core.h) route by.
#ifndef ZKV_SHARD_H
#define ZKV_SHARD_H

#include <stddef.h>
#include <stdint.h>

// FNV-1a 64 of bytes.
uint64_t zkv_fnv1a (const uint8_t *data, size_t len);
// The shard of key among nshards (>= 1).
uint32_t zkv_shard_of (const uint8_t *key, size_t key_len, uint32_t nshards);

#endif
