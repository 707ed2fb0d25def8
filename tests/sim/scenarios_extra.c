// Scenarios beyond the lab: PreVote and CheckQuorum behaviour, torn-write crash recovery,
// votes across restarts, the Raft paper's Figure 8 played step by step, a deposed leader's
// appends, and linearizable reads (ReadIndex). Each states the property it guards in its
// first comment.
#include "scenarios.h"
#include "sim_kv.h"

#include <inttypes.h>
#include <stdio.h>

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

// --- Figure8Explicit ---------------------------------------------------------------------

// Only the links between hub and each spoke work (both ways); every other link is cut.
static void
s_star (sim_t *s, int hub, const int *spokes, int n_spokes)
{
    for (int a = 0; a < sim_n (s); a++)
        for (int b = 0; b < sim_n (s); b++)
            if (a != b)
                sim_link (s, a, b, false);
    for (int i = 0; i < n_spokes; i++) {
        sim_link (s, hub, spokes[i], true);
        sim_link (s, spokes[i], hub, true);
    }
}

typedef struct {
    int node;       // the node watched
    uint64_t term;  // leader of a term above this
    uint64_t index; // persisted through this index
} s_watch_t;

static bool
s_leads_after (sim_t *s, void *arg)
{
    s_watch_t *w = arg;
    zkv_raft_status_t st;
    return sim_status (s, w->node, &st) && st.role == ZKV_ROLE_LEADER && st.term > w->term;
}

static bool
s_persisted (sim_t *s, void *arg)
{
    s_watch_t *w = arg;
    zkv_raft_status_t st;
    return sim_status (s, w->node, &st) && st.stable_index >= w->index;
}

// Runs until pred holds, stopping at the very step it becomes true (before any message the
// step sent is delivered), or fails after us of simulated time.
static void
s_until (sim_t *s, bool (*pred) (sim_t *s, void *arg), s_watch_t *w, uint64_t us, const char *what)
{
    if (!sim_run_until (s, sim_now (s) + us, pred, w))
        sim_fail (s, "Figure8Explicit: node %d %s not in time", w->node + 1, what);
}

// Term of node's entry at index, 0 if it has none there.
static uint64_t
s_term_at (sim_t *s, int node, uint64_t index)
{
    const zkv_entry_t *e =
        sim_is_up (s, node) ? zkv_raft_entry_at (sim_raft (s, node), index) : NULL;
    return e ? e->term : 0;
}

