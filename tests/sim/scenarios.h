// The scenario tables: one array per file scenarios_*.c, each ended by SIM_SCENARIO_END.
// tests/sim/CMakeLists.txt reads the tables and their names (`.name = "X"`) from the files,
// lists the tables in the generated sim_tables.c and registers a ctest sim.X per name.
#ifndef ZKV_SIM_SCENARIOS_H
#define ZKV_SIM_SCENARIOS_H

#include "sim_harness.h"

typedef struct {
    const char *name;        // "InitialElection": ctest runs it as sim.InitialElection
    int n_nodes;             // the lab's servers
    bool unreliable;         // the lab's make_config(unreliable)
    uint64_t snapshot_every; // the lab's snapshot flag: SnapShotInterval (10), 0 for none
    void (*fn) (sim_t *s);   // the test; fails through sim_fail
} sim_scenario_t;

#define SIM_SCENARIO_END                                                                           \
    {                                                                                              \
        NULL, 0, false, 0, NULL                                                                    \
    }

extern const sim_scenario_t sim_scenarios_3a[];
extern const sim_scenario_t sim_scenarios_3b[];
extern const sim_scenario_t sim_scenarios_3c[];
extern const sim_scenario_t sim_scenarios_3d[];
// Every table, NULL-terminated (generated: sim_tables.c in the build directory).
extern const sim_scenario_t *const sim_scenario_tables[];

#endif
