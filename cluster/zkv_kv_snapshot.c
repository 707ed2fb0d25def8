// The KV state machine's snapshot: the group's whole state as a sequence of records, and back.
//
// Format (zkv_kv.h): one kv_snap_header {format, group, nshards, applied, n_dedup}, n_dedup
// kv_snap_dedup records {shard, client_id, seq, status, value, last_ms}, then kv_snap_item
// records {shard, key, value} until the end (the meta shard's items hold the shard states and
// the session state, zkv_kv_int.h). Each is a row of the message table
// (messages/zkv_msg_table.h), encoded by zkv_msg_encode and read back one at a time by
// zkv_msg_decode_prefix: this file knows the records' fields, never their bytes, and a hostile
// snapshot meets the codec's bounds checks. A flat sequence rather than one nested message, so
// that a stream can emit it chunk by chunk without knowing the number of items first, and a
// reader decodes one record at a time from a chunk: memory bounded by the largest record, never
// by the stream.
//
// Two ways to move it: the whole blob in memory (zkv_kv_snapshot_write / _restore, for small
// groups and the simulator), or streamed (zkv_kv_stream_t / zkv_kv_recv_t): the same bytes cut
// into chunks of whole records, read from a point-in-time store view in bounded scans and
// written one store batch per chunk, so a transfer's memory is bounded by the chunk size. A
// received stream is staged in the group's other generation and made current in one batch
// (zkv_kv.h, "Streamed snapshots"; the applied rows: zkv_kv_int.h).
#include "zkv_kv_int.h"
#include "zkv_kv_shards.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_SCAN_CHUNK_BYTES (1024 * 1024) // store reads while writing a snapshot
#define S_MAX_STATUS       1000          // larger than any ZKV_E* value will be

// ---------------------------------------------------------------------------------------------
// Writing: one record at a time, from the state machine's store or from a view

// A growing byte buffer (out of memory aborts).
typedef struct {
    uint8_t *data; // heap, owned
    size_t len;    // bytes used
    size_t cap;    // bytes allocated
} s_buf_t;

static void
s_buf_add (s_buf_t *b, const uint8_t *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->data = realloc (b->data, cap);
        if (!b->data)
            abort ();
        b->cap = cap;
    }
    memcpy (b->data + b->len, p, n);
    b->len += n;
}

// The records, as messages whose byte fields BORROW the state's bytes: encoded, never freed.
static zkv_msg_t
s_header (uint64_t group, uint32_t nshards, uint64_t applied, size_t n_dedup)
{
    zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_HEADER};
    m.u.kv_snap_header = (zkv_kv_snap_header_t){
        .format = ZKV_KV_SNAP_FORMAT,
        .group = group,
        .nshards = nshards,
        .applied = applied,
        .n_dedup = n_dedup,
    };
    return m;
}

static zkv_msg_t
s_dedup (const zkv_kvdedup_t *r)
{
    zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_DEDUP};
    m.u.kv_snap_dedup = (zkv_kv_snap_dedup_t){
        .shard = r->shard,
        .client_id = r->client_id,
        .seq = r->seq,
        .status = r->status,
        .value = r->value,
        .last_ms = r->last_ms,
    };
    return m;
}

static zkv_msg_t
s_item (const zkv_kvitem_t *it)
{
    zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_ITEM};
    m.u.kv_snap_item = (zkv_kv_snap_item_t){.shard = it->shard, .key = it->key, .value = it->value};
    return m;
}

typedef enum { S_HEADER, S_DEDUP, S_DATA, S_END } s_phase_t;

struct zkv_kv_stream {
    zkv_kvstore_t *store; // the store or point-in-time view read (not owned)
    uint64_t group;       // group streamed
    uint64_t sid;         // the storage id of its current generation there
    uint32_t nshards;     // its shard count
    uint64_t applied;     // the state's applied index
    zkv_kvdedup_t *recs;  // its dedup records, in (shard, client) order
    size_t n_recs;        // their number
    uint64_t offset;      // stream bytes produced so far (sent or skipped)
    s_phase_t phase;      // what the next record is
    size_t dedup_i;       // S_DEDUP: next record
    zkv_kvpos_t pos;      // S_DATA: where the next scan starts
    bool scanned;         // S_DATA: chunk holds a scan
    zkv_kvchunk_t chunk;  // S_DATA: the current scan (bounded by S_SCAN_CHUNK_BYTES)
    size_t chunk_i;       // S_DATA: next item in it
    uint8_t *rec;         // the next record, encoded (NULL: not made yet, or the end)
    size_t rec_len;       // its length
    uint64_t last_off;    // offset of the last chunk read
    uint8_t *last;        // a copy of it (a retransmit is answered without a rescan), or NULL
    size_t last_len;      // its length
    bool last_done;       // it ended the stream
};

