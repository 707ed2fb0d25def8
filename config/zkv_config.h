// zkv_config: the cluster configuration file (ZPL, read by CZMQ's zconfig), validated against one
// schema.
//
// One file describes the whole cluster: tunables (/cluster), nodes (/node, repeated) and Raft
// groups
// (/group, repeated; group 0 is the shard controller). zkv_config_load refuses a bad file with one
// message that names the file, the line and what is wrong:
//
//     local.cfg:12: /cluster/tick_ms: expected 1..1000, got 0
//
// A loaded config is immutable; every pointer it hands out lives as long as the config.
#ifndef ZKV_CONFIG_H
#define ZKV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zkv_config_t zkv_config_t;

// Cluster-wide tunables (/cluster). zkv_config_schema_markdown documents each one.
typedef struct {
    const char *name;              // cluster name, for logs and events
    uint64_t shards;               // number of shards, fixed when the cluster is created
    uint64_t tick_ms;              // one Raft tick, in milliseconds
    uint64_t election_ticks;       // election timeout drawn from [this, 2 * this) ticks
    uint64_t heartbeat_ticks;      // leader heartbeat period, in ticks
    bool pre_vote;                 // run PreVote before raising the term
    bool check_quorum;             // a leader without a quorum for an election timeout steps down
    uint64_t snapshot_bytes;       // compact the log once it holds this many bytes
    uint64_t snapshot_chunk_bytes; // InstallSnapshot and shard moves send chunks of this size
    uint64_t shard_move_bytes_per_sec;   // shard pulls at most this fast (0: unlimited)
    uint64_t storage_write_buffer_bytes; // LevelDB's memtable, before each node's stagger
    uint64_t max_key_bytes;              // largest key a client may write
    uint64_t max_value_bytes;            // largest value a client may write
    uint64_t max_batch_entries;          // entries in one AppendEntries
    uint64_t max_batch_bytes;            // entry bytes in one AppendEntries
    uint64_t max_inflight;               // unacknowledged AppendEntries per follower
    uint64_t max_inflight_bytes;         // ... and their entry bytes
    uint64_t max_request_bytes;          // key and value bytes of the requests waiting
    uint64_t max_queued_reply_bytes;     // answer bytes waiting for one client connection
    uint64_t max_queued_bytes;           // ... for all of them
    uint64_t max_term_jump;              // a Raft message more terms ahead than this is dropped
    uint64_t max_uncommitted_bytes;      // a leader answers busy past this many uncommitted bytes
    uint64_t max_requests;               // client requests a node holds waiting, in all
    uint64_t max_requests_per_client;    // ... from one client connection
    uint64_t max_connections;            // connections each listening socket of a node holds
    uint64_t max_queued_replies;         // answers queued for one client connection
    uint64_t session_ttl_ms;             // a client session idle this long (log time) expires
    uint64_t max_sessions;               // client sessions a group keeps at most
    uint64_t max_saves;            // saves (zkv snapshot save) a group's leader serves at once
    const char *security;          // "curve" (peers, clients, subscribers authenticated and
                                   // encrypted) or "none" (plain text)
    const char *client_keys;       // directory of client public certificates allowed, or NULL
    const char *monitor_keys;      // ... of read-only ones (events and status), or NULL
    const char *client_cert;       // the certificate zkv and the client library use by default
                                   // with this file (NULL: none; $ZKV_KEY or --key)
    uint64_t http_max_connections; // connections a node's HTTP endpoint holds at once
    uint64_t http_timeout_ms;      // an idle HTTP connection is closed after this long
    uint64_t stats_interval_ms;    // zkv.node.stats is published this often
    uint64_t status_events;        // recent events the status page keeps
    uint64_t status_max_nodes;     // nodes it keeps
    uint64_t status_max_groups;    // groups it keeps
} zkv_config_cluster_t;

// One node (/node): a zkvd process.
typedef struct {
    uint64_t id;        // non-zero, unique
    const char *peer;   // endpoint other nodes send Raft and shard traffic to
    const char *client; // endpoint clients send requests to
    const char *events; // endpoint the node publishes events on
    const char *data;   // data directory (relative paths are resolved against the file's folder)
    const char *cert;   // its certificate file (public; FILE_secret beside it, read by the node
                        // alone), or NULL
    const char *public_key; // its public key (Z85, 40 characters), or NULL: read from cert
    const char *http;       // endpoint of its HTTP server (tcp://IP:port: metrics), or NULL
} zkv_config_node_t;

// A list of node ids, in the order the file gives them.
typedef struct {
    size_t count;        // number of ids
    const uint64_t *ids; // the ids
} zkv_config_ids_t;

// One Raft group (/group). Group 0 is the shard controller; the others serve shards.
typedef struct {
    uint64_t id;              // unique
    zkv_config_ids_t members; // its voters, each a defined node, no repeats
    const char *machine;      // the state machine it runs (zkv_config_machine_known)
} zkv_config_group_t;

