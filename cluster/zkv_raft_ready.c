// The Raft core's output: the outbox and the Ready / Advance hand-over (etcd raft's Ready).
//
// Persist before send: the hard state and the entries a message depends on (a vote, an
// append acknowledgement) travel in the same ready as that message, and the caller persists
// before it sends. The leader's appends may go early (send_before_persist, §10.2.1).
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

zkv_msg_t *
zkv_raft_send (zkv_raft_t *self, zkv_msg_type_t type, uint64_t to)
{
    assert (to != self->cfg.id);
    if (self->n_outbox == self->cap_outbox) {
        self->cap_outbox = self->cap_outbox ? self->cap_outbox * 2 : 16;
        self->outbox = zkv_raft_realloc (self->outbox, self->cap_outbox * sizeof (zkv_msg_t));
    }
    zkv_msg_t *msg = &self->outbox[self->n_outbox++];
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    msg->u.hdr.group = self->cfg.group;
    msg->u.hdr.from = self->cfg.id;
    msg->u.hdr.to = to;
    msg->u.hdr.term = self->term;
    return msg;
}

void
zkv_raft_drop_acks_from (zkv_raft_t *self, uint64_t from)
{
    // An acknowledgement still in the outbox vouches for the log as it was when it was made;
    // with the caller persisting in the background, steps run between ready and advance, and
    // a truncation may come before the acknowledgement leaves. It would claim entries we no
    // longer hold (and may never have persisted): drop it, the leader retries.
    size_t kept = 0;
    for (size_t i = 0; i < self->n_outbox; i++) {
        zkv_msg_t *m = &self->outbox[i];
        if (m->type == ZKV_MSG_APPEND_ENTRIES_REPLY && m->u.append_entries_reply.success &&
            m->u.append_entries_reply.match_index >= from)
            zkv_msg_free (m);
        else
            self->outbox[kept++] = *m;
    }
    self->n_outbox = kept;
}

void
zkv_raft_drop_stale_grants (zkv_raft_t *self)
{
    // A vote granted in an older term and still in the outbox was never persisted (the hard
    // state now says the newer term): drop it. Harmless to the candidate, whose term is over.
    size_t kept = 0;
    for (size_t i = 0; i < self->n_outbox; i++) {
        zkv_msg_t *m = &self->outbox[i];
        if (m->type == ZKV_MSG_REQUEST_VOTE_REPLY && m->u.request_vote_reply.granted &&
            !m->u.request_vote_reply.pre_vote && m->u.hdr.term < self->term)
            zkv_msg_free (m);
        else
            self->outbox[kept++] = *m;
    }
    self->n_outbox = kept;
}

void
zkv_raft_note_truncate (zkv_raft_t *self, uint64_t from)
{
    zkv_raft_drop_acks_from (self, from);
    // Only entries the caller may hold need a stored truncation.
    uint64_t held = self->log.stable;
    if (self->rd_out && self->rd_last > held)
        held = self->rd_last;
    if (from <= held) {
        if (!self->truncate_from || from < self->truncate_from)
            self->truncate_from = from;
    }
    if (self->rd_out && self->rd_last >= from)
        self->rd_last = from - 1;
}

static zkv_hard_state_t
s_hard_state (const zkv_raft_t *self)
{
    zkv_hard_state_t hs = {.term = self->term, .vote = self->vote, .commit = self->commit};
    return hs;
}

static bool
s_hs_changed (const zkv_raft_t *self)
{
    zkv_hard_state_t hs = s_hard_state (self);
    return hs.term != self->prev_hs.term || hs.vote != self->prev_hs.vote ||
           hs.commit != self->prev_hs.commit;
}

bool
zkv_raft_has_ready (zkv_raft_t *self)
{
    if (self->rd_out)
        return false;
    return self->n_outbox > 0 || self->n_reads_done > 0 || self->snap_pending || self->compact_to ||
           self->truncate_from || zkv_raft_log_last_index (&self->log) > self->log.stable ||
           s_hs_changed (self) || (self->commit > self->applied && !self->need_snap) ||
           self->in_pend || self->n_chunk_reqs > 0 || self->want_snap;
}

