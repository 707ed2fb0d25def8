// LevelDB Raft log store: one database per node, shared by every group the node hosts.
//
// Keys: one kind byte, the group as a big-endian u64 and, for entries, the index as a
// big-endian u64, so LevelDB's bytewise order is (kind, group, index) order and a group's
// entries are one contiguous key range in index order.
//
// Values: a small fixed little-endian encoding, version byte first, CRC-32C last (over every
// byte before it). A record whose checksum, length, version or index does not match makes
// load return ZKV_ECORRUPT rather than truncate the log there. LevelDB already writes each
// batch atomically (its write-ahead log checksums records and replays only whole batches), so
// a crash cannot leave a half-written entry: a bad record is media corruption or a bug, and
// the entry may be one this node acknowledged. Dropping it could erase a committed entry from
// a quorum (§5.4), so the node refuses to boot and the operator rebuilds it from its peers.
//
// Every write since the last sync goes into one leveldb_writebatch_t; zkv_logstore_sync writes
// it with sync=true (group commit: many appends, one fsync). load reads the database, which
// holds exactly what was synced: the state a restarted node boots from.
//
// After a failed write the store refuses every further write with the same error: whether
// the batch reached the disk is unknown (and after a failed fsync the page cache cannot be
// trusted), so the node must restart and load what is really there.
#include "zkv_ldbpins.h"
#include "zkv_ldberr.h"
#include "zkv_bytes_order.h"
#include "zkv_alloc.h"
#include "zkv_ldbstore.h"
#include "zkv_logstore.h"
#include "zkv_logview.h"

#include <assert.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The memtable: writes are buffered in memory up to this size before LevelDB flushes them to a
// sorted table. LevelDB's default, 4 MiB, made a node under a flood of 64 KiB writes (each
// written twice: log entry, then KV data) flush a table every few tens of milliseconds; level 0
// then filled faster than compaction emptied it and LevelDB stalled writes, syncs included, for
// 300-600 ms, long enough for a leader's followers to elect another (cluster.overload). At 32
// MiB the stalls are rare and short (under 150 ms in the same runs), for up to two memtables
// (64 MiB) of memory and a longer write-ahead log to replay at open. The default of the
// cluster's storage_write_buffer_bytes, which zkvd staggers by node
// (zkv_config_storage_write_buffer_for_node).
#define S_WRITE_BUFFER_BYTES (32u * 1024 * 1024)
// Block cache: the log is written once and read back mostly at boot or when a follower lags
// behind, so a modest cache suffices; KV reads on the same database share it.
#define S_BLOCK_CACHE_BYTES (8u * 1024 * 1024)

// Key kinds; other users of the node's database must keep to other first bytes.
#define S_KIND_ENTRY      'e' // + group + index: one log entry
#define S_KIND_HARD_STATE 'h' // + group: term, vote, commit
#define S_KIND_SNAP_META  'm' // + group: snapshot index, term, data length and checksum
#define S_KIND_SNAP_DATA  's' // + group: snapshot bytes

#define S_VERSION        1                   // first byte of every value
#define S_HARD_STATE_LEN (1 + 3 * 8 + 4)     // version, term, vote, commit, crc
#define S_SNAP_META_LEN  (1 + 3 * 8 + 4 + 4) // version, index, term, data len, data crc, crc
#define S_ENTRY_HEAD_LEN (1 + 8 + 8 + 1)     // version, term, index, type; then data, crc
#define S_KEY_MAX        17

// The view of one group's log, loaded from the database on its first write.
typedef struct {
    uint64_t group;     // group id
    zkv_logview_t view; // its log once the batch is synced
} s_group_view_t;

typedef struct {
    leveldb_t *db;                 // the node's database
    zkv_ldbpins_t *pins;           // its views, and compactions waiting for them to close
    leveldb_options_t *options;    // open options
    leveldb_cache_t *cache;        // block cache
    leveldb_writeoptions_t *wsync; // sync=true
    leveldb_readoptions_t *read;   // verify checksums, do not fill the cache (boot scans)
    leveldb_writebatch_t *batch;   // every write since the last sync
    bool batch_empty;              // nothing to sync
    int failed;                    // sticky error after a failed write, else 0
    s_group_view_t *views;         // groups written since open (a few: linear search)
    size_t n_views;                // number of views
    size_t cap_views;              // allocated views
} s_ldbstore_t;

// Encoding helpers.

