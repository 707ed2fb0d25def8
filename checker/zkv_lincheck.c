// The checker's front: turns a history into operations, splits them by key, checks each key.
#include "zkv_lin_int.h"
#include "zkv_error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_CLOSED, S_OPEN, S_DROPPED } s_kind_t;

typedef struct {
    const zkv_hist_event_t *invoke; // the call
    const zkv_hist_event_t *done;   // its completion, or NULL
    s_kind_t kind;                  // how the checker takes it
} s_item_t;

// What an invoke means to the model (see zkv_lincheck.h).
static s_kind_t
s_kind (const zkv_hist_event_t *invoke, const zkv_hist_event_t *done)
{
    if (done && done->type == ZKV_HIST_FAIL)
        return S_DROPPED;
    if (done && done->type == ZKV_HIST_OK)
        return S_CLOSED;
    // info or never completed: a write may have happened; a read tells nothing.
    return invoke->f == ZKV_HIST_GET ? S_DROPPED : S_OPEN;
}

static int
s_key_cmp (const zkv_hist_str_t *a, const zkv_hist_str_t *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = memcmp (a->data, b->data, n);
    if (c)
        return c;
    return a->size < b->size ? -1 : a->size > b->size;
}

// By key, then the operations the search will number first: closed ones in call order, then
// the open-ended ones (see zkv_lin_search.c on why that keeps the cache small).
static int
s_item_cmp (const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    int c = s_key_cmp (&x->invoke->key, &y->invoke->key);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->invoke->time != y->invoke->time)
        return x->invoke->time < y->invoke->time ? -1 : 1;
    return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

static lin_op_t
s_op (const s_item_t *item, bool empty_may_be_missing)
{
    const zkv_hist_event_t *inv = item->invoke;
    lin_op_t op = {.f = inv->f,
                   .process = inv->process,
                   .call = inv->time,
                   .ret = LIN_INFINITY,
                   .value = inv->value,
                   .line = inv->line,
                   .cmp = inv->has_expect_revision ? LIN_CMP_REV : LIN_CMP_VALUE,
                   .expect = inv->expect,
                   .expect_rev = inv->expect_revision,
                   .swapped = -1};
    if (item->kind == S_CLOSED) {
        const zkv_hist_event_t *done = item->done;
        op.ret = done->time;
        op.rev = done->has_revision ? done->revision : 0;
        op.swapped = inv->f == ZKV_HIST_CAS ? done->swapped : -1;
        if (inv->f == ZKV_HIST_GET) {
            op.value = done->value;
            op.empty_or_missing = empty_may_be_missing && done->value.data && !done->value.size;
        }
    }
    return op;
}

static char *
s_quote_key (zkv_hist_str_t key)
{
    lin_text_t t = {0};
    lin_text_quote (&t, key, 200);
    return t.data;
}

int
zkv_lincheck (const zkv_history_t *hist, const zkv_lin_options_t *options, zkv_lin_result_t *result)
{
    if (!hist || !result)
        return ZKV_EINVAL;
    memset (result, 0, sizeof *result);
    uint64_t budget = options && options->budget ? options->budget : ZKV_LIN_DEFAULT_BUDGET;
    uint64_t memory = options && options->memory ? options->memory : ZKV_LIN_DEFAULT_MEMORY;

    size_t size = zkv_history_size (hist), count = 0;
    s_item_t *items = malloc ((size ? size : 1) * sizeof *items);
    if (!items)
        abort ();
    for (size_t i = 0; i < size; i++) {
        const zkv_hist_event_t *ev = zkv_history_event (hist, i);
        if (ev->type != ZKV_HIST_INVOKE)
            continue;
        const zkv_hist_event_t *done =
            ev->partner == ZKV_HIST_NONE ? NULL : zkv_history_event (hist, ev->partner);
        items[count++] = (s_item_t){ev, done, s_kind (ev, done)};
    }
    qsort (items, count, sizeof *items, s_item_cmp);
    result->ops = count;
    result->verdict = ZKV_LIN_OK;

    lin_op_t *ops = malloc ((count ? count : 1) * sizeof *ops);
    if (!ops)
        abort ();
    for (size_t from = 0, to; from < count; from = to) {
        size_t n = 0;
        for (to = from;
             to < count && s_key_cmp (&items[to].invoke->key, &items[from].invoke->key) == 0; to++)
            if (items[to].kind != S_DROPPED)
                ops[n++] = s_op (&items[to], options && options->empty_may_be_missing);
        result->keys++;
        if (result->verdict == ZKV_LIN_ILLEGAL)
            continue; // keep counting keys, stop checking
        lin_outcome_t outcome;
        lin_search (ops, n, budget, memory, &outcome);
        result->steps += outcome.steps;
        if (outcome.verdict == ZKV_LIN_OK)
            continue;
        if (outcome.verdict == ZKV_LIN_UNKNOWN)
            result->keys_unknown++;
        if (outcome.verdict == ZKV_LIN_ILLEGAL || !result->key) {
            free (result->key);
            free (result->explanation);
            result->key = s_quote_key (items[from].invoke->key);
            result->explanation = outcome.explanation;
            result->verdict = outcome.verdict;
        } else
            free (outcome.explanation);
    }
    free (ops);
    free (items);
    return 0;
}

void
zkv_lin_result_clear (zkv_lin_result_t *result)
{
    if (!result)
        return;
    free (result->key);
    free (result->explanation);
    memset (result, 0, sizeof *result);
}

const char *
zkv_lin_verdict_name (zkv_lin_verdict_t verdict)
{
    switch (verdict) {
    case ZKV_LIN_OK:
        return "linearizable";
    case ZKV_LIN_ILLEGAL:
        return "NOT linearizable";
    case ZKV_LIN_UNKNOWN:
        return "unknown";
    }
    return "?";
}
