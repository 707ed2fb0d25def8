// Replays files (or every file in directories) through the fuzz target, without libFuzzer.
//
//     fuzz_decode_replay FILE|DIR...   exits 0 if every input passed (a failure aborts)
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

// Runs one file; returns 0, or -1 if it cannot be read.
static int
s_replay_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc (cap);
    size_t got;
    while (data && (got = fread (data + len, 1, cap - len, file)) > 0) {
        len += got;
        if (len == cap)
            data = realloc (data, cap *= 2);
    }
    fclose (file);
    if (!data)
        abort (); // out of memory
    LLVMFuzzerTestOneInput (data, len);
    free (data);
    return 0;
}

int
main (int argc, char **argv)
{
    int runs = 0, bad = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat (argv[a], &st) != 0) {
            fprintf (stderr, "fuzz_decode_replay: cannot stat %s\n", argv[a]);
            bad++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            bad += s_replay_file (argv[a]) != 0;
            runs++;
            continue;
        }
        DIR *dir = opendir (argv[a]);
        struct dirent *ent;
        while (dir && (ent = readdir (dir))) {
            if (ent->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[a], ent->d_name);
            bad += s_replay_file (path) != 0;
            runs++;
        }
        if (dir)
            closedir (dir);
        else
            bad++;
    }
    printf ("fuzz_decode_replay: %d inputs replayed, %d unreadable\n", runs, bad);
    return bad || runs == 0 ? 1 : 0;
}
