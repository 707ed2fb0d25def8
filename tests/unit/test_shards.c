// Shard migration between groups, without Raft: the shard controller (cluster/zkv_ctrl_sm.h)
// and two shard groups (zkv_kv_sm_new_sharded), one replica each, their movers' calls
// delivered at once and their proposals applied in order. Checks the replicated half
// (cluster/zkv_kv_shards.h) and the mover (cluster/zkv_mover.h) together: configurations in
// order, chunks installed once and in order, data and dedup records moved, old copies deleted,
// snapshots and restarts in the middle of a move, hostile chunks.
#include "zkv_ctrl_sm.h"
#include "zkv_kv_shards.h"
#include "zkv_kv_sm.h"
#include "zkv_kvstores.h"
#include "zkv_test.h"

#include <stdbool.h>
#include <stdio.h>

// In helpers that return a value (CHECK returns from a void test): a broken harness aborts.
#define S_MUST(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf (stderr, "%s:%d: harness: %s\n", __FILE__, __LINE__, #cond);           \
            abort ();                                                                      \
        }                                                                                  \
    } while (0)

#define S_NSHARDS 8
#define S_GROUPS 3 // 0 (controller), 1, 2

typedef struct s_world s_world_t;

// A call in flight.
typedef struct {
    int from;      // calling group
    uint64_t id;   // its id
    uint64_t to;   // group called
    uint64_t op;   //
    zkv_bytes_t key;
} s_call_t;

typedef struct {
    s_world_t *w;
    int g;                 // group
    zkv_kvstore_t *store;  // its store
    zkv_sm_t *sm;          // its state machine
    uint64_t index;        // last index applied
    zkv_bytes_t *log;      // proposed, not yet applied
    size_t n_log;
    bool down;             // answers nothing, does nothing
} s_group_t;

struct s_world {
    s_group_t groups[S_GROUPS];
    s_call_t calls[4096];
    size_t n_calls;
    size_t events;
    zkv_mover_config_t mover;
};

static void
s_io_call (void *arg, const zkv_sm_call_t *call)
{
    s_group_t *gr = arg;
    s_world_t *w = gr->w;
    CHECK (w->n_calls < 4096);
    s_call_t *c = &w->calls[w->n_calls++];
    c->from = gr->g;
    c->id = call->id;
    c->to = call->group;
    c->op = call->op;
    c->key = (zkv_bytes_t){0};
    zkv_bytes_set (&c->key, call->key, call->key_len);
}

static int
s_io_propose (void *arg, const uint8_t *cmd, size_t len)
{
    s_group_t *gr = arg;
    gr->log = realloc (gr->log, (gr->n_log + 1) * sizeof (zkv_bytes_t));
    gr->log[gr->n_log] = (zkv_bytes_t){0};
    zkv_bytes_set (&gr->log[gr->n_log++], cmd, len);
    return 0;
}

static void
s_io_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    s_group_t *gr = arg;
    CHECK (body->type == ZKV_MSG_EVENT_SHARD);
    CHECK (strncmp (topic, "zkv.shard.", 10) == 0);
    gr->w->events++;
}

static void
s_io_config (void *arg, const uint8_t *config, size_t len)
{
    (void)arg;
    int rc = 0;
    zkv_routing_t *r = zkv_routing_decode (config, len, &rc);
    CHECK (r != NULL);
    zkv_routing_destroy (&r);
}

static zkv_sm_io_t
s_io (s_group_t *gr)
{
    return (zkv_sm_io_t){.arg = gr,
                         .call = s_io_call,
                         .propose = s_io_propose,
                         .event = s_io_event,
                         .config = s_io_config};
}

static zkv_routing_t *
s_bootstrap (void)
{
    uint64_t ids[] = {0, 1}, sizes[] = {1, 1}, members[] = {1, 1};
    zkv_routing_t *r = zkv_routing_new (1, S_NSHARDS, ids, sizes, members, 2);
    zkv_routing_deal (r);
    return r;
}

