// The group driver: boot and restart, the ready loop, the group's state and events.
#include "zkv_replica_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
zkv_replica_config_defaults (zkv_replica_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    zkv_raft_config_defaults (&cfg->raft);
    cfg->tick_ms = 10;
    cfg->snapshot_bytes = 8u << 20;
    // What LevelDB stores besides an entry's payload (key, header, checksum): every entry, an
    // election's empty one too, counts towards compaction.
    cfg->snapshot_entry_bytes = 40;
    cfg->snapshot_pause_ms = 1000;
    cfg->stream_idle_ms = 30000;
    cfg->view_idle_ms = 2000;
    cfg->max_streams = 16;
    cfg->max_waiting = 65536;
    cfg->max_saves = 4;
}

static uint64_t
s_ticks_of (const zkv_replica_t *self, uint64_t ms)
{
    uint64_t t = self->cfg.tick_ms ? self->cfg.tick_ms : 1;
    return (ms + t - 1) / t;
}

void
zkv_rep_fatal (zkv_replica_t *self, const char *what, int rc)
{
    if (self->failed)
        return;
    self->failed = true;
    self->host->fatal (self->host_arg, what, rc);
}

uint64_t
zkv_rep_leader (const zkv_replica_t *self)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    return st.leader;
}

void
zkv_rep_event (zkv_replica_t *self, const char *topic, uint64_t index, uint64_t bytes)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    zkv_msg_t ev = {.type = ZKV_MSG_EVENT_RAFT};
    zkv_event_raft_t *e = &ev.u.event_raft;
    e->node = self->cfg.raft.id;
    e->group = self->group;
    e->term = st.term;
    e->leader = st.leader;
    e->role = st.role;
    e->index = index;
    e->bytes = bytes;
    self->host->event (self->host_arg, topic, &ev);
}

// --- boot --------------------------------------------------------------------------------------

// Boots the Raft core from the log store, after the state machine came up to the stored
// snapshot if it could: a state that is missing, or behind the snapshot, boots Raft with
// need_snapshot (streaming), so it applies nothing until a leader's snapshot installs.
static int
s_boot (zkv_replica_t *self)
{
    zkv_logstore_state_t st;
    int rc = zkv_logstore_load (self->log, self->group, &st);
    if (rc)
        return rc;
    rc = self->sm->ops->boot (self->sm->impl, &st.snapshot, st.snapshot_data.data,
                              st.snapshot_data.len);
    if (rc < 0) {
        zkv_logstore_state_free (&st);
        return rc;
    }
    self->usable = rc == 1;
    zkv_raft_config_t cfg = self->cfg.raft;
    cfg.applied = self->usable ? self->sm->ops->applied (self->sm->impl) : 0;
    cfg.need_snapshot = !self->usable;
    // Election timeouts of a restarted core differ from the last one's.
    cfg.seed += self->counters.raft_restarts * 0x9E3779B97F4A7C15ull;
    if (!self->usable && !cfg.snapshot_stream) {
        zkv_logstore_state_free (&st);
        return ZKV_ECORRUPT; // blob mode always restores the stored snapshot
    }
    self->raft = zkv_raft_new (&cfg, &st);
    self->synced = st.hard_state;
    self->last_snapshot = st.snapshot.index;
    zkv_logstore_state_free (&st);
    if (!self->raft)
        return ZKV_ECORRUPT;
    zkv_raft_status (self->raft, &self->last);
    return 0;
}

static void s_send_state (zkv_replica_t *self);

// Starts the Raft core over from the store, as a process restart would (after a received
// stream was refused): committed entries come again (the state machine skips those it has),
// and a partial stream is gone, so the leader's next chunk starts it over.
static void
s_restart (zkv_replica_t *self)
{
    self->counters.raft_restarts++;
    zkv_rep_writes_fail (self);
    zkv_rep_reads_fail (self);
    zkv_rep_streams_drop (self);
    zkv_raft_destroy (&self->raft);
    self->syncing = false;
    int rc = s_boot (self);
    if (rc) {
        zkv_rep_fatal (self, "restarting Raft from the store", rc);
        return;
    }
    s_send_state (self);
}

