// Client library tests against fake in-process servers whose every answer the test scripts.
#include "zkv_test.h"

#include "zkv_client.h"
#include "zkv_client_core.h"
#include "zkv_msg.h"

#include <czmq.h>

// ---------------------------------------------------------------------------------------------
// The fake server: a ROUTER in a zactor. Each client request it receives is logged and answered
// by the next scripted action (or the default one when the script is empty):
//   ok           reply ok (a get reads "val:<key>")
//   drop         no answer
//   hint N       "not the leader", leader hint N
//   err S        error status S, no hint
//   own S        error status S, no hint, with the status's own message as its text (as zkvd's
//                "not the leader" answers carry)
//   hold         no answer now; the reply is kept for "release"
//   release      send the kept reply first, then reply ok
//   dup          reply ok twice
//   stale        first a reply to seq - 1 and one to another client id (value "STALE"), then ok
// Every reply carries log_ms 1000 times the number of requests received so far.
// Pipe commands: SCRIPT action | DEFAULT action | WAIT n (answers the count once it reaches n
// or after 2 s) | REQ i (answers client_id, seq, op of request i).

typedef struct {
    uint64_t client_id; // as received
    uint64_t seq;       // as received
    uint64_t op;        // as received
    uint64_t session_t0; // as received
} s_req_t;

#define S_MAX_REQS 256

typedef struct {
    zsock_t *pipe;            // to the test
    zsock_t *router;          // the fake node's client socket
    zlist_t *script;          // pending actions (strings)
    char *fallback;           // action when the script is empty
    s_req_t reqs[S_MAX_REQS]; // log of requests
    size_t n_reqs;            // entries in reqs
    zmsg_t *held;             // reply kept by "hold"
    size_t wait_for;          // pending WAIT target, 0 none
    int64_t wait_deadline;    // when the pending WAIT gives up
    bool own_text;            // the reply being sent carries its status's own message
    zmsg_t *snap;             // a snapshot_reply kept until snap_due
    int64_t snap_due;         // when it is sent (monotonic ms)
} s_fake_t;

// A snapshot_request is answered 300 ms later with a one-chunk save ("abc"), so the client
// waits for it while other sockets have events.
static void
s_fake_snapshot (s_fake_t *self, zframe_t *identity, const zkv_snapshot_request_t *req)
{
    zkv_msg_t rep = {.type = ZKV_MSG_SNAPSHOT_REPLY};
    zkv_snapshot_reply_t *r = &rep.u.snapshot_reply;
    r->node = 1;
    r->nonce = req->nonce;
    r->group = req->group;
    r->save_id = 5;
    r->index = 9;
    r->term = 2;
    zkv_bytes_set (&r->machine, "kv", 2);
    zkv_bytes_set (&r->data, "abc", 3);
    r->done = true;
    uint8_t *buf;
    size_t len;
    assert (zkv_msg_encode (&rep, &buf, &len) == 0);
    zkv_msg_free (&rep);
    zmsg_destroy (&self->snap);
    self->snap = zmsg_new ();
    zmsg_append (self->snap, &(zframe_t *){zframe_dup (identity)});
    zmsg_addmem (self->snap, buf, len);
    free (buf);
    self->snap_due = zclock_mono () + 300;
}

static void
s_fake_send (s_fake_t *self, zframe_t *identity, const zkv_msg_t *msg, bool keep)
{
    uint8_t *buf;
    size_t len;
    assert (zkv_msg_encode (msg, &buf, &len) == 0);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &(zframe_t *){zframe_dup (identity)});
    zmsg_addmem (out, buf, len);
    free (buf);
    if (keep) {
        zmsg_destroy (&self->held);
        self->held = out;
    } else
        zmsg_send (&out, self->router);
}

static void
s_fake_reply (s_fake_t *self, zframe_t *identity, const zkv_client_request_t *req,
              uint64_t client_id, uint64_t seq, uint64_t status, uint64_t leader, const char *value,
              bool keep)
{
    zkv_msg_t rep = {.type = ZKV_MSG_CLIENT_REPLY};
    rep.u.client_reply.client_id = client_id;
    rep.u.client_reply.seq = seq;
    rep.u.client_reply.status = status;
    rep.u.client_reply.leader = leader;
    rep.u.client_reply.log_ms = 1000 * self->n_reqs;
    char buf[300];
    if (!value && status == 0 && req->op == ZKV_OP_GET) {
        snprintf (buf, sizeof buf, "val:%.*s", (int)req->key.len, (const char *)req->key.data);
        value = buf;
    }
    if (value)
        zkv_bytes_set (&rep.u.client_reply.value, value, strlen (value));
    if (status) {
        const char *text = self->own_text ? zkv_strerror (-(int)status) : "scripted";
        zkv_bytes_set (&rep.u.client_reply.error, text, strlen (text));
    }
    s_fake_send (self, identity, &rep, keep);
    zkv_msg_free (&rep);
}

// The fake's wall clock, which its config replies name as log_ms: a first write's session_t0.
// Below the 1000 per request its client replies name, so that tests see which one was used.
#define S_FAKE_LOG_MS 500

// A configuration of no groups (a node that has none to give), with the fake's clock.
static void
s_fake_config (s_fake_t *self, zframe_t *identity, uint64_t nonce)
{
    zkv_msg_t rep = {.type = ZKV_MSG_CONFIG_REPLY};
    rep.u.config_reply.node = 7;
    rep.u.config_reply.nonce = nonce;
    rep.u.config_reply.log_ms = S_FAKE_LOG_MS;
    s_fake_send (self, identity, &rep, false);
}

static void
s_fake_status (s_fake_t *self, zframe_t *identity, uint64_t nonce)
{
    zkv_msg_t rep = {.type = ZKV_MSG_STATUS_REPLY};
    zkv_status_reply_t *s = &rep.u.status_reply;
    s->node = 7;
    s->nonce = nonce;
    uint64_t groups[] = {0, 1}, roles[] = {3, 0}, terms[] = {4, 5}, leaders[] = {7, 2};
    uint64_t commits[] = {10, 20}, applieds[] = {9, 19}, lasts[] = {11, 21}, snaps[] = {0, 8};
    uint64_t bytes[] = {100, 200};
    zkv_u64s_set (&s->groups, groups, 2);
    zkv_u64s_set (&s->roles, roles, 2);
    zkv_u64s_set (&s->terms, terms, 2);
    zkv_u64s_set (&s->leaders, leaders, 2);
    zkv_u64s_set (&s->commits, commits, 2);
    zkv_u64s_set (&s->applieds, applieds, 2);
    zkv_u64s_set (&s->last_indexes, lasts, 2);
    zkv_u64s_set (&s->snapshot_indexes, snaps, 2);
    zkv_u64s_set (&s->log_bytes, bytes, 2);
    s_fake_send (self, identity, &rep, false);
    zkv_msg_free (&rep);
}

