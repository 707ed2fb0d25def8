// The Raft core: pure and deterministic. Inputs are messages, ticks and proposals; outputs are
// collected in a "ready" batch: state to persist, messages to send after persisting, entries
// and snapshots to apply (etcd raft's Ready; cowsql/raft's step). No sockets, no clock, no
// rand(), no disk: time is zkv_raft_tick, randomness a seeded PRNG, storage the caller's job.
//
// The caller's loop, after any input:
//     while (zkv_raft_has_ready (r)) {
//         zkv_raft_ready (r, &rd);
//         send rd.early_msgs (may leave before the sync: see below);
//         persist rd (snapshot, compact, truncate, append, hard state) and sync;
//         send rd.msgs; apply rd's snapshot (if apply_snapshot) and rd.committed in order;
//         answer rd.reads (each once applied >= its index; index 0: not the leader);
//         zkv_raft_advance (r, &rd);
//     }
// The persist may also run in the background: the core keeps taking steps and ticks between
// zkv_raft_ready and zkv_raft_advance (no new ready is handed out meanwhile).
//
// With cfg.send_before_persist, the leader's AppendEntries and InstallSnapshot come in
// early_msgs: they may leave before its own sync, so the leader writes its log in parallel
// with its followers (dissertation §10.2.1); it counts its own entries toward a quorum only
// once they are persisted. Everything whose meaning depends on persisted state (votes,
// acknowledgements) stays in msgs. Without it, early_msgs is always empty.
//
// Snapshots come in two modes. Blob mode (default): zkv_raft_snapshot hands the core the state
// machine's state as bytes, which it keeps while it is the latest, sends in chunks and hands
// a follower whole (ready.snapshot_data). Streaming mode (cfg.snapshot_stream): the state
// machine's state is durable on its own (at its applied index), so a snapshot is metadata only
// (index, term) and the core never holds its bytes:
// - sending: a follower that needs the snapshot gets chunk requests in ready.chunk_reqs; the
//   caller reads those bytes from its own consistent view of that snapshot and hands them to
//   zkv_raft_snapshot_chunk, which sends them (one chunk in flight per follower, resumable);
//   zkv_raft_snapshot_unavailable when it can no longer read that snapshot;
// - receiving: each in-order chunk comes in ready.chunk, to be written with the persisted state
//   (before the sync); the acknowledgement leaves after zkv_raft_advance. A chunk at offset 0
//   starts a stream: drop any partial one. After the last chunk the core installs the snapshot
//   as in blob mode (ready.has_snapshot with no data, apply_snapshot: the caller's state is
//   now the snapshot's; make it the live state once the snapshot's metadata is durable).
//   The caller STAGES a stream: its old state stays whole (and durable) until then, for the
//   core may abandon a stream at any time (the node campaigns, a new leader's log follows
//   ours, a crash): no committed entries are handed out meanwhile, and the next stream
//   starts at offset 0 again. Only a state that is really gone is cfg.need_snapshot.
#ifndef ZKV_RAFT_H
#define ZKV_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_logstore.h"
#include "zkv_msg.h"

typedef struct zkv_raft zkv_raft_t;

typedef enum {
    ZKV_ROLE_FOLLOWER = 0,
    ZKV_ROLE_PRE_CANDIDATE = 1, // running a PreVote round, term not raised (§9.6)
    ZKV_ROLE_CANDIDATE = 2,
    ZKV_ROLE_LEADER = 3,
} zkv_role_t;

typedef struct {
    uint64_t group;               // replication group id, stamped on every message
    uint64_t id;                  // this node's id (non-zero)
    const uint64_t *voters;       // every member's id, this node included (copied)
    size_t n_voters;              // number of members
    uint32_t election_ticks;      // election timeout is drawn from [this, 2 * this)
    uint32_t heartbeat_ticks;     // leader heartbeat period
    bool pre_vote;                // run PreVote before raising the term
    bool check_quorum;            // leader steps down without a quorum for an election timeout
    uint32_t max_entries_per_msg; // batching: entries in one AppendEntries
    size_t max_bytes_per_msg;     // batching: entry payload bytes in one AppendEntries
    uint32_t max_inflight_msgs;   // pipelining: unacknowledged AppendEntries per follower
    uint64_t max_inflight_bytes;  // ... and their entry bytes (at least one message goes; 0: no
                                  // bound): what a slow follower can hold of the leader's memory
    size_t snapshot_chunk_bytes;  // InstallSnapshot chunk size
    size_t max_apply_bytes;       // committed entries' payload bytes one ready hands out to
                                  // apply (at least one entry; the rest in the next readies):
                                  // bounds what an apply batch holds, however far it lags
    uint64_t max_uncommitted_bytes; // a leader refuses a proposal (ZKV_EBUSY) that would take
                                  // the payload bytes of its entries not yet committed past
                                  // this (one entry always fits); 0: no limit (etcd's
                                  // MaxUncommittedEntriesSize)
    uint64_t max_term_jump;       // a message whose term is more than this above ours is
                                  // dropped (a peer that is wrong, not one that is behind: with
                                  // PreVote terms rise only with real elections); 0: no limit.
                                  // A node at term 0 (empty) takes any term.
    uint64_t seed;                // seeds the PRNG behind election timeouts
    uint64_t applied;             // index the state machine durably applied before boot
    bool send_before_persist;     // the leader's appends go in early_msgs (§10.2.1)
    bool snapshot_stream;         // streaming snapshots (see the top of this file)
    bool need_snapshot;           // streaming: the state machine's state is missing: apply
                                  // nothing, do not campaign, refuse appends until a leader's
                                  // snapshot at or above our own is installed
} zkv_raft_config_t;

