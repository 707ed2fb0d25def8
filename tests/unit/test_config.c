// Unit tests for zkv_config: the sample config, good and bad files (exact file:line messages),
// the schema table, and robustness (truncated, mutated and random files never crash the loader,
// and the line scanner always agrees with zconfig).
#include "zkv_test.h"

#include "zkv_config.h"
#include "zkv_config_int.h"
#include "zkv_error.h"

#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

// The source tree, found from this file's path (CMake compiles it by its absolute path);
// ZKV_SOURCE_DIR overrides. Returns root + relative, to be freed.
static char *
s_source (const char *relative)
{
    const char *env = getenv ("ZKV_SOURCE_DIR");
    const char *here = __FILE__;
    const char *tail = strstr (here, "tests/unit/test_config.c");
    char root[4096];
    if (env)
        snprintf (root, sizeof root, "%s/", env);
    else if (tail)
        snprintf (root, sizeof root, "%.*s", (int)(tail - here), here);
    else
        snprintf (root, sizeof root, "./");
    char *path = malloc (strlen (root) + strlen (relative) + 1);
    assert (path);
    strcpy (path, root);
    strcat (path, relative);
    return path;
}

// Reads a whole file into a NUL-terminated string, to be freed; NULL if it cannot.
static char *
s_slurp (const char *path, size_t *len_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = malloc ((size_t)size + 1);
    assert (text);
    size_t len = fread (text, 1, (size_t)size, file);
    fclose (file);
    text[len] = 0;
    if (len_p)
        *len_p = len;
    return text;
}

// splitmix64: the fuzz loops are replayable from their seed.
static uint64_t
s_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t
s_below (uint64_t *state, size_t n)
{
    return n ? (size_t)(s_next (state) % n) : 0;
}

// Replicas write the same bytes: with one memtable size they would start their compactions
// together, so each node's is staggered by its id.
static void
test_memtable_staggered_by_node (void)
{
    char *path = s_source ("config/local.cfg");
    char err[512];
    zkv_config_t *config = zkv_config_load (path, err, sizeof err);
    CHECK (config);
    free (path);
    if (!config)
        return;
    const uint64_t mib = 1u << 20;
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 1), 32 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 2), 40 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 3), 48 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 4), 56 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 5), 32 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, 0), 32 * mib);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_for_node (config, UINT64_MAX), 48 * mib);
    // Any three consecutive ids (a group of three) get three different sizes, within 1.75x.
    for (uint64_t id = 1; id < 100; id++) {
        uint64_t a = zkv_config_storage_write_buffer_for_node (config, id);
        uint64_t b = zkv_config_storage_write_buffer_for_node (config, id + 1);
        uint64_t c = zkv_config_storage_write_buffer_for_node (config, id + 2);
        CHECK (a != b && b != c && a != c);
        CHECK (a >= 32 * mib && a <= 56 * mib);
    }
    zkv_config_destroy (&config);
}

