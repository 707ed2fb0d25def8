// Raft unit tests, in two parts.
//
// A small deterministic cluster (an in-order network with lossy knobs, partitions, crashes and
// restarts) whose nodes are each the group driver (zkv_replica.h), the one ready loop zkvd and
// the simulator run, over a memstore of its own (it survives restarts; a crash loses what was
// not synced) and a hash-chain state machine; proposals and reads are requests to the driver.
// Elections, agreement, restarts, catch-up, snapshots (blob and streamed), ReadIndex, and a
// chaos run, with safety checks after every step.
//
// Then the core's rules, message by message: one bare core (zkv_raft.h) is fed hand-made
// messages and its readies are taken and inspected ("one core" below).
#include "zkv_memstore.h"
#include "zkv_raft.h"
#include "zkv_replica.h"
#include "zkv_rng.h"
#include "zkv_sm.h"
#include "zkv_test.h"

#include <assert.h>
#include <stdbool.h>

#define MAXN      5
#define MAXQ      100000
#define S_GROUP   7 // the group every node replicates
#define S_OP_RAW  1 // a write: the request's value (8 bytes, its seq) is the command
#define S_OP_READ 2 // a linearizable read: answers the state as applied (index, chain)
#define S_WRITE   0 // the handle of every write (their answers are counted, not kept)
#define S_APPLIED      1 // cluster_t.values: the write was applied
#define S_NOT_PROPOSED 2 // ... it was answered "not the leader", which says it was never proposed

typedef struct cluster cluster_t;

// --- a node: the driver over its memstore and its state machine ------------------------------

// A read's answer.
typedef struct {
    uint64_t ctx;     // the read's handle
    int status;       // 0 or a ZKV_E* code
    uint64_t applied; // the applied index of the state it read
} s_read_t;

typedef struct {
    cluster_t *c;          // the cluster it is part of (for the callbacks)
    int i;                 // its slot (id i + 1)
    zkv_replica_t *rep;    // the replica, NULL while down
    zkv_raft_config_t cfg; // its Raft configuration
    uint64_t voters[MAXN]; // member ids
    zkv_logstore_t *mem;   // its memstore: survives restarts; a crash drops what is unsynced
    zkv_logstore_t *store; // the checking store over it that the replica writes through
    zkv_hard_state_t hs;   // hard state as last written (reloaded after a crash)
    bool slow;             // a sync is outstanding (a slow disk: done at the next tick)
    bool crashing;         // it crashed in a sync: the crash is carried out once the driver returns
    // The state machine: a hash chain over applied entries.
    uint64_t applied;        // last applied index
    uint64_t sm;             // hash of everything applied
    uint64_t n_snap_applied; // snapshots installed from a leader
    s_read_t reads[64];      // answers to reads, first 64
    size_t n_reads;          // their number
    uint64_t asked;          // writes asked of it
    uint64_t answered;       // ... answered by it
    uint64_t dropped;        // ... waiting when it went down (unanswered, as a crash leaves them)
    // Streaming mode: the state is durable on its own (applied and sm survive restarts and
    // crashes), a received stream is staged apart from it, and the application keeps one view
    // of its state, the latest it opened (an older view's chunks cannot be read any more).
    uint64_t view_gen;      // generation of the latest view
    int views_open;         // views opened and not closed
    uint8_t *part;          // received stream bytes, staged apart from the state (durable)
    size_t part_len;        // their number
    bool incomplete;        // the state is gone (set by a test; durable): need_snapshot
    uint64_t stream_starts; // chunks at offset 0 written
} node_t;

struct cluster {
    node_t nodes[MAXN];      // the members, id = slot + 1
    int n;                   // number of members
    zkv_msg_t *q;            // messages in flight, FIFO
    size_t q_head, q_len;    // queue window
    bool cut[MAXN][MAXN];    // links down (from, to)
    zkv_rng_t rng;           // for the lossy network and the disks
    uint32_t drop_pm;        // lossy: drop chance per mille
    uint32_t dup_pm;         // lossy: duplicate chance per mille
    uint32_t swap_pm;        // lossy: chance to deliver the second message first
    uint32_t delay_pm;       // lossy: chance a message is held back for up to 50 ticks
    uint32_t crash_pm;       // chance a node crashes in a sync (torn: a prefix of its writes lands)
    uint32_t slow_pm;        // chance a sync completes only at the next tick
    zkv_msg_t *late;         // held back messages
    uint64_t *late_due;      // tick each is released at
    size_t n_late;           // their number
    uint64_t now;            // ticks so far
    uint64_t *hashes;        // hash of the entry committed at each index (0 unknown)
    size_t n_hashes;         // allocated
    uint64_t *leader_of;     // leader seen per term (0 none)
    size_t n_leader_of;      // allocated
    uint64_t snapshot_every; // nodes snapshot every K applied entries, 0 never (at start)
    uint64_t snapshot_log;   // ... or once the log holds this many bytes (0: never; the driver's
                             // default framing per entry counted)
    size_t snap_size;        // bytes of a snapshot
    uint64_t sent[7];        // messages sent per type
    uint64_t writes_ok;      // writes answered ok
    uint64_t writes_lost;    // writes answered with an error (not leader any more)
    uint8_t *values;         // values[v]: S_APPLIED, S_NOT_PROPOSED for the write of value v
    size_t n_values;         // allocated
    uint64_t crashes;        // crashes in a sync
    int failed;              // a safety check failed
    bool stream;             // streaming snapshots
    uint32_t req_drop_pm;    // streaming: chance a chunk read is "not now" (Raft asks again)
    uint32_t reject_pm;      // streaming: chance a received chunk is refused as malformed
    uint64_t rejected;       // chunks refused so far
};

static uint64_t
s_hash (uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t
s_entry_hash (const zkv_entry_t *e)
{
    uint64_t h = s_hash (0xcbf29ce484222325ULL, &e->type, 1);
    return s_hash (h, e->data.data, e->data.len) | 1;
}

static void
s_fail (cluster_t *c, const char *what)
{
    fprintf (stderr, "safety: %s\n", what);
    c->failed = 1;
}

// Snapshot bytes: the state machine (applied, sm) then deterministic filler.
static uint8_t *
s_snap_make (cluster_t *c, const node_t *nd, size_t *len_p)
{
    size_t len = c->snap_size < 16 ? 16 : c->snap_size;
    uint8_t *buf = malloc (len);
    assert (buf);
    memcpy (buf, &nd->applied, 8);
    memcpy (buf + 8, &nd->sm, 8);
    for (size_t i = 16; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + nd->applied);
    *len_p = len;
    return buf;
}

// Loads the state of snapshot bytes; false if they are not one.
static bool
s_snap_load (node_t *nd, const uint8_t *data, size_t len)
{
    if (len < 16)
        return false;
    memcpy (&nd->applied, data, 8);
    memcpy (&nd->sm, data + 8, 8);
    return true;
}

// --- the node's log store: its memstore, checked as it is written --------------------------------

static int
st_append (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    node_t *nd = impl;
    return zkv_logstore_append (nd->mem, group, entries, n);
}

static int
st_truncate_suffix (void *impl, uint64_t group, uint64_t from_index)
{
    node_t *nd = impl;
    return zkv_logstore_truncate_suffix (nd->mem, group, from_index);
}

static int
st_compact_prefix (void *impl, uint64_t group, uint64_t upto_index)
{
    node_t *nd = impl;
    return zkv_logstore_compact_prefix (nd->mem, group, upto_index);
}

static int
st_save_hard_state (void *impl, uint64_t group, const zkv_hard_state_t *hs)
{
    node_t *nd = impl;
    if (hs->term < nd->hs.term)
        s_fail (nd->c, "term went backwards");
    if (hs->term == nd->hs.term && nd->hs.vote && hs->vote != nd->hs.vote)
        s_fail (nd->c, "vote changed within a term");
    nd->hs = *hs;
    return zkv_logstore_save_hard_state (nd->mem, group, hs);
}

static int
st_save_snapshot (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta, const uint8_t *data,
                  size_t len)
{
    node_t *nd = impl;
    if (nd->c->stream && len)
        s_fail (nd->c, "snapshot bytes in streaming mode");
    return zkv_logstore_save_snapshot (nd->mem, group, meta, data, len);
}

static int
st_sync (void *impl)
{
    node_t *nd = impl;
    return zkv_logstore_sync (nd->mem);
}

static int
st_load (void *impl, uint64_t group, zkv_logstore_state_t *out)
{
    node_t *nd = impl;
    return zkv_logstore_load (nd->mem, group, out);
}

static void
st_destroy (void *impl)
{
    (void)impl; // the node is the cluster's
}

static const zkv_logstore_ops_t s_store_ops = {
    .name = "checked memory",
    .append = st_append,
    .truncate_suffix = st_truncate_suffix,
    .compact_prefix = st_compact_prefix,
    .save_hard_state = st_save_hard_state,
    .save_snapshot = st_save_snapshot,
    .sync = st_sync,
    .load = st_load,
    .destroy = st_destroy,
};

// --- the node's state machine: a hash chain (zkv_sm.h) -----------------------------------------

static uint64_t
sm_applied (void *impl)
{
    node_t *nd = impl;
    return nd->applied;
}

// Blob mode: the state comes back from the stored snapshot, the log replays the rest.
// Streaming: the state is durable on its own, unless it is missing or behind the snapshot.
static int
sm_boot (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len)
{
    node_t *nd = impl;
    if (!nd->c->stream) {
        nd->applied = nd->sm = 0;
        if (snap->index && (!s_snap_load (nd, blob, len) || nd->applied != snap->index))
            s_fail (nd->c, "the stored snapshot is not the state machine's");
        return 1;
    }
    if (!nd->incomplete && nd->applied < snap->index) {
        // Down between the save of a received snapshot and its install: the staged stream is
        // that snapshot's state (promoted), or the state is behind its snapshot for good.
        uint64_t staged = 0;
        if (nd->part_len >= 16)
            memcpy (&staged, nd->part, 8);
        if (staged == snap->index)
            s_snap_load (nd, nd->part, nd->part_len);
        else
            nd->incomplete = true;
    }
    return nd->incomplete ? 0 : 1;
}

static int
sm_prepare (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
            zkv_sm_answer_t *answer)
{
    (void)impl;
    if (req->op == S_OP_READ)
        return ZKV_SM_READ;
    if (req->op != S_OP_RAW || req->value_len != 8) {
        answer->status = ZKV_EINVAL;
        return ZKV_SM_ANSWERED;
    }
    *cmd_p = malloc (8);
    assert (*cmd_p);
    memcpy (*cmd_p, req->value, 8);
    *cmd_len_p = 8;
    return ZKV_SM_PROPOSE;
}

// Makes room in c->values for value v.
static void
s_value_room (cluster_t *c, uint64_t v)
{
    if (v < c->n_values)
        return;
    size_t size = c->n_values ? c->n_values : 1024;
    while (size <= v)
        size *= 2;
    c->values = realloc (c->values, size);
    assert (c->values);
    memset (c->values + c->n_values, 0, size - c->n_values);
    c->n_values = size;
}

static int
sm_apply (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results)
{
    node_t *nd = impl;
    cluster_t *c = nd->c;
    for (size_t k = 0; k < n; k++) {
        const zkv_entry_t *e = &entries[k];
        if (e->index <= nd->applied)
            continue; // applied before a restart of the core
        if (nd->incomplete)
            s_fail (c, "applying onto an incomplete state");
        if (e->index != nd->applied + 1) {
            s_fail (c, "committed entries out of order");
            continue;
        }
        uint64_t h = s_entry_hash (e);
        if (e->index >= c->n_hashes) {
            size_t size = c->n_hashes ? c->n_hashes : 64;
            while (size <= e->index)
                size *= 2;
            c->hashes = realloc (c->hashes, size * sizeof (uint64_t));
            memset (c->hashes + c->n_hashes, 0, (size - c->n_hashes) * sizeof (uint64_t));
            c->n_hashes = size;
        }
        if (c->hashes[e->index] && c->hashes[e->index] != h)
            s_fail (c, "two different entries committed at one index");
        c->hashes[e->index] = h;
        nd->applied = e->index;
        nd->sm = s_hash (nd->sm, &h, 8);
        zkv_sm_result_t *r = zkv_sm_results_push (results);
        r->index = e->index;
        if (e->type == ZKV_ENTRY_NORMAL && e->data.len == 8) {
            r->has_client = true;
            r->client_id = 1;
            memcpy (&r->seq, e->data.data, 8);
            s_value_room (c, r->seq);
            if (c->values[r->seq] & S_NOT_PROPOSED)
                s_fail (c, "a write answered 'not the leader' was applied");
            c->values[r->seq] |= S_APPLIED;
        }
    }
    return 0;
}

static int
sm_read (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    node_t *nd = impl;
    (void)req;
    uint8_t v[16];
    memcpy (v, &nd->applied, 8);
    memcpy (v + 8, &nd->sm, 8);
    zkv_bytes_set (&answer->value, v, sizeof v);
    answer->found = true;
    return 0;
}

static int
sm_blob_write (void *impl, uint8_t **buf_p, size_t *len_p)
{
    node_t *nd = impl;
    *buf_p = s_snap_make (nd->c, nd, len_p);
    return 0;
}

// A leader's snapshot (blob mode).
static int
sm_blob_restore (void *impl, uint64_t index, const uint8_t *buf, size_t len)
{
    node_t *nd = impl;
    if (!s_snap_load (nd, buf, len) || nd->applied != index)
        s_fail (nd->c, "the leader's snapshot is not the state machine's");
    nd->n_snap_applied++;
    return 0;
}

// A view: the state's snapshot bytes at the index it was opened at.
typedef struct {
    uint64_t gen;  // the node's view generation it is
    uint8_t *data; // the bytes
    size_t len;    // their number
} s_view_t;

static void *
sm_view_open (void *impl, int *err)
{
    node_t *nd = impl;
    if (nd->incomplete) {
        *err = ZKV_EUNAVAILABLE;
        return NULL;
    }
    s_view_t *v = calloc (1, sizeof *v);
    assert (v);
    v->gen = ++nd->view_gen;
    nd->views_open++;
    v->data = s_snap_make (nd->c, nd, &v->len);
    return v;
}

static void
sm_view_close (void *impl, void *view)
{
    node_t *nd = impl;
    nd->views_open--;
    s_view_t *v = view;
    free (v->data);
    free (v);
}

static void *
sm_reader_open (void *impl, void *view, int *err)
{
    (void)impl, (void)err;
    return view; // a reader is its view: reads name their offset
}

static void
sm_reader_close (void *impl, void *reader)
{
    (void)impl, (void)reader; // the view goes with view_close
}

static int
sm_reader_read (void *impl, void *reader, uint64_t offset, size_t max, uint8_t **buf_p,
                size_t *len_p, bool *done_p)
{
    node_t *nd = impl;
    cluster_t *c = nd->c;
    s_view_t *v = reader;
    if (c->req_drop_pm && zkv_rng_chance (&c->rng, c->req_drop_pm, 1000))
        return ZKV_EBUSY; // a slow reader: Raft asks again
    if (v->gen != nd->view_gen)
        return ZKV_EUNAVAILABLE; // not the latest view: the application let it go
    if (offset > v->len) {
        s_fail (c, "chunk request past the end");
        return ZKV_EINVAL;
    }
    size_t len = v->len - (size_t)offset;
    if (len > max)
        len = max;
    *buf_p = malloc (len ? len : 1);
    assert (*buf_p);
    memcpy (*buf_p, v->data + offset, len);
    *len_p = len;
    *done_p = offset + len == v->len;
    return 0;
}

static int
sm_recv_chunk (void *impl, const zkv_snapshot_meta_t *snap, uint64_t offset, const uint8_t *data,
               size_t len, bool done)
{
    node_t *nd = impl;
    cluster_t *c = nd->c;
    (void)snap, (void)done;
    if (!c->stream)
        s_fail (c, "a chunk in blob mode");
    if (c->reject_pm && zkv_rng_chance (&c->rng, c->reject_pm, 1000)) {
        c->rejected++;
        return ZKV_EPROTO; // a peer's bad bytes: nothing is staged (the driver restarts Raft)
    }
    if (offset == 0) {
        nd->part_len = 0; // staged: the state itself stays as it is until the install
        nd->stream_starts++;
    }
    if (offset != nd->part_len) {
        s_fail (c, "chunk out of order");
        return ZKV_EPROTO;
    }
    nd->part = realloc (nd->part, nd->part_len + len + 1);
    assert (nd->part);
    if (len)
        memcpy (nd->part + nd->part_len, data, len);
    nd->part_len += len;
    return 0;
}

static int
sm_recv_finish (void *impl, const zkv_snapshot_meta_t *snap)
{
    node_t *nd = impl;
    if (!s_snap_load (nd, nd->part, nd->part_len)) {
        s_fail (nd->c, "installing a stream not received");
        return ZKV_EPROTO;
    }
    if (nd->applied != snap->index)
        s_fail (nd->c, "the stream is not the snapshot's state");
    nd->incomplete = false;
    nd->n_snap_applied++;
    return 0;
}

static void
sm_destroy (void *impl)
{
    (void)impl; // the node is the cluster's
}

static const zkv_sm_ops_t s_sm_ops = {
    .name = "chain",
    .applied = sm_applied,
    .boot = sm_boot,
    .prepare = sm_prepare,
    .apply = sm_apply,
    .read = sm_read,
    .blob_write = sm_blob_write,
    .blob_restore = sm_blob_restore,
    .view_open = sm_view_open,
    .view_close = sm_view_close,
    .reader_open = sm_reader_open,
    .reader_read = sm_reader_read,
    .reader_close = sm_reader_close,
    .recv_chunk = sm_recv_chunk,
    .recv_finish = sm_recv_finish,
    .destroy = sm_destroy,
};

// --- the node's host: the test's network, disk and clients --------------------------------------

static void
s_enqueue (cluster_t *c, const zkv_msg_t *msg)
{
    if (c->q_head + c->q_len >= MAXQ) {
        memmove (c->q, c->q + c->q_head, c->q_len * sizeof (zkv_msg_t));
        c->q_head = 0;
    }
    assert (c->q_head + c->q_len < MAXQ);
    c->q[c->q_head + c->q_len++] = *msg;
}

static void s_durable (cluster_t *c, int i, zkv_hard_state_t *hs, zkv_snapshot_meta_t *snap);

static void
h_send (void *arg, const zkv_msg_t *msg)
{
    node_t *nd = arg;
    const zkv_request_vote_reply_t *v = &msg->u.request_vote_reply;
    if (msg->type == ZKV_MSG_REQUEST_VOTE_REPLY && v->granted && !v->pre_vote) {
        // A vote leaves only once it is durable (Figure 2: persist before responding).
        zkv_hard_state_t hs;
        s_durable (nd->c, nd->i, &hs, NULL);
        if (hs.term != v->term || hs.vote != v->to)
            s_fail (nd->c, "a vote sent before it was durable");
    }
    zkv_msg_t copy;
    zkv_msg_clone (msg, &copy);
    s_enqueue (nd->c, &copy);
    assert (msg->type < 7);
    nd->c->sent[msg->type]++;
}

// The disk: syncs at once, or later (a slow disk), or the node crashes in the sync.
static int
h_sync (void *arg)
{
    node_t *nd = arg;
    cluster_t *c = nd->c;
    if (c->crash_pm && zkv_rng_chance (&c->rng, c->crash_pm, 1000)) {
        nd->crashing = true; // nothing more happens: no send, no apply
        return ZKV_REPLICA_SYNC_LATER;
    }
    if (c->slow_pm && zkv_rng_chance (&c->rng, c->slow_pm, 1000)) {
        nd->slow = true;
        return ZKV_REPLICA_SYNC_LATER;
    }
    return zkv_logstore_sync (nd->store);
}

static void
h_reply (void *arg, const zkv_msg_t *reply)
{
    node_t *nd = arg;
    const zkv_group_reply_t *r = &reply->u.group_reply;
    int status = -(int)r->status;
    if (r->handle == S_WRITE) {
        cluster_t *c = nd->c;
        nd->answered++;
        if (status == 0 && (r->seq >= c->n_values || !(c->values[r->seq] & S_APPLIED)))
            s_fail (c, "a write answered ok that was never applied");
        // "Not the leader" says the write was never proposed (a client counts it as not
        // applied); one proposed and then lost is "leader lost" (it may still commit).
        if (status == ZKV_ENOTLEADER) {
            s_value_room (c, r->seq);
            if (c->values[r->seq] & S_APPLIED)
                s_fail (c, "a write answered 'not the leader' was applied");
            c->values[r->seq] |= S_NOT_PROPOSED;
        }
        if (status != 0 && status != ZKV_ENOTLEADER && status != ZKV_ELEADERLOST)
            s_fail (c, "a write refused for no reason");
        if (status)
            c->writes_lost++;
        else
            c->writes_ok++;
        return;
    }
    if (nd->n_reads == 64)
        return;
    s_read_t *x = &nd->reads[nd->n_reads++];
    x->ctx = r->handle;
    x->status = status;
    x->applied = 0;
    if (r->value.len >= 8)
        memcpy (&x->applied, r->value.data, 8);
}

static void
h_state (void *arg, const zkv_msg_t *state)
{
    (void)arg, (void)state;
}

static void
h_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    (void)arg, (void)topic, (void)body;
}

