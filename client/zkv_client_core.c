// The client's retry decisions: leader cache, rotation on silence, backoff, dedup-safe retries,
// and what a failure says of the request's effect (zkv_client_core.h, "Outcomes").
#include "zkv_client_core.h"

#include "zkv_error.h"
#include "zkv_shard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_BACKOFF_MIN_MS 5
#define S_BACKOFF_MAX_MS 100

static int64_t
s_min (int64_t a, int64_t b)
{
    return a < b ? a : b;
}

void
zkv_ccore_init (zkv_ccore_t *core, const uint64_t *ids, size_t n, uint64_t client_id,
                int attempt_ms)
{
    assert (n > 0 && attempt_ms > 0);
    memset (core, 0, sizeof *core);
    core->ids = malloc (n * sizeof *ids);
    if (!core->ids)
        abort ();
    memcpy (core->ids, ids, n * sizeof *ids);
    core->links = calloc (n, sizeof *core->links);
    core->unanswered = calloc (n, sizeof *core->unanswered);
    if (!core->links || !core->unanswered)
        abort ();
    core->n_nodes = n;
    core->client_id = client_id;
    core->attempt_ms = attempt_ms;
    core->backoff_min_ms = S_BACKOFF_MIN_MS;
    core->backoff_max_ms = S_BACKOFF_MAX_MS;
}

void
zkv_ccore_fini (zkv_ccore_t *core)
{
    free (core->ids);
    free (core->links);
    free (core->unanswered);
    zkv_routing_destroy (&core->routing);
    free (core->group_leader);
    memset (core, 0, sizeof *core);
}

size_t
zkv_ccore_index (const zkv_ccore_t *core, uint64_t id)
{
    for (size_t i = 0; i < core->n_nodes; i++)
        if (core->ids[i] == id)
            return i;
    return core->n_nodes;
}

static zkv_cc_action_t
s_send (zkv_ccore_t *core, size_t node)
{
    core->target = node;
    core->resend_after_wait = false;
    return (zkv_cc_action_t){.kind = core->fetching ? ZKV_CC_FETCH : ZKV_CC_SEND, .node = node};
}

// --- routing ---------------------------------------------------------------------------------

// Index of the current request's group in the routing, or -1.
static long
s_group_slot (const zkv_ccore_t *core)
{
    if (!core->routing || !core->group)
        return -1;
    for (size_t i = 0; i < core->routing->n_groups; i++)
        if (core->routing->group_ids[i] == core->group)
            return (long)i;
    return -1;
}

// Routes the current request by the cached configuration.
static void
s_route (zkv_ccore_t *core)
{
    core->group = 0;
    if (core->routing && core->keyed)
        core->group = core->routing->shard_group[core->key_hash % core->routing->nshards];
}

// Where the current request goes first: its group's leader as last heard, else one of its
// members (spread by seq), else the node last heard to lead (any node forwards).
static size_t
s_target (const zkv_ccore_t *core)
{
    long slot = s_group_slot (core);
    if (slot < 0)
        return core->leader;
    size_t idx = zkv_ccore_index (core, core->group_leader[slot]);
    if (core->group_leader[slot] && idx < core->n_nodes)
        return idx;
    size_t n = 0;
    const uint64_t *members = zkv_routing_members (core->routing, core->group, &n);
    for (size_t k = 0; k < n; k++) {
        idx = zkv_ccore_index (core, members[(core->seq + k) % n]);
        if (idx < core->n_nodes)
            return idx;
    }
    return core->leader;
}

// Remembers who leads the current request's group.
static void
s_learn_leader (zkv_ccore_t *core, uint64_t node)
{
    long slot = s_group_slot (core);
    if (slot >= 0 && node)
        core->group_leader[slot] = node;
}

void
zkv_ccore_saw_config (zkv_ccore_t *core, uint64_t config)
{
    if (config > core->seen_config)
        core->seen_config = config;
}

void
zkv_ccore_saw_log_ms (zkv_ccore_t *core, uint64_t log_ms)
{
    if (log_ms > core->log_ms)
        core->log_ms = log_ms;
}

