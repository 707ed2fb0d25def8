// zkv get / put / append / delete / cas: one call each; values are bytes (stdin when omitted).
#include "zkv_cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <unistd.h>

// The options of a kv command, before its arguments.
typedef struct {
    bool raw;               // get: the exact bytes, no newline
    bool json;              // one JSON object on stdout
    zkv_client_cond_t cond; // a write's condition
    const char *if_value;   // --if-value's argument
    int first;              // index of the first argument after the options
} s_opts_t;

// Parses the options (and a lone --) in argv[1..]; usage when one is unknown or does not apply.
static bool
s_options (const zkv_cli_command_t *cmd, int argc, char **argv, bool write, s_opts_t *o)
{
    memset (o, 0, sizeof *o);
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (streq (a, "--")) {
            i++;
            break;
        }
        if (strncmp (a, "--", 2) != 0)
            break;
        if (streq (a, "--json"))
            o->json = true;
        else if (streq (a, "--raw") && !write)
            o->raw = true;
        else if (write && o->cond.kind == ZKV_CLIENT_IF_NONE && streq (a, "--if-absent"))
            o->cond.kind = ZKV_CLIENT_IF_REVISION; // revision 0: the key does not exist
        else if (write && o->cond.kind == ZKV_CLIENT_IF_NONE && streq (a, "--if-value") &&
                 i + 1 < argc) {
            o->cond.kind = ZKV_CLIENT_IF_VALUE;
            o->if_value = argv[++i];
            o->cond.value = o->if_value;
            o->cond.value_len = strlen (o->if_value);
        } else if (write && o->cond.kind == ZKV_CLIENT_IF_NONE && streq (a, "--if-revision") &&
                   i + 1 < argc) {
            o->cond.kind = ZKV_CLIENT_IF_REVISION;
            if (!zkv_cli_parse_u64 (argv[++i], 0, UINT64_MAX, &o->cond.revision)) {
                zkv_cli_error (cmd->name, "--if-revision: not a revision: %s", argv[i]);
                return false;
            }
        } else {
            zkv_cli_error (cmd->name, "unknown or repeated option %s", a);
            return false;
        }
    }
    o->first = i;
    return true;
}

static int
s_get (zkv_cli_t *cli, int argc, char **argv)
{
    s_opts_t o;
    if (!s_options (&zkv_cli_get_cmd, argc, argv, false, &o) || argc != o.first + 1)
        return zkv_cli_usage (&zkv_cli_get_cmd);
    const char *key = argv[o.first];
    if (!*key) {
        zkv_cli_error ("get", "empty key: keys are at least one byte");
        return ZKV_CLI_USAGE;
    }
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    zkv_client_value_t v;
    int rc = zkv_client_read (client, key, strlen (key), &v, cli->timeout_ms);
    if (rc == 0 && !v.found)
        rc = ZKV_ENOTFOUND;
    if (o.json && (rc == 0 || rc == ZKV_ENOTFOUND)) {
        fputs ("{\"key\": ", stdout);
        zkv_cli_json_string (stdout, key, strlen (key));
        if (v.found) {
            fputs (", \"found\": true, \"value\": ", stdout);
            zkv_cli_json_string (stdout, v.value, v.len);
            printf (", \"revision\": %" PRIu64 "}\n", v.revision);
        } else
            fputs (", \"found\": false}\n", stdout);
    } else if (rc == 0) {
        fwrite (v.value, 1, v.len, stdout);
        if (!o.raw)
            fputc ('\n', stdout); // a line, as people and `read` expect; --raw: the bytes
    } else if (rc == ZKV_ENOTFOUND)
        zkv_cli_error ("get", "not found: %s", key);
    else
        zkv_cli_error ("get", "%s: %s", zkv_client_strerror (rc), zkv_client_last_error (client));
    zkv_client_value_free (&v);
    if ((rc == 0 || rc == ZKV_ENOTFOUND) && fflush (stdout) != 0)
        rc = ZKV_EIO;
    zkv_client_destroy (&client);
    return zkv_cli_exit_code (rc);
}

// put / append / delete / cas once the value is known.
static int
s_apply (zkv_cli_t *cli, const zkv_cli_command_t *cmd, zkv_client_t *client, int op,
         const char *key, const void *value, size_t len, const s_opts_t *o)
{
    uint64_t revision = 0;
    int rc = zkv_client_write (client, op, key, strlen (key), value, len,
                               o->cond.kind ? &o->cond : NULL, &revision, cli->timeout_ms);
    if (o->json && (rc == 0 || rc == ZKV_ECOMPARE))
        printf ("{\"applied\": %s, \"revision\": %" PRIu64 "}\n", rc == 0 ? "true" : "false",
                revision);
    if (rc == ZKV_ECOMPARE)
        zkv_cli_error (cmd->name, "compare failed: %s (current revision %" PRIu64 "%s)",
                       o->cond.kind == ZKV_CLIENT_IF_VALUE ? "the value is not the expected one"
                                                           : "the revision is not the expected one",
                       revision, revision ? "" : ": the key does not exist");
    else if (rc != 0)
        zkv_cli_error (cmd->name, "%s: %s", zkv_client_strerror (rc),
                       zkv_client_last_error (client));
    if (fflush (stdout) != 0 && rc == 0)
        rc = ZKV_EIO;
    return rc;
}

