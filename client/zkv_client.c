// zkv_client: the I/O shell around zkv_client_core: one DEALER per node, msgpack requests, and a
// socket monitor per DEALER whose events tell the core what each connection does.
#include "zkv_client.h"
#include "zkv_shard.h"

#include "zkv_client_core.h"
#include "zkv_msg.h"
#include "zkv_routing.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/random.h>

// The public condition kinds are the wire's.
_Static_assert (ZKV_CLIENT_IF_VALUE == ZKV_COND_VALUE && ZKV_CLIENT_IF_REVISION == ZKV_COND_REVISION,
                "zkv_client.h's conditions must spell ZKV_COND_*");

struct _zkv_client_t {
    size_t n;              // number of nodes
    char **endpoints;      // client endpoint of each node (owned copies)
    zsock_t **socks;       // one DEALER per node, in the same order
    zsock_t **monitors;    // the PAIR receiving each DEALER's socket monitor events
    zmq_pollitem_t *items; // poll set: socks, then monitors (2n items)
    zkv_ccore_t core;      // the retry decisions, leader cache and seq
    size_t max_key;        // largest key accepted
    size_t max_value;      // largest value accepted
    uint64_t nonce;        // last status_request nonce
    size_t save_node;      // the node that answered the last save chunk (zkv_client_save_chunk)
    char error[512];       // zkv_client_last_error
};

static void
s_error (zkv_client_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
}

// The client id comes from the OS: ids of clients in different processes must not collide, and
// this is the edge, where randomness is allowed.
static uint64_t
s_random_id (void)
{
    uint64_t id = 0;
    while (id == 0)
        if (getrandom (&id, sizeof id, 0) != (ssize_t)sizeof id) {
            // No getrandom (old kernel): mix the clock and pid, still unique enough per process.
            id = (uint64_t)zclock_usecs () * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid ();
        }
    return id;
}

// The connection events the core learns from (zkv_ccore_link).
#define S_MONITOR_EVENTS                                                                           \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED | \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                        \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

// Starts sock's socket monitor on an inproc endpoint unique to this client (its first id) and
// node, and returns the PAIR that receives its events; NULL on failure.
static zsock_t *
s_monitor (zsock_t *sock, uint64_t client_id, size_t i)
{
    char endpoint[96];
    snprintf (endpoint, sizeof endpoint, "inproc://zkv-client-monitor-%016" PRIx64 "-%zu",
              client_id, i);
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint, S_MONITOR_EVENTS) != 0)
        return NULL;
    zsock_t *pair = zsock_new (ZMQ_PAIR);
    if (pair && zsock_connect (pair, "%s", endpoint) != 0)
        zsock_destroy (&pair);
    return pair;
}

// What a monitor event says of a connection, in the core's terms (0: nothing it uses). A CLOSED
// event comes from a connect attempt that failed (an open connection ends DISCONNECTED).
static zkv_cc_link_t
s_link_event (uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        return ZKV_CC_LINK_CONNECTED;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return ZKV_CC_LINK_UP;
    case ZMQ_EVENT_DISCONNECTED:
        return ZKV_CC_LINK_LOST;
    case ZMQ_EVENT_CLOSED:
        return ZKV_CC_LINK_REFUSED;
    case ZMQ_EVENT_CONNECT_RETRIED:
        return ZKV_CC_LINK_RETRY;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return ZKV_CC_LINK_REJECTED;
    default:
        return (zkv_cc_link_t)0;
    }
}

// Feeds the core every monitor event waiting for node i; returns the core's last action (act
// when there was none).
static zkv_cc_action_t
s_monitor_drain (zkv_client_t *self, size_t i, zkv_cc_action_t act)
{
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait (self->monitors[i]))) {
        // Frame 1: the event (16 bits) and a value (32 bits), host order; frame 2: the address.
        zframe_t *head = zmsg_first (msg);
        uint16_t event = 0;
        if (head && zframe_size (head) >= 6)
            memcpy (&event, zframe_data (head), sizeof event);
        zmsg_destroy (&msg);
        zkv_cc_link_t link = s_link_event (event);
        if (!link)
            continue;
        zkv_cc_action_t next = zkv_ccore_link (&self->core, zclock_mono (), i, link);
        if (act.kind != ZKV_CC_DONE)
            act = next; // a request that ended stays ended; later events only update the links
    }
    return act;
}

// Brings the core up to date with every node's connection (between requests).
static void
s_monitors_drain (zkv_client_t *self)
{
    zkv_cc_action_t none = {.kind = ZKV_CC_WAIT};
    for (size_t i = 0; i < self->n; i++)
        s_monitor_drain (self, i, none);
}

// A client of the nodes at endpoints; under CURVE (cert not NULL) each connection authenticates
// with cert and knows the node's key (server_keys[i], Z85).
static zkv_client_t *
s_new (const uint64_t *ids, const char *const *endpoints, const char *const *server_keys,
       zcert_t *cert, size_t n)
{
    if (n == 0 || !ids || !endpoints)
        return NULL;
    zkv_client_t *self = zmalloc (sizeof *self);
    self->n = n;
    self->endpoints = zmalloc (n * sizeof *self->endpoints);
    self->socks = zmalloc (n * sizeof *self->socks);
    self->monitors = zmalloc (n * sizeof *self->monitors);
    self->items = zmalloc (2 * n * sizeof *self->items);
    self->max_key = ZKV_CLIENT_MAX_KEY_BYTES;
    self->max_value = ZKV_CLIENT_MAX_VALUE_BYTES;
    zkv_ccore_init (&self->core, ids, n, s_random_id (), ZKV_CLIENT_ATTEMPT_MS);
    for (size_t i = 0; i < n; i++) {
        char endpoint[ZKV_CLIENT_MAX_ENDPOINT + 8];
        if (!endpoints[i] || ids[i] == 0 ||
            zkv_client_endpoint (endpoints[i], endpoint, sizeof endpoint, NULL, 0) != 0)
            goto fail;
        self->endpoints[i] = strdup (endpoint);
        zsock_t *sock = zsock_new (ZMQ_DEALER);
        if (!sock || !self->endpoints[i])
            abort ();
        self->socks[i] = sock;
        // A destroyed client must not hang on requests to a dead node; requests are only queued
        // on live connections, so a dead node fails a send at once and the next one is tried.
        zsock_set_linger (sock, 0);
        zsock_set_immediate (sock, 1);
        zsock_set_ipv6 (sock, 1); // tcp://[::1]:port too (IPv4 addresses still work)
        if (cert) {
            if (!server_keys || !server_keys[i])
                goto fail;
            zcert_apply (cert, sock);
            zsock_set_curve_serverkey (sock, server_keys[i]);
        }
        // The monitor's PAIR is connected before the DEALER connects: no event is missed.
        self->monitors[i] = s_monitor (sock, self->core.client_id, i);
        if (!self->monitors[i] || zsock_connect (sock, "%s", self->endpoints[i]) != 0)
            goto fail;
        self->items[i] = (zmq_pollitem_t){.socket = zsock_resolve (sock), .events = ZMQ_POLLIN};
        self->items[n + i] =
            (zmq_pollitem_t){.socket = zsock_resolve (self->monitors[i]), .events = ZMQ_POLLIN};
    }
    return self;
fail:
    zkv_client_destroy (&self);
    return NULL;
}

