// The KV state machine of one shard group: pure and deterministic. Raft's committed entries in,
// results out; data, dedup records and the applied index kept in a zkv_kvstore_t it is handed
// (storage/zkv_kvstore.h). No clocks, sockets or LevelDB here.
//
// Commands. A NORMAL entry of a KV group carries a kv_command message (messages/zkv_msg_table.h):
// a Put, an Append or a Delete of (client_id, seq), maybe conditional (applied only if the key
// holds an expected value or revision, else answered ZKV_ECOMPARE: a compare-and-set). Gets
// are not logged: the frontend serves them with
// zkv_kv_get once Raft's ReadIndex says this replica has applied far enough (linearizable reads).
// NOOP entries (a new leader's) only advance the applied index.
//
// Exactly once. Per shard and client the table keeps the last seq applied and its reply:
//   seq == last   a retry: answered from the table, never applied twice (duplicate);
//   seq <  last   a stale, overtaken request: ZKV_KV_ESTALE, nothing applied;
//   seq >  last   applied, and becomes the client's last;
//   seq 0, 2^64-1, or more than ZKV_KV_MAX_SEQ_JUMP above last (or above 0 for a client the
//                 shard has no record of): ZKV_EINVAL, nothing applied or recorded. A client
//                 counts 1, 2, 3..., so such a seq is a bug or a forgery that would make the
//                 client's true requests look stale.
// A client issues one request at a time, so its seqs only grow. The table lives per shard so that
// it moves with the shard when shards migrate.
//
// Client sessions (the Raft dissertation's §6.3, by log time). A record is a client's session on
// a shard; sessions expire so that the table stays bounded, and deterministically, so that
// every replica forgets the same ones at the same entry:
//   - Log time. The leader stamps every client command it proposes with its wall clock
//     (kv_command.time_ms, never below the log time it knows: zkv_kv_stamp); applying it moves
//     the group's log time to the largest stamp applied. It is in the log, so every replica
//     computes the same log time at every index; it is stored with the applied index (in the
//     same batch) and travels in snapshots.
//   - Each record keeps last_ms, the log time of its last request applied. When the log time
//     passes a sweep point (a multiple of session_ttl_ms / 8), the records idle for
//     session_ttl_ms or more go (table and store, in the apply's batch). A new session past
//     max_sessions evicts the least recently active ones (ties: shard, then client id) that
//     have been idle ZKV_KV_SESSION_MIN_IDLE_MS at least; none that old: ZKV_EBUSY, nothing
//     applied. The policy (session_ttl_ms, max_sessions) comes with each command, from the
//     leader's limits, so replicas configured differently still decide alike.
//   - A retry must never apply twice because its record went. Each shard keeps evicted_through,
//     the largest last_ms of any session evicted from it (it moves with the shard and travels
//     in snapshots, never goes down). Each request carries session_t0, the newest log time its
//     client had learned from replies (client_reply.log_ms) when it first sent the request. A
//     command of a client the shard has no record of is answered ZKV_ESESSION, nothing
//     applied, when evicted_through + ZKV_KV_SESSION_MARGIN_MS >= session_t0 (and any session
//     was ever evicted there); otherwise it is applied as new. Why that is safe: a request
//     first sent after its client learned log time T is stamped by a leader whose clock read at
//     least T - skew (log times come from leaders' clocks, which read T or more by then, within
//     the skew), so the record it made has last_ms >= T - skew; if that record was evicted,
//     evicted_through >= T - skew, and the retry is refused as long as the skew between the
//     leaders' clocks stays within the margin. The client then starts a new session (a new
//     client id) and the outcome of that request is unknown to it, as after a timeout.
//   - The policy never decides safety: any ttl or max (even a forged one) only decides which
//     sessions go, and a request whose session went is refused, never applied twice.
//
// Revisions. Every write gives the key a revision, returned to the writer and with every read
// of the key; conditional writes compare it (ZKV_COND_REVISION). A key's revision is
// (c << ZKV_KV_REV_INDEX_BITS) | i, where i is the log index of the entry that wrote it and c
// the configuration the group applied then (0 for a group that follows none). Both are in the
// log, so every replica computes the same revision; and a shard's writes only ever move to a
// group at a later configuration, so a key's revisions increase across moves too, and across a
// delete and a new write: a revision names one version of a key, never two. It is stored in
// front of the value (8 bytes, big-endian), so it moves with the key in snapshots and shard
// chunks. A missing key has revision 0. A Delete's answer carries the revision the key would
// have had (0 when nothing was deleted); it names no version.
//
// Shards. The shard of a key is FNV-1a 64 of the key bytes modulo nshards; nshards is fixed when
// the cluster is created, so the mapping never changes.
//
// Limits. Keys and values have size limits (zkv_kv_limits_t), checked when a request is proposed
// (zkv_kv_command_encode) AND when its entry is applied: a leader with other limits, or a
// corrupt entry, yields an error result, never a crash. An Append whose result would pass the
// value limit fails with ZKV_ETOOBIG and leaves the value as it was.
//
// Boot. zkv_kv_new reads the store's applied index and dedup records; pass zkv_kv_applied to
// zkv_raft_config_t.applied. If the Raft log store's snapshot index is above that (the store lost
// its last commits in a machine crash, and the log was compacted past them), restore the
// snapshot blob first: zkv_kv_snapshot_restore, then hand Raft the new applied index. With
// streamed snapshots there is no blob: call zkv_kv_boot_promote with the Raft snapshot's index
// first (a crash between the save of a streamed snapshot's metadata and its install); a group
// still behind its Raft snapshot, or incomplete (zkv_kv_incomplete), boots Raft with
// need_snapshot and waits for a new stream.
#ifndef ZKV_KV_H
#define ZKV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_kvstore.h"
#include "zkv_logstore.h"
#include "zkv_msg.h"

