// The search for one key: Wing & Gong's algorithm with Lowe's memoization, as Porcupine does it.
//
// Wing & Gong (1993): put the call and return entries of all operations in one list sorted by
// time. Walk it: at a call, try to linearize that operation now (the model must accept it);
// if it can be, "lift" its call and return out of the list and start again from the head. At
// a return, the operation it ends was not linearized and can no longer be: undo the last
// choice (unlift, restore the state) and try the next call after it. An empty list is a
// linearization; undoing with nothing to undo proves there is none.
//
// Lowe (2017, §4) and Porcupine (checker.go, checkSingle): two paths that linearize the same
// set of operations and reach the same state have the same future, so a cache of (set, state)
// pairs already reached prunes the search from exponential to, in practice, near linear.
//
// The set is a bitset over operation ids. The cache keeps it compactly: k, the length of the
// prefix of ids all linearized, and the ids above k that are. With ids in call order (the
// open-ended operations last) only the few in flight lie above k. Its hash is Zobrist's: an xor
// of one random word per linearized id, updated in O(1) per step.
#include "zkv_lin_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t time;   // call or return time
    uint32_t op;    // operation id
    bool is_call;   // call entry, else return entry
    uint32_t match; // call entry: index of its return entry
    uint32_t prev;  // list links (entry 0 is the head; next 0 ends the list)
    uint32_t next;
} s_entry_t;

typedef struct {
    uint64_t hash;  // of the set and state
    uint32_t state; // UINT32_MAX for a free slot
    uint32_t k;     // ids < k are all linearized
    uint64_t off;   // the linearized ids above k: arena[off .. off + m)
    uint32_t m;
} s_slot_t;

typedef struct {
    uint32_t entry; // the call entry lifted
    uint32_t state; // the state before it
} s_frame_t;

typedef struct {
    const lin_op_t *ops;  // the operations
    size_t n;             // how many
    uint32_t *op_state;   // put: id of its value; get: id of the value read
    lin_states_t *states; // interned states
    s_entry_t *entries;   // 2n + 1, entry 0 the head
    uint64_t *bits;       // linearized ids
    size_t words;         // bitset words
    size_t lo;            // words below lo are all ones
    size_t hi;            // words at or above hi are all zero
    uint64_t zobrist;     // hash of the set
    uint32_t *above;      // scratch: linearized ids above k
    s_slot_t *cache;      // (set, state) pairs reached, open addressing
    size_t cache_cap;     // slots (a power of two)
    size_t cache_count;   // slots used
    uint32_t *arena;      // the ids above k of all cached sets
    uint64_t arena_size;  // used
    uint64_t arena_cap;   // allocated
} s_search_t;

static void *
s_alloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        abort ();
    return p;
}

static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The model (a register holding a string): applies op to state; false if op cannot happen
// in this state (a get that reads something else).
static bool
s_step (s_search_t *s, uint32_t state, uint32_t op, uint32_t *next)
{
    const lin_op_t *o = &s->ops[op];
    switch (o->f) {
    case ZKV_HIST_GET:
        *next = state;
        return state == s->op_state[op]; // interned: equal ids iff equal strings
    case ZKV_HIST_PUT:
        *next = s->op_state[op];
        return true;
    case ZKV_HIST_APPEND:
        *next = lin_states_append (s->states, state, op, o->value);
        return true;
    }
    return false;
}