static void
s_open (s_world_t *w, int g)
{
    s_group_t *gr = &w->groups[g];
    gr->w = w;
    gr->g = g;
    int err = 0;
    if (g == 0) {
        zkv_routing_t *boot = s_bootstrap ();
        gr->sm = zkv_ctrl_sm_new (gr->store, 0, boot, &err);
        zkv_routing_destroy (&boot);
    } else {
        zkv_kv_limits_t limits;
        zkv_kv_limits_defaults (&limits);
        gr->sm = zkv_kv_sm_new_sharded (gr->store, (uint64_t)g, S_NSHARDS, &limits, &w->mover,
                                        &err);
    }
    CHECK (gr->sm != NULL);
    zkv_snapshot_meta_t none = {0, 0};
    CHECK_EQ_U64 (gr->sm->ops->boot (gr->sm->impl, &none, NULL, 0), 1);
    gr->index = gr->sm->ops->applied (gr->sm->impl);
}

static void
s_world_init (s_world_t *w)
{
    memset (w, 0, sizeof *w);
    zkv_mover_config_defaults (&w->mover);
    w->mover.chunk_bytes = 64; // many chunks per shard
    w->mover.retry_ticks = 20;
    for (int g = 0; g < S_GROUPS; g++) {
        w->groups[g].store = zkv_kvstore_mem_new ();
        s_open (w, g);
    }
}

static void
s_world_free (s_world_t *w)
{
    for (int g = 0; g < S_GROUPS; g++) {
        s_group_t *gr = &w->groups[g];
        for (size_t i = 0; i < gr->n_log; i++)
            zkv_bytes_free (&gr->log[i]);
        free (gr->log);
        zkv_sm_destroy (&gr->sm);
        zkv_kvstore_destroy (&gr->store);
    }
    for (size_t i = 0; i < w->n_calls; i++)
        zkv_bytes_free (&w->calls[i].key);
}

// Applies group g's proposals in order (one batch), then lets its mover see them.
static void
s_commit (s_world_t *w, int g)
{
    s_group_t *gr = &w->groups[g];
    if (gr->n_log == 0)
        return;
    zkv_entry_t *e = calloc (gr->n_log, sizeof *e);
    for (size_t i = 0; i < gr->n_log; i++)
        e[i] = (zkv_entry_t){.term = 1, .index = ++gr->index, .type = ZKV_ENTRY_NORMAL,
                             .data = gr->log[i]};
    zkv_sm_results_t res = {0};
    CHECK_EQ_U64 (gr->sm->ops->apply (gr->sm->impl, e, gr->n_log, &res), 0);
    zkv_sm_results_free (&res);
    for (size_t i = 0; i < gr->n_log; i++)
        zkv_bytes_free (&gr->log[i]);
    gr->n_log = 0;
    free (e);
}

// Answers one call the way the called group's frontend and replica would.
static void
s_deliver (s_world_t *w, s_call_t *c)
{
    s_group_t *to = &w->groups[c->to < S_GROUPS ? c->to : 0];
    s_group_t *from = &w->groups[c->from];
    zkv_sm_answer_t a = {0};
    int status;
    if (c->to >= S_GROUPS || to->down)
        status = ZKV_ETIMEOUT;
    else {
        zkv_sm_request_t q = {.op = c->op, .key = c->key.data, .key_len = c->key.len};
        uint8_t *cmd = NULL;
        size_t len = 0;
        int verdict = to->sm->ops->prepare (to->sm->impl, &q, &cmd, &len, &a);
        free (cmd);
        if (verdict == ZKV_SM_READ)
            CHECK_EQ_U64 (to->sm->ops->read (to->sm->impl, &q, &a), 0);
        else
            CHECK_EQ_U64 (verdict, ZKV_SM_ANSWERED);
        status = a.status;
    }
    if (!from->down) {
        zkv_sm_io_t io = s_io (from);
        from->sm->ops->call_reply (from->sm->impl, &io, c->id, status, &a.value);
    }
    zkv_sm_answer_free (&a);
}

