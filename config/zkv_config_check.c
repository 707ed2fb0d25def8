// zkv-config-check: validates a cluster config file and prints a summary, or the error (exit 1).
//
//     zkv-config-check FILE [--node ID]    check FILE (and that it defines node ID)
//     zkv-config-check --schema            print every option as a Markdown table
#include "zkv_config.h"
#include "zkv_version.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: zkv-config-check FILE [--node ID]\n"
             "       zkv-config-check --schema\n"
             "       zkv-config-check --version\n"
             "Validates a zkv cluster config; prints a summary (exit 0) or the error (exit 1).\n");
}

static void
s_print_ids (const uint64_t *ids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        printf ("%s%" PRIu64, i ? ", " : "", ids[i]);
}

static void
s_print_node (const zkv_config_t *config, const zkv_config_node_t *node)
{
    printf ("node %" PRIu64 "\n    peer   %s\n    client %s\n    events %s\n    data   %s\n",
            node->id, node->peer, node->client, node->events, node->data);
    if (node->http)
        printf ("    http   %s\n", node->http);
    printf ("    memtable %" PRIu64 " bytes (staggered by node id)\n",
            zkv_config_storage_write_buffer_for_node (config, node->id));
    uint64_t groups[64];
    size_t count = zkv_config_groups_of_node (config, node->id, groups, 64);
    printf ("    groups ");
    if (count == 0)
        printf ("(none)");
    s_print_ids (groups, count < 64 ? count : 64);
    printf ("%s\n", count > 64 ? ", ..." : "");
}

static void
s_print_summary (const zkv_config_t *config)
{
    const zkv_config_cluster_t *c = zkv_config_cluster (config);
    printf ("%s: ok: cluster %s, %" PRIu64 " shards, %zu nodes, %zu groups\n",
            zkv_config_source (config), c->name, c->shards, zkv_config_node_count (config),
            zkv_config_group_count (config));
    printf ("security: %s\n", zkv_config_curve (config)
                                   ? "curve (every connection authenticated and encrypted)"
                                   : "NONE (plain text: anyone who reaches a port is trusted)");
    printf ("tick %" PRIu64 " ms; election after %" PRIu64 "..%" PRIu64
            " ms; heartbeat every %" PRIu64 " ms; pre_vote %s; check_quorum %s\n",
            c->tick_ms, c->election_ticks * c->tick_ms, (2 * c->election_ticks - 1) * c->tick_ms,
            c->heartbeat_ticks * c->tick_ms, c->pre_vote ? "on" : "off",
            c->check_quorum ? "on" : "off");
    printf ("snapshot at %" PRIu64 " bytes in chunks of %" PRIu64 "; keys up to %" PRIu64
            " bytes, values up to %" PRIu64 " bytes; batches of %" PRIu64 " entries or %" PRIu64
            " bytes, %" PRIu64 " in flight (at most %" PRIu64 " bytes)\n",
            c->snapshot_bytes, c->snapshot_chunk_bytes, c->max_key_bytes, c->max_value_bytes,
            c->max_batch_entries, c->max_batch_bytes, c->max_inflight, c->max_inflight_bytes);
    printf ("client sessions expire after %" PRIu64 " ms idle, at most %" PRIu64 " per group\n",
            c->session_ttl_ms, c->max_sessions);
    for (size_t i = 0; i < zkv_config_node_count (config); i++)
        s_print_node (config, zkv_config_node_at (config, i));
    for (size_t i = 0; i < zkv_config_group_count (config); i++) {
        const zkv_config_group_t *group = zkv_config_group_at (config, i);
        printf ("group %" PRIu64 "%s: members ", group->id, group->id == 0 ? " (controller)" : "");
        s_print_ids (group->members.ids, group->members.count);
        printf ("\n");
    }
}

// A node id as written on the command line: digits only.
static int
s_parse_id (const char *text, uint64_t *id_p)
{
    if (!*text || strlen (text) > 19 || strspn (text, "0123456789") != strlen (text))
        return -1;
    *id_p = strtoull (text, NULL, 10);
    return 0;
}

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv-config-check"))
        return 0;
    const char *path = NULL;
    const char *node_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--schema") == 0 && argc == 2) {
            char *markdown = zkv_config_schema_markdown ();
            fputs (markdown, stdout);
            free (markdown);
            return 0;
        }
        if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (argv[i], "--node") == 0 && i + 1 < argc && !node_arg)
            node_arg = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            s_usage (stderr);
            return 2;
        }
    }
    if (!path) {
        s_usage (stderr);
        return 2;
    }
    uint64_t node_id = 0;
    if (node_arg && s_parse_id (node_arg, &node_id)) {
        fprintf (stderr, "zkv-config-check: --node takes a node id (a number), got '%s'\n",
                 node_arg);
        return 2;
    }
    char err[512];
    zkv_config_t *config = zkv_config_load (path, err, sizeof err);
    if (!config) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    if (node_arg && !zkv_config_node_require (config, node_id, err, sizeof err)) {
        fprintf (stderr, "%s\n", err);
        zkv_config_destroy (&config);
        return 1;
    }
    // What zkvd checks before it starts: under CURVE, every node's key readable.
    if (zkv_config_check_keys (config, err, sizeof err) != 0) {
        fprintf (stderr, "%s\n", err);
        zkv_config_destroy (&config);
        return 1;
    }
    if (node_arg) {
        const zkv_config_node_t *node = zkv_config_node_require (config, node_id, err, sizeof err);
        if (node) {
            printf ("%s: ok: cluster %s, ", path, zkv_config_name (config));
            s_print_node (config, node);
        } else {
            fprintf (stderr, "%s\n", err);
            rc = 1;
        }
    } else
        s_print_summary (config);
    zkv_config_destroy (&config);
    return rc;
}
