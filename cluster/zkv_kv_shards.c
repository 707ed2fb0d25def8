// Shard migration inside the KV state machine (zkv_kv_shards.h): the configuration and shard
// states, their applies, and the answers to other groups' pulls.
#include "zkv_kv_int.h"
#include "zkv_alloc.h"
#include "zkv_kv_shards.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct zkv_kv_shards {
    zkv_routing_t *cfg;            // the current configuration (number 0: none yet)
    zkv_routing_t *prev;           // the previous one (NULL: none)
    zkv_shard_meta_t *meta;        // each shard's state (owned key bytes)
    zkv_kv_shard_events_t events;  // produced since the last take
    size_t cap_events;             //
};

static const uint8_t s_cfg_key[] = {'c', 'f', 'g'};
static const uint8_t s_prev_key[] = {'p', 'r', 'e', 'v'};

static void
s_meta_key (uint8_t out[5], uint32_t shard)
{
    out[0] = 's';
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(shard >> (24 - 8 * i));
}

// --- loading -----------------------------------------------------------------------------------

static void
s_free_state (zkv_kv_shards_t *sh, uint32_t nshards)
{
    zkv_routing_destroy (&sh->cfg);
    zkv_routing_destroy (&sh->prev);
    if (sh->meta)
        for (uint32_t s = 0; s < nshards; s++)
            zkv_bytes_free (&sh->meta[s].key);
    free (sh->meta);
    sh->meta = NULL;
}

