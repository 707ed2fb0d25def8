// The shard controller's state machine (zkv_ctrl_sm.h): configurations kept as keys of a zkv_kv,
// Join / Leave / Move applied by an executor of that zkv_kv, Query served as a read.
#include "zkv_ctrl_sm.h"
#include "zkv_bytes_order.h"
#include "zkv_balance.h"
#include "zkv_kv_sm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// The key every command names (its dedup records live under its shard: the controller has one).
static const uint8_t s_cmd_key[] = {'c', 't', 'r', 'l'};
// The latest configuration's number.
static const uint8_t s_latest_key[] = {'n'};

typedef struct {
    zkv_sm_t *kvsm;           // the KV machine that keeps the state (owned)
    zkv_kv_t *kv;             // inside it
    zkv_routing_t *bootstrap; // configuration 1 until the first command (owned)
} s_ctrl_t;

static void
s_config_key (uint8_t out[9], uint64_t num)
{
    out[0] = 'c';
    zkv_put_be64 (out + 1, num);
}

// --- reading the state: through the apply's batch, or the store --------------------------------

// A getter of the current value of a key: in an apply (the batch's writes count) or in a read.
typedef struct {
    s_ctrl_t *self;     // the controller
    zkv_kv_exec_t *x;   // in an apply, else NULL
} s_reader_t;

// 0 with *found and *value (owned), or a store error.
static int
s_get (s_reader_t *rd, const uint8_t *key, size_t len, zkv_bytes_t *value, bool *found)
{
    if (rd->x)
        return zkv_kv_exec_get (rd->x, key, len, value, found);
    int rc = zkv_kv_get (rd->self->kv, key, len, value);
    *found = rc == 0;
    return rc == ZKV_ENOTFOUND ? 0 : rc;
}

static int
s_latest (s_reader_t *rd, uint64_t *num)
{
    zkv_bytes_t v = {0};
    bool found = false;
    int rc = s_get (rd, s_latest_key, sizeof s_latest_key, &v, &found);
    if (rc)
        return rc;
    bool bad = found && v.len != 8;
    if (found && !bad)
        *num = zkv_get_be64 (v.data);
    else
        *num = rd->self->bootstrap ? 1 : 0;
    zkv_bytes_free (&v);
    return bad ? ZKV_ECORRUPT : 0;
}

// Configuration num: 0 has no groups, 1 is the bootstrap until a stored one replaces it.
static int
s_config (s_reader_t *rd, uint64_t num, zkv_routing_t **out)
{
    s_ctrl_t *self = rd->self;
    *out = NULL;
    uint8_t key[9];
    s_config_key (key, num);
    zkv_bytes_t v = {0};
    bool found = false;
    int rc = s_get (rd, key, sizeof key, &v, &found);
    if (rc)
        return rc;
    if (found) {
        zkv_msg_t m;
        rc = zkv_msg_decode (v.data, v.len, &m);
        zkv_bytes_free (&v);
        if (rc == 0 && m.type == ZKV_MSG_CONFIG_REPLY)
            *out = zkv_routing_from_reply (&m.u.config_reply, &rc);
        else
            rc = ZKV_ECORRUPT;
        zkv_msg_free (&m);
        return *out ? 0 : ZKV_ECORRUPT;
    }
    if (num == 1 && self->bootstrap) {
        *out = zkv_routing_dup (self->bootstrap);
        return 0;
    }
    if (num == 0) {
        *out = zkv_routing_new (0, self->bootstrap ? self->bootstrap->nshards : 1, NULL, NULL,
                                NULL, 0);
        return 0;
    }
    return ZKV_ENOTFOUND;
}

// --- the commands ------------------------------------------------------------------------------

static bool
s_has (const zkv_routing_t *r, uint64_t group)
{
    size_t n = 0;
    return zkv_routing_members (r, group, &n) != NULL;
}

