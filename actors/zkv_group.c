// The Raft group actor: one per group this node is a member of. Wraps the pure core
// (cluster/zkv_raft.h): feeds it peer messages, proposals and ticks, and runs its ready loop.
//
// Group commit: every input already queued (peer messages, proposals) is stepped before one
// ready is taken, so one LevelDB sync covers all the entries and votes they produced. Persist
// before send (etcd's Ready contract): msgs leave only after the sync; only the leader's
// appends (early_msgs) leave before it, the core not counting them until they are persisted
// (dissertation §10.2.1). A sync is skipped when only the commit index changed (etcd's
// MustSync: the stored commit may lag). Committed entries go to
// the applier actor in order; the applier answers clients after applying them, so nothing is
// acknowledged before it is durable on a quorum and applied.
//
// Snapshots are streamed (zkv_raft.h, streaming mode): a compaction records (index, term)
// only, the applier's LevelDB view of that index answers chunk requests (CHUNK_WANTED ->
// CHUNK), and a received chunk is written by the applier (RECV_CHUNK) before this ready is
// synced: the group waits for its CHUNK_WRITTEN, so an acknowledged chunk is durable.
#include "zkv_actors.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Inputs stepped before one ready: bounds the latency a flood of input adds to a sync.
#define S_MAX_DRAIN 4096

// Least time between two snapshot requests of one group.
#define S_SNAPSHOT_PAUSE_MS 1000

// An index this node proposed, so the applier knows whose result to report.
typedef struct {
    uint64_t index; // log index the proposal got
    uint64_t term;  // term it was proposed in
} s_local_t;

typedef struct {
    zkv_node_t *node;        // the node
    uint64_t group;          // our group
    zsock_t *pipe;           // actor pipe
    zsock_t *in;             // PULL: peer messages, proposals, snapshots from the applier
    zsock_t *tx;             // PUSH to the transport
    zsock_t *apply;          // PUSH to our applier
    zsock_t *front;          // PUSH to the frontend (failed proposals)
    zsock_t *events;         // PUSH to the event publisher
    zsock_t *chunk_ack;      // PULL: the applier wrote a received snapshot chunk
    zkv_raft_t *raft;        // the core
    uint64_t tick_ms;        // one tick
    int64_t next_tick;       // zclock_mono time of the next tick
    zkv_raft_status_t last;  // status after the previous ready, to see changes
    s_local_t *locals;       // indexes proposed here, ascending
    size_t n_locals;         // their number
    size_t cap_locals;       // allocated
    size_t head_locals;      // first live element
    bool snapshot_wanted;    // asked the applier for a snapshot, not answered yet
    int64_t next_snapshot;   // zclock_mono ms before which no snapshot is asked for
    bool snapshot_needed;    // the core wants a fresh snapshot (a follower needs a newer one)
    uint64_t recv_bytes;     // bytes of the stream being received, written so far
    zkv_hard_state_t synced; // hard state as of the last sync (term and vote matter)
    uint64_t n_syncs;        // log syncs done (group commit: entries per sync)
    uint64_t n_appended;     // entries appended
    uint64_t snapshot_bytes; // take a snapshot once the log holds this many bytes
    zhashx_t *reads;         // ReadIndex requests in flight: hex request id -> key frame
    uint64_t malformed;      // STEP messages that did not decode (cannot happen: the
                             // transport validated them) or the core refused
} s_group_t;

static void
s_frame_destroy (void **item_p)
{
    zframe_destroy ((zframe_t **)item_p);
}

static uint64_t
s_now_ms (void)
{
    return (uint64_t)zclock_time ();
}

static void
s_fatal (s_group_t *self, const char *what, int rc)
{
    // A failed write leaves the store's state unknown (zkv_ldbstore.c): crash and let the
    // restart load what is really on disk. Raft is built for crash-stop nodes.
    zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": %s failed: %s; stopping the node",
                self->node->id, self->group, what, zkv_strerror (rc));
    _exit (3);
}

static void
s_event (s_group_t *self, const char *topic, uint64_t index, uint64_t bytes)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    zkv_msg_t ev = {.type = ZKV_MSG_EVENT_RAFT};
    ev.u.event_raft.node = self->node->id;
    ev.u.event_raft.time_ms = s_now_ms ();
    ev.u.event_raft.group = self->group;
    ev.u.event_raft.term = st.term;
    ev.u.event_raft.leader = st.leader;
    ev.u.event_raft.role = st.role;
    ev.u.event_raft.index = index;
    ev.u.event_raft.bytes = bytes;
    zkv_actors_event (self->events, topic, &ev);
}

