// Restoring a node's groups from a backup file (zkvd --restore FILE; cluster/zkv_backup.h).
//
// Every node of the new cluster is restored from the same file and the same config file. For
// each group it hosts, the group's saved stream goes through its state machine's own receiver
// (the code a follower installs a leader's snapshot with: its format is the state machine's
// business), and the node's Raft log store gets that snapshot's metadata at the saved index and
// term: the node boots as a member whose log was compacted up to the saved state, like every
// other member. Nothing decides here that zkvd's actors would have to; they read the file.
//
// The controller's configurations name the old cluster's node endpoints and keys. When the
// group is the controller's, the restore also appends one entry after the snapshot: a Nodes
// command (zkv_ctrl_sm.h) with the config file's endpoints and keys, so that the first leader
// of the new cluster commits it and the next configuration says where the nodes are now. Every
// member appends the same entry, so every log holds it; its term is above the snapshot's by an
// amount drawn from its bytes, so that members restored with config files that disagree hold
// entries that differ in term too, and Raft keeps one of them (never two entries of one index
// and term that differ).
#ifndef ZKV_RESTORE_H
#define ZKV_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "zkv_backup.h"
#include "zkv_logstore.h"
#include "zkv_routing.h"
#include "zkv_sm.h"

// 0 if the node holds nothing of group (no Raft state, no applied state: a new node's, or one
// whose data was lost), ZKV_EINVAL if it does, or a store error.
int zkv_restore_empty (zkv_logstore_t *log, uint64_t group, zkv_sm_t *sm);

// Installs group's saved state from backup into log and sm (empty: zkv_restore_empty), and the
// Raft snapshot at its index; with nodes (the config file's routing; the controller's group
// only), the Nodes entry after it. Durable when it returns 0. Otherwise why says what failed;
// the group may hold a partial stream, staged apart, which its boot deletes (the node then
// boots empty: run the restore again).
int zkv_restore_group (zkv_backup_t *backup, uint64_t group, zkv_logstore_t *log, zkv_sm_t *sm,
                       const zkv_routing_t *nodes, char *why, size_t whylen);

// The term of the Nodes entry a restore of a snapshot at term appends (above term by 1 to
// 65,536, drawn from the command's bytes).
uint64_t zkv_restore_nodes_term (uint64_t term, const uint8_t *cmd, size_t len);

#endif