// The configuration after cur with the groups of ids / sizes / members (n of them) in place of
// cur's (ids ascending); shards as cur's, then rebalanced when balance.
static zkv_routing_t *
s_next (const zkv_routing_t *cur, const uint64_t *ids, const uint64_t *sizes,
        const uint64_t *members, size_t n, bool balance)
{
    zkv_routing_t *next = zkv_routing_new (cur->num + 1, cur->nshards, ids, sizes, members, n);
    if (!next)
        return NULL;
    memcpy (next->shard_group, cur->shard_group, cur->nshards * sizeof (uint64_t));
    // Where the nodes are carries over; a node no longer in any group is forgotten.
    for (size_t i = 0; i < cur->n_nodes; i++)
        zkv_routing_set_node (next, cur->node_ids[i], cur->peer_eps[i], cur->client_eps[i],
                              cur->keys[i]);
    zkv_routing_prune_nodes (next);
    if (balance) {
        uint64_t *serving = calloc (n ? n : 1, sizeof (uint64_t));
        if (!serving)
            abort ();
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ids[i] != 0)
                serving[k++] = ids[i];
        zkv_balance (next->shard_group, next->nshards, serving, k);
        free (serving);
    }
    return next;
}

// Join: cur's groups and the joining ones, merged in id order.
static zkv_routing_t *
s_join (const zkv_routing_t *cur, const zkv_ctrl_join_t *j, const char **why)
{
    size_t n_new = j->group_ids.count, n_members = 0;
    if (n_new == 0 || j->group_sizes.count != n_new) {
        *why = "a join names its groups, each with its number of members";
        return NULL;
    }
    for (size_t i = 0; i < n_new; i++) {
        uint64_t g = j->group_ids.items[i];
        if (g == 0 || s_has (cur, g) || (i && g <= j->group_ids.items[i - 1])) {
            *why = "a joining group must be new, not 0, and listed in ascending order";
            return NULL;
        }
        n_members += (size_t)j->group_sizes.items[i];
    }
    if (n_members != j->members.count) {
        *why = "the members do not add up to the groups' sizes";
        return NULL;
    }
    size_t n = cur->n_groups + n_new;
    uint64_t *ids = calloc (n, sizeof (uint64_t)), *sizes = calloc (n, sizeof (uint64_t));
    uint64_t *members = calloc (cur->n_members + n_members + 1, sizeof (uint64_t));
    if (!ids || !sizes || !members)
        abort ();
    size_t a = 0, b = 0, k = 0, m = 0, mb = 0;
    while (a < cur->n_groups || b < n_new) {
        bool take_cur = b == n_new || (a < cur->n_groups && cur->group_ids[a] < j->group_ids.items[b]);
        if (take_cur) {
            ids[k] = cur->group_ids[a];
            sizes[k] = cur->group_size[a];
            memcpy (members + m, cur->members + cur->group_first[a], sizes[k] * sizeof (uint64_t));
            a++;
        } else {
            ids[k] = j->group_ids.items[b];
            sizes[k] = j->group_sizes.items[b];
            memcpy (members + m, j->members.items + mb, sizes[k] * sizeof (uint64_t));
            mb += (size_t)sizes[k];
            b++;
        }
        m += (size_t)sizes[k];
        k++;
    }
    zkv_routing_t *next = s_next (cur, ids, sizes, members, n, true);
    if (!next)
        *why = "a joining group's members are not valid node ids (1..15 of them, not 0)";
    else if (zkv_routing_set_nodes (next, &j->node_ids, &j->peer_endpoints,
                                    &j->client_endpoints, &j->public_keys) != 0) {
        // The joining members' endpoints and keys (from the config file that declares them):
        // what a node started from an older file learns its new peers from.
        *why = "the joining members' endpoints or keys do not match their node ids";
        zkv_routing_destroy (&next);
    }
    free (ids);
    free (sizes);
    free (members);
    return next;
}

