// Internals shared by the client library's files (not installed).
#ifndef ZKV_CLIENT_INT_H
#define ZKV_CLIENT_INT_H

#include "zkv_client.h"

// Sets the largest key and value the client accepts (from a config file's limits).
void zkv_client_set_limits (zkv_client_t *self, size_t max_key, size_t max_value);

#endif
