// Who may send what, once a connection is authenticated (actors/zkv_security.h says how it is):
// pure rules that the transport and the frontend apply to each message, kept here so that they
// are tested like every other decision.
#ifndef ZKV_AUTH_H
#define ZKV_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "zkv_msg.h"

// The sender of a message over a connection nobody authenticated (plain text).
#define ZKV_AUTH_ANYONE UINT64_MAX

// The node a peer message says it comes from (a Raft message's from, a forward's origin_node),
// 0 for one that names none.
uint64_t zkv_auth_claimed (const zkv_msg_t *msg);
// True if a peer may send msg: sender is the node whose key authenticated the connection (0: a
// key that is no node's, ZKV_AUTH_ANYONE: plain text, where nothing can be checked). A message
// from no node's key is refused; one that names a node must name the sender.
bool zkv_auth_peer (const zkv_msg_t *msg, uint64_t sender);
// True if a read-only (monitor) key may send msg to the client port: a node's status, a
// configuration (config_request, or a controller query), nothing that reads or writes keys.
bool zkv_auth_monitor (const zkv_msg_t *msg);

#endif
