// Writes no read saw: their values make a state "dead", and all dead states are one.
//
// The values a key's operations look at: what gets read, and what each cas compares the value
// with (its expected value, or the value the history says its expected revision holds,
// zkv_lin_revs.c); call them the reads. If a write's value occurs in no read, then from the
// moment it takes effect until the next put, delete or swap every value holds that value, so
// it equals no read: no get can be linearized in that stretch, a cas comparing values does not
// match (a cas comparing revisions looks at the revision, which the state keeps apart). The
// exact value there never matters. The model therefore maps every such value to one state,
// LIN_DEAD (a get fails on it, a cas on a value does not match, an append keeps it, a put,
// delete or swap leaves it), and the cache merges what would otherwise be every order of every
// subset of those writes (Lowe's memoization only merges equal states). Typical source: puts
// that overwrite appends before anyone reads.
//
// An open-ended such write (no ok: it may take effect at any time after its call, or never)
// can even be left out: moving it to the very end of a linearization keeps it a linearization
// if nothing in its stretch observed it. Gets cannot be there, nor a cas that swapped on a
// value; but a cas that did not swap can (the dead value is not what it expected), and after
// the move it might see a value it matches (and one whose ok did not say whether it swapped
// would then swap); a cas on a revision saw the revision the write made. Call those hazards.
// An open-ended cas on a value in the stretch did not match, so it can move last too. A cas
// that saw a revision a found get reported (a value someone read), or one a put or swap made
// (those end every stretch), is in no stretch, so it is no hazard; nor is a cas that swapped
// on "absent". The rule holds for keys with no hazard
// (lin_unseen_hazards); revisions the moved write took only ever bounded later ones from
// below, so leaving it out relaxes them. With hazards the search applies the same argument
// per configuration (lin_key_dead_needed).
//
// Finding them: one rolling hash per distinct value length over every read, looked up in a
// table of the write values: O(bytes read x distinct lengths).
#include "zkv_lin_int.h"

#include <stdlib.h>
#include <string.h>

#define S_BASE 0x100000001b3ULL

typedef struct {
    uint64_t hash; // of the value
    uint32_t op;   // a write with this value (UINT32_MAX: free slot)
    bool seen;     // found in some read
} s_slot_t;

typedef struct {
    s_slot_t *slots; // distinct write values
    size_t mask;     // slots - 1
} s_table_t;

static uint64_t
s_hash (const char *p, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * S_BASE + (unsigned char)p[i];
    return h;
}

// The slot of the value p[0..n) with hash h: its own, or the free one where it would go.
static s_slot_t *
s_find (const s_table_t *t, const lin_op_t *ops, const char *p, size_t n, uint64_t h)
{
    size_t i = (h ^ (h >> 29)) & t->mask;
    for (; t->slots[i].op != UINT32_MAX; i = (i + 1) & t->mask) {
        const zkv_hist_str_t *v = &ops[t->slots[i].op].value;
        if (t->slots[i].hash == h && v->size == n && memcmp (v->data, p, n) == 0)
            break;
    }
    return &t->slots[i];
}

// A write that may put a nonempty value in the key ("" occurs in every read).
static bool
s_is_write (const lin_op_t *o)
{
    bool writes = o->f == ZKV_HIST_PUT || o->f == ZKV_HIST_APPEND ||
                  (o->f == ZKV_HIST_CAS && o->swapped != 0);
    return writes && o->value.data && o->value.size > 0;
}

// What o looks at: a get's read, a cas's value compared (data NULL: none).
static zkv_hist_str_t
s_read (const lin_op_t *o)
{
    if (o->f == ZKV_HIST_GET)
        return o->value;
    if (o->f == ZKV_HIST_CAS)
        return o->expect;
    return (zkv_hist_str_t){NULL, 0};
}

// Marks seen every write value that occurs in read r; lens: the distinct value lengths.
static void
s_scan (s_table_t *t, const lin_op_t *ops, zkv_hist_str_t r, const size_t *lens, size_t nlens)
{
    for (size_t l = 0; l < nlens; l++) {
        size_t n = lens[l];
        if (n > r.size)
            continue;
        uint64_t top = 1; // S_BASE^(n-1), to take the leaving byte out
        for (size_t i = 1; i < n; i++)
            top *= S_BASE;
        uint64_t h = s_hash (r.data, n);
        for (size_t at = 0;; at++) {
            s_slot_t *slot = s_find (t, ops, r.data + at, n, h);
            if (slot->op != UINT32_MAX)
                slot->seen = true;
            if (at + n >= r.size)
                break;
            h = (h - (unsigned char)r.data[at] * top) * S_BASE + (unsigned char)r.data[at + n];
        }
    }
}

