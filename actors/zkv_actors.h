// The actors of a zkvd process (CZMQ zactor functions) and the inproc commands between them.
//
// Every actor takes the shared zkv_node_t (zkv_node.h) as its argument, except the group and
// applier actors which take a zkv_group_args_t. Inproc sockets (names from zkv_node_endpoint):
//   "tx"            transport's PULL: [to node u64] [encoded message]: send to a peer
//   "group-in-G"    group G's PULL: STEP [encoded Raft message] | PROPOSE [kv_command] |
//                   READ [request id u64] | SNAPSHOT [index u64] [data] | CHUNK [to] [index]
//                   [term] [offset] [done u8] [data] | UNAVAILABLE [index] [term] | RESTART:
//                   the applier could not install a received snapshot, restart the Raft core
//                   from the store
//   "apply-in-G"    group G's applier PULL: APPLY [packed]: all entries of one ready in one
//                   frame, each [index u64][term u64][type u8][local u8][len u64][data] |
//                   INSTALL [index u64] [term u64] [data] | READ [request id] [read index]
//                   [key] | SNAPSHOT_WANTED [log bytes] | CHUNK_WANTED [to] [index] [term]
//                   [offset] [max bytes] | RECV_CHUNK [index] [term] [offset] [done u8] [data]
//   "chunk-ack-G"   group G's PULL: CHUNK_WRITTEN | CHUNK_REJECTED (the chunk was malformed:
//                   do not acknowledge it)
//   "front-in"      frontend's PULL: PEER [encoded forward message] | RESULTS [group] [packed]:
//                   the answers of one applied batch, each [client id u64][seq u64][status
//                   u64][len u64][value] | FAILED [group] [client id] [seq] [status] [leader]
//                   | READ_DONE [request id] [status] [value] [leader] | DEPOSED [group]
//                   [leader]: this node stopped leading the group
//   "events"        event publisher's PULL: [topic] [msgpack body]
#ifndef ZKV_ACTORS_H
#define ZKV_ACTORS_H

#include <czmq.h>

#include "zkv_node.h"

// Bytes before each entry's data in APPLY, and before each answer's value in RESULTS.
#define ZKV_APPLY_ENTRY_HEADER  26
#define ZKV_RESULTS_ITEM_HEADER 32

// A Raft group's actor and applier are started with one of these.
typedef struct {
    zkv_node_t *node; // the node
    uint64_t group;   // the group to run
} zkv_group_args_t;

void zkv_transport_actor (zsock_t *pipe, void *args);
void zkv_events_actor (zsock_t *pipe, void *args);
void zkv_group_actor (zsock_t *pipe, void *args);
void zkv_applier_actor (zsock_t *pipe, void *args);
void zkv_frontend_actor (zsock_t *pipe, void *args);

// Helpers for actors: a PUSH connected to an inproc endpoint that never blocks its sender
// for long (a high HWM; sends that still fail are dropped and counted by the caller).
zsock_t *zkv_actors_push (zkv_node_t *node, const char *what, uint64_t group);
// A PULL bound to an inproc endpoint.
zsock_t *zkv_actors_pull (zkv_node_t *node, const char *what, uint64_t group);
// Sends a message built by zmsg without blocking; returns 0 or -1 (message dropped).
int zkv_actors_send (zsock_t *sock, zmsg_t **msg_p);
// Receives one message of up to max frames without waiting (zmq_msg_t: no zframe or zmsg
// allocations); frames past max are discarded. Returns how many frames the message had, 0 if
// none was queued; frames[0, min (that, max)) are initialised: close them (zkv_actors_close).
size_t zkv_actors_recv (void *sock, zmq_msg_t *frames, size_t max);
void zkv_actors_close (zmq_msg_t *frames, size_t n);
// The u64 in an 8-byte frame of our own inproc protocol (asserts the size: our own API).
uint64_t zkv_actors_u64 (zmq_msg_t *frame);
// True if the frame holds exactly the verb.
bool zkv_actors_verb_is (zmq_msg_t *frame, const char *verb);
// Sends n parts as one message without blocking (each part copied); 0 or -1 (dropped).
int zkv_actors_sendv (void *sock, const void *const *data, const size_t *size, size_t n);
// Publishes an event: topic plus an encoded message body (see docs/events.md).
void zkv_actors_event (zsock_t *events, const char *topic, const zkv_msg_t *body);

#endif