static void
test_sample_config (void)
{
    char *path = s_source ("config/local.cfg");
    char err[512];
    zkv_config_t *config = zkv_config_load (path, err, sizeof err);
    if (!config)
        fprintf (stderr, "%s\n", err);
    CHECK (config);
    CHECK (strcmp (zkv_config_source (config), path) == 0);
    CHECK (strcmp (zkv_config_name (config), "local") == 0);
    CHECK_EQ_U64 (zkv_config_shards (config), 16);
    CHECK_EQ_U64 (zkv_config_tick_ms (config), 10);
    CHECK_EQ_U64 (zkv_config_election_ticks (config), 30);
    CHECK_EQ_U64 (zkv_config_heartbeat_ticks (config), 3);
    CHECK (zkv_config_pre_vote (config));
    CHECK (zkv_config_check_quorum (config));
    CHECK_EQ_U64 (zkv_config_snapshot_bytes (config), 8388608);
    CHECK_EQ_U64 (zkv_config_snapshot_chunk_bytes (config), 1048576);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_bytes (config), 33554432);
    CHECK_EQ_U64 (zkv_config_max_key_bytes (config), 1024);
    CHECK_EQ_U64 (zkv_config_max_value_bytes (config), 1048576);
    CHECK_EQ_U64 (zkv_config_max_batch_entries (config), 256);
    CHECK_EQ_U64 (zkv_config_max_batch_bytes (config), 1048576);
    CHECK_EQ_U64 (zkv_config_max_inflight (config), 64);
    CHECK_EQ_U64 (zkv_config_cluster (config)->tick_ms, 10);

    CHECK_EQ_U64 (zkv_config_node_count (config), 3);
    for (uint64_t id = 1; id <= 3; id++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, id - 1);
        CHECK (node && node == zkv_config_node (config, id));
        CHECK_EQ_U64 (node->id, id);
        char expected[64];
        snprintf (expected, sizeof expected, "tcp://127.0.0.1:%" PRIu64, 17000 + id);
        CHECK (strcmp (node->peer, expected) == 0);
        snprintf (expected, sizeof expected, "tcp://127.0.0.1:%" PRIu64, 17100 + id);
        CHECK (strcmp (node->client, expected) == 0);
        snprintf (expected, sizeof expected, "tcp://127.0.0.1:%" PRIu64, 17200 + id);
        CHECK (strcmp (node->events, expected) == 0);
        snprintf (expected, sizeof expected, "/tmp/zkv/node%" PRIu64, id);
        CHECK (strcmp (node->data, expected) == 0);
        CHECK (zkv_config_node_require (config, id, err, sizeof err) == node);
    }
    CHECK (zkv_config_node_at (config, 3) == NULL);
    CHECK (zkv_config_node (config, 0) == NULL);
    CHECK (zkv_config_node (config, 7) == NULL);
    CHECK (zkv_config_node_require (config, 7, err, sizeof err) == NULL);
    char expected[600];
    snprintf (expected, sizeof expected, "%s: node 7 is not defined (nodes: 1, 2, 3)", path);
    CHECK (strcmp (err, expected) == 0);
    CHECK (zkv_config_node_require (config, 7, NULL, 0) == NULL);

    CHECK_EQ_U64 (zkv_config_group_count (config), 3);
    CHECK (zkv_config_has_controller (config));
    for (uint64_t id = 0; id <= 2; id++) {
        const zkv_config_group_t *group = zkv_config_group_at (config, id);
        CHECK (group && group == zkv_config_group (config, id));
        CHECK_EQ_U64 (group->id, id);
        CHECK_EQ_U64 (group->members.count, 3);
        for (size_t m = 0; m < 3; m++)
            CHECK_EQ_U64 (group->members.ids[m], m + 1);
    }
    CHECK (zkv_config_group_at (config, 3) == NULL);
    CHECK (zkv_config_group (config, 3) == NULL);
    uint64_t groups[4] = {99, 99, 99, 99};
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 2, groups, 4), 3);
    CHECK_EQ_U64 (groups[0], 0);
    CHECK_EQ_U64 (groups[1], 1);
    CHECK_EQ_U64 (groups[2], 2);
    CHECK_EQ_U64 (groups[3], 99);
    groups[0] = groups[1] = 99;
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 3, groups, 1), 3);
    CHECK_EQ_U64 (groups[0], 0);
    CHECK_EQ_U64 (groups[1], 99);
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 9, groups, 4), 0);
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 1, NULL, 0), 3);

    zkv_config_destroy (&config);
    CHECK (config == NULL);
    zkv_config_destroy (&config);
    free (path);
}

// The second sample file: the same cluster, nodes 4..6 and group 3 on them; everything both
// files declare is the same.
static void
test_sample_config_group3 (void)
{
    char *path = s_source ("config/local-group3.cfg"), *first = s_source ("config/local.cfg");
    char err[512];
    zkv_config_t *config = zkv_config_load (path, err, sizeof err);
    zkv_config_t *base = zkv_config_load (first, err, sizeof err);
    free (path);
    free (first);
    CHECK (config && base);
    CHECK_EQ_U64 (zkv_config_node_count (config), 6);
    CHECK_EQ_U64 (zkv_config_group_count (config), 4);
    CHECK_EQ_U64 (zkv_config_shards (config), zkv_config_shards (base));
    const zkv_config_group_t *g3 = zkv_config_group (config, 3);
    CHECK (g3 && g3->members.count == 3 && g3->members.ids[0] == 4 && g3->members.ids[2] == 6);
    for (uint64_t id = 1; id <= 3; id++) {
        const zkv_config_node_t *a = zkv_config_node (config, id), *b = zkv_config_node (base, id);
        CHECK (a && b && strcmp (a->peer, b->peer) == 0 && strcmp (a->client, b->client) == 0 &&
               strcmp (a->events, b->events) == 0 && strcmp (a->data, b->data) == 0);
    }
    for (uint64_t id = 0; id <= 2; id++) {
        const zkv_config_group_t *a = zkv_config_group (config, id),
                                 *b = zkv_config_group (base, id);
        CHECK (a && b && a->members.count == b->members.count);
        CHECK (memcmp (a->members.ids, b->members.ids, a->members.count * sizeof (uint64_t)) == 0);
    }
    zkv_config_destroy (&config);
    zkv_config_destroy (&base);
}

