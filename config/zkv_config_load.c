// The config loader: zconfig parses, the line scanner gives each item its line, the schema table
// validates every value, and the cross-checks here validate how nodes and groups relate.
#include "zkv_config_int.h"
#include "zkv_error.h"

#include <czmq.h>
#include <inttypes.h>

// Where one section's values came from, for messages that point at them.
typedef struct {
    int line;                             // the section's own line
    int key_line[ZKV_CONFIG_MAX_OPTIONS]; // line of each option, 0 if the file left it out
} s_lines_t;

typedef struct {
    zkv_config_t *config;    // being filled in
    char *err;               // caller's message buffer, may be NULL
    size_t errlen;           // its size
    zkv_config_scan_t scan;  // every item's line
    size_t cursor;           // next scanned item to pair with a zconfig node
    s_lines_t cluster_lines; // lines of /cluster (line 0: not seen yet)
    s_lines_t *node_lines;   // one per node
    s_lines_t *group_lines;  // one per group
} s_loader_t;

// Writes "source:line: message" (or "source: message" for line 0); returns -1.
static int
s_fail (s_loader_t *self, int line, const char *format, ...)
{
    if (!self->err || self->errlen == 0)
        return ZKV_ECONFIG;
    int at = line > 0 ? snprintf (self->err, self->errlen, "%s:%d: ", self->config->source, line)
                      : snprintf (self->err, self->errlen, "%s: ", self->config->source);
    if (at >= 0 && (size_t)at < self->errlen) {
        va_list args;
        va_start (args, format);
        vsnprintf (self->err + at, self->errlen - (size_t)at, format, args);
        va_end (args);
    }
    return ZKV_ECONFIG;
}

// Pairs a zconfig node with the next scanned item (pre-order = file order) and returns its line.
static int
s_take (s_loader_t *self, zconfig_t *node, int *line_p)
{
    const char *value = zconfig_value (node) ? zconfig_value (node) : "";
    if (self->cursor >= self->scan.count ||
        strcmp (self->scan.items[self->cursor].name, zconfig_name (node)) != 0 ||
        strcmp (self->scan.items[self->cursor].value, value) != 0) {
        // Only a zconfig whose rules differ from the scanner's gets here.
        int line = self->cursor < self->scan.count ? self->scan.items[self->cursor].line : 0;
        return s_fail (self, line,
                       "internal error: zconfig read '%s' where the line scanner "
                       "expected otherwise (CZMQ version?)",
                       zconfig_name (node));
    }
    *line_p = self->scan.items[self->cursor++].line;
    return 0;
}

// Edit distance between two short strings, capped at 9; for "did you mean".
static int
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 32 || lb > 32)
        return 9;
    int row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diagonal = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int above = row[j];
            int best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

static int
s_unknown_key (s_loader_t *self, int line, zkv_config_section_id_t section, const char *key)
{
    const char *best = NULL;
    int best_distance = 3; // suggest only close misspellings
    char keys[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < zkv_config_option_count; i++) {
        const zkv_config_option_t *opt = &zkv_config_options[i];
        if (opt->section != section)
            continue;
        // A close misspelling: a short word two letters off is another word (port, cert).
        int distance = s_distance (key, opt->key);
        if ((distance < best_distance && (size_t)distance * 3 <= strlen (key)) ||
            (strncmp (key, opt->key, strlen (key)) == 0 && !best)) {
            best = opt->key;
            best_distance = distance;
        }
        int n = snprintf (keys + used, sizeof keys - used, "%s%s", used ? ", " : "", opt->key);
        if (n > 0 && used + (size_t)n < sizeof keys)
            used += (size_t)n;
    }
    const char *name = zkv_config_sections[section].name;
    if (best)
        return s_fail (self, line, "/%s/%s: unknown key (did you mean %s?)", name, key, best);
    return s_fail (self, line, "/%s/%s: unknown key (keys: %s)", name, key, keys);
}

