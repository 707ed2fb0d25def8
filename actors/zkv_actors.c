// Helpers every zkvd actor uses: inproc sockets, typed commands, event publishing.
#include "zkv_actors.h"

#include <stdlib.h>

// Inproc queues are deep enough that an actor falling behind for a moment does not stall the
// one feeding it; a queue that is still full means its receiver is stuck: what does not fit is
// dropped and counted by the sender (zkv_actors.h).
#define S_INPROC_HWM 100000

zsock_t *
zkv_actors_push (zkv_node_t *node, const char *what, uint64_t group)
{
    char endpoint[128];
    zkv_node_endpoint (node, what, group, endpoint, sizeof endpoint);
    zsock_t *sock = zsock_new (ZMQ_PUSH);
    assert (sock);
    zsock_set_sndhwm (sock, S_INPROC_HWM);
    zsock_set_linger (sock, 0); // queued inproc messages die with the process anyway
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
    zsock_set_linger (sock, 0);
    int rc = zsock_bind (sock, "%s", endpoint);
    assert (rc == 0); // inproc names are ours and unique per node
    return sock;
}

static void
s_free_buf (void *data, void *hint)
{
    (void)hint;
    free (data);
}

int
zkv_actors_send (void *sock, const zkv_msg_t *cmd)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (cmd, &buf, &len);
    assert (rc == 0); // our own commands are within the codec's limits
    zmq_msg_t frame;
    rc = zmq_msg_init_data (&frame, buf, len, s_free_buf, NULL);
    assert (rc == 0);
    if (zmq_msg_send (&frame, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&frame);
        return -1;
    }
    return 0;
}

int
zkv_actors_send_with (void *sock, const zkv_msg_t *cmd, uint8_t *buf, size_t len)
{
    uint8_t *head = NULL;
    size_t head_len = 0;
    int rc = zkv_msg_encode (cmd, &head, &head_len);
    assert (rc == 0);
    zmq_msg_t f0, f1;
    zmq_msg_init_data (&f0, head, head_len, s_free_buf, NULL);
    zmq_msg_init_data (&f1, buf, len, s_free_buf, NULL);
    // A multipart message is atomic: once its first frame is queued the second is too.
    if (zmq_msg_send (&f0, sock, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
        zmq_msg_close (&f0);
        zmq_msg_close (&f1);
        return -1;
    }
    if (zmq_msg_send (&f1, sock, ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&f1); // cannot happen: the first part was queued
    return 0;
}

int
zkv_actors_send_peer (void *tx, uint64_t to, const zkv_msg_t *msg, bool urgent)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return -1;
    zkv_msg_t cmd = {.type = ZKV_MSG_PEER_SEND};
    cmd.u.peer_send.to = to;
    cmd.u.peer_send.urgent = urgent;
    return zkv_actors_send_with (tx, &cmd, buf, len);
}

void
zkv_actors_event (void *events, const char *topic, const zkv_msg_t *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (body, &buf, &len) != 0)
        return;
    zkv_msg_t cmd = {.type = ZKV_MSG_PUBLISH};
    cmd.u.publish.topic = (zkv_bytes_t){(uint8_t *)topic, strlen (topic)};
    zkv_actors_send_with (events, &cmd, buf, len);
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
zkv_actors_decode (zmq_msg_t *frame, zkv_msg_t *out)
{
    return zkv_msg_decode ((const uint8_t *)zmq_msg_data (frame), zmq_msg_size (frame), out);
}

uint64_t
zkv_actors_now_ms (void)
{
    return (uint64_t)zclock_time ();
}