// Leave: cur's groups but the leaving ones.
static zkv_routing_t *
s_leave (const zkv_routing_t *cur, const zkv_ctrl_leave_t *l, const char **why)
{
    if (l->group_ids.count == 0) {
        *why = "a leave names its groups";
        return NULL;
    }
    for (size_t i = 0; i < l->group_ids.count; i++) {
        uint64_t g = l->group_ids.items[i];
        if (g == 0 || !s_has (cur, g)) {
            *why = "a leaving group must be in the configuration, and not 0";
            return NULL;
        }
    }
    uint64_t *ids = calloc (cur->n_groups + 1, sizeof (uint64_t));
    uint64_t *sizes = calloc (cur->n_groups + 1, sizeof (uint64_t));
    uint64_t *members = calloc (cur->n_members + 1, sizeof (uint64_t));
    if (!ids || !sizes || !members)
        abort ();
    size_t k = 0, m = 0;
    for (size_t i = 0; i < cur->n_groups; i++) {
        bool leaving = false;
        for (size_t j = 0; j < l->group_ids.count; j++)
            leaving = leaving || l->group_ids.items[j] == cur->group_ids[i];
        if (leaving)
            continue;
        ids[k] = cur->group_ids[i];
        sizes[k] = cur->group_size[i];
        memcpy (members + m, cur->members + cur->group_first[i], sizes[k] * sizeof (uint64_t));
        m += (size_t)sizes[k];
        k++;
    }
    zkv_routing_t *next = s_next (cur, ids, sizes, members, k, true);
    free (ids);
    free (sizes);
    free (members);
    return next;
}

// Move: cur with one shard assigned by hand.
static zkv_routing_t *
s_move (const zkv_routing_t *cur, const zkv_ctrl_move_t *mv, const char **why)
{
    if (mv->shard >= cur->nshards || mv->group == 0 || !s_has (cur, mv->group)) {
        *why = "a move names a shard of the key space and a group of the configuration, not 0";
        return NULL;
    }
    zkv_routing_t *next = s_next (cur, cur->group_ids, cur->group_size, cur->members,
                                  cur->n_groups, false);
    next->shard_group[mv->shard] = mv->group;
    return next;
}

// Nodes: cur with its nodes at the endpoints and keys the command gives (a restore into other
// addresses and keys logs it: zkv_restore.h). Groups and shards stay; nodes the command does
// not name keep what they had, and a node that is no member of any group is not added.
static zkv_routing_t *
s_nodes (const zkv_routing_t *cur, const zkv_ctrl_nodes_t *c, const char **why)
{
    zkv_routing_t *named = zkv_routing_new (1, 1, NULL, NULL, NULL, 0);
    if (zkv_routing_set_nodes (named, &c->node_ids, &c->peer_endpoints, &c->client_endpoints,
                               &c->public_keys) != 0) {
        zkv_routing_destroy (&named);
        *why = "the nodes' endpoints or keys do not match their node ids";
        return NULL;
    }
    zkv_routing_t *next = s_next (cur, cur->group_ids, cur->group_size, cur->members,
                                  cur->n_groups, false);
    for (size_t i = 0; next && i < named->n_nodes; i++)
        if (zkv_routing_has_node (next, named->node_ids[i]))
            zkv_routing_set_node (next, named->node_ids[i], named->peer_eps[i],
                                  named->client_eps[i], named->keys[i]);
    zkv_routing_destroy (&named);
    return next;
}

// The payload type each command op carries.
static zkv_msg_type_t
s_payload_type (uint64_t op)
{
    return op == ZKV_OP_JOIN    ? ZKV_MSG_CTRL_JOIN
           : op == ZKV_OP_LEAVE ? ZKV_MSG_CTRL_LEAVE
           : op == ZKV_OP_MOVE  ? ZKV_MSG_CTRL_MOVE
           : op == ZKV_OP_NODES ? ZKV_MSG_CTRL_NODES
                                : ZKV_MSG_NONE;
}

