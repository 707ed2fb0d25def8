// What every zkv command shares: the node list (config file or --endpoints), errors, input, JSON.
#include "zkv_cli.h"

#ifdef ZKV_CLI_HAVE_CONFIG
#include "zkv_config.h"
#endif

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <time.h>

void
zkv_cli_error (const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "zkv%s%s: ", *cmd ? " " : "", cmd);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
}

int
zkv_cli_usage (const zkv_cli_command_t *cmd)
{
    fprintf (stderr, "%s", cmd->usage);
    return ZKV_CLI_USAGE;
}

bool
zkv_cli_is_help (const char *arg)
{
    return streq (arg, "-h") || streq (arg, "--help");
}

bool
zkv_cli_parse_u64 (const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int
zkv_cli_exit_code (int rc)
{
    // A session that expired under a retry leaves the outcome as unknown as a timeout does.
    return rc == 0                                      ? ZKV_CLI_OK
           : rc == ZKV_ETIMEOUT || rc == ZKV_ESESSION ? ZKV_CLI_UNKNOWN
                                                        : ZKV_CLI_ERROR;
}

// Splits "a,b,c" into a new array of heap strings; returns the count.
static size_t
s_split (const char *list, char ***out)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **items = zmalloc (n * sizeof *items);
    size_t count = 0;
    const char *start = list;
    while (true) {
        const char *comma = strchr (start, ',');
        size_t len = comma ? (size_t)(comma - start) : strlen (start);
        if (len > 0)
            items[count++] = strndup (start, len);
        if (!comma)
            break;
        start = comma + 1;
    }
    *out = items;
    return count;
}

int
zkv_cli_nodes (zkv_cli_t *cli)
{
    if (cli->n)
        return 0;
    if (cli->endpoints) {
        cli->n = s_split (cli->endpoints, &cli->client_eps);
        if (cli->n == 0) {
            zkv_cli_error ("", "--endpoints lists no endpoint");
            return -1;
        }
        cli->ids = zmalloc (cli->n * sizeof *cli->ids);
        for (size_t i = 0; i < cli->n; i++)
            cli->ids[i] = i + 1;
        cli->event_eps = zmalloc (cli->n * sizeof *cli->event_eps);
        if (cli->server_keys) {
            // CURVE with endpoints: one key per node, in the same order.
            size_t n = s_split (cli->server_keys, &cli->node_keys);
            cli->curve = true;
            if (n != cli->n) {
                for (size_t i = 0; i < n; i++)
                    free (cli->node_keys[i]);
                free (cli->node_keys);
                cli->node_keys = NULL;
                zkv_cli_error ("", "--server-keys lists %zu keys, --endpoints %zu", n, cli->n);
                return -1;
            }
        }
        if (cli->events) {
            char **events;
            size_t n = s_split (cli->events, &events);
            for (size_t i = 0; i < n; i++) {
                if (i < cli->n)
                    cli->event_eps[i] = events[i];
                else
                    free (events[i]);
            }
            free (events);
            if (n != cli->n) {
                zkv_cli_error ("", "--events lists %zu endpoints, --endpoints %zu", n, cli->n);
                return -1;
            }
        }
        return 0;
    }
#ifdef ZKV_CLI_HAVE_CONFIG
    char err[512];
    zkv_config_t *config = zkv_config_load (cli->config_path, err, sizeof err);
    if (!config) {
        zkv_cli_error ("", "%s", err);
        if (!cli->explicit_config && !zsys_file_exists (cli->config_path))
            fprintf (stderr, "zkv: give --config FILE, $ZKV_CONFIG or --endpoints URL,...\n");
        return -1;
    }
    cli->n = zkv_config_node_count (config);
    cli->ids = zmalloc ((cli->n ? cli->n : 1) * sizeof *cli->ids);
    cli->client_eps = zmalloc ((cli->n ? cli->n : 1) * sizeof *cli->client_eps);
    cli->event_eps = zmalloc ((cli->n ? cli->n : 1) * sizeof *cli->event_eps);
    for (size_t i = 0; i < cli->n; i++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, i);
        cli->ids[i] = node->id;
        cli->client_eps[i] = strdup (node->client);
        cli->event_eps[i] = node->events ? strdup (node->events) : NULL;
    }
    cli->max_key = zkv_config_max_key_bytes (config);
    cli->max_value = zkv_config_max_value_bytes (config);
    cli->stats_interval_ms = zkv_config_cluster (config)->stats_interval_ms;
    if (zkv_config_curve (config)) {
        // The nodes' keys from the file (their certs or public_keys), as zkvd reads them.
        if (zkv_config_check_keys (config, err, sizeof err) != 0) {
            zkv_cli_error ("", "%s", err);
            zkv_config_destroy (&config);
            return -1;
        }
        cli->curve = true;
        cli->node_keys = zmalloc (cli->n * sizeof *cli->node_keys);
        for (size_t i = 0; i < cli->n; i++) {
            char key[41];
            zkv_config_node_key (config, zkv_config_node_at (config, i), key, NULL, 0);
            cli->node_keys[i] = strdup (key);
        }
        const char *cert = zkv_config_cluster (config)->client_cert;
        cli->config_key = cert ? strdup (cert) : NULL;
    }
    zkv_config_destroy (&config);
    if (cli->n == 0) {
        zkv_cli_error ("", "%s defines no node", cli->config_path);
        return -1;
    }
    return 0;
