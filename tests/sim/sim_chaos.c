// Randomized fault schedules (sweep, demo): chaos, then heal, then progress and convergence.
#include "sim_chaos.h"
#include "sim_harness.h"
#include "sim_kv.h"
#include "sim_shard.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define S_KV_CLERKS_MAX 6               // KV mode: 3 to 6 clerks
#define S_KV_KEYS       4               // ... on 4 keys
#define S_SHARD_KEYS    16              // ... on 16 keys in the sharded world
#define S_KV_THINK_MS   30              // ... pausing up to this between operations
#define S_KV_WAIT       (120 * SIM_SEC) // ... all done this long after the heal
#define S_KV_IDLE_PM    40              // session seeds: chance per mille a clerk idles ...
#define S_KV_IDLE_MS    8000            // ... for up to this long, past the shorter ttls

typedef struct s_chaos s_chaos_t;

// One closed-loop clerk of KV mode.
typedef struct {
    s_chaos_t *c;       // its run
    sim_kvclient_t *ck; // the clerk
    uint64_t written;   // writes made: its next value is "x<process>.<written>;"
    int last_key;       // the key of its last get (-1: none), whose answer a cas compares to
} s_clerk_t;

struct s_chaos {
    const sim_chaos_opts_t *o; // options
    uint64_t end;              // simulated time the chaos stops
    uint64_t next_cmd;         // unique command counter
    uint64_t cmd_prefix;       // high bits making commands unique across seeds
    uint64_t final_index;      // index of the command committed after healing
    bool unreliable;           // the network mode, as last set
    bool long_reordering;      // the reordering mode, as last set
    bool stream;               // streamed snapshots (the state-missing fault applies)
    bool sessions;             // client sessions expire within the run (clerks idle now and then)
    // KV mode (opts.kv): closed-loop clerks over a few keys
    s_clerk_t clerks[S_KV_CLERKS_MAX]; //
    int n_clerks;                      //
    bool stop;                         // clerks finish their operation and quit
    int n_keys;                        // keys they use
    // Sharded (opts.shards): the controller's clerk and the groups it last made join
    sim_kvclient_t *ctrl;              // its clerk (one command at a time)
    bool joined[8];                    // by group id (at most 4 groups), as the commands that succeeded left them
    uint64_t reconfigs;                // commands that made a configuration
};

static int
s_pick (sim_t *s, bool up)
{
    int cand[SIM_MAX_NODES], n = 0;
    for (int i = 0; i < sim_n (s); i++)
        if (sim_is_up (s, i) == up)
            cand[n++] = i;
    return n ? cand[zkv_rng_below (sim_rng (s), (uint64_t)n)] : -1;
}

// A client: every 20-100 ms, offers a new command to every node (the leader takes it) and
// asks every leader for reads.
static void
s_client (sim_t *s, void *arg)
{
    s_chaos_t *c = arg;
    if (sim_now (s) >= c->end)
        return;
    for (int g = 0; g < sim_n_groups (s); g++) {
        sim_set_group (s, g);
        sim_cmd_t cmd = sim_cmd_int (c->cmd_prefix | c->next_cmd++);
        for (int i = 0; i < sim_n (s); i++) {
            zkv_raft_status_t st;
            if (sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER) {
                sim_propose (s, i, cmd.data, cmd.len, NULL, NULL);
                // Reads too, at every node that thinks it leads (deposed ones included): the
                // simulator checks each answer is linearizable.
                sim_read (s, i);
                if (zkv_rng_chance (sim_rng (s), 1, 2))
                    sim_read (s, i); // two in a row share a heartbeat round
            }
        }
    }
    sim_set_group (s, 0);
    sim_at (s, sim_now (s) + zkv_rng_range (sim_rng (s), 20, 100) * SIM_MS, s_client, c);
}

// --- KV mode: clerks --------------------------------------------------------------------------

static void s_kv_issue (sim_t *s, void *arg);
static bool s_backlog_drained (sim_t *s, void *arg);

