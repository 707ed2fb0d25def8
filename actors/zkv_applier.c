// The applier actor: one per group. Applies the group's committed entries to the KV state
// machine (cluster/zkv_kv.h) in one kvstore batch per hand-over, with the applied index in
// the same batch; reports the results of requests proposed on this node to the frontend;
// serves reads once it has applied up to their read index; takes and streams snapshots and
// writes the leader's.
//
// Snapshots are streamed (zkv_raft.h, streaming mode; zkv_kv.h): a compaction takes a LevelDB
// snapshot of the store at the applied index (a view) and tells the group that index; chunk
// requests are read from that view, one resumable stream per follower, while entries keep
// being applied. Received chunks are written one batch each, and the group waits for each
// (CHUNK_WRITTEN) before it syncs and acknowledges it. No whole-state blob anywhere: memory
// per transfer is bounded by the chunk size. A received stream is staged beside the current
// state (zkv_kv.h), which keeps being served and published until the install swaps them: a
// follower mid-transfer, or one fed a malformed chunk, still has its whole state.
#include "zkv_actors.h"
#include "zkv_kvstores.h"
#include "zkv_kv.h"
#include "zkv_lockstore.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A read waiting for the applier to reach its index.
typedef struct {
    uint64_t rid;   // frontend's request id
    uint64_t index; // apply at least this far first
    zframe_t *key;  // the key
} s_read_t;

// Followers a transfer may run to at once (a group's members).
#define S_MAX_STREAMS 16
// A transfer not asked for a chunk this long is released (its view pins old versions on disk,
// its writer holds a copy of the dedup table); a late request starts a new one.
#define S_STREAM_IDLE_MS 30000

// A point-in-time view of the store at a snapshot's index, shared by the transfers reading
// it: a transfer finishes with the snapshot it started even when newer ones are taken (a
// LevelDB snapshot pins old versions on disk, not in memory).
typedef struct {
    zkv_kvstore_t *store; // the view
    uint64_t index;       // the applied index it shows
    int refs;             // holders: the applier while it is the latest, and transfers
} s_view_t;

// A snapshot transfer to one follower: its own position in its view.
typedef struct {
    uint64_t to;        // the follower, 0 for a free slot
    s_view_t *view;     // the view it reads (a reference)
    zkv_kv_stream_t *w; // its stream writer over view
    int64_t used;       // zclock_mono ms of its last chunk request
} s_stream_t;

typedef struct {
    zkv_node_t *node;                  // the node
    uint64_t group;                    // our group
    zsock_t *in;                       // PULL: from the group actor
    zsock_t *front;                    // PUSH to the frontend
    zsock_t *group_in;                 // PUSH to the group actor (snapshots)
    zkv_kvstore_t *store;              // the KV data in the node's database
    zkv_kv_t *kv;                      // the state machine
    zlistx_t *reads;                   // s_read_t waiting for applied >= index, in arrival order
    zsock_t *chunk_ack;                // PUSH to the group: a received chunk was written
    s_view_t *view;                    // the store as of the latest snapshot (NULL: none yet)
    s_stream_t streams[S_MAX_STREAMS]; // transfers, one per follower
    zkv_kv_recv_t *recv;               // the stream being received
    bool recv_bad_logged;              // a bad received chunk was logged (once per success)
    bool behind;                       // no usable state: below the Raft snapshot, or
                                       // incomplete; until a snapshot installs
    zkv_entry_t *entries;              // scratch for one APPLY, reused
    uint8_t *local;                    // which of them were proposed here
    size_t cap_entries;                // allocated
} s_applier_t;

static void
s_fatal (s_applier_t *self, const char *what, int rc)
{
    // The state machine can no longer follow the log: stop the node, a restart replays it.
    zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": %s failed: %s; stopping the node",
                self->node->id, self->group, what, zkv_strerror (rc));
    _exit (3);
}

