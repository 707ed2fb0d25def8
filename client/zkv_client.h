// zkv_client: the C client of a zkv cluster (linearizable get / put / append / delete and
// compare-and-set, node status).
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
//   ZKV_ETIMEOUT when an attempt may have been proposed: its outcome is UNKNOWN (it may have
//   been applied, now or later), it did not fail. Every other error means "not applied":
//   ZKV_ETOOBIG / ZKV_EINVAL (refused before or by the server); ZKV_EUNREACHABLE (never sent:
//   no node connected in time, or, at once, every node refused the connection or failed its
//   handshake); or, at the timeout, the refusal every attempt got before it was proposed
//   (ZKV_ENOTLEADER when no node led: no quorum; ZKV_EBUSY...).
// - Sessions: the servers forget a client idle for /cluster/session_ttl_ms (log time; docs/cli.md,
//   "How the client behaves"). A request they can no longer tell from a retry of a forgotten
//   one is answered "session expired": the client takes a new id (zkv_client_id changes, seqs
//   restart at 1); sent only once, the request was not applied and goes again at once, unseen;
//   retried, a put or append returns ZKV_ESESSION: its outcome is UNKNOWN, as for ZKV_ETIMEOUT.
//   A new client's first write fetches the configuration first, for the log time its reply
//   names, so that it is not refused so.
// - A missing key is not an empty one: zkv_client_get returns ZKV_ENOTFOUND for it, and
//   zkv_client_read says found false. Appending to a missing key creates it.
// - Revisions: every write gives the key a new revision, larger than any it had before (a
//   64-bit number, not a count); reads return it. A conditional write (zkv_client_write with a
//   condition, zkv_client_cas) applies only if the key still holds the value or revision it
//   expects, else it returns ZKV_ECOMPARE, changes nothing and reports the key's current
//   revision (0: it does not exist). With them, clients build locks and counters.
// - Thread safety: none. Use one client per thread; a client may move between threads if calls
//   never overlap. Clients in different threads are independent.
//
// Exports: the library is built with hidden symbols; only functions declared here (and in
// zkv_error.h) with ZKV_EXPORT in front are public (zkv_export.h). A new public function gets
// ZKV_EXPORT on its declaration; the ctest install.check fails on one that is declared here
// without it, and on any exported symbol not declared here.
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

// A client of the nodes at endpoints[0..n-1] ("tcp://host:port" or "host:port", their client
// sockets; see zkv_client_endpoint), whose node ids are 1..n in that order (the order of the
// config file's nodes). NULL if n is 0 or an endpoint is invalid.
ZKV_EXPORT zkv_client_t *zkv_client_new (const char *const *endpoints, size_t n);
// The same with explicit node ids (ids[i] is the node at endpoints[i]).
ZKV_EXPORT zkv_client_t *zkv_client_new_nodes (const uint64_t *ids, const char *const *endpoints,
                                               size_t n);
// The same over CURVE: server_keys[i] is the public key (Z85) of the node at endpoints[i], and
// key_file the client's certificate (`zkv keygen FILE` writes FILE and FILE_secret; the cluster
// allows its public key in /cluster/client_keys). NULL with one line in err on failure.
ZKV_EXPORT zkv_client_t *zkv_client_new_curve (const uint64_t *ids, const char *const *endpoints,
                                               const char *const *server_keys, size_t n,
                                               const char *key_file, char *err, size_t errlen);
// A client of the cluster a config file describes (its nodes' client endpoints, keys and
// limits). Under /cluster/security = curve the client's key is key_file, else $ZKV_KEY, else
// the file's /cluster/client_cert. On failure returns NULL and writes one line into err
// ("local.cfg:12: ..."); err may be NULL.
ZKV_EXPORT zkv_client_t *zkv_client_new_from_config_key (const char *path, const char *key_file,
                                                         char *err, size_t errlen);
// zkv_client_new_from_config_key with key_file NULL.
ZKV_EXPORT zkv_client_t *zkv_client_new_from_config (const char *path, char *err, size_t errlen);
// Longest endpoint accepted.
#define ZKV_CLIENT_MAX_ENDPOINT 255
// Checks a client endpoint and writes the form the client connects to into out (outlen bytes;
// out may be NULL to check only): "host:port" becomes "tcp://host:port"; "tcp://host:port",
// "ipc://path" and "inproc://name" stay as they are. 0, or ZKV_EINVAL with one line in why
// saying what is wrong ("'tcp://10.0.0.1' has no port (expected host:port, ...)").
ZKV_EXPORT int zkv_client_endpoint (const char *endpoint, char *out, size_t outlen, char *why, size_t whylen);
// Destroys the client and nulls *self_p; does nothing on NULL.
ZKV_EXPORT void zkv_client_destroy (zkv_client_t **self_p);

