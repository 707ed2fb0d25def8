// The group driver's side of a state machine's own work (zkv_sm.h: work, call_reply): the
// shard mover's calls to other groups, its proposals, events and configurations go through
// here to the host.
#include "zkv_replica_int.h"

#include <assert.h>
#include <string.h>

static void
s_call (void *arg, const zkv_sm_call_t *call)
{
    zkv_replica_t *self = (zkv_replica_t *)arg;
    if (!self->host->call)
        return; // a host without a frontend: nobody to call (the machine's deadline retries)
    zkv_msg_t m = {.type = ZKV_MSG_GROUP_CALL};
    zkv_group_call_t *c = &m.u.group_call;
    c->group = self->group;
    c->call_id = call->id;
    c->to_group = call->group;
    c->members = (zkv_u64s_t){(uint64_t *)call->members, call->n_members};
    c->op = call->op;
    c->key = (zkv_bytes_t){(uint8_t *)call->key, call->key_len};
    c->deadline_ms = call->deadline_ms;
    self->counters.calls++;
    self->host->call (self->host_arg, &m);
}

static int
s_propose (void *arg, const uint8_t *cmd, size_t len)
{
    zkv_replica_t *self = (zkv_replica_t *)arg;
    if (self->failed)
        return ZKV_ESTOPPED;
    uint64_t index, term;
    int rc = zkv_raft_propose (self->raft, cmd, len, &index, &term);
    if (rc == 0)
        self->counters.own_proposals++;
    return rc;
}

static void
s_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    zkv_replica_t *self = (zkv_replica_t *)arg;
    zkv_msg_t m = *body; // borrowed fields
    if (m.type == ZKV_MSG_EVENT_SHARD)
        m.u.event_shard.node = self->cfg.raft.id;
    self->host->event (self->host_arg, topic, &m);
}

static void
s_config (void *arg, const uint8_t *config, size_t len)
{
    zkv_replica_t *self = (zkv_replica_t *)arg;
    if (self->host->config)
        self->host->config (self->host_arg, self->group, config, len);
}

static zkv_sm_io_t
s_io (zkv_replica_t *self)
{
    return (zkv_sm_io_t){
        .arg = self, .call = s_call, .propose = s_propose, .event = s_event, .config = s_config};
}

void
zkv_rep_work (zkv_replica_t *self, bool tick)
{
    if (self->failed || !self->sm->ops->work)
        return;
    zkv_raft_status_t st;
    zkv_raft_status (self->raft, &st);
    zkv_sm_io_t io = s_io (self);
    self->sm->ops->work (self->sm->impl, &io, st.role == ZKV_ROLE_LEADER && self->usable, st.term,
                         tick);
}

void
zkv_replica_call_reply (zkv_replica_t *self, const zkv_group_call_reply_t *reply)
{
    if (self->failed || !self->sm->ops->call_reply || reply->group != self->group)
        return;
    zkv_sm_io_t io = s_io (self);
    self->sm->ops->call_reply (self->sm->impl, &io, reply->call_id, -(int)reply->status,
                               &reply->value);
}
