// Reads a client history: a small JSON Lines reader for exactly the schema of docs/history.md.
//
// Every byte is hostile: each line must be one flat object with the six members process,
// type, f, key, value and time, and optionally expect, expect_revision, revision and swapped
// (each once, nothing else); strings are checked UTF-8 with JSON escapes (\" \\ \/ \b \f \n \r
// \t \uXXXX and surrogate pairs), numbers are integers that fit int64 (revisions: uint64).
// Which member fits which operation is zkv_history_add's rule (zkv_history.c). Any error stops
// the parse with "line N: what is wrong"; nothing is asserted.
#include "zkv_history.h"
#include "zkv_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_NULL, S_STRING, S_INT, S_BOOL } s_kind_t;

typedef struct {
    s_kind_t kind;      // what the member held
    zkv_hist_str_t str; // S_STRING: decoded bytes (in the line's scratch buffer)
    bool neg;           // S_INT: it had a minus sign
    uint64_t mag;       // S_INT: its magnitude
    bool truth;         // S_BOOL
    size_t col;         // where it starts, for messages
} s_value_t;

typedef struct {
    const char *start; // the line
    const char *p;     // cursor
    const char *end;   // one past the line's last byte
    size_t line;       // 1-based line number
    char *out;         // next free byte of the scratch buffer for decoded strings
    char *err;         // caller's error buffer (may be NULL)
    size_t err_size;   // its size
} s_reader_t;

static const char *s_fields[] = {"process",  "type",   "f",      "key",
                                 "value",    "time",   "expect", "expect_revision",
                                 "revision", "swapped"};
enum {
    S_PROCESS,
    S_TYPE,
    S_F,
    S_KEY,
    S_VALUE,
    S_TIME,
    S_REQUIRED, // the members before this one are on every line
    S_EXPECT = S_REQUIRED,
    S_EXPECT_REVISION,
    S_REVISION,
    S_SWAPPED,
    S_FIELDS
};

// Formats "line N: ..." into the caller's buffer; returns ZKV_EPROTO.
static int
s_error (s_reader_t *r, const char *fmt, ...)
{
    if (r->err && r->err_size) {
        int n = snprintf (r->err, r->err_size, "line %zu: ", r->line);
        if (n >= 0 && (size_t)n < r->err_size) {
            va_list ap;
            va_start (ap, fmt);
            vsnprintf (r->err + n, r->err_size - (size_t)n, fmt, ap);
            va_end (ap);
        }
    }
    return ZKV_EPROTO;
}

static void
s_skip_ws (s_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r'))
        r->p++;
}

static size_t
s_col (const s_reader_t *r)
{
    return (size_t)(r->p - r->start) + 1;
}

// Length of the UTF-8 sequence at p (at most n bytes), or 0 if it is not well-formed
// (overlong forms, surrogates and code points past U+10FFFF are refused, as RFC 3629 says).
static size_t
s_utf8_len (const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int
s_hex4 (s_reader_t *r, unsigned *cp)
{
    if (r->end - r->p < 4)
        return s_error (r, "truncated \\u escape (column %zu)", s_col (r));
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return s_error (r, "bad hex digit in \\u escape (column %zu)", s_col (r) - 1);
    }
    *cp = v;
    return 0;
}

static void
s_put_utf8 (s_reader_t *r, unsigned cp)
{
    if (cp < 0x80)
        *r->out++ = (char)cp;
    else if (cp < 0x800) {
        *r->out++ = (char)(0xc0 | (cp >> 6));
        *r->out++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *r->out++ = (char)(0xe0 | (cp >> 12));
        *r->out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *r->out++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *r->out++ = (char)(0xf0 | (cp >> 18));
        *r->out++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *r->out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *r->out++ = (char)(0x80 | (cp & 0x3f));
    }
}

// A \u escape (the cursor is past "\u"); a high surrogate must be followed by a low one.
static int
s_unicode (s_reader_t *r)
{
    unsigned cp = 0; // set by s_hex4; initialised for gcc -O3 flow analysis
    if (s_hex4 (r, &cp))
        return ZKV_EPROTO;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return s_error (r, "lone low surrogate \\u%04x (column %zu)", cp, s_col (r) - 6);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo = 0;
        if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
            return s_error (r, "high surrogate \\u%04x without its low half (column %zu)", cp,
                            s_col (r) - 6);
        r->p += 2;
        if (s_hex4 (r, &lo))
            return ZKV_EPROTO;
        if (lo < 0xdc00 || lo > 0xdfff)
            return s_error (r, "high surrogate \\u%04x without its low half (column %zu)", cp,
                            s_col (r) - 6);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    s_put_utf8 (r, cp);
    return 0;
}

