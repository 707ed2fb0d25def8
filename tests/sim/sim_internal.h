// The simulator's private structures, shared by sim.c, sim_net.c, sim_check.c and sim_trace.c.
#ifndef ZKV_SIM_INTERNAL_H
#define ZKV_SIM_INTERNAL_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include "sim.h"

#define SIM_GROUP 1 // the one Raft group the simulator runs

// Grows *p (an array of *cap elements of elem bytes) to hold want, doubling; new slots are
// zeroed; out of memory aborts. Returns the (maybe moved) array.
void *sim_grow (void *p, size_t *cap, size_t want, size_t elem);
// Little-endian u64 in 8 bytes (the simulator's own encodings: stream headers, hashes).
void sim_put_u64 (uint8_t *p, uint64_t v);
uint64_t sim_get_u64 (const uint8_t *p);

// --- events --------------------------------------------------------------------------------

typedef enum {
    SIM_EV_TICK = 1,    // node ticks (if still the same incarnation)
    SIM_EV_DELIVER = 2, // an encoded message arrives at node
    SIM_EV_CALL = 3,    // fn (sim, arg)
    SIM_EV_SYNC = 4,    // node's sync completes (if still the same incarnation)
} sim_ev_kind_t;

typedef struct {
    uint64_t at;                         // simulated time
    uint64_t seq;                        // tie breaker: scheduling order
    uint8_t kind;                        // sim_ev_kind_t
    int node;                            // tick: the node; deliver: destination
    int from;                            // deliver: sender
    uint64_t incarnation;                // tick: incarnation it belongs to
    uint8_t *buf;                        // deliver: encoded message (owned)
    size_t len;                          // its length
    void (*fn) (sim_t *self, void *arg); // call
    void *arg;                           // call
} sim_event_t;

// --- trace ---------------------------------------------------------------------------------

typedef enum {
    SIM_T_TICK = 1, // a tick that produced work
    SIM_T_SEND,     // message handed to the network (peer = dest, fate in c2)
    SIM_T_DELIVER,  // message stepped into a core
    SIM_T_DROP,     // message lost at delivery
    SIM_T_PROPOSE,  // a = index, b = term (0, 0 if refused)
    SIM_T_CRASH,    // a = torn, b = mid-write
    SIM_T_RESTART,  // a = incarnation, b = boot term, c = snapshot index, d = last index
    SIM_T_LINK,     // a = up, peer = other end
    SIM_T_ROLE,     // a = role, b = term, c = commit, d = last index
    SIM_T_SNAPSHOT, // a = index, b = term
    SIM_T_INSTALL,  // a = index, b = term
    SIM_T_APPLY,    // a = from index, b = to index
    SIM_T_NET,      // a = unreliable, b = long reordering
    SIM_T_NOTE,     // word = scenario's kind
    SIM_T_READ,     // a = read id, b = 0 asked / 1 confirmed / 2 failed / 3 served, c = index
} sim_trace_kind_t;

#define SIM_RING 256

typedef struct {
    uint64_t at;         // simulated time
    uint8_t kind;        // sim_trace_kind_t
    uint8_t node;        // node index
    uint8_t peer;        // other node index (send/deliver/drop/link)
    uint8_t mtype;       // message type (send/deliver/drop)
    uint8_t c2;          // send: fate (0 sent, 1 dropped, 2 duplicated, 3 long delay)
    uint64_t term;       // message term
    uint64_t a, b, c, d; // kind-specific values
    const char *word;    // note: static string
} sim_trace_rec_t;

// --- streamed snapshots (sim_stream.c) ----------------------------------------------------

#define SIM_VIEWS 16 // views a node's application keeps at most (least recently read go)

// A consistent view of the state machine at a snapshot, which the leader reads chunks from.
typedef struct {
    uint64_t index;                 // the snapshot (0: free slot)
    uint64_t term;                  //
    uint64_t chain;                 // the state's hash chain at index, as the application saw it
    uint64_t used;                  // simulated time of the last read
    struct zkv_kvstore_s *kvview;   // KV mode: the kvstore's point-in-time view
    struct zkv_kv_stream *kvstream; // ... and the stream read from it
} sim_view_t;

