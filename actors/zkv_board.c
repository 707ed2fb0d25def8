// The node's figures, shared (zkv_board.h).
#include "zkv_board.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct zkv_board {
    pthread_mutex_t lock;      // guards everything below
    size_t n_groups;           // groups on the board
    zkv_group_stats_t *groups; // their latest figures
    zkv_front_stats_t front;   // the frontend's
};

zkv_board_t *
zkv_board_new (const uint64_t *groups, size_t n_groups)
{
    zkv_board_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->groups = calloc (n_groups ? n_groups : 1, sizeof *self->groups);
    if (!self->groups)
        abort ();
    self->n_groups = n_groups;
    for (size_t i = 0; i < n_groups; i++)
        self->groups[i].group = groups[i];
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
zkv_board_destroy (zkv_board_t **self_p)
{
    zkv_board_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self->groups);
    free (self);
    *self_p = NULL;
}

void
zkv_board_put_group (zkv_board_t *self, const zkv_group_stats_t *stats)
{
    for (size_t i = 0; i < self->n_groups; i++)
        if (self->groups[i].group == stats->group) {
            pthread_mutex_lock (&self->lock);
            self->groups[i] = *stats;
            pthread_mutex_unlock (&self->lock);
            return;
        }
}

void
zkv_board_put_front (zkv_board_t *self, const zkv_front_stats_t *stats)
{
    pthread_mutex_lock (&self->lock);
    self->front = *stats;
    pthread_mutex_unlock (&self->lock);
}

void
zkv_board_read (zkv_board_t *self, zkv_front_stats_t *front, zkv_group_stats_t *groups)
{
    pthread_mutex_lock (&self->lock);
    *front = self->front;
    memcpy (groups, self->groups, self->n_groups * sizeof *groups);
    pthread_mutex_unlock (&self->lock);
}

size_t
zkv_board_groups (const zkv_board_t *self)
{
    return self->n_groups;
}