// The Raft paper's Figure 8, step by step, with the no-op a new leader appends (§8) and with
// one entry per AppendEntries and one message in flight, so that the new leader's old-term
// entries reach a majority before an entry of its own term does:
//  (a) S1 leads term ta; its entries (no-op, E) reach S2 only. S1 crashes.
//  (b) S5 leads term tb with votes of S3 and S4; its entries (no-op, F at E's index) reach
//      no one. S5 crashes.
//  (c) S1 restarts and leads term tc (votes of S2, S3); it re-replicates its term-ta entries
//      to S3, so that E is on S1, S2, S3 (a majority), then its link to S3 fails before its
//      term-tc no-op gets there. A leader that counted E's replicas would commit it now.
//      S1 crashes.
//  (d) S5 restarts and leads term td (votes of S3, S4: its log ends in tb > ta) and overwrites
//      E with F on S3. Correct only because E was never committed: with the §5.4.2 rule
//      broken, E was committed and applied in (c), and the invariants flag the overwrite.
static void
s_figure8_explicit (sim_t *s)
{
    enum { S1 = 0, S2, S3, S4, S5 };
    sim_check_one_leader (s);
    sim_one_int (s, 800, 5, true);
    zkv_raft_status_t st;
    sim_status (s, S1, &st);
    uint64_t k = st.last_index; // every node holds 1..k, committed
    for (int i = 0; i < 5; i++) {
        sim_status (s, i, &st);
        if (st.last_index != k || st.commit != k)
            sim_fail (s,
                      "Figure8Explicit: node %d holds %" PRIu64 " (commit %" PRIu64
                      "), expected %" PRIu64,
                      i + 1, st.last_index, st.commit, k);
    }
    // Everyone apart until no leader is left (CheckQuorum).
    s_star (s, S1, NULL, 0);
    sim_sleep (s, 2 * SIM_ELECTION_TIMEOUT);

    // (a)
    s_star (s, S1, (int[]){S2, S3}, 2);
    s_watch_t w = {.node = S1, .term = s_term (s, S1)};
    s_until (s, s_leads_after, &w, 10 * SIM_SEC, "became leader in (a)");
    sim_link (s, S1, S3, false); // its no-op, sent a moment ago, never reaches S3
    uint64_t ta = s_term (s, S1), index;
    sim_cmd_t e = sim_cmd_int (0xE);
    if (!sim_start (s, S1, e.data, e.len, &index, NULL) || index != k + 2)
        sim_fail (s, "Figure8Explicit: S1 did not take E at %" PRIu64, k + 2);
    w = (s_watch_t){.node = S2, .index = k + 2};
    s_until (s, s_persisted, &w, 2 * SIM_SEC, "persisted E");
    sim_crash (s, S1, false);
    sim_note (s, "fig8-a", S1, ta, k + 2);

    // (b)
    s_star (s, S5, (int[]){S3, S4}, 2);
    w = (s_watch_t){.node = S5, .term = ta};
    s_until (s, s_leads_after, &w, 10 * SIM_SEC, "became leader in (b)");
    sim_link (s, S5, S3, false);
    sim_link (s, S5, S4, false);
    uint64_t tb = s_term (s, S5);
    sim_cmd_t f = sim_cmd_int (0xF);
    if (!sim_start (s, S5, f.data, f.len, &index, NULL) || index != k + 2)
        sim_fail (s, "Figure8Explicit: S5 did not take F at %" PRIu64, k + 2);
    sim_crash (s, S5, false);
    sim_note (s, "fig8-b", S5, tb, k + 2);

    // (c)
    s_star (s, S1, (int[]){S2, S3}, 2);
    sim_restart (s, S1);
    w = (s_watch_t){.node = S1, .term = tb};
    s_until (s, s_leads_after, &w, 10 * SIM_SEC, "became leader in (c)");
    uint64_t tc = s_term (s, S1);
    w = (s_watch_t){.node = S3, .index = k + 2};
    s_until (s, s_persisted, &w, 2 * SIM_SEC, "persisted E in (c)");
    sim_link (s, S1, S3, false); // S3's acknowledgement still gets through
    sim_sleep (s, 100 * SIM_MS);
    for (int i = S1; i <= S3; i++)
        if (s_term_at (s, i, k + 2) != ta)
            sim_fail (s, "Figure8Explicit: (c) not reached: node %d lacks E", i + 1);
    if (s_term_at (s, S3, k + 3) != 0 || s_term_at (s, S1, k + 3) != tc)
        sim_fail (s,
                  "Figure8Explicit: (c) not reached: S1's term-%" PRIu64
                  " entry reached S3, or S1 has none",
                  tc);
    sim_crash (s, S1, false);
    sim_note (s, "fig8-c", S1, tc, k + 2);

    // (d)
    s_star (s, S5, (int[]){S3, S4}, 2);
    sim_restart (s, S5);
    w = (s_watch_t){.node = S5, .term = tc};
    s_until (s, s_leads_after, &w, 10 * SIM_SEC, "became leader in (d)");
    w = (s_watch_t){.node = S3, .index = k + 3};
    s_until (s, s_persisted, &w, 2 * SIM_SEC, "took S5's entries in (d)");
    if (s_term_at (s, S3, k + 2) != tb)
        sim_fail (s, "Figure8Explicit: S5 did not overwrite E on S3");
    sim_note (s, "fig8-d", S5, s_term (s, S5), k + 2);

    // Everyone back: F, not E, is what index k + 2 holds for good.
    sim_heal (s);
    sim_restart (s, S1);
    sim_one_int (s, 801, 5, true);
    const uint8_t *data;
    size_t len;
    if (!sim_committed (s, k + 2, &data, &len, NULL) || sim_cmd_value (data, len) != 0xF)
        sim_fail (s, "Figure8Explicit: index %" PRIu64 " does not hold F", k + 2);
}

