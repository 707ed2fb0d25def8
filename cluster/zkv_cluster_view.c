// The cluster view (zkv_cluster_view.h): its tables, configurations, liveness and leaders.
// Events come in through zkv_cluster_view_event.c; zkv_cluster_view_render.c writes the JSON.
#include "zkv_cluster_view_int.h"
#include "zkv_alloc.h"
#include "zkv_raft.h"

#include <stdlib.h>
#include <string.h>

void
zkv_cluster_view_config_defaults (zkv_cluster_view_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->beat_ms = 1000;
    config->missed_beats = 3;
    config->max_events = 256;
    config->max_nodes = 1024;
    config->max_groups = 1024;
}

zkv_cluster_view_t *
zkv_cluster_view_new (const zkv_cluster_view_config_t *config)
{
    if (!config || config->max_events == 0 || config->max_nodes == 0 || config->max_groups == 0)
        return NULL;
    zkv_cluster_view_t *self = zkv_calloc (1, sizeof *self);
    self->config = *config;
    if (self->config.missed_beats == 0)
        self->config.missed_beats = 1;
    self->ring = zkv_calloc (config->max_events, sizeof *self->ring);
    return self;
}

void
zkv_cluster_view_destroy (zkv_cluster_view_t **self_p)
{
    zkv_cluster_view_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_nodes; i++)
        free (self->nodes[i].replicas);
    free (self->nodes);
    zkv_routing_destroy (&self->routing);
    for (size_t i = 0; i < self->moves.capacity; i++)
        free (self->moves.slots[i].value);
    zkv_u64map_free (&self->moves);
    for (size_t i = 0; i < self->config.max_events; i++)
        free (self->ring[i].json);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

