// The deterministic simulator's world: N nodes, each hosting a replica of every group (the
// group driver zkvd runs, cluster/zkv_replica.h) over a memstore shared by its groups, and in
// KV mode a frontend (cluster/zkv_front.h) that clerks talk to; a seeded network and an event
// queue in simulated time. One thread; same seed, same run.
//
// Nodes are numbered 0..n-1 here (Raft id = index + 1). Every step (one event) is followed by
// the safety checks of sim_check.c; a violation (or sim_fail) prints the seed, what failed and
// the last trace events, then leaves through the guard set by sim_guard (or exits 1).
//
// Messages in flight: a message is dropped if, at delivery time, its destination is down or the
// link from its sender to its destination is cut. A message whose sender crashed after sending
// it is still delivered (it was on the wire). A message sent to node X before X crashed and
// restarted IS delivered to the new incarnation if X is up again when it arrives: a real
// network can do that too (a queued ZeroMQ message outlives a peer's restart), and it is the
// harsher choice.
#ifndef ZKV_SIM_H
#define ZKV_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_raft.h"
#include "zkv_rng.h"

#define SIM_MAX_NODES 9
#define SIM_MS        UINT64_C (1000)    // microseconds in a millisecond
#define SIM_SEC       UINT64_C (1000000) // microseconds in a second
#define SIM_EPOCH_MS  UINT64_C (1700000000000) // the nodes' wall clocks at simulated time 0

typedef struct sim sim_t;

// Network behaviour while "unreliable" / "long reordering" are on. All chances are per mille.
typedef struct {
    uint32_t delay_min_us;       // reliable network: delay range of every message
    uint32_t delay_max_us;       //
    uint32_t unrel_drop_pm;      // unreliable: chance a message is dropped
    uint32_t unrel_dup_pm;       // unreliable: chance a message is delivered twice
    uint32_t unrel_delay_max_us; // unreliable: extra delay drawn from [0, this]
    uint32_t long_pm;            // long reordering: chance a message gets a long delay
    uint32_t long_min_us;        // long delay range
    uint32_t long_max_us;        //
    bool long_requests;          // long reordering holds back requests too (stale RPCs)
} sim_net_config_t;

// Testing the tester: a deliberately broken runtime that the checks must catch (zkv-sim
// selftest). Never set by scenarios.
typedef enum {
    SIM_SABOTAGE_NONE = 0,
    SIM_SABOTAGE_NO_SYNC,           // the disk lies: a sync makes nothing durable
    SIM_SABOTAGE_NO_HARD_STATE,     // the disk drops every term and vote written
    SIM_SABOTAGE_FLIP_ENTRY,        // the network flips a byte in some replicated entries
    SIM_SABOTAGE_APPLY_WRONG,       // node 1's state machine applies a different command
    SIM_SABOTAGE_FORGET_LOG,        // a restarted node's disk hands back its term and vote, no log
    SIM_SABOTAGE_STREAM_NO_PROMOTE, // streaming: a state machine that boots on a state behind
                                    // its snapshot instead of saying it is missing
    SIM_SABOTAGE_COUNT_,
} sim_sabotage_t;

