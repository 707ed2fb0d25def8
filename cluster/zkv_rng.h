// Seeded deterministic PRNG (xoshiro256**, seeded by splitmix64). The core never calls rand().
#ifndef ZKV_RNG_H
#define ZKV_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];  // xoshiro256** state
} zkv_rng_t;

void zkv_rng_seed (zkv_rng_t *rng, uint64_t seed);
uint64_t zkv_rng_next (zkv_rng_t *rng);
// Uniform in [0, n); n > 0.
uint64_t zkv_rng_below (zkv_rng_t *rng, uint64_t n);
// Uniform in [lo, hi]; lo <= hi.
uint64_t zkv_rng_range (zkv_rng_t *rng, uint64_t lo, uint64_t hi);
// True with probability num/den.
int zkv_rng_chance (zkv_rng_t *rng, uint64_t num, uint64_t den);

#endif
