// Unit tests for the client-history reader/writer and the linearizability checker.
#include "zkv_error.h"
#include "zkv_lincheck.h"
#include "zkv_test.h"

#include <assert.h>
#include <stdbool.h>

// The data files live beside this source: tests/data/histories (CMake compiles with the
// absolute path of the source, so __FILE__ finds them from any build directory).
static void
s_data_path (char *path, size_t size, const char *name)
{
    const char *file = __FILE__;
    const char *cut = strstr (file, "unit/test_lincheck.c");
    int len = cut ? (int)(cut - file) : 0;
    snprintf (path, size, "%.*sdata/histories/%s", len, file, name);
}

// Checks a file; returns the verdict, or -1 if it did not load (err says why).
static int
s_check_file (const char *name, uint64_t budget, char *err, size_t err_size)
{
    char path[1024];
    s_data_path (path, sizeof path, name);
    zkv_history_t *hist;
    if (zkv_history_load (path, &hist, err, err_size))
        return -1;
    zkv_lin_options_t options = {.budget = budget};
    zkv_lin_result_t result;
    int rc = zkv_lincheck (hist, &options, &result);
    zkv_history_destroy (&hist);
    if (rc)
        return -1;
    int verdict = (int)result.verdict;
    zkv_lin_result_clear (&result);
    return verdict;
}

static void
test_data_linearizable (void)
{
    const char *files[] = {"ok_sequential.jsonl",      "ok_concurrent_puts.jsonl",
                           "ok_info_appends.jsonl",    "ok_fail_ignored.jsonl",
                           "ok_missing_key.jsonl",     "ok_escapes.jsonl",
                           "unknown_tiny_budget.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char err[512] = "";
        int verdict = s_check_file (files[i], 0, err, sizeof err);
        if (verdict != ZKV_LIN_OK)
            fprintf (stderr, "%s: verdict %d %s\n", files[i], verdict, err);
        CHECK (verdict == ZKV_LIN_OK);
    }
}

static void
test_data_not_linearizable (void)
{
    const char *files[] = {"bad_stale_read.jsonl", "bad_never_written.jsonl",
                           "bad_contradictory_appends.jsonl", "bad_lost_append.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char err[512] = "";
        int verdict = s_check_file (files[i], 0, err, sizeof err);
        if (verdict != ZKV_LIN_ILLEGAL)
            fprintf (stderr, "%s: verdict %d %s\n", files[i], verdict, err);
        CHECK (verdict == ZKV_LIN_ILLEGAL);
    }
}

static void
test_data_unknown_with_tiny_budget (void)
{
    char err[512] = "";
    CHECK (s_check_file ("unknown_tiny_budget.jsonl", 20, err, sizeof err) == ZKV_LIN_UNKNOWN);
    CHECK (s_check_file ("unknown_tiny_budget.jsonl", 1, err, sizeof err) == ZKV_LIN_UNKNOWN);
    // A budget too small for a history that is NOT linearizable is unknown too, never OK.
    CHECK (s_check_file ("bad_contradictory_appends.jsonl", 3, err, sizeof err) == ZKV_LIN_UNKNOWN);
}

