// A minimal zkv client for the cluster smoke test: put, get, bench. One DEALER per node;
// follows leader hints; retries with the same (client id, seq) until a deadline. (The test
// reads the cluster's state, leaders and events, with the zkv CLI, as a user would.)
//
//     smoke_client EPS put KEY VALUE
//     smoke_client EPS append KEY VALUE
//     smoke_client EPS get KEY                      prints the value
//     smoke_client EPS bench N WINDOW               N puts, WINDOW in flight; prints ops/s
//     smoke_client - garbage ENDPOINT               sends malformed messages to ENDPOINT
//     smoke_client EPS check N                      gets bench keys 0..N-1, checks their values
//
// EPS is a comma-separated list of client endpoints; node ids are 1..n in that order.
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_msg.h"

#define S_MAX_NODES 16

typedef struct {
    size_t n;                    // nodes
    zsock_t *socks[S_MAX_NODES]; // one DEALER per node
    uint64_t client_id;          // dedup key
    uint64_t seq;                // last seq used
    size_t leader;               // index to try first
} s_client_t;

static int
s_connect (s_client_t *c, const char *eps)
{
    char *copy = strdup (eps);
    for (char *tok = strtok (copy, ","); tok && c->n < S_MAX_NODES; tok = strtok (NULL, ",")) {
        zsock_t *s = zsock_new (ZMQ_DEALER);
        zsock_set_linger (s, 0);
        zsock_set_immediate (s, 1);
        if (zsock_connect (s, "%s", tok) != 0) {
            fprintf (stderr, "bad endpoint %s\n", tok);
            free (copy);
            return -1;
        }
        c->socks[c->n++] = s;
    }
    free (copy);
    c->client_id = ((uint64_t)zclock_usecs () << 16) ^ (uint64_t)getpid ();
    return 0;
}

static int
s_send (zsock_t *s, const zkv_msg_t *msg)
{
    uint8_t *buf;
    size_t len;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return -1;
    zframe_t *f = zframe_new (buf, len);
    free (buf);
    int rc = zframe_send (&f, s, ZFRAME_DONTWAIT);
    zframe_destroy (&f);
    return rc;
}

// Receives one message from s within timeout_ms.
static int
s_recv (zsock_t *s, int timeout_ms, zkv_msg_t *out)
{
    zpoller_t *p = zpoller_new (s, NULL);
    void *which = zpoller_wait (p, timeout_ms);
    zpoller_destroy (&p);
    if (!which)
        return -1;
    zframe_t *f = zframe_recv (s);
    if (!f)
        return -1;
    int rc = zkv_msg_decode (zframe_data (f), zframe_size (f), out);
    zframe_destroy (&f);
    return rc;
}

// One request until answered or the deadline passes; returns the status (0 ok), or -1.
static int
s_request (s_client_t *c, uint64_t op, const char *key, const char *value, int timeout_ms,
           char **value_out)
{
    zkv_msg_t req = {.type = ZKV_MSG_CLIENT_REQUEST};
    req.u.client_request.client_id = c->client_id;
    req.u.client_request.seq = ++c->seq;
    req.u.client_request.op = op;
    req.u.client_request.key.data = (uint8_t *)key;
    req.u.client_request.key.len = strlen (key);
    req.u.client_request.value.data = (uint8_t *)value;
    req.u.client_request.value.len = value ? strlen (value) : 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    int last = -1;
    while (zclock_mono () < deadline) {
        zsock_t *s = c->socks[c->leader];
        req.u.client_request.deadline_ms = 1000;
        if (s_send (s, &req) != 0) {
            c->leader = (c->leader + 1) % c->n;
            zclock_sleep (20);
            continue;
        }
        zkv_msg_t rep;
        int64_t attempt_end = zclock_mono () + 1000;
        bool answered = false;
        while (zclock_mono () < attempt_end) {
            if (s_recv (s, (int)(attempt_end - zclock_mono ()), &rep) != 0)
                break;
            if (rep.type == ZKV_MSG_CLIENT_REPLY && rep.u.client_reply.seq == c->seq) {
                answered = true;
                break;
            }
            zkv_msg_free (&rep); // a stale answer to an earlier attempt
        }
        if (!answered) {
            c->leader = (c->leader + 1) % c->n;
            continue;
        }
        zkv_client_reply_t *r = &rep.u.client_reply;
        last = (int)r->status;
        if (r->status == 0) {
            if (value_out) {
                *value_out = (char *)calloc (1, r->value.len + 1);
                if (r->value.len)
                    memcpy (*value_out, r->value.data, r->value.len);
            }
            zkv_msg_free (&rep);
            return 0;
        }
        if (r->status == (uint64_t)-ZKV_ENOTLEADER && r->leader >= 1 && r->leader <= c->n)
            c->leader = r->leader - 1;
        else {
            // "Wrong group" is transient too: a shard group serves its shards once it applied
            // the controller's configuration (right after the cluster starts, a moment later).
            if (r->status != (uint64_t)-ZKV_ENOTLEADER && r->status != (uint64_t)-ZKV_ETIMEOUT &&
                r->status != (uint64_t)-ZKV_EBUSY && r->status != (uint64_t)-ZKV_EWRONGGROUP &&
                r->status != (uint64_t)-ZKV_ELEADERLOST) {
                zkv_msg_free (&rep);
                return last; // a definitive error
            }
            c->leader = (c->leader + 1) % c->n;
            zclock_sleep (20);
        }
        zkv_msg_free (&rep);
    }
    return last ? last : -1;
}