typedef struct {
    uint64_t seed;            // everything random derives from it
    int n_nodes;              // 1..SIM_MAX_NODES
    int n_groups;             // groups every node hosts, 1..4 (0: 1)
    uint32_t tick_us;         // one Raft tick (10 ms)
    uint32_t election_ticks;  // 30: election timeout 300-600 ms
    uint32_t heartbeat_ticks; // 10: heartbeat every 100 ms
    uint64_t snapshot_every;  // state machine snapshots every K applied entries, 0 never
    bool unreliable;          // start with an unreliable network
    bool trace;               // print every trace event as it happens (stdout)
    bool narrate;             // print human lines for notable events (demo)
    bool quiet;               // a failure prints one line, not the trace tail (sweep)
    sim_sabotage_t sabotage;  // SIM_SABOTAGE_NONE but in zkv-sim selftest
    sim_net_config_t net;     // network parameters
    // Raft tunables (batching, pipelining, chunking); 0 keeps the core's default.
    uint32_t max_entries_per_msg;   // entries in one AppendEntries
    size_t max_bytes_per_msg;       // entry payload bytes in one AppendEntries
    uint32_t max_inflight_msgs;     // unacknowledged AppendEntries per follower
    size_t snapshot_chunk_bytes;    // InstallSnapshot chunk size
    size_t max_apply_bytes;         // committed bytes one ready hands out to apply
    uint64_t max_uncommitted_bytes; // a leader's budget of uncommitted bytes (0: none)
    // The driver: an unread snapshot view is released after this many ms (0: the default's; 1:
    // after a tick, so nearly every transfer starts with a fresh snapshot).
    uint32_t view_idle_ms;
    bool no_pre_vote;           // run Raft without PreVote (§9.6)
    bool no_check_quorum;       // ... without CheckQuorum and leader stickiness (§6.2)
    bool persist_before_send;   // the leader persists before sending its appends too
    uint32_t disk_delay_max_us; // a sync takes [0, this] us; messages and ticks go on meanwhile
    // The KV service (sim_kv.h): nodes run zkv_kv over memory kvstores and answer clerks.
    bool kv;             // KV mode
    size_t maxraftstate; // KV mode: snapshot once the log holds this many bytes (0: never)
    // Client sessions (cluster/zkv_kv.h): the policy the replicas stamp (0: zkv_kv's defaults,
    // an hour, 65,536) and the nodes' wall clocks, which the leaders stamp on commands. A
    // node's clock reads SIM_EPOCH_MS + its skew + the simulated ms times log_clock_x: a fast
    // clock lets sessions of minutes expire within a run of seconds (the margin, 60 s of log
    // time, stays a constant) with the protocol's own numbers.
    uint64_t session_ttl_ms; // sessions idle this long (log time) expire
    uint64_t max_sessions;   // per group
    uint32_t log_clock_x;    // the clocks run this many times faster than simulated time (0: 1)
    uint64_t clock_skew_ms;  // each node's clock is ahead by [0, this] ms (drawn per node)
    // Sharding (sim_shard.h; with kv): group 0 runs the shard controller, groups 1.. are shard
    // groups that follow its configurations and move shards between them.
    bool shards;                  // sharded mode
    size_t shard_chunk_bytes;     // records per pulled chunk (0: 512)
    uint64_t shard_rate_per_tick; // pulls' bytes per tick at most (0: no limit)
    // Streamed snapshots (sim_stream.c; not with kv): the state machine is durable on its own,
    // a snapshot is metadata, its bytes are read from a view and staged chunk by chunk.
    bool stream;              // streaming mode
    size_t stream_pad;        // a snapshot's stream: 24 header bytes + pad + (chain % pad)
    uint32_t req_drop_pm;     // chance the leader's application cannot read a chunk now
    uint32_t view_loss_pm;    // ... finds the view it reads from released
    uint64_t view_idle_us;    // views unread this long are released (0: kept)
    uint32_t chunk_reject_pm; // chance a follower's application refuses a received chunk as
                              // malformed (the driver drops the stream, restarts Raft)
} sim_config_t;

// Fills the defaults above (seed 1, 3 nodes, no snapshots, reliable network).
void sim_config_defaults (sim_config_t *cfg);

sim_t *sim_new (const sim_config_t *cfg);
void sim_destroy (sim_t **self_p);

// --- running -------------------------------------------------------------------------------

// Runs sim_fn under a failure guard: returns 0 if it returned normally, -1 if any check or
// sim_fail failed inside it (the failure was already printed). Guards do not nest.
int sim_guard (sim_t *self, void (*sim_fn) (sim_t *self, void *arg), void *arg);
// Reports a failure (scenario assertion): prints seed, message and trace tail, leaves through
// the guard (or exits 1 without one).
void sim_fail (sim_t *self, const char *fmt, ...) __attribute__ ((noreturn, format (printf, 2, 3)));
bool sim_failed (sim_t *self);
// The invariant a failed run violated ("election safety", ...), NULL for other failures.
const char *sim_violated (sim_t *self);

uint64_t sim_now (sim_t *self); // simulated time in microseconds
uint64_t sim_seed (sim_t *self);
int sim_n (sim_t *self);          // number of nodes
zkv_rng_t *sim_rng (sim_t *self); // the world's PRNG, for scenarios' random choices
// Runs one event. False if the queue is empty (never: ticks keep it full).
bool sim_step (sim_t *self);
// Runs every event up to and including simulated time now + us.
void sim_run_for (sim_t *self, uint64_t us);
// Runs events until pred returns true (checked before each step) or until simulated time
// reaches deadline (absolute). Returns pred's final answer.
bool sim_run_until (sim_t *self, uint64_t deadline, bool (*pred) (sim_t *self, void *arg),
                    void *arg);

// Schedules fn (self, arg) at absolute simulated time at (a fault schedule, a client).
void sim_at (sim_t *self, uint64_t at, void (*fn) (sim_t *self, void *arg), void *arg);

