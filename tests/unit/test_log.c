// Unit tests for zkv_log (util/zkv_log.h): the line format, the level filter, the file and its
// reopening after a rotation, the echo a daemon's start-up uses, syslog.
#define _GNU_SOURCE // unshare
#include "zkv_log.h"
#include "zkv_test.h"

#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t
s_format (char *buf, size_t size, long long sec, int msec, zkv_log_level_t level,
          const char *format, ...)
{
    va_list args;
    va_start (args, format);
    size_t n = zkv_log_format (buf, size, sec, msec, level, format, args);
    va_end (args);
    return n;
}

static void
test_line_format (void)
{
    char buf[256];
    size_t n = s_format (buf, sizeof buf, 1796631302, 123, ZKV_LOG_NOTICE, "zkvd %d: %s", 1,
                         "serving");
    CHECK (strcmp (buf, "2026-12-07T08:15:02.123Z notice zkvd 1: serving\n") == 0);
    CHECK_EQ_U64 (n, strlen (buf));
    s_format (buf, sizeof buf, 951868799, 7, ZKV_LOG_WARNING, "x");
    CHECK (strcmp (buf, "2000-02-29T23:59:59.007Z warning x\n") == 0);
    // A message's newlines would make lines without a time.
    s_format (buf, sizeof buf, 0, 0, ZKV_LOG_ERROR, "a\nb\r\n");
    CHECK (strcmp (buf, "1970-01-01T00:00:00.000Z error a b  \n") == 0);
}

static void
test_long_message_is_cut (void)
{
    char buf[64], big[200];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    size_t n = s_format (buf, sizeof buf, 0, 0, ZKV_LOG_INFO, "%s", big);
    CHECK_EQ_U64 (n, sizeof buf - 1);
    CHECK_EQ_U64 (strlen (buf), n);
    CHECK (strcmp (buf + n - 4, "...\n") == 0);
    CHECK (strncmp (buf, "1970-01-01T00:00:00.000Z info xxx", 33) == 0);
    // Exactly fitting (30 bytes of time and level, 32 of message, the newline): no cut.
    n = s_format (buf, sizeof buf, 0, 0, ZKV_LOG_INFO, "%.*s", (int)(sizeof buf - 32), big);
    CHECK_EQ_U64 (n, sizeof buf - 1);
    CHECK (buf[n - 2] == 'x' && buf[n - 1] == '\n');
}

static void
test_level_names (void)
{
    const char *names[] = {"error", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++) {
        zkv_log_level_t level = ZKV_LOG_DEBUG;
        CHECK (zkv_log_level_parse (names[i], &level) == 0);
        CHECK_EQ_U64 (level, i);
        CHECK (strcmp (zkv_log_level_name (level), names[i]) == 0);
    }
    zkv_log_level_t level = ZKV_LOG_INFO;
    CHECK (zkv_log_level_parse ("warn", &level) == -1);
    CHECK (zkv_log_level_parse ("INFO", &level) == -1);
    CHECK (zkv_log_level_parse ("", &level) == -1);
    CHECK (zkv_log_level_parse (NULL, &level) == -1);
    CHECK_EQ_U64 (level, ZKV_LOG_INFO);
}

// The lines of a file, into buf; returns how many.
static int
s_read_lines (const char *path, char *buf, size_t size)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (buf, 1, size - 1, f);
    fclose (f);
    buf[n] = 0;
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    return lines;
}

// A line as the format says: YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL message.
static int
s_well_formed (const char *line, const char *level, const char *message)
{
    int y, mo, d, h, mi, s, ms, end = 0;
    char lv[16];
    if (sscanf (line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %15s %n", &y, &mo, &d, &h, &mi, &s, &ms, lv,
                &end) != 8)
        return 0;
    return line[10] == 'T' && line[23] == 'Z' && y >= 2024 && strcmp (lv, level) == 0 &&
           strncmp (line + end, message, strlen (message)) == 0;
}

