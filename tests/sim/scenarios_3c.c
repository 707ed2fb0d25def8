// Scenarios ported from the MIT 6.5840 Raft lab (2024), part 3C: persistence, Figure 8, churn.
//
// How they differ from the lab, once for the whole file:
// - Our leaders append a no-op entry when elected (§8), so command indexes are shifted. Where
//   the lab names an index (Persist1 waits for index 4) we wait for the index one() returned
//   for that command; where it reads every index as a command (Churn) no-ops are skipped.
// - The lab's goroutines (UnreliableAgree's concurrent one() calls, Churn's three clients) are
//   state machines here, stepped by sim_at events in simulated time; the scenario's own steps
//   (sim_one, sim_sleep) run the world, and so those events, in between.
// - Random choices come from sim_rng, and the lab's millisecond sleeps are drawn in
//   microseconds (same ranges, finer grain).
#include "scenarios.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// The lab's rand.Int(): a non-negative 63-bit integer (never sim_cmd_value's UINT64_MAX).
static uint64_t
s_rand_int (sim_t *s)
{
    return zkv_rng_next (sim_rng (s)) >> 1;
}

static bool
s_start_int (sim_t *s, int node, uint64_t v, uint64_t *index_p)
{
    sim_cmd_t c = sim_cmd_int (v);
    return sim_start (s, node, c.data, c.len, index_p, NULL);
}

// Figure 8's pause: mostly under 13 ms, one time in ten up to half an election timeout.
static void
s_figure8_pause (sim_t *s)
{
    zkv_rng_t *rng = sim_rng (s);
    if (zkv_rng_below (rng, 1000) < 100)
        sim_sleep (s, zkv_rng_below (rng, SIM_ELECTION_TIMEOUT / 2));
    else
        sim_sleep (s, zkv_rng_below (rng, 13 * SIM_MS));
}

// --- Persist1, Persist2, Persist3 ----------------------------------------------------------

// Basic persistence: whole-cluster restart, then restarts of a leader and a follower.
static void
s_persist1 (sim_t *s)
{
    int servers = sim_n (s);
    sim_one_int (s, 11, servers, true);
    // Crash and restart every server (sim_start1 kills a running node first).
    for (int i = 0; i < servers; i++)
        sim_start1 (s, i);
    for (int i = 0; i < servers; i++) {
        sim_disconnect (s, i);
        sim_connect (s, i);
    }
    sim_one_int (s, 12, servers, true);

    int leader1 = sim_check_one_leader (s);
    sim_disconnect (s, leader1);
    sim_start1 (s, leader1);
    sim_connect (s, leader1);
    sim_one_int (s, 13, servers, true);

    int leader2 = sim_check_one_leader (s);
    sim_disconnect (s, leader2);
    uint64_t index14 = sim_one_int (s, 14, servers - 1, true);
    sim_start1 (s, leader2);
    sim_connect (s, leader2);
    // The lab waits for index 4 (its command 14) on every server, so that the restarted leader
    // has caught up before another server goes away; with no-ops that index is index14.
    sim_wait (s, index14, servers, -1, NULL);

    int i3 = (sim_check_one_leader (s) + 1) % servers;
    sim_disconnect (s, i3);
    sim_one_int (s, 15, servers - 1, true);
    sim_start1 (s, i3);
    sim_connect (s, i3);
    sim_one_int (s, 16, servers, true);
}

