// The transport actor: one ROUTER bound to the node's peer endpoint (inbound), one DEALER per
// peer connected to the peer's endpoint (outbound). One msgpack message per ZeroMQ message.
//
// It never blocks on a slow or dead peer: outbound DEALERs send with ZMQ_DONTWAIT and a bounded
// queue (ZMQ_SNDHWM), with ZMQ_IMMEDIATE so nothing queues for a peer that is not connected.
// What does not fit is dropped and counted: Raft retransmits, clients retry. Inbound bytes are
// hostile: malformed messages are counted, logged once and dropped.
//
// Under CURVE (zkv_security.h) every connection is authenticated: a DEALER knows the key of the
// node it connects to, and each inbound message carries the key its connection authenticated
// with (User-Id). A peer message is taken only from the node it says it comes from (the Raft
// header's from, a forward's origin_node); anything else is dropped and counted. A forwarded
// reply goes to the frontend with the node it came from, which must be the node the request was
// forwarded to.
//
// A refused handshake (a node that does not know our key yet: it learns it from the shard
// controller a moment later) ends a ZeroMQ connection for good, without a reconnect. So a
// DEALER that has not taken a message for S_PEER_REBUILD_MS is rebuilt, at most that often.
//
// Two DEALERs go to each peer: one for appends with entries, snapshot chunks and forwards, one
// for what keeps leadership and elections going (heartbeats, replies, votes:
// zkv_raft_msg_urgent). So a heartbeat never waits behind megabytes of appends in a queue or a
// TCP stream, and on arrival urgent Raft messages go to the group's urgent queue, which the
// group reads first.
#include "zkv_actors.h"
#include "zkv_auth.h"
#include "zkv_conns.h"
#include "zkv_conns.h"
#include "zkv_log.h"

#include <inttypes.h>
#include <string.h>

// Messages queued per peer before sends are dropped: a few election timeouts' worth of
// pipelined appends, not more (stale appends are useless to a follower that comes back).
#define S_PEER_SNDHWM 4096
// Inbound queue: the ROUTER's fair-queued backlog across all peers.
#define S_PEER_RCVHWM 16384
// On shutdown, give queued messages (a forward_reply, a vote) a moment to leave.
#define S_PEER_LINGER_MS 200
// Peers at most (the config file's nodes and those configurations name): more are refused.
#define S_MAX_PEERS 1024
// A peer connection that takes no message this long is made anew (see above).
#define S_PEER_REBUILD_MS 1000

// The connections to a peer: data, and urgent.
enum { S_DATA, S_URGENT, S_LANES };

typedef struct {
    zsock_t *dealer;       // outbound socket to the peer's endpoint
    int64_t failing_since; // when sends began to fail (0: the last one went)
    int64_t built_at;      // when the DEALER was made
} s_lane_t;

typedef struct {
    uint64_t id;              // peer node id
    char key[41];             // its public key (Z85; empty in plain text)
    char *endpoint;           // its peer endpoint (owned)
    s_lane_t lanes[S_LANES];  // its connections
    uint64_t dropped;         // sends dropped because a queue was full (or no connection)
    uint64_t rebuilt;         // times a connection was made anew
} s_peer_t;

typedef struct {
    zkv_node_t *node;         // the node
    zsock_t *pipe;            // actor pipe
    zsock_t *router;          // inbound peer traffic
    zkv_conns_t *conns;       // its connections, bounded
    zsock_t *tx;              // outbound requests from other actors
    zsock_t *front;           // to the frontend (forward_request / forward_reply)
    s_peer_t *peers;          // outbound, one per other node
    size_t n_peers;           // their number
    size_t cap_peers;         // allocated
    uint64_t peers_refused;   // nodes a configuration named past S_MAX_PEERS
    zsock_t **groups;         // to each hosted group actor, node->groups order
    zsock_t **urgent;         // ... their urgent queues
    uint64_t malformed;       // inbound messages that did not decode
    uint64_t wrong_version;   // inbound messages of another protocol version
    uint64_t misrouted;       // inbound messages for a group or node not here
    uint64_t unauthenticated; // inbound messages from a key that is no node's, or claiming
                              // another node than the one whose key sent them
    uint64_t local_drops;     // inbound messages dropped because an actor's queue was full
    uint64_t received;        // inbound messages delivered
    uint64_t sent;            // outbound messages queued
} s_transport_t;