// A writer of the state under storage id sid of store, at applied. Loads its dedup records
// from the store, not from the state machine's hash table: the store's order is (shard,
// client), so equal states give equal bytes on every replica.
static zkv_kv_stream_t *
s_stream_new (zkv_kvstore_t *store, uint64_t group, uint64_t sid, uint32_t nshards,
              uint64_t applied, int *err)
{
    zkv_kvdedup_t *recs = NULL;
    size_t n_recs = 0;
    *err = zkv_kvstore_load_dedup (store, sid, &recs, &n_recs);
    if (*err)
        return NULL;
    zkv_kv_stream_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->store = store;
    self->group = group;
    self->sid = sid;
    self->nshards = nshards;
    self->applied = applied;
    self->recs = recs;
    self->n_recs = n_recs;
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
    free (self->rec);
    self->rec = NULL;
    self->rec_len = 0;
}

// Encodes the next record into self->rec unless it holds one already; leaves it NULL at the
// end. A record the codec refuses (a value over its field limit) is an error: ZKV_ETOOBIG.
static int
s_stream_next (zkv_kv_stream_t *self)
{
    while (!self->rec) {
        zkv_msg_t m;
        switch (self->phase) {
        case S_HEADER:
            m = s_header (self->group, self->nshards, self->applied, self->n_recs);
            self->phase = S_DEDUP;
            break;
        case S_DEDUP:
            if (self->dedup_i == self->n_recs) {
                self->phase = S_DATA;
                continue;
            }
            m = s_dedup (&self->recs[self->dedup_i++]);
            break;
        case S_DATA:
            if (self->scanned && self->chunk_i < self->chunk.count) {
                m = s_item (&self->chunk.items[self->chunk_i++]);
                break;
            }
            if (self->scanned && !self->chunk.more) {
                self->phase = S_END;
                continue;
            }
            if (self->scanned) {
                zkv_bytes_free (&self->pos.key);
                self->pos = self->chunk.next; // takes the position's bytes
                self->chunk.next = (zkv_kvpos_t){0};
            }
            zkv_kvchunk_free (&self->chunk);
            self->chunk_i = 0;
            self->scanned = false;
            int rc = zkv_kvstore_scan (self->store, self->sid, &self->pos, UINT32_MAX,
                                       S_SCAN_CHUNK_BYTES, &self->chunk);
            if (rc)
                return rc;
            self->scanned = true;
            continue;
        case S_END:
            return 0;
        }
        int rc = zkv_msg_encode (&m, &self->rec, &self->rec_len);
        if (rc)
            return rc;
    }
    return 0;
}

// Appends the records from the current position to out, whole, until the next one would pass
// max_bytes (at least one record), or the end (*done_p).
static int
s_stream_fill (zkv_kv_stream_t *self, size_t max_bytes, s_buf_t *out, bool *done_p)
{
    *done_p = false;
    for (;;) {
        int rc = s_stream_next (self);
        if (rc)
            return rc;
        if (!self->rec) {
            *done_p = true;
            return 0;
        }
        if (out->len > 0 && out->len + self->rec_len > max_bytes)
            return 0; // the record waits in rec for the next chunk
        s_buf_add (out, self->rec, self->rec_len);
        self->offset += self->rec_len;
        free (self->rec);
        self->rec = NULL;
    }
}

