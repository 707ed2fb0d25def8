// The simulated world: event queue, simulated time, nodes (core + memstore + state machine).
#include "sim_kv_int.h"
#include "zkv_memstore.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void *
s_alloc (size_t n)
{
    void *p = calloc (1, n ? n : 1);
    if (!p)
        abort ();
    return p;
}

void *
sim_grow (void *p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < want)
        ncap *= 2;
    p = realloc (p, ncap * elem);
    if (!p)
        abort (); // out of memory aborts (STYLE.md)
    memset ((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *cap = ncap;
    return p;
}

void
sim_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t
sim_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void
sim_config_defaults (sim_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->n_nodes = 3;
    cfg->tick_us = 10 * SIM_MS;
    cfg->election_ticks = 30;
    cfg->heartbeat_ticks = 10;
    // The lab's reliable network answers in well under a millisecond; its unreliable one
    // drops 10% and delays up to 27 ms; long reordering delays 2/3 of replies 200+ ms.
    cfg->net.delay_min_us = 100;
    cfg->net.delay_max_us = 1000;
    cfg->net.unrel_drop_pm = 100;
    cfg->net.unrel_dup_pm = 50;
    cfg->net.unrel_delay_max_us = 27 * SIM_MS;
    cfg->net.long_pm = 666;
    cfg->net.long_min_us = 200 * SIM_MS;
    cfg->net.long_max_us = 2200 * SIM_MS;
}

// --- event queue: a binary min-heap on (at, seq) ---------------------------------------------

static bool
s_before (const sim_event_t *a, const sim_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

void
sim_push (sim_t *self, const sim_event_t *ev)
{
    self->heap = sim_grow (self->heap, &self->heap_cap, self->heap_len + 1, sizeof *self->heap);
    size_t i = self->heap_len++;
    self->heap[i] = *ev;
    self->heap[i].seq = self->seq++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (&self->heap[i], &self->heap[parent]))
            break;
        sim_event_t tmp = self->heap[i];
        self->heap[i] = self->heap[parent];
        self->heap[parent] = tmp;
        i = parent;
    }
}

static sim_event_t
s_pop (sim_t *self)
{
    assert (self->heap_len > 0);
    sim_event_t top = self->heap[0];
    self->heap[0] = self->heap[--self->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->heap_len && s_before (&self->heap[l], &self->heap[m]))
            m = l;
        if (r < self->heap_len && s_before (&self->heap[r], &self->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_event_t tmp = self->heap[i];
        self->heap[i] = self->heap[m];
        self->heap[m] = tmp;
        i = m;
    }
    return top;
}

static void
s_schedule_tick (sim_t *self, int node, uint64_t at)
{
    sim_event_t ev = {
        .at = at, .kind = SIM_EV_TICK, .node = node, .incarnation = self->nodes[node].incarnation};
    sim_push (self, &ev);
}

// --- nodes -----------------------------------------------------------------------------------

static void
s_boot (sim_t *self, int node, const zkv_logstore_state_t *boot)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t voters[SIM_MAX_NODES];
    for (int i = 0; i < self->cfg.n_nodes; i++)
        voters[i] = (uint64_t)i + 1;
    zkv_raft_config_t rc;
    zkv_raft_config_defaults (&rc);
    rc.group = SIM_GROUP;
    rc.id = (uint64_t)node + 1;
    rc.voters = voters;
    rc.n_voters = (size_t)self->cfg.n_nodes;
    rc.election_ticks = self->cfg.election_ticks;
    rc.heartbeat_ticks = self->cfg.heartbeat_ticks;
    rc.pre_vote = !self->cfg.no_pre_vote;
    rc.check_quorum = !self->cfg.no_check_quorum;
    if (self->cfg.max_entries_per_msg)
        rc.max_entries_per_msg = self->cfg.max_entries_per_msg;
    if (self->cfg.max_bytes_per_msg)
        rc.max_bytes_per_msg = self->cfg.max_bytes_per_msg;
    if (self->cfg.max_inflight_msgs)
        rc.max_inflight_msgs = self->cfg.max_inflight_msgs;
    if (self->cfg.snapshot_chunk_bytes)
        rc.snapshot_chunk_bytes = self->cfg.snapshot_chunk_bytes;
    rc.send_before_persist = !self->cfg.persist_before_send;
    rc.seed =
        self->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)node * 1000003 + n->incarnation * 7919;
    rc.applied = n->applied; // the state machine's: a snapshot's, or the kvstore's (KV mode)
    rc.snapshot_stream = self->cfg.stream;
    rc.need_snapshot = self->cfg.stream && n->app.missing;
    n->raft = zkv_raft_new (&rc, boot);
    if (!n->raft && boot) {
        // Describe what the memstore handed back: the core found it corrupt.
        char desc[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < boot->n_entries && used < sizeof desc - 40; i++)
            used += (size_t)snprintf (desc + used, sizeof desc - used, " %" PRIu64 "/%" PRIu64,
                                      boot->entries[i].index, boot->entries[i].term);
        sim_violation (self, "durability",
                       "zkv_raft_new refused node %d's durable state: hard state term %" PRIu64
                       " vote %" PRIu64 " commit %" PRIu64 ", snapshot %" PRIu64 "/%" PRIu64
                       ", entries (index/term):%s",
                       node, boot->hard_state.term, boot->hard_state.vote, boot->hard_state.commit,
                       boot->snapshot.index, boot->snapshot.term, desc);
    }
    if (!n->raft)
        sim_fail (self, "zkv_raft_new refused node %d's config", node);
    n->up = true;
    n->role = ZKV_ROLE_FOLLOWER;
    n->term = 0;
    n->seen_commit = 0;
    n->seen_applied = rc.applied;
    // Every node ticks every tick_us, with its own phase.
    s_schedule_tick (self, node, self->now + 1 + zkv_rng_below (&self->rng, self->cfg.tick_us));
}