zkv_client_t *
zkv_client_new_nodes (const uint64_t *ids, const char *const *endpoints, size_t n)
{
    return s_new (ids, endpoints, NULL, NULL, n);
}

// Loads the certificate at path, with its secret key (path_secret); NULL with a message.
static zcert_t *
s_load_cert (const char *path, char *err, size_t errlen)
{
    char *secret = zsys_sprintf ("%s_secret", path);
    zcert_t *cert = secret && zsys_file_exists (secret) ? zcert_load (path) : NULL;
    if (!cert && err && errlen)
        snprintf (err, errlen,
                  "cannot read the client key %s (a certificate `zkv keygen %s` makes, with its "
                  "secret key in %s_secret)",
                  path, path, path);
    zstr_free (&secret);
    return cert;
}

zkv_client_t *
zkv_client_new_curve (const uint64_t *ids, const char *const *endpoints,
                      const char *const *server_keys, size_t n, const char *key_file, char *err,
                      size_t errlen)
{
    if (!key_file) {
        if (err && errlen)
            snprintf (err, errlen, "no client key: give a key file (--key FILE or $ZKV_KEY)");
        return NULL;
    }
    zcert_t *cert = s_load_cert (key_file, err, errlen);
    if (!cert)
        return NULL;
    zkv_client_t *self = s_new (ids, endpoints, server_keys, cert, n);
    zcert_destroy (&cert);
    if (!self && err && errlen)
        snprintf (err, errlen, "cannot connect to the nodes' client endpoints");
    return self;
}

zkv_client_t *
zkv_client_new (const char *const *endpoints, size_t n)
{
    if (n == 0)
        return NULL;
    uint64_t *ids = zmalloc (n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = i + 1;
    zkv_client_t *self = zkv_client_new_nodes (ids, endpoints, n);
    free (ids);
    return self;
}

void
zkv_client_destroy (zkv_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zkv_client_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        if (self->socks[i] && self->monitors[i])
            zmq_socket_monitor (zsock_resolve (self->socks[i]), NULL, 0); // stops the monitor
        zsock_destroy (&self->socks[i]);
        zsock_destroy (&self->monitors[i]);
        free (self->endpoints[i]);
    }
    free (self->socks);
    free (self->monitors);
    free (self->endpoints);
    free (self->items);
    zkv_ccore_fini (&self->core);
    free (self);
    *self_p = NULL;
}

void
zkv_client_set_limits (zkv_client_t *self, size_t max_key, size_t max_value)
{
    self->max_key = max_key;
    self->max_value = max_value;
}

// Sends one encoded message to node i without blocking; false if it is not connected.
static bool
s_send (zkv_client_t *self, size_t i, const zkv_msg_t *msg)
{
    uint8_t *buf;
    size_t len;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return false;
    int rc = zmq_send (zsock_resolve (self->socks[i]), buf, len, ZMQ_DONTWAIT);
    free (buf);
    return rc >= 0;
}

// Receives one message from node i without blocking and decodes it; the payload is the last
// frame (a server may put an empty delimiter before it). 0, 1 if nothing waits, or a negative
// code (bad input).
static int
s_recv (zkv_client_t *self, size_t i, zkv_msg_t *msg)
{
    zmsg_t *zmsg = zmsg_recv_nowait (self->socks[i]);
    if (!zmsg)
        return 1; // nothing waiting
    zframe_t *last = zmsg_last (zmsg);
    int rc = last ? zkv_msg_decode (zframe_data (last), zframe_size (last), msg) : ZKV_EPROTO;
    zmsg_destroy (&zmsg);
    return rc;
}

// Waits up to wait_ms for input on any node or monitor; the index of a node with input (i), of
// a monitor with events (n + i), or 2n (none).
static size_t
s_poll (zkv_client_t *self, int64_t wait_ms)
{
    size_t items = 2 * self->n;
    for (size_t i = 0; i < items; i++)
        self->items[i].revents = 0;
    int rc = zmq_poll (self->items, (int)items, wait_ms < 0 ? 0 : (long)wait_ms);
    if (rc <= 0)
        return items;
    for (size_t i = 0; i < items; i++)
        if (self->items[i].revents & ZMQ_POLLIN)
            return i;
    return items;
}

// The last error answer to the current request, for the caller's error text.
typedef struct {
    uint64_t node;    // id of the node that answered (0: no error answer yet)
    uint64_t status;  // its status (positive)
    uint64_t leader;  // the leader it named (0: none)
    char detail[256]; // its error text, when it says more than the status's own message
} s_answer_t;

