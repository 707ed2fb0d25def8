// The KV service's streamed snapshots (cfg.kv with cfg.stream), as the daemon runs them: views
// of the memory kvstore read by zkv_kv_stream_t, chunks staged by zkv_kv_recv_t, installed by
// zkv_kv_recv_finish and promoted at boot by zkv_kv_boot_promote (cluster/zkv_kv.h).
#include "sim_kv_int.h"
#include "zkv_kvstores.h"

#include <stdlib.h>

#define S_NSHARDS 4 // as sim_kv.c

bool
sim_kvs_view_open (sim_t *self, int node, sim_view_t *v)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    zkv_kvstore_t *view = zkv_kvstore_view (kn->store);
    if (!view)
        sim_fail (self, "node %d: the memory kvstore gave no view", node);
    int err = 0;
    zkv_kv_stream_t *st = zkv_kv_stream_new (view, SIM_GROUP, S_NSHARDS, &err);
    if (!st) {
        zkv_kvstore_destroy (&view);
        sim_violation (self, "snapshot stream", "node %d: zkv_kv_stream_new failed: %s", node,
                       zkv_errname (err));
    }
    if (zkv_kv_stream_applied (st) != v->index) {
        uint64_t applied = zkv_kv_stream_applied (st);
        zkv_kv_stream_destroy (&st);
        zkv_kvstore_destroy (&view);
        sim_violation (self, "snapshot stream",
                       "node %d: a view of its state for the snapshot at %" PRIu64
                       " is at applied %" PRIu64,
                       node, v->index, applied);
    }
    v->kvview = view;
    v->kvstream = st;
    return true;
}

void
sim_kvs_view_close (sim_view_t *v)
{
    zkv_kv_stream_destroy (&v->kvstream);
    zkv_kvstore_destroy (&v->kvview);
}

void
sim_kvs_read (sim_t *self, int node, sim_view_t *v, const zkv_raft_chunk_req_t *q, uint8_t **buf_p,
              size_t *len_p, bool *done_p)
{
    int rc = zkv_kv_stream_read (v->kvstream, q->offset, q->max_bytes, buf_p, len_p, done_p);
    if (rc != 0)
        sim_violation (self, "snapshot stream",
                       "node %d: reading offset %" PRIu64 " of its stream of %" PRIu64 ": %s", node,
                       q->offset, v->index, zkv_errname (rc));
}

void
sim_kvs_chunk (sim_t *self, int node, const zkv_raft_chunk_t *c)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    if (!kn->recv)
        kn->recv = zkv_kv_recv_new (kn->kv);
    int rc = zkv_kv_recv_chunk (kn->recv, c->offset, c->data, c->len, c->done);
    if (rc != 0)
        sim_violation (self, "snapshot stream",
                       "node %d: zkv_kv_recv_chunk (offset %" PRIu64 " of %" PRIu64
                       ", %zu bytes) refused it: %s",
                       node, c->offset, c->snapshot.index, c->len, zkv_errname (rc));
}

void
sim_kvs_finish (sim_t *self, int node, uint64_t index)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    int rc = kn->recv ? zkv_kv_recv_finish (kn->recv, index) : ZKV_EINVAL;
    if (rc != 0)
        sim_violation (self, "snapshot stream",
                       "node %d: zkv_kv_recv_finish (%" PRIu64 ") failed: %s", node, index,
                       zkv_errname (rc));
    if (zkv_kv_applied (kn->kv) != index)
        sim_violation (self, "snapshot stream",
                       "node %d: the installed stream of %" PRIu64 " is at applied %" PRIu64, node,
                       index, zkv_kv_applied (kn->kv));
    self->kv->counters.kv_restores++;
}

uint64_t
sim_kvs_boot (sim_t *self, int node, uint64_t snapshot_index, bool *promoted_p, bool *missing_p)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    if (self->cfg.sabotage == SIM_SABOTAGE_STREAM_NO_PROMOTE) {
        // Broken on purpose (selftest): boots on whatever state the store holds.
        *promoted_p = *missing_p = false;
        return zkv_kv_applied (kn->kv);
    }
    int rc = zkv_kv_boot_promote (kn->kv, snapshot_index);
    if (rc < 0)
        sim_fail (self, "node %d: zkv_kv_boot_promote (%" PRIu64 ") failed: %s", node,
                  snapshot_index, zkv_errname (rc));
    *promoted_p = rc == 1;
    uint64_t applied = zkv_kv_applied (kn->kv);
    *missing_p = zkv_kv_incomplete (kn->kv) || applied < snapshot_index;
    return applied;
}

void
sim_kvs_lose (sim_t *self, int node)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    zkv_kv_recv_destroy (&kn->recv);
    zkv_kv_destroy (&kn->kv);
    zkv_kvstore_destroy (&kn->store);
    kn->store = zkv_kvstore_mem_new ();
    if (!kn->store)
        abort ();
}
