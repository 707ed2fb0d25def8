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
// state) pairs reached (zkv_lin_cache.c): a configuration reached before is not searched again.
// The list is kept as in Porcupine: entry 0 is a head, lift/unlift relink.
//
// Before the search, revisions are checked where no order matters (zkv_lin_revs.c), and each
// read against the writes alone (zkv_lin_reads.c).
//
// Open-ended operations (ret = +inf: an info, or no completion) can always go last: a write
// always can, a cas whose outcome is unknown too, and nothing after them looks. So the search
// is done once every closed operation is linearized, and never linearizes an open-ended one
// that would leave the state as it is (the same configuration minus that operation can do all
// it can, and place it last).
//
// An operation may have two ways to happen (a cas whose outcome is unknown, in a state that
// does not decide its comparison): a frame records which one it took, and undoing it tries
// the next one before moving past the call, so each is a choice of its own.
// Two additions of ours, both from the model (zkv_lin_model.c): a configuration no completion
// can satisfy is pruned (lin_key_hopeless), and at each depth the calls are tried in two
// passes, first those that keep the value on track for the next read (lin_key_on_track), then
// all. The second pass re-tries the first pass's calls only as cache hits, so each depth tries
// the same set of choices as Wing & Gong's; only the order differs.
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

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
    bool second;    // the pass its depth was in
    uint8_t alt;    // which way the operation happened (lin_key_step)
    bool wrote;     // it changed the value (for the explanation)
} s_frame_t;