static void
test_good_files (void)
{
    char err[512];
    char *path = s_source ("tests/data/config/good/minimal.cfg");
    zkv_config_t *config = zkv_config_load (path, err, sizeof err);
    if (!config)
        fprintf (stderr, "%s\n", err);
    CHECK (config);
    // Every tunable left out takes the schema's default.
    for (size_t o = 0; o < zkv_config_option_count; o++) {
        const zkv_config_option_t *opt = &zkv_config_options[o];
        if (opt->section != ZKV_CONFIG_CLUSTER || !opt->fallback || opt->type == ZKV_CONFIG_NAME)
            continue;
        const char *field = (const char *)zkv_config_cluster (config) + opt->offset;
        if (opt->fallback == zkv_config_unset) {
            CHECK (*(const char *const *)field == NULL); // optional, left out: none
            continue;
        }
        if (opt->type == ZKV_CONFIG_BOOL)
            CHECK (*(const bool *)field == (strcmp (opt->fallback, "true") == 0));
        else
            CHECK_EQ_U64 (*(const uint64_t *)field, strtoull (opt->fallback, NULL, 10));
    }
    CHECK_EQ_U64 (zkv_config_node_count (config), 1);
    CHECK_EQ_U64 (zkv_config_node_at (config, 0)->id, 9);
    char expected[600];
    CHECK (zkv_config_node_require (config, 1, err, sizeof err) == NULL);
    snprintf (expected, sizeof expected, "%s: node 1 is not defined (nodes: 9)", path);
    CHECK (strcmp (err, expected) == 0);
    zkv_config_destroy (&config);
    free (path);

    path = s_source ("tests/data/config/good/full.cfg");
    config = zkv_config_load (path, err, sizeof err);
    if (!config)
        fprintf (stderr, "%s\n", err);
    CHECK (config);
    CHECK (strcmp (zkv_config_name (config), "full-test.v2") == 0);
    CHECK_EQ_U64 (zkv_config_shards (config), 65536);
    CHECK_EQ_U64 (zkv_config_tick_ms (config), 1000);
    CHECK_EQ_U64 (zkv_config_election_ticks (config), 10000);
    CHECK_EQ_U64 (zkv_config_heartbeat_ticks (config), 5000);
    CHECK (!zkv_config_pre_vote (config));
    CHECK (!zkv_config_check_quorum (config));
    CHECK_EQ_U64 (zkv_config_snapshot_bytes (config), 65536);
    CHECK_EQ_U64 (zkv_config_snapshot_chunk_bytes (config), 4096);
    CHECK_EQ_U64 (zkv_config_storage_write_buffer_bytes (config), 1048576);
    CHECK_EQ_U64 (zkv_config_max_key_bytes (config), 65536);
    CHECK_EQ_U64 (zkv_config_max_value_bytes (config), 16777216);
    CHECK_EQ_U64 (zkv_config_max_batch_entries (config), 1);
    CHECK_EQ_U64 (zkv_config_max_batch_bytes (config), 33554432);
    CHECK_EQ_U64 (zkv_config_max_inflight (config), 4096);
    CHECK_EQ_U64 (zkv_config_node_count (config), 3);
    const zkv_config_node_t *node = zkv_config_node (config, 1);
    CHECK (node);
    CHECK (strcmp (node->peer, "tcp://[::1]:1") == 0);
    CHECK (strcmp (node->client, "tcp://127.0.0.2:65535") == 0);
    CHECK (strcmp (node->events, "ipc:///tmp/zkv-test/events-1") == 0);
    CHECK (strcmp (node->data, "/tmp/zkv test/node #1") == 0);
    CHECK (node->http && strcmp (node->http, "tcp://[::1]:8080") == 0);
    CHECK_EQ_U64 (zkv_config_cluster (config)->http_max_connections, 1024);
    CHECK_EQ_U64 (zkv_config_cluster (config)->http_timeout_ms, 3600000);
    CHECK_EQ_U64 (zkv_config_cluster (config)->stats_interval_ms, 60000);
    node = zkv_config_node (config, 2);
    CHECK (node && strcmp (node->peer, "inproc://peer-2") == 0);
    CHECK (node->http == NULL); // optional: no HTTP server
    // A relative data directory is relative to the file's folder.
    node = zkv_config_node (config, 65535);
    CHECK (node);
    char *dir = s_source ("tests/data/config/good/relative/node3");
    CHECK (strcmp (node->data, dir) == 0);
    free (dir);
    CHECK_EQ_U64 (zkv_config_group_count (config), 2);
    const zkv_config_group_t *group = zkv_config_group_at (config, 0);
    CHECK_EQ_U64 (group->id, 7);
    CHECK_EQ_U64 (group->members.count, 2);
    CHECK_EQ_U64 (group->members.ids[0], 65535);
    CHECK_EQ_U64 (group->members.ids[1], 1);
    group = zkv_config_group (config, 0);
    CHECK (group && group->members.count == 3 && group->members.ids[2] == 65535);
    uint64_t groups[2];
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 1, groups, 2), 2);
    CHECK (groups[0] == 7 && groups[1] == 0);
    CHECK_EQ_U64 (zkv_config_groups_of_node (config, 2, groups, 2), 1);
    CHECK_EQ_U64 (groups[0], 0);
    zkv_config_destroy (&config);
    free (path);

    path = s_source ("tests/data/config/good/crlf.cfg");
    config = zkv_config_load (path, err, sizeof err);
    if (!config)
        fprintf (stderr, "%s\n", err);
    CHECK (config);
    CHECK (strcmp (zkv_config_name (config), "crlf") == 0);
    CHECK (strcmp (zkv_config_node_at (config, 0)->data, "/tmp/zkv-test/crlf") == 0);
    zkv_config_destroy (&config);
    free (path);
}

