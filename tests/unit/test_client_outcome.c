// The pure client core's outcomes (zkv_client_core.h, "Outcomes"): what a failed request says of
// its effect, failing fast when no node can take it, and client endpoints (zkv_client_endpoint).
#include "zkv_test.h"

#include "zkv_client.h"
#include "zkv_client_core.h"

#include <stdbool.h>

#define streq(a, b) (strcmp ((a), (b)) == 0)

static const uint64_t s_ids[] = {1, 2, 3};

// A core of nodes 1..3 (indices 0..2), attempts of 100 ms, that knows a log time (its first
// write is sent at once, without fetching the configuration for one).
static void
s_init (zkv_ccore_t *core)
{
    zkv_ccore_init (core, s_ids, 3, 42, 100);
    zkv_ccore_saw_log_ms (core, 1000);
}

// The current send went out, and the node at `from` answered status (leader hint).
static zkv_cc_action_t
s_answer (zkv_ccore_t *core, int64_t now, uint64_t status, uint64_t leader)
{
    zkv_cc_action_t act = zkv_ccore_sent (core, now, true);
    if (act.kind != ZKV_CC_WAIT)
        return act;
    return zkv_ccore_reply (core, now, core->target, core->client_id, core->seq, status, leader);
}

// Runs a write until its deadline (1000) with every send answered status and no hint; returns
// the result.
static zkv_cc_action_t
s_write_answered (zkv_ccore_t *core, uint64_t first_status, uint64_t status)
{
    zkv_cc_action_t act = zkv_ccore_begin (core, 0, 1000, false);
    int64_t now = 0;
    bool first = true;
    for (int i = 0; i < 1000 && act.kind != ZKV_CC_DONE; i++) {
        if (act.kind == ZKV_CC_SEND) {
            act = s_answer (core, now, first ? first_status : status, 0);
            first = false;
        } else {
            now = act.wake_at;
            act = zkv_ccore_timer (core, now);
        }
    }
    return act;
}

// --- failing fast ------------------------------------------------------------------------------

// Nothing listens anywhere: once every node refused the connection the request ends, long
// before its deadline, as never sent.
static void
test_outcome_all_refused_fails_fast (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 5000, false);
    for (int i = 0; i < 3; i++) {
        CHECK (act.kind == ZKV_CC_SEND);
        act = zkv_ccore_sent (&core, 0, false); // not connected yet
    }
    CHECK (act.kind == ZKV_CC_WAIT); // a pause before the next round
    int64_t wake = act.wake_at;
    act = zkv_ccore_link (&core, 2, 0, ZKV_CC_LINK_REFUSED);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == wake);
    act = zkv_ccore_link (&core, 2, 1, ZKV_CC_LINK_REFUSED);
    CHECK (act.kind == ZKV_CC_WAIT);
    act = zkv_ccore_link (&core, 3, 2, ZKV_CC_LINK_REFUSED);
    CHECK (act.kind == ZKV_CC_DONE);
    CHECK_EQ_U64 (act.rc, ZKV_EUNREACHABLE);
    CHECK (core.why == ZKV_CC_WHY_UNREACHABLE);
    CHECK (!core.active);
    // The next request knows at its first failed send.
    act = zkv_ccore_begin (&core, 10, 5000, false);
    CHECK (act.kind == ZKV_CC_SEND);
    act = zkv_ccore_sent (&core, 10, false);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_EUNREACHABLE);
    zkv_ccore_fini (&core);
}

// One node up is enough to keep trying; refused, rejected (in the handshake, or closed during
// it) and unresolved all count as unreachable.
static void
test_outcome_one_reachable_node_keeps_trying (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 5000, false);
    act = zkv_ccore_link (&core, 0, 0, ZKV_CC_LINK_REFUSED);
    act = zkv_ccore_link (&core, 0, 1, ZKV_CC_LINK_REJECTED);
    act = zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_CONNECTED);
    CHECK (act.kind == ZKV_CC_WAIT); // its handshake runs
    act = zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_UP);
    CHECK (act.kind == ZKV_CC_WAIT);
    CHECK (!zkv_ccore_unreachable (&core, 2));
    // It goes away (closed after its handshake): down, reconnecting, not refused.
    act = zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_LOST);
    CHECK (act.kind == ZKV_CC_WAIT);
    CHECK (core.links[2] == ZKV_CC_NODE_DOWN);
    act = zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_RETRY);
    CHECK (act.kind == ZKV_CC_WAIT && core.links[2] == ZKV_CC_NODE_DOWN);
    // Its next connection is closed during the handshake: rejected, and now nobody is left.
    act = zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_CONNECTED);
    CHECK (act.kind == ZKV_CC_WAIT);
    act = zkv_ccore_link (&core, 1, 2, ZKV_CC_LINK_LOST);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == ZKV_EUNREACHABLE);
    CHECK (core.links[2] == ZKV_CC_NODE_REJECTED);
    zkv_ccore_fini (&core);
}

