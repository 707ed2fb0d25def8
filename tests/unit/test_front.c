// The frontend core (zkv_front.h) against a fake host that records every effect: routing,
// serving and forwarding, answers matched to their request, deadlines, bounds, status and
// configuration queries.
#include "zkv_test.h"

#include "zkv_front.h"
#include "zkv_raft.h"
#include "zkv_routing.h"
#include "zkv_shard.h"

#include <assert.h>

// ---------------------------------------------------------------------------------------------
// The fake host: every effect, its message round-tripped through the codec (so each is a valid
// wire or inproc message) and kept until s_clear.

typedef enum { S_CLIENT = 1, S_NODE = 2, S_GROUP = 3, S_EVENT = 4, S_CALLER = 5 } s_kind_t;

#define S_MAX_EFFECTS 64

typedef struct {
    s_kind_t kind;         // which host function
    zkv_front_addr_t addr; // S_CLIENT: to whom
    uint64_t node;         // S_NODE: to which node
    char topic[64];        // S_EVENT: the topic
    zkv_msg_t msg;         // the message, decoded from its encoding (owned)
} s_effect_t;

typedef struct {
    s_effect_t effects[S_MAX_EFFECTS]; // in the order they happened
    size_t n;                          // effects recorded
    int group_rc;                      // what to_group answers
    size_t codec_failures;             // messages that did not encode and decode
} s_host_t;

static s_effect_t *
s_record (s_host_t *h, s_kind_t kind, const zkv_msg_t *msg)
{
    assert (h->n < S_MAX_EFFECTS);
    s_effect_t *e = &h->effects[h->n++];
    memset (e, 0, sizeof *e);
    e->kind = kind;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0 || zkv_msg_decode (buf, len, &e->msg) != 0)
        h->codec_failures++;
    free (buf);
    return e;
}

static void
h_to_client (void *arg, const zkv_front_addr_t *to, const zkv_msg_t *msg)
{
    s_record (arg, S_CLIENT, msg)->addr = *to;
}

static void
h_to_node (void *arg, uint64_t node, const zkv_msg_t *msg)
{
    s_record (arg, S_NODE, msg)->node = node;
}

static int
h_to_group (void *arg, const zkv_msg_t *request)
{
    s_record (arg, S_GROUP, request);
    return ((s_host_t *)arg)->group_rc;
}

static void
h_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    s_effect_t *e = s_record (arg, S_EVENT, body);
    snprintf (e->topic, sizeof e->topic, "%s", topic);
}

static void
h_to_caller (void *arg, const zkv_msg_t *reply)
{
    s_record (arg, S_CALLER, reply);
}

static const zkv_front_host_t s_host_fns = {.to_client = h_to_client,
                                            .to_node = h_to_node,
                                            .to_group = h_to_group,
                                            .to_caller = h_to_caller,
                                            .event = h_event};

static void
s_clear (s_host_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        zkv_msg_free (&h->effects[i].msg);
    h->n = 0;
}

static size_t
s_count (const s_host_t *h, s_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        n += h->effects[i].kind == kind;
    return n;
}

// The i-th effect of kind, or NULL.
static s_effect_t *
s_nth (s_host_t *h, s_kind_t kind, size_t i)
{
    for (size_t k = 0; k < h->n; k++)
        if (h->effects[k].kind == kind && i-- == 0)
            return &h->effects[k];
    return NULL;
}

// The one effect recorded, when it is of kind and carries a message of type; else NULL.
static s_effect_t *
s_only (s_host_t *h, s_kind_t kind, zkv_msg_type_t type)
{
    if (h->n != 1 || h->effects[0].kind != kind || h->effects[0].msg.type != type)
        return NULL;
    return &h->effects[0];
}

static bool
s_bytes_eq (const zkv_bytes_t *b, const char *s)
{
    size_t len = strlen (s);
    return b->len == len && (len == 0 || memcmp (b->data, s, len) == 0);
}

static bool
s_addr_eq (const zkv_front_addr_t *a, const char *s)
{
    return a->len == strlen (s) && memcmp (a->data, s, a->len) == 0;
}

// ---------------------------------------------------------------------------------------------
// The fixture: this node is 1 and hosts groups 0 and 1; the routing (number 5) has group 0 and
// group 1 on nodes 1, 2, 3 and group 2 on nodes 4, 5, 6, and deals its 8 shards to groups 1 and
// 2 in turn (even shards to 1, odd ones to 2).

#define S_NUM    5
#define S_SHARDS 8

static zkv_routing_t *
s_routing (uint64_t num)
{
    uint64_t ids[] = {0, 1, 2}, sizes[] = {3, 3, 3}, members[] = {1, 2, 3, 1, 2, 3, 4, 5, 6};
    zkv_routing_t *r = zkv_routing_new (num, S_SHARDS, ids, sizes, members, 3);
    assert (r);
    zkv_routing_deal (r);
    return r;
}

typedef struct {
    s_host_t host;          // the effects
    zkv_routing_t *routing; // the routing the frontend was given
    zkv_front_t *front;     // under test
} s_fix_t;

static const uint64_t s_hosted[] = {0, 1};

static void
s_config (zkv_front_config_t *cfg)
{
    zkv_front_config_defaults (cfg);
    cfg->node = 1;
    cfg->groups = s_hosted;
    cfg->n_groups = 2;
}

// A frontend of cfg whose host has fns (a test's clocks over s_host_fns).
static void
s_setup_host (s_fix_t *fx, const zkv_front_config_t *cfg, const zkv_front_host_t *fns)
{
    memset (fx, 0, sizeof *fx);
    fx->routing = s_routing (S_NUM);
    fx->front = zkv_front_new (cfg, fx->routing, fns, &fx->host);
    CHECK (fx->front);
}

static void
s_setup_with (s_fix_t *fx, const zkv_front_config_t *cfg)
{
    s_setup_host (fx, cfg, &s_host_fns);
}

static void
s_setup (s_fix_t *fx)
{
    zkv_front_config_t cfg;
    s_config (&cfg);
    s_setup_with (fx, &cfg);
}

static void
s_teardown (s_fix_t *fx)
{
    zkv_front_destroy (&fx->front);
    zkv_routing_destroy (&fx->routing);
    s_clear (&fx->host);
}