// Each bad file starts with "# expect:TEXT"; loading it must fail with exactly "FILE:TEXT".
static void
test_bad_files (void)
{
    char *dir_path = s_source ("tests/data/config/bad");
    DIR *dir = opendir (dir_path);
    if (!dir)
        fprintf (stderr, "cannot open %s\n", dir_path);
    CHECK (dir);
    int files = 0, wrong = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t name_len = strlen (entry->d_name);
        if (name_len < 5 || strcmp (entry->d_name + name_len - 4, ".cfg") != 0)
            continue;
        char path[4096];
        snprintf (path, sizeof path, "%s/%s", dir_path, entry->d_name);
        char *text = s_slurp (path, NULL);
        assert (text);
        char *newline = strchr (text, '\n');
        if (strncmp (text, "# expect:", 9) != 0 || !newline) {
            fprintf (stderr, "%s: no '# expect:' line\n", path);
            wrong++;
            free (text);
            continue;
        }
        *newline = 0;
        char expected[4096 + 512];
        snprintf (expected, sizeof expected, "%s:%s", path, text + 9);
        char err[1024] = "";
        zkv_config_t *config = zkv_config_load (path, err, sizeof err);
        if (config || strcmp (err, expected) != 0) {
            fprintf (stderr, "%s:\n  expected: %s\n  got:      %s\n", entry->d_name, expected,
                     config ? "(loaded)" : err);
            wrong++;
        }
        zkv_config_destroy (&config);
        free (text);
        files++;
    }
    closedir (dir);
    free (dir_path);
    CHECK (files >= 50);
    CHECK_EQ_U64 (wrong, 0);
}

static const char *s_good_text = "cluster\n"
                                 "    name = t\n"
                                 "    shards = 4\n"
                                 "node\n"
                                 "    id = 1\n"
                                 "    peer = tcp://127.0.0.1:17001\n"
                                 "    client = tcp://127.0.0.1:17101\n"
                                 "    events = tcp://127.0.0.1:17201\n"
                                 "    data = /tmp/zkv-test/node1\n"
                                 "group\n"
                                 "    id = 0\n"
                                 "    members = 1\n";

static void
test_messages (void)
{
    char err[512];
    zkv_config_t *config = zkv_config_load_str (s_good_text, "mem.cfg", err, sizeof err);
    CHECK (config);
    // Relative data paths stay as written when there is no file.
    zkv_config_destroy (&config);

    char *text = malloc (strlen (s_good_text) + 64);
    assert (text);
    sprintf (text, "%s", s_good_text);
    strstr (text, "id = 1")[5] = '0';
    CHECK (zkv_config_load_str (text, "mem.cfg", err, sizeof err) == NULL);
    CHECK (strcmp (err, "mem.cfg:5: /node/id: expected 1..65535, got 0") == 0);
    CHECK (zkv_config_load_str (text, NULL, err, sizeof err) == NULL);
    CHECK (strcmp (err, "<string>:5: /node/id: expected 1..65535, got 0") == 0);
    // No buffer, or a tiny one: still refused, never overrun.
    CHECK (zkv_config_load_str (text, "mem.cfg", NULL, 0) == NULL);
    char tiny[8];
    memset (tiny, 'x', sizeof tiny);
    CHECK (zkv_config_load_str (text, "mem.cfg", tiny, sizeof tiny) == NULL);
    CHECK (strcmp (tiny, "mem.cfg") == 0);
    CHECK (zkv_config_load_str (text, "mem.cfg", tiny, 1) == NULL);
    CHECK (tiny[0] == 0);
    free (text);

    CHECK (zkv_config_load ("/nonexistent/zkv.cfg", err, sizeof err) == NULL);
    CHECK (strcmp (err, "/nonexistent/zkv.cfg: cannot open: No such file or directory") == 0);
    CHECK (zkv_config_load ("/tmp", err, sizeof err) == NULL);
    CHECK (strcmp (err, "/tmp: cannot read: Is a directory") == 0);

    // A NUL byte on line 3, and a file past the size limit.
    char path[] = "/tmp/zkv-test-config-XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    FILE *file = fdopen (fd, "wb");
    assert (file);
    fwrite ("cluster\n    name = t\n    sha\0rds = 4\n", 1, 37, file);
    fclose (file);
    CHECK (zkv_config_load (path, err, sizeof err) == NULL);
    char expected[600];
    snprintf (expected, sizeof expected, "%s:3: NUL byte in the line", path);
    CHECK (strcmp (err, expected) == 0);
    file = fopen (path, "wb");
    assert (file);
    for (int i = 0; i < ZKV_CONFIG_MAX_BYTES / 64 + 1; i++)
        fprintf (file, "# %61s\n", "padding");
    fclose (file);
    CHECK (zkv_config_load (path, err, sizeof err) == NULL);
    snprintf (expected, sizeof expected, "%s: file is larger than %d bytes", path,
              ZKV_CONFIG_MAX_BYTES);
    CHECK (strcmp (err, expected) == 0);
    unlink (path);
}

