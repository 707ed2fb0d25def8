// The cluster view takes an event (zkv_cluster_view.h): who was heard, what a node says of its
// groups, how shards move, and the recent events.
#include "zkv_cluster_view_int.h"
#include "zkv_msg.h"
#include "zkv_raft.h"

#include <stdlib.h>
#include <string.h>

// Node's report on group, added when the node keeps fewer than max_groups (NULL, counted).
static zkv_cv_replica_t *
s_replica (zkv_cluster_view_t *self, zkv_cv_node_t *node, uint64_t group)
{
    size_t at = 0;
    while (at < node->n_replicas && node->replicas[at].group < group)
        at++;
    if (at < node->n_replicas && node->replicas[at].group == group)
        return &node->replicas[at];
    if (node->n_replicas >= self->config.max_groups) {
        self->counters.groups_dropped++;
        return NULL;
    }
    zkv_cv_replica_t *r = realloc (node->replicas, (node->n_replicas + 1) * sizeof *r);
    if (!r)
        abort (); // out of memory aborts (STYLE.md)
    node->replicas = r;
    memmove (&r[at + 1], &r[at], (node->n_replicas - at) * sizeof *r);
    memset (&r[at], 0, sizeof *r);
    r[at].group = group;
    r[at].applied = ZKV_CV_UNKNOWN;
    r[at].last_index = ZKV_CV_UNKNOWN;
    r[at].lag = ZKV_CV_UNKNOWN;
    node->n_replicas++;
    return &r[at];
}

static bool
s_topic_is (const char *topic, size_t len, const char *name)
{
    return len == strlen (name) && memcmp (topic, name, len) == 0;
}

static bool
s_topic_starts (const char *topic, size_t len, const char *prefix)
{
    size_t n = strlen (prefix);
    return len >= n && memcmp (topic, prefix, n) == 0;
}

// zkv.node.started: a new life; what the node said of its groups before is stale.
// zkv.node.stopping: its last word.
static void
s_node_event (zkv_cluster_view_t *self, zkv_cv_node_t *node, bool started,
              const zkv_event_node_t *ev, uint64_t now_ms)
{
    node->pid = ev->pid;
    if (!started) {
        node->stopped = true;
        return;
    }
    node->started_ms = ev->time_ms;
    node->uptime_ms = 0;
    node->n_replicas = 0;
    for (size_t i = 0; i < ev->groups.count; i++) {
        zkv_cv_replica_t *r = s_replica (self, node, ev->groups.items[i]);
        if (r)
            r->heard_ms = now_ms;
    }
}

// Copies what a node says its version is, printable ASCII only, cut to ZKV_CV_MAX_VERSION.
static void
s_version (zkv_cv_node_t *node, const zkv_bytes_t *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->len && n < ZKV_CV_MAX_VERSION; i++)
        node->version[n++] = v->data[i] >= 0x20 && v->data[i] < 0x7f ? (char)v->data[i] : '?';
    node->version[n] = '\0';
}

