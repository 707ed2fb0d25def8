// The node's HTTP server (zkv_http.h) over libmicrohttpd: one internal polling thread, GET only,
// routes, bounded connections, counters.
#include "zkv_http.h"
#include "zkv_error.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    char *path;             // exact, or a prefix when prefix
    size_t len;             // its length (without the '*')
    bool prefix;            // it ended in '*'
    zkv_http_handler_fn fn; // the handler
    void *arg;              // its argument
} s_route_t;

struct zkv_http {
    zkv_http_config_t cfg;                 // as given
    s_route_t routes[ZKV_HTTP_MAX_ROUTES]; // registered routes
    size_t n_routes;                       // their number
    struct MHD_Daemon *daemon;             // the server, once started
    uint16_t port;                         // the port it listens on
    zkv_http_counters_t counters;          // updated on the server's thread, atomically
};

struct zkv_http_request {
    struct MHD_Connection *conn; // libmicrohttpd's connection
    const char *path;            // the request's path
};

// Counters are written by the server's thread and read by any: relaxed atomics suffice (each
// is a figure of its own).
#define S_ADD(field, n) __atomic_fetch_add (&self->counters.field, (n), __ATOMIC_RELAXED)
#define S_SUB(field, n) __atomic_fetch_sub (&self->counters.field, (n), __ATOMIC_RELAXED)

zkv_http_t *
zkv_http_new (const zkv_http_config_t *cfg)
{
    if (!cfg || cfg->max_connections == 0 || cfg->timeout_ms == 0)
        return NULL;
    zkv_http_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->cfg = *cfg;
    if (self->cfg.max_header_bytes == 0)
        self->cfg.max_header_bytes = 32 * 1024;
    return self;
}

void
zkv_http_destroy (zkv_http_t **self_p)
{
    zkv_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon); // joins its thread, closes every connection
    for (size_t i = 0; i < self->n_routes; i++)
        free (self->routes[i].path);
    free (self);
    *self_p = NULL;
}

int
zkv_http_route (zkv_http_t *self, const char *path, zkv_http_handler_fn fn, void *arg)
{
    assert (self && fn);
    if (self->daemon || self->n_routes == ZKV_HTTP_MAX_ROUTES || !path || path[0] != '/')
        return ZKV_EINVAL;
    s_route_t *r = &self->routes[self->n_routes++];
    r->path = strdup (path);
    if (!r->path)
        abort ();
    r->len = strlen (path);
    r->prefix = r->len > 1 && path[r->len - 1] == '*';
    if (r->prefix)
        r->len--;
    r->fn = fn;
    r->arg = arg;
    return 0;
}

static const s_route_t *
s_find (const zkv_http_t *self, const char *path)
{
    for (size_t i = 0; i < self->n_routes; i++) {
        const s_route_t *r = &self->routes[i];
        if (r->prefix ? strncmp (path, r->path, r->len) == 0 : strcmp (path, r->path) == 0)
            return r;
    }
    return NULL;
}

const char *
zkv_http_path (const zkv_http_request_t *req)
{
    return req->path;
}

const char *
zkv_http_arg (const zkv_http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void
zkv_http_counters (const zkv_http_t *self, zkv_http_counters_t *out)
{
    const uint64_t *from = (const uint64_t *)&self->counters;
    uint64_t *to = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof (uint64_t); i++)
        to[i] = __atomic_load_n (&from[i], __ATOMIC_RELAXED);
}

// --- libmicrohttpd's callbacks (all on the server's thread) ------------------------------------

// Queues a response: the body is taken (freed by libmicrohttpd once sent, or here).
static enum MHD_Result
s_queue (zkv_http_t *self, struct MHD_Connection *conn, int status, const char *type, char *body,
         size_t len, bool allow_get)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback (len, body, free);
    if (!resp) {
        free (body);
        return MHD_NO; // the connection is closed
    }
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    // Figures change every moment: never serve them from a cache.
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow_get)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "GET");
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned)status, resp);
    MHD_destroy_response (resp);
    S_ADD (requests, 1);
    S_ADD (bytes_out, len);
    if (status >= 200 && status < 300)
        S_ADD (ok, 1);
    else if (status == MHD_HTTP_NOT_FOUND)
        S_ADD (not_found, 1);
    else if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        S_ADD (bad_method, 1);
    else
        S_ADD (other, 1);
    return rc;
}

static char *
s_text (const char *text, size_t *len_p)
{
    char *copy = strdup (text);
    if (!copy)
        abort ();
    *len_p = strlen (copy);
    return copy;
}

