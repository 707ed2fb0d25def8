// The KV service on the simulated nodes: state machine (zkv_kv over a memory kvstore), snapshots,
// crashes and restarts, and the frontend that answers clerks (see sim_kv.h).
#include "sim_kv_int.h"
#include "zkv_kvstores.h"
#include "zkv_memstore.h"

#include <stdlib.h>
#include <string.h>

#define S_NSHARDS 4 // shards of the one group: dedup records live per shard

void
sim_kv_init (sim_t *self)
{
    sim_kv_t *kv = calloc (1, sizeof *kv);
    if (!kv)
        abort ();
    for (int i = 0; i < self->cfg.n_nodes; i++) {
        kv->nodes[i].store = zkv_kvstore_mem_new ();
        sim_kv_open (self, kv, i);
    }
    kv->history = zkv_history_new ();
    self->kv = kv;
}

// (Re)creates node's state machine over its store, as it stands.
void
sim_kv_open (sim_t *self, sim_kv_t *kv, int node)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err = 0;
    kv->nodes[node].kv = zkv_kv_new (kv->nodes[node].store, SIM_GROUP, S_NSHARDS, &limits, &err);
    if (!kv->nodes[node].kv)
        sim_violation (self, "durability", "node %d: zkv_kv_new refused its kvstore: %s", node,
                       zkv_errname (err));
}

static void
s_pending_clear (sim_kvnode_t *kn)
{
    for (size_t i = 0; i < kn->n_pending; i++)
        free (kn->pending[i].key);
    kn->n_pending = 0;
}

void
sim_kv_free (sim_t *self)
{
    sim_kv_t *kv = self->kv;
    if (!kv)
        return;
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        sim_kvnode_t *kn = &kv->nodes[i];
        zkv_kv_recv_destroy (&kn->recv);
        zkv_kv_destroy (&kn->kv);
        zkv_kvstore_destroy (&kn->store);
        s_pending_clear (kn);
        free (kn->pending);
    }
    sim_kv_clients_free (self);
    zkv_history_destroy (&kv->history);
    zkv_kv_results_free (&kv->results);
    free (kv);
    self->kv = NULL;
}

// --- state machine ---------------------------------------------------------------------------

void
sim_kv_crash (sim_t *self, int node)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    s_pending_clear (kn);
    zkv_kv_recv_destroy (&kn->recv);
    zkv_kv_destroy (&kn->kv);
    zkv_kvstore_mem_crash (kn->store); // committed batches survive, nothing else
}

uint64_t
sim_kv_boot (sim_t *self, int node)
{
    sim_kv_open (self, self->kv, node);
    return zkv_kv_applied (self->kv->nodes[node].kv);
}

void
sim_kv_restore (sim_t *self, int node, uint64_t index, const uint8_t *data, size_t len)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    int rc = zkv_kv_snapshot_restore (kn->kv, data, len);
    if (rc != 0)
        sim_violation (self, "snapshot",
                       "node %d: zkv_kv_snapshot_restore of the snapshot at %" PRIu64
                       " (%zu bytes) failed: %s",
                       node, index, len, zkv_errname (rc));
    if (zkv_kv_applied (kn->kv) != index)
        sim_violation (self, "snapshot",
                       "node %d: the KV snapshot at %" PRIu64 " restores applied index %" PRIu64,
                       node, index, zkv_kv_applied (kn->kv));
    self->kv->counters.kv_restores++;
}

bool
sim_kv_wants_snapshot (sim_t *self, int node)
{
    size_t max = self->cfg.maxraftstate;
    if (!max)
        return false;
    // The lab's kv server snapshots once the persisted Raft state reaches maxraftstate; the
    // log held in memory is what the next persist keeps (entries with their stored framing).
    zkv_raft_status_t st;
    zkv_raft_status (self->nodes[node].raft, &st);
    size_t n_entries = (size_t)(st.last_index - st.snapshot_index);
    return st.log_bytes + n_entries * SIM_KV_ENTRY_OVERHEAD >= max;
}

void
sim_kv_snapshot (sim_t *self, int node, const uint8_t *header, size_t header_len, uint8_t **buf_p,
                 size_t *len_p)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int rc = zkv_kv_snapshot_write (kn->kv, &blob, &blob_len);
    if (rc != 0)
        sim_fail (self, "node %d: zkv_kv_snapshot_write failed: %s", node, zkv_errname (rc));
    uint8_t *buf = malloc (header_len + blob_len);
    if (!buf)
        abort ();
    memcpy (buf, header, header_len);
    memcpy (buf + header_len, blob, blob_len);
    free (blob);
    *buf_p = buf;
    *len_p = header_len + blob_len;
    self->kv->counters.kv_snapshots++;
}

