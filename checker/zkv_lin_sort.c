// A stable sort of op ids with a comparator that sees the ops (qsort has no context argument,
// and qsort_r is not portable): merge sort, O(n log n), one temporary array per merge.
#include "zkv_lin_int.h"

#include <stdlib.h>
#include <string.h>

void
lin_sort_ids (uint32_t *ids, size_t n, const lin_op_t *ops,
              bool (*before) (const lin_op_t *ops, uint32_t a, uint32_t b))
{
    if (n < 2)
        return;
    size_t half = n / 2;
    lin_sort_ids (ids, half, ops, before);
    lin_sort_ids (ids + half, n - half, ops, before);
    uint32_t *tmp = malloc (n * sizeof *tmp);
    if (!tmp)
        abort ();
    size_t i = 0, j = half, o = 0;
    // Ties keep their order: the right one goes first only if strictly before.
    while (i < half || j < n)
        tmp[o++] = j >= n || (i < half && !before (ops, ids[j], ids[i])) ? ids[i++] : ids[j++];
    memcpy (ids, tmp, n * sizeof *tmp);
    free (tmp);
}
