// The register model for one key, and the two rules that let the search skip most orders.
//
// The state is the key's whole value, a string: put sets it, append concatenates, get reads it
// (zkv_lin_states.c interns it). Concurrent appends are what makes the search hard: each order
// of them is another string, so the cache (zkv_lin_cache.c) cannot merge the orders, and a read
// that refutes an order may come much later. The reads themselves tell the order, though:
//  - lin_key_hopeless prunes a configuration that no completion can satisfy (sound: it only
//    cuts when the next read can be shown impossible);
//  - lin_key_on_track orders the search's choices: first the ones the next read agrees with
//    (a heuristic: it changes the order of the tries, never their set).
#include "zkv_lin_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

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

// Gets ordered by return time (ties by id).
static bool
s_before (const lin_op_t *ops, uint32_t a, uint32_t b)
{
    const lin_op_t *x = &ops[a], *y = &ops[b];
    return x->ret != y->ret ? x->ret < y->ret : a < b;
}

void
lin_key_init (lin_key_t *self, const lin_op_t *ops, size_t n)
{
    memset (self, 0, sizeof *self);
    self->n = n;
    // Ids in this order keep the cache's sets compact (zkv_lin_cache.c) and let
    // lin_key_hopeless find the earliest get and puts by a bit scan.
    self->ops = malloc ((n ? n : 1) * sizeof *self->ops);
    self->op_state = malloc ((n ? n : 1) * sizeof *self->op_state);
    size_t words = (n + 63) / 64 + 1;
    self->get_mask = calloc (words, sizeof (uint64_t));
    self->put_mask = calloc (words, sizeof (uint64_t));
    if (!self->ops || !self->op_state || !self->get_mask || !self->put_mask)
        abort ();
    if (n)
        memcpy (self->ops, ops, n * sizeof *self->ops);
    qsort (self->ops, n, sizeof *self->ops, s_op_cmp);
    bool *unseen = calloc (n ? n : 1, sizeof *unseen);
    if (!unseen)
        abort ();
    lin_find_unseen (self->ops, n, unseen);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (unseen[i] && self->ops[i].ret == LIN_INFINITY)
            continue; // an open-ended write no read saw may go last: leave it out
        unseen[kept] = unseen[i];
        self->ops[kept++] = self->ops[i];
    }
    self->n = n = kept;
    self->states = lin_states_new ();
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = &self->ops[i];
        if (o->ret != LIN_INFINITY)
            self->closed = i + 1;
        self->op_state[i] = unseen[i]                 ? LIN_DEAD
                            : o->f == ZKV_HIST_APPEND ? 0
                                                      : lin_states_intern (self->states, o->value);
        if (o->f == ZKV_HIST_GET) {
            self->get_mask[i / 64] |= 1ULL << (i % 64);
            self->gets_left++;
        }
        if (o->f == ZKV_HIST_PUT) {
            self->put_mask[i / 64] |= 1ULL << (i % 64);
            self->puts_left++;
        }
    }
    free (unseen);
    // The gets by return time: the next one to return is the read that constrains most.
    self->get_by_ret = malloc ((self->gets_left ? self->gets_left : 1) * sizeof (uint32_t));
    self->ret_rank = calloc (n ? n : 1, sizeof (uint32_t));
    self->gets_done = calloc ((self->gets_left + 63) / 64 + 1, sizeof (uint64_t));
    if (!self->get_by_ret || !self->ret_rank || !self->gets_done)
        abort ();
    size_t gets = 0;
    self->gets_total = self->gets_left;
    for (size_t i = 0; i < n; i++)
        if (self->ops[i].f == ZKV_HIST_GET)
            self->get_by_ret[gets++] = (uint32_t)i;
    lin_sort_ids (self->get_by_ret, gets, self->ops, s_before);
    for (size_t r = 0; r < gets; r++)
        self->ret_rank[self->get_by_ret[r]] = (uint32_t)r;
    lin_cache_init (&self->cache, n);
}

void
lin_key_free (lin_key_t *self)
{
    lin_cache_free (&self->cache);
    lin_states_destroy (&self->states);
    free (self->ops);
    free (self->op_state);
    free (self->get_mask);
    free (self->put_mask);
    free (self->get_by_ret);
    free (self->ret_rank);
    free (self->gets_done);
    memset (self, 0, sizeof *self);
}