static void
s_answer_keep (s_answer_t *answer, uint64_t node, const zkv_client_reply_t *rep)
{
    const char *own =
        zkv_strerror (rep->status < ZKV_ERROR_COUNT_ ? -(int)rep->status : ZKV_EPROTO);
    answer->node = node;
    answer->status = rep->status;
    answer->leader = rep->leader;
    answer->detail[0] = 0;
    // A server's text that only repeats the status ("not the leader") is said once.
    if (rep->error.len && rep->error.data &&
        !(rep->error.len == strlen (own) && memcmp (rep->error.data, own, rep->error.len) == 0))
        snprintf (answer->detail, sizeof answer->detail, "%.*s", (int)rep->error.len,
                  (const char *)rep->error.data);
}

// "node 1: not the leader (it knows no leader)"; without the status's message when the call's
// result is that status already ("node 1 (it knows no leader)").
static void
s_answer_text (const s_answer_t *answer, int rc, char *buf, size_t len)
{
    int status = answer->status < ZKV_ERROR_COUNT_ ? -(int)answer->status : ZKV_EPROTO;
    bool said = rc == status;
    int n =
        snprintf (buf, len, "node %" PRIu64 "%s%s%s%s", answer->node, said ? "" : ": ",
                  said ? "" : zkv_strerror (status), answer->detail[0] ? ": " : "", answer->detail);
    size_t used = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
    if (answer->status == ZKV_ENOTLEADER_VALUE || answer->status == ZKV_ELEADERLOST_VALUE) {
        if (answer->leader == 0)
            snprintf (buf + used, len - used, " (it knows no leader)");
        else if (answer->leader != answer->node)
            snprintf (buf + used, len - used, " (it names node %" PRIu64 ")", answer->leader);
    }
}

// "tcp://a, tcp://b: connection refused; tcp://c: handshake failed (...)": what each node's
// connection does, for a request that could not be sent.
static void
s_unreachable_text (zkv_client_t *self, char *buf, size_t len)
{
    static const struct {
        zkv_cc_node_t state;
        const char *says;
    } reasons[] = {
        {ZKV_CC_NODE_REFUSED, "connection refused"},
        {ZKV_CC_NODE_REJECTED,
         "connection closed in its handshake (a CURVE key that does not match, a client key "
         "the cluster does not allow, or its connection limit)"},
        {ZKV_CC_NODE_UNRESOLVED, "no connection could start (does the host name resolve?)"},
    };
    size_t used = 0;
    buf[0] = 0;
    for (size_t r = 0; r < sizeof reasons / sizeof reasons[0]; r++) {
        size_t listed = 0;
        for (size_t i = 0; i < self->n && used < len; i++) {
            if (self->core.links[i] != reasons[r].state)
                continue;
            int n = snprintf (buf + used, len - used, "%s%s",
                              listed ? ", "
                              : used ? "; "
                                     : "",
                              self->endpoints[i]);
            used += n < 0 ? 0 : (size_t)n;
            listed++;
        }
        if (listed && used < len) {
            int n = snprintf (buf + used, len - used, ": %s", reasons[r].says);
            used += n < 0 ? 0 : (size_t)n;
        }
    }
}

static void
s_describe_failure (zkv_client_t *self, int rc, int timeout_ms, const s_answer_t *answer)
{
    const char *unknown = self->core.read_only ? "" : " (outcome unknown: it may take effect)";
    const char *not_sent = self->core.read_only ? "not sent" : "not sent: not applied";
    char text[400] = "";
    if (answer->node)
        s_answer_text (answer, rc, text, sizeof text);
    switch (self->core.why) {
    case ZKV_CC_WHY_UNREACHABLE:
        s_unreachable_text (self, text, sizeof text);
        s_error (self, "%s (%s)", text, not_sent);
        break;
    case ZKV_CC_WHY_NOT_CONNECTED:
        s_error (self, "none of the %zu nodes connected within %d ms (%s)", self->n, timeout_ms,
                 not_sent);
        break;
    case ZKV_CC_WHY_NO_REPLY:
        s_error (self, "no reply from any of %zu nodes within %d ms%s", self->n, timeout_ms,
                 unknown);
        break;
    case ZKV_CC_WHY_SERVER_ERROR:
        s_error (self, "gave up after %d ms; last answer: %s%s", timeout_ms, text,
                 rc != ZKV_ETIMEOUT ? ""
                 : self->core.read_only
                     ? ""
                     : " (outcome unknown: an attempt may have been proposed; it may take effect)");
        break;
    case ZKV_CC_WHY_ALL_REFUSED:
        s_error (self,
                 "gave up after %d ms, not applied: every attempt was refused before it was "
                 "proposed; last answer: %s",
                 timeout_ms, text);
        break;
    case ZKV_CC_WHY_SESSION:
        s_error (self,
                 "session expired while the request was retried (outcome unknown: it may have "
                 "been applied); the client goes on under a new session");
        break;
    case ZKV_CC_WHY_SERVER_REFUSED:
        s_error (self, "refused: %s", text);
        break;
    case ZKV_CC_WHY_NONE:
        s_error (self, "%s", zkv_strerror (rc));
        break;
    }
}

// Runs one request to completion: sends, retries with the same (client id, seq), matches replies.
// What a request carries beyond its key and value, and what its answer brings back.
typedef struct {
    const zkv_client_cond_t *cond; // a write's condition (NULL: none)
    void **value_p;                // a read's value (heap, NUL-terminated), NULL: not wanted
    size_t *len_p;                 // ... its length
    uint64_t revision;             // the answer's revision
} s_call_t;

