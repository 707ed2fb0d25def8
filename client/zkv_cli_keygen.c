// zkv keygen FILE: a new CURVE certificate for a node or a client (CZMQ's zcert): FILE holds the
// public key, FILE_secret the secret one (mode 0600). It prints the public key, for a config's
// public_key or a cluster's client key directory.
#include "zkv_cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int
s_keygen (zkv_cli_t *cli, int argc, char **argv)
{
    (void)cli;
    const char *path = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--force"))
            force = true;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            return zkv_cli_usage (&zkv_cli_keygen_cmd);
    }
    if (!path)
        return zkv_cli_usage (&zkv_cli_keygen_cmd);
    char *secret = zsys_sprintf ("%s_secret", path);
    if (!secret)
        abort ();
    if (!force && (zsys_file_exists (path) || zsys_file_exists (secret))) {
        zkv_cli_error ("keygen",
                       "%s or %s exists: a key is replaced only with --force (the "
                       "cluster knows the old one)",
                       path, secret);
        zstr_free (&secret);
        return ZKV_CLI_ERROR;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        zkv_cli_error ("keygen", "cannot make a key (is libzmq built with CURVE?)");
        zstr_free (&secret);
        return ZKV_CLI_ERROR;
    }
    // The secret file is written 0600 by zcert (zsys_file_mode_private); the public one is
    // for everyone.
    int rc = zcert_save (cert, path);
    if (rc != 0) {
        zkv_cli_error ("keygen", "cannot write %s: %s", path, strerror (errno));
        zcert_destroy (&cert);
        zstr_free (&secret);
        return ZKV_CLI_ERROR;
    }
    chmod (secret, 0600);
    printf ("%s\n", zcert_public_txt (cert));
    zcert_destroy (&cert);
    zstr_free (&secret);
    return ZKV_CLI_OK;
}

const zkv_cli_command_t zkv_cli_keygen_cmd = {
    "keygen", "make a CURVE certificate for a node or a client",
    "usage: zkv keygen FILE [--force]\n\n"
    "Writes a new CURVE certificate: FILE (the public key, to share) and FILE_secret (the\n"
    "secret key, mode 0600, stays with its owner), and prints the public key. A node's goes in\n"
    "its section of the config (cert = FILE, or public_key = \"KEY\"); a client's public file\n"
    "goes in the cluster's /cluster/client_keys directory (or monitor_keys, read-only), and the\n"
    "client uses it with --key FILE or $ZKV_KEY. An existing FILE is kept unless --force.\n",
    s_keygen};
