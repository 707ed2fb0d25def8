// A client history (docs/history.md): build it in memory, read it, write it.
//
// One event per line of JSON Lines, in the order the recording client observed them:
//
//     {"process": 3, "type": "invoke", "f": "append", "key": "k17", "value": "x3.41;", "time": 12}
//     {"process": 3, "type": "ok", "f": "append", "key": "k17", "value": "x3.41;", "time": 15}
//
// A history checks as it grows: a process has at most one open invoke, a completion needs one
// and comes no earlier than it. The simulator and the load tools call zkv_history_invoke and
// zkv_history_complete, then zkv_history_save; the checker reads files with zkv_history_load,
// which treats every byte as hostile: a bad file gets "line N: what is wrong", never a crash.
#ifndef ZKV_HISTORY_H
#define ZKV_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { ZKV_HIST_INVOKE, ZKV_HIST_OK, ZKV_HIST_FAIL, ZKV_HIST_INFO } zkv_hist_type_t;
typedef enum { ZKV_HIST_GET, ZKV_HIST_PUT, ZKV_HIST_APPEND } zkv_hist_f_t;

// A byte string: data is NUL-terminated but may hold NULs (JSON "\u0000"), so size counts.
// data is NULL for JSON null.
typedef struct {
    const char *data; // the bytes, or NULL for null
    size_t size;      // number of bytes
} zkv_hist_str_t;

#define ZKV_HIST_NONE SIZE_MAX // no partner event

typedef struct {
    int64_t process;      // the logical client
    zkv_hist_type_t type; // invoke, ok, fail or info
    zkv_hist_f_t f;       // get, put or append
    zkv_hist_str_t key;   // never null
    zkv_hist_str_t value; // argument of put/append, result of an ok get; else may be null
    int64_t time;         // nanoseconds on the run's shared monotonic clock
    size_t line;          // line in the file it was read from; 0 if built in memory
    size_t partner;       // invoke <-> its completion (event index), or ZKV_HIST_NONE
} zkv_hist_event_t;

typedef struct _zkv_history_t zkv_history_t;

// An empty history; never NULL (out of memory aborts).
zkv_history_t *zkv_history_new (void);
// Idempotent; nulls *self_p.
void zkv_history_destroy (zkv_history_t **self_p);

// Records that process called f on key (value: the put/append argument; NULL for a get).
// Returns ZKV_EINVAL (see zkv_history_error) if the process already has an open invoke or the
// value does not fit f.
int zkv_history_invoke (zkv_history_t *self, int64_t process, zkv_hist_f_t f, const char *key,
                        const char *value, int64_t time);
// Records the outcome of process's open invoke: type ok, fail or info. value: for an ok get,
// the value read ("" for a missing key); for put/append NULL repeats the argument; else NULL.
// Returns ZKV_EINVAL if there is no open invoke, time is before it, or an ok get lacks a value.
int zkv_history_complete (zkv_history_t *self, int64_t process, zkv_hist_type_t type,
                          const char *value, int64_t time);
// The same with explicit sizes (strings may hold NULs); value.data NULL is null. For the
// parser; line is kept in the event for messages.
int zkv_history_invoke_n (zkv_history_t *self, int64_t process, zkv_hist_f_t f, zkv_hist_str_t key,
                          zkv_hist_str_t value, int64_t time, size_t line);
int zkv_history_complete_n (zkv_history_t *self, int64_t process, zkv_hist_type_t type,
                            zkv_hist_f_t f, zkv_hist_str_t key, zkv_hist_str_t value, int64_t time,
                            size_t line);
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

// "get", "put", "append"; "invoke", "ok", "fail", "info".
const char *zkv_hist_f_name (zkv_hist_f_t f);
const char *zkv_hist_type_name (zkv_hist_type_t type);

#endif
