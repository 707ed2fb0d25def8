// Private to the Raft core: the node's state and the functions its files share.
//
// Files: zkv_raft.c (object, boot, queries, propose), zkv_raft_log.c (in-memory log after the
// snapshot offset), zkv_raft_step.c (addressing and the term rules of §5.1),
// zkv_raft_election.c (ticks, PreVote, votes, CheckQuorum), zkv_raft_replication.c
// (AppendEntries, progress, commit), zkv_raft_snapshot.c (compaction, InstallSnapshot),
// zkv_raft_read.c (ReadIndex), zkv_raft_ready.c (outbox, Ready / Advance).
//
// Choices worth knowing (etcd raft unless said otherwise):
// - A rejected AppendEntries reply carries the refused prev_log_index in match_index, so the
//   leader can drop stale rejections (REPLICATE: refused <= match; PROBE: not next - 1).
// - A successful reply's match_index is max(last index the message verified, our commit): the
//   committed prefix matches every later leader's log (Leader Completeness, §5.4).
// - Heartbeats are AppendEntries with no entries at prev = the follower's match (prev 0 when
//   that term was compacted), so they never fail and bound the follower's commit to what it
//   holds. Lost pipelined appends are found by a rejection of the next one, or after
//   S_STALL_HEARTBEATS heartbeats without progress (back to PROBE).
// - The leader counts itself toward a quorum at its stable index only (§10.2.1).
// - Leader stickiness: with check_quorum, a node that heard from a leader within the minimum
//   election timeout ignores RequestVote (real or pre) of a higher term (§4.2.3, §9.6).
// - ReadIndex (§6.4): every AppendEntries carries ctx = the leader's latest read round; a reply
//   of the term echoing round r proves the follower still followed us after r was sent. A read
//   waits for a round sent after it arrived (one round in flight; reads arriving meanwhile
//   share the next), and for a commit of the leader's own term before its index is taken.
// - A follower gets a snapshot only once it proved it needs one: when what it needs next was
//   compacted, the leader first probes at the snapshot's own index (whose term it knows) and
//   sends the snapshot only if that probe (or another probe at or below the snapshot) is
//   refused for a conflicting term, or twice (a heartbeat apart) for a log too short. On a
//   reordering network, appends overtaking earlier ones and acknowledgements arriving out of
//   order often make a follower look behind when it is not.
// - Snapshots are reference counted: a transfer in progress finishes with the snapshot it
//   started even if the leader takes a newer one meanwhile.
// - Streaming snapshots (cfg.snapshot_stream): a snapshot is (index, term) only. The leader
//   asks its caller for each chunk (chunk_reqs) and sends what zkv_raft_snapshot_chunk hands
//   back; the follower hands each in-order chunk to its caller and acknowledges it only after
//   the ready that carried it was advanced, so next_offset always names persisted bytes. A
//   follower receiving a stream, or whose state went missing (need_snapshot), refuses every
//   AppendEntries with conflict_term UINT64_MAX (no real term; a stale-term refusal says 0)
//   and conflict_index = the lowest snapshot it can use, and the leader streams it its
//   snapshot. The caller stages a stream and keeps its old state until the install, so a
//   follower mid-stream still votes and campaigns (abandoning the stream), and a new term's
//   leader abandons the stream by its first append. A follower whose state is missing refuses
//   a snapshot below its own (installing it would drop acknowledged entries after it:
//   next_offset UINT64_MAX), and the leader then asks its caller for a fresh snapshot at its
//   applied index (ready.want_snapshot).
// - A pending truncation is emitted in a ready of its own before a snapshot is saved, so no
//   crash leaves stale entries after a saved snapshot (the store's order is snapshot,
//   compact, truncate).
#ifndef ZKV_RAFT_INT_H
#define ZKV_RAFT_INT_H

#include "zkv_raft.h"
#include "zkv_rng.h"

// --- the in-memory log (zkv_raft_log.c) -----------------------------------------------------