static zkv_entry_t *
s_copy_range (const zkv_raft_log_t *log, uint64_t lo, uint64_t hi, size_t *n_p)
{
    *n_p = 0;
    if (hi < lo)
        return NULL;
    size_t n = (size_t)(hi - lo + 1);
    zkv_entry_t *out = zkv_raft_alloc (n * sizeof (zkv_entry_t));
    for (size_t i = 0; i < n; i++) {
        const zkv_entry_t *e = zkv_raft_log_entry (log, lo + i);
        assert (e);
        zkv_entry_copy (e, &out[i]);
    }
    *n_p = n;
    return out;
}

// A message that may leave before this ready is persisted: the leader's AppendEntries and
// InstallSnapshot carry entries and snapshots as they are in its memory; a follower that
// stores them answers after its own sync, and the leader counts itself at its stable index
// (dissertation §10.2.1). Votes and acknowledgements promise persisted state: never early.
static bool
s_is_early (const zkv_msg_t *msg)
{
    return msg->type == ZKV_MSG_APPEND_ENTRIES || msg->type == ZKV_MSG_INSTALL_SNAPSHOT;
}

// Moves the early messages to the front, keeping the order within each part; returns their
// number.
static size_t
s_early_first (zkv_msg_t *msgs, size_t n)
{
    size_t n_early = 0;
    for (size_t i = 0; i < n; i++)
        n_early += s_is_early (&msgs[i]);
    if (n_early == 0 || n_early == n)
        return n_early;
    zkv_msg_t *tmp = zkv_raft_alloc (n * sizeof (zkv_msg_t));
    size_t e = 0, l = n_early;
    for (size_t i = 0; i < n; i++) // messages are moved as plain structs (they own their data)
        tmp[s_is_early (&msgs[i]) ? e++ : l++] = msgs[i];
    memcpy (msgs, tmp, n * sizeof (zkv_msg_t));
    free (tmp);
    return n_early;
}

