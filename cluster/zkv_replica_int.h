// Internals of the group driver (zkv_replica.h), shared by its files: zkv_replica.c (boot, the
// ready loop, state and events), zkv_replica_requests.c (client requests and their answers),
// zkv_replica_snapshots.c (snapshot policy and transfers), zkv_replica_work.c (the state
// machine's own work).
#ifndef ZKV_REPLICA_INT_H
#define ZKV_REPLICA_INT_H

#include "zkv_replica.h"
#include "zkv_stats.h"

// A write this replica proposed, waiting for its entry to be applied.
typedef struct {
    uint64_t index;     // log index the proposal got
    uint64_t term;      // ... in this term
    uint64_t handle;    // the frontend's id of the request
    uint64_t client_id; // the request's client
    uint64_t seq;       // ... and sequence number
} zkv_rep_write_t;

// A read waiting for ReadIndex (index 0) or for the state machine to apply its index.
typedef struct {
    uint64_t ctx;       // its ReadIndex tag (unique per replica)
    uint64_t index;     // confirmed read index, 0 until confirmed
    uint64_t handle;    // the frontend's id of the request
    uint64_t client_id; // the request's client
    uint64_t seq;       // ... and sequence number
    uint64_t op;        // ... op
    zkv_bytes_t key;    // ... key (owned)
} zkv_rep_read_t;

// A view of the state machine at a snapshot's index, shared by the transfers reading it.
typedef struct {
    void *view;     // the state machine's view
    uint64_t index; // the applied index it shows (the snapshot's)
    uint64_t term;  // that snapshot's term
    int refs;       // holders: the replica while it is the latest, and transfers
    uint64_t used;  // tick it was opened or a transfer last started over it
} zkv_rep_view_t;

// A save of the group's state by a client (zkv_replica_saves.c).
typedef struct {
    uint64_t id;         // its id, echoed by the client's next requests (0: free slot)
    void *view;          // the state machine's view of the state at index
    void *reader;        // its stream reader
    uint64_t index;      // the applied index the view shows
    uint64_t term;       // that entry's term
    uint64_t config;     // the configuration the state is in (0: none)
    zkv_bytes_t states;  // its shards' states at index (owned; empty: not a shard group)
    uint64_t used;       // tick of its last request
} zkv_rep_save_t;

// A snapshot transfer to one follower.
typedef struct {
    uint64_t to;          // the follower (0: free slot)
    zkv_rep_view_t *view; // what it reads (a reference)
    void *reader;         // the state machine's reader of it
    uint64_t used;        // tick of its last chunk
} zkv_rep_stream_t;

struct zkv_replica {
    zkv_replica_config_t cfg;       // as given (voters copied by the core)
    const zkv_replica_host_t *host; // effects
    void *host_arg;                 // the host's state
    zkv_logstore_t *log;            // the node's log store (not owned)
    zkv_sm_t *sm;                   // the state machine (owned)
    zkv_raft_t *raft;               // the core
    uint64_t group;                 // our group
    uint64_t ticks;                 // ticks so far: the driver's clock
    bool failed;                    // a store failed: do nothing more
    bool usable;                    // the state machine has a state (not missing)
    // the ready being synced (ZKV_REPLICA_SYNC_LATER)
    bool syncing;              // a sync is outstanding
    zkv_raft_ready_t rd;       // its ready
    bool rd_chunk_ok;          // its received chunk was written (not refused)
    zkv_hard_state_t synced;   // hard state as of the last sync (term and vote matter)
    uint64_t recv_bytes;       // bytes of the stream being received so far
    // requests
    zkv_rep_write_t *writes;   // proposed writes, ascending index (a ring: head..n)
    size_t n_writes;           // end of the live range
    size_t head_writes;        // first live element
    size_t cap_writes;         // allocated
    zkv_rep_read_t *reads;     // reads, asked order
    size_t n_reads;            //
    size_t cap_reads;          //
    uint64_t next_ctx;         // ReadIndex tags
    zkv_sm_results_t results;  // scratch for applies
    // snapshots
    bool want_snapshot;        // Raft asked for a fresh one (a follower needs a newer one)
    uint64_t next_size_snapshot; // tick before which no snapshot is taken for the log's size
    uint64_t last_snapshot;    // index of the last snapshot taken or installed
    zkv_rep_view_t *latest;    // the view of the latest snapshot taken here (NULL: none)
    zkv_rep_stream_t *streams; // cfg.max_streams transfers
    zkv_raft_chunk_req_t *reqs; // a ready's chunk requests, answered after its advance
    size_t cap_reqs;           //
    zkv_rep_save_t *saves;     // cfg.max_saves saves by clients
    uint64_t next_save;        // saves begun (their ids)
    // what the frontend and the events last saw
    zkv_raft_status_t last;    // status after the previous ready
    uint64_t state_tick;       // tick of the last group_state sent
    uint64_t refused;          // peer messages the core refused, as last published
    uint64_t refused_tick;     // tick it was published
    bool state_dirty;          // something changed since
    zkv_replica_counters_t counters;
    // a leader's followers and their match indexes, as the last group_state borrowed them
    uint64_t follower_ids[ZKV_STATS_MAX_FOLLOWERS];
    uint64_t follower_match[ZKV_STATS_MAX_FOLLOWERS];
};

