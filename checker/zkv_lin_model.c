// One key's operations for the search, and the two rules that let the search skip most orders.
//
// The state is the key's whole value, a string or missing (zkv_lin_states.c interns strings),
// and its revision when the key's history speaks of revisions (zkv_lin_step.c has the model).
// Concurrent appends are what makes the search hard: each order of them is another string, so
// the cache (zkv_lin_cache.c) cannot merge the orders, and a read that refutes an order may
// come much later. The reads themselves tell the order, though:
//  - lin_key_hopeless prunes a configuration that no completion can satisfy (sound: it only
//    cuts when the next read can be shown impossible);
//  - lin_key_on_track orders the search's choices: first the ones the next read agrees with
//    (a heuristic: it changes the order of the tries, never their set).
// Both look at values only; revisions only ever refuse more, so what they prove holds.
//
// A third rule breaks a symmetry of open-ended operations (info, or never completed): two of
// them that do the same thing in every state ("twins": two deletes; two puts, or two appends,
// of one value; two writes of values no read saw, which all make the value dead; two cas with
// the same comparison and new value) are interchangeable. If a linearization places twins a
// and b, called in that order, at points p < q, swapping them is one too: a is called before b,
// b before q, so each point lies after its new operation's call, neither has a return to
// respect, and every state is the same. So some linearization takes each class of twins in
// call order, and the search tries only those (lin_key_in_turn). Without it, k undecided
// writes nobody read cost the search 2^k subsets of the same state; with it, k + 1.
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

// The value state of s: LIN_MISSING for null, else the interned string.
static uint32_t
s_intern (lin_key_t *self, zkv_hist_str_t s)
{
    return s.data ? lin_states_intern (self->states, s) : LIN_MISSING;
}

// True if the key's history speaks of revisions: the search then tracks them.
static bool
s_uses_revisions (const lin_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].rev || (ops[i].f == ZKV_HIST_CAS && ops[i].cmp == LIN_CMP_REV))
            return true;
    return false;
}

static void
s_set (uint64_t *mask, size_t i)
{
    mask[i / 64] |= 1ULL << (i % 64);
}

// What an open-ended op does, as fields that are equal for twins (see above).
typedef struct {
    uint32_t id;         // the op
    uint32_t kind;       // f, or S_DEAD_WRITE for a put or append of a dead value
    uint32_t value;      // put/cas: the state written; append: its argument's string
    uint32_t expect;     // cas: op_expect
    uint32_t cmp;        // cas: cmp, hint, hint_unique
    uint64_t expect_rev; // cas by revision: the revision expected
} s_twin_t;

#define S_DEAD_WRITE 100

static int
s_twin_cmp (const void *a, const void *b)
{
    const s_twin_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    if (x->expect != y->expect)
        return x->expect < y->expect ? -1 : 1;
    if (x->cmp != y->cmp)
        return x->cmp < y->cmp ? -1 : 1;
    if (x->expect_rev != y->expect_rev)
        return x->expect_rev < y->expect_rev ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; // call order within a class
}

static bool
s_twins (const s_twin_t *x, const s_twin_t *y)
{
    return x->kind == y->kind && x->value == y->value && x->expect == y->expect &&
           x->cmp == y->cmp && x->expect_rev == y->expect_rev;
}

