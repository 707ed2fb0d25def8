// Log store contract tests, run against every implementation (memory, LevelDB), plus tests of
// what only one of them has: the memory store's torn crashes, LevelDB's corruption handling.
#include "zkv_logstore.h"
#include "zkv_kvstores.h"
#include "zkv_memstore.h"
#include "zkv_ldbpins.h"
#include "zkv_ldbstore.h"
#include "zkv_logview.h"
#include "zkv_test.h"

#include <dirent.h>
#include <leveldb/c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define GROUP 7 // the group most tests use

// Fixture: one store of one implementation, reopened like a restarted node.

typedef struct {
    const char *name; // implementation name
    bool leveldb;     // true: LevelDB in a fresh temporary directory
} s_impl_t;

static const s_impl_t s_impls[] = {
    {"memory", false},
    {"leveldb", true},
};

typedef struct {
    const s_impl_t *impl;  // which implementation
    zkv_logstore_t *store; // the open store
    char dir[64];          // LevelDB directory, removed by s_fx_close
} s_fx_t;

static zkv_logstore_t *
s_ldb_open (const char *dir)
{
    int err = 1;
    char errmsg[256] = "unset";
    zkv_logstore_t *store = zkv_ldbstore_new (dir, &err, errmsg, sizeof errmsg);
    if (!store)
        fprintf (stderr, "zkv_ldbstore_new (%s): %s: %s\n", dir, zkv_errname (err), errmsg);
    return store;
}

static bool
s_fx_open (s_fx_t *fx, const s_impl_t *impl)
{
    memset (fx, 0, sizeof *fx);
    fx->impl = impl;
    if (!impl->leveldb) {
        fx->store = zkv_memstore_new ();
        return fx->store != NULL;
    }
    snprintf (fx->dir, sizeof fx->dir, "/tmp/zkv-test-storage-XXXXXX");
    if (!mkdtemp (fx->dir))
        return false;
    fx->store = s_ldb_open (fx->dir);
    return fx->store != NULL;
}

// A crash and restart: every unsynced write is lost.
static bool
s_fx_restart (s_fx_t *fx)
{
    if (!fx->impl->leveldb) {
        zkv_memstore_crash (fx->store, false, 0);
        return true;
    }
    zkv_logstore_destroy (&fx->store);
    fx->store = s_ldb_open (fx->dir);
    return fx->store != NULL;
}

static void
s_fx_close (s_fx_t *fx)
{
    zkv_logstore_destroy (&fx->store);
    if (fx->impl->leveldb && fx->dir[0]) {
        leveldb_options_t *options = leveldb_options_create ();
        char *errptr = NULL;
        leveldb_destroy_db (options, fx->dir, &errptr);
        if (errptr)
            leveldb_free (errptr);
        leveldb_options_destroy (options);
        rmdir (fx->dir); // destroy_db removes it already; this covers a half-made one
    }
}

// Runs one contract test against every implementation.
static void
s_contract (const char *name, void (*fn) (s_fx_t *))
{
    for (size_t i = 0; i < sizeof s_impls / sizeof s_impls[0]; i++) {
        s_fx_t fx;
        int failed_before = zkv_test_failed_;
        zkv_test_failed_ = 0;
        if (s_fx_open (&fx, &s_impls[i]))
            fn (&fx);
        else {
            fprintf (stderr, "cannot open a %s store\n", s_impls[i].name);
            zkv_test_failed_ = 1;
        }
        if (zkv_test_failed_)
            fprintf (stderr, "  ^ in %s, implementation %s\n", name, s_impls[i].name);
        s_fx_close (&fx);
        zkv_test_failed_ |= failed_before;
    }
}

#define CONTRACT(fn)                                                                               \
    static void test_##fn (void)                                                                   \
    {                                                                                              \
        s_contract (#fn, fn);                                                                      \
    }

// Entries with a payload that follows from (index, term), so a wrong or torn one shows.

static size_t
s_payload (uint64_t index, uint64_t term, uint8_t *buf)
{
    size_t len = (size_t)((index * 7 + term) % 40); // some entries have none
    for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)(index * 31 + term * 17 + j);
    return len;
}

// Appends lo..hi with term in one call.
static int
s_append (zkv_logstore_t *store, uint64_t group, uint64_t lo, uint64_t hi, uint64_t term)
{
    size_t n = (size_t)(hi - lo + 1);
    zkv_entry_t *entries = calloc (n, sizeof *entries);
    uint8_t buf[64];
    for (size_t i = 0; i < n; i++) {
        entries[i].index = lo + i;
        entries[i].term = term;
        entries[i].type = (uint8_t)((lo + i) % 2);
        zkv_bytes_set (&entries[i].data, buf, s_payload (lo + i, term, buf));
    }
    int rc = zkv_logstore_append (store, group, entries, n);
    for (size_t i = 0; i < n; i++)
        zkv_entry_free (&entries[i]);
    free (entries);
    return rc;
}

static bool
s_entry_is (const zkv_entry_t *entry, uint64_t index, uint64_t term)
{
    uint8_t buf[64];
    size_t len = s_payload (index, term, buf);
    return entry->index == index && entry->term == term && entry->type == index % 2 &&
           entry->data.len == len && (len == 0 || memcmp (entry->data.data, buf, len) == 0);
}

// Whether state->entries[at..] holds lo..hi with term.
static bool
s_entries_are (const zkv_logstore_state_t *state, size_t at, uint64_t lo, uint64_t hi,
               uint64_t term)
{
    if (state->n_entries < at + (hi - lo + 1))
        return false;
    for (uint64_t index = lo; index <= hi; index++)
        if (!s_entry_is (&state->entries[at + index - lo], index, term))
            return false;
    return true;
}

// The contract.

static void
append_load_round_trip (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 10, 1), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 11, 20, 2), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == 20 && s_entries_are (&state, 0, 1, 10, 1) &&
              s_entries_are (&state, 10, 11, 20, 2) && state.hard_state.term == 0 &&
              state.snapshot.index == 0 && state.snapshot_data.len == 0;
    zkv_logstore_state_free (&state);
    CHECK (ok);
    CHECK (state.entries == NULL && state.n_entries == 0); // free zeroes
}
CONTRACT (append_load_round_trip)