// A DEALER connected to node id at endpoint, authenticating with our key and knowing its key
// (CURVE), or NULL when the endpoint does not take a connect.
static zsock_t *
s_dealer (s_transport_t *self, uint64_t id, const char *endpoint, const char *key)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndhwm (dealer, S_PEER_SNDHWM);
    zsock_set_immediate (dealer, 1);
    zsock_set_linger (dealer, S_PEER_LINGER_MS);
    zkv_security_connect (self->node->security, dealer, key);
    if (zsock_connect (dealer, "%s", endpoint) < 0) {
        zkv_log_error ("zkvd %" PRIu64 ": cannot connect to node %" PRIu64 " at %s: %s",
                       self->node->id, id, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
    }
    return dealer;
}

// Connects to node id at endpoint (a node of the config file, or one a configuration names)
// whose public key is key (Z85; "" in plain text); a node already known keeps its connection.
// 0, or -1 when the connect fails.
static int
s_peer_add (s_transport_t *self, uint64_t id, const char *endpoint, const char *key)
{
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].id == id)
            return 0;
    if (self->n_peers >= S_MAX_PEERS) {
        if (self->peers_refused++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": a configuration names more than %d peers; "
                             "refusing the others",
                             self->node->id, S_MAX_PEERS);
        return 0;
    }
    if (self->n_peers == self->cap_peers) {
        self->cap_peers = self->cap_peers ? 2 * self->cap_peers : 16;
        self->peers = (s_peer_t *)realloc (self->peers, self->cap_peers * sizeof (s_peer_t));
        assert (self->peers);
    }
    s_peer_t *p = &self->peers[self->n_peers];
    *p = (s_peer_t){.id = id};
    for (int l = 0; l < S_LANES; l++) {
        p->lanes[l].dealer = s_dealer (self, id, endpoint, key);
        p->lanes[l].built_at = zclock_mono ();
        if (!p->lanes[l].dealer) {
            for (int k = 0; k < l; k++)
                zsock_destroy (&p->lanes[k].dealer);
            return -1;
        }
    }
    self->n_peers++;
    p->endpoint = strdup (endpoint);
    assert (p->endpoint);
    snprintf (p->key, sizeof p->key, "%s", key);
    return 0;
}

static int
s_setup (s_transport_t *self)
{
    zkv_node_t *node = self->node;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_rcvhwm (self->router, S_PEER_RCVHWM);
    zsock_set_maxmsgsize (self->router, (int)ZKV_MSG_MAX_BYTES);
    zsock_set_linger (self->router, 0);
    zkv_security_serve (node->security, self->router);
    self->conns = zkv_conns_new (self->router, "peer", node->id,
                                 (size_t)zkv_config_cluster (node->config)->max_connections);
    if (zsock_bind (self->router, "%s", me->peer) < 0) {
        zkv_log_error ("zkvd %" PRIu64 ": cannot bind peer endpoint %s: %s", node->id, me->peer,
                       zmq_strerror (zmq_errno ()));
        return -1;
    }
    size_t n_nodes = zkv_config_node_count (node->config);
    for (size_t i = 0; i < n_nodes; i++) {
        const zkv_config_node_t *peer = zkv_config_node_at (node->config, i);
        char key[41] = "";
        if (zkv_security_on (node->security) &&
            zkv_config_node_key (node->config, peer, key, NULL, 0) != 0)
            return -1; // zkv_security_new checked every node's key
        if (peer->id != node->id && s_peer_add (self, peer->id, peer->peer, key) != 0)
            return -1;
    }
    self->tx = zkv_actors_pull (node, "tx", UINT64_MAX);
    self->front = zkv_actors_push (node, "front-in", UINT64_MAX);
    self->groups = (zsock_t **)zmalloc (node->n_groups * sizeof (zsock_t *));
    self->urgent = (zsock_t **)zmalloc (node->n_groups * sizeof (zsock_t *));
    for (size_t i = 0; i < node->n_groups; i++) {
        self->groups[i] = zkv_actors_push (node, "group-in", node->groups[i]);
        self->urgent[i] = zkv_actors_push (node, "group-urgent", node->groups[i]);
    }
    return 0;
}

