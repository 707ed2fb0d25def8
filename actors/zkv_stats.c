// The stats actor: the node's figures, out. Every /cluster/stats_interval_ms it reads the
// board (zkv_board.h), measures the database's size on disk and publishes zkv.node.stats (the
// node's heartbeat for subscribers, docs/events.md). With /node/http in the config it serves
// the node's HTTP endpoint (zkv_http.h): /metrics, and the routes s_routes adds.
#include "zkv_actors.h"
#include "zkv_http.h"
#include "zkv_log.h"
#include "zkv_metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct {
    zkv_node_t *node;     // the node
    zkv_http_t *http;     // its HTTP server (NULL: the config gives the node no http endpoint)
    zsock_t *events;      // PUSH to the event publisher
    uint64_t db_bytes;    // the database's size, as last measured (read by the HTTP thread)
    uint64_t seq;         // stats events published
    const char *data_dir; // the node's data directory
} s_stats_t;

// Bytes of the files in dir (LevelDB keeps its database flat in one directory).
static uint64_t
s_dir_bytes (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir (d);
    return total;
}

// Everything the node reports now; groups is the caller's array of the board's size.
static void
s_read (s_stats_t *self, zkv_node_stats_t *out, zkv_group_stats_t *groups)
{
    memset (out, 0, sizeof *out);
    out->node = self->node->id;
    out->version = ZKV_VERSION;
    out->uptime_ms = (uint64_t)(zclock_mono () - self->node->started_ms);
    out->db_bytes = __atomic_load_n (&self->db_bytes, __ATOMIC_RELAXED);
    out->n_groups = zkv_board_groups (self->node->board);
    out->groups = groups;
    zkv_board_read (self->node->board, &out->front, groups);
    if (self->http) {
        zkv_http_counters_t c;
        zkv_http_counters (self->http, &c);
        out->http_on = true;
        out->http = (zkv_http_stats_t){.ok = c.ok,
                                       .not_found = c.not_found,
                                       .bad_method = c.bad_method,
                                       .other = c.other,
                                       .open = c.open,
                                       .refused = c.refused};
    }
}

// --- /metrics (on the HTTP server's thread) ---------------------------------------------------

static void
s_metrics (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    (void)req;
    s_stats_t *self = (s_stats_t *)arg;
    zkv_group_stats_t *groups =
        (zkv_group_stats_t *)zmalloc ((self->node->n_groups + 1) * sizeof *groups);
    zkv_node_stats_t s;
    s_read (self, &s, groups);
    zkv_prom_t p = {0};
    zkv_metrics_render (&s, &p);
    free (groups);
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

// --- zkv.node.stats ----------------------------------------------------------------------------

static void
s_publish (s_stats_t *self, uint64_t interval_ms)
{
    __atomic_store_n (&self->db_bytes, s_dir_bytes (self->data_dir), __ATOMIC_RELAXED);
    zkv_group_stats_t *groups =
        (zkv_group_stats_t *)zmalloc ((self->node->n_groups + 1) * sizeof *groups);
    zkv_node_stats_t s;
    s_read (self, &s, groups);
    zkv_msg_t ev;
    zkv_stats_event (&s, ++self->seq, zkv_actors_now_ms (), interval_ms, &ev);
    zkv_actors_event (zsock_resolve (self->events), "zkv.node.stats", &ev);
    zkv_msg_free (&ev);
    free (groups);
}

// --- the actor -------------------------------------------------------------------------------

static int
s_setup (s_stats_t *self)
{
    zkv_node_t *node = self->node;
    const zkv_config_node_t *me = zkv_config_node (node->config, node->id);
    const zkv_config_cluster_t *c = zkv_config_cluster (node->config);
    self->data_dir = me->data;
    self->events = zkv_actors_push (node, "events", UINT64_MAX);
    if (!me->http)
        return 0;
    zkv_http_config_t hc = {.max_connections = (size_t)c->http_max_connections,
                            .timeout_ms = (uint32_t)c->http_timeout_ms};
    self->http = zkv_http_new (&hc);
    assert (self->http); // the config was validated
    s_routes (self);
    char why[256];
    if (zkv_http_start (self->http, me->http, why, sizeof why) != 0) {
        zkv_log_error ("zkvd %" PRIu64 ": %s", node->id, why);
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
        zsock_destroy (&self->events);
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        return;
    }
    zsock_signal (pipe, 0);
    uint64_t interval = zkv_config_cluster (self->node->config)->stats_interval_ms;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    // The first beat at once, then one an interval, on a steady cadence.
    int64_t next = zclock_mono ();
    while (true) {
        int64_t wait = next - zclock_mono ();
        zsock_t *which = (zsock_t *)zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        int64_t now = zclock_mono ();
        if (now < next)
            continue;
        s_publish (self, interval);
        // Late (a busy machine): resume the cadence, do not burst beats.
        next += (int64_t)interval;
        if (next <= now)
            next = now + (int64_t)interval;
    }
    zpoller_destroy (&poller);
    // The server goes first: its thread reads the board and this actor's figures.
    zkv_http_destroy (&self->http);
    zsock_destroy (&self->events);
}
