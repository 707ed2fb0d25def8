// The shard controller's balancer: deterministic, minimal-move shard assignment.
//
// Given a current assignment (shard -> group id, 0 for none) and the groups that serve shards
// (ids ascending, never 0), it reassigns shards so that every shard has a group and the shard
// counts of the largest and smallest group differ by at most one, moving as few shards as
// possible: a shard stays where it is unless its group left or holds more than its share. The
// result depends only on the values given (never on memory addresses, hash or map order), so
// every replica of the controller computes the same one.
//
// Shares: nshards / n each, and the nshards % n groups that already hold the most shards (ties:
// the lower id) get one more; a group over its share gives up its highest-numbered shards; the
// shards without a group go, lowest first, to the groups under their share, lowest id first.
#ifndef ZKV_BALANCE_H
#define ZKV_BALANCE_H

#include <stddef.h>
#include <stdint.h>

// Rebalances shard_group (nshards entries) over groups (n_groups ids, ascending, distinct, no
// 0; n_groups 0 unassigns every shard). Returns how many shards changed group.
size_t zkv_balance (uint64_t *shard_group, uint32_t nshards, const uint64_t *groups,
                    size_t n_groups);

#endif
