// The one table of every zkv message: name, wire id and fields. Everything else is generated.
//
// Each message is a row X (id, name, NAME, FIELDS) where FIELDS names a macro listing its fields as
// F (TYPE, field, "why it exists"). Field types: U64, BOOL, BYTES (owned byte string), U64S
// (owned array of u64) and ENTRIES (owned array of log entries). On the wire a message is the msgpack array
// [version, id, field1, field2, ...] in table order; see zkv_msg.h.
//
// Adding a field changes the wire format: bump ZKV_PROTOCOL_VERSION.
#ifndef ZKV_MSG_TABLE_H
#define ZKV_MSG_TABLE_H

// Version 1 included the client protocol (ids 20..26). Version 2: replies name the
// configuration the node routes by (config), which clients fetch with config_request.
// Version 3: shard migration; a client request names the group it is meant for (group),
// status replies carry each group's configuration and shard states. Version 4: configurations
// carry public keys. Version 5: client sessions expire (cluster/zkv_kv.h, "Client sessions"):
// log time in commands (time_ms and the session policy), replies (log_ms) and dedup records
// (last_ms), a request's session_t0, a shard's evicted_through. Version 6: Delete, conditional
// writes (cond, expect, expect_rev in requests and commands), per-key revisions (in replies,
// and stored in front of every value); status replies carry the node's uptime, version and
// each follower's lag; the zkv.node.stats event (event_stats).
// Status replies also name the node's event endpoint: a status page subscribes to nodes its
// config file does not declare.
// Backups (a group's state saved through the client endpoint: snapshot_request /
// snapshot_reply; the backup file's records; the controller's nodes command that a restore
// logs).
#define ZKV_PROTOCOL_VERSION 6

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
    F (U64, conflict_term, "on failure: conflicting entry's term; 0 log too short; UINT64_MAX needs a snapshot") \
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

// ---------------------------------------------------------------------------------------------
// Client protocol (ids 20..). These messages do NOT start with ZKV_RAFT_HEADER: they never reach
// the Raft core, and msg->u.hdr is meaningless for them (zkv_msg_is_raft says which are Raft's).

// First wire id of the non-Raft messages.
#define ZKV_MSG_FIRST_CLIENT_ID 20

// Operation codes of client_request.op, forward_request.op and kv_command.op. The KV service's,
// then the shard controller's (group 0): their value is a ctrl_* message below, a query's key
// the configuration number (8 bytes, big-endian; empty: the latest).
#define ZKV_OP_GET 1
#define ZKV_OP_PUT 2
#define ZKV_OP_APPEND 3
#define ZKV_OP_JOIN 4
#define ZKV_OP_LEAVE 5
#define ZKV_OP_MOVE 6
#define ZKV_OP_QUERY 7
// Between shard groups (the shard mover's calls; the key is the message named):
#define ZKV_OP_PULL 8 // a chunk of a shard the group hands off (key: shard_pull, reply: shard_chunk)
#define ZKV_OP_HAVE 9 // does the group hold a shard of a configuration (key: shard_ref)
// In a shard group's log only, never accepted from a client:
#define ZKV_OP_CONFIG 10 // the group starts a configuration (value: config_reply)
#define ZKV_OP_CHUNK 11  // a chunk of a shard being pulled is installed (value: shard_chunk)
#define ZKV_OP_GC 12     // a handed-off shard the new owner holds is deleted (key: shard_ref)
// The KV service's again (added in protocol 6):
#define ZKV_OP_DELETE 13 // removes the key (a missing key: nothing to do, revision 0)

// Conditions a KV write (Put, Append, Delete) may carry (client_request.cond): the write applies
// only if the key's current state matches, else it is answered ZKV_ECOMPARE with the key's
// current revision and changes nothing. A compare-and-set is a conditional Put.
#define ZKV_COND_NONE 0     // unconditional
#define ZKV_COND_VALUE 1    // the key exists and its value is expect
#define ZKV_COND_REVISION 2 // the key's revision is expect_rev (0: the key does not exist)

