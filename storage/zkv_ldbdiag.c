// Naming the corrupt file of a LevelDB directory from its LOG (zkv_ldbdiag.h).
#include "zkv_ldbdiag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The MANIFEST that dir/CURRENT names, into out. 0 or -1.
static int
s_manifest (const char *dir, char *out, size_t size)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/CURRENT", dir);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char name[256] = "";
    int ok = fgets (name, sizeof name, f) != NULL;
    fclose (f);
    name[strcspn (name, "\r\n")] = 0;
    if (!ok || strncmp (name, "MANIFEST-", 9) != 0)
        return -1;
    snprintf (out, size, "%s", name);
    return 0;
}

int
zkv_ldbdiag_corrupt_file (const char *dir, char *out, size_t size)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/LOG", dir);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    // The last recovery step LevelDB logged before it gave up says what it was reading.
    char line[1024];
    long log_number = -1;
    int version_set = 0;
    while (fgets (line, sizeof line, f)) {
        const char *p;
        if (strstr (line, "Error recovering version set")) {
            version_set = 1;
        } else if ((p = strstr (line, "Recovering log #"))) {
            log_number = strtol (p + strlen ("Recovering log #"), NULL, 10);
            version_set = 0;
        }
    }
    fclose (f);
    if (version_set)
        return s_manifest (dir, out, size);
    if (log_number >= 0) {
        snprintf (out, size, "%06ld.log", log_number);
        return 0;
    }
    return -1;
}