// A stored configuration (NULL, rc 0 when absent).
static int
s_load_cfg (zkv_kv_t *kv, const uint8_t *key, size_t len, zkv_routing_t **out)
{
    zkv_bytes_t v = {0};
    *out = NULL;
    int rc = zkv_kvstore_get (kv->store, kv->sid, ZKV_KV_META_SHARD, key, len, &v);
    if (rc == ZKV_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    *out = zkv_routing_decode (v.data, v.len, &rc);
    zkv_bytes_free (&v);
    if (*out && (*out)->nshards != kv->nshards)
        zkv_routing_destroy (out);
    // Written by another protocol version: not damage, an upgrade this build cannot read.
    return *out ? 0 : rc == ZKV_EVERSION ? ZKV_EVERSION : ZKV_ECORRUPT;
}

static int
s_load (zkv_kv_t *kv, zkv_kv_shards_t *sh)
{
    int rc;
    if ((rc = s_load_cfg (kv, s_cfg_key, sizeof s_cfg_key, &sh->cfg)) ||
        (rc = s_load_cfg (kv, s_prev_key, sizeof s_prev_key, &sh->prev)))
        return rc;
    if (!sh->cfg)
        sh->cfg = zkv_routing_new (0, kv->nshards, NULL, NULL, NULL, 0);
    sh->meta = zkv_calloc (kv->nshards, sizeof (zkv_shard_meta_t));
    for (uint32_t s = 0; s < kv->nshards; s++) {
        uint8_t key[5];
        s_meta_key (key, s);
        zkv_bytes_t v = {0};
        rc = zkv_kvstore_get (kv->store, kv->sid, ZKV_KV_META_SHARD, key, sizeof key, &v);
        if (rc == ZKV_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        zkv_msg_t m;
        rc = zkv_msg_decode (v.data, v.len, &m);
        zkv_bytes_free (&v);
        if (rc || m.type != ZKV_MSG_SHARD_META || m.u.shard_meta.state > ZKV_SHARD_HANDOFF) {
            zkv_msg_free (&m);
            return rc == ZKV_EVERSION ? ZKV_EVERSION : ZKV_ECORRUPT;
        }
        sh->meta[s] = m.u.shard_meta; // takes the key bytes
        m.u.shard_meta.key = (zkv_bytes_t){0};
        zkv_msg_free (&m);
    }
    return 0;
}

// The shards served are the SERVING ones.
static void
s_set_owned (zkv_kv_t *kv)
{
    if (!kv->owned)
        kv->owned = zkv_calloc (kv->nshards, sizeof (bool));
    for (uint32_t s = 0; s < kv->nshards; s++)
        kv->owned[s] = kv->shards->meta[s].state == ZKV_SHARD_SERVING;
}

int
zkv_kv_shards_reload (zkv_kv_t *kv)
{
    if (!kv->shards)
        return 0;
    s_free_state (kv->shards, kv->nshards);
    int rc = s_load (kv, kv->shards);
    if (rc)
        return rc;
    s_set_owned (kv);
    return 0;
}

int
zkv_kv_shards_enable (zkv_kv_t *kv)
{
    assert (kv);
    if (kv->shards)
        return 0;
    kv->shards = zkv_calloc (1, sizeof (zkv_kv_shards_t));
    if (zkv_kv_incomplete (kv)) {
        // No state to read: configuration 0 until a snapshot installs one (reload).
        kv->shards->cfg = zkv_routing_new (0, kv->nshards, NULL, NULL, NULL, 0);
        kv->shards->meta = zkv_calloc (kv->nshards, sizeof (zkv_shard_meta_t));
        s_set_owned (kv);
        return 0;
    }
    return zkv_kv_shards_reload (kv);
}

bool
zkv_kv_shards_enabled (const zkv_kv_t *kv)
{
    return kv->shards != NULL;
}

void
zkv_kv_shards_free (zkv_kv_t *kv)
{
    if (!kv->shards)
        return;
    s_free_state (kv->shards, kv->nshards);
    zkv_kv_shard_events_free (&kv->shards->events);
    free (kv->shards);
    kv->shards = NULL;
}

// --- inspection --------------------------------------------------------------------------------

const zkv_routing_t *
zkv_kv_shards_config (const zkv_kv_t *kv)
{
    return kv->shards ? kv->shards->cfg : NULL;
}

const zkv_routing_t *
zkv_kv_shards_prev (const zkv_kv_t *kv)
{
    return kv->shards ? kv->shards->prev : NULL;
}

const zkv_shard_meta_t *
zkv_kv_shards_meta (const zkv_kv_t *kv, uint32_t shard)
{
    assert (kv->shards && shard < kv->nshards);
    return &kv->shards->meta[shard];
}

bool
zkv_kv_shards_settled (const zkv_kv_t *kv)
{
    for (uint32_t s = 0; s < kv->nshards; s++) {
        uint64_t st = kv->shards->meta[s].state;
        if (st == ZKV_SHARD_PULLING || st == ZKV_SHARD_HANDOFF)
            return false;
    }
    return true;
}

void
zkv_kv_shards_counts (const zkv_kv_t *kv, uint32_t counts[4])
{
    memset (counts, 0, 4 * sizeof (uint32_t));
    if (!kv->shards)
        return;
    for (uint32_t s = 0; s < kv->nshards; s++)
        counts[kv->shards->meta[s].state & 3]++;
}

// --- events ------------------------------------------------------------------------------------

static void
s_event (zkv_kv_t *kv, const char *topic, uint64_t num, uint32_t shard, const zkv_shard_meta_t *m)
{
    zkv_kv_shards_t *sh = kv->shards;
    if (sh->events.count == sh->cap_events) {
        sh->cap_events = sh->cap_events ? 2 * sh->cap_events : 16;
        sh->events.items =
            realloc (sh->events.items, sh->cap_events * sizeof (zkv_kv_shard_event_t));
        if (!sh->events.items)
            abort ();
    }
    zkv_kv_shard_event_t *e = &sh->events.items[sh->events.count++];
    memset (e, 0, sizeof *e);
    e->topic = topic;
    e->body.group = kv->group;
    e->body.config = num;
    e->body.shard = shard;
    if (m) {
        e->body.peer = m->peer;
        e->body.chunks = m->chunks;
        e->body.bytes = m->bytes;
    }
}

void
zkv_kv_shards_take_events (zkv_kv_t *kv, zkv_kv_shard_events_t *out)
{
    memset (out, 0, sizeof *out);
    if (!kv->shards)
        return;
    *out = kv->shards->events;
    kv->shards->events = (zkv_kv_shard_events_t){0};
    kv->shards->cap_events = 0;
}

void
zkv_kv_shard_events_free (zkv_kv_shard_events_t *events)
{
    free (events->items);
    memset (events, 0, sizeof *events);
}

// --- applies -----------------------------------------------------------------------------------

static int
s_put_meta (zkv_kv_exec_t *a, uint32_t shard)
{
    zkv_kv_t *kv = a->kv;
    zkv_msg_t m = {.type = ZKV_MSG_SHARD_META};
    m.u.shard_meta = kv->shards->meta[shard]; // borrowed
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (&m, &buf, &len);
    if (rc)
        return rc;
    uint8_t key[5];
    s_meta_key (key, shard);
    zkv_kvstore_put (kv->store, a->batch, kv->sid, ZKV_KV_META_SHARD, key, sizeof key, buf, len);
    free (buf);
    return 0;
}

static int
s_put_cfg (zkv_kv_exec_t *a, const uint8_t *key, size_t key_len, const zkv_routing_t *r)
{
    zkv_kv_t *kv = a->kv;
    if (!r || r->num == 0) {
        zkv_kvstore_del (kv->store, a->batch, kv->sid, ZKV_KV_META_SHARD, key, key_len);
        return 0;
    }
    zkv_bytes_t v = {0};
    int rc = zkv_routing_encode (r, &v);
    if (rc == 0)
        zkv_kvstore_put (kv->store, a->batch, kv->sid, ZKV_KV_META_SHARD, key, key_len, v.data,
                         v.len);
    zkv_bytes_free (&v);
    return rc;
}

static void
s_meta_set (zkv_shard_meta_t *m, uint64_t state, uint64_t num, uint64_t peer)
{
    zkv_bytes_free (&m->key);
    memset (m, 0, sizeof *m);
    m->state = state;
    m->num = num;
    m->peer = peer;
}

// ZKV_OP_CONFIG: the next configuration starts.
static int
s_apply_config (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    zkv_kv_t *kv = a->kv;
    zkv_kv_shards_t *sh = kv->shards;
    int rc = 0;
    zkv_routing_t *next = zkv_routing_decode (cmd->value.data, cmd->value.len, &rc);
    if (!next || next->nshards != kv->nshards) {
        zkv_routing_destroy (&next);
        r->status = ZKV_EINVAL;
        r->error = "not a configuration of this cluster";
        return 0;
    }
    if (next->num != sh->cfg->num + 1 || !zkv_kv_shards_settled (kv)) {
        // Proposed twice, or by a deposed leader: only the one after the current one, once
        // the current one is done, starts.
        zkv_routing_destroy (&next);
        r->status = ZKV_ESTALE;
        r->error = "not the next configuration";
        return 0;
    }
    uint64_t g = kv->group;
    for (uint32_t s = 0; s < kv->nshards; s++) {
        uint64_t was = sh->cfg->shard_group[s], now = next->shard_group[s];
        zkv_shard_meta_t *m = &sh->meta[s];
        const char *topic = NULL;
        if (was == g && now == g)
            continue; // kept: serves on
        if (now == g) {
            // Gained. Whatever an older configuration left here goes first.
            if ((rc = zkv_kv_apply_delete_shard (a, s)))
                break;
            if (was == 0)
                s_meta_set (m, ZKV_SHARD_SERVING, next->num, 0); // nobody had it: empty
            else {
                s_meta_set (m, ZKV_SHARD_PULLING, next->num, was);
                topic = "zkv.shard.pull.started";
            }
        } else if (was == g) {
            if (now == 0) {
                // No group serves it any more (the controller never does this while a group is
                // left): nobody will pull it.
                if ((rc = zkv_kv_apply_delete_shard (a, s)))
                    break;
                s_meta_set (m, ZKV_SHARD_NONE, next->num, 0);
                topic = "zkv.shard.gc";
            } else {
                s_meta_set (m, ZKV_SHARD_HANDOFF, next->num, now);
                topic = "zkv.shard.handoff";
            }
        } else
            continue; // neither: NONE stays NONE
        if ((rc = s_put_meta (a, s)))
            break;
        kv->owned[s] = m->state == ZKV_SHARD_SERVING;
        if (topic)
            s_event (kv, topic, next->num, s, m);
    }
    if (rc == 0 && (rc = s_put_cfg (a, s_prev_key, sizeof s_prev_key, sh->cfg)) == 0)
        rc = s_put_cfg (a, s_cfg_key, sizeof s_cfg_key, next);
    if (rc) {
        zkv_routing_destroy (&next);
        return rc;
    }
    zkv_routing_destroy (&sh->prev);
    sh->prev = sh->cfg;
    sh->cfg = next;
    uint32_t counts[4];
    zkv_kv_shards_counts (kv, counts);
    s_event (kv, "zkv.shard.config", next->num, counts[ZKV_SHARD_SERVING], NULL);
    return 0;
}

// A position (phase, client, key) as a shard_meta or shard_pull / shard_chunk spells it.
static bool
s_pos_eq (uint64_t p1, uint64_t c1, const zkv_bytes_t *k1, uint64_t p2, uint64_t c2,
          const zkv_bytes_t *k2)
{
    return p1 == p2 && c1 == c2 && k1->len == k2->len &&
           (k1->len == 0 || memcmp (k1->data, k2->data, k1->len) == 0);
}

// The records of a chunk, checked before any is written: dedup records (while in phase 0, in
// ascending client order from the chunk's start), then items of the shard in ascending key
// order. n_p: how many.
static int
s_check_records (const zkv_kv_t *kv, const zkv_shard_chunk_t *c, size_t *n_p)
{
    size_t at = 0, n = 0;
    bool items = c->phase == 1, have_last = false;
    uint64_t last_client = 0;
    zkv_bytes_t last_key = {0};
    int rc = 0;
    while (at < c->records.len && rc == 0) {
        zkv_msg_t m;
        size_t used = 0;
        rc = zkv_msg_decode_prefix (c->records.data + at, c->records.len - at, &m, &used);
        if (rc)
            break;
        at += used;
        n++;
        if (m.type == ZKV_MSG_KV_SNAP_DEDUP && !items) {
            const zkv_kv_snap_dedup_t *d = &m.u.kv_snap_dedup;
            if (d->shard != c->shard || d->seq == 0 || d->client_id < c->client ||
                (have_last && d->client_id <= last_client))
                rc = ZKV_EPROTO;
            last_client = d->client_id;
            have_last = true;
        } else if (m.type == ZKV_MSG_KV_SNAP_ITEM) {
            zkv_kv_snap_item_t *it = &m.u.kv_snap_item;
            items = true;
            int cmp = 0;
            if (last_key.data) {
                size_t l = last_key.len < it->key.len ? last_key.len : it->key.len;
                cmp = memcmp (last_key.data, it->key.data, l);
                if (cmp == 0)
                    cmp = last_key.len < it->key.len ? -1 : last_key.len > it->key.len;
            }
            if (it->shard != c->shard || it->key.len == 0 ||
                zkv_kv_shard_of (it->key.data, it->key.len, kv->nshards) != c->shard ||
                (last_key.data && cmp >= 0))
                rc = ZKV_EPROTO;
            zkv_bytes_free (&last_key);
            last_key = it->key;
            it->key = (zkv_bytes_t){0};
        } else
            rc = ZKV_EPROTO;
        zkv_msg_free (&m);
    }
    zkv_bytes_free (&last_key);
    *n_p = n;
    return rc;
}

// ZKV_OP_CHUNK: a pulled chunk, installed if it starts where the shard's progress stands.
static int
s_apply_chunk (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    zkv_kv_t *kv = a->kv;
    zkv_kv_shards_t *sh = kv->shards;
    zkv_msg_t msg;
    int rc = zkv_msg_decode (cmd->value.data, cmd->value.len, &msg);
    if (rc || msg.type != ZKV_MSG_SHARD_CHUNK || msg.u.shard_chunk.shard >= kv->nshards ||
        msg.u.shard_chunk.phase > 1 || msg.u.shard_chunk.next_phase > 1) {
        zkv_msg_free (&msg);
        r->status = ZKV_EINVAL;
        r->error = "not a shard chunk";
        return 0;
    }
    const zkv_shard_chunk_t *c = &msg.u.shard_chunk;
    uint32_t s = (uint32_t)c->shard;
    zkv_shard_meta_t *m = &sh->meta[s];
    if (m->state != ZKV_SHARD_PULLING || c->num != sh->cfg->num ||
        !s_pos_eq (m->phase, m->client, &m->key, c->phase, c->client, &c->key)) {
        zkv_msg_free (&msg);
        r->status = ZKV_ESTALE;
        r->error = "installed already, or not pulled now";
        return 0;
    }
    size_t n = 0;
    if (s_check_records (kv, c, &n)) {
        zkv_msg_free (&msg);
        r->status = ZKV_EPROTO;
        r->error = "a malformed chunk: nothing installed";
        return 0;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        zkv_msg_t rec;
        size_t used = 0;
        zkv_msg_decode_prefix (c->records.data + at, c->records.len - at, &rec, &used);
        at += used;
        if (rec.type == ZKV_MSG_KV_SNAP_DEDUP) {
            const zkv_kv_snap_dedup_t *d = &rec.u.kv_snap_dedup;
            zkv_kvdedup_t dr = {.shard = s,
                                .client_id = d->client_id,
                                .seq = d->seq,
                                .status = d->status,
                                .last_ms = d->last_ms,
                                .value = d->value};
            zkv_kv_apply_dedup (a, &dr);
        } else {
            zkv_kv_snap_item_t *it = &rec.u.kv_snap_item;
            zkv_kv_apply_write (a, s, &it->key, &it->value); // takes the value
        }
        zkv_msg_free (&rec);
    }
    zkv_kv_sessions_evicted_max (a, s, c->evicted_through);
    zkv_bytes_free (&m->key);
    m->phase = c->next_phase;
    m->client = c->next_client;
    zkv_bytes_set (&m->key, c->next_key.data, c->next_key.len);
    m->chunks++;
    m->bytes += c->records.len;
    bool done = c->done;
    zkv_msg_free (&msg);
    if (done) {
        m->state = ZKV_SHARD_SERVING;
        zkv_bytes_free (&m->key);
        m->phase = m->client = 0;
        kv->owned[s] = true;
    }
    if ((rc = s_put_meta (a, s)))
        return rc;
    s_event (kv, done ? "zkv.shard.pull.finished" : "zkv.shard.pull.chunk", sh->cfg->num, s, m);
    return 0;
}

// ZKV_OP_GC: a handed-off shard its new owner holds is deleted.
static int
s_apply_gc (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    zkv_kv_t *kv = a->kv;
    zkv_msg_t msg;
    int rc = zkv_msg_decode (cmd->key.data, cmd->key.len, &msg);
    if (rc || msg.type != ZKV_MSG_SHARD_REF || msg.u.shard_ref.shard >= kv->nshards) {
        zkv_msg_free (&msg);
        r->status = ZKV_EINVAL;
        r->error = "not a shard reference";
        return 0;
    }
    uint32_t s = (uint32_t)msg.u.shard_ref.shard;
    uint64_t num = msg.u.shard_ref.num;
    zkv_msg_free (&msg);
    zkv_shard_meta_t *m = &kv->shards->meta[s];
    if (m->state != ZKV_SHARD_HANDOFF || m->num != num) {
        r->status = ZKV_ESTALE;
        r->error = "deleted already";
        return 0;
    }
    if ((rc = zkv_kv_apply_delete_shard (a, s)))
        return rc;
    uint64_t peer = m->peer;
    s_meta_set (m, ZKV_SHARD_NONE, num, peer);
    if ((rc = s_put_meta (a, s)))
        return rc;
    s_event (kv, "zkv.shard.gc", num, s, m);
    return 0;
}

int
zkv_kv_shards_apply (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    switch (cmd->op) {
    case ZKV_OP_CONFIG:
        return s_apply_config (a, cmd, r);
    case ZKV_OP_CHUNK:
        return s_apply_chunk (a, cmd, r);
    default:
        return s_apply_gc (a, cmd, r);
    }
}

// --- other groups' questions -------------------------------------------------------------------

int
zkv_kv_shards_have (const zkv_kv_t *kv, uint64_t num, uint32_t shard)
{
    if (!kv->shards || shard >= kv->nshards)
        return ZKV_EINVAL;
    const zkv_kv_shards_t *sh = kv->shards;
    if (sh->cfg->num > num)
        return 0; // past it: every shard of num was installed before the group moved on
    if (sh->cfg->num == num && sh->meta[shard].state == ZKV_SHARD_SERVING)
        return 0;
    return ZKV_ENOTREADY;
}

// A growable byte buffer.
typedef struct {
    uint8_t *data;
    size_t len, cap;
} s_buf_t;

static void
s_append (s_buf_t *b, const zkv_msg_t *m)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    if (zkv_msg_encode (m, &enc, &len) != 0)
        abort (); // records of the store always encode (their limits are the codec's)
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = realloc (b->data, b->cap);
        if (!b->data)
            abort ();
    }
    memcpy (b->data + b->len, enc, len);
    b->len += len;
    free (enc);
}

