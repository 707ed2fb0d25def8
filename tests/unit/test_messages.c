// Codec tests walked over the message table: round trips, truncation, mutation and hostile input.
#include "zkv_test.h"

#include "zkv_msg.h"

#include <assert.h>
#include <msgpack.h>
#include <stdbool.h>

// The protocol version as the one byte (a positive fixint) of hand-written encodings below.
#define S_V "\x06"
_Static_assert(ZKV_PROTOCOL_VERSION == 6, "S_V must spell ZKV_PROTOCOL_VERSION");

// ---------------------------------------------------------------------------------------------
// Helpers: a local seeded PRNG (the project's lives in zkv_core), builders and comparison, all
// expanded from the table so a new message or field is covered without touching this file.

// xorshift64*: deterministic, so a failure replays.
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t
s_seed (uint64_t seed)
{
    return seed * 0x9E3779B97F4A7C15ULL + 1; // never 0, xorshift's fixed point
}

// Every row of the table.
static const zkv_msg_type_t s_types[] = {
#define S_TYPE(id, name, NAME, fields) ZKV_MSG_##NAME,
    ZKV_MSG_TABLE (S_TYPE)
#undef S_TYPE
};
#define S_NTYPES (sizeof s_types / sizeof s_types[0])

// How a sample is filled: random values, every value at its maximum, or everything empty.
typedef enum { S_RANDOM, S_MAXED, S_EMPTY } s_shape_t;

typedef struct {
    uint64_t rng;       // PRNG state
    s_shape_t shape;    // what kind of values
    size_t max_bytes;   // upper bound for random BYTES lengths
    size_t min_entries; // lower bound for random ENTRIES counts
} s_gen_t;

static void
s_gen_U64 (s_gen_t *g, uint64_t *v)
{
    if (g->shape == S_MAXED)
        *v = UINT64_MAX;
    else if (g->shape == S_EMPTY)
        *v = 0;
    else // every msgpack int width shows up: fixint, uint8 .. uint64
        *v = s_rand (&g->rng) >> (s_rand (&g->rng) % 64);
}

static void
s_gen_BOOL (s_gen_t *g, bool *v)
{
    *v = g->shape == S_MAXED || (g->shape == S_RANDOM && (s_rand (&g->rng) & 1));
}

static void
s_gen_bytes_len (s_gen_t *g, zkv_bytes_t *v, size_t len)
{
    uint8_t *tmp = malloc (len ? len : 1);
    for (size_t i = 0; i < len; i++)
        tmp[i] = (uint8_t)s_rand (&g->rng);
    zkv_bytes_set (v, tmp, len);
    free (tmp);
}

static void
s_gen_BYTES (s_gen_t *g, zkv_bytes_t *v)
{
    size_t len = 0;
    if (g->shape == S_MAXED)
        len = 70000; // bin32
    else if (g->shape == S_RANDOM)
        len = 1 + s_rand (&g->rng) % g->max_bytes;
    s_gen_bytes_len (g, v, len);
}

static void
s_gen_U64S (s_gen_t *g, zkv_u64s_t *v)
{
    size_t count = g->shape == S_EMPTY   ? 0
                   : g->shape == S_MAXED ? 300 // array16
                                         : g->min_entries + s_rand (&g->rng) % (g->min_entries + 4);
    uint64_t *tmp = calloc (count ? count : 1, sizeof (uint64_t));
    for (size_t i = 0; i < count; i++)
        s_gen_U64 (g, &tmp[i]);
    zkv_u64s_set (v, tmp, count);
    free (tmp);
}

static void
s_gen_ENTRIES (s_gen_t *g, zkv_entries_t *v)
{
    v->count = g->shape == S_EMPTY   ? 0
               : g->shape == S_MAXED ? 3
                                     : g->min_entries + s_rand (&g->rng) % (g->min_entries + 4);
    v->items = v->count ? calloc (v->count, sizeof (zkv_entry_t)) : NULL;
    for (size_t i = 0; i < v->count; i++) {
        zkv_entry_t *e = &v->items[i];
        s_gen_U64 (g, &e->term);
        s_gen_U64 (g, &e->index);
        e->type = (i % 3 == 2) ? ZKV_ENTRY_NOOP : ZKV_ENTRY_NORMAL;
        s_gen_BYTES (g, &e->data);
    }
}

// Builds a message of the given type filled according to g.
static void
s_build (zkv_msg_type_t type, s_gen_t *g, zkv_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    switch (type) {
#define S_FIELD(type, field, doc) s_gen_##type (g, &m->field);
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
}

// A medium-sized random sample: small payloads, at least 3 entries.
static void
s_sample (zkv_msg_type_t type, uint64_t seed, zkv_msg_t *msg)
{
    s_gen_t g = {s_seed (seed), S_RANDOM, 24, 3};
    s_build (type, &g, msg);
}

static bool
s_eq_U64 (const uint64_t *a, const uint64_t *b)
{
    return *a == *b;
}
static bool
s_eq_BOOL (const bool *a, const bool *b)
{
    return *a == *b;
}
static bool
s_eq_BYTES (const zkv_bytes_t *a, const zkv_bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, a->len) == 0);
}
static bool
s_eq_U64S (const zkv_u64s_t *a, const zkv_u64s_t *b)
{
    return a->count == b->count &&
           (a->count == 0 || memcmp (a->items, b->items, a->count * sizeof (uint64_t)) == 0);
}
static bool
s_eq_ENTRIES (const zkv_entries_t *a, const zkv_entries_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const zkv_entry_t *x = &a->items[i], *y = &b->items[i];
        if (x->term != y->term || x->index != y->index || x->type != y->type ||
            !s_eq_BYTES (&x->data, &y->data))
            return false;
    }
    return true;
}

