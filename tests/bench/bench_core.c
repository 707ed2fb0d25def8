// Micro-benchmark of a replication group in one thread: 3 replicas, each the group driver
// (cluster/zkv_replica.h) over the Raft core, a log store and a state machine that only counts
// what it applies, on a perfect in-memory network (no faults, FIFO delivery), committing
// entries as fast as the CPU allows. Reports committed entries per CPU second and messages per
// committed entry, with batching and pipelining on (the defaults) and off (one entry per
// AppendEntries, one in flight). A benchmark, not a test: it asserts only that the group
// commits, and answers, what it was asked to.
//
//   bench_core [--entries N] [--value-bytes B] [--codec] [--no-store]
//
// --codec also encodes and decodes every message through the msgpack codec, as the real
// transport does. --no-store replaces the in-memory log store with one whose writes do
// nothing (persisting costs nothing), so the figures are the core's and the driver's alone.
#define _GNU_SOURCE
#include "zkv_logstore.h"
#include "zkv_memstore.h"
#include "zkv_replica.h"
#include "zkv_sm.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_NODES  3
#define S_GROUP  1
#define S_OP_RAW 1 // the request's value is the command (its first 8 bytes: the seq)

typedef struct {
    zkv_msg_t *items; // ring of messages in flight, FIFO
    size_t head, count, cap;
} s_queue_t;

typedef struct s_world s_world_t;

// One replica's host context and state machine state.
typedef struct {
    s_world_t *world; // the world it lives in
    int node;         // its slot (id node + 1)
    uint64_t applied; // the state machine: last index applied
    uint64_t count;   // ... entries applied (no-ops too)
} s_node_t;

struct s_world {
    zkv_replica_t *rep[S_NODES];    // the replicas
    zkv_logstore_t *store[S_NODES]; // their log stores
    s_node_t nodes[S_NODES];        // their hosts and state machines
    s_queue_t queue;                // the network
    bool codec;                     // round-trip every message through msgpack
    uint64_t msgs;                  // messages sent
    uint64_t bytes;                 // their encoded bytes (with codec)
    uint64_t replies_ok;            // requests answered ok
    uint64_t replies_err;           // requests answered with an error
};

// --- the network -------------------------------------------------------------------------------

static void
s_push (s_queue_t *q, const zkv_msg_t *msg)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 1024;
        zkv_msg_t *items = malloc (cap * sizeof *items);
        assert (items);
        for (size_t i = 0; i < q->count; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free (q->items);
        q->items = items;
        q->head = 0;
        q->cap = cap;
    }
    zkv_msg_clone (msg, &q->items[(q->head + q->count++) % q->cap]);
}

static bool
s_pop (s_queue_t *q, zkv_msg_t *out)
{
    if (!q->count)
        return false;
    *out = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return true;
}

// --- a log store whose writes do nothing (--no-store) ------------------------------------------

static int
s_null_append (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    (void)impl, (void)group, (void)entries, (void)n;
    return 0;
}

static int
s_null_index (void *impl, uint64_t group, uint64_t index)
{
    (void)impl, (void)group, (void)index;
    return 0;
}

static int
s_null_hard_state (void *impl, uint64_t group, const zkv_hard_state_t *hs)
{
    (void)impl, (void)group, (void)hs;
    return 0;
}

static int
s_null_snapshot (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta, const uint8_t *data,
                 size_t len)
{
    (void)impl, (void)group, (void)meta, (void)data, (void)len;
    return 0;
}

static int
s_null_sync (void *impl)
{
    (void)impl;
    return 0;
}

static int
s_null_load (void *impl, uint64_t group, zkv_logstore_state_t *out)
{
    (void)impl, (void)group;
    memset (out, 0, sizeof *out);
    return 0;
}

static void
s_null_destroy (void *impl)
{
    (void)impl;
}

static const zkv_logstore_ops_t s_null_ops = {
    .name = "null",
    .append = s_null_append,
    .truncate_suffix = s_null_index,
    .compact_prefix = s_null_index,
    .save_hard_state = s_null_hard_state,
    .save_snapshot = s_null_snapshot,
    .sync = s_null_sync,
    .load = s_null_load,
    .destroy = s_null_destroy,
};

// --- a state machine that counts what it applies -----------------------------------------------

static uint64_t
s_sm_applied (void *impl)
{
    return ((s_node_t *)impl)->applied;
}

static int
s_sm_boot (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len)
{
    (void)blob, (void)len;
    s_node_t *self = impl;
    self->applied = snap->index;
    return 1;
}

