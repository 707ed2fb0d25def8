// The MIT 6.5840 KV lab's test helpers (kvraft/test_test.go and config.go) over the simulated KV
// service, in simulated time: GenericTest, GenericTestSpeed, the partitioner, checkClntAppends
// and checkConcurrentAppends, make_partition.
//
// Values follow the project's history format (docs/history.md): a write of process p is
// "x<p>.<n>;" with n counting every write p ever made, so that every value is unique over the
// whole run (the lab's "x p j y" restarts j at each iteration); the lab's appends checks look
// for this iteration's values, which is the same check.
#ifndef ZKV_SIM_KVLAB_H
#define ZKV_SIM_KVLAB_H

#include "sim_harness.h"
#include "sim_kv.h"

#define SIM_KV_ELECTION_TIMEOUT (1000 * SIM_MS) // the lab's electionTimeout

// The lab's GenericTest: 3 iterations of nclients closed-loop clients for 5 s (appends 50%,
// puts 10% of the rest with random keys, gets), with a partitioner from the 2nd second if
// partitions, every server crashed and restarted at the end of each iteration if crash, then
// each client's key is read back and its appends checked (not randomkeys), and the Raft state
// checked against 8 x maxraftstate (or no snapshot at all when there is no maxraftstate).
// The history's linearizability is checked at the end of the scenario (sim_kv_finish).
void sim_kvlab_generic (sim_t *s, int nclients, bool crash, bool partitions, bool randomkeys);

// The lab's GenericTestSpeed (its servers and clerk: 3 nodes, reliable network, one clerk):
// a get first, so that a leader is elected and serving, then SIM_KVLAB_SPEED_OPS appends to one
// key, one after the other, then the key read back and every append checked. The appends must
// take at most a third of a heartbeat interval (100 ms) each on average, in simulated time: a
// command commits without waiting for the next heartbeat.
#define SIM_KVLAB_SPEED_OPS 1000
void sim_kvlab_speed (sim_t *s);

// The write value "x<process>.<n>;" into buf.
void sim_kvlab_value (char *buf, size_t size, int process, uint64_t n);
// The lab's checkClntAppends: values "x<clnt>.<first>;" .. "x<clnt>.<first + count - 1>;" each
// appear in v exactly once and in that order.
void sim_kvlab_check_appends (sim_t *s, int clnt, const char *v, uint64_t first, uint64_t count);

// The lab's make_partition: p1 a majority without the leader, p2 the rest with the leader last.
// group[i] = 0 for p1, 1 for p2; returns the leader.
int sim_kvlab_make_partition (sim_t *s, int *group);
// A mask of the nodes with group[i] == g.
uint32_t sim_kvlab_mask (sim_t *s, const int *group, int g);

#endif
