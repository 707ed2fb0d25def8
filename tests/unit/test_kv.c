// KV data store contract (memory and LevelDB) and the KV state machine: apply, dedup, limits,
// malformed entries, snapshots across stores, boot.
#include "zkv_test.h"
#include "zkv_kvstores.h"
#include "zkv_memstore.h"
#include "zkv_ldbpins.h"
#include "zkv_ldbstore.h"

#include "zkv_kv.h"
#include "zkv_kvstore.h"
#include "zkv_logstore.h"

#include <assert.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------
// Fixture: a store of either kind; LevelDB ones live in a fresh directory under /tmp.

typedef enum { S_MEM, S_LDB } s_kind_t;

typedef struct {
    s_kind_t kind;        // which implementation
    zkv_kvstore_t *store; // the store
    zkv_logstore_t *log;  // LevelDB: the log store that owns the database
    char dir[64];         // LevelDB: its directory
} s_fix_t;

static void
s_rmdir (const char *dir)
{
    DIR *d = opendir (dir);
    struct dirent *ent;
    while (d && (ent = readdir (d))) {
        if (strcmp (ent->d_name, ".") == 0 || strcmp (ent->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf (path, sizeof path, "%s/%s", dir, ent->d_name);
        unlink (path);
    }
    if (d)
        closedir (d);
    rmdir (dir);
}

// Opens (or, for LevelDB, reopens the same directory) the store of f.
static int
s_open (s_fix_t *f)
{
    if (f->kind == S_MEM) {
        if (!f->store)
            f->store = zkv_kvstore_mem_new ();
        return f->store ? 0 : -1;
    }
    if (!f->dir[0]) {
        snprintf (f->dir, sizeof f->dir, "/tmp/zkv-test-kv-XXXXXX");
        if (!mkdtemp (f->dir))
            return -1;
    }
    int err;
    char msg[256];
    f->log = zkv_ldbstore_new (f->dir, &err, msg, sizeof msg);
    if (!f->log) {
        fprintf (stderr, "ldbstore %s: %s\n", f->dir, msg);
        return -1;
    }
    f->store = zkv_kvstore_ldb_new (f->log);
    return f->store ? 0 : -1;
}

// A restart: LevelDB closes and reopens its database; memory keeps its store (a crash drops
// open batches).
static int
s_restart (s_fix_t *f)
{
    if (f->kind == S_MEM) {
        zkv_kvstore_mem_crash (f->store);
        return 0;
    }
    zkv_kvstore_destroy (&f->store);
    zkv_logstore_destroy (&f->log);
    return s_open (f);
}

static void
s_close (s_fix_t *f)
{
    zkv_kvstore_destroy (&f->store);
    zkv_logstore_destroy (&f->log);
    if (f->dir[0])
        s_rmdir (f->dir);
    memset (f, 0, sizeof *f);
}

static const uint8_t *
s_u8 (const char *s)
{
    return (const uint8_t *)s;
}

static bool
s_bytes_is (const zkv_bytes_t *b, const char *s)
{
    size_t n = strlen (s);
    return b->len == n && (n == 0 || memcmp (b->data, s, n) == 0);
}

// ---------------------------------------------------------------------------------------------
// Store contract, run against both implementations

static void
s_contract_basic (s_kind_t kind)
{
    s_fix_t f = {.kind = kind};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kvstore_t *s = f.store;
    zkv_bytes_t v;
    uint64_t applied = 99;
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("a"), 1, &v), ZKV_ENOTFOUND);
    CHECK_EQ_U64 (zkv_kvstore_load_applied (s, 1, &applied), 0);
    CHECK_EQ_U64 (applied, 0);

    zkv_kvbatch_t *b = zkv_kvstore_batch_new (s);
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("a"), 1, s_u8 ("one"), 3);
    zkv_kvstore_put (s, b, 1, 1, s_u8 ("a"), 1, s_u8 ("shard1"), 6); // same key, other shard
    zkv_kvstore_put (s, b, 2, 0, s_u8 ("a"), 1, s_u8 ("group2"), 6); // other group
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("empty"), 5, NULL, 0);
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("gone"), 4, s_u8 ("x"), 1);
    zkv_kvstore_del (s, b, 1, 0, s_u8 ("gone"), 4);
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("a"), 1, s_u8 ("uno"), 3); // later write wins
    zkv_kvstore_set_applied (s, b, 1, 42);
    // Before the commit nothing shows.
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("a"), 1, &v), ZKV_ENOTFOUND);
    CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);
    CHECK (b == NULL);

    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("a"), 1, &v), 0);
    CHECK (s_bytes_is (&v, "uno"));
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 1, s_u8 ("a"), 1, &v), 0);
    CHECK (s_bytes_is (&v, "shard1"));
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 2, 0, s_u8 ("a"), 1, &v), 0);
    CHECK (s_bytes_is (&v, "group2"));
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("empty"), 5, &v), 0); // found, empty
    CHECK_EQ_U64 (v.len, 0);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("gone"), 4, &v), ZKV_ENOTFOUND);
    CHECK_EQ_U64 (zkv_kvstore_load_applied (s, 1, &applied), 0);
    CHECK_EQ_U64 (applied, 42);
    CHECK_EQ_U64 (zkv_kvstore_load_applied (s, 2, &applied), 0);
    CHECK_EQ_U64 (applied, 0);

    // A destroyed batch writes nothing; committed batches survive a restart, open ones do not.
    b = zkv_kvstore_batch_new (s);
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("a"), 1, s_u8 ("dropped"), 7);
    zkv_kvstore_batch_destroy (s, &b);
    CHECK (b == NULL);
    b = zkv_kvstore_batch_new (s);
    zkv_kvstore_put (s, b, 1, 0, s_u8 ("a"), 1, s_u8 ("crashed"), 7);
    if (kind == S_MEM) {
        CHECK_EQ_U64 (s_restart (&f), 0);
        CHECK_EQ_U64 (zkv_kvstore_commit (f.store, &b), ZKV_ESTOPPED);
    } else {
        zkv_kvstore_batch_destroy (s, &b); // a LevelDB batch lives only in this process
        CHECK_EQ_U64 (s_restart (&f), 0);
    }
    s = f.store;
    CHECK_EQ_U64 (zkv_kvstore_get (s, 1, 0, s_u8 ("a"), 1, &v), 0);
    CHECK (s_bytes_is (&v, "uno"));
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_load_applied (s, 1, &applied), 0);
    CHECK_EQ_U64 (applied, 42);
    s_close (&f);
}

static void
test_store_basic (void)
{
    s_contract_basic (S_MEM);
    if (zkv_test_failed_)
        return;
    s_contract_basic (S_LDB);
}