static void
s_teardown (s_transport_t *self)
{
    zkv_node_t *node = self->node;
    if (self->malformed || self->wrong_version || self->misrouted || self->local_drops ||
        self->unauthenticated)
        zkv_log_info ("zkvd %" PRIu64 ": transport: %" PRIu64 " malformed, %" PRIu64
                      " of another protocol version, %" PRIu64 " misrouted, %" PRIu64
                      " unauthenticated, %" PRIu64 " dropped inbound",
                      node->id, self->malformed, self->wrong_version, self->misrouted,
                      self->unauthenticated, self->local_drops);
    for (size_t i = 0; i < self->n_peers; i++) {
        if (self->peers[i].dropped)
            zkv_log_info ("zkvd %" PRIu64 ": transport: %" PRIu64 " messages to node %" PRIu64
                          " dropped (queue full or not connected; connection made anew %" PRIu64
                          " times)",
                          node->id, self->peers[i].dropped, self->peers[i].id, self->peers[i].rebuilt);
        for (int l = 0; l < S_LANES; l++)
            zsock_destroy (&self->peers[i].lanes[l].dealer);
        free (self->peers[i].endpoint);
    }
    free (self->peers);
    if (self->groups)
        for (size_t i = 0; i < node->n_groups; i++)
            zsock_destroy (&self->groups[i]);
    free (self->groups);
    if (self->urgent)
        for (size_t i = 0; i < node->n_groups; i++)
            zsock_destroy (&self->urgent[i]);
    free (self->urgent);
    zsock_destroy (&self->front);
    zsock_destroy (&self->tx);
    zkv_conns_destroy (&self->conns);
    zsock_destroy (&self->router);
}

// The node whose key authenticated payload's connection: its id, 0 for a key that is no node's
// (a client's, say). ZKV_AUTH_ANYONE in plain text, where nothing is authenticated.
static uint64_t
s_sender (s_transport_t *self, zmq_msg_t *payload)
{
    if (!zkv_security_on (self->node->security))
        return ZKV_AUTH_ANYONE;
    const char *user = zkv_security_user (payload);
    for (size_t i = 0; user && i < self->n_peers; i++)
        if (strcmp (self->peers[i].key, user) == 0)
            return self->peers[i].id;
    return 0;
}

