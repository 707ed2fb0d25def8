// Interned register states for the checker: each distinct string once, with its hash.
//
// The state of a register with append is its whole string, which grows with every append; the
// search compares states at every step and keeps them in its cache. Interning makes both an
// integer operation: a polynomial hash (h(s + v) = h(s) * B^|v| + h(v), so an append costs
// |v|, not |s|) finds candidates, and the full bytes decide equality, so a hash collision can
// cost time but never a wrong verdict.
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_BASE  0x100000001b3ULL // the FNV prime: odd, so powers never vanish mod 2^64
#define S_EMPTY UINT32_MAX

typedef struct {
    char *data;    // NUL-terminated bytes
    size_t size;   // without the NUL
    uint64_t hash; // polynomial hash of data
} s_state_t;

typedef struct {
    uint64_t key; // state << 32 | op
    uint32_t to;  // the resulting state, or S_EMPTY for a free slot
} s_edge_t;

struct _lin_states_t {
    s_state_t *states;  // by id
    uint32_t count;     // states interned
    uint32_t cap;       // states allocated
    uint32_t *index;    // hash table of state ids (S_EMPTY: free), linear probing
    size_t index_cap;   // its slots (a power of two)
    s_edge_t *edges;    // remembered appends: (state, op) -> state
    size_t edges_count; // edges used
    size_t edges_cap;   // slots (a power of two)
    uint64_t bytes;     // bytes of state strings held
};

static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Hash of bytes, and B^size in *power.
static uint64_t
s_hash (zkv_hist_str_t s, uint64_t *power)
{
    uint64_t h = 0, p = 1;
    for (size_t i = 0; i < s.size; i++) {
        h = h * S_BASE + (unsigned char)s.data[i];
        p *= S_BASE;
    }
    *power = p;
    return h;
}

lin_states_t *
lin_states_new (void)
{
    lin_states_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->index_cap = 64;
    self->index = zkv_malloc (self->index_cap * sizeof *self->index);
    memset (self->index, 0xff, self->index_cap * sizeof *self->index);
    self->edges_cap = 64;
    self->edges = zkv_malloc (self->edges_cap * sizeof *self->edges);
    for (size_t i = 0; i < self->edges_cap; i++)
        self->edges[i].to = S_EMPTY;
    uint32_t empty = lin_states_intern (self, (zkv_hist_str_t){"", 0});
    assert (empty == 0);
    return self;
}

void
lin_states_destroy (lin_states_t **self_p)
{
    assert (self_p);
    lin_states_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->count; i++)
        free (self->states[i].data);
    free (self->states);
    free (self->index);
    free (self->edges);
    free (self);
    *self_p = NULL;
}

static void
s_index_grow (lin_states_t *self)
{
    free (self->index);
    self->index_cap *= 2;
    self->index = zkv_malloc (self->index_cap * sizeof *self->index);
    memset (self->index, 0xff, self->index_cap * sizeof *self->index);
    size_t mask = self->index_cap - 1;
    for (uint32_t id = 0; id < self->count; id++) {
        size_t i = s_mix (self->states[id].hash) & mask;
        while (self->index[i] != S_EMPTY)
            i = (i + 1) & mask;
        self->index[i] = id;
    }
}

// The id of the string a + b (hash h), interning it if new.
static uint32_t
s_intern2 (lin_states_t *self, zkv_hist_str_t a, zkv_hist_str_t b, uint64_t h)
{
    size_t size = a.size + b.size, mask = self->index_cap - 1;
    size_t i = s_mix (h) & mask;
    for (; self->index[i] != S_EMPTY; i = (i + 1) & mask) {
        const s_state_t *s = &self->states[self->index[i]];
        if (s->hash == h && s->size == size && memcmp (s->data, a.data, a.size) == 0 &&
            memcmp (s->data + a.size, b.data, b.size) == 0)
            return self->index[i];
    }
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 64;
        self->states = realloc (self->states, self->cap * sizeof *self->states);
        if (!self->states)
            abort ();
    }
    assert (self->count < S_EMPTY);
    char *data = zkv_malloc (size + 1);
    memcpy (data, a.data, a.size);
    memcpy (data + a.size, b.data, b.size);
    data[size] = '\0';
    uint32_t id = self->count++;
    self->states[id] = (s_state_t){data, size, h};
    self->index[i] = id;
    self->bytes += size + 1 + sizeof (s_state_t) + 2 * sizeof (uint32_t);
    if (self->count * 2 > self->index_cap)
        s_index_grow (self);
    return id;
}

uint32_t
lin_states_intern (lin_states_t *self, zkv_hist_str_t bytes)
{
    assert (self);
    uint64_t power;
    uint64_t h = s_hash (bytes, &power);
    return s_intern2 (self, bytes, (zkv_hist_str_t){"", 0}, h);
}

static void
s_edges_grow (lin_states_t *self)
{
    s_edge_t *old = self->edges;
    size_t old_cap = self->edges_cap;
    self->edges_cap *= 2;
    self->edges = zkv_malloc (self->edges_cap * sizeof *self->edges);
    for (size_t i = 0; i < self->edges_cap; i++)
        self->edges[i].to = S_EMPTY;
    size_t mask = self->edges_cap - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].to == S_EMPTY)
            continue;
        size_t i = s_mix (old[j].key) & mask;
        while (self->edges[i].to != S_EMPTY)
            i = (i + 1) & mask;
        self->edges[i] = old[j];
    }
    free (old);
}

uint32_t
lin_states_append (lin_states_t *self, uint32_t state, uint32_t op, zkv_hist_str_t suffix)
{
    assert (self);
    assert (state < self->count);
    uint64_t key = (uint64_t)state << 32 | op;
    size_t mask = self->edges_cap - 1;
    size_t i = s_mix (key) & mask;
    for (; self->edges[i].to != S_EMPTY; i = (i + 1) & mask)
        if (self->edges[i].key == key)
            return self->edges[i].to;
    const s_state_t *s = &self->states[state];
    uint64_t power;
    uint64_t hv = s_hash (suffix, &power);
    zkv_hist_str_t prefix = {s->data, s->size};
    uint32_t to = s_intern2 (self, prefix, suffix, s->hash * power + hv);
    // s_intern2 may have grown the states array; the edge slot i is still free.
    self->edges[i] = (s_edge_t){key, to};
    self->edges_count++;
    self->bytes += sizeof (s_edge_t) * 2;
    if (self->edges_count * 2 > self->edges_cap)
        s_edges_grow (self);
    return to;
}

zkv_hist_str_t
lin_states_bytes (const lin_states_t *self, uint32_t state)
{
    assert (self);
    assert (state < self->count);
    return (zkv_hist_str_t){self->states[state].data, self->states[state].size};
}

uint64_t
lin_states_memory (const lin_states_t *self)
{
    assert (self);
    return self->bytes;
}
