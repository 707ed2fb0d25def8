// Client sessions of the KV state machine (zkv_kv.h, "Client sessions"): log time, expiry,
// the cap, and the rule that refuses a request whose session may have gone.
//
// Everything here runs inside an apply, on replicated state and the entry's own fields, so
// every replica evicts the same sessions at the same entry. The store's copy of the session
// state lives under the meta shard (ZKV_KV_META_SHARD): "time" (kv_clock) and "x" + shard
// (kv_evicted), so snapshots and restarts carry it like the shard states.
#include "zkv_kv_int.h"
#include "zkv_alloc.h"
#include "zkv_kv_shards.h"

#include <stdlib.h>
#include <string.h>

static void
s_evicted_key (uint8_t out[5], uint32_t shard)
{
    out[0] = ZKV_KV_EVICTED_KEY;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(shard >> (24 - 8 * i));
}

// --- loading -------------------------------------------------------------------------------

// A stored session record of the meta shard, decoded as the type expected.
static int
s_decode (const zkv_bytes_t *v, zkv_msg_type_t type, zkv_msg_t *m)
{
    int rc = zkv_msg_decode (v->data, v->len, m);
    if (rc == 0 && m->type == type)
        return 0;
    zkv_msg_free (m);
    // Written by another protocol version: not damage, an upgrade this build cannot read.
    return rc == ZKV_EVERSION ? ZKV_EVERSION : ZKV_ECORRUPT;
}

static int
s_load_clock (zkv_kv_t *kv)
{
    zkv_bytes_t v = {0};
    int rc = zkv_kvstore_get (kv->store, kv->sid, ZKV_KV_META_SHARD,
                              (const uint8_t *)ZKV_KV_CLOCK_KEY, strlen (ZKV_KV_CLOCK_KEY), &v);
    kv->log_ms = 0;
    if (rc == ZKV_ENOTFOUND)
        return 0; // no stamped command applied yet
    if (rc)
        return rc;
    zkv_msg_t m;
    rc = s_decode (&v, ZKV_MSG_KV_CLOCK, &m);
    zkv_bytes_free (&v);
    if (rc == 0)
        kv->log_ms = m.u.kv_clock.log_ms;
    zkv_msg_free (&m);
    return rc;
}

// One kv_evicted item of the meta shard into kv->evicted.
static int
s_load_evicted_item (zkv_kv_t *kv, const zkv_kvitem_t *it)
{
    zkv_msg_t m;
    int rc = s_decode (&it->value, ZKV_MSG_KV_EVICTED, &m);
    if (rc)
        return rc;
    uint8_t want[5];
    s_evicted_key (want, (uint32_t)m.u.kv_evicted.shard);
    if (m.u.kv_evicted.shard >= kv->nshards || it->key.len != 5 || memcmp (it->key.data, want, 5))
        rc = ZKV_ECORRUPT; // under another shard's key, or another shard count's
    else
        kv->evicted[m.u.kv_evicted.shard] = m.u.kv_evicted.evicted_through;
    zkv_msg_free (&m);
    return rc;
}

// Every "x" + shard item of the meta shard, in bounded scans.
static int
s_load_evicted (zkv_kv_t *kv)
{
    memset (kv->evicted, 0, kv->nshards * sizeof (uint64_t));
    uint8_t first = ZKV_KV_EVICTED_KEY;
    zkv_kvpos_t from = {.shard = ZKV_KV_META_SHARD, .key = {&first, 1}};
    bool more = true, own_key = false;
    int rc = 0;
    while (more && rc == 0) {
        zkv_kvchunk_t chunk;
        rc = zkv_kvstore_scan (kv->store, kv->sid, &from, ZKV_KV_META_SHARD, 64 * 1024, &chunk);
        if (rc)
            break;
        more = chunk.more;
        for (size_t i = 0; i < chunk.count && rc == 0; i++) {
            const zkv_kvitem_t *it = &chunk.items[i];
            if (it->key.len == 0 || it->key.data[0] != ZKV_KV_EVICTED_KEY) {
                more = false; // past the "x" keys
                break;
            }
            rc = s_load_evicted_item (kv, it);
        }
        if (own_key)
            zkv_bytes_free (&from.key);
        if (more) {
            from = chunk.next; // takes the position's bytes
            chunk.next = (zkv_kvpos_t){0};
            own_key = true;
        } else
            own_key = false;
        zkv_kvchunk_free (&chunk);
    }
    if (own_key)
        zkv_bytes_free (&from.key);
    return rc;
}

int
zkv_kv_sessions_load (zkv_kv_t *kv)
{
    kv->cap_wait_ms = 0;
    int rc = s_load_clock (kv);
    return rc ? rc : s_load_evicted (kv);
}

