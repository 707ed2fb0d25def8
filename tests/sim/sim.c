// The simulated world: event queue, simulated time, nodes (replicas of every group, run by the
// group driver zkvd runs, over a memstore; a frontend in KV mode), faults and restarts.
#include "sim_kv_int.h"
#include "zkv_alloc.h"
#include "zkv_kvstores.h"
#include "zkv_memstore.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void *
sim_grow (void *p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < want)
        ncap *= 2;
    p = realloc (p, ncap * elem);
    if (!p)
        abort (); // out of memory aborts (STYLE.md)
    memset ((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *cap = ncap;
    return p;
}

void
sim_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t
sim_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void
sim_config_defaults (sim_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->n_nodes = 3;
    cfg->n_groups = 1;
    cfg->tick_us = 10 * SIM_MS;
    cfg->election_ticks = 30;
    cfg->heartbeat_ticks = 10;
    // The lab's reliable network answers in well under a millisecond; its unreliable one
    // drops 10% and delays up to 27 ms; long reordering delays 2/3 of replies 200+ ms.
    cfg->net.delay_min_us = 100;
    cfg->net.delay_max_us = 1000;
    cfg->net.unrel_drop_pm = 100;
    cfg->net.unrel_dup_pm = 50;
    cfg->net.unrel_delay_max_us = 27 * SIM_MS;
    cfg->net.long_pm = 666;
    cfg->net.long_min_us = 200 * SIM_MS;
    cfg->net.long_max_us = 2200 * SIM_MS;
}

// --- event queue: a binary min-heap on (at, seq) ---------------------------------------------

static bool
s_before (const sim_event_t *a, const sim_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

void
sim_push (sim_t *self, const sim_event_t *ev)
{
    self->heap = sim_grow (self->heap, &self->heap_cap, self->heap_len + 1, sizeof *self->heap);
    size_t i = self->heap_len++;
    self->heap[i] = *ev;
    self->heap[i].seq = self->seq++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (&self->heap[i], &self->heap[parent]))
            break;
        sim_event_t tmp = self->heap[i];
        self->heap[i] = self->heap[parent];
        self->heap[parent] = tmp;
        i = parent;
    }
}

