// A key's value with its revision, interned: the search's state when revisions are checked.
//
// The cache (zkv_lin_cache.c) merges configurations by (set, state) with the state one
// integer, so a (value, revision) pair gets one id, as zkv_lin_states.c gives one to a string.
// A revision is either known ("exact") or only bounded below: a write that reported none (an
// info, or a tool that did not record it) leaves "some revision above the last one".
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_FREE UINT32_MAX

typedef struct {
    uint32_t value; // the value's state (an interned string, LIN_MISSING or LIN_DEAD)
    bool exact;     // rev is the revision; else a lower bound
    uint64_t rev;   // the revision, or its lower bound
} s_version_t;

struct _lin_versions_t {
    s_version_t *by_id; // the versions, by id
    uint32_t count;     // ids used
    uint32_t cap;       // ids allocated
    uint32_t *index;    // hash table of ids (S_FREE: free), linear probing
    size_t index_cap;   // its slots (a power of two)
};

static uint64_t
s_hash (uint32_t value, uint64_t rev, bool exact)
{
    uint64_t x = rev * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)value << 1 | exact);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void
s_index_build (lin_versions_t *self, size_t cap)
{
    free (self->index);
    self->index_cap = cap;
    self->index = zkv_malloc (cap * sizeof *self->index);
    memset (self->index, 0xff, cap * sizeof *self->index);
    for (uint32_t id = 0; id < self->count; id++) {
        const s_version_t *v = &self->by_id[id];
        size_t i = s_hash (v->value, v->rev, v->exact) & (cap - 1);
        while (self->index[i] != S_FREE)
            i = (i + 1) & (cap - 1);
        self->index[i] = id;
    }
}

lin_versions_t *
lin_versions_new (void)
{
    lin_versions_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    s_index_build (self, 64);
    return self;
}

void
lin_versions_destroy (lin_versions_t **self_p)
{
    assert (self_p);
    lin_versions_t *self = *self_p;
    if (!self)
        return;
    free (self->by_id);
    free (self->index);
    free (self);
    *self_p = NULL;
}

uint32_t
lin_versions_id (lin_versions_t *self, uint32_t value, uint64_t rev, bool exact)
{
    assert (self);
    size_t mask = self->index_cap - 1;
    size_t i = s_hash (value, rev, exact) & mask;
    for (; self->index[i] != S_FREE; i = (i + 1) & mask) {
        const s_version_t *v = &self->by_id[self->index[i]];
        if (v->value == value && v->rev == rev && v->exact == exact)
            return self->index[i];
    }
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 64;
        self->by_id = realloc (self->by_id, self->cap * sizeof *self->by_id);
        if (!self->by_id)
            abort ();
    }
    // Ids stay below LIN_MISSING: the cache marks free slots with UINT32_MAX.
    assert (self->count < LIN_MISSING);
    uint32_t id = self->count++;
    self->by_id[id] = (s_version_t){value, exact, rev};
    self->index[i] = id;
    if ((size_t)self->count * 2 > self->index_cap)
        s_index_build (self, self->index_cap * 2);
    return id;
}

void
lin_versions_get (const lin_versions_t *self, uint32_t id, uint32_t *value, uint64_t *rev,
                  bool *exact)
{
    assert (self);
    assert (id < self->count);
    *value = self->by_id[id].value;
    *rev = self->by_id[id].rev;
    *exact = self->by_id[id].exact;
}

uint64_t
lin_versions_memory (const lin_versions_t *self)
{
    assert (self);
    return self->cap * sizeof (s_version_t) + self->index_cap * sizeof (uint32_t);
}