static void
h_fatal (void *arg, const char *what, int rc)
{
    node_t *nd = arg;
    fprintf (stderr, "node %d: %s failed: %s\n", nd->i + 1, what, zkv_strerror (rc));
    s_fail (nd->c, "a store failed");
}

static const zkv_replica_host_t s_host = {
    .send = h_send,
    .sync = h_sync,
    .reply = h_reply,
    .state = h_state,
    .event = h_event,
    .fatal = h_fatal,
};

// --- the cluster ---------------------------------------------------------------------------------

static const zkv_raft_t *
s_raft (cluster_t *c, int i)
{
    assert (c->nodes[i].rep);
    return zkv_replica_raft (c->nodes[i].rep);
}

static void
s_status (cluster_t *c, int i, zkv_raft_status_t *st)
{
    zkv_raft_status (s_raft (c, i), st);
}

// What node i's store holds durably (its hard state and snapshot).
static void
s_durable (cluster_t *c, int i, zkv_hard_state_t *hs, zkv_snapshot_meta_t *snap)
{
    zkv_logstore_state_t st;
    if (zkv_logstore_load (c->nodes[i].mem, S_GROUP, &st) != 0)
        s_fail (c, "the memstore does not load");
    if (hs)
        *hs = st.hard_state;
    if (snap)
        *snap = st.snapshot;
    zkv_logstore_state_free (&st);
}

static void
s_check_leaders (cluster_t *c)
{
    for (int i = 0; i < c->n; i++) {
        if (!c->nodes[i].rep)
            continue;
        zkv_raft_status_t st;
        s_status (c, i, &st);
        if (st.role != ZKV_ROLE_LEADER)
            continue;
        if (st.term >= c->n_leader_of) {
            size_t n = c->n_leader_of ? c->n_leader_of : 64;
            while (n <= st.term)
                n *= 2;
            c->leader_of = realloc (c->leader_of, n * sizeof (uint64_t));
            memset (c->leader_of + c->n_leader_of, 0, (n - c->n_leader_of) * sizeof (uint64_t));
            c->n_leader_of = n;
        }
        if (c->leader_of[st.term] && c->leader_of[st.term] != st.id)
            s_fail (c, "two leaders in one term");
        c->leader_of[st.term] = st.id;
    }
}

// A crash: the replica goes, and the memstore keeps what was synced (torn: and a prefix of the
// rest). The state machine's own state stays as it is (durable in streaming mode; blob mode
// restores it from the snapshot at the next start).
static void
s_crash (cluster_t *c, int i, bool torn)
{
    node_t *nd = &c->nodes[i];
    nd->dropped += zkv_replica_waiting (nd->rep);
    zkv_replica_destroy (&nd->rep);
    zkv_memstore_crash (nd->mem, torn, zkv_rng_next (&c->rng));
    nd->crashing = nd->slow = false;
    s_durable (c, i, &nd->hs, NULL);
}

// Runs node i's driver after its inputs (unless a sync is outstanding), then carries out a crash
// that happened in a sync.
static void
s_drain (cluster_t *c, int i)
{
    node_t *nd = &c->nodes[i];
    if (nd->rep && !nd->crashing && !zkv_replica_syncing (nd->rep))
        zkv_replica_run (nd->rep);
    if (nd->crashing) {
        c->crashes++;
        s_crash (c, i, true);
    }
    s_check_leaders (c);
}

static void
s_start (cluster_t *c, int i)
{
    node_t *nd = &c->nodes[i];
    assert (!nd->rep);
    nd->cfg.snapshot_stream = c->stream;
    nd->cfg.seed = nd->cfg.seed * 31 + 7; // a new incarnation draws new timeouts
    zkv_replica_config_t rc;
    zkv_replica_config_defaults (&rc);
    rc.raft = nd->cfg;
    rc.snapshot_bytes = 0;
    rc.snapshot_entries = c->snapshot_every;
    rc.snapshot_bytes = c->snapshot_log;
    rc.snapshot_pause_ms = 0;
    int err = 0;
    nd->rep = zkv_replica_new (&rc, nd->store, zkv_sm_new (&s_sm_ops, nd), &s_host, nd, &err);
    if (!nd->rep) {
        fprintf (stderr, "node %d does not boot: %s\n", i + 1, zkv_strerror (err));
        abort (); // a bug: whatever a node stored, it boots
    }
    s_drain (c, i);
}

// A clean stop: what the node wrote reaches its disk, nothing else is done.
static void
s_stop (cluster_t *c, int i)
{
    node_t *nd = &c->nodes[i];
    if (nd->rep)
        nd->dropped += zkv_replica_waiting (nd->rep);
    zkv_replica_destroy (&nd->rep);
    if (zkv_logstore_sync (nd->mem) != 0)
        s_fail (c, "the memstore does not sync");
    nd->slow = false;
}

static cluster_t *
s_cluster_new (int n, uint64_t seed)
{
    cluster_t *c = calloc (1, sizeof *c);
    c->n = n;
    c->q = calloc (MAXQ, sizeof (zkv_msg_t));
    c->snap_size = 16;
    zkv_rng_seed (&c->rng, seed);
    for (int i = 0; i < n; i++) {
        node_t *nd = &c->nodes[i];
        nd->c = c;
        nd->i = i;
        for (int k = 0; k < n; k++)
            nd->voters[k] = (uint64_t)k + 1;
        zkv_raft_config_defaults (&nd->cfg);
        nd->cfg.group = S_GROUP;
        nd->cfg.id = (uint64_t)i + 1;
        nd->cfg.voters = nd->voters;
        nd->cfg.n_voters = (size_t)n;
        nd->cfg.seed = seed * 1000 + (uint64_t)i;
        nd->mem = zkv_memstore_new ();
        nd->store = zkv_logstore_new (&s_store_ops, nd);
    }
    return c;
}

static void
s_cluster_start (cluster_t *c)
{
    for (int i = 0; i < c->n; i++)
        s_start (c, i);
}

static void
s_cluster_destroy (cluster_t **c_p)
{
    cluster_t *c = *c_p;
    for (int i = 0; i < c->n; i++) {
        node_t *nd = &c->nodes[i];
        zkv_replica_destroy (&nd->rep);
        zkv_logstore_destroy (&nd->store);
        zkv_logstore_destroy (&nd->mem);
        free (nd->part);
    }
    for (size_t k = 0; k < c->q_len; k++)
        zkv_msg_free (&c->q[c->q_head + k]);
    for (size_t k = 0; k < c->n_late; k++)
        zkv_msg_free (&c->late[k]);
    free (c->late);
    free (c->late_due);
    free (c->q);
    free (c->hashes);
    free (c->values);
    free (c->leader_of);
    free (c);
    *c_p = NULL;
}

