// The KV state machine's snapshot: the group's whole state as one msgpack blob, and back.
//
// Format (see zkv_kv.h): [1, group, nshards, applied, n_dedup], n_dedup dedup records
// [shard, client_id, seq, status, bin value], then data items [shard, bin key, bin value] until
// the end. A flat sequence rather than one nested array, so that a streaming version can emit it
// chunk by chunk without knowing the number of items first.
//
// Reading does not use msgpack-c's unpacker (which allocates per declared array count before
// reading it, see messages/zkv_msg.c): a small bounds-checked cursor reads each value in place,
// and byte strings point into the blob, so a hostile blob costs no more memory than its size.
//
// Today the whole state is built in memory and handed to the Raft core as one blob, which bounds
// a group's data by memory. TODO: stream bounded chunks from a store snapshot (zkv_kvstore_scan)
// straight into chunked InstallSnapshot, and restore chunk by chunk into a staging key range.
#include "zkv_kv_int.h"

#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_FORMAT           1
#define S_SCAN_CHUNK_BYTES (1024 * 1024) // store reads while writing a snapshot
#define S_MAX_STATUS       1000          // larger than any ZKV_E* value will be

static void
s_check_pack (int rc)
{
    if (rc != 0)
        abort (); // msgpack-c's sbuffer only fails when out of memory
}

static void
s_pack_bin (msgpack_packer *pk, const uint8_t *data, size_t len)
{
    s_check_pack (msgpack_pack_bin (pk, len));
    if (len)
        s_check_pack (msgpack_pack_bin_body (pk, data, len));
}