// An operation completed: the next one after a short pause, until told to stop.
static void
s_kv_done (sim_t *s, sim_kvclient_t *ck, void *arg)
{
    s_clerk_t *k = arg;
    if (k->c->stop)
        return;
    (void)ck;
    uint64_t pause_ms = zkv_rng_below (sim_rng (s), S_KV_THINK_MS + 1);
    // Where sessions expire, a clerk now and then idles past the ttl: its next request comes
    // to shards that forgot it, retries of it may span evictions.
    if (k->c->sessions && zkv_rng_chance (sim_rng (s), S_KV_IDLE_PM, 1000))
        pause_ms += zkv_rng_below (sim_rng (s), S_KV_IDLE_MS);
    sim_at (s, sim_now (s) + pause_ms * SIM_MS, s_kv_issue, k);
}

// A random operation: appends most of the time, puts, deletes and compare-and-sets now and
// then, gets otherwise. A compare-and-set right after a get of its key compares with what the
// get read (value or revision), as a client's read-modify-write does; it then often races
// other clerks' writes and fails, which the history records as an observation too.
static void
s_kv_issue (sim_t *s, void *arg)
{
    s_clerk_t *k = arg;
    if (k->c->stop || sim_kv_busy (k->ck))
        return;
    char key[16], value[48];
    int ki = (int)zkv_rng_below (sim_rng (s), (uint64_t)k->c->n_keys);
    uint64_t roll = zkv_rng_below (sim_rng (s), 100);
    if (roll >= 84 && k->last_key >= 0)
        ki = k->last_key; // a cas of the key just read
    snprintf (key, sizeof key, "k%d", ki);
    snprintf (value, sizeof value, "x%d.%" PRIu64 ";", sim_kv_client_process (k->ck), k->written);
    bool fresh = k->last_key == ki;
    k->last_key = -1;
    if (roll < 45) {
        k->written++;
        sim_kv_start (s, k->ck, ZKV_HIST_APPEND, key, value);
    } else if (roll < 53) {
        k->written++;
        sim_kv_start (s, k->ck, ZKV_HIST_PUT, key, value);
    } else if (roll < 56) {
        sim_kv_start (s, k->ck, ZKV_HIST_DELETE, key, NULL);
    } else if (roll < 84) {
        k->last_key = ki;
        sim_kv_start (s, k->ck, ZKV_HIST_GET, key, NULL);
    } else {
        k->written++;
        bool by_rev = roll % 2;
        bool found = fresh && sim_kv_found (k->ck);
        // A conditional delete now and then (no new value), else a conditional put.
        const char *nv = roll >= 97 ? NULL : value;
        sim_kv_start_cas (s, k->ck, key, by_rev, found ? sim_kv_value (k->ck) : NULL,
                          found ? sim_kv_revision (k->ck) : 0, nv);
    }
}

static void
s_kv_start (sim_t *s, s_chaos_t *c)
{
    c->n_clerks = 3 + (int)zkv_rng_below (sim_rng (s), S_KV_CLERKS_MAX - 2);
    for (int i = 0; i < c->n_clerks; i++) {
        s_clerk_t *k = &c->clerks[i];
        k->c = c;
        k->last_key = -1;
        k->ck = sim_kv_client (s, SIM_KV_ALL);
        sim_kv_client_on_done (k->ck, s_kv_done, k);
        sim_at (s, sim_now (s) + zkv_rng_below (sim_rng (s), 100) * SIM_MS, s_kv_issue, k);
    }
}

// After the heal: the clerks finish, every key is read once more, the history is checked.
static void
s_kv_end (sim_t *s, s_chaos_t *c)
{
    c->stop = true;
    sim_kv_wait_idle (s, sim_now (s) + S_KV_WAIT);
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    for (int k = 0; k < c->n_keys; k++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", k);
        sim_kv_get (s, ck, key);
    }
    sim_kv_finish (s);
}

// --- sharded: random joins, leaves and moves ---------------------------------------------------

static void s_reconfig (sim_t *s, void *arg);