static void
test_schema_table (void)
{
    CHECK (zkv_config_option_count <= ZKV_CONFIG_MAX_OPTIONS);
    char *markdown = zkv_config_schema_markdown ();
    CHECK (markdown);
    for (size_t o = 0; o < zkv_config_option_count; o++) {
        const zkv_config_option_t *opt = &zkv_config_options[o];
        CHECK (opt->section < ZKV_CONFIG_SECTIONS);
        CHECK (opt->min <= opt->max);
        CHECK (zkv_config_option_find (opt->section, opt->key) == (int)o); // keys are unique
        CHECK (opt->doc && *opt->doc && !strchr (opt->doc, '|'));
        const zkv_config_section_t *section = &zkv_config_sections[opt->section];
        CHECK (opt->offset < section->record_size);
        char cell[128];
        snprintf (cell, sizeof cell, "| `/%s/%s` |", section->name, opt->key);
        CHECK (strstr (markdown, cell));
        if (opt->fallback && opt->fallback != zkv_config_unset) {
            // A default must be a value the option accepts.
            uint64_t record[48] = {0};
            CHECK (section->record_size <= sizeof record);
            char why[256];
            CHECK (zkv_config_option_parse (opt, opt->fallback, record, why, sizeof why) == 0);
            zkv_config_option_free (opt, record);
        }
    }
    for (int s = 0; s < ZKV_CONFIG_SECTIONS; s++)
        CHECK (zkv_config_section_find (zkv_config_sections[s].name) == s);
    CHECK (zkv_config_section_find ("server") == -1);
    // The README's table is the rendered schema, so the documentation cannot drift from it.
    char *readme_path = s_source ("config/README.md");
    char *readme = s_slurp (readme_path, NULL);
    if (!readme || !strstr (readme, markdown))
        fprintf (stderr,
                 "%s does not hold the schema table: regenerate it with "
                 "zkv-config-check --schema\n",
                 readme_path);
    CHECK (readme && strstr (readme, markdown));
    free (readme);
    free (readme_path);
    free (markdown);
}

// Pre-order walk of zconfig's tree against the scanner's items; returns -1 on any difference.
static int
s_walk (zconfig_t *node, int depth, const zkv_config_scan_t *scan, size_t *index)
{
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        if (*index >= scan->count)
            return -1;
        const zkv_config_item_t *item = &scan->items[(*index)++];
        const char *value = zconfig_value (child) ? zconfig_value (child) : "";
        if (item->level != depth || strcmp (item->name, zconfig_name (child)) != 0 ||
            strcmp (item->value, value) != 0)
            return -1;
        if (s_walk (child, depth + 1, scan, index))
            return -1;
    }
    return 0;
}

// Random ZPL-ish text: lines built from the pieces zconfig's grammar cares about, mostly well
// formed (so that many texts parse) and now and then not.
#define S_PICK(rng, good, bad)                                                                     \
    (s_below (rng, 8) ? good[s_below (rng, sizeof good / sizeof *good)]                            \
                      : bad[s_below (rng, sizeof bad / sizeof *bad)])

static char *
s_random_zpl (uint64_t *rng)
{
    static const char *bad_indents[] = {"  ", "\t", "   ", " \t", "            "};
    static const char *names[] = {"cluster", "node", "group", "id",      "members", "name",
                                  "shards",  "peer", "a/b",   "$@.&+-_", "tick_ms", "data"};
    static const char *bad_names[] = {"/x", "x/", "", "[x]", "==", "#", "a:b"};
    static const char *seps[] = {" = ", "=", " =", "= ", "", "\t=\t"};
    static const char *bad_seps[] = {" ", ":", " = #", " x"};
    static const char *values[] = {"1",
                                   "0",
                                   "1, 2, 3",
                                   "\"quoted\"",
                                   "'single'",
                                   "'x\"'",
                                   "tcp://127.0.0.1:17001",
                                   "x # comment",
                                   "",
                                   "\"a#b\" # c",
                                   "abc def",
                                   "'' ",
                                   "99999999999999999999999"};
    static const char *bad_values[] = {"\"open", "\"q\" junk", "#"};
    static const char *ends[] = {"", "", "", " ", "  # trailing", "\r", "\t", " \r"};
    size_t lines = 1 + s_below (rng, 12);
    size_t size = lines * 160 + 1;
    char *text = malloc (size);
    assert (text);
    size_t used = 0;
    size_t depth = 0; // deepest level the next item may have
    for (size_t i = 0; i < lines; i++) {
        char indent[32] = "";
        const char *pick = NULL;
        if (s_below (rng, 8)) {
            size_t level = s_below (rng, depth + 1);
            for (size_t l = 0; l < level && l < 7; l++)
                strcat (indent, "    ");
            depth = level + 1;
        } else
            pick = bad_indents[s_below (rng, sizeof bad_indents / sizeof *bad_indents)];
        int comment = s_below (rng, 10) == 0;
        int n = snprintf (text + used, size - used, "%s%s%s%s%s%s", pick ? pick : indent,
                          comment ? "# a comment" : S_PICK (rng, names, bad_names),
                          comment ? "" : S_PICK (rng, seps, bad_seps),
                          comment ? "" : S_PICK (rng, values, bad_values),
                          ends[s_below (rng, sizeof ends / sizeof *ends)],
                          i + 1 < lines || s_below (rng, 2) ? "\n" : "");
        assert (n > 0 && used + (size_t)n < size);
        used += (size_t)n;
    }
    return text;
}

