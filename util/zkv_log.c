// zkv_log: one line per message, ISO-8601 UTC time with milliseconds and a level (zkv_log.h).
#define _GNU_SOURCE // dup3
#include "zkv_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

// Longest line written; a longer message is cut and ends in "...".
#define S_LINE_MAX 4096

// The process's logger (zkv_log.h says why it is global). main sets the sinks before any
// thread starts; the level and the echo may change while threads log, so they are atomic.
static atomic_int s_level = ZKV_LOG_INFO; // lines above it are dropped
static int s_fd = -1;                     // the log file, -1: stderr
static char *s_path = NULL;               // its name, for zkv_log_reopen
static bool s_syslog = false;             // lines go to syslog too
static atomic_int s_echo = -1;            // and to this descriptor (-1: nowhere)

static const char *s_names[] = {"error", "warning", "notice", "info", "debug"};
static const int s_priorities[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

int
zkv_log_level_parse (const char *name, zkv_log_level_t *level)
{
    for (int i = 0; name && i <= ZKV_LOG_DEBUG; i++)
        if (strcmp (name, s_names[i]) == 0) {
            *level = (zkv_log_level_t)i;
            return 0;
        }
    return -1;
}

const char *
zkv_log_level_name (zkv_log_level_t level)
{
    return level <= ZKV_LOG_DEBUG ? s_names[level] : "?";
}

void
zkv_log_set_level (zkv_log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

zkv_log_level_t
zkv_log_level (void)
{
    return (zkv_log_level_t)atomic_load (&s_level);
}

static int
s_open (const char *path, char *err, size_t errlen)
{
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0 && err && errlen)
        snprintf (err, errlen, "cannot open the log file %s: %s", path, strerror (errno));
    return fd;
}

int
zkv_log_set_file (const char *path, char *err, size_t errlen)
{
    int fd = s_open (path, err, errlen);
    if (fd < 0)
        return -1;
    if (s_fd >= 0)
        close (s_fd);
    free (s_path);
    s_fd = fd;
    s_path = strdup (path);
    if (!s_path)
        abort ();
    return 0;
}

int
zkv_log_reopen (char *err, size_t errlen)
{
    if (s_fd < 0)
        return 0;
    int fd = s_open (s_path, err, errlen);
    if (fd < 0)
        return -1;
    // dup3 swaps the file under the same number atomically: no thread writes to a closed fd.
    int rc = dup3 (fd, s_fd, O_CLOEXEC) < 0 ? -1 : 0;
    if (rc && err && errlen)
        snprintf (err, errlen, "cannot reopen the log file %s: %s", s_path, strerror (errno));
    close (fd);
    return rc;
}

void
zkv_log_set_syslog (const char *ident)
{
    if (s_syslog)
        closelog ();
    s_syslog = ident != NULL;
    if (ident)
        openlog (ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
zkv_log_set_echo (int fd)
{
    atomic_store (&s_echo, fd);
}

int
zkv_log_fd (void)
{
    return s_fd;
}

void
zkv_log_close (void)
{
    if (s_fd >= 0)
        close (s_fd);
    s_fd = -1;
    free (s_path);
    s_path = NULL;
    zkv_log_set_syslog (NULL);
    atomic_store (&s_echo, -1);
}

size_t
zkv_log_format (char *buf, size_t size, long long sec, int msec, zkv_log_level_t level,
                const char *format, va_list args)
{
    if (size < 8) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r (&t, &tm);
    size_t n = strftime (buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    int k = snprintf (buf + n, size - n, ".%03dZ %s ", msec, zkv_log_level_name (level));
    n = k < 0 ? n : n + (size_t)k < size ? n + (size_t)k : size - 1;
    k = vsnprintf (buf + n, size - n, format, args);
    if (k < 0)
        k = 0;
    if (n + (size_t)k + 2 > size) {
        // Cut: keep room for "...\n".
        n = size - 5;
        memcpy (buf + n, "...", 3);
        n += 3;
    } else
        n += (size_t)k;
    // A message's own newlines would start lines without a time: they become spaces.
    for (char *p = buf; p < buf + n; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    buf[n++] = '\n';
    buf[n] = 0;
    return n;
}

static void
s_write (int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write (fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; // nowhere to say it
        buf += w;
        len -= (size_t)w;
    }
}

void
zkv_log_v (zkv_log_level_t level, const char *format, va_list args)
{
    if ((int)level > atomic_load (&s_level))
        return;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    char line[S_LINE_MAX];
    va_list copy;
    va_copy (copy, args);
    size_t len = zkv_log_format (line, sizeof line, (long long)ts.tv_sec,
                                 (int)(ts.tv_nsec / 1000000), level, format, copy);
    va_end (copy);
    int fd = s_fd >= 0 ? s_fd : STDERR_FILENO;
    s_write (fd, line, len);
    int echo = atomic_load (&s_echo);
    if (echo >= 0 && echo != fd)
        s_write (echo, line, len);
    if (s_syslog) {
        // syslog stamps its own time: the message alone, after "TIME LEVEL ".
        const char *msg = strchr (line, ' ');
        msg = msg ? strchr (msg + 1, ' ') : NULL;
        line[len - 1] = 0;
        syslog (s_priorities[level], "%s", msg ? msg + 1 : line);
    }
}

void
zkv_log (zkv_log_level_t level, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    zkv_log_v (level, format, args);
    va_end (args);
}

#define S_LEVEL_FUNCTION(name, level)                                                              \
    void name (const char *format, ...)                                                            \
    {                                                                                              \
        va_list args;                                                                              \
        va_start (args, format);                                                                   \
        zkv_log_v (level, format, args);                                                           \
        va_end (args);                                                                             \
    }
S_LEVEL_FUNCTION (zkv_log_error, ZKV_LOG_ERROR)
S_LEVEL_FUNCTION (zkv_log_warning, ZKV_LOG_WARNING)
S_LEVEL_FUNCTION (zkv_log_notice, ZKV_LOG_NOTICE)
S_LEVEL_FUNCTION (zkv_log_info, ZKV_LOG_INFO)
S_LEVEL_FUNCTION (zkv_log_debug, ZKV_LOG_DEBUG)