static void
s_read_done (s_applier_t *self, uint64_t rid, int rc, const zkv_bytes_t *value)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "READ_DONE");
    zmsg_addmem (out, &rid, 8);
    uint64_t status = (uint64_t)-rc;
    zmsg_addmem (out, &status, 8);
    zmsg_addmem (out, value ? value->data : NULL, value ? value->len : 0);
    zmsg_addmem (out, &self->node->id, 8);
    zkv_actors_send (self->front, &out);
}

static void
s_read_serve (s_applier_t *self, uint64_t rid, zframe_t *key)
{
    zkv_bytes_t value = {0};
    int rc = zkv_kv_get (self->kv, zframe_data (key), zframe_size (key), &value);
    if (rc == ZKV_ENOTFOUND)
        rc = 0; // a missing key reads as the empty value (the append model)
    s_read_done (self, rid, rc, &value);
    zkv_bytes_free (&value);
}

// True while the state machine has a usable state: not behind the Raft snapshot (boot, or a
// failed install) nor incomplete. A stream being received does not change it: it is staged.
static bool
s_usable (s_applier_t *self)
{
    return !self->behind && !zkv_kv_incomplete (self->kv);
}

// The applied index reads may be served at: 0 while the state is not usable.
static uint64_t
s_applied (s_applier_t *self)
{
    return s_usable (self) ? zkv_kv_applied (self->kv) : 0;
}

// Publishes the applied index for the group and the frontend: UINT64_MAX while the state is
// not usable, which makes the group boot (or restart) its Raft core with need_snapshot.
static void
s_publish (s_applier_t *self)
{
    zkv_node_status_set_applied (self->node, self->group,
                                 s_usable (self) ? zkv_kv_applied (self->kv) : UINT64_MAX);
}

// Errors of the node's own store: the state is unknown, stop. Any other error of a received
// snapshot is the peer's bad input, which must not stop the node (a restart would be fed the
// same bytes).
static bool
s_store_error (int rc)
{
    return rc == ZKV_EIO || rc == ZKV_ENOSPC || rc == ZKV_ENOMEM;
}

// A received snapshot was malformed or not the one announced: drop the receive state (the
// staged stream; the current state is untouched) and publish the applied index again
// (UINT64_MAX if the state is behind the Raft snapshot), which the group restarts its Raft
// core from.
static void
s_recv_rejected (s_applier_t *self, const char *what, int rc)
{
    if (!self->recv_bad_logged)
        zsys_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": %s: %s; waiting for a new stream",
                      self->node->id, self->group, what, zkv_strerror (rc));
    self->recv_bad_logged = true;
    zkv_kv_recv_destroy (&self->recv);
    self->recv = zkv_kv_recv_new (self->kv);
    s_publish (self);
}

static void
s_reads_release (s_applier_t *self)
{
    uint64_t applied = s_applied (self);
    if (applied == 0)
        return; // nothing to serve yet
    s_read_t *r = (s_read_t *)zlistx_first (self->reads);
    while (r) {
        void *handle = zlistx_cursor (self->reads);
        s_read_t *ready = r->index <= applied ? r : NULL;
        r = (s_read_t *)zlistx_next (self->reads);
        if (ready) {
            s_read_serve (self, ready->rid, ready->key);
            zframe_destroy (&ready->key);
            zlistx_delete (self->reads, handle);
            free (ready);
        }
    }
}

// Parses APPLY's packed entries (zkv_actors.h) into the scratch arrays; the payloads are
// borrowed from the frame, which outlives the apply. Returns how many.
static size_t
s_unpack (s_applier_t *self, zmq_msg_t *packed)
{
    const uint8_t *p = (const uint8_t *)zmq_msg_data (packed);
    const uint8_t *end = p + zmq_msg_size (packed);
    size_t n = 0;
    while (p < end) {
        assert ((size_t)(end - p) >= ZKV_APPLY_ENTRY_HEADER); // our own API
        if (n == self->cap_entries) {
            self->cap_entries = self->cap_entries ? self->cap_entries * 2 : 256;
            self->entries =
                (zkv_entry_t *)realloc (self->entries, self->cap_entries * sizeof (zkv_entry_t));
            self->local = (uint8_t *)realloc (self->local, self->cap_entries);
            if (!self->entries || !self->local)
                abort (); // out of memory aborts (STYLE.md)
        }
        zkv_entry_t *e = &self->entries[n];
        uint64_t len;
        memcpy (&e->index, p, 8);
        memcpy (&e->term, p + 8, 8);
        e->type = p[16];
        self->local[n] = p[17];
        memcpy (&len, p + 18, 8);
        p += ZKV_APPLY_ENTRY_HEADER;
        assert (len <= (size_t)(end - p)); // our own API
        e->data.data = (uint8_t *)p;
        e->data.len = (size_t)len;
        p += len;
        n++;
    }
    return n;
}

