// The group driver: one replica of one replication group, its whole life, as pure code. It owns
// the Raft core (zkv_raft.h) and drives it over the interfaces it is handed: a log store
// (zkv_logstore.h), a state machine (zkv_sm.h) and a host (below) that carries its effects
// out. zkvd's group actor and the simulator are two hosts of this one driver: every decision
// of a replica is made here, where the simulator runs it under faults.
//
// What it decides:
// - the ready loop (etcd's Ready): the leader's appends leave before its own write; the
//   ready's writes (received chunk, snapshot, compaction, truncation, entries, hard state) are
//   made in that order; one sync, skipped when only the commit index changed (etcd's
//   MustSync); then the other messages, the snapshot install, the committed entries, the reads;
// - client requests routed to the group: validated by the state machine, proposed (writes) or
//   confirmed with ReadIndex (reads), answered once applied, exactly once per request; the
//   waiting requests are bounded, and lost leadership answers the proposed ones "not leader";
// - the snapshot policy: compaction once the log passes a size (or a count of entries), or
//   when a follower needs a newer snapshot than the latest;
// - snapshot transfers: one resumable stream per follower, read from a view of the state at
//   the snapshot's index, released when done or idle;
// - a received stream that is malformed, or does not install: dropped, Raft restarted from the
//   store, the node stays up (the peer's bad input must not crash it);
// - events and the group's state for the frontend.
//
// The host, called synchronously from inside the driver's functions (never call the driver
// back from a host function):
// - send: a Raft message to a peer;
// - sync: make every log store write so far durable: 0 done, ZKV_REPLICA_SYNC_LATER (the host
//   calls zkv_replica_synced once done; meanwhile the driver takes inputs and ticks), or a
//   negative code;
// - reply: a group_reply for a group_request;
// - state: a group_state when role, term or leader changed, and at most once a tick otherwise;
// - event: an event body (event_raft) under a topic; the host stamps its wall-clock time;
// - fatal: a store failed; the driver does nothing more. The host stops the node: a restart
//   reloads what is durable (Raft assumes crash-stop nodes);
// - call: a group_call of the state machine's own (the shard mover's) for the node's frontend,
//   whose group_call_reply the host hands back (zkv_replica_call_reply);
// - config: the state machine applied a configuration (an encoded config_reply): the node
//   routes by the newest it knows;
// - now_ms (optional): the host's wall clock in ms, which a leader stamps on the commands it
//   proposes (the state machine's log time, zkv_kv.h "Client sessions"); NULL: no clock (log
//   time never moves, sessions never expire).
//
// Inputs do not run the ready loop: a host feeds all the input it has (many peer messages and
// requests: group commit), then calls zkv_replica_run.
#ifndef ZKV_REPLICA_H
#define ZKV_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_logstore.h"
#include "zkv_msg.h"
#include "zkv_raft.h"
#include "zkv_sm.h"
#include "zkv_stats.h"

typedef struct zkv_replica zkv_replica_t;

typedef struct {
    zkv_raft_config_t raft;        // group, id, voters, tunables, seed (the driver sets applied
                                   // and need_snapshot from the state machine)
    uint32_t tick_ms;              // one tick (the durations below are counted in ticks)
    uint64_t snapshot_bytes;       // compact once the log holds this many bytes (0: never)
    uint32_t snapshot_entry_bytes; // ... counting this many more per entry (stored framing)
    uint64_t snapshot_entries;     // ... or once this many were applied since the last (0: never)
    uint32_t snapshot_pause_ms;    // least time between two snapshots taken for the log's size
    uint32_t stream_idle_ms;       // a transfer not asked for a chunk this long is released
    uint32_t view_idle_ms;         // the latest snapshot's view, read by no transfer this long,
                                   // is released (a view pins deleted data on disk)
    size_t max_streams;            // transfers at once
    size_t max_waiting;            // requests waiting for an answer (proposed and reads)
    size_t max_saves;              // saves (zkv snapshot save) reading the group at once
} zkv_replica_config_t;

// Defaults: Raft's, 10 ms ticks, snapshots at 8 MiB of log (40 bytes per entry on top of its
// payload), 1 s pause, transfers idle 30 s,
// an unread view 2 s, 16 transfers, 65,536 waiting requests, 4 saves.
void zkv_replica_config_defaults (zkv_replica_config_t *cfg);

#define ZKV_REPLICA_SYNC_LATER 1

