// Raft log replication: AppendEntries out and in, per-follower progress, the commit rule (§5.3).
//
// Progress follows etcd raft: a follower is PROBEd (one message in flight) until we know where
// our logs meet, then REPLICATEd (pipelined, optimistic next index, bounded in-flight window),
// or sent a SNAPSHOT when what it needs was compacted (§7).
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>

// Heartbeats with messages in flight and no progress before we assume they were lost.
#define S_STALL_HEARTBEATS 3

static void
s_inflight_reset (zkv_raft_progress_t *pr)
{
    pr->inflight_head = 0;
    pr->inflight_count = 0;
    pr->inflight_bytes = 0;
    pr->stall = 0;
}

static void
s_inflight_add (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t last, uint64_t bytes)
{
    size_t cap = self->cfg.max_inflight_msgs;
    assert (pr->inflight_count < cap);
    size_t slot = (pr->inflight_head + pr->inflight_count) % cap;
    pr->inflight[slot] = last;
    pr->inflight_sizes[slot] = bytes;
    pr->inflight_bytes += bytes;
    pr->inflight_count++;
}

// Room for one more AppendEntries to pr: within both windows (one message always fits an empty
// window, however big its entries).
static bool
s_inflight_room (const zkv_raft_t *self, const zkv_raft_progress_t *pr)
{
    if (pr->inflight_count >= self->cfg.max_inflight_msgs)
        return false;
    return !self->cfg.max_inflight_bytes || pr->inflight_count == 0 ||
           pr->inflight_bytes < self->cfg.max_inflight_bytes;
}

static void
s_inflight_free_to (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t upto)
{
    size_t cap = self->cfg.max_inflight_msgs;
    while (pr->inflight_count && pr->inflight[pr->inflight_head] <= upto) {
        pr->inflight_bytes -= pr->inflight_sizes[pr->inflight_head];
        pr->inflight_head = (pr->inflight_head + 1) % cap;
        pr->inflight_count--;
    }
}

void
zkv_raft_pr_become_probe (zkv_raft_progress_t *pr, uint64_t next)
{
    zkv_raft_snap_unref (&pr->snap);
    pr->state = ZKV_PR_PROBE;
    pr->next = next > pr->match ? next : pr->match + 1;
    pr->probe_sent = false;
    s_inflight_reset (pr);
}

static void
s_become_replicate (zkv_raft_progress_t *pr)
{
    zkv_raft_snap_unref (&pr->snap);
    pr->behind = false;
    pr->short_once = false;
    pr->state = ZKV_PR_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    s_inflight_reset (pr);
}

void
zkv_raft_reset_progress (zkv_raft_t *self)
{
    // Figure 2: nextIndex starts after the leader's last entry, matchIndex at 0.
    uint64_t next = zkv_raft_log_last_index (&self->log) + 1;
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        zkv_raft_progress_t *pr = &self->prs[i];
        pr->match = 0;
        pr->sent_max = 0;
        pr->recent_active = false;
        pr->read_acked = 0;
        pr->behind = false;
        pr->short_once = false;
        zkv_raft_pr_become_probe (pr, next);
    }
}

void
zkv_raft_free_progress (zkv_raft_t *self)
{
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        zkv_raft_snap_unref (&self->prs[i].snap);
        self->prs[i].state = ZKV_PR_PROBE;
    }
}

// Queues an AppendEntries after prev carrying up to the batching limits of entries (none for
// a heartbeat). Returns the last index it carries, or ZKV_ECOMPACTED when prev's term is gone.
static int
s_append_msg (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t prev, bool entries,
              uint64_t *last_p, uint64_t *bytes_p)
{
    uint64_t prev_term;
    int rc = zkv_raft_log_term (&self->log, prev, &prev_term);
    if (rc)
        return rc;
    uint64_t last = zkv_raft_log_last_index (&self->log);
    size_t n = 0, bytes = 0;
    if (entries) {
        for (uint64_t i = prev + 1; i <= last && n < self->cfg.max_entries_per_msg; i++) {
            size_t len = zkv_raft_log_entry (&self->log, i)->data.len;
            if (n > 0 && bytes + len > self->cfg.max_bytes_per_msg)
                break; // at least one entry goes, however big
            bytes += len;
            n++;
        }
    }
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_APPEND_ENTRIES, pr->id);
    zkv_append_entries_t *m = &msg->u.append_entries;
    m->prev_log_index = prev;
    m->prev_log_term = prev_term;
    m->commit = self->commit;
    m->ctx = self->read_round; // ReadIndex: a reply of this term echoing it confirms the round
    if (n) {
        m->entries.items = zkv_raft_alloc (n * sizeof (zkv_entry_t));
        m->entries.count = n;
        for (size_t i = 0; i < n; i++)
            zkv_entry_copy (zkv_raft_log_entry (&self->log, prev + 1 + i), &m->entries.items[i]);
    }
    *last_p = prev + n;
    if (bytes_p)
        *bytes_p = bytes;
    if (prev + n > pr->sent_max)
        pr->sent_max = prev + n;
    return 0;
}

