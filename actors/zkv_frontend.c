// The frontend actor: a ROUTER bound to the node's client endpoint. It routes each client
// request to the group that serves its key; if this node leads that group it proposes the
// request (Put / Append) or reads it (Get) locally, else it forwards the request to the
// leader over the peer transport and relays the answer (transparent leader forwarding).
//
// Answers come back asynchronously: from the applier once a write is applied (RESULTS) or a
// read served (READ_DONE), from the group when a proposal is refused (FAILED), from a peer's
// frontend for a forwarded request (forward_reply). Requests are kept in one table until then;
// a request whose deadline passes is answered ZKV_ETIMEOUT.
#include "zkv_actors.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// A request without a deadline still leaves the table after this long.
#define S_DEFAULT_DEADLINE_MS 30000
// The longest deadline a client may ask for: a larger one is clamped (a huge deadline would
// keep its entry forever, and now + deadline could overflow).
#define S_MAX_DEADLINE_MS 60000
// At most this many requests wait at once; more are answered ZKV_EBUSY, so neither an outage
// (forwards dropped, clients retrying) nor a hostile client can grow the table without bound.
#define S_MAX_PENDING 65536
// How often expired requests are looked for.
#define S_SWEEP_MS 50

// Where an answer goes.
typedef enum {
    S_TO_CLIENT = 1, // a client of this node: reply on the ROUTER
    S_TO_ORIGIN = 2, // a request another node forwarded here: forward_reply to it
} s_reply_kind_t;

// A request waiting for its answer.
typedef struct {
    s_reply_kind_t kind;  // where the answer goes
    uint8_t rid_len;      // S_TO_CLIENT: length of the client's routing id
    uint8_t rid[255];     // S_TO_CLIENT: the routing id (ZeroMQ's are at most 255 bytes)
    bool delimiter;       // S_TO_CLIENT: the client sent an empty delimiter frame
    uint64_t origin_node; // S_TO_ORIGIN: node to answer
    uint64_t fwd_id;      // S_TO_ORIGIN: its id of the forward
    uint64_t group;       // group the request went to
    uint64_t client_id;   // the request's client id
    uint64_t seq;         // its seq
    uint64_t op;          // its op
    int64_t deadline;     // zclock_mono ms after which it is answered ZKV_ETIMEOUT
    bool proposed;        // a write proposed to a group of this node (fails if it is deposed)
} s_pending_t;

typedef struct {
    zkv_node_t *node;   // the node
    zsock_t *router;    // clients
    zsock_t *in;        // PULL: answers from appliers and groups, forwards from peers
    zsock_t *tx;        // PUSH to the transport
    zsock_t *events;    // PUSH to the event publisher
    zsock_t **groups;   // PUSH to each hosted group, node->groups order
    zhashx_t *pending;  // s_key_t -> s_pending_t
    uint64_t next_id;   // ids for reads and outgoing forwards
    uint64_t max_key;   // largest key accepted
    uint64_t max_value; // largest value accepted
    uint64_t malformed; // client messages that did not decode
    int64_t next_sweep; // zclock_mono ms of the next deadline sweep
} s_frontend_t;

// Where an answer is awaited: a write by (group, client id, seq), a read or a forward by id.
typedef struct {
    uint64_t kind; // 'w', 'r' or 'f'
    uint64_t a, b, c;
} s_key_t;

static void
s_pending_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static size_t
s_key_hash (const void *key)
{
    const s_key_t *k = (const s_key_t *)key;
    uint64_t h = k->kind * 0x9E3779B97F4A7C15ull;
    h = (h ^ k->a) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ k->b) * 0x94D049BB133111EBull;
    h = (h ^ k->c) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 31));
}

static int
s_key_cmp (const void *x, const void *y)
{
    return memcmp (x, y, sizeof (s_key_t));
}

static void *
s_key_dup (const void *key)
{
    s_key_t *copy = (s_key_t *)zmalloc (sizeof *copy);
    *copy = *(const s_key_t *)key;
    return copy;
}

