// The sequential specification of one key: what each operation does to its value and revision.
//
// The value is a string or missing (no key); it starts missing. put sets it, append
// concatenates (missing counts as ""), delete makes it missing (a delete of a missing key
// succeeds), get reads it (a string, or "not found"), cas compares and, if equal, swaps in its
// new value (null: delete). A cas compares the value (expect null: the key must be absent) or
// the revision (0: the key must be absent; a missing key has no revision).
//
// The revision, tracked only when some operation of the key reports one or a cas compares
// one: each write (put, append, delete, a cas that swaps) gives the key a revision above every
// earlier one, not necessarily the next integer. An ok that reports revision w says which:
// a get reads the revision of the value it read; a write's ok gives the new revision; a cas
// that did not swap gives the key's current one (a cas that reports one > 0 saw the key
// present). Revision 0 reports nothing. A write that reports none leaves "some revision above
// the last": the state keeps a lower bound until a report pins it (exact). A bound cannot say
// "not r" (a cas on revision r that did not swap), except at the bound itself (it moves up one),
// nor bound from above; so with revisions left unreported a cas on a revision may be judged
// less strictly than with concrete integers (never more: no false alarm).
//
// One leniency, so as never to reject a correct server: a delete of a missing key may or may
// not take a new revision (the key has none to show), so its report need only be >= the last
// revision, not above it. Any later write still reports more than it.
#include "zkv_lin_int.h"

#include <assert.h>

typedef struct {
    uint32_t value; // the value's state: an interned string, LIN_MISSING or LIN_DEAD
    uint64_t rev;   // the revision (exact), or a lower bound of it
    bool exact;     // which
} s_state_t;

typedef enum { S_NO, S_YES, S_EITHER } s_match_t;

static s_state_t
s_decode (const lin_key_t *k, uint32_t state)
{
    s_state_t s = {state, 0, false};
    if (k->revs)
        lin_versions_get (k->versions, state, &s.value, &s.rev, &s.exact);
    return s;
}

static uint32_t
s_encode (lin_key_t *k, s_state_t s)
{
    // A missing key's revision only bounds the next write's (w > rev either way), so whether
    // it is exact does not matter: one form, so that equal states get equal ids.
    if (s.value == LIN_MISSING)
        s.exact = true;
    return k->revs ? lin_versions_id (k->versions, s.value, s.rev, s.exact) : s.value;
}

uint32_t
lin_key_value (const lin_key_t *self, uint32_t state)
{
    return s_decode (self, state).value;
}

uint64_t
lin_key_revision (const lin_key_t *self, uint32_t state)
{
    s_state_t s = s_decode (self, state);
    return s.exact ? s.rev : 0;
}

// An operation that saw revision r of the present key: with the revision known it must be r;
// with a lower bound, r pins it.
static bool
s_observe (s_state_t *s, uint64_t r)
{
    if (s->exact)
        return s->rev == r;
    if (r < s->rev)
        return false;
    s->rev = r;
    s->exact = true;
    return true;
}

// A write that makes the value `value` and reported revision w (0: none). on_missing: it
// deletes a key that is already missing (see the leniency above).
static bool
s_write (const lin_key_t *k, s_state_t *s, uint32_t value, uint64_t w, bool on_missing)
{
    s->value = value;
    if (!k->revs)
        return true;
    if (w) {
        // Above the revision (exact), or above some revision >= the bound: w > rev either way.
        if (on_missing ? w < s->rev : w <= s->rev)
            return false;
        s->rev = w;
        s->exact = true;
    } else if (!on_missing) {
        s->rev++; // some revision above: at least one more than the last or its bound
        s->exact = false;
    } else
        s->exact = false;
    return true;
}