static sim_event_t
s_pop (sim_t *self)
{
    assert (self->heap_len > 0);
    sim_event_t top = self->heap[0];
    self->heap[0] = self->heap[--self->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->heap_len && s_before (&self->heap[l], &self->heap[m]))
            m = l;
        if (r < self->heap_len && s_before (&self->heap[r], &self->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_event_t tmp = self->heap[i];
        self->heap[i] = self->heap[m];
        self->heap[m] = tmp;
        i = m;
    }
    return top;
}


// --- the replicas' host: what the driver asks the world to do ---------------------------------

// Enters a replica's group for a callback; returns the group to restore.
static int
s_enter (sim_ctx_t *ctx)
{
    int saved = ctx->sim->g;
    ctx->sim->g = ctx->g;
    return saved;
}

static void
h_send (void *arg, const zkv_msg_t *msg)
{
    sim_ctx_t *ctx = arg;
    sim_t *self = ctx->sim;
    int saved = s_enter (ctx);
    sim_check_send (self, ctx->node, msg);
    sim_net_send (self, ctx->node, -1, msg);
    self->g = saved;
}

static uint64_t
s_disk_delay (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    if (n->disk_set)
        return n->disk_us;
    if (self->cfg.disk_delay_max_us)
        return zkv_rng_below (&self->rng, self->cfg.disk_delay_max_us + 1);
    return 0;
}

static int
h_sync (void *arg)
{
    sim_ctx_t *ctx = arg;
    sim_t *self = ctx->sim;
    sim_node_t *n = &self->nodes[ctx->node];
    if (n->crash_mid_write) {
        // The crash comes before this sync completes (sim_drive carries it out once the driver
        // returns): the writes were made, nothing after them happens.
        n->crash_now = true;
        return ZKV_REPLICA_SYNC_LATER;
    }
    uint64_t delay = s_disk_delay (self, ctx->node);
    if (delay) {
        // A slow disk: the sync completes later; meanwhile the node keeps taking messages
        // and ticks (the driver hands out no new ready until then).
        n->reps[ctx->g].syncing = true;
        sim_event_t ev = {.at = self->now + delay,
                          .kind = SIM_EV_SYNC,
                          .node = ctx->node,
                          .group = ctx->g,
                          .incarnation = n->incarnation};
        sim_push (self, &ev);
        return ZKV_REPLICA_SYNC_LATER;
    }
    int saved = s_enter (ctx);
    int rc = zkv_logstore_sync (n->wrap);
    self->g = saved;
    return rc;
}

static void
h_reply (void *arg, const zkv_msg_t *reply)
{
    sim_ctx_t *ctx = arg;
    sim_t *self = ctx->sim;
    uint64_t handle = reply->u.group_reply.handle;
    if (handle & SIM_RAW_HANDLE) {
        // The simulator's own requests: reads are checked, raw writes need no answer.
        uint64_t id = handle & ~SIM_RAW_HANDLE;
        if (id) {
            int saved = s_enter (ctx);
            sim_read_answered (self, ctx->node, id, &reply->u.group_reply);
            self->g = saved;
        }
        return;
    }
    sim_local_send (self, ctx->node, ctx->g, reply);
}

static void
h_state (void *arg, const zkv_msg_t *state)
{
    sim_ctx_t *ctx = arg;
    if (ctx->sim->kv)
        sim_local_send (ctx->sim, ctx->node, ctx->g, state);
}

static void
h_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    sim_ctx_t *ctx = arg;
    sim_t *self = ctx->sim;
    const zkv_event_raft_t *e = &body->u.event_raft;
    if (strcmp (topic, "zkv.raft.snapshot.taken") == 0) {
        self->counters.snapshots++;
        self->nodes[ctx->node].reps[ctx->g].last_snap = e->index;
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_SNAPSHOT,
                                            .node = (uint8_t)ctx->node,
                                            .a = e->index,
                                            .b = e->term});
        // Every node snapshots; telling the leader's is enough for a person to follow.
        if (e->role == ZKV_ROLE_LEADER)
            sim_narrate (self,
                         "node %d (leader) took a snapshot at index %" PRIu64
                         " (followers snapshot on their own)",
                         ctx->node + 1, e->index);
    } else if (strcmp (topic, "zkv.raft.snapshot.installed") == 0) {
        self->counters.snapshots_installed++;
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_INSTALL,
                                            .node = (uint8_t)ctx->node,
                                            .a = e->index,
                                            .b = e->term});
        sim_narrate (self, "node %d installed a snapshot at index %" PRIu64 " (term %" PRIu64 ")",
                     ctx->node + 1, e->index, e->term);
    } else if (body->type == ZKV_MSG_EVENT_SHARD) {
        self->counters.shard_events++;
        const zkv_event_shard_t *sh = &body->u.event_shard;
        sim_note (self, topic + 10, ctx->node, sh->config, sh->shard); // past "zkv.shard."
        sim_narrate (self, "group %" PRIu64 ": %s (configuration %" PRIu64 ", shard %" PRIu64 ")",
                     sh->group, topic, sh->config, sh->shard);
    } else if (strcmp (topic, "zkv.raft.snapshot.rejected") == 0) {
        self->counters.streams_refused++;
        sim_note (self, "stream-refused", ctx->node, e->index, e->bytes);
    }
}

static void
h_fatal (void *arg, const char *what, int rc)
{
    sim_ctx_t *ctx = arg;
    // No store of the simulator fails on its own: a failure is a bug (a write the store's
    // shape rules refuse, a state machine that cannot apply).
    s_enter (ctx);
    sim_fail (ctx->sim, "node %d group %" PRIu64 ": %s failed: %s", ctx->node,
              SIM_GROUP_ID (ctx->sim, ctx->g), what, zkv_errname (rc));
}

// A state machine's call to another group: to the node's frontend, as zkvd's group actor does.
static void
h_call (void *arg, const zkv_msg_t *call)
{
    sim_ctx_t *ctx = arg;
    ctx->sim->counters.shard_calls++;
    sim_local_send (ctx->sim, ctx->node, ctx->g, call);
}

static void
h_config (void *arg, uint64_t group, const uint8_t *config, size_t len)
{
    sim_ctx_t *ctx = arg;
    zkv_msg_t m = {.type = ZKV_MSG_GROUP_CONFIG};
    m.u.group_config.group = group;
    m.u.group_config.config = (zkv_bytes_t){(uint8_t *)config, len};
    sim_local_send (ctx->sim, ctx->node, ctx->g, &m);
}

// The node's wall clock (sim_config_t.log_clock_x): what its leaders stamp on commands.
uint64_t
sim_wall_ms (sim_t *self, int node)
{
    uint64_t x = self->cfg.log_clock_x ? self->cfg.log_clock_x : 1;
    return SIM_EPOCH_MS + self->nodes[node].skew_ms + self->now / SIM_MS * x;
}

