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
    const char *files[] = {"ok_sequential.jsonl",
                           "ok_concurrent_puts.jsonl",
                           "ok_info_appends.jsonl",
                           "ok_fail_ignored.jsonl",
                           "ok_missing_key.jsonl",
                           "ok_escapes.jsonl",
                           "ok_delete.jsonl",
                           "ok_cas_value.jsonl",
                           "ok_cas_revision.jsonl",
                           "ok_cas_lock.jsonl",
                           "ok_revisions.jsonl",
                           "ok_cas_revision_same_value.jsonl",
                           "ok_info_writes_any_order.jsonl",
                           "ok_info_write_seen_by_cas.jsonl",
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
    const char *files[] = {"bad_stale_read.jsonl",
                           "bad_never_written.jsonl",
                           "bad_contradictory_appends.jsonl",
                           "bad_lost_append.jsonl",
                           "bad_read_deleted.jsonl",
                           "bad_not_found_after_put.jsonl",
                           "bad_empty_is_not_missing.jsonl",
                           "bad_cas_swapped_mismatch.jsonl",
                           "bad_cas_not_swapped_matched.jsonl",
                           "bad_cas_revision_stale.jsonl",
                           "bad_cas_lock_two_holders.jsonl",
                           "bad_revision_two_values.jsonl",
                           "bad_revision_backwards.jsonl",
                           "bad_read_old_revision.jsonl",
                           "bad_cas_revision_not_swapped_at_bound.jsonl"};
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
        {"err_unknown_f.jsonl", "err_unknown_f.jsonl:1: unknown f \"increment\""},
        {"err_ok_without_invoke.jsonl",
         "err_ok_without_invoke.jsonl:3: ok for process 1 without an open invoke"},
        {"err_two_open_invokes.jsonl",
         "err_two_open_invokes.jsonl:3: process 1 already has an open invoke (line 1)"},
        {"err_cas_without_expect.jsonl",
         "err_cas_without_expect.jsonl:1: a cas invoke needs \"expect\""},
        {"err_cas_two_expects.jsonl",
         "err_cas_two_expects.jsonl:1: a cas invoke has \"expect\" or \"expect_revision\", not "
         "both"},
        {"err_swapped_on_put.jsonl",
         "err_swapped_on_put.jsonl:2: \"swapped\" belongs on a cas's ok, not a put's ok"},
        {"err_swapped_not_boolean.jsonl",
         "err_swapped_not_boolean.jsonl:2: \"swapped\": expected true or false, got an integer"},
        {"err_revision_negative.jsonl",
         "err_revision_negative.jsonl:2: \"revision\": expected a non-negative integer"},
        {"err_revision_on_invoke.jsonl",
         "err_revision_on_invoke.jsonl:1: \"revision\" belongs on an ok, not an invoke"},
        {"err_delete_with_value.jsonl",
         "err_delete_with_value.jsonl:1: a delete invoke has value null"},
        {"err_not_found_with_revision.jsonl",
         "err_not_found_with_revision.jsonl:2: a get that found nothing has revision 0, not 7"},
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

// A line with more members (extra: "\"name\": value, ...").
#define XLINE(p, type, f, value, extra, time)                                                      \
    "{\"process\": " #p ", \"type\": \"" type "\", \"f\": \"" f "\", \"key\": \"k\", "             \
    "\"value\": " value ", " extra ", \"time\": " #time "}\n"

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
        {LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "get", "null", 2), ""}, // not found
        {LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "put", "\"a\"", 2),
         "line 2: ok for process 1 does not match its invoke"},
        {LINE (1, "fail", "get", "null", 1), "line 1: fail for process 1 without an open invoke"},
        // The members of delete, cas and revisions.
        {XLINE (1, "invoke", "cas", "null", "\"expect\": null", 1)
             XLINE (1, "ok", "cas", "null", "\"swapped\": false, \"revision\": 0", 2),
         ""},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect_revision\": 18446744073709551615", 1)
             XLINE (1, "ok", "cas", "\"b\"", "\"revision\": 18446744073709551615", 2),
         ""},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect_revision\": 18446744073709551616", 1),
         "line 1: \"expect_revision\": out of range"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect_revision\": \"3\"", 1),
         "\"expect_revision\": expected a non-negative integer, got a string"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": 3", 1),
         "\"expect\": expected a string or null, got an integer"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": null, \"expect\": \"a\"", 1),
         "\"expect\" given twice"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"swapped\": true, \"expect\": null", 1),
         "\"swapped\" belongs on a cas's ok, not an invoke"},
        {XLINE (1, "invoke", "get", "null", "\"expect\": \"a\"", 1),
         "\"expect\" belongs on a cas invoke, not a get"},
        {XLINE (1, "invoke", "put", "\"a\"", "\"expect_revision\": 2", 1),
         "\"expect_revision\" belongs on a cas invoke, not a put"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": null", 1)
             XLINE (1, "ok", "cas", "\"b\"", "\"expect\": null", 2),
         "line 2: \"expect\" belongs on a cas invoke, not its ok"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": null", 1)
             XLINE (1, "ok", "cas", "\"c\"", "\"swapped\": true", 2),
         "line 2: a cas's ok repeats its invoke's value"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": null", 1)
             XLINE (1, "info", "cas", "null", "\"swapped\": true", 2),
         "line 2: \"swapped\" belongs on a cas's ok, not a cas's info"},
        {XLINE (1, "invoke", "cas", "\"b\"", "\"expect\": null", 1)
             XLINE (1, "ok", "cas", "null", "\"swapped\": \"yes\"", 2),
         "\"swapped\": expected true or false, got a string"},
        {LINE (1, "invoke", "put", "\"a\"", 1)
             XLINE (1, "fail", "put", "null", "\"revision\": 4", 2),
         "line 2: \"revision\" belongs on an ok, not a fail"},
        {LINE (1, "invoke", "put", "\"a\"", 1)
             XLINE (1, "ok", "put", "null", "\"revision\": 1.5", 2),
         "\"revision\": expected an integer"},
        {LINE (1, "invoke", "delete", "null", 1) LINE (1, "ok", "delete", "\"a\"", 2),
         "line 2: a delete's ok has value null"},
        {LINE (1, "invoke", "get", "null", 1) XLINE (1, "ok", "get", "null", "\"revision\": 3", 2),
         "line 2: a get that found nothing has revision 0, not 3"},
        {LINE (1, "invoke", "get", "null", 1) XLINE (1, "ok", "get", "null", "\"revision\": 0", 2),
         ""},
        {"{\"process\": 9223372036854775808}\n", "\"process\": out of range"},
        {"{\"process\": -9223372036854775809}\n", "\"process\": out of range"},
        {"{\"swapped\": tru}\n", "got an invalid token"},
        {"{\"swapped\": falsey}\n", "expected ',' or '}'"},
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
s_hostile (const char *valid)
{
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
test_parse_hostile (void)
{
    s_hostile (LINE (1, "invoke", "append", "\"a\\u00e9\\ud83d\\ude00\\\"\\\\;\"", 10)
                   LINE (1, "ok", "append", "\"a\\u00e9\\ud83d\\ude00\\\"\\\\;\"", 11)
                       LINE (2, "invoke", "get", "null", -12) LINE (2, "info", "get", "null", 13));
    // The members of delete, cas and revisions, each value kind once.
    s_hostile (XLINE (1, "invoke", "cas", "\"b\\u00e9\"", "\"expect\": \"a\"", 10)
                   XLINE (1, "ok", "cas", "\"b\\u00e9\"", "\"swapped\": true, \"revision\": 17", 11)
                       XLINE (2, "invoke", "cas", "null", "\"expect_revision\": 17", 12)
                           XLINE (2, "ok", "cas", "null", "\"swapped\": false, \"revision\": 9", 13)
                               LINE (3, "invoke", "delete", "null", 14)
                                   XLINE (3, "ok", "delete", "null", "\"revision\": 20", 15)
                                       LINE (3, "invoke", "get", "null", 16)
                                           XLINE (3, "ok", "get", "null", "\"revision\": 0", 17));
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

static void
test_builder_new_ops (void)
{
    zkv_history_t *h = zkv_history_new ();
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_CAS, "k", "a", 1) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "a cas invoke needs \"expect\""));
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_DELETE, "k", "a", 1) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "a delete invoke has value null"));
    CHECK (zkv_history_invoke_delete (h, 1, "k", 1) == 0);
    CHECK (zkv_history_complete_cas (h, 1, true, 3, 2) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "zkv_history_complete_cas does not complete a delete"));
    CHECK (zkv_history_complete_get (h, 1, NULL, 0, 2) == ZKV_EINVAL);
    CHECK (zkv_history_complete_write (h, 1, 4, 2) == 0);
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_GET, "k", NULL, 3) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 4) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "zkv_history_complete_get"));
    CHECK (zkv_history_complete_write (h, 1, 4, 4) == ZKV_EINVAL);
    CHECK (zkv_history_complete_get (h, 1, NULL, 5, 4) == ZKV_EINVAL);
    CHECK (strstr (zkv_history_error (h), "a get that found nothing has revision 0"));
    CHECK (zkv_history_complete_get (h, 1, NULL, 0, 4) == 0); // not found
    CHECK (zkv_history_invoke_cas (h, 1, "k", NULL, "me", 5) == 0);
    CHECK (zkv_history_complete_cas (h, 1, true, 7, 6) == 0);
    CHECK (zkv_history_invoke_cas_rev (h, 2, "k", 6, NULL, 7) == 0);
    CHECK (zkv_history_complete_cas (h, 2, false, 7, 8) == 0); // the key is at 7
    CHECK (zkv_history_invoke (h, 2, ZKV_HIST_GET, "k", NULL, 9) == 0);
    CHECK (zkv_history_complete_get (h, 2, "me", 7, 10) == 0);
    CHECK (zkv_history_complete_write (h, 3, 1, 10) == ZKV_EINVAL); // nothing open
    CHECK (strstr (zkv_history_error (h), "without an open invoke"));
    // The events hold what was said, and nothing else.
    const zkv_hist_event_t *e = zkv_history_event (h, 1); // the delete's ok
    CHECK (e->f == ZKV_HIST_DELETE && e->has_revision && e->revision == 4 && e->swapped == -1);
    CHECK (!e->value.data && !e->has_expect && !e->has_expect_revision);
    e = zkv_history_event (h, 3); // the not found
    CHECK (e->f == ZKV_HIST_GET && !e->value.data && !e->has_revision);
    e = zkv_history_event (h, 4); // the cas by value
    CHECK (e->has_expect && !e->expect.data && !e->has_expect_revision &&
           strcmp (e->value.data, "me") == 0);
    e = zkv_history_event (h, 5);
    CHECK (e->swapped == 1 && e->revision == 7 && strcmp (e->value.data, "me") == 0);
    e = zkv_history_event (h, 6); // the cas by revision: a conditional delete
    CHECK (e->has_expect_revision && e->expect_revision == 6 && !e->has_expect && !e->value.data);
    e = zkv_history_event (h, 7);
    CHECK (e->swapped == 0 && e->revision == 7);
    zkv_lin_result_t r;
    CHECK (zkv_lincheck (h, NULL, &r) == 0);
    if (r.verdict != ZKV_LIN_OK)
        fprintf (stderr, "%s\n", r.explanation);
    CHECK (r.verdict == ZKV_LIN_OK);
    zkv_lin_result_clear (&r);
    CHECK (s_round_trip (h));
    zkv_history_destroy (&h);
}

