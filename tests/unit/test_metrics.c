// The node's figures as Prometheus metrics (cluster/zkv_metrics.h, zkv_prom.h, zkv_stats.h):
// the text parses as exposition format 0.0.4 (a strict reader below, which must refuse broken
// texts), follows the naming conventions, and says what the figures say; the zkv.node.stats
// event body carries the same figures through the codec.
#include "zkv_test.h"

#include "zkv_metrics.h"
#include "zkv_raft.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>

// The reader's messages quote lines; a long one is cut, which is all a message needs.
#pragma GCC diagnostic ignored "-Wformat-truncation"

// ---------------------------------------------------------------------------------------------
// A strict reader of the text exposition format 0.0.4
// (prometheus.io/docs/instrumenting/exposition_formats): comments, HELP and TYPE lines, samples
// name{label="value",...} value, and the rules a scraper relies on.

#define S_MAX_FAMILIES 256
#define S_MAX_SERIES   8192

typedef struct {
    char name[128]; // the family's name
    char type[16];  // its TYPE ("" until given)
    bool help;      // a HELP line was seen
    bool sampled;   // a sample was seen
    bool closed;    // another family's samples came after its own
} s_family_t;

typedef struct {
    s_family_t families[S_MAX_FAMILIES];
    size_t n_families;
    char *series[S_MAX_SERIES]; // "name{sorted labels}" of every sample seen
    size_t n_series;
    int current; // family of the previous sample, -1 none
    // The histogram being read: its series without le, last bucket bound and count.
    char hist_key[512];
    double hist_le;
    double hist_count;
    bool hist_inf;
} s_reader_t;

static bool
s_name_ok (const char *s, size_t n, bool label)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = isalpha ((unsigned char)c) || c == '_' || (!label && c == ':') ||
                  (i > 0 && isdigit ((unsigned char)c));
        if (!ok)
            return false;
    }
    return true;
}

static int
s_family (s_reader_t *r, const char *name, bool create)
{
    for (size_t i = 0; i < r->n_families; i++)
        if (strcmp (r->families[i].name, name) == 0)
            return (int)i;
    if (!create || r->n_families == S_MAX_FAMILIES || strlen (name) >= 128)
        return -1;
    s_family_t *f = &r->families[r->n_families];
    memset (f, 0, sizeof *f);
    snprintf (f->name, sizeof f->name, "%s", name);
    return (int)r->n_families++;
}