// Entries offset+1 .. offset+count, the part before offset being covered by a snapshot (§7).
typedef struct {
    zkv_entry_t *items;   // heap array; live entries are items[start .. start+count)
    size_t start;         // first live slot
    size_t count;         // live entries
    size_t cap;           // allocated slots
    uint64_t offset;      // snapshot index: items[start].index == offset + 1
    uint64_t offset_term; // term of offset (the snapshot's term), 0 when offset is 0
    uint64_t stable;      // entries <= stable are durable with the caller (offset <= stable)
    size_t bytes;         // payload bytes held
} zkv_raft_log_t;

void zkv_raft_log_init (zkv_raft_log_t *log, uint64_t offset, uint64_t offset_term);
void zkv_raft_log_free (zkv_raft_log_t *log);
uint64_t zkv_raft_log_last_index (const zkv_raft_log_t *log);
uint64_t zkv_raft_log_last_term (const zkv_raft_log_t *log);
// Term at index: 0 and *term_p, ZKV_ECOMPACTED below offset, ZKV_EUNAVAILABLE past the end.
int zkv_raft_log_term (const zkv_raft_log_t *log, uint64_t index, uint64_t *term_p);
// Term at index, or 0 when the index is not held (compacted or past the end).
uint64_t zkv_raft_log_term_or0 (const zkv_raft_log_t *log, uint64_t index);
const zkv_entry_t *zkv_raft_log_entry (const zkv_raft_log_t *log, uint64_t index);
// Appends a copy of entry, whose index must be last + 1.
void zkv_raft_log_append (zkv_raft_log_t *log, const zkv_entry_t *entry);
// Drops entries >= from (offset < from <= last); stable follows.
void zkv_raft_log_truncate (zkv_raft_log_t *log, uint64_t from);
// Drops entries <= upto (offset < upto <= last); offset becomes upto.
void zkv_raft_log_compact (zkv_raft_log_t *log, uint64_t upto);
// Drops everything: the log restarts empty after (index, term).
void zkv_raft_log_reset (zkv_raft_log_t *log, uint64_t index, uint64_t term);
// Last index <= upto holding term, 0 if the log (after offset) has none.
uint64_t zkv_raft_log_last_of_term (const zkv_raft_log_t *log, uint64_t term, uint64_t upto);
// First index of the run of entries sharing the term of index (index held, > offset).
uint64_t zkv_raft_log_first_of_term (const zkv_raft_log_t *log, uint64_t index);
// True if a log ending at (last_index, last_term) is at least as up to date as ours (§5.4.1).
bool zkv_raft_log_up_to_date (const zkv_raft_log_t *log, uint64_t last_index, uint64_t last_term);

// --- per-follower replication progress (leader only) ----------------------------------------

typedef enum {
    ZKV_PR_PROBE = 0,     // one AppendEntries in flight until we learn where the logs match
    ZKV_PR_REPLICATE = 1, // pipelining up to max_inflight_msgs with an optimistic next
    ZKV_PR_SNAPSHOT = 2,  // streaming InstallSnapshot, one chunk in flight
} zkv_pr_state_t;

// A snapshot the leader streams: shared by the node and its transfers, freed by the last one.
typedef struct {
    int refs;                 // holders
    zkv_snapshot_meta_t meta; // what it covers
    zkv_bytes_t data;         // its bytes
} zkv_raft_snap_t;

