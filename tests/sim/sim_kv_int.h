// The KV service's private structures, shared by sim_kv.c (nodes) and sim_kvclient.c (clerks).
#ifndef ZKV_SIM_KV_INT_H
#define ZKV_SIM_KV_INT_H

#include "sim_internal.h"
#include "sim_kv.h"
#include "zkv_client_core.h"
#include "zkv_kv.h"

#define SIM_KV_CLIENT_EP      SIM_MAX_NODES // network endpoint of clerk c: SIM_KV_CLIENT_EP + c
#define SIM_KV_ENTRY_OVERHEAD 21            // bytes the memstore counts per stored entry

// A request a node's frontend has not answered yet.
typedef struct {
    int client;         // clerk index (reply endpoint)
    uint64_t client_id; // request's client id
    uint64_t seq;       // ... and seq
    uint64_t op;        // ZKV_OP_*
    uint64_t index;     // write: log index it was proposed at
    uint64_t term;      // write: ... in this term
    uint64_t read_id;   // get: its sim_read id (0 for a write)
    uint8_t *key;       // get: the key (owned)
    size_t key_len;     //
} sim_kvpending_t;

typedef struct {
    zkv_kvstore_t *store;     // memory kvstore: its committed batches survive crashes
    zkv_kv_t *kv;             // the state machine over it, NULL while down
    zkv_kv_recv_t *recv;      // streaming: the stream being staged, NULL for none
    sim_kvpending_t *pending; // the frontend's open requests (lost in a crash)
    size_t n_pending;         //
    size_t cap_pending;       //
} sim_kvnode_t;

struct sim_kvclient {
    int idx;              // process number, index in the world's clerks
    uint32_t mask;        // nodes it can reach
    zkv_ccore_t core;     // retry decisions
    bool busy;            // an operation is open
    zkv_hist_f_t f;       // ... what it is
    char *key;            // ... its key (owned)
    char *value;          // ... put / append argument (owned), NULL for a get
    uint64_t wake_us;     // the core's current WAIT ends (simulated us)
    char *result;         // last get's value (owned)
    sim_kv_done_fn *done; // completion callback
    void *done_arg;       //
};

typedef struct sim_kv {
    sim_kvnode_t nodes[SIM_MAX_NODES];
    sim_kvclient_t **clients; // every clerk, by index
    size_t n_clients;         //
    size_t cap_clients;       //
    zkv_history_t *history;   // every clerk's operations
    zkv_kv_results_t results; // scratch for zkv_kv_apply
    sim_kv_counters_t counters;
} sim_kv_t;

// sim_kv.c: hooks the world calls in KV mode.
void sim_kv_init (sim_t *self);
void sim_kv_free (sim_t *self);
void sim_kv_open (sim_t *self, sim_kv_t *kv, int node);
void sim_kv_crash (sim_t *self, int node);
// A restarting node's state machine from its kvstore; returns the store's applied index.
uint64_t sim_kv_boot (sim_t *self, int node);
void sim_kv_restore (sim_t *self, int node, uint64_t index, const uint8_t *data, size_t len);
bool sim_kv_wants_snapshot (sim_t *self, int node);
// header + zkv_kv_snapshot_write into a new buffer (free() it).
void sim_kv_snapshot (sim_t *self, int node, const uint8_t *header, size_t header_len,
                      uint8_t **buf_p, size_t *len_p);
void sim_kv_apply (sim_t *self, int node, const zkv_entry_t *entries, size_t n);
void sim_kv_read_done (sim_t *self, int node, uint64_t read_id, bool served);
void sim_kv_after_drive (sim_t *self, int node);
void sim_kv_request (sim_t *self, int node, int client, const zkv_client_request_t *rq);

// sim_kvclient.c
void sim_kv_net_send (sim_t *self, int from_ep, int to_ep, const zkv_msg_t *msg);
void sim_kv_deliver (sim_t *self, sim_event_t *ev);
void sim_kv_clients_free (sim_t *self);

#endif
