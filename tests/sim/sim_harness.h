// MIT 6.5840-style test helpers over the simulated world (the lab's config.go), with every
// deadline in simulated time: nothing here ever sleeps for real. A helper that fails calls
// sim_fail, which leaves the scenario through its guard.
//
// Commands are byte strings. sim_cmd_int makes the lab's "int" commands (8 bytes, big endian),
// sim_cmd_rand a unique random one.
#ifndef ZKV_SIM_HARNESS_H
#define ZKV_SIM_HARNESS_H

#include "sim.h"

#define SIM_ELECTION_TIMEOUT (1000 * SIM_MS) // the lab's RaftElectionTimeout
#define SIM_CMD_MAX          8192            // largest command the helpers copy

typedef struct {
    uint8_t data[SIM_CMD_MAX]; // the command's bytes
    size_t len;                // their number
} sim_cmd_t;

// A command holding v (8 bytes, big endian): the lab's integer commands.
sim_cmd_t sim_cmd_int (uint64_t v);
// A command of len random bytes (len <= SIM_CMD_MAX), unique with overwhelming odds.
sim_cmd_t sim_cmd_rand (sim_t *s, size_t len);
// The integer in an 8-byte command, or UINT64_MAX for anything else.
uint64_t sim_cmd_value (const uint8_t *data, size_t len);

// Lets simulated time pass (the lab's time.Sleep).
void sim_sleep (sim_t *s, uint64_t us);

// The lab's checkOneLeader: up to 10 rounds of 450-550 ms; among connected up nodes, fails on
// two leaders in one term; returns the leader of the highest term. Fails if none in 5 s.
int sim_check_one_leader (sim_t *s);
// All connected up nodes agree on the term; returns it.
uint64_t sim_check_terms (sim_t *s);
// No connected up node thinks it is the leader.
void sim_check_no_leader (sim_t *s);

// How many up nodes applied index, failing if they disagree; *hash_p (if not NULL) gets the
// agreed entry's hash.
int sim_n_committed (sim_t *s, uint64_t index, uint64_t *hash_p);
// The lab's Start: proposes at node if it is up (not required to be connected). True if the
// node accepted it as leader; *index_p, *term_p set then.
bool sim_start (sim_t *s, int node, const void *cmd, size_t len, uint64_t *index_p,
                uint64_t *term_p);
// The lab's one(): proposes at connected up nodes in turn until one accepts, waits 2 s for
// expected nodes to apply it at that index; retries for 10 s if retry. Returns the index.
uint64_t sim_one (sim_t *s, const void *cmd, size_t len, int expected, bool retry);
uint64_t sim_one_int (sim_t *s, uint64_t v, int expected, bool retry);
// The lab's wait(): waits (backing off 10 ms .. 1 s, 30 rounds) for n nodes to apply index.
// Returns false if start_term >= 0 and some node moved past it (the lab's -1); fails if
// fewer than n applied it. *hash_p gets the entry's hash.
bool sim_wait (sim_t *s, uint64_t index, int n, int64_t start_term, uint64_t *hash_p);

// The lab's crash1 (disconnect, then crash) and start1 (crash1 if running, then restart from
// the memstore; the node stays disconnected until sim_connect).
void sim_crash1 (sim_t *s, int node);
void sim_start1 (sim_t *s, int node);

// The lab's rpcCount and bytesTotal (requests only, summed over all nodes).
uint64_t sim_rpc_total (sim_t *s);
uint64_t sim_bytes_total (sim_t *s);
// Largest durable log size of any node (the lab's LogSize).
size_t sim_log_size (sim_t *s);

#endif
