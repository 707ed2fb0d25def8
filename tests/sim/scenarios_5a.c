// Scenarios ported from the MIT 6.5840 shard controller lab (2024, shardctrler/test_test.go):
// the controller (group 0, cluster/zkv_ctrl_sm.h) replicated on 3 nodes, driven by clerks
// through the nodes' frontends, under the lab's joins, leaves, moves and server restarts.
//
// How they differ from the lab:
// - The lab's configuration 0 has no groups; here configuration 1 is the cluster's bootstrap,
//   which in the simulated sharded world holds the controller's own group only (group 0 is
//   listed in every configuration, with the nodes that run it). "The groups" below are the
//   shard groups: every group but 0.
// - The lab's 10 shards are the world's 8 (SIM_KV_SHARDS); its bounds scale with them.
// - A group's members are node ids, not server names; every group joins with nodes 1..3.
// - MinimalTransfer's lab check loops over group ids 1..10, none of which is in the
//   configuration at that point (the groups are 100..190): here it checks the groups that are.
// - The lab's subtests of one test share one world and run in order, as here.
#include "scenarios.h"
#include "sim_shard.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// The shard groups of configuration r (every group but 0), ascending, into out (up to max).
static size_t
s_shard_groups (const zkv_routing_t *r, uint64_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_groups && n < max; i++)
        if (r->group_ids[i] != 0)
            out[n++] = r->group_ids[i];
    return n;
}

static bool
s_has (const zkv_routing_t *r, uint64_t g)
{
    size_t n = 0;
    return zkv_routing_members (r, g, &n) != NULL;
}

// The lab's check(): the latest configuration has exactly these groups, every shard is
// assigned to one of them (when there are any), and shard counts differ by at most one.
static void
s_check (sim_t *s, const uint64_t *groups, size_t n)
{
    zkv_routing_t *c = sim_shard_query (s, UINT64_MAX);
    if (!c)
        sim_fail (s, "no latest configuration");
    uint64_t have[64];
    size_t k = s_shard_groups (c, have, 64);
    if (k != n)
        sim_fail (s, "configuration %" PRIu64 ": wanted %zu groups, got %zu", c->num, n, k);
    for (size_t i = 0; i < n; i++)
        if (!s_has (c, groups[i]))
            sim_fail (s, "configuration %" PRIu64 ": missing group %" PRIu64, c->num, groups[i]);
    if (n > 0)
        for (uint32_t sh = 0; sh < c->nshards; sh++)
            if (c->shard_group[sh] == 0 || !s_has (c, c->shard_group[sh]))
                sim_fail (s, "configuration %" PRIu64 ": shard %u -> invalid group %" PRIu64,
                          c->num, sh, c->shard_group[sh]);
    size_t min = SIZE_MAX, max = 0;
    for (size_t i = 0; i < k; i++) {
        size_t cnt = 0;
        for (uint32_t sh = 0; sh < c->nshards; sh++)
            cnt += c->shard_group[sh] == have[i];
        min = cnt < min ? cnt : min;
        max = cnt > max ? cnt : max;
    }
    if (k && max > min + 1)
        sim_fail (s, "configuration %" PRIu64 ": max %zu too much larger than min %zu", c->num,
                  max, min);
    zkv_routing_destroy (&c);
}

// The lab's check_same_config().
static void
s_same (sim_t *s, const zkv_routing_t *a, const zkv_routing_t *b)
{
    if (a->num != b->num)
        sim_fail (s, "Num wrong: %" PRIu64 " != %" PRIu64, a->num, b->num);
    if (a->nshards != b->nshards ||
        memcmp (a->shard_group, b->shard_group, a->nshards * sizeof (uint64_t)) != 0)
        sim_fail (s, "configuration %" PRIu64 ": Shards wrong", a->num);
    if (a->n_groups != b->n_groups || a->n_members != b->n_members ||
        memcmp (a->group_ids, b->group_ids, a->n_groups * sizeof (uint64_t)) != 0 ||
        memcmp (a->group_size, b->group_size, a->n_groups * sizeof (uint64_t)) != 0 ||
        memcmp (a->members, b->members, a->n_members * sizeof (uint64_t)) != 0)
        sim_fail (s, "configuration %" PRIu64 ": Groups wrong", a->num);
}

static void
s_members_are_nodes (sim_t *s, const zkv_routing_t *c, uint64_t g)
{
    size_t n = 0;
    const uint64_t *m = zkv_routing_members (c, g, &n);
    if (!m || n != (size_t)sim_n (s))
        sim_fail (s, "wrong servers for group %" PRIu64, g);
    for (size_t i = 0; i < n; i++)
        if (m[i] != i + 1)
            sim_fail (s, "wrong servers for group %" PRIu64 ": member %zu is %" PRIu64, g, i,
                      m[i]);
}

