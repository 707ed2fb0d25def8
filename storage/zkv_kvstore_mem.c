// In-memory KV data store for the simulator, and the key / value encoding both stores share.
//
// The store is one sorted array of (encoded key, value) records, the same keys LevelDB would
// hold, so both implementations order and scan identically. A batch is a list of operations
// applied in order at commit. Only committed batches exist: a crash (zkv_kvstore_mem_crash)
// turns every open batch stale, and committing a stale batch returns ZKV_ESTOPPED. No static
// state: the simulator runs hundreds of these in one process.
#include "zkv_kvstores.h"
#include "zkv_alloc.h"

#include <stdlib.h>

#define S_VERSION       1
// Dedup records are at version 2: version, seq, status, last_ms; then the reply value. Version 1
// (no last_ms) was written by zkv before client sessions expired (protocol 4), whose stored
// messages this build refuses anyway: refused as another version's (ZKV_EVERSION).
#define S_DEDUP_VERSION 2
#define S_DEDUP_HEAD    (1 + 8 + 8 + 8)

// ---------------------------------------------------------------------------------------------
// Shared encoding (declared in zkv_kvstore.h)

static void
s_put_be (uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
s_get_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t
zkv_kvstore_prefix (uint8_t *out, uint8_t kind, uint64_t group, bool with_shard, uint32_t shard)
{
    out[0] = kind;
    s_put_be (out + 1, group, 8);
    if (!with_shard)
        return 9;
    s_put_be (out + 9, shard, 4);
    return ZKV_KVSTORE_PREFIX_MAX;
}

uint8_t *
zkv_kvstore_key (uint8_t kind, uint64_t group, uint32_t shard, const uint8_t *suffix,
                 size_t suffix_len, size_t *len_p)
{
    uint8_t *key = zkv_realloc (NULL, ZKV_KVSTORE_PREFIX_MAX + suffix_len);
    size_t n = zkv_kvstore_prefix (key, kind, group, true, shard);
    if (suffix_len)
        memcpy (key + n, suffix, suffix_len);
    *len_p = n + suffix_len;
    return key;
}

uint8_t *
zkv_kvstore_dedup_key (uint64_t group, const zkv_kvdedup_t *rec, size_t *len_p)
{
    uint8_t client[8];
    s_put_be (client, rec->client_id, 8);
    return zkv_kvstore_key (ZKV_KVSTORE_KIND_DEDUP, group, rec->shard, client, 8, len_p);
}

uint8_t *
zkv_kvstore_dedup_value (const zkv_kvdedup_t *rec, size_t *len_p)
{
    uint8_t *v = zkv_realloc (NULL, S_DEDUP_HEAD + rec->value.len);
    v[0] = S_DEDUP_VERSION;
    s_put_be (v + 1, rec->seq, 8);
    s_put_be (v + 9, rec->status, 8);
    s_put_be (v + 17, rec->last_ms, 8);
    if (rec->value.len)
        memcpy (v + S_DEDUP_HEAD, rec->value.data, rec->value.len);
    *len_p = S_DEDUP_HEAD + rec->value.len;
    return v;
}

int
zkv_kvstore_dedup_decode (const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len, zkv_kvdedup_t *rec)
{
    memset (rec, 0, sizeof *rec);
    if (key_len != ZKV_KVSTORE_PREFIX_MAX + 8 || key[0] != ZKV_KVSTORE_KIND_DEDUP)
        return ZKV_ECORRUPT;
    if (value_len >= 1 && value[0] == S_DEDUP_VERSION - 1)
        return ZKV_EVERSION;
    if (value_len < S_DEDUP_HEAD || value[0] != S_DEDUP_VERSION)
        return ZKV_ECORRUPT;
    rec->shard = (uint32_t)s_get_be (key + 9, 4);
    rec->client_id = s_get_be (key + ZKV_KVSTORE_PREFIX_MAX, 8);
    rec->seq = s_get_be (value + 1, 8);
    rec->status = s_get_be (value + 9, 8);
    rec->last_ms = s_get_be (value + 17, 8);
    zkv_bytes_set (&rec->value, value + S_DEDUP_HEAD, value_len - S_DEDUP_HEAD);
    return 0;
}

void
zkv_kvstore_applied_value (uint8_t *out, uint64_t applied)
{
    out[0] = S_VERSION;
    s_put_be (out + 1, applied, 8);
}

int
zkv_kvstore_applied_decode (const uint8_t *value, size_t len, uint64_t *applied)
{
    if (len != ZKV_KVSTORE_APPLIED_LEN || value[0] != S_VERSION)
        return ZKV_ECORRUPT;
    *applied = s_get_be (value + 1, 8);
    return 0;
}

int
zkv_kvstore_data_key_decode (const uint8_t *key, size_t len, uint32_t *shard,
                             const uint8_t **user_key, size_t *user_key_len)
{
    if (len < ZKV_KVSTORE_PREFIX_MAX || key[0] != ZKV_KVSTORE_KIND_DATA)
        return ZKV_ECORRUPT;
    *shard = (uint32_t)s_get_be (key + 9, 4);
    *user_key = key + ZKV_KVSTORE_PREFIX_MAX;
    *user_key_len = len - ZKV_KVSTORE_PREFIX_MAX;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// The memory store

typedef struct {
    uint8_t *key;   // encoded key, owned
    size_t key_len; // its length
    uint8_t *val;   // value, owned (NULL when empty)
    size_t val_len; // its length
} s_rec_t;

typedef enum { S_OP_PUT, S_OP_DEL, S_OP_DEL_RANGE } s_op_kind_t;

typedef struct {
    s_op_kind_t kind; // what to do
    s_rec_t rec;      // PUT: key and value; DEL: key; DEL_RANGE: the prefix to delete (key)
} s_op_t;

struct zkv_kvbatch {
    uint64_t generation; // the store's generation when the batch was made
    s_op_t *ops;         // operations in order, owned
    size_t n_ops;        // number of operations
    size_t cap_ops;      // allocated
};

typedef struct {
    s_rec_t *recs;       // committed records sorted by key, owned
    size_t n_recs;       // number of records
    size_t cap_recs;     // allocated
    size_t bytes;        // keys and values held
    uint64_t generation; // bumped by a crash: older batches are stale
    bool view;           // a read-only copy (zkv_kvstore_view)
} s_memkv_t;

static int
s_cmp (const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp (a, b, n) : 0;
    if (c)
        return c;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

// Index of the first record >= key.
static size_t
s_lower_bound (const s_memkv_t *self, const uint8_t *key, size_t key_len)
{
    size_t lo = 0, hi = self->n_recs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_cmp (self->recs[mid].key, self->recs[mid].key_len, key, key_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
s_has_prefix (const s_rec_t *rec, const uint8_t *prefix, size_t len)
{
    return rec->key_len >= len && memcmp (rec->key, prefix, len) == 0;
}

static void
s_rec_free (s_rec_t *rec)
{
    free (rec->key);
    free (rec->val);
    memset (rec, 0, sizeof *rec);
}

static void
s_rec_set (s_rec_t *rec, const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len)
{
    rec->key = zkv_realloc (NULL, key_len);
    memcpy (rec->key, key, key_len);
    rec->key_len = key_len;
    rec->val = NULL;
    rec->val_len = val_len;
    if (val_len) {
        rec->val = zkv_realloc (NULL, val_len);
        memcpy (rec->val, val, val_len);
    }
}

// Committed writes.
static void
s_store_put (s_memkv_t *self, s_rec_t *rec)
{
    size_t i = s_lower_bound (self, rec->key, rec->key_len);
    if (i < self->n_recs &&
        s_cmp (self->recs[i].key, self->recs[i].key_len, rec->key, rec->key_len) == 0) {
        self->bytes -= self->recs[i].key_len + self->recs[i].val_len;
        s_rec_free (&self->recs[i]);
    } else {
        if (self->n_recs == self->cap_recs) {
            self->cap_recs = self->cap_recs ? 2 * self->cap_recs : 64;
            self->recs = zkv_realloc (self->recs, self->cap_recs * sizeof (s_rec_t));
        }
        memmove (&self->recs[i + 1], &self->recs[i], (self->n_recs - i) * sizeof (s_rec_t));
        self->n_recs++;
    }
    self->recs[i] = *rec; // takes the record's buffers
    self->bytes += rec->key_len + rec->val_len;
    memset (rec, 0, sizeof *rec);
}

static void
s_store_del_range (s_memkv_t *self, const uint8_t *prefix, size_t len, bool exact)
{
    size_t i = s_lower_bound (self, prefix, len), j = i;
    while (j < self->n_recs &&
           (exact ? s_cmp (self->recs[j].key, self->recs[j].key_len, prefix, len) == 0
                  : s_has_prefix (&self->recs[j], prefix, len))) {
        self->bytes -= self->recs[j].key_len + self->recs[j].val_len;
        s_rec_free (&self->recs[j]);
        j++;
    }
    if (j > i) {
        memmove (&self->recs[i], &self->recs[j], (self->n_recs - j) * sizeof (s_rec_t));
        self->n_recs -= j - i;
    }
}

static const s_rec_t *
s_find (const s_memkv_t *self, const uint8_t *key, size_t key_len)
{
    size_t i = s_lower_bound (self, key, key_len);
    if (i < self->n_recs && s_cmp (self->recs[i].key, self->recs[i].key_len, key, key_len) == 0)
        return &self->recs[i];
    return NULL;
}

static int
s_get (void *impl, uint64_t group, uint32_t shard, const uint8_t *key, size_t key_len,
       zkv_bytes_t *value)
{
    s_memkv_t *self = impl;
    size_t len;
    uint8_t *k = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &len);
    const s_rec_t *rec = s_find (self, k, len);
    free (k);
    if (!rec)
        return ZKV_ENOTFOUND;
    zkv_bytes_set (value, rec->val, rec->val_len);
    return 0;
}

static int
s_load_applied (void *impl, uint64_t group, uint64_t *applied)
{
    s_memkv_t *self = impl;
    uint8_t k[ZKV_KVSTORE_PREFIX_MAX];
    size_t len = zkv_kvstore_prefix (k, ZKV_KVSTORE_KIND_APPLIED, group, false, 0);
    const s_rec_t *rec = s_find (self, k, len);
    if (!rec)
        return 0;
    return zkv_kvstore_applied_decode (rec->val, rec->val_len, applied);
}

static int
s_load_dedup (void *impl, uint64_t group, zkv_kvdedup_t **recs_p, size_t *n_p)
{
    s_memkv_t *self = impl;
    uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
    size_t plen = zkv_kvstore_prefix (prefix, ZKV_KVSTORE_KIND_DEDUP, group, false, 0);
    size_t i = s_lower_bound (self, prefix, plen), n = 0;
    while (i + n < self->n_recs && s_has_prefix (&self->recs[i + n], prefix, plen))
        n++;
    zkv_kvdedup_t *recs = n ? zkv_realloc (NULL, n * sizeof *recs) : NULL;
    for (size_t j = 0; j < n; j++) {
        const s_rec_t *r = &self->recs[i + j];
        int rc = zkv_kvstore_dedup_decode (r->key, r->key_len, r->val, r->val_len, &recs[j]);
        if (rc) {
            zkv_kvdedup_free_all (recs, j);
            return rc;
        }
    }
    *recs_p = recs;
    *n_p = n;
    return 0;
}

// Appends one item to a chunk (grows the array at powers of two).
static void
s_chunk_push (zkv_kvchunk_t *out, uint32_t shard, const uint8_t *key, size_t key_len,
              const uint8_t *val, size_t val_len)
{
    if ((out->count & (out->count - 1)) == 0) // 0, 1, 2, 4, ...: full
        out->items =
            zkv_realloc (out->items, (out->count ? 2 * out->count : 1) * sizeof (zkv_kvitem_t));
    zkv_kvitem_t *item = &out->items[out->count++];
    item->shard = shard;
    zkv_bytes_set (&item->key, key, key_len);
    zkv_bytes_set (&item->value, val, val_len);
}

// The position right after the chunk's last item: its key with a zero byte appended is the
// smallest key greater than it.
static void
s_chunk_next (zkv_kvchunk_t *out)
{
    const zkv_kvitem_t *last = &out->items[out->count - 1];
    out->more = true;
    out->next.shard = last->shard;
    out->next.key.len = last->key.len + 1;
    out->next.key.data = zkv_realloc (NULL, out->next.key.len);
    if (last->key.len)
        memcpy (out->next.key.data, last->key.data, last->key.len);
    out->next.key.data[last->key.len] = 0;
}

static int
s_scan (void *impl, uint64_t group, const zkv_kvpos_t *from, uint32_t last_shard, size_t max_bytes,
        zkv_kvchunk_t *out)
{
    s_memkv_t *self = impl;
    uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
    size_t plen = zkv_kvstore_prefix (prefix, ZKV_KVSTORE_KIND_DATA, group, false, 0);
    size_t start_len;
    uint8_t *start = zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, from->shard, from->key.data,
                                      from->key.len, &start_len);
    size_t i = s_lower_bound (self, start, start_len), bytes = 0;
    free (start);
    for (; i < self->n_recs && s_has_prefix (&self->recs[i], prefix, plen); i++) {
        const s_rec_t *r = &self->recs[i];
        uint32_t shard;
        const uint8_t *key;
        size_t key_len;
        int rc = zkv_kvstore_data_key_decode (r->key, r->key_len, &shard, &key, &key_len);
        if (rc) {
            zkv_kvchunk_free (out);
            return rc;
        }
        if (shard > last_shard)
            break;
        if (out->count > 0 && bytes + key_len + r->val_len > max_bytes) {
            s_chunk_next (out);
            break;
        }
        s_chunk_push (out, shard, key, key_len, r->val, r->val_len);
        bytes += key_len + r->val_len;
    }
    return 0;
}

static zkv_kvbatch_t *
s_batch_new (void *impl)
{
    s_memkv_t *self = impl;
    zkv_kvbatch_t *b = zkv_realloc (NULL, sizeof *b);
    memset (b, 0, sizeof *b);
    b->generation = self->generation;
    return b;
}

static s_op_t *
s_batch_push (zkv_kvbatch_t *b, s_op_kind_t kind)
{
    if (b->n_ops == b->cap_ops) {
        b->cap_ops = b->cap_ops ? 2 * b->cap_ops : 16;
        b->ops = zkv_realloc (b->ops, b->cap_ops * sizeof (s_op_t));
    }
    s_op_t *op = &b->ops[b->n_ops++];
    memset (op, 0, sizeof *op);
    op->kind = kind;
    return op;
}

static void
s_put (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
       size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)impl;
    s_op_t *op = s_batch_push (b, S_OP_PUT);
    op->rec.key =
        zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &op->rec.key_len);
    if (value_len) {
        op->rec.val = zkv_realloc (NULL, value_len);
        memcpy (op->rec.val, value, value_len);
    }
    op->rec.val_len = value_len;
}

static void
s_del (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, const uint8_t *key,
       size_t key_len)
{
    (void)impl;
    s_op_t *op = s_batch_push (b, S_OP_DEL);
    op->rec.key =
        zkv_kvstore_key (ZKV_KVSTORE_KIND_DATA, group, shard, key, key_len, &op->rec.key_len);
}

static void
s_put_dedup (void *impl, zkv_kvbatch_t *b, uint64_t group, const zkv_kvdedup_t *rec)
{
    (void)impl;
    s_op_t *op = s_batch_push (b, S_OP_PUT);
    op->rec.key = zkv_kvstore_dedup_key (group, rec, &op->rec.key_len);
    op->rec.val = zkv_kvstore_dedup_value (rec, &op->rec.val_len);
}

static void
s_del_dedup (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, uint64_t client_id)
{
    (void)impl;
    s_op_t *op = s_batch_push (b, S_OP_DEL);
    zkv_kvdedup_t rec = {.shard = shard, .client_id = client_id};
    op->rec.key = zkv_kvstore_dedup_key (group, &rec, &op->rec.key_len);
}

static void
s_set_applied (void *impl, zkv_kvbatch_t *b, uint64_t group, uint64_t applied)
{
    (void)impl;
    uint8_t k[ZKV_KVSTORE_PREFIX_MAX], v[ZKV_KVSTORE_APPLIED_LEN];
    size_t len = zkv_kvstore_prefix (k, ZKV_KVSTORE_KIND_APPLIED, group, false, 0);
    zkv_kvstore_applied_value (v, applied);
    s_op_t *op = s_batch_push (b, S_OP_PUT);
    s_rec_set (&op->rec, k, len, v, sizeof v);
}

static int
s_delete_shard (void *impl, zkv_kvbatch_t *b, uint64_t group, uint32_t shard, bool all_shards)
{
    (void)impl;
    static const uint8_t kinds[] = {ZKV_KVSTORE_KIND_DATA, ZKV_KVSTORE_KIND_DEDUP};
    for (size_t i = 0; i < sizeof kinds; i++) {
        uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
        size_t len = zkv_kvstore_prefix (prefix, kinds[i], group, !all_shards, shard);
        s_op_t *op = s_batch_push (b, S_OP_DEL_RANGE);
        s_rec_set (&op->rec, prefix, len, NULL, 0);
    }
    return 0;
}

static void
s_batch_destroy (void *impl, zkv_kvbatch_t *b)
{
    (void)impl;
    for (size_t i = 0; i < b->n_ops; i++)
        s_rec_free (&b->ops[i].rec);
    free (b->ops);
    free (b);
}

static int
s_commit (void *impl, zkv_kvbatch_t *b)
{
    s_memkv_t *self = impl;
    if (self->view) {
        s_batch_destroy (impl, b);
        return ZKV_EINVAL; // a view is read-only
    }
    if (b->generation != self->generation) {
        s_batch_destroy (impl, b); // made before a crash: it never reached the store
        return ZKV_ESTOPPED;
    }
    for (size_t i = 0; i < b->n_ops; i++) {
        s_op_t *op = &b->ops[i];
        switch (op->kind) {
        case S_OP_PUT:
            s_store_put (self, &op->rec);
            break;
        case S_OP_DEL:
            s_store_del_range (self, op->rec.key, op->rec.key_len, true);
            break;
        case S_OP_DEL_RANGE:
            s_store_del_range (self, op->rec.key, op->rec.key_len, false);
            break;
        }
    }
    s_batch_destroy (impl, b);
    return 0;
}

static void
s_destroy (void *impl)
{
    s_memkv_t *self = impl;
    for (size_t i = 0; i < self->n_recs; i++)
        s_rec_free (&self->recs[i]);
    free (self->recs);
    free (self);
}

// Bytes of the group's data and dedup records (keys and values as stored).
static uint64_t
s_approx_bytes (void *impl, uint64_t group)
{
    s_memkv_t *self = impl;
    uint64_t bytes = 0;
    const uint8_t kinds[2] = {ZKV_KVSTORE_KIND_DATA, ZKV_KVSTORE_KIND_DEDUP};
    for (int k = 0; k < 2; k++) {
        uint8_t prefix[ZKV_KVSTORE_PREFIX_MAX];
        size_t plen = zkv_kvstore_prefix (prefix, kinds[k], group, false, 0);
        for (size_t i = s_lower_bound (self, prefix, plen);
             i < self->n_recs && s_has_prefix (&self->recs[i], prefix, plen); i++)
            bytes += self->recs[i].key_len + self->recs[i].val_len;
    }
    return bytes;
}

static zkv_kvstore_t *s_view (void *impl);

static const zkv_kvstore_ops_t s_memkv_ops = {
    .name = "memory",
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

// A view is a deep copy: the memory store serves tests and the simulator, where data is small.
static zkv_kvstore_t *
s_view (void *impl)
{
    const s_memkv_t *self = impl;
    s_memkv_t *copy = zkv_realloc (NULL, sizeof *copy);
    memset (copy, 0, sizeof *copy);
    copy->view = true;
    copy->recs = zkv_realloc (NULL, (self->n_recs ? self->n_recs : 1) * sizeof (s_rec_t));
    copy->cap_recs = self->n_recs ? self->n_recs : 1;
    for (size_t i = 0; i < self->n_recs; i++) {
        const s_rec_t *r = &self->recs[i];
        memset (&copy->recs[i], 0, sizeof (s_rec_t));
        s_rec_set (&copy->recs[i], r->key, r->key_len, r->val, r->val_len);
    }
    copy->n_recs = self->n_recs;
    copy->bytes = self->bytes;
    return zkv_kvstore_wrap (&s_memkv_ops, copy);
}

zkv_kvstore_t *
zkv_kvstore_mem_new (void)
{
    s_memkv_t *self = zkv_realloc (NULL, sizeof *self);
    memset (self, 0, sizeof *self);
    return zkv_kvstore_wrap (&s_memkv_ops, self);
}

void
zkv_kvstore_mem_crash (zkv_kvstore_t *self)
{
    assert (self && self->ops == &s_memkv_ops);
    s_memkv_t *mem = self->impl;
    mem->generation++;
}

size_t
zkv_kvstore_mem_bytes (zkv_kvstore_t *self)
{
    assert (self && self->ops == &s_memkv_ops);
    const s_memkv_t *mem = self->impl;
    return mem->bytes;
}