// A verdict holds across reconnect attempts until a connection is up again; a retry before any
// attempt means no attempt could start (the host name does not resolve).
static void
test_outcome_link_states (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_ccore_link (&core, 0, 0, ZKV_CC_LINK_REFUSED);
    zkv_ccore_link (&core, 0, 0, ZKV_CC_LINK_RETRY);
    CHECK (core.links[0] == ZKV_CC_NODE_REFUSED);
    zkv_ccore_link (&core, 0, 0, ZKV_CC_LINK_CONNECTED);
    CHECK (core.links[0] == ZKV_CC_NODE_REFUSED); // a handshake is no connection yet
    CHECK (zkv_ccore_unreachable (&core, 0));
    zkv_ccore_link (&core, 0, 0, ZKV_CC_LINK_UP);
    CHECK (core.links[0] == ZKV_CC_NODE_UP);
    CHECK (!zkv_ccore_unreachable (&core, 0));
    zkv_ccore_link (&core, 0, 1, ZKV_CC_LINK_RETRY);
    CHECK (core.links[1] == ZKV_CC_NODE_UNRESOLVED);
    CHECK (zkv_ccore_unreachable (&core, 1));
    zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_CONNECTED);
    zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_REJECTED);
    zkv_ccore_link (&core, 0, 2, ZKV_CC_LINK_LOST);
    CHECK (core.links[2] == ZKV_CC_NODE_REJECTED);
    CHECK (!zkv_ccore_unreachable (&core, 3)); // no such node
    zkv_ccore_fini (&core);
}

// Once the request has left this client it may have arrived: connections failing afterwards do
// not make it "not sent"; it ends at its deadline, its outcome unknown.
static void
test_outcome_sent_then_refused_stays_unknown (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    act = zkv_ccore_sent (&core, 0, true);
    CHECK (act.kind == ZKV_CC_WAIT);
    for (size_t i = 0; i < 3; i++) {
        act = zkv_ccore_link (&core, 5, i, ZKV_CC_LINK_REFUSED);
        CHECK (act.kind == ZKV_CC_WAIT);
    }
    int64_t now = 0;
    for (int rounds = 0; act.kind != ZKV_CC_DONE && rounds < 1000; rounds++) {
        if (act.kind == ZKV_CC_SEND)
            act = zkv_ccore_sent (&core, now, false); // nobody connected any more
        else
            act = zkv_ccore_timer (&core, now = act.wake_at);
    }
    CHECK_EQ_U64 (act.rc, ZKV_ETIMEOUT);
    CHECK (core.why == ZKV_CC_WHY_NO_REPLY);
    zkv_ccore_fini (&core);
}

// Nodes that never connect, and never say why (a host that drops the connection attempts): at
// the deadline the request was never sent, so it was not applied.
static void
test_outcome_never_connected_at_deadline (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 300, false);
    int64_t now = 0;
    for (int rounds = 0; act.kind != ZKV_CC_DONE && rounds < 1000; rounds++) {
        if (act.kind == ZKV_CC_SEND)
            act = zkv_ccore_sent (&core, now, false);
        else
            act = zkv_ccore_timer (&core, now = act.wake_at);
    }
    CHECK (act.kind == ZKV_CC_DONE);
    CHECK_EQ_U64 (act.rc, ZKV_EUNREACHABLE);
    CHECK (core.why == ZKV_CC_WHY_NOT_CONNECTED);
    zkv_ccore_fini (&core);
}

// --- refused or unknown --------------------------------------------------------------------------

