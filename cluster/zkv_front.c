// The frontend core (zkv_front.h): routing, forwarding, deadlines and answers.
#include "zkv_front.h"
#include "zkv_alloc.h"
#include "zkv_kv.h"
#include "zkv_raft.h"
#include "zkv_u64map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// Where an answer goes.
typedef enum {
    S_TO_CLIENT = 1, // a client of this node
    S_TO_ORIGIN = 2, // a request another node forwarded here: forward_reply to it
    S_TO_CALLER = 3, // a hosted group's call: group_call_reply to it
    S_TO_CONFIG = 4, // a client's config_request, asked of the controller: config_reply to it
    S_TO_SAVE = 5,   // a client's snapshot_request (a save's chunk): snapshot_reply to it
} s_kind_t;

// The client id a call carries (its seq is the call id): the calling group with the top bit
// set, which no client library draws (zkv_client.h draws ids below 2^63).
#define S_CALL_CLIENT(group) ((1ULL << 63) | (group))
// The client id a save's request carries to its group (its seq is the frontend's count).
#define S_SAVE_CLIENT ((1ULL << 63) | (1ULL << 62))

// A request waiting for its answer, under its handle.
typedef struct {
    uint64_t handle;       // this frontend's id of it (a forward's fwd_id)
    uint8_t kind;          // s_kind_t
    bool forwarded;        // sent on to forwarded_to, waiting for its forward_reply
    uint64_t forwarded_to; // ... that node
    zkv_front_addr_t addr; // S_TO_CLIENT: the client
    uint64_t origin_node;  // S_TO_ORIGIN: the node to answer
    uint64_t fwd_id;       // S_TO_ORIGIN: its id of the forward
    uint64_t caller;       // S_TO_CALLER: the calling group
    uint64_t call_id;      // S_TO_CALLER: its id of the call; S_TO_CONFIG, S_TO_SAVE: the
                           // request's nonce
    uint64_t group;        // the group it was routed to
    uint64_t client_id;    // the request's client
    uint64_t seq;          // ... sequence number
    uint64_t op;           // ... op
    uint64_t session_t0;   // ... session_t0 (zkv_kv.h, "Client sessions"), passed on
    uint64_t cond;         // ... condition (ZKV_COND_*), passed on
    uint64_t expect_rev;   // ... its expected revision
    zkv_bytes_t expect;    // ... its expected value: borrowed from the request, valid only
                           // while it is served (s_serve); never kept (s_wait clears it)
    uint64_t revision;     // the answer's revision (the key's), set when it is answered
    uint64_t deadline;     // host ms after which it is answered "timed out"
    uint64_t bytes;        // its key and value bytes, on their way through the node
    uint64_t start_us;     // S_TO_CLIENT: host us when it arrived (its latency counts from it)
} s_pending_t;

struct zkv_front {
    zkv_front_config_t cfg;       // as given
    const zkv_front_host_t *host; // effects
    void *host_arg;               //
    zkv_routing_t *routing;       // the configuration routed by (owned)
    uint64_t *groups;             // hosted groups
    zkv_group_state_t *states;    // their last reported states (group 0: none yet); each
                                  // one's shard_states bytes are owned here
    uint64_t *hints;              // the leader last heard of per routing group (0: none)
    zkv_u64map_t pending;         // handle -> s_pending_t
    zkv_u64map_t per_client;      // hash of a client address -> its pending count (a
                                  // uintptr_t; addresses that collide share one count)
    uint64_t next_handle;         // handles
    uint64_t pending_bytes;       // key and value bytes of the requests waiting
    uint64_t config_asks;         // config requests asked of the controller (their seqs)
    uint64_t save_asks;           // snapshot requests routed (their seqs)
    uint64_t next_sweep;          // host ms of the next deadline sweep
    uint64_t *keys;               // scratch for sweeps
    size_t cap_keys;              //
    zkv_front_counters_t counters;
    uint64_t now_ms;              // the latest now_ms an input brought
    uint64_t requests[ZKV_STATS_KINDS][ZKV_STATS_OUTCOMES]; // client requests answered
    zkv_stats_hist_t latency[ZKV_STATS_KINDS];              // ... their latencies
};

void
zkv_front_config_defaults (zkv_front_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->max_key_bytes = 4096;
    cfg->max_value_bytes = 1024 * 1024;
    cfg->max_pending = 65536;
    cfg->max_pending_per_client = 64;
    cfg->max_pending_bytes = 64 * 1024 * 1024;
    cfg->default_deadline_ms = 30000;
    cfg->max_deadline_ms = 60000;
    cfg->sweep_ms = 50;
}

