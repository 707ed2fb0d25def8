// The KV state machine's API beyond Put / Append / Get (cluster/zkv_kv.h): Delete, conditional
// writes on a value or a revision, revisions (stored, returned, deduplicated, in snapshots).
#include "zkv_kv_int.h"
#include "zkv_kvstores.h"
#include "zkv_test.h"

#include <assert.h>

// The commands below spell only the fields they use (the rest are zero: no condition).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S_GROUP  1
#define S_SHARDS 8

// In helpers that return a value: a broken harness aborts.
#define S_MUST(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "%s:%d: harness: %s\n", __FILE__, __LINE__, #cond);                   \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

typedef struct {
    uint64_t client, seq, op;
    const char *key, *value;
    uint64_t cond;         // ZKV_COND_*
    const char *expect;    // ZKV_COND_VALUE
    uint64_t expect_rev;   // ZKV_COND_REVISION
} s_cmd_t;

static void
s_entry (zkv_entry_t *e, uint64_t index, const s_cmd_t *c)
{
    zkv_msg_t msg = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *k = &msg.u.kv_command;
    k->client_id = c->client;
    k->seq = c->seq;
    k->op = c->op;
    k->key = (zkv_bytes_t){(uint8_t *)c->key, strlen (c->key)};
    k->value = (zkv_bytes_t){(uint8_t *)c->value, c->value ? strlen (c->value) : 0};
    k->cond = c->cond;
    k->expect = (zkv_bytes_t){(uint8_t *)c->expect, c->expect ? strlen (c->expect) : 0};
    k->expect_rev = c->expect_rev;
    memset (e, 0, sizeof *e);
    e->term = 1;
    e->index = index;
    e->type = ZKV_ENTRY_NORMAL;
    size_t len;
    S_MUST (zkv_msg_encode (&msg, &e->data.data, &len) == 0);
    e->data.len = len;
}

// Applies commands as the next entries, in one batch; results in r (zkv_kv_results_free).
static void
s_apply_n (zkv_kv_t *kv, const s_cmd_t *c, size_t n, zkv_kv_results_t *r)
{
    zkv_entry_t e[8];
    S_MUST (n <= 8);
    for (size_t i = 0; i < n; i++)
        s_entry (&e[i], zkv_kv_applied (kv) + 1 + i, &c[i]);
    S_MUST (zkv_kv_apply (kv, e, n, r) == 0 && r->count == n);
    for (size_t i = 0; i < n; i++)
        zkv_entry_free (&e[i]);
}

// Applies one command; its status, and its revision in *rev.
static int
s_apply (zkv_kv_t *kv, const s_cmd_t *c, uint64_t *rev)
{
    zkv_kv_results_t r;
    s_apply_n (kv, c, 1, &r);
    int status = r.items[0].status;
    *rev = r.items[0].revision;
    zkv_kv_results_free (&r);
    return status;
}

// key reads want (NULL: not found) at revision want_rev.
static bool
s_reads (zkv_kv_t *kv, const char *key, const char *want, uint64_t want_rev)
{
    zkv_bytes_t v;
    uint64_t rev = 99;
    int rc = zkv_kv_get_rev (kv, (const uint8_t *)key, strlen (key), &v, &rev);
    bool ok = want ? rc == 0 && v.len == strlen (want) && memcmp (v.data, want, v.len) == 0 &&
                         rev == want_rev
                   : rc == ZKV_ENOTFOUND && rev == 0;
    if (!ok)
        fprintf (stderr, "get %s: %s '%.*s' rev %" PRIu64 ", want '%s' rev %" PRIu64 "\n", key,
                 zkv_errname (rc), (int)v.len, v.data ? (char *)v.data : "", rev,
                 want ? want : "(not found)", want_rev);
    zkv_bytes_free (&v);
    return ok;
}

static zkv_kv_t *
s_new (zkv_kvstore_t *store)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err;
    zkv_kv_t *kv = zkv_kv_new (store, S_GROUP, S_SHARDS, &limits, &err);
    S_MUST (kv);
    return kv;
}

// Revisions are the writing entry's index here (a group that follows no configuration); a
// delete removes the key; deleting a missing key does nothing.
static void
test_revisions_and_delete (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    uint64_t rev;
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 1, ZKV_OP_PUT, "k", "a"}, &rev), 0);
    CHECK_EQ_U64 (rev, 1);
    CHECK (s_reads (kv, "k", "a", 1));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 2, ZKV_OP_APPEND, "k", "b"}, &rev), 0);
    CHECK_EQ_U64 (rev, 2);
    CHECK (s_reads (kv, "k", "ab", 2));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 3, ZKV_OP_DELETE, "k", NULL}, &rev), 0);
    CHECK_EQ_U64 (rev, 3);
    CHECK (s_reads (kv, "k", NULL, 0));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 4, ZKV_OP_DELETE, "k", NULL}, &rev), 0);
    CHECK_EQ_U64 (rev, 0); // nothing deleted
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 5, ZKV_OP_APPEND, "k", "c"}, &rev), 0);
    CHECK_EQ_U64 (rev, 5);
    CHECK (s_reads (kv, "k", "c", 5)); // appending to a deleted key starts from empty
    // An empty value exists; a delete carries no value.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){2, 1, ZKV_OP_PUT, "e", ""}, &rev), 0);
    CHECK (s_reads (kv, "e", "", 6));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){2, 2, ZKV_OP_DELETE, "e", "x"}, &rev), ZKV_EINVAL);
    CHECK (s_reads (kv, "e", "", 6));
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