static void
test_write_new_members (void)
{
    zkv_history_t *h = zkv_history_new ();
    CHECK (zkv_history_invoke_cas (h, 1, "k", "a\"", NULL, 10) == 0);
    CHECK (zkv_history_complete_cas (h, 1, false, 5, 11) == 0);
    CHECK (zkv_history_invoke_cas_rev (h, 1, "k", UINT64_MAX, "b", 12) == 0);
    CHECK (zkv_history_complete_cas (h, 1, true, UINT64_MAX, 13) == 0);
    CHECK (zkv_history_invoke_delete (h, 1, "k", 14) == 0);
    CHECK (zkv_history_complete_write (h, 1, 0, 15) == 0); // no revision: none written
    CHECK (zkv_history_invoke (h, 1, ZKV_HIST_GET, "k", NULL, 16) == 0);
    CHECK (zkv_history_complete_get (h, 1, NULL, 0, 17) == 0);
    CHECK (zkv_history_invoke_cas (h, 1, "k", NULL, "c", 18) == 0);
    CHECK (zkv_history_complete (h, 1, ZKV_HIST_OK, NULL, 19) == 0); // swapped not said
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (zkv_history_write (h, out) == 0);
    fclose (out);
    const char *want =
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"cas\", \"key\": \"k\", \"value\": null, "
        "\"expect\": \"a\\\"\", \"time\": 10}\n"
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"cas\", \"key\": \"k\", \"value\": null, "
        "\"swapped\": false, \"revision\": 5, \"time\": 11}\n"
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"cas\", \"key\": \"k\", \"value\": \"b\", "
        "\"expect_revision\": 18446744073709551615, \"time\": 12}\n"
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"cas\", \"key\": \"k\", \"value\": \"b\", "
        "\"swapped\": true, \"revision\": 18446744073709551615, \"time\": 13}\n"
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"delete\", \"key\": \"k\", \"value\": "
        "null, "
        "\"time\": 14}\n"
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"delete\", \"key\": \"k\", \"value\": null, "
        "\"time\": 15}\n"
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"get\", \"key\": \"k\", \"value\": null, "
        "\"time\": 16}\n"
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"get\", \"key\": \"k\", \"value\": null, "
        "\"time\": 17}\n"
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"cas\", \"key\": \"k\", \"value\": \"c\", "
        "\"expect\": null, \"time\": 18}\n"
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"cas\", \"key\": \"k\", \"value\": \"c\", "
        "\"time\": 19}\n";
    bool same = strcmp (text, want) == 0;
    if (!same)
        fprintf (stderr, "wrote:\n%s", text);
    free (text);
    CHECK (same);
    CHECK (s_round_trip (h));
    zkv_history_destroy (&h);
}

