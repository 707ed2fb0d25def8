// Unit tests for cluster/zkv_auth.c: which peer messages an authenticated sender may send, and
// what a read-only (monitor) key may ask.
#include "zkv_test.h"

#include "zkv_auth.h"

// Every Raft message names its sender: believed only from the node whose key sent it.
static void
test_raft_from_its_node_only (void)
{
    const zkv_msg_type_t raft[] = {ZKV_MSG_REQUEST_VOTE,     ZKV_MSG_REQUEST_VOTE_REPLY,
                                   ZKV_MSG_APPEND_ENTRIES,   ZKV_MSG_APPEND_ENTRIES_REPLY,
                                   ZKV_MSG_INSTALL_SNAPSHOT, ZKV_MSG_INSTALL_SNAPSHOT_REPLY};
    for (size_t i = 0; i < sizeof raft / sizeof raft[0]; i++) {
        zkv_msg_t m = {.type = raft[i]};
        m.u.hdr.from = 3;
        CHECK_EQ_U64 (zkv_auth_claimed (&m), 3);
        CHECK (zkv_auth_peer (&m, 3));
        CHECK (!zkv_auth_peer (&m, 2));              // node 2's key, claiming node 3
        CHECK (!zkv_auth_peer (&m, 0));              // a key that is no node's
        CHECK (zkv_auth_peer (&m, ZKV_AUTH_ANYONE)); // plain text: nothing to check
    }
}

// A forward names the node that waits for its answer; a forward's reply names nobody (the
// frontend matches it to the node the request was forwarded to).
static void
test_forwards (void)
{
    zkv_msg_t f = {.type = ZKV_MSG_FORWARD_REQUEST};
    f.u.forward_request.origin_node = 5;
    CHECK (zkv_auth_peer (&f, 5));
    CHECK (!zkv_auth_peer (&f, 4));
    CHECK (!zkv_auth_peer (&f, 0));
    zkv_msg_t r = {.type = ZKV_MSG_FORWARD_REPLY};
    CHECK_EQ_U64 (zkv_auth_claimed (&r), 0);
    CHECK (zkv_auth_peer (&r, 4));
    CHECK (!zkv_auth_peer (&r, 0));
}

// A monitor reads status and configurations, and nothing of the keys.
static void
test_monitor (void)
{
    zkv_msg_t m = {.type = ZKV_MSG_STATUS_REQUEST};
    CHECK (zkv_auth_monitor (&m));
    m.type = ZKV_MSG_CONFIG_REQUEST;
    CHECK (zkv_auth_monitor (&m));
    m = (zkv_msg_t){.type = ZKV_MSG_CLIENT_REQUEST};
    m.u.client_request.op = ZKV_OP_QUERY;
    CHECK (zkv_auth_monitor (&m));
    const uint64_t denied[] = {ZKV_OP_GET,  ZKV_OP_PUT,  ZKV_OP_APPEND, ZKV_OP_JOIN, ZKV_OP_LEAVE,
                               ZKV_OP_MOVE, ZKV_OP_PULL, ZKV_OP_HAVE,   ZKV_OP_SNAPSHOT, ZKV_OP_NODES, 0, 999};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        m.u.client_request.op = denied[i];
        CHECK (!zkv_auth_monitor (&m));
    }
    m = (zkv_msg_t){.type = ZKV_MSG_APPEND_ENTRIES};
    CHECK (!zkv_auth_monitor (&m));
    // A save copies every value: a client key's, never a monitor's.
    m = (zkv_msg_t){.type = ZKV_MSG_SNAPSHOT_REQUEST};
    CHECK (!zkv_auth_monitor (&m));
}

ZKV_TEST_MAIN (TEST (test_raft_from_its_node_only) TEST (test_forwards) TEST (test_monitor))
