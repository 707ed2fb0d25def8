// Linearizability checker for zkv client histories (a map of keys with get, put, append,
// delete and compare-and-set, and per-key revisions).
//
// The history is split by key (linearizability is compositional: Herlihy & Wing 1990, §3.3),
// and each key is checked alone with the Wing & Gong algorithm (J. Parallel Distrib. Comput.
// 1993) in Lowe's form with memoization ("Testing for linearizability", CCPE 2017), as
// Porcupine (github.com/anishathalye/porcupine) implements it.
//
// Per key, each invoke becomes an operation with a call and a return time:
//  - ok: returns at its completion's time, with its result (a get's value read);
//  - fail: certainly did not happen: dropped;
//  - info, or no completion: may have happened at any time after its call: returns at +infinity
//    (a get with no result constrains nothing and is dropped; a cas may have swapped or not).
// The model (zkv_lin_step.c): a key is missing or holds a string; it starts missing. put sets
// it, append concatenates (missing counts as ""), delete makes it missing, get must read it
// exactly ("not found" only when missing; "" is an existing empty value), cas compares the
// value or the revision and swaps in its new value (or deletes) when they match. Revisions:
// each write gives the key a revision above all earlier ones; what an ok reports must fit.
//
// The search is bounded: a key whose search passes the step budget or the memory limit gets
// UNKNOWN, never a guess. The checker keeps no global state; it reads no clock.
#ifndef ZKV_LINCHECK_H
#define ZKV_LINCHECK_H

#include "zkv_history.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { ZKV_LIN_OK, ZKV_LIN_ILLEGAL, ZKV_LIN_UNKNOWN } zkv_lin_verdict_t;

#define ZKV_LIN_DEFAULT_BUDGET 10000000ULL  // search steps per key
#define ZKV_LIN_DEFAULT_MEMORY (1ULL << 30) // bytes of search state per key

typedef struct {
    uint64_t budget;           // search steps per key before UNKNOWN; 0 takes the default
    uint64_t memory;           // bytes of search state per key before UNKNOWN; 0 takes the default
    bool empty_may_be_missing; // a get that read "" may have found no key (histories recorded
                               // before "not found" existed, when a missing key read "")
} zkv_lin_options_t;

typedef struct {
    zkv_lin_verdict_t verdict; // OK only if every key is linearizable
    size_t ops;                // invokes in the history
    size_t keys;               // distinct keys
    size_t keys_unknown;       // keys whose search ran out of budget or memory
    uint64_t steps;            // search steps over all keys checked
    char *key;                 // ILLEGAL: the key (quoted, escaped); UNKNOWN: the first unknown key
    char *explanation;         // ILLEGAL / UNKNOWN: what was found, one or more lines; else NULL
} zkv_lin_result_t;

// Checks hist; fills result (free it with zkv_lin_result_clear). Keys are checked in byte
// order and the check stops at the first key that is not linearizable. options may be NULL.
// Returns 0 (the verdict is in result), or ZKV_EINVAL for a bad argument.
int zkv_lincheck (const zkv_history_t *hist, const zkv_lin_options_t *options,
                  zkv_lin_result_t *result);
// Frees what a result holds and zeroes it; idempotent.
void zkv_lin_result_clear (zkv_lin_result_t *result);
// "linearizable", "NOT linearizable", "unknown".
const char *zkv_lin_verdict_name (zkv_lin_verdict_t verdict);

#endif
