// The simulator's state machine, behind the same interface as the KV service's (zkv_sm.h), so
// that the group driver runs it exactly as zkvd runs its own:
// - a hash chain over the applied entries (the checks of sim_check.c compare it with every
//   other replica's and with the committed history);
// - snapshots as a 16-byte blob (index, chain) in blob mode, or, streaming, a durable live state
//   and staging area with views the leader's transfers read (the stream is 24 header bytes,
//   then filler that depends on every header byte, so a wrong byte anywhere is seen);
// - in KV mode, the KV service itself (zkv_kv_sm.h, over the node's memory kvstore) under the
//   chain: its requests, reads, blob and stream are the real ones.
// Faults it injects (cfg): chunk reads it cannot serve now or whose view was released, views
// released when idle, received chunks refused as malformed.
#include "sim_kv_int.h"
#include "zkv_ctrl_sm.h"
#include "zkv_kv_sm.h"

#include <stdlib.h>
#include <string.h>

#define S_HEADER 24 // a stream begins with its index, hash chain and length (u64 LE each)

typedef struct {
    sim_ctx_t *ctx; // the replica's context (node, group)
    zkv_sm_t *kv;   // KV mode: the KV service's state machine, else NULL
} s_sm_t;

// A reader of a view.
typedef struct {
    sim_view_t *view; // what it reads
    void *inner;      // KV mode: the KV service's reader
} s_reader_t;

static sim_t *
s_sim (s_sm_t *self)
{
    // Every call comes from the replica's driver, called with its group current.
    self->ctx->sim->g = self->ctx->g;
    return self->ctx->sim;
}

static void
s_note (sim_t *self, const char *word, int node, uint64_t a, uint64_t b)
{
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_NOTE, .node = (uint8_t)node, .a = a, .b = b, .word = word});
}

// The application's state at index must be the committed history's.
static void
s_check_state (sim_t *self, int node, const char *what, uint64_t index, uint64_t chain)
{
    self->counters.checks++;
    if (index > G (self)->max_committed || G (self)->commits[index].chain != chain)
        sim_violation (self, "state machine safety",
                       "node %d %s a state at %" PRIu64 " that differs from the committed "
                       "history (%" PRIu64 " committed)",
                       node, what, index, G (self)->max_committed);
}

// --- the stream of a state: header, then filler that depends on every header field ----------

static uint64_t
s_stream_len (sim_t *self, uint64_t chain)
{
    uint64_t pad = self->cfg.stream_pad;
    return S_HEADER + pad + (pad ? chain % pad : 0);
}

static uint8_t
s_stream_byte (uint64_t index, uint64_t chain, uint64_t len, uint64_t i)
{
    if (i < 8)
        return (uint8_t)(index >> (8 * i));
    if (i < 16)
        return (uint8_t)(chain >> (8 * (i - 8)));
    if (i < S_HEADER)
        return (uint8_t)(len >> (8 * (i - 16)));
    return (uint8_t)((chain >> ((i % 8) * 8)) ^ (i * 131) ^ (index * 7) ^ len);
}

// Parses a whole stream: false unless every byte is the one its header implies.
static bool
s_stream_parse (const uint8_t *buf, size_t len, uint64_t *index_p, uint64_t *chain_p)
{
    if (len < S_HEADER)
        return false;
    uint64_t index = sim_get_u64 (buf), chain = sim_get_u64 (buf + 8);
    if (sim_get_u64 (buf + 16) != len)
        return false;
    for (size_t i = S_HEADER; i < len; i++)
        if (buf[i] != s_stream_byte (index, chain, len, i))
            return false;
    *index_p = index;
    *chain_p = chain;
    return true;
}

// --- the staging area --------------------------------------------------------------------------

static void
s_stage_append (sim_stage_t *st, const zkv_raft_chunk_t *c, size_t len)
{
    if (c->offset == 0) {
        st->index = c->snapshot.index;
        st->term = c->snapshot.term;
        st->len = 0;
        st->done = false;
    }
    st->buf = sim_grow (st->buf, &st->cap, st->len + len + 1, 1);
    if (len)
        memcpy (st->buf + st->len, c->data, len);
    st->len += len;
}