// --- nodes ---------------------------------------------------------------------------------

bool sim_is_up (sim_t *self, int node);
// The group the calls below are about (an index 0..n_groups-1; group id index + 1). Scenarios
// of one group never set it.
void sim_set_group (sim_t *self, int g);
int sim_group (sim_t *self);
int sim_n_groups (sim_t *self);
// The node's Raft core (read-only), NULL while it is down.
const zkv_raft_t *sim_raft (sim_t *self, int node);
// Status of an up node; false (status zeroed) when it is down.
bool sim_status (sim_t *self, int node, zkv_raft_status_t *status);
// Proposes a command at node (then runs its ready loop at once). 0, ZKV_ENOTLEADER, or
// ZKV_ESTOPPED when the node is down.
int sim_propose (sim_t *self, int node, const void *data, size_t len, uint64_t *index_p,
                 uint64_t *term_p);
// Crashes node: unsynced writes are lost (torn: a prefix survives, last entry maybe torn), the
// core and the state machine are destroyed. Links are left as they are. No-op if down.
void sim_crash (sim_t *self, int node, bool torn);
// Crashes node in the middle of its next persist: that ready's writes are made but not
// synced, then the crash happens (torn or not) before any message of it is sent. It stays
// pending until the node next writes (an idle follower may not write for a while): while the
// node is up, sim_restart is a no-op, so cancel it (or sim_crash) before restarting.
void sim_crash_mid_write (sim_t *self, int node, bool torn);
// Cancels a pending sim_crash_mid_write.
void sim_cancel_mid_write (sim_t *self, int node);
// Restarts a down node from its memstore (a new incarnation). No-op if up.
void sim_restart (sim_t *self, int node);
uint64_t sim_incarnation (sim_t *self, int node);
// Every sync of node takes exactly us from now on (it keeps taking messages and ticks
// meanwhile); sim_reset_disk_delay returns it to the world's disk_delay_max_us.
void sim_set_disk_delay (sim_t *self, int node, uint32_t us);
void sim_reset_disk_delay (sim_t *self, int node);
// Durable bytes in node's memstore (entries + snapshot): the lab's LogSize.
size_t sim_durable_bytes (sim_t *self, int node);

// --- the state machine ---------------------------------------------------------------------

// Last index node's state machine applied (0 when down).
uint64_t sim_applied (sim_t *self, int node);
// True if node (up) has applied index; then *hash_p is the hash of that entry (type + data).
bool sim_applied_hash (sim_t *self, int node, uint64_t index, uint64_t *hash_p);
// The committed entry at index as first applied by any node: false if none yet. data is NULL
// for a no-op entry. Pointers stay valid until sim_destroy.
bool sim_committed (sim_t *self, uint64_t index, const uint8_t **data_p, size_t *len_p,
                    uint8_t *type_p);
uint64_t sim_max_committed (sim_t *self); // highest index any node applied
uint64_t sim_entry_hash (uint8_t type, const void *data, size_t len);

// --- linearizable reads (ReadIndex) --------------------------------------------------------

typedef enum {
    SIM_READ_PENDING = 0, // asked, not answered yet
    SIM_READ_SERVED,      // answered from the node's state machine
    SIM_READ_FAILED,      // refused: the node stopped leading
    SIM_READ_LOST,        // the node crashed first
} sim_read_state_t;

// Asks node for a linearizable read (zkv_raft_read_index), then runs its ready loop. Returns
// the read's id (> 0), or 0 when the node is down or refuses (not the leader). Once its
// ready confirms the read, the node answers it as soon as it applied the read's index; the
// answer must reflect everything committed before the read was asked ("linearizable read").
uint64_t sim_read (sim_t *self, int node);
// A read's state; once served, *applied_p gets the index its answer reflects.
sim_read_state_t sim_read_state (sim_t *self, uint64_t id, uint64_t *applied_p);

// --- the network ---------------------------------------------------------------------------

// The lab's connect/disconnect: every link to and from node.
void sim_connect (sim_t *self, int node);
void sim_disconnect (sim_t *self, int node);
bool sim_is_connected (sim_t *self, int node); // connect() state, as in the lab
// One directed link.
void sim_link (sim_t *self, int from, int to, bool up);
// Partition: nodes with equal group[i] talk, others not (group has n entries).
void sim_partition (sim_t *self, const int *group);
// Every link up.
void sim_heal (sim_t *self);
void sim_set_unreliable (sim_t *self, bool on);
// Received snapshot chunks refused as malformed (cfg.chunk_reject_pm) while on (the default);
// off when the world heals.
void sim_set_chunk_faults (sim_t *self, bool on);
void sim_set_long_reordering (sim_t *self, bool on);

