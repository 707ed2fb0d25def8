// --version for every program (zkv_version.h). The version itself is in the generated
// zkv_version_string.c, the one file that changes with it.
#include "zkv_version.h"

#include <stdio.h>
#include <string.h>

bool
zkv_version_option (int argc, char **argv, const char *program)
{
    if (argc < 2 || strcmp (argv[1], "--version") != 0)
        return false;
    printf ("%s %s\n", program, zkv_version ());
    return true;
}
