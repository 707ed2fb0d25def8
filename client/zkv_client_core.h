// The client's retry decisions as plain C: which node to send to, how long to wait, when to give
// up. No sockets, no clock, no randomness: the caller passes the time in and carries out the
// action it gets back (ARCHITECTURE.md: decisions are pure, I/O is at the edge).
//
// One request at a time. The caller's loop:
//     act = zkv_ccore_begin_key (core, now, timeout_ms, read_only, key, key_len);
//     while (act.kind != ZKV_CC_DONE) {
//         if (act.kind == ZKV_CC_SEND)  act = zkv_ccore_sent (core, now, send (act.node) == 0);
//         if (act.kind == ZKV_CC_FETCH) act = zkv_ccore_sent (core, now,
//                                                  send_config_request (act.node) == 0);
//         else wait until act.wake_at for a reply: act = zkv_ccore_reply (...) after
//                 zkv_ccore_saw_config (reply's config), or act = zkv_ccore_config (...) for a
//                 config_reply, or act = zkv_ccore_timer (core, now);
//     }
//     act.rc is the request's result.
//
// Routing. The core caches the cluster's routing configuration (zkv_routing.h: which group
// serves each shard, each group's members) and a leader per group, and sends a request to its
// key's group's leader (or a member), skipping the forwarding hop. It fetches the configuration
// (ZKV_CC_FETCH: a config_request) when a reply names a newer one than it holds, and at once
// when a node answers "wrong group"; until it has one, any node takes the request and forwards
// it. A request keeps its (client id, seq) across all of it.
//
// Sessions (cluster/zkv_kv.h, "Client sessions"). The servers forget a client idle too long, so
// each request carries session_t0 (the newest log time, a reply's log_ms, the core had learned
// when it began the request; the caller passes on every reply's with zkv_ccore_saw_log_ms). A
// request answered ZKV_ESESSION (its session may have expired where it went) starts a new
// session: a new client id (derived from the old one, a bijection, so ids stay as unique as the
// first), seqs from 1. If the request had been sent once only, that one send was refused and
// nothing applied: it goes again at once under the new session, the caller never sees it. If it
// had been sent more than once, an earlier send may have been applied: it finishes with
// ZKV_ESESSION, an unknown outcome like ZKV_ETIMEOUT. So that a new client's first session is
// not refused so, its first write fetches the configuration before it is sent: the reply's
// log_ms is at least the answering node's wall clock (cluster/zkv_front.h).
//
// Outcomes. A request that fails says what is known of its effect:
// - never sent (no node took it): ZKV_EUNREACHABLE, not applied. The caller reports what its
//   connections do (zkv_ccore_link, from a socket monitor); once every node refused the
//   connection, failed its handshake or has no address, and nothing was sent, the request ends
//   at once instead of waiting out its timeout (the cluster is down, or the addresses or keys
//   are wrong).
// - every attempt answered, each one a refusal before the request was proposed ("not the
//   leader", "busy", "wrong group", "not ready"): that answer's code, not applied.
// - any attempt whose fate is unknown (a node that got it never answered, or an answer saying it
//   may have been proposed: "timed out", "leader lost", "no quorum", an unknown code):
//   ZKV_ETIMEOUT for a write, its outcome unknown. An attempt the client moved on from (silent
//   for attempt_ms) is known once its node answers it after all: a node answers each request
//   once, in order, so its answers are counted against what was sent to it. A read has no effect:
//   it ends with the last error it was answered, or ZKV_ETIMEOUT if none.
#ifndef ZKV_CLIENT_CORE_H
#define ZKV_CLIENT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"
#include "zkv_routing.h"

typedef enum {
    ZKV_CC_SEND = 1,  // send the current request (same client id and seq) to node index `node`
    ZKV_CC_WAIT = 2,  // wait for a reply until wake_at, then call zkv_ccore_timer
    ZKV_CC_DONE = 3,  // the request is finished with result rc
    ZKV_CC_FETCH = 4, // send a config_request to node index `node` (then wait for its reply)
} zkv_cc_kind_t;

typedef struct {
    zkv_cc_kind_t kind; // what to do
    size_t node;        // ZKV_CC_SEND: index of the node to send to
    int64_t wake_at;    // ZKV_CC_WAIT: absolute time (ms) to call zkv_ccore_timer
    int rc;             // ZKV_CC_DONE: 0 or a negative ZKV_E* code
} zkv_cc_action_t;