static void
s_apply (s_applier_t *self, zmq_msg_t *packed)
{
    size_t n = s_unpack (self, packed);
    zkv_entry_t *entries = self->entries;
    zkv_kv_results_t results = {0};
    int rc = zkv_kv_apply (self->kv, entries, n, &results);
    if (rc != 0)
        s_fatal (self, "applying committed entries", rc);
    // One RESULTS message for the whole batch (zkv_actors.h): one wakeup of the frontend and
    // one allocation, instead of one multi-frame message per answer.
    size_t size = 0, count = 0;
    for (size_t i = 0; i < results.count; i++) {
        zkv_kv_result_t *res = &results.items[i];
        if (!res->has_client || n == 0 || res->index < entries[0].index ||
            !self->local[res->index - entries[0].index]) {
            res->has_client = false; // proposed elsewhere: that node answers its client
            continue;
        }
        size += ZKV_RESULTS_ITEM_HEADER + res->value.len;
        count++;
    }
    if (count) {
        zmq_msg_t out;
        if (zmq_msg_init_size (&out, size) != 0)
            abort (); // out of memory aborts (STYLE.md)
        uint8_t *p = (uint8_t *)zmq_msg_data (&out);
        for (size_t i = 0; i < results.count; i++) {
            zkv_kv_result_t *res = &results.items[i];
            if (!res->has_client)
                continue;
            uint64_t status = (uint64_t)-res->status, len = res->value.len;
            memcpy (p, &res->client_id, 8);
            memcpy (p + 8, &res->seq, 8);
            memcpy (p + 16, &status, 8);
            memcpy (p + 24, &len, 8);
            if (len)
                memcpy (p + ZKV_RESULTS_ITEM_HEADER, res->value.data, len);
            p += ZKV_RESULTS_ITEM_HEADER + len;
        }
        // Never blocks: a frontend that stuck drops the batch, its clients time out and retry.
        void *front = zsock_resolve (self->front);
        if (zmq_send (front, "RESULTS", 7, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 7 &&
            zmq_send (front, &self->group, 8, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 8)
            zmq_msg_send (&out, front, ZMQ_DONTWAIT);
        zmq_msg_close (&out);
    }
    zkv_kv_results_free (&results);
    s_publish (self);
    s_reads_release (self);
}

static void
s_install (s_applier_t *self, zmq_msg_t *fi, zmq_msg_t *data)
{
    // The term is not needed: the state carries what the state machine needs.
    uint64_t index = zkv_actors_u64 (fi);
    int rc;
    if (zmq_msg_size (data)) // a blob (a snapshot taken before streaming)
        rc = zkv_kv_snapshot_restore (self->kv, (const uint8_t *)zmq_msg_data (data),
                                      zmq_msg_size (data));
    else { // streamed: its chunks are staged, the metadata durable: make it the live state
        rc = zkv_kv_recv_finish (self->recv, index);
        if (rc != 0 && !s_store_error (rc)) {
            // No whole stream of that snapshot was staged. The old state is intact but the
            // Raft log starts past it: the group restarts its Raft core, which then needs a
            // new snapshot (s_publish says UINT64_MAX).
            self->behind =
                self->behind || zkv_kv_incomplete (self->kv) || index > zkv_kv_applied (self->kv);
            s_recv_rejected (self, "the received snapshot does not install", rc);
            zstr_send (self->group_in, "RESTART");
            return;
        }
        if (rc == 0)
            self->recv_bad_logged = false;
    }
    if (rc != 0)
        s_fatal (self, "installing the leader's snapshot", rc);
    self->behind = false;
    s_publish (self);
    s_reads_release (self);
}

static void
s_view_unref (s_view_t **view_p)
{
    s_view_t *view = *view_p;
    if (view && --view->refs == 0) {
        zkv_kvstore_destroy (&view->store);
        free (view);
    }
    *view_p = NULL;
}

static void
s_stream_drop (s_stream_t *st)
{
    zkv_kv_stream_destroy (&st->w);
    s_view_unref (&st->view);
    st->to = 0;
}

static void
s_streams_drop (s_applier_t *self)
{
    for (int i = 0; i < S_MAX_STREAMS; i++)
        s_stream_drop (&self->streams[i]);
}

// Releases the transfers idle for S_STREAM_IDLE_MS. Returns how many are left.
static int
s_streams_expire (s_applier_t *self)
{
    int64_t now = zclock_mono ();
    int left = 0;
    for (int i = 0; i < S_MAX_STREAMS; i++) {
        s_stream_t *st = &self->streams[i];
        if (st->to && now - st->used >= S_STREAM_IDLE_MS)
            s_stream_drop (st);
        left += st->to != 0;
    }
    return left;
}

// A compaction point: a view of the store at the applied index, which chunk requests read;
// the group records (index, term) as the Raft snapshot. Transfers of older views go on.
static void
s_snapshot (s_applier_t *self)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "SNAPSHOT");
    uint64_t applied = 0; // the group clears its request and refuses index 0
    zkv_kvstore_t *store = s_usable (self) ? zkv_kvstore_view (self->store) : NULL;
    if (store) {
        s_view_unref (&self->view);
        self->view = (s_view_t *)zmalloc (sizeof (s_view_t));
        self->view->store = store;
        self->view->index = zkv_kv_applied (self->kv);
        self->view->refs = 1;
        applied = self->view->index;
    }
    zmsg_addmem (out, &applied, 8);
    zmsg_addmem (out, NULL, 0); // no data: the state is the store's (streaming mode)
    zmsg_send (&out, self->group_in);
}

