// The group driver's snapshots: when to take one, and the transfers that stream one to a
// follower (zkv_raft.h, "streaming mode").
//
// Taking a snapshot costs a pass over the state machine's data when it is sent, so one is taken
// only when the log passed its size (then not again before a pause: a log that stays long, say
// with a lagging follower, does not ask for one at every ready), or every so many entries, or
// when a follower needs one newer than the latest (its own state is missing and its floor is
// above ours). A transfer reads a view of the state at the snapshot's index while the state
// machine keeps applying; a view is shared by the transfers of that snapshot and released with
// the last of them, or after view_idle_ms when none reads it (a LevelDB view pins old versions
// on disk). A transfer that is done, or not
// asked for a chunk for stream_idle_ms, is released; a late request starts a new one over the
// latest view, or Raft is told the snapshot is unavailable and starts the transfer over.
#include "zkv_replica_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void
s_view_unref (zkv_replica_t *self, zkv_rep_view_t **view_p)
{
    zkv_rep_view_t *v = *view_p;
    *view_p = NULL;
    if (v && --v->refs == 0) {
        self->sm->ops->view_close (self->sm->impl, v->view);
        free (v);
    }
}

static void
s_stream_drop (zkv_replica_t *self, zkv_rep_stream_t *st)
{
    if (st->reader)
        self->sm->ops->reader_close (self->sm->impl, st->reader);
    st->reader = NULL;
    s_view_unref (self, &st->view);
    st->to = 0;
}

void
zkv_rep_streams_drop (zkv_replica_t *self)
{
    for (size_t i = 0; self->streams && i < self->cfg.max_streams; i++)
        s_stream_drop (self, &self->streams[i]);
    s_view_unref (self, &self->latest);
    zkv_rep_saves_drop (self);
}

void
zkv_rep_streams_expire (zkv_replica_t *self)
{
    uint64_t idle = zkv_rep_ticks_of (self, self->cfg.stream_idle_ms);
    for (size_t i = 0; i < self->cfg.max_streams; i++) {
        zkv_rep_stream_t *st = &self->streams[i];
        if (st->to && self->ticks - st->used >= idle)
            s_stream_drop (self, st);
    }
    zkv_rep_saves_expire (self);
    // The latest view that no transfer reads goes after view_idle_ms: a LevelDB view keeps
    // every version it sees on disk, so holding it would keep deleted shards and overwritten
    // values there until the next snapshot. A later transfer takes a fresh snapshot instead.
    zkv_rep_view_t *v = self->latest;
    if (v && v->refs == 1 &&
        self->ticks - v->used >= zkv_rep_ticks_of (self, self->cfg.view_idle_ms))
        s_view_unref (self, &self->latest);
}

// Makes a view of the state as it is now the latest view, for the snapshot (index, term).
static zkv_rep_view_t *
s_view_latest (zkv_replica_t *self, uint64_t index, uint64_t term, int *err)
{
    void *view = self->sm->ops->view_open (self->sm->impl, err);
    if (!view)
        return NULL;
    zkv_rep_view_t *v = (zkv_rep_view_t *)calloc (1, sizeof *v);
    if (!v)
        abort (); // out of memory aborts (STYLE.md)
    v->view = view;
    v->index = index;
    v->term = term;
    v->refs = 1;
    v->used = self->ticks;
    s_view_unref (self, &self->latest);
    self->latest = v;
    return v;
}

int
zkv_rep_snapshot_take (zkv_replica_t *self)
{
    zkv_sm_t *sm = self->sm;
    uint64_t applied = sm->ops->applied (sm->impl);
    int rc;
    if (self->cfg.raft.snapshot_stream) {
        // The state is the state machine's, durable on its own: the snapshot is (index, term),
        // and a view of the state now is what its transfers read.
        int err = 0;
        void *view = sm->ops->view_open (sm->impl, &err);
        if (!view)
            return err ? err : ZKV_EUNAVAILABLE;
        rc = zkv_raft_snapshot (self->raft, applied, NULL, 0);
        if (rc) {
            sm->ops->view_close (sm->impl, view);
            return rc;
        }
        uint64_t term = 0;
        zkv_raft_term_at (self->raft, applied, &term);
        zkv_rep_view_t *v = (zkv_rep_view_t *)calloc (1, sizeof *v);
        if (!v)
            abort ();
        *v = (zkv_rep_view_t){
            .view = view, .index = applied, .term = term, .refs = 1, .used = self->ticks};
        s_view_unref (self, &self->latest);
        self->latest = v;
    } else {
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = sm->ops->blob_write (sm->impl, &buf, &len);
        if (rc)
            return rc;
        rc = zkv_raft_snapshot (self->raft, applied, buf, len);
        free (buf);
        if (rc)
            return rc;
    }
    self->last_snapshot = applied;
    self->counters.snapshots_taken++;
    // A streamed snapshot is metadata over the state already stored: its size is the state's.
    if (self->cfg.raft.snapshot_stream)
        self->counters.snapshot_bytes = sm->ops->size ? sm->ops->size (sm->impl) : 0;
    else {
        size_t len = 0;
        (void)zkv_raft_snapshot_data (self->raft, &len);
        self->counters.snapshot_bytes = len;
    }
    return 0;
}

