// The KV state machine: construction and boot, shard hashing, limits, reads and dedup lookups.
#include "zkv_kv_int.h"
#include "zkv_alloc.h"
#include "zkv_shard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

uint64_t
zkv_kv_fnv1a (const uint8_t *data, size_t len)
{
    return zkv_fnv1a (data, len);
}

uint32_t
zkv_kv_shard_of (const uint8_t *key, size_t key_len, uint32_t nshards)
{
    return zkv_shard_of (key, key_len, nshards);
}

void
zkv_kv_client_key (uint64_t client_id, uint8_t out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(client_id >> (56 - 8 * i));
}

uint64_t
zkv_kv_client_of (const zkv_kv_slot_t *slot)
{
    uint64_t id = 0;
    for (size_t i = 0; i < 8 && i < slot->key.len; i++)
        id = id << 8 | slot->key.data[i];
    return id;
}

void
zkv_kv_slot_set (zkv_kv_slot_t *slot, const zkv_kvdedup_t *rec)
{
    slot->seq = rec->seq;
    slot->status = rec->status;
    slot->last_ms = rec->last_ms;
    zkv_bytes_free (&slot->value);
    zkv_bytes_set (&slot->value, rec->value.data, rec->value.len);
}

// ---------------------------------------------------------------------------------------------
// The map

static uint64_t
s_hash (uint32_t shard, const uint8_t *key, size_t key_len)
{
    uint64_t h = zkv_kv_fnv1a (key, key_len) ^ ((uint64_t)shard * 0x9E3779B97F4A7C15ULL);
    return h ^ (h >> 29);
}

static bool
s_slot_is (const zkv_kv_slot_t *slot, uint64_t hash, uint32_t shard, const uint8_t *key,
           size_t key_len)
{
    return slot->hash == hash && slot->shard == shard && slot->key.len == key_len &&
           (key_len == 0 || memcmp (slot->key.data, key, key_len) == 0);
}

zkv_kv_slot_t *
zkv_kv_map_find (const zkv_kv_map_t *map, uint32_t shard, const uint8_t *key, size_t key_len)
{
    if (map->count == 0)
        return NULL;
    uint64_t hash = s_hash (shard, key, key_len);
    size_t mask = map->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        zkv_kv_slot_t *slot = &map->slots[i];
        if (!slot->used)
            return NULL; // never full: the probe ends
        if (s_slot_is (slot, hash, shard, key, key_len))
            return slot;
    }
}

static void
s_map_grow (zkv_kv_map_t *map)
{
    zkv_kv_map_t bigger = {0};
    bigger.capacity = map->capacity ? 2 * map->capacity : 16;
    bigger.slots = zkv_calloc (bigger.capacity, sizeof (zkv_kv_slot_t));
    size_t mask = bigger.capacity - 1;
    for (size_t j = 0; j < map->capacity; j++) {
        if (!map->slots[j].used)
            continue;
        size_t i = map->slots[j].hash & mask;
        while (bigger.slots[i].used)
            i = (i + 1) & mask;
        bigger.slots[i] = map->slots[j]; // moves the owned bytes
    }
    bigger.count = map->count;
    free (map->slots);
    *map = bigger;
}

zkv_kv_slot_t *
zkv_kv_map_upsert (zkv_kv_map_t *map, uint32_t shard, const uint8_t *key, size_t key_len)
{
    zkv_kv_slot_t *slot = zkv_kv_map_find (map, shard, key, key_len);
    if (slot)
        return slot;
    if (2 * (map->count + 1) > map->capacity)
        s_map_grow (map);
    uint64_t hash = s_hash (shard, key, key_len);
    size_t mask = map->capacity - 1, i = hash & mask;
    while (map->slots[i].used)
        i = (i + 1) & mask;
    slot = &map->slots[i];
    memset (slot, 0, sizeof *slot);
    slot->used = true;
    slot->shard = shard;
    slot->hash = hash;
    zkv_bytes_set (&slot->key, key, key_len);
    map->count++;
    return slot;
}

