// The simulator's private structures, shared by its files (tests/sim/README.md lists them).
//
// A world of nodes, each hosting a replica of every group (zkv_replica.h: the driver zkvd runs),
// a frontend (zkv_front.h, KV mode) and a memstore shared by its groups, as a zkvd does. The
// checks are per group: s->g names the group a check or an API call is about (sim_set_group;
// the simulator sets it around every call into a replica), R (s, node) is that group's replica
// record on node, G (s) that group's world record.
#ifndef ZKV_SIM_INTERNAL_H
#define ZKV_SIM_INTERNAL_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include "sim.h"

#include "zkv_front.h"
#include "zkv_kvstore.h"
#include "zkv_replica.h"
#include "zkv_routing.h"

// Group index g (0..n_groups-1) is Raft group id g + 1, or, in a sharded world
// (sim_config_t.shards), g: group 0 is the shard controller as in zkvd.
#define SIM_GROUP_ID(s, g) ((uint64_t)(g) + ((s)->cfg.shards ? 0 : 1))

// Handles of requests the simulator hands a replica itself (raw commands, Raft-level reads),
// as opposed to the frontend's: their replies come back to the simulator.
#define SIM_RAW_HANDLE (1ULL << 63)
// Ops of the simulator's state machine (sim_sm.c) besides the KV service's.
#define SIM_OP_RAW  0x52 // log the value's bytes as the command
#define SIM_OP_READ 0x51 // a linearizable read of the state machine (applied index, chain)

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
    SIM_EV_LOCAL = 5,   // a command between a node's frontend and its group (same incarnation)
} sim_ev_kind_t;

