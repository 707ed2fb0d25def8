// zkv_conns: the connections a listening socket holds, bounded. ZeroMQ accepts every TCP
// connection and has no option to cap them, so a socket monitor (zmq_socket_monitor) reports
// each accepted and closed connection with its file descriptor; past the limit a new one is shut
// down at once (shutdown(2): ZeroMQ sees the peer gone and closes it), counted and logged once,
// and the descriptors stay for the node's storage. Handshakes that do not finish are dropped
// after a few seconds (ZMQ_HANDSHAKE_IVL), so idle connections cannot hold the slots.
#ifndef ZKV_CONNS_H
#define ZKV_CONNS_H

#include <czmq.h>
#include <stdint.h>

typedef struct zkv_conns zkv_conns_t;

// Watches sock (a listening socket, before it binds) under name ("client", "peer", "events")
// for node; at most max connections at once.
zkv_conns_t *zkv_conns_new (zsock_t *sock, const char *name, uint64_t node, size_t max);
void zkv_conns_destroy (zkv_conns_t **self_p);
// The monitor socket, for the actor's poller; call zkv_conns_handle when it is readable.
zsock_t *zkv_conns_socket (zkv_conns_t *self);
void zkv_conns_handle (zkv_conns_t *self);
// Closes the connection on descriptor fd (a client that does not read its answers: ZeroMQ
// sees the peer gone and drops what was queued for it); counted.
void zkv_conns_kick (zkv_conns_t *self, int fd);
// Connections open now, and refused so far.
size_t zkv_conns_open (const zkv_conns_t *self);
uint64_t zkv_conns_refused (const zkv_conns_t *self);
uint64_t zkv_conns_kicked (const zkv_conns_t *self);

#endif