// Makes room for one more section of this kind and returns its record and lines.
static int
s_add_record (s_loader_t *self, zkv_config_section_id_t section, int line, void **record_p,
              s_lines_t **lines_p)
{
    zkv_config_t *config = self->config;
    const zkv_config_section_t *info = &zkv_config_sections[section];
    if (section == ZKV_CONFIG_CLUSTER) {
        if (self->cluster_lines.line)
            return s_fail (self, line, "/cluster: given twice (first at line %d)",
                           self->cluster_lines.line);
        *record_p = &config->cluster;
        *lines_p = &self->cluster_lines;
    } else {
        bool node = section == ZKV_CONFIG_NODE;
        size_t *count_p = node ? &config->node_count : &config->group_count;
        void **records_p = node ? (void **)&config->nodes : (void **)&config->groups;
        s_lines_t **all_lines_p = node ? &self->node_lines : &self->group_lines;
        if (*count_p == info->max)
            return s_fail (self, line, "/%s: more than %zu %s sections", info->name, info->max,
                           info->name);
        char *records = realloc (*records_p, (*count_p + 1) * info->record_size);
        s_lines_t *all_lines = realloc (*all_lines_p, (*count_p + 1) * sizeof *all_lines);
        if (!records || !all_lines)
            abort ();
        *records_p = records;
        *all_lines_p = all_lines;
        *record_p = records + *count_p * info->record_size;
        memset (*record_p, 0, info->record_size);
        *lines_p = &all_lines[*count_p];
        (*count_p)++;
    }
    memset (*lines_p, 0, sizeof **lines_p);
    (*lines_p)->line = line;
    return 0;
}

// One section: its keys in file order, then defaults and missing required keys.
static int
s_load_section (s_loader_t *self, zconfig_t *section_node, int line,
                zkv_config_section_id_t section)
{
    const char *name = zkv_config_sections[section].name;
    const char *value = zconfig_value (section_node);
    if (value && *value)
        return s_fail (self, line,
                       "/%s: a section takes no value, got '%s' (its keys go on the "
                       "lines below it, indented 4 spaces)",
                       name, value);
    void *record = NULL; // set by s_add_record; initialised for gcc's -O2 flow analysis
    s_lines_t *lines = NULL;
    if (s_add_record (self, section, line, &record, &lines))
        return ZKV_ECONFIG;
    char why[256];
    for (zconfig_t *key = zconfig_child (section_node); key; key = zconfig_next (key)) {
        int key_line;
        if (s_take (self, key, &key_line))
            return ZKV_ECONFIG;
        const char *key_name = zconfig_name (key);
        int o = zkv_config_option_find (section, key_name);
        if (o < 0)
            return s_unknown_key (self, key_line, section, key_name);
        if (lines->key_line[o])
            return s_fail (self, key_line, "/%s/%s: given twice (first at line %d)", name, key_name,
                           lines->key_line[o]);
        lines->key_line[o] = key_line;
        zconfig_t *below = zconfig_child (key);
        if (below) {
            int below_line;
            if (s_take (self, below, &below_line))
                return ZKV_ECONFIG;
            return s_fail (self, below_line, "/%s/%s/%s: %s takes a value, not keys below it", name,
                           key_name, zconfig_name (below), key_name);
        }
        if (zkv_config_option_parse (&zkv_config_options[o], zconfig_value (key), record, why,
                                     sizeof why))
            return s_fail (self, key_line, "/%s/%s: %s", name, key_name, why);
    }
    for (size_t o = 0; o < zkv_config_option_count; o++) {
        const zkv_config_option_t *opt = &zkv_config_options[o];
        if (opt->section != section || lines->key_line[o] || opt->fallback == zkv_config_unset)
            continue;
        if (!opt->fallback)
            return s_fail (self, line, "/%s/%s: missing (required)", name, opt->key);
        int rc = zkv_config_option_parse (opt, opt->fallback, record, why, sizeof why);
        assert (rc == 0); // the schema's own defaults are valid
    }
    return 0;
}