static void
test_data_parse_errors (void)
{
    struct {
        const char *file; // the file
        const char *want; // in its error message, after "<path>:"
    } cases[] = {
        {"err_truncated.jsonl", "err_truncated.jsonl:3: unterminated string"},
        {"err_wrong_type.jsonl", "err_wrong_type.jsonl:2: \"time\": expected an integer"},
        {"err_unknown_type.jsonl", "err_unknown_type.jsonl:3: unknown type \"done\""},
        {"err_unknown_f.jsonl", "err_unknown_f.jsonl:1: unknown f \"cas\""},
        {"err_ok_without_invoke.jsonl",
         "err_ok_without_invoke.jsonl:3: ok for process 1 without an open invoke"},
        {"err_two_open_invokes.jsonl",
         "err_two_open_invokes.jsonl:3: process 1 already has an open invoke (line 1)"},
        {"no_such_file.jsonl", "no_such_file.jsonl: No such file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        CHECK (s_check_file (cases[i].file, 0, err, sizeof err) == -1);
        if (!strstr (err, cases[i].want))
            fprintf (stderr, "got \"%s\", want \"%s\"\n", err, cases[i].want);
        CHECK (strstr (err, cases[i].want));
    }
}

// Parses text; returns the error message ("" if it parsed).
static const char *
s_parse_error (const char *text)
{
    static char err[512];
    zkv_history_t *hist;
    int rc = zkv_history_parse (text, strlen (text), &hist, err, sizeof err);
    if (rc == 0) {
        zkv_history_destroy (&hist);
        return "";
    }
    return err;
}

#define LINE(p, type, f, value, time)                                                              \
    "{\"process\": " #p ", \"type\": \"" type "\", \"f\": \"" f "\", \"key\": \"k\", "             \
    "\"value\": " value ", \"time\": " #time "}\n"

static void
test_parse_messages (void)
{
    struct {
        const char *text; // the input
        const char *want; // in its error, or "" if it parses
    } cases[] = {
        {LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "get", "\"\"", 2), ""},
        {"\n  \n" LINE (1, "invoke", "get", "null", 1), ""},
        {LINE (1, "invoke", "get", "null", 1) "{\"process\": 1}", "line 2: missing \"type\""},
        {"[1, 2]\n", "line 1: expected '{'"},
        {"{\"process\": 1, \"process\": 2}\n", "line 1: \"process\" given twice"},
        {"{\"pid\": 1}\n", "line 1: unknown member \"pid\""},
        {"{\"process\": 1.5}\n", "line 1: \"process\": expected an integer"},
        {"{\"process\": 01}\n", "leading zero"},
        {"{\"process\": 99999999999999999999}\n", "out of range"},
        {"{\"process\": true}\n", "got a boolean"},
        {"{\"process\": {}}\n", "got an object"},
        {"{\"process\": 1 \"type\": 2}\n", "expected ',' or '}'"},
        {"{\"process\": 1} x\n", "unexpected text after the object"},
        {"{\"key\": \"a\\qb\"}\n", "bad escape \\q"},
        {"{\"key\": \"\\ud800\"}\n", "without its low half"},
        {"{\"key\": \"\\udc00\"}\n", "lone low surrogate"},
        {"{\"key\": \"\\u12g4\"}\n", "bad hex digit"},
        {"{\"key\": \"\\u12\"}\n", "bad hex digit"},
        {"{\"key\": \"a\tb\"}\n", "control byte 0x09"},
        {"{\"key\": \"\xc3\x28\"}\n", "invalid UTF-8"},
        {"{\"key\": \"\xed\xa0\x80\"}\n", "invalid UTF-8"}, // an encoded surrogate
        {"{\"key\": \"\xc0\xaf\"}\n", "invalid UTF-8"},     // an overlong '/'
        {"{\"process\": 1, \"type\": \"invoke\", \"f\": \"get\", \"key\": 3, \"value\": null, "
         "\"time\": 1}\n",
         "\"key\": expected a string, got an integer"},
        {LINE (1, "invoke", "get", "\"x\"", 1), "a get invoke has value null"},
        {LINE (1, "invoke", "put", "null", 1), "a put invoke needs a string value"},
        {LINE (1, "invoke", "get", "null", 5) LINE (1, "ok", "get", "\"\"", 4),
         "line 2: ok at time 4 is before its invoke at 5"},
        {LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "get", "null", 2),
         "line 2: an ok get needs the value read"},
        {LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "put", "\"a\"", 2),
         "line 2: ok for process 1 does not match its invoke"},
        {LINE (1, "fail", "get", "null", 1), "line 1: fail for process 1 without an open invoke"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *err = s_parse_error (cases[i].text);
        bool good = cases[i].want[0] ? strstr (err, cases[i].want) != NULL : err[0] == '\0';
        if (!good)
            fprintf (stderr, "case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
        CHECK (good);
    }
}

