// libFuzzer target for the message decoder: anything it accepts must re-encode and decode back.
//
// Built with clang -fsanitize=fuzzer,address,undefined by tools/fuzz.sh (ZKV_FUZZ=ON); also
// linked with fuzz_replay.c into a plain driver that replays files in any build.
#include "zkv_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

// A broken property is a crash, so libFuzzer saves the input.
static void
s_fail (const char *what)
{
    fprintf (stderr, "fuzz_decode: %s\n", what);
    abort ();
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

// Field-by-field equality, expanded from the table.
static bool
s_equal (const zkv_msg_t *a, const zkv_msg_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
#define S_FIELD(type, field, doc)                                                                  \
    if (!s_eq_##type (&x->field, &y->field))                                                       \
        return false;
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *x = &a->u.name, *y = &b->u.name;                                     \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        return false;
    }
    return true;
}

static bool
s_is_zeroed (const zkv_msg_t *msg)
{
    static const zkv_msg_t zero;
    return memcmp (msg, &zero, sizeof zero) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zkv_msg_t first, second;
    int rc = zkv_msg_decode (data, size, &first);
    if (rc != 0) {
        if (rc > 0)
            s_fail ("decode returned a positive code");
        if (!s_is_zeroed (&first))
            s_fail ("failed decode left the message non-empty");
        return 0;
    }
    uint8_t *buf, *buf2;
    size_t len, len2;
    if (zkv_msg_encode (&first, &buf, &len) != 0)
        s_fail ("a decoded message does not encode");
    // The encoder writes every value in its shortest form; the decoder accepts wider forms only.
    if (len > size)
        s_fail ("re-encoding is longer than the input");
    if (zkv_msg_decode (buf, len, &second) != 0)
        s_fail ("a re-encoded message does not decode");
    if (!s_equal (&first, &second))
        s_fail ("the two decodes differ");
    if (zkv_msg_encode (&second, &buf2, &len2) != 0 || len2 != len || memcmp (buf, buf2, len))
        s_fail ("encoding is not stable");
    free (buf);
    free (buf2);
    zkv_msg_free (&first);
    zkv_msg_free (&second);
    return 0;
}