static void
s_join1 (sim_t *s, uint64_t g)
{
    sim_shard_join (s, &g, 1);
}

static void
s_leave1 (sim_t *s, uint64_t g)
{
    sim_shard_leave (s, &g, 1);
}

// --- concurrent clerks: each runs its own script of joins and leaves ----------------------

typedef struct {
    sim_kvclient_t *c;  // its clerk
    uint64_t ops[4];    // ZKV_OP_JOIN / ZKV_OP_LEAVE, 0 ends
    uint64_t args[4][3]; // the groups of each
    size_t nargs[4];    //
    int next;           // the next step
} s_script_t;

static void
s_script_step (sim_t *s, sim_kvclient_t *c, void *arg)
{
    s_script_t *sc = arg;
    if (sim_kv_ctrl_rc (c) != 0)
        sim_fail (s, "clerk %d: step %d refused: %s", sim_kv_client_process (c), sc->next,
                  zkv_errname (sim_kv_ctrl_rc (c)));
    if (sc->next >= 4 || sc->ops[sc->next] == 0)
        return;
    int i = sc->next++;
    sim_shard_start (s, c, sc->ops[i], sc->args[i], sc->nargs[i]);
}

static void
s_scripts_run (sim_t *s, s_script_t *scripts, int n)
{
    for (int i = 0; i < n; i++) {
        scripts[i].c = sim_kv_client (s, SIM_KV_ALL);
        sim_kv_client_on_done (scripts[i].c, s_script_step, &scripts[i]);
        scripts[i].next = 1;
        sim_shard_start (s, scripts[i].c, scripts[i].ops[0], scripts[i].args[0],
                         scripts[i].nargs[0]);
    }
    sim_kv_wait_idle (s, sim_now (s) + 60 * SIM_SEC);
    for (int i = 0; i < n; i++)
        if (scripts[i].next < 4 && scripts[i].ops[scripts[i].next] != 0)
            sim_fail (s, "clerk %d did not finish its script", i);
}

// --- the lab's tests -----------------------------------------------------------------------

#define S_NPARA 10