// Index of the first node whose id is not below id.
static size_t
s_node_slot (const zkv_cluster_view_t *self, uint64_t id)
{
    size_t lo = 0, hi = self->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->nodes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

zkv_cv_node_t *
zkv_cv_node_find (const zkv_cluster_view_t *self, uint64_t id)
{
    size_t at = s_node_slot (self, id);
    return at < self->n_nodes && self->nodes[at].id == id ? &self->nodes[at] : NULL;
}

zkv_cv_replica_t *
zkv_cv_replica_find (const zkv_cv_node_t *node, uint64_t group)
{
    for (size_t i = 0; i < node->n_replicas; i++)
        if (node->replicas[i].group == group)
            return &node->replicas[i];
    return NULL;
}

zkv_cv_node_t *
zkv_cv_node_get (zkv_cluster_view_t *self, uint64_t id)
{
    size_t at = s_node_slot (self, id);
    if (at < self->n_nodes && self->nodes[at].id == id)
        return &self->nodes[at];
    if (id == 0 || self->n_nodes >= self->config.max_nodes) {
        self->counters.nodes_dropped++;
        return NULL;
    }
    zkv_cv_node_t *nodes = realloc (self->nodes, (self->n_nodes + 1) * sizeof *nodes);
    if (!nodes)
        abort ();
    self->nodes = nodes;
    memmove (&nodes[at + 1], &nodes[at], (self->n_nodes - at) * sizeof *nodes);
    memset (&nodes[at], 0, sizeof *nodes);
    nodes[at].id = id;
    self->n_nodes++;
    return &nodes[at];
}

int
zkv_cluster_view_node (zkv_cluster_view_t *self, uint64_t id, bool watched)
{
    zkv_cv_node_t *node = zkv_cv_node_get (self, id);
    if (!node)
        return ZKV_ETOOBIG;
    node->watched |= watched;
    return 0;
}

int
zkv_cluster_view_configuration (zkv_cluster_view_t *self, const uint8_t *buf, size_t len)
{
    int err = 0;
    zkv_routing_t *r = zkv_routing_decode (buf, len, &err);
    if (!r)
        return err ? err : ZKV_EPROTO;
    if (self->routing && self->routing->num >= r->num) {
        zkv_routing_destroy (&r);
        return 0;
    }
    zkv_routing_destroy (&self->routing);
    self->routing = r;
    self->counters.configurations++;
    if (r->num > self->newest_seen)
        self->newest_seen = r->num;
    // Its members are nodes to show (the host says which it watches).
    for (size_t i = 0; i < r->n_members; i++)
        (void)zkv_cluster_view_node (self, r->members[i], false);
    return 0;
}

uint64_t
zkv_cluster_view_configuration_num (const zkv_cluster_view_t *self)
{
    return self->routing ? self->routing->num : 0;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t
zkv_cluster_view_members (const zkv_cluster_view_t *self, uint64_t *ids, size_t max)
{
    if (!self->routing || self->routing->n_members == 0)
        return 0;
    size_t n = self->routing->n_members;
    uint64_t *all = zkv_calloc (n, sizeof *all);
    memcpy (all, self->routing->members, n * sizeof *all);
    qsort (all, n, sizeof *all, s_cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && all[i] == all[i - 1])
            continue;
        if (distinct < max)
            ids[distinct] = all[i];
        distinct++;
    }
    free (all);
    return distinct;
}

bool
zkv_cluster_view_wants_configuration (const zkv_cluster_view_t *self, uint64_t now_ms)
{
    if (!self->asked)
        return true;
    uint64_t since = now_ms >= self->asked_ms ? now_ms - self->asked_ms : 0;
    bool newer = self->newest_seen > zkv_cluster_view_configuration_num (self);
    return since >= (newer ? ZKV_CLUSTER_VIEW_ASK_NEWER_MS : ZKV_CLUSTER_VIEW_ASK_ANYWAY_MS);
}

void
zkv_cluster_view_asked (zkv_cluster_view_t *self, uint64_t now_ms)
{
    self->asked = true;
    self->asked_ms = now_ms;
}

const char *
zkv_node_liveness_name (zkv_node_liveness_t liveness)
{
    switch (liveness) {
    case ZKV_NODE_UNWATCHED:
        return "unwatched";
    case ZKV_NODE_UNKNOWN:
        return "unknown";
    case ZKV_NODE_ALIVE:
        return "alive";
    case ZKV_NODE_DEAD:
        return "dead";
    case ZKV_NODE_STOPPED:
        return "stopped";
    }
    return "unknown";
}

zkv_node_liveness_t
zkv_cv_liveness (const zkv_cluster_view_t *self, const zkv_cv_node_t *node, uint64_t now_ms)
{
    if (!node || (!node->watched && !node->heard))
        return ZKV_NODE_UNWATCHED;
    if (!node->heard)
        return ZKV_NODE_UNKNOWN;
    if (node->stopped)
        return ZKV_NODE_STOPPED;
    // Its beat is the one it announces (nodes started from other files may differ), else
    // the config's.
    uint64_t beat = node->beat_ms ? node->beat_ms : self->config.beat_ms;
    if (beat == 0)
        return ZKV_NODE_ALIVE; // no beats: heard is all that can be said
    uint64_t silent = now_ms >= node->heard_ms ? now_ms - node->heard_ms : 0;
    return silent > beat * self->config.missed_beats ? ZKV_NODE_DEAD : ZKV_NODE_ALIVE;
}

zkv_node_liveness_t
zkv_cluster_view_liveness (const zkv_cluster_view_t *self, uint64_t id, uint64_t now_ms)
{
    return zkv_cv_liveness (self, zkv_cv_node_find (self, id), now_ms);
}

void
zkv_cluster_view_leader (const zkv_cluster_view_t *self, uint64_t group, uint64_t *leader,
                         uint64_t *term)
{
    // The highest term any member reported is the group's; its leader is the member that says
    // it leads in that term, or the one the members of that term name. A leader that died keeps
    // its place until a member reports a higher term (an election), which the page shows as
    // a dead leader meanwhile.
    uint64_t best_term = 0, best_leader = 0;
    bool claimed = false; // best_leader says itself that it leads
    for (size_t i = 0; i < self->n_nodes; i++) {
        const zkv_cv_replica_t *r = zkv_cv_replica_find (&self->nodes[i], group);
        if (!r)
            continue;
        if (r->term > best_term) {
            best_term = r->term;
            best_leader = 0;
            claimed = false;
        }
        if (r->term != best_term)
            continue;
        if (r->role == ZKV_ROLE_LEADER) {
            best_leader = self->nodes[i].id;
            claimed = true;
        } else if (!claimed && r->leader != 0)
            best_leader = r->leader;
    }
    *leader = best_leader;
    *term = best_term;
}

void
zkv_cluster_view_counters (const zkv_cluster_view_t *self, zkv_cluster_view_counters_t *out)
{
    *out = self->counters;
}