static void
s_stage_clear (sim_stage_t *st)
{
    st->index = st->term = 0;
    st->len = 0;
    st->done = false;
}

// A complete staged stream of snapshot (index, term), parsed: its chain. KV mode: the bytes
// are the KV service's (it parses them itself): the chain is the committed history's.
static bool
s_stage_holds (sim_t *self, const sim_stage_t *st, uint64_t index, uint64_t term, uint64_t *chain_p)
{
    uint64_t sindex;
    if (!st->done || st->index != index || st->term != term)
        return false;
    if (self->kv) {
        *chain_p = index && index <= G (self)->max_committed ? G (self)->commits[index].chain : 0;
        return true;
    }
    return s_stream_parse (st->buf, st->len, &sindex, chain_p) && sindex == index;
}

static void
s_pend_drop (sim_app_t *app)
{
    free ((void *)app->pchunk.data);
    app->pchunk = (zkv_raft_chunk_t){0};
    app->pend = false;
}

void
sim_stream_sync (sim_t *self, int node)
{
    sim_app_t *app = &R (self, node)->app;
    if (!app->pend)
        return;
    s_stage_append (&app->stage, &app->pchunk, app->pchunk.len);
    app->stage.done = app->pchunk.done;
    s_pend_drop (app);
}

bool
sim_stream_crash (sim_t *self, int node, bool torn)
{
    sim_app_t *app = &R (self, node)->app;
    app->crash_at_install = false;
    if (!app->pend)
        return true;
    bool whole = false;
    if (torn) {
        // The chunk was written first in its ready: none of it, a prefix, or all of it lands.
        uint64_t roll = zkv_rng_below (&self->rng, 3);
        if (roll == 1)
            s_stage_append (&app->stage, &app->pchunk,
                            (size_t)zkv_rng_below (&self->rng, app->pchunk.len + 1));
        else if (roll == 2) {
            s_stage_append (&app->stage, &app->pchunk, app->pchunk.len);
            app->stage.done = app->pchunk.done;
            whole = true;
        }
    }
    s_pend_drop (app);
    return whole;
}

uint64_t
sim_stream_durable_prefix (sim_t *self, int node, const zkv_logstore_state_t *ls)
{
    const sim_app_t *app = &R (self, node)->app;
    uint64_t chain;
    if ((app->missing || app->live_applied < ls->snapshot.index) &&
        s_stage_holds (self, &app->stage, ls->snapshot.index, ls->snapshot.term, &chain))
        return ls->snapshot.index; // promoted at restart
    if (app->missing || app->live_applied < ls->snapshot.index)
        return 0; // missing, or behind its own snapshot: it boots with need_snapshot
    return app->live_applied;
}

void
sim_stream_check_reply (sim_t *self, int node, const zkv_install_snapshot_reply_t *m)
{
    const sim_app_t *app = &R (self, node)->app;
    self->counters.checks++;
    if (!m->done && m->next_offset > 0 && m->next_offset != UINT64_MAX &&
        (app->stage.index != m->last_index || app->stage.len < m->next_offset))
        sim_violation (self, "durability",
                       "node %d acknowledges %" PRIu64 " bytes of snapshot %" PRIu64
                       " but staged %zu durable bytes of %" PRIu64,
                       node, m->next_offset, m->last_index, app->stage.len, app->stage.index);
    if (!m->done)
        return;
    // Done: the whole stream is durable (staged, or live already), or the node's log holds
    // that state (it committed past it).
    zkv_raft_status_t st;
    zkv_raft_status (sim_rep_raft (self, node), &st);
    uint64_t chain;
    bool staged = app->stage.done && app->stage.index == m->last_index &&
                  s_stage_holds (self, &app->stage, app->stage.index, app->stage.term, &chain);
    if (!staged && (app->missing || app->live_applied < m->last_index) && st.commit < m->last_index)
        sim_violation (self, "durability",
                       "node %d acknowledges all of snapshot %" PRIu64
                       " but holds neither that stream nor that state",
                       node, m->last_index);
}