static void
s_key_free (void **key_p)
{
    free (*key_p);
    *key_p = NULL;
}

static s_key_t
s_key_write (uint64_t group, uint64_t client_id, uint64_t seq)
{
    return (s_key_t){'w', group, client_id, seq};
}

static s_key_t
s_key_id (char kind, uint64_t id)
{
    return (s_key_t){(uint64_t)kind, id, 0, 0};
}

static void
s_send_to_node (s_frontend_t *self, uint64_t to, const zkv_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return;
    const void *data[2] = {&to, buf};
    size_t size[2] = {8, len};
    zkv_actors_sendv (zsock_resolve (self->tx), data, size, 2);
    free (buf);
}

static void
s_send_to_client (s_frontend_t *self, const uint8_t *rid, size_t rid_len, bool delimiter,
                  const zkv_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return;
    const void *data[3] = {rid, "", buf};
    size_t size[3] = {rid_len, 0, len};
    if (!delimiter) {
        data[1] = buf;
        size[1] = len;
    }
    // ROUTER drops what it cannot deliver (a gone client, a full queue): never blocks.
    zkv_actors_sendv (zsock_resolve (self->router), data, size, delimiter ? 3 : 2);
    free (buf);
}

static void
s_client_error_event (s_frontend_t *self, const s_pending_t *p, uint64_t status, const char *error)
{
    zkv_msg_t ev = {.type = ZKV_MSG_EVENT_CLIENT_ERROR};
    ev.u.event_client_error.node = self->node->id;
    ev.u.event_client_error.time_ms = (uint64_t)zclock_time ();
    ev.u.event_client_error.group = p->group;
    ev.u.event_client_error.client_id = p->client_id;
    ev.u.event_client_error.seq = p->seq;
    ev.u.event_client_error.op = p->op;
    ev.u.event_client_error.status = status;
    ev.u.event_client_error.error.data = (uint8_t *)error;
    ev.u.event_client_error.error.len = strlen (error);
    zkv_actors_event (self->events, "zkv.client.error", &ev);
}

// Answers one request, wherever it came from. status: 0 or a positive ZKV_E* value.
static void
s_answer (s_frontend_t *self, const s_pending_t *p, uint64_t status, const uint8_t *value,
          size_t value_len, uint64_t leader, const char *error)
{
    if (!error)
        error = status ? zkv_strerror (-(int)status) : "";
    // Errors a client sees in normal operation (redirects) are not events worth publishing.
    if (status && status != (uint64_t)-ZKV_ENOTLEADER)
        s_client_error_event (self, p, status, error);
    zkv_msg_t msg = {0};
    zkv_bytes_t v = {(uint8_t *)value, value_len};
    zkv_bytes_t e = {(uint8_t *)error, strlen (error)};
    if (p->kind == S_TO_CLIENT) {
        msg.type = ZKV_MSG_CLIENT_REPLY;
        zkv_client_reply_t *r = &msg.u.client_reply;
        r->client_id = p->client_id;
        r->seq = p->seq;
        r->status = status;
        r->value = v;
        r->leader = leader;
        r->error = e;
        s_send_to_client (self, p->rid, p->rid_len, p->delimiter, &msg);
    } else {
        msg.type = ZKV_MSG_FORWARD_REPLY;
        zkv_forward_reply_t *r = &msg.u.forward_reply;
        r->group = p->group;
        r->fwd_id = p->fwd_id;
        r->client_id = p->client_id;
        r->seq = p->seq;
        r->status = status;
        r->value = v;
        r->leader = leader;
        r->error = e;
        s_send_to_node (self, p->origin_node, &msg);
    }
}

static s_pending_t *
s_pending_dup (const s_pending_t *p)
{
    s_pending_t *copy = (s_pending_t *)malloc (sizeof *copy);
    if (!copy)
        abort (); // out of memory aborts (STYLE.md)
    *copy = *p;
    return copy;
}