// What the follower needs next (prev < our snapshot index) was compacted away (§7). A snapshot
// only if it proved it is behind the snapshot; else first a probe at the snapshot's index.
static void
s_compacted (zkv_raft_t *self, zkv_raft_progress_t *pr)
{
    if (pr->behind) {
        zkv_raft_pr_start_snapshot (self, pr);
        return;
    }
    zkv_raft_pr_become_probe (pr, self->log.offset + 1);
    uint64_t sent;
    int rc = s_append_msg (self, pr, pr->next - 1, true, &sent, NULL);
    assert (rc == 0); // the term of the snapshot's index is known
    (void)rc;
    pr->probe_sent = true;
}

void
zkv_raft_send_heartbeat (zkv_raft_t *self, zkv_raft_progress_t *pr)
{
    // A heartbeat at match always fits the follower's log and carries the commit index as
    // far as it is known to hold the entries; where match's term was compacted away, prev 0
    // (term 0) keeps the follower quiet without verifying.
    uint64_t prev = pr->match, t, sent;
    if (zkv_raft_log_term (&self->log, prev, &t))
        prev = 0;
    s_append_msg (self, pr, prev, false, &sent, NULL);
}

void
zkv_raft_send_append (zkv_raft_t *self, zkv_raft_progress_t *pr, bool heartbeat)
{
    if (pr->id == self->cfg.id)
        return;
    uint64_t last = zkv_raft_log_last_index (&self->log);
    uint64_t sent;
    switch (pr->state) {
    case ZKV_PR_SNAPSHOT:
        if (heartbeat)
            zkv_raft_pr_snapshot_tick (self, pr);
        return;

    case ZKV_PR_PROBE:
        // One probe in flight; a heartbeat resends it in case it or its reply was lost, without
        // its entries: a follower that answers nothing (stopped, or on a slow link) would
        // otherwise get up to max_batch_bytes more of them at every heartbeat, queued on the
        // way to it in the leader's memory. Its answer to the empty probe brings the entries.
        if (pr->probe_sent && !heartbeat)
            return;
        if (s_append_msg (self, pr, pr->next - 1, !heartbeat, &sent, NULL) == ZKV_ECOMPACTED) {
            s_compacted (self, pr);
            return;
        }
        pr->probe_sent = true;
        return;

    case ZKV_PR_REPLICATE:
        if (heartbeat && !(pr->inflight_count == 0 && pr->next <= last)) {
            // (With nothing in flight and entries to send, the appends below are the
            // heartbeat: a defensive path, every send site normally drains the backlog.)
            if (pr->inflight_count && ++pr->stall >= S_STALL_HEARTBEATS) {
                // No progress for a while with messages out: assume they were lost.
                zkv_raft_pr_become_probe (pr, pr->match + 1);
                zkv_raft_send_append (self, pr, false);
                return;
            }
            zkv_raft_send_heartbeat (self, pr);
            return;
        }
        // Pipelining: send what is new at once, within the in-flight window.
        while (pr->next <= last && s_inflight_room (self, pr)) {
            uint64_t bytes = 0;
            if (s_append_msg (self, pr, pr->next - 1, true, &sent, &bytes) == ZKV_ECOMPACTED) {
                s_compacted (self, pr);
                return;
            }
            s_inflight_add (self, pr, sent, bytes);
            pr->next = sent + 1;
        }
        return;
    }
}