int
zkv_kv_snapshot_write (zkv_kv_t *self, uint8_t **buf_p, size_t *len_p)
{
    assert (self && buf_p && len_p);
    *buf_p = NULL;
    *len_p = 0;
    if (zkv_kv_incomplete (self))
        return ZKV_EUNAVAILABLE; // no state to write
    // The stream writer over the state machine's own store: no commit happens while this call
    // holds the state machine, so its scans form one consistent view.
    int rc;
    zkv_kv_stream_t *w =
        s_stream_new (self->store, self->group, self->sid, self->nshards, self->applied, &rc);
    if (!w)
        return rc;
    s_buf_t out = {0};
    bool done;
    rc = s_stream_fill (w, SIZE_MAX, &out, &done);
    assert (rc || done);
    zkv_kv_stream_destroy (&w);
    if (rc) {
        free (out.data);
        return rc;
    }
    *buf_p = out.data; // never NULL: the header at least
    *len_p = out.len;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading: one record at a time, decoded by the codec, checked against the state machine

// Where a reader is in the record sequence.
typedef struct {
    bool header;         // the header was read
    uint64_t applied;    // its applied index
    uint64_t dedup_left; // dedup records still to come before the items
} s_reader_t;

// The sequence's first record, checked against kv.
static int
s_read_header (const zkv_kv_t *kv, s_reader_t *r, const zkv_kv_snap_header_t *h)
{
    if (h->format != ZKV_KV_SNAP_FORMAT)
        return ZKV_EVERSION;
    if (h->group != kv->group || h->nshards != kv->nshards)
        return ZKV_EINVAL; // another group's state, or another shard layout
    if (!zkv_kv_row_valid (h->applied))
        return ZKV_ECORRUPT; // never sent: a state at 0 is no snapshot, the top bit not an index
    r->header = true;
    r->applied = h->applied;
    r->dedup_left = h->n_dedup;
    return 0;
}

// One dedup record into batch under storage id sid (and map, when given, which takes its
// value).
static int
s_read_dedup (zkv_kv_t *kv, zkv_kv_snap_dedup_t *d, zkv_kvbatch_t *batch, uint64_t sid,
              zkv_kv_map_t *map)
{
    if (d->shard >= kv->nshards || d->seq == 0 || d->status > S_MAX_STATUS)
        return ZKV_ECORRUPT;
    zkv_kvdedup_t rec = {
        .shard = (uint32_t)d->shard,
        .client_id = d->client_id,
        .seq = d->seq,
        .status = d->status,
        .last_ms = d->last_ms,
        .value = d->value, // borrowed for the put, which copies it
    };
    zkv_kvstore_put_dedup (kv->store, batch, sid, &rec);
    if (map) {
        uint8_t ck[8];
        zkv_kv_client_key (rec.client_id, ck);
        zkv_kv_slot_t *slot = zkv_kv_map_upsert (map, rec.shard, ck, 8);
        slot->seq = rec.seq;
        slot->status = rec.status;
        slot->last_ms = rec.last_ms;
        zkv_bytes_free (&slot->value);
        slot->value = d->value; // taken from the decoded record
        d->value = (zkv_bytes_t){0};
    }
    return 0;
}

// One data item into batch under storage id sid.
static int
s_read_item (zkv_kv_t *kv, const zkv_kv_snap_item_t *it, zkv_kvbatch_t *batch, uint64_t sid)
{
    // An item must sit in the shard its key hashes to, or no get would ever find it; the meta
    // shard holds the migration state (zkv_kv_shards.h).
    if (it->key.len == 0 ||
        (it->shard != ZKV_KV_META_SHARD &&
         (it->shard >= kv->nshards ||
          it->shard != zkv_kv_shard_of (it->key.data, it->key.len, kv->nshards))))
        return ZKV_ECORRUPT;
    zkv_kvstore_put (kv->store, batch, sid, (uint32_t)it->shard, it->key.data, it->key.len,
                     it->value.data, it->value.len);
    return 0;
}

// One decoded record, in its place in the sequence: the header first, then exactly n_dedup
// dedup records, then items. Any other record, or one out of its place, is malformed.
static int
s_read_record (zkv_kv_t *kv, s_reader_t *r, zkv_msg_t *m, zkv_kvbatch_t *batch, uint64_t sid,
               zkv_kv_map_t *map)
{
    if (!r->header)
        return m->type == ZKV_MSG_KV_SNAP_HEADER ? s_read_header (kv, r, &m->u.kv_snap_header)
                                                 : ZKV_EPROTO;
    if (m->type == ZKV_MSG_KV_SNAP_DEDUP && r->dedup_left > 0) {
        r->dedup_left--;
        return s_read_dedup (kv, &m->u.kv_snap_dedup, batch, sid, map);
    }
    if (m->type == ZKV_MSG_KV_SNAP_ITEM && r->dedup_left == 0)
        return s_read_item (kv, &m->u.kv_snap_item, batch, sid);
    return ZKV_EPROTO; // a second header, a dedup record after the items, a foreign message
}

// Reads the whole records of buf (a blob, or one chunk of a stream) into batch under storage
// id sid (and map, when given), decoding one record at a time in place. Any error leaves batch,
// map and *r for the caller to discard.
static int
s_read_records (zkv_kv_t *kv, s_reader_t *r, const uint8_t *buf, size_t len, zkv_kvbatch_t *batch,
                uint64_t sid, zkv_kv_map_t *map)
{
    size_t off = 0;
    while (off < len) {
        zkv_msg_t m;
        size_t used;
        int rc = zkv_msg_decode_prefix (buf + off, len - off, &m, &used);
        if (rc)
            return rc; // ZKV_ETRUNC for a record cut at the end: chunks hold whole records
        off += used;
        rc = s_read_record (kv, r, &m, batch, sid, map);
        zkv_msg_free (&m);
        if (rc)
            return rc;
    }
    return 0;
}

int
zkv_kv_snapshot_restore (zkv_kv_t *self, const uint8_t *buf, size_t len)
{
    assert (self && (buf || len == 0));
    if (len == 0)
        return ZKV_ETRUNC;
    zkv_kvbatch_t *batch = zkv_kvstore_batch_new (self->store);
    zkv_kv_map_t map = {0};
    s_reader_t r = {0};
    // The current generation is replaced in place: the old state goes first, in the same
    // batch, so a crash keeps the old state or the new one. A stream being staged meanwhile
    // (in the other generation) is not touched.
    int rc = zkv_kvstore_clear_group (self->store, batch, self->sid);
    if (rc == 0)
        rc = s_read_records (self, &r, buf, len, batch, self->sid, &map);
    if (rc == 0 && (!r.header || r.dedup_left))
        rc = ZKV_ETRUNC; // ends before its announced records
    if (rc == 0) {
        zkv_kvstore_set_applied (self->store, batch, self->sid, r.applied);
        rc = zkv_kvstore_commit (self->store, &batch);
    }
    zkv_kvstore_batch_destroy (self->store, &batch);
    if (rc) {
        zkv_kv_map_free (&map);
        return rc;
    }
    zkv_kv_map_free (&self->dedup);
    self->dedup = map;
    self->applied = r.applied;
    // The session state and the shard states came as items of the meta shard.
    rc = zkv_kv_sessions_load (self);
    return rc ? rc : zkv_kv_shards_reload (self);
}

// ---------------------------------------------------------------------------------------------
// Streaming: the writer

bool
zkv_kv_incomplete (const zkv_kv_t *self)
{
    return self->applied == ZKV_KV_APPLIED_INCOMPLETE;
}

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
    if (rc) {
        *err = rc;
        return NULL;
    }
    return s_stream_new (view, group, zkv_kv_sid (group, gen), nshards, applied, err);
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
    free (self);
    *self_p = NULL;
}

