// Routing configurations (zkv_routing.h): dealing shards, lookups, and config_reply messages
// checked as hostile input; and the u64 map (zkv_u64map.h) the frontend keeps its requests in,
// against a plain reference under random operations.
#include "zkv_test.h"

#include "zkv_routing.h"
#include "zkv_shard.h"
#include "zkv_u64map.h"

#include <assert.h>
#include <stdbool.h>

// ---------------------------------------------------------------------------------------------
// Routing

// Groups 0 (nodes 1 2 3), 1 (1 2 3), 3 (4 5), 7 (6): group 0 is the shard controller.
static zkv_routing_t *
s_routing (uint64_t num, uint32_t nshards)
{
    uint64_t ids[] = {0, 1, 3, 7}, sizes[] = {3, 3, 2, 1};
    uint64_t members[] = {1, 2, 3, 1, 2, 3, 4, 5, 6};
    zkv_routing_t *r = zkv_routing_new (num, nshards, ids, sizes, members, 4);
    assert (r);
    return r;
}

// FNV-1a 64, written out here: the shard function clients and servers must agree on.
static uint64_t
s_fnv (const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
test_routing_new_refuses_bad (void)
{
    uint64_t ids[] = {1, 2}, sizes[] = {1, 1}, members[] = {1, 2};
    uint64_t down[] = {2, 1}, same[] = {1, 1}, zero[] = {1, 0}, huge[] = {1, 1025};
    CHECK (zkv_routing_new (1, 0, ids, sizes, members, 2) == NULL);  // no shard
    CHECK (zkv_routing_new (1, 4, down, sizes, members, 2) == NULL); // ids descending
    CHECK (zkv_routing_new (1, 4, same, sizes, members, 2) == NULL); // ids repeated
    CHECK (zkv_routing_new (1, 4, ids, zero, members, 2) == NULL);   // an empty group
    CHECK (zkv_routing_new (1, 4, ids, huge, members, 2) == NULL);   // a huge one
    CHECK (zkv_routing_new (1, (1u << 20) + 1, ids, sizes, members, 2) == NULL);
    zkv_routing_t *r = zkv_routing_new (9, 4, ids, sizes, members, 2);
    CHECK (r);
    CHECK_EQ_U64 (r->num, 9);
    CHECK_EQ_U64 (r->nshards, 4);
    CHECK_EQ_U64 (r->n_members, 2);
    for (uint32_t s = 0; s < 4; s++)
        CHECK_EQ_U64 (r->shard_group[s], 0); // not dealt yet
    zkv_routing_destroy (&r);
    zkv_routing_destroy (&r); // idempotent
    CHECK (r == NULL);
}

// Shards are dealt in turn to the groups that serve keys, in id order; group 0 gets none.
static void
test_routing_deal (void)
{
    zkv_routing_t *r = s_routing (1, 10);
    zkv_routing_deal (r);
    static const uint64_t want[] = {1, 3, 7, 1, 3, 7, 1, 3, 7, 1};
    for (uint32_t s = 0; s < 10; s++)
        CHECK_EQ_U64 (r->shard_group[s], want[s]);
    bool owned[10];
    zkv_routing_owned (r, 0, owned);
    for (uint32_t s = 0; s < 10; s++)
        CHECK (!owned[s]);
    zkv_routing_owned (r, 3, owned);
    for (uint32_t s = 0; s < 10; s++)
        CHECK_EQ_U64 (owned[s], s % 3 == 1);
    zkv_routing_owned (r, 99, owned);
    for (uint32_t s = 0; s < 10; s++)
        CHECK (!owned[s]);
    zkv_routing_destroy (&r);

    // Only the controller: no shard has a group. No group at all: the same.
    uint64_t ids[] = {0}, sizes[] = {3}, members[] = {1, 2, 3};
    r = zkv_routing_new (1, 5, ids, sizes, members, 1);
    CHECK (r);
    zkv_routing_deal (r);
    for (uint32_t s = 0; s < 5; s++)
        CHECK_EQ_U64 (r->shard_group[s], 0);
    CHECK_EQ_U64 (zkv_routing_group_of (r, (const uint8_t *)"k", 1), 0);
    zkv_routing_destroy (&r);
    r = zkv_routing_new (1, 5, NULL, NULL, NULL, 0);
    CHECK (r);
    zkv_routing_deal (r);
    for (uint32_t s = 0; s < 5; s++)
        CHECK_EQ_U64 (r->shard_group[s], 0);
    zkv_routing_destroy (&r);
}

static void
test_routing_lookups (void)
{
    zkv_routing_t *r = s_routing (1, 10);
    zkv_routing_deal (r);
    // A key's shard is FNV-1a 64 mod nshards; its group the one dealt that shard.
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf (key, sizeof key, "key-%d", i);
        uint32_t shard = (uint32_t)(s_fnv (key) % 10);
        CHECK_EQ_U64 (zkv_shard_of ((const uint8_t *)key, strlen (key), 10), shard);
        CHECK_EQ_U64 (zkv_routing_shard_of (r, (const uint8_t *)key, strlen (key)), shard);
        CHECK_EQ_U64 (zkv_routing_group_of (r, (const uint8_t *)key, strlen (key)),
                      r->shard_group[shard]);
    }
    CHECK_EQ_U64 (zkv_fnv1a ((const uint8_t *)"", 0), 14695981039346656037ULL);
    CHECK_EQ_U64 (zkv_fnv1a ((const uint8_t *)"a", 1), 0xaf63dc4c8601ec8cULL);
    size_t n = 99;
    const uint64_t *m = zkv_routing_members (r, 3, &n);
    CHECK (m);
    CHECK_EQ_U64 (n, 2);
    CHECK_EQ_U64 (m[0], 4);
    CHECK_EQ_U64 (m[1], 5);
    m = zkv_routing_members (r, 7, &n);
    CHECK (m && n == 1 && m[0] == 6);
    m = zkv_routing_members (r, 0, &n);
    CHECK (m && n == 3 && m[0] == 1 && m[2] == 3);
    n = 99;
    CHECK (zkv_routing_members (r, 2, &n) == NULL);
    CHECK_EQ_U64 (n, 0);
    for (uint64_t node = 1; node <= 6; node++)
        CHECK (zkv_routing_has_node (r, node));
    CHECK (!zkv_routing_has_node (r, 0));
    CHECK (!zkv_routing_has_node (r, 7));
    zkv_routing_destroy (&r);
}