// Every prefix of a valid history, and every byte of it replaced by a few nasty ones, either
// parses or fails with a line number; nothing crashes or reads out of bounds (ASan watches).
static void
test_parse_hostile (void)
{
    const char *valid = LINE (1, "invoke", "append", "\"a\\u00e9\\ud83d\\ude00\\\"\\\\;\"", 10)
        LINE (1, "ok", "append", "\"a\\u00e9\\ud83d\\ude00\\\"\\\\;\"", 11)
            LINE (2, "invoke", "get", "null", -12) LINE (2, "info", "get", "null", 13);
    size_t size = strlen (valid);
    char *buf = malloc (size);
    const char nasty[] = {'\0', '"', '\\', '{', '}', ',', ':', '\n', '9', '-', 'u', (char)0xff};
    for (size_t cut = 0; cut <= size; cut++) {
        for (size_t v = 0; v <= sizeof nasty; v++) {
            memcpy (buf, valid, size);
            size_t len = size;
            if (v < sizeof nasty) {
                if (cut == size)
                    break;
                buf[cut] = nasty[v];
            } else
                len = cut; // a truncation
            char err[256];
            zkv_history_t *hist = NULL;
            int rc = zkv_history_parse (buf, len, &hist, err, sizeof err);
            if (rc == 0) {
                CHECK (hist);
                zkv_lin_result_t result;
                CHECK (zkv_lincheck (hist, NULL, &result) == 0);
                zkv_lin_result_clear (&result);
                zkv_history_destroy (&hist);
            } else {
                CHECK (rc == ZKV_EPROTO);
                CHECK (!hist);
                CHECK (strncmp (err, "line ", 5) == 0);
            }
        }
    }
    free (buf);
}

static void
test_builder_rules (void)
{
    zkv_history_t *h = zkv_history_new ();
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, "", 1) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "without an open invoke"));
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_PUT, "k", "a", 5) == 0);
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_GET, "k", NULL, 6) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "already has an open invoke"));
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 4) == ZKV_EINVAL);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_INVOKE, NULL, 7) == ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_history_open (h), 1);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 7) == 0);
    CHECK (strcmp (zkv_history_error (h), "") == 0);
    CHECK_EQ_U64 (zkv_history_open (h), 0);
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_GET, "k", NULL, 8) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 9) == ZKV_EINVAL);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, "a", 9) == 0);
    // Many processes, each opening and closing, exercise the open-invoke table's growth.
    for (int round = 0; round < 3; round++) {
        for (int64_t p = 100; p < 1100; p++)
            CHECK (zkv_history_invoke (h, p, ZKV_HIST_GET, "k", NULL, 10 + round * 2) == 0);
        CHECK_EQ_U64 (zkv_history_open (h), 1000);
        for (int64_t p = 100; p < 1100; p++)
            CHECK (zkv_history_complete (h, p, ZKV_HIST_OK, "a", 11 + round * 2) == 0);
    }
    CHECK_EQ_U64 (zkv_history_size (h), 4 + 6000);
    const zkv_hist_event_t *ok = zkv_history_event (h, 1);
    CHECK (ok->type == ZKV_HIST_OK && ok->partner == 0);
    CHECK (strcmp (ok->value.data, "a") == 0); // a write's ok repeats its argument
    zkv_lin_result_t result;
    CHECK (zkv_lincheck (h, NULL, &result) == 0);
    CHECK (result.verdict == ZKV_LIN_OK);
    CHECK_EQ_U64 (result.ops, 3002);
    CHECK_EQ_U64 (result.keys, 1);
    zkv_lin_result_clear (&result);
    zkv_history_destroy (&h);
    CHECK (h == NULL);
    zkv_history_destroy (&h);
}

// Writes h, parses it back, and compares every event.
static bool
s_round_trip (const zkv_history_t *h)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out || zkv_history_write (h, out) != 0)
        return false;
    fclose (out);
    zkv_history_t *back;
    char err[256];
    bool same = zkv_history_parse (text, size, &back, err, sizeof err) == 0;
    if (!same)
        fprintf (stderr, "round trip: %s\n", err);
    for (size_t i = 0; same && i < zkv_history_size (h); i++) {
        const zkv_hist_event_t *a = zkv_history_event (h, i), *b = zkv_history_event (back, i);
        same = a->process == b->process && a->type == b->type && a->f == b->f &&
               a->time == b->time && a->partner == b->partner && a->key.size == b->key.size &&
               memcmp (a->key.data, b->key.data, a->key.size) == 0 &&
               (a->value.data == NULL) == (b->value.data == NULL) &&
               a->value.size == b->value.size &&
               (!a->value.data || memcmp (a->value.data, b->value.data, a->value.size) == 0);
    }
    same = same && zkv_history_size (back) == zkv_history_size (h);
    zkv_history_destroy (&back);
    free (text);
    return same;
}

