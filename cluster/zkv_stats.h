// zkv_stats: a node's figures as plain structs, and the pure code around them: request kinds and
// outcome classes, latency histograms, the zkv.node.stats event built from them. Who fills what:
// the group driver its group's figures (zkv_replica_stats), the frontend core the requests'
// (zkv_front_stats); zkvd's actors add what only they see (bytes on the wire, the database's
// size) and put them on the node's board (actors/zkv_board.h), from which /metrics
// (zkv_metrics.h) and the stats event are made.
#ifndef ZKV_STATS_H
#define ZKV_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"

// Followers a group's figures list (a group has at most 15 members: config/zkv_config_schema.c).
#define ZKV_STATS_MAX_FOLLOWERS 16

// What a client request asked for (label kind=).
typedef enum {
    ZKV_STATS_GET = 0,
    ZKV_STATS_PUT = 1,
    ZKV_STATS_APPEND = 2,
    ZKV_STATS_OTHER = 3, // anything else a client may send (the controller's commands, ...)
    ZKV_STATS_KINDS = 4
} zkv_stats_kind_t;

// How it was answered (label outcome=).
typedef enum {
    ZKV_STATS_OK = 0,        // done
    ZKV_STATS_NOT_FOUND = 1, // done: no such key
    ZKV_STATS_REDIRECT = 2,  // not the leader, wrong group, not ready: the client goes elsewhere
    ZKV_STATS_BUSY = 3,      // refused under load: retry
    ZKV_STATS_TIMEOUT = 4,   // timed out: outcome unknown
    ZKV_STATS_INVALID = 5,   // refused: too big, malformed, denied, stale
    ZKV_STATS_SESSION = 6,   // the client's session expired
    ZKV_STATS_ERROR = 7,     // any other error
    ZKV_STATS_OUTCOMES = 8
} zkv_stats_outcome_t;

// The kind of a request's op (ZKV_OP_*), the outcome class of an answer's status (0 or the
// positive value of a ZKV_E* code), and their label values ("get", "not_found", ...).
zkv_stats_kind_t zkv_stats_kind_of (uint64_t op);
zkv_stats_outcome_t zkv_stats_outcome_of (uint64_t status);
const char *zkv_stats_kind_name (zkv_stats_kind_t kind);
const char *zkv_stats_outcome_name (zkv_stats_outcome_t outcome);

// Latency histograms: bucket upper bounds in microseconds (100 us .. 10 s; one more bucket,
// +Inf, holds the rest).
#define ZKV_STATS_BUCKETS 16
extern const uint64_t zkv_stats_bounds_us[ZKV_STATS_BUCKETS];
// ... the same in seconds, as text ("0.0001" .. "10").
extern const char *const zkv_stats_bounds_text[ZKV_STATS_BUCKETS];

typedef struct {
    uint64_t buckets[ZKV_STATS_BUCKETS + 1]; // observations per bucket (not cumulative); the
                                             // last one is past every bound
    uint64_t count;                          // observations
    uint64_t sum_us;                         // their sum
} zkv_stats_hist_t;

void zkv_stats_hist_observe (zkv_stats_hist_t *h, uint64_t us);