void
zkv_raft_broadcast (zkv_raft_t *self, bool heartbeat)
{
    for (size_t i = 0; i < self->cfg.n_voters; i++)
        zkv_raft_send_append (self, &self->prs[i], heartbeat);
}

bool
zkv_raft_maybe_commit (zkv_raft_t *self)
{
    if (self->role != ZKV_ROLE_LEADER)
        return false;
    size_t n = self->cfg.n_voters;
    uint64_t match[n];
    for (size_t i = 0; i < n; i++) {
        // The leader counts its own entries only once they are durable (§10.2.1).
        match[i] = self->prs[i].id == self->cfg.id ? self->log.stable : self->prs[i].match;
    }
    for (size_t i = 1; i < n; i++) { // insertion sort, descending
        uint64_t v = match[i];
        size_t j = i;
        while (j > 0 && match[j - 1] < v) {
            match[j] = match[j - 1];
            j--;
        }
        match[j] = v;
    }
    uint64_t index = match[zkv_raft_quorum (self) - 1];
    // Figure 8, §5.4.2: only an entry of the current term is committed by counting replicas.
    if (index > self->commit && zkv_raft_log_term_or0 (&self->log, index) == self->term) {
        // What commits leaves the uncommitted budget (entries of earlier terms were never in it:
        // the count saturates at 0).
        for (uint64_t i = self->commit + 1; i <= index && self->uncommitted; i++) {
            const zkv_entry_t *e = zkv_raft_log_entry (&self->log, i);
            uint64_t len = e ? e->data.len : 0;
            self->uncommitted = len < self->uncommitted ? self->uncommitted - len : 0;
        }
        self->commit = index;
        zkv_raft_reads_update (self); // reads waiting for a commit of this term
        return true;
    }
    return false;
}

// Checks an AppendEntries' entries are well formed: contiguous after prev, terms never
// decreasing and never above the sender's term. Network input: checked, never asserted.
static bool
s_entries_valid (const zkv_append_entries_t *m)
{
    uint64_t term = m->prev_log_term;
    if (m->prev_log_term > m->term || (m->prev_log_index == 0 && m->prev_log_term != 0))
        return false;
    for (size_t i = 0; i < m->entries.count; i++) {
        const zkv_entry_t *e = &m->entries.items[i];
        if (e->index != m->prev_log_index + 1 + i || e->term < term || e->term > m->term ||
            e->term == 0)
            return false;
        term = e->term;
    }
    return true;
}

// True if m names a term for an index at or below our commit index that differs from the one
// our log holds there (compacted indexes are not checked).
static bool
s_contradicts_commit (zkv_raft_t *self, const zkv_append_entries_t *m)
{
    uint64_t t = 0;
    if (m->prev_log_index > 0 && m->prev_log_index <= self->commit &&
        zkv_raft_log_term (&self->log, m->prev_log_index, &t) == 0 && t != m->prev_log_term)
        return true;
    for (size_t i = 0; i < m->entries.count; i++) {
        const zkv_entry_t *e = &m->entries.items[i];
        if (e->index > self->commit)
            break;
        if (zkv_raft_log_term (&self->log, e->index, &t) == 0 && t != e->term)
            return true;
    }
    return false;
}

