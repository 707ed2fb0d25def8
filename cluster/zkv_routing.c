// Routing configurations (zkv_routing.h).
#include "zkv_routing.h"
#include "zkv_alloc.h"
#include "zkv_shard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// Shards and groups a configuration may have: the decoder's limits, and far above any cluster.
#define S_MAX_SHARDS  (1u << 20)
#define S_MAX_GROUPS  65536u
#define S_MAX_MEMBERS 1024u

zkv_routing_t *
zkv_routing_new (uint64_t num, uint32_t nshards, const uint64_t *group_ids, const uint64_t *sizes,
                 const uint64_t *members, size_t n_groups)
{
    if (nshards == 0 || nshards > S_MAX_SHARDS || n_groups > S_MAX_GROUPS)
        return NULL;
    size_t n_members = 0;
    for (size_t i = 0; i < n_groups; i++) {
        if (sizes[i] == 0 || sizes[i] > S_MAX_MEMBERS || (i && group_ids[i] <= group_ids[i - 1]))
            return NULL;
        n_members += sizes[i];
    }
    for (size_t i = 0; i < n_members; i++)
        if (members[i] == 0)
            return NULL; // node ids start at 1
    zkv_routing_t *self = zkv_calloc (1, sizeof *self);
    self->num = num;
    self->nshards = nshards;
    self->shard_group = zkv_calloc (nshards, sizeof (uint64_t));
    self->n_groups = n_groups;
    self->group_ids = zkv_calloc (n_groups, sizeof (uint64_t));
    self->group_first = zkv_calloc (n_groups, sizeof (uint64_t));
    self->group_size = zkv_calloc (n_groups, sizeof (uint64_t));
    self->members = zkv_calloc (n_members, sizeof (uint64_t));
    self->n_members = n_members;
    size_t at = 0;
    for (size_t i = 0; i < n_groups; i++) {
        self->group_ids[i] = group_ids[i];
        self->group_first[i] = at;
        self->group_size[i] = sizes[i];
        at += sizes[i];
    }
    if (n_members)
        memcpy (self->members, members, n_members * sizeof (uint64_t));
    return self;
}

static void
s_nodes_free (zkv_routing_t *self)
{
    for (size_t i = 0; i < self->n_nodes; i++) {
        free (self->peer_eps[i]);
        free (self->client_eps[i]);
        free (self->keys[i]);
    }
    free (self->node_ids);
    free (self->peer_eps);
    free (self->client_eps);
    free (self->keys);
    zkv_bytes_free (&self->peer_lines);
    zkv_bytes_free (&self->client_lines);
    zkv_bytes_free (&self->key_lines);
    self->n_nodes = 0;
    self->node_ids = NULL;
    self->peer_eps = self->client_eps = self->keys = NULL;
}

void
zkv_routing_destroy (zkv_routing_t **self_p)
{
    zkv_routing_t *self = *self_p;
    if (!self)
        return;
    s_nodes_free (self);
    free (self->shard_group);
    free (self->group_ids);
    free (self->group_first);
    free (self->group_size);
    free (self->members);
    free (self);
    *self_p = NULL;
}

zkv_routing_t *
zkv_routing_dup (const zkv_routing_t *self)
{
    zkv_routing_t *copy = zkv_routing_new (self->num, self->nshards, self->group_ids,
                                           self->group_size, self->members, self->n_groups);
    assert (copy); // self was valid
    memcpy (copy->shard_group, self->shard_group, self->nshards * sizeof (uint64_t));
    for (size_t i = 0; i < self->n_nodes; i++)
        zkv_routing_set_node (copy, self->node_ids[i], self->peer_eps[i], self->client_eps[i],
                              self->keys[i]);
    return copy;
}

// --- node endpoints ------------------------------------------------------------------------------

static bool
s_endpoint_ok (const char *ep, size_t len)
{
    if (len == 0 || len > ZKV_ROUTING_MAX_ENDPOINT)
        return false;
    for (size_t i = 0; i < len; i++)
        if (ep[i] <= ' ' || ep[i] > '~')
            return false;
    return true;
}