// --- StaleLeaderAppend ---------------------------------------------------------------------

typedef struct {
    int node;       // the node watched
    uint64_t index; // ... for a commit index at least this
} s_commit_watch_t;

static bool
s_committed_at (sim_t *s, void *arg)
{
    s_commit_watch_t *w = arg;
    zkv_raft_status_t st;
    return sim_status (s, w->node, &st) && st.commit >= w->index;
}

static bool
s_new_leader (sim_t *s, void *arg)
{
    const uint64_t *after = arg; // term
    for (int i = 0; i < sim_n (s); i++) {
        zkv_raft_status_t st;
        if (sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER && st.term > *after)
            return true;
    }
    return false;
}

// §5.1: a message of an older term is refused. Without CheckQuorum a deposed leader keeps
// leading in its old term until it hears a newer one; here it hears nothing, and its appends
// reach a follower that holds entries of the new term it does not know to be committed yet.
// Accepting them would replace a committed entry.
static void
s_stale_leader_append (sim_t *s)
{
    int old = sim_check_one_leader (s);
    sim_one_int (s, 900, 5, true);
    uint64_t t1 = s_term (s, old);
    // The old leader hears no one and reaches no one; it takes a command that goes nowhere.
    for (int i = 0; i < sim_n (s); i++)
        if (i != old) {
            sim_link (s, old, i, false);
            sim_link (s, i, old, false);
        }
    sim_cmd_t y = sim_cmd_int (901);
    if (!sim_start (s, old, y.data, y.len, NULL, NULL))
        sim_fail (s, "the old leader refused a command");
    if (!sim_run_until (s, sim_now (s) + 10 * SIM_SEC, s_new_leader, &t1))
        sim_fail (s, "no new leader in time");
    int leader = -1;
    for (int i = 0; i < sim_n (s); i++)
        if (i != old && s_role (s, i) == ZKV_ROLE_LEADER)
            leader = i;
    // The new leader, a and b make the majority, so a holds what commits; c is cut off.
    int others[3], n = 0;
    for (int i = 0; i < sim_n (s); i++)
        if (i != old && i != leader)
            others[n++] = i;
    int a = others[0], c = others[2];
    sim_link (s, leader, c, false);
    sim_link (s, c, leader, false);
    uint64_t index;
    sim_cmd_t x = sim_cmd_int (902);
    if (!sim_start (s, leader, x.data, x.len, &index, NULL))
        sim_fail (s, "the new leader refused a command");
    // The moment the new leader commits, a has it but is not told: its link from the leader
    // fails, and the old leader's link to a comes back (one way: a's answers are lost).
    s_commit_watch_t w = {.node = leader, .index = index};
    if (!sim_run_until (s, sim_now (s) + 2 * SIM_SEC, s_committed_at, &w))
        sim_fail (s, "the new leader did not commit in time");
    sim_link (s, leader, a, false);
    sim_link (s, old, a, true);
    sim_sleep (s, 2 * SIM_SEC); // many heartbeats and probes of the old term reach a
    if (s_role (s, old) != ZKV_ROLE_LEADER || s_term (s, old) != t1)
        sim_fail (s, "the old leader should still lead term %" PRIu64, t1);
    zkv_raft_status_t st;
    sim_status (s, a, &st);
    if (st.last_index < index || st.term <= t1)
        sim_fail (s, "node %d lost entries of the new term", a);
    sim_heal (s);
    sim_one_int (s, 903, 5, true);
}

// --- ReadIndex -----------------------------------------------------------------------------

static bool
s_read_answered (sim_t *s, void *arg)
{
    return sim_read_state (s, *(uint64_t *)arg, NULL) != SIM_READ_PENDING;
}

