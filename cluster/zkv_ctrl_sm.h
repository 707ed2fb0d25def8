// The shard controller (group 0) as a state machine behind the zkv_sm.h interface: a numbered
// sequence of routing configurations (zkv_routing.h: shard -> group, group -> members).
//
// - Configuration 0 has no groups. Configuration 1 is the cluster's bootstrap (the config
//   file's: every replica is given the same one), until the first command.
// - Join (groups with their members; none already in), Leave (groups in, not 0), Move (a
//   shard to a group in) and Nodes (new endpoints and keys of its nodes) each make the next
//   configuration; after Join and Leave the balancer
//   (zkv_balance.h) reassigns shards: counts within one, fewest moves, deterministic.
// - Query (a number, or the latest) is a read: confirmed by ReadIndex, answered with the
//   configuration as a config_reply.
// - Commands are deduplicated per client like the KV service's (same client id and seq: the
//   first answer again).
// The state is kept as keys of a zkv_kv in the group's store (zkv_kv.h, "Other machines"): the
// latest number under "n", configuration N under "c" + N (8 bytes big-endian), each a
// config_reply; its snapshots, streams and boot are the KV service's.
#ifndef ZKV_CTRL_SM_H
#define ZKV_CTRL_SM_H

#include "zkv_kvstore.h"
#include "zkv_routing.h"
#include "zkv_sm.h"

// The controller of group over store (which must outlive it), bootstrapped from bootstrap
// (copied; its shards dealt to groups other than 0). NULL and *err on failure.
zkv_sm_t *zkv_ctrl_sm_new (zkv_kvstore_t *store, uint64_t group, const zkv_routing_t *bootstrap,
                           int *err);

// A Nodes command (ZKV_OP_NODES) as a log entry's payload (free() *buf_p): the next
// configuration is the latest with its nodes at the endpoints and keys nodes names (a routing:
// the config file's), groups and shards unchanged. Clients cannot send it (the frontend
// refuses the op); a restore into other addresses and keys appends it to the controller's log
// (zkv_restore.h), from client client_id (one the restore draws; seq 1).
int zkv_ctrl_nodes_command (const zkv_routing_t *nodes, uint64_t client_id, uint8_t **buf_p,
                            size_t *len_p);

// Configuration number num (UINT64_MAX: the latest) as the controller holds it now, for tests
// and status: a new routing (zkv_routing_destroy it), or NULL with *err (ZKV_ENOTFOUND).
zkv_routing_t *zkv_ctrl_sm_config (zkv_sm_t *sm, uint64_t num, int *err);

#endif