// A string (the cursor is on its opening quote), decoded into the scratch buffer. Decoding
// never grows a string (an escape is longer than what it stands for), so the buffer, as large
// as the line plus one NUL per string, cannot overflow.
static int
s_string (s_reader_t *r, zkv_hist_str_t *s)
{
    size_t col = s_col (r);
    r->p++;
    char *start = r->out;
    while (true) {
        if (r->p >= r->end)
            return s_error (r, "unterminated string (from column %zu)", col);
        unsigned char c = (unsigned char)*r->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return s_error (r, "control byte 0x%02x in a string (column %zu)", c, s_col (r));
        if (c != '\\') {
            size_t len = s_utf8_len ((const unsigned char *)r->p, (size_t)(r->end - r->p));
            if (!len)
                return s_error (r, "invalid UTF-8 in a string (column %zu)", s_col (r));
            memcpy (r->out, r->p, len);
            r->out += len;
            r->p += len;
            continue;
        }
        if (++r->p >= r->end)
            return s_error (r, "unterminated string (from column %zu)", col);
        char e = *r->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            *r->out++ = e;
            break;
        case 'b':
            *r->out++ = '\b';
            break;
        case 'f':
            *r->out++ = '\f';
            break;
        case 'n':
            *r->out++ = '\n';
            break;
        case 'r':
            *r->out++ = '\r';
            break;
        case 't':
            *r->out++ = '\t';
            break;
        case 'u':
            if (s_unicode (r))
                return ZKV_EPROTO;
            break;
        default:
            return s_error (r, "bad escape \\%c in a string (column %zu)", e, s_col (r) - 1);
        }
    }
    r->p++;
    *s = (zkv_hist_str_t){start, (size_t)(r->out - start)};
    *r->out++ = '\0';
    return 0;
}

// A JSON number that must be an integer: its sign and magnitude (at most UINT64_MAX); whether
// it fits the member is s_want's check.
static int
s_integer (s_reader_t *r, const char *name, s_value_t *v)
{
    size_t col = s_col (r);
    v->neg = *r->p == '-';
    if (v->neg)
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return s_error (r, "\"%s\": bad number (column %zu)", name, col);
    if (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' && r->p[1] <= '9')
        return s_error (r, "\"%s\": leading zero (column %zu)", name, col);
    uint64_t m = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        unsigned d = (unsigned)(*r->p++ - '0');
        if (m > (UINT64_MAX - d) / 10)
            return s_error (r, "\"%s\": out of range (column %zu)", name, col);
        m = m * 10 + d;
    }
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return s_error (r, "\"%s\": expected an integer (column %zu)", name, col);
    v->mag = m;
    return 0;
}