sim_t *
sim_new (const sim_config_t *cfg)
{
    assert (cfg->n_nodes >= 1 && cfg->n_nodes <= SIM_MAX_NODES);
    assert (cfg->tick_us > 0);
    sim_t *self = s_alloc (sizeof *self);
    self->cfg = *cfg;
    zkv_rng_seed (&self->rng, cfg->seed);
    self->trace_hash = 0xcbf29ce484222325ULL;
    self->unreliable = cfg->unreliable;
    for (int i = 0; i < cfg->n_nodes; i++) {
        sim_node_t *n = &self->nodes[i];
        n->store = zkv_memstore_new ();
        assert (n->store);
        n->connected = true;
        n->incarnation = 1;
        s_boot (self, i, NULL);
    }
    if (cfg->kv)
        sim_kv_init (self);
    return self;
}

void
sim_destroy (sim_t **self_p)
{
    sim_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->cfg.n_nodes; i++) {
        zkv_raft_destroy (&self->nodes[i].raft);
        zkv_logstore_destroy (&self->nodes[i].store);
        free (self->nodes[i].hashes);
        sim_stream_free (self, i);
    }
    for (size_t i = 0; i < self->heap_len; i++)
        free (self->heap[i].buf);
    free (self->heap);
    zkv_logstore_state_free (&self->loaded);
    sim_read_free (self);
    sim_kv_free (self);
    sim_check_free (self);
    free (self);
    *self_p = NULL;
}

// --- the state machine -----------------------------------------------------------------------

uint64_t
sim_entry_hash (uint8_t type, const void *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ type) * 0x100000001b3ULL;
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void
s_apply_entry (sim_t *self, int node, const zkv_entry_t *e)
{
    sim_node_t *n = &self->nodes[node];
    zkv_entry_t wrong;
    if (self->cfg.sabotage == SIM_SABOTAGE_APPLY_WRONG && node == 0 && e->index % 5 == 0) {
        wrong = *e;
        wrong.data.data = (uint8_t *)"sabotage";
        wrong.data.len = 8;
        e = &wrong;
    }
    sim_check_apply (self, node, e); // in order, agrees with every other node
    uint64_t h = sim_entry_hash (e->type, e->data.data, e->data.len);
    n->hashes = sim_grow (n->hashes, &n->hashes_cap, e->index - n->base, sizeof *n->hashes);
    n->hashes[e->index - n->base - 1] = h;
    n->applied = e->index;
    n->chain = sim_chain_next (n->chain, h);
    if (self->cfg.stream) {
        // Streaming: the state machine is durable on its own, entry by entry.
        n->app.live_applied = n->applied;
        n->app.live_chain = n->chain;
    }
}

