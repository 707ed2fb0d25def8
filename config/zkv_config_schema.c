// The config schema: one row per option (path, type, bounds, default, doc), its value readers and
// its Markdown rendering. Every option is validated here and nowhere else (Redis's config table).
#include "zkv_config_int.h"
#include "zkv_error.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CLUSTER(field) offsetof (zkv_config_cluster_t, field)
#define S_NODE(field)    offsetof (zkv_config_node_t, field)
#define S_GROUP(field)   offsetof (zkv_config_group_t, field)

const zkv_config_section_t zkv_config_sections[ZKV_CONFIG_SECTIONS] = {
    [ZKV_CONFIG_CLUSTER] = {"cluster", 1, 1, sizeof (zkv_config_cluster_t),
                            "Cluster-wide settings and tunables."},
    [ZKV_CONFIG_NODE] = {"node", 1, 256, sizeof (zkv_config_node_t),
                         "One node: a zkvd process, its endpoints and its data directory."},
    [ZKV_CONFIG_GROUP] = {"group", 1, 1024, sizeof (zkv_config_group_t),
                          "One Raft group and its members. Group 0 (the shard controller) must "
                          "exist; groups 1 and up serve shards."},
};

const char zkv_config_unset[] = "";

const zkv_config_option_t zkv_config_options[] = {
    {ZKV_CONFIG_CLUSTER, "name", ZKV_CONFIG_NAME, 1, 63, NULL, S_CLUSTER (name),
     "Cluster name, shown in logs and events."},
    {ZKV_CONFIG_CLUSTER, "shards", ZKV_CONFIG_UINT, 1, 65536, "64", S_CLUSTER (shards),
     "Number of shards the key space is split into; fixed when the cluster is created."},
    {ZKV_CONFIG_CLUSTER, "tick_ms", ZKV_CONFIG_UINT, 1, 1000, "10", S_CLUSTER (tick_ms),
     "Length of one Raft tick, in milliseconds."},
    {ZKV_CONFIG_CLUSTER, "election_ticks", ZKV_CONFIG_UINT, 2, 10000, "30",
     S_CLUSTER (election_ticks),
     "Election timeout, drawn from [election_ticks, 2 * election_ticks) ticks; at least twice "
     "heartbeat_ticks."},
    {ZKV_CONFIG_CLUSTER, "heartbeat_ticks", ZKV_CONFIG_UINT, 1, 5000, "3",
     S_CLUSTER (heartbeat_ticks), "Leader heartbeat period, in ticks."},
    {ZKV_CONFIG_CLUSTER, "pre_vote", ZKV_CONFIG_BOOL, 0, 1, "true", S_CLUSTER (pre_vote),
     "Run a PreVote round before raising the term (Raft dissertation 9.6)."},
    {ZKV_CONFIG_CLUSTER, "check_quorum", ZKV_CONFIG_BOOL, 0, 1, "true", S_CLUSTER (check_quorum),
     "A leader that hears from no quorum for an election timeout steps down."},
    {ZKV_CONFIG_CLUSTER, "snapshot_bytes", ZKV_CONFIG_UINT, 65536, UINT64_C (1) << 40, "8388608",
     S_CLUSTER (snapshot_bytes),
     "Snapshot and compact a group's log once it holds this many bytes."},
    // The codec carries a field of at most 32 MiB (messages/zkv_msg.h) and a message of 64 MiB:
    // the limits below keep what they size inside it, framing included.
    {ZKV_CONFIG_CLUSTER, "snapshot_chunk_bytes", ZKV_CONFIG_UINT, 4096, 16777216, "1048576",
     S_CLUSTER (snapshot_chunk_bytes),
     "Snapshots and shard moves are sent in chunks of at most this many bytes."},
    {ZKV_CONFIG_CLUSTER, "shard_move_bytes_per_sec", ZKV_CONFIG_UINT, 0, 1099511627776, "0",
     S_CLUSTER (shard_move_bytes_per_sec),
     "A shard group pulls moving shards at most this fast (bytes of records per second, 0: as "
     "fast as it can); a lower rate leaves more of the nodes to the shards that do not move."},
    {ZKV_CONFIG_CLUSTER, "storage_write_buffer_bytes", ZKV_CONFIG_UINT, 1048576, 1073741824,
     "33554432", S_CLUSTER (storage_write_buffer_bytes),
     "Each node's LevelDB holds this many bytes of writes in memory before it writes them to a "
     "table (two such buffers at most). Nodes stagger it by id (ids 1, 2, 3, 4, 5... use 1, "
     "1.25, 1.5, 1.75, 1... times it) so that replicas, which write the same bytes, do not all "
     "compact at the same moment."},
    {ZKV_CONFIG_CLUSTER, "max_key_bytes", ZKV_CONFIG_UINT, 1, 65536, "1024",
     S_CLUSTER (max_key_bytes), "Largest key a client may write."},
    {ZKV_CONFIG_CLUSTER, "max_value_bytes", ZKV_CONFIG_UINT, 1, 16777216, "1048576",
     S_CLUSTER (max_value_bytes), "Largest value a client may write."},
    {ZKV_CONFIG_CLUSTER, "max_batch_entries", ZKV_CONFIG_UINT, 1, 65536, "256",
     S_CLUSTER (max_batch_entries), "Most log entries in one AppendEntries message."},
    {ZKV_CONFIG_CLUSTER, "max_batch_bytes", ZKV_CONFIG_UINT, 4096, 33554432, "1048576",
     S_CLUSTER (max_batch_bytes), "Most entry bytes in one AppendEntries message."},
    {ZKV_CONFIG_CLUSTER, "max_inflight", ZKV_CONFIG_UINT, 1, 4096, "64", S_CLUSTER (max_inflight),
     "Most unacknowledged AppendEntries messages per follower (pipelining)."},
    {ZKV_CONFIG_CLUSTER, "max_inflight_bytes", ZKV_CONFIG_UINT, 65536, 1073741824, "16777216",
     S_CLUSTER (max_inflight_bytes),
     "Most entry bytes in unacknowledged AppendEntries per follower: what a slow follower holds "
     "of the leader's memory in queues (one message always goes). A follower that falls behind "
     "the log's compaction gets a snapshot stream instead."},
    {ZKV_CONFIG_CLUSTER, "max_requests", ZKV_CONFIG_UINT, 1, 1048576, "65536",
     S_CLUSTER (max_requests),
     "Client requests a node holds waiting for their answer, in all; past it a request is "
     "answered 'busy, retry' at once."},
    {ZKV_CONFIG_CLUSTER, "max_requests_per_client", ZKV_CONFIG_UINT, 1, 1048576, "64",
     S_CLUSTER (max_requests_per_client),
     "... from one client connection: one client cannot take every slot of a node."},
    {ZKV_CONFIG_CLUSTER, "max_request_bytes", ZKV_CONFIG_UINT, 65536, 1099511627776, "67108864",
     S_CLUSTER (max_request_bytes),
     "... their keys' and values' bytes in all: past it a request is answered 'busy, retry' at "
     "once (one always fits)."},
    {ZKV_CONFIG_CLUSTER, "max_connections", ZKV_CONFIG_UINT, 4, 100000, "1000",
     S_CLUSTER (max_connections),
     "Connections each of a node's listening sockets (peer, client, events) holds at once; more "
     "are closed as they come (counted, logged once), so that descriptors stay for storage. A "
     "connection that does not finish its handshake within 5 s is dropped."},
    {ZKV_CONFIG_CLUSTER, "max_queued_replies", ZKV_CONFIG_UINT, 1, 100000, "256",
     S_CLUSTER (max_queued_replies),
     "Answers a node queues for one client connection that does not read them (ZeroMQ's send "
     "high-water mark); past it the client is disconnected (what was queued for it is freed; "
     "it may connect and ask again), so one slow reader holds at most this many answers of the "
     "node's memory."},
    {ZKV_CONFIG_CLUSTER, "max_queued_reply_bytes", ZKV_CONFIG_UINT, 65536, 1073741824,
     "4194304", S_CLUSTER (max_queued_reply_bytes),
     "Bytes of answers a node holds for one client connection whose socket buffer is full (a "
     "client that does not read them); past it the client is disconnected and they are freed."},
    {ZKV_CONFIG_CLUSTER, "max_queued_bytes", ZKV_CONFIG_UINT, 65536, 1099511627776, "67108864",
     S_CLUSTER (max_queued_bytes),
     "... for all client connections together; past it a connection whose buffer is full when "
     "an answer goes to it is disconnected."},
    {ZKV_CONFIG_CLUSTER, "max_uncommitted_bytes", ZKV_CONFIG_UINT, 0, UINT64_C (1) << 40,
     "33554432", S_CLUSTER (max_uncommitted_bytes),
     "A group's leader answers a write 'busy, retry' at once when the entries it proposed and "
     "has not committed would pass this many bytes (one always fits): overload is refused, "
     "not queued and lost. 0: no limit."},
    {ZKV_CONFIG_CLUSTER, "max_term_jump", ZKV_CONFIG_UINT, 0, UINT64_C (1) << 62, "1000000",
     S_CLUSTER (max_term_jump),
     "A Raft message whose term is more than this above the node's is dropped and counted: a "
     "peer that is wrong (a bug, a bit flip, a forgery) cannot end the terms or push them out "
     "of reach. With pre_vote, terms rise only with real elections. 0: no limit."},
    // The least ttl is twice the clock skew margin (cluster/zkv_kv.h, ZKV_KV_SESSION_MIN_IDLE_MS):
    // a shorter one would refuse new sessions because of the ones just evicted.
    {ZKV_CONFIG_CLUSTER, "session_ttl_ms", ZKV_CONFIG_UINT, 120000, 2592000000, "3600000",
     S_CLUSTER (session_ttl_ms),
     "A client session (a client's dedup record on a shard: its last request and reply) that "
     "has been idle this long by the group's log time (its leaders' clocks) expires, on every "
     "replica at the same log entry; a retry of a request whose session expired is answered "
     "'session expired' (outcome unknown), never applied twice. The leaders' clocks must agree "
     "within 60 s (NTP). Counted per group (zkvd logs them when it stops): sessions, expired, "
     "requests answered 'session expired'."},
    {ZKV_CONFIG_CLUSTER, "max_sessions", ZKV_CONFIG_UINT, 16, 16777216, "65536",
     S_CLUSTER (max_sessions),
     "Client sessions a group keeps at most (about 100 bytes each and the last reply's value, in "
     "memory and on disk). Past it a new session ends the least recently active ones idle for "
     "2 minutes or more; when none is, the new one is answered 'busy, retry'. Counted per "
     "group: sessions ended for it, new ones answered busy."},
    {ZKV_CONFIG_CLUSTER, "max_saves", ZKV_CONFIG_UINT, 1, 1024, "4", S_CLUSTER (max_saves),
     "Saves (zkv snapshot save) a group's leader serves at once, each reading a view of the "
     "group's state (which keeps the data it sees on disk until the save ends, or sits idle "
     "30 s); one more is answered 'busy, retry'. Counted per group: saves begun, chunks read, "
     "refused busy, ended idle."},
    {ZKV_CONFIG_CLUSTER, "security", ZKV_CONFIG_NAME, 1, 31, "curve", S_CLUSTER (security),
     "curve: every peer, client and event connection is authenticated and encrypted with CURVE "
     "(each node has a certificate, each client a key the cluster allows); none: plain text, "
     "anyone who reaches a port is trusted (zkvd says so at start)."},
    {ZKV_CONFIG_CLUSTER, "client_keys", ZKV_CONFIG_PATH, 1, 4095, zkv_config_unset,
     S_CLUSTER (client_keys),
     "Directory of the public certificates of the clients allowed (`zkv keygen` makes them); "
     "read when zkvd starts. Relative to the config file's folder."},
    {ZKV_CONFIG_CLUSTER, "monitor_keys", ZKV_CONFIG_PATH, 1, 4095, zkv_config_unset,
     S_CLUSTER (monitor_keys),
     "Directory of read-only public certificates: the event stream, status and configuration "
     "queries, no reads or writes of keys."},
    {ZKV_CONFIG_CLUSTER, "client_cert", ZKV_CONFIG_PATH, 1, 4095, zkv_config_unset,
     S_CLUSTER (client_cert),
     "Certificate (with its FILE_secret) that zkv and the client library use with this file "
     "when neither --key nor $ZKV_KEY names one; for development clusters."},
    {ZKV_CONFIG_CLUSTER, "http_max_connections", ZKV_CONFIG_UINT, 1, 1024, "64",
     S_CLUSTER (http_max_connections),
     "Connections a node's HTTP endpoint (/node/http: metrics) holds at once; more are closed "
     "as they come, and counted (zkv_http_connections_refused_total)."},
    {ZKV_CONFIG_CLUSTER, "http_timeout_ms", ZKV_CONFIG_UINT, 1000, 3600000, "10000",
     S_CLUSTER (http_timeout_ms),
     "An HTTP connection idle this long is closed (counted in whole seconds, rounded up)."},
    {ZKV_CONFIG_CLUSTER, "stats_interval_ms", ZKV_CONFIG_UINT, 100, 60000, "1000",
     S_CLUSTER (stats_interval_ms),
     "Every node publishes a zkv.node.stats event this often (docs/events.md): its figures, "
     "and a heartbeat: a subscriber that hears none for 3 intervals may take the node for dead."},
    {ZKV_CONFIG_CLUSTER, "status_events", ZKV_CONFIG_UINT, 1, 100000, "256",
     S_CLUSTER (status_events),
     "Recent events a node keeps for its status page (its HTTP endpoint's \"/\"); older ones "
     "make room and are counted."},
    {ZKV_CONFIG_CLUSTER, "status_max_nodes", ZKV_CONFIG_UINT, 1, 65536, "1024",
     S_CLUSTER (status_max_nodes),
     "Nodes the status page keeps (the config file's and those the configurations name); more "
     "are counted and left out."},
    {ZKV_CONFIG_CLUSTER, "status_max_groups", ZKV_CONFIG_UINT, 1, 65536, "1024",
     S_CLUSTER (status_max_groups),
     "Groups the status page keeps, in all and per node; more are counted and left out."},

    {ZKV_CONFIG_NODE, "id", ZKV_CONFIG_UINT, 1, ZKV_CONFIG_MAX_NODE_ID, NULL, S_NODE (id),
     "Node id: non-zero, unique; `zkvd --node ID` picks the node to run."},
    {ZKV_CONFIG_NODE, "peer", ZKV_CONFIG_ENDPOINT, 0, 0, NULL, S_NODE (peer),
     "Endpoint the node binds for Raft and shard traffic from other nodes."},
    {ZKV_CONFIG_NODE, "client", ZKV_CONFIG_ENDPOINT, 0, 0, NULL, S_NODE (client),
     "Endpoint the node binds for client requests."},
    {ZKV_CONFIG_NODE, "events", ZKV_CONFIG_ENDPOINT, 0, 0, NULL, S_NODE (events),
     "Endpoint the node publishes its events on."},
    {ZKV_CONFIG_NODE, "data", ZKV_CONFIG_PATH, 1, 4095, NULL, S_NODE (data),
     "Data directory, one per node; a relative path is relative to the config file's folder."},
    {ZKV_CONFIG_NODE, "cert", ZKV_CONFIG_PATH, 1, 4095, zkv_config_unset, S_NODE (cert),
     "The node's certificate (`zkv keygen FILE` writes FILE and FILE_secret): the public file "
     "names its key to the others, the secret one is read by the node alone. Needed by the node "
     "itself under curve; relative to the config file's folder."},
    {ZKV_CONFIG_NODE, "public_key", ZKV_CONFIG_KEY, 40, 40, zkv_config_unset, S_NODE (public_key),
     "The node's public key in Z85 (40 characters, quoted), for machines that do not have its "
     "cert file; must match cert when both are given."},
    {ZKV_CONFIG_NODE, "http", ZKV_CONFIG_ENDPOINT, 0, 0, zkv_config_unset, S_NODE (http),
     "Endpoint (tcp://IP:port only) of the node's HTTP server: Prometheus metrics at /metrics. "
     "Plain text, no authentication: bind it where only the operators' network reaches. Left "
     "out: the node serves no HTTP."},

    {ZKV_CONFIG_GROUP, "id", ZKV_CONFIG_UINT, 0, 65535, NULL, S_GROUP (id),
     "Group id, unique; 0 is the shard controller, 1 and up serve shards."},
    {ZKV_CONFIG_GROUP, "members", ZKV_CONFIG_IDS, 1, 15, NULL, S_GROUP (members),
     "Ids of the nodes that replicate this group, comma-separated: defined nodes, no repeats."},
    {ZKV_CONFIG_GROUP, "machine", ZKV_CONFIG_NAME, 1, 31, "auto", S_GROUP (machine),
     "The state machine the group runs: controller (the shard controller: group 0, and only "
     "it) or kv (the key-value service: keys are routed to every group but 0); auto picks "
     "controller for group 0 and kv for the others."},
};