// One round: every shard group ticks, calls are answered, proposals applied.
static void
s_round (s_world_t *w)
{
    for (int g = 1; g < S_GROUPS; g++) {
        s_group_t *gr = &w->groups[g];
        if (gr->down)
            continue;
        zkv_sm_io_t io = s_io (gr);
        gr->sm->ops->work (gr->sm->impl, &io, true, 1, true);
    }
    while (w->n_calls) {
        s_call_t c = w->calls[0];
        memmove (w->calls, w->calls + 1, (w->n_calls - 1) * sizeof (s_call_t));
        w->n_calls--;
        s_deliver (w, &c);
        zkv_bytes_free (&c.key);
    }
    for (int g = 1; g < S_GROUPS; g++) {
        s_group_t *gr = &w->groups[g];
        if (gr->down) {
            for (size_t i = 0; i < gr->n_log; i++)
                zkv_bytes_free (&gr->log[i]);
            gr->n_log = 0;
            continue;
        }
        s_commit (w, g);
        zkv_sm_io_t io = s_io (gr);
        gr->sm->ops->work (gr->sm->impl, &io, true, 1, false);
    }
}

static zkv_kv_t *
s_kv (s_world_t *w, int g)
{
    return zkv_kv_sm_kv (w->groups[g].sm);
}

static uint64_t
s_num (s_world_t *w, int g)
{
    return zkv_kv_shards_config (s_kv (w, g))->num;
}

// Rounds until group g is in configuration num with every shard settled (bounded).
static bool
s_until_settled (s_world_t *w, int g, uint64_t num, int max_rounds)
{
    for (int i = 0; i < max_rounds; i++) {
        if (s_num (w, g) == num && zkv_kv_shards_settled (s_kv (w, g)))
            return true;
        s_round (w);
    }
    return false;
}

// A controller command through prepare and apply.
static void
s_ctrl (s_world_t *w, uint64_t seq, uint64_t op, const zkv_msg_t *payload)
{
    s_group_t *c = &w->groups[0];
    uint8_t *val = NULL, *cmd = NULL;
    size_t val_len = 0, cmd_len = 0;
    CHECK_EQ_U64 (zkv_msg_encode (payload, &val, &val_len), 0);
    zkv_sm_request_t q = {.client_id = 99, .seq = seq, .op = op, .key = (const uint8_t *)"k",
                          .key_len = 1, .value = val, .value_len = val_len};
    zkv_sm_answer_t a = {0};
    CHECK_EQ_U64 (c->sm->ops->prepare (c->sm->impl, &q, &cmd, &cmd_len, &a), ZKV_SM_PROPOSE);
    free (val);
    s_io_propose (c, cmd, cmd_len);
    free (cmd);
    s_commit (w, 0);
}

static void
s_join (s_world_t *w, uint64_t seq, uint64_t group)
{
    uint64_t ids[] = {group}, sizes[] = {1}, members[] = {1};
    zkv_msg_t join = {.type = ZKV_MSG_CTRL_JOIN};
    join.u.ctrl_join.group_ids = (zkv_u64s_t){ids, 1};
    join.u.ctrl_join.group_sizes = (zkv_u64s_t){sizes, 1};
    join.u.ctrl_join.members = (zkv_u64s_t){members, 1};
    s_ctrl (w, seq, ZKV_OP_JOIN, &join);
}

static void
s_move (s_world_t *w, uint64_t seq, uint64_t shard, uint64_t group)
{
    zkv_msg_t move = {.type = ZKV_MSG_CTRL_MOVE};
    move.u.ctrl_move.shard = shard;
    move.u.ctrl_move.group = group;
    s_ctrl (w, seq, ZKV_OP_MOVE, &move);
}

