// LevelDB's errors as zkv's codes, for the stores over LevelDB (zkv_ldbstore.c,
// zkv_kvstore_ldb.c).
#ifndef ZKV_LDBERR_H
#define ZKV_LDBERR_H

#include "zkv_error.h"

#include <leveldb/c.h>
#include <string.h>

// Maps LevelDB's status text to a code (ZKV_ENOSPC, ZKV_ECORRUPT, else ZKV_EIO) and frees it.
static inline int
zkv_ldb_error (char *errptr)
{
    int rc = ZKV_EIO;
    if (strstr (errptr, "No space"))
        rc = ZKV_ENOSPC;
    else if (strncmp (errptr, "Corruption", 10) == 0)
        rc = ZKV_ECORRUPT;
    leveldb_free (errptr);
    return rc;
}

// An iterator's error as a code, 0 if it has none.
static inline int
zkv_ldb_iter_error (leveldb_iterator_t *it)
{
    char *errptr = NULL;
    leveldb_iter_get_error (it, &errptr);
    return errptr ? zkv_ldb_error (errptr) : 0;
}

#endif
