// A small JSON writer (zkv_json.h).
#include "zkv_json.h"

#include <stdlib.h>
#include <string.h>

static void
s_append (zkv_json_t *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1)
            cap *= 2;
        char *data = realloc (j->data, cap);
        if (!data)
            abort (); // out of memory aborts (STYLE.md)
        j->data = data;
        j->cap = cap;
    }
    memcpy (j->data + j->len, s, n);
    j->len += n;
    j->data[j->len] = '\0';
}

// Before a value: the comma its level needs.
static void
s_value (zkv_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->depth <= ZKV_JSON_MAX_DEPTH) {
        if (j->has[j->depth - 1])
            s_append (j, ",", 1);
        j->has[j->depth - 1] = true;
    }
}

void
zkv_json_open (zkv_json_t *j, char bracket)
{
    s_value (j);
    s_append (j, &bracket, 1);
    j->depth++;
    if (j->depth <= ZKV_JSON_MAX_DEPTH)
        j->has[j->depth - 1] = false;
}

void
zkv_json_close (zkv_json_t *j, char bracket)
{
    s_append (j, &bracket, 1);
    if (j->depth > 0)
        j->depth--;
}

void
zkv_json_key (zkv_json_t *j, const char *key)
{
    s_value (j);
    s_append (j, "\"", 1);
    s_append (j, key, strlen (key));
    s_append (j, "\":", 2);
    j->after_key = true;
}

void
zkv_json_u64 (zkv_json_t *j, uint64_t v)
{
    char buf[24];
    size_t at = sizeof buf;
    do {
        buf[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    s_value (j);
    s_append (j, buf + at, sizeof buf - at);
}

void
zkv_json_i64 (zkv_json_t *j, int64_t v)
{
    if (v >= 0) {
        zkv_json_u64 (j, (uint64_t)v);
        return;
    }
    s_value (j);
    s_append (j, "-", 1);
    j->after_key = true; // the digits follow without a comma
    zkv_json_u64 (j, (uint64_t)0 - (uint64_t)v);
}

void
zkv_json_bool (zkv_json_t *j, bool v)
{
    s_value (j);
    s_append (j, v ? "true" : "false", v ? 4 : 5);
}

void
zkv_json_null (zkv_json_t *j)
{
    s_value (j);
    s_append (j, "null", 4);
}

void
zkv_json_str (zkv_json_t *j, const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)data;
    s_value (j);
    s_append (j, "\"", 1);
    size_t from = 0; // start of the run of bytes that need no escape
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            continue;
        s_append (j, (const char *)p + from, i - from);
        from = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            s_append (j, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            s_append (j, esc, 6);
        }
    }
    s_append (j, (const char *)p + from, len - from);
    s_append (j, "\"", 1);
}

void
zkv_json_cstr (zkv_json_t *j, const char *s)
{
    zkv_json_str (j, s, strlen (s));
}

void
zkv_json_value (zkv_json_t *j, const char *text, size_t len)
{
    s_value (j);
    s_append (j, text, len);
}

void
zkv_json_free (zkv_json_t *j)
{
    free (j->data);
    memset (j, 0, sizeof *j);
}
