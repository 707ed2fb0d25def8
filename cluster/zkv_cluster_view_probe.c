// Nodes the cluster view shows but nobody watches yet (zkv_cluster_view.h): the host learns
// their event endpoint from their status reply. Which to ask, and what an answer is worth, is
// decided here.
#include "zkv_cluster_view_int.h"
#include "zkv_msg.h"

#include <string.h>

size_t
zkv_cluster_view_to_probe (zkv_cluster_view_t *self, uint64_t now_ms, uint64_t *ids, size_t max)
{
    size_t n = 0;
    if (!self->routing)
        return 0;
    for (size_t i = 0; i < self->n_nodes && n < max; i++) {
        zkv_cv_node_t *node = &self->nodes[i];
        if (node->watched || !zkv_routing_node (self->routing, node->id, NULL, NULL, NULL))
            continue;
        if (node->probed && now_ms - node->probed_ms < ZKV_CLUSTER_VIEW_PROBE_MS &&
            now_ms >= node->probed_ms)
            continue;
        node->probed = true;
        node->probed_ms = now_ms;
        ids[n++] = node->id;
    }
    return n;
}

static void
s_copy (char *to, const char *from)
{
    size_t len = strlen (from);
    if (len > ZKV_CLUSTER_VIEW_MAX_ENDPOINT)
        len = ZKV_CLUSTER_VIEW_MAX_ENDPOINT; // the routing bounds them already
    memcpy (to, from, len);
    to[len] = '\0';
}

bool
zkv_cluster_view_node_endpoint (const zkv_cluster_view_t *self, uint64_t id, char *client,
                                char *key)
{
    const char *c = NULL, *k = NULL;
    if (!self->routing || !zkv_routing_node (self->routing, id, NULL, &c, &k))
        return false;
    s_copy (client, c);
    s_copy (key, k ? k : "-");
    return true;
}

int
zkv_cluster_view_probe_answer (const zkv_cluster_view_t *self, uint64_t id, const uint8_t *buf,
                               size_t len, char *events)
{
    (void)self;
    zkv_msg_t m;
    int rc = zkv_msg_decode (buf, len, &m);
    if (rc != 0)
        return rc;
    rc = ZKV_EPROTO;
    if (m.type == ZKV_MSG_STATUS_REPLY && m.u.status_reply.node == id) {
        const zkv_bytes_t *e = &m.u.status_reply.events;
        bool ok = e->len > 6 && e->len <= ZKV_CLUSTER_VIEW_MAX_ENDPOINT &&
                  memcmp (e->data, "tcp://", 6) == 0;
        for (size_t i = 0; ok && i < e->len; i++)
            ok = e->data[i] > 0x20 && e->data[i] < 0x7f;
        if (ok) {
            memcpy (events, e->data, e->len);
            events[e->len] = '\0';
            rc = 0;
        }
    }
    zkv_msg_free (&m);
    return rc;
}
