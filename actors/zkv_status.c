// The status actor (zkv_status.h): a SUB socket on every node's event endpoint the config file
// names (CURVE: with the node's own certificate, which every node lets in), a DEALER on its own
// node's client endpoint to ask for the configuration, and the cluster view they feed. A node
// a configuration names that the file does not is asked for its status (a DEALER on its client
// endpoint) to learn its event endpoint, then subscribed to as well.
#include "zkv_status.h"
#include "zkv_actors.h"
#include "zkv_log.h"

#include <inttypes.h>
#include <pthread.h>

// Events taken from one socket per wakeup, so that one busy node does not starve the others
// or the configuration's answer.
#define S_BATCH 1024
// Events a subscription queues before ZeroMQ drops what comes (the publisher drops too, at its
// own high-water mark): the view reads fast, this is a burst's room.
#define S_SUB_HWM 10000
// How often the actor wakes up with nothing received (ms): the configuration's asks.
#define S_WAKE_MS 250

struct zkv_status {
    pthread_mutex_t lock;     // guards view
    zkv_cluster_view_t *view; // the cluster as the events tell it
};

zkv_status_t *
zkv_status_new (const zkv_config_t *config, uint64_t id)
{
    zkv_cluster_view_config_t vc;
    zkv_cluster_view_config_defaults (&vc);
    vc.self = id;
    // A node beats every stats_interval_ms (zkv.node.stats): dead after missed_beats of them.
    vc.beat_ms = zkv_config_cluster (config)->stats_interval_ms;
    vc.max_events = (size_t)zkv_config_cluster (config)->status_events;
    vc.max_nodes = (size_t)zkv_config_cluster (config)->status_max_nodes;
    vc.max_groups = (size_t)zkv_config_cluster (config)->status_max_groups;
    zkv_status_t *self = (zkv_status_t *)zmalloc (sizeof *self);
    self->view = zkv_cluster_view_new (&vc);
    assert (self->view); // the limits are positive
    pthread_mutex_init (&self->lock, NULL);
    // Every node of the file is shown; the actor watches those it has an event endpoint for
    // (all of them: the endpoint is required).
    for (size_t i = 0; i < zkv_config_node_count (config); i++)
        (void)zkv_cluster_view_node (self->view, zkv_config_node_at (config, i)->id, true);
    return self;
}

