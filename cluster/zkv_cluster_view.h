// The cluster as people want to see it, built from what every node publishes: the view behind
// the status page (/api/cluster). Pure: a host (actors/zkv_status.c) feeds it the events it
// receives from every node's event socket, with their arrival time on its own clock, and the
// configurations its node routes by; the view keeps
//   - per node: its last stats and when it was last heard; it is alive while heard within
//     missed_beats * beat_ms (its zkv.node.stats beat), dead after, stopped once it said so
//     (zkv.node.stopping);
//   - per group and member: role, term, leader, commit and applied index as the member last
//     reported them (zkv.node.stats, zkv.raft.*); the group's leader and term are those of the
//     highest term any member reported, and a follower's lag is the leader's commit index minus
//     what the follower applied;
//   - the shard map: the newest configuration known, with the moves that the shard events
//     (zkv.shard.*) show going on;
//   - shard moves: one per shard (its newest), from hand-off to the old copy's deletion, with
//     chunks and bytes pulled; finished ones stay listed for a minute;
//   - recent events, at most max_events (the oldest go first, counted); the beats are not among
//     them (a node's beat says nothing new: it is counted).
// and renders all of it as JSON (docs/events.md, "The status page", says what the fields are).
//
// Everything a node says is believed as far as it goes: events come from sockets the host
// authenticated as that node. Bodies that do not decode, topics it does not know, and more nodes
// or groups than the view keeps are counted and dropped.
#ifndef ZKV_CLUSTER_VIEW_H
#define ZKV_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_json.h"

typedef struct zkv_cluster_view zkv_cluster_view_t;

typedef struct {
    uint64_t self;         // the node that keeps the view (it serves the page)
    uint64_t beat_ms;      // the nodes' beat (their stats interval); 0: no beats, liveness unknown
    uint32_t missed_beats; // a node silent for this many beats is dead
    size_t max_events;     // recent events kept
    size_t max_nodes;      // nodes kept
    size_t max_groups;     // groups kept (per node, and in all)
} zkv_cluster_view_config_t;

// How long a finished shard move stays listed, and how often the view asks for the
// configuration with and without news of a newer one (ms of the host's clock).
#define ZKV_CLUSTER_VIEW_MOVE_LINGER_MS 60000
#define ZKV_CLUSTER_VIEW_ASK_NEWER_MS   1000
#define ZKV_CLUSTER_VIEW_ASK_ANYWAY_MS  10000

// Defaults: beats of 1 s, dead after 3 missed, 256 events, 1024 nodes and groups.
void zkv_cluster_view_config_defaults (zkv_cluster_view_config_t *config);

zkv_cluster_view_t *zkv_cluster_view_new (const zkv_cluster_view_config_t *config);
void zkv_cluster_view_destroy (zkv_cluster_view_t **self_p);

// A node to show: one of the config file's (watched: the host subscribes to its events) or a
// member a configuration names whose event endpoint the host does not know (not watched: its
// liveness cannot be told). 0, or ZKV_ETOOBIG when the view keeps max_nodes already (counted).
int zkv_cluster_view_node (zkv_cluster_view_t *self, uint64_t id, bool watched);

// A configuration (an encoded config_reply, checked as hostile input): the view keeps the
// newest. 0 (also for an older one, ignored), or the decoder's error.
int zkv_cluster_view_configuration (zkv_cluster_view_t *self, const uint8_t *buf, size_t len);
// The number of the configuration the view holds (0: none).
uint64_t zkv_cluster_view_configuration_num (const zkv_cluster_view_t *self);
// The members of the configuration the view holds, every group's (ascending, no duplicates),
// up to max into ids; returns how many there are.
size_t zkv_cluster_view_members (const zkv_cluster_view_t *self, uint64_t *ids, size_t max);