// Links each open-ended op to its twin called just before it.
static void
s_find_twins (lin_key_t *self)
{
    size_t n = self->n, open = n - self->closed;
    self->twin_before = malloc ((n ? n : 1) * sizeof *self->twin_before);
    s_twin_t *t = malloc ((open ? open : 1) * sizeof *t);
    if (!self->twin_before || !t)
        abort ();
    for (size_t i = 0; i < n; i++)
        self->twin_before[i] = UINT32_MAX;
    for (size_t i = self->closed; i < n; i++) {
        const lin_op_t *o = &self->ops[i];
        uint32_t state = self->op_state[i];
        bool dead_write = state == LIN_DEAD && (o->f == ZKV_HIST_PUT || o->f == ZKV_HIST_APPEND);
        t[i - self->closed] = (s_twin_t){
            .id = (uint32_t)i,
            .kind = dead_write ? S_DEAD_WRITE : (uint32_t)o->f,
            .value = dead_write                ? 0
                     : o->f == ZKV_HIST_APPEND ? lin_states_intern (self->states, o->value)
                                               : state,
            .expect = o->f == ZKV_HIST_CAS ? self->op_expect[i] : 0,
            .cmp = o->f == ZKV_HIST_CAS
                       ? (uint32_t)o->cmp << 8 | (uint32_t)o->hint << 1 | o->hint_unique
                       : 0,
            .expect_rev = o->f == ZKV_HIST_CAS ? o->expect_rev : 0};
    }
    qsort (t, open, sizeof *t, s_twin_cmp);
    for (size_t i = 1; i < open; i++)
        if (s_twins (&t[i - 1], &t[i]))
            self->twin_before[t[i].id] = t[i - 1].id;
    free (t);
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
    self->op_expect = malloc ((n ? n : 1) * sizeof *self->op_expect);
    size_t words = (n + 63) / 64 + 1;
    self->get_mask = calloc (words, sizeof (uint64_t));
    self->base_mask = calloc (words, sizeof (uint64_t));
    self->reset_mask = calloc (words, sizeof (uint64_t));
    self->hazard_mask = calloc (words, sizeof (uint64_t));
    self->append_mask = calloc (words, sizeof (uint64_t));
    if (!self->hazard_mask || !self->append_mask || !self->ops || !self->op_state ||
        !self->op_expect || !self->get_mask || !self->base_mask || !self->reset_mask)
        abort ();
    if (n)
        memcpy (self->ops, ops, n * sizeof *self->ops);
    qsort (self->ops, n, sizeof *self->ops, s_op_cmp);
    lin_revs_hints (self->ops, n); // before the unseen writes: the hints' values count as read
    bool *unseen = calloc (n ? n : 1, sizeof *unseen);
    if (!unseen)
        abort ();
    lin_find_unseen (self->ops, n, unseen);
    bool *hazard = calloc (n ? n : 1, sizeof *hazard);
    if (!hazard)
        abort ();
    bool leave_out = !lin_unseen_hazards (self->ops, n, hazard);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (leave_out && unseen[i] && self->ops[i].ret == LIN_INFINITY)
            continue; // an open-ended write no read saw may go last: leave it out
        unseen[kept] = unseen[i];
        hazard[kept] = hazard[i];
        self->ops[kept++] = self->ops[i];
    }
    self->n = n = kept;
    self->states = lin_states_new ();
    self->revs = s_uses_revisions (self->ops, n);
    if (self->revs) {
        self->versions = lin_versions_new ();
        self->initial = lin_versions_id (self->versions, LIN_MISSING, 0, true);
    } else
        self->initial = LIN_MISSING;
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = &self->ops[i];
        if (o->ret != LIN_INFINITY)
            self->closed = i + 1;
        self->op_state[i] = unseen[i]                 ? LIN_DEAD
                            : o->f == ZKV_HIST_APPEND ? 0
                                                      : s_intern (self, o->value);
        self->op_expect[i] = o->f == ZKV_HIST_CAS ? s_intern (self, o->expect) : 0;
        // a hint's value is looked at only with the hint
        if (o->f == ZKV_HIST_CAS && o->cmp == LIN_CMP_REV && o->hint != LIN_HINT_VALUE)
            self->op_expect[i] = LIN_DEAD;
        if (o->f == ZKV_HIST_GET) {
            s_set (self->get_mask, i);
            self->gets_left++;
        }
        bool may_write = o->f == ZKV_HIST_PUT || o->f == ZKV_HIST_DELETE ||
                         (o->f == ZKV_HIST_CAS && o->swapped != 0);
        if (may_write && o->f != ZKV_HIST_DELETE && o->value.data)
            s_set (self->base_mask, i);
        if (may_write && !o->value.data)
            s_set (self->reset_mask, i);
        if (hazard[i])
            s_set (self->hazard_mask, i);
        if (o->f == ZKV_HIST_APPEND)
            s_set (self->append_mask, i);
    }
    free (unseen);
    free (hazard);
    self->closed_left = self->closed;
    s_find_twins (self);
    self->appends = lin_appends_new (self->ops, n);
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        if (self->ops[i].f == ZKV_HIST_GET && self->ops[i].value.size > longest)
            longest = self->ops[i].value.size;
    self->reach = malloc (longest + 1);
    if (!self->reach)
        abort ();
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
    lin_versions_destroy (&self->versions);
    free (self->ops);
    free (self->op_state);
    free (self->op_expect);
    free (self->get_mask);
    free (self->base_mask);
    free (self->reset_mask);
    free (self->hazard_mask);
    free (self->append_mask);
    free (self->twin_before);
    free (self->reach);
    lin_appends_destroy (&self->appends);
    free (self->get_by_ret);
    free (self->ret_rank);
    free (self->gets_done);
    memset (self, 0, sizeof *self);
}