// More persistence: five rounds in which two followers fall behind and restart, then form a
// majority with one more restarted server while the old leader is away.
static void
s_persist2 (sim_t *s)
{
    int servers = sim_n (s);
    uint64_t index = 1;
    for (int iters = 0; iters < 5; iters++) {
        sim_one_int (s, 10 + index, servers, true);
        index++;
        int leader1 = sim_check_one_leader (s);
        sim_disconnect (s, (leader1 + 1) % servers);
        sim_disconnect (s, (leader1 + 2) % servers);
        sim_one_int (s, 10 + index, servers - 2, true);
        index++;
        sim_disconnect (s, (leader1 + 0) % servers);
        sim_disconnect (s, (leader1 + 3) % servers);
        sim_disconnect (s, (leader1 + 4) % servers);
        sim_start1 (s, (leader1 + 1) % servers);
        sim_start1 (s, (leader1 + 2) % servers);
        sim_connect (s, (leader1 + 1) % servers);
        sim_connect (s, (leader1 + 2) % servers);
        sim_sleep (s, SIM_ELECTION_TIMEOUT);
        sim_start1 (s, (leader1 + 3) % servers);
        sim_connect (s, (leader1 + 3) % servers);
        sim_one_int (s, 10 + index, servers - 2, true);
        index++;
        sim_connect (s, (leader1 + 4) % servers);
        sim_connect (s, (leader1 + 0) % servers);
    }
    sim_one_int (s, 1000, servers, true);
}

// Partitioned leader and one follower crash, then the leader restarts.
static void
s_persist3 (sim_t *s)
{
    int servers = sim_n (s);
    sim_one_int (s, 101, 3, true);
    int leader = sim_check_one_leader (s);
    sim_disconnect (s, (leader + 2) % servers);
    sim_one_int (s, 102, 2, true);
    sim_crash1 (s, (leader + 0) % servers);
    sim_crash1 (s, (leader + 1) % servers);
    sim_connect (s, (leader + 2) % servers);
    sim_start1 (s, (leader + 0) % servers);
    sim_connect (s, (leader + 0) % servers);
    sim_one_int (s, 103, 2, true);
    sim_start1 (s, (leader + 1) % servers);
    sim_connect (s, (leader + 1) % servers);
    sim_one_int (s, 104, servers, true);
}

// --- Figure8, Figure8Unreliable ------------------------------------------------------------

// The scenarios of the Raft paper's Figure 8: a leader gets a command and mostly crashes at
// once (maybe before committing it), sometimes after a while; with too few servers up, a
// random one restarts. New leaders meet uncommitted entries of older terms.
static void
s_figure8 (sim_t *s)
{
    int servers = sim_n (s);
    zkv_rng_t *rng = sim_rng (s);
    sim_one_int (s, s_rand_int (s), 1, true);
    int nup = servers;
    for (int iters = 0; iters < 1000; iters++) {
        int leader = -1;
        for (int i = 0; i < servers; i++)
            if (sim_is_up (s, i) && s_start_int (s, i, s_rand_int (s), NULL))
                leader = i;
        s_figure8_pause (s);
        if (leader != -1) {
            sim_crash1 (s, leader);
            nup--;
        }
        if (nup < 3) {
            int i = (int)zkv_rng_below (rng, (uint64_t)servers);
            if (!sim_is_up (s, i)) {
                sim_start1 (s, i);
                sim_connect (s, i);
                nup++;
            }
        }
    }
    for (int i = 0; i < servers; i++)
        if (!sim_is_up (s, i)) {
            sim_start1 (s, i);
            sim_connect (s, i);
        }
    sim_one_int (s, s_rand_int (s), servers, true);
}

// Figure 8 on an unreliable network, with long reordering from the 200th round on: leaders
// are disconnected (half the time) rather than crashed.
static void
s_figure8_unreliable (sim_t *s)
{
    int servers = sim_n (s);
    zkv_rng_t *rng = sim_rng (s);
    sim_one_int (s, s_rand_int (s) % 10000, 1, true);
    int nup = servers;
    for (int iters = 0; iters < 1000; iters++) {
        if (iters == 200)
            sim_set_long_reordering (s, true);
        int leader = -1;
        for (int i = 0; i < servers; i++)
            if (s_start_int (s, i, s_rand_int (s) % 10000, NULL) && sim_is_connected (s, i))
                leader = i;
        s_figure8_pause (s);
        // The lab's bound is RaftElectionTimeout/2 in milliseconds out of 1000: one in two.
        if (leader != -1 && zkv_rng_below (rng, 1000) < SIM_ELECTION_TIMEOUT / SIM_MS / 2) {
            sim_disconnect (s, leader);
            nup--;
        }
        if (nup < 3) {
            int i = (int)zkv_rng_below (rng, (uint64_t)servers);
            if (!sim_is_connected (s, i)) {
                sim_connect (s, i);
                nup++;
            }
        }
    }
    for (int i = 0; i < servers; i++)
        if (!sim_is_connected (s, i))
            sim_connect (s, i);
    sim_one_int (s, s_rand_int (s) % 10000, servers, true);
}