// True when the host should ask its node for the configuration now: an event named a newer one
// and ASK_NEWER_MS passed since the last ask, or ASK_ANYWAY_MS passed (the first ask at once).
// The host then calls zkv_cluster_view_asked.
bool zkv_cluster_view_wants_configuration (const zkv_cluster_view_t *self, uint64_t now_ms);
void zkv_cluster_view_asked (zkv_cluster_view_t *self, uint64_t now_ms);

// Nodes a configuration names that the host does not watch: it asks each for its status (over
// the client endpoint and with the key the configuration gives) to learn its event endpoint.
// Up to max of them into ids, each at most once every PROBE_MS: returns how many.
#define ZKV_CLUSTER_VIEW_PROBE_MS 5000
size_t zkv_cluster_view_to_probe (zkv_cluster_view_t *self, uint64_t now_ms, uint64_t *ids,
                                  size_t max);
// Node id's client endpoint and public key ("-": none) as the configuration gives them, copied
// into client and key (each ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1 bytes); false when it gives none.
#define ZKV_CLUSTER_VIEW_MAX_ENDPOINT 255
bool zkv_cluster_view_node_endpoint (const zkv_cluster_view_t *self, uint64_t id, char *client,
                                     char *key);
// Node id's answer to a status request (an encoded status_reply, hostile): its event endpoint
// into events (ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1 bytes). 0, or ZKV_EPROTO when it is no status
// reply of that node or names no endpoint a SUB socket may connect to (tcp://, printable,
// no spaces).
int zkv_cluster_view_probe_answer (const zkv_cluster_view_t *self, uint64_t id, const uint8_t *buf,
                                   size_t len, char *events);

// An event (topic, encoded body: docs/events.md) from node `from`'s event socket, arrived at
// now_ms (the host's monotonic clock, ms). 0, or the decoder's error (counted).
int zkv_cluster_view_event (zkv_cluster_view_t *self, uint64_t from, const char *topic,
                            size_t topic_len, const uint8_t *body, size_t len, uint64_t now_ms);

// A node's liveness at now_ms.
typedef enum {
    ZKV_NODE_UNWATCHED, // no event endpoint known for it: cannot be told
    ZKV_NODE_UNKNOWN,   // watched, never heard
    ZKV_NODE_ALIVE,     // heard within missed_beats beats
    ZKV_NODE_DEAD,      // silent for longer
    ZKV_NODE_STOPPED,   // said zkv.node.stopping (a clean stop), not heard since
} zkv_node_liveness_t;

const char *zkv_node_liveness_name (zkv_node_liveness_t liveness);
// Node id's liveness at now_ms (UNWATCHED for a node the view does not know).
zkv_node_liveness_t zkv_cluster_view_liveness (const zkv_cluster_view_t *self, uint64_t id,
                                               uint64_t now_ms);
// Group's leader and term as the view tells them (0, 0 when no member reported the group).
void zkv_cluster_view_leader (const zkv_cluster_view_t *self, uint64_t group, uint64_t *leader,
                              uint64_t *term);

typedef struct {
    uint64_t events;         // events taken (beats included)
    uint64_t beats;          // zkv.node.stats among them
    uint64_t undecoded;      // bodies that did not decode, or whose type did not match the topic
    uint64_t unknown_topics; // decoded, but of a topic the view does not know (kept as events)
    uint64_t events_dropped; // recent events pushed out by newer ones (max_events)
    uint64_t nodes_dropped;  // nodes not kept (max_nodes)
    uint64_t groups_dropped; // group reports not kept (max_groups)
    uint64_t configurations; // configurations taken
} zkv_cluster_view_counters_t;

void zkv_cluster_view_counters (const zkv_cluster_view_t *self, zkv_cluster_view_counters_t *out);

// The whole view as one JSON object, at now_ms (the host's monotonic clock: ages, liveness) and
// wall_ms (the host's wall clock, ms since the epoch, for the page to show times against).
void zkv_cluster_view_render (const zkv_cluster_view_t *self, uint64_t now_ms, uint64_t wall_ms,
                              zkv_json_t *out);

#endif