// A top-level name that is no section: say so, and guess why (a key that lost its section, or
// zconfig's "a/b" path shorthand, which we do not take).
static int
s_unknown_section (s_loader_t *self, int line, const char *name)
{
    for (size_t o = 0; o < zkv_config_option_count; o++) {
        const zkv_config_option_t *opt = &zkv_config_options[o];
        if (strcmp (opt->key, name) == 0)
            return s_fail (self, line,
                           "/%s: unknown section (%s is a key of /%s: indent it 4 "
                           "spaces under a %s line)",
                           name, name, zkv_config_sections[opt->section].name,
                           zkv_config_sections[opt->section].name);
    }
    if (strchr (name, '/'))
        return s_fail (self, line,
                       "/%s: unknown section (write a section name on its own line "
                       "and its keys indented below it, not section/key)",
                       name);
    return s_fail (self, line, "/%s: unknown section (sections: cluster, node, group)", name);
}

static int
s_load_tree (s_loader_t *self, zconfig_t *root)
{
    for (zconfig_t *node = zconfig_child (root); node; node = zconfig_next (node)) {
        int line;
        if (s_take (self, node, &line))
            return ZKV_ECONFIG;
        int section = zkv_config_section_find (zconfig_name (node));
        if (section < 0)
            return s_unknown_section (self, line, zconfig_name (node));
        if (s_load_section (self, node, line, (zkv_config_section_id_t)section))
            return ZKV_ECONFIG;
    }
    size_t counts[ZKV_CONFIG_SECTIONS] = {self->cluster_lines.line ? 1 : 0,
                                          self->config->node_count, self->config->group_count};
    for (int s = 0; s < ZKV_CONFIG_SECTIONS; s++)
        if (counts[s] < zkv_config_sections[s].min)
            return s_fail (self, 0, "/%s: missing (required)", zkv_config_sections[s].name);
    return 0;
}

static int
s_option (zkv_config_section_id_t section, const char *key)
{
    int o = zkv_config_option_find (section, key);
    assert (o >= 0);
    return o;
}

// The line an option of a section came from, or the section's line if it took the default.
static int
s_line_of (const s_lines_t *lines, int option)
{
    return lines->key_line[option] ? lines->key_line[option] : lines->line;
}

static int
s_check_cluster (s_loader_t *self)
{
    const zkv_config_cluster_t *cluster = &self->config->cluster;
    if (strcmp (cluster->security, "curve") != 0 && strcmp (cluster->security, "none") != 0) {
        int o = s_option (ZKV_CONFIG_CLUSTER, "security");
        return s_fail (self, s_line_of (&self->cluster_lines, o),
                       "/cluster/security: expected curve or none, got '%s'", cluster->security);
    }
    if (cluster->election_ticks < 2 * cluster->heartbeat_ticks) {
        int o = s_option (ZKV_CONFIG_CLUSTER, "election_ticks");
        return s_fail (self, s_line_of (&self->cluster_lines, o),
                       "/cluster/election_ticks: must be at least twice heartbeat_ticks (%" PRIu64
                       "), got %" PRIu64,
                       cluster->heartbeat_ticks, cluster->election_ticks);
    }
    return 0;
}

static const char *
s_field (const zkv_config_node_t *node, int option)
{
    const char *text;
    memcpy (&text, (const char *)node + zkv_config_options[option].offset, sizeof text);
    return text;
}

// Two endpoints that would bind the same address: the same text, host names compared
// without case.
static bool
s_same_endpoint (const char *a, const char *b)
{
    if (!a || !b) // an optional endpoint left out
        return false;
    if (strncmp (a, "tcp://", 6) == 0)
        return strcasecmp (a, b) == 0;
    return strcmp (a, b) == 0;
}