static int
s_entry_cmp (const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    // At equal times calls go first: the operations then overlap, the weaker claim.
    if (x->is_call != y->is_call)
        return x->is_call ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

static void
s_build_entries (s_search_t *s)
{
    size_t n = s->n;
    s_entry_t *e = s_alloc ((2 * n + 1) * sizeof *e);
    memset (e, 0, (2 * n + 1) * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[1 + 2 * i] = (s_entry_t){.time = s->ops[i].call, .op = (uint32_t)i, .is_call = true};
        e[2 + 2 * i] = (s_entry_t){.time = s->ops[i].ret, .op = (uint32_t)i, .is_call = false};
    }
    qsort (e + 1, 2 * n, sizeof *e, s_entry_cmp);
    uint32_t *ret_of = s_alloc (n * sizeof *ret_of);
    for (uint32_t i = 1; i <= 2 * n; i++)
        if (!e[i].is_call)
            ret_of[e[i].op] = i;
    for (uint32_t i = 0; i <= 2 * n; i++) {
        if (i > 0 && e[i].is_call)
            e[i].match = ret_of[e[i].op];
        e[i].prev = i ? i - 1 : 0;
        e[i].next = i < 2 * n ? i + 1 : 0;
    }
    free (ret_of);
    s->entries = e;
}

// Takes a call entry and its return out of the list (Porcupine's lift).
static void
s_lift (s_entry_t *e, uint32_t call)
{
    uint32_t ret = e[call].match;
    e[e[call].prev].next = e[call].next;
    e[e[call].next].prev = e[call].prev;
    e[e[ret].prev].next = e[ret].next;
    if (e[ret].next)
        e[e[ret].next].prev = e[ret].prev;
}

// Puts them back, in the reverse order (Porcupine's unlift).
static void
s_unlift (s_entry_t *e, uint32_t call)
{
    uint32_t ret = e[call].match;
    e[e[ret].prev].next = ret;
    if (e[ret].next)
        e[e[ret].next].prev = ret;
    e[e[call].prev].next = call;
    e[e[call].next].prev = call;
}

static uint64_t
s_zobrist (uint32_t op)
{
    return s_mix ((uint64_t)op + 0x9e3779b97f4a7c15ULL);
}

static void
s_set (s_search_t *s, uint32_t op)
{
    size_t w = op / 64;
    s->bits[w] |= 1ULL << (op % 64);
    s->zobrist ^= s_zobrist (op);
    if (w >= s->hi)
        s->hi = w + 1;
    while (s->lo < s->words && s->bits[s->lo] == ~0ULL)
        s->lo++;
}

static void
s_clear (s_search_t *s, uint32_t op)
{
    size_t w = op / 64;
    s->bits[w] &= ~(1ULL << (op % 64));
    s->zobrist ^= s_zobrist (op);
    if (w < s->lo)
        s->lo = w;
    while (s->hi > 0 && s->bits[s->hi - 1] == 0)
        s->hi--;
}

// The compact form of the set: returns k and fills s->above with the m ids above k.
static uint32_t
s_compact (s_search_t *s, uint32_t *m)
{
    uint32_t k = (uint32_t)s->n;
    if (s->lo < s->words) {
        uint32_t bit = (uint32_t)__builtin_ctzll (~s->bits[s->lo]);
        k = (uint32_t)(s->lo * 64) + bit;
    }
    *m = 0;
    for (size_t w = s->lo; w < s->hi; w++) {
        uint64_t b = s->bits[w];
        while (b) {
            uint32_t id = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll (b);
            b &= b - 1;
            if (id > k)
                s->above[(*m)++] = id;
        }
    }
    return k;
}

static void
s_cache_grow (s_search_t *s)
{
    s_slot_t *old = s->cache;
    size_t old_cap = s->cache_cap;
    s->cache_cap = old_cap ? old_cap * 2 : 1024;
    s->cache = s_alloc (s->cache_cap * sizeof *s->cache);
    for (size_t i = 0; i < s->cache_cap; i++)
        s->cache[i].state = UINT32_MAX;
    size_t mask = s->cache_cap - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].state == UINT32_MAX)
            continue;
        size_t i = old[j].hash & mask;
        while (s->cache[i].state != UINT32_MAX)
            i = (i + 1) & mask;
        s->cache[i] = old[j];
    }
    free (old);
}

// Adds (the current set, state) to the cache; false if it was there already.
static bool
s_cache_add (s_search_t *s, uint32_t state)
{
    uint32_t m;
    uint32_t k = s_compact (s, &m);
    uint64_t hash = s_mix (s->zobrist ^ ((uint64_t)state * 0xff51afd7ed558ccdULL));
    size_t mask = s->cache_cap - 1;
    size_t i = hash & mask;
    for (; s->cache[i].state != UINT32_MAX; i = (i + 1) & mask) {
        const s_slot_t *c = &s->cache[i];
        if (c->hash == hash && c->state == state && c->k == k && c->m == m &&
            memcmp (s->arena + c->off, s->above, m * sizeof *s->above) == 0)
            return false;
    }
    if (s->arena_size + m > s->arena_cap) {
        while (s->arena_size + m > s->arena_cap)
            s->arena_cap = s->arena_cap ? s->arena_cap * 2 : 4096;
        s->arena = realloc (s->arena, s->arena_cap * sizeof *s->arena);
        if (!s->arena)
            abort ();
    }
    memcpy (s->arena + s->arena_size, s->above, m * sizeof *s->above);
    s->cache[i] = (s_slot_t){hash, state, k, s->arena_size, m};
    s->arena_size += m;
    if (++s->cache_count * 2 > s->cache_cap)
        s_cache_grow (s);
    return true;
}