static void
s_fake_handle (s_fake_t *self, zframe_t *identity, const zkv_client_request_t *req)
{
    char *action = zlist_pop (self->script);
    const char *a = action ? action : self->fallback;
    uint64_t cid = req->client_id, seq = req->seq;
    if (streq (a, "ok"))
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, false);
    else if (streq (a, "drop")) {
        // dropped
    } else if (strncmp (a, "hint ", 5) == 0)
        s_fake_reply (self, identity, req, cid, seq, ZKV_ENOTLEADER_VALUE, atoi (a + 5), NULL,
                      false);
    else if (strncmp (a, "err ", 4) == 0)
        s_fake_reply (self, identity, req, cid, seq, atoi (a + 4), 0, NULL, false);
    else if (strncmp (a, "own ", 4) == 0) {
        self->own_text = true;
        s_fake_reply (self, identity, req, cid, seq, atoi (a + 4), 0, NULL, false);
        self->own_text = false;
    } else if (streq (a, "hold"))
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, true);
    else if (streq (a, "release")) {
        if (self->held)
            zmsg_send (&self->held, self->router);
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, false);
    } else if (streq (a, "dup")) {
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, false);
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, false);
    } else if (streq (a, "stale")) {
        s_fake_reply (self, identity, req, cid, seq - 1, 0, 0, "STALE", false);
        s_fake_reply (self, identity, req, cid + 1, seq, 0, 0, "STALE", false);
        s_fake_reply (self, identity, req, cid, seq, 0, 0, NULL, false);
    } else
        assert (!"unknown scripted action");
    free (action);
}

static void
s_fake_check_wait (s_fake_t *self)
{
    if (self->wait_for &&
        (self->n_reqs >= self->wait_for || zclock_mono () >= self->wait_deadline)) {
        zsock_send (self->pipe, "8", (uint64_t)self->n_reqs);
        self->wait_for = 0;
    }
}

static void
s_fake_actor (zsock_t *pipe, void *args)
{
    s_fake_t self = {.pipe = pipe, .script = zlist_new (), .fallback = strdup ("ok")};
    zlist_autofree (self.script);
    self.router = zsock_new (ZMQ_ROUTER);
    assert (zsock_bind (self.router, "%s", (const char *)args) == 0);
    zpoller_t *poller = zpoller_new (pipe, self.router, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        int wait = self.wait_for ? 10 : -1;
        if (self.snap) {
            int64_t left = self.snap_due - zclock_mono ();
            wait = left <= 0 ? 0 : (wait < 0 || left < wait ? (int)left : wait);
        }
        zsock_t *which = zpoller_wait (poller, wait);
        if (self.snap && zclock_mono () >= self.snap_due)
            zmsg_send (&self.snap, self.router);
        if (which == pipe) {
            char *cmd, *arg;
            if (zsock_recv (pipe, "ss", &cmd, &arg) != 0)
                break;
            bool term = streq (cmd, "$TERM");
            if (streq (cmd, "SCRIPT"))
                zlist_append (self.script, arg);
            else if (streq (cmd, "DEFAULT")) {
                free (self.fallback);
                self.fallback = strdup (arg);
            } else if (streq (cmd, "WAIT")) {
                self.wait_for = (size_t)atoi (arg);
                self.wait_deadline = zclock_mono () + 2000;
            } else if (streq (cmd, "REQ")) {
                size_t i = (size_t)atoi (arg);
                s_req_t r = i < self.n_reqs ? self.reqs[i] : (s_req_t){0};
                zsock_send (pipe, "8888", r.client_id, r.seq, r.op, r.session_t0);
            } else
                assert (term);
            free (cmd);
            free (arg);
            if (term)
                break;
        } else if (which == self.router) {
            zmsg_t *msg = zmsg_recv (self.router);
            zframe_t *identity = zmsg_pop (msg);
            zframe_t *body = zmsg_last (msg);
            zkv_msg_t req;
            if (identity && body &&
                zkv_msg_decode (zframe_data (body), zframe_size (body), &req) == 0) {
                if (req.type == ZKV_MSG_CLIENT_REQUEST) {
                    if (self.n_reqs < S_MAX_REQS)
                        self.reqs[self.n_reqs++] =
                            (s_req_t){req.u.client_request.client_id, req.u.client_request.seq,
                                      req.u.client_request.op,
                                      req.u.client_request.session_t0};
                    s_fake_handle (&self, identity, &req.u.client_request);
                } else if (req.type == ZKV_MSG_STATUS_REQUEST)
                    s_fake_status (&self, identity, req.u.status_request.nonce);
                else if (req.type == ZKV_MSG_CONFIG_REQUEST)
                    s_fake_config (&self, identity, req.u.config_request.nonce);
                else if (req.type == ZKV_MSG_SNAPSHOT_REQUEST)
                    s_fake_snapshot (&self, identity, &req.u.snapshot_request);
                zkv_msg_free (&req);
            }
            zframe_destroy (&identity);
            zmsg_destroy (&msg);
        } else if (zpoller_terminated (poller))
            break;
        s_fake_check_wait (&self);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.router);
    zmsg_destroy (&self.held);
    zmsg_destroy (&self.snap);
    zlist_destroy (&self.script);
    free (self.fallback);
}

// ---------------------------------------------------------------------------------------------
// Fixture: n fake nodes (ids 1..n) and a client of them.

#define S_NODES 3

typedef struct {
    zactor_t *fake[S_NODES];    // fake node i has id i + 1
    char endpoint[S_NODES][64]; // their endpoints
    zkv_client_t *client;       // the client under test
} s_fix_t;

static void
s_fix_setup (s_fix_t *fix, size_t n)
{
    static int instance; // endpoints must differ between tests: sockets close asynchronously
    memset (fix, 0, sizeof *fix);
    const char *eps[S_NODES];
    instance++;
    for (size_t i = 0; i < n; i++) {
        snprintf (fix->endpoint[i], sizeof fix->endpoint[i], "inproc://fake-%d-%zu", instance, i);
        fix->fake[i] = zactor_new (s_fake_actor, fix->endpoint[i]);
        eps[i] = fix->endpoint[i];
    }
    fix->client = zkv_client_new (eps, n);
    assert (fix->client);
    zkv_client_set_attempt_timeout (fix->client, 100);
}

static void
s_fix_teardown (s_fix_t *fix)
{
    zkv_client_destroy (&fix->client);
    for (size_t i = 0; i < S_NODES; i++)
        zactor_destroy (&fix->fake[i]);
}

static void
s_script (s_fix_t *fix, size_t node, const char *action)
{
    zsock_send (fix->fake[node - 1], "ss", "SCRIPT", action);
}

static void
s_default (s_fix_t *fix, size_t node, const char *action)
{
    zsock_send (fix->fake[node - 1], "ss", "DEFAULT", action);
}

// Number of requests node has received, waiting (up to 2 s) until there are at least n.
static size_t
s_count (s_fix_t *fix, size_t node, size_t n)
{
    char arg[32];
    snprintf (arg, sizeof arg, "%zu", n);
    zsock_send (fix->fake[node - 1], "ss", "WAIT", arg);
    uint64_t count = 0;
    zsock_recv (fix->fake[node - 1], "8", &count);
    return (size_t)count;
}

static s_req_t
s_req (s_fix_t *fix, size_t node, size_t i)
{
    char arg[32];
    snprintf (arg, sizeof arg, "%zu", i);
    zsock_send (fix->fake[node - 1], "ss", "REQ", arg);
    s_req_t r;
    zsock_recv (fix->fake[node - 1], "8888", &r.client_id, &r.seq, &r.op, &r.session_t0);
    return r;
}

static int
s_put (s_fix_t *fix, const char *key, const char *value, int timeout_ms)
{
    return zkv_client_put (fix->client, key, strlen (key), value, strlen (value), timeout_ms);
}