static int
s_check_nodes (s_loader_t *self)
{
    const zkv_config_t *config = self->config;
    int id = s_option (ZKV_CONFIG_NODE, "id");
    int data = s_option (ZKV_CONFIG_NODE, "data");
    for (size_t i = 0; i < config->node_count; i++) {
        const zkv_config_node_t *node = &config->nodes[i];
        for (size_t j = 0; j < i; j++)
            if (config->nodes[j].id == node->id)
                return s_fail (self, s_line_of (&self->node_lines[i], id),
                               "/node/id: node %" PRIu64 " is defined twice (first at line %d)",
                               node->id, s_line_of (&self->node_lines[j], id));
    }
    // Each endpoint is bound by its node: no two may be the same, in one node or across nodes.
    for (size_t i = 0; i < config->node_count; i++)
        for (size_t o = 0; o < zkv_config_option_count; o++) {
            if (zkv_config_options[o].section != ZKV_CONFIG_NODE ||
                zkv_config_options[o].type != ZKV_CONFIG_ENDPOINT)
                continue;
            const char *endpoint = s_field (&config->nodes[i], (int)o);
            for (size_t j = 0; j <= i; j++)
                for (size_t p = 0; p < zkv_config_option_count; p++) {
                    if (zkv_config_options[p].section != ZKV_CONFIG_NODE ||
                        zkv_config_options[p].type != ZKV_CONFIG_ENDPOINT || (j == i && p >= o))
                        continue;
                    if (s_same_endpoint (endpoint, s_field (&config->nodes[j], (int)p)))
                        return s_fail (
                            self, s_line_of (&self->node_lines[i], (int)o),
                            "/node/%s: %s is already /node/%s of node %" PRIu64 " (line %d)",
                            zkv_config_options[o].key, endpoint, zkv_config_options[p].key,
                            config->nodes[j].id, s_line_of (&self->node_lines[j], (int)p));
                }
        }
    // The HTTP server (libmicrohttpd) binds a TCP address, not a ZeroMQ transport.
    int http = s_option (ZKV_CONFIG_NODE, "http");
    for (size_t i = 0; i < config->node_count; i++)
        if (config->nodes[i].http && strncmp (config->nodes[i].http, "tcp://", 6) != 0)
            return s_fail (self, s_line_of (&self->node_lines[i], http),
                           "/node/http: expected tcp://IP:port (an HTTP server listens on TCP), "
                           "got '%s'",
                           config->nodes[i].http);
    for (size_t i = 0; i < config->node_count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp (config->nodes[i].data, config->nodes[j].data) == 0)
                return s_fail (self, s_line_of (&self->node_lines[i], data),
                               "/node/data: %s is already the data directory of node %" PRIu64
                               " (line %d)",
                               config->nodes[i].data, config->nodes[j].id,
                               s_line_of (&self->node_lines[j], data));
    return 0;
}

// "1, 2, 3": the ids of the defined nodes, for messages.
static void
s_node_list (const zkv_config_t *config, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < config->node_count; i++) {
        int n =
            snprintf (buf + used, buflen - used, "%s%" PRIu64, i ? ", " : "", config->nodes[i].id);
        if (n < 0 || used + (size_t)n >= buflen)
            break;
        used += (size_t)n;
    }
}

static int
s_check_groups (s_loader_t *self)
{
    const zkv_config_t *config = self->config;
    int id = s_option (ZKV_CONFIG_GROUP, "id");
    int members = s_option (ZKV_CONFIG_GROUP, "members");
    int machine = s_option (ZKV_CONFIG_GROUP, "machine");
    bool controller = false;
    for (size_t i = 0; i < config->group_count; i++) {
        const zkv_config_group_t *group = &config->groups[i];
        controller |= group->id == 0;
        for (size_t j = 0; j < i; j++)
            if (config->groups[j].id == group->id)
                return s_fail (self, s_line_of (&self->group_lines[i], id),
                               "/group/id: group %" PRIu64 " is defined twice (first at line %d)",
                               group->id, s_line_of (&self->group_lines[j], id));
        if (strcmp (group->machine, "auto") == 0) {
            char *picked = strdup (group->id == 0 ? "controller" : "kv");
            if (!picked)
                abort ();
            free ((void *)group->machine);
            ((zkv_config_group_t *)group)->machine = picked;
        }
        if (!zkv_config_machine_known (group->machine))
            return s_fail (self, s_line_of (&self->group_lines[i], machine),
                           "/group/machine: no state machine '%s' (known: controller, kv)",
                           group->machine);
        if ((group->id == 0) != (strcmp (group->machine, "controller") == 0))
            return s_fail (self, s_line_of (&self->group_lines[i], machine),
                           "/group/machine: group %" PRIu64 " cannot run '%s': the controller "
                           "is group 0, and group 0 runs only the controller",
                           group->id, group->machine);
        for (size_t m = 0; m < group->members.count; m++)
            if (!zkv_config_node (config, group->members.ids[m])) {
                char nodes[256];
                s_node_list (config, nodes, sizeof nodes);
                return s_fail (self, s_line_of (&self->group_lines[i], members),
                               "/group/members: node %" PRIu64 " is not defined (nodes: %s)",
                               group->members.ids[m], nodes);
            }
    }
    if (!controller)
        return s_fail (self, 0,
                       "/group: no group 0 (the shard controller); add a group with "
                       "id = 0");
    return 0;
}