// Asks node for a read and waits for the answer; returns the index it reflects.
static uint64_t
s_read (sim_t *s, int node)
{
    uint64_t id = sim_read (s, node), applied;
    if (!id)
        sim_fail (s, "node %d refused a read", node);
    if (!sim_run_until (s, sim_now (s) + 2 * SIM_SEC, s_read_answered, &id) ||
        sim_read_state (s, id, &applied) != SIM_READ_SERVED)
        sim_fail (s, "read %" PRIu64 " at node %d was not served", id, node);
    return applied;
}

// Reads of a leader (ReadIndex, dissertation §6.4) reflect every write acknowledged before
// them (the simulator checks every answer); followers refuse them; reads asked together
// share heartbeat rounds. The leader is cut off with one follower: what it is asked from
// then on is never served (it fails them once it steps down), while the majority elects a
// leader and commits a write.
static void
s_read_index (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    for (int i = 0; i < sim_n (s); i++)
        if (i != leader && sim_read (s, i) != 0)
            sim_fail (s, "follower %d accepted a read", i);
    for (uint64_t v = 1; v <= 20; v++) {
        uint64_t index = sim_one_int (s, 1000 + v, sim_n (s), true);
        if (s_role (s, leader) != ZKV_ROLE_LEADER)
            leader = sim_check_one_leader (s);
        if (s_read (s, leader) < index)
            sim_fail (s, "a read missed write %" PRIu64 " acknowledged before it", index);
    }
    // The leader and one follower cut off from the majority, with no heartbeat round in flight:
    // a read asked now needs a round of its own.
    sim_sleep (s, 100 * SIM_MS);
    int old = leader, group[SIM_MAX_NODES] = {0};
    group[old] = 1;
    group[(old + 1) % sim_n (s)] = 1;
    sim_partition (s, group);
    uint64_t t1 = s_term (s, old);
    uint64_t stale[40];
    int n_stale = 0;
    if (!(stale[n_stale++] = sim_read (s, old)))
        sim_fail (s, "the leader refused a read just after the partition");
    if (!sim_run_until (s, sim_now (s) + 10 * SIM_SEC, s_new_leader, &t1))
        sim_fail (s, "the majority elected no leader");
    leader = -1;
    for (int i = 0; i < sim_n (s); i++)
        if (group[i] == 0 && s_role (s, i) == ZKV_ROLE_LEADER)
            leader = i;
    uint64_t index;
    sim_cmd_t x = sim_cmd_int (2000);
    if (!sim_start (s, leader, x.data, x.len, &index, NULL))
        sim_fail (s, "the new leader refused a write");
    sim_wait (s, index, 3, -1, NULL);
    // The old leader, as long as it thinks it leads, is asked again and again.
    for (int i = 0; i < 30; i++) {
        uint64_t id = sim_read (s, old);
        if (id)
            stale[n_stale++] = id;
        sim_sleep (s, 50 * SIM_MS);
    }
    sim_sleep (s, 3 * SIM_SEC);
    for (int i = 0; i < n_stale; i++) {
        sim_read_state_t st = sim_read_state (s, stale[i], NULL);
        if (st == SIM_READ_SERVED)
            sim_fail (s, "the cut-off leader served read %" PRIu64, stale[i]);
        if (st != SIM_READ_FAILED && s_role (s, old) != ZKV_ROLE_LEADER)
            sim_fail (s, "read %" PRIu64 " of a deposed leader was neither served nor failed",
                      stale[i]);
    }
    sim_heal (s);
    sim_one_int (s, 2001, sim_n (s), true);
    leader = sim_check_one_leader (s);
    if (s_read (s, leader) < index)
        sim_fail (s, "a read after healing missed write %" PRIu64, index);
    for (int i = 0; i < n_stale; i++)
        if (sim_read_state (s, stale[i], NULL) != SIM_READ_FAILED)
            sim_fail (s, "read %" PRIu64 " of the old leader did not fail", stale[i]);

    // Fifty reads at once: a few heartbeat rounds, not one per read.
    sim_counters_t k0, k1;
    sim_counters (s, &k0);
    uint64_t ids[50];
    for (int i = 0; i < 50; i++)
        if (!(ids[i] = sim_read (s, leader)))
            sim_fail (s, "the leader refused read %d", i);
    for (int i = 0; i < 50; i++)
        if (!sim_run_until (s, sim_now (s) + 2 * SIM_SEC, s_read_answered, &ids[i]) ||
            sim_read_state (s, ids[i], NULL) != SIM_READ_SERVED)
            sim_fail (s, "batched read %d was not served", i);
    sim_counters (s, &k1);
    if (k1.rpcs_sent - k0.rpcs_sent > 4 * (uint64_t)(sim_n (s) - 1))
        sim_fail (s, "50 reads took %" PRIu64 " requests", k1.rpcs_sent - k0.rpcs_sent);
}