void
zkv_rep_snapshot_maybe (zkv_replica_t *self)
{
    if (self->failed || self->syncing || !self->usable)
        return;
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    uint64_t applied = self->sm->ops->applied (self->sm->impl);
    if (applied <= st.snapshot_index || applied <= self->last_snapshot)
        return; // nothing applied since the last one: it would compact nothing
    bool due = self->want_snapshot;
    if (self->cfg.snapshot_entries && applied >= self->last_snapshot + self->cfg.snapshot_entries)
        due = true;
    bool size_due = false;
    if (self->cfg.snapshot_bytes && self->ticks >= self->next_size_snapshot) {
        uint64_t bytes = st.log_bytes + (uint64_t)self->cfg.snapshot_entry_bytes *
                                            (st.last_index - st.snapshot_index);
        size_due = bytes >= self->cfg.snapshot_bytes;
    }
    if (!due && !size_due)
        return;
    int rc = zkv_rep_snapshot_take (self);
    if (size_due)
        self->next_size_snapshot =
            self->ticks + zkv_rep_ticks_of (self, self->cfg.snapshot_pause_ms);
    // ZKV_ECOMPACTED: a leader's newer snapshot arrived meanwhile; ZKV_EBUSY: one is being
    // installed. Anything else is the state machine's, which its view or blob reported.
    if (rc == 0)
        self->want_snapshot = false;
    else if (zkv_sm_store_error (rc))
        zkv_rep_fatal (self, "taking a snapshot", rc);
}

// The transfer to follower `to`, or NULL.
static zkv_rep_stream_t *
s_stream_find (zkv_replica_t *self, uint64_t to)
{
    for (size_t i = 0; i < self->cfg.max_streams; i++)
        if (self->streams[i].to == to)
            return &self->streams[i];
    return NULL;
}

// The snapshot a request names cannot be read here (this process did not take it, or no
// longer holds it, or its view failed). Take a fresh one when something was applied since, and
// let the transfer start over with it (zkv_raft_snapshot_unavailable); likewise when the request
// names an older snapshot than Raft's latest. Otherwise Raft's latest is exactly the state now:
// wait, Raft asks again and the next request reopens a view of it (never a tight loop of
// refusals within one ready loop).
static void
s_unavailable (zkv_replica_t *self, const zkv_raft_chunk_req_t *q)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    bool fresh = self->usable && self->sm->ops->applied (self->sm->impl) > st.snapshot_index &&
                 zkv_rep_snapshot_take (self) == 0;
    if (fresh || q->snapshot.index != st.snapshot_index || q->snapshot.term != st.snapshot_term)
        zkv_raft_snapshot_unavailable (self->raft, &q->snapshot);
}

// A new transfer of q's snapshot, or NULL when that snapshot cannot be read here.
static zkv_rep_stream_t *
s_stream_open (zkv_replica_t *self, const zkv_raft_chunk_req_t *q)
{
    zkv_rep_view_t *v = self->latest;
    if (!v || v->index != q->snapshot.index || v->term != q->snapshot.term) {
        // No view of it, but the state is exactly that snapshot's (nothing applied since, as
        // after a restart at the snapshot): a view of the state now is one.
        zkv_raft_status_t st;
        zkv_raft_status (self->raft, &st);
        v = NULL;
        int err = 0;
        if (self->usable && self->sm->ops->applied (self->sm->impl) == q->snapshot.index &&
            st.snapshot_index == q->snapshot.index && st.snapshot_term == q->snapshot.term)
            v = s_view_latest (self, q->snapshot.index, q->snapshot.term, &err);
        if (!v)
            return NULL;
    }
    zkv_rep_stream_t *st = s_stream_find (self, 0);
    if (!st)
        return NULL; // every slot busy: Raft asks again
    int err = 0;
    void *reader = self->sm->ops->reader_open (self->sm->impl, v->view, &err);
    if (!reader)
        return NULL;
    st->to = q->to;
    st->view = v;
    v->refs++;
    v->used = self->ticks;
    st->reader = reader;
    st->used = self->ticks;
    return st;
}

void
zkv_rep_chunk_requests (zkv_replica_t *self, const zkv_raft_chunk_req_t *reqs, size_t n)
{
    for (size_t i = 0; i < n && !self->failed; i++) {
        const zkv_raft_chunk_req_t *q = &reqs[i];
        zkv_rep_stream_t *st = s_stream_find (self, q->to);
        if (st && (st->view->index != q->snapshot.index || st->view->term != q->snapshot.term)) {
            s_stream_drop (self, st); // the follower moved on to another snapshot
            st = NULL;
        }
        if (!st)
            st = s_stream_open (self, q);
        if (!st) {
            s_unavailable (self, q);
            continue;
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        bool done = false;
        int rc = self->sm->ops->reader_read (self->sm->impl, st->reader, q->offset, q->max_bytes,
                                             &buf, &len, &done);
        if (rc == ZKV_EBUSY)
            continue; // not now: Raft asks again
        if (rc) {
            free (buf);
            // The view failed: no transfer reads it again (the next one reopens a view).
            if (st->view == self->latest)
                s_view_unref (self, &self->latest);
            s_stream_drop (self, st);
            if (zkv_sm_store_error (rc))
                zkv_rep_fatal (self, "reading a snapshot", rc);
            else
                s_unavailable (self, q);
            continue;
        }
        st->used = self->ticks;
        // ZKV_EINVAL: the transfer moved on meanwhile (Raft asks again if it needs to).
        if (zkv_raft_snapshot_chunk (self->raft, q->to, &q->snapshot, q->offset, buf, len, done) ==
            0) {
            self->counters.chunks_sent++;
            self->counters.snapshot_sent_bytes += len;
        }
        free (buf);
        // The last chunk went: release the transfer. A retransmit of it starts a new one over
        // the same view while that is the latest.
        if (done)
            s_stream_drop (self, st);
    }
}
