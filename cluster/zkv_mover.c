// The shard mover (zkv_mover.h).
#include "zkv_mover.h"
#include "zkv_bytes_order.h"
#include "zkv_alloc.h"
#include "zkv_kv_shards.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// One outstanding call (id 0: none).
typedef struct {
    uint64_t id; // its id
    uint64_t at; // tick it left
} s_call_t;

// The leader's pull of one PULLING shard.
typedef struct {
    bool started;          // the position below is valid (else start from the replicated one)
    s_call_t call;         // the pull in flight
    uint64_t phase;        // next position to ask for
    uint64_t client;       //
    zkv_bytes_t key;       //
    uint64_t proposed;     // chunk count once every proposed chunk is applied
    bool done;             // the last chunk was proposed
    uint64_t seen;         // the replicated chunk count, as last seen
    uint64_t moved_at;     // tick it last moved
    uint64_t next_try;     // no pull before this tick (after a refusal)
} s_pull_t;

// The leader's deletion of one HANDOFF shard.
typedef struct {
    s_call_t call;     // the question in flight
    uint64_t next_try; // no question before this tick
} s_gc_t;

struct zkv_mover {
    zkv_mover_config_t cfg; // as given
    zkv_kv_t *kv;           // the state machine
    uint32_t nshards;       //
    uint64_t now;           // ticks so far
    bool leading;           // leading in term
    uint64_t term;          //
    uint64_t next_id;       // call ids (never reused)
    s_call_t query;         // the configuration query in flight
    uint64_t next_poll;     // no query before this tick
    uint64_t proposed_num;  // the configuration last proposed
    uint64_t proposed_at;   // ... when
    uint64_t seen_num;      // the configuration number last seen applied
    uint64_t notified_num;  // ... last announced through io->config
    int64_t budget;         // bytes the rate limit allows now (rate_per_tick per tick)
    s_pull_t *pulls;        // per shard
    s_gc_t *gcs;            // per shard
    zkv_mover_counters_t counters;
};

void
zkv_mover_config_defaults (zkv_mover_config_t *cfg)
{
    cfg->poll_ticks = 10;
    cfg->retry_ticks = 200;
    cfg->call_deadline_ms = 2000;
    cfg->chunk_bytes = 1024 * 1024;
    cfg->window = 4;
    cfg->max_pulls = 8;
    cfg->rate_per_tick = 0;
}

zkv_mover_t *
zkv_mover_new (const zkv_mover_config_t *cfg, zkv_kv_t *kv)
{
    assert (cfg && kv && zkv_kv_shards_enabled (kv));
    zkv_mover_t *self = zkv_calloc (1, sizeof *self);
    self->cfg = *cfg;
    if (self->cfg.window == 0)
        self->cfg.window = 1;
    if (self->cfg.max_pulls == 0)
        self->cfg.max_pulls = 1;
    if (self->cfg.poll_ticks == 0)
        self->cfg.poll_ticks = 1;
    self->kv = kv;
    self->nshards = zkv_kv_nshards (kv);
    self->pulls = zkv_calloc (self->nshards, sizeof (s_pull_t));
    self->gcs = zkv_calloc (self->nshards, sizeof (s_gc_t));
    return self;
}

void
zkv_mover_destroy (zkv_mover_t **self_p)
{
    zkv_mover_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t s = 0; s < self->nshards; s++)
        zkv_bytes_free (&self->pulls[s].key);
    free (self->pulls);
    free (self->gcs);
    free (self);
    *self_p = NULL;
}

void
zkv_mover_counters (const zkv_mover_t *self, zkv_mover_counters_t *out)
{
    *out = self->counters;
}

// Forgets everything in flight (leadership lost or changed hands).
static void
s_reset (zkv_mover_t *self)
{
    self->query = (s_call_t){0};
    self->next_poll = self->now;
    self->proposed_num = 0;
    for (uint32_t s = 0; s < self->nshards; s++) {
        zkv_bytes_free (&self->pulls[s].key);
        memset (&self->pulls[s], 0, sizeof (s_pull_t));
        memset (&self->gcs[s], 0, sizeof (s_gc_t));
    }
}

static bool
s_busy (const zkv_mover_t *self, const s_call_t *c)
{
    return c->id && self->now - c->at < self->cfg.retry_ticks;
}