typedef struct {
    uint64_t id;           // follower id
    zkv_pr_state_t state;  // probe, replicate or snapshot
    uint64_t match;        // highest index known to match ours (Figure 2 matchIndex)
    uint64_t next;         // next index to send (Figure 2 nextIndex)
    uint64_t sent_max;     // highest index sent to it in this term (entries or a snapshot)
    bool probe_sent;       // PROBE: an AppendEntries is in flight
    bool recent_active;    // heard from in this CheckQuorum round (§6.2)
    uint64_t *inflight;    // REPLICATE: last index of each unacknowledged AppendEntries (ring)
    uint64_t *inflight_sizes; // ... and its entry bytes (same slots)
    uint64_t inflight_bytes;  // their sum
    size_t inflight_head;  // oldest slot
    size_t inflight_count; // used slots
    uint32_t stall;        // REPLICATE: heartbeats with messages in flight and no progress
    zkv_raft_snap_t *snap; // SNAPSHOT: the snapshot being sent (a reference)
    uint64_t snap_offset;  // SNAPSHOT: offset of the chunk in flight
    uint64_t snap_end;     // SNAPSHOT: end of the chunk in flight
    uint64_t snap_max;     // SNAPSHOT, streaming: furthest chunk end sent in this transfer
    uint64_t snap_hint;    // SNAPSHOT: offset the follower asked for out of turn, + 1 (0 none)
    uint32_t snap_wait;    // SNAPSHOT: ticks since the chunk was sent (or requested)
    uint32_t snap_resends; // SNAPSHOT: resends of the chunk in flight with no answer since
    bool snap_req;         // SNAPSHOT, streaming: the chunk at snap_offset was requested
    uint64_t read_acked;   // highest ReadIndex round it echoed in this term (0 none)
    bool behind;           // its answer to a probe at or below our snapshot proved it needs one
    bool short_once;       // ... or said its log was too short once (maybe overtaken appends)
} zkv_raft_progress_t;

// A ReadIndex request waiting at the leader.
typedef struct {
    uint64_t ctx;   // the caller's tag
    uint64_t index; // commit index to read at, 0 until the leader committed in its term
    uint64_t round; // heartbeat round whose quorum confirms it (may not be sent yet)
} zkv_raft_pending_read_t;

// --- the node -------------------------------------------------------------------------------

struct zkv_raft {
    zkv_raft_config_t cfg;      // configuration (cfg.voters points to voters below)
    uint64_t *voters;           // own copy of the member ids
    zkv_rng_t rng;              // election timeout randomness
    zkv_role_t role;            // follower, pre-candidate, candidate or leader
    uint64_t term;              // current term (Figure 2)
    uint64_t terms_refused;     // messages dropped for a term past cfg.max_term_jump
    uint64_t commit_conflicts;  // appends refused for contradicting committed entries
    uint64_t leader_conflicts;  // appends and snapshots refused from a second leader of a term
    uint64_t regressions;       // leader: followers found holding less than they acknowledged
    uint64_t uncommitted;       // leader: payload bytes it proposed and has not committed
    uint64_t proposals_refused; // leader: proposals refused past cfg.max_uncommitted_bytes
    uint64_t elections;         // times it became candidate
    uint64_t elections_won;     // times it became leader
    uint64_t vote;              // votedFor in term, 0 for none (Figure 2)
    uint64_t leader;            // leader of this term when known
    uint64_t term_leader;       // the leader of this term, once known, kept while campaigning
    uint64_t commit;            // commit index
    uint64_t applied;           // last index handed out for applying
    zkv_raft_log_t log;         // the log
    uint32_t election_elapsed;  // ticks since the timer reset (leader: since the quorum check)
    uint32_t heartbeat_elapsed; // leader: ticks since the last heartbeat
    uint32_t timeout;           // randomized election timeout in [election, 2 * election)
    uint8_t *votes;             // real votes for votes_term: 0 unknown, 1 granted, 2 rejected
    uint64_t votes_term;        // term our candidacy asked votes for, 0 for none
    uint8_t *prevotes;          // pre-votes for prevotes_term, as votes
    uint64_t prevotes_term;     // term our PreVote rounds ask for, 0 for none
    zkv_raft_progress_t *prs;   // per voter progress (leader), own slot unused
    zkv_raft_snap_t *snap;      // the snapshot held, NULL for none

    // ReadIndex (dissertation §6.4): rounds are AppendEntries ctx values, echoed in replies.
    uint64_t read_round;            // last round sent; never goes back
    zkv_raft_pending_read_t *reads; // leader: requests not yet confirmed
    size_t n_reads;                 // their number
    size_t cap_reads;               // allocated
    zkv_raft_read_t *reads_done;    // confirmed or failed, for the next ready
    size_t n_reads_done;            // their number
    size_t cap_reads_done;          // allocated