// Makes a relative path relative to base_dir (the config file's folder).
static void
s_resolve (const char **path_p, const char *base_dir)
{
    if (!*path_p || (*path_p)[0] == '/')
        return;
    char *path = zsys_sprintf ("%s/%s", base_dir, *path_p);
    if (!path)
        abort ();
    free ((void *)*path_p);
    *path_p = path;
}

// Makes relative paths (data directories, certificates, key directories) relative to base_dir.
static void
s_resolve_paths (zkv_config_t *config, const char *base_dir)
{
    for (size_t i = 0; i < config->node_count; i++) {
        s_resolve (&config->nodes[i].data, base_dir);
        s_resolve (&config->nodes[i].cert, base_dir);
    }
    s_resolve (&config->cluster.client_keys, base_dir);
    s_resolve (&config->cluster.monitor_keys, base_dir);
    s_resolve (&config->cluster.client_cert, base_dir);
}

// The first line zconfig refuses, found by parsing ever shorter prefixes (a prefix of a valid
// ZPL text is valid, so the failing prefixes are exactly the longer ones); 0 if none fails.
int
zkv_config_zconfig_line (const char *text, size_t len)
{
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    lines += len > 0 && text[len - 1] != '\n';
    int lo = 1, hi = lines, found = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        size_t end = 0;
        for (int seen = 0; end < len && seen < mid; end++)
            seen += text[end] == '\n';
        char *prefix = strndup (text, end);
        if (!prefix)
            abort ();
        zconfig_t *root = zconfig_str_load (prefix);
        free (prefix);
        if (root) {
            zconfig_destroy (&root);
            lo = mid + 1;
        } else {
            found = mid;
            hi = mid - 1;
        }
    }
    return found;
}

zkv_config_t *
zkv_config_parse (const char *text, size_t len, const char *source, const char *base_dir, char *err,
                  size_t errlen)
{
    assert (text && text[len] == 0);
    zkv_config_t *config = calloc (1, sizeof *config);
    if (!config)
        abort ();
    config->source = strdup (source ? source : "<string>");
    if (!config->source)
        abort ();
    s_loader_t loader = {.config = config, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = 0;
    char why[256];
    int line = 0;
    int rc = -1;
    zconfig_t *root = NULL;
    if (zkv_config_scan (text, len, &loader.scan, &line, why, sizeof why)) {
        s_fail (&loader, line, "%s", why);
        goto done;
    }
    // The scanner accepted the text, so zconfig does too (the unit test checks that on
    // thousands of inputs); it has no other way to report a failure than NULL.
    root = zconfig_str_load (text);
    if (!root) {
        s_fail (&loader, zkv_config_zconfig_line (text, len), "zconfig cannot parse this line");
        goto done;
    }
    if (s_load_tree (&loader, root))
        goto done;
    if (base_dir)
        s_resolve_paths (config, base_dir);
    if (s_check_cluster (&loader) || s_check_nodes (&loader) || s_check_groups (&loader))
        goto done;
    rc = 0;
done:
    zconfig_destroy (&root);
    zkv_config_scan_clear (&loader.scan);
    free (loader.node_lines);
    free (loader.group_lines);
    if (rc)
        zkv_config_destroy (&config);
    return config;
}
