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

size_t
zkv_actors_recv (void *sock, zmq_msg_t *frames, size_t max)
{
    size_t n = 0;
    while (true) {
        zmq_msg_t scratch;
        zmq_msg_t *f = n < max ? &frames[n] : &scratch;
        zmq_msg_init (f);
        // A message's later frames arrive with its first: only the first recv may find none.
        if (zmq_msg_recv (f, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close (f);
            return n;
        }
        n++;
        bool more = zmq_msg_more (f);
        if (f == &scratch)
            zmq_msg_close (f);
        if (!more)
            return n;
    }
}

void
zkv_actors_close (zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);
}

int
zkv_actors_sendv (void *sock, const void *const *data, const size_t *size, size_t n)
{
    // A multipart message is atomic: once its first part is queued the rest will be too.
    for (size_t i = 0; i < n; i++)
        if (zmq_send (sock, data[i], size[i], ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0)
            return -1;
    return 0;
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

uint64_t
zkv_actors_u64 (zmq_msg_t *frame)
{
    uint64_t v = 0;
    assert (zmq_msg_size (frame) == 8); // our own API
    memcpy (&v, zmq_msg_data (frame), 8);
    return v;
}

bool
zkv_actors_verb_is (zmq_msg_t *frame, const char *verb)
{
    size_t len = strlen (verb);
    return zmq_msg_size (frame) == len && memcmp (zmq_msg_data (frame), verb, len) == 0;
}