static void
s_free_buf (void *data, void *hint)
{
    (void)hint;
    free (data);
}

// Reads a u64 frame of our own API.
static void
s_send_msg (s_group_t *self, const zkv_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (msg, &buf, &len);
    assert (rc == 0); // the core builds messages within the codec's limits
    uint64_t to = msg->u.hdr.to;
    // The encoded buffer travels as is (zero-copy); ZeroMQ frees it once the transport is
    // done with it. Dropped when the transport is stuck: Raft retransmits.
    void *tx = zsock_resolve (self->tx);
    if (zmq_send (tx, &to, sizeof to, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
        free (buf);
        return;
    }
    zmq_msg_t body;
    rc = zmq_msg_init_data (&body, buf, len, s_free_buf, NULL);
    assert (rc == 0);
    if (zmq_msg_send (&body, tx, ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&body); // cannot happen: the first part was queued
}

static void
s_local_push (s_group_t *self, uint64_t index, uint64_t term)
{
    // Leading again at a lower index means the old proposals from there on were truncated:
    // their records would make s_local_take skip this term's, and those answers be lost.
    while (self->n_locals > self->head_locals && self->locals[self->n_locals - 1].index >= index)
        self->n_locals--;
    if (self->n_locals == self->cap_locals && self->head_locals > 0) {
        // Drop the consumed head before growing.
        memmove (self->locals, self->locals + self->head_locals,
                 (self->n_locals - self->head_locals) * sizeof (s_local_t));
        self->n_locals -= self->head_locals;
        self->head_locals = 0;
    }
    if (self->n_locals == self->cap_locals) {
        self->cap_locals = self->cap_locals ? self->cap_locals * 2 : 256;
        self->locals = (s_local_t *)realloc (self->locals, self->cap_locals * sizeof (s_local_t));
        if (!self->locals)
            abort (); // out of memory aborts (STYLE.md)
    }
    self->locals[self->n_locals++] = (s_local_t){index, term};
}

// True if this node proposed the committed entry (same index, same term).
static bool
s_local_take (s_group_t *self, const zkv_entry_t *e)
{
    while (self->head_locals < self->n_locals && self->locals[self->head_locals].index < e->index)
        self->head_locals++;
    if (self->head_locals < self->n_locals && self->locals[self->head_locals].index == e->index) {
        bool mine = self->locals[self->head_locals].term == e->term;
        self->head_locals++;
        return mine;
    }
    return false;
}

static void
s_propose (s_group_t *self, zmq_msg_t *cmd)
{
    uint64_t index = 0, term = 0;
    const uint8_t *data = (const uint8_t *)zmq_msg_data (cmd);
    int rc = zkv_raft_propose (self->raft, data, zmq_msg_size (cmd), &index, &term);
    if (rc == 0) {
        s_local_push (self, index, term);
        return;
    }
    // Tell the frontend at once, with whom to ask instead.
    zkv_msg_t kc;
    if (zkv_msg_decode (data, zmq_msg_size (cmd), &kc) != 0)
        return;
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "FAILED");
    zmsg_addmem (out, &self->group, 8);
    zmsg_addmem (out, &kc.u.kv_command.client_id, 8);
    zmsg_addmem (out, &kc.u.kv_command.seq, 8);
    uint64_t status = (uint64_t)-rc;
    zmsg_addmem (out, &status, 8);
    zmsg_addmem (out, &st.leader, 8);
    zkv_msg_free (&kc);
    zkv_actors_send (self->front, &out);
}

static void
s_read_done (s_group_t *self, uint64_t rid, int rc)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "READ_DONE");
    zmsg_addmem (out, &rid, 8);
    uint64_t status = (uint64_t)-rc;
    zmsg_addmem (out, &status, 8);
    zmsg_addmem (out, NULL, 0);
    zmsg_addmem (out, &st.leader, 8);
    zkv_actors_send (self->front, &out);
}

