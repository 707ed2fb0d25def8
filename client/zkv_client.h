// zkv_client: the C client of a zkv cluster (linearizable get / put / append, node status).
//
//     zkv_client_t *client = zkv_client_new_from_config ("config/local.cfg", err, sizeof err);
//     int rc = zkv_client_put (client, "k", 1, "v", 1, 5000);
//     if (rc == ZKV_ETIMEOUT) ... the put may or may not have taken effect (unknown outcome)
//     void *value; size_t len;
//     rc = zkv_client_get (client, "k", 1, &value, &len, 5000);  ... free (value);
//     zkv_client_destroy (&client);
//
// Semantics:
// - Each client has a random 64-bit id (from the OS) and numbers its requests 1, 2, 3...; every
//   retry of a request repeats the same (client id, seq), so the servers' dedup table answers a
//   retry instead of applying it twice.
// - The client sends to the leader it last heard of (replies carry a leader hint), follows
//   "not the leader" hints at once, and tries the next node when one stays silent for an
//   attempt (zkv_client_set_attempt_timeout) or is not connected.
// - timeout_ms bounds a whole call, retries included. A put or append that reaches it returns
//   ZKV_ETIMEOUT: its outcome is UNKNOWN (it may have been applied, now or later), it did not
//   fail. Only ZKV_ETOOBIG / ZKV_EINVAL (refused before or by the server) mean "not applied".
// - Sessions: the servers forget a client idle for /cluster/session_ttl_ms (log time; docs/cli.md,
//   "How the client behaves"). A request they can no longer tell from a retry of a forgotten
//   one is answered "session expired": the client takes a new id (zkv_client_id changes, seqs
//   restart at 1); sent only once, the request was not applied and goes again at once, unseen;
//   retried, a put or append returns ZKV_ESESSION: its outcome is UNKNOWN, as for ZKV_ETIMEOUT.
// - A missing key reads as the empty value (the append model: appending to a missing key
//   creates it); zkv_client_get returns 0 with *len_p 0.
// - Thread safety: none. Use one client per thread; a client may move between threads if calls
//   never overlap. Clients in different threads are independent.
#ifndef ZKV_CLIENT_H
#define ZKV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zkv_client_t zkv_client_t;

// Limits a client built from endpoints enforces (one built from a config file uses the file's
// max_key_bytes and max_value_bytes). Larger keys or values are refused locally: ZKV_ETOOBIG.
#define ZKV_CLIENT_MAX_KEY_BYTES   1024u
#define ZKV_CLIENT_MAX_VALUE_BYTES (1024u * 1024)
// Default time one attempt waits for an answer before the same request goes to the next node.
#define ZKV_CLIENT_ATTEMPT_MS 500

// A client of the nodes at endpoints[0..n-1] ("tcp://host:port", their client sockets), whose
// node ids are 1..n in that order (the order of the config file's nodes). NULL if n is 0 or an
// endpoint is invalid.
zkv_client_t *zkv_client_new (const char *const *endpoints, size_t n);
// The same with explicit node ids (ids[i] is the node at endpoints[i]).
zkv_client_t *zkv_client_new_nodes (const uint64_t *ids, const char *const *endpoints, size_t n);
// The same over CURVE: server_keys[i] is the public key (Z85) of the node at endpoints[i], and
// key_file the client's certificate (`zkv keygen FILE` writes FILE and FILE_secret; the cluster
// allows its public key in /cluster/client_keys). NULL with one line in err on failure.
zkv_client_t *zkv_client_new_curve (const uint64_t *ids, const char *const *endpoints,
                                    const char *const *server_keys, size_t n, const char *key_file,
                                    char *err, size_t errlen);
// A client of the cluster a config file describes (its nodes' client endpoints, keys and
// limits). Under /cluster/security = curve the client's key is key_file, else $ZKV_KEY, else
// the file's /cluster/client_cert. On failure returns NULL and writes one line into err
// ("local.cfg:12: ..."); err may be NULL.
zkv_client_t *zkv_client_new_from_config_key (const char *path, const char *key_file, char *err,
                                              size_t errlen);
// zkv_client_new_from_config_key with key_file NULL.
zkv_client_t *zkv_client_new_from_config (const char *path, char *err, size_t errlen);
// Destroys the client and nulls *self_p; does nothing on NULL.
void zkv_client_destroy (zkv_client_t **self_p);