// Loads a snapshot's data (index + hash chain) into the state machine.
static void
s_load_snapshot (sim_t *self, int node, uint64_t index, const uint8_t *data, size_t len)
{
    sim_node_t *n = &self->nodes[node];
    if (index == 0)
        return;
    if (len < 16 || (len != 16 && !self->kv) || sim_get_u64 (data) != index)
        sim_violation (self, "snapshot",
                       "node %d: snapshot at %" PRIu64 " holds %zu bytes of "
                       "data that are not the state machine's",
                       node, index, len);
    uint64_t chain = sim_get_u64 (data + 8);
    sim_check_install (self, node, index, chain);
    n->applied = index;
    n->chain = chain;
    n->base = index;
    n->last_snap = index;
    if (self->kv)
        sim_kv_restore (self, node, index, data + 16, len - 16);
}

int
sim_take_snapshot (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    int rc;
    if (self->cfg.stream) {
        // The state is durable on its own: the snapshot is metadata, read later from a view.
        rc = zkv_raft_snapshot (n->raft, n->applied, NULL, 0);
        if (rc == 0)
            sim_stream_took (self, node, n->applied);
    } else {
        uint8_t header[16];
        sim_put_u64 (header, n->applied);
        sim_put_u64 (header + 8, n->chain);
        uint8_t *data = header;
        size_t len = sizeof header;
        if (self->kv)
            sim_kv_snapshot (self, node, header, sizeof header, &data, &len);
        rc = zkv_raft_snapshot (n->raft, n->applied, data, len);
        if (data != header)
            free (data);
    }
    if (rc != 0)
        return rc;
    n->last_snap = n->applied;
    self->counters.snapshots++;
    sim_trace (self,
               &(sim_trace_rec_t){.kind = SIM_T_SNAPSHOT, .node = (uint8_t)node, .a = n->applied});
    // Every node snapshots; telling the leader's is enough for a person to follow.
    if (n->role == ZKV_ROLE_LEADER)
        sim_narrate (self,
                     "node %d (leader) took a snapshot at index %" PRIu64
                     " (followers snapshot on their own)",
                     node + 1, n->applied);
    return 0;
}

// want: streaming, the leader's core asks for a fresh snapshot (ready.want_snapshot).
static void
s_maybe_snapshot (sim_t *self, int node, bool want)
{
    sim_node_t *n = &self->nodes[node];
    bool due = self->cfg.snapshot_every && n->applied >= n->last_snap + self->cfg.snapshot_every;
    if (self->kv && !due && n->applied > n->last_snap)
        due = sim_kv_wants_snapshot (self, node);
    if (want && n->applied > n->last_snap)
        due = true;
    if (!due || (self->cfg.stream && n->app.missing))
        return;
    int rc = sim_take_snapshot (self, node);
    if (rc == ZKV_ECOMPACTED)
        return; // a leader's newer snapshot arrived while this ready was syncing: it comes next
    if (rc == ZKV_EBUSY && self->cfg.stream)
        return; // streaming: a received snapshot is to be loaded first
    if (rc != 0)
        sim_fail (self, "node %d: zkv_raft_snapshot (%" PRIu64 ") returned %s", node, n->applied,
                  zkv_errname (rc));
}

// --- the runtime loop for one node -----------------------------------------------------------

static void
s_store_ok (sim_t *self, int node, int rc, const char *what)
{
    if (rc != 0)
        sim_fail (self, "node %d: memstore %s failed: %s", node, what, zkv_errname (rc));
}

static void s_do_crash (sim_t *self, int node, bool torn, bool mid_write);

