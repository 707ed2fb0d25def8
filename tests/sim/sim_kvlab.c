// The 6.5840 KV lab's GenericTest, GenericTestSpeed, partitioner and appends checks in simulated
// time.
#include "sim_kvlab.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ITERATIONS  3               // GenericTest's rounds
#define S_CLIENT_TIME (5 * SIM_SEC)   // clients run this long each round
#define S_CALM_TIME   (1 * SIM_SEC)   // before the partitioner starts
#define S_WAIT_TIME   (120 * SIM_SEC) // clients must have finished by then after a round
#define S_VALUE_MAX   48
// GenericTestSpeed: "heartbeat interval should be ~ 100 ms; require at least 3 ops per".
#define S_HEARTBEAT_INTERVAL (100 * SIM_MS)
#define S_OPS_PER_INTERVAL   3

void
sim_kvlab_value (char *buf, size_t size, int process, uint64_t n)
{
    snprintf (buf, size, "x%d.%" PRIu64 ";", process, n);
}

void
sim_kvlab_check_appends (sim_t *s, int clnt, const char *v, uint64_t first, uint64_t count)
{
    const char *last = NULL;
    for (uint64_t j = first; j < first + count; j++) {
        char wanted[S_VALUE_MAX];
        sim_kvlab_value (wanted, sizeof wanted, clnt, j);
        const char *off = strstr (v, wanted);
        if (!off)
            sim_fail (s, "client %d: missing element %s in Append result '%.200s'", clnt, wanted,
                      v);
        if (strstr (off + 1, wanted))
            sim_fail (s, "client %d: duplicate element %s in Append result", clnt, wanted);
        if (last && off <= last)
            sim_fail (s, "client %d: wrong order for element %s in Append result", clnt, wanted);
        last = off;
    }
}

uint32_t
sim_kvlab_mask (sim_t *s, const int *group, int g)
{
    uint32_t mask = 0;
    for (int i = 0; i < sim_n (s); i++)
        if (group[i] == g)
            mask |= UINT32_C (1) << i;
    return mask;
}

int
sim_kvlab_make_partition (sim_t *s, int *group)
{
    int leader = sim_check_one_leader (s);
    int n = sim_n (s), in_p1 = 0;
    for (int i = 0; i < n; i++) {
        if (i == leader)
            group[i] = 1;
        else if (in_p1 < n / 2 + 1) {
            group[i] = 0;
            in_p1++;
        } else
            group[i] = 1;
    }
    return leader;
}

// --- GenericTest -----------------------------------------------------------------------------

typedef struct s_generic s_generic_t;

// One closed-loop client of GenericTest.
typedef struct {
    s_generic_t *g;       // the test
    sim_kvclient_t *ck;   // its clerk
    int cli;              // its number (and key, when not randomkeys)
    uint64_t written;     // writes made over the whole run (the value counter)
    uint64_t first;       // value counter at the start of this round
    uint64_t j;           // appends (and puts) made this round: the lab's j
    char *last;           // what its key must hold (not randomkeys)
    size_t last_len;      //
    bool getting;         // the open operation is a get
    char nv[S_VALUE_MAX]; // the open write's value
} s_client_t;

struct s_generic {
    int nclients;
    bool randomkeys;
    bool stop;         // done_clients
    bool partitioning; // the partitioner runs
    s_client_t *clients;
};

static void
s_key (char *buf, size_t size, int k)
{
    snprintf (buf, size, "%d", k);
}

static void s_next (sim_t *s, sim_kvclient_t *ck, void *arg);