zkv_front_t *
zkv_front_new (const zkv_front_config_t *cfg, const zkv_routing_t *routing,
               const zkv_front_host_t *host, void *host_arg)
{
    assert (cfg && routing && host);
    if (cfg->node == 0 || cfg->max_pending == 0 || cfg->max_pending_per_client == 0 ||
        cfg->max_deadline_ms == 0 || cfg->sweep_ms == 0)
        return NULL;
    zkv_front_t *self = zkv_calloc (1, sizeof *self);
    self->cfg = *cfg;
    self->host = host;
    self->host_arg = host_arg;
    self->routing = zkv_routing_dup (routing);
    self->groups = zkv_calloc (cfg->n_groups, sizeof (uint64_t));
    if (cfg->n_groups)
        memcpy (self->groups, cfg->groups, cfg->n_groups * sizeof (uint64_t));
    self->cfg.groups = self->groups;
    self->states = zkv_calloc (cfg->n_groups, sizeof (zkv_group_state_t));
    for (size_t i = 0; i < cfg->n_groups; i++)
        self->states[i].group = cfg->groups[i];
    self->hints = zkv_calloc (routing->n_groups, sizeof (uint64_t));
    return self;
}

void
zkv_front_destroy (zkv_front_t **self_p)
{
    zkv_front_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->pending.capacity; i++)
        free (self->pending.slots[i].value);
    zkv_u64map_free (&self->pending);
    zkv_u64map_free (&self->per_client);
    zkv_routing_destroy (&self->routing);
    free (self->groups);
    for (size_t i = 0; i < self->cfg.n_groups; i++) {
        zkv_bytes_free (&self->states[i].shard_states);
        zkv_u64s_free (&self->states[i].followers);
        zkv_u64s_free (&self->states[i].matches);
    }
    free (self->states);
    free (self->hints);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

static int
s_slot (const zkv_front_t *self, uint64_t group)
{
    for (size_t i = 0; i < self->cfg.n_groups; i++)
        if (self->groups[i] == group)
            return (int)i;
    return -1;
}

static uint64_t *
s_hint (zkv_front_t *self, uint64_t group)
{
    for (size_t i = 0; i < self->routing->n_groups; i++)
        if (self->routing->group_ids[i] == group)
            return &self->hints[i];
    return NULL;
}

// --- answers -----------------------------------------------------------------------------------

static void
s_error_event (zkv_front_t *self, const s_pending_t *p, uint64_t status, const zkv_bytes_t *error)
{
    zkv_msg_t ev = {.type = ZKV_MSG_EVENT_CLIENT_ERROR};
    zkv_event_client_error_t *e = &ev.u.event_client_error;
    e->node = self->cfg.node;
    e->group = p->group;
    e->client_id = p->client_id;
    e->seq = p->seq;
    e->op = p->op;
    e->status = status;
    e->error = *error;
    self->host->event (self->host_arg, "zkv.client.error", &ev);
}

static void s_config (zkv_front_t *self, const zkv_front_addr_t *to, uint64_t nonce);

// Now, in the host's microseconds (the latest input's ms without a finer clock).
static uint64_t
s_now_us (const zkv_front_t *self)
{
    return self->host->now_us ? self->host->now_us (self->host_arg) : self->now_ms * 1000;
}

// The newest log time the hosted groups reported (0: none): what answers that no group gave
// carry as log_ms. Any group's applied log time will do for a client's session_t0 (zkv_kv.h,
// "Client sessions"): it is a time some leader's clock had reached.
static uint64_t
s_log_ms (const zkv_front_t *self)
{
    uint64_t ms = 0;
    for (size_t i = 0; i < self->cfg.n_groups; i++)
        if (self->states[i].log_ms > ms)
            ms = self->states[i].log_ms;
    return ms;
}

