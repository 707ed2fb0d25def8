// The state-machine interface: what a replication group's driver (zkv_replica.h) asks of the
// application it replicates. A small table of functions over the implementation's own state;
// the KV service (zkv_kv_sm.c) is one implementation, the shard controller another, and the
// simulator has its own. The driver never knows which one it runs.
//
// Every call is made by the driver of one group, from one thread, in log order. An
// implementation keeps its state durable on its own (in a store it was handed), at the index
// it reports as applied; the Raft log is replayed from there after a restart.
//
// Errors. A call returns 0 or a negative ZKV_E* code. Store errors (ZKV_EIO, ZKV_ENOSPC,
// ZKV_ENOMEM; zkv_sm_store_error) mean the state is unknown: the driver stops the node, a restart
// reloads what is durable. Any other error of recv_chunk / recv_finish is the peer's bad input:
// the driver drops the stream and starts Raft over from the store, and the node stays up.
#ifndef ZKV_SM_H
#define ZKV_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_logstore.h"
#include "zkv_msg.h"

// A client request routed to the group (borrowed bytes).
typedef struct {
    uint64_t client_id;   // the client (dedup key)
    uint64_t seq;         // its sequence number
    uint64_t op;          // the operation (ZKV_OP_* for the KV service)
    const uint8_t *key;   // the key
    size_t key_len;       //
    const uint8_t *value; // a write's argument
    size_t value_len;     //
    uint64_t session_t0;  // the newest log time its client knew when it first sent it
    uint64_t now_ms;      // the host's wall clock (ms; 0: none), a leader's stamp on commands
    uint64_t cond;        // a write's condition (ZKV_COND_*, 0: none)
    const uint8_t *expect; // ZKV_COND_VALUE: the value the key must hold
    size_t expect_len;    //
    uint64_t expect_rev;  // ZKV_COND_REVISION: the revision it must have
} zkv_sm_request_t;

// An answer to a request. value is owned (zkv_sm_answer_free).
typedef struct {
    int status;        // 0 or a negative ZKV_E* code
    const char *error; // why, for people (static string), NULL when status is 0
    zkv_bytes_t value; // a read's value, or a write's reply value
    bool found;        // a read: the key exists (else status is ZKV_ENOTFOUND)
    uint64_t revision; // the key's revision: a write's new one, a read's, a failed condition's
} zkv_sm_answer_t;

void zkv_sm_answer_free (zkv_sm_answer_t *answer);

// The outcome of one applied entry.
typedef struct {
    uint64_t index;         // its log index
    bool has_client;        // it named a client: client_id and seq are valid
    uint64_t client_id;     // the client
    uint64_t seq;           // its sequence number
    zkv_sm_answer_t answer; // the answer for that request (owned)
} zkv_sm_result_t;

// Results of one apply call, in log order (owned: zkv_sm_results_free empties it).
typedef struct {
    zkv_sm_result_t *items; // results
    size_t count;           // their number
    size_t cap;             // allocated
} zkv_sm_results_t;

void zkv_sm_results_free (zkv_sm_results_t *results);
// Empties results but keeps its array for the next apply (no allocation per apply).
void zkv_sm_results_clear (zkv_sm_results_t *results);
// Appends an empty result (grows the array); returns it.
zkv_sm_result_t *zkv_sm_results_push (zkv_sm_results_t *results);

// What prepare decided about a request.
typedef enum {
    ZKV_SM_PROPOSE = 0,  // log the command it encoded, answer once it is applied
    ZKV_SM_ANSWERED = 1, // answered at once (a retry the dedup table knows, a refusal)
    ZKV_SM_READ = 2,     // a read: confirm leadership (ReadIndex), then call read
} zkv_sm_verdict_t;

// A request of the machine's own to another group (the shard mover's pulls, the controller
// queries of a shard group's leader), sent through the node's frontend like a client's.
typedef struct {
    uint64_t id;             // the machine's id for it, echoed in its answer (call_reply)
    uint64_t group;          // the group called
    const uint64_t *members; // its members as the machine's configuration says (a hint for
    size_t n_members;        // a node that does not know the group), n_members of them
    uint64_t op;             // ZKV_OP_QUERY, ZKV_OP_PULL, ZKV_OP_HAVE
    const uint8_t *key;      // the op's key
    size_t key_len;          //
    uint32_t deadline_ms;    // answered "timed out" after this long
} zkv_sm_call_t;

// What a machine may do on its own, handed to work and call_reply by the driver (valid only
// during that call).
typedef struct {
    void *arg; // the driver's
    // Sends a call; its answer comes to call_reply (every call gets one: the frontend answers
    // "timed out" at its deadline).
    void (*call) (void *arg, const zkv_sm_call_t *call);
    // Proposes a command of the machine's own to the log (leader only): 0, or why not
    // (ZKV_ENOTLEADER, ZKV_EBUSY, the core's limits).
    int (*propose) (void *arg, const uint8_t *cmd, size_t len);
    // Publishes an event (an event_shard body; the driver fills in the node).
    void (*event) (void *arg, const char *topic, const zkv_msg_t *body);
    // The machine applied a new configuration (an encoded config_reply): the node routes by
    // the newest it knows.
    void (*config) (void *arg, const uint8_t *config, size_t len);
} zkv_sm_io_t;

