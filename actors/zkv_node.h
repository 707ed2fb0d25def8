// What the actors of one zkvd process share: the node's id, its config, its storage, each
// hosted group's last known status, and the names of the inproc sockets between actors.
#ifndef ZKV_NODE_H
#define ZKV_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_config.h"
#include "zkv_logstore.h"
#include "zkv_raft.h"

// One hosted group's status as its actor last published it (read by the frontend).
typedef struct {
    uint64_t group;         // group id
    zkv_raft_status_t raft; // the core's status after the last ready
    uint64_t kv_applied;    // index the applier durably applied
} zkv_groupstat_t;

typedef struct {
    uint64_t id;                // this node's id
    const zkv_config_t *config; // the cluster file (immutable, shared read-only)
    zkv_logstore_t *logstore;   // the node's Raft log store (thread-safe wrapper)
    void *db;                   // the node's leveldb_t, shared with the KV stores
    size_t n_groups;            // groups this node is a member of
    uint64_t *groups;           // their ids
    pthread_mutex_t lock;       // guards status
    zkv_groupstat_t *status;    // one per hosted group, same order as groups
    int start_rc;               // an actor that fails to start sets it before signalling
} zkv_node_t;

// Inproc endpoint names, unique per node id so that several nodes could share one process.
// Writes "inproc://zkv-<node>-<what>[-<group>]" into buf.
void zkv_node_endpoint (const zkv_node_t *node, const char *what, uint64_t group, char *buf,
                        size_t len);

// Index of group in node->groups, or -1 when the node does not host it.
int zkv_node_group_slot (const zkv_node_t *node, uint64_t group);

// Copies a group's status (false if the node does not host the group).
bool zkv_node_status_get (zkv_node_t *node, uint64_t group, zkv_groupstat_t *out);
// Publishes a group's raft status.
void zkv_node_status_set_raft (zkv_node_t *node, uint64_t group, const zkv_raft_status_t *st);
// Publishes a group's applied index.
void zkv_node_status_set_applied (zkv_node_t *node, uint64_t group, uint64_t applied);

// The group that serves a key until the shard controller exists: shard s is served by shard
// group 1 + s % n_shard_groups (group 0 is the controller). Returns 0 when the config has no
// shard group.
uint64_t zkv_node_group_of_key (const zkv_node_t *node, const uint8_t *key, size_t len);

#endif
