// Client sessions of the KV state machine (cluster/zkv_kv.h, "Client sessions"): log time,
// expiry and the cap decided alike by every replica, ZKV_ESESSION instead of a second apply,
// and the session state through restarts, snapshots (blob and stream) and shard pulls.
#include "zkv_kv_int.h"
#include "zkv_kv_shards.h"
#include "zkv_kvstores.h"
#include "zkv_ldbstore.h"
#include "zkv_test.h"

#include <assert.h>
#include <dirent.h>
#include <unistd.h>

#define S_GROUP  3
#define S_SHARDS 4
#define S_TTL    120000                   // the least ttl the config allows
#define S_T0     UINT64_C (1700000010000) // a sweep point of S_TTL (a multiple of S_TTL / 8)
#define S_MARGIN ZKV_KV_SESSION_MARGIN_MS

// In helpers that return a value (CHECK returns from a void test): a broken harness aborts.
#define S_MUST(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "%s:%d: harness: %s\n", __FILE__, __LINE__, #cond);                   \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

// ---------------------------------------------------------------------------------------------
// Fixture: memory stores, and LevelDB ones in a fresh directory

typedef enum { S_MEM, S_LDB } s_kind_t;

typedef struct {
    s_kind_t kind;
    zkv_kvstore_t *store;
    zkv_logstore_t *log; // LevelDB: owns the database
    char dir[64];
} s_fix_t;

static void
s_open (s_fix_t *f)
{
    if (f->kind == S_MEM) {
        if (!f->store)
            f->store = zkv_kvstore_mem_new ();
        return;
    }
    if (!f->dir[0]) {
        snprintf (f->dir, sizeof f->dir, "/tmp/zkv-test-sessions-XXXXXX");
        S_MUST (mkdtemp (f->dir));
    }
    int err;
    char msg[256];
    f->log = zkv_ldbstore_new (f->dir, &err, msg, sizeof msg);
    S_MUST (f->log);
    f->store = zkv_kvstore_ldb_new (f->log);
    S_MUST (f->store);
}

// A restart: LevelDB closes and reopens its database; memory drops what is not committed.
static void
s_restart (s_fix_t *f)
{
    if (f->kind == S_MEM) {
        zkv_kvstore_mem_crash (f->store);
        return;
    }
    zkv_kvstore_destroy (&f->store);
    zkv_logstore_destroy (&f->log);
    s_open (f);
}

static void
s_close (s_fix_t *f)
{
    zkv_kvstore_destroy (&f->store);
    zkv_logstore_destroy (&f->log);
    if (f->dir[0]) {
        DIR *d = opendir (f->dir);
        struct dirent *ent;
        while (d && (ent = readdir (d))) {
            char path[512];
            snprintf (path, sizeof path, "%s/%s", f->dir, ent->d_name);
            if (strcmp (ent->d_name, ".") && strcmp (ent->d_name, ".."))
                unlink (path);
        }
        if (d)
            closedir (d);
        rmdir (f->dir);
    }
    memset (f, 0, sizeof *f);
}

static zkv_kv_t *
s_kv (zkv_kvstore_t *store)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.session_ttl_ms = S_TTL;
    int err = 0;
    zkv_kv_t *kv = zkv_kv_new (store, S_GROUP, S_SHARDS, &limits, &err);
    S_MUST (kv);
    return kv;
}

// ---------------------------------------------------------------------------------------------
// Commands as a leader stamps them

// The policy the next commands carry (a leader's); each test sets it first (a test that fails
// returns early, and must not leave its policy to the next).
static uint64_t s_ttl = S_TTL, s_max = 0;

static void
s_policy (uint64_t ttl, uint64_t max)
{
    s_ttl = ttl;
    s_max = max;
}

typedef struct {
    uint64_t client, seq, op;
    const char *key, *value;
    uint64_t time_ms;    // the leader's stamp
    uint64_t session_t0; // the client's
} s_cmd_t;

static void
s_entry (zkv_entry_t *e, uint64_t index, const s_cmd_t *c)
{
    zkv_msg_t msg = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *k = &msg.u.kv_command;
    k->client_id = c->client;
    k->seq = c->seq;
    k->op = c->op ? c->op : ZKV_OP_APPEND;
    k->key = (zkv_bytes_t){(uint8_t *)c->key, strlen (c->key)};
    k->value = (zkv_bytes_t){(uint8_t *)c->value, c->value ? strlen (c->value) : 0};
    k->time_ms = c->time_ms;
    k->session_t0 = c->session_t0;
    k->session_ttl_ms = s_ttl;
    k->max_sessions = s_max;
    memset (e, 0, sizeof *e);
    e->term = 1;
    e->index = index;
    e->type = ZKV_ENTRY_NORMAL;
    size_t len;
    S_MUST (zkv_msg_encode (&msg, &e->data.data, &len) == 0);
    e->data.len = len;
}

