// The group driver's client requests: validated by the state machine, proposed (writes) or
// confirmed by ReadIndex (reads, dissertation §6.4), answered once applied.
//
// A write is answered only from its own entry's result: the entry at its index, of its term,
// naming its client and seq. Another entry there (the proposal was overwritten), or leadership
// lost before its entry applied, answers "leader lost" (ZKV_ELEADERLOST), not "not leader": the
// entry was in a leader's log and may still commit, so the client must not count the request as
// refused. It asks again with the same (client id, seq), as after "not leader", and the state
// machine's dedup table applies it once whichever way it went. "Not leader" (ZKV_ENOTLEADER)
// is kept for requests that were never proposed, so a client can tell "not applied" apart.
// A read is served from the state machine once it applied the read's confirmed index, never
// before (a Get answered without its ReadIndex round could return a stale value).
#include "zkv_replica_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
zkv_rep_answer (zkv_replica_t *self, uint64_t handle, uint64_t client_id, uint64_t seq, int status,
                const char *error, const zkv_bytes_t *value, uint64_t revision)
{
    zkv_msg_t m = {.type = ZKV_MSG_GROUP_REPLY};
    zkv_group_reply_t *r = &m.u.group_reply;
    r->group = self->group;
    r->handle = handle;
    r->client_id = client_id;
    r->seq = seq;
    r->status = (uint64_t)-status;
    if (value)
        r->value = *value; // borrowed
    r->revision = revision;
    r->leader = zkv_rep_leader (self);
    // The log time the state machine applied: a client learns its session_t0 from it (any
    // log time is one a leader's clock had reached when the answer left).
    if (self->usable && self->sm->ops->log_ms)
        r->log_ms = self->sm->ops->log_ms (self->sm->impl);
    if (status && !error)
        error = zkv_strerror (status);
    if (error)
        r->error = (zkv_bytes_t){(uint8_t *)error, strlen (error)};
    self->host->reply (self->host_arg, &m);
}

static size_t
s_waiting (const zkv_replica_t *self)
{
    return (self->n_writes - self->head_writes) + self->n_reads;
}

size_t
zkv_replica_waiting (const zkv_replica_t *self)
{
    return s_waiting (self);
}

// --- writes ------------------------------------------------------------------------------------

static void s_write_lost (zkv_replica_t *self, const zkv_rep_write_t *w);

static void
s_write_push (zkv_replica_t *self, const zkv_rep_write_t *w)
{
    // A proposal at or below a waiting one's index means those entries were truncated (a new
    // term: they are normally answered when the lead is lost): their records would take this
    // one's answer. They are answered "not leader" now.
    while (self->n_writes > self->head_writes && self->writes[self->n_writes - 1].index >= w->index)
        s_write_lost (self, &self->writes[--self->n_writes]);
    if (self->n_writes == self->cap_writes && self->head_writes > 0) {
        memmove (self->writes, self->writes + self->head_writes,
                 (self->n_writes - self->head_writes) * sizeof (zkv_rep_write_t));
        self->n_writes -= self->head_writes;
        self->head_writes = 0;
    }
    if (self->n_writes == self->cap_writes) {
        self->cap_writes = self->cap_writes ? 2 * self->cap_writes : 256;
        self->writes =
            (zkv_rep_write_t *)realloc (self->writes, self->cap_writes * sizeof (zkv_rep_write_t));
        if (!self->writes)
            abort (); // out of memory aborts (STYLE.md)
    }
    self->writes[self->n_writes++] = *w;
}

static void
s_write_lost (zkv_replica_t *self, const zkv_rep_write_t *w)
{
    zkv_rep_answer (self, w->handle, w->client_id, w->seq, ZKV_ELEADERLOST, NULL, NULL, 0);
}

void
zkv_rep_writes_fail (zkv_replica_t *self)
{
    while (self->head_writes < self->n_writes)
        s_write_lost (self, &self->writes[self->head_writes++]);
    self->head_writes = self->n_writes = 0;
}