typedef struct {
    void (*send) (void *host, const zkv_msg_t *msg);
    int (*sync) (void *host);
    void (*reply) (void *host, const zkv_msg_t *reply);
    void (*state) (void *host, const zkv_msg_t *state);
    void (*event) (void *host, const char *topic, const zkv_msg_t *body);
    void (*fatal) (void *host, const char *what, int rc);
    void (*call) (void *host, const zkv_msg_t *call);
    void (*config) (void *host, uint64_t group, const uint8_t *config, size_t len);
    uint64_t (*now_ms) (void *host);
} zkv_replica_host_t;

// Boots a replica from what log (shared by the node's groups) and sm (owned from now on: the
// driver destroys it) hold. NULL and *err when the stored state does not boot (ZKV_ECORRUPT),
// the state machine cannot (its code) or the config is bad (ZKV_EINVAL).
zkv_replica_t *zkv_replica_new (const zkv_replica_config_t *cfg, zkv_logstore_t *log, zkv_sm_t *sm,
                                const zkv_replica_host_t *host, void *host_arg, int *err);
void zkv_replica_destroy (zkv_replica_t **self_p);

// A Raft message from a peer (for this group and node: the host routed it).
void zkv_replica_step (zkv_replica_t *self, const zkv_msg_t *msg);
// A client request routed to this group (a group_request), answered through host->reply; op
// ZKV_OP_SNAPSHOT is a save's request (zkv_replica_saves.c), its key an encoded
// snapshot_request, its answer's value an encoded snapshot_reply. A
// write that was proposed returns 1 with its log position in *index_p, *term_p (may be NULL);
// anything else returns 0.
int zkv_replica_request (zkv_replica_t *self, const zkv_group_request_t *req, uint64_t *index_p,
                         uint64_t *term_p);
// One tick of time.
void zkv_replica_tick (zkv_replica_t *self);
// The answer to a group_call the replica made (host->call).
void zkv_replica_call_reply (zkv_replica_t *self, const zkv_group_call_reply_t *reply);
// The sync the driver asked for (ZKV_REPLICA_SYNC_LATER) is done: rc 0, or its error.
void zkv_replica_synced (zkv_replica_t *self, int rc);
// Runs the ready loop until there is nothing to do or a sync is outstanding.
void zkv_replica_run (zkv_replica_t *self);
// Takes a snapshot at the applied index now (an operator's request, a test), then runs the
// ready loop. 0, or why not (ZKV_EBUSY: a sync or an install is outstanding, ZKV_ECOMPACTED:
// nothing applied since the last one, or the state machine's code).
int zkv_replica_snapshot_now (zkv_replica_t *self);

// Inspection (tests, the simulator's checks, status).
uint64_t zkv_replica_group (const zkv_replica_t *self);
const zkv_raft_t *zkv_replica_raft (const zkv_replica_t *self);
zkv_sm_t *zkv_replica_sm (zkv_replica_t *self);
// The group's state now (a group_state message).
void zkv_replica_state (const zkv_replica_t *self, zkv_msg_t *out);
// True once a store failed (fatal was called).
bool zkv_replica_failed (const zkv_replica_t *self);
// True while a sync is outstanding.
bool zkv_replica_syncing (const zkv_replica_t *self);
// Requests waiting for their answer.
size_t zkv_replica_waiting (const zkv_replica_t *self);

typedef struct {
    uint64_t syncs;               // log syncs asked for
    uint64_t appended;            // entries appended
    uint64_t snapshots_taken;     // snapshots taken here
    uint64_t snapshots_installed; // snapshots installed from a leader
    uint64_t chunks_sent;         // snapshot chunks handed to Raft
    uint64_t chunks_rejected;     // received chunks or streams refused (the peer's bad input)
    uint64_t raft_restarts;       // Raft restarted from the store after a refused stream
    uint64_t busy;                // requests refused: too many waiting
    uint64_t calls;               // calls the state machine made to other groups
    uint64_t own_proposals;       // commands the state machine proposed on its own
    uint64_t snapshot_bytes;      // size of the latest snapshot taken (the state it covers) or
                                  // installed (the stream received)
    uint64_t snapshot_sent_bytes; // bytes of snapshot chunks handed to Raft for followers
    uint64_t snapshot_recv_bytes; // bytes of received snapshot chunks written
    uint64_t saves_begun;         // saves (zkv snapshot save) begun here
    uint64_t save_chunks;         // their chunks read
    uint64_t saves_busy;          // saves refused: max_saves were in progress
    uint64_t saves_expired;       // saves released after stream_idle_ms without a request
} zkv_replica_counters_t;

void zkv_replica_counters (const zkv_replica_t *self, zkv_replica_counters_t *out);
// The group's figures for metrics and the stats event (the host adds what it alone knows:
// sessions, its dropped sends).
void zkv_replica_stats (const zkv_replica_t *self, zkv_group_stats_t *out);

#endif