static void
never_written_group_is_empty (s_fx_t *fx)
{
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, 99, &state), 0);
    CHECK (state.n_entries == 0 && state.hard_state.term == 0 && state.snapshot.index == 0);
    zkv_logstore_state_free (&state);
}
CONTRACT (never_written_group_is_empty)

static void
groups_are_isolated (s_fx_t *fx)
{
    zkv_hard_state_t hs1 = {3, 1, 4}, hs2 = {5, 2, 1};
    CHECK_EQ_U64 (s_append (fx->store, 1, 1, 5, 1), 0);
    CHECK_EQ_U64 (s_append (fx->store, 2, 1, 3, 7), 0);
    CHECK_EQ_U64 (s_append (fx->store, UINT64_MAX, 1, 2, 9), 0);
    CHECK_EQ_U64 (s_append (fx->store, 256, 1, 4, 4), 0);
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, 1, &hs1), 0);
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, 2, &hs2), 0);
    CHECK_EQ_U64 (zkv_logstore_truncate_suffix (fx->store, 2, 2), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));

    zkv_logstore_state_t s1, s2, s3, s4;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, 1, &s1), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, 2, &s2), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, UINT64_MAX, &s3), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, 256, &s4), 0);
    bool ok = s1.n_entries == 5 && s_entries_are (&s1, 0, 1, 5, 1) && s1.hard_state.term == 3 &&
              s1.hard_state.vote == 1 && s1.hard_state.commit == 4;
    ok = ok && s2.n_entries == 1 && s_entries_are (&s2, 0, 1, 1, 7) && s2.hard_state.term == 5;
    ok = ok && s3.n_entries == 2 && s_entries_are (&s3, 0, 1, 2, 9) && s3.hard_state.term == 0;
    ok = ok && s4.n_entries == 4 && s_entries_are (&s4, 0, 1, 4, 4);
    zkv_logstore_state_free (&s1);
    zkv_logstore_state_free (&s2);
    zkv_logstore_state_free (&s3);
    zkv_logstore_state_free (&s4);
    CHECK (ok);
}
CONTRACT (groups_are_isolated)

static void
truncate_suffix_then_reappend (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 10, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (zkv_logstore_truncate_suffix (fx->store, GROUP, 6), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 6, 8, 2), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == 8 && s_entries_are (&state, 0, 1, 5, 1) &&
              s_entries_are (&state, 5, 6, 8, 2);
    zkv_logstore_state_free (&state);
    CHECK (ok);
    // After the restart the store knows where the log ends
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 10, 10, 2), ZKV_EINVAL);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 9, 9, 2), 0);
}
CONTRACT (truncate_suffix_then_reappend)

static void
truncate_within_one_unsynced_batch (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 10, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    // Appended and truncated in the same batch, across the synced part
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 11, 15, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_truncate_suffix (fx->store, GROUP, 8), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 8, 12, 2), 0);
    // An append inside the log replaces it from there on (implicit truncation)
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 10, 10, 3), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == 10 && s_entries_are (&state, 0, 1, 7, 1) &&
              s_entries_are (&state, 7, 8, 9, 2) && s_entries_are (&state, 9, 10, 10, 3);
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (truncate_within_one_unsynced_batch)

static void
compact_prefix_after_snapshot (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 20, 1), 0);
    zkv_snapshot_meta_t meta = {10, 1};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta, (const uint8_t *)"snap", 4),
                  0);
    // Compacting past the snapshot would lose committed entries
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (fx->store, GROUP, 11), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (fx->store, GROUP, 10), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.snapshot.index == 10 && state.snapshot.term == 1 &&
              state.snapshot_data.len == 4 && memcmp (state.snapshot_data.data, "snap", 4) == 0 &&
              state.n_entries == 10 && s_entries_are (&state, 0, 11, 20, 1);
    zkv_logstore_state_free (&state);
    CHECK (ok);
    // Compacted entries cannot be appended again; the log goes on after them
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 5, 6, 2), ZKV_ECOMPACTED);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 21, 21, 2), 0);
    // Compacting below the compaction point again is harmless
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (fx->store, GROUP, 3), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    ok = state.n_entries == 11 && s_entries_are (&state, 10, 21, 21, 2);
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (compact_prefix_after_snapshot)

static void
snapshot_replace_and_load (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 12, 1), 0);
    zkv_snapshot_meta_t meta1 = {5, 1}, meta2 = {8, 1};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta1, (const uint8_t *)"aaa", 3),
                  0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (
        zkv_logstore_save_snapshot (fx->store, GROUP, &meta2, (const uint8_t *)"bbbbbb", 6), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    // Entries at or below the snapshot are not returned even while they are still stored
    bool ok = state.snapshot.index == 8 && state.snapshot_data.len == 6 &&
              memcmp (state.snapshot_data.data, "bbbbbb", 6) == 0 && state.n_entries == 4 &&
              s_entries_are (&state, 0, 9, 12, 1);
    zkv_logstore_state_free (&state);
    CHECK (ok);

    // An empty snapshot replaces a full one
    zkv_snapshot_meta_t meta3 = {9, 1};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta3, NULL, 0), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    ok = state.snapshot.index == 9 && state.snapshot_data.len == 0 && state.n_entries == 3;
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (snapshot_replace_and_load)

