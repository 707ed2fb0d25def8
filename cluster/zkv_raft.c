// The Raft core's node object: configuration, boot from durable state, queries, proposals.
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void *
zkv_raft_alloc (size_t size)
{
    void *p = calloc (1, size ? size : 1);
    if (!p)
        abort (); // out of memory aborts (STYLE.md)
    return p;
}

void *
zkv_raft_realloc (void *p, size_t size)
{
    p = realloc (p, size ? size : 1);
    if (!p)
        abort ();
    return p;
}

void
zkv_raft_config_defaults (zkv_raft_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->election_ticks = 10;
    cfg->heartbeat_ticks = 1;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
    cfg->max_entries_per_msg = 256;
    cfg->max_bytes_per_msg = 1024 * 1024;
    cfg->max_apply_bytes = 4 * 1024 * 1024;
    cfg->max_inflight_msgs = 64;
    cfg->max_inflight_bytes = 16 * 1024 * 1024;
    cfg->snapshot_chunk_bytes = 64 * 1024;
    cfg->max_term_jump = 1000000;
}

const char *
zkv_role_name (zkv_role_t role)
{
    switch (role) {
    case ZKV_ROLE_FOLLOWER:
        return "follower";
    case ZKV_ROLE_PRE_CANDIDATE:
        return "pre-candidate";
    case ZKV_ROLE_CANDIDATE:
        return "candidate";
    case ZKV_ROLE_LEADER:
        return "leader";
    }
    return "unknown";
}

size_t
zkv_raft_quorum (const zkv_raft_t *self)
{
    return self->cfg.n_voters / 2 + 1;
}

int
zkv_raft_voter_slot (const zkv_raft_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->cfg.n_voters; i++)
        if (self->voters[i] == id)
            return (int)i;
    return -1;
}

static bool
s_config_valid (const zkv_raft_config_t *cfg)
{
    if (!cfg->id || !cfg->voters || cfg->n_voters == 0 || cfg->n_voters > 1024)
        return false;
    if (cfg->election_ticks < 2 || cfg->heartbeat_ticks == 0 ||
        cfg->heartbeat_ticks >= cfg->election_ticks || cfg->election_ticks > (1u << 30))
        return false;
    if (cfg->max_entries_per_msg == 0 || cfg->max_bytes_per_msg == 0 ||
        cfg->max_inflight_msgs == 0 || cfg->max_inflight_msgs > 65536 ||
        cfg->snapshot_chunk_bytes == 0 || (cfg->need_snapshot && !cfg->snapshot_stream))
        return false;
    bool self_found = false;
    for (size_t i = 0; i < cfg->n_voters; i++) {
        if (cfg->voters[i] == 0)
            return false;
        if (cfg->voters[i] == cfg->id)
            self_found = true;
        for (size_t j = 0; j < i; j++)
            if (cfg->voters[j] == cfg->voters[i])
                return false;
    }
    return self_found;
}