// Delivers every message in flight (and those they cause), dropping those on cut links or to
// nodes that are down; the lossy knobs drop, duplicate, swap and delay.
static void
s_deliver (cluster_t *c)
{
    size_t budget = 200000;
    while (c->q_len && budget--) {
        if (c->swap_pm && c->q_len >= 2 && zkv_rng_chance (&c->rng, c->swap_pm, 1000)) {
            zkv_msg_t t = c->q[c->q_head];
            c->q[c->q_head] = c->q[c->q_head + 1];
            c->q[c->q_head + 1] = t;
        }
        zkv_msg_t msg = c->q[c->q_head];
        c->q_head++;
        c->q_len--;
        if (c->q_len == 0)
            c->q_head = 0;
        if (c->delay_pm && zkv_rng_chance (&c->rng, c->delay_pm, 1000)) {
            c->late = realloc (c->late, (c->n_late + 1) * sizeof (zkv_msg_t));
            c->late_due = realloc (c->late_due, (c->n_late + 1) * sizeof (uint64_t));
            c->late[c->n_late] = msg;
            c->late_due[c->n_late++] = c->now + 1 + zkv_rng_below (&c->rng, 50);
            continue;
        }
        int from = (int)msg.u.hdr.from - 1, to = (int)msg.u.hdr.to - 1;
        node_t *nd = &c->nodes[to];
        bool drop = c->cut[from][to] || !nd->rep ||
                    (c->drop_pm && zkv_rng_chance (&c->rng, c->drop_pm, 1000));
        if (!drop) {
            int times = c->dup_pm && zkv_rng_chance (&c->rng, c->dup_pm, 1000) ? 2 : 1;
            for (int t = 0; t < times && nd->rep; t++) {
                zkv_replica_step (nd->rep, &msg);
                s_drain (c, to);
            }
        }
        zkv_msg_free (&msg);
    }
}

static void
s_tick (cluster_t *c)
{
    c->now++;
    for (size_t k = 0; k < c->n_late;) {
        if (c->late_due[k] <= c->now) {
            s_enqueue (c, &c->late[k]);
            c->late[k] = c->late[c->n_late - 1];
            c->late_due[k] = c->late_due[c->n_late - 1];
            c->n_late--;
        } else
            k++;
    }
    for (int i = 0; i < c->n; i++) {
        node_t *nd = &c->nodes[i];
        if (nd->rep && nd->slow) {
            // The slow disk is done: the driver finishes that ready and runs on.
            nd->slow = false;
            zkv_replica_synced (nd->rep, zkv_logstore_sync (nd->store));
            s_drain (c, i);
        }
        if (!nd->rep)
            continue;
        zkv_replica_tick (nd->rep);
        s_drain (c, i);
    }
    s_deliver (c);
}

static void
s_run (cluster_t *c, int ticks)
{
    for (int t = 0; t < ticks; t++)
        s_tick (c);
}

// The unique leader with the highest term among up nodes, or -1.
static int
s_leader (cluster_t *c)
{
    int best = -1;
    uint64_t best_term = 0;
    for (int i = 0; i < c->n; i++) {
        if (!c->nodes[i].rep)
            continue;
        zkv_raft_status_t st;
        s_status (c, i, &st);
        if (st.role == ZKV_ROLE_LEADER && st.term >= best_term) {
            best = i;
            best_term = st.term;
        }
    }
    return best;
}

static int
s_wait_leader (cluster_t *c, int max_ticks)
{
    for (int t = 0; t < max_ticks; t++) {
        int l = s_leader (c);
        if (l >= 0)
            return l;
        s_tick (c);
    }
    return -1;
}

static uint64_t
s_term (cluster_t *c, int i)
{
    zkv_raft_status_t st;
    s_status (c, i, &st);
    return st.term;
}

// Proposes v at node i (a write request to its driver): 0 with its index, or ZKV_ENOTLEADER.
static int
s_propose (cluster_t *c, int i, uint64_t v, uint64_t *index_p)
{
    uint8_t buf[8];
    memcpy (buf, &v, 8);
    zkv_group_request_t req = {.group = S_GROUP,
                               .handle = S_WRITE,
                               .client_id = 1,
                               .seq = v,
                               .op = S_OP_RAW,
                               .value = {buf, sizeof buf}};
    c->nodes[i].asked++;
    if (!zkv_replica_request (c->nodes[i].rep, &req, index_p, NULL))
        return ZKV_ENOTLEADER;
    s_drain (c, i);
    return 0;
}

// Asks node i for a linearizable read tagged ctx; its answer comes in nodes[i].reads (the
// driver is not run: several reads may share a ReadIndex round).
static void
s_read (cluster_t *c, int i, uint64_t ctx)
{
    zkv_group_request_t req = {
        .group = S_GROUP, .handle = ctx, .client_id = 2, .seq = ctx, .op = S_OP_READ};
    zkv_replica_request (c->nodes[i].rep, &req, NULL, NULL);
}

// Every write asked of a node was answered once, is waiting, or was waiting when it went down.
static bool
s_writes_add_up (cluster_t *c)
{
    for (int i = 0; i < c->n; i++) {
        node_t *nd = &c->nodes[i];
        size_t waiting = nd->rep ? zkv_replica_waiting (nd->rep) : 0;
        if (nd->asked != nd->answered + nd->dropped + waiting) {
            fprintf (stderr,
                     "node %d: %" PRIu64 " writes asked, %" PRIu64 " answered, %" PRIu64
                     " dropped, %zu waiting\n",
                     i + 1, nd->asked, nd->answered, nd->dropped, waiting);
            return false;
        }
    }
    return true;
}

// Runs until every up node applied index (or max_ticks pass).
static bool
s_wait_applied (cluster_t *c, uint64_t index, int max_ticks)
{
    for (int t = 0; t <= max_ticks; t++) {
        bool all = true;
        for (int i = 0; i < c->n; i++)
            if (c->nodes[i].rep && c->nodes[i].applied < index)
                all = false;
        if (all)
            return true;
        s_tick (c);
    }
    return false;
}

// --- tests -------------------------------------------------------------------------------------

static void
test_bad_config (void)
{
    uint64_t voters[3] = {1, 2, 3};
    zkv_raft_config_t cfg;
    zkv_raft_config_defaults (&cfg);
    CHECK_EQ_U64 (cfg.election_ticks, 10);
    CHECK_EQ_U64 (cfg.heartbeat_ticks, 1);
    CHECK (cfg.pre_vote && cfg.check_quorum);
    cfg.voters = voters;
    cfg.n_voters = 3;
    cfg.id = 4;
    CHECK (zkv_raft_new (&cfg, NULL) == NULL); // not a member
    cfg.id = 0;
    CHECK (zkv_raft_new (&cfg, NULL) == NULL);
    cfg.id = 1;
    cfg.heartbeat_ticks = 10;
    CHECK (zkv_raft_new (&cfg, NULL) == NULL); // heartbeat >= election
    cfg.heartbeat_ticks = 1;
    cfg.max_inflight_msgs = 0;
    CHECK (zkv_raft_new (&cfg, NULL) == NULL);
    cfg.max_inflight_msgs = 4;
    voters[2] = 2;
    CHECK (zkv_raft_new (&cfg, NULL) == NULL); // duplicate member
    voters[2] = 3;
    zkv_raft_t *r = zkv_raft_new (&cfg, NULL);
    CHECK (r);
    CHECK_EQ_U64 (zkv_raft_propose (r, (const uint8_t *)"x", 1, NULL, NULL), ZKV_ENOTLEADER);
    // Messages for another group or node are refused.
    zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE};
    m.u.request_vote.group = 99;
    m.u.request_vote.from = 2;
    m.u.request_vote.to = 1;
    m.u.request_vote.term = 5;
    CHECK (zkv_raft_step (r, &m) < 0);
    m.u.request_vote.group = 0;
    m.u.request_vote.to = 3;
    CHECK (zkv_raft_step (r, &m) < 0);
    zkv_raft_destroy (&r);
    CHECK (r == NULL);
    zkv_raft_destroy (&r);
}