static int
s_request (zkv_client_t *self, uint64_t op, const void *key, size_t key_len, const void *value,
           size_t value_len, int timeout_ms, s_call_t *call)
{
    self->error[0] = 0;
    if ((!key && key_len) || (!value && value_len) || timeout_ms <= 0) {
        s_error (self, "invalid argument (key, value or timeout)");
        return ZKV_EINVAL;
    }
    bool kv_op = op <= ZKV_OP_APPEND || op == ZKV_OP_DELETE;
    if (kv_op && key_len == 0) {
        s_error (self, "empty key: keys are 1 to %zu bytes", self->max_key);
        return ZKV_EINVAL;
    }
    const zkv_client_cond_t *cond = call ? call->cond : NULL;
    if (cond && (cond->kind < ZKV_CLIENT_IF_NONE || cond->kind > ZKV_CLIENT_IF_REVISION ||
                 (!cond->value && cond->value_len))) {
        s_error (self, "invalid condition");
        return ZKV_EINVAL;
    }
    if (cond && cond->kind == ZKV_CLIENT_IF_VALUE && cond->value_len > self->max_value) {
        s_error (self, "expected value of %zu bytes is larger than the limit of %zu",
                 cond->value_len, self->max_value);
        return ZKV_ETOOBIG;
    }
    if (key_len > self->max_key) {
        s_error (self, "key of %zu bytes is larger than the limit of %zu", key_len, self->max_key);
        return ZKV_ETOOBIG;
    }
    if (value_len > self->max_value) {
        s_error (self, "value of %zu bytes is larger than the limit of %zu", value_len,
                 self->max_value);
        return ZKV_ETOOBIG;
    }
    // The request points at the caller's bytes (encode only reads them): no copy of big values.
    zkv_msg_t req = {.type = ZKV_MSG_CLIENT_REQUEST};
    zkv_client_request_t *r = &req.u.client_request;
    r->op = op;
    r->key = (zkv_bytes_t){.data = (uint8_t *)key, .len = key_len};
    r->value = (zkv_bytes_t){.data = (uint8_t *)value, .len = value_len};
    if (cond && cond->kind != ZKV_CLIENT_IF_NONE) {
        r->cond = (uint64_t)cond->kind;
        if (cond->kind == ZKV_CLIENT_IF_VALUE)
            r->expect = (zkv_bytes_t){.data = (uint8_t *)cond->value, .len = cond->value_len};
        else
            r->expect_rev = cond->revision;
    }

    s_answer_t answer = {0};
    s_monitors_drain (self); // what the connections did since the last request
    // A key's request goes to its group; the controller's (any op past append) to any node,
    // which forwards it to group 0's leader.
    bool read_only = op == ZKV_OP_GET || op == ZKV_OP_QUERY;
    zkv_cc_action_t act =
        kv_op ? zkv_ccore_begin_key (&self->core, zclock_mono (), timeout_ms,
                                                   read_only, (const uint8_t *)key, key_len)
                            : zkv_ccore_begin (&self->core, zclock_mono (), timeout_ms, read_only);
    while (act.kind != ZKV_CC_DONE) {
        int64_t now = zclock_mono ();
        if (act.kind == ZKV_CC_SEND) {
            // A session that expired changes the client id and seq mid-request (zkv_client_core.h).
            r->client_id = self->core.client_id;
            r->seq = self->core.seq;
            r->session_t0 = self->core.session_t0;
            r->group = self->core.group; // by the cached configuration (0: the node routes it)
            int64_t left = self->core.deadline - now;
            r->deadline_ms = left > 0 ? (uint64_t)left : 1;
            act = zkv_ccore_sent (&self->core, now, s_send (self, act.node, &req));
            continue;
        }
        if (act.kind == ZKV_CC_FETCH) {
            // The routing configuration (zkv_client_core.h, "Routing").
            zkv_msg_t cq = {.type = ZKV_MSG_CONFIG_REQUEST};
            cq.u.config_request.nonce = ++self->nonce;
            act = zkv_ccore_sent (&self->core, now, s_send (self, act.node, &cq));
            continue;
        }
        size_t from = s_poll (self, act.wake_at - now);
        if (zsys_interrupted) {
            self->core.active = false;
            s_error (self, "interrupted%s",
                     read_only                 ? ""
                     : self->core.request_sent ? " (outcome unknown)"
                                               : " before it was sent (not applied)");
            return ZKV_ETIMEOUT;
        }
        if (from >= self->n) {
            if (from < 2 * self->n)
                act = s_monitor_drain (self, from - self->n, act);
            else if (zclock_mono () >= act.wake_at)
                act = zkv_ccore_timer (&self->core, zclock_mono ());
            continue;
        }
        zkv_msg_t msg;
        if (s_recv (self, from, &msg) != 0)
            continue; // garbage from the network is dropped, never trusted
        if (msg.type == ZKV_MSG_CONFIG_REPLY)
            zkv_ccore_saw_log_ms (&self->core, msg.u.config_reply.log_ms);
        if (msg.type == ZKV_MSG_CONFIG_REPLY && msg.u.config_reply.nonce == self->nonce)
            act = zkv_ccore_config (&self->core, zclock_mono (), from, &msg.u.config_reply);
        if (msg.type == ZKV_MSG_CLIENT_REPLY) {
            const zkv_client_reply_t *rep = &msg.u.client_reply;
            uint64_t seq = self->core.seq, id = self->core.client_id;
            zkv_ccore_saw_config (&self->core, rep->config);
            zkv_ccore_saw_log_ms (&self->core, rep->log_ms);
            act = zkv_ccore_reply (&self->core, zclock_mono (), from, rep->client_id, rep->seq,
                                   rep->status, rep->leader);
            bool ours = rep->client_id == id && rep->seq == seq;
            if (ours && rep->status != 0)
                s_answer_keep (&answer, self->core.ids[from], rep);
            if (act.kind == ZKV_CC_DONE && ours && call) {
                call->revision = rep->revision;
                if (act.rc == 0 && call->value_p) {
                    *call->len_p = rep->value.len;
                    *call->value_p = zmalloc (rep->value.len + 1);
                    if (rep->value.len)
                        memcpy (*call->value_p, rep->value.data, rep->value.len);
                }
            }
        }
        zkv_msg_free (&msg);
    }
    if (act.rc != 0)
        s_describe_failure (self, act.rc, timeout_ms, &answer);
    return act.rc;
}