const size_t zkv_config_option_count = sizeof zkv_config_options / sizeof zkv_config_options[0];

static void
s_why (char *why, size_t whylen, const char *format, ...)
{
    if (!why || whylen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, whylen, format, args);
    va_end (args);
}

int
zkv_config_section_find (const char *name)
{
    for (int s = 0; s < ZKV_CONFIG_SECTIONS; s++)
        if (strcmp (zkv_config_sections[s].name, name) == 0)
            return s;
    return -1;
}

int
zkv_config_option_find (zkv_config_section_id_t section, const char *key)
{
    for (size_t i = 0; i < zkv_config_option_count; i++)
        if (zkv_config_options[i].section == section &&
            strcmp (zkv_config_options[i].key, key) == 0)
            return (int)i;
    return -1;
}

// What values the option takes, in words; for messages and the Markdown table.
static void
s_expected (const zkv_config_option_t *opt, char *buf, size_t buflen)
{
    switch (opt->type) {
    case ZKV_CONFIG_UINT:
        snprintf (buf, buflen, "%" PRIu64 "..%" PRIu64, opt->min, opt->max);
        break;
    case ZKV_CONFIG_BOOL:
        snprintf (buf, buflen, "true or false");
        break;
    case ZKV_CONFIG_NAME:
        snprintf (buf, buflen, "%" PRIu64 "..%" PRIu64 " letters, digits, '.', '_' or '-'",
                  opt->min, opt->max);
        break;
    case ZKV_CONFIG_ENDPOINT:
        snprintf (buf, buflen, "tcp://host:port, ipc://path or inproc://name");
        break;
    case ZKV_CONFIG_PATH:
        snprintf (buf, buflen, "a path of %" PRIu64 "..%" PRIu64 " bytes", opt->min, opt->max);
        break;
    case ZKV_CONFIG_IDS:
        snprintf (buf, buflen, "%" PRIu64 "..%" PRIu64 " node ids, comma-separated", opt->min,
                  opt->max);
        break;
    case ZKV_CONFIG_KEY:
        snprintf (buf, buflen, "a CURVE public key: 40 characters of Z85");
        break;
    }
}

