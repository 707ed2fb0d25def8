// zkvd: the zkv node daemon. A thin shell (Malamute style): load the config, open the node's
// LevelDB, start the actors, wait for SIGINT / SIGTERM, stop the actors in order, exit 0.
//
//     zkvd --config FILE --node ID [--daemon --log-file FILE --pid-file FILE]
//
// It stays in the foreground and logs to stderr, as a service manager expects (the systemd unit
// actors/zkvd@.service.in); --daemon detaches once the node is up (zkv_daemon.h).
#include "zkv_actors.h"
#include "zkv_daemon.h"
#include "zkv_kv.h"
#include "zkv_kvstores.h"
#include "zkv_ldbdiag.h"
#include "zkv_ldbpins.h"
#include "zkv_ldbstore.h"
#include "zkv_lockstore.h"
#include "zkv_log.h"
#include "zkv_version.h"
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
    fprintf (out, "usage: zkvd --config FILE --node ID [--rejoin | --restore FILE] [--log-file FILE]\n"
                  "            [--log-level LEVEL] [--syslog]\n"
                  "            [--daemon --log-file FILE --pid-file FILE]\n"
                  "       zkvd --version\n"
                  "  --config FILE    the cluster file (ZPL; see config/local.cfg)\n"
                  "  --node ID        which of its nodes this process is\n"
                  "  --rejoin         this node lost its data (its directory is empty): take\n"
                  "                   every group's state from the group's leader, and vote in\n"
                  "                   no election until it has it\n"
                  "  --restore FILE   seed this new node from a backup (zkv snapshot save FILE;\n"
                  "                   docs/cli.md): every node of the new cluster, once, each\n"
                  "                   from the same FILE; refused for a damaged file, another\n"
                  "                   cluster shape, or a data directory that holds data\n"
                  "  --log-file FILE  log to FILE (appended; SIGHUP opens it again, for\n"
                  "                   logrotate) instead of stderr\n"
                  "  --log-level LEVEL  error, warning, notice, info (the default) or debug:\n"
                  "                   lines below it are not written\n"
                  "  --syslog         send the lines to syslog too (facility daemon)\n"
                  "  --pid-file FILE  write the process id to FILE (removed at exit)\n"
                  "  --daemon         detach once the node serves; a failed start-up is\n"
                  "                   reported first, with the exit status below. Needs\n"
                  "                   --log-file and --pid-file\n"
                  "  --foreground     the default (zkvd stays in the foreground): ignored\n"
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
    zkv_log_error ("zkvd %" PRIu64 ": the data directory %s is corrupt%s%s%s. zkvd will not start on "
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
    uint64_t need = 3 * zkv_config_cluster (config)->max_connections +
                    zkv_config_cluster (config)->http_max_connections + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        zkv_log_warning ("zkvd %" PRIu64 ": the descriptor limit (%llu) is below what "
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
            zkv_log_error ("zkvd %" PRIu64 ": --rejoin is for a node whose data is lost: %s holds "
                           "group %" PRIu64 "'s data. Start it without --rejoin (it catches up by "
                           "itself), or move the directory away first",
                           node->id, dir, node->groups[i]);
        else if (rc)
            zkv_log_error ("zkvd %" PRIu64 ": --rejoin: cannot mark group %" PRIu64
                           "'s state missing in %s: %s",
                           node->id, node->groups[i], dir, zkv_strerror (rc));
    }
    zkv_kvstore_destroy (&store);
    if (rc == 0)
        zkv_log_notice ("zkvd %" PRIu64 ": rejoining with no data: each group's state comes from "
                        "its leader, and this node votes in no election of a group until it has it",
                        node->id);
    return rc;
}

// What the command line asks for.
typedef struct {
    const char *config;   // --config FILE
    const char *node;     // --node ID
    const char *log_file; // --log-file FILE, NULL: stderr
    const char *pid_file; // --pid-file FILE, NULL: none
    const char *level;    // --log-level LEVEL, NULL: info
    bool syslog;          // --syslog
    bool daemon;          // --daemon: detach once the node serves
    bool rejoin;          // --rejoin
    const char *restore;  // --restore FILE, NULL: none
} s_args_t;

// Reads the arguments: -1 to go on, or the exit status (0 after --help).
static int
s_parse_args (int argc, char *argv[], s_args_t *args)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool value = i + 1 < argc;
        if (streq (a, "--config") && value)
            args->config = argv[++i];
        else if (streq (a, "--node") && value)
            args->node = argv[++i];
        else if (streq (a, "--log-file") && value)
            args->log_file = argv[++i];
        else if (streq (a, "--pid-file") && value)
            args->pid_file = argv[++i];
        else if (streq (a, "--log-level") && value)
            args->level = argv[++i];
        else if (streq (a, "--syslog"))
            args->syslog = true;
        else if (streq (a, "--daemon"))
            args->daemon = true;
        else if (streq (a, "--foreground"))
            ; // the default now; scripts written for the zkvd that detached still pass it
        else if (streq (a, "--rejoin"))
            args->rejoin = true;
        else if (streq (a, "--restore") && value)
            args->restore = argv[++i];
        else if (streq (a, "--help") || streq (a, "-h")) {
            s_usage (stdout);
            return 0;
        } else {
            fprintf (stderr, "zkvd: unknown argument '%s'\n", a);
            s_usage (stderr);
            return 2;
        }
    }
    if (!args->config || !args->node || (args->rejoin && args->restore)) {
        s_usage (stderr);
        return 2;
    }
    zkv_log_level_t level = ZKV_LOG_INFO;
    if (args->level && zkv_log_level_parse (args->level, &level) != 0) {
        fprintf (stderr, "zkvd: --log-level: expected error, warning, notice, info or debug, got "
                         "'%s'\n",
                 args->level);
        return 2;
    }
    zkv_log_set_level (level);
    // A detached zkvd has no terminal: where its lines and its pid go must be said.
    if (args->daemon && (!args->log_file || !args->pid_file)) {
        fprintf (stderr, "zkvd: --daemon needs --log-file FILE and --pid-file FILE (a detached "
                         "node has no terminal to log to, and its process id must be found)\n");
        return 2;
    }
    return -1;
}