bool
zkv_kv_map_remove (zkv_kv_map_t *map, uint32_t shard, const uint8_t *key, size_t key_len)
{
    zkv_kv_slot_t *slot = zkv_kv_map_find (map, shard, key, key_len);
    if (!slot)
        return false;
    zkv_bytes_free (&slot->key);
    zkv_bytes_free (&slot->value);
    // Backward shift: each entry after the hole moves into it unless its home slot lies
    // cyclically in (hole, entry], where a probe for it starts past the hole anyway.
    size_t mask = map->capacity - 1, hole = (size_t)(slot - map->slots), j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!map->slots[j].used)
            break;
        size_t home = map->slots[j].hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            map->slots[hole] = map->slots[j]; // moves the owned bytes
            hole = j;
        }
    }
    memset (&map->slots[hole], 0, sizeof map->slots[hole]);
    map->count--;
    return true;
}

void
zkv_kv_map_drop_shard (zkv_kv_map_t *map, uint32_t shard)
{
    zkv_kv_map_t kept = {0};
    for (size_t i = 0; i < map->capacity; i++) {
        zkv_kv_slot_t *s = &map->slots[i];
        if (!s->used)
            continue;
        if (s->shard == shard) {
            zkv_bytes_free (&s->key);
            zkv_bytes_free (&s->value);
            continue;
        }
        zkv_kv_slot_t *d = zkv_kv_map_upsert (&kept, s->shard, s->key.data, s->key.len);
        d->seq = s->seq;
        d->status = s->status;
        d->last_ms = s->last_ms;
        d->deleted = s->deleted;
        d->value = s->value; // moves the bytes
        zkv_bytes_free (&s->key);
    }
    free (map->slots);
    *map = kept;
}

void
zkv_kv_map_free (zkv_kv_map_t *map)
{
    for (size_t i = 0; i < map->capacity; i++) {
        zkv_bytes_free (&map->slots[i].key);
        zkv_bytes_free (&map->slots[i].value);
    }
    free (map->slots);
    memset (map, 0, sizeof *map);
}

// ---------------------------------------------------------------------------------------------
// Construction and boot

void
zkv_kv_limits_defaults (zkv_kv_limits_t *limits)
{
    limits->max_key_bytes = 4096;
    limits->max_value_bytes = 1024 * 1024;
    limits->session_ttl_ms = 3600000;
    limits->max_sessions = 65536;
}

int
zkv_kv_load_dedup (zkv_kvstore_t *store, uint64_t sid, zkv_kv_map_t *map)
{
    zkv_kvdedup_t *recs;
    size_t n;
    int rc = zkv_kvstore_load_dedup (store, sid, &recs, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t ck[8];
        zkv_kv_client_key (recs[i].client_id, ck);
        zkv_kv_slot_t *slot = zkv_kv_map_upsert (map, recs[i].shard, ck, 8);
        slot->seq = recs[i].seq;
        slot->status = recs[i].status;
        slot->last_ms = recs[i].last_ms;
        zkv_bytes_free (&slot->value);
        slot->value = recs[i].value; // takes the record's bytes
        recs[i].value = (zkv_bytes_t){0};
    }
    zkv_kvdedup_free_all (recs, n);
    return 0;
}

int
zkv_kv_find_current (zkv_kvstore_t *store, uint64_t group, uint32_t *gen, uint64_t *applied,
                     uint64_t *other_row)
{
    uint64_t row[2];
    int rc;
    if ((rc = zkv_kvstore_load_applied (store, zkv_kv_sid (group, 0), &row[0])) ||
        (rc = zkv_kvstore_load_applied (store, zkv_kv_sid (group, 1), &row[1])))
        return rc;
    bool valid0 = zkv_kv_row_valid (row[0]), valid1 = zkv_kv_row_valid (row[1]);
    if (valid0 && valid1)
        return ZKV_ECORRUPT; // a promotion is one batch: never two current states
    if (valid0 || valid1) {
        *gen = valid1;
        *applied = row[*gen];
    } else {
        // No state has been installed yet: generation 0 is current, at 0 (a new store, whose
        // generation 1 may hold a staged stream) or incomplete (an older version of zkv
        // cleared it at a stream's first chunk and was interrupted before the install).
        *gen = 0;
        *applied = row[0] == 0 ? 0 : ZKV_KV_APPLIED_INCOMPLETE;
    }
    *other_row = row[!*gen];
    return 0;
}