// Loads and validates a file. On failure returns NULL and writes one line (no newline) into
// err: "FILE:LINE: PATH: problem". err may be NULL.
zkv_config_t *zkv_config_load (const char *path, char *err, size_t errlen);

// Same, from text; name stands for the file in messages. Relative data paths stay as written.
zkv_config_t *zkv_config_load_str (const char *text, const char *name, char *err, size_t errlen);

// Destroys a config and nulls the caller's pointer; does nothing on NULL.
void zkv_config_destroy (zkv_config_t **self_p);

// The file name given to load (or the name given to load_str).
const char *zkv_config_source (const zkv_config_t *self);

// All tunables at once.
const zkv_config_cluster_t *zkv_config_cluster (const zkv_config_t *self);

// One getter per tunable.
const char *zkv_config_name (const zkv_config_t *self);
uint64_t zkv_config_shards (const zkv_config_t *self);
uint64_t zkv_config_tick_ms (const zkv_config_t *self);
uint64_t zkv_config_election_ticks (const zkv_config_t *self);
uint64_t zkv_config_heartbeat_ticks (const zkv_config_t *self);
bool zkv_config_pre_vote (const zkv_config_t *self);
bool zkv_config_check_quorum (const zkv_config_t *self);
uint64_t zkv_config_snapshot_bytes (const zkv_config_t *self);
uint64_t zkv_config_snapshot_chunk_bytes (const zkv_config_t *self);
uint64_t zkv_config_shard_move_bytes_per_sec (const zkv_config_t *self);
uint64_t zkv_config_storage_write_buffer_bytes (const zkv_config_t *self);
// The LevelDB memtable of node node_id: storage_write_buffer_bytes times 1, 1.25, 1.5 or 1.75 by
// node id (1, 2, 3, 4, then again from 5). Replicas write the same bytes, so with one size they
// fill their memtables and start their level-0 compactions at the same moment, and for the
// second or two a compaction takes, every member of a group is slow at once (on one machine,
// they also share its disk and cores). Staggered, a quorum stays fast.
uint64_t zkv_config_storage_write_buffer_for_node (const zkv_config_t *self, uint64_t node_id);
uint64_t zkv_config_max_key_bytes (const zkv_config_t *self);
uint64_t zkv_config_max_value_bytes (const zkv_config_t *self);
uint64_t zkv_config_max_batch_entries (const zkv_config_t *self);
uint64_t zkv_config_max_batch_bytes (const zkv_config_t *self);
uint64_t zkv_config_max_inflight (const zkv_config_t *self);

// Nodes, in file order.
size_t zkv_config_node_count (const zkv_config_t *self);
const zkv_config_node_t *zkv_config_node_at (const zkv_config_t *self, size_t index);
// The node with this id, or NULL.
const zkv_config_node_t *zkv_config_node (const zkv_config_t *self, uint64_t id);
// The node with this id; if the file does not define it, NULL and a message for the user:
// "local.cfg: node 7 is not defined (nodes: 1, 2, 3)". For `zkvd --node ID`.
const zkv_config_node_t *zkv_config_node_require (const zkv_config_t *self, uint64_t id, char *err,
                                                  size_t errlen);

// Groups, in file order.
size_t zkv_config_group_count (const zkv_config_t *self);
const zkv_config_group_t *zkv_config_group_at (const zkv_config_t *self, size_t index);
// The group with this id, or NULL.
const zkv_config_group_t *zkv_config_group (const zkv_config_t *self, uint64_t id);
// Writes the ids of the groups node_id is a member of (file order, at most max of them) into
// ids and returns how many there are in all. ids may be NULL when max is 0.
size_t zkv_config_groups_of_node (const zkv_config_t *self, uint64_t node_id, uint64_t *ids,
                                  size_t max);

// --- Security (config/zkv_config_keys.c) ------------------------------------------------------

// True when /cluster/security is curve (the default).
bool zkv_config_curve (const zkv_config_t *self);
// node's public key (Z85, 40 characters and a NUL) into key: its public_key, or read from its
// cert file (both given: they must agree). 0, or ZKV_ECONFIG with one line in err.
int zkv_config_node_key (const zkv_config_t *self, const zkv_config_node_t *node, char key[41],
                         char *err, size_t errlen);
// What zkvd and the client library need under curve: every node's public key readable. 0 (also
// when security is none), or ZKV_ECONFIG with one line in err naming the node and the fix.
int zkv_config_check_keys (const zkv_config_t *self, char *err, size_t errlen);
// True if text is a CURVE public key as Z85 text (40 characters that decode).
bool zkv_config_key_valid (const char *text);

// True if name is a state machine zkvd can run (actors/zkv_group_machine.c makes each).
bool zkv_config_machine_known (const char *name);
// True when group 0 runs the shard controller: shard groups follow its configurations.
bool zkv_config_has_controller (const zkv_config_t *self);

// The schema as a Markdown table (every option: path, type, range, default, description).
// The caller frees the string.
char *zkv_config_schema_markdown (void);

#endif
