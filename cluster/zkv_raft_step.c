// Raft message intake: addressing checks, the term rules of §5.1, dispatch to the handlers.
#include "zkv_raft_int.h"

static bool
s_is_raft_msg (zkv_msg_type_t type)
{
    switch (type) {
    case ZKV_MSG_REQUEST_VOTE:
    case ZKV_MSG_REQUEST_VOTE_REPLY:
    case ZKV_MSG_APPEND_ENTRIES:
    case ZKV_MSG_APPEND_ENTRIES_REPLY:
    case ZKV_MSG_INSTALL_SNAPSHOT:
    case ZKV_MSG_INSTALL_SNAPSHOT_REPLY:
        return true;
    default:
        return false;
    }
}

// Answers a message from an older term so that a stale leader or candidate learns ours
// (etcd does the same: without it a deposed leader cut off by CheckQuorum/PreVote lingers).
static void
s_reply_stale (zkv_raft_t *self, const zkv_msg_t *msg)
{
    const zkv_raft_hdr_t *h = &msg->u.hdr;
    switch (msg->type) {
    case ZKV_MSG_APPEND_ENTRIES: {
        zkv_msg_t *r = zkv_raft_send (self, ZKV_MSG_APPEND_ENTRIES_REPLY, h->from);
        r->u.append_entries_reply.ctx = msg->u.append_entries.ctx;
        break;
    }
    case ZKV_MSG_INSTALL_SNAPSHOT: {
        zkv_msg_t *r = zkv_raft_send (self, ZKV_MSG_INSTALL_SNAPSHOT_REPLY, h->from);
        r->u.install_snapshot_reply.last_index = msg->u.install_snapshot.last_index;
        break;
    }
    case ZKV_MSG_REQUEST_VOTE:
        if (msg->u.request_vote.pre_vote) {
            zkv_msg_t *r = zkv_raft_send (self, ZKV_MSG_REQUEST_VOTE_REPLY, h->from);
            r->u.request_vote_reply.pre_vote = true;
        }
        break; // a stale real candidate learns our term from the next leader's messages
    default:
        break;
    }
}

int
zkv_raft_step (zkv_raft_t *self, const zkv_msg_t *msg)
{
    if (!msg || !s_is_raft_msg (msg->type))
        return ZKV_ETYPE;
    const zkv_raft_hdr_t *h = &msg->u.hdr;
    if (h->group != self->cfg.group || h->to != self->cfg.id || h->from == self->cfg.id ||
        zkv_raft_voter_slot (self, h->from) < 0)
        return ZKV_EINVAL;

    // A term far beyond ours is a peer that is wrong (a bug, a bit flip, a forgery), not one
    // ahead of us: believing it would make every later term ours, and a term of 2^64 - 1 would
    // leave no term to campaign in. A node with no term yet (empty) takes any.
    if (h->term > self->term && self->term > 0 && self->cfg.max_term_jump &&
        h->term - self->term > self->cfg.max_term_jump) {
        self->terms_refused++;
        return 0;
    }
    if (h->term > self->term) {
        if (msg->type == ZKV_MSG_REQUEST_VOTE) {
            // Leader stickiness: a node with a live leader ignores vote requests (§9.6).
            if (zkv_raft_in_lease (self))
                return 0;
            // A pre-vote never changes the voter's term.
            if (!msg->u.request_vote.pre_vote)
                zkv_raft_become_follower (self, h->term, 0);
        } else if (msg->type == ZKV_MSG_REQUEST_VOTE_REPLY && msg->u.request_vote_reply.pre_vote &&
                   msg->u.request_vote_reply.granted) {
            // A granted pre-vote carries the term we asked for: not a newer term.
        } else {
            // §5.1: a newer term makes us a follower; appends and snapshots name the leader.
            uint64_t leader =
                msg->type == ZKV_MSG_APPEND_ENTRIES || msg->type == ZKV_MSG_INSTALL_SNAPSHOT
                    ? h->from
                    : 0;
            zkv_raft_become_follower (self, h->term, leader);
        }
    } else if (h->term < self->term) {
        s_reply_stale (self, msg);
        return 0;
    }

    switch (msg->type) {
    case ZKV_MSG_REQUEST_VOTE:
        zkv_raft_on_request_vote (self, &msg->u.request_vote);
        break;
    case ZKV_MSG_REQUEST_VOTE_REPLY:
        zkv_raft_on_request_vote_reply (self, &msg->u.request_vote_reply);
        break;
    case ZKV_MSG_APPEND_ENTRIES:
        zkv_raft_on_append (self, &msg->u.append_entries);
        break;
    case ZKV_MSG_APPEND_ENTRIES_REPLY:
        zkv_raft_on_append_reply (self, &msg->u.append_entries_reply);
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT:
        zkv_raft_on_install_snapshot (self, &msg->u.install_snapshot);
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT_REPLY:
        zkv_raft_on_install_snapshot_reply (self, &msg->u.install_snapshot_reply);
        break;
    default:
        break;
    }
    return 0;
}

bool
zkv_raft_msg_urgent (const zkv_msg_t *msg)
{
    switch (msg->type) {
    case ZKV_MSG_REQUEST_VOTE:
    case ZKV_MSG_REQUEST_VOTE_REPLY:
    case ZKV_MSG_APPEND_ENTRIES_REPLY:
    case ZKV_MSG_INSTALL_SNAPSHOT_REPLY:
        return true;
    case ZKV_MSG_APPEND_ENTRIES:
        return msg->u.append_entries.entries.count == 0;
    default:
        return false;
    }
}