bool
zkv_routing_key_ok (const char *text, size_t len)
{
    // The Z85 alphabet (ZeroMQ RFC 32): a key is 32 bytes, 40 characters.
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (len != 40)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!text[i] || !strchr (alphabet, text[i]))
            return false;
    return true;
}

// A key as a configuration carries it: "-" (none) or a Z85 key.
static bool
s_key_field_ok (const char *text, size_t len)
{
    return (len == 1 && text[0] == '-') || zkv_routing_key_ok (text, len);
}

static char *
s_strndup (const char *p, size_t len)
{
    char *s = zkv_calloc (len + 1, 1);
    memcpy (s, p, len);
    s[len] = 0;
    return s;
}

// Rebuilds the joined lines after a change.
static void
s_lines (zkv_routing_t *self)
{
    zkv_bytes_t *out[3] = {&self->peer_lines, &self->client_lines, &self->key_lines};
    char **eps[3] = {self->peer_eps, self->client_eps, self->keys};
    for (int k = 0; k < 3; k++) {
        zkv_bytes_free (out[k]);
        size_t len = 0;
        for (size_t i = 0; i < self->n_nodes; i++)
            len += strlen (eps[k][i]) + (i > 0);
        if (!len)
            continue;
        out[k]->data = zkv_calloc (len, 1);
        out[k]->len = len;
        size_t at = 0;
        for (size_t i = 0; i < self->n_nodes; i++) {
            if (i)
                out[k]->data[at++] = '\n';
            size_t l = strlen (eps[k][i]);
            memcpy (out[k]->data + at, eps[k][i], l);
            at += l;
        }
    }
}

int
zkv_routing_set_node (zkv_routing_t *self, uint64_t id, const char *peer, const char *client,
                      const char *key)
{
    if (!key || !*key)
        key = "-";
    if (id == 0 || !peer || !client || !s_endpoint_ok (peer, strlen (peer)) ||
        !s_endpoint_ok (client, strlen (client)) || !s_key_field_ok (key, strlen (key)))
        return ZKV_EINVAL;
    size_t at = 0;
    while (at < self->n_nodes && self->node_ids[at] < id)
        at++;
    if (at == self->n_nodes || self->node_ids[at] != id) {
        if (self->n_nodes >= S_MAX_MEMBERS)
            return ZKV_EINVAL;
        size_t n = self->n_nodes + 1;
        self->node_ids = realloc (self->node_ids, n * sizeof (uint64_t));
        self->peer_eps = realloc (self->peer_eps, n * sizeof (char *));
        self->client_eps = realloc (self->client_eps, n * sizeof (char *));
        self->keys = realloc (self->keys, n * sizeof (char *));
        if (!self->node_ids || !self->peer_eps || !self->client_eps || !self->keys)
            abort ();
        size_t tail = self->n_nodes - at;
        memmove (self->node_ids + at + 1, self->node_ids + at, tail * sizeof (uint64_t));
        memmove (self->peer_eps + at + 1, self->peer_eps + at, tail * sizeof (char *));
        memmove (self->client_eps + at + 1, self->client_eps + at, tail * sizeof (char *));
        memmove (self->keys + at + 1, self->keys + at, tail * sizeof (char *));
        self->node_ids[at] = id;
        self->peer_eps[at] = self->client_eps[at] = self->keys[at] = NULL;
        self->n_nodes = n;
    }
    free (self->peer_eps[at]);
    free (self->client_eps[at]);
    free (self->keys[at]);
    self->peer_eps[at] = s_strndup (peer, strlen (peer));
    self->client_eps[at] = s_strndup (client, strlen (client));
    self->keys[at] = s_strndup (key, strlen (key));
    s_lines (self);
    return 0;
}

bool
zkv_routing_node (const zkv_routing_t *self, uint64_t id, const char **peer, const char **client,
                  const char **key)
{
    for (size_t i = 0; i < self->n_nodes; i++)
        if (self->node_ids[i] == id) {
            if (peer)
                *peer = self->peer_eps[i];
            if (client)
                *client = self->client_eps[i];
            if (key)
                *key = self->keys[i];
            return true;
        }
    return false;
}