// Gets key; returns the status, and the value in buf (NUL-terminated, truncated).
static int
s_get (s_fix_t *fix, const char *key, char *buf, size_t size, int timeout_ms)
{
    void *value;
    size_t len;
    buf[0] = 0;
    int rc = zkv_client_get (fix->client, key, strlen (key), &value, &len, timeout_ms);
    if (rc == 0) {
        snprintf (buf, size, "%.*s", (int)len, (const char *)value);
        free (value);
    }
    return rc;
}

// ---------------------------------------------------------------------------------------------

static void
test_put_get_numbers_requests (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    char buf[64];
    uint64_t id = zkv_client_id (fix.client);
    int put = s_put (&fix, "k", "v", 2000);
    int get = s_get (&fix, "k", buf, sizeof buf, 2000);
    size_t n = s_count (&fix, 1, 2);
    s_req_t r0 = s_req (&fix, 1, 0), r1 = s_req (&fix, 1, 1);
    s_fix_teardown (&fix);
    CHECK (id != 0);
    CHECK_EQ_U64 (put, 0);
    CHECK_EQ_U64 (get, 0);
    CHECK (streq (buf, "val:k"));
    CHECK_EQ_U64 (n, 2);
    CHECK_EQ_U64 (r0.client_id, id);
    CHECK_EQ_U64 (r1.client_id, id);
    CHECK_EQ_U64 (r0.seq, 1);
    CHECK_EQ_U64 (r1.seq, 2);
    CHECK_EQ_U64 (r0.op, ZKV_OP_PUT);
    CHECK_EQ_U64 (r1.op, ZKV_OP_GET);
}

static void
test_client_ids_differ (void)
{
    const char *ep[] = {"inproc://nobody"};
    zkv_client_t *a = zkv_client_new (ep, 1), *b = zkv_client_new (ep, 1);
    bool differ = a && b && zkv_client_id (a) != zkv_client_id (b);
    zkv_client_destroy (&a);
    zkv_client_destroy (&b);
    CHECK (differ);
    CHECK (zkv_client_new (ep, 0) == NULL);
}

// A node that stays silent: the same (client id, seq) goes to the next node, which answers; the
// client then keeps sending there first.
static void
test_retry_after_silence_keeps_seq (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 3);
    s_script (&fix, 1, "drop");
    int rc = s_put (&fix, "k", "v", 3000);
    uint64_t leader = zkv_client_leader (fix.client);
    int rc2 = s_put (&fix, "k", "w", 3000);
    size_t n1 = s_count (&fix, 1, 1), n2 = s_count (&fix, 2, 2);
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 2, 0), c = s_req (&fix, 2, 1);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, 0);
    CHECK_EQ_U64 (rc2, 0);
    CHECK_EQ_U64 (leader, 2);
    CHECK_EQ_U64 (n1, 1);
    CHECK_EQ_U64 (n2, 2);
    CHECK_EQ_U64 (a.client_id, b.client_id);
    CHECK_EQ_U64 (a.seq, 1);
    CHECK_EQ_U64 (b.seq, 1);
    CHECK_EQ_U64 (c.seq, 2);
}

// "Not the leader, node 3 is": the client goes straight to node 3 (never to 2) with the same seq.
static void
test_follows_leader_hint (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 3);
    s_script (&fix, 1, "hint 3");
    int64_t start = zclock_mono ();
    int rc = s_put (&fix, "k", "v", 3000);
    int64_t took = zclock_mono () - start;
    int rc2 = s_put (&fix, "k", "w", 3000);
    size_t n1 = s_count (&fix, 1, 1), n3 = s_count (&fix, 3, 2);
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 3, 0);
    uint64_t leader = zkv_client_leader (fix.client);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, 0);
    CHECK_EQ_U64 (rc2, 0);
    CHECK (took < 100); // no attempt timeout was waited out
    CHECK_EQ_U64 (n1, 1);
    CHECK_EQ_U64 (n3, 2);
    CHECK_EQ_U64 (a.seq, b.seq);
    CHECK_EQ_U64 (leader, 3);
}

// Nobody answers: the call ends at its timeout with ZKV_ETIMEOUT (unknown outcome), not before
// and not much after, having tried every node with the same seq.
static void
test_silence_is_timeout_unknown_outcome (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 3);
    for (size_t i = 1; i <= 3; i++)
        s_default (&fix, i, "drop");
    int64_t start = zclock_mono ();
    int rc = s_put (&fix, "k", "v", 400);
    int64_t took = zclock_mono () - start;
    char error[512];
    snprintf (error, sizeof error, "%s", zkv_client_last_error (fix.client));
    size_t n[3];
    for (size_t i = 1; i <= 3; i++)
        n[i - 1] = s_count (&fix, i, 1);
    s_req_t a = s_req (&fix, 1, 0), c = s_req (&fix, 3, 0);
    char buf[16];
    int get = s_get (&fix, "k", buf, sizeof buf, 200);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, ZKV_ETIMEOUT);
    CHECK (took >= 400 && took < 1500);
    CHECK (strstr (error, "outcome unknown"));
    CHECK (n[0] >= 1 && n[1] >= 1 && n[2] >= 1);
    CHECK_EQ_U64 (a.seq, 1);
    CHECK_EQ_U64 (c.seq, 1);
    CHECK_EQ_U64 (get, ZKV_ETIMEOUT);
}

// A late reply to an earlier attempt and duplicate replies are consumed once; leftovers of an
// earlier seq do not answer a later request.
static void
test_late_and_duplicate_replies_ignored (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "hold");    // put seq 1: no answer within the attempt
    s_script (&fix, 1, "release"); // its retry: the late reply, then the fresh one
    s_script (&fix, 1, "ok");      // get seq 2
    s_script (&fix, 1, "dup");     // append seq 3, answered twice
    s_script (&fix, 1, "ok");      // get seq 4
    int put = s_put (&fix, "k", "v", 3000);
    char buf[64], buf2[64];
    int get = s_get (&fix, "k", buf, sizeof buf, 3000);
    int app = zkv_client_append (fix.client, "k", 1, "x", 1, 3000);
    int get2 = s_get (&fix, "k2", buf2, sizeof buf2, 3000);
    s_req_t r0 = s_req (&fix, 1, 0), r1 = s_req (&fix, 1, 1), r2 = s_req (&fix, 1, 2);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (put, 0);
    CHECK_EQ_U64 (r0.seq, 1);
    CHECK_EQ_U64 (r1.seq, 1); // the retry kept its seq
    CHECK_EQ_U64 (r2.seq, 2);
    CHECK_EQ_U64 (get, 0);
    CHECK (streq (buf, "val:k")); // not the empty value of put's second reply
    CHECK_EQ_U64 (app, 0);
    CHECK_EQ_U64 (get2, 0);
    CHECK (streq (buf2, "val:k2"));
}

// Replies to an earlier seq and to another client id arrive first: they are not the answer.
static void
test_stale_seq_and_foreign_replies_ignored (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "ok");
    s_script (&fix, 1, "stale");
    int put = s_put (&fix, "k", "v", 2000);
    char buf[64];
    int get = s_get (&fix, "key", buf, sizeof buf, 2000);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (put, 0);
    CHECK_EQ_U64 (get, 0);
    CHECK (streq (buf, "val:key"));
}

