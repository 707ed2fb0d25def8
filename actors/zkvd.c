// zkvd: the zkv node daemon. A thin shell (Malamute style): load the config, open the node's
// LevelDB, start the actors, wait for SIGINT / SIGTERM, stop the actors in order, exit 0.
//
//     zkvd --config FILE --node ID [--foreground]
#include "zkv_actors.h"
#include "zkv_kv.h"
#include "zkv_kvstores.h"
#include "zkv_ldbdiag.h"
#include "zkv_ldbstore.h"
#include "zkv_lockstore.h"
#include "zkv_restore_file.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: zkvd --config FILE --node ID [--foreground] [--rejoin | --restore FILE]\n"
                  "  --config FILE   the cluster file (ZPL; see config/local.cfg)\n"
                  "  --node ID       which of its nodes this process is\n"
                  "  --foreground    stay attached to the terminal, log to stderr\n"
                  "  --rejoin        this node lost its data (its directory is empty): take\n"
                  "                  every group's state from the group's leader, and vote in\n"
                  "                  no election until it has it\n"
                  "  --restore FILE  seed this new node from a backup (zkv snapshot save FILE;\n"
                  "                  docs/cli.md): every node of the new cluster, once, each\n"
                  "                  from the same FILE; refused for a damaged file, another\n"
                  "                  cluster shape, or a data directory that holds data\n"
                  "exit status: 0 stopped by SIGINT / SIGTERM, 1 failed to start or run,\n"
                  "  2 bad arguments or config file, 65 the data directory is corrupt\n"
                  "  (restarting cannot help: see the message)\n");
}

// Corrupt stored data (a checksum that fails, a file missing from the database) does not heal
// by restarting: one message says where, what to do, and a distinct exit status lets a service
// manager stop restarting the node (systemd: RestartPreventExitStatus=65).
#define S_EXIT_CORRUPT 65

static void
s_corrupt (uint64_t id, const char *dir, const char *detail)
{
    zsys_error ("zkvd %" PRIu64 ": the data directory %s is corrupt%s%s%s. zkvd will not start on "
                "it, and restarting cannot help (exit %d). Keep the directory for diagnosis "
                "(LevelDB's own account is in its LOG file); to recover, move it away and start "
                "the node with --rejoin while the other members of its groups are up: it starts "
                "empty and takes every group's state from the group's leader",
                id, dir, *detail ? " (" : "", detail, *detail ? ")" : "", S_EXIT_CORRUPT);
}

static void
s_node_event (zsock_t *events, zkv_node_t *node, const char *topic)
{
    zkv_msg_t ev = {.type = ZKV_MSG_EVENT_NODE};
    ev.u.event_node.node = node->id;
    ev.u.event_node.time_ms = (uint64_t)zclock_time ();
    ev.u.event_node.groups.items = node->groups;
    ev.u.event_node.groups.count = node->n_groups;
    ev.u.event_node.pid = (uint64_t)getpid ();
    zkv_actors_event (zsock_resolve (events), topic, &ev);
}

// Descriptors: the soft limit goes up to the hard one (connections and LevelDB's files share
// them), and a limit below what the connection bounds need, with storage's reserve, is said.
static void
s_descriptors (const zkv_config_t *config, uint64_t id)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
        getrlimit (RLIMIT_NOFILE, &rl);
    }
    // Three listening sockets, each up to max_connections, and 256 kept for LevelDB's files,
    // the log's syncs and the peers' outgoing connections.
    uint64_t need = 3 * zkv_config_cluster (config)->max_connections + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        zsys_warning ("zkvd %" PRIu64 ": the descriptor limit (%llu) is below what "
                      "/cluster/max_connections needs (%" PRIu64 " with storage's reserve): "
                      "raise it (ulimit -n) or lower max_connections",
                      id, (unsigned long long)rl.rlim_cur, need);
}

// --rejoin: marks every group's state missing in an empty database (zkv_kv_rejoin).
static int
s_rejoin (zkv_node_t *node, const char *dir)
{
    zkv_kvstore_t *store = zkv_kvstore_ldb_new (zkv_lockstore_inner (node->logstore));
    int rc = store ? 0 : ZKV_EINVAL;
    for (size_t i = 0; rc == 0 && i < node->n_groups; i++) {
        rc = zkv_kv_rejoin (store, node->logstore, node->groups[i]);
        if (rc == ZKV_EINVAL)
            zsys_error ("zkvd %" PRIu64 ": --rejoin is for a node whose data is lost: %s holds "
                        "group %" PRIu64 "'s data. Start it without --rejoin (it catches up by "
                        "itself), or move the directory away first",
                        node->id, dir, node->groups[i]);
        else if (rc)
            zsys_error ("zkvd %" PRIu64 ": --rejoin: cannot mark group %" PRIu64
                        "'s state missing in %s: %s",
                        node->id, node->groups[i], dir, zkv_strerror (rc));
    }
    zkv_kvstore_destroy (&store);
    if (rc == 0)
        zsys_notice ("zkvd %" PRIu64 ": rejoining with no data: each group's state comes from "
                     "its leader, and this node votes in no election of a group until it has it",
                     node->id);
    return rc;
}