static int
s_cmp_u64 (const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

int
zkv_kv_shards_pull (zkv_kv_t *kv, const zkv_shard_pull_t *pull, size_t max_bytes,
                    zkv_bytes_t *out)
{
    *out = (zkv_bytes_t){0};
    if (!kv->shards || pull->shard >= kv->nshards || pull->phase > 1)
        return ZKV_EINVAL;
    const zkv_kv_shards_t *sh = kv->shards;
    uint32_t s = (uint32_t)pull->shard;
    // Only a frozen shard is handed out: one the group handed off in the puller's
    // configuration, whose writes it refuses from that configuration's entry on.
    bool frozen = pull->num == sh->cfg->num && sh->meta[s].state == ZKV_SHARD_HANDOFF;
    if (!frozen)
        return pull->num > sh->cfg->num ? ZKV_ENOTREADY : ZKV_ESTALE;
    if (max_bytes == 0)
        max_bytes = 1;
    zkv_msg_t reply = {.type = ZKV_MSG_SHARD_CHUNK};
    zkv_shard_chunk_t *c = &reply.u.shard_chunk;
    c->num = pull->num;
    c->shard = s;
    c->phase = pull->phase;
    c->client = pull->client;
    c->key = pull->key; // borrowed
    s_buf_t b = {0};
    uint64_t phase = pull->phase, client = pull->client;
    zkv_bytes_t next_key = {0};
    bool done = false;
    int rc = 0;
    if (phase == 0) {
        // The shard's dedup records from client on, in client order: from the table the state
        // machine keeps in memory (the store's mirror).
        size_t n = 0;
        uint64_t *ids = zkv_calloc (kv->dedup.count, sizeof (uint64_t));
        for (size_t i = 0; i < kv->dedup.capacity; i++) {
            const zkv_kv_slot_t *slot = &kv->dedup.slots[i];
            if (!slot->used || slot->shard != s)
                continue;
            uint64_t id = 0;
            for (int k = 0; k < 8; k++)
                id = id << 8 | slot->key.data[k];
            if (id >= client)
                ids[n++] = id;
        }
        qsort (ids, n, sizeof (uint64_t), s_cmp_u64);
        size_t i = 0;
        for (; i < n && (b.len == 0 || b.len < max_bytes); i++) {
            uint8_t ck[8];
            zkv_kv_client_key (ids[i], ck);
            const zkv_kv_slot_t *slot = zkv_kv_map_find (&kv->dedup, s, ck, 8);
            zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_DEDUP};
            m.u.kv_snap_dedup = (zkv_kv_snap_dedup_t){
                .shard = s, .client_id = ids[i], .seq = slot->seq, .status = slot->status,
                .value = slot->value, .last_ms = slot->last_ms};
            s_append (&b, &m);
        }
        if (i < n)
            client = ids[i];
        else
            phase = 1; // every record sent: the keys next, from the first
        free (ids);
    }
    if (phase == 1 && (b.len == 0 || b.len < max_bytes)) {
        zkv_kvpos_t from = {.shard = s};
        if (pull->phase == 1)
            from.key = pull->key; // borrowed
        zkv_kvchunk_t chunk;
        rc = zkv_kvstore_scan (kv->store, kv->sid, &from, s, b.len < max_bytes ? max_bytes - b.len : 1,
                               &chunk);
        if (rc == 0) {
            for (size_t i = 0; i < chunk.count; i++) {
                zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_ITEM};
                m.u.kv_snap_item = (zkv_kv_snap_item_t){
                    .shard = s, .key = chunk.items[i].key, .value = chunk.items[i].value};
                s_append (&b, &m);
            }
            if (chunk.more)
                zkv_bytes_set (&next_key, chunk.next.key.data, chunk.next.key.len);
            else
                done = true;
        }
        zkv_kvchunk_free (&chunk);
    }
    if (rc == 0) {
        c->next_phase = phase;
        c->next_client = phase == 0 ? client : 0;
        c->next_key = next_key; // borrowed until the encode
        c->done = done;
        c->records = (zkv_bytes_t){b.data, b.len};
        // Every chunk says how far the shard's evictions went (frozen, so the same in each):
        // the puller keeps the largest, and refuses what a lost session might retry.
        c->evicted_through = zkv_kv_evicted_through (kv, s);
        uint8_t *enc = NULL;
        size_t len = 0;
        rc = zkv_msg_encode (&reply, &enc, &len);
        if (rc == 0)
            *out = (zkv_bytes_t){enc, len};
    }
    zkv_bytes_free (&next_key);
    free (b.data);
    return rc;
}

// --- commands ------------------------------------------------------------------------------------

int
zkv_kv_shards_cmd (uint64_t op, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len, uint8_t **buf_p, size_t *len_p)
{
    zkv_msg_t msg = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *cmd = &msg.u.kv_command;
    cmd->op = op;
    cmd->key = (zkv_bytes_t){(uint8_t *)key, key_len};
    cmd->value = (zkv_bytes_t){(uint8_t *)value, value_len};
    return zkv_msg_encode (&msg, buf_p, len_p);
}
