// Revisions before the search: the checks that need no order, and what a cas's expected
// revision stands for.
//
// A key's revisions strictly increase over its writes in linearization order (zkv_lin_step.c),
// so, whatever the order:
//  (a) a revision identifies one version of the key: reported with two different values (by
//      gets, or a get and the write that made it), with a value and as a delete's, or by two
//      writes, it is a violation. (Two deletes may report the same one: a delete of a missing
//      key need not take a new revision.)
//  (b) real time: if A completed ok with revision ra before B was invoked, and B completed ok
//      with rb, then ra <= rb, and ra < rb if B is a put, an append or a cas that swapped to a
//      value (it made a new version after A's point). Not strict for a delete (of a missing
//      key, see above), a get, or a cas that did not swap. A get that found nothing reports 0,
//      which says nothing.
// The search checks the same and more (each order's revisions), but only by refuting every
// order; these give the answer at once, and an explanation that names the two operations.
//
// (c) A cas on revision r compares the key's revision. When the search knows the revision
// exactly, that decides. When it knows only a lower bound (after a write that reported none),
// the history may still say what r is: the version some get, put or cas that swapped reported
// as r has that value, and a delete's r belongs to no value. Then a value other than that one
// cannot have revision r (sound: r names one version); the value itself has revision r for
// sure only if no other write can make that value again (hint_unique), else either outcome
// remains possible. An r the history does not reveal leaves the comparison open.
#include "zkv_lin_int.h"
#include "zkv_alloc.h"

#include <stdlib.h>
#include <string.h>

// What an operation's reported revision says about the version it names.
typedef enum {
    S_NONE,    // nothing (no revision, or not ok)
    S_VALUE,   // the version holds value
    S_PRESENT, // the key exists at that revision (value not known)
    S_MISSING, // it is a delete's revision
} s_says_t;

typedef struct {
    uint32_t op;  // the operation
    uint64_t rev; // the revision it reported
} s_claim_t;

static bool
s_same (zkv_hist_str_t a, zkv_hist_str_t b)
{
    return a.size == b.size && memcmp (a.data, b.data, a.size) == 0;
}

// What o's revision says, and in *value the value for S_VALUE.
static s_says_t
s_says (const lin_op_t *o, zkv_hist_str_t *value)
{
    if (!o->rev || o->ret == LIN_INFINITY)
        return S_NONE;
    *value = o->value;
    switch (o->f) {
    case ZKV_HIST_GET:
        return o->value.data ? S_VALUE : S_NONE;
    case ZKV_HIST_PUT:
        return S_VALUE;
    case ZKV_HIST_APPEND:
        return S_PRESENT;
    case ZKV_HIST_DELETE:
        return S_MISSING;
    case ZKV_HIST_CAS:
        if (o->swapped == 1)
            return o->value.data ? S_VALUE : S_MISSING;
        return o->swapped == 0 ? S_PRESENT : S_NONE; // not swapped: the current version
    }
    return S_NONE;
}

// A write that made the version it reports (a second one with that revision is a violation).
static bool
s_made (const lin_op_t *o)
{
    return o->f == ZKV_HIST_PUT || o->f == ZKV_HIST_APPEND ||
           (o->f == ZKV_HIST_CAS && o->swapped == 1 && o->value.data);
}

static int
s_claim_cmp (const void *a, const void *b)
{
    const s_claim_t *x = a, *y = b;
    if (x->rev != y->rev)
        return x->rev < y->rev ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

// The claims (ops with a revision that says something), sorted by revision.
static s_claim_t *
s_claims (const lin_op_t *ops, size_t n, size_t *count)
{
    s_claim_t *c = zkv_malloc (n * sizeof *c);
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        zkv_hist_str_t v;
        if (s_says (&ops[i], &v) != S_NONE)
            c[(*count)++] = (s_claim_t){(uint32_t)i, ops[i].rev};
    }
    qsort (c, *count, sizeof *c, s_claim_cmp);
    return c;
}

static void
s_explain (const lin_op_t *ops, size_t n, uint32_t a, uint32_t b, const char *what,
           lin_outcome_t *outcome)
{
    lin_text_t t = {0};
    lin_text_printf (&t, "no order of its %zu operations is legal: %s\n  ", n, what);
    lin_text_op (&t, &ops[a]);
    lin_text_printf (&t, "\n  ");
    lin_text_op (&t, &ops[b]);
    outcome->verdict = ZKV_LIN_ILLEGAL;
    outcome->explanation = t.data;
}