// Reads a whole decimal number: digits only. Returns 0, 1 if it is too large for 64 bits, or -1
// if it is not a number at all.
static int
s_read_number (const char *text, size_t len, uint64_t *value_p)
{
    if (len == 0)
        return -1;
    uint64_t value = 0;
    int overflow = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        unsigned digit = (unsigned)(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            overflow = 1;
        else
            value = value * 10 + digit;
    }
    *value_p = value;
    return overflow;
}

static int
s_parse_uint (const zkv_config_option_t *opt, const char *value, uint64_t *out, char *why,
              size_t whylen)
{
    uint64_t number = 0;
    int rc = s_read_number (value, strlen (value), &number);
    if (rc < 0) {
        s_why (why, whylen, "expected a whole number in %" PRIu64 "..%" PRIu64 ", got '%s'",
               opt->min, opt->max, value);
        return ZKV_ECONFIG;
    }
    if (rc > 0 || number < opt->min || number > opt->max) {
        s_why (why, whylen, "expected %" PRIu64 "..%" PRIu64 ", got %s", opt->min, opt->max, value);
        return ZKV_ECONFIG;
    }
    *out = number;
    return 0;
}

static int
s_check_name (const zkv_config_option_t *opt, const char *value, char *why, size_t whylen)
{
    size_t len = strlen (value);
    int ok = len >= opt->min && len <= opt->max;
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum ((unsigned char)value[i]) || strchr ("._-", value[i]);
    if (!ok) {
        char expected[80];
        s_expected (opt, expected, sizeof expected);
        s_why (why, whylen, "expected %s, got '%s'", expected, value);
        return ZKV_ECONFIG;
    }
    return 0;
}

