// A client history in memory: events in order, each invoke paired with its completion.
#include "zkv_history.h"
#include "zkv_alloc.h"
#include "zkv_error.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t process; // the key
    size_t invoke;   // event index of its open invoke, or ZKV_HIST_NONE for a free slot
} s_open_t;

struct _zkv_history_t {
    zkv_hist_event_t *events; // in the order added
    size_t size;              // events used
    size_t capacity;          // events allocated
    s_open_t *open;           // process -> open invoke; open addressing, linear probing
    size_t open_cap;          // slots (a power of two)
    size_t open_count;        // processes with an open invoke
    size_t open_tombs;        // freed slots that still break probe chains
    char error[256];          // why the last call failed
};

// A tombstone: a slot whose invoke completed; probing continues past it.
#define S_TOMB (SIZE_MAX - 1)

// Records why a call failed; returns ZKV_EINVAL.
static int
s_fail (zkv_history_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    return ZKV_EINVAL;
}

zkv_history_t *
zkv_history_new (void)
{
    zkv_history_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    return self;
}

void
zkv_history_destroy (zkv_history_t **self_p)
{
    assert (self_p);
    zkv_history_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++) {
        free ((char *)self->events[i].key.data);
        free ((char *)self->events[i].value.data);
        free ((char *)self->events[i].expect.data);
    }
    free (self->events);
    free (self->open);
    free (self);
    *self_p = NULL;
}

static uint64_t
s_mix (uint64_t x)
{
    // splitmix64's finalizer: process ids are often small consecutive integers.
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Slot of process, or of the free slot where it would go.
static s_open_t *
s_open_slot (const zkv_history_t *self, int64_t process)
{
    size_t mask = self->open_cap - 1;
    s_open_t *spare = NULL;
    for (size_t i = s_mix ((uint64_t)process) & mask;; i = (i + 1) & mask) {
        s_open_t *slot = &self->open[i];
        if (slot->invoke == ZKV_HIST_NONE)
            return spare ? spare : slot;
        if (slot->invoke == S_TOMB) {
            if (!spare)
                spare = slot;
        } else if (slot->process == process)
            return slot;
    }
}

static void
s_open_grow (zkv_history_t *self)
{
    s_open_t *old = self->open;
    size_t old_cap = self->open_cap;
    self->open_cap = old_cap ? old_cap * 2 : 16;
    // Rehash at the same size when tombstones, not live entries, filled the table.
    if (old_cap && self->open_count * 4 < old_cap)
        self->open_cap = old_cap;
    self->open = zkv_malloc (self->open_cap * sizeof *self->open);
    for (size_t i = 0; i < self->open_cap; i++)
        self->open[i].invoke = ZKV_HIST_NONE;
    self->open_tombs = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].invoke != ZKV_HIST_NONE && old[i].invoke != S_TOMB)
            *s_open_slot (self, old[i].process) = old[i];
    free (old);
}

static char *
s_copy (zkv_hist_str_t s)
{
    if (!s.data)
        return NULL;
    char *copy = zkv_malloc (s.size + 1);
    memcpy (copy, s.data, s.size);
    copy[s.size] = '\0';
    return copy;
}

static zkv_hist_event_t *
s_push (zkv_history_t *self)
{
    if (self->size == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 64;
        self->events = realloc (self->events, self->capacity * sizeof *self->events);
        if (!self->events)
            abort ();
    }
    zkv_hist_event_t *event = &self->events[self->size++];
    memset (event, 0, sizeof *event);
    event->partner = ZKV_HIST_NONE;
    return event;
}

static bool
s_same (zkv_hist_str_t a, zkv_hist_str_t b)
{
    return a.size == b.size && memcmp (a.data, b.data, a.size) == 0;
}

static int s_add_invoke (zkv_history_t *self, const zkv_hist_event_t *ev);

// The rules an invoke's fields follow (docs/history.md).
static int
s_check_invoke (zkv_history_t *self, const zkv_hist_event_t *ev)
{
    zkv_hist_f_t f = ev->f;
    if (!ev->key.data)
        return s_fail (self, "key is null");
    if (ev->has_revision)
        return s_fail (self, "\"revision\" belongs on an ok, not an invoke");
    if (ev->swapped != -1)
        return s_fail (self, "\"swapped\" belongs on a cas's ok, not an invoke");
    if (f != ZKV_HIST_CAS && (ev->has_expect || ev->has_expect_revision))
        return s_fail (self, "\"%s\" belongs on a cas invoke, not a %s",
                       ev->has_expect ? "expect" : "expect_revision", zkv_hist_f_name (f));
    if ((f == ZKV_HIST_GET || f == ZKV_HIST_DELETE) && ev->value.data)
        return s_fail (self, "a %s invoke has value null", zkv_hist_f_name (f));
    if ((f == ZKV_HIST_PUT || f == ZKV_HIST_APPEND) && !ev->value.data)
        return s_fail (self, "a %s invoke needs a string value", zkv_hist_f_name (f));
    if (f == ZKV_HIST_CAS && !ev->has_expect && !ev->has_expect_revision)
        return s_fail (self, "a cas invoke needs \"expect\" (a value, or null: absent) or "
                             "\"expect_revision\"");
    if (f == ZKV_HIST_CAS && ev->has_expect && ev->has_expect_revision)
        return s_fail (self, "a cas invoke has \"expect\" or \"expect_revision\", not both");
    return 0;
}