// Answers p, wherever it came from. status: 0 or a positive ZKV_E* value; error: the text
// (empty: none). config: the configuration number of the node that answered; log_ms: the log
// time of the group that answered. publish: an error is published as an event here (not when
// relaying another node's answer).
static void
s_deliver (zkv_front_t *self, const s_pending_t *p, uint64_t status, const zkv_bytes_t *value,
           uint64_t leader, const zkv_bytes_t *error, uint64_t config, uint64_t log_ms,
           bool publish)
{
    zkv_bytes_t none = {0};
    if (!value)
        value = &none;
    // Redirections and "not yet" are part of normal operation, not events worth publishing;
    // so are "session expired", which sends every client new to a shard that evicted sessions
    // to a new session (counted by the group instead), "leader lost", which every write in
    // flight gets when a leader steps down (zkv.raft events tell of that), and a missing key
    // and a failed condition: answers, not errors.
    // A configuration the node asked of the controller for a config_request is no client's
    // request: a status page asking while the controller elects is not an error to report.
    if (publish && p->kind != S_TO_CONFIG && status && status != ZKV_ENOTLEADER_VALUE &&
        status != ZKV_EWRONGGROUP_VALUE &&
        status != ZKV_ENOTREADY_VALUE && status != ZKV_ENOTFOUND_VALUE &&
        status != ZKV_ESESSION_VALUE && status != ZKV_ELEADERLOST_VALUE &&
        status != ZKV_ECOMPARE_VALUE)
        s_error_event (self, p, status, error);
    self->counters.answered++;
    zkv_msg_t m = {0};
    if (p->kind == S_TO_CLIENT) {
        zkv_stats_kind_t kind = zkv_stats_kind_of (p->op);
        self->requests[kind][zkv_stats_outcome_of (status)]++;
        uint64_t now = s_now_us (self);
        zkv_stats_hist_observe (&self->latency[kind], now > p->start_us ? now - p->start_us : 0);
        m.type = ZKV_MSG_CLIENT_REPLY;
        zkv_client_reply_t *r = &m.u.client_reply;
        r->client_id = p->client_id;
        r->seq = p->seq;
        r->status = status;
        r->value = *value;
        r->leader = leader;
        r->error = *error;
        r->config = config;
        r->log_ms = log_ms;
        r->revision = p->revision;
        self->host->to_client (self->host_arg, &p->addr, &m);
    } else if (p->kind == S_TO_CONFIG) {
        // The controller's latest configuration: route by it from now on, and answer with
        // what the node routes by (the older one when the controller did not answer).
        if (status == 0)
            zkv_front_group_config (self, value->data, value->len);
        s_config (self, &p->addr, p->call_id);
    } else if (p->kind == S_TO_SAVE) {
        // The group's answer is a snapshot_reply (its value); this node fills in who answers.
        m.type = ZKV_MSG_SNAPSHOT_REPLY;
        zkv_msg_t chunk = {0};
        if (status == 0 && (zkv_msg_decode (value->data, value->len, &chunk) != 0 ||
                            chunk.type != ZKV_MSG_SNAPSHOT_REPLY)) {
            zkv_msg_free (&chunk);
            status = ZKV_EPROTO_VALUE; // a group's own encoding: cannot happen
        }
        if (status == 0)
            m.u.snapshot_reply = chunk.u.snapshot_reply; // shallow: chunk keeps the bytes
        zkv_snapshot_reply_t *r = &m.u.snapshot_reply;
        r->node = self->cfg.node;
        r->nonce = p->call_id;
        r->group = p->group;
        r->status = status;
        r->error = *error;
        r->leader = leader;
        self->host->to_client (self->host_arg, &p->addr, &m);
        zkv_msg_free (&chunk);
    } else if (p->kind == S_TO_CALLER) {
        m.type = ZKV_MSG_GROUP_CALL_REPLY;
        zkv_group_call_reply_t *r = &m.u.group_call_reply;
        r->group = p->caller;
        r->call_id = p->call_id;
        r->status = status;
        r->value = *value;
        if (self->host->to_caller)
            self->host->to_caller (self->host_arg, &m);
    } else {
        m.type = ZKV_MSG_FORWARD_REPLY;
        zkv_forward_reply_t *r = &m.u.forward_reply;
        r->group = p->group;
        r->fwd_id = p->fwd_id;
        r->client_id = p->client_id;
        r->seq = p->seq;
        r->status = status;
        r->value = *value;
        r->leader = leader;
        r->error = *error;
        r->config = config;
        r->log_ms = log_ms;
        r->revision = p->revision;
        self->host->to_node (self->host_arg, p->origin_node, &m);
    }
}

// Answers p with a status (0 or positive) and an error text (NULL: the status's own).
static void
s_answer (zkv_front_t *self, const s_pending_t *p, uint64_t status, const zkv_bytes_t *value,
          uint64_t leader, const char *error, uint64_t config, uint64_t log_ms)
{
    if (!error)
        error = status ? zkv_strerror (-(int)status) : "";
    zkv_bytes_t e = {(uint8_t *)error, strlen (error)};
    s_deliver (self, p, status, value, leader, &e, config, log_ms, true);
}

static void
s_answer_now (zkv_front_t *self, const s_pending_t *p, int rc, uint64_t leader, const char *error)
{
    s_answer (self, p, (uint64_t)-rc, NULL, leader, error, self->routing->num, s_log_ms (self));
}

// --- routing -----------------------------------------------------------------------------------

// FNV-1a of a client address, the key of its pending count.
static uint64_t
s_addr_key (const zkv_front_addr_t *a)
{
    uint64_t h = 14695981039346656037ULL;
    for (uint16_t i = 0; i < a->len && i < sizeof a->data; i++)
        h = (h ^ a->data[i]) * 1099511628211ULL;
    return h;
}

// True for a request a client of this node sent (a key's, or a save's chunk).
static bool
s_from_client (const s_pending_t *p)
{
    return p->kind == S_TO_CLIENT || p->kind == S_TO_SAVE;
}

// Requests pending from p's client address (0 for requests that do not come from a client).
static size_t
s_client_pending (const zkv_front_t *self, const s_pending_t *p)
{
    if (!s_from_client (p))
        return 0;
    return (size_t)(uintptr_t)zkv_u64map_get (&self->per_client, s_addr_key (&p->addr));
}

static void
s_client_count (zkv_front_t *self, const s_pending_t *p, int delta)
{
    if (!s_from_client (p))
        return;
    uint64_t key = s_addr_key (&p->addr);
    size_t n = (size_t)(uintptr_t)zkv_u64map_get (&self->per_client, key);
    n = delta > 0 ? n + 1 : n ? n - 1 : 0;
    if (n)
        zkv_u64map_put (&self->per_client, key, (void *)(uintptr_t)n);
    else
        zkv_u64map_remove (&self->per_client, key);
}