// True if the pending table is full and a new entry (not a retry replacing k's) must be
// refused.
static bool
s_pending_full (s_frontend_t *self, const s_key_t *k)
{
    if (zhashx_size (self->pending) < S_MAX_PENDING)
        return false;
    return !(k && zhashx_lookup (self->pending, k));
}

// Routes one request (a client's or a forwarded one). p says where the answer goes.
static void
s_serve (s_frontend_t *self, s_pending_t *p, const zkv_bytes_t *key, const zkv_bytes_t *value,
         uint64_t deadline_ms)
{
    zkv_node_t *node = self->node;
    int64_t now = zclock_mono ();
    if (deadline_ms == 0)
        deadline_ms = S_DEFAULT_DEADLINE_MS;
    else if (deadline_ms > S_MAX_DEADLINE_MS)
        deadline_ms = S_MAX_DEADLINE_MS;
    p->deadline = now + (int64_t)deadline_ms;
    if (p->op != ZKV_OP_GET && p->op != ZKV_OP_PUT && p->op != ZKV_OP_APPEND) {
        s_answer (self, p, -ZKV_EINVAL, NULL, 0, 0, "unknown op");
        return;
    }
    if (key->len > self->max_key || value->len > self->max_value) {
        s_answer (self, p, -ZKV_ETOOBIG, NULL, 0, 0,
                  key->len > self->max_key ? "key too large" : "value too large");
        return;
    }
    if (p->op == ZKV_OP_GET && value->len) {
        s_answer (self, p, -ZKV_EINVAL, NULL, 0, 0, "a get carries no value");
        return;
    }
    if (key->len == 0) {
        s_answer (self, p, -ZKV_EINVAL, NULL, 0, 0, "empty key");
        return;
    }
    p->group = zkv_node_group_of_key (node, key->data, key->len);
    zkv_groupstat_t gs;
    bool hosted = p->group && zkv_node_status_get (node, p->group, &gs);
    uint64_t leader = hosted ? gs.raft.leader : 0;
    if (hosted && gs.raft.role == ZKV_ROLE_LEADER) {
        int slot = zkv_node_group_slot (node, p->group);
        void *group = zsock_resolve (self->groups[slot]);
        s_key_t k;
        int sent;
        if (p->op == ZKV_OP_GET) {
            if (s_pending_full (self, NULL)) {
                s_answer (self, p, -ZKV_EBUSY, NULL, 0, node->id, "too many requests waiting");
                return;
            }
            uint64_t rid = ++self->next_id;
            k = s_key_id ('r', rid);
            const void *data[3] = {"READ", &rid, key->data};
            size_t size[3] = {4, 8, key->len};
            sent = zkv_actors_sendv (group, data, size, 3);
        } else {
            k = s_key_write (p->group, p->client_id, p->seq);
            if (s_pending_full (self, &k)) {
                s_answer (self, p, -ZKV_EBUSY, NULL, 0, node->id, "too many requests waiting");
                return;
            }
            zkv_msg_t cmd = {.type = ZKV_MSG_KV_COMMAND};
            cmd.u.kv_command.client_id = p->client_id;
            cmd.u.kv_command.seq = p->seq;
            cmd.u.kv_command.op = p->op;
            cmd.u.kv_command.key = *key;
            cmd.u.kv_command.value = *value;
            uint8_t *buf = NULL;
            size_t len = 0;
            int rc = zkv_msg_encode (&cmd, &buf, &len);
            if (rc != 0) {
                s_answer (self, p, (uint64_t)-rc, NULL, 0, 0, NULL);
                return;
            }
            const void *data[2] = {"PROPOSE", buf};
            size_t size[2] = {7, len};
            sent = zkv_actors_sendv (group, data, size, 2);
            free (buf);
        }
        if (sent != 0) {
            s_answer (self, p, -ZKV_EBUSY, NULL, 0, node->id, NULL);
            return;
        }
        // A retry of a request still in flight replaces its predecessor's answer address.
        s_pending_t *waiting = s_pending_dup (p);
        waiting->proposed = p->op != ZKV_OP_GET;
        zhashx_update (self->pending, &k, waiting);
        return;
    }
    // A node outside the group asks one of its members, which serves or answers with the
    // leader hint it has.
    if (!hosted && p->group) {
        const zkv_config_group_t *g = zkv_config_group (node->config, p->group);
        if (g && g->members.count)
            leader = g->members.ids[(p->client_id + p->seq) % g->members.count];
    }
    // A request is forwarded at most once: a forwarded request that finds no leader here is
    // answered with the hint, and the client follows it.
    if (p->kind == S_TO_CLIENT && leader && leader != node->id) {
        if (s_pending_full (self, NULL)) {
            s_answer (self, p, -ZKV_EBUSY, NULL, 0, leader, "too many requests waiting");
            return;
        }
        uint64_t fwd_id = ++self->next_id;
        s_key_t k = s_key_id ('f', fwd_id);
        zhashx_update (self->pending, &k, s_pending_dup (p));
        zkv_msg_t fwd = {.type = ZKV_MSG_FORWARD_REQUEST};
        zkv_forward_request_t *f = &fwd.u.forward_request;
        f->group = p->group;
        f->origin_node = node->id;
        f->fwd_id = fwd_id;
        f->client_id = p->client_id;
        f->seq = p->seq;
        f->op = p->op;
        f->key = *key;
        f->value = *value;
        int64_t left = p->deadline - now;
        f->deadline_ms = left > 0 ? (uint64_t)left : 1;
        s_send_to_node (self, leader, &fwd);
        return;
    }
    s_answer (self, p, -ZKV_ENOTLEADER, NULL, 0, leader, NULL);
}