static void
test_single_node (void)
{
    cluster_t *c = s_cluster_new (1, 1);
    s_cluster_start (c);
    int l = s_wait_leader (c, 50);
    CHECK (l == 0);
    uint64_t index;
    CHECK (s_propose (c, 0, 42, &index) == 0);
    CHECK (s_wait_applied (c, index, 5));
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_elect_one_leader (void)
{
    for (int n = 3; n <= 5; n += 2) {
        for (uint64_t seed = 1; seed <= 20; seed++) {
            cluster_t *c = s_cluster_new (n, seed);
            s_cluster_start (c);
            int l = s_wait_leader (c, 100);
            CHECK (l >= 0);
            uint64_t term = s_term (c, l);
            s_run (c, 50); // a stable leader stays
            CHECK_EQ_U64 (s_leader (c), l);
            CHECK_EQ_U64 (s_term (c, l), term);
            for (int i = 0; i < n; i++) {
                zkv_raft_status_t st;
                s_status (c, i, &st);
                CHECK_EQ_U64 (st.term, term);
                CHECK_EQ_U64 (st.leader, (uint64_t)l + 1);
            }
            CHECK (!c->failed);
            s_cluster_destroy (&c);
        }
    }
}

static void
test_agreement (void)
{
    cluster_t *c = s_cluster_new (3, 3);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    s_run (c, 5);
    // Pipelining: ten proposals at once cost about one append per follower each.
    uint64_t before = c->sent[ZKV_MSG_APPEND_ENTRIES];
    uint64_t index = 0;
    for (uint64_t v = 1; v <= 10; v++)
        CHECK (s_propose (c, l, v, &index) == 0);
    s_deliver (c);
    CHECK (s_wait_applied (c, index, 3));
    uint64_t appends = c->sent[ZKV_MSG_APPEND_ENTRIES] - before;
    CHECK (appends <= 2 * 10 + 2 * 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_U64 (c->nodes[i].applied, index);
        CHECK_EQ_U64 (c->nodes[i].sm, c->nodes[l].sm);
    }
    CHECK_EQ_U64 (c->writes_ok, 10); // each write answered once, ok
    CHECK_EQ_U64 (c->writes_lost, 0);
    CHECK (s_writes_add_up (c));
    // An idle group sends one heartbeat and one reply per follower per heartbeat period.
    uint64_t msgs = 0, msgs2 = 0;
    for (int t = 0; t < 7; t++)
        msgs += c->sent[t];
    s_run (c, 10);
    for (int t = 0; t < 7; t++)
        msgs2 += c->sent[t];
    CHECK_EQ_U64 (msgs2 - msgs, 10 * 2 * 2);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_leader_failure (void)
{
    cluster_t *c = s_cluster_new (5, 5);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    uint64_t index = 0;
    for (uint64_t v = 1; v <= 5; v++)
        CHECK (s_propose (c, l, v, &index) == 0);
    CHECK (s_wait_applied (c, index, 5));
    uint64_t old_term = s_term (c, l);
    s_stop (c, l);
    int l2 = s_wait_leader (c, 200);
    CHECK (l2 >= 0 && l2 != l);
    CHECK (s_term (c, l2) > old_term);
    uint64_t index2;
    CHECK (s_propose (c, l2, 100, &index2) == 0);
    CHECK (index2 > index);
    CHECK (s_wait_applied (c, index2, 10));
    // The old leader comes back, steps down and catches up.
    s_start (c, l);
    CHECK (s_wait_applied (c, index2, 20));
    CHECK_EQ_U64 (s_leader (c), l2);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_U64 (c->nodes[i].sm, c->nodes[l2].sm);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_follower_catch_up (void)
{
    cluster_t *c = s_cluster_new (3, 9);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    int f = (l + 1) % 3;
    s_stop (c, f);
    uint64_t index = 0;
    for (uint64_t v = 1; v <= 600; v++) {
        CHECK (s_propose (c, l, v, &index) == 0);
        if (v % 50 == 0)
            s_tick (c);
    }
    s_tick (c);
    s_start (c, f);
    CHECK (s_wait_applied (c, index, 20));
    CHECK_EQ_U64 (c->nodes[f].sm, c->nodes[l].sm);
    CHECK_EQ_U64 (s_leader (c), l);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_snapshot_install (void)
{
    cluster_t *c = s_cluster_new (3, 11);
    c->snapshot_every = 20;
    c->snap_size = 5000;
    for (int i = 0; i < 3; i++)
        c->nodes[i].cfg.snapshot_chunk_bytes = 1000;
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    int f = (l + 2) % 3;
    // Cut the follower off (still running), so it lags behind the leader's snapshot.
    for (int i = 0; i < 3; i++) {
        c->cut[i][f] = true;
        c->cut[f][i] = true;
    }
    uint64_t index = 0;
    for (uint64_t v = 1; v <= 75; v++) {
        CHECK (s_propose (c, l, v, &index) == 0);
        s_deliver (c);
    }
    s_run (c, 2);
    zkv_raft_status_t st;
    s_status (c, l, &st);
    CHECK (st.snapshot_index >= 60);
    CHECK (st.first_index == st.snapshot_index + 1);
    uint64_t before = c->sent[ZKV_MSG_INSTALL_SNAPSHOT];
    for (int i = 0; i < 3; i++) {
        c->cut[i][f] = false;
        c->cut[f][i] = false;
    }
    CHECK (s_wait_applied (c, index, 50));
    CHECK (c->sent[ZKV_MSG_INSTALL_SNAPSHOT] - before >= 5); // 5000 bytes in 1000-byte chunks
    CHECK_EQ_U64 (c->nodes[f].n_snap_applied, 1);
    CHECK_EQ_U64 (c->nodes[f].sm, c->nodes[l].sm);
    CHECK_EQ_U64 (c->nodes[f].applied, c->nodes[l].applied);
    s_status (c, f, &st);
    CHECK (st.snapshot_index >= 60);
    // It keeps up with new entries afterwards, and survives a restart from what it stored.
    CHECK (s_propose (c, l, 1000, &index) == 0);
    CHECK (s_wait_applied (c, index, 5));
    s_stop (c, f);
    s_start (c, f);
    CHECK (s_wait_applied (c, index, 10));
    CHECK_EQ_U64 (c->nodes[f].sm, c->nodes[l].sm);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_prevote_isolated (void)
{
    cluster_t *c = s_cluster_new (3, 13);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    uint64_t term = s_term (c, l);
    int f = (l + 1) % 3;
    for (int i = 0; i < 3; i++) {
        c->cut[i][f] = true;
        c->cut[f][i] = true;
    }
    s_run (c, 300);
    CHECK_EQ_U64 (s_term (c, f), term); // PreVote: an isolated node's term does not grow
    for (int i = 0; i < 3; i++) {
        c->cut[i][f] = false;
        c->cut[f][i] = false;
    }
    s_run (c, 30);
    CHECK_EQ_U64 (s_leader (c), l); // and it does not disrupt the leader when it returns
    CHECK_EQ_U64 (s_term (c, l), term);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_check_quorum (void)
{
    cluster_t *c = s_cluster_new (3, 17);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    for (int i = 0; i < 3; i++) {
        c->cut[i][l] = true;
        c->cut[l][i] = true;
    }
    s_run (c, 40);
    zkv_raft_status_t st;
    s_status (c, l, &st);
    CHECK (st.role != ZKV_ROLE_LEADER); // a leader without a quorum steps down
    int l2 = s_leader (c);
    CHECK (l2 >= 0 && l2 != l);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

static void
test_restart_keeps_term_and_vote (void)
{
    cluster_t *c = s_cluster_new (3, 19);
    s_cluster_start (c);
    int l = s_wait_leader (c, 100);
    CHECK (l >= 0);
    uint64_t index;
    CHECK (s_propose (c, l, 7, &index) == 0);
    CHECK (s_wait_applied (c, index, 5));
    for (int i = 0; i < 3; i++) {
        zkv_raft_status_t a, b;
        s_status (c, i, &a);
        s_stop (c, i);
        s_start (c, i);
        s_status (c, i, &b);
        CHECK_EQ_U64 (a.term, b.term);
        CHECK_EQ_U64 (a.vote, b.vote);
        CHECK_EQ_U64 (a.last_index, b.last_index);
        CHECK_EQ_U64 (b.role, ZKV_ROLE_FOLLOWER);
        CHECK_EQ_U64 (c->nodes[i].applied, b.applied);
    }
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

// A node that voted, crashed and restarted refuses a second candidate of the same term.
static void
test_no_double_vote (void)
{
    cluster_t *c = s_cluster_new (3, 23);
    s_cluster_start (c);
    zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE};
    m.u.request_vote.group = 7;
    m.u.request_vote.from = 2;
    m.u.request_vote.to = 1;
    m.u.request_vote.term = 5;
    zkv_replica_step (c->nodes[0].rep, &m);
    s_drain (c, 0);
    zkv_hard_state_t hs;
    s_durable (c, 0, &hs, NULL); // the vote leaves once it is durable
    CHECK_EQ_U64 (hs.term, 5);
    CHECK_EQ_U64 (hs.vote, 2);
    CHECK_EQ_U64 (c->q_len, 1);
    CHECK (c->q[c->q_head].u.request_vote_reply.granted);
    zkv_msg_free (&c->q[c->q_head]);
    c->q_len = 0;
    c->q_head = 0;
    s_stop (c, 0);
    s_start (c, 0);
    m.u.request_vote.from = 3;
    zkv_replica_step (c->nodes[0].rep, &m);
    s_drain (c, 0);
    CHECK_EQ_U64 (c->q_len, 1);
    CHECK (!c->q[c->q_head].u.request_vote_reply.granted);
    s_durable (c, 0, &hs, NULL);
    CHECK_EQ_U64 (hs.vote, 2);
    s_cluster_destroy (&c);
}

// Drops, duplicates, swaps, partitions, slow disks, crashes (torn in a sync, or between two
// readies) and restarts, with snapshots on: the safety checks run after every step; once
// healed, every node catches up. Odd seeds send the leader's appends before its own write.
// Streaming snapshots (stream) are read by a slow reader too, and some received chunks are
// refused as malformed.
static void
s_chaos (int n, uint64_t seed, bool snapshots, bool stream)
{
    cluster_t *c = s_cluster_new (n, seed);
    c->stream = stream;
    c->req_drop_pm = stream ? 100 : 0;
    c->reject_pm = stream ? 20 : 0;
    c->drop_pm = 100;
    c->dup_pm = 50;
    c->swap_pm = 200;
    c->delay_pm = 20;
    c->crash_pm = 3;
    c->slow_pm = 50;
    if (snapshots) {
        c->snapshot_every = 15;
        c->snap_size = 3000;
        for (int i = 0; i < n; i++)
            c->nodes[i].cfg.snapshot_chunk_bytes = 700;
    }
    for (int i = 0; i < n; i++) {
        c->nodes[i].cfg.max_inflight_msgs = 4;
        c->nodes[i].cfg.send_before_persist = seed & 1;
    }
    s_cluster_start (c);
    zkv_rng_t rng;
    zkv_rng_seed (&rng, seed ^ 0x5eed);
    uint64_t v = 0;
    for (int t = 0; t < 3000 && !c->failed; t++) {
        uint64_t roll = zkv_rng_below (&rng, 1000);
        int node = (int)zkv_rng_below (&rng, (uint64_t)n);
        int down = 0;
        for (int i = 0; i < n; i++)
            down += !c->nodes[i].rep;
        if (roll < 8 && c->nodes[node].rep && down < (n - 1) / 2) {
            if (zkv_rng_chance (&rng, 1, 2))
                s_stop (c, node);
            else
                s_crash (c, node, false); // what was not synced is lost
        } else if (roll < 30 && !c->nodes[node].rep)
            s_start (c, node);
        else if (roll < 40) {
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++)
                    c->cut[a][b] = zkv_rng_chance (&rng, 1, 4);
        } else if (roll < 100)
            memset (c->cut, 0, sizeof c->cut);
        int l = s_leader (c);
        if (l >= 0 && zkv_rng_chance (&rng, 1, 2)) {
            uint64_t index;
            s_propose (c, l, ++v, &index);
        }
        s_tick (c);
    }
    CHECK (!c->failed);
    memset (c->cut, 0, sizeof c->cut);
    c->drop_pm = c->dup_pm = c->swap_pm = c->delay_pm = c->crash_pm = c->slow_pm = 0;
    c->req_drop_pm = c->reject_pm = 0;
    for (int i = 0; i < n; i++)
        if (!c->nodes[i].rep)
            s_start (c, i);
    // The lab's one() with retry: an entry proposed just before a leader change may be lost.
    int l = -1;
    bool caught_up = false;
    for (int tries = 0; tries < 10 && !caught_up; tries++) {
        l = s_wait_leader (c, 300);
        CHECK (l >= 0);
        uint64_t index;
        CHECK (s_propose (c, l, ++v, &index) == 0);
        caught_up = s_wait_applied (c, index, 100);
        if (!caught_up && getenv ("RAFT_DEBUG"))
            fprintf (stderr, "retry: leader %d term %" PRIu64 " now leader %d\n", l + 1,
                     s_term (c, l), s_leader (c) + 1);
    }
    if (!caught_up)
        for (int i = 0; i < n; i++) {
            zkv_raft_status_t st;
            s_status (c, i, &st);
            fprintf (stderr,
                     "node %d: %s term %" PRIu64 " leader %" PRIu64 " commit %" PRIu64
                     " applied %" PRIu64 " first %" PRIu64 " last %" PRIu64 " snap %" PRIu64 "\n",
                     i + 1, zkv_role_name (st.role), st.term, st.leader, st.commit, st.applied,
                     st.first_index, st.last_index, st.snapshot_index);
        }
    CHECK (caught_up);
    for (int i = 0; i < n; i++)
        CHECK_EQ_U64 (c->nodes[i].sm, c->nodes[l].sm);
    CHECK (s_writes_add_up (c));
    CHECK (!c->failed);
    uint64_t index = c->nodes[l].applied;
    if (getenv ("RAFT_DEBUG")) {
        uint64_t snaps = 0;
        for (int i = 0; i < n; i++)
            snaps += c->nodes[i].n_snap_applied;
        fprintf (stderr,
                 "n=%d seed=%" PRIu64 " term=%" PRIu64 " applied=%" PRIu64 " proposed=%" PRIu64
                 " installs=%" PRIu64 " ae=%" PRIu64 " is=%" PRIu64 " crashes=%" PRIu64
                 " rejected=%" PRIu64 " writes ok=%" PRIu64 " lost=%" PRIu64 "\n",
                 n, seed, s_term (c, l), index, v, snaps, c->sent[ZKV_MSG_APPEND_ENTRIES],
                 c->sent[ZKV_MSG_INSTALL_SNAPSHOT], c->crashes, c->rejected, c->writes_ok,
                 c->writes_lost);
    }
    s_cluster_destroy (&c);
}

static void
test_chaos (void)
{
    // RAFT_CHAOS_FROM and RAFT_CHAOS_SEEDS run other seeds (a soak); 1 and 30 by default.
    uint64_t from =
        getenv ("RAFT_CHAOS_FROM") ? strtoull (getenv ("RAFT_CHAOS_FROM"), NULL, 10) : 1;
    uint64_t n =
        getenv ("RAFT_CHAOS_SEEDS") ? strtoull (getenv ("RAFT_CHAOS_SEEDS"), NULL, 10) : 30;
    for (uint64_t seed = from; seed < from + n && !zkv_test_failed_; seed++) {
        s_chaos (3, seed, false, false);
        s_chaos (5, seed, true, false);
        s_chaos (3, seed + 100, true, false);
        s_chaos (3, seed + 200, true, true);
        if (zkv_test_failed_)
            fprintf (stderr, "chaos seed %" PRIu64 "\n", seed);
    }
}

// --- one core: its rules, message by message ----------------------------------------------------
//
// These tests check the core's rules one message at a time, so they drive one bare core
// (zkv_raft.h): the test is its peers and its disk. s_one_take takes the core's readies and
// records what they hold (messages, entries, commits, reads, chunks), then advances: nothing is
// persisted, sent or applied, the test checks what the core asked for.

typedef struct {
    zkv_raft_t *r;             // the core under test
    zkv_raft_ready_t rd;       // its last ready (advanced)
    zkv_msg_t out[64];         // copies of the messages of the last ready
    size_t n_out;              // their number
    uint64_t truncate_from;    // of the last ready
    size_t n_entries;          // of the last ready
    size_t n_committed;        // of the last ready
    uint64_t last_committed;   // index of the last committed entry handed out
    bool apply_snapshot;       // of the last ready
    zkv_raft_read_t reads[16]; // reads of every ready so far (first 16)
    size_t n_reads;            // their number
    size_t n_chunk_reqs;       // streaming: chunk requests of every ready so far
    size_t n_chunks;           // streaming: received chunks handed out so far
    size_t n_want;             // streaming: readies that wanted a snapshot so far
} one_t;

// s_one_new's mode: streaming snapshots.
static bool s_one_stream;
// s_one_new's leader budget of uncommitted bytes (0: the default, none).
static uint64_t s_one_max_uncommitted;
static uint64_t s_one_max_inflight_bytes; // 0: the default

static void
s_one_take (one_t *o)
{
    for (size_t i = 0; i < o->n_out; i++)
        zkv_msg_free (&o->out[i]);
    o->n_out = 0;
    o->truncate_from = 0;
    o->n_entries = 0;
    o->n_committed = 0;
    o->apply_snapshot = false;
    while (zkv_raft_has_ready (o->r)) {
        zkv_raft_ready (o->r, &o->rd);
        for (size_t i = 0; i < o->rd.n_msgs && o->n_out < 64; i++)
            zkv_msg_clone (&o->rd.msgs[i], &o->out[o->n_out++]);
        if (o->rd.truncate_from)
            o->truncate_from = o->rd.truncate_from;
        o->n_entries += o->rd.n_entries;
        o->n_committed += o->rd.n_committed;
        if (o->rd.n_committed)
            o->last_committed = o->rd.committed[o->rd.n_committed - 1].index;
        o->apply_snapshot |= o->rd.apply_snapshot;
        for (size_t i = 0; i < o->rd.n_reads && o->n_reads < 16; i++)
            o->reads[o->n_reads++] = o->rd.reads[i];
        o->n_chunk_reqs += o->rd.n_chunk_reqs;
        o->n_chunks += o->rd.has_chunk;
        o->n_want += o->rd.want_snapshot;
        zkv_raft_advance (o->r, &o->rd);
    }
}

static void
s_one_free (one_t *o)
{
    for (size_t i = 0; i < o->n_out; i++)
        zkv_msg_free (&o->out[i]);
    zkv_raft_destroy (&o->r);
}

static void
s_one_new (one_t *o, uint64_t *voters, size_t n)
{
    memset (o, 0, sizeof *o);
    zkv_raft_config_t cfg;
    zkv_raft_config_defaults (&cfg);
    cfg.group = 7;
    cfg.id = 1;
    cfg.voters = voters;
    cfg.n_voters = n;
    cfg.seed = 1;
    cfg.snapshot_stream = s_one_stream;
    cfg.max_uncommitted_bytes = s_one_max_uncommitted;
    if (s_one_max_inflight_bytes) {
        cfg.max_inflight_bytes = s_one_max_inflight_bytes;
        cfg.max_bytes_per_msg = 100; // one 100-byte entry per message
    }
    o->r = zkv_raft_new (&cfg, NULL);
}

// Steps an AppendEntries from `from` in `term`: prev (index, term), entries given by their
// terms, starting at prev + 1.
static void
s_one_append (one_t *o, uint64_t from, uint64_t term, uint64_t prev, uint64_t prev_term,
              const uint64_t *terms, size_t n, uint64_t commit)
{
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES};
    zkv_append_entries_t *a = &m.u.append_entries;
    a->group = 7;
    a->from = from;
    a->to = 1;
    a->term = term;
    a->prev_log_index = prev;
    a->prev_log_term = prev_term;
    a->commit = commit;
    zkv_entry_t items[16];
    for (size_t i = 0; i < n; i++) {
        items[i].term = terms[i];
        items[i].index = prev + 1 + i;
        items[i].type = ZKV_ENTRY_NORMAL;
        items[i].data.data = (uint8_t *)"cmd";
        items[i].data.len = 3;
    }
    a->entries.items = items;
    a->entries.count = n;
    int rc = zkv_raft_step (o->r, &m);
    assert (rc == 0);
    (void)rc;
    s_one_take (o);
}

static void
test_follower_append_rules (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    uint64_t t1[4] = {1, 1, 1, 1};
    s_one_append (&o, 2, 1, 0, 0, t1, 3, 0);
    CHECK_EQ_U64 (o.n_entries, 3);
    CHECK_EQ_U64 (o.n_out, 1);
    CHECK (o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.match_index, 3);
    CHECK_EQ_U64 (o.out[0].u.hdr.term, 1);
    // A duplicate changes nothing and is acknowledged again.
    s_one_append (&o, 2, 1, 0, 0, t1, 3, 0);
    CHECK_EQ_U64 (o.n_entries, 0);
    CHECK_EQ_U64 (o.truncate_from, 0);
    CHECK (o.out[0].u.append_entries_reply.success);
    // Commit is bounded by what the message verified: min(leader commit, last new entry).
    s_one_append (&o, 2, 1, 3, 1, t1, 1, 10);
    CHECK_EQ_U64 (o.n_committed, 4);
    CHECK_EQ_U64 (o.last_committed, 4);
    // A stale, shorter append does not truncate the entries after it.
    s_one_append (&o, 2, 1, 0, 0, t1, 1, 0);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.last_index, 4);
    CHECK_EQ_U64 (o.truncate_from, 0);
    // Too short: conflict at our end.
    s_one_append (&o, 2, 1, 9, 1, NULL, 0, 4);
    CHECK (!o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_index, 5);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_term, 0);
    // A new leader (term 3) replaces an uncommitted suffix: entries 5-6 of term 1, then 5 of 3.
    s_one_append (&o, 2, 1, 4, 1, t1, 2, 4);
    CHECK_EQ_U64 (o.n_entries, 2);
    uint64_t t3[1] = {3};
    // prev 5 at term 3 mismatches our 5@1: conflict term 1, first index of term 1 (1), and
    // no term change to the log.
    s_one_append (&o, 3, 3, 5, 3, t3, 1, 4);
    CHECK (!o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_term, 1);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_index, 1);
    CHECK_EQ_U64 (o.out[0].u.hdr.term, 3);
    s_one_append (&o, 3, 3, 4, 1, t3, 1, 4);
    CHECK_EQ_U64 (o.truncate_from, 5);
    CHECK_EQ_U64 (o.n_entries, 1);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.last_index, 5);
    CHECK_EQ_U64 (st.last_term, 3);
    CHECK_EQ_U64 (st.leader, 3);
    // The old leader (term 1) is told the newer term.
    s_one_append (&o, 2, 1, 5, 1, NULL, 0, 4);
    CHECK_EQ_U64 (o.n_out, 1);
    CHECK (!o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.out[0].u.hdr.term, 3);
    s_one_free (&o);
}

static void
s_one_chunk (one_t *o, uint64_t index, uint64_t term, uint64_t offset, uint64_t total,
             const uint8_t *data, size_t len)
{
    zkv_msg_t m = {.type = ZKV_MSG_INSTALL_SNAPSHOT};
    zkv_install_snapshot_t *a = &m.u.install_snapshot;
    a->group = 7;
    a->from = 2;
    a->to = 1;
    a->term = 2;
    a->last_index = index;
    a->last_term = term;
    a->offset = offset;
    a->total_size = total;
    a->done = offset + len == total;
    a->data.data = (uint8_t *)data;
    a->data.len = len;
    int rc = zkv_raft_step (o->r, &m);
    assert (rc == 0);
    (void)rc;
    s_one_take (o);
}

static void
test_follower_snapshot_chunks (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    uint64_t t1[4] = {1, 1, 1, 1};
    s_one_append (&o, 2, 1, 0, 0, t1, 4, 1); // entries 1-4 of term 1, commit 1
    uint8_t data[30];
    for (int i = 0; i < 30; i++)
        data[i] = (uint8_t)i;
    // Snapshot at 8 (term 2): our log has no entry 8, so it all goes.
    s_one_chunk (&o, 8, 2, 0, 30, data, 10);
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 10);
    CHECK (!o.out[0].u.install_snapshot_reply.done);
    s_one_chunk (&o, 8, 2, 0, 30, data, 10); // duplicate: still expects 10
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 10);
    s_one_chunk (&o, 8, 2, 20, 30, data + 20, 10); // out of order: asks for 10
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 10);
    s_one_chunk (&o, 9, 2, 10, 40, data, 10); // unknown transfer, not at 0: start over
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 0);
    s_one_chunk (&o, 8, 2, 10, 30, data + 10, 10);
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 20);
    s_one_chunk (&o, 8, 2, 20, 30, data + 20, 10);
    CHECK (o.out[0].u.install_snapshot_reply.done);
    CHECK (o.apply_snapshot);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.snapshot_index, 8);
    CHECK_EQ_U64 (st.commit, 8);
    CHECK_EQ_U64 (st.applied, 8);
    CHECK_EQ_U64 (st.last_index, 8);
    size_t len;
    const uint8_t *got = zkv_raft_snapshot_data (o.r, &len);
    CHECK_EQ_U64 (len, 30);
    CHECK (memcmp (got, data, 30) == 0);
    // A snapshot at or below the commit index is acknowledged, not installed.
    s_one_chunk (&o, 6, 2, 0, 30, data, 30);
    CHECK (o.out[0].u.install_snapshot_reply.done);
    CHECK (!o.apply_snapshot);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.snapshot_index, 8);
    uint64_t t2[1] = {2};
    s_one_append (&o, 2, 2, 8, 2, t2, 1, 9);
    CHECK (o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.last_committed, 9);
    s_one_free (&o);
}

