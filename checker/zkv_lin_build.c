// During the search: can appends not yet linearized still build what a read saw?
//
// lin_key_hopeless (zkv_lin_model.c) needs, for the next read R, that R be a base followed by
// the values of appends not yet linearized and called before the read returned. This finds
// such a cut of R by dynamic programming over its bytes (reach[i]: R[0..i) is a base and such
// values), as zkv_lin_reads.c does before the search with all appends; here an append counts
// only while it is not linearized. Letting one append's value appear twice keeps it cheap and
// only ever accepts more, so a "no" is a proof.
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash; // of the value
    uint32_t op;   // the first append (by id) with this value; UINT32_MAX: free slot
} s_slot_t;

struct _lin_appends_t {
    const lin_op_t *ops; // the key's operations
    s_slot_t *slots;     // distinct append values (nonempty)
    size_t mask;         // slots - 1
    uint32_t *next;      // op -> the next append (by id) with the same value, or UINT32_MAX
    size_t *lengths;     // the distinct lengths of append values
    size_t nlengths;     // how many
    size_t n;            // operations
};

static uint64_t
s_hash (const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

// The slot of value p[0..n) (its own, or the free one where it would go).
static s_slot_t *
s_find (const lin_appends_t *self, const char *p, size_t n, uint64_t h)
{
    size_t i = h & self->mask;
    for (; self->slots[i].op != UINT32_MAX; i = (i + 1) & self->mask) {
        const zkv_hist_str_t *v = &self->ops[self->slots[i].op].value;
        if (self->slots[i].hash == h && v->size == n && memcmp (v->data, p, n) == 0)
            break;
    }
    return &self->slots[i];
}

lin_appends_t *
lin_appends_new (const lin_op_t *ops, size_t n)
{
    lin_appends_t *self = zkv_calloc (1, sizeof *self);
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    self->ops = ops;
    self->n = n;
    self->slots = zkv_calloc (1, cap * sizeof *self->slots);
    self->mask = cap - 1;
    self->next = zkv_calloc (1, (n ? n : 1) * sizeof *self->next);
    self->lengths = zkv_calloc (1, (n ? n : 1) * sizeof *self->lengths);
    for (size_t i = 0; i < cap; i++)
        self->slots[i].op = UINT32_MAX;
    // Backwards, so that each chain runs in id order from its slot.
    for (size_t i = n; i-- > 0;) {
        self->next[i] = UINT32_MAX;
        const lin_op_t *o = &ops[i];
        if (o->f != ZKV_HIST_APPEND || !o->value.size)
            continue;
        uint64_t h = s_hash (o->value.data, o->value.size);
        s_slot_t *slot = s_find (self, o->value.data, o->value.size, h);
        self->next[i] = slot->op;
        *slot = (s_slot_t){h, (uint32_t)i};
        size_t l = 0;
        while (l < self->nlengths && self->lengths[l] != o->value.size)
            l++;
        if (l == self->nlengths)
            self->lengths[self->nlengths++] = o->value.size;
    }
    return self;
}

void
lin_appends_destroy (lin_appends_t **self_p)
{
    lin_appends_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self->next);
    free (self->lengths);
    free (self);
    *self_p = NULL;
}

// True if an append with value p[0..n), not linearized, was called by `by`.
static bool
s_pending (const lin_appends_t *self, const lin_cache_t *cache, const char *p, size_t n, int64_t by)
{
    const s_slot_t *slot = s_find (self, p, n, s_hash (p, n));
    for (uint32_t op = slot->op; op != UINT32_MAX; op = self->next[op])
        if (self->ops[op].call <= by && !(cache->bits[op / 64] >> (op % 64) & 1))
            return true;
    return false;
}

bool
lin_appends_build (const lin_appends_t *self, const lin_cache_t *cache, zkv_hist_str_t r,
                   int64_t by, bool *reach)
{
    for (size_t i = 0; i < r.size && !reach[r.size]; i++) {
        if (!reach[i])
            continue;
        for (size_t l = 0; l < self->nlengths; l++) {
            size_t n = self->lengths[l];
            if (n <= r.size - i && !reach[i + n] && s_pending (self, cache, r.data + i, n, by))
                reach[i + n] = true;
        }
    }
    return reach[r.size];
}