// The i-th key (in the order "k0", "k1", ... are tried) that routing r routes to group g.
static const char *
s_key (const zkv_routing_t *r, uint64_t g, int i)
{
    static char buf[8][32]; // a few at once
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

// This node's replica of group reports role and leader.
static void
s_state (s_fix_t *fx, uint64_t group, uint64_t role, uint64_t leader)
{
    zkv_group_state_t st = {.group = group, .role = role, .term = 2, .leader = leader};
    zkv_front_group_state (fx->front, &st);
}

static zkv_front_addr_t
s_addr (const char *s)
{
    zkv_front_addr_t a = {.len = (uint16_t)strlen (s)};
    memcpy (a.data, s, a.len);
    return a;
}

static void
s_request_at (s_fix_t *fx, const char *from, uint64_t client, uint64_t seq, uint64_t op,
              const char *key, size_t key_len, const char *value, size_t value_len,
              uint64_t deadline_ms, uint64_t now)
{
    zkv_msg_t m = {.type = ZKV_MSG_CLIENT_REQUEST};
    zkv_client_request_t *r = &m.u.client_request;
    r->client_id = client;
    r->seq = seq;
    r->op = op;
    r->key = (zkv_bytes_t){(uint8_t *)key, key_len};
    r->value = (zkv_bytes_t){(uint8_t *)value, value_len};
    r->deadline_ms = deadline_ms;
    zkv_front_addr_t a = s_addr (from);
    zkv_front_client (fx->front, &a, &m, now);
}

static void
s_request (s_fix_t *fx, const char *from, uint64_t client, uint64_t seq, uint64_t op,
           const char *key, const char *value)
{
    s_request_at (fx, from, client, seq, op, key, strlen (key), value, strlen (value), 0, 1000);
}

// A forward_request from node `from` (origin origin) for group.
static void
s_forward (s_fix_t *fx, uint64_t from, uint64_t origin, uint64_t group, uint64_t fwd_id,
           uint64_t client, uint64_t seq, const char *key, uint64_t deadline_ms)
{
    zkv_msg_t m = {.type = ZKV_MSG_FORWARD_REQUEST};
    zkv_forward_request_t *f = &m.u.forward_request;
    f->group = group;
    f->origin_node = origin;
    f->fwd_id = fwd_id;
    f->client_id = client;
    f->seq = seq;
    f->op = ZKV_OP_PUT;
    f->key = (zkv_bytes_t){(uint8_t *)key, strlen (key)};
    f->value = (zkv_bytes_t){(uint8_t *)"v", 1};
    f->deadline_ms = deadline_ms;
    zkv_front_peer (fx->front, from, &m, 1000);
}

static void
s_forward_reply (s_fix_t *fx, uint64_t from, uint64_t group, uint64_t fwd_id, uint64_t client,
                 uint64_t seq, uint64_t status, const char *value, uint64_t leader, uint64_t config)
{
    zkv_msg_t m = {.type = ZKV_MSG_FORWARD_REPLY};
    zkv_forward_reply_t *f = &m.u.forward_reply;
    f->group = group;
    f->fwd_id = fwd_id;
    f->client_id = client;
    f->seq = seq;
    f->status = status;
    f->value = (zkv_bytes_t){(uint8_t *)value, strlen (value)};
    f->leader = leader;
    f->config = config;
    zkv_front_peer (fx->front, from, &m, 1000);
}

static void
s_group_reply (s_fix_t *fx, uint64_t group, uint64_t handle, uint64_t client, uint64_t seq,
               uint64_t status, const char *value, uint64_t leader, const char *error)
{
    zkv_group_reply_t r = {.group = group,
                           .handle = handle,
                           .client_id = client,
                           .seq = seq,
                           .status = status,
                           .value = {(uint8_t *)value, strlen (value)},
                           .leader = leader,
                           .error = {(uint8_t *)error, strlen (error)}};
    zkv_front_group_reply (fx->front, &r);
}

static zkv_front_counters_t
s_counters (const s_fix_t *fx)
{
    zkv_front_counters_t c;
    zkv_front_counters (fx->front, &c);
    return c;
}

// ---------------------------------------------------------------------------------------------

static void
test_front_new_refuses_bad_config (void)
{
    zkv_routing_t *r = s_routing (1);
    s_host_t h = {0};
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.node = 0;
    zkv_front_t *a = zkv_front_new (&cfg, r, &s_host_fns, &h);
    s_config (&cfg);
    cfg.max_pending = 0;
    zkv_front_t *b = zkv_front_new (&cfg, r, &s_host_fns, &h);
    s_config (&cfg);
    cfg.sweep_ms = 0;
    zkv_front_t *c = zkv_front_new (&cfg, r, &s_host_fns, &h);
    s_config (&cfg);
    zkv_front_t *ok = zkv_front_new (&cfg, r, &s_host_fns, &h);
    bool ok_made = ok != NULL;
    zkv_front_destroy (&ok);
    zkv_front_destroy (&ok); // idempotent
    zkv_routing_destroy (&r);
    CHECK (a == NULL && b == NULL && c == NULL);
    CHECK (ok_made && ok == NULL);
    CHECK_EQ_U64 (h.n, 0);
}

// A request for a group this node leads goes to the group with a fresh handle; the group's
// answer (same handle, client, seq) reaches the client with the routing's number.
static void
test_front_serves_led_group (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, key, "val");
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    zkv_group_request_t q = e->msg.u.group_request;
    uint64_t h1 = q.handle;
    CHECK_EQ_U64 (q.group, 1);
    CHECK (h1 != 0);
    CHECK_EQ_U64 (q.client_id, 42);
    CHECK_EQ_U64 (q.seq, 7);
    CHECK_EQ_U64 (q.op, ZKV_OP_PUT);
    CHECK (s_bytes_eq (&q.key, key));
    CHECK (s_bytes_eq (&q.value, "val"));
    CHECK_EQ_U64 (q.deadline_ms, 30000);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.requests, 1);
    CHECK_EQ_U64 (c.served, 1);
    CHECK_EQ_U64 (c.forwarded, 0);
    CHECK_EQ_U64 (c.pending, 1);
    s_clear (&fx.host);

    // A second request (same client, next seq) gets another handle.
    s_request (&fx, "alice", 42, 8, ZKV_OP_GET, key, "");
    e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h2 = e->msg.u.group_request.handle;
    CHECK (h2 != 0 && h2 != h1);
    s_clear (&fx.host);

    s_group_reply (&fx, 1, h1, 42, 7, 0, "", 1, "");
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "alice"));
    zkv_client_reply_t r = e->msg.u.client_reply;
    CHECK_EQ_U64 (r.client_id, 42);
    CHECK_EQ_U64 (r.seq, 7);
    CHECK_EQ_U64 (r.status, 0);
    CHECK_EQ_U64 (r.leader, 1);
    CHECK_EQ_U64 (r.config, S_NUM);
    CHECK_EQ_U64 (r.error.len, 0);
    s_clear (&fx.host);

    s_group_reply (&fx, 1, h2, 42, 8, 0, "the value", 1, "");
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.seq, 8);
    CHECK (s_bytes_eq (&e->msg.u.client_reply.value, "the value"));
    CHECK_EQ_U64 (e->msg.u.client_reply.config, S_NUM);
    c = s_counters (&fx);
    CHECK_EQ_U64 (c.answered, 2);
    CHECK_EQ_U64 (c.pending, 0);
    CHECK_EQ_U64 (c.stale, 0);
    CHECK_EQ_U64 (fx.host.codec_failures, 0);
    s_teardown (&fx);
}

// A group reply naming another handle, client, seq or group answers nothing: it is dropped and
// counted stale, and the request still waits for its own answer; a second answer is stale too.
static void
test_front_group_reply_must_match (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h = e->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h + 1, 42, 7, 0, "", 1, ""); // unknown handle
    s_group_reply (&fx, 1, h, 43, 7, 0, "", 1, "");     // another client
    s_group_reply (&fx, 1, h, 42, 6, 0, "", 1, "");     // another seq
    s_group_reply (&fx, 0, h, 42, 7, 0, "", 1, "");     // another group
    CHECK_EQ_U64 (fx.host.n, 0);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.stale, 4);
    CHECK_EQ_U64 (c.pending, 1);
    CHECK_EQ_U64 (c.answered, 0);
    s_group_reply (&fx, 1, h, 42, 7, 0, "", 1, "");
    CHECK (s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY));
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 42, 7, 0, "", 1, ""); // again: answered already
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 5);
    CHECK_EQ_U64 (s_counters (&fx).answered, 1);
    s_teardown (&fx);
}

// A group's error answer carries the group's status and text to the client, and is published
// as zkv.client.error naming the request.
static void
test_front_group_error_reply (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    s_request (&fx, "bob", 9, 3, ZKV_OP_APPEND, s_key (fx.routing, 1, 0), "x");
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h = e->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 9, 3, ZKV_ENOQUORUM_VALUE, "", 0, "no quorum here");
    CHECK_EQ_U64 (fx.host.n, 2);
    e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && e->msg.type == ZKV_MSG_CLIENT_REPLY);
    CHECK (s_addr_eq (&e->addr, "bob"));
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_ENOQUORUM_VALUE);
    CHECK (s_bytes_eq (&e->msg.u.client_reply.error, "no quorum here"));
    e = s_nth (&fx.host, S_EVENT, 0);
    CHECK (e && e->msg.type == ZKV_MSG_EVENT_CLIENT_ERROR);
    CHECK (strcmp (e->topic, "zkv.client.error") == 0);
    zkv_event_client_error_t ev = e->msg.u.event_client_error;
    CHECK_EQ_U64 (ev.node, 1);
    CHECK_EQ_U64 (ev.group, 1);
    CHECK_EQ_U64 (ev.client_id, 9);
    CHECK_EQ_U64 (ev.seq, 3);
    CHECK_EQ_U64 (ev.op, ZKV_OP_APPEND);
    CHECK_EQ_U64 (ev.status, ZKV_ENOQUORUM_VALUE);
    CHECK (s_bytes_eq (&ev.error, "no quorum here"));
    s_teardown (&fx);
}

// A request for a hosted group led by node 2 is forwarded once, to node 2, with the request's
// fields; node 2's answer is relayed to the client.
static void
test_front_forwards_once_to_leader (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    const char *key = s_key (fx.routing, 1, 0);
    s_request_at (&fx, "alice", 42, 7, ZKV_OP_PUT, key, strlen (key), "val", 3, 1234, 1000);
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 2);
    zkv_forward_request_t f = e->msg.u.forward_request;
    uint64_t fwd = f.fwd_id;
    CHECK_EQ_U64 (f.group, 1);
    CHECK_EQ_U64 (f.origin_node, 1);
    CHECK (fwd != 0);
    CHECK_EQ_U64 (f.client_id, 42);
    CHECK_EQ_U64 (f.seq, 7);
    CHECK_EQ_U64 (f.op, ZKV_OP_PUT);
    CHECK (s_bytes_eq (&f.key, key));
    CHECK (s_bytes_eq (&f.value, "val"));
    CHECK_EQ_U64 (f.deadline_ms, 1234);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.forwarded, 1);
    CHECK_EQ_U64 (c.served, 0);
    CHECK_EQ_U64 (c.pending, 1);
    s_clear (&fx.host);

    s_forward_reply (&fx, 2, 1, fwd, 42, 7, 0, "", 2, S_NUM);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "alice"));
    zkv_client_reply_t r = e->msg.u.client_reply;
    CHECK_EQ_U64 (r.client_id, 42);
    CHECK_EQ_U64 (r.seq, 7);
    CHECK_EQ_U64 (r.status, 0);
    CHECK_EQ_U64 (r.leader, 2);
    CHECK_EQ_U64 (r.config, S_NUM);
    CHECK_EQ_U64 (s_counters (&fx).pending, 0);
    s_clear (&fx.host);

    // The same answer again relays nothing.
    s_forward_reply (&fx, 2, 1, fwd, 42, 7, 0, "", 2, S_NUM);
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 1);
    s_teardown (&fx);
}

