// The log store a simulated node's replicas write through: the node's memstore (crash-faithful,
// shared by its groups, as zkvd's LevelDB is), checked as it is written. Every write is checked
// when made (log matching, snapshots of the committed history) and becomes durable in the
// simulator's record only at the next sync (one vote per term, durability). The disk's faults
// of the selftest live here: a sync that makes nothing durable, dropped hard states, a log
// forgotten at a restart; and the crash "in the next write that saves a snapshot".
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    sim_t *sim;            // the world
    int node;              // whose store
    zkv_logstore_t *inner; // the memstore (not owned)
} s_store_t;

// Sets the world's current group to group's (returns the previous one).
static int
s_enter (s_store_t *self, uint64_t group)
{
    int saved = self->sim->g;
    int g = sim_group_index (self->sim, group);
    if (g < 0)
        sim_fail (self->sim, "node %d writes group %" PRIu64 ", which it does not host", self->node,
                  group);
    self->sim->g = g;
    return saved;
}

static int
s_append (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    s_store_t *self = impl;
    sim_t *s = self->sim;
    int saved = s_enter (self, group);
    // The term before the batch, as the log holding it says (the driver is mid-ready: its
    // core's log holds the entries being written).
    uint64_t prev = UINT64_MAX;
    const zkv_raft_t *raft = sim_rep_raft (s, self->node);
    if (n && entries[0].index == 1)
        prev = 0;
    else if (n && raft && zkv_raft_term_at (raft, entries[0].index - 1, &prev) != 0)
        prev = UINT64_MAX;
    sim_check_append (s, self->node, entries, n, prev);
    int rc = zkv_logstore_append (self->inner, group, entries, n);
    if (rc == 0 && n)
        R (s, self->node)->pend_last = entries[n - 1].index;
    s->g = saved;
    return rc;
}

static int
s_truncate_suffix (void *impl, uint64_t group, uint64_t from_index)
{
    s_store_t *self = impl;
    int saved = s_enter (self, group);
    sim_rep_t *r = R (self->sim, self->node);
    if (!r->pend_trunc || from_index < r->pend_trunc)
        r->pend_trunc = from_index;
    if (r->pend_last >= from_index)
        r->pend_last = from_index - 1;
    self->sim->g = saved;
    return zkv_logstore_truncate_suffix (self->inner, group, from_index);
}

static int
s_compact_prefix (void *impl, uint64_t group, uint64_t upto_index)
{
    s_store_t *self = impl;
    return zkv_logstore_compact_prefix (self->inner, group, upto_index);
}

static int
s_save_hard_state (void *impl, uint64_t group, const zkv_hard_state_t *hs)
{
    s_store_t *self = impl;
    if (self->sim->cfg.sabotage == SIM_SABOTAGE_NO_HARD_STATE)
        return 0; // the disk drops it
    int saved = s_enter (self, group);
    sim_rep_t *r = R (self->sim, self->node);
    r->pend_hs = true;
    r->pend_hard = *hs;
    self->sim->g = saved;
    return zkv_logstore_save_hard_state (self->inner, group, hs);
}

static int
s_save_snapshot (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta, const uint8_t *data,
                 size_t len)
{
    s_store_t *self = impl;
    sim_t *s = self->sim;
    int saved = s_enter (self, group);
    sim_rep_t *r = R (s, self->node);
    sim_check_snapshot_saved (s, self->node, meta, data, len);
    if (r->app.crash_at_install)
        s->nodes[self->node].crash_mid_write = true; // its sync will not complete
    if (meta->index > r->pend_snap)
        r->pend_snap = meta->index;
    s->g = saved;
    return zkv_logstore_save_snapshot (self->inner, group, meta, data, len);
}

static int
s_sync (void *impl)
{
    s_store_t *self = impl;
    sim_t *s = self->sim;
    if (s->cfg.sabotage == SIM_SABOTAGE_NO_SYNC)
        return 0; // the disk lies: nothing became durable
    int rc = zkv_logstore_sync (self->inner);
    if (rc != 0)
        return rc;
    // One database: every group's writes so far are durable now.
    int saved = s->g;
    for (int g = 0; g < sim_n_groups (s); g++) {
        s->g = g;
        sim_check_synced (s, self->node);
        sim_stream_sync (s, self->node);
    }
    s->g = saved;
    return 0;
}

static int
s_load (void *impl, uint64_t group, zkv_logstore_state_t *out)
{
    s_store_t *self = impl;
    int rc = zkv_logstore_load (self->inner, group, out);
    if (rc == 0 && self->sim->nodes[self->node].forget_log) {
        // Broken on purpose (selftest): the term and vote come back, the log does not.
        zkv_hard_state_t hs = out->hard_state;
        zkv_logstore_state_free (out);
        out->hard_state = hs;
        out->hard_state.commit = 0;
    }
    return rc;
}

static void
s_destroy (void *impl)
{
    free (impl); // the memstore is the node's
}

static const zkv_logstore_ops_t s_ops = {
    .name = "sim",
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
sim_store_new (sim_t *self, int node, zkv_logstore_t *memstore)
{
    s_store_t *st = calloc (1, sizeof *st);
    if (!st)
        abort ();
    *st = (s_store_t){.sim = self, .node = node, .inner = memstore};
    return zkv_logstore_new (&s_ops, st);
}
