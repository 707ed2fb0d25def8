// Scenarios ported from the MIT 6.5840 KV lab (2024), part 4A: a fault-tolerant KV service
// without snapshots, with the lab's client counts, durations, faults and checks.
//
// How they differ from the lab, once for the whole file:
// - Time is simulated: each runs in a few seconds of real time, and the same seed gives the
//   same run. Clerks retry through client/zkv_client_core.c (same client id and seq, next
//   node after 250 ms of silence, leader hints followed), not the lab's Clerk.
// - Every operation of every clerk (the lab's final reads and check() included) is recorded
//   and the whole history must be linearizable (zkv_lincheck). The lab lets a check that times
//   out pass ("assuming history is ok"); here an UNKNOWN verdict fails the scenario too.
// - Values are "x<process>.<n>;" (docs/history.md), unique over the run; see sim_kvlab.h.
// - Speed4A (TestSpeed4A) times its 1,000 appends in simulated time: the bound (a third of a
//   heartbeat interval per operation) says that a command commits without waiting for a
//   heartbeat, not how fast the code runs. Named with its part, as 4B has one too.
#include "scenarios.h"
#include "sim_kvlab.h"

#include <stdio.h>

static void
s_basic (sim_t *s)
{
    sim_kvlab_generic (s, 1, false, false, false);
}

// 1,000 appends by one clerk, one after the other, at most 33 ms each on average.
static void
s_speed (sim_t *s)
{
    sim_kvlab_speed (s);
}

static void
s_concurrent (sim_t *s)
{
    sim_kvlab_generic (s, 5, false, false, false);
}

// The table makes the network unreliable.
static void
s_unreliable (sim_t *s)
{
    sim_kvlab_generic (s, 5, false, false, false);
}

// Five clients append ten values each to one key over an unreliable network: every append
// must be there exactly once, each client's in order.
static void
s_unreliable_one_key (sim_t *s)
{
    const int nclient = 5;
    const uint64_t upto = 10;
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    sim_kv_put (s, ck, "k", "");
    sim_kvclient_t *cks[5];
    uint64_t n[5] = {0};
    for (int i = 0; i < nclient; i++)
        cks[i] = sim_kv_client (s, SIM_KV_ALL);
    // The clients run concurrently: whenever one is idle, it starts its next append.
    for (;;) {
        bool all_done = true;
        for (int i = 0; i < nclient; i++) {
            if (sim_kv_busy (cks[i]))
                all_done = false;
            else if (n[i] < upto) {
                char v[48];
                sim_kvlab_value (v, sizeof v, sim_kv_client_process (cks[i]), n[i]++);
                sim_kv_start (s, cks[i], ZKV_HIST_APPEND, "k", v);
                all_done = false;
            }
        }
        if (all_done)
            break;
        sim_step (s);
        if (sim_now (s) > SIM_KV_OP_DEADLINE)
            sim_fail (s, "the appends did not complete in %d s",
                      (int)(SIM_KV_OP_DEADLINE / SIM_SEC));
    }
    const char *vx = sim_kv_get (s, ck, "k");
    for (int i = 0; i < nclient; i++)
        sim_kvlab_check_appends (s, sim_kv_client_process (cks[i]), vx, 0, upto);
}