// zkv_kv's executor: one Join, Leave or Move, in the apply's batch.
static int
s_exec (void *arg, zkv_kv_exec_t *x, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    s_ctrl_t *self = arg;
    s_reader_t rd = {self, x};
    zkv_msg_t m;
    if (s_payload_type (cmd->op) == ZKV_MSG_NONE ||
        zkv_msg_decode (cmd->value.data, cmd->value.len, &m) != 0) {
        r->status = ZKV_EINVAL;
        r->error = "not a command of the shard controller";
        return 0;
    }
    uint64_t latest = 0;
    zkv_routing_t *cur = NULL, *next = NULL;
    int rc = s_latest (&rd, &latest);
    if (rc == 0)
        rc = s_config (&rd, latest, &cur);
    if (rc) {
        zkv_msg_free (&m);
        return rc; // the store's: the node stops, a restart replays
    }
    const char *why = "the command does not fit the configuration";
    if (m.type != s_payload_type (cmd->op))
        why = "the command's payload is not its op's";
    else if (m.type == ZKV_MSG_CTRL_JOIN)
        next = s_join (cur, &m.u.ctrl_join, &why);
    else if (m.type == ZKV_MSG_CTRL_LEAVE)
        next = s_leave (cur, &m.u.ctrl_leave, &why);
    else if (m.type == ZKV_MSG_CTRL_NODES)
        next = s_nodes (cur, &m.u.ctrl_nodes, &why);
    else
        next = s_move (cur, &m.u.ctrl_move, &why);
    zkv_msg_free (&m);
    zkv_routing_destroy (&cur);
    if (!next) {
        r->status = ZKV_EINVAL;
        r->error = why;
        return 0;
    }
    zkv_bytes_t enc = {0};
    rc = zkv_routing_encode (next, &enc);
    if (rc == 0) {
        uint8_t key[9], num[8];
        s_config_key (key, next->num);
        zkv_put_be64 (num, next->num);
        zkv_kv_exec_put (x, key, sizeof key, enc.data, enc.len);
        zkv_kv_exec_put (x, s_latest_key, sizeof s_latest_key, num, sizeof num);
        zkv_bytes_set (&r->value, num, sizeof num);
    } else {
        r->status = rc;
        r->error = "the configuration does not encode";
    }
    zkv_bytes_free (&enc);
    zkv_routing_destroy (&next);
    return 0;
}

// --- the interface: requests and reads ---------------------------------------------------------

static s_ctrl_t *
s_self (void *impl)
{
    return (s_ctrl_t *)impl;
}

static int
s_prepare (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
           zkv_sm_answer_t *answer)
{
    s_ctrl_t *self = s_self (impl);
    if (req->op == ZKV_OP_QUERY) {
        if (req->key_len != 0 && req->key_len != 8) {
            answer->status = ZKV_EINVAL;
            answer->error = "a query names a configuration number (8 bytes) or none";
            return ZKV_SM_ANSWERED;
        }
        return ZKV_SM_READ;
    }
    zkv_msg_type_t want = s_payload_type (req->op);
    if (want == ZKV_MSG_NONE) {
        answer->status = ZKV_EWRONGGROUP;
        answer->error = "the shard controller (group 0) serves no keys";
        return ZKV_SM_ANSWERED;
    }
    zkv_msg_t m;
    int rc = zkv_msg_decode (req->value, req->value_len, &m);
    bool ok = rc == 0 && m.type == want;
    zkv_msg_free (&m);
    if (!ok || req->seq == 0) {
        answer->status = ZKV_EINVAL;
        answer->error = req->seq == 0 ? "sequence numbers start at 1"
                                      : "the command's value is not its op's message";
        return ZKV_SM_ANSWERED;
    }
    // A retry of something applied is answered from the dedup table at once, and so is one
    // whose session may have expired (its clients' sessions expire as a KV group's do).
    zkv_kv_result_t res;
    if (zkv_kv_lookup (self->kv, req->client_id, req->seq, req->session_t0, s_cmd_key,
                       sizeof s_cmd_key, &res) == 1) {
        answer->status = res.status;
        answer->error = res.error;
        answer->value = res.value;
        return ZKV_SM_ANSWERED;
    }
    zkv_msg_t cmd = {.type = ZKV_MSG_KV_COMMAND};
    cmd.u.kv_command.client_id = req->client_id;
    cmd.u.kv_command.seq = req->seq;
    cmd.u.kv_command.op = req->op;
    cmd.u.kv_command.key = (zkv_bytes_t){(uint8_t *)s_cmd_key, sizeof s_cmd_key};
    cmd.u.kv_command.value = (zkv_bytes_t){(uint8_t *)req->value, req->value_len};
    cmd.u.kv_command.session_t0 = req->session_t0;
    zkv_kv_stamp (self->kv, req->now_ms, &cmd.u.kv_command);
    rc = zkv_msg_encode (&cmd, cmd_p, cmd_len_p);
    if (rc) {
        answer->status = rc;
        answer->error = "the command does not encode";
        return ZKV_SM_ANSWERED;
    }
    return ZKV_SM_PROPOSE;
}

