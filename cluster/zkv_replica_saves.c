// The group driver's saves: a client copying the group's state (zkv snapshot save), chunk by
// chunk, from the leader (docs/design.md, "Backup and restore").
//
// A save begins like a read: the request waits for a ReadIndex round (this node still leads,
// and has applied everything committed when the save began), then a view of the state machine
// is opened at the applied index, so the copy holds every write acknowledged before the save
// began. The view is the state machine's own (the one Raft's transfers read), so the group
// goes on applying while the client reads, and the bytes are the state machine's snapshot
// stream, which the driver never looks into. A save is kept until its last chunk is read, or
// until nobody asks for a chunk for stream_idle_ms (a view pins old data on disk); at most
// max_saves at once.
#include "zkv_replica_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void
s_save_drop (zkv_replica_t *self, zkv_rep_save_t *sv)
{
    zkv_sm_t *sm = self->sm;
    if (sv->reader)
        sm->ops->reader_close (sm->impl, sv->reader);
    if (sv->view)
        sm->ops->view_close (sm->impl, sv->view);
    zkv_bytes_free (&sv->states);
    memset (sv, 0, sizeof *sv);
}

void
zkv_rep_saves_drop (zkv_replica_t *self)
{
    for (size_t i = 0; self->saves && i < self->cfg.max_saves; i++)
        if (self->saves[i].id)
            s_save_drop (self, &self->saves[i]);
}

void
zkv_rep_saves_expire (zkv_replica_t *self)
{
    uint64_t idle = zkv_rep_ticks_of (self, self->cfg.stream_idle_ms);
    for (size_t i = 0; i < self->cfg.max_saves; i++) {
        zkv_rep_save_t *sv = &self->saves[i];
        if (sv->id && self->ticks - sv->used >= idle) {
            s_save_drop (self, sv);
            self->counters.saves_expired++;
        }
    }
}

static zkv_rep_save_t *
s_save_find (zkv_replica_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->cfg.max_saves; i++)
        if (self->saves[i].id == id)
            return &self->saves[i];
    return NULL;
}

// The answer to a save's request: one chunk of its stream, with what the client must know of
// the state it is a copy of.
static void
s_answer_chunk (zkv_replica_t *self, uint64_t handle, uint64_t client_id, uint64_t seq,
                zkv_rep_save_t *sv, uint64_t offset, size_t max)
{
    if (max == 0 || max > self->cfg.raft.snapshot_chunk_bytes)
        max = self->cfg.raft.snapshot_chunk_bytes;
    uint8_t *buf = NULL;
    size_t len = 0;
    bool done = false;
    int rc = self->sm->ops->reader_read (self->sm->impl, sv->reader, offset, max ? max : 1, &buf,
                                         &len, &done);
    if (rc) {
        free (buf);
        // A store error stops the node; anything else (an offset that is no chunk boundary,
        // ZKV_EBUSY) is the client's to retry, or to begin again.
        if (zkv_sm_store_error (rc)) {
            s_save_drop (self, sv);
            zkv_rep_fatal (self, "reading a state for a save", rc);
            return;
        }
        zkv_rep_answer (self, handle, client_id, seq, rc,
                        rc == ZKV_EINVAL ? "that offset is no chunk boundary of the save" : NULL,
                        NULL, 0);
        return;
    }
    sv->used = self->ticks;
    self->counters.save_chunks++;
    zkv_msg_t m = {.type = ZKV_MSG_SNAPSHOT_REPLY};
    zkv_snapshot_reply_t *r = &m.u.snapshot_reply;
    r->group = self->group;
    r->save_id = sv->id;
    r->index = sv->index;
    r->term = sv->term;
    r->machine = (zkv_bytes_t){(uint8_t *)self->sm->ops->name, strlen (self->sm->ops->name)};
    r->config = sv->config;
    r->shard_states = sv->states;
    r->offset = offset;
    r->data = (zkv_bytes_t){buf, len};
    r->done = done;
    zkv_bytes_t value = {0};
    rc = zkv_msg_encode (&m, &value.data, &value.len);
    free (buf);
    if (rc)
        zkv_rep_answer (self, handle, client_id, seq, rc, "the chunk does not encode", NULL, 0);
    else
        zkv_rep_answer (self, handle, client_id, seq, 0, NULL, &value, 0);
    zkv_bytes_free (&value);
    // The last chunk was read: the view goes. A retry of it finds no save and begins again.
    if (done)
        s_save_drop (self, sv);
}

