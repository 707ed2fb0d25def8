// The state machine a group runs: the one its config names (/group/machine: the shard
// controller for group 0, the KV service for the others), over the node's LevelDB.
#ifndef ZKV_GROUP_MACHINE_H
#define ZKV_GROUP_MACHINE_H

#include "zkv_node.h"
#include "zkv_sm.h"

typedef struct zkv_group_machine zkv_group_machine_t;

// The state machine of group, and in *machine_p what it runs over (destroy it after the state
// machine). NULL and *err on failure.
zkv_sm_t *zkv_group_machine_new (zkv_node_t *node, uint64_t group, zkv_group_machine_t **machine_p,
                                 int *err);
void zkv_group_machine_destroy (zkv_group_machine_t **self_p);

#endif