// A read (Get) from the frontend: ReadIndex (dissertation §6.4). The core confirms with a
// quorum that this node still leads, then names the index the applier must reach before it
// reads; the key waits here until then.
static void
s_read (s_group_t *self, zmq_msg_t *rid, zmq_msg_t *key)
{
    uint64_t id = zkv_actors_u64 (rid);
    int rc = zkv_raft_read_index (self->raft, id);
    if (rc != 0) {
        s_read_done (self, id, rc);
        return;
    }
    zframe_t *copy = zframe_new (zmq_msg_data (key), zmq_msg_size (key));
    char k[24];
    snprintf (k, sizeof k, "%" PRIx64, id);
    zhashx_update (self->reads, k, copy);
}

// The core's answers to ReadIndex requests: hand each read to the applier with its index.
static void
s_reads_confirmed (s_group_t *self, const zkv_raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_reads; i++) {
        char k[24];
        snprintf (k, sizeof k, "%" PRIx64, rd->reads[i].ctx);
        zframe_t *found = (zframe_t *)zhashx_lookup (self->reads, k);
        zframe_t *key = found ? zframe_dup (found) : NULL;
        zhashx_delete (self->reads, k);
        if (!key)
            continue; // our own ctx values: cannot happen, but a lost read only times out
        if (rd->reads[i].index == 0) {
            s_read_done (self, rd->reads[i].ctx, ZKV_ENOTLEADER);
            zframe_destroy (&key);
            continue;
        }
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "READ");
        zmsg_addmem (out, &rd->reads[i].ctx, 8);
        zmsg_addmem (out, &rd->reads[i].index, 8);
        zmsg_append (out, &key);
        zmsg_send (&out, self->apply); // after this ready's committed entries, in order
    }
}

// The applier's snapshot of the state machine through index.
static void
s_snapshot (s_group_t *self, zmq_msg_t *idx)
{
    uint64_t index = zkv_actors_u64 (idx);
    self->snapshot_wanted = false;
    if (index == 0)
        return;                                              // the applier could not take one
    int rc = zkv_raft_snapshot (self->raft, index, NULL, 0); // streaming: the state is the store's
    if (rc != 0 && rc != ZKV_ECOMPACTED)
        zsys_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": snapshot at %" PRIu64 " refused: %s",
                      self->node->id, self->group, index, zkv_strerror (rc));
}

// The applier's answer to a chunk request: CHUNK [to][index][term][offset][done][data].
static void
s_chunk (s_group_t *self, zmq_msg_t *f)
{
    uint64_t v[4];
    for (int i = 0; i < 4; i++)
        v[i] = zkv_actors_u64 (&f[i]);
    assert (zmq_msg_size (&f[4]) == 1); // our own API
    zkv_snapshot_meta_t meta = {.index = v[1], .term = v[2]};
    // ZKV_EINVAL: the transfer moved on meanwhile (the core asks again if it needs to).
    zkv_raft_snapshot_chunk (self->raft, v[0], &meta, v[3], (const uint8_t *)zmq_msg_data (&f[5]),
                             zmq_msg_size (&f[5]), *(const uint8_t *)zmq_msg_data (&f[4]) != 0);
}

// Chunk requests go to the applier, which reads them from its view of the snapshot.
static void
s_chunk_requests (s_group_t *self, const zkv_raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_chunk_reqs; i++) {
        const zkv_raft_chunk_req_t *q = &rd->chunk_reqs[i];
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "CHUNK_WANTED");
        zmsg_addmem (out, &q->to, 8);
        zmsg_addmem (out, &q->snapshot.index, 8);
        zmsg_addmem (out, &q->snapshot.term, 8);
        zmsg_addmem (out, &q->offset, 8);
        uint64_t max = q->max_bytes;
        zmsg_addmem (out, &max, 8);
        zmsg_send (&out, self->apply);
    }
}

// A received chunk: the applier writes it (one KV batch, staged apart from the live data).
// False if the applier rejected it (malformed: the peer's bad input).
static bool
s_write_chunk (s_group_t *self, const zkv_raft_ready_t *rd)
{
    const zkv_raft_chunk_t *c = &rd->chunk;
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "RECV_CHUNK");
    zmsg_addmem (out, &c->snapshot.index, 8);
    zmsg_addmem (out, &c->snapshot.term, 8);
    zmsg_addmem (out, &c->offset, 8);
    uint8_t done = c->done;
    zmsg_addmem (out, &done, 1);
    zmsg_addmem (out, c->data, c->len);
    zmsg_send (&out, self->apply); // in order with APPLY and INSTALL
    // Wait for it: the acknowledgement that leaves after advance says it is persisted. The
    // applier never waits for us, and stops the node if the write fails.
    char *ack = zstr_recv (self->chunk_ack);
    if (!ack)
        s_fatal (self, "waiting for a snapshot chunk to be written", ZKV_ESTOPPED);
    bool written = streq (ack, "CHUNK_WRITTEN");
    zstr_free (&ack);
    return written;
}

