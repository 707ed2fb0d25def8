// Linearizable reads without a log entry: ReadIndex (Raft dissertation §6.4).
//
// The leader (1) has committed an entry of its own term, so its commit index covers every
// entry committed before it led (§6.4 step 1, the no-op of §8); (2) takes that commit index as
// the read's index; (3) proves it was still the leader after the read arrived: a quorum echoes
// a heartbeat round sent after that moment (§6.4 step 3). The caller then serves the read once
// its state machine applied the index (step 4).
#include "zkv_raft_int.h"

#include <assert.h>
#include <stdlib.h>

// The highest round a quorum acknowledged (the leader always counts itself).
static uint64_t
s_confirmed (const zkv_raft_t *self)
{
    size_t n = self->cfg.n_voters;
    uint64_t acked[n];
    for (size_t i = 0; i < n; i++)
        acked[i] = self->prs[i].id == self->cfg.id ? self->read_round : self->prs[i].read_acked;
    for (size_t i = 1; i < n; i++) { // insertion sort, descending
        uint64_t v = acked[i];
        size_t j = i;
        while (j > 0 && acked[j - 1] < v) {
            acked[j] = acked[j - 1];
            j--;
        }
        acked[j] = v;
    }
    return acked[zkv_raft_quorum (self) - 1];
}

static void
s_done (zkv_raft_t *self, uint64_t ctx, uint64_t index)
{
    if (self->n_reads_done == self->cap_reads_done) {
        self->cap_reads_done = self->cap_reads_done ? self->cap_reads_done * 2 : 16;
        self->reads_done =
            zkv_raft_realloc (self->reads_done, self->cap_reads_done * sizeof (zkv_raft_read_t));
    }
    self->reads_done[self->n_reads_done++] = (zkv_raft_read_t){.ctx = ctx, .index = index};
}

// A new round: every follower gets an AppendEntries stamped with it.
static void
s_start_round (zkv_raft_t *self)
{
    self->read_round++;
    for (size_t i = 0; i < self->cfg.n_voters; i++)
        if (self->prs[i].id != self->cfg.id)
            zkv_raft_send_heartbeat (self, &self->prs[i]);
}

int
zkv_raft_read_index (zkv_raft_t *self, uint64_t ctx)
{
    if (self->role != ZKV_ROLE_LEADER)
        return ZKV_ENOTLEADER;
    if (self->n_reads == self->cap_reads) {
        self->cap_reads = self->cap_reads ? self->cap_reads * 2 : 16;
        self->reads =
            zkv_raft_realloc (self->reads, self->cap_reads * sizeof (zkv_raft_pending_read_t));
    }
    // Only a round sent from now on proves leadership after this request: with a round in
    // flight, the request joins the next one (sent once the current one is confirmed).
    bool in_flight = s_confirmed (self) < self->read_round;
    self->reads[self->n_reads++] =
        (zkv_raft_pending_read_t){.ctx = ctx, .round = self->read_round + 1};
    if (!in_flight)
        s_start_round (self);
    zkv_raft_reads_update (self);
    return 0;
}

void
zkv_raft_read_ack (zkv_raft_t *self, zkv_raft_progress_t *pr, uint64_t ctx)
{
    // Rounds above ours were never sent by this leader: bogus.
    if (ctx > pr->read_acked && ctx <= self->read_round) {
        pr->read_acked = ctx;
        zkv_raft_reads_update (self);
    }
}

void
zkv_raft_reads_update (zkv_raft_t *self)
{
    if (self->role != ZKV_ROLE_LEADER || self->n_reads == 0)
        return;
    uint64_t confirmed = s_confirmed (self);
    // §6.4 step 1: the commit index is the read's index only once it holds an entry of this
    // term (a new leader's commit index may lag what earlier leaders committed).
    bool own = zkv_raft_log_term_or0 (&self->log, self->commit) == self->term;
    size_t kept = 0;
    bool waiting = false;
    for (size_t i = 0; i < self->n_reads; i++) {
        zkv_raft_pending_read_t *p = &self->reads[i];
        if (!p->index && own)
            p->index = self->commit;
        if (p->index && p->round <= confirmed)
            s_done (self, p->ctx, p->index);
        else {
            waiting |= p->round > self->read_round;
            self->reads[kept++] = *p;
        }
    }
    self->n_reads = kept;
    if (waiting && confirmed >= self->read_round)
        s_start_round (self);
}

void
zkv_raft_reads_fail (zkv_raft_t *self)
{
    for (size_t i = 0; i < self->n_reads; i++)
        s_done (self, self->reads[i].ctx, 0);
    self->n_reads = 0;
}

void
zkv_raft_reads_free (zkv_raft_t *self)
{
    free (self->reads);
    free (self->reads_done);
    free (self->rd_reads);
    self->reads = NULL;
    self->reads_done = NULL;
    self->rd_reads = NULL;
    self->n_reads = self->cap_reads = 0;
    self->n_reads_done = self->cap_reads_done = 0;
}