// A write: its value is the command; the seq goes in its first 8 bytes, so that the entry's
// result names the request it answers.
static int
s_sm_prepare (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
              zkv_sm_answer_t *answer)
{
    (void)impl;
    if (req->op != S_OP_RAW) {
        answer->status = ZKV_EINVAL;
        return ZKV_SM_ANSWERED;
    }
    uint8_t *cmd = malloc (req->value_len ? req->value_len : 1);
    assert (cmd);
    memcpy (cmd, req->value, req->value_len);
    if (req->value_len >= 8)
        memcpy (cmd, &req->seq, 8);
    *cmd_p = cmd;
    *cmd_len_p = req->value_len;
    return ZKV_SM_PROPOSE;
}

static int
s_sm_apply (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results)
{
    s_node_t *self = impl;
    for (size_t i = 0; i < n; i++) {
        const zkv_entry_t *e = &entries[i];
        if (e->index <= self->applied)
            continue;
        assert (e->index == self->applied + 1);
        self->applied = e->index;
        self->count++;
        zkv_sm_result_t *r = zkv_sm_results_push (results);
        r->index = e->index;
        if (e->type == ZKV_ENTRY_NORMAL && e->data.len >= 8) {
            r->has_client = true;
            r->client_id = 1;
            memcpy (&r->seq, e->data.data, 8);
        }
    }
    return 0;
}

static int
s_sm_read (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    (void)impl, (void)req;
    answer->status = ZKV_EINVAL;
    return 0;
}

// The driver's blob mode needs these; the benchmark never snapshots.
static int
s_sm_blob_write (void *impl, uint8_t **buf_p, size_t *len_p)
{
    s_node_t *self = impl;
    *buf_p = malloc (8);
    assert (*buf_p);
    memcpy (*buf_p, &self->applied, 8);
    *len_p = 8;
    return 0;
}

static int
s_sm_blob_restore (void *impl, uint64_t index, const uint8_t *buf, size_t len)
{
    (void)buf, (void)len;
    ((s_node_t *)impl)->applied = index;
    return 0;
}

static void
s_sm_destroy (void *impl)
{
    (void)impl; // the world's
}

static const zkv_sm_ops_t s_sm_ops = {
    .name = "count",
    .applied = s_sm_applied,
    .boot = s_sm_boot,
    .prepare = s_sm_prepare,
    .apply = s_sm_apply,
    .read = s_sm_read,
    .blob_write = s_sm_blob_write,
    .blob_restore = s_sm_blob_restore,
    .destroy = s_sm_destroy,
};

// --- the host --------------------------------------------------------------------------------

static void
h_send (void *arg, const zkv_msg_t *msg)
{
    s_world_t *w = ((s_node_t *)arg)->world;
    w->msgs++;
    if (!w->codec) {
        s_push (&w->queue, msg);
        return;
    }
    uint8_t *buf;
    size_t len;
    int rc = zkv_msg_encode (msg, &buf, &len);
    assert (rc == 0);
    zkv_msg_t decoded;
    rc = zkv_msg_decode (buf, len, &decoded);
    assert (rc == 0);
    (void)rc;
    w->bytes += len;
    free (buf);
    s_push (&w->queue, &decoded);
    zkv_msg_free (&decoded);
}

static int
h_sync (void *arg)
{
    s_node_t *n = arg;
    return zkv_logstore_sync (n->world->store[n->node]);
}

static void
h_reply (void *arg, const zkv_msg_t *reply)
{
    s_world_t *w = ((s_node_t *)arg)->world;
    if (reply->u.group_reply.status == 0)
        w->replies_ok++;
    else
        w->replies_err++;
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
    fprintf (stderr, "bench_core: node %d: %s failed: %s\n", ((s_node_t *)arg)->node + 1, what,
             zkv_strerror (rc));
    abort ();
}

static const zkv_replica_host_t s_host = {
    .send = h_send,
    .sync = h_sync,
    .reply = h_reply,
    .state = h_state,
    .event = h_event,
    .fatal = h_fatal,
};

// --- running -----------------------------------------------------------------------------------

static void
s_deliver_all (s_world_t *w)
{
    zkv_msg_t msg;
    while (s_pop (&w->queue, &msg)) {
        int to = (int)msg.u.hdr.to - 1;
        zkv_replica_step (w->rep[to], &msg);
        zkv_msg_free (&msg);
        zkv_replica_run (w->rep[to]);
    }
}

static double
s_cpu_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    const char *name;      // row label
    uint32_t max_entries;  // per AppendEntries
    uint32_t max_inflight; // AppendEntries in flight per follower
    uint64_t window;       // proposals outstanding at the leader
} s_mode_t;