static void
s_status (s_frontend_t *self, const uint8_t *rid, size_t rid_len, bool delimiter, uint64_t nonce)
{
    zkv_node_t *node = self->node;
    size_t n = node->n_groups;
    uint64_t *cols[9];
    for (int c = 0; c < 9; c++)
        cols[c] = (uint64_t *)zmalloc ((n ? n : 1) * sizeof (uint64_t));
    for (size_t i = 0; i < n; i++) {
        zkv_groupstat_t gs;
        zkv_node_status_get (node, node->groups[i], &gs);
        cols[0][i] = gs.group;
        cols[1][i] = gs.raft.role;
        cols[2][i] = gs.raft.term;
        cols[3][i] = gs.raft.leader;
        cols[4][i] = gs.raft.commit;
        cols[5][i] = gs.kv_applied;
        cols[6][i] = gs.raft.last_index;
        cols[7][i] = gs.raft.snapshot_index;
        cols[8][i] = gs.raft.log_bytes;
    }
    zkv_msg_t msg = {.type = ZKV_MSG_STATUS_REPLY};
    zkv_status_reply_t *r = &msg.u.status_reply;
    r->node = node->id;
    r->nonce = nonce;
    zkv_u64s_t *dst[9] = {&r->groups,   &r->roles,    &r->terms,        &r->leaders,
                          &r->commits,  &r->applieds, &r->last_indexes, &r->snapshot_indexes,
                          &r->log_bytes};
    for (int c = 0; c < 9; c++) {
        dst[c]->items = n ? cols[c] : NULL;
        dst[c]->count = n;
    }
    s_send_to_client (self, rid, rid_len, delimiter, &msg);
    for (int c = 0; c < 9; c++)
        free (cols[c]);
}

