// A routing configuration: a numbered value saying which group serves each shard of the key
// space and which nodes are each group's members. Nodes route requests by the one they hold
// (today built from the config file, zkv_routing_initial; with the shard controller, its
// latest), clients cache one (zkv_client.h), and replies carry its number so that a client can
// tell when it is stale.
//
// A key's shard is zkv_shard_of (zkv_shard.h): the same function in servers and clients.
#ifndef ZKV_ROUTING_H
#define ZKV_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"

typedef struct {
    uint64_t num;          // configuration number, from 1 (0: none)
    uint32_t nshards;      // shards of the key space
    uint64_t *shard_group; // the group serving each shard (0: none), nshards of them
    size_t n_groups;       // groups
    uint64_t *group_ids;   // their ids, ascending
    uint64_t *group_first; // index in members of each group's first member
    uint64_t *group_size;  // number of members of each group
    uint64_t *members;     // every group's members, group after group
    size_t n_members;      // their number
    // Where nodes are (optional: a configuration may name none): ascending ids, and each
    // node's peer and client endpoint; the same joined one per line, as config_reply has them.
    size_t n_nodes;           // nodes with endpoints
    uint64_t *node_ids;       // their ids, ascending
    char **peer_eps;          // each one's peer endpoint (owned strings)
    char **client_eps;        // each one's client endpoint (owned strings)
    char **keys;              // each one's CURVE public key (Z85), "-" for none (owned strings)
    zkv_bytes_t peer_lines;   // the peer endpoints joined by '\n' (kept in step)
    zkv_bytes_t client_lines; // the client endpoints joined by '\n'
    zkv_bytes_t key_lines;    // the keys joined by '\n'
} zkv_routing_t;

// Longest endpoint a configuration carries.
#define ZKV_ROUTING_MAX_ENDPOINT 255

// A configuration numbered num of groups (ids ascending and distinct, sizes[i] members each,
// members group after group), shards not assigned yet. NULL on a bad argument.
zkv_routing_t *zkv_routing_new (uint64_t num, uint32_t nshards, const uint64_t *group_ids,
                                const uint64_t *sizes, const uint64_t *members, size_t n_groups);
void zkv_routing_destroy (zkv_routing_t **self_p);
zkv_routing_t *zkv_routing_dup (const zkv_routing_t *self);

// The configuration a cluster starts from: shards dealt out in turn to the groups that serve
// keys (every group but the shard controller, group 0), in id order: shard s is served by the
// (s mod n)-th of them.
void zkv_routing_deal (zkv_routing_t *self);

// Sets node id's endpoints and public key (adds the node, or replaces what it had; key NULL or
// "-": none). ZKV_EINVAL for id 0, an endpoint that is empty, too long or not printable ASCII
// without spaces, or a key that is not 40 characters of Z85.
int zkv_routing_set_node (zkv_routing_t *self, uint64_t id, const char *peer, const char *client,
                          const char *key);
// Node id's endpoints and key (borrowed; key "-" for none): false when the configuration names
// none. Any pointer may be NULL.
bool zkv_routing_node (const zkv_routing_t *self, uint64_t id, const char **peer,
                       const char **client, const char **key);
// True if text is a CURVE public key in Z85 (40 characters of its alphabet).
bool zkv_routing_key_ok (const char *text, size_t len);
// Forgets the endpoints of nodes that are no member of any group.
void zkv_routing_prune_nodes (zkv_routing_t *self);
// The endpoints of node_ids (n of them, ascending) in lines (one per line, as config_reply and
// ctrl_join carry them) into self; ZKV_EPROTO when they do not match or are not endpoints.
int zkv_routing_set_nodes (zkv_routing_t *self, const zkv_u64s_t *node_ids,
                           const zkv_bytes_t *peer_lines, const zkv_bytes_t *client_lines,
                           const zkv_bytes_t *key_lines);

uint32_t zkv_routing_shard_of (const zkv_routing_t *self, const uint8_t *key, size_t len);
// The group serving key (0: none).
uint64_t zkv_routing_group_of (const zkv_routing_t *self, const uint8_t *key, size_t len);
// A group's members (NULL, *n_p 0 for a group not in the configuration).
const uint64_t *zkv_routing_members (const zkv_routing_t *self, uint64_t group, size_t *n_p);
// True if node is a member of any group.
bool zkv_routing_has_node (const zkv_routing_t *self, uint64_t node);
// The shards group serves: owned[s] for each shard (nshards entries, written to owned).
void zkv_routing_owned (const zkv_routing_t *self, uint64_t group, bool *owned);

// A config_reply describing it (arrays borrowed from self: do not free the message).
void zkv_routing_to_reply (const zkv_routing_t *self, zkv_config_reply_t *out);
// The configuration a config_reply describes, checked as hostile input (consistent sizes,
// ascending group ids, shards served by known groups). NULL and *err when it is not one.
zkv_routing_t *zkv_routing_from_reply (const zkv_config_reply_t *m, int *err);

// The configuration as an encoded config_reply (node 0, nonce 0), *out owned; or the codec's
// error. And back: the configuration bytes encode, checked as hostile input (NULL and *err).
int zkv_routing_encode (const zkv_routing_t *self, zkv_bytes_t *out);
zkv_routing_t *zkv_routing_decode (const uint8_t *buf, size_t len, int *err);

#endif