// host is a DNS name, a dotted IPv4 address, or an IPv6 address in brackets.
static int
s_check_host (const char *host, size_t len)
{
    if (len == 0)
        return ZKV_ECONFIG;
    if (host[0] == '[') {
        if (len < 3 || host[len - 1] != ']')
            return ZKV_ECONFIG;
        for (size_t i = 1; i < len - 1; i++)
            if (!isxdigit ((unsigned char)host[i]) && host[i] != ':' && host[i] != '.')
                return ZKV_ECONFIG;
        return 0;
    }
    if (host[0] == '-' || host[0] == '.' || host[len - 1] == '-')
        return ZKV_ECONFIG;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char)host[i]) && host[i] != '-' && host[i] != '.')
            return ZKV_ECONFIG;
    return 0;
}

static int
s_check_endpoint (const char *value, char *why, size_t whylen)
{
    const char *expected = "expected tcp://host:port, ipc://path or inproc://name";
    if (strlen (value) > 255) {
        s_why (why, whylen, "endpoint is longer than 255 bytes");
        return ZKV_ECONFIG;
    }
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            s_why (why, whylen, "%s, got '%s' (white space or control character)", expected, value);
            return ZKV_ECONFIG;
        }
    if (strncmp (value, "tcp://", 6) == 0) {
        const char *host = value + 6;
        const char *colon = strrchr (host, ':');
        const char *bracket = strchr (host, ']');
        if (!colon || (host[0] == '[' && (!bracket || colon < bracket))) {
            s_why (why, whylen, "expected tcp://host:port, got '%s' (no port)", value);
            return ZKV_ECONFIG;
        }
        size_t host_len = (size_t)(colon - host);
        if ((host_len == 1 && host[0] == '*') || (host_len == 7 && !strncmp (host, "0.0.0.0", 7)) ||
            (host_len == 4 && !strncmp (host, "[::]", 4))) {
            s_why (why, whylen,
                   "'%s' names no host: other nodes and clients connect to it, so "
                   "give an address they can reach",
                   value);
            return ZKV_ECONFIG;
        }
        if (s_check_host (host, (size_t)(colon - host))) {
            s_why (why, whylen, "expected tcp://host:port, got '%s' (bad host)", value);
            return ZKV_ECONFIG;
        }
        // The node binds its own endpoints, and ZeroMQ binds an address (or an interface),
        // never a host name: a name would pass here and fail in zkvd ("No such device").
        bool numeric = host[0] == '[';
        if (!numeric) {
            unsigned a, b, c, d;
            char tail;
            numeric = sscanf (host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 5 && tail == ':' &&
                      a < 256 && b < 256 && c < 256 && d < 256;
        }
        if (!numeric) {
            s_why (why, whylen,
                   "'%s' names a host: give its IP address (tcp://A.B.C.D:port or "
                   "tcp://[IPv6]:port), since the node binds it and ZeroMQ binds only addresses",
                   value);
            return ZKV_ECONFIG;
        }
        uint64_t port = 0;
        const char *digits = colon + 1;
        size_t ndigits = strlen (digits);
        if (ndigits > 5 || s_read_number (digits, ndigits, &port) != 0 || port < 1 ||
            port > 65535) {
            s_why (why, whylen, "expected tcp://host:port with a port in 1..65535, got '%s'",
                   value);
            return ZKV_ECONFIG;
        }
        return 0;
    }
    const char *rest = NULL;
    if (strncmp (value, "ipc://", 6) == 0)
        rest = value + 6;
    else if (strncmp (value, "inproc://", 9) == 0)
        rest = value + 9;
    if (!rest || *rest == 0 || strcmp (rest, "*") == 0) {
        s_why (why, whylen, "%s, got '%s'", expected, value);
        return ZKV_ECONFIG;
    }
    return 0;
}