static volatile sig_atomic_t s_reopen_log; // SIGHUP: logrotate moved the log file away

static void
s_on_sighup (int sig)
{
    (void)sig;
    s_reopen_log = 1;
}

int
main (int argc, char *argv[])
{
    if (zkv_version_option (argc, argv, "zkvd"))
        return 0;
    s_args_t args = {0};
    int parsed = s_parse_args (argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull (args.node, &end, 10);
    if (errno || !end || *end || id == 0) {
        fprintf (stderr, "zkvd: --node: expected a node id (a positive integer), got '%s'\n",
                 args.node);
        return 2;
    }
    char err[512] = "";
    zkv_config_t *config = zkv_config_load (args.config, err, sizeof err);
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
    if (args.restore) {
        restore = zkv_restore_file_open (args.restore, config, err, sizeof err);
        if (!restore) {
            fprintf (stderr, "zkvd: %s\n", err);
            zkv_config_destroy (&config);
            return 2;
        }
    }
    if (args.log_file && zkv_log_set_file (args.log_file, err, sizeof err) != 0) {
        fprintf (stderr, "zkvd: %s\n", err);
        zkv_restore_file_close (&restore);
        zkv_config_destroy (&config);
        return 1;
    }
    if (args.syslog)
        zkv_log_set_syslog ("zkvd");
    // --daemon: from here on this is the child; the parent waits for its word (zkv_daemon.h).
    // Until then its lines reach the terminal too.
    int ready_fd = -1;
    if (args.daemon) {
        char who[64];
        snprintf (who, sizeof who, "zkvd %llu", id);
        ready_fd = zkv_daemon_fork (who, args.log_file);
        if (ready_fd < 0) {
            fprintf (stderr, "zkvd: cannot detach: %s\n", strerror (errno));
            zkv_log_close ();
            zkv_restore_file_close (&restore);
            zkv_config_destroy (&config);
            return 1;
        }
        zkv_log_set_echo (STDERR_FILENO);
    }

    // Signals go to the main thread only: every thread started from here on (actors, ZeroMQ's
    // I/O threads) inherits the blocked mask, so no blocking call in an actor is interrupted
    // halfway through handing committed entries over.
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    if (args.log_file) {
        sigaddset (&stop_signals, SIGHUP);
        struct sigaction sa = {.sa_handler = s_on_sighup};
        sigemptyset (&sa.sa_mask);
        sigaction (SIGHUP, &sa, NULL);
    }
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    zsys_init ();
    // CZMQ's own lines (rare) go where ours go: stderr, which a daemon points at its log file.
    zsys_set_logident ("zkvd");
    zsys_set_logstream (stderr);

    zkv_log_info ("zkvd %llu: zkv %s, pid %d, config %s, log level %s", id, zkv_version (),
                  (int)getpid (), args.config, zkv_log_level_name (zkv_log_level ()));
    s_descriptors (config, id);
    zkv_node_t node = {.id = id, .config = config, .started_ms = zclock_mono ()};
    node.n_groups = zkv_config_groups_of_node (config, id, NULL, 0);
    node.groups = (uint64_t *)zmalloc ((node.n_groups + 1) * sizeof (uint64_t));
    zkv_config_groups_of_node (config, id, node.groups, node.n_groups);
    node.board = zkv_board_new (node.groups, node.n_groups);
    node.routing = zkv_node_routing (config);

    int rc = 1;
    zactor_t *events = NULL, *transport = NULL, *frontend = NULL, *stats = NULL, *status = NULL;
    zactor_t **groups = (zactor_t **)zmalloc ((node.n_groups + 1) * sizeof (zactor_t *));
    zkv_group_args_t *gargs =
        (zkv_group_args_t *)zmalloc ((node.n_groups + 1) * sizeof (zkv_group_args_t));
    zsock_t *events_in = NULL;

    // Nodes started together create a shared parent at the same moment: zsys_dir_create
    // fails on the one that loses that race, yet the directory is there, which is all we need.
    struct stat st;
    if (zsys_dir_create ("%s", me->data) != 0 &&
        !(stat (me->data, &st) == 0 && S_ISDIR (st.st_mode))) {
        zkv_log_error ("zkvd %" PRIu64 ": cannot create data directory %s: %s", node.id, me->data,
                       strerror (errno));
        goto done;
    }
    char why[1024];
    node.security = zkv_security_new (config, node.id, me->data, why, sizeof why);
    if (!node.security) {
        zkv_log_error ("zkvd %" PRIu64 ": %s", node.id, why);
        goto done;
    }
    int serr = 0;
    char errmsg[256] = "";
    size_t write_buffer = (size_t)zkv_config_storage_write_buffer_for_node (config, node.id);
    zkv_logstore_t *ldb =
        zkv_ldbstore_new_sized (me->data, write_buffer, &serr, errmsg, sizeof errmsg);
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
            zkv_log_error ("zkvd %" PRIu64 ": cannot open the database in %s: %s (%s)", node.id,
                           me->data, zkv_strerror (serr), errmsg);
        goto done;
    }
    node.logstore = zkv_lockstore_new (ldb);
    if (args.rejoin && s_rejoin (&node, me->data) != 0) {
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
    // The status page's view exists before the HTTP endpoint (in the stats actor) shows it.
    node.status = zkv_status_new (config, node.id);
    status = zactor_new (zkv_status_actor, &node);
    stats = zactor_new (zkv_stats_actor, &node);
    if (node.start_rc != 0)
        goto done;
    if (args.pid_file && zkv_daemon_write_pid (args.pid_file, err, sizeof err) != 0) {
        zkv_log_error ("zkvd %" PRIu64 ": %s", node.id, err);
        goto done;
    }
    zkv_log_notice ("zkvd %" PRIu64 ": serving clients at %s, peers at %s, events at %s (%zu "
                    "groups, %s)",
                    node.id, me->client, me->peer, me->events, node.n_groups,
                    zkv_security_on (node.security) ? "CURVE" : "PLAIN TEXT");
    s_node_event (events_in, &node, "zkv.node.started");
    if (ready_fd >= 0) {
        // Up: the parent exits 0, and the terminal is let go.
        zkv_log_set_echo (-1);
        zkv_daemon_ready (ready_fd, zkv_log_fd ());
        ready_fd = -1;
    }

    pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);
    // CZMQ's handler sets zsys_interrupted. Meanwhile, every few seconds, the allocator gives
    // back to the system what a burst (a flood of requests, a snapshot transfer) left free: it
    // keeps freed memory in its arenas otherwise, and the node's footprint would stay at its
    // peak. The client and monitor key directories are read again as often: a key file
    // dropped in is let in, one removed is refused to new connections, without a restart.
    for (int t = 0; !zsys_interrupted; t++) {
        zclock_sleep (100);
        if (s_reopen_log) {
            s_reopen_log = 0;
            if (zkv_log_reopen (err, sizeof err) != 0)
                zkv_log_error ("zkvd %" PRIu64 ": %s", node.id, err); // to the old file
            else if (args.daemon)
                zkv_daemon_redirect (zkv_log_fd ()); // CZMQ's and the sanitizers' lines too
        }
        if (t % 50 == 49) {
            malloc_trim (0);
            zkv_security_reload (node.security, node.id);
        }
    }
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    zkv_log_notice ("zkvd %" PRIu64 ": stopping", node.id);
    s_node_event (events_in, &node, "zkv.node.stopping");
    rc = 0;

done:
    // Stop order: no new client work, then the groups (every ready they took was synced
    // before its messages left), the network, the event publisher. No actor blocks on a send
    // (zkv_actors.h), so each stops at its next wakeup, whatever the others are doing.
    zactor_destroy (&stats);
    zactor_destroy (&status);
    zactor_destroy (&frontend);
    // The groups close their snapshot views as they stop: compactions that waited for them
    // could hold a stop for seconds. They are left to LevelDB (zkv_ldbpins_stopping).
    if (node.logstore)
        zkv_ldbpins_stopping (zkv_ldbstore_pins (zkv_lockstore_inner (node.logstore)));
    for (size_t i = 0; i < node.n_groups; i++)
        zactor_destroy (&groups[i]);
    zactor_destroy (&transport);
    zsock_destroy (&events_in);
    zactor_destroy (&events);
    zkv_logstore_destroy (&node.logstore);
    zkv_security_destroy (&node.security);
    zkv_status_destroy (&node.status);
    free (gargs);
    free (groups);
    free (node.groups);
    zkv_board_destroy (&node.board);
    zkv_restore_file_close (&restore);
    zkv_routing_destroy (&node.routing);
    zkv_config_destroy (&config);
    if (args.pid_file)
        zkv_daemon_remove_pid (args.pid_file);
    zkv_log_close ();
    // A daemon that failed to start exits now with rc: its parent exits with it.
    return rc;
}
