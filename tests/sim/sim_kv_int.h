// The KV service's private structures, shared by sim_kv.c (nodes) and sim_kvclient.c (clerks).
#ifndef ZKV_SIM_KV_INT_H
#define ZKV_SIM_KV_INT_H

#include "sim_internal.h"
#include "sim_kv.h"
#include "zkv_client_core.h"
#include "zkv_kv.h"

#define SIM_KV_CLIENT_EP   SIM_MAX_NODES // network endpoint of clerk c: SIM_KV_CLIENT_EP + c
#define SIM_ENTRY_OVERHEAD 21            // bytes the memstore counts per stored entry
#define SIM_KV_SHARDS      8             // shards of the key space in KV mode
#define SIM_KV_MAX_SHARDS  SIM_KV_SHARDS

struct sim_kvclient {
    int idx;              // process number, index in the world's clerks
    uint32_t mask;        // nodes it can reach
    zkv_ccore_t core;     // retry decisions
    bool busy;            // an operation is open
    zkv_hist_f_t f;       // ... what it is
    char *key;            // ... its key (owned)
    char *value;          // ... put / append argument (owned), NULL for a get
    uint64_t wake_us;     // the core's current WAIT ends (simulated us)
    uint64_t begun_us;    // simulated time the current operation began (its first send)
    char *result;         // last get's value (owned), NULL when the key was not found
    uint64_t revision;    // the last answer's revision (a get's, a write's, a failed cas's)
    // A cas (ZKV_HIST_CAS): its condition.
    bool cas_by_rev;      // on a revision (expect_rev), else on a value (expect)
    char *expect;         // the value expected (owned), NULL: the key must be absent
    uint64_t expect_rev;  // the revision expected (0: absent)
    int status;           // the last answer's status (0 or a positive ZKV_E* value)
    sim_kv_done_fn *done; // completion callback
    void *done_arg;       //
    // A shard controller command instead of a key's (sim_kv_ctrl): not in the history.
    uint64_t op;          // its op (0: a key's operation)
    uint64_t last_op;     // the last one's op (sim_kv_ctrl_again)
    zkv_bytes_t ckey;     // its key (owned)
    zkv_bytes_t cvalue;   // its value (owned)
    int rc;               // its outcome
    zkv_bytes_t answer;   // its answer's value (owned)
};

typedef struct sim_kv {
    sim_kvclient_t **clients; // every clerk, by index
    size_t n_clients;         //
    size_t cap_clients;       //
    zkv_history_t *history;   // every clerk's operations
    sim_kvclient_t *ctrl;     // the shard controller's clerk (sim_shard.c), NULL until used
    sim_kv_counters_t counters;
} sim_kv_t;

// sim_kv.c: the KV service in the world.
void sim_kv_init (sim_t *self);
void sim_kv_free (sim_t *self);
// Starts node's frontend (at boot and restart).
void sim_kv_start_front (sim_t *self, int node);

// sim_kvclient.c
void sim_kv_net_send (sim_t *self, int from_ep, int to_ep, const zkv_msg_t *msg);
void sim_kv_deliver (sim_t *self, sim_event_t *ev);
void sim_kv_clients_free (sim_t *self);

#endif