// zconfig_str_load with its error log (zclock_log) sent to /dev/null.
static zconfig_t *
s_zconfig_quietly (const char *text)
{
    fflush (stdout);
    fflush (stderr);
    int saved_out = dup (1), saved_err = dup (2);
    int null = open ("/dev/null", O_WRONLY);
    assert (saved_out >= 0 && saved_err >= 0 && null >= 0);
    dup2 (null, 1);
    dup2 (null, 2);
    close (null);
    zconfig_t *root = zconfig_str_load (text);
    fflush (stdout);
    fflush (stderr);
    dup2 (saved_out, 1);
    dup2 (saved_err, 2);
    close (saved_out);
    close (saved_err);
    return root;
}

// The loader's fallback should zconfig ever refuse what the scanner took: find the line by
// parsing prefixes.
static void
test_zconfig_failing_line (void)
{
    static const struct {
        const char *text;
        int line;
    } cases[] = {
        {"a = 1\nb = 2\n", 0},
        {"  a = 1\n", 1},
        {"a\n    b = 1\n    c = \"x\n", 3},
        {"a\n    b = 1\n            c = 2\nd = 4", 3},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk = \"x\" y", 11},
        {"a\n\n\n\n  # comment\n", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fflush (stdout);
        int saved = dup (1);
        int null = open ("/dev/null", O_WRONLY);
        assert (saved >= 0 && null >= 0);
        dup2 (null, 1);
        close (null);
        int line = zkv_config_zconfig_line (cases[i].text, strlen (cases[i].text));
        fflush (stdout);
        dup2 (saved, 1);
        close (saved);
        CHECK_EQ_U64 (line, cases[i].line);
    }
}

// Whenever the scanner accepts a text, zconfig must accept it too, with the same items in the
// same order and at the same depths: that is what makes the line numbers right. And whenever it
// refuses one for a reason other than its three extra rules, zconfig refuses it too.
static void
test_scanner_agrees_with_zconfig (void)
{
    uint64_t rng = 20240601;
    int accepted = 0, refused = 0;
    for (int i = 0; i < 20000; i++) {
        char *text = s_random_zpl (&rng);
        zkv_config_scan_t scan = {0};
        int line;
        char why[256];
        if (zkv_config_scan (text, strlen (text), &scan, &line, why, sizeof why) == 0) {
            zconfig_t *root = zconfig_str_load (text);
            size_t index = 0;
            int agree = root && s_walk (root, 0, &scan, &index) == 0 && index == scan.count;
            if (!agree)
                fprintf (stderr, "scanner and zconfig disagree on (iteration %d):\n%s\n", i, text);
            zconfig_destroy (&root);
            zkv_config_scan_clear (&scan);
            free (text);
            CHECK (agree);
            accepted++;
        } else {
            CHECK (line >= 1);
            if (!strstr (why, "too long") && !strstr (why, "NUL byte") &&
                !strstr (why, "no value before the comment")) {
                zconfig_t *root = s_zconfig_quietly (text);
                if (root)
                    fprintf (stderr,
                             "scanner refused (line %d: %s) what zconfig takes "
                             "(iteration %d):\n%s\n",
                             line, why, i, text);
                int agree = root == NULL;
                zconfig_destroy (&root);
                if (!agree) {
                    zkv_config_scan_clear (&scan);
                    free (text);
                }
                CHECK (agree);
            }
            zkv_config_scan_clear (&scan);
            free (text);
            refused++;
        }
    }
    // The generator must exercise both sides.
    printf ("scanner: %d texts accepted, %d refused\n", accepted, refused);
    CHECK (accepted > 1000);
    CHECK (refused > 1000);
}