int
main (int argc, char *argv[])
{
    if (argc < 3) {
        fprintf (stderr, "usage: smoke_client EPS put|append|get|bench|check ...\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logident ("smoke_client");
    s_client_t c = {0};
    if (!streq (argv[1], "-") && s_connect (&c, argv[1]) != 0)
        return 2;
    const char *cmd = argv[2];
    int rc = 1;
    if (streq (cmd, "garbage") && argc == 4) {
        // Hostile input to a node's endpoint (peer or client): it must survive and keep serving.
        zsock_t *s = zsock_new (ZMQ_DEALER);
        zsock_set_linger (s, 1000); // these must arrive: the test then checks the node's log
        zsock_connect (s, "%s", argv[3]);
        uint8_t junk[64];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 37 + 11);
        zmq_send (zsock_resolve (s), junk, sizeof junk, 0); // not msgpack
        zmq_send (zsock_resolve (s), "", 0, 0);             // empty
        // A well-formed array of another protocol version: [99, 23, 1].
        const uint8_t other_version[] = {0x93, 0x63, 0x17, 0x01};
        zmq_send (zsock_resolve (s), other_version, sizeof other_version, 0);
        // Three frames.
        zmq_send (zsock_resolve (s), "a", 1, ZMQ_SNDMORE);
        zmq_send (zsock_resolve (s), "b", 1, ZMQ_SNDMORE);
        zmq_send (zsock_resolve (s), "c", 1, 0);
        // A valid message the endpoint does not serve: a client_reply.
        zkv_msg_t odd = {.type = ZKV_MSG_CLIENT_REPLY};
        s_send (s, &odd);
        zsock_destroy (&s);
        rc = 0;
    } else if ((streq (cmd, "put") || streq (cmd, "append")) && argc == 5) {
        rc = s_request (&c, streq (cmd, "put") ? ZKV_OP_PUT : ZKV_OP_APPEND, argv[3], argv[4],
                        10000, NULL);
        if (rc)
            fprintf (stderr, "%s failed: %d\n", cmd, rc);
    } else if (streq (cmd, "get") && argc == 4) {
        char *v = NULL;
        rc = s_request (&c, ZKV_OP_GET, argv[3], NULL, 10000, &v);
        if (rc == 0)
            printf ("%s\n", v);
        else if (rc == ZKV_ENOTFOUND_VALUE)
            rc = 4; // no such key: nothing printed, exit 4 (as zkv get)
        else
            fprintf (stderr, "get failed: %d\n", rc);
        free (v);
    } else if (streq (cmd, "check") && argc == 4) {
        int n = atoi (argv[3]);
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++) {
            char key[32], want[32];
            snprintf (key, sizeof key, "bench-%d", i);
            snprintf (want, sizeof want, "value-%d", i);
            char *v = NULL;
            rc = s_request (&c, ZKV_OP_GET, key, NULL, 10000, &v);
            if (rc == 0 && strcmp (v, want) != 0) {
                fprintf (stderr, "%s: got '%s', want '%s'\n", key, v, want);
                rc = 1;
            }
            free (v);
        }
        if (rc == 0)
            printf ("checked %d keys\n", n);
    } else if (streq (cmd, "bench") && argc == 5) {
        // Sequential requests from WINDOW clients sharing one process (one socket set each).
        int n = atoi (argv[3]);
        int window = atoi (argv[4]);
        if (window < 1 || window > 256)
            window = 1;
        s_client_t *cs = (s_client_t *)calloc ((size_t)window, sizeof *cs);
        for (int w = 0; w < window; w++) {
            s_connect (&cs[w], argv[1]);
            cs[w].client_id ^= (uint64_t)(w + 1) * 0x9E3779B97F4A7C15ull;
            cs[w].leader = c.leader;
        }
        // Warm up: find the leader with one request.
        s_request (&cs[0], ZKV_OP_PUT, "bench-warmup", "x", 10000, NULL);
        for (int w = 1; w < window; w++)
            cs[w].leader = cs[0].leader;
        int64_t start = zclock_usecs ();
        int done = 0, next = 0, failed = 0;
        // In flight: per client the key index it waits on (-1 idle).
        int *inflight = (int *)malloc ((size_t)window * sizeof (int));
        for (int w = 0; w < window; w++)
            inflight[w] = -1;
        zpoller_t *poller = zpoller_new (NULL);
        for (int w = 0; w < window; w++)
            zpoller_add (poller, cs[w].socks[cs[w].leader]);
        while (done < n) {
            for (int w = 0; w < window; w++) {
                if (inflight[w] >= 0 || next >= n)
                    continue;
                char key[32], val[32];
                snprintf (key, sizeof key, "bench-%d", next);
                snprintf (val, sizeof val, "value-%d", next);
                zkv_msg_t req = {.type = ZKV_MSG_CLIENT_REQUEST};
                req.u.client_request.client_id = cs[w].client_id;
                req.u.client_request.seq = ++cs[w].seq;
                req.u.client_request.op = ZKV_OP_PUT;
                req.u.client_request.key.data = (uint8_t *)key;
                req.u.client_request.key.len = strlen (key);
                req.u.client_request.value.data = (uint8_t *)val;
                req.u.client_request.value.len = strlen (val);
                req.u.client_request.deadline_ms = 5000;
                s_send (cs[w].socks[cs[w].leader], &req);
                inflight[w] = next++;
            }
            zsock_t *s = (zsock_t *)zpoller_wait (poller, 5000);
            if (!s) {
                fprintf (stderr, "bench: no answer within 5 s\n");
                break;
            }
            for (int w = 0; w < window; w++) {
                if (cs[w].socks[cs[w].leader] != s)
                    continue;
                zkv_msg_t rep;
                if (s_recv (s, 0, &rep) != 0)
                    break;
                if (rep.type == ZKV_MSG_CLIENT_REPLY && rep.u.client_reply.seq == cs[w].seq) {
                    if (rep.u.client_reply.status == 0)
                        done++;
                    else {
                        // Retry the same request (same seq) synchronously.
                        char key[32], val[32];
                        snprintf (key, sizeof key, "bench-%d", inflight[w]);
                        snprintf (val, sizeof val, "value-%d", inflight[w]);
                        cs[w].seq--;
                        if (s_request (&cs[w], ZKV_OP_PUT, key, val, 10000, NULL) == 0)
                            done++;
                        else
                            failed++;
                    }
                    inflight[w] = -1;
                }
                zkv_msg_free (&rep);
                break;
            }
            if (failed)
                break;
        }
        int64_t usecs = zclock_usecs () - start;
        printf ("bench: %d puts in %.3f s = %.0f puts/s (%d in flight)\n", done, usecs / 1e6,
                done / (usecs / 1e6), window);
        rc = done == n ? 0 : 1;
        zpoller_destroy (&poller);
        free (inflight);
        for (int w = 0; w < window; w++)
            for (size_t i = 0; i < cs[w].n; i++)
                zsock_destroy (&cs[w].socks[i]);
        free (cs);
    } else {
        fprintf (stderr, "bad command\n");
        rc = 2;
    }
    for (size_t i = 0; i < c.n; i++)
        zsock_destroy (&c.socks[i]);
    return rc;
}
