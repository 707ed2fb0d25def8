// Compactions that wait for the views of a LevelDB database to close, run by a thread of their
// own (zkv_ldbpins.h).
#include "zkv_ldbpins.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint8_t start[ZKV_LDBPINS_KEY_MAX];
    uint8_t limit[ZKV_LDBPINS_KEY_MAX];
    size_t slen, llen;
} s_range_t;

struct zkv_ldbpins {
    leveldb_t *db;                             // the database (not owned)
    leveldb_writeoptions_t *nosync;            // the markers' writes
    pthread_mutex_t lock;                      // guards everything below
    pthread_cond_t wake;                       // the compactor has work, or must end
    size_t open;                               // views open now
    s_range_t pending[ZKV_LDBPINS_MAX_RANGES]; // ranges to compact once none is
    size_t n_pending;                          // their number
    bool busy;                                 // the compactor is compacting
    bool stopping;                             // the node stops: nothing more is compacted
    bool quit;                                 // the compactor ends
    pthread_t compactor;
    zkv_ldbpins_counters_t counters;
};

static int
s_keycmp (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp (a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

// Compacts [start, limit) down to the deepest level that holds any of it. LevelDB's manual
// compaction merges each level into the next, so it never rewrites a file of the deepest level
// by itself: when a compaction that ran while a view was open already merged the range's
// tombstones with the values they delete into that level (keeping both, for the view), only a
// newer file above it makes that file be rewritten. Tombstones for the range's start and limit
// (prefixes that are no stored keys) make that file: it spans the whole range, so it overlaps
// every file that holds some of it, and goes down level by level taking them with it.
static void
s_compact (zkv_ldbpins_t *self, const uint8_t *start, size_t slen, const uint8_t *limit,
           size_t llen)
{
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    leveldb_writebatch_delete (wb, (const char *)start, slen);
    leveldb_writebatch_delete (wb, (const char *)limit, llen);
    char *err = NULL;
    leveldb_write (self->db, self->nosync, wb, &err);
    leveldb_writebatch_destroy (wb);
    if (err)
        leveldb_free (err); // the write failed: the next commit reports the store's error
    leveldb_compact_range (self->db, (const char *)start, slen, (const char *)limit, llen);
}

// The compactor: compacts the ranges waiting, once no view is open, one batch at a time.
static void *
s_compactor (void *arg)
{
    zkv_ldbpins_t *self = arg;
    pthread_mutex_lock (&self->lock);
    while (!self->quit) {
        if (self->n_pending == 0 || self->open > 0 || self->stopping) {
            pthread_cond_wait (&self->wake, &self->lock);
            continue;
        }
        s_range_t todo[ZKV_LDBPINS_MAX_RANGES];
        size_t n = self->n_pending;
        memcpy (todo, self->pending, n * sizeof *todo);
        self->n_pending = 0;
        self->busy = true;
        pthread_mutex_unlock (&self->lock);
        // Outside the lock: a compaction takes a while, and views may open meanwhile (they see
        // the ranges deleted already, so they pin nothing of them).
        for (size_t i = 0; i < n; i++)
            s_compact (self, todo[i].start, todo[i].slen, todo[i].limit, todo[i].llen);
        pthread_mutex_lock (&self->lock);
        self->busy = false;
        self->counters.compacted += n;
        pthread_cond_broadcast (&self->wake);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

zkv_ldbpins_t *
zkv_ldbpins_new (leveldb_t *db)
{
    assert (db);
    zkv_ldbpins_t *self = calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->db = db;
    self->nosync = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->nosync, 0);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    if (pthread_create (&self->compactor, NULL, s_compactor, self))
        abort (); // no thread: as out of memory
    return self;
}

void
zkv_ldbpins_destroy (zkv_ldbpins_t **self_p)
{
    zkv_ldbpins_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->quit = true;
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->compactor, NULL);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    leveldb_writeoptions_destroy (self->nosync);
    free (self);
    *self_p = NULL;
}

const leveldb_snapshot_t *
zkv_ldbpins_open (zkv_ldbpins_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->open++;
    self->counters.views_opened++;
    pthread_mutex_unlock (&self->lock);
    return leveldb_create_snapshot (self->db);
}

void
zkv_ldbpins_stopping (zkv_ldbpins_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_mutex_unlock (&self->lock);
}

void
zkv_ldbpins_close (zkv_ldbpins_t *self, const leveldb_snapshot_t *snap)
{
    leveldb_release_snapshot (self->db, snap);
    pthread_mutex_lock (&self->lock);
    assert (self->open > 0);
    if (--self->open == 0 && self->n_pending > 0) {
        self->counters.compacted_late += self->n_pending;
        pthread_cond_broadcast (&self->wake);
    }
    pthread_mutex_unlock (&self->lock);
}

void
zkv_ldbpins_compact (zkv_ldbpins_t *self, const uint8_t *start, size_t slen, const uint8_t *limit,
                     size_t llen)
{
    assert (slen <= ZKV_LDBPINS_KEY_MAX && llen <= ZKV_LDBPINS_KEY_MAX);
    pthread_mutex_lock (&self->lock);
    self->counters.requested++;
    if (self->open > 0)
        self->counters.deferred++;
    if (self->n_pending < ZKV_LDBPINS_MAX_RANGES) {
        s_range_t *r = &self->pending[self->n_pending++];
        memcpy (r->start, start, slen);
        memcpy (r->limit, limit, llen);
        r->slen = slen;
        r->llen = llen;
    } else {
        // No room: the last range grows to cover this one too (compacting more than was
        // deleted costs time, never data).
        s_range_t *r = &self->pending[ZKV_LDBPINS_MAX_RANGES - 1];
        if (s_keycmp (start, slen, r->start, r->slen) < 0) {
            memcpy (r->start, start, slen);
            r->slen = slen;
        }
        if (s_keycmp (limit, llen, r->limit, r->llen) > 0) {
            memcpy (r->limit, limit, llen);
            r->llen = llen;
        }
        self->counters.merged++;
    }
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
}

bool
zkv_ldbpins_wait_idle (zkv_ldbpins_t *self, int64_t timeout_ms)
{
    struct timespec until;
    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock (&self->lock);
    int rc = 0;
    while (rc == 0 && (self->busy || self->n_pending > 0))
        rc = pthread_cond_timedwait (&self->wake, &self->lock, &until);
    bool idle = !self->busy && self->n_pending == 0;
    pthread_mutex_unlock (&self->lock);
    return idle;
}

void
zkv_ldbpins_counters (zkv_ldbpins_t *self, zkv_ldbpins_counters_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->counters;
    pthread_mutex_unlock (&self->lock);
}
