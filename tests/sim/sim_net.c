// The simulated network: links, partitions, drops, delays, duplicates and long reordering. Every
// message crosses it encoded (zkv_msg_encode) and is decoded on delivery (zkv_msg_decode).
#include "sim_kv_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

bool
sim_link_up (sim_t *self, int from, int to)
{
    return self->nodes[from].connected && self->nodes[to].connected && !self->cut[from][to];
}

static bool
s_is_request (zkv_msg_type_t type)
{
    return type == ZKV_MSG_REQUEST_VOTE || type == ZKV_MSG_APPEND_ENTRIES ||
           type == ZKV_MSG_INSTALL_SNAPSHOT;
}

static void
s_schedule (sim_t *self, int from, int to, const uint8_t *buf, size_t len, uint64_t delay)
{
    sim_event_t ev = {
        .at = self->now + delay, .kind = SIM_EV_DELIVER, .node = to, .from = from, .len = len};
    ev.buf = malloc (len ? len : 1);
    if (!ev.buf)
        abort ();
    memcpy (ev.buf, buf, len);
    sim_push (self, &ev);
}

static uint64_t
s_delay (sim_t *self, bool reply, uint8_t *fate)
{
    const sim_net_config_t *nc = &self->cfg.net;
    zkv_rng_t *rng = &self->rng;
    uint64_t d = zkv_rng_range (rng, nc->delay_min_us, nc->delay_max_us);
    if (self->unreliable && nc->unrel_delay_max_us)
        d += zkv_rng_below (rng, (uint64_t)nc->unrel_delay_max_us + 1);
    // As in the lab, long reordering holds back replies: old answers arrive very late. The
    // extra delay is long_min + rand (1 + rand (long_max - long_min)), the lab's skewed draw:
    // mostly a few hundred milliseconds, sometimes seconds.
    if (self->long_reordering && (reply || nc->long_requests) &&
        zkv_rng_chance (rng, nc->long_pm, 1000)) {
        uint64_t span = nc->long_max_us > nc->long_min_us ? nc->long_max_us - nc->long_min_us : 0;
        d += nc->long_min_us + zkv_rng_below (rng, 1 + zkv_rng_below (rng, span + 1));
        *fate = 3;
    }
    return d;
}

void
sim_net_send (sim_t *self, int from, int to, const zkv_msg_t *msg)
{
    bool raft = zkv_msg_is_raft (msg->type);
    if (raft) {
        uint64_t to_id = msg->u.hdr.to;
        if (to_id == 0 || to_id > (uint64_t)self->cfg.n_nodes || to_id == (uint64_t)from + 1 ||
            msg->u.hdr.from != (uint64_t)from + 1 || sim_group_index (self, msg->u.hdr.group) < 0)
            sim_fail (self, "node %d sent a %s with group %" PRIu64 " from %" PRIu64 " to %" PRIu64,
                      from, zkv_msg_name (msg->type), msg->u.hdr.group, msg->u.hdr.from, to_id);
        to = (int)to_id - 1;
    } else if (to < 0 || to >= self->cfg.n_nodes || to == from)
        sim_fail (self, "node %d sent a %s to node %d", from, zkv_msg_name (msg->type), to);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (msg, &buf, &len);
    if (rc != 0)
        sim_fail (self, "node %d: zkv_msg_encode (%s) failed: %s", from, zkv_msg_name (msg->type),
                  zkv_errname (rc));
    sim_counters_t *c = &self->counters;
    c->msgs_sent++;
    c->bytes_sent += len;
    if (s_is_request (msg->type)) {
        c->rpcs_sent++;
        c->rpc_bytes_sent += len;
    }
    uint8_t fate = 0;
    bool reply = !s_is_request (msg->type);
    if (!self->nodes[to].up || !sim_link_up (self, from, to) ||
        (self->unreliable && zkv_rng_chance (&self->rng, self->cfg.net.unrel_drop_pm, 1000))) {
        fate = 1;
        c->msgs_dropped++;
    } else {
        s_schedule (self, from, to, buf, len, s_delay (self, reply, &fate));
        if (self->unreliable && zkv_rng_chance (&self->rng, self->cfg.net.unrel_dup_pm, 1000)) {
            uint8_t fate2 = 0;
            s_schedule (self, from, to, buf, len, s_delay (self, reply, &fate2));
            c->msgs_duplicated++;
            fate = 2;
        }
    }
    sim_trace_msg (self, SIM_T_SEND, from, to, msg, fate);
    free (buf);
}