// zkv.node.stats: the node's beat, with what it says of every group it hosts and, as a
// leader, of its followers. Arrays that do not match its groups are not believed (counted).
static int
s_stats_event (zkv_cluster_view_t *self, uint64_t id, const zkv_event_stats_t *ev, uint64_t now_ms)
{
    size_t n = ev->groups.count, listed = 0;
    if (ev->roles.count != n || ev->terms.count != n || ev->leaders.count != n ||
        ev->commits.count != n || ev->applieds.count != n || ev->last_indexes.count != n ||
        ev->follower_counts.count != n)
        return ZKV_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (ev->follower_counts.items[i] > ev->follower_ids.count - listed)
            return ZKV_EPROTO;
        listed += (size_t)ev->follower_counts.items[i];
    }
    if (listed != ev->follower_ids.count || listed != ev->follower_lags.count)
        return ZKV_EPROTO;
    // The followers' records first: adding a node moves the table's records.
    for (size_t k = 0; k < listed; k++)
        if (ev->follower_ids.items[k] != id)
            (void)zkv_cv_node_get (self, ev->follower_ids.items[k]);
    zkv_cv_node_t *node = zkv_cv_node_find (self, id);
    if (!node)
        return 0; // not kept (counted)
    node->beats++;
    self->counters.beats++;
    node->uptime_ms = ev->uptime_ms;
    node->beat_ms = ev->interval_ms;
    if (ev->time_ms > ev->uptime_ms)
        node->started_ms = ev->time_ms - ev->uptime_ms;
    s_version (node, &ev->version);
    // The groups it no longer lists it no longer hosts.
    size_t kept = 0;
    for (size_t r = 0; r < node->n_replicas; r++) {
        bool listed_now = false;
        for (size_t i = 0; i < n && !listed_now; i++)
            listed_now = ev->groups.items[i] == node->replicas[r].group;
        if (listed_now)
            node->replicas[kept++] = node->replicas[r];
    }
    node->n_replicas = kept;
    size_t f = 0; // the first follower of group i in follower_ids
    for (size_t i = 0; i < n; i++) {
        size_t followers = (size_t)ev->follower_counts.items[i];
        zkv_cv_replica_t *r = s_replica (self, node, ev->groups.items[i]);
        if (r) {
            r->role = ev->roles.items[i];
            r->term = ev->terms.items[i];
            r->leader = ev->leaders.items[i];
            r->commit = ev->commits.items[i];
            r->applied = ev->applieds.items[i];
            r->last_index = ev->last_indexes.items[i];
            r->heard_ms = now_ms;
            if (r->role == ZKV_ROLE_LEADER) { // a leader lags nothing behind itself
                r->lag = 0;
                r->lag_by = node->id;
                r->lag_term = r->term;
            }
        }
        for (size_t k = f; r && r->role == ZKV_ROLE_LEADER && k < f + followers; k++) {
            zkv_cv_node_t *fn = ev->follower_ids.items[k] != id
                                    ? zkv_cv_node_find (self, ev->follower_ids.items[k])
                                    : NULL; // a leader is no follower of its own
            zkv_cv_replica_t *fr = fn ? s_replica (self, fn, ev->groups.items[i]) : NULL;
            if (fr) {
                fr->lag = ev->follower_lags.items[k];
                fr->lag_by = node->id;
                fr->lag_term = r->term;
            }
        }
        f += followers;
    }
    return 0;
}

static void
s_raft_event (zkv_cluster_view_t *self, zkv_cv_node_t *node, const char *topic, size_t len,
              const zkv_event_raft_t *ev, uint64_t now_ms)
{
    zkv_cv_replica_t *r = s_replica (self, node, ev->group);
    if (!r)
        return;
    r->role = ev->role;
    r->term = ev->term;
    r->leader = ev->leader;
    r->heard_ms = now_ms;
    // The index is the commit index only for these two (docs/events.md).
    if (s_topic_is (topic, len, "zkv.raft.leader") || s_topic_is (topic, len, "zkv.raft.term"))
        r->commit = ev->index;
}

// A step of the move of ev->shard. Events of an older configuration's move than the one the
// view follows for the shard are history; a move only goes forward (events from the two
// groups' leaders arrive in any order).
static void
s_move (zkv_cluster_view_t *self, const zkv_event_shard_t *ev, int step, bool leaving,
        uint64_t now_ms)
{
    uint64_t limit = self->routing ? self->routing->nshards : ZKV_CV_MAX_SHARDS;
    if (ev->shard >= limit)
        return;
    zkv_cv_move_t *m = zkv_u64map_get (&self->moves, ev->shard);
    if (m && m->config > ev->config)
        return;
    if (!m || m->config < ev->config) {
        if (!m) {
            m = calloc (1, sizeof *m);
            if (!m)
                abort ();
            zkv_u64map_put (&self->moves, ev->shard, m);
        }
        memset (m, 0, sizeof *m);
        m->config = ev->config;
        m->shard = ev->shard;
        m->first_ms = now_ms;
    }
    // The leaving group names where it goes; the arriving one where it comes from.
    if (leaving) {
        m->from = ev->group;
        if (ev->peer)
            m->to = ev->peer;
    } else {
        m->to = ev->group;
        if (ev->peer)
            m->from = ev->peer;
    }
    if (step > m->step)
        m->step = step;
    if (ev->chunks > m->chunks)
        m->chunks = ev->chunks;
    if (ev->bytes > m->bytes)
        m->bytes = ev->bytes;
    m->last_ms = now_ms;
    m->time_ms = ev->time_ms;
}