static bool
s_word (s_reader_t *r, const char *word)
{
    size_t n = strlen (word);
    if ((size_t)(r->end - r->p) < n || memcmp (r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

// One member's value: a string, an integer, a boolean or null; anything else names what it saw.
static int
s_value (s_reader_t *r, const char *name, s_value_t *v)
{
    if (r->p >= r->end)
        return s_error (r, "truncated line: \"%s\" has no value", name);
    v->col = s_col (r);
    char c = *r->p;
    if (c == '"') {
        v->kind = S_STRING;
        return s_string (r, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        v->kind = S_INT;
        return s_integer (r, name, v);
    }
    if (s_word (r, "null")) {
        v->kind = S_NULL;
        return 0;
    }
    if (s_word (r, "true") || s_word (r, "false")) {
        v->kind = S_BOOL;
        v->truth = c == 't';
        return 0;
    }
    const char *what = c == '{' ? "an object" : c == '[' ? "an array" : "an invalid token";
    return s_error (r,
                    "\"%s\": expected a string, an integer, a boolean or null, got %s (column %zu)",
                    name, what, s_col (r));
}

typedef enum { W_STRING, W_STRING_OR_NULL, W_INT64, W_UINT64, W_BOOL } s_want_t;

// What each member holds, by field.
static const s_want_t s_wants[S_FIELDS] = {W_INT64,          W_STRING, W_STRING,         W_STRING,
                                           W_STRING_OR_NULL, W_INT64,  W_STRING_OR_NULL, W_UINT64,
                                           W_UINT64,         W_BOOL};

// Checks that member field holds what it must.
static int
s_want (s_reader_t *r, const s_value_t *vals, int field)
{
    s_want_t want = s_wants[field];
    static const char *names[] = {"null", "a string", "an integer", "a boolean"};
    static const char *wanted[] = {"a string", "a string or null", "an integer",
                                   "a non-negative integer", "true or false"};
    const s_value_t *v = &vals[field];
    s_kind_t need = want == W_STRING || want == W_STRING_OR_NULL ? S_STRING
                    : want == W_BOOL                             ? S_BOOL
                                                                 : S_INT;
    if (v->kind != need && !(want == W_STRING_OR_NULL && v->kind == S_NULL))
        return s_error (r, "\"%s\": expected %s, got %s", s_fields[field], wanted[want],
                        names[v->kind]);
    if (want == W_UINT64 && v->neg && v->mag)
        return s_error (r, "\"%s\": expected a non-negative integer (column %zu)", s_fields[field],
                        v->col);
    if (want == W_INT64 && v->mag > (uint64_t)INT64_MAX + v->neg)
        return s_error (r, "\"%s\": out of range (column %zu)", s_fields[field], v->col);
    return 0;
}

// The object of one line into vals (indexed by S_PROCESS...): each member at most once, the
// required ones present; seen says which were.
static int
s_object (s_reader_t *r, s_value_t *vals, bool *seen)
{
    s_skip_ws (r);
    if (r->p >= r->end || *r->p != '{')
        return s_error (r, "expected '{' (column %zu)", s_col (r));
    r->p++;
    for (int n = 0;; n++) {
        s_skip_ws (r);
        if (r->p < r->end && *r->p == '}' && n == 0)
            break;
        if (r->p >= r->end)
            return s_error (r, "truncated line: the object is not closed");
        if (*r->p != '"')
            return s_error (r, "expected a member name (column %zu)", s_col (r));
        zkv_hist_str_t name;
        if (s_string (r, &name))
            return ZKV_EPROTO;
        int field = 0;
        while (field < S_FIELDS && (strlen (s_fields[field]) != name.size ||
                                    memcmp (s_fields[field], name.data, name.size) != 0))
            field++;
        if (field == S_FIELDS)
            return s_error (r, "unknown member \"%.40s\"", name.data);
        if (seen[field])
            return s_error (r, "\"%s\" given twice", s_fields[field]);
        seen[field] = true;
        s_skip_ws (r);
        if (r->p >= r->end)
            return s_error (r, "truncated line: expected ':' after \"%s\"", s_fields[field]);
        if (*r->p != ':')
            return s_error (r, "expected ':' after \"%s\" (column %zu)", s_fields[field],
                            s_col (r));
        r->p++;
        s_skip_ws (r);
        if (s_value (r, s_fields[field], &vals[field]) || s_want (r, vals, field))
            return ZKV_EPROTO;
        s_skip_ws (r);
        if (r->p >= r->end)
            return s_error (r, "truncated line: the object is not closed");
        if (*r->p == '}')
            break;
        if (*r->p != ',')
            return s_error (r, "expected ',' or '}' (column %zu)", s_col (r));
        r->p++;
    }
    r->p++;
    s_skip_ws (r);
    if (r->p < r->end)
        return s_error (r, "unexpected text after the object (column %zu)", s_col (r));
    for (int field = 0; field < S_REQUIRED; field++)
        if (!seen[field])
            return s_error (r, "missing \"%s\"", s_fields[field]);
    return 0;
}

static int64_t
s_int64 (const s_value_t *v)
{
    return v->neg ? (int64_t)(0 - v->mag) : (int64_t)v->mag;
}

static zkv_hist_str_t
s_str_or_null (const s_value_t *v)
{
    return v->kind == S_NULL ? (zkv_hist_str_t){NULL, 0} : v->str;
}

// Parses one line and adds its event to hist.
static int
s_line (s_reader_t *r, zkv_history_t *hist)
{
    s_value_t vals[S_FIELDS];
    bool seen[S_FIELDS] = {false};
    memset (vals, 0, sizeof vals);
    if (s_object (r, vals, seen))
        return ZKV_EPROTO;
    static const char *types[] = {"invoke", "ok", "fail", "info"};
    static const char *fs[] = {"get", "put", "append", "delete", "cas"};
    int type = 0, f = 0;
    zkv_hist_str_t t = vals[S_TYPE].str, fn = vals[S_F].str;
    while (type < 4 && (strlen (types[type]) != t.size || memcmp (types[type], t.data, t.size)))
        type++;
    if (type == 4)
        return s_error (r, "unknown type \"%.40s\" (invoke, ok, fail or info)", t.data);
    while (f < 5 && (strlen (fs[f]) != fn.size || memcmp (fs[f], fn.data, fn.size)))
        f++;
    if (f == 5)
        return s_error (r, "unknown f \"%.40s\" (get, put, append, delete or cas)", fn.data);
    zkv_hist_event_t ev = {.process = s_int64 (&vals[S_PROCESS]),
                           .type = (zkv_hist_type_t)type,
                           .f = (zkv_hist_f_t)f,
                           .key = vals[S_KEY].str,
                           .value = s_str_or_null (&vals[S_VALUE]),
                           .time = s_int64 (&vals[S_TIME]),
                           .line = r->line,
                           .partner = ZKV_HIST_NONE,
                           .expect = s_str_or_null (&vals[S_EXPECT]),
                           .has_expect = seen[S_EXPECT],
                           .expect_revision = vals[S_EXPECT_REVISION].mag,
                           .has_expect_revision = seen[S_EXPECT_REVISION],
                           .revision = vals[S_REVISION].mag,
                           .has_revision = seen[S_REVISION],
                           .swapped = seen[S_SWAPPED] ? vals[S_SWAPPED].truth : -1};
    if (zkv_history_add (hist, &ev))
        return s_error (r, "%s", zkv_history_error (hist));
    return 0;
}

int
zkv_history_parse (const char *buf, size_t size, zkv_history_t **hist_p, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    *hist_p = NULL;
    zkv_history_t *hist = zkv_history_new ();
    s_reader_t r = {.err = err, .err_size = err_size};
    // One scratch buffer, as large as the longest line plus NULs, holds a line's strings.
    size_t longest = 0;
    for (size_t i = 0, start = 0; i <= size; i++)
        if (i == size || buf[i] == '\n') {
            if (i - start > longest)
                longest = i - start;
            start = i + 1;
        }
    char *scratch = malloc (longest + 16);
    if (!scratch)
        abort ();
    int rc = 0;
    const char *p = buf, *end = buf + size;
    while (p < end && rc == 0) {
        const char *nl = memchr (p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        r.line++;
        r.start = r.p = p;
        r.end = eol;
        r.out = scratch;
        s_skip_ws (&r);
        if (r.p < r.end) // blank lines are allowed
            rc = s_line (&r, hist);
        p = nl ? nl + 1 : end;
    }
    free (scratch);
    if (rc) {
        zkv_history_destroy (&hist);
        return rc;
    }
    *hist_p = hist;
    return 0;
}

int
zkv_history_load (const char *path, zkv_history_t **hist_p, char *err, size_t err_size)
{
    *hist_p = NULL;
    FILE *in = fopen (path, "rb");
    if (!in) {
        if (err && err_size)
            snprintf (err, err_size, "%s: %s", path, strerror (errno));
        return ZKV_EIO;
    }
    size_t size = 0, cap = 1 << 16;
    char *buf = malloc (cap);
    if (!buf)
        abort ();
    size_t n;
    while ((n = fread (buf + size, 1, cap - size, in)) > 0) {
        size += n;
        if (size == cap) {
            cap *= 2;
            buf = realloc (buf, cap);
            if (!buf)
                abort ();
        }
    }
    int failed = ferror (in);
    fclose (in);
    if (failed) {
        free (buf);
        if (err && err_size)
            snprintf (err, err_size, "%s: read error", path);
        return ZKV_EIO;
    }
    char msg[512];
    int rc = zkv_history_parse (buf, size, hist_p, msg, sizeof msg);
    free (buf);
    // "line N: x" -> "path:N: x", the form compilers and editors understand.
    if (rc && err && err_size)
        snprintf (err, err_size, "%s:%s", path, strncmp (msg, "line ", 5) ? msg : msg + 5);
    return rc;
}
