// Seeded deterministic PRNG: xoshiro256** (Blackman & Vigna), seeded through splitmix64.
#include "zkv_rng.h"

#include <assert.h>

static uint64_t
s_splitmix64 (uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
zkv_rng_seed (zkv_rng_t *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = s_splitmix64 (&x);
}

uint64_t
zkv_rng_next (zkv_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = s_rotl (s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl (s[3], 45);
    return result;
}

uint64_t
zkv_rng_below (zkv_rng_t *rng, uint64_t n)
{
    assert (n > 0);
    // Rejection sampling keeps the distribution uniform.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = zkv_rng_next (rng);
    while (r >= limit);
    return r % n;
}

uint64_t
zkv_rng_range (zkv_rng_t *rng, uint64_t lo, uint64_t hi)
{
    assert (lo <= hi);
    if (hi - lo == UINT64_MAX)
        return zkv_rng_next (rng);
    return lo + zkv_rng_below (rng, hi - lo + 1);
}

int
zkv_rng_chance (zkv_rng_t *rng, uint64_t num, uint64_t den)
{
    return zkv_rng_below (rng, den) < num;
}
