// Raft snapshots: local compaction and InstallSnapshot in resumable chunks (§7, Figure 13), of
// a blob the core holds or (streaming mode) of bytes the caller reads and writes itself.
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// Largest snapshot a follower accepts to receive (network input bound).
#define S_MAX_SNAPSHOT_BYTES (1ULL << 40)

zkv_raft_snap_t *
zkv_raft_snap_new (uint64_t index, uint64_t term, const uint8_t *data, size_t len)
{
    zkv_raft_snap_t *snap = zkv_raft_alloc (sizeof *snap);
    snap->refs = 1;
    snap->meta.index = index;
    snap->meta.term = term;
    zkv_bytes_set (&snap->data, data, len);
    return snap;
}

zkv_raft_snap_t *
zkv_raft_snap_ref (zkv_raft_snap_t *snap)
{
    assert (snap && snap->refs > 0);
    snap->refs++;
    return snap;
}

void
zkv_raft_snap_unref (zkv_raft_snap_t **snap_p)
{
    zkv_raft_snap_t *snap = *snap_p;
    if (!snap)
        return;
    assert (snap->refs > 0);
    if (--snap->refs == 0) {
        zkv_bytes_free (&snap->data);
        free (snap);
    }
    *snap_p = NULL;
}

int
zkv_raft_snapshot (zkv_raft_t *self, uint64_t index, const uint8_t *data, size_t len)
{
    if (index == 0 || index > self->applied)
        return ZKV_EINVAL;
    if (index <= self->log.offset)
        return ZKV_ECOMPACTED;
    if (self->snap_apply || self->need_snap)
        return ZKV_EBUSY; // a leader's snapshot is waiting to be loaded first (or to come)
    if (self->cfg.snapshot_stream && (data || len))
        return ZKV_EINVAL; // the state is the caller's: metadata only
    uint64_t term;
    int rc = zkv_raft_log_term (&self->log, index, &term);
    assert (rc == 0); // offset < index <= applied <= last
    (void)rc;
    // Transfers in progress keep their reference to the old snapshot and finish with it.
    zkv_raft_snap_unref (&self->snap);
    self->snap = zkv_raft_snap_new (index, term, data, len);
    zkv_raft_log_compact (&self->log, index);
    if (index > self->compact_to)
        self->compact_to = index;
    self->snap_pending = true;
    return 0;
}

// --- leader side ------------------------------------------------------------------------------

static void
s_send_chunk (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t offset)
{
    const zkv_raft_snap_t *snap = pr->snap;
    uint64_t total = snap->data.len;
    if (offset > total)
        offset = total;
    uint64_t len = total - offset;
    if (len > self->cfg.snapshot_chunk_bytes)
        len = self->cfg.snapshot_chunk_bytes;
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_INSTALL_SNAPSHOT, pr->id);
    zkv_install_snapshot_t *m = &msg->u.install_snapshot;
    m->last_index = snap->meta.index;
    m->last_term = snap->meta.term;
    m->offset = offset;
    m->total_size = total;
    m->done = offset + len == total;
    zkv_bytes_set (&m->data, snap->data.data + offset, (size_t)len);
    pr->snap_offset = offset;
    pr->snap_end = offset + len;
    pr->snap_wait = 0;
}

// Streaming: asks the caller for the chunk at offset (it answers with zkv_raft_snapshot_chunk).
static void
s_request_chunk (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t offset)
{
    if (self->n_chunk_reqs == self->cap_chunk_reqs) {
        self->cap_chunk_reqs = self->cap_chunk_reqs ? 2 * self->cap_chunk_reqs : 4;
        self->chunk_reqs = zkv_raft_realloc (self->chunk_reqs,
                                             self->cap_chunk_reqs * sizeof (zkv_raft_chunk_req_t));
    }
    zkv_raft_chunk_req_t *req = &self->chunk_reqs[self->n_chunk_reqs++];
    req->to = pr->id;
    req->snapshot = pr->snap->meta;
    req->offset = offset;
    req->max_bytes = self->cfg.snapshot_chunk_bytes;
    pr->snap_req = true;
    pr->snap_offset = offset;
    pr->snap_end = offset;
    pr->snap_wait = 0;
}

