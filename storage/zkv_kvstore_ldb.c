// LevelDB KV data store: the KV data, dedup records and applied index of every group a node
// hosts, in the node's database, next to its Raft log (keys: see zkv_kvstore.h).
//
// A commit is one leveldb_writebatch_t written with sync=false: atomic (LevelDB replays only
// whole batches from its write-ahead log) but not fsynced, because the Raft log is the durable
// source and the applied index in the same batch says where to replay from. The log store's next
// sync=true write fsyncs the same write-ahead log, which makes these batches durable too.
//
// After a failed commit every later commit returns the same error: what reached the disk is
// unknown, so the node must restart and boot from what is really there.
#include "zkv_kvstores.h"
#include "zkv_ldberr.h"
#include "zkv_alloc.h"
#include "zkv_ldbpins.h"
#include "zkv_ldbstore.h"
#include "zkv_logstore.h"

#include <leveldb/c.h>
#include <stdlib.h>

// Ranges a batch deleted, compacted once it is written (at most this many; past it, whole
// groups).
#define S_MAX_DELETED 16

typedef struct {
    uint64_t group; // storage id
    uint32_t shard; // the shard, unless all
    bool all;       // the whole group
} s_deleted_t;

struct zkv_kvbatch {
    leveldb_writebatch_t *wb; // the writes
    s_deleted_t deleted[S_MAX_DELETED];
    size_t n_deleted;  // ranges recorded
    bool deleted_more; // more than S_MAX_DELETED: compact every recorded group whole
};

typedef struct {
    leveldb_t *db;                   // the node's database, owned by the log store
    zkv_ldbpins_t *pins;             // its views and waiting compactions, also the log store's
    leveldb_writeoptions_t *wnosync; // sync=false
    leveldb_readoptions_t *read;     // point reads: verify checksums
    leveldb_readoptions_t *scan;     // scans: verify checksums, do not fill the block cache
    int failed;                      // sticky error after a failed commit, else 0
    const leveldb_snapshot_t *snap;  // a view's LevelDB snapshot (reads use it), else NULL
} s_ldbkv_t;

static int
s_get_raw (s_ldbkv_t *self, const uint8_t *key, size_t key_len, char **val, size_t *val_len)
{
    char *errptr = NULL;
    *val = leveldb_get (self->db, self->read, (const char *)key, key_len, val_len, &errptr);
    if (errptr)
        return zkv_ldb_error (errptr);
    return *val ? 0 : ZKV_ENOTFOUND;
}

static int
s_get (void *impl, uint64_t group, uint32_t shard, const uint8_t *key, size_t key_len,
       zkv_bytes_t *value)
{
    s_ldbkv_t *self = impl;
    size_t len, val_len;
    uint8_t *k = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &len);
    char *val;
    int rc = s_get_raw (self, k, len, &val, &val_len);
    free (k);
    if (rc)
        return rc;
    zkv_bytes_set (value, val, val_len);
    leveldb_free (val);
    return 0;
}