// One message from a client: [routing id] [""]? [payload]; frames holds min (n, 3) of its n
// frames (anything but 2, or 3 with an empty second, is malformed).
static void
s_client (s_frontend_t *self, zmq_msg_t *frames, size_t n)
{
    bool delimiter = n == 3 && zmq_msg_size (&frames[1]) == 0;
    zmq_msg_t *payload = &frames[n == 3 ? 2 : 1];
    zkv_msg_t m;
    int rc =
        (n == 2 || delimiter) && zmq_msg_size (&frames[0]) <= 255
            ? zkv_msg_decode ((const uint8_t *)zmq_msg_data (payload), zmq_msg_size (payload), &m)
            : ZKV_EPROTO;
    if (rc == 0 && m.type != ZKV_MSG_CLIENT_REQUEST && m.type != ZKV_MSG_STATUS_REQUEST) {
        zkv_msg_free (&m);
        rc = ZKV_ETYPE;
    }
    if (rc != 0) {
        if (self->malformed++ == 0)
            zsys_warning ("zkvd %" PRIu64 ": dropped a malformed client message (%s); counting "
                          "further ones",
                          self->node->id, zkv_strerror (rc));
        return;
    }
    const uint8_t *rid = (const uint8_t *)zmq_msg_data (&frames[0]);
    size_t rid_len = zmq_msg_size (&frames[0]);
    if (m.type == ZKV_MSG_STATUS_REQUEST)
        s_status (self, rid, rid_len, delimiter, m.u.status_request.nonce);
    else {
        zkv_client_request_t *r = &m.u.client_request;
        s_pending_t p = {.kind = S_TO_CLIENT,
                         .rid_len = (uint8_t)rid_len,
                         .delimiter = delimiter,
                         .client_id = r->client_id,
                         .seq = r->seq,
                         .op = r->op};
        memcpy (p.rid, rid, rid_len);
        s_serve (self, &p, &r->key, &r->value, r->deadline_ms);
    }
    zkv_msg_free (&m);
}

// A forward from a peer's frontend (we lead the group) or its answer (we are the origin).
static void
s_peer (s_frontend_t *self, zmq_msg_t *payload)
{
    zkv_msg_t m;
    if (zkv_msg_decode ((const uint8_t *)zmq_msg_data (payload), zmq_msg_size (payload), &m) != 0)
        return; // the transport validated it
    if (m.type == ZKV_MSG_FORWARD_REQUEST) {
        zkv_forward_request_t *f = &m.u.forward_request;
        if (zkv_config_node (self->node->config, f->origin_node)) {
            s_pending_t p = {.kind = S_TO_ORIGIN,
                             .origin_node = f->origin_node,
                             .fwd_id = f->fwd_id,
                             .client_id = f->client_id,
                             .seq = f->seq,
                             .op = f->op};
            s_serve (self, &p, &f->key, &f->value, f->deadline_ms);
        }
    } else if (m.type == ZKV_MSG_FORWARD_REPLY) {
        zkv_forward_reply_t *f = &m.u.forward_reply;
        s_key_t k = s_key_id ('f', f->fwd_id);
        s_pending_t *p = (s_pending_t *)zhashx_lookup (self->pending, &k);
        if (p && p->client_id == f->client_id && p->seq == f->seq) {
            // The leader already published any error event.
            zkv_msg_t reply = {.type = ZKV_MSG_CLIENT_REPLY};
            zkv_client_reply_t *r = &reply.u.client_reply;
            r->client_id = f->client_id;
            r->seq = f->seq;
            r->status = f->status;
            r->value = f->value;
            r->leader = f->leader;
            r->error = f->error;
            s_send_to_client (self, p->rid, p->rid_len, p->delimiter, &reply);
            zhashx_delete (self->pending, &k);
        }
    }
    zkv_msg_free (&m);
}

// Answers the request waiting under k, if any, and forgets it.
static void
s_answer_key (s_frontend_t *self, const s_key_t *k, uint64_t status, zmq_msg_t *value,
              uint64_t leader)
{
    s_pending_t *p = (s_pending_t *)zhashx_lookup (self->pending, k);
    if (p) {
        s_answer (self, p, status, value ? (const uint8_t *)zmq_msg_data (value) : NULL,
                  value ? zmq_msg_size (value) : 0, leader, NULL);
        zhashx_delete (self->pending, k);
    }
}

