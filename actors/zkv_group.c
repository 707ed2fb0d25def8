// The group actor: one per group this node is a member of. A shell around the group driver
// (cluster/zkv_replica.h), which makes every decision: this actor only feeds it what arrives
// (Raft messages from the transport, requests from the frontend, ticks of its timer) and
// carries out what it asks for (sends to the transport, replies and states to the frontend,
// events, syncs of the node's log store).
//
// Group commit: every input already queued (up to S_MAX_DRAIN) is fed to the driver before it
// runs its ready loop once, so one LevelDB sync covers all the entries and votes they produced.
// The group runs the state machine its config names (zkv_group_machine.c); the state machine's
// store is the node's LevelDB, so the log store's sync makes its writes durable too.
#include "zkv_actors.h"
#include "zkv_group_machine.h"
#include "zkv_kv_sm.h"
#include "zkv_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Inputs fed before one ready loop: bounds the latency a flood of input adds to a sync. The
// bytes bound keeps one loop (its writes and sync) short under big values, so that the
// heartbeats a leader sends between loops, and a follower's answers, are not held up by one
// huge write: 4096 puts of 64 KiB would be one 256 MiB batch.
#define S_MAX_DRAIN       4096
#define S_MAX_DRAIN_BYTES (4u << 20)
// The group's figures go to the node's board this often (metrics are read at any moment).
#define S_BOARD_MS 100

typedef struct {
    zkv_node_t *node;             // the node
    uint64_t group;               // our group
    zsock_t *in;                  // PULL: Raft messages, requests
    zsock_t *urgent;              // PULL: heartbeats, replies, votes (zkv_raft_msg_urgent)
    zsock_t *tx;                  // PUSH to the transport
    zsock_t *front;               // PUSH to the frontend
    zsock_t *events;              // PUSH to the event publisher
    zkv_group_machine_t *machine; // the state machine's store and limits
    zkv_replica_t *replica;       // the driver
    uint64_t tick_ms;             // one tick
    int64_t next_tick;            // zclock_mono time of the next tick
    int64_t next_board;           // zclock_mono time the figures go to the board again
    uint64_t malformed;           // inputs that did not decode (the transport validated them)
    uint64_t dropped;             // sends dropped on a full queue
} s_group_t;

// --- the driver's host -------------------------------------------------------------------------

static void
s_send (void *arg, const zkv_msg_t *msg)
{
    s_group_t *self = (s_group_t *)arg;
    // Dropped when the transport is stuck: Raft retransmits.
    if (zkv_actors_send_peer (zsock_resolve (self->tx), msg->u.hdr.to, msg,
                              zkv_raft_msg_urgent (msg)) != 0)
        self->dropped++;
}

static int
s_sync (void *arg)
{
    s_group_t *self = (s_group_t *)arg;
    return zkv_logstore_sync (self->node->logstore);
}

static void
s_reply (void *arg, const zkv_msg_t *reply)
{
    s_group_t *self = (s_group_t *)arg;
    // Dropped when the frontend is stuck: its deadline answers the client, which retries.
    if (zkv_actors_send (zsock_resolve (self->front), reply) != 0)
        self->dropped++;
}

static void
s_state (void *arg, const zkv_msg_t *state)
{
    s_group_t *self = (s_group_t *)arg;
    if (zkv_actors_send (zsock_resolve (self->front), state) != 0)
        self->dropped++;
}

// Shard events worth a line in the node's log (the others are in the event stream only).
static void
s_log_shard (s_group_t *self, const char *topic, const zkv_event_shard_t *e)
{
    if (streq (topic, "zkv.shard.config"))
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": configuration %" PRIu64
                      " applied (%" PRIu64 " shards serving)",
                      self->node->id, self->group, e->config, e->shard);
    else if (streq (topic, "zkv.shard.pull.finished"))
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": shard %" PRIu64
                      " received from group %" PRIu64 " (%" PRIu64 " chunks, %" PRIu64 " bytes)",
                      self->node->id, self->group, e->shard, e->peer, e->chunks, e->bytes);
    else if (streq (topic, "zkv.shard.gc"))
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": shard %" PRIu64 " deleted (group %" PRIu64
                      " holds it)",
                      self->node->id, self->group, e->shard, e->peer);
}