// Builds a key; returns its length (9, or 17 with an index).
static size_t
s_key (uint8_t *key, char kind, uint64_t group, uint64_t index)
{
    key[0] = (uint8_t)kind;
    zkv_put_be64 (key + 1, group);
    if (kind != S_KIND_ENTRY)
        return 9;
    zkv_put_be64 (key + 9, index);
    return 17;
}

// Seals a value: version first, CRC-32C of everything before the last 4 bytes last.
static void
s_seal (uint8_t *value, size_t len)
{
    value[0] = S_VERSION;
    zkv_put_le32 (value + len - 4, zkv_crc32c (0, value, len - 4));
}

static bool
s_sealed (const uint8_t *value, size_t len)
{
    return len >= 5 && value[0] == S_VERSION &&
           zkv_get_le32 (value + len - 4) == zkv_crc32c (0, value, len - 4);
}

// Decodes an entry value stored under index; ZKV_ECORRUPT when it does not check out.
static int
s_entry_decode (const uint8_t *value, size_t len, uint64_t index, zkv_entry_t *entry)
{
    if (len < S_ENTRY_HEAD_LEN + 4 || !s_sealed (value, len))
        return ZKV_ECORRUPT;
    entry->term = zkv_get_le64 (value + 1);
    entry->index = zkv_get_le64 (value + 9);
    entry->type = value[17];
    if (entry->index != index)
        return ZKV_ECORRUPT; // a value under the wrong key
    zkv_bytes_set (&entry->data, value + S_ENTRY_HEAD_LEN, len - S_ENTRY_HEAD_LEN - 4);
    return 0;
}

// Reads one value under key; *value_p is NULL when absent. Free with leveldb_free.
static int
s_get (s_ldbstore_t *self, const leveldb_readoptions_t *read, const uint8_t *key, size_t klen,
       char **value_p, size_t *len_p)
{
    char *errptr = NULL;
    *value_p = leveldb_get (self->db, read, (const char *)key, klen, len_p, &errptr);
    if (errptr) {
        *value_p = NULL;
        return zkv_ldb_error (errptr);
    }
    return 0;
}

static int
s_hard_state_read (s_ldbstore_t *self, const leveldb_readoptions_t *read, uint64_t group,
                   zkv_hard_state_t *hs)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = s_key (key, S_KIND_HARD_STATE, group, 0);
    char *value;
    size_t len;
    int rc = s_get (self, read, key, klen, &value, &len);
    if (rc || !value)
        return rc;
    const uint8_t *v = (const uint8_t *)value;
    if (len != S_HARD_STATE_LEN || !s_sealed (v, len))
        rc = ZKV_ECORRUPT;
    else {
        hs->term = zkv_get_le64 (v + 1);
        hs->vote = zkv_get_le64 (v + 9);
        hs->commit = zkv_get_le64 (v + 17);
    }
    leveldb_free (value);
    return rc;
}

// Reads the snapshot meta, and the length and checksum its data must have.
static int
s_snap_meta_read (s_ldbstore_t *self, const leveldb_readoptions_t *read, uint64_t group,
                  zkv_snapshot_meta_t *meta, uint64_t *data_len, uint32_t *data_crc)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = s_key (key, S_KIND_SNAP_META, group, 0);
    char *value;
    size_t len;
    int rc = s_get (self, read, key, klen, &value, &len);
    if (rc || !value)
        return rc;
    const uint8_t *v = (const uint8_t *)value;
    if (len != S_SNAP_META_LEN || !s_sealed (v, len))
        rc = ZKV_ECORRUPT;
    else {
        meta->index = zkv_get_le64 (v + 1);
        meta->term = zkv_get_le64 (v + 9);
        *data_len = zkv_get_le64 (v + 17);
        *data_crc = zkv_get_le32 (v + 25);
    }
    leveldb_free (value);
    return rc;
}

// Whether an iterator sits on an entry key of group; sets *index.
static bool
s_iter_entry (leveldb_iterator_t *it, uint64_t group, uint64_t *index)
{
    if (!leveldb_iter_valid (it))
        return false;
    size_t klen;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key (it, &klen);
    if (klen != 17 || key[0] != S_KIND_ENTRY || zkv_get_be64 (key + 1) != group)
        return false;
    *index = zkv_get_be64 (key + 9);
    return true;
}