// Checks one history given as text; returns the result (clear it).
static zkv_lin_result_t
s_check_text (const char *text, bool empty_may_be_missing)
{
    zkv_history_t *h;
    char err[256];
    zkv_lin_result_t r = {.verdict = ZKV_LIN_UNKNOWN};
    if (zkv_history_parse (text, strlen (text), &h, err, sizeof err)) {
        fprintf (stderr, "%s\n", err);
        return r;
    }
    zkv_lin_options_t options = {.empty_may_be_missing = empty_may_be_missing};
    zkv_lincheck (h, &options, &r);
    zkv_history_destroy (&h);
    return r;
}

// The explanations name the new operations, their outcomes and revisions.
static void
test_explanations_of_new_ops (void)
{
    struct {
        const char *text; // a history that is not linearizable
        const char *want; // in the explanation
    } cases[] = {
        {XLINE (1, "invoke", "cas", "\"p1\"", "\"expect\": null", 1)
             XLINE (1, "ok", "cas", "\"p1\"", "\"swapped\": true", 2)
                 XLINE (2, "invoke", "cas", "\"p2\"", "\"expect\": null", 3)
                     XLINE (2, "ok", "cas", "\"p2\"", "\"swapped\": true", 4),
         "after it the value is \"p1\", and this operation cannot be placed (nor any before its "
         "return):\n  process 2 cas expect absent set \"p2\" -> swapped [t 3..4] (line 3)"},
        {LINE (1, "invoke", "put", "\"a\"", 1) XLINE (1, "ok", "put", "null", "\"revision\": 5", 2)
             LINE (1, "invoke", "delete", "null", 3)
                 XLINE (1, "ok", "delete", "null", "\"revision\": 6", 4)
                     LINE (2, "invoke", "get", "null", 5) LINE (2, "ok", "get", "\"a\"", 6),
         "after it the key is missing (revision 6), and this operation cannot be placed"},
        {LINE (1, "invoke", "put", "\"a\"", 1) XLINE (1, "ok", "put", "null", "\"revision\": 5", 2)
             XLINE (2, "invoke", "cas", "\"b\"", "\"expect_revision\": 4", 3)
                 XLINE (2, "ok", "cas", "\"b\"", "\"swapped\": true, \"revision\": 6", 4),
         "process 2 cas expect revision 4 set \"b\" -> swapped, revision 6 [t 3..4]"},
        {LINE (1, "invoke", "put", "\"a\"", 1) XLINE (1, "ok", "put", "null", "\"revision\": 5", 2)
             LINE (2, "invoke", "get", "null", 3)
                 XLINE (2, "ok", "get", "\"a\"", "\"revision\": 4", 4),
         "revisions go back in real time (the first returned before the second was called; a "
         "write must report more, any other at least as much):\n  process 1 put \"a\", revision 5 "
         "[t 1..2] (line 1)\n  process 2 get -> \"a\", revision 4 [t 3..4] (line 3)"},
        {LINE (1, "invoke", "put", "\"a\"", 1) XLINE (1, "ok", "put", "null", "\"revision\": 5", 2)
             LINE (2, "invoke", "get", "null", 0)
                 XLINE (2, "ok", "get", "\"b\"", "\"revision\": 5", 4),
         "one revision stands for two versions of the key"},
        // A write after a read of revision 5 must report more, not as much.
        {LINE (1, "invoke", "put", "\"a\"", 1) LINE (1, "ok", "put", "null", 2)
             LINE (2, "invoke", "get", "null", 3) XLINE (2, "ok", "get", "\"a\"", "\"revision\": 5",
                                                         4) LINE (2, "invoke", "append", "\"b\"", 5)
                 XLINE (2, "ok", "append", "null", "\"revision\": 5", 6),
         "revisions go back in real time"},
        {LINE (2, "invoke", "get", "null", 1) LINE (2, "ok", "get", "null", 2)
             LINE (1, "invoke", "append", "\"a\"", 3) LINE (1, "ok", "append", "null", 4)
                 LINE (2, "invoke", "get", "null", 5) LINE (2, "ok", "get", "null", 6),
         "process 2 get -> not found [t 5..6]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zkv_lin_result_t r = s_check_text (cases[i].text, false);
        bool good =
            r.verdict == ZKV_LIN_ILLEGAL && r.explanation && strstr (r.explanation, cases[i].want);
        if (!good)
            fprintf (stderr, "case %zu: got \"%s\"\nwant \"%s\"\n", i,
                     r.explanation ? r.explanation : "", cases[i].want);
        zkv_lin_result_clear (&r);
        CHECK (good);
    }
}

// Histories recorded before "not found" existed read "" from missing keys: the option accepts
// that, and only that.
static void
test_empty_may_be_missing (void)
{
    const char *old = LINE (1, "invoke", "get", "null", 1) LINE (1, "ok", "get", "\"\"", 2)
        LINE (1, "invoke", "append", "\"a\"", 3) LINE (1, "ok", "append", "null", 4)
            LINE (1, "invoke", "get", "null", 5) LINE (1, "ok", "get", "\"a\"", 6);
    zkv_lin_result_t r = s_check_text (old, false);
    CHECK (r.verdict == ZKV_LIN_ILLEGAL); // strict: "" is an existing empty value
    zkv_lin_result_clear (&r);
    r = s_check_text (old, true);
    CHECK (r.verdict == ZKV_LIN_OK);
    zkv_lin_result_clear (&r);
    // An empty value is still read as "" under the option; a stale "" still fails.
    r = s_check_text (LINE (1, "invoke", "put", "\"\"", 1) LINE (1, "ok", "put", "null", 2)
                          LINE (1, "invoke", "get", "null", 3) LINE (1, "ok", "get", "\"\"", 4),
                      true);
    CHECK (r.verdict == ZKV_LIN_OK);
    zkv_lin_result_clear (&r);
    r = s_check_text (LINE (1, "invoke", "put", "\"x\"", 1) LINE (1, "ok", "put", "null", 2)
                          LINE (1, "invoke", "get", "null", 3) LINE (1, "ok", "get", "\"\"", 4),
                      true);
    CHECK (r.verdict == ZKV_LIN_ILLEGAL);
    CHECK (strstr (r.explanation, "get -> \"\" (or not found)"));
    zkv_lin_result_clear (&r);
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
    int64_t time;         // when
} s_gev_t;

typedef struct {
    int key;             // k0, k1, ...
    zkv_hist_f_t f;      // what
    char *arg;           // put/append argument, cas new value (NULL: delete): a unique token
    char *expect;        // cas by value: the value expected (NULL: absent)
    bool by_rev;         // cas by revision
    uint64_t expect_rev; // its revision expected (0: absent)
    int64_t call;        // invoke time
    int64_t ret;         // completion time (INT64_MAX if none)
    int outcome;         // ZKV_HIST_OK / FAIL / INFO, or -1 if never completed
    size_t done;         // index of the completion event
    char *read;          // ok get: the value read (NULL: not found)
    uint64_t rev;        // ok: the revision reported (0: none)
    int swapped;         // ok cas: 1, 0, or -1 (not reported)
} s_gop_t;

typedef struct {
    s_gev_t ev[8192];  // events in order
    size_t n;          // events used
    s_gop_t ops[4096]; // operations
    int nops;          // used
} s_gen_t;

// What a generated history holds.
typedef struct {
    int procs;          // processes
    int keys;           // keys (at most 8)
    int nops;           // operations
    int info_pct;       // how often a call ends unknown
    bool new_ops;       // delete and cas besides get, put, append
    bool revisions;     // oks report revisions
    int unreported_pct; // of the oks that could, how many report none
    bool lock;          // a lock built from cas on k0 instead of the mix
} s_mix_t;

// The store: one register per key, with the revision of a shard counter they share.
typedef struct {
    char *value[8];    // each key's value (NULL: missing)
    uint64_t rev[8];   // its revision (of its last write)
    uint64_t counter;  // the shard's counter: every write takes a new one, not always the next
    bool bump_missing; // whether a delete of a missing key takes a new revision
} s_store_t;

static void
s_gen_free (s_gen_t *g)
{
    for (int i = 0; i < g->nops; i++) {
        free (g->ops[i].arg);
        free (g->ops[i].expect);
        free (g->ops[i].read);
    }
    g->n = 0;
    g->nops = 0;
}

static char *
s_dup (const char *s)
{
    return s ? strdup (s) : NULL;
}

static uint64_t
s_bump (s_store_t *st, uint64_t *seed)
{
    st->counter += 1 + (uint64_t)s_below (seed, 3);
    return st->counter;
}

// A write of value (owned; NULL: delete) to op's key; sets the op's revision.
static void
s_store_write (s_store_t *st, s_gop_t *op, char *value, uint64_t *seed)
{
    char **v = &st->value[op->key];
    uint64_t *r = &st->rev[op->key];
    if (!value && !*v && !st->bump_missing)
        *r = st->counter; // nothing to delete: the counter as it is
    else
        *r = s_bump (st, seed);
    free (*v);
    *v = value;
    op->rev = *r;
}

// Applies op at one instant (the sequential specification of docs/history.md): fills what it
// returns (read, rev, swapped).
static void
s_apply (s_store_t *st, s_gop_t *op, uint64_t *seed)
{
    char *v = st->value[op->key];
    uint64_t r = st->rev[op->key];
    free (op->read);
    op->read = NULL;
    switch (op->f) {
    case ZKV_HIST_GET:
        op->read = s_dup (v);
        op->rev = v ? r : 0;
        break;
    case ZKV_HIST_PUT:
        s_store_write (st, op, strdup (op->arg), seed);
        break;
    case ZKV_HIST_APPEND: {
        size_t a = v ? strlen (v) : 0, b = strlen (op->arg);
        char *nv = malloc (a + b + 1);
        memcpy (nv, v ? v : "", a);
        memcpy (nv + a, op->arg, b + 1);
        s_store_write (st, op, nv, seed);
        break;
    }
    case ZKV_HIST_DELETE:
        s_store_write (st, op, NULL, seed);
        break;
    case ZKV_HIST_CAS: {
        bool match = op->by_rev ? (op->expect_rev == 0 ? !v : v && r == op->expect_rev)
                                : (op->expect ? v && strcmp (v, op->expect) == 0 : !v);
        op->swapped = match;
        if (match)
            s_store_write (st, op, s_dup (op->arg), seed);
        else
            op->rev = v ? r : 0;
        break;
    }
    }
}

static void
s_event (s_gen_t *g, int64_t process, zkv_hist_type_t type, int op, int64_t t)
{
    assert (g->n < sizeof g->ev / sizeof g->ev[0]);
    g->ev[g->n++] = (s_gev_t){process, type, op, t};
    if (type != ZKV_HIST_INVOKE) {
        g->ops[op].ret = type == ZKV_HIST_OK ? t : INT64_MAX;
        g->ops[op].outcome = (int)type;
        g->ops[op].done = g->n - 1;
    }
}

// A new operation of the mix on the store as the caller sees it now; lock[p]: the token
// process p holds (NULL: none) and lock_rev[p] the revision its acquire reported.
static void
s_choose (s_gop_t *op, int id, const s_mix_t *mix, const s_store_t *st, char **held,
          uint64_t held_rev, uint64_t *seed)
{
    char arg[32];
    snprintf (arg, sizeof arg, "v%d;", id);
    op->key = s_below (seed, mix->keys);
    if (mix->lock) {
        op->key = 0;
        op->f = ZKV_HIST_CAS;
        if (*held) { // release: by value, or by the revision the acquire reported
            op->by_rev = held_rev && s_below (seed, 2);
            op->expect_rev = held_rev;
            op->expect = op->by_rev ? NULL : strdup (*held);
            op->arg = NULL;
        } else { // acquire
            op->by_rev = s_below (seed, 2);
            op->expect_rev = 0;
            op->expect = NULL;
            op->arg = strdup (arg);
        }
        return;
    }
    int r = s_below (seed, 100);
    if (!mix->new_ops)
        op->f = (zkv_hist_f_t)s_below (seed, 3);
    else
        op->f = r < 30   ? ZKV_HIST_GET
                : r < 45 ? ZKV_HIST_PUT
                : r < 65 ? ZKV_HIST_APPEND
                : r < 75 ? ZKV_HIST_DELETE
                         : ZKV_HIST_CAS;
    op->arg = op->f == ZKV_HIST_PUT || op->f == ZKV_HIST_APPEND ? strdup (arg) : NULL;
    if (op->f != ZKV_HIST_CAS)
        return;
    const char *now = st->value[op->key];
    uint64_t now_rev = now ? st->rev[op->key] : 0;
    op->arg = s_below (seed, 100) < 85 ? strdup (arg) : NULL;
    op->by_rev = s_below (seed, 2);
    r = s_below (seed, 100);
    if (op->by_rev) // the revision it last saw, absent, or one before
        op->expect_rev = r < 60 ? now_rev : r < 80 ? 0 : now_rev > 1 ? now_rev - 1 : 7;
    else {
        char other[32];
        snprintf (other, sizeof other, "v%d;", s_below (seed, id + 1));
        op->expect = r < 60 ? s_dup (now) : r < 80 ? NULL : strdup (other);
    }
}

// Runs mix on the store: processes call, the store applies each call at one instant strictly
// inside it (an info write may instead take effect later, or never; a fail never does).
static void
s_generate (s_gen_t *g, uint64_t seed, const s_mix_t *mix)
{
    enum { IDLE, CALLED, APPLIED };
    struct {
        int phase;    // IDLE, CALLED or APPLIED
        int op;       // its operation
        char *held;   // lock: the token it holds
        uint64_t rev; // lock: the revision its acquire reported
    } proc[16] = {{0}};
    s_store_t st = {.counter = 0, .bump_missing = s_below (&seed, 2)};
    int ghosts[4096], nghosts = 0;
    assert (mix->procs <= 16 && mix->keys <= 8 && mix->nops <= 4096);
    g->n = 0;
    g->nops = 0;
    int64_t t = 0;
    int busy = 0;
    while (g->nops < mix->nops || busy) {
        t += 1 + s_below (&seed, 3);
        if (nghosts && s_below (&seed, 20) == 0) { // a lost-track write lands late
            int i = s_below (&seed, nghosts);
            s_apply (&st, &g->ops[ghosts[i]], &seed);
            ghosts[i] = ghosts[--nghosts];
            continue;
        }
        int p = s_below (&seed, mix->procs), r = s_below (&seed, 100);
        s_gop_t *op = &g->ops[proc[p].op];
        if (proc[p].phase == IDLE && g->nops < mix->nops) {
            int id = g->nops++;
            g->ops[id] = (s_gop_t){.call = t, .ret = INT64_MAX, .outcome = -1, .swapped = -1};
            s_choose (&g->ops[id], id, mix, &st, &proc[p].held, proc[p].rev, &seed);
            proc[p].phase = CALLED;
            proc[p].op = id;
            busy++;
            s_event (g, p, ZKV_HIST_INVOKE, id, t);
        } else if (proc[p].phase == CALLED) {
            if (r < 60) {
                s_apply (&st, op, &seed);
                proc[p].phase = APPLIED;
            } else if (r < 65 + mix->info_pct / 2) {
                bool info = r < 60 + mix->info_pct / 2;
                if (info && op->f != ZKV_HIST_GET && s_below (&seed, 2))
                    ghosts[nghosts++] = proc[p].op;
                s_event (g, p, info ? ZKV_HIST_INFO : ZKV_HIST_FAIL, proc[p].op, t);
                proc[p].phase = IDLE;
                busy--;
            }
        } else if (proc[p].phase == APPLIED && r < 70 + mix->info_pct / 2) {
            bool ok = r < 70;
            if (ok && (!mix->revisions || s_below (&seed, 100) < mix->unreported_pct))
                op->rev = 0;
            if (ok && op->f == ZKV_HIST_CAS && !op->rev && s_below (&seed, 10) == 0)
                op->swapped = -1; // an ok that does not say
            if (ok && mix->lock) {
                if (proc[p].held && op->swapped) { // released
                    free (proc[p].held);
                    proc[p].held = NULL;
                } else if (!proc[p].held && op->swapped == 1) { // acquired
                    proc[p].held = strdup (op->arg);
                    proc[p].rev = op->rev;
                }
            }
            s_event (g, p, ok ? ZKV_HIST_OK : ZKV_HIST_INFO, proc[p].op, t);
            proc[p].phase = IDLE;
            busy--;
        }
    }
    for (int k = 0; k < 8; k++)
        free (st.value[k]);
    for (int p = 0; p < 16; p++)
        free (proc[p].held);
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
        int rc;
        if (e->type == ZKV_HIST_INVOKE)
            rc = op->f == ZKV_HIST_DELETE ? zkv_history_invoke_delete (h, e->process, key, e->time)
                 : op->f != ZKV_HIST_CAS
                     ? zkv_history_invoke (h, e->process, op->f, key, op->arg, e->time)
                 : op->by_rev
                     ? zkv_history_invoke_cas_rev (h, e->process, key, op->expect_rev, op->arg,
                                                   e->time)
                     : zkv_history_invoke_cas (h, e->process, key, op->expect, op->arg, e->time);
        else if (e->type != ZKV_HIST_OK || (op->f == ZKV_HIST_CAS && op->swapped == -1))
            rc = zkv_history_complete (h, e->process, e->type, NULL, e->time);
        else if (op->f == ZKV_HIST_GET)
            rc = zkv_history_complete_get (h, e->process, op->read, op->rev, e->time);
        else if (op->f == ZKV_HIST_CAS)
            rc = zkv_history_complete_cas (h, e->process, op->swapped, op->rev, e->time);
        else
            rc = zkv_history_complete_write (h, e->process, op->rev, e->time);
        if (rc)
            fprintf (stderr, "s_build: %s\n", zkv_history_error (h));
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
s_is_ok (const s_gop_t *op, zkv_hist_f_t f)
{
    return op->f == f && op->outcome == ZKV_HIST_OK;
}

// A write that changed the key when it took effect: ok, and not a cas that kept it.
static bool
s_changed (const s_gop_t *op)
{
    return op->outcome == ZKV_HIST_OK && op->f != ZKV_HIST_GET &&
           !(op->f == ZKV_HIST_CAS && op->swapped != 1);
}

// A read sees a write called only after the read returned: impossible, values being unique.
static bool
s_mutate_future (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 2000; tries++) {
        s_gop_t *r = &g->ops[s_below (seed, g->nops)], *w = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok (r, ZKV_HIST_GET) || !w->arg || w->key != r->key || w->call <= r->ret)
            continue;
        const char *old = w->f == ZKV_HIST_APPEND && r->read ? r->read : "";
        char *value = malloc (strlen (old) + strlen (w->arg) + 1);
        strcpy (value, old);
        strcat (value, w->arg);
        free (r->read);
        r->read = value;
        return true;
    }
    return false;
}

