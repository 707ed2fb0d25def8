// The search for one key: Wing & Gong's algorithm with Lowe's memoization, as Porcupine does it.
//
// Wing & Gong (1993): put the call and return entries of all operations in one list sorted by
// time. Walk it: at a call, try to linearize that operation now (the model must accept it);
// if it can be, "lift" its call and return out of the list and start again from the head. At
// a return, the operation it ends was not linearized and can no longer be: undo the last
// choice (unlift, restore the state) and try the next call after it. An empty list is a
// linearization; undoing with nothing to undo proves there is none.
//
// Lowe (2017, §4) and Porcupine (checker.go, checkSingle) add a cache of the (set linearized,
// state) pairs reached (zkv_lin_cache.c); this file adds one pruning rule of the model
// (s_hopeless). The list is kept as in Porcupine: entry 0 is a head, lift/unlift relink.
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
    uint32_t entry; // the call entry lifted
    uint32_t state; // the state before it
} s_frame_t;

typedef struct {
    lin_op_t *ops;        // the operations, closed ones by call time, then open-ended ones
    size_t n;             // how many
    size_t closed;        // ops[0..closed) return at a finite time
    uint32_t *op_state;   // put: id of its value; get: id of the value read
    lin_states_t *states; // interned states
    s_entry_t *entries;   // 2n + 1, entry 0 the head
    lin_cache_t cache;    // the linearized set and the (set, state) pairs reached
    uint64_t *get_mask;   // which ids are gets
    uint64_t *put_mask;   // which ids are puts
    size_t gets_left;     // gets not linearized
    size_t puts_left;     // puts not linearized
} s_search_t;

static void *
s_alloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        abort ();
    return p;
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

static void
s_count (s_search_t *s, uint32_t op, int delta)
{
    if (s->ops[op].f == ZKV_HIST_GET)
        s->gets_left += (size_t)delta;
    else if (s->ops[op].f == ZKV_HIST_PUT)
        s->puts_left += (size_t)delta;
}

// A pruning rule of this model, sound for any search order: take a get g not yet linearized.
// If no put that is not yet linearized can come before g (each is called after g returned),
// then only appends and gets come between now and g, so the value can only grow: it must be a
// prefix of what g read. Concurrent appends otherwise make the search try every order of them
// (each order is another string, so the cache cannot merge them) before a read refutes it.
static bool
s_hopeless (s_search_t *s, uint32_t state)
{
    if (!s->gets_left)
        return false;
    uint32_t g = lin_cache_first_unset (&s->cache, s->get_mask, 0, (uint32_t)s->closed);
    assert (g != UINT32_MAX); // gets are never open-ended
    const lin_op_t *get = &s->ops[g];
    if (s->puts_left) {
        uint32_t p = lin_cache_first_unset (&s->cache, s->put_mask, 0, (uint32_t)s->closed);
        if (p != UINT32_MAX && s->ops[p].call <= get->ret)
            return false;
        p = lin_cache_first_unset (&s->cache, s->put_mask, (uint32_t)s->closed, (uint32_t)s->n);
        if (p != UINT32_MAX && s->ops[p].call <= get->ret)
            return false;
    }
    zkv_hist_str_t now = lin_states_bytes (s->states, state);
    return now.size > get->value.size || memcmp (get->value.data, now.data, now.size) != 0;
}

static int
s_op_cmp (const void *a, const void *b)
{
    const lin_op_t *x = a, *y = b;
    bool xo = x->ret == LIN_INFINITY, yo = y->ret == LIN_INFINITY;
    if (xo != yo)
        return xo ? 1 : -1;
    if (x->call != y->call)
        return x->call < y->call ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void
s_init (s_search_t *s, const lin_op_t *ops, size_t n)
{
    memset (s, 0, sizeof *s);
    s->n = n;
    // The order of ids matters for speed only: see zkv_lin_cache.c and s_hopeless.
    s->ops = s_alloc (n * sizeof *s->ops);
    memcpy (s->ops, ops, n * sizeof *s->ops);
    qsort (s->ops, n, sizeof *s->ops, s_op_cmp);
    s->states = lin_states_new ();
    s->op_state = s_alloc (n * sizeof *s->op_state);
    size_t words = (n + 63) / 64 + 1;
    s->get_mask = calloc (words, sizeof (uint64_t));
    s->put_mask = calloc (words, sizeof (uint64_t));
    if (!s->get_mask || !s->put_mask)
        abort ();
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = &s->ops[i];
        if (o->ret != LIN_INFINITY)
            s->closed = i + 1;
        s->op_state[i] = o->f == ZKV_HIST_APPEND ? 0 : lin_states_intern (s->states, o->value);
        if (o->f == ZKV_HIST_GET)
            s->get_mask[i / 64] |= 1ULL << (i % 64);
        if (o->f == ZKV_HIST_PUT)
            s->put_mask[i / 64] |= 1ULL << (i % 64);
        s_count (s, (uint32_t)i, 1);
    }
    s_build_entries (s);
    lin_cache_init (&s->cache, n);
}

static void
s_destroy (s_search_t *s)
{
    lin_cache_free (&s->cache);
    free (s->entries);
    free (s->op_state);
    free (s->get_mask);
    free (s->put_mask);
    free (s->ops);
    lin_states_destroy (&s->states);
}

// Linearizes op in the current configuration if the model and the cache allow; true if done.
static bool
s_try (s_search_t *s, uint32_t state, uint32_t op, uint32_t *next)
{
    if (!s_step (s, state, op, next))
        return false;
    lin_cache_set (&s->cache, op);
    s_count (s, op, -1);
    // A hopeless configuration stays cached: reaching it again is pruned at once.
    if (lin_cache_add (&s->cache, *next) && !s_hopeless (s, *next))
        return true;
    s_count (s, op, 1);
    lin_cache_clear (&s->cache, op);
    return false;
}

void
lin_search (const lin_op_t *ops, size_t n, uint64_t budget, uint64_t memory, lin_outcome_t *outcome)
{
    memset (outcome, 0, sizeof *outcome);
    assert (n < UINT32_MAX / 2);
    s_search_t s;
    s_init (&s, ops, n);
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
            uint32_t next;
            if (!s_try (&s, state, e[at].op, &next)) {
                at = e[at].next;
                continue;
            }
            stack[depth++] = (s_frame_t){at, state};
            if (depth > max_depth)
                max_depth = depth;
            state = next;
            s_lift (e, at);
            at = e[0].next;
            if (lin_cache_memory (&s.cache) + lin_states_memory (s.states) > memory) {
                out_of_memory = true;
                outcome->verdict = ZKV_LIN_UNKNOWN;
                break;
            }
            continue;
        }
        // A return: its operation had to be linearized by now, and cannot be. Remember the
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
        s_count (&s, e[top.entry].op, 1);
        lin_cache_clear (&s.cache, e[top.entry].op);
        s_unlift (e, top.entry);
        at = e[top.entry].next;
    }
    if (outcome->verdict == ZKV_LIN_ILLEGAL)
        lin_explain_illegal (s.ops, n, best, best_len, best_blocked,
                             lin_states_bytes (s.states, best_state), outcome);
    else if (outcome->verdict == ZKV_LIN_UNKNOWN)
        lin_explain_unknown (n, max_depth, budget, memory, out_of_memory, outcome);
    free (best);
    free (stack);
    s_destroy (&s);
}
