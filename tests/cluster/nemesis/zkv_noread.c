// zkv-noread: a client that writes and never reads. It connects to one node's client endpoint
// (over CURVE with --key and --server-key, else plain text) and sends puts of --value-bytes
// bytes, each with its own key and seq, as fast as the socket takes them (never waiting for an
// answer, never reading one) for --seconds. The node must bound what this costs it: requests
// past its limits are answered "busy" (into a queue nobody reads, itself bounded), and its
// memory stays under its caps. With --get KEY it sends gets of KEY instead, whose answers carry
// its value: a client that asks for big answers and never reads them, which the node must
// disconnect rather than queue. It judges nothing itself: the caller measures the node.
//
//     zkv-noread [--key CERT --server-key KEY] [--seconds T] [--value-bytes N] [--get KEY]
//                ENDPOINT
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zkv_msg.h"
#include "zkv_version.h"

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv-noread"))
        return 0;
    const char *key_file = NULL, *server_key = NULL, *endpoint = NULL, *get_key = NULL;
    long seconds = 10;
    size_t value_bytes = 65536;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (streq (argv[i], "--key") && more)
            key_file = argv[++i];
        else if (streq (argv[i], "--server-key") && more)
            server_key = argv[++i];
        else if (streq (argv[i], "--seconds") && more)
            seconds = strtol (argv[++i], NULL, 10);
        else if (streq (argv[i], "--value-bytes") && more)
            value_bytes = strtoull (argv[++i], NULL, 10);
        else if (streq (argv[i], "--get") && more)
            get_key = argv[++i];
        else if (argv[i][0] != '-' && !endpoint)
            endpoint = argv[i];
        else {
            fprintf (stderr, "usage: zkv-noread [--key CERT --server-key KEY] [--seconds T] "
                             "[--value-bytes N] [--get KEY] ENDPOINT\n");
            return 2;
        }
    }
    if (!endpoint || (!key_file) != (!server_key)) {
        fprintf (stderr, "zkv-noread: an endpoint, and --key with --server-key or neither\n");
        return 2;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 100000);
    zsock_set_rcvhwm (dealer, 1); // what it would read piles up at the node, not here
    zsock_set_linger (dealer, 0);
    if (key_file) {
        zcert_t *cert = zcert_load (key_file);
        if (!cert) {
            fprintf (stderr, "zkv-noread: cannot read %s\n", key_file);
            return 2;
        }
        zcert_apply (cert, dealer);
        zcert_destroy (&cert);
        zsock_set_curve_serverkey (dealer, server_key);
    }
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "zkv-noread: cannot connect to %s\n", endpoint);
        return 2;
    }
    uint8_t *value = malloc (value_bytes ? value_bytes : 1);
    for (size_t i = 0; i < value_bytes; i++)
        value[i] = (uint8_t)('a' + i % 26);
    uint64_t client_id = ((uint64_t)getpid () << 20) ^ (uint64_t)zclock_usecs ();
    int64_t end = zclock_mono () + seconds * 1000;
    uint64_t sent = 0;
    while (zclock_mono () < end) {
        char key[32];
        snprintf (key, sizeof key, "noread-%" PRIu64, sent);
        zkv_msg_t m = {.type = ZKV_MSG_CLIENT_REQUEST};
        m.u.client_request.client_id = client_id;
        m.u.client_request.seq = sent + 1;
        m.u.client_request.op = get_key ? ZKV_OP_GET : ZKV_OP_PUT;
        m.u.client_request.key = get_key ? (zkv_bytes_t){(uint8_t *)get_key, strlen (get_key)}
                                         : (zkv_bytes_t){(uint8_t *)key, strlen (key)};
        if (!get_key)
            m.u.client_request.value = (zkv_bytes_t){value, value_bytes};
        uint8_t *buf = NULL;
        size_t len = 0;
        if (zkv_msg_encode (&m, &buf, &len) == 0) {
            if (zmq_send (zsock_resolve (dealer), buf, len, ZMQ_DONTWAIT) >= 0)
                sent++;
            else
                zclock_sleep (1); // the socket is full: the node is not taking them
        }
        free (buf);
    }
    if (get_key)
        printf ("zkv-noread: %" PRIu64 " gets of %s sent in %ld s, no answer read\n", sent,
                get_key, seconds);
    else
        printf ("zkv-noread: %" PRIu64 " puts of %zu bytes sent in %ld s, no answer read\n",
                sent, value_bytes, seconds);
    free (value);
    zsock_destroy (&dealer);
    return 0;
}
