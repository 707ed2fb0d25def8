// The shard controller's state machine (cluster/zkv_ctrl_sm.h): configurations made by Join,
// Leave and Move, Query, dedup of retries, refusals, restart and snapshot.
#include "zkv_ctrl_sm.h"
#include "zkv_kvstores.h"
#include "zkv_test.h"

#include <stdbool.h>

typedef struct {
    zkv_kvstore_t *store;
    zkv_sm_t *sm;
    uint64_t index; // last index applied
} s_world_t;

static zkv_routing_t *
s_bootstrap (void)
{
    uint64_t ids[] = {0, 1}, sizes[] = {3, 3}, members[] = {1, 2, 3, 1, 2, 3};
    zkv_routing_t *r = zkv_routing_new (1, 8, ids, sizes, members, 2);
    zkv_routing_deal (r);
    return r;
}

static void
s_open (s_world_t *w)
{
    zkv_routing_t *boot = s_bootstrap ();
    int err = 0;
    w->sm = zkv_ctrl_sm_new (w->store, 0, boot, &err);
    zkv_routing_destroy (&boot);
    zkv_snapshot_meta_t none = {0, 0};
    w->sm->ops->boot (w->sm->impl, &none, NULL, 0);
    w->index = w->sm->ops->applied (w->sm->impl);
}

// A command through prepare and, when it proposes, apply: the answer's status; *num the new
// configuration's number when it made one.
static int
s_command (s_world_t *w, uint64_t client, uint64_t seq, uint64_t op, const zkv_msg_t *payload,
           uint64_t *num, bool *proposed)
{
    uint8_t *val = NULL;
    size_t val_len = 0;
    if (payload && zkv_msg_encode (payload, &val, &val_len) != 0)
        return -1000;
    zkv_sm_request_t q = {.client_id = client, .seq = seq, .op = op, .key = (const uint8_t *)"k",
                          .key_len = 1, .value = val, .value_len = val_len};
    uint8_t *cmd = NULL;
    size_t cmd_len = 0;
    zkv_sm_answer_t a = {0};
    int verdict = w->sm->ops->prepare (w->sm->impl, &q, &cmd, &cmd_len, &a);
    free (val);
    *proposed = verdict == ZKV_SM_PROPOSE;
    int status = a.status;
    if (verdict == ZKV_SM_ANSWERED) {
        if (num && a.value.len == 8)
            *num = (uint64_t)a.value.data[7] | ((uint64_t)a.value.data[6] << 8);
        zkv_sm_answer_free (&a);
        return status;
    }
    zkv_entry_t e = {.term = 1, .index = ++w->index, .type = ZKV_ENTRY_NORMAL,
                     .data = {cmd, cmd_len}};
    zkv_sm_results_t res = {0};
    int rc = w->sm->ops->apply (w->sm->impl, &e, 1, &res);
    free (cmd);
    if (rc || res.count != 1) {
        zkv_sm_results_free (&res);
        return -2000;
    }
    status = res.items[0].answer.status;
    if (num && res.items[0].answer.value.len == 8)
        *num = (uint64_t)res.items[0].answer.value.data[7] |
               ((uint64_t)res.items[0].answer.value.data[6] << 8);
    zkv_sm_results_free (&res);
    return status;
}

// Query: the configuration (num UINT64_MAX: the latest), or NULL with *status.
static zkv_routing_t *
s_query (s_world_t *w, uint64_t num, int *status)
{
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(num >> (56 - 8 * i));
    zkv_sm_request_t q = {.op = ZKV_OP_QUERY, .key = key, .key_len = num == UINT64_MAX ? 0 : 8};
    uint8_t *cmd = NULL;
    size_t len = 0;
    zkv_sm_answer_t a = {0};
    if (w->sm->ops->prepare (w->sm->impl, &q, &cmd, &len, &a) != ZKV_SM_READ) {
        *status = -3000;
        return NULL;
    }
    int rc = w->sm->ops->read (w->sm->impl, &q, &a);
    *status = rc ? rc : a.status;
    zkv_routing_t *r = NULL;
    if (*status == 0) {
        zkv_msg_t m;
        if (zkv_msg_decode (a.value.data, a.value.len, &m) == 0 && m.type == ZKV_MSG_CONFIG_REPLY)
            r = zkv_routing_from_reply (&m.u.config_reply, status);
        zkv_msg_free (&m);
    }
    zkv_sm_answer_free (&a);
    return r;
}