static void
s_contract_dedup_scan_delete (s_kind_t kind)
{
    s_fix_t f = {.kind = kind};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kvstore_t *s = f.store;
    zkv_kvbatch_t *b = zkv_kvstore_batch_new (s);
    // 4 shards x 50 keys in group 7, and a neighbour group 8 that scans must not see.
    char key[32], val[64];
    for (uint32_t shard = 0; shard < 4; shard++)
        for (int i = 0; i < 50; i++) {
            snprintf (key, sizeof key, "key-%03d", i);
            snprintf (val, sizeof val, "value-%u-%03d", shard, i);
            zkv_kvstore_put (s, b, 7, shard, s_u8 (key), strlen (key), s_u8 (val), strlen (val));
            zkv_kvstore_put (s, b, 8, shard, s_u8 (key), strlen (key), s_u8 ("n"), 1);
        }
    // Dedup records written out of order, one overwritten.
    uint64_t clients[] = {900, 5, 1ull << 40, 5};
    for (size_t i = 0; i < 4; i++) {
        zkv_kvdedup_t rec = {.shard = (uint32_t)(i % 2 ? 3 : 1),
                             .client_id = clients[i],
                             .seq = 10 + i,
                             .status = i == 2 ? 7 : 0};
        zkv_bytes_set (&rec.value, "r", i == 1 ? 1 : 0);
        zkv_kvstore_put_dedup (s, b, 7, &rec);
        zkv_bytes_free (&rec.value);
    }
    CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);

    zkv_kvdedup_t *recs;
    size_t n;
    CHECK_EQ_U64 (zkv_kvstore_load_dedup (s, 7, &recs, &n), 0);
    CHECK_EQ_U64 (n, 3); // (1, 900), (1, 2^40), (3, 5): sorted by shard, then client
    CHECK_EQ_U64 (recs[0].shard, 1);
    CHECK_EQ_U64 (recs[0].client_id, 900);
    CHECK_EQ_U64 (recs[1].client_id, 1ull << 40);
    CHECK_EQ_U64 (recs[1].status, 7);
    CHECK_EQ_U64 (recs[2].shard, 3);
    CHECK_EQ_U64 (recs[2].client_id, 5);
    CHECK_EQ_U64 (recs[2].seq, 13); // the overwrite
    CHECK_EQ_U64 (recs[2].value.len, 0);
    zkv_kvdedup_free_all (recs, n);
    CHECK_EQ_U64 (zkv_kvstore_load_dedup (s, 8, &recs, &n), 0);
    CHECK_EQ_U64 (n, 0);

    // Whole-group scan in small chunks: every item once, in (shard, key) order.
    size_t total = 0, chunks = 0;
    zkv_kvpos_t pos = {0};
    zkv_kvchunk_t c;
    uint32_t prev_shard = 0;
    char prev_key[32] = "";
    for (;;) {
        CHECK_EQ_U64 (zkv_kvstore_scan (s, 7, &pos, UINT32_MAX, 100, &c), 0);
        chunks++;
        CHECK (c.count > 0);
        size_t bytes = 0;
        for (size_t i = 0; i < c.count; i++) {
            char k[32];
            snprintf (k, sizeof k, "%.*s", (int)c.items[i].key.len, c.items[i].key.data);
            snprintf (val, sizeof val, "value-%u-%s", c.items[i].shard, k + 4);
            CHECK (s_bytes_is (&c.items[i].value, val));
            CHECK (c.items[i].shard > prev_shard ||
                   (c.items[i].shard == prev_shard && strcmp (k, prev_key) > 0) || total == 0);
            prev_shard = c.items[i].shard;
            snprintf (prev_key, sizeof prev_key, "%s", k);
            bytes += c.items[i].key.len + c.items[i].value.len;
            total++;
        }
        CHECK (bytes <= 100 || c.count == 1);
        bool more = c.more;
        zkv_bytes_free (&pos.key);
        pos = c.next;
        c.next = (zkv_kvpos_t){0};
        zkv_kvchunk_free (&c);
        if (!more)
            break;
    }
    zkv_bytes_free (&pos.key);
    CHECK_EQ_U64 (total, 200);
    CHECK (chunks >= 200 * 18 / 100);

    // One shard; and an item larger than max_bytes still comes (one per chunk: progress).
    zkv_kvpos_t one = {.shard = 2};
    CHECK_EQ_U64 (zkv_kvstore_scan (s, 7, &one, 2, 1 << 20, &c), 0);
    CHECK_EQ_U64 (c.count, 50);
    CHECK (!c.more);
    CHECK_EQ_U64 (c.items[0].shard, 2);
    CHECK_EQ_U64 (c.items[49].shard, 2);
    zkv_kvchunk_free (&c);
    CHECK_EQ_U64 (zkv_kvstore_scan (s, 7, &one, 2, 1, &c), 0);
    CHECK_EQ_U64 (c.count, 1);
    CHECK (c.more);
    CHECK (s_bytes_is (&c.items[0].key, "key-000"));
    zkv_kvchunk_free (&c);

    // Deleting shard 1 takes its data and its dedup records, nothing else.
    b = zkv_kvstore_batch_new (s);
    CHECK_EQ_U64 (zkv_kvstore_delete_shard (s, b, 7, 1), 0);
    CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);
    zkv_bytes_t v;
    CHECK_EQ_U64 (zkv_kvstore_get (s, 7, 1, s_u8 ("key-003"), 7, &v), ZKV_ENOTFOUND);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 7, 0, s_u8 ("key-003"), 7, &v), 0);
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 8, 1, s_u8 ("key-003"), 7, &v), 0);
    zkv_bytes_free (&v);
    CHECK_EQ_U64 (zkv_kvstore_load_dedup (s, 7, &recs, &n), 0);
    CHECK_EQ_U64 (n, 1);
    CHECK_EQ_U64 (recs[0].shard, 3);
    zkv_kvdedup_free_all (recs, n);
    zkv_kvpos_t start = {0};
    CHECK_EQ_U64 (zkv_kvstore_scan (s, 7, &start, UINT32_MAX, 1 << 20, &c), 0);
    CHECK_EQ_U64 (c.count, 150);
    zkv_kvchunk_free (&c);

    // Clearing the group, then writing in the same batch: the writes stay.
    b = zkv_kvstore_batch_new (s);
    CHECK_EQ_U64 (zkv_kvstore_clear_group (s, b, 7), 0);
    zkv_kvstore_put (s, b, 7, 0, s_u8 ("new"), 3, s_u8 ("v"), 1);
    CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);
    CHECK_EQ_U64 (zkv_kvstore_scan (s, 7, &start, UINT32_MAX, 1 << 20, &c), 0);
    CHECK_EQ_U64 (c.count, 1);
    zkv_kvchunk_free (&c);
    CHECK_EQ_U64 (zkv_kvstore_load_dedup (s, 7, &recs, &n), 0);
    CHECK_EQ_U64 (n, 0);
    CHECK_EQ_U64 (zkv_kvstore_scan (s, 8, &start, UINT32_MAX, 1 << 20, &c), 0);
    CHECK_EQ_U64 (c.count, 200);
    zkv_kvchunk_free (&c);
    s_close (&f);
}

static void
test_store_dedup_scan_delete (void)
{
    s_contract_dedup_scan_delete (S_MEM);
    if (zkv_test_failed_)
        return;
    s_contract_dedup_scan_delete (S_LDB);
}

// A shard deleted while a view is open: LevelDB cannot drop what the view sees, so its space
// comes back when the view closes (the compaction waited for it, and reaches the deepest
// level), not only with later writes.
static void
test_store_ldb_deleted_under_view (void)
{
    s_fix_t f = {.kind = S_LDB};
    CHECK (s_open (&f) == 0);
    zkv_kvstore_t *s = f.store;
    // 2 MB of values that do not compress, in shard 1 of group 7.
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 4; round++) {
        zkv_kvbatch_t *b = zkv_kvstore_batch_new (s);
        for (int k = 0; k < 512; k++) {
            char key[32];
            uint8_t val[1024];
            snprintf (key, sizeof key, "key-%04d", round * 512 + k);
            for (size_t i = 0; i < sizeof val; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                val[i] = (uint8_t)x;
            }
            zkv_kvstore_put (s, b, 7, 1, s_u8 (key), strlen (key), val, sizeof val);
        }
        CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);
    }
    CHECK (s_restart (&f) == 0); // LevelDB writes its memtable to a table file when it opens
    s = f.store;
    zkv_kvstore_t *view = zkv_kvstore_view (s); // e.g. a snapshot being sent to a follower
    CHECK (view != NULL);
    zkv_kvbatch_t *b = zkv_kvstore_batch_new (s);
    CHECK_EQ_U64 (zkv_kvstore_delete_shard (s, b, 7, 1), 0);
    CHECK_EQ_U64 (zkv_kvstore_commit (s, &b), 0);
    // A compaction of LevelDB's own while the view is open: it merges the tombstones with the
    // values they delete into the deepest level, and must keep both there (the view reads them).
    leveldb_compact_range (zkv_ldbstore_db (f.log), NULL, 0, NULL, 0);
    uint64_t pinned = zkv_kvstore_approx_bytes (s, 7);
    CHECK (pinned > 1000000); // the view still reads it: on disk
    zkv_bytes_t v = {0};
    CHECK_EQ_U64 (zkv_kvstore_get (view, 7, 1, s_u8 ("key-0003"), 8, &v), 0);
    zkv_bytes_free (&v);
    zkv_kvstore_destroy (&view);
    // The compaction runs on the pins' own thread once the view closed.
    CHECK (zkv_ldbpins_wait_idle (zkv_ldbstore_pins (f.log), 20000));
    uint64_t after = zkv_kvstore_approx_bytes (s, 7);
    CHECK (after < pinned / 8);
    CHECK_EQ_U64 (zkv_kvstore_get (s, 7, 1, s_u8 ("key-0003"), 8, &v), ZKV_ENOTFOUND);
    s_close (&f);
}

static void
test_store_ldb_needs_ldb (void)
{
    zkv_logstore_t *mem = zkv_memstore_new ();
    // A memory log store has no database to share; NULL is refused too.
    CHECK (zkv_kvstore_ldb_new (NULL) == NULL);
    zkv_logstore_destroy (&mem);
}

// ---------------------------------------------------------------------------------------------
// The state machine

#define S_GROUP  3
#define S_SHARDS 10

// An entry carrying a kv_command encoded directly (no limits checked: the apply side must).
static void
s_cmd (zkv_entry_t *e, uint64_t index, uint64_t client, uint64_t seq, uint64_t op, const char *key,
       const char *value)
{
    zkv_msg_t msg = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *c = &msg.u.kv_command;
    c->client_id = client;
    c->seq = seq;
    c->op = op;
    c->key = (zkv_bytes_t){(uint8_t *)key, strlen (key)};
    c->value = (zkv_bytes_t){(uint8_t *)value, strlen (value)};
    memset (e, 0, sizeof *e);
    e->term = 1;
    e->index = index;
    e->type = ZKV_ENTRY_NORMAL;
    size_t len;
    int rc = zkv_msg_encode (&msg, &e->data.data, &len);
    assert (rc == 0);
    (void)rc;
    e->data.len = len;
}

static void
s_entries_free (zkv_entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zkv_entry_free (&e[i]);
}

static zkv_kv_t *
s_kv (zkv_kvstore_t *store)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.max_key_bytes = 16;
    limits.max_value_bytes = 32;
    int err;
    return zkv_kv_new (store, S_GROUP, S_SHARDS, &limits, &err);
}

static bool
s_get_is (zkv_kv_t *kv, const char *key, const char *want)
{
    zkv_bytes_t v;
    int rc = zkv_kv_get (kv, s_u8 (key), strlen (key), &v);
    bool ok = want ? rc == 0 && s_bytes_is (&v, want) : rc == ZKV_ENOTFOUND;
    if (!ok)
        fprintf (stderr, "get %s: rc %s, %.*s\n", key, zkv_errname (rc), (int)v.len,
                 v.data ? (char *)v.data : "");
    zkv_bytes_free (&v);
    return ok;
}