// Applies one command as the next entry; its status (0 or negative), its value into *out if
// asked for.
static int
s_apply (zkv_kv_t *kv, const s_cmd_t *c)
{
    zkv_entry_t e;
    s_entry (&e, zkv_kv_applied (kv) + 1, c);
    zkv_kv_results_t r;
    S_MUST (zkv_kv_apply (kv, &e, 1, &r) == 0 && r.count == 1);
    int status = r.items[0].status;
    S_MUST (r.items[0].log_ms == zkv_kv_log_ms (kv));
    zkv_kv_results_free (&r);
    zkv_entry_free (&e);
    return status;
}

static bool
s_get_is (zkv_kv_t *kv, const char *key, const char *want)
{
    zkv_bytes_t v;
    int rc = zkv_kv_get (kv, (const uint8_t *)key, strlen (key), &v);
    bool ok = rc == 0 && v.len == strlen (want) && memcmp (v.data, want, v.len) == 0;
    if (!ok)
        fprintf (stderr, "get %s: %s '%.*s', want '%s'\n", key, zkv_errname (rc), (int)v.len,
                 v.data ? (char *)v.data : "", want);
    zkv_bytes_free (&v);
    return ok;
}

static bool
s_has (const zkv_kv_t *kv, uint64_t client, const char *key)
{
    uint8_t ck[8];
    zkv_kv_client_key (client, ck);
    uint32_t shard = zkv_kv_shard_of ((const uint8_t *)key, strlen (key), S_SHARDS);
    return zkv_kv_map_find (&kv->dedup, shard, ck, 8) != NULL;
}

static uint32_t
s_shard (const char *key)
{
    return zkv_kv_shard_of ((const uint8_t *)key, strlen (key), S_SHARDS);
}

// The leader's lookup of (client, seq, t0) on key: 1 and *status if it answers, else 0.
static int
s_lookup (zkv_kv_t *kv, uint64_t client, uint64_t seq, uint64_t t0, const char *key, int *status)
{
    zkv_kv_result_t r;
    int rc = zkv_kv_lookup (kv, client, seq, t0, (const uint8_t *)key, strlen (key), &r);
    *status = r.status;
    zkv_bytes_free (&r.value);
    return rc;
}

// The whole state as a snapshot blob (compared to tell two states apart).
static bool
s_same_state (zkv_kv_t *a, zkv_kv_t *b)
{
    uint8_t *x, *y;
    size_t nx, ny;
    S_MUST (zkv_kv_snapshot_write (a, &x, &nx) == 0 && zkv_kv_snapshot_write (b, &y, &ny) == 0);
    bool same = nx == ny && memcmp (x, y, nx) == 0 && zkv_kv_log_ms (a) == zkv_kv_log_ms (b) &&
                a->dedup.count == b->dedup.count;
    for (uint32_t s = 0; s < S_SHARDS; s++)
        same = same && zkv_kv_evicted_through (a, s) == zkv_kv_evicted_through (b, s);
    free (x);
    free (y);
    return same;
}

// ---------------------------------------------------------------------------------------------
// Stores and the table

// A dedup record keeps last_ms in both stores, one goes alone, and a record of the format
// before sessions (version 1) is another version's, not damage.
static void
s_store_dedup (s_kind_t kind)
{
    s_fix_t f = {.kind = kind};
    s_open (&f);
    zkv_kvbatch_t *b = zkv_kvstore_batch_new (f.store);
    zkv_kvdedup_t r1 = {
        .shard = 1, .client_id = 7, .seq = 3, .last_ms = S_T0 + 5, .value = {(uint8_t *)"v", 1}};
    zkv_kvdedup_t r2 = {.shard = 1, .client_id = 8, .seq = 1, .last_ms = 9};
    zkv_kvstore_put_dedup (f.store, b, 1, &r1);
    zkv_kvstore_put_dedup (f.store, b, 1, &r2);
    CHECK_EQ_U64 (zkv_kvstore_commit (f.store, &b), 0);
    b = zkv_kvstore_batch_new (f.store);
    zkv_kvstore_del_dedup (f.store, b, 1, 1, 8);
    zkv_kvstore_del_dedup (f.store, b, 1, 2, 7); // another shard's: none
    CHECK_EQ_U64 (zkv_kvstore_commit (f.store, &b), 0);
    s_restart (&f);
    zkv_kvdedup_t *recs;
    size_t n;
    CHECK_EQ_U64 (zkv_kvstore_load_dedup (f.store, 1, &recs, &n), 0);
    CHECK_EQ_U64 (n, 1);
    CHECK_EQ_U64 (recs[0].client_id, 7);
    CHECK_EQ_U64 (recs[0].last_ms, S_T0 + 5);
    CHECK_EQ_U64 (recs[0].seq, 3);
    CHECK (recs[0].value.len == 1 && recs[0].value.data[0] == 'v');
    zkv_kvdedup_free_all (recs, n);
    s_close (&f);
}

