// zkv_http: a node's HTTP server (libmicrohttpd), for people and monitoring systems: GET only,
// on routes registered before it starts (path -> handler producing a body and its content
// type). What it serves is the business of the route's owner (the metrics, actors/zkv_stats.c).
//
// Limits: at most max_connections open at once (more are closed as they are accepted, and
// counted), a connection idle for timeout_ms is closed, a request's headers fit in
// max_header_bytes (libmicrohttpd answers a larger one itself). Anything but GET is answered
// 405, a path no route takes 404.
//
// Threads: the server runs one thread of its own (libmicrohttpd's internal polling thread);
// handlers run there, one at a time. A handler reads what other threads write only through a
// lock of its own (the stats board is one). Routes are fixed once the server started.
#ifndef ZKV_HTTP_H
#define ZKV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_http zkv_http_t;
typedef struct zkv_http_request zkv_http_request_t;

typedef struct {
    size_t max_connections;  // open at once
    uint32_t timeout_ms;     // an idle connection is closed (in whole seconds, rounded up)
    size_t max_header_bytes; // a request's line and headers (libmicrohttpd's per-connection
                             // memory pool; 0: 32 KiB)
} zkv_http_config_t;

// What a handler answers; the server sets status 200 and content type text/plain first.
typedef struct {
    int status;               // HTTP status code
    const char *content_type; // a string that outlives the response (a literal)
    char *body;               // the body, heap-allocated: the server frees it (NULL: empty)
    size_t len;               // its length in bytes
} zkv_http_response_t;

// A route's handler; arg is what the route was registered with.
typedef void (*zkv_http_handler_fn) (void *arg, const zkv_http_request_t *req,
                                     zkv_http_response_t *resp);

typedef struct {
    uint64_t requests;   // requests answered
    uint64_t ok;         // ... 2xx
    uint64_t not_found;  // ... 404: no route
    uint64_t bad_method; // ... 405: not GET
    uint64_t other;      // ... any other status a handler chose
    uint64_t bytes_out;  // body bytes queued
    uint64_t accepted;   // connections accepted
    uint64_t refused;    // connections closed at once: max_connections were open
    uint64_t open;       // connections open now
} zkv_http_counters_t;

#define ZKV_HTTP_MAX_ROUTES 32

zkv_http_t *zkv_http_new (const zkv_http_config_t *cfg);
// Stops the server (if started; waits for its thread) and frees it; nulls *self_p.
void zkv_http_destroy (zkv_http_t **self_p);

// Registers a route before zkv_http_start: path is matched exactly ("/metrics"), or, ending in
// '*', as a prefix ("/api/*"); the first route registered that matches wins. path is copied.
// 0, or ZKV_EINVAL (started already, ZKV_HTTP_MAX_ROUTES taken, a path not starting with '/').
int zkv_http_route (zkv_http_t *self, const char *path, zkv_http_handler_fn fn, void *arg);

// Binds endpoint (tcp://A.B.C.D:PORT or tcp://[IPv6]:PORT; port 0 picks a free one) and serves
// from a thread of its own. 0, or ZKV_EINVAL with why (a bad endpoint, the address taken).
int zkv_http_start (zkv_http_t *self, const char *endpoint, char *why, size_t whylen);
// The port it listens on (0 before it started).
uint16_t zkv_http_port (const zkv_http_t *self);

// The request's path (without the query string), and a query argument (NULL: none).
const char *zkv_http_path (const zkv_http_request_t *req);
const char *zkv_http_arg (const zkv_http_request_t *req, const char *name);

// The counters (read from any thread).
void zkv_http_counters (const zkv_http_t *self, zkv_http_counters_t *out);

#endif
