// The status page's routes on the node's HTTP endpoint (zkv_http.h): "/" is the page
// (actors/www/status.html, built in), "/api/cluster" the cluster view as JSON, which the page
// asks for every second (docs/events.md, "The status page").
#include "zkv_status.h"
#include "zkv_http.h"

#include <stdlib.h>
#include <string.h>

// The page's bytes (generated from actors/www/status.html by actors/www/embed.cmake).
extern const char zkv_status_html[];
extern const size_t zkv_status_html_len;

static void
s_page (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    (void)arg;
    (void)req;
    resp->body = (char *)malloc (zkv_status_html_len + 1); // the server frees it
    if (!resp->body)
        abort (); // out of memory aborts (STYLE.md)
    memcpy (resp->body, zkv_status_html, zkv_status_html_len);
    resp->len = zkv_status_html_len;
    resp->content_type = "text/html; charset=utf-8";
}

static void
s_cluster (void *arg, const zkv_http_request_t *req, zkv_http_response_t *resp)
{
    (void)req;
    resp->body = zkv_status_json ((zkv_status_t *)arg, &resp->len);
    resp->content_type = "application/json";
}

void
zkv_status_routes (zkv_http_t *http, zkv_status_t *status)
{
    int rc = zkv_http_route (http, "/", s_page, NULL);
    rc |= zkv_http_route (http, "/api/cluster", s_cluster, status);
    assert (rc == 0); // our own routes, registered before the server starts
}