static int
s_read (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    s_ctrl_t *self = s_self (impl);
    s_reader_t rd = {self, NULL};
    uint64_t num = 0;
    int rc = 0;
    if (req->key_len == 8)
        num = zkv_get_be64 (req->key);
    else
        rc = s_latest (&rd, &num);
    zkv_routing_t *r = NULL;
    if (rc == 0)
        rc = s_config (&rd, num, &r);
    if (rc == ZKV_ENOTFOUND) {
        answer->status = ZKV_ENOTFOUND;
        answer->error = "no such configuration (yet)";
        return 0;
    }
    if (rc)
        return rc;
    rc = zkv_routing_encode (r, &answer->value);
    zkv_routing_destroy (&r);
    answer->found = rc == 0;
    return rc;
}

// --- the interface: everything else is the KV machine's -----------------------------------------

#define S_KV(self) (s_self (impl)->kvsm)

static uint64_t
s_applied (void *impl)
{
    return S_KV (impl)->ops->applied (S_KV (impl)->impl);
}

static int
s_boot (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len)
{
    return S_KV (impl)->ops->boot (S_KV (impl)->impl, snap, blob, len);
}

static int
s_apply (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results)
{
    return S_KV (impl)->ops->apply (S_KV (impl)->impl, entries, n, results);
}

static int
s_blob_write (void *impl, uint8_t **buf_p, size_t *len_p)
{
    return S_KV (impl)->ops->blob_write (S_KV (impl)->impl, buf_p, len_p);
}

static int
s_blob_restore (void *impl, uint64_t index, const uint8_t *buf, size_t len)
{
    return S_KV (impl)->ops->blob_restore (S_KV (impl)->impl, index, buf, len);
}

static void *
s_view_open (void *impl, int *err)
{
    return S_KV (impl)->ops->view_open (S_KV (impl)->impl, err);
}

static void
s_view_close (void *impl, void *view)
{
    S_KV (impl)->ops->view_close (S_KV (impl)->impl, view);
}

static void *
s_reader_open (void *impl, void *view, int *err)
{
    return S_KV (impl)->ops->reader_open (S_KV (impl)->impl, view, err);
}

static int
s_reader_read (void *impl, void *reader, uint64_t offset, size_t max, uint8_t **buf_p,
               size_t *len_p, bool *done_p)
{
    return S_KV (impl)->ops->reader_read (S_KV (impl)->impl, reader, offset, max, buf_p, len_p,
                                          done_p);
}

static void
s_reader_close (void *impl, void *reader)
{
    S_KV (impl)->ops->reader_close (S_KV (impl)->impl, reader);
}

static int
s_recv_chunk (void *impl, const zkv_snapshot_meta_t *snap, uint64_t offset, const uint8_t *data,
              size_t len, bool done)
{
    return S_KV (impl)->ops->recv_chunk (S_KV (impl)->impl, snap, offset, data, len, done);
}

static int
s_recv_finish (void *impl, const zkv_snapshot_meta_t *snap)
{
    return S_KV (impl)->ops->recv_finish (S_KV (impl)->impl, snap);
}

static uint64_t
s_size (void *impl)
{
    return S_KV (impl)->ops->size (S_KV (impl)->impl);
}