static void
s_basic (sim_t *s)
{
    // LeaveJoin.
    zkv_routing_t *cfa[6] = {0};
    cfa[0] = sim_shard_query (s, UINT64_MAX);
    s_check (s, NULL, 0);
    uint64_t gid1 = 1, gid2 = 2;
    s_join1 (s, gid1);
    s_check (s, &gid1, 1);
    cfa[1] = sim_shard_query (s, UINT64_MAX);
    s_join1 (s, gid2);
    uint64_t both[] = {gid1, gid2};
    s_check (s, both, 2);
    cfa[2] = sim_shard_query (s, UINT64_MAX);
    zkv_routing_t *cfx = sim_shard_query (s, UINT64_MAX);
    s_members_are_nodes (s, cfx, gid1);
    s_members_are_nodes (s, cfx, gid2);
    zkv_routing_destroy (&cfx);
    s_leave1 (s, gid1);
    s_check (s, &gid2, 1);
    cfa[4] = sim_shard_query (s, UINT64_MAX);
    s_leave1 (s, gid2);
    cfa[5] = sim_shard_query (s, UINT64_MAX);
    sim_note (s, "subtest", 0, 1, 0);

    // HistoricalQueries: with each server down in turn, every old configuration is the same.
    for (int node = 0; node < sim_n (s); node++) {
        sim_crash (s, node, false);
        for (int i = 0; i < 6; i++) {
            if (!cfa[i])
                continue; // the lab's cfa[3] is never set
            zkv_routing_t *c = sim_shard_query (s, cfa[i]->num);
            if (!c)
                sim_fail (s, "configuration %" PRIu64 " is gone", cfa[i]->num);
            s_same (s, c, cfa[i]);
            zkv_routing_destroy (&c);
        }
        sim_restart (s, node);
    }
    sim_note (s, "subtest", 0, 2, 0);

    // Move.
    uint64_t gid3 = 503, gid4 = 504;
    s_join1 (s, gid3);
    s_join1 (s, gid4);
    zkv_routing_t *cf = sim_shard_query (s, UINT64_MAX);
    uint32_t nshards = cf->nshards;
    zkv_routing_destroy (&cf);
    for (uint32_t i = 0; i < nshards; i++) {
        cf = sim_shard_query (s, UINT64_MAX);
        uint64_t to = i < nshards / 2 ? gid3 : gid4;
        sim_shard_move (s, i, to);
        if (cf->shard_group[i] != to) {
            zkv_routing_t *cf1 = sim_shard_query (s, UINT64_MAX);
            if (cf1->num <= cf->num)
                sim_fail (s, "Move should increase the configuration number");
            zkv_routing_destroy (&cf1);
        }
        zkv_routing_destroy (&cf);
    }
    zkv_routing_t *cf2 = sim_shard_query (s, UINT64_MAX);
    for (uint32_t i = 0; i < nshards; i++) {
        uint64_t want = i < nshards / 2 ? gid3 : gid4;
        if (cf2->shard_group[i] != want)
            sim_fail (s, "expected shard %u on group %" PRIu64 ", actually %" PRIu64, i, want,
                      cf2->shard_group[i]);
    }
    zkv_routing_destroy (&cf2);
    s_leave1 (s, gid3);
    s_leave1 (s, gid4);
    sim_note (s, "subtest", 0, 3, 0);

    // ConcurrentLeaveJoin: 10 clerks at once, each joining gid + 1000, joining gid and
    // leaving gid + 1000.
    s_script_t scripts[S_NPARA];
    memset (scripts, 0, sizeof scripts);
    uint64_t gids[S_NPARA];
    for (int i = 0; i < S_NPARA; i++) {
        gids[i] = (uint64_t)i * 10 + 100;
        scripts[i].ops[0] = ZKV_OP_JOIN;
        scripts[i].args[0][0] = gids[i] + 1000;
        scripts[i].ops[1] = ZKV_OP_JOIN;
        scripts[i].args[1][0] = gids[i];
        scripts[i].ops[2] = ZKV_OP_LEAVE;
        scripts[i].args[2][0] = gids[i] + 1000;
        scripts[i].nargs[0] = scripts[i].nargs[1] = scripts[i].nargs[2] = 1;
    }
    s_scripts_run (s, scripts, S_NPARA);
    s_check (s, gids, S_NPARA);
    sim_note (s, "subtest", 0, 4, 0);

    // MinimalTransfer: 5 joins move no shard between the groups already there.
    zkv_routing_t *c1 = sim_shard_query (s, UINT64_MAX);
    for (int i = 0; i < 5; i++)
        s_join1 (s, (uint64_t)S_NPARA + 1 + (uint64_t)i);
    zkv_routing_t *c2 = sim_shard_query (s, UINT64_MAX);
    for (uint32_t j = 0; j < c1->nshards; j++)
        if (c2->shard_group[j] != c1->shard_group[j] && s_has (c1, c2->shard_group[j]))
            sim_fail (s, "non-minimal transfer after Join()s: shard %u moved from group %" PRIu64
                      " to group %" PRIu64 ", which was there before",
                      j, c1->shard_group[j], c2->shard_group[j]);
    sim_note (s, "subtest", 0, 5, 0);

    // MinimalTransferAfterLeave: their leaves move only their own shards.
    for (int i = 0; i < 5; i++)
        s_leave1 (s, (uint64_t)S_NPARA + 1 + (uint64_t)i);
    zkv_routing_t *c3 = sim_shard_query (s, UINT64_MAX);
    for (uint32_t j = 0; j < c1->nshards; j++)
        if (s_has (c1, c2->shard_group[j]) && c3->shard_group[j] != c2->shard_group[j])
            sim_fail (s, "non-minimal transfer after Leave()s: shard %u left group %" PRIu64, j,
                      c2->shard_group[j]);
    zkv_routing_destroy (&c1);
    zkv_routing_destroy (&c2);
    zkv_routing_destroy (&c3);
    for (int i = 0; i < 6; i++)
        zkv_routing_destroy (&cfa[i]);
}

static void
s_minimal_again (sim_t *s)
{
    s_join1 (s, 1);
    s_join1 (s, 2);
    zkv_routing_t *c1 = sim_shard_query (s, UINT64_MAX);
    s_join1 (s, 3);
    zkv_routing_t *c2 = sim_shard_query (s, UINT64_MAX);
    uint32_t n = c1->nshards, changed = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (c2->shard_group[i] != 3 && c1->shard_group[i] != c2->shard_group[i])
            sim_fail (s, "shard %u moved from group %" PRIu64 " to group %" PRIu64
                      ", but should not have",
                      i, c1->shard_group[i], c2->shard_group[i]);
        changed += c1->shard_group[i] != c2->shard_group[i];
    }
    if (changed > n / 3 + 1)
        sim_fail (s, "too many shards (%u) moved after join", changed);
    s_leave1 (s, 1);
    zkv_routing_t *c3 = sim_shard_query (s, UINT64_MAX);
    changed = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (c2->shard_group[i] != 1 && c2->shard_group[i] != c3->shard_group[i])
            sim_fail (s, "shard %u moved from group %" PRIu64 " to group %" PRIu64
                      ", but should not have",
                      i, c2->shard_group[i], c3->shard_group[i]);
        changed += c2->shard_group[i] != c3->shard_group[i];
    }
    if (changed > n / 3 + 1)
        sim_fail (s, "too many shards (%u) moved after leave", changed);
    zkv_routing_destroy (&c1);
    zkv_routing_destroy (&c2);
    zkv_routing_destroy (&c3);
}

