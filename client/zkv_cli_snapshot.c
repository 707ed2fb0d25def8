// zkv snapshot: save a running cluster's state to a backup file (cluster/zkv_backup.h), and
// describe one. `zkvd --restore FILE` seeds a new cluster from it (docs/cli.md).
#include "zkv_cli.h"

#include "zkv_backup.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

// One save attempt's outcome beyond the client's codes: shards were moving, or the controller's
// configuration changed under the save (try again, within --settle).
#define S_AGAIN 1

typedef struct {
    uint64_t group;
    uint64_t index;
    uint64_t term;
    uint64_t bytes;
    char machine[32];
} s_saved_t;

typedef struct {
    zkv_cli_t *cli;
    zkv_client_t *client;
    const char *path;   // FILE
    char *tmp;          // FILE's temporary name while it is written
    size_t chunk_bytes; // --chunk-bytes
    int64_t began_ns;   // monotonic: the save began (every write acknowledged before is in it)
    s_saved_t *saved;   // what the last attempt saved, per group
    size_t n_saved;     //
    uint64_t config;    // the controller's configuration it is consistent with
    char why[512];      // why an attempt must be made again
} s_save_t;

// Appends bytes to f; false on an error (errno).
static bool
s_write (FILE *f, const void *data, size_t len)
{
    return len == 0 || fwrite (data, 1, len, f) == len;
}

// True if the state states (nshards bytes) of group g is settled in configuration c: it serves
// exactly the shards c gives it, none pulled or handed off.
static bool
s_settled (const zkv_client_config_t *c, uint64_t g, const zkv_client_save_chunk_t *ch)
{
    if (ch->nshards == 0)
        return true; // a group that follows no configuration
    if (ch->nshards != c->nshards || ch->config != c->num)
        return false;
    for (uint32_t s = 0; s < c->nshards; s++) {
        uint8_t want = c->shard_groups[s] == g ? 1 : 0; // zkv_shard_state_t: serving, none
        if (ch->shard_states[s] != want)
            return false;
    }
    return true;
}

// Saves group g's stream into w and f. 0, S_AGAIN (moving shards, the save lost its leader), or
// a negative client code.
static int
s_group (s_save_t *sv, const zkv_client_config_t *c, uint64_t g, zkv_backup_writer_t *w, FILE *f,
         s_saved_t *out)
{
    zkv_client_save_chunk_t ch;
    int rc =
        zkv_client_save_chunk (sv->client, g, 0, 0, 0, sv->chunk_bytes, sv->cli->timeout_ms, &ch);
    if (rc)
        return rc;
    if ((g == 0) != (strcmp (ch.machine, "controller") == 0)) {
        snprintf (sv->why, sizeof sv->why, "group %" PRIu64 " runs the %s machine", g, ch.machine);
        zkv_client_save_chunk_free (&ch);
        return ZKV_EPROTO;
    }
    if (!s_settled (c, g, &ch)) {
        snprintf (sv->why, sizeof sv->why,
                  "group %" PRIu64 " is in configuration %" PRIu64 " with shards moving (the "
                  "controller's is %" PRIu64 ")",
                  g, ch.config, c->num);
        zkv_client_save_chunk_free (&ch);
        return S_AGAIN;
    }
    *out = (s_saved_t){.group = g, .index = ch.index, .term = ch.term};
    snprintf (out->machine, sizeof out->machine, "%s", ch.machine);
    rc = zkv_backup_writer_group (w, g, ch.machine, ch.index, ch.term, ch.config);
    uint64_t save_id = ch.save_id, index = ch.index;
    while (rc == 0) {
        zkv_bytes_t rec = {0};
        rc = zkv_backup_writer_chunk (w, ch.offset, ch.data, ch.len, ch.done, &rec);
        if (rc == 0 && !s_write (f, rec.data, rec.len))
            rc = ZKV_EIO;
        zkv_bytes_free (&rec);
        out->bytes += ch.len;
        bool done = ch.done;
        uint64_t next = ch.offset + ch.len;
        zkv_client_save_chunk_free (&ch);
        if (rc || done)
            break;
        rc = zkv_client_save_chunk (sv->client, g, save_id, index, next, sv->chunk_bytes,
                                    sv->cli->timeout_ms, &ch);
        if (rc == 0 && (ch.save_id != save_id || ch.index != index || ch.offset != next)) {
            zkv_client_save_chunk_free (&ch);
            rc = ZKV_EPROTO; // another save's bytes: never mixed into this one
        }
        if (rc == ZKV_ENOTFOUND) {
            // The save is gone (its leader stepped down, or it sat idle): the whole save again.
            snprintf (sv->why, sizeof sv->why, "group %" PRIu64 "'s save ended at its leader: %s",
                      g, zkv_client_last_error (sv->client));
            return S_AGAIN;
        }
    }
    return rc;
}