static void
s_issue (sim_t *s, s_client_t *c)
{
    s_generic_t *g = c->g;
    char key[16];
    s_key (key, sizeof key,
           g->randomkeys ? (int)zkv_rng_below (sim_rng (s), (uint64_t)g->nclients) : c->cli);
    sim_kvlab_value (c->nv, sizeof c->nv, sim_kv_client_process (c->ck), c->written);
    c->getting = false;
    if (zkv_rng_below (sim_rng (s), 1000) < 500)
        sim_kv_start (s, c->ck, ZKV_HIST_APPEND, key, c->nv);
    else if (g->randomkeys && zkv_rng_below (sim_rng (s), 1000) < 100)
        // Only with random keys: it would break the check after the gets.
        sim_kv_start (s, c->ck, ZKV_HIST_PUT, key, c->nv);
    else {
        c->getting = true;
        sim_kv_start (s, c->ck, ZKV_HIST_GET, key, NULL);
    }
}

// A client's operation completed: account for it, then the next one (until told to stop).
static void
s_next (sim_t *s, sim_kvclient_t *ck, void *arg)
{
    (void)ck;
    s_client_t *c = arg;
    s_generic_t *g = c->g;
    if (c->getting) {
        if (!g->randomkeys && strcmp (sim_kv_value (c->ck), c->last ? c->last : "") != 0)
            sim_fail (s, "get wrong value, key %d, wanted '%.200s', got '%.200s'", c->cli,
                      c->last ? c->last : "", sim_kv_value (c->ck));
    } else if (c->nv[0]) {
        if (!g->randomkeys) {
            size_t add = strlen (c->nv);
            c->last = realloc (c->last, c->last_len + add + 1);
            if (!c->last)
                abort ();
            memcpy (c->last + c->last_len, c->nv, add + 1);
            c->last_len += add;
        }
        c->written++;
        c->j++;
    }
    c->nv[0] = 0;
    c->getting = false;
    if (!g->stop)
        s_issue (s, c);
}

// One round's client: the first operation (Put "" of its own key unless randomkeys).
static void
s_client_begin (sim_t *s, s_client_t *c)
{
    c->j = 0;
    c->first = c->written;
    free (c->last);
    c->last = NULL;
    c->last_len = 0;
    if (!c->g->randomkeys) {
        char key[16];
        s_key (key, sizeof key, c->cli);
        c->getting = false;
        c->nv[0] = 0; // the lab's Put (key, last = ""): not one of the round's values
        sim_kv_start (s, c->ck, ZKV_HIST_PUT, key, "");
    } else
        s_issue (s, c);
}

// The lab's partitioner: a random two-way split of the servers every 1 to 1.2 s.
static void
s_partitioner (sim_t *s, void *arg)
{
    s_generic_t *g = arg;
    if (g->stop) {
        g->partitioning = false; // it notices done when its sleep ends; the lab waits for that
        return;
    }
    int group[SIM_MAX_NODES];
    for (int i = 0; i < sim_n (s); i++)
        group[i] = (int)zkv_rng_below (sim_rng (s), 2);
    sim_partition (s, group);
    sim_at (s, sim_now (s) + SIM_KV_ELECTION_TIMEOUT + zkv_rng_below (sim_rng (s), 200) * SIM_MS,
            s_partitioner, g);
}

static bool
s_not_partitioning (sim_t *s, void *arg)
{
    (void)s;
    return !((s_generic_t *)arg)->partitioning;
}