    // Incoming InstallSnapshot transfer (follower), keyed by (index, term).
    uint64_t in_index;  // snapshot being received, 0 for none
    uint64_t in_term;   // its term
    uint64_t in_total;  // announced size
    zkv_bytes_t in_buf; // bytes received so far (data grown as chunks come; len is the fill)
    size_t in_cap;      // allocated bytes of in_buf.data
    bool need_snap;     // streaming: apply nothing, refuse appends (a stream began, or missing)
    bool missing;       // streaming: the state is gone (cfg.need_snapshot): no campaign, and
                        // only a snapshot at or above our own (log.offset) can restore it
    uint64_t in_stream_term;   // streaming: our term when the stream in progress began
    uint64_t in_next;          // streaming: bytes of in_index's stream the caller persisted
    bool in_pend;              // streaming: in_chunk waits for the next ready
    zkv_raft_chunk_t in_chunk; // streaming: that chunk (data owned)
    uint64_t in_from;          // streaming: the leader that sent it

    // Streaming, leader: a follower whose state is missing needs a snapshot newer than ours;
    // the caller is asked for one at its applied index (ready.want_snapshot).
    bool want_snap;     // ask in the next ready
    bool want_asked;    // asked before
    uint32_t want_wait; // ticks since then (asked again after an election timeout)

    // Streaming: chunk requests for the next ready.
    zkv_raft_chunk_req_t *chunk_reqs; // requests
    size_t n_chunk_reqs;              // their number
    size_t cap_chunk_reqs;            // allocated

    // Work waiting for the next ready.
    zkv_msg_t *outbox;        // messages to send
    size_t n_outbox;          // their number
    size_t cap_outbox;        // allocated
    bool snap_pending;        // the held snapshot must be persisted
    bool snap_apply;          // ... and loaded by the state machine (it came from a leader)
    uint64_t compact_to;      // stored entries <= this must go (0 none)
    uint64_t truncate_from;   // stored entries >= this must go (0 none)
    zkv_hard_state_t prev_hs; // hard state last handed out

    // The ready handed out and not yet advanced.
    bool rd_out;               // a ready is outstanding
    zkv_msg_t *rd_msgs;        // its messages (owned)
    size_t n_rd_msgs;          // their number
    zkv_entry_t *rd_entries;   // its entries to persist (owned copies)
    size_t n_rd_entries;       // their number
    zkv_entry_t *rd_committed; // its entries to apply (owned copies)
    size_t n_rd_committed;     // their number
    uint64_t rd_last;          // last index handed out to persist (clamped by truncations)
    uint64_t rd_applied;       // last index handed out to apply
    bool rd_has_hs;            // it carried a hard state
    zkv_hard_state_t rd_hs;    // that hard state
    zkv_raft_snap_t *rd_snap;  // the snapshot it carried (a reference), NULL for none
    zkv_raft_read_t *rd_reads; // its reads (owned)
    zkv_raft_chunk_req_t *rd_chunk_reqs; // its chunk requests (owned)
    bool rd_has_chunk;                   // it carried a received chunk
    zkv_raft_chunk_t rd_chunk;           // that chunk (data owned)
    uint64_t rd_chunk_from;              // its sender
};

// zkv_raft.c
size_t zkv_raft_quorum (const zkv_raft_t *self);
int zkv_raft_voter_slot (const zkv_raft_t *self, uint64_t id);
void *zkv_raft_alloc (size_t size);
void *zkv_raft_realloc (void *p, size_t size);