static void
s_event (void *arg, const char *topic, const zkv_msg_t *body)
{
    s_group_t *self = (s_group_t *)arg;
    zkv_msg_t ev = *body; // shallow: the event body has no owned fields but ours
    if (ev.type == ZKV_MSG_EVENT_SHARD) {
        ev.u.event_shard.time_ms = zkv_actors_now_ms ();
        s_log_shard (self, topic, &ev.u.event_shard);
        zkv_actors_event (zsock_resolve (self->events), topic, &ev);
        return;
    }
    ev.u.event_raft.time_ms = zkv_actors_now_ms ();
    const zkv_event_raft_t *e = &ev.u.event_raft;
    if (streq (topic, "zkv.raft.leader") && e->leader == self->node->id)
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": leader in term %" PRIu64, self->node->id,
                      self->group, e->term);
    else if (streq (topic, "zkv.raft.snapshot.installed") ||
             streq (topic, "zkv.raft.snapshot.taken"))
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %s a snapshot through %" PRIu64
                      " (%" PRIu64 " bytes)",
                      self->node->id, self->group,
                      streq (topic, "zkv.raft.snapshot.taken") ? "took" : "installed", e->index,
                      e->bytes);
    else if (streq (topic, "zkv.raft.snapshot.rejected"))
        zkv_log_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": refused the leader's snapshot %" PRIu64
                         " (a malformed chunk, or a stream that does not install); restarting "
                         "Raft from the stored state, waiting for a new stream",
                         self->node->id, self->group, e->index);
    zkv_actors_event (zsock_resolve (self->events), topic, &ev);
}

static void
s_fatal (void *arg, const char *what, int rc)
{
    s_group_t *self = (s_group_t *)arg;
    // A failed write leaves the store's state unknown: crash and let the restart load what is
    // really on disk. Raft is built for crash-stop nodes.
    zkv_log_error ("zkvd %" PRIu64 ": group %" PRIu64 ": %s failed: %s; stopping the node",
                   self->node->id, self->group, what, zkv_strerror (rc));
    _exit (3);
}

static void
s_call (void *arg, const zkv_msg_t *call)
{
    s_group_t *self = (s_group_t *)arg;
    // Dropped when the frontend is stuck: the mover asks again after its retry time.
    if (zkv_actors_send (zsock_resolve (self->front), call) != 0)
        self->dropped++;
}

static void
s_config (void *arg, uint64_t group, const uint8_t *config, size_t len)
{
    s_group_t *self = (s_group_t *)arg;
    zkv_msg_t m = {.type = ZKV_MSG_GROUP_CONFIG};
    m.u.group_config.group = group;
    m.u.group_config.config = (zkv_bytes_t){(uint8_t *)config, len};
    if (zkv_actors_send (zsock_resolve (self->front), &m) != 0)
        self->dropped++;
}

// The wall clock: a leader stamps it on the commands it proposes (the log time of client
// sessions, cluster/zkv_kv.h), so it must be the real time of day, kept in step by NTP.
static uint64_t
s_now_ms (void *arg)
{
    (void)arg;
    return zkv_actors_now_ms ();
}

static const zkv_replica_host_t s_host = {
    .send = s_send,
    .sync = s_sync,
    .reply = s_reply,
    .state = s_state,
    .event = s_event,
    .fatal = s_fatal,
    .call = s_call,
    .config = s_config,
    .now_ms = s_now_ms,
};

// --- the actor ---------------------------------------------------------------------------------