// Writes rd in the order the core asks for (not synced yet); *wrote_p tells whether anything
// was written. False if the node crashed mid-write.
static bool
s_write (sim_t *self, int node, const zkv_raft_ready_t *rd, bool *wrote_p)
{
    sim_node_t *n = &self->nodes[node];
    zkv_logstore_t *st = n->store;
    bool wrote = false;
    if (rd->has_chunk) {
        // Streaming: the received chunk goes to the staging area first, before the snapshot
        // metadata that may follow it in this ready.
        sim_stream_write (self, node, &rd->chunk);
        wrote = true;
    }
    if (rd->has_snapshot) {
        s_store_ok (self, node,
                    zkv_logstore_save_snapshot (st, SIM_GROUP, &rd->snapshot, rd->snapshot_data,
                                                rd->snapshot_len),
                    "save_snapshot");
        wrote = true;
    }
    if (rd->compact_to) {
        s_store_ok (self, node, zkv_logstore_compact_prefix (st, SIM_GROUP, rd->compact_to),
                    "compact_prefix");
        wrote = true;
    }
    if (rd->truncate_from) {
        s_store_ok (self, node, zkv_logstore_truncate_suffix (st, SIM_GROUP, rd->truncate_from),
                    "truncate_suffix");
        wrote = true;
    }
    if (rd->n_entries) {
        s_store_ok (self, node, zkv_logstore_append (st, SIM_GROUP, rd->entries, rd->n_entries),
                    "append");
        wrote = true;
    }
    if (rd->has_hard_state && self->cfg.sabotage != SIM_SABOTAGE_NO_HARD_STATE) {
        s_store_ok (self, node, zkv_logstore_save_hard_state (st, SIM_GROUP, &rd->hard_state),
                    "save_hard_state");
        wrote = true;
    }
    *wrote_p = wrote;
    if (wrote && n->app.crash_at_install && rd->has_snapshot)
        n->crash_mid_write = true;
    if (wrote && n->crash_mid_write) {
        s_do_crash (self, node, n->crash_torn, true);
        return false;
    }
    return true;
}

static void
s_send_all (sim_t *self, int node, const zkv_msg_t *msgs, size_t n_msgs)
{
    for (size_t i = 0; i < n_msgs; i++) {
        sim_check_send (self, node, &msgs[i]);
        sim_net_send (self, node, &msgs[i]);
    }
}

// The second half of a ready, once its writes are synced: send, apply, answer reads, advance.
static void
s_finish (sim_t *self, int node, const zkv_raft_ready_t *rd, bool wrote)
{
    sim_node_t *n = &self->nodes[node];
    if (wrote && self->cfg.sabotage != SIM_SABOTAGE_NO_SYNC) {
        s_store_ok (self, node, zkv_logstore_sync (n->store), "sync");
        sim_stream_sync (self, node);
    }
    sim_check_ready (self, node, rd); // what was just made durable
    if (self->cfg.sabotage != SIM_SABOTAGE_SEND_FIRST)
        s_send_all (self, node, rd->msgs, rd->n_msgs);
    if (rd->apply_snapshot && self->cfg.stream) {
        // The staged stream becomes the live state (its snapshot's metadata is durable now).
        uint64_t chain = sim_stream_install (self, node, &rd->snapshot);
        sim_check_install (self, node, rd->snapshot.index, chain);
        n->applied = n->base = n->last_snap = rd->snapshot.index;
        n->chain = chain;
    } else if (rd->apply_snapshot)
        s_load_snapshot (self, node, rd->snapshot.index, rd->snapshot_data, rd->snapshot_len);
    if (rd->apply_snapshot) {
        self->counters.snapshots_installed++;
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_INSTALL,
                                            .node = (uint8_t)node,
                                            .a = rd->snapshot.index,
                                            .b = rd->snapshot.term});
        sim_narrate (self, "node %d installed a snapshot at index %" PRIu64 " (term %" PRIu64 ")",
                     node + 1, rd->snapshot.index, rd->snapshot.term);
    }
    if (rd->n_committed) {
        for (size_t i = 0; i < rd->n_committed; i++)
            s_apply_entry (self, node, &rd->committed[i]);
        if (self->kv)
            sim_kv_apply (self, node, rd->committed, rd->n_committed);
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_APPLY,
                                            .node = (uint8_t)node,
                                            .a = rd->committed[0].index,
                                            .b = rd->committed[rd->n_committed - 1].index});
    }
    sim_read_ready (self, node, rd);
    sim_read_serve (self, node);
    // Streaming: the chunk requests are answered after the advance (the ready's pointers go).
    sim_app_t *app = &n->app;
    size_t n_reqs = rd->n_chunk_reqs;
    bool want = rd->want_snapshot;
    if ((n_reqs || want) && !self->cfg.stream)
        sim_violation (self, "snapshot stream", "node %d: chunk requests in blob mode", node);
    if (n_reqs) {
        app->reqs = sim_grow (app->reqs, &app->cap_reqs, n_reqs, sizeof *app->reqs);
        memcpy (app->reqs, rd->chunk_reqs, n_reqs * sizeof *app->reqs);
    }
    self->counters.snapshots_wanted += want;
    zkv_raft_advance (n->raft, rd);
    s_maybe_snapshot (self, node, want);
    if (n_reqs)
        sim_stream_requests (self, node, app->reqs, n_reqs);
}