int
main (int argc, char *argv[])
{
    const char *config_path = NULL;
    const char *node_arg = NULL, *restore_path = NULL;
    bool foreground = false, rejoin = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (streq (argv[i], "--node") && i + 1 < argc)
            node_arg = argv[++i];
        else if (streq (argv[i], "--foreground"))
            foreground = true;
        else if (streq (argv[i], "--rejoin"))
            rejoin = true;
        else if (streq (argv[i], "--restore") && i + 1 < argc)
            restore_path = argv[++i];
        else if (streq (argv[i], "--help") || streq (argv[i], "-h")) {
            s_usage (stdout);
            return 0;
        } else {
            fprintf (stderr, "zkvd: unknown argument '%s'\n", argv[i]);
            s_usage (stderr);
            return 2;
        }
    }
    if (!config_path || !node_arg || (rejoin && restore_path)) {
        s_usage (stderr);
        return 2;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull (node_arg, &end, 10);
    if (errno || !end || *end || id == 0) {
        fprintf (stderr, "zkvd: --node: expected a node id (a positive integer), got '%s'\n",
                 node_arg);
        return 2;
    }
    char err[512] = "";
    zkv_config_t *config = zkv_config_load (config_path, err, sizeof err);
    if (!config) {
        fprintf (stderr, "zkvd: %s\n", err);
        return 2;
    }
    const zkv_config_node_t *me = zkv_config_node_require (config, id, err, sizeof err);
    if (!me) {
        fprintf (stderr, "zkvd: %s\n", err);
        zkv_config_destroy (&config);
        return 2;
    }
    // A backup to restore is checked whole before anything else (and before detaching, so that
    // a refusal reaches the terminal): nothing is written for a file that will not do.
    zkv_restore_file_t *restore = NULL;
    if (restore_path) {
        restore = zkv_restore_file_open (restore_path, config, err, sizeof err);
        if (!restore) {
            fprintf (stderr, "zkvd: %s\n", err);
            zkv_config_destroy (&config);
            return 2;
        }
    }
    if (!foreground && daemon (1, 0) != 0) {
        fprintf (stderr, "zkvd: cannot detach: %s\n", strerror (errno));
        zkv_restore_file_close (&restore);
        return 1;
    }

    // Signals go to the main thread only: every thread started from here on (actors, ZeroMQ's
    // I/O threads) inherits the blocked mask, so no blocking call in an actor is interrupted
    // halfway through handing committed entries over.
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    zsys_init ();
    zsys_set_logident ("zkvd");
    if (!foreground)
        zsys_set_logsystem (true);

    s_descriptors (config, id);
    zkv_node_t node = {.id = id, .config = config};
    node.n_groups = zkv_config_groups_of_node (config, id, NULL, 0);
    node.groups = (uint64_t *)zmalloc ((node.n_groups + 1) * sizeof (uint64_t));
    zkv_config_groups_of_node (config, id, node.groups, node.n_groups);
    node.routing = zkv_node_routing (config);

    int rc = 1;
    zactor_t *events = NULL, *transport = NULL, *frontend = NULL;
    zactor_t **groups = (zactor_t **)zmalloc ((node.n_groups + 1) * sizeof (zactor_t *));
    zkv_group_args_t *gargs =
        (zkv_group_args_t *)zmalloc ((node.n_groups + 1) * sizeof (zkv_group_args_t));
    zsock_t *events_in = NULL;

    // Nodes started together create a shared parent at the same moment: zsys_dir_create
    // fails on the one that loses that race, yet the directory is there, which is all we need.
    struct stat st;
    if (zsys_dir_create ("%s", me->data) != 0 &&
        !(stat (me->data, &st) == 0 && S_ISDIR (st.st_mode))) {
        zsys_error ("zkvd %" PRIu64 ": cannot create data directory %s: %s", node.id, me->data,
                    strerror (errno));
        goto done;
    }
    char why[1024];
    node.security = zkv_security_new (config, node.id, me->data, why, sizeof why);
    if (!node.security) {
        zsys_error ("zkvd %" PRIu64 ": %s", node.id, why);
        goto done;
    }
    int serr = 0;
    char errmsg[256] = "";
    zkv_logstore_t *ldb = zkv_ldbstore_new (me->data, &serr, errmsg, sizeof errmsg);
    if (!ldb) {
        if (serr == ZKV_ECORRUPT) {
            // LevelDB's detail rarely names the file; its LOG says what it was recovering.
            char file[256], detail[600];
            if (zkv_ldbdiag_corrupt_file (me->data, file, sizeof file) == 0)
                snprintf (detail, sizeof detail, "%s, in %s", errmsg, file);
            else
                snprintf (detail, sizeof detail, "%s", errmsg);
            s_corrupt (node.id, me->data, detail);
            rc = S_EXIT_CORRUPT;
        } else
            zsys_error ("zkvd %" PRIu64 ": cannot open the database in %s: %s (%s)", node.id,
                        me->data, zkv_strerror (serr), errmsg);
        goto done;
    }
    node.logstore = zkv_lockstore_new (ldb);
    if (rejoin && s_rejoin (&node, me->data) != 0) {
        rc = 2;
        goto done;
    }
    if (restore && zkv_restore_file_install (restore, &node, me->data) != 0) {
        rc = 2;
        goto done;
    }
    zkv_restore_file_close (&restore);

    // Start order: events first (everyone publishes), then the groups (each boots its state
    // machine and Raft from the store), then the network and the clients.
    events = zactor_new (zkv_events_actor, &node);
    if (node.start_rc != 0)
        goto done;
    events_in = zkv_actors_push (&node, "events", UINT64_MAX);
    for (size_t i = 0; i < node.n_groups; i++) {
        gargs[i] = (zkv_group_args_t){.node = &node, .group = node.groups[i]};
        groups[i] = zactor_new (zkv_group_actor, &gargs[i]);
        if (node.start_rc == ZKV_ECORRUPT) {
            char what[96];
            snprintf (what, sizeof what,
                      "group %" PRIu64 "'s state does not check out: a table file (*.ldb)",
                      node.groups[i]);
            s_corrupt (node.id, me->data, what);
            rc = S_EXIT_CORRUPT;
        }
        if (node.start_rc != 0)
            goto done;
    }
    transport = zactor_new (zkv_transport_actor, &node);
    if (node.start_rc != 0)
        goto done;
    frontend = zactor_new (zkv_frontend_actor, &node);
    if (node.start_rc != 0)
        goto done;
    zsys_info ("zkvd %" PRIu64 ": serving clients at %s, peers at %s, events at %s (%zu groups, "
               "%s)",
               node.id, me->client, me->peer, me->events, node.n_groups,
               zkv_security_on (node.security) ? "CURVE" : "PLAIN TEXT");
    s_node_event (events_in, &node, "zkv.node.started");

    pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);
    // CZMQ's handler sets zsys_interrupted. Meanwhile, every few seconds, the allocator gives
    // back to the system what a burst (a flood of requests, a snapshot transfer) left free: it
    // keeps freed memory in its arenas otherwise, and the node's footprint would stay at its
    // peak. The client and monitor key directories are read again as often: a key file
    // dropped in is let in, one removed is refused to new connections, without a restart.
    for (int t = 0; !zsys_interrupted; t++) {
        zclock_sleep (100);
        if (t % 50 == 49) {
            malloc_trim (0);
            zkv_security_reload (node.security, node.id);
        }
    }
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    zsys_info ("zkvd %" PRIu64 ": stopping", node.id);
    s_node_event (events_in, &node, "zkv.node.stopping");
    rc = 0;

done:
    // Stop order: no new client work, then the groups (every ready they took was synced
    // before its messages left), the network, the event publisher. No actor blocks on a send
    // (zkv_actors.h), so each stops at its next wakeup, whatever the others are doing.
    zactor_destroy (&frontend);
    for (size_t i = 0; i < node.n_groups; i++)
        zactor_destroy (&groups[i]);
    zactor_destroy (&transport);
    zsock_destroy (&events_in);
    zactor_destroy (&events);
    zkv_logstore_destroy (&node.logstore);
    zkv_security_destroy (&node.security);
    free (gargs);
    free (groups);
    free (node.groups);
    zkv_restore_file_close (&restore);
    zkv_routing_destroy (&node.routing);
    zkv_config_destroy (&config);
    return rc;
}
