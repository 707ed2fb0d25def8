// What the KV store interface (zkv_kvstore.h) gives every caller: freeing what a store returned.
#include "zkv_kvstore.h"

void
zkv_kvdedup_free_all (zkv_kvdedup_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zkv_bytes_free (&recs[i].value);
    free (recs);
}

void
zkv_kvchunk_free (zkv_kvchunk_t *chunk)
{
    if (!chunk)
        return;
    for (size_t i = 0; i < chunk->count; i++) {
        zkv_bytes_free (&chunk->items[i].key);
        zkv_bytes_free (&chunk->items[i].value);
    }
    free (chunk->items);
    zkv_bytes_free (&chunk->next.key);
    memset (chunk, 0, sizeof *chunk);
}