static void s_restart (s_group_t *self);

// One input (zkv_actors.h); f holds its n frames, verb first. Received as zmq_msg_t: no
// zmsg, zframe or verb string allocated per input.
static void
s_input (s_group_t *self, zmq_msg_t *f, size_t n)
{
    if (zkv_actors_verb_is (&f[0], "STEP")) {
        zkv_msg_t m;
        if (n == 2 &&
            zkv_msg_decode ((const uint8_t *)zmq_msg_data (&f[1]), zmq_msg_size (&f[1]), &m) == 0) {
            if (zkv_raft_step (self->raft, &m) != 0)
                self->malformed++;
            zkv_msg_free (&m);
        } else
            self->malformed++;
    } else if (zkv_actors_verb_is (&f[0], "PROPOSE")) {
        assert (n == 2); // our own API
        s_propose (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "READ")) {
        assert (n == 3); // our own API
        s_read (self, &f[1], &f[2]);
    } else if (zkv_actors_verb_is (&f[0], "SNAPSHOT")) {
        assert (n == 3); // our own API
        s_snapshot (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "CHUNK")) {
        assert (n == 7); // our own API
        s_chunk (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "RESTART")) {
        assert (n == 1); // our own API
        s_restart (self);
    } else if (zkv_actors_verb_is (&f[0], "UNAVAILABLE")) {
        assert (n == 3); // our own API
        zkv_snapshot_meta_t meta = {.index = zkv_actors_u64 (&f[1]),
                                    .term = zkv_actors_u64 (&f[2])};
        zkv_raft_snapshot_unavailable (self->raft, &meta);
    } else
        assert (false); // our own API: no other command
}

// Returns false if the applier rejected the ready's received chunk: it must not be
// acknowledged, so the ready must not be advanced (s_ready_loop restarts the core instead).
static bool
s_persist (s_group_t *self, const zkv_raft_ready_t *rd)
{
    zkv_logstore_t *store = self->node->logstore;
    bool wrote = false, chunk_ok = true;
    int rc = 0;
    if (rd->has_chunk) {
        // Same database. The chunk is not synced on its own: its acknowledgement only lets
        // the leader send the next one, and a node that crashes mid-stream starts the stream
        // over anyway (an unfinished staged stream is dropped at restart). The install's sync
        // (the snapshot's metadata, below) makes every chunk before it durable: LevelDB has
        // one write-ahead log, synced in order.
        chunk_ok = s_write_chunk (self, rd);
    }
    if (rd->has_snapshot) {
        rc = zkv_logstore_save_snapshot (store, self->group, &rd->snapshot, rd->snapshot_data,
                                         rd->snapshot_len);
        if (rc)
            s_fatal (self, "saving a snapshot", rc);
        wrote = true;
    }
    if (rd->compact_to) {
        rc = zkv_logstore_compact_prefix (store, self->group, rd->compact_to);
        if (rc)
            s_fatal (self, "compacting the log", rc);
        wrote = true;
    }
    if (rd->truncate_from) {
        rc = zkv_logstore_truncate_suffix (store, self->group, rd->truncate_from);
        if (rc)
            s_fatal (self, "truncating the log", rc);
        wrote = true;
    }
    if (rd->n_entries) {
        rc = zkv_logstore_append (store, self->group, rd->entries, rd->n_entries);
        if (rc)
            s_fatal (self, "appending to the log", rc);
        wrote = true;
    }
    if (rd->has_hard_state) {
        rc = zkv_logstore_save_hard_state (store, self->group, &rd->hard_state);
        if (rc)
            s_fatal (self, "saving the hard state", rc);
        // A new commit index alone needs no sync (etcd's MustSync): the stored commit may
        // lag (zkv_logstore.h), a restart recomputes it; the write rides on the next sync.
        if (rd->hard_state.term != self->synced.term || rd->hard_state.vote != self->synced.vote)
            wrote = true;
    }
    self->n_appended += rd->n_entries;
    if (wrote) {
        self->n_syncs++;
        rc = zkv_logstore_sync (store);
        if (rc)
            s_fatal (self, "syncing the log", rc);
        if (rd->has_hard_state)
            self->synced = rd->hard_state;
    }
    return chunk_ok;
}

