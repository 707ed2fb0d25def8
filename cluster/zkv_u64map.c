// A u64 -> pointer hash map (zkv_u64map.h).
#include "zkv_u64map.h"

#include <stdlib.h>
#include <string.h>

static size_t
s_home (uint64_t key, size_t capacity)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (capacity - 1);
}

static zkv_u64map_slot_t *
s_find (const zkv_u64map_t *map, uint64_t key)
{
    if (map->count == 0)
        return NULL;
    size_t mask = map->capacity - 1;
    for (size_t i = s_home (key, map->capacity);; i = (i + 1) & mask) {
        zkv_u64map_slot_t *s = &map->slots[i];
        if (!s->value)
            return NULL; // never full: the probe ends
        if (s->key == key)
            return s;
    }
}

void *
zkv_u64map_get (const zkv_u64map_t *map, uint64_t key)
{
    zkv_u64map_slot_t *s = s_find (map, key);
    return s ? s->value : NULL;
}

static void
s_grow (zkv_u64map_t *map)
{
    size_t capacity = map->capacity ? 2 * map->capacity : 64;
    zkv_u64map_slot_t *slots = (zkv_u64map_slot_t *)calloc (capacity, sizeof *slots);
    if (!slots)
        abort (); // out of memory aborts (STYLE.md)
    for (size_t j = 0; j < map->capacity; j++) {
        if (!map->slots[j].value)
            continue;
        size_t i = s_home (map->slots[j].key, capacity);
        while (slots[i].value)
            i = (i + 1) & (capacity - 1);
        slots[i] = map->slots[j];
    }
    free (map->slots);
    map->slots = slots;
    map->capacity = capacity;
}

void *
zkv_u64map_put (zkv_u64map_t *map, uint64_t key, void *value)
{
    zkv_u64map_slot_t *s = s_find (map, key);
    if (s) {
        void *old = s->value;
        s->value = value;
        return old;
    }
    if (2 * (map->count + 1) > map->capacity)
        s_grow (map);
    size_t i = s_home (key, map->capacity);
    while (map->slots[i].value)
        i = (i + 1) & (map->capacity - 1);
    map->slots[i] = (zkv_u64map_slot_t){key, value};
    map->count++;
    return NULL;
}

void *
zkv_u64map_remove (zkv_u64map_t *map, uint64_t key)
{
    zkv_u64map_slot_t *s = s_find (map, key);
    if (!s)
        return NULL;
    void *value = s->value;
    size_t mask = map->capacity - 1;
    size_t hole = (size_t)(s - map->slots);
    // Backward shift: move later members of the probe run into the hole when their home slot
    // does not lie cyclically between the hole and them.
    for (size_t i = (hole + 1) & mask; map->slots[i].value; i = (i + 1) & mask) {
        size_t home = s_home (map->slots[i].key, map->capacity);
        bool between = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!between) {
            map->slots[hole] = map->slots[i];
            hole = i;
        }
    }
    map->slots[hole] = (zkv_u64map_slot_t){0, NULL};
    map->count--;
    return value;
}

void
zkv_u64map_free (zkv_u64map_t *map)
{
    free (map->slots);
    memset (map, 0, sizeof *map);
}

size_t
zkv_u64map_keys (const zkv_u64map_t *map, uint64_t *keys)
{
    size_t n = 0;
    for (size_t i = 0; i < map->capacity; i++)
        if (map->slots[i].value)
            keys[n++] = map->slots[i].key;
    return n;
}