static int
s_ctrl_leader (sim_t *s)
{
    int saved = sim_group (s);
    sim_set_group (s, 0);
    int leader = -1;
    for (int i = 0; i < sim_n (s); i++) {
        zkv_raft_status_t st;
        if (sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER)
            leader = i;
    }
    sim_set_group (s, saved);
    return leader;
}

static void
s_multi (sim_t *s)
{
    // LeaveJoin, groups joining and leaving several at a time.
    s_check (s, NULL, 0);
    uint64_t g12[] = {1, 2};
    sim_shard_join (s, g12, 2);
    s_check (s, g12, 2);
    uint64_t gid3 = 3;
    s_join1 (s, gid3);
    uint64_t g123[] = {1, 2, 3};
    s_check (s, g123, 3);
    zkv_routing_t *cfx = sim_shard_query (s, UINT64_MAX);
    for (int i = 0; i < 3; i++)
        s_members_are_nodes (s, cfx, g123[i]);
    zkv_routing_destroy (&cfx);
    uint64_t g13[] = {1, 3};
    sim_shard_leave (s, g13, 2);
    uint64_t g2 = 2;
    s_check (s, &g2, 1);
    cfx = sim_shard_query (s, UINT64_MAX);
    s_members_are_nodes (s, cfx, g2);
    zkv_routing_destroy (&cfx);
    s_leave1 (s, g2);
    sim_note (s, "subtest", 0, 1, 0);

    // ConcurrentLeaveJoin: 10 clerks each joining 3 groups at once and leaving 2 of them.
    s_script_t scripts[S_NPARA];
    memset (scripts, 0, sizeof scripts);
    uint64_t gids[S_NPARA];
    for (int i = 0; i < S_NPARA; i++) {
        gids[i] = (uint64_t)i + 1000;
        scripts[i].ops[0] = ZKV_OP_JOIN;
        scripts[i].args[0][0] = gids[i];
        scripts[i].args[0][1] = gids[i] + 1000;
        scripts[i].args[0][2] = gids[i] + 2000;
        scripts[i].nargs[0] = 3;
        scripts[i].ops[1] = ZKV_OP_LEAVE;
        scripts[i].args[1][0] = gids[i] + 1000;
        scripts[i].args[1][1] = gids[i] + 2000;
        scripts[i].nargs[1] = 2;
    }
    s_scripts_run (s, scripts, S_NPARA);
    s_check (s, gids, S_NPARA);
    sim_note (s, "subtest", 0, 2, 0);

    // MinimalTransfer after a multi-join, and after a multi-leave.
    zkv_routing_t *c1 = sim_shard_query (s, UINT64_MAX);
    uint64_t more[5];
    for (int i = 0; i < 5; i++)
        more[i] = (uint64_t)S_NPARA + 1 + (uint64_t)i;
    sim_shard_join (s, more, 5);
    zkv_routing_t *c2 = sim_shard_query (s, UINT64_MAX);
    for (uint32_t j = 0; j < c1->nshards; j++)
        if (c2->shard_group[j] != c1->shard_group[j] && s_has (c1, c2->shard_group[j]))
            sim_fail (s, "non-minimal transfer after a multi-join: shard %u", j);
    sim_shard_leave (s, more, 5);
    zkv_routing_t *c3 = sim_shard_query (s, UINT64_MAX);
    for (uint32_t j = 0; j < c1->nshards; j++)
        if (s_has (c1, c2->shard_group[j]) && c3->shard_group[j] != c2->shard_group[j])
            sim_fail (s, "non-minimal transfer after a multi-leave: shard %u", j);
    zkv_routing_destroy (&c1);
    zkv_routing_destroy (&c2);
    zkv_routing_destroy (&c3);
    sim_note (s, "subtest", 0, 3, 0);

    // AgreeConfig: the leader goes down; the next one answers the same configuration.
    int leader = s_ctrl_leader (s);
    if (leader < 0)
        sim_fail (s, "no controller leader");
    zkv_routing_t *c = sim_shard_query (s, UINT64_MAX);
    sim_crash (s, leader, false);
    zkv_routing_t *after = sim_shard_query (s, UINT64_MAX);
    s_same (s, c, after);
    zkv_routing_destroy (&c);
    zkv_routing_destroy (&after);
}

const sim_scenario_t sim_scenarios_5a[] = {
    {.name = "CtrlBasic", .n_nodes = 3, .fn = s_basic, .shards = true, .n_groups = 1},
    {.name = "CtrlMinimalAgain", .n_nodes = 3, .fn = s_minimal_again, .shards = true, .n_groups = 1},
    {.name = "CtrlMulti", .n_nodes = 3, .fn = s_multi, .shards = true, .n_groups = 1},
    SIM_SCENARIO_END,
};