// --- frontend --------------------------------------------------------------------------------

static void
s_reply (sim_t *self, int node, const sim_kvpending_t *p, int status, const zkv_bytes_t *value)
{
    zkv_raft_status_t st;
    sim_status (self, node, &st);
    zkv_msg_t m;
    memset (&m, 0, sizeof m);
    m.type = ZKV_MSG_CLIENT_REPLY;
    zkv_client_reply_t *r = &m.u.client_reply;
    r->client_id = p->client_id;
    r->seq = p->seq;
    r->status = (uint64_t)(-status);
    if (value)
        r->value = *value; // borrowed: encode copies
    r->leader = st.leader;
    if (status == ZKV_ENOTLEADER)
        self->kv->counters.not_leader++;
    sim_kv_net_send (self, node, SIM_KV_CLIENT_EP + p->client, &m);
}

static void
s_pending_remove (sim_kvnode_t *kn, size_t i)
{
    free (kn->pending[i].key);
    kn->pending[i] = kn->pending[--kn->n_pending];
}

static sim_kvpending_t *
s_pending_add (sim_kvnode_t *kn, const sim_kvpending_t *p)
{
    kn->pending = sim_grow (kn->pending, &kn->cap_pending, kn->n_pending + 1, sizeof *kn->pending);
    kn->pending[kn->n_pending] = *p;
    return &kn->pending[kn->n_pending++];
}

void
sim_kv_request (sim_t *self, int node, int client, const zkv_client_request_t *rq)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    sim_kvpending_t p = {
        .client = client, .client_id = rq->client_id, .seq = rq->seq, .op = rq->op};
    zkv_raft_status_t st;
    sim_status (self, node, &st);
    if (self->cfg.sabotage == SIM_SABOTAGE_KV_STALE_READ && rq->op == ZKV_OP_GET) {
        zkv_bytes_t value = {0};
        int rc = zkv_kv_get (kn->kv, rq->key.data, rq->key.len, &value);
        s_reply (self, node, &p, rc == ZKV_ENOTFOUND ? 0 : rc, &value);
        zkv_bytes_free (&value);
        return;
    }
    if (st.role != ZKV_ROLE_LEADER) {
        s_reply (self, node, &p, ZKV_ENOTLEADER, NULL);
        return;
    }
    if (rq->op == ZKV_OP_GET) {
        // Pending before the ask (its id is the next read's): a single node confirms at once.
        p.read_id = sim_read_next_id (self);
        p.key = malloc (rq->key.len ? rq->key.len : 1);
        if (!p.key)
            abort ();
        memcpy (p.key, rq->key.data, rq->key.len);
        p.key_len = rq->key.len;
        s_pending_add (kn, &p);
        if (sim_read (self, node) == 0)
            sim_kv_read_done (self, node, p.read_id, false); // refused: not the leader
        return;
    }
    {
        // A retry of something applied is answered from the dedup table at once.
        zkv_kv_result_t res;
        if (zkv_kv_lookup (kn->kv, rq->client_id, rq->seq, rq->key.data, rq->key.len, &res) == 1) {
            self->kv->counters.dedup_answers++;
            s_reply (self, node, &p, res.status, &res.value);
            zkv_bytes_free (&res.value);
            return;
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = zkv_kv_command_encode (kn->kv, rq->client_id, rq->seq, rq->op, rq->key.data,
                                        rq->key.len, rq->value.data, rq->value.len, &buf, &len);
        if (rc != 0) {
            s_reply (self, node, &p, rc, NULL);
            return;
        }
        // Recorded before the propose: a single-node group commits and applies inside it.
        p.index = st.last_index + 1;
        p.term = st.term;
        s_pending_add (kn, &p);
        uint64_t index = 0, term = 0;
        rc = sim_propose (self, node, buf, len, &index, &term);
        free (buf);
        self->kv->counters.proposals++;
        if (rc == 0 && self->cfg.sabotage == SIM_SABOTAGE_KV_EARLY_ACK) {
            for (size_t i = 0; i < kn->n_pending; i++)
                if (kn->pending[i].index == p.index && !kn->pending[i].read_id) {
                    s_reply (self, node, &kn->pending[i], 0, NULL);
                    s_pending_remove (kn, i);
                    break;
                }
            return;
        }
        if (rc != 0 || index != p.index || term != p.term) {
            // Refused (or, never, put elsewhere): answer now if still waiting.
            for (size_t i = 0; i < kn->n_pending; i++)
                if (kn->pending[i].index == p.index && kn->pending[i].client_id == p.client_id &&
                    kn->pending[i].seq == p.seq && !kn->pending[i].read_id) {
                    s_reply (self, node, &kn->pending[i], ZKV_ENOTLEADER, NULL);
                    s_pending_remove (kn, i);
                    break;
                }
        }
    }
}

