// The node context shared by a zkvd process's actors: endpoints, and the configurations of the
// pure modules (routing, group driver, frontend) as the config file sets them.
#include "zkv_node.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
zkv_node_endpoint (const zkv_node_t *node, const char *what, uint64_t group, char *buf, size_t len)
{
    if (group == UINT64_MAX)
        snprintf (buf, len, "inproc://zkv-%" PRIu64 "-%s", node->id, what);
    else
        snprintf (buf, len, "inproc://zkv-%" PRIu64 "-%s-%" PRIu64, node->id, what, group);
}

int
zkv_node_group_slot (const zkv_node_t *node, uint64_t group)
{
    for (size_t i = 0; i < node->n_groups; i++)
        if (node->groups[i] == group)
            return (int)i;
    return -1;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

zkv_routing_t *
zkv_node_routing (const zkv_config_t *config)
{
    size_t n = zkv_config_group_count (config), n_members = 0;
    uint64_t *ids = calloc (n + 1, sizeof (uint64_t));
    uint64_t *sizes = calloc (n + 1, sizeof (uint64_t));
    if (!ids || !sizes)
        abort ();
    for (size_t i = 0; i < n; i++)
        ids[i] = zkv_config_group_at (config, i)->id;
    qsort (ids, n, sizeof (uint64_t), s_cmp_u64); // the routing lists groups in id order
    for (size_t i = 0; i < n; i++)
        n_members += zkv_config_group (config, ids[i])->members.count;
    uint64_t *members = calloc (n_members + 1, sizeof (uint64_t));
    if (!members)
        abort ();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const zkv_config_group_t *g = zkv_config_group (config, ids[i]);
        sizes[i] = g->members.count;
        memcpy (members + at, g->members.ids, g->members.count * sizeof (uint64_t));
        at += g->members.count;
    }
    zkv_routing_t *r =
        zkv_routing_new (1, (uint32_t)zkv_config_shards (config), ids, sizes, members, n);
    assert (r); // the config was validated
    zkv_routing_deal (r);
    // Where every node of the file is: configuration 1 carries it to nodes that join later.
    for (size_t i = 0; i < zkv_config_node_count (config); i++) {
        const zkv_config_node_t *nd = zkv_config_node_at (config, i);
        // The loader bounds endpoints as the routing does (255 bytes, no white space); one
        // with other bytes than printable ASCII just stays out of the configuration.
        char key[41] = "";
        if (zkv_config_curve (config))
            (void)zkv_config_node_key (config, nd, key, NULL, 0); // zkvd checked every key
        (void)zkv_routing_set_node (r, nd->id, nd->peer, nd->client, key);
    }
    zkv_routing_prune_nodes (r);
    free (ids);
    free (sizes);
    free (members);
    return r;
}

void
zkv_node_replica_config (const zkv_node_t *node, uint64_t group, uint64_t seed,
                         zkv_replica_config_t *out)
{
    const zkv_config_t *c = node->config;
    const zkv_config_group_t *g = zkv_config_group (c, group);
    assert (g);
    zkv_replica_config_defaults (out);
    zkv_raft_config_t *rc = &out->raft;
    rc->group = group;
    rc->id = node->id;
    rc->voters = g->members.ids;
    rc->n_voters = g->members.count;
    rc->election_ticks = (uint32_t)zkv_config_election_ticks (c);
    rc->heartbeat_ticks = (uint32_t)zkv_config_heartbeat_ticks (c);
    rc->pre_vote = zkv_config_pre_vote (c);
    rc->check_quorum = zkv_config_check_quorum (c);
    rc->max_term_jump = zkv_config_cluster (c)->max_term_jump;
    rc->max_uncommitted_bytes = zkv_config_cluster (c)->max_uncommitted_bytes;
    rc->max_entries_per_msg = (uint32_t)zkv_config_max_batch_entries (c);
    rc->max_bytes_per_msg = (size_t)zkv_config_max_batch_bytes (c);
    rc->max_inflight_msgs = (uint32_t)zkv_config_max_inflight (c);
    rc->max_inflight_bytes = zkv_config_cluster (c)->max_inflight_bytes;
    rc->snapshot_chunk_bytes = (size_t)zkv_config_snapshot_chunk_bytes (c);
    rc->send_before_persist = true;
    rc->snapshot_stream = true;
    rc->seed = seed;
    out->tick_ms = (uint32_t)zkv_config_tick_ms (c);
    out->snapshot_bytes = zkv_config_snapshot_bytes (c);
    out->max_saves = (size_t)zkv_config_cluster (c)->max_saves;
}

void
zkv_node_front_config (const zkv_node_t *node, zkv_front_config_t *out)
{
    zkv_front_config_defaults (out);
    out->node = node->id;
    out->groups = node->groups;
    out->n_groups = node->n_groups;
    out->max_key_bytes = (size_t)zkv_config_max_key_bytes (node->config);
    out->max_value_bytes = (size_t)zkv_config_max_value_bytes (node->config);
    out->controller = zkv_config_has_controller (node->config);
    out->max_pending = (size_t)zkv_config_cluster (node->config)->max_requests;
    out->max_pending_per_client =
        (size_t)zkv_config_cluster (node->config)->max_requests_per_client;
    out->max_pending_bytes = zkv_config_cluster (node->config)->max_request_bytes;
    out->version = ZKV_VERSION;
    out->started_ms = (uint64_t)node->started_ms;
    out->events = zkv_config_node (node->config, node->id)->events;
}