// Conditions on a value and on a revision: applied only when they hold; else ZKV_ECOMPARE with
// the key's current revision, and nothing changes.
static void
test_conditions (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    uint64_t rev;
    // Absent: revision 0 holds, a value condition does not.
    CHECK_EQ_U64 (s_apply (kv,
                           &(s_cmd_t){1, 1, ZKV_OP_PUT, "k", "x", ZKV_COND_VALUE, .expect = ""},
                           &rev),
                  ZKV_ECOMPARE);
    CHECK_EQ_U64 (rev, 0);
    CHECK (s_reads (kv, "k", NULL, 0));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 2, ZKV_OP_PUT, "k", "v1", ZKV_COND_REVISION, .expect_rev = 0},
                           &rev),
                  0);
    CHECK_EQ_U64 (rev, 2);
    // --if-absent again: fails, reports the current revision.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 3, ZKV_OP_PUT, "k", "v2", ZKV_COND_REVISION, .expect_rev = 0},
                           &rev),
                  ZKV_ECOMPARE);
    CHECK_EQ_U64 (rev, 2);
    CHECK (s_reads (kv, "k", "v1", 2));
    // On the value.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 4, ZKV_OP_PUT, "k", "v2", ZKV_COND_VALUE, .expect = "v"},
                           &rev),
                  ZKV_ECOMPARE);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 5, ZKV_OP_PUT, "k", "v2", ZKV_COND_VALUE, .expect = "v1"},
                           &rev),
                  0);
    CHECK_EQ_U64 (rev, 5);
    // On the revision: a stale one fails, the current one holds; appends and deletes too.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 6, ZKV_OP_APPEND, "k", "+", ZKV_COND_REVISION, .expect_rev = 2},
                           &rev),
                  ZKV_ECOMPARE);
    CHECK_EQ_U64 (rev, 5);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 7, ZKV_OP_APPEND, "k", "+", ZKV_COND_REVISION, .expect_rev = 5},
                           &rev),
                  0);
    CHECK (s_reads (kv, "k", "v2+", 7));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 8, ZKV_OP_DELETE, "k", NULL, ZKV_COND_VALUE, .expect = "v2"},
                           &rev),
                  ZKV_ECOMPARE);
    CHECK (s_reads (kv, "k", "v2+", 7));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 9, ZKV_OP_DELETE, "k", NULL, ZKV_COND_VALUE, .expect = "v2+"},
                           &rev),
                  0);
    CHECK (s_reads (kv, "k", NULL, 0));
    // A condition that makes no sense is refused, and changes nothing.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 10, ZKV_OP_PUT, "k", "z", 7}, &rev), ZKV_EINVAL);
    CHECK_EQ_U64 (s_apply (kv,
                           &(s_cmd_t){1, 11, ZKV_OP_PUT, "k", "z", ZKV_COND_REVISION, .expect = "x"},
                           &rev),
                  ZKV_EINVAL);
    CHECK (s_reads (kv, "k", NULL, 0));
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

// A retry gets the first answer, revision included, even after the key moved on: applied once.
static void
test_retries_keep_their_answer (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    uint64_t rev;
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 1, ZKV_OP_PUT, "k", "a"}, &rev), 0);
    s_cmd_t cas = {2, 1, ZKV_OP_PUT, "k", "b", ZKV_COND_REVISION, .expect_rev = 1};
    CHECK_EQ_U64 (s_apply (kv, &cas, &rev), 0);
    CHECK_EQ_U64 (rev, 2);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 2, ZKV_OP_PUT, "k", "c"}, &rev), 0);
    // The retry of the cas (same client, same seq) is not applied again though its condition
    // no longer holds, and says what the first said.
    zkv_kv_results_t r;
    s_apply_n (kv, &cas, 1, &r);
    CHECK (r.items[0].duplicate);
    CHECK_EQ_U64 (r.items[0].status, 0);
    CHECK_EQ_U64 (r.items[0].revision, 2);
    zkv_kv_results_free (&r);
    // The leader's lookup answers it the same way.
    zkv_kv_result_t l;
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 2, 1, 0, (const uint8_t *)"k", 1, &l), 1);
    CHECK (l.duplicate);
    CHECK_EQ_U64 (l.revision, 2);
    zkv_bytes_free (&l.value);
    // A failed one too: its answer stays "compare failed" with the revision it saw.
    s_cmd_t stale = {3, 1, ZKV_OP_DELETE, "k", NULL, ZKV_COND_REVISION, .expect_rev = 1};
    CHECK_EQ_U64 (s_apply (kv, &stale, &rev), ZKV_ECOMPARE);
    CHECK_EQ_U64 (rev, 3);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 3, ZKV_OP_PUT, "k", "d"}, &rev), 0);
    s_apply_n (kv, &stale, 1, &r);
    CHECK (r.items[0].duplicate);
    CHECK_EQ_U64 (r.items[0].status, ZKV_ECOMPARE);
    CHECK_EQ_U64 (r.items[0].revision, 3);
    zkv_kv_results_free (&r);
    CHECK (s_reads (kv, "k", "d", 6));
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

