// The one table of every zkv message: name, wire id and fields. Everything else is generated.
//
// Each message is a row X (id, name, NAME, FIELDS) where FIELDS names a macro listing its fields as
// F (TYPE, field, "why it exists"). Field types: U64, BOOL, BYTES (owned byte string) and
// ENTRIES (owned array of log entries). On the wire a message is the msgpack array
// [version, id, field1, field2, ...] in table order; see zkv_msg.h.
//
// Adding a field changes the wire format: bump ZKV_PROTOCOL_VERSION.
#ifndef ZKV_MSG_TABLE_H
#define ZKV_MSG_TABLE_H

#define ZKV_PROTOCOL_VERSION 1

// Every Raft message starts with these four fields, in this order, so that the core can read
// them through zkv_raft_hdr_t whatever the message (C11 6.5.2.3, common initial sequence).
#define ZKV_RAFT_HEADER(F)                                                                 \
    F (U64, group, "replication group the message belongs to")                             \
    F (U64, from, "sending node id")                                                       \
    F (U64, to, "receiving node id")                                                       \
    F (U64, term, "sender's current term (Figure 2)")

// RequestVote, also used for PreVote (dissertation §9.6): a pre-vote carries term + 1
// without the candidate having raised its own term.
#define ZKV_FIELDS_request_vote(F)                                                         \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (BOOL, pre_vote, "true for a PreVote round")                                         \
    F (U64, last_log_index, "candidate's last log index (§5.4.1)")                         \
    F (U64, last_log_term, "candidate's last log term (§5.4.1)")

#define ZKV_FIELDS_request_vote_reply(F)                                                   \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (BOOL, pre_vote, "answers a PreVote round")                                          \
    F (BOOL, granted, "vote granted")

#define ZKV_FIELDS_append_entries(F)                                                       \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (U64, prev_log_index, "index of the entry before the new ones")                      \
    F (U64, prev_log_term, "term of prev_log_index")                                       \
    F (U64, commit, "leader's commit index")                                               \
    F (U64, ctx, "heartbeat round, echoed in the reply (CheckQuorum, ReadIndex)")          \
    F (ENTRIES, entries, "entries to store, empty for a heartbeat")

#define ZKV_FIELDS_append_entries_reply(F)                                                 \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (BOOL, success, "follower's log matched prev_log_index/term")                        \
    F (U64, match_index, "on success: last index known to match the leader")               \
    F (U64, conflict_index, "on failure: first index the leader should retry from")       \
    F (U64, conflict_term, "on failure: term of the conflicting entry, 0 if log too short") \
    F (U64, ctx, "echo of the request's ctx")

// InstallSnapshot in bounded chunks (Figure 13); resumable: the reply says which offset the
// follower expects next.
#define ZKV_FIELDS_install_snapshot(F)                                                     \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (U64, last_index, "last index the snapshot covers")                                  \
    F (U64, last_term, "term of last_index")                                               \
    F (U64, offset, "byte offset of this chunk in the snapshot")                           \
    F (U64, total_size, "size of the whole snapshot in bytes")                             \
    F (BOOL, done, "this is the last chunk")                                               \
    F (BYTES, data, "the chunk")

#define ZKV_FIELDS_install_snapshot_reply(F)                                               \
    ZKV_RAFT_HEADER (F)                                                                    \
    F (U64, last_index, "snapshot the reply is about")                                     \
    F (U64, next_offset, "next byte offset the follower expects")                          \
    F (BOOL, done, "the follower has installed the whole snapshot")

// X (wire id, name, NAME, fields macro). Wire ids are never reused.
#define ZKV_MSG_TABLE(X)                                                                   \
    X (1, request_vote, REQUEST_VOTE, ZKV_FIELDS_request_vote)                                           \
    X (2, request_vote_reply, REQUEST_VOTE_REPLY, ZKV_FIELDS_request_vote_reply)                               \
    X (3, append_entries, APPEND_ENTRIES, ZKV_FIELDS_append_entries)                                       \
    X (4, append_entries_reply, APPEND_ENTRIES_REPLY, ZKV_FIELDS_append_entries_reply)                           \
    X (5, install_snapshot, INSTALL_SNAPSHOT, ZKV_FIELDS_install_snapshot)                                   \
    X (6, install_snapshot_reply, INSTALL_SNAPSHOT_REPLY, ZKV_FIELDS_install_snapshot_reply)

#endif
