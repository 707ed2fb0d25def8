// The in-memory Raft log store of the simulator and the unit tests (storage/zkv_memstore.c): an
// implementation of cluster/zkv_logstore.h with a precise crash model.
#ifndef ZKV_MEMSTORE_H
#define ZKV_MEMSTORE_H

#include "zkv_logstore.h"

zkv_logstore_t *zkv_memstore_new (void);
// Simulates a crash: every write since the last sync is lost. With torn set, a prefix of the
// unsynced writes survives instead, its last entry possibly torn (stored corrupt, so load
// must detect and drop it and everything after). seed picks the prefix deterministically.
void zkv_memstore_crash (zkv_logstore_t *self, bool torn, uint64_t seed);
// Number of bytes held durably (entries + snapshot), for bounded-growth checks.
size_t zkv_memstore_durable_bytes (zkv_logstore_t *self, uint64_t group);

#endif
