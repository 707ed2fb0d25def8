// The status page's side of a node: the cluster view (cluster/zkv_cluster_view.h), fed by the
// status actor, which subscribes to every node's event socket and asks its own node for the
// configuration, and read by the HTTP routes of the page (zkv_status_page.c).
//
// The view is the one thing two threads touch here: the actor writes it, the HTTP server's
// thread renders it; both under the lock of zkv_status_t. The actor only moves bytes: what the
// events mean, when a node is dead and when to ask for the configuration is the view's to say.
#ifndef ZKV_STATUS_H
#define ZKV_STATUS_H

#include <czmq.h>

#include "zkv_cluster_view.h"
#include "zkv_config.h"

typedef struct zkv_status zkv_status_t;

// The status of node id under config (its view's limits and beat come from the config).
zkv_status_t *zkv_status_new (const zkv_config_t *config, uint64_t id);
void zkv_status_destroy (zkv_status_t **self_p);

// The view as JSON now (heap, NUL-terminated, *len_p bytes): the body of /api/cluster.
char *zkv_status_json (zkv_status_t *self, size_t *len_p);

// Adds the page's routes ("/", "/api/cluster") to the node's HTTP endpoint before it starts.
typedef struct zkv_http zkv_http_t;
void zkv_status_routes (zkv_http_t *http, zkv_status_t *status);

// The actor; args is the zkv_node_t, whose status it feeds.
void zkv_status_actor (zsock_t *pipe, void *args);

#endif