// Reads key. On 0, *value_p is a new heap buffer of *len_p bytes plus a NUL not counted (free it;
// NULL never). ZKV_ENOTFOUND: the key does not exist (*value_p NULL). Errors: ZKV_ETIMEOUT,
// ZKV_ENOQUORUM, ZKV_ETOOBIG (key), ZKV_EINVAL (empty key), ...
ZKV_EXPORT int zkv_client_get (zkv_client_t *self, const void *key, size_t key_len, void **value_p,
                    size_t *len_p, int timeout_ms);

// A key as read.
typedef struct {
    void *value;       // its value plus a NUL not counted (heap; NULL when not found)
    size_t len;        // its length
    bool found;        // the key exists
    uint64_t revision; // its revision (0 when not found)
} zkv_client_value_t;

// Reads key with its revision. 0 whether or not the key exists (out->found); errors as for
// zkv_client_get. Free out with zkv_client_value_free.
ZKV_EXPORT int zkv_client_read (zkv_client_t *self, const void *key, size_t key_len, zkv_client_value_t *out,
                     int timeout_ms);
ZKV_EXPORT void zkv_client_value_free (zkv_client_value_t *value);

// Writes, for zkv_client_write.
#define ZKV_CLIENT_PUT    1
#define ZKV_CLIENT_APPEND 2
#define ZKV_CLIENT_DELETE 3

// A write's condition.
#define ZKV_CLIENT_IF_NONE     0 // always applies
#define ZKV_CLIENT_IF_VALUE    1 // the key exists and holds exactly value
#define ZKV_CLIENT_IF_REVISION 2 // the key's revision is revision (0: the key does not exist)
typedef struct {
    int kind;           // ZKV_CLIENT_IF_*
    const void *value;  // IF_VALUE: the value expected
    size_t value_len;   //
    uint64_t revision;  // IF_REVISION: the revision expected
} zkv_client_cond_t;

// A put, append or delete (op ZKV_CLIENT_*), applied only if cond holds (NULL: always). 0:
// applied, *revision_p (may be NULL) the key's new revision (a delete of a missing key: 0).
// ZKV_ECOMPARE: the condition did not hold, nothing changed, *revision_p the key's current
// revision. ZKV_ETIMEOUT, ZKV_ESESSION: unknown outcome. ZKV_ETOOBIG, ZKV_EINVAL: refused.
ZKV_EXPORT int zkv_client_write (zkv_client_t *self, int op, const void *key, size_t key_len,
                      const void *value, size_t value_len, const zkv_client_cond_t *cond,
                      uint64_t *revision_p, int timeout_ms);
// Deletes key (a missing key: nothing to do, 0). Results as for put.
ZKV_EXPORT int zkv_client_delete (zkv_client_t *self, const void *key, size_t key_len, int timeout_ms);
// Compare-and-set: sets key to value if it holds expect (expect NULL: if it does not exist).
// Results as for zkv_client_write.
ZKV_EXPORT int zkv_client_cas (zkv_client_t *self, const void *key, size_t key_len, const void *expect,
                    size_t expect_len, const void *value, size_t value_len, uint64_t *revision_p,
                    int timeout_ms);
// Sets key to value. 0: applied. ZKV_ETIMEOUT, ZKV_ESESSION: unknown outcome. ZKV_ETOOBIG:
// refused.
ZKV_EXPORT int zkv_client_put (zkv_client_t *self, const void *key, size_t key_len,
                               const void *value, size_t value_len, int timeout_ms);
// Appends value to key's value (a missing key counts as empty). Results as for put.
ZKV_EXPORT int zkv_client_append (zkv_client_t *self, const void *key, size_t key_len,
                                  const void *value, size_t value_len, int timeout_ms);

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
ZKV_EXPORT void zkv_client_config_free (zkv_client_config_t *config);
// The shard of a key among nshards: what the cluster routes it by (FNV-1a 64 modulo nshards).
ZKV_EXPORT uint32_t zkv_client_shard_of (const void *key, size_t key_len, uint32_t nshards);
// Configuration num (UINT64_MAX: the latest), read linearizably. ZKV_ENOTFOUND: no such one yet.
ZKV_EXPORT int zkv_client_ctrl_query (zkv_client_t *self, uint64_t num, zkv_client_config_t *config,
                                      int timeout_ms);