static void
s_next_chunk (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t offset)
{
    if (self->cfg.snapshot_stream)
        s_request_chunk (self, pr, offset);
    else
        s_send_chunk (self, pr, offset);
}

int
zkv_raft_snapshot_chunk (zkv_raft_t *self, uint64_t to, const zkv_snapshot_meta_t *snapshot,
                         uint64_t offset, const uint8_t *data, size_t len, bool done)
{
    assert (self && snapshot && (data || len == 0));
    int slot = zkv_raft_voter_slot (self, to);
    if (!self->cfg.snapshot_stream || self->role != ZKV_ROLE_LEADER || slot < 0 ||
        to == self->cfg.id || (len == 0 && !done) || len > ZKV_MSG_MAX_FIELD_BYTES)
        return ZKV_EINVAL;
    zkv_raft_progress_t *pr = &self->prs[slot];
    if (pr->state != ZKV_PR_SNAPSHOT || !pr->snap_req || pr->snap_offset != offset ||
        pr->snap->meta.index != snapshot->index || pr->snap->meta.term != snapshot->term)
        return ZKV_EINVAL; // stale: the transfer moved on
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_INSTALL_SNAPSHOT, pr->id);
    zkv_install_snapshot_t *m = &msg->u.install_snapshot;
    m->last_index = snapshot->index;
    m->last_term = snapshot->term;
    m->offset = offset;
    m->total_size = 0; // a stream's size is known only at its end
    m->done = done;
    zkv_bytes_set (&m->data, data, len);
    pr->snap_req = false;
    pr->snap_end = offset + len;
    if (pr->snap_end > pr->snap_max)
        pr->snap_max = pr->snap_end;
    pr->snap_wait = 0;
    return 0;
}

void
zkv_raft_snapshot_unavailable (zkv_raft_t *self, const zkv_snapshot_meta_t *snapshot)
{
    assert (self && snapshot);
    if (self->role != ZKV_ROLE_LEADER)
        return;
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        zkv_raft_progress_t *pr = &self->prs[i];
        if (pr->state == ZKV_PR_SNAPSHOT && pr->snap->meta.index == snapshot->index &&
            pr->snap->meta.term == snapshot->term) {
            // Back to probing: it proves again that it needs a snapshot, and gets the latest.
            zkv_raft_pr_become_probe (pr, pr->match + 1);
            zkv_raft_send_append (self, pr, false);
        }
    }
}

void
zkv_raft_want_snapshot (zkv_raft_t *self, uint64_t floor)
{
    if (self->snap && self->snap->meta.index >= floor)
        return; // ours will do: the next probe's refusal starts the transfer
    if (self->applied < floor || self->applied <= self->log.offset)
        return; // none can be taken at or above floor yet: a later refusal asks again
    if (self->want_asked && self->want_wait < self->cfg.election_ticks)
        return; // asked recently: the caller may still be taking it
    self->want_snap = true;
    self->want_asked = true;
    self->want_wait = 0;
}

void
zkv_raft_pr_start_snapshot (zkv_raft_t *self, zkv_raft_progress_t *pr)
{
    assert (self->snap && self->snap->meta.index == self->log.offset);
    zkv_raft_snap_unref (&pr->snap);
    pr->state = ZKV_PR_SNAPSHOT;
    pr->snap = zkv_raft_snap_ref (self->snap);
    if (self->snap->meta.index > pr->sent_max)
        pr->sent_max = self->snap->meta.index;
    pr->snap_hint = 0;
    pr->snap_max = 0;
    pr->snap_resends = 0;
    pr->probe_sent = false;
    pr->inflight_count = 0;
    pr->inflight_head = 0;
    pr->inflight_bytes = 0;
    s_next_chunk (self, pr, 0);
}