// The rules a completion's fields follow, given its invoke.
static int
s_check_completion (zkv_history_t *self, const zkv_hist_event_t *ev, const zkv_hist_event_t *invoke)
{
    const char *type = zkv_hist_type_name (ev->type);
    zkv_hist_f_t f = ev->f;
    if (ev->has_expect || ev->has_expect_revision)
        return s_fail (self, "\"%s\" belongs on a cas invoke, not its %s",
                       ev->has_expect ? "expect" : "expect_revision", type);
    if (ev->has_revision && ev->type != ZKV_HIST_OK)
        return s_fail (self, "\"revision\" belongs on an ok, not a %s", type);
    if (ev->swapped != -1 && (f != ZKV_HIST_CAS || ev->type != ZKV_HIST_OK))
        return s_fail (self, "\"swapped\" belongs on a cas's ok, not a %s's %s",
                       zkv_hist_f_name (f), type);
    if (ev->swapped < -1 || ev->swapped > 1)
        return s_fail (self, "swapped is 1, 0 or -1 (not given)");
    if (f == ZKV_HIST_GET && ev->type == ZKV_HIST_OK && !ev->value.data && ev->has_revision &&
        ev->revision != 0)
        return s_fail (self, "a get that found nothing has revision 0, not %" PRIu64, ev->revision);
    if (f == ZKV_HIST_DELETE && ev->value.data)
        return s_fail (self, "a delete's %s has value null", type);
    if (f == ZKV_HIST_CAS && ev->value.data &&
        (!invoke->value.data || !s_same (ev->value, invoke->value)))
        return s_fail (self, "a cas's %s repeats its invoke's value (or has null)", type);
    return 0;
}

int
zkv_history_add (zkv_history_t *self, const zkv_hist_event_t *ev)
{
    assert (self);
    assert (ev);
    self->error[0] = '\0';
    if (ev->f != ZKV_HIST_GET && ev->f != ZKV_HIST_PUT && ev->f != ZKV_HIST_APPEND &&
        ev->f != ZKV_HIST_DELETE && ev->f != ZKV_HIST_CAS)
        return s_fail (self, "unknown f %d", (int)ev->f);
    if (ev->type == ZKV_HIST_INVOKE)
        return s_add_invoke (self, ev);
    if (ev->type != ZKV_HIST_OK && ev->type != ZKV_HIST_FAIL && ev->type != ZKV_HIST_INFO)
        return s_fail (self, "a completion has type ok, fail or info");
    s_open_t *slot = self->open_cap ? s_open_slot (self, ev->process) : NULL;
    if (!slot || slot->invoke == ZKV_HIST_NONE || slot->invoke == S_TOMB)
        return s_fail (self, "%s for process %" PRId64 " without an open invoke",
                       zkv_hist_type_name (ev->type), ev->process);
    size_t at = slot->invoke;
    const zkv_hist_event_t *invoke = &self->events[at];
    if (ev->f != invoke->f || (ev->key.data && !s_same (ev->key, invoke->key)))
        return s_fail (self, "%s for process %" PRId64 " does not match its invoke (%s)",
                       zkv_hist_type_name (ev->type), ev->process, zkv_hist_f_name (invoke->f));
    if (ev->time < invoke->time)
        return s_fail (self, "%s at time %" PRId64 " is before its invoke at %" PRId64,
                       zkv_hist_type_name (ev->type), ev->time, invoke->time);
    int rc = s_check_completion (self, ev, invoke);
    if (rc)
        return rc;
    zkv_hist_str_t value = ev->value;
    if ((ev->f == ZKV_HIST_PUT || ev->f == ZKV_HIST_APPEND || ev->f == ZKV_HIST_CAS) &&
        !value.data && ev->type == ZKV_HIST_OK)
        value = invoke->value; // the format repeats a write's argument in its ok
    zkv_hist_str_t key = invoke->key;
    slot->invoke = S_TOMB;
    self->open_count--;
    self->open_tombs++;
    zkv_hist_event_t *event = s_push (self);
    *event = *ev;
    event->key = (zkv_hist_str_t){s_copy (key), key.size};
    event->value = (zkv_hist_str_t){s_copy (value), value.size};
    event->expect = (zkv_hist_str_t){NULL, 0};
    event->has_revision = ev->has_revision && ev->type == ZKV_HIST_OK;
    event->revision = event->has_revision ? ev->revision : 0;
    event->partner = at;
    self->events[at].partner = self->size - 1;
    return 0;
}