// A client write to group g (prepare, then apply): its status.
static int
s_put (s_world_t *w, int g, uint64_t client, uint64_t seq, uint64_t op, const char *key,
       const char *value)
{
    s_group_t *gr = &w->groups[g];
    zkv_sm_request_t q = {.client_id = client,
                          .seq = seq,
                          .op = op,
                          .key = (const uint8_t *)key,
                          .key_len = strlen (key),
                          .value = (const uint8_t *)value,
                          .value_len = strlen (value)};
    uint8_t *cmd = NULL;
    size_t len = 0;
    zkv_sm_answer_t a = {0};
    int verdict = gr->sm->ops->prepare (gr->sm->impl, &q, &cmd, &len, &a);
    int status = a.status;
    zkv_sm_answer_free (&a);
    if (verdict != ZKV_SM_PROPOSE)
        return verdict == ZKV_SM_ANSWERED ? (status ? status : 1) : -5000;
    s_io_propose (gr, cmd, len);
    free (cmd);
    zkv_entry_t e = {.term = 1, .index = ++gr->index, .type = ZKV_ENTRY_NORMAL,
                     .data = gr->log[gr->n_log - 1]};
    zkv_sm_results_t res = {0};
    S_MUST (gr->sm->ops->apply (gr->sm->impl, &e, 1, &res) == 0);
    status = res.count == 1 ? res.items[0].answer.status : -6000;
    zkv_sm_results_free (&res);
    zkv_bytes_free (&gr->log[--gr->n_log]);
    return status;
}

// The value of key at group g (ZKV_EWRONGGROUP when it does not serve it).
static int
s_get (s_world_t *w, int g, const char *key, char *out, size_t cap)
{
    zkv_bytes_t v = {0};
    int rc = zkv_kv_get (s_kv (w, g), (const uint8_t *)key, strlen (key), &v);
    if (rc == 0) {
        size_t n = v.len < cap - 1 ? v.len : cap - 1;
        memcpy (out, v.data, n);
        out[n] = 0;
    }
    zkv_bytes_free (&v);
    return rc;
}

static uint32_t
s_shard (const char *key)
{
    return zkv_kv_shard_of ((const uint8_t *)key, strlen (key), S_NSHARDS);
}

// 200 keys, appended to twice by client 7 (seqs 1..400), all in group 1.
static void
s_fill (s_world_t *w)
{
    char key[32], val[64];
    uint64_t seq = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 200; i++) {
            snprintf (key, sizeof key, "key-%03d", i);
            snprintf (val, sizeof val, "[%d:%d]", i, round);
            CHECK_EQ_U64 (s_put (w, 1, 7 + (uint64_t)i % 5, ++seq, ZKV_OP_APPEND, key, val), 0);
        }
}

static void
s_check_all (s_world_t *w)
{
    char key[32], want[64], got[128];
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "key-%03d", i);
        snprintf (want, sizeof want, "[%d:0][%d:1]", i, i);
        int served = 0;
        for (int g = 1; g < S_GROUPS; g++) {
            int rc = s_get (w, g, key, got, sizeof got);
            if (rc == ZKV_EWRONGGROUP)
                continue;
            CHECK_EQ_U64 (rc, 0);
            CHECK (strcmp (got, want) == 0);
            served++;
        }
        CHECK_EQ_U64 (served, 1); // exactly one group serves each key
    }
}

// Bytes group g keeps of shard s (its data and dedup records), as its store has them.
static size_t
s_shard_items (s_world_t *w, int g, uint32_t s)
{
    zkv_kvpos_t from = {.shard = s};
    zkv_kvchunk_t chunk;
    zkv_kv_t *kv = s_kv (w, g);
    // The current generation's storage id is internal: count through a scan of both.
    size_t n = 0;
    for (uint64_t gen = 0; gen < 2; gen++) {
        S_MUST (zkv_kvstore_scan (w->groups[g].store, (uint64_t)g | gen << 63, &from, s, 1 << 20,
                                  &chunk) == 0);
        n += chunk.count;
        zkv_kvchunk_free (&chunk);
    }
    (void)kv;
    return n;
}