typedef enum { S_TAKEN, S_REFUSED, S_HOPELESS } s_try_t;

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
s_build_entries (const lin_key_t *s, s_entry_t **out)
{
    size_t n = s->n;
    s_entry_t *e = zkv_malloc ((2 * n + 1) * sizeof *e);
    memset (e, 0, (2 * n + 1) * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[1 + 2 * i] = (s_entry_t){.time = s->ops[i].call, .op = (uint32_t)i, .is_call = true};
        e[2 + 2 * i] = (s_entry_t){.time = s->ops[i].ret, .op = (uint32_t)i, .is_call = false};
    }
    qsort (e + 1, 2 * n, sizeof *e, s_entry_cmp);
    uint32_t *ret_of = zkv_malloc (n * sizeof *ret_of);
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
    *out = e;
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

// Linearizes op (the way alt) in the current configuration if the model, the cache and, in
// the first pass, the next read allow. *blocker: the get that made it hopeless.
static s_try_t
s_try (lin_key_t *k, uint32_t state, uint32_t op, uint32_t alt, bool second, uint32_t *next,
       bool *wrote, uint32_t *blocker)
{
    if (!lin_key_in_turn (k, op) || !lin_key_step (k, state, op, alt, next, wrote))
        return S_REFUSED;
    if (*next == state && k->ops[op].ret == LIN_INFINITY)
        return S_REFUSED; // see above: not needed here
    lin_key_mark (k, op, true);
    if (k->ops[op].ret == LIN_INFINITY && lin_key_value (k, *next) == LIN_DEAD &&
        !lin_key_dead_needed (k)) {
        lin_key_mark (k, op, false);
        return S_REFUSED; // it can go last (lin_key_dead_needed)
    }
    if (!second && !lin_key_on_track (k, *next)) {
        lin_key_mark (k, op, false);
        return S_REFUSED; // the second pass will try it
    }
    if (lin_cache_add (&k->cache, *next)) {
        // A hopeless configuration stays cached: reaching it again is pruned at once.
        *blocker = lin_key_hopeless (k, *next);
        if (*blocker == UINT32_MAX)
            return S_TAKEN;
        lin_key_mark (k, op, false);
        return S_HOPELESS;
    }
    lin_key_mark (k, op, false);
    return S_REFUSED;
}

// The deepest failure seen, for the explanation.
typedef struct {
    bool have;        // one was recorded
    size_t len;       // operations linearized before it
    uint32_t *seq;    // their ids, in order
    bool *wrote;      // which of them changed the value
    uint32_t blocked; // the operation that could not follow
    uint32_t state;   // the state after them
} s_best_t;

// extra: an operation linearized after the stack (extra_wrote: it changed the value), leading
// to state; UINT32_MAX if none.
static void
s_record (s_best_t *best, const s_entry_t *e, const s_frame_t *stack, size_t depth, uint32_t extra,
          bool extra_wrote, uint32_t state, uint32_t blocked)
{
    size_t len = depth + (extra != UINT32_MAX);
    if (best->have && len <= best->len)
        return;
    best->have = true;
    best->len = len;
    for (size_t i = 0; i < depth; i++) {
        best->seq[i] = e[stack[i].entry].op;
        best->wrote[i] = stack[i].wrote;
    }
    if (extra != UINT32_MAX) {
        best->seq[depth] = extra;
        best->wrote[depth] = extra_wrote;
    }
    best->blocked = blocked;
    best->state = state;
}

void
lin_search (const lin_op_t *ops, size_t n, uint64_t budget, uint64_t memory, lin_outcome_t *outcome)
{
    memset (outcome, 0, sizeof *outcome);
    assert (n < UINT32_MAX / 2);
    lin_key_t k;
    lin_key_init (&k, ops, n);
    n = k.n; // without the writes it left out
    s_entry_t *e;
    s_build_entries (&k, &e);
    s_frame_t *stack = zkv_malloc (n * sizeof *stack);
    s_best_t best = {.seq = zkv_malloc (n * sizeof (uint32_t)), .wrote = zkv_malloc (n * sizeof (bool))};
    size_t depth = 0, max_depth = 0;
    bool out_of_memory = false, second = false;
    uint32_t state = k.initial, at = e[0].next, alt = 0;
    outcome->verdict = ZKV_LIN_OK;
    bool refuted = lin_revs_check (k.ops, n, outcome);
    if (!refuted) {
        uint32_t unexplained = lin_key_unexplained_read (&k);
        if (unexplained != UINT32_MAX) {
            outcome->verdict = ZKV_LIN_ILLEGAL;
            lin_explain_read (&k.ops[unexplained], n, outcome);
            refuted = true;
        }
    }
    while (!refuted && k.closed_left) {
        assert (at); // the list always ends with a return entry
        if (outcome->steps++ >= budget) {
            outcome->verdict = ZKV_LIN_UNKNOWN;
            break;
        }
        if (e[at].is_call) {
            uint32_t next, blocker, op = e[at].op;
            bool wrote;
            s_try_t tried = s_try (&k, state, op, alt, second, &next, &wrote, &blocker);
            if (tried == S_HOPELESS)
                s_record (&best, e, stack, depth, op, wrote, next, blocker);
            if (tried != S_TAKEN) {
                // The other way this operation may happen, if it has one; else the next call.
                if (alt == 0 && lin_key_step (&k, state, op, 1, &next, &wrote))
                    alt = 1;
                else {
                    at = e[at].next;
                    alt = 0;
                }
                continue;
            }
            stack[depth++] = (s_frame_t){at, state, second, (uint8_t)alt, wrote};
            max_depth = depth > max_depth ? depth : max_depth;
            state = next;
            s_lift (e, at);
            at = e[0].next;
            alt = 0;
            second = false;
            uint64_t held = lin_cache_memory (&k.cache) + lin_states_memory (k.states) +
                            (k.versions ? lin_versions_memory (k.versions) : 0);
            if (held > memory) {
                out_of_memory = true;
                outcome->verdict = ZKV_LIN_UNKNOWN;
                break;
            }
            continue;
        }
        // A return: its operation had to be linearized by now. After the first pass, try the
        // calls before it again, all of them; after the second, undo the last choice.
        if (!second) {
            second = true;
            at = e[0].next;
            continue;
        }
        s_record (&best, e, stack, depth, UINT32_MAX, false, state, e[at].op);
        if (depth == 0) {
            outcome->verdict = ZKV_LIN_ILLEGAL;
            break;
        }
        s_frame_t top = stack[--depth];
        state = top.state;
        second = top.second;
        lin_key_mark (&k, e[top.entry].op, false);
        s_unlift (e, top.entry);
        // The call's other way next, if it has one and this was its first; else the next call.
        uint32_t next;
        bool wrote;
        if (top.alt == 0 && lin_key_step (&k, state, e[top.entry].op, 1, &next, &wrote)) {
            at = top.entry;
            alt = 1;
        } else {
            at = e[top.entry].next;
            alt = 0;
        }
    }
    if (outcome->verdict == ZKV_LIN_ILLEGAL && !outcome->explanation)
        lin_explain_illegal (k.ops, n, best.seq, best.wrote, best.len, best.blocked,
                             best.have ? lin_key_revision (&k, best.state) : 0, outcome);
    else if (outcome->verdict == ZKV_LIN_UNKNOWN)
        lin_explain_unknown (n, max_depth, budget, memory, out_of_memory, outcome);
    free (best.seq);
    free (best.wrote);
    free (stack);
    free (e);
    lin_key_free (&k);
}