int
zkv_kv_reload (zkv_kv_t *kv)
{
    zkv_kv_map_t map = {0};
    int rc = zkv_kv_load_dedup (kv->store, kv->sid, &map);
    if (rc) {
        zkv_kv_map_free (&map);
        return rc;
    }
    zkv_kv_map_free (&kv->dedup);
    kv->dedup = map;
    if ((rc = zkv_kv_sessions_load (kv)))
        return rc;
    return zkv_kv_shards_reload (kv);
}

// --- writing -------------------------------------------------------------------------------

static void
s_put_msg (zkv_kv_exec_t *a, const uint8_t *key, size_t key_len, const zkv_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (zkv_msg_encode (m, &buf, &len) != 0)
        abort (); // two integers always encode
    zkv_kvstore_put (a->kv->store, a->batch, a->kv->sid, ZKV_KV_META_SHARD, key, key_len, buf, len);
    free (buf);
}

static void
s_put_evicted (zkv_kv_exec_t *a, uint32_t shard)
{
    zkv_msg_t m = {.type = ZKV_MSG_KV_EVICTED};
    m.u.kv_evicted.shard = shard;
    m.u.kv_evicted.evicted_through = a->kv->evicted[shard];
    uint8_t key[5];
    s_evicted_key (key, shard);
    s_put_msg (a, key, sizeof key, &m);
}

void
zkv_kv_sessions_flush (zkv_kv_exec_t *a)
{
    zkv_kv_t *kv = a->kv;
    if (a->evicted_dirty)
        for (uint32_t s = 0; s < kv->nshards; s++)
            if (a->evicted_dirty[s])
                s_put_evicted (a, s);
    if (kv->log_ms == a->log_ms)
        return;
    zkv_msg_t m = {.type = ZKV_MSG_KV_CLOCK};
    m.u.kv_clock.log_ms = kv->log_ms;
    s_put_msg (a, (const uint8_t *)ZKV_KV_CLOCK_KEY, strlen (ZKV_KV_CLOCK_KEY), &m);
}

void
zkv_kv_sessions_evicted_max (zkv_kv_exec_t *a, uint32_t shard, uint64_t ms)
{
    zkv_kv_t *kv = a->kv;
    if (shard >= kv->nshards || kv->evicted[shard] >= ms)
        return;
    kv->evicted[shard] = ms;
    // Written once per apply (a sweep may evict thousands from one shard), at the flush.
    if (!a->evicted_dirty)
        a->evicted_dirty = zkv_calloc (kv->nshards, sizeof (bool));
    a->evicted_dirty[shard] = true;
}

// --- evicting ------------------------------------------------------------------------------

// A session that may be evicted: its shard is served here. A frozen shard (handed off, being
// pulled) keeps every record as it is, so that any replica answers a pull with the same bytes.
static bool
s_evictable (const zkv_kv_t *kv, const zkv_kv_slot_t *slot)
{
    return slot->used && slot->shard < kv->nshards && (!kv->owned || kv->owned[slot->shard]);
}

// One session, identified by value (slots move when the table changes).
typedef struct {
    uint64_t last_ms;
    uint32_t shard;
    uint64_t client;
} s_victim_t;

static void
s_evict (zkv_kv_exec_t *a, const s_victim_t *v)
{
    zkv_kv_t *kv = a->kv;
    uint8_t ck[8];
    zkv_kv_client_key (v->client, ck);
    zkv_kv_map_remove (&kv->dedup, v->shard, ck, 8);
    zkv_kvstore_del_dedup (kv->store, a->batch, kv->sid, v->shard, v->client);
    // At least 1, so that 0 keeps meaning "nothing was ever evicted here" (a session whose
    // requests carried no time, time 0, was evicted all the same).
    zkv_kv_sessions_evicted_max (a, v->shard, v->last_ms ? v->last_ms : 1);
}

// Least recently active first; ties by shard, then client id: the same order on every replica,
// whatever the table's layout.
static int
s_victim_cmp (const void *x, const void *y)
{
    const s_victim_t *p = x, *q = y;
    if (p->last_ms != q->last_ms)
        return p->last_ms < q->last_ms ? -1 : 1;
    if (p->shard != q->shard)
        return p->shard < q->shard ? -1 : 1;
    return p->client < q->client ? -1 : p->client > q->client;
}

// The evictable sessions idle since before `before` (last_ms < before), in eviction order; *n_p
// of them. *next_p: the smallest last_ms of the evictable ones left out (UINT64_MAX: none).
static s_victim_t *
s_collect (const zkv_kv_t *kv, uint64_t before, size_t *n_p, uint64_t *next_p)
{
    s_victim_t *v = zkv_calloc (kv->dedup.count, sizeof *v);
    size_t n = 0;
    *next_p = UINT64_MAX;
    for (size_t i = 0; i < kv->dedup.capacity; i++) {
        const zkv_kv_slot_t *slot = &kv->dedup.slots[i];
        if (!s_evictable (kv, slot))
            continue;
        if (slot->last_ms < before)
            v[n++] = (s_victim_t){slot->last_ms, slot->shard, zkv_kv_client_of (slot)};
        else if (slot->last_ms < *next_p)
            *next_p = slot->last_ms;
    }
    qsort (v, n, sizeof *v, s_victim_cmp);
    *n_p = n;
    return v;
}