static void
test_join_moves_half_and_deletes (void)
{
    s_world_t w;
    s_world_init (&w);
    // Group 1 learns configuration 1 (all shards, from nobody) and serves them at once.
    CHECK (s_until_settled (&w, 1, 1, 50));
    uint32_t counts[4];
    zkv_kv_shards_counts (s_kv (&w, 1), counts);
    CHECK_EQ_U64 (counts[ZKV_SHARD_SERVING], S_NSHARDS);
    s_fill (&w);
    s_check_all (&w);
    // Group 2 joins: configuration 2 gives it half the shards, pulled in 64-byte chunks.
    s_join (&w, 1, 2);
    CHECK (s_until_settled (&w, 2, 2, 2000));
    CHECK (s_until_settled (&w, 1, 2, 2000));
    zkv_kv_shards_counts (s_kv (&w, 2), counts);
    CHECK_EQ_U64 (counts[ZKV_SHARD_SERVING], S_NSHARDS / 2);
    zkv_kv_shards_counts (s_kv (&w, 1), counts);
    CHECK_EQ_U64 (counts[ZKV_SHARD_SERVING], S_NSHARDS / 2);
    CHECK_EQ_U64 (counts[ZKV_SHARD_NONE], S_NSHARDS / 2);
    s_check_all (&w);
    // Many chunks per shard were installed, each once.
    uint64_t chunks = 0;
    for (uint32_t s = 0; s < S_NSHARDS; s++) {
        const zkv_shard_meta_t *m = zkv_kv_shards_meta (s_kv (&w, 2), s);
        (void)m;
        const zkv_routing_t *cur = zkv_kv_shards_config (s_kv (&w, 2));
        if (cur->shard_group[s] == 2) {
            CHECK_EQ_U64 (s_shard_items (&w, 1, s), 0); // deleted from the old owner
            CHECK (s_shard_items (&w, 2, s) > 0);
        }
    }
    zkv_mover_counters_t mc;
    zkv_mover_counters (zkv_kv_sm_mover (w.groups[2].sm), &mc);
    chunks = mc.chunks;
    CHECK (chunks > 20);
    CHECK (w.events > 0);
    // Dedup records moved with their shards: client 7's last append (seq 396, key-195) is a
    // duplicate at its new owner, which answers it without applying it again.
    const char *key = "key-195";
    int owner = zkv_kv_shards_config (s_kv (&w, 2))->shard_group[s_shard (key)] == 2 ? 2 : 1;
    CHECK_EQ_U64 (s_put (&w, owner, 7, 396, ZKV_OP_APPEND, key, "[195:1]"), 1);
    CHECK_EQ_U64 (s_put (&w, 3 - owner, 7, 396, ZKV_OP_APPEND, key, "[195:1]"), ZKV_EWRONGGROUP);
    s_check_all (&w);
    s_world_free (&w);
}

static void
test_moves_back_and_forth_bounded (void)
{
    s_world_t w;
    s_world_init (&w);
    CHECK (s_until_settled (&w, 1, 1, 50));
    s_fill (&w);
    s_join (&w, 1, 2);
    uint64_t num = 2;
    CHECK (s_until_settled (&w, 2, num, 2000));
    size_t bytes1 = zkv_kvstore_mem_bytes (w.groups[1].store);
    size_t bytes2 = zkv_kvstore_mem_bytes (w.groups[2].store);
    // Shard by shard to the other group and back, 3 times: storage does not grow.
    uint64_t seq = 1;
    for (int round = 0; round < 3; round++)
        for (uint32_t s = 0; s < S_NSHARDS; s++) {
            const zkv_routing_t *cur = zkv_kv_shards_config (s_kv (&w, 1));
            uint64_t to = cur->shard_group[s] == 1 ? 2 : 1;
            s_move (&w, ++seq, s, to);
            num++;
            CHECK (s_until_settled (&w, 1, num, 2000));
            CHECK (s_until_settled (&w, 2, num, 2000));
            s_check_all (&w);
        }
    // Both groups are back where they were after the join (3 round trips is odd: every shard
    // is now on the other side), so total storage is as before, up to the meta records.
    size_t after = zkv_kvstore_mem_bytes (w.groups[1].store) + zkv_kvstore_mem_bytes (w.groups[2].store);
    CHECK (after < (bytes1 + bytes2) * 12 / 10);
    s_world_free (&w);
}