static void
test_write_exact_format_and_round_trip (void)
{
    zkv_history_t *h = zkv_history_new ();
    CHECK (zkv_history_invoke (h, 3, ZKV_HIST_APPEND, "k17", "x3.41;", 1200345) == 0);
    CHECK (zkv_history_invoke (h, 5, ZKV_HIST_GET, "k17", NULL, 1203000) == 0);
    CHECK (zkv_history_complete (h, 3, ZKV_HIST_OK, NULL, 1205511) == 0);
    CHECK (zkv_history_complete (h, 5, ZKV_HIST_OK, "x1.2;x3.41;", 1209877) == 0);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (zkv_history_write (h, out) == 0);
    fclose (out);
    const char *want =
        "{\"process\": 3, \"type\": \"invoke\", \"f\": \"append\", \"key\": \"k17\", \"value\": "
        "\"x3.41;\", \"time\": 1200345}\n"
        "{\"process\": 5, \"type\": \"invoke\", \"f\": \"get\", \"key\": \"k17\", \"value\": "
        "null, \"time\": 1203000}\n"
        "{\"process\": 3, \"type\": \"ok\", \"f\": \"append\", \"key\": \"k17\", \"value\": "
        "\"x3.41;\", \"time\": 1205511}\n"
        "{\"process\": 5, \"type\": \"ok\", \"f\": \"get\", \"key\": \"k17\", \"value\": "
        "\"x1.2;x3.41;\", \"time\": 1209877}\n";
    bool same = strcmp (text, want) == 0;
    if (!same)
        fprintf (stderr, "wrote:\n%s", text);
    free (text);
    CHECK (same);
    CHECK (s_round_trip (h));
    // Bytes that need escapes, a NUL, UTF-8, negative and extreme integers.
    zkv_hist_str_t key = {"q\"\\\n\t\r\b\f\x01\x7f\0z\xc3\xa9", 14};
    CHECK (zkv_history_invoke_n (h, INT64_MIN, ZKV_HIST_PUT, key, key, INT64_MIN, 0) == 0);
    CHECK (zkv_history_complete_n (h, INT64_MIN, ZKV_HIST_INFO, ZKV_HIST_PUT, key,
                                   (zkv_hist_str_t){NULL, 0}, INT64_MAX, 0) == 0);
    CHECK (s_round_trip (h));
    zkv_history_destroy (&h);
}

static void
test_explanation_names_the_key_and_the_read (void)
{
    zkv_history_t *h = zkv_history_new ();
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_PUT, "good", "a;", 1) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 2) == 0);
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_PUT, "k", "a;", 3) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 4) == 0);
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_PUT, "k", "b;", 5) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 6) == 0);
    CHECK (zkv_history_invoke (h, 2, ZKV_HIST_GET, "k", NULL, 7) == 0);
    CHECK (zkv_history_complete (h, 2, ZKV_HIST_OK, "a;", 8) == 0);
    zkv_lin_result_t r;
    CHECK (zkv_lincheck (h, NULL, &r) == 0);
    CHECK (r.verdict == ZKV_LIN_ILLEGAL);
    CHECK (strcmp (r.key, "\"k\"") == 0);
    CHECK (strstr (r.explanation, "longest linearizable prefix has 2"));
    CHECK (strstr (r.explanation, "the value is \"b;\""));
    CHECK (strstr (r.explanation, "process 2 get -> \"a;\" [t 7..8]"));
    CHECK_EQ_U64 (r.keys, 2);
    CHECK_EQ_U64 (r.ops, 4);
    zkv_lin_result_clear (&r);
    CHECK (r.key == NULL);
    zkv_history_destroy (&h);
}

// ---- Randomized: histories of a simulated linearizable store, and impossible mutations ----

