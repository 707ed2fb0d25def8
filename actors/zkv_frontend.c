// The frontend actor: a ROUTER bound to the node's client endpoint, and a shell around the
// frontend core (cluster/zkv_front.h), which decides where each request goes and when it is
// answered. This actor only decodes what clients, groups and peers send, feeds it to the core,
// and carries out its effects: replies on the ROUTER, forwards through the transport, requests
// to the group actors, events.
//
// A client's address, as the core keeps it: a byte telling whether the client sent an empty
// delimiter frame (it is answered in the same shape), then its ROUTER routing id.
#include "zkv_actors.h"
#include "zkv_answers.h"
#include "zkv_auth.h"
#include "zkv_conns.h"
#include "zkv_log.h"

#include <inttypes.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zkv_node_t *node;   // the node
    zsock_t *router;    // clients
    zkv_conns_t *conns; // its connections, bounded
    zsock_t *in;        // PULL: groups' replies and states, peers' forwards
    zsock_t *tx;        // PUSH to the transport
    zsock_t *events;    // PUSH to the event publisher
    zsock_t **groups;   // PUSH to each hosted group, node->groups order
    zkv_front_t *front; // the core
    uint64_t malformed; // client messages that did not decode
    uint64_t dropped;   // sends dropped on a full queue
    uint64_t denied;    // requests a monitor key may not make
    zhashx_t *fds;      // client routing id (hex) -> the descriptor its messages came over
    uint64_t slow;      // clients disconnected for not reading their answers
    zkv_answers_t *answers; // bytes of answers waiting for full connections
    uint64_t bytes_in;  // bytes of client messages received
    uint64_t bytes_out; // bytes of answers sent to clients
    int64_t next_board; // zclock_mono time the figures go to the node's board again
} s_frontend_t;

// The frontend's figures go to the node's board this often.
#define S_BOARD_MS 100

// Routing ids remembered at most (each client connection's last one): past it the table starts
// over and learns again from the next messages.
#define S_MAX_FDS 65536

static void
s_hex (const uint8_t *id, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * len] = 0;
}

// Answers from this size on are counted against the byte budgets (smaller ones are bounded by
// their number, max_queued_replies).
#define S_BIG_ANSWER 4096

// A client whose answers no longer fit its queue (max_queued_replies, max_queued_reply_bytes,
// max_queued_bytes: it does not read them) is disconnected, not buffered: its connection
// closes, what was queued for it is freed, and it may connect again and ask again (with the
// same seq: answered from the dedup table).
static void
s_slow_reader (s_frontend_t *self, const zkv_front_addr_t *to)
{
    char hex[2 * 255 + 1];
    s_hex (to->data + 1, to->len - 1u, hex);
    void *fd = zhashx_lookup (self->fds, hex);
    if (!fd)
        return;
    zkv_conns_kick (self->conns, (int)(intptr_t)fd - 1);
    zhashx_delete (self->fds, hex);
    if (self->slow++ == 0)
        zkv_log_warning ("zkvd %" PRIu64 ": disconnected a client that does not read its answers "
                         "(past /cluster/max_queued_replies, max_queued_reply_bytes or "
                         "max_queued_bytes); counting further ones",
                         self->node->id);
}

// True when the socket buffer of the connection `to` came over is full: an answer sent now
// waits in the node's memory.
static bool
s_buffer_full (s_frontend_t *self, const zkv_front_addr_t *to)
{
    char hex[2 * 255 + 1];
    s_hex (to->data + 1, to->len - 1u, hex);
    void *fd = zhashx_lookup (self->fds, hex);
    if (!fd)
        return false;
    int queued = 0, size = 0;
    socklen_t len = sizeof size;
    if (ioctl ((int)(intptr_t)fd - 1, SIOCOUTQ, &queued) != 0 ||
        getsockopt ((int)(intptr_t)fd - 1, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0)
        return false;
    // The kernel reports twice the buffer it keeps for data (bookkeeping): a quarter of what it
    // reports is already a buffer the client does not keep up with.
    return size > 0 && (int64_t)queued * 4 >= size;
}

// --- the core's host ---------------------------------------------------------------------------

static void
s_to_client (void *arg, const zkv_front_addr_t *to, const zkv_msg_t *msg)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return;
    bool delimiter = to->data[0] != 0;
    void *router = zsock_resolve (self->router);
    // Never blocks: a gone client's answer is dropped (EHOSTUNREACH: ROUTER_MANDATORY), and a
    // client whose queue is full is disconnected (EAGAIN).
    if (zmq_send (router, to->data + 1, to->len - 1u, ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0) {
        if (delimiter)
            zmq_send (router, "", 0, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (zmq_send (router, buf, len, ZMQ_DONTWAIT) >= 0)
            self->bytes_out += len;
        if (len >= S_BIG_ANSWER &&
            zkv_answers_sent (self->answers, to->data + 1, to->len - 1u, len,
                              s_buffer_full (self, to), (uint64_t)zclock_mono ()))
            s_slow_reader (self, to);
    } else if (zmq_errno () == EAGAIN)
        s_slow_reader (self, to);
    free (buf);
}

static void
s_to_node (void *arg, uint64_t node, const zkv_msg_t *msg)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    if (zkv_actors_send_peer (zsock_resolve (self->tx), node, msg, false) != 0)
        self->dropped++;
}

static int
s_to_group (void *arg, const zkv_msg_t *request)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    int slot = zkv_node_group_slot (self->node, request->u.group_request.group);
    assert (slot >= 0); // the core hands a request only to a group hosted here
    return zkv_actors_send (zsock_resolve (self->groups[slot]), request);
}