void
zkv_status_destroy (zkv_status_t **self_p)
{
    zkv_status_t *self = *self_p;
    if (!self)
        return;
    zkv_cluster_view_destroy (&self->view);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

char *
zkv_status_json (zkv_status_t *self, size_t *len_p)
{
    zkv_json_t j = {0};
    pthread_mutex_lock (&self->lock);
    zkv_cluster_view_render (self->view, (uint64_t)zclock_mono (), (uint64_t)zclock_time (), &j);
    pthread_mutex_unlock (&self->lock);
    *len_p = j.len;
    return j.data; // the caller frees it
}

// ---------------------------------------------------------------------------------------------
// The actor

typedef struct {
    uint64_t node; // whose events
    zsock_t *sub;  // subscribed to them
} s_sub_t;

// A node asked for its status (its event endpoint).
typedef struct {
    uint64_t node;   // the node
    zsock_t *dealer; // connected to its client endpoint
} s_probe_t;

typedef struct {
    zkv_node_t *node;     // this node
    zkv_status_t *status; // what it feeds
    zpoller_t *poller;    // the pipe, the subscriptions, the ask
    s_sub_t *subs;        // the nodes subscribed to (at most the view's max_nodes)
    size_t n_subs;
    s_probe_t *probes; // the nodes asked for their event endpoint (as many at most)
    size_t n_probes;
    size_t max;     // the view's max_nodes: subscriptions and probes each
    zsock_t *ask;   // DEALER to the node's own client endpoint (configurations)
    uint64_t nonce; // of the last config_request
} s_actor_t;

// Makes sock authenticate as this node to a node whose public key is key (CURVE), or leaves
// it plain text. False when CURVE is on and the node has no key.
static bool
s_secure (s_actor_t *self, zsock_t *sock, const char *key)
{
    if (!zkv_security_on (self->node->security))
        return true;
    if (!key || !zkv_config_key_valid (key))
        return false;
    zkv_security_connect (self->node->security, sock, key);
    return true;
}

// Subscribes to node id's events at endpoint (its public key: key). True when it did.
static bool
s_subscribe (s_actor_t *self, uint64_t id, const char *endpoint, const char *key)
{
    if (self->n_subs >= self->max)
        return false;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert (sub);
    zsock_set_rcvhwm (sub, S_SUB_HWM);
    zsock_set_linger (sub, 0);
    zsock_set_subscribe (sub, "zkv.");
    if (!s_secure (self, sub, key) || zsock_connect (sub, "%s", endpoint) != 0) {
        zkv_log_warning ("zkvd %" PRIu64 ": status: cannot subscribe to node %" PRIu64
                         "'s events at %s",
                         self->node->id, id, endpoint);
        zsock_destroy (&sub);
        return false;
    }
    self->subs[self->n_subs++] = (s_sub_t){.node = id, .sub = sub};
    zpoller_add (self->poller, sub);
    return true;
}

// The nodes of the config file: their keys and event endpoints are there.
static void
s_subscribe_file (s_actor_t *self)
{
    const zkv_config_t *config = self->node->config;
    for (size_t i = 0; i < zkv_config_node_count (config); i++) {
        const zkv_config_node_t *nd = zkv_config_node_at (config, i);
        char key[41] = "", why[256];
        if (zkv_config_curve (config) &&
            zkv_config_node_key (config, nd, key, why, sizeof why) != 0)
            zkv_log_warning ("zkvd %" PRIu64 ": status: no key for node %" PRIu64 ": %s",
                             self->node->id, nd->id, why);
        (void)s_subscribe (self, nd->id, nd->events, key);
    }
}

// Asks the nodes the view wants probed for their status, each through a DEALER on its client
// endpoint (made once, kept until it answers).
static void
s_probe (s_actor_t *self)
{
    uint64_t ids[16];
    char client[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1], key[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1];
    pthread_mutex_lock (&self->status->lock);
    size_t n = zkv_cluster_view_to_probe (self->status->view, (uint64_t)zclock_mono (), ids, 16);
    pthread_mutex_unlock (&self->status->lock);
    for (size_t i = 0; i < n; i++) {
        s_probe_t *p = NULL;
        for (size_t k = 0; k < self->n_probes && !p; k++)
            if (self->probes[k].node == ids[i])
                p = &self->probes[k];
        if (!p && self->n_probes < self->max) {
            pthread_mutex_lock (&self->status->lock);
            bool known = zkv_cluster_view_node_endpoint (self->status->view, ids[i], client, key);
            pthread_mutex_unlock (&self->status->lock);
            zsock_t *dealer = known ? zsock_new (ZMQ_DEALER) : NULL;
            if (dealer) {
                zsock_set_linger (dealer, 0);
                zsock_set_sndhwm (dealer, 4);
                zsock_set_rcvhwm (dealer, 4);
                if (s_secure (self, dealer, key) && zsock_connect (dealer, "%s", client) == 0) {
                    p = &self->probes[self->n_probes++];
                    *p = (s_probe_t){.node = ids[i], .dealer = dealer};
                } else
                    zsock_destroy (&dealer);
            }
        }
        if (!p)
            continue;
        zkv_msg_t req = {.type = ZKV_MSG_STATUS_REQUEST};
        req.u.status_request.nonce = ++self->nonce;
        (void)zkv_actors_send (zsock_resolve (p->dealer), &req); // dropped: asked again later
    }
}

// A probed node that answered with its event endpoint is subscribed to from then on.
static void
s_probe_answers (s_actor_t *self)
{
    char events[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1], client[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1];
    char key[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1];
    for (size_t k = 0; k < self->n_probes;) {
        s_probe_t *p = &self->probes[k];
        bool learned = false;
        zmq_msg_t f[1];
        size_t n;
        while (!learned && (n = zkv_actors_recv (zsock_resolve (p->dealer), f, 1)) > 0) {
            pthread_mutex_lock (&self->status->lock);
            learned = n == 1 &&
                      zkv_cluster_view_probe_answer (self->status->view, p->node,
                                                     (const uint8_t *)zmq_msg_data (&f[0]),
                                                     zmq_msg_size (&f[0]), events) == 0 &&
                      zkv_cluster_view_node_endpoint (self->status->view, p->node, client, key);
            pthread_mutex_unlock (&self->status->lock);
            zkv_actors_close (f, 1);
        }
        if (!learned) {
            k++;
            continue;
        }
        if (s_subscribe (self, p->node, events, key)) {
            zkv_log_info ("zkvd %" PRIu64 ": status: watching node %" PRIu64 "'s events at %s",
                          self->node->id, p->node, events);
            pthread_mutex_lock (&self->status->lock);
            (void)zkv_cluster_view_node (self->status->view, p->node, true);
            pthread_mutex_unlock (&self->status->lock);
        }
        zsock_destroy (&p->dealer);
        self->probes[k] = self->probes[--self->n_probes];
    }
}

static void
s_connect_ask (s_actor_t *self)
{
    const zkv_config_node_t *me = zkv_config_node (self->node->config, self->node->id);
    self->ask = zsock_new (ZMQ_DEALER);
    assert (self->ask);
    zsock_set_linger (self->ask, 0);
    zsock_set_sndhwm (self->ask, 4); // one ask at a time is enough; more wait or drop
    zsock_set_rcvhwm (self->ask, 4);
    char key[41] = "", why[256];
    if (zkv_config_curve (self->node->config))
        (void)zkv_config_node_key (self->node->config, me, key, why, sizeof why);
    if (!s_secure (self, self->ask, key) || zsock_connect (self->ask, "%s", me->client) != 0) {
        zkv_log_warning ("zkvd %" PRIu64 ": status: cannot reach its own client endpoint %s: the "
                         "status page shows no shard map",
                         self->node->id, me->client);
        zsock_destroy (&self->ask);
    }
}

// Feeds the view what node s published since the last wakeup (at most S_BATCH events).
static void
s_drain (s_actor_t *self, s_sub_t *s)
{
    zkv_status_t *st = self->status;
    for (int i = 0; i < S_BATCH; i++) {
        zmq_msg_t f[2];
        size_t n = zkv_actors_recv (zsock_resolve (s->sub), f, 2);
        if (n == 0)
            return;
        if (n == 2) {
            pthread_mutex_lock (&st->lock);
            (void)zkv_cluster_view_event (st->view, s->node, (const char *)zmq_msg_data (&f[0]),
                                          zmq_msg_size (&f[0]),
                                          (const uint8_t *)zmq_msg_data (&f[1]),
                                          zmq_msg_size (&f[1]), (uint64_t)zclock_mono ());
            pthread_mutex_unlock (&st->lock);
        }
        zkv_actors_close (f, n < 2 ? n : 2);
    }
}

// Asks the node for its configuration when the view wants it.
static void
s_maybe_ask (s_actor_t *self)
{
    if (!self->ask)
        return;
    uint64_t now = (uint64_t)zclock_mono ();
    pthread_mutex_lock (&self->status->lock);
    bool wants = zkv_cluster_view_wants_configuration (self->status->view, now);
    if (wants)
        zkv_cluster_view_asked (self->status->view, now);
    pthread_mutex_unlock (&self->status->lock);
    if (!wants)
        return;
    zkv_msg_t req = {.type = ZKV_MSG_CONFIG_REQUEST};
    req.u.config_request.nonce = ++self->nonce;
    (void)zkv_actors_send (zsock_resolve (self->ask), &req); // dropped: asked again later
}

// The node's answer: a config_reply (anything else, or an old nonce, is dropped).
static void
s_answer (s_actor_t *self)
{
    zmq_msg_t f[1];
    size_t n;
    while ((n = zkv_actors_recv (zsock_resolve (self->ask), f, 1)) > 0) {
        if (n == 1) {
            pthread_mutex_lock (&self->status->lock);
            (void)zkv_cluster_view_configuration (
                self->status->view, (const uint8_t *)zmq_msg_data (&f[0]), zmq_msg_size (&f[0]));
            pthread_mutex_unlock (&self->status->lock);
        }
        zkv_actors_close (f, 1);
    }
}

void
zkv_status_actor (zsock_t *pipe, void *args)
{
    s_actor_t self_ = {.node = (zkv_node_t *)args};
    s_actor_t *self = &self_;
    self->status = self->node->status;
    assert (self->status);
    self->max = (size_t)zkv_config_cluster (self->node->config)->status_max_nodes;
    self->subs = (s_sub_t *)zmalloc (self->max * sizeof *self->subs);
    self->probes = (s_probe_t *)zmalloc (self->max * sizeof *self->probes);
    zpoller_t *poller = self->poller = zpoller_new (pipe, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    s_subscribe_file (self);
    s_connect_ask (self);
    if (self->ask)
        zpoller_add (poller, self->ask);
    zsock_signal (pipe, 0);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, S_WAKE_MS);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        for (size_t i = 0; i < self->n_subs; i++)
            s_drain (self, &self->subs[i]);
        if (self->ask) {
            s_answer (self);
            s_maybe_ask (self);
        }
        s_probe_answers (self);
        s_probe (self);
    }
    zpoller_destroy (&poller);
    for (size_t i = 0; i < self->n_subs; i++)
        zsock_destroy (&self->subs[i].sub);
    free (self->subs);
    for (size_t i = 0; i < self->n_probes; i++)
        zsock_destroy (&self->probes[i].dealer);
    free (self->probes);
    zsock_destroy (&self->ask);
}
