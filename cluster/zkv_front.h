// The frontend of a node, as pure code: where each client request goes and when it is answered.
// zkvd's frontend actor (a ROUTER for clients) and the simulator's nodes are its two hosts.
//
// What it decides:
// - routing: the key's shard and group from the node's routing configuration (zkv_routing.h);
// - serving or forwarding: a request for a group this node leads goes to the group's replica
//   (zkv_replica.h); one for a group led elsewhere is forwarded once, over the peer transport,
//   to the leader this node knows (or, for a group it does not host, to the leader last heard
//   of or a member), and the answer is relayed; a forwarded request is never forwarded again
//   (it is answered "not leader" with the hint, and the client follows it);
// - deadlines: each request waits at most its client's deadline (clamped; a default when none
//   is given), then is answered "timed out" (unknown outcome for a write);
// - bounds: at most max_pending requests wait, max_pending_per_client from one client address;
//   more are answered "busy";
// - answers, matched to the request they answer (a forwarded reply must echo the forward's id,
//   client and seq, a group's reply the request's handle, client and seq);
// - figures: every client request answered here is counted by kind and outcome, with its
//   latency (zkv_front_stats);
// - status queries, from the groups' latest states; configuration queries from the shard
//   controller (its latest, which the node then routes by), or without one from the routing.
//
// - calls: a hosted group's own requests to another group (group_call, the shard mover's) are
//   routed like a client's, to the group they name (with the members the caller gave when this
//   node does not know the group), and answered with a group_call_reply;
// - saves: a client's snapshot_request (a chunk of a group's saved state, zkv snapshot save)
//   goes to the group's leader like a request, as op ZKV_OP_SNAPSHOT with the request as its
//   key, and its answer, a snapshot_reply in the group's reply, goes back as a snapshot_reply;
// - the configuration: a request naming its group (client_request.group) goes to that group,
//   whose replica answers "wrong group" if it does not serve the key now; one naming none is
//   routed by the newest configuration a hosted group applied (zkv_front_group_config).
//
// The host (called synchronously from inside these functions; never call back into the
// frontend from them): to_client sends a reply to a client address; to_node sends a
// forward_request / forward_reply to a peer node; to_group hands a group_request to a hosted
// group's replica (non-zero: its queue is full, the request is answered "busy"); to_caller
// hands a group_call_reply to the hosted group that called; event publishes a zkv.client.error
// (the host stamps the time).
#ifndef ZKV_FRONT_H
#define ZKV_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"
#include "zkv_routing.h"
#include "zkv_stats.h"

typedef struct zkv_front zkv_front_t;

// A client's address as its host knows it (a ROUTER routing id, a simulated client's number).
typedef struct {
    uint16_t len;      // bytes used
    uint8_t data[256]; // the address
} zkv_front_addr_t;

typedef struct {
    uint64_t node;                // this node's id
    const uint64_t *groups;       // groups hosted here (copied)
    size_t n_groups;              // their number
    size_t max_key_bytes;         // larger keys are refused at once
    size_t max_value_bytes;       // larger values are refused at once
    size_t max_pending;           // requests waiting at once
    size_t max_pending_per_client; // ... of one client address (a connection): past it the
                                   // client is answered "busy" (one connection cannot take the
                                   // whole table)
    uint64_t max_pending_bytes;    // ... their key and value bytes in all (0: no bound)
    uint32_t default_deadline_ms; // for a request that names none
    uint32_t max_deadline_ms;     // a larger one is clamped
    uint32_t sweep_ms;            // how often deadlines are looked at
    bool controller;              // configurations come from a shard controller (group 0): a
                                  // config_request is answered with its latest (asked of it)
    const char *version;          // zkv's version, for status (a string that outlives it)
    uint64_t started_ms;          // host ms when the node started (status gives its uptime)
    const char *events;           // the node's event endpoint, for status (outlives it)
} zkv_front_config_t;

// Defaults: 4 KiB keys, 1 MiB values, 65,536 waiting, deadlines 30 s by default, 60 s at most,
// swept every 50 ms.
void zkv_front_config_defaults (zkv_front_config_t *cfg);