static int
s_check_key (const char *value, char *why, size_t whylen)
{
    if (!zkv_config_key_valid (value)) {
        s_why (why, whylen,
               "expected a CURVE public key (40 characters of Z85, as `zkv keygen` prints), "
               "got '%s'",
               value);
        return ZKV_ECONFIG;
    }
    return 0;
}

static int
s_check_path (const zkv_config_option_t *opt, const char *value, char *why, size_t whylen)
{
    size_t len = strlen (value);
    if (len < opt->min || len > opt->max) {
        s_why (why, whylen, "expected a path of %" PRIu64 "..%" PRIu64 " bytes, got %zu", opt->min,
               opt->max, len);
        return ZKV_ECONFIG;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] < ' ' || value[i] == 0x7f) {
            s_why (why, whylen, "control character in path '%s'", value);
            return ZKV_ECONFIG;
        }
    return 0;
}

// Reads "1, 2, 3" into a fresh array. Returns it, or NULL with a message.
static uint64_t *
s_parse_ids (const zkv_config_option_t *opt, const char *value, size_t *count_p, char *why,
             size_t whylen)
{
    size_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ',';
    if (count < opt->min || count > opt->max) {
        s_why (why, whylen, "expected %" PRIu64 "..%" PRIu64 " node ids, got %zu", opt->min,
               opt->max, count);
        return NULL;
    }
    uint64_t *ids = calloc (count, sizeof *ids);
    if (!ids)
        abort ();
    const char *p = value;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr (p, ',');
        if (!end)
            end = p + strlen (p);
        const char *start = p;
        while (start < end && isspace ((unsigned char)*start))
            start++;
        const char *stop = end;
        while (stop > start && isspace ((unsigned char)stop[-1]))
            stop--;
        int rc = s_read_number (start, (size_t)(stop - start), &ids[i]);
        if (rc < 0 || rc > 0 || ids[i] < 1 || ids[i] > ZKV_CONFIG_MAX_NODE_ID) {
            s_why (why, whylen, "expected node ids (1..%d) separated by commas, got '%s'",
                   ZKV_CONFIG_MAX_NODE_ID, value);
            free (ids);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (ids[j] == ids[i]) {
                s_why (why, whylen, "node %" PRIu64 " is listed twice", ids[i]);
                free (ids);
                return NULL;
            }
        p = *end ? end + 1 : end;
    }
    *count_p = count;
    return ids;
}