static uint64_t
s_rand (uint64_t *seed)
{
    uint64_t z = (*seed += 0x9e3779b97f4a7c15ULL); // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
s_below (uint64_t *seed, int n)
{
    return (int)(s_rand (seed) % (uint64_t)n);
}

typedef struct {
    int64_t process;      // who
    zkv_hist_type_t type; // invoke, ok, fail, info
    int op;               // index in the generator's operations
    char *value;          // invoke: argument; ok get: value read; else NULL
    int64_t time;         // when
} s_gev_t;

typedef struct {
    int key;        // k0, k1, ...
    zkv_hist_f_t f; // what
    char *arg;      // put/append argument (a unique token "v<op>;")
    int64_t call;   // invoke time
    int64_t ret;    // completion time (INT64_MAX if none)
    int outcome;    // ZKV_HIST_OK / FAIL / INFO, or -1 if never completed
    size_t done;    // index of the completion event
} s_gop_t;

typedef struct {
    s_gev_t ev[4096];  // events in order
    size_t n;          // events used
    s_gop_t ops[2048]; // operations
    int nops;          // used
} s_gen_t;

static void
s_gen_free (s_gen_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free (g->ev[i].value);
    for (int i = 0; i < g->nops; i++)
        free (g->ops[i].arg);
    g->n = 0;
    g->nops = 0;
}

static char *
s_dup (const char *s)
{
    return s ? strdup (s) : NULL;
}

// A register store applying each operation at one instant strictly inside its interval; an
// info write may instead take effect later, or never; a fail never does.
static void
s_apply (char **state, const s_gop_t *op, char **result)
{
    char **v = &state[op->key];
    if (op->f == ZKV_HIST_GET)
        *result = s_dup (*v);
    else if (op->f == ZKV_HIST_PUT) {
        free (*v);
        *v = s_dup (op->arg);
    } else {
        size_t a = strlen (*v), b = strlen (op->arg);
        *v = realloc (*v, a + b + 1);
        memcpy (*v + a, op->arg, b + 1);
    }
}

static void
s_event (s_gen_t *g, int64_t process, zkv_hist_type_t type, int op, char *value, int64_t t)
{
    assert (g->n < sizeof g->ev / sizeof g->ev[0]);
    g->ev[g->n++] = (s_gev_t){process, type, op, value, t};
    if (type != ZKV_HIST_INVOKE) {
        g->ops[op].ret = type == ZKV_HIST_OK ? t : INT64_MAX;
        g->ops[op].outcome = (int)type;
        g->ops[op].done = g->n - 1;
    }
}

static void
s_generate (s_gen_t *g, uint64_t seed, int procs, int keys, int nops, int info_pct)
{
    enum { IDLE, CALLED, APPLIED };
    struct {
        int phase;    // IDLE, CALLED or APPLIED
        int op;       // its operation
        char *result; // a get's value read, once applied
    } proc[16] = {{0}};
    char *state[8];
    int ghosts[2048], nghosts = 0;
    assert (procs <= 16 && keys <= 8 && nops <= 2048);
    for (int k = 0; k < keys; k++)
        state[k] = strdup ("");
    g->n = 0;
    g->nops = 0;
    int64_t t = 0;
    int busy = 0;
    while (g->nops < nops || busy) {
        t += 1 + s_below (&seed, 3);
        if (nghosts && s_below (&seed, 20) == 0) { // a lost-track write lands late
            int i = s_below (&seed, nghosts);
            s_apply (state, &g->ops[ghosts[i]], NULL);
            ghosts[i] = ghosts[--nghosts];
            continue;
        }
        int p = s_below (&seed, procs), r = s_below (&seed, 100);
        s_gop_t *op = &g->ops[proc[p].op];
        if (proc[p].phase == IDLE && g->nops < nops) {
            int id = g->nops++;
            char arg[32];
            snprintf (arg, sizeof arg, "v%d;", id);
            zkv_hist_f_t f = (zkv_hist_f_t)s_below (&seed, 3);
            g->ops[id] = (s_gop_t){s_below (&seed, keys),
                                   f,
                                   f == ZKV_HIST_GET ? NULL : strdup (arg),
                                   t,
                                   INT64_MAX,
                                   -1,
                                   0};
            proc[p].phase = CALLED;
            proc[p].op = id;
            busy++;
            s_event (g, p, ZKV_HIST_INVOKE, id, s_dup (g->ops[id].arg), t);
        } else if (proc[p].phase == CALLED) {
            if (r < 60) {
                s_apply (state, op, &proc[p].result);
                proc[p].phase = APPLIED;
            } else if (r < 60 + info_pct / 2 || r < 65 + info_pct / 2) {
                bool info = r < 60 + info_pct / 2;
                if (info && op->f != ZKV_HIST_GET && s_below (&seed, 2))
                    ghosts[nghosts++] = proc[p].op;
                s_event (g, p, info ? ZKV_HIST_INFO : ZKV_HIST_FAIL, proc[p].op, NULL, t);
                proc[p].phase = IDLE;
                busy--;
            }
        } else if (proc[p].phase == APPLIED && r < 70 + info_pct / 2) {
            bool ok = r < 70;
            char *value = !ok ? NULL : op->f == ZKV_HIST_GET ? proc[p].result : s_dup (op->arg);
            if (!ok)
                free (proc[p].result);
            proc[p].result = NULL;
            s_event (g, p, ok ? ZKV_HIST_OK : ZKV_HIST_INFO, proc[p].op, value, t);
            proc[p].phase = IDLE;
            busy--;
        }
    }
    for (int k = 0; k < keys; k++)
        free (state[k]);
}

static zkv_history_t *
s_build (const s_gen_t *g)
{
    zkv_history_t *h = zkv_history_new ();
    for (size_t i = 0; i < g->n; i++) {
        const s_gev_t *e = &g->ev[i];
        const s_gop_t *op = &g->ops[e->op];
        char key[16];
        snprintf (key, sizeof key, "k%d", op->key);
        int rc = e->type == ZKV_HIST_INVOKE
                     ? zkv_history_invoke (h, e->process, op->f, key, e->value, e->time)
                     : zkv_history_complete (h, e->process, e->type, e->value, e->time);
        assert (rc == 0);
    }
    return h;
}

// The verdict on h; if it is not `want`, says why and saves h for a look with zkv-lincheck.
static zkv_lin_verdict_t
s_verdict (const zkv_history_t *h, zkv_lin_verdict_t want, const char *name, uint64_t *steps)
{
    zkv_lin_result_t r;
    int rc = zkv_lincheck (h, NULL, &r);
    assert (rc == 0);
    zkv_lin_verdict_t v = r.verdict;
    if (v != want) {
        char path[256];
        snprintf (path, sizeof path, "/tmp/test_lincheck_%s.jsonl", name);
        zkv_history_save (h, path);
        fprintf (stderr, "%s: %s, want %s (saved in %s)\n", name, zkv_lin_verdict_name (v),
                 zkv_lin_verdict_name (want), path);
        if (r.explanation)
            fprintf (stderr, "  key %s: %s\n", r.key, r.explanation);
    }
    if (steps)
        *steps = r.steps;
    zkv_lin_result_clear (&r);
    return v;
}

static bool
s_is_ok_get (const s_gop_t *op)
{
    return op->f == ZKV_HIST_GET && op->outcome == ZKV_HIST_OK;
}

// A read sees a write called only after the read returned: impossible, values being unique.
static bool
s_mutate_future (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 2000; tries++) {
        s_gop_t *r = &g->ops[s_below (seed, g->nops)], *w = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok_get (r) || w->f == ZKV_HIST_GET || w->key != r->key || w->call <= r->ret)
            continue;
        s_gev_t *done = &g->ev[r->done];
        const char *old = w->f == ZKV_HIST_PUT ? "" : done->value;
        char *value = malloc (strlen (old) + strlen (w->arg) + 1);
        strcpy (value, old);
        strcat (value, w->arg);
        free (done->value);
        done->value = value;
        return true;
    }
    return false;
}