static bool
s_value_ok (const char *s, double *out)
{
    if (strcmp (s, "+Inf") == 0 || strcmp (s, "Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp (s, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp (s, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    char *end = NULL;
    *out = strtod (s, &end);
    return end && end != s && *end == 0 && isfinite (*out);
}

static int
s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

#define S_FAIL(...)                                                                                \
    do {                                                                                           \
        snprintf (why, whylen, __VA_ARGS__);                                                       \
        return -1;                                                                                 \
    } while (0)

// One sample line.
static int
s_sample (s_reader_t *r, const char *line, char *why, size_t whylen)
{
    const char *p = line;
    while (*p && *p != '{' && *p != ' ')
        p++;
    char name[128];
    size_t n = (size_t)(p - line);
    if (!s_name_ok (line, n, false) || n >= sizeof name)
        S_FAIL ("bad metric name in '%s'", line);
    memcpy (name, line, n);
    name[n] = 0;
    // Labels: name="value" pairs, escapes \\ \" \n only; sorted to compare series.
    char *labels[32];
    size_t n_labels = 0;
    char le[64] = "";
    if (*p == '{') {
        p++;
        while (*p != '}') {
            const char *k = p;
            while (*p && *p != '=')
                p++;
            if (!*p || !s_name_ok (k, (size_t)(p - k), true) || p[1] != '"')
                S_FAIL ("bad label in '%s'", line);
            size_t klen = (size_t)(p - k);
            p += 2;
            char value[256];
            size_t v = 0;
            while (*p && *p != '"') {
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        S_FAIL ("bad escape in '%s'", line);
                }
                if (!*p || v + 1 >= sizeof value)
                    S_FAIL ("label value too long or unterminated in '%s'", line);
                value[v++] = *p++;
            }
            if (*p != '"')
                S_FAIL ("unterminated label value in '%s'", line);
            value[v] = 0;
            p++;
            if (n_labels == 32)
                S_FAIL ("too many labels in '%s'", line);
            labels[n_labels] = malloc (klen + v + 2);
            assert (labels[n_labels]);
            snprintf (labels[n_labels], klen + v + 2, "%.*s=%s", (int)klen, k, value);
            for (size_t i = 0; i < n_labels; i++)
                if (strncmp (labels[i], labels[n_labels], klen + 1) == 0) {
                    for (size_t j = 0; j <= n_labels; j++)
                        free (labels[j]);
                    S_FAIL ("label given twice in '%s'", line);
                }
            if (klen == 2 && strncmp (k, "le", 2) == 0)
                snprintf (le, sizeof le, "%s", value);
            n_labels++;
            if (*p == ',')
                p++;
            else if (*p != '}') {
                for (size_t j = 0; j < n_labels; j++)
                    free (labels[j]);
                S_FAIL ("expected , or } in '%s'", line);
            }
        }
        p++;
    }
    qsort (labels, n_labels, sizeof labels[0], s_cmp_str);
    char key[512], key_no_le[512];
    size_t at = (size_t)snprintf (key, sizeof key, "%s{", name), at2 = 0;
    for (size_t i = 0; i < n_labels; i++) {
        at += (size_t)snprintf (key + at, sizeof key - at, "%s,", labels[i]);
        if (strncmp (labels[i], "le=", 3) != 0)
            at2 += (size_t)snprintf (key_no_le + at2, sizeof key_no_le - at2, "%s,", labels[i]);
        free (labels[i]);
    }
    key_no_le[at2] = 0;
    snprintf (key + at, sizeof key - at, "}");
    if (*p != ' ')
        S_FAIL ("no value in '%s'", line);
    p++;
    char value_text[64];
    const char *space = strchr (p, ' '); // an optional timestamp follows
    size_t vlen = space ? (size_t)(space - p) : strlen (p);
    if (vlen >= sizeof value_text)
        S_FAIL ("bad value in '%s'", line);
    memcpy (value_text, p, vlen);
    value_text[vlen] = 0;
    double value;
    if (!s_value_ok (value_text, &value))
        S_FAIL ("bad value '%s' in '%s'", value_text, line);
    if (space) {
        char *end = NULL;
        strtoll (space + 1, &end, 10);
        if (!end || *end || end == space + 1)
            S_FAIL ("bad timestamp in '%s'", line);
    }
    // The family: the name itself, or a histogram's _bucket, _sum, _count.
    int f = s_family (r, name, false);
    const char *suffix = "";
    if (f < 0) {
        static const char *suffixes[] = {"_bucket", "_sum", "_count"};
        for (int i = 0; i < 3 && f < 0; i++) {
            size_t sl = strlen (suffixes[i]);
            if (n > sl && strcmp (name + n - sl, suffixes[i]) == 0) {
                char base[128];
                snprintf (base, sizeof base, "%.*s", (int)(n - sl), name);
                f = s_family (r, base, false);
                if (f >= 0 && strcmp (r->families[f].type, "histogram") != 0)
                    f = -1;
                suffix = suffixes[i];
            }
        }
    }
    if (f < 0 || !r->families[f].type[0])
        S_FAIL ("sample '%s' of a family without a TYPE line before it", name);
    s_family_t *fam = &r->families[f];
    if (fam->closed)
        S_FAIL ("the samples of %s are not together", fam->name);
    if (r->current >= 0 && r->current != f)
        r->families[r->current].closed = true;
    r->current = f;
    fam->sampled = true;
    for (size_t i = 0; i < r->n_series; i++)
        if (strcmp (r->series[i], key) == 0)
            S_FAIL ("series %s given twice", key);
    if (r->n_series == S_MAX_SERIES)
        S_FAIL ("too many series");
    r->series[r->n_series] = strdup (key);
    assert (r->series[r->n_series]);
    r->n_series++;
    if (strcmp (fam->type, "counter") == 0 && value < 0)
        S_FAIL ("counter %s is negative", key);
    // Histograms: cumulative buckets in order of le, +Inf last and equal to _count.
    if (strcmp (suffix, "_bucket") == 0) {
        double bound;
        if (!le[0] || !s_value_ok (le, &bound))
            S_FAIL ("bucket without a le bound: %s", key);
        if (strcmp (r->hist_key, key_no_le) != 0) {
            if (r->hist_key[0] && !r->hist_inf)
                S_FAIL ("histogram %s has no +Inf bucket", r->hist_key);
            snprintf (r->hist_key, sizeof r->hist_key, "%s", key_no_le);
            r->hist_le = -INFINITY;
            r->hist_count = 0;
            r->hist_inf = false;
        }
        if (bound <= r->hist_le || value < r->hist_count)
            S_FAIL ("buckets of %s not cumulative in le order at %s", fam->name, key);
        r->hist_le = bound;
        r->hist_count = value;
        r->hist_inf = isinf (bound);
    } else if (strcmp (suffix, "_count") == 0) {
        if (strcmp (r->hist_key, key_no_le) != 0 || !r->hist_inf || value != r->hist_count)
            S_FAIL ("%s does not match its +Inf bucket", key);
    }
    return 0;
}

// 0 when text is valid exposition format following zkv's conventions; else -1 and why.
static int
s_validate (const char *text, char *why, size_t whylen)
{
    s_reader_t *r = calloc (1, sizeof *r);
    assert (r);
    r->current = -1;
    int rc = 0;
    size_t len = strlen (text);
    if (len == 0 || text[len - 1] != '\n') {
        snprintf (why, whylen, "the text does not end with a newline");
        rc = -1;
    }
    const char *line = text;
    char buf[2048];
    while (rc == 0 && *line) {
        const char *nl = strchr (line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen (line);
        if (n >= sizeof buf) {
            snprintf (why, whylen, "a line of %zu bytes", n);
            rc = -1;
            break;
        }
        memcpy (buf, line, n);
        buf[n] = 0;
        line += n + (nl ? 1 : 0);
        if (n == 0)
            continue;
        char kind[8], name[256], rest[1024];
        if (buf[0] == '#') {
            int got = sscanf (buf, "# %7s %255s %1023[^\n]", kind, name, rest);
            if (got < 2 || (strcmp (kind, "HELP") != 0 && strcmp (kind, "TYPE") != 0))
                continue; // a plain comment
            if (!s_name_ok (name, strlen (name), false)) {
                snprintf (why, whylen, "bad name in '%s'", buf);
                rc = -1;
                break;
            }
            int f = s_family (r, name, true);
            if (f < 0) {
                snprintf (why, whylen, "too many families");
                rc = -1;
                break;
            }
            s_family_t *fam = &r->families[f];
            if (strcmp (kind, "HELP") == 0) {
                if (fam->help || got < 3) {
                    snprintf (why, whylen, "HELP of %s twice, or empty", name);
                    rc = -1;
                }
                fam->help = true;
            } else {
                static const char *types[] = {"counter", "gauge", "histogram", "summary",
                                              "untyped"};
                bool known = false;
                for (int i = 0; i < 5; i++)
                    known |= got == 3 && strcmp (rest, types[i]) == 0;
                if (!known || fam->type[0] || fam->sampled) {
                    snprintf (why, whylen, "bad, repeated or late TYPE line '%s'", buf);
                    rc = -1;
                }
                snprintf (fam->type, sizeof fam->type, "%s", got == 3 ? rest : "");
            }
            continue;
        }
        rc = s_sample (r, buf, why, whylen);
    }
    if (rc == 0 && r->hist_key[0] && !r->hist_inf) {
        snprintf (why, whylen, "histogram %s has no +Inf bucket", r->hist_key);
        rc = -1;
    }
    // zkv's conventions: the zkv_ prefix, a HELP for every family, _total counters only.
    for (size_t i = 0; rc == 0 && i < r->n_families; i++) {
        const s_family_t *f = &r->families[i];
        size_t n = strlen (f->name);
        bool total = n > 6 && strcmp (f->name + n - 6, "_total") == 0;
        if (strncmp (f->name, "zkv_", 4) != 0 || !f->help ||
            (strcmp (f->type, "counter") == 0) != total) {
            snprintf (why, whylen,
                      "%s breaks the naming conventions (zkv_ prefix, HELP, _total "
                      "for counters only)",
                      f->name);
            rc = -1;
        }
    }
    for (size_t i = 0; i < r->n_series; i++)
        free (r->series[i]);
    free (r);
    return rc;
}

// ---------------------------------------------------------------------------------------------

// The reader refuses what a scraper would: the reader itself can fail.
static void
test_reader_refuses (void)
{
    char why[512];
    const char *good =
        "# HELP zkv_x_total X.\n# TYPE zkv_x_total counter\nzkv_x_total{a=\"1\"} 3\n";
    CHECK (s_validate (good, why, sizeof why) == 0);
    const char *bad[] = {
        "# HELP zkv_x_total X.\n# TYPE zkv_x_total counter\nzkv_x_total 3",   // no final newline
        "zkv_x 3\n",                                                          // no TYPE
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\n# TYPE zkv_x gauge\nzkv_x 1\n", // TYPE twice
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x{a=\"1\"} 1\nzkv_x{a=\"1\"} 2\n", // twice
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x{1a=\"1\"} 1\n",                  // label name
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x{a=\"\\q\"} 1\n",                 // escape
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x{a=\"1\",a=\"2\"} 1\n",           // label twice
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x twelve\n",                       // value
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x 1\n# HELP zkv_y Y.\n# TYPE zkv_y gauge\n"
        "zkv_y 1\nzkv_x{b=\"2\"} 1\n",                                         // not together
        "# HELP zkv_x X.\n# TYPE zkv_x gauge\nzkv_x 1\n# TYPE zkv_x gauge\n",  // late TYPE
        "# HELP zkv_x X.\n# TYPE zkv_x counter\nzkv_x 1\n",                    // no _total
        "# HELP zkv_x_total X.\n# TYPE zkv_x_total gauge\nzkv_x_total 1\n",    // _total gauge
        "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n",              // no zkv_
        "# TYPE zkv_x gauge\nzkv_x 1\n",                                       // no HELP
        "# HELP zkv_x_total X.\n# TYPE zkv_x_total counter\nzkv_x_total -1\n", // negative
        "# HELP zkv_h H.\n# TYPE zkv_h histogram\nzkv_h_bucket{le=\"1\"} 2\n"
        "zkv_h_bucket{le=\"2\"} 1\nzkv_h_bucket{le=\"+Inf\"} 2\nzkv_h_sum 1\nzkv_h_count 2\n",
        "# HELP zkv_h H.\n# TYPE zkv_h histogram\nzkv_h_bucket{le=\"1\"} 2\nzkv_h_sum 1\n"
        "zkv_h_count 2\n", // no +Inf
        "# HELP zkv_h H.\n# TYPE zkv_h histogram\nzkv_h_bucket{le=\"+Inf\"} 2\nzkv_h_sum 1\n"
        "zkv_h_count 3\n",                                           // count differs
        "# HELP zkv_h H.\n# TYPE zkv_h histogram\nzkv_h_bucket 2\n", // no le
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        if (s_validate (bad[i], why, sizeof why) == 0)
            fprintf (stderr, "accepted bad text %zu:\n%s\n", i, bad[i]);
        CHECK (s_validate (bad[i], why, sizeof why) != 0);
        CHECK (why[0]);
    }
}

static void
test_prom_writer (void)
{
    zkv_prom_labels_t l = {0};
    zkv_prom_label (&l, "a", "x\"y\\z\nw");
    zkv_prom_label_u64 (&l, "n", 18446744073709551615ull);
    CHECK (strcmp (l.text, "a=\"x\\\"y\\\\z\\nw\",n=\"18446744073709551615\"") == 0);
    // A label that does not fit is left out whole.
    char long_value[500];
    memset (long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    size_t before = l.len;
    zkv_prom_label (&l, "big", long_value);
    CHECK_EQ_U64 (l.len, before);
    zkv_prom_t p = {0};
    zkv_prom_family (&p, "zkv_t", "gauge", "T.");
    zkv_prom_u64 (&p, "zkv_t", &l, 0);
    zkv_prom_u64 (&p, "zkv_t", NULL, 42);
    zkv_prom_micros (&p, "zkv_s", NULL, 1250);
    zkv_prom_micros (&p, "zkv_s", NULL, 3000000);
    CHECK (strcmp (p.data, "# HELP zkv_t T.\n# TYPE zkv_t gauge\n"
                           "zkv_t{a=\"x\\\"y\\\\z\\nw\",n=\"18446744073709551615\"} 0\n"
                           "zkv_t 42\nzkv_s 0.001250\nzkv_s 3.000000\n") == 0);
    CHECK_EQ_U64 (p.len, strlen (p.data));
    zkv_prom_free (&p);
    CHECK (p.data == NULL);
    char digits[24];
    CHECK_EQ_U64 (zkv_prom_utoa (0, digits), 1);
    CHECK (strcmp (digits, "0") == 0);
}

static void
test_kinds_and_outcomes (void)
{
    CHECK_EQ_U64 (zkv_stats_kind_of (ZKV_OP_GET), ZKV_STATS_GET);
    CHECK_EQ_U64 (zkv_stats_kind_of (ZKV_OP_PUT), ZKV_STATS_PUT);
    CHECK_EQ_U64 (zkv_stats_kind_of (ZKV_OP_APPEND), ZKV_STATS_APPEND);
    CHECK_EQ_U64 (zkv_stats_kind_of (ZKV_OP_QUERY), ZKV_STATS_OTHER);
    CHECK_EQ_U64 (zkv_stats_kind_of (999), ZKV_STATS_OTHER);
    CHECK_EQ_U64 (zkv_stats_outcome_of (0), ZKV_STATS_OK);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ENOTFOUND_VALUE), ZKV_STATS_NOT_FOUND);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ENOTLEADER_VALUE), ZKV_STATS_REDIRECT);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_EWRONGGROUP_VALUE), ZKV_STATS_REDIRECT);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_EBUSY_VALUE), ZKV_STATS_BUSY);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ETIMEOUT_VALUE), ZKV_STATS_TIMEOUT);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ETOOBIG_VALUE), ZKV_STATS_INVALID);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_EDENIED_VALUE), ZKV_STATS_INVALID);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ESESSION_VALUE), ZKV_STATS_SESSION);
    CHECK_EQ_U64 (zkv_stats_outcome_of (ZKV_ENOQUORUM_VALUE), ZKV_STATS_ERROR);
    CHECK_EQ_U64 (zkv_stats_outcome_of (UINT64_MAX), ZKV_STATS_ERROR); // a peer's nonsense
    CHECK (strcmp (zkv_stats_outcome_name (ZKV_STATS_SESSION), "session_expired") == 0);
    CHECK (strcmp (zkv_stats_kind_name (ZKV_STATS_APPEND), "append") == 0);
}