static void
s_to_caller (void *arg, const zkv_msg_t *reply)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    int slot = zkv_node_group_slot (self->node, reply->u.group_call_reply.group);
    if (slot < 0 || zkv_actors_send (zsock_resolve (self->groups[slot]), reply) != 0)
        self->dropped++; // the caller asks again after its retry time
}

// A newer configuration: the transport connects to the nodes it names that it did not know.
static void
s_routing (void *arg, const zkv_routing_t *routing)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    for (size_t i = 0; i < routing->n_nodes; i++) {
        if (routing->node_ids[i] == self->node->id)
            continue;
        zkv_msg_t m = {.type = ZKV_MSG_PEER_ADD};
        m.u.peer_add.node = routing->node_ids[i];
        m.u.peer_add.endpoint =
            (zkv_bytes_t){(uint8_t *)routing->peer_eps[i], strlen (routing->peer_eps[i])};
        const char *key = routing->keys[i];
        if (strcmp (key, "-") != 0)
            m.u.peer_add.public_key = (zkv_bytes_t){(uint8_t *)key, strlen (key)};
        if (zkv_actors_send (zsock_resolve (self->tx), &m) != 0)
            self->dropped++;
    }
}

static void
s_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    s_frontend_t *self = (s_frontend_t *)arg;
    zkv_msg_t ev = *body; // shallow: only the time changes
    ev.u.event_client_error.time_ms = zkv_actors_now_ms ();
    zkv_actors_event (zsock_resolve (self->events), topic, &ev);
}

// The monotonic clock in microseconds: requests' latencies.
static uint64_t
s_now_us (void *arg)
{
    (void)arg;
    return (uint64_t)zclock_usecs ();
}

static uint64_t
s_wall_ms (void *arg)
{
    (void)arg;
    return zkv_actors_now_ms ();
}

static const zkv_front_host_t s_host = {
    .to_client = s_to_client,
    .to_node = s_to_node,
    .to_group = s_to_group,
    .to_caller = s_to_caller,
    .routing = s_routing,
    .event = s_event,
    .now_us = s_now_us,
    .wall_ms = s_wall_ms,
};

// The frontend's figures, with what only this actor sees, onto the node's board.
static void
s_board (s_frontend_t *self)
{
    zkv_front_stats_t st;
    zkv_front_stats (self->front, &st);
    st.bytes_in = self->bytes_in;
    st.bytes_out = self->bytes_out;
    st.connections = zkv_conns_open (self->conns);
    st.connections_refused = zkv_conns_refused (self->conns);
    st.slow_clients = self->slow;
    st.denied = self->denied;
    st.dropped = self->dropped;
    st.malformed += self->malformed;
    zkv_board_put_front (self->node->board, &st);
}

// --- inputs ------------------------------------------------------------------------------------

static uint64_t
s_now (void)
{
    return (uint64_t)zclock_mono ();
}