// Reads key. On 0, *value_p is a new heap buffer of *len_p bytes plus a NUL not counted (free it;
// NULL never). Errors: ZKV_ETIMEOUT, ZKV_ENOQUORUM, ZKV_ETOOBIG (key), ...
int zkv_client_get (zkv_client_t *self, const void *key, size_t key_len, void **value_p,
                    size_t *len_p, int timeout_ms);
// Sets key to value. 0: applied. ZKV_ETIMEOUT, ZKV_ESESSION: unknown outcome. ZKV_ETOOBIG:
// refused.
int zkv_client_put (zkv_client_t *self, const void *key, size_t key_len, const void *value,
                    size_t value_len, int timeout_ms);
// Appends value to key's value (a missing key counts as empty). Results as for put.
int zkv_client_append (zkv_client_t *self, const void *key, size_t key_len, const void *value,
                       size_t value_len, int timeout_ms);

// --- The shard controller (group 0) ---------------------------------------------------------
//
// The controller keeps a numbered sequence of routing configurations: which group serves each
// shard of the key space, and each group's members. Join, leave and move each make the next
// one (join and leave rebalance: shard counts within one, fewest shards moved). Each call
// returns the new configuration's number in *num_p; results as for put (ZKV_EINVAL: refused,
// with zkv_client_last_error saying why; ZKV_ETIMEOUT: unknown outcome).

// A node and where it is (a member of a group, as a config file declares it).
typedef struct {
    uint64_t id;        // node id
    const char *peer;   // its peer endpoint (other nodes' traffic)
    const char *client; // its client endpoint
    const char *key;    // its CURVE public key (Z85), NULL or "-" for none
} zkv_client_node_t;

// A routing configuration as the controller holds it.
typedef struct {
    uint64_t num;             // its number (1 is the cluster's bootstrap, from its config file)
    uint32_t nshards;         // shards of the key space
    uint64_t *shard_groups;   // the group serving each shard (0: none), nshards of them
    size_t n_groups;          // groups
    uint64_t *group_ids;      // their ids, ascending (0: the controller itself)
    uint64_t *group_sizes;    // number of members of each
    uint64_t *members;        // their members' node ids, group after group
    size_t n_nodes;           // nodes whose endpoints the configuration names
    zkv_client_node_t *nodes; // them, ascending ids (strings owned by the config)
} zkv_client_config_t;

// Frees what config holds and zeroes it.
void zkv_client_config_free (zkv_client_config_t *config);
// The shard of a key among nshards: what the cluster routes it by (FNV-1a 64 modulo nshards).
uint32_t zkv_client_shard_of (const void *key, size_t key_len, uint32_t nshards);
// Configuration num (UINT64_MAX: the latest), read linearizably. ZKV_ENOTFOUND: no such one yet.
int zkv_client_ctrl_query (zkv_client_t *self, uint64_t num, zkv_client_config_t *config,
                           int timeout_ms);
// Groups join: n_groups ids (ascending, new, not 0), group_sizes[i] members each, members group
// after group, and where those members are (n_nodes of them, ascending ids; every node of the
// cluster learns its new peers from the configuration).
int zkv_client_ctrl_join (zkv_client_t *self, size_t n_groups, const uint64_t *group_ids,
                          const uint64_t *group_sizes, const uint64_t *members,
                          const zkv_client_node_t *nodes, size_t n_nodes, uint64_t *num_p,
                          int timeout_ms);
// Groups leave (in the configuration, not 0).
int zkv_client_ctrl_leave (zkv_client_t *self, size_t n_groups, const uint64_t *group_ids,
                           uint64_t *num_p, int timeout_ms);
// A shard is served by group from the next configuration on.
int zkv_client_ctrl_move (zkv_client_t *self, uint64_t shard, uint64_t group, uint64_t *num_p,
                          int timeout_ms);

// One line about the last call's outcome: the server's error text or what the client saw
// ("no reply from any of 3 nodes within 5000 ms"); "" after a success.
const char *zkv_client_last_error (const zkv_client_t *self);
// Message for a code (0 or a negative ZKV_E* code); never NULL. Same as zkv_strerror.
const char *zkv_client_strerror (int rc);