// Client sessions (cluster/zkv_kv.h): a request's session_t0 goes with it to the group, and to
// the node it is forwarded to (there, to its group); the group's log_ms comes back with the
// answer, relayed as it is; answers of the frontend's own, and configurations, carry the newest
// log time its groups reported.
static void
test_front_session_fields (void)
{
    s_fix_t fx;
    s_setup (&fx);
    zkv_group_state_t st = {.group = 1, .role = ZKV_ROLE_LEADER, .term = 2, .leader = 1,
                            .log_ms = 5000};
    zkv_front_group_state (fx.front, &st);
    const char *key = s_key (fx.routing, 1, 0);
    zkv_msg_t m = {.type = ZKV_MSG_CLIENT_REQUEST};
    zkv_client_request_t *r = &m.u.client_request;
    r->client_id = 42;
    r->seq = 7;
    r->op = ZKV_OP_PUT;
    r->key = (zkv_bytes_t){(uint8_t *)key, strlen (key)};
    r->session_t0 = 4321;
    zkv_front_addr_t a = s_addr ("alice");
    zkv_front_client (fx.front, &a, &m, 1000);
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_request.session_t0, 4321);
    zkv_group_reply_t gr = {.group = 1, .handle = e->msg.u.group_request.handle,
                            .client_id = 42, .seq = 7, .status = ZKV_ESESSION_VALUE,
                            .log_ms = 6000};
    s_clear (&fx.host);
    zkv_front_group_reply (fx.front, &gr);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_ESESSION_VALUE);
    CHECK_EQ_U64 (e->msg.u.client_reply.log_ms, 6000);
    s_clear (&fx.host);
    // Forwarded (group 1 now led by node 2): session_t0 goes on, the answer's log_ms comes back.
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    r->seq = 8;
    zkv_front_client (fx.front, &a, &m, 1000);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.forward_request.session_t0, 4321);
    zkv_msg_t fr = {.type = ZKV_MSG_FORWARD_REPLY};
    fr.u.forward_reply = (zkv_forward_reply_t){.group = 1, .fwd_id = e->msg.u.forward_request.fwd_id,
                                               .client_id = 42, .seq = 8, .leader = 2,
                                               .log_ms = 7000};
    s_clear (&fx.host);
    zkv_front_peer (fx.front, 2, &fr, 1000);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.log_ms, 7000);
    s_clear (&fx.host);
    // A forward received here hands its session_t0 to the group.
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    zkv_msg_t fq = {.type = ZKV_MSG_FORWARD_REQUEST};
    fq.u.forward_request = (zkv_forward_request_t){
        .group = 1, .origin_node = 3, .fwd_id = 9, .client_id = 43, .seq = 1, .op = ZKV_OP_PUT,
        .key = {(uint8_t *)key, strlen (key)}, .session_t0 = 99};
    zkv_front_peer (fx.front, 3, &fq, 1000);
    e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_request.session_t0, 99);
    s_clear (&fx.host);
    // The frontend's own answers (a deadline) and a configuration: the newest log time known.
    st.log_ms = 8000;
    zkv_front_group_state (fx.front, &st);
    zkv_front_tick (fx.front, 1000000);
    CHECK (s_count (&fx.host, S_NODE) == 1); // origin 3's forward timed out
    CHECK_EQ_U64 (s_nth (&fx.host, S_NODE, 0)->msg.u.forward_reply.log_ms, 8000);
    s_clear (&fx.host);
    zkv_msg_t cq = {.type = ZKV_MSG_CONFIG_REQUEST};
    zkv_front_client (fx.front, &a, &cq, 1000000);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CONFIG_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.config_reply.log_ms, 8000);
    s_teardown (&fx);
}

// The host's wall clock (ms since the epoch), as the test sets it.
static uint64_t s_wall_ms;

static uint64_t
h_wall_ms (void *arg)
{
    (void)arg;
    return s_wall_ms;
}

// A configuration names as log_ms the node's wall clock when that is later than its groups'
// log times (after a restart they are those of the last commands before it): a new client's
// first session_t0, which must not predate the sessions the groups' next sweep evicts.
static void
test_front_config_log_ms_at_least_wall_clock (void)
{
    zkv_front_host_t fns = s_host_fns;
    fns.wall_ms = h_wall_ms;
    zkv_front_config_t cfg;
    s_config (&cfg);
    s_fix_t fx;
    s_setup_host (&fx, &cfg, &fns);
    zkv_group_state_t st = {
        .group = 1, .role = ZKV_ROLE_LEADER, .term = 2, .leader = 1, .log_ms = 8000};
    zkv_front_group_state (fx.front, &st);
    zkv_front_addr_t a = s_addr ("alice");
    zkv_msg_t cq = {.type = ZKV_MSG_CONFIG_REQUEST};
    uint64_t walls[] = {5000, 86400000, 0};
    uint64_t want[] = {8000, 86400000, 8000};
    for (size_t i = 0; i < 3; i++) {
        s_wall_ms = walls[i];
        zkv_front_client (fx.front, &a, &cq, 1000);
        const s_effect_t *e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CONFIG_REPLY);
        CHECK (e);
        if (e)
            CHECK_EQ_U64 (e->msg.u.config_reply.log_ms, want[i]);
        s_clear (&fx.host);
    }
    s_teardown (&fx);
}

// A forward_reply is relayed only to the forward it names: another fwd_id, client or seq, or a
// node other than the one forwarded to, answers nothing.
static void
test_front_forward_reply_must_match (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    uint64_t fwd = e->msg.u.forward_request.fwd_id;
    s_clear (&fx.host);
    s_forward_reply (&fx, 2, 1, fwd + 1, 42, 7, 0, "", 2, S_NUM); // another forward
    s_forward_reply (&fx, 2, 1, fwd, 43, 7, 0, "", 2, S_NUM);     // another client
    s_forward_reply (&fx, 2, 1, fwd, 42, 8, 0, "", 2, S_NUM);     // another seq
    s_forward_reply (&fx, 3, 1, fwd, 42, 7, 0, "", 2, S_NUM);     // another node
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 4);
    CHECK_EQ_U64 (s_counters (&fx).pending, 1);
    s_forward_reply (&fx, 2, 1, fwd, 42, 7, 0, "", 2, S_NUM);
    CHECK (s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY));
    s_teardown (&fx);
}

// A forward_reply cannot answer a request handed to a group here, and a group reply cannot
// answer a forwarded request, even with the right handle, client and seq.
static void
test_front_handles_not_crossed (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t served = e->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_request (&fx, "bob", 43, 1, ZKV_OP_PUT, s_key (fx.routing, 2, 0), "v");
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    uint64_t fwd = e->msg.u.forward_request.fwd_id;
    uint64_t to = e->node;
    s_clear (&fx.host);
    s_forward_reply (&fx, 0, 1, served, 42, 7, 0, "", 0, S_NUM);
    s_group_reply (&fx, 2, fwd, 43, 1, 0, "", 0, "");
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 2);
    CHECK_EQ_U64 (s_counters (&fx).pending, 2);
    s_forward_reply (&fx, to, 2, fwd, 43, 1, 0, "", 0, S_NUM);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e && s_addr_eq (&e->addr, "bob"));
    s_teardown (&fx);
}

// Two clients' forwarded requests, answered in the other order: each answer reaches its own
// client; the config relayed is the higher of the answering node's and this node's.
static void
test_front_relays_to_the_right_client (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 3);
    s_request (&fx, "alice", 42, 7, ZKV_OP_GET, s_key (fx.routing, 1, 0), "");
    s_request (&fx, "bob", 43, 7, ZKV_OP_GET, s_key (fx.routing, 1, 1), "");
    CHECK_EQ_U64 (s_count (&fx.host, S_NODE), 2);
    CHECK_EQ_U64 (fx.host.n, 2);
    uint64_t fa = s_nth (&fx.host, S_NODE, 0)->msg.u.forward_request.fwd_id;
    uint64_t fb = s_nth (&fx.host, S_NODE, 1)->msg.u.forward_request.fwd_id;
    CHECK_EQ_U64 (s_nth (&fx.host, S_NODE, 0)->node, 3);
    CHECK_EQ_U64 (s_nth (&fx.host, S_NODE, 1)->node, 3);
    CHECK (fa != fb);
    s_clear (&fx.host);
    s_forward_reply (&fx, 3, 1, fb, 43, 7, 0, "for bob", 3, S_NUM + 4);
    s_effect_t *e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "bob"));
    CHECK_EQ_U64 (e->msg.u.client_reply.client_id, 43);
    CHECK (s_bytes_eq (&e->msg.u.client_reply.value, "for bob"));
    CHECK_EQ_U64 (e->msg.u.client_reply.config, S_NUM + 4);
    s_clear (&fx.host);
    s_forward_reply (&fx, 3, 1, fa, 42, 7, 0, "for alice", 3, 0);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "alice"));
    CHECK_EQ_U64 (e->msg.u.client_reply.client_id, 42);
    CHECK (s_bytes_eq (&e->msg.u.client_reply.value, "for alice"));
    CHECK_EQ_U64 (e->msg.u.client_reply.config, S_NUM);
    s_teardown (&fx);
}

// A forwarded request for a group this node does not lead is answered "not leader" with the
// hint, to its origin, and never forwarded again — also for a group not hosted here.
static void
test_front_forwarded_never_forwarded_again (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 3);
    s_forward (&fx, 2, 2, 1, 77, 42, 7, s_key (fx.routing, 1, 0), 0);
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 2);
    zkv_forward_reply_t r = e->msg.u.forward_reply;
    CHECK_EQ_U64 (r.group, 1);
    CHECK_EQ_U64 (r.fwd_id, 77);
    CHECK_EQ_U64 (r.client_id, 42);
    CHECK_EQ_U64 (r.seq, 7);
    CHECK_EQ_U64 (r.status, ZKV_ENOTLEADER_VALUE);
    CHECK_EQ_U64 (r.leader, 3);
    CHECK_EQ_U64 (r.config, S_NUM);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.forwarded, 0);
    CHECK_EQ_U64 (c.pending, 0);
    s_clear (&fx.host);

    // No leader known: the hint is 0.
    s_state (&fx, 1, ZKV_ROLE_CANDIDATE, 0);
    s_forward (&fx, 3, 3, 1, 78, 42, 8, s_key (fx.routing, 1, 0), 0);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 3);
    CHECK_EQ_U64 (e->msg.u.forward_reply.status, ZKV_ENOTLEADER_VALUE);
    CHECK_EQ_U64 (e->msg.u.forward_reply.leader, 0);
    s_clear (&fx.host);

    // A group not hosted here: answered with a member as the hint, not forwarded there.
    s_forward (&fx, 2, 2, 2, 79, 42, 9, s_key (fx.routing, 2, 0), 0);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 2);
    CHECK_EQ_U64 (e->msg.u.forward_reply.status, ZKV_ENOTLEADER_VALUE);
    CHECK (e->msg.u.forward_reply.leader >= 4 && e->msg.u.forward_reply.leader <= 6);
    CHECK_EQ_U64 (s_counters (&fx).forwarded, 0);
    s_teardown (&fx);
}

