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

// Explanations (zkv_lin_explain.c). Illegal: seq[0..len) is the longest linearizable prefix
// found, blocked the operation that could not follow it, state the value after the prefix.
void lin_explain_illegal (const lin_op_t *ops, size_t n, const uint32_t *seq, size_t len,
                          uint32_t blocked, zkv_hist_str_t state, lin_outcome_t *outcome);
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

#endif