void
sim_drive (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    while (n->up && !n->syncing && zkv_raft_has_ready (n->raft)) {
        zkv_raft_ready_t *rd = &n->rd;
        zkv_raft_ready (n->raft, rd);
        n->rd_prev_term = UINT64_MAX; // unknown (compacted)
        if (rd->n_entries && rd->entries[0].index == 1)
            n->rd_prev_term = 0;
        else if (rd->n_entries &&
                 zkv_raft_term_at (n->raft, rd->entries[0].index - 1, &n->rd_prev_term) != 0)
            n->rd_prev_term = UINT64_MAX;
        // The leader's appends leave before its own write (dissertation §10.2.1): a crash in
        // the middle of that write comes after them.
        s_send_all (self, node, rd->early_msgs, rd->n_early_msgs);
        if (self->cfg.sabotage == SIM_SABOTAGE_SEND_FIRST)
            s_send_all (self, node, rd->msgs, rd->n_msgs);
        bool wrote;
        if (!s_write (self, node, rd, &wrote))
            return;
        uint64_t delay = 0;
        if (wrote && n->disk_set)
            delay = n->disk_us;
        else if (wrote && self->cfg.disk_delay_max_us)
            delay = zkv_rng_below (&self->rng, self->cfg.disk_delay_max_us + 1);
        if (delay) {
            // A slow disk: the sync completes later; meanwhile the node keeps taking messages
            // and ticks (the core hands out no new ready until this one is advanced).
            n->syncing = true;
            sim_event_t ev = {.at = self->now + delay,
                              .kind = SIM_EV_SYNC,
                              .node = node,
                              .incarnation = n->incarnation};
            sim_push (self, &ev);
            break;
        }
        s_finish (self, node, rd, wrote);
    }
    if (n->up)
        sim_check_node (self, node);
    if (n->up && self->kv)
        sim_kv_after_drive (self, node);
}

// --- faults ----------------------------------------------------------------------------------

static void
s_do_crash (sim_t *self, int node, bool torn, bool mid_write)
{
    sim_node_t *n = &self->nodes[node];
    sim_read_crash (self, node);
    if (self->kv)
        sim_kv_crash (self, node);
    // Streaming: an unsynced chunk was written before the ready's other writes; unless it
    // landed whole, none of them did.
    bool landed = !self->cfg.stream || sim_stream_crash (self, node, torn);
    zkv_memstore_crash (n->store, torn && landed, zkv_rng_next (&self->rng));
    zkv_raft_destroy (&n->raft);
    n->up = false;
    n->syncing = false;
    n->crash_mid_write = false;
    n->app.crash_at_install = false;
    n->applied = n->chain = n->base = n->last_snap = 0;
    self->counters.crashes++;
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_CRASH, .node = (uint8_t)node, .a = torn, .b = mid_write});
    sim_narrate (self, "node %d crashed%s%s", node + 1,
                 mid_write ? " in the middle of a write" : "", torn ? " (torn write)" : "");
    sim_check_crash (self, node); // nothing committed was lost
}

void
sim_crash (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    if (self->nodes[node].up)
        s_do_crash (self, node, torn, false);
}

void
sim_crash_mid_write (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].crash_mid_write = true;
    self->nodes[node].crash_torn = torn;
}

void
sim_cancel_mid_write (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].crash_mid_write = false;
    self->nodes[node].app.crash_at_install = false;
}

// KV mode: the state machine resumes from its kvstore's applied index, or from the Raft
// snapshot when that is newer (the store lost commits the log no longer holds).
static void
s_boot_kv (sim_t *self, int node, const zkv_logstore_state_t *ls)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t applied = sim_kv_boot (self, node);
    if (ls->snapshot.index > applied || (applied == 0 && ls->snapshot.index == 0)) {
        s_load_snapshot (self, node, ls->snapshot.index, ls->snapshot_data.data,
                         ls->snapshot_data.len);
        return;
    }
    // The store applied through `applied`: committed entries (the global record vouches for
    // their content, and the history check for what the store made of them).
    if (applied > self->max_committed)
        sim_violation (self, "state machine safety",
                       "node %d's kvstore applied through %" PRIu64 " but only %" PRIu64
                       " entries were ever committed",
                       node, applied, self->max_committed);
    n->applied = applied;
    n->chain = self->commits[applied].chain;
    n->base = applied;
    n->last_snap = ls->snapshot.index;
}