// Finds the view of a group, loading it from the database on first use. The batch holds no
// write for a group before its view exists, so the database alone describes it then.
static int
s_view (s_ldbstore_t *self, uint64_t group, zkv_logview_t **view_p)
{
    for (size_t i = 0; i < self->n_views; i++)
        if (self->views[i].group == group) {
            *view_p = &self->views[i].view;
            return 0;
        }
    zkv_logview_t view;
    zkv_logview_init (&view);
    zkv_snapshot_meta_t meta = {0, 0};
    uint64_t data_len;
    uint32_t data_crc;
    int rc = s_snap_meta_read (self, self->read, group, &meta, &data_len, &data_crc);
    if (rc)
        return rc;
    view.snap_index = meta.index;

    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    uint8_t key[S_KEY_MAX];
    size_t klen = s_key (key, S_KIND_ENTRY, group, 0);
    uint64_t first, last;
    leveldb_iter_seek (it, (const char *)key, klen);
    if (s_iter_entry (it, group, &first)) {
        // The last entry of the group: just before the first key past its range
        klen = s_key (key, S_KIND_ENTRY, group, UINT64_MAX);
        leveldb_iter_seek (it, (const char *)key, klen);
        if (!s_iter_entry (it, group, &last) || last != UINT64_MAX) {
            if (leveldb_iter_valid (it))
                leveldb_iter_prev (it);
            else
                leveldb_iter_seek_to_last (it);
            if (!s_iter_entry (it, group, &last))
                last = first - 1; // only a read error gets here: reported below
        }
        view.first = first;
        view.last = last;
    } else {
        // An empty log: based at the snapshot (the compaction point is never past it)
        view.first = meta.index + 1;
        view.last = meta.index;
    }
    rc = zkv_ldb_iter_error (it);
    leveldb_iter_destroy (it);
    if (rc)
        return rc;

    if (self->n_views == self->cap_views) {
        self->cap_views = self->cap_views ? 2 * self->cap_views : 4;
        self->views = zkv_realloc (self->views, self->cap_views * sizeof *self->views);
    }
    self->views[self->n_views].group = group;
    self->views[self->n_views].view = view;
    *view_p = &self->views[self->n_views++].view;
    return 0;
}

// Queues deletes for the group's entries lo..hi.
static void
s_delete_range (s_ldbstore_t *self, uint64_t group, const zkv_logview_range_t *range)
{
    uint8_t key[S_KEY_MAX];
    for (uint64_t index = range->lo; index <= range->hi; index++) {
        size_t klen = s_key (key, S_KIND_ENTRY, group, index);
        leveldb_writebatch_delete (self->batch, (const char *)key, klen);
        self->batch_empty = false;
        if (index == range->hi)
            break; // hi may be UINT64_MAX
    }
}

// The store's operations.

static int
s_append (void *impl, uint64_t group, const zkv_entry_t *entries, size_t n)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    zkv_logview_t *view;
    int rc = s_view (self, group, &view);
    if (rc)
        return rc;
    zkv_logview_range_t gone;
    rc = zkv_logview_append (view, entries, n, &gone);
    if (rc)
        return rc;
    uint8_t key[S_KEY_MAX];
    uint8_t *value = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        const zkv_entry_t *entry = &entries[i];
        size_t len = S_ENTRY_HEAD_LEN + entry->data.len + 4;
        if (len > cap) {
            cap = len;
            value = zkv_realloc (value, cap);
        }
        zkv_put_le64 (value + 1, entry->term);
        zkv_put_le64 (value + 9, entry->index);
        value[17] = entry->type;
        if (entry->data.len)
            memcpy (value + S_ENTRY_HEAD_LEN, entry->data.data, entry->data.len);
        s_seal (value, len);
        size_t klen = s_key (key, S_KIND_ENTRY, group, entry->index);
        leveldb_writebatch_put (self->batch, (const char *)key, klen, (const char *)value, len);
        self->batch_empty = false;
    }
    free (value);
    s_delete_range (self, group, &gone);
    return 0;
}

static int
s_truncate_suffix (void *impl, uint64_t group, uint64_t from_index)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    zkv_logview_t *view;
    int rc = s_view (self, group, &view);
    if (rc)
        return rc;
    zkv_logview_range_t gone;
    zkv_logview_truncate (view, from_index, &gone);
    s_delete_range (self, group, &gone);
    return 0;
}

static int
s_compact_prefix (void *impl, uint64_t group, uint64_t upto_index)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    zkv_logview_t *view;
    int rc = s_view (self, group, &view);
    if (rc)
        return rc;
    zkv_logview_range_t gone;
    rc = zkv_logview_compact (view, upto_index, &gone);
    if (rc)
        return rc;
    s_delete_range (self, group, &gone);
    return 0;
}