// The controller's latest configuration.
static int
s_config (s_save_t *sv, zkv_client_config_t *c)
{
    int rc = zkv_client_ctrl_query (sv->client, UINT64_MAX, c, sv->cli->timeout_ms);
    if (rc)
        snprintf (sv->why, sizeof sv->why, "the shard controller's configuration: %s",
                  zkv_client_last_error (sv->client));
    return rc;
}

// One attempt: every group of the controller's configuration into the temporary file, then
// the header; renamed to FILE only once all of it is durable.
static int
s_attempt (s_save_t *sv)
{
    zkv_client_config_t c;
    int rc = s_config (sv, &c);
    if (rc)
        return rc;
    bool controller = c.n_groups > 0 && c.group_ids[0] == 0;
    if (!controller) {
        snprintf (sv->why, sizeof sv->why, "the cluster has no shard controller (group 0)");
        zkv_client_config_free (&c);
        return ZKV_EINVAL;
    }
    zkv_backup_shape_t shape = {.nshards = c.nshards,
                                .config = c.num,
                                .shard_groups = c.shard_groups,
                                .n_groups = c.n_groups,
                                .group_ids = c.group_ids,
                                .group_sizes = c.group_sizes,
                                .members = c.members};
    zkv_backup_writer_t *w = zkv_backup_writer_new (&shape, (uint64_t)zclock_time (), &rc);
    FILE *f = w ? fopen (sv->tmp, "wb") : NULL;
    if (!f) {
        snprintf (sv->why, sizeof sv->why, "%s: %s", sv->tmp,
                  w ? strerror (errno) : "the configuration is not a cluster's shape");
        zkv_backup_writer_destroy (&w);
        zkv_client_config_free (&c);
        return w ? ZKV_EIO : ZKV_EINVAL;
    }
    uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES] = {0};
    rc = s_write (f, prelude, sizeof prelude) ? 0 : ZKV_EIO;
    free (sv->saved);
    sv->saved = zmalloc ((c.n_groups + 1) * sizeof *sv->saved);
    sv->n_saved = 0;
    for (size_t i = 0; rc == 0 && i < c.n_groups; i++) {
        rc = s_group (sv, &c, c.group_ids[i], w, f, &sv->saved[i]);
        if (rc == 0)
            sv->n_saved++;
    }
    // The controller made no configuration meanwhile: the groups' states, each in the
    // configuration the controller's copy ends with, are consistent with its shard map.
    zkv_client_config_t after;
    if (rc == 0 && (rc = s_config (sv, &after)) == 0) {
        if (after.num != c.num) {
            snprintf (sv->why, sizeof sv->why,
                      "the controller moved from configuration %" PRIu64 " to %" PRIu64
                      " during the save",
                      c.num, after.num);
            rc = S_AGAIN;
        }
        zkv_client_config_free (&after);
    }
    zkv_bytes_t header = {0};
    if (rc == 0)
        rc = zkv_backup_writer_finish (w, &header, prelude);
    if (rc == 0 &&
        (!s_write (f, header.data, header.len) || fflush (f) != 0 || fseek (f, 0, SEEK_SET) != 0 ||
         !s_write (f, prelude, sizeof prelude) || fflush (f) != 0 || fsync (fileno (f)) != 0))
        rc = ZKV_EIO;
    if (rc == ZKV_EIO)
        snprintf (sv->why, sizeof sv->why, "%s: %s", sv->tmp, strerror (errno));
    zkv_bytes_free (&header);
    if (fclose (f) != 0 && rc == 0) {
        snprintf (sv->why, sizeof sv->why, "%s: %s", sv->tmp, strerror (errno));
        rc = ZKV_EIO;
    }
    zkv_backup_writer_destroy (&w);
    sv->config = c.num;
    zkv_client_config_free (&c);
    return rc;
}

// FILE's directory entry is durable too (the rename).
static void
s_sync_dir (const char *path)
{
    char *copy = strdup (path);
    int fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync (fd);
        close (fd);
    }
    free (copy);
}