zkv_replica_t *
zkv_replica_new (const zkv_replica_config_t *cfg, zkv_logstore_t *log, zkv_sm_t *sm,
                 const zkv_replica_host_t *host, void *host_arg, int *err)
{
    assert (cfg && log && sm && host && err);
    *err = ZKV_EINVAL;
    if (cfg->tick_ms == 0 || cfg->max_streams == 0 || cfg->max_waiting == 0 || cfg->max_saves == 0 ||
        (cfg->raft.snapshot_stream && !sm->ops->view_open) ||
        (!cfg->raft.snapshot_stream && !sm->ops->blob_write)) {
        zkv_sm_destroy (&sm);
        return NULL;
    }
    zkv_replica_t *self = (zkv_replica_t *)calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->cfg = *cfg;
    self->cfg.raft.voters = NULL; // the core copies them at boot; the caller's may go
    self->host = host;
    self->host_arg = host_arg;
    self->log = log;
    self->sm = sm;
    self->group = cfg->raft.group;
    self->streams = (zkv_rep_stream_t *)calloc (cfg->max_streams, sizeof (zkv_rep_stream_t));
    self->saves = (zkv_rep_save_t *)calloc (cfg->max_saves, sizeof (zkv_rep_save_t));
    if (!self->streams || !self->saves)
        abort ();
    // The voters are needed at every (re)boot: keep a copy.
    uint64_t *voters = (uint64_t *)malloc ((cfg->raft.n_voters + 1) * sizeof (uint64_t));
    if (!voters)
        abort ();
    memcpy (voters, cfg->raft.voters, cfg->raft.n_voters * sizeof (uint64_t));
    self->cfg.raft.voters = voters;
    *err = s_boot (self);
    if (*err) {
        zkv_replica_destroy (&self);
        return NULL;
    }
    return self;
}

void
zkv_replica_destroy (zkv_replica_t **self_p)
{
    assert (self_p);
    zkv_replica_t *self = *self_p;
    if (!self)
        return;
    zkv_rep_requests_free (self);
    zkv_rep_streams_drop (self);
    free (self->streams);
    free (self->saves);
    free (self->reqs);
    zkv_sm_results_free (&self->results);
    zkv_raft_destroy (&self->raft);
    zkv_sm_destroy (&self->sm);
    free ((void *)self->cfg.raft.voters);
    free (self);
    *self_p = NULL;
}

// --- state and events ------------------------------------------------------------------------

void
zkv_replica_state (const zkv_replica_t *self, zkv_msg_t *out)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    memset (out, 0, sizeof *out);
    out->type = ZKV_MSG_GROUP_STATE;
    zkv_group_state_t *s = &out->u.group_state;
    s->group = self->group;
    s->role = st.role;
    s->term = st.term;
    s->leader = st.leader;
    s->commit = st.commit;
    s->applied = self->usable ? self->sm->ops->applied (self->sm->impl) : UINT64_MAX;
    s->last_index = st.last_index;
    s->snapshot_index = st.snapshot_index;
    s->log_bytes = st.log_bytes;
    s->sm_bytes = self->sm->ops->size ? self->sm->ops->size (self->sm->impl) : 0;
    if (self->sm->ops->log_ms && self->usable)
        s->log_ms = self->sm->ops->log_ms (self->sm->impl);
    if (self->sm->ops->shard_states && self->usable) {
        size_t n = 0;
        const uint8_t *states = self->sm->ops->shard_states (self->sm->impl, &s->config, &n);
        s->shard_states = (zkv_bytes_t){(uint8_t *)states, n}; // borrowed
    }
    // A leader's followers, for their lag in `zkv status`: borrowed from scratch the replica
    // keeps for it (the message is used before the replica is called again).
    zkv_replica_t *scratch = (zkv_replica_t *)self;
    size_t n = zkv_raft_followers (self->raft, scratch->follower_ids, scratch->follower_match,
                                   ZKV_STATS_MAX_FOLLOWERS);
    if (n > ZKV_STATS_MAX_FOLLOWERS)
        n = ZKV_STATS_MAX_FOLLOWERS;
    s->followers = (zkv_u64s_t){n ? scratch->follower_ids : NULL, n};
    s->matches = (zkv_u64s_t){n ? scratch->follower_match : NULL, n};
}