static int
s_load_applied (void *impl, uint64_t group, uint64_t *applied)
{
    s_ldbkv_t *self = impl;
    uint8_t k[ZKV_KVSTORE_PREFIX_MAX];
    size_t len = zkv_kvstore_prefix (k, ZKV_KVSTORE_KIND_APPLIED, group, false, 0), val_len;
    char *val;
    int rc = s_get_raw (self, k, len, &val, &val_len);
    if (rc == ZKV_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    rc = zkv_kvstore_applied_decode ((const uint8_t *)val, val_len, applied);
    leveldb_free (val);
    return rc;
}

static bool
s_iter_in (leveldb_iterator_t *it, const uint8_t *prefix, size_t plen)
{
    if (!leveldb_iter_valid (it))
        return false;
    size_t len;
    const char *key = leveldb_iter_key (it, &len);
    return len >= plen && memcmp (key, prefix, plen) == 0;
}

static int
s_load_dedup (void *impl, uint64_t group, zkv_kvdedup_t **recs_p, size_t *n_p)
{
    s_ldbkv_t *self = impl;
    uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
    size_t plen = zkv_kvstore_prefix (prefix, ZKV_KVSTORE_KIND_DEDUP, group, false, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    zkv_kvdedup_t *recs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (leveldb_iter_seek (it, (const char *)prefix, plen); s_iter_in (it, prefix, plen);
         leveldb_iter_next (it)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            recs = realloc (recs, cap * sizeof *recs);
            if (!recs)
                abort ();
        }
        size_t klen, vlen;
        const char *key = leveldb_iter_key (it, &klen);
        const char *val = leveldb_iter_value (it, &vlen);
        rc = zkv_kvstore_dedup_decode ((const uint8_t *)key, klen, (const uint8_t *)val, vlen,
                                       &recs[n]);
        if (rc)
            break;
        n++;
    }
    if (!rc)
        rc = zkv_ldb_iter_error (it);
    leveldb_iter_destroy (it);
    if (rc) {
        zkv_kvdedup_free_all (recs, n);
        return rc;
    }
    *recs_p = recs;
    *n_p = n;
    return 0;
}

static void
s_chunk_push (zkv_kvchunk_t *out, size_t *cap, uint32_t shard, const uint8_t *key, size_t key_len,
              const uint8_t *val, size_t val_len)
{
    if (out->count == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        out->items = realloc (out->items, *cap * sizeof (zkv_kvitem_t));
        if (!out->items)
            abort ();
    }
    zkv_kvitem_t *item = &out->items[out->count++];
    item->shard = shard;
    zkv_bytes_set (&item->key, key, key_len);
    zkv_bytes_set (&item->value, val, val_len);
}

static int
s_scan (void *impl, uint64_t group, const zkv_kvpos_t *from, uint32_t last_shard, size_t max_bytes,
        zkv_kvchunk_t *out)
{
    s_ldbkv_t *self = impl;
    uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
    size_t plen = zkv_kvstore_prefix (prefix, ZKV_KVSTORE_KIND_DATA, group, false, 0);
    size_t start_len, bytes = 0, cap = 0;
    uint8_t *start = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, from->shard, from->key.data,
                                      from->key.len, &start_len);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    int rc = 0;
    for (leveldb_iter_seek (it, (const char *)start, start_len); s_iter_in (it, prefix, plen);
         leveldb_iter_next (it)) {
        size_t klen, vlen, user_len;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key (it, &klen);
        const uint8_t *v = (const uint8_t *)leveldb_iter_value (it, &vlen);
        const uint8_t *user;
        uint32_t shard;
        rc = zkv_kvstore_data_key_decode (k, klen, &shard, &user, &user_len);
        if (rc || shard > last_shard)
            break;
        if (out->count > 0 && bytes + user_len + vlen > max_bytes) {
            // Resume right after the last item: its key with a zero byte appended is the
            // smallest key greater than it.
            const zkv_kvitem_t *last = &out->items[out->count - 1];
            out->more = true;
            out->next.shard = last->shard;
            out->next.key.len = last->key.len + 1;
            out->next.key.data = zkv_calloc (1, out->next.key.len);
            if (last->key.len)
                memcpy (out->next.key.data, last->key.data, last->key.len);
            break;
        }
        s_chunk_push (out, &cap, shard, user, user_len, v, vlen);
        bytes += user_len + vlen;
    }
    if (!rc)
        rc = zkv_ldb_iter_error (it);
    leveldb_iter_destroy (it);
    free (start);
    if (rc)
        zkv_kvchunk_free (out);
    return rc;
}

static zkv_kvbatch_t *
s_batch_new (void *impl)
{
    (void)impl;
    zkv_kvbatch_t *b = zkv_calloc (1, sizeof *b);
    b->wb = leveldb_writebatch_create ();
    return b;
}

static void
s_put (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
       size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)impl;
    size_t len;
    uint8_t *k = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &len);
    leveldb_writebatch_put (b->wb, (const char *)k, len, value_len ? (const char *)value : "",
                            value_len);
    free (k);
}

static void
s_del (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
       size_t key_len)
{
    (void)impl;
    size_t len;
    uint8_t *k = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &len);
    leveldb_writebatch_delete (b->wb, (const char *)k, len);
    free (k);
}

static void
s_put_dedup (void *impl, zkv_kvbatch_t *b, uint64_t group, const zkv_kvdedup_t *rec)
{
    (void)impl;
    size_t klen, vlen;
    uint8_t *k = zkv_kvstore_dedup_key (group, rec, &klen);
    uint8_t *v = zkv_kvstore_dedup_value (rec, &vlen);
    leveldb_writebatch_put (b->wb, (const char *)k, klen, (const char *)v, vlen);
    free (k);
    free (v);
}