// Name of the first field where a and b differ, or NULL if they are equal.
static const char *
s_diff (const zkv_msg_t *a, const zkv_msg_t *b)
{
    if (a->type != b->type)
        return "type";
    switch (a->type) {
#define S_FIELD(type, field, doc)                                                                  \
    if (!s_eq_##type (&x->field, &y->field))                                                       \
        return #field;
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *x = &a->u.name, *y = &b->u.name;                                     \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
    return NULL;
}

static size_t
s_nfields (zkv_msg_type_t type)
{
    switch (type) {
#define S_FIELD(type, field, doc) +1
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME:                                                                           \
        return 0 fields (S_FIELD);
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        return 0;
    }
}

static bool
s_is_zeroed (const zkv_msg_t *msg)
{
    static const zkv_msg_t zero;
    return memcmp (msg, &zero, sizeof zero) == 0;
}

// Decodes from an exact-size heap copy, so that ASan catches any read past the end.
static int
s_decode_exact (const uint8_t *buf, size_t len, zkv_msg_t *msg)
{
    uint8_t *copy = malloc (len ? len : 1);
    if (len)
        memcpy (copy, buf, len);
    int rc = zkv_msg_decode (copy, len, msg);
    free (copy);
    return rc;
}

// Decodes hostile bytes: either an error with *msg zeroed (returns the code), or a message that
// re-encodes and decodes to itself (returns 0). Returns 1 if neither holds.
static int
s_decode_hostile (const uint8_t *buf, size_t len)
{
    zkv_msg_t msg, again;
    int rc = s_decode_exact (buf, len, &msg);
    if (rc < 0)
        return s_is_zeroed (&msg) ? rc : 1;
    if (rc != 0)
        return 1;
    uint8_t *enc;
    size_t enc_len;
    int bad = zkv_msg_encode (&msg, &enc, &enc_len) != 0;
    if (!bad) {
        bad = s_decode_exact (enc, enc_len, &again) != 0 || s_diff (&msg, &again) != NULL;
        zkv_msg_free (&again);
        free (enc);
    }
    zkv_msg_free (&msg);
    return bad;
}

// Test-side packer, written with msgpack-c independently of the codec, so tests can build
// encodings with one field replaced, dropped or added.
static void
s_pk_U64 (msgpack_packer *pk, const uint64_t *v)
{
    msgpack_pack_uint64 (pk, *v);
}
static void
s_pk_BOOL (msgpack_packer *pk, const bool *v)
{
    if (*v)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}
static void
s_pk_BYTES (msgpack_packer *pk, const zkv_bytes_t *v)
{
    msgpack_pack_bin (pk, v->len);
    msgpack_pack_bin_body (pk, v->data, v->len);
}
static void
s_pk_U64S (msgpack_packer *pk, const zkv_u64s_t *v)
{
    msgpack_pack_array (pk, v->count);
    for (size_t i = 0; i < v->count; i++)
        msgpack_pack_uint64 (pk, v->items[i]);
}
static void
s_pk_ENTRIES (msgpack_packer *pk, const zkv_entries_t *v)
{
    msgpack_pack_array (pk, v->count);
    for (size_t i = 0; i < v->count; i++) {
        msgpack_pack_array (pk, 4);
        msgpack_pack_uint64 (pk, v->items[i].term);
        msgpack_pack_uint64 (pk, v->items[i].index);
        msgpack_pack_uint64 (pk, v->items[i].type);
        s_pk_BYTES (pk, &v->items[i].data);
    }
}

// Values of the wrong kind, one per msgpack family.
typedef enum {
    S_WRONG_NIL,
    S_WRONG_NEGATIVE,
    S_WRONG_NEGATIVE_FIX,
    S_WRONG_STR,
    S_WRONG_FLOAT,
    S_WRONG_DOUBLE,
    S_WRONG_MAP,
    S_WRONG_EXT,
    S_WRONG_ARRAY, // an array of one string: wrong for ENTRIES and U64S too
    S_WRONG_BOOL,  // wrong except for BOOL
    S_WRONG_UINT,  // wrong except for U64
    S_WRONG_BIN,   // wrong except for BYTES
    S_WRONG_COUNT
} s_wrong_t;

static void
s_pk_wrong (msgpack_packer *pk, s_wrong_t kind)
{
    switch (kind) {
    case S_WRONG_NIL:
        msgpack_pack_nil (pk);
        break;
    case S_WRONG_NEGATIVE:
        msgpack_pack_int64 (pk, -1000000);
        break;
    case S_WRONG_NEGATIVE_FIX:
        msgpack_pack_int8 (pk, -1);
        break;
    case S_WRONG_STR:
        msgpack_pack_str (pk, 3);
        msgpack_pack_str_body (pk, "abc", 3);
        break;
    case S_WRONG_FLOAT:
        msgpack_pack_float (pk, 1.0f);
        break;
    case S_WRONG_DOUBLE:
        msgpack_pack_double (pk, 2.0);
        break;
    case S_WRONG_MAP:
        msgpack_pack_map (pk, 1);
        msgpack_pack_uint64 (pk, 1);
        msgpack_pack_uint64 (pk, 2);
        break;
    case S_WRONG_EXT:
        msgpack_pack_ext (pk, 1, 1);
        msgpack_pack_ext_body (pk, "x", 1);
        break;
    case S_WRONG_ARRAY:
        // Also wrong as ENTRIES (an entry must be an array), and long enough that the decoder
        // gets past its count-versus-bytes-left check to the entry itself.
        msgpack_pack_array (pk, 1);
        msgpack_pack_str (pk, 6);
        msgpack_pack_str_body (pk, "abcdef", 6);
        break;
    case S_WRONG_BOOL:
        msgpack_pack_true (pk);
        break;
    case S_WRONG_UINT:
        msgpack_pack_uint64 (pk, 1);
        break;
    case S_WRONG_BIN:
        msgpack_pack_bin (pk, 1);
        msgpack_pack_bin_body (pk, "y", 1);
        break;
    default:
        break;
    }
}

static bool
s_right_U64 (s_wrong_t kind)
{
    return kind == S_WRONG_UINT;
}
static bool
s_right_BOOL (s_wrong_t kind)
{
    return kind == S_WRONG_BOOL;
}
static bool
s_right_BYTES (s_wrong_t kind)
{
    return kind == S_WRONG_BIN;
}
static bool
s_right_U64S (s_wrong_t kind)
{
    (void)kind;
    return false; // S_WRONG_ARRAY holds a string where a number should be
}
static bool
s_right_ENTRIES (s_wrong_t kind)
{
    (void)kind;
    return false; // S_WRONG_ARRAY holds a string where an entry should be
}

// What to do to field number `target` of msg when packing it by hand.
typedef enum { S_KEEP, S_REPLACE, S_DROP, S_EXTRA } s_edit_t;

// Packs msg as [version, id, fields...] with one edit; sets *right when a replacement happens to
// be of the field's type, so callers know what to expect.
static void
s_pack_edited (const zkv_msg_t *msg, uint64_t version, s_edit_t edit, size_t target, s_wrong_t kind,
               msgpack_sbuffer *sbuf, bool *right)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    size_t n = s_nfields (msg->type);
    *right = false;
    msgpack_pack_array (&pk, 2 + n - (edit == S_DROP) + (edit == S_EXTRA));
    msgpack_pack_uint64 (&pk, version);
    msgpack_pack_uint64 (&pk, (uint64_t)msg->type);
    size_t i = 0;
    switch (msg->type) {
#define S_FIELD(type, field, doc)                                                                  \
    if (i == target && edit == S_REPLACE) {                                                        \
        s_pk_wrong (&pk, kind);                                                                    \
        *right = s_right_##type (kind);                                                            \
    } else if (!(i == target && edit == S_DROP))                                                   \
        s_pk_##type (&pk, &m->field);                                                              \
    i++;
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
    if (edit == S_EXTRA)
        msgpack_pack_uint64 (&pk, 7);
}

// ---------------------------------------------------------------------------------------------
// Tests

// Every message, in every shape, survives encode -> decode -> encode unchanged, and msgpack-c's
// own unpacker reads our bytes as the documented array.
static void
test_round_trip (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        for (uint64_t seed = 0; seed < 40; seed++) {
            s_gen_t g = {s_seed (seed),
                         seed == 0   ? S_MAXED
                         : seed == 1 ? S_EMPTY
                                     : S_RANDOM,
                         seed < 20 ? 40 : 70000, seed % 4};
            zkv_msg_t msg, out, clone;
            s_build (s_types[t], &g, &msg);
            uint8_t *buf, *buf2;
            size_t len, len2;
            CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
            int rc = zkv_msg_decode (buf, len, &out);
            CHECK_EQ_U64 (rc, 0);
            const char *diff = s_diff (&msg, &out);
            if (diff)
                fprintf (stderr, "%s seed %" PRIu64 ": field %s differs\n",
                         zkv_msg_name (s_types[t]), seed, diff);
            CHECK (diff == NULL);
            CHECK_EQ_U64 (zkv_msg_encode (&out, &buf2, &len2), 0);
            CHECK_EQ_U64 (len2, len);
            CHECK (memcmp (buf, buf2, len) == 0);
            zkv_msg_clone (&out, &clone);
            CHECK (s_diff (&msg, &clone) == NULL);

            msgpack_unpacked un;
            msgpack_unpacked_init (&un);
            size_t off = 0;
            CHECK (msgpack_unpack_next (&un, (const char *)buf, len, &off) ==
                   MSGPACK_UNPACK_SUCCESS);
            CHECK_EQ_U64 (off, len);
            msgpack_object o = un.data;
            CHECK (o.type == MSGPACK_OBJECT_ARRAY);
            CHECK_EQ_U64 (o.via.array.size, 2 + s_nfields (s_types[t]));
            CHECK (o.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
            CHECK_EQ_U64 (o.via.array.ptr[0].via.u64, ZKV_PROTOCOL_VERSION);
            CHECK_EQ_U64 (o.via.array.ptr[1].via.u64, s_types[t]);
            msgpack_unpacked_destroy (&un);

            zkv_msg_free (&msg);
            zkv_msg_free (&out);
            zkv_msg_free (&clone);
            CHECK (s_is_zeroed (&msg));
            free (buf);
            free (buf2);
        }
    }
}

// Every proper prefix of every encoding is refused, never over-read (exact-size copies under
// ASan), and leaves the message zeroed.
static void
test_truncate_everywhere (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        for (uint64_t seed = 0; seed < 4; seed++) {
            zkv_msg_t msg, out;
            s_sample (s_types[t], seed, &msg);
            uint8_t *buf;
            size_t len;
            CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
            for (size_t cut = 0; cut < len; cut++) {
                int rc = s_decode_exact (buf, cut, &out);
                if (rc >= 0)
                    fprintf (stderr, "%s cut at %zu of %zu decoded\n", zkv_msg_name (s_types[t]),
                             cut, len);
                CHECK (rc < 0);
                CHECK (s_is_zeroed (&out));
            }
            zkv_msg_free (&msg);
            free (buf);
        }
    }
}

// Every byte of every encoding overwritten with several values: never a crash; either an error
// with *msg zeroed, or a message that round-trips.
static void
test_mutate_every_byte (void)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x90, 0x9f, 0xc0,
                                     0xc1, 0xc2, 0xc3, 0xc4, 0xc6, 0xcc, 0xcf,
                                     0xd0, 0xd3, 0xdc, 0xdd, 0xe0, 0xfe, 0xff};
    size_t errors = 0, accepted = 0;
    for (size_t t = 0; t < S_NTYPES; t++) {
        for (uint64_t seed = 0; seed < 3; seed++) {
            zkv_msg_t msg;
            s_sample (s_types[t], seed, &msg);
            uint8_t *buf;
            size_t len;
            CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
            for (size_t pos = 0; pos < len; pos++) {
                uint8_t orig = buf[pos];
                for (size_t v = 0; v < sizeof values + 3; v++) {
                    buf[pos] = v < sizeof values        ? values[v]
                               : v == sizeof values     ? (uint8_t)(orig ^ 0x01)
                               : v == sizeof values + 1 ? (uint8_t)(orig ^ 0x80)
                                                        : (uint8_t)(orig + 1);
                    int rc = s_decode_hostile (buf, len);
                    if (rc == 1)
                        fprintf (stderr, "%s byte %zu = 0x%02x: bad outcome\n",
                                 zkv_msg_name (s_types[t]), pos, buf[pos]);
                    CHECK (rc != 1);
                    if (rc < 0)
                        errors++;
                    else
                        accepted++;
                }
                buf[pos] = orig;
            }
            zkv_msg_free (&msg);
            free (buf);
        }
    }
    CHECK (errors > 0 && accepted > 0); // the test did exercise both outcomes
}