static bool
s_routing_eq (const zkv_routing_t *a, const zkv_routing_t *b)
{
    return a->num == b->num && a->nshards == b->nshards && a->n_groups == b->n_groups &&
           a->n_members == b->n_members &&
           memcmp (a->shard_group, b->shard_group, a->nshards * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_ids, b->group_ids, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_size, b->group_size, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->group_first, b->group_first, a->n_groups * sizeof (uint64_t)) == 0 &&
           memcmp (a->members, b->members, a->n_members * sizeof (uint64_t)) == 0;
}

static void
test_routing_dup (void)
{
    zkv_routing_t *r = s_routing (4, 10);
    zkv_routing_deal (r);
    r->shard_group[2] = 0;
    zkv_routing_t *d = zkv_routing_dup (r);
    bool same = s_routing_eq (r, d) && d->members != r->members && d->shard_group != r->shard_group;
    zkv_routing_destroy (&r);
    d->shard_group[0] = 7; // the copy is its own
    zkv_routing_destroy (&d);
    CHECK (same);
}

// A config_reply as a client would decode it: owned copies of r's arrays.
static void
s_reply_of (const zkv_routing_t *r, zkv_config_reply_t *out)
{
    zkv_config_reply_t borrowed = {0};
    zkv_routing_to_reply (r, &borrowed);
    memset (out, 0, sizeof *out);
    out->node = 2;
    out->nonce = 3;
    out->num = borrowed.num;
    zkv_u64s_set (&out->shard_groups, borrowed.shard_groups.items, borrowed.shard_groups.count);
    zkv_u64s_set (&out->group_ids, borrowed.group_ids.items, borrowed.group_ids.count);
    zkv_u64s_set (&out->group_sizes, borrowed.group_sizes.items, borrowed.group_sizes.count);
    zkv_u64s_set (&out->members, borrowed.members.items, borrowed.members.count);
}

static void
s_reply_free (zkv_config_reply_t *m)
{
    zkv_u64s_free (&m->shard_groups);
    zkv_u64s_free (&m->group_ids);
    zkv_u64s_free (&m->group_sizes);
    zkv_u64s_free (&m->members);
}

