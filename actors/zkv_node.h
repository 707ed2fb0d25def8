// What the actors of one zkvd process share, read-only once they run: the node's id, its config,
// its storage and the routing configuration it starts from; and the names of the inproc sockets
// between actors. Actors share nothing mutable but the board of figures (zkv_board.h): they
// talk in messages (zkv_actors.h).
#ifndef ZKV_NODE_H
#define ZKV_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_board.h"
#include "zkv_config.h"
#include "zkv_front.h"
#include "zkv_logstore.h"
#include "zkv_replica.h"
#include "zkv_routing.h"
#include "zkv_security.h"

// zkv's version (CMake sets it from the project's).
#ifndef ZKV_VERSION
#define ZKV_VERSION "unknown"
#endif

typedef struct zkv_status zkv_status_t;

typedef struct {
    uint64_t id;                // this node's id
    const zkv_config_t *config; // the cluster file (immutable, shared read-only)
    zkv_logstore_t *logstore;   // the node's Raft log store (thread-safe wrapper)
    zkv_routing_t *routing;     // the routing configuration it starts from (immutable)
    size_t n_groups;            // groups this node is a member of
    uint64_t *groups;           // their ids
    zkv_security_t *security;   // CURVE: the node's certificate and the keys it lets in
    int start_rc;               // an actor that fails to start sets it (-1 or a ZKV_E* code) before signalling
    int64_t started_ms;         // zclock_mono when the node started (its uptime counts from it)
    zkv_board_t *board;         // the node's figures, which every actor puts there (zkv_board.h)
    zkv_status_t *status;       // the cluster view of the status page (zkv_status.h)
} zkv_node_t;

// Inproc endpoint names, unique per node id so that several nodes could share one process.
// Writes "inproc://zkv-<node>-<what>[-<group>]" into buf.
void zkv_node_endpoint (const zkv_node_t *node, const char *what, uint64_t group, char *buf,
                        size_t len);

// Index of group in node->groups, or -1 when the node does not host it.
int zkv_node_group_slot (const zkv_node_t *node, uint64_t group);

// The routing configuration a config file describes: configuration 1, its groups and members,
// shards dealt out to the groups that serve keys (zkv_routing_deal).
zkv_routing_t *zkv_node_routing (const zkv_config_t *config);

// The driver's configuration of group on this node, from the config file (seed: the election
// timeouts' PRNG, which must differ between nodes and runs).
void zkv_node_replica_config (const zkv_node_t *node, uint64_t group, uint64_t seed,
                              zkv_replica_config_t *out);
// The frontend's configuration, from the config file.
void zkv_node_front_config (const zkv_node_t *node, zkv_front_config_t *out);

#endif