// A snapshot that conflicts with stored entries after its index: those entries leave the
// store in a ready of their own, before the snapshot is saved (crash-safe order).
static void
test_snapshot_discard_order (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    uint64_t t1[4] = {1, 1, 1, 1};
    s_one_append (&o, 2, 1, 0, 0, t1, 4, 1);
    zkv_msg_t m = {.type = ZKV_MSG_INSTALL_SNAPSHOT};
    zkv_install_snapshot_t *a = &m.u.install_snapshot;
    a->group = 7;
    a->from = 3;
    a->to = 1;
    a->term = 2;
    a->last_index = 2;
    a->last_term = 2;
    a->total_size = 3;
    a->done = true;
    a->data.data = (uint8_t *)"abc";
    a->data.len = 3;
    CHECK (zkv_raft_step (o.r, &m) == 0);
    zkv_raft_ready_t rd;
    CHECK (zkv_raft_has_ready (o.r));
    zkv_raft_ready (o.r, &rd);
    CHECK_EQ_U64 (rd.truncate_from, 3);
    CHECK (!rd.has_snapshot);
    CHECK_EQ_U64 (rd.n_msgs, 0);
    CHECK_EQ_U64 (rd.n_entries, 0);
    zkv_raft_advance (o.r, &rd);
    CHECK (zkv_raft_has_ready (o.r));
    zkv_raft_ready (o.r, &rd);
    CHECK (rd.has_snapshot && rd.apply_snapshot);
    CHECK_EQ_U64 (rd.snapshot.index, 2);
    CHECK_EQ_U64 (rd.snapshot.term, 2);
    CHECK_EQ_U64 (rd.compact_to, 2);
    CHECK_EQ_U64 (rd.n_msgs, 1);
    CHECK (rd.msgs[0].u.install_snapshot_reply.done);
    CHECK (rd.has_hard_state);
    CHECK_EQ_U64 (rd.hard_state.term, 2);
    CHECK_EQ_U64 (rd.hard_state.commit, 2);
    zkv_raft_advance (o.r, &rd);
    CHECK (!zkv_raft_has_ready (o.r));
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.last_index, 2);
    CHECK_EQ_U64 (st.first_index, 3);
    s_one_free (&o);
}

static void
s_one_vote_reply (one_t *o, uint64_t from, uint64_t term, bool pre_vote, bool granted)
{
    zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE_REPLY};
    m.u.request_vote_reply.group = 7;
    m.u.request_vote_reply.from = from;
    m.u.request_vote_reply.to = 1;
    m.u.request_vote_reply.term = term;
    m.u.request_vote_reply.pre_vote = pre_vote;
    m.u.request_vote_reply.granted = granted;
    int rc = zkv_raft_step (o->r, &m);
    assert (rc == 0);
    (void)rc;
    s_one_take (o);
}

static zkv_role_t
s_one_tick_until_role (one_t *o, zkv_role_t role)
{
    zkv_raft_status_t st;
    for (int t = 0; t < 100; t++) {
        zkv_raft_tick (o->r);
        s_one_take (o);
        zkv_raft_status (o->r, &st);
        if (st.role == role)
            break;
    }
    return st.role;
}

// A vote that arrives after the candidacy timed out into a PreVote round still counts.
static void
test_late_vote_counts (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    CHECK_EQ_U64 (s_one_tick_until_role (&o, ZKV_ROLE_PRE_CANDIDATE), ZKV_ROLE_PRE_CANDIDATE);
    CHECK_EQ_U64 (o.n_out, 2);
    CHECK (o.out[0].u.request_vote.pre_vote);
    CHECK_EQ_U64 (o.out[0].u.hdr.term, 1);
    s_one_vote_reply (&o, 2, 1, true, true);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_CANDIDATE);
    CHECK_EQ_U64 (st.term, 1);
    CHECK_EQ_U64 (st.vote, 1);
    // The candidacy times out; a new PreVote round (for term 2) starts.
    CHECK_EQ_U64 (s_one_tick_until_role (&o, ZKV_ROLE_PRE_CANDIDATE), ZKV_ROLE_PRE_CANDIDATE);
    CHECK_EQ_U64 (o.out[0].u.hdr.term, 2);
    // A duplicate refusal and then the late grant of term 1: leader of term 1.
    s_one_vote_reply (&o, 2, 1, false, false);
    s_one_vote_reply (&o, 2, 1, false, false);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_PRE_CANDIDATE);
    s_one_vote_reply (&o, 3, 1, false, true);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_LEADER);
    CHECK_EQ_U64 (st.term, 1);
    CHECK_EQ_U64 (o.n_out, 2); // the new leader's first appends
    CHECK_EQ_U64 (o.out[0].type, ZKV_MSG_APPEND_ENTRIES);
    s_one_free (&o);
}

// --- ReadIndex (dissertation §6.4) ------------------------------------------------------------

static void
s_one_append_reply (one_t *o, uint64_t from, uint64_t term, bool success, uint64_t match,
                    uint64_t ctx)
{
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
    zkv_append_entries_reply_t *r = &m.u.append_entries_reply;
    r->group = 7;
    r->from = from;
    r->to = 1;
    r->term = term;
    r->success = success;
    r->match_index = match;
    r->ctx = ctx;
    int rc = zkv_raft_step (o->r, &m);
    assert (rc == 0);
    (void)rc;
    s_one_take (o);
}

// Node 1 of {1, 2, 3} wins term 1 with node 2's votes; its no-op (index 1) is persisted.
static void
s_one_elect (one_t *o, uint64_t *voters)
{
    s_one_new (o, voters, 3);
    s_one_tick_until_role (o, ZKV_ROLE_PRE_CANDIDATE);
    s_one_vote_reply (o, 2, 1, true, true);
    s_one_vote_reply (o, 2, 1, false, true);
}

// A new leader answers no read before it committed an entry of its own term, however many
// followers confirm the round; then the read's index is that commit.
static void
test_read_index_waits_for_own_term (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_elect (&o, voters);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_LEADER);
    CHECK_EQ_U64 (st.commit, 0);
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 5), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_out, 2); // one round: an AppendEntries to each follower, ctx 1
    CHECK_EQ_U64 (o.out[0].type, ZKV_MSG_APPEND_ENTRIES);
    CHECK_EQ_U64 (o.out[0].u.append_entries.ctx, 1);
    CHECK_EQ_U64 (o.out[1].u.append_entries.ctx, 1);
    CHECK_EQ_U64 (o.out[0].u.append_entries.entries.count, 0);
    // Node 2 confirms round 1 but does not hold the no-op yet: leadership is proven, the
    // commit index is not.
    s_one_append_reply (&o, 2, 1, true, 0, 1);
    CHECK_EQ_U64 (o.n_reads, 0);
    // A reply echoing a round never sent confirms nothing.
    s_one_append_reply (&o, 3, 1, true, 0, 9);
    CHECK_EQ_U64 (o.n_reads, 0);
    // Node 2 stores the no-op: committed; the read is ready at index 1.
    s_one_append_reply (&o, 2, 1, true, 1, 1);
    CHECK_EQ_U64 (o.n_reads, 1);
    CHECK_EQ_U64 (o.reads[0].ctx, 5);
    CHECK_EQ_U64 (o.reads[0].index, 1);
    s_one_free (&o);
}

// Reads arriving while a round is in flight share the next round; a reply of an older round
// does not confirm a newer read; a leader that steps down fails what it holds.
static void
test_read_index_rounds (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_elect (&o, voters);
    s_one_append_reply (&o, 2, 1, true, 1, 0); // no-op committed, no round yet
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 10), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_out, 2); // round 1
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 11), 0);
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 12), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_out, 0); // they wait for round 2, sent once round 1 is confirmed
    s_one_append_reply (&o, 3, 1, true, 1, 1);
    CHECK_EQ_U64 (o.n_reads, 1);
    CHECK_EQ_U64 (o.reads[0].ctx, 10);
    CHECK_EQ_U64 (o.reads[0].index, 1);
    CHECK_EQ_U64 (o.n_out, 2); // round 2 leaves
    CHECK_EQ_U64 (o.out[0].u.append_entries.ctx, 2);
    s_one_append_reply (&o, 2, 1, true, 1, 1); // late echo of round 1: not enough
    CHECK_EQ_U64 (o.n_reads, 1);
    s_one_append_reply (&o, 2, 1, false, 1, 2); // even a rejection proves node 2 follows us
    CHECK_EQ_U64 (o.n_reads, 3);
    CHECK_EQ_U64 (o.reads[1].ctx + o.reads[2].ctx, 23);
    CHECK_EQ_U64 (o.reads[1].index, 1);
    // A pending read, then a newer term: the read fails.
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 13), 0);
    s_one_take (&o);
    s_one_append_reply (&o, 3, 2, false, 0, 0);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_FOLLOWER);
    CHECK_EQ_U64 (o.n_reads, 4);
    CHECK_EQ_U64 (o.reads[3].ctx, 13);
    CHECK_EQ_U64 (o.reads[3].index, 0);
    CHECK_EQ_U64 (zkv_raft_read_index (o.r, 14), ZKV_ENOTLEADER);
    s_one_free (&o);
}

