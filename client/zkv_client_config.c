// zkv_client_new_from_config: a client of the nodes a cluster config file lists.
#include "zkv_client.h"

#include "zkv_config.h"

#include <stdio.h>
#include <stdlib.h>

zkv_client_t *
zkv_client_new_from_config (const char *path, char *err, size_t errlen)
{
    zkv_config_t *config = zkv_config_load (path, err, errlen);
    if (!config)
        return NULL;
    size_t n = zkv_config_node_count (config);
    uint64_t *ids = calloc (n ? n : 1, sizeof *ids);
    const char **endpoints = calloc (n ? n : 1, sizeof *endpoints);
    if (!ids || !endpoints)
        abort ();
    for (size_t i = 0; i < n; i++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, i);
        ids[i] = node->id;
        endpoints[i] = node->client;
    }
    zkv_client_t *self = zkv_client_new_nodes (ids, endpoints, n);
    if (self)
        zkv_client_set_limits (self, zkv_config_max_key_bytes (config),
                               zkv_config_max_value_bytes (config));
    else if (err && errlen)
        snprintf (err, errlen, "%s: cannot connect to the nodes' client endpoints", path);
    free (ids);
    free (endpoints);
    zkv_config_destroy (&config);
    return self;
}