static void
s_apply_basic (s_kind_t kind)
{
    s_fix_t f = {.kind = kind};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    CHECK (kv != NULL);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 0);
    zkv_entry_t e[6];
    memset (&e[0], 0, sizeof e[0]);
    e[0] = (zkv_entry_t){.term = 1, .index = 1, .type = ZKV_ENTRY_NOOP};
    s_cmd (&e[1], 2, 11, 1, ZKV_OP_PUT, "x", "a");
    s_cmd (&e[2], 3, 11, 2, ZKV_OP_APPEND, "x", "b"); // reads the put of this same batch
    s_cmd (&e[3], 4, 12, 1, ZKV_OP_APPEND, "y", "new");
    s_cmd (&e[4], 5, 12, 2, ZKV_OP_PUT, "z", "");
    s_cmd (&e[5], 6, 11, 3, ZKV_OP_APPEND, "x", "c");
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 6, &r), 0);
    CHECK_EQ_U64 (r.count, 6);
    CHECK_EQ_U64 (r.items[0].index, 1);
    CHECK (!r.items[0].has_client);
    for (size_t i = 1; i < 6; i++) {
        CHECK (r.items[i].has_client);
        CHECK_EQ_U64 (r.items[i].status, 0);
        CHECK (!r.items[i].duplicate);
        CHECK_EQ_U64 (r.items[i].index, i + 1);
    }
    CHECK_EQ_U64 (r.items[2].client_id, 11);
    CHECK_EQ_U64 (r.items[2].seq, 2);
    CHECK_EQ_U64 (r.items[2].op, ZKV_OP_APPEND);
    zkv_kv_results_free (&r);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 6);
    CHECK (s_get_is (kv, "x", "abc"));
    CHECK (s_get_is (kv, "y", "new"));
    CHECK (s_get_is (kv, "z", ""));
    CHECK (s_get_is (kv, "w", NULL));
    s_entries_free (e, 6);

    // Already applied entries are skipped; a gap applies nothing.
    s_cmd (&e[0], 5, 13, 1, ZKV_OP_PUT, "q", "skipped");
    s_cmd (&e[1], 7, 13, 1, ZKV_OP_PUT, "q", "kept");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 2, &r), 0);
    CHECK_EQ_U64 (r.count, 1);
    CHECK_EQ_U64 (r.items[0].index, 7);
    zkv_kv_results_free (&r);
    CHECK (s_get_is (kv, "q", "kept"));
    s_entries_free (e, 2);
    s_cmd (&e[0], 9, 13, 2, ZKV_OP_PUT, "q", "gap");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 1, &r), ZKV_EINVAL);
    CHECK_EQ_U64 (r.count, 0);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 7);
    CHECK (s_get_is (kv, "q", "kept"));
    s_entries_free (e, 1);
    CHECK_EQ_U64 (zkv_kv_apply (kv, NULL, 0, &r), 0);
    zkv_kv_destroy (&kv);
    CHECK (kv == NULL);
    s_close (&f);
}

static void
test_kv_apply (void)
{
    s_apply_basic (S_MEM);
    if (zkv_test_failed_)
        return;
    s_apply_basic (S_LDB);
}

// Sequence numbers are validated, on the leader's lookup and again when applied: 0, 2^64-1
// and a jump past ZKV_KV_MAX_SEQ_JUMP (which would make the client's true requests stale) are
// refused, and nothing is applied or recorded.
static void
test_kv_seq_validated (void)
{
    s_fix_t f = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    CHECK (zkv_kv_seq_valid (0, 1) && zkv_kv_seq_valid (5, 5 + ZKV_KV_MAX_SEQ_JUMP));
    CHECK (!zkv_kv_seq_valid (5, 6 + ZKV_KV_MAX_SEQ_JUMP) && !zkv_kv_seq_valid (0, 0));
    CHECK (!zkv_kv_seq_valid (UINT64_MAX - 1, UINT64_MAX));
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 7, UINT64_MAX, 0, s_u8 ("k"), 1, &one), 1);
    CHECK_EQ_U64 (one.status, ZKV_EINVAL);
    zkv_entry_t e[3];
    zkv_kv_results_t r;
    s_cmd (&e[0], 1, 7, 3, ZKV_OP_APPEND, "k", "a");
    s_cmd (&e[1], 2, 7, UINT64_MAX, ZKV_OP_APPEND, "k", "forged");
    s_cmd (&e[2], 3, 7, 4 + ZKV_KV_MAX_SEQ_JUMP, ZKV_OP_APPEND, "k", "forged");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 3, &r), 0);
    CHECK_EQ_U64 (r.items[0].status, 0);
    CHECK_EQ_U64 (r.items[1].status, ZKV_EINVAL);
    CHECK_EQ_U64 (r.items[2].status, ZKV_EINVAL);
    zkv_kv_results_free (&r);
    s_entries_free (e, 3);
    CHECK (s_get_is (kv, "k", "a"));
    // The client's next true request is not stale: the forged seqs left no record.
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 7, 4, 0, s_u8 ("k"), 1, &one), 0);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

static void
test_kv_dedup (void)
{
    s_fix_t f = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    zkv_entry_t e[4];
    // A retry proposed twice lands twice in one batch, and once more later: applied once.
    s_cmd (&e[0], 1, 21, 1, ZKV_OP_APPEND, "k", "a");
    s_cmd (&e[1], 2, 21, 1, ZKV_OP_APPEND, "k", "a");
    s_cmd (&e[2], 3, 22, 1, ZKV_OP_APPEND, "k", "b");
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 3, &r), 0);
    CHECK (!r.items[0].duplicate);
    CHECK (r.items[1].duplicate);
    CHECK_EQ_U64 (r.items[1].status, 0);
    CHECK (!r.items[2].duplicate);
    zkv_kv_results_free (&r);
    s_entries_free (e, 3);
    s_cmd (&e[0], 4, 21, 1, ZKV_OP_APPEND, "k", "a");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 1, &r), 0);
    CHECK (r.items[0].duplicate);
    CHECK_EQ_U64 (r.items[0].client_id, 21);
    zkv_kv_results_free (&r);
    s_entries_free (e, 1);
    CHECK (s_get_is (kv, "k", "ab"));

    // The frontend's lookup answers the retry without proposing, and lets a new seq through.
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 21, 1, 0, s_u8 ("k"), 1, &one), 1);
    CHECK (one.duplicate);
    CHECK_EQ_U64 (one.status, 0);
    zkv_bytes_free (&one.value);
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 21, 2, 0, s_u8 ("k"), 1, &one), 0);
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 99, 1, 0, s_u8 ("k"), 1, &one), 0);

    // A stale request (older than the last applied) is refused and changes nothing.
    s_cmd (&e[0], 5, 21, 2, ZKV_OP_APPEND, "k", "c");
    s_cmd (&e[1], 6, 21, 1, ZKV_OP_APPEND, "k", "stale");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 2, &r), 0);
    CHECK_EQ_U64 (r.items[0].status, 0);
    CHECK_EQ_U64 (r.items[1].status, ZKV_KV_ESTALE);
    CHECK (r.items[1].error != NULL);
    CHECK (!r.items[1].duplicate);
    zkv_kv_results_free (&r);
    s_entries_free (e, 2);
    CHECK (s_get_is (kv, "k", "abc"));
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 21, 1, 0, s_u8 ("k"), 1, &one), 1);
    CHECK_EQ_U64 (one.status, ZKV_KV_ESTALE);

    // Dedup is per shard: the same client and seq on a key of another shard is new.
    const char *other = "k";
    char buf[8];
    for (int i = 0; i < 100; i++) {
        snprintf (buf, sizeof buf, "o%d", i);
        if (zkv_kv_shard_of (s_u8 (buf), strlen (buf), S_SHARDS) !=
            zkv_kv_shard_of (s_u8 ("k"), 1, S_SHARDS)) {
            other = buf;
            break;
        }
    }
    CHECK (strcmp (other, "k") != 0);
    s_cmd (&e[0], 7, 21, 2, ZKV_OP_PUT, other, "elsewhere");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 1, &r), 0);
    CHECK (!r.items[0].duplicate);
    CHECK_EQ_U64 (r.items[0].status, 0);
    zkv_kv_results_free (&r);
    s_entries_free (e, 1);
    CHECK (s_get_is (kv, other, "elsewhere"));
    zkv_kv_destroy (&kv);
    s_close (&f);
}

static void
test_kv_limits (void)
{
    s_fix_t f = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store); // keys <= 16, values <= 32
    uint8_t *buf;
    size_t len;
    const char *big_key = "0123456789abcdefX";                 // 17
    const char *big_val = "0123456789abcdef0123456789abcdefX"; // 33
    // Propose time.
    CHECK_EQ_U64 (
        zkv_kv_command_encode (kv, 1, 1, ZKV_OP_PUT, s_u8 (big_key), 17, s_u8 ("v"), 1, 0, 0, &buf, &len),
        ZKV_ETOOBIG);
    CHECK (buf == NULL);
    CHECK_EQ_U64 (
        zkv_kv_command_encode (kv, 1, 1, ZKV_OP_PUT, s_u8 ("k"), 1, s_u8 (big_val), 33, 0, 0, &buf, &len),
        ZKV_ETOOBIG);
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 1, ZKV_OP_GET, s_u8 ("k"), 1, NULL, 0, 0, 0, &buf, &len),
                  ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 0, ZKV_OP_PUT, s_u8 ("k"), 1, NULL, 0, 0, 0, &buf, &len),
                  ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 1, ZKV_OP_PUT, NULL, 0, NULL, 0, 0, 0, &buf, &len),
                  ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 1, 9, s_u8 ("k"), 1, NULL, 0, 0, 0, &buf, &len),
                  ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_check (&(zkv_kv_limits_t){16, 32, 0, 0}, ZKV_OP_GET, 17, 0), ZKV_ETOOBIG);
    // At the limits it encodes, and the entry applies.
    CHECK_EQ_U64 (zkv_kv_command_encode (kv, 1, 1, ZKV_OP_PUT, s_u8 (big_key), 16, s_u8 (big_val),
                                         32, 0, 0, &buf, &len),
                  0);
    zkv_entry_t e[8] = {{.term = 1, .index = 1, .type = ZKV_ENTRY_NORMAL, .data = {buf, len}}};
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 1, &r), 0);
    CHECK_EQ_U64 (r.items[0].status, 0);
    zkv_kv_results_free (&r);
    s_entries_free (e, 1);

    // Apply time: commands another node proposed past our limits get errors, not crashes.
    s_cmd (&e[0], 2, 2, 1, ZKV_OP_PUT, big_key, "v");
    s_cmd (&e[1], 3, 2, 2, ZKV_OP_PUT, "k", big_val);
    s_cmd (&e[2], 4, 2, 3, ZKV_OP_PUT, "k", "0123456789abcdef0123456789abcde"); // 31
    s_cmd (&e[3], 5, 2, 4, ZKV_OP_APPEND, "k", "xy");                           // would be 33
    s_cmd (&e[4], 6, 2, 5, ZKV_OP_APPEND, "k", "z");                            // exactly 32
    s_cmd (&e[5], 7, 2, 6, ZKV_OP_GET, "k", ""); // gets are never logged
    s_cmd (&e[6], 8, 2, 7, 77, "k", "");         // unknown op
    s_cmd (&e[7], 9, 2, 8, ZKV_OP_PUT, "", "v"); // empty key
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 8, &r), 0);
    CHECK_EQ_U64 (r.count, 8);
    CHECK_EQ_U64 (r.items[0].status, ZKV_ETOOBIG);
    CHECK_EQ_U64 (r.items[1].status, ZKV_ETOOBIG);
    CHECK_EQ_U64 (r.items[2].status, 0);
    CHECK_EQ_U64 (r.items[3].status, ZKV_ETOOBIG);
    CHECK_EQ_U64 (r.items[4].status, 0);
    CHECK_EQ_U64 (r.items[5].status, ZKV_EINVAL);
    CHECK_EQ_U64 (r.items[6].status, ZKV_EINVAL);
    CHECK_EQ_U64 (r.items[7].status, ZKV_EINVAL);
    for (size_t i = 0; i < 8; i++)
        CHECK (r.items[i].status == 0 || r.items[i].error != NULL);
    zkv_kv_results_free (&r);
    s_entries_free (e, 8);
    CHECK (s_get_is (kv, "k", "0123456789abcdef0123456789abcdez"));
    // A failed request's answer is remembered too: its retry gets the same error.
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 2, 7, 0, s_u8 ("k"), 1, &one), 1); // the unknown op
    CHECK (one.duplicate);
    CHECK_EQ_U64 (one.status, ZKV_EINVAL);
    zkv_bytes_free (&one.value);
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 2, 8, 0, s_u8 ("k"), 1, &one), 0);
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 2, 1, 0, s_u8 (big_key), 17, &one), 1);
    CHECK_EQ_U64 (one.status, ZKV_ETOOBIG);
    CHECK (one.duplicate);
    zkv_bytes_free (&one.value);
    // Gets refuse keys the limits refuse.
    zkv_bytes_t v;
    CHECK_EQ_U64 (zkv_kv_get (kv, s_u8 (big_key), 17, &v), ZKV_ETOOBIG);
    CHECK_EQ_U64 (zkv_kv_get (kv, NULL, 0, &v), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 9);
    zkv_kv_destroy (&kv);

    // Bad construction arguments.
    int err = 0;
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    CHECK (zkv_kv_new (f.store, 1, 0, &limits, &err) == NULL);
    CHECK_EQ_U64 (err, ZKV_EINVAL);
    limits.max_value_bytes = ZKV_MSG_MAX_FIELD_BYTES;
    CHECK (zkv_kv_new (f.store, 1, 1, &limits, &err) == NULL);
    CHECK (zkv_kv_new (NULL, 1, 1, &limits, &err) == NULL);
    s_close (&f);
}