void
sim_stream_free (sim_t *self, int node)
{
    sim_app_t *app = &R (self, node)->app;
    s_pend_drop (app);
    free (app->stage.buf);
    memset (app, 0, sizeof *app);
}

// --- the interface: state ----------------------------------------------------------------------

static uint64_t
s_applied (void *impl)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    return R (s, self->ctx->node)->applied;
}

// Loads a blob snapshot (index + hash chain, then in KV mode the KV service's blob).
static int
s_load_blob (s_sm_t *self, uint64_t index, const uint8_t *data, size_t len)
{
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *n = R (s, node);
    if (index == 0)
        return 0;
    if (len < 16 || (len != 16 && !self->kv) || sim_get_u64 (data) != index)
        sim_violation (s, "snapshot",
                       "node %d: snapshot at %" PRIu64 " holds %zu bytes of "
                       "data that are not the state machine's",
                       node, index, len);
    uint64_t chain = sim_get_u64 (data + 8);
    sim_check_install (s, node, index, chain);
    if (self->kv) {
        int rc = self->kv->ops->blob_restore (self->kv->impl, index, data + 16, len - 16);
        if (rc != 0)
            sim_violation (s, "snapshot",
                           "node %d: the KV snapshot at %" PRIu64 " (%zu bytes) does not restore: %s",
                           node, index, len, zkv_errname (rc));
        s->kv->counters.kv_restores++;
    }
    n->applied = index;
    n->chain = chain;
    n->base = index;
    n->last_snap = index;
    return 0;
}

// Streaming boot: the live state, or a whole staged stream of the stored snapshot promoted,
// or missing (need_snapshot). KV mode: the KV service decides from its store.
static int
s_boot_stream (s_sm_t *self, const zkv_snapshot_meta_t *snap)
{
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *n = R (s, node);
    sim_app_t *app = &n->app;
    uint64_t idx = snap->index, chain = 0;
    bool no_promote = s->cfg.sabotage == SIM_SABOTAGE_STREAM_NO_PROMOTE;
    if (self->kv) {
        // The KV service decides from its store (zkv_kv_boot_promote); broken on purpose
        // (selftest), it boots on whatever state the store holds.
        uint64_t before = self->kv->ops->applied (self->kv->impl);
        int rc = 1;
        if (!no_promote) {
            rc = self->kv->ops->boot (self->kv->impl, snap, NULL, 0);
            if (rc < 0)
                sim_fail (s, "node %d: the KV service does not boot: %s", node, zkv_errname (rc));
        }
        uint64_t applied = self->kv->ops->applied (self->kv->impl);
        bool promoted = rc == 1 && applied > before && applied == idx;
        if (promoted) {
            s->counters.streams_promoted++;
            s_note (s, "promoted", node, idx, 0);
        }
        app->missing = rc != 1;
        if (promoted || app->missing)
            s_stage_clear (&app->stage);
        if (!app->missing) {
            if (applied > G (s)->max_committed)
                sim_violation (s, "state machine safety",
                               "node %d's kvstore applied through %" PRIu64 " but only %" PRIu64
                               " entries were ever committed",
                               node, applied, G (s)->max_committed);
            app->live_applied = applied;
            app->live_chain = applied ? G (s)->commits[applied].chain : 0;
        }
    } else if ((app->missing || app->live_applied < idx) && !no_promote) {
        // Down between the save of a received snapshot and its install: the staged stream is
        // that snapshot's state (promoted), or the state is behind its snapshot for good.
        if (s_stage_holds (s, &app->stage, idx, snap->term, &chain)) {
            s_check_state (s, node, "promotes", idx, chain);
            app->live_applied = idx;
            app->live_chain = chain;
            app->missing = false;
            s_stage_clear (&app->stage);
            s->counters.streams_promoted++;
            s_note (s, "promoted", node, idx, 0);
        } else if (!app->missing) {
            app->missing = true;
            s_note (s, "state-behind", node, app->live_applied, idx);
        }
    }
    n->last_snap = idx;
    if (app->missing) {
        n->applied = n->chain = n->base = 0;
        s->counters.states_lost++;
        return 0;
    }
    n->applied = n->base = app->live_applied;
    n->chain = app->live_chain;
    if (n->applied)
        s_check_state (s, node, "restarts from", n->applied, n->chain);
    return 1;
}