zkv_kv_t *
zkv_kv_new (zkv_kvstore_t *store, uint64_t group, uint32_t nshards, const zkv_kv_limits_t *limits,
            int *err)
{
    int rc = ZKV_EINVAL;
    zkv_kv_t *self = NULL;
    // Limits must leave room for a whole command inside one message field; the group id's top
    // bit is the generation's (config/ bounds group ids far below it).
    if (!store || nshards == 0 || !limits || limits->max_key_bytes == 0 ||
        limits->max_key_bytes + limits->max_value_bytes + 64 > ZKV_MSG_MAX_FIELD_BYTES ||
        (limits->session_ttl_ms && limits->session_ttl_ms < ZKV_KV_SESSION_MIN_IDLE_MS) ||
        (group & ZKV_KV_STAGED_BIT))
        goto fail;
    self = zkv_calloc (1, sizeof *self);
    self->store = store;
    self->group = group;
    self->nshards = nshards;
    self->limits = *limits;
    self->evicted = zkv_calloc (nshards, sizeof (uint64_t));
    uint64_t other;
    if ((rc = zkv_kv_find_current (store, group, &self->gen, &self->applied, &other)))
        goto fail;
    self->sid = zkv_kv_sid (group, self->gen);
    // An incomplete state has no table to answer from.
    if (!zkv_kv_incomplete (self) && (rc = zkv_kv_reload (self)))
        goto fail;
    if (err)
        *err = 0;
    return self;
fail:
    zkv_kv_destroy (&self);
    if (err)
        *err = rc;
    return NULL;
}

void
zkv_kv_destroy (zkv_kv_t **self_p)
{
    assert (self_p);
    zkv_kv_t *self = *self_p;
    if (!self)
        return;
    zkv_kv_shards_free (self);
    zkv_kv_map_free (&self->dedup);
    free (self->evicted);
    free (self->owned);
    free (self);
    *self_p = NULL;
}

void
zkv_kv_set_owned (zkv_kv_t *self, const bool *owned)
{
    assert (self);
    if (self->shards)
        return; // the configuration decides
    free (self->owned);
    self->owned = NULL;
    if (owned) {
        self->owned = zkv_calloc (self->nshards, sizeof (bool));
        memcpy (self->owned, owned, self->nshards * sizeof (bool));
    }
}

int
zkv_kv_check_shard (const zkv_kv_t *self, const uint8_t *key, size_t key_len)
{
    if (!self->owned)
        return 0;
    return self->owned[zkv_kv_shard_of (key, key_len, self->nshards)] ? 0 : ZKV_EWRONGGROUP;
}

uint64_t
zkv_kv_applied (const zkv_kv_t *self)
{
    return self->applied;
}

uint64_t
zkv_kv_log_ms (const zkv_kv_t *self)
{
    return self->log_ms;
}

uint64_t
zkv_kv_evicted_through (const zkv_kv_t *self, uint32_t shard)
{
    return shard < self->nshards ? self->evicted[shard] : 0;
}

void
zkv_kv_session_stats (const zkv_kv_t *self, zkv_kv_session_stats_t *out)
{
    *out = self->stats;
    out->sessions = self->dedup.count;
}

uint64_t
zkv_kv_group (const zkv_kv_t *self)
{
    return self->group;
}

uint64_t
zkv_kv_size (zkv_kv_t *self)
{
    return zkv_kvstore_approx_bytes (self->store, self->sid);
}

uint32_t
zkv_kv_nshards (const zkv_kv_t *self)
{
    return self->nshards;
}

void
zkv_kv_results_free (zkv_kv_results_t *results)
{
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++)
        zkv_bytes_free (&results->items[i].value);
    free (results->items);
    results->items = NULL;
    results->count = 0;
}

// ---------------------------------------------------------------------------------------------
// Requests

int
zkv_kv_check (const zkv_kv_limits_t *limits, uint64_t op, size_t key_len, size_t value_len)
{
    if (op != ZKV_OP_GET && op != ZKV_OP_PUT && op != ZKV_OP_APPEND && op != ZKV_OP_DELETE)
        return ZKV_EINVAL;
    if (key_len == 0)
        return ZKV_EINVAL;
    if (key_len > limits->max_key_bytes || value_len > limits->max_value_bytes)
        return ZKV_ETOOBIG;
    return 0;
}