int
zkv_client_get (zkv_client_t *self, const void *key, size_t key_len, void **value_p, size_t *len_p,
                int timeout_ms)
{
    assert (self);
    if (!value_p || !len_p) {
        s_error (self, "get needs value_p and len_p");
        return ZKV_EINVAL;
    }
    *value_p = NULL;
    *len_p = 0;
    s_call_t call = {.value_p = value_p, .len_p = len_p};
    int rc = s_request (self, ZKV_OP_GET, key, key_len, NULL, 0, timeout_ms, &call);
    if (rc == ZKV_ENOTFOUND)
        s_error (self, "no such key");
    return rc;
}

int
zkv_client_read (zkv_client_t *self, const void *key, size_t key_len, zkv_client_value_t *out,
                 int timeout_ms)
{
    assert (self);
    if (!out) {
        s_error (self, "read needs out");
        return ZKV_EINVAL;
    }
    memset (out, 0, sizeof *out);
    s_call_t call = {.value_p = &out->value, .len_p = &out->len};
    int rc = s_request (self, ZKV_OP_GET, key, key_len, NULL, 0, timeout_ms, &call);
    if (rc == 0) {
        out->found = true;
        out->revision = call.revision;
    } else if (rc == ZKV_ENOTFOUND) {
        self->error[0] = 0; // an answer: the key does not exist
        rc = 0;
    }
    return rc;
}

void
zkv_client_value_free (zkv_client_value_t *value)
{
    if (!value)
        return;
    free (value->value);
    memset (value, 0, sizeof *value);
}

int
zkv_client_write (zkv_client_t *self, int op, const void *key, size_t key_len, const void *value,
                  size_t value_len, const zkv_client_cond_t *cond, uint64_t *revision_p,
                  int timeout_ms)
{
    assert (self);
    if (revision_p)
        *revision_p = 0;
    uint64_t wire = op == ZKV_CLIENT_PUT      ? ZKV_OP_PUT
                    : op == ZKV_CLIENT_APPEND ? ZKV_OP_APPEND
                    : op == ZKV_CLIENT_DELETE ? ZKV_OP_DELETE
                                              : 0;
    if (!wire || (op == ZKV_CLIENT_DELETE && value_len)) {
        self->error[0] = 0;
        s_error (self, wire ? "a delete carries no value" : "unknown write operation %d", op);
        return ZKV_EINVAL;
    }
    s_call_t call = {.cond = cond};
    int rc = s_request (self, wire, key, key_len, value, value_len, timeout_ms, &call);
    if (revision_p && (rc == 0 || rc == ZKV_ECOMPARE))
        *revision_p = call.revision;
    return rc;
}

int
zkv_client_delete (zkv_client_t *self, const void *key, size_t key_len, int timeout_ms)
{
    return zkv_client_write (self, ZKV_CLIENT_DELETE, key, key_len, NULL, 0, NULL, NULL,
                             timeout_ms);
}

int
zkv_client_cas (zkv_client_t *self, const void *key, size_t key_len, const void *expect,
                size_t expect_len, const void *value, size_t value_len, uint64_t *revision_p,
                int timeout_ms)
{
    zkv_client_cond_t cond = {
        .kind = expect ? ZKV_CLIENT_IF_VALUE : ZKV_CLIENT_IF_REVISION,
        .value = expect,
        .value_len = expect ? expect_len : 0};
    return zkv_client_write (self, ZKV_CLIENT_PUT, key, key_len, value, value_len, &cond,
                             revision_p, timeout_ms);
}

int
zkv_client_put (zkv_client_t *self, const void *key, size_t key_len, const void *value,
                size_t value_len, int timeout_ms)
{
    assert (self);
    return s_request (self, ZKV_OP_PUT, key, key_len, value, value_len, timeout_ms, NULL);
}

int
zkv_client_append (zkv_client_t *self, const void *key, size_t key_len, const void *value,
                   size_t value_len, int timeout_ms)
{
    assert (self);
    return s_request (self, ZKV_OP_APPEND, key, key_len, value, value_len, timeout_ms, NULL);
}

void
zkv_client_config_free (zkv_client_config_t *config)
{
    if (!config)
        return;
    free (config->shard_groups);
    free (config->group_ids);
    free (config->group_sizes);
    free (config->members);
    for (size_t i = 0; i < config->n_nodes; i++) {
        free ((char *)config->nodes[i].peer);
        free ((char *)config->nodes[i].client);
        free ((char *)config->nodes[i].key);
    }
    free (config->nodes);
    memset (config, 0, sizeof *config);
}

uint32_t
zkv_client_shard_of (const void *key, size_t key_len, uint32_t nshards)
{
    return nshards ? zkv_shard_of ((const uint8_t *)key, key_len, nshards) : 0;
}

static uint64_t *
s_dup_u64s (const uint64_t *items, size_t n)
{
    uint64_t *copy = zmalloc ((n ? n : 1) * sizeof (uint64_t));
    if (n)
        memcpy (copy, items, n * sizeof (uint64_t));
    return copy;
}

int
zkv_client_ctrl_query (zkv_client_t *self, uint64_t num, zkv_client_config_t *config,
                       int timeout_ms)
{
    assert (self && config);
    memset (config, 0, sizeof *config);
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(num >> (56 - 8 * i));
    void *value = NULL;
    size_t len = 0;
    s_call_t call = {.value_p = &value, .len_p = &len};
    int rc = s_request (self, ZKV_OP_QUERY, key, num == UINT64_MAX ? 0 : 8, NULL, 0, timeout_ms,
                        &call);
    if (rc)
        return rc;
    zkv_msg_t m;
    int err = ZKV_EPROTO;
    zkv_routing_t *r = NULL;
    if (zkv_msg_decode (value, len, &m) == 0 && m.type == ZKV_MSG_CONFIG_REPLY)
        r = zkv_routing_from_reply (&m.u.config_reply, &err);
    zkv_msg_free (&m);
    free (value);
    if (!r) {
        s_error (self, "the controller's answer is not a configuration (%s)", zkv_strerror (err));
        return ZKV_EPROTO;
    }
    config->num = r->num;
    config->nshards = r->nshards;
    config->shard_groups = s_dup_u64s (r->shard_group, r->nshards);
    config->n_groups = r->n_groups;
    config->group_ids = s_dup_u64s (r->group_ids, r->n_groups);
    config->group_sizes = s_dup_u64s (r->group_size, r->n_groups);
    config->members = s_dup_u64s (r->members, r->n_members);
    config->n_nodes = r->n_nodes;
    config->nodes = zmalloc ((r->n_nodes ? r->n_nodes : 1) * sizeof (zkv_client_node_t));
    for (size_t i = 0; i < r->n_nodes; i++)
        config->nodes[i] = (zkv_client_node_t){.id = r->node_ids[i],
                                               .peer = strdup (r->peer_eps[i]),
                                               .client = strdup (r->client_eps[i]),
                                               .key = strdup (r->keys[i])};
    zkv_routing_destroy (&r);
    return 0;
}