// Revisions: the log index takes the low bits, the configuration number the rest.
#define ZKV_KV_REV_INDEX_BITS 40

// A stale request (seq below the client's last applied).
#define ZKV_KV_ESTALE ZKV_ESTALE
// Largest step a client's seq may take past its last write's (gets take seqs too, unrecorded).
#define ZKV_KV_MAX_SEQ_JUMP (UINT64_C (1) << 32)

// True if seq may follow a client's last recorded one (0: none).
bool zkv_kv_seq_valid (uint64_t last, uint64_t seq);

typedef struct zkv_kv zkv_kv_t;

typedef struct {
    size_t max_key_bytes;    // longest key (at least 1; keys may not be empty)
    size_t max_value_bytes;  // longest stored value, after an Append too
    uint64_t session_ttl_ms; // the policy this replica stamps when it leads: sessions idle this
                             // long expire (0: never; else at least ZKV_KV_SESSION_MIN_IDLE_MS)
    uint64_t max_sessions;   // ... and at most this many per group (0: no limit)
} zkv_kv_limits_t;

// 4 KiB keys, 1 MiB values, sessions expire after an hour, 65,536 of them per group.
void zkv_kv_limits_defaults (zkv_kv_limits_t *limits);

// The largest skew between two leaders' clocks that sessions tolerate (see "Client sessions"):
// NTP keeps servers within milliseconds; a minute covers a clock that was stepped, or a VM
// resumed, without refusing every client whose session began recently.
#define ZKV_KV_SESSION_MARGIN_MS 60000
// A session idle less than this is never evicted for the cap, and the ttl is at least this:
// twice the margin, so a new session (session_t0 = the log time now) is never refused because
// of sessions evicted before it began (their last_ms is at least this far behind).
#define ZKV_KV_SESSION_MIN_IDLE_MS (2 * ZKV_KV_SESSION_MARGIN_MS)

// This replica's session counters (not replicated: every replica counts its own applies).
typedef struct {
    uint64_t sessions;  // sessions now (dedup records, every shard)
    uint64_t expired;   // evicted idle past the ttl
    uint64_t capped;    // evicted for max_sessions
    uint64_t refused;   // commands answered ZKV_ESESSION when applied (a leader's lookups
                        // refuse more, uncounted: a retry may be looked up many times)
    uint64_t busy;      // new sessions answered ZKV_EBUSY: the table full of recent ones
} zkv_kv_session_stats_t;

