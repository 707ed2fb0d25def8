// A backup file: every group's state of a cluster, as its state machine streamed it (opaque
// bytes), with what a restore must check before it writes anything. Written by `zkv snapshot
// save` (client/zkv_cli_snapshot.c), read by `zkvd --restore` (cluster/zkv_restore.h). Pure: the
// caller moves the bytes to and from the disk.
//
// Layout (docs/design.md, "Backup and restore"):
//
//     offset 0   prelude, ZKV_BACKUP_PRELUDE_BYTES, fixed:
//                  "ZKVBACK\n"                   magic
//                  u32 format                    ZKV_BACKUP_FORMAT
//                  u32 protocol                  ZKV_PROTOCOL_VERSION of the records
//                  u64 header offset             where the header record starts
//                  u32 header length             it runs to the end of the file
//                  u32 body CRC-32C              of every byte after the prelude
//                  u32 prelude CRC-32C           of the 32 bytes before it
//                (integers big-endian)
//     36         the groups' streams, group after group in header order: records
//                  [u32 length][backup_chunk], contiguous offsets from 0, the last one done
//     header     one backup_header (messages/zkv_msg_table.h): the shape (shards, groups,
//                members, machines), the controller's configuration and shard map, and each
//                group's applied index, term, configuration, file offset, stream size and
//                chunk count
//
// The header sits at the end so that a save writes the file in one pass (the indexes are known
// only as each group's save begins); the prelude, patched last, says where it is. Records are
// rows of the message table, so the file meets the codec's bounds checks like any input; the
// stream bytes inside them are the state machine's own format, never looked into here.
#ifndef ZKV_BACKUP_H
#define ZKV_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msg.h"
#include "zkv_routing.h"

#define ZKV_BACKUP_MAGIC         "ZKVBACK\n"
#define ZKV_BACKUP_FORMAT        1
#define ZKV_BACKUP_PRELUDE_BYTES 36
// Groups one file may hold (a routing configuration holds fewer).
#define ZKV_BACKUP_MAX_GROUPS 4096

// What a save is consistent with: the controller's configuration (its number and shard map)
// and the groups it names, with their members. Borrowed arrays.
typedef struct {
    uint32_t nshards;             // shards of the key space
    uint64_t config;              // the controller's configuration number
    const uint64_t *shard_groups; // its group of each shard, nshards of them
    size_t n_groups;              // groups, the controller (0) included
    const uint64_t *group_ids;    // their ids, ascending
    const uint64_t *group_sizes;  // members of each
    const uint64_t *members;      // their node ids, group after group
} zkv_backup_shape_t;

// --- writing --------------------------------------------------------------------------------

typedef struct zkv_backup_writer zkv_backup_writer_t;

// A writer of a backup of shape (copied), begun at created_ms. NULL and *err (ZKV_EINVAL) for
// a shape that is not one (ids not ascending, members that do not add up, no groups).
zkv_backup_writer_t *zkv_backup_writer_new (const zkv_backup_shape_t *shape, uint64_t created_ms,
                                            int *err);
void zkv_backup_writer_destroy (zkv_backup_writer_t **self_p);
// The next group's stream begins (groups in the shape's order): its state machine, the applied
// index and term of its state, and the configuration it is in. ZKV_EINVAL out of order, or
// before the previous group's last chunk.
int zkv_backup_writer_group (zkv_backup_writer_t *self, uint64_t group, const char *machine,
                             uint64_t index, uint64_t term, uint64_t config);
// The current group's chunk at offset (the stream's bytes so far: ZKV_EINVAL otherwise): the
// bytes to append to the file in *out (owned).
int zkv_backup_writer_chunk (zkv_backup_writer_t *self, uint64_t offset, const uint8_t *data,
                             size_t len, bool done, zkv_bytes_t *out);
// Every group was written: the header to append in *header (owned), and the prelude to write
// at offset 0 (the file began with ZKV_BACKUP_PRELUDE_BYTES of anything). ZKV_EINVAL when a
// group is missing.
int zkv_backup_writer_finish (zkv_backup_writer_t *self, zkv_bytes_t *header,
                              uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES]);

// --- reading --------------------------------------------------------------------------------

// Reads len bytes at offset of the file into buf: 0, or a negative code.
typedef int (zkv_backup_read_fn) (void *arg, uint64_t offset, uint8_t *buf, size_t len);

typedef struct zkv_backup zkv_backup_t;

// Opens a backup file of size bytes and checks all of it before anything is restored: the
// prelude (ZKV_EPROTO: not a backup file; ZKV_EVERSION: another format or protocol), both
// checksums and the header's agreement with the records (ZKV_ECORRUPT: damaged), every record
// decoded in its place. NULL with *err and one sentence in why; a read error is read's code.
zkv_backup_t *zkv_backup_open (zkv_backup_read_fn *read, void *arg, uint64_t size, int *err,
                               char *why, size_t whylen);
void zkv_backup_destroy (zkv_backup_t **self_p);
// The header (borrowed; valid while the backup is).
const zkv_backup_header_t *zkv_backup_header (const zkv_backup_t *self);
// Index of group in the header's groups, or -1.
int zkv_backup_slot (const zkv_backup_t *self, uint64_t group);
// Checks the backup against the cluster a config file describes (its routing, and the state
// machine each of its groups runs, in routing order): the same shard count, groups, members
// and machines. 0, or ZKV_EINVAL with why.
int zkv_backup_check_shape (const zkv_backup_t *self, const zkv_routing_t *cluster,
                            const char *const *machines, char *why, size_t whylen);

// Hands group's chunks to fn in order (one in memory at a time); stops at fn's first non-zero
// return, which it returns. ZKV_ENOTFOUND for a group not in the backup.
typedef int (zkv_backup_chunk_fn) (void *arg, uint64_t offset, const uint8_t *data, size_t len,
                                   bool done);
int zkv_backup_each_chunk (zkv_backup_t *self, uint64_t group, zkv_backup_chunk_fn *fn, void *arg);

#endif
