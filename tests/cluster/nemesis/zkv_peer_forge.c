// zkv-peer-forge: a peer that authenticates with a real node's certificate and then lies about
// who it is. It connects to a node's peer endpoint over CURVE and sends heartbeats (empty
// AppendEntries) that claim to come from another node (from = --claim) as leader of a term far
// ahead (--term), which any follower believes from a real peer.
// The node must drop every one (a peer message is taken only from the node whose key sent it):
// its term does not move and it counts them. It judges nothing itself: curve.sh does.
//
//     zkv-peer-forge --cert NODE_CERT --server-key KEY --claim ID --to ID --group G
//                    [--term T] [--count N] [--then-term T2 --then-count N2] tcp://HOST:PORT
//
// --then-term sends N2 more heartbeats of term T2 over the same connection, after the first N:
// the node takes them in order, so once its term shows T2 the first ones were dealt with.
//
// With --claim equal to the certificate's own node, the heartbeats are believed (the control
// case: the node's term does move), which shows the test can fail.
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "zkv_msg.h"

int
main (int argc, char **argv)
{
    const char *cert_path = NULL, *server_key = NULL, *endpoint = NULL;
    uint64_t claim = 0, to = 0, group = 0, term = 1000000, count = 50, then_term = 0,
             then_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (streq (a, "--cert") && more)
            cert_path = argv[++i];
        else if (streq (a, "--server-key") && more)
            server_key = argv[++i];
        else if (streq (a, "--claim") && more)
            claim = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--to") && more)
            to = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--group") && more)
            group = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--term") && more)
            term = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--count") && more)
            count = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--then-term") && more)
            then_term = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--then-count") && more)
            then_count = strtoull (argv[++i], NULL, 10);
        else if (a[0] != '-' && !endpoint)
            endpoint = a;
        else {
            fprintf (stderr, "usage: zkv-peer-forge --cert FILE --server-key KEY --claim ID "
                             "--to ID --group G [--term T] [--count N] ENDPOINT\n");
            return 2;
        }
    }
    if (!cert_path || !server_key || !endpoint || !claim || !to) {
        fprintf (stderr, "zkv-peer-forge: --cert, --server-key, --claim, --to and an endpoint "
                         "are needed\n");
        return 2;
    }
    zcert_t *cert = zcert_load (cert_path);
    if (!cert) {
        fprintf (stderr, "zkv-peer-forge: cannot read %s\n", cert_path);
        return 2;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zcert_apply (cert, dealer);
    zsock_set_curve_serverkey (dealer, server_key);
    zsock_set_linger (dealer, 1000);
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "zkv-peer-forge: cannot connect to %s\n", endpoint);
        return 2;
    }
    uint64_t sent = 0;
    for (uint64_t i = 0; i < count + then_count; i++) {
        zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES};
        m.u.append_entries.group = group;
        m.u.append_entries.from = claim;
        m.u.append_entries.to = to;
        m.u.append_entries.term = i < count ? term : then_term;
        m.u.append_entries.ctx = i + 1;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (zkv_msg_encode (&m, &buf, &len) == 0 &&
            zmq_send (zsock_resolve (dealer), buf, len, 0) >= 0)
            sent++;
        free (buf);
        zclock_sleep (20);
    }
    printf ("zkv-peer-forge: %" PRIu64 " heartbeats claiming node %" PRIu64 " sent to node %" PRIu64
            "\n",
            sent, claim, to);
    zsock_destroy (&dealer);
    zcert_destroy (&cert);
    return 0;
}
