// Scenarios ported from the MIT 6.5840 Raft lab (2024), part 3A: leader election.
#include "scenarios.h"

#include <inttypes.h>
#include <stdio.h>

static void
s_initial_election (sim_t *s)
{
    // Is a leader elected?
    sim_check_one_leader (s);
    // Let followers learn of the election, then check that all peers agree on the term.
    sim_sleep (s, 50 * SIM_MS);
    uint64_t term1 = sim_check_terms (s);
    if (term1 < 1)
        sim_fail (s, "term is %" PRIu64 ", but should be at least 1", term1);
    // Does the leader+term stay the same if there is no network failure?
    sim_sleep (s, 2 * SIM_ELECTION_TIMEOUT);
    uint64_t term2 = sim_check_terms (s);
    if (term1 != term2)
        printf ("warning: term changed even though there were no failures\n");
    // There should still be a leader.
    sim_check_one_leader (s);
}

static void
s_re_election (sim_t *s)
{
    int servers = sim_n (s);
    int leader1 = sim_check_one_leader (s);
    // If the leader disconnects, a new one should be elected.
    sim_disconnect (s, leader1);
    sim_check_one_leader (s);
    // If the old leader rejoins, that shouldn't disturb the new leader, and the old leader
    // should switch to follower.
    sim_connect (s, leader1);
    int leader2 = sim_check_one_leader (s);
    // If there's no quorum, no new leader should be elected.
    sim_disconnect (s, leader2);
    sim_disconnect (s, (leader2 + 1) % servers);
    sim_sleep (s, 2 * SIM_ELECTION_TIMEOUT);
    // The one connected server must not think it is the leader.
    sim_check_no_leader (s);
    // If a quorum arises, it should elect a leader.
    sim_connect (s, (leader2 + 1) % servers);
    sim_check_one_leader (s);
    // Re-join of the last node shouldn't prevent a leader from existing.
    sim_connect (s, leader2);
    sim_check_one_leader (s);
}

static void
s_many_elections (sim_t *s)
{
    int servers = sim_n (s);
    sim_check_one_leader (s);
    for (int ii = 1; ii < 10; ii++) {
        // Disconnect three nodes (maybe the same one twice).
        int i1 = (int)zkv_rng_below (sim_rng (s), (uint64_t)servers);
        int i2 = (int)zkv_rng_below (sim_rng (s), (uint64_t)servers);
        int i3 = (int)zkv_rng_below (sim_rng (s), (uint64_t)servers);
        sim_disconnect (s, i1);
        sim_disconnect (s, i2);
        sim_disconnect (s, i3);
        // Either the current leader is still alive, or the remaining four elect a new one.
        sim_check_one_leader (s);
        sim_connect (s, i1);
        sim_connect (s, i2);
        sim_connect (s, i3);
    }
    sim_check_one_leader (s);
}

const sim_scenario_t sim_scenarios_3a[] = {
    {.name = "InitialElection", .n_nodes = 3, .fn = s_initial_election},
    {.name = "ReElection", .n_nodes = 3, .fn = s_re_election},
    {.name = "ManyElections", .n_nodes = 7, .fn = s_many_elections},
    SIM_SCENARIO_END,
};