static void
test_store_dedup (void)
{
    s_store_dedup (S_MEM);
    if (!zkv_test_failed_)
        s_store_dedup (S_LDB);
    size_t klen, vlen;
    zkv_kvdedup_t rec = {.shard = 2, .client_id = 5, .seq = 1, .last_ms = 77};
    uint8_t *k = zkv_kvstore_dedup_key (1, &rec, &klen), *v = zkv_kvstore_dedup_value (&rec, &vlen);
    zkv_kvdedup_t back;
    CHECK_EQ_U64 (zkv_kvstore_dedup_decode (k, klen, v, vlen, &back), 0);
    CHECK_EQ_U64 (back.last_ms, 77);
    zkv_kvdedup_free_all (NULL, 0);
    zkv_bytes_free (&back.value);
    v[0] = 1; // the version before last_ms
    CHECK_EQ_U64 (zkv_kvstore_dedup_decode (k, klen, v, vlen, &back), ZKV_EVERSION);
    v[0] = 9;
    CHECK_EQ_U64 (zkv_kvstore_dedup_decode (k, klen, v, vlen, &back), ZKV_ECORRUPT);
    v[0] = 2;
    CHECK_EQ_U64 (zkv_kvstore_dedup_decode (k, klen, v, 17, &back), ZKV_ECORRUPT); // cut
    free (k);
    free (v);
}

// Removal from the table's open addressing (backward shift) against a plain array, over many
// random inserts and removals in a small table (long probe runs, wrapping around).
static void
test_map_remove (void)
{
    zkv_kv_map_t map = {0};
    bool in[512] = {false};
    uint64_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t id = (uint32_t)(x >> 33) % 512, shard = id % 3;
        uint8_t ck[8];
        zkv_kv_client_key (id, ck);
        if ((x >> 20) & 1) {
            zkv_kv_slot_t *slot = zkv_kv_map_upsert (&map, shard, ck, 8);
            slot->seq = id;
            in[id] = true;
        } else {
            CHECK (zkv_kv_map_remove (&map, shard, ck, 8) == in[id]);
            in[id] = false;
        }
        if (step % 97 == 0) {
            size_t count = 0;
            for (uint32_t i = 0; i < 512; i++) {
                zkv_kv_client_key (i, ck);
                const zkv_kv_slot_t *slot = zkv_kv_map_find (&map, i % 3, ck, 8);
                CHECK ((slot != NULL) == in[i]);
                CHECK (!slot || (slot->seq == i && zkv_kv_client_of (slot) == i));
                count += in[i];
            }
            CHECK_EQ_U64 (map.count, count);
        }
    }
    zkv_kv_map_free (&map);
}

// ---------------------------------------------------------------------------------------------
// Expiry

// A day of traffic as a list of commands: clients that come and go, some idle past the ttl.
static size_t
s_traffic (s_cmd_t *cmds, size_t max)
{
    static const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    uint64_t seq[40] = {0}, x = 99;
    size_t n = 0;
    uint64_t t = S_T0;
    while (n < max) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t client = 1 + (x >> 40) % 40;
        // Time moves by a few seconds, and now and then by minutes: sessions expire.
        t += (x >> 20) % 97 == 0 ? S_TTL + (x >> 50) : (x >> 30) % 5000;
        cmds[n++] = (s_cmd_t){.client = client,
                              .seq = ++seq[client - 1],
                              .key = keys[(x >> 8) % 6],
                              .value = "v",
                              .time_ms = t,
                              // the newest log time the client knew: a little behind
                              .session_t0 = t > S_T0 + 1000 ? t - 1000 : 0};
    }
    return n;
}

// Two replicas applying the same entries in different batches (one at a time, and in runs of
// up to 7) evict the same sessions at the same entry: their states are the same after every
// run of entries, and the sweeps did evict.
static void
test_expiry_deterministic (void)
{
    s_policy (S_TTL, 0);
    enum { N = 3000 };
    s_cmd_t *cmds = calloc (N, sizeof *cmds);
    size_t n = s_traffic (cmds, N);
    zkv_entry_t *e = calloc (n, sizeof *e);
    for (size_t i = 0; i < n; i++)
        s_entry (&e[i], i + 1, &cmds[i]);
    s_fix_t fa = {.kind = S_MEM}, fb = {.kind = S_LDB};
    s_open (&fa);
    s_open (&fb);
    zkv_kv_t *a = s_kv (fa.store), *b = s_kv (fb.store);
    size_t i = 0, refused = 0;
    while (i < n) {
        size_t run = 1 + i % 7;
        if (i + run > n)
            run = n - i;
        zkv_kv_results_t r;
        CHECK_EQ_U64 (zkv_kv_apply (b, &e[i], run, &r), 0);
        zkv_kv_results_t one[7];
        for (size_t k = 0; k < run; k++) {
            CHECK_EQ_U64 (zkv_kv_apply (a, &e[i + k], 1, &one[k]), 0);
            // the same answer, whatever the batching
            CHECK_EQ_U64 (one[k].items[0].status, r.items[k].status);
            CHECK_EQ_U64 (one[k].items[0].log_ms, r.items[k].log_ms);
            refused += r.items[k].status == ZKV_ESESSION;
            zkv_kv_results_free (&one[k]);
        }
        zkv_kv_results_free (&r);
        i += run;
        CHECK (s_same_state (a, b));
    }
    zkv_kv_session_stats_t st;
    zkv_kv_session_stats (a, &st);
    CHECK (st.expired > 40); // clients idled past the ttl, many times
    CHECK (refused == 0);    // none of these was a retry: every new session was new
    CHECK_EQ_U64 (st.sessions, a->dedup.count);
    // No session left idle past the ttl and a sweep period.
    for (size_t s = 0; s < a->dedup.capacity; s++)
        if (a->dedup.slots[s].used)
            CHECK (a->dedup.slots[s].last_ms + S_TTL + S_TTL / 8 > zkv_kv_log_ms (a));
    CHECK_EQ_U64 (zkv_kv_log_ms (a), cmds[n - 1].time_ms);
    for (size_t k = 0; k < n; k++)
        zkv_entry_free (&e[k]);
    free (e);
    free (cmds);
    zkv_kv_destroy (&a);
    zkv_kv_destroy (&b);
    s_close (&fa);
    s_close (&fb);
}

