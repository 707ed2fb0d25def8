// In-memory Raft log store for the deterministic simulator: buffered writes, precise crashes.
//
// Every write is queued as an operation; zkv_logstore_sync applies the queue, in order, to the
// durable state. A crash drops the queue, or (torn) applies a seeded prefix of it whose last
// append may stop part way with its last entry stored corrupt, as a power cut in the middle of
// a write would leave it. Each stored entry keeps a CRC-32C so load finds the torn entry and
// drops it with everything after it.
//
// load returns the durable state only: it is what a node boots from after a crash or restart,
// and a running node never reads its log back through the store.
//
// No static mutable state: the simulator runs hundreds of stores in one process.
#include "zkv_memstore.h"
#include "zkv_alloc.h"
#include "zkv_logview.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG 0x6d656d73u // "mems": catches a store of another kind passed to crash

// Per stored entry overhead counted by durable_bytes: term, index, type and checksum.
#define S_ENTRY_OVERHEAD (8 + 8 + 1 + 4)

typedef enum {
    S_OP_APPEND,
    S_OP_TRUNCATE,
    S_OP_COMPACT,
    S_OP_HARD_STATE,
    S_OP_SNAPSHOT,
} s_op_kind_t;

// One queued write.
typedef struct {
    s_op_kind_t kind;         // what it does
    uint64_t group;           // which group
    zkv_entry_t *entries;     // APPEND: owned copies
    size_t n_entries;         // APPEND: how many
    uint64_t index;           // TRUNCATE: from index; COMPACT: up to index
    zkv_hard_state_t hs;      // HARD_STATE
    zkv_snapshot_meta_t meta; // SNAPSHOT
    zkv_bytes_t data;         // SNAPSHOT: owned copy
} s_op_t;

// One durably stored entry.
typedef struct {
    zkv_entry_t entry; // as stored (torn: payload cut short or term flipped)
    uint32_t crc;      // CRC-32C of the entry as it was written
    bool torn;         // the crash tore it (bookkeeping only: load finds it by its CRC)
} s_slot_t;

// One group: its durable state and the view of its log once the queue is synced.
typedef struct {
    uint64_t id;              // group id
    zkv_hard_state_t hs;      // durable hard state
    zkv_snapshot_meta_t snap; // durable snapshot meta
    zkv_bytes_t snap_data;    // durable snapshot data
    uint64_t first;           // index of log[0] (compaction point + 1)
    s_slot_t *log;            // durable entries first, first+1, ... (last may be torn)
    size_t n_log;             // number of durable entries
    size_t cap_log;           // allocated slots
    zkv_logview_t view;       // the log as it will be after the next sync
} s_group_t;

typedef struct {
    uint32_t tag;      // S_TAG
    s_group_t *groups; // every group ever written (a node hosts a few: linear search)
    size_t n_groups;   // number of groups
    size_t cap_groups; // allocated groups
    s_op_t *ops;       // writes since the last sync, in issue order
    size_t n_ops;      // number of queued writes
    size_t cap_ops;    // allocated ops
} s_memstore_t;

static uint32_t
s_entry_crc (const zkv_entry_t *entry)
{
    uint8_t head[17];
    for (int i = 0; i < 8; i++) {
        head[i] = (uint8_t)(entry->term >> (8 * i));
        head[8 + i] = (uint8_t)(entry->index >> (8 * i));
    }
    head[16] = entry->type;
    uint32_t crc = zkv_crc32c (0, head, sizeof head);
    return zkv_crc32c (crc, entry->data.data, entry->data.len);
}

static s_group_t *
s_group_find (s_memstore_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->n_groups; i++)
        if (self->groups[i].id == id)
            return &self->groups[i];
    return NULL;
}

static s_group_t *
s_group_require (s_memstore_t *self, uint64_t id)
{
    s_group_t *group = s_group_find (self, id);
    if (group)
        return group;
    if (self->n_groups == self->cap_groups) {
        self->cap_groups = self->cap_groups ? 2 * self->cap_groups : 4;
        self->groups = zkv_realloc (self->groups, self->cap_groups * sizeof *self->groups);
    }
    group = &self->groups[self->n_groups++];
    memset (group, 0, sizeof *group);
    group->id = id;
    group->first = 1;
    zkv_logview_init (&group->view);
    return group;
}