static void
s_del_dedup (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, uint64_t client_id)
{
    (void)impl;
    size_t klen;
    zkv_kvdedup_t rec = {.shard = shard, .client_id = client_id};
    uint8_t *k = zkv_kvstore_dedup_key (group, &rec, &klen);
    leveldb_writebatch_delete (b->wb, (const char *)k, klen);
    free (k);
}

static void
s_set_applied (void *impl, zkv_kvbatch_t *b, uint64_t group, uint64_t applied)
{
    (void)impl;
    uint8_t k[ZKV_KVSTORE_PREFIX_MAX], v[ZKV_KVSTORE_APPLIED_LEN];
    size_t len = zkv_kvstore_prefix (k, ZKV_KVSTORE_KIND_APPLIED, group, false, 0);
    zkv_kvstore_applied_value (v, applied);
    leveldb_writebatch_put (b->wb, (const char *)k, len, (const char *)v, sizeof v);
}

// LevelDB has no range delete: every key of the range, as committed now, gets a delete in the
// batch. A shard is deleted in one batch, so its size is bounded by the shard's key count (fine
// at today's sizes; a chunked garbage collection can delete in several batches later, since
// deleting is idempotent).
static int
s_delete_shard (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, bool all_shards)
{
    s_ldbkv_t *self = impl;
    static const uint8_t kinds[] = {ZKV_KVSTORE_KIND_DATA, ZKV_KVSTORE_KIND_DEDUP};
    leveldb_readoptions_t *ro = self->scan;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, ro);
    int rc = 0;
    for (size_t i = 0; i < sizeof kinds && !rc; i++) {
        uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
        size_t plen = zkv_kvstore_prefix (prefix, kinds[i], group, !all_shards, shard);
        for (leveldb_iter_seek (it, (const char *)prefix, plen); s_iter_in (it, prefix, plen);
             leveldb_iter_next (it)) {
            size_t klen;
            const char *k = leveldb_iter_key (it, &klen);
            leveldb_writebatch_delete (b->wb, k, klen);
        }
        rc = zkv_ldb_iter_error (it);
    }
    leveldb_iter_destroy (it);
    if (b->n_deleted < S_MAX_DELETED)
        b->deleted[b->n_deleted++] = (s_deleted_t){group, shard, all_shards};
    else
        b->deleted_more = true;
    return rc;
}

// After a batch that deleted shards (migration garbage collection, a replaced state): LevelDB
// keeps deleted keys as tombstones until a compaction reaches them, so the space would come
// back only with later writes to that range. Compacting the ranges now returns it at once (or
// when the last open view closes: what a view sees stays on disk while it is open).
static void
s_compact_deleted (s_ldbkv_t *self, const zkv_kvbatch_t *b)
{
    static const uint8_t kinds[] = {ZKV_KVSTORE_KIND_DATA, ZKV_KVSTORE_KIND_DEDUP};
    for (size_t i = 0; i < b->n_deleted; i++) {
        bool all = b->deleted[i].all || b->deleted_more;
        for (size_t k = 0; k < sizeof kinds; k++) {
            uint8_t start[ZKV_KVSTORE_PREFIX_MAX], limit[ZKV_KVSTORE_PREFIX_MAX];
            size_t slen, llen;
            if (all) {
                slen = zkv_kvstore_prefix (start, kinds[k], b->deleted[i].group, false, 0);
                llen = zkv_kvstore_prefix (limit, kinds[k], b->deleted[i].group + 1, false, 0);
            } else {
                slen = zkv_kvstore_prefix (start, kinds[k], b->deleted[i].group, true,
                                           b->deleted[i].shard);
                // The shard's range ends where the next shard's begins (a shard of UINT32_MAX
                // is the meta shard, never deleted).
                llen = zkv_kvstore_prefix (limit, kinds[k], b->deleted[i].group, true,
                                           b->deleted[i].shard + 1);
            }
            zkv_ldbpins_compact (self->pins, start, slen, limit, llen);
        }
    }
}

static void
s_batch_destroy (void *impl, zkv_kvbatch_t *b)
{
    (void)impl;
    leveldb_writebatch_destroy (b->wb);
    free (b);
}

