// Bytes of answers waiting for slow client connections (zkv_answers.h).
#include "zkv_answers.h"
#include "zkv_u64map.h"

#include <stdlib.h>

// A connection not sent an answer for this long leaves the count (zkv_answers.h).
#define S_STALE_MS 10000

typedef struct {
    uint64_t bytes;   // sent since its buffer last had room
    uint64_t last_ms; // when it was last sent one
} s_conn_t;

struct zkv_answers {
    uint64_t per_conn; // budgets (0: none)
    uint64_t total;
    zkv_u64map_t conns; // routing id hash -> s_conn_t (only connections with bytes waiting)
    uint64_t waiting;   // sum of their bytes
    uint64_t cut;       // connections cut
};

zkv_answers_t *
zkv_answers_new (uint64_t per_conn, uint64_t total)
{
    zkv_answers_t *self = calloc (1, sizeof *self);
    if (!self)
        abort (); // out of memory aborts (STYLE.md)
    self->per_conn = per_conn;
    self->total = total;
    return self;
}

static void
s_forget (zkv_answers_t *self, uint64_t key)
{
    s_conn_t *c = zkv_u64map_remove (&self->conns, key);
    if (c) {
        self->waiting -= c->bytes;
        free (c);
    }
}

void
zkv_answers_destroy (zkv_answers_t **self_p)
{
    zkv_answers_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->conns.capacity; i++)
        free (self->conns.slots[i].value);
    zkv_u64map_free (&self->conns);
    free (self);
    *self_p = NULL;
}

// FNV-1a of the routing id: ids are the node's own counters unless a client names itself, and
// two ids that collide only share a count.
static uint64_t
s_key (const uint8_t *conn, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ conn[i]) * 0x100000001b3ull;
    return h;
}

// Drops the connections not sent an answer for S_STALE_MS.
static void
s_drop_stale (zkv_answers_t *self, uint64_t now_ms)
{
    size_t n = self->conns.count;
    if (!n)
        return;
    uint64_t *keys = malloc (n * sizeof *keys);
    if (!keys)
        abort ();
    zkv_u64map_keys (&self->conns, keys);
    for (size_t i = 0; i < n; i++) {
        s_conn_t *c = zkv_u64map_get (&self->conns, keys[i]);
        if (now_ms - c->last_ms >= S_STALE_MS)
            s_forget (self, keys[i]);
    }
    free (keys);
}

bool
zkv_answers_sent (zkv_answers_t *self, const uint8_t *conn, size_t conn_len, uint64_t bytes,
                  bool full, uint64_t now_ms)
{
    uint64_t key = s_key (conn, conn_len);
    if (!full) {
        s_forget (self, key); // it went to the kernel: nothing waits for it here
        return false;
    }
    s_conn_t *c = zkv_u64map_get (&self->conns, key);
    if (!c) {
        c = calloc (1, sizeof *c);
        if (!c)
            abort ();
        zkv_u64map_put (&self->conns, key, c);
    }
    c->bytes += bytes;
    c->last_ms = now_ms;
    self->waiting += bytes;
    if (self->total && self->waiting > self->total)
        s_drop_stale (self, now_ms);
    c = zkv_u64map_get (&self->conns, key);
    bool over = (self->per_conn && c && c->bytes > self->per_conn) ||
                (self->total && self->waiting > self->total);
    if (over) {
        s_forget (self, key);
        self->cut++;
    }
    return over;
}

uint64_t
zkv_answers_waiting (const zkv_answers_t *self)
{
    return self->waiting;
}

uint64_t
zkv_answers_cut (const zkv_answers_t *self)
{
    return self->cut;
}