// One command from another actor (zkv_actors.h); f holds its n frames, verb first.
static void
s_inproc (s_frontend_t *self, zmq_msg_t *f, size_t n)
{
    if (zkv_actors_verb_is (&f[0], "PEER")) {
        assert (n == 2); // our own API
        s_peer (self, &f[1]);
    } else if (zkv_actors_verb_is (&f[0], "RESULTS")) {
        // [group] [packed]: one applied batch's answers, each [client id][seq][status][len]
        // [value] (zkv_actors.h)
        assert (n == 3); // our own API
        uint64_t group = zkv_actors_u64 (&f[1]);
        const uint8_t *p = (const uint8_t *)zmq_msg_data (&f[2]);
        const uint8_t *end = p + zmq_msg_size (&f[2]);
        while (p < end) {
            uint64_t v[4]; // client id, seq, status, value length
            assert ((size_t)(end - p) >= ZKV_RESULTS_ITEM_HEADER); // our own API
            memcpy (v, p, sizeof v);
            p += ZKV_RESULTS_ITEM_HEADER;
            assert (v[3] <= (size_t)(end - p)); // our own API
            s_key_t k = s_key_write (group, v[0], v[1]);
            s_pending_t *pd = (s_pending_t *)zhashx_lookup (self->pending, &k);
            if (pd) {
                s_answer (self, pd, v[2], p, (size_t)v[3], self->node->id, NULL);
                zhashx_delete (self->pending, &k);
            }
            p += v[3];
        }
    } else if (zkv_actors_verb_is (&f[0], "FAILED")) {
        // [group] [client id] [seq] [status] [leader]
        assert (n == 6); // our own API
        s_key_t k = s_key_write (zkv_actors_u64 (&f[1]), zkv_actors_u64 (&f[2]), zkv_actors_u64 (&f[3]));
        s_answer_key (self, &k, zkv_actors_u64 (&f[4]), NULL, zkv_actors_u64 (&f[5]));
    } else if (zkv_actors_verb_is (&f[0], "DEPOSED")) {
        // [group] [leader]: the group's leader here stepped down. Its proposals may still
        // commit under the next leader, or may not: the client retries with the same seq there,
        // and the dedup table answers whichever happened. Telling it now saves it a timeout.
        assert (n == 3); // our own API
        uint64_t group = zkv_actors_u64 (&f[1]);
        uint64_t leader = zkv_actors_u64 (&f[2]);
        zlistx_t *failed = zlistx_new ();
        for (s_pending_t *p = (s_pending_t *)zhashx_first (self->pending); p;
             p = (s_pending_t *)zhashx_next (self->pending))
            if (p->proposed && p->group == group)
                zlistx_add_end (failed, (void *)zhashx_cursor (self->pending));
        for (const s_key_t *key = (const s_key_t *)zlistx_first (failed); key;
             key = (const s_key_t *)zlistx_next (failed)) {
            s_pending_t *p = (s_pending_t *)zhashx_lookup (self->pending, key);
            s_answer (self, p, -ZKV_ENOTLEADER, NULL, 0, leader, NULL);
            zhashx_delete (self->pending, key);
        }
        zlistx_destroy (&failed);
    } else if (zkv_actors_verb_is (&f[0], "READ_DONE")) {
        // [request id] [status] [value] [leader]
        assert (n == 5); // our own API
        s_key_t k = s_key_id ('r', zkv_actors_u64 (&f[1]));
        s_answer_key (self, &k, zkv_actors_u64 (&f[2]), &f[3], zkv_actors_u64 (&f[4]));
    } else
        assert (false); // our own API: no other command
}

