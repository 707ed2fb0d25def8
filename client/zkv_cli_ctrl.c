// zkv ctrl: the shard controller (group 0): query, join, leave, move, and where keys are.
#include "zkv_cli.h"

#ifdef ZKV_CLI_HAVE_CONFIG
#include "zkv_config.h"
#endif

#include <czmq.h>
#include <inttypes.h>

// Prints a configuration for people: the groups and their members, then the shards of each.
static void
s_print (const zkv_client_config_t *c)
{
    printf ("configuration %" PRIu64 ": %" PRIu32 " shards, %zu groups\n", c->num, c->nshards,
            c->n_groups);
    size_t at = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        printf ("group %" PRIu64 "%s: members", c->group_ids[g],
                c->group_ids[g] == 0 ? " (controller)" : "");
        for (uint64_t m = 0; m < c->group_sizes[g]; m++)
            printf ("%s%" PRIu64, m ? ", " : " ", c->members[at + m]);
        at += c->group_sizes[g];
        if (c->group_ids[g] != 0) {
            size_t count = 0;
            for (uint32_t s = 0; s < c->nshards; s++)
                count += c->shard_groups[s] == c->group_ids[g];
            printf ("; %zu shards:", count);
            // Ranges of consecutive shards: "0-3 8 10-15".
            for (uint32_t s = 0; s < c->nshards; s++) {
                if (c->shard_groups[s] != c->group_ids[g])
                    continue;
                uint32_t e = s;
                while (e + 1 < c->nshards && c->shard_groups[e + 1] == c->group_ids[g])
                    e++;
                if (e > s)
                    printf (" %" PRIu32 "-%" PRIu32, s, e);
                else
                    printf (" %" PRIu32, s);
                s = e;
            }
        }
        printf ("\n");
    }
    size_t none = 0;
    for (uint32_t s = 0; s < c->nshards; s++)
        none += c->shard_groups[s] == 0;
    if (none)
        printf ("%zu shards served by no group\n", none);
    for (size_t i = 0; i < c->n_nodes; i++)
        printf ("node %" PRIu64 ": peer %s, client %s\n", c->nodes[i].id, c->nodes[i].peer,
                c->nodes[i].client);
}

static void
s_print_json (const zkv_client_config_t *c)
{
    printf ("{\"num\":%" PRIu64 ",\"shards\":%" PRIu32 ",\"groups\":[", c->num, c->nshards);
    size_t at = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        printf ("%s{\"group\":%" PRIu64 ",\"members\":[", g ? "," : "", c->group_ids[g]);
        for (uint64_t m = 0; m < c->group_sizes[g]; m++)
            printf ("%s%" PRIu64, m ? "," : "", c->members[at + m]);
        at += c->group_sizes[g];
        printf ("]}");
    }
    printf ("],\"shard_groups\":[");
    for (uint32_t s = 0; s < c->nshards; s++)
        printf ("%s%" PRIu64, s ? "," : "", c->shard_groups[s]);
    // Endpoints are printable ASCII without spaces; quotes and backslashes are escaped.
    printf ("],\"nodes\":[");
    for (size_t i = 0; i < c->n_nodes; i++) {
        printf ("%s{\"id\":%" PRIu64 ",\"peer\":\"", i ? "," : "", c->nodes[i].id);
        for (const char *p = c->nodes[i].peer; *p; p++)
            printf (*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        printf ("\",\"client\":\"");
        for (const char *p = c->nodes[i].client; *p; p++)
            printf (*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        printf ("\"}");
    }
    printf ("]}\n");
}

static int
s_query (zkv_cli_t *cli, zkv_client_t *client, int argc, char **argv)
{
    uint64_t num = UINT64_MAX;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else if (!zkv_cli_parse_u64 (argv[i], 0, UINT64_MAX - 1, &num))
            return zkv_cli_usage (&zkv_cli_ctrl_cmd);
    }
    zkv_client_config_t c;
    int rc = zkv_client_ctrl_query (client, num, &c, cli->timeout_ms);
    if (rc) {
        zkv_cli_error ("ctrl query", "%s: %s", zkv_client_strerror (rc),
                       zkv_client_last_error (client));
        return rc == ZKV_ETIMEOUT ? ZKV_CLI_UNKNOWN : ZKV_CLI_ERROR;
    }
    if (json)
        s_print_json (&c);
    else
        s_print (&c);
    zkv_client_config_free (&c);
    return ZKV_CLI_OK;
}