static void
snapshot_installed_on_empty_log (s_fx_t *fx)
{
    // A follower receives a snapshot at 100 (InstallSnapshot) and goes on from 101
    zkv_snapshot_meta_t meta = {100, 4};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta, (const uint8_t *)"x", 1), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 50, 50, 4), ZKV_EINVAL); // a gap
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 101, 103, 4), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.snapshot.index == 100 && state.snapshot.term == 4 && state.n_entries == 3 &&
              s_entries_are (&state, 0, 101, 103, 4);
    zkv_logstore_state_free (&state);
    CHECK (ok);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 104, 104, 4), 0);

    // A later snapshot past the whole log, then compaction: the log restarts after it
    zkv_snapshot_meta_t meta2 = {200, 5};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta2, (const uint8_t *)"y", 1),
                  0);
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (fx->store, GROUP, 200), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 201, 202, 5), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    ok = state.snapshot.index == 200 && state.n_entries == 2 &&
         s_entries_are (&state, 0, 201, 202, 5);
    zkv_logstore_state_free (&state);
    CHECK (ok);
    // A snapshot older than the compaction point would leave a hole
    zkv_snapshot_meta_t old = {150, 5};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &old, NULL, 0), ZKV_EINVAL);
}
CONTRACT (snapshot_installed_on_empty_log)

static void
hard_state_round_trip (s_fx_t *fx)
{
    zkv_hard_state_t a = {3, 2, 7}, b = {UINT64_MAX, 1ull << 40, 9};
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, GROUP, &a), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    CHECK (state.hard_state.term == 3 && state.hard_state.vote == 2 &&
           state.hard_state.commit == 7 && state.n_entries == 0);
    zkv_logstore_state_free (&state);
    // Two saves in one batch: the last wins
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, GROUP, &a), 0);
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, GROUP, &b), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    CHECK (state.hard_state.term == UINT64_MAX && state.hard_state.vote == 1ull << 40 &&
           state.hard_state.commit == 9);
    zkv_logstore_state_free (&state);
}
CONTRACT (hard_state_round_trip)

static void
unsynced_writes_lost_on_crash (s_fx_t *fx)
{
    zkv_hard_state_t hs = {2, 1, 3};
    zkv_snapshot_meta_t meta = {3, 1};
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 5, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 6, 10, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_truncate_suffix (fx->store, GROUP, 2), 0);
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, GROUP, &hs), 0);
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta, (const uint8_t *)"s", 1), 0);
    CHECK_EQ_U64 (s_append (fx->store, 8, 1, 5, 1), 0);

    // load reads durable state only, before the crash too
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == 5 && s_entries_are (&state, 0, 1, 5, 1) &&
              state.hard_state.term == 0 && state.snapshot.index == 0;
    zkv_logstore_state_free (&state);
    CHECK (ok);

    CHECK (s_fx_restart (fx));
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0); // nothing left to make durable
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    ok = state.n_entries == 5 && s_entries_are (&state, 0, 1, 5, 1) && state.hard_state.term == 0 &&
         state.snapshot.index == 0 && state.snapshot_data.len == 0;
    zkv_logstore_state_free (&state);
    CHECK (ok);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, 8, &state), 0);
    ok = state.n_entries == 0;
    zkv_logstore_state_free (&state);
    CHECK (ok);
    // The store validates against the durable log again: 6 follows, 11 does not
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 11, 11, 1), ZKV_EINVAL);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 6, 6, 2), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    ok = state.n_entries == 6 && s_entries_are (&state, 5, 6, 6, 2);
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (unsynced_writes_lost_on_crash)

static void
synced_writes_survive_restarts (s_fx_t *fx)
{
    zkv_hard_state_t hs = {4, 3, 9};
    zkv_snapshot_meta_t meta = {4, 2};
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 4, 2), 0);
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 5, 12, 4), 0);
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (fx->store, GROUP, &hs), 0);
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (fx->store, GROUP, &meta, (const uint8_t *)"abc", 3),
                  0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    for (int round = 0; round < 3; round++) {
        CHECK (s_fx_restart (fx));
        zkv_logstore_state_t state;
        CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
        bool ok = state.hard_state.term == 4 && state.hard_state.vote == 3 &&
                  state.hard_state.commit == 9 && state.snapshot.index == 4 &&
                  state.snapshot.term == 2 && state.snapshot_data.len == 3 &&
                  state.n_entries == 8 && s_entries_are (&state, 0, 5, 12, 4);
        zkv_logstore_state_free (&state);
        CHECK (ok);
    }
}
CONTRACT (synced_writes_survive_restarts)

static void
indexes_load_in_numeric_order (s_fx_t *fx)
{
    // Past 255, 256 and 65536: little-endian keys would sort these out of order
    const uint64_t last = 65600;
    for (uint64_t lo = 1; lo <= last; lo += 4096) {
        uint64_t hi = lo + 4095 < last ? lo + 4095 : last;
        CHECK_EQ_U64 (s_append (fx->store, GROUP, lo, hi, 1 + lo / 10000), 0);
        if (lo % 3 == 1)
            CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    }
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == last;
    for (uint64_t i = 0; ok && i < last; i++)
        ok = state.entries[i].index == i + 1;
    ok = ok && state.entries[254].index == 255 && state.entries[255].index == 256 &&
         state.entries[65535].index == 65536;
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (indexes_load_in_numeric_order)

static void
many_small_appends_across_syncs_are_contiguous (s_fx_t *fx)
{
    for (uint64_t index = 1; index <= 1000; index++) {
        CHECK_EQ_U64 (s_append (fx->store, GROUP, index, index, 1 + index / 100), 0);
        if (index % 7 == 0)
            CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
        if (index % 250 == 0) {
            zkv_logstore_state_t state;
            CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
            bool ok = state.n_entries == index / 7 * 7; // what the last sync covered
            for (size_t i = 0; ok && i < state.n_entries; i++)
                ok = s_entry_is (&state.entries[i], i + 1, 1 + (i + 1) / 100);
            zkv_logstore_state_free (&state);
            CHECK (ok);
        }
    }
}
CONTRACT (many_small_appends_across_syncs_are_contiguous)

static void
invalid_writes_are_refused (s_fx_t *fx)
{
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 2, 3, 1), ZKV_EINVAL); // a gap from empty
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 0, 1, 1), ZKV_EINVAL); // index 0
    CHECK_EQ_U64 (s_append (fx->store, GROUP, 1, 3, 1), 0);
    zkv_entry_t holes[2] = {{.term = 1, .index = 4}, {.term = 1, .index = 6}};
    CHECK_EQ_U64 (zkv_logstore_append (fx->store, GROUP, holes, 2), ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_logstore_append (fx->store, GROUP, holes, 0), 0);
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (fx->store, GROUP, 1), ZKV_EINVAL); // no snapshot
    CHECK_EQ_U64 (zkv_logstore_truncate_suffix (fx->store, GROUP, 50), 0);        // past the end
    CHECK_EQ_U64 (zkv_logstore_sync (fx->store), 0);
    CHECK (s_fx_restart (fx));
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (fx->store, GROUP, &state), 0);
    bool ok = state.n_entries == 3 && s_entries_are (&state, 0, 1, 3, 1);
    zkv_logstore_state_free (&state);
    CHECK (ok);
}
CONTRACT (invalid_writes_are_refused)