static uint64_t
h_now_ms (void *arg)
{
    sim_ctx_t *ctx = arg;
    return sim_wall_ms (ctx->sim, ctx->node);
}

static const zkv_replica_host_t s_host = {
    .send = h_send,
    .sync = h_sync,
    .reply = h_reply,
    .state = h_state,
    .event = h_event,
    .fatal = h_fatal,
    .call = h_call,
    .config = h_config,
    .now_ms = h_now_ms,
};

// --- nodes -----------------------------------------------------------------------------------

static void
s_rep_config (sim_t *self, int node, int g, zkv_replica_config_t *rc, uint64_t *voters)
{
    sim_node_t *n = &self->nodes[node];
    zkv_replica_config_defaults (rc);
    for (int i = 0; i < self->cfg.n_nodes; i++)
        voters[i] = (uint64_t)i + 1;
    zkv_raft_config_t *c = &rc->raft;
    c->group = SIM_GROUP_ID (self, g);
    c->id = (uint64_t)node + 1;
    c->voters = voters;
    c->n_voters = (size_t)self->cfg.n_nodes;
    c->election_ticks = self->cfg.election_ticks;
    c->heartbeat_ticks = self->cfg.heartbeat_ticks;
    c->pre_vote = !self->cfg.no_pre_vote;
    c->check_quorum = !self->cfg.no_check_quorum;
    if (self->cfg.max_entries_per_msg)
        c->max_entries_per_msg = self->cfg.max_entries_per_msg;
    if (self->cfg.max_bytes_per_msg)
        c->max_bytes_per_msg = self->cfg.max_bytes_per_msg;
    if (self->cfg.max_inflight_msgs)
        c->max_inflight_msgs = self->cfg.max_inflight_msgs;
    if (self->cfg.snapshot_chunk_bytes)
        c->snapshot_chunk_bytes = self->cfg.snapshot_chunk_bytes;
    if (self->cfg.max_apply_bytes)
        c->max_apply_bytes = self->cfg.max_apply_bytes;
    c->max_uncommitted_bytes = self->cfg.max_uncommitted_bytes;
    c->send_before_persist = !self->cfg.persist_before_send;
    c->snapshot_stream = self->cfg.stream;
    c->seed = self->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)node * 1000003 +
              n->incarnation * 7919 + (uint64_t)g * 104729;
    rc->tick_ms = (uint32_t)(self->cfg.tick_us / SIM_MS);
    // Snapshots every K applied entries, or (KV) once the log holds maxraftstate bytes with
    // the stored framing of its entries (the lab's RaftStateSize); never paused.
    rc->snapshot_entries = self->cfg.snapshot_every;
    rc->snapshot_bytes = self->cfg.kv ? self->cfg.maxraftstate : 0;
    rc->snapshot_entry_bytes = SIM_ENTRY_OVERHEAD;
    rc->snapshot_pause_ms = 0;
    if (self->cfg.view_idle_ms)
        rc->view_idle_ms = self->cfg.view_idle_ms;
}

static void s_schedule_tick (sim_t *self, int node, uint64_t at);

// Starts node's frontend and replicas from what its stores hold.
static void
s_start (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    int saved = self->g;
    n->up = true;
    if (self->kv)
        sim_kv_start_front (self, node);
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        sim_rep_t *r = R (self, node);
        r->ctx = (sim_ctx_t){.sim = self, .node = node, .g = g};
        r->syncing = false;
        r->applied = r->chain = r->base = r->last_snap = 0;
        uint64_t voters[SIM_MAX_NODES];
        zkv_replica_config_t rc;
        s_rep_config (self, node, g, &rc, voters);
        int err = 0;
        r->rep = zkv_replica_new (&rc, n->wrap, sim_sm_new (self, node, g), &s_host, &r->ctx, &err);
        if (!r->rep)
            sim_violation (self, "durability",
                           "node %d group %" PRIu64 ": the driver refused its durable state: %s",
                           node, SIM_GROUP_ID (self, g), zkv_errname (err));
        r->role = ZKV_ROLE_FOLLOWER;
        r->term = 0;
        r->seen_commit = 0;
        zkv_raft_status_t st;
        zkv_raft_status (zkv_replica_raft (r->rep), &st);
        r->seen_applied = st.applied;
    }
    n->forget_log = false;
    self->g = saved;
    // Every node ticks every tick_us, with its own phase.
    s_schedule_tick (self, node, self->now + 1 + zkv_rng_below (&self->rng, self->cfg.tick_us));
}