// One message from a client: [routing id] [""]? [payload]; frames holds min (n, 3) of its n
// frames (anything but 2, or 3 with an empty second, is malformed).
static void
s_client (s_frontend_t *self, zmq_msg_t *frames, size_t n)
{
    bool delimiter = n == 3 && zmq_msg_size (&frames[1]) == 0;
    zmq_msg_t *payload = &frames[n == 3 ? 2 : 1];
    for (size_t i = 0; i < n && i < 3; i++)
        self->bytes_in += zmq_msg_size (&frames[i]);
    zkv_msg_t m;
    int rc = (n == 2 || delimiter) && zmq_msg_size (&frames[0]) <= 255
                 ? zkv_actors_decode (payload, &m)
                 : ZKV_EPROTO;
    if (rc != 0) {
        if (self->malformed++ == 0)
            zkv_log_warning ("zkvd %" PRIu64 ": dropped a malformed client message (%s); counting "
                             "further ones",
                             self->node->id, zkv_strerror (rc));
        return;
    }
    zkv_front_addr_t from;
    from.data[0] = delimiter;
    from.len = (uint16_t)(1 + zmq_msg_size (&frames[0]));
    memcpy (from.data + 1, zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]));
    // The descriptor the client's connection came over, should it have to be closed.
    int fd = zmq_msg_get (&frames[0], ZMQ_SRCFD);
    if (fd >= 0) {
        if (zhashx_size (self->fds) >= S_MAX_FDS)
            zhashx_purge (self->fds);
        char hex[2 * 255 + 1];
        s_hex (from.data + 1, from.len - 1u, hex);
        zhashx_update (self->fds, hex, (void *)(intptr_t)(fd + 1));
    }
    // A monitor key reads the node's status and the configurations, nothing else.
    if (zkv_security_monitor (self->node->security, zkv_security_user (payload)) &&
        !zkv_auth_monitor (&m)) {
        self->denied++;
        if (m.type == ZKV_MSG_CLIENT_REQUEST) {
            zkv_msg_t reply = {.type = ZKV_MSG_CLIENT_REPLY};
            reply.u.client_reply.client_id = m.u.client_request.client_id;
            reply.u.client_reply.seq = m.u.client_request.seq;
            reply.u.client_reply.status = (uint64_t)-ZKV_EDENIED;
            const char *why = "a monitor key reads status and configurations only";
            reply.u.client_reply.error = (zkv_bytes_t){(uint8_t *)why, strlen (why)};
            s_to_client (self, &from, &reply);
        } else if (m.type == ZKV_MSG_SNAPSHOT_REQUEST) {
            // A save would read every value: a client key's to make, never a monitor's.
            zkv_msg_t reply = {.type = ZKV_MSG_SNAPSHOT_REPLY};
            reply.u.snapshot_reply.node = self->node->id;
            reply.u.snapshot_reply.nonce = m.u.snapshot_request.nonce;
            reply.u.snapshot_reply.group = m.u.snapshot_request.group;
            reply.u.snapshot_reply.status = (uint64_t)-ZKV_EDENIED;
            const char *why = "a monitor key may not save the cluster's data";
            reply.u.snapshot_reply.error = (zkv_bytes_t){(uint8_t *)why, strlen (why)};
            s_to_client (self, &from, &reply);
        }
        zkv_msg_free (&m);
        return;
    }
    zkv_front_client (self->front, &from, &m, s_now ());
    zkv_msg_free (&m);
}

// One message from a group or a peer (through the transport; a peer's forward comes with the
// node whose key sent it, 0 when unknown).
static void
s_inproc (s_frontend_t *self, zmq_msg_t *frame, uint64_t from_node)
{
    zkv_msg_t m;
    if (zkv_actors_decode (frame, &m) != 0) {
        self->malformed++;
        return;
    }
    if (m.type == ZKV_MSG_GROUP_REPLY)
        zkv_front_group_reply (self->front, &m.u.group_reply);
    else if (m.type == ZKV_MSG_GROUP_STATE)
        zkv_front_group_state (self->front, &m.u.group_state);
    else if (m.type == ZKV_MSG_GROUP_CALL &&
             zkv_node_group_slot (self->node, m.u.group_call.group) >= 0)
        zkv_front_call (self->front, &m.u.group_call, s_now ());
    else if (m.type == ZKV_MSG_GROUP_CONFIG)
        zkv_front_group_config (self->front, m.u.group_config.config.data,
                                m.u.group_config.config.len);
    else if (m.type == ZKV_MSG_FORWARD_REQUEST || m.type == ZKV_MSG_FORWARD_REPLY)
        zkv_front_peer (self->front, from_node, &m, s_now ());
    else
        self->malformed++;
    zkv_msg_free (&m);
}

