// Unit tests for the seeded PRNG: determinism and range.
#include "zkv_rng.h"
#include "zkv_test.h"

static void
test_same_seed_same_sequence (void)
{
    zkv_rng_t a, b;
    zkv_rng_seed (&a, 81723);
    zkv_rng_seed (&b, 81723);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_U64 (zkv_rng_next (&a), zkv_rng_next (&b));
}

static void
test_different_seeds_differ (void)
{
    zkv_rng_t a, b;
    zkv_rng_seed (&a, 1);
    zkv_rng_seed (&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += zkv_rng_next (&a) == zkv_rng_next (&b);
    CHECK (same == 0);
}

static void
test_range_bounds_and_coverage (void)
{
    zkv_rng_t r;
    zkv_rng_seed (&r, 7);
    int seen[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = zkv_rng_range (&r, 5, 14);
        CHECK (v >= 5 && v <= 14);
        seen[v - 5]++;
    }
    for (int i = 0; i < 10; i++)
        CHECK (seen[i] > 800 && seen[i] < 1200);
}

ZKV_TEST_MAIN (TEST (test_same_seed_same_sequence) TEST (test_different_seeds_differ)
                   TEST (test_range_bounds_and_coverage))
