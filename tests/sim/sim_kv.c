// The KV service in the simulated world: each node's frontend (cluster/zkv_front.h, the core
// zkvd's frontend actor runs) routing clerks' requests by the world's routing configuration to
// its groups' replicas or forwarding them to the leader's node; the KV state machine runs
// inside each replica's simulator state machine (sim_sm.c). See sim_kv.h.
#include "sim_kv_int.h"
#include "zkv_kvstores.h"

#include <stdlib.h>
#include <string.h>

void
sim_kv_init (sim_t *self)
{
    sim_kv_t *kv = calloc (1, sizeof *kv);
    if (!kv)
        abort ();
    kv->history = zkv_history_new ();
    self->kv = kv;
    // Every group on every node; shards dealt out to the groups in turn. Sharded: the
    // controller's bootstrap has group 0 only (shard groups join it), as configuration 0 of
    // the lab has no groups.
    int n = self->cfg.n_nodes, ng = self->cfg.shards ? 1 : self->cfg.n_groups;
    uint64_t ids[SIM_MAX_GROUPS], sizes[SIM_MAX_GROUPS], members[SIM_MAX_GROUPS * SIM_MAX_NODES];
    for (int g = 0; g < ng; g++) {
        ids[g] = SIM_GROUP_ID (self, g);
        sizes[g] = (uint64_t)n;
        for (int i = 0; i < n; i++)
            members[g * n + i] = (uint64_t)i + 1;
    }
    self->routing = zkv_routing_new (1, SIM_KV_SHARDS, ids, sizes, members, (size_t)ng);
    zkv_routing_deal (self->routing);
}

void
sim_kv_free (sim_t *self)
{
    sim_kv_t *kv = self->kv;
    zkv_routing_destroy (&self->routing);
    if (!kv)
        return;
    sim_kv_clients_free (self);
    zkv_history_destroy (&kv->history);
    free (kv);
    self->kv = NULL;
}

// --- the frontend's host -----------------------------------------------------------------------

static void
f_to_client (void *arg, const zkv_front_addr_t *to, const zkv_msg_t *msg)
{
    sim_ctx_t *ctx = arg;
    sim_t *s = ctx->sim;
    int client = (int)sim_get_u64 (to->data);
    if (msg->type == ZKV_MSG_CLIENT_REPLY && msg->u.client_reply.status == ZKV_ENOTLEADER_VALUE)
        s->kv->counters.not_leader++;
    sim_kv_net_send (s, ctx->node, SIM_KV_CLIENT_EP + client, msg);
}

static void
f_to_node (void *arg, uint64_t node, const zkv_msg_t *msg)
{
    sim_ctx_t *ctx = arg;
    sim_net_send (ctx->sim, ctx->node, (int)node - 1, msg);
}

static int
f_to_group (void *arg, const zkv_msg_t *request)
{
    sim_ctx_t *ctx = arg;
    int g = sim_group_index (ctx->sim, request->u.group_request.group);
    if (g < 0)
        sim_fail (ctx->sim, "node %d's frontend routed to group %" PRIu64, ctx->node,
                  request->u.group_request.group);
    ctx->sim->kv->counters.proposals++;
    sim_local_send (ctx->sim, ctx->node, g, request);
    return 0;
}

static void
f_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    (void)arg;
    (void)topic;
    (void)body;
}

static void
f_to_caller (void *arg, const zkv_msg_t *reply)
{
    sim_ctx_t *ctx = arg;
    int g = sim_group_index (ctx->sim, reply->u.group_call_reply.group);
    if (g < 0)
        sim_fail (ctx->sim, "node %d's frontend answered a call of group %" PRIu64, ctx->node,
                  reply->u.group_call_reply.group);
    sim_local_send (ctx->sim, ctx->node, g, reply);
}

static uint64_t
f_wall_ms (void *arg)
{
    sim_ctx_t *ctx = arg;
    return sim_wall_ms (ctx->sim, ctx->node);
}

static const zkv_front_host_t s_front_host = {
    .to_client = f_to_client,
    .to_node = f_to_node,
    .to_group = f_to_group,
    .to_caller = f_to_caller,
    .event = f_event,
    .wall_ms = f_wall_ms,
};

void
sim_kv_start_front (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t groups[SIM_MAX_GROUPS];
    for (int g = 0; g < self->cfg.n_groups; g++)
        groups[g] = SIM_GROUP_ID (self, g);
    zkv_front_config_t fc;
    zkv_front_config_defaults (&fc);
    fc.node = (uint64_t)node + 1;
    fc.groups = groups;
    fc.n_groups = (size_t)self->cfg.n_groups;
    // The clerks never give up; a request a node forgot (lost, deposed) is retried by them.
    fc.default_deadline_ms = 30000;
    fc.controller = self->cfg.shards;
    n->front_ctx = (sim_ctx_t){.sim = self, .node = node, .g = -1};
    n->front = zkv_front_new (&fc, self->routing, &s_front_host, &n->front_ctx);
    if (!n->front)
        sim_fail (self, "node %d: the frontend refused its config", node);
}

void
sim_kvs_lose (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    zkv_kvstore_destroy (&n->kvstore);
    n->kvstore = zkv_kvstore_mem_new ();
}

void
sim_kv_counters (sim_t *s, sim_kv_counters_t *out)
{
    memset (out, 0, sizeof *out);
    if (s->kv)
        *out = s->kv->counters;
}

size_t
sim_kv_maxraftstate (sim_t *s)
{
    return s->cfg.maxraftstate;
}

// --- sizes -----------------------------------------------------------------------------------

static size_t
s_snapshot_len (sim_t *s, int node)
{
    zkv_logstore_state_t *ls = &s->loaded;
    zkv_logstore_state_free (ls);
    if (zkv_logstore_load (s->nodes[node].store, SIM_GROUP_ID (s, s->g), ls) != 0)
        sim_fail (s, "node %d: memstore load failed", node);
    size_t len = ls->snapshot_data.len;
    zkv_logstore_state_free (ls);
    return len;
}

size_t
sim_kv_raft_state_bytes (sim_t *s, int node)
{
    return sim_durable_bytes (s, node) - s_snapshot_len (s, node);
}

size_t
sim_kv_snapshot_bytes (sim_t *s, int node)
{
    return s_snapshot_len (s, node);
}

size_t
sim_kv_max_raft_state (sim_t *s)
{
    size_t max = 0;
    for (int i = 0; i < sim_n (s); i++) {
        size_t b = sim_kv_raft_state_bytes (s, i);
        max = b > max ? b : max;
    }
    return max;
}

size_t
sim_kv_max_snapshot (sim_t *s)
{
    size_t max = 0;
    for (int i = 0; i < sim_n (s); i++) {
        size_t b = sim_kv_snapshot_bytes (s, i);
        max = b > max ? b : max;
    }
    return max;
}
