// Raft elections: ticks, randomized timeouts, PreVote, RequestVote, CheckQuorum (§5.2, §9.6, §6.2).
#include "zkv_raft_int.h"

#include <assert.h>
#include <string.h>

static void
s_reset_timer (zkv_raft_t *self)
{
    // §5.2: randomized election timeouts in [election, 2 * election) split votes rarely.
    self->election_elapsed = 0;
    self->heartbeat_elapsed = 0;
    self->timeout = (uint32_t)zkv_rng_range (&self->rng, self->cfg.election_ticks,
                                             2 * (uint64_t)self->cfg.election_ticks - 1);
}

bool
zkv_raft_in_lease (const zkv_raft_t *self)
{
    // Leader stickiness (dissertation §4.2.3, §9.6): a node that heard from a current leader
    // within the minimum election timeout neither grants nor bumps its term for a vote.
    return self->cfg.check_quorum && self->leader != 0 &&
           self->election_elapsed < self->cfg.election_ticks;
}

void
zkv_raft_become_follower (zkv_raft_t *self, uint64_t term, uint64_t leader)
{
    if (term != self->term) {
        assert (term > self->term);
        self->term = term;
        self->vote = 0;
        self->term_leader = 0;
        zkv_raft_drop_stale_grants (self);
    }
    if (self->role == ZKV_ROLE_LEADER) {
        zkv_raft_free_progress (self);
        zkv_raft_reads_fail (self); // answered ZKV_ENOTLEADER by the caller
    }
    self->prevotes_term = 0;
    self->role = ZKV_ROLE_FOLLOWER;
    self->leader = leader;
    if (leader && !self->term_leader)
        self->term_leader = leader;
    s_reset_timer (self);
}

bool
zkv_raft_second_leader (zkv_raft_t *self, uint64_t from)
{
    if (self->term_leader && self->term_leader != from) {
        self->leader_conflicts++;
        return true;
    }
    self->term_leader = from;
    // A node whose state is missing may have lost its vote of this term with it (a data
    // directory that was corrupt, started over with zkvd --rejoin): it records a vote for the
    // leader it follows, which won the term anyway, so that it can never vote for another
    // candidate of the term, as it may have done before.
    if (self->missing && self->vote == 0)
        self->vote = from;
    return false;
}

static void
s_become_leader (zkv_raft_t *self)
{
    self->role = ZKV_ROLE_LEADER;
    self->elections_won++;
    self->leader = self->cfg.id;
    self->term_leader = self->cfg.id;
    self->uncommitted = 0; // what earlier leaders proposed counts for nothing here (etcd)
    s_reset_timer (self);
    zkv_raft_reset_progress (self);
    // §8 / Figure 8: an entry of the new term lets the leader commit what earlier terms left.
    zkv_entry_t noop = {.term = self->term,
                        .index = zkv_raft_log_last_index (&self->log) + 1,
                        .type = ZKV_ENTRY_NOOP};
    zkv_raft_log_append (&self->log, &noop);
    zkv_raft_broadcast (self, false);
    zkv_raft_maybe_commit (self); // a single-node group
}

static void
s_send_votes (zkv_raft_t *self, bool pre_vote)
{
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        if (self->voters[i] == self->cfg.id)
            continue;
        zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_REQUEST_VOTE, self->voters[i]);
        zkv_request_vote_t *m = &msg->u.request_vote;
        // §9.6: a pre-vote asks for term + 1 without raising our own term.
        m->term = pre_vote ? self->term + 1 : self->term;
        m->pre_vote = pre_vote;
        m->last_log_index = zkv_raft_log_last_index (&self->log);
        m->last_log_term = zkv_raft_log_last_term (&self->log);
    }
}

static size_t
s_tally (const zkv_raft_t *self, const uint8_t *votes, uint8_t what)
{
    size_t n = 0;
    for (size_t i = 0; i < self->cfg.n_voters; i++)
        n += votes[i] == what;
    return n;
}

static void
s_become_candidate (zkv_raft_t *self)
{
    // Figure 2: increment the term, vote for ourselves, ask everyone.
    self->role = ZKV_ROLE_CANDIDATE;
    self->elections++;
    self->term++;
    self->vote = self->cfg.id;
    self->leader = 0;
    self->term_leader = 0;
    s_reset_timer (self);
    memset (self->votes, 0, self->cfg.n_voters);
    self->votes_term = self->term;
    self->votes[zkv_raft_voter_slot (self, self->cfg.id)] = 1;
    if (s_tally (self, self->votes, 1) >= zkv_raft_quorum (self)) {
        s_become_leader (self);
        return;
    }
    s_send_votes (self, false);
}

static void
s_become_pre_candidate (zkv_raft_t *self)
{
    self->role = ZKV_ROLE_PRE_CANDIDATE;
    self->leader = 0;
    s_reset_timer (self);
    // Pre-votes for the same term carry over from one round to the next: on a network that
    // delays replies past a round, late grants still add up (a liveness aid only: PreVote
    // never decides safety). A leader heard from in between clears them (become_follower).
    if (self->prevotes_term != self->term + 1) {
        memset (self->prevotes, 0, self->cfg.n_voters);
        self->prevotes_term = self->term + 1;
    }
    self->prevotes[zkv_raft_voter_slot (self, self->cfg.id)] = 1;
    if (s_tally (self, self->prevotes, 1) >= zkv_raft_quorum (self)) {
        s_become_candidate (self);
        return;
    }
    s_send_votes (self, true);
}