static s_pending_t *
s_wait (zkv_front_t *self, const s_pending_t *p)
{
    s_pending_t *w = (s_pending_t *)malloc (sizeof *w);
    if (!w)
        abort ();
    *w = *p;
    w->expect = (zkv_bytes_t){0}; // the request's bytes go away when s_serve returns
    w->handle = ++self->next_handle;
    zkv_u64map_put (&self->pending, w->handle, w);
    s_client_count (self, w, +1);
    self->pending_bytes += w->bytes;
    return w;
}

// Takes p out of the table (the caller frees it).
static void
s_forget (zkv_front_t *self, const s_pending_t *p)
{
    zkv_u64map_remove (&self->pending, p->handle);
    s_client_count (self, p, -1);
    self->pending_bytes -= p->bytes;
}

// True for the ops a group's mover sends another group (their key is a message, not a key).
static bool
s_is_call_op (uint64_t op)
{
    return op == ZKV_OP_PULL || op == ZKV_OP_HAVE;
}

// Routes one request (a client's, a call's, or one forwarded here). want_group: the group its
// sender routed it to (0: route it here); hint: members of that group, for a node that does
// not know it (may be NULL).
static void
s_serve (zkv_front_t *self, s_pending_t *p, const zkv_bytes_t *key, const zkv_bytes_t *value,
         uint64_t deadline_ms, uint64_t want_group, const zkv_u64s_t *hint, uint64_t now)
{
    if (deadline_ms == 0)
        deadline_ms = self->cfg.default_deadline_ms;
    else if (deadline_ms > self->cfg.max_deadline_ms)
        deadline_ms = self->cfg.max_deadline_ms;
    p->deadline = now + deadline_ms;
    bool ctrl = p->op >= ZKV_OP_JOIN && p->op <= ZKV_OP_QUERY;
    if (ctrl) {
        // The shard controller's commands and queries go to group 0, whatever their key.
        if (value->len > self->cfg.max_value_bytes || key->len > 8) {
            s_answer_now (self, p,
                          value->len > self->cfg.max_value_bytes ? ZKV_ETOOBIG : ZKV_EINVAL, 0,
                          key->len > 8 ? "a query's key is a configuration number" : NULL);
            return;
        }
        p->group = 0;
    } else if (p->op == ZKV_OP_SNAPSHOT) {
        // A save's chunk: its key is the snapshot_request, for the group it names, served by
        // that group's leader.
        size_t n = 0;
        if (key->len > 256 || value->len || (!zkv_routing_members (self->routing, want_group, &n) &&
                                              s_slot (self, want_group) < 0)) {
            s_answer_now (self, p, key->len > 256 || value->len ? ZKV_EINVAL : ZKV_ENOTFOUND, 0,
                          key->len > 256 || value->len ? "not a snapshot request"
                                                       : "no such group in this node's configuration");
            return;
        }
        p->group = want_group;
    } else if (s_is_call_op (p->op)) {
        // Another group's pull or question: its key is a small message naming a shard.
        if (key->len > self->cfg.max_key_bytes + 256 || value->len || want_group == 0) {
            s_answer_now (self, p, ZKV_EINVAL, 0, "not a shard request");
            return;
        }
        p->group = want_group;
    } else {
        zkv_kv_limits_t limits = {.max_key_bytes = self->cfg.max_key_bytes,
                                  .max_value_bytes = self->cfg.max_value_bytes};
        int rc = zkv_kv_check (&limits, p->op, key->len, p->op == ZKV_OP_GET ? 0 : value->len);
        if (rc == 0 && (p->op == ZKV_OP_GET || p->op == ZKV_OP_DELETE) && value->len)
            rc = ZKV_EINVAL;
        zkv_kv_cond_t cond = {.cond = p->cond,
                              .expect = p->expect.data,
                              .expect_len = p->expect.len,
                              .expect_rev = p->expect_rev};
        bool bad_cond = rc == 0 && (rc = zkv_kv_cond_check (&limits, p->op, &cond)) != 0;
        if (rc) {
            s_answer_now (self, p, rc, 0,
                          rc == ZKV_ETOOBIG ? (key->len > limits.max_key_bytes ? "key too large"
                                                                               : "value too large")
                          : key->len == 0   ? "empty key"
                          : bad_cond        ? "invalid condition"
                          : p->op == ZKV_OP_GET && value->len    ? "a get carries no value"
                          : p->op == ZKV_OP_DELETE && value->len ? "a delete carries no value"
                                                                 : "unknown op");
            return;
        }
        // The group the sender routed it to, by its configuration (the group itself says
        // "wrong group" if it does not serve the key now); else the newest one known here.
        p->group =
            want_group ? want_group : zkv_routing_group_of (self->routing, key->data, key->len);
        if (p->group == 0) {
            s_answer_now (self, p, ZKV_EWRONGGROUP, 0, "no group serves this key's shard");
            return;
        }
    }
    if (self->pending.count >= self->cfg.max_pending) {
        self->counters.busy++;
        s_answer_now (self, p, ZKV_EBUSY, 0, "too many requests waiting");
        return;
    }
    // Their bytes too: 65,536 requests of 1 MiB values would be 64 GiB on their way to the
    // groups. One always fits.
    p->bytes = (uint64_t)key->len + value->len + p->expect.len;
    if (self->cfg.max_pending_bytes && self->pending.count &&
        self->pending_bytes + p->bytes > self->cfg.max_pending_bytes) {
        self->counters.busy++;
        s_answer_now (self, p, ZKV_EBUSY, 0, "too many bytes of requests waiting");
        return;
    }
    if (s_client_pending (self, p) >= self->cfg.max_pending_per_client) {
        self->counters.busy++;
        s_answer_now (self, p, ZKV_EBUSY, 0, "too many requests in flight from this client");
        return;
    }
    int slot = s_slot (self, p->group);
    uint64_t leader = 0;
    if (slot >= 0) {
        const zkv_group_state_t *st = &self->states[slot];
        if (st->role == ZKV_ROLE_LEADER) {
            s_pending_t *w = s_wait (self, p);
            zkv_msg_t m = {.type = ZKV_MSG_GROUP_REQUEST};
            zkv_group_request_t *q = &m.u.group_request;
            q->group = p->group;
            q->handle = w->handle;
            q->client_id = p->client_id;
            q->seq = p->seq;
            q->op = p->op;
            q->key = *key;
            q->value = *value;
            q->deadline_ms = deadline_ms;
            q->session_t0 = p->session_t0;
            q->cond = p->cond;
            q->expect = p->expect;
            q->expect_rev = p->expect_rev;
            if (self->host->to_group (self->host_arg, &m) != 0) {
                s_forget (self, w);
                free (w);
                self->counters.busy++;
                s_answer_now (self, p, ZKV_EBUSY, self->cfg.node, "the group's queue is full");
                return;
            }
            self->counters.served++;
            return;
        }
        leader = st->leader;
    } else {
        // Not hosted here: the leader last heard of, else a member (spread over them), from
        // this node's configuration or the sender's hint.
        uint64_t *h = s_hint (self, p->group);
        leader = h ? *h : 0;
        size_t n = 0;
        const uint64_t *members = zkv_routing_members (self->routing, p->group, &n);
        if (!members && hint && hint->count) {
            members = hint->items;
            n = hint->count;
        }
        if (!leader && n)
            leader = members[(p->client_id + p->seq) % n];
    }
    // A request is forwarded at most once: a forwarded request that finds no leader here is
    // answered with the hint, and the client follows it.
    if (p->kind != S_TO_ORIGIN && leader && leader != self->cfg.node) {
        s_pending_t *w = s_wait (self, p);
        w->forwarded = true;
        w->forwarded_to = leader;
        zkv_msg_t m = {.type = ZKV_MSG_FORWARD_REQUEST};
        zkv_forward_request_t *f = &m.u.forward_request;
        f->group = p->group;
        f->origin_node = self->cfg.node;
        f->fwd_id = w->handle;
        f->client_id = p->client_id;
        f->seq = p->seq;
        f->op = p->op;
        f->key = *key;
        f->value = *value;
        f->deadline_ms = deadline_ms;
        f->session_t0 = p->session_t0;
        f->cond = p->cond;
        f->expect = p->expect;
        f->expect_rev = p->expect_rev;
        self->counters.forwarded++;
        self->host->to_node (self->host_arg, leader, &m);
        return;
    }
    s_answer_now (self, p, ZKV_ENOTLEADER, leader, NULL);
}