static int
s_boot (void *impl, const zkv_snapshot_meta_t *snap, const uint8_t *blob, size_t len)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *n = R (s, node);
    n->applied = n->chain = n->base = n->last_snap = 0;
    if (s->cfg.stream)
        return s_boot_stream (self, snap);
    if (self->kv) {
        // The KV service resumes from its store's applied index, or from the Raft snapshot
        // when that is newer (the store lost commits the log no longer holds).
        uint64_t applied = self->kv->ops->applied (self->kv->impl);
        if (snap->index > applied || (applied == 0 && snap->index == 0)) {
            s_load_blob (self, snap->index, blob, len);
            return 1;
        }
        if (applied > G (s)->max_committed)
            sim_violation (s, "state machine safety",
                           "node %d's kvstore applied through %" PRIu64 " but only %" PRIu64
                           " entries were ever committed",
                           node, applied, G (s)->max_committed);
        n->applied = applied;
        n->chain = G (s)->commits[applied].chain;
        n->base = applied;
        n->last_snap = snap->index;
        return 1;
    }
    s_load_blob (self, snap->index, blob, len);
    return 1;
}

// --- requests, applying, reading ---------------------------------------------------------------

static int
s_prepare (void *impl, const zkv_sm_request_t *req, uint8_t **cmd_p, size_t *cmd_len_p,
           zkv_sm_answer_t *answer)
{
    s_sm_t *self = impl;
    if (req->op == SIM_OP_READ)
        return ZKV_SM_READ;
    if (req->op == SIM_OP_RAW) {
        *cmd_p = malloc (req->value_len ? req->value_len : 1);
        if (!*cmd_p)
            abort ();
        if (req->value_len)
            memcpy (*cmd_p, req->value, req->value_len);
        *cmd_len_p = req->value_len;
        return ZKV_SM_PROPOSE;
    }
    if (self->kv)
        return self->kv->ops->prepare (self->kv->impl, req, cmd_p, cmd_len_p, answer);
    answer->status = ZKV_EINVAL;
    answer->error = "not an op of the simulator's state machine";
    return ZKV_SM_ANSWERED;
}

static void
s_apply_entry (sim_t *s, int node, const zkv_entry_t *e)
{
    sim_rep_t *n = R (s, node);
    zkv_entry_t wrong;
    if (s->cfg.sabotage == SIM_SABOTAGE_APPLY_WRONG && node == 0 && e->index % 5 == 0) {
        wrong = *e;
        wrong.data.data = (uint8_t *)"sabotage";
        wrong.data.len = 8;
        e = &wrong;
    }
    sim_check_apply (s, node, e); // in order, agrees with every other node
    uint64_t h = sim_entry_hash (e->type, e->data.data, e->data.len);
    n->hashes = sim_grow (n->hashes, &n->hashes_cap, e->index - n->base, sizeof *n->hashes);
    n->hashes[e->index - n->base - 1] = h;
    n->applied = e->index;
    n->chain = sim_chain_next (n->chain, h);
    if (s->cfg.stream) {
        // Streaming: the state machine is durable on its own, entry by entry.
        n->app.live_applied = n->applied;
        n->app.live_chain = n->chain;
    }
}

