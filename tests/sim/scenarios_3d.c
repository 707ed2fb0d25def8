// Scenarios ported from the MIT 6.5840 Raft lab (2024), part 3D: log compaction and snapshots.
//
// How they differ from the lab, once for the whole file:
// - Snapshots: the lab's applier snapshots when (index + 1) % 10 == 0; ours are taken by the
//   simulator's state machine every snapshot_every (10) applied entries, set by the table's
//   flag, and hold the state machine's hash chain rather than every command.
// - The lab's LogSize() is the largest persisted Raft state (without the snapshot);
//   sim_log_size is the largest durable memstore size (entries with their framing, plus the
//   16-byte snapshot). The lab's bound, LogSize() >= MAXLOGSIZE = 2000 bytes, is kept.
// - Our leaders append a no-op at election (§8): indexes are shifted, which no check here
//   depends on.
#include "scenarios.h"

#include <inttypes.h>

#define S_SNAPSHOT_INTERVAL 10   // the lab's SnapShotInterval (the table's snapshot_every)
#define S_MAX_LOG_SIZE      2000 // the lab's MAXLOGSIZE, in bytes

// The lab's rand.Int(): a non-negative 63-bit integer.
static uint64_t
s_rand_int (sim_t *s)
{
    return zkv_rng_next (sim_rng (s)) >> 1;
}

// The lab's "perhaps enough to get a snapshot": 5 to 14 commands.
static int
s_batch (sim_t *s)
{
    return S_SNAPSHOT_INTERVAL / 2 + (int)zkv_rng_below (sim_rng (s), S_SNAPSHOT_INTERVAL);
}

// The lab's snapcommon: 30 rounds in which a follower (or, one round in three, the leader)
// is disconnected or crashed while a burst of commands is proposed, so that it comes back
// behind the others' snapshots and must be sent one. The log must stay small throughout.
static void
s_snap_common (sim_t *s, bool disconnect, bool crash)
{
    int servers = sim_n (s);
    sim_one_int (s, s_rand_int (s), servers, true);
    int leader1 = sim_check_one_leader (s);
    for (int i = 0; i < 30; i++) {
        int victim = (leader1 + 1) % servers;
        int sender = leader1;
        if (i % 3 == 1) {
            sender = (leader1 + 1) % servers;
            victim = leader1;
        }
        if (disconnect) {
            sim_disconnect (s, victim);
            sim_one_int (s, s_rand_int (s), servers - 1, true);
        }
        if (crash) {
            sim_crash1 (s, victim);
            sim_one_int (s, s_rand_int (s), servers - 1, true);
        }
        // Perhaps enough to get a snapshot. The sender may not be the leader (or be down):
        // then Start refuses, as in the lab.
        int nn = s_batch (s);
        for (int k = 0; k < nn; k++) {
            sim_cmd_t c = sim_cmd_int (s_rand_int (s));
            sim_start (s, sender, c.data, c.len, NULL, NULL);
        }
        // Let the appliers catch up with those Starts. With nobody away, every follower must
        // be caught up, so that SnapshotBasic never needs an InstallSnapshot.
        if (!disconnect && !crash)
            sim_one_int (s, s_rand_int (s), servers, true);
        else
            sim_one_int (s, s_rand_int (s), servers - 1, true);
        size_t log_size = sim_log_size (s);
        if (log_size >= S_MAX_LOG_SIZE)
            sim_fail (s, "Log size too large: %zu bytes (bound %d) in round %d", log_size,
                      S_MAX_LOG_SIZE, i);
        if (disconnect) {
            // The follower comes back, maybe behind a snapshot.
            sim_connect (s, victim);
            sim_one_int (s, s_rand_int (s), servers, true);
            leader1 = sim_check_one_leader (s);
        }
        if (crash) {
            sim_start1 (s, victim);
            sim_connect (s, victim);
            sim_one_int (s, s_rand_int (s), servers, true);
            leader1 = sim_check_one_leader (s);
        }
    }
}

static void
s_snapshot_basic (sim_t *s)
{
    s_snap_common (s, false, false);
}

// Install snapshots (disconnect); the table makes it reliable or not.
static void
s_snapshot_install (sim_t *s)
{
    s_snap_common (s, true, false);
}

// Install snapshots (crash); the table makes it reliable or not.
static void
s_snapshot_install_crash (sim_t *s)
{
    s_snap_common (s, false, true);
}

static void
s_crash_all_restart_all (sim_t *s)
{
    for (int i = 0; i < sim_n (s); i++)
        sim_crash1 (s, i);
    for (int i = 0; i < sim_n (s); i++) {
        sim_start1 (s, i);
        sim_connect (s, i);
    }
}

// Servers persist their snapshots and restart from a snapshot plus the tail of the log.
static void
s_snapshot_all_crash (sim_t *s)
{
    int servers = sim_n (s);
    sim_one_int (s, s_rand_int (s), servers, true);
    for (int i = 0; i < 5; i++) {
        int nn = s_batch (s);
        for (int k = 0; k < nn; k++)
            sim_one_int (s, s_rand_int (s), servers, true);
        uint64_t index1 = sim_one_int (s, s_rand_int (s), servers, true);
        s_crash_all_restart_all (s);
        uint64_t index2 = sim_one_int (s, s_rand_int (s), servers, true);
        if (index2 < index1 + 1)
            sim_fail (s, "index decreased from %" PRIu64 " to %" PRIu64, index1, index2);
    }
}

// A restarted server initialises its in-memory copy of the snapshot, so that what it persists
// next does not lose it: crash all after a snapshot, write once, crash all again, write again.
static void
s_snapshot_init (sim_t *s)
{
    int servers = sim_n (s);
    sim_one_int (s, s_rand_int (s), servers, true);
    // Enough commands for a snapshot.
    for (int k = 0; k < S_SNAPSHOT_INTERVAL + 1; k++)
        sim_one_int (s, s_rand_int (s), servers, true);
    s_crash_all_restart_all (s);
    // A single command, so that something is written back to persistent storage.
    sim_one_int (s, s_rand_int (s), servers, true);
    s_crash_all_restart_all (s);
    // Another command, to trigger a bug if there is one.
    sim_one_int (s, s_rand_int (s), servers, true);
}

const sim_scenario_t sim_scenarios_3d[] = {
    {.name = "SnapshotBasic",
     .n_nodes = 3,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_basic},
    {.name = "SnapshotInstall",
     .n_nodes = 3,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_install},
    {.name = "SnapshotInstallUnreliable",
     .n_nodes = 3,
     .unreliable = true,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_install},
    {.name = "SnapshotInstallCrash",
     .n_nodes = 3,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_install_crash},
    {.name = "SnapshotInstallUnCrash",
     .n_nodes = 3,
     .unreliable = true,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_install_crash},
    {.name = "SnapshotAllCrash",
     .n_nodes = 3,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_all_crash},
    {.name = "SnapshotInit",
     .n_nodes = 3,
     .snapshot_every = S_SNAPSHOT_INTERVAL,
     .fn = s_snapshot_init},
    SIM_SCENARIO_END,
};