// Why a request finished the way it did, for the caller's error text.
typedef enum {
    ZKV_CC_WHY_NONE = 0,       // succeeded, or still running
    ZKV_CC_WHY_NO_REPLY,       // no node answered before the deadline (outcome unknown)
    ZKV_CC_WHY_NOT_CONNECTED,  // no node was connected before the deadline: never sent
    ZKV_CC_WHY_SERVER_ERROR,   // the last answer was an error status (last_status); a write's
                               // outcome is unknown
    ZKV_CC_WHY_SERVER_REFUSED, // a definitive error (the request did not take effect)
    ZKV_CC_WHY_SESSION,        // its session expired after it had been sent more than once
    ZKV_CC_WHY_UNREACHABLE,    // every node refused the connection or failed its handshake:
                               // never sent (ZKV_EUNREACHABLE, at once)
    ZKV_CC_WHY_ALL_REFUSED,    // the deadline passed and every attempt had been refused before
                               // it was proposed (last_status): not applied
} zkv_cc_why_t;

// What a node's connection did, as the caller's socket monitor saw it (ZeroMQ's events).
typedef enum {
    ZKV_CC_LINK_CONNECTED = 1, // a connection was made; its handshake runs (ZMQ_EVENT_CONNECTED)
    ZKV_CC_LINK_UP,            // the handshake is done: requests can go (HANDSHAKE_SUCCEEDED)
    ZKV_CC_LINK_LOST,          // the connection closed (ZMQ_EVENT_DISCONNECTED)
    ZKV_CC_LINK_REFUSED,       // a connect attempt failed: nothing took the connection
                               // (ZMQ_EVENT_CLOSED while connecting)
    ZKV_CC_LINK_REJECTED,      // the handshake failed (HANDSHAKE_FAILED_*: CURVE keys)
    ZKV_CC_LINK_RETRY,         // a reconnect is scheduled (ZMQ_EVENT_CONNECT_RETRIED); as the
                               // first event, no connect attempt could even start
} zkv_cc_link_t;

// What the core makes of a node's connection from those events.
typedef enum {
    ZKV_CC_NODE_UNKNOWN = 0, // nothing heard yet (connecting, or a transport without events)
    ZKV_CC_NODE_HANDSHAKE,   // connected, its handshake running
    ZKV_CC_NODE_UP,          // connected: requests can go
    ZKV_CC_NODE_DOWN,        // it was up and the connection closed; reconnecting
    ZKV_CC_NODE_REFUSED,     // its connect attempts fail (nothing listens, or no route), and
                             // none succeeded since
    ZKV_CC_NODE_REJECTED,    // it closes connections before their handshake is done (keys that
                             // do not match, a client key it does not allow, its connection
                             // limit), and none succeeded since
    ZKV_CC_NODE_UNRESOLVED,  // no connect attempt could start: its host name does not resolve
} zkv_cc_node_t;

typedef struct {
    // Set once by the caller (zkv_ccore_init).
    size_t n_nodes;     // number of nodes
    uint64_t *ids;      // node id of each index (heap copy, owned)
    uint64_t client_id; // this client's id, the server's dedup key
    int attempt_ms;     // how long one attempt waits for a reply before trying elsewhere
    int backoff_min_ms; // first pause after an error answer or when no node is connected
    int backoff_max_ms; // the pause doubles up to this
    // Kept across requests.
    size_t leader;     // index of the node to try first (cached leader)
    uint64_t seq;      // seq of the current (or last) request; the next one is seq + 1
    uint64_t log_ms;   // the newest log time a reply named (0: none yet)
    uint64_t sessions; // sessions started after the first (new client ids), for statistics
    // State of the current request.
    bool active;            // a request is running
    bool read_only;         // a get: has no effect, so its errors may be reported as such
    int64_t deadline;       // absolute ms when the request gives up
    size_t target;          // node index of the current attempt
    size_t unsent_in_row;   // consecutive nodes that were not connected
    size_t hops;            // leader hints followed without an answer
    int64_t wake_at;        // absolute ms the current WAIT ends
    int backoff_ms;         // current pause
    bool any_sent;          // at least one attempt (or configuration fetch) left this client
    bool request_sent;      // the request itself left this client at least once
    bool maybe_applied;     // an attempt's fate is unknown: one was answered with a status that
                            // does not rule out a proposal, or (at the end) one went unanswered
    bool resend_after_wait; // the current WAIT is a pause: send again when it ends
    int last_status;        // positive ZKV error code of the last error answer, 0 none
    zkv_cc_why_t why;       // why the last request finished as it did
    uint64_t session_t0;    // the request's session_t0 (client_request.session_t0)
    size_t sends;           // times it left this client under its current client id
    // The routing cache, kept across requests.
    zkv_routing_t *routing; // the configuration last fetched, NULL until then (owned)
    uint64_t *group_leader; // leader node id of each of its groups as last heard, 0 unknown
    uint64_t seen_config;   // the highest configuration number a reply named
    zkv_cc_node_t *links;   // each node's connection as its events tell (n_nodes, owned)
    uint32_t *unanswered;   // per node, sends of the current request it has not answered yet
                            // (a node answers each request it gets once, in order; n_nodes)
    uint64_t fetches;       // configurations fetched (for tests and statistics)
    // The routing of the current request.
    uint64_t key_hash;   // zkv_fnv1a of its key (its shard: key_hash mod nshards)
    bool keyed;          // it has a key to route by
    uint64_t group;      // the group it is routed to (0: any node, which forwards)
    bool fetching;       // the current attempt asks for the configuration
    size_t wrong_in_row; // "wrong group" answers to the current request in a row
} zkv_ccore_t;