static int
s_apply (void *impl, const zkv_entry_t *entries, size_t n, zkv_sm_results_t *results)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *r = R (s, node);
    size_t first = 0;
    while (first < n && entries[first].index <= r->applied)
        first++; // already applied (a redelivery after a Raft restart)
    if (first == n)
        return 0;
    for (size_t i = first; i < n; i++)
        s_apply_entry (s, node, &entries[i]);
    if (self->kv) {
        int rc = self->kv->ops->apply (self->kv->impl, entries + first, n - first, results);
        if (rc != 0)
            sim_fail (s, "node %d: the KV service's apply failed: %s", node, zkv_errname (rc));
        uint64_t kv_applied = self->kv->ops->applied (self->kv->impl);
        if (kv_applied != r->applied)
            sim_violation (s, "state machine safety",
                           "node %d: the KV state machine applied through %" PRIu64
                           " but Raft handed out %" PRIu64,
                           node, kv_applied, r->applied);
    }
    sim_trace (s, &(sim_trace_rec_t){.kind = SIM_T_APPLY,
                                     .node = (uint8_t)node,
                                     .a = entries[first].index,
                                     .b = entries[n - 1].index});
    return 0;
}

static int
s_read (void *impl, const zkv_sm_request_t *req, zkv_sm_answer_t *answer)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    if (req->op == SIM_OP_READ) {
        // The state as applied now: (applied index, chain), checked by the asker.
        sim_rep_t *n = R (s, self->ctx->node);
        uint8_t v[16];
        sim_put_u64 (v, n->applied);
        sim_put_u64 (v + 8, n->chain);
        zkv_bytes_set (&answer->value, v, sizeof v);
        answer->found = true;
        return 0;
    }
    return self->kv->ops->read (self->kv->impl, req, answer);
}

// --- blob snapshots ----------------------------------------------------------------------------

static int
s_blob_write (void *impl, uint8_t **buf_p, size_t *len_p)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    sim_rep_t *n = R (s, self->ctx->node);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    if (self->kv) {
        int rc = self->kv->ops->blob_write (self->kv->impl, &blob, &blob_len);
        if (rc != 0)
            sim_fail (s, "node %d: the KV service's snapshot failed: %s", self->ctx->node,
                      zkv_errname (rc));
        s->kv->counters.kv_snapshots++;
    }
    uint8_t *buf = malloc (16 + blob_len);
    if (!buf)
        abort ();
    sim_put_u64 (buf, n->applied);
    sim_put_u64 (buf + 8, n->chain);
    if (blob_len)
        memcpy (buf + 16, blob, blob_len);
    free (blob);
    *buf_p = buf;
    *len_p = 16 + blob_len;
    n->last_snap = n->applied;
    return 0;
}

static int
s_blob_restore (void *impl, uint64_t index, const uint8_t *buf, size_t len)
{
    return s_load_blob (impl, index, buf, len);
}

// --- streamed snapshots: sending ---------------------------------------------------------------

static void *
s_view_open (void *impl, int *err)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *n = R (s, node);
    *err = 0;
    if (n->app.missing) {
        *err = ZKV_EUNAVAILABLE;
        return NULL;
    }
    s_check_state (s, node, "snapshots", n->applied, n->chain);
    sim_view_t *v = calloc (1, sizeof *v);
    if (!v)
        abort ();
    *v = (sim_view_t){.index = n->applied, .chain = n->chain, .used = s->now};
    if (self->kv) {
        v->inner = self->kv->ops->view_open (self->kv->impl, err);
        if (!v->inner)
            sim_violation (s, "snapshot stream", "node %d: the KV service gave no view: %s", node,
                           zkv_errname (*err));
    }
    n->last_snap = n->applied;
    return v;
}

static void
s_view_close (void *impl, void *view)
{
    s_sm_t *self = impl;
    sim_view_t *v = view;
    if (!v)
        return;
    if (self->kv && v->inner)
        self->kv->ops->view_close (self->kv->impl, v->inner);
    free (v);
}

static void *
s_reader_open (void *impl, void *view, int *err)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    sim_view_t *v = view;
    *err = 0;
    s_reader_t *r = calloc (1, sizeof *r);
    if (!r)
        abort ();
    r->view = v;
    if (self->kv) {
        r->inner = self->kv->ops->reader_open (self->kv->impl, v->inner, err);
        if (!r->inner)
            sim_violation (s, "snapshot stream", "node %d: the KV service gave no reader: %s",
                           self->ctx->node, zkv_errname (*err));
    }
    return r;
}