// Entries whose payload is not a kv_command: error results, and the state machine goes on.
static void
test_kv_malformed_entries (void)
{
    s_fix_t f = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    enum { N = 8 };
    zkv_entry_t e[N];
    memset (e, 0, sizeof e);
    for (size_t i = 0; i < N; i++) {
        e[i].term = 1;
        e[i].index = i + 1;
        e[i].type = ZKV_ENTRY_NORMAL;
    }
    // 0: empty payload; 1: garbage; 2: a kv_command cut short; 3: another message type;
    // 4: a kv_command with one trailing byte; 5: a msgpack nil; 6: valid; 7: valid after all.
    zkv_entry_t good;
    s_cmd (&good, 7, 31, 1, ZKV_OP_PUT, "key", "value");
    zkv_bytes_set (&e[1].data, "\xde\xad\xbe\xef", 4);
    zkv_bytes_set (&e[2].data, good.data.data, good.data.len - 2);
    zkv_msg_t other = {.type = ZKV_MSG_STATUS_REQUEST};
    other.u.status_request.nonce = 5;
    size_t len;
    CHECK_EQ_U64 (zkv_msg_encode (&other, &e[3].data.data, &len), 0);
    e[3].data.len = len;
    e[4].data.len = good.data.len + 1;
    e[4].data.data = calloc (1, e[4].data.len);
    memcpy (e[4].data.data, good.data.data, good.data.len);
    zkv_bytes_set (&e[5].data, "\xc0", 1);
    zkv_entry_copy (&good, &e[6]);
    s_cmd (&e[7], 8, 31, 2, ZKV_OP_APPEND, "key", "!");
    zkv_entry_free (&good);
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, N, &r), 0);
    CHECK_EQ_U64 (r.count, N);
    for (size_t i = 0; i < 6; i++) {
        CHECK (r.items[i].status < 0);
        CHECK (!r.items[i].has_client);
        CHECK (r.items[i].error != NULL);
    }
    CHECK_EQ_U64 (r.items[3].status, ZKV_ETYPE);
    CHECK_EQ_U64 (r.items[6].status, 0);
    CHECK_EQ_U64 (r.items[7].status, 0);
    zkv_kv_results_free (&r);
    s_entries_free (e, N);
    CHECK (s_get_is (kv, "key", "value!"));
    CHECK_EQ_U64 (zkv_kv_applied (kv), N);

    // Every prefix and many byte flips of a valid command: never a crash, index always advances.
    zkv_entry_t base;
    s_cmd (&base, 0, 40, 1, ZKV_OP_APPEND, "kk", "vv");
    uint64_t index = N;
    for (size_t cut = 0; cut <= base.data.len; cut++) {
        for (int flip = 0; flip < 3; flip++) {
            zkv_entry_t m = {.term = 1, .index = ++index, .type = ZKV_ENTRY_NORMAL};
            zkv_bytes_set (&m.data, base.data.data, cut);
            if (flip && cut)
                m.data.data[(cut * 7 + (size_t)flip) % cut] ^= (uint8_t)(flip == 1 ? 0x80 : 0x01);
            CHECK_EQ_U64 (zkv_kv_apply (kv, &m, 1, &r), 0);
            CHECK_EQ_U64 (r.count, 1);
            zkv_kv_results_free (&r);
            zkv_entry_free (&m);
        }
    }
    zkv_entry_free (&base);
    CHECK_EQ_U64 (zkv_kv_applied (kv), index);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

// Applies a mixed workload of n commands starting after kv's applied index.
static void
s_workload (zkv_kv_t *kv, int n, uint64_t client)
{
    zkv_kv_results_t r;
    char key[16], val[16];
    for (int i = 0; i < n; i++) {
        zkv_entry_t e;
        snprintf (key, sizeof key, "k%d", i % 37);
        snprintf (val, sizeof val, "v%d.", i);
        s_cmd (&e, zkv_kv_applied (kv) + 1, client + (uint64_t)(i % 5), (uint64_t)i / 5 + 1,
               i % 3 ? ZKV_OP_APPEND : ZKV_OP_PUT, key, val);
        int rc = zkv_kv_apply (kv, &e, 1, &r);
        assert (rc == 0);
        (void)rc;
        zkv_kv_results_free (&r);
        zkv_entry_free (&e);
    }
}

static void
test_kv_snapshot_round_trip (void)
{
    s_fix_t fm = {.kind = S_MEM}, fl = {.kind = S_LDB};
    CHECK_EQ_U64 (s_open (&fm), 0);
    CHECK_EQ_U64 (s_open (&fl), 0);
    zkv_kv_t *a = s_kv (fm.store), *b = s_kv (fl.store);
    s_workload (a, 300, 100);
    s_workload (b, 20, 500); // b's own state, which the restore must replace entirely
    uint8_t *snap, *snap2;
    size_t len, len2;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &snap, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (b, snap, len), 0);
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    // Same state, same bytes, whichever store holds it.
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &snap2, &len2), 0);
    CHECK_EQ_U64 (len2, len);
    CHECK (memcmp (snap, snap2, len) == 0);
    free (snap2);
    char key[16];
    for (int i = 0; i < 37; i++) {
        snprintf (key, sizeof key, "k%d", i);
        zkv_bytes_t va, vb;
        CHECK_EQ_U64 (zkv_kv_get (a, s_u8 (key), strlen (key), &va), 0);
        CHECK_EQ_U64 (zkv_kv_get (b, s_u8 (key), strlen (key), &vb), 0);
        CHECK (va.len == vb.len && memcmp (va.data, vb.data, va.len) == 0);
        zkv_bytes_free (&va);
        zkv_bytes_free (&vb);
    }
    // The dedup table came along: a retry of the last command is a duplicate on b.
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (b, 100 + 299 % 5, 299 / 5 + 1, 0, s_u8 ("k3"), 2, &one), 1);
    CHECK (one.duplicate);
    zkv_bytes_free (&one.value);
    // ... and b's own clients are gone with its old state.
    CHECK_EQ_U64 (zkv_kv_lookup (b, 500, 1, 0, s_u8 ("k0"), 2, &one), 0);
    // And both go on identically.
    s_workload (a, 50, 900);
    s_workload (b, 50, 900);
    free (snap);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &snap, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &snap2, &len2), 0);
    CHECK (len == len2 && memcmp (snap, snap2, len) == 0);
    free (snap2);

    // The restore survives a restart of the LevelDB store.
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fl), 0);
    b = s_kv (fl.store);
    CHECK_EQ_U64 (zkv_kv_applied (b), 350);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &snap2, &len2), 0);
    CHECK (len == len2 && memcmp (snap, snap2, len) == 0);
    free (snap2);

    // Another group's or another layout's snapshot is refused and changes nothing.
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    zkv_kv_t *g4 = zkv_kv_new (fm.store, S_GROUP + 1, S_SHARDS, &limits, NULL);
    zkv_kv_t *s7 = zkv_kv_new (fm.store, S_GROUP + 2, 7, &limits, NULL);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (g4, snap, len), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (s7, snap, len), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_applied (g4), 0);
    zkv_kv_destroy (&g4);
    zkv_kv_destroy (&s7);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    free (snap);
    s_close (&fm);
    s_close (&fl);
}

