// A hash map from u64 keys to pointers: open addressing with linear probing and backward-shift
// deletion (no tombstones), never more than half full. Iteration order is the table's, which
// depends only on the keys inserted and removed, never on addresses: deterministic.
#ifndef ZKV_U64MAP_H
#define ZKV_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key; // the key
    void *value;  // its value (NULL: free slot)
} zkv_u64map_slot_t;

typedef struct {
    zkv_u64map_slot_t *slots; // capacity slots, a power of two (NULL when empty)
    size_t capacity;          // number of slots
    size_t count;             // used slots
} zkv_u64map_t;

// The value under key, or NULL.
void *zkv_u64map_get (const zkv_u64map_t *map, uint64_t key);
// Sets key's value (value must not be NULL); returns the previous one, or NULL.
void *zkv_u64map_put (zkv_u64map_t *map, uint64_t key, void *value);
// Removes key; returns its value, or NULL.
void *zkv_u64map_remove (zkv_u64map_t *map, uint64_t key);
// Frees the table (not the values) and empties the map.
void zkv_u64map_free (zkv_u64map_t *map);
// Every key into keys (at least map->count of them), in table order; returns how many.
size_t zkv_u64map_keys (const zkv_u64map_t *map, uint64_t *keys);

#endif