// Loads durable state: the snapshot, the entries after it, term, vote and commit.
static int
s_boot (zkv_raft_t *self, const zkv_logstore_state_t *boot)
{
    uint64_t snap_index = boot->snapshot.index;
    zkv_raft_log_init (&self->log, snap_index, boot->snapshot.term);
    if (snap_index) {
        self->snap = zkv_raft_snap_new (snap_index, boot->snapshot.term, boot->snapshot_data.data,
                                        boot->snapshot_data.len);
        // A crash between saving the snapshot and compacting can leave covered entries in
        // the store, which a load need not show: compact again (idempotent) so that appends
        // after the snapshot follow the stored log.
        self->compact_to = snap_index;
    }
    uint64_t prev_term = self->log.offset_term;
    for (size_t i = 0; i < boot->n_entries; i++) {
        const zkv_entry_t *e = &boot->entries[i];
        if (e->index <= snap_index)
            continue; // covered by the snapshot (see above)
        // Disk input: a gap or a term going backwards means the store is corrupt.
        if (e->index != zkv_raft_log_last_index (&self->log) + 1 || e->term < prev_term ||
            e->term == 0)
            return ZKV_ECORRUPT;
        prev_term = e->term;
        zkv_raft_log_append (&self->log, e);
    }
    uint64_t last = zkv_raft_log_last_index (&self->log);
    self->log.stable = last;

    self->term = boot->hard_state.term;
    self->vote = boot->hard_state.vote;
    if (self->vote && zkv_raft_voter_slot (self, self->vote) < 0)
        return ZKV_ECORRUPT;
    // Entries of a later term can survive a crash that lost the hard state written after
    // them in the same sync; the term must never be below a term in the log.
    if (zkv_raft_log_last_term (&self->log) > self->term) {
        self->term = zkv_raft_log_last_term (&self->log);
        self->vote = 0;
    }
    self->prev_hs = boot->hard_state;

    uint64_t applied = self->cfg.applied > snap_index ? self->cfg.applied : snap_index;
    uint64_t commit = boot->hard_state.commit;
    if (commit < applied)
        commit = applied; // the state machine only ever applied committed entries
    if (commit > last)
        commit = last;
    if (applied > commit)
        applied = commit;
    self->commit = commit;
    self->applied = applied;
    return 0;
}

zkv_raft_t *
zkv_raft_new (const zkv_raft_config_t *cfg, const zkv_logstore_state_t *boot)
{
    if (!cfg || !s_config_valid (cfg))
        return NULL;
    zkv_raft_t *self = zkv_raft_alloc (sizeof *self);
    self->cfg = *cfg;
    self->voters = zkv_raft_alloc (cfg->n_voters * sizeof (uint64_t));
    memcpy (self->voters, cfg->voters, cfg->n_voters * sizeof (uint64_t));
    self->cfg.voters = self->voters;
    self->votes = zkv_raft_alloc (cfg->n_voters);
    self->prevotes = zkv_raft_alloc (cfg->n_voters);
    self->prs = zkv_raft_alloc (cfg->n_voters * sizeof (zkv_raft_progress_t));
    for (size_t i = 0; i < cfg->n_voters; i++) {
        self->prs[i].id = self->voters[i];
        self->prs[i].inflight = zkv_raft_alloc (cfg->max_inflight_msgs * sizeof (uint64_t));
        self->prs[i].inflight_sizes =
            zkv_raft_alloc (cfg->max_inflight_msgs * sizeof (uint64_t));
    }
    zkv_rng_seed (&self->rng, cfg->seed);
    self->need_snap = self->missing = cfg->snapshot_stream && cfg->need_snapshot;
    if (boot) {
        if (s_boot (self, boot)) {
            zkv_raft_destroy (&self);
            return NULL;
        }
    } else
        zkv_raft_log_init (&self->log, 0, 0);
    zkv_raft_become_follower (self, self->term, 0);
    return self;
}

void
zkv_raft_destroy (zkv_raft_t **self_p)
{
    assert (self_p);
    zkv_raft_t *self = *self_p;
    if (!self)
        return;
    zkv_raft_free_progress (self);
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        free (self->prs[i].inflight);
        free (self->prs[i].inflight_sizes);
    }
    free (self->prs);
    free (self->votes);
    free (self->prevotes);
    free (self->voters);
    zkv_raft_log_free (&self->log);
    zkv_raft_snap_unref (&self->snap);
    zkv_raft_snap_unref (&self->rd_snap);
    zkv_raft_drop_incoming (self);
    zkv_raft_stream_free (self);
    zkv_raft_reads_free (self);
    for (size_t i = 0; i < self->n_outbox; i++)
        zkv_msg_free (&self->outbox[i]);
    free (self->outbox);
    for (size_t i = 0; i < self->n_rd_msgs; i++)
        zkv_msg_free (&self->rd_msgs[i]);
    free (self->rd_msgs);
    for (size_t i = 0; i < self->n_rd_entries; i++)
        zkv_entry_free (&self->rd_entries[i]);
    free (self->rd_entries);
    for (size_t i = 0; i < self->n_rd_committed; i++)
        zkv_entry_free (&self->rd_committed[i]);
    free (self->rd_committed);
    free (self);
    *self_p = NULL;
}