static int
s_save_hard_state (void *impl, uint64_t group, const zkv_hard_state_t *hs)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    uint8_t key[S_KEY_MAX], value[S_HARD_STATE_LEN];
    size_t klen = s_key (key, S_KIND_HARD_STATE, group, 0);
    zkv_put_le64 (value + 1, hs->term);
    zkv_put_le64 (value + 9, hs->vote);
    zkv_put_le64 (value + 17, hs->commit);
    s_seal (value, sizeof value);
    leveldb_writebatch_put (self->batch, (const char *)key, klen, (const char *)value,
                            sizeof value);
    self->batch_empty = false;
    return 0;
}

static int
s_save_snapshot (void *impl, uint64_t group, const zkv_snapshot_meta_t *meta, const uint8_t *data,
                 size_t len)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    zkv_logview_t *view;
    int rc = s_view (self, group, &view);
    if (rc)
        return rc;
    rc = zkv_logview_snapshot (view, meta->index);
    if (rc)
        return rc;
    uint8_t key[S_KEY_MAX], value[S_SNAP_META_LEN];
    size_t klen = s_key (key, S_KIND_SNAP_META, group, 0);
    zkv_put_le64 (value + 1, meta->index);
    zkv_put_le64 (value + 9, meta->term);
    zkv_put_le64 (value + 17, len);
    zkv_put_le32 (value + 25, zkv_crc32c (0, data, len));
    s_seal (value, sizeof value);
    leveldb_writebatch_put (self->batch, (const char *)key, klen, (const char *)value,
                            sizeof value);
    klen = s_key (key, S_KIND_SNAP_DATA, group, 0);
    leveldb_writebatch_put (self->batch, (const char *)key, klen, (const char *)data, len);
    self->batch_empty = false;
    return 0;
}

static int
s_sync (void *impl)
{
    s_ldbstore_t *self = impl;
    if (self->failed)
        return self->failed;
    if (self->batch_empty)
        return 0;
    char *errptr = NULL;
    leveldb_write (self->db, self->wsync, self->batch, &errptr);
    if (errptr) {
        self->failed = zkv_ldb_error (errptr);
        return self->failed;
    }
    leveldb_writebatch_clear (self->batch);
    self->batch_empty = true;
    return 0;
}

static int
s_load_entries (s_ldbstore_t *self, const leveldb_readoptions_t *read, uint64_t group,
                zkv_logstore_state_t *out)
{
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, read);
    uint8_t key[S_KEY_MAX];
    uint64_t next = out->snapshot.index + 1;
    size_t klen = s_key (key, S_KIND_ENTRY, group, next);
    size_t cap = 0;
    int rc = 0;
    uint64_t index;
    for (leveldb_iter_seek (it, (const char *)key, klen); s_iter_entry (it, group, &index);
         leveldb_iter_next (it)) {
        if (index != next) {
            rc = ZKV_ECORRUPT; // a hole: after the snapshot, or inside the log
            break;
        }
        if (out->n_entries == cap) {
            cap = cap ? 2 * cap : 64;
            out->entries = zkv_realloc (out->entries, cap * sizeof *out->entries);
        }
        size_t vlen;
        const uint8_t *value = (const uint8_t *)leveldb_iter_value (it, &vlen);
        zkv_entry_t *entry = &out->entries[out->n_entries];
        memset (entry, 0, sizeof *entry);
        rc = s_entry_decode (value, vlen, index, entry);
        if (rc)
            break;
        out->n_entries++;
        next++;
    }
    if (!rc)
        rc = zkv_ldb_iter_error (it);
    leveldb_iter_destroy (it);
    return rc;
}