// Oversized keys and values never leave the client, and use no sequence number.
static void
test_oversized_refused_locally (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    size_t big = zkv_client_max_value (fix.client) + 1;
    char *value = zmalloc (big);
    int rc_value = zkv_client_put (fix.client, "k", 1, value, big, 1000);
    int rc_key =
        zkv_client_append (fix.client, value, zkv_client_max_key (fix.client) + 1, "v", 1, 1000);
    int rc_ok = zkv_client_put (fix.client, "k", 1, value, big - 1, 2000);
    free (value);
    size_t n = s_count (&fix, 1, 1);
    s_req_t r = s_req (&fix, 1, 0);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc_value, ZKV_ETOOBIG);
    CHECK_EQ_U64 (rc_key, ZKV_ETOOBIG);
    CHECK_EQ_U64 (rc_ok, 0);
    CHECK_EQ_U64 (n, 1);
    CHECK_EQ_U64 (r.seq, 1);
}

// A transient error (no quorum) is retried with the same seq; a definitive one (too big) ends
// the call with that error.
static void
test_server_errors (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "err 13");
    s_script (&fix, 1, "ok");
    s_script (&fix, 1, "err 7");
    int rc1 = s_put (&fix, "k", "v", 2000);
    int rc2 = s_put (&fix, "k", "v", 2000);
    char error[512];
    snprintf (error, sizeof error, "%s", zkv_client_last_error (fix.client));
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 1, 1), c = s_req (&fix, 1, 2);
    s_default (&fix, 1, "err 13");
    char buf[16];
    int get = s_get (&fix, "k", buf, sizeof buf, 100);
    int put = s_put (&fix, "k", "v", 100);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc1, 0);
    CHECK_EQ_U64 (a.seq, 1);
    CHECK_EQ_U64 (b.seq, 1);
    CHECK_EQ_U64 (rc2, ZKV_ETOOBIG);
    CHECK_EQ_U64 (c.seq, 2);
    CHECK (strstr (error, "scripted"));
    CHECK_EQ_U64 (get, ZKV_ENOQUORUM); // a get has no effect: its error can be told
    CHECK_EQ_U64 (put, ZKV_ETIMEOUT);  // a put's outcome stays unknown
}

static void
test_status (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    zkv_node_status_t st;
    int rc = zkv_client_status (fix.client, 0, 2000, &st);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, 0);
    CHECK_EQ_U64 (st.node, 7);
    CHECK_EQ_U64 (st.n_groups, 2);
    CHECK_EQ_U64 (st.groups[1].group, 1);
    CHECK_EQ_U64 (st.groups[0].role, 3);
    CHECK_EQ_U64 (st.groups[1].commit, 20);
    CHECK_EQ_U64 (st.groups[1].snapshot_index, 8);
    CHECK_EQ_U64 (st.groups[1].log_bytes, 200);
    zkv_node_status_free (&st);
    CHECK (streq (zkv_client_role_name (3), "leader"));
}

// No node listening: the call fails at once, long before its timeout, saying the request was
// never sent and where nothing listens (host:port is taken as tcp://host:port).
static void
test_unreachable (void)
{
    const char *ep[] = {"tcp://127.0.0.1:1", "127.0.0.1:2"};
    zkv_client_t *client = zkv_client_new (ep, 2);
    CHECK (client);
    int64_t start = zclock_mono ();
    int rc = zkv_client_put (client, "k", 1, "v", 1, 5000);
    int64_t took = zclock_mono () - start;
    char error[512];
    snprintf (error, sizeof error, "%s", zkv_client_last_error (client));
    zkv_client_destroy (&client);
    CHECK_EQ_U64 (rc, ZKV_EUNREACHABLE);
    CHECK (took < 2000);
    CHECK (strstr (error, "tcp://127.0.0.1:1, tcp://127.0.0.1:2: connection refused"));
    CHECK (strstr (error, "not applied"));
}

// No quorum: every node answers "not the leader" and knows none. The write fails as refused (not
// applied), and the error text says "not the leader" only through its code: the server's text,
// which only repeats it, is not printed again.
static void
test_no_quorum_refused_said_once (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 2);
    for (size_t i = 1; i <= 2; i++)
        s_default (&fix, i, "own 8");
    int rc = s_put (&fix, "k", "v", 300);
    char error[512];
    snprintf (error, sizeof error, "%s", zkv_client_last_error (fix.client));
    char buf[16];
    int get = s_get (&fix, "k", buf, sizeof buf, 300);
    char get_error[512];
    snprintf (get_error, sizeof get_error, "%s", zkv_client_last_error (fix.client));
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, ZKV_ENOTLEADER);
    CHECK (!strstr (error, "not the leader"));
    CHECK (strstr (error, "not applied") && strstr (error, "(it knows no leader)"));
    CHECK_EQ_U64 (get, ZKV_ENOTLEADER);
    CHECK (!strstr (get_error, "not the leader"));
    // Another status's text is kept: "busy" with the reason.
    s_fix_setup (&fix, 1);
    s_default (&fix, 1, "err 14");
    rc = s_put (&fix, "k", "v", 100);
    snprintf (error, sizeof error, "%s", zkv_client_last_error (fix.client));
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc, ZKV_EBUSY);
    CHECK (strstr (error, "node 1: scripted"));
}

// Requests carry the newest log time their client learned before it first sent them: the
// first the log_ms of the configuration its client fetched first (a new client knows no log
// time), the next ones the log_ms of the replies (1000 per request the fake received).
static void
test_session_t0_from_replies (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "drop");
    int rc1 = s_put (&fix, "k", "v", 3000); // sent twice: the fetched log time both times
    int rc2 = s_put (&fix, "k", "v", 3000);
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 1, 1), c = s_req (&fix, 1, 2);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc1, 0);
    CHECK_EQ_U64 (rc2, 0);
    CHECK_EQ_U64 (a.session_t0, S_FAKE_LOG_MS);
    CHECK_EQ_U64 (b.session_t0, S_FAKE_LOG_MS); // a retry keeps its first send's
    CHECK_EQ_U64 (c.session_t0, 2000);
}

// "Session expired" to a request sent once: it was not applied; it goes again at once under a
// new session (a new client id, seq 1, the answer's log time), and the caller sees success.
static void
test_session_expired_first_send_resent (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "ok");
    s_script (&fix, 1, "err 24");
    int rc1 = s_put (&fix, "k", "v", 2000);
    int rc2 = s_put (&fix, "k", "w", 2000);
    uint64_t id = zkv_client_id (fix.client);
    int rc3 = s_put (&fix, "k", "x", 2000);
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 1, 1), c = s_req (&fix, 1, 2),
            d = s_req (&fix, 1, 3);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc1, 0);
    CHECK_EQ_U64 (rc2, 0);
    CHECK_EQ_U64 (rc3, 0);
    CHECK_EQ_U64 (b.client_id, a.client_id);
    CHECK_EQ_U64 (b.seq, 2);
    CHECK_EQ_U64 (c.client_id, zkv_ccore_next_id (a.client_id));
    CHECK_EQ_U64 (c.seq, 1);
    CHECK_EQ_U64 (c.session_t0, 2000); // the log time the refusal named
    CHECK_EQ_U64 (id, c.client_id);
    CHECK_EQ_U64 (d.client_id, c.client_id);
    CHECK_EQ_U64 (d.seq, 2);
}

