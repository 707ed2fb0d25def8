// The balancer (zkv_balance.h).
#include "zkv_balance.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t id;    // group id
    size_t count;   // shards it holds now
    size_t target;  // shards it should hold
} s_group_t;

// Larger count first, then lower id: who gets the extra shards (they give up the fewest).
static int
s_by_count (const void *a, const void *b)
{
    const s_group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int
s_by_id (const void *a, const void *b)
{
    const s_group_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

// Index of id in groups (sorted by id), or -1.
static long
s_find (const s_group_t *groups, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (groups[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && groups[lo].id == id ? (long)lo : -1;
}

size_t
zkv_balance (uint64_t *shard_group, uint32_t nshards, const uint64_t *groups, size_t n_groups)
{
    size_t moved = 0;
    if (n_groups == 0) {
        for (uint32_t s = 0; s < nshards; s++) {
            moved += shard_group[s] != 0;
            shard_group[s] = 0;
        }
        return moved;
    }
    s_group_t *g = calloc (n_groups, sizeof *g);
    uint32_t *pool = calloc (nshards ? nshards : 1, sizeof *pool);
    if (!g || !pool)
        abort (); // out of memory aborts (STYLE.md)
    for (size_t i = 0; i < n_groups; i++) {
        assert (groups[i] != 0 && (i == 0 || groups[i] > groups[i - 1])); // our own API
        g[i].id = groups[i];
    }
    // Shards whose group left are free; the others count for their group.
    size_t n_pool = 0;
    for (uint32_t s = 0; s < nshards; s++) {
        long at = shard_group[s] ? s_find (g, n_groups, shard_group[s]) : -1;
        if (at < 0)
            pool[n_pool++] = s;
        else
            g[at].count++;
    }
    // Shares: the groups holding the most get the remainder.
    qsort (g, n_groups, sizeof *g, s_by_count);
    for (size_t i = 0; i < n_groups; i++)
        g[i].target = nshards / n_groups + (i < nshards % n_groups);
    qsort (g, n_groups, sizeof *g, s_by_id);
    // A group over its share gives up its highest-numbered shards.
    for (uint32_t s = nshards; s-- > 0;) {
        long at = shard_group[s] ? s_find (g, n_groups, shard_group[s]) : -1;
        if (at >= 0 && g[at].count > g[at].target) {
            g[at].count--;
            pool[n_pool++] = s;
        }
    }
    // The free shards, lowest first, fill the groups under their share, lowest id first.
    // (pool holds the left groups' shards ascending, then the given-up ones descending.)
    uint32_t *sorted = calloc (nshards ? nshards : 1, sizeof *sorted);
    if (!sorted)
        abort ();
    {
        // Counting sort over shard numbers keeps this O(nshards) and order-independent.
        unsigned char *free_mark = calloc (nshards ? nshards : 1, 1);
        if (!free_mark)
            abort ();
        for (size_t i = 0; i < n_pool; i++)
            free_mark[pool[i]] = 1;
        size_t k = 0;
        for (uint32_t s = 0; s < nshards; s++)
            if (free_mark[s])
                sorted[k++] = s;
        free (free_mark);
    }
    size_t next = 0;
    for (size_t i = 0; i < n_groups; i++)
        while (g[i].count < g[i].target) {
            assert (next < n_pool);
            uint32_t s = sorted[next++];
            if (shard_group[s] != g[i].id)
                moved++;
            shard_group[s] = g[i].id;
            g[i].count++;
        }
    assert (next == n_pool); // every free shard found a group
    free (sorted);
    free (pool);
    free (g);
    return moved;
}