// Log time only moves forward (a leader's stamp behind it changes nothing), a session goes
// once idle for the ttl at a sweep point (an eighth of the ttl), and not before.
static void
test_expiry_by_log_time (void)
{
    s_policy (S_TTL, 0);
    s_fix_t f = {.kind = S_MEM};
    s_open (&f);
    zkv_kv_t *kv = s_kv (f.store);
    uint64_t t = S_TTL * 1000; // a sweep point
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){1, 1, 0, "a", "x", t + 1, 0}), 0);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){2, 1, 0, "b", "x", t - 5000, 0}), 0);
    CHECK_EQ_U64 (zkv_kv_log_ms (kv), t + 1); // a stamp behind the log time changes nothing
    // The leader's stamp: its clock, never below the log time.
    zkv_kv_command_t cmd = {0};
    zkv_kv_stamp (kv, t, &cmd);
    CHECK_EQ_U64 (cmd.time_ms, t + 1);
    zkv_kv_stamp (kv, t + 2, &cmd);
    CHECK_EQ_U64 (cmd.time_ms, t + 2);
    CHECK_EQ_U64 (cmd.session_ttl_ms, S_TTL);
    // At the sweep point t + ttl, they have been idle a ms less than the ttl: they stay.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){3, 1, 0, "c", "x", t + S_TTL, 0}), 0);
    CHECK (s_has (kv, 1, "a") && s_has (kv, 2, "b"));
    // Idle past the ttl, but no sweep point passed since.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){3, 2, 0, "c", "x", t + S_TTL + S_TTL / 8 - 1, 0}), 0);
    CHECK (s_has (kv, 1, "a"));
    // The next sweep point: they go, the active one stays.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){3, 3, 0, "c", "x", t + S_TTL + S_TTL / 8, 0}), 0);
    CHECK (!s_has (kv, 1, "a") && !s_has (kv, 2, "b") && s_has (kv, 3, "c"));
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("a")), t + 1);
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("b")), t + 1);
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("c")), 0);
    // A policy of no ttl (an older leader's, or none) expires nothing.
    s_policy (0, 0);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){4, 1, 0, "d", "x", t + 100 * S_TTL, 0}), 0);
    CHECK (s_has (kv, 3, "c"));
    zkv_kv_destroy (&kv);
    s_close (&f);
}

// A request retried after its session expired is refused (ZKV_ESESSION), applied once only;
// a new session, or one whose client learned the log time after the eviction, is applied.
static void
test_retry_after_expiry (void)
{
    s_policy (S_TTL, 0);
    s_fix_t f = {.kind = S_MEM};
    s_open (&f);
    zkv_kv_t *kv = s_kv (f.store);
    uint64_t t = S_T0;
    // Client 7 learned log time t - 10 s, then appended "x1" (seq 1): applied, answer lost.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){7, 1, 0, "k", "x1", t, t - 10000}), 0);
    int status = 0;
    CHECK_EQ_U64 (s_lookup (kv, 7, 1, t - 10000, "k", &status), 1); // a retry now: the table
    CHECK_EQ_U64 (status, 0);
    // The client is cut off past the ttl; other clients keep the log time moving.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){8, 1, 0, "q", "y", t + 2 * S_TTL, 0}), 0);
    CHECK (!s_has (kv, 7, "k"));
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("k")), t);
    // Its retry, with the session_t0 of its first send: refused by the leader's lookup, and
    // when applied (a copy logged before), nothing applied.
    CHECK_EQ_U64 (s_lookup (kv, 7, 1, t - 10000, "k", &status), 1);
    CHECK_EQ_U64 (status, ZKV_ESESSION);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){7, 1, 0, "k", "x1", t + 2 * S_TTL + 1, t - 10000}),
                  ZKV_ESESSION);
    CHECK (s_get_is (kv, "k", "x1")); // one append, not two
    CHECK (!s_has (kv, 7, "k"));      // and no record made
    // The margin: a session_t0 up to a margin after the eviction is still refused; past it,
    // the client's requests were all stamped after the evicted record: a new one is applied.
    uint64_t through = zkv_kv_evicted_through (kv, s_shard ("k"));
    CHECK_EQ_U64 (
        s_apply (kv, &(s_cmd_t){9, 1, 0, "k", "z", t + 2 * S_TTL + 2, through + S_MARGIN}),
        ZKV_ESESSION);
    CHECK_EQ_U64 (s_lookup (kv, 9, 1, through + S_MARGIN + 1, "k", &status), 0); // to propose
    CHECK_EQ_U64 (
        s_apply (kv, &(s_cmd_t){9, 1, 0, "k", "z", t + 2 * S_TTL + 3, through + S_MARGIN + 1}), 0);
    CHECK (s_get_is (kv, "k", "x1z"));
    // A new client of the cluster (session_t0 0) on a shard that evicted: refused at first...
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){10, 1, 0, "k", "w", t + 2 * S_TTL + 4, 0}), ZKV_ESESSION);
    // ... and, under a new session that learned the log time from that answer, applied.
    uint64_t learned = zkv_kv_log_ms (kv);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){11, 1, 0, "k", "w", t + 2 * S_TTL + 5, learned}), 0);
    CHECK (s_get_is (kv, "k", "x1zw"));
    // A shard that never evicted takes a new client whatever its session_t0.
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("q")), 0);
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){12, 1, 0, "q", "n", t + 2 * S_TTL + 6, 0}), 0);
    zkv_kv_session_stats_t st;
    zkv_kv_session_stats (kv, &st);
    CHECK_EQ_U64 (st.refused, 3);
    CHECK_EQ_U64 (st.expired, 1);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