// "Session expired" to a request sent more than once: an earlier send may have been applied:
// the outcome is unknown (ZKV_ESESSION), and the next request starts a new session.
static void
test_session_expired_retry_unknown (void)
{
    s_fix_t fix;
    s_fix_setup (&fix, 1);
    s_script (&fix, 1, "drop");
    s_script (&fix, 1, "err 24");
    int rc1 = s_put (&fix, "k", "v", 3000);
    char error[512];
    snprintf (error, sizeof error, "%s", zkv_client_last_error (fix.client));
    int rc2 = s_put (&fix, "k", "w", 3000);
    s_req_t a = s_req (&fix, 1, 0), b = s_req (&fix, 1, 1), c = s_req (&fix, 1, 2);
    size_t n = s_count (&fix, 1, 3);
    s_fix_teardown (&fix);
    CHECK_EQ_U64 (rc1, ZKV_ESESSION);
    CHECK (strstr (error, "session expired") && strstr (error, "outcome unknown"));
    CHECK_EQ_U64 (n, 3); // not sent again
    CHECK_EQ_U64 (b.client_id, a.client_id);
    CHECK_EQ_U64 (b.seq, 1);
    CHECK_EQ_U64 (rc2, 0);
    CHECK_EQ_U64 (c.client_id, zkv_ccore_next_id (a.client_id));
    CHECK_EQ_U64 (c.seq, 1);
}

// The pure core: ESESSION on a first send is resent under a new session (to the node that
// answered), on a retry it is the result; ids stay non-zero, below 2^63, and distinct.
static void
test_core_session_expired (void)
{
    zkv_ccore_t core;
    uint64_t ids[] = {1, 2, 3};
    zkv_ccore_init (&core, ids, 3, 42, 100);
    zkv_ccore_saw_log_ms (&core, 7000);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 0);
    CHECK_EQ_U64 (core.session_t0, 7000);
    act = zkv_ccore_sent (&core, 0, true);
    zkv_ccore_saw_log_ms (&core, 9000); // the refusal's log time
    zkv_ccore_saw_log_ms (&core, 8000); // an older one changes nothing
    act = zkv_ccore_reply (&core, 1, 0, 42, 1, ZKV_ESESSION_VALUE, 0);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 0);
    uint64_t id2 = zkv_ccore_next_id (42);
    CHECK (id2 != 42 && id2 != 0 && id2 < (1ULL << 63));
    CHECK_EQ_U64 (core.client_id, id2);
    CHECK_EQ_U64 (core.seq, 1);
    CHECK_EQ_U64 (core.session_t0, 9000);
    CHECK_EQ_U64 (core.sessions, 1);
    act = zkv_ccore_sent (&core, 1, true);
    CHECK (act.kind == ZKV_CC_WAIT);
    // A late answer to the old session's request is someone else's now: nothing changes.
    zkv_cc_action_t same = zkv_ccore_reply (&core, 1, 0, 42, 1, 0, 0);
    CHECK (same.kind == ZKV_CC_WAIT && same.wake_at == act.wake_at);
    act = zkv_ccore_reply (&core, 2, 0, id2, 1, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    // The next request: silence, a retry elsewhere, then ESESSION: the outcome is unknown.
    act = zkv_ccore_begin (&core, 10, 1000, false);
    CHECK_EQ_U64 (core.seq, 2);
    act = zkv_ccore_sent (&core, 10, true);
    act = zkv_ccore_timer (&core, 200);
    CHECK (act.kind == ZKV_CC_SEND);
    act = zkv_ccore_sent (&core, 200, true);
    act = zkv_ccore_reply (&core, 201, act.node, id2, 2, ZKV_ESESSION_VALUE, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_ESESSION);
    CHECK (core.why == ZKV_CC_WHY_SESSION);
    CHECK_EQ_U64 (core.client_id, zkv_ccore_next_id (id2));
    act = zkv_ccore_begin (&core, 300, 1000, false);
    CHECK_EQ_U64 (core.seq, 1);
    CHECK_EQ_U64 (core.sessions, 2);
    zkv_ccore_fini (&core);
}

// The pure core: a new client's first write fetches the configuration before it is sent and
// carries the log time the reply named (a session_t0 of 0 is refused "session expired" on any
// shard that ever evicted a session, an unknown outcome once the request went twice). A get
// has no session to begin, and a fetch left unanswered gives way to the request itself.
static void
test_core_first_write_learns_log_time (void)
{
    zkv_ccore_t core;
    uint64_t ids[] = {1, 2, 3};
    zkv_ccore_init (&core, ids, 3, 42, 100);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, true);
    CHECK (act.kind == ZKV_CC_SEND); // a get: at once
    act = zkv_ccore_sent (&core, 0, true);
    act = zkv_ccore_reply (&core, 1, core.target, 42, 1, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    act = zkv_ccore_begin (&core, 2, 1000, false);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 2, true);
    CHECK (act.kind == ZKV_CC_WAIT);
    CHECK_EQ_U64 (core.sends, 0); // a fetch is not a send of the request
    zkv_ccore_saw_log_ms (&core, 5000);
    zkv_config_reply_t m = {.node = 1, .log_ms = 5000};
    act = zkv_ccore_config (&core, 3, 0, &m);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (core.session_t0, 5000);
    act = zkv_ccore_sent (&core, 3, true);
    act = zkv_ccore_reply (&core, 4, core.target, 42, 2, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    // The next write knows a time: no fetch.
    act = zkv_ccore_begin (&core, 5, 1000, false);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (core.session_t0, 5000);
    zkv_ccore_fini (&core);

    zkv_ccore_init (&core, ids, 3, 43, 100);
    act = zkv_ccore_begin (&core, 0, 1000, false);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 0, true);
    act = zkv_ccore_timer (&core, act.wake_at); // no configuration within an attempt
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (core.session_t0, 0);
    // A configuration arriving after the request left changes its session_t0 no more.
    act = zkv_ccore_sent (&core, 100, true);
    zkv_ccore_saw_log_ms (&core, 7000);
    CHECK_EQ_U64 (core.session_t0, 0);
    zkv_ccore_fini (&core);
}

// The pure core: two nodes pointing at each other do not ping-pong at network speed.
static void
test_core_hint_ping_pong_pauses (void)
{
    zkv_ccore_t core;
    uint64_t ids[] = {1, 2, 3};
    zkv_ccore_init (&core, ids, 3, 42, 100);
    zkv_ccore_saw_log_ms (&core, 1000); // it knows a time: its first write goes at once
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 0);
    int sends = 0;
    for (int i = 0; i < 10 && act.kind == ZKV_CC_SEND; i++) {
        sends++;
        act = zkv_ccore_sent (&core, 0, true);
        CHECK (act.kind == ZKV_CC_WAIT);
        size_t from = core.target;
        act =
            zkv_ccore_reply (&core, 0, from, 42, core.seq, ZKV_ENOTLEADER_VALUE, from == 0 ? 2 : 1);
    }
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at > 0);
    CHECK (sends <= 4);
    // A reply to another seq changes nothing.
    zkv_cc_action_t same = zkv_ccore_reply (&core, 1, 0, 42, core.seq + 1, 0, 0);
    CHECK (same.kind == ZKV_CC_WAIT && same.wake_at == act.wake_at);
    // Every attempt was answered "not the leader": refused, never proposed, not applied.
    act = zkv_ccore_timer (&core, 2000);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_ENOTLEADER);
    zkv_ccore_fini (&core);
}