// A staging area: a received stream's bytes, apart from the live state.
typedef struct {
    uint64_t index; // snapshot the bytes belong to (0: empty)
    uint64_t term;  //
    uint8_t *buf;   // the bytes
    size_t len;     //
    size_t cap;     //
    bool done;      // the last chunk was written
} sim_stage_t;

// A chunk request the application answers later (slow reads).
typedef struct {
    zkv_raft_chunk_req_t req; // what was asked
    uint64_t due;             // simulated time it is answered
} sim_slow_req_t;

// The streaming application of one node: durable live state and staging area (they survive
// crashes), volatile views and slow requests.
typedef struct {
    bool missing;            // durable: the state is gone, boot with need_snapshot
    uint64_t live_applied;   // durable: the live state's applied index
    uint64_t live_chain;     // ... and hash chain
    sim_stage_t stage;       // durable (synced) staging area
    bool pend;               // a chunk is written but not synced yet
    zkv_raft_chunk_t pchunk; // ... that chunk (data owned)
    sim_view_t views[SIM_VIEWS];
    sim_slow_req_t *slow;       // requests waiting to be answered
    size_t n_slow;              //
    size_t cap_slow;            //
    bool crash_at_install;      // crash in the next write that saves a snapshot
    uint64_t chunks;            // chunks staged, all incarnations
    uint64_t chunk_at;          // simulated time of the last chunk written
    uint8_t *rbuf;              // a chunk read from a view
    size_t rbuf_cap;            //
    zkv_raft_chunk_req_t *reqs; // a ready's chunk requests, kept past its advance
    size_t cap_reqs;            //
} sim_app_t;

// --- nodes ---------------------------------------------------------------------------------

typedef struct {
    zkv_raft_t *raft;      // NULL while down
    zkv_logstore_t *store; // memstore: survives crashes
    bool up;               // running
    bool connected;        // lab-level connect() state
    uint64_t incarnation;  // bumped at each restart
    bool crash_mid_write;  // crash during the next persist
    bool crash_torn;       // ... with a torn write
    bool syncing;          // a ready's writes are being synced (slow disk)
    bool disk_set;         // syncs take disk_us (sim_set_disk_delay), not the world's draw
    uint32_t disk_us;      // ...
    zkv_raft_ready_t rd;   // ... that ready, advanced when the sync completes
    uint64_t rd_prev_term; // term before the ready's first entry, when it was handed out
    // state machine (volatile: rebuilt from the snapshot at restart)
    uint64_t applied;   // last applied index
    uint64_t chain;     // hash chain through applied
    uint64_t base;      // index the state machine was loaded at (snapshot); below: global
    uint64_t *hashes;   // hashes[i - base - 1], base < i <= applied
    size_t hashes_cap;  // allocated slots
    uint64_t last_snap; // index of the last snapshot taken or installed
    // checks within one incarnation
    uint64_t seen_commit;  // highest commit index seen
    uint64_t seen_applied; // highest raft applied index seen
    zkv_role_t role;       // last role seen
    uint64_t term;         // last term seen
    // durable state as the simulator tracks it (across incarnations)
    uint64_t durable_term; // highest term persisted
    uint64_t durable_vote; // vote persisted with it
    uint64_t durable_last; // last log index persisted (or snapshot index)
    sim_app_t app;         // streaming mode's application (sim_stream.c)
    // reads confirmed by the core, waiting for the state machine to reach their index
    uint64_t *waiting;  // read ids
    size_t n_waiting;   //
    size_t cap_waiting; //
} sim_node_t;