// zkv_replica.c
void zkv_rep_fatal (zkv_replica_t *self, const char *what, int rc);
void zkv_rep_event (zkv_replica_t *self, const char *topic, uint64_t index, uint64_t bytes);
uint64_t zkv_rep_leader (const zkv_replica_t *self);
// A duration in ticks (rounded up).
uint64_t zkv_rep_ticks_of (const zkv_replica_t *self, uint64_t ms);

// zkv_replica_requests.c
// Answers a request (status 0 or negative; value borrowed; revision: the key's, 0 none).
void zkv_rep_answer (zkv_replica_t *self, uint64_t handle, uint64_t client_id, uint64_t seq,
                     int status, const char *error, const zkv_bytes_t *value, uint64_t revision);
// Committed entries were applied with these results: answer the writes proposed here.
void zkv_rep_writes_applied (zkv_replica_t *self, const zkv_entry_t *entries, size_t n,
                             const zkv_sm_results_t *results);
// Leadership was lost (or Raft restarted): every proposed write is answered "not leader".
void zkv_rep_writes_fail (zkv_replica_t *self);
// A ready's ReadIndex answers.
void zkv_rep_reads_confirmed (zkv_replica_t *self, const zkv_raft_read_t *reads, size_t n);
// Serves the confirmed reads the state machine has reached.
void zkv_rep_reads_serve (zkv_replica_t *self);
// Every waiting read is answered "not leader" (Raft restarted).
void zkv_rep_reads_fail (zkv_replica_t *self);
void zkv_rep_requests_free (zkv_replica_t *self);

// zkv_replica_work.c
// The state machine's own work (zkv_sm_ops_t.work): at a tick, or after a ready loop.
void zkv_rep_work (zkv_replica_t *self, bool tick);

// zkv_replica_saves.c
// A save's request (op ZKV_OP_SNAPSHOT): ZKV_SM_ANSWERED (a chunk of a save in progress, or a
// refusal: answered), or ZKV_SM_READ (a new save: confirm leadership, then
// zkv_rep_save_begin).
int zkv_rep_save_prepare (zkv_replica_t *self, const zkv_group_request_t *req);
// A new save's ReadIndex round is done and its index applied: the view, and the first chunk.
void zkv_rep_save_begin (zkv_replica_t *self, const zkv_rep_read_t *r);
// At a tick: releases the saves idle too long.
void zkv_rep_saves_expire (zkv_replica_t *self);
// Releases every save (Raft restarted, destroy).
void zkv_rep_saves_drop (zkv_replica_t *self);

// zkv_replica_snapshots.c
// The snapshot policy, after a ready loop.
void zkv_rep_snapshot_maybe (zkv_replica_t *self);
// Takes a snapshot at the applied index now. 0 or the core's / the state machine's code.
int zkv_rep_snapshot_take (zkv_replica_t *self);
// A ready's chunk requests (copied before its advance), answered after it.
void zkv_rep_chunk_requests (zkv_replica_t *self, const zkv_raft_chunk_req_t *reqs, size_t n);
// At a tick: releases the transfers idle too long.
void zkv_rep_streams_expire (zkv_replica_t *self);
// Releases every transfer and the latest view (Raft restarted, destroy).
void zkv_rep_streams_drop (zkv_replica_t *self);

#endif
