// The KV service behind the state-machine interface: requests are checked against the limits
// and the shards served here, writes become kv_command entries, reads are zkv_kv_get, and
// snapshots are zkv_kv's blob or its stream over a point-in-time view of the store.
#include "zkv_kv_sm.h"
#include "zkv_kv_shards.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zkv_kvstore_t *store;   // the group's store (not owned)
    zkv_kv_t *kv;           // the state machine
    zkv_kv_limits_t limits; // its limits
    zkv_kv_recv_t *recv;    // the stream being received (NULL: none yet)
    zkv_mover_t *mover;     // a shard group's mover (NULL: follows no configuration)
    uint8_t *states;        // scratch: one zkv_shard_state_t per shard, for shard_states
} s_kvsm_t;

// A pull's chunk is at most this big, whatever the puller asks (its entry must fit the log).
#define S_MAX_CHUNK_BYTES (8u * 1024 * 1024)

// A view: the store as of one applied index.
typedef struct {
    zkv_kvstore_t *store; // zkv_kvstore_view of the group's store
} s_view_t;

static s_kvsm_t *
s_self (void *impl)
{
    return (s_kvsm_t *)impl;
}

static uint64_t
s_applied (void *impl)
{
    zkv_kv_t *kv = s_self (impl)->kv;
    return zkv_kv_incomplete (kv) ? 0 : zkv_kv_applied (kv);
}

static int
s_boot (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len)
{
    zkv_kv_t *kv = s_self (impl)->kv;
    // A streamed snapshot whose metadata was saved but not installed (a crash in between) is
    // staged whole: install it now. Staged leftovers of any other go.
    int rc = zkv_kv_boot_promote (kv, snap->index);
    if (rc < 0)
        return rc;
    if (zkv_kv_incomplete (kv))
        return 0; // an install interrupted under an older zkv: no state at all
    if (snap->index <= zkv_kv_applied (kv))
        return 1;
    // Behind the Raft snapshot (a machine crash lost commits the log was compacted past): a
    // blob restores; a streamed snapshot must come again from the leader.
    if (!len)
        return 0;
    rc = zkv_kv_snapshot_restore (kv, blob, len);
    if (rc < 0)
        return rc;
    return zkv_kv_applied (kv) == snap->index ? 1 : ZKV_ECORRUPT;
}

static void
s_answer_error (zkv_sm_answer_t *answer, int rc, const char *error)
{
    answer->status = rc;
    answer->error = error ? error : zkv_strerror (rc);
}

// Another group's pull or question about a shard (a shard group only), answered from the
// applied state: a handed-off shard is frozen, so every replica holds the same bytes of it.
static int
s_shard_call (s_kvsm_t *self, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    zkv_msg_t m;
    int rc = ZKV_EINVAL;
    if (self->mover && zkv_msg_decode (req->key, req->key_len, &m) == 0) {
        if (req->op == ZKV_OP_PULL && m.type == ZKV_MSG_SHARD_PULL) {
            size_t max = m.u.shard_pull.max_bytes;
            rc = zkv_kv_shards_pull (self->kv, &m.u.shard_pull,
                                     max < S_MAX_CHUNK_BYTES ? max : S_MAX_CHUNK_BYTES,
                                     &answer->value);
        } else if (req->op == ZKV_OP_HAVE && m.type == ZKV_MSG_SHARD_REF &&
                   m.u.shard_ref.shard < zkv_kv_nshards (self->kv))
            rc = zkv_kv_shards_have (self->kv, m.u.shard_ref.num, (uint32_t)m.u.shard_ref.shard);
        zkv_msg_free (&m);
    }
    if (zkv_sm_store_error (rc))
        return rc;
    if (rc)
        s_answer_error (answer, rc, rc == ZKV_EINVAL ? "not a shard request of this group" : NULL);
    return ZKV_SM_ANSWERED;
}

