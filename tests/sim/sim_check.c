// Raft's safety invariants, checked incrementally after every step (Raft paper, Figure 3):
// election safety, log matching, leader completeness, state machine safety; plus monotonic
// commit/applied per incarnation, durability of everything committed, one vote per term.
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define UNKNOWN_TERM UINT64_MAX

void
sim_violation (sim_t *self, const char *invariant, const char *fmt, ...)
{
    self->violated = invariant;
    char what[128];
    snprintf (what, sizeof what, "INVARIANT VIOLATED (%s)", invariant);
    va_list ap;
    va_start (ap, fmt);
    sim_fail_common (self, what, fmt, ap);
}

uint64_t
sim_chain_next (uint64_t chain, uint64_t hash)
{
    uint64_t h = chain ^ 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)(hash >> (8 * i))) * 0x100000001b3ULL;
    return h;
}

// --- Log Matching: (index, term) -> (entry hash, term of index - 1) ---------------------------

static size_t
s_lm_slot (uint64_t index, uint64_t term, size_t cap)
{
    uint64_t h = index * 0x9e3779b97f4a7c15ULL ^ term * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static sim_lm_slot_t *
s_lm_find (sim_t *self, uint64_t index, uint64_t term)
{
    if (G (self)->lm_len * 2 >= G (self)->lm_cap) {
        size_t ncap = G (self)->lm_cap ? G (self)->lm_cap * 2 : 4096;
        sim_lm_slot_t *nt = calloc (ncap, sizeof *nt);
        if (!nt)
            abort ();
        for (size_t i = 0; i < G (self)->lm_cap; i++) {
            sim_lm_slot_t *o = &G (self)->lm[i];
            if (!o->index)
                continue;
            size_t j = s_lm_slot (o->index, o->term, ncap);
            while (nt[j].index)
                j = (j + 1) & (ncap - 1);
            nt[j] = *o;
        }
        free (G (self)->lm);
        G (self)->lm = nt;
        G (self)->lm_cap = ncap;
    }
    size_t j = s_lm_slot (index, term, G (self)->lm_cap);
    while (G (self)->lm[j].index && (G (self)->lm[j].index != index || G (self)->lm[j].term != term))
        j = (j + 1) & (G (self)->lm_cap - 1);
    return &G (self)->lm[j];
}

static void
s_check_log_matching (sim_t *self, int node, const zkv_entry_t *e, uint64_t prev_term)
{
    uint64_t h = sim_entry_hash (e->type, e->data.data, e->data.len);
    sim_lm_slot_t *s = s_lm_find (self, e->index, e->term);
    self->counters.checks++;
    if (!s->index) {
        s->index = e->index;
        s->term = e->term;
        s->hash = h;
        s->prev_term = prev_term;
        G (self)->lm_len++;
        return;
    }
    if (s->hash != h)
        sim_violation (self, "log matching",
                       "node %d stores index %" PRIu64 " term %" PRIu64
                       " with different content than another log had there",
                       node, e->index, e->term);
    if (prev_term != UNKNOWN_TERM && s->prev_term != UNKNOWN_TERM && s->prev_term != prev_term)
        sim_violation (self, "log matching",
                       "node %d stores index %" PRIu64 " term %" PRIu64
                       " after an entry of term %" PRIu64 "; another log had term %" PRIu64
                       " before it",
                       node, e->index, e->term, prev_term, s->prev_term);
    if (s->prev_term == UNKNOWN_TERM)
        s->prev_term = prev_term;
}

// --- after a ready was persisted --------------------------------------------------------------

static void
s_check_snapshot_data (sim_t *self, int node, const char *what, uint64_t index, uint64_t term,
                       const uint8_t *data, size_t len)
{
    self->counters.checks++;
    // KV mode: the KV state machine's blob follows the 16 bytes (sim_kv.h).
    if (len < 16 || (len != 16 && !self->cfg.kv) || sim_get_u64 (data) != index)
        sim_violation (self, "snapshot",
                       "node %d %s a snapshot at %" PRIu64 " whose data "
                       "(%zu bytes) the state machine did not write",
                       node, what, index, len);
    if (index > G (self)->max_committed)
        sim_violation (self, "snapshot",
                       "node %d %s a snapshot at %" PRIu64 " beyond anything "
                       "committed (%" PRIu64 ")",
                       node, what, index, G (self)->max_committed);
    const sim_commit_t *c = &G (self)->commits[index];
    if (c->chain != sim_get_u64 (data + 8) || (term != UNKNOWN_TERM && c->term != term))
        sim_violation (self, "state machine safety",
                       "node %d %s a snapshot at %" PRIu64 " (term %" PRIu64
                       ") that differs from the committed history (term %" PRIu64 ")",
                       node, what, index, term, c->term);
}

void
sim_check_snapshot_saved (sim_t *self, int node, const zkv_snapshot_meta_t *meta,
                          const uint8_t *data, size_t len)
{
    if (self->cfg.stream) {
        // Streaming: metadata only; the state it covers is checked when taken or installed.
        self->counters.checks++;
        uint64_t i = meta->index;
        if (len || i == 0 || i > G (self)->max_committed ||
            G (self)->commits[i].term != meta->term)
            sim_violation (self, "snapshot",
                           "node %d saves a snapshot at %" PRIu64 " term %" PRIu64
                           " (%zu bytes) that is not a committed entry's (%" PRIu64 " committed)",
                           node, i, meta->term, len, G (self)->max_committed);
    } else
        s_check_snapshot_data (self, node, "saved", meta->index, meta->term, data, len);
}

void
sim_check_append (sim_t *self, int node, const zkv_entry_t *entries, size_t n, uint64_t prev_term)
{
    sim_rep_t *r = R (self, node);
    for (size_t i = 0; i < n; i++) {
        const zkv_entry_t *e = &entries[i];
        uint64_t prev = UNKNOWN_TERM;
        if (i > 0) {
            if (e->index != entries[i - 1].index + 1)
                sim_violation (self, "log matching",
                               "node %d appends a non-contiguous batch "
                               "(%" PRIu64 " after %" PRIu64 ")",
                               node, e->index, entries[i - 1].index);
            prev = entries[i - 1].term;
        } else
            prev = prev_term; // as the log was when the batch was written
        if (prev != UNKNOWN_TERM && prev > e->term)
            sim_violation (self, "log matching",
                           "node %d: entry %" PRIu64 " has term %" PRIu64
                           " below its predecessor's %" PRIu64,
                           node, e->index, e->term, prev);
        s_check_log_matching (self, node, e, prev);
        // Truncating a committed entry is fine only if the log held the same one there, or if
        // the replacing entry is a deposed leader's of a term before the one the entry was
        // committed in (cterm bounds that term): §5.4 promises it to leaders of later terms
        // only, and a node still in the older term was not one of the majority that stored it
        // (sweep seed 316 --kv at ed4a327; StaleLeaderReplacesOnOlderTerm).
        if (r->pend_trunc && e->index == r->pend_trunc && e->index <= G (self)->max_committed &&
            e->term != G (self)->commits[e->index].term &&
            e->term > G (self)->commits[e->index].cterm)
            sim_violation (self, "leader completeness",
                           "node %d replaces committed index %" PRIu64 " (term %" PRIu64
                           ") with term %" PRIu64,
                           node, e->index, G (self)->commits[e->index].term, e->term);
    }
}

void
sim_check_synced (sim_t *self, int node)
{
    sim_rep_t *n = R (self, node);
    if (n->pend_trunc && n->pend_trunc <= n->durable_last)
        n->durable_last = n->pend_trunc - 1;
    if (n->pend_last)
        n->durable_last = n->pend_last;
    if (n->pend_snap > n->durable_last)
        n->durable_last = n->pend_snap;
    if (n->pend_hs) {
        const zkv_hard_state_t *hs = &n->pend_hard;
        self->counters.checks++;
        if (hs->term < n->durable_term)
            sim_violation (self, "durability",
                           "node %d persists term %" PRIu64 " after term %" PRIu64, node, hs->term,
                           n->durable_term);
        if (hs->term == n->durable_term && n->durable_vote && hs->vote != n->durable_vote)
            sim_violation (self, "one vote per term",
                           "node %d votes for %" PRIu64 " in term %" PRIu64
                           " after voting for %" PRIu64,
                           node, hs->vote, hs->term, n->durable_vote);
        n->durable_term = hs->term;
        n->durable_vote = hs->vote;
    }
    n->pend_hs = false;
    n->pend_trunc = n->pend_last = n->pend_snap = 0;
}

// --- messages: what they promise is durable --------------------------------------------------

void
sim_check_send (sim_t *self, int node, const zkv_msg_t *m)
{
    sim_rep_t *n = R (self, node);
    self->counters.checks++;
    if (m->type == ZKV_MSG_REQUEST_VOTE_REPLY && m->u.request_vote_reply.granted &&
        !m->u.request_vote_reply.pre_vote &&
        (n->durable_term != m->u.hdr.term || n->durable_vote != m->u.hdr.to))
        sim_violation (self, "one vote per term",
                       "node %d grants its vote in term %" PRIu64 " to %" PRIu64
                       " but persisted term %" PRIu64 " vote %" PRIu64,
                       node, m->u.hdr.term, m->u.hdr.to, n->durable_term, n->durable_vote);
    if (m->type == ZKV_MSG_APPEND_ENTRIES_REPLY && m->u.append_entries_reply.success &&
        m->u.append_entries_reply.match_index > n->durable_last)
        sim_violation (self, "durability",
                       "node %d acknowledges index %" PRIu64 " but persisted only through %" PRIu64,
                       node, m->u.append_entries_reply.match_index, n->durable_last);
    if (m->type == ZKV_MSG_INSTALL_SNAPSHOT_REPLY && self->cfg.stream)
        sim_stream_check_reply (self, node, &m->u.install_snapshot_reply);
}

// --- applying: state machine safety, leader completeness ------------------------------------

// Does node's current log (or snapshot) hold committed index i?
static bool
s_holds (sim_t *self, int node, uint64_t i)
{
    zkv_raft_status_t st;
    const zkv_raft_t *raft = sim_rep_raft (self, node);
    zkv_raft_status (raft, &st);
    if (i <= st.snapshot_index)
        return true;
    const zkv_entry_t *e = zkv_raft_entry_at (raft, i);
    return e && e->term == G (self)->commits[i].term &&
           sim_entry_hash (e->type, e->data.data, e->data.len) == G (self)->commits[i].hash;
}

void
sim_check_apply (sim_t *self, int node, const zkv_entry_t *e)
{
    sim_rep_t *n = R (self, node);
    self->counters.checks++;
    if (self->cfg.stream && n->app.missing)
        sim_violation (self, "state machine safety",
                       "node %d applies index %" PRIu64 " with its state missing", node, e->index);
    if (e->index != n->applied + 1)
        sim_violation (self, "state machine safety",
                       "node %d applies index %" PRIu64 " after index %" PRIu64 " (out of order)",
                       node, e->index, n->applied);
    uint64_t h = sim_entry_hash (e->type, e->data.data, e->data.len);
    uint64_t chain = sim_chain_next (n->chain, h);
    if (e->index <= G (self)->max_committed) {
        const sim_commit_t *c = &G (self)->commits[e->index];
        if (c->hash != h || c->term != e->term || c->chain != chain)
            sim_violation (self, "state machine safety",
                           "node %d applies at index %" PRIu64 " (term %" PRIu64
                           ") another command than was applied there "
                           "(term %" PRIu64 ")",
                           node, e->index, e->term, c->term);
        return;
    }
    // First time anyone applies this index: it is committed from now on.
    G (self)->commits =
        sim_grow (G (self)->commits, &G (self)->commits_cap, e->index + 1, sizeof *G (self)->commits);
    sim_commit_t *c = &G (self)->commits[e->index];
    zkv_raft_status_t st;
    zkv_raft_status (sim_rep_raft (self, node), &st);
    c->hash = h;
    c->chain = chain;
    c->term = e->term;
    c->cterm = st.term;
    c->type = e->type;
    c->len = e->data.len;
    if (e->data.len) {
        c->data = malloc (e->data.len);
        if (!c->data)
            abort ();
        memcpy (c->data, e->data.data, e->data.len);
    }
    G (self)->max_committed = e->index;
    // Leader completeness: every leader of a later term must hold it.
    for (int j = 0; j < self->cfg.n_nodes; j++) {
        sim_rep_t *o = R (self, j);
        if (j == node || !self->nodes[j].up || o->role != ZKV_ROLE_LEADER || o->term <= c->cterm)
            continue;
        self->counters.checks++;
        if (!s_holds (self, j, e->index))
            sim_violation (self, "leader completeness",
                           "node %d, leader of term %" PRIu64 ", lacks index %" PRIu64
                           " committed in term <= %" PRIu64,
                           j, o->term, e->index, c->cterm);
    }
}

void
sim_check_install (sim_t *self, int node, uint64_t index, uint64_t chain)
{
    sim_rep_t *n = R (self, node);
    uint8_t data[16];
    for (int i = 0; i < 8; i++) {
        data[i] = (uint8_t)(index >> (8 * i));
        data[8 + i] = (uint8_t)(chain >> (8 * i));
    }
    s_check_snapshot_data (self, node, "installs", index, UNKNOWN_TERM, data, sizeof data);
    if (index <= n->applied)
        sim_violation (self, "monotonic applied",
                       "node %d installs a snapshot at %" PRIu64 " after applying through %" PRIu64,
                       node, index, n->applied);
}

// --- after every step of a node: roles, terms, commit ----------------------------------------

static void
s_check_new_leader (sim_t *self, int node, const zkv_raft_status_t *st)
{
    uint64_t id = (uint64_t)node + 1;
    G (self)->leader_of =
        sim_grow (G (self)->leader_of, &G (self)->leader_of_cap, st->term + 1, sizeof *G (self)->leader_of);
    self->counters.checks++;
    if (G (self)->leader_of[st->term] && G (self)->leader_of[st->term] != id)
        sim_violation (self, "election safety",
                       "nodes %" PRIu64 " and %d are both leaders of "
                       "term %" PRIu64,
                       G (self)->leader_of[st->term] - 1, node, st->term);
    if (G (self)->leader_of[st->term])
        return;
    G (self)->leader_of[st->term] = id;
    self->counters.elections++;
    sim_narrate (self,
                 "node %d elected leader of term %" PRIu64 " (log %" PRIu64 "..%" PRIu64
                 ", commit %" PRIu64 ")",
                 node + 1, st->term, st->first_index, st->last_index, st->commit);
    // Leader completeness (§5.4): it holds every entry committed in an earlier term.
    uint64_t from = st->snapshot_index + 1;
    for (uint64_t i = from; i <= G (self)->max_committed; i++) {
        if (G (self)->commits[i].cterm >= st->term)
            continue;
        self->counters.checks++;
        if (!s_holds (self, node, i))
            sim_violation (self, "leader completeness",
                           "node %d elected leader of term %" PRIu64 " without index %" PRIu64
                           " committed in term <= %" PRIu64,
                           node, st->term, i, G (self)->commits[i].cterm);
    }
}

static void
s_check_rep (sim_t *self, int node)
{
    sim_rep_t *n = R (self, node);
    zkv_raft_status_t st;
    zkv_raft_status (sim_rep_raft (self, node), &st);
    self->counters.checks++;
    if (st.commit < n->seen_commit)
        sim_violation (self, "monotonic commit",
                       "node %d's commit went from %" PRIu64 " back to %" PRIu64, node,
                       n->seen_commit, st.commit);
    if (st.applied < n->seen_applied)
        sim_violation (self, "monotonic applied",
                       "node %d's applied went from %" PRIu64 " back to %" PRIu64, node,
                       n->seen_applied, st.applied);
    if (st.term < n->term)
        sim_violation (self, "monotonic term",
                       "node %d's term went from %" PRIu64 " back to %" PRIu64, node, n->term,
                       st.term);
    // Every peer here is honest: the core's checks against a wrong peer must never fire (a
    // false alarm would refuse a true leader's messages and cost liveness).
    if (st.terms_refused + st.commit_conflicts + st.leader_conflicts != 0)
        sim_violation (self, "no false alarm",
                       "node %d refused an honest peer (%" PRIu64 " terms, %" PRIu64
                       " commit conflicts, %" PRIu64 " second leaders)",
                       node, st.terms_refused, st.commit_conflicts, st.leader_conflicts);
    n->seen_commit = st.commit;
    n->seen_applied = st.applied;
    if (st.role != n->role || st.term != n->term) {
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_ROLE,
                                            .node = (uint8_t)node,
                                            .a = st.role,
                                            .b = st.term,
                                            .c = st.commit,
                                            .d = st.last_index});
        if (st.term > self->counters.max_term) {
            self->counters.max_term = st.term;
            sim_narrate (self, "term %" PRIu64 " begins (node %d, %s)", st.term, node + 1,
                         zkv_role_name (st.role));
        }
        if (st.role == ZKV_ROLE_LEADER) {
            s_check_new_leader (self, node, &st);
            // Streaming: elected while a stream it was receiving is staged, unfinished (its
            // old state whole): counted, to see the sweep reach the case.
            const sim_app_t *app = &n->app;
            if (self->cfg.stream && app->stage.len && !app->stage.done &&
                app->chunk_at + 2 * self->cfg.election_ticks * self->cfg.tick_us >= self->now)
                self->counters.leaders_mid_stream++;
        } else if (n->role == ZKV_ROLE_LEADER)
            sim_narrate (self, "node %d is no longer leader (term %" PRIu64 ", now %s)", node + 1,
                         st.term, zkv_role_name (st.role));
        n->role = st.role;
        n->term = st.term;
    }
}

