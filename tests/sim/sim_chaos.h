// Randomized fault schedules over the world (sweep and demo): crashes and restarts (some torn,
// some in the middle of a write), partitions, unreliable and long-reordering periods, frequent
// snapshots and a steady stream of client proposals; then heal, and require progress and
// convergence.
#ifndef ZKV_SIM_CHAOS_H
#define ZKV_SIM_CHAOS_H

#include "sim.h"

typedef struct {
    uint64_t seed;           // the run
    int n_nodes;             // 0: drawn from the seed (3 or 5)
    int n_groups;            // groups every node hosts; 0: drawn from the seed (1, 2 or 3)
    uint64_t chaos_us;       // how long faults are injected
    bool trace;              // print trace events
    bool narrate;            // human lines (demo)
    bool quiet;              // one-line failure report (sweep)
    sim_sabotage_t sabotage; // selftest: a broken runtime the checks must catch
    bool kv;                 // run the KV service with closed-loop clerks (sim_kv.h) instead of
                             // raw proposals; their history must be linearizable
    int stream;              // streamed snapshots: 0 drawn from the seed (half the seeds, not
                             // with kv), 1 always, -1 never
    bool shards;             // with kv: the sharded world (sim_shard.h), whose controller gets
                             // random joins, leaves and moves among the faults
} sim_chaos_opts_t;

typedef struct {
    bool passed;             // no violation, progress and convergence after healing
    const char *violated;    // the invariant violated, NULL if none
    uint64_t trace_hash;     // the run's trace hash
    uint64_t committed;      // entries committed
    uint64_t sim_us;         // simulated time at the end
    sim_counters_t counters; // the world's counters
} sim_chaos_result_t;

void sim_chaos_run (const sim_chaos_opts_t *opts, sim_chaos_result_t *result);

#endif
