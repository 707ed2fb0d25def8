// The actors of a zkvd process (CZMQ zactor functions) and how they talk.
//
// Every command between actors is a row of the message table (messages/zkv_msg_table.h), encoded
// and checked by the one codec: no string verbs, no hand-packed layouts. A message is one frame,
// or two for a command that carries a wire message (peer_send, publish: the second frame is the
// encoded wire message, moved without a copy). Inproc sockets (names from zkv_node_endpoint):
//   "tx"          transport's PULL: [peer_send][wire message]: send to a peer node
//   "group-in-G"  group G's PULL: [Raft message] from the transport, [group_request] from the
//                 frontend
//   "front-in"    frontend's PULL: [group_reply] [group_state] from the groups,
//                 [forward_request] [forward_reply] from the transport
//   "events"      event publisher's PULL: [publish][event body]
//
// No actor ever blocks on a send: every queue is bounded (S_INPROC_HWM), and a send that finds
// its queue full is dropped and counted by the sender (docs/design.md, "Queues"): a Raft message
// is retransmitted, a request is answered "busy" or times out, a reply times out at its client
// (which retries with the same seq: the dedup table answers), a state is sent again at the next
// tick, an event is lost (as a slow PUB subscriber loses it).
#ifndef ZKV_ACTORS_H
#define ZKV_ACTORS_H

#include <czmq.h>

#include "zkv_node.h"
#include "zkv_status.h"

void zkv_transport_actor (zsock_t *pipe, void *args);
void zkv_events_actor (zsock_t *pipe, void *args);
void zkv_group_actor (zsock_t *pipe, void *args);
void zkv_frontend_actor (zsock_t *pipe, void *args);
// The node's figures: zkv.node.stats events, and the HTTP endpoint (/metrics).
void zkv_stats_actor (zsock_t *pipe, void *args);

// A group actor is started with one of these.
typedef struct {
    zkv_node_t *node; // the node
    uint64_t group;   // the group to run
} zkv_group_args_t;

// A PUSH connected to an inproc endpoint (bounded queue; sends never block).
zsock_t *zkv_actors_push (zkv_node_t *node, const char *what, uint64_t group);
// A PULL bound to an inproc endpoint.
zsock_t *zkv_actors_pull (zkv_node_t *node, const char *what, uint64_t group);

// Sends cmd as one frame without blocking; 0, or -1 when the queue is full (dropped).
int zkv_actors_send (void *sock, const zkv_msg_t *cmd);
// Sends cmd followed by the wire message encoded in buf (len bytes, taken: freed by ZeroMQ
// once sent, or here when the send fails). 0 or -1 (dropped).
int zkv_actors_send_with (void *sock, const zkv_msg_t *cmd, uint8_t *buf, size_t len);
// Sends a peer_send for node `to` carrying msg (encoded here), on the peer's urgent connection
// when urgent (zkv_raft_msg_urgent). 0 or -1 (dropped).
int zkv_actors_send_peer (void *tx, uint64_t to, const zkv_msg_t *msg, bool urgent);
// Publishes an event: topic plus the encoded body (see docs/events.md). Dropped when the
// publisher's queue is full.
void zkv_actors_event (void *events, const char *topic, const zkv_msg_t *body);

// Receives one message of up to max frames without waiting (zmq_msg_t: no zframe or zmsg
// allocations); frames past max are discarded. Returns how many frames the message had, 0 if
// none was queued; frames[0, min (that, max)) are initialised: close them (zkv_actors_close).
size_t zkv_actors_recv (void *sock, zmq_msg_t *frames, size_t max);
void zkv_actors_close (zmq_msg_t *frames, size_t n);
// Decodes a frame (zkv_msg_decode).
int zkv_actors_decode (zmq_msg_t *frame, zkv_msg_t *out);

// Wall-clock ms since the epoch, for events.
uint64_t zkv_actors_now_ms (void);

#endif
