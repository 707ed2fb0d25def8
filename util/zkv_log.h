// zkv_log: the log lines of zkvd (and any program that links util/).
//
//     2026-12-07T08:15:02.123Z notice zkvd 1: serving clients at tcp://10.0.0.1:7101, ...
//
// ISO-8601 UTC time with milliseconds, the level, the message: one line, written with one
// write(2), so lines from several threads never interleave. Lines below the level set are
// dropped (default info). Where they go: stderr (what a service manager collects), or a file
// (appended; zkv_log_reopen after logrotate moved it), and syslog too when asked, with the
// level as the syslog priority.
//
// CZMQ's zsys_* logging prints a two-digit year and whole seconds, and filters nothing; zkvd
// logs through this module instead. The logger is the process's, like stderr itself: its state
// is set once by main before threads start (the level may change later; it is atomic).
#ifndef ZKV_LOG_H
#define ZKV_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    ZKV_LOG_ERROR = 0,   // the node cannot do what it must (it may stop)
    ZKV_LOG_WARNING = 1, // something is wrong and the node copes
    ZKV_LOG_NOTICE = 2,  // a normal event an operator wants to see (start, stop, rejoin)
    ZKV_LOG_INFO = 3,    // what the node is doing (elections, snapshots, connections)
    ZKV_LOG_DEBUG = 4,   // for the people who work on zkv
} zkv_log_level_t;

// The level called name ("error", "warning", "notice", "info", "debug"): 0 and *level set, or
// -1 for any other name.
int zkv_log_level_parse (const char *name, zkv_log_level_t *level);
// "error" ... "debug".
const char *zkv_log_level_name (zkv_log_level_t level);
// Lines of a level below this one (a larger number) are dropped.
void zkv_log_set_level (zkv_log_level_t level);
zkv_log_level_t zkv_log_level (void);
// Lines go to path (created 0640, appended) instead of stderr. 0, or -1 with one line in err.
int zkv_log_set_file (const char *path, char *err, size_t errlen);
// Opens the file again under its name (logrotate moved the old one away); the descriptor's
// number stays, so a line being written concurrently goes to one file or the other, whole.
int zkv_log_reopen (char *err, size_t errlen);
// Lines go to syslog too (facility daemon, this ident), at their level's priority. NULL: not.
void zkv_log_set_syslog (const char *ident);
// Lines also go to descriptor fd (-1: no longer): a daemon's start-up tells the terminal that
// started it what went wrong, before it detaches.
void zkv_log_set_echo (int fd);
// The file's descriptor (-1 if lines go to stderr): a daemon points its stdout and stderr there.
int zkv_log_fd (void);
// Closes the file and syslog; lines go to stderr again.
void zkv_log_close (void);

// One line at a level (printf format; a trailing newline is not needed).
void zkv_log (zkv_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void zkv_log_v (zkv_log_level_t level, const char *format, va_list args)
    __attribute__ ((format (printf, 2, 0)));
void zkv_log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void zkv_log_warning (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void zkv_log_notice (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void zkv_log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void zkv_log_debug (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

// Formats the line a message at level gets, at time (seconds, milliseconds since the epoch),
// into buf (newline-terminated, NUL-terminated, cut with "..." if it does not fit). Returns
// its length. (What every line goes through; the unit test checks it.)
size_t zkv_log_format (char *buf, size_t size, long long sec, int msec, zkv_log_level_t level,
                       const char *format, va_list args) __attribute__ ((format (printf, 6, 0)));

#endif
