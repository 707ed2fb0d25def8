// The cluster view as JSON (zkv_cluster_view_render; the fields: docs/events.md, "The status
// page").
#include "zkv_cluster_view_int.h"
#include "zkv_alloc.h"
#include "zkv_raft.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
s_ago (uint64_t now_ms, uint64_t then_ms)
{
    return now_ms >= then_ms ? now_ms - then_ms : 0;
}

// A figure that may be unknown: null then.
static void
s_known (zkv_json_t *j, const char *key, uint64_t v)
{
    zkv_json_key (j, key);
    if (v == ZKV_CV_UNKNOWN)
        zkv_json_null (j);
    else
        zkv_json_u64 (j, v);
}

static void
s_nodes (const zkv_cluster_view_t *self, uint64_t now_ms, zkv_json_t *j)
{
    zkv_json_key (j, "nodes");
    zkv_json_open (j, '[');
    for (size_t i = 0; i < self->n_nodes; i++) {
        const zkv_cv_node_t *n = &self->nodes[i];
        zkv_json_open (j, '{');
        zkv_json_key (j, "id");
        zkv_json_u64 (j, n->id);
        zkv_json_key (j, "self");
        zkv_json_bool (j, n->id == self->config.self);
        zkv_json_key (j, "watched");
        zkv_json_bool (j, n->watched);
        zkv_json_key (j, "liveness");
        zkv_json_cstr (j, zkv_node_liveness_name (zkv_cv_liveness (self, n, now_ms)));
        s_known (j, "heard_ago_ms", n->heard ? s_ago (now_ms, n->heard_ms) : ZKV_CV_UNKNOWN);
        zkv_json_key (j, "beats");
        zkv_json_u64 (j, n->beats);
        s_known (j, "pid", n->pid ? n->pid : ZKV_CV_UNKNOWN);
        s_known (j, "started_ms", n->started_ms ? n->started_ms : ZKV_CV_UNKNOWN);
        s_known (j, "uptime_ms", n->uptime_ms ? n->uptime_ms : ZKV_CV_UNKNOWN);
        zkv_json_key (j, "version");
        zkv_json_cstr (j, n->version);
        zkv_json_key (j, "groups");
        zkv_json_open (j, '[');
        for (size_t g = 0; g < n->n_replicas; g++)
            zkv_json_u64 (j, n->replicas[g].group);
        zkv_json_close (j, ']');
        zkv_json_close (j, '}');
    }
    zkv_json_close (j, ']');
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Every group the configuration names or a node reported, ascending, at most max_groups.
static size_t
s_group_ids (const zkv_cluster_view_t *self, uint64_t **ids_p)
{
    size_t n = self->routing ? self->routing->n_groups : 0;
    for (size_t i = 0; i < self->n_nodes; i++)
        n += self->nodes[i].n_replicas;
    uint64_t *ids = zkv_calloc (n, sizeof *ids);
    size_t at = 0;
    for (size_t i = 0; self->routing && i < self->routing->n_groups; i++)
        ids[at++] = self->routing->group_ids[i];
    for (size_t i = 0; i < self->n_nodes; i++)
        for (size_t g = 0; g < self->nodes[i].n_replicas; g++)
            ids[at++] = self->nodes[i].replicas[g].group;
    qsort (ids, at, sizeof *ids, s_cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < at && distinct < self->config.max_groups; i++)
        if (i == 0 || ids[i] != ids[i - 1])
            ids[distinct++] = ids[i];
    *ids_p = ids;
    return distinct;
}

static bool
s_is_member (const uint64_t *members, size_t n, uint64_t node)
{
    for (size_t i = 0; i < n; i++)
        if (members[i] == node)
            return true;
    return false;
}

static void
s_replica (const zkv_cluster_view_t *self, const zkv_cv_node_t *n, const zkv_cv_replica_t *r,
           bool member, uint64_t term, uint64_t leader_id, const zkv_cv_replica_t *leader,
           uint64_t now_ms, zkv_json_t *j)
{
    zkv_json_open (j, '{');
    zkv_json_key (j, "node");
    zkv_json_u64 (j, n->id);
    zkv_json_key (j, "liveness");
    zkv_json_cstr (j, zkv_node_liveness_name (zkv_cv_liveness (self, n, now_ms)));
    zkv_json_key (j, "member");
    zkv_json_bool (j, member);
    if (!r) { // a member the view has no report from
        zkv_json_key (j, "role");
        zkv_json_null (j);
        zkv_json_close (j, '}');
        return;
    }
    zkv_json_key (j, "role");
    zkv_json_cstr (j, zkv_role_name ((zkv_role_t)r->role));
    zkv_json_key (j, "term");
    zkv_json_u64 (j, r->term);
    zkv_json_key (j, "leader");
    zkv_json_u64 (j, r->leader);
    zkv_json_key (j, "commit");
    zkv_json_u64 (j, r->commit);
    s_known (j, "applied", r->applied);
    s_known (j, "last_index", r->last_index);
    zkv_json_key (j, "config");
    zkv_json_u64 (j, r->config);
    // Lag: what the group's leader of this term says (its last index minus what it knows the
    // member holds); without that, the entries the leader committed that the member has not
    // applied; else unknown.
    uint64_t lag = ZKV_CV_UNKNOWN;
    if (leader && r->lag != ZKV_CV_UNKNOWN && r->lag_by == leader_id && r->lag_term == leader->term)
        lag = r->lag;
    else if (leader && r->applied != ZKV_CV_UNKNOWN)
        lag = leader->commit > r->applied ? leader->commit - r->applied : 0;
    s_known (j, "lag", lag);
    zkv_json_key (j, "heard_ago_ms");
    zkv_json_u64 (j, s_ago (now_ms, r->heard_ms));
    // What it says is of the group's term and it lives: else it is history (a dead leader's
    // last word, a member that has not heard of the election yet).
    zkv_json_key (j, "current");
    zkv_json_bool (j, r->term == term && zkv_cv_liveness (self, n, now_ms) == ZKV_NODE_ALIVE);
    zkv_json_close (j, '}');
}

static void
s_groups (const zkv_cluster_view_t *self, uint64_t now_ms, zkv_json_t *j)
{
    uint64_t *ids;
    size_t n_groups = s_group_ids (self, &ids);
    zkv_json_key (j, "groups");
    zkv_json_open (j, '[');
    for (size_t gi = 0; gi < n_groups; gi++) {
        uint64_t g = ids[gi];
        size_t n_members = 0;
        const uint64_t *members =
            self->routing ? zkv_routing_members (self->routing, g, &n_members) : NULL;
        uint64_t leader = 0, term = 0;
        zkv_cluster_view_leader (self, g, &leader, &term);
        const zkv_cv_node_t *ln = leader ? zkv_cv_node_find (self, leader) : NULL;
        const zkv_cv_replica_t *lr = ln ? zkv_cv_replica_find (ln, g) : NULL;
        if (lr && (lr->role != ZKV_ROLE_LEADER || lr->term != term))
            lr = NULL; // its own report is of another term: its commit index is not the leader's
        zkv_json_open (j, '{');
        zkv_json_key (j, "id");
        zkv_json_u64 (j, g);
        zkv_json_key (j, "term");
        zkv_json_u64 (j, term);
        s_known (j, "leader", leader ? leader : ZKV_CV_UNKNOWN);
        zkv_json_key (j, "leader_liveness");
        if (leader)
            zkv_json_cstr (j, zkv_node_liveness_name (zkv_cv_liveness (self, ln, now_ms)));
        else
            zkv_json_null (j);
        s_known (j, "commit", lr ? lr->commit : ZKV_CV_UNKNOWN);
        zkv_json_key (j, "members");
        zkv_json_open (j, '[');
        for (size_t m = 0; m < n_members; m++)
            zkv_json_u64 (j, members[m]);
        zkv_json_close (j, ']');
        // Every member, then any other node that reported the group (it left, or the view's
        // configuration is older than the node's).
        zkv_json_key (j, "replicas");
        zkv_json_open (j, '[');
        for (size_t m = 0; m < n_members; m++) {
            const zkv_cv_node_t *n = zkv_cv_node_find (self, members[m]);
            if (n)
                s_replica (self, n, zkv_cv_replica_find (n, g), true, term, leader, lr, now_ms, j);
        }
        for (size_t i = 0; i < self->n_nodes; i++) {
            const zkv_cv_node_t *n = &self->nodes[i];
            const zkv_cv_replica_t *r = zkv_cv_replica_find (n, g);
            if (r && !s_is_member (members, n_members, n->id))
                s_replica (self, n, r, false, term, leader, lr, now_ms, j);
        }
        zkv_json_close (j, ']');
        zkv_json_close (j, '}');
    }
    zkv_json_close (j, ']');
    free (ids);
}

static const char *
s_step_name (int step)
{
    switch (step) {
    case ZKV_CV_MOVE_HANDED_OFF:
        return "handed off";
    case ZKV_CV_MOVE_PULLING:
        return "pulling";
    case ZKV_CV_MOVE_INSTALLED:
        return "installed";
    case ZKV_CV_MOVE_DELETED:
        return "done";
    }
    return "unknown";
}

static bool
s_move_shown (const zkv_cv_move_t *m, uint64_t now_ms)
{
    return m->step < ZKV_CV_MOVE_DELETED ||
           s_ago (now_ms, m->last_ms) <= ZKV_CLUSTER_VIEW_MOVE_LINGER_MS;
}

static int
s_cmp_move (const void *a, const void *b)
{
    const zkv_cv_move_t *x = *(const zkv_cv_move_t *const *)a;
    const zkv_cv_move_t *y = *(const zkv_cv_move_t *const *)b;
    if (x->config != y->config)
        return x->config < y->config ? -1 : 1;
    return x->shard < y->shard ? -1 : x->shard > y->shard;
}

// The shard map: the configuration's owner of each shard, or the group a newer move takes it
// to; "moving" while the new owner does not serve it yet.
static void
s_shards (const zkv_cluster_view_t *self, zkv_json_t *j)
{
    uint32_t n = self->routing ? self->routing->nshards : 0;
    zkv_json_key (j, "shard_groups");
    zkv_json_open (j, '[');
    for (uint32_t s = 0; s < n; s++) {
        const zkv_cv_move_t *m = zkv_u64map_get (&self->moves, s);
        bool ahead = m && m->config > self->routing->num && m->to;
        zkv_json_u64 (j, ahead ? m->to : self->routing->shard_group[s]);
    }
    zkv_json_close (j, ']');
    zkv_json_key (j, "shard_states");
    zkv_json_open (j, '[');
    for (uint32_t s = 0; s < n; s++) {
        const zkv_cv_move_t *m = zkv_u64map_get (&self->moves, s);
        zkv_json_cstr (j, m && m->step < ZKV_CV_MOVE_INSTALLED ? "moving" : "serving");
    }
    zkv_json_close (j, ']');
}

static void
s_moves (const zkv_cluster_view_t *self, uint64_t now_ms, zkv_json_t *j)
{
    size_t n = 0;
    const zkv_cv_move_t **shown = zkv_calloc (self->moves.count, sizeof *shown);
    for (size_t i = 0; i < self->moves.capacity; i++) {
        const zkv_cv_move_t *m = self->moves.slots[i].value;
        if (m && s_move_shown (m, now_ms))
            shown[n++] = m;
    }
    qsort (shown, n, sizeof *shown, s_cmp_move);
    zkv_json_key (j, "moves");
    zkv_json_open (j, '[');
    for (size_t i = 0; i < n; i++) {
        const zkv_cv_move_t *m = shown[i];
        zkv_json_open (j, '{');
        zkv_json_key (j, "config");
        zkv_json_u64 (j, m->config);
        zkv_json_key (j, "shard");
        zkv_json_u64 (j, m->shard);
        zkv_json_key (j, "from");
        zkv_json_u64 (j, m->from);
        zkv_json_key (j, "to");
        zkv_json_u64 (j, m->to);
        zkv_json_key (j, "state");
        zkv_json_cstr (j, s_step_name (m->step));
        zkv_json_key (j, "step");
        zkv_json_u64 (j, (uint64_t)m->step);
        zkv_json_key (j, "steps");
        zkv_json_u64 (j, ZKV_CV_MOVE_DELETED);
        zkv_json_key (j, "chunks");
        zkv_json_u64 (j, m->chunks);
        zkv_json_key (j, "bytes");
        zkv_json_u64 (j, m->bytes);
        zkv_json_key (j, "time_ms");
        zkv_json_u64 (j, m->time_ms);
        zkv_json_key (j, "age_ms");
        zkv_json_u64 (j, s_ago (now_ms, m->first_ms));
        zkv_json_close (j, '}');
    }
    zkv_json_close (j, ']');
    free (shown);
}

static void
s_events (const zkv_cluster_view_t *self, uint64_t now_ms, zkv_json_t *j)
{
    zkv_json_key (j, "events");
    zkv_json_open (j, '[');
    for (size_t i = 0; i < self->ring_count; i++) { // oldest first
        const zkv_cv_event_t *e = &self->ring[(self->ring_head + i) % self->config.max_events];
        zkv_json_open (j, '{');
        zkv_json_key (j, "seq");
        zkv_json_u64 (j, e->seq);
        zkv_json_key (j, "from");
        zkv_json_u64 (j, e->from);
        zkv_json_key (j, "ago_ms");
        zkv_json_u64 (j, s_ago (now_ms, e->at_ms));
        zkv_json_key (j, "time_ms");
        zkv_json_u64 (j, e->time_ms);
        zkv_json_key (j, "topic");
        zkv_json_cstr (j, e->topic);
        zkv_json_key (j, "body");
        zkv_json_value (j, e->json, strlen (e->json));
        zkv_json_close (j, '}');
    }
    zkv_json_close (j, ']');
}

static void
s_counters (const zkv_cluster_view_t *self, zkv_json_t *j)
{
    const zkv_cluster_view_counters_t *c = &self->counters;
    zkv_json_key (j, "counters");
    zkv_json_open (j, '{');
    zkv_json_key (j, "events");
    zkv_json_u64 (j, c->events);
    zkv_json_key (j, "beats");
    zkv_json_u64 (j, c->beats);
    zkv_json_key (j, "undecoded");
    zkv_json_u64 (j, c->undecoded);
    zkv_json_key (j, "unknown_topics");
    zkv_json_u64 (j, c->unknown_topics);
    zkv_json_key (j, "events_dropped");
    zkv_json_u64 (j, c->events_dropped);
    zkv_json_key (j, "nodes_dropped");
    zkv_json_u64 (j, c->nodes_dropped);
    zkv_json_key (j, "groups_dropped");
    zkv_json_u64 (j, c->groups_dropped);
    zkv_json_key (j, "configurations");
    zkv_json_u64 (j, c->configurations);
    zkv_json_close (j, '}');
}

void
zkv_cluster_view_render (const zkv_cluster_view_t *self, uint64_t now_ms, uint64_t wall_ms,
                         zkv_json_t *j)
{
    zkv_json_open (j, '{');
    zkv_json_key (j, "self");
    zkv_json_u64 (j, self->config.self);
    zkv_json_key (j, "wall_ms");
    zkv_json_u64 (j, wall_ms);
    zkv_json_key (j, "beat_ms");
    zkv_json_u64 (j, self->config.beat_ms);
    zkv_json_key (j, "missed_beats");
    zkv_json_u64 (j, self->config.missed_beats);
    zkv_json_key (j, "configuration");
    zkv_json_u64 (j, zkv_cluster_view_configuration_num (self));
    zkv_json_key (j, "nshards");
    zkv_json_u64 (j, self->routing ? self->routing->nshards : 0);
    s_nodes (self, now_ms, j);
    s_groups (self, now_ms, j);
    s_shards (self, j);
    s_moves (self, now_ms, j);
    s_events (self, now_ms, j);
    zkv_json_key (j, "max_events");
    zkv_json_u64 (j, self->config.max_events);
    s_counters (self, j);
    zkv_json_close (j, '}');
}