sim_t *
sim_new (const sim_config_t *cfg)
{
    assert (cfg->n_nodes >= 1 && cfg->n_nodes <= SIM_MAX_NODES);
    assert (cfg->n_groups >= 0 && cfg->n_groups <= SIM_MAX_GROUPS);
    assert (cfg->tick_us > 0);
    sim_t *self = zkv_calloc (1, sizeof *self);
    self->cfg = *cfg;
    if (self->cfg.n_groups == 0)
        self->cfg.n_groups = 1;
    zkv_rng_seed (&self->rng, cfg->seed);
    self->trace_hash = 0xcbf29ce484222325ULL;
    self->unreliable = cfg->unreliable;
    if (cfg->kv)
        sim_kv_init (self);
    for (int i = 0; i < cfg->n_nodes; i++) {
        sim_node_t *n = &self->nodes[i];
        n->store = zkv_memstore_new ();
        n->wrap = sim_store_new (self, i, n->store);
        n->connected = true;
        n->incarnation = 1;
        if (cfg->kv)
            n->kvstore = zkv_kvstore_mem_new ();
        // Drawn only when asked for: worlds without skew keep their random draws as they were.
        if (cfg->clock_skew_ms)
            n->skew_ms = zkv_rng_below (&self->rng, cfg->clock_skew_ms + 1);
    }
    for (int i = 0; i < cfg->n_nodes; i++)
        s_start (self, i);
    return self;
}

// Stops node's frontend and replicas (their volatile state goes).
static void
s_stop (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    int saved = self->g;
    if (n->front)
        zkv_front_destroy (&n->front);
    for (int g = 0; g < SIM_MAX_GROUPS; g++) {
        self->g = g;
        sim_rep_t *r = &n->reps[g];
        if (r->rep) // its counters go with it: the world keeps them
            sim_sm_sessions_add (zkv_replica_sm (r->rep), &self->counters);
        zkv_replica_destroy (&r->rep);
        r->syncing = false;
        r->pend_hs = false;
        r->pend_trunc = r->pend_last = r->pend_snap = 0;
        r->applied = r->chain = r->base = r->last_snap = 0;
    }
    self->g = saved;
    n->up = false;
}

void
sim_destroy (sim_t **self_p)
{
    sim_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->cfg.n_nodes; i++) {
        s_stop (self, i);
        sim_node_t *n = &self->nodes[i];
        zkv_logstore_destroy (&n->wrap);
        zkv_logstore_destroy (&n->store);
        zkv_kvstore_destroy (&n->kvstore);
        for (int g = 0; g < SIM_MAX_GROUPS; g++) {
            self->g = g;
            free (n->reps[g].hashes);
            sim_stream_free (self, i);
        }
    }
    for (size_t i = 0; i < self->heap_len; i++)
        free (self->heap[i].buf);
    free (self->heap);
    zkv_logstore_state_free (&self->loaded);
    sim_read_free (self);
    sim_kv_free (self);
    sim_check_free (self);
    free (self);
    *self_p = NULL;
}

// --- the state machine's hash ----------------------------------------------------------------

uint64_t
sim_entry_hash (uint8_t type, const void *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ type) * 0x100000001b3ULL;
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

// --- running a node --------------------------------------------------------------------------

static void s_do_crash (sim_t *self, int node, bool torn, bool mid_write);

void
sim_drive (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self) && n->up; g++) {
        self->g = g;
        sim_rep_t *r = R (self, node);
        if (r->rep && !r->syncing)
            zkv_replica_run (r->rep);
        if (n->crash_now) {
            s_do_crash (self, node, n->crash_torn, true);
            break;
        }
    }
    self->g = saved;
    if (n->up)
        sim_check_node (self, node);
}

void
sim_local_send (sim_t *self, int node, int g, const zkv_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (msg, &buf, &len);
    if (rc != 0)
        sim_fail (self, "node %d: an actor command (%s) does not encode: %s", node,
                  zkv_msg_name (msg->type), zkv_errname (rc));
    // Inproc queues deliver in order, at once (the same instant, after the current event).
    sim_event_t ev = {.at = self->now,
                      .kind = SIM_EV_LOCAL,
                      .node = node,
                      .group = g,
                      .incarnation = self->nodes[node].incarnation,
                      .buf = buf,
                      .len = len};
    sim_push (self, &ev);
}

