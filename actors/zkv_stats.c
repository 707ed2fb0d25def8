// The stats actor: the node's figures, out. With /node/http in the config it serves the node's
// HTTP endpoint (zkv_http.h): /metrics, and the routes s_routes adds. Every
// /cluster/stats_interval_ms it wakes up for the node's periodic work on its figures.
#include "zkv_actors.h"
#include "zkv_http.h"
#include "zkv_prom.h"

#include <inttypes.h>
#include <stdlib.h>

#ifndef ZKV_VERSION
#define ZKV_VERSION "unknown"
#endif

typedef struct {
    zkv_node_t *node; // the node
    zkv_http_t *http; // its HTTP server (NULL: the config gives the node no http endpoint)
} s_stats_t;

// --- /metrics ------------------------------------------------------------------------------

static void
s_metrics (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    (void)req;
    s_stats_t *self = (s_stats_t *)arg;
    zkv_prom_t p = {0};
    zkv_prom_labels_t l = {0};
    zkv_prom_label (&l, "version", ZKV_VERSION);
    zkv_prom_label_u64 (&l, "node", self->node->id);
    zkv_prom_family (&p, "zkv_build_info", "gauge", "The node's zkv version (value 1).");
    zkv_prom_u64 (&p, "zkv_build_info", &l, 1);
    zkv_prom_family (&p, "zkv_uptime_seconds", "gauge", "Time since the node started.");
    zkv_prom_micros (&p, "zkv_uptime_seconds", NULL,
                     (uint64_t)(zclock_mono () - self->node->started_ms) * 1000);
    zkv_http_counters_t c;
    zkv_http_counters (self->http, &c);
    zkv_prom_family (&p, "zkv_http_requests_total", "counter",
                     "HTTP requests answered, by status code class.");
    const char *codes[] = {"2xx", "404", "405", "other"};
    uint64_t counts[] = {c.ok, c.not_found, c.bad_method, c.other};
    for (int i = 0; i < 4; i++) {
        zkv_prom_labels_t cl = {0};
        zkv_prom_label (&cl, "code", codes[i]);
        zkv_prom_u64 (&p, "zkv_http_requests_total", &cl, counts[i]);
    }
    zkv_prom_family (&p, "zkv_http_connections", "gauge", "HTTP connections open now.");
    zkv_prom_u64 (&p, "zkv_http_connections", NULL, c.open);
    zkv_prom_family (&p, "zkv_http_connections_refused_total", "counter",
                     "HTTP connections closed at once: /cluster/http_max_connections were open.");
    zkv_prom_u64 (&p, "zkv_http_connections_refused_total", NULL, c.refused);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = p.data;
    resp->len = p.len;
}

// The routes of the node's HTTP endpoint.
static void
s_routes (s_stats_t *self)
{
    int rc = zkv_http_route (self->http, "/metrics", s_metrics, self);
    assert (rc == 0);
    zkv_status_routes (self->http, self->node->status); // the status page
}

// --- the actor -------------------------------------------------------------------------------

static int
s_setup (s_stats_t *self)
{
    zkv_node_t *node = self->node;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    const zkv_config_cluster_t *c = zkv_config_cluster (node->config);
    if (!me->http)
        return 0;
    zkv_http_config_t hc = {.max_connections = (size_t)c->http_max_connections,
                            .timeout_ms = (uint32_t)c->http_timeout_ms};
    self->http = zkv_http_new (&hc);
    assert (self->http); // the config was validated
    s_routes (self);
    char why[256];
    if (zkv_http_start (self->http, me->http, why, sizeof why) != 0) {
        zsys_error ("zkvd %" PRIu64 ": %s", node->id, why);
        return -1;
    }
    return 0;
}

void
zkv_stats_actor (zsock_t *pipe, void *args)
{
    s_stats_t self_ = {.node = (zkv_node_t *)args};
    s_stats_t *self = &self_;
    if (s_setup (self) != 0) {
        zkv_http_destroy (&self->http);
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    zsock_signal (pipe, 0);
    int interval = (int)zkv_config_cluster (self->node->config)->stats_interval_ms;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, interval);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
    }
    zpoller_destroy (&poller);
    zkv_http_destroy (&self->http);
}
