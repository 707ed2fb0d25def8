// zkv-lincheck: checks client history files (docs/history.md format) for linearizability.
//
//     zkv-lincheck [--budget N] [--memory BYTES] [--empty-may-be-missing] FILE...
//
// Prints, per file, its operations, keys, verdict and the time taken (and why, if it is not
// linearizable). Exit status: 1 if any file is not linearizable (a found violation outranks
// everything), else 2 if any verdict is unknown or a file cannot be read or parsed, else 0.
#include "zkv_lincheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: zkv-lincheck [--budget STEPS] [--memory BYTES] [--empty-may-be-missing] "
        "FILE...\n"
        "  checks client histories (JSON Lines, one event a line, docs/history.md) for\n"
        "  linearizability\n"
        "  --budget STEPS  search steps per key before the verdict is unknown "
        "(default %llu)\n"
        "  --memory BYTES  search memory per key before the verdict is unknown "
        "(default %llu)\n"
        "  --empty-may-be-missing  a get that read \"\" may have found no key (histories\n"
        "                  recorded before \"not found\" was null); else \"\" is an empty value\n"
        "  exit: 0 linearizable, 1 not linearizable, 2 unknown or unreadable\n",
        (unsigned long long)ZKV_LIN_DEFAULT_BUDGET, (unsigned long long)ZKV_LIN_DEFAULT_MEMORY);
}

static int
s_number (const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v == 0)
        return -1;
    *value = v;
    return 0;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Checks one file; returns its exit status (0, 1 or 2).
static int
s_check_file (const char *path, const zkv_lin_options_t *options)
{
    double start = s_now ();
    char err[512];
    zkv_history_t *hist;
    if (zkv_history_load (path, &hist, err, sizeof err)) {
        printf ("%s: error: %s\n", path, err);
        return 2;
    }
    zkv_lin_result_t result;
    int rc = zkv_lincheck (hist, options, &result);
    zkv_history_destroy (&hist);
    if (rc) {
        printf ("%s: error: the checker refused the history\n", path);
        return 2;
    }
    printf ("%s: %zu ops, %zu keys, %s (%.3f s, %" PRIu64 " steps)\n", path, result.ops,
            result.keys, zkv_lin_verdict_name (result.verdict), s_now () - start, result.steps);
    if (result.verdict == ZKV_LIN_ILLEGAL)
        printf ("  key %s: %s\n", result.key, result.explanation);
    else if (result.verdict == ZKV_LIN_UNKNOWN)
        printf ("  %zu key(s) undecided; first, key %s: %s\n", result.keys_unknown, result.key,
                result.explanation);
    int status = result.verdict == ZKV_LIN_OK ? 0 : result.verdict == ZKV_LIN_ILLEGAL ? 1 : 2;
    zkv_lin_result_clear (&result);
    return status;
}

int
main (int argc, char **argv)
{
    zkv_lin_options_t options = {0};
    int first = 1;
    while (first < argc && argv[first][0] == '-' && argv[first][1]) {
        const char *arg = argv[first];
        if (strcmp (arg, "--") == 0) {
            first++;
            break;
        }
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (arg, "--empty-may-be-missing") == 0) {
            options.empty_may_be_missing = true;
            first++;
            continue;
        }
        uint64_t *target = strcmp (arg, "--budget") == 0   ? &options.budget
                           : strcmp (arg, "--memory") == 0 ? &options.memory
                                                           : NULL;
        if (!target) {
            fprintf (stderr, "zkv-lincheck: unknown option %s\n", arg);
            s_usage (stderr);
            return 2;
        }
        if (first + 1 >= argc || s_number (argv[first + 1], target)) {
            fprintf (stderr, "zkv-lincheck: %s needs a positive integer\n", arg);
            return 2;
        }
        first += 2;
    }
    if (first >= argc) {
        s_usage (stderr);
        return 2;
    }
    int illegal = 0, undecided = 0;
    for (int i = first; i < argc; i++) {
        int status = s_check_file (argv[i], &options);
        illegal |= status == 1;
        undecided |= status == 2;
    }
    fflush (stdout);
    return illegal ? 1 : undecided ? 2 : 0;
}