// A command's answer: what it left joined (a refusal changes nothing), and the next one later.
static void
s_reconfig_done (sim_t *s, sim_kvclient_t *ck, void *arg)
{
    s_chaos_t *c = arg;
    if (sim_kv_ctrl_rc (ck) == ZKV_ESESSION) {
        // Its session expired under a retry: applied or not, nobody knows. The same command
        // again (a join or leave applied already is refused, a move again changes nothing), so
        // that the groups joined stay as this driver thinks (it never makes the last one leave).
        sim_kv_ctrl_again (s, ck);
        return;
    }
    if (sim_kv_ctrl_rc (ck) == 0)
        c->reconfigs++;
    if (sim_now (s) < c->end)
        sim_at (s, sim_now (s) + zkv_rng_range (sim_rng (s), 200, 2000) * SIM_MS, s_reconfig, c);
}

static void
s_reconfig (sim_t *s, void *arg)
{
    s_chaos_t *c = arg;
    if (sim_now (s) >= c->end || sim_kv_busy (c->ctrl))
        return;
    zkv_rng_t *rng = sim_rng (s);
    uint64_t in[8], out[8];
    size_t n_in = 0, n_out = 0;
    for (int g = 1; g < sim_n_groups (s); g++) {
        if (c->joined[g])
            in[n_in++] = (uint64_t)g;
        else
            out[n_out++] = (uint64_t)g;
    }
    uint64_t roll = zkv_rng_below (rng, 100);
    if (roll < 35 && n_out) {
        uint64_t g = out[zkv_rng_below (rng, n_out)];
        c->joined[g] = true;
        sim_narrate (s, "reconfiguration: group %" PRIu64 " joins", g);
        sim_shard_start (s, c->ctrl, ZKV_OP_JOIN, &g, 1);
    } else if (roll < 70 && n_in > 1) {
        // Never the last group: its shards would go to nobody, and their data with them.
        uint64_t g = in[zkv_rng_below (rng, n_in)];
        c->joined[g] = false;
        sim_narrate (s, "reconfiguration: group %" PRIu64 " leaves", g);
        sim_shard_start (s, c->ctrl, ZKV_OP_LEAVE, &g, 1);
    } else if (n_in) {
        uint64_t g = in[zkv_rng_below (rng, n_in)];
        uint32_t shard = (uint32_t)zkv_rng_below (rng, 8);
        sim_narrate (s, "reconfiguration: shard %u moves to group %" PRIu64, shard, g);
        zkv_msg_t m = {.type = ZKV_MSG_CTRL_MOVE};
        m.u.ctrl_move.shard = shard;
        m.u.ctrl_move.group = g;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (zkv_msg_encode (&m, &buf, &len) != 0)
            sim_fail (s, "a move does not encode");
        sim_kv_ctrl_start (s, c->ctrl, ZKV_OP_MOVE, NULL, 0, buf, len);
        free (buf);
    } else
        sim_at (s, sim_now (s) + 500 * SIM_MS, s_reconfig, c);
}

static void
s_shards_start (sim_t *s, s_chaos_t *c)
{
    // The first shard group joins before the faults start; the others come and go.
    uint64_t first = 1;
    sim_shard_join (s, &first, 1);
    c->joined[1] = true;
    c->ctrl = sim_kv_client (s, SIM_KV_ALL);
    sim_kv_client_on_done (c->ctrl, s_reconfig_done, c);
    sim_at (s, sim_now (s) + zkv_rng_range (sim_rng (s), 100, 1000) * SIM_MS, s_reconfig, c);
}

// After the heal: every group reaches the latest configuration with every shard in place.
static void
s_shards_end (sim_t *s, s_chaos_t *c)
{
    sim_kv_wait_idle (s, sim_now (s) + S_KV_WAIT);
    zkv_routing_t *r = sim_shard_query (s, UINT64_MAX);
    uint64_t num = r->num;
    zkv_routing_destroy (&r);
    if (!sim_run_until (s, sim_now (s) + S_KV_WAIT, sim_shard_settled_at, &num))
        sim_fail (s, "the shard groups did not all settle in configuration %" PRIu64
                     " within %llu s after the heal (%" PRIu64 " reconfigurations)",
                  num, (unsigned long long)(S_KV_WAIT / SIM_SEC), c->reconfigs);
    sim_narrate (s, "converged: every shard group settled in configuration %" PRIu64, num);
}

