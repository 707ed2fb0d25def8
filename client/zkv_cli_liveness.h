// zkv_cli_liveness: which nodes fell silent, judged from their zkv.node.stats beats (pure: the
// caller gives the time). A node is silent once it sent no beat for `missed` of its intervals
// (3 for zkv watch: two beats at least were lost, so a late one is no false alarm), counted
// from its last beat, or from the start for a node never heard; it is back at its next beat.
// Each change is reported once.
#ifndef ZKV_CLI_LIVENESS_H
#define ZKV_CLI_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t node;        // its id
    int64_t last_ms;      // when its last beat came (the start, before any)
    uint64_t interval_ms; // the interval its beats announce (the default before any)
    uint64_t seq;         // the last beat's number (0: none)
    bool heard;           // a beat came
    bool silent;          // judged silent, and reported
} zkv_liveness_node_t;

typedef struct {
    size_t n;                   // nodes watched
    zkv_liveness_node_t *nodes; // them
    uint64_t missed;            // intervals without a beat that make a node silent
} zkv_liveness_t;

// What a beat or the time's passing told (zkv_liveness_beat, zkv_liveness_check).
typedef struct {
    uint64_t node;      // the node
    uint64_t silent_ms; // how long it had been (or is) silent
    bool restarted;     // back: its beats count from 1 again (a new life)
    bool never_heard;   // silent: no beat came from it at all
} zkv_liveness_change_t;

// Watches nodes ids[0..n) from now_ms, expecting a beat every default_interval_ms until their
// first beat says how often; missed intervals without one make a node silent (at least 1).
zkv_liveness_t *zkv_liveness_new (const uint64_t *ids, size_t n, uint64_t default_interval_ms,
                                  uint64_t missed, int64_t now_ms);
void zkv_liveness_destroy (zkv_liveness_t **self_p);

// A beat from node (its seq and interval) at now_ms. True when the node was silent: it is back
// (*change says since when, and whether it restarted). A node not watched is ignored.
bool zkv_liveness_beat (zkv_liveness_t *self, uint64_t node, uint64_t seq, uint64_t interval_ms,
                        int64_t now_ms, zkv_liveness_change_t *change);
// The next node found silent at now_ms, not reported before: true and *change; false when
// there is none (call until false).
bool zkv_liveness_check (zkv_liveness_t *self, int64_t now_ms, zkv_liveness_change_t *change);
// Ms from now_ms until the next judgement can change (a node not yet silent reaches its
// limit); -1 when every node is silent already.
int64_t zkv_liveness_next_ms (const zkv_liveness_t *self, int64_t now_ms);

#endif
