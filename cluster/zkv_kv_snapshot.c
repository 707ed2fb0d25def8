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
// Two ways to move it: the whole blob in memory (zkv_kv_snapshot_write / _restore, for small
// groups and the simulator), or streamed (zkv_kv_stream_t / zkv_kv_recv_t): the same bytes cut
// into chunks of whole records, read from a point-in-time store view in bounded scans and
// written one store batch per chunk, so a transfer's memory is bounded by the chunk size. A
// received stream is staged in the group's other generation and made current in one batch
// (zkv_kv.h, "Streamed snapshots"; the applied rows: zkv_kv_int.h).
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
    if (zkv_kv_incomplete (self))
        return ZKV_EUNAVAILABLE; // no state to write
    // Dedup records from the store, not the hash table: the store's order is (shard, client),
    // so equal states give equal bytes on every replica.
    zkv_kvdedup_t *recs;
    size_t n_recs;
    int rc = zkv_kvstore_load_dedup (self->store, self->sid, &recs, &n_recs);
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
        rc =
            zkv_kvstore_scan (self->store, self->sid, &pos, UINT32_MAX, S_SCAN_CHUNK_BYTES, &chunk);
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

// The stream's first record: [format, group, nshards, applied, n_dedup], checked against kv.
static int
s_read_header (const zkv_kv_t *self, s_cursor_t *c, uint64_t *applied, uint64_t *n_dedup)
{
    uint64_t format, group, nshards;
    int rc;
    if ((rc = s_read_array (c, 5)) || (rc = s_read_uint (c, &format)) ||
        (rc = s_read_uint (c, &group)) || (rc = s_read_uint (c, &nshards)) ||
        (rc = s_read_uint (c, applied)) || (rc = s_read_uint (c, n_dedup)))
        return rc;
    if (format != S_FORMAT)
        return ZKV_EVERSION;
    if (group != self->group || nshards != self->nshards)
        return ZKV_EINVAL; // another group's state, or another shard layout
    if (!zkv_kv_row_valid (*applied))
        return ZKV_ECORRUPT; // never sent: a state at 0 is no snapshot, the top bit not an index
    return 0;
}

// One dedup record into batch under storage id sid (and map, when given).
static int
s_read_dedup (zkv_kv_t *self, s_cursor_t *c, zkv_kvbatch_t *batch, uint64_t sid, zkv_kv_map_t *map)
{
    zkv_kvdedup_t rec = {0};
    uint64_t shard;
    const uint8_t *value;
    size_t value_len;
    int rc;
    if ((rc = s_read_array (c, 5)) || (rc = s_read_uint (c, &shard)) ||
        (rc = s_read_uint (c, &rec.client_id)) || (rc = s_read_uint (c, &rec.seq)) ||
        (rc = s_read_uint (c, &rec.status)) || (rc = s_read_bin (c, &value, &value_len)))
        return rc;
    if (shard >= self->nshards || rec.seq == 0 || rec.status > S_MAX_STATUS)
        return ZKV_ECORRUPT;
    rec.shard = (uint32_t)shard;
    rec.value = (zkv_bytes_t){(uint8_t *)value, value_len}; // borrowed for the put
    zkv_kvstore_put_dedup (self->store, batch, sid, &rec);
    if (map) {
        uint8_t ck[8];
        zkv_kv_client_key (rec.client_id, ck);
        zkv_kv_slot_t *slot = zkv_kv_map_upsert (map, rec.shard, ck, 8);
        slot->seq = rec.seq;
        slot->status = rec.status;
        zkv_bytes_free (&slot->value);
        zkv_bytes_set (&slot->value, value, value_len);
    }
    return 0;
}

// One data item into batch under storage id sid.
static int
s_read_item (zkv_kv_t *self, s_cursor_t *c, zkv_kvbatch_t *batch, uint64_t sid)
{
    uint64_t shard;
    const uint8_t *key, *value;
    size_t key_len, value_len;
    int rc;
    if ((rc = s_read_array (c, 3)) || (rc = s_read_uint (c, &shard)) ||
        (rc = s_read_bin (c, &key, &key_len)) || (rc = s_read_bin (c, &value, &value_len)))
        return rc;
    // An item must sit in the shard its key hashes to, or no get would ever find it.
    if (key_len == 0 || shard >= self->nshards ||
        shard != zkv_kv_shard_of (key, key_len, self->nshards))
        return ZKV_ECORRUPT;
    zkv_kvstore_put (self->store, batch, sid, (uint32_t)shard, key, key_len, value, value_len);
    return 0;
}