// A forwarded request for a group this node leads is served here and answered to its origin
// with the fwd_id it named.
static void
test_front_forwarded_served_here (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_forward (&fx, 3, 3, 1, 500, 42, 7, key, 777);
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    zkv_group_request_t q = e->msg.u.group_request;
    CHECK_EQ_U64 (q.group, 1);
    CHECK_EQ_U64 (q.client_id, 42);
    CHECK_EQ_U64 (q.seq, 7);
    CHECK_EQ_U64 (q.deadline_ms, 777);
    CHECK (s_bytes_eq (&q.key, key));
    CHECK_EQ_U64 (s_counters (&fx).served, 1);
    CHECK_EQ_U64 (s_counters (&fx).requests, 0); // not a client's
    s_clear (&fx.host);
    s_group_reply (&fx, 1, q.handle, 42, 7, 0, "val", 1, "");
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 3);
    zkv_forward_reply_t r = e->msg.u.forward_reply;
    CHECK_EQ_U64 (r.group, 1);
    CHECK_EQ_U64 (r.fwd_id, 500);
    CHECK_EQ_U64 (r.client_id, 42);
    CHECK_EQ_U64 (r.seq, 7);
    CHECK_EQ_U64 (r.status, 0);
    CHECK (s_bytes_eq (&r.value, "val"));
    CHECK_EQ_U64 (r.leader, 1);
    CHECK_EQ_U64 (r.config, S_NUM);
    s_teardown (&fx);
}

// Forwards from a node outside the configuration, from another node than the origin they name,
// or naming this node as their origin, are dropped.
static void
test_front_forward_from_strangers_dropped (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_forward (&fx, 99, 99, 1, 1, 42, 7, key, 0); // not a node of the configuration
    s_forward (&fx, 3, 2, 1, 2, 42, 7, key, 0);   // says it is 2, comes from 3
    s_forward (&fx, 1, 1, 1, 3, 42, 7, key, 0);   // "from" this node itself
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 3);
    CHECK_EQ_U64 (s_counters (&fx).pending, 0);
    s_teardown (&fx);
}

// A request for a group not hosted here goes to a member of it; once a forward_reply names the
// group's leader, the next requests for that group go to that leader.
static void
test_front_not_hosted_member_then_hint (void)
{
    s_fix_t fx;
    s_setup (&fx);
    const char *key = s_key (fx.routing, 2, 0);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, key, "v");
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    uint64_t first = e->node;
    CHECK (first >= 4 && first <= 6);
    CHECK_EQ_U64 (e->msg.u.forward_request.group, 2);
    uint64_t fwd = e->msg.u.forward_request.fwd_id;
    s_clear (&fx.host);
    // The member says node `leader` leads (a member other than itself).
    uint64_t leader = first == 6 ? 4 : first + 1;
    s_forward_reply (&fx, first, 2, fwd, 42, 7, ZKV_ENOTLEADER_VALUE, "", leader, S_NUM);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_ENOTLEADER_VALUE);
    CHECK_EQ_U64 (e->msg.u.client_reply.leader, leader);
    s_clear (&fx.host);
    // Every later request for group 2, whatever its client and seq, goes to that leader.
    for (uint64_t i = 0; i < 6; i++) {
        s_request (&fx, "carol", 100 + i, 1 + 2 * i, ZKV_OP_GET, s_key (fx.routing, 2, (int)i), "");
        e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
        CHECK (e);
        CHECK_EQ_U64 (e->node, leader);
        s_clear (&fx.host);
    }
    s_teardown (&fx);
}

// Keys go to the group their shard is dealt to: even shards to group 1 (led here), odd ones to
// group 2 (not hosted: forwarded to one of its members).
static void
test_front_routes_by_shard (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    int to_1 = 0, to_2 = 0;
    for (int i = 0; i < 64; i++) {
        char key[16];
        snprintf (key, sizeof key, "key-%d", i);
        uint32_t shard = zkv_shard_of ((const uint8_t *)key, strlen (key), S_SHARDS);
        s_request (&fx, "alice", 42, (uint64_t)i + 1, ZKV_OP_PUT, key, "v");
        CHECK_EQ_U64 (fx.host.n, 1);
        s_effect_t *e = &fx.host.effects[0];
        if (shard % 2 == 0) {
            CHECK (e->kind == S_GROUP);
            CHECK_EQ_U64 (e->msg.u.group_request.group, 1);
            to_1++;
        } else {
            CHECK (e->kind == S_NODE && e->node >= 4 && e->node <= 6);
            CHECK_EQ_U64 (e->msg.u.forward_request.group, 2);
            to_2++;
        }
        s_clear (&fx.host);
    }
    CHECK (to_1 > 0 && to_2 > 0);
    s_teardown (&fx);
}

// A forwarded request goes to the group its origin named, whatever this node's routing gives
// its key (the group itself says "wrong group" when it does not serve the key now): here a
// group this node does not host, so it is answered "not leader" (never forwarded twice).
static void
test_front_forward_for_other_group (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    s_forward (&fx, 2, 2, 2, 31, 42, 7, s_key (fx.routing, 1, 0), 0);
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 2);
    CHECK_EQ_U64 (e->msg.u.forward_reply.fwd_id, 31);
    CHECK_EQ_U64 (e->msg.u.forward_reply.status, ZKV_ENOTLEADER_VALUE);
    CHECK_EQ_U64 (e->msg.u.forward_reply.config, S_NUM);
    CHECK_EQ_U64 (s_counters (&fx).served, 0);
    CHECK_EQ_U64 (s_counters (&fx).pending, 0);
    s_teardown (&fx);
}

// A key whose shard no group serves is answered "wrong group" at once (and not published).
static void
test_front_no_group_for_shard (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    zkv_routing_t *r = s_routing (S_NUM + 1);
    r->shard_group[zkv_routing_shard_of (r, (const uint8_t *)key, strlen (key))] = 0;
    zkv_front_set_routing (fx.front, r);
    zkv_routing_destroy (&r);
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, key, "v");
    s_effect_t *e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EWRONGGROUP_VALUE);
    CHECK_EQ_U64 (e->msg.u.client_reply.config, S_NUM + 1);
    CHECK (e->msg.u.client_reply.error.len > 0);
    CHECK_EQ_U64 (s_counters (&fx).pending, 0);
    s_teardown (&fx);
}

// Requests no group could serve are answered at once, with an event, and go nowhere.
static void
test_front_limits (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.max_key_bytes = 8;
    cfg.max_value_bytes = 16;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    static const struct {
        uint64_t op;       // the request's op
        const char *key;   // its key
        const char *value; // its value
        uint64_t status;   // the answer
        const char *error; // its text
    } cases[] = {
        {ZKV_OP_PUT, "123456789", "v", ZKV_ETOOBIG_VALUE, "key too large"},
        {ZKV_OP_GET, "123456789", "", ZKV_ETOOBIG_VALUE, "key too large"},
        {ZKV_OP_PUT, "k", "12345678901234567", ZKV_ETOOBIG_VALUE, "value too large"},
        {ZKV_OP_APPEND, "k", "12345678901234567", ZKV_ETOOBIG_VALUE, "value too large"},
        {ZKV_OP_PUT, "", "v", ZKV_EINVAL_VALUE, "empty key"},
        {ZKV_OP_GET, "", "", ZKV_EINVAL_VALUE, "empty key"},
        {ZKV_OP_GET, "k", "v", ZKV_EINVAL_VALUE, "a get carries no value"},
        {99, "k", "v", ZKV_EINVAL_VALUE, "unknown op"},
        {0, "k", "", ZKV_EINVAL_VALUE, "unknown op"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_request (&fx, "alice", 42, i + 1, cases[i].op, cases[i].key, cases[i].value);
        CHECK_EQ_U64 (fx.host.n, 2);
        CHECK_EQ_U64 (s_count (&fx.host, S_CLIENT), 1);
        CHECK_EQ_U64 (s_count (&fx.host, S_EVENT), 1);
        s_effect_t *e = s_nth (&fx.host, S_CLIENT, 0);
        CHECK_EQ_U64 (e->msg.u.client_reply.seq, i + 1);
        CHECK_EQ_U64 (e->msg.u.client_reply.status, cases[i].status);
        if (!s_bytes_eq (&e->msg.u.client_reply.error, cases[i].error))
            fprintf (stderr, "case %zu: error \"%.*s\"\n", i, (int)e->msg.u.client_reply.error.len,
                     (const char *)e->msg.u.client_reply.error.data);
        CHECK (s_bytes_eq (&e->msg.u.client_reply.error, cases[i].error));
        CHECK_EQ_U64 (s_nth (&fx.host, S_EVENT, 0)->msg.u.event_client_error.status,
                      cases[i].status);
        s_clear (&fx.host);
    }
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.pending, 0);
    CHECK_EQ_U64 (c.served, 0);
    // The largest key and value pass (a key of 8 bytes that group 1 serves).
    char key[16];
    for (int n = 0; n < 10000; n++) {
        snprintf (key, sizeof key, "key%05d", n);
        if (zkv_routing_group_of (fx.routing, (const uint8_t *)key, 8) == 1)
            break;
    }
    s_request (&fx, "alice", 42, 100, ZKV_OP_PUT, key, "1234567890123456");
    CHECK (s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST));
    s_teardown (&fx);
}