// Group ids from argv[from..], each a positive number; count into *n. false on a bad one.
static bool
s_groups (int argc, char **argv, int from, uint64_t *ids, size_t *n, const char **file)
{
    *n = 0;
    for (int i = from; i < argc; i++) {
        if (streq (argv[i], "--config") && i + 1 < argc && file) {
            *file = argv[++i];
            continue;
        }
        if (*n == 64 || !zkv_cli_parse_u64 (argv[i], 1, 65535, &ids[*n]))
            return false;
        (*n)++;
    }
    // Ascending, no repeats (the controller wants them so).
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && ids[j] < ids[j - 1]; j--) {
            uint64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    for (size_t i = 1; i < *n; i++)
        if (ids[i] == ids[i - 1])
            return false;
    return *n > 0;
}

static int
s_done (zkv_client_t *client, const char *what, int rc, uint64_t num)
{
    if (rc == 0) {
        printf ("configuration %" PRIu64 "\n", num);
        return ZKV_CLI_OK;
    }
    zkv_cli_error (what, "%s: %s", zkv_client_strerror (rc), zkv_client_last_error (client));
    return zkv_cli_exit_code (rc);
}

static int
s_join (zkv_cli_t *cli, zkv_client_t *client, int argc, char **argv)
{
    uint64_t ids[64];
    size_t n = 0;
    const char *file = cli->config_path;
    if (!s_groups (argc, argv, 2, ids, &n, &file))
        return zkv_cli_usage (&zkv_cli_ctrl_cmd);
#ifdef ZKV_CLI_HAVE_CONFIG
    // The members of each group, from the config file that declares it.
    char err[512];
    zkv_config_t *config = zkv_config_load (file, err, sizeof err);
    if (!config) {
        zkv_cli_error ("ctrl join", "%s", err);
        return ZKV_CLI_ERROR;
    }
    uint64_t sizes[64], members[64 * 16];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const zkv_config_group_t *g = zkv_config_group (config, ids[i]);
        if (!g) {
            zkv_cli_error ("ctrl join", "%s does not declare group %" PRIu64, file, ids[i]);
            zkv_config_destroy (&config);
            return ZKV_CLI_ERROR;
        }
        if (m + g->members.count > sizeof members / sizeof members[0]) {
            zkv_cli_error ("ctrl join", "too many members at once (at most %zu)",
                           sizeof members / sizeof members[0]);
            zkv_config_destroy (&config);
            return ZKV_CLI_ERROR;
        }
        sizes[i] = g->members.count;
        memcpy (members + m, g->members.ids, g->members.count * sizeof (uint64_t));
        m += g->members.count;
    }
    // Where each member is, as the file declares it: the cluster's nodes learn their new
    // peers from the configuration the join makes.
    zkv_client_node_t nodes[64 * 16];
    char keys[64 * 16][41];
    size_t n_nodes = 0;
    for (size_t k = 0; k < m; k++) {
        const zkv_config_node_t *nd = zkv_config_node (config, members[k]);
        bool seen = false;
        for (size_t j = 0; j < n_nodes; j++)
            seen = seen || nodes[j].id == members[k];
        if (!nd || seen)
            continue; // the loader checked every member is a node of the file
        size_t at = n_nodes++;
        while (at > 0 && nodes[at - 1].id > nd->id) {
            nodes[at] = nodes[at - 1];
            at--;
        }
        // Its public key, so that the nodes it joins let it in (none in plain text).
        char why[512];
        keys[n_nodes - 1][0] = 0;
        if (zkv_config_curve (config) &&
            zkv_config_node_key (config, nd, keys[n_nodes - 1], why, sizeof why) != 0) {
            zkv_cli_error ("ctrl join", "%s", why);
            zkv_config_destroy (&config);
            return ZKV_CLI_ERROR;
        }
        nodes[at] = (zkv_client_node_t){
            .id = nd->id, .peer = nd->peer, .client = nd->client, .key = keys[n_nodes - 1]};
    }
    uint64_t num = 0;
    int rc = zkv_client_ctrl_join (client, n, ids, sizes, members, nodes, n_nodes, &num,
                                   cli->timeout_ms);
    zkv_config_destroy (&config);
    return s_done (client, "ctrl join", rc, num);
