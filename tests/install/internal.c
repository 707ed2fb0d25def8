// Must NOT link against the installed library: it calls a function of the core the library
// absorbs (cluster/zkv_routing.h), which is hidden (tests/install/install_check.sh).
#include <zkv/zkv_client.h>

void zkv_routing_destroy (void **self_p);

int
main (void)
{
    void *p = NULL;
    zkv_routing_destroy (&p);
    return 0;
}