void
zkv_raft_tick (zkv_raft_t *self)
{
    zkv_raft_tick_election (self);
}

int
zkv_raft_propose (zkv_raft_t *self, const uint8_t *data, size_t len, uint64_t *index_p,
                  uint64_t *term_p)
{
    if (self->role != ZKV_ROLE_LEADER)
        return ZKV_ENOTLEADER;
    if (len > ZKV_MSG_MAX_FIELD_BYTES)
        return ZKV_ETOOBIG;
    // Overload is refused at once, not accepted and lost: the log the followers have not
    // confirmed stays bounded (one entry always fits, however large).
    if (self->cfg.max_uncommitted_bytes && self->uncommitted > 0 &&
        self->uncommitted + len > self->cfg.max_uncommitted_bytes) {
        self->proposals_refused++;
        return ZKV_EBUSY;
    }
    self->uncommitted += len;
    zkv_entry_t e = {.term = self->term,
                     .index = zkv_raft_log_last_index (&self->log) + 1,
                     .type = ZKV_ENTRY_NORMAL,
                     .data = {.data = (uint8_t *)data, .len = len}};
    zkv_raft_log_append (&self->log, &e);
    if (index_p)
        *index_p = e.index;
    if (term_p)
        *term_p = e.term;
    // Send at once to followers that are pipelining; probing ones wait for their reply.
    zkv_raft_broadcast (self, false);
    return 0;
}

void
zkv_raft_status (const zkv_raft_t *self, zkv_raft_status_t *st)
{
    memset (st, 0, sizeof *st);
    st->id = self->cfg.id;
    st->role = self->role;
    st->term = self->term;
    st->vote = self->vote;
    st->leader = self->leader;
    st->commit = self->commit;
    st->applied = self->applied;
    st->first_index = self->log.offset + 1;
    st->last_index = zkv_raft_log_last_index (&self->log);
    st->last_term = zkv_raft_log_last_term (&self->log);
    st->stable_index = self->log.stable;
    st->snapshot_index = self->snap ? self->snap->meta.index : 0;
    st->snapshot_term = self->snap ? self->snap->meta.term : 0;
    st->log_bytes = self->log.bytes;
    st->terms_refused = self->terms_refused;
    st->commit_conflicts = self->commit_conflicts;
    st->leader_conflicts = self->leader_conflicts;
    st->regressions = self->regressions;
    st->uncommitted_bytes = self->uncommitted;
    st->proposals_refused = self->proposals_refused;
    st->elections = self->elections;
    st->elections_won = self->elections_won;
}

size_t
zkv_raft_followers (const zkv_raft_t *self, uint64_t *ids, uint64_t *matches, size_t max)
{
    if (self->role != ZKV_ROLE_LEADER || !self->prs)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        if (self->voters[i] == self->cfg.id)
            continue;
        if (n < max) {
            ids[n] = self->prs[i].id;
            matches[n] = self->prs[i].match;
        }
        n++;
    }
    return n;
}

int
zkv_raft_term_at (const zkv_raft_t *self, uint64_t index, uint64_t *term_p)
{
    return zkv_raft_log_term (&self->log, index, term_p);
}

const zkv_entry_t *
zkv_raft_entry_at (const zkv_raft_t *self, uint64_t index)
{
    return zkv_raft_log_entry (&self->log, index);
}

const uint8_t *
zkv_raft_snapshot_data (const zkv_raft_t *self, size_t *len_p)
{
    if (!self->snap) {
        if (len_p)
            *len_p = 0;
        return NULL;
    }
    if (len_p)
        *len_p = self->snap->data.len;
    return self->snap->data.data;
}