bool
lin_key_step (lin_key_t *self, uint32_t state, uint32_t op, uint32_t *next)
{
    const lin_op_t *o = &self->ops[op];
    switch (o->f) {
    case ZKV_HIST_GET:
        *next = state;
        return state == self->op_state[op]; // interned: equal ids iff equal strings
    case ZKV_HIST_PUT:
        *next = self->op_state[op];
        return true;
    case ZKV_HIST_APPEND:
        if (state == LIN_DEAD || self->op_state[op] == LIN_DEAD)
            *next = LIN_DEAD; // the value holds, or now gets, a write no read saw
        else
            *next = lin_states_append (self->states, state, op, o->value);
        return true;
    }
    return false;
}

void
lin_key_mark (lin_key_t *self, uint32_t op, bool linearized)
{
    if (linearized)
        lin_cache_set (&self->cache, op);
    else
        lin_cache_clear (&self->cache, op);
    size_t delta = linearized ? (size_t)-1 : 1;
    if (self->ops[op].f == ZKV_HIST_GET) {
        self->gets_left += delta;
        uint32_t r = self->ret_rank[op];
        if (linearized)
            self->gets_done[r / 64] |= 1ULL << (r % 64);
        else {
            self->gets_done[r / 64] &= ~(1ULL << (r % 64));
            if (r / 64 < self->gets_lo)
                self->gets_lo = r / 64;
        }
    } else if (self->ops[op].f == ZKV_HIST_PUT)
        self->puts_left += delta;
}

static bool
s_is_prefix (zkv_hist_str_t prefix, zkv_hist_str_t of)
{
    return prefix.size <= of.size && memcmp (of.data, prefix.data, prefix.size) == 0;
}

// True if the value of state is a prefix of what get read. A dead state's value is a prefix
// of no read: it holds a write no read saw.
static bool
s_state_prefix (const lin_key_t *self, uint32_t state, const lin_op_t *get)
{
    return state != LIN_DEAD && s_is_prefix (lin_states_bytes (self->states, state), get->value);
}

// The get not yet linearized that returns first (gets are never open-ended): the read that
// constrains the search most.
static uint32_t
s_next_get (lin_key_t *self)
{
    if (!self->gets_left)
        return UINT32_MAX;
    while (self->gets_done[self->gets_lo] == ~0ULL)
        self->gets_lo++;
    uint32_t r = (uint32_t)(self->gets_lo * 64) +
                 (uint32_t)__builtin_ctzll (~self->gets_done[self->gets_lo]);
    return self->get_by_ret[r];
}

// True if a put not yet linearized, called by time `by`, wrote a prefix of `read`.
static bool
s_put_may_base (lin_key_t *self, uint32_t from, uint32_t to, int64_t by, zkv_hist_str_t read)
{
    for (;;) {
        uint32_t p = lin_cache_first_unset (&self->cache, self->put_mask, from, to);
        if (p == UINT32_MAX || self->ops[p].call > by)
            return false; // ids in [from, to) are in call order: no later one qualifies
        if (s_is_prefix (self->ops[p].value, read))
            return true;
        from = p + 1;
    }
}

// Take g, a get not yet linearized, and R, what it read. Whatever completes this
// configuration linearizes, between now and g, only operations not yet linearized; appends
// and gets leave the value's prefix in place, a put replaces it. So R is the current value
// plus appends, or the value of some put p not yet linearized and called before g returned
// (p.call <= g.ret) plus appends. If neither the current value nor any such put's value is a
// prefix of R, g cannot be placed: no completion exists.
static bool
s_get_hopeless (lin_key_t *self, uint32_t state, uint32_t g)
{
    const lin_op_t *get = &self->ops[g];
    if (s_state_prefix (self, state, get))
        return false;
    return !self->puts_left ||
           !(s_put_may_base (self, 0, (uint32_t)self->closed, get->ret, get->value) ||
             s_put_may_base (self, (uint32_t)self->closed, (uint32_t)self->n, get->ret,
                             get->value));
}

// The rule is tried on the first few gets to return: a later read is rarely refuted yet (the
// put it saw is usually still ahead), and each try costs a scan of the puts before it.
#define S_LOOKAHEAD 16

uint32_t
lin_key_hopeless (lin_key_t *self, uint32_t state)
{
    if (!self->gets_left)
        return UINT32_MAX;
    uint32_t g = s_next_get (self);
    size_t r = self->ret_rank[g], tried = 0, gets = self->gets_total;
    for (; r < gets && tried < S_LOOKAHEAD; r++) {
        if (self->gets_done[r / 64] & (1ULL << (r % 64)))
            continue;
        tried++;
        if (s_get_hopeless (self, state, self->get_by_ret[r]))
            return self->get_by_ret[r];
    }
    return UINT32_MAX;
}

bool
lin_key_on_track (lin_key_t *self, uint32_t state)
{
    uint32_t g = s_next_get (self);
    return g == UINT32_MAX || s_state_prefix (self, state, &self->ops[g]);
}