static void
s_fault (sim_t *s, void *arg)
{
    s_chaos_t *c = arg;
    if (sim_now (s) >= c->end)
        return;
    zkv_rng_t *rng = sim_rng (s);
    int n = sim_n (s);
    uint64_t roll = zkv_rng_below (rng, 100);
    int node;
    int down = 0;
    for (int i = 0; i < n; i++)
        down += !sim_is_up (s, i);
    // Mostly keep a majority up (progress under faults is the interesting case); now and then
    // take the majority down too.
    bool may_crash = down + 1 <= (n - 1) / 2 || zkv_rng_chance (rng, 1, 4);
    if (roll < 20 && may_crash && (node = s_pick (s, true)) >= 0) {
        bool torn = zkv_rng_chance (rng, 1, 2);
        if (zkv_rng_chance (rng, 1, 3)) {
            // Streaming: half of these in the write that saves a snapshot (a received
            // stream's install: the restart must promote the staged stream).
            bool install = c->stream && zkv_rng_chance (rng, 1, 2);
            sim_narrate (s, "fault: node %d will crash in its next %swrite%s", node + 1,
                         install ? "snapshot " : "", torn ? " (torn)" : "");
            if (install)
                sim_crash_at_install (s, node, torn);
            else
                sim_crash_mid_write (s, node, torn);
        } else
            sim_crash (s, node, torn);
    } else if (roll < 40 && (node = s_pick (s, false)) >= 0) {
        sim_restart (s, node); // also when a crash was due but would cost the majority
    } else if (roll < 55) {
        int group[SIM_MAX_NODES], sum = 0;
        for (int i = 0; i < n; i++)
            sum += group[i] = (int)zkv_rng_below (rng, 2);
        if (sum == 0 || sum == n) // both sides non-empty
            group[zkv_rng_below (rng, (uint64_t)n)] ^= 1;
        char desc[64] = "";
        for (int g = 0; g < 2; g++) {
            strcat (desc, g ? "} {" : "{");
            for (int i = 0, k = 0; i < n; i++)
                if (group[i] == g)
                    snprintf (desc + strlen (desc), sizeof desc - strlen (desc), "%s%d",
                              k++ ? " " : "", i + 1);
        }
        sim_narrate (s, "fault: partition %s}", desc);
        sim_partition (s, group);
    } else if (roll < 65) {
        sim_narrate (s, "fault healed: network whole again");
        sim_heal (s);
    } else if (roll < 70) {
        // A one-way link: node a no longer hears b (b still hears a), or it heals.
        int a = (int)zkv_rng_below (rng, (uint64_t)n), b = (int)zkv_rng_below (rng, (uint64_t)n);
        bool up = zkv_rng_chance (rng, 1, 2);
        if (a != b) {
            sim_narrate (s, "fault: link %d -> %d %s", b + 1, a + 1, up ? "restored" : "cut");
            sim_link (s, b, a, up);
        }
    } else if (roll < 75) {
        node = (int)zkv_rng_below (rng, (uint64_t)n);
        bool on = !sim_is_connected (s, node);
        sim_narrate (s, "fault: node %d %s", node + 1, on ? "reconnected" : "disconnected");
        if (on)
            sim_connect (s, node);
        else
            sim_disconnect (s, node);
    } else if (roll < 85) {
        bool on = zkv_rng_chance (rng, 1, 2);
        if (on != c->unreliable)
            sim_narrate (s, "fault: network %s",
                         on ? "unreliable (drops, duplicates, delays)" : "reliable again");
        c->unreliable = on;
        sim_set_unreliable (s, on);
    } else if (roll < 93) {
        bool on = zkv_rng_chance (rng, 1, 3);
        if (on != c->long_reordering)
            sim_narrate (s, "fault: long reordering %s",
                         on ? "on (old replies arrive late)" : "off");
        c->long_reordering = on;
        sim_set_long_reordering (s, on);
    } else if (c->stream && zkv_rng_chance (rng, 1, 2)) {
        // Streaming: a node's state goes missing (a disk problem); it must get it back from a
        // leader's snapshot. Not when that would lose a committed entry (sim_lose_state).
        node = (int)zkv_rng_below (rng, (uint64_t)n);
        sim_narrate (s, "fault: node %d loses its state machine's state", node + 1);
        sim_lose_state (s, node, false);
    } else if ((node = s_pick (s, true)) >= 0) {
        sim_crash (s, node, zkv_rng_chance (rng, 1, 2));
        sim_restart (s, node);
    }
    sim_at (s, sim_now (s) + zkv_rng_range (rng, 100, 1500) * SIM_MS, s_fault, c);
}

