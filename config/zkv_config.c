// zkv_config: loading a cluster configuration file, and reading what it says.
#include "zkv_config_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_message (char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, errlen, format, args);
    va_end (args);
}

zkv_config_t *
zkv_config_load (const char *path, char *err, size_t errlen)
{
    assert (path);
    FILE *file = fopen (path, "rb");
    if (!file) {
        s_message (err, errlen, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    // Read one byte past the limit so that a file that is too large is told apart.
    char *text = malloc (ZKV_CONFIG_MAX_BYTES + 2);
    if (!text)
        abort ();
    size_t len = fread (text, 1, ZKV_CONFIG_MAX_BYTES + 1, file);
    int failed = ferror (file);
    int error = errno;
    fclose (file);
    if (failed) {
        s_message (err, errlen, "%s: cannot read: %s", path, strerror (error));
        free (text);
        return NULL;
    }
    text[len] = 0;
    // Relative data directories are relative to the file's folder, wherever zkvd is started.
    const char *slash = strrchr (path, '/');
    char *base_dir = NULL;
    if (slash) {
        size_t dir_len = slash == path ? 1 : (size_t)(slash - path);
        base_dir = strndup (path, dir_len);
        if (!base_dir)
            abort ();
    }
    zkv_config_t *self = zkv_config_parse (text, len, path, base_dir ? base_dir : ".", err, errlen);
    free (base_dir);
    free (text);
    return self;
}

zkv_config_t *
zkv_config_load_str (const char *text, const char *name, char *err, size_t errlen)
{
    assert (text);
    return zkv_config_parse (text, strlen (text), name, NULL, err, errlen);
}

static void
s_free_record (zkv_config_section_id_t section, void *record)
{
    for (size_t o = 0; o < zkv_config_option_count; o++)
        if (zkv_config_options[o].section == section)
            zkv_config_option_free (&zkv_config_options[o], record);
}

void
zkv_config_destroy (zkv_config_t **self_p)
{
    assert (self_p);
    zkv_config_t *self = *self_p;
    if (!self)
        return;
    s_free_record (ZKV_CONFIG_CLUSTER, &self->cluster);
    for (size_t i = 0; i < self->node_count; i++)
        s_free_record (ZKV_CONFIG_NODE, &self->nodes[i]);
    for (size_t i = 0; i < self->group_count; i++)
        s_free_record (ZKV_CONFIG_GROUP, &self->groups[i]);
    free (self->nodes);
    free (self->groups);
    free (self->source);
    free (self);
    *self_p = NULL;
}

const char *
zkv_config_source (const zkv_config_t *self)
{
    return self->source;
}

const zkv_config_cluster_t *
zkv_config_cluster (const zkv_config_t *self)
{
    return &self->cluster;
}

const char *
zkv_config_name (const zkv_config_t *self)
{
    return self->cluster.name;
}

uint64_t
zkv_config_shards (const zkv_config_t *self)
{
    return self->cluster.shards;
}

uint64_t
zkv_config_tick_ms (const zkv_config_t *self)
{
    return self->cluster.tick_ms;
}

uint64_t
zkv_config_election_ticks (const zkv_config_t *self)
{
    return self->cluster.election_ticks;
}

uint64_t
zkv_config_heartbeat_ticks (const zkv_config_t *self)
{
    return self->cluster.heartbeat_ticks;
}

bool
zkv_config_pre_vote (const zkv_config_t *self)
{
    return self->cluster.pre_vote;
}

bool
zkv_config_check_quorum (const zkv_config_t *self)
{
    return self->cluster.check_quorum;
}

uint64_t
zkv_config_snapshot_bytes (const zkv_config_t *self)
{
    return self->cluster.snapshot_bytes;
}

uint64_t
zkv_config_shard_move_bytes_per_sec (const zkv_config_t *self)
{
    return self->cluster.shard_move_bytes_per_sec;
}

uint64_t
zkv_config_storage_write_buffer_bytes (const zkv_config_t *self)
{
    return self->cluster.storage_write_buffer_bytes;
}

uint64_t
zkv_config_storage_write_buffer_for_node (const zkv_config_t *self, uint64_t node_id)
{
    uint64_t base = self->cluster.storage_write_buffer_bytes;
    uint64_t step = node_id ? (node_id - 1) % 4 : 0;
    return base + step * (base / 4);
}

uint64_t
zkv_config_snapshot_chunk_bytes (const zkv_config_t *self)
{
    return self->cluster.snapshot_chunk_bytes;
}

uint64_t
zkv_config_max_key_bytes (const zkv_config_t *self)
{
    return self->cluster.max_key_bytes;
}

uint64_t
zkv_config_max_value_bytes (const zkv_config_t *self)
{
    return self->cluster.max_value_bytes;
}

uint64_t
zkv_config_max_batch_entries (const zkv_config_t *self)
{
    return self->cluster.max_batch_entries;
}

uint64_t
zkv_config_max_batch_bytes (const zkv_config_t *self)
{
    return self->cluster.max_batch_bytes;
}

uint64_t
zkv_config_max_inflight (const zkv_config_t *self)
{
    return self->cluster.max_inflight;
}

size_t
zkv_config_node_count (const zkv_config_t *self)
{
    return self->node_count;
}

const zkv_config_node_t *
zkv_config_node_at (const zkv_config_t *self, size_t index)
{
    return index < self->node_count ? &self->nodes[index] : NULL;
}

const zkv_config_node_t *
zkv_config_node (const zkv_config_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->node_count; i++)
        if (self->nodes[i].id == id)
            return &self->nodes[i];
    return NULL;
}

const zkv_config_node_t *
zkv_config_node_require (const zkv_config_t *self, uint64_t id, char *err, size_t errlen)
{
    const zkv_config_node_t *node = zkv_config_node (self, id);
    if (node)
        return node;
    char nodes[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < self->node_count; i++) {
        int n = snprintf (nodes + used, sizeof nodes - used, "%s%" PRIu64, i ? ", " : "",
                          self->nodes[i].id);
        if (n < 0 || used + (size_t)n >= sizeof nodes)
            break;
        used += (size_t)n;
    }
    s_message (err, errlen, "%s: node %" PRIu64 " is not defined (nodes: %s)", self->source, id,
               nodes);
    return NULL;
}

size_t
zkv_config_group_count (const zkv_config_t *self)
{
    return self->group_count;
}

const zkv_config_group_t *
zkv_config_group_at (const zkv_config_t *self, size_t index)
{
    return index < self->group_count ? &self->groups[index] : NULL;
}

const zkv_config_group_t *
zkv_config_group (const zkv_config_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->group_count; i++)
        if (self->groups[i].id == id)
            return &self->groups[i];
    return NULL;
}

size_t
zkv_config_groups_of_node (const zkv_config_t *self, uint64_t node_id, uint64_t *ids, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < self->group_count; i++) {
        const zkv_config_ids_t *members = &self->groups[i].members;
        for (size_t m = 0; m < members->count; m++)
            if (members->ids[m] == node_id) {
                if (count < max)
                    ids[count] = self->groups[i].id;
                count++;
                break;
            }
    }
    return count;
}

bool
zkv_config_machine_known (const char *name)
{
    // The machines zkvd can run: actors/zkv_group_machine.c makes each one.
    static const char *const known[] = {"controller", "kv"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (name && strcmp (name, known[i]) == 0)
            return true;
    return false;
}

bool
zkv_config_has_controller (const zkv_config_t *self)
{
    const zkv_config_group_t *g = zkv_config_group (self, 0);
    return g && strcmp (g->machine, "controller") == 0;
}