int
zkv_config_option_parse (const zkv_config_option_t *opt, const char *value, void *record, char *why,
                         size_t whylen)
{
    char *field = (char *)record + opt->offset;
    if (*value == 0) {
        char expected[80];
        s_expected (opt, expected, sizeof expected);
        s_why (why, whylen, "no value (expected %s)", expected);
        return ZKV_ECONFIG;
    }
    switch (opt->type) {
    case ZKV_CONFIG_UINT: {
        uint64_t number;
        if (s_parse_uint (opt, value, &number, why, whylen))
            return ZKV_ECONFIG;
        memcpy (field, &number, sizeof number);
        return 0;
    }
    case ZKV_CONFIG_BOOL: {
        bool flag = strcmp (value, "true") == 0;
        if (!flag && strcmp (value, "false") != 0) {
            s_why (why, whylen, "expected true or false, got '%s'", value);
            return ZKV_ECONFIG;
        }
        memcpy (field, &flag, sizeof flag);
        return 0;
    }
    case ZKV_CONFIG_NAME:
    case ZKV_CONFIG_ENDPOINT:
    case ZKV_CONFIG_PATH:
    case ZKV_CONFIG_KEY: {
        int rc = opt->type == ZKV_CONFIG_NAME       ? s_check_name (opt, value, why, whylen)
                 : opt->type == ZKV_CONFIG_ENDPOINT ? s_check_endpoint (value, why, whylen)
                 : opt->type == ZKV_CONFIG_KEY      ? s_check_key (value, why, whylen)
                                                    : s_check_path (opt, value, why, whylen);
        if (rc)
            return ZKV_ECONFIG;
        char *copy = strdup (value);
        if (!copy)
            abort ();
        zkv_config_option_free (opt, record);
        memcpy (field, &copy, sizeof copy);
        return 0;
    }
    case ZKV_CONFIG_IDS: {
        zkv_config_ids_t ids = {0, NULL};
        ids.ids = s_parse_ids (opt, value, &ids.count, why, whylen);
        if (!ids.ids)
            return ZKV_ECONFIG;
        zkv_config_option_free (opt, record);
        memcpy (field, &ids, sizeof ids);
        return 0;
    }
    }
    return ZKV_ECONFIG;
}

