// The state machine a group runs (zkv_group_machine.h).
#include "zkv_group_machine.h"
#include "zkv_ctrl_sm.h"
#include "zkv_kv_sm.h"
#include "zkv_kvstores.h"
#include "zkv_lockstore.h"

#include <stdlib.h>
#include <string.h>

struct zkv_group_machine {
    zkv_kvstore_t *store; // the KV data in the node's database
};

// The KV service over the node's LevelDB: following the shard controller's configurations when
// the cluster has one, else serving the shards the config file's routing deals the group.
static zkv_sm_t *
s_kv (zkv_group_machine_t *self, zkv_node_t *node, uint64_t group, int *err)
{
    self->store = zkv_kvstore_ldb_new (zkv_lockstore_inner (node->logstore));
    if (!self->store) {
        *err = ZKV_EINVAL;
        return NULL;
    }
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.max_key_bytes = (size_t)zkv_config_max_key_bytes (node->config);
    limits.max_value_bytes = (size_t)zkv_config_max_value_bytes (node->config);
    // The session policy this node stamps on the commands it proposes when it leads (the
    // group decides by the stamped one: nodes configured apart still agree).
    limits.session_ttl_ms = zkv_config_cluster (node->config)->session_ttl_ms;
    limits.max_sessions = zkv_config_cluster (node->config)->max_sessions;
    const zkv_routing_t *r = node->routing;
    if (zkv_config_has_controller (node->config)) {
        // A cluster with a shard controller: the group serves what its configurations give it
        // and moves shards between groups.
        zkv_mover_config_t mc;
        zkv_mover_config_defaults (&mc);
        uint64_t tick = zkv_config_tick_ms (node->config);
        mc.poll_ticks = (uint32_t)((100 + tick - 1) / tick);
        // A call to a node just learned from a configuration may be lost while the connection
        // is made (nothing queues for an unconnected peer): ask again after a second.
        mc.call_deadline_ms = 1000;
        mc.retry_ticks = (uint32_t)((1500 + tick - 1) / tick);
        mc.chunk_bytes = (size_t)zkv_config_snapshot_chunk_bytes (node->config);
        mc.rate_per_tick = zkv_config_shard_move_bytes_per_sec (node->config) * tick / 1000;
        if (zkv_config_shard_move_bytes_per_sec (node->config) && mc.rate_per_tick == 0)
            mc.rate_per_tick = 1;
        return zkv_kv_sm_new_sharded (self->store, group, r->nshards, &limits, &mc, err);
    }
    bool *owned = calloc (r->nshards, sizeof (bool));
    if (!owned)
        abort ();
    zkv_routing_owned (r, group, owned);
    zkv_sm_t *sm = zkv_kv_sm_new (self->store, group, r->nshards, &limits, owned, err);
    free (owned);
    return sm;
}

// The shard controller over the node's LevelDB, bootstrapped from the config file's routing.
static zkv_sm_t *
s_controller (zkv_group_machine_t *self, zkv_node_t *node, uint64_t group, int *err)
{
    self->store = zkv_kvstore_ldb_new (zkv_lockstore_inner (node->logstore));
    if (!self->store) {
        *err = ZKV_EINVAL;
        return NULL;
    }
    return zkv_ctrl_sm_new (self->store, group, node->routing, err);
}

// The machines a config file may name (zkv_config_machine_known): one row each.
static const struct {
    const char *name;
    zkv_sm_t *(*make) (zkv_group_machine_t *self, zkv_node_t *node, uint64_t group, int *err);
} s_machines[] = {
    {"controller", s_controller},
    {"kv", s_kv},
};

zkv_sm_t *
zkv_group_machine_new (zkv_node_t *node, uint64_t group, zkv_group_machine_t **machine_p, int *err)
{
    zkv_group_machine_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    *machine_p = self;
    const char *name = zkv_config_group (node->config, group)->machine;
    for (size_t i = 0; i < sizeof s_machines / sizeof s_machines[0]; i++)
        if (strcmp (s_machines[i].name, name) == 0)
            return s_machines[i].make (self, node, group, err);
    *err = ZKV_ECONFIG; // the config loader refuses other names: cannot happen
    return NULL;
}

void
zkv_group_machine_destroy (zkv_group_machine_t **self_p)
{
    zkv_group_machine_t *self = *self_p;
    if (!self)
        return;
    zkv_kvstore_destroy (&self->store);
    free (self);
    *self_p = NULL;
}
