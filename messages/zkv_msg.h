// zkv messages: C types and the msgpack codec, all expanded from zkv_msg_table.h.
#ifndef ZKV_MSG_H
#define ZKV_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_error.h"
#include "zkv_msg_table.h"

// Hard limits the decoder enforces before allocating anything.
#define ZKV_MSG_MAX_BYTES       (64u * 1024 * 1024) // one encoded message
#define ZKV_MSG_MAX_ENTRIES     (1u << 20)          // entries in one message
#define ZKV_MSG_MAX_FIELD_BYTES (32u * 1024 * 1024) // one BYTES field or entry payload
#define ZKV_MSG_MAX_U64S        (1u << 20)          // elements of one U64S field

// An owned byte string (data may be NULL when len is 0).
typedef struct {
    uint8_t *data; // heap copy, owned by the enclosing message or entry
    size_t len;    // number of bytes
} zkv_bytes_t;

// Log entry types.
typedef enum {
    ZKV_ENTRY_NORMAL = 0, // an application command
    ZKV_ENTRY_NOOP = 1,   // a new leader's empty entry, commits its term (§8)
} zkv_entry_type_t;

// The state of one shard in a shard group (shard_meta.state, group_state.shard_states).
typedef enum {
    ZKV_SHARD_NONE = 0,     // not the group's
    ZKV_SHARD_SERVING = 1,  // the group's, served
    ZKV_SHARD_PULLING = 2,  // the group's from this configuration on, being pulled from its
                            // previous owner: not served until whole
    ZKV_SHARD_HANDOFF = 3,  // no longer the group's, kept (frozen) until its new owner holds
                            // it, then deleted (waiting for GC)
} zkv_shard_state_t;

// One Raft log entry.
typedef struct {
    uint64_t term;    // term in which the leader created it
    uint64_t index;   // position in the log, from 1
    uint8_t type;     // zkv_entry_type_t
    zkv_bytes_t data; // command payload
} zkv_entry_t;

// An owned array of entries.
typedef struct {
    zkv_entry_t *items; // heap array, owned
    size_t count;       // number of items
} zkv_entries_t;

// An owned array of u64 (items may be NULL when count is 0).
typedef struct {
    uint64_t *items; // heap array, owned
    size_t count;    // number of items
} zkv_u64s_t;

#define ZKV_CTYPE_U64     uint64_t
#define ZKV_CTYPE_U64S    zkv_u64s_t
#define ZKV_CTYPE_BOOL    bool
#define ZKV_CTYPE_BYTES   zkv_bytes_t
#define ZKV_CTYPE_ENTRIES zkv_entries_t

// Message type ids: ZKV_MSG_REQUEST_VOTE, ...
typedef enum {
    ZKV_MSG_NONE = 0,
#define ZKV_MSG_ENUM(id, name, NAME, fields) ZKV_MSG_##NAME = id,
    ZKV_MSG_TABLE (ZKV_MSG_ENUM)
#undef ZKV_MSG_ENUM
} zkv_msg_type_t;

// One struct per message: zkv_request_vote_t, ...
#define ZKV_MSG_FIELD_DECL(type, field, doc) ZKV_CTYPE_##type field;
#define ZKV_MSG_STRUCT(id, name, NAME, fields)                                                     \
    typedef struct {                                                                               \
        fields (ZKV_MSG_FIELD_DECL)                                                                \
    } zkv_##name##_t;
ZKV_MSG_TABLE (ZKV_MSG_STRUCT)
#undef ZKV_MSG_STRUCT

// The header every Raft message starts with.
typedef struct {
    ZKV_RAFT_HEADER (ZKV_MSG_FIELD_DECL)
} zkv_raft_hdr_t;

// Any message: its type and the matching union member (named after the table row).
typedef struct {
    zkv_msg_type_t type; // which union member is valid
    union {
        zkv_raft_hdr_t hdr; // valid for every Raft message (zkv_msg_is_raft), for no other
#define ZKV_MSG_UNION(id, name, NAME, fields) zkv_##name##_t name;
        ZKV_MSG_TABLE (ZKV_MSG_UNION)
#undef ZKV_MSG_UNION
    } u;
} zkv_msg_t;

