// zkv_daemon: fork, report the start-up's outcome to the parent, then let go (zkv_daemon.h).
#define _GNU_SOURCE // pipe2
#include "zkv_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_READY "ready\n"

// The parent: waits for the child's word, exits with its outcome.
static void
s_parent (pid_t child, int fd, const char *who, const char *log_file)
{
    char buf[sizeof S_READY] = "";
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t r = read (fd, buf + got, sizeof buf - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close (fd);
    if (got == strlen (S_READY) && memcmp (buf, S_READY, got) == 0)
        _exit (0);
    // The child closed the pipe without a word: it is exiting (or was killed) during start-up,
    // and said why on the stderr it shares with this process.
    int status = 0;
    while (waitpid (child, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf (stderr, "%s: lost track of the daemon (pid %d): %s\n", who, (int)child,
                     strerror (errno));
            _exit (1);
        }
    }
    if (WIFEXITED (status))
        _exit (WEXITSTATUS (status) ? WEXITSTATUS (status) : 1);
    fprintf (stderr, "%s: the daemon (pid %d) died during start-up: %s; see %s\n", who,
             (int)child, WIFSIGNALED (status) ? strsignal (WTERMSIG (status)) : "?", log_file);
    _exit (1);
}

int
zkv_daemon_fork (const char *who, const char *log_file)
{
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0)
        return -1;
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid < 0) {
        int e = errno;
        close (fds[0]);
        close (fds[1]);
        errno = e;
        return -1;
    }
    if (pid > 0) {
        close (fds[1]);
        s_parent (pid, fds[0], who, log_file); // does not return
    }
    close (fds[0]);
    // A session of its own: no terminal's hangup or Ctrl-C reaches it.
    setsid ();
    int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2 (null, STDIN_FILENO);
        close (null);
    }
    return fds[1];
}

void
zkv_daemon_redirect (int out_fd)
{
    fflush (stdout);
    fflush (stderr);
    int fd = out_fd >= 0 ? out_fd : open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        if (fd != out_fd)
            close (fd);
    }
}

void
zkv_daemon_ready (int ready_fd, int out_fd)
{
    zkv_daemon_redirect (out_fd);
    // Nothing can be done if the parent is gone: it was told or it does not care.
    ssize_t w = write (ready_fd, S_READY, strlen (S_READY));
    (void)w;
    close (ready_fd);
}

int
zkv_daemon_write_pid (const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid ()) >= (int)sizeof tmp) {
        snprintf (err, errlen, "the pid file's name is too long: %s", path);
        return -1;
    }
    FILE *f = fopen (tmp, "we");
    int ok = f && fprintf (f, "%d\n", (int)getpid ()) > 0;
    ok = f && fclose (f) == 0 && ok;
    if (ok && rename (tmp, path) == 0)
        return 0;
    snprintf (err, errlen, "cannot write the pid file %s: %s", path, strerror (errno));
    unlink (tmp);
    return -1;
}

void
zkv_daemon_remove_pid (const char *path)
{
    FILE *f = fopen (path, "re");
    if (!f)
        return;
    int pid = 0;
    int n = fscanf (f, "%d", &pid);
    fclose (f);
    if (n == 1 && pid == (int)getpid ())
        unlink (path);
}
