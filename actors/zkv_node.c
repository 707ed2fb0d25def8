// The node context shared by a zkvd process's actors: endpoints, group status, key routing.
#include "zkv_node.h"
#include "zkv_kv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
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

bool
zkv_node_status_get (zkv_node_t *node, uint64_t group, zkv_groupstat_t *out)
{
    int slot = zkv_node_group_slot (node, group);
    if (slot < 0)
        return false;
    pthread_mutex_lock (&node->lock);
    *out = node->status[slot];
    pthread_mutex_unlock (&node->lock);
    return true;
}

void
zkv_node_status_set_raft (zkv_node_t *node, uint64_t group, const zkv_raft_status_t *st)
{
    int slot = zkv_node_group_slot (node, group);
    assert (slot >= 0);
    pthread_mutex_lock (&node->lock);
    node->status[slot].raft = *st;
    pthread_mutex_unlock (&node->lock);
}

void
zkv_node_status_set_applied (zkv_node_t *node, uint64_t group, uint64_t applied)
{
    int slot = zkv_node_group_slot (node, group);
    assert (slot >= 0);
    pthread_mutex_lock (&node->lock);
    node->status[slot].kv_applied = applied;
    pthread_mutex_unlock (&node->lock);
}

uint64_t
zkv_node_group_of_key (const zkv_node_t *node, const uint8_t *key, size_t len)
{
    // Until the shard controller exists, shard s is served by group 1 + s % n_shard_groups,
    // the shard groups being every configured group but the controller (group 0).
    uint64_t n_shard_groups = 0;
    size_t n = zkv_config_group_count (node->config);
    for (size_t i = 0; i < n; i++)
        if (zkv_config_group_at (node->config, i)->id != 0)
            n_shard_groups++;
    if (n_shard_groups == 0)
        return 0;
    // The KV state machine's shard function (FNV-1a 64 modulo the shard count), so that the
    // shard a request is routed by is the shard its data and dedup record live in.
    uint64_t shard = zkv_kv_shard_of (key, len, (uint32_t)zkv_config_shards (node->config));
    return 1 + shard % n_shard_groups;
}