static void
s_reader_close (void *impl, void *reader)
{
    s_sm_t *self = impl;
    s_reader_t *r = reader;
    if (self->kv && r->inner)
        self->kv->ops->reader_close (self->kv->impl, r->inner);
    free (r);
}

static int
s_reader_read (void *impl, void *reader, uint64_t offset, size_t max, uint8_t **buf_p,
               size_t *len_p, bool *done_p)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    s_reader_t *r = reader;
    sim_view_t *v = r->view;
    s->counters.chunk_reqs++;
    if (s->cfg.req_drop_pm && zkv_rng_chance (&s->rng, s->cfg.req_drop_pm, 1000)) {
        s_note (s, "req-busy", node, v->index, offset);
        return ZKV_EBUSY; // not now: Raft asks again
    }
    if (s->cfg.view_idle_us && v->used + s->cfg.view_idle_us < s->now)
        v->dead = true; // released as idle
    if (!v->dead && s->cfg.view_loss_pm && zkv_rng_chance (&s->rng, s->cfg.view_loss_pm, 1000))
        v->dead = true; // released under us (an idle transfer's view, a store reopened)
    if (v->dead) {
        s->counters.views_unavailable++;
        s_note (s, "view-lost", node, v->index, offset);
        return ZKV_EUNAVAILABLE;
    }
    v->used = s->now;
    if (self->kv) {
        int rc = self->kv->ops->reader_read (self->kv->impl, r->inner, offset, max, buf_p, len_p,
                                             done_p);
        if (rc != 0)
            sim_violation (s, "snapshot stream",
                           "node %d: reading offset %" PRIu64 " of its stream of %" PRIu64 ": %s",
                           node, offset, v->index, zkv_errname (rc));
        s->counters.chunks_read++;
        return 0;
    }
    uint64_t total = s_stream_len (s, v->chain);
    if (offset > total)
        sim_violation (s, "snapshot stream",
                       "node %d is asked for offset %" PRIu64 " of a %" PRIu64 "-byte stream", node,
                       offset, total);
    uint64_t len = total - offset;
    if (len > max)
        len = max;
    uint8_t *buf = malloc ((size_t)len + 1);
    if (!buf)
        abort ();
    for (uint64_t i = 0; i < len; i++)
        buf[i] = s_stream_byte (v->index, v->chain, total, offset + i);
    *buf_p = buf;
    *len_p = (size_t)len;
    *done_p = offset + len == total;
    s->counters.chunks_read++;
    return 0;
}

// --- streamed snapshots: receiving ---------------------------------------------------------------

