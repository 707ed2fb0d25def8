// The shard controller's balancer (cluster/zkv_balance.h): balance, minimal moves and
// determinism over thousands of random Join / Leave / Move sequences.
#include "zkv_balance.h"
#include "zkv_rng.h"
#include "zkv_test.h"

#include <stdbool.h>

#define S_MAX_GROUPS 24
#define S_MAX_SHARDS 2048

// The fewest moves any balanced assignment needs from `before` over groups: the shards of
// groups that left, plus what each group holds over its share when the extra shards go to the
// groups holding the most (computed here independently of the balancer's own code).
static size_t
s_min_moves (const uint64_t *before, uint32_t nshards, const uint64_t *groups, size_t n)
{
    if (n == 0) {
        size_t k = 0;
        for (uint32_t s = 0; s < nshards; s++)
            k += before[s] != 0;
        return k;
    }
    size_t count[S_MAX_GROUPS] = {0}, lost = 0;
    for (uint32_t s = 0; s < nshards; s++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            if (before[s] == groups[i]) {
                count[i]++;
                found = true;
            }
        lost += !found;
    }
    // Sort counts descending (insertion sort: n is small).
    size_t c[S_MAX_GROUPS];
    memcpy (c, count, n * sizeof *c);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && c[j] > c[j - 1]; j--) {
            size_t t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    size_t over = 0;
    for (size_t i = 0; i < n; i++) {
        size_t target = nshards / n + (i < nshards % n);
        over += c[i] > target ? c[i] - target : 0;
    }
    return lost + over;
}

// Every shard in a group of the set, counts within one of each other.
static bool
s_balanced (const uint64_t *sg, uint32_t nshards, const uint64_t *groups, size_t n)
{
    if (n == 0) {
        for (uint32_t s = 0; s < nshards; s++)
            if (sg[s])
                return false;
        return true;
    }
    size_t count[S_MAX_GROUPS] = {0};
    for (uint32_t s = 0; s < nshards; s++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            if (sg[s] == groups[i]) {
                count[i]++;
                found = true;
            }
        if (!found)
            return false;
    }
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = count[i] < lo ? count[i] : lo;
        hi = count[i] > hi ? count[i] : hi;
    }
    return hi - lo <= 1;
}

static void
test_empty_and_single (void)
{
    uint64_t sg[10] = {0};
    uint64_t one[] = {7};
    CHECK_EQ_U64 (zkv_balance (sg, 10, one, 1), 10);
    for (int s = 0; s < 10; s++)
        CHECK_EQ_U64 (sg[s], 7);
    CHECK_EQ_U64 (zkv_balance (sg, 10, one, 1), 0); // already balanced: nothing moves
    CHECK_EQ_U64 (zkv_balance (sg, 10, NULL, 0), 10);
    for (int s = 0; s < 10; s++)
        CHECK_EQ_U64 (sg[s], 0);
}

static void
test_join_moves_only_what_it_must (void)
{
    uint64_t sg[10] = {0};
    uint64_t a[] = {1}, ab[] = {1, 2}, abc[] = {1, 2, 3};
    zkv_balance (sg, 10, a, 1);
    // Join 2: group 1 keeps 5 (its lowest shards), group 2 gets the other 5.
    CHECK_EQ_U64 (zkv_balance (sg, 10, ab, 2), 5);
    for (int s = 0; s < 10; s++)
        CHECK_EQ_U64 (sg[s], s < 5 ? 1 : 2);
    // Join 3: 10 = 4 + 3 + 3; groups 1 and 2 hold 5 each: the extra goes to the lower id.
    CHECK_EQ_U64 (zkv_balance (sg, 10, abc, 3), 3);
    size_t c[4] = {0};
    for (int s = 0; s < 10; s++)
        c[sg[s]]++;
    CHECK_EQ_U64 (c[1], 4);
    CHECK_EQ_U64 (c[2], 3);
    CHECK_EQ_U64 (c[3], 3);
    // Leave 2: its 3 shards, and only they, move.
    uint64_t ac[] = {1, 3};
    uint64_t before[10];
    memcpy (before, sg, sizeof sg);
    CHECK_EQ_U64 (zkv_balance (sg, 10, ac, 2), 3);
    for (int s = 0; s < 10; s++)
        if (before[s] != 2)
            CHECK_EQ_U64 (sg[s], before[s]);
}