static int
s_prepare (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
           zkv_sm_answer_t *answer)
{
    s_kvsm_t *self = s_self (impl);
    if (req->op == ZKV_OP_PULL || req->op == ZKV_OP_HAVE)
        return s_shard_call (self, req, answer);
    zkv_kv_cond_t cond = {.cond = req->cond,
                          .expect = req->expect,
                          .expect_len = req->expect_len,
                          .expect_rev = req->expect_rev};
    int rc = zkv_kv_check (&self->limits, req->op, req->key_len,
                           req->op == ZKV_OP_GET ? 0 : req->value_len);
    if (rc == 0 && (req->op == ZKV_OP_GET || req->op == ZKV_OP_DELETE) && req->value_len)
        rc = ZKV_EINVAL;
    bool bad_cond = rc == 0 && (rc = zkv_kv_cond_check (&self->limits, req->op, &cond)) != 0;
    if (rc == 0)
        rc = zkv_kv_check_shard (self->kv, req->key, req->key_len);
    if (rc) {
        s_answer_error (answer, rc,
                        rc == ZKV_ETOOBIG                ? (req->key_len > self->limits.max_key_bytes
                                                                ? "key too large"
                                                                : "value too large")
                        : rc == ZKV_EWRONGGROUP          ? NULL
                        : req->key_len == 0              ? "empty key"
                        : bad_cond                       ? "invalid condition"
                        : req->op == ZKV_OP_GET          ? "a get carries no value"
                        : req->op == ZKV_OP_DELETE       ? "a delete carries no value"
                                                         : "unknown op");
        return ZKV_SM_ANSWERED;
    }
    if (req->op == ZKV_OP_GET)
        return ZKV_SM_READ;
    // A retry of something applied is answered from the dedup table at once, and so is a
    // request whose session may have expired.
    zkv_kv_result_t res;
    if (zkv_kv_lookup (self->kv, req->client_id, req->seq, req->session_t0, req->key,
                       req->key_len, &res) == 1) {
        answer->status = res.status;
        answer->error = res.error;
        answer->value = res.value; // takes the bytes
        answer->revision = res.revision;
        return ZKV_SM_ANSWERED;
    }
    rc = zkv_kv_command_encode_cond (self->kv, req->client_id, req->seq, req->op, req->key,
                                     req->key_len, req->value, req->value_len, &cond,
                                     req->session_t0, req->now_ms, cmd_p, cmd_len_p);
    if (rc) {
        s_answer_error (answer, rc, NULL);
        return ZKV_SM_ANSWERED;
    }
    return ZKV_SM_PROPOSE;
}

static int
s_apply (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results)
{
    s_kvsm_t *self = s_self (impl);
    zkv_kv_results_t kr = {0};
    int rc = zkv_kv_apply (self->kv, entries, n, &kr);
    if (rc)
        return rc;
    for (size_t i = 0; i < kr.count; i++) {
        zkv_kv_result_t *k = &kr.items[i];
        zkv_sm_result_t *r = zkv_sm_results_push (results);
        r->index = k->index;
        r->has_client = k->has_client;
        r->client_id = k->client_id;
        r->seq = k->seq;
        r->answer.status = k->status;
        r->answer.error = k->error;
        r->answer.value = k->value; // takes the bytes
        r->answer.revision = k->revision;
        k->value = (zkv_bytes_t){0};
    }
    zkv_kv_results_free (&kr);
    return 0;
}

static int
s_read (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    s_kvsm_t *self = s_self (impl);
    int rc = zkv_kv_get_rev (self->kv, req->key, req->key_len, &answer->value, &answer->revision);
    if (rc == ZKV_ENOTFOUND) {
        s_answer_error (answer, rc, "not found: no such key");
        return 0;
    }
    if (rc == 0)
        answer->found = true;
    else if (zkv_sm_store_error (rc))
        return rc;
    else
        s_answer_error (answer, rc, NULL);
    return 0;
}

static int
s_blob_write (void *impl, uint8_t **buf_p, size_t *len_p)
{
    return zkv_kv_snapshot_write (s_self (impl)->kv, buf_p, len_p);
}

static int
s_blob_restore (void *impl, uint64_t index, const uint8_t *buf, size_t len)
{
    zkv_kv_t *kv = s_self (impl)->kv;
    int rc = zkv_kv_snapshot_restore (kv, buf, len);
    if (rc == 0 && zkv_kv_applied (kv) != index)
        rc = ZKV_ECORRUPT; // the leader sent another state than its snapshot's
    return rc;
}

static void *
s_view_open (void *impl, int *err)
{
    s_kvsm_t *self = s_self (impl);
    *err = 0;
    if (zkv_kv_incomplete (self->kv)) {
        *err = ZKV_EUNAVAILABLE;
        return NULL;
    }
    zkv_kvstore_t *store = zkv_kvstore_view (self->store);
    if (!store) {
        *err = ZKV_EUNAVAILABLE;
        return NULL;
    }
    s_view_t *view = (s_view_t *)calloc (1, sizeof *view);
    if (!view)
        abort (); // out of memory aborts (STYLE.md)
    view->store = store;
    return view;
}

static void
s_view_close (void *impl, void *view)
{
    (void)impl;
    s_view_t *v = (s_view_t *)view;
    if (!v)
        return;
    zkv_kvstore_destroy (&v->store);
    free (v);
}

static void *
s_reader_open (void *impl, void *view, int *err)
{
    s_kvsm_t *self = s_self (impl);
    *err = 0;
    return zkv_kv_stream_new (((s_view_t *)view)->store, zkv_kv_group (self->kv),
                              zkv_kv_nshards (self->kv), err);
}

static int
s_reader_read (void *impl, void *reader, uint64_t offset, size_t max, uint8_t **buf_p,
               size_t *len_p, bool *done_p)
{
    (void)impl;
    return zkv_kv_stream_read ((zkv_kv_stream_t *)reader, offset, max, buf_p, len_p, done_p);
}

static void
s_reader_close (void *impl, void *reader)
{
    (void)impl;
    zkv_kv_stream_t *w = (zkv_kv_stream_t *)reader;
    zkv_kv_stream_destroy (&w);
}

