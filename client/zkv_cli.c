// zkv: the command-line client (get, put, append, status, watch, bench). main is a thin shell.
#include "zkv_cli.h"
#include "zkv_version.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static const zkv_cli_command_t *s_commands[] = {
    &zkv_cli_get_cmd,   &zkv_cli_put_cmd,   &zkv_cli_append_cmd, &zkv_cli_delete_cmd,
    &zkv_cli_cas_cmd,   &zkv_cli_status_cmd,
    &zkv_cli_watch_cmd, &zkv_cli_bench_cmd, &zkv_cli_ctrl_cmd,   &zkv_cli_keygen_cmd,
    &zkv_cli_snapshot_cmd,
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static void
s_help (FILE *out)
{
    fprintf (out, "usage: zkv [--config FILE | --endpoints URL,URL... [--server-keys K,K...]]\n"
                  "           [--events URL,URL...] [--key FILE] [--timeout MS] COMMAND [ARGS]\n\n"
                  "commands:\n");
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        fprintf (out, "  %-8s %s\n", s_commands[i]->name, s_commands[i]->summary);
    fprintf (out,
             "\nglobal options (anywhere before a lone --):\n"
             "  --config FILE       cluster config (default $ZKV_CONFIG, else %s)\n"
             "  --endpoints LIST    nodes' client endpoints (host:port or tcp://host:port)\n"
             "                      instead of a config, node ids 1..n\n"
             "  --events LIST       nodes' event endpoints (for watch, with --endpoints)\n"
             "  --server-keys LIST  nodes' public keys, with --endpoints to a CURVE cluster\n"
             "  --key FILE          client certificate under CURVE (default $ZKV_KEY, else the\n"
             "                      config's /cluster/client_cert)\n"
             "  --timeout MS        give up on one call after MS ms (default %d)\n"
             "  -h, --help          this help; `zkv COMMAND --help` for a command's\n"
             "\nexit codes: 0 ok, 1 error (a write was not applied), 2 usage, 3 outcome unknown\n"
             "(timed out when a write may have been proposed; docs/cli.md, \"Exit codes\")\n",
             ZKV_CLI_DEFAULT_CONFIG, ZKV_CLI_DEFAULT_TIMEOUT_MS);
}

// Takes the global options out of argv, wherever they are (before a lone "--"), so that
// `zkv get k --config x.cfg` works too. Returns the new argc, or -1 on a bad option.
static int
s_globals (zkv_cli_t *cli, int argc, char **argv)
{
    int out = 1;
    bool literal = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (literal || a[0] != '-') {
            argv[out++] = argv[i];
            continue;
        }
        if (streq (a, "--")) {
            literal = true;
            argv[out++] = argv[i];
            continue;
        }
        if (streq (a, "--config"))
            slot = &cli->config_path;
        else if (streq (a, "--endpoints"))
            slot = &cli->endpoints;
        else if (streq (a, "--events"))
            slot = &cli->events;
        else if (streq (a, "--key"))
            slot = &cli->key_file;
        else if (streq (a, "--server-keys"))
            slot = &cli->server_keys;
        else if (streq (a, "--timeout")) {
            uint64_t ms;
            if (i + 1 >= argc || !zkv_cli_parse_u64 (argv[i + 1], 1, 86400000, &ms)) {
                zkv_cli_error ("", "--timeout needs a number of milliseconds");
                return -1;
            }
            cli->timeout_ms = (int)ms;
            i++;
            continue;
        } else {
            argv[out++] = argv[i]; // a command's option
            continue;
        }
        if (i + 1 >= argc) {
            zkv_cli_error ("", "%s needs a value", a);
            return -1;
        }
        *slot = argv[++i];
        if (slot == &cli->config_path)
            cli->explicit_config = true;
    }
    argv[out] = NULL;
    return out;
}

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv"))
        return 0;
    zkv_cli_t cli = {.timeout_ms = ZKV_CLI_DEFAULT_TIMEOUT_MS};
    cli.config_path = getenv ("ZKV_CONFIG");
    if (!cli.config_path)
        cli.config_path = ZKV_CLI_DEFAULT_CONFIG;
    argc = s_globals (&cli, argc, argv);
    if (argc < 0)
        return ZKV_CLI_USAGE;
    if (argc < 2) {
        s_help (stderr);
        return ZKV_CLI_USAGE;
    }
    if (zkv_cli_is_help (argv[1]) || streq (argv[1], "help")) {
        if (argc > 2)
            for (size_t i = 0; i < S_NCOMMANDS; i++)
                if (streq (argv[2], s_commands[i]->name)) {
                    fprintf (stdout, "%s", s_commands[i]->usage);
                    return ZKV_CLI_OK;
                }
        s_help (stdout);
        return ZKV_CLI_OK;
    }
    if (cli.endpoints && cli.explicit_config) {
        zkv_cli_error ("", "give --config or --endpoints, not both");
        return ZKV_CLI_USAGE;
    }
    if (zkv_cli_check_endpoints (&cli) != ZKV_CLI_OK)
        return ZKV_CLI_USAGE;
    // CZMQ would otherwise install its own SIGINT handler lazily, in whichever thread first
    // makes a socket; set it up once, here. Ctrl-C then ends blocking calls (zsys_interrupted).
    zsys_init ();
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        if (streq (argv[1], s_commands[i]->name)) {
            for (int a = 2; a < argc; a++)
                if (zkv_cli_is_help (argv[a])) {
                    fprintf (stdout, "%s", s_commands[i]->usage);
                    return ZKV_CLI_OK;
                }
            int rc = s_commands[i]->run (&cli, argc - 1, argv + 1);
            zkv_cli_fini (&cli);
            return rc;
        }
    zkv_cli_error ("", "unknown command '%s' (zkv --help lists them)", argv[1]);
    return ZKV_CLI_USAGE;
}