static void
test_more_groups_than_shards (void)
{
    uint64_t sg[3] = {0};
    uint64_t g[] = {1, 2, 3, 4, 5};
    zkv_balance (sg, 3, g, 5);
    CHECK (s_balanced (sg, 3, g, 5));
    // Groups without shards stay so: no churn when nothing is unbalanced.
    CHECK_EQ_U64 (zkv_balance (sg, 3, g, 5), 0);
}

// Random Join / Leave / Move sequences: after each rebalance the assignment is balanced, no
// more shards moved than any balanced assignment needs, and the same inputs give the same
// output (a second run over a copy).
static void
test_random_sequences (void)
{
    static uint64_t sg[S_MAX_SHARDS], copy[S_MAX_SHARDS], before[S_MAX_SHARDS];
    static const uint32_t shard_counts[] = {1, 3, 10, 64, 1024, 2048};
    zkv_rng_t rng;
    zkv_rng_seed (&rng, 20261206);
    for (int run = 0; run < 60; run++) {
        uint32_t nshards = shard_counts[run % 6];
        memset (sg, 0, sizeof sg);
        bool in[S_MAX_GROUPS + 1] = {false};
        for (int step = 0; step < 100; step++) {
            uint64_t roll = zkv_rng_below (&rng, 10);
            uint64_t gid = 1 + zkv_rng_below (&rng, S_MAX_GROUPS);
            if (roll < 1) {
                // Move: an explicit assignment, then the next rebalance starts from it.
                uint32_t s = (uint32_t)zkv_rng_below (&rng, nshards);
                if (in[gid])
                    sg[s] = gid;
                continue;
            }
            in[gid] = roll < 6 ? true : false; // join (60%) or leave (30%)
            uint64_t groups[S_MAX_GROUPS];
            size_t n = 0;
            for (uint64_t g = 1; g <= S_MAX_GROUPS; g++)
                if (in[g])
                    groups[n++] = g;
            memcpy (before, sg, nshards * sizeof *sg);
            memcpy (copy, sg, nshards * sizeof *sg);
            size_t want = s_min_moves (sg, nshards, groups, n);
            size_t moved = zkv_balance (sg, nshards, groups, n);
            zkv_balance (copy, nshards, groups, n);
            CHECK (s_balanced (sg, nshards, groups, n));
            CHECK_EQ_U64 (moved, want);
            size_t changed = 0;
            for (uint32_t s = 0; s < nshards; s++)
                changed += sg[s] != before[s];
            CHECK_EQ_U64 (changed, moved);
            CHECK (memcmp (sg, copy, nshards * sizeof *sg) == 0);
        }
    }
}

// A fixed case whose answer is written down: the result must not change between builds.
static void
test_fixed_answer (void)
{
    uint64_t sg[16] = {0};
    uint64_t g1[] = {2, 5, 9};
    zkv_balance (sg, 16, g1, 3);
    static const uint64_t want1[16] = {2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5, 9, 9, 9, 9, 9};
    CHECK (memcmp (sg, want1, sizeof sg) == 0);
    uint64_t g2[] = {2, 4, 5, 9};
    zkv_balance (sg, 16, g2, 4);
    static const uint64_t want2[16] = {2, 2, 2, 2, 4, 4, 5, 5, 5, 5, 4, 9, 9, 9, 9, 4};
    for (int s = 0; s < 16; s++)
        CHECK_EQ_U64 (sg[s], want2[s]);
}

ZKV_TEST_MAIN (TEST (test_empty_and_single) TEST (test_join_moves_only_what_it_must)
                   TEST (test_more_groups_than_shards) TEST (test_random_sequences)
                   TEST (test_fixed_answer))