static int
s_commit (void *impl, zkv_kvbatch_t *b)
{
    s_ldbkv_t *self = impl;
    int rc = self->snap ? ZKV_EINVAL : self->failed; // a view is read-only
    if (!rc) {
        char *errptr = NULL;
        leveldb_write (self->db, self->wnosync, b->wb, &errptr);
        if (errptr)
            rc = self->failed = zkv_ldb_error (errptr);
        else if (b->n_deleted)
            s_compact_deleted (self, b);
    }
    s_batch_destroy (impl, b);
    return rc;
}

static void
s_destroy (void *impl)
{
    s_ldbkv_t *self = impl;
    leveldb_writeoptions_destroy (self->wnosync);
    leveldb_readoptions_destroy (self->read);
    leveldb_readoptions_destroy (self->scan);
    if (self->snap)
        zkv_ldbpins_close (self->pins, self->snap);
    free (self); // the database belongs to the log store
}

static zkv_kvstore_t *s_new (leveldb_t *db, zkv_ldbpins_t *pins, bool view);

// LevelDB's estimate of the disk the group's data and dedup records take (compressed, as
// written in its files; recent writes still in the memtable count for nothing).
static uint64_t
s_approx_bytes (void *impl, uint64_t group)
{
    s_ldbkv_t *self = impl;
    const uint8_t kinds[2] = {ZKV_KVSTORE_KIND_DATA, ZKV_KVSTORE_KIND_DEDUP};
    uint8_t start[2][ZKV_KVSTORE_PREFIX_MAX], limit[2][ZKV_KVSTORE_PREFIX_MAX];
    const char *starts[2], *limits[2];
    size_t start_lens[2], limit_lens[2];
    for (int k = 0; k < 2; k++) {
        start_lens[k] = zkv_kvstore_prefix (start[k], kinds[k], group, false, 0);
        // The group's range ends where the next group's begins (the prefix is big-endian).
        limit_lens[k] = zkv_kvstore_prefix (limit[k], kinds[k], group + 1, false, 0);
        starts[k] = (const char *)start[k];
        limits[k] = (const char *)limit[k];
    }
    uint64_t sizes[2] = {0, 0};
    leveldb_approximate_sizes (self->db, 2, starts, start_lens, limits, limit_lens, sizes);
    return sizes[0] + sizes[1];
}

static zkv_kvstore_t *s_view (void *impl);

static const zkv_kvstore_ops_t s_ldbkv_ops = {
    .name = "leveldb",
    .get = s_get,
    .load_applied = s_load_applied,
    .load_dedup = s_load_dedup,
    .scan = s_scan,
    .batch_new = s_batch_new,
    .put = s_put,
    .del = s_del,
    .put_dedup = s_put_dedup,
    .del_dedup = s_del_dedup,
    .set_applied = s_set_applied,
    .delete_shard = s_delete_shard,
    .commit = s_commit,
    .batch_destroy = s_batch_destroy,
    .destroy = s_destroy,
    .view = s_view,
    .approx_bytes = s_approx_bytes,
};

static zkv_kvstore_t *
s_view (void *impl)
{
    s_ldbkv_t *self = impl;
    return s_new (self->db, self->pins, true);
}

// A store over db; a view reads through a LevelDB snapshot taken now (which pins the versions
// it sees on disk, not in memory: iterators read blocks as they go).
static zkv_kvstore_t *
s_new (leveldb_t *db, zkv_ldbpins_t *pins, bool view)
{
    s_ldbkv_t *self = zkv_calloc (1, sizeof *self);
    self->db = db;
    self->pins = pins;
    self->wnosync = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->wnosync, 0);
    self->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->read, 1);
    self->scan = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->scan, 1);
    leveldb_readoptions_set_fill_cache (self->scan, 0);
    if (view) {
        self->snap = zkv_ldbpins_open (pins);
        leveldb_readoptions_set_snapshot (self->read, self->snap);
        leveldb_readoptions_set_snapshot (self->scan, self->snap);
    }
    return zkv_kvstore_wrap (&s_ldbkv_ops, self);
}

zkv_kvstore_t *
zkv_kvstore_ldb_new (zkv_logstore_t *logstore)
{
    leveldb_t *db = logstore ? zkv_ldbstore_db (logstore) : NULL;
    if (!db)
        return NULL;
    return s_new (db, zkv_ldbstore_pins (logstore), false);
}