// A hostile snapshot (every prefix, flipped bytes) returns an error or restores; on error the
// state is exactly what it was.
static void
test_kv_snapshot_hostile (void)
{
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    s_workload (a, 40, 1);
    s_workload (b, 7, 50);
    uint8_t *snap, *before, *after;
    size_t len, before_len, after_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &snap, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &before, &before_len), 0);
    size_t errors = 0, restored = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc (cut ? cut : 1); // exact size: ASan sees any over-read
        memcpy (copy, snap, cut);
        int rc = zkv_kv_snapshot_restore (b, copy, cut);
        free (copy);
        if (rc == 0) {
            // A cut exactly between two data items is a valid (smaller) state; put b back.
            restored++;
            CHECK_EQ_U64 (zkv_kv_snapshot_restore (b, before, before_len), 0);
            continue;
        }
        errors++;
        CHECK (rc < 0);
        CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &after, &after_len), 0);
        CHECK (after_len == before_len && memcmp (after, before, before_len) == 0);
        free (after);
    }
    static const uint8_t values[] = {0x00, 0x7f, 0x90, 0x95, 0xc0, 0xc4, 0xc6, 0xcf, 0xdd, 0xff};
    for (size_t pos = 0; pos < len; pos++)
        for (size_t v = 0; v < sizeof values; v++) {
            uint8_t *copy = malloc (len);
            memcpy (copy, snap, len);
            copy[pos] = values[v];
            int rc = zkv_kv_snapshot_restore (b, copy, len);
            free (copy);
            if (rc == 0)
                CHECK_EQ_U64 (zkv_kv_snapshot_restore (b, before, before_len), 0);
            else
                errors++;
        }
    CHECK (errors > len);
    CHECK (restored > 0); // the cuts between items
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (b, NULL, 0), ZKV_ETRUNC);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &after, &after_len), 0);
    CHECK (after_len == before_len && memcmp (after, before, before_len) == 0);
    free (after);
    free (before);
    free (snap);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    s_close (&fa);
    s_close (&fb);
}

// A restarted node resumes from the store's applied index, with its dedup table.
static void
s_boot (s_kind_t kind)
{
    s_fix_t f = {.kind = kind};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    s_workload (kv, 30, 7);
    zkv_kv_destroy (&kv);
    CHECK_EQ_U64 (s_restart (&f), 0);
    kv = s_kv (f.store);
    CHECK (kv != NULL);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 30);
    // Raft redelivers from applied + 1; an older entry given again is skipped, a retry of the
    // last command is a duplicate.
    zkv_entry_t e[2];
    zkv_kv_results_t r;
    s_cmd (&e[0], 30, 7 + 29 % 5, 29 / 5 + 1, ZKV_OP_APPEND, "k29", "again");
    s_cmd (&e[1], 31, 7 + 29 % 5, 29 / 5 + 1, ZKV_OP_APPEND, "k29", "again");
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 2, &r), 0);
    CHECK_EQ_U64 (r.count, 1);
    CHECK (r.items[0].duplicate);
    zkv_kv_results_free (&r);
    s_entries_free (e, 2);
    CHECK (s_get_is (kv, "k29", "v29."));
    CHECK_EQ_U64 (zkv_kv_applied (kv), 31);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

static void
test_kv_boot (void)
{
    s_boot (S_MEM);
    if (zkv_test_failed_)
        return;
    s_boot (S_LDB);
}

// A store whose commits fail: the apply reports it and the state machine is unchanged. The
// memory store's functions behind a table whose commit discards the batch and fails.
static const zkv_kvstore_ops_t *s_real_ops; // test-only: the table being wrapped

static int
s_failing_commit (void *impl, zkv_kvbatch_t *b)
{
    s_real_ops->batch_destroy (impl, b);
    return ZKV_EIO;
}

static void
test_kv_commit_failure (void)
{
    s_fix_t f = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    s_workload (kv, 10, 1);
    uint8_t *before, *after;
    size_t before_len, after_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (kv, &before, &before_len), 0);
    zkv_kv_destroy (&kv);

    s_real_ops = f.store->ops;
    zkv_kvstore_ops_t ops = *f.store->ops;
    ops.commit = s_failing_commit;
    zkv_kvstore_t failing = {&ops, f.store->impl}; // not destroyed: f owns the impl
    kv = s_kv (&failing);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 10);
    zkv_entry_t e[2];
    s_cmd (&e[0], 11, 1, 3, ZKV_OP_PUT, "k0", "lost"); // a new seq of client 1
    s_cmd (&e[1], 12, 1, 2, ZKV_OP_PUT, "k0", "dup");  // a retry
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 2, &r), ZKV_EIO);
    CHECK_EQ_U64 (r.count, 0);
    CHECK (r.items == NULL);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 10);
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (kv, 1, 3, 0, s_u8 ("k0"), 2, &one), 0); // seq 3 not recorded
    CHECK_EQ_U64 (zkv_kv_snapshot_write (kv, &after, &after_len), 0);
    CHECK (after_len == before_len && memcmp (after, before, before_len) == 0);
    free (after);
    // A restore into the failing store fails the same way and changes nothing.
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (kv, before, before_len), ZKV_EIO);
    CHECK_EQ_U64 (zkv_kv_applied (kv), 10);
    zkv_kv_destroy (&kv);

    // The real store, unharmed, applies the same entries.
    kv = s_kv (f.store);
    CHECK_EQ_U64 (zkv_kv_apply (kv, e, 2, &r), 0);
    CHECK_EQ_U64 (r.count, 2);
    CHECK_EQ_U64 (r.items[0].status, 0);
    zkv_kv_results_free (&r);
    CHECK (s_get_is (kv, "k0", "lost"));
    s_entries_free (e, 2);
    free (before);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

// Streams the view of src's store in chunks of at most max bytes (whole records) into dst;
// returns the concatenated bytes (free() them) and checks chunk bounds on the way.
static uint8_t *
s_stream_all (zkv_kvstore_t *view, zkv_kv_recv_t *recv, size_t max, size_t *len_p, int *chunks_p)
{
    int err = 0;
    zkv_kv_stream_t *w = zkv_kv_stream_new (view, S_GROUP, S_SHARDS, &err);
    assert (w && err == 0);
    uint8_t *all = NULL;
    size_t len = 0;
    int chunks = 0;
    for (bool done = false; !done;) {
        uint8_t *buf;
        size_t n;
        int rc = zkv_kv_stream_read (w, len, max, &buf, &n, &done);
        assert (rc == 0);
        (void)rc;
        if (recv) {
            rc = zkv_kv_recv_chunk (recv, len, buf, n, done);
            assert (rc == 0);
        }
        all = realloc (all, len + n + 1);
        memcpy (all + len, buf, n);
        len += n;
        free (buf);
        chunks++;
    }
    zkv_kv_stream_destroy (&w);
    *len_p = len;
    *chunks_p = chunks;
    return all;
}

// True if kv's whole state (data, dedup table, applied index) is exactly the blob's.
static bool
s_state_is (zkv_kv_t *kv, const uint8_t *blob, size_t len)
{
    uint8_t *now;
    size_t now_len;
    if (zkv_kv_snapshot_write (kv, &now, &now_len) != 0)
        return false;
    bool same = now_len == len && memcmp (now, blob, len) == 0;
    free (now);
    return same;
}

// True if the store holds nothing (no data, no dedup record) under storage id sid.
static bool
s_sid_empty (zkv_kvstore_t *store, uint64_t sid)
{
    zkv_kvpos_t from = {0};
    zkv_kvchunk_t chunk;
    zkv_kvdedup_t *recs;
    size_t n;
    if (zkv_kvstore_scan (store, sid, &from, UINT32_MAX, 1024, &chunk) != 0)
        return false;
    bool empty = chunk.count == 0;
    zkv_kvchunk_free (&chunk);
    if (zkv_kvstore_load_dedup (store, sid, &recs, &n) != 0)
        return false;
    zkv_kvdedup_free_all (recs, n);
    return empty && n == 0;
}

#define S_GEN1 (S_GROUP | (1ULL << 63)) // the storage id of S_GROUP's second generation

// The chunks of a stream of view, at most max bytes each: (*chunks_p)[i], (*lens_p)[i].
static size_t
s_chunks (zkv_kvstore_t *view, size_t max, uint8_t ***chunks_p, size_t **lens_p)
{
    int err = 0;
    zkv_kv_stream_t *w = zkv_kv_stream_new (view, S_GROUP, S_SHARDS, &err);
    assert (w && err == 0);
    uint8_t **chunks = NULL;
    size_t *lens = NULL, n = 0, off = 0;
    for (bool done = false; !done; n++) {
        chunks = realloc (chunks, (n + 1) * sizeof *chunks);
        lens = realloc (lens, (n + 1) * sizeof *lens);
        int rc = zkv_kv_stream_read (w, off, max, &chunks[n], &lens[n], &done);
        assert (rc == 0);
        (void)rc;
        off += lens[n];
    }
    zkv_kv_stream_destroy (&w);
    *chunks_p = chunks;
    *lens_p = lens;
    return n;
}

static void
s_chunks_free (uint8_t **chunks, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (chunks[i]);
    free (chunks);
    free (lens);
}