// The outcome of one applied entry, for the frontend to answer a waiting client.
typedef struct {
    uint64_t index;     // log index of the entry
    bool has_client;    // the entry named a client (client_id, seq, op are valid)
    uint64_t client_id; // the client
    uint64_t seq;       // its sequence number
    uint64_t op;        // ZKV_OP_PUT or ZKV_OP_APPEND (0 for a NOOP or undecodable entry)
    bool duplicate;     // a retry answered from the dedup table
    int status;         // 0 or a negative ZKV_E* code (reply status is its positive value)
    const char *error;  // why, for people (static string), NULL when status is 0
    zkv_bytes_t value;  // reply value (empty for Put / Append / Delete), owned
    uint64_t log_ms;    // the group's log time after the entry (client_reply.log_ms)
    uint64_t revision;  // a write's new revision (a Delete of a missing key: 0); a failed
                        // condition's (ZKV_ECOMPARE) current one ("Revisions")
} zkv_kv_result_t;

typedef struct {
    zkv_kv_result_t *items; // one per entry applied, in order, owned
    size_t count;           // number of items
} zkv_kv_results_t;

void zkv_kv_results_free (zkv_kv_results_t *results);

// A group's state machine over store (which must outlive it), booted from what store holds.
// NULL on a bad argument (*err ZKV_EINVAL) or a store error (*err its code).
zkv_kv_t *zkv_kv_new (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
                      const zkv_kv_limits_t *limits, int *err);
void zkv_kv_destroy (zkv_kv_t **self_p);

// The shards this group serves: owned[s] for each of the nshards shards (copied; NULL: every
// shard). A request for another shard is answered ZKV_EWRONGGROUP (zkv_kv_check_shard), when
// proposed and again when applied (a command logged under another configuration), and changes
// nothing.
void zkv_kv_set_owned (zkv_kv_t *self, const bool *owned);
// 0 if key's shard is served here, ZKV_EWRONGGROUP if not.
int zkv_kv_check_shard (const zkv_kv_t *self, const uint8_t *key, size_t key_len);

// --- Other machines over the KV state machine's storage ---------------------------------
//
// A state machine whose commands are not Put / Append (the shard controller) can keep its state
// as keys of a zkv_kv: it gets the store layout, the dedup table, the applied index in the same
// batch, blob and streamed snapshots and boot promotion for free. Its commands are kv_command
// entries with ops of its own; zkv_kv_apply hands each to the executor, which reads and writes
// keys of the same batch and sets the result (status, value). The outcome is recorded in the
// dedup table like a Put's.
typedef struct zkv_kv_exec zkv_kv_exec_t;
typedef int (zkv_kv_exec_fn) (void *arg, zkv_kv_exec_t *x, const zkv_kv_command_t *cmd,
                              zkv_kv_result_t *result);
void zkv_kv_set_exec (zkv_kv_t *self, zkv_kv_exec_fn *fn, void *arg);
// Inside an executor: the current value of key (this batch's writes included). 0 and *found,
// or a store error (the executor returns it).
int zkv_kv_exec_get (zkv_kv_exec_t *x, const uint8_t *key, size_t key_len, zkv_bytes_t *value,
                     bool *found);
// Inside an executor: sets key to value (copied) in the batch.
void zkv_kv_exec_put (zkv_kv_exec_t *x, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len);

// Last index applied (durably, in the store).
uint64_t zkv_kv_applied (const zkv_kv_t *self);
// The group's log time as applied (0: no stamped command yet).
uint64_t zkv_kv_log_ms (const zkv_kv_t *self);
// The shard's evicted_through (0: no session was ever evicted from it).
uint64_t zkv_kv_evicted_through (const zkv_kv_t *self, uint32_t shard);
void zkv_kv_session_stats (const zkv_kv_t *self, zkv_kv_session_stats_t *out);
uint64_t zkv_kv_group (const zkv_kv_t *self);
// Approximate bytes the current state takes in the store (data and dedup records).
uint64_t zkv_kv_size (zkv_kv_t *self);
uint32_t zkv_kv_nshards (const zkv_kv_t *self);