// A read sees what an earlier read saw although a write completed between them: stale. (Every
// later value holds that write's unique token, or a later put's, which the old one lacks.)
static bool
s_mutate_stale (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 5000; tries++) {
        s_gop_t *r0 = &g->ops[s_below (seed, g->nops)], *w = &g->ops[s_below (seed, g->nops)],
                *r = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok_get (r0) || !s_is_ok_get (r) || w->f == ZKV_HIST_GET ||
            w->outcome != ZKV_HIST_OK || r0->key != w->key || r->key != w->key ||
            r0->ret >= w->call || w->ret >= r->call)
            continue;
        s_gev_t *done = &g->ev[r->done];
        free (done->value);
        done->value = strdup (g->ev[r0->done].value);
        return true;
    }
    return false;
}

static void
test_random_linearizable_pass (void)
{
    static s_gen_t g;
    uint64_t steps = 0, most = 0, seed = 0;
    for (int i = 0; i < 400; i++) {
        seed = 1000 + (uint64_t)i;
        int procs = 2 + s_below (&seed, 9), keys = 1 + s_below (&seed, 3);
        int ops = 10 + s_below (&seed, 300), info = s_below (&seed, 25); // in this order
        s_generate (&g, seed, procs, keys, ops, info);
        zkv_history_t *h = s_build (&g);
        uint64_t n;
        char name[64];
        snprintf (name, sizeof name, "random_%d", i);
        CHECK (s_verdict (h, ZKV_LIN_OK, name, &n) == ZKV_LIN_OK);
        if (i % 10 == 0)
            CHECK (s_round_trip (h));
        steps += n;
        most = n > most ? n : most;
        zkv_history_destroy (&h);
        s_gen_free (&g);
    }
    printf ("     400 histories, %" PRIu64 " search steps, at most %" PRIu64 " for one\n", steps,
            most);
}