void
lin_key_mark (lin_key_t *self, uint32_t op, bool linearized)
{
    if (linearized)
        lin_cache_set (&self->cache, op);
    else
        lin_cache_clear (&self->cache, op);
    size_t delta = linearized ? (size_t)-1 : 1;
    if (op < self->closed)
        self->closed_left += delta;
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
    }
}

bool
lin_key_in_turn (const lin_key_t *self, uint32_t op)
{
    uint32_t twin = self->twin_before[op];
    return twin == UINT32_MAX || (self->cache.bits[twin / 64] >> (twin % 64) & 1);
}

static bool
s_is_prefix (zkv_hist_str_t prefix, zkv_hist_str_t of)
{
    return prefix.size <= of.size && memcmp (of.data, prefix.data, prefix.size) == 0;
}

// True if appends alone can turn the value `value` into what get read. A dead value is a
// prefix of no read: it holds a write no read saw. A missing key grows as "" does, but only
// a missing key reads "not found".
static bool
s_state_prefix (const lin_key_t *self, uint32_t value, const lin_op_t *get)
{
    if (!get->value.data || (get->empty_or_missing && value == LIN_MISSING))
        return value == LIN_MISSING;
    if (value == LIN_MISSING)
        return true;
    return value != LIN_DEAD && s_is_prefix (lin_states_bytes (self->states, value), get->value);
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

typedef enum { S_PREFIX, S_EXACT, S_ANY, S_SUFFIX } s_fit_t;

static bool
s_is_suffix (zkv_hist_str_t suffix, zkv_hist_str_t of)
{
    return suffix.size <= of.size &&
           memcmp (of.data + of.size - suffix.size, suffix.data, suffix.size) == 0;
}

// True if an op of mask not yet linearized, called by time `by`, has a value that fits what
// get read: is a prefix of it, is it, is a suffix of it, or any (S_ANY).
static bool
s_pending (lin_key_t *self, const uint64_t *mask, uint32_t from, uint32_t to, int64_t by,
           const lin_op_t *get, s_fit_t fit)
{
    for (;;) {
        uint32_t p = lin_cache_first_unset (&self->cache, mask, from, to);
        if (p == UINT32_MAX || self->ops[p].call > by)
            return false; // ids in [from, to) are in call order: no later one qualifies
        zkv_hist_str_t v = self->ops[p].value;
        if (fit == S_ANY || (fit == S_PREFIX && s_is_prefix (v, get->value)) ||
            (fit == S_SUFFIX && s_is_suffix (v, get->value)) ||
            (fit == S_EXACT && v.size == get->value.size && s_is_prefix (v, get->value)))
            return true;
        from = p + 1;
    }
}

static bool
s_pending_any (lin_key_t *self, const uint64_t *mask, const lin_op_t *get, s_fit_t fit)
{
    return s_pending (self, mask, 0, (uint32_t)self->closed, get->ret, get, fit) ||
           s_pending (self, mask, (uint32_t)self->closed, (uint32_t)self->n, get->ret, get, fit);
}

// Marks in reach where each pending op of mask (not yet linearized, called by `by`) whose
// value is a prefix of R ends that prefix; true if it marked any.
static bool
s_pending_starts (lin_key_t *self, const uint64_t *mask, uint32_t from, uint32_t to, int64_t by,
                  zkv_hist_str_t r, bool *reach)
{
    bool any = false;
    for (;;) {
        uint32_t p = lin_cache_first_unset (&self->cache, mask, from, to);
        if (p == UINT32_MAX || self->ops[p].call > by)
            return any;
        if (s_is_prefix (self->ops[p].value, r))
            reach[self->ops[p].value.size] = any = true;
        from = p + 1;
    }
}

// Past this many bytes of a read to cut, the search keeps to the cheaper test (sound, weaker).
#define S_BUILD_MAX 4096

// Take g, a get not yet linearized, and R, what it read. Whatever completes this
// configuration linearizes, between now and g, only operations not yet linearized; appends,
// gets and cas that do not swap leave the value's prefix in place (a missing key counts as
// ""), a put or a cas that swaps replaces it, a delete (or a cas that swaps to null) makes
// the key missing. So R is a base followed by appends: the current value, or the value of
// some such put or cas p not yet linearized and called before g returned (p.call <= g.ret),
// or "" after such a delete; the appends after it are not linearized yet and were called
// before g returned. "Not found" is the current value if missing, or follows such a delete.
// If none of this can give R, g cannot be placed: no completion exists. deep: cut all of R
// into those appends' values (zkv_lin_build.c); else only ask that one of them end R.
static bool
s_get_hopeless (lin_key_t *self, uint32_t state, uint32_t g, bool deep)
{
    const lin_op_t *get = &self->ops[g];
    uint32_t value = lin_key_value (self, state);
    if (!get->value.data) // not found
        return value != LIN_MISSING && !s_pending_any (self, self->reset_mask, get, S_ANY);
    if (value == self->op_state[g] || (get->empty_or_missing && value == LIN_MISSING))
        return false; // R is the value now
    if (get->empty_or_missing && s_pending_any (self, self->reset_mask, get, S_ANY))
        return false; // R may be a missing key
    if (s_pending_any (self, self->base_mask, get, S_EXACT))
        return false; // R is a pending write's value
    zkv_hist_str_t r = get->value;
    if (!deep) {
        bool base = s_state_prefix (self, value, get) ||
                    s_pending_any (self, self->reset_mask, get, S_ANY) ||
                    s_pending_any (self, self->base_mask, get, S_PREFIX);
        return !base || !s_pending_any (self, self->append_mask, get, S_SUFFIX);
    }
    bool *reach = self->reach;
    memset (reach, 0, r.size + 1);
    bool any = false;
    if (value == LIN_MISSING || s_pending_any (self, self->reset_mask, get, S_ANY))
        reach[0] = any = true; // "" grows from a missing key
    if (value != LIN_MISSING && s_state_prefix (self, value, get))
        reach[lin_states_bytes (self->states, value).size] = any = true;
    any |= s_pending_starts (self, self->base_mask, 0, (uint32_t)self->closed, get->ret, r, reach);
    any |= s_pending_starts (self, self->base_mask, (uint32_t)self->closed, (uint32_t)self->n,
                             get->ret, r, reach);
    if (!any)
        return true;
    size_t from = 0;
    while (!reach[from])
        from++;
    if (r.size - from > S_BUILD_MAX)
        return !s_pending_any (self, self->append_mask, get, S_SUFFIX);
    return !lin_appends_build (self->appends, &self->cache, r, get->ret, reach);
}

// An open-ended op O just made the value dead. Take a completion C of this configuration that
// starts with O, and O's stretch in it: the ops after O up to the next put, delete or swap.
// No get is in it (none reads a dead value), so all of it comes before the first get left,
// and every op in it was called before that get returns: before g.ret for g, the get left
// that returns first. If none of it is a hazard (lin_unseen_hazards: what may look at a dead
// value), then moving O, and the open-ended cas on values in the stretch (none matched a dead
// value), to the end of C gives a completion too (zkv_lin_unseen.c: the stretch's appends
// still succeed, nothing sees its values, revisions only relax). So O is needed now only if a
// hazard not yet linearized was called by g.ret (by any time if no get is left).
bool
lin_key_dead_needed (lin_key_t *self)
{
    uint32_t g = s_next_get (self);
    int64_t by = g == UINT32_MAX ? LIN_INFINITY : self->ops[g].ret;
    uint32_t h = lin_cache_first_unset (&self->cache, self->hazard_mask, 0, (uint32_t)self->closed);
    if (h != UINT32_MAX && self->ops[h].call <= by)
        return true; // ids in [0, closed) are in call order: the first one decides
    h = lin_cache_first_unset (&self->cache, self->hazard_mask, (uint32_t)self->closed,
                               (uint32_t)self->n);
    return h != UINT32_MAX && self->ops[h].call <= by;
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
        if (s_get_hopeless (self, state, self->get_by_ret[r], tried == 1))
            return self->get_by_ret[r];
    }
    return UINT32_MAX;
}

bool
lin_key_on_track (lin_key_t *self, uint32_t state)
{
    uint32_t g = s_next_get (self);
    return g == UINT32_MAX || s_state_prefix (self, lin_key_value (self, state), &self->ops[g]);
}