static void
test_routing_reply_round_trip (void)
{
    zkv_routing_t *r = s_routing (6, 10);
    zkv_routing_deal (r);
    r->shard_group[4] = 0; // a shard nobody serves is allowed
    zkv_config_reply_t m;
    s_reply_of (r, &m);
    CHECK_EQ_U64 (m.num, 6);
    CHECK_EQ_U64 (m.shard_groups.count, 10);
    CHECK_EQ_U64 (m.group_ids.count, 4);
    CHECK_EQ_U64 (m.group_sizes.count, 4);
    CHECK_EQ_U64 (m.members.count, 9);
    int err = -1;
    zkv_routing_t *back = zkv_routing_from_reply (&m, &err);
    bool same = back && s_routing_eq (back, r);
    zkv_routing_destroy (&back);
    zkv_routing_destroy (&r);
    s_reply_free (&m);
    CHECK_EQ_U64 (err, 0);
    CHECK (same);
}

// Each hostile change of a valid reply is refused with ZKV_EPROTO (and leaks nothing).
typedef void (*s_mutate_fn) (zkv_config_reply_t *m);

static void
m_num_zero (zkv_config_reply_t *m)
{
    m->num = 0;
}
static void
m_no_shards (zkv_config_reply_t *m)
{
    zkv_u64s_free (&m->shard_groups);
}
static void
m_too_many_shards (zkv_config_reply_t *m)
{
    zkv_u64s_free (&m->shard_groups);
    m->shard_groups.count = (1u << 20) + 1;
    m->shard_groups.items = calloc (m->shard_groups.count, sizeof (uint64_t));
}
static void
m_fewer_sizes (zkv_config_reply_t *m)
{
    m->group_sizes.count--;
}
static void
m_fewer_ids (zkv_config_reply_t *m)
{
    m->group_ids.count--;
}
static void
m_size_zero (zkv_config_reply_t *m)
{
    m->group_sizes.items[2] = 0;
    m->group_sizes.items[1] += 2; // the sum still matches
}
static void
m_size_huge (zkv_config_reply_t *m)
{
    m->group_sizes.items[3] = UINT64_MAX;
}
static void
m_size_wraps (zkv_config_reply_t *m)
{
    // Sizes whose sum wraps around to the member count in 64 bits.
    m->group_sizes.items[0] = (uint64_t)1 << 63;
    m->group_sizes.items[1] = ((uint64_t)1 << 63) + 3;
}
static void
m_size_over (zkv_config_reply_t *m)
{
    m->group_sizes.items[3] = 1025;
}
static void
m_sizes_more (zkv_config_reply_t *m)
{
    m->group_sizes.items[3] = 2; // sum 10, 9 members
}
static void
m_sizes_less (zkv_config_reply_t *m)
{
    m->group_sizes.items[0] = 2; // sum 8, 9 members
}
static void
m_members_more (zkv_config_reply_t *m)
{
    uint64_t more[10] = {1, 2, 3, 1, 2, 3, 4, 5, 6, 7};
    zkv_u64s_free (&m->members);
    zkv_u64s_set (&m->members, more, 10);
}
static void
m_ids_descending (zkv_config_reply_t *m)
{
    m->group_ids.items[2] = 9; // 0 1 9 7
}
static void
m_ids_repeated (zkv_config_reply_t *m)
{
    m->group_ids.items[2] = 1; // 0 1 1 7
}
static void
m_unknown_group (zkv_config_reply_t *m)
{
    m->shard_groups.items[5] = 2; // no group 2
}
static void
m_unknown_group_last (zkv_config_reply_t *m)
{
    m->shard_groups.items[m->shard_groups.count - 1] = UINT64_MAX;
}
static void
m_no_groups (zkv_config_reply_t *m)
{
    // No groups and no members, but shards still name groups.
    zkv_u64s_free (&m->group_ids);
    zkv_u64s_free (&m->group_sizes);
    zkv_u64s_free (&m->members);
}