// The stream is the blob cut into chunks of whole records, read from a point-in-time view
// (the source keeps applying meanwhile), and the receiver rebuilds the same state from it. It
// is staged: until finish the receiver serves, applies and streams its old state.
static void
s_stream_round_trip (s_kind_t kind)
{
    s_fix_t fa = {.kind = kind}, fb = {.kind = kind};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    s_workload (a, 400, 100);
    s_workload (b, 30, 700); // b's own state, replaced at finish
    uint8_t *blob, *old;
    size_t blob_len, old_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &blob, &blob_len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &old, &old_len), 0);
    zkv_kvstore_t *view = zkv_kvstore_view (fa.store);
    CHECK (view != NULL);
    s_workload (a, 100, 900); // after the view: not in the stream

    uint8_t **chunks;
    size_t *lens;
    size_t n = s_chunks (view, 64, &chunks, &lens), len = 0;
    CHECK (n > 5);
    uint8_t *all = malloc (blob_len + 1);
    for (size_t i = 0; i < n; i++) {
        CHECK (lens[i] <= 64 || i == 0); // the header and dedup records are small
        CHECK (len + lens[i] <= blob_len);
        if (len + lens[i] <= blob_len)
            memcpy (all + len, chunks[i], lens[i]);
        len += lens[i];
    }
    CHECK_EQ_U64 (len, blob_len);
    CHECK (memcmp (all, blob, blob_len) == 0);
    free (all);

    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, off, chunks[i], lens[i], i + 1 == n), 0);
        off += lens[i];
        if (i == n / 2) {
            // Halfway: the old state is whole and current, served and streamed.
            CHECK (!zkv_kv_incomplete (b));
            CHECK_EQ_U64 (zkv_kv_applied (b), 30);
            CHECK (s_state_is (b, old, old_len));
            CHECK (s_get_is (b, "k3", "v3."));
            zkv_kv_result_t one;
            CHECK_EQ_U64 (zkv_kv_lookup (b, 700 + 29 % 5, 29 / 5 + 1, 0, s_u8 ("k29"), 3, &one), 1);
            CHECK (one.duplicate);
            zkv_bytes_free (&one.value);
            zkv_kvstore_t *bview = zkv_kvstore_view (fb.store);
            size_t sl;
            int sc;
            uint8_t *streamed = s_stream_all (bview, NULL, 100, &sl, &sc);
            CHECK (sl == old_len && memcmp (streamed, old, old_len) == 0);
            free (streamed);
            zkv_kvstore_destroy (&bview);
        }
    }
    // Whole but not finished: still the old state.
    CHECK_EQ_U64 (zkv_kv_applied (b), 30);
    CHECK (s_state_is (b, old, old_len));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 399), ZKV_ECORRUPT); // not the stream's index
    CHECK (s_state_is (b, old, old_len));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 400), 0);
    CHECK (!zkv_kv_incomplete (b));
    CHECK_EQ_U64 (zkv_kv_applied (b), 400);
    CHECK (s_state_is (b, blob, blob_len));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 400), ZKV_EINVAL); // once
    // The dedup table came along, b's own clients went with its old state.
    zkv_kv_result_t one;
    CHECK_EQ_U64 (zkv_kv_lookup (b, 100 + 399 % 5, 399 / 5 + 1, 0, s_u8 ("k29"), 3, &one), 1);
    zkv_bytes_free (&one.value);
    CHECK_EQ_U64 (zkv_kv_lookup (b, 700, 1, 0, s_u8 ("k0"), 2, &one), 0);
    // The old generation is gone from the store; the new one streams from a view.
    CHECK (s_sid_empty (fb.store, S_GROUP));
    CHECK (!s_sid_empty (fb.store, S_GEN1));
    zkv_kvstore_t *bview = zkv_kvstore_view (fb.store);
    size_t sl;
    int sc;
    uint8_t *streamed = s_stream_all (bview, NULL, 100, &sl, &sc);
    CHECK (sl == blob_len && memcmp (streamed, blob, blob_len) == 0);
    free (streamed);
    zkv_kvstore_destroy (&bview);
    // b follows a's log from there, and a restart keeps it all.
    s_workload (b, 10, 300);
    CHECK_EQ_U64 (zkv_kv_applied (b), 410);
    uint8_t *after;
    size_t after_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &after, &after_len), 0);
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK (b != NULL);
    CHECK_EQ_U64 (zkv_kv_applied (b), 410);
    CHECK (s_state_is (b, after, after_len));
    free (after);

    // A second stream goes back into the first generation, and empties the second.
    recv = zkv_kv_recv_new (b);
    size_t tl;
    int tc;
    uint8_t *tmp = s_stream_all (view, recv, 200, &tl, &tc);
    free (tmp);
    CHECK_EQ_U64 (zkv_kv_applied (b), 410);
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 400), ZKV_EINVAL); // older than b's state
    CHECK_EQ_U64 (zkv_kv_applied (b), 410);
    zkv_kvstore_t *aview = zkv_kvstore_view (fa.store);
    tmp = s_stream_all (aview, recv, 200, &tl, &tc);
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 500), 0);
    CHECK (s_state_is (b, tmp, tl));
    CHECK (s_sid_empty (fb.store, S_GEN1));
    free (tmp);
    zkv_kvstore_destroy (&aview);

    s_chunks_free (chunks, lens, n);
    zkv_kvstore_destroy (&view);
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    free (blob);
    free (old);
    s_close (&fa);
    s_close (&fb);
}

static void
test_kv_stream_round_trip (void)
{
    s_stream_round_trip (S_MEM);
    s_stream_round_trip (S_LDB);
}

// Chunks are resumable: asking an earlier offset again (a retransmit) rewinds and skips; an
// offset inside a record is refused; a chunk holds at most max bytes unless one record is
// larger.
static void
test_kv_stream_resume (void)
{
    s_fix_t fa = {.kind = S_LDB};
    CHECK_EQ_U64 (s_open (&fa), 0);
    zkv_kv_t *a = s_kv (fa.store);
    s_workload (a, 200, 100);
    zkv_kvstore_t *view = zkv_kvstore_view (fa.store);
    size_t len;
    int chunks;
    uint8_t *all = s_stream_all (view, NULL, 100, &len, &chunks);
    int err;
    zkv_kv_stream_t *w = zkv_kv_stream_new (view, S_GROUP, S_SHARDS, &err);
    CHECK (w != NULL);
    CHECK_EQ_U64 (zkv_kv_stream_applied (w), 200);
    uint8_t *c1, *c2, *again;
    size_t n1, n2, n3;
    bool done;
    CHECK_EQ_U64 (zkv_kv_stream_read (w, 0, 100, &c1, &n1, &done), 0);
    CHECK (n1 <= 100 && !done && memcmp (c1, all, n1) == 0);
    CHECK_EQ_U64 (zkv_kv_stream_read (w, n1, 100, &c2, &n2, &done), 0);
    CHECK (memcmp (c2, all + n1, n2) == 0);
    CHECK_EQ_U64 (zkv_kv_stream_read (w, n1, 100, &again, &n3, &done), 0); // retransmit
    CHECK (n3 == n2 && memcmp (again, c2, n2) == 0);
    free (again);
    CHECK_EQ_U64 (zkv_kv_stream_read (w, 1, 100, &again, &n3, &done), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_kv_stream_read (w, len + 1, 100, &again, &n3, &done), ZKV_EINVAL);
    free (c1);
    free (c2);
    zkv_kv_stream_destroy (&w);
    free (all);
    zkv_kvstore_destroy (&view);
    zkv_kv_destroy (&a);
    s_close (&fa);
}

// A crash (or a restart) after any chunk of a stream reopens the old state, whole; after
// finish, the new one. After the last chunk, zkv_kv_boot_promote with the Raft snapshot's
// index installs the staged state (the crash fell between the Raft snapshot's save and the
// install); with any other index it drops it. A new stream at offset 0 drops an abandoned one.
static void
s_stream_crash (s_kind_t kind)
{
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = kind};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    s_workload (a, 300, 100);
    s_workload (b, 30, 700);
    uint8_t *blob, *old;
    size_t blob_len, old_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &blob, &blob_len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &old, &old_len), 0);
    zkv_kvstore_t *view = zkv_kvstore_view (fa.store);
    uint8_t **chunks;
    size_t *lens;
    size_t n = s_chunks (view, 120, &chunks, &lens);
    CHECK (n > 4);
    for (size_t upto = 0; upto < n && !zkv_test_failed_; upto++) {
        // Chunks 0..upto of a stream (each new stream drops the last one), then a crash.
        zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
        size_t off = 0;
        for (size_t i = 0; i <= upto; i++) {
            CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, off, chunks[i], lens[i], i + 1 == n), 0);
            off += lens[i];
        }
        zkv_kv_recv_destroy (&recv);
        zkv_kv_destroy (&b);
        CHECK_EQ_U64 (s_restart (&fb), 0);
        b = s_kv (fb.store);
        CHECK (b != NULL);
        CHECK (!zkv_kv_incomplete (b));
        CHECK_EQ_U64 (zkv_kv_applied (b), 30);
        CHECK (s_state_is (b, old, old_len));
        CHECK (!s_sid_empty (fb.store, S_GEN1)); // staged, not dropped by the reopen itself
        if (upto % 2 == 0) {
            // A boot that drops the leftovers (the Raft snapshot is not this stream's).
            CHECK_EQ_U64 (zkv_kv_boot_promote (b, 299), 0);
            CHECK (s_sid_empty (fb.store, S_GEN1));
            CHECK (s_state_is (b, old, old_len));
        }
    }
    // The last chunk was written (the loop's end): a boot whose Raft snapshot is the stream's
    // installs it without a new transfer.
    {
        zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, off, chunks[i], lens[i], i + 1 == n), 0);
            off += lens[i];
        }
        zkv_kv_recv_destroy (&recv);
    }
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK_EQ_U64 (zkv_kv_applied (b), 30);
    CHECK_EQ_U64 (zkv_kv_boot_promote (b, 300), 1);
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    CHECK (s_state_is (b, blob, blob_len));
    CHECK (s_sid_empty (fb.store, S_GROUP));
    CHECK_EQ_U64 (zkv_kv_boot_promote (b, 300), 0); // nothing staged any more
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    CHECK (s_state_is (b, blob, blob_len));

    // And a crash right after finish reopens the new state.
    s_workload (a, 50, 900);
    zkv_kvstore_t *view2 = zkv_kvstore_view (fa.store);
    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    size_t len2;
    int c2;
    uint8_t *blob2 = s_stream_all (view2, recv, 300, &len2, &c2);
    CHECK (s_state_is (b, blob, blob_len));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 350), 0);
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK_EQ_U64 (zkv_kv_applied (b), 350);
    CHECK (s_state_is (b, blob2, len2));
    CHECK (s_sid_empty (fb.store, S_GEN1));
    free (blob2);
    zkv_kvstore_destroy (&view2);

    s_chunks_free (chunks, lens, n);
    zkv_kvstore_destroy (&view);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    free (blob);
    free (old);
    s_close (&fa);
    s_close (&fb);
}

static void
test_kv_stream_crash (void)
{
    s_stream_crash (S_MEM);
    if (zkv_test_failed_)
        return;
    s_stream_crash (S_LDB);
}

