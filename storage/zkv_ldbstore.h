// The LevelDB Raft log store of zkvd (storage/zkv_ldbstore.c): an implementation of
// cluster/zkv_logstore.h; one database per node, shared with the node's KV stores.
#ifndef ZKV_LDBSTORE_H
#define ZKV_LDBSTORE_H

#include "zkv_logstore.h"

// Opens (creating if needed) the database at path. Returns NULL and sets *err (negative code)
// on failure; errmsg receives LevelDB's text.
zkv_logstore_t *zkv_ldbstore_new (const char *path, int *err, char *errmsg, size_t errmsg_len);
// The same with LevelDB's memtable of write_buffer_bytes (zkv_ldbstore_new: 32 MiB).
zkv_logstore_t *zkv_ldbstore_new_sized (const char *path, size_t write_buffer_bytes, int *err,
                                        char *errmsg, size_t errmsg_len);
// The store's LevelDB handle (a leveldb_t *), NULL if it is not a LevelDB store. void * so that
// this header names no LevelDB type.
void *zkv_ldbstore_db (zkv_logstore_t *store);
// Its views and the compactions that wait for them to close (a zkv_ldbpins_t *, zkv_ldbpins.h).
void *zkv_ldbstore_pins (zkv_logstore_t *store);

#endif