typedef struct {
    void (*to_client) (void *host, const zkv_front_addr_t *to, const zkv_msg_t *msg);
    void (*to_node) (void *host, uint64_t node, const zkv_msg_t *msg);
    int (*to_group) (void *host, const zkv_msg_t *request);
    void (*to_caller) (void *host, const zkv_msg_t *reply);
    // The routing changed (optional): the nodes it names are where peers are.
    void (*routing) (void *host, const zkv_routing_t *routing);
    void (*event) (void *host, const char *topic, const zkv_msg_t *body);
    // The host's monotonic clock in microseconds (optional), for requests' latencies; without
    // it they are measured in the ms of the inputs' now_ms.
    uint64_t (*now_us) (void *host);
    // The host's wall clock in ms since the epoch (optional): the least log time a
    // config_reply names, so that a new client's first request carries a session_t0 of now,
    // not of the last command its groups applied (zkv_kv.h, "Client sessions").
    uint64_t (*wall_ms) (void *host);
} zkv_front_host_t;

// A frontend routing by routing (copied). NULL on a bad config.
zkv_front_t *zkv_front_new (const zkv_front_config_t *cfg, const zkv_routing_t *routing,
                            const zkv_front_host_t *host, void *host_arg);
void zkv_front_destroy (zkv_front_t **self_p);

// A decoded message from a client at `from` (client_request, status_request, config_request,
// snapshot_request;
// anything else is counted as malformed and dropped). now_ms: the host's monotonic clock.
void zkv_front_client (zkv_front_t *self, const zkv_front_addr_t *from, const zkv_msg_t *msg,
                       uint64_t now_ms);
// A forward_request or forward_reply from peer node `from`.
void zkv_front_peer (zkv_front_t *self, uint64_t from, const zkv_msg_t *msg, uint64_t now_ms);
// A hosted group's answer (group_reply) and state (group_state).
void zkv_front_group_reply (zkv_front_t *self, const zkv_group_reply_t *reply);
void zkv_front_group_state (zkv_front_t *self, const zkv_group_state_t *state);
// A hosted group's call to another group (answered through host->to_caller).
void zkv_front_call (zkv_front_t *self, const zkv_group_call_t *call, uint64_t now_ms);
// A configuration a hosted group applied (an encoded config_reply): routed by when newer.
void zkv_front_group_config (zkv_front_t *self, const uint8_t *config, size_t len);
// Time passes: requests past their deadline are answered "timed out".
void zkv_front_tick (zkv_front_t *self, uint64_t now_ms);

// A newer routing configuration (copied); an older or equal number is ignored.
void zkv_front_set_routing (zkv_front_t *self, const zkv_routing_t *routing);
const zkv_routing_t *zkv_front_routing (const zkv_front_t *self);
// The state a hosted group last reported (false: not hosted here); its shard_states bytes are
// borrowed until the next report.
bool zkv_front_group (const zkv_front_t *self, uint64_t group, zkv_group_state_t *out);

typedef struct {
    uint64_t requests;  // client requests received
    uint64_t forwarded; // forwarded to another node
    uint64_t served;    // handed to a group here (clients' and forwarded ones)
    uint64_t answered;  // answers sent to clients and origins
    uint64_t timeouts;  // answered "timed out"
    uint64_t busy;      // answered "busy"
    uint64_t calls;     // hosted groups' calls to other groups
    uint64_t malformed; // client messages of a type a client does not send
    uint64_t stale;     // replies that answered nothing waiting (late, or forged)
    uint64_t pending;   // waiting now
    uint64_t forwarded_in; // requests other nodes forwarded here
} zkv_front_counters_t;

void zkv_front_counters (const zkv_front_t *self, zkv_front_counters_t *out);
// The requests' figures: answers by kind and outcome, latencies, forwards, what waits (the
// host adds what it alone sees: bytes, connections).
void zkv_front_stats (const zkv_front_t *self, zkv_front_stats_t *out);

#endif