// A read sees what an earlier read saw although a write changed the key between them: stale.
// (Every later value holds that write's unique token, or a later one's, or is missing.) With
// a delete between them it is a read of a deleted value.
static bool
s_mutate_stale (s_gen_t *g, uint64_t *seed, bool over_delete)
{
    for (int tries = 0; tries < 5000; tries++) {
        s_gop_t *r0 = &g->ops[s_below (seed, g->nops)], *w = &g->ops[s_below (seed, g->nops)],
                *r = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok (r0, ZKV_HIST_GET) || !r0->read || !s_is_ok (r, ZKV_HIST_GET) ||
            !s_changed (w) || (over_delete && w->f != ZKV_HIST_DELETE) || r0->key != w->key ||
            r->key != w->key || r0->ret >= w->call || w->ret >= r->call)
            continue;
        free (r->read);
        r->read = strdup (r0->read);
        return true;
    }
    return false;
}

// A revision goes back in real time: b, called after a returned, reports less (or, if b is a
// put or an append, the same).
static bool
s_mutate_rev_backwards (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 5000; tries++) {
        s_gop_t *a = &g->ops[s_below (seed, g->nops)], *b = &g->ops[s_below (seed, g->nops)];
        bool strict = b->f == ZKV_HIST_PUT || b->f == ZKV_HIST_APPEND;
        if (a->outcome != ZKV_HIST_OK || b->outcome != ZKV_HIST_OK || !a->rev || !b->rev ||
            a->key != b->key || a->ret >= b->call || (!strict && b->f != ZKV_HIST_GET) ||
            (!strict && a->rev < 2))
            continue;
        b->rev = strict ? a->rev : a->rev - 1;
        return true;
    }
    return false;
}