// Builds a message with msgpack-c by hand from a raw byte string.
static int
s_decode_raw (const char *bytes, size_t len)
{
    zkv_msg_t msg;
    int rc = s_decode_exact ((const uint8_t *)bytes, len, &msg);
    if (rc == 0)
        zkv_msg_free (&msg);
    else if (!s_is_zeroed (&msg))
        return 1; // never a valid error code: fails the caller's CHECK_EQ
    return rc;
}

static void
test_wrong_version (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        zkv_msg_t msg;
        s_sample (s_types[t], 7, &msg);
        uint64_t versions[] = {0, ZKV_PROTOCOL_VERSION + 1, 255, 1ull << 40, UINT64_MAX};
        for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
            msgpack_sbuffer sbuf;
            msgpack_sbuffer_init (&sbuf);
            bool right;
            s_pack_edited (&msg, versions[v], S_KEEP, 0, S_WRONG_NIL, &sbuf, &right);
            CHECK_EQ_U64 (s_decode_raw (sbuf.data, sbuf.size), ZKV_EVERSION);
            msgpack_sbuffer_destroy (&sbuf);
            // Another version may have another shape: still ZKV_EVERSION, not ZKV_EPROTO.
            msgpack_sbuffer_init (&sbuf);
            s_pack_edited (&msg, versions[v], S_EXTRA, 0, S_WRONG_NIL, &sbuf, &right);
            CHECK_EQ_U64 (s_decode_raw (sbuf.data, sbuf.size), ZKV_EVERSION);
            msgpack_sbuffer_destroy (&sbuf);
        }
        zkv_msg_free (&msg);
    }
    // The right version written in a signed format is still the version; a version of the wrong
    // type is malformed.
    CHECK_EQ_U64 (s_decode_raw ("\x94\xd0" S_V "\x06\x00\x00", 6), ZKV_EPROTO); // arity 4 != 9
    CHECK_EQ_U64 (s_decode_raw ("\x92\xa1\x31\x01", 4), ZKV_EPROTO);            // version "1"
    CHECK_EQ_U64 (s_decode_raw ("\x92\xff\x01", 3), ZKV_EPROTO);                // version -1
    CHECK_EQ_U64 (s_decode_raw ("\x92\xc0\x01", 3), ZKV_EPROTO);                // version nil
}

static void
test_unknown_type (void)
{
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\x00", 3), ZKV_ETYPE);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\x7f", 3), ZKV_ETYPE);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\xcd\x01\x00", 5), ZKV_ETYPE);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\xce\x80\x00\x00\x01", 7), ZKV_ETYPE);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\xcf\x00\x00\x00\x01\x00\x00\x00\x01", 11), ZKV_ETYPE);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\xa1\x31", 4), ZKV_EPROTO); // type "1"
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V "\xe0", 3), ZKV_EPROTO);     // type -32
    // An unknown type is found before the arity is looked at.
    CHECK_EQ_U64 (s_decode_raw ("\x93" S_V "\x63\x01", 4), ZKV_ETYPE);
    // Every fixint id that is not a row, the gaps between rows included.
    int unknown = 0;
    for (int id = 0; id < 128; id++) {
        bool row = false;
        for (size_t t = 0; t < S_NTYPES; t++)
            row |= (int)s_types[t] == id;
        CHECK (row == zkv_msg_type_valid (id));
        if (row)
            continue;
        char raw[3] = {(char)0x92, ZKV_PROTOCOL_VERSION, (char)id};
        CHECK_EQ_U64 (s_decode_raw (raw, 3), ZKV_ETYPE);
        unknown++;
    }
    CHECK_EQ_U64 (unknown, 128 - S_NTYPES);
}

// Each field, in turn, replaced by a value of every wrong kind; dropped; or one field added.
static void
test_wrong_field_types_and_arity (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        zkv_msg_t msg;
        s_sample (s_types[t], 11, &msg);
        size_t n = s_nfields (s_types[t]);
        for (size_t f = 0; f < n; f++) {
            for (int k = 0; k < S_WRONG_COUNT; k++) {
                msgpack_sbuffer sbuf;
                msgpack_sbuffer_init (&sbuf);
                bool right;
                s_pack_edited (&msg, ZKV_PROTOCOL_VERSION, S_REPLACE, f, (s_wrong_t)k, &sbuf,
                               &right);
                int rc = s_decode_raw (sbuf.data, sbuf.size);
                if (right)
                    CHECK_EQ_U64 (rc, 0);
                else {
                    if (rc != ZKV_EPROTO)
                        fprintf (stderr, "%s field %zu kind %d: %s\n", zkv_msg_name (s_types[t]), f,
                                 k, zkv_errname (rc));
                    CHECK_EQ_U64 (rc, ZKV_EPROTO);
                }
                msgpack_sbuffer_destroy (&sbuf);
            }
            msgpack_sbuffer sbuf;
            msgpack_sbuffer_init (&sbuf);
            bool right;
            s_pack_edited (&msg, ZKV_PROTOCOL_VERSION, S_DROP, f, S_WRONG_NIL, &sbuf, &right);
            CHECK_EQ_U64 (s_decode_raw (sbuf.data, sbuf.size), ZKV_EPROTO);
            msgpack_sbuffer_destroy (&sbuf);
        }
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        bool right;
        s_pack_edited (&msg, ZKV_PROTOCOL_VERSION, S_EXTRA, 0, S_WRONG_NIL, &sbuf, &right);
        CHECK_EQ_U64 (s_decode_raw (sbuf.data, sbuf.size), ZKV_EPROTO);
        msgpack_sbuffer_destroy (&sbuf);
        // Our test packer and the codec agree on the unedited message.
        msgpack_sbuffer_init (&sbuf);
        s_pack_edited (&msg, ZKV_PROTOCOL_VERSION, S_KEEP, 0, S_WRONG_NIL, &sbuf, &right);
        CHECK_EQ_U64 (s_decode_raw (sbuf.data, sbuf.size), 0);
        msgpack_sbuffer_destroy (&sbuf);
        zkv_msg_free (&msg);
    }
}