static int
s_recv_chunk (void *impl, const zkv_snapshot_meta_t *snap, uint64_t offset, const uint8_t *data,
              size_t len, bool done)
{
    (void)snap; // the stream's own header names its index, checked at the finish
    s_kvsm_t *self = s_self (impl);
    if (!self->recv)
        self->recv = zkv_kv_recv_new (self->kv);
    return zkv_kv_recv_chunk (self->recv, offset, data, len, done);
}

static int
s_recv_finish (void *impl, const zkv_snapshot_meta_t *snap)
{
    s_kvsm_t *self = s_self (impl);
    if (!self->recv)
        return ZKV_EINVAL; // no stream received since the start
    return zkv_kv_recv_finish (self->recv, snap->index);
}

static uint64_t
s_size (void *impl)
{
    return zkv_kv_size (s_self (impl)->kv);
}

static uint64_t
s_log_ms (void *impl)
{
    return zkv_kv_log_ms (s_self (impl)->kv);
}

static void
s_work (void *impl, const zkv_sm_io_t *io, bool leading, uint64_t term, bool tick)
{
    s_kvsm_t *self = s_self (impl);
    if (self->mover)
        zkv_mover_work (self->mover, io, leading, term, tick);
}

static void
s_call_reply (void *impl, const zkv_sm_io_t *io, uint64_t id, int status, const zkv_bytes_t *value)
{
    s_kvsm_t *self = s_self (impl);
    if (self->mover)
        zkv_mover_reply (self->mover, io, id, status, value);
}

static const uint8_t *
s_shard_states (void *impl, uint64_t *config, size_t *n)
{
    s_kvsm_t *self = s_self (impl);
    *config = 0;
    *n = 0;
    if (!self->mover)
        return NULL;
    uint32_t nshards = zkv_kv_nshards (self->kv);
    for (uint32_t s = 0; s < nshards; s++)
        self->states[s] = (uint8_t)zkv_kv_shards_meta (self->kv, s)->state;
    *config = zkv_kv_shards_config (self->kv)->num;
    *n = nshards;
    return self->states;
}

static void
s_destroy (void *impl)
{
    s_kvsm_t *self = s_self (impl);
    zkv_mover_destroy (&self->mover);
    free (self->states);
    zkv_kv_recv_destroy (&self->recv);
    zkv_kv_destroy (&self->kv);
    free (self);
}

static const zkv_sm_ops_t s_ops = {
    .name = "kv",
    .applied = s_applied,
    .boot = s_boot,
    .prepare = s_prepare,
    .apply = s_apply,
    .read = s_read,
    .blob_write = s_blob_write,
    .blob_restore = s_blob_restore,
    .view_open = s_view_open,
    .view_close = s_view_close,
    .reader_open = s_reader_open,
    .reader_read = s_reader_read,
    .reader_close = s_reader_close,
    .recv_chunk = s_recv_chunk,
    .recv_finish = s_recv_finish,
    .size = s_size,
    .log_ms = s_log_ms,
    .destroy = s_destroy,
    .work = s_work,
    .call_reply = s_call_reply,
    .shard_states = s_shard_states,
};

zkv_sm_t *
zkv_kv_sm_new (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
               const zkv_kv_limits_t *limits, const bool *owned, int *err)
{
    int rc = 0;
    zkv_kv_t *kv = zkv_kv_new (store, group, nshards, limits, &rc);
    if (!kv) {
        if (err)
            *err = rc;
        return NULL;
    }
    zkv_kv_set_owned (kv, owned);
    s_kvsm_t *self = (s_kvsm_t *)calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->store = store;
    self->kv = kv;
    self->limits = *limits;
    if (err)
        *err = 0;
    return zkv_sm_new (&s_ops, self);
}

zkv_sm_t *
zkv_kv_sm_new_sharded (zkv_kvstore_t *store, uint64_t group, uint32_t nshards,
                       const zkv_kv_limits_t *limits, const zkv_mover_config_t *mover, int *err)
{
    zkv_sm_t *sm = zkv_kv_sm_new (store, group, nshards, limits, NULL, err);
    if (!sm)
        return NULL;
    s_kvsm_t *self = s_self (sm->impl);
    int rc = zkv_kv_shards_enable (self->kv);
    if (rc) {
        if (err)
            *err = rc;
        zkv_sm_destroy (&sm);
        return NULL;
    }
    self->mover = zkv_mover_new (mover, self->kv);
    self->states = (uint8_t *)calloc (nshards, 1);
    if (!self->states)
        abort ();
    return sm;
}

zkv_mover_t *
zkv_kv_sm_mover (zkv_sm_t *sm)
{
    assert (sm && sm->ops == &s_ops);
    return s_self (sm->impl)->mover;
}

zkv_kv_t *
zkv_kv_sm_kv (zkv_sm_t *sm)
{
    assert (sm && sm->ops == &s_ops);
    return s_self (sm->impl)->kv;
}
