// zkv_client_new_from_config when the build has no config loader: says so.
#include "zkv_client.h"

#include <stdio.h>

zkv_client_t *
zkv_client_new_from_config (const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf (err, errlen, "%s: this build of the zkv client has no config loader", path);
    return NULL;
}

zkv_client_t *
zkv_client_new_from_config_key (const char *path, const char *key_file, char *err, size_t errlen)
{
    (void)key_file;
    return zkv_client_new_from_config (path, err, errlen);
}
