// Scenarios ported from the MIT 6.5840 KV lab (2024), part 4B: the KV service with snapshots
// (maxraftstate 1000 bytes), with the lab's client counts, durations, faults and bounds.
//
// How they differ from the lab (see also scenarios_4a.c):
// - A node snapshots when the log it holds (payload plus the memstore's 21 bytes of framing per
//   entry) reaches maxraftstate; the lab's kv server compares the persisted Raft state. The
//   lab's bounds are kept: the durable Raft state without the snapshot (the lab's LogSize) stays
//   under 8 x maxraftstate, and SnapshotSize's snapshots under 500 bytes. Our snapshots carry
//   the simulator's 16-byte hash-chain header before the KV blob; the bound counts it.
// - Speed4B (TestSpeed4B) is Speed4A with maxraftstate 1000, in simulated time as well.
#include "scenarios.h"
#include "sim_kvlab.h"

#include <stdio.h>

#define S_MAXRAFTSTATE     1000 // the lab's maxraftstate for 4B
#define S_MAXSNAPSHOTSTATE 500  // SnapshotSize's bound on a snapshot

static void
s_check_log_trimmed (sim_t *s)
{
    size_t sz = sim_kv_max_raft_state (s);
    if (sz > 8 * S_MAXRAFTSTATE)
        sim_fail (s, "logs were not trimmed (%zu > 8*%d)", sz, S_MAXRAFTSTATE);
}

// A server that falls behind and rejoins recovers through InstallSnapshot; the majority
// discards committed log entries even when the minority does not answer.
static void
s_snapshot_rpc (sim_t *s)
{
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    sim_kv_put (s, ck, "a", "A");
    sim_kv_check (s, ck, "a", "A");

    // A bunch of puts into the majority partition.
    int g1[] = {0, 0, 1};
    sim_partition (s, g1);
    {
        sim_kvclient_t *ck1 = sim_kv_client (s, 0x3); // nodes 0 and 1
        for (int i = 0; i < 50; i++) {
            char kv[16];
            snprintf (kv, sizeof kv, "%d", i);
            sim_kv_put (s, ck1, kv, kv);
        }
        sim_sleep (s, SIM_KV_ELECTION_TIMEOUT);
        sim_kv_put (s, ck1, "b", "B");
    }
    // The majority has thrown away most of its log.
    s_check_log_trimmed (s);

    // Now a group that needs the lagging server, so that it has to catch up.
    int g2[] = {0, 1, 0};
    sim_partition (s, g2);
    {
        sim_kvclient_t *ck1 = sim_kv_client (s, 0x5); // nodes 0 and 2
        sim_kv_put (s, ck1, "c", "C");
        sim_kv_put (s, ck1, "d", "D");
        sim_kv_check (s, ck1, "a", "A");
        sim_kv_check (s, ck1, "b", "B");
        sim_kv_check (s, ck1, "1", "1");
        sim_kv_check (s, ck1, "49", "49");
    }

    // Now everybody.
    sim_heal (s);
    sim_kv_put (s, ck, "e", "E");
    sim_kv_check (s, ck, "c", "C");
    sim_kv_check (s, ck, "e", "E");
    sim_kv_check (s, ck, "1", "1");
    sim_counters_t k;
    sim_counters (s, &k);
    if (k.snapshots_installed == 0)
        sim_fail (s, "the lagging server caught up without an InstallSnapshot");
}

// Snapshots stay small (500 bytes is generous for one key and one client).
static void
s_snapshot_size (sim_t *s)
{
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    for (int i = 0; i < 200; i++) {
        sim_kv_put (s, ck, "x", "0");
        sim_kv_check (s, ck, "x", "0");
        sim_kv_put (s, ck, "x", "1");
        sim_kv_check (s, ck, "x", "1");
    }
    s_check_log_trimmed (s);
    size_t ssz = sim_kv_max_snapshot (s);
    if (ssz > S_MAXSNAPSHOTSTATE)
        sim_fail (s, "snapshot too large (%zu > %d)", ssz, S_MAXSNAPSHOTSTATE);
    if (ssz == 0)
        sim_fail (s, "no snapshot was taken");
}

// Speed4A's 1,000 appends with snapshots taken along the way.
static void
s_speed (sim_t *s)
{
    sim_kvlab_speed (s);
}

static void
s_snapshot_recover (sim_t *s)
{
    sim_kvlab_generic (s, 1, true, false, false);
}

static void
s_snapshot_recover_many_clients (sim_t *s)
{
    sim_kvlab_generic (s, 20, true, false, false);
}

// The table makes the network unreliable.
static void
s_snapshot_unreliable (sim_t *s)
{
    sim_kvlab_generic (s, 5, false, false, false);
}

static void
s_snapshot_unreliable_recover (sim_t *s)
{
    sim_kvlab_generic (s, 5, true, false, false);
}

static void
s_snapshot_unreliable_recover_partition (sim_t *s)
{
    sim_kvlab_generic (s, 5, true, true, false);
}

static void
s_snapshot_unreliable_recover_partition_linearizable (sim_t *s)
{
    sim_kvlab_generic (s, 15, true, true, true);
}

const sim_scenario_t sim_scenarios_4b[] = {
    {.name = "SnapshotRPC",
     .n_nodes = 3,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_rpc},
    {.name = "SnapshotSize",
     .n_nodes = 3,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_size},
    {.name = "Speed4B", .n_nodes = 3, .kv = true, .maxraftstate = S_MAXRAFTSTATE, .fn = s_speed},
    {.name = "SnapshotRecover",
     .n_nodes = 5,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_recover},
    {.name = "SnapshotRecoverManyClients",
     .n_nodes = 5,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_recover_many_clients},
    {.name = "SnapshotUnreliable",
     .n_nodes = 5,
     .unreliable = true,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_unreliable},
    {.name = "SnapshotUnreliableRecover",
     .n_nodes = 5,
     .unreliable = true,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_unreliable_recover},
    {.name = "SnapshotUnreliableRecoverConcurrentPartition",
     .n_nodes = 5,
     .unreliable = true,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_unreliable_recover_partition},
    {.name = "SnapshotUnreliableRecoverConcurrentPartitionLinearizable",
     .n_nodes = 7,
     .unreliable = true,
     .kv = true,
     .maxraftstate = S_MAXRAFTSTATE,
     .fn = s_snapshot_unreliable_recover_partition_linearizable},
    SIM_SCENARIO_END,
};