static int
s_load (void *impl, uint64_t group, zkv_logstore_state_t *out)
{
    s_ldbstore_t *self = impl;
    // One LevelDB snapshot, so every read sees the same synced state
    const leveldb_snapshot_t *snap = zkv_ldbpins_open (self->pins);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (read, 1);
    leveldb_readoptions_set_fill_cache (read, 0);
    leveldb_readoptions_set_snapshot (read, snap);

    uint64_t data_len = 0;
    uint32_t data_crc = 0;
    char *value = NULL;
    size_t len = 0;
    int rc = s_hard_state_read (self, read, group, &out->hard_state);
    if (!rc)
        rc = s_snap_meta_read (self, read, group, &out->snapshot, &data_len, &data_crc);
    if (!rc && data_len) {
        uint8_t key[S_KEY_MAX];
        size_t klen = s_key (key, S_KIND_SNAP_DATA, group, 0);
        rc = s_get (self, read, key, klen, &value, &len);
        if (!rc &&
            (!value || len != data_len || zkv_crc32c (0, (const uint8_t *)value, len) != data_crc))
            rc = ZKV_ECORRUPT;
        if (!rc)
            zkv_bytes_set (&out->snapshot_data, value, len);
        if (value)
            leveldb_free (value);
    }
    if (!rc)
        rc = s_load_entries (self, read, group, out);

    leveldb_readoptions_destroy (read);
    zkv_ldbpins_close (self->pins, snap);
    return rc; // the wrapper frees a partly filled state on error
}

static void
s_destroy (void *impl)
{
    s_ldbstore_t *self = impl;
    // Unsynced writes are dropped, as a crash would drop them
    if (self->batch)
        leveldb_writebatch_destroy (self->batch);
    zkv_ldbpins_destroy (&self->pins);
    if (self->db)
        leveldb_close (self->db);
    if (self->read)
        leveldb_readoptions_destroy (self->read);
    if (self->wsync)
        leveldb_writeoptions_destroy (self->wsync);
    if (self->options)
        leveldb_options_destroy (self->options);
    if (self->cache)
        leveldb_cache_destroy (self->cache);
    free (self->views);
    free (self);
}

static const zkv_logstore_ops_t s_ldbstore_ops = {
    .name = "leveldb",
    .append = s_append,
    .truncate_suffix = s_truncate_suffix,
    .compact_prefix = s_compact_prefix,
    .save_hard_state = s_save_hard_state,
    .save_snapshot = s_save_snapshot,
    .sync = s_sync,
    .load = s_load,
    .destroy = s_destroy,
};

zkv_logstore_t *
zkv_ldbstore_new (const char *path, int *err, char *errmsg, size_t errmsg_len)
{
    return zkv_ldbstore_new_sized (path, S_WRITE_BUFFER_BYTES, err, errmsg, errmsg_len);
}

zkv_logstore_t *
zkv_ldbstore_new_sized (const char *path, size_t write_buffer_bytes, int *err, char *errmsg,
                        size_t errmsg_len)
{
    assert (path);
    s_ldbstore_t *self = zkv_realloc (NULL, sizeof *self);
    memset (self, 0, sizeof *self);
    self->cache = leveldb_cache_create_lru (S_BLOCK_CACHE_BYTES);
    self->options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (self->options, 1);
    // Refuse to open a database with damaged files rather than silently skip records that
    // may hold acknowledged entries; a torn tail of LevelDB's own log is still tolerated.
    leveldb_options_set_paranoid_checks (self->options, 1);
    leveldb_options_set_write_buffer_size (self->options, write_buffer_bytes);
    leveldb_options_set_cache (self->options, self->cache);
    self->wsync = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->wsync, 1);
    self->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->read, 1);
    self->batch = leveldb_writebatch_create ();
    self->batch_empty = true;

    char *errptr = NULL;
    self->db = leveldb_open (self->options, path, &errptr);
    if (errptr) {
        if (errmsg && errmsg_len)
            snprintf (errmsg, errmsg_len, "%s", errptr);
        int rc = zkv_ldb_error (errptr);
        if (err)
            *err = rc;
        self->db = NULL;
        s_destroy (self);
        return NULL;
    }
    self->pins = zkv_ldbpins_new (self->db);
    if (err)
        *err = 0;
    if (errmsg && errmsg_len)
        errmsg[0] = '\0';
    return zkv_logstore_new (&s_ldbstore_ops, self);
}

// The database handle, for the KV data store that shares it (storage/zkv_kvstore_ldb.c).
// store must come from zkv_ldbstore_new: the wrapper does not say which implementation it holds.
// Declared in zkv_kvstore.h.
void *
zkv_ldbstore_db (zkv_logstore_t *store)
{
    assert (store);
    s_ldbstore_t *self = zkv_logstore_impl (store);
    return self ? self->db : NULL;
}

// The database's views and the compactions waiting for them (a zkv_ldbpins_t *), for the KV
// data stores that share the database. Same contract as zkv_ldbstore_db.
void *
zkv_ldbstore_pins (zkv_logstore_t *store)
{
    assert (store);
    s_ldbstore_t *self = zkv_logstore_impl (store);
    return self ? self->pins : NULL;
}