void
zkv_replica_stats (const zkv_replica_t *self, zkv_group_stats_t *out)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    memset (out, 0, sizeof *out);
    out->group = self->group;
    out->role = st.role;
    out->term = st.term;
    out->leader = st.leader;
    out->commit = st.commit;
    out->applied = self->usable ? self->sm->ops->applied (self->sm->impl) : UINT64_MAX;
    out->last_index = st.last_index;
    out->snapshot_index = st.snapshot_index;
    out->log_entries = st.last_index >= st.first_index ? st.last_index - st.first_index + 1 : 0;
    out->log_bytes = st.log_bytes;
    out->data_bytes = self->sm->ops->size ? self->sm->ops->size (self->sm->impl) : 0;
    if (self->sm->ops->shard_states && self->usable) {
        size_t n = 0;
        (void)self->sm->ops->shard_states (self->sm->impl, &out->config, &n);
    }
    out->elections = st.elections;
    out->elections_won = st.elections_won;
    out->snapshots_taken = self->counters.snapshots_taken;
    out->snapshots_installed = self->counters.snapshots_installed;
    out->snapshot_bytes = self->counters.snapshot_bytes;
    out->snapshot_sent_bytes = self->counters.snapshot_sent_bytes;
    out->snapshot_recv_bytes = self->counters.snapshot_recv_bytes;
    out->appended = self->counters.appended;
    out->syncs = self->counters.syncs;
    out->waiting = zkv_replica_waiting (self);
    out->busy = self->counters.busy;
    out->uncommitted_bytes = st.uncommitted_bytes;
    out->proposals_refused = st.proposals_refused;
    out->refused = st.terms_refused + st.commit_conflicts + st.leader_conflicts;
    size_t n = zkv_raft_followers (self->raft, out->follower_ids, out->follower_match,
                                   ZKV_STATS_MAX_FOLLOWERS);
    out->n_followers = n < ZKV_STATS_MAX_FOLLOWERS ? n : ZKV_STATS_MAX_FOLLOWERS;
}

static void
s_send_state (zkv_replica_t *self)
{
    zkv_msg_t m;
    zkv_replica_state (self, &m);
    self->host->state (self->host_arg, &m);
    self->state_tick = self->ticks;
    self->state_dirty = false;
}

// After a ready loop: what changed, for the frontend and the events; lost leadership.
static void
s_after (zkv_replica_t *self)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    // Writes proposed in a term this replica no longer leads may never be applied here: the
    // frontend answers "not leader" now, the client asks again with the same seq, and the
    // dedup table keeps it exactly once whichever way it went.
    if (st.role != ZKV_ROLE_LEADER || st.term != self->last.term)
        zkv_rep_writes_fail (self);
    bool leading = st.role == ZKV_ROLE_LEADER, led = self->last.role == ZKV_ROLE_LEADER;
    bool changed = st.term != self->last.term || st.leader != self->last.leader ||
                   st.role != self->last.role;
    if (st.term != self->last.term)
        zkv_rep_event (self, "zkv.raft.term", st.commit, 0);
    if ((st.leader != self->last.leader || leading != led) && st.leader)
        zkv_rep_event (self, "zkv.raft.leader", st.commit, 0);
    if (changed || st.commit != self->last.commit || st.last_index != self->last.last_index ||
        st.snapshot_index != self->last.snapshot_index)
        self->state_dirty = true;
    self->last = st;
    if (changed)
        s_send_state (self);
}

// --- the ready loop ----------------------------------------------------------------------------