// max_sessions: a new session past it ends the least recently active ones idle long enough
// (ties by shard, then client id), down to a sixteenth below the cap; none idle long enough:
// ZKV_EBUSY, nothing applied. The evicted ones' retries are refused.
static void
test_max_sessions (void)
{
    s_fix_t f = {.kind = S_MEM};
    s_open (&f);
    zkv_kv_t *kv = s_kv (f.store);
    s_policy (0, 16); // the cap alone
    uint64_t t = S_T0;
    // 16 sessions: clients 100..115 on key "k" (one shard), all at the same log time t.
    for (uint64_t c = 0; c < 16; c++)
        CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){115 - c, 1, 0, "k", "x", t, 0}), 0);
    // Client 200 at t + 1 s: the table is full and nobody idle 2 minutes: busy, not applied.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){200, 1, 0, "m", "y", t + 1000, 0}), ZKV_EBUSY);
    CHECK (!s_has (kv, 200, "m"));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){200, 1, 0, "m", "y", t + 2000, 0}), ZKV_EBUSY);
    // A session of the table is still served (a retry, a next request).
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){100, 2, 0, "k", "x", t + 3000, 0}), 0);
    // Two minutes on: room for it, the least recently active going first: 16 - 1 - 16/16 = 14
    // stay, so 2 go (clients 101 and 102: client 100 was active since, ties by client id).
    uint64_t later = t + ZKV_KV_SESSION_MIN_IDLE_MS;
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){200, 1, 0, "m", "y", later, 0}), 0);
    CHECK (s_has (kv, 200, "m") && s_has (kv, 100, "k") && s_has (kv, 103, "k"));
    CHECK (!s_has (kv, 101, "k") && !s_has (kv, 102, "k"));
    CHECK_EQ_U64 (kv->dedup.count, 15);
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("k")), t);
    zkv_kv_session_stats_t st;
    zkv_kv_session_stats (kv, &st);
    CHECK_EQ_U64 (st.capped, 2);
    CHECK_EQ_U64 (st.busy, 2);
    // The next new session finds room at once.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){201, 1, 0, "m", "y", later + 1, 0}), 0);
    CHECK_EQ_U64 (kv->dedup.count, 16);
    // An evicted client's retry: refused, not applied again.
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){101, 1, 0, "k", "x", later + 2, t - 5}), ZKV_ESESSION);
    CHECK (s_get_is (kv, "k", "xxxxxxxxxxxxxxxxx")); // 16 + client 100's second
    // The same decisions on a replica that restarted in between (its cache is not state).
    s_fix_t g = {.kind = S_MEM};
    s_open (&g);
    zkv_kv_t *twin = s_kv (g.store);
    uint8_t *blob;
    size_t len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (kv, &blob, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (twin, blob, len), 0);
    free (blob);
    for (uint64_t c = 300; c < 320; c++) {
        s_cmd_t cmd = {c, 1, 0, c % 2 ? "k" : "m", "z", later + 3 + c, 0};
        CHECK_EQ_U64 (s_apply (kv, &cmd), s_apply (twin, &cmd));
        CHECK (s_same_state (kv, twin));
    }
    zkv_kv_destroy (&twin);
    zkv_kv_destroy (&kv);
    s_close (&g);
    s_close (&f);
}

// At t (a sweep point), client 7 appends "a" to "k" (session_t0 t - 1), client 8 "b" a second
// later; at t + ttl + 999 ms (client 9 on "q", another shard) 7's session expires, not 8's: a
// retry of 7's seq 1 must be refused wherever the shard's state goes. The log time after.
static uint64_t
s_evict_seven (zkv_kv_t *kv, uint64_t t)
{
    S_MUST (s_shard ("k") != s_shard ("q"));
    S_MUST (s_apply (kv, &(s_cmd_t){7, 1, 0, "k", "a", t, t - 1}) == 0);
    S_MUST (s_apply (kv, &(s_cmd_t){8, 1, 0, "k", "b", t + 1000, t}) == 0);
    S_MUST (s_apply (kv, &(s_cmd_t){9, 1, 0, "q", "c", t + S_TTL + 999, 0}) == 0);
    S_MUST (!s_has (kv, 7, "k") && s_has (kv, 8, "k"));
    S_MUST (zkv_kv_evicted_through (kv, s_shard ("k")) == t);
    return zkv_kv_log_ms (kv);
}