// Abandoned streams and malformed chunks change nothing current: the receiver keeps applying
// and serving; a gap or a bad chunk drops the stream, and a new one from offset 0 installs.
static void
test_kv_stream_interrupted (void)
{
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = S_LDB};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    s_workload (a, 300, 100);
    s_workload (b, 30, 700);
    uint8_t *old;
    size_t old_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &old, &old_len), 0);
    zkv_kvstore_t *view = zkv_kvstore_view (fa.store);
    uint8_t **chunks;
    size_t *lens;
    size_t n = s_chunks (view, 200, &chunks, &lens);
    CHECK (n > 3);
    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, chunks[0], lens[0], false), 0);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, lens[0] + 1, s_u8 ("x"), 1, false), ZKV_EINVAL); // gap
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 1, s_u8 ("x"), 1, false), ZKV_EINVAL);   // overlap
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, lens[0], chunks[1], lens[1], false), 0); // written
    CHECK (s_state_is (b, old, old_len));

    // Malformed chunks, first or later: refused, nothing current changes.
    static const char *bad[] = {"\x95\x01", "\x93\x01\xc4\x01", "\xc1",
                                "\x93\x09\xc4\x01k\xc4\x00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t bl = strlen (bad[i]);
        CHECK (zkv_kv_recv_chunk (recv, 0, s_u8 (bad[i]), bl, false) < 0);
        CHECK (s_state_is (b, old, old_len));
        CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, chunks[0], lens[0], false), 0);
        CHECK (zkv_kv_recv_chunk (recv, lens[0], s_u8 (bad[i]), bl, false) < 0);
        CHECK (s_state_is (b, old, old_len));
        CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, lens[0], chunks[1], lens[1], false), ZKV_EINVAL);
    }
    // A stream that ends before its announced dedup records is refused and not staged whole.
    CHECK (zkv_kv_recv_chunk (recv, 0, chunks[0], 10, true) < 0);
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 300), ZKV_EINVAL);
    CHECK (s_state_is (b, old, old_len));

    // An abandoned stream (the node campaigned and leads now): the state machine goes on.
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, chunks[0], lens[0], false), 0);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, lens[0], chunks[1], lens[1], false), 0);
    s_workload (b, 5, 800);
    CHECK_EQ_U64 (zkv_kv_applied (b), 35);
    CHECK (s_get_is (b, "k0", "v0."));
    zkv_kv_destroy (&b); // a restart
    zkv_kv_recv_destroy (&recv);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK_EQ_U64 (zkv_kv_applied (b), 35);
    uint8_t *mid;
    size_t mid_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &mid, &mid_len), 0);

    // Then a whole stream installs, exactly the view's state.
    recv = zkv_kv_recv_new (b);
    size_t len;
    int nc;
    uint8_t *all = s_stream_all (view, recv, 150, &len, &nc);
    CHECK (s_state_is (b, mid, mid_len));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 300), 0);
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    CHECK (s_state_is (b, all, len));
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&b);
    CHECK_EQ_U64 (s_restart (&fb), 0);
    b = s_kv (fb.store);
    CHECK (!zkv_kv_incomplete (b));
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    CHECK (s_state_is (b, all, len));
    free (all);
    free (mid);
    free (old);
    s_chunks_free (chunks, lens, n);
    zkv_kvstore_destroy (&view);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    s_close (&fa);
    s_close (&fb);
}

// Appends msg, encoded by the codec, to the sequence in (*buf_p, *len_p).
static void
s_seq_add (uint8_t **buf_p, size_t *len_p, const zkv_msg_t *msg)
{
    uint8_t *enc;
    size_t n;
    int rc = zkv_msg_encode (msg, &enc, &n);
    assert (rc == 0);
    (void)rc;
    *buf_p = realloc (*buf_p, *len_p + n);
    memcpy (*buf_p + *len_p, enc, n);
    *len_p += n;
    free (enc);
}

// A malformed sequence of well-formed records: the blob restore and a one-chunk stream both
// refuse it with want, and b's state stays exactly old.
static void
s_refused (zkv_kv_t *b, const uint8_t *old, size_t old_len, const uint8_t *seq, size_t len,
           int want)
{
    int rc = zkv_kv_snapshot_restore (b, seq, len);
    if (rc != want)
        fprintf (stderr, "restore: %s, want %s\n", zkv_errname (rc), zkv_errname (want));
    CHECK_EQ_U64 (rc, want);
    CHECK (s_state_is (b, old, old_len));
    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    rc = zkv_kv_recv_chunk (recv, 0, seq, len, true);
    if (rc != want)
        fprintf (stderr, "chunk: %s, want %s\n", zkv_errname (rc), zkv_errname (want));
    CHECK_EQ_U64 (rc, want);
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, zkv_kv_applied (b) + 1), ZKV_EINVAL);
    zkv_kv_recv_destroy (&recv);
    CHECK (s_state_is (b, old, old_len));
}

// The snapshot is a sequence of kv_snap_* rows of the message table, encoded by the codec:
// walked with zkv_msg_decode_prefix, it is a header, its dedup records, then the items in
// (shard, key) order, and re-encoding each record gives the same bytes. Sequences of valid
// records out of their place, of foreign messages, or with bad values are refused.
static void
test_kv_snapshot_records (void)
{
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    s_workload (a, 60, 100);
    s_workload (b, 9, 700);
    uint8_t *blob, *old;
    size_t blob_len, old_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (a, &blob, &blob_len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &old, &old_len), 0);

    // Walk it record by record.
    zkv_msg_t recs[128];
    size_t n = 0, off = 0;
    while (off < blob_len && n < 128) {
        size_t used;
        CHECK_EQ_U64 (zkv_msg_decode_prefix (blob + off, blob_len - off, &recs[n], &used), 0);
        uint8_t *enc;
        size_t enc_len;
        CHECK_EQ_U64 (zkv_msg_encode (&recs[n], &enc, &enc_len), 0);
        CHECK (enc_len == used && memcmp (enc, blob + off, used) == 0);
        free (enc);
        off += used;
        n++;
    }
    CHECK_EQ_U64 (off, blob_len);
    CHECK_EQ_U64 (recs[0].type, ZKV_MSG_KV_SNAP_HEADER);
    const zkv_kv_snap_header_t *h = &recs[0].u.kv_snap_header;
    CHECK_EQ_U64 (h->format, ZKV_KV_SNAP_FORMAT);
    CHECK_EQ_U64 (h->group, S_GROUP);
    CHECK_EQ_U64 (h->nshards, S_SHARDS);
    CHECK_EQ_U64 (h->applied, 60);
    CHECK (h->n_dedup >= 5); // clients 100..104, per shard they wrote to
    size_t nd = (size_t)h->n_dedup;
    for (size_t i = 1; i <= nd; i++) {
        CHECK_EQ_U64 (recs[i].type, ZKV_MSG_KV_SNAP_DEDUP);
        CHECK (recs[i].u.kv_snap_dedup.client_id >= 100 && recs[i].u.kv_snap_dedup.seq >= 1);
    }
    CHECK_EQ_U64 (n, 1 + nd + 37); // keys k0..k36
    for (size_t i = 1 + nd; i < n; i++) {
        CHECK_EQ_U64 (recs[i].type, ZKV_MSG_KV_SNAP_ITEM);
        const zkv_kv_snap_item_t *it = &recs[i].u.kv_snap_item;
        CHECK_EQ_U64 (it->shard, zkv_kv_shard_of (it->key.data, it->key.len, S_SHARDS));
        if (i > 1 + nd) {
            const zkv_kv_snap_item_t *prev = &recs[i - 1].u.kv_snap_item;
            size_t m = prev->key.len < it->key.len ? prev->key.len : it->key.len;
            int c = memcmp (prev->key.data, it->key.data, m);
            CHECK (prev->shard < it->shard || (prev->shard == it->shard &&
                                               (c < 0 || (c == 0 && prev->key.len < it->key.len))));
        }
    }
    const zkv_msg_t *hdr = &recs[0], *ded = &recs[1], *item = &recs[1 + nd];

    // Rebuilt from its records, the blob restores.
    uint8_t *seq = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        s_seq_add (&seq, &len, &recs[i]);
    CHECK (len == blob_len && memcmp (seq, blob, len) == 0);
    free (seq);

    // Each variant: (seq, len) rebuilt from records, then refused with the code expected.
    zkv_msg_t m;
