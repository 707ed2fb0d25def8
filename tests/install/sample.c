// A program built against the installed client library, as a user builds one:
//     cc sample.c $(pkg-config --cflags --libs zkv)
// It uses the public API only (tests/install/install_check.sh runs it).
#include <zkv/zkv_client.h>

#include <stdio.h>
#include <string.h>

int
main (void)
{
    const char *endpoints[] = {"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"};
    zkv_client_t *client = zkv_client_new (endpoints, 2);
    if (!client) {
        fprintf (stderr, "sample: zkv_client_new failed\n");
        return 1;
    }
    int ok = zkv_client_node_count (client) == 2 && zkv_client_node_id (client, 1) == 2 &&
             strcmp (zkv_client_node_endpoint (client, 0), endpoints[0]) == 0 &&
             zkv_client_shard_of ("k", 1, 16) < 16 &&
             strcmp (zkv_client_strerror (ZKV_ETIMEOUT), zkv_strerror (ZKV_ETIMEOUT)) == 0 &&
             strcmp (zkv_errname (ZKV_ENOTFOUND), "ZKV_ENOTFOUND") == 0;
    zkv_client_destroy (&client);
    if (!ok || client) {
        fprintf (stderr, "sample: the library answered wrong\n");
        return 1;
    }
    printf ("sample: ok (%s)\n", zkv_client_strerror (ZKV_ETIMEOUT));
    return 0;
}
