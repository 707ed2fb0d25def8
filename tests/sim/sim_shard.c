// Sharding in the simulated world (sim_shard.h).
#include "sim_shard.h"
#include "sim_kv_int.h"
#include "zkv_kv_shards.h"
#include "zkv_kv_sm.h"
#include "zkv_kvstores.h"

#include <stdlib.h>
#include <string.h>

static sim_kvclient_t *
s_clerk (sim_t *s)
{
    if (!s->cfg.shards)
        sim_fail (s, "sim_shard: the world is not sharded (cfg.shards)");
    if (!s->kv->ctrl)
        s->kv->ctrl = sim_kv_client (s, SIM_KV_ALL);
    return s->kv->ctrl;
}

static int
s_command (sim_t *s, uint64_t op, const zkv_msg_t *payload)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (payload, &buf, &len) != 0)
        sim_fail (s, "a controller command does not encode");
    int rc = sim_kv_ctrl (s, s_clerk (s), op, NULL, 0, buf, len, NULL);
    free (buf);
    return rc;
}

static void
s_sorted (const uint64_t *in, size_t n, uint64_t *out)
{
    memcpy (out, in, n * sizeof *in);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j] < out[j - 1]; j--) {
            uint64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
}

// The payload of a Join of groups (every node a member of each) or a Leave, encoded.
static void
s_payload (sim_t *s, uint64_t op, const uint64_t *groups, size_t n, uint8_t **buf, size_t *len)
{
    int nodes = sim_n (s);
    uint64_t *ids = calloc (n + 1, sizeof *ids), *sizes = calloc (n + 1, sizeof *sizes);
    uint64_t *members = calloc (n * (size_t)nodes + 1, sizeof *members);
    if (!ids || !sizes || !members)
        abort ();
    s_sorted (groups, n, ids);
    zkv_msg_t m;
    memset (&m, 0, sizeof m);
    if (op == ZKV_OP_JOIN) {
        for (size_t i = 0; i < n; i++) {
            sizes[i] = (uint64_t)nodes;
            for (int k = 0; k < nodes; k++)
                members[i * (size_t)nodes + (size_t)k] = (uint64_t)k + 1; // every node hosts it
        }
        m.type = ZKV_MSG_CTRL_JOIN;
        m.u.ctrl_join.group_ids = (zkv_u64s_t){ids, n};
        m.u.ctrl_join.group_sizes = (zkv_u64s_t){sizes, n};
        m.u.ctrl_join.members = (zkv_u64s_t){members, n * (size_t)nodes};
    } else {
        m.type = ZKV_MSG_CTRL_LEAVE;
        m.u.ctrl_leave.group_ids = (zkv_u64s_t){ids, n};
    }
    if (zkv_msg_encode (&m, buf, len) != 0)
        sim_fail (s, "a controller command does not encode");
    free (ids);
    free (sizes);
    free (members);
}

void
sim_shard_start (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint64_t *groups, size_t n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    s_payload (s, op, groups, n, &buf, &len);
    sim_kv_ctrl_start (s, c, op, NULL, 0, buf, len);
    free (buf);
}

int
sim_shard_join_rc (sim_t *s, const uint64_t *groups, size_t n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    s_payload (s, ZKV_OP_JOIN, groups, n, &buf, &len);
    int rc = sim_kv_ctrl (s, s_clerk (s), ZKV_OP_JOIN, NULL, 0, buf, len, NULL);
    free (buf);
    return rc;
}

int
sim_shard_leave_rc (sim_t *s, const uint64_t *groups, size_t n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    s_payload (s, ZKV_OP_LEAVE, groups, n, &buf, &len);
    int rc = sim_kv_ctrl (s, s_clerk (s), ZKV_OP_LEAVE, NULL, 0, buf, len, NULL);
    free (buf);
    return rc;
}

int
sim_shard_move_rc (sim_t *s, uint32_t shard, uint64_t group)
{
    zkv_msg_t m = {.type = ZKV_MSG_CTRL_MOVE};
    m.u.ctrl_move.shard = shard;
    m.u.ctrl_move.group = group;
    return s_command (s, ZKV_OP_MOVE, &m);
}

