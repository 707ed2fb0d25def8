// Explanations of the checker's verdicts, and the small text builder they use.
#include "zkv_lin_int.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
lin_text_printf (lin_text_t *text, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int need = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    assert (need >= 0);
    if (text->size + (size_t)need + 1 > text->cap) {
        while (text->size + (size_t)need + 1 > text->cap)
            text->cap = text->cap ? text->cap * 2 : 256;
        text->data = realloc (text->data, text->cap);
        if (!text->data)
            abort ();
    }
    va_start (ap, fmt);
    vsnprintf (text->data + text->size, text->cap - text->size, fmt, ap);
    va_end (ap);
    text->size += (size_t)need;
}

void
lin_text_quote (lin_text_t *text, zkv_hist_str_t s, size_t max)
{
    if (!s.data) {
        lin_text_printf (text, "null");
        return;
    }
    // Long values (an append log) are most telling at their end: keep the tail.
    size_t from = s.size > max ? s.size - max : 0;
    lin_text_printf (text, "%s\"", from ? "..." : "");
    for (size_t i = from; i < s.size; i++) {
        unsigned char c = (unsigned char)s.data[i];
        if (c == '"' || c == '\\')
            lin_text_printf (text, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            lin_text_printf (text, "\\u%04x", c);
        else
            lin_text_printf (text, "%c", c);
    }
    lin_text_printf (text, "\"");
}

void
lin_text_op (lin_text_t *text, const lin_op_t *op)
{
    lin_text_printf (text, "process %" PRId64 " %s", op->process, zkv_hist_f_name (op->f));
    bool open = op->ret == LIN_INFINITY;
    switch (op->f) {
    case ZKV_HIST_GET:
        lin_text_printf (text, " -> ");
        if (op->value.data)
            lin_text_quote (text, op->value, 60);
        else
            lin_text_printf (text, "not found");
        if (op->empty_or_missing)
            lin_text_printf (text, " (or not found)");
        break;
    case ZKV_HIST_PUT:
    case ZKV_HIST_APPEND:
        lin_text_printf (text, " ");
        lin_text_quote (text, op->value, 60);
        break;
    case ZKV_HIST_DELETE:
        break;
    case ZKV_HIST_CAS:
        if (op->cmp == LIN_CMP_REV)
            lin_text_printf (text, " expect revision %" PRIu64, op->expect_rev);
        else if (op->expect.data) {
            lin_text_printf (text, " expect ");
            lin_text_quote (text, op->expect, 60);
        } else
            lin_text_printf (text, " expect absent");
        lin_text_printf (text, " set ");
        lin_text_quote (text, op->value, 60);
        if (!open)
            lin_text_printf (text, " -> %s",
                             op->swapped == 1   ? "swapped"
                             : op->swapped == 0 ? "not swapped"
                                                : "swapped or not");
        break;
    }
    if (op->rev)
        lin_text_printf (text, ", revision %" PRIu64, op->rev);
    if (open)
        lin_text_printf (text, " [t %" PRId64 "..?, outcome unknown]", op->call);
    else
        lin_text_printf (text, " [t %" PRId64 "..%" PRId64 "]", op->call, op->ret);
    if (op->line)
        lin_text_printf (text, " (line %zu)", op->line);
}

// The deepest point the search reached: which operations it linearized, in order, and the
// one whose return came before any order could place it.
void
lin_explain_illegal (const lin_op_t *ops, size_t n, const uint32_t *seq, const bool *wrote,
                     size_t len, uint32_t blocked, uint64_t rev, lin_outcome_t *outcome)
{
    lin_text_t t = {0};
    lin_text_printf (&t,
                     "no order of its %zu operations is legal; the longest linearizable "
                     "prefix has %zu",
                     n, len);
    if (len) {
        size_t shown = len < 4 ? len : 4;
        lin_text_printf (&t, ", ending with:\n");
        for (size_t i = len - shown; i < len; i++) {
            lin_text_printf (&t, "  ");
            lin_text_op (&t, &ops[seq[i]]);
            lin_text_printf (&t, "\n");
        }
    } else
        lin_text_printf (&t, "\n");
    // The search may keep a value only as "dead" (zkv_lin_unseen.c): replay the prefix.
    lin_text_t value = {0};
    lin_text_printf (&value, "%s", "");
    bool missing = true;
    for (size_t i = 0; i < len; i++) {
        const lin_op_t *o = &ops[seq[i]];
        if (!wrote[i])
            continue; // a get, or a cas that did not swap
        if (o->f != ZKV_HIST_APPEND)
            value.size = 0;
        missing = o->f == ZKV_HIST_DELETE || (o->f == ZKV_HIST_CAS && !o->value.data);
        if (o->value.data) {
            size_t at = value.size;
            lin_text_printf (&value, "%*s", (int)o->value.size, "");
            memcpy (value.data + at, o->value.data, o->value.size);
        }
    }
    if (missing)
        lin_text_printf (&t, "after it the key is missing");
    else {
        lin_text_printf (&t, "after it the value is ");
        lin_text_quote (&t, (zkv_hist_str_t){value.data, value.size}, 60);
    }
    if (rev)
        lin_text_printf (&t, " (revision %" PRIu64 ")", rev);
    free (value.data);
    lin_text_printf (&t, ", and this operation cannot be placed (nor any before its return):\n  ");
    lin_text_op (&t, &ops[blocked]);
    outcome->explanation = t.data;
}

void
lin_explain_unknown (size_t n, size_t best, uint64_t budget, uint64_t memory, bool out_of_memory,
                     lin_outcome_t *outcome)
{
    lin_text_t t = {0};
    if (out_of_memory)
        lin_text_printf (&t, "search memory limit of %" PRIu64 " bytes reached", memory);
    else
        lin_text_printf (&t, "search budget of %" PRIu64 " steps exhausted", budget);
    lin_text_printf (&t, " after linearizing at most %zu of %zu operations", best, n);
    outcome->explanation = t.data;
}

void
lin_explain_read (const lin_op_t *get, size_t n, lin_outcome_t *outcome)
{
    lin_text_t t = {0};
    lin_text_printf (&t,
                     "no order of its %zu operations is legal: no write called before this "
                     "read returned can produce its value (from a missing key, a put's or a "
                     "cas's value, then appends):\n  ",
                     n);
    lin_text_op (&t, get);
    outcome->explanation = t.data;
}