// One inbound message from a peer: validate, then hand its bytes to the actor it is for. The
// payload moves on without a copy (zmq_msg_send takes it); the caller closes what is left.
static void
s_inbound (s_transport_t *self, zmq_msg_t *payload)
{
    zkv_node_t *node = self->node;
    uint64_t sender = s_sender (self, payload);
    if (sender == 0) {
        if (self->unauthenticated++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a peer message over a connection that "
                             "authenticated with a key that is no node's; counting further ones",
                             node->id);
        return;
    }
    zkv_msg_t msg;
    size_t size = zmq_msg_size (payload);
    int rc = zkv_msg_decode ((const uint8_t *)zmq_msg_data (payload), size, &msg);
    if (rc == ZKV_EVERSION) {
        if (self->wrong_version++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": refused a peer message of another protocol version "
                             "(this node speaks %d); counting further ones",
                             node->id, ZKV_PROTOCOL_VERSION);
        return;
    }
    if (rc != 0) {
        if (self->malformed++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a malformed peer message (%s, %zu bytes); "
                             "counting further ones",
                             node->id, zkv_strerror (rc), size);
        return;
    }
    if (!zkv_auth_peer (&msg, sender)) {
        if (self->unauthenticated++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a %s that says it is from node %" PRIu64
                             " but came over node %" PRIu64 "'s connection; counting further ones",
                             node->id, zkv_msg_name (msg.type), zkv_auth_claimed (&msg), sender);
        zkv_msg_free (&msg);
        return;
    }
    zsock_t *dest = NULL;
    if (zkv_msg_is_raft (msg.type)) {
        int slot = zkv_node_group_slot (node, msg.u.hdr.group);
        if (slot >= 0 && msg.u.hdr.to == node->id)
            dest = zkv_raft_msg_urgent (&msg) ? self->urgent[slot] : self->groups[slot];
    } else if (msg.type == ZKV_MSG_FORWARD_REQUEST || msg.type == ZKV_MSG_FORWARD_REPLY)
        dest = self->front;
    zkv_msg_type_t type = msg.type;
    zkv_msg_free (&msg);
    if (!dest) {
        if (self->misrouted++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a peer message not for this node (%s); "
                             "counting further ones",
                             node->id, zkv_msg_name (type));
        return;
    }
    // The validated bytes move on as they are (a wire message is its own actor command); a
    // forward is followed by the node it came from (8 bytes, 0 when unknown: plain text).
    bool forward = dest == self->front;
    if (zmq_msg_send (payload, zsock_resolve (dest), ZMQ_DONTWAIT | (forward ? ZMQ_SNDMORE : 0)) <
        0)
        self->local_drops++;
    else {
        if (forward) {
            uint64_t from = sender == ZKV_AUTH_ANYONE ? 0 : sender;
            zmq_send (zsock_resolve (dest), &from, sizeof from, ZMQ_DONTWAIT);
        }
        self->received++;
    }
}

// One outbound message from an actor: [peer_send][payload]. The payload moves to the peer's
// DEALER without a copy.
static void
s_outbound (s_transport_t *self, zmq_msg_t *head, zmq_msg_t *payload)
{
    zkv_msg_t cmd;
    int rc = zkv_actors_decode (head, &cmd);
    assert (rc == 0 && cmd.type == ZKV_MSG_PEER_SEND); // our own API
    uint64_t id = cmd.u.peer_send.to;
    int lane = cmd.u.peer_send.urgent ? S_URGENT : S_DATA;
    zkv_msg_free (&cmd);
    for (size_t i = 0; i < self->n_peers; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->id != id)
            continue;
        s_lane_t *c = &p->lanes[lane];
        if (zmq_msg_send (payload, zsock_resolve (c->dealer), ZMQ_DONTWAIT) >= 0) {
            self->sent++;
            c->failing_since = 0;
            return;
        }
        p->dropped++;
        int64_t now = zclock_mono ();
        if (!c->failing_since)
            c->failing_since = now;
        else if (now - c->failing_since >= S_PEER_REBUILD_MS &&
                 now - c->built_at >= S_PEER_REBUILD_MS) {
            zsock_t *fresh = s_dealer (self, p->id, p->endpoint, p->key);
            if (fresh) {
                zsock_destroy (&c->dealer);
                c->dealer = fresh;
                p->rebuilt++;
            }
            c->built_at = now;
        }
        return;
    }
}

// Drains up to max messages from the peer ROUTER; returns how many were taken.
static int
s_drain_inbound (s_transport_t *self, int max)
{
    void *router = zsock_resolve (self->router);
    int taken = 0;
    for (; taken < max; taken++) {
        zmq_msg_t frames[2];
        size_t n = zkv_actors_recv (router, frames, 2);
        if (n == 0)
            break;
        // [routing id][payload]; anything else is a misbehaving peer.
        if (n == 2)
            s_inbound (self, &frames[1]);
        else if (self->malformed++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a peer message of %zu frames", self->node->id,
                             n);
        zkv_actors_close (frames, n < 2 ? n : 2);
    }
    return taken;
}