static int
s_save (zkv_cli_t *cli, int argc, char **argv)
{
    const char *path = NULL;
    uint64_t settle_ms = 60000, chunk = 1024 * 1024;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else if (streq (argv[i], "--settle") && i + 1 < argc) {
            if (!zkv_cli_parse_u64 (argv[++i], 0, 86400000, &settle_ms))
                return zkv_cli_usage (&zkv_cli_snapshot_cmd);
        } else if (streq (argv[i], "--chunk-bytes") && i + 1 < argc) {
            if (!zkv_cli_parse_u64 (argv[++i], 1, 16u << 20, &chunk))
                return zkv_cli_usage (&zkv_cli_snapshot_cmd);
        } else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            return zkv_cli_usage (&zkv_cli_snapshot_cmd);
    }
    if (!path)
        return zkv_cli_usage (&zkv_cli_snapshot_cmd);
    zkv_client_t *client = zkv_cli_client (cli);
    if (!client)
        return ZKV_CLI_ERROR;
    s_save_t sv = {.cli = cli,
                   .client = client,
                   .path = path,
                   .chunk_bytes = (size_t)chunk,
                   .began_ns = zkv_cli_now_ns ()};
    sv.tmp = zsys_sprintf ("%s.tmp.%d", path, (int)getpid ());
    int64_t deadline = zclock_mono () + (int64_t)settle_ms;
    int rc;
    while ((rc = s_attempt (&sv)) == S_AGAIN && zclock_mono () < deadline && !zsys_interrupted) {
        fprintf (stderr, "zkv snapshot save: %s; saving again\n", sv.why);
        zclock_sleep (500);
    }
    int64_t ended_ns = zkv_cli_now_ns ();
    if (rc == 0 && rename (sv.tmp, path) != 0) {
        snprintf (sv.why, sizeof sv.why, "%s: %s", path, strerror (errno));
        rc = ZKV_EIO;
    }
    if (rc) {
        unlink (sv.tmp);
        if (rc == S_AGAIN)
            zkv_cli_error ("snapshot save",
                           "%s, still after %" PRIu64 " ms (--settle): save again once no shard "
                           "moves; %s not written",
                           sv.why, settle_ms, path);
        else {
            const char *detail = *sv.why ? sv.why : zkv_client_last_error (client);
            zkv_cli_error ("snapshot save", "%s; %s not written",
                           *detail ? detail : zkv_client_strerror (rc), path);
        }
        free (sv.tmp);
        free (sv.saved);
        zkv_client_destroy (&client);
        return ZKV_CLI_ERROR;
    }
    s_sync_dir (path);
    uint64_t total = 0;
    for (size_t i = 0; i < sv.n_saved; i++)
        total += sv.saved[i].bytes;
    if (json) {
        // began_ns / ended_ns: the monotonic clock of zkv bench's histories (docs/history.md).
        printf ("{\"file\": ");
        zkv_cli_json_string (stdout, path, strlen (path));
        printf (", \"config\": %" PRIu64 ", \"began_ns\": %" PRId64 ", \"ended_ns\": %" PRId64
                ", \"bytes\": %" PRIu64 ", \"groups\": [",
                sv.config, sv.began_ns, ended_ns, total);
        for (size_t i = 0; i < sv.n_saved; i++)
            printf ("%s{\"group\": %" PRIu64 ", \"machine\": \"%s\", \"index\": %" PRIu64
                    ", \"term\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
                    i ? ", " : "", sv.saved[i].group, sv.saved[i].machine, sv.saved[i].index,
                    sv.saved[i].term, sv.saved[i].bytes);
        printf ("]}\n");
    } else {
        printf ("saved %zu groups (%" PRIu64 " bytes of state) to %s, consistent with "
                "configuration %" PRIu64 "\n",
                sv.n_saved, total, path, sv.config);
        for (size_t i = 0; i < sv.n_saved; i++)
            printf ("group %" PRIu64 " (%s): index %" PRIu64 ", term %" PRIu64 ", %" PRIu64
                    " bytes\n",
                    sv.saved[i].group, sv.saved[i].machine, sv.saved[i].index, sv.saved[i].term,
                    sv.saved[i].bytes);
    }
    free (sv.tmp);
    free (sv.saved);
    zkv_client_destroy (&client);
    return ZKV_CLI_OK;
}