// The checksum the stores keep: the CRC-32C check value.
static void
test_crc32c_check_value (void)
{
    CHECK_EQ_U64 (zkv_crc32c (0, "123456789", 9), 0xe3069283);
    uint32_t part = zkv_crc32c (0, "1234", 4);
    CHECK_EQ_U64 (zkv_crc32c (part, "56789", 5), 0xe3069283);
    CHECK_EQ_U64 (zkv_crc32c (0, NULL, 0), 0);
}

// LevelDB: a deleted range asked to be compacted is compacted by the pins' own thread, not by
// the caller, and not while a view that sees it is open; a stopping node compacts nothing.
static uint64_t
s_range_bytes (leveldb_t *db, const char *start, const char *limit)
{
    size_t slen = 2, llen = 2;
    uint64_t size = 0;
    leveldb_approximate_sizes (db, 1, &start, &slen, &limit, &llen, &size);
    return size;
}

static void
s_fill_and_delete (leveldb_t *db, char prefix)
{
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    size_t len = 64u << 10;
    char *value = malloc (len);
    uint64_t x = 88172645463325252ull; // random bytes: LevelDB compresses repeated ones away
    for (int k = 0; k < 128; k++) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            value[i] = (char)x;
        }
        char key[8] = {'q', prefix, 'k', (char)k};
        char *err = NULL;
        leveldb_put (db, wo, key, 4, value, len, &err);
        leveldb_free (err);
    }
    free (value);
    leveldb_compact_range (db, NULL, 0, NULL, 0); // into tables, where the space is measured
    for (int k = 0; k < 128; k++) {
        char key[8] = {'q', prefix, 'k', (char)k};
        char *err = NULL;
        leveldb_delete (db, wo, key, 4, &err);
        leveldb_free (err);
    }
    leveldb_writeoptions_destroy (wo);
}

static void
test_leveldb_deleted_ranges_compact_in_background (void)
{
    s_fx_t fx;
    CHECK (s_fx_open (&fx, &s_impls[1]));
    leveldb_t *db = zkv_ldbstore_db (fx.store);
    zkv_ldbpins_t *pins = zkv_ldbstore_pins (fx.store);
    s_fill_and_delete (db, 1);
    uint64_t before = s_range_bytes (db, "q\x01", "q\x02");

    // A view is open: the compaction waits for it.
    const leveldb_snapshot_t *view = zkv_ldbpins_open (pins);
    zkv_ldbpins_compact (pins, (const uint8_t *)"q\x01", 2, (const uint8_t *)"q\x02", 2);
    bool idle_with_view = zkv_ldbpins_wait_idle (pins, 300);
    uint64_t with_view = s_range_bytes (db, "q\x01", "q\x02");
    zkv_ldbpins_close (pins, view);
    bool idle = zkv_ldbpins_wait_idle (pins, 20000);
    uint64_t after = s_range_bytes (db, "q\x01", "q\x02");
    zkv_ldbpins_counters_t c1;
    zkv_ldbpins_counters (pins, &c1);

    // Stopping: asked for, never done.
    s_fill_and_delete (db, 3);
    uint64_t before3 = s_range_bytes (db, "q\x03", "q\x04");
    zkv_ldbpins_stopping (pins);
    zkv_ldbpins_compact (pins, (const uint8_t *)"q\x03", 2, (const uint8_t *)"q\x04", 2);
    bool idle_stopping = zkv_ldbpins_wait_idle (pins, 300);
    uint64_t after3 = s_range_bytes (db, "q\x03", "q\x04");
    s_fx_close (&fx); // joins the compactor with a compaction still asked for

    CHECK (before > (4u << 20));
    CHECK (!idle_with_view);
    CHECK (with_view > before / 2);
    CHECK (idle);
    CHECK (after < before / 8);
    CHECK_EQ_U64 (c1.requested, 1);
    CHECK_EQ_U64 (c1.deferred, 1);
    CHECK_EQ_U64 (c1.compacted_late, 1);
    CHECK_EQ_U64 (c1.compacted, 1);
    CHECK (!idle_stopping);
    CHECK (after3 > before3 / 2);
}

// Memory store only: torn crashes.

// A model of one group's log for the torn-crash test.
typedef struct {
    uint64_t first, last;     // log range (empty when last < first)
    uint64_t term[64];        // term of each index
    zkv_hard_state_t hs;      // hard state
    zkv_snapshot_meta_t snap; // snapshot
} s_model_t;

typedef struct {
    int kind;              // 0 append, 1 truncate, 2 compact, 3 hard state, 4 snapshot
    uint64_t lo, hi, term; // append lo..hi with term; truncate/compact at lo; snapshot lo,term
    zkv_hard_state_t hs;   // hard state
} s_model_op_t;

static const s_model_op_t s_torn_ops[] = {
    {0, 21, 25, 1, {0, 0, 0}}, {3, 0, 0, 0, {2, 0, 10}}, {1, 23, 0, 0, {0, 0, 0}},
    {0, 23, 30, 2, {0, 0, 0}}, {4, 22, 0, 1, {0, 0, 0}}, {2, 22, 0, 0, {0, 0, 0}},
    {0, 31, 33, 2, {0, 0, 0}}, {3, 0, 0, 0, {2, 3, 30}}, {0, 34, 34, 2, {0, 0, 0}},
};
#define S_N_TORN_OPS  (sizeof s_torn_ops / sizeof s_torn_ops[0])
#define S_TORN_SYNCED 20 // entries 1..20 term 1 synced before the ops