static void
s_progress (sim_t *s, void *arg)
{
    s_chaos_t *c = arg;
    if (sim_now (s) >= c->end)
        return;
    int leader = -1;
    zkv_raft_status_t st, lst = {0};
    for (int i = 0; i < sim_n (s); i++)
        if (sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER && st.term >= lst.term) {
            leader = i;
            lst = st;
        }
    sim_counters_t k;
    sim_counters (s, &k);
    if (leader >= 0)
        sim_narrate (s,
                     "progress: %" PRIu64 " entries committed; leader node %d term %" PRIu64
                     " commit %" PRIu64 "; %" PRIu64 " messages sent, %" PRIu64 " lost",
                     sim_max_committed (s), leader + 1, lst.term, lst.commit, k.msgs_sent,
                     k.msgs_dropped);
    else
        sim_narrate (s,
                     "progress: %" PRIu64 " entries committed; no leader; %" PRIu64
                     " messages sent, %" PRIu64 " lost",
                     sim_max_committed (s), k.msgs_sent, k.msgs_dropped);
    sim_at (s, sim_now (s) + 2 * SIM_SEC, s_progress, c);
}

static void
s_chaos (sim_t *s, void *arg)
{
    s_chaos_t *c = arg;
    c->end = sim_now (s) + c->o->chaos_us;
    if (c->o->shards)
        s_shards_start (s, c);
    if (c->o->kv)
        s_kv_start (s, c);
    else
        sim_at (s, sim_now (s) + 100 * SIM_MS, s_client, c);
    sim_at (s, sim_now (s) + zkv_rng_range (sim_rng (s), 300, 1500) * SIM_MS, s_fault, c);
    if (c->o->narrate)
        sim_at (s, sim_now (s) + 2 * SIM_SEC, s_progress, c);
    sim_run_for (s, c->o->chaos_us);
    // Heal: every node up and connected, a reliable network. Then the group must make
    // progress and every node must converge on it.
    sim_narrate (s, "healing: restarting every node, reconnecting, reliable network");
    sim_heal (s);
    sim_set_unreliable (s, false);
    sim_set_long_reordering (s, false);
    sim_set_chunk_faults (s, false);
    for (int i = 0; i < sim_n (s); i++) {
        sim_cancel_mid_write (s, i);
        sim_restart (s, i);
    }
    if (c->o->kv) {
        c->stop = true;
        if (c->o->shards)
            s_shards_end (s, c);
        s_kv_end (s, c);
        c->final_index = sim_max_committed (s);
    } else {
        // The chaos may leave a leader with a long uncommitted backlog, and some seeds draw
        // one entry per message, one in flight and slow disks: let the backlog drain first
        // (a liveness bound, generous), then demand the lab's 10 s agreement.
        // Every group of every node.
        for (int g = 0; g < sim_n_groups (s); g++) {
            sim_set_group (s, g);
            if (!sim_run_until (s, sim_now (s) + S_KV_WAIT, s_backlog_drained, NULL))
                sim_fail (s, "group %d: the backlog did not drain within %llu s after the heal",
                          g + 1, (unsigned long long)(S_KV_WAIT / SIM_SEC));
            sim_cmd_t cmd = sim_cmd_int (c->cmd_prefix | c->next_cmd++);
            c->final_index = sim_one (s, cmd.data, cmd.len, sim_n (s), true);
            sim_narrate (s, "converged: every node applied index %" PRIu64 " of group %d",
                         c->final_index, g + 1);
        }
        sim_set_group (s, 0);
    }
    sim_check_final (s);
}

// A leader has committed its whole log and every node applied it.
static bool
s_backlog_drained (sim_t *s, void *arg)
{
    (void)arg;
    uint64_t commit = 0;
    bool led = false;
    for (int i = 0; i < sim_n (s); i++) {
        zkv_raft_status_t st;
        if (sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER && st.commit == st.last_index) {
            led = true;
            commit = st.commit;
        }
    }
    if (!led)
        return false;
    for (int i = 0; i < sim_n (s); i++)
        if (sim_applied (s, i) < commit)
            return false;
    return true;
}