void
zkv_raft_pr_snapshot_tick (zkv_raft_t *self, zkv_raft_progress_t *pr)
{
    // One chunk in flight; if no answer came for a heartbeat period, send it again (or the
    // offset the follower asked for out of turn: it restarted, or a newer transfer began).
    // Streaming: the follower's caller writes (and syncs) each chunk before it answers, and
    // a chunk may be large: retransmitting it every heartbeat only queues copies there.
    uint32_t wait = self->cfg.heartbeat_ticks;
    if (self->cfg.snapshot_stream && !pr->snap_req && wait < self->cfg.election_ticks / 2)
        wait = self->cfg.election_ticks / 2;
    // A follower that answers nothing (stopped, cut off, a link far slower than the chunks)
    // would get a copy of the chunk at each wait, and the copies queue on the way to it: the
    // wait doubles with each unanswered resend, up to 8 times, so a silent follower holds a
    // few chunks of the leader's memory, not one per wait.
    wait <<= pr->snap_resends < 3 ? pr->snap_resends : 3;
    if (pr->snap_wait < wait)
        return;
    uint64_t offset = pr->snap_hint ? pr->snap_hint - 1 : pr->snap_offset;
    pr->snap_hint = 0;
    if (!pr->snap_req)
        pr->snap_resends++;
    s_next_chunk (self, pr, offset); // streaming: also when the caller did not answer
}

void
zkv_raft_on_install_snapshot_reply (zkv_raft_t *self, const zkv_install_snapshot_reply_t *m)
{
    if (self->role != ZKV_ROLE_LEADER)
        return;
    zkv_raft_progress_t *pr = &self->prs[zkv_raft_voter_slot (self, m->from)];
    pr->recent_active = true;
    if (pr->state != ZKV_PR_SNAPSHOT || m->last_index != pr->snap->meta.index)
        return; // about another transfer
    pr->snap_resends = 0; // it answers
    if (m->next_offset == UINT64_MAX && !m->done) {
        // Refused: below the follower's own snapshot (its state is missing). Its refusal of
        // the next probe says which snapshot it needs.
        zkv_raft_pr_become_probe (pr, pr->match + 1);
        pr->behind = false; // or the probe would be this snapshot again
        zkv_raft_send_append (self, pr, false);
        return;
    }
    // Streaming: the follower cannot have more than we sent in this transfer (it starts a
    // stream over at our chunk 0), but it may have more than the chunk in flight: a stale
    // reply may have sent us back (snap_hint).
    uint64_t total = self->cfg.snapshot_stream ? pr->snap_max : pr->snap->data.len;
    if (m->done) {
        // The follower holds the state through last_index (committed, so it matches ours).
        if (m->last_index > pr->match)
            pr->match = m->last_index;
        zkv_raft_pr_become_probe (pr, pr->match + 1);
        pr->behind = false;
        pr->short_once = false;
        zkv_raft_maybe_commit (self);
        zkv_raft_send_append (self, pr, false);
        return;
    }
    if (m->next_offset > total)
        return; // bogus
    if (m->next_offset > pr->snap_offset) {
        pr->snap_hint = 0;
        s_next_chunk (self, pr, m->next_offset);
    } else
        pr->snap_hint = m->next_offset + 1; // maybe stale: act on it only at the retry
}

// --- follower side ----------------------------------------------------------------------------

void
zkv_raft_drop_incoming (zkv_raft_t *self)
{
    free ((void *)self->in_chunk.data);
    self->in_chunk = (zkv_raft_chunk_t){0};
    self->in_pend = false;
    self->in_next = 0;
    zkv_bytes_free (&self->in_buf);
    self->in_cap = 0;
    self->in_index = 0;
    self->in_term = 0;
    self->in_total = 0;
}

// Makes snap (received whole) the node's snapshot and the log follow it.
static void
s_install_snap (zkv_raft_t *self, zkv_raft_snap_t *snap)
{
    uint64_t index = snap->meta.index, term = snap->meta.term;
    zkv_raft_snap_unref (&self->snap);
    self->snap = snap;

    // §7 / Figure 13 steps 6-7: keep the entries after the snapshot if our log agrees at its
    // last entry, otherwise the whole log goes.
    uint64_t t;
    if (zkv_raft_log_term (&self->log, index, &t) == 0 && t == term) {
        if (index > self->log.offset)
            zkv_raft_log_compact (&self->log, index);
    } else {
        // Our entries after index conflict with the leader's log (Log Matching), so none is
        // committed: those the caller may hold are truncated (zkv_raft_ready emits that in
        // a ready of its own, before the snapshot). Entries at or below index are harmless:
        // boot skips what a snapshot covers.
        zkv_raft_drop_acks_from (self, index + 1);
        uint64_t held = self->log.stable;
        if (self->rd_out && self->rd_last > held)
            held = self->rd_last;
        if (held > index && (!self->truncate_from || index + 1 < self->truncate_from))
            self->truncate_from = index + 1;
        if (self->rd_out && self->rd_last > index)
            self->rd_last = index;
        zkv_raft_log_reset (&self->log, index, term);
    }
    if (index > self->compact_to)
        self->compact_to = index;
    if (index > self->commit) // (above only when the state went missing: need_snap)
        self->commit = index;
    self->applied = index;
    self->need_snap = false;
    self->missing = false;
    self->snap_pending = true;
    self->snap_apply = true;
}

