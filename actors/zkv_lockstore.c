// A thread-safe log store: forwards each call to the wrapped store under one mutex.
//
// One LevelDB per node holds every group's log (ARCHITECTURE.md "Storage"); the store's write
// batch is shared, so a sync by one group also makes the other groups' writes issued so far
// durable. That is harmless: each group issues its writes in order, so a crash keeps a prefix
// of them, which the stores' torn-crash model already allows.
#include "zkv_lockstore.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    pthread_mutex_t lock;  // serializes every call
    zkv_logstore_t *inner; // the wrapped store, owned
} s_lockstore_t;

#define S_CALL(impl, call)                                                                         \
    do {                                                                                           \
        s_lockstore_t *self = (s_lockstore_t *)(impl);                                             \
        pthread_mutex_lock (&self->lock);                                                          \
        int rc = (call);                                                                           \
        pthread_mutex_unlock (&self->lock);                                                        \
        return rc;                                                                                 \
    } while (0)

static int
s_append (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    S_CALL (impl, zkv_logstore_append (self->inner, group, entries, n));
}

static int
s_truncate_suffix (void *impl, uint64_t group, uint64_t from_index)
{
    S_CALL (impl, zkv_logstore_truncate_suffix (self->inner, group, from_index));
}

static int
s_compact_prefix (void *impl, uint64_t group, uint64_t upto_index)
{
    S_CALL (impl, zkv_logstore_compact_prefix (self->inner, group, upto_index));
}

static int
s_save_hard_state (void *impl, uint64_t group, const zkv_hard_state_t *hs)
{
    S_CALL (impl, zkv_logstore_save_hard_state (self->inner, group, hs));
}

static int
s_save_snapshot (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta, const uint8_t *data,
                 size_t len)
{
    S_CALL (impl, zkv_logstore_save_snapshot (self->inner, group, meta, data, len));
}

static int
s_sync (void *impl)
{
    S_CALL (impl, zkv_logstore_sync (self->inner));
}

static int
s_load (void *impl, uint64_t group, zkv_logstore_state_t *out)
{
    S_CALL (impl, zkv_logstore_load (self->inner, group, out));
}

static void
s_destroy (void *impl)
{
    s_lockstore_t *self = (s_lockstore_t *)impl;
    zkv_logstore_destroy (&self->inner);
    pthread_mutex_destroy (&self->lock);
    free (self);
}

static const zkv_logstore_ops_t s_ops = {
    .name = "locked",
    .append = s_append,
    .truncate_suffix = s_truncate_suffix,
    .compact_prefix = s_compact_prefix,
    .save_hard_state = s_save_hard_state,
    .save_snapshot = s_save_snapshot,
    .sync = s_sync,
    .load = s_load,
    .destroy = s_destroy,
};

zkv_logstore_t *
zkv_lockstore_new (zkv_logstore_t *inner)
{
    s_lockstore_t *self = (s_lockstore_t *)calloc (1, sizeof *self);
    if (!self)
        abort ();
    pthread_mutex_init (&self->lock, NULL);
    self->inner = inner;
    return zkv_logstore_new (&s_ops, self);
}

zkv_logstore_t *
zkv_lockstore_inner (zkv_logstore_t *self)
{
    s_lockstore_t *impl = (s_lockstore_t *)zkv_logstore_impl (self);
    return impl->inner;
}