// In a cluster: reads at the leader are served at its commit index with one round per batch;
// a partitioned leader never confirms a read, and fails it when it steps down.
static void
test_read_index_cluster (void)
{
    for (int quorum_check = 0; quorum_check < 2; quorum_check++) {
        cluster_t *c = s_cluster_new (3, 29);
        for (int i = 0; i < 3; i++)
            c->nodes[i].cfg.check_quorum = quorum_check;
        s_cluster_start (c);
        int l = s_wait_leader (c, 100);
        CHECK (l >= 0);
        uint64_t index;
        CHECK (s_propose (c, l, 77, &index) == 0);
        CHECK (s_wait_applied (c, index, 10));
        node_t *f = &c->nodes[(l + 1) % 3];
        s_read (c, (l + 1) % 3, 1); // a follower refuses
        CHECK_EQ_U64 (f->n_reads, 1);
        CHECK_EQ_U64 (f->reads[0].status, ZKV_ENOTLEADER);
        uint64_t appends = c->sent[ZKV_MSG_APPEND_ENTRIES];
        for (uint64_t ctx = 1; ctx <= 5; ctx++)
            s_read (c, l, ctx);
        s_drain (c, l);
        s_deliver (c);
        node_t *nd = &c->nodes[l];
        CHECK_EQ_U64 (nd->n_reads, 5);
        for (size_t k = 0; k < nd->n_reads; k++) {
            CHECK_EQ_U64 (nd->reads[k].status, 0);
            CHECK_EQ_U64 (nd->reads[k].applied, index); // served at the commit index
        }
        CHECK_EQ_U64 (c->sent[ZKV_MSG_APPEND_ENTRIES] - appends, 4); // two rounds of two
        // Cut off, the leader never confirms a read.
        for (int i = 0; i < 3; i++)
            c->cut[i][l] = c->cut[l][i] = true;
        s_read (c, l, 6);
        s_drain (c, l);
        for (int t = 0; t < 100 && nd->n_reads == 5; t++)
            s_tick (c);
        if (quorum_check) {
            // CheckQuorum: it steps down and fails the read.
            CHECK_EQ_U64 (nd->n_reads, 6);
            CHECK_EQ_U64 (nd->reads[5].ctx, 6);
            CHECK_EQ_U64 (nd->reads[5].status, ZKV_ENOTLEADER);
        } else {
            // Without it, it still thinks it leads; the others elected a new leader.
            CHECK_EQ_U64 (nd->n_reads, 5);
            zkv_raft_status_t st;
            s_status (c, l, &st);
            CHECK_EQ_U64 (st.role, ZKV_ROLE_LEADER);
            int l2 = s_leader (c);
            CHECK (l2 >= 0 && l2 != l);
            // Healed, it hears the newer term and fails the read.
            for (int i = 0; i < 3; i++)
                c->cut[i][l] = c->cut[l][i] = false;
            s_run (c, 20);
            CHECK_EQ_U64 (nd->n_reads, 6);
            CHECK_EQ_U64 (nd->reads[5].status, ZKV_ENOTLEADER);
        }
        CHECK (!c->failed);
        s_cluster_destroy (&c);
    }
}

static void
test_read_index_single_node (void)
{
    cluster_t *c = s_cluster_new (1, 3);
    s_cluster_start (c);
    CHECK (s_wait_leader (c, 50) == 0);
    s_run (c, 2);
    s_read (c, 0, 9);
    s_drain (c, 0);
    CHECK_EQ_U64 (c->nodes[0].n_reads, 1);
    CHECK_EQ_U64 (c->nodes[0].reads[0].ctx, 9);
    CHECK_EQ_U64 (c->nodes[0].reads[0].status, 0);
    CHECK_EQ_U64 (c->nodes[0].reads[0].applied, 1); // the no-op
    s_cluster_destroy (&c);
}

// send_before_persist: the leader's AppendEntries come in early_msgs, with the entries they
// carry still to persist; votes and acknowledgements stay in msgs. Off: early_msgs is empty.
static void
test_early_msgs (void)
{
    for (int early = 0; early < 2; early++) {
        uint64_t voters[3] = {1, 2, 3};
        zkv_raft_config_t cfg;
        zkv_raft_config_defaults (&cfg);
        cfg.group = 7;
        cfg.id = 1;
        cfg.voters = voters;
        cfg.n_voters = 3;
        cfg.seed = 1;
        cfg.send_before_persist = early;
        zkv_raft_t *r = zkv_raft_new (&cfg, NULL);
        zkv_raft_ready_t rd;
        zkv_raft_status_t st;
        do { // PreVote round
            zkv_raft_tick (r);
            zkv_raft_status (r, &st);
        } while (st.role != ZKV_ROLE_PRE_CANDIDATE);
        zkv_raft_ready (r, &rd);
        CHECK_EQ_U64 (rd.n_early_msgs, 0);
        CHECK_EQ_U64 (rd.n_msgs, 2);
        zkv_raft_advance (r, &rd);
        zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE_REPLY};
        m.u.request_vote_reply.group = 7;
        m.u.request_vote_reply.from = 2;
        m.u.request_vote_reply.to = 1;
        m.u.request_vote_reply.term = 1;
        m.u.request_vote_reply.pre_vote = true;
        m.u.request_vote_reply.granted = true;
        CHECK_EQ_U64 (zkv_raft_step (r, &m), 0);
        zkv_raft_ready (r, &rd); // candidate: term and vote to persist, then the requests
        CHECK (rd.has_hard_state);
        CHECK_EQ_U64 (rd.n_early_msgs, 0);
        CHECK_EQ_U64 (rd.n_msgs, 2);
        CHECK_EQ_U64 (rd.msgs[0].type, ZKV_MSG_REQUEST_VOTE);
        zkv_raft_advance (r, &rd);
        m.u.request_vote_reply.pre_vote = false;
        CHECK_EQ_U64 (zkv_raft_step (r, &m), 0);
        zkv_raft_ready (r, &rd); // leader: its no-op to persist, appends early (or not)
        CHECK_EQ_U64 (rd.n_entries, 1);
        CHECK_EQ_U64 (rd.n_early_msgs, early ? 2 : 0);
        CHECK_EQ_U64 (rd.n_msgs, early ? 0 : 2);
        const zkv_msg_t *ae = early ? rd.early_msgs : rd.msgs;
        CHECK_EQ_U64 (ae[0].type, ZKV_MSG_APPEND_ENTRIES);
        CHECK_EQ_U64 (ae[0].u.append_entries.entries.count, 1);
        // Before the leader's own write is done, a follower's acknowledgement does not commit:
        // the leader counts itself at its stable index.
        zkv_msg_t ack = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
        ack.u.append_entries_reply.group = 7;
        ack.u.append_entries_reply.from = 2;
        ack.u.append_entries_reply.to = 1;
        ack.u.append_entries_reply.term = 1;
        ack.u.append_entries_reply.success = true;
        ack.u.append_entries_reply.match_index = 1;
        CHECK_EQ_U64 (zkv_raft_step (r, &ack), 0);
        zkv_raft_status (r, &st);
        CHECK_EQ_U64 (st.commit, 0);
        zkv_raft_advance (r, &rd); // written: now committed
        zkv_raft_status (r, &st);
        CHECK_EQ_U64 (st.commit, 1);
        zkv_raft_destroy (&r);
    }
}

// Counts the messages of type to `to` among the last ready's.
static size_t
s_one_count (const one_t *o, zkv_msg_type_t type, uint64_t to)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_out; i++)
        n += o->out[i].type == type && o->out[i].u.hdr.to == to;
    return n;
}

// A follower whose next entries were compacted gets a probe at the snapshot's index first; the
// snapshot follows a conflicting answer at once, a log too short only if it says so twice (a
// first "too short" may come from an append that overtook earlier ones).
static void
test_snapshot_only_when_behind (void)
{
    for (int conflict = 0; conflict < 2; conflict++) {
        uint64_t voters[3] = {1, 2, 3};
        one_t o;
        s_one_elect (&o, voters);
        for (int i = 0; i < 4; i++)
            CHECK_EQ_U64 (zkv_raft_propose (o.r, (const uint8_t *)"cmd", 3, NULL, NULL), 0);
        s_one_take (&o);
        s_one_append_reply (&o, 2, 1, true, 1, 0); // the probe: then 2..5 go to node 2
        s_one_append_reply (&o, 2, 1, true, 5, 0); // entries 1..5 committed
        CHECK_EQ_U64 (o.last_committed, 5);
        CHECK_EQ_U64 (zkv_raft_snapshot (o.r, 5, (const uint8_t *)"state", 5), 0);
        s_one_take (&o);
        // Node 3 answers the first probe (prev 0): everything it needs is compacted.
        s_one_append_reply (&o, 3, 1, true, 0, 0);
        CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_INSTALL_SNAPSHOT, 3), 0);
        CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 3), 1);
        CHECK_EQ_U64 (o.out[0].u.append_entries.prev_log_index, 5);
        zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
        zkv_append_entries_reply_t *r = &m.u.append_entries_reply;
        r->group = 7;
        r->from = 3;
        r->to = 1;
        r->term = 1;
        r->match_index = 5; // the refused prev
        r->conflict_index = conflict ? 2 : 3;
        r->conflict_term = conflict ? 1 : 0;
        if (conflict) { // its entry at 5 is of another term: a snapshot at once
            r->conflict_term = 1;
            CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
            s_one_take (&o);
            CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_INSTALL_SNAPSHOT, 3), 1);
            s_one_free (&o);
            continue;
        }
        CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0); // too short: maybe overtaken, wait
        s_one_take (&o);
        CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_INSTALL_SNAPSHOT, 3), 0);
        zkv_raft_tick (o.r); // the heartbeat probes again at the snapshot's index
        s_one_take (&o);
        CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_INSTALL_SNAPSHOT, 3), 0);
        bool probed = false;
        for (size_t i = 0; i < o.n_out; i++)
            probed |= o.out[i].type == ZKV_MSG_APPEND_ENTRIES && o.out[i].u.hdr.to == 3 &&
                      o.out[i].u.append_entries.prev_log_index == 5;
        CHECK (probed);
        CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0); // too short again: it is behind
        s_one_take (&o);
        CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_INSTALL_SNAPSHOT, 3), 1);
        s_one_free (&o);
    }
}

// --- streaming snapshots: the state machine's state is durable on its own ----------------------

// Snapshots every `every` applied entries (0: only when asked).
static cluster_t *
s_stream_cluster (uint64_t seed, size_t snap_size, size_t chunk, uint64_t every)
{
    cluster_t *c = s_cluster_new (3, seed);
    c->stream = true;
    c->snapshot_every = every;
    c->snap_size = snap_size;
    for (int i = 0; i < 3; i++)
        c->nodes[i].cfg.snapshot_chunk_bytes = chunk;
    s_cluster_start (c);
    return c;
}

// Proposes n values at the leader (re-finding it as needed); returns the last index.
static uint64_t
s_propose_n (cluster_t *c, int n, uint64_t base)
{
    uint64_t index = 0;
    for (int k = 0; k < n; k++) {
        int l = s_wait_leader (c, 1000);
        if (l < 0 || s_propose (c, l, base + (uint64_t)k, &index) != 0)
            k--;
        s_tick (c);
    }
    return index;
}

// Every up node holds the same state machine at the same applied index.
static bool
s_same_state (cluster_t *c)
{
    int first = -1;
    for (int i = 0; i < c->n; i++) {
        if (!c->nodes[i].rep)
            continue;
        if (first < 0)
            first = i;
        else if (c->nodes[i].applied != c->nodes[first].applied ||
                 c->nodes[i].sm != c->nodes[first].sm)
            return false;
    }
    return true;
}

// A lagging follower catches up through a stream of many chunks, which the core never holds:
// the leader's application reads each one from its view, the follower's writes each one.
static void
test_stream_catch_up (void)
{
    cluster_t *c = s_stream_cluster (11, 1000, 64, 10);
    CHECK (s_wait_leader (c, 1000) >= 0);
    int victim = (s_leader (c) + 1) % 3;
    s_stop (c, victim);
    uint64_t last = s_propose_n (c, 60, 100);
    s_start (c, victim);
    CHECK (s_wait_applied (c, last, 3000));
    s_run (c, 20);
    CHECK (!c->failed);
    CHECK (s_same_state (c));
    CHECK (c->nodes[victim].n_snap_applied >= 1);
    CHECK (c->sent[ZKV_MSG_INSTALL_SNAPSHOT] >= 1000 / 64);
    size_t len;
    CHECK (zkv_raft_snapshot_data (s_raft (c, s_leader (c)), &len) == NULL && len == 0);
    s_cluster_destroy (&c);
}

// No view outlives its use: once the transfer is done and view_idle_ms passed, every node has
// closed all it opened (a LevelDB view would keep deleted shards on disk for good).
static void
test_stream_views_released (void)
{
    cluster_t *c = s_stream_cluster (12, 1000, 64, 10);
    CHECK (s_wait_leader (c, 1000) >= 0);
    int victim = (s_leader (c) + 1) % 3;
    s_stop (c, victim);
    uint64_t last = s_propose_n (c, 60, 100);
    int leader = s_leader (c);
    CHECK (c->nodes[leader].views_open == 1); // its latest snapshot's, kept for transfers
    s_start (c, victim);
    CHECK (s_wait_applied (c, last, 3000));
    CHECK (c->nodes[victim].n_snap_applied >= 1);
    s_run (c, 2000 / 10 + 10); // the default view_idle_ms in 10 ms ticks, and a few more
    CHECK (!c->failed);
    for (int i = 0; i < 3; i++)
        CHECK (c->nodes[i].views_open == 0);
    // A follower that needs a snapshot later still gets one (a fresh one, over a new view).
    s_stop (c, victim);
    last = s_propose_n (c, 40, 500);
    s_run (c, 2000 / 10 + 10);
    s_start (c, victim);
    CHECK (s_wait_applied (c, last, 3000));
    CHECK (c->nodes[victim].n_snap_applied >= 2);
    CHECK (s_same_state (c));
    s_cluster_destroy (&c);
}

// Lost, duplicated, reordered and delayed messages, and chunks the application cannot read now:
// the transfer resumes from what the follower persisted, for several seeds.
static void
test_stream_lossy (void)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        cluster_t *c = s_stream_cluster (seed, 700, 50, 10);
        CHECK (s_wait_leader (c, 1000) >= 0);
        int victim = (s_leader (c) + 1) % 3;
        s_stop (c, victim);
        uint64_t last = s_propose_n (c, 40, 1000);
        c->drop_pm = 100;
        c->dup_pm = 50;
        c->swap_pm = 50;
        c->delay_pm = 20;
        c->req_drop_pm = 200;
        s_start (c, victim);
        s_run (c, 400);
        c->drop_pm = c->dup_pm = c->swap_pm = c->delay_pm = c->req_drop_pm = 0;
        last = s_propose_n (c, 5, 5000);
        CHECK (s_wait_applied (c, last, 5000));
        s_run (c, 100); // the held-back messages land
        CHECK (!c->failed);
        CHECK (s_same_state (c));
        CHECK (c->nodes[victim].n_snap_applied >= 1);
        s_cluster_destroy (&c);
    }
}