// zkv_raft_ready.c: the outbox.
zkv_msg_t *zkv_raft_send (zkv_raft_t *self, zkv_msg_type_t type, uint64_t to);
// A truncation from index that may reach entries handed to the caller.
void zkv_raft_note_truncate (zkv_raft_t *self, uint64_t from);
// Drops acknowledgements waiting in the outbox that vouch for entries >= from.
void zkv_raft_drop_acks_from (zkv_raft_t *self, uint64_t from);
// Drops vote grants of older terms waiting in the outbox (the term just went up).
void zkv_raft_drop_stale_grants (zkv_raft_t *self);

// zkv_raft_election.c
void zkv_raft_become_follower (zkv_raft_t *self, uint64_t term, uint64_t leader);
// True (and counted) if `from` sends appends or snapshots in our term while we know another
// leader of it: a peer that is wrong, since a term has one leader at most (§5.2). Else `from`
// is the term's leader (and a node whose state is missing records its vote for it).
bool zkv_raft_second_leader (zkv_raft_t *self, uint64_t from);
void zkv_raft_tick_election (zkv_raft_t *self);
void zkv_raft_on_request_vote (zkv_raft_t *self, const zkv_request_vote_t *m);
void zkv_raft_on_request_vote_reply (zkv_raft_t *self, const zkv_request_vote_reply_t *m);
bool zkv_raft_in_lease (const zkv_raft_t *self);

// zkv_raft_replication.c
void zkv_raft_reset_progress (zkv_raft_t *self);
void zkv_raft_free_progress (zkv_raft_t *self);
void zkv_raft_pr_become_probe (zkv_raft_progress_t *pr, uint64_t next);
void zkv_raft_send_append (zkv_raft_t *self, zkv_raft_progress_t *pr, bool heartbeat);
// An empty AppendEntries at the follower's match: always fits its log, carries the commit.
void zkv_raft_send_heartbeat (zkv_raft_t *self, zkv_raft_progress_t *pr);
void zkv_raft_broadcast (zkv_raft_t *self, bool heartbeat);
void zkv_raft_on_append (zkv_raft_t *self, const zkv_append_entries_t *m);
void zkv_raft_on_append_reply (zkv_raft_t *self, const zkv_append_entries_reply_t *m);
bool zkv_raft_maybe_commit (zkv_raft_t *self);

// zkv_raft_snapshot.c
zkv_raft_snap_t *zkv_raft_snap_new (uint64_t index, uint64_t term, const uint8_t *data, size_t len);
zkv_raft_snap_t *zkv_raft_snap_ref (zkv_raft_snap_t *snap);
void zkv_raft_snap_unref (zkv_raft_snap_t **snap_p);
void zkv_raft_pr_start_snapshot (zkv_raft_t *self, zkv_raft_progress_t *pr);
void zkv_raft_pr_snapshot_tick (zkv_raft_t *self, zkv_raft_progress_t *pr);
void zkv_raft_on_install_snapshot (zkv_raft_t *self, const zkv_install_snapshot_t *m);
void zkv_raft_on_install_snapshot_reply (zkv_raft_t *self, const zkv_install_snapshot_reply_t *m);
void zkv_raft_drop_incoming (zkv_raft_t *self);
// Streaming, leader: a follower needs a snapshot at or above floor; asks the caller for a
// fresh one (ready.want_snapshot) once ours is older and a newer one can be taken.
void zkv_raft_want_snapshot (zkv_raft_t *self, uint64_t floor);
// Streaming: after advance, the chunk the ready carried is persisted: acknowledge it, and
// install the snapshot after its last chunk.
void zkv_raft_chunk_persisted (zkv_raft_t *self);
// Streaming: frees the chunk requests and received chunks held (destroy).
void zkv_raft_stream_free (zkv_raft_t *self);

// zkv_raft_read.c
// A reply of this term echoed round ctx from pr.
void zkv_raft_read_ack (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t ctx);
// Confirms what can be, starts the next round when reads wait for one (after acks, commits).
void zkv_raft_reads_update (zkv_raft_t *self);
// The leader stepped down: every pending read fails.
void zkv_raft_reads_fail (zkv_raft_t *self);
void zkv_raft_reads_free (zkv_raft_t *self);

#endif