// Writes the ready in the order the core asks for; *sync_p: a sync is needed. Returns false if
// its received chunk was refused (malformed: the peer's bad input; it must not be
// acknowledged).
static bool
s_persist (zkv_replica_t *self, const zkv_raft_ready_t *rd, bool *sync_p)
{
    zkv_logstore_t *log = self->log;
    bool wrote = false, chunk_ok = true;
    int rc;
    if (rd->has_chunk) {
        // Staged by the state machine before the snapshot's metadata that may follow in this
        // ready; made durable by this ready's sync (one database, one write-ahead log).
        const zkv_raft_chunk_t *c = &rd->chunk;
        rc = self->sm->ops->recv_chunk (self->sm->impl, &c->snapshot, c->offset, c->data, c->len,
                                        c->done);
        if (rc && zkv_sm_store_error (rc)) {
            zkv_rep_fatal (self, "writing a snapshot chunk", rc);
            return false;
        }
        if (rc) {
            chunk_ok = false;
            self->counters.chunks_rejected++;
            zkv_rep_event (self, "zkv.raft.snapshot.rejected", c->snapshot.index, c->offset);
        } else {
            if (c->offset == 0) {
                self->recv_bytes = 0;
                zkv_rep_event (self, "zkv.raft.snapshot.receiving", c->snapshot.index, 0);
            }
            self->recv_bytes += c->len;
            self->counters.snapshot_recv_bytes += c->len;
            wrote = true;
        }
    }
    if (rd->has_snapshot) {
        rc = zkv_logstore_save_snapshot (log, self->group, &rd->snapshot, rd->snapshot_data,
                                         rd->snapshot_len);
        if (rc) {
            zkv_rep_fatal (self, "saving a snapshot", rc);
            return false;
        }
        wrote = true;
    }
    if (rd->compact_to) {
        if ((rc = zkv_logstore_compact_prefix (log, self->group, rd->compact_to))) {
            zkv_rep_fatal (self, "compacting the log", rc);
            return false;
        }
        wrote = true;
    }
    if (rd->truncate_from) {
        if ((rc = zkv_logstore_truncate_suffix (log, self->group, rd->truncate_from))) {
            zkv_rep_fatal (self, "truncating the log", rc);
            return false;
        }
        wrote = true;
    }
    if (rd->n_entries) {
        if ((rc = zkv_logstore_append (log, self->group, rd->entries, rd->n_entries))) {
            zkv_rep_fatal (self, "appending to the log", rc);
            return false;
        }
        self->counters.appended += rd->n_entries;
        wrote = true;
    }
    if (rd->has_hard_state) {
        if ((rc = zkv_logstore_save_hard_state (log, self->group, &rd->hard_state))) {
            zkv_rep_fatal (self, "saving the hard state", rc);
            return false;
        }
        // A new commit index alone needs no sync (etcd's MustSync): the stored commit may lag
        // (zkv_logstore.h), a restart recomputes it; the write rides on the next sync.
        if (rd->hard_state.term != self->synced.term || rd->hard_state.vote != self->synced.vote)
            wrote = true;
    }
    *sync_p = wrote;
    return chunk_ok;
}