// --- UnreliableAgree -----------------------------------------------------------------------

// One concurrent one(cmd, 1, true) of the lab: offer the command to connected servers in turn
// until one accepts, give it 2 s to commit at that index, retry for 10 s.
typedef struct {
    uint64_t value; // the command (an int)
    uint64_t hash;  // its entry hash
    uint64_t t0;    // when one() began
    uint64_t t1;    // when the pending Start was accepted
    uint64_t index; // its index, 0 for none pending
    int starts;     // round-robin cursor over servers
    bool done;      // agreement reached
} s_one_t;

#define S_ONE_POLL_US (20 * SIM_MS) // between commit checks
#define S_ONE_IDLE_US (50 * SIM_MS) // after no server accepted

static void
s_one_step (sim_t *s, void *arg)
{
    s_one_t *o = arg;
    if (o->index) {
        uint64_t hash;
        int nd = sim_n_committed (s, o->index, &hash);
        if (nd > 0 && hash == o->hash) {
            o->done = true;
            return;
        }
        if (sim_now (s) - o->t1 < 2 * SIM_SEC) {
            sim_at (s, sim_now (s) + S_ONE_POLL_US, s_one_step, o);
            return;
        }
        o->index = 0; // give up on that Start; offer the command again
    }
    if (sim_now (s) - o->t0 >= 10 * SIM_SEC)
        sim_fail (s, "one(%" PRIu64 ") failed to reach agreement in 10 s", o->value);
    for (int si = 0; si < sim_n (s); si++) {
        o->starts = (o->starts + 1) % sim_n (s);
        uint64_t index;
        if (sim_is_up (s, o->starts) && sim_is_connected (s, o->starts) &&
            s_start_int (s, o->starts, o->value, &index)) {
            o->index = index;
            o->t1 = sim_now (s);
            s_one_step (s, o); // the lab checks once before its first pause
            return;
        }
    }
    sim_at (s, sim_now (s) + S_ONE_IDLE_US, s_one_step, o);
}

static void
s_one_begin (sim_t *s, s_one_t *o, uint64_t value)
{
    sim_cmd_t c = sim_cmd_int (value);
    *o = (s_one_t){.value = value,
                   .hash = sim_entry_hash (ZKV_ENTRY_NORMAL, c.data, c.len),
                   .t0 = sim_now (s)};
    s_one_step (s, o);
}

#define S_UA_ITERS   50 // rounds 1..49, as the lab
#define S_UA_WORKERS 4  // concurrent one() calls per round

typedef struct {
    s_one_t *ones; // every concurrent one()
    size_t n;      // how many were begun
} s_ones_t;

static bool
s_ones_done (sim_t *s, void *arg)
{
    (void)s;
    s_ones_t *all = arg;
    for (size_t i = 0; i < all->n; i++)
        if (!all->ones[i].done)
            return false;
    return true;
}

// Agreement on an unreliable network, with four extra commands in flight each round.
static void
s_unreliable_agree (sim_t *s)
{
    int servers = sim_n (s);
    s_one_t ones[S_UA_ITERS * S_UA_WORKERS];
    s_ones_t all = {ones, 0};
    for (int iters = 1; iters < S_UA_ITERS; iters++) {
        for (int j = 0; j < S_UA_WORKERS; j++)
            s_one_begin (s, &ones[all.n++], (uint64_t)(100 * iters + j));
        sim_one_int (s, (uint64_t)iters, 1, true);
    }
    sim_set_unreliable (s, false);
    // The lab's wg.Wait(): each one() fails by itself after 10 s, so this deadline is slack.
    if (!sim_run_until (s, sim_now (s) + 60 * SIM_SEC, s_ones_done, &all))
        sim_fail (s, "concurrent one() calls did not finish");
    sim_one_int (s, 100, servers, true);
}