static void
test_histogram (void)
{
    zkv_stats_hist_t h = {0};
    uint64_t samples[] = {0, 100, 101, 250, 999999, 1000000, 10000000, 10000001, UINT32_MAX};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        zkv_stats_hist_observe (&h, samples[i]);
    CHECK_EQ_U64 (h.count, 9);
    CHECK_EQ_U64 (h.buckets[0], 2);  // <= 100 us: a bound is inclusive
    CHECK_EQ_U64 (h.buckets[1], 2);  // (100, 250]
    CHECK_EQ_U64 (h.buckets[12], 2); // (0.5 s, 1 s]
    CHECK_EQ_U64 (h.buckets[15], 1); // (5 s, 10 s]
    CHECK_EQ_U64 (h.buckets[16], 2); // past 10 s
    for (int b = 0; b < ZKV_STATS_BUCKETS; b++) {
        double bound = strtod (zkv_stats_bounds_text[b], NULL);
        CHECK (fabs (bound * 1e6 - (double)zkv_stats_bounds_us[b]) < 0.5);
        CHECK (b == 0 || zkv_stats_bounds_us[b] > zkv_stats_bounds_us[b - 1]);
    }
}

// Two groups: 0 followed, 1 led with two followers (one 6 entries behind); requests of every
// kind with latencies.
static void
s_figures (zkv_node_stats_t *s, zkv_group_stats_t groups[2])
{
    memset (groups, 0, 2 * sizeof groups[0]);
    groups[0] = (zkv_group_stats_t){.group = 0,
                                    .role = ZKV_ROLE_FOLLOWER,
                                    .term = 3,
                                    .leader = 2,
                                    .commit = 7,
                                    .applied = 7,
                                    .last_index = 7,
                                    .elections = 1};
    groups[1] = (zkv_group_stats_t){.group = 1,
                                    .role = ZKV_ROLE_LEADER,
                                    .term = 5,
                                    .leader = 1,
                                    .commit = 40,
                                    .applied = 39,
                                    .last_index = 41,
                                    .snapshot_index = 20,
                                    .log_entries = 21,
                                    .log_bytes = 4096,
                                    .snapshots_taken = 2,
                                    .snapshots_installed = 1,
                                    .snapshot_bytes = 123456,
                                    .elections = 4,
                                    .elections_won = 3,
                                    .config = 9,
                                    .sessions = 12,
                                    .n_followers = 2,
                                    .follower_ids = {2, 3},
                                    .follower_match = {41, 35}};
    memset (s, 0, sizeof *s);
    s->node = 1;
    s->version = "1.2.3";
    s->uptime_ms = 61500;
    s->db_bytes = 1 << 20;
    s->n_groups = 2;
    s->groups = groups;
    s->front.requests[ZKV_STATS_GET][ZKV_STATS_OK] = 5;
    s->front.requests[ZKV_STATS_GET][ZKV_STATS_NOT_FOUND] = 1;
    s->front.requests[ZKV_STATS_PUT][ZKV_STATS_OK] = 3;
    s->front.requests[ZKV_STATS_PUT][ZKV_STATS_TIMEOUT] = 2;
    s->front.requests[ZKV_STATS_OTHER][ZKV_STATS_REDIRECT] = 4;
    for (uint64_t us = 50; us < 20000000; us *= 3)
        zkv_stats_hist_observe (&s->front.latency[ZKV_STATS_GET], us);
    zkv_stats_hist_observe (&s->front.latency[ZKV_STATS_PUT], 1500);
    s->front.forwarded = 8;
    s->front.bytes_in = 1000;
    s->front.bytes_out = 2000;
    s->http_on = true;
    s->http = (zkv_http_stats_t){.ok = 3, .not_found = 1, .open = 1};
}