// The one ETIMEOUT answer for a request the sweep found at or past its deadline, or NULL.
static s_effect_t *
s_timed_out (s_fix_t *fx)
{
    s_effect_t *e = s_nth (&fx->host, S_CLIENT, 0);
    if (s_count (&fx->host, S_CLIENT) != 1 || e->msg.type != ZKV_MSG_CLIENT_REPLY ||
        e->msg.u.client_reply.status != ZKV_ETIMEOUT_VALUE)
        return NULL;
    return e;
}

// Swept every ms: a request is answered "timed out" at the first tick at its deadline, never
// before, and its group's late answer is then stale.
static void
test_front_deadline_exact (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.sweep_ms = 1;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_request_at (&fx, "alice", 42, 7, ZKV_OP_PUT, key, strlen (key), "v", 1, 100, 1000);
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h = e->msg.u.group_request.handle;
    CHECK_EQ_U64 (e->msg.u.group_request.deadline_ms, 100);
    s_clear (&fx.host);
    for (uint64_t t = 1000; t < 1100; t++)
        zkv_front_tick (fx.front, t);
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).pending, 1);
    zkv_front_tick (fx.front, 1100);
    e = s_timed_out (&fx);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "alice"));
    CHECK_EQ_U64 (e->msg.u.client_reply.client_id, 42);
    CHECK_EQ_U64 (e->msg.u.client_reply.seq, 7);
    CHECK_EQ_U64 (s_count (&fx.host, S_EVENT), 1); // a timeout is published
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.timeouts, 1);
    CHECK_EQ_U64 (c.pending, 0);
    s_clear (&fx.host);
    zkv_front_tick (fx.front, 1101);
    s_group_reply (&fx, 1, h, 42, 7, 0, "", 1, "");
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 1);
    s_teardown (&fx);
}

// No deadline: the default one; a larger one than the maximum: the maximum. Both are what the
// group is told and when the request is answered "timed out".
static void
test_front_deadline_default_and_clamp (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.sweep_ms = 1;
    cfg.default_deadline_ms = 300;
    cfg.max_deadline_ms = 500;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_request_at (&fx, "a", 1, 1, ZKV_OP_PUT, key, strlen (key), "v", 1, 0, 1000);
    s_request_at (&fx, "b", 2, 1, ZKV_OP_PUT, key, strlen (key), "v", 1, 1000000, 1000);
    s_request_at (&fx, "c", 3, 1, ZKV_OP_PUT, key, strlen (key), "v", 1, UINT64_MAX, 1000);
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 3);
    CHECK_EQ_U64 (s_nth (&fx.host, S_GROUP, 0)->msg.u.group_request.deadline_ms, 300);
    CHECK_EQ_U64 (s_nth (&fx.host, S_GROUP, 1)->msg.u.group_request.deadline_ms, 500);
    CHECK_EQ_U64 (s_nth (&fx.host, S_GROUP, 2)->msg.u.group_request.deadline_ms, 500);
    s_clear (&fx.host);
    for (uint64_t t = 1000; t < 1300; t++)
        zkv_front_tick (fx.front, t);
    CHECK_EQ_U64 (fx.host.n, 0);
    zkv_front_tick (fx.front, 1300);
    s_effect_t *e = s_timed_out (&fx);
    CHECK (e && s_addr_eq (&e->addr, "a"));
    s_clear (&fx.host);
    for (uint64_t t = 1301; t < 1500; t++)
        zkv_front_tick (fx.front, t);
    CHECK_EQ_U64 (fx.host.n, 0);
    zkv_front_tick (fx.front, 1500);
    CHECK_EQ_U64 (s_count (&fx.host, S_CLIENT), 2);
    CHECK_EQ_U64 (s_nth (&fx.host, S_CLIENT, 0)->msg.u.client_reply.status, ZKV_ETIMEOUT_VALUE);
    CHECK_EQ_U64 (s_nth (&fx.host, S_CLIENT, 1)->msg.u.client_reply.status, ZKV_ETIMEOUT_VALUE);
    CHECK_EQ_U64 (s_counters (&fx).pending, 0);
    CHECK_EQ_U64 (s_counters (&fx).timeouts, 3);
    s_teardown (&fx);

    // A forward carries the clamped deadline too.
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    s_request_at (&fx, "a", 1, 1, ZKV_OP_PUT, key, strlen (key), "v", 1, 999999, 1000);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.forward_request.deadline_ms, 500);
    s_teardown (&fx);
}

// With the default sweep (every 50 ms), a request is answered at the first sweep at or after
// its deadline: never before it, and less than a sweep after it.
static void
test_front_deadline_sweep (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    zkv_front_tick (fx.front, 990);
    s_request_at (&fx, "a", 1, 1, ZKV_OP_PUT, key, strlen (key), "v", 1, 123, 1000);
    s_clear (&fx.host);
    uint64_t t = 991;
    for (; t < 2000 && fx.host.n == 0; t++)
        zkv_front_tick (fx.front, t);
    t--; // the tick that answered
    CHECK (s_timed_out (&fx));
    CHECK (t >= 1123 && t < 1123 + 50);
    s_teardown (&fx);
}

// A forwarded request whose answer does not come is answered "timed out" to its client at its
// deadline; the late forward_reply is then stale.
static void
test_front_forwarded_times_out (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.sweep_ms = 1;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    const char *key = s_key (fx.routing, 1, 0);
    s_request_at (&fx, "alice", 42, 7, ZKV_OP_PUT, key, strlen (key), "v", 1, 50, 1000);
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    uint64_t fwd = e->msg.u.forward_request.fwd_id;
    s_clear (&fx.host);
    zkv_front_tick (fx.front, 1049);
    CHECK_EQ_U64 (fx.host.n, 0);
    zkv_front_tick (fx.front, 1050);
    e = s_timed_out (&fx);
    CHECK (e && s_addr_eq (&e->addr, "alice"));
    s_clear (&fx.host);
    s_forward_reply (&fx, 2, 1, fwd, 42, 7, 0, "", 2, S_NUM);
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 1);
    s_teardown (&fx);
}

// At most max_pending requests wait: the next one is answered "busy" at once; once one is
// answered, another is taken.
static void
test_front_max_pending (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.max_pending = 2;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_request (&fx, "a", 1, 1, ZKV_OP_PUT, key, "v");
    s_request (&fx, "b", 2, 1, ZKV_OP_PUT, key, "v");
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 2);
    uint64_t h = s_nth (&fx.host, S_GROUP, 0)->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_request (&fx, "c", 3, 1, ZKV_OP_PUT, key, "v");
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 0);
    s_effect_t *e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && s_count (&fx.host, S_CLIENT) == 1);
    CHECK (s_addr_eq (&e->addr, "c"));
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EBUSY_VALUE);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.busy, 1);
    CHECK_EQ_U64 (c.pending, 2);
    s_clear (&fx.host);
    // A request to forward counts against the same bound.
    s_request (&fx, "d", 4, 1, ZKV_OP_PUT, s_key (fx.routing, 2, 0), "v");
    CHECK_EQ_U64 (s_count (&fx.host, S_NODE), 0);
    CHECK_EQ_U64 (s_nth (&fx.host, S_CLIENT, 0)->msg.u.client_reply.status, ZKV_EBUSY_VALUE);
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 1, 1, 0, "", 1, "");
    s_clear (&fx.host);
    s_request (&fx, "c", 3, 1, ZKV_OP_PUT, key, "v");
    CHECK (s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST));
    s_teardown (&fx);
}

// One client address (a connection) has at most max_pending_per_client requests waiting: its
// next one is answered "busy" at once, while another address is still served; once one of its
// requests is answered, it may send another.
static void
test_front_max_pending_per_client (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.max_pending_per_client = 2;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    s_request (&fx, "a", 1, 1, ZKV_OP_PUT, key, "v");
    s_request (&fx, "a", 1, 2, ZKV_OP_PUT, key, "v");
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 2);
    uint64_t h = s_nth (&fx.host, S_GROUP, 0)->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_request (&fx, "a", 1, 3, ZKV_OP_PUT, key, "v");
    s_effect_t *e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && s_addr_eq (&e->addr, "a"));
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EBUSY_VALUE);
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 0);
    s_clear (&fx.host);
    s_request (&fx, "b", 2, 1, ZKV_OP_PUT, key, "v"); // another connection: served
    CHECK (s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST));
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 1, 1, 0, "", 1, "");
    s_clear (&fx.host);
    s_request (&fx, "a", 1, 3, ZKV_OP_PUT, key, "v");
    CHECK (s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST));
    CHECK_EQ_U64 (s_counters (&fx).busy, 1);
    s_teardown (&fx);
}

