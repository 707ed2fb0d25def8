// Regression scenarios: runs found by the sweep, replayed step by step. Each states in its first
// comment what it reproduces.
#include "scenarios.h"

#include <inttypes.h>

static zkv_raft_status_t
s_st (sim_t *s, int node)
{
    zkv_raft_status_t st = {0};
    sim_status (s, node, &st);
    return st;
}

typedef struct {
    int node;       // the node watched
    uint64_t after; // ... leads a term above this
} s_lead_watch_t;

static bool
s_leads_after (sim_t *s, void *arg)
{
    const s_lead_watch_t *w = arg;
    zkv_raft_status_t st;
    return sim_status (s, w->node, &st) && st.role == ZKV_ROLE_LEADER && st.term > w->after;
}

typedef struct {
    int node;       // the node watched
    uint64_t index; // ... has applied at least this
} s_applied_watch_t;

static bool
s_applied_at (sim_t *s, void *arg)
{
    const s_applied_watch_t *w = arg;
    return sim_applied (s, w->node) >= w->index;
}

static void
s_groups (sim_t *s, int l, int st, int w, int v1, int v2, int gl, int gs, int gw, int gv)
{
    int g[SIM_MAX_NODES] = {0};
    g[l] = gl;
    g[st] = gs;
    g[w] = gw;
    g[v1] = g[v2] = gv;
    sim_partition (s, g);
}

// Sweep seed 316 (--kv, ed4a327): a deposed leader of an older term may overwrite an entry
// that a later term committed, on a node that never heard of that later term (Raft allows
// it: §5.4 promises the entry to leaders of LATER terms only, and a node still in the older
// term was not one of the majority that stored it). Without CheckQuorum:
//   L leads term t and appends X at m+1, which reaches W only (not committed);
//   S (log through m) is elected in term t+1 by V1 and V2 (far behind), writes its no-op at
//   m+1 and is cut off at once (its no-op reaches no one; it keeps leading, alone);
//   W (holding X) is elected in term t+2 by V1 and V2 and commits X with its own entry;
//   S and L meet: S's append of term t+1 replaces X on L (still in term t).
// Nothing committed is lost (W, V1, V2 hold X, in term t+2), L never applied X, and it gets X
// back from W after the heal. A checker that forbids every replacement of a committed entry
// reports "leader completeness" here although Raft's rules were kept.
static void
s_stale_leader_replaces_on_older_term (sim_t *s)
{
    int l = sim_check_one_leader (s);
    int o[4], n = 0;
    for (int i = 0; i < sim_n (s); i++)
        if (i != l)
            o[n++] = i;
    int st = o[0], w = o[1], v1 = o[2], v2 = o[3];
    sim_one_int (s, 1000, 5, true);
    // V1 and V2 fall behind: index m commits on L, S and W only.
    s_groups (s, l, st, w, v1, v2, 0, 0, 0, 1);
    uint64_t m = sim_one_int (s, 1001, 3, true);
    uint64_t t = s_st (s, l).term;
    // S is cut off; L appends X, which reaches W only.
    s_groups (s, l, st, w, v1, v2, 0, 2, 0, 1);
    sim_cmd_t x = sim_cmd_int (1002);
    uint64_t xi;
    if (!sim_start (s, l, x.data, x.len, &xi, NULL) || xi != m + 1)
        sim_fail (s, "the leader did not take X at %" PRIu64, m + 1);
    sim_sleep (s, 300 * SIM_MS);
    if (s_st (s, w).last_index < xi || s_st (s, l).commit >= xi)
        sim_fail (s, "X should be on L and W only, uncommitted");
    // S, V1 and V2 elect S (the only one of them with an up-to-date log) in term t+1; S is
    // cut off the moment it leads, so its no-op at m+1 reaches no one.
    s_groups (s, l, st, w, v1, v2, 0, 1, 3, 1);
    s_lead_watch_t ws = {.node = st, .after = t};
    if (!sim_run_until (s, sim_now (s) + 20 * SIM_SEC, s_leads_after, &ws))
        sim_fail (s, "S was not elected");
    s_groups (s, l, st, w, v1, v2, 0, 2, 3, 1);
    uint64_t ts = s_st (s, st).term;
    // W, V1 and V2 elect W (it holds X, the longest log) in a later term; it commits X.
    s_groups (s, l, st, w, v1, v2, 0, 2, 1, 1);
    s_lead_watch_t ww = {.node = w, .after = ts};
    if (!sim_run_until (s, sim_now (s) + 20 * SIM_SEC, s_leads_after, &ww))
        sim_fail (s, "W was not elected");
    s_applied_watch_t aw = {.node = w, .index = xi};
    if (!sim_run_until (s, sim_now (s) + 5 * SIM_SEC, s_applied_at, &aw))
        sim_fail (s, "W did not commit X");
    zkv_raft_status_t lst = s_st (s, l), sst = s_st (s, st);
    if (lst.role != ZKV_ROLE_LEADER || lst.term != t || sst.role != ZKV_ROLE_LEADER ||
        sst.term != ts)
        sim_fail (s, "L and S should still lead their old terms");
    // S and L meet: S's append of term ts replaces X on L, which is still in term t.
    s_groups (s, l, st, w, v1, v2, 0, 0, 1, 1);
    sim_sleep (s, 1 * SIM_SEC);
    uint64_t term;
    if (zkv_raft_term_at (sim_raft (s, l), xi, &term) != 0 || term != ts)
        sim_fail (s, "L should hold S's entry of term %" PRIu64 " at %" PRIu64, ts, xi);
    // After the heal everyone converges on W's log, X included.
    sim_heal (s);
    sim_one_int (s, 1003, 5, true);
    const uint8_t *data;
    size_t len;
    if (!sim_committed (s, xi, &data, &len, NULL) || sim_cmd_value (data, len) != 1002)
        sim_fail (s, "index %" PRIu64 " does not hold X", xi);
}

const sim_scenario_t sim_scenarios_regress[] = {
    {.name = "StaleLeaderReplacesOnOlderTerm",
     .n_nodes = 5,
     .fn = s_stale_leader_replaces_on_older_term,
     .no_check_quorum = true},
    SIM_SCENARIO_END,
};