static void
s_handoff (s_group_t *self, const zkv_raft_ready_t *rd)
{
    if (rd->has_snapshot && rd->apply_snapshot) {
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "INSTALL");
        zmsg_addmem (out, &rd->snapshot.index, 8);
        zmsg_addmem (out, &rd->snapshot.term, 8);
        zmsg_addmem (out, rd->snapshot_data, rd->snapshot_len);
        // Blocking send: the applier must see every snapshot and entry, in order.
        zmsg_send (&out, self->apply);
    }
    if (rd->n_committed) {
        // One message per ready: [APPLY] [packed entries] (zkv_actors.h), built in place in
        // one ZeroMQ buffer, so the hand-over costs one allocation whatever the batch size.
        size_t size = 0;
        for (size_t i = 0; i < rd->n_committed; i++)
            size += ZKV_APPLY_ENTRY_HEADER + rd->committed[i].data.len;
        zmq_msg_t packed;
        int rc = zmq_msg_init_size (&packed, size);
        if (rc != 0)
            abort (); // out of memory aborts (STYLE.md)
        uint8_t *p = (uint8_t *)zmq_msg_data (&packed);
        for (size_t i = 0; i < rd->n_committed; i++) {
            const zkv_entry_t *e = &rd->committed[i];
            uint8_t local = s_local_take (self, e);
            uint64_t len = e->data.len;
            memcpy (p, &e->index, 8);
            memcpy (p + 8, &e->term, 8);
            p[16] = e->type;
            p[17] = local;
            memcpy (p + 18, &len, 8);
            if (len)
                memcpy (p + ZKV_APPLY_ENTRY_HEADER, e->data.data, len);
            p += ZKV_APPLY_ENTRY_HEADER + len;
        }
        // Blocking sends: the applier must see every entry, in order (a full queue waits).
        void *apply = zsock_resolve (self->apply);
        if (zmq_send (apply, "APPLY", 5, ZMQ_SNDMORE) != 5 || zmq_msg_send (&packed, apply, 0) < 0)
            s_fatal (self, "handing committed entries to the applier", ZKV_ESTOPPED);
    }
}

// Status for the frontend, and events for what changed.
static void
s_after_ready (s_group_t *self)
{
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    if (st.term != self->last.term)
        s_event (self, "zkv.raft.term", st.commit, 0);
    if (st.leader != self->last.leader ||
        (st.role == ZKV_ROLE_LEADER) != (self->last.role == ZKV_ROLE_LEADER)) {
        if (st.leader)
            s_event (self, "zkv.raft.leader", st.commit, 0);
        if (st.role == ZKV_ROLE_LEADER)
            zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": leader in term %" PRIu64,
                       self->node->id, self->group, st.term);
        if (self->last.role == ZKV_ROLE_LEADER && st.role != ZKV_ROLE_LEADER) {
            zmsg_t *out = zmsg_new ();
            zmsg_addstr (out, "DEPOSED");
            zmsg_addmem (out, &self->group, 8);
            zmsg_addmem (out, &st.leader, 8);
            zkv_actors_send (self->front, &out);
        }
    }
    self->last = st;
    zkv_node_status_set_raft (self->node, self->group, &st);
    // A snapshot only helps if the state machine applied past the last one; and writing one
    // costs a pass over the group's data, so a log that stays long (entries not yet applied,
    // a lagging applier) asks again only after a pause.
    zkv_groupstat_t gs;
    zkv_node_status_get (self->node, self->group, &gs);
    // A follower that needs a newer snapshot than ours (its state is missing) cannot wait.
    bool log_long = self->snapshot_bytes && st.log_bytes > self->snapshot_bytes &&
                    zclock_mono () >= self->next_snapshot;
    if ((log_long || self->snapshot_needed) && !self->snapshot_wanted &&
        gs.kv_applied > st.snapshot_index && gs.kv_applied != UINT64_MAX) {
        self->snapshot_wanted = true;
        self->snapshot_needed = false;
        self->next_snapshot = zclock_mono () + S_SNAPSHOT_PAUSE_MS;
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "SNAPSHOT_WANTED");
        uint64_t bytes = st.log_bytes;
        zmsg_addmem (out, &bytes, 8);
        zmsg_send (&out, self->apply);
    }
}

