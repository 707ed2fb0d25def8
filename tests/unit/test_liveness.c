// zkv watch's judgement of silent nodes (client/zkv_cli_liveness.h): silent after `missed`
// intervals without a beat, not a moment before, reported once; back at the next beat (a
// restart told by its beats counting again); intervals as the beats announce them.
#include "zkv_test.h"

#include "zkv_cli_liveness.h"

static void
test_silent_after_three_intervals (void)
{
    uint64_t ids[] = {1, 2, 3};
    zkv_liveness_t *l = zkv_liveness_new (ids, 3, 1000, 3, 0);
    CHECK (l);
    zkv_liveness_change_t c;
    // Nodes 1 and 2 beat every 500 ms from t=100; node 3 beats once at t=100 and dies.
    for (int64_t t = 100; t <= 5100; t += 500) {
        CHECK (!zkv_liveness_beat (l, 1, (uint64_t)t / 500 + 1, 500, t, &c));
        CHECK (!zkv_liveness_beat (l, 2, (uint64_t)t / 500 + 1, 500, t, &c));
        if (t == 100)
            CHECK (!zkv_liveness_beat (l, 3, 1, 500, t, &c));
        // Node 3 is silent once 3 of its intervals (1.5 s) passed since its beat at 100.
        bool silent = zkv_liveness_check (l, t, &c);
        CHECK (silent == (t == 1600));
        if (silent) {
            CHECK_EQ_U64 (c.node, 3);
            CHECK_EQ_U64 (c.silent_ms, 1500);
            CHECK (!c.never_heard);
        }
        CHECK (!zkv_liveness_check (l, t, &c)); // once
    }
    // One ms before the limit is not silent yet.
    zkv_liveness_destroy (&l);
    l = zkv_liveness_new (ids, 1, 1000, 3, 0);
    CHECK (!zkv_liveness_beat (l, 1, 1, 200, 1000, &c));
    CHECK (!zkv_liveness_check (l, 1599, &c));
    CHECK_EQ_U64 (zkv_liveness_next_ms (l, 1599), 1);
    CHECK (zkv_liveness_check (l, 1600, &c));
    CHECK_EQ_U64 (zkv_liveness_next_ms (l, 1600), (uint64_t)-1);
    zkv_liveness_destroy (&l);
    CHECK (l == NULL);
    zkv_liveness_destroy (&l);
}

static void
test_back_and_restarted (void)
{
    uint64_t ids[] = {7};
    zkv_liveness_t *l = zkv_liveness_new (ids, 1, 1000, 3, 0);
    zkv_liveness_change_t c;
    CHECK (!zkv_liveness_beat (l, 7, 41, 1000, 0, &c));
    CHECK (zkv_liveness_check (l, 3000, &c));
    // Back with a later beat of the same life: after a pause (SIGSTOP, a partition).
    CHECK (zkv_liveness_beat (l, 7, 45, 1000, 4200, &c));
    CHECK_EQ_U64 (c.node, 7);
    CHECK_EQ_U64 (c.silent_ms, 4200);
    CHECK (!c.restarted);
    CHECK (!zkv_liveness_beat (l, 7, 46, 1000, 5200, &c)); // not back twice
    CHECK (zkv_liveness_check (l, 8200, &c));
    // Back counting from 1 again: a new life.
    CHECK (zkv_liveness_beat (l, 7, 1, 1000, 9000, &c));
    CHECK (c.restarted);
    // A node not watched is ignored.
    CHECK (!zkv_liveness_beat (l, 8, 1, 1000, 9000, &c));
    zkv_liveness_destroy (&l);
}

// Before its first beat a node is expected at the default interval; its beats then say how
// often they come.
static void
test_never_heard_and_intervals (void)
{
    uint64_t ids[] = {1, 2};
    zkv_liveness_t *l = zkv_liveness_new (ids, 2, 1000, 3, 10000);
    zkv_liveness_change_t c;
    CHECK (!zkv_liveness_beat (l, 1, 1, 5000, 10500, &c)); // node 1 beats every 5 s
    CHECK (!zkv_liveness_check (l, 12999, &c));
    CHECK_EQ_U64 (zkv_liveness_next_ms (l, 12999), 1); // node 2 at 13000
    CHECK (zkv_liveness_check (l, 13000, &c));
    CHECK_EQ_U64 (c.node, 2);
    CHECK (c.never_heard);
    CHECK_EQ_U64 (c.silent_ms, 3000);
    CHECK (!zkv_liveness_check (l, 25499, &c)); // node 1: 3 x 5 s after 10500
    CHECK (zkv_liveness_check (l, 25500, &c));
    CHECK_EQ_U64 (c.node, 1);
    // A beat that names no interval keeps the one known.
    CHECK (zkv_liveness_beat (l, 1, 2, 0, 26000, &c));
    CHECK (!zkv_liveness_check (l, 40999, &c));
    CHECK (zkv_liveness_check (l, 41000, &c));
    zkv_liveness_destroy (&l);
    CHECK (zkv_liveness_new (ids, 2, 0, 3, 0) == NULL);
    CHECK (zkv_liveness_new (ids, 2, 1000, 0, 0) == NULL);
}

ZKV_TEST_MAIN (TEST (test_silent_after_three_intervals) TEST (test_back_and_restarted)
                   TEST (test_never_heard_and_intervals))