static int
s_add_invoke (zkv_history_t *self, const zkv_hist_event_t *ev)
{
    int rc = s_check_invoke (self, ev);
    if (rc)
        return rc;
    if ((self->open_count + self->open_tombs + 1) * 2 > self->open_cap)
        s_open_grow (self);
    s_open_t *slot = s_open_slot (self, ev->process);
    if (slot->invoke != ZKV_HIST_NONE && slot->invoke != S_TOMB) {
        size_t prev = self->events[slot->invoke].line;
        if (prev)
            return s_fail (self, "process %" PRId64 " already has an open invoke (line %zu)",
                           ev->process, prev);
        return s_fail (self, "process %" PRId64 " already has an open invoke", ev->process);
    }
    if (slot->invoke == S_TOMB)
        self->open_tombs--;
    slot->process = ev->process;
    slot->invoke = self->size;
    self->open_count++;
    zkv_hist_event_t *event = s_push (self);
    *event = *ev;
    event->key = (zkv_hist_str_t){s_copy (ev->key), ev->key.size};
    event->value = (zkv_hist_str_t){s_copy (ev->value), ev->value.size};
    event->expect = ev->has_expect ? (zkv_hist_str_t){s_copy (ev->expect), ev->expect.size}
                                   : (zkv_hist_str_t){NULL, 0};
    event->expect_revision = ev->has_expect_revision ? ev->expect_revision : 0;
    event->partner = ZKV_HIST_NONE;
    return 0;
}

// An event with no optional field set.
static zkv_hist_event_t
s_event (int64_t process, zkv_hist_type_t type, zkv_hist_f_t f, zkv_hist_str_t key,
         zkv_hist_str_t value, int64_t time, size_t line)
{
    return (zkv_hist_event_t){.process = process,
                              .type = type,
                              .f = f,
                              .key = key,
                              .value = value,
                              .time = time,
                              .line = line,
                              .partner = ZKV_HIST_NONE,
                              .swapped = -1};
}

int
zkv_history_invoke_n (zkv_history_t *self, int64_t process, zkv_hist_f_t f, zkv_hist_str_t key,
                      zkv_hist_str_t value, int64_t time, size_t line)
{
    zkv_hist_event_t ev = s_event (process, ZKV_HIST_INVOKE, f, key, value, time, line);
    return zkv_history_add (self, &ev);
}

int
zkv_history_complete_n (zkv_history_t *self, int64_t process, zkv_hist_type_t type, zkv_hist_f_t f,
                        zkv_hist_str_t key, zkv_hist_str_t value, int64_t time, size_t line)
{
    zkv_hist_event_t ev = s_event (process, type, f, key, value, time, line);
    return zkv_history_add (self, &ev);
}

static zkv_hist_str_t
s_str (const char *s)
{
    return (zkv_hist_str_t){s, s ? strlen (s) : 0};
}

int
zkv_history_invoke (zkv_history_t *self, int64_t process, zkv_hist_f_t f, const char *key,
                    const char *value, int64_t time)
{
    return zkv_history_invoke_n (self, process, f, s_str (key), s_str (value), time, 0);
}

int
zkv_history_invoke_delete (zkv_history_t *self, int64_t process, const char *key, int64_t time)
{
    return zkv_history_invoke (self, process, ZKV_HIST_DELETE, key, NULL, time);
}

int
zkv_history_invoke_cas (zkv_history_t *self, int64_t process, const char *key, const char *expect,
                        const char *new_value, int64_t time)
{
    zkv_hist_event_t ev =
        s_event (process, ZKV_HIST_INVOKE, ZKV_HIST_CAS, s_str (key), s_str (new_value), time, 0);
    ev.expect = s_str (expect);
    ev.has_expect = true;
    return zkv_history_add (self, &ev);
}

int
zkv_history_invoke_cas_rev (zkv_history_t *self, int64_t process, const char *key,
                            uint64_t expect_revision, const char *new_value, int64_t time)
{
    zkv_hist_event_t ev =
        s_event (process, ZKV_HIST_INVOKE, ZKV_HIST_CAS, s_str (key), s_str (new_value), time, 0);
    ev.expect_revision = expect_revision;
    ev.has_expect_revision = true;
    return zkv_history_add (self, &ev);
}