// --- status and configuration --------------------------------------------------------------

static void
s_status (zkv_front_t *self, const zkv_front_addr_t *to, uint64_t nonce)
{
    size_t n = self->cfg.n_groups;
    uint64_t *cols[9];
    for (int c = 0; c < 9; c++)
        cols[c] = zkv_calloc (n, sizeof (uint64_t));
    for (size_t i = 0; i < n; i++) {
        const zkv_group_state_t *st = &self->states[i];
        cols[0][i] = st->group;
        cols[1][i] = st->role;
        cols[2][i] = st->term;
        cols[3][i] = st->leader;
        cols[4][i] = st->commit;
        cols[5][i] = st->applied;
        cols[6][i] = st->last_index;
        cols[7][i] = st->snapshot_index;
        cols[8][i] = st->log_bytes;
    }
    zkv_msg_t m = {.type = ZKV_MSG_STATUS_REPLY};
    zkv_status_reply_t *r = &m.u.status_reply;
    r->node = self->cfg.node;
    r->nonce = nonce;
    zkv_u64s_t *dst[9] = {&r->groups,   &r->roles,    &r->terms,        &r->leaders,
                          &r->commits,  &r->applieds, &r->last_indexes, &r->snapshot_indexes,
                          &r->log_bytes};
    for (int c = 0; c < 9; c++)
        *dst[c] = (zkv_u64s_t){n ? cols[c] : NULL, n};
    // Each group's configuration, and its shards' states (nshards bytes each, zeros for a
    // group that reports none: the controller, or one whose state is missing).
    uint64_t *configs = zkv_calloc (n, sizeof (uint64_t)), *data = zkv_calloc (n, sizeof (uint64_t));
    uint32_t nshards = self->routing->nshards;
    uint8_t *states = zkv_calloc ((size_t)n * nshards, 1);
    for (size_t i = 0; i < n; i++) {
        configs[i] = self->states[i].config;
        data[i] = self->states[i].sm_bytes;
        if (self->states[i].shard_states.len == nshards)
            memcpy (states + i * nshards, self->states[i].shard_states.data, nshards);
    }
    r->configs = (zkv_u64s_t){n ? configs : NULL, n};
    r->data_bytes = (zkv_u64s_t){n ? data : NULL, n};
    r->nshards = nshards;
    r->shard_states = (zkv_bytes_t){states, (size_t)n * nshards};
    // The node's uptime and version, and each led group's followers with their lag.
    r->uptime_ms = self->now_ms > self->cfg.started_ms ? self->now_ms - self->cfg.started_ms : 0;
    const char *version = self->cfg.version ? self->cfg.version : "";
    r->version = (zkv_bytes_t){(uint8_t *)version, strlen (version)};
    const char *events = self->cfg.events ? self->cfg.events : "";
    r->events = (zkv_bytes_t){(uint8_t *)events, strlen (events)};
    size_t followers = 0;
    for (size_t i = 0; i < n; i++)
        followers += self->states[i].followers.count;
    uint64_t *counts = zkv_calloc (n, sizeof (uint64_t)), *ids = zkv_calloc (followers, sizeof (uint64_t));
    uint64_t *lags = zkv_calloc (followers, sizeof (uint64_t));
    for (size_t i = 0, f = 0; i < n; i++) {
        const zkv_group_state_t *st = &self->states[i];
        counts[i] = st->followers.count;
        for (size_t k = 0; k < st->followers.count; k++, f++) {
            ids[f] = st->followers.items[k];
            lags[f] = st->last_index > st->matches.items[k] ? st->last_index - st->matches.items[k]
                                                             : 0;
        }
    }
    r->follower_counts = (zkv_u64s_t){n ? counts : NULL, n};
    r->follower_ids = (zkv_u64s_t){followers ? ids : NULL, followers};
    r->follower_lags = (zkv_u64s_t){followers ? lags : NULL, followers};
    self->host->to_client (self->host_arg, to, &m);
    for (int c = 0; c < 9; c++)
        free (cols[c]);
    free (configs);
    free (data);
    free (states);
    free (counts);
    free (ids);
    free (lags);
}