// The shard of a key: FNV-1a 64 of its bytes modulo nshards (nshards >= 1).
uint32_t zkv_kv_shard_of (const uint8_t *key, size_t key_len, uint32_t nshards);
// FNV-1a 64 of bytes.
uint64_t zkv_kv_fnv1a (const uint8_t *data, size_t len);

// Checks a request against the limits: ZKV_EINVAL for an unknown op or an empty key,
// ZKV_ETOOBIG for a key or value over its limit. Gets pass a value_len of 0.
int zkv_kv_check (const zkv_kv_limits_t *limits, uint64_t op, size_t key_len, size_t value_len);

// The leader's stamp on a command it proposes: time_ms = its clock now_ms, or the log time if
// that is later (log time never goes back), and its session policy.
void zkv_kv_stamp (const zkv_kv_t *self, uint64_t now_ms, zkv_kv_command_t *cmd);

// A write's condition (ZKV_COND_* of messages/zkv_msg_table.h; borrowed bytes).
typedef struct {
    uint64_t cond;         // ZKV_COND_NONE, ZKV_COND_VALUE or ZKV_COND_REVISION
    const uint8_t *expect; // ZKV_COND_VALUE: the value the key must hold
    size_t expect_len;     //
    uint64_t expect_rev;   // ZKV_COND_REVISION: the revision it must have (0: absent)
} zkv_kv_cond_t;

// Checks a Put / Append / Delete and encodes it as a kv_command for zkv_raft_propose (free()
// *buf_p), stamped (zkv_kv_stamp) at now_ms, with the request's session_t0 and condition (NULL:
// none). ZKV_EINVAL for a Delete with a value or an unknown condition.
int zkv_kv_command_encode_cond (const zkv_kv_t *self, uint64_t client_id, uint64_t seq,
                                uint64_t op, const uint8_t *key, size_t key_len,
                                const uint8_t *value, size_t value_len, const zkv_kv_cond_t *cond,
                                uint64_t session_t0, uint64_t now_ms, uint8_t **buf_p,
                                size_t *len_p);
// The same without a condition.
int zkv_kv_command_encode (const zkv_kv_t *self, uint64_t client_id, uint64_t seq, uint64_t op,
                           const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len, uint64_t session_t0, uint64_t now_ms,
                           uint8_t **buf_p, size_t *len_p);
// Checks a condition: 0, or ZKV_EINVAL (an unknown kind, an expected value with no condition
// on values, a value condition's expected value over max_value_bytes: ZKV_ETOOBIG).
int zkv_kv_cond_check (const zkv_kv_limits_t *limits, uint64_t op, const zkv_kv_cond_t *cond);

// Answers (client_id, seq) on key's shard from the dedup table without proposing anything:
// 1 with *out filled (owned) for a duplicate, a stale request, or one whose session may have
// expired (ZKV_ESESSION, see "Client sessions": session_t0 is the request's); 0 for a request
// to propose. Lets the frontend answer a retry at once.
int zkv_kv_lookup (const zkv_kv_t *self, uint64_t client_id, uint64_t seq, uint64_t session_t0,
                   const uint8_t *key, size_t key_len, zkv_kv_result_t *out);

// Applies committed entries in order, all in ONE store batch with the new applied index. Entries
// at or below the applied index are skipped (no result); the rest must follow it without a gap
// (else ZKV_EINVAL and nothing applied). *results (emptied first) gets one result per entry
// applied. Returns 0, or a store error: then nothing was applied and the node should stop.
int zkv_kv_apply (zkv_kv_t *self, const zkv_entry_t *entries, size_t n, zkv_kv_results_t *results);

