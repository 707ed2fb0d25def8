// zkv bench: a load of N clients (one thread and one zkv_client each), closed-loop or at a fixed
// rate; throughput, latency percentiles, errors, and optionally the client history for the
// linearizability checker.
#include "zkv_cli.h"

#ifdef ZKV_CLI_HAVE_HISTORY
#include "zkv_history.h"
#endif

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>

// How long a client waits after a request found no node reachable (which takes no time).
#define S_UNREACHABLE_PAUSE_MS 100

typedef struct {
    uint64_t clients;     // --clients
    uint64_t seconds;     // --seconds
    uint64_t keys;        // --keys
    uint64_t key_bytes;   // --key-bytes
    uint64_t value_bytes; // --value-bytes
    uint64_t mix[3];      // --mix get:put:append percentages
    uint64_t rate;        // --rate: requests per second of all clients together (0: closed loop)
    const char *history;  // --history FILE
    uint64_t avoid[16];   // --avoid-shard S/N: keys of shard S (of N) are not used
    uint64_t avoid_of;    // ... N (0: none avoided)
    size_t n_avoid;       //
    char prefix[16];      // key prefix: "k", or "k<run tag>-" with --history (fresh keys)
    bool json;            // --json summary
} s_opts_t;

typedef struct s_shared_t s_shared_t;

typedef struct {
    s_shared_t *shared;                // the run
    size_t index;                      // client number, from 0
    pthread_t thread;                  // its thread
    uint32_t *lat_us;                  // latency of each finished op (µs)
    size_t n_lat, cap_lat;             // used and allocated
    uint64_t ok;                       // ops that succeeded within the run
    uint64_t timeouts;                 // ops that timed out (outcome unknown)
    uint64_t errors[ZKV_ERROR_COUNT_]; // other failures, by code
    int setup_rc;                      // 0, or why the client could not be made
} s_worker_t;

struct s_shared_t {
    zkv_cli_t *cli;            // nodes and timeout
    const s_opts_t *opts;      // what to run
    atomic_bool stop;          // set when the time is up
    atomic_uint_fast64_t done; // ops finished so far (progress line)
    int64_t start_ns;          // the run began (the --rate schedule starts here)
    int64_t end_ns;            // ops finishing after this do not count for throughput
    pthread_mutex_t lock;      // guards the history: events in one order, times from one clock
#ifdef ZKV_CLI_HAVE_HISTORY
    zkv_history_t *history; // NULL without --history
#endif
};

