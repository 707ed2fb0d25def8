// Micro-benchmark of the pure Raft core: a 3-node group on a perfect in-memory network (no
// faults, FIFO delivery), committing entries as fast as the CPU allows. Reports committed
// entries per CPU second and messages per committed entry, with batching and pipelining on
// (the defaults) and off (one entry per AppendEntries, one in flight). A benchmark, not a
// test: it asserts only that the group commits what it was asked to.
//
//   bench_core [--entries N] [--value-bytes B] [--codec] [--no-store]
//
// --codec also encodes and decodes every message through the msgpack codec, as the real
// transport does. --no-store skips the in-memory log store (persisting costs nothing), so the
// figures are the core's alone.
#define _GNU_SOURCE
#include "zkv_logstore.h"
#include "zkv_memstore.h"
#include "zkv_raft.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_NODES 3

typedef struct {
    zkv_msg_t *items; // ring of messages in flight, FIFO
    size_t head, count, cap;
} s_queue_t;

typedef struct {
    zkv_raft_t *raft[S_NODES];      // the cores
    zkv_logstore_t *store[S_NODES]; // their persistence
    s_queue_t queue;                // the network
    bool codec;                     // round-trip every message through msgpack
    bool no_store;                  // skip persisting: measure the core alone
    uint64_t msgs;                  // messages sent
    uint64_t bytes;                 // their encoded bytes (with codec)
    uint64_t committed[S_NODES];    // entries applied per node
} s_world_t;

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

static void
s_send (s_world_t *w, const zkv_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w->msgs++;
        if (!w->codec) {
            s_push (&w->queue, &msgs[i]);
            continue;
        }
        uint8_t *buf;
        size_t len;
        int rc = zkv_msg_encode (&msgs[i], &buf, &len);
        assert (rc == 0);
        zkv_msg_t decoded;
        rc = zkv_msg_decode (buf, len, &decoded);
        assert (rc == 0);
        w->bytes += len;
        free (buf);
        s_push (&w->queue, &decoded);
        zkv_msg_free (&decoded);
    }
}

// The caller's loop of zkv_raft.h: persist, sync, send, apply, advance.
static void
s_drain (s_world_t *w, int node)
{
    zkv_raft_t *r = w->raft[node];
    zkv_logstore_t *st = w->store[node];
    while (zkv_raft_has_ready (r)) {
        zkv_raft_ready_t rd;
        zkv_raft_ready (r, &rd);
        if (w->no_store)
            goto persisted;
        if (rd.has_snapshot)
            zkv_logstore_save_snapshot (st, 1, &rd.snapshot, rd.snapshot_data, rd.snapshot_len);
        if (rd.compact_to)
            zkv_logstore_compact_prefix (st, 1, rd.compact_to);
        if (rd.truncate_from)
            zkv_logstore_truncate_suffix (st, 1, rd.truncate_from);
        if (rd.n_entries)
            zkv_logstore_append (st, 1, rd.entries, rd.n_entries);
        if (rd.has_hard_state)
            zkv_logstore_save_hard_state (st, 1, &rd.hard_state);
        zkv_logstore_sync (st);
    persisted:
        s_send (w, rd.msgs, rd.n_msgs);
        w->committed[node] += rd.n_committed;
        zkv_raft_advance (r, &rd);
    }
}

static void
s_deliver_all (s_world_t *w)
{
    zkv_msg_t msg;
    while (s_pop (&w->queue, &msg)) {
        int to = (int)msg.u.hdr.to - 1;
        zkv_raft_step (w->raft[to], &msg);
        zkv_msg_free (&msg);
        s_drain (w, to);
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
    w.no_store = no_store;
    uint64_t voters[S_NODES] = {1, 2, 3};
    for (int i = 0; i < S_NODES; i++) {
        zkv_raft_config_t cfg;
        zkv_raft_config_defaults (&cfg);
        cfg.group = 1;
        cfg.id = (uint64_t)i + 1;
        cfg.voters = voters;
        cfg.n_voters = S_NODES;
        cfg.seed = 42 + (uint64_t)i;
        cfg.max_entries_per_msg = mode->max_entries;
        cfg.max_inflight_msgs = mode->max_inflight;
        cfg.max_bytes_per_msg = 1 << 20;
        w.store[i] = zkv_memstore_new ();
        w.raft[i] = zkv_raft_new (&cfg, NULL);
        assert (w.raft[i]);
    }
    // Elect node 1: only it ticks until it leads.
    zkv_raft_status_t st;
    do {
        zkv_raft_tick (w.raft[0]);
        s_drain (&w, 0);
        s_deliver_all (&w);
        zkv_raft_status (w.raft[0], &st);
    } while (st.role != ZKV_ROLE_LEADER || st.commit < st.last_index);
    uint64_t base_msgs = w.msgs, base_commit = w.committed[0];

    uint8_t *value = malloc (value_bytes ? value_bytes : 1);
    memset (value, 'v', value_bytes);
    uint64_t proposed = 0;
    double t0 = s_cpu_seconds ();
    while (w.committed[0] - base_commit < entries) {
        zkv_raft_status (w.raft[0], &st);
        while (proposed < entries && st.last_index - st.commit < mode->window) {
            int rc = zkv_raft_propose (w.raft[0], value, value_bytes, NULL, NULL);
            assert (rc == 0);
            proposed++;
            zkv_raft_status (w.raft[0], &st);
        }
        s_drain (&w, 0);
        // Deliver one wave: with a window of proposals outstanding, each wave carries many.
        s_deliver_all (&w);
    }
    double cpu = s_cpu_seconds () - t0;
    uint64_t committed = w.committed[0] - base_commit;
    printf ("%-28s %10.0f %12.2f %10" PRIu64 "\n", mode->name, committed / cpu,
            (double)(w.msgs - base_msgs) / committed, committed);
    for (int i = 0; i < S_NODES; i++) {
        zkv_raft_destroy (&w.raft[i]);
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
