// Linearizable reads in the simulated world: clients ask a node for a read (ReadIndex), the
// node answers once its state machine reaches the confirmed index, and every answer must
// reflect everything committed before the read was asked.
#include "sim_kv_int.h"

#include <stdlib.h>

static void
s_trace (sim_t *self, int node, uint64_t id, uint64_t what, uint64_t index)
{
    sim_trace (self,
               &(sim_trace_rec_t){
                   .kind = SIM_T_READ, .node = (uint8_t)node, .a = id, .b = what, .c = index});
}

uint64_t
sim_read (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    if (!n->up)
        return 0;
    uint64_t id = self->n_reads + 1;
    if (zkv_raft_read_index (n->raft, id) != 0)
        return 0;
    self->reads = sim_grow (self->reads, &self->cap_reads, self->n_reads + 1, sizeof *self->reads);
    // Anything any node applied is committed: a linearizable read must see at least that.
    self->reads[self->n_reads++] =
        (sim_read_t){.node = node, .incarnation = n->incarnation, .need = self->max_committed};
    s_trace (self, node, id, 0, self->max_committed);
    sim_drive (self, node);
    return id;
}

sim_read_state_t
sim_read_state (sim_t *self, uint64_t id, uint64_t *applied_p)
{
    if (id == 0 || id > self->n_reads)
        return SIM_READ_LOST;
    const sim_read_t *r = &self->reads[id - 1];
    if (applied_p)
        *applied_p = r->applied;
    return (sim_read_state_t)r->state;
}

void
sim_read_ready (sim_t *self, int node, const zkv_raft_ready_t *rd)
{
    sim_node_t *n = &self->nodes[node];
    for (size_t i = 0; i < rd->n_reads; i++) {
        uint64_t id = rd->reads[i].ctx, index = rd->reads[i].index;
        sim_read_t *r = id && id <= self->n_reads ? &self->reads[id - 1] : NULL;
        if (!r || r->node != node || r->incarnation != n->incarnation ||
            r->state != SIM_READ_PENDING || r->index)
            sim_fail (self, "node %d answers read %" PRIu64 " it was not asked (or twice)", node,
                      id);
        if (index == 0) {
            r->state = SIM_READ_FAILED;
            self->counters.reads_failed++;
            s_trace (self, node, id, 2, 0);
            if (self->kv)
                sim_kv_read_done (self, node, id, false);
            continue;
        }
        self->counters.checks++;
        if (index < r->need)
            sim_violation (self, "linearizable read",
                           "node %d confirms read %" PRIu64 " at index %" PRIu64
                           " but index %" PRIu64 " was committed before it was asked",
                           node, id, index, r->need);
        r->index = index;
        s_trace (self, node, id, 1, index);
        n->waiting = sim_grow (n->waiting, &n->cap_waiting, n->n_waiting + 1, sizeof *n->waiting);
        n->waiting[n->n_waiting++] = id;
    }
}

void
sim_read_serve (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    size_t kept = 0;
    for (size_t i = 0; i < n->n_waiting; i++) {
        sim_read_t *r = &self->reads[n->waiting[i] - 1];
        if (n->applied < r->index) {
            n->waiting[kept++] = n->waiting[i];
            continue;
        }
        // The answer is the state machine now: the committed history through n->applied
        // (sim_check_apply vouches for that), which must include everything r->need covers.
        self->counters.checks++;
        if (n->applied < r->need)
            sim_violation (self, "linearizable read",
                           "node %d answers read %" PRIu64 " with its state at %" PRIu64
                           " but index %" PRIu64 " was committed before it was asked",
                           node, n->waiting[i], n->applied, r->need);
        r->state = SIM_READ_SERVED;
        r->applied = n->applied;
        self->counters.reads_served++;
        s_trace (self, node, n->waiting[i], 3, n->applied);
        if (self->kv)
            sim_kv_read_done (self, node, n->waiting[i], true);
    }
    n->n_waiting = kept;
}

void
sim_read_crash (sim_t *self, int node)
{
    sim_node_t *n = &self->nodes[node];
    for (size_t i = 0; i < self->n_reads; i++) {
        sim_read_t *r = &self->reads[i];
        if (r->node == node && r->incarnation == n->incarnation && r->state == SIM_READ_PENDING)
            r->state = SIM_READ_LOST;
    }
    n->n_waiting = 0;
}

uint64_t
sim_read_next_id (sim_t *self)
{
    return self->n_reads + 1;
}

void
sim_read_free (sim_t *self)
{
    free (self->reads);
    self->reads = NULL;
    self->n_reads = self->cap_reads = 0;
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        free (self->nodes[i].waiting);
        self->nodes[i].waiting = NULL;
        self->nodes[i].n_waiting = self->nodes[i].cap_waiting = 0;
    }
}