// Reads ordered by the length of what they read, longest first.
static bool
s_longer (const lin_op_t *ops, uint32_t a, uint32_t b)
{
    return s_read (&ops[a]).size > s_read (&ops[b]).size;
}

void
lin_find_unseen (const lin_op_t *ops, size_t n, bool *unseen)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    s_table_t t = {malloc (cap * sizeof (s_slot_t)), cap - 1};
    size_t *lens = malloc ((n ? n : 1) * sizeof *lens), nlens = 0;
    if (!t.slots || !lens)
        abort ();
    for (size_t i = 0; i < cap; i++)
        t.slots[i] = (s_slot_t){0, UINT32_MAX, false};
    for (uint32_t op = 0; op < n; op++) {
        const zkv_hist_str_t *v = &ops[op].value;
        if (!s_is_write (&ops[op]))
            continue;
        s_slot_t *slot = s_find (&t, ops, v->data, v->size, s_hash (v->data, v->size));
        if (slot->op == UINT32_MAX)
            *slot = (s_slot_t){s_hash (v->data, v->size), op, false};
        size_t l = 0;
        while (l < nlens && lens[l] != v->size)
            l++;
        if (l == nlens)
            lens[nlens++] = v->size;
    }
    // A read that is a prefix of one scanned already adds nothing (append logs: most are).
    uint32_t *reads = malloc ((n ? n : 1) * sizeof *reads);
    size_t nreads = 0, scanned = 0;
    if (!reads)
        abort ();
    for (uint32_t op = 0; op < n; op++)
        if (s_read (&ops[op]).data)
            reads[nreads++] = op;
    lin_sort_ids (reads, nreads, ops, s_longer);
    for (size_t i = 0; i < nreads; i++) {
        zkv_hist_str_t r = s_read (&ops[reads[i]]);
        size_t j = 0;
        while (j < scanned && memcmp (s_read (&ops[reads[j]]).data, r.data, r.size) != 0)
            j++;
        if (j < scanned)
            continue;
        s_scan (&t, ops, r, lens, nlens);
        reads[scanned++] = reads[i]; // the scanned ones, longest first, at the front
    }
    free (reads);
    for (uint32_t op = 0; op < n; op++) {
        const zkv_hist_str_t *v = &ops[op].value;
        unseen[op] = s_is_write (&ops[op]) &&
                     !s_find (&t, ops, v->data, v->size, s_hash (v->data, v->size))->seen;
    }
    free (lens);
    free (t.slots);
}

static int
s_u64_cmp (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

bool
lin_unseen_hazards (const lin_op_t *ops, size_t n, bool *hazard)
{
    // Revisions no dead stretch of an open-ended write can hold: what a found get read (a
    // value someone read), what a put or a cas that swapped made (a put or a swap ends any
    // stretch; a later write would have a later revision). A cas that saw one of them was in
    // no such stretch.
    uint64_t *live = malloc ((n ? n : 1) * sizeof *live);
    if (!live)
        abort ();
    size_t nlive = 0;
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = &ops[i];
        bool reset = o->f == ZKV_HIST_PUT || (o->f == ZKV_HIST_CAS && o->swapped == 1);
        if (o->rev && o->ret != LIN_INFINITY && ((o->f == ZKV_HIST_GET && o->value.data) || reset))
            live[nlive++] = o->rev;
    }
    qsort (live, nlive, sizeof *live, s_u64_cmp);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = &ops[i];
        bool closed = o->ret != LIN_INFINITY;
        hazard[i] = o->f == ZKV_HIST_CAS && (o->cmp == LIN_CMP_REV || (closed && o->swapped != 1));
        // A swap on "absent" (revision 0) saw a missing key, not a dead value.
        if (closed && o->swapped == 1 && o->cmp == LIN_CMP_REV && !o->expect_rev)
            hazard[i] = false;
        // The revision a closed cas saw the key at: the one it expected if it swapped on it,
        // the one it reported if it did not swap.
        uint64_t saw = !closed                                    ? 0
                       : o->swapped == 0                          ? o->rev
                       : o->swapped == 1 && o->cmp == LIN_CMP_REV ? o->expect_rev
                                                                  : 0;
        if (hazard[i] && saw && bsearch (&saw, live, nlive, sizeof *live, s_u64_cmp))
            hazard[i] = false;
        any |= hazard[i];
    }
    free (live);
    return any;
}
