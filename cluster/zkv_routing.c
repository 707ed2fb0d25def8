// Routing configurations (zkv_routing.h).
#include "zkv_routing.h"
#include "zkv_shard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// Shards and groups a configuration may have: the decoder's limits, and far above any cluster.
#define S_MAX_SHARDS  (1u << 20)
#define S_MAX_GROUPS  65536u
#define S_MAX_MEMBERS 1024u

static void *
s_alloc (size_t n, size_t size)
{
    void *p = calloc (n ? n : 1, size);
    if (!p)
        abort (); // out of memory aborts (STYLE.md)
    return p;
}

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
    zkv_routing_t *self = s_alloc (1, sizeof *self);
    self->num = num;
    self->nshards = nshards;
    self->shard_group = s_alloc (nshards, sizeof (uint64_t));
    self->n_groups = n_groups;
    self->group_ids = s_alloc (n_groups, sizeof (uint64_t));
    self->group_first = s_alloc (n_groups, sizeof (uint64_t));
    self->group_size = s_alloc (n_groups, sizeof (uint64_t));
    self->members = s_alloc (n_members, sizeof (uint64_t));
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

void
zkv_routing_destroy (zkv_routing_t **self_p)
{
    zkv_routing_t *self = *self_p;
    if (!self)
        return;
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
    return copy;
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