// The key and value bytes of the requests waiting are bounded too (max_pending_bytes): past
// it a request is answered "busy" at once, whatever its connection; one always fits; once an
// answer frees bytes, the next fits again.
static void
test_front_max_pending_bytes (void)
{
    s_fix_t fx;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.max_pending_bytes = 100;
    s_setup_with (&fx, &cfg);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 1, 0);
    char big[200];
    memset (big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s_request (&fx, "a", 1, 1, ZKV_OP_PUT, key, big); // alone: fits however big
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 1);
    uint64_t h = s_nth (&fx.host, S_GROUP, 0)->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_request (&fx, "b", 2, 1, ZKV_OP_PUT, key, "v"); // past 100 bytes waiting: busy
    s_effect_t *e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && s_addr_eq (&e->addr, "b"));
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EBUSY_VALUE);
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 0);
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 1, 1, 0, "", 1, "");
    s_clear (&fx.host);
    s_request (&fx, "b", 2, 1, ZKV_OP_PUT, key, "v");
    CHECK (s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST));
    s_teardown (&fx);
}

// The group's queue is full (to_group fails): the request is answered "busy" at once, with this
// node as the leader, and nothing is left waiting.
static void
test_front_group_queue_full (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    fx.host.group_rc = -1;
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    CHECK_EQ_U64 (s_count (&fx.host, S_GROUP), 1);
    uint64_t h = s_nth (&fx.host, S_GROUP, 0)->msg.u.group_request.handle;
    s_effect_t *e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && s_count (&fx.host, S_CLIENT) == 1);
    CHECK (s_addr_eq (&e->addr, "alice"));
    CHECK_EQ_U64 (e->msg.u.client_reply.client_id, 42);
    CHECK_EQ_U64 (e->msg.u.client_reply.seq, 7);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EBUSY_VALUE);
    CHECK_EQ_U64 (e->msg.u.client_reply.leader, 1);
    zkv_front_counters_t c = s_counters (&fx);
    CHECK_EQ_U64 (c.pending, 0);
    CHECK_EQ_U64 (c.busy, 1);
    CHECK_EQ_U64 (c.served, 0);
    s_clear (&fx.host);
    // Nothing waits under that handle: its reply is stale, and no deadline fires.
    s_group_reply (&fx, 1, h, 42, 7, 0, "", 1, "");
    zkv_front_tick (fx.front, 1000000);
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).stale, 1);
    s_teardown (&fx);
}

// The status reply lists every hosted group with its last reported state.
static void
test_front_status (void)
{
    s_fix_t fx;
    s_setup (&fx);
    zkv_group_state_t st1 = {.group = 1,
                             .role = ZKV_ROLE_LEADER,
                             .term = 4,
                             .leader = 1,
                             .commit = 20,
                             .applied = 19,
                             .last_index = 21,
                             .snapshot_index = 8,
                             .log_bytes = 200};
    zkv_front_group_state (fx.front, &st1);
    zkv_group_state_t other = {.group = 2, .role = ZKV_ROLE_LEADER, .leader = 1};
    zkv_front_group_state (fx.front, &other); // not hosted: ignored
    zkv_group_state_t out;
    CHECK (!zkv_front_group (fx.front, 2, &out));
    CHECK (zkv_front_group (fx.front, 1, &out));
    CHECK_EQ_U64 (out.commit, 20);
    zkv_msg_t m = {.type = ZKV_MSG_STATUS_REQUEST};
    m.u.status_request.nonce = 77;
    zkv_front_addr_t a = s_addr ("watcher");
    zkv_front_client (fx.front, &a, &m, 1000);
    s_effect_t *e = s_only (&fx.host, S_CLIENT, ZKV_MSG_STATUS_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "watcher"));
    zkv_status_reply_t r = e->msg.u.status_reply;
    CHECK_EQ_U64 (r.node, 1);
    CHECK_EQ_U64 (r.nonce, 77);
    CHECK_EQ_U64 (r.groups.count, 2);
    CHECK_EQ_U64 (r.roles.count, 2);
    CHECK_EQ_U64 (r.log_bytes.count, 2);
    CHECK_EQ_U64 (r.groups.items[0], 0);
    CHECK_EQ_U64 (r.groups.items[1], 1);
    CHECK_EQ_U64 (r.roles.items[0], 0); // group 0 reported nothing yet
    CHECK_EQ_U64 (r.terms.items[0], 0);
    CHECK_EQ_U64 (r.roles.items[1], ZKV_ROLE_LEADER);
    CHECK_EQ_U64 (r.terms.items[1], 4);
    CHECK_EQ_U64 (r.leaders.items[1], 1);
    CHECK_EQ_U64 (r.commits.items[1], 20);
    CHECK_EQ_U64 (r.applieds.items[1], 19);
    CHECK_EQ_U64 (r.last_indexes.items[1], 21);
    CHECK_EQ_U64 (r.snapshot_indexes.items[1], 8);
    CHECK_EQ_U64 (r.log_bytes.items[1], 200);
    CHECK_EQ_U64 (s_counters (&fx).requests, 0);
    s_teardown (&fx);
}

// The host's microsecond clock, as the test sets it.
static uint64_t s_clock_us;

static uint64_t
h_now_us (void *arg)
{
    (void)arg;
    return s_clock_us;
}

// Every client request answered is counted by kind and outcome with its latency (the host's
// microsecond clock); forwards both ways are counted; status carries the node's uptime, version
// and, for a group it leads, each follower with its lag.
static void
test_front_figures (void)
{
    zkv_front_host_t fns = s_host_fns;
    fns.now_us = h_now_us;
    zkv_front_config_t cfg;
    s_config (&cfg);
    cfg.version = "9.8.7";
    cfg.started_ms = 400;
    cfg.max_pending_per_client = 1;
    s_fix_t fx;
    s_setup_host (&fx, &cfg, &fns);
    uint64_t followers[] = {2, 3}, matches[] = {21, 15};
    zkv_group_state_t st = {.group = 1,
                            .role = ZKV_ROLE_LEADER,
                            .term = 4,
                            .leader = 1,
                            .last_index = 21,
                            .followers = {followers, 2},
                            .matches = {matches, 2}};
    zkv_front_group_state (fx.front, &st);
    matches[1] = 0; // the frontend kept its own copy

    // A get served here, answered 2.5 ms after it came.
    const char *key = s_key (fx.routing, 1, 0);
    s_clock_us = 1000000;
    s_request (&fx, "alice", 42, 1, ZKV_OP_GET, key, "");
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h = e->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_clock_us += 2500;
    s_group_reply (&fx, 1, h, 42, 1, 0, "v", 1, "");
    // Refused at once: a key too large (invalid), a second request in flight from bob (busy).
    char big[8192];
    memset (big, 'k', sizeof big);
    s_request_at (&fx, "carol", 43, 1, ZKV_OP_PUT, big, sizeof big, "v", 1, 0, 1000);
    s_request (&fx, "bob", 44, 1, ZKV_OP_APPEND, key, "x");
    s_request (&fx, "bob", 44, 2, ZKV_OP_APPEND, key, "y");
    // A put for group 2, led by node 4: forwarded, answered "not leader" through node 4.
    s_clear (&fx.host);
    const char *key2 = s_key (fx.routing, 2, 0);
    zkv_group_state_t st0 = {.group = 0, .role = ZKV_ROLE_FOLLOWER, .leader = 2};
    zkv_front_group_state (fx.front, &st0);
    s_request (&fx, "dave", 45, 1, ZKV_OP_PUT, key2, "v");
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    uint64_t fwd = e->msg.u.forward_request.fwd_id, to = e->node;
    s_clear (&fx.host);
    s_forward_reply (&fx, to, 2, fwd, 45, 1, ZKV_ENOTLEADER_VALUE, "", 5, S_NUM);
    // A request another node forwarded here.
    s_forward (&fx, 2, 2, 1, 9, 46, 1, key, 0);

    zkv_front_stats_t fs;
    zkv_front_stats (fx.front, &fs);
    CHECK_EQ_U64 (fs.requests[ZKV_STATS_GET][ZKV_STATS_OK], 1);
    CHECK_EQ_U64 (fs.requests[ZKV_STATS_PUT][ZKV_STATS_INVALID], 1);
    CHECK_EQ_U64 (fs.requests[ZKV_STATS_APPEND][ZKV_STATS_BUSY], 1);
    CHECK_EQ_U64 (fs.requests[ZKV_STATS_PUT][ZKV_STATS_REDIRECT], 1);
    uint64_t answered = 0;
    for (int k = 0; k < ZKV_STATS_KINDS; k++)
        for (int o = 0; o < ZKV_STATS_OUTCOMES; o++)
            answered += fs.requests[k][o];
    CHECK_EQ_U64 (answered, 4); // bob's first append still waits; the forwarded-in one too
    CHECK_EQ_U64 (fs.latency[ZKV_STATS_GET].count, 1);
    CHECK_EQ_U64 (fs.latency[ZKV_STATS_GET].sum_us, 2500);
    CHECK_EQ_U64 (fs.latency[ZKV_STATS_GET].buckets[4], 1); // (1 ms, 2.5 ms]
    CHECK_EQ_U64 (fs.forwarded, 1);
    CHECK_EQ_U64 (fs.forwarded_in, 1);
    CHECK_EQ_U64 (fs.pending, 2);
    CHECK_EQ_U64 (fs.busy, 1);

    s_clear (&fx.host);
    zkv_msg_t m = {.type = ZKV_MSG_STATUS_REQUEST};
    zkv_front_addr_t a = s_addr ("watcher");
    zkv_front_client (fx.front, &a, &m, 5400);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_STATUS_REPLY);
    CHECK (e);
    zkv_status_reply_t r = e->msg.u.status_reply;
    CHECK_EQ_U64 (r.uptime_ms, 5000);
    CHECK (s_bytes_eq (&r.version, "9.8.7"));
    CHECK_EQ_U64 (r.follower_counts.count, 2);
    CHECK_EQ_U64 (r.follower_counts.items[0], 0); // group 0: a follower here
    CHECK_EQ_U64 (r.follower_counts.items[1], 2);
    CHECK_EQ_U64 (r.follower_ids.count, 2);
    CHECK_EQ_U64 (r.follower_ids.items[0], 2);
    CHECK_EQ_U64 (r.follower_ids.items[1], 3);
    CHECK_EQ_U64 (r.follower_lags.count, 2);
    CHECK_EQ_U64 (r.follower_lags.items[0], 0);
    CHECK_EQ_U64 (r.follower_lags.items[1], 6);
    // Followers that do not pair with matches are not believed.
    zkv_group_state_t odd = st;
    odd.matches.count = 1;
    zkv_front_group_state (fx.front, &odd);
    s_clear (&fx.host);
    zkv_front_client (fx.front, &a, &m, 5400);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_STATUS_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.status_reply.follower_ids.count, 0);
    s_teardown (&fx);
}