static void
s_campaign (zkv_raft_t *self)
{
    // Terms saturate: at the last term there is none to campaign in (a candidate's term + 1, a
    // pre-vote's term + 1), so the node waits as a follower instead of wrapping to 0.
    if (self->term == UINT64_MAX) {
        s_reset_timer (self);
        return;
    }
    // A stream being received is abandoned: the caller staged it, its old state is intact.
    if (self->need_snap) {
        assert (!self->missing);
        zkv_raft_drop_incoming (self);
        self->need_snap = false;
    }
    if (self->cfg.pre_vote)
        s_become_pre_candidate (self);
    else
        s_become_candidate (self);
}

static void
s_check_quorum (zkv_raft_t *self)
{
    // §6.2: a leader that did not hear from a quorum within an election timeout steps down,
    // so that clients stuck with a partitioned leader find the new one.
    size_t active = 0;
    for (size_t i = 0; i < self->cfg.n_voters; i++) {
        zkv_raft_progress_t *pr = &self->prs[i];
        if (pr->id == self->cfg.id || pr->recent_active)
            active++;
        pr->recent_active = false;
    }
    if (active < zkv_raft_quorum (self))
        zkv_raft_become_follower (self, self->term, 0);
}

void
zkv_raft_tick_election (zkv_raft_t *self)
{
    if (self->role == ZKV_ROLE_LEADER) {
        self->election_elapsed++;
        if (self->election_elapsed >= self->cfg.election_ticks) {
            self->election_elapsed = 0;
            if (self->cfg.check_quorum) {
                s_check_quorum (self);
                if (self->role != ZKV_ROLE_LEADER)
                    return;
            }
        }
        self->heartbeat_elapsed++;
        if (self->heartbeat_elapsed >= self->cfg.heartbeat_ticks) {
            self->heartbeat_elapsed = 0;
            zkv_raft_broadcast (self, true);
        }
        for (size_t i = 0; i < self->cfg.n_voters; i++)
            if (self->prs[i].state == ZKV_PR_SNAPSHOT)
                self->prs[i].snap_wait++;
        if (self->want_wait < UINT32_MAX)
            self->want_wait++;
        return;
    }
    self->election_elapsed++;
    // A node whose state machine state is missing could not serve as leader, nor stream
    // snapshots of a state it does not have: it waits for a leader's snapshot. One receiving
    // a stream still has its old state (staged streams) and may lead.
    if (self->election_elapsed >= self->timeout && !self->missing)
        s_campaign (self);
}

void
zkv_raft_on_request_vote (zkv_raft_t *self, const zkv_request_vote_t *m)
{
    // The caller handled the term (§5.1): m->term >= ours here, or it is a pre-vote.
    bool up_to_date = zkv_raft_log_up_to_date (&self->log, m->last_log_index, m->last_log_term);
    bool grant;
    if (m->pre_vote)
        // §9.6: grant if the log is current and no leader was heard from recently; the term
        // check (m->term > ours) was done by the caller; nothing changes here.
        grant = m->term > self->term && up_to_date && !zkv_raft_in_lease (self);
    else
        // Figure 2: one vote per term (persisted before the reply leaves), §5.4.1 log check.
        grant = m->term == self->term && (self->vote == 0 || self->vote == m->from) && up_to_date;
    // A node whose state is missing grants nothing: it may have lost a vote it gave (its log
    // is empty, so it would grant anyone). Its vote counts again once a snapshot installed.
    if (self->missing)
        grant = false;
    zkv_msg_t *msg = zkv_raft_send (self, ZKV_MSG_REQUEST_VOTE_REPLY, m->from);
    zkv_request_vote_reply_t *r = &msg->u.request_vote_reply;
    r->pre_vote = m->pre_vote;
    r->granted = grant;
    if (grant && m->pre_vote)
        r->term = m->term; // the pre-candidate counts replies for the term it asked for
    if (grant && !m->pre_vote) {
        self->vote = m->from;
        s_reset_timer (self); // granting a vote defers our own candidacy
    }
}

void
zkv_raft_on_request_vote_reply (zkv_raft_t *self, const zkv_request_vote_reply_t *m)
{
    int slot = zkv_raft_voter_slot (self, m->from);
    if (m->pre_vote) {
        if (self->role != ZKV_ROLE_PRE_CANDIDATE || self->prevotes_term != self->term + 1)
            return;
        // Granted pre-votes carry the term asked for, refusals the voter's (our own) term.
        if (m->granted ? m->term != self->term + 1 : m->term != self->term)
            return;
        // A duplicate counts once; a later grant may replace an earlier refusal.
        if (self->prevotes[slot] == 1 || (self->prevotes[slot] == 2 && !m->granted))
            return;
        self->prevotes[slot] = m->granted ? 1 : 2;
        if (s_tally (self, self->prevotes, 1) >= zkv_raft_quorum (self))
            s_become_candidate (self);
        else if (s_tally (self, self->prevotes, 2) >= zkv_raft_quorum (self))
            zkv_raft_become_follower (self, self->term, 0);
        return;
    }
    // Real votes count while we are still in the term we asked them for, even if our
    // candidacy timed out into a PreVote round meanwhile: votes are per term (Figure 2), and
    // with delayed replies this is what lets an election finish.
    if (m->term != self->term || self->votes_term != self->term || self->vote != self->cfg.id ||
        (self->role != ZKV_ROLE_CANDIDATE && self->role != ZKV_ROLE_PRE_CANDIDATE))
        return;
    if (self->votes[slot])
        return; // a duplicate counts once
    self->votes[slot] = m->granted ? 1 : 2;
    if (s_tally (self, self->votes, 1) >= zkv_raft_quorum (self))
        s_become_leader (self);
    else if (self->role == ZKV_ROLE_CANDIDATE &&
             s_tally (self, self->votes, 2) >= zkv_raft_quorum (self))
        zkv_raft_become_follower (self, self->term, 0);
}