static void
s_local_deliver (sim_t *self, sim_event_t *ev)
{
    sim_node_t *n = &self->nodes[ev->node];
    zkv_msg_t m;
    int rc = zkv_msg_decode (ev->buf, ev->len, &m);
    free (ev->buf);
    ev->buf = NULL;
    if (rc != 0)
        sim_fail (self, "node %d: an actor command does not decode: %s", ev->node,
                  zkv_errname (rc));
    if (self->group_cut[ev->group] &&
        (m.type == ZKV_MSG_GROUP_REQUEST || m.type == ZKV_MSG_GROUP_CALL_REPLY ||
         m.type == ZKV_MSG_GROUP_CALL || m.type == ZKV_MSG_GROUP_REPLY)) {
        zkv_msg_free (&m); // the group is down (sim_shard_group_down): nothing reaches it
        return;
    }
    if (n->up && n->incarnation == ev->incarnation) {
        int saved = self->g;
        self->g = ev->group;
        sim_rep_t *r = R (self, ev->node);
        if (m.type == ZKV_MSG_GROUP_REQUEST && r->rep) {
            zkv_replica_request (r->rep, &m.u.group_request, NULL, NULL);
            self->g = saved;
            sim_drive (self, ev->node);
        } else if (m.type == ZKV_MSG_GROUP_CALL_REPLY && r->rep) {
            zkv_replica_call_reply (r->rep, &m.u.group_call_reply);
            self->g = saved;
            sim_drive (self, ev->node);
        } else if (m.type == ZKV_MSG_GROUP_CALL && n->front)
            zkv_front_call (n->front, &m.u.group_call, self->now / SIM_MS);
        else if (m.type == ZKV_MSG_GROUP_CONFIG && n->front)
            zkv_front_group_config (n->front, m.u.group_config.config.data,
                                    m.u.group_config.config.len);
        else if (m.type == ZKV_MSG_GROUP_REPLY && n->front)
            zkv_front_group_reply (n->front, &m.u.group_reply);
        else if (m.type == ZKV_MSG_GROUP_STATE && n->front)
            zkv_front_group_state (n->front, &m.u.group_state);
        self->g = saved;
    }
    zkv_msg_free (&m);
}

// --- faults ----------------------------------------------------------------------------------

static void
s_do_crash (sim_t *self, int node, bool torn, bool mid_write)
{
    sim_node_t *n = &self->nodes[node];
    sim_read_crash (self, node);
    // Streaming: an unsynced chunk was written before its ready's other writes; unless each
    // landed whole, none of the unsynced writes did.
    bool landed = true;
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        if (self->cfg.stream && !sim_stream_crash (self, node, torn))
            landed = false;
    }
    self->g = saved;
    s_stop (self, node);
    if (n->kvstore)
        zkv_kvstore_mem_crash (n->kvstore); // committed batches survive, nothing else
    zkv_memstore_crash (n->store, torn && landed, zkv_rng_next (&self->rng));
    n->crash_mid_write = n->crash_now = false;
    self->counters.crashes++;
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_CRASH, .node = (uint8_t)node, .a = torn, .b = mid_write});
    sim_narrate (self, "node %d crashed%s%s", node + 1,
                 mid_write ? " in the middle of a write" : "", torn ? " (torn write)" : "");
    sim_check_crash (self, node); // nothing committed was lost
}

void
sim_crash (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    if (self->nodes[node].up)
        s_do_crash (self, node, torn, false);
}

void
sim_crash_mid_write (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].crash_mid_write = true;
    self->nodes[node].crash_torn = torn;
}

void
sim_cancel_mid_write (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].crash_mid_write = false;
    for (int g = 0; g < SIM_MAX_GROUPS; g++)
        self->nodes[node].reps[g].app.crash_at_install = false;
}

void
sim_restart (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    sim_node_t *n = &self->nodes[node];
    if (n->up)
        return;
    // Synced state never goes back: the term and vote the simulator saw persisted must load.
    // Loaded into the world, not the stack: a failure below leaves through longjmp, and
    // sim_destroy still frees it.
    zkv_logstore_state_t *ls = &self->loaded;
    uint64_t t0 = 0, s0 = 0, l0 = 0;
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        sim_rep_t *r = R (self, node);
        zkv_logstore_state_free (ls);
        int rc = zkv_logstore_load (n->store, SIM_GROUP_ID (self, g), ls);
        if (rc != 0)
            sim_violation (self, "durability", "node %d: memstore load failed: %s", node,
                           zkv_errname (rc));
        const zkv_hard_state_t *hs = &ls->hard_state;
        if (hs->term < r->durable_term ||
            (hs->term == r->durable_term && r->durable_vote && hs->vote != r->durable_vote))
            sim_violation (self, "durability",
                           "node %d reloads term %" PRIu64 " vote %" PRIu64 " but term %" PRIu64
                           " vote %" PRIu64 " was synced",
                           node, hs->term, hs->vote, r->durable_term, r->durable_vote);
        r->durable_term = hs->term;
        r->durable_vote = hs->vote;
        r->durable_last =
            ls->n_entries ? ls->entries[ls->n_entries - 1].index : ls->snapshot.index;
        if (g == 0) {
            t0 = hs->term;
            s0 = ls->snapshot.index;
            l0 = r->durable_last;
        }
        zkv_logstore_state_free (ls);
    }
    self->g = saved;
    n->incarnation++;
    n->forget_log = self->cfg.sabotage == SIM_SABOTAGE_FORGET_LOG;
    s_start (self, node);
    self->counters.restarts++;
    sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_RESTART,
                                        .node = (uint8_t)node,
                                        .a = n->incarnation,
                                        .b = t0,
                                        .c = s0,
                                        .d = l0});
    sim_narrate (self,
                 "node %d restarted (term %" PRIu64 ", snapshot %" PRIu64 ", last index %" PRIu64
                 ")",
                 node + 1, t0, s0, l0);
    sim_drive (self, node);
}