void
sim_kv_apply (sim_t *self, int node, const zkv_entry_t *entries, size_t n)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    zkv_kv_results_t *res = &self->kv->results;
    int rc = zkv_kv_apply (kn->kv, entries, n, res);
    if (rc != 0)
        sim_fail (self, "node %d: zkv_kv_apply failed: %s", node, zkv_errname (rc));
    if (zkv_kv_applied (kn->kv) != self->nodes[node].applied)
        sim_violation (self, "state machine safety",
                       "node %d: the KV state machine applied through %" PRIu64
                       " but Raft handed out %" PRIu64,
                       node, zkv_kv_applied (kn->kv), self->nodes[node].applied);
    for (size_t r = 0; r < res->count; r++) {
        const zkv_kv_result_t *kr = &res->items[r];
        for (size_t i = 0; i < kn->n_pending;) {
            sim_kvpending_t *p = &kn->pending[i];
            if (p->read_id || p->index != kr->index) {
                i++;
                continue;
            }
            // Our entry was applied: its result. Another one took its index: we lost the lead.
            if (kr->has_client && kr->client_id == p->client_id && kr->seq == p->seq)
                s_reply (self, node, p, kr->status, &kr->value);
            else
                s_reply (self, node, p, ZKV_ENOTLEADER, NULL);
            s_pending_remove (kn, i);
        }
    }
    zkv_kv_results_free (res); // zkv_kv_apply empties it without freeing
}

void
sim_kv_read_done (sim_t *self, int node, uint64_t read_id, bool served)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    for (size_t i = 0; i < kn->n_pending; i++) {
        sim_kvpending_t *p = &kn->pending[i];
        if (p->read_id != read_id)
            continue;
        if (!served)
            s_reply (self, node, p, ZKV_ENOTLEADER, NULL);
        else {
            zkv_bytes_t value = {0};
            int rc = zkv_kv_get (kn->kv, p->key, p->key_len, &value);
            if (rc == ZKV_ENOTFOUND)
                rc = 0; // a missing key reads as the empty value (the append model)
            s_reply (self, node, p, rc, &value);
            zkv_bytes_free (&value);
        }
        s_pending_remove (kn, i);
        return;
    }
}

void
sim_kv_after_drive (sim_t *self, int node)
{
    sim_kvnode_t *kn = &self->kv->nodes[node];
    if (!kn->n_pending)
        return;
    zkv_raft_status_t st;
    sim_status (self, node, &st);
    // Writes proposed in a term this node no longer leads may never be applied here: the client
    // asks again (same seq; the dedup table keeps it exactly once).
    for (size_t i = 0; i < kn->n_pending;) {
        sim_kvpending_t *p = &kn->pending[i];
        if (!p->read_id && (st.role != ZKV_ROLE_LEADER || st.term != p->term)) {
            s_reply (self, node, p, ZKV_ENOTLEADER, NULL);
            s_pending_remove (kn, i);
        } else
            i++;
    }
}

void
sim_kv_counters (sim_t *s, sim_kv_counters_t *out)
{
    memset (out, 0, sizeof *out);
    if (s->kv)
        *out = s->kv->counters;
}

size_t
sim_kv_maxraftstate (sim_t *s)
{
    return s->cfg.maxraftstate;
}

// --- sizes -----------------------------------------------------------------------------------

static size_t
s_snapshot_len (sim_t *s, int node)
{
    zkv_logstore_state_t *ls = &s->loaded;
    zkv_logstore_state_free (ls);
    if (zkv_logstore_load (s->nodes[node].store, SIM_GROUP, ls) != 0)
        sim_fail (s, "node %d: memstore load failed", node);
    size_t len = ls->snapshot_data.len;
    zkv_logstore_state_free (ls);
    return len;
}

size_t
sim_kv_raft_state_bytes (sim_t *s, int node)
{
    return sim_durable_bytes (s, node) - s_snapshot_len (s, node);
}

size_t
sim_kv_snapshot_bytes (sim_t *s, int node)
{
    return s_snapshot_len (s, node);
}

size_t
sim_kv_max_raft_state (sim_t *s)
{
    size_t max = 0;
    for (int i = 0; i < sim_n (s); i++) {
        size_t b = sim_kv_raft_state_bytes (s, i);
        max = b > max ? b : max;
    }
    return max;
}

size_t
sim_kv_max_snapshot (sim_t *s)
{
    size_t max = 0;
    for (int i = 0; i < sim_n (s); i++) {
        size_t b = sim_kv_snapshot_bytes (s, i);
        max = b > max ? b : max;
    }
    return max;
}
