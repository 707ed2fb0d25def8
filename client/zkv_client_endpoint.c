// A client endpoint, checked and written as ZeroMQ connects to it: "host:port" means
// "tcp://host:port"; a bad one gets a reason naming what is wrong.
#include "zkv_client.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EXPECTED "expected host:port, tcp://host:port or ipc://path"

static int
s_bad (char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (why, whylen, fmt, ap);
        va_end (ap);
    }
    return ZKV_EINVAL;
}

// A host name or IPv4 address (letters, digits, '-', '.'), or an IPv6 address in brackets.
static bool
s_host_ok (const char *host, size_t len)
{
    if (len == 0)
        return false;
    if (host[0] == '[') {
        if (len < 3 || host[len - 1] != ']')
            return false;
        for (size_t i = 1; i < len - 1; i++)
            if (!isxdigit ((unsigned char)host[i]) && host[i] != ':' && host[i] != '.')
                return false;
        return true;
    }
    if (host[0] == '-' || host[0] == '.' || host[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char)host[i]) && host[i] != '-' && host[i] != '.')
            return false;
    return true;
}

// Checks "host:port" (the part after tcp://, or all of a bare endpoint).
static int
s_check_tcp (const char *endpoint, const char *hostport, char *why, size_t whylen)
{
    const char *colon = strrchr (hostport, ':');
    const char *bracket = strchr (hostport, ']');
    if (hostport[0] == '[' ? !bracket || !colon || colon < bracket : !colon)
        return s_bad (why, whylen, "'%s' has no port (%s)", endpoint, S_EXPECTED);
    if (hostport[0] != '[' && strchr (hostport, ':') != colon)
        return s_bad (why, whylen, "'%s': an IPv6 address goes in brackets, as in tcp://[::1]:port",
                      endpoint);
    size_t host_len = (size_t)(colon - hostport);
    if (host_len == 0)
        return s_bad (why, whylen, "'%s' has no host (%s)", endpoint, S_EXPECTED);
    if ((host_len == 1 && hostport[0] == '*') || !s_host_ok (hostport, host_len))
        return s_bad (why, whylen, "'%s': '%.*s' is not a host name or address", endpoint,
                      (int)host_len, hostport);
    const char *port = colon + 1;
    size_t digits = strspn (port, "0123456789");
    long value = digits && digits <= 5 && port[digits] == 0 ? strtol (port, NULL, 10) : 0;
    if (value < 1 || value > 65535)
        return s_bad (why, whylen, "'%s': the port must be a number in 1..65535, not '%s'",
                      endpoint, port);
    return 0;
}

int
zkv_client_endpoint (const char *endpoint, char *out, size_t outlen, char *why, size_t whylen)
{
    if (!endpoint || !*endpoint)
        return s_bad (why, whylen, "an empty endpoint (%s)", S_EXPECTED);
    size_t len = strlen (endpoint);
    if (len > ZKV_CLIENT_MAX_ENDPOINT)
        return s_bad (why, whylen, "an endpoint of %zu bytes (at most %d)", len,
                      ZKV_CLIENT_MAX_ENDPOINT);
    for (const char *p = endpoint; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return s_bad (why, whylen, "'%s' holds white space or a control character", endpoint);
    const char *scheme_end = strstr (endpoint, "://");
    int rc = 0;
    bool bare = false;
    if (!scheme_end) {
        bare = true; // host:port means TCP
        rc = s_check_tcp (endpoint, endpoint, why, whylen);
    } else if (strncmp (endpoint, "tcp://", 6) == 0)
        rc = s_check_tcp (endpoint, endpoint + 6, why, whylen);
    else if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0) {
        if (!scheme_end[3] || strcmp (scheme_end + 3, "*") == 0)
            rc = s_bad (why, whylen, "'%s' names no path (%s)", endpoint, S_EXPECTED);
    } else
        rc = s_bad (why, whylen, "'%s': unknown transport '%.*s' (%s)", endpoint,
                    (int)(scheme_end - endpoint + 3), endpoint, S_EXPECTED);
    if (rc || !out)
        return rc;
    int n = snprintf (out, outlen, "%s%s", bare ? "tcp://" : "", endpoint);
    if (n < 0 || (size_t)n >= outlen)
        return s_bad (why, whylen, "'%s' does not fit in %zu bytes", endpoint, outlen);
    return 0;
}