static void
test_random_mutations_fail (void)
{
    static s_gen_t g;
    int future = 0, stale = 0;
    for (int i = 0; i < 400; i++) {
        for (int kind = 0; kind < 2; kind++) {
            uint64_t seed = 5000 + (uint64_t)i;
            int procs = 2 + s_below (&seed, 9), keys = 1 + s_below (&seed, 2);
            int ops = 10 + s_below (&seed, 200), info = s_below (&seed, 20); // in this order
            s_generate (&g, seed, procs, keys, ops, info);
            bool mutated = kind == 0 ? s_mutate_future (&g, &seed) : s_mutate_stale (&g, &seed);
            if (mutated) {
                zkv_history_t *h = s_build (&g);
                char name[64];
                snprintf (name, sizeof name, "mutated_%d_%s", i, kind ? "stale" : "future");
                CHECK (s_verdict (h, ZKV_LIN_ILLEGAL, name, NULL) == ZKV_LIN_ILLEGAL);
                zkv_history_destroy (&h);
                *(kind == 0 ? &future : &stale) += 1;
            }
            s_gen_free (&g);
        }
    }
    printf ("     %d reads of future writes, %d stale reads: all caught\n", future, stale);
    CHECK (future > 200 && stale > 100); // the generator must give both chances
}

// Thousands of operations on one key by ten processes check well inside the default budget.
static void
test_big_history_is_fast (void)
{
    static s_gen_t g;
    uint64_t seed = 77;
    s_generate (&g, seed, 10, 1, 2000, 6);
    zkv_history_t *h = s_build (&g);
    uint64_t steps;
    CHECK (s_verdict (h, ZKV_LIN_OK, "big", &steps) == ZKV_LIN_OK);
    printf ("     %zu events on one key by 10 processes: %" PRIu64 " steps\n", g.n, steps);
    CHECK (steps < 1000000);
    zkv_history_destroy (&h);
    s_gen_free (&g);
}

ZKV_TEST_MAIN (TEST (test_data_linearizable) TEST (test_data_not_linearizable)
                   TEST (test_data_unknown_with_tiny_budget) TEST (test_data_parse_errors)
                       TEST (test_parse_messages) TEST (test_parse_hostile)
                           TEST (test_builder_rules) TEST (test_write_exact_format_and_round_trip)
                               TEST (test_explanation_names_the_key_and_the_read)
                                   TEST (test_random_linearizable_pass)
                                       TEST (test_random_mutations_fail)
                                           TEST (test_big_history_is_fast))
