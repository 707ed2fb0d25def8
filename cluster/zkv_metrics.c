// A node's figures as Prometheus metrics (zkv_metrics.h).
#include "zkv_metrics.h"
#include "zkv_raft.h"

#include <stddef.h>

// One per-group family: a figure read from each group's stats at offset.
typedef struct {
    const char *name; // metric name
    const char *type; // counter or gauge
    const char *help; // HELP text
    size_t offset;    // uint64_t field of zkv_group_stats_t
} s_group_metric_t;

#define S_G(field) offsetof (zkv_group_stats_t, field)

static const s_group_metric_t s_group_metrics[] = {
    {"zkv_group_term", "gauge", "The node's current Raft term in the group.", S_G (term)},
    {"zkv_group_leader", "gauge", "The group's leader as this node knows it (node id, 0 unknown).",
     S_G (leader)},
    {"zkv_group_commit_index", "gauge", "The group's commit index on this node.", S_G (commit)},
    {"zkv_group_last_index", "gauge", "The last index of the group's log on this node.",
     S_G (last_index)},
    {"zkv_group_snapshot_index", "gauge", "The index the group's latest snapshot covers.",
     S_G (snapshot_index)},
    {"zkv_group_log_entries", "gauge", "Entries in the group's log past its snapshot.",
     S_G (log_entries)},
    {"zkv_group_log_bytes", "gauge", "Payload bytes of the entries in the group's log.",
     S_G (log_bytes)},
    {"zkv_group_data_bytes", "gauge", "Approximate bytes of the group's state machine's state.",
     S_G (data_bytes)},
    {"zkv_group_config", "gauge", "The configuration number the group applied (0: none).",
     S_G (config)},
    {"zkv_group_elections_total", "counter",
     "Elections this node started in the group (it became candidate).", S_G (elections)},
    {"zkv_group_elections_won_total", "counter", "Elections this node won in the group.",
     S_G (elections_won)},
    {"zkv_group_snapshot_bytes", "gauge",
     "Size of the group's latest snapshot taken or installed here (for a snapshot taken, the "
     "state it covers).",
     S_G (snapshot_bytes)},
    {"zkv_group_snapshot_sent_bytes_total", "counter",
     "Bytes of snapshot chunks this node sent to the group's followers.",
     S_G (snapshot_sent_bytes)},
    {"zkv_group_snapshot_received_bytes_total", "counter",
     "Bytes of snapshot chunks this node received from the group's leader and wrote.",
     S_G (snapshot_recv_bytes)},
    {"zkv_group_appended_entries_total", "counter", "Entries appended to the group's log here.",
     S_G (appended)},
    {"zkv_group_log_syncs_total", "counter", "Syncs of the group's log (group commit).",
     S_G (syncs)},
    {"zkv_group_requests_waiting", "gauge",
     "Requests waiting in the group for their answer (proposed writes and reads).", S_G (waiting)},
    {"zkv_group_requests_busy_total", "counter",
     "Requests the group refused: too many were waiting.", S_G (busy)},
    {"zkv_group_uncommitted_bytes", "gauge",
     "Leader: bytes proposed in its term and not committed yet.", S_G (uncommitted_bytes)},
    {"zkv_group_proposals_refused_total", "counter",
     "Leader: proposals refused past /cluster/max_uncommitted_bytes.", S_G (proposals_refused)},
    {"zkv_group_peer_messages_refused_total", "counter",
     "Peer messages the group's Raft core refused (a term too far ahead, a second leader, an "
     "append contradicting committed entries).",
     S_G (refused)},
    {"zkv_group_sessions", "gauge", "Client sessions (dedup records) the group keeps.",
     S_G (sessions)},
    {"zkv_group_queue_dropped_total", "counter",
     "Messages the group's actor dropped on a full queue (retransmitted or retried).",
     S_G (dropped)},
};

static void
s_group_labels (zkv_prom_labels_t *l, const zkv_group_stats_t *g)
{
    *l = (zkv_prom_labels_t){0};
    zkv_prom_label_u64 (l, "group", g->group);
}

static uint64_t
s_field (const zkv_group_stats_t *g, size_t offset)
{
    return *(const uint64_t *)((const char *)g + offset);
}

static void
s_one (zkv_prom_t *p, const char *name, const char *type, const char *help, uint64_t value)
{
    zkv_prom_family (p, name, type, help);
    zkv_prom_u64 (p, name, NULL, value);
}

