// The KV store implementations (cluster/zkv_kvstore.h is the interface): memory and LevelDB,
// and the key and value encodings the two share.
#ifndef ZKV_KVSTORES_H
#define ZKV_KVSTORES_H

#include "zkv_kvstore.h"
#include "zkv_logstore.h"

// Shared by the two implementations (storage/zkv_kvstore_mem.c): the encoded keys and values
// described at the top of cluster/zkv_kvstore.h.
#define ZKV_KVSTORE_KIND_DATA    'k'
#define ZKV_KVSTORE_KIND_DEDUP   'c'
#define ZKV_KVSTORE_KIND_APPLIED 'a'
#define ZKV_KVSTORE_PREFIX_MAX   (1 + 8 + 4)
// Writes kind + group (+ shard if with_shard) to out; returns the length.
size_t zkv_kvstore_prefix (uint8_t *out, uint8_t kind, uint64_t group, bool with_shard,
                           uint32_t shard);
// kind + group + shard + suffix into a new heap buffer (free() it).
uint8_t *zkv_kvstore_key (uint8_t kind, uint64_t group, uint32_t shard, const uint8_t *suffix,
                          size_t suffix_len, size_t *len_p);
// Dedup record value and key; decoding checks every length (ZKV_ECORRUPT).
uint8_t *zkv_kvstore_dedup_key (uint64_t group, const zkv_kvdedup_t *rec, size_t *len_p);
uint8_t *zkv_kvstore_dedup_value (const zkv_kvdedup_t *rec, size_t *len_p);
int zkv_kvstore_dedup_decode (const uint8_t *key, size_t key_len, const uint8_t *value,
                              size_t value_len, zkv_kvdedup_t *rec);
// Applied index value: version byte + big-endian index.
#define ZKV_KVSTORE_APPLIED_LEN 9
void zkv_kvstore_applied_value (uint8_t *out, uint64_t applied);
int zkv_kvstore_applied_decode (const uint8_t *value, size_t len, uint64_t *applied);
// Splits a data key into shard and user key (pointing into key); ZKV_ECORRUPT if too short.
int zkv_kvstore_data_key_decode (const uint8_t *key, size_t len, uint32_t *shard,
                                 const uint8_t **user_key, size_t *user_key_len);

// The memory implementation (storage/zkv_kvstore_mem.c). Committed batches survive
// zkv_kvstore_mem_crash; nothing else does (a batch open at the crash commits with
// ZKV_ESTOPPED).
zkv_kvstore_t *zkv_kvstore_mem_new (void);
void zkv_kvstore_mem_crash (zkv_kvstore_t *self);
// Bytes of keys and values held, for bounded-growth checks.
size_t zkv_kvstore_mem_bytes (zkv_kvstore_t *self);

// The LevelDB implementation (storage/zkv_kvstore_ldb.c), in the database of a LevelDB log
// store (zkv_ldbstore_new), which must outlive it. NULL if logstore is not a LevelDB store.
zkv_kvstore_t *zkv_kvstore_ldb_new (zkv_logstore_t *logstore);

#endif