void
zkv_kv_stamp (const zkv_kv_t *self, uint64_t now_ms, zkv_kv_command_t *cmd)
{
    // Never below the log time: a leader whose clock is behind the group's (a skewed clock, a
    // clock stepped back) does not make time look frozen to the entries after.
    cmd->time_ms = now_ms > self->log_ms ? now_ms : self->log_ms;
    cmd->session_ttl_ms = self->limits.session_ttl_ms;
    cmd->max_sessions = self->limits.max_sessions;
}

int
zkv_kv_cond_check (const zkv_kv_limits_t *limits, uint64_t op, const zkv_kv_cond_t *cond)
{
    if (!cond)
        return 0;
    if (cond->cond > ZKV_COND_REVISION || (cond->cond && op == ZKV_OP_GET))
        return ZKV_EINVAL; // a read compares nothing
    if (cond->cond != ZKV_COND_VALUE && cond->expect_len)
        return ZKV_EINVAL;
    if (cond->cond != ZKV_COND_REVISION && cond->expect_rev)
        return ZKV_EINVAL;
    return cond->expect_len > limits->max_value_bytes ? ZKV_ETOOBIG : 0;
}

int
zkv_kv_command_encode (const zkv_kv_t *self, uint64_t client_id, uint64_t seq, uint64_t op,
                       const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                       uint64_t session_t0, uint64_t now_ms, uint8_t **buf_p, size_t *len_p)
{
    return zkv_kv_command_encode_cond (self, client_id, seq, op, key, key_len, value, value_len,
                                       NULL, session_t0, now_ms, buf_p, len_p);
}

int
zkv_kv_command_encode_cond (const zkv_kv_t *self, uint64_t client_id, uint64_t seq, uint64_t op,
                            const uint8_t *key, size_t key_len, const uint8_t *value,
                            size_t value_len, const zkv_kv_cond_t *cond, uint64_t session_t0,
                            uint64_t now_ms, uint8_t **buf_p, size_t *len_p)
{
    assert (self && buf_p && len_p);
    *buf_p = NULL;
    *len_p = 0;
    if (op == ZKV_OP_GET || seq == 0)
        return ZKV_EINVAL; // gets are not logged; seqs start at 1
    if (op == ZKV_OP_DELETE && value_len)
        return ZKV_EINVAL;
    int rc = zkv_kv_check (&self->limits, op, key_len, value_len);
    if (rc == 0)
        rc = zkv_kv_cond_check (&self->limits, op, cond);
    if (rc == 0)
        rc = zkv_kv_check_shard (self, key, key_len);
    if (rc)
        return rc;
    // The message points at the caller's bytes: nothing is copied, nothing freed.
    zkv_msg_t msg = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *cmd = &msg.u.kv_command;
    cmd->client_id = client_id;
    cmd->seq = seq;
    cmd->op = op;
    cmd->key = (zkv_bytes_t){(uint8_t *)key, key_len};
    cmd->value = (zkv_bytes_t){(uint8_t *)value, value_len};
    cmd->session_t0 = session_t0;
    if (cond) {
        cmd->cond = cond->cond;
        cmd->expect = (zkv_bytes_t){(uint8_t *)cond->expect, cond->expect_len};
        cmd->expect_rev = cond->expect_rev;
    }
    zkv_kv_stamp (self, now_ms, cmd);
    return zkv_msg_encode (&msg, buf_p, len_p);
}

bool
zkv_kv_seq_valid (uint64_t last, uint64_t seq)
{
    return seq != 0 && seq != UINT64_MAX && (seq <= last || seq - last <= ZKV_KV_MAX_SEQ_JUMP);
}