// One command of the controller: payload encoded as the request's value; the new number back.
static int
s_ctrl (zkv_client_t *self, uint64_t op, const zkv_msg_t *payload, uint64_t *num_p, int timeout_ms)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (payload, &buf, &len) != 0) {
        s_error (self, "the command does not encode (too many groups or members?)");
        return ZKV_EINVAL;
    }
    void *value = NULL;
    size_t vlen = 0;
    s_call_t call = {.value_p = &value, .len_p = &vlen};
    int rc = s_request (self, op, "ctrl", 4, buf, len, timeout_ms, &call);
    free (buf);
    if (rc == 0 && num_p) {
        *num_p = 0;
        for (size_t i = 0; i < vlen && i < 8; i++)
            *num_p = *num_p << 8 | ((const uint8_t *)value)[i];
    }
    free (value);
    return rc;
}

int
zkv_client_ctrl_join (zkv_client_t *self, size_t n_groups, const uint64_t *group_ids,
                      const uint64_t *group_sizes, const uint64_t *members,
                      const zkv_client_node_t *nodes, size_t n_nodes, uint64_t *num_p,
                      int timeout_ms)
{
    assert (self && (nodes || n_nodes == 0));
    size_t n_members = 0;
    for (size_t i = 0; i < n_groups; i++)
        n_members += (size_t)group_sizes[i];
    // The members' endpoints travel as lines (config_reply's shape), in id order.
    zkv_routing_t *r = zkv_routing_new (1, 1, NULL, NULL, NULL, 0);
    for (size_t i = 0; i < n_nodes; i++)
        if (zkv_routing_set_node (r, nodes[i].id, nodes[i].peer, nodes[i].client, nodes[i].key) !=
            0) {
            zkv_routing_destroy (&r);
            s_error (self,
                     "node %" PRIu64 "'s endpoints or key are not valid (endpoints: at most "
                     "%d printable characters, no spaces; a key: 40 characters of Z85)",
                     nodes[i].id, ZKV_ROUTING_MAX_ENDPOINT);
            return ZKV_EINVAL;
        }
    zkv_msg_t m = {.type = ZKV_MSG_CTRL_JOIN};
    m.u.ctrl_join.group_ids = (zkv_u64s_t){(uint64_t *)group_ids, n_groups};
    m.u.ctrl_join.group_sizes = (zkv_u64s_t){(uint64_t *)group_sizes, n_groups};
    m.u.ctrl_join.members = (zkv_u64s_t){(uint64_t *)members, n_members};
    m.u.ctrl_join.node_ids = (zkv_u64s_t){r->node_ids, r->n_nodes};
    m.u.ctrl_join.peer_endpoints = r->peer_lines;
    m.u.ctrl_join.client_endpoints = r->client_lines;
    m.u.ctrl_join.public_keys = r->key_lines;
    int rc = s_ctrl (self, ZKV_OP_JOIN, &m, num_p, timeout_ms);
    zkv_routing_destroy (&r);
    return rc;
}

int
zkv_client_ctrl_leave (zkv_client_t *self, size_t n_groups, const uint64_t *group_ids,
                       uint64_t *num_p, int timeout_ms)
{
    assert (self);
    zkv_msg_t m = {.type = ZKV_MSG_CTRL_LEAVE};
    m.u.ctrl_leave.group_ids = (zkv_u64s_t){(uint64_t *)group_ids, n_groups};
    return s_ctrl (self, ZKV_OP_LEAVE, &m, num_p, timeout_ms);
}

int
zkv_client_ctrl_move (zkv_client_t *self, uint64_t shard, uint64_t group, uint64_t *num_p,
                      int timeout_ms)
{
    assert (self);
    zkv_msg_t m = {.type = ZKV_MSG_CTRL_MOVE};
    m.u.ctrl_move.shard = shard;
    m.u.ctrl_move.group = group;
    return s_ctrl (self, ZKV_OP_MOVE, &m, num_p, timeout_ms);
}

const char *
zkv_client_last_error (const zkv_client_t *self)
{
    return self->error;
}

const char *
zkv_client_strerror (int rc)
{
    return zkv_strerror (rc);
}

uint64_t
zkv_client_id (const zkv_client_t *self)
{
    return self->core.client_id;
}

uint64_t
zkv_client_last_seq (const zkv_client_t *self)
{
    return self->core.seq;
}

uint64_t
zkv_client_leader (const zkv_client_t *self)
{
    return self->core.ids[self->core.leader];
}

void
zkv_client_set_attempt_timeout (zkv_client_t *self, int attempt_ms)
{
    assert (attempt_ms > 0);
    self->core.attempt_ms = attempt_ms;
}

size_t
zkv_client_max_key (const zkv_client_t *self)
{
    return self->max_key;
}

size_t
zkv_client_max_value (const zkv_client_t *self)
{
    return self->max_value;
}

size_t
zkv_client_node_count (const zkv_client_t *self)
{
    return self->n;
}

uint64_t
zkv_client_node_id (const zkv_client_t *self, size_t index)
{
    assert (index < self->n);
    return self->core.ids[index];
}

const char *
zkv_client_node_endpoint (const zkv_client_t *self, size_t index)
{
    assert (index < self->n);
    return self->endpoints[index];
}