// ---------------------------------------------------------------------------------------------
// The pure core's routing cache. Nodes 1..6 (indices 0..5). Routing configuration num: groups 0
// and 1 on nodes 1 2 3, group 2 on nodes 4 5 6; 8 shards dealt even to group 1 and odd to group
// 2, or the other way round when swapped.

static const uint64_t s_cc_ids[] = {1, 2, 3, 4, 5, 6};

static zkv_routing_t *
s_cc_routing (uint64_t num, bool swapped)
{
    uint64_t ids[] = {0, 1, 2}, sizes[] = {3, 3, 3}, members[] = {1, 2, 3, 1, 2, 3, 4, 5, 6};
    zkv_routing_t *r = zkv_routing_new (num, 8, ids, sizes, members, 3);
    assert (r);
    zkv_routing_deal (r);
    if (swapped)
        for (uint32_t s = 0; s < r->nshards; s++)
            r->shard_group[s] = r->shard_group[s] == 1 ? 2 : 1;
    return r;
}

// The i-th key ("k0", "k1", ...) that r routes to group g (static storage, a few at once).
static const char *
s_cc_key (const zkv_routing_t *r, uint64_t g, int i)
{
    static char buf[8][32];
    static int next;
    char *key = buf[next++ % 8];
    for (int n = 0; n < 100000; n++) {
        snprintf (key, 32, "k%d", n);
        if (zkv_routing_group_of (r, (const uint8_t *)key, strlen (key)) == g && i-- == 0)
            return key;
    }
    assert (!"no such key");
    return NULL;
}

// True if the node at index idx is a member of group g in r.
static bool
s_cc_member (const zkv_routing_t *r, uint64_t g, size_t idx)
{
    size_t n = 0;
    const uint64_t *m = zkv_routing_members (r, g, &n);
    for (size_t k = 0; k < n && idx < 6; k++)
        if (m[k] == s_cc_ids[idx])
            return true;
    return false;
}

static zkv_cc_action_t
s_cc_begin (zkv_ccore_t *core, int64_t now, const char *key)
{
    return zkv_ccore_begin_key (core, now, 1000, false, (const uint8_t *)key, strlen (key));
}

// The current request's send went out and the node at index `from` answered status (hint
// leader); returns what the core does next.
static zkv_cc_action_t
s_cc_answer (zkv_ccore_t *core, int64_t now, size_t from, uint64_t status, uint64_t leader)
{
    zkv_cc_action_t act = zkv_ccore_sent (core, now, true);
    assert (act.kind == ZKV_CC_WAIT);
    return zkv_ccore_reply (core, now, from, core->client_id, core->seq, status, leader);
}

// The current fetch went out and `from` answered with routing r.
static zkv_cc_action_t
s_cc_config (zkv_ccore_t *core, int64_t now, size_t from, const zkv_routing_t *r)
{
    zkv_cc_action_t act = zkv_ccore_sent (core, now, true);
    assert (act.kind == ZKV_CC_WAIT);
    zkv_config_reply_t m = {.node = s_cc_ids[from]};
    zkv_routing_to_reply (r, &m);
    return zkv_ccore_config (core, now, from, &m);
}

// A core that fetched r and has no leader hint for any group.
static void
s_cc_with_routing (zkv_ccore_t *core, const zkv_routing_t *r)
{
    zkv_ccore_init (core, s_cc_ids, 6, 42, 100);
    zkv_ccore_saw_log_ms (core, 1000); // it knows a time: its first write goes at once
    zkv_ccore_saw_config (core, r->num);
    zkv_cc_action_t act = s_cc_begin (core, 0, "first");
    assert (act.kind == ZKV_CC_FETCH && act.node == 0);
    act = s_cc_config (core, 0, 0, r);
    assert (act.kind == ZKV_CC_SEND);
    act = zkv_ccore_sent (core, 0, true);
    act = zkv_ccore_timer (core, 2000); // the first request gives up: no leader learned
    assert (act.kind == ZKV_CC_DONE && core->routing && core->routing->num == r->num);
}

// Without a configuration a keyed request goes to the node last heard to lead (which forwards).
static void
test_core_routing_none_goes_to_leader (void)
{
    zkv_ccore_t core;
    zkv_ccore_init (&core, s_cc_ids, 6, 42, 100);
    zkv_ccore_saw_log_ms (&core, 1000); // it knows a time: its first write goes at once
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 0);
    act = s_cc_answer (&core, 0, 0, ZKV_ENOTLEADER_VALUE, 3);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 2);
    act = s_cc_answer (&core, 0, 2, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    act = s_cc_begin (&core, 10, "some key");
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (act.node, 2);
    CHECK_EQ_U64 (core.seq, 2);
    act = s_cc_answer (&core, 10, 2, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    CHECK (core.routing == NULL);
    CHECK_EQ_U64 (core.fetches, 0);
    zkv_ccore_fini (&core);
}

// A reply naming a newer configuration: the next keyed request first fetches it from the node
// last heard to lead, then goes to its key's group, keeping its seq.
static void
test_core_routing_fetch_when_newer (void)
{
    zkv_routing_t *r = s_cc_routing (3, false);
    zkv_ccore_t core;
    zkv_ccore_init (&core, s_cc_ids, 6, 42, 100);
    zkv_ccore_saw_log_ms (&core, 1000); // it knows a time: its first write goes at once
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    act = s_cc_answer (&core, 0, 0, 0, 3); // ok; node 3 leads
    CHECK (act.kind == ZKV_CC_DONE);
    // Unkeyed requests never fetch; a keyed one does.
    zkv_ccore_saw_config (&core, 1);
    act = zkv_ccore_begin (&core, 0, 1000, false);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 2);
    act = s_cc_answer (&core, 0, 2, 0, 0);
    const char *key = s_cc_key (r, 2, 0);
    act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_FETCH);
    CHECK_EQ_U64 (act.node, 2);
    uint64_t seq = core.seq;
    act = s_cc_config (&core, 0, 2, r);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK (s_cc_member (r, 2, act.node));
    CHECK_EQ_U64 (core.seq, seq);
    CHECK_EQ_U64 (core.fetches, 1);
    CHECK (core.routing && core.routing->num == 3);
    CHECK_EQ_U64 (core.seen_config, 3);
    // The configuration is current now: no fetch for the next request.
    act = s_cc_answer (&core, 0, act.node, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    act = s_cc_begin (&core, 0, s_cc_key (r, 1, 0));
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK (s_cc_member (r, 1, act.node));
    CHECK_EQ_U64 (core.fetches, 1);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
}

