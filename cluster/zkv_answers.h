// The bytes of answers a node holds for client connections that do not take them. An answer
// that finds its connection's socket buffer full waits in the node's memory (ZeroMQ's queue for
// that connection) until the client reads; one that finds room goes straight to the kernel and
// leaves the queue empty behind it. So the bytes sent to a connection since its buffer last had
// room are what waits for it, and past a budget for one connection, or for all of them, the
// connection is cut (the frontend disconnects it: what waited is freed, the client may connect
// and ask again). The counting is pure; the frontend looks at the sockets.
//
// A connection that neither takes answers nor is sent any for a while (it asks nothing more)
// leaves the count after S_STALE_MS: what waits for it stays bounded by the per-connection
// budget, and a client gone without a word does not hold the total budget forever.
#ifndef ZKV_ANSWERS_H
#define ZKV_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_answers zkv_answers_t;

// Budgets in bytes: per connection, and for all of them (0: none).
zkv_answers_t *zkv_answers_new (uint64_t per_conn, uint64_t total);
void zkv_answers_destroy (zkv_answers_t **self_p);

// An answer of `bytes` was queued for the connection `conn` (its routing id) at `now_ms`, and
// the connection's socket buffer had no room (`full`) or had some. True when the connection
// must be cut: what waits for it, or for everyone, passed a budget (it is then forgotten).
bool zkv_answers_sent (zkv_answers_t *self, const uint8_t *conn, size_t conn_len, uint64_t bytes,
                       bool full, uint64_t now_ms);

// Bytes counted as waiting now, and connections cut so far.
uint64_t zkv_answers_waiting (const zkv_answers_t *self);
uint64_t zkv_answers_cut (const zkv_answers_t *self);

#endif
