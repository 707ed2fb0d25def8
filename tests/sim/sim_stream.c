// The streaming application of each node (cfg.stream): a durable live state, a durable staging
// area that received chunks are written to, volatile views the leader reads chunks from, and
// the restart rules (promote a staged stream, or boot with need_snapshot) of cluster/zkv_raft.h.
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define S_HEADER 24 // a stream begins with its index, hash chain and length (u64 LE each)

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
    if (index > self->max_committed || self->commits[index].chain != chain)
        sim_violation (self, "state machine safety",
                       "node %d %s a state at %" PRIu64 " that differs from the committed "
                       "history (%" PRIu64 " committed)",
                       node, what, index, self->max_committed);
}

static void s_views_clear (sim_t *self, sim_app_t *app);

// --- receiving: the staging area ---------------------------------------------------------------

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
    memcpy (st->buf + st->len, c->data, len);
    st->len += len;
}

// A complete staged stream of snapshot (index, term), parsed: its chain. KV mode: the bytes
// are zkv_kv's (it parses them itself): the chain is the committed history's.
static bool
s_stage_holds (sim_t *self, const sim_stage_t *st, uint64_t index, uint64_t term, uint64_t *chain_p)
{
    uint64_t sindex;
    if (!st->done || st->index != index || st->term != term)
        return false;
    if (self->kv) {
        *chain_p = index && index <= self->max_committed ? self->commits[index].chain : 0;
        return true;
    }
    return s_stream_parse (st->buf, st->len, &sindex, chain_p) && sindex == index;
}

void
sim_stream_write (sim_t *self, int node, const zkv_raft_chunk_t *c)
{
    sim_app_t *app = &self->nodes[node].app;
    const sim_stage_t *st = &app->stage;
    if (!self->cfg.stream)
        sim_violation (self, "snapshot stream", "node %d is handed a chunk in blob mode", node);
    if (app->pend)
        sim_fail (self, "node %d: a chunk written while another is unsynced", node);
    // A chunk at offset 0 starts a stream; any other continues the staged one exactly.
    if (c->offset != 0 && (st->index != c->snapshot.index || st->term != c->snapshot.term ||
                           st->done || c->offset != st->len))
        sim_violation (self, "snapshot stream",
                       "node %d is handed the chunk at %" PRIu64 " of snapshot %" PRIu64 "/%" PRIu64
                       " but staged %zu bytes of %" PRIu64 "/%" PRIu64 "%s",
                       node, c->offset, c->snapshot.index, c->snapshot.term, st->len, st->index,
                       st->term, st->done ? " (complete)" : "");
    if (c->len == 0 && !c->done)
        sim_violation (self, "snapshot stream", "node %d is handed an empty chunk", node);
    app->pchunk = *c;
    app->pchunk.data = NULL;
    if (c->len) {
        uint8_t *copy = malloc (c->len);
        if (!copy)
            abort ();
        memcpy (copy, c->data, c->len);
        app->pchunk.data = copy;
    }
    app->pend = true;
    if (self->kv) {
        // The KV service writes the chunk in a store batch of its own, which a crash keeps.
        sim_kvs_chunk (self, node, c);
        sim_stream_sync (self, node);
    }
    app->chunks++;
    app->chunk_at = self->now;
    self->counters.chunks_written++;
    if (c->offset == 0)
        self->counters.streams_started++;
    s_note (self, c->done ? "chunk-last" : "chunk", node, c->snapshot.index, c->offset);
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
    sim_app_t *app = &self->nodes[node].app;
    if (!app->pend)
        return;
    s_stage_append (&app->stage, &app->pchunk, app->pchunk.len);
    app->stage.done = app->pchunk.done;
    s_pend_drop (app);
}