static void
s_unavailable (s_applier_t *self, uint64_t index, uint64_t term)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "UNAVAILABLE");
    zmsg_addmem (out, &index, 8);
    zmsg_addmem (out, &term, 8);
    zmsg_send (&out, self->group_in);
}

// CHUNK_WANTED [to][index][term][offset][max bytes]: read it from the view, answer CHUNK.
static void
s_chunk_wanted (s_applier_t *self, zmq_msg_t *f)
{
    uint64_t v[5];
    for (int i = 0; i < 5; i++)
        v[i] = zkv_actors_u64 (&f[i]);
    uint64_t to = v[0], index = v[1], term = v[2], offset = v[3], max = v[4];
    s_stream_t *st = NULL, *free_slot = NULL;
    for (int i = 0; i < S_MAX_STREAMS; i++) {
        if (self->streams[i].to == to)
            st = &self->streams[i];
        else if (!self->streams[i].to && !free_slot)
            free_slot = &self->streams[i];
    }
    if (st && st->view->index != index) {
        s_stream_drop (st); // the follower moved on to another snapshot
        free_slot = st;
        st = NULL;
    }
    if (!st && (!self->view || self->view->index != index)) {
        // A snapshot this process did not take (it restarted since) or no longer holds: take
        // one now, then the transfer starts over with it.
        s_snapshot (self);
        s_unavailable (self, index, term);
        return;
    }
    int rc = 0;
    if (!st && free_slot) {
        st = free_slot;
        st->w = zkv_kv_stream_new (self->view->store, self->group, zkv_kv_nshards (self->kv), &rc);
        if (st->w) {
            st->to = to;
            st->view = self->view;
            st->view->refs++;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    bool done = false;
    if (st && st->w) {
        st->used = zclock_mono ();
        rc = zkv_kv_stream_read (st->w, offset, (size_t)max, &buf, &len, &done);
    } else if (rc == 0)
        rc = ZKV_EBUSY;
    if (rc != 0) {
        zsys_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot read snapshot %" PRIu64
                      " at %" PRIu64 " for %" PRIu64 ": %s",
                      self->node->id, self->group, index, offset, to, zkv_strerror (rc));
        if (st)
            s_stream_drop (st);
        s_unavailable (self, index, term);
        return;
    }
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "CHUNK");
    zmsg_addmem (out, &to, 8);
    zmsg_addmem (out, &index, 8);
    zmsg_addmem (out, &term, 8);
    zmsg_addmem (out, &offset, 8);
    uint8_t d = done;
    zmsg_addmem (out, &d, 1);
    zmsg_addmem (out, buf, len);
    free (buf);
    zmsg_send (&out, self->group_in);
    // The last chunk went: release the transfer. A retransmit of it starts a new one over the
    // same view while that is the latest (the writer skips to the offset), else the core is
    // told the snapshot is unavailable and starts the transfer over.
    if (done)
        s_stream_drop (st);
}