// Sensible defaults (election 10 ticks, heartbeat 1 tick, pre_vote and check_quorum on, ...);
// the caller still sets group, id, voters and seed.
void zkv_raft_config_defaults (zkv_raft_config_t *cfg);

// A linearizable read the leader confirmed (ReadIndex, dissertation §6.4): serve ctx's read
// once the state machine applied index. index 0: refused, this node is no longer the leader
// (answer ZKV_ENOTLEADER).
typedef struct {
    uint64_t ctx;   // the caller's tag from zkv_raft_read_index
    uint64_t index; // read after applying this index; 0 when the read failed
} zkv_raft_read_t;

// Streaming mode: the caller reads [offset, offset + max_bytes) of snapshot's stream for
// follower `to` (a little more if its format needs whole records) and calls
// zkv_raft_snapshot_chunk.
typedef struct {
    uint64_t to;                  // the follower
    zkv_snapshot_meta_t snapshot; // the snapshot whose stream is read
    uint64_t offset;              // first byte
    size_t max_bytes;             // chunk size (cfg.snapshot_chunk_bytes)
} zkv_raft_chunk_req_t;

// Streaming mode: a chunk received from the leader, to persist.
typedef struct {
    zkv_snapshot_meta_t snapshot; // the snapshot it belongs to
    uint64_t offset;              // its offset; 0 starts a stream (drop any partial one)
    const uint8_t *data;          // its bytes
    size_t len;                   // their number
    bool done;                    // the last chunk of the stream
} zkv_raft_chunk_t;

// One batch of work for the caller. Pointers stay valid until zkv_raft_advance.
typedef struct {
    // 1. Persist, in this order, then sync.
    bool has_snapshot;            // save this snapshot (taken here or received)
    zkv_snapshot_meta_t snapshot; // what it covers
    const uint8_t *snapshot_data; // its bytes
    size_t snapshot_len;          // their number
    uint64_t compact_to;          // then drop stored entries <= this (0: none)
    uint64_t truncate_from;       // then drop stored entries >= this (0: none)
    const zkv_entry_t *entries;   // then append these
    size_t n_entries;             // their number
    bool has_hard_state;          // then save hard_state
    zkv_hard_state_t hard_state;  // term, vote, commit
    bool has_chunk;               // streaming: write this received chunk (before the sync)
    zkv_raft_chunk_t chunk;       // what it is
    // 0. Before persisting (or while), the caller may send these (send_before_persist).
    const zkv_msg_t *early_msgs; // the leader's AppendEntries and InstallSnapshot
    size_t n_early_msgs;         // their number
    // 2. After the sync, send.
    const zkv_msg_t *msgs; // messages to other nodes
    size_t n_msgs;         // their number
    // 3. Then apply: the snapshot first (if apply_snapshot), then committed entries in order.
    bool apply_snapshot;          // the snapshot above came from the leader: load it
    const zkv_entry_t *committed; // newly committed entries, ascending, contiguous
    size_t n_committed;           // their number
    // 4. Reads confirmed (or failed) since the last ready, in no particular order.
    const zkv_raft_read_t *reads; // serve each once applied >= its index
    size_t n_reads;               // their number
    // 5. Streaming: chunks to read and hand back with zkv_raft_snapshot_chunk (any time).
    const zkv_raft_chunk_req_t *chunk_reqs; // in request order
    size_t n_chunk_reqs;                    // their number
    // 6. Streaming, leader: a follower needs a snapshot newer than ours. Take one at the
    //    applied index (zkv_raft_snapshot) when convenient; asked again if none comes.
    bool want_snapshot;
} zkv_raft_ready_t;

