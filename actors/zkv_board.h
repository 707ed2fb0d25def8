// zkv_board: the node's figures, where every actor can read them. Each group actor puts its
// group's figures (zkv_replica_stats) and the frontend its own (zkv_front_stats) a few times a
// second; the stats actor reads them all at once for /metrics and the zkv.node.stats event.
//
// The one place actors share mutable state, on purpose: figures are read by the HTTP server's
// thread at any moment, and a message to every actor per scrape would queue behind client
// traffic. A mutex guards a copy; puts and reads are short memcpys, never a wait on anything
// else. Decisions stay in the pure code that computed the figures.
#ifndef ZKV_BOARD_H
#define ZKV_BOARD_H

#include "zkv_stats.h"

typedef struct zkv_board zkv_board_t;

// A board for these groups (copied).
zkv_board_t *zkv_board_new (const uint64_t *groups, size_t n_groups);
void zkv_board_destroy (zkv_board_t **self_p);

// A group's figures (a group not on the board is ignored), the frontend's.
void zkv_board_put_group (zkv_board_t *self, const zkv_group_stats_t *stats);
void zkv_board_put_front (zkv_board_t *self, const zkv_front_stats_t *stats);
// Copies of everything: the frontend's figures, and the groups' into groups (n_groups of them,
// in the order given to zkv_board_new; a group that put nothing yet has only its id).
void zkv_board_read (zkv_board_t *self, zkv_front_stats_t *front, zkv_group_stats_t *groups);
size_t zkv_board_groups (const zkv_board_t *self);

#endif