// RECV_CHUNK [index][term][offset][done][data]: a received chunk, written in one batch; the
// group waits for CHUNK_WRITTEN before it syncs and acknowledges it.
static void
s_recv_chunk (s_applier_t *self, zmq_msg_t *f)
{
    // [index] [term] [offset] [done] [data]
    uint64_t offset = zkv_actors_u64 (&f[2]);
    assert (zmq_msg_size (&f[3]) == 1); // our own API
    int rc = zkv_kv_recv_chunk (self->recv, offset, (const uint8_t *)zmq_msg_data (&f[4]),
                                zmq_msg_size (&f[4]), *(const uint8_t *)zmq_msg_data (&f[3]) != 0);
    if (rc != 0 && s_store_error (rc))
        s_fatal (self, "writing a snapshot chunk", rc); // a restart asks for a new snapshot
    if (rc != 0) {
        // The peer's bad input: the group must not acknowledge it (it restarts its Raft core,
        // so the leader's next chunk restarts the stream from offset 0).
        s_recv_rejected (self, "a received snapshot chunk is invalid", rc);
        zstr_send (self->chunk_ack, "CHUNK_REJECTED");
        return;
    }
    if (offset == 0)
        zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": receiving a snapshot (staged; the "
                   "current state is served until it installs)",
                   self->node->id, self->group);
    zstr_send (self->chunk_ack, "CHUNK_WRITTEN");
}

// One command from the group actor (zkv_actors.h); f holds its n frames, verb first.
static void
s_input (s_applier_t *self, zmq_msg_t *f, size_t n)
{
    if (zkv_actors_verb_is (&f[0], "APPLY")) {
        assert (n == 2); // our own API
        s_apply (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "INSTALL")) {
        assert (n == 4); // our own API
        s_install (self, &f[1], &f[3]);
    } else if (zkv_actors_verb_is (&f[0], "READ")) {
        assert (n == 4); // our own API
        s_read_t *r = (s_read_t *)zmalloc (sizeof *r);
        r->rid = zkv_actors_u64 (&f[1]);
        r->index = zkv_actors_u64 (&f[2]);
        r->key = zframe_new (zmq_msg_data (&f[3]), zmq_msg_size (&f[3]));
        zlistx_add_end (self->reads, r);
        s_reads_release (self);
    } else if (zkv_actors_verb_is (&f[0], "SNAPSHOT_WANTED"))
        s_snapshot (self);
    else if (zkv_actors_verb_is (&f[0], "CHUNK_WANTED")) {
        assert (n == 6); // our own API
        s_chunk_wanted (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "RECV_CHUNK")) {
        assert (n == 6); // our own API
        s_recv_chunk (self, &f[1]);
    } else
        assert (false); // our own API: no other command
}