static void
test_routing_reply_hostile (void)
{
    static const struct {
        const char *name; // what is wrong
        s_mutate_fn fn;   // makes it so
    } cases[] = {
        {"num 0", m_num_zero},
        {"no shards", m_no_shards},
        {"too many shards", m_too_many_shards},
        {"fewer sizes than ids", m_fewer_sizes},
        {"fewer ids than sizes", m_fewer_ids},
        {"a size 0", m_size_zero},
        {"a huge size", m_size_huge},
        {"sizes wrapping around", m_size_wraps},
        {"a size over the limit", m_size_over},
        {"sizes summing to more than the members", m_sizes_more},
        {"sizes summing to less than the members", m_sizes_less},
        {"more members than sizes say", m_members_more},
        {"ids not ascending", m_ids_descending},
        {"ids repeated", m_ids_repeated},
        {"a shard served by an unknown group", m_unknown_group},
        {"the last shard served by an unknown group", m_unknown_group_last},
        {"shards served by groups but no groups", m_no_groups},
    };
    zkv_routing_t *r = s_routing (6, 10);
    zkv_routing_deal (r);
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zkv_config_reply_t m;
        s_reply_of (r, &m);
        size_t ids = m.group_ids.count, sizes = m.group_sizes.count;
        cases[i].fn (&m);
        int err = 0;
        zkv_routing_t *got = zkv_routing_from_reply (&m, &err);
        if (got || err != ZKV_EPROTO) {
            fprintf (stderr, "accepted hostile config_reply: %s (err %d)\n", cases[i].name, err);
            failed++;
        }
        zkv_routing_destroy (&got);
        // Counts shortened by the mutation are restored so that every item is freed.
        m.group_ids.count = m.group_ids.items ? ids : 0;
        m.group_sizes.count = m.group_sizes.items ? sizes : 0;
        s_reply_free (&m);
    }
    zkv_routing_destroy (&r);
    CHECK_EQ_U64 (failed, 0);
}

// ---------------------------------------------------------------------------------------------
// The u64 map

// The map's home slot function, copied here to build keys that collide on purpose (the tests
// stay correct, only less pointed, if the map's function changes).
static size_t
s_home (uint64_t key, size_t capacity)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (capacity - 1);
}

// n keys whose home slot is `home` in a table of capacity slots, from `from` on.
static void
s_colliding (uint64_t *keys, size_t n, size_t home, size_t capacity, uint64_t from)
{
    for (uint64_t k = from; n; k++)
        if (s_home (k, capacity) == home)
            keys[--n] = k;
}

#define V(x) ((void *)(uintptr_t)(x))

static void
test_u64map_basic (void)
{
    zkv_u64map_t m = {0};
    CHECK (zkv_u64map_get (&m, 0) == NULL);
    CHECK (zkv_u64map_remove (&m, 5) == NULL);
    CHECK_EQ_U64 (zkv_u64map_keys (&m, NULL), 0);
    CHECK (zkv_u64map_put (&m, 0, V (10)) == NULL);
    CHECK (zkv_u64map_put (&m, UINT64_MAX, V (11)) == NULL);
    CHECK (zkv_u64map_put (&m, 7, V (12)) == NULL);
    CHECK_EQ_U64 (m.count, 3);
    CHECK (zkv_u64map_get (&m, 0) == V (10));
    CHECK (zkv_u64map_get (&m, UINT64_MAX) == V (11));
    CHECK (zkv_u64map_get (&m, 7) == V (12));
    CHECK (zkv_u64map_get (&m, 8) == NULL);
    CHECK (zkv_u64map_put (&m, 7, V (13)) == V (12)); // replaced: the old value back
    CHECK_EQ_U64 (m.count, 3);
    CHECK (zkv_u64map_get (&m, 7) == V (13));
    CHECK (zkv_u64map_remove (&m, 0) == V (10));
    CHECK (zkv_u64map_remove (&m, 0) == NULL);
    CHECK_EQ_U64 (m.count, 2);
    uint64_t keys[2];
    CHECK_EQ_U64 (zkv_u64map_keys (&m, keys), 2);
    CHECK ((keys[0] == 7 && keys[1] == UINT64_MAX) || (keys[0] == UINT64_MAX && keys[1] == 7));
    // Never more than half full, and a power of two.
    for (uint64_t k = 100; k < 10100; k++)
        zkv_u64map_put (&m, k, V (k));
    CHECK_EQ_U64 (m.count, 10002);
    CHECK (m.capacity >= 2 * m.count);
    CHECK ((m.capacity & (m.capacity - 1)) == 0);
    for (uint64_t k = 100; k < 10100; k++)
        CHECK (zkv_u64map_get (&m, k) == V (k));
    zkv_u64map_free (&m);
    CHECK (m.slots == NULL && m.count == 0 && m.capacity == 0);
    CHECK (zkv_u64map_get (&m, 7) == NULL);
}