// A client read (ReadIndex) and what became of it.
typedef struct {
    int node;             // asked there
    uint64_t incarnation; // ... of that incarnation
    uint64_t need;        // highest index committed (applied anywhere) when asked
    uint64_t index;       // read index the core confirmed (0 until then)
    uint64_t applied;     // served: the index the answer reflects
    uint8_t state;        // sim_read_state_t
} sim_read_t;

// A committed entry, recorded the first time any node applies it.
typedef struct {
    uint64_t hash;  // sim_entry_hash of it
    uint64_t chain; // hash chain through it
    uint64_t term;  // its term
    uint64_t cterm; // term of the node that first applied it (>= the term it committed in)
    uint8_t type;   // entry type
    uint8_t *data;  // its payload (owned)
    size_t len;     //
} sim_commit_t;

// (index, term) -> what the first entry seen there held: Log Matching.
typedef struct {
    uint64_t index;     // 0: empty slot
    uint64_t term;      //
    uint64_t hash;      // entry hash
    uint64_t prev_term; // term of index - 1 in the log that held it (UINT64_MAX: unknown)
} sim_lm_slot_t;

struct sim {
    sim_config_t cfg;  // as given
    zkv_rng_t rng;     // the world's randomness (network, faults, scenarios)
    uint64_t now;      // simulated microseconds
    uint64_t seq;      // event sequence numbers
    sim_event_t *heap; // event queue: min-heap on (at, seq)
    size_t heap_len;   //
    size_t heap_cap;   //
    sim_node_t nodes[SIM_MAX_NODES];
    bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; // partitioned directed links
    bool unreliable;                        // network mode
    bool long_reordering;                   // network mode
    sim_counters_t counters;                // statistics
    // global record for the invariants
    sim_commit_t *commits;       // commits[i], 1 <= i <= max_committed
    size_t commits_cap;          //
    uint64_t max_committed;      //
    uint64_t *leader_of;         // leader_of[term]: node id + 0 (0 none)
    size_t leader_of_cap;        //
    sim_lm_slot_t *lm;           // Log Matching map, open addressing
    size_t lm_cap;               // power of two
    size_t lm_len;               //
    zkv_logstore_state_t loaded; // a memstore's state being read (restart, durability check)
    sim_read_t *reads;           // reads[id - 1]: every read asked
    size_t n_reads;              //
    size_t cap_reads;            //
    // trace
    uint64_t trace_hash; // FNV-1a over every record
    sim_trace_rec_t ring[SIM_RING];
    uint64_t ring_n; // records ever written
    // failure
    jmp_buf guard;        // sim_fail longjmps here
    bool guarded;         // a guard is set
    bool failed;          // a failure happened
    const char *violated; // the invariant violated (static string), NULL if none
    struct sim_kv *kv;    // the KV service (cfg.kv), NULL otherwise (sim_kv_int.h)
};

// sim_net.c
void sim_net_send (sim_t *self, int from, const zkv_msg_t *msg);
void sim_net_deliver (sim_t *self, sim_event_t *ev);
bool sim_link_up (sim_t *self, int from, int to);

// sim.c
void sim_fail_common (sim_t *self, const char *what, const char *fmt, va_list ap)
    __attribute__ ((noreturn));
void sim_push (sim_t *self, const sim_event_t *ev);
void sim_drive (sim_t *self, int node);
// Node's state machine takes a snapshot at its applied index (no drive). 0 or the core's code.
int sim_take_snapshot (sim_t *self, int node);