void
zkv_config_option_free (const zkv_config_option_t *opt, void *record)
{
    char *field = (char *)record + opt->offset;
    if (opt->type == ZKV_CONFIG_NAME || opt->type == ZKV_CONFIG_ENDPOINT ||
        opt->type == ZKV_CONFIG_PATH || opt->type == ZKV_CONFIG_KEY) {
        char *text;
        memcpy (&text, field, sizeof text);
        free (text);
        text = NULL;
        memcpy (field, &text, sizeof text);
    } else if (opt->type == ZKV_CONFIG_IDS) {
        zkv_config_ids_t ids;
        memcpy (&ids, field, sizeof ids);
        free ((void *)ids.ids);
        ids = (zkv_config_ids_t){0, NULL};
        memcpy (field, &ids, sizeof ids);
    }
}

static const char *
s_type_name (zkv_config_type_t type)
{
    switch (type) {
    case ZKV_CONFIG_UINT:
        return "number";
    case ZKV_CONFIG_BOOL:
        return "boolean";
    case ZKV_CONFIG_NAME:
        return "name";
    case ZKV_CONFIG_ENDPOINT:
        return "endpoint";
    case ZKV_CONFIG_PATH:
        return "path";
    case ZKV_CONFIG_IDS:
        return "node ids";
    case ZKV_CONFIG_KEY:
        return "key";
    }
    return "?";
}