#define S_VARIANT(want, ...)                                                                       \
    do {                                                                                           \
        seq = NULL;                                                                                \
        len = 0;                                                                                   \
        __VA_ARGS__;                                                                               \
        s_refused (b, old, old_len, seq, len, want);                                               \
        free (seq);                                                                                \
        if (zkv_test_failed_)                                                                      \
            return;                                                                                \
    } while (0)
    // Only the header, with its dedup records announced: cut short.
    S_VARIANT (ZKV_ETRUNC, s_seq_add (&seq, &len, hdr));
    // Another format, group, shard count; applied 0.
    m = *hdr;
    m.u.kv_snap_header.format = 1;
    S_VARIANT (ZKV_EVERSION, s_seq_add (&seq, &len, &m));
    m = *hdr;
    m.u.kv_snap_header.group = S_GROUP + 1;
    S_VARIANT (ZKV_EINVAL, s_seq_add (&seq, &len, &m));
    m = *hdr;
    m.u.kv_snap_header.nshards = S_SHARDS + 1;
    S_VARIANT (ZKV_EINVAL, s_seq_add (&seq, &len, &m));
    m = *hdr;
    m.u.kv_snap_header.applied = 0;
    m.u.kv_snap_header.n_dedup = 0;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m));
    // No header first; a second header.
    S_VARIANT (ZKV_EPROTO, s_seq_add (&seq, &len, item));
    m = *hdr;
    m.u.kv_snap_header.n_dedup = 0;
    S_VARIANT (ZKV_EPROTO, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &m));
    // An item while dedup records are due; a dedup record more than announced.
    m = *hdr;
    m.u.kv_snap_header.n_dedup = 1;
    S_VARIANT (ZKV_EPROTO, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, item));
    S_VARIANT (ZKV_EPROTO, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, ded);
               s_seq_add (&seq, &len, ded));
    // A message of the table that is no snapshot record, where an item goes.
    zkv_msg_t cmd = {.type = ZKV_MSG_KV_COMMAND};
    cmd.u.kv_command = (zkv_kv_command_t){.client_id = 1, .seq = 1, .op = ZKV_OP_PUT};
    cmd.u.kv_command.key = item->u.kv_snap_item.key;
    m = *hdr;
    m.u.kv_snap_header.n_dedup = 0;
    S_VARIANT (ZKV_EPROTO, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &cmd));
    // Bad values: an item in another shard than its key's, an empty key; a dedup record of
    // seq 0, of an unknown shard, of an impossible status.
    zkv_msg_t bad = *item;
    bad.u.kv_snap_item.shard = (bad.u.kv_snap_item.shard + 1) % S_SHARDS;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &bad));
    bad = *item;
    bad.u.kv_snap_item.key = (zkv_bytes_t){0};
    bad.u.kv_snap_item.shard = 0;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &bad));
    m.u.kv_snap_header.n_dedup = 1;
    bad = *ded;
    bad.u.kv_snap_dedup.seq = 0;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &bad));
    bad = *ded;
    bad.u.kv_snap_dedup.shard = S_SHARDS;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &bad));
    bad = *ded;
    bad.u.kv_snap_dedup.status = 5000;
    S_VARIANT (ZKV_ECORRUPT, s_seq_add (&seq, &len, &m); s_seq_add (&seq, &len, &bad));
    // A record of another protocol version; the last record cut by one byte.
    S_VARIANT (ZKV_EVERSION, s_seq_add (&seq, &len, hdr); seq[1] = ZKV_PROTOCOL_VERSION + 1);
    S_VARIANT (ZKV_ETRUNC, for (size_t i = 0; i < n; i++) s_seq_add (&seq, &len, &recs[i]); len--);
#undef S_VARIANT

    // A chunk that ends inside a record is refused, though the stream goes on from the cut.
    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    size_t first = blob_len - 3;
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, blob, first, false), ZKV_ETRUNC);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, first, blob + first, 3, true), ZKV_EINVAL);
    CHECK (s_state_is (b, old, old_len));
    // Cut between two records, the same bytes install.
    size_t half = 0;
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t *enc;
        size_t el;
        CHECK_EQ_U64 (zkv_msg_encode (&recs[i], &enc, &el), 0);
        half += el;
        free (enc);
    }
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, blob, half, false), 0);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, half, blob + half, blob_len - half, true), 0);
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 60), 0);
    CHECK (s_state_is (b, blob, blob_len));
    zkv_kv_recv_destroy (&recv);

    for (size_t i = 0; i < n; i++)
        zkv_msg_free (&recs[i]);
    free (blob);
    free (old);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    s_close (&fa);
    s_close (&fb);
}

// zkvd --rejoin: an empty LevelDB store is marked missing, durably (it survives a restart), so
// the group's state machine boots needing its leader's snapshot; marking again is harmless;
// a store or log store holding anything of the group is refused.
static void
test_kv_rejoin (void)
{
    s_fix_t f = {.kind = S_LDB};
    CHECK_EQ_U64 (s_open (&f), 0);
    CHECK_EQ_U64 (zkv_kv_rejoin (f.store, f.log, S_GROUP), 0);
    CHECK_EQ_U64 (s_restart (&f), 0);
    zkv_kv_t *kv = s_kv (f.store);
    CHECK (kv && zkv_kv_incomplete (kv));
    zkv_kv_destroy (&kv);
    CHECK_EQ_U64 (zkv_kv_rejoin (f.store, f.log, S_GROUP), 0); // a rejoin that restarted
    // Another group with data applied, or with a Raft term stored: refused, left as it was.
    kv = s_kv (f.store);
    zkv_kv_destroy (&kv);
    zkv_kv_t *other = NULL;
    {
        zkv_kv_limits_t limits;
        zkv_kv_limits_defaults (&limits);
        other = zkv_kv_new (f.store, S_GROUP + 1, S_SHARDS, &limits, NULL);
    }
    CHECK (other);
    zkv_entry_t e;
    zkv_kv_results_t r;
    s_cmd (&e, 1, 5, 1, ZKV_OP_PUT, "k", "v");
    CHECK_EQ_U64 (zkv_kv_apply (other, &e, 1, &r), 0);
    zkv_kv_results_free (&r);
    zkv_entry_free (&e);
    zkv_kv_destroy (&other);
    CHECK_EQ_U64 (zkv_kv_rejoin (f.store, f.log, S_GROUP + 1), ZKV_EINVAL);
    zkv_hard_state_t hs = {.term = 3, .vote = 1};
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (f.log, S_GROUP + 2, &hs), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (f.log), 0);
    CHECK_EQ_U64 (zkv_kv_rejoin (f.store, f.log, S_GROUP + 2), ZKV_EINVAL);
    kv = zkv_kv_new (f.store, S_GROUP + 2, S_SHARDS, &(zkv_kv_limits_t){4096, 1 << 20, 0, 0}, NULL);
    CHECK (kv && !zkv_kv_incomplete (kv));
    zkv_kv_destroy (&kv);
    s_close (&f);
}


// A store an older zkv left mid-install (the group cleared, its applied index
// ZKV_KV_APPLIED_INCOMPLETE) is still incomplete: it serves, applies and streams nothing until
// a whole stream is installed, which also empties the old partial data.
static void
test_kv_old_format_incomplete (void)
{
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = S_MEM};
    CHECK_EQ_U64 (s_open (&fa), 0);
    CHECK_EQ_U64 (s_open (&fb), 0);
    zkv_kv_t *a = s_kv (fa.store), *b;
    s_workload (a, 300, 100);
    // What an older receiver's first chunk wrote: some records, applied INCOMPLETE.
    zkv_kvbatch_t *batch = zkv_kvstore_batch_new (fb.store);
    zkv_kvstore_put (fb.store, batch, S_GROUP, zkv_kv_shard_of (s_u8 ("k1"), 2, S_SHARDS),
                     s_u8 ("k1"), 2, s_u8 ("partial"), 7);
    zkv_kvstore_set_applied (fb.store, batch, S_GROUP, ZKV_KV_APPLIED_INCOMPLETE);
    CHECK_EQ_U64 (zkv_kvstore_commit (fb.store, &batch), 0);
    b = s_kv (fb.store);
    CHECK (b != NULL);
    CHECK (zkv_kv_incomplete (b));
    zkv_bytes_t v;
    CHECK_EQ_U64 (zkv_kv_get (b, s_u8 ("k1"), 2, &v), ZKV_EUNAVAILABLE);
    uint8_t *tmp;
    size_t tmp_len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (b, &tmp, &tmp_len), ZKV_EUNAVAILABLE);
    zkv_kvstore_t *bview = zkv_kvstore_view (fb.store);
    int err;
    zkv_kv_stream_t *bw = zkv_kv_stream_new (bview, S_GROUP, S_SHARDS, &err);
    CHECK (bw == NULL && err == ZKV_EUNAVAILABLE);
    zkv_kvstore_destroy (&bview);
    zkv_entry_t e;
    zkv_kv_results_t r;
    s_cmd (&e, 1, 5, 1, ZKV_OP_PUT, "zz", "v");
    CHECK_EQ_U64 (zkv_kv_apply (b, &e, 1, &r), 0); // nothing applies onto incomplete data
    CHECK_EQ_U64 (r.count, 0);
    zkv_kv_results_free (&r);
    zkv_entry_free (&e);
    CHECK_EQ_U64 (zkv_kv_boot_promote (b, 300), 0); // nothing staged
    CHECK (zkv_kv_incomplete (b));
    // A restart is still incomplete; a stream interrupted by it too.
    zkv_kvstore_t *view = zkv_kvstore_view (fa.store);
    uint8_t **chunks;
    size_t *lens;
    size_t n = s_chunks (view, 200, &chunks, &lens);
    zkv_kv_recv_t *recv = zkv_kv_recv_new (b);
    CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, 0, chunks[0], lens[0], false), 0);
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&b);
    zkv_kvstore_mem_crash (fb.store);
    b = s_kv (fb.store);
    CHECK (zkv_kv_incomplete (b));
    // A whole stream repairs it, and the partial data goes.
    recv = zkv_kv_recv_new (b);
    size_t len;
    int nc;
    uint8_t *all = s_stream_all (view, recv, 150, &len, &nc);
    CHECK (zkv_kv_incomplete (b));
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, 300), 0);
    CHECK (!zkv_kv_incomplete (b));
    CHECK (s_state_is (b, all, len));
    CHECK (s_sid_empty (fb.store, S_GROUP));
    zkv_kv_recv_destroy (&recv);
    zkv_kv_destroy (&b);
    zkv_kvstore_mem_crash (fb.store);
    b = s_kv (fb.store);
    CHECK (!zkv_kv_incomplete (b));
    CHECK_EQ_U64 (zkv_kv_applied (b), 300);
    CHECK (s_state_is (b, all, len));
    free (all);
    s_chunks_free (chunks, lens, n);
    zkv_kvstore_destroy (&view);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    s_close (&fa);
    s_close (&fb);
}

ZKV_TEST_MAIN (TEST (test_store_basic) TEST (test_store_dedup_scan_delete)
                   TEST (test_store_ldb_needs_ldb) TEST (test_store_ldb_deleted_under_view)
                       TEST (test_kv_apply) TEST (test_kv_seq_validated) TEST (test_kv_dedup)
                           TEST (test_kv_limits) TEST (test_kv_malformed_entries)
                               TEST (test_kv_snapshot_round_trip) TEST (test_kv_snapshot_hostile)
                                   TEST (test_kv_boot) TEST (test_kv_commit_failure)
                                       TEST (test_kv_stream_round_trip) TEST (test_kv_stream_resume)
                                           TEST (test_kv_stream_crash)
                                               TEST (test_kv_stream_interrupted)
                                                   TEST (test_kv_old_format_incomplete) TEST (test_kv_rejoin)
                                                       TEST (test_kv_snapshot_records))
