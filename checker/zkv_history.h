// A client history (docs/history.md): build it in memory, read it, write it.
//
// One event per line of JSON Lines, in the order the recording client observed them:
//
//     {"process": 3, "type": "invoke", "f": "append", "key": "k17", "value": "x3.41;", "time": 12}
//     {"process": 3, "type": "ok", "f": "append", "key": "k17", "value": "x3.41;", "revision": 9,
//      "time": 15}
//
// Operations: get (found or not found), put, append, delete, and compare-and-set on a value or on
// a revision; an ok may report the key's revision. docs/history.md is the format's reference.
//
// A history checks as it grows: a process has at most one open invoke, a completion needs one
// and comes no earlier than it, each field fits its operation. The simulator and the load tools
// call zkv_history_invoke* and zkv_history_complete*, then zkv_history_save; the checker reads
// files with zkv_history_load, which treats every byte as hostile: a bad file gets
// "line N: what is wrong", never a crash.
#ifndef ZKV_HISTORY_H
#define ZKV_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { ZKV_HIST_INVOKE, ZKV_HIST_OK, ZKV_HIST_FAIL, ZKV_HIST_INFO } zkv_hist_type_t;
typedef enum {
    ZKV_HIST_GET,
    ZKV_HIST_PUT,
    ZKV_HIST_APPEND,
    ZKV_HIST_DELETE,
    ZKV_HIST_CAS
} zkv_hist_f_t;

// A byte string: data is NUL-terminated but may hold NULs (JSON "\u0000"), so size counts.
// data is NULL for JSON null.
typedef struct {
    const char *data; // the bytes, or NULL for null
    size_t size;      // number of bytes
} zkv_hist_str_t;

#define ZKV_HIST_NONE SIZE_MAX // no partner event

// One line. Fields that do not apply to an event's f and type are zero (has_* false, swapped
// -1); a tool that fills one for zkv_history_add or zkv_history_write_event sets swapped to -1
// unless it is a cas's ok that says.
typedef struct {
    int64_t process;          // the logical client
    zkv_hist_type_t type;     // invoke, ok, fail or info
    zkv_hist_f_t f;           // get, put, append, delete or cas
    zkv_hist_str_t key;       // never null
    zkv_hist_str_t value;     // put/append argument; cas new value (null: delete the key); an
                              // ok get's value read (null: not found); else null
    int64_t time;             // nanoseconds on the run's shared monotonic clock
    size_t line;              // line in the file it was read from; 0 if built in memory
    size_t partner;           // invoke <-> its completion (event index), or ZKV_HIST_NONE
    zkv_hist_str_t expect;    // cas invoke by value: the value expected (data NULL: must be absent)
    bool has_expect;          // this cas compares values
    uint64_t expect_revision; // cas invoke by revision: the revision expected (0: must be absent)
    bool has_expect_revision; // this cas compares revisions
    uint64_t revision;        // ok: the key's revision reported (0 says nothing)
    bool has_revision;        // the ok reports one
    int swapped;              // cas ok: 1 swapped, 0 did not, -1 not given
} zkv_hist_event_t;

typedef struct _zkv_history_t zkv_history_t;

// An empty history; never NULL (out of memory aborts).
zkv_history_t *zkv_history_new (void);
// Idempotent; nulls *self_p.
void zkv_history_destroy (zkv_history_t **self_p);

// Records that process called f on key (value: the put/append argument; NULL for a get or a
// delete; a cas needs zkv_history_invoke_cas*). Returns ZKV_EINVAL (see zkv_history_error) if
// the process already has an open invoke or the value does not fit f.
int zkv_history_invoke (zkv_history_t *self, int64_t process, zkv_hist_f_t f, const char *key,
                        const char *value, int64_t time);
int zkv_history_invoke_delete (zkv_history_t *self, int64_t process, const char *key, int64_t time);
// Compare-and-set by value: expect NULL means the key must be absent; new_value NULL makes the
// swap a delete.
int zkv_history_invoke_cas (zkv_history_t *self, int64_t process, const char *key,
                            const char *expect, const char *new_value, int64_t time);