static enum MHD_Result
s_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    (void)upload_data;
    (void)state;
    zkv_http_t *self = (zkv_http_t *)cls;
    size_t len = 0;
    char *body;
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0) {
        // Answered before any body is read; libmicrohttpd then closes the connection rather
        // than read an upload nobody wants.
        body = s_text ("only GET is served here\n", &len);
        return s_queue (self, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body,
                        len, true);
    }
    if (*upload_data_size) {
        *upload_data_size = 0; // a GET with a body: the body is ignored
        return MHD_YES;
    }
    const s_route_t *route = s_find (self, url);
    if (!route) {
        body = s_text ("not found\n", &len);
        return s_queue (self, conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", body, len,
                        false);
    }
    zkv_http_request_t req = {.conn = conn, .path = url};
    zkv_http_response_t resp = {.status = MHD_HTTP_OK, .content_type = "text/plain; charset=utf-8"};
    route->fn (route->arg, &req, &resp);
    return s_queue (self, conn, resp.status, resp.content_type, resp.body, resp.body ? resp.len : 0,
                    false);
}

// Connections past max_connections are closed as they are accepted (libmicrohttpd's own
// limit would leave them waiting in the kernel's backlog, uncounted).
static enum MHD_Result
s_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    zkv_http_t *self = (zkv_http_t *)cls;
    if (__atomic_load_n (&self->counters.open, __ATOMIC_RELAXED) >= self->cfg.max_connections) {
        S_ADD (refused, 1);
        return MHD_NO;
    }
    return MHD_YES;
}

static void
s_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    zkv_http_t *self = (zkv_http_t *)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        S_ADD (accepted, 1);
        S_ADD (open, 1);
    } else
        S_SUB (open, 1);
}

// libmicrohttpd's own messages (a client that sent garbage, a full connection table): not the
// node's errors, and a scanner could make many; nothing is logged.
static void
s_log (void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

// --- start -------------------------------------------------------------------------------------

static int
s_fail (char *why, size_t whylen, const char *fmt, const char *endpoint)
{
    if (why && whylen)
        snprintf (why, whylen, fmt, endpoint);
    return ZKV_EINVAL;
}

// tcp://A.B.C.D:PORT or tcp://[IPv6]:PORT into addr; 0 or -1.
static int
s_address (const char *endpoint, struct sockaddr_storage *addr, bool *v6)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return -1;
    const char *host = endpoint + 6, *colon = strrchr (host, ':');
    if (!colon || colon == host)
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul (colon + 1, &end, 10);
    if (errno || !end || *end || colon[1] == 0 || port > 65535)
        return -1;
    char ip[64];
    size_t len = (size_t)(colon - host);
    *v6 = host[0] == '[';
    if (*v6) {
        if (len < 3 || host[len - 1] != ']' || len - 2 >= sizeof ip)
            return -1;
        memcpy (ip, host + 1, len - 2);
        ip[len - 2] = 0;
    } else {
        if (len >= sizeof ip)
            return -1;
        memcpy (ip, host, len);
        ip[len] = 0;
    }
    memset (addr, 0, sizeof *addr);
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons ((uint16_t)port);
        return inet_pton (AF_INET6, ip, &a->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)addr;
    a->sin_family = AF_INET;
    a->sin_port = htons ((uint16_t)port);
    return inet_pton (AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

int
zkv_http_start (zkv_http_t *self, const char *endpoint, char *why, size_t whylen)
{
    assert (self && !self->daemon);
    struct sockaddr_storage addr;
    bool v6 = false;
    if (!endpoint || s_address (endpoint, &addr, &v6) != 0)
        return s_fail (why, whylen, "bad HTTP endpoint '%s' (expected tcp://IP:port)",
                       endpoint ? endpoint : "");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    unsigned timeout_s = (unsigned)((self->cfg.timeout_ms + 999) / 1000);
    // libmicrohttpd's own limit is one above ours, so that it keeps accepting, and s_accept
    // closes (and counts) what is past ours.
    self->daemon = MHD_start_daemon (
        flags, 0, s_accept, self, s_request, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(self->cfg.max_connections + 1),
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        self->cfg.max_header_bytes, MHD_OPTION_NOTIFY_CONNECTION, s_connection, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, self, MHD_OPTION_END);
    if (!self->daemon) {
        int err = errno;
        if (why && whylen)
            snprintf (why, whylen, "cannot serve HTTP at %s: %s", endpoint,
                      err ? strerror (err) : "libmicrohttpd refused to start");
        return ZKV_EINVAL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    return 0;
}

uint16_t
zkv_http_port (const zkv_http_t *self)
{
    return self->port;
}