// This client's id and the seq of its last request (0 before the first).
uint64_t zkv_client_id (const zkv_client_t *self);
uint64_t zkv_client_last_seq (const zkv_client_t *self);
// Node id the client currently sends to first (its cached leader).
uint64_t zkv_client_leader (const zkv_client_t *self);
// How long one attempt waits before trying the next node (ms, > 0).
void zkv_client_set_attempt_timeout (zkv_client_t *self, int attempt_ms);
// Sets the largest key and value this client accepts (zkv_client_new_from_config takes them
// from the file; the servers enforce their own limits too).
void zkv_client_set_limits (zkv_client_t *self, size_t max_key, size_t max_value);
// Largest key and value this client accepts.
size_t zkv_client_max_key (const zkv_client_t *self);
size_t zkv_client_max_value (const zkv_client_t *self);

// Nodes, in the order given.
size_t zkv_client_node_count (const zkv_client_t *self);
uint64_t zkv_client_node_id (const zkv_client_t *self, size_t index);
const char *zkv_client_node_endpoint (const zkv_client_t *self, size_t index);

// One group as one node sees it.
typedef struct {
    uint64_t group;              // group id (0: the shard controller)
    uint64_t role;               // 0 follower, 1 pre-candidate, 2 candidate, 3 leader
    uint64_t term;               // current term
    uint64_t leader;             // leader node id as known, 0 unknown
    uint64_t commit;             // commit index
    uint64_t applied;            // applied index
    uint64_t last_index;         // last log index
    uint64_t snapshot_index;     // index the latest snapshot covers
    uint64_t log_bytes;          // log payload bytes
    uint64_t data_bytes;         // approximate bytes its state machine keeps on disk
    uint64_t config;             // configuration number the group applied (0: none, or the
                                 // controller, or a group that follows none)
    uint32_t nshards;            // shards of the key space (0: the group reports no shard states)
    const uint8_t *shard_states; // one zkv_shard_state_t per shard (0 none, 1 serving,
                                 // 2 pulling, 3 handed off: waiting for GC); owned by the
                                 // node status
} zkv_group_status_t;

// What one node reports.
typedef struct {
    uint64_t node;              // the answering node's id
    size_t n_groups;            // number of groups it hosts
    zkv_group_status_t *groups; // heap array of n_groups (zkv_node_status_free)
    uint8_t *states;            // the groups' shard states (their shard_states point in here)
} zkv_node_status_t;

// Asks the node at index for its status; waits up to timeout_ms. 0 and *status filled, or
// ZKV_ETIMEOUT / ZKV_EPROTO.
int zkv_client_status (zkv_client_t *self, size_t index, int timeout_ms, zkv_node_status_t *status);
// Frees what status holds and zeroes it.
void zkv_node_status_free (zkv_node_status_t *status);
// "follower", "pre-candidate", "candidate", "leader", or "unknown".
const char *zkv_client_role_name (uint64_t role);

// --- Backups (zkv snapshot save, docs/cli.md) ------------------------------------------------
//
// A group's state, saved as its leader's state machine streams it (opaque bytes) from a view
// at one applied index, taken after the save began: every write acknowledged before that is in
// it. Chunk by chunk, each asked for with the save's id and the offset wanted.

typedef struct {
    uint64_t node;          // the node that answered (the group's leader)
    uint64_t save_id;       // the save: ask for its next chunk with it
    uint64_t index;         // applied index of the state saved
    uint64_t term;          // term of that index
    char machine[32];       // the group's state machine ("kv", "controller")
    uint64_t config;        // configuration number the state is in (0: none)
    uint32_t nshards;       // bytes in shard_states (0: not a shard group)
    uint8_t *shard_states;  // one zkv_shard_state_t per shard, as the state has them (owned)
    uint64_t offset;        // the chunk's offset in the stream
    uint8_t *data;          // the chunk (owned)
    size_t len;             // its length
    bool done;              // the stream's last chunk
} zkv_client_save_chunk_t;

// The chunk of group's saved state at offset: save_id 0 begins a new save (offset 0), else
// continues save_id (index: the index its begin answered). Asks the node that answered last,
// follows "not the leader" hints, tries again on silence or "busy" until timeout_ms.
// ZKV_ENOTFOUND: the save is gone (its leader changed, or it sat idle): begin again;
// ZKV_EDENIED: this client's key may not save (a monitor key); ZKV_ETIMEOUT.
int zkv_client_save_chunk (zkv_client_t *self, uint64_t group, uint64_t save_id, uint64_t index,
                           uint64_t offset, size_t max_bytes, int timeout_ms,
                           zkv_client_save_chunk_t *out);
// Frees what chunk holds and zeroes it.
void zkv_client_save_chunk_free (zkv_client_save_chunk_t *chunk);

#ifdef __cplusplus
}
#endif

#endif