void
sim_kvlab_generic (sim_t *s, int nclients, bool crash, bool partitions, bool randomkeys)
{
    int nservers = sim_n (s);
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    s_generic_t g = {.nclients = nclients, .randomkeys = randomkeys};
    g.clients = calloc ((size_t)nclients, sizeof *g.clients);
    if (!g.clients)
        abort ();
    for (int i = 0; i < nclients; i++) {
        g.clients[i].g = &g;
        g.clients[i].cli = i;
        g.clients[i].ck = sim_kv_client (s, SIM_KV_ALL);
        sim_kv_client_on_done (g.clients[i].ck, s_next, &g.clients[i]);
    }
    for (int it = 0; it < S_ITERATIONS; it++) {
        g.stop = false;
        for (int i = 0; i < nclients; i++)
            s_client_begin (s, &g.clients[i]);
        if (partitions) {
            // Let the clients work without interruption first.
            sim_sleep (s, S_CALM_TIME);
            g.partitioning = true;
            s_partitioner (s, &g);
        }
        sim_sleep (s, S_CLIENT_TIME);
        g.stop = true; // clients finish their current operation and quit
        if (partitions) {
            sim_run_until (s, sim_now (s) + 2 * SIM_SEC, s_not_partitioning, &g);
            // A request may have gone to a minority: it completes once that server sees a new
            // term.
            sim_heal (s);
            sim_sleep (s, SIM_KV_ELECTION_TIMEOUT);
        }
        if (crash) {
            for (int i = 0; i < nservers; i++)
                sim_crash1 (s, i);
            sim_sleep (s, SIM_KV_ELECTION_TIMEOUT);
            for (int i = 0; i < nservers; i++)
                sim_start1 (s, i);
            sim_heal (s); // ConnectAll
        }
        sim_kv_wait_idle (s, sim_now (s) + S_WAIT_TIME);
        for (int i = 0; i < nclients; i++) {
            char key[16];
            s_key (key, sizeof key, i);
            const char *v = sim_kv_get (s, ck, key);
            if (!randomkeys)
                sim_kvlab_check_appends (s, sim_kv_client_process (g.clients[i].ck), v,
                                         g.clients[i].first, g.clients[i].j);
        }
        size_t max = sim_kv_maxraftstate (s);
        if (max > 0) {
            // After the servers processed every request and had time to snapshot.
            size_t sz = sim_kv_max_raft_state (s);
            if (sz > 8 * max)
                sim_fail (s, "logs were not trimmed (%zu > 8*%zu) in round %d", sz, max, it);
        } else {
            size_t ssz = sim_kv_max_snapshot (s);
            if (ssz > 0)
                sim_fail (s, "snapshot too large (%zu), should not be used without maxraftstate",
                          ssz);
        }
    }
    for (int i = 0; i < nclients; i++) {
        sim_kv_client_on_done (g.clients[i].ck, NULL, NULL);
        free (g.clients[i].last);
    }
    free (g.clients);
}

// --- GenericTestSpeed ------------------------------------------------------------------------

void
sim_kvlab_speed (sim_t *s)
{
    sim_kvclient_t *ck = sim_kv_client (s, SIM_KV_ALL);
    int p = sim_kv_client_process (ck);
    // A leader is elected and the servers answer.
    sim_kv_get (s, ck, "x");

    uint64_t start = sim_now (s);
    for (uint64_t i = 0; i < SIM_KVLAB_SPEED_OPS; i++) {
        char v[S_VALUE_MAX];
        sim_kvlab_value (v, sizeof v, p, i);
        sim_kv_append (s, ck, "x", v);
    }
    uint64_t dur = sim_now (s) - start;

    const char *v = sim_kv_get (s, ck, "x");
    sim_kvlab_check_appends (s, p, v, 0, SIM_KVLAB_SPEED_OPS);

    // The lab's dur > numOps * (heartbeatInterval / opsPerInterval), without the rounding.
    double per_op_ms = (double)dur / SIM_KVLAB_SPEED_OPS / SIM_MS;
    printf ("speed: %d appends in %.3f s simulated, %.2f ms per operation (bound %.2f ms)\n",
            SIM_KVLAB_SPEED_OPS, (double)dur / SIM_SEC, per_op_ms,
            (double)S_HEARTBEAT_INTERVAL / S_OPS_PER_INTERVAL / SIM_MS);
    if (dur * S_OPS_PER_INTERVAL > SIM_KVLAB_SPEED_OPS * S_HEARTBEAT_INTERVAL)
        sim_fail (s, "operations completed too slowly: %.2f ms/op > %.2f ms/op", per_op_ms,
                  (double)S_HEARTBEAT_INTERVAL / S_OPS_PER_INTERVAL / SIM_MS);
}