// Copies a status_reply into the public struct; the arrays must be parallel.
static int
s_status_copy (const zkv_status_reply_t *rep, zkv_node_status_t *status)
{
    size_t n = rep->groups.count;
    const zkv_u64s_t *cols[] = {
        &rep->roles,    &rep->terms,        &rep->leaders,          &rep->commits,
        &rep->applieds, &rep->last_indexes, &rep->snapshot_indexes, &rep->log_bytes};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        if (cols[c]->count != n)
            return ZKV_EPROTO;
    status->node = rep->node;
    status->n_groups = n;
    status->groups = zmalloc ((n ? n : 1) * sizeof *status->groups);
    for (size_t g = 0; g < n; g++)
        status->groups[g] = (zkv_group_status_t){
            .group = rep->groups.items[g],
            .role = rep->roles.items[g],
            .term = rep->terms.items[g],
            .leader = rep->leaders.items[g],
            .commit = rep->commits.items[g],
            .applied = rep->applieds.items[g],
            .last_index = rep->last_indexes.items[g],
            .snapshot_index = rep->snapshot_indexes.items[g],
            .log_bytes = rep->log_bytes.items[g],
        };
    // Configurations and shard states came in protocol version 3 (an older node sends none).
    if (rep->configs.count == n)
        for (size_t g = 0; g < n; g++)
            status->groups[g].config = rep->configs.items[g];
    if (rep->data_bytes.count == n)
        for (size_t g = 0; g < n; g++)
            status->groups[g].data_bytes = rep->data_bytes.items[g];
    // Uptime, version and followers' lag came in protocol version 6.
    status->uptime_ms = rep->uptime_ms;
    size_t vlen = rep->version.len < sizeof status->version - 1 ? rep->version.len
                                                                 : sizeof status->version - 1;
    for (size_t i = 0; i < vlen; i++) // printable ASCII only: it is shown as it is
        status->version[i] =
            rep->version.data[i] >= ' ' && rep->version.data[i] < 127 ? (char)rep->version.data[i]
                                                                       : '?';
    status->version[vlen] = 0;
    uint64_t listed = 0;
    bool counts_ok = rep->follower_counts.count == n;
    for (size_t g = 0; counts_ok && g < n; g++) {
        counts_ok = rep->follower_counts.items[g] <= rep->follower_ids.count - listed;
        listed += counts_ok ? rep->follower_counts.items[g] : 0;
    }
    if (counts_ok && listed == rep->follower_ids.count && listed == rep->follower_lags.count &&
        listed) {
        status->followers = zmalloc (2 * listed * sizeof (uint64_t));
        memcpy (status->followers, rep->follower_ids.items, listed * sizeof (uint64_t));
        memcpy (status->followers + listed, rep->follower_lags.items, listed * sizeof (uint64_t));
        for (size_t g = 0, at = 0; g < n; g++) {
            status->groups[g].n_followers = rep->follower_counts.items[g];
            status->groups[g].follower_ids = status->followers + at;
            status->groups[g].follower_lags = status->followers + listed + at;
            at += rep->follower_counts.items[g];
        }
    }
    uint64_t ns = rep->nshards;
    if (ns && ns <= (1u << 20) && rep->shard_states.len == n * ns) {
        status->states = zmalloc (n * ns + 1);
        memcpy (status->states, rep->shard_states.data, n * ns);
        for (size_t g = 0; g < n; g++) {
            status->groups[g].nshards = (uint32_t)ns;
            status->groups[g].shard_states = status->states + g * ns;
        }
    }
    return 0;
}

int
zkv_client_status (zkv_client_t *self, size_t index, int timeout_ms, zkv_node_status_t *status)
{
    assert (self && status && index < self->n);
    memset (status, 0, sizeof *status);
    self->error[0] = 0;
    int64_t deadline = zclock_mono () + (timeout_ms > 0 ? timeout_ms : 0);
    zkv_msg_t req = {.type = ZKV_MSG_STATUS_REQUEST};
    req.u.status_request.nonce = ++self->nonce;
    zmq_pollitem_t item = {.socket = zsock_resolve (self->socks[index])};
    // Wait for the connection (sends only go to connected nodes), then for the matching answer.
    // A node that refuses the connection, or fails its handshake, is not waited for.
    zmq_pollitem_t waits[2] = {
        {.socket = item.socket, .events = ZMQ_POLLOUT},
        {.socket = zsock_resolve (self->monitors[index]), .events = ZMQ_POLLIN}};
    zkv_cc_action_t none = {.kind = ZKV_CC_WAIT};
    while (!s_send (self, index, &req)) {
        s_monitor_drain (self, index, none);
        if (zkv_ccore_unreachable (&self->core, index)) {
            zkv_cc_node_t link = self->core.links[index];
            s_error (self, "node %" PRIu64 " (%s): %s", self->core.ids[index],
                     self->endpoints[index],
                     link == ZKV_CC_NODE_REFUSED    ? "connection refused"
                     : link == ZKV_CC_NODE_REJECTED ? "connection closed in its handshake (keys, "
                                                      "or its connection limit)"
                                                    : "no connection could start (does the host "
                                                      "name resolve?)");
            return ZKV_EUNREACHABLE;
        }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || zsys_interrupted) {
            s_error (self, "node %" PRIu64 " (%s): not connected within %d ms",
                     self->core.ids[index], self->endpoints[index], timeout_ms);
            return ZKV_ETIMEOUT;
        }
        zmq_poll (waits, 2, (long)left);
    }
    item.events = ZMQ_POLLIN;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || zsys_interrupted) {
            s_error (self, "node %" PRIu64 " (%s): no status within %d ms", self->core.ids[index],
                     self->endpoints[index], timeout_ms);
            return ZKV_ETIMEOUT;
        }
        if (zmq_poll (&item, 1, (long)left) <= 0)
            continue;
        zkv_msg_t msg;
        if (s_recv (self, index, &msg) != 0)
            continue;
        int rc = 1;
        if (msg.type == ZKV_MSG_STATUS_REPLY && msg.u.status_reply.nonce == self->nonce) {
            rc = s_status_copy (&msg.u.status_reply, status);
            if (rc != 0)
                s_error (self, "node %" PRIu64 ": malformed status (arrays differ in length)",
                         self->core.ids[index]);
        }
        zkv_msg_free (&msg);
        if (rc <= 0)
            return rc;
    }
}