static bool
s_has_line (const char *text, const char *line)
{
    size_t n = strlen (line);
    for (const char *p = strstr (text, line); p; p = strstr (p + 1, line))
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void
test_render (void)
{
    zkv_node_stats_t s;
    zkv_group_stats_t groups[2];
    s_figures (&s, groups);
    zkv_prom_t p = {0};
    zkv_metrics_render (&s, &p);
    char why[512] = "";
    int rc = s_validate (p.data, why, sizeof why);
    if (rc)
        fprintf (stderr, "%s\n", why);
    CHECK (rc == 0);
    const char *lines[] = {
        "zkv_node_info{node=\"1\",version=\"1.2.3\"} 1",
        "zkv_uptime_seconds 61.500000",
        "zkv_db_size_bytes 1048576",
        "zkv_requests_total{kind=\"get\",outcome=\"ok\"} 5",
        "zkv_requests_total{kind=\"get\",outcome=\"not_found\"} 1",
        "zkv_requests_total{kind=\"put\",outcome=\"timeout\"} 2",
        "zkv_requests_total{kind=\"append\",outcome=\"ok\"} 0",
        "zkv_requests_total{kind=\"other\",outcome=\"redirect\"} 4",
        "zkv_request_duration_seconds_bucket{kind=\"put\",le=\"0.001\"} 0",
        "zkv_request_duration_seconds_bucket{kind=\"put\",le=\"0.0025\"} 1",
        "zkv_request_duration_seconds_bucket{kind=\"put\",le=\"+Inf\"} 1",
        "zkv_request_duration_seconds_sum{kind=\"put\"} 0.001500",
        "zkv_request_duration_seconds_count{kind=\"get\"} 12",
        "zkv_requests_forwarded_total 8",
        "zkv_client_received_bytes_total 1000",
        "zkv_client_sent_bytes_total 2000",
        "zkv_group_role{group=\"1\",role=\"leader\"} 1",
        "zkv_group_role{group=\"1\",role=\"follower\"} 0",
        "zkv_group_role{group=\"0\",role=\"follower\"} 1",
        "zkv_group_role{group=\"0\",role=\"leader\"} 0",
        "zkv_group_term{group=\"1\"} 5",
        "zkv_group_leader{group=\"0\"} 2",
        "zkv_group_commit_index{group=\"1\"} 40",
        "zkv_group_applied_index{group=\"1\"} 39",
        "zkv_group_log_entries{group=\"1\"} 21",
        "zkv_group_log_bytes{group=\"1\"} 4096",
        "zkv_group_snapshots_total{group=\"1\",how=\"taken\"} 2",
        "zkv_group_snapshots_total{group=\"1\",how=\"installed\"} 1",
        "zkv_group_snapshot_bytes{group=\"1\"} 123456",
        "zkv_group_elections_total{group=\"1\"} 4",
        "zkv_group_elections_won_total{group=\"1\"} 3",
        "zkv_group_config{group=\"1\"} 9",
        "zkv_group_sessions{group=\"1\"} 12",
        "zkv_group_follower_match_index{group=\"1\",follower=\"3\"} 35",
        "zkv_group_follower_lag_entries{group=\"1\",follower=\"2\"} 0",
        "zkv_group_follower_lag_entries{group=\"1\",follower=\"3\"} 6",
        "zkv_http_requests_total{code=\"2xx\"} 3",
        "zkv_http_connections 1",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!s_has_line (p.data, lines[i]))
            fprintf (stderr, "missing: %s\n", lines[i]);
        CHECK (s_has_line (p.data, lines[i]));
    }
    // Followers are listed by their leader only.
    CHECK (!strstr (p.data, "zkv_group_follower_lag_entries{group=\"0\""));
    // A state that is missing: applied 0 and the flag, not 2^64-1.
    groups[0].applied = UINT64_MAX;
    s.http_on = false;
    zkv_prom_t q = {0};
    zkv_metrics_render (&s, &q);
    CHECK (s_validate (q.data, why, sizeof why) == 0);
    CHECK (s_has_line (q.data, "zkv_group_applied_index{group=\"0\"} 0"));
    CHECK (s_has_line (q.data, "zkv_group_state_missing{group=\"0\"} 1"));
    CHECK (s_has_line (q.data, "zkv_group_state_missing{group=\"1\"} 0"));
    CHECK (!strstr (q.data, "zkv_http_"));
    // The same figures, the same text.
    groups[0].applied = 7;
    s.http_on = true;
    zkv_prom_t again = {0};
    zkv_metrics_render (&s, &again);
    CHECK (strcmp (again.data, p.data) == 0);
    // A node with no group and no requests is still valid (families without samples).
    zkv_node_stats_t empty = {.node = 7, .version = "x\"y"};
    zkv_prom_t e = {0};
    zkv_metrics_render (&empty, &e);
    rc = s_validate (e.data, why, sizeof why);
    if (rc)
        fprintf (stderr, "%s\n", why);
    CHECK (rc == 0);
    CHECK (s_has_line (e.data, "zkv_node_info{node=\"7\",version=\"x\\\"y\"} 1"));
    zkv_prom_free (&p);
    zkv_prom_free (&q);
    zkv_prom_free (&again);
    zkv_prom_free (&e);
}

