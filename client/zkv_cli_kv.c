// zkv get / put / append: one call each; values are bytes (stdin when omitted).
#include "zkv_cli.h"

#include <czmq.h>
#include <unistd.h>

static int
s_get (zkv_cli_t *cli, int argc, char **argv)
{
    int k = argc > 1 && streq (argv[1], "--") ? 2 : 1;
    if (argc != k + 1)
        return zkv_cli_usage (&zkv_cli_get_cmd);
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    void *value;
    size_t len;
    const char *key = argv[k];
    int rc = zkv_client_get (client, key, strlen (key), &value, &len, cli->timeout_ms);
    if (rc == 0) {
        fwrite (value, 1, len, stdout);
        // People get a newline; pipes get the exact bytes.
        if (len && isatty (STDOUT_FILENO) && ((char *)value)[len - 1] != '\n')
            fputc ('\n', stdout);
        free (value);
        if (fflush (stdout) != 0)
            rc = ZKV_EIO;
    } else
        zkv_cli_error ("get", "%s: %s", zkv_client_strerror (rc), zkv_client_last_error (client));
    zkv_client_destroy (&client);
    return zkv_cli_exit_code (rc);
}

static int
s_write (zkv_cli_t *cli, int argc, char **argv, bool append)
{
    const zkv_cli_command_t *cmd = append ? &zkv_cli_append_cmd : &zkv_cli_put_cmd;
    int k = argc > 1 && streq (argv[1], "--") ? 2 : 1;
    if (argc != k + 1 && argc != k + 2)
        return zkv_cli_usage (cmd);
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    const char *key = argv[k];
    void *value = NULL;
    size_t len;
    int rc = 0;
    if (argc == k + 2) {
        value = strdup (argv[k + 1]);
        len = strlen (argv[k + 1]);
    } else if ((rc = zkv_cli_read_stdin (&value, &len, zkv_client_max_value (client))) != 0)
        zkv_cli_error (cmd->name, "stdin: %s",
                       rc == ZKV_ETOOBIG ? "value larger than the limit" : "read error");
    if (rc == 0) {
        rc = append ? zkv_client_append (client, key, strlen (key), value, len, cli->timeout_ms)
                    : zkv_client_put (client, key, strlen (key), value, len, cli->timeout_ms);
        if (rc != 0)
            zkv_cli_error (cmd->name, "%s: %s", zkv_client_strerror (rc),
                           zkv_client_last_error (client));
    }
    free (value);
    zkv_client_destroy (&client);
    return zkv_cli_exit_code (rc);
}

static int
s_put (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, false);
}

static int
s_append (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, true);
}

const zkv_cli_command_t zkv_cli_get_cmd = {
    "get", "print a key's value (nothing for a missing key)",
    "usage: zkv get [--] KEY\n\n"
    "Prints KEY's value on stdout, byte for byte (a newline is added only on a terminal).\n"
    "A missing key reads as the empty value: nothing is printed and the exit code is 0.\n"
    "Reads are linearizable (served by the group's leader).\n\n"
    "exit codes: 0 ok, 1 error (e.g. no quorum), 2 usage, 3 timed out\n",
    s_get};

const zkv_cli_command_t zkv_cli_put_cmd = {
    "put", "set a key's value (from stdin when VALUE is omitted)",
    "usage: zkv put [--] KEY [VALUE]\n\n"
    "Sets KEY to VALUE, or to all of stdin (binary-safe) when VALUE is omitted.\n"
    "Retries go to other nodes with the same request id, so a put is applied at most once.\n\n"
    "exit codes: 0 applied, 1 refused (not applied, e.g. value too large), 2 usage,\n"
    "            3 timed out, or session expired while retried: the outcome is UNKNOWN\n"
    "              (it may have been applied)\n",
    s_put};

const zkv_cli_command_t zkv_cli_append_cmd = {
    "append", "append to a key's value (from stdin when VALUE is omitted)",
    "usage: zkv append [--] KEY [VALUE]\n\n"
    "Appends VALUE (or all of stdin, binary-safe) to KEY's value; a missing key counts as\n"
    "empty. Applied at most once, as for put.\n\n"
    "exit codes: 0 applied, 1 refused (not applied), 2 usage,\n"
    "            3 timed out, or session expired while retried: the outcome is UNKNOWN\n"
    "              (it may have been applied)\n",
    s_append};