void
sim_shard_join (sim_t *s, const uint64_t *groups, size_t n)
{
    int rc = sim_shard_join_rc (s, groups, n);
    if (rc)
        sim_fail (s, "Join of %zu groups (first %" PRIu64 ") refused: %s", n, groups[0],
                  zkv_errname (rc));
}

void
sim_shard_leave (sim_t *s, const uint64_t *groups, size_t n)
{
    int rc = sim_shard_leave_rc (s, groups, n);
    if (rc)
        sim_fail (s, "Leave of %zu groups (first %" PRIu64 ") refused: %s", n, groups[0],
                  zkv_errname (rc));
}

void
sim_shard_move (sim_t *s, uint32_t shard, uint64_t group)
{
    int rc = sim_shard_move_rc (s, shard, group);
    if (rc)
        sim_fail (s, "Move of shard %u to group %" PRIu64 " refused: %s", shard, group,
                  zkv_errname (rc));
}

zkv_routing_t *
sim_shard_query (sim_t *s, uint64_t num)
{
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(num >> (56 - 8 * i));
    zkv_bytes_t answer = {0};
    int rc = sim_kv_ctrl (s, s_clerk (s), ZKV_OP_QUERY, key, num == UINT64_MAX ? 0 : 8, NULL, 0,
                          &answer);
    zkv_routing_t *r = NULL;
    if (rc == 0) {
        r = zkv_routing_decode (answer.data, answer.len, &rc);
        if (!r)
            sim_fail (s, "Query(%" PRIu64 ") answered something that is not a configuration: %s",
                      num, zkv_errname (rc));
    } else if (rc != ZKV_ENOTFOUND)
        sim_fail (s, "Query(%" PRIu64 ") failed: %s", num, zkv_errname (rc));
    zkv_bytes_free (&answer);
    return r;
}

static int
s_index (sim_t *s, uint64_t g)
{
    int gi = sim_group_index (s, g);
    if (gi <= 0)
        sim_fail (s, "group %" PRIu64 " is not a shard group of this world", g);
    return gi;
}

void
sim_shard_group_down (sim_t *s, uint64_t g)
{
    s->group_cut[s_index (s, g)] = true;
    sim_note (s, "group-down", 0, g, 0);
}

void
sim_shard_group_up (sim_t *s, uint64_t g)
{
    s->group_cut[s_index (s, g)] = false;
    sim_note (s, "group-up", 0, g, 0);
}

uint64_t
sim_shard_config (sim_t *s, int node, uint64_t g, bool *settled)
{
    *settled = false;
    int gi = s_index (s, g);
    sim_rep_t *r = &s->nodes[node].reps[gi];
    if (!sim_is_up (s, node) || !r->rep)
        return 0;
    zkv_sm_t *inner = sim_sm_inner (zkv_replica_sm (r->rep));
    if (!inner)
        return 0;
    zkv_kv_t *kv = zkv_kv_sm_kv (inner);
    *settled = zkv_kv_shards_settled (kv);
    return zkv_kv_shards_config (kv)->num;
}

bool
sim_shard_settled_at (sim_t *s, void *num)
{
    for (int g = 1; g < sim_n_groups (s); g++)
        for (int node = 0; node < sim_n (s); node++) {
            bool settled = false;
            if (sim_shard_config (s, node, (uint64_t)g, &settled) != *(uint64_t *)num || !settled)
                return false;
        }
    return true;
}

size_t
sim_shard_stored_bytes (sim_t *s)
{
    size_t total = 0;
    int saved = sim_group (s);
    for (int node = 0; node < sim_n (s); node++) {
        for (int g = 0; g < sim_n_groups (s); g++) {
            sim_set_group (s, g);
            total += sim_durable_bytes (s, node);
        }
        if (s->nodes[node].kvstore)
            total += zkv_kvstore_mem_bytes (s->nodes[node].kvstore);
    }
    sim_set_group (s, saved);
    return total;
}