// The leader takes newer snapshots while a slow transfer runs (the application keeps only its
// latest view, so the old one cannot be read any more):
// the follower is told to drop the partial stream (a chunk at offset 0) and gets a newer one.
static void
test_stream_newer_snapshot (void)
{
    cluster_t *c = s_stream_cluster (5, 3000, 16, 10); // ~190 chunks
    CHECK (s_wait_leader (c, 1000) >= 0);
    int victim = (s_leader (c) + 1) % 3;
    s_stop (c, victim);
    s_propose_n (c, 30, 100);
    c->req_drop_pm = 700; // a slow reader: a chunk every few ticks
    s_start (c, victim);
    s_propose_n (c, 100, 2000); // snapshots every 10 entries meanwhile
    c->req_drop_pm = 0;
    uint64_t last = s_propose_n (c, 1, 9000);
    CHECK (s_wait_applied (c, last, 5000));
    s_run (c, 20);
    CHECK (!c->failed);
    CHECK (s_same_state (c));
    CHECK (c->nodes[victim].stream_starts >= 2);
    CHECK (c->nodes[victim].n_snap_applied >= 1);
    s_cluster_destroy (&c);
}

// A follower that crashes in the middle of a stream restarts with its old state (streams are
// staged apart from it): it is no worse than before the stream, may campaign, and catches up.
static void
test_stream_follower_crash (void)
{
    cluster_t *c = s_stream_cluster (3, 2000, 32, 10);
    CHECK (s_wait_leader (c, 1000) >= 0);
    int victim = (s_leader (c) + 1) % 3;
    node_t *v = &c->nodes[victim];
    s_stop (c, victim);
    uint64_t before = v->applied, before_sm = v->sm;
    s_propose_n (c, 40, 100);
    c->req_drop_pm = 700; // a slow reader: a chunk every few ticks
    s_start (c, victim);
    for (int t = 0; t < 500 && !(v->stream_starts && v->part_len > 200); t++)
        s_tick (c);
    CHECK (v->stream_starts && v->part_len > 200 && v->part_len < 2000);
    CHECK_EQ_U64 (v->applied, before); // nothing applied during the stream
    s_stop (c, victim);
    s_run (c, 5);
    s_start (c, victim);
    CHECK (!v->incomplete);
    CHECK_EQ_U64 (v->applied, before);
    CHECK_EQ_U64 (v->sm, before_sm);
    // Alone it campaigns (PreVote rounds): its state is whole.
    int other1 = (victim + 1) % 3, other2 = (victim + 2) % 3;
    c->cut[other1][victim] = c->cut[victim][other1] = c->cut[other2][victim] =
        c->cut[victim][other2] = true;
    bool campaigned = false;
    for (int t = 0; t < 200 && !campaigned; t++) {
        s_tick (c);
        zkv_raft_status_t st;
        s_status (c, victim, &st);
        campaigned = st.role != ZKV_ROLE_FOLLOWER;
    }
    CHECK (campaigned);
    memset (c->cut, 0, sizeof c->cut);
    c->req_drop_pm = 0;
    uint64_t last = s_propose_n (c, 10, 7000);
    CHECK (s_wait_applied (c, last, 5000));
    s_run (c, 20);
    CHECK (!c->failed);
    CHECK (v->n_snap_applied >= 1);
    CHECK (s_same_state (c));
    s_cluster_destroy (&c);
}

// Streaming: node i takes a snapshot at its applied index now (its driver opens the view its
// chunks are read from).
static void
s_stream_snapshot_now (cluster_t *c, int i)
{
    CHECK_EQ_U64 (zkv_replica_snapshot_now (c->nodes[i].rep), 0);
    s_drain (c, i);
}

// Proposes at the leader until the log reaches index at least, and waits until every node
// applied it; returns the last index.
static uint64_t
s_propose_to (cluster_t *c, uint64_t index)
{
    uint64_t last = 0;
    while (last < index)
        last = s_propose_n (c, 1, 300 + last);
    if (!s_wait_applied (c, last, 1000))
        s_fail (c, "not applied in time");
    return last;
}

// Nodes compact independently: a follower whose state went missing (need_snapshot) holds its
// own snapshot (~80) and the entries after it, and its leader's snapshot is older (~50).
// Installing that one would drop entries the follower acknowledged, so it refuses it; the
// leader's application is asked for a fresh snapshot, and the follower installs that one.
static void
test_stream_missing_state_needs_newer_snapshot (void)
{
    cluster_t *c = s_stream_cluster (21, 300, 40, 0); // snapshots taken by hand below
    int l = s_wait_leader (c, 1000);
    CHECK (l >= 0);
    if (l < 0) {
        s_cluster_destroy (&c);
        return;
    }
    int victim = (l + 1) % 3;
    node_t *v = &c->nodes[victim];
    uint64_t leader_snap = s_propose_to (c, 50);
    s_stream_snapshot_now (c, l);
    uint64_t own_snap = s_propose_to (c, leader_snap + 30);
    s_stream_snapshot_now (c, victim);
    uint64_t last = s_propose_to (c, own_snap + 10);
    CHECK (s_leader (c) == l);
    s_stop (c, victim);
    zkv_hard_state_t hs;
    zkv_snapshot_meta_t snap;
    s_durable (c, victim, &hs, &snap);
    CHECK_EQ_U64 (snap.index, own_snap);
    CHECK_EQ_U64 (hs.commit, last);
    v->incomplete = true; // its state machine's state went missing
    v->applied = 0;
    v->sm = 0;
    s_start (c, victim);
    last = s_propose_n (c, 5, 5000);
    CHECK (s_wait_applied (c, last, 3000));
    s_run (c, 20);
    CHECK (!c->failed);
    CHECK (!v->incomplete);
    CHECK (v->n_snap_applied >= 1);
    s_durable (c, victim, NULL, &snap);
    CHECK (snap.index >= own_snap);
    s_durable (c, l, NULL, &snap);
    CHECK (snap.index >= own_snap); // the leader took a fresh one
    CHECK (s_same_state (c));
    s_cluster_destroy (&c);
}

// Boots node 1 of {1, 2, 3} streaming with its state missing: snapshot at 80 (term 1), entries
// 81..90 of term 1, commit 90.
static void
s_one_boot_missing (one_t *o, uint64_t *voters)
{
    memset (o, 0, sizeof *o);
    zkv_raft_config_t cfg;
    zkv_raft_config_defaults (&cfg);
    cfg.group = 7;
    cfg.id = 1;
    cfg.voters = voters;
    cfg.n_voters = 3;
    cfg.seed = 1;
    cfg.snapshot_stream = true;
    cfg.need_snapshot = true;
    zkv_entry_t entries[10];
    for (int i = 0; i < 10; i++)
        entries[i] = (zkv_entry_t){.index = 81 + (uint64_t)i, .term = 1, .type = ZKV_ENTRY_NOOP};
    zkv_logstore_state_t boot = {.hard_state = {.term = 1, .commit = 90},
                                 .snapshot = {.index = 80, .term = 1},
                                 .entries = entries,
                                 .n_entries = 10};
    o->r = zkv_raft_new (&cfg, &boot);
    assert (o->r);
    s_one_take (o);
}

// A node whose state is missing (a rejoin after lost data) grants no vote, real or pre-vote:
// it may have lost a vote it gave. Following a leader records a vote for it in its term, so
// that once its state is back it cannot vote for another candidate of that term.
static void
test_missing_votes_for_no_one (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_boot_missing (&o, voters);
    for (int pre = 1; pre >= 0; pre--) {
        zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE};
        zkv_request_vote_t *v = &m.u.request_vote;
        v->group = 7;
        v->from = 2;
        v->to = 1;
        v->term = 2;
        v->pre_vote = pre;
        v->last_log_index = 500;
        v->last_log_term = 1;
        CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
        s_one_take (&o);
        CHECK_EQ_U64 (o.n_out, 1);
        CHECK (!o.out[0].u.request_vote_reply.granted);
    }
    zkv_raft_status_t st;
    // Node 3 leads term 3: followed, and its vote of term 3 is node 3's.
    s_one_append (&o, 3, 3, 90, 1, NULL, 0, 90);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.term, 3);
    CHECK_EQ_U64 (st.leader, 3);
    CHECK_EQ_U64 (st.vote, 3);
    s_one_free (&o);
}

// The follower's side of the above: its refusals name its own snapshot; an older snapshot is
// refused (next_offset UINT64_MAX) and nothing of it is written; one at or above its own is
// installed, the log after it kept, and the committed entries after it applied.
static void
test_stream_missing_refuses_older (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_boot_missing (&o, voters);
    uint64_t t1[1] = {1};
    s_one_append (&o, 2, 2, 90, 1, t1, 1, 90);
    CHECK (!o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_term, UINT64_MAX);
    CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_index, 80);
    uint8_t data[20] = {1, 2, 3};
    s_one_chunk (&o, 50, 1, 0, 20, data, 20);
    CHECK_EQ_U64 (o.n_out, 1);
    CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, UINT64_MAX);
    CHECK (!o.out[0].u.install_snapshot_reply.done);
    CHECK_EQ_U64 (o.n_chunks, 0);
    CHECK (!o.apply_snapshot);
    // Still refusing, still not campaigning.
    CHECK_EQ_U64 (s_one_tick_until_role (&o, ZKV_ROLE_PRE_CANDIDATE), ZKV_ROLE_FOLLOWER);
    s_one_chunk (&o, 85, 1, 0, 20, data, 20);
    CHECK_EQ_U64 (o.n_chunks, 1);
    CHECK (o.apply_snapshot);
    CHECK (o.out[0].u.install_snapshot_reply.done);
    CHECK_EQ_U64 (o.n_committed, 5); // 86..90
    CHECK_EQ_U64 (o.last_committed, 90);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.snapshot_index, 85);
    CHECK_EQ_U64 (st.commit, 90);
    CHECK_EQ_U64 (st.applied, 90);
    CHECK_EQ_U64 (st.last_index, 90);
    s_one_append (&o, 2, 2, 90, 1, t1, 1, 91);
    CHECK (o.out[0].u.append_entries_reply.success);
    CHECK_EQ_U64 (o.last_committed, 91);
    s_one_free (&o);
}

// A follower receiving a stream keeps its old state (the caller stages the stream), so it
// still campaigns when its leader goes quiet, abandoning the stream; and the first append of
// a later term's leader abandons the stream too and is followed normally.
static void
test_stream_receiving_may_lead (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_stream = true;
    for (int way = 0; way < 2; way++) {
        s_one_new (&o, voters, 3);
        uint64_t t1[4] = {1, 1, 1, 1};
        s_one_append (&o, 2, 1, 0, 0, t1, 4, 2); // entries 1..4 of term 1, commit 2
        CHECK_EQ_U64 (o.last_committed, 2);
        uint8_t data[30] = {7};
        s_one_chunk (&o, 50, 1, 0, 30, data, 10); // node 2 in term 2: a stream begins
        CHECK_EQ_U64 (o.n_chunks, 1);
        s_one_append (&o, 2, 2, 4, 1, NULL, 0, 4); // its heartbeat is refused meanwhile
        CHECK (!o.out[0].u.append_entries_reply.success);
        CHECK_EQ_U64 (o.out[0].u.append_entries_reply.conflict_term, UINT64_MAX);
        CHECK_EQ_U64 (o.n_committed, 0);
        if (way == 0) {
            CHECK_EQ_U64 (s_one_tick_until_role (&o, ZKV_ROLE_PRE_CANDIDATE),
                          ZKV_ROLE_PRE_CANDIDATE);
            s_one_chunk (&o, 50, 1, 10, 30, data + 10, 10); // the old stream's next chunk
            CHECK_EQ_U64 (o.out[0].u.install_snapshot_reply.next_offset, 0); // start over
        } else {
            uint64_t t3[1] = {3};
            s_one_append (&o, 3, 3, 4, 1, t3, 1, 5); // node 3 leads term 3
            CHECK (o.out[0].u.append_entries_reply.success);
            CHECK_EQ_U64 (o.out[0].u.append_entries_reply.match_index, 5);
            CHECK_EQ_U64 (o.last_committed, 5);
            CHECK (!o.apply_snapshot);
        }
        s_one_free (&o);
    }
    s_one_stream = false;
}

// The leader's side: a need-snapshot refusal whose floor is above the leader's snapshot asks
// the application for a fresh one (once applied reaches the floor) instead of streaming the
// old one; with it taken, the next refusal starts the transfer. A refused stream (next_offset
// UINT64_MAX) goes back to probing. A stale-term refusal (conflict_term 0) starts nothing.
static void
test_stream_leader_fresh_snapshot (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_stream = true;
    s_one_elect (&o, voters);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64 (zkv_raft_propose (o.r, (const uint8_t *)"cmd", 3, NULL, NULL), 0);
    s_one_take (&o);
    s_one_append_reply (&o, 2, 1, true, 1, 0); // the probe: then 2..5 go to node 2
    s_one_append_reply (&o, 2, 1, true, 5, 0); // entries 1..5 committed and applied
    CHECK_EQ_U64 (o.last_committed, 5);
    CHECK_EQ_U64 (zkv_raft_snapshot (o.r, 3, NULL, 0), 0);
    s_one_take (&o);
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
    zkv_append_entries_reply_t *r = &m.u.append_entries_reply;
    r->group = 7;
    r->from = 3;
    r->to = 1;
    r->term = 1;
    s_one_append_reply (&o, 3, 1, false, 0, 0); // what a stale-term refusal looks like
    CHECK_EQ_U64 (o.n_chunk_reqs + o.n_want, 0);
    r->conflict_term = UINT64_MAX;
    r->conflict_index = 9; // above our applied index: no snapshot can serve it yet
    CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_chunk_reqs + o.n_want, 0);
    r->conflict_index = 4; // above our snapshot (3), below applied (5)
    CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_chunk_reqs, 0);
    CHECK_EQ_U64 (o.n_want, 1);
    CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0); // asked already: not again at once
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_want, 1);
    CHECK_EQ_U64 (zkv_raft_snapshot (o.r, 5, NULL, 0), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (o.n_chunk_reqs, 1);
    // The follower refuses the stream: back to probing it.
    zkv_msg_t x = {.type = ZKV_MSG_INSTALL_SNAPSHOT_REPLY};
    x.u.install_snapshot_reply.group = 7;
    x.u.install_snapshot_reply.from = 3;
    x.u.install_snapshot_reply.to = 1;
    x.u.install_snapshot_reply.term = 1;
    x.u.install_snapshot_reply.last_index = 5;
    x.u.install_snapshot_reply.next_offset = UINT64_MAX;
    CHECK_EQ_U64 (zkv_raft_step (o.r, &x), 0);
    s_one_take (&o);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 3), 1);
    s_one_free (&o);
    s_one_stream = false;
}