static uint64_t
s_log_ms (void *impl)
{
    return zkv_kv_log_ms (s_self (impl)->kv);
}

static void
s_destroy (void *impl)
{
    s_ctrl_t *self = s_self (impl);
    zkv_sm_destroy (&self->kvsm);
    zkv_routing_destroy (&self->bootstrap);
    free (self);
}

static const zkv_sm_ops_t s_ops = {
    .name = "controller",
    .applied = s_applied,
    .boot = s_boot,
    .prepare = s_prepare,
    .apply = s_apply,
    .read = s_read,
    .blob_write = s_blob_write,
    .blob_restore = s_blob_restore,
    .view_open = s_view_open,
    .view_close = s_view_close,
    .reader_open = s_reader_open,
    .reader_read = s_reader_read,
    .reader_close = s_reader_close,
    .recv_chunk = s_recv_chunk,
    .recv_finish = s_recv_finish,
    .size = s_size,
    .log_ms = s_log_ms,
    .destroy = s_destroy,
};

zkv_sm_t *
zkv_ctrl_sm_new (zkv_kvstore_t *store, uint64_t group, const zkv_routing_t *bootstrap, int *err)
{
    // One shard: every key of the controller (its configurations, its clients' dedup records)
    // lives under it. Configurations of 2^20 shards take about 9 MiB. Its clients' sessions
    // (an operator's zkv join / move, each a new client) expire by the default policy.
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.max_key_bytes = 64;
    limits.max_value_bytes = 16u << 20;
    zkv_sm_t *kvsm = zkv_kv_sm_new (store, group, 1, &limits, NULL, err);
    if (!kvsm)
        return NULL;
    s_ctrl_t *self = calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->kvsm = kvsm;
    self->kv = zkv_kv_sm_kv (kvsm);
    self->bootstrap = bootstrap ? zkv_routing_dup (bootstrap) : NULL;
    zkv_kv_set_exec (self->kv, s_exec, self);
    if (err)
        *err = 0;
    return zkv_sm_new (&s_ops, self);
}

zkv_routing_t *
zkv_ctrl_sm_config (zkv_sm_t *sm, uint64_t num, int *err)
{
    assert (sm && sm->ops == &s_ops);
    s_ctrl_t *self = s_self (sm->impl);
    s_reader_t rd = {self, NULL};
    int rc = 0;
    if (num == UINT64_MAX)
        rc = s_latest (&rd, &num);
    zkv_routing_t *r = NULL;
    if (rc == 0)
        rc = s_config (&rd, num, &r);
    *err = rc;
    return r;
}

int
zkv_ctrl_nodes_command (const zkv_routing_t *nodes, uint64_t client_id, uint8_t **buf_p,
                        size_t *len_p)
{
    assert (nodes && buf_p && len_p);
    zkv_msg_t body = {.type = ZKV_MSG_CTRL_NODES};
    zkv_ctrl_nodes_t *c = &body.u.ctrl_nodes;
    c->node_ids = (zkv_u64s_t){nodes->node_ids, nodes->n_nodes};
    c->peer_endpoints = nodes->peer_lines;
    c->client_endpoints = nodes->client_lines;
    c->public_keys = nodes->key_lines;
    zkv_bytes_t value = {0};
    int rc = zkv_msg_encode (&body, &value.data, &value.len);
    if (rc)
        return rc;
    // Applied as a command of its own client (seq 1), never refused as a retry whose session
    // may have expired (session_t0 above any eviction), and stamped with no time and no
    // policy: it moves neither the log time nor anyone's session.
    zkv_msg_t cmd = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *k = &cmd.u.kv_command;
    k->client_id = client_id;
    k->seq = 1;
    k->op = ZKV_OP_NODES;
    k->key = (zkv_bytes_t){(uint8_t *)s_cmd_key, sizeof s_cmd_key};
    k->value = value;
    k->session_t0 = UINT64_MAX;
    rc = zkv_msg_encode (&cmd, buf_p, len_p);
    zkv_bytes_free (&value);
    return rc;
}
