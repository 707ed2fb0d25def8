// Raft log store wrapper: forwards each call to the implementation's table of functions.
#include "zkv_logstore.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct zkv_logstore {
    const zkv_logstore_ops_t *ops; // the implementation's functions
    void *impl;                    // the implementation's state, owned
};

zkv_logstore_t *
zkv_logstore_new (const zkv_logstore_ops_t *ops, void *impl)
{
    assert (ops);
    zkv_logstore_t *self = calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->ops = ops;
    self->impl = impl;
    return self;
}

void
zkv_logstore_destroy (zkv_logstore_t **self_p)
{
    assert (self_p);
    zkv_logstore_t *self = *self_p;
    if (!self)
        return;
    if (self->ops->destroy)
        self->ops->destroy (self->impl);
    free (self);
    *self_p = NULL;
}

void *
zkv_logstore_impl (zkv_logstore_t *self)
{
    assert (self);
    return self->impl;
}

int
zkv_logstore_append (zkv_logstore_t *self, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    assert (self);
    assert (entries || n == 0);
    return self->ops->append (self->impl, group, entries, n);
}

int
zkv_logstore_truncate_suffix (zkv_logstore_t *self, uint64_t group, uint64_t from_index)
{
    assert (self);
    return self->ops->truncate_suffix (self->impl, group, from_index);
}

int
zkv_logstore_compact_prefix (zkv_logstore_t *self, uint64_t group, uint64_t upto_index)
{
    assert (self);
    return self->ops->compact_prefix (self->impl, group, upto_index);
}

int
zkv_logstore_save_hard_state (zkv_logstore_t *self, uint64_t group, const zkv_hard_state_t *hs)
{
    assert (self);
    assert (hs);
    return self->ops->save_hard_state (self->impl, group, hs);
}

int
zkv_logstore_save_snapshot (zkv_logstore_t *self, uint64_t group, const zkv_snapshot_meta_t *meta,
                            const uint8_t *data, size_t len)
{
    assert (self);
    assert (meta);
    assert (data || len == 0);
    return self->ops->save_snapshot (self->impl, group, meta, data, len);
}

int
zkv_logstore_sync (zkv_logstore_t *self)
{
    assert (self);
    return self->ops->sync (self->impl);
}

int
zkv_logstore_load (zkv_logstore_t *self, uint64_t group, zkv_logstore_state_t *out)
{
    assert (self);
    assert (out);
    memset (out, 0, sizeof *out);
    int rc = self->ops->load (self->impl, group, out);
    if (rc)
        zkv_logstore_state_free (out); // a failed load hands back nothing half-filled
    return rc;
}

void
zkv_logstore_state_free (zkv_logstore_state_t *state)
{
    if (!state)
        return;
    zkv_bytes_free (&state->snapshot_data);
    for (size_t i = 0; i < state->n_entries; i++)
        zkv_entry_free (&state->entries[i]);
    free (state->entries);
    memset (state, 0, sizeof *state);
}
