// The zkv command-line tool: what its command files share (options, the cluster's nodes, output).
#ifndef ZKV_CLI_H
#define ZKV_CLI_H

#include "zkv_client.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Exit codes (docs/cli.md).
#define ZKV_CLI_OK      0 // done
#define ZKV_CLI_ERROR   1 // failed: certainly not applied, or nothing could be read
#define ZKV_CLI_USAGE   2 // bad command line
#define ZKV_CLI_UNKNOWN 3 // timed out, or the session expired under a retry: a put or append
                          // may or may not have taken effect
#define ZKV_CLI_NOTFOUND 4 // a get of a key that does not exist
#define ZKV_CLI_COMPARE  5 // a conditional write whose condition did not hold: nothing changed

#define ZKV_CLI_DEFAULT_CONFIG     "config/local.cfg"
#define ZKV_CLI_DEFAULT_TIMEOUT_MS 5000

// Global options and the nodes they name.
typedef struct {
    const char *config_path; // --config, else $ZKV_CONFIG, else ZKV_CLI_DEFAULT_CONFIG
    const char *endpoints;   // --endpoints: comma-separated client endpoints (ids 1..n)
    const char *events;      // --events: comma-separated event endpoints (with --endpoints)
    int timeout_ms;          // --timeout: per call
    bool explicit_config;    // --config was given
    const char *key_file;    // --key, else $ZKV_KEY, else the config's client_cert (CURVE)
    const char *server_keys; // --server-keys: comma-separated node keys (with --endpoints)
    // Filled by zkv_cli_nodes.
    size_t n;          // number of nodes
    uint64_t *ids;     // node ids
    char **client_eps; // client endpoint per node
    char **event_eps;  // event endpoint per node (NULL entries when unknown)
    size_t max_key;    // limits from the config file (0: library defaults)
    size_t max_value;  // ...
    bool curve;        // connections authenticate and encrypt with CURVE
    char **node_keys;  // each node's public key (Z85), when curve
    char *config_key;  // the config's client_cert (owned), the last resort for key_file
    uint64_t stats_interval_ms; // the config's /cluster/stats_interval_ms (0: no config file)
} zkv_cli_t;

// One command: name, one-line summary, usage text, entry point (argv[0] is the command name).
typedef struct {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run) (zkv_cli_t *cli, int argc, char **argv);
} zkv_cli_command_t;

// Checks the endpoints --endpoints and --events list (host:port or tcp://host:port, ...):
// ZKV_CLI_OK, or ZKV_CLI_USAGE after printing what is wrong with one.
int zkv_cli_check_endpoints (const zkv_cli_t *cli);
// Fills cli's node list from --endpoints/--events or the config file; 0 or prints and fails.
int zkv_cli_nodes (zkv_cli_t *cli);
// Frees the node list.
void zkv_cli_fini (zkv_cli_t *cli);
// A client of the nodes (with the config's limits); NULL after printing why.
zkv_client_t *zkv_cli_client (zkv_cli_t *cli);
// The client certificate to use under CURVE (--key, $ZKV_KEY, the config's client_cert), or
// NULL after printing why there is none.
const char *zkv_cli_key_file (zkv_cli_t *cli);
// Makes sock (a SUB to node i's events, not yet connected) a CURVE client when the cluster runs
// CURVE; false after printing why it cannot.
bool zkv_cli_secure (zkv_cli_t *cli, size_t i, zsock_t *sock);

// Exit code for a client call's result (ZKV_ETIMEOUT, ZKV_ESESSION: ZKV_CLI_UNKNOWN).
int zkv_cli_exit_code (int rc);
// Prints "zkv CMD: message" on stderr.
void zkv_cli_error (const char *cmd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
// Prints the usage of cmd on stderr and returns ZKV_CLI_USAGE.
int zkv_cli_usage (const zkv_cli_command_t *cmd);
// True if arg is -h or --help.
bool zkv_cli_is_help (const char *arg);

// Reads all of stdin (binary-safe) into a heap buffer; 0 or ZKV_EIO / ZKV_ETOOBIG (over max).
int zkv_cli_read_stdin (void **data_p, size_t *len_p, size_t max);
// Parses a positive integer option value within [min, max]; false if it is not one.
bool zkv_cli_parse_u64 (const char *s, uint64_t min, uint64_t max, uint64_t *out);

// Writes bytes as a JSON string (quotes included; bytes outside printable ASCII escaped).
void zkv_cli_json_string (FILE *out, const void *data, size_t len);

// Monotonic clock in nanoseconds (bench latencies and history times).
int64_t zkv_cli_now_ns (void);

// The commands.
extern const zkv_cli_command_t zkv_cli_get_cmd;
extern const zkv_cli_command_t zkv_cli_put_cmd;
extern const zkv_cli_command_t zkv_cli_append_cmd;
extern const zkv_cli_command_t zkv_cli_delete_cmd;
extern const zkv_cli_command_t zkv_cli_cas_cmd;
extern const zkv_cli_command_t zkv_cli_status_cmd;
extern const zkv_cli_command_t zkv_cli_watch_cmd;
extern const zkv_cli_command_t zkv_cli_bench_cmd;
extern const zkv_cli_command_t zkv_cli_ctrl_cmd;
extern const zkv_cli_command_t zkv_cli_keygen_cmd;
extern const zkv_cli_command_t zkv_cli_snapshot_cmd;

#endif