// --- SlowDiskTruncation ----------------------------------------------------------------------

// With a disk that syncs in the background, a follower keeps taking messages while a write is
// being synced, and its answers wait for the next sync. An acknowledgement waiting like that
// must not survive a truncation of what it acknowledges: here a follower with a slow disk
// takes an entry from a deposed leader (its acknowledgement waits), then the new leader's
// append replaces that entry. Sent anyway, the acknowledgement would claim an entry the
// follower never persisted ("acknowledges an index it has not persisted").
static void
s_slow_disk_truncation (sim_t *s)
{
    int old = sim_check_one_leader (s);
    sim_one_int (s, 700, 5, true);
    int f = (old + 1) % 5;
    // {old, f} and the other three, which elect a leader (without CheckQuorum the old one
    // keeps leading its side).
    int group[SIM_MAX_NODES] = {0};
    group[old] = group[f] = 1;
    sim_partition (s, group);
    uint64_t t1 = s_term (s, old);
    if (!sim_run_until (s, sim_now (s) + 10 * SIM_SEC, s_new_leader, &t1))
        sim_fail (s, "the three elected no leader");
    int leader = -1;
    for (int i = 0; i < 5; i++)
        if (group[i] == 0 && s_role (s, i) == ZKV_ROLE_LEADER)
            leader = i;
    sim_one_int (s, 701, 3, true); // settles the new leader's first entries on its side
    if (s_role (s, old) != ZKV_ROLE_LEADER)
        sim_fail (s, "the old leader should still lead its side");
    // f's disk turns slow; the old leader sends it two entries: the first starts a long sync,
    // the second arrives during it (f's acknowledgement of it waits).
    sim_set_disk_delay (s, f, 500 * SIM_MS);
    sim_cmd_t a = sim_cmd_int (702), b = sim_cmd_int (703);
    uint64_t ia, ib;
    if (!sim_start (s, old, a.data, a.len, &ia, NULL))
        sim_fail (s, "the old leader refused a command");
    sim_sleep (s, 5 * SIM_MS);
    if (!sim_start (s, old, b.data, b.len, &ib, NULL))
        sim_fail (s, "the old leader refused a command");
    sim_sleep (s, 5 * SIM_MS);
    // The new leader reaches f during that sync: its append replaces both entries.
    sim_link (s, leader, f, true);
    sim_link (s, f, leader, true);
    sim_sleep (s, 3 * SIM_SEC);
    zkv_raft_status_t st;
    sim_status (s, f, &st);
    if (st.term <= t1 || zkv_raft_entry_at (sim_raft (s, f), ia) == NULL ||
        zkv_raft_entry_at (sim_raft (s, f), ia)->term == t1)
        sim_fail (s, "node %d did not take the new leader's entries", f);
    sim_reset_disk_delay (s, f);
    sim_heal (s);
    sim_one_int (s, 704, 5, true);
}

// --- streamed snapshots ----------------------------------------------------------------------

typedef struct {
    int node;       // whose state machine
    uint64_t index; // must reach this index
} s_applied_t;

static bool
s_applied_pred (sim_t *s, void *arg)
{
    const s_applied_t *a = arg;
    return sim_applied (s, a->node) >= a->index;
}

static void
s_wait_applied (sim_t *s, int node, uint64_t index, uint64_t us)
{
    s_applied_t a = {node, index};
    if (!sim_run_until (s, sim_now (s) + us, s_applied_pred, &a))
        sim_fail (s, "node %d applied only through %" PRIu64 ", not %" PRIu64, node,
                  sim_applied (s, node), index);
}