static uint64_t
s_memory (const s_search_t *s)
{
    return s->cache_cap * sizeof (s_slot_t) + s->arena_cap * sizeof (uint32_t) +
           lin_states_memory (s->states);
}

void
lin_search (const lin_op_t *ops, size_t n, uint64_t budget, uint64_t memory, lin_outcome_t *outcome)
{
    memset (outcome, 0, sizeof *outcome);
    assert (n < UINT32_MAX / 2);
    s_search_t s = {.ops = ops, .n = n, .states = lin_states_new ()};
    s.op_state = s_alloc (n * sizeof *s.op_state);
    for (size_t i = 0; i < n; i++)
        s.op_state[i] =
            ops[i].f == ZKV_HIST_APPEND ? 0 : lin_states_intern (s.states, ops[i].value);
    s_build_entries (&s);
    s.words = (n + 63) / 64;
    s.bits = calloc (s.words ? s.words : 1, sizeof *s.bits);
    s.above = s_alloc (n * sizeof *s.above);
    if (!s.bits)
        abort ();
    s_cache_grow (&s);
    s_frame_t *stack = s_alloc (n * sizeof *stack);
    uint32_t *best = s_alloc (n * sizeof *best);
    size_t depth = 0, best_len = 0, max_depth = 0;
    uint32_t best_blocked = 0, best_state = 0;
    bool have_best = false, out_of_memory = false;

    s_entry_t *e = s.entries;
    uint32_t state = 0, at = e[0].next;
    outcome->verdict = ZKV_LIN_OK;
    while (e[0].next) {
        assert (at); // the list always ends with a return entry
        if (outcome->steps++ >= budget) {
            outcome->verdict = ZKV_LIN_UNKNOWN;
            break;
        }
        if (e[at].is_call) {
            uint32_t op = e[at].op, next;
            if (s_step (&s, state, op, &next)) {
                s_set (&s, op);
                if (s_cache_add (&s, next)) {
                    stack[depth++] = (s_frame_t){at, state};
                    if (depth > max_depth)
                        max_depth = depth;
                    state = next;
                    s_lift (e, at);
                    at = e[0].next;
                    if (s_memory (&s) > memory) {
                        out_of_memory = true;
                        outcome->verdict = ZKV_LIN_UNKNOWN;
                        break;
                    }
                    continue;
                }
                s_clear (&s, op);
            }
            at = e[at].next;
            continue;
        }
        // A return: its operation must already be linearized, and is not. Remember the
        // deepest such point for the explanation, then undo the last choice.
        if (!have_best || depth > best_len) {
            have_best = true;
            best_len = depth;
            for (size_t i = 0; i < depth; i++)
                best[i] = e[stack[i].entry].op;
            best_blocked = e[at].op;
            best_state = state;
        }
        if (depth == 0) {
            outcome->verdict = ZKV_LIN_ILLEGAL;
            break;
        }
        s_frame_t top = stack[--depth];
        state = top.state;
        s_clear (&s, e[top.entry].op);
        s_unlift (e, top.entry);
        at = e[top.entry].next;
    }
    if (outcome->verdict == ZKV_LIN_ILLEGAL)
        lin_explain_illegal (ops, n, best, best_len, best_blocked,
                             lin_states_bytes (s.states, best_state), outcome);
    else if (outcome->verdict == ZKV_LIN_UNKNOWN)
        lin_explain_unknown (n, max_depth, budget, memory, out_of_memory, outcome);
    free (best);
    free (stack);
    free (s.cache);
    free (s.arena);
    free (s.above);
    free (s.bits);
    free (s.entries);
    free (s.op_state);
    lin_states_destroy (&s.states);
}