// append_entries header fields (group, from, to, term, prev_log_index, prev_log_term, commit,
// ctx) as fixints, followed by whatever the test appends as the entries field.
static const char s_ae_head[] = "\x9b" S_V "\x03\x01\x02\x03\x04\x05\x06\x07\x08";

static int
s_decode_ae (const char *entries, size_t len)
{
    char raw[64];
    size_t head = sizeof s_ae_head - 1;
    memcpy (raw, s_ae_head, head);
    memcpy (raw + head, entries, len);
    return s_decode_raw (raw, head + len);
}

static void
test_entries_hostile (void)
{
    // Our hand-made prefix is right: an empty entries array decodes.
    CHECK (s_ae_head[0] == (char)(0x90 | (2 + s_nfields (ZKV_MSG_APPEND_ENTRIES))));
    CHECK_EQ_U64 (s_decode_ae ("\x90", 1), 0);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xc4\x00", 7), 0);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x01\xc4\x01z", 8), 0);
    // Wrong arity of an entry, unknown or oversized entry types, wrong field types.
    CHECK_EQ_U64 (s_decode_ae ("\x91\x93\x01\x02\x00\x00\x00", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x95\x01\x02\x00\xc4\x00\x00", 8), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x07\xc4\x00", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\xcd\x01\x00\xc4\x00", 9), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xa1z", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\xff\x02\x00\xc4\x00", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x01\x00\x00\x00\x00\x00", 7), ZKV_EPROTO);
    // The second entry is bad: the first, with its payload, is freed (ASan's leak check).
    CHECK_EQ_U64 (s_decode_ae ("\x92\x94\x01\x02\x00\xc4\x01z\x94\x01\x02\x00\xa0", 13),
                  ZKV_EPROTO);
    // A count the input cannot hold is refused before allocating.
    CHECK_EQ_U64 (s_decode_ae ("\x92\x94\x01\x02\x00\xc4\x00", 7), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_ae ("\xdc\xff\xff", 3), ZKV_ETRUNC);
    // ... before reading a single entry: this first entry is malformed, yet the answer is that
    // 3 entries cannot fit in 12 bytes.
    CHECK_EQ_U64 (s_decode_ae ("\x93\x94\x01\x02\x00\xa0\x00\x00\x00\x00\x00\x00\x00", 13),
                  ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_ae ("\xdd\x00\x10\x00\x00", 5), ZKV_ETRUNC); // exactly the limit
    CHECK_EQ_U64 (s_decode_ae ("\xdd\x00\x10\x00\x01", 5), ZKV_ETOOBIG);
    CHECK_EQ_U64 (s_decode_ae ("\xdd\xff\xff\xff\xff", 5), ZKV_ETOOBIG);
    // A payload length the input cannot hold, or over the field limit.
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xc6\x00\x00\x00\x05zz", 12), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xc6\x02\x00\x00\x00", 10), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xc6\x02\x00\x00\x01", 10), ZKV_ETOOBIG);
    CHECK_EQ_U64 (s_decode_ae ("\x91\x94\x01\x02\x00\xc6\xff\xff\xff\xff", 10), ZKV_ETOOBIG);
}

static void
test_huge_counts (void)
{
    // 5 bytes claiming an array of 2^32 - 1 elements: refused without allocating.
    CHECK_EQ_U64 (s_decode_raw ("\xdd\xff\xff\xff\xff", 5), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_raw ("\xdd\xff\xff\xff\xff" S_V, 6), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_raw ("\xdd\xff\xff\xff\xff" S_V "\x01", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_raw ("\xdd\xff\xff\xff\xff" S_V "\x06\x00", 8), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_raw ("\xdc\xff\xff" S_V "\x06", 5), ZKV_EPROTO);
    // A huge bin where install_snapshot's data goes.
    const char snap[] = "\x9c" S_V "\x05\x01\x02\x03\x04\x05\x06\x07\x08\xc3\xc6\xff\xff\xff\xff";
    CHECK (snap[0] == (char)(0x90 | (2 + s_nfields (ZKV_MSG_INSTALL_SNAPSHOT))));
    CHECK_EQ_U64 (s_decode_raw (snap, sizeof snap - 1), ZKV_ETOOBIG);
    CHECK_EQ_U64 (s_decode_raw (snap, sizeof snap - 3), ZKV_ETRUNC);

    // Exactly ZKV_MSG_MAX_ENTRIES entries go through; one more is refused at both ends.
    zkv_msg_t msg = {.type = ZKV_MSG_APPEND_ENTRIES}, out;
    zkv_entries_t *entries = &msg.u.append_entries.entries;
    entries->count = ZKV_MSG_MAX_ENTRIES;
    entries->items = calloc (entries->count, sizeof (zkv_entry_t));
    uint8_t *buf;
    size_t len;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
    CHECK_EQ_U64 (zkv_msg_decode (buf, len, &out), 0);
    CHECK_EQ_U64 (out.u.append_entries.entries.count, ZKV_MSG_MAX_ENTRIES);
    zkv_msg_free (&out);
    free (buf);
    zkv_msg_free (&msg);

    zkv_entry_t one = {0};
    msg = (zkv_msg_t){.type = ZKV_MSG_APPEND_ENTRIES};
    entries->count = ZKV_MSG_MAX_ENTRIES + 1;
    entries->items = &one; // not read: the count is refused first
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), ZKV_ETOOBIG);
    CHECK (buf == NULL && len == 0);
}

// Oversized inputs and fields are refused by length alone; the encoder refuses what the decoder
// would refuse.
static void
test_size_limits (void)
{
    size_t big = (size_t)ZKV_MSG_MAX_BYTES + 1;
    uint8_t *buf = calloc (big, 1);
    zkv_msg_t msg;
    CHECK_EQ_U64 (zkv_msg_decode (buf, big, &msg), ZKV_ETOOBIG);
    CHECK (s_is_zeroed (&msg));

    msg = (zkv_msg_t){.type = ZKV_MSG_INSTALL_SNAPSHOT};
    msg.u.install_snapshot.data.data = buf;
    msg.u.install_snapshot.data.len = ZKV_MSG_MAX_FIELD_BYTES + 1;
    uint8_t *enc;
    size_t len;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), ZKV_ETOOBIG);
    // At the limit it goes through both ways.
    msg.u.install_snapshot.data.len = ZKV_MSG_MAX_FIELD_BYTES;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), 0);
    zkv_msg_t out;
    CHECK_EQ_U64 (zkv_msg_decode (enc, len, &out), 0);
    CHECK_EQ_U64 (out.u.install_snapshot.data.len, ZKV_MSG_MAX_FIELD_BYTES);
    zkv_msg_free (&out);
    free (enc);
    // Entries under the field limit whose sum passes the message limit: refused up front.
    zkv_entry_t fat[3];
    for (int i = 0; i < 3; i++)
        fat[i] = (zkv_entry_t){
            .term = 1, .index = (uint64_t)i + 1, .data = {buf, ZKV_MSG_MAX_FIELD_BYTES}};
    msg = (zkv_msg_t){.type = ZKV_MSG_APPEND_ENTRIES};
    msg.u.append_entries.entries = (zkv_entries_t){fat, 3};
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), ZKV_ETOOBIG);
    CHECK (enc == NULL && len == 0);
    free (buf);

    zkv_entry_t bad = {.term = 1, .index = 1, .type = 9};
    msg = (zkv_msg_t){.type = ZKV_MSG_APPEND_ENTRIES};
    msg.u.append_entries.entries = (zkv_entries_t){&bad, 1};
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), ZKV_EINVAL);
    msg = (zkv_msg_t){.type = ZKV_MSG_NONE};
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), ZKV_ETYPE);
    msg.type = (zkv_msg_type_t)99;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), ZKV_ETYPE);
}