// Does the cas's comparison hold in state s?
static s_match_t
s_compare (const lin_key_t *k, const s_state_t *s, uint32_t op)
{
    const lin_op_t *o = &k->ops[op];
    if (o->cmp == LIN_CMP_VALUE) {
        uint32_t want = k->op_expect[op];
        // Interned: equal ids iff equal strings. A dead value equals no expected value, as
        // every expected value counts as read (zkv_lin_unseen.c).
        return s->value == want && want != LIN_DEAD ? S_YES : S_NO;
    }
    uint64_t r = o->expect_rev;
    if (r == 0)
        return s->value == LIN_MISSING ? S_YES : S_NO;
    if (s->value == LIN_MISSING)
        return S_NO; // a missing key has no revision
    if (s->exact)
        return s->rev == r ? S_YES : S_NO;
    // The revision is only known to be >= s->rev: what the rest of the history says of r
    // decides what it can (zkv_lin_revs.c), else either outcome is possible.
    if (r < s->rev || o->hint == LIN_HINT_DELETED)
        return S_NO;
    if (o->hint == LIN_HINT_VALUE) {
        if (s->value != k->op_expect[op])
            return S_NO; // revision r holds another value
        return o->hint_unique ? S_YES : S_EITHER;
    }
    return S_EITHER;
}

static bool
s_cas (lin_key_t *k, s_state_t *s, uint32_t op, uint32_t alt, bool *wrote)
{
    const lin_op_t *o = &k->ops[op];
    s_match_t m = s_compare (k, s, op);
    bool swap;
    if (o->swapped == 1)
        swap = true;
    else if (o->swapped == 0)
        swap = false;
    else
        swap = m == S_EITHER ? alt == 0 : m == S_YES;
    if (alt > (o->swapped == -1 && m == S_EITHER ? 1u : 0u))
        return false;
    if ((swap && m == S_NO) || (!swap && m == S_YES))
        return false;
    if (swap) {
        if (k->revs && o->cmp == LIN_CMP_REV && o->expect_rev && !s->exact) {
            // It matched: the revision was the one expected (s_compare made sure it can be).
            s->rev = o->expect_rev;
            s->exact = true;
        }
        *wrote = true;
        uint32_t to = k->op_state[op];
        return s_write (k, s, to, o->rev, to == LIN_MISSING && s->value == LIN_MISSING);
    }
    if (k->revs && o->cmp == LIN_CMP_REV && o->expect_rev && s->value != LIN_MISSING && !s->exact &&
        s->rev == o->expect_rev)
        s->rev++; // present and not at revision r though at least r: above it
    if (!k->revs || !o->rev)
        return true;
    // It did not swap and reported the key's current revision: the key was present, and with
    // another revision than a revision cas expected.
    if (s->value == LIN_MISSING || (o->cmp == LIN_CMP_REV && o->rev == o->expect_rev))
        return false;
    return s_observe (s, o->rev);
}

static bool
s_get (const lin_key_t *k, s_state_t *s, uint32_t op)
{
    const lin_op_t *o = &k->ops[op];
    if (!o->value.data)
        return s->value == LIN_MISSING;
    if (o->empty_or_missing && s->value == LIN_MISSING)
        return true;
    if (s->value != k->op_state[op]) // interned: equal ids iff equal strings
        return false;
    return !k->revs || !o->rev || s_observe (s, o->rev);
}

bool
lin_key_step (lin_key_t *self, uint32_t state, uint32_t op, uint32_t alt, uint32_t *next,
              bool *wrote)
{
    const lin_op_t *o = &self->ops[op];
    s_state_t s = s_decode (self, state);
    bool ok = false;
    *wrote = false;
    if (alt && o->f != ZKV_HIST_CAS)
        return false;
    switch (o->f) {
    case ZKV_HIST_GET:
        ok = s_get (self, &s, op);
        break;
    case ZKV_HIST_PUT:
        *wrote = true;
        ok = s_write (self, &s, self->op_state[op], o->rev, false);
        break;
    case ZKV_HIST_APPEND: {
        uint32_t to;
        if (s.value == LIN_DEAD || self->op_state[op] == LIN_DEAD)
            to = LIN_DEAD; // the value holds, or now gets, a write no read saw
        else
            to = lin_states_append (self->states, s.value == LIN_MISSING ? 0 : s.value, op,
                                    o->value);
        *wrote = true;
        ok = s_write (self, &s, to, o->rev, false);
        break;
    }
    case ZKV_HIST_DELETE:
        *wrote = true;
        ok = s_write (self, &s, LIN_MISSING, o->rev, s.value == LIN_MISSING);
        break;
    case ZKV_HIST_CAS:
        ok = s_cas (self, &s, op, alt, wrote);
        break;
    }
    if (ok)
        *next = s_encode (self, s);
    return ok;
}
