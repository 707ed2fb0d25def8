// A log store that several group actors (threads) of one node can share: every call is
// serialized by a mutex around the node's one LevelDB store.
#ifndef ZKV_LOCKSTORE_H
#define ZKV_LOCKSTORE_H

#include "zkv_logstore.h"

// Wraps inner (taking ownership: destroying the result destroys inner).
zkv_logstore_t *zkv_lockstore_new (zkv_logstore_t *inner);
// The wrapped store (for calls the logstore interface does not carry).
zkv_logstore_t *zkv_lockstore_inner (zkv_logstore_t *self);

#endif