// --- ReliableChurn, UnreliableChurn --------------------------------------------------------

#define S_CHURN_CLIENTS 3
#define S_CHURN_VALUES  8192 // per client: at most one value per 10 ms of a ~16 s run

// One of the lab's churn clients: propose a random int at every running server (connected or
// not), and if one accepted, look for it at that index after 0, 10, 30, 80 and 180 ms; record
// it if it committed there. Stop when told, between rounds.
typedef struct {
    int me;                          // client number (its idle pause depends on it)
    const bool *stop;                // the scenario's stop flag
    bool done;                       // finished after stop
    uint64_t x;                      // the value of this round
    uint64_t index;                  // where it was accepted
    int rung;                        // position on the pause ladder
    uint64_t values[S_CHURN_VALUES]; // values seen committed where accepted
    size_t n_values;                 //
} s_churn_client_t;

static const uint64_t s_churn_ladder_ms[] = {10, 20, 50, 100, 200};
#define S_CHURN_RUNGS (sizeof s_churn_ladder_ms / sizeof s_churn_ladder_ms[0])

static void s_churn_round (sim_t *s, void *arg);

static void
s_churn_check (sim_t *s, void *arg)
{
    s_churn_client_t *c = arg;
    if (c->rung < (int)S_CHURN_RUNGS) {
        if (sim_n_committed (s, c->index, NULL) > 0) {
            const uint8_t *data;
            size_t len;
            uint8_t type;
            if (!sim_committed (s, c->index, &data, &len, &type))
                sim_fail (s, "index %" PRIu64 " applied but not in the commit record", c->index);
            if (type == ZKV_ENTRY_NORMAL && sim_cmd_value (data, len) == UINT64_MAX)
                sim_fail (s, "wrong command type at index %" PRIu64, c->index);
            if (type == ZKV_ENTRY_NORMAL && sim_cmd_value (data, len) == c->x) {
                if (c->n_values == S_CHURN_VALUES)
                    sim_fail (s, "churn client %d recorded more than %d values", c->me,
                              S_CHURN_VALUES);
                c->values[c->n_values++] = c->x;
            }
            s_churn_round (s, c);
            return;
        }
        sim_at (s, sim_now (s) + s_churn_ladder_ms[c->rung++] * SIM_MS, s_churn_check, c);
        return;
    }
    s_churn_round (s, c); // not committed in time: maybe never; move on
}

static void
s_churn_round (sim_t *s, void *arg)
{
    s_churn_client_t *c = arg;
    if (*c->stop) {
        c->done = true;
        return;
    }
    c->x = s_rand_int (s);
    bool ok = false;
    for (int i = 0; i < sim_n (s); i++) {
        uint64_t index;
        if (sim_is_up (s, i) && s_start_int (s, i, c->x, &index)) {
            ok = true;
            c->index = index;
        }
    }
    if (ok) {
        c->rung = 0;
        s_churn_check (s, c);
    } else
        sim_at (s, sim_now (s) + (uint64_t)(79 + c->me * 17) * SIM_MS, s_churn_round, c);
}