typedef struct {
    uint64_t id;             // this node
    zkv_role_t role;         // current role
    uint64_t term;           // current term
    uint64_t vote;           // vote in this term, 0 for none
    uint64_t leader;         // known leader of this term, 0 for none
    uint64_t commit;         // commit index
    uint64_t applied;        // last index handed out for applying
    uint64_t first_index;    // first index held in the log (snapshot_index + 1)
    uint64_t last_index;     // last index in the log
    uint64_t last_term;      // term of last_index
    uint64_t stable_index;   // last index known to be persisted
    uint64_t snapshot_index; // last index covered by the snapshot, 0 for none
    uint64_t snapshot_term;  // its term
    size_t log_bytes;        // payload bytes held in the log
    uint64_t terms_refused;  // messages dropped for a term jump past max_term_jump
    uint64_t commit_conflicts; // appends refused: they contradicted committed entries
    uint64_t leader_conflicts; // appends and snapshots refused: another leader of the term is known
    uint64_t regressions;      // leader: followers found holding less than they acknowledged
    uint64_t uncommitted_bytes; // leader: payload bytes proposed in its term, not committed
    uint64_t proposals_refused; // leader: proposals refused past max_uncommitted_bytes
    uint64_t elections;         // elections this node started (became candidate; a PreVote
                                // round that got no quorum is not one)
    uint64_t elections_won;     // ... and won (became leader)
} zkv_raft_status_t;

// Boots from a group's durable state (NULL for a fresh node). Returns NULL on a bad config.
zkv_raft_t *zkv_raft_new (const zkv_raft_config_t *cfg, const zkv_logstore_state_t *boot);
void zkv_raft_destroy (zkv_raft_t **self_p);

// One unit of logical time.
void zkv_raft_tick (zkv_raft_t *self);
// Handles one message addressed to this node (copies what it keeps). Returns 0, or a negative
// code for a message that is not for this group or node (it is ignored).
int zkv_raft_step (zkv_raft_t *self, const zkv_msg_t *msg);
// True for the messages that keep leadership and elections going and carry no entries:
// heartbeats (appends without entries), every reply, votes. A host sends them apart from the
// appends and snapshot chunks, so that they never wait behind data on the way or on arrival
// (Raft needs no order between them: the network may reorder anything).
bool zkv_raft_msg_urgent (const zkv_msg_t *msg);
// Appends a command to the leader's log. ZKV_ENOTLEADER on a non-leader.
int zkv_raft_propose (zkv_raft_t *self, const uint8_t *data, size_t len, uint64_t *index_p,
                      uint64_t *term_p);
// Asks for a linearizable read tagged ctx (ReadIndex, dissertation §6.4): once the leader has
// committed an entry of its term and a quorum acknowledged a heartbeat round sent after this
// call, a ready carries {ctx, index}. Reads arriving together share one round. A leader that
// steps down fails its pending reads (index 0). ZKV_ENOTLEADER on a non-leader.
int zkv_raft_read_index (zkv_raft_t *self, uint64_t ctx);
// The state machine's state through index (<= applied) is data: compact the log up to it.
// Streaming mode: data NULL, len 0 (the state is the caller's); ZKV_EBUSY while need_snapshot.
int zkv_raft_snapshot (zkv_raft_t *self, uint64_t index, const uint8_t *data, size_t len);
// Streaming mode: the bytes a chunk request asked for (whole records may pass max_bytes; at
// least one byte unless done). ZKV_EINVAL when no such request is pending any more (the
// follower moved on, this node stopped leading): drop it.
int zkv_raft_snapshot_chunk (zkv_raft_t *self, uint64_t to, const zkv_snapshot_meta_t *snapshot,
                             uint64_t offset, const uint8_t *data, size_t len, bool done);
// Streaming mode: the caller cannot read snapshot any more (e.g. it restarted since): the
// transfers of it start over with the node's latest snapshot, which the caller should make
// one it can read (zkv_raft_snapshot at its applied index) before this call.
void zkv_raft_snapshot_unavailable (zkv_raft_t *self, const zkv_snapshot_meta_t *snapshot);

bool zkv_raft_has_ready (zkv_raft_t *self);
void zkv_raft_ready (zkv_raft_t *self, zkv_raft_ready_t *rd);
// Everything in rd was persisted, sent and applied.
void zkv_raft_advance (zkv_raft_t *self, const zkv_raft_ready_t *rd);

void zkv_raft_status (const zkv_raft_t *self, zkv_raft_status_t *status);
// A leader's followers and the highest index each is known to hold (Figure 2 matchIndex): up
// to max of them into ids and matches; returns how many there are (0 when not leading).
size_t zkv_raft_followers (const zkv_raft_t *self, uint64_t *ids, uint64_t *matches, size_t max);
// Term of the entry at index (the snapshot's term at snapshot_index). ZKV_ECOMPACTED below
// the snapshot, ZKV_EUNAVAILABLE past the last index.
int zkv_raft_term_at (const zkv_raft_t *self, uint64_t index, uint64_t *term_p);
// The entry at index, or NULL if it is not in the log.
const zkv_entry_t *zkv_raft_entry_at (const zkv_raft_t *self, uint64_t index);
// The snapshot the node holds (NULL, 0 when none).
const uint8_t *zkv_raft_snapshot_data (const zkv_raft_t *self, size_t *len_p);

const char *zkv_role_name (zkv_role_t role);

#endif