void
sim_net_deliver (sim_t *self, sim_event_t *ev)
{
    if (ev->node >= SIM_KV_CLIENT_EP || ev->from >= SIM_KV_CLIENT_EP) {
        sim_kv_deliver (self, ev); // between a clerk and a node
        return;
    }
    int to = ev->node;
    zkv_msg_t msg;
    memset (&msg, 0, sizeof msg);
    int rc = zkv_msg_decode (ev->buf, ev->len, &msg);
    free (ev->buf);
    ev->buf = NULL;
    if (rc != 0)
        sim_fail (self, "message from node %d to node %d does not decode: %s", ev->from, to,
                  zkv_errname (rc));
    if (!self->nodes[to].up || !sim_link_up (self, ev->from, to)) {
        self->counters.msgs_dropped++;
        sim_trace_msg (self, SIM_T_DROP, to, ev->from, &msg, 0);
        zkv_msg_free (&msg);
        return;
    }
    if (self->cfg.sabotage == SIM_SABOTAGE_FLIP_ENTRY && msg.type == ZKV_MSG_APPEND_ENTRIES &&
        msg.u.append_entries.entries.count && zkv_rng_chance (&self->rng, 1, 20)) {
        zkv_entry_t *e = &msg.u.append_entries.entries.items[0];
        if (e->data.len)
            e->data.data[0] ^= 0x40;
    }
    self->counters.msgs_delivered++;
    sim_trace_msg (self, SIM_T_DELIVER, to, ev->from, &msg, 0);
    int mg = zkv_msg_is_raft (msg.type) ? sim_group_index (self, msg.u.hdr.group) : -1;
    if (mg >= 0 && self->group_cut[mg]) {
        self->counters.msgs_dropped++; // the group is down (sim_shard_group_down)
        zkv_msg_free (&msg);
        return;
    }
    if (zkv_msg_is_raft (msg.type)) {
        int saved = self->g;
        self->g = mg;
        zkv_replica_step (R (self, to)->rep, &msg);
        self->g = saved;
    } else if (self->nodes[to].front)
        zkv_front_peer (self->nodes[to].front, (uint64_t)ev->from + 1, &msg, self->now / SIM_MS);
    zkv_msg_free (&msg);
    sim_drive (self, to);
}

// --- link control ----------------------------------------------------------------------------

static void
s_trace_net (sim_t *self)
{
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_NET, .a = self->unreliable, .b = self->long_reordering});
}

void
sim_connect (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].connected = true;
    sim_trace (self,
               &(sim_trace_rec_t){.kind = SIM_T_LINK, .node = (uint8_t)node, .peer = 0xff, .a = 1});
}

void
sim_disconnect (sim_t *self, int node)
{
    assert (node >= 0 && node < self->cfg.n_nodes);
    self->nodes[node].connected = false;
    sim_trace (self,
               &(sim_trace_rec_t){.kind = SIM_T_LINK, .node = (uint8_t)node, .peer = 0xff, .a = 0});
}

bool
sim_is_connected (sim_t *self, int node)
{
    return self->nodes[node].connected;
}

void
sim_link (sim_t *self, int from, int to, bool up)
{
    assert (from >= 0 && from < self->cfg.n_nodes && to >= 0 && to < self->cfg.n_nodes);
    self->cut[from][to] = !up;
    sim_trace (self, &(sim_trace_rec_t){
                         .kind = SIM_T_LINK, .node = (uint8_t)from, .peer = (uint8_t)to, .a = up});
}

void
sim_partition (sim_t *self, const int *group)
{
    for (int i = 0; i < self->cfg.n_nodes; i++)
        for (int j = 0; j < self->cfg.n_nodes; j++)
            self->cut[i][j] = group[i] != group[j];
    for (int i = 0; i < self->cfg.n_nodes; i++)
        sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_LINK,
                                            .node = (uint8_t)i,
                                            .peer = 0xfe,
                                            .a = (uint64_t)group[i]});
}

void
sim_heal (sim_t *self)
{
    memset (self->cut, 0, sizeof self->cut);
    for (int i = 0; i < self->cfg.n_nodes; i++)
        self->nodes[i].connected = true;
    sim_trace (self, &(sim_trace_rec_t){.kind = SIM_T_LINK, .node = 0xff, .peer = 0xff, .a = 1});
}

void
sim_set_unreliable (sim_t *self, bool on)
{
    self->unreliable = on;
    s_trace_net (self);
}

void
sim_set_chunk_faults (sim_t *self, bool on)
{
    self->chunks_calm = !on;
}

void
sim_set_long_reordering (sim_t *self, bool on)
{
    self->long_reordering = on;
    s_trace_net (self);
}