// The session state goes through a restart (memory and LevelDB): the log time, each
// record's last_ms, evicted_through; the restarted replica decides as one that never stopped.
static void
s_restart_keeps (s_kind_t kind)
{
    s_policy (S_TTL, 0);
    s_fix_t f = {.kind = kind}, g = {.kind = S_MEM};
    s_open (&f);
    s_open (&g);
    zkv_kv_t *kv = s_kv (f.store), *twin = s_kv (g.store);
    uint64_t t = S_T0;
    s_evict_seven (kv, t);
    uint64_t now = s_evict_seven (twin, t);
    zkv_kv_destroy (&kv);
    s_restart (&f);
    kv = s_kv (f.store);
    CHECK_EQ_U64 (zkv_kv_log_ms (kv), now);
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("k")), t);
    CHECK (s_same_state (kv, twin));
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){7, 1, 0, "k", "a", now + 1, t - 1}), ZKV_ESESSION);
    CHECK_EQ_U64 (s_apply (twin, &(s_cmd_t){7, 1, 0, "k", "a", now + 1, t - 1}), ZKV_ESESSION);
    // Client 8 (last at t + 1 s) expires at the same entry on both (the next sweep point).
    s_cmd_t next = {9, 2, 0, "q", "d", t + S_TTL + S_TTL / 8, 0};
    CHECK_EQ_U64 (s_apply (kv, &next), 0);
    CHECK_EQ_U64 (s_apply (twin, &next), 0);
    CHECK (!s_has (kv, 8, "k"));
    CHECK (s_same_state (kv, twin));
    zkv_kv_destroy (&kv);
    zkv_kv_destroy (&twin);
    s_close (&f);
    s_close (&g);
}

static void
test_restart_keeps_sessions (void)
{
    s_restart_keeps (S_MEM);
    if (!zkv_test_failed_)
        s_restart_keeps (S_LDB);
}

// A failed commit undoes the entries' evictions and the log time with the rest.
static const zkv_kvstore_ops_t *s_real_ops;

static int
s_failing_commit (void *impl, zkv_kvbatch_t *b)
{
    s_real_ops->batch_destroy (impl, b);
    return ZKV_EIO;
}

static void
test_commit_failure_undoes (void)
{
    s_policy (S_TTL, 0);
    s_fix_t f = {.kind = S_MEM};
    s_open (&f);
    zkv_kv_t *kv = s_kv (f.store);
    uint64_t t = S_T0;
    CHECK_EQ_U64 (s_apply (kv, &(s_cmd_t){7, 1, 0, "k", "a", t, 0}), 0);
    zkv_kv_destroy (&kv);
    s_real_ops = f.store->ops;
    zkv_kvstore_ops_t ops = *f.store->ops;
    ops.commit = s_failing_commit;
    zkv_kvstore_t failing = {&ops, f.store->impl};
    kv = s_kv (&failing);
    zkv_entry_t e;
    s_entry (&e, 2, &(s_cmd_t){8, 1, 0, "q", "b", t + 2 * S_TTL, 0});
    zkv_kv_results_t r;
    CHECK_EQ_U64 (zkv_kv_apply (kv, &e, 1, &r), ZKV_EIO);
    CHECK (s_has (kv, 7, "k") && !s_has (kv, 8, "q"));
    CHECK_EQ_U64 (zkv_kv_log_ms (kv), t);
    CHECK_EQ_U64 (zkv_kv_evicted_through (kv, s_shard ("k")), 0);
    zkv_kv_destroy (&kv);
    kv = s_kv (f.store); // the real store applies it
    CHECK_EQ_U64 (zkv_kv_apply (kv, &e, 1, &r), 0);
    zkv_kv_results_free (&r);
    CHECK (!s_has (kv, 7, "k"));
    zkv_entry_free (&e);
    zkv_kv_destroy (&kv);
    s_close (&f);
}

// ---------------------------------------------------------------------------------------------
// Snapshots and pulls carry the session state