int
zkv_kv_lookup (const zkv_kv_t *self, uint64_t client_id, uint64_t seq, uint64_t session_t0,
               const uint8_t *key, size_t key_len, zkv_kv_result_t *out)
{
    assert (self && out && (key || key_len == 0));
    memset (out, 0, sizeof *out);
    out->log_ms = self->log_ms;
    uint8_t ck[8];
    zkv_kv_client_key (client_id, ck);
    uint32_t shard = zkv_kv_shard_of (key, key_len, self->nshards);
    const zkv_kv_slot_t *slot = zkv_kv_map_find (&self->dedup, shard, ck, 8);
    if (!zkv_kv_seq_valid (slot ? slot->seq : 0, seq)) {
        out->status = ZKV_EINVAL;
        out->error = "invalid sequence number (0, 2^64-1, or too far past the client's last)";
        return 1;
    }
    if (!slot && zkv_kv_session_maybe_evicted (self, shard, session_t0)) {
        // The same rule the apply follows, on applied state: answered now, never proposed.
        // (Counted by the apply's rule only: this is a leader's shortcut.)
        out->has_client = true;
        out->client_id = client_id;
        out->seq = seq;
        out->status = ZKV_ESESSION;
        out->error = zkv_strerror (ZKV_ESESSION);
        return 1;
    }
    if (!slot || seq > slot->seq)
        return 0;
    out->has_client = true;
    out->client_id = client_id;
    out->seq = seq;
    if (seq == slot->seq) {
        out->duplicate = true;
        out->status = -(int)slot->status;
        out->error = out->status ? zkv_strerror (out->status) : NULL;
        if (self->exec)
            zkv_bytes_set (&out->value, slot->value.data, slot->value.len);
        else
            out->revision = zkv_kv_dedup_revision (&slot->value);
    } else {
        out->status = ZKV_KV_ESTALE;
        out->error = "stale request: a later one of this client was applied";
    }
    return 1;
}

int
zkv_kv_get (zkv_kv_t *self, const uint8_t *key, size_t key_len, zkv_bytes_t *value)
{
    uint64_t revision;
    return zkv_kv_get_rev (self, key, key_len, value, &revision);
}

void
zkv_kv_value_pack (uint64_t revision, const uint8_t *data, size_t len, zkv_bytes_t *out)
{
    out->len = ZKV_KV_REV_BYTES + len;
    out->data = malloc (out->len);
    if (!out->data)
        abort (); // out of memory aborts (STYLE.md)
    for (int i = 0; i < ZKV_KV_REV_BYTES; i++)
        out->data[i] = (uint8_t)(revision >> (56 - 8 * i));
    if (len)
        memcpy (out->data + ZKV_KV_REV_BYTES, data, len);
}

int
zkv_kv_value_unpack (zkv_bytes_t *stored, uint64_t *revision)
{
    *revision = 0;
    if (stored->len < ZKV_KV_REV_BYTES)
        return ZKV_ECORRUPT;
    for (int i = 0; i < ZKV_KV_REV_BYTES; i++)
        *revision = *revision << 8 | stored->data[i];
    stored->len -= ZKV_KV_REV_BYTES;
    memmove (stored->data, stored->data + ZKV_KV_REV_BYTES, stored->len);
    return 0;
}

void
zkv_kv_dedup_value (uint64_t revision, zkv_bytes_t *out)
{
    *out = (zkv_bytes_t){0};
    if (revision) {
        zkv_kv_value_pack (revision, NULL, 0, out);
    }
}

uint64_t
zkv_kv_dedup_revision (const zkv_bytes_t *value)
{
    uint64_t revision = 0;
    if (value->len == ZKV_KV_REV_BYTES)
        for (int i = 0; i < ZKV_KV_REV_BYTES; i++)
            revision = revision << 8 | value->data[i];
    return revision;
}

int
zkv_kv_get_rev (zkv_kv_t *self, const uint8_t *key, size_t key_len, zkv_bytes_t *value,
                uint64_t *revision)
{
    assert (self && value && revision && (key || key_len == 0));
    value->data = NULL;
    value->len = 0;
    *revision = 0;
    int rc = zkv_kv_check (&self->limits, ZKV_OP_GET, key_len, 0);
    if (rc)
        return rc;
    if (zkv_kv_incomplete (self))
        return ZKV_EUNAVAILABLE; // no state to read
    if ((rc = zkv_kv_check_shard (self, key, key_len)))
        return rc;
    uint32_t shard = zkv_kv_shard_of (key, key_len, self->nshards);
    rc = zkv_kvstore_get (self->store, self->sid, shard, key, key_len, value);
    if (rc == 0 && (rc = zkv_kv_value_unpack (value, revision)))
        zkv_bytes_free (value);
    return rc;
}