// (a): within each group of one revision, every claim must agree with the first of each kind.
static bool
s_check_versions (const lin_op_t *ops, size_t n, lin_outcome_t *outcome)
{
    size_t count;
    s_claim_t *c = s_claims (ops, n, &count);
    bool bad = false;
    for (size_t from = 0, to; from < count && !bad; from = to) {
        uint32_t value = UINT32_MAX, present = UINT32_MAX, missing = UINT32_MAX;
        uint32_t made = UINT32_MAX;
        for (to = from; to < count && c[to].rev == c[from].rev && !bad; to++) {
            uint32_t op = c[to].op;
            zkv_hist_str_t v;
            s_says_t says = s_says (&ops[op], &v);
            uint32_t other = UINT32_MAX;
            if (says == S_VALUE && value != UINT32_MAX && !s_same (v, ops[value].value))
                other = value;
            else if (says == S_MISSING && (value != UINT32_MAX || present != UINT32_MAX))
                other = value != UINT32_MAX ? value : present;
            else if (says != S_MISSING && missing != UINT32_MAX)
                other = missing;
            else if (s_made (&ops[op]) && made != UINT32_MAX)
                other = made;
            if (other != UINT32_MAX) {
                s_explain (ops, n, other, op,
                           "one revision stands for two versions of the key (each write "
                           "makes a new revision):",
                           outcome);
                bad = true;
            }
            uint32_t *first = says == S_VALUE ? &value : says == S_MISSING ? &missing : &present;
            if (*first == UINT32_MAX)
                *first = op;
            if (s_made (&ops[op]) && made == UINT32_MAX)
                made = op;
        }
    }
    free (c);
    return bad;
}

static bool
s_ret_before (const lin_op_t *ops, uint32_t a, uint32_t b)
{
    return ops[a].ret < ops[b].ret;
}

static bool
s_call_before (const lin_op_t *ops, uint32_t a, uint32_t b)
{
    return ops[a].call < ops[b].call;
}

// (b): sweep the operations by call time, with the largest revision returned before each.
static bool
s_check_real_time (const lin_op_t *ops, size_t n, lin_outcome_t *outcome)
{
    uint32_t *by_ret = zkv_malloc (n * sizeof *by_ret), *by_call = zkv_malloc (n * sizeof *by_call);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].rev && ops[i].ret != LIN_INFINITY &&
            !(ops[i].f == ZKV_HIST_GET && !ops[i].value.data))
            by_ret[m] = by_call[m] = (uint32_t)i, m++;
    lin_sort_ids (by_ret, m, ops, s_ret_before);
    lin_sort_ids (by_call, m, ops, s_call_before);
    uint32_t top = UINT32_MAX; // the op with the largest revision returned so far
    bool bad = false;
    for (size_t i = 0, j = 0; i < m && !bad; i++) {
        const lin_op_t *b = &ops[by_call[i]];
        for (; j < m && ops[by_ret[j]].ret < b->call; j++)
            if (top == UINT32_MAX || ops[by_ret[j]].rev > ops[top].rev)
                top = by_ret[j];
        if (top == UINT32_MAX)
            continue;
        uint64_t ra = ops[top].rev, rb = b->rev;
        if (rb < ra || (rb == ra && s_made (b))) {
            s_explain (ops, n, top, by_call[i],
                       "revisions go back in real time (the first returned before the second "
                       "was called; a write must report more, any other at least as much):",
                       outcome);
            bad = true;
        }
    }
    free (by_ret);
    free (by_call);
    return bad;
}

bool
lin_revs_check (const lin_op_t *ops, size_t n, lin_outcome_t *outcome)
{
    return s_check_versions (ops, n, outcome) || s_check_real_time (ops, n, outcome);
}

// Could op leave the key holding exactly v (as its own write)?
static bool
s_may_make (const lin_op_t *o, zkv_hist_str_t v)
{
    if (o->f == ZKV_HIST_PUT || (o->f == ZKV_HIST_CAS && o->swapped != 0))
        return o->value.data && s_same (o->value, v);
    if (o->f == ZKV_HIST_APPEND) // any value that ends with its argument
        return o->value.size <= v.size &&
               memcmp (v.data + v.size - o->value.size, o->value.data, o->value.size) == 0;
    return false;
}

// The uniqueness test costs a pass over the key per hinted cas; past this many op pairs the
// hints stay without it (weaker, still sound).
#define S_UNIQUE_WORK 50000000ULL

void
lin_revs_hints (lin_op_t *ops, size_t n)
{
    size_t count, cas_rev = 0;
    for (size_t i = 0; i < n; i++)
        cas_rev += ops[i].f == ZKV_HIST_CAS && ops[i].cmp == LIN_CMP_REV;
    if (!cas_rev)
        return;
    s_claim_t *c = s_claims (ops, n, &count);
    bool unique_test = (uint64_t)cas_rev * n <= S_UNIQUE_WORK;
    for (size_t i = 0; i < n; i++) {
        lin_op_t *o = &ops[i];
        if (o->f != ZKV_HIST_CAS || o->cmp != LIN_CMP_REV)
            continue;
        o->hint = LIN_HINT_NONE;
        o->hint_unique = false;
        o->expect = (zkv_hist_str_t){NULL, 0};
        if (!o->expect_rev)
            continue;
        // The first claim of that revision (binary search); (a) refutes the key if they differ.
        size_t lo = 0, hi = count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (c[mid].rev < o->expect_rev)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < count && c[lo].rev == o->expect_rev; lo++) {
            zkv_hist_str_t v;
            s_says_t says = s_says (&ops[c[lo].op], &v);
            if (says == S_MISSING) {
                o->hint = LIN_HINT_DELETED;
                break;
            }
            if (says == S_VALUE) {
                o->hint = LIN_HINT_VALUE;
                o->expect = v;
                break;
            }
        }
        if (o->hint != LIN_HINT_VALUE || !unique_test)
            continue;
        size_t makers = 0;
        for (size_t j = 0; j < n && makers < 2; j++)
            makers += s_may_make (&ops[j], o->expect);
        o->hint_unique = makers < 2;
    }
    free (c);
}
