// zkv-sim: runs the deterministic simulator: lab scenarios, seed sweeps, determinism check, demo.
#include "scenarios.h"
#include "sim_chaos.h"
#include "sim_kv.h"
#include "zkv_version.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_CHAOS_US    (60 * SIM_SEC)  // faults per sweep seed
#define SWEEP_KV_CHAOS_US (60 * SIM_SEC)  // ... with the KV service (--kv)
#define S_SKIP_MAX        128             // seeds --skip may name
#define S_TEST_BOUND_US   (120 * SIM_SEC) // the lab's limit on a whole test (checkTimeout)

typedef struct {
    uint64_t seed;    // --seed
    uint64_t seeds;   // --seeds
    bool many;        // --seeds given: run runs the scenario under seeds from..from+seeds-1
    uint64_t from;    // --from
    uint64_t seconds; // --seconds
    bool trace;       // --trace
    bool fail_fast;   // --fail-fast: a sweep stops at its first failing seed
    bool kv;          // --kv: the sweep runs the KV service with clerks
    bool shards;      // --shards: ... in the sharded world, with joins, leaves and moves
    int stream;       // --stream 1 / --blob -1: every seed streams snapshots, or none; 0 drawn
    uint64_t skip[S_SKIP_MAX]; // --skip S,S,...: seeds a sweep leaves out (known core defects)
    size_t n_skip;             //
} s_args_t;

static int
s_usage (void)
{
    fprintf (stderr, "usage: zkv-sim list\n"
                     "       zkv-sim run NAME [--seed S | --seeds N [--from S]] [--trace]\n"
                     "       zkv-sim sweep [--seeds N] [--from S] [--trace] [--fail-fast] [--kv | --shards]\n"
                     "             [--stream | --blob] [--skip S,S,...]\n"
                     "       zkv-sim determinism [--seed S]\n"
                     "       zkv-sim selftest\n"
                     "       zkv-sim demo [--seed S] [--seconds T]\n"
                     "       zkv-sim --version\n");
    return 2;
}