static void
s_groups (const zkv_node_stats_t *s, zkv_prom_t *p)
{
    zkv_prom_labels_t l;
    // The role as a state set: one series per role, 1 for the node's.
    zkv_prom_family (p, "zkv_group_role", "gauge",
                     "The node's role in the group: 1 for the role it has, 0 for the others.");
    for (size_t i = 0; i < s->n_groups; i++)
        for (uint64_t r = ZKV_ROLE_FOLLOWER; r <= ZKV_ROLE_LEADER; r++) {
            s_group_labels (&l, &s->groups[i]);
            zkv_prom_label (&l, "role", zkv_role_name ((zkv_role_t)r));
            zkv_prom_u64 (p, "zkv_group_role", &l, s->groups[i].role == r);
        }
    // A state that is missing (a node rejoining, a stream in progress) has no applied index.
    zkv_prom_family (p, "zkv_group_applied_index", "gauge",
                     "The index the group's state machine applied on this node (0 while its "
                     "state is missing).");
    for (size_t i = 0; i < s->n_groups; i++) {
        s_group_labels (&l, &s->groups[i]);
        uint64_t applied = s->groups[i].applied;
        zkv_prom_u64 (p, "zkv_group_applied_index", &l, applied == UINT64_MAX ? 0 : applied);
    }
    zkv_prom_family (p, "zkv_group_state_missing", "gauge",
                     "1 while the group's state on this node is missing (it waits for its "
                     "leader's snapshot).");
    for (size_t i = 0; i < s->n_groups; i++) {
        s_group_labels (&l, &s->groups[i]);
        zkv_prom_u64 (p, "zkv_group_state_missing", &l, s->groups[i].applied == UINT64_MAX);
    }
    for (size_t m = 0; m < sizeof s_group_metrics / sizeof s_group_metrics[0]; m++) {
        const s_group_metric_t *gm = &s_group_metrics[m];
        zkv_prom_family (p, gm->name, gm->type, gm->help);
        for (size_t i = 0; i < s->n_groups; i++) {
            s_group_labels (&l, &s->groups[i]);
            zkv_prom_u64 (p, gm->name, &l, s_field (&s->groups[i], gm->offset));
        }
    }
    zkv_prom_family (p, "zkv_group_snapshots_total", "counter",
                     "Snapshots of the group on this node: taken here, or installed from the "
                     "leader.");
    for (size_t i = 0; i < s->n_groups; i++) {
        s_group_labels (&l, &s->groups[i]);
        zkv_prom_label (&l, "how", "taken");
        zkv_prom_u64 (p, "zkv_group_snapshots_total", &l, s->groups[i].snapshots_taken);
        s_group_labels (&l, &s->groups[i]);
        zkv_prom_label (&l, "how", "installed");
        zkv_prom_u64 (p, "zkv_group_snapshots_total", &l, s->groups[i].snapshots_installed);
    }
    // Followers are listed by their leader only.
    zkv_prom_family (p, "zkv_group_follower_match_index", "gauge",
                     "Leader: the highest index each follower is known to hold.");
    for (size_t i = 0; i < s->n_groups; i++)
        for (size_t k = 0; k < s->groups[i].n_followers; k++) {
            s_group_labels (&l, &s->groups[i]);
            zkv_prom_label_u64 (&l, "follower", s->groups[i].follower_ids[k]);
            zkv_prom_u64 (p, "zkv_group_follower_match_index", &l, s->groups[i].follower_match[k]);
        }
    zkv_prom_family (p, "zkv_group_follower_lag_entries", "gauge",
                     "Leader: entries of its log each follower is not known to hold (last index "
                     "minus match index).");
    for (size_t i = 0; i < s->n_groups; i++)
        for (size_t k = 0; k < s->groups[i].n_followers; k++) {
            s_group_labels (&l, &s->groups[i]);
            zkv_prom_label_u64 (&l, "follower", s->groups[i].follower_ids[k]);
            zkv_prom_u64 (p, "zkv_group_follower_lag_entries", &l,
                          zkv_stats_lag (&s->groups[i], k));
        }
}