// A request in the minority does not go through until the partition heals; the leader of the
// original network ends up in the minority.
static void
s_one_partition (sim_t *s)
{
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    sim_kv_put (s, ck, "1", "13");

    // Progress in the majority.
    int group[SIM_MAX_NODES];
    sim_kvlab_make_partition (s, group);
    sim_partition (s, group);
    sim_kvclient_t *ckp1 = sim_kv_client (s, sim_kvlab_mask (s, group, 0));
    sim_kvclient_t *ckp2a = sim_kv_client (s, sim_kvlab_mask (s, group, 1));
    sim_kvclient_t *ckp2b = sim_kv_client (s, sim_kvlab_mask (s, group, 1));
    sim_kv_put (s, ckp1, "1", "14");
    sim_kv_check (s, ckp1, "1", "14");

    // No progress in the minority.
    sim_kv_start (s, ckp2a, ZKV_HIST_PUT, "1", "15");
    sim_kv_start (s, ckp2b, ZKV_HIST_GET, "1", NULL);
    sim_sleep (s, 1 * SIM_SEC);
    if (!sim_kv_busy (ckp2a))
        sim_fail (s, "Put in minority completed");
    if (!sim_kv_busy (ckp2b))
        sim_fail (s, "Get in minority completed");
    sim_kv_check (s, ckp1, "1", "14");
    sim_kv_put (s, ckp1, "1", "16");
    sim_kv_check (s, ckp1, "1", "16");

    // Completion after heal.
    sim_heal (s);
    sim_kv_client_connect (ckp2a, SIM_KV_ALL);
    sim_kv_client_connect (ckp2b, SIM_KV_ALL);
    sim_sleep (s, SIM_KV_ELECTION_TIMEOUT);
    sim_sleep (s, 30 * 100 * SIM_MS);
    if (sim_kv_busy (ckp2a))
        sim_fail (s, "Put did not complete");
    if (sim_kv_busy (ckp2b))
        sim_fail (s, "Get did not complete");
    sim_kv_check (s, ck, "1", "15");
}

static void
s_many_partitions_one_client (sim_t *s)
{
    sim_kvlab_generic (s, 1, false, true, false);
}

static void
s_many_partitions_many_clients (sim_t *s)
{
    sim_kvlab_generic (s, 5, false, true, false);
}

static void
s_persist_one_client (sim_t *s)
{
    sim_kvlab_generic (s, 1, true, false, false);
}

// Also run unreliable by the table.
static void
s_persist_concurrent (sim_t *s)
{
    sim_kvlab_generic (s, 5, true, false, false);
}

// Also run unreliable by the table.
static void
s_persist_partition (sim_t *s)
{
    sim_kvlab_generic (s, 5, true, true, false);
}

static void
s_persist_partition_linearizable (sim_t *s)
{
    sim_kvlab_generic (s, 15, true, true, true);
}

const sim_scenario_t sim_scenarios_4a[] = {
    {.name = "Basic", .n_nodes = 5, .kv = true, .fn = s_basic},
    {.name = "Speed4A", .n_nodes = 3, .kv = true, .fn = s_speed},
    {.name = "Concurrent", .n_nodes = 5, .kv = true, .fn = s_concurrent},
    {.name = "Unreliable", .n_nodes = 5, .unreliable = true, .kv = true, .fn = s_unreliable},
    {.name = "UnreliableOneKey",
     .n_nodes = 3,
     .unreliable = true,
     .kv = true,
     .fn = s_unreliable_one_key},
    {.name = "OnePartition", .n_nodes = 5, .kv = true, .fn = s_one_partition},
    {.name = "ManyPartitionsOneClient",
     .n_nodes = 5,
     .kv = true,
     .fn = s_many_partitions_one_client},
    {.name = "ManyPartitionsManyClients",
     .n_nodes = 5,
     .kv = true,
     .fn = s_many_partitions_many_clients},
    {.name = "PersistOneClient", .n_nodes = 5, .kv = true, .fn = s_persist_one_client},
    {.name = "PersistConcurrent", .n_nodes = 5, .kv = true, .fn = s_persist_concurrent},
    {.name = "PersistConcurrentUnreliable",
     .n_nodes = 5,
     .unreliable = true,
     .kv = true,
     .fn = s_persist_concurrent},
    {.name = "PersistPartition", .n_nodes = 5, .kv = true, .fn = s_persist_partition},
    {.name = "PersistPartitionUnreliable",
     .n_nodes = 5,
     .unreliable = true,
     .kv = true,
     .fn = s_persist_partition},
    {.name = "PersistPartitionUnreliableLinearizable",
     .n_nodes = 7,
     .unreliable = true,
     .kv = true,
     .fn = s_persist_partition_linearizable},
    SIM_SCENARIO_END,
};