typedef struct {
    const char *name; // "kv", "controller", ...
    // Last index applied (durable in the implementation's store).
    uint64_t (*applied) (void *impl);
    // At boot, and when Raft restarts from the store: snap is the Raft log store's snapshot
    // (index 0: none) and blob its bytes (blob mode only). Brings the state up to it when it
    // can (a staged stream of it, a blob) and returns 1 if the state is usable, 0 if it is
    // missing or behind snap (Raft then boots with need_snapshot), or an error.
    int (*boot) (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len);
    // A request at the leader: validates it, and for a write encodes the command to log
    // (*cmd_p, free() it). Returns a zkv_sm_verdict_t; with ZKV_SM_ANSWERED, *answer is filled.
    int (*prepare) (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
                    zkv_sm_answer_t *answer);
    // Applies committed entries in order (NOOPs too), durably, in one batch; appends one result
    // per entry applied to results. Entries at or below the applied index are skipped.
    int (*apply) (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results);
    // Serves a read from the state as applied now.
    int (*read) (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer);

    // Snapshots, blob mode (optional; NULL in streaming-only machines): the whole state as
    // bytes at the applied index (free() *buf_p), and back.
    int (*blob_write) (void *impl, uint8_t **buf_p, size_t *len_p);
    int (*blob_restore) (void *impl, uint64_t index, const uint8_t *buf, size_t len);

    // Snapshots, streaming mode. A view is a consistent picture of the state at the applied
    // index it was opened at, unchanged by later applies; readers read a view's stream of
    // bytes in chunks of whole records, resumable at any chunk boundary. The driver keeps a
    // view while a transfer reads it, then closes it.
    void *(*view_open) (void *impl, int *err);
    void (*view_close) (void *impl, void *view);
    void *(*reader_open) (void *impl, void *view, int *err);
    // The chunk at offset (at most max bytes but at least one record), *buf_p to free();
    // *done_p when it ends the stream. ZKV_EBUSY: not now (the driver lets Raft ask again).
    int (*reader_read) (void *impl, void *reader, uint64_t offset, size_t max, uint8_t **buf_p,
                        size_t *len_p, bool *done_p);
    void (*reader_close) (void *impl, void *reader);
    // A received chunk of snap's stream, written (staged apart from the current state, which
    // stays whole and is still served) before the driver syncs and acknowledges it. Offset 0
    // starts a stream (drop a partial one).
    int (*recv_chunk) (void *impl, const zkv_snapshot_meta_t *snap, uint64_t offset,
                       const uint8_t *data, size_t len, bool done);
    // The whole stream of snap was received and the Raft snapshot's metadata is durable: make
    // the staged state current.
    int (*recv_finish) (void *impl, const zkv_snapshot_meta_t *snap);
    // Bytes the state takes (data and dedup records), for status and metrics.
    uint64_t (*size) (void *impl);
    // Optional (NULL: 0): the log time of the state as applied (zkv_kv.h, "Client sessions"),
    // which every answer and the group's state carry (log_ms).
    uint64_t (*log_ms) (void *impl);

    // Optional (NULL: the machine does nothing on its own): its own work, called at every
    // tick (tick true) and after every ready loop (tick false); leading while this replica
    // leads the group in term (and its state is usable).
    void (*work) (void *impl, const zkv_sm_io_t *io, bool leading, uint64_t term, bool tick);
    // Optional with work: the answer to one of its calls (status 0 or negative, value
    // borrowed).
    void (*call_reply) (void *impl, const zkv_sm_io_t *io, uint64_t id, int status,
                        const zkv_bytes_t *value);
    // Optional: the configuration number the machine is in, and one zkv_shard_state_t byte per
    // shard (borrowed until the next call into the machine; *n 0: none), for the group's state.
    const uint8_t *(*shard_states) (void *impl, uint64_t *config, size_t *n);
    // Destroys the implementation's state (not its store).
    void (*destroy) (void *impl);
} zkv_sm_ops_t;

// A state machine: its functions and state.
typedef struct {
    const zkv_sm_ops_t *ops; // the implementation
    void *impl;              // its state, owned (ops->destroy)
} zkv_sm_t;

// Wraps an implementation (the state machine owns impl from now on).
zkv_sm_t *zkv_sm_new (const zkv_sm_ops_t *ops, void *impl);
// Destroys a state machine (ops->destroy) and nulls *sm_p; safe on NULL.
void zkv_sm_destroy (zkv_sm_t **sm_p);

// True for the errors that mean the node's own store failed (stop the node).
bool zkv_sm_store_error (int rc);

#endif