static size_t
s_count (const zkv_routing_t *r, uint64_t g)
{
    size_t n = 0;
    for (uint32_t s = 0; s < r->nshards; s++)
        n += r->shard_group[s] == g;
    return n;
}

static void
test_join_leave_move_query (void)
{
    s_world_t w = {.store = zkv_kvstore_mem_new ()};
    s_open (&w);
    int st = 0;
    zkv_routing_t *r = s_query (&w, UINT64_MAX, &st);
    CHECK (r);
    CHECK_EQ_U64 (r->num, 1); // the bootstrap
    CHECK_EQ_U64 (s_count (r, 1), 8);
    zkv_routing_destroy (&r);
    // Join group 2 on nodes 4, 5, 6: configuration 2, 4 shards each.
    uint64_t ids[] = {2}, sizes[] = {3}, members[] = {4, 5, 6};
    zkv_msg_t join = {.type = ZKV_MSG_CTRL_JOIN};
    join.u.ctrl_join.group_ids = (zkv_u64s_t){ids, 1};
    join.u.ctrl_join.group_sizes = (zkv_u64s_t){sizes, 1};
    join.u.ctrl_join.members = (zkv_u64s_t){members, 3};
    uint64_t num = 0;
    bool proposed = false;
    CHECK_EQ_U64 (s_command (&w, 7, 1, ZKV_OP_JOIN, &join, &num, &proposed), 0);
    CHECK (proposed);
    CHECK_EQ_U64 (num, 2);
    r = s_query (&w, UINT64_MAX, &st);
    CHECK (r);
    CHECK_EQ_U64 (r->num, 2);
    CHECK_EQ_U64 (s_count (r, 1), 4);
    CHECK_EQ_U64 (s_count (r, 2), 4);
    size_t n = 0;
    const uint64_t *m = zkv_routing_members (r, 2, &n);
    CHECK (m && n == 3 && m[0] == 4 && m[2] == 6);
    zkv_routing_destroy (&r);
    // The same client and seq again: answered from the dedup table, nothing new.
    num = 0;
    CHECK_EQ_U64 (s_command (&w, 7, 1, ZKV_OP_JOIN, &join, &num, &proposed), 0);
    CHECK (!proposed);
    CHECK_EQ_U64 (num, 2);
    // Joining a group that is in: refused, recorded, no new configuration.
    ids[0] = 1;
    CHECK_EQ_U64 (s_command (&w, 7, 2, ZKV_OP_JOIN, &join, &num, &proposed), ZKV_EINVAL);
    r = s_query (&w, UINT64_MAX, &st);
    CHECK_EQ_U64 (r->num, 2);
    zkv_routing_destroy (&r);
    // Move shard 0 to group 2: only it changes.
    zkv_msg_t move = {.type = ZKV_MSG_CTRL_MOVE};
    move.u.ctrl_move.shard = 0;
    move.u.ctrl_move.group = 2;
    CHECK_EQ_U64 (s_command (&w, 8, 1, ZKV_OP_MOVE, &move, &num, &proposed), 0);
    CHECK_EQ_U64 (num, 3);
    zkv_routing_t *before = s_query (&w, 2, &st), *after = s_query (&w, 3, &st);
    CHECK (before && after);
    for (uint32_t s = 1; s < 8; s++)
        CHECK_EQ_U64 (after->shard_group[s], before->shard_group[s]);
    CHECK_EQ_U64 (after->shard_group[0], 2);
    zkv_routing_destroy (&before);
    zkv_routing_destroy (&after);
    move.u.ctrl_move.group = 9; // not in the configuration
    CHECK_EQ_U64 (s_command (&w, 8, 2, ZKV_OP_MOVE, &move, &num, &proposed), ZKV_EINVAL);
    move.u.ctrl_move.shard = 8; // past the key space
    move.u.ctrl_move.group = 2;
    CHECK_EQ_U64 (s_command (&w, 8, 3, ZKV_OP_MOVE, &move, &num, &proposed), ZKV_EINVAL);
    // Leave 1: every shard to group 2, group 1 gone; group 0 stays.
    uint64_t gone[] = {1};
    zkv_msg_t leave = {.type = ZKV_MSG_CTRL_LEAVE};
    leave.u.ctrl_leave.group_ids = (zkv_u64s_t){gone, 1};
    CHECK_EQ_U64 (s_command (&w, 9, 1, ZKV_OP_LEAVE, &leave, &num, &proposed), 0);
    CHECK_EQ_U64 (num, 4);
    r = s_query (&w, UINT64_MAX, &st);
    CHECK_EQ_U64 (s_count (r, 2), 8);
    CHECK (!zkv_routing_members (r, 1, &n));
    CHECK (zkv_routing_members (r, 0, &n));
    zkv_routing_destroy (&r);
    uint64_t zero[] = {0};
    leave.u.ctrl_leave.group_ids = (zkv_u64s_t){zero, 1};
    CHECK_EQ_U64 (s_command (&w, 9, 2, ZKV_OP_LEAVE, &leave, &num, &proposed), ZKV_EINVAL);
    // Configuration 0 has no groups; one that does not exist yet is not found.
    r = s_query (&w, 0, &st);
    CHECK (r == NULL); // configuration 0 has number 0: not a routing a client takes
    r = s_query (&w, 99, &st);
    CHECK (r == NULL && st == ZKV_ENOTFOUND);
    // A key request: the controller serves no keys.
    CHECK_EQ_U64 (s_command (&w, 9, 3, ZKV_OP_PUT, NULL, &num, &proposed), ZKV_EWRONGGROUP);
    // A restart over the same store: the same configurations.
    zkv_sm_destroy (&w.sm);
    s_open (&w);
    CHECK_EQ_U64 (w.index, 7);
    r = s_query (&w, UINT64_MAX, &st);
    CHECK (r && r->num == 4 && s_count (r, 2) == 8);
    zkv_routing_destroy (&r);
    // A blob snapshot restores the same state elsewhere.
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    CHECK_EQ_U64 (w.sm->ops->blob_write (w.sm->impl, &blob, &blob_len), 0);
    s_world_t w2 = {.store = zkv_kvstore_mem_new ()};
    s_open (&w2);
    CHECK_EQ_U64 (w2.sm->ops->blob_restore (w2.sm->impl, 7, blob, blob_len), 0);
    free (blob);
    r = s_query (&w2, 3, &st);
    CHECK (r && r->num == 3 && r->shard_group[0] == 2);
    zkv_routing_destroy (&r);
    zkv_sm_destroy (&w2.sm);
    zkv_kvstore_destroy (&w2.store);
    zkv_sm_destroy (&w.sm);
    zkv_kvstore_destroy (&w.store);
}