// Sets up core for n node ids (copied) and a client id; attempt and backoff in ms.
void zkv_ccore_init (zkv_ccore_t *core, const uint64_t *ids, size_t n, uint64_t client_id,
                     int attempt_ms);
// Frees what core owns.
void zkv_ccore_fini (zkv_ccore_t *core);

// Starts the next request (seq + 1) with an overall timeout; first action is a send.
zkv_cc_action_t zkv_ccore_begin (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only);
// The same for a request on key: routed to the key's group (a fetch of the configuration first
// when the last reply named a newer one).
zkv_cc_action_t zkv_ccore_begin_key (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only,
                                     const uint8_t *key, size_t key_len);
// A reply named configuration number config: fetch it before the next request if it is newer.
void zkv_ccore_saw_config (zkv_ccore_t *core, uint64_t config);
// A reply (client_reply or config_reply) named log time log_ms: the next requests' session_t0.
void zkv_ccore_saw_log_ms (zkv_ccore_t *core, uint64_t log_ms);
// The client id of a new session after id (never 0): what the core switches to.
uint64_t zkv_ccore_next_id (uint64_t id);
// A config_reply arrived on node index `from` (hostile input: checked).
zkv_cc_action_t zkv_ccore_config (zkv_ccore_t *core, int64_t now, size_t from,
                                  const zkv_config_reply_t *reply);
// Reports whether the send of the last ZKV_CC_SEND went out (false: node not connected).
zkv_cc_action_t zkv_ccore_sent (zkv_ccore_t *core, int64_t now, bool ok);
// Reports a reply that arrived on node index `from`. A reply to another client or another seq is
// stale: the action is then to keep waiting as before (same wake_at).
zkv_cc_action_t zkv_ccore_reply (zkv_ccore_t *core, int64_t now, size_t from, uint64_t client_id,
                                 uint64_t seq, uint64_t status, uint64_t leader);
// Reports that wake_at has passed without a (matching) reply.
zkv_cc_action_t zkv_ccore_timer (zkv_ccore_t *core, int64_t now);

// The connection to node index `node` did `event` (the caller's socket monitor saw it). Ends the
// current request at once with ZKV_EUNREACHABLE when it was never sent and no node can take it
// now (every one refused or rejected); otherwise the action is to keep waiting as before.
zkv_cc_action_t zkv_ccore_link (zkv_ccore_t *core, int64_t now, size_t node, zkv_cc_link_t event);
// True if node index `node` refuses connections, rejects them in their handshake, or has no
// address: a caller waiting for it to connect can stop waiting.
bool zkv_ccore_unreachable (const zkv_ccore_t *core, size_t node);
// True if an answer with status (a positive ZKV error code, not 0) means the attempt was refused
// before the request was proposed: it had no effect. False when it may have been proposed.
bool zkv_ccore_refused_unproposed (uint64_t status);

// Index of node id, or n_nodes if unknown.
size_t zkv_ccore_index (const zkv_ccore_t *core, uint64_t id);

#endif