// In one batch, later entries see earlier ones' deletes and conditions.
static void
test_batch_sees_its_own_writes (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    s_cmd_t c[5] = {
        {1, 1, ZKV_OP_PUT, "k", "a"},
        {1, 2, ZKV_OP_DELETE, "k", NULL},
        {2, 1, ZKV_OP_PUT, "k", "x", ZKV_COND_VALUE, .expect = "a"},      // fails: deleted
        {2, 2, ZKV_OP_PUT, "k", "y", ZKV_COND_REVISION, .expect_rev = 0}, // holds: absent
        {1, 3, ZKV_OP_APPEND, "k", "z", ZKV_COND_REVISION, .expect_rev = 4},
    };
    zkv_kv_results_t r;
    s_apply_n (kv, c, 5, &r);
    CHECK_EQ_U64 (r.items[0].status, 0);
    CHECK_EQ_U64 (r.items[1].status, 0);
    CHECK_EQ_U64 (r.items[1].revision, 2);
    CHECK_EQ_U64 (r.items[2].status, ZKV_ECOMPARE);
    CHECK_EQ_U64 (r.items[2].revision, 0);
    CHECK_EQ_U64 (r.items[3].status, 0);
    CHECK_EQ_U64 (r.items[4].status, 0);
    CHECK_EQ_U64 (r.items[4].revision, 5);
    zkv_kv_results_free (&r);
    CHECK (s_reads (kv, "k", "yz", 5));
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

// Revisions travel in snapshots (and a restart reads them back from the store).
static void
test_revisions_in_snapshots (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    uint64_t rev;
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 1, ZKV_OP_PUT, "a", "1"}, &rev), 0);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 2, ZKV_OP_PUT, "b", "2"}, &rev), 0);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 3, ZKV_OP_DELETE, "a", NULL}, &rev), 0);
    uint8_t *blob;
    size_t len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (kv, &blob, &len), 0);
    zkv_kvstore_t *store2 = zkv_kvstore_mem_new ();
    zkv_kv_t *kv2 = s_new (store2);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (kv2, blob, len), 0);
    free (blob);
    CHECK (s_reads (kv2, "a", NULL, 0));
    CHECK (s_reads (kv2, "b", "2", 2));
    zkv_kv_destroy (&kv2);
    kv2 = s_new (store2); // a restart
    CHECK (s_reads (kv2, "b", "2", 2));
    CHECK_EQ_U64 (s_apply (kv2, &(s_cmd_t){1, 4, ZKV_OP_PUT, "b", "3", ZKV_COND_REVISION, .expect_rev = 2},
                           &rev),
                  0);
    CHECK_EQ_U64 (rev, 4);
    zkv_kv_destroy (&kv2);
    zkv_kvstore_destroy (&store2);
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

// The leader's checks before proposing: a delete with a value, a bad condition.
static void
test_encode_refuses (void)
{
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_t *kv = s_new (store);
    uint8_t *buf;
    size_t len;
    const uint8_t *k = (const uint8_t *)"k";
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 1, ZKV_OP_DELETE, k, 1, k, 1, 0, 0, &buf, &len),
                  ZKV_EINVAL);
    zkv_kv_cond_t bad = {.cond = 3};
    CHECK_EQ_U64 (zkv_kv_command_encode_cond (kv, 1, 1, ZKV_OP_PUT, k, 1, k, 1, &bad, 0, 0, &buf,
                                              &len),
                  ZKV_EINVAL);
    zkv_kv_cond_t mixed = {.cond = ZKV_COND_VALUE, .expect_rev = 3};
    CHECK_EQ_U64 (zkv_kv_command_encode_cond (kv, 1, 1, ZKV_OP_PUT, k, 1, k, 1, &mixed, 0, 0, &buf,
                                              &len),
                  ZKV_EINVAL);
    zkv_kv_cond_t ok = {.cond = ZKV_COND_VALUE, .expect = k, .expect_len = 1};
    CHECK_EQ_U64 (zkv_kv_command_encode_cond (kv, 1, 1, ZKV_OP_DELETE, k, 1, NULL, 0, &ok, 0, 0,
                                              &buf, &len),
                  0);
    free (buf);
    zkv_kv_destroy (&kv);
    zkv_kvstore_destroy (&store);
}

ZKV_TEST_MAIN (TEST (test_revisions_and_delete) TEST (test_conditions)
                   TEST (test_retries_keep_their_answer) TEST (test_batch_sees_its_own_writes)
                       TEST (test_revisions_in_snapshots) TEST (test_encode_refuses))