// A request routed by configuration 2 to a group that has no leader (it is down, and it left
// in configuration 3, so no member of it will ever say "wrong group"): an answer naming
// configuration 3 makes the next attempt fetch it, and the request goes where 3 says.
static void
test_core_routing_refetch_when_answer_names_newer (void)
{
    zkv_routing_t *r2 = s_cc_routing (2, false), *r3 = s_cc_routing (3, true);
    zkv_ccore_t core;
    s_cc_with_routing (&core, r2);
    const char *key = s_cc_key (r2, 1, 0); // group 1 in 2, group 2 in 3
    zkv_cc_action_t act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r2, 1, act.node));
    zkv_ccore_saw_config (&core, 3); // the answer's config, as the caller passes it on
    act = s_cc_answer (&core, 0, act.node, ZKV_ENOTLEADER_VALUE, 0);
    CHECK (act.kind == ZKV_CC_WAIT); // no hint: a pause first
    act = zkv_ccore_timer (&core, act.wake_at);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = s_cc_config (&core, act.wake_at, act.node, r3);
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r3, 2, act.node));
    CHECK (core.routing && core.routing->num == 3);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r2);
    zkv_routing_destroy (&r3);
}

// Every key goes to a member of the group the configuration deals its shard to.
static void
test_core_routing_keys_follow_shards (void)
{
    zkv_routing_t *r = s_cc_routing (3, false);
    zkv_ccore_t core;
    s_cc_with_routing (&core, r);
    for (int i = 0; i < 64; i++) {
        char key[16];
        snprintf (key, sizeof key, "key-%d", i);
        uint64_t g = zkv_routing_group_of (r, (const uint8_t *)key, strlen (key));
        zkv_cc_action_t act = s_cc_begin (&core, 0, key);
        CHECK (act.kind == ZKV_CC_SEND);
        CHECK_EQ_U64 (core.group, g);
        CHECK (s_cc_member (r, g, act.node));
        act = zkv_ccore_sent (&core, 0, true);
        act = zkv_ccore_timer (&core, 5000); // no answer: nothing learned
        CHECK (act.kind == ZKV_CC_DONE);
    }
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
}

// A successful reply records its group's leader (the hint, else the node that answered): the
// next request for a key of that group goes there, one of another group does not.
static void
test_core_routing_learns_group_leader (void)
{
    zkv_routing_t *r = s_cc_routing (3, false);
    zkv_ccore_t core;
    s_cc_with_routing (&core, r);
    zkv_cc_action_t act = s_cc_begin (&core, 0, s_cc_key (r, 2, 0));
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r, 2, act.node));
    act = s_cc_answer (&core, 0, act.node, 0, 4); // ok, node 4 leads
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    for (int i = 1; i < 4; i++) {
        act = s_cc_begin (&core, 0, s_cc_key (r, 2, i));
        CHECK (act.kind == ZKV_CC_SEND);
        CHECK_EQ_U64 (act.node, 3); // node 4
        act = s_cc_answer (&core, 0, 3, 0, 0);
        CHECK (act.kind == ZKV_CC_DONE);
    }
    // Not the leader any more, node 5 is: followed, and recorded when it answers.
    act = s_cc_begin (&core, 0, s_cc_key (r, 2, 4));
    CHECK (act.kind == ZKV_CC_SEND && act.node == 3);
    act = s_cc_answer (&core, 0, 3, ZKV_ENOTLEADER_VALUE, 5);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 4);
    act = s_cc_answer (&core, 0, 4, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE);
    act = s_cc_begin (&core, 0, s_cc_key (r, 2, 5));
    CHECK (act.kind == ZKV_CC_SEND && act.node == 4);
    act = s_cc_answer (&core, 0, 4, 0, 0);
    // Group 1's requests are not sent to group 2's leader.
    act = s_cc_begin (&core, 0, s_cc_key (r, 1, 0));
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK (s_cc_member (r, 1, act.node));
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
}

// "Wrong group": the configuration is fetched from the node that said so, and the request is
// sent again, with the same seq, where the new configuration routes it.
static void
test_core_routing_wrong_group_refetches (void)
{
    zkv_routing_t *r = s_cc_routing (3, false), *r2 = s_cc_routing (4, true);
    zkv_ccore_t core;
    s_cc_with_routing (&core, r);
    const char *key = s_cc_key (r, 2, 0); // group 1's in r2
    zkv_cc_action_t act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r, 2, act.node));
    uint64_t seq = core.seq;
    // The first node is silent; the next one says "wrong group": the fetch goes to the latter.
    act = zkv_ccore_sent (&core, 0, true);
    act = zkv_ccore_timer (&core, act.wake_at);
    CHECK (act.kind == ZKV_CC_SEND);
    size_t said = act.node;
    act = s_cc_answer (&core, 100, said, ZKV_EWRONGGROUP_VALUE, 0);
    CHECK (act.kind == ZKV_CC_FETCH);
    CHECK_EQ_U64 (act.node, said);
    CHECK_EQ_U64 (core.seq, seq);
    act = s_cc_config (&core, 101, said, r2);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK (s_cc_member (r2, 1, act.node));
    CHECK_EQ_U64 (core.seq, seq);
    CHECK_EQ_U64 (core.group, 1);
    CHECK (core.routing->num == 4);
    CHECK_EQ_U64 (core.fetches, 2);
    act = s_cc_answer (&core, 101, act.node, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    CHECK_EQ_U64 (core.seq, seq);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
    zkv_routing_destroy (&r2);
}

// A config_reply that is no configuration (or an older one than held) is ignored: the routing
// is kept and the request is sent by it.
static void
test_core_routing_garbage_config_ignored (void)
{
    zkv_routing_t *r = s_cc_routing (3, false), *r2 = s_cc_routing (4, true);
    zkv_ccore_t core;
    s_cc_with_routing (&core, r);
    zkv_ccore_saw_config (&core, 4);
    const char *key = s_cc_key (r, 2, 0);
    zkv_cc_action_t act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_FETCH);
    size_t asked = act.node;
    act = zkv_ccore_sent (&core, 0, true);
    zkv_config_reply_t m = {0};
    zkv_routing_to_reply (r2, &m);
    m.group_sizes.count--; // counts disagree
    act = zkv_ccore_config (&core, 0, asked, &m);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK (s_cc_member (r, 2, act.node)); // routed by the configuration held
    CHECK (core.routing && core.routing->num == 3);
    CHECK_EQ_U64 (core.routing->shard_group[0], r->shard_group[0]);
    CHECK_EQ_U64 (core.fetches, 1);
    act = s_cc_answer (&core, 0, act.node, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);

    // An older configuration than the one held is not taken either.
    zkv_routing_t *old = s_cc_routing (2, true);
    act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = s_cc_config (&core, 0, act.node, old);
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r, 2, act.node));
    CHECK (core.routing->num == 3);
    zkv_routing_destroy (&old);
    act = zkv_ccore_sent (&core, 0, true);
    act = zkv_ccore_timer (&core, 5000);
    CHECK (act.kind == ZKV_CC_DONE);

    // Not fetching, or from no node: a config_reply changes nothing.
    zkv_routing_to_reply (r2, &m);
    act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 0, true);
    int64_t wake = act.wake_at;
    act = zkv_ccore_config (&core, 0, 6, &m);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == wake);
    CHECK (core.routing->num == 3);
    act = zkv_ccore_timer (&core, wake); // no configuration in time: sent by the one held
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r, 2, act.node));
    act = zkv_ccore_sent (&core, wake, true);
    act = zkv_ccore_config (&core, wake, 0, &m);
    CHECK (act.kind == ZKV_CC_WAIT);
    CHECK (core.routing->num == 3);
    zkv_ccore_fini (&core);

    // Garbage before any configuration: sent to the node last heard to lead.
    zkv_ccore_init (&core, s_cc_ids, 6, 42, 100);
    zkv_ccore_saw_log_ms (&core, 1000); // it knows a time: its first write goes at once
    zkv_ccore_saw_config (&core, 2);
    act = s_cc_begin (&core, 0, key);
    CHECK (act.kind == ZKV_CC_FETCH && act.node == 0);
    act = zkv_ccore_sent (&core, 0, true);
    zkv_routing_to_reply (r2, &m);
    m.num = 0;
    act = zkv_ccore_config (&core, 0, 0, &m);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 0);
    CHECK (core.routing == NULL);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
    zkv_routing_destroy (&r2);
}