static void
s_shard_event (zkv_cluster_view_t *self, zkv_cv_node_t *node, const char *topic, size_t len,
               const zkv_event_shard_t *ev, uint64_t now_ms)
{
    if (ev->config > self->newest_seen)
        self->newest_seen = ev->config; // the host fetches it (wants_configuration)
    if (s_topic_is (topic, len, "zkv.shard.config")) {
        zkv_cv_replica_t *r = s_replica (self, node, ev->group);
        if (r && ev->config > r->config)
            r->config = ev->config;
    } else if (s_topic_is (topic, len, "zkv.shard.handoff"))
        s_move (self, ev, ZKV_CV_MOVE_HANDED_OFF, true, now_ms);
    else if (s_topic_is (topic, len, "zkv.shard.pull.started") ||
             s_topic_is (topic, len, "zkv.shard.pull.chunk"))
        s_move (self, ev, ZKV_CV_MOVE_PULLING, false, now_ms);
    else if (s_topic_is (topic, len, "zkv.shard.pull.finished"))
        s_move (self, ev, ZKV_CV_MOVE_INSTALLED, false, now_ms);
    else if (s_topic_is (topic, len, "zkv.shard.gc"))
        s_move (self, ev, ZKV_CV_MOVE_DELETED, true, now_ms);
}

// ---------------------------------------------------------------------------------------------
// Recent events: each kept as the JSON of its fields, whatever its type (zkv_msg_visit, as zkv
// watch --json prints them).

static void
s_json_u64 (void *arg, const char *name, uint64_t v)
{
    zkv_json_t *j = arg;
    zkv_json_key (j, name);
    if (strcmp (name, "role") == 0)
        zkv_json_cstr (j, zkv_role_name ((zkv_role_t)v));
    else
        zkv_json_u64 (j, v);
}

static void
s_json_bool (void *arg, const char *name, bool v)
{
    zkv_json_t *j = arg;
    zkv_json_key (j, name);
    zkv_json_bool (j, v);
}

static void
s_json_bytes (void *arg, const char *name, const zkv_bytes_t *v)
{
    zkv_json_t *j = arg;
    zkv_json_key (j, name);
    zkv_json_str (j, v->data, v->len < ZKV_CV_MAX_FIELD ? v->len : ZKV_CV_MAX_FIELD);
}

static void
s_json_u64s (void *arg, const char *name, const zkv_u64s_t *v)
{
    zkv_json_t *j = arg;
    zkv_json_key (j, name);
    zkv_json_open (j, '[');
    for (size_t i = 0; i < v->count && i < ZKV_CV_MAX_FIELD; i++)
        zkv_json_u64 (j, v->items[i]);
    zkv_json_close (j, ']');
}

static void
s_json_entries (void *arg, const char *name, const zkv_entries_t *v)
{
    zkv_json_t *j = arg;
    zkv_json_key (j, name);
    zkv_json_u64 (j, v->count); // events carry none; a count is enough
}

static void
s_json_fields (zkv_json_t *j, const zkv_msg_t *msg)
{
    static const zkv_msg_visitor_t visitor = {
        .u64 = s_json_u64,
        .boolean = s_json_bool,
        .bytes = s_json_bytes,
        .u64s = s_json_u64s,
        .entries = s_json_entries,
    };
    zkv_json_open (j, '{');
    zkv_json_key (j, "type");
    zkv_json_cstr (j, zkv_msg_name (msg->type));
    zkv_msg_visit (msg, &visitor, j);
    zkv_json_close (j, '}');
}

