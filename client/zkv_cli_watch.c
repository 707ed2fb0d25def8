// zkv watch: subscribes to every node's event socket and prints events (lines or JSON lines).
#include "zkv_cli.h"

#include "zkv_msg.h"

#include <czmq.h>
#include <inttypes.h>
#include <time.h>

typedef struct {
    FILE *out;  // where to print
    bool json;  // JSON lines, else human lines
    bool first; // no field printed yet on this line
} s_printer_t;

static void
s_key (s_printer_t *p, const char *name)
{
    if (p->json)
        fprintf (p->out, ", \"%s\": ", name);
    else
        fprintf (p->out, " %s=", name);
    p->first = false;
}

static void
s_print_U64 (s_printer_t *p, const char *name, const uint64_t *v)
{
    if (!p->json && streq (name, "time_ms"))
        return; // the human line starts with it
    if (!p->json && streq (name, "role")) {
        s_key (p, name);
        fprintf (p->out, "%s", zkv_client_role_name (*v));
        return;
    }
    if (!p->json && streq (name, "status")) {
        s_key (p, name);
        fprintf (p->out, "%s", zkv_errname (*v < ZKV_ERROR_COUNT_ ? -(int)*v : ZKV_EPROTO));
        return;
    }
    s_key (p, name);
    fprintf (p->out, "%" PRIu64, *v);
}

static void
s_print_BOOL (s_printer_t *p, const char *name, const bool *v)
{
    s_key (p, name);
    fprintf (p->out, "%s", *v ? "true" : "false");
}

static void
s_print_BYTES (s_printer_t *p, const char *name, const zkv_bytes_t *v)
{
    s_key (p, name);
    zkv_cli_json_string (p->out, v->data, v->len);
}

static void
s_print_U64S (s_printer_t *p, const char *name, const zkv_u64s_t *v)
{
    s_key (p, name);
    fprintf (p->out, p->json ? "[" : "");
    for (size_t i = 0; i < v->count; i++)
        fprintf (p->out, "%s%" PRIu64, i ? "," : "", v->items[i]);
    fprintf (p->out, p->json ? "]" : "");
}

static void
s_print_ENTRIES (s_printer_t *p, const char *name, const zkv_entries_t *v)
{
    s_key (p, name);
    fprintf (p->out, "%zu", v->count); // events carry none; a count is enough
}

// Prints every field of a decoded message, whatever its type (expanded from the table).
static void
s_print_fields (s_printer_t *p, const zkv_msg_t *msg)
{
#define S_FIELD(type, field, doc) s_print_##type (p, #field, &m->field);
#define S_CASE(id, name, NAME, fields)                                                             \
    case ZKV_MSG_##NAME: {                                                                         \
        const zkv_##name##_t *m = &msg->u.name;                                                    \
        fields (S_FIELD) break;                                                                    \
    }
    switch (msg->type) {
        ZKV_MSG_TABLE (S_CASE)
    default:
        break;
    }
#undef S_CASE
#undef S_FIELD
}