void
sim_restart (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    sim_node_t *n = &self->nodes[node];
    if (n->up)
        return;
    // Loaded into the world, not the stack: a failure below leaves through longjmp, and
    // sim_destroy still frees it.
    zkv_logstore_state_t *ls = &self->loaded;
    zkv_logstore_state_free (ls);
    int rc = zkv_logstore_load (n->store, SIM_GROUP, ls);
    if (rc != 0)
        sim_violation (self, "durability", "node %d: memstore load failed: %s", node,
                       zkv_errname (rc));
    // Synced state never goes back: the term and vote the simulator saw persisted must load.
    const zkv_hard_state_t *hs = &ls->hard_state;
    if (hs->term < n->durable_term ||
        (hs->term == n->durable_term && n->durable_vote && hs->vote != n->durable_vote))
        sim_violation (self, "durability",
                       "node %d reloads term %" PRIu64 " vote %" PRIu64 " but term %" PRIu64
                       " vote %" PRIu64 " was synced",
                       node, hs->term, hs->vote, n->durable_term, n->durable_vote);
    n->durable_term = hs->term;
    n->durable_vote = hs->vote;
    n->incarnation++;
    n->durable_last = ls->n_entries ? ls->entries[ls->n_entries - 1].index : ls->snapshot.index;
    n->applied = n->chain = n->base = n->last_snap = 0;
    if (self->cfg.sabotage == SIM_SABOTAGE_FORGET_LOG) {
        zkv_logstore_state_t forgot = {.hard_state = ls->hard_state};
        forgot.hard_state.commit = 0;
        s_boot (self, node, &forgot);
    } else if (self->kv && self->cfg.stream) {
        // The KV state machine from its kvstore, a whole staged stream promoted (sim_stream.c).
        sim_kv_boot (self, node);
        sim_stream_boot (self, node, ls);
        s_boot (self, node, ls);
    } else if (self->kv) {
        s_boot_kv (self, node, ls);
        s_boot (self, node, ls);
    } else if (self->cfg.stream) {
        // The state machine resumes from its own durable state (sim_stream.c).
        sim_stream_boot (self, node, ls);
        s_boot (self, node, ls);
    } else {
        s_load_snapshot (self, node, ls->snapshot.index, ls->snapshot_data.data,
                         ls->snapshot_data.len);
        s_boot (self, node, ls);
    }
    self->counters.restarts++;
    sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_RESTART,
                                        .node = (uint8_t)node,
                                        .a = n->incarnation,
                                        .b = ls->hard_state.term,
                                        .c = ls->snapshot.index,
                                        .d = n->durable_last});
    sim_narrate (
        self, "node %d restarted (term %" PRIu64 ", snapshot %" PRIu64 ", last index %" PRIu64 ")",
        node + 1, ls->hard_state.term, ls->snapshot.index, n->durable_last);
    zkv_logstore_state_free (ls);
    sim_drive (self, node);
}

// --- running ---------------------------------------------------------------------------------

bool
sim_step (sim_t *self)
{
    if (self->heap_len == 0)
        return false;
    sim_event_t ev = s_pop (self);
    assert (ev.at >= self->now);
    self->now = ev.at;
    self->counters.events++;
    switch (ev.kind) {
    case SIM_EV_TICK: {
        sim_node_t *n = &self->nodes[ev.node];
        if (!n->up || n->incarnation != ev.incarnation)
            break; // a tick of a crashed incarnation
        s_schedule_tick (self, ev.node, self->now + self->cfg.tick_us);
        zkv_raft_tick (n->raft);
        if (zkv_raft_has_ready (n->raft))
            sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_TICK, .node = (uint8_t)ev.node});
        if (self->cfg.stream)
            sim_stream_tick (self, ev.node); // slow chunk reads that are due
        sim_drive (self, ev.node);
        break;
    }
    case SIM_EV_DELIVER:
        sim_net_deliver (self, &ev);
        break;
    case SIM_EV_SYNC: {
        sim_node_t *n = &self->nodes[ev.node];
        if (!n->up || n->incarnation != ev.incarnation || !n->syncing)
            break; // the node crashed meanwhile: its unsynced writes went with it
        n->syncing = false;
        s_finish (self, ev.node, &n->rd, true);
        sim_drive (self, ev.node);
        break;
    }
    case SIM_EV_CALL:
        ev.fn (self, ev.arg);
        break;
    default:
        assert (false);
    }
    return true;
}

