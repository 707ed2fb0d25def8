// Scenarios beyond the lab: PreVote and CheckQuorum behaviour, torn-write crash recovery, and
// votes across restarts. Each states the property it guards in its first comment.
#include "scenarios.h"

#include <inttypes.h>

// The node (other than skip) that is up and connected with the highest id, or -1.
static int
s_other (sim_t *s, int skip)
{
    for (int i = sim_n (s) - 1; i >= 0; i--)
        if (i != skip && sim_is_up (s, i) && sim_is_connected (s, i))
            return i;
    return -1;
}

static uint64_t
s_term (sim_t *s, int node)
{
    zkv_raft_status_t st;
    sim_status (s, node, &st);
    return st.term;
}

static zkv_role_t
s_role (sim_t *s, int node)
{
    zkv_raft_status_t st;
    sim_status (s, node, &st);
    return st.role;
}

// PreVote (dissertation §9.6): a follower cut off for a long time keeps failing pre-votes, so
// its term does not grow, and when it comes back the healthy leader keeps leading in its term.
static void
s_isolated_follower_rejoins (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    sim_one_int (s, 101, sim_n (s), true);
    uint64_t term = s_term (s, leader);
    int lonely = s_other (s, leader);
    sim_disconnect (s, lonely);
    sim_sleep (s, 30 * SIM_SEC); // fifty election timeouts or more
    if (s_term (s, lonely) != term)
        sim_fail (s, "isolated node %d raised its term from %" PRIu64 " to %" PRIu64, lonely, term,
                  s_term (s, lonely));
    sim_one_int (s, 102, sim_n (s) - 1, true);
    sim_connect (s, lonely);
    sim_sleep (s, 5 * SIM_SEC);
    if (sim_check_one_leader (s) != leader || s_term (s, leader) != term)
        sim_fail (s, "rejoining node disrupted the leader (leader %d term %" PRIu64 ")",
                  sim_check_one_leader (s), s_term (s, sim_check_one_leader (s)));
    sim_one_int (s, 103, sim_n (s), true);
}

// Leader stickiness with PreVote: a follower that cannot hear the leader (but is heard by
// everyone) asks for pre-votes; the others still hear the leader and refuse, so the term and
// the leader stay.
static void
s_deaf_follower_does_not_disrupt (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    sim_one_int (s, 201, sim_n (s), true);
    uint64_t term = s_term (s, leader);
    int deaf = s_other (s, leader);
    sim_link (s, leader, deaf, false); // deaf hears nothing from the leader
    sim_sleep (s, 10 * SIM_SEC);
    if (sim_check_one_leader (s) != leader || s_term (s, leader) != term)
        sim_fail (s, "a follower that cannot hear the leader took over or raised the term");
    sim_one_int (s, 202, sim_n (s) - 1, true);
    sim_heal (s);
    sim_one_int (s, 203, sim_n (s), true);
}

// CheckQuorum: a leader cut off from every follower steps down within about two election
// timeouts, so a client talking to it is not kept waiting by a stale leader.
static void
s_isolated_leader_steps_down (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    sim_one_int (s, 301, sim_n (s), true);
    sim_disconnect (s, leader);
    sim_sleep (s, 2 * SIM_ELECTION_TIMEOUT);
    if (s_role (s, leader) == ZKV_ROLE_LEADER)
        sim_fail (s, "leader %d kept leading without a quorum", leader);
    int next = sim_check_one_leader (s);
    if (next == leader)
        sim_fail (s, "the isolated node is still seen as leader");
    sim_one_int (s, 302, sim_n (s) - 1, true);
    sim_connect (s, leader);
    sim_one_int (s, 303, sim_n (s), true);
}

// Torn writes: nodes crash in the middle of persisting, keeping a torn prefix of what they
// were writing. Recovery must drop the torn tail, and nothing committed may be lost.
static void
s_torn_write_recovery (sim_t *s)
{
    zkv_rng_t *rng = sim_rng (s);
    sim_check_one_leader (s);
    uint64_t v = 1000;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 5; i++) {
            int node = (int)zkv_rng_below (rng, (uint64_t)sim_n (s));
            sim_start (s, node, sim_cmd_int (v).data, 8, NULL, NULL);
            v++;
        }
        int victim = (int)zkv_rng_below (rng, (uint64_t)sim_n (s));
        sim_crash_mid_write (s, victim, true);
        sim_sleep (s, zkv_rng_range (rng, 5, 300) * SIM_MS);
        if (sim_is_up (s, victim)) { // it wrote nothing meanwhile: crash it plainly
            sim_cancel_mid_write (s, victim);
            sim_crash (s, victim, true);
        }
        sim_restart (s, victim);
        sim_sleep (s, zkv_rng_range (rng, 5, 300) * SIM_MS);
    }
    for (int i = 0; i < sim_n (s); i++)
        sim_restart (s, i);
    sim_one_int (s, v, sim_n (s), true);
    sim_check_final (s);
}

// A restarted node never votes twice in one term: voters and candidates crash right around
// elections, again and again (the simulator's vote ledger flags a second vote in a term).
static void
s_votes_survive_restarts (sim_t *s)
{
    zkv_rng_t *rng = sim_rng (s);
    for (int round = 0; round < 40; round++) {
        int leader = sim_check_one_leader (s);
        sim_crash (s, leader, false); // force an election
        sim_sleep (s, zkv_rng_range (rng, 250, 700) * SIM_MS);
        int voter = (leader + 1 + (int)zkv_rng_below (rng, (uint64_t)sim_n (s) - 1)) % sim_n (s);
        bool torn = zkv_rng_chance (rng, 1, 2);
        sim_crash_mid_write (s, voter, torn);
        sim_sleep (s, zkv_rng_range (rng, 1, 50) * SIM_MS);
        if (sim_is_up (s, voter)) { // it wrote nothing meanwhile: crash it plainly
            sim_cancel_mid_write (s, voter);
            sim_crash (s, voter, torn);
        }
        sim_restart (s, voter);
        sim_restart (s, leader);
    }
    sim_one_int (s, 4242, sim_n (s), true);
}

const sim_scenario_t sim_scenarios_extra[] = {
    {.name = "PreVoteIsolatedRejoin", .n_nodes = 5, .fn = s_isolated_follower_rejoins},
    {.name = "PreVoteDeafFollower", .n_nodes = 3, .fn = s_deaf_follower_does_not_disrupt},
    {.name = "CheckQuorumStepDown", .n_nodes = 5, .fn = s_isolated_leader_steps_down},
    {.name = "TornWriteRecovery", .n_nodes = 5, .snapshot_every = 10, .fn = s_torn_write_recovery},
    {.name = "VotesSurviveRestarts", .n_nodes = 5, .fn = s_votes_survive_restarts},
    SIM_SCENARIO_END,
};