void
zkv_rep_writes_applied (zkv_replica_t *self, const zkv_entry_t *entries, size_t n,
                        const zkv_sm_results_t *results)
{
    size_t ri = 0;
    for (size_t i = 0; i < n && self->head_writes < self->n_writes; i++) {
        const zkv_entry_t *e = &entries[i];
        // Proposals below this entry that were not matched: their index went to another entry.
        while (self->head_writes < self->n_writes && self->writes[self->head_writes].index < e->index)
            s_write_lost (self, &self->writes[self->head_writes++]);
        if (self->head_writes == self->n_writes || self->writes[self->head_writes].index != e->index)
            continue;
        zkv_rep_write_t w = self->writes[self->head_writes++];
        while (ri < results->count && results->items[ri].index < e->index)
            ri++;
        const zkv_sm_result_t *r =
            ri < results->count && results->items[ri].index == e->index ? &results->items[ri] : NULL;
        if (e->term == w.term && r && r->has_client && r->client_id == w.client_id &&
            r->seq == w.seq)
            zkv_rep_answer (self, w.handle, w.client_id, w.seq, r->answer.status, r->answer.error,
                            &r->answer.value, r->answer.revision);
        else
            s_write_lost (self, &w);
    }
    if (self->head_writes == self->n_writes)
        self->head_writes = self->n_writes = 0;
}

// --- reads -------------------------------------------------------------------------------------

static void
s_read_remove (zkv_replica_t *self, size_t i)
{
    zkv_bytes_free (&self->reads[i].key);
    memmove (&self->reads[i], &self->reads[i + 1], (self->n_reads - i - 1) * sizeof (zkv_rep_read_t));
    self->n_reads--;
}

// The read tagged ctx (reads are kept in ctx order), or -1.
static long
s_read_find (const zkv_replica_t *self, uint64_t ctx)
{
    size_t lo = 0, hi = self->n_reads;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->reads[mid].ctx < ctx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->n_reads && self->reads[lo].ctx == ctx ? (long)lo : -1;
}

void
zkv_rep_reads_confirmed (zkv_replica_t *self, const zkv_raft_read_t *reads, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long at = s_read_find (self, reads[i].ctx);
        if (at < 0)
            continue; // answered already (Raft restarted since)
        zkv_rep_read_t *r = &self->reads[at];
        if (reads[i].index == 0) {
            // Refused: this node stopped leading before a quorum confirmed it.
            zkv_rep_answer (self, r->handle, r->client_id, r->seq, ZKV_ENOTLEADER, NULL, NULL, 0);
            s_read_remove (self, (size_t)at);
        } else
            r->index = reads[i].index;
    }
}

void
zkv_rep_reads_serve (zkv_replica_t *self)
{
    if (!self->usable || self->n_reads == 0)
        return;
    uint64_t applied = self->sm->ops->applied (self->sm->impl);
    size_t kept = 0;
    for (size_t i = 0; i < self->n_reads; i++) {
        zkv_rep_read_t *r = &self->reads[i];
        if (r->index == 0 || r->index > applied) {
            self->reads[kept++] = *r;
            continue;
        }
        if (r->op == ZKV_OP_SNAPSHOT) {
            zkv_rep_save_begin (self, r); // a save: its view, at the read's index or past it
            zkv_bytes_free (&r->key);
            if (self->failed)
                return;
            continue;
        }
        zkv_sm_request_t q = {.client_id = r->client_id,
                              .seq = r->seq,
                              .op = r->op,
                              .key = r->key.data,
                              .key_len = r->key.len};
        zkv_sm_answer_t a = {0};
        int rc = self->sm->ops->read (self->sm->impl, &q, &a);
        if (rc) {
            zkv_sm_answer_free (&a);
            zkv_rep_fatal (self, "reading the state machine", rc);
            return;
        }
        zkv_rep_answer (self, r->handle, r->client_id, r->seq, a.status, a.error, &a.value,
                        a.revision);
        zkv_sm_answer_free (&a);
        zkv_bytes_free (&r->key);
    }
    self->n_reads = kept;
}

void
zkv_rep_reads_fail (zkv_replica_t *self)
{
    for (size_t i = 0; i < self->n_reads; i++) {
        zkv_rep_read_t *r = &self->reads[i];
        zkv_rep_answer (self, r->handle, r->client_id, r->seq, ZKV_ENOTLEADER, NULL, NULL, 0);
        zkv_bytes_free (&r->key);
    }
    self->n_reads = 0;
}