static void
s_model_apply (s_model_t *model, const s_model_op_t *op)
{
    switch (op->kind) {
    case 0:
        for (uint64_t index = op->lo; index <= op->hi; index++)
            model->term[index] = op->term;
        model->last = op->hi;
        break;
    case 1:
        if (model->last >= op->lo)
            model->last = op->lo - 1;
        break;
    case 2:
        model->first = op->lo + 1;
        break;
    case 3:
        model->hs = op->hs;
        break;
    case 4:
        model->snap.index = op->lo;
        model->snap.term = op->term;
        break;
    }
}

// Whether state holds the model's entries after its snapshot, up to index upto.
static bool
s_model_matches (const s_model_t *model, uint64_t upto, const zkv_logstore_state_t *state)
{
    uint64_t lo = model->first > model->snap.index + 1 ? model->first : model->snap.index + 1;
    uint64_t hi = upto < model->last ? upto : model->last;
    if (state->snapshot.index != model->snap.index || state->snapshot.term != model->snap.term ||
        state->hard_state.term != model->hs.term || state->hard_state.vote != model->hs.vote ||
        state->hard_state.commit != model->hs.commit)
        return false;
    uint64_t n = hi >= lo ? hi - lo + 1 : 0;
    if (state->n_entries != n)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!s_entry_is (&state->entries[i], lo + i, model->term[lo + i]))
            return false;
    return true;
}

// Writes the torn scenario, crashes with seed, loads.
static int
s_torn_run (uint64_t seed, zkv_logstore_t **store_p, zkv_logstore_state_t *state)
{
    zkv_logstore_t *store = zkv_memstore_new ();
    zkv_hard_state_t hs = {1, 1, 5};
    int rc = s_append (store, GROUP, 1, S_TORN_SYNCED, 1);
    rc = rc ? rc : zkv_logstore_save_hard_state (store, GROUP, &hs);
    rc = rc ? rc : zkv_logstore_sync (store);
    for (size_t i = 0; !rc && i < S_N_TORN_OPS; i++) {
        const s_model_op_t *op = &s_torn_ops[i];
        zkv_snapshot_meta_t meta = {op->lo, op->term};
        if (op->kind == 0)
            rc = s_append (store, GROUP, op->lo, op->hi, op->term);
        else if (op->kind == 1)
            rc = zkv_logstore_truncate_suffix (store, GROUP, op->lo);
        else if (op->kind == 2)
            rc = zkv_logstore_compact_prefix (store, GROUP, op->lo);
        else if (op->kind == 3)
            rc = zkv_logstore_save_hard_state (store, GROUP, &op->hs);
        else
            rc = zkv_logstore_save_snapshot (store, GROUP, &meta, (const uint8_t *)"snap", 4);
    }
    zkv_memstore_crash (store, true, seed);
    rc = rc ? rc : zkv_logstore_load (store, GROUP, state);
    *store_p = store;
    return rc;
}

static void
test_memory_torn_crash_leaves_a_consistent_prefix (void)
{
    int seen_ops[S_N_TORN_OPS + 1] = {0};
    int partial = 0;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        zkv_logstore_t *store;
        zkv_logstore_state_t state;
        CHECK_EQ_U64 (s_torn_run (seed, &store, &state), 0);
        // Some prefix of the ops, then possibly part of the next append
        s_model_t model = {.first = 1, .last = S_TORN_SYNCED, .hs = {1, 1, 5}};
        for (uint64_t i = 1; i <= S_TORN_SYNCED; i++)
            model.term[i] = 1;
        // (several prefixes can look alike: compaction does not change what load returns)
        bool found = false, whole = false;
        for (size_t p = 0; p <= S_N_TORN_OPS; p++) {
            if (s_model_matches (&model, UINT64_MAX, &state)) {
                found = whole = true;
                seen_ops[p]++;
            }
            if (p == S_N_TORN_OPS)
                break;
            const s_model_op_t *op = &s_torn_ops[p];
            if (op->kind == 0) {
                // k entries of op landed, the k-th torn: load shows lo..lo+k-2
                s_model_t next = model;
                s_model_apply (&next, op);
                for (uint64_t k = 1; k <= op->hi - op->lo + 1; k++)
                    found |= s_model_matches (&next, op->lo + k - 2, &state);
            }
            s_model_apply (&model, op);
        }
        partial += found && !whole;
        if (!found)
            fprintf (stderr, "seed %" PRIu64 ": load is no prefix of the writes\n", seed);
        CHECK (found);
        // Entries synced before the ops and untouched by them are always there
        CHECK (state.n_entries > 0 && state.entries[0].index == state.snapshot.index + 1);

        // The node goes on from what it loaded: the torn entry never comes back
        uint64_t next_index = state.snapshot.index + state.n_entries + 1;
        uint64_t before = state.n_entries;
        zkv_logstore_state_free (&state);
        CHECK_EQ_U64 (s_append (store, GROUP, next_index, next_index, 9), 0);
        CHECK_EQ_U64 (zkv_logstore_sync (store), 0);
        zkv_memstore_crash (store, true, seed); // nothing pending: a no-op
        CHECK_EQ_U64 (zkv_logstore_load (store, GROUP, &state), 0);
        bool ok =
            state.n_entries == before + 1 && s_entry_is (&state.entries[before], next_index, 9);
        zkv_logstore_state_free (&state);
        zkv_logstore_destroy (&store);
        CHECK (ok);
    }
    // Every prefix length and torn appends did happen
    for (size_t p = 0; p <= S_N_TORN_OPS; p++) {
        if (seen_ops[p] == 0)
            fprintf (stderr, "no crash left exactly the first %zu writes\n", p);
        CHECK (seen_ops[p] > 0);
    }
    CHECK (partial > 100);
}