// One group on one node (zkv_replica_stats, and what its actor adds).
typedef struct {
    uint64_t group;               // the group
    uint64_t role;                // zkv_role_t
    uint64_t term;                // current term
    uint64_t leader;              // known leader, 0 unknown
    uint64_t commit;              // commit index
    uint64_t applied;             // applied index (UINT64_MAX while its state is missing)
    uint64_t last_index;          // last log index
    uint64_t snapshot_index;      // index the latest snapshot covers
    uint64_t log_entries;         // entries in the log (past the snapshot)
    uint64_t log_bytes;           // their payload bytes
    uint64_t data_bytes;          // approximate bytes of the state machine's state
    uint64_t config;              // configuration number applied (0: none)
    uint64_t elections;           // elections this node started in the group
    uint64_t elections_won;       // ... and won
    uint64_t snapshots_taken;     // snapshots taken here
    uint64_t snapshots_installed; // snapshots installed from a leader
    uint64_t snapshot_bytes;      // size of the latest one taken or installed
    uint64_t snapshot_sent_bytes; // bytes of snapshot chunks sent to followers
    uint64_t snapshot_recv_bytes; // bytes of snapshot chunks received and written
    uint64_t appended;            // entries appended to the log here
    uint64_t syncs;               // log syncs
    uint64_t waiting;             // requests waiting for their answer in the group
    uint64_t busy;                // requests refused: too many waiting
    uint64_t uncommitted_bytes;   // leader: bytes proposed and not committed
    uint64_t proposals_refused;   // leader: proposals refused past max_uncommitted_bytes
    uint64_t refused;             // peer messages refused (term jumps, second leaders, ...)
    uint64_t sessions;            // client sessions (dedup records) the group keeps
    uint64_t dropped;             // the actor's sends dropped on full queues
    size_t n_followers;           // leader: its followers (0 otherwise)
    uint64_t follower_ids[ZKV_STATS_MAX_FOLLOWERS];   // their ids
    uint64_t follower_match[ZKV_STATS_MAX_FOLLOWERS]; // the highest index each is known to hold
} zkv_group_stats_t;

// A follower's lag: entries of the leader's log it is not known to hold.
uint64_t zkv_stats_lag (const zkv_group_stats_t *g, size_t follower);

// The frontend's figures (zkv_front_stats, and what its actor adds).
typedef struct {
    uint64_t requests[ZKV_STATS_KINDS][ZKV_STATS_OUTCOMES]; // client requests answered here
    zkv_stats_hist_t latency[ZKV_STATS_KINDS];              // ... from arrival to answer
    uint64_t forwarded;           // client requests sent on to another node's leader
    uint64_t forwarded_in;        // requests other nodes forwarded here
    uint64_t pending;             // requests waiting for their answer now
    uint64_t pending_bytes;       // ... their key and value bytes
    uint64_t timeouts;            // answered "timed out"
    uint64_t busy;                // answered "busy"
    uint64_t malformed;           // client messages that did not decode or made no sense
    uint64_t stale;               // answers that answered nothing waiting
    uint64_t bytes_in;            // bytes of client messages received
    uint64_t bytes_out;           // bytes of answers sent to clients
    uint64_t connections;         // client connections open
    uint64_t connections_refused; // ... closed past max_connections
    uint64_t slow_clients;        // clients disconnected for not reading their answers
    uint64_t denied;              // requests a monitor key may not make
    uint64_t dropped;             // the actor's sends dropped on full queues
} zkv_front_stats_t;

// The HTTP endpoint's own counters (actors/zkv_http.h).
typedef struct {
    uint64_t ok, not_found, bad_method, other; // requests answered, by status
    uint64_t open;                             // connections open
    uint64_t refused;                          // connections closed past the limit
} zkv_http_stats_t;

// Everything a node reports.
typedef struct {
    uint64_t node;             // its id
    const char *version;       // zkv's version
    uint64_t uptime_ms;        // since it started
    uint64_t db_bytes;         // its LevelDB's files on disk
    zkv_front_stats_t front;   // the frontend
    zkv_http_stats_t http;     // the HTTP endpoint (zeros without one)
    bool http_on;              // it has one
    size_t n_groups;           // groups hosted
    zkv_group_stats_t *groups; // their figures (n_groups; not owned)
} zkv_node_stats_t;

// Builds the zkv.node.stats event body (event_stats) from s: its arrays are allocated (free
// with zkv_msg_free). seq: the event's number in this node's life (from 1); time_ms: the
// wall clock; interval_ms: how often the node publishes it.
void zkv_stats_event (const zkv_node_stats_t *s, uint64_t seq, uint64_t time_ms,
                      uint64_t interval_ms, zkv_msg_t *out);

#endif