// One revision reported with two values: a get's revision made that of another value's.
static bool
s_mutate_rev_two_values (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 5000; tries++) {
        s_gop_t *a = &g->ops[s_below (seed, g->nops)], *b = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok (a, ZKV_HIST_GET) || !a->read || !a->rev || b->key != a->key ||
            !((s_is_ok (b, ZKV_HIST_GET) && b->read) || s_is_ok (b, ZKV_HIST_PUT)) || !b->rev)
            continue;
        const char *bv = b->f == ZKV_HIST_GET ? b->read : b->arg;
        if (strcmp (a->read, bv) == 0)
            continue;
        a->rev = b->rev;
        return true;
    }
    return false;
}

// A cas whose outcome every order decides, flipped: nothing that may write the key overlaps
// it, and the last write before it is a put, delete or swap that overlaps no other write and
// reported its revision, so the key's value and revision at the cas are that write's.
static bool
s_mutate_cas_flip (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 500; tries++) {
        s_gop_t *c = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok (c, ZKV_HIST_CAS) || c->swapped == -1)
            continue;
        s_gop_t *last = NULL;
        bool clear = true;
        for (int i = 0; i < g->nops && clear; i++) {
            s_gop_t *w = &g->ops[i];
            bool may_write = w->f != ZKV_HIST_GET && w->outcome != ZKV_HIST_FAIL &&
                             !(w->f == ZKV_HIST_CAS && w->outcome == ZKV_HIST_OK && !w->swapped);
            if (w == c || w->key != c->key || !may_write)
                continue;
            if (w->ret >= c->call && w->call <= c->ret)
                clear = false; // overlaps the cas (an open-ended write always does)
            else if (w->ret < c->call && (!last || w->ret > last->ret))
                last = w;
        }
        if (!clear || !last || !last->rev || last->f == ZKV_HIST_APPEND)
            continue;
        for (int i = 0; i < g->nops && clear; i++) { // nothing overlaps that last write
            s_gop_t *w = &g->ops[i];
            if (w != last && w->key == c->key && w->f != ZKV_HIST_GET && w->call <= last->ret &&
                w->ret >= last->call && w->outcome != ZKV_HIST_FAIL)
                clear = false;
        }
        if (!clear)
            continue;
        c->swapped = !c->swapped;
        c->rev = 0; // the flag alone is wrong
        return true;
    }
    return false;
}