static bool
s_routing_eq (const zkv_routing_t *a, const zkv_routing_t *b)
{
    return a->num == b->num && a->nshards == b->nshards && a->n_groups == b->n_groups &&
           a->n_members == b->n_members &&
           memcmp (a->shard_group, b->shard_group, a->nshards * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_ids, b->group_ids, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_size, b->group_size, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_first, b->group_first, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->members, b->members, a->n_members * sizeof (uint64_t)) == 0;
}

// The config reply describes the node's routing: through the codec and zkv_routing_from_reply
// it is the same routing.
static void
test_front_config_reply (void)
{
    s_fix_t fx;
    s_setup (&fx);
    zkv_msg_t m = {.type = ZKV_MSG_CONFIG_REQUEST};
    m.u.config_request.nonce = 4242;
    zkv_front_addr_t a = s_addr ("client");
    zkv_front_client (fx.front, &a, &m, 1000);
    s_effect_t *e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CONFIG_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "client"));
    CHECK_EQ_U64 (e->msg.u.config_reply.node, 1);
    CHECK_EQ_U64 (e->msg.u.config_reply.nonce, 4242);
    CHECK_EQ_U64 (e->msg.u.config_reply.num, S_NUM);
    int err = -1;
    zkv_routing_t *r = zkv_routing_from_reply (&e->msg.u.config_reply, &err);
    bool same = r && s_routing_eq (r, fx.routing);
    zkv_routing_destroy (&r);
    CHECK_EQ_U64 (err, 0);
    CHECK (same);
    CHECK_EQ_U64 (fx.host.codec_failures, 0);
    s_teardown (&fx);
}

// A routing numbered no higher than the one held is ignored; a newer one is routed by, and its
// number is what answers carry.
static void
test_front_set_routing_newer_only (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    // The same groups with shards dealt the other way round (even to 2, odd to 1).
    for (uint64_t num = S_NUM - 1; num <= S_NUM + 1; num++) {
        zkv_routing_t *r = s_routing (num);
        for (uint32_t s = 0; s < S_SHARDS; s++)
            r->shard_group[s] = s % 2 ? 1 : 2;
        zkv_front_set_routing (fx.front, r);
        zkv_routing_destroy (&r);
        const zkv_routing_t *now = zkv_front_routing (fx.front);
        if (num <= S_NUM) {
            CHECK_EQ_U64 (now->num, S_NUM);
            CHECK (s_routing_eq (now, fx.routing));
        } else {
            CHECK_EQ_U64 (now->num, num);
            CHECK_EQ_U64 (now->shard_group[0], 2);
            CHECK_EQ_U64 (now->shard_group[1], 1);
        }
    }
    CHECK_EQ_U64 (fx.host.n, 0);
    // A key of group 1 under the old routing now goes to group 2 (forwarded).
    s_request (&fx, "alice", 42, 7, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.forward_request.group, 2);
    s_clear (&fx.host);
    s_request (&fx, "alice", 42, 8, ZKV_OP_PUT, s_key (fx.routing, 2, 0), "v");
    e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t h = e->msg.u.group_request.handle;
    s_clear (&fx.host);
    s_group_reply (&fx, 1, h, 42, 8, 0, "", 1, "");
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_CLIENT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.config, S_NUM + 1);
    s_teardown (&fx);
}

// Messages of a type the other side does not send are counted and dropped.
static void
test_front_malformed (void)
{
    s_fix_t fx;
    s_setup (&fx);
    zkv_msg_t m = {.type = ZKV_MSG_FORWARD_REQUEST};
    zkv_front_addr_t a = s_addr ("x");
    zkv_front_client (fx.front, &a, &m, 1000);
    m.type = ZKV_MSG_CLIENT_REPLY;
    zkv_front_client (fx.front, &a, &m, 1000);
    m.type = ZKV_MSG_CLIENT_REQUEST;
    zkv_front_peer (fx.front, 2, &m, 1000);
    CHECK_EQ_U64 (fx.host.n, 0);
    CHECK_EQ_U64 (s_counters (&fx).malformed, 3);
    CHECK_EQ_U64 (s_counters (&fx).requests, 0);
    s_teardown (&fx);
}

// Destroyed with requests waiting (served, forwarded to a leader, forwarded to a member):
// nothing leaks (LeakSanitizer checks under ZKV_SANITIZE), nothing is answered.
static void
test_front_destroy_with_pending (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    for (uint64_t i = 0; i < 200; i++) {
        char from[16]; // clients of their own: one connection holds max_pending_per_client
        snprintf (from, sizeof from, "a%" PRIu64, i);
        s_request (&fx, from, 1, i + 1, ZKV_OP_PUT, s_key (fx.routing, 1 + i % 2, (int)i), "v");
        s_clear (&fx.host);
    }
    s_state (&fx, 1, ZKV_ROLE_FOLLOWER, 2);
    s_request (&fx, "a", 1, 1000, ZKV_OP_PUT, s_key (fx.routing, 1, 0), "v");
    CHECK_EQ_U64 (s_counters (&fx).pending, 201);
    s_clear (&fx.host);
    zkv_front_destroy (&fx.front);
    CHECK (fx.front == NULL);
    CHECK_EQ_U64 (fx.host.n, 0);
    s_teardown (&fx);
}

// A save's chunk (snapshot_request): to the group's replica here when it leads (op
// ZKV_OP_SNAPSHOT, the request as the key), its answer (a snapshot_reply as the value) back to
// the client as a snapshot_reply with the nonce and this node; forwarded to the leader
// elsewhere; refused for a group nobody knows, and as a client_request op.
static void
s_save_request (s_fix_t *fx, const char *from, uint64_t nonce, uint64_t group)
{
    zkv_msg_t m = {.type = ZKV_MSG_SNAPSHOT_REQUEST};
    m.u.snapshot_request = (zkv_snapshot_request_t){.nonce = nonce, .group = group, .max_bytes = 99};
    zkv_front_addr_t a = s_addr (from);
    zkv_front_client (fx->front, &a, &m, 1000);
}

static void
test_front_save_chunks (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    s_save_request (&fx, "bob", 77, 1);
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    zkv_group_request_t q = e->msg.u.group_request;
    CHECK_EQ_U64 (q.group, 1);
    CHECK_EQ_U64 (q.op, ZKV_OP_SNAPSHOT);
    zkv_msg_t inner;
    CHECK (zkv_msg_decode (q.key.data, q.key.len, &inner) == 0);
    CHECK (inner.type == ZKV_MSG_SNAPSHOT_REQUEST);
    CHECK_EQ_U64 (inner.u.snapshot_request.nonce, 77);
    CHECK_EQ_U64 (inner.u.snapshot_request.max_bytes, 99);
    zkv_msg_free (&inner);
    uint64_t handle = q.handle, client = q.client_id, seq = q.seq;
    s_clear (&fx.host);

    // The group's answer: a snapshot_reply in the value.
    zkv_msg_t chunk = {.type = ZKV_MSG_SNAPSHOT_REPLY};
    chunk.u.snapshot_reply = (zkv_snapshot_reply_t){
        .save_id = 5, .index = 40, .term = 2, .done = true, .data = {(uint8_t *)"state", 5}};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK (zkv_msg_encode (&chunk, &buf, &len) == 0);
    zkv_group_reply_t r = {.group = 1, .handle = handle, .client_id = client, .seq = seq,
                           .value = {buf, len}, .leader = 1};
    zkv_front_group_reply (fx.front, &r);
    free (buf);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_SNAPSHOT_REPLY);
    CHECK (e);
    CHECK (s_addr_eq (&e->addr, "bob"));
    zkv_snapshot_reply_t got = e->msg.u.snapshot_reply;
    CHECK_EQ_U64 (got.nonce, 77);
    CHECK_EQ_U64 (got.node, 1);
    CHECK_EQ_U64 (got.group, 1);
    CHECK_EQ_U64 (got.status, 0);
    CHECK_EQ_U64 (got.save_id, 5);
    CHECK_EQ_U64 (got.index, 40);
    CHECK (got.done);
    CHECK (s_bytes_eq (&got.data, "state"));
    s_clear (&fx.host);

    // An error from the group reaches the client with its text.
    s_save_request (&fx, "bob", 78, 1);
    e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    q = e->msg.u.group_request;
    handle = q.handle, client = q.client_id, seq = q.seq;
    s_clear (&fx.host);
    s_group_reply (&fx, 1, handle, client, seq, ZKV_EBUSY_VALUE, "", 1, "too many saves");
    e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && e->msg.type == ZKV_MSG_SNAPSHOT_REPLY);
    CHECK_EQ_U64 (e->msg.u.snapshot_reply.nonce, 78);
    CHECK_EQ_U64 (e->msg.u.snapshot_reply.status, ZKV_EBUSY_VALUE);
    CHECK (s_bytes_eq (&e->msg.u.snapshot_reply.error, "too many saves"));
    s_clear (&fx.host);

    // Group 2 is led elsewhere (nodes 4..6): forwarded once, the save's op and key with it.
    s_save_request (&fx, "bob", 79, 2);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.forward_request.op, ZKV_OP_SNAPSHOT);
    CHECK_EQ_U64 (e->msg.u.forward_request.group, 2);
    s_clear (&fx.host);

    // A group nobody knows, and the internal ops in a client_request: refused.
    s_save_request (&fx, "bob", 80, 9);
    e = s_only (&fx.host, S_CLIENT, ZKV_MSG_SNAPSHOT_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.snapshot_reply.status, ZKV_ENOTFOUND_VALUE);
    CHECK_EQ_U64 (e->msg.u.snapshot_reply.nonce, 80);
    s_clear (&fx.host);
    s_request (&fx, "bob", 42, 1, ZKV_OP_SNAPSHOT, "k", "");
    e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && e->msg.type == ZKV_MSG_CLIENT_REPLY);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EINVAL_VALUE);
    s_clear (&fx.host);
    s_request (&fx, "bob", 42, 2, ZKV_OP_NODES, "ctrl", "x");
    e = s_nth (&fx.host, S_CLIENT, 0);
    CHECK (e && e->msg.type == ZKV_MSG_CLIENT_REPLY);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EINVAL_VALUE);
    CHECK_EQ_U64 (fx.host.codec_failures, 0);
    s_teardown (&fx);
}