static void
s_install (zkv_raft_t *self)
{
    zkv_raft_snap_t *snap = zkv_raft_alloc (sizeof *snap);
    snap->refs = 1;
    snap->meta.index = self->in_index;
    snap->meta.term = self->in_term;
    snap->data = self->in_buf; // moved
    self->in_buf.data = NULL;
    self->in_buf.len = 0;
    zkv_raft_drop_incoming (self);
    s_install_snap (self, snap);
}

static void
s_reply (zkv_raft_t *self, const zkv_install_snapshot_t *m, uint64_t next_offset, bool done)
{
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_INSTALL_SNAPSHOT_REPLY, m->from);
    zkv_install_snapshot_reply_t *r = &msg->u.install_snapshot_reply;
    r->last_index = m->last_index;
    r->next_offset = next_offset;
    r->done = done;
}

static void
s_reply_to (zkv_raft_t *self, uint64_t to, uint64_t last_index, uint64_t next_offset, bool done)
{
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_INSTALL_SNAPSHOT_REPLY, to);
    zkv_install_snapshot_reply_t *r = &msg->u.install_snapshot_reply;
    r->last_index = last_index;
    r->next_offset = next_offset;
    r->done = done;
}

// Streaming: a chunk is handed to the caller only in order, one at a time; retransmits of it
// meanwhile are dropped (the acknowledgement follows the advance).
static void
s_on_stream_chunk (zkv_raft_t *self, const zkv_install_snapshot_t *m)
{
    if (!self->missing && m->last_index <= self->commit) {
        // We hold that state already (in our log after our own state): a stream in progress
        // is abandoned, its staged bytes unused.
        if (self->need_snap) {
            zkv_raft_drop_incoming (self);
            self->need_snap = false;
        }
        s_reply (self, m, m->offset + m->data.len, true);
        return;
    }
    if (self->missing && m->last_index < self->log.offset) {
        // Our state is missing and this snapshot is older than our own: installing it would
        // drop our entries after it, which we acknowledged (a committed one could be lost).
        s_reply (self, m, UINT64_MAX, false);
        return;
    }
    bool same = self->in_index == m->last_index && self->in_term == m->last_term;
    bool writing = same && (self->in_pend || (self->rd_out && self->rd_has_chunk &&
                                              self->rd_chunk.snapshot.index == self->in_index &&
                                              self->rd_chunk.snapshot.term == self->in_term));
    if (writing)
        return; // a retransmit of the chunk being written
    if (!same || m->offset == 0) {
        if (m->offset != 0) {
            s_reply (self, m, 0, false); // a transfer we do not hold: start it over
            return;
        }
        // Offset 0 always starts the stream over, even of the snapshot we hold part of: a
        // new transfer (a new leader's, or after a probe) starts at 0 and its leader would
        // not follow us to our resume offset, past what it sent. A chunk of the old stream
        // still in the caller's hands is ignored at advance.
        zkv_raft_drop_incoming (self);
        self->in_index = m->last_index;
        self->in_term = m->last_term;
    }
    if (m->offset != self->in_next) {
        s_reply (self, m, self->in_next, false); // resume where we are
        return;
    }
    if (m->data.len == 0 && !m->done)
        return; // makes no progress: bogus
    self->in_chunk.snapshot.index = m->last_index;
    self->in_chunk.snapshot.term = m->last_term;
    self->in_chunk.offset = m->offset;
    zkv_bytes_t copy;
    zkv_bytes_set (&copy, m->data.data, m->data.len);
    self->in_chunk.data = copy.data;
    self->in_chunk.len = copy.len;
    self->in_chunk.done = m->done;
    self->in_from = m->from;
    self->in_pend = true;
}