void
zkv_raft_ready (zkv_raft_t *self, zkv_raft_ready_t *rd)
{
    assert (!self->rd_out); // ready, then advance, then the next ready
    memset (rd, 0, sizeof *rd);
    self->rd_out = true;
    self->rd_last = self->log.stable;
    self->rd_applied = self->applied;

    if (self->snap_pending && self->truncate_from) {
        // A truncation goes in a ready of its own, synced before a snapshot is saved: the
        // store applies snapshot, compaction, truncation in that order, and a crash part way
        // must not leave entries after a saved snapshot that do not follow it. Truncated
        // entries conflict with the leader's log, so dropping them alone is always safe.
        rd->truncate_from = self->truncate_from;
        self->truncate_from = 0;
        return;
    }
    if (self->snap_pending) {
        assert (self->snap);
        self->rd_snap = zkv_raft_snap_ref (self->snap);
        rd->has_snapshot = true;
        rd->snapshot = self->snap->meta;
        rd->snapshot_data = self->snap->data.data;
        rd->snapshot_len = self->snap->data.len;
        rd->apply_snapshot = self->snap_apply;
        self->snap_pending = false;
        self->snap_apply = false;
    }
    rd->compact_to = self->compact_to;
    rd->truncate_from = self->truncate_from;
    self->compact_to = 0;
    self->truncate_from = 0;

    uint64_t last = zkv_raft_log_last_index (&self->log);
    self->rd_entries = s_copy_range (&self->log, self->log.stable + 1, last, &self->n_rd_entries);
    rd->entries = self->rd_entries;
    rd->n_entries = self->n_rd_entries;
    self->rd_last = last;

    if (s_hs_changed (self)) {
        rd->has_hard_state = true;
        rd->hard_state = s_hard_state (self);
        self->rd_has_hs = true;
        self->rd_hs = rd->hard_state;
    }

    self->rd_msgs = self->outbox;
    self->n_rd_msgs = self->n_outbox;
    self->outbox = NULL;
    self->n_outbox = 0;
    self->cap_outbox = 0;
    size_t n_early =
        self->cfg.send_before_persist ? s_early_first (self->rd_msgs, self->n_rd_msgs) : 0;
    rd->early_msgs = self->rd_msgs;
    rd->n_early_msgs = n_early;
    rd->msgs = self->rd_msgs + n_early;
    rd->n_msgs = self->n_rd_msgs - n_early;

    // Committed entries (applied, commit]; the snapshot, when loaded, covers up to applied.
    // None while the state they would apply to is missing (need_snap).
    if (!self->need_snap) {
        // At most max_apply_bytes of them (at least one): the rest in the next readies.
        uint64_t hi = self->applied;
        size_t bytes = 0, max = self->cfg.max_apply_bytes ? self->cfg.max_apply_bytes : SIZE_MAX;
        while (hi < self->commit) {
            size_t len = zkv_raft_log_entry (&self->log, hi + 1)->data.len;
            if (hi > self->applied && bytes + len > max)
                break;
            bytes += len;
            hi++;
        }
        self->rd_committed =
            s_copy_range (&self->log, self->applied + 1, hi, &self->n_rd_committed);
        rd->committed = self->rd_committed;
        rd->n_committed = self->n_rd_committed;
        self->rd_applied = hi;
    }

    // Streaming: a received chunk to write, chunk requests to answer.
    if (self->in_pend) {
        // From a stream's first chunk on, the caller's old state is gone: apply nothing,
        // refuse appends, until this (or a newer) snapshot is installed.
        if (self->in_chunk.offset == 0) {
            self->need_snap = true;
            self->in_stream_term = self->term;
        }
        self->rd_has_chunk = true;
        self->rd_chunk = self->in_chunk; // moved
        self->rd_chunk_from = self->in_from;
        self->in_chunk = (zkv_raft_chunk_t){0};
        self->in_pend = false;
        rd->has_chunk = true;
        rd->chunk = self->rd_chunk;
    }
    rd->want_snapshot = self->want_snap;
    self->want_snap = false;
    self->rd_chunk_reqs = self->chunk_reqs;
    rd->chunk_reqs = self->chunk_reqs;
    rd->n_chunk_reqs = self->n_chunk_reqs;
    self->chunk_reqs = NULL;
    self->n_chunk_reqs = 0;
    self->cap_chunk_reqs = 0;

    self->rd_reads = self->reads_done;
    rd->reads = self->reads_done;
    rd->n_reads = self->n_reads_done;
    self->reads_done = NULL;
    self->n_reads_done = 0;
    self->cap_reads_done = 0;
}

void
zkv_raft_advance (zkv_raft_t *self, const zkv_raft_ready_t *rd)
{
    (void)rd; // what was handed out is recorded here, whatever the caller passes back
    assert (self->rd_out);
    self->rd_out = false;
    if (self->rd_last > self->log.stable && self->rd_last <= zkv_raft_log_last_index (&self->log))
        self->log.stable = self->rd_last;
    if (self->rd_has_hs)
        self->prev_hs = self->rd_hs;
    self->rd_has_hs = false;
    if (self->rd_applied > self->applied)
        self->applied = self->rd_applied;
    zkv_raft_snap_unref (&self->rd_snap);
    free (self->rd_reads);
    self->rd_reads = NULL;
    for (size_t i = 0; i < self->n_rd_msgs; i++)
        zkv_msg_free (&self->rd_msgs[i]);
    free (self->rd_msgs);
    self->rd_msgs = NULL;
    self->n_rd_msgs = 0;
    for (size_t i = 0; i < self->n_rd_entries; i++)
        zkv_entry_free (&self->rd_entries[i]);
    free (self->rd_entries);
    self->rd_entries = NULL;
    self->n_rd_entries = 0;
    for (size_t i = 0; i < self->n_rd_committed; i++)
        zkv_entry_free (&self->rd_committed[i]);
    free (self->rd_committed);
    self->rd_committed = NULL;
    self->n_rd_committed = 0;
    free (self->rd_chunk_reqs);
    self->rd_chunk_reqs = NULL;
    if (self->rd_has_chunk)
        zkv_raft_chunk_persisted (self); // acknowledges it; installs after the last
    // The leader counts its own entries once durable (§10.2.1): its match moved.
    if (self->role == ZKV_ROLE_LEADER)
        zkv_raft_maybe_commit (self);
}
