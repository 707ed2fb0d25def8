// The search's set of linearized operations, and its cache of (set, state) pairs reached.
//
// Lowe (2017, §4) and Porcupine (checker.go, checkSingle): two paths that linearize the same
// set of operations and reach the same state have the same future, so a cache of the pairs
// already reached prunes the search from exponential to, in practice, near linear.
//
// The set is a bitset over operation ids. The cache stores it compactly: k, the length of the
// prefix of ids all linearized, and the ids above k that are. With ids in call order (the
// open-ended operations last) only the few in flight lie above k. Its hash is Zobrist's: an xor
// of one fixed pseudo-random word per linearized id, updated in O(1) per step.
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct lin_slot {
    uint64_t hash;  // of the set and state
    uint32_t state; // UINT32_MAX for a free slot
    uint32_t k;     // ids < k are all linearized
    uint64_t off;   // the linearized ids above k: arena[off .. off + m)
    uint32_t m;     // how many
} s_slot_t;

static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void
s_grow (lin_cache_t *self)
{
    s_slot_t *old = self->slots;
    size_t old_cap = self->cap;
    self->cap = old_cap ? old_cap * 2 : 1024;
    s_slot_t *slots = zkv_malloc (self->cap * sizeof *slots);
    for (size_t i = 0; i < self->cap; i++)
        slots[i].state = UINT32_MAX;
    size_t mask = self->cap - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].state == UINT32_MAX)
            continue;
        size_t i = old[j].hash & mask;
        while (slots[i].state != UINT32_MAX)
            i = (i + 1) & mask;
        slots[i] = old[j];
    }
    free (old);
    self->slots = slots;
}

void
lin_cache_init (lin_cache_t *self, size_t n)
{
    memset (self, 0, sizeof *self);
    self->n = n;
    self->words = (n + 63) / 64;
    self->bits = calloc (self->words ? self->words : 1, sizeof *self->bits);
    if (!self->bits)
        abort ();
    self->above = zkv_malloc (n * sizeof *self->above);
    s_grow (self);
}

void
lin_cache_free (lin_cache_t *self)
{
    free (self->bits);
    free (self->above);
    free (self->slots);
    free (self->arena);
    memset (self, 0, sizeof *self);
}

static uint64_t
s_zobrist (uint32_t op)
{
    return s_mix ((uint64_t)op + 0x9e3779b97f4a7c15ULL);
}

void
lin_cache_set (lin_cache_t *self, uint32_t op)
{
    assert (op < self->n);
    size_t w = op / 64;
    assert (!(self->bits[w] & (1ULL << (op % 64))));
    self->bits[w] |= 1ULL << (op % 64);
    self->zobrist ^= s_zobrist (op);
    if (w >= self->hi)
        self->hi = w + 1;
    while (self->lo < self->words && self->bits[self->lo] == ~0ULL)
        self->lo++;
}

void
lin_cache_clear (lin_cache_t *self, uint32_t op)
{
    assert (op < self->n);
    size_t w = op / 64;
    assert (self->bits[w] & (1ULL << (op % 64)));
    self->bits[w] &= ~(1ULL << (op % 64));
    self->zobrist ^= s_zobrist (op);
    if (w < self->lo)
        self->lo = w;
    while (self->hi > 0 && self->bits[self->hi - 1] == 0)
        self->hi--;
}

uint32_t
lin_cache_first_unset (const lin_cache_t *self, const uint64_t *mask, uint32_t from, uint32_t to)
{
    size_t w = from / 64;
    if (w < self->lo)
        w = self->lo; // every id below lo * 64 is set
    for (; w * 64 < to; w++) {
        uint64_t b = mask[w] & ~self->bits[w];
        if (w == from / 64)
            b &= ~0ULL << (from % 64);
        if (b) {
            uint32_t id = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll (b);
            return id < to ? id : UINT32_MAX;
        }
    }
    return UINT32_MAX;
}

// The compact form of the set: returns k and fills self->above with the m ids above k.
static uint32_t
s_compact (lin_cache_t *self, uint32_t *m)
{
    uint32_t k = (uint32_t)self->n;
    if (self->lo < self->words)
        k = (uint32_t)(self->lo * 64) + (uint32_t)__builtin_ctzll (~self->bits[self->lo]);
    *m = 0;
    for (size_t w = self->lo; w < self->hi; w++) {
        uint64_t b = self->bits[w];
        while (b) {
            uint32_t id = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll (b);
            b &= b - 1;
            if (id > k)
                self->above[(*m)++] = id;
        }
    }
    return k;
}

bool
lin_cache_add (lin_cache_t *self, uint32_t state)
{
    uint32_t m;
    uint32_t k = s_compact (self, &m);
    uint64_t hash = s_mix (self->zobrist ^ ((uint64_t)state * 0xff51afd7ed558ccdULL));
    size_t mask = self->cap - 1;
    size_t i = hash & mask;
    for (; self->slots[i].state != UINT32_MAX; i = (i + 1) & mask) {
        const s_slot_t *c = &self->slots[i];
        if (c->hash == hash && c->state == state && c->k == k && c->m == m &&
            (m == 0 || memcmp (self->arena + c->off, self->above, m * sizeof *self->above) == 0))
            return false;
    }
    if (self->arena_size + m > self->arena_cap) {
        while (self->arena_size + m > self->arena_cap)
            self->arena_cap = self->arena_cap ? self->arena_cap * 2 : 4096;
        self->arena = realloc (self->arena, self->arena_cap * sizeof *self->arena);
        if (!self->arena)
            abort ();
    }
    if (m) // the arena may still be NULL
        memcpy (self->arena + self->arena_size, self->above, m * sizeof *self->above);
    self->slots[i] = (s_slot_t){hash, state, k, self->arena_size, m};
    self->arena_size += m;
    if (++self->count * 2 > self->cap)
        s_grow (self);
    return true;
}

uint64_t
lin_cache_memory (const lin_cache_t *self)
{
    return self->cap * sizeof (s_slot_t) + self->arena_cap * sizeof (uint32_t) +
           self->words * sizeof (uint64_t) + self->n * sizeof (uint32_t);
}
