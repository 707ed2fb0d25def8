// Simulated clerks: client/zkv_client_core.h's retry logic over the simulated network, every
// operation recorded in the world's history and checked for linearizability at the end.
#include "sim_kv_int.h"

#include "zkv_lincheck.h"

#include <stdlib.h>
#include <string.h>

#define S_ATTEMPT_MS 250     // an attempt waits this long for an answer, then asks the next node
#define S_TIMEOUT_MS 3600000 // the lab's clerk never gives up; scenarios fail much earlier
#define S_DEADLINE_MS 10000  // each request's deadline at the node (client_request.deadline_ms)

static int64_t
s_now_ms (sim_t *s)
{
    return (int64_t)(sim_now (s) / SIM_MS);
}

static char *
s_strdup (const char *str, size_t len)
{
    char *p = malloc (len + 1);
    if (!p)
        abort ();
    if (len)
        memcpy (p, str, len); // an empty value may come with no buffer at all
    p[len] = 0;
    return p;
}

// --- network ---------------------------------------------------------------------------------

// Whether a message between a clerk and a node gets through now: the node is up and the clerk
// connected to it. Node-to-node partitions do not apply (the lab's partitions cut servers only).
static bool
s_reachable (sim_t *self, int client, int node)
{
    sim_kvclient_t *c = self->kv->clients[client];
    return sim_is_up (self, node) && node < 32 && (c->mask >> node) & 1;
}

static void
s_schedule (sim_t *self, int from_ep, int to_ep, const uint8_t *buf, size_t len)
{
    const sim_net_config_t *nc = &self->cfg.net;
    uint64_t d = zkv_rng_range (&self->rng, nc->delay_min_us, nc->delay_max_us);
    if (self->unreliable && nc->unrel_delay_max_us)
        d += zkv_rng_below (&self->rng, (uint64_t)nc->unrel_delay_max_us + 1);
    sim_event_t ev = {
        .at = self->now + d, .kind = SIM_EV_DELIVER, .node = to_ep, .from = from_ep, .len = len};
    ev.buf = malloc (len ? len : 1);
    if (!ev.buf)
        abort ();
    memcpy (ev.buf, buf, len);
    sim_push (self, &ev);
}

void
sim_kv_net_send (sim_t *self, int from_ep, int to_ep, const zkv_msg_t *msg)
{
    int client = (from_ep >= SIM_KV_CLIENT_EP ? from_ep : to_ep) - SIM_KV_CLIENT_EP;
    int node = from_ep >= SIM_KV_CLIENT_EP ? to_ep : from_ep;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (msg, &buf, &len);
    if (rc != 0)
        sim_fail (self, "zkv_msg_encode (%s) failed: %s", zkv_msg_name (msg->type),
                  zkv_errname (rc));
    bool lost =
        !s_reachable (self, client, node) ||
        (self->unreliable && zkv_rng_chance (&self->rng, self->cfg.net.unrel_drop_pm, 1000));
    sim_note (self, from_ep >= SIM_KV_CLIENT_EP ? "kv-request" : "kv-reply", node, (uint64_t)client,
              lost);
    if (!lost) {
        s_schedule (self, from_ep, to_ep, buf, len);
        if (self->unreliable && zkv_rng_chance (&self->rng, self->cfg.net.unrel_dup_pm, 1000))
            s_schedule (self, from_ep, to_ep, buf, len);
    }
    free (buf);
}

static void s_client_reply (sim_t *self, int client, int node, const zkv_client_reply_t *r);
static void s_client_config (sim_t *self, int client, int node, const zkv_config_reply_t *r);