static void
s_config (zkv_front_t *self, const zkv_front_addr_t *to, uint64_t nonce)
{
    zkv_msg_t m = {.type = ZKV_MSG_CONFIG_REPLY};
    zkv_routing_to_reply (self->routing, &m.u.config_reply);
    m.u.config_reply.node = self->cfg.node;
    m.u.config_reply.nonce = nonce;
    // A time this node's clock reached, as much as the log time a group applied: a leader's
    // stamp on any command proposed later is at least this, less the clocks' skew, which is
    // all a client's session_t0 must be. After a restart the groups' log times are those of
    // the last commands before it (hours ago, maybe): a client that began its first session
    // with that would be refused "session expired" by the first sweep of the sessions idle
    // since (zkv_kv.h, "Client sessions").
    uint64_t log_ms = s_log_ms (self);
    uint64_t wall = self->host->wall_ms ? self->host->wall_ms (self->host_arg) : 0;
    m.u.config_reply.log_ms = wall > log_ms ? wall : log_ms;
    self->host->to_client (self->host_arg, to, &m);
}

// --- inputs ------------------------------------------------------------------------------------

void
zkv_front_client (zkv_front_t *self, const zkv_front_addr_t *from, const zkv_msg_t *msg,
                  uint64_t now_ms)
{
    self->now_ms = now_ms;
    if (msg->type == ZKV_MSG_STATUS_REQUEST) {
        s_status (self, from, msg->u.status_request.nonce);
        return;
    }
    if (msg->type == ZKV_MSG_CONFIG_REQUEST) {
        size_t n = 0;
        if (!self->cfg.controller || !zkv_routing_members (self->routing, 0, &n)) {
            s_config (self, from, msg->u.config_request.nonce);
            return;
        }
        // Asked of the controller, like a query of its latest configuration.
        s_pending_t p = {.kind = S_TO_CONFIG,
                         .addr = *from,
                         .call_id = msg->u.config_request.nonce,
                         .client_id = S_CALL_CLIENT (0),
                         .seq = ++self->config_asks,
                         .op = ZKV_OP_QUERY};
        zkv_bytes_t none = {0};
        s_serve (self, &p, &none, &none, 0, 0, NULL, now_ms);
        return;
    }
    if (msg->type == ZKV_MSG_SNAPSHOT_REQUEST) {
        // A save's chunk (zkv snapshot save): to the group's leader, as the key of an internal
        // op; answered with the group's snapshot_reply.
        const zkv_snapshot_request_t *q = &msg->u.snapshot_request;
        self->counters.requests++;
        s_pending_t p = {.kind = S_TO_SAVE,
                         .addr = *from,
                         .call_id = q->nonce,
                         .client_id = S_SAVE_CLIENT,
                         .seq = ++self->save_asks,
                         .op = ZKV_OP_SNAPSHOT};
        zkv_bytes_t key = {0}, none = {0};
        if (zkv_msg_encode (msg, &key.data, &key.len) != 0) {
            s_answer_now (self, &p, ZKV_EINVAL, 0, "not a snapshot request");
            return;
        }
        s_serve (self, &p, &key, &none, q->deadline_ms, q->group, NULL, now_ms);
        zkv_bytes_free (&key);
        return;
    }
    if (msg->type != ZKV_MSG_CLIENT_REQUEST) {
        self->counters.malformed++;
        return;
    }
    const zkv_client_request_t *r = &msg->u.client_request;
    self->counters.requests++;
    s_pending_t p = {.kind = S_TO_CLIENT,
                     .addr = *from,
                     .client_id = r->client_id,
                     .seq = r->seq,
                     .op = r->op,
                     .session_t0 = r->session_t0,
                     .cond = r->cond,
                     .expect_rev = r->expect_rev,
                     .expect = r->expect,
                     .start_us = s_now_us (self)};
    if (s_is_call_op (r->op) || r->op == ZKV_OP_CONFIG || r->op == ZKV_OP_CHUNK ||
        r->op == ZKV_OP_GC || r->op == ZKV_OP_SNAPSHOT || r->op == ZKV_OP_NODES) {
        // Groups' own requests come as calls (zkv_front_call), never from a client.
        s_answer_now (self, &p, ZKV_EINVAL, 0, "unknown op");
        return;
    }
    s_serve (self, &p, &r->key, &r->value, r->deadline_ms, r->group, NULL, now_ms);
}