// Trailing bytes after a complete message are refused, and what was decoded is freed.
static void
test_trailing_garbage (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        zkv_msg_t msg;
        s_sample (s_types[t], 3, &msg);
        uint8_t *buf;
        size_t len;
        CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
        uint8_t *longer = malloc (2 * len);
        memcpy (longer, buf, len);
        memcpy (longer + len, buf, len); // a second whole message
        CHECK_EQ_U64 (s_decode_raw ((char *)longer, len + 1), ZKV_EPROTO);
        CHECK_EQ_U64 (s_decode_raw ((char *)longer, 2 * len), ZKV_EPROTO);
        longer[len] = 0xc1; // never-used msgpack byte
        CHECK_EQ_U64 (s_decode_raw ((char *)longer, len + 1), ZKV_EPROTO);
        free (longer);
        free (buf);
        zkv_msg_free (&msg);
    }
}

static void
test_empty_and_tiny_input (void)
{
    zkv_msg_t msg;
    CHECK_EQ_U64 (zkv_msg_decode (NULL, 0, &msg), ZKV_ETRUNC);
    CHECK (s_is_zeroed (&msg));
    CHECK_EQ_U64 (s_decode_raw ("", 0), ZKV_ETRUNC);
    CHECK_EQ_U64 (zkv_msg_decode (NULL, 5, &msg), ZKV_EINVAL);
    CHECK_EQ_U64 (s_decode_raw ("\x90", 1), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_raw ("\x91\x01\x00\x00\x00\x00\x00", 7), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_raw ("\x92", 1), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_raw ("\x92" S_V, 2), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_raw ("\xc0", 1), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_raw ("\x81\x01\x01", 3), ZKV_EPROTO); // a map, not an array
    CHECK_EQ_U64 (s_decode_raw ("\xdd\x00", 2), ZKV_ETRUNC);
    for (int b = 0; b < 256; b++) {
        char one = (char)b;
        CHECK (s_decode_raw (&one, 1) < 0);
    }
}

// Integers written in wider or signed formats by other encoders decode to the same value.
static void
test_other_int_encodings (void)
{
    // request_vote_reply [1, 2, group, from, to, term, pre_vote, granted] with group written
    // as uint64, from as int8, to as int64, term as uint16.
    const char raw[] = "\x98" S_V "\x02\xcf\x00\x00\x00\x00\x00\x00\x00\x05\xd0\x06"
                       "\xd3\x00\x00\x00\x00\x00\x00\x00\x07\xcd\x00\x08\xc2\xc3";
    zkv_msg_t msg;
    CHECK_EQ_U64 (s_decode_exact ((const uint8_t *)raw, sizeof raw - 1, &msg), 0);
    CHECK_EQ_U64 (msg.type, ZKV_MSG_REQUEST_VOTE_REPLY);
    CHECK_EQ_U64 (msg.u.request_vote_reply.group, 5);
    CHECK_EQ_U64 (msg.u.request_vote_reply.from, 6);
    CHECK_EQ_U64 (msg.u.request_vote_reply.to, 7);
    CHECK_EQ_U64 (msg.u.request_vote_reply.term, 8);
    CHECK (!msg.u.request_vote_reply.pre_vote);
    CHECK (msg.u.request_vote_reply.granted);
    CHECK_EQ_U64 (msg.u.hdr.term, 8); // the common header reads the same fields
    zkv_msg_free (&msg);
    // A negative value in a signed format is refused.
    char neg[sizeof raw];
    memcpy (neg, raw, sizeof raw);
    neg[13] = (char)0xfa; // int8 -6
    CHECK_EQ_U64 (s_decode_raw (neg, sizeof raw - 1), ZKV_EPROTO);
    memcpy (neg, raw, sizeof raw);
    neg[15] = (char)0x80; // int64 with the sign bit
    CHECK_EQ_U64 (s_decode_raw (neg, sizeof raw - 1), ZKV_EPROTO);
}

// Seeded random garbage: raw bytes; bytes behind a valid-looking header so they get past it; and
// valid encodings with a few random bytes overwritten, so that many inputs decode deep.
static void
test_random_garbage (void)
{
    enum { ROUNDS = 150000 };
    uint64_t rng = s_seed (20240601);
    uint8_t buf[512];
    size_t decoded = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t len = s_rand (&rng) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)s_rand (&rng);
        zkv_msg_type_t type = s_types[s_rand (&rng) % S_NTYPES];
        if (round % 3 == 1 && len >= 3) {
            buf[0] = (uint8_t)(0x90 | (2 + s_nfields (type)));
            buf[1] = ZKV_PROTOCOL_VERSION;
            buf[2] = (uint8_t)type;
        } else if (round % 3 == 2) {
            zkv_msg_t msg;
            s_sample (type, s_rand (&rng), &msg);
            uint8_t *enc;
            CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), 0);
            zkv_msg_free (&msg);
            len = len < sizeof buf ? len : sizeof buf;
            memcpy (buf, enc, len);
            free (enc);
            for (uint64_t n = 1 + s_rand (&rng) % 3; n > 0 && len; n--)
                buf[s_rand (&rng) % len] = (uint8_t)s_rand (&rng);
        }
        int rc = s_decode_hostile (buf, len);
        if (rc == 1)
            fprintf (stderr, "round %d: bad outcome\n", round);
        CHECK (rc != 1);
        decoded += rc == 0;
    }
    printf ("     random garbage: %zu of %d inputs decoded\n", decoded, (int)ROUNDS);
    CHECK (decoded > 0);
}

// Field names of a row, in table order, NULL-terminated.
static const char *const *
s_field_names (zkv_msg_type_t type)
{
    switch (type) {
#define S_FIELD(type, field, doc) #field,
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        static const char *const names[] = {fields (S_FIELD) NULL};                                \
        return names;                                                                              \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        return NULL;
    }
}