typedef struct {
    uint64_t at;                         // simulated time
    uint64_t seq;                        // tie breaker: scheduling order
    uint8_t kind;                        // sim_ev_kind_t
    int node;                            // tick: the node; deliver: destination
    int from;                            // deliver: sender
    int group;                           // sync, local: the group index
    uint64_t incarnation;                // tick, sync, local: incarnation it belongs to
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

// --- streamed snapshots (sim_sm.c) ----------------------------------------------------

// A consistent view of the state machine at a snapshot, which the leader reads chunks from
// (opened by the driver through the state machine's view_open).
typedef struct {
    uint64_t index; // the applied index it shows
    uint64_t chain; // the state's hash chain at index, as the application saw it
    uint64_t used;  // simulated time of the last read
    bool dead;      // released under its readers (a fault): reads fail
    void *inner;    // KV mode: the KV service's view
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

// The streaming application of one replica: durable live state and staging area (they survive
// crashes), volatile views.
typedef struct {
    bool missing;            // durable: the state is gone, boot with need_snapshot
    uint64_t live_applied;   // durable: the live state's applied index
    uint64_t live_chain;     // ... and hash chain
    sim_stage_t stage;       // durable (synced) staging area
    bool pend;               // a chunk is written but not synced yet
    zkv_raft_chunk_t pchunk; // ... that chunk (data owned)
    bool crash_at_install;   // crash in the next write that saves a snapshot
    uint64_t chunks;         // chunks staged, all incarnations
    uint64_t chunk_at;       // simulated time of the last chunk written
} sim_app_t;

// --- nodes and groups ------------------------------------------------------------------------

#define SIM_MAX_GROUPS 4

struct sim;

// What a replica's callbacks (its host, its state machine, its store) need to find it.
typedef struct {
    struct sim *sim; // the world
    int node;        // node index
    int g;           // group index
} sim_ctx_t;

// One group's replica on one node: the driver and the simulator's record of it.
typedef struct {
    zkv_replica_t *rep; // the driver, NULL while the node is down
    sim_ctx_t ctx;      // its callbacks' context
    bool syncing;       // the driver waits for a slow sync (SIM_EV_SYNC)
    // the simulator's state machine (sim_sm.c; volatile: rebuilt at restart)
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
    // writes since the last sync (sim_store.c), durable at the next one
    bool pend_hs;                // a hard state was written
    zkv_hard_state_t pend_hard;  // ... the last one
    uint64_t pend_trunc;         // entries from here were truncated (0: none)
    uint64_t pend_last;          // entries were appended through here (0: none)
    uint64_t pend_snap;          // a snapshot through here was saved (0: none)
    sim_app_t app;               // streaming mode's application (sim_sm.c)
} sim_rep_t;

typedef struct {
    zkv_logstore_t *store;  // memstore: survives crashes, shared by the node's groups
    zkv_logstore_t *wrap;   // the checking store the replicas write through (sim_store.c)
    zkv_kvstore_t *kvstore; // KV mode: the node's KV data, shared by its groups
    zkv_front_t *front;     // KV mode: the frontend, NULL while down
    sim_ctx_t front_ctx;    // its host's context
    bool up;                // running
    bool connected;         // lab-level connect() state
    uint64_t incarnation;   // bumped at each restart
    bool crash_mid_write;   // crash during the next persist
    bool crash_torn;        // ... with a torn write
    bool crash_now;         // a write asked for its sync: crash before it completes
    bool forget_log;        // sabotage: the next load forgets the log
    bool disk_set;          // syncs take disk_us (sim_set_disk_delay), not the world's draw
    uint32_t disk_us;       // ...
    uint64_t skew_ms;       // its wall clock is this far ahead (cfg.clock_skew_ms)
    sim_rep_t reps[SIM_MAX_GROUPS];
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

// One group's record for the invariants, over the whole run.
typedef struct {
    sim_commit_t *commits; // commits[i], 1 <= i <= max_committed
    size_t commits_cap;    //
    uint64_t max_committed; //
    uint64_t *leader_of;   // leader_of[term]: node id + 0 (0 none)
    size_t leader_of_cap;  //
    sim_lm_slot_t *lm;     // Log Matching map, open addressing
    size_t lm_cap;         // power of two
    size_t lm_len;         //
    sim_read_t *reads;     // reads[id - 1]: every read asked
    size_t n_reads;        //
    size_t cap_reads;      //
} sim_grp_t;

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
    bool group_cut[SIM_MAX_GROUPS];         // a group cut off from everything (sim_shard.h)
    bool unreliable;                        // network mode
    bool long_reordering;                   // network mode
    bool chunks_calm;                       // received chunks are never refused (healed)
    sim_counters_t counters;                // statistics
    sim_grp_t groups[SIM_MAX_GROUPS];       // per group records for the invariants
    int g;                                  // the group checks and API calls are about
    zkv_routing_t *routing;                 // KV mode: the configuration nodes route by
    zkv_logstore_state_t loaded; // a memstore's state being read (restart, durability check)
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

// The current group's record, and its replica record on node.
#define G(s)       (&(s)->groups[(s)->g])
#define R(s, node) (&(s)->nodes[node].reps[(s)->g])
// The current group's Raft core on node (NULL while down).
const zkv_raft_t *sim_rep_raft (struct sim *self, int node);
// Group index of a group id, or -1.
int sim_group_index (struct sim *self, uint64_t group);

// sim_net.c
// Sends msg from node to node `to` (a Raft message: to its header's recipient, to < 0).
void sim_net_send (sim_t *self, int from, int to, const zkv_msg_t *msg);
void sim_net_deliver (sim_t *self, sim_event_t *ev);
bool sim_link_up (sim_t *self, int from, int to);

// sim.c
void sim_fail_common (sim_t *self, const char *what, const char *fmt, va_list ap)
    __attribute__ ((noreturn));
void sim_push (sim_t *self, const sim_event_t *ev);
// Runs node's replicas' ready loops and checks them; crashes it if a write asked for it.
void sim_drive (sim_t *self, int node);
// A command between node's frontend and its group g (encoded), delivered in order.
void sim_local_send (sim_t *self, int node, int g, const zkv_msg_t *msg);
// Node's wall clock in ms: the simulated time, sped up by cfg.log_clock_x, plus its skew.
uint64_t sim_wall_ms (sim_t *self, int node);

// sim_store.c: the checking log store over a node's memstore
zkv_logstore_t *sim_store_new (sim_t *self, int node, zkv_logstore_t *memstore);

// sim_sm.c: the simulator's state machine (hash chain, streaming application; KV mode wraps
// the KV service's)
zkv_sm_t *sim_sm_new (sim_t *self, int node, int g);
// KV mode: the KV service's (or the controller's) state machine inside one of sim_sm_new's.
zkv_sm_t *sim_sm_inner (zkv_sm_t *sm);
// Adds a KV state machine's session counters (zkv_kv_session_stats) to c; others add none.
void sim_sm_sessions_add (zkv_sm_t *sm, sim_counters_t *c);
// KV mode: adds the sessions the clerks started after ZKV_ESESSION answers (sim_kvclient.c).
void sim_kv_sessions_add (sim_t *self, sim_counters_t *c);
// The ready's writes are synced: a written chunk is durable.
void sim_stream_sync (sim_t *self, int node);
// The node crashes: an unsynced chunk is lost, or (torn) part of it lands. True if the
// chunk (when any) landed whole, so that later writes of the same ready may survive.
bool sim_stream_crash (sim_t *self, int node, bool torn);
// Durable state prefix of node [1, return] (its live state, or a promotable staged stream).
uint64_t sim_stream_durable_prefix (sim_t *self, int node, const zkv_logstore_state_t *ls);
// An install_snapshot_reply node sends: what it acknowledges is durable.
void sim_stream_check_reply (sim_t *self, int node, const zkv_install_snapshot_reply_t *m);
void sim_stream_free (sim_t *self, int node);
// The state-missing fault: node's KV state of every group is gone (a new, empty kvstore).
void sim_kvs_lose (sim_t *self, int node);
// Whether a durability check passes; skip_state: a node whose state is counted as lost.
bool sim_check_durable_without (sim_t *self, int skip_state);

// sim_read.c
// A replica's answer to a read the simulator asked (handle SIM_RAW_HANDLE | id).
void sim_read_answered (sim_t *self, int node, uint64_t id, const zkv_group_reply_t *r);
// The node crashed: its unanswered reads are lost.
void sim_read_crash (sim_t *self, int node);
void sim_read_free (sim_t *self);

// sim_check.c
// A write of node's log store (sim_store.c), checked as it is made.
void sim_check_append (sim_t *self, int node, const zkv_entry_t *entries, size_t n,
                       uint64_t prev_term);
void sim_check_snapshot_saved (sim_t *self, int node, const zkv_snapshot_meta_t *meta,
                               const uint8_t *data, size_t len);
// node's store was synced: its group's pending writes are durable (checked).
void sim_check_synced (sim_t *self, int node);
void sim_check_send (sim_t *self, int node, const zkv_msg_t *msg);
void sim_check_apply (sim_t *self, int node, const zkv_entry_t *entry);
void sim_check_install (sim_t *self, int node, uint64_t index, uint64_t chain);
// After node ran: roles, terms, commit, election safety, leader completeness (every group).
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
