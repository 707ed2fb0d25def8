// The msgpack codec of zkv messages: encode and decode expanded from ZKV_MSG_TABLE, no per-message
// code.
//
// Wire format: one msgpack array [ZKV_PROTOCOL_VERSION, type id, field1, field2, ...] in table
// order. U64 is a msgpack non-negative int, BOOL a msgpack bool, BYTES a msgpack bin, U64S an
// array of non-negative ints, ENTRIES an array of [term, index, type, bin data].
//
// Encoding uses msgpack-c (msgpack_packer over a msgpack_sbuffer).
//
// Decoding does NOT use msgpack-c's unpacker, on purpose. msgpack_unpack() builds a tree of
// msgpack_object and allocates count * sizeof (msgpack_object) as soon as it reads an array or
// map header: a 5-byte input declaring an array of 2^32 elements asks for 64 GiB before a single
// element is read. Guarding it would mean pre-validating every container count against the bytes
// left, which is a full walk of the msgpack grammar, i.e. a second parser anyway. So the decoder
// is a small bounds-checked cursor over the subset of msgpack we emit: every read checks the bytes
// left first, every declared count or length is checked against both our limits and the bytes
// left before anything is allocated, and values go straight into the message (no object tree, no
// zone). It also makes the decoder strict: exact arities, exact types, no trailing bytes.
// zkv_msg_decode_prefix reads one message off the front of a longer input (a sequence of
// records, such as a KV snapshot stream) with the same cursor; zkv_msg_decode is that plus
// "nothing follows".
#include "zkv_msg.h"
#include "zkv_alloc.h"

#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

// The smallest encoding of one entry: fixarray(4), three fixints, bin8 of length 0.
#define S_MIN_ENTRY_BYTES 6