// Keys sharing one home slot, some at the end of the table so that their run wraps around to
// slot 0: removing any one of them, in any order, leaves every other one reachable.
static void
test_u64map_collisions_wrap (void)
{
    // The table starts at 64 slots: at most 32 keys keep it there.
    enum { CAP = 64, N = 12 };
    uint64_t keys[N];
    s_colliding (keys, 5, CAP - 1, CAP, 1);     // home 63: the run wraps
    s_colliding (keys + 5, 4, 0, CAP, 1);       // home 0: displaced by the wrapped run
    s_colliding (keys + 9, 3, CAP - 2, CAP, 1); // home 62
    for (int order = 0; order < N; order++) {
        zkv_u64map_t m = {0};
        for (int i = 0; i < N; i++)
            zkv_u64map_put (&m, keys[i], V (keys[i] + 1));
        CHECK_EQ_U64 (m.capacity, CAP);
        bool gone[N] = {false};
        // Remove keys starting at `order`, stepping by 5 (coprime with 12): every order differs.
        for (int step = 0; step < N; step++) {
            int victim = (order + 5 * step) % N;
            CHECK (zkv_u64map_remove (&m, keys[victim]) == V (keys[victim] + 1));
            gone[victim] = true;
            for (int i = 0; i < N; i++)
                CHECK (zkv_u64map_get (&m, keys[i]) == (gone[i] ? NULL : V (keys[i] + 1)));
            CHECK_EQ_U64 (m.count, (uint64_t)(N - step - 1));
        }
        zkv_u64map_free (&m);
    }
}

static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state; // xorshift64*
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Random puts, replacements and removals (fixed seed) against a plain array: after each, the
// touched key and the count agree; every 500 operations every key and the key listing do.
static void
test_u64map_random_vs_reference (void)
{
    enum { UNIVERSE = 1500, OPS = 300000 };
    // The keys: small numbers, and groups of keys sharing a home slot in tables of 64 to 4096.
    uint64_t *universe = malloc (UNIVERSE * sizeof (uint64_t));
    uintptr_t *ref = calloc (UNIVERSE, sizeof (uintptr_t)); // 0: absent
    uint64_t *listed = malloc (UNIVERSE * sizeof (uint64_t));
    uint64_t *want = malloc (UNIVERSE * sizeof (uint64_t));
    assert (universe && ref && listed && want);
    size_t u = 0;
    for (; u < 500; u++)
        universe[u] = u;
    for (size_t cap = 64; cap <= 4096; cap *= 2)
        for (size_t home = cap - 3; home < cap + 3 && u + 20 <= UNIVERSE; home++) {
            s_colliding (universe + u, 20, home % cap, cap, 1000000 + cap * 1000);
            u += 20;
        }
    for (; u < UNIVERSE; u++)
        universe[u] = 0x100000000ull * u + 17; // large keys
    // Duplicates would make the reference wrong: drop them by making them unique.
    qsort (universe, UNIVERSE, sizeof (uint64_t), s_cmp_u64);
    for (size_t i = 1; i < UNIVERSE; i++)
        if (universe[i] == universe[i - 1])
            universe[i] = UINT64_MAX - i;

    zkv_u64map_t m = {0};
    uint64_t seed = 0x5eed1234abcdull;
    size_t count = 0, failures = 0;
    uintptr_t stamp = 1;
    for (int op = 0; op < OPS && failures == 0; op++) {
        // Phases: mostly puts, then mostly removals, so the table fills and drains again.
        bool filling = (op / 20000) % 2 == 0;
        size_t i = (size_t)(s_rand (&seed) % UNIVERSE);
        uint64_t key = universe[i];
        bool put = s_rand (&seed) % 100 < (filling ? 75u : 25u);
        if (put) {
            void *old = zkv_u64map_put (&m, key, V (++stamp));
            failures += old != V (ref[i]);
            count += ref[i] == 0;
            ref[i] = stamp;
        } else {
            void *old = zkv_u64map_remove (&m, key);
            failures += old != V (ref[i]);
            count -= ref[i] != 0;
            ref[i] = 0;
        }
        failures += zkv_u64map_get (&m, key) != V (ref[i]);
        failures += m.count != count;
        if (op % 500 == 0 || op == OPS - 1) {
            size_t n_want = 0;
            for (size_t k = 0; k < UNIVERSE; k++) {
                failures += zkv_u64map_get (&m, universe[k]) != V (ref[k]);
                if (ref[k])
                    want[n_want++] = universe[k];
            }
            size_t n = zkv_u64map_keys (&m, listed);
            qsort (listed, n, sizeof (uint64_t), s_cmp_u64);
            failures += n != n_want || memcmp (listed, want, n * sizeof (uint64_t)) != 0;
            failures += 2 * m.count > m.capacity;
        }
        if (failures)
            fprintf (stderr, "u64map differs from the reference at op %d (key %" PRIu64 ")\n", op,
                     key);
    }
    size_t peak = m.capacity;
    zkv_u64map_free (&m);
    free (universe);
    free (ref);
    free (listed);
    free (want);
    CHECK_EQ_U64 (failures, 0);
    CHECK (peak >= 2048); // the table did fill up
}

