// Internals of the linearizability checker: one key's operations, its search, its states.
#ifndef ZKV_LIN_INT_H
#define ZKV_LIN_INT_H

#include "zkv_lincheck.h"

#include <stdbool.h>
#include <stdint.h>

#define LIN_INFINITY INT64_MAX // the return time of an operation that never completed ok

// How a cas compares.
typedef enum { LIN_CMP_VALUE, LIN_CMP_REV } lin_cmp_t;

// What the history says about the revision a cas expects (zkv_lin_revs.c).
typedef enum {
    LIN_HINT_NONE,    // nothing
    LIN_HINT_VALUE,   // it is the version with the value in expect
    LIN_HINT_DELETED, // it is a delete's revision: no value has it
} lin_hint_t;

// One operation on one key.
typedef struct {
    zkv_hist_f_t f;        // get, put, append, delete or cas
    int64_t process;       // who called it
    int64_t call;          // invoke time
    int64_t ret;           // ok time, or LIN_INFINITY if it may have happened at any later time
    zkv_hist_str_t value;  // put/append argument; cas new value (data NULL: delete); the value
                           // a get read (data NULL: not found); delete: null
    size_t line;           // the invoke's line in the file (0 if built in memory)
    lin_cmp_t cmp;         // cas: compares values or revisions
    zkv_hist_str_t expect; // cas by value: expected (data NULL: absent); by revision with
                           // LIN_HINT_VALUE: the value of the version expected
    uint64_t expect_rev;   // cas by revision: the revision expected (0: absent)
    lin_hint_t hint;       // cas by revision: what the history says that revision is
    bool hint_unique;      // LIN_HINT_VALUE and no other version can hold that value
    int swapped;           // cas: 1 swapped, 0 did not, -1 unknown (not reported, or open-ended)
    uint64_t rev;          // the revision its ok reported; 0: none
    bool empty_or_missing; // a get that read "" under the old rule: an empty value or no key
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
// found (wrote[i]: seq[i] changed the value: a cas that swapped, any other write), blocked the
// operation that could not follow it, rev the key's revision after the prefix (0: unknown).
void lin_explain_illegal (const lin_op_t *ops, size_t n, const uint32_t *seq, const bool *wrote,
                          size_t len, uint32_t blocked, uint64_t rev, lin_outcome_t *outcome);
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

// The states of a key's value besides the interned strings ("" is 0): no key at all, and a
// value holding a write no read saw (zkv_lin_unseen.c).
#define LIN_MISSING (UINT32_MAX - 2)
#define LIN_DEAD    (UINT32_MAX - 1)

// A key's value with its revision, interned (zkv_lin_versions.c): the search's state when the
// key's history speaks of revisions. exact: the revision is rev; else it is some revision >= rev.
typedef struct _lin_versions_t lin_versions_t;

lin_versions_t *lin_versions_new (void);
void lin_versions_destroy (lin_versions_t **self_p);
// The id of (value, rev, exact), interned on first sight; ids count up from 0.
uint32_t lin_versions_id (lin_versions_t *self, uint32_t value, uint64_t rev, bool exact);
// The parts of an id.
void lin_versions_get (const lin_versions_t *self, uint32_t id, uint32_t *value, uint64_t *rev,
                       bool *exact);
// Bytes held, for the memory limit.
uint64_t lin_versions_memory (const lin_versions_t *self);

// One key's operations and the register model over them (zkv_lin_model.c, zkv_lin_step.c).
typedef struct {
    lin_op_t *ops;            // closed operations by call time, then the open-ended ones
    size_t n;                 // how many
    size_t closed;            // ops[0..closed) return at a finite time
    uint32_t *op_state;       // put, cas: the value state it writes; get: the value read
    uint32_t *op_expect;      // cas: the value state its comparison needs (LIN_MISSING: absent)
    lin_states_t *states;     // interned values
    bool revs;                // the search's state carries the revision (some op speaks of one)
    lin_versions_t *versions; // revs: the (value, revision) states
    uint32_t initial;         // the state before any operation: no key, revision 0
    lin_cache_t cache;        // the linearized set and the (set, state) pairs reached
    uint64_t *get_mask;       // which ids are gets
    uint64_t *base_mask;      // which ids may set a value: puts, cas that may swap to a value
    uint64_t *reset_mask;     // which ids may remove the key: deletes, cas that may swap to null
    uint64_t *append_mask;    // which ids are appends
    size_t gets_left;         // gets not linearized
    size_t gets_total;        // gets
    size_t closed_left;       // closed ops not linearized: the search is done at 0
    uint32_t *get_by_ret;     // the gets' ids in order of return time
    uint32_t *ret_rank;       // op id -> its place in get_by_ret (gets only)
    uint64_t *gets_done;      // bit r: get_by_ret[r] is linearized
    size_t gets_lo;           // words of gets_done below this are all ones
    uint64_t *hazard_mask;    // which ids may see a dead value: cas that need not have swapped,
                              // cas on a revision (zkv_lin_unseen.c)
    struct _lin_appends_t *appends; // the appends by value (zkv_lin_build.c)
    bool *reach;                    // scratch for lin_appends_build: longest read + 1
    uint32_t *twin_before;          // open-ended op -> the open-ended op called before it that does
                                    // exactly what it does in every state (UINT32_MAX: none)
} lin_key_t;

// Copies ops, finds what the history says of the revisions cas ops expect (zkv_lin_revs.c),
// leaves out the open-ended writes no read saw when that is sound (zkv_lin_unseen.c), orders
// the rest (ids follow that order).
void lin_key_init (lin_key_t *self, const lin_op_t *ops, size_t n);
void lin_key_free (lin_key_t *self);
// The model (zkv_lin_step.c): applies alternative alt of op to state into *next (*wrote: the
// value changed hands: a write, or a cas that swapped); false if op cannot happen so in that
// state. Every op has alternative 0; a cas whose outcome is not known and whose comparison
// the state does not decide also has alternative 1 (0: it swapped, 1: it did not).
bool lin_key_step (lin_key_t *self, uint32_t state, uint32_t op, uint32_t alt, uint32_t *next,
                   bool *wrote);
// The value part of a state, and its revision (0 if not tracked or not known exactly).
uint32_t lin_key_value (const lin_key_t *self, uint32_t state);
uint64_t lin_key_revision (const lin_key_t *self, uint32_t state);
// Marks op linearized or not (the set and the counts).
void lin_key_mark (lin_key_t *self, uint32_t op, bool linearized);
// False if op is open-ended and a twin called before it is not linearized yet: twins are
// interchangeable, so the search takes them in call order only.
bool lin_key_in_turn (const lin_key_t *self, uint32_t op);
// Given the current set (with op in it): true if an open-ended op that made the value dead
// may be needed now (zkv_lin_model.c); false if moving it last does as well.
bool lin_key_dead_needed (lin_key_t *self);
// Given the current set and state: the get that proves no completion exists, or UINT32_MAX.
uint32_t lin_key_hopeless (lin_key_t *self, uint32_t state);
// Given the current set and state: true if state can still grow into what the next get read
// with appends alone (the search tries such operations first).
bool lin_key_on_track (lin_key_t *self, uint32_t state);

// A get (or a cas that swapped on a value) whose value no base ("", a put's or a cas's value)
// followed by append values, all of writes called before it returned, can produce
// (zkv_lin_reads.c); UINT32_MAX if every one's can.
uint32_t lin_key_unexplained_read (const lin_key_t *self);
// Explains why that read alone makes the key not linearizable.
void lin_explain_read (const lin_op_t *get, size_t n, lin_outcome_t *outcome);

// The appends of a key by value (zkv_lin_build.c).
typedef struct _lin_appends_t lin_appends_t;
lin_appends_t *lin_appends_new (const lin_op_t *ops, size_t n);
void lin_appends_destroy (lin_appends_t **self_p);
// reach[i] marks where a base of r ends (the rest zero, r.size + 1 entries): true if from one
// of them the values of appends not linearized (in cache) and called by `by` reach r's end.
bool lin_appends_build (const lin_appends_t *self, const lin_cache_t *cache, zkv_hist_str_t r,
                        int64_t by, bool *reach);

// The checks on revisions that need no order (zkv_lin_revs.c): one revision reported for two
// versions, or revisions going back in real time. True (and outcome ILLEGAL, explained) if
// one fails.
bool lin_revs_check (const lin_op_t *ops, size_t n, lin_outcome_t *outcome);
// Fills hint, hint_unique and expect of every cas by revision from what the history reports.
void lin_revs_hints (lin_op_t *ops, size_t n);

// The writes no read saw (zkv_lin_unseen.c). unseen[i]: ops[i] may write a nonempty value (a
// put, an append, a cas that may swap to a value) that occurs in no get's read and no value a
// cas compares with.
void lin_find_unseen (const lin_op_t *ops, size_t n, bool *unseen);
// hazard[i]: ops[i] may look at a dead value without failing: a closed cas that did not swap
// or did not say, any cas on a revision, unless what it saw cannot have been dead (see there). True
// if any is: leaving out an open-ended write no read saw keeps every verdict only without hazards.
bool lin_unseen_hazards (const lin_op_t *ops, size_t n, bool *hazard);
// Sorts ids (indexes into ops) stably by before (zkv_lin_sort.c).
void lin_sort_ids (uint32_t *ids, size_t n, const lin_op_t *ops,
                   bool (*before) (const lin_op_t *ops, uint32_t a, uint32_t b));

#endif
