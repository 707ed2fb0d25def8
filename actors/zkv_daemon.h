// zkvd --daemon: detach only once the node is up, so that the command that started it hears
// of a failed start-up (a port in use, a corrupt data directory) with zkvd's own message and
// exit status, as in the foreground; and the pid file.
//
//     int ready = zkv_daemon_fork ("zkvd 1");  // the parent never returns from it
//     ... start the node: on failure, log and exit with the status (the parent exits with it) ...
//     zkv_daemon_ready (ready, log_fd);          // the parent exits 0; the terminal is let go
//
// Fork before any thread starts (ZeroMQ's context, the actors): a forked process keeps only
// the thread that forked.
#ifndef ZKV_DAEMON_H
#define ZKV_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

// Forks. The child (returns the pipe's write end) starts a new session, reads from /dev/null
// and keeps the parent's stdout and stderr until zkv_daemon_ready. The parent waits: "ready"
// on the pipe, it exits 0; the pipe closed without it, it exits with the child's status (or 1
// and a line naming who, the signal and log_file, if the child was killed). -1 (and errno)
// if the fork fails.
int zkv_daemon_fork (const char *who, const char *log_file);
// Tells the parent the node is up, and points stdout and stderr at out_fd (the log file, so
// that a library's own lines are kept): the terminal is free.
void zkv_daemon_ready (int ready_fd, int out_fd);
// Points stdout and stderr at out_fd again (the log file was opened again after a rotation).
void zkv_daemon_redirect (int out_fd);

// Writes the process id to path (a new file, renamed over any old one). 0, or -1 with err.
int zkv_daemon_write_pid (const char *path, char *err, size_t errlen);
// Removes path if it still names this process (a newer zkvd may have taken it over).
void zkv_daemon_remove_pid (const char *path);

#endif