static int s_boot (s_group_t *self);

// Restarts the Raft core from the stored state (after a rejected snapshot chunk or install:
// the applier published the KV data as incomplete if it is, so the core needs a snapshot).
static void
s_restart (s_group_t *self)
{
    zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": restarting Raft from the stored state",
               self->node->id, self->group);
    zkv_raft_destroy (&self->raft);
    if (s_boot (self) != 0)
        s_fatal (self, "restarting Raft", ZKV_ECORRUPT);
    s_after_ready (self);
}

static void
s_ready_loop (s_group_t *self)
{
    while (zkv_raft_has_ready (self->raft)) {
        zkv_raft_ready_t rd;
        zkv_raft_ready (self->raft, &rd);
        // The leader's appends leave before its own sync: it writes its log while the
        // followers write theirs (dissertation §10.2.1); the core counts its own entries
        // toward a quorum only once advance says they are persisted.
        for (size_t i = 0; i < rd.n_early_msgs; i++)
            s_send_msg (self, &rd.early_msgs[i]);
        bool chunk_ok = s_persist (self, &rd);
        for (size_t i = 0; i < rd.n_msgs; i++)
            s_send_msg (self, &rd.msgs[i]);
        if (!chunk_ok) {
            // Everything else of this ready is durable: restart the core from the store, as
            // a process restart would (committed entries come again; the applier skips those
            // it has). It has no partial stream, so the leader's next chunk starts it over.
            s_restart (self);
            return;
        }
        if (rd.has_chunk) {
            if (rd.chunk.offset == 0) {
                self->recv_bytes = 0;
                s_event (self, "zkv.raft.snapshot.receiving", rd.chunk.snapshot.index, 0);
            }
            self->recv_bytes += rd.chunk.len;
        }
        s_handoff (self, &rd);
        s_reads_confirmed (self, &rd);
        s_chunk_requests (self, &rd);
        if (rd.want_snapshot)
            self->snapshot_needed = true;
        if (rd.has_snapshot) {
            zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %s a snapshot through %" PRIu64
                       " (%zu bytes)",
                       self->node->id, self->group, rd.apply_snapshot ? "installed" : "took",
                       rd.snapshot.index, rd.snapshot_len);
            // A streamed snapshot's size is that of the stream received (a taken one is
            // metadata only: the state is the store's).
            uint64_t bytes = rd.snapshot_len;
            if (rd.apply_snapshot && !bytes)
                bytes = self->recv_bytes;
            s_event (self,
                     rd.apply_snapshot ? "zkv.raft.snapshot.installed" : "zkv.raft.snapshot.taken",
                     rd.snapshot.index, bytes);
        }
        if (rd.compact_to)
            s_event (self, "zkv.raft.compacted", rd.compact_to, 0);
        zkv_raft_advance (self->raft, &rd);
    }
    s_after_ready (self);
}