int
zkv_rep_save_prepare (zkv_replica_t *self, const zkv_group_request_t *req)
{
    zkv_msg_t m;
    if (zkv_msg_decode (req->key.data, req->key.len, &m) != 0 ||
        m.type != ZKV_MSG_SNAPSHOT_REQUEST) {
        zkv_msg_free (&m);
        zkv_rep_answer (self, req->handle, req->client_id, req->seq, ZKV_EINVAL,
                        "not a snapshot request", NULL, 0);
        return ZKV_SM_ANSWERED;
    }
    const zkv_snapshot_request_t *q = &m.u.snapshot_request;
    if (q->save_id == 0) {
        zkv_msg_free (&m);
        if (!self->usable) {
            zkv_rep_answer (self, req->handle, req->client_id, req->seq, ZKV_ENOTREADY,
                            "this replica's state is missing (it waits for a snapshot)", NULL, 0);
            return ZKV_SM_ANSWERED;
        }
        return ZKV_SM_READ; // a ReadIndex round first, then zkv_rep_save_begin
    }
    zkv_rep_save_t *sv = s_save_find (self, q->save_id);
    if (!sv || sv->index != q->index)
        zkv_rep_answer (self, req->handle, req->client_id, req->seq, ZKV_ENOTFOUND,
                        "no such save here (it ended, or sat idle too long, or another node "
                        "leads the group now): begin the group's save again",
                        NULL, 0);
    else
        s_answer_chunk (self, req->handle, req->client_id, req->seq, sv, q->offset,
                        (size_t)q->max_bytes);
    zkv_msg_free (&m);
    return ZKV_SM_ANSWERED;
}

// A save's id: unlike any other of this replica's, and unlikely to be another node's.
static uint64_t
s_save_id (zkv_replica_t *self)
{
    uint64_t x = ++self->next_save ^ self->cfg.raft.id * 0x9E3779B97F4A7C15ull ^
                 self->group * 0xC2B2AE3D27D4EB4Full ^ self->ticks << 20;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x ? x : 1;
}

void
zkv_rep_save_begin (zkv_replica_t *self, const zkv_rep_read_t *r)
{
    zkv_msg_t m;
    if (zkv_msg_decode (r->key.data, r->key.len, &m) != 0) {
        zkv_rep_answer (self, r->handle, r->client_id, r->seq, ZKV_EINVAL, "not a snapshot request",
                        NULL, 0);
        return; // checked before: cannot happen
    }
    size_t max = (size_t)m.u.snapshot_request.max_bytes;
    zkv_msg_free (&m);
    zkv_rep_save_t *sv = s_save_find (self, 0);
    if (!sv) {
        self->counters.saves_busy++;
        zkv_rep_answer (self, r->handle, r->client_id, r->seq, ZKV_EBUSY,
                        "too many saves of this group at once (/cluster/max_saves)", NULL, 0);
        return;
    }
    zkv_sm_t *sm = self->sm;
    uint64_t applied = sm->ops->applied (sm->impl), term = 0;
    int err = 0;
    if (zkv_raft_term_at (self->raft, applied, &term) != 0) {
        // The applied index's term is gone from the log (a snapshot installed past it a
        // moment ago): the client asks again.
        zkv_rep_answer (self, r->handle, r->client_id, r->seq, ZKV_EBUSY,
                        "the state is changing under a snapshot install: try again", NULL, 0);
        return;
    }
    void *view = sm->ops->view_open (sm->impl, &err);
    void *reader = view ? sm->ops->reader_open (sm->impl, view, &err) : NULL;
    if (!reader) {
        if (view)
            sm->ops->view_close (sm->impl, view);
        if (zkv_sm_store_error (err))
            zkv_rep_fatal (self, "opening a view for a save", err);
        else
            zkv_rep_answer (self, r->handle, r->client_id, r->seq, err ? err : ZKV_EUNAVAILABLE,
                            NULL, NULL, 0);
        return;
    }
    *sv = (zkv_rep_save_t){.id = s_save_id (self),
                           .view = view,
                           .reader = reader,
                           .index = applied,
                           .term = term,
                           .used = self->ticks};
    // Which configuration the state is in, and its shards' states: the same instant as the
    // view (nothing applied in between), so the client can tell whether shards were moving.
    if (sm->ops->shard_states) {
        size_t n = 0;
        const uint8_t *states = sm->ops->shard_states (sm->impl, &sv->config, &n);
        if (states && n)
            zkv_bytes_set (&sv->states, states, n);
    }
    self->counters.saves_begun++;
    s_answer_chunk (self, r->handle, r->client_id, r->seq, sv, 0, max);
}