// No quorum: every attempt answered "not the leader" (nobody leads): refused, never proposed,
// so not applied, and the result says which refusal.
static void
test_outcome_all_not_leader_is_refusal (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = s_write_answered (&core, ZKV_ENOTLEADER_VALUE, ZKV_ENOTLEADER_VALUE);
    CHECK (act.kind == ZKV_CC_DONE);
    CHECK_EQ_U64 (act.rc, ZKV_ENOTLEADER);
    CHECK (core.why == ZKV_CC_WHY_ALL_REFUSED);
    CHECK (core.request_sent && !core.maybe_applied);
    // So for "busy" (queues full) and "not ready" (a shard not yet pulled)...
    act = s_write_answered (&core, ZKV_EBUSY_VALUE, ZKV_EBUSY_VALUE);
    CHECK_EQ_U64 (act.rc, ZKV_EBUSY);
    act = s_write_answered (&core, ZKV_ENOTREADY_VALUE, ZKV_ENOTLEADER_VALUE);
    CHECK_EQ_U64 (act.rc, ZKV_ENOTLEADER); // the last refusal
    // ... and for a read, which has no effect either way.
    act = zkv_ccore_begin (&core, 0, 500, true);
    while (act.kind != ZKV_CC_DONE)
        act = act.kind == ZKV_CC_SEND ? s_answer (&core, core.wake_at, ZKV_ENOTLEADER_VALUE, 0)
                                      : zkv_ccore_timer (&core, act.wake_at);
    CHECK_EQ_U64 (act.rc, ZKV_ENOTLEADER);
    zkv_ccore_fini (&core);
}

// Answers that do not rule out a proposal ("timed out" from a node, "leader lost", "no quorum",
// a code this client does not know) leave a write's outcome unknown, whatever comes after.
static void
test_outcome_maybe_proposed_answers_are_unknown (void)
{
    uint64_t unknown[] = {ZKV_ETIMEOUT_VALUE, ZKV_ELEADERLOST_VALUE, ZKV_ENOQUORUM_VALUE, 999};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        zkv_ccore_t core;
        s_init (&core);
        CHECK (!zkv_ccore_refused_unproposed (unknown[i]));
        zkv_cc_action_t act = s_write_answered (&core, unknown[i], ZKV_ENOTLEADER_VALUE);
        CHECK (act.kind == ZKV_CC_DONE);
        CHECK_EQ_U64 (act.rc, ZKV_ETIMEOUT);
        CHECK (core.why == ZKV_CC_WHY_SERVER_ERROR);
        CHECK (core.maybe_applied);
        zkv_ccore_fini (&core);
    }
    CHECK (zkv_ccore_refused_unproposed (ZKV_ENOTLEADER_VALUE));
    CHECK (zkv_ccore_refused_unproposed (ZKV_EBUSY_VALUE));
    CHECK (zkv_ccore_refused_unproposed (ZKV_EWRONGGROUP_VALUE));
    CHECK (zkv_ccore_refused_unproposed (ZKV_ETOOBIG_VALUE));
}

// An attempt the client moved on from (silent for an attempt) stays unknown while its node never
// answers it, whatever the others say; once that node answers it, late, with a refusal, every
// attempt is known again.
static void
test_outcome_unanswered_attempt_is_unknown (void)
{
    for (int late = 0; late < 2; late++) {
        zkv_ccore_t core;
        s_init (&core);
        zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
        act = zkv_ccore_sent (&core, 0, true);      // to node index 0
        act = zkv_ccore_timer (&core, act.wake_at); // silence: the next node
        CHECK (act.kind == ZKV_CC_SEND && act.node == 1);
        CHECK_EQ_U64 (core.unanswered[0], 1);
        act = s_answer (&core, 100, ZKV_ENOTLEADER_VALUE, 0);
        if (late) // node 0's answer to the first send comes now
            act =
                zkv_ccore_reply (&core, 101, 0, core.client_id, core.seq, ZKV_ENOTLEADER_VALUE, 0);
        int64_t now = 101;
        while (act.kind != ZKV_CC_DONE) {
            if (act.kind == ZKV_CC_SEND)
                act = act.node == 0 ? zkv_ccore_sent (&core, now, false) // gone quiet
                                    : s_answer (&core, now, ZKV_ENOTLEADER_VALUE, 0);
            else
                act = zkv_ccore_timer (&core, now = act.wake_at);
        }
        CHECK_EQ_U64 (act.rc, late ? ZKV_ENOTLEADER : ZKV_ETIMEOUT);
        zkv_ccore_fini (&core);
    }
}

// The deadline comes while an attempt waits for its answer: unknown, even after refusals.
static void
test_outcome_outstanding_at_deadline_is_unknown (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 150, false);
    act = s_answer (&core, 0, ZKV_ENOTLEADER_VALUE, 2); // follow the hint at once
    CHECK (act.kind == ZKV_CC_SEND && act.node == 1);
    act = zkv_ccore_sent (&core, 0, true);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == 100);
    act = s_answer (&core, 100, ZKV_ENOTLEADER_VALUE, 3);
    CHECK (act.kind == ZKV_CC_SEND && act.node == 2);
    act = zkv_ccore_sent (&core, 100, true);
    CHECK (act.kind == ZKV_CC_WAIT && act.wake_at == 150);
    act = zkv_ccore_timer (&core, 150);
    CHECK (act.kind == ZKV_CC_DONE);
    CHECK_EQ_U64 (act.rc, ZKV_ETIMEOUT);
    zkv_ccore_fini (&core);
}