// The fields a client request carries; shared by client_request and forward_request so the two
// cannot drift apart.
#define ZKV_CLIENT_REQUEST_FIELDS(F)                                                       \
    F (U64, client_id, "client's unique id (dedup key)")                                   \
    F (U64, seq, "per-client sequence number, from 1; a retry repeats it")                 \
    F (U64, op, "a ZKV_OP_* code")                                 \
    F (BYTES, key, "the key")                                                              \
    F (BYTES, value, "put / append value, empty for a get")                                \
    F (U64, deadline_ms, "client's remaining patience in ms, 0 = none (drop stale work)")    \
    F (U64, session_t0, "newest log_ms the client had learned when it first sent this request, 0 none") \
    F (U64, cond, "ZKV_COND_*: a write applies only if the key matches (0: always)")       \
    F (BYTES, expect, "ZKV_COND_VALUE: the value the key must hold")                      \
    F (U64, expect_rev, "ZKV_COND_REVISION: the revision the key must have (0: absent)")

// The fields of an answer; shared by client_reply and forward_reply.
#define ZKV_CLIENT_REPLY_FIELDS(F)                                                         \
    F (U64, client_id, "echo of the request's client_id")                                  \
    F (U64, seq, "echo of the request's seq")                                              \
    F (U64, status, "0 ok, else the positive value of a ZKV_E* code")                      \
    F (BYTES, value, "a get's value")                                                      \
    F (U64, leader, "node id of the group's leader as far as known, 0 unknown")            \
    F (BYTES, error, "human-readable error, empty when ok")                                \
    F (U64, config, "number of the configuration the answering node routes by, 0 unknown")  \
    F (U64, log_ms, "the answering group's log time (ms), 0 unknown: a client's session_t0") \
    F (U64, revision, "a write's new revision; a get's, or a failed condition's, current one (0: none)")

#define ZKV_FIELDS_client_request(F)                                                       \
    ZKV_CLIENT_REQUEST_FIELDS (F)                                                          \
    F (U64, group, "the group the client routes it to by its configuration, 0: the node routes it")

#define ZKV_FIELDS_client_reply(F) ZKV_CLIENT_REPLY_FIELDS (F)

// The payload of a KV group's NORMAL log entries: a Put or Append. Gets are served by ReadIndex
// and never logged.
#define ZKV_FIELDS_kv_command(F)                                                           \
    F (U64, client_id, "client's unique id (dedup key)")                                   \
    F (U64, seq, "client's sequence number")                                               \
    F (U64, op, "ZKV_OP_PUT, ZKV_OP_APPEND or ZKV_OP_DELETE")                              \
    F (BYTES, key, "the key")                                                              \
    F (BYTES, value, "the value to put or append")                                         \
    F (U64, session_t0, "the request's session_t0 (checked when no session is recorded)")  \
    F (U64, time_ms, "the proposing leader's clock (ms), never below the log time it knew") \
    F (U64, session_ttl_ms, "the leader's session policy: idle sessions expire after this") \
    F (U64, max_sessions, "... and the group keeps at most this many (0: no limit)")       \
    F (U64, cond, "the request's ZKV_COND_*")                                              \
    F (BYTES, expect, "ZKV_COND_VALUE: the value the key must hold")                      \
    F (U64, expect_rev, "ZKV_COND_REVISION: the revision the key must have (0: absent)")

#define ZKV_FIELDS_status_request(F)                                                       \
    F (U64, nonce, "echoed in the reply, so a client can match the two")

// A node's view of every group it hosts: parallel arrays, one element per group.
#define ZKV_FIELDS_status_reply(F)                                                         \
    F (U64, node, "answering node id")                                                     \
    F (U64, nonce, "echo of the request's nonce")                                          \
    F (U64S, groups, "group ids hosted by the node")                                       \
    F (U64S, roles, "zkv_role_t per group")                                                \
    F (U64S, terms, "current term per group")                                              \
    F (U64S, leaders, "known leader per group, 0 unknown")                                 \
    F (U64S, commits, "commit index per group")                                            \
    F (U64S, applieds, "applied index per group")                                          \
    F (U64S, last_indexes, "last log index per group")                                     \
    F (U64S, snapshot_indexes, "snapshot index per group")                                 \
    F (U64S, log_bytes, "log payload bytes per group")                                      \
    F (U64S, configs, "configuration number each group applied (0: none, or not a shard group)") \
    F (U64S, data_bytes, "approximate bytes each group's state machine keeps on disk")         \
    F (U64, nshards, "shards of the key space (0: the node follows no configuration)")     \
    F (BYTES, shard_states, "nshards bytes per group in groups order: zkv_shard_state_t of each shard") \
    F (U64, uptime_ms, "time since the node started")                                      \
    F (BYTES, version, "the node's zkv version")                                           \
    F (U64S, follower_counts, "followers listed for each group (0 unless the node leads it)") \
    F (U64S, follower_ids, "the followers, group after group")                             \
    F (U64S, follower_lags, "each one's lag: the leader's last index minus its match index") \
    F (BYTES, events, "the node's event endpoint (where its PUB socket is bound)")