typedef struct {
    int node;        // the receiver
    uint64_t chunks; // ... has staged at least this many chunks
} s_chunks_t;

static bool
s_chunks_pred (sim_t *s, void *arg)
{
    const s_chunks_t *a = arg;
    return sim_chunks_written (s, a->node) >= a->chunks;
}

static bool
s_down_pred (sim_t *s, void *arg)
{
    return !sim_is_up (s, *(const int *)arg);
}

// Commits values [from, to) with expected nodes applying each.
static void
s_commit_range (sim_t *s, uint64_t from, uint64_t to, int expected)
{
    for (uint64_t v = from; v < to; v++)
        sim_one_int (s, v, expected, true);
}

// Streaming (cluster/zkv_raft.h): a follower cut off while the leader commits and compacts
// catches up through one stream of many chunks, which the core never holds: the leader's
// application reads each from its view of the snapshot, the follower's stages each apart from
// its live state and makes the whole live at the install, then applies what follows.
static void
s_stream_catch_up (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    sim_one_int (s, 1001, 3, true);
    int f = s_other (s, leader);
    sim_disconnect (s, f);
    s_commit_range (s, 1002, 1040, 2); // the others snapshot every 10 entries and compact
    sim_counters_t k0, k1;
    sim_counters (s, &k0);
    uint64_t c0 = sim_chunks_written (s, f);
    sim_connect (s, f);
    sim_one_int (s, 1040, 3, true);
    sim_counters (s, &k1);
    if (k1.snapshots_installed == k0.snapshots_installed)
        sim_fail (s, "node %d caught up without a snapshot", f);
    // A stream of 24 + 400 + (chain % 400) bytes in 16-byte chunks.
    if (sim_chunks_written (s, f) - c0 < 25)
        sim_fail (s, "node %d staged %" PRIu64 " chunks: not a multi-chunk stream", f,
                  sim_chunks_written (s, f) - c0);
    if (k1.chunks_read - k0.chunks_read < 25)
        sim_fail (s, "the leader read %" PRIu64 " chunks", k1.chunks_read - k0.chunks_read);
}

// Streaming: the leader dies in the middle of a slow stream. The group stays available (a
// node receiving a stream keeps its old state whole and may vote and lead), a new leader
// sends the receiver a stream of its own (from offset 0), and everyone converges.
static void
s_stream_leader_change (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    sim_one_int (s, 2001, 5, true);
    int f = s_other (s, leader);
    sim_disconnect (s, f);
    s_commit_range (s, 2002, 2033, 4);
    uint64_t applied = sim_applied (s, f);
    sim_counters_t k0, k1;
    sim_counters (s, &k0);
    s_chunks_t want = {f, sim_chunks_written (s, f) + 10};
    sim_connect (s, f);
    if (!sim_run_until (s, sim_now (s) + 20 * SIM_SEC, s_chunks_pred, &want))
        sim_fail (s, "node %d staged no stream", f);
    if (sim_applied (s, f) != applied)
        sim_fail (s, "node %d's state changed in the middle of a stream", f);
    sim_crash1 (s, leader);
    // Available without the old leader: a majority of the other four applies a new entry.
    uint64_t index = sim_one_int (s, 2033, 3, true);
    s_wait_applied (s, f, index, 60 * SIM_SEC);
    sim_counters (s, &k1);
    if (k1.streams_started - k0.streams_started < 2)
        sim_fail (s, "node %d's stream did not start over with the new leader", f);
    sim_start1 (s, leader);
    sim_connect (s, leader);
    sim_one_int (s, 2034, 5, true);
}