// Compare-and-set by revision: the key's revision must be expect_revision (0: it must be absent).
int zkv_history_invoke_cas_rev (zkv_history_t *self, int64_t process, const char *key,
                                uint64_t expect_revision, const char *new_value, int64_t time);

// Records the outcome of process's open invoke: type ok, fail or info. value: for an ok get,
// the value read, never NULL (a get that found nothing: zkv_history_complete_get); "" is an
// existing empty value. For a write NULL repeats the argument; else NULL. Returns ZKV_EINVAL if
// there is no open invoke, time is before it, or the value does not fit.
int zkv_history_complete (zkv_history_t *self, int64_t process, zkv_hist_type_t type,
                          const char *value, int64_t time);
// The ok of a get: value NULL = not found; revision: of the value read (0: not reported, or
// not found).
int zkv_history_complete_get (zkv_history_t *self, int64_t process, const char *value,
                              uint64_t revision, int64_t time);
// The ok of a put, append or delete with the key's new revision (0: not reported).
int zkv_history_complete_write (zkv_history_t *self, int64_t process, uint64_t revision,
                                int64_t time);
// The ok of a cas: whether it swapped, and the revision: the key's new one if it swapped, its
// current one if not (0: not reported, or the key is absent).
int zkv_history_complete_cas (zkv_history_t *self, int64_t process, bool swapped, uint64_t revision,
                              int64_t time);

// The same with explicit sizes (strings may hold NULs); value.data NULL is null; an ok get's
// null value is "not found". line is kept in the event for messages.
int zkv_history_invoke_n (zkv_history_t *self, int64_t process, zkv_hist_f_t f, zkv_hist_str_t key,
                          zkv_hist_str_t value, int64_t time, size_t line);
int zkv_history_complete_n (zkv_history_t *self, int64_t process, zkv_hist_type_t type,
                            zkv_hist_f_t f, zkv_hist_str_t key, zkv_hist_str_t value, int64_t time,
                            size_t line);
// Adds one event with every field (the parser's entry, and for tools that build events): an
// invoke or a completion, checked as the calls above check it. A completion's key.data NULL
// repeats its invoke's key. The strings are copied.
int zkv_history_add (zkv_history_t *self, const zkv_hist_event_t *event);
// Why the last call failed; "" if none did.
const char *zkv_history_error (const zkv_history_t *self);

// Number of events, and event i (0-based, i < size).
size_t zkv_history_size (const zkv_history_t *self);
const zkv_hist_event_t *zkv_history_event (const zkv_history_t *self, size_t i);
// Number of invokes with no completion yet (the checker treats them as info).
size_t zkv_history_open (const zkv_history_t *self);

// Writes one event as one line in the exact format above (for tools that stream).
int zkv_history_write_event (FILE *out, const zkv_hist_event_t *event);
// Writes every event; ZKV_EIO if the stream fails.
int zkv_history_write (const zkv_history_t *self, FILE *out);
// Writes the history to path (created or truncated); ZKV_EIO on failure.
int zkv_history_save (const zkv_history_t *self, const char *path);

// Parses size bytes of JSON Lines. On success *hist_p is a new history and 0 is returned; on
// failure *hist_p is NULL, ZKV_EPROTO (or ZKV_ETOOBIG) is returned and err holds
// "line N: what is wrong" (err may be NULL).
int zkv_history_parse (const char *buf, size_t size, zkv_history_t **hist_p, char *err,
                       size_t err_size);
// Reads and parses a file; err holds "path:N: what is wrong" or "path: <errno text>".
int zkv_history_load (const char *path, zkv_history_t **hist_p, char *err, size_t err_size);

// "get", "put", "append", "delete", "cas"; "invoke", "ok", "fail", "info".
const char *zkv_hist_f_name (zkv_hist_f_t f);
const char *zkv_hist_type_name (zkv_hist_type_t type);

#endif
