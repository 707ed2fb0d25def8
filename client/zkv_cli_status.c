// zkv status: every node's view of every group it hosts, as a table or JSON.
#include "zkv_cli.h"

#include <czmq.h>
#include <inttypes.h>

typedef struct {
    int rc;                   // result of the status call
    char error[256];          // why it failed
    zkv_node_status_t status; // what the node said
} s_answer_t;

// Counts of a group's shards per state (zkv_shard_state_t: none, serving, pulling, handed off).
static void
s_counts (const zkv_group_status_t *s, uint32_t counts[4])
{
    memset (counts, 0, 4 * sizeof (uint32_t));
    for (uint32_t i = 0; i < s->nshards; i++)
        counts[s->shard_states[i] & 3]++;
}

static const char *s_state_names[] = {"none", "serving", "pulling", "waiting for GC"};

// The shards of group g in state, as ranges ("0-3 8 10-15"), into buf.
static void
s_ranges (const zkv_group_status_t *s, uint8_t state, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < s->nshards; i++) {
        if (s->shard_states[i] != state)
            continue;
        if (at + 24 >= size) {
            // No room for another range: say the list goes on rather than end it silently.
            snprintf (buf + at, size - at, " ...");
            return;
        }
        uint32_t e = i;
        while (e + 1 < s->nshards && s->shard_states[e + 1] == state)
            e++;
        at += (size_t)snprintf (buf + at, size - at, e > i ? " %u-%u" : " %u", i, e);
        i = e;
    }
    if (!at)
        snprintf (buf, size, " -");
}