// Table name of a type ("append_entries"), or "unknown".
const char *zkv_msg_name (zkv_msg_type_t type);
// True if type is a row of the table.
bool zkv_msg_type_valid (int type);

// True for a Raft message (a wire id below ZKV_MSG_FIRST_CLIENT_ID): it starts with
// ZKV_RAFT_HEADER, so msg->u.hdr is valid. False for client and node protocol messages.
bool zkv_msg_is_raft (zkv_msg_type_t type);

// What to do with each field of a message, by the field's type (zkv_msg_visit): for printers
// that show any message whatever its type (zkv watch, the status page's recent events).
typedef struct {
    void (*u64) (void *arg, const char *name, uint64_t v);
    void (*boolean) (void *arg, const char *name, bool v);
    void (*bytes) (void *arg, const char *name, const zkv_bytes_t *v);
    void (*u64s) (void *arg, const char *name, const zkv_u64s_t *v);
    void (*entries) (void *arg, const char *name, const zkv_entries_t *v);
} zkv_msg_visitor_t;

// Calls the visitor for every field of msg, in table order, with the field's name.
void zkv_msg_visit (const zkv_msg_t *msg, const zkv_msg_visitor_t *visitor, void *arg);

// An event's wall-clock time as its publisher stamped it (its time_ms), 0 for a message that
// carries none.
uint64_t zkv_msg_event_time_ms (const zkv_msg_t *msg);

// Encodes msg as msgpack into a new heap buffer (*buf_p, *len_p; free() it).
int zkv_msg_encode (const zkv_msg_t *msg, uint8_t **buf_p, size_t *len_p);
// Decodes untrusted bytes into *msg, which then owns its allocations (zkv_msg_free).
// Any malformed input returns a negative code and leaves *msg empty; never reads past len.
// The input must be exactly one message: trailing bytes are ZKV_EPROTO.
int zkv_msg_decode (const uint8_t *buf, size_t len, zkv_msg_t *msg);
// Decodes the ONE message at the front of buf, for a sequence of concatenated messages (a KV
// snapshot stream): *used gets its length, and the bytes after it are not looked at (len may
// be larger than ZKV_MSG_MAX_BYTES). The same guarantees as zkv_msg_decode: bounds checked
// before anything is allocated, never reads past len, on error *msg empty and *used 0. Errors:
// ZKV_ETRUNC when buf ends inside the message (a cut sequence: more bytes may complete it),
// ZKV_ETOOBIG when it would pass ZKV_MSG_MAX_BYTES or a field limit, ZKV_EVERSION, ZKV_ETYPE,
// ZKV_EPROTO for malformed bytes, ZKV_EINVAL for a NULL buf with a length.
int zkv_msg_decode_prefix (const uint8_t *buf, size_t len, zkv_msg_t *msg, size_t *used);
// Frees what msg owns and zeroes it (msg itself is not freed). Safe on a zeroed msg.
void zkv_msg_free (zkv_msg_t *msg);
// Deep copy of src into *dst.
void zkv_msg_clone (const zkv_msg_t *src, zkv_msg_t *dst);
// Approximate payload size in bytes (bytes fields and entry payloads plus fixed overhead);
// used for flow control and for counting bytes sent.
size_t zkv_msg_size (const zkv_msg_t *msg);

// Entry helpers: deep copy, free contents.
void zkv_entry_copy (const zkv_entry_t *src, zkv_entry_t *dst);
void zkv_entry_free (zkv_entry_t *entry);
// Bytes helpers: copy len bytes into *dst (dst->data NULL when len is 0), free.
void zkv_bytes_set (zkv_bytes_t *dst, const void *data, size_t len);
void zkv_bytes_free (zkv_bytes_t *bytes);
// U64S helpers: copy count values into *dst (dst->items NULL when count is 0), free.
void zkv_u64s_set (zkv_u64s_t *dst, const uint64_t *items, size_t count);
void zkv_u64s_free (zkv_u64s_t *v);

#endif
