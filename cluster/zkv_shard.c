// The shard of a key (zkv_shard.h).
#include "zkv_shard.h"

#include <assert.h>

#define S_FNV_OFFSET 14695981039346656037ULL
#define S_FNV_PRIME  1099511628211ULL

uint64_t
zkv_fnv1a (const uint8_t *data, size_t len)
{
    uint64_t h = S_FNV_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= S_FNV_PRIME;
    }
    return h;
}

uint32_t
zkv_shard_of (const uint8_t *key, size_t key_len, uint32_t nshards)
{
    assert (nshards >= 1);
    return (uint32_t)(zkv_fnv1a (key, key_len) % nshards);
}
