// What every state machine shares (zkv_sm.h): answers and results, store errors.
#include "zkv_sm.h"

#include <stdlib.h>
#include <string.h>

void
zkv_sm_answer_free (zkv_sm_answer_t *answer)
{
    if (!answer)
        return;
    zkv_bytes_free (&answer->value);
    memset (answer, 0, sizeof *answer);
}

void
zkv_sm_results_free (zkv_sm_results_t *results)
{
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++)
        zkv_bytes_free (&results->items[i].answer.value);
    free (results->items);
    memset (results, 0, sizeof *results);
}

void
zkv_sm_results_clear (zkv_sm_results_t *results)
{
    for (size_t i = 0; i < results->count; i++)
        zkv_bytes_free (&results->items[i].answer.value);
    results->count = 0;
}

zkv_sm_result_t *
zkv_sm_results_push (zkv_sm_results_t *results)
{
    if (results->count == results->cap) {
        results->cap = results->cap ? 2 * results->cap : 64;
        results->items = (zkv_sm_result_t *)realloc (results->items,
                                                     results->cap * sizeof (zkv_sm_result_t));
        if (!results->items)
            abort (); // out of memory aborts (STYLE.md)
    }
    zkv_sm_result_t *r = &results->items[results->count++];
    memset (r, 0, sizeof *r);
    return r;
}

zkv_sm_t *
zkv_sm_new (const zkv_sm_ops_t *ops, void *impl)
{
    zkv_sm_t *sm = (zkv_sm_t *)calloc (1, sizeof *sm);
    if (!sm)
        abort (); // out of memory aborts (STYLE.md)
    sm->ops = ops;
    sm->impl = impl;
    return sm;
}

void
zkv_sm_destroy (zkv_sm_t **sm_p)
{
    zkv_sm_t *sm = *sm_p;
    if (!sm)
        return;
    if (sm->ops->destroy)
        sm->ops->destroy (sm->impl);
    free (sm);
    *sm_p = NULL;
}

bool
zkv_sm_store_error (int rc)
{
    return rc == ZKV_EIO || rc == ZKV_ENOSPC || rc == ZKV_ENOMEM;
}