// An append that contradicts committed entries the follower still holds (a peer that is wrong)
// is refused whole and counted; the log keeps what was committed.
static void
test_append_contradicting_commit (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    const uint64_t ones[3] = {1, 1, 1};
    s_one_append (&o, 2, 1, 0, 0, ones, 3, 3);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit, 3);
    // Node 3, leader of term 2, rewrites index 2 (committed at term 1).
    const uint64_t two[2] = {2, 2};
    s_one_append (&o, 3, 2, 1, 1, two, 2, 3);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit_conflicts, 1);
    CHECK_EQ_U64 (st.last_index, 3);
    CHECK_EQ_U64 (st.last_term, 1);
    CHECK_EQ_U64 (o.out[o.n_out - 1].type, ZKV_MSG_APPEND_ENTRIES_REPLY);
    CHECK (!o.out[o.n_out - 1].u.append_entries_reply.success);
    // A prev at a committed index with another term: refused as well.
    s_one_append (&o, 3, 2, 2, 2, NULL, 0, 3);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit_conflicts, 2);
    // The true history goes on.
    const uint64_t more[1] = {2};
    s_one_append (&o, 3, 2, 3, 1, more, 1, 4);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.last_index, 4);
    CHECK_EQ_U64 (st.commit_conflicts, 2);
    s_one_free (&o);
}

// A term has one leader: appends and snapshots from another node in the term whose leader a
// follower knows come from a peer that is wrong, and are refused whole and counted.
static void
test_second_leader_refused (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    const uint64_t ones[2] = {1, 1};
    s_one_append (&o, 2, 1, 0, 0, ones, 2, 1);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.leader, 2);
    CHECK_EQ_U64 (st.last_index, 2);
    // Node 3 claims term 1 too and rewrites index 2: nothing of it is taken, no reply.
    const uint64_t other[1] = {1};
    s_one_append (&o, 3, 1, 1, 1, other, 1, 2);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.leader_conflicts, 1);
    CHECK_EQ_U64 (st.leader, 2);
    CHECK_EQ_U64 (st.commit, 1);
    CHECK_EQ_U64 (o.n_out, 0);
    // Campaigning does not forget who led the term: a pre-candidate still refuses node 3.
    s_one_tick_until_role (&o, ZKV_ROLE_PRE_CANDIDATE);
    s_one_append (&o, 3, 1, 2, 1, NULL, 0, 2);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.leader_conflicts, 2);
    CHECK_EQ_U64 (st.commit, 1);
    // The true leader is followed again, and node 3 leads the next term.
    s_one_append (&o, 2, 1, 2, 1, NULL, 0, 2);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_FOLLOWER);
    CHECK_EQ_U64 (st.commit, 2);
    s_one_append (&o, 3, 2, 2, 1, NULL, 0, 2);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.leader, 3);
    CHECK_EQ_U64 (st.leader_conflicts, 2);
    s_one_free (&o);
}

// Replies are matched to what was sent: a follower that says it holds an entry the leader has
// not sent it yet (a probe is in flight) is believed only as far as what was sent, so the entry
// is not committed on its word.
static void
test_reply_beyond_sent_is_clamped (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_elect (&o, voters); // the no-op (index 1) went to 2 and 3 in one probe each
    CHECK_EQ_U64 (zkv_raft_propose (o.r, (const uint8_t *)"cmd", 3, NULL, NULL), 0); // index 2
    s_one_take (&o);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 0); // the probe is in flight
    s_one_append_reply (&o, 2, 1, true, 2, 0);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit, 1); // not 2: index 2 was never sent to node 2
    // Now it is sent, and the same reply commits it.
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 1);
    s_one_append_reply (&o, 2, 1, true, 2, 0);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit, 2);
    s_one_free (&o);
}

// A slow follower holds at most max_inflight_bytes of entries in flight (one message always
// goes): with 100-byte entries and a 250-byte window, 3 messages go, then one more per
// acknowledgement.
static void
test_inflight_bytes_window (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_max_inflight_bytes = 250;
    s_one_elect (&o, voters);
    s_one_max_inflight_bytes = 0;
    s_one_append_reply (&o, 2, 1, true, 1, 0); // node 2 holds the no-op: replicating
    uint8_t big[100] = {0};
    for (int i = 0; i < 10; i++)
        CHECK_EQ_U64 (zkv_raft_propose (o.r, big, sizeof big, NULL, NULL), 0); // 2..11
    s_one_take (&o);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 3); // 300 bytes: 2, 3, 4
    s_one_append_reply (&o, 2, 1, true, 2, 0);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 1); // 5
    s_one_append_reply (&o, 2, 1, true, 5, 0);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 3); // 6, 7, 8
    s_one_free (&o);
}

// A follower that lost entries it acknowledged (its data was lost, it rejoined with an older
// snapshot) says so in its answer to a probe: its log is shorter than its match. The leader
// believes the acknowledgement no more and probes below it, or it would probe past the
// follower's log forever.
static void
test_follower_regression (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_elect (&o, voters);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_U64 (zkv_raft_propose (o.r, (const uint8_t *)"cmd", 3, NULL, NULL), 0); // 2..7
    s_one_take (&o);
    s_one_append_reply (&o, 2, 1, true, 1, 0);
    s_one_append_reply (&o, 2, 1, true, 7, 0); // node 2 holds everything: match 7
    // Heartbeats with its appends unanswered: node 2 is probed at its match again.
    for (int i = 0; i < 4; i++) {
        zkv_raft_tick (o.r);
        s_one_take (&o);
    }
    // Node 2 rejoined and holds only 1..3: it refuses the probe at 7, its log ends at 3.
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
    zkv_append_entries_reply_t *r = &m.u.append_entries_reply;
    r->group = 7;
    r->from = 2;
    r->to = 1;
    r->term = 1;
    r->success = false;
    r->match_index = 7;
    r->conflict_index = 4;
    CHECK_EQ_U64 (zkv_raft_step (o.r, &m), 0);
    s_one_take (&o);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.regressions, 1);
    CHECK_EQ_U64 (s_one_count (&o, ZKV_MSG_APPEND_ENTRIES, 2), 1);
    const zkv_msg_t *probe = NULL;
    for (size_t i = 0; i < o.n_out; i++)
        if (o.out[i].type == ZKV_MSG_APPEND_ENTRIES && o.out[i].u.append_entries.to == 2)
            probe = &o.out[i];
    CHECK (probe && probe->u.append_entries.prev_log_index == 3);
    CHECK_EQ_U64 (st.commit, 7); // the commit index never goes back
    s_one_free (&o);
}

// What a host sends on the urgent connection: heartbeats, replies, votes; not entries or
// snapshot chunks.
static void
test_msg_urgent (void)
{
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES};
    CHECK (zkv_raft_msg_urgent (&m)); // a heartbeat
    zkv_entry_t e = {.index = 1, .term = 1};
    m.u.append_entries.entries.items = &e;
    m.u.append_entries.entries.count = 1;
    CHECK (!zkv_raft_msg_urgent (&m));
    const zkv_msg_type_t urgent[] = {ZKV_MSG_REQUEST_VOTE, ZKV_MSG_REQUEST_VOTE_REPLY,
                                     ZKV_MSG_APPEND_ENTRIES_REPLY, ZKV_MSG_INSTALL_SNAPSHOT_REPLY};
    for (size_t i = 0; i < sizeof urgent / sizeof urgent[0]; i++) {
        zkv_msg_t u = {.type = urgent[i]};
        CHECK (zkv_raft_msg_urgent (&u));
    }
    zkv_msg_t chunk = {.type = ZKV_MSG_INSTALL_SNAPSHOT};
    CHECK (!zkv_raft_msg_urgent (&chunk));
    zkv_msg_t req = {.type = ZKV_MSG_CLIENT_REQUEST};
    CHECK (!zkv_raft_msg_urgent (&req));
}

// Every log entry counts towards the size that triggers compaction, its stored framing too: 60
// entries of 8 bytes (480 bytes of payload) pass a 2,000-byte threshold, as elections' empty
// entries would.
static void
test_entries_count_towards_compaction (void)
{
    cluster_t *c = s_cluster_new (3, 21);
    c->snapshot_log = 2000;
    s_cluster_start (c);
    CHECK (s_wait_leader (c, 1000) >= 0);
    uint64_t last = s_propose_n (c, 60, 100);
    CHECK (s_wait_applied (c, last, 3000));
    s_run (c, 20);
    zkv_raft_status_t st;
    zkv_raft_status (s_raft (c, s_leader (c)), &st);
    CHECK (st.snapshot_index > 0);
    CHECK (!c->failed);
    s_cluster_destroy (&c);
}

// A leader refuses a proposal past its budget of uncommitted bytes, at once (ZKV_EBUSY), and
// takes proposals again once entries commit; one entry always fits, however large.
static void
test_uncommitted_budget (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_max_uncommitted = 10;
    s_one_elect (&o, voters);
    s_one_max_uncommitted = 0;
    const uint8_t cmd[8] = "12345678";
    uint64_t index = 0;
    CHECK_EQ_U64 (zkv_raft_propose (o.r, cmd, 8, &index, NULL), 0); // index 2
    CHECK_EQ_U64 (zkv_raft_propose (o.r, cmd, 8, NULL, NULL), ZKV_EBUSY);
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.uncommitted_bytes, 8);
    CHECK_EQ_U64 (st.proposals_refused, 1);
    s_one_take (&o);
    s_one_append_reply (&o, 2, 1, true, 1, 0); // the probe: then the entry goes to node 2
    s_one_append_reply (&o, 2, 1, true, index, 0); // the no-op and the entry commit
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.commit, index);
    CHECK_EQ_U64 (st.uncommitted_bytes, 0);
    uint8_t big[64] = {0};
    CHECK_EQ_U64 (zkv_raft_propose (o.r, big, sizeof big, NULL, NULL), 0); // alone: fits
    CHECK_EQ_U64 (zkv_raft_propose (o.r, cmd, 1, NULL, NULL), ZKV_EBUSY);
    s_one_free (&o);
}

// A peer that is wrong cannot push a node's term past max_term_jump: the message is dropped and
// counted, the term stays. A fresh node (term 0) takes any term; a jump within the limit is
// taken.
static void
test_term_jump_refused (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    s_one_append (&o, 2, 3, 0, 0, NULL, 0, 0); // term 0: takes term 3 from a leader
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.term, 3);
    s_one_append (&o, 2, UINT64_MAX, 0, 0, NULL, 0, 0);
    s_one_append (&o, 3, 3 + 1000001, 0, 0, NULL, 0, 0);
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.term, 3);
    CHECK_EQ_U64 (st.leader, 2);
    CHECK_EQ_U64 (st.terms_refused, 2);
    s_one_append (&o, 3, 3 + 1000000, 0, 0, NULL, 0, 0); // exactly the limit: taken
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.term, 3 + 1000000);
    CHECK_EQ_U64 (st.leader, 3);
    s_one_free (&o);
}

// At the last term there is none to campaign in: the node stays a follower (no pre-vote or
// vote for term 0), its term does not wrap.
static void
test_term_saturates (void)
{
    uint64_t voters[3] = {1, 2, 3};
    one_t o;
    s_one_new (&o, voters, 3);
    s_one_append (&o, 2, UINT64_MAX, 0, 0, NULL, 0, 0); // a fresh node takes it
    for (int i = 0; i < 200; i++) {
        zkv_raft_tick (o.r);
        s_one_take (&o);
        for (size_t k = 0; k < o.n_out; k++)
            CHECK (o.out[k].type != ZKV_MSG_REQUEST_VOTE);
    }
    zkv_raft_status_t st;
    zkv_raft_status (o.r, &st);
    CHECK_EQ_U64 (st.term, UINT64_MAX);
    CHECK_EQ_U64 (st.role, ZKV_ROLE_FOLLOWER);
    s_one_free (&o);
}

ZKV_TEST_MAIN (
    TEST (test_term_jump_refused) TEST (test_term_saturates) TEST (test_uncommitted_budget)
        TEST (test_entries_count_towards_compaction) TEST (test_append_contradicting_commit) TEST (test_second_leader_refused)
        TEST (test_reply_beyond_sent_is_clamped) TEST (test_missing_votes_for_no_one) TEST (test_inflight_bytes_window) TEST (test_follower_regression) TEST (test_msg_urgent) TEST (
            test_bad_config) TEST (test_single_node) TEST (test_elect_one_leader)
            TEST (test_agreement) TEST (test_leader_failure) TEST (test_follower_catch_up) TEST (
                test_snapshot_install) TEST (test_prevote_isolated) TEST (test_check_quorum)
                TEST (test_restart_keeps_term_and_vote) TEST (test_no_double_vote) TEST (test_chaos)
                    TEST (test_follower_append_rules) TEST (test_follower_snapshot_chunks)
                        TEST (test_snapshot_discard_order) TEST (test_late_vote_counts) TEST (
                            test_read_index_waits_for_own_term) TEST (test_read_index_rounds)
                            TEST (test_read_index_cluster) TEST (test_read_index_single_node)
                                TEST (test_early_msgs) TEST (test_snapshot_only_when_behind)
                                    TEST (test_stream_catch_up) TEST (test_stream_views_released)
                                        TEST (test_stream_lossy) TEST (test_stream_newer_snapshot)
                                            TEST (test_stream_follower_crash) TEST (
                                                test_stream_missing_state_needs_newer_snapshot)
                                                TEST (test_stream_missing_refuses_older)
                                                    TEST (test_stream_receiving_may_lead)
                                                        TEST (test_stream_leader_fresh_snapshot))
