// Linearizable reads in the simulated world: the simulator asks a node's replica for a read of
// its state machine (a request of op SIM_OP_READ: ReadIndex, then served once applied, by the
// driver zkvd runs), and every answer must reflect everything committed before the read was
// asked, and be the committed history's state.
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
    sim_rep_t *r = R (self, node);
    if (!n->up || !r->rep)
        return 0;
    sim_grp_t *gr = G (self);
    uint64_t id = gr->n_reads + 1;
    gr->reads = sim_grow (gr->reads, &gr->cap_reads, gr->n_reads + 1, sizeof *gr->reads);
    // Anything any node applied is committed: a linearizable read must see at least that.
    gr->reads[gr->n_reads++] =
        (sim_read_t){.node = node, .incarnation = n->incarnation, .need = gr->max_committed};
    s_trace (self, node, id, 0, gr->max_committed);
    zkv_group_request_t q = {.group = SIM_GROUP_ID (self, self->g),
                             .handle = SIM_RAW_HANDLE | id,
                             .op = SIM_OP_READ,
                             .key = {(uint8_t *)"r", 1}};
    zkv_replica_request (r->rep, &q, NULL, NULL);
    bool refused = gr->reads[id - 1].state == SIM_READ_FAILED;
    sim_drive (self, node);
    return refused ? 0 : id;
}

sim_read_state_t
sim_read_state (sim_t *self, uint64_t id, uint64_t *applied_p)
{
    sim_grp_t *gr = G (self);
    if (id == 0 || id > gr->n_reads)
        return SIM_READ_LOST;
    const sim_read_t *r = &gr->reads[id - 1];
    if (applied_p)
        *applied_p = r->applied;
    return (sim_read_state_t)r->state;
}

void
sim_read_answered (sim_t *self, int node, uint64_t id, const zkv_group_reply_t *a)
{
    sim_grp_t *gr = G (self);
    sim_read_t *r = id && id <= gr->n_reads ? &gr->reads[id - 1] : NULL;
    if (!r || r->node != node || r->incarnation != self->nodes[node].incarnation ||
        r->state != SIM_READ_PENDING)
        sim_fail (self, "node %d answers read %" PRIu64 " it was not asked (or twice)", node, id);
    if (a->status != 0) {
        r->state = SIM_READ_FAILED;
        self->counters.reads_failed++;
        s_trace (self, node, id, 2, 0);
        return;
    }
    self->counters.checks++;
    if (a->value.len != 16)
        sim_fail (self, "node %d answers read %" PRIu64 " with %zu bytes", node, id, a->value.len);
    uint64_t applied = sim_get_u64 (a->value.data), chain = sim_get_u64 (a->value.data + 8);
    // The answer is the state machine as applied when served: it must include everything
    // committed before the read was asked, and be the committed history's state.
    if (applied < r->need)
        sim_violation (self, "linearizable read",
                       "node %d answers read %" PRIu64 " with its state at %" PRIu64
                       " but index %" PRIu64 " was committed before it was asked",
                       node, id, applied, r->need);
    if (applied > gr->max_committed || (applied && gr->commits[applied].chain != chain))
        sim_violation (self, "state machine safety",
                       "node %d answers read %" PRIu64 " from a state at %" PRIu64
                       " that is not the committed history's",
                       node, id, applied);
    r->state = SIM_READ_SERVED;
    r->index = applied;
    r->applied = applied;
    self->counters.reads_served++;
    s_trace (self, node, id, 3, applied);
}

void
sim_read_crash (sim_t *self, int node)
{
    int saved = self->g;
    for (int g = 0; g < sim_n_groups (self); g++) {
        self->g = g;
        sim_grp_t *gr = G (self);
        for (size_t i = 0; i < gr->n_reads; i++) {
            sim_read_t *r = &gr->reads[i];
            if (r->node == node && r->incarnation == self->nodes[node].incarnation &&
                r->state == SIM_READ_PENDING)
                r->state = SIM_READ_LOST;
        }
    }
    self->g = saved;
}

void
sim_read_free (sim_t *self)
{
    for (int g = 0; g < SIM_MAX_GROUPS; g++) {
        free (self->groups[g].reads);
        self->groups[g].reads = NULL;
        self->groups[g].n_reads = self->groups[g].cap_reads = 0;
    }
}
