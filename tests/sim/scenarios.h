// The scenario tables: one array per file scenarios_*.c, each ended by SIM_SCENARIO_END.
// tests/sim/CMakeLists.txt reads the tables and their names (`.name = "X"`) from the files,
// lists the tables in the generated sim_tables.c and registers a ctest sim.X per name.
#ifndef ZKV_SIM_SCENARIOS_H
#define ZKV_SIM_SCENARIOS_H

#include "sim_harness.h"

typedef struct {
    const char *name;             // "InitialElection": ctest runs it as sim.InitialElection
    int n_nodes;                  // the lab's servers
    bool unreliable;              // the lab's make_config(unreliable)
    uint64_t snapshot_every;      // the lab's snapshot flag: SnapShotInterval (10), 0 for none
    void (*fn) (sim_t *s);        // the test; fails through sim_fail
    uint32_t max_entries_per_msg; // Raft batching override, 0 for the core's default
    uint32_t max_inflight_msgs;   // Raft pipelining override, 0 for the core's default
    bool no_check_quorum;         // Raft without CheckQuorum (a deposed leader lingers)
    bool kv;                     // run the KV service (sim_kv.h); its history is checked at the end
    size_t maxraftstate;         // KV: the lab's maxraftstate in bytes, 0 for none (the lab's -1)
    bool stream;                 // streamed snapshots (sim.h cfg.stream)
    size_t snapshot_chunk_bytes; // chunk size override, 0 for the core's default
    size_t stream_pad;           // streaming: a snapshot's stream is about 24 + 1.5 x this
    uint32_t req_busy_pm;        // streaming: the leader's application cannot read a chunk now
                                 // this often (per mille; Raft asks again)
    bool shards;                 // sharded (sim.h cfg.shards): group 0 the shard controller,
    int n_groups;                // ... and n_groups - 1 shard groups (implies kv)
    uint32_t log_clock_x;        // KV: the nodes' clocks run this many times faster (0: 1)
    uint64_t session_ttl_ms;     // KV: client sessions idle this long expire (0: the default)
} sim_scenario_t;

#define SIM_SCENARIO_END                                                                           \
    {                                                                                              \
        .name = NULL                                                                               \
    }

extern const sim_scenario_t sim_scenarios_3a[];
extern const sim_scenario_t sim_scenarios_3b[];
extern const sim_scenario_t sim_scenarios_3c[];
extern const sim_scenario_t sim_scenarios_3d[];
extern const sim_scenario_t sim_scenarios_4a[];
extern const sim_scenario_t sim_scenarios_4b[];
extern const sim_scenario_t sim_scenarios_5a[];
extern const sim_scenario_t sim_scenarios_5b[];
// Every table, NULL-terminated (generated: sim_tables.c in the build directory).
extern const sim_scenario_t *const sim_scenario_tables[];

#endif