// No configuration within an attempt: the request is sent anyway (to the leader, which
// forwards); a configuration too late, after the deadline, ends the request as timed out.
static void
test_core_routing_fetch_timeout_sends (void)
{
    zkv_routing_t *r = s_cc_routing (3, false);
    zkv_ccore_t core;
    zkv_ccore_init (&core, s_cc_ids, 6, 42, 100);
    zkv_ccore_saw_log_ms (&core, 1000); // it knows a time: its first write goes at once
    zkv_ccore_saw_config (&core, 1);
    zkv_cc_action_t act = s_cc_begin (&core, 0, "k");
    CHECK (act.kind == ZKV_CC_FETCH && act.node == 0);
    uint64_t seq = core.seq;
    act = zkv_ccore_sent (&core, 0, true);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == 100);
    act = zkv_ccore_timer (&core, 100);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (act.node, 0);
    CHECK (!core.fetching);
    CHECK_EQ_U64 (core.seq, seq);
    act = s_cc_answer (&core, 120, 0, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);

    // With a configuration held: sent by it.
    zkv_ccore_fini (&core);
    s_cc_with_routing (&core, r);
    zkv_ccore_saw_config (&core, 9);
    act = s_cc_begin (&core, 0, s_cc_key (r, 2, 0));
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 0, true);
    act = zkv_ccore_timer (&core, act.wake_at);
    CHECK (act.kind == ZKV_CC_SEND && s_cc_member (r, 2, act.node));

    // The deadline comes while fetching: timed out, whether the timer or a late reply says so.
    act = zkv_ccore_sent (&core, 100, true);
    act = zkv_ccore_timer (&core, 5000);
    CHECK (act.kind == ZKV_CC_DONE);
    act = zkv_ccore_begin_key (&core, 0, 50, false, (const uint8_t *)"k", 1);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 0, true);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == 50);
    act = zkv_ccore_timer (&core, 50);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_ETIMEOUT);
    act = zkv_ccore_begin_key (&core, 0, 50, false, (const uint8_t *)"k", 1);
    CHECK (act.kind == ZKV_CC_FETCH);
    act = zkv_ccore_sent (&core, 0, true);
    zkv_config_reply_t m = {0};
    zkv_routing_to_reply (r, &m);
    act = zkv_ccore_config (&core, 60, act.node, &m);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_ETIMEOUT);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
}

// A save's chunk arrives while another node's connection keeps failing: the monitor events of
// that connection (not a node's answer) are drained while the client waits, and the chunk is
// read whole. A save once read such an event as a message of a node past the last one.
static void
test_save_chunk_amid_connection_events (void)
{
    s_fix_t fix;
    memset (&fix, 0, sizeof fix);
    snprintf (fix.endpoint[0], sizeof fix.endpoint[0], "inproc://fake-save");
    fix.fake[0] = zactor_new (s_fake_actor, fix.endpoint[0]);
    // Node 2: nobody listens; its connection is refused and retried every 100 ms meanwhile.
    const char *eps[] = {fix.endpoint[0], "tcp://127.0.0.1:1"};
    fix.client = zkv_client_new (eps, 2);
    CHECK (fix.client);
    zkv_client_save_chunk_t ch;
    int64_t start = zclock_mono ();
    int rc = zkv_client_save_chunk (fix.client, 1, 0, 0, 0, 1024, 3000, &ch);
    CHECK (rc == 0);
    CHECK (zclock_mono () - start >= 250); // it waited for the fake's delayed answer
    CHECK (ch.save_id == 5 && ch.index == 9 && ch.term == 2 && ch.done);
    CHECK (ch.len == 3 && memcmp (ch.data, "abc", 3) == 0);
    CHECK (streq (ch.machine, "kv"));
    zkv_client_save_chunk_free (&ch);
    s_fix_teardown (&fix);
}

// A node that keeps answering "wrong group" while the configuration it serves does not change
// (a shard no group serves, or a forwarding node whose routing disagrees with the leader's):
// after a round of such answers the core pauses, as it does after "not the leader" hints
// (test_core_hint_ping_pong_pauses), instead of fetching and resending at network speed.
static void
test_core_routing_wrong_group_loop_pauses (void)
{
    zkv_routing_t *r = s_cc_routing (3, false);
    r->shard_group[zkv_routing_shard_of (r, (const uint8_t *)"k", 1)] = 0; // nobody serves "k"
    zkv_ccore_t core;
    s_cc_with_routing (&core, r);
    zkv_cc_action_t act = s_cc_begin (&core, 0, "k");
    CHECK (act.kind == ZKV_CC_SEND);
    int rounds = 0;
    for (; rounds < 50 && act.kind == ZKV_CC_SEND; rounds++) {
        act = s_cc_answer (&core, 0, act.node, ZKV_EWRONGGROUP_VALUE, 0);
        if (act.kind == ZKV_CC_FETCH)
            act = s_cc_config (&core, 0, act.node, r); // the same configuration again
    }
    bool paused = act.kind == ZKV_CC_WAIT && act.wake_at > 0;
    if (!paused)
        fprintf (stderr, "%d rounds of wrong group / fetch / resend at time 0\n", rounds);
    zkv_ccore_fini (&core);
    zkv_routing_destroy (&r);
    CHECK (paused);
    CHECK (rounds <= 7);
}

// clang-format off
ZKV_TEST_MAIN (
    TEST (test_put_get_numbers_requests)
    TEST (test_client_ids_differ)
    TEST (test_retry_after_silence_keeps_seq)
    TEST (test_follows_leader_hint)
    TEST (test_silence_is_timeout_unknown_outcome)
    TEST (test_late_and_duplicate_replies_ignored)
    TEST (test_stale_seq_and_foreign_replies_ignored)
    TEST (test_oversized_refused_locally)
    TEST (test_server_errors)
    TEST (test_status)
    TEST (test_save_chunk_amid_connection_events)
    TEST (test_unreachable)
    TEST (test_no_quorum_refused_said_once)
    TEST (test_session_t0_from_replies)
    TEST (test_session_expired_first_send_resent)
    TEST (test_session_expired_retry_unknown)
    TEST (test_core_session_expired)
    TEST (test_core_first_write_learns_log_time)
    TEST (test_core_hint_ping_pong_pauses)
    TEST (test_core_routing_none_goes_to_leader)
    TEST (test_core_routing_fetch_when_newer)
    TEST (test_core_routing_refetch_when_answer_names_newer)
    TEST (test_core_routing_keys_follow_shards)
    TEST (test_core_routing_learns_group_leader)
    TEST (test_core_routing_wrong_group_refetches)
    TEST (test_core_routing_garbage_config_ignored)
    TEST (test_core_routing_fetch_timeout_sends)
    TEST (test_core_routing_wrong_group_loop_pauses))
// clang-format on