static s_op_t *
s_op_push (s_memstore_t *self, s_op_kind_t kind, uint64_t group)
{
    if (self->n_ops == self->cap_ops) {
        self->cap_ops = self->cap_ops ? 2 * self->cap_ops : 16;
        self->ops = zkv_realloc (self->ops, self->cap_ops * sizeof *self->ops);
    }
    s_op_t *op = &self->ops[self->n_ops++];
    memset (op, 0, sizeof *op);
    op->kind = kind;
    op->group = group;
    return op;
}

static void
s_op_free (s_op_t *op)
{
    for (size_t i = 0; i < op->n_entries; i++)
        zkv_entry_free (&op->entries[i]);
    free (op->entries);
    zkv_bytes_free (&op->data);
}

static void
s_ops_clear (s_memstore_t *self)
{
    for (size_t i = 0; i < self->n_ops; i++)
        s_op_free (&self->ops[i]);
    self->n_ops = 0;
}

// Durable log edits.

// Drops durable entries with index >= from.
static void
s_log_drop_from (s_group_t *group, uint64_t from)
{
    while (group->n_log && group->first + group->n_log - 1 >= from)
        zkv_entry_free (&group->log[--group->n_log].entry);
}

// Drops durable entries with index <= upto and moves the compaction point past upto.
static void
s_log_drop_upto (s_group_t *group, uint64_t upto)
{
    if (upto < group->first)
        return;
    size_t drop = upto - group->first + 1 < group->n_log ? upto - group->first + 1 : group->n_log;
    for (size_t i = 0; i < drop; i++)
        zkv_entry_free (&group->log[i].entry);
    if (group->n_log > drop)  // memmove from a NULL log is undefined even for 0 bytes
        memmove (group->log, group->log + drop, (group->n_log - drop) * sizeof *group->log);
    group->n_log -= drop;
    group->first = upto + 1;
}

// Stores entries[0..n) durably; with torn, the last of them is stored corrupt.
static void
s_log_append (s_group_t *group, const zkv_entry_t *entries, size_t n, bool torn)
{
    if (n == 0)
        return;
    uint64_t start = entries[0].index;
    s_log_drop_from (group, start);
    if (group->n_log == 0 || start != group->first + group->n_log) {
        // An empty log restarting after a snapshot (a torn leftover is discarded with it)
        while (group->n_log)
            zkv_entry_free (&group->log[--group->n_log].entry);
        group->first = start;
    }
    if (group->n_log + n > group->cap_log) {
        while (group->n_log + n > group->cap_log)
            group->cap_log = group->cap_log ? 2 * group->cap_log : 64;
        group->log = zkv_realloc (group->log, group->cap_log * sizeof *group->log);
    }
    for (size_t i = 0; i < n; i++) {
        s_slot_t *slot = &group->log[group->n_log++];
        zkv_entry_copy (&entries[i], &slot->entry);
        slot->crc = s_entry_crc (&entries[i]);
        slot->torn = false;
    }
    if (torn) {
        // Half the payload reached the medium; with no payload, a header bit is wrong
        group->log[group->n_log - 1].torn = true;
        zkv_entry_t *last = &group->log[group->n_log - 1].entry;
        if (last->data.len)
            last->data.len /= 2;
        else
            last->term ^= 1;
    }
}

// Number of entries from log[0] on that are intact and in place (a torn one ends them).
static size_t
s_log_valid (const s_group_t *group)
{
    size_t n = 0;
    while (n < group->n_log && group->log[n].entry.index == group->first + n &&
           s_entry_crc (&group->log[n].entry) == group->log[n].crc)
        n++;
    return n;
}