#else
    zkv_cli_error ("", "this zkv was built without config support: use --endpoints");
    return -1;
#endif
}

void
zkv_cli_fini (zkv_cli_t *cli)
{
    for (size_t i = 0; i < cli->n; i++) {
        free (cli->client_eps[i]);
        if (cli->event_eps)
            free (cli->event_eps[i]);
        if (cli->node_keys)
            free (cli->node_keys[i]);
    }
    free (cli->node_keys);
    cli->node_keys = NULL;
    free (cli->config_key);
    cli->config_key = NULL;
    free (cli->client_eps);
    free (cli->event_eps);
    free (cli->ids);
    cli->n = 0;
    cli->client_eps = cli->event_eps = NULL;
    cli->ids = NULL;
}

const char *
zkv_cli_key_file (zkv_cli_t *cli)
{
    const char *key = cli->key_file;
    if (!key || !*key)
        key = getenv ("ZKV_KEY");
    if (!key || !*key)
        key = cli->config_key;
    if (!key || !*key) {
        zkv_cli_error ("", "the cluster runs CURVE: give a client key (--key FILE or $ZKV_KEY; "
                           "`zkv keygen FILE` makes one, which the cluster must allow in "
                           "/cluster/client_keys)");
        return NULL;
    }
    return key;
}

bool
zkv_cli_secure (zkv_cli_t *cli, size_t i, zsock_t *sock)
{
    if (!cli->curve)
        return true;
    const char *key = zkv_cli_key_file (cli);
    if (!key)
        return false;
    char *secret = zsys_sprintf ("%s_secret", key);
    zcert_t *cert = secret && zsys_file_exists (secret) ? zcert_load (key) : NULL;
    zstr_free (&secret);
    if (!cert) {
        zkv_cli_error ("", "cannot read the client key %s and its %s_secret", key, key);
        return false;
    }
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, cli->node_keys[i]);
    zcert_destroy (&cert);
    return true;
}

zkv_client_t *
zkv_cli_client (zkv_cli_t *cli)
{
    if (zkv_cli_nodes (cli) != 0)
        return NULL;
    zkv_client_t *client = NULL;
    if (cli->curve) {
        const char *key = zkv_cli_key_file (cli);
        if (!key)
            return NULL;
        char err[512] = "";
        client = zkv_client_new_curve (cli->ids, (const char *const *)cli->client_eps,
                                       (const char *const *)cli->node_keys, cli->n, key, err,
                                       sizeof err);
        if (!client) {
            zkv_cli_error ("", "%s", err);
            return NULL;
        }
    } else
        client = zkv_client_new_nodes (cli->ids, (const char *const *)cli->client_eps, cli->n);
    if (!client) {
        zkv_cli_error ("", "cannot connect to the client endpoints (is one malformed?)");
        return NULL;
    }
    if (cli->max_key && cli->max_value)
        zkv_client_set_limits (client, cli->max_key, cli->max_value);
    return client;
}

int
zkv_cli_read_stdin (void **data_p, size_t *len_p, size_t max)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = zmalloc (cap);
    while (true) {
        if (len == cap) {
            cap *= 2;
            buf = realloc (buf, cap);
            if (!buf)
                abort ();
        }
        size_t got = fread (buf + len, 1, cap - len, stdin);
        len += got;
        if (len > max) {
            free (buf);
            return ZKV_ETOOBIG;
        }
        if (got == 0) {
            if (ferror (stdin)) {
                free (buf);
                return ZKV_EIO;
            }
            break;
        }
    }
    *data_p = buf;
    *len_p = len;
    return 0;
}

void
zkv_cli_json_string (FILE *out, const void *data, size_t len)
{
    const uint8_t *p = data;
    fputc ('"', out);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c == '\n')
            fputs ("\\n", out);
        else if (c == '\t')
            fputs ("\\t", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf (out, "\\u%04x", c); // bytes as code points: binary-safe, not UTF-8
        else
            fputc (c, out);
    }
    fputc ('"', out);
}

int64_t
zkv_cli_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