void
zkv_routing_prune_nodes (zkv_routing_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->n_nodes; i++) {
        if (zkv_routing_has_node (self, self->node_ids[i])) {
            self->node_ids[kept] = self->node_ids[i];
            self->peer_eps[kept] = self->peer_eps[i];
            self->client_eps[kept] = self->client_eps[i];
            self->keys[kept] = self->keys[i];
            kept++;
        } else {
            free (self->peer_eps[i]);
            free (self->client_eps[i]);
            free (self->keys[i]);
        }
    }
    self->n_nodes = kept;
    s_lines (self);
}

// Splits lines into exactly n fields that ok accepts (in *out, owned); false if they do not match.
static bool
s_split (const zkv_bytes_t *lines, size_t n, char **out, bool (*ok) (const char *, size_t))
{
    if (n == 0 || lines->len == 0)
        return n == 0 && lines->len == 0;
    size_t at = 0, i = 0;
    for (; i < n; i++) {
        size_t end = at;
        while (end < lines->len && lines->data[end] != '\n')
            end++;
        // The last endpoint ends the bytes; every other one ends at a newline.
        bool last = i + 1 == n;
        if (at > lines->len || !ok ((const char *)lines->data + at, end - at) ||
            (last ? end != lines->len : end == lines->len))
            break;
        out[i] = s_strndup ((const char *)lines->data + at, end - at);
        at = end + 1;
    }
    if (i == n)
        return true;
    for (size_t k = 0; k < i; k++)
        free (out[k]);
    return false;
}

int
zkv_routing_set_nodes (zkv_routing_t *self, const zkv_u64s_t *node_ids,
                       const zkv_bytes_t *peer_lines, const zkv_bytes_t *client_lines,
                       const zkv_bytes_t *key_lines)
{
    size_t n = node_ids->count;
    if (n > S_MAX_MEMBERS)
        return ZKV_EPROTO;
    for (size_t i = 0; i < n; i++)
        if (node_ids->items[i] == 0 || (i && node_ids->items[i] <= node_ids->items[i - 1]))
            return ZKV_EPROTO;
    char **peers = zkv_calloc (n, sizeof (char *)), **clients = zkv_calloc (n, sizeof (char *));
    char **keys = zkv_calloc (n, sizeof (char *));
    int rc = 0;
    if (!s_split (peer_lines, n, peers, s_endpoint_ok))
        rc = ZKV_EPROTO;
    else if (!s_split (client_lines, n, clients, s_endpoint_ok)) {
        for (size_t k = 0; k < n; k++)
            free (peers[k]);
        rc = ZKV_EPROTO;
    } else if (!s_split (key_lines, n, keys, s_key_field_ok)) {
        for (size_t k = 0; k < n; k++) {
            free (peers[k]);
            free (clients[k]);
        }
        rc = ZKV_EPROTO;
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            zkv_routing_set_node (self, node_ids->items[i], peers[i], clients[i], keys[i]);
            free (peers[i]);
            free (clients[i]);
            free (keys[i]);
        }
    }
    free (peers);
    free (clients);
    free (keys);
    return rc;
}

void
zkv_routing_deal (zkv_routing_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_groups; i++)
        n += self->group_ids[i] != 0;
    for (uint32_t s = 0; s < self->nshards; s++) {
        self->shard_group[s] = 0;
        if (n == 0)
            continue;
        size_t want = s % n, seen = 0;
        for (size_t i = 0; i < self->n_groups; i++) {
            if (self->group_ids[i] == 0)
                continue;
            if (seen++ == want) {
                self->shard_group[s] = self->group_ids[i];
                break;
            }
        }
    }
}

uint32_t
zkv_routing_shard_of (const zkv_routing_t *self, const uint8_t *key, size_t len)
{
    return zkv_shard_of (key, len, self->nshards);
}

uint64_t
zkv_routing_group_of (const zkv_routing_t *self, const uint8_t *key, size_t len)
{
    return self->shard_group[zkv_routing_shard_of (self, key, len)];
}