// The value of key (owned copy): 0, ZKV_ENOTFOUND, ZKV_ETOOBIG / ZKV_EINVAL for a key the
// limits refuse, or a store error. Linearizable only when called after ReadIndex confirmed
// that the applied index covers the read's index.
int zkv_kv_get (zkv_kv_t *self, const uint8_t *key, size_t key_len, zkv_bytes_t *value);
// The same with the key's revision (*revision 0 when not found).
int zkv_kv_get_rev (zkv_kv_t *self, const uint8_t *key, size_t key_len, zkv_bytes_t *value,
                    uint64_t *revision);

// The format of a snapshot's record sequence (kv_snap_header.format). 1 was the hand-packed
// msgpack of older builds, never deployed; 2 had dedup records without last_ms (protocol 4,
// whose records this build's codec refuses anyway); 3 had values without revisions. All
// refused (ZKV_EVERSION, or a codec error): a node of this version takes a snapshot only from
// one of this version.
#define ZKV_KV_SNAP_FORMAT 4

// The group's whole state (data, dedup table, applied index) as one blob for zkv_raft_snapshot
// (free() *buf_p): bounded by memory, for small groups and the simulator; the daemon streams
// it (zkv_kv_stream_t below). The blob is a sequence of records, rows of the message table
// (messages/zkv_msg_table.h) each encoded by zkv_msg_encode and concatenated: one
// kv_snap_header {format, group, nshards, applied, n_dedup}, then n_dedup kv_snap_dedup
// {shard, client_id, seq, status, value, last_ms} in (shard, client) order, then kv_snap_item
// {shard, key, value} in (shard, key) order until the end (the meta shard's items carry the
// shard states and the session state: log time, evicted_through). The same state always gives the same
// bytes. ZKV_ETOOBIG when a record passes the codec's limits (a value over
// ZKV_MSG_MAX_FIELD_BYTES), which no install_snapshot chunk could carry either.
int zkv_kv_snapshot_write (zkv_kv_t *self, uint8_t **buf_p, size_t *len_p);
// Replaces the group's (current) state with a blob's, in one store batch; records are decoded
// one at a time (zkv_msg_decode_prefix). The blob is hostile input: a malformed one (a record
// the codec refuses, cut short, out of its place, a foreign message, an item in the wrong
// shard), one of another group or shard count, or one at applied index 0 (no snapshot is)
// returns an error and changes nothing.
int zkv_kv_snapshot_restore (zkv_kv_t *self, const uint8_t *buf, size_t len);

// --- Streamed snapshots: memory bounded by the chunk size, whatever the data set -------------
//
// The stream is the blob above cut into chunks of whole records (the concatenation of every
// chunk IS the blob), read from a point-in-time view of the store (zkv_kvstore_view) so that
// the state machine keeps applying while a transfer runs, and written by the receiver one
// chunk per store batch. The receiver decodes a chunk's records one at a time where they lie
// (zkv_msg_decode_prefix): a record cut by a chunk's end is malformed, and memory stays
// bounded by the chunk, never the stream.
//
// The receiver STAGES the stream: the group's state lives in one of two generations (storage
// ids group and group | 1 << 63 in the store, zkv_kv_int.h), and a stream is written into the
// one that is not current. The current state (data, dedup records, applied index) stays whole,
// readable and applicable while a stream comes in, however long it takes, and whether it is
// abandoned, malformed or interrupted by a crash: a follower mid-transfer keeps its state (a
// majority mid-transfer has not lost data below the snapshot) and may still lead.
//   - The first chunk (offset 0) empties the staging generation (an abandoned stream's
//     leftovers) and marks it "being staged", in the same batch as its records.
//   - The last chunk marks it "whole, at index S" (not current) in its batch.
//   - zkv_kv_recv_finish, called once the Raft snapshot's metadata at S is durable, makes it
//     the current state in ONE batch (its applied index set, the old generation deleted).
//   - zkv_kv_boot_promote does the same at boot when the crash fell between the Raft
//     snapshot's save and zkv_kv_recv_finish; otherwise it deletes staged leftovers.
// So no crash leaves a store with anything but one whole current state, and none leaves an
// applied index the Raft log does not know about. zkv_kv_apply, reads, blob restores and
// snapshot views all act on the current generation, during a stream too (after the Raft core
// abandoned one, say). The price: up to twice the group's data on disk while a stream is
// staged.