// --- counters ------------------------------------------------------------------------------

typedef struct {
    uint64_t msgs_sent;           // every message handed to the network
    uint64_t bytes_sent;          // their encoded bytes
    uint64_t rpcs_sent;           // requests only (vote, append, snapshot): the lab's RPC count
    uint64_t rpc_bytes_sent;      // their encoded bytes: the lab's bytesTotal
    uint64_t msgs_dropped;        // lost: unreliable, cut link, destination down
    uint64_t msgs_duplicated;     // delivered twice
    uint64_t msgs_delivered;      // handed to a core
    uint64_t elections;           // distinct (term, leader) observed
    uint64_t max_term;            // highest term any node reached
    uint64_t crashes;             // crashes injected
    uint64_t restarts;            // restarts
    uint64_t snapshots;           // snapshots taken by state machines
    uint64_t snapshots_installed; // snapshots applied from a leader
    uint64_t reads_served;        // linearizable reads answered
    uint64_t reads_failed;        // ... refused by a node that stopped leading
    uint64_t chunk_reqs;          // streaming: chunk requests handed to the leader's application
    uint64_t chunks_read;         // ... answered with bytes of a view
    uint64_t chunks_written;      // ... received chunks staged by followers
    uint64_t streams_started;     // ... chunks at offset 0 staged
    uint64_t views_unavailable;   // ... requests answered zkv_raft_snapshot_unavailable
    uint64_t snapshots_wanted;    // ... readies asking for a fresh snapshot (want_snapshot)
    uint64_t streams_promoted;    // ... staged streams made live at restart
    uint64_t states_lost;         // ... nodes booted with need_snapshot
    uint64_t leaders_mid_stream;  // ... elected shortly after staging part of a stream
    uint64_t chunks_rejected;     // ... received chunks refused as malformed (a fault)
    uint64_t streams_refused;     // ... streams the driver dropped (Raft restarted from the store)
    uint64_t shard_calls;         // sharding: calls of shard groups to other groups
    uint64_t shard_events;        // ... shard events published (configurations, pulls, deletions)
    uint64_t sessions_expired;    // client sessions: evicted idle (summed over replicas)
    uint64_t sessions_capped;     // ... evicted for max_sessions (summed over replicas)
    uint64_t sessions_refused;    // ... commands answered ZKV_ESESSION when applied (replicas)
    uint64_t sessions_busy;       // ... new sessions answered busy, the table full (replicas)
    uint64_t sessions_new;        // ... sessions clerks started after a ZKV_ESESSION answer
    uint64_t sessions_unknown;    // ... clerks' operations ended ZKV_ESESSION (outcome unknown)
    uint64_t checks;              // invariant checks run
    uint64_t events;              // events stepped
} sim_counters_t;

void sim_counters (sim_t *self, sim_counters_t *out);
// FNV-1a hash of every trace event so far.
uint64_t sim_trace_hash (sim_t *self);
// Prints a human line with the simulated timestamp when narrate is on (demo).
void sim_narrate (sim_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
// Records a scenario-level event in the trace (hash and ring): kind is a short word.
void sim_note (sim_t *self, const char *kind, int node, uint64_t a, uint64_t b);

// --- streamed snapshots (cfg.stream) --------------------------------------------------------

// The fault "state missing": node's state machine state is lost (its live state and staging
// area, as after a disk problem; its Raft log and hard state stay). Crashes it if up, restarts
// it with need_snapshot. Refused (false: only crashed and restarted) when another node's state
// is missing, or when it would leave a committed entry on fewer than a majority of nodes,
// unless force.
bool sim_lose_state (sim_t *self, int node, bool force);
// Node takes a snapshot at its applied index now (streaming or not). 0 or the core's code.
int sim_snapshot_now (sim_t *self, int node);
// Crashes node in the middle of its next write that saves a snapshot (streaming: the install
// of a received stream), torn or not; cancelled by sim_cancel_mid_write.
void sim_crash_at_install (sim_t *self, int node, bool torn);
// Chunks node staged so far (all incarnations), and streams it started.
uint64_t sim_chunks_written (sim_t *self, int node);

// End-of-run checks: everything committed is durable on a majority. Fails like a violation.
void sim_check_final (sim_t *self);

#endif