// Streaming: a follower whose state went missing (need_snapshot) holds a snapshot newer than
// the leader's. It refuses the leader's older snapshot (installing it would drop entries it
// acknowledged), so the leader takes a fresh one (ready.want_snapshot) and streams that.
static void
s_stream_missing_state (sim_t *s)
{
    int leader = sim_check_one_leader (s);
    s_commit_range (s, 3001, 3006, 3);
    if (sim_snapshot_now (s, leader) != 0)
        sim_fail (s, "the leader could not take a snapshot");
    int f = s_other (s, leader);
    s_commit_range (s, 3006, 3026, 3);
    if (sim_snapshot_now (s, f) != 0)
        sim_fail (s, "node %d could not take a snapshot", f);
    s_commit_range (s, 3026, 3031, 3);
    zkv_raft_status_t lst, fst;
    sim_status (s, leader, &lst);
    sim_status (s, f, &fst);
    if (fst.snapshot_index <= lst.snapshot_index)
        sim_fail (s,
                  "node %d's snapshot (%" PRIu64 ") is not newer than the leader's (%" PRIu64 ")",
                  f, fst.snapshot_index, lst.snapshot_index);
    sim_counters_t k0, k1;
    sim_counters (s, &k0);
    if (!sim_lose_state (s, f, false))
        sim_fail (s, "node %d's state could not go missing", f);
    if (sim_applied (s, f) != 0)
        sim_fail (s, "node %d applied %" PRIu64 " with its state missing", f, sim_applied (s, f));
    uint64_t index = sim_one_int (s, 3031, 2, true);
    s_wait_applied (s, f, index, 30 * SIM_SEC);
    sim_counters (s, &k1);
    // The leader's only snapshot was older than the follower's floor: it had to take a fresh
    // one (the driver does when Raft asks, ready.want_snapshot).
    if (k1.snapshots == k0.snapshots)
        sim_fail (s, "the leader never took a fresh snapshot");
    if (k1.snapshots_installed == k0.snapshots_installed)
        sim_fail (s, "node %d got its state back without a snapshot", f);
    sim_status (s, f, &fst);
    if (fst.snapshot_index < 30)
        sim_fail (s, "node %d installed a snapshot at %" PRIu64 ", below its own", f,
                  fst.snapshot_index);
    sim_one_int (s, 3032, 3, true);
}

// Streaming: a follower crashes in the middle of installing a received stream (the write that
// saves the snapshot's metadata), torn or not. At restart its application promotes the staged
// stream when the metadata landed (the live state is behind it), or keeps its old state when
// it did not; either way nothing committed is lost and it catches up.
static void
s_stream_crash_mid_install (sim_t *s)
{
    uint64_t v = 4000;
    for (int round = 0; round < 6; round++) {
        int leader = sim_check_one_leader (s);
        int f = s_other (s, leader);
        sim_disconnect (s, f);
        s_commit_range (s, v, v + 25, 2);
        v += 25;
        sim_crash_at_install (s, f, round % 2 == 0);
        sim_connect (s, f);
        if (!sim_run_until (s, sim_now (s) + 30 * SIM_SEC, s_down_pred, &f))
            sim_fail (s, "node %d never installed a snapshot", f);
        sim_restart (s, f);
        uint64_t index = sim_one_int (s, v++, 3, true);
        s_wait_applied (s, f, index, 30 * SIM_SEC);
    }
    sim_counters_t k;
    sim_counters (s, &k);
    if (k.streams_promoted == 0)
        sim_fail (s, "no crash left a staged stream to promote");
}