// The group's figures, with what only this actor knows, onto the node's board.
static void
s_board (s_group_t *self)
{
    zkv_group_stats_t st;
    zkv_replica_stats (self->replica, &st);
    zkv_sm_t *sm = zkv_replica_sm (self->replica);
    if (strcmp (sm->ops->name, "kv") == 0) {
        zkv_kv_session_stats_t ss;
        zkv_kv_session_stats (zkv_kv_sm_kv (sm), &ss);
        st.sessions = ss.sessions;
    }
    st.dropped = self->dropped;
    zkv_board_put_group (self->node->board, &st);
}

// One input: a Raft message or a group_request.
static void
s_input (s_group_t *self, zmq_msg_t *frame)
{
    zkv_msg_t m;
    if (zkv_actors_decode (frame, &m) != 0) {
        self->malformed++;
        return;
    }
    if (zkv_msg_is_raft (m.type))
        zkv_replica_step (self->replica, &m);
    else if (m.type == ZKV_MSG_GROUP_REQUEST && m.u.group_request.group == self->group)
        zkv_replica_request (self->replica, &m.u.group_request, NULL, NULL);
    else if (m.type == ZKV_MSG_GROUP_CALL_REPLY && m.u.group_call_reply.group == self->group)
        zkv_replica_call_reply (self->replica, &m.u.group_call_reply);
    else
        self->malformed++;
    zkv_msg_free (&m);
}

static int
s_boot (s_group_t *self)
{
    zkv_node_t *node = self->node;
    int rc = 0;
    zkv_sm_t *sm = zkv_group_machine_new (node, self->group, &self->machine, &rc);
    if (!sm) {
        const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
        if (rc == ZKV_EVERSION)
            zkv_log_error ("zkvd %" PRIu64 ": group %" PRIu64 ": its data in %s was written by "
                           "another version of zkv (this one speaks protocol %d) and cannot be "
                           "read here: run the version that wrote it, or move the directory away "
                           "and start this node with --rejoin (it then takes its state from the "
                           "members that run this version)",
                           node->id, self->group, me->data, ZKV_PROTOCOL_VERSION);
        else if (rc != ZKV_ECORRUPT) // zkvd says what to do about corrupt data, once
            zkv_log_error ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot open its state machine in "
                           "%s: %s",
                           node->id, self->group, me->data, zkv_strerror (rc));
        return rc ? rc : -1;
    }
    zkv_replica_config_t cfg;
    // Election timeouts must differ between nodes and between runs.
    uint64_t seed =
        (uint64_t)zclock_usecs () ^ (node->id * 0x9E3779B97F4A7C15ull) ^ (uint64_t)getpid ();
    zkv_node_replica_config (node, self->group, seed ^ self->group, &cfg);
    self->replica = zkv_replica_new (&cfg, node->logstore, sm, &s_host, self, &rc);
    if (!self->replica) {
        if (rc != ZKV_ECORRUPT)
            zkv_log_error ("zkvd %" PRIu64 ": group %" PRIu64 ": the stored state does not boot: %s",
                           node->id, self->group, zkv_strerror (rc));
        return rc ? rc : -1;
    }
    self->tick_ms = cfg.tick_ms;
    // The frontend learns the group's state at once (it routes by it).
    zkv_msg_t st;
    zkv_replica_state (self->replica, &st);
    s_state (self, &st);
    return 0;
}