// xorshift64*: each worker has its own; seeding from the clock is fine at the edge.
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void
s_record_latency (s_worker_t *w, int64_t ns)
{
    if (w->n_lat == w->cap_lat) {
        w->cap_lat = w->cap_lat ? 2 * w->cap_lat : 4096;
        w->lat_us = realloc (w->lat_us, w->cap_lat * sizeof *w->lat_us);
        if (!w->lat_us)
            abort ();
    }
    int64_t us = ns / 1000;
    w->lat_us[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

#ifdef ZKV_CLI_HAVE_HISTORY
static void
s_hist_invoke (s_shared_t *sh, int64_t process, int op, const char *key, const char *value)
{
    if (!sh->history)
        return;
    zkv_hist_f_t f = op == 0 ? ZKV_HIST_GET : op == 1 ? ZKV_HIST_PUT : ZKV_HIST_APPEND;
    pthread_mutex_lock (&sh->lock);
    int rc = zkv_history_invoke (sh->history, process, f, key, op == 0 ? NULL : value,
                                 zkv_cli_now_ns ());
    assert (rc == 0); // one open invoke per process: our own invariant
    pthread_mutex_unlock (&sh->lock);
}

static void
s_hist_complete (s_shared_t *sh, int64_t process, int op, int rc, const char *read,
                 uint64_t revision)
{
    if (!sh->history)
        return;
    // A timed-out request may still take effect, and so may one whose session expired while
    // it was retried: info, never fail. Other errors were refused.
    zkv_hist_type_t type = rc == 0                                      ? ZKV_HIST_OK
                           : rc == ZKV_ETIMEOUT || rc == ZKV_ESESSION ? ZKV_HIST_INFO
                                                                        : ZKV_HIST_FAIL;
    pthread_mutex_lock (&sh->lock);
    int64_t now = zkv_cli_now_ns ();
    int hrc = type != ZKV_HIST_OK ? zkv_history_complete (sh->history, process, type, NULL, now)
              : op == 0 ? zkv_history_complete_get (sh->history, process, read, revision, now)
                        : zkv_history_complete_write (sh->history, process, revision, now);
    assert (hrc == 0);
    pthread_mutex_unlock (&sh->lock);
}
#else
#define s_hist_invoke(sh, process, op, key, value) ((void)(process))
#define s_hist_complete(sh, process, op, rc, read, revision) ((void)(process))
#endif

static void *
s_worker (void *arg)
{
    s_worker_t *w = arg;
    s_shared_t *sh = w->shared;
    const s_opts_t *o = sh->opts;
    zkv_client_t *client = zkv_cli_client (sh->cli);
    if (!client) {
        w->setup_rc = ZKV_EINVAL;
        return NULL;
    }
    uint64_t rng = (uint64_t)zkv_cli_now_ns () ^ (w->index + 1) * 0x9E3779B97F4A7C15ULL;
    char key[256];
    char *value = zmalloc (o->value_bytes + 64);
    // After an unknown outcome the process is retired: its op may still be pending, and a
    // history process has at most one open operation (Jepsen's rule).
    int64_t process = (int64_t)w->index;
    uint64_t counter = 0;
    // --rate: this client's requests are due every `interval` ns, the clients' schedules
    // staggered; a request's latency counts from when it was due, so a cluster that falls
    // behind shows in the percentiles (no coordinated omission), not only in the rate.
    int64_t interval = o->rate ? (int64_t)(o->clients * 1000000000 / o->rate) : 0;
    int64_t due = sh->start_ns + interval * (int64_t)w->index / (int64_t)o->clients;
    while (!atomic_load (&sh->stop)) {
        if (interval) {
            int64_t now = zkv_cli_now_ns ();
            if (now < due) {
                // At most 100 ms at a time, so that the end of the run is seen.
                int64_t nap = due - now < 100000000 ? due - now : 100000000;
                nanosleep (&(struct timespec){.tv_sec = nap / 1000000000,
                                              .tv_nsec = nap % 1000000000},
                           NULL);
                continue;
            }
        }
        int width = (int)o->key_bytes - (int)strlen (o->prefix);
        int kl = 0;
        // A key of a shard to avoid is drawn again (s_parse checked that keys remain).
        for (bool avoided = true; avoided;) {
            uint64_t k = s_rand (&rng) % o->keys;
            kl = snprintf (key, sizeof key, "%s%0*" PRIu64, o->prefix, width > 0 ? width : 0, k);
            avoided = false;
            for (size_t a = 0; a < o->n_avoid; a++)
                avoided = avoided || zkv_client_shard_of (key, (size_t)kl, (uint32_t)o->avoid_of) ==
                                         o->avoid[a];
        }
        uint64_t dice = s_rand (&rng) % 100;
        int op = dice < o->mix[0] ? 0 : dice < o->mix[0] + o->mix[1] ? 1 : 2;
        // Every written value is unique and names its writer: x<client>.<n>, padded, ';'.
        int vl = 0;
        if (op != 0) {
            vl = snprintf (value, o->value_bytes + 64, "x%zu.%" PRIu64, w->index, ++counter);
            while ((uint64_t)vl + 1 < o->value_bytes)
                value[vl++] = '.';
            value[vl++] = ';';
            value[vl] = 0;
        }
        s_hist_invoke (sh, process, op, key, value);
        int64_t start = interval ? due : zkv_cli_now_ns ();
        due += interval;
        zkv_client_value_t got = {0};
        uint64_t revision = 0;
        int rc = op == 0 ? zkv_client_read (client, key, (size_t)kl, &got, sh->cli->timeout_ms)
                         : zkv_client_write (client, op == 1 ? ZKV_CLIENT_PUT : ZKV_CLIENT_APPEND,
                                             key, (size_t)kl, value, (size_t)vl, NULL, &revision,
                                             sh->cli->timeout_ms);
        int64_t end = zkv_cli_now_ns ();
        s_hist_complete (sh, process, op, rc, got.found ? (const char *)got.value : NULL,
                         op == 0 ? got.revision : revision);
        zkv_client_value_free (&got);
        if (rc == 0)
            s_record_latency (w, end - start); // latency of answered requests only
        if (rc == 0 && end <= sh->end_ns)
            w->ok++;
        else if (rc == ZKV_ETIMEOUT || rc == ZKV_ESESSION) {
            w->timeouts++; // outcome unknown, either way
            process += (int64_t)o->clients;
        } else if (rc != 0)
            w->errors[-rc < ZKV_ERROR_COUNT_ ? -rc : ZKV_EPROTO_VALUE]++;
        // No node reachable fails at once: pause rather than spin until one is back.
        if (rc == ZKV_EUNREACHABLE)
            zclock_sleep (S_UNREACHABLE_PAUSE_MS);
        atomic_fetch_add (&sh->done, 1);
    }
    free (value);
    zkv_client_destroy (&client);
    return NULL;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double
s_pct (const uint32_t *sorted, size_t n, double pct)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(pct / 100.0 * (double)n);
    return sorted[i < n ? i : n - 1] / 1000.0;
}

static bool
s_parse_mix (const char *s, uint64_t mix[3])
{
    unsigned a, b, c = 0;
    int n = 0;
    if (sscanf (s, "%u:%u%n", &a, &b, &n) != 2)
        return false;
    if (s[n] == ':' && sscanf (s + n + 1, "%u", &c) != 1)
        return false;
    mix[0] = a, mix[1] = b, mix[2] = c;
    return a + b + c == 100;
}

static int
s_parse (int argc, char **argv, s_opts_t *o)
{
    *o = (s_opts_t){.clients = 16,
                    .seconds = 10,
                    .keys = 1000,
                    .key_bytes = 16,
                    .value_bytes = 128,
                    .mix = {50, 50, 0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (streq (a, "--json")) {
            o->json = true;
            continue;
        }
        if (streq (a, "--clients"))
            ok = ok && zkv_cli_parse_u64 (v, 1, 4096, &o->clients);
        else if (streq (a, "--seconds"))
            ok = ok && zkv_cli_parse_u64 (v, 1, 86400, &o->seconds);
        else if (streq (a, "--keys"))
            ok = ok && zkv_cli_parse_u64 (v, 1, UINT32_MAX, &o->keys);
        else if (streq (a, "--key-bytes"))
            ok = ok && zkv_cli_parse_u64 (v, 2, 200, &o->key_bytes);
        else if (streq (a, "--value-bytes"))
            ok = ok && zkv_cli_parse_u64 (v, 1, 64 * 1024 * 1024, &o->value_bytes);
        else if (streq (a, "--mix"))
            ok = ok && s_parse_mix (v, o->mix);
        else if (streq (a, "--rate"))
            ok = ok && zkv_cli_parse_u64 (v, 1, 10000000, &o->rate);
        else if (streq (a, "--history"))
            o->history = v;
        else if (streq (a, "--avoid-shard")) {
            // S/N: shard S of a key space of N shards (the cluster's `shards`).
            uint64_t sh = 0, n = 0;
            char extra;
            ok = ok && o->n_avoid < 16 &&
                 sscanf (v, "%" SCNu64 "/%" SCNu64 "%c", &sh, &n, &extra) == 2 && n >= 2 &&
                 n <= (1u << 20) && sh < n && (o->avoid_of == 0 || o->avoid_of == n);
            if (ok) {
                o->avoid[o->n_avoid++] = sh;
                o->avoid_of = n;
            }
        } else
            ok = false;
        if (!ok) {
            zkv_cli_error ("bench", "bad option %s%s%s", a, v ? " " : "", v ? v : "");
            return zkv_cli_usage (&zkv_cli_bench_cmd);
        }
        i++;
    }
    if (o->n_avoid && o->n_avoid >= o->avoid_of) {
        zkv_cli_error ("bench", "--avoid-shard leaves no shard to use");
        return zkv_cli_usage (&zkv_cli_bench_cmd);
    }
    snprintf (o->prefix, sizeof o->prefix, "k");
    if (o->history) {
        // The checker assumes every key starts empty: a recorded run uses keys no earlier run
        // wrote, tagged with this run's (random) tag.
        uint32_t tag = 0;
        if (getrandom (&tag, sizeof tag, 0) != (ssize_t)sizeof tag)
            tag = (uint32_t)zkv_cli_now_ns ();
        snprintf (o->prefix, sizeof o->prefix, "k%06x-", tag & 0xffffff);
    }
    if (o->n_avoid) {
        // At least one of the keys must be usable, or the clients would draw forever.
        bool usable = false;
        char key[256];
        int width = (int)o->key_bytes - (int)strlen (o->prefix);
        for (uint64_t k = 0; k < o->keys && k < 1000000 && !usable; k++) {
            int kl =
                snprintf (key, sizeof key, "%s%0*" PRIu64, o->prefix, width > 0 ? width : 0, k);
            usable = true;
            for (size_t a = 0; a < o->n_avoid; a++)
                usable = usable && zkv_client_shard_of (key, (size_t)kl, (uint32_t)o->avoid_of) !=
                                       o->avoid[a];
        }
        if (!usable) {
            zkv_cli_error ("bench", "every key is in a shard --avoid-shard names");
            return ZKV_CLI_USAGE;
        }
    }
#ifndef ZKV_CLI_HAVE_HISTORY
    if (o->history) {
        zkv_cli_error ("bench", "this zkv was built without the history writer (checker/)");
        return ZKV_CLI_USAGE;
    }
#endif
    return 0;
}

static void
s_report (const s_opts_t *o, s_worker_t *workers, double secs)
{
    uint64_t ok = 0, timeouts = 0, errors[ZKV_ERROR_COUNT_] = {0}, failed = 0;
    size_t n = 0;
    for (size_t i = 0; i < o->clients; i++) {
        ok += workers[i].ok;
        timeouts += workers[i].timeouts;
        n += workers[i].n_lat;
        for (int e = 0; e < ZKV_ERROR_COUNT_; e++) {
            errors[e] += workers[i].errors[e];
            failed += workers[i].errors[e];
        }
    }
    uint32_t *all = zmalloc ((n ? n : 1) * sizeof *all);
    size_t at = 0;
    double sum = 0;
    for (size_t i = 0; i < o->clients; i++)
        for (size_t j = 0; j < workers[i].n_lat; j++) {
            all[at++] = workers[i].lat_us[j];
            sum += workers[i].lat_us[j];
        }
    qsort (all, n, sizeof *all, s_cmp_u32);
    double p50 = s_pct (all, n, 50), p90 = s_pct (all, n, 90), p99 = s_pct (all, n, 99),
           p999 = s_pct (all, n, 99.9), max = n ? all[n - 1] / 1000.0 : 0,
           mean = n ? sum / (double)n / 1000.0 : 0, tput = ok / secs;
    if (o->json) {
        printf ("{\"clients\": %" PRIu64 ", \"rate\": %" PRIu64 ", \"seconds\": %.3f, \"keys\": %" PRIu64
                ", \"key_bytes\": %" PRIu64 ", \"value_bytes\": %" PRIu64 ", \"mix\": [%" PRIu64
                ", %" PRIu64 ", %" PRIu64 "], \"ok\": %" PRIu64 ", \"timeouts\": %" PRIu64
                ", \"failed\": %" PRIu64
                ", \"ops_per_sec\": %.1f, \"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, "
                "\"p99\": %.3f, \"p99.9\": %.3f, \"max\": %.3f, \"mean\": %.3f}, \"errors\": {",
                o->clients, o->rate, secs, o->keys, o->key_bytes, o->value_bytes, o->mix[0],
                o->mix[1], o->mix[2], ok, timeouts, failed, tput, p50, p90, p99, p999, max, mean);
        bool first = true;
        for (int e = 1; e < ZKV_ERROR_COUNT_; e++)
            if (errors[e]) {
                printf ("%s\"%s\": %" PRIu64, first ? "" : ", ", zkv_errname (-e), errors[e]);
                first = false;
            }
        printf ("}}\n");
    } else {
        printf ("zkv bench: %" PRIu64 " clients, %.1f s, %" PRIu64 " keys of %" PRIu64
                " bytes, values of %" PRIu64 " bytes, get:put:append %" PRIu64 ":%" PRIu64
                ":%" PRIu64 "\n",
                o->clients, secs, o->keys, o->key_bytes, o->value_bytes, o->mix[0], o->mix[1],
                o->mix[2]);
        if (o->rate)
            printf ("rate:       %" PRIu64 " requests/s asked (latency counts from when each "
                    "was due)\n",
                    o->rate);
        printf ("ops:        %" PRIu64 " ok, %" PRIu64 " timed out (outcome unknown), %" PRIu64
                " failed\n",
                ok, timeouts, failed);
        printf ("throughput: %.1f ops/s\n", tput);
        printf ("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n", p50,
                p90, p99, p999, max, mean);
        for (int e = 1; e < ZKV_ERROR_COUNT_; e++)
            if (errors[e])
                printf ("error:      %s (%s): %" PRIu64 "\n", zkv_errname (-e), zkv_strerror (-e),
                        errors[e]);
    }
    free (all);
}

static int
s_bench (zkv_cli_t *cli, int argc, char **argv)
{
    s_opts_t o;
    int rc = s_parse (argc, argv, &o);
    if (rc != 0)
        return rc;
    if (zkv_cli_nodes (cli) != 0)
        return ZKV_CLI_ERROR;
    s_shared_t sh = {.cli = cli, .opts = &o, .end_ns = INT64_MAX};
    pthread_mutex_init (&sh.lock, NULL);
#ifdef ZKV_CLI_HAVE_HISTORY
    if (o.history)
        sh.history = zkv_history_new ();
#endif
    s_worker_t *workers = zmalloc (o.clients * sizeof *workers);
    int64_t start = zkv_cli_now_ns ();
    sh.start_ns = start;
    sh.end_ns = start + (int64_t)o.seconds * 1000000000;
    size_t started = 0;
    for (; started < o.clients; started++) {
        workers[started] = (s_worker_t){.shared = &sh, .index = started};
        if (pthread_create (&workers[started].thread, NULL, s_worker, &workers[started]) != 0) {
            zkv_cli_error ("bench", "cannot start client thread %zu", started);
            atomic_store (&sh.stop, true);
            rc = ZKV_CLI_ERROR;
            break;
        }
    }
    // Progress once a second on stderr; the measurement window is [start, end_ns].
    uint64_t last = 0;
    for (uint64_t s = 1; rc == 0 && s <= o.seconds && !zsys_interrupted; s++) {
        int64_t wake = start + (int64_t)s * 1000000000, now;
        while ((now = zkv_cli_now_ns ()) < wake && !zsys_interrupted)
            zclock_sleep ((int)((wake - now) / 1000000) + 1);
        uint64_t done = atomic_load (&sh.done);
        fprintf (stderr, "[%3" PRIu64 "s] %" PRIu64 " ops/s, %" PRIu64 " ops\n", s, done - last,
                 done);
        last = done;
    }
    int64_t stop = zkv_cli_now_ns ();
    if (stop < sh.end_ns)
        sh.end_ns = stop; // interrupted: measure what ran
    atomic_store (&sh.stop, true);
    for (size_t i = 0; i < started; i++) {
        pthread_join (workers[i].thread, NULL);
        if (workers[i].setup_rc)
            rc = ZKV_CLI_ERROR;
    }
    if (rc == 0)
        s_report (&o, workers, (double)(sh.end_ns - start) / 1e9);
#ifdef ZKV_CLI_HAVE_HISTORY
    if (sh.history) {
        if (zkv_history_save (sh.history, o.history) != 0) {
            zkv_cli_error ("bench", "cannot write history to %s", o.history);
            rc = ZKV_CLI_ERROR;
        } else
            fprintf (stderr, "zkv bench: history of %zu events written to %s\n",
                     zkv_history_size (sh.history), o.history);
        zkv_history_destroy (&sh.history);
    }
#endif
    for (size_t i = 0; i < o.clients; i++)
        free (workers[i].lat_us);
    free (workers);
    pthread_mutex_destroy (&sh.lock);
    return rc;
}

const zkv_cli_command_t zkv_cli_bench_cmd = {
    "bench", "a load of N clients: throughput and latency percentiles",
    "usage: zkv bench [--clients N] [--seconds T] [--rate R] [--keys K] [--key-bytes KB]\n"
    "                 [--value-bytes B] [--mix GET:PUT[:APPEND]] [--avoid-shard S/N]...\n"
    "                 [--history FILE] [--json]\n\n"
    "Runs N clients (each its own connection set, in its own thread) for T seconds, each\n"
    "sending its next request as soon as the last one is answered, on K random keys.\n"
    "  --clients N        concurrent clients (default 16)\n"
    "  --rate R           R requests per second in all, on a fixed schedule (each client\n"
    "                     R/N, one request at a time) instead of as fast as answered; a\n"
    "                     request's latency counts from when it was due, so a cluster that\n"
    "                     falls behind shows in the percentiles\n"
    "  --seconds T        duration (default 10)\n"
    "  --keys K           distinct keys, k000...0 to k<K-1> (default 1000)\n"
    "  --key-bytes KB     key length (default 16); with --history keys are k<run tag>-<n>,\n"
    "                     fresh keys for each recorded run\n"
    "  --value-bytes B    written value length (default 128); values are unique:\n"
    "                     x<client>.<n> padded with '.' and ended by ';'\n"
    "  --mix G:P[:A]      percentages of get, put, append (sum 100; default 50:50:0)\n"
    "  --avoid-shard S/N  use no key of shard S of N (the cluster's shard count); repeatable:\n"
    "                     load the shards that stay while another moves\n"
    "  --history FILE     write the client history (JSON lines, docs/history.md) for\n"
    "                     zkv-lincheck; a timed-out request is recorded as info\n"
    "  --json             print the summary as one JSON object\n"
    "Progress goes to stderr once a second; the summary (ops, throughput, latency p50 p90\n"
    "p99 p99.9 max mean, errors by code) to stdout. --timeout bounds each request.\n\n"
    "exit codes: 0 ran (errors are counted in the summary), 1 could not run, 2 usage\n",
    s_bench};