void
sim_chaos_run (const sim_chaos_opts_t *o, sim_chaos_result_t *r)
{
    memset (r, 0, sizeof *r);
    zkv_rng_t pick;
    zkv_rng_seed (&pick, o->seed ^ 0x5eed5eed5eedULL);
    sim_config_t cfg;
    sim_config_defaults (&cfg);
    cfg.seed = o->seed;
    cfg.n_nodes = o->n_nodes ? o->n_nodes : (zkv_rng_chance (&pick, 1, 3) ? 3 : 5);
    // Several groups per node on half the seeds, as a zkvd hosts them: one store, one
    // frontend, one crash for all of them.
    static const int groups[] = {1, 1, 2, 3};
    cfg.n_groups = o->n_groups ? o->n_groups : groups[zkv_rng_below (&pick, 4)];
    // Snapshots never, often or rarely; batching and pipelining at their edges (one entry or
    // one message at a time, payload limits below one command) and snapshots sent in chunks
    // smaller than their 16 bytes, so that every replication path is exercised.
    static const uint64_t snap_every[] = {0, 3, 10, 50};
    static const uint32_t entries[] = {1, 2, 3, 256};
    static const size_t bytes[] = {8, 20, 1024 * 1024};
    static const uint32_t inflight[] = {1, 2, 64};
    static const size_t chunk[] = {7, 64, 65536};
    uint64_t k = zkv_rng_below (&pick, 5);
    cfg.snapshot_every = k < 4 ? snap_every[k] : 3 + zkv_rng_below (&pick, 8);
    cfg.max_entries_per_msg = entries[zkv_rng_below (&pick, 4)];
    cfg.max_bytes_per_msg = bytes[zkv_rng_below (&pick, 3)];
    cfg.max_inflight_msgs = inflight[zkv_rng_below (&pick, 3)];
    cfg.snapshot_chunk_bytes = chunk[zkv_rng_below (&pick, 3)];
    // Applies of one entry per ready (any size), a few, or the default's many.
    static const size_t apply[] = {1, 30, 0};
    cfg.max_apply_bytes = apply[zkv_rng_below (&pick, 3)];
    // Leaders that refuse proposals past a small budget of uncommitted bytes on some seeds.
    static const uint64_t uncommitted[] = {0, 0, 64, 2048};
    cfg.max_uncommitted_bytes = uncommitted[zkv_rng_below (&pick, 4)];
    // Snapshot views released at once (each transfer takes a fresh snapshot), soon, or late.
    static const uint32_t view_idle[] = {1, 50, 0};
    cfg.view_idle_ms = view_idle[zkv_rng_below (&pick, 3)];
    // Now and then classic Raft: real votes alone decide (no PreVote), deposed leaders linger
    // until they hear a newer term (no CheckQuorum).
    cfg.no_pre_vote = zkv_rng_chance (&pick, 1, 4);
    cfg.no_check_quorum = zkv_rng_chance (&pick, 1, 4);
    // Slow disks on most seeds (syncs overlap messages, the leader's appends overtake its own
    // sync); the leader persisting before it sends on some.
    static const uint32_t disk[] = {0, 1000, 5000, 20000};
    cfg.disk_delay_max_us = disk[zkv_rng_below (&pick, 4)];
    cfg.persist_before_send = zkv_rng_chance (&pick, 1, 4);
    cfg.trace = o->trace;
    cfg.narrate = o->narrate;
    cfg.quiet = o->quiet;
    cfg.sabotage = o->sabotage;
    cfg.net.long_requests = zkv_rng_chance (&pick, 1, 2); // stale requests too, half the seeds
    if (o->kv) {
        // The KV service; snapshots also by log size (the lab's maxraftstate), never or often.
        static const size_t maxraftstate[] = {0, 300, 1000, 4000};
        cfg.kv = true;
        cfg.maxraftstate = maxraftstate[zkv_rng_below (&pick, 4)];
    }
    if (o->shards) {
        // The controller and 2 or 3 shard groups; chunks of a few records to a few hundred.
        static const size_t schunk[] = {1, 100, 4096};
        cfg.kv = true;
        cfg.shards = true;
        cfg.n_groups = o->n_groups ? o->n_groups : 3 + (int)zkv_rng_below (&pick, 2);
        cfg.shard_chunk_bytes = schunk[zkv_rng_below (&pick, 3)];
        // Pulls as fast as they go, or rate-limited (a few chunks a tick, or one every few).
        static const uint64_t rate[] = {0, 0, 20, 300};
        cfg.shard_rate_per_tick = rate[zkv_rng_below (&pick, 4)];
    }
    if (o->stream > 0 || (o->stream == 0 && zkv_rng_chance (&pick, 1, 2))) {
        // Streamed snapshots: many small chunks, and a leader's application that reads them
        // slowly, ignores requests, or finds its views released.
        static const size_t schunk[] = {7, 16, 64};
        static const size_t spad[] = {40, 200, 800};
        static const uint32_t drop[] = {0, 0, 30, 150};
        static const uint32_t loss[] = {0, 0, 20};
        static const uint64_t idle[] = {0, 300 * SIM_MS, 3 * SIM_SEC};
        static const uint32_t reject[] = {0, 0, 5, 20};
        cfg.stream = true;
        cfg.snapshot_chunk_bytes = schunk[zkv_rng_below (&pick, 3)];
        cfg.stream_pad = spad[zkv_rng_below (&pick, 3)];
        cfg.req_drop_pm = drop[zkv_rng_below (&pick, 4)];
        cfg.view_loss_pm = loss[zkv_rng_below (&pick, 3)];
        cfg.view_idle_us = idle[zkv_rng_below (&pick, 3)];
        cfg.chunk_reject_pm = reject[zkv_rng_below (&pick, 4)];
    }
    if (cfg.kv && zkv_rng_chance (&pick, 1, 2)) {
        // Client sessions that expire under the faults, half the KV seeds: the clocks run 100
        // times faster than simulated time, so ttls of 2 to 10 minutes (the least the config
        // allows is 2) end within 1.2 to 6 s; tables of 16 or 64 sessions fill up (clerks take
        // new ids as theirs expire); clocks skewed by up to half the margin.
        static const uint64_t ttl[] = {120000, 300000, 600000};
        static const uint64_t max[] = {16, 64, 0};
        cfg.log_clock_x = 100;
        cfg.session_ttl_ms = ttl[zkv_rng_below (&pick, 3)];
        cfg.max_sessions = max[zkv_rng_below (&pick, 3)];
        cfg.clock_skew_ms = zkv_rng_below (&pick, 30001);
    }
    sim_t *s = sim_new (&cfg);
    s_chaos_t c = {.o = o,
                   .cmd_prefix = (o->seed & 0xffffff) << 32,
                   .stream = cfg.stream,
                   .sessions = cfg.log_clock_x > 1,
                   .n_keys = o->shards ? S_SHARD_KEYS : S_KV_KEYS};
    sim_narrate (s,
                 "%d nodes, %d groups, seed %" PRIu64 ", snapshot every %" PRIu64
                 " entries (0: never), %" PRIu64 " s of faults; per AppendEntries %" PRIu32
                 " entries / %zu bytes, %" PRIu32 " in flight; snapshot chunks of %zu bytes;"
                 " syncs take up to %" PRIu32 " us%s%s%s%s",
                 cfg.n_nodes, cfg.n_groups, o->seed, cfg.snapshot_every, o->chaos_us / SIM_SEC,
                 cfg.max_entries_per_msg, cfg.max_bytes_per_msg, cfg.max_inflight_msgs,
                 cfg.snapshot_chunk_bytes, cfg.disk_delay_max_us,
                 cfg.persist_before_send ? "; the leader persists before it sends" : "",
                 cfg.no_pre_vote ? "; no PreVote" : "",
                 cfg.no_check_quorum ? "; no CheckQuorum" : "",
                 cfg.stream ? "; streamed snapshots" : "");
    r->passed = sim_guard (s, s_chaos, &c) == 0;
    r->violated = sim_violated (s);
    r->trace_hash = sim_trace_hash (s);
    r->committed = sim_max_committed (s);
    r->sim_us = sim_now (s);
    sim_counters (s, &r->counters);
    sim_destroy (&s);
}