// A blob snapshot, and a stream of small chunks, give another replica the same session state:
// a retry of the evicted session is refused there too.
static void
test_snapshot_carries_sessions (void)
{
    s_policy (S_TTL, 0);
    s_fix_t f = {.kind = S_MEM}, g = {.kind = S_LDB}, h = {.kind = S_MEM};
    s_open (&f);
    s_open (&g);
    s_open (&h);
    zkv_kv_t *kv = s_kv (f.store), *blob_kv = s_kv (g.store), *stream_kv = s_kv (h.store);
    uint64_t t = S_T0, now = s_evict_seven (kv, t);
    uint8_t *blob;
    size_t len;
    CHECK_EQ_U64 (zkv_kv_snapshot_write (kv, &blob, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (blob_kv, blob, len), 0);
    free (blob);
    CHECK (s_same_state (kv, blob_kv));
    CHECK_EQ_U64 (zkv_kv_log_ms (blob_kv), now);
    // Streamed in chunks of a record or two.
    zkv_kvstore_t *view = zkv_kvstore_view (f.store);
    int err;
    zkv_kv_stream_t *w = zkv_kv_stream_new (view, S_GROUP, S_SHARDS, &err);
    zkv_kv_recv_t *recv = zkv_kv_recv_new (stream_kv);
    uint64_t off = 0;
    bool done = false;
    while (!done) {
        uint8_t *chunk;
        size_t clen;
        CHECK_EQ_U64 (zkv_kv_stream_read (w, off, 40, &chunk, &clen, &done), 0);
        CHECK_EQ_U64 (zkv_kv_recv_chunk (recv, off, chunk, clen, done), 0);
        off += clen;
        free (chunk);
    }
    CHECK_EQ_U64 (zkv_kv_recv_finish (recv, zkv_kv_applied (kv)), 0);
    zkv_kv_recv_destroy (&recv);
    zkv_kv_stream_destroy (&w);
    zkv_kvstore_destroy (&view);
    CHECK (s_same_state (kv, stream_kv));
    s_cmd_t retry = {7, 1, 0, "k", "a", now + 1, t - 1};
    CHECK_EQ_U64 (s_apply (blob_kv, &retry), ZKV_ESESSION);
    CHECK_EQ_U64 (s_apply (stream_kv, &retry), ZKV_ESESSION);
    CHECK (s_get_is (blob_kv, "k", "ab") && s_get_is (stream_kv, "k", "ab"));
    // A snapshot of the format before sessions (2: records without last_ms) is another
    // version's: refused, nothing changed.
    zkv_msg_t hdr = {.type = ZKV_MSG_KV_SNAP_HEADER};
    hdr.u.kv_snap_header = (zkv_kv_snap_header_t){
        .format = 2, .group = S_GROUP, .nshards = S_SHARDS, .applied = 99, .n_dedup = 0};
    CHECK_EQ_U64 (zkv_msg_encode (&hdr, &blob, &len), 0);
    CHECK_EQ_U64 (zkv_kv_snapshot_restore (blob_kv, blob, len), ZKV_EVERSION);
    free (blob);
    CHECK_EQ_U64 (zkv_kv_log_ms (blob_kv), now + 1);
    zkv_kv_destroy (&kv);
    zkv_kv_destroy (&blob_kv);
    zkv_kv_destroy (&stream_kv);
    s_close (&f);
    s_close (&g);
    s_close (&h);
}

// Two sharded groups: configuration 1 gives every shard to group 1, configuration 2 moves key
// "k"'s shard to group 2, which pulls it chunk by chunk.
static void
s_config (zkv_kv_t *kv, uint64_t num, uint64_t k_group)
{
    uint64_t ids[] = {1, 2}, sizes[] = {1, 1}, members[] = {1, 1};
    zkv_routing_t *r = zkv_routing_new (num, S_SHARDS, ids, sizes, members, 2);
    for (uint32_t s = 0; s < S_SHARDS; s++)
        r->shard_group[s] = s == s_shard ("k") ? k_group : 1;
    zkv_bytes_t enc = {0};
    S_MUST (zkv_routing_encode (r, &enc) == 0);
    zkv_routing_destroy (&r);
    zkv_entry_t e = {.term = 1, .index = zkv_kv_applied (kv) + 1, .type = ZKV_ENTRY_NORMAL};
    size_t len;
    S_MUST (zkv_kv_shards_cmd (ZKV_OP_CONFIG, NULL, 0, enc.data, enc.len, &e.data.data, &len) == 0);
    e.data.len = len;
    zkv_bytes_free (&enc);
    zkv_kv_results_t res;
    S_MUST (zkv_kv_apply (kv, &e, 1, &res) == 0 && res.items[0].status == 0);
    zkv_kv_results_free (&res);
    zkv_entry_free (&e);
}

// Group 2 pulls "k"'s shard from group 1 in small chunks, each logged and applied.
static void
s_pull (zkv_kv_t *from, zkv_kv_t *to)
{
    uint32_t s = s_shard ("k");
    for (int guard = 0; guard < 1000 && zkv_kv_shards_meta (to, s)->state == ZKV_SHARD_PULLING;
         guard++) {
        const zkv_shard_meta_t *m = zkv_kv_shards_meta (to, s);
        zkv_shard_pull_t pull = {
            .num = 2, .shard = s, .phase = m->phase, .client = m->client, .key = m->key};
        zkv_bytes_t chunk = {0};
        S_MUST (zkv_kv_shards_pull (from, &pull, 30, &chunk) == 0);
        zkv_entry_t e = {.term = 1, .index = zkv_kv_applied (to) + 1, .type = ZKV_ENTRY_NORMAL};
        size_t len;
        S_MUST (zkv_kv_shards_cmd (ZKV_OP_CHUNK, NULL, 0, chunk.data, chunk.len, &e.data.data,
                                   &len) == 0);
        e.data.len = len;
        zkv_bytes_free (&chunk);
        zkv_kv_results_t res;
        S_MUST (zkv_kv_apply (to, &e, 1, &res) == 0 && res.items[0].status == 0);
        zkv_kv_results_free (&res);
        zkv_entry_free (&e);
    }
}

// Sessions a group holds on shard s.
static size_t
s_count_shard (const zkv_kv_t *kv, uint32_t s)
{
    size_t n = 0;
    for (size_t i = 0; i < kv->dedup.capacity; i++)
        n += kv->dedup.slots[i].used && kv->dedup.slots[i].shard == s;
    return n;
}

static zkv_kv_t *
s_sharded (zkv_kvstore_t *store, uint64_t group)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err;
    zkv_kv_t *kv = zkv_kv_new (store, group, S_SHARDS, &limits, &err);
    S_MUST (kv && zkv_kv_shards_enable (kv) == 0);
    return kv;
}