int
zkv_kv_snapshot_write (zkv_kv_t *self, uint8_t **buf_p, size_t *len_p)
{
    assert (self && buf_p && len_p);
    *buf_p = NULL;
    *len_p = 0;
    // Dedup records from the store, not the hash table: the store's order is (shard, client),
    // so equal states give equal bytes on every replica.
    zkv_kvdedup_t *recs;
    size_t n_recs;
    int rc = zkv_kvstore_load_dedup (self->store, self->group, &recs, &n_recs);
    if (rc)
        return rc;

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    s_check_pack (msgpack_pack_array (&pk, 5));
    s_check_pack (msgpack_pack_uint64 (&pk, S_FORMAT));
    s_check_pack (msgpack_pack_uint64 (&pk, self->group));
    s_check_pack (msgpack_pack_uint64 (&pk, self->nshards));
    s_check_pack (msgpack_pack_uint64 (&pk, self->applied));
    s_check_pack (msgpack_pack_uint64 (&pk, n_recs));
    for (size_t i = 0; i < n_recs; i++) {
        s_check_pack (msgpack_pack_array (&pk, 5));
        s_check_pack (msgpack_pack_uint64 (&pk, recs[i].shard));
        s_check_pack (msgpack_pack_uint64 (&pk, recs[i].client_id));
        s_check_pack (msgpack_pack_uint64 (&pk, recs[i].seq));
        s_check_pack (msgpack_pack_uint64 (&pk, recs[i].status));
        s_pack_bin (&pk, recs[i].value.data, recs[i].value.len);
    }
    zkv_kvdedup_free_all (recs, n_recs);

    // No commit happens between the chunks (this call holds the state machine), so they form
    // one consistent view.
    zkv_kvpos_t pos = {0};
    zkv_kvchunk_t chunk;
    for (;;) {
        rc = zkv_kvstore_scan (self->store, self->group, &pos, UINT32_MAX, S_SCAN_CHUNK_BYTES,
                               &chunk);
        if (rc)
            break;
        for (size_t i = 0; i < chunk.count; i++) {
            const zkv_kvitem_t *it = &chunk.items[i];
            s_check_pack (msgpack_pack_array (&pk, 3));
            s_check_pack (msgpack_pack_uint64 (&pk, it->shard));
            s_pack_bin (&pk, it->key.data, it->key.len);
            s_pack_bin (&pk, it->value.data, it->value.len);
        }
        bool more = chunk.more;
        zkv_bytes_free (&pos.key);
        pos = chunk.next; // takes the position's bytes
        chunk.next = (zkv_kvpos_t){0};
        zkv_kvchunk_free (&chunk);
        if (!more)
            break;
    }
    zkv_bytes_free (&pos.key);
    if (rc) {
        msgpack_sbuffer_destroy (&sbuf);
        return rc;
    }
    *len_p = sbuf.size;
    *buf_p = (uint8_t *)msgpack_sbuffer_release (&sbuf); // malloc'd: free() it
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading: a bounds-checked cursor over the subset of msgpack the writer emits.

typedef struct {
    const uint8_t *p;   // next byte
    const uint8_t *end; // one past the last byte
} s_cursor_t;

static int
s_read_be (s_cursor_t *c, size_t n, uint64_t *v)
{
    if ((size_t)(c->end - c->p) < n)
        return ZKV_ETRUNC;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | c->p[i];
    c->p += n;
    *v = x;
    return 0;
}

static int
s_read_tag (s_cursor_t *c, uint8_t *tag)
{
    if (c->p == c->end)
        return ZKV_ETRUNC;
    *tag = *c->p++;
    return 0;
}

static int
s_read_uint (s_cursor_t *c, uint64_t *v)
{
    uint8_t tag;
    int rc = s_read_tag (c, &tag);
    if (rc)
        return rc;
    if (tag <= 0x7f) {
        *v = tag;
        return 0;
    }
    if (tag >= 0xcc && tag <= 0xcf)
        return s_read_be (c, (size_t)1 << (tag - 0xcc), v);
    return ZKV_EPROTO;
}

static int
s_read_array (s_cursor_t *c, uint64_t want)
{
    uint8_t tag;
    uint64_t count;
    int rc = s_read_tag (c, &tag);
    if (rc)
        return rc;
    if (tag >= 0x90 && tag <= 0x9f)
        count = tag & 0x0f;
    else if (tag == 0xdc || tag == 0xdd) {
        if ((rc = s_read_be (c, tag == 0xdc ? 2 : 4, &count)))
            return rc;
    } else
        return ZKV_EPROTO;
    return count == want ? 0 : ZKV_EPROTO;
}

// A bin, in place: *data points into the blob.
static int
s_read_bin (s_cursor_t *c, const uint8_t **data, size_t *len)
{
    uint8_t tag;
    uint64_t n;
    int rc = s_read_tag (c, &tag);
    if (rc)
        return rc;
    if (tag < 0xc4 || tag > 0xc6)
        return ZKV_EPROTO;
    if ((rc = s_read_be (c, (size_t)1 << (tag - 0xc4), &n)))
        return rc;
    if (n > (uint64_t)(c->end - c->p))
        return ZKV_ETRUNC;
    *data = c->p;
    *len = (size_t)n;
    c->p += n;
    return 0;
}

// Reads the blob into batch and map; any error leaves both for the caller to discard.
static int
s_restore (zkv_kv_t *self, s_cursor_t *c, zkv_kvbatch_t *batch, zkv_kv_map_t *map,
           uint64_t *applied)
{
    uint64_t format, group, nshards, n_dedup;
    int rc;
    if ((rc = s_read_array (c, 5)) || (rc = s_read_uint (c, &format)) ||
        (rc = s_read_uint (c, &group)) || (rc = s_read_uint (c, &nshards)) ||
        (rc = s_read_uint (c, applied)) || (rc = s_read_uint (c, &n_dedup)))
        return rc;
    if (format != S_FORMAT)
        return ZKV_EVERSION;
    if (group != self->group || nshards != self->nshards)
        return ZKV_EINVAL; // another group's state, or another shard layout
    // Each record takes at least 7 bytes: a count the blob cannot hold is refused up front.
    if (n_dedup > (uint64_t)(c->end - c->p) / 7)
        return ZKV_ETRUNC;
    for (uint64_t i = 0; i < n_dedup; i++) {
        zkv_kvdedup_t rec = {0};
        uint64_t shard;
        const uint8_t *value;
        size_t value_len;
        if ((rc = s_read_array (c, 5)) || (rc = s_read_uint (c, &shard)) ||
            (rc = s_read_uint (c, &rec.client_id)) || (rc = s_read_uint (c, &rec.seq)) ||
            (rc = s_read_uint (c, &rec.status)) || (rc = s_read_bin (c, &value, &value_len)))
            return rc;
        if (shard >= nshards || rec.seq == 0 || rec.status > S_MAX_STATUS)
            return ZKV_ECORRUPT;
        rec.shard = (uint32_t)shard;
        rec.value = (zkv_bytes_t){(uint8_t *)value, value_len}; // borrowed for the put
        zkv_kvstore_put_dedup (self->store, batch, self->group, &rec);
        uint8_t ck[8];
        zkv_kv_client_key (rec.client_id, ck);
        zkv_kv_slot_t *slot = zkv_kv_map_upsert (map, rec.shard, ck, 8);
        slot->seq = rec.seq;
        slot->status = rec.status;
        zkv_bytes_free (&slot->value);
        zkv_bytes_set (&slot->value, value, value_len);
    }
    while (c->p < c->end) {
        uint64_t shard;
        const uint8_t *key, *value;
        size_t key_len, value_len;
        if ((rc = s_read_array (c, 3)) || (rc = s_read_uint (c, &shard)) ||
            (rc = s_read_bin (c, &key, &key_len)) || (rc = s_read_bin (c, &value, &value_len)))
            return rc;
        // An item must sit in the shard its key hashes to, or no get would ever find it.
        if (key_len == 0 || shard >= nshards ||
            shard != zkv_kv_shard_of (key, key_len, self->nshards))
            return ZKV_ECORRUPT;
        zkv_kvstore_put (self->store, batch, self->group, (uint32_t)shard, key, key_len, value,
                         value_len);
    }
    return 0;
}

int
zkv_kv_snapshot_restore (zkv_kv_t *self, const uint8_t *buf, size_t len)
{
    assert (self && (buf || len == 0));
    if (len == 0)
        return ZKV_ETRUNC;
    s_cursor_t cur = {buf, buf + len};
    zkv_kvbatch_t *batch = zkv_kvstore_batch_new (self->store);
    zkv_kv_map_t map = {0};
    uint64_t applied = 0;
    // The old state goes first, in the same batch: a crash keeps the old state or the new one.
    int rc = zkv_kvstore_clear_group (self->store, batch, self->group);
    if (rc == 0)
        rc = s_restore (self, &cur, batch, &map, &applied);
    if (rc == 0) {
        zkv_kvstore_set_applied (self->store, batch, self->group, applied);
        rc = zkv_kvstore_commit (self->store, &batch);
    }
    zkv_kvstore_batch_destroy (self->store, &batch);
    if (rc) {
        zkv_kv_map_free (&map);
        return rc;
    }
    zkv_kv_map_free (&self->dedup);
    self->dedup = map;
    self->applied = applied;
    return 0;
}