static int
s_write (zkv_cli_t *cli, int argc, char **argv, const zkv_cli_command_t *cmd, int op)
{
    s_opts_t o;
    if (!s_options (cmd, argc, argv, true, &o))
        return zkv_cli_usage (cmd);
    int k = o.first;
    bool cas = cmd == &zkv_cli_cas_cmd;
    if (cas) {
        // zkv cas KEY EXPECTED NEW: put --if-value EXPECTED.
        if (o.cond.kind || argc != k + 3)
            return zkv_cli_usage (cmd);
        o.cond.kind = ZKV_CLIENT_IF_VALUE;
        o.cond.value = argv[k + 1];
        o.cond.value_len = strlen (argv[k + 1]);
    } else if (op == ZKV_CLIENT_DELETE ? argc != k + 1 : argc != k + 1 && argc != k + 2)
        return zkv_cli_usage (cmd);
    const char *key = argv[k];
    if (!*key) {
        zkv_cli_error (cmd->name, "empty key: keys are at least one byte");
        return ZKV_CLI_USAGE;
    }
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    void *value = NULL;
    size_t len = 0;
    int rc = 0;
    const char *arg = cas ? argv[k + 2] : argc == k + 2 ? argv[k + 1] : NULL;
    if (arg) {
        value = strdup (arg);
        len = strlen (arg);
    } else if (op != ZKV_CLIENT_DELETE &&
               (rc = zkv_cli_read_stdin (&value, &len, zkv_client_max_value (client))) != 0)
        zkv_cli_error (cmd->name, "stdin: %s",
                       rc == ZKV_ETOOBIG ? "value larger than the limit" : "read error");
    if (rc == 0)
        rc = s_apply (cli, cmd, client, op, key, value, len, &o);
    free (value);
    zkv_client_destroy (&client);
    return zkv_cli_exit_code (rc);
}

static int
s_put (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, &zkv_cli_put_cmd, ZKV_CLIENT_PUT);
}

static int
s_append (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, &zkv_cli_append_cmd, ZKV_CLIENT_APPEND);
}

static int
s_delete (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, &zkv_cli_delete_cmd, ZKV_CLIENT_DELETE);
}

static int
s_cas (zkv_cli_t *cli, int argc, char **argv)
{
    return s_write (cli, argc, argv, &zkv_cli_cas_cmd, ZKV_CLIENT_PUT);
}

#define S_WRITE_OPTIONS                                                                    \
    "options:\n"                                                                           \
    "  --if-value V      apply only if the key exists and holds exactly V\n"             \
    "  --if-revision N   apply only if the key's revision is N (0: it does not exist)\n" \
    "  --if-absent       apply only if the key does not exist\n"                          \
    "  --json            print {\"applied\": true|false, \"revision\": N}\n\n"

#define S_WRITE_EXITS                                                                      \
    "exit codes: 0 applied, 1 refused (not applied, e.g. value too large), 2 usage,\n"    \
    "            3 timed out, or session expired while retried: the outcome is UNKNOWN\n" \
    "              (it may have been applied),\n"                                          \
    "            5 compare failed: the condition did not hold, nothing changed\n"

const zkv_cli_command_t zkv_cli_get_cmd = {
    "get", "print a key's value",
    "usage: zkv get [--raw] [--json] [--] KEY\n\n"
    "Prints KEY's value and a newline on stdout; --raw prints the value byte for byte and\n"
    "nothing else (binary-safe). A missing key prints \"zkv get: not found: KEY\" on stderr\n"
    "and exits 4 (an existing empty value prints an empty line and exits 0).\n"
    "--json prints {\"key\": K, \"found\": true, \"value\": V, \"revision\": N} (or found false).\n"
    "Reads are linearizable (served by the group's leader).\n\n"
    "exit codes: 0 ok, 1 error (e.g. no quorum), 2 usage, 3 timed out, 4 not found\n",
    s_get};

const zkv_cli_command_t zkv_cli_put_cmd = {
    "put", "set a key's value (from stdin when VALUE is omitted)",
    "usage: zkv put [OPTIONS] [--] KEY [VALUE]\n\n"
    "Sets KEY to VALUE, or to all of stdin (binary-safe) when VALUE is omitted.\n"
    "Retries go to other nodes with the same request id, so a put is applied at most once.\n"
    "Every write gives the key a new, larger revision (`zkv get --json` shows it).\n\n" S_WRITE_OPTIONS
        S_WRITE_EXITS,
    s_put};

const zkv_cli_command_t zkv_cli_append_cmd = {
    "append", "append to a key's value (from stdin when VALUE is omitted)",
    "usage: zkv append [OPTIONS] [--] KEY [VALUE]\n\n"
    "Appends VALUE (or all of stdin, binary-safe) to KEY's value; a missing key counts as\n"
    "empty. Applied at most once, as for put.\n\n" S_WRITE_OPTIONS S_WRITE_EXITS,
    s_append};

const zkv_cli_command_t zkv_cli_delete_cmd = {
    "delete", "delete a key",
    "usage: zkv delete [OPTIONS] [--] KEY\n\n"
    "Deletes KEY. Deleting a missing key does nothing and exits 0 (revision 0 with --json).\n"
    "Applied at most once, as for put.\n\n" S_WRITE_OPTIONS S_WRITE_EXITS,
    s_delete};

const zkv_cli_command_t zkv_cli_cas_cmd = {
    "cas", "compare-and-set: set a key only if it holds a value",
    "usage: zkv cas [--json] [--] KEY EXPECTED NEW\n\n"
    "Sets KEY to NEW only if it exists and holds exactly EXPECTED (the same as\n"
    "`zkv put --if-value EXPECTED KEY NEW`). On a revision: `zkv put --if-revision N`.\n\n"
    "exit codes: 0 applied, 1 refused, 2 usage, 3 outcome UNKNOWN (as for put),\n"
    "            5 compare failed: the key did not hold EXPECTED, nothing changed\n",
    s_cas};