// The forward a reply answers: the one it names, of the same client and seq, sent to the node
// that answers (when the host knows it). NULL for anything else: late, duplicated or forged.
static s_pending_t *
s_forward_of (zkv_front_t *self, uint64_t from, const zkv_forward_reply_t *f)
{
    s_pending_t *p = (s_pending_t *)zkv_u64map_get (&self->pending, f->fwd_id);
    if (!p || !p->forwarded || p->client_id != f->client_id || p->seq != f->seq)
        return NULL;
    return !from || from == p->forwarded_to ? p : NULL;
}

void
zkv_front_peer (zkv_front_t *self, uint64_t from, const zkv_msg_t *msg, uint64_t now_ms)
{
    self->now_ms = now_ms;
    if (msg->type == ZKV_MSG_FORWARD_REQUEST) {
        const zkv_forward_request_t *f = &msg->u.forward_request;
        // Only a node of the configuration forwards, and only its own clients' requests.
        if (!zkv_routing_has_node (self->routing, f->origin_node) ||
            (from && from != f->origin_node) || f->origin_node == self->cfg.node) {
            self->counters.stale++;
            return;
        }
        s_pending_t p = {.kind = S_TO_ORIGIN,
                         .origin_node = f->origin_node,
                         .fwd_id = f->fwd_id,
                         .client_id = f->client_id,
                         .seq = f->seq,
                         .op = f->op,
                         .session_t0 = f->session_t0,
                         .cond = f->cond,
                         .expect_rev = f->expect_rev,
                         .expect = f->expect};
        self->counters.forwarded_in++;
        s_serve (self, &p, &f->key, &f->value, f->deadline_ms, f->group, NULL, now_ms);
    } else if (msg->type == ZKV_MSG_FORWARD_REPLY) {
        const zkv_forward_reply_t *f = &msg->u.forward_reply;
        s_pending_t *p = s_forward_of (self, from, f);
        if (!p) {
            self->counters.stale++;
            return;
        }
        // A hint naming this node for a group it does not host is someone's mistake: it would
        // send the group's requests back here.
        uint64_t *hint = s_hint (self, p->group);
        if (hint && f->leader && f->leader != self->cfg.node)
            *hint = f->leader;
        s_forget (self, p);
        p->revision = f->revision;
        // The answering node already published any error event: relay its answer to the
        // request it answers.
        s_deliver (self, p, f->status, &f->value, f->leader, &f->error,
                   f->config > self->routing->num ? f->config : self->routing->num, f->log_ms,
                   false);
        free (p);
    } else
        self->counters.malformed++;
}

void
zkv_front_group_reply (zkv_front_t *self, const zkv_group_reply_t *reply)
{
    s_pending_t *p = (s_pending_t *)zkv_u64map_get (&self->pending, reply->handle);
    if (!p || p->forwarded || p->group != reply->group || p->client_id != reply->client_id ||
        p->seq != reply->seq) {
        self->counters.stale++; // answered already (timed out), or not ours
        return;
    }
    s_forget (self, p);
    // The error text travels as bytes: NUL-terminate a copy for s_answer's strlen.
    char error[256];
    size_t len = reply->error.len < sizeof error - 1 ? reply->error.len : sizeof error - 1;
    if (len)
        memcpy (error, reply->error.data, len);
    error[len] = 0;
    p->revision = reply->revision;
    s_answer (self, p, reply->status, &reply->value, reply->leader, reply->status ? error : "",
              self->routing->num, reply->log_ms);
    free (p);
}