// Reads the blob into batch and map; any error leaves both for the caller to discard.
static int
s_restore (zkv_kv_t *self, s_cursor_t *c, zkv_kvbatch_t *batch, zkv_kv_map_t *map,
           uint64_t *applied)
{
    uint64_t n_dedup;
    int rc = s_read_header (self, c, applied, &n_dedup);
    if (rc)
        return rc;
    // Each record takes at least 7 bytes: a count the blob cannot hold is refused up front.
    if (n_dedup > (uint64_t)(c->end - c->p) / 7)
        return ZKV_ETRUNC;
    for (uint64_t i = 0; i < n_dedup; i++)
        if ((rc = s_read_dedup (self, c, batch, self->sid, map)))
            return rc;
    while (c->p < c->end)
        if ((rc = s_read_item (self, c, batch, self->sid)))
            return rc;
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
    // The current generation is replaced in place: the old state goes first, in the same
    // batch, so a crash keeps the old state or the new one. A stream being staged meanwhile
    // (in the other generation) is not touched.
    int rc = zkv_kvstore_clear_group (self->store, batch, self->sid);
    if (rc == 0)
        rc = s_restore (self, &cur, batch, &map, &applied);
    if (rc == 0) {
        zkv_kvstore_set_applied (self->store, batch, self->sid, applied);
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

// ---------------------------------------------------------------------------------------------
// Streaming: the writer

bool
zkv_kv_incomplete (const zkv_kv_t *self)
{
    return self->applied == ZKV_KV_APPLIED_INCOMPLETE;
}

typedef enum { S_HEADER, S_DEDUP, S_DATA, S_END } s_phase_t;

struct zkv_kv_stream {
    zkv_kvstore_t *view; // the point-in-time view read (not owned)
    uint64_t group;      // group streamed
    uint64_t sid;        // the storage id of its current generation in the view
    uint32_t nshards;    // its shard count
    uint64_t applied;    // the view's applied index
    zkv_kvdedup_t *recs; // the view's dedup records, in (shard, client) order
    size_t n_recs;       // their number
    uint64_t offset;     // stream bytes produced so far (sent or skipped)
    s_phase_t phase;     // what the next record is
    size_t dedup_i;      // S_DEDUP: next record
    zkv_kvpos_t pos;     // S_DATA: where the next scan starts
    bool scanned;        // S_DATA: chunk holds a scan
    zkv_kvchunk_t chunk; // S_DATA: the current scan (bounded by S_SCAN_CHUNK_BYTES)
    size_t chunk_i;      // S_DATA: next item in it
    msgpack_sbuffer rec; // the next record, packed (size 0: not made yet)
    msgpack_packer pk;   // packs into rec
    uint64_t last_off;   // offset of the last chunk read
    uint8_t *last;       // a copy of it (a retransmit is answered without a rescan), or NULL
    size_t last_len;     // its length
    bool last_done;      // it ended the stream
};

zkv_kv_stream_t *
zkv_kv_stream_new (zkv_kvstore_t *view, uint64_t group, uint32_t nshards, int *err)
{
    assert (view && err);
    // The view's current generation: a stream being staged in the other one is not a state.
    uint64_t applied = 0, other;
    uint32_t gen = 0;
    int rc = (group & ZKV_KV_STAGED_BIT)
                 ? ZKV_EINVAL
                 : zkv_kv_find_current (view, group, &gen, &applied, &other);
    if (rc == 0 && applied == ZKV_KV_APPLIED_INCOMPLETE)
        rc = ZKV_EUNAVAILABLE;
    zkv_kvdedup_t *recs = NULL;
    size_t n_recs = 0;
    if (rc == 0)
        rc = zkv_kvstore_load_dedup (view, zkv_kv_sid (group, gen), &recs, &n_recs);
    if (rc) {
        *err = rc;
        return NULL;
    }
    zkv_kv_stream_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->view = view;
    self->group = group;
    self->sid = zkv_kv_sid (group, gen);
    self->nshards = nshards;
    self->applied = applied;
    self->recs = recs;
    self->n_recs = n_recs;
    msgpack_sbuffer_init (&self->rec);
    msgpack_packer_init (&self->pk, &self->rec, msgpack_sbuffer_write);
    *err = 0;
    return self;
}

static void
s_stream_rewind (zkv_kv_stream_t *self)
{
    self->offset = 0;
    self->phase = S_HEADER;
    self->dedup_i = 0;
    zkv_bytes_free (&self->pos.key);
    self->pos.shard = 0;
    zkv_kvchunk_free (&self->chunk);
    self->scanned = false;
    self->chunk_i = 0;
    msgpack_sbuffer_clear (&self->rec);
}

void
zkv_kv_stream_destroy (zkv_kv_stream_t **self_p)
{
    assert (self_p);
    zkv_kv_stream_t *self = *self_p;
    if (!self)
        return;
    s_stream_rewind (self);
    free (self->last);
    zkv_kvdedup_free_all (self->recs, self->n_recs);
    msgpack_sbuffer_destroy (&self->rec);
    free (self);
    *self_p = NULL;
}

uint64_t
zkv_kv_stream_applied (const zkv_kv_stream_t *self)
{
    return self->applied;
}

// Packs the next record into self->rec unless it holds one already; leaves it empty at the end.
static int
s_stream_next (zkv_kv_stream_t *self)
{
    msgpack_packer *pk = &self->pk;
    while (self->rec.size == 0) {
        switch (self->phase) {
        case S_HEADER:
            s_check_pack (msgpack_pack_array (pk, 5));
            s_check_pack (msgpack_pack_uint64 (pk, S_FORMAT));
            s_check_pack (msgpack_pack_uint64 (pk, self->group));
            s_check_pack (msgpack_pack_uint64 (pk, self->nshards));
            s_check_pack (msgpack_pack_uint64 (pk, self->applied));
            s_check_pack (msgpack_pack_uint64 (pk, self->n_recs));
            self->phase = S_DEDUP;
            break;
        case S_DEDUP:
            if (self->dedup_i == self->n_recs) {
                self->phase = S_DATA;
                break;
            }
            const zkv_kvdedup_t *r = &self->recs[self->dedup_i++];
            s_check_pack (msgpack_pack_array (pk, 5));
            s_check_pack (msgpack_pack_uint64 (pk, r->shard));
            s_check_pack (msgpack_pack_uint64 (pk, r->client_id));
            s_check_pack (msgpack_pack_uint64 (pk, r->seq));
            s_check_pack (msgpack_pack_uint64 (pk, r->status));
            s_pack_bin (pk, r->value.data, r->value.len);
            break;
        case S_DATA:
            if (self->scanned && self->chunk_i < self->chunk.count) {
                const zkv_kvitem_t *it = &self->chunk.items[self->chunk_i++];
                s_check_pack (msgpack_pack_array (pk, 3));
                s_check_pack (msgpack_pack_uint64 (pk, it->shard));
                s_pack_bin (pk, it->key.data, it->key.len);
                s_pack_bin (pk, it->value.data, it->value.len);
                break;
            }
            if (self->scanned && !self->chunk.more) {
                self->phase = S_END;
                break;
            }
            if (self->scanned) {
                zkv_bytes_free (&self->pos.key);
                self->pos = self->chunk.next; // takes the position's bytes
                self->chunk.next = (zkv_kvpos_t){0};
            }
            zkv_kvchunk_free (&self->chunk);
            self->chunk_i = 0;
            self->scanned = false;
            int rc = zkv_kvstore_scan (self->view, self->sid, &self->pos, UINT32_MAX,
                                       S_SCAN_CHUNK_BYTES, &self->chunk);
            if (rc)
                return rc;
            self->scanned = true;
            break;
        case S_END:
            return 0;
        }
    }
    return 0;
}

int
zkv_kv_stream_read (zkv_kv_stream_t *self, uint64_t offset, size_t max_bytes, uint8_t **buf_p,
                    size_t *len_p, bool *done_p)
{
    assert (self && buf_p && len_p && done_p && max_bytes > 0);
    *buf_p = NULL;
    *len_p = 0;
    *done_p = false;
    int rc = 0;
    if (self->last && offset == self->last_off) {
        // The chunk in flight again (its acknowledgement is slow, or was lost): no rescan.
        *buf_p = malloc (self->last_len ? self->last_len : 1);
        if (!*buf_p)
            abort ();
        memcpy (*buf_p, self->last, self->last_len);
        *len_p = self->last_len;
        *done_p = self->last_done;
        return 0;
    }
    if (offset < self->offset)
        s_stream_rewind (self); // an older retransmit: scan again from the start, skip
    while (self->offset < offset) {
        if ((rc = s_stream_next (self)))
            return rc;
        if (self->rec.size == 0 || offset - self->offset < self->rec.size)
            return ZKV_EINVAL; // past the end, or inside a record: not a chunk boundary
        self->offset += self->rec.size;
        msgpack_sbuffer_clear (&self->rec);
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    for (;;) {
        if ((rc = s_stream_next (self)))
            break;
        if (self->rec.size == 0) {
            *done_p = true;
            break;
        }
        if (out.size > 0 && out.size + self->rec.size > max_bytes)
            break; // the record waits in rec for the next chunk
        s_check_pack (msgpack_sbuffer_write (&out, self->rec.data, self->rec.size));
        self->offset += self->rec.size;
        msgpack_sbuffer_clear (&self->rec);
    }
    if (rc) {
        msgpack_sbuffer_destroy (&out);
        return rc;
    }
    *len_p = out.size;
    *buf_p = (uint8_t *)msgpack_sbuffer_release (&out);
    free (self->last);
    self->last = malloc (*len_p ? *len_p : 1);
    if (!self->last)
        abort ();
    memcpy (self->last, *buf_p, *len_p);
    self->last_off = offset;
    self->last_len = *len_p;
    self->last_done = *done_p;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Streaming: the receiver, which stages the stream in the generation that is not current

struct zkv_kv_recv {
    zkv_kv_t *kv;        // the state machine written (not owned)
    bool active;         // a stream is being received
    uint32_t gen;        // the generation it is staged in (never kv's current one)
    uint64_t sid;        // that generation's storage id
    uint64_t next;       // offset the next chunk must have
    bool header;         // its header was read
    uint64_t applied;    // the header's applied index
    uint64_t dedup_left; // dedup records still to come
    bool complete;       // the last chunk came: waiting for zkv_kv_recv_finish
};

zkv_kv_recv_t *
zkv_kv_recv_new (zkv_kv_t *kv)
{
    assert (kv);
    zkv_kv_recv_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->kv = kv;
    return self;
}

void
zkv_kv_recv_destroy (zkv_kv_recv_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

int
zkv_kv_recv_chunk (zkv_kv_recv_t *self, uint64_t offset, const uint8_t *data, size_t len, bool done)
{
    assert (self && (data || len == 0));
    zkv_kv_t *kv = self->kv;
    if (offset == 0) {
        // A new stream: a partial one before it is dropped with the staging generation.
        self->active = true;
        self->gen = !kv->gen;
        self->sid = zkv_kv_sid (kv->group, self->gen);
        self->header = false;
        self->complete = false;
        self->dedup_left = 0;
        self->next = 0;
    } else if (!self->active || self->complete || offset != self->next)
        return ZKV_EINVAL;
    else if (self->gen == kv->gen) {
        self->active = false; // promoted meanwhile (zkv_kv_boot_promote): never write current
        return ZKV_EINVAL;
    }
    zkv_kvbatch_t *batch = zkv_kvstore_batch_new (kv->store);
    int rc = 0;
    if (offset == 0) {
        // Whatever the staging generation held goes (an abandoned stream, the leftovers of an
        // interrupted one), in the same batch as the first records: it is durably "being
        // staged", never mistaken for a state. The current generation is not touched.
        rc = zkv_kvstore_clear_group (kv->store, batch, self->sid);
        zkv_kvstore_set_applied (kv->store, batch, self->sid, ZKV_KV_APPLIED_INCOMPLETE);
    }
    s_cursor_t cur = {data, data + len};
    if (rc == 0 && !self->header) {
        rc = s_read_header (kv, &cur, &self->applied, &self->dedup_left);
        self->header = rc == 0;
    }
    while (rc == 0 && cur.p < cur.end) {
        if (self->dedup_left) {
            rc = s_read_dedup (kv, &cur, batch, self->sid, NULL);
            self->dedup_left--;
        } else
            rc = s_read_item (kv, &cur, batch, self->sid);
    }
    if (rc == 0 && done && (!self->header || self->dedup_left))
        rc = ZKV_ETRUNC; // ends before its announced records
    if (rc == 0 && done)
        // Durably whole (not current yet): should a crash fall between the Raft snapshot's
        // save and zkv_kv_recv_finish, zkv_kv_boot_promote installs it without a new transfer.
        zkv_kvstore_set_applied (kv->store, batch, self->sid, ZKV_KV_STAGED_BIT | self->applied);
    if (rc == 0)
        rc = zkv_kvstore_commit (kv->store, &batch);
    zkv_kvstore_batch_destroy (kv->store, &batch);
    if (rc) {
        self->active = false; // only a new stream from offset 0 goes on
        return rc;
    }
    self->next = offset + len;
    self->complete = done;
    return 0;
}

// Makes the whole state staged in generation gen, at index, the current one: ONE batch sets its
// applied index and deletes the old generation (its data, dedup records and applied row), so
// whatever the crash point the store holds exactly one current state. Then kv follows.
static int
s_promote (zkv_kv_t *kv, uint32_t gen, uint64_t index)
{
    assert (gen != kv->gen);
    if (!zkv_kv_incomplete (kv) && index < kv->applied)
        return ZKV_EINVAL; // older than the state it would replace: Raft never installs that
    uint64_t sid = zkv_kv_sid (kv->group, gen);
    zkv_kv_map_t map = {0};
    int rc = zkv_kv_load_dedup (kv->store, sid, &map); // the staged records are committed
    if (rc == 0) {
        zkv_kvbatch_t *batch = zkv_kvstore_batch_new (kv->store);
        zkv_kvstore_set_applied (kv->store, batch, sid, index);
        rc = zkv_kvstore_clear_group (kv->store, batch, kv->sid);
        zkv_kvstore_set_applied (kv->store, batch, kv->sid, 0);
        if (rc == 0)
            rc = zkv_kvstore_commit (kv->store, &batch);
        zkv_kvstore_batch_destroy (kv->store, &batch);
    }
    if (rc) {
        zkv_kv_map_free (&map);
        return rc;
    }
    zkv_kv_map_free (&kv->dedup);
    kv->dedup = map;
    kv->gen = gen;
    kv->sid = sid;
    kv->applied = index;
    return 0;
}

int
zkv_kv_recv_finish (zkv_kv_recv_t *self, uint64_t index)
{
    assert (self);
    if (!self->active || !self->complete)
        return ZKV_EINVAL;
    if (self->gen == self->kv->gen) {
        self->active = false; // promoted meanwhile (zkv_kv_boot_promote)
        return ZKV_EINVAL;
    }
    if (self->applied != index)
        return ZKV_ECORRUPT; // the leader streamed another state than its snapshot's
    int rc = s_promote (self->kv, self->gen, index);
    if (rc == 0) {
        self->active = false;
        self->complete = false;
    }
    return rc;
}

int
zkv_kv_boot_promote (zkv_kv_t *kv, uint64_t raft_snapshot_index)
{
    assert (kv);
    uint32_t gen = !kv->gen;
    uint64_t sid = zkv_kv_sid (kv->group, gen), row;
    int rc = zkv_kvstore_load_applied (kv->store, sid, &row);
    if (rc || row == 0)
        return rc; // nothing staged, nothing left over
    uint64_t staged = row & ~ZKV_KV_STAGED_BIT;
    if (zkv_kv_row_staged (row) && staged == raft_snapshot_index &&
        (zkv_kv_incomplete (kv) || staged > kv->applied)) {
        // A crash fell between the Raft snapshot's save and the install: install it now.
        rc = s_promote (kv, gen, staged);
        return rc ? rc : 1;
    }
    // Leftovers of a stream that was abandoned, or whose Raft snapshot was never saved (the
    // leader sends a new one): free their space now rather than at the next stream.
    zkv_kvbatch_t *batch = zkv_kvstore_batch_new (kv->store);
    rc = zkv_kvstore_clear_group (kv->store, batch, sid);
    zkv_kvstore_set_applied (kv->store, batch, sid, 0);
    if (rc == 0)
        rc = zkv_kvstore_commit (kv->store, &batch);
    zkv_kvstore_batch_destroy (kv->store, &batch);
    return rc;
}