static void
s_keep (zkv_cluster_view_t *self, uint64_t from, const char *topic, size_t topic_len,
        const zkv_msg_t *msg, uint64_t now_ms)
{
    size_t max = self->config.max_events;
    zkv_cv_event_t *e;
    if (self->ring_count == max) { // the oldest goes
        e = &self->ring[self->ring_head];
        self->ring_head = (self->ring_head + 1) % max;
        self->counters.events_dropped++;
    } else {
        e = &self->ring[(self->ring_head + self->ring_count) % max];
        self->ring_count++;
    }
    free (e->json);
    memset (e, 0, sizeof *e);
    e->seq = self->next_seq++;
    e->from = from;
    e->at_ms = now_ms;
    size_t n = topic_len < ZKV_CV_MAX_TOPIC ? topic_len : ZKV_CV_MAX_TOPIC;
    memcpy (e->topic, topic, n);
    e->topic[n] = '\0';
    zkv_json_t j = {0};
    if (msg) {
        e->time_ms = zkv_msg_event_time_ms (msg);
        s_json_fields (&j, msg);
    } else {
        zkv_json_open (&j, '{');
        zkv_json_key (&j, "type");
        zkv_json_cstr (&j, "undecoded");
        zkv_json_close (&j, '}');
    }
    e->json = j.data; // taken
}

// The body type each known topic carries (ZKV_MSG_NONE: a topic the view does not know).
static zkv_msg_type_t
s_topic_type (const char *topic, size_t len)
{
    if (s_topic_is (topic, len, "zkv.node.started") || s_topic_is (topic, len, "zkv.node.stopping"))
        return ZKV_MSG_EVENT_NODE;
    if (s_topic_is (topic, len, "zkv.node.stats"))
        return ZKV_MSG_EVENT_STATS;
    if (s_topic_starts (topic, len, "zkv.raft."))
        return ZKV_MSG_EVENT_RAFT;
    if (s_topic_starts (topic, len, "zkv.shard."))
        return ZKV_MSG_EVENT_SHARD;
    if (s_topic_is (topic, len, "zkv.client.error"))
        return ZKV_MSG_EVENT_CLIENT_ERROR;
    return ZKV_MSG_NONE;
}

int
zkv_cluster_view_event (zkv_cluster_view_t *self, uint64_t from, const char *topic,
                        size_t topic_len, const uint8_t *body, size_t len, uint64_t now_ms)
{
    self->counters.events++;
    // Whatever it says, the node spoke: it is alive.
    zkv_cv_node_t *node = zkv_cv_node_get (self, from);
    if (node) {
        node->heard = true;
        node->heard_ms = now_ms;
        node->stopped = false;
    }
    zkv_msg_t msg;
    int rc = zkv_msg_decode (body, len, &msg);
    if (rc != 0) {
        self->counters.undecoded++;
        s_keep (self, from, topic, topic_len, NULL, now_ms);
        return rc;
    }
    zkv_msg_type_t want = s_topic_type (topic, topic_len);
    if (want == ZKV_MSG_NONE)
        self->counters.unknown_topics++;
    else if (want != msg.type) {
        self->counters.undecoded++; // a body that is not what its topic says: not believed
        rc = ZKV_ETYPE;
    } else if (node && want == ZKV_MSG_EVENT_NODE)
        s_node_event (self, node, s_topic_is (topic, topic_len, "zkv.node.started"),
                      &msg.u.event_node, now_ms);
    else if (want == ZKV_MSG_EVENT_STATS) {
        // A beat: it says the node lives and how its groups are; it tells nothing new to list.
        if (node && s_stats_event (self, from, &msg.u.event_stats, now_ms) != 0) {
            self->counters.undecoded++;
            rc = ZKV_EPROTO;
        }
        zkv_msg_free (&msg);
        return rc;
    } else if (node && want == ZKV_MSG_EVENT_RAFT)
        s_raft_event (self, node, topic, topic_len, &msg.u.event_raft, now_ms);
    else if (node && want == ZKV_MSG_EVENT_SHARD)
        s_shard_event (self, node, topic, topic_len, &msg.u.event_shard, now_ms);
    s_keep (self, from, topic, topic_len, &msg, now_ms);
    zkv_msg_free (&msg);
    return rc;
}