void
sim_kv_deliver (sim_t *self, sim_event_t *ev)
{
    zkv_msg_t msg;
    memset (&msg, 0, sizeof msg);
    int rc = zkv_msg_decode (ev->buf, ev->len, &msg);
    free (ev->buf);
    ev->buf = NULL;
    if (rc != 0)
        sim_fail (self, "a client message does not decode: %s", zkv_errname (rc));
    bool to_node = ev->node < SIM_KV_CLIENT_EP;
    int client = (to_node ? ev->from : ev->node) - SIM_KV_CLIENT_EP;
    int node = to_node ? ev->node : ev->from;
    if (!self->kv || client < 0 || (size_t)client >= self->kv->n_clients)
        sim_fail (self, "a client message for an unknown clerk %d", client);
    if (!s_reachable (self, client, node)) {
        sim_note (self, "kv-lost", node, (uint64_t)client, 0);
    } else if (to_node && msg.type == ZKV_MSG_CONFIG_REQUEST) {
        zkv_front_addr_t from = {.len = 8};
        sim_put_u64 (from.data, (uint64_t)client);
        zkv_front_client (self->nodes[node].front, &from, &msg, self->now / SIM_MS);
    } else if (!to_node && msg.type == ZKV_MSG_CONFIG_REPLY) {
        sim_note (self, "kv-config", node, (uint64_t)client, msg.u.config_reply.num);
        zkv_ccore_saw_log_ms (&self->kv->clients[client]->core, msg.u.config_reply.log_ms);
        s_client_config (self, client, node, &msg.u.config_reply);
    } else if (to_node && msg.type == ZKV_MSG_CLIENT_REQUEST) {
        sim_note (self, "kv-deliver", node, (uint64_t)client, msg.u.client_request.seq);
        zkv_front_addr_t from = {.len = 8};
        sim_put_u64 (from.data, (uint64_t)client);
        zkv_front_client (self->nodes[node].front, &from, &msg, self->now / SIM_MS);
        sim_drive (self, node);
    } else if (!to_node && msg.type == ZKV_MSG_CLIENT_REPLY) {
        sim_note (self, "kv-answer", node, (uint64_t)client, msg.u.client_reply.seq);
        s_client_reply (self, client, node, &msg.u.client_reply);
    } else
        sim_fail (self, "a %s between node %d and clerk %d", zkv_msg_name (msg.type), node, client);
    zkv_msg_free (&msg);
}

// --- clerks ----------------------------------------------------------------------------------

sim_kvclient_t *
sim_kv_client (sim_t *s, uint32_t mask)
{
    sim_kv_t *kv = s->kv;
    if (!kv)
        sim_fail (s, "sim_kv_client: the world does not run the KV service (cfg.kv)");
    sim_kvclient_t *c = calloc (1, sizeof *c);
    if (!c)
        abort ();
    c->idx = (int)kv->n_clients;
    c->mask = mask;
    uint64_t ids[SIM_MAX_NODES];
    for (int i = 0; i < sim_n (s); i++)
        ids[i] = (uint64_t)i + 1;
    // Client ids are unique in the world; the seed keeps them from looking alike across runs.
    zkv_ccore_init (&c->core, ids, (size_t)sim_n (s), (uint64_t)c->idx + 1, S_ATTEMPT_MS);
    // Each clerk starts at a node of its own, as the lab's clerks pick one at random.
    c->core.leader = zkv_rng_below (sim_rng (s), (uint64_t)sim_n (s));
    if (kv->n_clients + 1 > kv->cap_clients) {
        kv->cap_clients = kv->cap_clients ? 2 * kv->cap_clients : 16;
        kv->clients = realloc (kv->clients, kv->cap_clients * sizeof *kv->clients);
        if (!kv->clients)
            abort ();
    }
    kv->clients[kv->n_clients++] = c;
    return c;
}

void
sim_kv_clients_free (sim_t *self)
{
    sim_kv_t *kv = self->kv;
    for (size_t i = 0; i < kv->n_clients; i++) {
        sim_kvclient_t *c = kv->clients[i];
        zkv_ccore_fini (&c->core);
        zkv_bytes_free (&c->ckey);
        zkv_bytes_free (&c->cvalue);
        zkv_bytes_free (&c->answer);
        free (c->key);
        free (c->value);
        free (c->result);
        free (c->expect);
        free (c);
    }
    free (kv->clients);
    kv->clients = NULL;
    kv->n_clients = 0;
}

void
sim_kv_client_connect (sim_kvclient_t *c, uint32_t mask)
{
    c->mask = mask;
}

void
sim_kv_client_routing (sim_kvclient_t *c, const zkv_routing_t *routing)
{
    zkv_routing_destroy (&c->core.routing);
    free (c->core.group_leader);
    c->core.routing = zkv_routing_dup (routing);
    c->core.group_leader = calloc (routing->n_groups ? routing->n_groups : 1, sizeof (uint64_t));
    if (!c->core.group_leader)
        abort ();
    zkv_ccore_saw_config (&c->core, routing->num);
}