static int
s_pread (void *arg, uint64_t offset, uint8_t *buf, size_t len)
{
    int fd = *(int *)arg;
    while (len > 0) {
        ssize_t n = pread (fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ZKV_EIO;
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

// zkv snapshot info FILE: checks all of it, as a restore would, and says what it holds.
static int
s_info (int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (streq (argv[i], "--json"))
            json = true;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            return zkv_cli_usage (&zkv_cli_snapshot_cmd);
    }
    if (!path)
        return zkv_cli_usage (&zkv_cli_snapshot_cmd);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        zkv_cli_error ("snapshot info", "%s: %s", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return ZKV_CLI_ERROR;
    }
    char why[512] = "";
    int rc = 0;
    zkv_backup_t *b = zkv_backup_open (s_pread, &fd, (uint64_t)st.st_size, &rc, why, sizeof why);
    if (!b) {
        zkv_cli_error ("snapshot info", "%s: %s", path, why);
        close (fd);
        return ZKV_CLI_ERROR;
    }
    const zkv_backup_header_t *h = zkv_backup_header (b);
    size_t at = 0, line = 0;
    if (json)
        printf ("{\"format\": %" PRIu64 ", \"created_ms\": %" PRIu64 ", \"shards\": %" PRIu64
                ", \"config\": %" PRIu64 ", \"groups\": [",
                h->format, h->created_ms, h->nshards, h->config);
    else
        printf ("%s: zkv backup (format %" PRIu64 "), %" PRIu64 " shards, configuration %" PRIu64
                ", %zu groups\n",
                path, h->format, h->nshards, h->config, h->group_ids.count);
    for (size_t i = 0; i < h->group_ids.count; i++) {
        // The machine's name: the i-th line of machines.
        size_t end = line;
        while (end < h->machines.len && h->machines.data[end] != '\n')
            end++;
        int ml = (int)(end - line);
        const char *machine = (const char *)h->machines.data + line;
        line = end + 1;
        if (json) {
            printf ("%s{\"group\": %" PRIu64 ", \"machine\": \"%.*s\", \"index\": %" PRIu64
                    ", \"term\": %" PRIu64 ", \"config\": %" PRIu64 ", \"bytes\": %" PRIu64
                    ", \"members\": [",
                    i ? ", " : "", h->group_ids.items[i], ml, machine, h->indexes.items[i],
                    h->terms.items[i], h->configs.items[i], h->sizes.items[i]);
            for (uint64_t m = 0; m < h->group_sizes.items[i]; m++)
                printf ("%s%" PRIu64, m ? ", " : "", h->members.items[at + m]);
            printf ("]}");
        } else {
            printf ("group %" PRIu64 " (%.*s): index %" PRIu64 ", term %" PRIu64 ", %" PRIu64
                    " bytes in %" PRIu64 " chunks; members",
                    h->group_ids.items[i], ml, machine, h->indexes.items[i], h->terms.items[i],
                    h->sizes.items[i], h->chunks.items[i]);
            for (uint64_t m = 0; m < h->group_sizes.items[i]; m++)
                printf ("%s%" PRIu64, m ? ", " : " ", h->members.items[at + m]);
            printf ("\n");
        }
        at += (size_t)h->group_sizes.items[i];
    }
    if (json)
        printf ("]}\n");
    zkv_backup_destroy (&b);
    close (fd);
    return ZKV_CLI_OK;
}

static int
s_run (zkv_cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && streq (argv[1], "save"))
        return s_save (cli, argc, argv);
    if (argc >= 2 && streq (argv[1], "info"))
        return s_info (argc, argv);
    return zkv_cli_usage (&zkv_cli_snapshot_cmd);
}

const zkv_cli_command_t zkv_cli_snapshot_cmd = {
    .name = "snapshot",
    .summary = "save the cluster's state to a backup file, or describe one",
    .usage =
        "usage: zkv snapshot save FILE [--settle MS] [--chunk-bytes N] [--json]\n"
        "       zkv snapshot info FILE [--json]\n\n"
        "save: copies every group's state (the shard controller's and each shard group's) from\n"
        "  its leader into FILE, a whole-cluster backup: each group's copy is its state at one\n"
        "  applied index, taken after the save began, so every write acknowledged before\n"
        "  `zkv snapshot save` started is in it. The cluster keeps serving meanwhile. A save\n"
        "  holds only a cluster whose shards are not moving: while they move it waits and\n"
        "  saves again, for up to --settle ms (default 60000). FILE appears only once whole\n"
        "  (written as FILE.tmp.PID, then renamed). --chunk-bytes: bytes asked of the leader\n"
        "  at a time (default 1 MiB; the node caps it at /cluster/snapshot_chunk_bytes).\n"
        "  --json prints the groups saved and the save's start and end on the monotonic clock\n"
        "  of zkv bench's histories (began_ns, ended_ns). Needs a client key under CURVE (a\n"
        "  monitor key is refused).\n"
        "info: checks FILE as a restore would (checksums, format, records) and prints its\n"
        "  shape: shards, configuration, each group's machine, index, term, size and members.\n\n"
        "Restore: start every node of a new cluster (a config file with the same shards,\n"
        "groups and members; addresses and keys may differ) once with\n"
        "`zkvd --restore FILE`, each from an empty data directory.\n\n"
        "exit: 0 saved (or described), 1 not saved (FILE untouched) or FILE not a sound\n"
        "backup, 2 usage\n",
    .run = s_run,
};
