// The scenario table: one array per lab part, each ended by SIM_SCENARIO_END. tests/sim's
// CMakeLists.txt reads the names (`.name = "X"`) from scenarios_*.c to register sim.X tests.
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

#endif
