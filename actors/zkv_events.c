// The event publisher actor: a PUB socket bound to the node's event endpoint. Other actors push
// [publish][msgpack body] to it over inproc; it publishes [topic][body], topic first, so a
// subscriber filters by topic prefix (docs/events.md lists the topics).
#include "zkv_actors.h"
#include "zkv_conns.h"
#include "zkv_log.h"

#include <inttypes.h>

// Publishes one queued [publish][body]; false when none was queued.
static bool
s_publish (zsock_t *in, zsock_t *pub)
{
    zmq_msg_t f[2];
    size_t n = zkv_actors_recv (zsock_resolve (in), f, 2);
    if (n == 0)
        return false;
    zkv_msg_t cmd;
    if (n == 2 && zkv_actors_decode (&f[0], &cmd) == 0) {
        if (cmd.type == ZKV_MSG_PUBLISH) {
            // A slow subscriber loses events (PUB drops at its HWM); the node never waits.
            void *sock = zsock_resolve (pub);
            if (zmq_send (sock, cmd.u.publish.topic.data, cmd.u.publish.topic.len,
                          ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0)
                zmq_msg_send (&f[1], sock, ZMQ_DONTWAIT);
        }
        zkv_msg_free (&cmd);
    }
    zkv_actors_close (f, n < 2 ? n : 2);
    return true;
}

void
zkv_events_actor (zsock_t *pipe, void *args)
{
    zkv_node_t *node = (zkv_node_t *)args;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    zsock_t *pub = zsock_new (ZMQ_PUB);
    assert (pub);
    // A slow subscriber loses events (PUB drops at its HWM); the node never waits for one.
    zsock_set_sndhwm (pub, 10000);
    zsock_set_linger (pub, 100); // let zkv.node.stopping leave before the socket closes
    zkv_security_serve (node->security, pub); // subscribers authenticate too
    zkv_conns_t *conns = zkv_conns_new (pub, "events", node->id,
                                        (size_t)zkv_config_cluster (node->config)->max_connections);
    if (zsock_bind (pub, "%s", me->events) < 0) {
        zkv_log_error ("zkvd %" PRIu64 ": cannot bind event endpoint %s: %s", node->id, me->events,
                       zmq_strerror (zmq_errno ()));
        zkv_conns_destroy (&conns);
        zsock_destroy (&pub);
        node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    zsock_t *in = zkv_actors_pull (node, "events", UINT64_MAX);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, in, zkv_conns_socket (conns), NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, -1);
        zkv_conns_handle (conns);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        for (int i = 0; i < 1024 && s_publish (in, pub); i++)
            ;
    }
    // Publish what is still queued (zkv.node.stopping comes last, from main).
    while (s_publish (in, pub))
        ;
    zpoller_destroy (&poller);
    zsock_destroy (&in);
    zkv_conns_destroy (&conns);
    zsock_destroy (&pub);
}