static int
s_parse (int argc, char **argv, int first, s_args_t *a)
{
    for (int i = first; i < argc; i++) {
        uint64_t *dst = NULL;
        if (strcmp (argv[i], "--trace") == 0) {
            a->trace = true;
            continue;
        }
        if (strcmp (argv[i], "--fail-fast") == 0) {
            a->fail_fast = true;
            continue;
        }
        if (strcmp (argv[i], "--kv") == 0) {
            a->kv = true;
            continue;
        }
        if (strcmp (argv[i], "--shards") == 0) {
            a->kv = a->shards = true;
            continue;
        }
        if (strcmp (argv[i], "--stream") == 0 || strcmp (argv[i], "--blob") == 0) {
            a->stream = argv[i][2] == 's' ? 1 : -1;
            continue;
        }
        if (strcmp (argv[i], "--skip") == 0 && i + 1 < argc) {
            // A list of seeds the sweep leaves out: each a known defect, named where it is set.
            char *p = argv[++i], *end;
            while (*p) {
                if (a->n_skip == S_SKIP_MAX)
                    return -1;
                a->skip[a->n_skip++] = strtoull (p, &end, 0);
                if (end == p || (*end && *end != ','))
                    return -1;
                p = *end ? end + 1 : end;
            }
            continue;
        }
        if (strcmp (argv[i], "--seed") == 0)
            dst = &a->seed;
        else if (strcmp (argv[i], "--seeds") == 0)
            dst = &a->seeds;
        else if (strcmp (argv[i], "--from") == 0)
            dst = &a->from;
        else if (strcmp (argv[i], "--seconds") == 0)
            dst = &a->seconds;
        if (!dst || i + 1 >= argc) {
            fprintf (stderr, "zkv-sim: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        char *end;
        a->many = a->many || dst == &a->seeds;
        *dst = strtoull (argv[++i], &end, 0);
        if (*end) {
            fprintf (stderr, "zkv-sim: '%s' is not a number\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static const sim_scenario_t *
s_find (const char *name)
{
    for (size_t t = 0; sim_scenario_tables[t]; t++)
        for (const sim_scenario_t *sc = sim_scenario_tables[t]; sc->name; sc++)
            if (strcmp (sc->name, name) == 0)
                return sc;
    return NULL;
}

static void
s_scenario_fn (sim_t *s, void *arg)
{
    const sim_scenario_t *sc = arg;
    sc->fn (s);
    if (sc->kv || sc->shards)
        sim_kv_finish (s); // the clerks' history must be linearizable
    sim_check_final (s);
    // The lab fails any test that ran for more than 120 s from make_config to its end; here in
    // simulated time, for every scenario (none of the lab's own comes near it).
    if (sim_now (s) > S_TEST_BOUND_US)
        sim_fail (s, "the test took %.1f s of simulated time, more than the lab's %d s",
                  (double)sim_now (s) / SIM_SEC, (int)(S_TEST_BOUND_US / SIM_SEC));
}

static int
s_run_seed (const sim_scenario_t *sc, const s_args_t *a, uint64_t seed)
{
    sim_config_t cfg;
    sim_config_defaults (&cfg);
    cfg.seed = seed;
    cfg.n_nodes = sc->n_nodes;
    cfg.unreliable = sc->unreliable;
    cfg.snapshot_every = sc->snapshot_every;
    cfg.max_entries_per_msg = sc->max_entries_per_msg;
    cfg.max_inflight_msgs = sc->max_inflight_msgs;
    cfg.no_check_quorum = sc->no_check_quorum;
    cfg.kv = sc->kv || sc->shards;
    cfg.shards = sc->shards;
    cfg.n_groups = sc->n_groups;
    cfg.maxraftstate = sc->maxraftstate;
    cfg.stream = sc->stream;
    cfg.snapshot_chunk_bytes = sc->snapshot_chunk_bytes;
    cfg.stream_pad = sc->stream_pad;
    cfg.req_drop_pm = sc->req_busy_pm;
    cfg.log_clock_x = sc->log_clock_x;
    cfg.session_ttl_ms = sc->session_ttl_ms;
    cfg.trace = a->trace;
    sim_t *s = sim_new (&cfg);
    int rc = sim_guard (s, s_scenario_fn, (void *)sc);
    sim_counters_t k;
    sim_counters (s, &k);
    printf ("%s %s seed %" PRIu64 ": %.1f s simulated, %" PRIu64 " events, %" PRIu64
            " elections, %" PRIu64 " committed, %" PRIu64 " messages, %" PRIu64 " checks\n",
            rc == 0 ? "PASS" : "FAIL", sc->name, seed, (double)sim_now (s) / SIM_SEC, k.events,
            k.elections, sim_max_committed (s), k.msgs_sent, k.checks);
    if (sc->kv || sc->shards) {
        sim_kv_counters_t kc;
        sim_kv_counters (s, &kc);
        printf ("kv: %" PRIu64 " ops, %" PRIu64 " requests (%" PRIu64 " not the leader, %" PRIu64
                " answered by dedup), %" PRIu64 " proposals, %" PRIu64 " snapshots, %" PRIu64
                " restored\n",
                kc.ops_ok, kc.requests, kc.not_leader, kc.dedup_answers, kc.proposals,
                kc.kv_snapshots, kc.kv_restores);
    }
    printf ("trace hash 0x%016" PRIx64 "\n", sim_trace_hash (s));
    sim_destroy (&s);
    return rc == 0 ? 0 : 1;
}

// One seed (--seed), or each of --seeds N from --from: a line per failing seed, then a tally.
static int
s_run (const char *name, const s_args_t *a)
{
    const sim_scenario_t *sc = s_find (name);
    if (!sc) {
        fprintf (stderr, "zkv-sim: no scenario '%s' (see zkv-sim list)\n", name);
        return 2;
    }
    if (!a->many)
        return s_run_seed (sc, a, a->seed);
    uint64_t passed = 0, failed = 0;
    for (uint64_t seed = a->from; seed < a->from + a->seeds; seed++) {
        if (s_run_seed (sc, a, seed) == 0)
            passed++;
        else {
            failed++;
            printf ("FAIL %s seed %" PRIu64 " (replay: zkv-sim run %s --seed %" PRIu64
                    " --trace)\n",
                    sc->name, seed, sc->name, seed);
        }
        fflush (stdout);
    }
    printf ("%s: seeds %" PRIu64 "..%" PRIu64 ": %" PRIu64 " passed, %" PRIu64 " failed\n",
            sc->name, a->from, a->from + a->seeds - 1, passed, failed);
    return failed ? 1 : 0;
}

static int
s_sweep (const s_args_t *a)
{
    uint64_t passed = 0, failed = 0, events = 0, committed = 0, elections = 0, crashes = 0;
    uint64_t reads = 0, reads_failed = 0, skipped = 0;
    uint64_t streamed = 0, chunks = 0, promoted = 0, lost = 0, unavailable = 0, wanted = 0;
    uint64_t mid_stream = 0, shard_events = 0, shard_calls = 0;
    uint64_t expired = 0, capped = 0, refused = 0, busy = 0, renewed = 0, unknown = 0;
    for (uint64_t seed = a->from; seed < a->from + a->seeds; seed++) {
        bool skip = false;
        for (size_t i = 0; i < a->n_skip; i++)
            skip = skip || a->skip[i] == seed;
        if (skip) {
            skipped++;
            continue;
        }
        sim_chaos_opts_t o = {.seed = seed,
                              .chaos_us = a->kv ? SWEEP_KV_CHAOS_US : SWEEP_CHAOS_US,
                              .trace = a->trace,
                              .quiet = a->seeds > 1,
                              .kv = a->kv,
                              .shards = a->shards,
                              .stream = a->stream};
        sim_chaos_result_t r;
        sim_chaos_run (&o, &r);
        events += r.counters.events;
        committed += r.committed;
        elections += r.counters.elections;
        crashes += r.counters.crashes;
        reads += r.counters.reads_served;
        reads_failed += r.counters.reads_failed;
        streamed += r.counters.chunks_written > 0;
        chunks += r.counters.chunks_written;
        promoted += r.counters.streams_promoted;
        lost += r.counters.states_lost;
        unavailable += r.counters.views_unavailable;
        wanted += r.counters.snapshots_wanted;
        mid_stream += r.counters.leaders_mid_stream;
        shard_events += r.counters.shard_events;
        shard_calls += r.counters.shard_calls;
        expired += r.counters.sessions_expired;
        capped += r.counters.sessions_capped;
        refused += r.counters.sessions_refused;
        busy += r.counters.sessions_busy;
        renewed += r.counters.sessions_new;
        unknown += r.counters.sessions_unknown;
        if (r.passed)
            passed++;
        else {
            failed++;
            printf ("FAIL seed %" PRIu64 " (replay: zkv-sim sweep --from %" PRIu64
                    " --seeds 1%s%s --trace)\n",
                    seed, seed, a->shards ? " --shards" : a->kv ? " --kv" : "",
                    a->stream > 0   ? " --stream"
                    : a->stream < 0 ? " --blob"
                                    : "");
        }
        if (a->seeds == 1)
            printf ("trace hash 0x%016" PRIx64 "\n", r.trace_hash);
        fflush (stdout);
        if (failed && a->fail_fast)
            break;
    }
    printf ("sweep: seeds %" PRIu64 "..%" PRIu64 ": %" PRIu64 " events, %" PRIu64
            " entries committed, %" PRIu64 " elections, %" PRIu64 " crashes, %" PRIu64
            " reads served (%" PRIu64 " refused by deposed leaders)\n",
            a->from, a->from + a->seeds - 1, events, committed, elections, crashes, reads,
            reads_failed);
    if (chunks)
        printf ("streamed snapshots: %" PRIu64 " seeds staged %" PRIu64 " chunks; %" PRIu64
                " streams promoted at restart, %" PRIu64 " boots with the state missing, %" PRIu64
                " chunk reads unavailable, %" PRIu64 " fresh snapshots wanted, %" PRIu64
                " leaders elected in the middle of receiving a stream\n",
                streamed, chunks, promoted, lost, unavailable, wanted, mid_stream);
    if (a->shards)
        printf ("sharding: %" PRIu64 " shard events (configurations applied, pulls, handoffs, "
                "deletions), %" PRIu64 " calls between groups\n",
                shard_events, shard_calls);
    if (a->kv || a->shards)
        printf ("client sessions (replicas' counts, summed): %" PRIu64 " expired, %" PRIu64
                " ended for max_sessions, %" PRIu64 " commands answered 'session expired', %" PRIu64
                " new sessions answered busy; clerks: %" PRIu64 " new sessions, %" PRIu64
                " operations of unknown outcome (session expired under a retry)\n",
                expired, capped, refused, busy, renewed, unknown);
    if (skipped)
        printf ("%" PRIu64 " seeds skipped (--skip: known defects)\n", skipped);
    printf ("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return failed ? 1 : 0;
}

static int
s_determinism (const s_args_t *a)
{
    sim_chaos_opts_t o = {.seed = a->seed, .chaos_us = SWEEP_CHAOS_US, .quiet = true};
    sim_chaos_result_t r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11;
    sim_chaos_run (&o, &r1);
    sim_chaos_run (&o, &r2);
    o.seed = a->seed + 1;
    sim_chaos_run (&o, &r3);
    // Streamed snapshots too (slow and dropped chunk reads, views, the state-missing fault).
    o.seed = a->seed;
    o.stream = 1;
    sim_chaos_run (&o, &r4);
    sim_chaos_run (&o, &r5);
    // Three groups per node, raw and with the KV service (frontends, forwarding, clerks).
    o.stream = 0;
    o.n_groups = 3;
    sim_chaos_run (&o, &r6);
    sim_chaos_run (&o, &r7);
    o.kv = true;
    o.chaos_us = SWEEP_KV_CHAOS_US;
    sim_chaos_run (&o, &r8);
    sim_chaos_run (&o, &r9);
    // The sharded world: controller, shard groups moving shards, joins and leaves.
    o.shards = true;
    o.n_groups = 4;
    sim_chaos_run (&o, &r10);
    sim_chaos_run (&o, &r11);
    printf ("seed %" PRIu64 ": trace hash 0x%016" PRIx64 " then 0x%016" PRIx64 " (%" PRIu64
            " events); seed %" PRIu64 ": 0x%016" PRIx64 "; streaming: 0x%016" PRIx64
            " then 0x%016" PRIx64 " (%" PRIu64 " events)\n",
            a->seed, r1.trace_hash, r2.trace_hash, r1.counters.events, a->seed + 1, r3.trace_hash,
            r4.trace_hash, r5.trace_hash, r4.counters.events);
    printf ("3 groups: 0x%016" PRIx64 " then 0x%016" PRIx64 " (%" PRIu64
            " events); 3 groups, KV: 0x%016" PRIx64 " then 0x%016" PRIx64 " (%" PRIu64
            " events)\n",
            r6.trace_hash, r7.trace_hash, r6.counters.events, r8.trace_hash, r9.trace_hash,
            r8.counters.events);
    bool same = r1.trace_hash == r2.trace_hash && r1.counters.events == r2.counters.events &&
                r1.passed == r2.passed;
    bool differs = r1.trace_hash != r3.trace_hash;
    bool same_stream = r4.trace_hash == r5.trace_hash && r4.counters.events == r5.counters.events &&
                       r4.passed == r5.passed && r4.counters.chunks_written > 0;
    bool same_groups = r6.trace_hash == r7.trace_hash && r6.counters.events == r7.counters.events &&
                       r6.passed && r7.passed && r8.trace_hash == r9.trace_hash &&
                       r8.counters.events == r9.counters.events && r8.passed && r9.passed;
    bool same_shards = r10.trace_hash == r11.trace_hash &&
                       r10.counters.events == r11.counters.events && r10.passed && r11.passed &&
                       r10.counters.shard_events > 0;
    printf ("sharded: 0x%016" PRIx64 " then 0x%016" PRIx64 " (%" PRIu64 " events, %" PRIu64
            " shard events)\n",
            r10.trace_hash, r11.trace_hash, r10.counters.events, r10.counters.shard_events);
    int ok = (int)same + (int)differs + (int)same_stream + (int)same_groups + (int)same_shards;
    printf ("%d passed, %d failed\n", ok, 5 - ok);
    if (!same_shards)
        fprintf (stderr, "zkv-sim: the same sharded seed gave two different runs (or failed, "
                         "or moved no shard)\n");
    if (!same)
        fprintf (stderr, "zkv-sim: the same seed gave two different runs\n");
    if (!differs)
        fprintf (stderr, "zkv-sim: two seeds gave the same trace hash\n");
    if (!same_stream)
        fprintf (stderr, "zkv-sim: the same streaming seed gave two different runs (or none "
                         "streamed)\n");
    if (!same_groups)
        fprintf (stderr, "zkv-sim: the same seed with three groups gave two different runs (or "
                         "failed)\n");
    return ok == 5 ? 0 : 1;
}

// Testing the tester: each deliberately broken runtime must be caught by an invariant.
static int
s_selftest (void)
{
    static const char *names[] = {"",           "no-sync",           "no-hard-state",
                                  "flip-entry", "apply-wrong",       "forget-log",
                                  "stream-no-promote", "stream-no-promote (kv)"};
    int passed = 0, failed = 0;
    // The last round breaks the streaming restart rule once more, with the KV service.
    for (int k = 1; k <= SIM_SABOTAGE_COUNT_; k++) {
        sim_sabotage_t sab =
            k < SIM_SABOTAGE_COUNT_ ? (sim_sabotage_t)k : SIM_SABOTAGE_STREAM_NO_PROMOTE;
        const char *caught = NULL;
        uint64_t seed;
        for (seed = 1; seed <= 400 && !caught; seed++) {
            sim_chaos_opts_t o = {.seed = seed,
                                  .chaos_us = SWEEP_CHAOS_US,
                                  .quiet = true,
                                  .sabotage = sab,
                                  .kv = k == SIM_SABOTAGE_COUNT_,
                                  .stream = sab == SIM_SABOTAGE_STREAM_NO_PROMOTE ? 1 : -1};
            if (o.kv)
                o.chaos_us = SWEEP_KV_CHAOS_US;
            sim_chaos_result_t r;
            sim_chaos_run (&o, &r);
            caught = r.violated;
        }
        if (caught)
            passed++;
        else
            failed++;
        printf ("%s sabotage %s: %s%s (seed %" PRIu64 ")\n", caught ? "ok  " : "FAIL", names[k],
                caught ? "caught by " : "NOT CAUGHT", caught ? caught : "", seed - 1);
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static int
s_demo (const s_args_t *a)
{
    sim_chaos_opts_t o = {.seed = a->seed,
                          .n_nodes = 5,
                          .chaos_us = a->seconds * SIM_SEC,
                          .narrate = true,
                          .trace = a->trace};
    sim_chaos_result_t r;
    sim_chaos_run (&o, &r);
    const sim_counters_t *k = &r.counters;
    printf ("\n==== summary (seed %" PRIu64 ", %.1f s simulated) ====\n", a->seed,
            (double)r.sim_us / SIM_SEC);
    printf ("  result             %s\n",
            r.passed ? "all invariants held, group converged" : "FAILED");
    printf ("  elections          %" PRIu64 " (max term %" PRIu64 ")\n", k->elections, k->max_term);
    printf ("  entries committed  %" PRIu64 "\n", r.committed);
    printf ("  crashes/restarts   %" PRIu64 " / %" PRIu64 "\n", k->crashes, k->restarts);
    printf ("  snapshots          %" PRIu64 " taken, %" PRIu64 " installed from a leader\n",
            k->snapshots, k->snapshots_installed);
    printf ("  messages           %" PRIu64 " sent (%" PRIu64 " bytes), %" PRIu64
            " dropped, %" PRIu64 " duplicated\n",
            k->msgs_sent, k->bytes_sent, k->msgs_dropped, k->msgs_duplicated);
    printf ("  invariant checks   %" PRIu64 " over %" PRIu64 " events\n", k->checks, k->events);
    printf ("  trace hash         0x%016" PRIx64 "\n", r.trace_hash);
    return r.passed ? 0 : 1;
}

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv-sim"))
        return 0;
    if (argc < 2)
        return s_usage ();
    s_args_t a = {.seed = 1, .seeds = 300, .from = 1, .seconds = 60};
    if (s_parse (argc, argv, strcmp (argv[1], "run") == 0 ? 3 : 2, &a) != 0)
        return s_usage ();
    if (strcmp (argv[1], "list") == 0) {
        for (size_t t = 0; sim_scenario_tables[t]; t++)
            for (const sim_scenario_t *sc = sim_scenario_tables[t]; sc->name; sc++)
                printf ("%s\n", sc->name);
        return 0;
    }
    if (strcmp (argv[1], "run") == 0)
        return argc < 3 ? s_usage () : s_run (argv[2], &a);
    if (strcmp (argv[1], "sweep") == 0)
        return s_sweep (&a);
    if (strcmp (argv[1], "determinism") == 0)
        return s_determinism (&a);
    if (strcmp (argv[1], "selftest") == 0)
        return s_selftest ();
    if (strcmp (argv[1], "demo") == 0)
        return s_demo (&a);
    return s_usage ();
}