// --- running ---------------------------------------------------------------------------------

static void
s_schedule_tick (sim_t *self, int node, uint64_t at)
{
    sim_event_t ev = {
        .at = at, .kind = SIM_EV_TICK, .node = node, .incarnation = self->nodes[node].incarnation};
    sim_push (self, &ev);
}

static void
s_tick (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    s_schedule_tick (self, node, self->now + self->cfg.tick_us);
    int saved = self->g;
    bool work = false;
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        sim_rep_t *r = R (self, node);
        zkv_replica_tick (r->rep);
        work = work || zkv_raft_has_ready ((zkv_raft_t *)zkv_replica_raft (r->rep));
    }
    self->g = saved;
    if (work)
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_TICK, .node = (uint8_t)node});
    if (n->front)
        zkv_front_tick (n->front, self->now / SIM_MS);
    sim_drive (self, node);
}

bool
sim_step (sim_t *self)
{
    if (self->heap_len == 0)
        return false;
    sim_event_t ev = s_pop (self);
    assert (ev.at >= self->now);
    self->now = ev.at;
    self->counters.events++;
    sim_node_t *n = ev.node >= 0 && ev.node < SIM_MAX_NODES ? &self->nodes[ev.node] : NULL;
    switch (ev.kind) {
    case SIM_EV_TICK:
        if (n->up && n->incarnation == ev.incarnation)
            s_tick (self, ev.node);
        break;
    case SIM_EV_DELIVER:
        sim_net_deliver (self, &ev);
        break;
    case SIM_EV_SYNC: {
        sim_rep_t *r = &n->reps[ev.group];
        if (!n->up || n->incarnation != ev.incarnation || !r->syncing)
            break; // the node crashed meanwhile: its unsynced writes went with it
        r->syncing = false;
        int saved = self->g;
        self->g = ev.group;
        int rc = zkv_logstore_sync (n->wrap);
        zkv_replica_synced (r->rep, rc);
        self->g = saved;
        sim_drive (self, ev.node);
        break;
    }
    case SIM_EV_LOCAL:
        s_local_deliver (self, &ev);
        break;
    case SIM_EV_CALL:
        ev.fn (self, ev.arg);
        break;
    default:
        assert (false);
    }
    return true;
}

void
sim_run_for (sim_t *self, uint64_t us)
{
    uint64_t until = self->now + us;
    while (self->heap_len > 0 && self->heap[0].at <= until)
        sim_step (self);
    self->now = until;
}

bool
sim_run_until (sim_t *self, uint64_t deadline, bool (*pred) (sim_t *self, void *arg), void *arg)
{
    for (;;) {
        if (pred (self, arg))
            return true;
        if (self->heap_len == 0 || self->heap[0].at > deadline) {
            if (deadline > self->now)
                self->now = deadline;
            return pred (self, arg);
        }
        sim_step (self);
    }
}

void
sim_at (sim_t *self, uint64_t at, void (*fn) (sim_t *self, void *arg), void *arg)
{
    sim_event_t ev = {
        .at = at < self->now ? self->now : at, .kind = SIM_EV_CALL, .fn = fn, .arg = arg};
    sim_push (self, &ev);
}

int
sim_guard (sim_t *self, void (*sim_fn) (sim_t *self, void *arg), void *arg)
{
    assert (!self->guarded);
    self->guarded = true;
    if (setjmp (self->guard) != 0) {
        self->guarded = false;
        return -1;
    }
    sim_fn (self, arg);
    self->guarded = false;
    return self->failed ? -1 : 0;
}