// Answers ZKV_ETIMEOUT to every request whose deadline passed.
static void
s_sweep (s_frontend_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *expired = zlistx_new ();
    for (s_pending_t *p = (s_pending_t *)zhashx_first (self->pending); p;
         p = (s_pending_t *)zhashx_next (self->pending))
        if (p->deadline <= now)
            zlistx_add_end (expired, (void *)zhashx_cursor (self->pending));
    for (const s_key_t *k = (const s_key_t *)zlistx_first (expired); k;
         k = (const s_key_t *)zlistx_next (expired)) {
        s_pending_t *p = (s_pending_t *)zhashx_lookup (self->pending, k);
        s_answer (self, p, -ZKV_ETIMEOUT, NULL, 0, 0, NULL);
        zhashx_delete (self->pending, k);
    }
    zlistx_destroy (&expired);
}

void
zkv_frontend_actor (zsock_t *pipe, void *args)
{
    s_frontend_t self_ = {.node = (zkv_node_t *)args};
    s_frontend_t *self = &self_;
    zkv_node_t *node = self->node;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_maxmsgsize (self->router, (int)ZKV_MSG_MAX_BYTES);
    zsock_set_linger (self->router, 100); // the last answers leave before the socket closes
    zsock_set_sndhwm (self->router, 100000);
    if (zsock_bind (self->router, "%s", me->client) < 0) {
        zsys_error ("zkvd %" PRIu64 ": cannot bind client endpoint %s: %s", node->id, me->client,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->router);
        node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    self->in = zkv_actors_pull (node, "front-in", UINT64_MAX);
    self->tx = zkv_actors_push (node, "tx", UINT64_MAX);
    self->events = zkv_actors_push (node, "events", UINT64_MAX);
    self->groups = (zsock_t **)zmalloc ((node->n_groups + 1) * sizeof (zsock_t *));
    for (size_t i = 0; i < node->n_groups; i++)
        self->groups[i] = zkv_actors_push (node, "group-in", node->groups[i]);
    self->pending = zhashx_new ();
    zhashx_set_destructor (self->pending, s_pending_destroy);
    zhashx_set_key_hasher (self->pending, s_key_hash);
    zhashx_set_key_comparator (self->pending, s_key_cmp);
    zhashx_set_key_duplicator (self->pending, s_key_dup);
    zhashx_set_key_destructor (self->pending, s_key_free);
    self->max_key = zkv_config_max_key_bytes (node->config);
    self->max_value = zkv_config_max_value_bytes (node->config);
    zsock_signal (pipe, 0);

    zpoller_t *poller = zpoller_new (pipe, self->router, self->in, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    self->next_sweep = zclock_mono () + S_SWEEP_MS;
    while (true) {
        int64_t wait = self->next_sweep - zclock_mono ();
        zsock_t *which = (zsock_t *)zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        // One wakeup, then everything queued, received without waiting: answers first (they
        // free table entries), in batches so clients and answers take turns.
        int got;
        do {
            got = 0;
            for (; got < 256; got++) {
                zmq_msg_t f[8];
                size_t n = zkv_actors_recv (zsock_resolve (self->in), f, 8);
                if (n == 0)
                    break;
                assert (n <= 8); // our own API
                s_inproc (self, f, n);
                zkv_actors_close (f, n);
            }
            for (int i = 0; i < 256; i++, got++) {
                zmq_msg_t f[3];
                size_t n = zkv_actors_recv (zsock_resolve (self->router), f, 3);
                if (n == 0)
                    break;
                s_client (self, f, n); // a longer message is malformed
                zkv_actors_close (f, n < 3 ? n : 3);
            }
        } while (got > 0 && zclock_mono () < self->next_sweep &&
                 !(zsock_events (pipe) & ZMQ_POLLIN));
        if (zclock_mono () >= self->next_sweep) {
            s_sweep (self);
            self->next_sweep = zclock_mono () + S_SWEEP_MS;
        }
    }
    zpoller_destroy (&poller);
    zhashx_destroy (&self->pending);
    for (size_t i = 0; i < node->n_groups; i++)
        zsock_destroy (&self->groups[i]);
    free (self->groups);
    zsock_destroy (&self->events);
    zsock_destroy (&self->tx);
    zsock_destroy (&self->in);
    zsock_destroy (&self->router);
}
