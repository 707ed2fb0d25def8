// Message memory management expanded from the table: names, free, deep copy, size.
#include "zkv_msg.h"
#include "zkv_alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const char *
zkv_msg_name (zkv_msg_type_t type)
{
    switch (type) {
#define S_NAME(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME:                                                                           \
        return #name;
        ZKV_MSG_TABLE (S_NAME)
#undef S_NAME
    default:
        return "unknown";
    }
}

bool
zkv_msg_type_valid (int type)
{
    switch (type) {
#define S_VALID(id, name, NAME, fields) case id:
        ZKV_MSG_TABLE (S_VALID)
#undef S_VALID
        return true;
    default:
        return false;
    }
}

bool
zkv_msg_is_raft (zkv_msg_type_t type)
{
    return zkv_msg_type_valid ((int)type) && (int)type < ZKV_MSG_FIRST_CLIENT_ID;
}

void
zkv_msg_visit (const zkv_msg_t *msg, const zkv_msg_visitor_t *visitor, void *arg)
{
#define S_VISIT_U64(field)     visitor->u64 (arg, #field, m->field);
#define S_VISIT_BOOL(field)    visitor->boolean (arg, #field, m->field);
#define S_VISIT_BYTES(field)   visitor->bytes (arg, #field, &m->field);
#define S_VISIT_U64S(field)    visitor->u64s (arg, #field, &m->field);
#define S_VISIT_ENTRIES(field) visitor->entries (arg, #field, &m->field);
#define S_FIELD(type, field, doc) S_VISIT_##type (field)
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *m = &msg->u.name;                                                    \
        fields (S_FIELD) break;                                                                    \
    }
    switch (msg->type) {
        ZKV_MSG_TABLE (S_CASE)
    default:
        break;
    }
#undef S_CASE
#undef S_FIELD
#undef S_VISIT_U64
#undef S_VISIT_BOOL
#undef S_VISIT_BYTES
#undef S_VISIT_U64S
#undef S_VISIT_ENTRIES
}

uint64_t
zkv_msg_event_time_ms (const zkv_msg_t *msg)
{
    switch (msg->type) {
    case ZKV_MSG_EVENT_NODE:
        return msg->u.event_node.time_ms;
    case ZKV_MSG_EVENT_RAFT:
        return msg->u.event_raft.time_ms;
    case ZKV_MSG_EVENT_CLIENT_ERROR:
        return msg->u.event_client_error.time_ms;
    case ZKV_MSG_EVENT_SHARD:
        return msg->u.event_shard.time_ms;
    case ZKV_MSG_EVENT_STATS:
        return msg->u.event_stats.time_ms;
    default:
        return 0;
    }
}

void
zkv_u64s_set (zkv_u64s_t *dst, const uint64_t *items, size_t count)
{
    dst->count = count;
    dst->items = NULL;
    if (count) {
        dst->items = zkv_malloc (count * sizeof (uint64_t));
        memcpy (dst->items, items, count * sizeof (uint64_t));
    }
}

void
zkv_u64s_free (zkv_u64s_t *v)
{
    free (v->items);
    v->items = NULL;
    v->count = 0;
}

void
zkv_bytes_set (zkv_bytes_t *dst, const void *data, size_t len)
{
    dst->len = len;
    dst->data = NULL;
    if (len) {
        dst->data = zkv_malloc (len);
        memcpy (dst->data, data, len);
    }
}

void
zkv_bytes_free (zkv_bytes_t *bytes)
{
    free (bytes->data);
    bytes->data = NULL;
    bytes->len = 0;
}

void
zkv_entry_copy (const zkv_entry_t *src, zkv_entry_t *dst)
{
    dst->term = src->term;
    dst->index = src->index;
    dst->type = src->type;
    zkv_bytes_set (&dst->data, src->data.data, src->data.len);
}

void
zkv_entry_free (zkv_entry_t *entry)
{
    zkv_bytes_free (&entry->data);
}

// Per field type: free, copy and size of one field.
static void
s_free_U64 (uint64_t *v)
{
    (void)v;
}
static void
s_free_BOOL (bool *v)
{
    (void)v;
}
static void
s_free_BYTES (zkv_bytes_t *v)
{
    zkv_bytes_free (v);
}
static void
s_free_U64S (zkv_u64s_t *v)
{
    zkv_u64s_free (v);
}
static void
s_free_ENTRIES (zkv_entries_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        zkv_entry_free (&v->items[i]);
    free (v->items);
    v->items = NULL;
    v->count = 0;
}

static void
s_copy_U64 (const uint64_t *src, uint64_t *dst)
{
    *dst = *src;
}
static void
s_copy_BOOL (const bool *src, bool *dst)
{
    *dst = *src;
}
static void
s_copy_BYTES (const zkv_bytes_t *src, zkv_bytes_t *dst)
{
    zkv_bytes_set (dst, src->data, src->len);
}
static void
s_copy_U64S (const zkv_u64s_t *src, zkv_u64s_t *dst)
{
    zkv_u64s_set (dst, src->items, src->count);
}
static void
s_copy_ENTRIES (const zkv_entries_t *src, zkv_entries_t *dst)
{
    dst->count = src->count;
    dst->items = src->count ? zkv_malloc (src->count * sizeof (zkv_entry_t)) : NULL;
    for (size_t i = 0; i < src->count; i++)
        zkv_entry_copy (&src->items[i], &dst->items[i]);
}

static size_t
s_size_U64 (const uint64_t *v)
{
    (void)v;
    return 8;
}
static size_t
s_size_BOOL (const bool *v)
{
    (void)v;
    return 1;
}
static size_t
s_size_BYTES (const zkv_bytes_t *v)
{
    return 4 + v->len;
}
static size_t
s_size_U64S (const zkv_u64s_t *v)
{
    return 4 + 8 * v->count;
}
static size_t
s_size_ENTRIES (const zkv_entries_t *v)
{
    size_t size = 4;
    for (size_t i = 0; i < v->count; i++)
        size += 8 + 8 + 1 + 4 + v->items[i].data.len;
    return size;
}

void
zkv_msg_free (zkv_msg_t *msg)
{
    switch (msg->type) {
#define S_FIELD(type, field, doc) s_free_##type (&m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        zkv_##name##_t *m = &msg->u.name;                                                          \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
    memset (msg, 0, sizeof *msg);
}

void
zkv_msg_clone (const zkv_msg_t *src, zkv_msg_t *dst)
{
    memset (dst, 0, sizeof *dst);
    dst->type = src->type;
    switch (src->type) {
#define S_FIELD(type, field, doc) s_copy_##type (&s->field, &d->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *s = &src->u.name;                                                    \
        zkv_##name##_t *d = &dst->u.name;                                                          \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
}

size_t
zkv_msg_size (const zkv_msg_t *msg)
{
    size_t size = 4; // version and type
    switch (msg->type) {
#define S_FIELD(type, field, doc) size += s_size_##type (&m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *m = &msg->u.name;                                                    \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
    return size;
}