#else
    (void)client;
    zkv_cli_error ("ctrl join", "this zkv was built without the config reader (%s)", file);
    return ZKV_CLI_ERROR;
#endif
}

// zkv ctrl shard KEY...: where each key is, by the latest configuration.
static int
s_shard (zkv_cli_t *cli, zkv_client_t *client, int argc, char **argv)
{
    if (argc < 3)
        return zkv_cli_usage (&zkv_cli_ctrl_cmd);
    zkv_client_config_t c;
    int rc = zkv_client_ctrl_query (client, UINT64_MAX, &c, cli->timeout_ms);
    if (rc) {
        zkv_cli_error ("ctrl shard", "%s: %s", zkv_client_strerror (rc),
                       zkv_client_last_error (client));
        return rc == ZKV_ETIMEOUT ? ZKV_CLI_UNKNOWN : ZKV_CLI_ERROR;
    }
    for (int i = 2; i < argc; i++) {
        uint32_t s = zkv_client_shard_of (argv[i], strlen (argv[i]), c.nshards);
        printf ("%s: shard %" PRIu32 ", group %" PRIu64 " (configuration %" PRIu64 ")\n", argv[i],
                s, c.shard_groups[s], c.num);
    }
    zkv_client_config_free (&c);
    return ZKV_CLI_OK;
}

static int
s_run (zkv_cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || zkv_cli_is_help (argv[1]))
        return zkv_cli_usage (&zkv_cli_ctrl_cmd);
    const char *sub = argv[1];
    if (!streq (sub, "query") && !streq (sub, "join") && !streq (sub, "leave") &&
        !streq (sub, "move") && !streq (sub, "shard"))
        return zkv_cli_usage (&zkv_cli_ctrl_cmd);
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    int rc;
    uint64_t num = 0;
    if (streq (sub, "query"))
        rc = s_query (cli, client, argc, argv);
    else if (streq (sub, "shard"))
        rc = s_shard (cli, client, argc, argv);
    else if (streq (sub, "join"))
        rc = s_join (cli, client, argc, argv);
    else if (streq (sub, "leave")) {
        uint64_t ids[64];
        size_t n = 0;
        if (!s_groups (argc, argv, 2, ids, &n, NULL))
            rc = zkv_cli_usage (&zkv_cli_ctrl_cmd);
        else {
            rc = zkv_client_ctrl_leave (client, n, ids, &num, cli->timeout_ms);
            rc = s_done (client, "ctrl leave", rc, num);
        }
    } else {
        uint64_t shard, group;
        if (argc != 4 || !zkv_cli_parse_u64 (argv[2], 0, UINT32_MAX, &shard) ||
            !zkv_cli_parse_u64 (argv[3], 1, 65535, &group))
            rc = zkv_cli_usage (&zkv_cli_ctrl_cmd);
        else {
            rc = zkv_client_ctrl_move (client, shard, group, &num, cli->timeout_ms);
            rc = s_done (client, "ctrl move", rc, num);
        }
    }
    zkv_client_destroy (&client);
    return rc;
}

const zkv_cli_command_t zkv_cli_ctrl_cmd = {
    "ctrl",
    "the shard controller: query, join, leave, move",
    "zkv ctrl query [NUM] [--json]   the latest configuration, or number NUM\n"
    "zkv ctrl join GROUP... [--config FILE]\n"
    "                                groups join, with the members FILE declares for them\n"
    "                                (default: the cluster's config file)\n"
    "zkv ctrl leave GROUP...         groups leave\n"
    "zkv ctrl move SHARD GROUP       GROUP serves SHARD from the next configuration on\n"
    "zkv ctrl shard KEY...           each key's shard and the group serving it now\n"
    "A command prints the number of the configuration it made.",
    s_run,
};