// Two holders at once: an acquire that failed while another process held the lock (its
// acquire returned before, its release was called after) is said to have succeeded.
static bool
s_mutate_second_holder (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 2000; tries++) {
        s_gop_t *c = &g->ops[s_below (seed, g->nops)];
        if (!s_is_ok (c, ZKV_HIST_CAS) || c->swapped != 0 || !c->arg)
            continue;
        bool held = false;
        for (int i = 0; i < g->nops && !held; i++) {
            s_gop_t *a = &g->ops[i];
            if (!s_is_ok (a, ZKV_HIST_CAS) || a->swapped != 1 || !a->arg || a->ret >= c->call)
                continue;
            // a acquired before c; held through c if its holder's release came later.
            bool released = false;
            for (int j = 0; j < g->nops && !released; j++) {
                s_gop_t *r = &g->ops[j];
                bool releases = r->f == ZKV_HIST_CAS && !r->arg && r->outcome != ZKV_HIST_FAIL &&
                                (r->by_rev ? r->expect_rev == a->rev && a->rev
                                           : r->expect && strcmp (r->expect, a->arg) == 0);
                released = releases && r->call <= c->ret;
            }
            held = !released;
        }
        if (!held)
            continue;
        c->swapped = 1;
        c->rev = 0;
        return true;
    }
    return false;
}

static const s_mix_t s_old_mix = {.new_ops = false, .revisions = false};