// Refusals of malformed commands: wrong payload type, empty joins, members not adding up.
static void
test_refusals (void)
{
    s_world_t w = {.store = zkv_kvstore_mem_new ()};
    s_open (&w);
    uint64_t num = 0;
    bool proposed = false;
    zkv_msg_t move = {.type = ZKV_MSG_CTRL_MOVE};
    // A move's payload under a join op: refused before it is logged.
    CHECK_EQ_U64 (s_command (&w, 1, 1, ZKV_OP_JOIN, &move, &num, &proposed), ZKV_EINVAL);
    CHECK (!proposed);
    uint64_t ids[] = {3, 2}, sizes[] = {1, 1}, members[] = {1, 2};
    zkv_msg_t join = {.type = ZKV_MSG_CTRL_JOIN};
    join.u.ctrl_join.group_ids = (zkv_u64s_t){ids, 2};
    join.u.ctrl_join.group_sizes = (zkv_u64s_t){sizes, 2};
    join.u.ctrl_join.members = (zkv_u64s_t){members, 2};
    CHECK_EQ_U64 (s_command (&w, 1, 2, ZKV_OP_JOIN, &join, &num, &proposed), ZKV_EINVAL);
    ids[0] = 2;
    ids[1] = 3;
    join.u.ctrl_join.members.count = 1; // the sizes say 2
    CHECK_EQ_U64 (s_command (&w, 1, 3, ZKV_OP_JOIN, &join, &num, &proposed), ZKV_EINVAL);
    members[0] = 0; // node id 0
    join.u.ctrl_join.members.count = 2;
    CHECK_EQ_U64 (s_command (&w, 1, 4, ZKV_OP_JOIN, &join, &num, &proposed), ZKV_EINVAL);
    members[0] = 1;
    CHECK_EQ_U64 (s_command (&w, 1, 5, ZKV_OP_JOIN, &join, &num, &proposed), 0);
    CHECK_EQ_U64 (num, 2);
    // A stale seq: answered "stale", nothing applied.
    CHECK_EQ_U64 (s_command (&w, 1, 4, ZKV_OP_JOIN, &join, &num, &proposed), ZKV_ESTALE);
    zkv_sm_destroy (&w.sm);
    zkv_kvstore_destroy (&w.store);
}

ZKV_TEST_MAIN (TEST (test_join_leave_move_query) TEST (test_refusals))
