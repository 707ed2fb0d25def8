// Reads a client history: a small JSON Lines reader for exactly the schema of docs/history.md.
//
// Every byte is hostile: each line must be one flat object with the six members process,
// type, f, key, value and time (each once, nothing else), strings are checked UTF-8 with
// JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX and surrogate pairs), numbers are integers that
// fit int64. Any error stops the parse with "line N: what is wrong"; nothing is asserted.
#include "zkv_history.h"
#include "zkv_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_NULL, S_STRING, S_INT } s_kind_t;

typedef struct {
    s_kind_t kind;      // what the member held
    zkv_hist_str_t str; // S_STRING: decoded bytes (in the line's scratch buffer)
    int64_t num;        // S_INT
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

static const char *s_fields[] = {"process", "type", "f", "key", "value", "time"};
enum { S_PROCESS, S_TYPE, S_F, S_KEY, S_VALUE, S_TIME, S_FIELDS };

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
    unsigned cp = 0;  // set by s_hex4; initialised for gcc -O3 flow analysis
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

// A JSON number that must be an integer fitting int64.
static int
s_integer (s_reader_t *r, const char *name, int64_t *num)
{
    size_t col = s_col (r);
    bool neg = *r->p == '-';
    if (neg)
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return s_error (r, "\"%s\": bad number (column %zu)", name, col);
    if (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' && r->p[1] <= '9')
        return s_error (r, "\"%s\": leading zero (column %zu)", name, col);
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        unsigned d = (unsigned)(*r->p++ - '0');
        if (v > (limit - d) / 10)
            return s_error (r, "\"%s\": out of range (column %zu)", name, col);
        v = v * 10 + d;
    }
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return s_error (r, "\"%s\": expected an integer (column %zu)", name, col);
    *num = neg ? (int64_t)(0 - v) : (int64_t)v;
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

// One member's value: a string, an integer or null; anything else names what it saw.
static int
s_value (s_reader_t *r, const char *name, s_value_t *v)
{
    if (r->p >= r->end)
        return s_error (r, "truncated line: \"%s\" has no value", name);
    char c = *r->p;
    if (c == '"') {
        v->kind = S_STRING;
        return s_string (r, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        v->kind = S_INT;
        return s_integer (r, name, &v->num);
    }
    if (s_word (r, "null")) {
        v->kind = S_NULL;
        return 0;
    }
    const char *what = c == '{'               ? "an object"
                       : c == '['             ? "an array"
                       : c == 't' || c == 'f' ? "a boolean"
                                              : "an invalid token";
    return s_error (r, "\"%s\": expected a string, an integer or null, got %s (column %zu)", name,
                    what, s_col (r));
}

// The object of one line into vals (indexed by S_PROCESS...); every member present once.
static int
s_object (s_reader_t *r, s_value_t *vals)
{
    bool seen[S_FIELDS] = {false};
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
        if (s_value (r, s_fields[field], &vals[field]))
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
    for (int field = 0; field < S_FIELDS; field++)
        if (!seen[field])
            return s_error (r, "missing \"%s\"", s_fields[field]);
    return 0;
}

static int
s_want (s_reader_t *r, const s_value_t *vals, int field, s_kind_t kind, bool or_null)
{
    s_kind_t got = vals[field].kind;
    if (got == kind || (or_null && got == S_NULL))
        return 0;
    static const char *names[] = {"null", "a string", "an integer"};
    return s_error (r, "\"%s\": expected %s%s, got %s", s_fields[field], names[kind],
                    or_null ? " or null" : "", names[got]);
}

// Parses one line and adds its event to hist.
static int
s_line (s_reader_t *r, zkv_history_t *hist)
{
    s_value_t vals[S_FIELDS];
    memset (vals, 0, sizeof vals);
    if (s_object (r, vals))
        return ZKV_EPROTO;
    if (s_want (r, vals, S_PROCESS, S_INT, false) || s_want (r, vals, S_TYPE, S_STRING, false) ||
        s_want (r, vals, S_F, S_STRING, false) || s_want (r, vals, S_KEY, S_STRING, false) ||
        s_want (r, vals, S_VALUE, S_STRING, true) || s_want (r, vals, S_TIME, S_INT, false))
        return ZKV_EPROTO;
    static const char *types[] = {"invoke", "ok", "fail", "info"};
    static const char *fs[] = {"get", "put", "append"};
    int type = 0, f = 0;
    zkv_hist_str_t t = vals[S_TYPE].str, fn = vals[S_F].str;
    while (type < 4 && (strlen (types[type]) != t.size || memcmp (types[type], t.data, t.size)))
        type++;
    if (type == 4)
        return s_error (r, "unknown type \"%.40s\" (invoke, ok, fail or info)", t.data);
    while (f < 3 && (strlen (fs[f]) != fn.size || memcmp (fs[f], fn.data, fn.size)))
        f++;
    if (f == 3)
        return s_error (r, "unknown f \"%.40s\" (get, put or append)", fn.data);
    zkv_hist_str_t value =
        vals[S_VALUE].kind == S_NULL ? (zkv_hist_str_t){NULL, 0} : vals[S_VALUE].str;
    int rc;
    if (type == ZKV_HIST_INVOKE)
        rc = zkv_history_invoke_n (hist, vals[S_PROCESS].num, (zkv_hist_f_t)f, vals[S_KEY].str,
                                   value, vals[S_TIME].num, r->line);
    else
        rc = zkv_history_complete_n (hist, vals[S_PROCESS].num, (zkv_hist_type_t)type,
                                     (zkv_hist_f_t)f, vals[S_KEY].str, value, vals[S_TIME].num,
                                     r->line);
    if (rc)
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