// sim_stream.c: the streaming application (cfg.stream)
// A ready's received chunk is written (not synced): checked against the staging area.
void sim_stream_write (sim_t *self, int node, const zkv_raft_chunk_t *chunk);
// The ready's writes are synced: the written chunk is durable.
void sim_stream_sync (sim_t *self, int node);
// The node crashes: an unsynced chunk is lost, or (torn) part of it lands. True if the
// chunk (when any) landed whole, so that later writes of the same ready may survive.
bool sim_stream_crash (sim_t *self, int node, bool torn);
// apply_snapshot: the staged stream becomes the live state; returns its hash chain.
uint64_t sim_stream_install (sim_t *self, int node, const zkv_snapshot_meta_t *snap);
// Restart: promotes a staged stream or marks the state missing; sets the state machine from
// the live state. True if the core must boot with need_snapshot.
bool sim_stream_boot (sim_t *self, int node, const zkv_logstore_state_t *ls);
// A snapshot was taken at the node's applied index: a view of it.
void sim_stream_took (sim_t *self, int node, uint64_t index);
// After advance: answers (or delays, drops) the ready's chunk requests.
void sim_stream_requests (sim_t *self, int node, const zkv_raft_chunk_req_t *reqs, size_t n);
// At a tick: answers the slow requests that are due.
void sim_stream_tick (sim_t *self, int node);
// Durable state prefix of node [1, return] (its live state, or a promotable staged stream).
uint64_t sim_stream_durable_prefix (sim_t *self, int node, const zkv_logstore_state_t *ls);
// An install_snapshot_reply node sends: what it acknowledges is durable.
void sim_stream_check_reply (sim_t *self, int node, const zkv_install_snapshot_reply_t *m);
void sim_stream_free (sim_t *self, int node);
// sim_kvstream.c: the KV service's streams (cfg.kv with cfg.stream)
bool sim_kvs_view_open (sim_t *self, int node, sim_view_t *v);
void sim_kvs_view_close (sim_view_t *v);
// A chunk request's bytes from v (*buf_p to free()).
void sim_kvs_read (sim_t *self, int node, sim_view_t *v, const zkv_raft_chunk_req_t *q,
                   uint8_t **buf_p, size_t *len_p, bool *done_p);
void sim_kvs_chunk (sim_t *self, int node, const zkv_raft_chunk_t *c);
void sim_kvs_finish (sim_t *self, int node, uint64_t index);
// Boot: promotes a whole staged stream of snapshot_index; returns the applied index.
uint64_t sim_kvs_boot (sim_t *self, int node, uint64_t snapshot_index, bool *promoted_p,
                       bool *missing_p);
// The state-missing fault: the node's kvstore is gone (a new, empty one).
void sim_kvs_lose (sim_t *self, int node);
// Whether a durability check passes; skip_state: a node whose state is counted as lost.
bool sim_check_durable_without (sim_t *self, int skip_state);

// sim_read.c
// The reads a ready confirmed or failed.
void sim_read_ready (sim_t *self, int node, const zkv_raft_ready_t *rd);
// Serves the node's confirmed reads its state machine has reached.
void sim_read_serve (sim_t *self, int node);
// The node crashed: its unanswered reads are lost.
void sim_read_crash (sim_t *self, int node);
void sim_read_free (sim_t *self);
// The id the next sim_read will return.
uint64_t sim_read_next_id (sim_t *self);

// sim_check.c
void sim_check_ready (sim_t *self, int node, const zkv_raft_ready_t *rd);
void sim_check_send (sim_t *self, int node, const zkv_msg_t *msg);
void sim_check_apply (sim_t *self, int node, const zkv_entry_t *entry);
void sim_check_install (sim_t *self, int node, uint64_t index, uint64_t chain);
void sim_check_node (sim_t *self, int node);
void sim_check_crash (sim_t *self, int node);
void sim_check_free (sim_t *self);
uint64_t sim_chain_next (uint64_t chain, uint64_t hash);
void sim_violation (sim_t *self, const char *invariant, const char *fmt, ...)
    __attribute__ ((noreturn, format (printf, 3, 4)));

// sim_trace.c
void sim_trace (sim_t *self, const sim_trace_rec_t *rec);
void sim_trace_msg (sim_t *self, uint8_t kind, int node, int peer, const zkv_msg_t *msg,
                    uint8_t c2);
void sim_trace_dump (sim_t *self, FILE *out, size_t last);
void sim_trace_print (sim_t *self, FILE *out, const sim_trace_rec_t *rec);

#endif