static void
test_file_level_and_reopen (void)
{
    char dir[] = "/tmp/zkv-test-log.XXXXXX";
    CHECK (mkdtemp (dir));
    char path[128], moved[128], err[256], buf[4096];
    snprintf (path, sizeof path, "%s/zkvd.log", dir);
    snprintf (moved, sizeof moved, "%s/zkvd.log.1", dir);
    CHECK (zkv_log_set_file ("/nonexistent/dir/zkvd.log", err, sizeof err) == -1);
    CHECK (strstr (err, "cannot open the log file /nonexistent/dir/zkvd.log") != NULL);
    CHECK (zkv_log_set_file (path, err, sizeof err) == 0);
    CHECK (zkv_log_fd () >= 0);
    zkv_log_set_level (ZKV_LOG_WARNING);
    zkv_log_info ("hidden %d", 1);
    zkv_log_debug ("hidden %d", 2);
    zkv_log_warning ("shown %d", 3);
    zkv_log_error ("shown %d", 4);
    CHECK_EQ_U64 (s_read_lines (path, buf, sizeof buf), 2);
    CHECK (s_well_formed (buf, "warning", "shown 3\n"));
    CHECK (s_well_formed (strchr (buf, '\n') + 1, "error", "shown 4\n"));
    // logrotate moves the file away; the next lines go to the new one after a reopen.
    CHECK (rename (path, moved) == 0);
    zkv_log_warning ("before the reopen");
    CHECK (zkv_log_reopen (err, sizeof err) == 0);
    zkv_log_set_level (ZKV_LOG_DEBUG);
    zkv_log_debug ("after the reopen");
    CHECK_EQ_U64 (s_read_lines (moved, buf, sizeof buf), 3);
    CHECK_EQ_U64 (s_read_lines (path, buf, sizeof buf), 1);
    CHECK (s_well_formed (buf, "debug", "after the reopen\n"));
    // The echo: a daemon's start-up lines reach the terminal too.
    int fds[2];
    CHECK (pipe (fds) == 0);
    zkv_log_set_echo (fds[1]);
    zkv_log_notice ("echoed");
    zkv_log_set_echo (-1);
    zkv_log_notice ("not echoed");
    close (fds[1]);
    ssize_t r = read (fds[0], buf, sizeof buf - 1);
    close (fds[0]);
    CHECK (r > 0);
    buf[r] = 0;
    CHECK (s_well_formed (buf, "notice", "echoed\n"));
    CHECK (strstr (buf, "not echoed") == NULL);
    CHECK_EQ_U64 (s_read_lines (path, buf, sizeof buf), 3);
    zkv_log_close ();
    zkv_log_set_level (ZKV_LOG_INFO);
    unlink (path);
    unlink (moved);
    rmdir (dir);
}

// In a child with a mount namespace of its own and a /dev of its own (root only), a datagram
// socket at /dev/log stands in for the syslog daemon. Exit 0 if what it receives is right.
static int
s_syslog_child (void)
{
    if (unshare (CLONE_NEWNS) != 0)
        return 77;
    if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount ("tmpfs", "/dev", "tmpfs", 0, NULL) != 0)
        return 77;
    int sock = socket (AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
    if (sock < 0 || bind (sock, (struct sockaddr *)&addr, sizeof addr) != 0)
        return 2;
    struct timeval tv = {.tv_sec = 5};
    setsockopt (sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char err[256];
    if (zkv_log_set_file ("/dev/null", err, sizeof err) != 0) // not the test's output
        return 3;
    zkv_log_set_syslog ("zkv-test");
    zkv_log_set_level (ZKV_LOG_NOTICE);
    zkv_log_info ("hidden");
    zkv_log_warning ("to syslog %d", 5);
    char buf[512];
    ssize_t n = recv (sock, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 4;
    buf[n] = 0;
    // <facility daemon (3) * 8 + warning (4)>, then syslog's time, the ident and pid, and the
    // message without our time and level (syslog has its own).
    int pid = 0;
    const char *ident = strstr (buf, "zkv-test[");
    if (strncmp (buf, "<28>", 4) != 0 || !ident || sscanf (ident, "zkv-test[%d]", &pid) != 1 ||
        pid != (int)getpid () || !strstr (buf, "]: to syslog 5") || strstr (buf, "warning")) {
        fprintf (stderr, "syslog got: %s\n", buf);
        return 5;
    }
    if (recv (sock, buf, sizeof buf, MSG_DONTWAIT) >= 0) // the info line was not sent
        return 6;
    zkv_log_close ();
    return 0;
}

static void
test_syslog (void)
{
    fflush (stdout);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0)
        _exit (s_syslog_child ());
    int status = 0;
    CHECK (waitpid (pid, &status, 0) == pid);
    CHECK (WIFEXITED (status));
    if (WEXITSTATUS (status) == 77) {
        printf ("test_syslog: skipped (a mount namespace needs root)\n");
        return;
    }
    CHECK_EQ_U64 (WEXITSTATUS (status), 0);
}

ZKV_TEST_MAIN (TEST (test_line_format) TEST (test_long_message_is_cut) TEST (test_level_names)
                   TEST (test_file_level_and_reopen) TEST (test_syslog))
