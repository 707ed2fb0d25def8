// Helpers every zkvd actor uses: inproc sockets between actors and event publishing.
#include "zkv_actors.h"

#include <stdlib.h>

// Inproc queues are deep: an actor falling behind for a moment should not stall the one
// feeding it. A queue that is still full means the receiver is stuck; the message is dropped
// (Raft retransmits, clients retry).
#define S_INPROC_HWM 100000

zsock_t *
zkv_actors_push (zkv_node_t *node, const char *what, uint64_t group)
{
    char endpoint[128];
    zkv_node_endpoint (node, what, group, endpoint, sizeof endpoint);
    zsock_t *sock = zsock_new (ZMQ_PUSH);
    assert (sock);
    zsock_set_sndhwm (sock, S_INPROC_HWM);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    return sock;
}

zsock_t *
zkv_actors_pull (zkv_node_t *node, const char *what, uint64_t group)
{
    char endpoint[128];
    zkv_node_endpoint (node, what, group, endpoint, sizeof endpoint);
    zsock_t *sock = zsock_new (ZMQ_PULL);
    assert (sock);
    zsock_set_rcvhwm (sock, S_INPROC_HWM);
    int rc = zsock_bind (sock, "%s", endpoint);
    assert (rc == 0); // inproc names are ours and unique per node
    return sock;
}

int
zkv_actors_send (zsock_t *sock, zmsg_t **msg_p)
{
    // zmsg_send has no non-blocking flag: send the frames one by one.
    zmsg_t *msg = *msg_p;
    size_t n = zmsg_size (msg);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        zframe_t *frame = zmsg_pop (msg);
        int flags = ZFRAME_DONTWAIT | (i + 1 < n ? ZFRAME_MORE : 0);
        rc = zframe_send (&frame, sock, flags);
        if (rc != 0)
            zframe_destroy (&frame);
    }
    // A multipart message is atomic: if its first frame was queued the rest will be too.
    zmsg_destroy (msg_p);
    return rc;
}

void
zkv_actors_event (zsock_t *events, const char *topic, const zkv_msg_t *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (body, &buf, &len) != 0)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_addmem (msg, buf, len);
    free (buf);
    zkv_actors_send (events, &msg);
}