// clang-format off
// A client that names the group routes by its own configuration: the request goes there, even
// where this node's routing gives the key another group.
static void
test_front_client_names_group (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    const char *key = s_key (fx.routing, 2, 0);
    zkv_msg_t m = {.type = ZKV_MSG_CLIENT_REQUEST};
    zkv_client_request_t *r = &m.u.client_request;
    r->client_id = 7;
    r->seq = 1;
    r->op = ZKV_OP_PUT;
    r->key = (zkv_bytes_t){(uint8_t *)key, strlen (key)};
    r->value = (zkv_bytes_t){(uint8_t *)"v", 1};
    r->group = 1;
    zkv_front_addr_t a = s_addr ("c1");
    zkv_front_client (fx.front, &a, &m, 1000);
    s_effect_t *e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_request.group, 1);
    s_clear (&fx.host);
    // A client may not send a group's own ops.
    r->op = ZKV_OP_PULL;
    zkv_front_client (fx.front, &a, &m, 1000);
    e = s_nth (&fx.host, S_CLIENT, 0); // and its error event
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.client_reply.status, ZKV_EINVAL_VALUE);
    s_teardown (&fx);
}

static void
s_call (s_fix_t *fx, uint64_t from, uint64_t id, uint64_t to, const uint64_t *members, size_t n,
        uint64_t op)
{
    zkv_group_call_t c = {.group = from,
                          .call_id = id,
                          .to_group = to,
                          .members = {(uint64_t *)members, n},
                          .op = op,
                          .key = {(uint8_t *)"ref", 3},
                          .deadline_ms = 500};
    zkv_front_call (fx->front, &c, 1000);
}

// A hosted group's calls: to a group led here (a group_request), to one this node does not
// know (forwarded to a member the caller named), answered to the caller; bad ops and deadlines.
static void
test_front_calls (void)
{
    s_fix_t fx;
    s_setup (&fx);
    s_state (&fx, 1, ZKV_ROLE_LEADER, 1);
    // Group 1 asks group 0, which this node hosts but does not lead: forwarded to its leader.
    s_state (&fx, 0, ZKV_ROLE_FOLLOWER, 3);
    s_call (&fx, 1, 11, 0, NULL, 0, ZKV_OP_QUERY);
    s_effect_t *e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 3);
    uint64_t fwd = e->msg.u.forward_request.fwd_id;
    uint64_t client = e->msg.u.forward_request.client_id, seq = e->msg.u.forward_request.seq;
    CHECK_EQ_U64 (seq, 11);
    s_clear (&fx.host);
    s_forward_reply (&fx, 3, 0, fwd, client, seq, 0, "config", 3, S_NUM);
    e = s_only (&fx.host, S_CALLER, ZKV_MSG_GROUP_CALL_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.group, 1);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.call_id, 11);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.status, 0);
    CHECK (s_bytes_eq (&e->msg.u.group_call_reply.value, "config"));
    s_clear (&fx.host);
    // Group 1 pulls from group 9, unknown here: to one of the members it named.
    const uint64_t members[] = {8};
    s_call (&fx, 1, 12, 9, members, 1, ZKV_OP_PULL);
    e = s_only (&fx.host, S_NODE, ZKV_MSG_FORWARD_REQUEST);
    CHECK (e);
    CHECK_EQ_U64 (e->node, 8);
    CHECK_EQ_U64 (e->msg.u.forward_request.group, 9);
    s_clear (&fx.host);
    // ... unanswered: the caller hears "timed out" at the deadline.
    zkv_front_tick (fx.front, 1000 + 600);
    e = s_nth (&fx.host, S_CALLER, 0); // and its error event
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.call_id, 12);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.status, ZKV_ETIMEOUT_VALUE);
    s_clear (&fx.host);
    // To a group led here: a group_request, its reply to the caller.
    s_call (&fx, 0, 13, 1, NULL, 0, ZKV_OP_HAVE);
    e = s_only (&fx.host, S_GROUP, ZKV_MSG_GROUP_REQUEST);
    CHECK (e);
    uint64_t handle = e->msg.u.group_request.handle;
    client = e->msg.u.group_request.client_id;
    s_clear (&fx.host);
    s_group_reply (&fx, 1, handle, client, 13, ZKV_ENOTREADY_VALUE, "", 1, "not yet");
    e = s_only (&fx.host, S_CALLER, ZKV_MSG_GROUP_CALL_REPLY);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.group, 0);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.status, ZKV_ENOTREADY_VALUE);
    s_clear (&fx.host);
    // Not a call's op: refused to the caller.
    s_call (&fx, 1, 14, 0, NULL, 0, ZKV_OP_PUT);
    e = s_nth (&fx.host, S_CALLER, 0);
    CHECK (e);
    CHECK_EQ_U64 (e->msg.u.group_call_reply.status, ZKV_EINVAL_VALUE);
    CHECK_EQ_U64 (fx.host.codec_failures, 0);
    s_teardown (&fx);
}

// A configuration a hosted group applied becomes the routing when it is newer.
static void
test_front_group_config (void)
{
    s_fix_t fx;
    s_setup (&fx);
    zkv_routing_t *newer = s_routing (S_NUM + 1), *older = s_routing (S_NUM - 1);
    for (uint32_t s = 0; s < S_SHARDS; s++) {
        newer->shard_group[s] = 1;
        older->shard_group[s] = 2;
    }
    zkv_bytes_t enc = {0};
    CHECK_EQ_U64 (zkv_routing_encode (newer, &enc), 0);
    zkv_front_group_config (fx.front, enc.data, enc.len);
    zkv_bytes_free (&enc);
    CHECK_EQ_U64 (zkv_front_routing (fx.front)->num, S_NUM + 1);
    CHECK_EQ_U64 (zkv_front_routing (fx.front)->shard_group[1], 1);
    CHECK_EQ_U64 (zkv_routing_encode (older, &enc), 0);
    zkv_front_group_config (fx.front, enc.data, enc.len);
    zkv_bytes_free (&enc);
    CHECK_EQ_U64 (zkv_front_routing (fx.front)->num, S_NUM + 1);
    zkv_front_group_config (fx.front, (const uint8_t *)"junk", 4); // ignored, no crash
    CHECK_EQ_U64 (zkv_front_routing (fx.front)->num, S_NUM + 1);
    zkv_routing_destroy (&newer);
    zkv_routing_destroy (&older);
    s_teardown (&fx);
}

ZKV_TEST_MAIN (TEST (test_front_figures) TEST (test_front_client_names_group) TEST (test_front_calls)
               TEST (test_front_group_config) 
    TEST (test_front_new_refuses_bad_config)
    TEST (test_front_session_fields)
    TEST (test_front_config_log_ms_at_least_wall_clock)
    TEST (test_front_serves_led_group)
    TEST (test_front_group_reply_must_match)
    TEST (test_front_group_error_reply)
    TEST (test_front_forwards_once_to_leader)
    TEST (test_front_forward_reply_must_match)
    TEST (test_front_handles_not_crossed)
    TEST (test_front_relays_to_the_right_client)
    TEST (test_front_forwarded_never_forwarded_again)
    TEST (test_front_forwarded_served_here)
    TEST (test_front_forward_from_strangers_dropped)
    TEST (test_front_not_hosted_member_then_hint)
    TEST (test_front_routes_by_shard)
    TEST (test_front_forward_for_other_group)
    TEST (test_front_no_group_for_shard)
    TEST (test_front_limits)
    TEST (test_front_deadline_exact)
    TEST (test_front_deadline_default_and_clamp)
    TEST (test_front_deadline_sweep)
    TEST (test_front_forwarded_times_out)
    TEST (test_front_max_pending) TEST (test_front_max_pending_per_client) TEST (test_front_max_pending_bytes)
    TEST (test_front_group_queue_full)
    TEST (test_front_status)
    TEST (test_front_config_reply)
    TEST (test_front_set_routing_newer_only)
    TEST (test_front_malformed)
    TEST (test_front_destroy_with_pending)
    TEST (test_front_save_chunks))
// clang-format on