uint64_t
zkv_ccore_next_id (uint64_t id)
{
    // splitmix64's finalizer, a bijection of the 64-bit ids: a random id stays as random (as
    // unlikely to meet another client's), and the simulator stays deterministic. Ids stay
    // below 2^63 (the frontend's calls use the top bit) and above 0.
    do {
        uint64_t z = (id += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z = (z ^ (z >> 31)) & ~(1ULL << 63);
        if (z)
            return z;
    } while (1);
}

// A new session: a new client id, seqs from 1 (the next request's is 1).
static void
s_new_session (zkv_ccore_t *core)
{
    core->client_id = zkv_ccore_next_id (core->client_id);
    core->seq = 0;
    core->sessions++;
}

static bool
s_config_stale (const zkv_ccore_t *core)
{
    return core->seen_config > (core->routing ? core->routing->num : 0);
}

static zkv_cc_action_t
s_wait (zkv_ccore_t *core, int64_t wake_at, bool resend)
{
    core->wake_at = s_min (wake_at, core->deadline);
    core->resend_after_wait = resend;
    return (zkv_cc_action_t){.kind = ZKV_CC_WAIT, .wake_at = core->wake_at};
}

static zkv_cc_action_t
s_done (zkv_ccore_t *core, int rc, zkv_cc_why_t why)
{
    core->active = false;
    core->why = why;
    return (zkv_cc_action_t){.kind = ZKV_CC_DONE, .rc = rc};
}

// The deadline passed. What it ends with says what is known of the request's effect:
// - nothing ever left this client: ZKV_EUNREACHABLE, not applied;
// - a get has no effect: the last error a server gave, else ZKV_ETIMEOUT (no answer in time);
// - every attempt of a write was answered, each a refusal before any proposal: that refusal's
//   code, not applied;
// - otherwise an attempt may have been proposed, and may still take effect: ZKV_ETIMEOUT, an
//   unknown outcome, never a failure.
static zkv_cc_action_t
s_finish (zkv_ccore_t *core)
{
    for (size_t i = 0; i < core->n_nodes; i++)
        if (core->unanswered[i])
            core->maybe_applied = true; // sent there, and no answer came back in time
    if (!core->request_sent && !core->any_sent)
        return s_done (core, ZKV_EUNREACHABLE, ZKV_CC_WHY_NOT_CONNECTED);
    if (core->read_only && core->last_status)
        return s_done (core, -core->last_status, ZKV_CC_WHY_SERVER_ERROR);
    // A first send answered "session expired" was refused too, but say so only with an answer
    // that names what the cluster refused.
    if (core->request_sent && !core->maybe_applied && core->last_status &&
        core->last_status != ZKV_ESESSION_VALUE)
        return s_done (core, -core->last_status, ZKV_CC_WHY_ALL_REFUSED);
    return s_done (core, ZKV_ETIMEOUT,
                   core->last_status ? ZKV_CC_WHY_SERVER_ERROR : ZKV_CC_WHY_NO_REPLY);
}

// --- connections -------------------------------------------------------------------------------

// A node's connection state after event. A verdict of refused or rejected holds until a
// connection is up again: a reconnect attempt in between changes nothing.
static zkv_cc_node_t
s_link_next (zkv_cc_node_t state, zkv_cc_link_t event)
{
    switch (event) {
    case ZKV_CC_LINK_CONNECTED:
        return state == ZKV_CC_NODE_REFUSED || state == ZKV_CC_NODE_REJECTED
                   ? state
                   : ZKV_CC_NODE_HANDSHAKE;
    case ZKV_CC_LINK_UP:
        return ZKV_CC_NODE_UP;
    case ZKV_CC_LINK_LOST:
        // Closed after its handshake: the node went away. Closed during it: the node would not
        // take this client (keys, its connection limit).
        if (state == ZKV_CC_NODE_UP)
            return ZKV_CC_NODE_DOWN;
        return state == ZKV_CC_NODE_HANDSHAKE || state == ZKV_CC_NODE_UNKNOWN ? ZKV_CC_NODE_REJECTED
                                                                              : state;
    case ZKV_CC_LINK_REFUSED:
        return ZKV_CC_NODE_REFUSED;
    case ZKV_CC_LINK_REJECTED:
        return ZKV_CC_NODE_REJECTED;
    case ZKV_CC_LINK_RETRY:
        // A retry before any attempt was seen: the first one could not start (ZeroMQ resolves
        // the host name then). After a failed or closed connection it is routine.
        return state == ZKV_CC_NODE_UNKNOWN ? ZKV_CC_NODE_UNRESOLVED : state;
    }
    return state; // not an event: nothing learned
}

bool
zkv_ccore_unreachable (const zkv_ccore_t *core, size_t node)
{
    return node < core->n_nodes &&
           (core->links[node] == ZKV_CC_NODE_REFUSED || core->links[node] == ZKV_CC_NODE_REJECTED ||
            core->links[node] == ZKV_CC_NODE_UNRESOLVED);
}

// No node can take a request now: each one refuses connections, rejects them, or has no address.
static bool
s_none_reachable (const zkv_ccore_t *core)
{
    for (size_t i = 0; i < core->n_nodes; i++)
        if (!zkv_ccore_unreachable (core, i))
            return false;
    return true;
}

zkv_cc_action_t
zkv_ccore_link (zkv_ccore_t *core, int64_t now, size_t node, zkv_cc_link_t event)
{
    if (node < core->n_nodes)
        core->links[node] = s_link_next (core->links[node], event);
    if (!core->active)
        return (zkv_cc_action_t){.kind = ZKV_CC_WAIT, .wake_at = core->wake_at};
    // Never sent and nobody to send it to: say so now rather than at the deadline. Once sent,
    // the request may have arrived: it waits for an answer or its deadline.
    if (!core->request_sent && s_none_reachable (core))
        return s_done (core, ZKV_EUNREACHABLE, ZKV_CC_WHY_UNREACHABLE);
    if (now >= core->deadline)
        return s_finish (core);
    return (zkv_cc_action_t){.kind = ZKV_CC_WAIT, .wake_at = core->wake_at};
}

// Pause (backing off) before sending again to `node`; replies still count meanwhile.
static zkv_cc_action_t
s_pause (zkv_ccore_t *core, int64_t now, size_t node)
{
    core->target = node;
    zkv_cc_action_t act = s_wait (core, now + core->backoff_ms, true);
    core->backoff_ms = (int)s_min (2 * (int64_t)core->backoff_ms, core->backoff_max_ms);
    return act;
}

static size_t
s_next (const zkv_ccore_t *core, size_t node)
{
    return (node + 1) % core->n_nodes;
}

static zkv_cc_action_t s_begin (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only);

zkv_cc_action_t
zkv_ccore_begin (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only)
{
    core->keyed = false;
    return s_begin (core, now, timeout_ms, read_only);
}

zkv_cc_action_t
zkv_ccore_begin_key (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only,
                     const uint8_t *key, size_t key_len)
{
    core->keyed = true;
    core->key_hash = zkv_fnv1a (key, key_len);
    return s_begin (core, now, timeout_ms, read_only);
}

static zkv_cc_action_t
s_begin (zkv_ccore_t *core, int64_t now, int timeout_ms, bool read_only)
{
    assert (!core->active);
    core->seq++;
    core->active = true;
    core->read_only = read_only;
    core->deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
    core->unsent_in_row = 0;
    core->hops = 0;
    core->backoff_ms = core->backoff_min_ms;
    core->any_sent = false;
    core->request_sent = false;
    core->maybe_applied = false;
    memset (core->unanswered, 0, core->n_nodes * sizeof *core->unanswered);
    core->last_status = 0;
    core->why = ZKV_CC_WHY_NONE;
    core->wrong_in_row = 0;
    // The newest log time known before it is first sent (zkv_kv.h, "Client sessions").
    core->session_t0 = core->log_ms;
    core->sends = 0;
    // A reply named a newer configuration than the cached one: fetch it first, from the node
    // last heard to lead (it answered with that number). A first write fetches it too, for its
    // log_ms: a session_t0 of 0 is refused "session expired" wherever a session was ever
    // evicted, and that refusal is an unknown outcome once the request went twice.
    core->fetching = (core->keyed && s_config_stale (core)) || (!read_only && core->log_ms == 0);
    s_route (core);
    return s_send (core, core->fetching ? core->leader : s_target (core));
}

zkv_cc_action_t
zkv_ccore_config (zkv_ccore_t *core, int64_t now, size_t from, const zkv_config_reply_t *reply)
{
    if (!core->active || !core->fetching || from >= core->n_nodes)
        return (zkv_cc_action_t){.kind = ZKV_CC_WAIT, .wake_at = core->wake_at};
    int err = 0;
    zkv_routing_t *r = zkv_routing_from_reply (reply, &err);
    core->fetching = false;
    if (!core->request_sent)
        core->session_t0 = core->log_ms; // learned before the request first leaves
    if (r && (!core->routing || r->num >= core->routing->num)) {
        zkv_routing_destroy (&core->routing);
        free (core->group_leader);
        core->routing = r;
        core->group_leader = calloc (r->n_groups ? r->n_groups : 1, sizeof (uint64_t));
        if (!core->group_leader)
            abort ();
        core->fetches++;
        zkv_ccore_saw_config (core, r->num);
    } else
        zkv_routing_destroy (&r); // garbage, or older than the one held: route by that
    if (now >= core->deadline)
        return s_finish (core);
    s_route (core);
    return s_send (core, s_target (core));
}

zkv_cc_action_t
zkv_ccore_sent (zkv_ccore_t *core, int64_t now, bool ok)
{
    assert (core->active);
    if (ok) {
        if (!core->fetching) {
            core->sends++;
            core->request_sent = true;
            core->unanswered[core->target]++;
        }
        core->any_sent = true;
        core->unsent_in_row = 0;
        return s_wait (core, now + core->attempt_ms, false);
    }
    if (!core->request_sent && s_none_reachable (core))
        return s_done (core, ZKV_EUNREACHABLE, ZKV_CC_WHY_UNREACHABLE);
    if (now >= core->deadline)
        return s_finish (core);
    // Not connected: try the next node at once, and pause once a whole round found none.
    size_t next = s_next (core, core->target);
    if (++core->unsent_in_row < core->n_nodes)
        return s_send (core, next);
    core->unsent_in_row = 0;
    return s_pause (core, now, next);
}

zkv_cc_action_t
zkv_ccore_timer (zkv_ccore_t *core, int64_t now)
{
    assert (core->active);
    if (now >= core->deadline)
        return s_finish (core);
    if (core->fetching && !core->resend_after_wait) {
        // No configuration within an attempt: route by the one held (any node forwards).
        core->fetching = false;
        s_route (core);
        return s_send (core, s_target (core));
    }
    if (core->resend_after_wait)
        return s_send (core, core->target);
    // No answer within an attempt: that node may be down or cut off; ask the next one the same
    // question (same client id and seq, so the dedup table answers if the first one applied it).
    return s_send (core, s_next (core, core->target));
}

// Answers that say the request was refused as such: it did not take effect, retrying cannot help.
static bool s_definitive (uint64_t status);

bool
zkv_ccore_refused_unproposed (uint64_t status)
{
    // "Not the leader" comes from a node that did not propose it (one whose proposal was lost
    // says "leader lost"); "busy", "wrong group" and "not ready" refuse it before its proposal
    // or apply it as a refusal; "stopped" never proposes.
    return status == ZKV_ENOTLEADER_VALUE || status == ZKV_EBUSY_VALUE ||
           status == ZKV_EWRONGGROUP_VALUE || status == ZKV_ENOTREADY_VALUE ||
           status == ZKV_ESTOPPED_VALUE || s_definitive (status);
}

static bool
s_definitive (uint64_t status)
{
    return status == ZKV_EINVAL_VALUE || status == ZKV_ETOOBIG_VALUE ||
           status == ZKV_EPROTO_VALUE || status == ZKV_EVERSION_VALUE ||
           status == ZKV_ETYPE_VALUE || status == ZKV_ENOTFOUND_VALUE ||
           status == ZKV_EDENIED_VALUE || status == ZKV_ECOMPARE_VALUE;
}

// The current request was answered "session expired": a new session either way. Sent once,
// it was refused and never applied: it goes again as the new session's first request (to the
// node that answered: it leads, or forwards). Sent more than once, an earlier send may have
// been applied: the outcome is unknown.
static zkv_cc_action_t
s_session_expired (zkv_ccore_t *core, int64_t now, size_t from)
{
    bool first = core->sends == 1;
    s_new_session (core);
    core->last_status = ZKV_ESESSION_VALUE;
    if (!first) {
        core->seq = 0; // the next request is the new session's first
        return s_done (core, ZKV_ESESSION, ZKV_CC_WHY_SESSION);
    }
    if (now >= core->deadline)
        return s_finish (core); // nothing applied, but no time left to say so for sure
    core->seq = 1;
    core->session_t0 = core->log_ms; // includes the answer's own log time
    core->sends = 0;
    return s_send (core, from);
}

zkv_cc_action_t
zkv_ccore_reply (zkv_ccore_t *core, int64_t now, size_t from, uint64_t client_id, uint64_t seq,
                 uint64_t status, uint64_t leader)
{
    if (!core->active || client_id != core->client_id || seq != core->seq || from >= core->n_nodes)
        // Stale (an earlier seq, a duplicate, someone else's): keep waiting as before.
        return (zkv_cc_action_t){.kind = ZKV_CC_WAIT, .wake_at = core->wake_at};

    if (core->unanswered[from])
        core->unanswered[from]--; // that node's oldest send of it is answered
    if (status != 0 && status != ZKV_ESESSION_VALUE && !zkv_ccore_refused_unproposed (status))
        core->maybe_applied = true; // "timed out", "leader lost", an unknown code...
    size_t hint = leader ? zkv_ccore_index (core, leader) : core->n_nodes;
    if (status == ZKV_ESESSION_VALUE)
        return s_session_expired (core, now, from);
    if (status == 0) {
        core->leader = hint < core->n_nodes ? hint : from;
        s_learn_leader (core, core->ids[core->leader]);
        return s_done (core, 0, ZKV_CC_WHY_NONE);
    }
    if (status == ZKV_EWRONGGROUP_VALUE && core->keyed && now < core->deadline) {
        // Routed by a configuration the node does not hold: fetch the node's, then ask again
        // (same seq) where it says. Again and again means the configurations agree and still
        // no group serves the key here (none serves its shard, nodes disagree for a while):
        // back off between rounds, as for "not the leader".
        core->last_status = (int)status;
        core->fetching = true;
        if (++core->wrong_in_row > 1)
            return s_pause (core, now, from);
        return s_send (core, from);
    }
    if (s_definitive (status))
        return s_done (core, -(int)status, ZKV_CC_WHY_SERVER_REFUSED);
    // An unknown status (a newer server?) is kept as a protocol error.
    core->last_status = status >= (uint64_t)ZKV_ERROR_COUNT_ ? ZKV_EPROTO_VALUE : (int)status;
    if (now >= core->deadline)
        return s_finish (core);
    // The answer named a newer configuration than the one the request was routed by: the key's
    // group may have left since (down, so no leader of it answers "wrong group"). The next
    // attempt fetches it first.
    if (core->keyed && s_config_stale (core))
        core->fetching = true;
    bool redirect = status == ZKV_ENOTLEADER_VALUE || status == ZKV_ELEADERLOST_VALUE;
    if (redirect && hint < core->n_nodes && hint != from) {
        // Follow the hint at once, but two nodes with stale hints must not ping-pong the request
        // at network speed: after a round of hops, pause between them.
        core->leader = hint;
        s_learn_leader (core, leader);
        if (++core->hops <= core->n_nodes)
            return s_send (core, hint);
        return s_pause (core, now, hint);
    }
    // No usable hint (an election is running) or a transient error (no quorum, busy): pause, then
    // ask the hinted node or the next one, which may know a newer leader.
    return s_pause (core, now, hint < core->n_nodes && hint != from ? hint : s_next (core, from));
}