static void
test_memory_torn_crash_is_deterministic (void)
{
    int distinct = 0;
    uint64_t previous = UINT64_MAX;
    for (uint64_t seed = 0; seed < 200; seed++) {
        zkv_logstore_t *a, *b;
        zkv_logstore_state_t sa, sb;
        CHECK_EQ_U64 (s_torn_run (seed * 7919, &a, &sa), 0);
        CHECK_EQ_U64 (s_torn_run (seed * 7919, &b, &sb), 0);
        bool same = sa.n_entries == sb.n_entries && sa.snapshot.index == sb.snapshot.index &&
                    sa.hard_state.term == sb.hard_state.term &&
                    zkv_memstore_durable_bytes (a, GROUP) == zkv_memstore_durable_bytes (b, GROUP);
        uint64_t outcome = sa.snapshot.index * 1000 + sa.n_entries;
        distinct += outcome != previous;
        previous = outcome;
        zkv_logstore_state_free (&sa);
        zkv_logstore_state_free (&sb);
        zkv_logstore_destroy (&a);
        zkv_logstore_destroy (&b);
        CHECK (same);
    }
    CHECK (distinct > 20);
}

static void
test_memory_plain_crash_drops_everything_pending (void)
{
    zkv_logstore_t *store = zkv_memstore_new ();
    CHECK_EQ_U64 (s_append (store, GROUP, 1, 3, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (store), 0);
    size_t synced = zkv_memstore_durable_bytes (store, GROUP);
    CHECK_EQ_U64 (s_append (store, GROUP, 4, 40, 1), 0);
    CHECK_EQ_U64 (zkv_memstore_durable_bytes (store, GROUP), synced); // unsynced: not durable
    zkv_memstore_crash (store, false, 12345);
    CHECK_EQ_U64 (zkv_memstore_durable_bytes (store, GROUP), synced);
    zkv_logstore_state_t state;
    CHECK_EQ_U64 (zkv_logstore_load (store, GROUP, &state), 0);
    CHECK_EQ_U64 (state.n_entries, 3);
    zkv_logstore_state_free (&state);
    zkv_logstore_destroy (&store);
    CHECK (store == NULL);
    zkv_logstore_destroy (&store); // idempotent
}

static void
test_memory_durable_bytes_shrink_after_compaction (void)
{
    zkv_logstore_t *store = zkv_memstore_new ();
    CHECK_EQ_U64 (zkv_memstore_durable_bytes (store, GROUP), 0);
    CHECK_EQ_U64 (s_append (store, GROUP, 1, 1000, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (store), 0);
    size_t full = zkv_memstore_durable_bytes (store, GROUP);
    CHECK (full > 1000 * 17);
    zkv_snapshot_meta_t meta = {900, 1};
    CHECK_EQ_U64 (zkv_logstore_save_snapshot (store, GROUP, &meta, (const uint8_t *)"state", 5), 0);
    CHECK_EQ_U64 (zkv_logstore_compact_prefix (store, GROUP, 900), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (store), 0);
    size_t compacted = zkv_memstore_durable_bytes (store, GROUP);
    CHECK (compacted < full / 5);
    CHECK (compacted > 100 * 17);
    zkv_logstore_destroy (&store);
}

// LevelDB store only: corruption and bad paths.

// Opens the store's database directly, as a disk fault or a bug would touch it.
static void
s_raw_put (const char *dir, const uint8_t *key, size_t klen, const void *value, size_t vlen)
{
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    char *errptr = NULL;
    leveldb_t *db = leveldb_open (options, dir, &errptr);
    if (db) {
        if (value)
            leveldb_put (db, wo, (const char *)key, klen, value, vlen, &errptr);
        else
            leveldb_delete (db, wo, (const char *)key, klen, &errptr);
        leveldb_close (db);
    }
    if (errptr) {
        fprintf (stderr, "raw leveldb write: %s\n", errptr);
        leveldb_free (errptr);
    }
    leveldb_writeoptions_destroy (wo);
    leveldb_options_destroy (options);
}

static size_t
s_raw_key (uint8_t *key, char kind, uint64_t group, uint64_t index)
{
    key[0] = (uint8_t)kind;
    for (int i = 0; i < 8; i++) {
        key[1 + i] = (uint8_t)(group >> (56 - 8 * i));
        key[9 + i] = (uint8_t)(index >> (56 - 8 * i));
    }
    return kind == 'e' ? 17 : 9;
}

// Writes 1..10 to a fresh LevelDB store, damages it with damage, reopens and loads.
static int
s_ldb_damaged_load (void (*damage) (const char *dir))
{
    s_fx_t fx;
    int rc = ZKV_EIO;
    zkv_hard_state_t hs = {1, 1, 1};
    if (s_fx_open (&fx, &s_impls[1]) && s_append (fx.store, GROUP, 1, 10, 1) == 0 &&
        zkv_logstore_save_hard_state (fx.store, GROUP, &hs) == 0 &&
        zkv_logstore_sync (fx.store) == 0) {
        zkv_logstore_destroy (&fx.store);
        damage (fx.dir);
        if (s_fx_restart (&fx)) {
            zkv_logstore_state_t state;
            rc = zkv_logstore_load (fx.store, GROUP, &state);
            if (rc && (state.n_entries || state.entries))
                rc = ZKV_EPROTO; // a failed load must hand back nothing
            zkv_logstore_state_free (&state);
        }
    }
    s_fx_close (&fx);
    return rc;
}

static void
s_damage_garbage_entry (const char *dir)
{
    uint8_t key[17];
    s_raw_put (dir, key, s_raw_key (key, 'e', GROUP, 5), "garbage, not an entry", 21);
}

// Rewrites entry 6 in the store's format by hand; flip damages one bit of its term.
static void
s_forge_entry_6 (const char *dir, bool flip)
{
    uint8_t key[17], value[64] = {0};
    size_t len = s_payload (6, 1, value + 18);
    value[0] = 1;  // version
    value[1] = 1;  // term, little-endian
    value[9] = 6;  // index, little-endian
    value[17] = 0; // type
    uint32_t crc = zkv_crc32c (0, value, 18 + len);
    for (int i = 0; i < 4; i++)
        value[18 + len + i] = (uint8_t)(crc >> (8 * i));
    if (flip)
        value[1] ^= 0x10;
    s_raw_put (dir, key, s_raw_key (key, 'e', GROUP, 6), value, 18 + len + 4);
}

static void
s_damage_none_forge_entry (const char *dir)
{
    s_forge_entry_6 (dir, false);
}

static void
s_damage_flip_entry_bit (const char *dir)
{
    s_forge_entry_6 (dir, true);
}

static void
s_damage_hole (const char *dir)
{
    uint8_t key[17];
    s_raw_put (dir, key, s_raw_key (key, 'e', GROUP, 4), NULL, 0);
}

static void
s_damage_hard_state (const char *dir)
{
    uint8_t key[17];
    s_raw_put (dir, key, s_raw_key (key, 'h', GROUP, 0), "\x01xx", 3);
}

static void
s_damage_nothing (const char *dir)
{
    (void)dir;
}

static void
test_leveldb_corruption_is_reported (void)
{
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_nothing), 0); // the baseline loads
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_garbage_entry), ZKV_ECORRUPT);
    // The forged entry is read back, so only the flipped bit makes the next one fail
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_none_forge_entry), 0);
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_flip_entry_bit), ZKV_ECORRUPT);
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_hole), ZKV_ECORRUPT);
    CHECK_EQ_U64 (s_ldb_damaged_load (s_damage_hard_state), ZKV_ECORRUPT);
}