void
zkv_front_group_state (zkv_front_t *self, const zkv_group_state_t *state)
{
    int slot = s_slot (self, state->group);
    if (slot < 0)
        return;
    zkv_group_state_t *st = &self->states[slot];
    zkv_bytes_free (&st->shard_states);
    zkv_u64s_free (&st->followers);
    zkv_u64s_free (&st->matches);
    *st = *state;
    st->shard_states = (zkv_bytes_t){0};
    zkv_bytes_set (&st->shard_states, state->shard_states.data, state->shard_states.len);
    // The followers and their matches, kept only when they pair up (a group's own encoding).
    st->followers = st->matches = (zkv_u64s_t){0};
    if (state->followers.count == state->matches.count) {
        zkv_u64s_set (&st->followers, state->followers.items, state->followers.count);
        zkv_u64s_set (&st->matches, state->matches.items, state->matches.count);
    }
}

void
zkv_front_call (zkv_front_t *self, const zkv_group_call_t *call, uint64_t now_ms)
{
    self->now_ms = now_ms;
    self->counters.calls++;
    s_pending_t p = {.kind = S_TO_CALLER,
                     .caller = call->group,
                     .call_id = call->call_id,
                     .client_id = S_CALL_CLIENT (call->group),
                     .seq = call->call_id,
                     .op = call->op};
    zkv_bytes_t none = {0};
    if (call->op != ZKV_OP_QUERY && !s_is_call_op (call->op)) {
        s_answer_now (self, &p, ZKV_EINVAL, 0, "not a call");
        return;
    }
    s_serve (self, &p, &call->key, &none, call->deadline_ms, call->to_group, &call->members,
             now_ms);
}

void
zkv_front_group_config (zkv_front_t *self, const uint8_t *config, size_t len)
{
    int rc = 0;
    zkv_routing_t *r = zkv_routing_decode (config, len, &rc);
    if (!r)
        return; // a hosted group's own encoding: cannot happen
    if (r->nshards == self->routing->nshards)
        zkv_front_set_routing (self, r);
    zkv_routing_destroy (&r);
}

void
zkv_front_tick (zkv_front_t *self, uint64_t now_ms)
{
    self->now_ms = now_ms;
    if (now_ms < self->next_sweep)
        return;
    self->next_sweep = now_ms + self->cfg.sweep_ms;
    if (self->pending.count == 0)
        return;
    if (self->cap_keys < self->pending.count) {
        self->cap_keys = self->pending.count * 2;
        self->keys = (uint64_t *)realloc (self->keys, self->cap_keys * sizeof (uint64_t));
        if (!self->keys)
            abort ();
    }
    size_t n = zkv_u64map_keys (&self->pending, self->keys);
    for (size_t i = 0; i < n; i++) {
        s_pending_t *p = (s_pending_t *)zkv_u64map_get (&self->pending, self->keys[i]);
        if (p->deadline > now_ms)
            continue;
        s_forget (self, p);
        self->counters.timeouts++;
        s_answer_now (self, p, ZKV_ETIMEOUT, 0, NULL);
        free (p);
    }
}

// --- configuration -------------------------------------------------------------------------

void
zkv_front_set_routing (zkv_front_t *self, const zkv_routing_t *routing)
{
    if (routing->num <= self->routing->num)
        return;
    zkv_routing_destroy (&self->routing);
    self->routing = zkv_routing_dup (routing);
    free (self->hints);
    self->hints = zkv_calloc (self->routing->n_groups, sizeof (uint64_t));
    if (self->host->routing)
        self->host->routing (self->host_arg, self->routing);
}

const zkv_routing_t *
zkv_front_routing (const zkv_front_t *self)
{
    return self->routing;
}

bool
zkv_front_group (const zkv_front_t *self, uint64_t group, zkv_group_state_t *out)
{
    int slot = s_slot (self, group);
    if (slot < 0)
        return false;
    *out = self->states[slot];
    return true;
}

void
zkv_front_counters (const zkv_front_t *self, zkv_front_counters_t *out)
{
    *out = self->counters;
    out->pending = self->pending.count;
}

void
zkv_front_stats (const zkv_front_t *self, zkv_front_stats_t *out)
{
    memset (out, 0, sizeof *out);
    memcpy (out->requests, self->requests, sizeof out->requests);
    memcpy (out->latency, self->latency, sizeof out->latency);
    out->forwarded = self->counters.forwarded;
    out->forwarded_in = self->counters.forwarded_in;
    out->pending = self->pending.count;
    out->pending_bytes = self->pending_bytes;
    out->timeouts = self->counters.timeouts;
    out->busy = self->counters.busy;
    out->malformed = self->counters.malformed;
    out->stale = self->counters.stale;
}
