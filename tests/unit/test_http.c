// The node's HTTP server (actors/zkv_http.h) on a loopback port: routes, GET only, 404,
// bounded connections, idle timeouts, bad endpoints. Spoken to over raw sockets.
#include "zkv_test.h"

#include "zkv_error.h"
#include "zkv_http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_connect (uint16_t port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons (port)};
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

// Reads until the server closes the connection or ms pass; returns the bytes read (-1: none
// and still open at the deadline).
static ssize_t
s_read_all (int fd, char *buf, size_t size, int ms)
{
    size_t at = 0;
    int64_t deadline = s_now_ms () + ms;
    while (at + 1 < size) {
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return at ? (ssize_t)at : -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll (&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read (fd, buf + at, size - 1 - at);
        if (n <= 0)
            break; // closed (or reset)
        at += (size_t)n;
    }
    buf[at] = 0;
    return (ssize_t)at;
}

// One request on a new connection; the whole answer (Connection: close) into buf.
static ssize_t
s_ask (uint16_t port, const char *request, char *buf, size_t size)
{
    int fd = s_connect (port);
    if (fd < 0)
        return -1;
    ssize_t n = write (fd, request, strlen (request));
    ssize_t got = n == (ssize_t)strlen (request) ? s_read_all (fd, buf, size, 5000) : -1;
    close (fd);
    return got;
}

static void
s_hello (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    int *calls = (int *)arg;
    (*calls)++;
    const char *who = zkv_http_arg (req, "who");
    char *body = malloc (128);
    assert (body);
    resp->len =
        (size_t)snprintf (body, 128, "hello %s at %s\n", who ? who : "nobody", zkv_http_path (req));
    resp->body = body;
    resp->content_type = "text/x-test";
}

static void
s_teapot (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    (void)arg;
    (void)req;
    resp->status = 418; // no body
}

static zkv_http_t *
s_server (size_t max_connections, uint32_t timeout_ms, int *calls)
{
    zkv_http_config_t cfg = {.max_connections = max_connections, .timeout_ms = timeout_ms};
    zkv_http_t *http = zkv_http_new (&cfg);
    assert (http);
    assert (zkv_http_route (http, "/hello", s_hello, calls) == 0);
    assert (zkv_http_route (http, "/api/*", s_hello, calls) == 0);
    assert (zkv_http_route (http, "/teapot", s_teapot, NULL) == 0);
    char why[256];
    if (zkv_http_start (http, "tcp://127.0.0.1:0", why, sizeof why) != 0) {
        fprintf (stderr, "%s\n", why);
        zkv_http_destroy (&http);
    }
    return http;
}

static void
test_routes (void)
{
    int calls = 0;
    zkv_http_t *http = s_server (8, 10000, &calls);
    CHECK (http);
    uint16_t port = zkv_http_port (http);
    CHECK (port != 0);
    char buf[4096];
    CHECK (s_ask (port, "GET /hello?who=zkv HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strncmp (buf, "HTTP/1.0 200", 12) == 0 || strncmp (buf, "HTTP/1.1 200", 12) == 0);
    CHECK (strstr (buf, "Content-Type: text/x-test"));
    CHECK (strstr (buf, "\r\n\r\nhello zkv at /hello\n"));
    // A prefix route takes what starts with it; an exact one nothing longer.
    CHECK (s_ask (port, "GET /api/groups HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, "hello nobody at /api/groups"));
    CHECK (s_ask (port, "GET /hello/x HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, " 404 "));
    CHECK (s_ask (port, "GET / HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, " 404 "));
    CHECK (s_ask (port, "GET /teapot HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, " 418 "));
    // GET only: the handler is never called for anything else.
    int before = calls;
    CHECK (s_ask (port, "POST /hello HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", buf, sizeof buf) >
           0);
    CHECK (strstr (buf, " 405 ") && strstr (buf, "Allow: GET"));
    CHECK (s_ask (port, "DELETE /hello HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, " 405 "));
    CHECK_EQ_U64 (calls, before);
    // Garbage is answered by libmicrohttpd (400) or the connection closed: the server lives on.
    s_ask (port, "\x01\x02garbage\r\n\r\n", buf, sizeof buf);
    CHECK (s_ask (port, "GET /hello HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0);
    CHECK (strstr (buf, " 200 "));
    zkv_http_counters_t c;
    zkv_http_counters (http, &c);
    CHECK_EQ_U64 (c.ok, 3);
    CHECK_EQ_U64 (c.not_found, 2);
    CHECK_EQ_U64 (c.bad_method, 2);
    CHECK_EQ_U64 (c.other, 1);
    CHECK_EQ_U64 (c.requests, 8); // not the garbage: libmicrohttpd answered it itself
    CHECK (c.bytes_out > 0);
    // No route after the start.
    CHECK (zkv_http_route (http, "/late", s_teapot, NULL) == ZKV_EINVAL);
    zkv_http_destroy (&http);
    CHECK (http == NULL);
    zkv_http_destroy (&http);
}

// Past max_connections a connection is closed as soon as it is accepted; the ones open still
// get their answers, and once they close new ones are served again.
static void
test_connection_limit (void)
{
    int calls = 0;
    zkv_http_t *http = s_server (3, 10000, &calls);
    CHECK (http);
    uint16_t port = zkv_http_port (http);
    int idle[3];
    for (int i = 0; i < 3; i++) {
        idle[i] = s_connect (port);
        CHECK (idle[i] >= 0);
    }
    // Wait until the server holds all three (it accepts them on its own thread).
    zkv_http_counters_t c;
    int64_t deadline = s_now_ms () + 5000;
    do {
        zkv_http_counters (http, &c);
    } while (c.open < 3 && s_now_ms () < deadline && usleep (1000) == 0);
    CHECK_EQ_U64 (c.open, 3);
    char buf[4096];
    int extra = s_connect (port);
    CHECK (extra >= 0);
    (void)!write (extra, "GET /hello HTTP/1.0\r\n\r\n", 23);
    CHECK (s_read_all (extra, buf, sizeof buf, 5000) == 0); // closed, nothing said
    close (extra);
    zkv_http_counters (http, &c);
    CHECK_EQ_U64 (c.refused, 1);
    CHECK_EQ_U64 (c.open, 3);
    // One of the held connections is served.
    CHECK (write (idle[0], "GET /hello HTTP/1.0\r\n\r\n", 23) == 23);
    CHECK (s_read_all (idle[0], buf, sizeof buf, 5000) > 0 && strstr (buf, " 200 "));
    for (int i = 0; i < 3; i++)
        close (idle[i]);
    deadline = s_now_ms () + 5000;
    do {
        zkv_http_counters (http, &c);
    } while (c.open > 0 && s_now_ms () < deadline && usleep (1000) == 0);
    CHECK_EQ_U64 (c.open, 0);
    CHECK (s_ask (port, "GET /hello HTTP/1.0\r\n\r\n", buf, sizeof buf) > 0 &&
           strstr (buf, " 200 "));
    zkv_http_destroy (&http);
}

// A connection that stops talking is closed after the idle timeout (1 s).
static void
test_idle_timeout (void)
{
    int calls = 0;
    zkv_http_t *http = s_server (4, 1000, &calls);
    CHECK (http);
    int fd = s_connect (zkv_http_port (http));
    CHECK (fd >= 0);
    (void)!write (fd, "GET /hel", 8); // half a request line, then silence
    char buf[256];
    int64_t start = s_now_ms ();
    ssize_t n = s_read_all (fd, buf, sizeof buf, 5000);
    int64_t took = s_now_ms () - start;
    close (fd);
    CHECK (n >= 0);      // closed within 5 s
    CHECK (took >= 900); // ... not before the timeout
    CHECK_EQ_U64 (calls, 0);
    zkv_http_destroy (&http);
}

static void
test_bad_endpoints (void)
{
    zkv_http_config_t cfg = {.max_connections = 4, .timeout_ms = 1000};
    CHECK (zkv_http_new (NULL) == NULL);
    zkv_http_config_t zero = cfg;
    zero.max_connections = 0;
    CHECK (zkv_http_new (&zero) == NULL);
    const char *bad[] = {
        "ipc:///tmp/x",          "tcp://localhost:80", "tcp://127.0.0.1", "tcp://127.0.0.1:x",
        "tcp://127.0.0.1:70000", "tcp://[::1:80",      "tcp://:80",       "",
        "tcp://1.2.3.4.5:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zkv_http_t *http = zkv_http_new (&cfg);
        char why[256] = "";
        CHECK (zkv_http_start (http, bad[i], why, sizeof why) == ZKV_EINVAL);
        CHECK (strstr (why, "expected tcp://IP:port"));
        zkv_http_destroy (&http);
    }
    zkv_http_t *unstarted = zkv_http_new (&cfg);
    CHECK (zkv_http_route (unstarted, "no-slash", s_teapot, NULL) == ZKV_EINVAL);
    zkv_http_destroy (&unstarted);
    // An address in use is refused with the reason.
    int calls = 0;
    zkv_http_t *first = s_server (4, 1000, &calls);
    CHECK (first);
    char endpoint[64], why[256] = "";
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u", zkv_http_port (first));
    zkv_http_t *second = zkv_http_new (&cfg);
    CHECK (zkv_http_start (second, endpoint, why, sizeof why) == ZKV_EINVAL);
    CHECK (strstr (why, "cannot serve HTTP at"));
    zkv_http_destroy (&second);
    zkv_http_destroy (&first);
}

ZKV_TEST_MAIN (TEST (test_routes) TEST (test_connection_limit) TEST (test_idle_timeout)
                   TEST (test_bad_endpoints))
