// Internals of the linearizability checker: one key's operations, its search, its states.
#ifndef ZKV_LIN_INT_H
#define ZKV_LIN_INT_H

#include "zkv_lincheck.h"

#include <stdbool.h>
#include <stdint.h>

#define LIN_INFINITY INT64_MAX // the return time of an operation that never completed ok

// One operation on one key.
typedef struct {
    zkv_hist_f_t f;       // get, put or append
    int64_t process;      // who called it
    int64_t call;         // invoke time
    int64_t ret;          // ok time, or LIN_INFINITY if it may have happened at any later time
    zkv_hist_str_t value; // the put/append argument, or the value the get read
    size_t line;          // the invoke's line in the file (0 if built in memory)
} lin_op_t;

// What the search of one key found.
typedef struct {
    zkv_lin_verdict_t verdict; // OK, ILLEGAL or UNKNOWN
    uint64_t steps;            // search steps taken
    char *explanation;         // ILLEGAL / UNKNOWN: heap text; else NULL
} lin_outcome_t;

// Searches for a linearization of ops[0..n). Faster when ops are in call order with the
// open-ended ones (ret == LIN_INFINITY) last, but correct in any order.
void lin_search (const lin_op_t *ops, size_t n, uint64_t budget, uint64_t memory,
                 lin_outcome_t *outcome);

// The set of linearized operations and the cache of (set, state) pairs (zkv_lin_cache.c).
typedef struct {
    size_t n;               // operations
    uint64_t *bits;         // the set: bit i is operation i
    size_t words;           // bitset words
    size_t lo;              // words below lo are all ones
    size_t hi;              // words at or above hi are all zero
    uint64_t zobrist;       // hash of the set
    uint32_t *above;        // scratch: the linearized ids above the all-ones prefix
    struct lin_slot *slots; // the cache's hash table (the slot is private to zkv_lin_cache.c)
    size_t cap;             // its slots (a power of two)
    size_t count;           // slots used
    uint32_t *arena;        // the ids above the prefix of every cached set
    uint64_t arena_size;    // used
    uint64_t arena_cap;     // allocated
} lin_cache_t;

void lin_cache_init (lin_cache_t *self, size_t n);
void lin_cache_free (lin_cache_t *self);
// Adds op to the set / takes it out.
void lin_cache_set (lin_cache_t *self, uint32_t op);
void lin_cache_clear (lin_cache_t *self, uint32_t op);
// Caches (the current set, state); false if that pair was reached before.
bool lin_cache_add (lin_cache_t *self, uint32_t state);
// The first id in [from, to) that mask has and the set has not, or UINT32_MAX.
uint32_t lin_cache_first_unset (const lin_cache_t *self, const uint64_t *mask, uint32_t from,
                                uint32_t to);
// Bytes held, for the memory limit.
uint64_t lin_cache_memory (const lin_cache_t *self);

// Explanations (zkv_lin_explain.c). Illegal: seq[0..len) is the longest linearizable prefix
// found, blocked the operation that could not follow it.
void lin_explain_illegal (const lin_op_t *ops, size_t n, const uint32_t *seq, size_t len,
                          uint32_t blocked, lin_outcome_t *outcome);
// Unknown: best is the most operations linearized at once.
void lin_explain_unknown (size_t n, size_t best, uint64_t budget, uint64_t memory,
                          bool out_of_memory, lin_outcome_t *outcome);

// The register's states, interned: equal strings get one id, so the search compares states
// as integers (the hash finds candidates, the full bytes decide).
typedef struct _lin_states_t lin_states_t;

lin_states_t *lin_states_new (void);
void lin_states_destroy (lin_states_t **self_p);
// The id of the state holding exactly these bytes (interned on first sight). "" is id 0.
uint32_t lin_states_intern (lin_states_t *self, zkv_hist_str_t bytes);
// The id of state + suffix, remembered per (state, op) so repeats cost one lookup.
uint32_t lin_states_append (lin_states_t *self, uint32_t state, uint32_t op, zkv_hist_str_t suffix);
// The bytes of a state.
zkv_hist_str_t lin_states_bytes (const lin_states_t *self, uint32_t state);
// Bytes held, for the memory limit.
uint64_t lin_states_memory (const lin_states_t *self);

// Growing text for explanations (out of memory aborts).
typedef struct {
    char *data;  // NUL-terminated text
    size_t size; // bytes used, without the NUL
    size_t cap;  // bytes allocated
} lin_text_t;

void lin_text_printf (lin_text_t *text, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
// Appends s quoted as JSON would, cut to about max bytes with "..." if longer.
void lin_text_quote (lin_text_t *text, zkv_hist_str_t s, size_t max);
// Appends one line describing op: "process 3 append "x" [t 10..20] (line 7)".
void lin_text_op (lin_text_t *text, const lin_op_t *op);

// One key's operations and the register model over them (zkv_lin_model.c).
typedef struct {
    lin_op_t *ops;        // closed operations by call time, then the open-ended ones
    size_t n;             // how many
    size_t closed;        // ops[0..closed) return at a finite time
    uint32_t *op_state;   // put: the state id of its value; get: of the value read
    lin_states_t *states; // interned states
    lin_cache_t cache;    // the linearized set and the (set, state) pairs reached
    uint64_t *get_mask;   // which ids are gets
    uint64_t *put_mask;   // which ids are puts
    size_t gets_left;     // gets not linearized
    size_t gets_total;    // gets
    uint32_t *get_by_ret; // the gets' ids in order of return time
    uint32_t *ret_rank;   // op id -> its place in get_by_ret (gets only)
    uint64_t *gets_done;  // bit r: get_by_ret[r] is linearized
    size_t gets_lo;       // words of gets_done below this are all ones
    size_t puts_left;     // puts not linearized
} lin_key_t;

// Copies ops, leaves out the open-ended writes no read saw (zkv_lin_unseen.c), orders the
// rest (ids follow that order). The initial state "" is id 0.
void lin_key_init (lin_key_t *self, const lin_op_t *ops, size_t n);
void lin_key_free (lin_key_t *self);
// The model: applies op to state into *next; false if op cannot happen in that state.
bool lin_key_step (lin_key_t *self, uint32_t state, uint32_t op, uint32_t *next);
// Marks op linearized or not (the set and the counts).
void lin_key_mark (lin_key_t *self, uint32_t op, bool linearized);
// Given the current set and state: the get that proves no completion exists, or UINT32_MAX.
uint32_t lin_key_hopeless (lin_key_t *self, uint32_t state);
// Given the current set and state: true if state can still grow into what the next get read
// with appends alone (the search tries such operations first).
bool lin_key_on_track (lin_key_t *self, uint32_t state);

// A get whose value no base ("" or a put's value) followed by append values, all of writes
// called before it returned, can produce (zkv_lin_reads.c); UINT32_MAX if every get's can.
uint32_t lin_key_unexplained_read (const lin_key_t *self);
// Explains why that get alone makes the key not linearizable.
void lin_explain_read (const lin_op_t *get, size_t n, lin_outcome_t *outcome);

// The state of every value that holds a write no read saw (zkv_lin_unseen.c).
#define LIN_DEAD (UINT32_MAX - 1)
// unseen[i]: ops[i] is a put or append with a nonempty value that occurs in no get's read.
void lin_find_unseen (const lin_op_t *ops, size_t n, bool *unseen);
// Sorts ids (indexes into ops) stably by before (zkv_lin_sort.c).
void lin_sort_ids (uint32_t *ids, size_t n, const lin_op_t *ops,
                   bool (*before) (const lin_op_t *ops, uint32_t a, uint32_t b));

#endif
