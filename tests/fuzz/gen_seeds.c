// Writes a seed corpus for the decoder fuzzer: valid encodings of every message in the table.
//
//     zkv_fuzz_seeds DIR   writes DIR/<message>-<n>.bin (DIR must exist)
#include "zkv_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SEEDS_PER_TYPE 6

typedef struct {
    uint64_t rng; // xorshift64 state, never 0
    int variant;  // 0: everything empty or zero, 1: maximal integers, else random
} s_gen_t;

static uint64_t
s_rand (s_gen_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

static void
s_gen_U64 (s_gen_t *g, uint64_t *v)
{
    *v = g->variant == 0 ? 0 : g->variant == 1 ? UINT64_MAX : s_rand (g) >> (s_rand (g) % 64);
}
static void
s_gen_BOOL (s_gen_t *g, bool *v)
{
    *v = g->variant == 1 || (g->variant > 1 && (s_rand (g) & 1));
}
static void
s_gen_BYTES (s_gen_t *g, zkv_bytes_t *v)
{
    // Small payloads keep the seeds short; one seed per type gets a bin16-sized payload.
    size_t len = g->variant == 0 ? 0 : g->variant == 2 ? 300 : s_rand (g) % 12;
    uint8_t tmp[300] = {0};  // zeroed: gcc -O3 cannot see len <= 300 covers what is read
    for (size_t i = 0; i < len; i++)
        tmp[i] = (uint8_t)s_rand (g);
    zkv_bytes_set (v, tmp, len);
}
static void
s_gen_U64S (s_gen_t *g, zkv_u64s_t *v)
{
    // variant 2 gets an array16-sized count, like its bin16-sized payload.
    size_t count = g->variant == 0 ? 0 : g->variant == 2 ? 20 : 1 + s_rand (g) % 5;
    uint64_t tmp[20];
    for (size_t i = 0; i < count; i++)
        s_gen_U64 (g, &tmp[i]);
    zkv_u64s_set (v, tmp, count);
}
static void
s_gen_ENTRIES (s_gen_t *g, zkv_entries_t *v)
{
    v->count = g->variant == 0 ? 0 : 1 + s_rand (g) % 4;
    v->items = v->count ? calloc (v->count, sizeof (zkv_entry_t)) : NULL;
    if (v->count && !v->items)
        abort ();
    for (size_t i = 0; i < v->count; i++) {
        s_gen_U64 (g, &v->items[i].term);
        s_gen_U64 (g, &v->items[i].index);
        v->items[i].type = i % 2 ? ZKV_ENTRY_NOOP : ZKV_ENTRY_NORMAL;
        s_gen_BYTES (g, &v->items[i].data);
    }
}

// Builds one message of a table row, encodes it and writes it to dir.
static int
s_write (const char *dir, zkv_msg_type_t type, int variant)
{
    s_gen_t g = {0x9E3779B97F4A7C15ULL * (uint64_t)(variant + 1) + (uint64_t)type, variant};
    zkv_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = type;
    switch (type) {
#define S_FIELD(type, field, doc) s_gen_##type (&g, &m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        zkv_##name##_t *m = &msg.u.name;                                                           \
        fields (S_FIELD) break;                                                                    \
    }
        ZKV_MSG_TABLE (S_CASE)
#undef S_CASE
#undef S_FIELD
    default:
        break;
    }
    uint8_t *buf;
    size_t len;
    int rc = zkv_msg_encode (&msg, &buf, &len);
    zkv_msg_free (&msg);
    if (rc)
        return rc;
    char path[4096];
    snprintf (path, sizeof path, "%s/%s-%d.bin", dir, zkv_msg_name (type), variant);
    FILE *file = fopen (path, "wb");
    int ok = file && fwrite (buf, 1, len, file) == len;
    if (file)
        ok &= fclose (file) == 0;
    free (buf);
    if (!ok)
        fprintf (stderr, "zkv_fuzz_seeds: cannot write %s\n", path);
    return ok ? 0 : ZKV_EIO;
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: zkv_fuzz_seeds DIR\n");
        return 2;
    }
    static const zkv_msg_type_t types[] = {
#define S_TYPE(id, name, NAME, fields) ZKV_MSG_##NAME,
        ZKV_MSG_TABLE (S_TYPE)
#undef S_TYPE
    };
    int written = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int variant = 0; variant < S_SEEDS_PER_TYPE; variant++) {
            if (s_write (argv[1], types[t], variant) != 0)
                return 1;
            written++;
        }
    printf ("zkv_fuzz_seeds: %d seeds in %s\n", written, argv[1]);
    return 0;
}