// The second half of a ready, once its writes are durable: send, install, apply, read,
// advance. False if Raft was restarted (the ready is gone).
static bool
s_finish (zkv_replica_t *self, bool chunk_ok)
{
    zkv_raft_ready_t *rd = &self->rd;
    for (size_t i = 0; i < rd->n_msgs; i++)
        self->host->send (self->host_arg, &rd->msgs[i]);
    if (!chunk_ok) {
        // Everything else of this ready is durable: restart the core from the store. It has no
        // partial stream, so the leader's next chunk starts the stream over.
        s_restart (self);
        return false;
    }
    if (rd->has_snapshot && !rd->apply_snapshot)
        zkv_rep_event (self, "zkv.raft.snapshot.taken", rd->snapshot.index, rd->snapshot_len);
    if (rd->apply_snapshot) {
        int rc = self->cfg.raft.snapshot_stream
                     ? self->sm->ops->recv_finish (self->sm->impl, &rd->snapshot)
                     : self->sm->ops->blob_restore (self->sm->impl, rd->snapshot.index,
                                                    rd->snapshot_data, rd->snapshot_len);
        if (rc && zkv_sm_store_error (rc)) {
            zkv_rep_fatal (self, "installing the leader's snapshot", rc);
            return false;
        }
        if (rc) {
            // Not the state its snapshot announced, or no whole stream of it: the state
            // machine's state is intact but Raft's log starts past it. A restart finds it
            // behind the stored snapshot and waits for a new one (need_snapshot).
            self->counters.chunks_rejected++;
            zkv_rep_event (self, "zkv.raft.snapshot.rejected", rd->snapshot.index, UINT64_MAX);
            s_restart (self);
            return false;
        }
        self->usable = true;
        self->last_snapshot = rd->snapshot.index;
        self->counters.snapshots_installed++;
        uint64_t bytes = rd->snapshot_len ? rd->snapshot_len : self->recv_bytes;
        self->counters.snapshot_bytes = bytes;
        zkv_rep_event (self, "zkv.raft.snapshot.installed", rd->snapshot.index, bytes);
    }
    if (rd->n_committed) {
        int rc = self->sm->ops->apply (self->sm->impl, rd->committed, rd->n_committed,
                                       &self->results);
        if (rc) {
            zkv_rep_fatal (self, "applying committed entries", rc);
            return false;
        }
        zkv_rep_writes_applied (self, rd->committed, rd->n_committed, &self->results);
        zkv_sm_results_clear (&self->results);
    }
    zkv_rep_reads_confirmed (self, rd->reads, rd->n_reads);
    zkv_rep_reads_serve (self);
    if (rd->compact_to)
        zkv_rep_event (self, "zkv.raft.compacted", rd->compact_to, 0);
    // The chunk requests are answered after the advance (a fresh snapshot may be taken for
    // them, which the core does not take between a ready and its advance).
    size_t n_reqs = rd->n_chunk_reqs;
    if (n_reqs > self->cap_reqs) {
        self->cap_reqs = n_reqs;
        self->reqs = (zkv_raft_chunk_req_t *)realloc (self->reqs, n_reqs * sizeof *self->reqs);
        if (!self->reqs)
            abort ();
    }
    if (n_reqs)
        memcpy (self->reqs, rd->chunk_reqs, n_reqs * sizeof *self->reqs);
    self->want_snapshot = self->want_snapshot || rd->want_snapshot;
    zkv_raft_advance (self->raft, rd);
    zkv_rep_chunk_requests (self, self->reqs, n_reqs);
    return !self->failed;
}

// One ready: early sends, writes, sync (now or later), finish. False when the loop must stop
// (a sync outstanding, a failure, a restart).
static bool
s_ready (zkv_replica_t *self)
{
    zkv_raft_ready_t *rd = &self->rd;
    zkv_raft_ready (self->raft, rd);
    // The leader's appends leave before its own write: it writes its log while the followers
    // write theirs (dissertation §10.2.1); the core counts its own entries toward a quorum
    // only once they are persisted.
    for (size_t i = 0; i < rd->n_early_msgs; i++)
        self->host->send (self->host_arg, &rd->early_msgs[i]);
    bool need_sync = false;
    bool chunk_ok = s_persist (self, rd, &need_sync);
    if (self->failed)
        return false;
    if (need_sync) {
        self->counters.syncs++;
        int rc = self->host->sync (self->host_arg);
        if (rc < 0) {
            zkv_rep_fatal (self, "syncing the log", rc);
            return false;
        }
        if (rc == ZKV_REPLICA_SYNC_LATER) {
            self->syncing = true;
            self->rd_chunk_ok = chunk_ok;
            return false;
        }
        if (rd->has_hard_state)
            self->synced = rd->hard_state;
    }
    return s_finish (self, chunk_ok);
}