uint64_t
zkv_kv_stream_applied (const zkv_kv_stream_t *self)
{
    return self->applied;
}

static uint8_t *
s_copy (const uint8_t *data, size_t len)
{
    uint8_t *p = malloc (len ? len : 1);
    if (!p)
        abort ();
    if (len)
        memcpy (p, data, len);
    return p;
}

int
zkv_kv_stream_read (zkv_kv_stream_t *self, uint64_t offset, size_t max_bytes, uint8_t **buf_p,
                    size_t *len_p, bool *done_p)
{
    assert (self && buf_p && len_p && done_p && max_bytes > 0);
    *buf_p = NULL;
    *len_p = 0;
    *done_p = false;
    if (self->last && offset == self->last_off) {
        // The chunk in flight again (its acknowledgement is slow, or was lost): no rescan.
        *buf_p = s_copy (self->last, self->last_len);
        *len_p = self->last_len;
        *done_p = self->last_done;
        return 0;
    }
    if (offset < self->offset)
        s_stream_rewind (self); // an older retransmit: scan again from the start, skip
    while (self->offset < offset) {
        int rc = s_stream_next (self);
        if (rc)
            return rc;
        if (!self->rec || offset - self->offset < self->rec_len)
            return ZKV_EINVAL; // past the end, or inside a record: not a chunk boundary
        self->offset += self->rec_len;
        free (self->rec);
        self->rec = NULL;
    }
    s_buf_t out = {0};
    bool done;
    int rc = s_stream_fill (self, max_bytes, &out, &done);
    if (rc) {
        free (out.data);
        return rc;
    }
    if (!out.data)
        out.data = s_copy (NULL, 0); // the empty chunk at the end: still a buffer to free()
    *buf_p = out.data;
    *len_p = out.len;
    *done_p = done;
    free (self->last);
    self->last = s_copy (out.data, out.len);
    self->last_off = offset;
    self->last_len = out.len;
    self->last_done = done;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Streaming: the receiver, which stages the stream in the generation that is not current

struct zkv_kv_recv {
    zkv_kv_t *kv;      // the state machine written (not owned)
    bool active;       // a stream is being received
    uint32_t gen;      // the generation it is staged in (never kv's current one)
    uint64_t sid;      // that generation's storage id
    uint64_t next;     // offset the next chunk must have
    s_reader_t reader; // where the stream is in the record sequence
    bool complete;     // the last chunk came: waiting for zkv_kv_recv_finish
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
        self->reader = (s_reader_t){0};
        self->complete = false;
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
    s_reader_t r = self->reader; // kept only if the whole chunk is
    if (rc == 0)
        rc = s_read_records (kv, &r, data, len, batch, self->sid, NULL);
    if (rc == 0 && !r.header)
        rc = ZKV_ETRUNC; // the first chunk holds the header
    if (rc == 0 && done && r.dedup_left)
        rc = ZKV_ETRUNC; // ends before its announced records
    if (rc == 0 && done)
        // Durably whole (not current yet): should a crash fall between the Raft snapshot's
        // save and zkv_kv_recv_finish, zkv_kv_boot_promote installs it without a new transfer.
        zkv_kvstore_set_applied (kv->store, batch, self->sid, ZKV_KV_STAGED_BIT | r.applied);
    if (rc == 0)
        rc = zkv_kvstore_commit (kv->store, &batch);
    zkv_kvstore_batch_destroy (kv->store, &batch);
    if (rc) {
        self->active = false; // only a new stream from offset 0 goes on
        return rc;
    }
    self->reader = r;
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
    rc = zkv_kv_sessions_load (kv);
    return rc ? rc : zkv_kv_shards_reload (kv);
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
    if (self->reader.applied != index)
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

// ---------------------------------------------------------------------------------------------
// Rejoining with lost data

int
zkv_kv_rejoin (zkv_kvstore_t *store, zkv_logstore_t *log, uint64_t group)
{
    uint64_t row[2];
    int rc;
    if ((rc = zkv_kvstore_load_applied (store, zkv_kv_sid (group, 0), &row[0])) ||
        (rc = zkv_kvstore_load_applied (store, zkv_kv_sid (group, 1), &row[1])))
        return rc;
    zkv_logstore_state_t st;
    if ((rc = zkv_logstore_load (log, group, &st)))
        return rc;
    bool empty = st.hard_state.term == 0 && st.snapshot.index == 0 && st.n_entries == 0;
    zkv_logstore_state_free (&st);
    if (row[0] == ZKV_KV_APPLIED_INCOMPLETE && row[1] == 0 && empty)
        return 0; // marked already (a rejoin that crashed before the snapshot came)
    if (row[0] || row[1] || !empty)
        return ZKV_EINVAL;
    // Generation 0 incomplete, generation 1 empty: zkv_kv_find_current reads "no state".
    zkv_kvbatch_t *b = zkv_kvstore_batch_new (store);
    zkv_kvstore_set_applied (store, b, zkv_kv_sid (group, 0), ZKV_KV_APPLIED_INCOMPLETE);
    if ((rc = zkv_kvstore_commit (store, &b)))
        return rc;
    // Durable before anything else happens: a node that forgot the mark would boot as a member
    // of a new cluster.
    return zkv_logstore_sync (log);
}