static int
s_setup (s_frontend_t *self)
{
    zkv_node_t *node = self->node;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_maxmsgsize (self->router, (int)ZKV_MSG_MAX_BYTES);
    zsock_set_linger (self->router, 100); // the last answers leave before the socket closes
    // A client that does not read its answers holds at most this many of them here.
    zsock_set_sndhwm (self->router, (int)zkv_config_cluster (node->config)->max_queued_replies);
    zsock_set_router_mandatory (self->router, 1);
    self->fds = zhashx_new ();
    self->answers =
        zkv_answers_new (zkv_config_cluster (node->config)->max_queued_reply_bytes,
                         zkv_config_cluster (node->config)->max_queued_bytes);
    zkv_security_serve (self->node->security, self->router);
    self->conns = zkv_conns_new (self->router, "client", node->id,
                                 (size_t)zkv_config_cluster (node->config)->max_connections);
    if (zsock_bind (self->router, "%s", me->client) < 0) {
        zkv_log_error ("zkvd %" PRIu64 ": cannot bind client endpoint %s: %s", node->id, me->client,
                       zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->in = zkv_actors_pull (node, "front-in", UINT64_MAX);
    self->tx = zkv_actors_push (node, "tx", UINT64_MAX);
    self->events = zkv_actors_push (node, "events", UINT64_MAX);
    self->groups = (zsock_t **)zmalloc ((node->n_groups + 1) * sizeof (zsock_t *));
    for (size_t i = 0; i < node->n_groups; i++)
        self->groups[i] = zkv_actors_push (node, "group-in", node->groups[i]);
    zkv_front_config_t cfg;
    zkv_node_front_config (node, &cfg);
    self->front = zkv_front_new (&cfg, node->routing, &s_host, self);
    assert (self->front); // the config was validated
    return 0;
}

static void
s_teardown (s_frontend_t *self)
{
    if (self->denied)
        zkv_log_info ("zkvd %" PRIu64 ": frontend: %" PRIu64 " requests of monitor keys denied",
                      self->node->id, self->denied);
    if (self->slow)
        zkv_log_info ("zkvd %" PRIu64 ": frontend: %" PRIu64 " clients disconnected for not reading "
                      "their answers",
                      self->node->id, self->slow);
    zhashx_destroy (&self->fds);
    zkv_answers_destroy (&self->answers);
    zkv_front_destroy (&self->front);
    if (self->groups)
        for (size_t i = 0; i < self->node->n_groups; i++)
            zsock_destroy (&self->groups[i]);
    free (self->groups);
    zsock_destroy (&self->events);
    zsock_destroy (&self->tx);
    zsock_destroy (&self->in);
    zkv_conns_destroy (&self->conns);
    zsock_destroy (&self->router);
}

void
zkv_frontend_actor (zsock_t *pipe, void *args)
{
    s_frontend_t self_ = {.node = (zkv_node_t *)args};
    s_frontend_t *self = &self_;
    // The frontend's PULL exists before the groups start (they send it their state at once):
    // zkvd starts this actor before them.
    if (s_setup (self) != 0) {
        s_teardown (self);
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller =
        zpoller_new (pipe, self->router, self->in, zkv_conns_socket (self->conns), NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    zkv_front_config_t cfg;
    zkv_node_front_config (self->node, &cfg);
    void *in = zsock_resolve (self->in), *router = zsock_resolve (self->router);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, (int)cfg.sweep_ms);
        zkv_conns_handle (self->conns);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        // One wakeup, then everything queued, received without waiting: answers first (they
        // free table entries), in batches so clients and answers take turns.
        int got;
        do {
            got = 0;
            for (; got < 256; got++) {
                zmq_msg_t f[2];
                size_t n = zkv_actors_recv (in, f, 2);
                if (n == 0)
                    break;
                if (n == 1)
                    s_inproc (self, &f[0], 0);
                else if (n == 2 && zmq_msg_size (&f[1]) == sizeof (uint64_t)) {
                    uint64_t from;
                    memcpy (&from, zmq_msg_data (&f[1]), sizeof from);
                    s_inproc (self, &f[0], from);
                } else
                    self->malformed++;
                zkv_actors_close (f, n < 2 ? n : 2);
            }
            for (int i = 0; i < 256; i++, got++) {
                zmq_msg_t f[3];
                size_t n = zkv_actors_recv (router, f, 3);
                if (n == 0)
                    break;
                s_client (self, f, n); // a longer message is malformed
                zkv_actors_close (f, n < 3 ? n : 3);
            }
            zkv_front_tick (self->front, s_now ());
        } while (got > 0 && !(zsock_events (pipe) & ZMQ_POLLIN));
        zkv_front_tick (self->front, s_now ());
        if (zclock_mono () >= self->next_board) {
            s_board (self);
            self->next_board = zclock_mono () + S_BOARD_MS;
        }
    }
    zpoller_destroy (&poller);
    s_teardown (self);
}