void
zkv_node_status_free (zkv_node_status_t *status)
{
    if (!status)
        return;
    free (status->groups);
    free (status->states);
    free (status->followers);
    memset (status, 0, sizeof *status);
}

const char *
zkv_client_role_name (uint64_t role)
{
    static const char *names[] = {"follower", "pre-candidate", "candidate", "leader"};
    return role < sizeof names / sizeof names[0] ? names[role] : "unknown";
}

// --- Backups -------------------------------------------------------------------------------------

void
zkv_client_save_chunk_free (zkv_client_save_chunk_t *chunk)
{
    if (!chunk)
        return;
    free (chunk->shard_states);
    free (chunk->data);
    memset (chunk, 0, sizeof *chunk);
}

// Copies a snapshot_reply into the public struct.
static void
s_chunk_copy (const zkv_snapshot_reply_t *r, zkv_client_save_chunk_t *out)
{
    out->node = r->node;
    out->save_id = r->save_id;
    out->index = r->index;
    out->term = r->term;
    size_t ml = r->machine.len < sizeof out->machine - 1 ? r->machine.len : sizeof out->machine - 1;
    if (ml)
        memcpy (out->machine, r->machine.data, ml);
    out->machine[ml] = 0;
    out->config = r->config;
    out->nshards = (uint32_t)r->shard_states.len;
    out->shard_states = zmalloc (r->shard_states.len + 1);
    if (r->shard_states.len)
        memcpy (out->shard_states, r->shard_states.data, r->shard_states.len);
    out->offset = r->offset;
    out->len = r->data.len;
    out->data = zmalloc (r->data.len + 1);
    if (r->data.len)
        memcpy (out->data, r->data.data, r->data.len);
    out->done = r->done;
}

int
zkv_client_save_chunk (zkv_client_t *self, uint64_t group, uint64_t save_id, uint64_t index,
                       uint64_t offset, size_t max_bytes, int timeout_ms,
                       zkv_client_save_chunk_t *out)
{
    assert (self && out);
    memset (out, 0, sizeof *out);
    self->error[0] = 0;
    if (timeout_ms <= 0) {
        s_error (self, "invalid argument (timeout)");
        return ZKV_EINVAL;
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    // An attempt covers a ReadIndex round and a chunk read at the leader: longer than a get's.
    int attempt = self->core.attempt_ms > 2000 ? self->core.attempt_ms : 2000;
    zkv_msg_t req = {.type = ZKV_MSG_SNAPSHOT_REQUEST};
    zkv_snapshot_request_t *q = &req.u.snapshot_request;
    q->group = group;
    q->save_id = save_id;
    q->index = index;
    q->offset = offset;
    q->max_bytes = max_bytes;
    // The node that answered this group last (a save's chunks come from one leader), else the
    // client's cached leader of anything, else the first.
    size_t at = self->save_node < self->n ? self->save_node : 0;
    char last[300] = "";
    while (true) {
        int64_t now = zclock_mono ();
        if (now >= deadline || zsys_interrupted) {
            s_error (self, "group %" PRIu64 ": no chunk within %d ms%s%s", group, timeout_ms,
                     *last ? "; last answer: " : "", last);
            return ZKV_ETIMEOUT;
        }
        q->nonce = ++self->nonce;
        int64_t until = now + attempt < deadline ? now + attempt : deadline;
        q->deadline_ms = (uint64_t)(until - now);
        if (!s_send (self, at, &req)) {
            // Not connected: the next node, after a moment (no spin while none is up).
            at = (at + 1) % self->n;
            zclock_sleep (20);
            continue;
        }
        int status = -1;
        uint64_t leader = 0;
        while (status < 0) {
            int64_t left = until - zclock_mono ();
            if (left <= 0 || zsys_interrupted)
                break;
            size_t from = s_poll (self, left);
            if (from >= self->n) {
                // A connection's event (monitors[from - n]): noted, so the poll does not spin.
                if (from < 2 * self->n)
                    s_monitor_drain (self, from - self->n, (zkv_cc_action_t){.kind = ZKV_CC_WAIT});
                continue;
            }
            zkv_msg_t msg;
            if (s_recv (self, from, &msg) != 0)
                continue;
            if (msg.type == ZKV_MSG_SNAPSHOT_REPLY && msg.u.snapshot_reply.nonce == self->nonce &&
                from == at) {
                const zkv_snapshot_reply_t *r = &msg.u.snapshot_reply;
                status = r->status < ZKV_ERROR_COUNT_ ? (int)r->status : -ZKV_EPROTO;
                leader = r->leader;
                if (status == 0)
                    s_chunk_copy (r, out);
                else
                    snprintf (last, sizeof last, "node %" PRIu64 ": %s%s%.*s",
                              self->core.ids[from], zkv_strerror (-status),
                              r->error.len ? ": " : "", (int)r->error.len,
                              r->error.data ? (const char *)r->error.data : "");
            }
            zkv_msg_free (&msg);
        }
        if (status == 0) {
            self->save_node = at;
            return 0;
        }
        int rc = status > 0 ? -status : ZKV_ETIMEOUT;
        // Refusals the caller must act on: no such save (begin again), not allowed, not valid.
        if (rc == ZKV_ENOTFOUND || rc == ZKV_EDENIED || rc == ZKV_EINVAL || rc == ZKV_EPROTO) {
            s_error (self, "%s", last);
            return rc;
        }
        // Elsewhere: the leader it names, else the next node; "busy", "not ready" and silence
        // are tried again after a moment.
        size_t next = (at + 1) % self->n;
        for (size_t i = 0; rc == ZKV_ENOTLEADER && leader && i < self->n; i++)
            if (self->core.ids[i] == leader)
                next = i;
        if (rc != ZKV_ENOTLEADER || !leader)
            zclock_sleep (50);
        at = next;
    }
}