void
sim_check_node (sim_t *self, int node)
{
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self) && self->nodes[node].up; g++) {
        self->g = g;
        if (R (self, node)->rep)
            s_check_rep (self, node);
    }
    self->g = saved;
}

// --- durability: everything committed is held by a majority ----------------------------------

// Whether every committed index is durable on a majority; skip_state (-1: none) is a node
// whose state machine's state is counted as lost. On false, *bad_p and *run_p tell where.
static bool
s_durable (sim_t *self, int skip_state, uint64_t *bad_p, int *run_p)
{
    uint64_t mc = G (self)->max_committed;
    if (mc == 0)
        return true;
    int *count = calloc (mc + 2, sizeof *count); // difference array over indexes
    if (!count)
        abort ();
    for (int j = 0; j < self->cfg.n_nodes; j++) {
        zkv_logstore_state_t *ls = &self->loaded; // freed by sim_destroy after a failure
        zkv_logstore_state_free (ls);
        int rc = zkv_logstore_load (self->nodes[j].store, SIM_GROUP_ID (self, self->g), ls);
        if (rc != 0) {
            free (count);
            sim_violation (self, "durability", "node %d's memstore does not load (%s)", j,
                           zkv_errname (rc));
        }
        // The state machine's state covers a prefix: the snapshot's (blob mode), or the
        // streaming application's own durable state (its snapshot is only metadata).
        uint64_t s = ls->snapshot.index;
        if (self->cfg.stream)
            s = j == skip_state ? 0 : sim_stream_durable_prefix (self, j, ls);
        if (s > mc)
            s = mc;
        if (s) {
            count[1]++;
            count[s + 1]--;
        }
        for (size_t k = 0; k < ls->n_entries; k++) {
            const zkv_entry_t *e = &ls->entries[k];
            if (e->index <= s || e->index > mc)
                continue;
            if (e->term == G (self)->commits[e->index].term &&
                sim_entry_hash (e->type, e->data.data, e->data.len) ==
                    G (self)->commits[e->index].hash) {
                count[e->index]++;
                count[e->index + 1]--;
            }
        }
        zkv_logstore_state_free (ls);
    }
    int majority = self->cfg.n_nodes / 2 + 1, run = 0;
    for (uint64_t i = 1; i <= mc; i++) {
        run += count[i];
        self->counters.checks++;
        if (run < majority) {
            free (count);
            *bad_p = i;
            *run_p = run;
            return false;
        }
    }
    free (count);
    return true;
}

