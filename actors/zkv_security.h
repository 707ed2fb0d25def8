// zkvd's CURVE security (CZMQ's zcert and zauth): the node's certificate, the keys it lets in,
// and how its sockets use them.
//
// Under /cluster/security = curve every socket that listens (peer ROUTER, client ROUTER, event
// PUB) is a CURVE server with the node's certificate, and every peer DEALER a CURVE client that
// knows the key of the node it connects to. A handshake succeeds only for a key zauth allows:
// the nodes' keys (config file, and nodes the shard controller names), the client keys and the
// monitor keys (directories the config names, read at start and every few seconds after: a key
// file added is let in, a key file removed is refused to new connections). zauth takes one directory of
// public certificates; zkvd writes that directory under its data directory at start
// (DATA/authorized-keys, one file per key, no duplicates: zauth aborts on a duplicate key) and
// adds to it when it learns a node. What a key may do once connected is decided per message from
// its User-Id (the public key that authenticated the connection): a peer message must come from
// the node it names (actors/zkv_transport.c), a monitor key only reads status and configurations
// (actors/zkv_frontend.c).
#ifndef ZKV_SECURITY_H
#define ZKV_SECURITY_H

#include <czmq.h>
#include <stdbool.h>

#include "zkv_config.h"

typedef struct zkv_security zkv_security_t;

// The security of node id under config: loads its certificate, writes the allowed keys into
// data_dir/authorized-keys and starts zauth (curve), or does nothing but say it loudly (none).
// NULL and one line in err when the node cannot run securely (no certificate, a key that does
// not match the config, an unreadable key directory).
zkv_security_t *zkv_security_new (const zkv_config_t *config, uint64_t id, const char *data_dir,
                                  char *err, size_t errlen);
void zkv_security_destroy (zkv_security_t **self_p);

// True under curve.
bool zkv_security_on (const zkv_security_t *self);
// Makes sock (not yet bound) a CURVE server with the node's certificate.
void zkv_security_serve (const zkv_security_t *self, zsock_t *sock);
// Makes sock (not yet connected) a CURVE client, with the node's certificate, of the server
// whose public key is server_key (Z85).
void zkv_security_connect (const zkv_security_t *self, zsock_t *sock, const char *server_key);
// Lets a node the node did not know at start in (its public key, Z85): 0, or -1 when the key is
// not a key or the file cannot be written. Thread-safe.
int zkv_security_allow_node (zkv_security_t *self, uint64_t node, const char *key);
// The public key (Z85) a received frame's connection authenticated with, or NULL (plain text).
const char *zkv_security_user (zmq_msg_t *frame);
// True if key is a read-only (monitor) key. Thread-safe.
bool zkv_security_monitor (zkv_security_t *self, const char *key);
// Reads the client and monitor key directories again: keys added since are let in, keys
// removed are taken out for new connections (zauth rereads its directory when it changes).
// zkvd calls it every few seconds. 0, or ZKV_ECONFIG (logged; the keys stay as they were).
int zkv_security_reload (zkv_security_t *self, uint64_t id);

#endif
