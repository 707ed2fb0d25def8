// zkvd --restore FILE (zkv_restore_file.h): the file's bytes for the pure restore.
#include "zkv_restore_file.h"
#include "zkv_backup.h"
#include "zkv_group_machine.h"
#include "zkv_log.h"
#include "zkv_restore.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

struct zkv_restore_file {
    char *path;           // the file
    int fd;               // open on it
    zkv_backup_t *backup; // checked
};

static int
s_read (void *arg, uint64_t offset, uint8_t *buf, size_t len)
{
    zkv_restore_file_t *self = arg;
    while (len > 0) {
        ssize_t n = pread (self->fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ZKV_EIO; // an error, or the file shrank under us
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

zkv_restore_file_t *
zkv_restore_file_open (const char *path, const zkv_config_t *config, char *err, size_t errlen)
{
    zkv_restore_file_t *self = zmalloc (sizeof *self);
    self->path = strdup (path);
    self->fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (self->fd < 0 || fstat (self->fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        snprintf (err, errlen, "--restore %s: %s", path,
                  self->fd < 0 ? strerror (errno) : "not a regular file");
        zkv_restore_file_close (&self);
        return NULL;
    }
    char why[512] = "";
    int rc = 0;
    self->backup = zkv_backup_open (s_read, self, (uint64_t)st.st_size, &rc, why, sizeof why);
    if (!self->backup) {
        snprintf (err, errlen, "--restore %s: %s; nothing was written", path, why);
        zkv_restore_file_close (&self);
        return NULL;
    }
    // The cluster the config file describes, group by group in id order.
    zkv_routing_t *r = zkv_node_routing (config);
    const char **machines = zmalloc ((r->n_groups + 1) * sizeof *machines);
    for (size_t i = 0; i < r->n_groups; i++)
        machines[i] = zkv_config_group (config, r->group_ids[i])->machine;
    rc = zkv_backup_check_shape (self->backup, r, machines, why, sizeof why);
    free (machines);
    zkv_routing_destroy (&r);
    if (rc) {
        snprintf (err, errlen,
                  "--restore %s: the backup does not fit this config file: %s; nothing was "
                  "written",
                  path, why);
        zkv_restore_file_close (&self);
        return NULL;
    }
    return self;
}

void
zkv_restore_file_close (zkv_restore_file_t **self_p)
{
    zkv_restore_file_t *self = *self_p;
    if (!self)
        return;
    zkv_backup_destroy (&self->backup);
    if (self->fd >= 0)
        close (self->fd);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
zkv_restore_file_install (zkv_restore_file_t *self, zkv_node_t *node, const char *dir)
{
    size_t n = node->n_groups;
    zkv_sm_t **sms = zmalloc ((n + 1) * sizeof *sms);
    zkv_group_machine_t **machines = zmalloc ((n + 1) * sizeof *machines);
    int rc = 0;
    // Every group first: a directory holding data of any of them gets nothing.
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sms[i] = zkv_group_machine_new (node, node->groups[i], &machines[i], &rc);
        if (!sms[i])
            zkv_log_error ("zkvd %" PRIu64 ": --restore %s: cannot open group %" PRIu64
                           "'s state machine in %s: %s",
                           node->id, self->path, node->groups[i], dir, zkv_strerror (rc));
        else if ((rc = zkv_restore_empty (node->logstore, node->groups[i], sms[i])) != 0)
            zkv_log_error ("zkvd %" PRIu64 ": --restore %s: %s already holds data%s%" PRIu64
                           " (%s). A restore seeds a new node: move the directory away (or "
                           "start the node without --restore); nothing was written",
                           node->id, self->path, dir, rc == ZKV_EINVAL ? " of group " : ": group ",
                           node->groups[i],
                           rc == ZKV_EINVAL ? "its Raft log or state" : zkv_strerror (rc));
    }
    const zkv_backup_header_t *h = zkv_backup_header (self->backup);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t g = node->groups[i];
        bool controller = strcmp (sms[i]->ops->name, "controller") == 0;
        char why[512] = "";
        rc = zkv_restore_group (self->backup, g, node->logstore, sms[i],
                                controller ? node->routing : NULL, why, sizeof why);
        int slot = zkv_backup_slot (self->backup, g);
        if (rc)
            zkv_log_error ("zkvd %" PRIu64 ": --restore %s: group %" PRIu64 ": %s. The directory "
                           "%s is incomplete: empty it and run the restore again",
                           node->id, self->path, g, why, dir);
        else
            zkv_log_notice ("zkvd %" PRIu64 ": group %" PRIu64 " restored from %s: its state at "
                            "index %" PRIu64 " (term %" PRIu64 ", %" PRIu64 " bytes)%s",
                            node->id, g, self->path, h->indexes.items[slot], h->terms.items[slot],
                            h->sizes.items[slot],
                            controller ? "; the nodes' endpoints and keys of the config file "
                                         "follow it in the log"
                                       : "");
    }
    for (size_t i = 0; i < n; i++) {
        zkv_sm_destroy (&sms[i]);
        zkv_group_machine_destroy (&machines[i]);
    }
    free (sms);
    free (machines);
    return rc;
}
