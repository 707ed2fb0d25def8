// zkv watch: subscribes to every node's event socket and prints events (lines or JSON lines);
// flags nodes whose zkv.node.stats beats stop (zkv_cli_liveness.h).
#include "zkv_cli.h"
#include "zkv_cli_liveness.h"

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
s_print_u64 (void *arg, const char *name, uint64_t v)
{
    s_printer_t *p = arg;
    if (!p->json && streq (name, "time_ms"))
        return; // the human line starts with it
    if (streq (name, "role")) { // a name, as zkv status gives it
        s_key (p, name);
        fprintf (p->out, p->json ? "\"%s\"" : "%s", zkv_client_role_name (v));
        return;
    }
    if (!p->json && streq (name, "status")) {
        s_key (p, name);
        fprintf (p->out, "%s", zkv_errname (v < ZKV_ERROR_COUNT_ ? -(int)v : ZKV_EPROTO));
        return;
    }
    s_key (p, name);
    fprintf (p->out, "%" PRIu64, v);
}

static void
s_print_bool (void *arg, const char *name, bool v)
{
    s_printer_t *p = arg;
    s_key (p, name);
    fprintf (p->out, "%s", v ? "true" : "false");
}

static void
s_print_bytes (void *arg, const char *name, const zkv_bytes_t *v)
{
    s_printer_t *p = arg;
    s_key (p, name);
    zkv_cli_json_string (p->out, v->data, v->len);
}

static void
s_print_u64s (void *arg, const char *name, const zkv_u64s_t *v)
{
    s_printer_t *p = arg;
    bool roles = streq (name, "roles"); // names, as zkv status gives them
    s_key (p, name);
    fprintf (p->out, p->json ? "[" : "");
    for (size_t i = 0; i < v->count; i++) {
        if (roles)
            fprintf (p->out, p->json ? "%s\"%s\"" : "%s%s", i ? "," : "",
                     zkv_client_role_name (v->items[i]));
        else
            fprintf (p->out, "%s%" PRIu64, i ? "," : "", v->items[i]);
    }
    fprintf (p->out, p->json ? "]" : "");
}

static void
s_print_entries (void *arg, const char *name, const zkv_entries_t *v)
{
    s_printer_t *p = arg;
    s_key (p, name);
    fprintf (p->out, "%zu", v->count); // events carry none; a count is enough
}

// Prints every field of a decoded message, whatever its type.
static void
s_print_fields (s_printer_t *p, const zkv_msg_t *msg)
{
    static const zkv_msg_visitor_t visitor = {
        .u64 = s_print_u64,
        .boolean = s_print_bool,
        .bytes = s_print_bytes,
        .u64s = s_print_u64s,
        .entries = s_print_entries,
    };
    zkv_msg_visit (msg, &visitor, p);
}