// An uptime for people: "42s", "5m03s", "2h07m", "3d04h".
static void
s_uptime (uint64_t ms, char *buf, size_t size)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf (buf, size, "%" PRIu64 "s", s);
    else if (s < 3600)
        snprintf (buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf (buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf (buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

// A leader's followers and their lag: "2:0 3:17" (follower:lag), or "-".
static void
s_lags (const zkv_group_status_t *s, char *buf, size_t size)
{
    size_t at = 0;
    snprintf (buf, size, "-");
    for (size_t k = 0; k < s->n_followers && at + 44 < size; k++)
        at += (size_t)snprintf (buf + at, size - at, "%s%" PRIu64 ":%" PRIu64, k ? " " : "",
                                s->follower_ids[k], s->follower_lags[k]);
}

static void
s_table (zkv_cli_t *cli, s_answer_t *answers)
{
    printf ("%-5s %-24s %-7s %-8s %5s %-13s %6s %6s %9s %9s %9s %9s %10s %6s %-12s %s\n", "NODE",
            "ENDPOINT", "UPTIME", "VERSION", "GROUP", "ROLE", "TERM", "LEADER", "COMMIT",
            "APPLIED", "LAST", "SNAPSHOT", "LOG BYTES", "CONFIG", "SHARDS S/P/G", "LAG");
    for (size_t i = 0; i < cli->n; i++) {
        s_answer_t *a = &answers[i];
        if (a->rc != 0) {
            printf ("%-5" PRIu64 " %-24s %-7s %-8s %5s %s\n", cli->ids[i], cli->client_eps[i], "-",
                    "-", "-", a->error);
            continue;
        }
        char uptime[24] = "-";
        if (a->status.uptime_ms)
            s_uptime (a->status.uptime_ms, uptime, sizeof uptime);
        const char *version = a->status.version[0] ? a->status.version : "-";
        if (a->status.n_groups == 0)
            printf ("%-5" PRIu64 " %-24s %-7s %-8s %5s %s\n", cli->ids[i], cli->client_eps[i],
                    uptime, version, "-", "(hosts no group)");
        for (size_t g = 0; g < a->status.n_groups; g++) {
            const zkv_group_status_t *s = &a->status.groups[g];
            char leader[24], config[24] = "-", shards[48] = "-", lags[256];
            s_lags (s, lags, sizeof lags);
            if (s->leader)
                snprintf (leader, sizeof leader, "%" PRIu64, s->leader);
            else
                snprintf (leader, sizeof leader, "?");
            if (s->config) {
                uint32_t c[4];
                s_counts (s, c);
                snprintf (config, sizeof config, "%" PRIu64, s->config);
                snprintf (shards, sizeof shards, "%u/%u/%u", c[1], c[2], c[3]);
            }
            printf ("%-5" PRIu64 " %-24s %-7s %-8s %5" PRIu64 " %-13s %6" PRIu64 " %6s %9" PRIu64
                    " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10" PRIu64 " %6s %-12s %s\n",
                    a->status.node, cli->client_eps[i], uptime, version, s->group,
                    zkv_client_role_name (s->role), s->term, leader, s->commit, s->applied,
                    s->last_index, s->snapshot_index, s->log_bytes, config, shards, lags);
        }
    }
    // Every shard group's shards, as its leader (else the first node that answered) reports
    // them: serving, pulling (not served until whole), handed off and waiting for GC.
    typedef struct {
        uint64_t group;
        const zkv_group_status_t *s;
        uint64_t node;
    } s_pick_t;
    s_pick_t picks[64];
    size_t n_picks = 0;
    for (size_t i = 0; i < cli->n; i++) {
        if (answers[i].rc != 0)
            continue;
        for (size_t g = 0; g < answers[i].status.n_groups; g++) {
            const zkv_group_status_t *s = &answers[i].status.groups[g];
            if (!s->config || !s->nshards)
                continue;
            size_t k = 0;
            while (k < n_picks && picks[k].group != s->group)
                k++;
            if (k == n_picks && n_picks < 64)
                picks[n_picks++] = (s_pick_t){s->group, s, answers[i].status.node};
            else if (k < n_picks && s->role == 3 && picks[k].s->role != 3)
                picks[k] = (s_pick_t){s->group, s, answers[i].status.node};
        }
    }
    for (size_t k = 0; k < n_picks; k++) {
        const zkv_group_status_t *s = picks[k].s;
        uint32_t c[4];
        s_counts (s, c);
        printf ("%sgroup %" PRIu64 ", configuration %" PRIu64 " (as node %" PRIu64
                " sees it): %u serving, %u pulling, %u waiting for GC\n",
                k ? "" : "\n", s->group, s->config, picks[k].node, c[1], c[2], c[3]);
        for (uint8_t st = 1; st <= 3; st++) {
            char buf[1024];
            if (!c[st])
                continue;
            s_ranges (s, st, buf, sizeof buf);
            printf ("    %-15s%s\n", s_state_names[st], buf);
        }
    }
}

static void
s_json (zkv_cli_t *cli, s_answer_t *answers)
{
    printf ("{\"nodes\": [");
    for (size_t i = 0; i < cli->n; i++) {
        s_answer_t *a = &answers[i];
        printf ("%s\n  {\"node\": %" PRIu64 ", \"endpoint\": ", i ? "," : "", cli->ids[i]);
        zkv_cli_json_string (stdout, cli->client_eps[i], strlen (cli->client_eps[i]));
        if (a->rc != 0) {
            printf (", \"ok\": false, \"error\": ");
            zkv_cli_json_string (stdout, a->error, strlen (a->error));
            printf ("}");
            continue;
        }
        printf (", \"ok\": true, \"uptime_ms\": %" PRIu64 ", \"version\": ", a->status.uptime_ms);
        zkv_cli_json_string (stdout, a->status.version, strlen (a->status.version));
        printf (", \"groups\": [");
        for (size_t g = 0; g < a->status.n_groups; g++) {
            const zkv_group_status_t *s = &a->status.groups[g];
            printf ("%s{\"group\": %" PRIu64 ", \"role\": \"%s\", \"term\": %" PRIu64
                    ", \"leader\": %" PRIu64 ", \"commit\": %" PRIu64 ", \"applied\": %" PRIu64
                    ", \"last_index\": %" PRIu64 ", \"snapshot_index\": %" PRIu64
                    ", \"log_bytes\": %" PRIu64 ", \"data_bytes\": %" PRIu64
                    ", \"config\": %" PRIu64,
                    g ? ", " : "", s->group, zkv_client_role_name (s->role), s->term, s->leader,
                    s->commit, s->applied, s->last_index, s->snapshot_index, s->log_bytes,
                    s->data_bytes, s->config);
            if (s->config && s->nshards) {
                uint32_t c[4];
                s_counts (s, c);
                // One letter per shard: - none, S serving, P pulling, G waiting for GC.
                printf (", \"shards\": {\"serving\": %u, \"pulling\": %u, \"waiting_gc\": %u}, "
                        "\"shard_states\": \"",
                        c[1], c[2], c[3]);
                for (uint32_t k = 0; k < s->nshards; k++)
                    putchar ("-SPG"[s->shard_states[k] & 3]);
                printf ("\"");
            }
            if (s->n_followers) {
                printf (", \"followers\": [");
                for (size_t k = 0; k < s->n_followers; k++)
                    printf ("%s{\"node\": %" PRIu64 ", \"lag\": %" PRIu64 "}", k ? ", " : "",
                            s->follower_ids[k], s->follower_lags[k]);
                printf ("]");
            }
            printf ("}");
        }
        printf ("]}");
    }
    printf ("\n]}\n");
}

static int
s_status (zkv_cli_t *cli, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else
            return zkv_cli_usage (&zkv_cli_status_cmd);
    }
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    s_answer_t *answers = zmalloc (cli->n * sizeof *answers);
    // A status is small: a node that takes more than a second is reported as not answering.
    int timeout = cli->timeout_ms < 1000 ? cli->timeout_ms : 1000;
    size_t failed = 0;
    for (size_t i = 0; i < cli->n; i++) {
        answers[i].rc = zkv_client_status (client, i, timeout, &answers[i].status);
        if (answers[i].rc != 0) {
            snprintf (answers[i].error, sizeof answers[i].error, "%s",
                      zkv_client_last_error (client));
            failed++;
        }
    }
    if (json)
        s_json (cli, answers);
    else
        s_table (cli, answers);
    for (size_t i = 0; i < cli->n; i++)
        zkv_node_status_free (&answers[i].status);
    free (answers);
    zkv_client_destroy (&client);
    return failed ? ZKV_CLI_ERROR : ZKV_CLI_OK;
}

const zkv_cli_command_t zkv_cli_status_cmd = {
    "status", "every node's role, term, leader and log positions per group",
    "usage: zkv status [--json]\n\n"
    "Asks every node (at most 1 s each, or --timeout if shorter) for its uptime, version and its\n"
    "view of each group it hosts: role, term, leader, commit, applied and last index, snapshot\n"
    "index, log bytes, the configuration it applied and how many of its shards are Serving,\n"
    "Pulling (not served until whole) and handed off, waiting for GC, and on the leader's line\n"
    "each follower's lag (LAG follower:entries behind, e.g. 2:0 3:17); then, per shard group,\n"
    "its shards in each state.\n"
    "  --json   one JSON object {\"nodes\": [{\"node\", \"endpoint\", \"ok\", \"uptime_ms\",\n"
    "           \"version\", \"groups\": [...]}]}; a group the node leads has \"followers\":\n"
    "           [{\"node\", \"lag\"}]; a shard group has \"config\", \"shards\" counts and\n"
    "           \"shard_states\", one letter per shard: - none, S serving, P pulling, G waiting\n"
    "           for GC\n\n"
    "exit codes: 0 every node answered, 1 some did not (the table says which), 2 usage\n",
    s_status};