// Client sessions (cluster/zkv_kv.h): after a first clerk's sessions expired (the clocks run
// 100 times fast, sessions last 120 s of log time), new clerks write to the same shards. Their
// first requests must be admitted as new sessions, not refused "session expired": its client
// learned a time from a configuration before its first write. A client that began with
// session_t0 0 was refused on every shard that ever evicted a session, and once such a request
// had been sent twice (a lost reply, a leader change), its caller got an unknown outcome.
static void
s_new_client_after_sessions_expired (sim_t *s)
{
    char key[16];
    sim_kvclient_t *old = sim_kv_client (s, SIM_KV_ALL);
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "k%d", i);
        sim_kv_put (s, old, key, "old");
    }
    // Another clerk keeps the log time moving, 300 s of it, past the old clerk's sessions' ttl.
    sim_kvclient_t *busy = sim_kv_client (s, SIM_KV_ALL);
    uint64_t until = sim_now (s) + 3 * SIM_SEC;
    for (int n = 0; sim_now (s) < until; n++)
        sim_kv_put (s, busy, "busy", n % 2 ? "a" : "b");
    sim_counters_t k0, k1;
    sim_counters (s, &k0);
    if (k0.sessions_expired == 0)
        sim_fail (s, "no session expired: the scenario tests nothing");
    // One new clerk per key, as each command of the CLI is a new client. Each starts at a node
    // of its own, the leader for about a third of them (a follower's refusal "not the leader"
    // comes with a log time, so only a first send to the leader shows the difference).
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "k%d", i);
        sim_kv_put (s, sim_kv_client (s, SIM_KV_ALL), key, "new");
    }
    sim_counters (s, &k1);
    // A refusal "session expired" (by the leader before proposing, or at the apply) makes a
    // clerk start another session: count those.
    if (k1.sessions_new != k0.sessions_new || k1.sessions_refused != k0.sessions_refused)
        sim_fail (s,
                  "new clerks were refused 'session expired': %" PRIu64 " new sessions, %" PRIu64
                  " refusals at apply (replicas' count)",
                  k1.sessions_new - k0.sessions_new, k1.sessions_refused - k0.sessions_refused);
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "k%d", i);
        sim_kv_check (s, old, key, "new");
    }
}

const sim_scenario_t sim_scenarios_extra[] = {
    {.name = "PreVoteIsolatedRejoin", .n_nodes = 5, .fn = s_isolated_follower_rejoins},
    {.name = "PreVoteDeafFollower", .n_nodes = 3, .fn = s_deaf_follower_does_not_disrupt},
    {.name = "CheckQuorumStepDown", .n_nodes = 5, .fn = s_isolated_leader_steps_down},
    {.name = "TornWriteRecovery", .n_nodes = 5, .snapshot_every = 10, .fn = s_torn_write_recovery},
    {.name = "VotesSurviveRestarts", .n_nodes = 5, .fn = s_votes_survive_restarts},
    {.name = "Figure8Explicit",
     .n_nodes = 5,
     .fn = s_figure8_explicit,
     .max_entries_per_msg = 1,
     .max_inflight_msgs = 1},
    {.name = "ReadIndex", .n_nodes = 5, .fn = s_read_index},
    {.name = "ReadIndexNoCheckQuorum", .n_nodes = 5, .fn = s_read_index, .no_check_quorum = true},
    {.name = "SlowDiskTruncation",
     .n_nodes = 5,
     .fn = s_slow_disk_truncation,
     .no_check_quorum = true},
    {.name = "StaleLeaderAppend",
     .n_nodes = 5,
     .fn = s_stale_leader_append,
     .no_check_quorum = true},
    {.name = "StreamCatchUp",
     .n_nodes = 3,
     .snapshot_every = 10,
     .fn = s_stream_catch_up,
     .stream = true,
     .snapshot_chunk_bytes = 16,
     .stream_pad = 400},
    {.name = "StreamLeaderChangeMidTransfer",
     .n_nodes = 5,
     .snapshot_every = 10,
     .fn = s_stream_leader_change,
     .stream = true,
     .snapshot_chunk_bytes = 7,
     .stream_pad = 800,
     .req_busy_pm = 300},
    {.name = "StreamMissingStateBelowLeaderSnapshot",
     .n_nodes = 3,
     .fn = s_stream_missing_state,
     .stream = true,
     .snapshot_chunk_bytes = 16,
     .stream_pad = 200},
    {.name = "StreamCrashMidInstall",
     .n_nodes = 3,
     .snapshot_every = 10,
     .fn = s_stream_crash_mid_install,
     .stream = true,
     .snapshot_chunk_bytes = 16,
     .stream_pad = 200},
    {.name = "NewClientAfterSessionsExpired",
     .n_nodes = 3,
     .kv = true,
     .fn = s_new_client_after_sessions_expired,
     .log_clock_x = 100,
     .session_ttl_ms = 120000},
    SIM_SCENARIO_END,
};
