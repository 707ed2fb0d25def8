// Unit tests for cluster/zkv_answers.c: the bytes of answers waiting for client connections
// that do not read them, and when a connection is cut.
#include "zkv_test.h"

#include "zkv_answers.h"

static const uint8_t s_a[] = {0, 0, 0, 0, 1}, s_b[] = {0, 0, 0, 0, 2};

// Bytes count while the connection's buffer is full, and the count starts over once it had
// room (the client read): a reader that keeps up is never cut, one that does not is cut past
// the per-connection budget, and forgotten then.
static void
test_per_connection (void)
{
    zkv_answers_t *a = zkv_answers_new (100, 0);
    CHECK (!zkv_answers_sent (a, s_a, 5, 60, true, 0));
    CHECK_EQ_U64 (zkv_answers_waiting (a), 60);
    CHECK (!zkv_answers_sent (a, s_a, 5, 60, false, 1)); // it read: the queue emptied
    CHECK_EQ_U64 (zkv_answers_waiting (a), 0);
    for (int i = 0; i < 100; i++) // a reader that keeps up, however much it is sent
        CHECK (!zkv_answers_sent (a, s_a, 5, 60, i % 2 == 0, 2 + (uint64_t)i));
    CHECK (!zkv_answers_sent (a, s_a, 5, 60, true, 200));
    CHECK (zkv_answers_sent (a, s_a, 5, 60, true, 201)); // 120 > 100: cut
    CHECK_EQ_U64 (zkv_answers_cut (a), 1);
    CHECK_EQ_U64 (zkv_answers_waiting (a), 0);
    zkv_answers_destroy (&a);
    CHECK (a == NULL);
}

// The total budget cuts a full connection once everyone's waiting bytes pass it; a connection
// not sent anything for 10 s leaves the count (it asks nothing more: what waits for it stays
// under its own budget).
static void
test_total (void)
{
    zkv_answers_t *a = zkv_answers_new (1000, 150);
    CHECK (!zkv_answers_sent (a, s_a, 5, 100, true, 0));
    CHECK (zkv_answers_sent (a, s_b, 5, 100, true, 1)); // 200 > 150: b is cut
    CHECK_EQ_U64 (zkv_answers_waiting (a), 100);
    // Ten seconds later a's count is stale: b's answer fits again.
    CHECK (!zkv_answers_sent (a, s_b, 5, 100, true, 10001));
    CHECK_EQ_U64 (zkv_answers_waiting (a), 100);
    zkv_answers_destroy (&a);
}

ZKV_TEST_MAIN (TEST (test_per_connection) TEST (test_total))