static int
s_recv_chunk (void *impl, const zkv_snapshot_meta_t *snap, uint64_t offset, const uint8_t *data,
              size_t len, bool done)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_app_t *app = &R (s, node)->app;
    const sim_stage_t *st = &app->stage;
    if (app->pend)
        sim_fail (s, "node %d: a chunk written while another is unsynced", node);
    if (s->cfg.chunk_reject_pm && !s->chunks_calm &&
        zkv_rng_chance (&s->rng, s->cfg.chunk_reject_pm, 1000)) {
        // Refused as malformed (a peer's bad bytes): nothing staged. The KV service is shown
        // bytes it cannot parse, so that its own receiver drops its stream as it would.
        s->counters.chunks_rejected++;
        s_note (s, "chunk-refused", node, snap->index, offset);
        if (self->kv) {
            static const uint8_t bad[] = {0xc1, 0xc1};
            int rc = self->kv->ops->recv_chunk (self->kv->impl, snap, offset, bad, sizeof bad, done);
            if (rc == 0)
                sim_violation (s, "snapshot stream",
                               "node %d: the KV service staged a malformed chunk", node);
        }
        return ZKV_EPROTO;
    }
    // A chunk at offset 0 starts a stream; any other continues the staged one exactly.
    if (offset != 0 && (st->index != snap->index || st->term != snap->term || st->done ||
                        offset != st->len))
        sim_violation (s, "snapshot stream",
                       "node %d is handed the chunk at %" PRIu64 " of snapshot %" PRIu64 "/%" PRIu64
                       " but staged %zu bytes of %" PRIu64 "/%" PRIu64 "%s",
                       node, offset, snap->index, snap->term, st->len, st->index, st->term,
                       st->done ? " (complete)" : "");
    if (len == 0 && !done)
        sim_violation (s, "snapshot stream", "node %d is handed an empty chunk", node);
    app->pchunk = (zkv_raft_chunk_t){.snapshot = *snap, .offset = offset, .len = len, .done = done};
    if (len) {
        uint8_t *copy = malloc (len);
        if (!copy)
            abort ();
        memcpy (copy, data, len);
        app->pchunk.data = copy;
    }
    app->pend = true;
    if (self->kv) {
        // The KV service writes the chunk in a store batch of its own, which a crash keeps.
        int rc = self->kv->ops->recv_chunk (self->kv->impl, snap, offset, data, len, done);
        if (rc != 0)
            sim_violation (s, "snapshot stream",
                           "node %d: the KV service refused the chunk at %" PRIu64 " of %" PRIu64
                           " (%zu bytes): %s",
                           node, offset, snap->index, len, zkv_errname (rc));
        sim_stream_sync (s, node);
    }
    app->chunks++;
    app->chunk_at = s->now;
    s->counters.chunks_written++;
    if (offset == 0)
        s->counters.streams_started++;
    s_note (s, done ? "chunk-last" : "chunk", node, snap->index, offset);
    return 0;
}

static int
s_recv_finish (void *impl, const zkv_snapshot_meta_t *snap)
{
    s_sm_t *self = impl;
    sim_t *s = s_sim (self);
    int node = self->ctx->node;
    sim_rep_t *n = R (s, node);
    sim_app_t *app = &n->app;
    uint64_t chain = 0;
    if (self->kv) {
        int rc = self->kv->ops->recv_finish (self->kv->impl, snap);
        if (rc != 0 || self->kv->ops->applied (self->kv->impl) != snap->index)
            sim_violation (s, "snapshot stream",
                           "node %d: installing the stream of %" PRIu64 " failed (%s) or is at "
                           "applied %" PRIu64,
                           node, snap->index, zkv_errname (rc),
                           self->kv->ops->applied (self->kv->impl));
        s->kv->counters.kv_restores++;
    }
    if (!s_stage_holds (s, &app->stage, snap->index, snap->term, &chain))
        sim_violation (s, "snapshot stream",
                       "node %d installs snapshot %" PRIu64 "/%" PRIu64
                       " but staged %zu bytes of %" PRIu64 "/%" PRIu64 " (%s)",
                       node, snap->index, snap->term, app->stage.len, app->stage.index,
                       app->stage.term, app->stage.done ? "complete" : "incomplete");
    sim_check_install (s, node, snap->index, chain);
    // The staged state becomes the live state, atomically.
    app->live_applied = snap->index;
    app->live_chain = chain;
    app->missing = false;
    s_stage_clear (&app->stage);
    n->applied = n->base = n->last_snap = snap->index;
    n->chain = chain;
    return 0;
}

static uint64_t
s_size (void *impl)
{
    s_sm_t *self = impl;
    return self->kv && self->kv->ops->size ? self->kv->ops->size (self->kv->impl) : 0;
}

static uint64_t
s_log_ms (void *impl)
{
    s_sm_t *self = impl;
    return self->kv && self->kv->ops->log_ms ? self->kv->ops->log_ms (self->kv->impl) : 0;
}

static void
s_destroy (void *impl)
{
    s_sm_t *self = impl;
    zkv_sm_destroy (&self->kv);
    free (self);
}

// The state machine's own work (a shard group's mover), passed through.
static void
s_work (void *impl, const zkv_sm_io_t *io, bool leading, uint64_t term, bool tick)
{
    s_sm_t *self = impl;
    if (self->kv && self->kv->ops->work) {
        s_sim (self);
        self->kv->ops->work (self->kv->impl, io, leading, term, tick);
    }
}

