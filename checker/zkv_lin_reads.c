// A check before the search: could the writes of this key produce what each get read at all?
//
// In any linearization the value a get g reads is a base, "" (the key missing: from the start,
// a delete, or a cas that swapped to null) or the value of a put or of a cas that swapped,
// linearized before g, followed by the values of appends linearized before g, each called
// before g returned. So if what g read cannot be cut into such a base and such append values
// (even letting one append's value repeat: a weaker, cheaper test), no linearization exists.
// This refutes at once a read of a value never written or of a write called after the read
// returned, which the search would otherwise refute only by trying every order before it.
// A cas that swapped on a value read that value too, at a point before it returned. "Not
// found" is possible from the start, so it is never refuted here.
#define _GNU_SOURCE // memmem
#include "zkv_lin_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t op;   // an append with this value: the one called first
    uint64_t hash; // of its value
} s_entry_t;

typedef struct {
    s_entry_t *slots; // hash table of append values (op UINT32_MAX: free)
    size_t mask;      // slots - 1
    size_t *lengths;  // the distinct lengths of append values
    size_t nlengths;  // how many
} s_values_t;

static uint64_t
s_hash (const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static void
s_values_build (s_values_t *v, const lin_key_t *k)
{
    size_t cap = 16;
    while (cap < 2 * k->n + 2)
        cap *= 2;
    v->slots = malloc (cap * sizeof *v->slots);
    v->lengths = malloc ((k->n ? k->n : 1) * sizeof *v->lengths);
    if (!v->slots || !v->lengths)
        abort ();
    v->mask = cap - 1;
    v->nlengths = 0;
    for (size_t i = 0; i < cap; i++)
        v->slots[i].op = UINT32_MAX;
    for (uint32_t op = 0; op < k->n; op++) {
        zkv_hist_str_t val = k->ops[op].value;
        if (k->ops[op].f != ZKV_HIST_APPEND || val.size == 0)
            continue;
        uint64_t h = s_hash (val.data, val.size);
        size_t i = h & v->mask;
        for (; v->slots[i].op != UINT32_MAX; i = (i + 1) & v->mask) {
            const lin_op_t *o = &k->ops[v->slots[i].op];
            if (v->slots[i].hash == h && o->value.size == val.size &&
                memcmp (o->value.data, val.data, val.size) == 0)
                break;
        }
        if (v->slots[i].op == UINT32_MAX || k->ops[op].call < k->ops[v->slots[i].op].call)
            v->slots[i] = (s_entry_t){op, h};
        size_t l = 0;
        while (l < v->nlengths && v->lengths[l] != val.size)
            l++;
        if (l == v->nlengths)
            v->lengths[v->nlengths++] = val.size;
    }
}

// True if an append called by `by` has exactly the value p[0..n).
static bool
s_appended (const s_values_t *v, const lin_key_t *k, const char *p, size_t n, int64_t by)
{
    uint64_t h = s_hash (p, n);
    for (size_t i = h & v->mask; v->slots[i].op != UINT32_MAX; i = (i + 1) & v->mask) {
        const lin_op_t *o = &k->ops[v->slots[i].op];
        if (v->slots[i].hash == h && o->value.size == n && memcmp (o->value.data, p, n) == 0)
            return o->call <= by;
    }
    return false;
}

// The value o read, if it is one this check explains (data NULL: none).
static zkv_hist_str_t
s_read (const lin_op_t *o)
{
    if (o->f == ZKV_HIST_GET)
        return o->value;
    if (o->f == ZKV_HIST_CAS && o->cmp == LIN_CMP_VALUE && o->swapped == 1)
        return o->expect;
    return (zkv_hist_str_t){NULL, 0};
}

// Can g's read be cut into a base and append values? reach[i]: its first i bytes can.
static bool
s_explained (const s_values_t *v, const lin_key_t *k, uint32_t g, bool *reach)
{
    const lin_op_t *get = &k->ops[g];
    zkv_hist_str_t read = s_read (get);
    const char *r = read.data;
    size_t size = read.size;
    memset (reach, 0, size + 1);
    reach[0] = true;
    for (uint32_t op = 0; op < k->n; op++) {
        const lin_op_t *p = &k->ops[op];
        bool base = p->f == ZKV_HIST_PUT || (p->f == ZKV_HIST_CAS && p->swapped != 0);
        if (base && p->value.data && p->call <= get->ret && p->value.size <= size &&
            memcmp (p->value.data, r, p->value.size) == 0)
            reach[p->value.size] = true;
    }
    for (size_t i = 0; i < size; i++) {
        if (!reach[i])
            continue;
        for (size_t l = 0; l < v->nlengths; l++) {
            size_t n = v->lengths[l];
            if (n <= size - i && !reach[i + n] && s_appended (v, k, r + i, n, get->ret))
                reach[i + n] = true;
        }
    }
    return reach[size];
}

uint32_t
lin_key_unexplained_read (const lin_key_t *self)
{
    s_values_t v;
    s_values_build (&v, self);
    size_t longest = 0;
    for (uint32_t op = 0; op < self->n; op++)
        if (s_read (&self->ops[op]).size > longest)
            longest = s_read (&self->ops[op]).size;
    bool *reach = malloc (longest + 1);
    if (!reach)
        abort ();
    uint32_t found = UINT32_MAX;
    for (uint32_t op = 0; op < self->n && found == UINT32_MAX; op++)
        if (s_read (&self->ops[op]).data && !s_explained (&v, self, op, reach))
            found = op;
    free (reach);
    free (v.slots);
    free (v.lengths);
    return found;
}