// A non-leader relays a client request to its group's leader over the peer transport.
#define ZKV_FIELDS_forward_request(F)                                                      \
    F (U64, group, "group whose leader should serve it")                                   \
    F (U64, origin_node, "node that received the client request and waits for the reply")  \
    F (U64, fwd_id, "origin's id of this forward, echoed in the reply")                    \
    ZKV_CLIENT_REQUEST_FIELDS (F)

#define ZKV_FIELDS_forward_reply(F)                                                        \
    F (U64, group, "group that served it")                                                 \
    F (U64, fwd_id, "echo of the forward_request's fwd_id")                                \
    ZKV_CLIENT_REPLY_FIELDS (F)

// The configuration a node routes by (zkv_routing.h): which group serves each shard, and each
// group's members. Clients cache it and fetch it again when told "wrong group" or when a reply
// names a newer configuration number.
// Where nodes are: a configuration names its members' endpoints, so that a node started from
// an older config file learns new peers from the controller (zkv_routing.h).
#define ZKV_NODE_ENDPOINT_FIELDS(F)                                                        \
    F (U64S, node_ids, "nodes whose endpoints follow, ascending")                          \
    F (BYTES, peer_endpoints, "their peer endpoints, one per line, in node_ids order")     \
    F (BYTES, client_endpoints, "their client endpoints, one per line, in node_ids order")  \
    F (BYTES, public_keys, "their CURVE public keys (Z85), one per line, '-' for none")

#define ZKV_FIELDS_config_request(F)                                                       \
    F (U64, nonce, "echoed in the reply, so a client can match the two")

#define ZKV_FIELDS_config_reply(F)                                                         \
    F (U64, node, "answering node id")                                                     \
    F (U64, nonce, "echo of the request's nonce")                                          \
    F (U64, num, "configuration number, from 1; a higher one is newer")                    \
    F (U64S, shard_groups, "the group serving each shard, indexed by shard")               \
    F (U64S, group_ids, "every group of the configuration, ascending")                     \
    F (U64S, group_sizes, "number of members of each group, in group_ids order")           \
    F (U64S, members, "the members' node ids, group after group (group_sizes says where)") \
    ZKV_NODE_ENDPOINT_FIELDS (F)                                                           \
    F (U64, log_ms, "the newest log time of the answering node's groups, or its wall clock if later; 0 unknown")

// The shard controller's commands (the value of a client_request of op JOIN, LEAVE, MOVE). A
// query is answered with a config_reply (node 0, nonce 0) as the value.
#define ZKV_FIELDS_ctrl_join(F)                                                            \
    F (U64S, group_ids, "groups joining, ascending, none 0 and none in the configuration")  \
    F (U64S, group_sizes, "number of members of each, in group_ids order")                 \
    F (U64S, members, "their members' node ids, group after group")                        \
    ZKV_NODE_ENDPOINT_FIELDS (F)

#define ZKV_FIELDS_ctrl_leave(F)                                                           \
    F (U64S, group_ids, "groups leaving, none 0, each in the configuration")

#define ZKV_FIELDS_ctrl_move(F)                                                            \
    F (U64, shard, "the shard")                                                            \
    F (U64, group, "the group that serves it from now on, in the configuration, not 0")

// Shard migration (cluster/zkv_kv_shards.h). A shard of a configuration.
#define ZKV_FIELDS_shard_ref(F)                                                            \
    F (U64, num, "configuration number")                                                   \
    F (U64, shard, "the shard")