void
zkv_raft_on_append (zkv_raft_t *self, const zkv_append_entries_t *m)
{
    if (self->role == ZKV_ROLE_LEADER)
        return; // two leaders in one term cannot happen (§5.2); ignore rather than trust it
    if (!s_entries_valid (m))
        return;
    if (zkv_raft_second_leader (self, m->from))
        return;
    if (self->role != ZKV_ROLE_FOLLOWER)
        zkv_raft_become_follower (self, self->term, m->from);
    self->leader = m->from;
    self->election_elapsed = 0;

    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_APPEND_ENTRIES_REPLY, m->from);
    zkv_append_entries_reply_t *r = &msg->u.append_entries_reply;
    r->ctx = m->ctx;
    uint64_t last = zkv_raft_log_last_index (&self->log);

    if (self->need_snap && !self->missing && self->term != self->in_stream_term) {
        // The stream came from an earlier term's leader: abandon it (the caller staged it and
        // still has its old state) and follow this leader's log.
        zkv_raft_drop_incoming (self);
        self->need_snap = false;
    }
    if (self->need_snap) {
        // A stream is being installed, or our state is missing: no entry can be applied
        // before a snapshot. Refusing is always safe; conflict_term UINT64_MAX asks the leader
        // for its snapshot (no real term is that high, and a stale-term refusal says 0: never
        // mistaken), conflict_index names the lowest one we can use.
        r->success = false;
        r->conflict_term = UINT64_MAX;
        r->conflict_index = self->missing ? self->log.offset : 0;
        r->match_index = m->prev_log_index;
        return;
    }

    // Entries up to our commit index match any true leader's (Leader Completeness, §5.4). One
    // that does not, where we still hold it, comes from a peer that is wrong (a bug, a bit
    // flip, a forgery): nothing of the message is taken, the refusal sends a true leader back
    // to what we know is committed, and it is counted.
    if (s_contradicts_commit (self, m)) {
        self->commit_conflicts++;
        r->success = false;
        r->conflict_term = 0;
        r->conflict_index = self->commit + 1;
        r->match_index = m->prev_log_index;
        return;
    }

    // Figure 2, receiver step 2: reject unless our log holds prev_log_index at prev_log_term.
    // A prev at or below our commit index was checked above where we hold it (it may be
    // compacted here).
    if (m->prev_log_index > self->commit) {
        uint64_t t = 0;
        bool fail = false;
        if (m->prev_log_index > last) {
            // Fast backtracking (§5.3, "the follower can include the term of the conflicting
            // entry"): our log is too short, retry from its end.
            r->conflict_term = 0;
            r->conflict_index = last + 1;
            fail = true;
        } else if (zkv_raft_log_term (&self->log, m->prev_log_index, &t) == 0 &&
                   t != m->prev_log_term) {
            r->conflict_term = t;
            r->conflict_index = zkv_raft_log_first_of_term (&self->log, m->prev_log_index);
            fail = true;
        }
        if (fail) {
            // match_index echoes the rejected prev so the leader can tell stale rejections.
            r->success = false;
            r->match_index = m->prev_log_index;
            return;
        }
    }

    // Figure 2, receiver steps 3 and 4: drop a conflicting suffix, append what is new.
    for (size_t i = 0; i < m->entries.count; i++) {
        const zkv_entry_t *e = &m->entries.items[i];
        if (e->index <= self->commit)
            continue; // committed here, hence identical
        last = zkv_raft_log_last_index (&self->log);
        if (e->index <= last) {
            if (zkv_raft_log_term_or0 (&self->log, e->index) == e->term)
                continue;
            zkv_raft_note_truncate (self, e->index);
            zkv_raft_log_truncate (&self->log, e->index);
        }
        zkv_raft_log_append (&self->log, e);
    }

    // Figure 2, receiver step 5, bounded by what this message verified.
    uint64_t last_new = m->prev_log_index + m->entries.count;
    if (m->commit > self->commit) {
        uint64_t commit = m->commit < last_new ? m->commit : last_new;
        if (commit > self->commit)
            self->commit = commit;
    }
    r->success = true;
    // Everything up to our commit index matches the leader too.
    r->match_index = last_new > self->commit ? last_new : self->commit;
}

