// Which file of a LevelDB directory a corruption was found in, as far as LevelDB's own account
// (its LOG file) tells: the version set (the MANIFEST that CURRENT names) when it failed to
// recover it, else the write-ahead log it was recovering last. For a message to an operator.
#ifndef ZKV_LDBDIAG_H
#define ZKV_LDBDIAG_H

#include <stddef.h>

// Writes the file's name (relative to dir) into out and returns 0, or -1 when LevelDB's LOG
// names none (a table read at run time, say).
int zkv_ldbdiag_corrupt_file (const char *dir, char *out, size_t size);

#endif