void
sim_run_for (sim_t *self, uint64_t us)
{
    uint64_t until = self->now + us;
    while (self->heap_len > 0 && self->heap[0].at <= until)
        sim_step (self);
    self->now = until;
}

bool
sim_run_until (sim_t *self, uint64_t deadline, bool (*pred) (sim_t *self, void *arg), void *arg)
{
    for (;;) {
        if (pred (self, arg))
            return true;
        if (self->heap_len == 0 || self->heap[0].at > deadline) {
            if (deadline > self->now)
                self->now = deadline;
            return pred (self, arg);
        }
        sim_step (self);
    }
}

void
sim_at (sim_t *self, uint64_t at, void (*fn) (sim_t *self, void *arg), void *arg)
{
    sim_event_t ev = {
        .at = at < self->now ? self->now : at, .kind = SIM_EV_CALL, .fn = fn, .arg = arg};
    sim_push (self, &ev);
}

int
sim_guard (sim_t *self, void (*sim_fn) (sim_t *self, void *arg), void *arg)
{
    assert (!self->guarded);
    self->guarded = true;
    if (setjmp (self->guard) != 0) {
        self->guarded = false;
        return -1;
    }
    sim_fn (self, arg);
    self->guarded = false;
    return self->failed ? -1 : 0;
}

// --- accessors -------------------------------------------------------------------------------

bool
sim_failed (sim_t *self)
{
    return self->failed;
}

const char *
sim_violated (sim_t *self)
{
    return self->violated;
}

uint64_t
sim_now (sim_t *self)
{
    return self->now;
}

uint64_t
sim_seed (sim_t *self)
{
    return self->cfg.seed;
}

int
sim_n (sim_t *self)
{
    return self->cfg.n_nodes;
}

zkv_rng_t *
sim_rng (sim_t *self)
{
    return &self->rng;
}

bool
sim_is_up (sim_t *self, int node)
{
    return self->nodes[node].up;
}

zkv_raft_t *
sim_raft (sim_t *self, int node)
{
    return self->nodes[node].raft;
}

bool
sim_status (sim_t *self, int node, zkv_raft_status_t *status)
{
    memset (status, 0, sizeof *status);
    if (!self->nodes[node].up)
        return false;
    zkv_raft_status (self->nodes[node].raft, status);
    return true;
}

int
sim_propose (sim_t *self, int node, const void *data, size_t len, uint64_t *index_p,
             uint64_t *term_p)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t index = 0, term = 0;
    int rc = ZKV_ESTOPPED;
    if (n->up)
        rc = zkv_raft_propose (n->raft, data, len, &index, &term);
    sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_PROPOSE,
                                        .node = (uint8_t)node,
                                        .a = rc == 0 ? index : 0,
                                        .b = rc == 0 ? term : 0,
                                        .c = sim_entry_hash (ZKV_ENTRY_NORMAL, data, len)});
    if (index_p)
        *index_p = index;
    if (term_p)
        *term_p = term;
    if (n->up)
        sim_drive (self, node);
    return rc;
}

void
sim_set_disk_delay (sim_t *self, int node, uint32_t us)
{
    self->nodes[node].disk_set = true;
    self->nodes[node].disk_us = us;
}

void
sim_reset_disk_delay (sim_t *self, int node)
{
    self->nodes[node].disk_set = false;
}

uint64_t
sim_incarnation (sim_t *self, int node)
{
    return self->nodes[node].incarnation;
}

size_t
sim_durable_bytes (sim_t *self, int node)
{
    return zkv_memstore_durable_bytes (self->nodes[node].store, SIM_GROUP);
}

uint64_t
sim_applied (sim_t *self, int node)
{
    return self->nodes[node].up ? self->nodes[node].applied : 0;
}