void
zkv_raft_on_append_reply (zkv_raft_t *self, const zkv_append_entries_reply_t *m)
{
    if (self->role != ZKV_ROLE_LEADER)
        return;
    int slot = zkv_raft_voter_slot (self, m->from);
    zkv_raft_progress_t *pr = &self->prs[slot];
    pr->recent_active = true;
    zkv_raft_read_ack (self, pr, m->ctx); // any reply of this term confirms the round
    uint64_t last = zkv_raft_log_last_index (&self->log);

    if (m->success) {
        if (m->match_index > last)
            return; // cannot match what we do not have: bogus
        // Replies are matched to what was sent: a follower holds no more of our log than we
        // sent it in this term (a follower's commit index beyond that, which it may report,
        // is taken no further: the next append confirms the rest).
        uint64_t match = m->match_index < pr->sent_max ? m->match_index : pr->sent_max;
        if (match > pr->match) {
            pr->match = match;
            pr->stall = 0;
        }
        switch (pr->state) {
        case ZKV_PR_SNAPSHOT:
            // The follower got there another way (or finished installing): resume appends.
            if (pr->match >= pr->snap->meta.index)
                s_become_replicate (pr);
            break;
        case ZKV_PR_PROBE:
            // An answer to the probe in flight (or newer): the logs meet at match.
            if (match + 1 >= pr->next)
                s_become_replicate (pr);
            break;
        case ZKV_PR_REPLICATE:
            s_inflight_free_to (self, pr, match);
            if (pr->next <= pr->match)
                pr->next = pr->match + 1;
            break;
        }
        zkv_raft_maybe_commit (self);
        zkv_raft_send_append (self, pr, false);
        return;
    }

    // A rejection: m->match_index is the prev index that was refused.
    uint64_t rejected = m->match_index;
    if (pr->state == ZKV_PR_SNAPSHOT)
        return;
    if (self->cfg.snapshot_stream && m->conflict_term == UINT64_MAX) {
        // Its state is missing (a rejoin after lost data) or being replaced: what it
        // acknowledged before may be gone, so it is believed to hold no more than its own
        // snapshot (conflict_index) until it says more.
        if (m->conflict_index < pr->match)
            pr->match = m->conflict_index;
        // It is installing a stream or its state is missing: only a snapshot helps, and one
        // at or above conflict_index (its own snapshot, when its state is missing). Without
        // one the heartbeat probes again (no ping-pong of appends), and our caller is asked
        // for a fresh one.
        if (self->snap && self->snap->meta.index >= m->conflict_index) {
            pr->behind = true;
            zkv_raft_pr_start_snapshot (self, pr);
            return;
        }
        if (pr->state == ZKV_PR_REPLICATE)
            zkv_raft_pr_become_probe (pr, pr->match + 1);
        zkv_raft_want_snapshot (self, m->conflict_index);
        return;
    }
    // A refusal of the probe in flight, or of a heartbeat at its match, that says its log ends
    // before what it acknowledged: it lost entries (its data was lost, and it rejoined empty or
    // with a snapshot older than them). What it acknowledged is believed no more (commit never
    // goes back: this only retracts a belief), or every probe and heartbeat would start past
    // its log and it would never catch up. (A refusal overtaken by a later acknowledgement looks
    // the same: believing it costs one probe more.)
    bool current = pr->state == ZKV_PR_PROBE ? rejected + 1 == pr->next : rejected == pr->match;
    if (current && m->conflict_term == 0 && m->conflict_index > 0 &&
        m->conflict_index <= pr->match && rejected <= last) {
        pr->match = m->conflict_index - 1;
        self->regressions++;
        zkv_raft_pr_become_probe (pr, m->conflict_index);
        zkv_raft_send_append (self, pr, false);
        return;
    }
    if (pr->state == ZKV_PR_REPLICATE && rejected <= pr->match)
        return; // stale: a later message already matched beyond it
    if (pr->state == ZKV_PR_PROBE && rejected + 1 != pr->next)
        return; // stale: not the probe in flight
    if (rejected == 0 || rejected > last)
        return; // bogus: index 0 always matches; we never sent past our log
    uint64_t next = m->conflict_index;
    if (m->conflict_term) {
        // Jump past our entries of the conflicting term if we have that term (§5.3).
        uint64_t l = zkv_raft_log_last_of_term (&self->log, m->conflict_term, rejected);
        if (l)
            next = l + 1;
    }
    if (next > rejected)
        next = rejected; // retry strictly below the refused prev
    if (next == 0)
        next = 1;
    // The answer to our probe at or below the snapshot's index (PROBE: this is the probe in
    // flight, not a stale answer): the follower cannot follow our log without the snapshot if
    // its entry there conflicts, or if its log is too short twice in a row: the first time,
    // appends sent earlier may still be on their way, and the heartbeat probes again.
    if (pr->state == ZKV_PR_PROBE && rejected <= self->log.offset) {
        if (m->conflict_term == 0 && !pr->short_once) {
            pr->short_once = true;
            return; // the probe stays in flight until the heartbeat resends it
        }
        zkv_raft_pr_become_probe (pr, next);
        pr->behind = true;
        zkv_raft_send_append (self, pr, false);
        return;
    }
    zkv_raft_pr_become_probe (pr, next);
    zkv_raft_send_append (self, pr, false);
}