// Sends a call to group (members from r, when r knows it); records it in *c.
static void
s_call (zkv_mover_t *self, const zkv_sm_io_t *io, s_call_t *c, uint64_t group,
        const zkv_routing_t *r, uint64_t op, const uint8_t *key, size_t key_len)
{
    size_t n = 0;
    const uint64_t *members = r ? zkv_routing_members (r, group, &n) : NULL;
    c->id = ++self->next_id;
    c->at = self->now;
    zkv_sm_call_t call = {.id = c->id,
                          .group = group,
                          .members = members,
                          .n_members = members ? n : 0,
                          .op = op,
                          .key = key,
                          .key_len = key_len,
                          .deadline_ms = self->cfg.call_deadline_ms};
    io->call (io->arg, &call);
}

// Encodes msg and sends it as a call's key.
static void
s_call_msg (zkv_mover_t *self, const zkv_sm_io_t *io, s_call_t *c, uint64_t group,
            const zkv_routing_t *r, uint64_t op, const zkv_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (msg, &buf, &len) != 0)
        return; // cannot happen with the small messages sent here
    s_call (self, io, c, group, r, op, buf, len);
    free (buf);
}

// --- configurations ------------------------------------------------------------------------------

static void
s_poll (zkv_mover_t *self, const zkv_sm_io_t *io)
{
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    if (!zkv_kv_shards_settled (self->kv) || s_busy (self, &self->query) ||
        self->now < self->next_poll)
        return;
    if (self->proposed_num == cur->num + 1 &&
        self->now - self->proposed_at < self->cfg.retry_ticks)
        return; // proposed: wait for it to apply
    uint8_t key[8];
    zkv_put_be64 (key, cur->num + 1);
    self->counters.queries++;
    s_call (self, io, &self->query, 0, cur->num ? cur : NULL, ZKV_OP_QUERY, key, sizeof key);
}

static void
s_query_reply (zkv_mover_t *self, const zkv_sm_io_t *io, int status, const zkv_bytes_t *value)
{
    self->query = (s_call_t){0};
    self->next_poll = self->now + self->cfg.poll_ticks;
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    if (status) {
        if (status != ZKV_ENOTFOUND)
            self->counters.refused++;
        return; // no such configuration yet, or no answer: ask again later
    }
    int rc = 0;
    zkv_routing_t *next = zkv_routing_decode (value->data, value->len, &rc);
    if (!next || next->num != cur->num + 1 || next->nshards != self->nshards ||
        !zkv_kv_shards_settled (self->kv)) {
        self->counters.refused++;
        zkv_routing_destroy (&next);
        return;
    }
    zkv_routing_destroy (&next);
    uint8_t *cmd = NULL;
    size_t len = 0;
    if (zkv_kv_shards_cmd (ZKV_OP_CONFIG, NULL, 0, value->data, value->len, &cmd, &len) == 0 &&
        io->propose (io->arg, cmd, len) == 0) {
        self->proposed_num = cur->num + 1;
        self->proposed_at = self->now;
        self->counters.configs++;
    }
    free (cmd);
}

// --- pulls -------------------------------------------------------------------------------------

// (Re)starts a pull from the shard's replicated progress.
static void
s_pull_start (zkv_mover_t *self, s_pull_t *p, const zkv_shard_meta_t *m)
{
    zkv_bytes_free (&p->key);
    memset (p, 0, sizeof *p);
    p->started = true;
    p->phase = m->phase;
    p->client = m->client;
    zkv_bytes_set (&p->key, m->key.data, m->key.len);
    p->proposed = m->chunks;
    p->seen = m->chunks;
    p->moved_at = self->now;
}

static void
s_pull_send (zkv_mover_t *self, const zkv_sm_io_t *io, uint32_t s)
{
    s_pull_t *p = &self->pulls[s];
    const zkv_shard_meta_t *m = zkv_kv_shards_meta (self->kv, s);
    if (s_busy (self, &p->call) || p->done || self->now < p->next_try ||
        p->proposed - m->chunks >= self->cfg.window ||
        (self->cfg.rate_per_tick && self->budget <= 0))
        return;
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    zkv_msg_t q = {.type = ZKV_MSG_SHARD_PULL};
    zkv_shard_pull_t *pull = &q.u.shard_pull;
    pull->num = cur->num;
    pull->shard = s;
    pull->phase = p->phase;
    pull->client = p->client;
    pull->key = p->key; // borrowed
    pull->max_bytes = self->cfg.chunk_bytes;
    self->counters.pulls++;
    s_call_msg (self, io, &p->call, m->peer, zkv_kv_shards_prev (self->kv), ZKV_OP_PULL, &q);
}

