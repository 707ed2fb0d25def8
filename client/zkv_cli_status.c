// zkv status: every node's view of every group it hosts, as a table or JSON.
#include "zkv_cli.h"

#include <czmq.h>
#include <inttypes.h>

typedef struct {
    int rc;                   // result of the status call
    char error[256];          // why it failed
    zkv_node_status_t status; // what the node said
} s_answer_t;

static void
s_table (zkv_cli_t *cli, s_answer_t *answers)
{
    printf ("%-5s %-24s %5s %-13s %6s %6s %9s %9s %9s %9s %10s\n", "NODE", "ENDPOINT", "GROUP",
            "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAST", "SNAPSHOT", "LOG BYTES");
    for (size_t i = 0; i < cli->n; i++) {
        s_answer_t *a = &answers[i];
        if (a->rc != 0) {
            printf ("%-5" PRIu64 " %-24s %5s %s\n", cli->ids[i], cli->client_eps[i], "-", a->error);
            continue;
        }
        if (a->status.n_groups == 0)
            printf ("%-5" PRIu64 " %-24s %5s %s\n", cli->ids[i], cli->client_eps[i], "-",
                    "(hosts no group)");
        for (size_t g = 0; g < a->status.n_groups; g++) {
            const zkv_group_status_t *s = &a->status.groups[g];
            char leader[24];
            if (s->leader)
                snprintf (leader, sizeof leader, "%" PRIu64, s->leader);
            else
                snprintf (leader, sizeof leader, "?");
            printf ("%-5" PRIu64 " %-24s %5" PRIu64 " %-13s %6" PRIu64 " %6s %9" PRIu64 " %9" PRIu64
                    " %9" PRIu64 " %9" PRIu64 " %10" PRIu64 "\n",
                    a->status.node, cli->client_eps[i], s->group, zkv_client_role_name (s->role),
                    s->term, leader, s->commit, s->applied, s->last_index, s->snapshot_index,
                    s->log_bytes);
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
        printf (", \"ok\": true, \"groups\": [");
        for (size_t g = 0; g < a->status.n_groups; g++) {
            const zkv_group_status_t *s = &a->status.groups[g];
            printf ("%s{\"group\": %" PRIu64 ", \"role\": \"%s\", \"term\": %" PRIu64
                    ", \"leader\": %" PRIu64 ", \"commit\": %" PRIu64 ", \"applied\": %" PRIu64
                    ", \"last_index\": %" PRIu64 ", \"snapshot_index\": %" PRIu64
                    ", \"log_bytes\": %" PRIu64 "}",
                    g ? ", " : "", s->group, zkv_client_role_name (s->role), s->term, s->leader,
                    s->commit, s->applied, s->last_index, s->snapshot_index, s->log_bytes);
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
    "Asks every node (at most 1 s each, or --timeout if shorter) for its view of each group it\n"
    "hosts: role, term, leader, commit, applied and last index, snapshot index, log bytes.\n"
    "  --json   one JSON object {\"nodes\": [{\"node\", \"endpoint\", \"ok\", \"groups\": "
    "[...]}]}\n\n"
    "exit codes: 0 every node answered, 1 some did not (the table says which), 2 usage\n",
    s_status};