// The f of process's open invoke, or -1 if it has none.
static int
s_open_f (const zkv_history_t *self, int64_t process)
{
    s_open_t *slot = self->open_cap ? s_open_slot (self, process) : NULL;
    if (slot && slot->invoke != ZKV_HIST_NONE && slot->invoke != S_TOMB)
        return (int)self->events[slot->invoke].f;
    return -1;
}

int
zkv_history_complete (zkv_history_t *self, int64_t process, zkv_hist_type_t type, const char *value,
                      int64_t time)
{
    assert (self);
    // The completion repeats its invoke's f and key.
    int f = s_open_f (self, process);
    if (f == ZKV_HIST_GET && type == ZKV_HIST_OK && !value)
        return s_fail (self, "an ok get needs the value read (zkv_history_complete_get "
                             "records \"not found\")");
    return zkv_history_complete_n (self, process, type, f < 0 ? ZKV_HIST_GET : (zkv_hist_f_t)f,
                                   (zkv_hist_str_t){NULL, 0}, s_str (value), time, 0);
}

// An ok for process's open invoke, which must be one of the fs in mask (bits 1 << f).
static int
s_ok (zkv_history_t *self, int64_t process, unsigned mask, const char *call, zkv_hist_event_t *ev)
{
    int f = s_open_f (self, process);
    if (f >= 0 && !(mask & (1u << f)))
        return s_fail (self, "%s does not complete a %s", call, zkv_hist_f_name ((zkv_hist_f_t)f));
    ev->process = process;
    ev->type = ZKV_HIST_OK;
    ev->f = f < 0 ? ZKV_HIST_GET : (zkv_hist_f_t)f;
    ev->partner = ZKV_HIST_NONE;
    return zkv_history_add (self, ev);
}

int
zkv_history_complete_get (zkv_history_t *self, int64_t process, const char *value,
                          uint64_t revision, int64_t time)
{
    zkv_hist_event_t ev = s_event (process, ZKV_HIST_OK, ZKV_HIST_GET, (zkv_hist_str_t){NULL, 0},
                                   s_str (value), time, 0);
    ev.revision = revision;
    ev.has_revision = revision != 0;
    return s_ok (self, process, 1u << ZKV_HIST_GET, "zkv_history_complete_get", &ev);
}

int
zkv_history_complete_write (zkv_history_t *self, int64_t process, uint64_t revision, int64_t time)
{
    zkv_hist_event_t ev = s_event (process, ZKV_HIST_OK, ZKV_HIST_PUT, (zkv_hist_str_t){NULL, 0},
                                   (zkv_hist_str_t){NULL, 0}, time, 0);
    ev.revision = revision;
    ev.has_revision = revision != 0;
    return s_ok (self, process, 1u << ZKV_HIST_PUT | 1u << ZKV_HIST_APPEND | 1u << ZKV_HIST_DELETE,
                 "zkv_history_complete_write", &ev);
}

int
zkv_history_complete_cas (zkv_history_t *self, int64_t process, bool swapped, uint64_t revision,
                          int64_t time)
{
    zkv_hist_event_t ev = s_event (process, ZKV_HIST_OK, ZKV_HIST_CAS, (zkv_hist_str_t){NULL, 0},
                                   (zkv_hist_str_t){NULL, 0}, time, 0);
    ev.revision = revision;
    ev.has_revision = revision != 0;
    ev.swapped = swapped ? 1 : 0;
    return s_ok (self, process, 1u << ZKV_HIST_CAS, "zkv_history_complete_cas", &ev);
}

const char *
zkv_history_error (const zkv_history_t *self)
{
    assert (self);
    return self->error;
}

size_t
zkv_history_size (const zkv_history_t *self)
{
    assert (self);
    return self->size;
}

const zkv_hist_event_t *
zkv_history_event (const zkv_history_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return &self->events[i];
}

size_t
zkv_history_open (const zkv_history_t *self)
{
    assert (self);
    return self->open_count;
}

const char *
zkv_hist_f_name (zkv_hist_f_t f)
{
    switch (f) {
    case ZKV_HIST_GET:
        return "get";
    case ZKV_HIST_PUT:
        return "put";
    case ZKV_HIST_APPEND:
        return "append";
    case ZKV_HIST_DELETE:
        return "delete";
    case ZKV_HIST_CAS:
        return "cas";
    }
    return "?";
}

const char *
zkv_hist_type_name (zkv_hist_type_t type)
{
    switch (type) {
    case ZKV_HIST_INVOKE:
        return "invoke";
    case ZKV_HIST_OK:
        return "ok";
    case ZKV_HIST_FAIL:
        return "fail";
    case ZKV_HIST_INFO:
        return "info";
    }
    return "?";
}