// The event's wall-clock time (its time_ms field when it has one, else now), as HH:MM:SS.mmm.
static void
s_print_time (FILE *out, const zkv_msg_t *msg)
{
    uint64_t ms = msg ? zkv_msg_event_time_ms (msg) : 0;
    if (ms == 0)
        ms = (uint64_t)zclock_time ();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r (&secs, &tm);
    fprintf (out, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void
s_print_event (bool json, uint64_t node, const char *topic, const zkv_msg_t *msg,
               const uint8_t *body, size_t len)
{
    s_printer_t p = {.out = stdout, .json = json, .first = true};
    if (json) {
        printf ("{\"topic\": ");
        zkv_cli_json_string (stdout, topic, strlen (topic));
        printf (", \"from\": %" PRIu64, node);
        if (msg) {
            printf (", \"type\": \"%s\"", zkv_msg_name (msg->type));
            s_print_fields (&p, msg);
        } else {
            printf (", \"undecoded\": ");
            zkv_cli_json_string (stdout, body, len);
        }
        printf ("}\n");
    } else {
        s_print_time (stdout, msg);
        printf (" node %" PRIu64 " %s", node, topic);
        if (msg)
            s_print_fields (&p, msg);
        else
            printf (" (%zu bytes that do not decode)", len);
        printf ("\n");
    }
    fflush (stdout);
}

// A node fell silent, or came back: one line, in the shape of the events (JSON: topic
// zkv.watch.silent or zkv.watch.back, from the watcher itself, not a node).
static void
s_print_liveness (bool json, bool back, const zkv_liveness_change_t *c)
{
    if (json) {
        printf ("{\"topic\": \"zkv.watch.%s\", \"from\": %" PRIu64 ", \"type\": \"liveness\", "
                "\"node\": %" PRIu64 ", \"time_ms\": %" PRId64 ", \"silent_ms\": %" PRIu64,
                back ? "back" : "silent", c->node, c->node, zclock_time (), c->silent_ms);
        if (back)
            printf (", \"restarted\": %s", c->restarted ? "true" : "false");
        else
            printf (", \"never_heard\": %s", c->never_heard ? "true" : "false");
        printf ("}\n");
    } else {
        s_print_time (stdout, NULL);
        if (back)
            printf (" node %" PRIu64 " back after %.1f s%s\n", c->node,
                    (double)c->silent_ms / 1000.0, c->restarted ? " (restarted)" : "");
        else
            printf (" node %" PRIu64 " silent for %.1f s%s\n", c->node,
                    (double)c->silent_ms / 1000.0, c->never_heard ? " (never heard)" : "");
    }
    fflush (stdout);
}

static const char s_stats_topic[] = "zkv.node.stats";

// True when topic starts with one of the --topic prefixes.
static bool
s_asked (zlist_t *topics, const char *topic)
{
    for (char *t = zlist_first (topics); t; t = zlist_next (topics))
        if (strncmp (topic, t, strlen (t)) == 0)
            return true;
    return false;
}

// Nodes silent this long (in their intervals) are flagged.
#define S_MISSED_BEATS 3

static int
s_watch (zkv_cli_t *cli, int argc, char **argv)
{
    bool json = false, stats = false, liveness = false;
    uint64_t count = 0; // stop after this many events, 0 never
    zlist_t *topics = zlist_new ();
    int rc = ZKV_CLI_OK;
    for (int i = 1; i < argc && rc == ZKV_CLI_OK; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else if (streq (argv[i], "--stats"))
            stats = liveness = true;
        else if (streq (argv[i], "--liveness"))
            liveness = true;
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
        // With --stats or --liveness, every node's beats, whatever else is asked for: they
        // tell which nodes are silent.
        if (zlist_size (topics) == 0)
            zsock_set_subscribe (subs[i], "");
        else if (liveness)
            zsock_set_subscribe (subs[i], s_stats_topic);
        for (char *t = zlist_first (topics); t; t = zlist_next (topics))
            zsock_set_subscribe (subs[i], t);
        zpoller_add (poller, subs[i]);
    }
    // Before a node's first beat says its interval, the config's is expected (or the default).
    uint64_t interval = cli->stats_interval_ms ? cli->stats_interval_ms : 1000;
    zkv_liveness_t *live = rc == ZKV_CLI_OK && liveness
                               ? zkv_liveness_new (cli->ids, cli->n, interval, S_MISSED_BEATS,
                                                   zclock_mono ())
                               : NULL;
    uint64_t seen = 0;
    while (rc == ZKV_CLI_OK && (count == 0 || seen < count)) {
        zkv_liveness_change_t change;
        while (live && zkv_liveness_check (live, zclock_mono (), &change))
            s_print_liveness (json, false, &change);
        int64_t wait = live ? zkv_liveness_next_ms (live, zclock_mono ()) : -1;
        zsock_t *which = zpoller_wait (poller, wait >= 0 && wait < 1000 ? (int)wait + 1 : 1000);
        if (zpoller_terminated (poller) || zsys_interrupted)
            break;
        if (!which)
            continue;
        size_t node = 0;
        while (subs[node] != which)
            node++;
        zmsg_t *zm = zmsg_recv (which);
        if (!zm)
            break;
        zframe_t *topic = zmsg_first (zm), *body = zmsg_next (zm);
        if (topic && body) {
            char *t = zframe_strdup (topic);
            zkv_msg_t msg;
            bool ok = zkv_msg_decode (zframe_data (body), zframe_size (body), &msg) == 0;
            bool beat = streq (t, s_stats_topic);
            if (live && beat && ok && msg.type == ZKV_MSG_EVENT_STATS &&
                zkv_liveness_beat (live, cli->ids[node], msg.u.event_stats.seq,
                                   msg.u.event_stats.interval_ms, zclock_mono (), &change))
                s_print_liveness (json, true, &change);
            // Beats are shown on request: --stats, or a --topic that names them.
            if (!beat || stats || s_asked (topics, t)) {
                s_print_event (json, cli->ids[node], t, ok ? &msg : NULL, zframe_data (body),
                               zframe_size (body));
                seen++;
            }
            if (ok)
                zkv_msg_free (&msg);
            free (t);
        }
        zmsg_destroy (&zm);
    }
    zkv_liveness_destroy (&live);
    zpoller_destroy (&poller);
    for (size_t i = 0; i < cli->n; i++)
        zsock_destroy (&subs[i]);
    free (subs);
    zlist_destroy (&topics);
    return rc;
}

const zkv_cli_command_t zkv_cli_watch_cmd = {
    "watch", "print the nodes' events as they happen; flag nodes that fall silent",
    "usage: zkv watch [--json] [--stats | --liveness] [--topic PREFIX]... [--count N]\n\n"
    "Subscribes to every node's event socket (the config's events endpoints, or --events)\n"
    "and prints one line per event until Ctrl-C:\n"
    "  14:02:11.532 node 2 zkv.raft.leader node=2 group=1 term=3 leader=2 role=leader ...\n"
    "Every node publishes zkv.node.stats every /cluster/stats_interval_ms (hidden unless\n"
    "asked for). With --stats or --liveness, a node that sends none for 3 of its intervals\n"
    "is flagged, once, and again when it is back:\n"
    "  14:02:15.101 node 3 silent for 3.0 s\n"
    "  14:02:31.870 node 3 back after 19.8 s (restarted)\n"
    "  --json          JSON lines: {\"topic\", \"from\", \"type\", fields...}; the flags are\n"
    "                  {\"topic\": \"zkv.watch.silent\" or \"zkv.watch.back\", \"node\",\n"
    "                  \"silent_ms\", ...}\n"
    "  --stats         print the zkv.node.stats events too, and flag silent nodes\n"
    "  --liveness      flag silent nodes (without printing the stats events)\n"
    "  --topic PREFIX  only topics starting with PREFIX (repeatable), e.g. zkv.raft\n"
    "  --count N       stop after N events\n\n"
    "exit codes: 0 ok (Ctrl-C or --count reached), 1 error, 2 usage\n",
    s_watch};