// clang-format off
// Nodes' endpoints and keys travel with a configuration: a key is 40 characters of Z85 or
// none ("-"); what a reply carries comes back the same, and a bad key line is refused.
static void
test_routing_node_keys (void)
{
    const uint64_t ids[1] = {1}, sizes[1] = {2}, members[2] = {1, 2};
    zkv_routing_t *r = zkv_routing_new (1, 4, ids, sizes, members, 1);
    CHECK (r);
    const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    CHECK (zkv_routing_key_ok (key, 40));
    CHECK (!zkv_routing_key_ok (key, 39));
    CHECK (!zkv_routing_key_ok ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf ", 40)); // a space
    CHECK_EQ_U64 (zkv_routing_set_node (r, 1, "tcp://a:1", "tcp://a:2", key), 0);
    CHECK_EQ_U64 (zkv_routing_set_node (r, 2, "tcp://b:1", "tcp://b:2", NULL), 0);
    CHECK_EQ_U64 (zkv_routing_set_node (r, 3, "tcp://c:1", "tcp://c:2", "short"), ZKV_EINVAL);
    const char *got = NULL;
    CHECK (zkv_routing_node (r, 1, NULL, NULL, &got) && strcmp (got, key) == 0);
    CHECK (zkv_routing_node (r, 2, NULL, NULL, &got) && strcmp (got, "-") == 0);
    zkv_bytes_t enc = {0};
    CHECK_EQ_U64 (zkv_routing_encode (r, &enc), 0);
    int err = 0;
    zkv_routing_t *back = zkv_routing_decode (enc.data, enc.len, &err);
    CHECK (back);
    CHECK (zkv_routing_node (back, 1, NULL, NULL, &got) && strcmp (got, key) == 0);
    CHECK (zkv_routing_node (back, 2, NULL, NULL, &got) && strcmp (got, "-") == 0);
    zkv_routing_destroy (&back);
    // A reply whose key lines do not match its nodes, or hold no key, is refused.
    zkv_msg_t m = {.type = ZKV_MSG_CONFIG_REPLY};
    zkv_routing_to_reply (r, &m.u.config_reply);
    const char *bad[] = {"-", "-\n-\n-", "-\nnot a key at all", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m.u.config_reply.public_keys = (zkv_bytes_t){(uint8_t *)bad[i], strlen (bad[i])};
        CHECK (zkv_routing_from_reply (&m.u.config_reply, &err) == NULL);
    }
    zkv_bytes_free (&enc);
    zkv_routing_destroy (&r);
}

ZKV_TEST_MAIN (
    TEST (test_routing_node_keys)
    TEST (test_routing_new_refuses_bad)
    TEST (test_routing_deal)
    TEST (test_routing_lookups)
    TEST (test_routing_dup)
    TEST (test_routing_reply_round_trip)
    TEST (test_routing_reply_hostile)
    TEST (test_u64map_basic)
    TEST (test_u64map_collisions_wrap)
    TEST (test_u64map_random_vs_reference))
// clang-format on
