// zkvd --restore FILE: reads a backup file (cluster/zkv_backup.h) and has the pure restore
// (cluster/zkv_restore.h) install this node's groups from it. The checks that refuse a file
// come before anything is written: the file and its shape against the config file when zkvd
// starts, the data directory's emptiness once its database is open.
#ifndef ZKV_RESTORE_FILE_H
#define ZKV_RESTORE_FILE_H

#include "zkv_node.h"

typedef struct zkv_restore_file zkv_restore_file_t;

// Opens path and checks all of it, and its shape against config's cluster. NULL after writing
// one line into err (the file's problem and what to do).
zkv_restore_file_t *zkv_restore_file_open (const char *path, const zkv_config_t *config, char *err,
                                           size_t errlen);
void zkv_restore_file_close (zkv_restore_file_t **self_p);

// Installs every group of node (its database open, nothing else running) from the file:
// refused (ZKV_EINVAL, nothing written) when the node holds data of any of them; 0 once all
// are durable. Logs what it did, or why not.
int zkv_restore_file_install (zkv_restore_file_t *self, zkv_node_t *node, const char *dir);

#endif
