// The ZPL line scanner: finds the line of every item zconfig will read, and explains syntax errors.
//
// It follows zconfig_chunk_load (CZMQ 4.2) rule for rule: trailing white space is dropped; the
// indentation is a run of spaces, 4 per level; a name is a run of letters, digits and $-_@.&+/
// (not starting or ending with '/'); then either nothing, or '=' and a value, which is quoted
// ('...' or "...", nothing but a comment after it) or runs up to the first '#' without trailing
// white space; a line without a name holds at most a comment; an item may be at most one level
// deeper than the item before it. So the n-th item found here is the n-th node of a pre-order
// walk of zconfig's tree. The scanner refuses three things zconfig takes, so they never reach it:
// NUL bytes (zconfig stops reading the line there), lines longer than ZKV_CONFIG_MAX_LINE (CZMQ
// versions differ on them), and "key = # comment", which zconfig reads as the value "# comment".
#include "zkv_config_int.h"
#include "zkv_error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_why (char *why, size_t whylen, const char *format, ...)
{
    if (!why || whylen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, whylen, format, args);
    va_end (args);
}

static char *
s_strndup (const char *text, size_t len)
{
    char *copy = malloc (len + 1);
    if (!copy)
        abort ();
    memcpy (copy, text, len);
    copy[len] = 0;
    return copy;
}

static int
s_is_namechar (unsigned char c)
{
    return isalnum (c) || (c && strchr ("$-_@.&+/", c) != NULL);
}

// Quotes at most 20 bytes of a line's rest for a message, stopping at its end.
static void
s_excerpt (const char *text, char *buf, size_t buflen)
{
    size_t len = strlen (text);
    if (len > 20)
        snprintf (buf, buflen, "%.20s...", text);
    else
        snprintf (buf, buflen, "%s", text);
}

// zconfig's s_verify_eoln: only white space, then optionally a comment, may remain.
static const char *
s_junk (const char *rest)
{
    while (*rest && isspace ((unsigned char)*rest))
        rest++;
    return *rest && *rest != '#' ? rest : NULL;
}

static void
s_push (zkv_config_scan_t *scan, int line, int level, char *name, char *value)
{
    if (scan->count == scan->capacity) {
        size_t capacity = scan->capacity ? 2 * scan->capacity : 32;
        zkv_config_item_t *items = realloc (scan->items, capacity * sizeof *items);
        if (!items)
            abort ();
        scan->items = items;
        scan->capacity = capacity;
    }
    scan->items[scan->count++] = (zkv_config_item_t){line, level, name, value};
}

// Scans one line (NUL-terminated, trailing white space removed). depth is the deepest level an
// item may have here. Returns 0 or -1 with a message.
static int
s_scan_line (char *line, int lineno, int depth, zkv_config_scan_t *scan, char *why, size_t whylen)
{
    char excerpt[32];
    char *p = line;
    while (*p == ' ')
        p++;
    int spaces = (int)(p - line);
    if (spaces % 4) {
        s_why (why, whylen, "indentation must be a multiple of 4 spaces, got %d", spaces);
        return ZKV_ECONFIG;
    }
    int level = spaces / 4;
    char *name = p;
    while (s_is_namechar ((unsigned char)*p))
        p++;
    size_t name_len = (size_t)(p - name);
    if (name_len == 0) {
        const char *junk = s_junk (p);
        if (!junk)
            return 0; // blank or comment
        if (*p == '\t')
            s_why (why, whylen, "tab in indentation (indent with 4 spaces per level)");
        else {
            s_excerpt (junk, excerpt, sizeof excerpt);
            s_why (why, whylen, "expected a name, got '%s'", excerpt);
        }
        return ZKV_ECONFIG;
    }
    if (name[0] == '/' || name[name_len - 1] == '/') {
        s_why (why, whylen, "'/' may not start or end a name ('%.*s')", (int)name_len, name);
        return ZKV_ECONFIG;
    }
    if (level > depth) {
        s_why (why, whylen, "'%.*s' is indented %d spaces, at most %d here", (int)name_len, name,
               spaces, depth * 4);
        return ZKV_ECONFIG;
    }
    char *value = NULL;
    while (isspace ((unsigned char)*p))
        p++;
    if (*p == '=') {
        p++;
        while (isspace ((unsigned char)*p))
            p++;
        if (*p == '"' || *p == '\'') {
            char *end = strchr (p + 1, *p);
            if (!end) {
                s_why (why, whylen, "missing closing %c", *p);
                return ZKV_ECONFIG;
            }
            const char *junk = s_junk (end + 1);
            if (junk) {
                s_excerpt (junk, excerpt, sizeof excerpt);
                s_why (why, whylen, "unexpected '%s' after the quoted value", excerpt);
                return ZKV_ECONFIG;
            }
            value = s_strndup (p + 1, (size_t)(end - p - 1));
        } else if (*p == '#') {
            s_why (why, whylen,
                   "'%.*s' has '=' but no value before the comment (quote an empty "
                   "value: \"\")",
                   (int)name_len, name);
            return ZKV_ECONFIG;
        } else {
            char *end = strchr (p, '#');
            if (!end)
                end = p + strlen (p);
            while (end > p && isspace ((unsigned char)end[-1]))
                end--;
            value = s_strndup (p, (size_t)(end - p));
        }
    } else {
        const char *junk = s_junk (p);
        if (junk) {
            s_excerpt (junk, excerpt, sizeof excerpt);
            s_why (why, whylen, "expected '=' after '%.*s', got '%s'", (int)name_len, name,
                   excerpt);
            return ZKV_ECONFIG;
        }
        value = s_strndup ("", 0);
    }
    s_push (scan, lineno, level, s_strndup (name, name_len), value);
    return 0;
}

int
zkv_config_scan (const char *text, size_t len, zkv_config_scan_t *scan, int *line_p, char *why,
                 size_t whylen)
{
    *line_p = 0;
    if (len > ZKV_CONFIG_MAX_BYTES) {
        s_why (why, whylen, "file is larger than %d bytes", ZKV_CONFIG_MAX_BYTES);
        return ZKV_ECONFIG;
    }
    char line[ZKV_CONFIG_MAX_LINE + 1];
    size_t at = 0;
    int lineno = 0;
    while (at < len) {
        lineno++;
        const char *eol = memchr (text + at, '\n', len - at);
        size_t line_len = eol ? (size_t)(eol - (text + at)) : len - at;
        if (line_len > ZKV_CONFIG_MAX_LINE) {
            *line_p = lineno;
            s_why (why, whylen, "line is too long (%zu bytes, at most %d)", line_len,
                   ZKV_CONFIG_MAX_LINE);
            return ZKV_ECONFIG;
        }
        if (memchr (text + at, 0, line_len)) {
            *line_p = lineno;
            s_why (why, whylen, "NUL byte in the line");
            return ZKV_ECONFIG;
        }
        memcpy (line, text + at, line_len);
        at += line_len + (eol ? 1 : 0);
        while (line_len && isspace ((unsigned char)line[line_len - 1]))
            line_len--;
        line[line_len] = 0;
        int depth = scan->count ? scan->items[scan->count - 1].level + 1 : 0;
        if (s_scan_line (line, lineno, depth, scan, why, whylen)) {
            *line_p = lineno;
            return ZKV_ECONFIG;
        }
    }
    return 0;
}

void
zkv_config_scan_clear (zkv_config_scan_t *scan)
{
    for (size_t i = 0; i < scan->count; i++) {
        free (scan->items[i].name);
        free (scan->items[i].value);
    }
    free (scan->items);
    memset (scan, 0, sizeof *scan);
}