bool
sim_applied_hash (sim_t *self, int node, uint64_t index, uint64_t *hash_p)
{
    sim_node_t *n = &self->nodes[node];
    if (!n->up || index == 0 || index > n->applied)
        return false;
    // Below the snapshot the state machine was loaded from, its content is the global record
    // (the snapshot's hash chain was checked against it).
    *hash_p = index <= n->base ? self->commits[index].hash : n->hashes[index - n->base - 1];
    return true;
}

bool
sim_committed (sim_t *self, uint64_t index, const uint8_t **data_p, size_t *len_p, uint8_t *type_p)
{
    if (index == 0 || index > self->max_committed)
        return false;
    const sim_commit_t *c = &self->commits[index];
    if (data_p)
        *data_p = c->data;
    if (len_p)
        *len_p = c->len;
    if (type_p)
        *type_p = c->type;
    return true;
}

uint64_t
sim_max_committed (sim_t *self)
{
    return self->max_committed;
}

void
sim_counters (sim_t *self, sim_counters_t *out)
{
    *out = self->counters;
}

uint64_t
sim_trace_hash (sim_t *self)
{
    return self->trace_hash;
}

void
sim_narrate (sim_t *self, const char *fmt, ...)
{
    if (!self->cfg.narrate)
        return;
    printf ("[%4" PRIu64 ".%03" PRIu64 "s] ", self->now / SIM_SEC, (self->now % SIM_SEC) / SIM_MS);
    va_list ap;
    va_start (ap, fmt);
    vprintf (fmt, ap);
    va_end (ap);
    printf ("\n");
}

void
sim_note (sim_t *self, const char *kind, int node, uint64_t a, uint64_t b)
{
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_NOTE, .node = (uint8_t)node, .a = a, .b = b, .word = kind});
}

// Shared by sim_fail and sim_violation: print, then leave.
void
sim_fail_common (sim_t *self, const char *what, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf (msg, sizeof msg, fmt, ap);
    self->failed = true;
    fflush (stdout);
    if (self->cfg.quiet)
        fprintf (stderr, "seed %" PRIu64 ": FAIL %s: %s (t=%" PRIu64 " us)\n", self->cfg.seed, what,
                 msg, self->now);
    else {
        fprintf (stderr, "\n==== zkv-sim FAILURE  seed %" PRIu64 "  t=%" PRIu64 " us\n",
                 self->cfg.seed, self->now);
        fprintf (stderr, "==== %s: %s\n", what, msg);
        fprintf (stderr, "==== last trace events (oldest first):\n");
        sim_trace_dump (self, stderr, 200);
        fprintf (stderr, "==== %s: %s (seed %" PRIu64 ")\n", what, msg, self->cfg.seed);
    }
    if (self->guarded)
        longjmp (self->guard, 1);
    exit (1);
}

void
sim_fail (sim_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    sim_fail_common (self, "check failed", fmt, ap);
}

// --- streamed snapshots ----------------------------------------------------------------------

bool
sim_lose_state (sim_t *self, int node, bool force)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    sim_node_t *n = &self->nodes[node];
    if (!self->cfg.stream)
        return false;
    if (n->up)
        s_do_crash (self, node, false, false);
    // One disk problem at a time: a second node losing its state before the first got it back
    // is a double failure (two missing nodes holding the newest log can block every election).
    bool other = false;
    for (int i = 0; i < self->cfg.n_nodes; i++)
        other = other || (i != node && self->nodes[i].app.missing);
    bool lose = force || (!other && sim_check_durable_without (self, node));
    if (lose) {
        if (self->kv)
            sim_kvs_lose (self, node);
        n->app.missing = true;
        n->app.stage.index = n->app.stage.term = 0;
        n->app.stage.len = 0;
        n->app.stage.done = false;
        sim_note (self, "state-lost", node, n->app.live_applied, 0);
        sim_narrate (self, "node %d lost its state machine's state (disk problem)", node + 1);
    }
    sim_restart (self, node);
    return lose;
}

int
sim_snapshot_now (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    if (!n->up)
        return ZKV_ESTOPPED;
    if (n->syncing)
        return ZKV_EBUSY;
    int rc = sim_take_snapshot (self, node);
    sim_drive (self, node);
    return rc;
}

void
sim_crash_at_install (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].app.crash_at_install = true;
    self->nodes[node].crash_torn = torn;
}

uint64_t
sim_chunks_written (sim_t *self, int node)
{
    return self->nodes[node].app.chunks;
}