bool
sim_failed (sim_t *self)
{
    return self->failed;
}

const char *
sim_violated (sim_t *self)
{
    return self->violated;
}

uint64_t
sim_now (sim_t *self)
{
    return self->now;
}

uint64_t
sim_seed (sim_t *self)
{
    return self->cfg.seed;
}

int
sim_n (sim_t *self)
{
    return self->cfg.n_nodes;
}

zkv_rng_t *
sim_rng (sim_t *self)
{
    return &self->rng;
}

// --- accessors -------------------------------------------------------------------------------

bool
sim_is_up (sim_t *self, int node)
{
    return self->nodes[node].up;
}

void
sim_set_group (sim_t *self, int g)
{
    assert (g >= 0 && g < self->cfg.n_groups);
    self->g = g;
}

int
sim_group (sim_t *self)
{
    return self->g;
}

int
sim_n_groups (sim_t *self)
{
    return self->cfg.n_groups;
}

int
sim_group_index (sim_t *self, uint64_t group)
{
    if (self->cfg.shards)
        return group < (uint64_t)self->cfg.n_groups ? (int)group : -1;
    if (group == 0 || group > (uint64_t)self->cfg.n_groups)
        return -1;
    return (int)(group - 1);
}

const zkv_raft_t *
sim_rep_raft (sim_t *self, int node)
{
    sim_rep_t *r = R (self, node);
    return r->rep ? zkv_replica_raft (r->rep) : NULL;
}

const zkv_raft_t *
sim_raft (sim_t *self, int node)
{
    return self->nodes[node].up ? sim_rep_raft (self, node) : NULL;
}

bool
sim_status (sim_t *self, int node, zkv_raft_status_t *status)
{
    memset (status, 0, sizeof *status);
    if (!self->nodes[node].up)
        return false;
    zkv_raft_status (sim_rep_raft (self, node), status);
    return true;
}

int
sim_propose (sim_t *self, int node, const void *data, size_t len, uint64_t *index_p,
             uint64_t *term_p)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t index = 0, term = 0;
    int rc = ZKV_ESTOPPED;
    if (n->up) {
        // A raw command, as the lab's Start: logged as its bytes by the simulator's state
        // machine, through the driver zkvd runs.
        zkv_group_request_t q = {.group = SIM_GROUP_ID (self, self->g),
                                 .handle = SIM_RAW_HANDLE,
                                 .op = SIM_OP_RAW,
                                 .key = {(uint8_t *)"c", 1},
                                 .value = {(uint8_t *)data, len}};
        rc = zkv_replica_request (R (self, node)->rep, &q, &index, &term) ? 0 : ZKV_ENOTLEADER;
    }
    sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_PROPOSE,
                                        .node = (uint8_t)node,
                                        .a = rc == 0 ? index : 0,
                                        .b = rc == 0 ? term : 0,
                                        .c = sim_entry_hash (ZKV_ENTRY_NORMAL, data, len)});
    if (index_p)
        *index_p = index;
    if (term_p)
        *term_p = term;
    if (n->up)
        sim_drive (self, node);
    return rc;
}

void
sim_set_disk_delay (sim_t *self, int node, uint32_t us)
{
    self->nodes[node].disk_set = true;
    self->nodes[node].disk_us = us;
}

void
sim_reset_disk_delay (sim_t *self, int node)
{
    self->nodes[node].disk_set = false;
}

uint64_t
sim_incarnation (sim_t *self, int node)
{
    return self->nodes[node].incarnation;
}

size_t
sim_durable_bytes (sim_t *self, int node)
{
    return zkv_memstore_durable_bytes (self->nodes[node].store, SIM_GROUP_ID (self, self->g));
}

uint64_t
sim_applied (sim_t *self, int node)
{
    return self->nodes[node].up ? R (self, node)->applied : 0;
}

bool
sim_applied_hash (sim_t *self, int node, uint64_t index, uint64_t *hash_p)
{
    sim_rep_t *n = R (self, node);
    if (!self->nodes[node].up || index == 0 || index > n->applied)
        return false;
    // Below the snapshot the state machine was loaded from, its content is the global record
    // (the snapshot's hash chain was checked against it).
    *hash_p = index <= n->base ? G (self)->commits[index].hash : n->hashes[index - n->base - 1];
    return true;
}

bool
sim_committed (sim_t *self, uint64_t index, const uint8_t **data_p, size_t *len_p, uint8_t *type_p)
{
    if (index == 0 || index > G (self)->max_committed)
        return false;
    const sim_commit_t *c = &G (self)->commits[index];
    if (data_p)
        *data_p = c->data;
    if (len_p)
        *len_p = c->len;
    if (type_p)
        *type_p = c->type;
    return true;
}

