// Scenarios ported from the MIT 6.5840 Raft lab, part 3C: filled in by its owner.
#include "scenarios.h"

const sim_scenario_t sim_scenarios_3c[] = {
    SIM_SCENARIO_END,
};