// Level-0 tables (*.ldb) in dir.
static size_t
s_tables (const char *dir)
{
    size_t n = 0;
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir (d)) != NULL) {
        size_t len = strlen (e->d_name);
        n += len > 4 && strcmp (e->d_name + len - 4, ".ldb") == 0;
    }
    closedir (d);
    return n;
}

// Appends and syncs about 3 MiB of 16 KiB entries to a store opened in a fresh directory with a
// memtable of write_buffer bytes; the number of tables LevelDB wrote meanwhile, SIZE_MAX if a
// call failed.
static size_t
s_tables_after_3mib (size_t write_buffer)
{
    char dir[] = "/tmp/zkv-test-storage-XXXXXX";
    if (!mkdtemp (dir))
        return SIZE_MAX;
    int err = 0;
    char errmsg[256] = "";
    zkv_logstore_t *store = zkv_ldbstore_new_sized (dir, write_buffer, &err, errmsg, sizeof errmsg);
    if (!store) {
        fprintf (stderr, "zkv_ldbstore_new_sized (%s): %s\n", dir, errmsg);
        return SIZE_MAX;
    }
    bool failed = false;
    static uint8_t payload[16384];
    memset (payload, 'v', sizeof payload);
    for (uint64_t index = 1; index <= 192; index++) {
        zkv_entry_t e = {.index = index, .term = 1};
        zkv_bytes_set (&e.data, payload, sizeof payload);
        failed |= zkv_logstore_append (store, GROUP, &e, 1) != 0;
        failed |= zkv_logstore_sync (store) != 0;
        zkv_entry_free (&e);
    }
    // LevelDB flushes a full memtable on its background thread: wait for the table (5 s at
    // most) where one is due.
    for (int i = 0; i < 500 && write_buffer < 2u * 1024 * 1024 && s_tables (dir) == 0; i++)
        nanosleep (&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    size_t n = failed ? SIZE_MAX : s_tables (dir);
    zkv_logstore_destroy (&store);
    leveldb_options_t *options = leveldb_options_create ();
    char *errptr = NULL;
    leveldb_destroy_db (options, dir, &errptr);
    leveldb_free (errptr);
    leveldb_options_destroy (options);
    rmdir (dir);
    return n;
}

// The memtable's size reaches LevelDB (zkvd staggers it by node: test_config).
static void
test_leveldb_write_buffer_size_is_used (void)
{
    // 3 MiB fill a 1 MiB memtable (a table is flushed) and not a 32 MiB one.
    size_t small = s_tables_after_3mib (1u << 20);
    CHECK (small >= 1 && small != SIZE_MAX);
    CHECK_EQ_U64 (s_tables_after_3mib (32u << 20), 0);
}

static void
test_leveldb_bad_paths_are_errors (void)
{
    char file[] = "/tmp/zkv-test-storage-file-XXXXXX";
    int fd = mkstemp (file);
    CHECK (fd >= 0);
    close (fd);
    int err = 0;
    char errmsg[256] = "";
    zkv_logstore_t *store = zkv_ldbstore_new (file, &err, errmsg, sizeof errmsg);
    unlink (file);
    CHECK (store == NULL);
    CHECK (err < 0);
    CHECK (strlen (errmsg) > 0);

    // A database already open (locked) by another store of this process
    s_fx_t fx;
    CHECK (s_fx_open (&fx, &s_impls[1]));
    err = 0;
    errmsg[0] = '\0';
    store = zkv_ldbstore_new (fx.dir, &err, errmsg, sizeof errmsg);
    bool refused = store == NULL && err == ZKV_EIO && strlen (errmsg) > 0;
    zkv_logstore_destroy (&store);
    s_fx_close (&fx);
    CHECK (refused);

    // A tiny errmsg buffer is truncated, never overrun; NULLs are accepted
    char tiny[4] = "abc";
    CHECK (zkv_ldbstore_new ("/proc/zkv-no-such-dir/db", &err, tiny, 2) == NULL);
    CHECK (tiny[1] == '\0' && tiny[2] == 'c');
    CHECK (zkv_ldbstore_new ("/proc/zkv-no-such-dir/db", NULL, NULL, 0) == NULL);
}

// clang-format off
static void
test_leveldb_damaged_database_refuses_to_open (void)
{
    s_fx_t fx;
    CHECK (s_fx_open (&fx, &s_impls[1]));
    CHECK_EQ_U64 (s_append (fx.store, GROUP, 1, 3, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx.store), 0);
    zkv_logstore_destroy (&fx.store);
    char path[128];
    snprintf (path, sizeof path, "%s/CURRENT", fx.dir);
    FILE *file = fopen (path, "w");
    bool written = file && fputs ("garbage", file) >= 0;
    if (file)
        fclose (file);
    int err = 0;
    char errmsg[256] = "";
    zkv_logstore_t *store = zkv_ldbstore_new (fx.dir, &err, errmsg, sizeof errmsg);
    bool refused = store == NULL && err == ZKV_ECORRUPT && strstr (errmsg, "Corruption");
    zkv_logstore_destroy (&store);
    s_fx_close (&fx);
    CHECK (written);
    CHECK (refused);
}

// A write error (here the file size limit, EFBIG) fails the sync and every later write: the
// node must restart, and then finds what was synced before.
static void
test_leveldb_write_error_is_sticky (void)
{
    s_fx_t fx;
    CHECK (s_fx_open (&fx, &s_impls[1]));
    CHECK_EQ_U64 (s_append (fx.store, GROUP, 1, 3, 1), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (fx.store), 0);

    size_t big = 2u << 20;
    zkv_entry_t entry = {.term = 1, .index = 4, .type = 0};
    entry.data.data = calloc (1, big);
    entry.data.len = big;
    CHECK_EQ_U64 (zkv_logstore_append (fx.store, GROUP, &entry, 1), 0);

    struct rlimit saved, limit;
    getrlimit (RLIMIT_FSIZE, &saved);
    limit = saved;
    limit.rlim_cur = big / 2;
    void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
    setrlimit (RLIMIT_FSIZE, &limit);
    int rc = zkv_logstore_sync (fx.store);
    setrlimit (RLIMIT_FSIZE, &saved);
    signal (SIGXFSZ, old_handler);
    int again = s_append (fx.store, GROUP, 4, 4, 1);
    int sync_again = zkv_logstore_sync (fx.store);
    zkv_entry_free (&entry);

    bool reopened = s_fx_restart (&fx);
    zkv_logstore_state_t state = {0};
    int load_rc = reopened ? zkv_logstore_load (fx.store, GROUP, &state) : ZKV_EIO;
    bool ok = load_rc == 0 && state.n_entries == 3 && s_entries_are (&state, 0, 1, 3, 1);
    zkv_logstore_state_free (&state);
    s_fx_close (&fx);
    CHECK_EQ_U64 (rc, ZKV_EIO);
    CHECK_EQ_U64 (again, ZKV_EIO);
    CHECK_EQ_U64 (sync_again, ZKV_EIO);
    CHECK (reopened);
    CHECK (ok);
}

// The simulator's setting: many stores in one process, written in turn, never mixing.
static void
test_memory_many_stores_in_one_process (void)
{
    enum { STORES = 300, ROUNDS = 20 };
    zkv_logstore_t *stores[STORES];
    uint64_t next[STORES];  // next index each store's log expects
    for (int i = 0; i < STORES; i++) {
        stores[i] = zkv_memstore_new ();
        next[i] = 1;
    }
    for (uint64_t round = 0; round < ROUNDS; round++)
        for (int i = 0; i < STORES; i++) {
            uint64_t term = 1 + (uint64_t) i;
            CHECK_EQ_U64 (s_append (stores[i], GROUP, next[i], next[i] + 2, term), 0);
            next[i] += 3;
            if ((round + (uint64_t) i) % 2)
                CHECK_EQ_U64 (zkv_logstore_sync (stores[i]), 0);
            if (round == ROUNDS / 2 && i % 10 == 0) {
                // Crash and reboot: go on from what was durable
                zkv_memstore_crash (stores[i], true, (uint64_t) i);
                zkv_logstore_state_t state;
                CHECK_EQ_U64 (zkv_logstore_load (stores[i], GROUP, &state), 0);
                next[i] = state.n_entries + 1;
                zkv_logstore_state_free (&state);
            }
        }
    bool ok = true;
    for (int i = 0; i < STORES; i++) {
        CHECK_EQ_U64 (zkv_logstore_sync (stores[i]), 0);
        zkv_logstore_state_t state;
        CHECK_EQ_U64 (zkv_logstore_load (stores[i], GROUP, &state), 0);
        ok = ok && state.n_entries == next[i] - 1;
        for (size_t j = 0; ok && j < state.n_entries; j++)
            ok = s_entry_is (&state.entries[j], j + 1, 1 + (uint64_t) i);
        if (i % 10)
            ok = ok && state.n_entries == ROUNDS * 3;  // never crashed: everything
        zkv_logstore_state_free (&state);
        zkv_logstore_destroy (&stores[i]);
    }
    CHECK (ok);
}

ZKV_TEST_MAIN (
    TEST (test_append_load_round_trip)
    TEST (test_never_written_group_is_empty)
    TEST (test_groups_are_isolated)
    TEST (test_truncate_suffix_then_reappend)
    TEST (test_truncate_within_one_unsynced_batch)
    TEST (test_compact_prefix_after_snapshot)
    TEST (test_snapshot_replace_and_load)
    TEST (test_snapshot_installed_on_empty_log)
    TEST (test_hard_state_round_trip)
    TEST (test_unsynced_writes_lost_on_crash)
    TEST (test_synced_writes_survive_restarts)
    TEST (test_indexes_load_in_numeric_order)
    TEST (test_many_small_appends_across_syncs_are_contiguous)
    TEST (test_invalid_writes_are_refused)
    TEST (test_crc32c_check_value)
    TEST (test_memory_torn_crash_leaves_a_consistent_prefix)
    TEST (test_memory_torn_crash_is_deterministic)
    TEST (test_memory_plain_crash_drops_everything_pending)
    TEST (test_memory_durable_bytes_shrink_after_compaction)
    TEST (test_leveldb_corruption_is_reported)
    TEST (test_leveldb_bad_paths_are_errors)
    TEST (test_leveldb_write_buffer_size_is_used)
    TEST (test_leveldb_damaged_database_refuses_to_open)
    TEST (test_leveldb_write_error_is_sticky)
    TEST (test_leveldb_deleted_ranges_compact_in_background)
    TEST (test_memory_many_stores_in_one_process)
)
// clang-format on
