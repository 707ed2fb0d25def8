// CRC-32C (Castagnoli): what the stores checksum their records with (storage/) and what a
// backup file is checked by (cluster/zkv_backup.h). Pure, no state.
#ifndef ZKV_CRC32C_H
#define ZKV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// CRC-32C of len bytes, continuing from crc (start with 0).
uint32_t zkv_crc32c (uint32_t crc, const void *data, size_t len);

#endif