void
zkv_rep_requests_free (zkv_replica_t *self)
{
    for (size_t i = 0; i < self->n_reads; i++)
        zkv_bytes_free (&self->reads[i].key);
    free (self->reads);
    free (self->writes);
    self->reads = NULL;
    self->writes = NULL;
    self->n_reads = self->cap_reads = 0;
    self->n_writes = self->head_writes = self->cap_writes = 0;
}

// --- a request ---------------------------------------------------------------------------------

static void
s_read_push (zkv_replica_t *self, const zkv_rep_read_t *r)
{
    if (self->n_reads == self->cap_reads) {
        self->cap_reads = self->cap_reads ? 2 * self->cap_reads : 64;
        self->reads =
            (zkv_rep_read_t *)realloc (self->reads, self->cap_reads * sizeof (zkv_rep_read_t));
        if (!self->reads)
            abort (); // out of memory aborts (STYLE.md)
    }
    self->reads[self->n_reads++] = *r;
}

int
zkv_replica_request (zkv_replica_t *self, const zkv_group_request_t *req, uint64_t *index_p,
                     uint64_t *term_p)
{
    if (self->failed)
        return 0; // the node is stopping: the frontend's deadline answers
    zkv_sm_request_t q = {.client_id = req->client_id,
                          .seq = req->seq,
                          .op = req->op,
                          .key = req->key.data,
                          .key_len = req->key.len,
                          .value = req->value.data,
                          .value_len = req->value.len,
                          .session_t0 = req->session_t0,
                          .cond = req->cond,
                          .expect = req->expect.data,
                          .expect_len = req->expect.len,
                          .expect_rev = req->expect_rev,
                          .now_ms = self->host->now_ms ? self->host->now_ms (self->host_arg) : 0};
    uint8_t *cmd = NULL;
    size_t cmd_len = 0;
    zkv_sm_answer_t a = {0};
    int verdict;
    if (req->op == ZKV_OP_SNAPSHOT) {
        // A save (zkv_replica_saves.c): its chunks are answered at once; a new one is read
        // like a get, through ReadIndex.
        verdict = zkv_rep_save_prepare (self, req);
        if (verdict == ZKV_SM_ANSWERED)
            return 0;
    } else
        verdict = self->sm->ops->prepare (self->sm->impl, &q, &cmd, &cmd_len, &a);
    if (verdict == ZKV_SM_ANSWERED || verdict < 0) {
        // A refusal or a retry the dedup table answers: facts, whoever leads.
        if (verdict < 0)
            a.status = verdict;
        zkv_rep_answer (self, req->handle, req->client_id, req->seq, a.status, a.error, &a.value,
                        a.revision);
        zkv_sm_answer_free (&a);
        return 0;
    }
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    int rc = 0, proposed = 0;
    if (st.role != ZKV_ROLE_LEADER)
        rc = ZKV_ENOTLEADER;
    else if (s_waiting (self) >= self->cfg.max_waiting) {
        rc = ZKV_EBUSY;
        self->counters.busy++;
    } else if (verdict == ZKV_SM_PROPOSE) {
        zkv_rep_write_t w = {.handle = req->handle, .client_id = req->client_id, .seq = req->seq};
        rc = zkv_raft_propose (self->raft, cmd, cmd_len, &w.index, &w.term);
        if (rc == 0) {
            s_write_push (self, &w);
            if (index_p)
                *index_p = w.index;
            if (term_p)
                *term_p = w.term;
            proposed = 1;
        }
    } else {
        zkv_rep_read_t r = {.ctx = ++self->next_ctx,
                            .handle = req->handle,
                            .client_id = req->client_id,
                            .seq = req->seq,
                            .op = req->op};
        rc = zkv_raft_read_index (self->raft, r.ctx);
        if (rc == 0) {
            zkv_bytes_set (&r.key, req->key.data, req->key.len);
            s_read_push (self, &r);
        }
    }
    free (cmd);
    if (rc)
        zkv_rep_answer (self, req->handle, req->client_id, req->seq, rc, NULL, NULL, 0);
    return proposed;
}