// The event's wall-clock time (its time_ms field when it has one, else now), as HH:MM:SS.mmm.
static void
s_print_time (FILE *out, const zkv_msg_t *msg)
{
    uint64_t ms = (uint64_t)zclock_time ();
    if (msg && msg->type == ZKV_MSG_EVENT_NODE)
        ms = msg->u.event_node.time_ms;
    else if (msg && msg->type == ZKV_MSG_EVENT_RAFT)
        ms = msg->u.event_raft.time_ms;
    else if (msg && msg->type == ZKV_MSG_EVENT_CLIENT_ERROR)
        ms = msg->u.event_client_error.time_ms;
    else if (msg && msg->type == ZKV_MSG_EVENT_SHARD)
        ms = msg->u.event_shard.time_ms;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r (&secs, &tm);
    fprintf (out, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void
s_print_event (bool json, uint64_t node, const char *topic, const uint8_t *body, size_t len)
{
    zkv_msg_t msg;
    bool ok = zkv_msg_decode (body, len, &msg) == 0;
    s_printer_t p = {.out = stdout, .json = json, .first = true};
    if (json) {
        printf ("{\"topic\": ");
        zkv_cli_json_string (stdout, topic, strlen (topic));
        printf (", \"from\": %" PRIu64, node);
        if (ok) {
            printf (", \"type\": \"%s\"", zkv_msg_name (msg.type));
            s_print_fields (&p, &msg);
        } else {
            printf (", \"undecoded\": ");
            zkv_cli_json_string (stdout, body, len);
        }
        printf ("}\n");
    } else {
        s_print_time (stdout, ok ? &msg : NULL);
        printf (" node %" PRIu64 " %s", node, topic);
        if (ok)
            s_print_fields (&p, &msg);
        else
            printf (" (%zu bytes that do not decode)", len);
        printf ("\n");
    }
    fflush (stdout);
    if (ok)
        zkv_msg_free (&msg);
}

static int
s_watch (zkv_cli_t *cli, int argc, char **argv)
{
    bool json = false;
    uint64_t count = 0; // stop after this many events, 0 never
    zlist_t *topics = zlist_new ();
    int rc = ZKV_CLI_OK;
    for (int i = 1; i < argc && rc == ZKV_CLI_OK; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else if (streq (argv[i], "--topic") && i + 1 < argc)
            zlist_append (topics, argv[++i]);
        else if (streq (argv[i], "--count") && i + 1 < argc &&
                 zkv_cli_parse_u64 (argv[i + 1], 1, UINT64_MAX, &count))
            i++;
        else
            rc = zkv_cli_usage (&zkv_cli_watch_cmd);
    }
    if (rc == ZKV_CLI_OK && zkv_cli_nodes (cli) != 0)
        rc = ZKV_CLI_ERROR;
    zsock_t **subs = zmalloc ((cli->n ? cli->n : 1) * sizeof *subs);
    zpoller_t *poller = zpoller_new (NULL);
    for (size_t i = 0; i < cli->n && rc == ZKV_CLI_OK; i++) {
        if (!cli->event_eps[i]) {
            zkv_cli_error ("watch", "node %" PRIu64 " has no event endpoint (--events)",
                           cli->ids[i]);
            rc = ZKV_CLI_USAGE;
            break;
        }
        subs[i] = zsock_new (ZMQ_SUB);
        if (!zkv_cli_secure (cli, i, subs[i])) {
            rc = ZKV_CLI_ERROR;
            break;
        }
        if (zsock_connect (subs[i], "%s", cli->event_eps[i]) != 0) {
            zkv_cli_error ("watch", "bad event endpoint %s", cli->event_eps[i]);
            rc = ZKV_CLI_ERROR;
            break;
        }
        if (zlist_size (topics) == 0)
            zsock_set_subscribe (subs[i], "");
        for (char *t = zlist_first (topics); t; t = zlist_next (topics))
            zsock_set_subscribe (subs[i], t);
        zpoller_add (poller, subs[i]);
    }
    uint64_t seen = 0;
    while (rc == ZKV_CLI_OK && (count == 0 || seen < count)) {
        zsock_t *which = zpoller_wait (poller, 1000);
        if (zpoller_terminated (poller) || zsys_interrupted)
            break;
        if (!which)
            continue;
        size_t node = 0;
        while (subs[node] != which)
            node++;
        zmsg_t *msg = zmsg_recv (which);
        if (!msg)
            break;
        zframe_t *topic = zmsg_first (msg), *body = zmsg_next (msg);
        if (topic && body) {
            char *t = zframe_strdup (topic);
            s_print_event (json, cli->ids[node], t, zframe_data (body), zframe_size (body));
            free (t);
            seen++;
        }
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    for (size_t i = 0; i < cli->n; i++)
        zsock_destroy (&subs[i]);
    free (subs);
    zlist_destroy (&topics);
    return rc;
}

const zkv_cli_command_t zkv_cli_watch_cmd = {
    "watch", "print the nodes' events as they happen",
    "usage: zkv watch [--json] [--topic PREFIX]... [--count N]\n\n"
    "Subscribes to every node's event socket (the config's events endpoints, or --events)\n"
    "and prints one line per event until Ctrl-C:\n"
    "  14:02:11.532 node 2 zkv.raft.leader node=2 group=1 term=3 leader=2 role=leader ...\n"
    "  --json          JSON lines: {\"topic\", \"from\", \"type\", fields...}\n"
    "  --topic PREFIX  only topics starting with PREFIX (repeatable), e.g. zkv.raft\n"
    "  --count N       stop after N events\n\n"
    "exit codes: 0 ok (Ctrl-C or --count reached), 1 error, 2 usage\n",
    s_watch};