// The zkv.node.stats body carries the figures, through the codec.
static void
test_stats_event (void)
{
    zkv_node_stats_t s;
    zkv_group_stats_t groups[2];
    s_figures (&s, groups);
    zkv_msg_t ev;
    zkv_stats_event (&s, 17, 1700000000000, 500, &ev);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK (zkv_msg_encode (&ev, &buf, &len) == 0);
    zkv_msg_t out;
    CHECK (zkv_msg_decode (buf, len, &out) == 0);
    free (buf);
    zkv_msg_free (&ev);
    CHECK_EQ_U64 (out.type, ZKV_MSG_EVENT_STATS);
    const zkv_event_stats_t *e = &out.u.event_stats;
    CHECK_EQ_U64 (e->node, 1);
    CHECK_EQ_U64 (e->seq, 17);
    CHECK_EQ_U64 (e->time_ms, 1700000000000);
    CHECK_EQ_U64 (e->interval_ms, 500);
    CHECK_EQ_U64 (e->uptime_ms, 61500);
    CHECK (e->version.len == 5 && memcmp (e->version.data, "1.2.3", 5) == 0);
    CHECK_EQ_U64 (e->groups.count, 2);
    CHECK_EQ_U64 (e->groups.items[1], 1);
    CHECK_EQ_U64 (e->roles.items[0], ZKV_ROLE_FOLLOWER);
    CHECK_EQ_U64 (e->roles.items[1], ZKV_ROLE_LEADER);
    CHECK_EQ_U64 (e->terms.items[1], 5);
    CHECK_EQ_U64 (e->leaders.items[0], 2);
    CHECK_EQ_U64 (e->commits.items[1], 40);
    CHECK_EQ_U64 (e->applieds.items[1], 39);
    CHECK_EQ_U64 (e->last_indexes.items[1], 41);
    CHECK_EQ_U64 (e->follower_counts.count, 2);
    CHECK_EQ_U64 (e->follower_counts.items[0], 0);
    CHECK_EQ_U64 (e->follower_counts.items[1], 2);
    CHECK_EQ_U64 (e->follower_ids.count, 2);
    CHECK_EQ_U64 (e->follower_ids.items[1], 3);
    CHECK_EQ_U64 (e->follower_lags.items[0], 0);
    CHECK_EQ_U64 (e->follower_lags.items[1], 6);
    CHECK_EQ_U64 (e->requests.count, ZKV_STATS_KINDS);
    CHECK_EQ_U64 (e->requests.items[ZKV_STATS_GET], 6);
    CHECK_EQ_U64 (e->requests_ok.items[ZKV_STATS_GET], 6); // not found is done too
    CHECK_EQ_U64 (e->requests.items[ZKV_STATS_PUT], 5);
    CHECK_EQ_U64 (e->requests_ok.items[ZKV_STATS_PUT], 3);
    CHECK_EQ_U64 (e->requests.items[ZKV_STATS_OTHER], 4);
    CHECK_EQ_U64 (e->requests_ok.items[ZKV_STATS_OTHER], 0);
    CHECK_EQ_U64 (e->forwarded, 8);
    CHECK_EQ_U64 (e->db_bytes, 1 << 20);
    zkv_msg_free (&out);
}

ZKV_TEST_MAIN (TEST (test_reader_refuses) TEST (test_prom_writer) TEST (test_kinds_and_outcomes)
                   TEST (test_histogram) TEST (test_render) TEST (test_stats_event))