// A refused text's message is "NAME:LINE: ..." with LINE within the text, or "NAME: ...".
// A loaded config obeys every rule the loader promises.
static int
s_outcome_ok (const char *text, zkv_config_t *config, const char *err)
{
    if (!config) {
        if (strncmp (err, "fuzz:", 5) != 0)
            return 0;
        if (err[5] == ' ')
            return 1;
        long line = strtol (err + 5, NULL, 10);
        long lines = 1;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        return line >= 1 && line <= lines;
    }
    if (zkv_config_node_count (config) < 1 || !zkv_config_group (config, 0))
        return 0;
    if (zkv_config_election_ticks (config) < 2 * zkv_config_heartbeat_ticks (config))
        return 0;
    for (size_t i = 0; i < zkv_config_node_count (config); i++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, i);
        if (node->id == 0 || zkv_config_node (config, node->id) != node || !node->peer ||
            !node->client || !node->events || !node->data || !*node->data)
            return 0;
    }
    for (size_t i = 0; i < zkv_config_group_count (config); i++) {
        const zkv_config_group_t *group = zkv_config_group_at (config, i);
        if (group->members.count < 1 || zkv_config_group (config, group->id) != group)
            return 0;
        for (size_t m = 0; m < group->members.count; m++)
            if (!zkv_config_node (config, group->members.ids[m]))
                return 0;
    }
    return 1;
}

static int
s_try (const char *text)
{
    char err[512] = "";
    zkv_config_t *config = zkv_config_load_str (text, "fuzz", err, sizeof err);
    int ok = s_outcome_ok (text, config, err);
    if (!ok)
        fprintf (stderr, "bad outcome (%s) for:\n%s\n", config ? "loaded" : err, text);
    zkv_config_destroy (&config);
    return ok;
}

static void
test_truncated_sample (void)
{
    char *path = s_source ("config/local.cfg");
    size_t len;
    char *text = s_slurp (path, &len);
    CHECK (text);
    int loaded = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        char *prefix = strndup (text, cut);
        assert (prefix);
        int ok = s_try (prefix);
        char err[512];
        zkv_config_t *config = zkv_config_load_str (prefix, "fuzz", err, sizeof err);
        loaded += config != NULL;
        zkv_config_destroy (&config);
        free (prefix);
        CHECK (ok);
    }
    // Only cuts inside the last group's members (or its comment) may still load.
    CHECK (loaded >= 1);
    free (text);
    free (path);
}

static void
test_mutated_sample (void)
{
    char *path = s_source ("config/local.cfg");
    size_t len;
    char *original = s_slurp (path, &len);
    CHECK (original);
    static const char *inserts[] = {"\n",
                                    "    ",
                                    "  ",
                                    "\t",
                                    "=",
                                    "#",
                                    "\"",
                                    "'",
                                    "node\n",
                                    "group\n",
                                    "    id = 1\n",
                                    "0",
                                    "9",
                                    ",",
                                    "/",
                                    "        x = 1\n",
                                    "tcp://",
                                    ":",
                                    "members = 1,2\n",
                                    "\r"};
    uint64_t rng = 7;
    for (int i = 0; i < 20000; i++) {
        size_t size = len + 256;
        char *text = malloc (size + 1);
        assert (text);
        memcpy (text, original, len + 1);
        size_t used = len;
        int mutations = 1 + (int)s_below (&rng, 4);
        for (int m = 0; m < mutations; m++) {
            size_t at = s_below (&rng, used + 1);
            switch (s_below (&rng, 4)) {
            case 0: // overwrite a byte with any byte but NUL
                if (at < used)
                    text[at] = (char)(1 + s_below (&rng, 255));
                break;
            case 1: { // delete a run
                size_t run = s_below (&rng, 40);
                if (at + run > used)
                    run = used - at;
                memmove (text + at, text + at + run, used - at - run + 1);
                used -= run;
                break;
            }
            default: { // insert a piece of syntax
                const char *piece = inserts[s_below (&rng, sizeof inserts / sizeof *inserts)];
                size_t plen = strlen (piece);
                if (used + plen > size)
                    break;
                memmove (text + at + plen, text + at, used - at + 1);
                memcpy (text + at, piece, plen);
                used += plen;
                break;
            }
            }
        }
        int ok = s_try (text);
        free (text);
        CHECK (ok);
    }
    free (original);
    free (path);
}

static void
test_random_garbage (void)
{
    uint64_t rng = 99;
    for (int i = 0; i < 5000; i++) {
        size_t len = s_below (&rng, 300);
        char *text = malloc (len + 1);
        assert (text);
        for (size_t j = 0; j < len; j++)
            text[j] = (char)(1 + s_below (&rng, 255));
        text[len] = 0;
        int ok = s_try (text);
        free (text);
        CHECK (ok);
        text = s_random_zpl (&rng);
        ok = s_try (text);
        free (text);
        CHECK (ok);
    }
}