int
sim_kv_client_process (const sim_kvclient_t *c)
{
    return c->idx;
}

void
sim_kv_client_on_done (sim_kvclient_t *c, sim_kv_done_fn *fn, void *arg)
{
    c->done = fn;
    c->done_arg = arg;
}

bool
sim_kv_busy (const sim_kvclient_t *c)
{
    return c->busy;
}

const char *
sim_kv_value (const sim_kvclient_t *c)
{
    return c->result ? c->result : "";
}

bool
sim_kv_found (const sim_kvclient_t *c)
{
    return c->result != NULL;
}

uint64_t
sim_kv_revision (const sim_kvclient_t *c)
{
    return c->revision;
}

static void s_act (sim_t *s, sim_kvclient_t *c, zkv_cc_action_t act);
static bool s_idle (sim_t *s, void *arg);

static void
s_timer (sim_t *s, void *arg)
{
    sim_kvclient_t *c = arg;
    // Stale timers (an answer came, or the wait moved) find the clerk idle or not yet due.
    if (!c->busy || sim_now (s) < c->wake_us)
        return;
    c->wake_us = UINT64_MAX;
    s_act (s, c, zkv_ccore_timer (&c->core, s_now_ms (s)));
}

static void
s_send (sim_t *s, sim_kvclient_t *c, size_t node, bool *ok)
{
    *ok = node < 32 && (c->mask >> node) & 1;
    if (!*ok)
        return; // not connected: the core tries the next node
    zkv_msg_t m;
    memset (&m, 0, sizeof m);
    m.type = ZKV_MSG_CLIENT_REQUEST;
    zkv_client_request_t *rq = &m.u.client_request;
    rq->client_id = c->core.client_id;
    rq->seq = c->core.seq;
    rq->op = c->f == ZKV_HIST_GET      ? ZKV_OP_GET
             : c->f == ZKV_HIST_PUT    ? ZKV_OP_PUT
             : c->f == ZKV_HIST_APPEND ? ZKV_OP_APPEND
                                       : ZKV_OP_DELETE;
    if (c->f == ZKV_HIST_CAS) {
        // A compare-and-set is a conditional put, or delete when it sets no value.
        rq->op = c->value ? ZKV_OP_PUT : ZKV_OP_DELETE;
        if (c->cas_by_rev) {
            rq->cond = ZKV_COND_REVISION;
            rq->expect_rev = c->expect_rev;
        } else if (c->expect) {
            rq->cond = ZKV_COND_VALUE;
            rq->expect = (zkv_bytes_t){(uint8_t *)c->expect, strlen (c->expect)};
        } else
            rq->cond = ZKV_COND_REVISION; // expect_rev 0: the key must be absent
    }
    if (c->op) {
        rq->op = c->op;
        rq->key = c->ckey;     // borrowed
        rq->value = c->cvalue; // borrowed
    } else {
        rq->key.data = (uint8_t *)c->key; // borrowed: encode copies
        rq->key.len = strlen (c->key);
        if (c->value) {
            rq->value.data = (uint8_t *)c->value;
            rq->value.len = strlen (c->value);
        }
    }
    rq->deadline_ms = S_DEADLINE_MS;
    rq->group = c->core.group;
    rq->session_t0 = c->core.session_t0;
    s->kv->counters.requests++;
    sim_kv_net_send (s, SIM_KV_CLIENT_EP + c->idx, (int)node, &m);
}

