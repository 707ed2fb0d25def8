// Writes a client history in the exact JSON Lines format of docs/history.md.
#include "zkv_history.h"
#include "zkv_error.h"

#include <assert.h>
#include <inttypes.h>

// A JSON string: quotes, backslashes and control bytes escaped; other bytes as they are
// (values are UTF-8 by convention; the reader takes any byte >= 0x20).
static void
s_write_str (FILE *out, zkv_hist_str_t s)
{
    if (!s.data) {
        fputs ("null", out);
        return;
    }
    fputc ('"', out);
    for (size_t i = 0; i < s.size; i++) {
        unsigned char c = (unsigned char)s.data[i];
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c == '\n')
            fputs ("\\n", out);
        else if (c == '\r')
            fputs ("\\r", out);
        else if (c == '\t')
            fputs ("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf (out, "\\u%04x", c);
        else
            fputc (c, out);
    }
    fputc ('"', out);
}

int
zkv_history_write_event (FILE *out, const zkv_hist_event_t *event)
{
    assert (out);
    assert (event);
    fprintf (out, "{\"process\": %" PRId64 ", \"type\": \"%s\", \"f\": \"%s\", \"key\": ",
             event->process, zkv_hist_type_name (event->type), zkv_hist_f_name (event->f));
    s_write_str (out, event->key);
    fputs (", \"value\": ", out);
    s_write_str (out, event->value);
    // The optional members only when set: a history of gets, puts and appends without
    // revisions is written exactly as before they existed.
    if (event->has_expect) {
        fputs (", \"expect\": ", out);
        s_write_str (out, event->expect);
    }
    if (event->has_expect_revision)
        fprintf (out, ", \"expect_revision\": %" PRIu64, event->expect_revision);
    if (event->f == ZKV_HIST_CAS && event->type == ZKV_HIST_OK && event->swapped >= 0)
        fprintf (out, ", \"swapped\": %s", event->swapped ? "true" : "false");
    if (event->has_revision)
        fprintf (out, ", \"revision\": %" PRIu64, event->revision);
    fprintf (out, ", \"time\": %" PRId64 "}\n", event->time);
    return ferror (out) ? ZKV_EIO : 0;
}

int
zkv_history_write (const zkv_history_t *self, FILE *out)
{
    assert (self);
    size_t size = zkv_history_size (self);
    for (size_t i = 0; i < size; i++)
        if (zkv_history_write_event (out, zkv_history_event (self, i)))
            return ZKV_EIO;
    return fflush (out) == 0 && !ferror (out) ? 0 : ZKV_EIO;
}

int
zkv_history_save (const zkv_history_t *self, const char *path)
{
    assert (self);
    FILE *out = fopen (path, "w");
    if (!out)
        return ZKV_EIO;
    int rc = zkv_history_write (self, out);
    if (fclose (out) != 0)
        rc = ZKV_EIO;
    return rc;
}
