// Silent nodes, from their stats beats (zkv_cli_liveness.h).
#include "zkv_cli_liveness.h"

#include <stdlib.h>

zkv_liveness_t *
zkv_liveness_new (const uint64_t *ids, size_t n, uint64_t default_interval_ms, uint64_t missed,
                  int64_t now_ms)
{
    if (default_interval_ms == 0 || missed == 0)
        return NULL;
    zkv_liveness_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->nodes = calloc (n ? n : 1, sizeof *self->nodes);
    if (!self->nodes)
        abort ();
    self->n = n;
    self->missed = missed;
    for (size_t i = 0; i < n; i++)
        self->nodes[i] = (zkv_liveness_node_t){
            .node = ids[i], .last_ms = now_ms, .interval_ms = default_interval_ms};
    return self;
}

void
zkv_liveness_destroy (zkv_liveness_t **self_p)
{
    zkv_liveness_t *self = *self_p;
    if (!self)
        return;
    free (self->nodes);
    free (self);
    *self_p = NULL;
}

static zkv_liveness_node_t *
s_find (zkv_liveness_t *self, uint64_t node)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->nodes[i].node == node)
            return &self->nodes[i];
    return NULL;
}

// When n becomes silent without another beat.
static int64_t
s_limit (const zkv_liveness_t *self, const zkv_liveness_node_t *n)
{
    return n->last_ms + (int64_t)(self->missed * n->interval_ms);
}

bool
zkv_liveness_beat (zkv_liveness_t *self, uint64_t node, uint64_t seq, uint64_t interval_ms,
                   int64_t now_ms, zkv_liveness_change_t *change)
{
    zkv_liveness_node_t *n = s_find (self, node);
    if (!n)
        return false;
    bool back = n->silent;
    if (back)
        *change = (zkv_liveness_change_t){
            .node = node,
            .silent_ms = now_ms > n->last_ms ? (uint64_t)(now_ms - n->last_ms) : 0,
            .restarted = n->heard && seq <= n->seq};
    n->silent = false;
    n->heard = true;
    n->seq = seq;
    n->last_ms = now_ms;
    if (interval_ms) // a beat that names no interval keeps the one known
        n->interval_ms = interval_ms;
    return back;
}

bool
zkv_liveness_check (zkv_liveness_t *self, int64_t now_ms, zkv_liveness_change_t *change)
{
    for (size_t i = 0; i < self->n; i++) {
        zkv_liveness_node_t *n = &self->nodes[i];
        if (n->silent || now_ms < s_limit (self, n))
            continue;
        n->silent = true;
        *change = (zkv_liveness_change_t){.node = n->node,
                                          .silent_ms = (uint64_t)(now_ms - n->last_ms),
                                          .never_heard = !n->heard};
        return true;
    }
    return false;
}

int64_t
zkv_liveness_next_ms (const zkv_liveness_t *self, int64_t now_ms)
{
    int64_t next = -1;
    for (size_t i = 0; i < self->n; i++) {
        const zkv_liveness_node_t *n = &self->nodes[i];
        if (n->silent)
            continue;
        int64_t left = s_limit (self, n) - now_ms;
        if (left < 0)
            left = 0;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}