// Opens the state machine, restoring the stored Raft snapshot if it is ahead of the data (a
// machine crash lost KV commits the log was compacted past: zkv_kv.h, "Boot").
static int
s_boot (s_applier_t *self)
{
    zkv_node_t *node = self->node;
    self->store = zkv_kvstore_ldb_new (zkv_lockstore_inner (node->logstore));
    if (!self->store)
        return ZKV_EINVAL;
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.max_key_bytes = (size_t)zkv_config_max_key_bytes (node->config);
    limits.max_value_bytes = (size_t)zkv_config_max_value_bytes (node->config);
    int rc = 0;
    self->kv = zkv_kv_new (self->store, self->group, (uint32_t)zkv_config_shards (node->config),
                           &limits, &rc);
    if (!self->kv)
        return rc ? rc : ZKV_EINVAL;
    zkv_logstore_state_t st;
    rc = zkv_logstore_load (node->logstore, self->group, &st);
    if (rc != 0)
        return rc;
    // A streamed snapshot whose metadata was saved but not installed (a crash in between) is
    // staged whole: install it now, no new transfer. Staged leftovers of any other go.
    rc = zkv_kv_boot_promote (self->kv, st.snapshot.index);
    if (rc == 1)
        zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": installed the snapshot at %" PRIu64
                   " received before the restart",
                   node->id, self->group, st.snapshot.index);
    if (rc < 0) {
        zkv_logstore_state_free (&st);
        return rc;
    }
    rc = 0;
    // A blob (taken before snapshots were streamed) restores. Data behind the snapshot, or
    // marked incomplete (an install interrupted under an older zkv), cannot be used: the group
    // boots Raft with need_snapshot (it sees UINT64_MAX).
    bool missing = zkv_kv_incomplete (self->kv);
    if (!missing && st.snapshot.index > zkv_kv_applied (self->kv)) {
        if (st.snapshot_data.len)
            rc = zkv_kv_snapshot_restore (self->kv, st.snapshot_data.data, st.snapshot_data.len);
        else
            missing = true;
    }
    zkv_logstore_state_free (&st);
    if (rc != 0)
        return rc;
    self->recv = zkv_kv_recv_new (self->kv);
    self->behind = missing;
    if (missing)
        zsys_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": the KV data is behind the Raft "
                      "snapshot or incomplete: waiting for a snapshot from the leader",
                      node->id, self->group);
    s_publish (self);
    return 0;
}

void
zkv_applier_actor (zsock_t *pipe, void *args)
{
    zkv_group_args_t *ga = (zkv_group_args_t *)args;
    s_applier_t self_ = {.node = ga->node, .group = ga->group};
    s_applier_t *self = &self_;
    self->reads = zlistx_new ();
    int rc = s_boot (self);
    if (rc != 0) {
        zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot open the KV state: %s",
                    self->node->id, self->group, zkv_strerror (rc));
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        goto done;
    }
    self->in = zkv_actors_pull (self->node, "apply-in", self->group);
    self->front = zkv_actors_push (self->node, "front-in", UINT64_MAX);
    self->group_in = zkv_actors_push (self->node, "group-in", self->group);
    self->chunk_ack = zkv_actors_push (self->node, "chunk-ack", self->group);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self->in, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    int streams = 0; // transfers open: wake up to release idle ones
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, streams ? 1000 : -1);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        void *in = zsock_resolve (self->in);
        for (int i = 0; i < 1024; i++) {
            zmq_msg_t f[8];
            size_t n = zkv_actors_recv (in, f, 8);
            if (n == 0)
                break;
            assert (n <= 8); // our own API
            s_input (self, f, n);
            zkv_actors_close (f, n);
        }
        streams = s_streams_expire (self);
    }
    zpoller_destroy (&poller);
done:
    for (s_read_t *r = (s_read_t *)zlistx_first (self->reads); r;
         r = (s_read_t *)zlistx_next (self->reads)) {
        zframe_destroy (&r->key);
        free (r);
    }
    zlistx_destroy (&self->reads);
    s_streams_drop (self);
    s_view_unref (&self->view);
    zkv_kv_recv_destroy (&self->recv);
    free (self->entries);
    free (self->local);
    zkv_kv_destroy (&self->kv);
    zkv_kvstore_destroy (&self->store);
    zsock_destroy (&self->chunk_ack);
    zsock_destroy (&self->group_in);
    zsock_destroy (&self->front);
    zsock_destroy (&self->in);
}