// The applied index of a group whose data is incomplete: a store written by an older zkv,
// which cleared the group at a stream's first chunk and was interrupted before the install.
#define ZKV_KV_APPLIED_INCOMPLETE UINT64_MAX

// True while the group's data is incomplete (see above; never with stores of this version):
// apply nothing (zkv_kv_apply skips every entry, since none is above it), serve nothing.
bool zkv_kv_incomplete (const zkv_kv_t *self);

// At boot, before Raft: if a whole staged stream of the state at raft_snapshot_index (the
// Raft log store's snapshot index) is ahead of the current state, makes it current (1). Else
// deletes what the staging generation holds (0). Or a store error.
int zkv_kv_boot_promote (zkv_kv_t *kv, uint64_t raft_snapshot_index);

// Rejoining (zkvd --rejoin): a member whose data was lost (a corrupt directory moved away)
// starts over empty, and an empty store is indistinguishable from a new cluster's: this marks
// the group's state missing, durably, so that the group's Raft core boots needing a snapshot.
// It then takes the state from its leader's snapshot, grants no vote while its state is
// missing and records the term's leader as its vote (it may have lost a vote it gave). The
// mark survives a crash until a snapshot installs. ZKV_EINVAL if the store or the log store
// holds anything of the group (rejoining is for an empty directory only), or a store error.
int zkv_kv_rejoin (zkv_kvstore_t *store, zkv_logstore_t *log, uint64_t group);

typedef struct zkv_kv_stream zkv_kv_stream_t;

// A stream writer over view (a zkv_kvstore_view that must outlive the writer) of group: the
// view's current generation. Loads the view's dedup records (the table the state machine
// keeps in memory anyway); the data is read in bounded scans as chunks are asked for. NULL and
// *err on a store error, or ZKV_EUNAVAILABLE when the view's data is incomplete.
zkv_kv_stream_t *zkv_kv_stream_new (zkv_kvstore_t *view, uint64_t group, uint32_t nshards,
                                    int *err);
void zkv_kv_stream_destroy (zkv_kv_stream_t **self_p);
// The applied index of the view: the stream is the state through it.
uint64_t zkv_kv_stream_applied (const zkv_kv_stream_t *self);
// The chunk at byte offset: whole records, at most max_bytes of them (at least one record
// however big), in *buf_p (free() it); *done_p when it ends the stream. Reading the next
// offset continues the scan; any other offset restarts it and skips to offset (a retransmit),
// which must be a chunk boundary (else ZKV_EINVAL).
int zkv_kv_stream_read (zkv_kv_stream_t *self, uint64_t offset, size_t max_bytes, uint8_t **buf_p,
                        size_t *len_p, bool *done_p);

typedef struct zkv_kv_recv zkv_kv_recv_t;

// A stream receiver staging into kv's store (kv must outlive it).
zkv_kv_recv_t *zkv_kv_recv_new (zkv_kv_t *kv);
void zkv_kv_recv_destroy (zkv_kv_recv_t **self_p);
// Writes the chunk at offset in one store batch, into the staging generation. Offset 0 starts
// a new stream (a partial one is dropped). Other offsets must continue the stream
// (ZKV_EINVAL). Chunks are hostile input: a malformed one returns an error and changes nothing
// (the stream is dropped; a new one from offset 0 starts over). The current state is never
// touched.
int zkv_kv_recv_chunk (zkv_kv_recv_t *self, uint64_t offset, const uint8_t *data, size_t len,
                       bool done);
// After the last chunk, once the Raft snapshot's metadata at index is durable: makes the staged
// state current in one store batch (its index must be index: ZKV_ECORRUPT), with its applied
// index and dedup table. ZKV_EINVAL when no whole stream was received, or when it is older
// than the current state.
int zkv_kv_recv_finish (zkv_kv_recv_t *self, uint64_t index);

#endif