static void
s_finish (sim_t *s, sim_kvclient_t *c, int rc)
{
    if (c->op) {
        c->rc = rc; // a controller command: its caller looks at the outcome
        c->busy = false;
        c->last_op = c->op;
        c->op = 0;
        if (rc == ZKV_ESESSION)
            s->counters.sessions_unknown++;
        if (c->done)
            c->done (s, c, c->done_arg);
        return;
    }
    // Its session expired while it was retried: the clerk cannot know whether an earlier send
    // was applied. Unknown, as zkv_cli_bench records a timeout: it may take effect, or not.
    bool unknown = rc == ZKV_ESESSION && c->f != ZKV_HIST_GET;
    if (rc == ZKV_ENOTFOUND && c->f == ZKV_HIST_GET) {
        free (c->result); // an answer: the key does not exist
        c->result = NULL;
        c->revision = 0;
        rc = 0;
    }
    bool swapped = rc == 0;
    if (rc == ZKV_ECOMPARE && c->f == ZKV_HIST_CAS)
        rc = 0; // an answer: the condition did not hold (it observed the key)
    if (rc != 0 && !unknown)
        sim_fail (s, "clerk %d: %s of key '%s' failed: %s", c->idx, zkv_hist_f_name (c->f), c->key,
                  zkv_errname (rc));
    int64_t t = (int64_t)sim_now (s) * 1000;
    zkv_history_t *h = s->kv->history;
    int hrc = unknown                 ? zkv_history_complete (h, c->idx, ZKV_HIST_INFO, NULL, t)
              : c->f == ZKV_HIST_GET ? zkv_history_complete_get (h, c->idx, c->result, c->revision, t)
              : c->f == ZKV_HIST_CAS ? zkv_history_complete_cas (h, c->idx, swapped, c->revision, t)
                                     : zkv_history_complete_write (h, c->idx, c->revision, t);
    if (hrc != 0)
        sim_fail (s, "history: %s", zkv_history_error (h));
    c->busy = false;
    if (unknown)
        s->counters.sessions_unknown++;
    else
        s->kv->counters.ops_ok++;
    if (c->done)
        c->done (s, c, c->done_arg);
}

static void
s_fetch (sim_t *s, sim_kvclient_t *c, size_t node, bool *ok)
{
    *ok = node < 32 && (c->mask >> node) & 1;
    if (!*ok)
        return;
    zkv_msg_t m = {.type = ZKV_MSG_CONFIG_REQUEST};
    m.u.config_request.nonce = c->core.seq;
    sim_kv_net_send (s, SIM_KV_CLIENT_EP + c->idx, (int)node, &m);
}

static void
s_act (sim_t *s, sim_kvclient_t *c, zkv_cc_action_t act)
{
    for (;;) {
        if (act.kind == ZKV_CC_FETCH) {
            bool ok;
            s_fetch (s, c, act.node, &ok);
            act = zkv_ccore_sent (&c->core, s_now_ms (s), ok);
        } else if (act.kind == ZKV_CC_SEND) {
            bool ok;
            s_send (s, c, act.node, &ok);
            act = zkv_ccore_sent (&c->core, s_now_ms (s), ok);
        } else if (act.kind == ZKV_CC_WAIT) {
            uint64_t at = (uint64_t)act.wake_at * SIM_MS;
            if (at < sim_now (s))
                at = sim_now (s);
            if (at != c->wake_us) {
                c->wake_us = at;
                sim_at (s, at, s_timer, c);
            }
            return;
        } else {
            s_finish (s, c, act.rc);
            return;
        }
    }
}

static void
s_client_reply (sim_t *self, int client, int node, const zkv_client_reply_t *r)
{
    sim_kvclient_t *c = self->kv->clients[client];
    if (!c->busy)
        return; // a late answer (duplicate, or to a finished request)
    bool ours = r->client_id == c->core.client_id && r->seq == c->core.seq;
    // A node answers "timed out" only once the request's deadline passed: never before it
    // was sent plus the deadline it carried (the frontend's deadline rule). In whole ms, as the
    // frontend reads its host's clock: a request that arrived in the ms it was sent may be
    // answered up to that ms's fraction early.
    self->counters.checks++;
    if (ours && r->status == ZKV_ETIMEOUT_VALUE &&
        sim_now (self) / SIM_MS < c->begun_us / SIM_MS + S_DEADLINE_MS)
        sim_violation (self, "client deadline",
                       "node %d answered clerk %d's request \"timed out\" %" PRIu64
                       " ms after it was first sent, before its %d ms deadline",
                       node, client, (sim_now (self) - c->begun_us) / SIM_MS, S_DEADLINE_MS);
    if (ours && !c->op) {
        c->revision = r->revision;
        c->status = (int)r->status;
    }
    if (ours && r->status == 0 && c->op) {
        zkv_bytes_free (&c->answer);
        zkv_bytes_set (&c->answer, r->value.data, r->value.len);
    } else if (ours && r->status == 0 && c->f == ZKV_HIST_GET) {
        free (c->result);
        c->result = s_strdup ((const char *)r->value.data, r->value.len);
    }
    zkv_ccore_saw_config (&c->core, r->config);
    zkv_ccore_saw_log_ms (&c->core, r->log_ms);
    s_act (self, c,
           zkv_ccore_reply (&c->core, s_now_ms (self), (size_t)node, r->client_id, r->seq,
                            r->status, r->leader));
}