const uint64_t *
zkv_routing_members (const zkv_routing_t *self, uint64_t group, size_t *n_p)
{
    for (size_t i = 0; i < self->n_groups; i++)
        if (self->group_ids[i] == group) {
            *n_p = (size_t)self->group_size[i];
            return self->members + self->group_first[i];
        }
    *n_p = 0;
    return NULL;
}

bool
zkv_routing_has_node (const zkv_routing_t *self, uint64_t node)
{
    for (size_t i = 0; i < self->n_members; i++)
        if (self->members[i] == node)
            return true;
    return false;
}

void
zkv_routing_owned (const zkv_routing_t *self, uint64_t group, bool *owned)
{
    for (uint32_t s = 0; s < self->nshards; s++)
        owned[s] = self->shard_group[s] == group;
}

void
zkv_routing_to_reply (const zkv_routing_t *self, zkv_config_reply_t *out)
{
    out->num = self->num;
    out->shard_groups = (zkv_u64s_t){self->shard_group, self->nshards};
    out->group_ids = (zkv_u64s_t){self->group_ids, self->n_groups};
    out->group_sizes = (zkv_u64s_t){self->group_size, self->n_groups};
    out->members = (zkv_u64s_t){self->members, self->n_members};
    out->node_ids = (zkv_u64s_t){self->node_ids, self->n_nodes};
    out->peer_endpoints = self->peer_lines;
    out->client_endpoints = self->client_lines;
    out->public_keys = self->key_lines;
}

zkv_routing_t *
zkv_routing_from_reply (const zkv_config_reply_t *m, int *err)
{
    *err = ZKV_EPROTO;
    if (m->num == 0 || m->shard_groups.count == 0 || m->shard_groups.count > S_MAX_SHARDS ||
        m->group_ids.count != m->group_sizes.count || m->group_ids.count > S_MAX_GROUPS)
        return NULL;
    size_t n_groups = m->group_ids.count, total = 0;
    for (size_t i = 0; i < n_groups; i++) {
        uint64_t sz = m->group_sizes.items[i];
        if (sz == 0 || sz > S_MAX_MEMBERS)
            return NULL;
        total += (size_t)sz;
    }
    zkv_routing_t *self = NULL;
    if (total == m->members.count)
        self = zkv_routing_new (m->num, (uint32_t)m->shard_groups.count, m->group_ids.items,
                                m->group_sizes.items, m->members.items, n_groups);
    if (!self)
        return NULL;
    for (uint32_t s = 0; s < self->nshards; s++) {
        uint64_t g = m->shard_groups.items[s];
        size_t n = 0;
        if (g != 0 && !zkv_routing_members (self, g, &n)) {
            zkv_routing_destroy (&self);
            return NULL; // a shard served by a group the configuration does not list
        }
        self->shard_group[s] = g;
    }
    if (zkv_routing_set_nodes (self, &m->node_ids, &m->peer_endpoints, &m->client_endpoints,
                               &m->public_keys)) {
        zkv_routing_destroy (&self);
        return NULL; // endpoints that do not match their nodes
    }
    *err = 0;
    return self;
}

int
zkv_routing_encode (const zkv_routing_t *self, zkv_bytes_t *out)
{
    zkv_msg_t m = {.type = ZKV_MSG_CONFIG_REPLY};
    zkv_routing_to_reply (self, &m.u.config_reply);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (&m, &buf, &len);
    *out = rc == 0 ? (zkv_bytes_t){buf, len} : (zkv_bytes_t){0};
    return rc;
}

zkv_routing_t *
zkv_routing_decode (const uint8_t *buf, size_t len, int *err)
{
    zkv_msg_t m;
    int rc = zkv_msg_decode (buf, len, &m);
    zkv_routing_t *r = NULL;
    if (rc == 0 && m.type != ZKV_MSG_CONFIG_REPLY)
        rc = ZKV_ETYPE;
    if (rc == 0)
        r = zkv_routing_from_reply (&m.u.config_reply, &rc);
    zkv_msg_free (&m);
    *err = rc;
    return r;
}