static void
test_restart_and_snapshot_mid_pull (void)
{
    s_world_t w;
    s_world_init (&w);
    CHECK (s_until_settled (&w, 1, 1, 50));
    s_fill (&w);
    s_join (&w, 1, 2);
    // Until group 2 is in configuration 2 with chunks installed but not all.
    bool mid = false;
    for (int i = 0; i < 2000 && !mid; i++) {
        s_round (&w);
        if (s_num (&w, 2) == 2) {
            for (uint32_t s = 0; s < S_NSHARDS; s++) {
                const zkv_shard_meta_t *m = zkv_kv_shards_meta (s_kv (&w, 2), s);
                if (m->state == ZKV_SHARD_PULLING && m->chunks > 2)
                    mid = true;
            }
        }
    }
    CHECK (mid);
    // A blob snapshot of group 2 now, restored into a fresh store: the same migration state.
    uint8_t *blob = NULL;
    size_t len = 0;
    s_group_t *g2 = &w.groups[2];
    CHECK_EQ_U64 (g2->sm->ops->blob_write (g2->sm->impl, &blob, &len), 0);
    uint32_t before[4], after[4];
    zkv_kv_shards_counts (s_kv (&w, 2), before);
    zkv_sm_destroy (&g2->sm);
    zkv_kvstore_destroy (&g2->store);
    g2->store = zkv_kvstore_mem_new ();
    s_open (&w, 2);
    CHECK_EQ_U64 (s_num (&w, 2), 0);
    CHECK_EQ_U64 (g2->sm->ops->blob_restore (g2->sm->impl, g2->index, blob, len), ZKV_ECORRUPT);
    uint64_t applied = 0;
    {
        // The blob's applied index: restore at it.
        zkv_msg_t h;
        size_t used = 0;
        CHECK_EQ_U64 (zkv_msg_decode_prefix (blob, len, &h, &used), 0);
        applied = h.u.kv_snap_header.applied;
        zkv_msg_free (&h);
    }
    CHECK_EQ_U64 (g2->sm->ops->blob_restore (g2->sm->impl, applied, blob, len), 0);
    g2->index = applied;
    free (blob);
    CHECK_EQ_U64 (s_num (&w, 2), 2);
    zkv_kv_shards_counts (s_kv (&w, 2), after);
    CHECK (memcmp (before, after, sizeof before) == 0);
    // The pull resumes where the snapshot's progress stands and finishes.
    CHECK (s_until_settled (&w, 2, 2, 2000));
    CHECK (s_until_settled (&w, 1, 2, 2000));
    s_check_all (&w);
    // A restart of group 1 over its store keeps its configuration and shards.
    s_group_t *g1 = &w.groups[1];
    zkv_kv_shards_counts (s_kv (&w, 1), before);
    zkv_sm_destroy (&g1->sm);
    s_open (&w, 1);
    CHECK_EQ_U64 (s_num (&w, 1), 2);
    zkv_kv_shards_counts (s_kv (&w, 1), after);
    CHECK (memcmp (before, after, sizeof before) == 0);
    s_check_all (&w);
    s_world_free (&w);
}

static void
test_dead_new_owner_blocks_only_moving_shards (void)
{
    s_world_t w;
    s_world_init (&w);
    CHECK (s_until_settled (&w, 1, 1, 50));
    s_fill (&w);
    w.groups[2].down = true;
    s_join (&w, 1, 2);
    for (int i = 0; i < 200; i++)
        s_round (&w);
    // Group 1 handed half its shards off and keeps them for group 2, which never comes: it
    // stays in configuration 2, serving the shards it kept.
    CHECK_EQ_U64 (s_num (&w, 1), 2);
    uint32_t counts[4];
    zkv_kv_shards_counts (s_kv (&w, 1), counts);
    CHECK_EQ_U64 (counts[ZKV_SHARD_HANDOFF], S_NSHARDS / 2);
    CHECK_EQ_U64 (counts[ZKV_SHARD_SERVING], S_NSHARDS / 2);
    char key[32], got[128];
    int served = 0;
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "key-%03d", i);
        served += s_get (&w, 1, key, got, sizeof got) == 0;
    }
    CHECK (served > 0 && served < 200);
    // The next configuration cannot start while shards are handed off: refused as stale.
    zkv_routing_t *next = zkv_routing_dup (zkv_kv_shards_config (s_kv (&w, 1)));
    next->num = 3;
    zkv_bytes_t enc = {0};
    CHECK_EQ_U64 (zkv_routing_encode (next, &enc), 0);
    zkv_routing_destroy (&next);
    uint8_t *cmd = NULL;
    size_t len = 0;
    CHECK_EQ_U64 (zkv_kv_shards_cmd (ZKV_OP_CONFIG, NULL, 0, enc.data, enc.len, &cmd, &len), 0);
    zkv_bytes_free (&enc);
    s_group_t *g1 = &w.groups[1];
    zkv_entry_t e = {.term = 1, .index = ++g1->index, .type = ZKV_ENTRY_NORMAL, .data = {cmd, len}};
    zkv_sm_results_t res = {0};
    CHECK_EQ_U64 (g1->sm->ops->apply (g1->sm->impl, &e, 1, &res), 0);
    free (cmd);
    CHECK_EQ_U64 (res.items[0].answer.status, ZKV_ESTALE);
    zkv_sm_results_free (&res);
    CHECK_EQ_U64 (s_num (&w, 1), 2);
    // It comes back: the move completes.
    w.groups[2].down = false;
    CHECK (s_until_settled (&w, 2, 2, 2000));
    CHECK (s_until_settled (&w, 1, 2, 2000));
    s_check_all (&w);
    s_world_free (&w);
}