uint64_t
sim_max_committed (sim_t *self)
{
    return G (self)->max_committed;
}

void
sim_counters (sim_t *self, sim_counters_t *out)
{
    *out = self->counters;
    for (int i = 0; i < self->cfg.n_nodes; i++)
        for (int g = 0; g < SIM_MAX_GROUPS; g++)
            if (self->nodes[i].reps[g].rep)
                sim_sm_sessions_add (zkv_replica_sm (self->nodes[i].reps[g].rep), out);
    if (self->kv)
        sim_kv_sessions_add (self, out);
}

uint64_t
sim_trace_hash (sim_t *self)
{
    return self->trace_hash;
}

void
sim_narrate (sim_t *self, const char *fmt, ...)
{
    if (!self->cfg.narrate)
        return;
    printf ("[%4" PRIu64 ".%03" PRIu64 "s] ", self->now / SIM_SEC, (self->now % SIM_SEC) / SIM_MS);
    va_list ap;
    va_start (ap, fmt);
    vprintf (fmt, ap);
    va_end (ap);
    printf ("\n");
}

void
sim_note (sim_t *self, const char *kind, int node, uint64_t a, uint64_t b)
{
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_NOTE, .node = (uint8_t)node, .a = a, .b = b, .word = kind});
}

// Shared by sim_fail and sim_violation: print, then leave.
void
sim_fail_common (sim_t *self, const char *what, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf (msg, sizeof msg, fmt, ap);
    self->failed = true;
    fflush (stdout);
    if (self->cfg.quiet)
        fprintf (stderr, "seed %" PRIu64 ": FAIL %s: %s (t=%" PRIu64 " us)\n", self->cfg.seed, what,
                 msg, self->now);
    else {
        fprintf (stderr, "\n==== zkv-sim FAILURE  seed %" PRIu64 "  t=%" PRIu64 " us\n",
                 self->cfg.seed, self->now);
        fprintf (stderr, "==== %s: %s\n", what, msg);
        fprintf (stderr, "==== last trace events (oldest first):\n");
        sim_trace_dump (self, stderr, 200);
        fprintf (stderr, "==== %s: %s (seed %" PRIu64 ")\n", what, msg, self->cfg.seed);
    }
    if (self->guarded)
        longjmp (self->guard, 1);
    exit (1);
}

void
sim_fail (sim_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    sim_fail_common (self, "check failed", fmt, ap);
}

// --- streamed snapshots ----------------------------------------------------------------------

bool
sim_lose_state (sim_t *self, int node, bool force)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    sim_node_t *n = &self->nodes[node];
    if (!self->cfg.stream)
        return false;
    if (n->up)
        s_do_crash (self, node, false, false);
    // One disk problem at a time: a second node losing its state before the first got it back
    // is a double failure (two missing nodes holding the newest log can block every election).
    // The node's disk holds every group's state: each must survive without it.
    bool lose = true;
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self) && !force; g++) {
        self->g = g;
        bool other = false;
        for (int i = 0; i < self->cfg.n_nodes; i++)
            other = other || (i != node && self->nodes[i].reps[g].app.missing);
        lose = lose && !other && sim_check_durable_without (self, node);
    }
    if (lose) {
        if (self->kv)
            sim_kvs_lose (self, node);
        for (int g = 0; g < sim_n_groups (self); g++) {
            self->g = g;
            sim_app_t *app = &R (self, node)->app;
            app->missing = true;
            app->stage.index = app->stage.term = 0;
            app->stage.len = 0;
            app->stage.done = false;
            sim_note (self, "state-lost", node, app->live_applied, 0);
        }
        sim_narrate (self, "node %d lost its state machine's state (disk problem)", node + 1);
    }
    self->g = saved;
    sim_restart (self, node);
    return lose;
}

int
sim_snapshot_now (sim_t *self, int node)
{
    sim_rep_t *r = R (self, node);
    if (!self->nodes[node].up)
        return ZKV_ESTOPPED;
    if (r->syncing)
        return ZKV_EBUSY;
    int rc = zkv_replica_snapshot_now (r->rep);
    sim_drive (self, node);
    return rc;
}

void
sim_crash_at_install (sim_t *self, int node, bool torn)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    R (self, node)->app.crash_at_install = true;
    self->nodes[node].crash_torn = torn;
}

uint64_t
sim_chunks_written (sim_t *self, int node)
{
    return R (self, node)->app.chunks;
}
