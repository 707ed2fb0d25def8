// The KV service inside the simulated world (sim_config_t.kv): each node runs the real KV state
// machine (cluster/zkv_kv.h) over its own memory kvstore and a simulated frontend; simulated
// clerks (client/zkv_client_core.h's retry logic) talk to the frontends through the simulated
// network, and every operation they make is recorded in one history (checker/zkv_history.h),
// checked for linearizability at the end of the scenario.
//
// The frontend of a node, like actors/zkv_frontend.c: a non-leader answers ZKV_ENOTLEADER with
// its leader hint; the leader answers a retry from the dedup table, proposes a Put / Append as a
// kv_command and answers once it applied its index (another entry there, or losing leadership
// first, answers ZKV_ENOTLEADER); a Get goes through ReadIndex (sim_read) and is answered from
// the state machine once it applied the read's index. A missing key reads as "".
//
// Client messages (client_request / client_reply) cross the simulated network encoded: they are
// dropped, delayed and duplicated like Raft's when the network is unreliable, and lost when the
// node is down or the clerk is not connected to it (the lab's ConnectClient). Partitions between
// nodes do not cut clerks off (as in the lab, whose partitions only cut servers from servers).
//
// Node state across a crash: the kvstore keeps its committed batches (zkv_kvstore_mem_crash),
// the frontend's pending requests are lost. At restart the state machine resumes from the
// store's applied index, or from the Raft snapshot when that is newer. Snapshots (every
// snapshot_every applied entries, or when the log passes maxraftstate bytes) hold the
// simulator's 16-byte hash-chain header followed by zkv_kv_snapshot_write's blob.
#ifndef ZKV_SIM_KV_H
#define ZKV_SIM_KV_H

#include "sim.h"
#include "zkv_history.h"
#include "zkv_routing.h"

#define SIM_KV_ALL UINT32_MAX // a clerk connected to every node

typedef struct sim_kvclient sim_kvclient_t;

// A new clerk connected to the nodes in mask (bit i: node i). Clerks are the history's processes,
// numbered from 0 in creation order; the world owns them.
sim_kvclient_t *sim_kv_client (sim_t *s, uint32_t mask);
// The lab's ConnectClient: the nodes the clerk can reach from now on.
void sim_kv_client_connect (sim_kvclient_t *c, uint32_t mask);
// Gives the clerk a configuration to route by (copied), as if it had fetched it.
void sim_kv_client_routing (sim_kvclient_t *c, const zkv_routing_t *routing);
int sim_kv_client_process (const sim_kvclient_t *c);

// Called when an operation completes (a closed-loop client issues its next one from here).
typedef void (sim_kv_done_fn) (sim_t *s, sim_kvclient_t *c, void *arg);
void sim_kv_client_on_done (sim_kvclient_t *c, sim_kv_done_fn *fn, void *arg);

// Starts one operation on an idle clerk (value: NULL for a get). It retries with the same
// (client id, seq) until a node answers it: the lab's clerk never gives up.
void sim_kv_start (sim_t *s, sim_kvclient_t *c, zkv_hist_f_t f, const char *key, const char *value);
// A delete: f ZKV_HIST_DELETE, value NULL. A compare-and-set: sim_kv_start_cas.
// Starts a compare-and-set of key to value (NULL: a conditional delete) on an idle clerk: on
// the value expect (NULL: the key must be absent), or, with by_rev, on the revision expect_rev.
void sim_kv_start_cas (sim_t *s, sim_kvclient_t *c, const char *key, bool by_rev,
                       const char *expect, uint64_t expect_rev, const char *value);
bool sim_kv_busy (const sim_kvclient_t *c);
// What the last completed get read ("" for a missing key).
const char *sim_kv_value (const sim_kvclient_t *c);
// Whether it found the key, and the revision of the last answer (get, write or cas).
bool sim_kv_found (const sim_kvclient_t *c);
uint64_t sim_kv_revision (const sim_kvclient_t *c);

// The lab's blocking Get / Put / Append: run the world until the operation completes; fail
// if it takes more than SIM_KV_OP_DEADLINE of simulated time.
#define SIM_KV_OP_DEADLINE (120 * SIM_SEC)
const char *sim_kv_get (sim_t *s, sim_kvclient_t *c, const char *key);
void sim_kv_put (sim_t *s, sim_kvclient_t *c, const char *key, const char *value);
void sim_kv_append (sim_t *s, sim_kvclient_t *c, const char *key, const char *value);
// The lab's check(): a get that must read value.
void sim_kv_check (sim_t *s, sim_kvclient_t *c, const char *key, const char *value);

// A shard controller command (op ZKV_OP_JOIN .. ZKV_OP_QUERY, key and value as the client
// protocol has them) through an idle clerk, blocking like sim_kv_get: its outcome (0 or a
// ZKV_E* code; fails the run if it takes longer than SIM_KV_OP_DEADLINE), its answer's value in
// *answer (owned; may be NULL). Not part of the history.
int sim_kv_ctrl (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len, zkv_bytes_t *answer);

// The same, started on an idle clerk without waiting (its done callback runs at the end);
// sim_kv_ctrl_rc is the outcome of the last one that finished.
void sim_kv_ctrl_start (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint8_t *key,
                        size_t key_len, const uint8_t *value, size_t value_len);
int sim_kv_ctrl_rc (const sim_kvclient_t *c);
// Starts the last command that finished again, the same key and value (after ZKV_ESESSION: its
// outcome is unknown, and the controller refuses a join or leave it applied already).
void sim_kv_ctrl_again (sim_t *s, sim_kvclient_t *c);

// Runs the world until no clerk is busy; fails after deadline us.
void sim_kv_wait_idle (sim_t *s, uint64_t deadline_us);

// Bytes of node's durable Raft state without the snapshot (the lab's RaftStateSize), and of
// its durable snapshot (the lab's SnapshotSize); the largest over all nodes.
size_t sim_kv_raft_state_bytes (sim_t *s, int node);
size_t sim_kv_snapshot_bytes (sim_t *s, int node);
size_t sim_kv_max_raft_state (sim_t *s);
size_t sim_kv_max_snapshot (sim_t *s);

// The world's maxraftstate (sim_config_t), 0 for none.
size_t sim_kv_maxraftstate (sim_t *s);

// Every operation recorded so far.
const zkv_history_t *sim_kv_history (sim_t *s);
// End of a KV scenario: the history must be linearizable (an UNKNOWN verdict fails too).
void sim_kv_finish (sim_t *s);

typedef struct {
    uint64_t ops_ok;        // operations completed
    uint64_t requests;      // client_request messages sent (retries included)
    uint64_t not_leader;    // answers ZKV_ENOTLEADER
    uint64_t dedup_answers; // retries answered from the dedup table
    uint64_t proposals;     // kv_commands proposed
    uint64_t kv_snapshots;  // snapshots taken by KV state machines
    uint64_t kv_restores;   // snapshots restored into KV state machines
    uint64_t lin_steps;     // the linearizability check's search steps
} sim_kv_counters_t;

void sim_kv_counters (sim_t *s, sim_kv_counters_t *out);

#endif