// The header rule: every Raft message (id below ZKV_MSG_FIRST_CLIENT_ID) starts with group,
// from, to, term, and msg.u.hdr reads them; the client protocol is not Raft.
static void
test_raft_header_rule (void)
{
    static const char *const header[] = {"group", "from", "to", "term"};
    size_t raft = 0;
    for (size_t t = 0; t < S_NTYPES; t++) {
        const char *const *names = s_field_names (s_types[t]);
        CHECK (names != NULL);
        bool is_raft = (int)s_types[t] < ZKV_MSG_FIRST_CLIENT_ID;
        CHECK (zkv_msg_is_raft (s_types[t]) == is_raft);
        if (!is_raft)
            continue;
        raft++;
        for (size_t f = 0; f < 4; f++) {
            CHECK (names[f] != NULL);
            if (strcmp (names[f], header[f]) != 0)
                fprintf (stderr, "%s: field %zu is %s, not %s\n", zkv_msg_name (s_types[t]), f,
                         names[f], header[f]);
            CHECK (strcmp (names[f], header[f]) == 0);
        }
        // The first four values on the wire are what u.hdr reads.
        zkv_msg_t msg, out;
        s_sample (s_types[t], 5, &msg);
        uint8_t *buf;
        size_t len;
        CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
        CHECK_EQ_U64 (zkv_msg_decode (buf, len, &out), 0);
        msgpack_unpacked un;
        msgpack_unpacked_init (&un);
        CHECK (msgpack_unpack_next (&un, (const char *)buf, len, NULL) == MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *o = un.data.via.array.ptr;
        CHECK_EQ_U64 (out.u.hdr.group, o[2].via.u64);
        CHECK_EQ_U64 (out.u.hdr.from, o[3].via.u64);
        CHECK_EQ_U64 (out.u.hdr.to, o[4].via.u64);
        CHECK_EQ_U64 (out.u.hdr.term, o[5].via.u64);
        msgpack_unpacked_destroy (&un);
        zkv_msg_free (&msg);
        zkv_msg_free (&out);
        free (buf);
    }
    CHECK_EQ_U64 (raft, 6);
    CHECK (!zkv_msg_is_raft (ZKV_MSG_NONE));
    CHECK (!zkv_msg_is_raft ((zkv_msg_type_t)19));
}

// The client protocol as the frontend uses it: named fields survive a round trip.
static void
test_client_protocol (void)
{
    zkv_msg_t msg = {.type = ZKV_MSG_FORWARD_REQUEST}, out;
    zkv_forward_request_t *f = &msg.u.forward_request;
    f->group = 3;
    f->origin_node = 2;
    f->fwd_id = 77;
    f->client_id = 1ull << 63;
    f->seq = 9;
    f->op = ZKV_OP_APPEND;
    zkv_bytes_set (&f->key, "k", 1);
    zkv_bytes_set (&f->value, "vv", 2);
    f->deadline_ms = 1500;
    uint8_t *buf;
    size_t len;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
    CHECK_EQ_U64 (zkv_msg_decode (buf, len, &out), 0);
    CHECK (s_diff (&msg, &out) == NULL);
    CHECK_EQ_U64 (out.u.forward_request.op, ZKV_OP_APPEND);
    CHECK_EQ_U64 (out.u.forward_request.deadline_ms, 1500);
    free (buf);
    zkv_msg_free (&out);
    zkv_msg_free (&msg);

    uint64_t groups[] = {0, 1, 2}, roles[] = {3, 0, 0};
    msg = (zkv_msg_t){.type = ZKV_MSG_STATUS_REPLY};
    zkv_status_reply_t *st = &msg.u.status_reply;
    st->node = 4;
    st->nonce = 12345;
    zkv_u64s_set (&st->groups, groups, 3);
    zkv_u64s_set (&st->roles, roles, 3);
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
    CHECK_EQ_U64 (zkv_msg_decode (buf, len, &out), 0);
    CHECK_EQ_U64 (out.u.status_reply.groups.count, 3);
    CHECK_EQ_U64 (out.u.status_reply.groups.items[2], 2);
    CHECK_EQ_U64 (out.u.status_reply.roles.items[0], 3);
    CHECK_EQ_U64 (out.u.status_reply.terms.count, 0);
    CHECK (out.u.status_reply.terms.items == NULL);
    CHECK (zkv_msg_size (&out) >= 2 * 3 * 8);
    free (buf);
    zkv_msg_free (&out);
    zkv_msg_free (&msg);
}

// status_reply [3, 24, node, nonce] followed by the test's first U64S field, 10 empty ones, a zero
// nshards and empty shard states, a zero uptime, an empty version, 3 empty follower lists and an
// empty event endpoint.
static int
s_decode_status (const char *u64s, size_t len)
{
    char raw[64];
    size_t n = 0;
    raw[n++] = (char)0xdc; // array 16: more than a fixarray's 15 elements
    raw[n++] = 0x00;
    raw[n++] = (char)(2 + s_nfields (ZKV_MSG_STATUS_REPLY));
    raw[n++] = ZKV_PROTOCOL_VERSION;
    raw[n++] = ZKV_MSG_STATUS_REPLY;
    raw[n++] = 0x05;
    raw[n++] = 0x06;
    memcpy (raw + n, u64s, len);
    n += len;
    for (int i = 0; i < 10; i++)
        raw[n++] = (char)0x90;
    raw[n++] = 0x00;
    raw[n++] = (char)0xc4;
    raw[n++] = 0x00;
    raw[n++] = 0x00;
    raw[n++] = (char)0xc4;
    raw[n++] = 0x00;
    for (int i = 0; i < 3; i++)
        raw[n++] = (char)0x90;
    raw[n++] = (char)0xc4; // events: empty bytes
    raw[n++] = 0x00;
    return s_decode_raw (raw, n);
}

static void
test_u64s_hostile (void)
{
    CHECK_EQ_U64 (s_nfields (ZKV_MSG_STATUS_REPLY), 21);
    CHECK_EQ_U64 (s_decode_status ("\x90", 1), 0);
    CHECK_EQ_U64 (s_decode_status ("\x91\x07", 2), 0);
    CHECK_EQ_U64 (s_decode_status ("\x92\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xd0\x05", 12), 0);
    CHECK_EQ_U64 (s_decode_status ("\x91\xff", 2), ZKV_EPROTO); // -1
    CHECK_EQ_U64 (s_decode_status ("\x91\xd0\x80", 3), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_status ("\x91\xa1z", 3), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_status ("\x91\xc0", 2), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_status ("\x91\xc3", 2), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_status ("\x91\x90", 2), ZKV_EPROTO);
    CHECK_EQ_U64 (s_decode_status ("\xc4\x00", 2), ZKV_EPROTO); // bin, not array
    // Two values read, the third is an array header: what was decoded is freed (ASan).
    CHECK_EQ_U64 (s_decode_status ("\x93\x01\x02", 3), ZKV_EPROTO);
    // Counts the input cannot hold, or over the limit, are refused before allocating.
    CHECK_EQ_U64 (s_decode_status ("\xdc\xff\xff", 3), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_status ("\xdd\x00\x10\x00\x00", 5), ZKV_ETRUNC);
    CHECK_EQ_U64 (s_decode_status ("\xdd\x00\x10\x00\x01", 5), ZKV_ETOOBIG);
    CHECK_EQ_U64 (s_decode_status ("\xdd\xff\xff\xff\xff", 5), ZKV_ETOOBIG);

    // Exactly ZKV_MSG_MAX_U64S values go through both ways; one more is refused.
    zkv_msg_t msg = {.type = ZKV_MSG_STATUS_REPLY}, out;
    zkv_u64s_t *v = &msg.u.status_reply.log_bytes;
    v->count = ZKV_MSG_MAX_U64S;
    v->items = calloc (v->count, sizeof (uint64_t));
    v->items[v->count - 1] = UINT64_MAX;
    uint8_t *buf;
    size_t len;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), 0);
    CHECK_EQ_U64 (s_decode_exact (buf, len, &out), 0);
    CHECK_EQ_U64 (out.u.status_reply.log_bytes.count, ZKV_MSG_MAX_U64S);
    CHECK_EQ_U64 (out.u.status_reply.log_bytes.items[ZKV_MSG_MAX_U64S - 1], UINT64_MAX);
    zkv_msg_free (&out);
    free (buf);
    v->count++;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &buf, &len), ZKV_ETOOBIG);
    CHECK (buf == NULL && len == 0);
    v->count--;
    zkv_msg_free (&msg);
}

// ---------------------------------------------------------------------------------------------
// zkv_msg_decode_prefix: one message off the front of a sequence (KV snapshot streams).

