// The cluster view's state (zkv_cluster_view.h), shared by the files that take events in
// (zkv_cluster_view.c) and render it (zkv_cluster_view_render.c).
#ifndef ZKV_CLUSTER_VIEW_INT_H
#define ZKV_CLUSTER_VIEW_INT_H

#include "zkv_cluster_view.h"
#include "zkv_routing.h"
#include "zkv_u64map.h"

// Unknown, for a figure a node has not reported (an applied index, a lag).
#define ZKV_CV_UNKNOWN UINT64_MAX

// Longest topic and version kept; bytes of a BYTES field kept in a recent event.
#define ZKV_CV_MAX_TOPIC   64
#define ZKV_CV_MAX_VERSION 32
#define ZKV_CV_MAX_FIELD   256

// Most shards a move can name before a configuration says how many there are (the config
// file's bound on /cluster/shards).
#define ZKV_CV_MAX_SHARDS 65536

// One node's report on one group it hosts.
typedef struct {
    uint64_t group;      // the group
    uint64_t role;       // zkv_role_t
    uint64_t term;       // its term
    uint64_t leader;     // the leader it knows in that term, 0 unknown
    uint64_t commit;     // its commit index
    uint64_t applied;    // its applied index (ZKV_CV_UNKNOWN: not reported)
    uint64_t last_index; // its last log index (ZKV_CV_UNKNOWN: not reported)
    uint64_t lag;        // its lag as a leader reported it (ZKV_CV_UNKNOWN: none): the leader's
                         // last index minus the index it knows this member holds
    uint64_t lag_by;     // the leader that reported it
    uint64_t lag_term;   // in which term
    uint64_t config;     // configuration it applied (shard groups), 0 none
    uint64_t heard_ms;   // when the report arrived (host clock)
} zkv_cv_replica_t;

typedef struct {
    uint64_t id;                          // node id
    bool watched;                         // the host subscribes to its events
    bool heard;                           // heard at least once
    bool stopped;                         // its last word was zkv.node.stopping
    uint64_t heard_ms;                    // when it was last heard (host clock)
    bool probed;                          // the host asked it for its event endpoint
    uint64_t probed_ms;                   // when, last
    uint64_t beats;                       // its zkv.node.stats received
    uint64_t beat_ms;                     // the interval its beats announce (0: the config's)
    uint64_t pid;                         // process id (zkv.node.started, stats), 0 unknown
    uint64_t started_ms;                  // wall time it started, 0 unknown
    uint64_t uptime_ms;                   // uptime it last reported, 0 unknown
    char version[ZKV_CV_MAX_VERSION + 1]; // zkvd version it reported, "" unknown
    zkv_cv_replica_t *replicas;           // its reports, one per group, ascending group
    size_t n_replicas;                    // their number (at most max_groups)
} zkv_cv_node_t;

// Steps of a shard move, in order; a move only goes forward.
typedef enum {
    ZKV_CV_MOVE_HANDED_OFF = 1, // the old owner stopped serving it (zkv.shard.handoff)
    ZKV_CV_MOVE_PULLING = 2,    // the new owner pulls it (zkv.shard.pull.started, .chunk)
    ZKV_CV_MOVE_INSTALLED = 3,  // the new owner serves it (zkv.shard.pull.finished)
    ZKV_CV_MOVE_DELETED = 4,    // the old copy is gone (zkv.shard.gc): done
} zkv_cv_move_step_t;

typedef struct {
    uint64_t config;   // configuration the move belongs to
    uint64_t shard;    // the shard
    uint64_t from;     // the group it leaves (0 unknown yet, or none had it)
    uint64_t to;       // the group it goes to (0 unknown yet)
    int step;          // zkv_cv_move_step_t reached
    uint64_t chunks;   // chunks installed so far
    uint64_t bytes;    // bytes of records installed so far
    uint64_t first_ms; // when its first event arrived (host clock)
    uint64_t last_ms;  // when its last event arrived
    uint64_t time_ms;  // wall time of its last event (the publisher's clock)
} zkv_cv_move_t;

typedef struct {
    uint64_t seq;                     // events kept before it (a page tells new ones by it)
    uint64_t from;                    // the node whose socket it came from
    uint64_t at_ms;                   // arrival (host clock)
    uint64_t time_ms;                 // the publisher's wall clock, ms; 0: the body has none
    char topic[ZKV_CV_MAX_TOPIC + 1]; // its topic (cut to ZKV_CV_MAX_TOPIC)
    char *json;                       // {"type":..., fields...}, owned
} zkv_cv_event_t;

struct zkv_cluster_view {
    zkv_cluster_view_config_t config;
    zkv_cv_node_t *nodes;   // ascending id
    size_t n_nodes;         // at most config.max_nodes
    zkv_routing_t *routing; // the newest configuration known (NULL: none)
    uint64_t newest_seen;   // the highest configuration number an event named
    bool asked;             // the host asked for the configuration once
    uint64_t asked_ms;      // when it last did
    zkv_u64map_t moves;     // shard -> zkv_cv_move_t *, the newest move of each shard
    zkv_cv_event_t *ring;   // recent events: max_events slots
    size_t ring_head;       // slot of the oldest
    size_t ring_count;      // events in the ring
    uint64_t next_seq;      // seq of the next event kept
    zkv_cluster_view_counters_t counters;
};

// Node id's record (NULL: not kept).
zkv_cv_node_t *zkv_cv_node_find (const zkv_cluster_view_t *self, uint64_t id);
// Node id's record, added when the table has room (NULL, counted, when it has none or id is 0).
zkv_cv_node_t *zkv_cv_node_get (zkv_cluster_view_t *self, uint64_t id);
// A node's liveness at now_ms: a node heard is judged by its beats, even one the host does not
// watch (it may have learned the node's endpoint after hearing it).
zkv_node_liveness_t zkv_cv_liveness (const zkv_cluster_view_t *self, const zkv_cv_node_t *node,
                                     uint64_t now_ms);
// Node's report on group (NULL: none).
zkv_cv_replica_t *zkv_cv_replica_find (const zkv_cv_node_t *node, uint64_t group);

#endif