static void
s_run (const s_mode_t *mode, uint64_t entries, size_t value_bytes, bool codec, bool no_store)
{
    s_world_t w;
    memset (&w, 0, sizeof w);
    w.codec = codec;
    uint64_t voters[S_NODES] = {1, 2, 3};
    for (int i = 0; i < S_NODES; i++) {
        zkv_replica_config_t cfg;
        zkv_replica_config_defaults (&cfg);
        cfg.raft.group = S_GROUP;
        cfg.raft.id = (uint64_t)i + 1;
        cfg.raft.voters = voters;
        cfg.raft.n_voters = S_NODES;
        cfg.raft.seed = 42 + (uint64_t)i;
        cfg.raft.max_entries_per_msg = mode->max_entries;
        cfg.raft.max_inflight_msgs = mode->max_inflight;
        cfg.raft.max_bytes_per_msg = 1 << 20;
        cfg.snapshot_bytes = 0; // never snapshot: the log keeps every entry
        w.nodes[i] = (s_node_t){.world = &w, .node = i};
        w.store[i] = no_store ? zkv_logstore_new (&s_null_ops, NULL) : zkv_memstore_new ();
        int err = 0;
        w.rep[i] = zkv_replica_new (&cfg, w.store[i], zkv_sm_new (&s_sm_ops, &w.nodes[i]), &s_host,
                                    &w.nodes[i], &err);
        assert (w.rep[i]);
    }
    // Elect node 1: only it ticks until it leads.
    zkv_raft_status_t st;
    do {
        zkv_replica_tick (w.rep[0]);
        zkv_replica_run (w.rep[0]);
        s_deliver_all (&w);
        zkv_raft_status (zkv_replica_raft (w.rep[0]), &st);
    } while (st.role != ZKV_ROLE_LEADER || st.commit < st.last_index);
    uint64_t base_msgs = w.msgs, base_commit = w.nodes[0].count;

    uint8_t *value = malloc (value_bytes ? value_bytes : 1);
    memset (value, 'v', value_bytes);
    zkv_group_request_t req = {.group = S_GROUP, .client_id = 1, .op = S_OP_RAW};
    req.value = (zkv_bytes_t){value, value_bytes};
    uint64_t proposed = 0;
    double t0 = s_cpu_seconds ();
    while (w.nodes[0].count - base_commit < entries) {
        zkv_raft_status (zkv_replica_raft (w.rep[0]), &st);
        while (proposed < entries && st.last_index - st.commit < mode->window) {
            req.handle = req.seq = ++proposed;
            int rc = zkv_replica_request (w.rep[0], &req, NULL, NULL);
            assert (rc == 1);
            (void)rc;
            zkv_raft_status (zkv_replica_raft (w.rep[0]), &st);
        }
        zkv_replica_run (w.rep[0]);
        // Deliver one wave: with a window of proposals outstanding, each wave carries many.
        s_deliver_all (&w);
    }
    double cpu = s_cpu_seconds () - t0;
    uint64_t committed = w.nodes[0].count - base_commit;
    // Every proposal was committed at the leader and answered there.
    assert (w.replies_ok == proposed && w.replies_err == 0);
    printf ("%-28s %10.0f %12.2f %10" PRIu64 "\n", mode->name, committed / cpu,
            (double)(w.msgs - base_msgs) / committed, committed);
    for (int i = 0; i < S_NODES; i++) {
        zkv_replica_destroy (&w.rep[i]);
        zkv_logstore_destroy (&w.store[i]);
    }
    zkv_msg_t msg;
    while (s_pop (&w.queue, &msg))
        zkv_msg_free (&msg);
    free (w.queue.items);
    free (value);
}

int
main (int argc, char **argv)
{
    uint64_t entries = 200000;
    size_t value_bytes = 128;
    bool codec = false, no_store = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--entries") == 0 && i + 1 < argc)
            entries = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--value-bytes") == 0 && i + 1 < argc)
            value_bytes = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--codec") == 0)
            codec = true;
        else if (strcmp (argv[i], "--no-store") == 0)
            no_store = true;
        else {
            fprintf (stderr,
                     "usage: bench_core [--entries N] [--value-bytes B] [--codec] [--no-store]\n");
            return 2;
        }
    }
    const s_mode_t modes[] = {
        {"batched + pipelined", 256, 64, 4096},
        {"one entry per message", 1, 1, 4096},
        {"sequential (window 1)", 256, 64, 1},
    };
    printf ("3-node group, %zu-byte entries, %s, %s\n", value_bytes,
            codec ? "every message encoded and decoded" : "messages passed as structs",
            no_store ? "no log store" : "in-memory log store");
    printf ("%-28s %10s %12s %10s\n", "mode", "entries/s", "msgs/entry", "entries");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        s_run (&modes[i], modes[i].window == 1 ? entries / 10 : entries, value_bytes, codec,
               no_store);
    return 0;
}