// True for the entry types this build knows. A switch on the enum without a default, so that
// -Wswitch (-Wall -Werror) fails the build here when someone adds a type and forgets the codec.
static bool
s_entry_type_known (zkv_entry_type_t type)
{
    switch (type) {
    case ZKV_ENTRY_NORMAL:
    case ZKV_ENTRY_NOOP:
        return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Encoding

// msgpack-c reports only allocation failures from an sbuffer; out of memory aborts.
static void
s_check_pack (int rc)
{
    if (rc != 0)
        abort ();
}

// Validates one field before packing, so we never emit what the decoder would refuse. *payload
// sums the byte strings so far: a message whose payload alone passes ZKV_MSG_MAX_BYTES is refused
// before a buffer of that size is built.
static int
s_check_U64 (const uint64_t *v, size_t *payload)
{
    (void)v;
    (void)payload;
    return 0;
}
static int
s_check_BOOL (const bool *v, size_t *payload)
{
    (void)v;
    (void)payload;
    return 0;
}
static int
s_check_BYTES (const zkv_bytes_t *v, size_t *payload)
{
    assert (v->data || v->len == 0); // our own structs: a length without data is a bug
    if (v->len > ZKV_MSG_MAX_FIELD_BYTES)
        return ZKV_ETOOBIG;
    *payload += v->len; // cannot wrap: each step adds at most 32 MiB to at most 64 MiB
    return *payload > ZKV_MSG_MAX_BYTES ? ZKV_ETOOBIG : 0;
}
static int
s_check_U64S (const zkv_u64s_t *v, size_t *payload)
{
    assert (v->items || v->count == 0);
    if (v->count > ZKV_MSG_MAX_U64S)
        return ZKV_ETOOBIG;
    *payload += v->count; // at least one byte each; at most 1 Mi more
    return *payload > ZKV_MSG_MAX_BYTES ? ZKV_ETOOBIG : 0;
}
static int
s_check_ENTRIES (const zkv_entries_t *v, size_t *payload)
{
    assert (v->items || v->count == 0);
    if (v->count > ZKV_MSG_MAX_ENTRIES)
        return ZKV_ETOOBIG;
    for (size_t i = 0; i < v->count; i++) {
        const zkv_entry_t *e = &v->items[i];
        if (!s_entry_type_known ((zkv_entry_type_t)e->type))
            return ZKV_EINVAL;
        int rc = s_check_BYTES (&e->data, payload);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_pack_U64 (msgpack_packer *pk, const uint64_t *v)
{
    s_check_pack (msgpack_pack_uint64 (pk, *v));
}
static void
s_pack_BOOL (msgpack_packer *pk, const bool *v)
{
    s_check_pack (*v ? msgpack_pack_true (pk) : msgpack_pack_false (pk));
}
static void
s_pack_BYTES (msgpack_packer *pk, const zkv_bytes_t *v)
{
    s_check_pack (msgpack_pack_bin (pk, v->len));
    if (v->len)
        s_check_pack (msgpack_pack_bin_body (pk, v->data, v->len));
}
static void
s_pack_U64S (msgpack_packer *pk, const zkv_u64s_t *v)
{
    s_check_pack (msgpack_pack_array (pk, v->count));
    for (size_t i = 0; i < v->count; i++)
        s_check_pack (msgpack_pack_uint64 (pk, v->items[i]));
}
static void
s_pack_ENTRIES (msgpack_packer *pk, const zkv_entries_t *v)
{
    s_check_pack (msgpack_pack_array (pk, v->count));
    for (size_t i = 0; i < v->count; i++) {
        const zkv_entry_t *e = &v->items[i];
        s_check_pack (msgpack_pack_array (pk, 4));
        s_check_pack (msgpack_pack_uint64 (pk, e->term));
        s_check_pack (msgpack_pack_uint64 (pk, e->index));
        s_check_pack (msgpack_pack_uint64 (pk, e->type));
        s_pack_BYTES (pk, &e->data);
    }
}

// Number of fields of each message type, for the array header.
#define S_COUNT(type, field, doc) +1

int
zkv_msg_encode (const zkv_msg_t *msg, uint8_t **buf_p, size_t *len_p)
{
    assert (msg && buf_p && len_p);
    *buf_p = NULL;
    *len_p = 0;

    // First pass: check every field, so a refused message costs no buffer.
    int rc = ZKV_ETYPE;
    size_t payload = 0;
    switch (msg->type) {
#define S_FIELD(type, field, doc)                                                                  \
    if (rc == 0)                                                                                   \
        rc = s_check_##type (&m->field, &payload);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *m = &msg->u.name;                                                    \
        rc = 0;                                                                                    \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
    if (rc)
        return rc;

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);

    switch (msg->type) {
#define S_FIELD(type, field, doc) s_pack_##type (&pk, &m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *m = &msg->u.name;                                                    \
        s_check_pack (msgpack_pack_array (&pk, 2 fields (S_COUNT)));                               \
        s_check_pack (msgpack_pack_uint64 (&pk, ZKV_PROTOCOL_VERSION));                            \
        s_check_pack (msgpack_pack_uint64 (&pk, id));                                              \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        assert (false); // checked above
    }

    if (sbuf.size > ZKV_MSG_MAX_BYTES) {
        msgpack_sbuffer_destroy (&sbuf);
        return ZKV_ETOOBIG;
    }
    *len_p = sbuf.size;
    *buf_p = (uint8_t *)msgpack_sbuffer_release (&sbuf); // malloc'd by the sbuffer: free() it
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Decoding: a bounds-checked cursor (see the top of the file for why not msgpack_unpack).

typedef struct {
    const uint8_t *p;   // next byte to read
    const uint8_t *end; // one past the last byte of the input
} s_cursor_t;

static size_t
s_left (const s_cursor_t *c)
{
    return (size_t)(c->end - c->p);
}

// Reads an n-byte big-endian unsigned integer (n <= 8).
static int
s_read_be (s_cursor_t *c, size_t n, uint64_t *v)
{
    if (s_left (c) < n)
        return ZKV_ETRUNC;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | c->p[i];
    c->p += n;
    *v = x;
    return 0;
}

static int
s_read_byte (s_cursor_t *c, uint8_t *b)
{
    if (s_left (c) < 1)
        return ZKV_ETRUNC;
    *b = *c->p++;
    return 0;
}

// A non-negative integer in any msgpack int format. The signed formats are accepted when the value
// is >= 0 because other msgpack encoders emit them for non-negative numbers (and msgpack-c itself
// reads them as positive integers); a negative value is malformed.
static int
s_read_uint (s_cursor_t *c, uint64_t *v)
{
    uint8_t tag;
    int rc = s_read_byte (c, &tag);
    if (rc)
        return rc;
    if (tag <= 0x7f) { // positive fixint
        *v = tag;
        return 0;
    }
    if (tag >= 0xcc && tag <= 0xcf) // uint 8/16/32/64
        return s_read_be (c, (size_t)1 << (tag - 0xcc), v);
    if (tag >= 0xd0 && tag <= 0xd3) { // int 8/16/32/64
        size_t n = (size_t)1 << (tag - 0xd0);
        uint64_t x;
        rc = s_read_be (c, n, &x);
        if (rc)
            return rc;
        if (x >> (8 * n - 1)) // sign bit set: negative
            return ZKV_EPROTO;
        *v = x;
        return 0;
    }
    return ZKV_EPROTO; // negative fixint, or not an integer at all
}

// An array header; the count is returned unchecked (callers check it against what they expect).
static int
s_read_array (s_cursor_t *c, uint64_t *count)
{
    uint8_t tag;
    int rc = s_read_byte (c, &tag);
    if (rc)
        return rc;
    if (tag >= 0x90 && tag <= 0x9f) {
        *count = tag & 0x0f;
        return 0;
    }
    if (tag == 0xdc)
        return s_read_be (c, 2, count);
    if (tag == 0xdd)
        return s_read_be (c, 4, count);
    return ZKV_EPROTO;
}

static int
s_read_U64 (s_cursor_t *c, uint64_t *v)
{
    return s_read_uint (c, v);
}

static int
s_read_BOOL (s_cursor_t *c, bool *v)
{
    uint8_t tag;
    int rc = s_read_byte (c, &tag);
    if (rc)
        return rc;
    if (tag != 0xc2 && tag != 0xc3)
        return ZKV_EPROTO;
    *v = tag == 0xc3;
    return 0;
}

static int
s_read_BYTES (s_cursor_t *c, zkv_bytes_t *v)
{
    uint8_t tag;
    int rc = s_read_byte (c, &tag);
    if (rc)
        return rc;
    if (tag < 0xc4 || tag > 0xc6) // bin 8/16/32 only: a str is not bytes
        return ZKV_EPROTO;
    uint64_t len;
    rc = s_read_be (c, (size_t)1 << (tag - 0xc4), &len);
    if (rc)
        return rc;
    if (len > ZKV_MSG_MAX_FIELD_BYTES)
        return ZKV_ETOOBIG;
    if (len > s_left (c)) // checked before allocating
        return ZKV_ETRUNC;
    zkv_bytes_set (v, c->p, (size_t)len);
    c->p += len;
    return 0;
}

// On error the values decoded so far stay in *v for the caller's zkv_msg_free.
static int
s_read_U64S (s_cursor_t *c, zkv_u64s_t *v)
{
    uint64_t count;
    int rc = s_read_array (c, &count);
    if (rc)
        return rc;
    if (count > ZKV_MSG_MAX_U64S)
        return ZKV_ETOOBIG;
    // Each value takes at least one byte: the allocation is bounded by the input's size.
    if (count > s_left (c))
        return ZKV_ETRUNC;
    if (count == 0)
        return 0;
    v->items = zkv_calloc ((size_t)count, sizeof (uint64_t));
    v->count = (size_t)count;
    for (size_t i = 0; i < v->count; i++) {
        rc = s_read_uint (c, &v->items[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_read_entry (s_cursor_t *c, zkv_entry_t *e)
{
    uint64_t arity, type;
    int rc = s_read_array (c, &arity);
    if (rc)
        return rc;
    if (arity != 4)
        return ZKV_EPROTO;
    if ((rc = s_read_uint (c, &e->term)) || (rc = s_read_uint (c, &e->index)) ||
        (rc = s_read_uint (c, &type)))
        return rc;
    if (type > UINT8_MAX || !s_entry_type_known ((zkv_entry_type_t)type))
        return ZKV_EPROTO;
    e->type = (uint8_t)type;
    return s_read_BYTES (c, &e->data);
}

// On error the entries decoded so far stay in *v for the caller's zkv_msg_free.
static int
s_read_ENTRIES (s_cursor_t *c, zkv_entries_t *v)
{
    uint64_t count;
    int rc = s_read_array (c, &count);
    if (rc)
        return rc;
    if (count > ZKV_MSG_MAX_ENTRIES)
        return ZKV_ETOOBIG;
    // Each entry takes at least S_MIN_ENTRY_BYTES: a count the input cannot hold is refused before
    // the array is allocated, so the allocation is bounded by the input's size.
    if (count > s_left (c) / S_MIN_ENTRY_BYTES)
        return ZKV_ETRUNC;
    if (count == 0)
        return 0;
    v->items = zkv_calloc ((size_t)count, sizeof (zkv_entry_t));
    v->count = (size_t)count; // zeroed entries are safe to free
    for (size_t i = 0; i < v->count; i++) {
        rc = s_read_entry (c, &v->items[i]);
        if (rc)
            return rc;
    }
    return 0;
}

// Reads one message from the cursor into *msg (zeroed by the caller). On error *msg may hold
// what was decoded so far, for the caller's zkv_msg_free.
static int
s_read_msg (s_cursor_t *c, zkv_msg_t *msg)
{
    uint64_t arity, version, type;
    int rc;
    if ((rc = s_read_array (c, &arity)))
        return rc;
    if (arity < 2)
        return ZKV_EPROTO;
    // Version before anything else, so a peer speaking another version gets ZKV_EVERSION even if
    // its messages have other shapes.
    if ((rc = s_read_uint (c, &version)))
        return rc;
    if (version != ZKV_PROTOCOL_VERSION)
        return ZKV_EVERSION;
    if ((rc = s_read_uint (c, &type)))
        return rc;
    if (type > INT32_MAX || !zkv_msg_type_valid ((int)type))
        return ZKV_ETYPE;

    msg->type = (zkv_msg_type_t)type;
    switch (msg->type) {
#define S_FIELD(type, field, doc)                                                                  \
    if (rc == 0)                                                                                   \
        rc = s_read_##type (c, &m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        zkv_##name##_t *m = &msg->u.name;                                                          \
        if (arity != 2 fields (S_COUNT)) {                                                         \
            rc = ZKV_EPROTO;                                                                       \
            break;                                                                                 \
        }                                                                                          \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        assert (false); // zkv_msg_type_valid said it is a row of the table
    }
    return rc;
}

int
zkv_msg_decode_prefix (const uint8_t *buf, size_t len, zkv_msg_t *msg, size_t *used)
{
    assert (msg && used);
    memset (msg, 0, sizeof *msg);
    *used = 0;
    if (!buf && len)
        return ZKV_EINVAL;
    if (len == 0)
        return ZKV_ETRUNC; // and buf may be NULL, where even buf + 0 is undefined
    // One message is at most ZKV_MSG_MAX_BYTES, whatever follows it: the cursor stops there, and
    // a message that needs more than that is too big, not truncated.
    size_t window = len > ZKV_MSG_MAX_BYTES ? ZKV_MSG_MAX_BYTES : len;
    s_cursor_t cur = {buf, buf + window};
    int rc = s_read_msg (&cur, msg);
    if (rc == ZKV_ETRUNC && window < len)
        rc = ZKV_ETOOBIG;
    if (rc) {
        zkv_msg_free (msg); // frees whatever was decoded and zeroes *msg
        return rc;
    }
    *used = (size_t)(cur.p - buf);
    return 0;
}

int
zkv_msg_decode (const uint8_t *buf, size_t len, zkv_msg_t *msg)
{
    assert (msg);
    memset (msg, 0, sizeof *msg);
    if (len > ZKV_MSG_MAX_BYTES)
        return ZKV_ETOOBIG;
    size_t used;
    int rc = zkv_msg_decode_prefix (buf, len, msg, &used);
    if (rc == 0 && used != len) {
        zkv_msg_free (msg);
        rc = ZKV_EPROTO; // trailing bytes
    }
    return rc;
}