bool
sim_stream_crash (sim_t *self, int node, bool torn)
{
    sim_app_t *app = &self->nodes[node].app;
    app->n_slow = 0;
    s_views_clear (self, app);
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
sim_stream_install (sim_t *self, int node, const zkv_snapshot_meta_t *snap)
{
    sim_app_t *app = &self->nodes[node].app;
    uint64_t chain = 0;
    if (self->kv)
        sim_kvs_finish (self, node, snap->index);
    if (!s_stage_holds (self, &app->stage, snap->index, snap->term, &chain))
        sim_violation (self, "snapshot stream",
                       "node %d installs snapshot %" PRIu64 "/%" PRIu64
                       " but staged %zu bytes of %" PRIu64 "/%" PRIu64 " (%s)",
                       node, snap->index, snap->term, app->stage.len, app->stage.index,
                       app->stage.term, app->stage.done ? "complete" : "incomplete");
    // The staged state becomes the live state, atomically.
    app->live_applied = snap->index;
    app->live_chain = chain;
    app->missing = false;
    app->stage.index = app->stage.term = 0;
    app->stage.len = 0;
    app->stage.done = false;
    return chain;
}

uint64_t
sim_stream_durable_prefix (sim_t *self, int node, const zkv_logstore_state_t *ls)
{
    const sim_app_t *app = &self->nodes[node].app;
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
    sim_node_t *n = &self->nodes[node];
    const sim_app_t *app = &n->app;
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
    zkv_raft_status (n->raft, &st);
    uint64_t chain;
    bool staged = app->stage.done && app->stage.index == m->last_index &&
                  s_stage_holds (self, &app->stage, app->stage.index, app->stage.term, &chain);
    if (!staged && (app->missing || app->live_applied < m->last_index) && st.commit < m->last_index)
        sim_violation (self, "durability",
                       "node %d acknowledges all of snapshot %" PRIu64
                       " but holds neither that stream nor that state",
                       node, m->last_index);
}

// --- views -------------------------------------------------------------------------------------

static void
s_view_drop (sim_t *self, sim_view_t *v)
{
    if (self->kv)
        sim_kvs_view_close (v);
    *v = (sim_view_t){0};
}

static void
s_views_clear (sim_t *self, sim_app_t *app)
{
    for (int i = 0; i < SIM_VIEWS; i++)
        s_view_drop (self, &app->views[i]);
}

static sim_view_t *
s_view_find (sim_t *self, sim_app_t *app, uint64_t index, uint64_t term)
{
    for (int i = 0; i < SIM_VIEWS; i++) {
        sim_view_t *v = &app->views[i];
        if (v->index && self->cfg.view_idle_us && v->used + self->cfg.view_idle_us < self->now)
            s_view_drop (self, v); // released as idle
        if (v->index && v->index == index && v->term == term)
            return v;
    }
    return NULL;
}

static sim_view_t *
s_view_add (sim_t *self, int node, uint64_t index, uint64_t term, uint64_t chain)
{
    sim_app_t *app = &self->nodes[node].app;
    sim_view_t *v = s_view_find (self, app, index, term);
    if (!v) {
        v = &app->views[0];
        for (int i = 0; i < SIM_VIEWS; i++) {
            if (!app->views[i].index) {
                v = &app->views[i];
                break;
            }
            if (app->views[i].used < v->used)
                v = &app->views[i];
        }
    }
    s_view_drop (self, v);
    *v = (sim_view_t){.index = index, .term = term, .chain = chain, .used = self->now};
    if (self->kv)
        sim_kvs_view_open (self, node, v); // of the state as it is now: at index
    return v;
}

void
sim_stream_took (sim_t *self, int node, uint64_t index)
{
    sim_node_t *n = &self->nodes[node];
    uint64_t term = 0;
    if (zkv_raft_term_at (n->raft, index, &term) != 0)
        sim_fail (self, "node %d: no term for its own snapshot at %" PRIu64, node, index);
    s_check_state (self, node, "snapshots", index, n->chain);
    s_view_add (self, node, index, term, n->chain);
}

// --- sending: reading chunk requests from views ----------------------------------------------

static void
s_answer (sim_t *self, int node, const zkv_raft_chunk_req_t *q)
{
    sim_node_t *n = &self->nodes[node];
    sim_app_t *app = &n->app;
    zkv_raft_status_t st;
    zkv_raft_status (n->raft, &st);
    sim_view_t *v = s_view_find (self, app, q->snapshot.index, q->snapshot.term);
    if (v && self->cfg.view_loss_pm && zkv_rng_chance (&self->rng, self->cfg.view_loss_pm, 1000)) {
        s_view_drop (self, v); // released under us (an idle transfer's view, a store reopened)
        v = NULL;
        s_note (self, "view-lost", node, q->snapshot.index, q->to);
    }
    // The live state at exactly that index is that snapshot's state: a view can be reopened.
    if (!v && !app->missing && n->applied == q->snapshot.index &&
        st.snapshot_index == q->snapshot.index && st.snapshot_term == q->snapshot.term)
        v = s_view_add (self, node, q->snapshot.index, q->snapshot.term, n->chain);
    if (!v) {
        // Not a state this incarnation can read: take a snapshot it can, start over with it.
        if (!app->missing && n->applied > st.snapshot_index)
            sim_take_snapshot (self, node);
        zkv_raft_snapshot_unavailable (n->raft, &q->snapshot);
        self->counters.views_unavailable++;
        s_note (self, "unavailable", node, q->snapshot.index, q->to);
        return;
    }
    v->used = self->now;
    if (self->kv) {
        uint8_t *buf = NULL;
        size_t len = 0;
        bool done = false;
        sim_kvs_read (self, node, v, q, &buf, &len, &done);
        if (zkv_raft_snapshot_chunk (n->raft, q->to, &q->snapshot, q->offset, buf, len, done) == 0)
            self->counters.chunks_read++;
        free (buf);
        return;
    }
    uint64_t total = s_stream_len (self, v->chain);
    if (q->offset > total)
        sim_violation (self, "snapshot stream",
                       "node %d is asked for offset %" PRIu64 " of a %" PRIu64 "-byte stream", node,
                       q->offset, total);
    uint64_t len = total - q->offset;
    if (len > q->max_bytes)
        len = q->max_bytes;
    uint8_t *buf = sim_grow (app->rbuf, &app->rbuf_cap, (size_t)len + 1, 1);
    app->rbuf = buf;
    for (uint64_t i = 0; i < len; i++)
        buf[i] = s_stream_byte (v->index, v->chain, total, q->offset + i);
    if (zkv_raft_snapshot_chunk (n->raft, q->to, &q->snapshot, q->offset, buf, (size_t)len,
                                 q->offset + len == total) == 0)
        self->counters.chunks_read++;
}

void
sim_stream_requests (sim_t *self, int node, const zkv_raft_chunk_req_t *reqs, size_t n_reqs)
{
    sim_app_t *app = &self->nodes[node].app;
    for (size_t i = 0; i < n_reqs; i++) {
        self->counters.chunk_reqs++;
        if (self->cfg.req_drop_pm && zkv_rng_chance (&self->rng, self->cfg.req_drop_pm, 1000)) {
            s_note (self, "req-dropped", node, reqs[i].snapshot.index, reqs[i].offset);
            continue; // the core asks again
        }
        uint64_t delay = 0;
        if (self->cfg.req_delay_max_us)
            delay = zkv_rng_below (&self->rng, self->cfg.req_delay_max_us + 1);
        if (delay == 0) {
            s_answer (self, node, &reqs[i]);
            continue;
        }
        app->slow = sim_grow (app->slow, &app->cap_slow, app->n_slow + 1, sizeof *app->slow);
        app->slow[app->n_slow++] = (sim_slow_req_t){.req = reqs[i], .due = self->now + delay};
    }
}

void
sim_stream_tick (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    sim_app_t *app = &n->app;
    if (n->syncing)
        return; // a snapshot taken now would compact under the ready being synced: later
    size_t keep = 0;
    for (size_t i = 0; i < app->n_slow; i++) {
        sim_slow_req_t r = app->slow[i];
        if (r.due > self->now || !n->up)
            app->slow[keep++] = r;
        else
            s_answer (self, node, &r.req);
    }
    app->n_slow = keep;
}

// --- restart -----------------------------------------------------------------------------------

bool
sim_stream_boot (sim_t *self, int node, const zkv_logstore_state_t *ls)
{
    sim_node_t *n = &self->nodes[node];
    sim_app_t *app = &n->app;
    uint64_t s = ls->snapshot.index, chain = 0;
    app->n_slow = 0;
    s_views_clear (self, app);
    if (self->kv) {
        // The KV service decides from its store (zkv_kv_boot_promote), sim_kv_boot opened it.
        bool promoted = false, missing = false;
        uint64_t applied = sim_kvs_boot (self, node, s, &promoted, &missing);
        if (promoted) {
            self->counters.streams_promoted++;
            s_note (self, "promoted", node, s, 0);
        }
        if (promoted || missing) {
            app->stage.index = app->stage.term = 0;
            app->stage.len = 0;
            app->stage.done = false;
        }
        app->missing = missing;
        if (!missing) {
            if (applied > self->max_committed)
                sim_violation (self, "state machine safety",
                               "node %d's kvstore applied through %" PRIu64 " but only %" PRIu64
                               " entries were ever committed",
                               node, applied, self->max_committed);
            app->live_applied = applied;
            app->live_chain = applied ? self->commits[applied].chain : 0;
        }
    }
    if (!self->kv && (app->missing || app->live_applied < s) &&
        self->cfg.sabotage != SIM_SABOTAGE_STREAM_NO_PROMOTE) {
        // Down between the save of a received snapshot and its install: the staged stream is
        // that snapshot's state (promoted), or the state is behind its snapshot for good (a
        // missing state stays missing).
        if (s_stage_holds (self, &app->stage, s, ls->snapshot.term, &chain)) {
            s_check_state (self, node, "promotes", s, chain);
            app->live_applied = s;
            app->live_chain = chain;
            app->missing = false;
            app->stage.index = app->stage.term = 0;
            app->stage.len = 0;
            app->stage.done = false;
            self->counters.streams_promoted++;
            s_note (self, "promoted", node, s, 0);
        } else if (!app->missing) {
            app->missing = true;
            s_note (self, "state-behind", node, app->live_applied, s);
        }
    }
    n->last_snap = s;
    if (app->missing) {
        n->applied = n->chain = n->base = 0;
        self->counters.states_lost++;
        return true;
    }
    n->applied = n->base = app->live_applied;
    n->chain = app->live_chain;
    if (n->applied)
        s_check_state (self, node, "restarts from", n->applied, n->chain);
    if (self->cfg.view_reopen && s && n->applied == s)
        s_view_add (self, node, s, ls->snapshot.term, n->chain);
    return false;
}

void
sim_stream_free (sim_t *self, int node)
{
    sim_app_t *app = &self->nodes[node].app;
    s_views_clear (self, app);
    s_pend_drop (app);
    free (app->stage.buf);
    free (app->slow);
    free (app->rbuf);
    free (app->reqs);
    memset (app, 0, sizeof *app);
}
