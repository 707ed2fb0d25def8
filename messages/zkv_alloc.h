// Allocation that aborts when memory runs out: out of memory is no error a caller here could
// handle or report (STYLE.md). A size or count of 0 allocates 1 byte, so the result is never
// NULL and free () takes it as any other.
#ifndef ZKV_ALLOC_H
#define ZKV_ALLOC_H

#include <stdlib.h>

static inline void *
zkv_malloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        abort ();
    return p;
}

// Zeroed.
static inline void *
zkv_calloc (size_t count, size_t size)
{
    void *p = calloc (count ? count : 1, size ? size : 1);
    if (!p)
        abort ();
    return p;
}

static inline void *
zkv_realloc (void *p, size_t size)
{
    p = realloc (p, size ? size : 1);
    if (!p)
        abort ();
    return p;
}

#endif