// Node keys under curve: from the cert file or inline, both agreeing, none missing or shared.
static void
test_node_keys (void)
{
    char dir[] = "/tmp/zkv-test-keys-XXXXXX";
    CHECK (mkdtemp (dir) != NULL);
    zcert_t *a = zcert_new (), *b = zcert_new ();
    char path_a[128], path_b[128];
    snprintf (path_a, sizeof path_a, "%s/a.cert", dir);
    snprintf (path_b, sizeof path_b, "%s/b.cert", dir);
    CHECK (zcert_save (a, path_a) == 0);
    CHECK (zcert_save_public (b, path_b) == 0);
    char text[2048];
    const char *head = "cluster\n    name = k\n";
    const char *tail = "group\n    id = 0\n    members = 1\n";
#define S_NODE_TEXT(n, extra)                                                                      \
    "node\n    id = " #n "\n    peer = tcp://127.0.0.1:1" #n "1\n    client = "                    \
    "tcp://127.0.0.1:1" #n "2\n    events = tcp://127.0.0.1:1" #n "3\n    data = /tmp/d" #n        \
    "\n" extra
    char err[512];
    // Node 1 by cert file, node 2 by inline key agreeing with its public cert file.
    snprintf (text, sizeof text,
              "%s" S_NODE_TEXT (1, "    cert = %s\n")
                  S_NODE_TEXT (2, "    cert = %s\n    public_key = \"%s\"\n") "%s",
              head, path_a, path_b, zcert_public_txt (b), tail);
    zkv_config_t *config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    char key[41];
    CHECK (zkv_config_curve (config));
    CHECK (zkv_config_node_key (config, zkv_config_node (config, 1), key, err, sizeof err) == 0);
    CHECK (strcmp (key, zcert_public_txt (a)) == 0);
    CHECK (zkv_config_node_key (config, zkv_config_node (config, 2), key, err, sizeof err) == 0);
    CHECK (strcmp (key, zcert_public_txt (b)) == 0);
    CHECK (zkv_config_check_keys (config, err, sizeof err) == 0);
    zkv_config_destroy (&config);
    // An inline key that is not the cert's.
    snprintf (text, sizeof text,
              "%s" S_NODE_TEXT (1, "    cert = %s\n    public_key = \"%s\"\n") "%s", head, path_a,
              zcert_public_txt (b), tail);
    config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    CHECK (zkv_config_check_keys (config, err, sizeof err) == ZKV_ECONFIG);
    CHECK (strstr (err, "node 1's public_key is not the key of its certificate"));
    zkv_config_destroy (&config);
    // No key at all; a missing cert file; two nodes with one key.
    snprintf (text, sizeof text, "%s" S_NODE_TEXT (1, "") "%s", head, tail);
    config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    CHECK (zkv_config_check_keys (config, err, sizeof err) == ZKV_ECONFIG);
    CHECK (strstr (err, "node 1 has no key") && strstr (err, "security = none"));
    zkv_config_destroy (&config);
    snprintf (text, sizeof text, "%s" S_NODE_TEXT (1, "    cert = %s/nothing.cert\n") "%s", head,
              dir, tail);
    config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    CHECK (zkv_config_check_keys (config, err, sizeof err) == ZKV_ECONFIG);
    CHECK (strstr (err, "does not exist") && strstr (err, "zkv keygen"));
    zkv_config_destroy (&config);
    snprintf (text, sizeof text,
              "%s" S_NODE_TEXT (1, "    cert = %s\n")
                  S_NODE_TEXT (2, "    public_key = \"%s\"\n") "%s",
              head, path_a, zcert_public_txt (a), tail);
    config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    CHECK (zkv_config_check_keys (config, err, sizeof err) == ZKV_ECONFIG);
    CHECK (strstr (err, "nodes 1 and 2 have the same key"));
    zkv_config_destroy (&config);
    // Plain text needs no keys.
    snprintf (text, sizeof text,
              "cluster\n    name = k\n    security = none\n" S_NODE_TEXT (1, "") "%s", tail);
    config = zkv_config_load_str (text, "k.cfg", err, sizeof err);
    CHECK (config);
    CHECK (!zkv_config_curve (config));
    CHECK (zkv_config_check_keys (config, err, sizeof err) == 0);
    zkv_config_destroy (&config);
#undef S_NODE_TEXT
    zcert_destroy (&a);
    zcert_destroy (&b);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK (system (cmd) == 0);
}

ZKV_TEST_MAIN (TEST (test_node_keys) TEST (test_memtable_staggered_by_node)
                   TEST (test_sample_config) TEST (test_sample_config_group3) TEST (test_good_files)
                       TEST (test_bad_files) TEST (test_messages) TEST (test_schema_table)
                           TEST (test_zconfig_failing_line) TEST (test_scanner_agrees_with_zconfig)
                               TEST (test_truncated_sample) TEST (test_mutated_sample)
                                   TEST (test_random_garbage))