static void
s_pulls (zkv_mover_t *self, const zkv_sm_io_t *io)
{
    uint32_t active = 0;
    for (uint32_t s = 0; s < self->nshards; s++) {
        const zkv_shard_meta_t *m = zkv_kv_shards_meta (self->kv, s);
        s_pull_t *p = &self->pulls[s];
        if (m->state != ZKV_SHARD_PULLING) {
            if (p->started) {
                zkv_bytes_free (&p->key);
                memset (p, 0, sizeof *p);
            }
            continue;
        }
        if (!p->started || p->proposed < m->chunks)
            s_pull_start (self, p, m);
        if (m->chunks != p->seen) {
            p->seen = m->chunks;
            p->moved_at = self->now;
        }
        // Proposals that never applied (dropped by a leader change inside the term's log, or
        // refused): start again from the replicated position.
        if ((p->proposed > m->chunks || p->done) && !s_busy (self, &p->call) &&
            self->now - p->moved_at >= self->cfg.retry_ticks)
            s_pull_start (self, p, m);
        if (++active > self->cfg.max_pulls)
            continue;
        s_pull_send (self, io, s);
    }
}

static void
s_pull_reply (zkv_mover_t *self, const zkv_sm_io_t *io, uint32_t s, int status,
              const zkv_bytes_t *value)
{
    s_pull_t *p = &self->pulls[s];
    p->call = (s_call_t){0};
    if (status) {
        if (status != ZKV_ENOTREADY)
            self->counters.refused++;
        p->next_try = self->now + self->cfg.poll_ticks;
        return;
    }
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    zkv_msg_t msg;
    int rc = zkv_msg_decode (value->data, value->len, &msg);
    const zkv_shard_chunk_t *c = &msg.u.shard_chunk;
    bool ok = rc == 0 && msg.type == ZKV_MSG_SHARD_CHUNK && c->num == cur->num && c->shard == s &&
              c->phase == p->phase && c->client == p->client && c->key.len == p->key.len &&
              (p->key.len == 0 || memcmp (c->key.data, p->key.data, p->key.len) == 0);
    if (!ok) {
        zkv_msg_free (&msg);
        self->counters.refused++;
        p->next_try = self->now + self->cfg.poll_ticks;
        return;
    }
    uint8_t *cmd = NULL;
    size_t len = 0;
    rc = zkv_kv_shards_cmd (ZKV_OP_CHUNK, NULL, 0, value->data, value->len, &cmd, &len);
    if (rc == 0)
        rc = io->propose (io->arg, cmd, len);
    free (cmd);
    if (rc == 0) {
        self->counters.chunks++;
        if (self->cfg.rate_per_tick)
            self->budget -= (int64_t)c->records.len;
        p->proposed++;
        p->phase = c->next_phase;
        p->client = c->next_client;
        zkv_bytes_free (&p->key);
        zkv_bytes_set (&p->key, c->next_key.data, c->next_key.len);
        p->done = c->done;
    } else
        p->next_try = self->now + self->cfg.poll_ticks;
    zkv_msg_free (&msg);
    if (rc == 0)
        s_pull_send (self, io, s); // the next chunk while this one replicates
}

// --- deletions ---------------------------------------------------------------------------------

static void
s_gcs (zkv_mover_t *self, const zkv_sm_io_t *io)
{
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    for (uint32_t s = 0; s < self->nshards; s++) {
        const zkv_shard_meta_t *m = zkv_kv_shards_meta (self->kv, s);
        s_gc_t *g = &self->gcs[s];
        if (m->state != ZKV_SHARD_HANDOFF) {
            memset (g, 0, sizeof *g);
            continue;
        }
        if (s_busy (self, &g->call) || self->now < g->next_try)
            continue;
        zkv_msg_t q = {.type = ZKV_MSG_SHARD_REF};
        q.u.shard_ref = (zkv_shard_ref_t){.num = m->num, .shard = s};
        self->counters.haves++;
        s_call_msg (self, io, &g->call, m->peer, cur, ZKV_OP_HAVE, &q);
    }
}