// Drains up to max messages from the other actors; returns how many were taken.
static int
s_drain_outbound (s_transport_t *self, int max)
{
    void *tx = zsock_resolve (self->tx);
    int taken = 0;
    for (; taken < max; taken++) {
        zmq_msg_t frames[2];
        size_t n = zkv_actors_recv (tx, frames, 2);
        if (n == 0)
            break;
        if (n == 1) {
            // [peer_add]: a node a configuration names (the frontend's, our own API).
            zkv_msg_t cmd;
            if (zkv_actors_decode (&frames[0], &cmd) == 0 && cmd.type == ZKV_MSG_PEER_ADD &&
                cmd.u.peer_add.endpoint.len > 0 && cmd.u.peer_add.endpoint.len < 256 &&
                cmd.u.peer_add.public_key.len < 41 && cmd.u.peer_add.node != self->node->id) {
                char endpoint[256], key[41];
                memcpy (endpoint, cmd.u.peer_add.endpoint.data, cmd.u.peer_add.endpoint.len);
                endpoint[cmd.u.peer_add.endpoint.len] = 0;
                memcpy (key, cmd.u.peer_add.public_key.data, cmd.u.peer_add.public_key.len);
                key[cmd.u.peer_add.public_key.len] = 0;
                bool known = false;
                for (size_t i = 0; i < self->n_peers; i++)
                    known = known || self->peers[i].id == cmd.u.peer_add.node;
                bool secure = zkv_security_on (self->node->security);
                if (known)
                    ;
                else if (secure && zkv_security_allow_node (self->node->security,
                                                            cmd.u.peer_add.node, key) != 0)
                    zkv_log_warning ("zkvd %" PRIu64 ": the shard controller names node %" PRIu64
                                     " without a usable public key: not connecting to it (join "
                                     "it with `zkv ctrl join --config FILE` from a file that "
                                     "gives its cert or public_key)",
                                     self->node->id, cmd.u.peer_add.node);
                else if (s_peer_add (self, cmd.u.peer_add.node, endpoint, secure ? key : "") == 0)
                    zkv_log_info ("zkvd %" PRIu64 ": node %" PRIu64 " at %s, learned from the "
                                  "shard controller's configuration",
                                  self->node->id, cmd.u.peer_add.node, endpoint);
            }
            zkv_msg_free (&cmd);
            zkv_actors_close (frames, 1);
            continue;
        }
        assert (n == 2); // our own API
        s_outbound (self, &frames[0], &frames[1]);
        zkv_actors_close (frames, 2);
    }
    return taken;
}

void
zkv_transport_actor (zsock_t *pipe, void *args)
{
    s_transport_t self_ = {.node = (zkv_node_t *)args, .pipe = pipe};
    s_transport_t *self = &self_;
    if (s_setup (self) != 0) {
        s_teardown (self);
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller =
        zpoller_new (pipe, self->router, self->tx, zkv_conns_socket (self->conns), NULL);
    assert (poller);
    // A signal does not stop an actor: main stops them in order with $TERM.
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, -1);
        zkv_conns_handle (self->conns);
        if (!which)
            continue;
        if (which == pipe) {
            zmsg_t *msg = zmsg_recv (pipe);
            if (!msg)
                continue;
            char *cmd = zmsg_popstr (msg);
            bool term = cmd && streq (cmd, "$TERM");
            assert (term); // our own API: no other command
            zstr_free (&cmd);
            zmsg_destroy (&msg);
            break;
        }
        // Drain what is queued on both sockets before polling again: one wakeup, many
        // messages, received without waiting until each socket is empty (or a batch is done,
        // so neither direction starves the other).
        int got;
        do
            got = s_drain_inbound (self, 256) + s_drain_outbound (self, 256);
        while (got > 0 && !(zsock_events (pipe) & ZMQ_POLLIN));
    }
    zpoller_destroy (&poller);
    s_teardown (self);
}