static void
s_check_durable (sim_t *self, const char *when)
{
    uint64_t bad = 0;
    int run = 0;
    if (!s_durable (self, -1, &bad, &run))
        sim_violation (self, "durability",
                       "%s: committed index %" PRIu64 " is durable on "
                       "%d nodes only (majority %d)",
                       when, bad, run, self->cfg.n_nodes / 2 + 1);
}

bool
sim_check_durable_without (sim_t *self, int skip_state)
{
    uint64_t bad;
    int run;
    return s_durable (self, skip_state, &bad, &run);
}

static void
s_check_durable_all (sim_t *self, const char *when)
{
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        s_check_durable (self, when);
    }
    self->g = saved;
}

void
sim_check_crash (sim_t *self, int node)
{
    (void)node;
    s_check_durable_all (self, "after a crash");
}

void
sim_check_final (sim_t *self)
{
    s_check_durable_all (self, "at the end");
}

void
sim_check_free (sim_t *self)
{
    for (int g = 0; g < SIM_MAX_GROUPS; g++) {
        sim_grp_t *gr = &self->groups[g];
        for (uint64_t i = 1; i <= gr->max_committed; i++)
            free (gr->commits[i].data);
        free (gr->commits);
        free (gr->leader_of);
        free (gr->lm);
        memset (gr, 0, sizeof *gr);
    }
}