static void
s_client_config (sim_t *self, int client, int node, const zkv_config_reply_t *r)
{
    sim_kvclient_t *c = self->kv->clients[client];
    if (!c->busy || r->nonce != c->core.seq)
        return; // a late answer
    s_act (self, c, zkv_ccore_config (&c->core, s_now_ms (self), (size_t)node, r));
}

void
sim_kv_ctrl_start (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint8_t *key, size_t key_len,
                   const uint8_t *value, size_t value_len)
{
    if (c->busy)
        sim_fail (s, "clerk %d: an operation is already open", c->idx);
    c->op = op;
    zkv_bytes_free (&c->ckey);
    zkv_bytes_free (&c->cvalue);
    zkv_bytes_free (&c->answer);
    zkv_bytes_set (&c->ckey, key, key_len);
    zkv_bytes_set (&c->cvalue, value, value_len);
    c->busy = true;
    c->wake_us = UINT64_MAX;
    c->begun_us = sim_now (s);
    s_act (s, c, zkv_ccore_begin (&c->core, s_now_ms (s), S_TIMEOUT_MS, op == ZKV_OP_QUERY));
}

int
sim_kv_ctrl_rc (const sim_kvclient_t *c)
{
    return c->rc;
}

void
sim_kv_ctrl_again (sim_t *s, sim_kvclient_t *c)
{
    zkv_bytes_t key = c->ckey, value = c->cvalue; // sim_kv_ctrl_start frees the clerk's copies
    c->ckey = c->cvalue = (zkv_bytes_t){0};
    sim_kv_ctrl_start (s, c, c->last_op, key.data, key.len, value.data, value.len);
    zkv_bytes_free (&key);
    zkv_bytes_free (&value);
}

int
sim_kv_ctrl (sim_t *s, sim_kvclient_t *c, uint64_t op, const uint8_t *key, size_t key_len,
             const uint8_t *value, size_t value_len, zkv_bytes_t *answer)
{
    sim_kv_ctrl_start (s, c, op, key, key_len, value, value_len);
    if (!sim_run_until (s, sim_now (s) + SIM_KV_OP_DEADLINE, s_idle, c))
        sim_fail (s, "clerk %d: controller op %" PRIu64 " did not complete in %" PRIu64 " s",
                  c->idx, op, SIM_KV_OP_DEADLINE / SIM_SEC);
    if (answer) {
        *answer = c->answer; // moves it
        c->answer = (zkv_bytes_t){0};
    }
    return c->rc;
}

void
sim_kv_start (sim_t *s, sim_kvclient_t *c, zkv_hist_f_t f, const char *key, const char *value)
{
    if (c->busy)
        sim_fail (s, "clerk %d: an operation is already open", c->idx);
    free (c->key);
    free (c->value);
    c->f = f;
    c->key = s_strdup (key, strlen (key));
    c->value = f == ZKV_HIST_GET || f == ZKV_HIST_DELETE || !value ? NULL
                                                                    : s_strdup (value, strlen (value));
    c->busy = true;
    c->wake_us = UINT64_MAX;
    c->begun_us = sim_now (s);
    c->revision = 0;
    int64_t t = (int64_t)sim_now (s) * 1000;
    zkv_history_t *h = s->kv->history;
    int hrc = f == ZKV_HIST_DELETE ? zkv_history_invoke_delete (h, c->idx, key, t)
              : f != ZKV_HIST_CAS  ? zkv_history_invoke (h, c->idx, f, key, c->value, t)
              : c->cas_by_rev ? zkv_history_invoke_cas_rev (h, c->idx, key, c->expect_rev, c->value, t)
                              : zkv_history_invoke_cas (h, c->idx, key, c->expect, c->value, t);
    if (hrc != 0)
        sim_fail (s, "history: %s", zkv_history_error (h));
    s_act (s, c,
           zkv_ccore_begin_key (&c->core, s_now_ms (s), S_TIMEOUT_MS, f == ZKV_HIST_GET,
                                (const uint8_t *)c->key, strlen (c->key)));
}

