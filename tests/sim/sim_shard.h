// Sharding in the simulated world (sim_config_t.shards): group 0 runs the shard controller
// (cluster/zkv_ctrl_sm.h), groups 1..n_groups-1 are shard groups that follow its
// configurations and move shards between them (cluster/zkv_kv_shards.h, zkv_mover.h), every
// node hosts a replica of each, and clerks route by the configuration they fetch (config
// requests are answered with the controller's latest). The lab's shard controller and sharded
// KV tests (6.5840 2024, 5A and 5B) are written with these.
//
// Shard groups join with every node as a member (every node hosts every group). A group
// "down" (the lab's ShutdownGroup) is cut off from everything: its replicas' Raft messages,
// its frontends' requests and its own calls are dropped, so it neither serves nor moves
// anything; "up" (StartGroup) lets everything through again. Node crashes and restarts are
// what test a group's recovery from its store.
#ifndef ZKV_SIM_SHARD_H
#define ZKV_SIM_SHARD_H

#include "sim_kv.h"
#include "zkv_routing.h"

// The controller's commands, through a clerk of their own, blocking; a refusal fails the run
// unless asked for (the _rc variants return the outcome). Each makes one configuration.
void sim_shard_join (sim_t *s, const uint64_t *groups, size_t n);
void sim_shard_leave (sim_t *s, const uint64_t *groups, size_t n);
void sim_shard_move (sim_t *s, uint32_t shard, uint64_t group);
int sim_shard_join_rc (sim_t *s, const uint64_t *groups, size_t n);
int sim_shard_leave_rc (sim_t *s, const uint64_t *groups, size_t n);
int sim_shard_move_rc (sim_t *s, uint32_t shard, uint64_t group);
// A Join (op ZKV_OP_JOIN) or Leave (ZKV_OP_LEAVE) of groups on clerk c, without waiting
// (sim_kv_ctrl_start; c's done callback runs at its end).
void sim_shard_start (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint64_t *groups, size_t n);
// Configuration num (UINT64_MAX: the latest): a new routing to destroy, NULL if there is none.
zkv_routing_t *sim_shard_query (sim_t *s, uint64_t num);

// The lab's ShutdownGroup / StartGroup for group id g (see above).
void sim_shard_group_down (sim_t *s, uint64_t g);
void sim_shard_group_up (sim_t *s, uint64_t g);

// The configuration number node's replica of group g applied (0 when down), and whether all
// its shards are settled (none pulling or handed off).
uint64_t sim_shard_config (sim_t *s, int node, uint64_t g, bool *settled);
// A sim_run_until predicate: every shard group has configuration *(uint64_t *)num applied and
// settled on every node.
bool sim_shard_settled_at (sim_t *s, void *num);
// Bytes every node stores: Raft state and snapshots of every group, and the KV stores.
size_t sim_shard_stored_bytes (sim_t *s);

#endif