static int
s_boot (s_group_t *self)
{
    zkv_node_t *node = self->node;
    const zkv_config_group_t *g = zkv_config_group (node->config, self->group);
    assert (g);
    zkv_raft_config_t cfg;
    zkv_raft_config_defaults (&cfg);
    cfg.group = self->group;
    cfg.id = node->id;
    cfg.voters = g->members.ids;
    cfg.n_voters = g->members.count;
    cfg.election_ticks = (uint32_t)zkv_config_election_ticks (node->config);
    cfg.heartbeat_ticks = (uint32_t)zkv_config_heartbeat_ticks (node->config);
    cfg.pre_vote = zkv_config_pre_vote (node->config);
    cfg.check_quorum = zkv_config_check_quorum (node->config);
    cfg.max_entries_per_msg = (uint32_t)zkv_config_max_batch_entries (node->config);
    cfg.max_bytes_per_msg = (size_t)zkv_config_max_batch_bytes (node->config);
    cfg.max_inflight_msgs = (uint32_t)zkv_config_max_inflight (node->config);
    cfg.snapshot_chunk_bytes = (size_t)zkv_config_snapshot_chunk_bytes (node->config);
    cfg.send_before_persist = true;
    // Election timeouts must differ between nodes and between runs.
    cfg.seed = (uint64_t)zclock_usecs () ^ (node->id * 0x9E3779B97F4A7C15ull) ^ (uint64_t)getpid ();
    zkv_groupstat_t gs;
    zkv_node_status_get (node, self->group, &gs);
    cfg.applied = gs.kv_applied; // the applier booted first and published it
    cfg.snapshot_stream = true;
    if (gs.kv_applied == UINT64_MAX) {
        // The KV data is incomplete (an interrupted snapshot install): a leader's snapshot
        // must come before anything is applied or served.
        cfg.applied = 0;
        cfg.need_snapshot = true;
    }
    zkv_logstore_state_t boot;
    int rc = zkv_logstore_load (node->logstore, self->group, &boot);
    if (rc != 0) {
        zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot load the Raft log: %s", node->id,
                    self->group, zkv_strerror (rc));
        return -1;
    }
    self->raft = zkv_raft_new (&cfg, &boot);
    self->synced = boot.hard_state;
    zkv_logstore_state_free (&boot);
    if (!self->raft) {
        zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": the stored Raft state does not boot",
                    node->id, self->group);
        return -1;
    }
    self->tick_ms = zkv_config_tick_ms (node->config);
    self->snapshot_bytes = zkv_config_snapshot_bytes (node->config);
    zkv_raft_status (self->raft, &self->last);
    zkv_node_status_set_raft (node, self->group, &self->last);
    return 0;
}

void
zkv_group_actor (zsock_t *pipe, void *args)
{
    zkv_group_args_t *ga = (zkv_group_args_t *)args;
    s_group_t self_ = {.node = ga->node, .group = ga->group, .pipe = pipe};
    s_group_t *self = &self_;
    self->in = zkv_actors_pull (self->node, "group-in", self->group);
    self->tx = zkv_actors_push (self->node, "tx", UINT64_MAX);
    self->apply = zkv_actors_push (self->node, "apply-in", self->group);
    self->front = zkv_actors_push (self->node, "front-in", UINT64_MAX);
    self->events = zkv_actors_push (self->node, "events", UINT64_MAX);
    self->chunk_ack = zkv_actors_pull (self->node, "chunk-ack", self->group);
    self->reads = zhashx_new ();
    zhashx_set_destructor (self->reads, s_frame_destroy);
    if (s_boot (self) != 0) {
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        goto done;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self->in, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    self->next_tick = zclock_mono () + (int64_t)self->tick_ms;
    while (true) {
        int64_t wait = self->next_tick - zclock_mono ();
        zsock_t *which = (zsock_t *)zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        // Group commit: take everything queued now, then one ready.
        void *in = zsock_resolve (self->in);
        for (int i = 0; i < S_MAX_DRAIN; i++) {
            zmq_msg_t f[8];
            size_t n = zkv_actors_recv (in, f, 8);
            if (n == 0)
                break;
            assert (n <= 8); // our own API
            s_input (self, f, n);
            zkv_actors_close (f, n);
        }
        int64_t now = zclock_mono ();
        if (now >= self->next_tick) {
            zkv_raft_tick (self->raft);
            // Late (a long sync, a busy machine): resume the cadence, do not burst ticks.
            self->next_tick += (int64_t)self->tick_ms;
            if (self->next_tick <= now)
                self->next_tick = now + (int64_t)self->tick_ms;
        }
        s_ready_loop (self);
    }
    zpoller_destroy (&poller);
    if (self->n_syncs)
        zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " entries appended in %" PRIu64
                   " syncs (%.1f per sync)",
                   self->node->id, self->group, self->n_appended, self->n_syncs,
                   (double)self->n_appended / (double)self->n_syncs);
    if (self->malformed)
        zsys_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " peer messages refused",
                   self->node->id, self->group, self->malformed);
done:
    zkv_raft_destroy (&self->raft);
    zhashx_destroy (&self->reads);
    free (self->locals);
    zsock_destroy (&self->chunk_ack);
    zsock_destroy (&self->events);
    zsock_destroy (&self->front);
    zsock_destroy (&self->apply);
    zsock_destroy (&self->tx);
    zsock_destroy (&self->in);
}