void
sim_kv_start_cas (sim_t *s, sim_kvclient_t *c, const char *key, bool by_rev, const char *expect,
                  uint64_t expect_rev, const char *value)
{
    if (c->busy)
        sim_fail (s, "clerk %d: an operation is already open", c->idx);
    free (c->expect);
    c->cas_by_rev = by_rev;
    c->expect = !by_rev && expect ? s_strdup (expect, strlen (expect)) : NULL;
    c->expect_rev = by_rev ? expect_rev : 0;
    sim_kv_start (s, c, ZKV_HIST_CAS, key, value);
}

static bool
s_idle (sim_t *s, void *arg)
{
    (void)s;
    return !((sim_kvclient_t *)arg)->busy;
}

static void
s_blocking (sim_t *s, sim_kvclient_t *c, zkv_hist_f_t f, const char *key, const char *value)
{
    sim_kv_start (s, c, f, key, value);
    if (!sim_run_until (s, sim_now (s) + SIM_KV_OP_DEADLINE, s_idle, c))
        sim_fail (s, "clerk %d: %s of key '%s' did not complete in %" PRIu64 " s", c->idx,
                  zkv_hist_f_name (f), key, SIM_KV_OP_DEADLINE / SIM_SEC);
}

const char *
sim_kv_get (sim_t *s, sim_kvclient_t *c, const char *key)
{
    s_blocking (s, c, ZKV_HIST_GET, key, NULL);
    return sim_kv_value (c);
}

void
sim_kv_put (sim_t *s, sim_kvclient_t *c, const char *key, const char *value)
{
    s_blocking (s, c, ZKV_HIST_PUT, key, value);
}

void
sim_kv_append (sim_t *s, sim_kvclient_t *c, const char *key, const char *value)
{
    s_blocking (s, c, ZKV_HIST_APPEND, key, value);
}

void
sim_kv_check (sim_t *s, sim_kvclient_t *c, const char *key, const char *value)
{
    const char *v = sim_kv_get (s, c, key);
    if (strcmp (v, value) != 0)
        sim_fail (s, "Get(%s): expected '%s', received '%s'", key, value, v);
}

static bool
s_all_idle (sim_t *s, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < s->kv->n_clients; i++)
        if (s->kv->clients[i]->busy)
            return false;
    return true;
}

void
sim_kv_wait_idle (sim_t *s, uint64_t deadline_us)
{
    if (!sim_run_until (s, deadline_us, s_all_idle, NULL))
        sim_fail (s, "clerks still busy at t=%" PRIu64 " us", deadline_us);
}

void
sim_kv_sessions_add (sim_t *self, sim_counters_t *c)
{
    for (size_t i = 0; i < self->kv->n_clients; i++)
        c->sessions_new += self->kv->clients[i]->core.sessions;
}

// --- the history -----------------------------------------------------------------------------

const zkv_history_t *
sim_kv_history (sim_t *s)
{
    return s->kv->history;
}

void
sim_kv_finish (sim_t *s)
{
    zkv_lin_result_t res;
    memset (&res, 0, sizeof res);
    int rc = zkv_lincheck (s->kv->history, NULL, &res);
    if (rc != 0)
        sim_fail (s, "zkv_lincheck failed: %s", zkv_errname (rc));
    s->kv->counters.lin_steps = res.steps;
    if (res.verdict != ZKV_LIN_OK) {
        // Kept for zkv-lincheck when the run is told in full (a replay), not in sweeps.
        char path[64] = "not saved";
        if (!s->cfg.quiet) {
            snprintf (path, sizeof path, "zkv-sim-history-%" PRIu64 ".jsonl", sim_seed (s));
            zkv_history_save (s->kv->history, path);
        }
        char msg[768];
        snprintf (msg, sizeof msg, "%zu ops on %zu keys: %s at key %s (history saved to %s)\n%s",
                  res.ops, res.keys, zkv_lin_verdict_name (res.verdict), res.key ? res.key : "?",
                  path, res.explanation ? res.explanation : "");
        zkv_lin_result_clear (&res);
        sim_violation (s, "linearizable history", "%s", msg);
    }
    if (!s->cfg.quiet)
        printf ("history: %zu ops on %zu keys, linearizable (%" PRIu64 " search steps)\n", res.ops,
                res.keys, res.steps);
    zkv_lin_result_clear (&res);
}
