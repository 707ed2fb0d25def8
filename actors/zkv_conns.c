// Bounded connections on a listening socket (zkv_conns.h).
#include "zkv_conns.h"
#include "zkv_log.h"

#include <inttypes.h>
#include <sys/socket.h>

// A handshake (ZMTP greeting, CURVE) that takes longer than this is dropped.
#define S_HANDSHAKE_MS 5000

struct zkv_conns {
    char name[16];     // what the socket is, for the log
    uint64_t node;     // whose
    size_t max;        // most connections at once
    size_t open;       // open now
    uint64_t refused;  // shut down past max
    uint64_t kicked;   // closed by zkv_conns_kick
    zsock_t *monitor;  // PAIR receiving the monitor's events
    void *watched;     // the watched socket's handle
    char endpoint[64]; // the monitor's inproc endpoint
};

static int s_seq;

zkv_conns_t *
zkv_conns_new (zsock_t *sock, const char *name, uint64_t node, size_t max)
{
    zkv_conns_t *self = (zkv_conns_t *)zmalloc (sizeof *self);
    snprintf (self->name, sizeof self->name, "%s", name);
    self->node = node;
    self->max = max;
    self->watched = zsock_resolve (sock);
    zsock_set_handshake_ivl (sock, S_HANDSHAKE_MS);
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://zkv-conns-%" PRIu64 "-%s-%d", node,
              name, __atomic_add_fetch (&s_seq, 1, __ATOMIC_RELAXED));
    int rc = zmq_socket_monitor (self->watched, self->endpoint,
                                 ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    assert (rc == 0); // an inproc endpoint of our own
    self->monitor = zsock_new (ZMQ_PAIR);
    assert (self->monitor);
    rc = zsock_connect (self->monitor, "%s", self->endpoint);
    assert (rc == 0);
    return self;
}

void
zkv_conns_destroy (zkv_conns_t **self_p)
{
    zkv_conns_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (self->watched, NULL, 0); // stops the monitor
    zsock_destroy (&self->monitor);
    free (self);
    *self_p = NULL;
}

zsock_t *
zkv_conns_socket (zkv_conns_t *self)
{
    return self->monitor;
}

void
zkv_conns_handle (zkv_conns_t *self)
{
    // Each event: a frame of a 16-bit event and a 32-bit value (the descriptor), then the
    // endpoint. Everything queued is read.
    while (zsock_events (self->monitor) & ZMQ_POLLIN) {
        zmq_msg_t frames[2];
        zmq_msg_init (&frames[0]);
        zmq_msg_init (&frames[1]);
        void *s = zsock_resolve (self->monitor);
        if (zmq_msg_recv (&frames[0], s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frames[0]);
            zmq_msg_close (&frames[1]);
            return;
        }
        if (zmq_msg_more (&frames[0]))
            zmq_msg_recv (&frames[1], s, 0);
        if (zmq_msg_size (&frames[0]) >= 6) {
            const uint8_t *d = (const uint8_t *)zmq_msg_data (&frames[0]);
            uint16_t event;
            uint32_t value;
            memcpy (&event, d, 2);
            memcpy (&value, d + 2, 4);
            if (event == ZMQ_EVENT_ACCEPTED) {
                if (self->open >= self->max) {
                    shutdown ((int)value, SHUT_RDWR); // ZeroMQ then closes it as gone
                    if (self->refused++ == 0)
                        zkv_log_warning ("zkvd %" PRIu64 ": %s connections at the limit of %zu: "
                                         "refusing more (counting them)",
                                         self->node, self->name, self->max);
                }
                self->open++; // its disconnection follows either way
            } else if (event == ZMQ_EVENT_DISCONNECTED && self->open > 0)
                self->open--;
        }
        zmq_msg_close (&frames[0]);
        zmq_msg_close (&frames[1]);
    }
}

size_t
zkv_conns_open (const zkv_conns_t *self)
{
    return self->open;
}

uint64_t
zkv_conns_refused (const zkv_conns_t *self)
{
    return self->refused;
}

void
zkv_conns_kick (zkv_conns_t *self, int fd)
{
    if (fd < 0)
        return;
    shutdown (fd, SHUT_RDWR);
    self->kicked++;
}

uint64_t
zkv_conns_kicked (const zkv_conns_t *self)
{
    return self->kicked;
}