// A rate limit spreads a move over ticks: no faster than the rate on average.
static void
test_rate_limited_pull (void)
{
    s_world_t w;
    s_world_init (&w);
    w.mover.rate_per_tick = 200;
    // Reopen the shard groups with the limit.
    for (int g = 1; g < S_GROUPS; g++) {
        zkv_sm_destroy (&w.groups[g].sm);
        s_open (&w, g);
    }
    CHECK (s_until_settled (&w, 1, 1, 50));
    s_fill (&w);
    s_join (&w, 1, 2);
    int rounds = 0;
    while (rounds < 5000 && !(s_num (&w, 2) == 2 && zkv_kv_shards_settled (s_kv (&w, 2)))) {
        s_round (&w);
        rounds++;
    }
    CHECK (rounds < 5000);
    uint64_t bytes = 0;
    for (uint32_t s = 0; s < S_NSHARDS; s++)
        bytes += zkv_kv_shards_meta (s_kv (&w, 2), s)->bytes;
    CHECK (bytes > 2000);
    // One chunk may go ahead of the budget; the rest at 200 bytes a tick.
    CHECK ((uint64_t)rounds * 200 + 64 * 4 >= bytes);
    s_check_all (&w);
    s_world_free (&w);
}

// Chunks applied twice, out of place, of another configuration or malformed install nothing.
static void
test_stale_and_hostile_chunks (void)
{
    s_world_t w;
    s_world_init (&w);
    CHECK (s_until_settled (&w, 1, 1, 50));
    s_fill (&w);
    s_join (&w, 1, 2);
    // Let group 2 start configuration 2, and capture its first chunk proposal.
    zkv_bytes_t first = {0};
    for (int i = 0; i < 200 && !first.len; i++) {
        s_group_t *g2 = &w.groups[2];
        zkv_sm_io_t io = s_io (g2);
        g2->sm->ops->work (g2->sm->impl, &io, true, 1, true);
        for (int g = 1; g < S_GROUPS; g++) {
            s_group_t *gr = &w.groups[g];
            zkv_sm_io_t gio = s_io (gr);
            gr->sm->ops->work (gr->sm->impl, &gio, true, 1, true);
        }
        while (w.n_calls) {
            s_call_t c = w.calls[--w.n_calls];
            s_deliver (&w, &c);
            zkv_bytes_free (&c.key);
        }
        for (size_t k = 0; k < g2->n_log && !first.len; k++) {
            zkv_msg_t m;
            if (zkv_msg_decode (g2->log[k].data, g2->log[k].len, &m) == 0 &&
                m.u.kv_command.op == ZKV_OP_CHUNK)
                zkv_bytes_set (&first, g2->log[k].data, g2->log[k].len);
            zkv_msg_free (&m);
        }
        s_commit (&w, 1);
        s_commit (&w, 2);
    }
    CHECK (first.len > 0);
    // The same chunk again, after it was installed: stale, nothing changes.
    s_group_t *g2 = &w.groups[2];
    uint32_t before[4], after[4];
    zkv_kv_shards_counts (s_kv (&w, 2), before);
    uint64_t chunks[S_NSHARDS];
    for (uint32_t s = 0; s < S_NSHARDS; s++)
        chunks[s] = zkv_kv_shards_meta (s_kv (&w, 2), s)->chunks;
    zkv_entry_t e = {.term = 1, .index = ++g2->index, .type = ZKV_ENTRY_NORMAL, .data = first};
    zkv_sm_results_t res = {0};
    CHECK_EQ_U64 (g2->sm->ops->apply (g2->sm->impl, &e, 1, &res), 0);
    CHECK_EQ_U64 (res.items[0].answer.status, ZKV_ESTALE);
    zkv_sm_results_free (&res);
    for (uint32_t s = 0; s < S_NSHARDS; s++)
        CHECK_EQ_U64 (zkv_kv_shards_meta (s_kv (&w, 2), s)->chunks, chunks[s]);
    // Garbage as a chunk, a config and a deletion: refused, nothing changes, no crash.
    const uint8_t junk[] = {0x93, 0x01, 0x02, 0x03};
    uint64_t ops[] = {ZKV_OP_CHUNK, ZKV_OP_CONFIG, ZKV_OP_GC};
    for (int i = 0; i < 3; i++) {
        uint8_t *cmd = NULL;
        size_t len = 0;
        CHECK_EQ_U64 (zkv_kv_shards_cmd (ops[i], junk, sizeof junk, junk, sizeof junk, &cmd, &len), 0);
        e = (zkv_entry_t){.term = 1, .index = ++g2->index, .type = ZKV_ENTRY_NORMAL,
                          .data = {cmd, len}};
        res = (zkv_sm_results_t){0};
        CHECK_EQ_U64 (g2->sm->ops->apply (g2->sm->impl, &e, 1, &res), 0);
        CHECK (res.items[0].answer.status != 0);
        zkv_sm_results_free (&res);
        free (cmd);
    }
    zkv_kv_shards_counts (s_kv (&w, 2), after);
    CHECK (memcmp (before, after, sizeof before) == 0);
    // A client cannot log the mover's commands.
    zkv_sm_request_t q = {.client_id = 5, .seq = 1, .op = ZKV_OP_GC, .key = junk,
                          .key_len = sizeof junk};
    uint8_t *cmd = NULL;
    size_t len = 0;
    zkv_sm_answer_t a = {0};
    CHECK_EQ_U64 (g2->sm->ops->prepare (g2->sm->impl, &q, &cmd, &len, &a), ZKV_SM_ANSWERED);
    CHECK_EQ_U64 (a.status, ZKV_EINVAL);
    zkv_sm_answer_free (&a);
    // A pull for a shard group 1 does not hand off: stale; one of the future: not ready.
    zkv_msg_t pm = {.type = ZKV_MSG_SHARD_PULL};
    pm.u.shard_pull = (zkv_shard_pull_t){.num = 99, .shard = 0, .max_bytes = 10};
    zkv_bytes_t out = {0};
    CHECK_EQ_U64 (zkv_kv_shards_pull (s_kv (&w, 1), &pm.u.shard_pull, 10, &out), ZKV_ENOTREADY);
    pm.u.shard_pull.num = 1;
    CHECK_EQ_U64 (zkv_kv_shards_pull (s_kv (&w, 1), &pm.u.shard_pull, 10, &out), ZKV_ESTALE);
    zkv_bytes_free (&first);
    CHECK (s_until_settled (&w, 2, 2, 2000));
    s_check_all (&w);
    s_world_free (&w);
}

ZKV_TEST_MAIN (TEST (test_join_moves_half_and_deletes) TEST (test_moves_back_and_forth_bounded)
                   TEST (test_restart_and_snapshot_mid_pull)
                       TEST (test_dead_new_owner_blocks_only_moving_shards)
                           TEST (test_stale_and_hostile_chunks) TEST (test_rate_limited_pull))