void
zkv_raft_chunk_persisted (zkv_raft_t *self)
{
    zkv_raft_chunk_t *c = &self->rd_chunk;
    assert (self->rd_has_chunk && !self->rd_out);
    if (c->snapshot.index == self->in_index && c->snapshot.term == self->in_term &&
        c->offset == self->in_next) {
        self->in_next += c->len;
        if (!c->done)
            s_reply_to (self, self->rd_chunk_from, c->snapshot.index, self->in_next, false);
        else {
            uint64_t total = self->in_next;
            zkv_raft_drop_incoming (self);
            s_install_snap (self, zkv_raft_snap_new (c->snapshot.index, c->snapshot.term, NULL, 0));
            s_reply_to (self, self->rd_chunk_from, c->snapshot.index, total, true);
        }
    }
    free ((void *)c->data);
    *c = (zkv_raft_chunk_t){0};
    self->rd_has_chunk = false;
}

void
zkv_raft_stream_free (zkv_raft_t *self)
{
    free ((void *)self->rd_chunk.data);
    self->rd_chunk = (zkv_raft_chunk_t){0};
    self->rd_has_chunk = false;
    free (self->chunk_reqs);
    self->chunk_reqs = NULL;
    self->n_chunk_reqs = 0;
    free (self->rd_chunk_reqs);
    self->rd_chunk_reqs = NULL;
}

void
zkv_raft_on_install_snapshot (zkv_raft_t *self, const zkv_install_snapshot_t *m)
{
    if (self->role == ZKV_ROLE_LEADER)
        return; // two leaders in one term cannot happen (§5.2)
    if (zkv_raft_second_leader (self, m->from))
        return;
    if (self->cfg.snapshot_stream) {
        // Network input: check before trusting any of it (a stream's size is not announced).
        if (m->last_index == 0 || m->last_term == 0 || m->last_term > m->term ||
            m->offset > S_MAX_SNAPSHOT_BYTES)
            return;
        if (self->role != ZKV_ROLE_FOLLOWER)
            zkv_raft_become_follower (self, self->term, m->from);
        self->leader = m->from;
        self->election_elapsed = 0;
        s_on_stream_chunk (self, m);
        return;
    }
    // Network input: check before trusting any of it.
    if (m->last_index == 0 || m->last_term == 0 || m->last_term > m->term ||
        m->total_size > S_MAX_SNAPSHOT_BYTES || m->offset > m->total_size ||
        m->data.len > m->total_size - m->offset)
        return;
    if (self->role != ZKV_ROLE_FOLLOWER)
        zkv_raft_become_follower (self, self->term, m->from);
    self->leader = m->from;
    self->election_elapsed = 0;

    // We already hold the state through our commit index: nothing to install.
    if (m->last_index <= self->commit) {
        s_reply (self, m, m->total_size, true);
        return;
    }
    if (self->in_index != m->last_index || self->in_term != m->last_term ||
        self->in_total != m->total_size) {
        if (m->offset != 0) {
            s_reply (self, m, 0, false); // a transfer we do not hold: start it over
            return;
        }
        zkv_raft_drop_incoming (self); // a newer (or different) snapshot restarts the transfer
        self->in_index = m->last_index;
        self->in_term = m->last_term;
        self->in_total = m->total_size;
    }
    if (m->offset != self->in_buf.len) {
        s_reply (self, m, self->in_buf.len, false); // resume where we are
        return;
    }
    if (m->data.len) {
        size_t need = self->in_buf.len + m->data.len;
        if (need > self->in_cap) {
            size_t cap = self->in_cap ? self->in_cap : 4096;
            while (cap < need)
                cap *= 2;
            if (cap > self->in_total)
                cap = (size_t)self->in_total;
            self->in_buf.data = zkv_raft_realloc (self->in_buf.data, cap);
            self->in_cap = cap;
        }
        memcpy (self->in_buf.data + self->in_buf.len, m->data.data, m->data.len);
        self->in_buf.len = need;
    }
    if (self->in_buf.len < self->in_total) {
        if (m->done) {
            zkv_raft_drop_incoming (self); // claims to be the end but is short: start over
            s_reply (self, m, 0, false);
            return;
        }
        s_reply (self, m, self->in_buf.len, false);
        return;
    }
    s_install (self);
    s_reply (self, m, m->total_size, true);
}