// The view a booting node would see: the durable log without its torn entry. Only the last
// entry can be torn (later writes start at or before it), so no checksum is needed here and
// a sync costs nothing per stored entry.
static void
s_view_from_durable (const s_group_t *group, zkv_logview_t *view)
{
    size_t intact =
        group->n_log && group->log[group->n_log - 1].torn ? group->n_log - 1 : group->n_log;
    view->first = group->first;
    view->last = group->first + intact - 1;
    view->snap_index = group->snap.index;
}

// Applies one queued write to the durable state; a torn append stores only its first
// torn_entries entries, the last of them corrupt (0 applies it whole).
static void
s_apply (s_memstore_t *self, const s_op_t *op, size_t torn_entries)
{
    s_group_t *group = s_group_find (self, op->group);
    assert (group); // every queued write created its group
    switch (op->kind) {
    case S_OP_APPEND:
        assert (torn_entries <= op->n_entries);
        if (torn_entries)
            s_log_append (group, op->entries, torn_entries, true);
        else
            s_log_append (group, op->entries, op->n_entries, false);
        break;
    case S_OP_TRUNCATE:
        s_log_drop_from (group, op->index);
        break;
    case S_OP_COMPACT:
        s_log_drop_upto (group, op->index);
        break;
    case S_OP_HARD_STATE:
        group->hs = op->hs;
        break;
    case S_OP_SNAPSHOT:
        group->snap = op->meta;
        zkv_bytes_free (&group->snap_data);
        zkv_bytes_set (&group->snap_data, op->data.data, op->data.len);
        break;
    }
}

// The store's operations.

static int
s_append (void *impl, uint64_t group_id, const zkv_entry_t *entries, size_t n)
{
    s_memstore_t *self = impl;
    s_group_t *group = s_group_require (self, group_id);
    zkv_logview_range_t gone;
    int rc = zkv_logview_append (&group->view, entries, n, &gone);
    if (rc || n == 0)
        return rc;
    s_op_t *op = s_op_push (self, S_OP_APPEND, group_id);
    op->entries = zkv_realloc (NULL, n * sizeof *op->entries);
    op->n_entries = n;
    for (size_t i = 0; i < n; i++)
        zkv_entry_copy (&entries[i], &op->entries[i]);
    return 0;
}

static int
s_truncate_suffix (void *impl, uint64_t group_id, uint64_t from_index)
{
    s_memstore_t *self = impl;
    s_group_t *group = s_group_require (self, group_id);
    zkv_logview_range_t gone;
    zkv_logview_truncate (&group->view, from_index, &gone);
    s_op_push (self, S_OP_TRUNCATE, group_id)->index = from_index;
    return 0;
}

static int
s_compact_prefix (void *impl, uint64_t group_id, uint64_t upto_index)
{
    s_memstore_t *self = impl;
    s_group_t *group = s_group_require (self, group_id);
    zkv_logview_range_t gone;
    int rc = zkv_logview_compact (&group->view, upto_index, &gone);
    if (rc)
        return rc;
    s_op_push (self, S_OP_COMPACT, group_id)->index = upto_index;
    return 0;
}

static int
s_save_hard_state (void *impl, uint64_t group_id, const zkv_hard_state_t *hs)
{
    s_memstore_t *self = impl;
    s_group_require (self, group_id);
    s_op_push (self, S_OP_HARD_STATE, group_id)->hs = *hs;
    return 0;
}

static int
s_save_snapshot (void *impl, uint64_t group_id, const zkv_snapshot_meta_t *meta,
                 const uint8_t *data, size_t len)
{
    s_memstore_t *self = impl;
    s_group_t *group = s_group_require (self, group_id);
    int rc = zkv_logview_snapshot (&group->view, meta->index);
    if (rc)
        return rc;
    s_op_t *op = s_op_push (self, S_OP_SNAPSHOT, group_id);
    op->meta = *meta;
    zkv_bytes_set (&op->data, data, len);
    return 0;
}