static void
test_random_linearizable_pass (void)
{
    static s_gen_t g;
    uint64_t steps = 0, most = 0, seed = 0;
    for (int i = 0; i < 400; i++) {
        seed = 1000 + (uint64_t)i;
        s_mix_t mix = s_old_mix;
        mix.procs = 2 + s_below (&seed, 9), mix.keys = 1 + s_below (&seed, 3);
        mix.nops = 10 + s_below (&seed, 300), mix.info_pct = s_below (&seed, 25);
        s_generate (&g, seed, &mix);
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

// The mix with every operation: half the histories report revisions, some of those leave some
// out (writes whose revision the search then only bounds).
static s_mix_t
s_new_mix (uint64_t *seed, int max_ops)
{
    s_mix_t mix = {.new_ops = true};
    mix.procs = 2 + s_below (seed, 9);
    mix.keys = 1 + s_below (seed, 3);
    mix.nops = 10 + s_below (seed, max_ops);
    mix.info_pct = s_below (seed, 25);
    mix.revisions = s_below (seed, 4) != 0;
    mix.unreported_pct = s_below (seed, 2) ? 0 : s_below (seed, 40);
    return mix;
}

static void
test_random_new_ops_pass (void)
{
    static s_gen_t g;
    uint64_t steps = 0, most = 0, seed = 0;
    int cas = 0, deletes = 0;
    for (int i = 0; i < 400; i++) {
        seed = 7000 + (uint64_t)i;
        s_mix_t mix = s_new_mix (&seed, 300);
        mix.lock = i % 8 == 7;
        s_generate (&g, seed, &mix);
        for (int j = 0; j < g.nops; j++) {
            cas += g.ops[j].f == ZKV_HIST_CAS && g.ops[j].outcome == ZKV_HIST_OK;
            deletes += g.ops[j].f == ZKV_HIST_DELETE && g.ops[j].outcome == ZKV_HIST_OK;
        }
        zkv_history_t *h = s_build (&g);
        uint64_t n;
        char name[64];
        snprintf (name, sizeof name, "random_new_%d", i);
        CHECK (s_verdict (h, ZKV_LIN_OK, name, &n) == ZKV_LIN_OK);
        if (i % 10 == 0)
            CHECK (s_round_trip (h));
        steps += n;
        most = n > most ? n : most;
        zkv_history_destroy (&h);
        s_gen_free (&g);
    }
    printf ("     400 histories (%d cas, %d deletes ok), %" PRIu64 " search steps, at most %" PRIu64
            " for one\n",
            cas, deletes, steps, most);
    CHECK (cas > 5000 && deletes > 2000);
}

static void
test_random_mutations_fail (void)
{
    static s_gen_t g;
    int future = 0, stale = 0;
    for (int i = 0; i < 400; i++) {
        for (int kind = 0; kind < 2; kind++) {
            uint64_t seed = 5000 + (uint64_t)i;
            s_mix_t mix = s_old_mix;
            mix.procs = 2 + s_below (&seed, 9), mix.keys = 1 + s_below (&seed, 2);
            mix.nops = 10 + s_below (&seed, 200), mix.info_pct = s_below (&seed, 20);
            s_generate (&g, seed, &mix);
            bool mutated =
                kind == 0 ? s_mutate_future (&g, &seed) : s_mutate_stale (&g, &seed, false);
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

static void
test_random_new_ops_mutations_fail (void)
{
    static s_gen_t g;
    const char *names[] = {"future",         "stale",    "deleted",      "rev_backwards",
                           "rev_two_values", "cas_flip", "second_holder"};
    int caught[7] = {0};
    for (int i = 0; i < 300; i++) {
        for (int kind = 0; kind < 7; kind++) {
            uint64_t seed = 9000 + (uint64_t)i;
            s_mix_t mix = s_new_mix (&seed, 200);
            mix.lock = kind == 6;
            if (kind >= 3 && kind <= 5) { // these need the revisions reported
                mix.revisions = true;
                mix.unreported_pct = 0;
            }
            s_generate (&g, seed, &mix);
            bool mutated = kind == 0   ? s_mutate_future (&g, &seed)
                           : kind == 1 ? s_mutate_stale (&g, &seed, false)
                           : kind == 2 ? s_mutate_stale (&g, &seed, true)
                           : kind == 3 ? s_mutate_rev_backwards (&g, &seed)
                           : kind == 4 ? s_mutate_rev_two_values (&g, &seed)
                           : kind == 5 ? s_mutate_cas_flip (&g, &seed)
                                       : s_mutate_second_holder (&g, &seed);
            if (mutated) {
                zkv_history_t *h = s_build (&g);
                char name[64];
                snprintf (name, sizeof name, "mutated_new_%d_%s", i, names[kind]);
                CHECK (s_verdict (h, ZKV_LIN_ILLEGAL, name, NULL) == ZKV_LIN_ILLEGAL);
                zkv_history_destroy (&h);
                caught[kind]++;
            }
            s_gen_free (&g);
        }
    }
    printf ("     caught:");
    for (int kind = 0; kind < 7; kind++)
        printf (" %d %s", caught[kind], names[kind]);
    printf ("\n");
    for (int kind = 0; kind < 7; kind++)
        CHECK (caught[kind] > 40); // the generator must give each a chance
}

// ---- A reference checker: every order, by the model with concrete revisions ----
//
// Independent of the checker's search and its shortcuts (no dead states, no prunes, no hints,
// no revision bounds): a depth-first search over the orders real time allows, with the
// revision of each write that reported none tried at every value that can matter (from one
// above the last up to one above the largest revision the history names). Exact, and slow:
// for histories of a few operations on one key.

typedef struct {
    const s_gop_t *op[16]; // the key's operations the checker keeps (fail: dropped; info get: too)
    bool closed[16];       // returned ok
    int n;                 // how many
    uint64_t top;          // the largest revision the history names
    uint64_t *seen;        // hashes of the (set, value, revision) tried: they failed
    size_t cap;            // slots of seen (a power of two)
    size_t count;          // slots used
} s_ref_t;

static uint64_t
s_ref_hash (unsigned mask, const char *value, uint64_t rev)
{
    uint64_t h = (1469598103934665603ULL ^ mask) * 1099511628211ULL;
    h = (h ^ rev) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    if (!value)
        h = (h ^ 0xabcdef) * 1099511628211ULL;
    else
        for (const char *p = value; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= h >> 31;
    return h | 1; // 0 marks a free slot
}

// True if the configuration was tried before; else remembers it.
static bool
s_ref_seen (s_ref_t *r, unsigned mask, const char *value, uint64_t rev)
{
    if (r->count * 2 >= r->cap) {
        uint64_t *old = r->seen;
        size_t old_cap = r->cap;
        r->cap = old_cap ? old_cap * 2 : 1024;
        r->seen = calloc (r->cap, sizeof *r->seen);
        for (size_t j = 0; j < old_cap; j++) {
            size_t i = old[j] & (r->cap - 1);
            while (old[j] && r->seen[i])
                i = (i + 1) & (r->cap - 1);
            if (old[j])
                r->seen[i] = old[j];
        }
        free (old);
    }
    uint64_t h = s_ref_hash (mask, value, rev);
    size_t i = h & (r->cap - 1);
    for (; r->seen[i]; i = (i + 1) & (r->cap - 1))
        if (r->seen[i] == h)
            return true;
    r->seen[i] = h;
    r->count++;
    return false;
}

static bool s_ref_dfs (s_ref_t *r, unsigned mask, const char *value, uint64_t rev);

// After a write of value (owned; NULL: delete) by op i, each revision it may have taken.
static bool
s_ref_write (s_ref_t *r, unsigned mask, int i, char *value, bool on_missing, uint64_t rev)
{
    uint64_t w = r->closed[i] ? r->op[i]->rev : 0;
    bool found = false;
    if (w) // reported: above the last; a delete of a missing key may keep it
        found = (on_missing ? w >= rev : w > rev) && s_ref_dfs (r, mask, value, w);
    else
        for (uint64_t x = on_missing ? rev : rev + 1;
             !found && x <= (rev > r->top ? rev : r->top) + 1; x++)
            found = s_ref_dfs (r, mask, value, x);
    free (value);
    return found;
}

// Linearizes op i next, each way it can happen.
static bool
s_ref_step (s_ref_t *r, unsigned mask, int i, const char *v, uint64_t rev)
{
    const s_gop_t *o = r->op[i];
    uint64_t w = r->closed[i] ? o->rev : 0;
    mask |= 1u << i;
    switch (o->f) {
    case ZKV_HIST_GET:
        if (o->read ? !v || strcmp (v, o->read) != 0 : v != NULL)
            return false;
        return (!w || rev == w) && s_ref_dfs (r, mask, v, rev);
    case ZKV_HIST_PUT:
        return s_ref_write (r, mask, i, strdup (o->arg), false, rev);
    case ZKV_HIST_APPEND: {
        char *nv = malloc ((v ? strlen (v) : 0) + strlen (o->arg) + 1);
        strcpy (nv, v ? v : "");
        strcat (nv, o->arg);
        return s_ref_write (r, mask, i, nv, false, rev);
    }
    case ZKV_HIST_DELETE:
        return s_ref_write (r, mask, i, NULL, !v, rev);
    case ZKV_HIST_CAS: {
        bool match = o->by_rev ? (o->expect_rev == 0 ? !v : v && rev == o->expect_rev)
                               : (o->expect ? v && strcmp (v, o->expect) == 0 : !v);
        if (r->closed[i] && o->swapped != -1 && o->swapped != match)
            return false;
        if (match)
            return s_ref_write (r, mask, i, s_dup (o->arg), !o->arg && !v, rev);
        return (!w || (v && rev == w)) && s_ref_dfs (r, mask, v, rev);
    }
    }
    return false;
}

static bool
s_ref_dfs (s_ref_t *r, unsigned mask, const char *value, uint64_t rev)
{
    bool done = true;
    for (int i = 0; i < r->n; i++)
        done &= !r->closed[i] || (mask & (1u << i));
    if (done)
        return true; // open-ended operations may never happen
    if (s_ref_seen (r, mask, value, rev))
        return false;
    for (int i = 0; i < r->n; i++) {
        if (mask & (1u << i))
            continue;
        bool allowed = true; // nothing left that returned before i was called
        for (int j = 0; j < r->n && allowed; j++)
            allowed = (mask & (1u << j)) || !r->closed[j] || r->op[j]->ret >= r->op[i]->call;
        if (allowed && s_ref_step (r, mask, i, value, rev))
            return true;
    }
    return false;
}

// The reference verdict on key k of g (at most 16 operations kept).
static zkv_lin_verdict_t
s_reference (const s_gen_t *g, int key)
{
    s_ref_t r = {.n = 0};
    for (int i = 0; i < g->nops; i++) {
        const s_gop_t *o = &g->ops[i];
        if (o->key != key || o->outcome == ZKV_HIST_FAIL ||
            (o->f == ZKV_HIST_GET && o->outcome != ZKV_HIST_OK))
            continue;
        assert (r.n < 16);
        r.closed[r.n] = o->outcome == ZKV_HIST_OK;
        r.op[r.n++] = o;
        uint64_t named = o->outcome == ZKV_HIST_OK ? o->rev : 0;
        if (o->f == ZKV_HIST_CAS && o->by_rev && o->expect_rev > named)
            named = o->expect_rev;
        r.top = named > r.top ? named : r.top;
    }
    bool ok = s_ref_dfs (&r, 0, NULL, 0);
    free (r.seen);
    return ok ? ZKV_LIN_OK : ZKV_LIN_ILLEGAL;
}

// A random change to one operation's result: what a buggy store might answer. False if the
// tries found nothing to change.
static bool
s_mutate_any (s_gen_t *g, uint64_t *seed)
{
    for (int tries = 0; tries < 100; tries++) {
        s_gop_t *o = &g->ops[s_below (seed, g->nops)];
        const s_gop_t *other = &g->ops[s_below (seed, g->nops)];
        if (o->outcome != ZKV_HIST_OK)
            continue;
        switch (s_below (seed, 4)) {
        case 0: // another value read
            if (o->f != ZKV_HIST_GET || other == o)
                continue;
            free (o->read);
            o->read = other->f == ZKV_HIST_GET ? s_dup (other->read) : s_dup (other->arg);
            if (!o->read)
                o->rev = 0;
            return true;
        case 1: // another revision
            if (!o->rev || !other->rev || other->rev == o->rev)
                continue;
            o->rev = other->rev;
            return true;
        case 2: // the other outcome
            if (o->f != ZKV_HIST_CAS || o->swapped == -1)
                continue;
            o->swapped = !o->swapped;
            return true;
        default: // a revision one off
            if (o->rev < 2)
                continue;
            o->rev += s_below (seed, 2) ? 1 : -1;
            return true;
        }
    }
    return false;
}

// Small histories, as generated or with one result changed, checked by both: the checker must
// never reject what the reference accepts, and must reject what it rejects, except where its
// revision bounds are weaker than concrete revisions (a cas on a revision after a write that
// reported none: counted).
static void
test_random_small_agree_with_reference (void)
{
    static s_gen_t g;
    int agree = 0, illegal = 0, weaker = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t seed = 20000 + (uint64_t)i;
        s_mix_t mix = {.new_ops = true, .keys = 1};
        mix.procs = 2 + s_below (&seed, 3);
        mix.nops = 3 + s_below (&seed, 10);
        mix.info_pct = s_below (&seed, 40);
        mix.revisions = s_below (&seed, 4) != 0;
        mix.unreported_pct = s_below (&seed, 3) ? 0 : s_below (&seed, 60);
        mix.lock = s_below (&seed, 10) == 0;
        s_generate (&g, seed, &mix);
        int changes = s_below (&seed, 4) ? 1 + s_below (&seed, 2) : 0;
        for (int c = 0; c < changes; c++)
            s_mutate_any (&g, &seed);
        zkv_lin_verdict_t want = s_reference (&g, 0);
        zkv_history_t *h = s_build (&g);
        zkv_lin_result_t res;
        CHECK (zkv_lincheck (h, NULL, &res) == 0);
        zkv_lin_verdict_t got = res.verdict;
        bool cas_rev = false, unreported = false;
        for (int j = 0; j < g.nops; j++) {
            const s_gop_t *o = &g.ops[j];
            cas_rev |= o->f == ZKV_HIST_CAS && o->by_rev;
            unreported |= o->f != ZKV_HIST_GET && o->outcome != ZKV_HIST_FAIL && !o->rev;
        }
        bool excused = want == ZKV_LIN_ILLEGAL && got == ZKV_LIN_OK && cas_rev && unreported;
        if (got != want && !excused) {
            char name[64];
            snprintf (name, sizeof name, "reference_%d", i);
            s_verdict (h, want, name, NULL);
        }
        zkv_lin_result_clear (&res);
        zkv_history_destroy (&h);
        s_gen_free (&g);
        CHECK (got == want || excused);
        agree += got == want;
        illegal += want == ZKV_LIN_ILLEGAL;
        weaker += excused;
    }
    printf ("     10000 small histories: %d verdicts agree (%d not linearizable), %d accepted "
            "by revision bounds only\n",
            agree, illegal, weaker);
    CHECK (illegal > 3000 && agree > 9900);
}

// Thousands of operations on one key by ten processes check well inside the default budget.
static void
test_big_history_is_fast (void)
{
    static s_gen_t g;
    uint64_t seed = 77;
    s_mix_t mix = s_old_mix;
    mix.procs = 10, mix.keys = 1, mix.nops = 2000, mix.info_pct = 6;
    s_generate (&g, seed, &mix);
    zkv_history_t *h = s_build (&g);
    uint64_t steps;
    CHECK (s_verdict (h, ZKV_LIN_OK, "big", &steps) == ZKV_LIN_OK);
    printf ("     %zu events on one key by 10 processes: %" PRIu64 " steps\n", g.n, steps);
    CHECK (steps < 1000000);
    zkv_history_destroy (&h);
    s_gen_free (&g);
    // The same with every operation and revisions.
    mix = (s_mix_t){
        .procs = 10, .keys = 1, .nops = 2000, .info_pct = 6, .new_ops = true, .revisions = true};
    s_generate (&g, seed, &mix);
    h = s_build (&g);
    CHECK (s_verdict (h, ZKV_LIN_OK, "big_new", &steps) == ZKV_LIN_OK);
    printf ("     the same with delete, cas and revisions: %" PRIu64 " steps\n", steps);
    CHECK (steps < 1000000);
    zkv_history_destroy (&h);
    s_gen_free (&g);
}

ZKV_TEST_MAIN (
    TEST (test_data_linearizable) TEST (test_data_not_linearizable)
        TEST (test_data_unknown_with_tiny_budget) TEST (test_data_parse_errors)
            TEST (test_parse_messages) TEST (test_parse_hostile) TEST (test_builder_rules)
                TEST (test_write_exact_format_and_round_trip)
                    TEST (test_explanation_names_the_key_and_the_read) TEST (test_builder_new_ops)
                        TEST (test_write_new_members) TEST (test_explanations_of_new_ops)
                            TEST (test_empty_may_be_missing) TEST (test_random_linearizable_pass)
                                TEST (test_random_new_ops_pass) TEST (test_random_mutations_fail)
                                    TEST (test_random_new_ops_mutations_fail)
                                        TEST (test_random_small_agree_with_reference)
                                            TEST (test_big_history_is_fast))