static void
s_call_reply (void *impl, const zkv_sm_io_t *io, uint64_t id, int status, const zkv_bytes_t *value)
{
    s_sm_t *self = impl;
    if (self->kv && self->kv->ops->call_reply)
        self->kv->ops->call_reply (self->kv->impl, io, id, status, value);
}

static const uint8_t *
s_shard_states (void *impl, uint64_t *config, size_t *n)
{
    s_sm_t *self = impl;
    *config = 0;
    *n = 0;
    if (self->kv && self->kv->ops->shard_states)
        return self->kv->ops->shard_states (self->kv->impl, config, n);
    return NULL;
}

static const zkv_sm_ops_t s_ops = {
    .name = "sim",
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

// The session policy the world's replicas stamp (sim_config_t), over zkv_kv's defaults.
static void
s_kv_limits (const sim_t *self, zkv_kv_limits_t *limits)
{
    zkv_kv_limits_defaults (limits);
    if (self->cfg.session_ttl_ms)
        limits->session_ttl_ms = self->cfg.session_ttl_ms;
    if (self->cfg.max_sessions)
        limits->max_sessions = self->cfg.max_sessions;
}

void
sim_sm_sessions_add (zkv_sm_t *sm, sim_counters_t *c)
{
    zkv_sm_t *inner = sim_sm_inner (sm);
    if (!inner || strcmp (inner->ops->name, "kv") != 0)
        return; // the controller's sessions are its own (rare: its clerk's commands)
    zkv_kv_session_stats_t st;
    zkv_kv_session_stats (zkv_kv_sm_kv (inner), &st);
    c->sessions_expired += st.expired;
    c->sessions_capped += st.capped;
    c->sessions_refused += st.refused;
    c->sessions_busy += st.busy;
}

zkv_sm_t *
sim_sm_new (sim_t *self, int node, int g)
{
    s_sm_t *sm = calloc (1, sizeof *sm);
    if (!sm)
        abort ();
    sm->ctx = &self->nodes[node].reps[g].ctx;
    if (self->kv && self->cfg.shards) {
        // The controller on group 0, shard groups that follow it on the others.
        int err = 0;
        if (g == 0)
            sm->kv = zkv_ctrl_sm_new (self->nodes[node].kvstore, 0, self->routing, &err);
        else {
            zkv_kv_limits_t limits;
            s_kv_limits (self, &limits);
            zkv_mover_config_t mc;
            zkv_mover_config_defaults (&mc);
            mc.poll_ticks = 10;
            mc.retry_ticks = 100;
            mc.call_deadline_ms = 1000;
            mc.chunk_bytes = self->cfg.shard_chunk_bytes ? self->cfg.shard_chunk_bytes : 512;
            mc.rate_per_tick = self->cfg.shard_rate_per_tick;
            sm->kv = zkv_kv_sm_new_sharded (self->nodes[node].kvstore, SIM_GROUP_ID (self, g),
                                            self->routing->nshards, &limits, &mc, &err);
        }
        if (!sm->kv)
            sim_violation (self, "durability", "node %d group %d: its state machine refused its kvstore: %s",
                           node, g, zkv_errname (err));
    } else if (self->kv) {
        zkv_kv_limits_t limits;
        s_kv_limits (self, &limits);
        bool owned[SIM_KV_MAX_SHARDS];
        zkv_routing_owned (self->routing, SIM_GROUP_ID (self, g), owned);
        int err = 0;
        sm->kv = zkv_kv_sm_new (self->nodes[node].kvstore, SIM_GROUP_ID (self, g),
                                self->routing->nshards, &limits, owned, &err);
        if (!sm->kv)
            sim_violation (self, "durability", "node %d: the KV service refused its kvstore: %s",
                           node, zkv_errname (err));
    }
    return zkv_sm_new (&s_ops, sm);
}

zkv_sm_t *
sim_sm_inner (zkv_sm_t *sm)
{
    return sm && sm->ops == &s_ops ? ((s_sm_t *)sm->impl)->kv : NULL;
}