// evicted_through and each record's last_ms move with a pulled shard: the new owner refuses a
// retry of a session the old one evicted, and answers one it still had from the table. The
// old owner never evicts from the shard it hands off (it is frozen).
static void
test_pull_carries_sessions (void)
{
    s_policy (S_TTL, 0);
    zkv_kvstore_t *s1 = zkv_kvstore_mem_new (), *s2 = zkv_kvstore_mem_new ();
    zkv_kv_t *g1 = s_sharded (s1, 1), *g2 = s_sharded (s2, 2);
    s_config (g1, 1, 1);
    s_config (g2, 1, 1);
    uint64_t t = S_T0;
    // Many clients on "k" (several chunks of records), then client 7's session expires.
    for (uint64_t c = 20; c < 40; c++)
        CHECK_EQ_U64 (s_apply (g1, &(s_cmd_t){c, 1, 0, "k", "", t, 0}), 0);
    uint64_t now = s_evict_seven (g1, t + S_TTL + S_TTL / 4); // a sweep point too
    uint32_t s = s_shard ("k");
    uint64_t through = zkv_kv_evicted_through (g1, s);
    CHECK (through >= t + S_TTL);
    CHECK (!s_has (g1, 20, "k")); // expired with the rest
    for (uint64_t c = 40; c < 50; c++)
        CHECK_EQ_U64 (s_apply (g1, &(s_cmd_t){c, 1, 0, "k", "", now, now}),
                      0); // new: they learned now
    s_config (g1, 2, 2);
    s_config (g2, 2, 2);
    // Frozen at group 1: however late, its sessions there stay as they were handed off.
    size_t held = s_count_shard (g1, s);
    CHECK_EQ_U64 (held, 11); // client 8, clients 40..49
    CHECK_EQ_U64 (s_apply (g1, &(s_cmd_t){60, 1, 0, "q", "", now + 10 * S_TTL, now + 10 * S_TTL}),
                  0);
    CHECK_EQ_U64 (s_count_shard (g1, s), held);
    CHECK (!s_has (g1, 9, "q")); // while a served shard's idle ones go
    s_pull (g1, g2);
    CHECK_EQ_U64 (zkv_kv_shards_meta (g2, s)->state, ZKV_SHARD_SERVING);
    CHECK (zkv_kv_shards_meta (g2, s)->chunks > 2);
    CHECK_EQ_U64 (zkv_kv_evicted_through (g2, s), through);
    CHECK (s_has (g2, 45, "k") && !s_has (g2, 7, "k"));
    uint8_t ck[8];
    zkv_kv_client_key (45, ck);
    CHECK_EQ_U64 (zkv_kv_map_find (&g2->dedup, s, ck, 8)->last_ms, now);
    // Group 2's retry of client 7's append is refused; client 45's is a duplicate.
    CHECK_EQ_U64 (s_apply (g2, &(s_cmd_t){7, 1, 0, "k", "a", now + 1, t + S_TTL + S_TTL / 4 - 1}),
                  ZKV_ESESSION);
    int status;
    CHECK_EQ_U64 (s_lookup (g2, 45, 1, 0, "k", &status), 1);
    CHECK_EQ_U64 (status, 0);
    CHECK (s_get_is (g2, "k", "ab"));
    // Group 2's first stamped command swept what had been idle by its log time (client 8):
    // its own evictions go on from the shard's.
    CHECK (!s_has (g2, 8, "k"));
    through = zkv_kv_evicted_through (g2, s);
    CHECK_EQ_U64 (through, t + S_TTL + S_TTL / 4 + 1000);
    // Group 2's restart keeps it (it is under the meta shard, with the shard states).
    zkv_kv_destroy (&g2);
    zkv_kvstore_mem_crash (s2);
    g2 = s_sharded (s2, 2);
    CHECK_EQ_U64 (zkv_kv_evicted_through (g2, s), through);
    CHECK_EQ_U64 (zkv_kv_log_ms (g2), now + 1);
    zkv_kv_destroy (&g1);
    zkv_kv_destroy (&g2);
    zkv_kvstore_destroy (&s1);
    zkv_kvstore_destroy (&s2);
}

ZKV_TEST_MAIN (TEST (test_store_dedup) TEST (test_map_remove) TEST (test_expiry_deterministic)
                   TEST (test_expiry_by_log_time) TEST (test_retry_after_expiry)
                       TEST (test_max_sessions) TEST (test_restart_keeps_sessions)
                           TEST (test_commit_failure_undoes) TEST (test_snapshot_carries_sessions)
                               TEST (test_pull_carries_sessions))