// Where a pull reads from: a shard is streamed as its dedup records in client id order (phase
// 0), then its keys in order (phase 1).
#define ZKV_SHARD_POS_FIELDS(F, p)                                                         \
    F (U64, p##phase, "0: dedup records from client, 1: data from key")                    \
    F (U64, p##client, "phase 0: the first client id wanted")                              \
    F (BYTES, p##key, "phase 1: the first key wanted (empty: the shard's first)")

#define ZKV_FIELDS_shard_pull(F)                                                           \
    F (U64, num, "configuration in which the puller gained the shard")                     \
    F (U64, shard, "the shard")                                                            \
    ZKV_SHARD_POS_FIELDS (F, )                                                             \
    F (U64, max_bytes, "records' bytes wanted at most (at least one record is sent)")

// A chunk of a shard: whole kv_snap_dedup and kv_snap_item records, from a position to the
// next. The puller logs it (ZKV_OP_CHUNK); it installs only at the position the shard's
// state expects, so a chunk logged twice, or by a deposed leader, installs once.
#define ZKV_FIELDS_shard_chunk(F)                                                          \
    F (U64, num, "configuration in which the puller gained the shard")                     \
    F (U64, shard, "the shard")                                                            \
    ZKV_SHARD_POS_FIELDS (F, )                                                             \
    ZKV_SHARD_POS_FIELDS (F, next_)                                                        \
    F (BOOL, done, "the last chunk: the shard is whole")                                   \
    F (BYTES, records, "kv_snap_dedup (phase 0) or kv_snap_item (phase 1) records")        \
    F (U64, evicted_through, "the shard's evicted_through (cluster/zkv_kv.h, Client sessions)")

// The replicated state of one shard in a shard group (stored under the group's meta shard).
#define ZKV_FIELDS_shard_meta(F)                                                          \
    F (U64, state, "zkv_shard_state_t")                                                    \
    F (U64, num, "configuration in which it entered the state")                            \
    F (U64, peer, "pulling: the group pulled from; handed off: the group it goes to")      \
    ZKV_SHARD_POS_FIELDS (F, )                                                             \
    F (U64, chunks, "chunks installed so far (pulling)")                                   \
    F (U64, bytes, "records' bytes installed so far (pulling)")

// ---------------------------------------------------------------------------------------------
// Commands between the actors of one zkvd (ids 60..79): inproc only, never on the network, and
// encoded and checked by the same codec as everything else. A command that carries a wire
// message (peer_send, publish) is followed by a second frame holding it, already encoded, so
// that it moves without a copy.

// frontend -> group: a client's request (or one a peer forwarded) routed to the group.
#define ZKV_FIELDS_group_request(F)                                                        \
    F (U64, group, "the group")                                                            \
    F (U64, handle, "the frontend's id of the request, echoed in the reply")               \
    ZKV_CLIENT_REQUEST_FIELDS (F)

// group -> frontend: the answer to a group_request.
#define ZKV_FIELDS_group_reply(F)                                                          \
    F (U64, group, "the group")                                                            \
    F (U64, handle, "echo of the group_request's handle")                                  \
    ZKV_CLIENT_REPLY_FIELDS (F)

// group -> frontend: the group's state on this node (routing and `zkv status`). Sent when the
// role, term or leader changes, and at most once a tick otherwise.
#define ZKV_FIELDS_group_state(F)                                                         \
    F (U64, group, "the group")                                                            \
    F (U64, role, "zkv_role_t")                                                            \
    F (U64, term, "current term")                                                          \
    F (U64, leader, "known leader, 0 unknown")                                             \
    F (U64, commit, "commit index")                                                        \
    F (U64, applied, "index the state machine applied, UINT64_MAX while its state is missing") \
    F (U64, last_index, "last log index")                                                  \
    F (U64, snapshot_index, "index of the last snapshot")                                  \
    F (U64, log_bytes, "payload bytes in the log")                                         \
    F (U64, sm_bytes, "approximate bytes of the state machine's state")                   \
    F (U64, config, "configuration number the group applied (0: none)")                     \
    F (BYTES, shard_states, "one zkv_shard_state_t byte per shard (empty: not a shard group)") \
    F (U64, log_ms, "the state machine's log time (0: none)")                             \
    F (U64S, followers, "leader: its followers (empty otherwise)")                          \
    F (U64S, matches, "leader: the highest index each follower is known to hold")

// group -> frontend: a request of the group's own (the shard mover's) to another group.
#define ZKV_FIELDS_group_call(F)                                                           \
    F (U64, group, "the calling group")                                                    \
    F (U64, call_id, "the caller's id of it, echoed in the reply")                         \
    F (U64, to_group, "the group called")                                                  \
    F (U64S, members, "its members, as the caller's configuration says")                   \
    F (U64, op, "ZKV_OP_QUERY, ZKV_OP_PULL or ZKV_OP_HAVE")                                \
    F (BYTES, key, "the op's key")                                                         \
    F (U64, deadline_ms, "answer \"timed out\" after this long")

// frontend -> transport: a node the configuration names (connect to it if it is new).
#define ZKV_FIELDS_peer_add(F)                                                             \
    F (U64, node, "its id")                                                                \
    F (BYTES, endpoint, "its peer endpoint")                                               \
    F (BYTES, public_key, "its CURVE public key (Z85), empty for none")

// frontend -> group: the answer to a group_call.
#define ZKV_FIELDS_group_call_reply(F)                                                     \
    F (U64, group, "the calling group")                                                    \
    F (U64, call_id, "echo of the call's call_id")                                         \
    F (U64, status, "0 ok, else the positive value of a ZKV_E* code")                      \
    F (BYTES, value, "the answer's value")

// group -> frontend: a configuration the group applied, so the node routes by the newest it
// knows.
#define ZKV_FIELDS_group_config(F)                                                         \
    F (U64, group, "the group")                                                            \
    F (BYTES, config, "the configuration: an encoded config_reply")

// any actor -> transport: send the wire message in the next frame to a peer node.
#define ZKV_FIELDS_peer_send(F)                                                            \
    F (U64, to, "the peer node id")                                                        \
    F (BOOL, urgent, "goes on the peer's urgent connection (zkv_raft_msg_urgent)")

// any actor -> event publisher: publish the event body in the next frame under topic.
#define ZKV_FIELDS_publish(F)                                                              \
    F (BYTES, topic, "the event's dotted topic (docs/events.md)")

// ---------------------------------------------------------------------------------------------
// Events (ids 40..): bodies of what a node publishes on its PUB socket. The topic frame before
// the body names the event (zkv.node.started, zkv.raft.leader, ...); docs/events.md lists every
// topic and which body it carries.

// zkv.node.started, zkv.node.stopping.
#define ZKV_FIELDS_event_node(F)                                                           \
    F (U64, node, "publishing node id")                                                    \
    F (U64, time_ms, "wall-clock time of the event, ms since the Unix epoch")              \
    F (U64S, groups, "ids of the groups the node hosts")                                   \
    F (U64, pid, "process id of the zkvd")

// zkv.raft.*: one shape for every Raft event of one group on one node.
#define ZKV_FIELDS_event_raft(F)                                                           \
    F (U64, node, "publishing node id")                                                    \
    F (U64, time_ms, "wall-clock time of the event, ms since the Unix epoch")              \
    F (U64, group, "the group")                                                            \
    F (U64, term, "the node's current term in the group")                                  \
    F (U64, leader, "leader known in that term, 0 unknown")                                \
    F (U64, role, "the node's zkv_role_t in the group")                                    \
    F (U64, index, "the event's log index (see docs/events.md)")                           \
    F (U64, bytes, "snapshot size in bytes for snapshot events, else 0")

// zkv.client.error: a client request answered with an error.
#define ZKV_FIELDS_event_client_error(F)                                                   \
    F (U64, node, "publishing node id")                                                    \
    F (U64, time_ms, "wall-clock time of the event, ms since the Unix epoch")              \
    F (U64, group, "group the request was routed to, 0 unknown")                           \
    F (U64, client_id, "the request's client id")                                          \
    F (U64, seq, "the request's sequence number")                                          \
    F (U64, op, "the request's op")                                                        \
    F (U64, status, "positive value of the ZKV_E* code answered")                          \
    F (BYTES, error, "the error text answered")

// ---------------------------------------------------------------------------------------------
// KV snapshot records (ids 80..89): a group's state machine state as a sequence of records, one
// kv_snap_header, its n_dedup kv_snap_dedup records, then kv_snap_item records to the end
// (cluster/zkv_kv.h). Whole, it is zkv_kv_snapshot_write's blob; cut at record boundaries, the
// chunks of a streamed snapshot (install_snapshot.data). Never sent on their own.

#define ZKV_FIELDS_kv_snap_header(F)                                                       \
    F (U64, format, "record sequence format (ZKV_KV_SNAP_FORMAT in zkv_kv.h); others refused") \
    F (U64, group, "group whose state this is")                                            \
    F (U64, nshards, "the group's shard count; a receiver with another one refuses it")    \
    F (U64, applied, "last log index the state includes, at least 1")                      \
    F (U64, n_dedup, "kv_snap_dedup records that follow, before the first kv_snap_item")

// One client's exactly-once record (zkv_kv.h, "Exactly once").
#define ZKV_FIELDS_kv_snap_dedup(F)                                                        \
    F (U64, shard, "shard whose client table holds it")                                    \
    F (U64, client_id, "the client")                                                       \
    F (U64, seq, "the client's last sequence number applied, at least 1")                  \
    F (U64, status, "that request's reply status: 0 or the positive value of a ZKV_E* code") \
    F (BYTES, value, "that request's reply value")                                         \
    F (U64, last_ms, "log time of the client's last request applied on the shard")

// One key and its value; items come in (shard, key) order.
#define ZKV_FIELDS_kv_snap_item(F)                                                         \
    F (U64, shard, "shard of the key (zkv_kv_shard_of), checked by the receiver")          \
    F (BYTES, key, "the key, not empty")                                                   \
    F (BYTES, value, "its value")

// The session state of a KV group, stored under its meta shard (cluster/zkv_kv.h, "Client
// sessions"), so that snapshots and restarts carry it as they carry the shard states.
#define ZKV_FIELDS_kv_clock(F)                                                             \
    F (U64, log_ms, "the group's log time: the largest time_ms of the commands applied")

#define ZKV_FIELDS_kv_evicted(F)                                                           \
    F (U64, shard, "the shard")                                                            \
    F (U64, evicted_through, "largest last_ms of a session evicted from it (at least 1)")

// zkv.shard.*: one shape for every shard event of one group on one node.
#define ZKV_FIELDS_event_shard(F)                                                          \
    F (U64, node, "publishing node id")                                                    \
    F (U64, time_ms, "wall-clock time of the event, ms since the Unix epoch")              \
    F (U64, group, "the group")                                                            \
    F (U64, config, "the configuration number")                                            \
    F (U64, shard, "the shard (zkv.shard.config: the shards the group serves)")            \
    F (U64, peer, "the group pulled from, or handed to (0: none)")                         \
    F (U64, chunks, "chunks installed so far")                                             \
    F (U64, bytes, "records' bytes installed so far")

// zkv.node.stats: a node's core figures, every /cluster/stats_interval_ms; a subscriber that
// hears none from a node for a few intervals may take it for dead (docs/events.md).
// Per-group arrays are parallel to groups; follower_* list each group's followers (on the
// leader: follower_counts[i] of them for group i, in groups order).
#define ZKV_FIELDS_event_stats(F)                                                          \
    F (U64, node, "publishing node id")                                                    \
    F (U64, time_ms, "wall-clock time of the event, ms since the Unix epoch")              \
    F (U64, seq, "the event's number in this life of the node, from 1 (a gap: events lost)") \
    F (U64, interval_ms, "how often the node publishes it (/cluster/stats_interval_ms)")    \
    F (U64, uptime_ms, "time since the node started")                                      \
    F (BYTES, version, "zkv's version")                                                    \
    F (U64S, groups, "ids of the groups the node hosts")                                   \
    F (U64S, roles, "zkv_role_t per group")                                                \
    F (U64S, terms, "current term per group")                                              \
    F (U64S, leaders, "known leader per group, 0 unknown")                                 \
    F (U64S, commits, "commit index per group")                                            \
    F (U64S, applieds, "applied index per group")                                          \
    F (U64S, last_indexes, "last log index per group")                                     \
    F (U64S, follower_counts, "followers listed for each group (0 unless the node leads it)") \
    F (U64S, follower_ids, "the followers, group after group")                             \
    F (U64S, follower_lags, "each one's lag: leader's last index minus its match index")    \
    F (U64S, requests, "client requests answered by the node: get, put, append, other")    \
    F (U64S, requests_ok, "... of them done (ok, or not found)")                           \
    F (U64, forwarded, "client requests forwarded to another node's leader")               \
    F (U64, db_bytes, "bytes of the node's database on disk")
// ---------------------------------------------------------------------------------------------
// Backups (ids 90..99; cluster/zkv_backup.h, docs/design.md "Backup and restore"). A client
// saves a group's state with snapshot_request / snapshot_reply: the group's leader confirms it
// leads (ReadIndex), opens a view of its state machine at the applied index and streams the
// state machine's snapshot stream from it, chunk by chunk, as opaque bytes. A backup file
// holds such streams as backup_chunk records, and one backup_header.

// Not client ops: what the frontend hands a group for a snapshot_request (the request, encoded,
// as the key; the answer, an encoded snapshot_reply, as the value), and what a restore logs in
// the controller's group (value: ctrl_nodes). Refused in client_request.
#define ZKV_OP_SNAPSHOT 24
#define ZKV_OP_NODES 25

#define ZKV_FIELDS_snapshot_request(F)                                                     \
    F (U64, nonce, "echoed in the reply, so a client can match the two")                   \
    F (U64, group, "the group whose state is saved")                                       \
    F (U64, save_id, "0: begin a save (a view of the state after a ReadIndex round); else the save_id its begin answered") \
    F (U64, index, "with a save_id: the index its begin answered (checked)")               \
    F (U64, offset, "byte offset of the chunk wanted in the state machine's snapshot stream") \
    F (U64, max_bytes, "chunk bytes wanted at most (at least one record comes; the node caps it)") \
    F (U64, deadline_ms, "client's patience in ms, 0 = the node's default")

#define ZKV_FIELDS_snapshot_reply(F)                                                       \
    F (U64, node, "answering node id")                                                     \
    F (U64, nonce, "echo of the request's nonce")                                          \
    F (U64, group, "the group")                                                            \
    F (U64, status, "0 ok, else the positive value of a ZKV_E* code")                      \
    F (BYTES, error, "human-readable error, empty when ok")                                \
    F (U64, leader, "the group's leader as far as known, 0 unknown")                       \
    F (U64, save_id, "the save this chunk belongs to (ask for the next chunk with it)")    \
    F (U64, index, "applied index of the state saved")                                     \
    F (U64, term, "term of the entry at that index")                                       \
    F (BYTES, machine, "the group's state machine (\"kv\", \"controller\")")               \
    F (U64, config, "configuration number the state is in (0: none)")                      \
    F (BYTES, shard_states, "one zkv_shard_state_t per shard in that state (empty: not a shard group)") \
    F (U64, offset, "this chunk's byte offset in the stream")                              \
    F (BYTES, data, "the chunk: whole records of the state machine's snapshot stream")     \
    F (BOOL, done, "the stream's last chunk")

// The value of a ZKV_OP_NODES command: where the nodes of the latest configuration are now
// (a restore into other addresses and keys logs it; cluster/zkv_ctrl_sm.h).
#define ZKV_FIELDS_ctrl_nodes(F) ZKV_NODE_ENDPOINT_FIELDS (F)

// A backup file's records (cluster/zkv_backup.h): after a fixed prelude, backup_chunk records,
// then one backup_header describing them.
#define ZKV_FIELDS_backup_chunk(F)                                                         \
    F (U64, group, "the group whose stream this is part of")                               \
    F (U64, offset, "its byte offset in that stream")                                      \
    F (BOOL, done, "the stream's last chunk")                                              \
    F (BYTES, data, "the stream's bytes, as the group's leader sent them")

#define ZKV_FIELDS_backup_header(F)                                                        \
    F (U64, format, "ZKV_BACKUP_FORMAT (cluster/zkv_backup.h)")                            \
    F (U64, created_ms, "wall-clock time the save began, ms since the Unix epoch")          \
    F (U64, nshards, "shards of the key space")                                            \
    F (U64, config, "the controller's configuration number every shard group was in")      \
    F (U64S, shard_groups, "that configuration's group of each shard")                     \
    F (U64S, group_ids, "every group saved, ascending (0: the shard controller)")          \
    F (BYTES, machines, "each group's state machine, one per line, in group_ids order")    \
    F (U64S, group_sizes, "number of members of each group")                               \
    F (U64S, members, "their node ids, group after group")                                 \
    F (U64S, indexes, "applied index of each group's saved state")                         \
    F (U64S, terms, "term of that index")                                                  \
    F (U64S, configs, "configuration number each group's state is in (0: none)")           \
    F (U64S, offsets, "file offset of each group's first backup_chunk record")             \
    F (U64S, sizes, "bytes of each group's stream")                                        \
    F (U64S, chunks, "backup_chunk records of each group")

// X (wire id, name, NAME, fields macro). Wire ids are never reused. Ids below 20 are Raft
// messages (each starts with ZKV_RAFT_HEADER); ids from 20 are client and node protocol.
#define ZKV_MSG_TABLE(X)                                                                   \
    X (1, request_vote, REQUEST_VOTE, ZKV_FIELDS_request_vote)                                           \
    X (2, request_vote_reply, REQUEST_VOTE_REPLY, ZKV_FIELDS_request_vote_reply)                               \
    X (3, append_entries, APPEND_ENTRIES, ZKV_FIELDS_append_entries)                                       \
    X (4, append_entries_reply, APPEND_ENTRIES_REPLY, ZKV_FIELDS_append_entries_reply)                           \
    X (5, install_snapshot, INSTALL_SNAPSHOT, ZKV_FIELDS_install_snapshot)                                   \
    X (6, install_snapshot_reply, INSTALL_SNAPSHOT_REPLY, ZKV_FIELDS_install_snapshot_reply)     \
    X (20, client_request, CLIENT_REQUEST, ZKV_FIELDS_client_request)                                 \
    X (21, client_reply, CLIENT_REPLY, ZKV_FIELDS_client_reply)                                       \
    X (22, kv_command, KV_COMMAND, ZKV_FIELDS_kv_command)                                             \
    X (23, status_request, STATUS_REQUEST, ZKV_FIELDS_status_request)                                 \
    X (24, status_reply, STATUS_REPLY, ZKV_FIELDS_status_reply)                                       \
    X (25, forward_request, FORWARD_REQUEST, ZKV_FIELDS_forward_request)                              \
    X (26, forward_reply, FORWARD_REPLY, ZKV_FIELDS_forward_reply)                                   \
    X (27, config_request, CONFIG_REQUEST, ZKV_FIELDS_config_request)                                 \
    X (28, config_reply, CONFIG_REPLY, ZKV_FIELDS_config_reply)                                   \
    X (29, ctrl_join, CTRL_JOIN, ZKV_FIELDS_ctrl_join)                                           \
    X (30, ctrl_leave, CTRL_LEAVE, ZKV_FIELDS_ctrl_leave)                                        \
    X (31, ctrl_move, CTRL_MOVE, ZKV_FIELDS_ctrl_move)                                   \
    X (32, shard_ref, SHARD_REF, ZKV_FIELDS_shard_ref)                                   \
    X (33, shard_pull, SHARD_PULL, ZKV_FIELDS_shard_pull)                                \
    X (34, shard_chunk, SHARD_CHUNK, ZKV_FIELDS_shard_chunk)                             \
    X (35, shard_meta, SHARD_META, ZKV_FIELDS_shard_meta)                             \
    X (40, event_node, EVENT_NODE, ZKV_FIELDS_event_node)                                             \
    X (41, event_raft, EVENT_RAFT, ZKV_FIELDS_event_raft)                                             \
    X (42, event_client_error, EVENT_CLIENT_ERROR, ZKV_FIELDS_event_client_error) \
    X (43, event_shard, EVENT_SHARD, ZKV_FIELDS_event_shard) \
    X (60, group_request, GROUP_REQUEST, ZKV_FIELDS_group_request)                                   \
    X (61, group_reply, GROUP_REPLY, ZKV_FIELDS_group_reply)                                         \
    X (62, group_state, GROUP_STATE, ZKV_FIELDS_group_state)                                      \
    X (63, peer_send, PEER_SEND, ZKV_FIELDS_peer_send)                                               \
    X (64, publish, PUBLISH, ZKV_FIELDS_publish) \
    X (65, group_call, GROUP_CALL, ZKV_FIELDS_group_call) \
    X (66, group_call_reply, GROUP_CALL_REPLY, ZKV_FIELDS_group_call_reply) \
    X (67, group_config, GROUP_CONFIG, ZKV_FIELDS_group_config) \
    X (68, peer_add, PEER_ADD, ZKV_FIELDS_peer_add) \
    X (80, kv_snap_header, KV_SNAP_HEADER, ZKV_FIELDS_kv_snap_header) \
    X (81, kv_snap_dedup, KV_SNAP_DEDUP, ZKV_FIELDS_kv_snap_dedup) \
    X (82, kv_snap_item, KV_SNAP_ITEM, ZKV_FIELDS_kv_snap_item) \
    X (83, kv_clock, KV_CLOCK, ZKV_FIELDS_kv_clock) \
    X (84, kv_evicted, KV_EVICTED, ZKV_FIELDS_kv_evicted) \
    X (44, event_stats, EVENT_STATS, ZKV_FIELDS_event_stats) \
    X (90, snapshot_request, SNAPSHOT_REQUEST, ZKV_FIELDS_snapshot_request) \
    X (91, snapshot_reply, SNAPSHOT_REPLY, ZKV_FIELDS_snapshot_reply) \
    X (92, ctrl_nodes, CTRL_NODES, ZKV_FIELDS_ctrl_nodes) \
    X (93, backup_chunk, BACKUP_CHUNK, ZKV_FIELDS_backup_chunk) \
    X (94, backup_header, BACKUP_HEADER, ZKV_FIELDS_backup_header)

#endif
