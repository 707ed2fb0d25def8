// MIT 6.5840-style test helpers (the lab's config.go) over the simulated world.
#include "sim_harness.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

sim_cmd_t
sim_cmd_int (uint64_t v)
{
    sim_cmd_t c;
    c.len = 8;
    for (int i = 0; i < 8; i++)
        c.data[i] = (uint8_t)(v >> (56 - 8 * i));
    return c;
}

sim_cmd_t
sim_cmd_rand (sim_t *s, size_t len)
{
    assert (len <= SIM_CMD_MAX);
    sim_cmd_t c;
    c.len = len;
    uint64_t r = 0;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            r = zkv_rng_next (sim_rng (s));
        c.data[i] = (uint8_t)(r >> (8 * (i % 8)));
    }
    return c;
}

uint64_t
sim_cmd_value (const uint8_t *data, size_t len)
{
    if (len != 8)
        return UINT64_MAX;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | data[i];
    return v;
}

void
sim_sleep (sim_t *s, uint64_t us)
{
    sim_run_for (s, us);
}

static bool
s_counts (sim_t *s, int i)
{
    return sim_is_up (s, i) && sim_is_connected (s, i);
}

int
sim_check_one_leader (sim_t *s)
{
    for (int iters = 0; iters < 10; iters++) {
        sim_sleep (s, (450 + zkv_rng_below (sim_rng (s), 100)) * SIM_MS);
        uint64_t best_term = 0;
        int best = -1;
        for (int i = 0; i < sim_n (s); i++) {
            zkv_raft_status_t st;
            if (!s_counts (s, i) || !sim_status (s, i, &st) || st.role != ZKV_ROLE_LEADER)
                continue;
            for (int j = 0; j < i; j++) {
                zkv_raft_status_t o;
                if (s_counts (s, j) && sim_status (s, j, &o) && o.role == ZKV_ROLE_LEADER &&
                    o.term == st.term)
                    sim_fail (s, "term %" PRIu64 " has 2 (>1) leaders: nodes %d and %d", st.term, j,
                              i);
            }
            if (best < 0 || st.term > best_term) {
                best = i;
                best_term = st.term;
            }
        }
        if (best >= 0)
            return best;
    }
    sim_fail (s, "expected one leader, got none");
}

uint64_t
sim_check_terms (sim_t *s)
{
    uint64_t term = 0;
    bool have = false;
    for (int i = 0; i < sim_n (s); i++) {
        zkv_raft_status_t st;
        if (!s_counts (s, i) || !sim_status (s, i, &st))
            continue;
        if (!have) {
            term = st.term;
            have = true;
        } else if (st.term != term)
            sim_fail (s, "servers disagree on term (%" PRIu64 " vs %" PRIu64 " at node %d)", term,
                      st.term, i);
    }
    return term;
}

void
sim_check_no_leader (sim_t *s)
{
    for (int i = 0; i < sim_n (s); i++) {
        zkv_raft_status_t st;
        if (s_counts (s, i) && sim_status (s, i, &st) && st.role == ZKV_ROLE_LEADER)
            sim_fail (s, "expected no leader among connected servers, but %d claims to be leader",
                      i);
    }
}

int
sim_n_committed (sim_t *s, uint64_t index, uint64_t *hash_p)
{
    int count = 0;
    uint64_t hash = 0;
    for (int i = 0; i < sim_n (s); i++) {
        uint64_t h;
        if (!sim_applied_hash (s, i, index, &h))
            continue;
        if (count > 0 && h != hash)
            sim_fail (s, "committed values do not match: index %" PRIu64 " (node %d)", index, i);
        hash = h;
        count++;
    }
    if (hash_p)
        *hash_p = hash;
    return count;
}

bool
sim_start (sim_t *s, int node, const void *cmd, size_t len, uint64_t *index_p, uint64_t *term_p)
{
    return sim_propose (s, node, cmd, len, index_p, term_p) == 0;
}

typedef struct {
    uint64_t index; // waiting for this index
    int expected;   // on this many nodes
    uint64_t hash;  // with this entry
} s_one_wait_t;

static bool
s_one_done (sim_t *s, void *arg)
{
    s_one_wait_t *w = arg;
    uint64_t h;
    int nd = sim_n_committed (s, w->index, &h);
    return nd > 0 && nd >= w->expected && h == w->hash;
}

uint64_t
sim_one (sim_t *s, const void *cmd, size_t len, int expected, bool retry)
{
    uint64_t t0 = sim_now (s);
    int starts = 0;
    uint64_t hash = sim_entry_hash (ZKV_ENTRY_NORMAL, cmd, len);
    while (sim_now (s) - t0 < 10 * SIM_SEC) {
        // Try all the servers, maybe one is the leader.
        uint64_t index = 0;
        for (int si = 0; si < sim_n (s); si++) {
            starts = (starts + 1) % sim_n (s);
            uint64_t i1;
            if (s_counts (s, starts) && sim_start (s, starts, cmd, len, &i1, NULL)) {
                index = i1;
                break;
            }
        }
        if (index) {
            // Somebody claimed to be the leader and to have submitted our command; wait a
            // while for agreement.
            s_one_wait_t w = {index, expected, hash};
            if (sim_run_until (s, sim_now (s) + 2 * SIM_SEC, s_one_done, &w))
                return index;
            if (!retry)
                sim_fail (s, "one(%016" PRIx64 ") failed to reach agreement", hash);
        } else
            sim_sleep (s, 50 * SIM_MS);
    }
    sim_fail (s, "one(%016" PRIx64 ") failed to reach agreement in 10 s", hash);
}

uint64_t
sim_one_int (sim_t *s, uint64_t v, int expected, bool retry)
{
    sim_cmd_t c = sim_cmd_int (v);
    return sim_one (s, c.data, c.len, expected, retry);
}

bool
sim_wait (sim_t *s, uint64_t index, int n, int64_t start_term, uint64_t *hash_p)
{
    uint64_t to = 10 * SIM_MS;
    for (int iters = 0; iters < 30; iters++) {
        if (sim_n_committed (s, index, NULL) >= n)
            break;
        sim_sleep (s, to);
        if (to < SIM_SEC)
            to *= 2;
        if (start_term > -1)
            for (int i = 0; i < sim_n (s); i++) {
                zkv_raft_status_t st;
                if (sim_status (s, i, &st) && st.term > (uint64_t)start_term)
                    return false; // someone has moved on: can no longer guarantee we'll win
            }
    }
    int nd = sim_n_committed (s, index, hash_p);
    if (nd < n)
        sim_fail (s, "only %d decided for index %" PRIu64 "; wanted %d", nd, index, n);
    return true;
}

void
sim_crash1 (sim_t *s, int node)
{
    sim_disconnect (s, node);
    sim_crash (s, node, false);
}

void
sim_start1 (sim_t *s, int node)
{
    sim_crash1 (s, node); // as the lab: a running node is killed first; it stays disconnected
    sim_restart (s, node);
}

uint64_t
sim_rpc_total (sim_t *s)
{
    sim_counters_t c;
    sim_counters (s, &c);
    return c.rpcs_sent;
}

uint64_t
sim_bytes_total (sim_t *s)
{
    sim_counters_t c;
    sim_counters (s, &c);
    return c.rpc_bytes_sent;
}

size_t
sim_log_size (sim_t *s)
{
    size_t max = 0;
    for (int i = 0; i < sim_n (s); i++) {
        size_t b = sim_durable_bytes (s, i);
        if (b > max)
            max = b;
    }
    return max;
}