static void
s_requests (const zkv_front_stats_t *f, zkv_prom_t *p)
{
    zkv_prom_labels_t l;
    zkv_prom_family (p, "zkv_requests_total", "counter",
                     "Client requests this node answered, by kind and outcome.");
    for (int k = 0; k < ZKV_STATS_KINDS; k++)
        for (int o = 0; o < ZKV_STATS_OUTCOMES; o++) {
            l = (zkv_prom_labels_t){0};
            zkv_prom_label (&l, "kind", zkv_stats_kind_name ((zkv_stats_kind_t)k));
            zkv_prom_label (&l, "outcome", zkv_stats_outcome_name ((zkv_stats_outcome_t)o));
            zkv_prom_u64 (p, "zkv_requests_total", &l, f->requests[k][o]);
        }
    const char *h = "zkv_request_duration_seconds";
    zkv_prom_family (p, h, "histogram",
                     "Time from a client request's arrival at this node to its answer, by kind.");
    for (int k = 0; k < ZKV_STATS_KINDS; k++) {
        const zkv_stats_hist_t *hist = &f->latency[k];
        uint64_t cumulative = 0;
        for (int b = 0; b <= ZKV_STATS_BUCKETS; b++) {
            cumulative += hist->buckets[b];
            l = (zkv_prom_labels_t){0};
            zkv_prom_label (&l, "kind", zkv_stats_kind_name ((zkv_stats_kind_t)k));
            // Bounds in seconds, as the format wants (le="0.0001" ... le="+Inf").
            const char *le = b < ZKV_STATS_BUCKETS ? zkv_stats_bounds_text[b] : "+Inf";
            zkv_prom_label (&l, "le", le);
            zkv_prom_u64 (p, "zkv_request_duration_seconds_bucket", &l, cumulative);
        }
        l = (zkv_prom_labels_t){0};
        zkv_prom_label (&l, "kind", zkv_stats_kind_name ((zkv_stats_kind_t)k));
        zkv_prom_micros (p, "zkv_request_duration_seconds_sum", &l, hist->sum_us);
        zkv_prom_u64 (p, "zkv_request_duration_seconds_count", &l, hist->count);
    }
    s_one (p, "zkv_requests_forwarded_total", "counter",
           "Client requests this node forwarded to another node's leader.", f->forwarded);
    s_one (p, "zkv_requests_forwarded_in_total", "counter",
           "Requests other nodes forwarded to this node to serve.", f->forwarded_in);
    s_one (p, "zkv_requests_pending", "gauge",
           "Requests waiting for their answer in this node's frontend (bounded by "
           "/cluster/max_requests).",
           f->pending);
    s_one (p, "zkv_requests_pending_bytes", "gauge",
           "Key and value bytes of the requests waiting (bounded by /cluster/max_request_bytes).",
           f->pending_bytes);
    s_one (p, "zkv_requests_stale_total", "counter",
           "Answers from groups or peers that answered nothing waiting (late, or forged).",
           f->stale);
    s_one (p, "zkv_client_received_bytes_total", "counter",
           "Bytes of client messages this node received.", f->bytes_in);
    s_one (p, "zkv_client_sent_bytes_total", "counter",
           "Bytes of answers this node sent to clients.", f->bytes_out);
    s_one (p, "zkv_client_connections", "gauge", "Client connections open.", f->connections);
    s_one (p, "zkv_client_connections_refused_total", "counter",
           "Client connections closed at once: /cluster/max_connections were open.",
           f->connections_refused);
    s_one (p, "zkv_client_slow_disconnects_total", "counter",
           "Clients disconnected for not reading their answers.", f->slow_clients);
    s_one (p, "zkv_client_malformed_total", "counter",
           "Client messages that did not decode or were not a client's to send.", f->malformed);
    s_one (p, "zkv_client_denied_total", "counter",
           "Requests a read-only (monitor) key may not make.", f->denied);
    s_one (p, "zkv_frontend_queue_dropped_total", "counter",
           "Messages the frontend dropped on a full queue (retried by their senders).", f->dropped);
}

static void
s_http (const zkv_http_stats_t *h, zkv_prom_t *p)
{
    zkv_prom_labels_t l;
    zkv_prom_family (p, "zkv_http_requests_total", "counter",
                     "HTTP requests this node answered, by status.");
    const char *codes[] = {"2xx", "404", "405", "other"};
    uint64_t counts[] = {h->ok, h->not_found, h->bad_method, h->other};
    for (int i = 0; i < 4; i++) {
        l = (zkv_prom_labels_t){0};
        zkv_prom_label (&l, "code", codes[i]);
        zkv_prom_u64 (p, "zkv_http_requests_total", &l, counts[i]);
    }
    s_one (p, "zkv_http_connections", "gauge", "HTTP connections open.", h->open);
    s_one (p, "zkv_http_connections_refused_total", "counter",
           "HTTP connections closed at once: /cluster/http_max_connections were open.", h->refused);
}

void
zkv_metrics_render (const zkv_node_stats_t *s, zkv_prom_t *p)
{
    zkv_prom_labels_t l = {0};
    zkv_prom_label_u64 (&l, "node", s->node);
    zkv_prom_label (&l, "version", s->version ? s->version : "");
    zkv_prom_family (p, "zkv_node_info", "gauge", "The node's id and zkv version (value 1).");
    zkv_prom_u64 (p, "zkv_node_info", &l, 1);
    zkv_prom_family (p, "zkv_uptime_seconds", "gauge", "Time since the node started.");
    zkv_prom_micros (p, "zkv_uptime_seconds", NULL, s->uptime_ms * 1000);
    s_one (p, "zkv_db_size_bytes", "gauge", "Bytes of the node's LevelDB files on disk.",
           s->db_bytes);
    s_requests (&s->front, p);
    s_groups (s, p);
    if (s->http_on)
        s_http (&s->http, p);
}
