// Prometheus text exposition format 0.0.4 (zkv_prom.h).
#include "zkv_prom.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void
s_put (zkv_prom_t *p, const char *text, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n + 1)
            cap *= 2;
        p->data = realloc (p->data, cap);
        if (!p->data)
            abort (); // out of memory aborts (STYLE.md)
        p->cap = cap;
    }
    memcpy (p->data + p->len, text, n);
    p->len += n;
    p->data[p->len] = 0;
}

void
zkv_prom_text (zkv_prom_t *p, const char *text)
{
    s_put (p, text, strlen (text));
}

size_t
zkv_prom_utoa (uint64_t value, char *buf)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    buf[n] = 0;
    return n;
}

void
zkv_prom_family (zkv_prom_t *p, const char *name, const char *type, const char *help)
{
    // HELP text would escape backslash and newline: ours are literals without either.
    zkv_prom_text (p, "# HELP ");
    zkv_prom_text (p, name);
    zkv_prom_text (p, " ");
    zkv_prom_text (p, help);
    zkv_prom_text (p, "\n# TYPE ");
    zkv_prom_text (p, name);
    zkv_prom_text (p, " ");
    zkv_prom_text (p, type);
    zkv_prom_text (p, "\n");
}

static void
s_name (zkv_prom_t *p, const char *name, const zkv_prom_labels_t *labels)
{
    zkv_prom_text (p, name);
    if (labels && labels->len) {
        s_put (p, "{", 1);
        s_put (p, labels->text, labels->len);
        s_put (p, "}", 1);
    }
    s_put (p, " ", 1);
}

void
zkv_prom_u64 (zkv_prom_t *p, const char *name, const zkv_prom_labels_t *labels, uint64_t value)
{
    char digits[24];
    s_name (p, name, labels);
    s_put (p, digits, zkv_prom_utoa (value, digits));
    s_put (p, "\n", 1);
}

void
zkv_prom_micros (zkv_prom_t *p, const char *name, const zkv_prom_labels_t *labels, uint64_t us)
{
    char digits[24];
    s_name (p, name, labels);
    s_put (p, digits, zkv_prom_utoa (us / 1000000, digits));
    // Six decimals, zero-padded: 1250 us is 0.001250.
    char frac[8] = ".000000";
    uint64_t f = us % 1000000;
    for (int i = 6; i >= 1; i--, f /= 10)
        frac[i] = (char)('0' + f % 10);
    s_put (p, frac, 7);
    s_put (p, "\n", 1);
}

void
zkv_prom_label (zkv_prom_labels_t *l, const char *key, const char *value)
{
    char buf[sizeof l->text];
    size_t at = 0, cap = sizeof buf - 1;
    bool fits = true;
#define S_ADD(s, n)                                                                                \
    do {                                                                                           \
        if (at + (n) > cap)                                                                        \
            fits = false;                                                                          \
        else {                                                                                     \
            memcpy (buf + at, (s), (n));                                                           \
            at += (n);                                                                             \
        }                                                                                          \
    } while (0)
    if (l->len)
        S_ADD (",", 1);
    S_ADD (key, strlen (key));
    S_ADD ("=\"", 2);
    for (const char *v = value; *v && fits; v++) {
        if (*v == '\\')
            S_ADD ("\\\\", 2);
        else if (*v == '"')
            S_ADD ("\\\"", 2);
        else if (*v == '\n')
            S_ADD ("\\n", 2);
        else
            S_ADD (v, 1);
    }
    S_ADD ("\"", 1);
#undef S_ADD
    if (!fits || l->len + at >= sizeof l->text)
        return;
    memcpy (l->text + l->len, buf, at);
    l->len += at;
    l->text[l->len] = 0;
}

void
zkv_prom_label_u64 (zkv_prom_labels_t *l, const char *key, uint64_t value)
{
    char digits[24];
    zkv_prom_utoa (value, digits);
    zkv_prom_label (l, key, digits);
}

void
zkv_prom_free (zkv_prom_t *p)
{
    free (p->data);
    *p = (zkv_prom_t){0};
}