static bool
s_churn_clients_done (sim_t *s, void *arg)
{
    (void)s;
    s_churn_client_t *cli = arg;
    for (int i = 0; i < S_CHURN_CLIENTS; i++)
        if (!cli[i].done)
            return false;
    return true;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Three clients propose all the time while servers are disconnected, crashed and restarted
// at random; in the end every value a client saw committed must be in the final log.
static void
s_churn (sim_t *s)
{
    int servers = sim_n (s);
    zkv_rng_t *rng = sim_rng (s);
    bool stop = false;
    s_churn_client_t cli[S_CHURN_CLIENTS];
    memset (cli, 0, sizeof cli);
    for (int i = 0; i < S_CHURN_CLIENTS; i++) {
        cli[i].me = i;
        cli[i].stop = &stop;
        sim_at (s, sim_now (s), s_churn_round, &cli[i]);
    }
    for (int iters = 0; iters < 20; iters++) {
        if (zkv_rng_below (rng, 1000) < 200) {
            int i = (int)zkv_rng_below (rng, (uint64_t)servers);
            sim_disconnect (s, i);
        }
        if (zkv_rng_below (rng, 1000) < 500) {
            int i = (int)zkv_rng_below (rng, (uint64_t)servers);
            if (!sim_is_up (s, i))
                sim_start1 (s, i);
            sim_connect (s, i);
        }
        if (zkv_rng_below (rng, 1000) < 200) {
            int i = (int)zkv_rng_below (rng, (uint64_t)servers);
            if (sim_is_up (s, i))
                sim_crash1 (s, i);
        }
        // Often enough that servers rarely settle between changes, rarely enough that they
        // often keep up: a little under an election timeout.
        sim_sleep (s, SIM_ELECTION_TIMEOUT * 7 / 10);
    }
    sim_sleep (s, SIM_ELECTION_TIMEOUT);
    sim_set_unreliable (s, false);
    for (int i = 0; i < servers; i++) {
        if (!sim_is_up (s, i))
            sim_start1 (s, i);
        sim_connect (s, i);
    }
    stop = true;
    // A client ends its round first: at most ~400 ms of pauses.
    if (!sim_run_until (s, sim_now (s) + 10 * SIM_SEC, s_churn_clients_done, cli))
        sim_fail (s, "client failed");
    sim_sleep (s, SIM_ELECTION_TIMEOUT);

    uint64_t last_index = sim_one_int (s, s_rand_int (s), servers, true);
    uint64_t *really = calloc (last_index + 1, sizeof *really);
    if (!really)
        abort ();
    size_t n_really = 0;
    for (uint64_t index = 1; index <= last_index; index++) {
        sim_wait (s, index, servers, -1, NULL);
        const uint8_t *data;
        size_t len;
        uint8_t type;
        if (!sim_committed (s, index, &data, &len, &type)) {
            free (really);
            sim_fail (s, "index %" PRIu64 " applied but not in the commit record", index);
        }
        if (type != ZKV_ENTRY_NORMAL)
            continue; // a leader's no-op: not one of the lab's entries
        uint64_t v = sim_cmd_value (data, len);
        if (v == UINT64_MAX) {
            free (really);
            sim_fail (s, "not an int at index %" PRIu64, index);
        }
        really[n_really++] = v;
    }
    qsort (really, n_really, sizeof *really, s_cmp_u64);
    size_t n_values = 0;
    for (int i = 0; i < S_CHURN_CLIENTS; i++)
        for (size_t j = 0; j < cli[i].n_values; j++, n_values++)
            if (!bsearch (&cli[i].values[j], really, n_really, sizeof *really, s_cmp_u64)) {
                free (really);
                sim_fail (s, "didn't find a value (client %d's %" PRIu64 ")", i, cli[i].values[j]);
            }
    sim_note (s, "churn", 0, n_values, n_really);
    free (really);
}

const sim_scenario_t sim_scenarios_3c[] = {
    {.name = "Persist1", .n_nodes = 3, .fn = s_persist1},
    {.name = "Persist2", .n_nodes = 5, .fn = s_persist2},
    {.name = "Persist3", .n_nodes = 3, .fn = s_persist3},
    {.name = "Figure8", .n_nodes = 5, .fn = s_figure8},
    {.name = "UnreliableAgree", .n_nodes = 5, .unreliable = true, .fn = s_unreliable_agree},
    {.name = "Figure8Unreliable", .n_nodes = 5, .unreliable = true, .fn = s_figure8_unreliable},
    {.name = "ReliableChurn", .n_nodes = 5, .fn = s_churn},
    {.name = "UnreliableChurn", .n_nodes = 5, .unreliable = true, .fn = s_churn},
    SIM_SCENARIO_END,
};