static int
s_sync (void *impl)
{
    s_memstore_t *self = impl;
    for (size_t i = 0; i < self->n_ops; i++)
        s_apply (self, &self->ops[i], 0);
    s_ops_clear (self);
    // Our own invariant: the view each write was validated against is what is now durable
    for (size_t i = 0; i < self->n_groups; i++) {
        zkv_logview_t durable;
        s_view_from_durable (&self->groups[i], &durable);
        assert (durable.first == self->groups[i].view.first);
        assert (durable.last == self->groups[i].view.last);
        assert (durable.snap_index == self->groups[i].view.snap_index);
    }
    return 0;
}

static int
s_load (void *impl, uint64_t group_id, zkv_logstore_state_t *out)
{
    s_memstore_t *self = impl;
    s_group_t *group = s_group_find (self, group_id);
    if (!group)
        return 0; // never written: the zero state
    out->hard_state = group->hs;
    out->snapshot = group->snap;
    zkv_bytes_set (&out->snapshot_data, group->snap_data.data, group->snap_data.len);

    size_t valid = s_log_valid (group);
    uint64_t start = group->snap.index + 1;
    if (valid && group->first > start)
        return ZKV_ECORRUPT; // entries missing between the snapshot and the log
    size_t skip = valid && start > group->first ? start - group->first : 0;
    if (skip >= valid)
        return 0;
    out->n_entries = valid - skip;
    out->entries = zkv_realloc (NULL, out->n_entries * sizeof *out->entries);
    for (size_t i = 0; i < out->n_entries; i++)
        zkv_entry_copy (&group->log[skip + i].entry, &out->entries[i]);
    return 0;
}

static void
s_destroy (void *impl)
{
    s_memstore_t *self = impl;
    s_ops_clear (self);
    free (self->ops);
    for (size_t i = 0; i < self->n_groups; i++) {
        s_group_t *group = &self->groups[i];
        for (size_t j = 0; j < group->n_log; j++)
            zkv_entry_free (&group->log[j].entry);
        free (group->log);
        zkv_bytes_free (&group->snap_data);
    }
    free (self->groups);
    free (self);
}

static const zkv_logstore_ops_t s_memstore_ops = {
    .name = "memory",
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
zkv_memstore_new (void)
{
    s_memstore_t *self = zkv_realloc (NULL, sizeof *self);
    memset (self, 0, sizeof *self);
    self->tag = S_TAG;
    return zkv_logstore_new (&s_memstore_ops, self);
}

static s_memstore_t *
s_self (zkv_logstore_t *store)
{
    s_memstore_t *self = zkv_logstore_impl (store);
    assert (self && self->tag == S_TAG); // only memory stores crash on demand
    return self;
}

// splitmix64 (Steele, Lea, Flood 2014): a local, stateless step so the crash depends on seed
// alone and storage/ links nothing from cluster/.
static uint64_t
s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void
zkv_memstore_crash (zkv_logstore_t *store, bool torn, uint64_t seed)
{
    s_memstore_t *self = s_self (store);
    if (torn && self->n_ops) {
        uint64_t state = seed;
        size_t whole = (size_t)(s_splitmix64 (&state) % (self->n_ops + 1));
        for (size_t i = 0; i < whole; i++)
            s_apply (self, &self->ops[i], 0);
        if (whole < self->n_ops && self->ops[whole].kind == S_OP_APPEND) {
            // 0 entries: the write never started; k > 0: k entries landed, the k-th torn
            const s_op_t *op = &self->ops[whole];
            size_t k = (size_t)(s_splitmix64 (&state) % (op->n_entries + 1));
            if (k)
                s_apply (self, op, k);
        }
    }
    s_ops_clear (self);
    // The node reboots from what is durable: validate later writes against that
    for (size_t i = 0; i < self->n_groups; i++)
        s_view_from_durable (&self->groups[i], &self->groups[i].view);
}

size_t
zkv_memstore_durable_bytes (zkv_logstore_t *store, uint64_t group_id)
{
    s_memstore_t *self = s_self (store);
    s_group_t *group = s_group_find (self, group_id);
    if (!group)
        return 0;
    size_t bytes = group->snap_data.len;
    for (size_t i = 0; i < group->n_log; i++)
        bytes += S_ENTRY_OVERHEAD + group->log[i].entry.data.len;
    return bytes;
}