// "Leader lost" names the new leader like "not the leader" does: the request follows it at once.
static void
test_outcome_leader_lost_follows_hint (void)
{
    zkv_ccore_t core;
    s_init (&core);
    zkv_cc_action_t act = zkv_ccore_begin (&core, 0, 1000, false);
    act = s_answer (&core, 0, ZKV_ELEADERLOST_VALUE, 3);
    CHECK (act.kind == ZKV_CC_SEND);
    CHECK_EQ_U64 (act.node, 2);
    act = s_answer (&core, 1, 0, 0);
    CHECK (act.kind == ZKV_CC_DONE && act.rc == 0);
    zkv_ccore_fini (&core);
}

// --- endpoints ---------------------------------------------------------------------------------

static void
test_endpoint_forms (void)
{
    char out[300], why[300];
    CHECK_EQ_U64 (zkv_client_endpoint ("127.0.0.1:17101", out, sizeof out, why, sizeof why), 0);
    CHECK (streq (out, "tcp://127.0.0.1:17101"));
    CHECK_EQ_U64 (zkv_client_endpoint ("tcp://node-1.example:80", out, sizeof out, why, 1), 0);
    CHECK (streq (out, "tcp://node-1.example:80"));
    CHECK_EQ_U64 (zkv_client_endpoint ("[::1]:5", out, sizeof out, NULL, 0), 0);
    CHECK (streq (out, "tcp://[::1]:5"));
    CHECK_EQ_U64 (zkv_client_endpoint ("ipc:///tmp/zkv.sock", out, sizeof out, NULL, 0), 0);
    CHECK (streq (out, "ipc:///tmp/zkv.sock"));
    CHECK_EQ_U64 (zkv_client_endpoint ("inproc://x", NULL, 0, NULL, 0), 0);          // check only
    CHECK_EQ_U64 (zkv_client_endpoint ("h:1", out, 7, why, sizeof why), ZKV_EINVAL); // no room
}

// Each bad endpoint is refused with a reason that names what is wrong.
static void
test_endpoint_errors (void)
{
    static const struct {
        const char *endpoint;
        const char *says;
    } bad[] = {
        {"", "empty"},
        {"127.0.0.1", "'127.0.0.1' has no port"},
        {"tcp://127.0.0.1", "has no port"},
        {"tcp://:80", "has no host"},
        {"10.0.0.1:0", "port must be a number in 1..65535, not '0'"},
        {"10.0.0.1:65536", "not '65536'"},
        {"10.0.0.1:http", "not 'http'"},
        {"::1:80", "IPv6 address goes in brackets"},
        {"[::1:80", "has no port"},
        {"tcp://*:80", "'*' is not a host name"},
        {"bad_host:1", "'bad_host' is not a host name"},
        {"udp://1.2.3.4:5", "unknown transport 'udp://'"},
        {"ipc://", "names no path"},
        {"a b:1", "white space"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[300], why[300] = "";
        int rc = zkv_client_endpoint (bad[i].endpoint, out, sizeof out, why, sizeof why);
        if (rc != ZKV_EINVAL || !strstr (why, bad[i].says))
            fprintf (stderr, "endpoint '%s': rc %d, '%s'\n", bad[i].endpoint, rc, why);
        CHECK_EQ_U64 (rc, ZKV_EINVAL);
        CHECK (strstr (why, bad[i].says));
    }
    char big[400];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char why[300];
    CHECK_EQ_U64 (zkv_client_endpoint (big, NULL, 0, why, sizeof why), ZKV_EINVAL);
    CHECK (strstr (why, "at most 255"));
}

// clang-format off
ZKV_TEST_MAIN (
    TEST (test_outcome_all_refused_fails_fast)
    TEST (test_outcome_one_reachable_node_keeps_trying)
    TEST (test_outcome_link_states)
    TEST (test_outcome_sent_then_refused_stays_unknown)
    TEST (test_outcome_never_connected_at_deadline)
    TEST (test_outcome_all_not_leader_is_refusal)
    TEST (test_outcome_maybe_proposed_answers_are_unknown)
    TEST (test_outcome_unanswered_attempt_is_unknown)
    TEST (test_outcome_outstanding_at_deadline_is_unknown)
    TEST (test_outcome_leader_lost_follows_hint)
    TEST (test_endpoint_forms)
    TEST (test_endpoint_errors))
// clang-format on