char *
zkv_config_schema_markdown (void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        abort ();
    fprintf (out, "| Section | How many | What it is |\n| --- | --- | --- |\n");
    for (int s = 0; s < ZKV_CONFIG_SECTIONS; s++) {
        const zkv_config_section_t *section = &zkv_config_sections[s];
        if (section->min == section->max)
            fprintf (out, "| `%s` | exactly %zu | %s |\n", section->name, section->min,
                     section->doc);
        else
            fprintf (out, "| `%s` | %zu..%zu | %s |\n", section->name, section->min, section->max,
                     section->doc);
    }
    fprintf (out, "\n| Option | Type | Allowed | Default | What it does |\n"
                  "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < zkv_config_option_count; i++) {
        const zkv_config_option_t *opt = &zkv_config_options[i];
        char expected[80];
        s_expected (opt, expected, sizeof expected);
        fprintf (out, "| `/%s/%s` | %s | %s | ", zkv_config_sections[opt->section].name, opt->key,
                 s_type_name (opt->type), expected);
        if (opt->fallback == zkv_config_unset)
            fprintf (out, "none | %s |\n", opt->doc);
        else if (opt->fallback)
            fprintf (out, "`%s` | %s |\n", opt->fallback, opt->doc);
        else
            fprintf (out, "required | %s |\n", opt->doc);
    }
    if (fclose (out))
        abort ();
    return text;
}