void
zkv_group_actor (zsock_t *pipe, void *args)
{
    zkv_group_args_t *ga = (zkv_group_args_t *)args;
    s_group_t self_ = {.node = ga->node, .group = ga->group};
    s_group_t *self = &self_;
    self->in = zkv_actors_pull (self->node, "group-in", self->group);
    self->urgent = zkv_actors_pull (self->node, "group-urgent", self->group);
    self->tx = zkv_actors_push (self->node, "tx", UINT64_MAX);
    self->front = zkv_actors_push (self->node, "front-in", UINT64_MAX);
    self->events = zkv_actors_push (self->node, "events", UINT64_MAX);
    int brc = s_boot (self);
    if (brc != 0) {
        self->node->start_rc = brc; // a ZKV_E* code, or -1
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        goto done;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self->urgent, self->in, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    self->next_tick = zclock_mono () + (int64_t)self->tick_ms;
    void *in = zsock_resolve (self->in);
    void *urgent = zsock_resolve (self->urgent);
    while (true) {
        int64_t wait = self->next_tick - zclock_mono ();
        zsock_t *which = (zsock_t *)zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        // Heartbeats, replies and votes first: they never wait behind the appends and
        // requests queued with them (a sender's urgent queue is bounded like the rest).
        for (int i = 0; i < S_MAX_DRAIN; i++) {
            zmq_msg_t f[2];
            size_t n = zkv_actors_recv (urgent, f, 2);
            if (n == 0)
                break;
            if (n == 1)
                s_input (self, &f[0]);
            else
                self->malformed++;
            zkv_actors_close (f, n < 2 ? n : 2);
        }
        // Group commit: take everything queued now, then one ready loop.
        size_t drained = 0;
        for (int i = 0; i < S_MAX_DRAIN && drained < S_MAX_DRAIN_BYTES; i++) {
            zmq_msg_t f[2];
            size_t n = zkv_actors_recv (in, f, 2);
            if (n == 0)
                break;
            drained += zmq_msg_size (&f[0]);
            if (n == 1)
                s_input (self, &f[0]);
            else
                self->malformed++;
            zkv_actors_close (f, n < 2 ? n : 2);
        }
        int64_t now = zclock_mono ();
        if (now >= self->next_tick) {
            zkv_replica_tick (self->replica);
            // Late (a long sync, a busy machine): resume the cadence, do not burst ticks.
            self->next_tick += (int64_t)self->tick_ms;
            if (self->next_tick <= now)
                self->next_tick = now + (int64_t)self->tick_ms;
        }
        zkv_replica_run (self->replica);
        if (now >= self->next_board) {
            s_board (self);
            self->next_board = now + S_BOARD_MS;
        }
    }
    zpoller_destroy (&poller);
    zkv_replica_counters_t c;
    zkv_replica_counters (self->replica, &c);
    if (c.syncs)
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " entries appended in %" PRIu64
                      " syncs (%.1f per sync)",
                      self->node->id, self->group, c.appended, c.syncs,
                      (double)c.appended / (double)c.syncs);
    if (c.saves_begun || c.saves_busy)
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " saves begun (%" PRIu64
                      " chunks read), %" PRIu64 " refused busy, %" PRIu64 " ended idle",
                      self->node->id, self->group, c.saves_begun, c.save_chunks, c.saves_busy,
                      c.saves_expired);
    zkv_sm_t *sm = zkv_replica_sm (self->replica);
    if (strcmp (sm->ops->name, "kv") == 0) {
        zkv_kv_session_stats_t ss;
        zkv_kv_session_stats (zkv_kv_sm_kv (sm), &ss);
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " client sessions; %" PRIu64
                      " expired, %" PRIu64 " ended for max_sessions, %" PRIu64
                      " requests answered 'session expired', %" PRIu64 " new sessions 'busy'",
                      self->node->id, self->group, ss.sessions, ss.expired, ss.capped, ss.refused,
                      ss.busy);
    }
    if (self->malformed || self->dropped)
        zkv_log_info ("zkvd %" PRIu64 ": group %" PRIu64 ": %" PRIu64 " inputs refused, %" PRIu64
                      " sends dropped on full queues",
                      self->node->id, self->group, self->malformed, self->dropped);
done:
    zkv_replica_destroy (&self->replica);
    zkv_group_machine_destroy (&self->machine);
    zsock_destroy (&self->events);
    zsock_destroy (&self->front);
    zsock_destroy (&self->tx);
    zsock_destroy (&self->urgent);
    zsock_destroy (&self->in);
}