void
zkv_replica_run (zkv_replica_t *self)
{
    for (int round = 0; round < 3; round++) {
        while (!self->failed && !self->syncing && zkv_raft_has_ready (self->raft))
            if (!s_ready (self))
                break;
        if (self->failed)
            return;
        s_after (self);
        if (self->syncing)
            return;
        // The state machine's own work sees what was applied (and may propose: run that at
        // once); a snapshot taken now compacts in the next ready: run it at once too.
        uint64_t taken = self->counters.snapshots_taken;
        uint64_t proposed = self->counters.own_proposals;
        zkv_rep_work (self, false);
        zkv_rep_snapshot_maybe (self);
        if (self->counters.snapshots_taken == taken && self->counters.own_proposals == proposed)
            return;
    }
}

int
zkv_replica_snapshot_now (zkv_replica_t *self)
{
    if (self->failed)
        return ZKV_ESTOPPED;
    if (self->syncing || !self->usable)
        return ZKV_EBUSY;
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    if (self->sm->ops->applied (self->sm->impl) <= st.snapshot_index)
        return ZKV_ECOMPACTED;
    int rc = zkv_rep_snapshot_take (self);
    if (rc == 0)
        zkv_replica_run (self);
    return rc;
}

void
zkv_replica_synced (zkv_replica_t *self, int rc)
{
    assert (self->syncing || self->failed);
    if (self->failed)
        return;
    if (rc < 0) {
        zkv_rep_fatal (self, "syncing the log", rc);
        return;
    }
    self->syncing = false;
    if (self->rd.has_hard_state)
        self->synced = self->rd.hard_state;
    if (s_finish (self, self->rd_chunk_ok))
        zkv_replica_run (self);
}

// --- inputs ------------------------------------------------------------------------------------

void
zkv_replica_step (zkv_replica_t *self, const zkv_msg_t *msg)
{
    if (self->failed)
        return;
    // A message for another group or node is ignored by the core, by contract.
    (void)zkv_raft_step (self->raft, msg);
}

// Messages from a peer that is wrong (a term too far ahead, a second leader of a term, an
// append contradicting committed entries) are refused by the core; their count is published,
// at most once a second, so an operator sees a misbehaving peer while it happens.
static void
s_refused (zkv_replica_t *self)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    uint64_t n = st.terms_refused + st.commit_conflicts + st.leader_conflicts;
    if (n == self->refused || (self->refused_tick &&
                               self->ticks - self->refused_tick < zkv_rep_ticks_of (self, 1000)))
        return;
    // A core restarted from the store counts from 0 again: report what it counts now.
    self->refused = n;
    self->refused_tick = self->ticks;
    if (n)
        zkv_rep_event (self, "zkv.raft.refused", n, 0);
}

void
zkv_replica_tick (zkv_replica_t *self)
{
    if (self->failed)
        return;
    self->ticks++;
    zkv_raft_tick (self->raft);
    zkv_rep_streams_expire (self);
    zkv_rep_work (self, true);
    // The state goes when it changed, and at least every second: some of it changes without
    // an event of the group's (its data's size once storage compacts a deleted shard).
    if ((self->state_dirty && self->ticks != self->state_tick) ||
        self->ticks - self->state_tick >= zkv_rep_ticks_of (self, 1000))
        s_send_state (self);
    s_refused (self);
}

// --- inspection --------------------------------------------------------------------------------

uint64_t
zkv_replica_group (const zkv_replica_t *self)
{
    return self->group;
}

const zkv_raft_t *
zkv_replica_raft (const zkv_replica_t *self)
{
    return self->raft;
}

zkv_sm_t *
zkv_replica_sm (zkv_replica_t *self)
{
    return self->sm;
}

bool
zkv_replica_failed (const zkv_replica_t *self)
{
    return self->failed;
}

bool
zkv_replica_syncing (const zkv_replica_t *self)
{
    return self->syncing;
}

void
zkv_replica_counters (const zkv_replica_t *self, zkv_replica_counters_t *out)
{
    *out = self->counters;
}

uint64_t
zkv_rep_ticks_of (const zkv_replica_t *self, uint64_t ms)
{
    return s_ticks_of (self, ms);
}
