// zkv_client_new_from_config: a client of the nodes a cluster config file lists, with the
// file's security (CURVE: the nodes' keys from the file, the client's own key from the caller,
// $ZKV_KEY or the file's /cluster/client_cert).
#include "zkv_client.h"

#include "zkv_config.h"

#include <stdio.h>
#include <stdlib.h>

zkv_client_t *
zkv_client_new_from_config_key (const char *path, const char *key_file, char *err, size_t errlen)
{
    zkv_config_t *config = zkv_config_load (path, err, errlen);
    if (!config)
        return NULL;
    size_t n = zkv_config_node_count (config);
    uint64_t *ids = calloc (n ? n : 1, sizeof *ids);
    const char **endpoints = calloc (n ? n : 1, sizeof *endpoints);
    char (*keys)[41] = calloc (n ? n : 1, sizeof *keys);
    const char **key_ptrs = calloc (n ? n : 1, sizeof *key_ptrs);
    if (!ids || !endpoints || !keys || !key_ptrs)
        abort ();
    zkv_client_t *self = NULL;
    bool curve = zkv_config_curve (config);
    if (curve && zkv_config_check_keys (config, err, errlen) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, i);
        ids[i] = node->id;
        endpoints[i] = node->client;
        if (curve)
            zkv_config_node_key (config, node, keys[i], NULL, 0); // checked above
        key_ptrs[i] = keys[i];
    }
    if (curve) {
        if (!key_file)
            key_file = getenv ("ZKV_KEY");
        if (!key_file || !*key_file)
            key_file = zkv_config_cluster (config)->client_cert;
        if (!key_file) {
            if (err && errlen)
                snprintf (err, errlen,
                          "%s: the cluster runs CURVE (/cluster/security): give a client key "
                          "(--key FILE or $ZKV_KEY; `zkv keygen FILE` makes one, and the "
                          "cluster must allow it in /cluster/client_keys)",
                          path);
            goto done;
        }
        self = zkv_client_new_curve (ids, endpoints, key_ptrs, n, key_file, err, errlen);
    } else {
        self = zkv_client_new_nodes (ids, endpoints, n);
        if (!self && err && errlen)
            snprintf (err, errlen, "%s: cannot connect to the nodes' client endpoints", path);
    }
    if (self)
        zkv_client_set_limits (self, zkv_config_max_key_bytes (config),
                               zkv_config_max_value_bytes (config));
done:
    free (ids);
    free (endpoints);
    free (keys);
    free (key_ptrs);
    zkv_config_destroy (&config);
    return self;
}

zkv_client_t *
zkv_client_new_from_config (const char *path, char *err, size_t errlen)
{
    return zkv_client_new_from_config_key (path, NULL, err, errlen);
}