// Decodes the front of an exact-size heap copy (ASan catches a read past len). Checks the
// contract on the way: on error *msg zeroed and *used 0; on success 0 < *used <= len.
static int
s_prefix_exact (const uint8_t *buf, size_t len, zkv_msg_t *msg, size_t *used)
{
    uint8_t *copy = malloc (len ? len : 1);
    if (len)
        memcpy (copy, buf, len);
    *used = 12345;
    int rc = zkv_msg_decode_prefix (copy, len, msg, used);
    free (copy);
    if (rc < 0 && (!s_is_zeroed (msg) || *used != 0))
        return 1;
    if (rc == 0 && (*used == 0 || *used > len))
        return 1;
    return rc;
}

// Encodes a sample of every type, back to back: the sequence, and each message's end offset.
static uint8_t *
s_sequence (uint64_t seed, size_t *len_p, size_t ends[S_NTYPES])
{
    uint8_t *all = NULL;
    size_t len = 0;
    for (size_t t = 0; t < S_NTYPES; t++) {
        zkv_msg_t msg;
        s_sample (s_types[t], seed + t, &msg);
        uint8_t *buf;
        size_t n;
        int rc = zkv_msg_encode (&msg, &buf, &n);
        assert (rc == 0);
        (void)rc;
        all = realloc (all, len + n);
        memcpy (all + len, buf, n);
        len += n;
        ends[t] = len;
        free (buf);
        zkv_msg_free (&msg);
    }
    *len_p = len;
    return all;
}

// Every message of a sequence decodes in turn, each reporting exactly its own length; a cut
// anywhere inside one is ZKV_ETRUNC (a chunk boundary that is not a message boundary), never
// an over-read, and the messages before the cut still decode.
static void
test_prefix_sequence_and_truncation (void)
{
    for (uint64_t seed = 0; seed < 3; seed++) {
        size_t ends[S_NTYPES], len;
        uint8_t *all = s_sequence (100 * seed, &len, ends);
        size_t off = 0;
        for (size_t t = 0; t < S_NTYPES; t++) {
            zkv_msg_t msg, want;
            size_t used;
            CHECK_EQ_U64 (s_prefix_exact (all + off, len - off, &msg, &used), 0);
            CHECK_EQ_U64 (off + used, ends[t]);
            s_sample (s_types[t], 100 * seed + t, &want);
            CHECK (s_diff (&want, &msg) == NULL);
            zkv_msg_free (&want);
            zkv_msg_free (&msg);
            // The same bytes alone are one whole message for zkv_msg_decode too.
            CHECK_EQ_U64 (s_decode_exact (all + off, used, &msg), 0);
            zkv_msg_free (&msg);
            // Every cut inside this message: truncated, whatever the type.
            for (size_t cut = off; cut < ends[t]; cut++) {
                int rc = s_prefix_exact (all + off, cut - off, &msg, &used);
                if (rc != ZKV_ETRUNC)
                    fprintf (stderr, "%s cut at %zu of %zu: %s\n", zkv_msg_name (s_types[t]),
                             cut - off, ends[t] - off, zkv_errname (rc));
                CHECK_EQ_U64 (rc, ZKV_ETRUNC);
            }
            off = ends[t];
        }
        CHECK_EQ_U64 (off, len);
        free (all);
    }
}

// Two messages back to back: the first decodes and leaves the second alone, which zkv_msg_decode
// refuses as trailing bytes; the second decodes from where the first ended.
static void
test_prefix_back_to_back (void)
{
    for (size_t t = 0; t < S_NTYPES; t++) {
        zkv_msg_t a, b, out;
        s_sample (s_types[t], 1, &a);
        s_sample (s_types[(t + 1) % S_NTYPES], 2, &b);
        uint8_t *ea, *eb;
        size_t la, lb, used;
        CHECK_EQ_U64 (zkv_msg_encode (&a, &ea, &la), 0);
        CHECK_EQ_U64 (zkv_msg_encode (&b, &eb, &lb), 0);
        uint8_t *two = malloc (la + lb + 1);
        memcpy (two, ea, la);
        memcpy (two + la, eb, lb);
        CHECK_EQ_U64 (s_decode_exact (two, la + lb, &out), ZKV_EPROTO);
        CHECK (s_is_zeroed (&out));
        CHECK_EQ_U64 (s_prefix_exact (two, la + lb, &out, &used), 0);
        CHECK_EQ_U64 (used, la);
        CHECK (s_diff (&a, &out) == NULL);
        zkv_msg_free (&out);
        CHECK_EQ_U64 (s_prefix_exact (two + la, lb, &out, &used), 0);
        CHECK_EQ_U64 (used, lb);
        CHECK (s_diff (&b, &out) == NULL);
        zkv_msg_free (&out);
        // Trailing garbage is not looked at: one byte msgpack never uses, or a lone array header.
        two[la] = 0xc1;
        CHECK_EQ_U64 (s_prefix_exact (two, la + 1, &out, &used), 0);
        CHECK_EQ_U64 (used, la);
        zkv_msg_free (&out);
        CHECK_EQ_U64 (s_prefix_exact (two + la, 1, &out, &used), ZKV_EPROTO);
        two[la] = 0xdd;
        CHECK_EQ_U64 (s_prefix_exact (two + la, 1, &out, &used), ZKV_ETRUNC);
        free (two);
        free (ea);
        free (eb);
        zkv_msg_free (&a);
        zkv_msg_free (&b);
    }
    zkv_msg_t out;
    size_t used = 7;
    CHECK_EQ_U64 (zkv_msg_decode_prefix (NULL, 0, &out, &used), ZKV_ETRUNC);
    CHECK (s_is_zeroed (&out) && used == 0);
    CHECK_EQ_U64 (zkv_msg_decode_prefix (NULL, 3, &out, &used), ZKV_EINVAL);
    CHECK (s_is_zeroed (&out) && used == 0);
}

// Garbage, raw or behind a valid header or in a valid encoding with bytes overwritten, and
// with more garbage after it: either an error (zeroed, used 0), or a message of `used` bytes
// that zkv_msg_decode reads identically from those bytes alone. zkv_msg_decode accepts the
// whole input exactly when the prefix is all of it.
static void
test_prefix_garbage (void)
{
    enum { ROUNDS = 60000 };
    uint64_t rng = s_seed (20250117);
    uint8_t buf[512];
    size_t decoded = 0, partial = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t len = s_rand (&rng) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)s_rand (&rng);
        zkv_msg_type_t type = s_types[s_rand (&rng) % S_NTYPES];
        if (round % 3 == 1 && len >= 3) {
            buf[0] = (uint8_t)(0x90 | (2 + s_nfields (type)));
            buf[1] = ZKV_PROTOCOL_VERSION;
            buf[2] = (uint8_t)type;
        } else if (round % 3 == 2) {
            zkv_msg_t msg;
            s_sample (type, s_rand (&rng), &msg);
            uint8_t *enc;
            size_t n;
            CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &n), 0);
            zkv_msg_free (&msg);
            n = n < sizeof buf ? n : sizeof buf;
            memcpy (buf, enc, n);
            free (enc);
            for (uint64_t k = s_rand (&rng) % 3; k > 0 && n; k--)
                buf[s_rand (&rng) % n] = (uint8_t)s_rand (&rng);
            len = n + s_rand (&rng) % (sizeof buf - n + 1); // garbage after it, or none
        }
        zkv_msg_t msg, whole, again;
        size_t used;
        int rc = s_prefix_exact (buf, len, &msg, &used);
        CHECK (rc != 1);
        int whole_rc = s_decode_exact (buf, len, &whole);
        if (whole_rc == 0)
            zkv_msg_free (&whole);
        CHECK ((whole_rc == 0) == (rc == 0 && used == len));
        if (rc < 0)
            continue;
        decoded++;
        partial += used < len;
        CHECK_EQ_U64 (s_decode_exact (buf, used, &again), 0);
        CHECK (s_diff (&msg, &again) == NULL);
        zkv_msg_free (&again);
        zkv_msg_free (&msg);
    }
    printf ("     prefix garbage: %zu of %d inputs decoded, %zu with bytes after\n", decoded,
            (int)ROUNDS, partial);
    CHECK (decoded > 0 && partial > 0);
}