static void
s_have_reply (zkv_mover_t *self, const zkv_sm_io_t *io, uint32_t s, int status)
{
    s_gc_t *g = &self->gcs[s];
    g->call = (s_call_t){0};
    g->next_try = self->now + self->cfg.poll_ticks;
    const zkv_shard_meta_t *m = zkv_kv_shards_meta (self->kv, s);
    if (status || m->state != ZKV_SHARD_HANDOFF) {
        if (status && status != ZKV_ENOTREADY)
            self->counters.refused++;
        return;
    }
    zkv_msg_t ref = {.type = ZKV_MSG_SHARD_REF};
    ref.u.shard_ref = (zkv_shard_ref_t){.num = m->num, .shard = s};
    uint8_t *key = NULL, *cmd = NULL;
    size_t key_len = 0, len = 0;
    if (zkv_msg_encode (&ref, &key, &key_len) == 0 &&
        zkv_kv_shards_cmd (ZKV_OP_GC, key, key_len, NULL, 0, &cmd, &len) == 0 &&
        io->propose (io->arg, cmd, len) == 0)
        self->counters.gcs++;
    free (key);
    free (cmd);
}

// --- the entry points ------------------------------------------------------------------------

// What every replica does: publish what was applied (the leader's only, so one event per
// step) and tell the host about a new configuration.
static void
s_announce (zkv_mover_t *self, const zkv_sm_io_t *io, bool leading)
{
    zkv_kv_shard_events_t events;
    zkv_kv_shards_take_events (self->kv, &events);
    for (size_t i = 0; i < events.count && leading; i++) {
        zkv_msg_t m = {.type = ZKV_MSG_EVENT_SHARD};
        m.u.event_shard = events.items[i].body;
        io->event (io->arg, events.items[i].topic, &m);
    }
    zkv_kv_shard_events_free (&events);
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    if (cur->num != self->notified_num && cur->num > 0) {
        zkv_bytes_t enc = {0};
        if (zkv_routing_encode (cur, &enc) == 0)
            io->config (io->arg, enc.data, enc.len);
        zkv_bytes_free (&enc);
        self->notified_num = cur->num;
    }
}

void
zkv_mover_work (zkv_mover_t *self, const zkv_sm_io_t *io, bool leading, uint64_t term, bool tick)
{
    if (tick) {
        self->now++;
        // The rate limit's budget refills by the tick, up to one chunk's worth banked.
        int64_t cap = (int64_t)(self->cfg.chunk_bytes > self->cfg.rate_per_tick
                                    ? self->cfg.chunk_bytes
                                    : self->cfg.rate_per_tick);
        self->budget += (int64_t)self->cfg.rate_per_tick;
        if (self->budget > cap)
            self->budget = cap;
    }
    s_announce (self, io, leading);
    if (leading != self->leading || term != self->term) {
        s_reset (self);
        self->leading = leading;
        self->term = term;
    }
    if (!leading)
        return;
    const zkv_routing_t *cur = zkv_kv_shards_config (self->kv);
    if (cur->num != self->seen_num) {
        self->seen_num = cur->num;
        self->next_poll = self->now; // one applied: the next may be waiting already
    }
    s_poll (self, io);
    s_pulls (self, io);
    s_gcs (self, io);
}

void
zkv_mover_reply (zkv_mover_t *self, const zkv_sm_io_t *io, uint64_t id, int status,
                 const zkv_bytes_t *value)
{
    if (!self->leading || id == 0)
        return; // asked by an earlier leadership: forgotten
    if (id == self->query.id) {
        s_query_reply (self, io, status, value);
        return;
    }
    for (uint32_t s = 0; s < self->nshards; s++) {
        if (self->pulls[s].call.id == id) {
            s_pull_reply (self, io, s, status, value);
            return;
        }
        if (self->gcs[s].call.id == id) {
            s_have_reply (self, io, s, status);
            return;
        }
    }
}