// Groups join: n_groups ids (ascending, new, not 0), group_sizes[i] members each, members group
// after group, and where those members are (n_nodes of them, ascending ids; every node of the
// cluster learns its new peers from the configuration).
ZKV_EXPORT int zkv_client_ctrl_join (zkv_client_t *self, size_t n_groups, const uint64_t *group_ids,
                                     const uint64_t *group_sizes, const uint64_t *members,
                                     const zkv_client_node_t *nodes, size_t n_nodes,
                                     uint64_t *num_p, int timeout_ms);
// Groups leave (in the configuration, not 0).
ZKV_EXPORT int zkv_client_ctrl_leave (zkv_client_t *self, size_t n_groups,
                                      const uint64_t *group_ids, uint64_t *num_p, int timeout_ms);
// A shard is served by group from the next configuration on.
ZKV_EXPORT int zkv_client_ctrl_move (zkv_client_t *self, uint64_t shard, uint64_t group,
                                     uint64_t *num_p, int timeout_ms);

// One line about the last call's outcome: the server's error text or what the client saw
// ("no reply from any of 3 nodes within 5000 ms"); "" after a success.
ZKV_EXPORT const char *zkv_client_last_error (const zkv_client_t *self);
// Message for a code (0 or a negative ZKV_E* code); never NULL. Same as zkv_strerror.
ZKV_EXPORT const char *zkv_client_strerror (int rc);

// This client's id and the seq of its last request (0 before the first).
ZKV_EXPORT uint64_t zkv_client_id (const zkv_client_t *self);
ZKV_EXPORT uint64_t zkv_client_last_seq (const zkv_client_t *self);
// Node id the client currently sends to first (its cached leader).
ZKV_EXPORT uint64_t zkv_client_leader (const zkv_client_t *self);
// How long one attempt waits before trying the next node (ms, > 0).
ZKV_EXPORT void zkv_client_set_attempt_timeout (zkv_client_t *self, int attempt_ms);
// Sets the largest key and value this client accepts (zkv_client_new_from_config takes them
// from the file; the servers enforce their own limits too).
ZKV_EXPORT void zkv_client_set_limits (zkv_client_t *self, size_t max_key, size_t max_value);
// Largest key and value this client accepts.
ZKV_EXPORT size_t zkv_client_max_key (const zkv_client_t *self);
ZKV_EXPORT size_t zkv_client_max_value (const zkv_client_t *self);

// Nodes, in the order given.
ZKV_EXPORT size_t zkv_client_node_count (const zkv_client_t *self);
ZKV_EXPORT uint64_t zkv_client_node_id (const zkv_client_t *self, size_t index);
ZKV_EXPORT const char *zkv_client_node_endpoint (const zkv_client_t *self, size_t index);

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
    size_t n_followers;            // the node leads the group: its followers (0 otherwise)
    const uint64_t *follower_ids;  // their ids (owned by the node status)
    const uint64_t *follower_lags; // each one's lag: entries of the leader's log it is not
                                   // known to hold
} zkv_group_status_t;

// What one node reports.
typedef struct {
    uint64_t node;              // the answering node's id
    size_t n_groups;            // number of groups it hosts
    zkv_group_status_t *groups; // heap array of n_groups (zkv_node_status_free)
    uint8_t *states;            // the groups' shard states (their shard_states point in here)
    uint64_t uptime_ms;         // time since the node started (0: an older node says nothing)
    char version[32];           // its zkv version ("" when it says nothing)
    uint64_t *followers;        // the groups' follower ids and lags (theirs point in here)
} zkv_node_status_t;

// Asks the node at index for its status; waits up to timeout_ms. 0 and *status filled, or
// ZKV_ETIMEOUT / ZKV_EPROTO, or ZKV_EUNREACHABLE at once when the node refuses the connection
// or fails its handshake.
ZKV_EXPORT int zkv_client_status (zkv_client_t *self, size_t index, int timeout_ms, zkv_node_status_t *status);
// Frees what status holds and zeroes it.
ZKV_EXPORT void zkv_node_status_free (zkv_node_status_t *status);
// "follower", "pre-candidate", "candidate", "leader", or "unknown".
ZKV_EXPORT const char *zkv_client_role_name (uint64_t role);

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
ZKV_EXPORT int zkv_client_save_chunk (zkv_client_t *self, uint64_t group, uint64_t save_id, uint64_t index,
                           uint64_t offset, size_t max_bytes, int timeout_ms,
                           zkv_client_save_chunk_t *out);
// Frees what chunk holds and zeroes it.
ZKV_EXPORT void zkv_client_save_chunk_free (zkv_client_save_chunk_t *chunk);

#ifdef __cplusplus
}
#endif

#endif