// A sequence may be longer than ZKV_MSG_MAX_BYTES; one message may not. The bytes after a
// message are not read; a message that needs more than the limit is ZKV_ETOOBIG, not
// ZKV_ETRUNC, and allocates no more than the limit lets it.
static void
test_prefix_long_input (void)
{
    size_t big = (size_t)ZKV_MSG_MAX_BYTES + 64;
    uint8_t *buf = calloc (big, 1);
    zkv_msg_t msg = {.type = ZKV_MSG_STATUS_REQUEST}, out;
    msg.u.status_request.nonce = 42;
    uint8_t *enc;
    size_t len, used;
    CHECK_EQ_U64 (zkv_msg_encode (&msg, &enc, &len), 0);
    memcpy (buf, enc, len);
    free (enc);
    CHECK_EQ_U64 (zkv_msg_decode (buf, big, &out), ZKV_ETOOBIG);
    CHECK_EQ_U64 (zkv_msg_decode_prefix (buf, big, &out, &used), 0);
    CHECK_EQ_U64 (used, len);
    CHECK_EQ_U64 (out.u.status_request.nonce, 42);
    zkv_msg_free (&out);

    // client_request [1, 20, client_id, seq, op, key, value, deadline] whose key and value are
    // each a bin32 at the field limit: more than one message may hold.
    size_t n = 0;
    buf[n++] = (uint8_t)(0x90 | (2 + s_nfields (ZKV_MSG_CLIENT_REQUEST)));
    buf[n++] = ZKV_PROTOCOL_VERSION;
    buf[n++] = ZKV_MSG_CLIENT_REQUEST;
    buf[n++] = 1;
    buf[n++] = 1;
    buf[n++] = ZKV_OP_PUT;
    for (int field = 0; field < 2; field++) {
        buf[n++] = 0xc6;
        buf[n++] = (uint8_t)(ZKV_MSG_MAX_FIELD_BYTES >> 24);
        buf[n++] = (uint8_t)(ZKV_MSG_MAX_FIELD_BYTES >> 16);
        buf[n++] = (uint8_t)(ZKV_MSG_MAX_FIELD_BYTES >> 8);
        buf[n++] = (uint8_t)ZKV_MSG_MAX_FIELD_BYTES;
        n += ZKV_MSG_MAX_FIELD_BYTES;
    }
    buf[n++] = 0;
    CHECK (n <= big);
    used = 1;
    CHECK_EQ_U64 (zkv_msg_decode_prefix (buf, big, &out, &used), ZKV_ETOOBIG);
    CHECK (s_is_zeroed (&out) && used == 0);
    // Cut inside its first field, it is just truncated.
    CHECK_EQ_U64 (zkv_msg_decode_prefix (buf, 100, &out, &used), ZKV_ETRUNC);
    free (buf);
}

// Every event type's time_ms is found; a message that is no event has none.
static void
test_event_time (void)
{
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_NODE};
    m.u.event_node.time_ms = 11;
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 11);
    m = (zkv_msg_t){.type = ZKV_MSG_EVENT_RAFT};
    m.u.event_raft.time_ms = 12;
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 12);
    m = (zkv_msg_t){.type = ZKV_MSG_EVENT_CLIENT_ERROR};
    m.u.event_client_error.time_ms = 13;
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 13);
    m = (zkv_msg_t){.type = ZKV_MSG_EVENT_SHARD};
    m.u.event_shard.time_ms = 14;
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 14);
    m = (zkv_msg_t){.type = ZKV_MSG_EVENT_STATS};
    m.u.event_stats.time_ms = 15;
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 15);
    m = (zkv_msg_t){.type = ZKV_MSG_KV_CLOCK};
    CHECK_EQ_U64 (zkv_msg_event_time_ms (&m), 0);
}

// zkv_msg_visit calls the visitor once per field, in table order, with its name and type.
static void
s_visit_u64 (void *arg, const char *name, uint64_t v)
{
    char *out = arg;
    snprintf (out + strlen (out), 256 - strlen (out), "%s=%" PRIu64 ";", name, v);
}

static void
s_visit_bool (void *arg, const char *name, bool v)
{
    char *out = arg;
    snprintf (out + strlen (out), 256 - strlen (out), "%s?%d;", name, v);
}

static void
s_visit_bytes (void *arg, const char *name, const zkv_bytes_t *v)
{
    char *out = arg;
    snprintf (out + strlen (out), 256 - strlen (out), "%s'%zu;", name, v->len);
}

static void
s_visit_u64s (void *arg, const char *name, const zkv_u64s_t *v)
{
    char *out = arg;
    snprintf (out + strlen (out), 256 - strlen (out), "%s#%zu;", name, v->count);
}

static void
s_visit_entries (void *arg, const char *name, const zkv_entries_t *v)
{
    char *out = arg;
    snprintf (out + strlen (out), 256 - strlen (out), "%s[%zu;", name, v->count);
}

static void
test_visit_fields (void)
{
    static const zkv_msg_visitor_t visitor = {
        .u64 = s_visit_u64,
        .boolean = s_visit_bool,
        .bytes = s_visit_bytes,
        .u64s = s_visit_u64s,
        .entries = s_visit_entries,
    };
    uint64_t groups[] = {0, 1};
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_NODE};
    m.u.event_node = (zkv_event_node_t){.node = 1, .time_ms = 2, .pid = 3};
    m.u.event_node.groups = (zkv_u64s_t){.items = groups, .count = 2};
    char out[256] = "";
    zkv_msg_visit (&m, &visitor, out);
    CHECK (strcmp (out, "node=1;time_ms=2;groups#2;pid=3;") == 0);
    // BYTES, BOOL and ENTRIES, at the end of their rows.
    m = (zkv_msg_t){.type = ZKV_MSG_EVENT_CLIENT_ERROR};
    m.u.event_client_error.error = (zkv_bytes_t){(uint8_t *)"busy", 4};
    out[0] = '\0';
    zkv_msg_visit (&m, &visitor, out);
    CHECK (strlen (out) > 8 && strcmp (out + strlen (out) - 8, "error'4;") == 0);
    m = (zkv_msg_t){.type = ZKV_MSG_REQUEST_VOTE_REPLY};
    m.u.request_vote_reply.pre_vote = true;
    out[0] = '\0';
    zkv_msg_visit (&m, &visitor, out);
    CHECK (strstr (out, "pre_vote?1;granted?0;") != NULL);
    m = (zkv_msg_t){.type = ZKV_MSG_APPEND_ENTRIES};
    out[0] = '\0';
    zkv_msg_visit (&m, &visitor, out);
    CHECK (strstr (out, "commit=0;ctx=0;entries[0;") != NULL);
    // A type outside the table visits nothing.
    m.type = (zkv_msg_type_t)250;
    out[0] = '\0';
    zkv_msg_visit (&m, &visitor, out);
    CHECK (out[0] == '\0');
}

ZKV_TEST_MAIN (TEST (test_round_trip) TEST (test_truncate_everywhere) TEST (test_mutate_every_byte)
                   TEST (test_wrong_version) TEST (test_unknown_type)
                       TEST (test_wrong_field_types_and_arity) TEST (test_entries_hostile)
                           TEST (test_huge_counts) TEST (test_size_limits)
                               TEST (test_trailing_garbage) TEST (test_empty_and_tiny_input)
                                   TEST (test_other_int_encodings) TEST (test_random_garbage)
                                       TEST (test_raft_header_rule) TEST (test_client_protocol)
                                           TEST (test_u64s_hostile)
                                               TEST (test_prefix_sequence_and_truncation)
                                                   TEST (test_prefix_back_to_back)
                                                       TEST (test_prefix_garbage)
                                                           TEST (test_prefix_long_input) TEST (test_event_time) TEST (test_visit_fields))