// The sessions idle for ttl_ms or more go.
static void
s_sweep (zkv_kv_exec_t *a, uint64_t ttl_ms)
{
    zkv_kv_t *kv = a->kv;
    if (kv->log_ms < ttl_ms)
        return; // nobody can have been idle that long
    size_t n;
    uint64_t next;
    s_victim_t *v = s_collect (kv, kv->log_ms - ttl_ms + 1, &n, &next);
    for (size_t i = 0; i < n; i++)
        s_evict (a, &v[i]);
    kv->stats.expired += n;
    free (v);
}

// The period of the sweeps: an eighth of the ttl, so a session lives at most 9/8 of it.
static uint64_t
s_sweep_period (uint64_t ttl_ms)
{
    return ttl_ms / 8 ? ttl_ms / 8 : 1;
}

void
zkv_kv_sessions_clock (zkv_kv_exec_t *a, const zkv_kv_command_t *cmd)
{
    zkv_kv_t *kv = a->kv;
    uint64_t before = kv->log_ms;
    if (cmd->time_ms > kv->log_ms)
        kv->log_ms = cmd->time_ms;
    uint64_t ttl = cmd->session_ttl_ms;
    // Sweep points are multiples of the period, a function of the log time alone: replicas
    // sweep at the same entry whatever their batches, restarts or snapshots.
    if (ttl && kv->log_ms / s_sweep_period (ttl) != before / s_sweep_period (ttl))
        s_sweep (a, ttl);
}

bool
zkv_kv_session_maybe_evicted (const zkv_kv_t *kv, uint32_t shard, uint64_t session_t0)
{
    uint64_t through = shard < kv->nshards ? kv->evicted[shard] : 0;
    // No session was ever evicted from the shard: nothing can have been lost. Otherwise a
    // request whose client learned its log time no later than a margin after the last
    // eviction may have been applied before under a record that went.
    return through != 0 &&
           (through >= session_t0 || session_t0 - through <= ZKV_KV_SESSION_MARGIN_MS);
}

// Makes room for one new session under max (the table holds max or more): the least recently
// active sessions idle ZKV_KV_SESSION_MIN_IDLE_MS or more go, down to max less a sixteenth (so
// that the next new sessions find room without a scan each). True if there is room now.
static bool
s_make_room (zkv_kv_exec_t *a, uint64_t max)
{
    zkv_kv_t *kv = a->kv;
    if (kv->log_ms < kv->cap_wait_ms)
        return false; // the last scan found none old enough, and none can be yet
    uint64_t before =
        kv->log_ms >= ZKV_KV_SESSION_MIN_IDLE_MS ? kv->log_ms - ZKV_KV_SESSION_MIN_IDLE_MS + 1 : 0;
    size_t n;
    uint64_t next;
    s_victim_t *v = s_collect (kv, before, &n, &next);
    uint64_t low = max - 1 - max / 16, count = kv->dedup.count;
    size_t evict = count - low < n ? (size_t)(count - low) : n;
    for (size_t i = 0; i < evict; i++)
        s_evict (a, &v[i]);
    kv->stats.capped += evict;
    free (v);
    // None was old enough: the oldest becomes so at its last_ms + the idle time, and sessions
    // touched or made from now on are younger still. A cache: the next scan waits for it (a
    // shard move, which changes what is evictable, clears it).
    kv->cap_wait_ms = 0;
    if (n == 0)
        kv->cap_wait_ms = next > UINT64_MAX - ZKV_KV_SESSION_MIN_IDLE_MS
                              ? UINT64_MAX
                              : next + ZKV_KV_SESSION_MIN_IDLE_MS;
    return kv->dedup.count < max;
}

int
zkv_kv_sessions_admit (zkv_kv_exec_t *a, uint32_t shard, const zkv_kv_command_t *cmd,
                       zkv_kv_result_t *r)
{
    zkv_kv_t *kv = a->kv;
    if (zkv_kv_session_maybe_evicted (kv, shard, cmd->session_t0)) {
        kv->stats.refused++;
        r->status = ZKV_ESESSION;
        r->error = zkv_strerror (ZKV_ESESSION);
        return r->status;
    }
    uint64_t max = cmd->max_sessions;
    if (max && kv->dedup.count >= max && !s_make_room (a, max)) {
        kv->stats.busy++;
        r->status = ZKV_EBUSY;
        r->error = "busy: too many client sessions, none idle long enough to end";
        return r->status;
    }
    return 0;
}
