// zkv error codes: one table, one strerror. Functions return 0 or a negative ZKV_E* code.
#ifndef ZKV_ERROR_H
#define ZKV_ERROR_H

#include "zkv_export.h"

// X(name, value, message)
#define ZKV_ERROR_TABLE(X)                                                                         \
    X (ZKV_OK, 0, "success")                                                                       \
    X (ZKV_EINVAL, 1, "invalid argument")                                                          \
    X (ZKV_ENOMEM, 2, "out of memory")                                                             \
    X (ZKV_ETRUNC, 3, "message truncated")                                                         \
    X (ZKV_EPROTO, 4, "malformed message")                                                         \
    X (ZKV_EVERSION, 5, "unsupported protocol version")                                            \
    X (ZKV_ETYPE, 6, "unknown message type")                                                       \
    X (ZKV_ETOOBIG, 7, "value too large")                                                          \
    X (ZKV_ENOTLEADER, 8, "not the leader")                                                        \
    X (ZKV_EIO, 9, "storage I/O error")                                                            \
    X (ZKV_ECORRUPT, 10, "stored data is corrupt")                                                 \
    X (ZKV_ENOTFOUND, 11, "not found")                                                             \
    X (ZKV_ETIMEOUT, 12, "timed out")                                                              \
    X (ZKV_ENOQUORUM, 13, "no quorum")                                                             \
    X (ZKV_EBUSY, 14, "busy, try again")                                                           \
    X (ZKV_ECONFIG, 15, "bad configuration")                                                       \
    X (ZKV_ENOSPC, 16, "no space left on device")                                                  \
    X (ZKV_ECOMPACTED, 17, "log index compacted")                                                  \
    X (ZKV_EUNAVAILABLE, 18, "log index not available")                                            \
    X (ZKV_ESTOPPED, 19, "stopped")                                                                \
    X (ZKV_ESTALE, 20, "stale request: the client already moved past this sequence number")      \
    X (ZKV_EWRONGGROUP, 21, "wrong group: the key's shard is not served by this group")       \
    X (ZKV_ENOTREADY, 22, "not ready: the group has not reached that configuration yet")        \
    X (ZKV_EDENIED, 23, "denied: this client's key may not do that")                             \
    X (ZKV_ESESSION, 24, "session expired: start a new session; this request's outcome is "     \
                         "unknown if it was a retry")                                    \
    X (ZKV_ECOMPARE, 25, "compare failed: the key's value or revision is not the expected one")  \
    X (ZKV_EUNREACHABLE, 26, "no node reachable")                                                \
    X (ZKV_ELEADERLOST, 27, "leader lost after the request was proposed (it may still apply)")

#define ZKV_ERROR_ENUM(name, value, msg) name##_VALUE = value,
enum { ZKV_ERROR_TABLE (ZKV_ERROR_ENUM) ZKV_ERROR_COUNT_ };
#undef ZKV_ERROR_ENUM
#define ZKV_ERROR_NEG(name, value, msg) name = -(value),
enum zkv_error { ZKV_ERROR_TABLE (ZKV_ERROR_NEG) };
#undef ZKV_ERROR_NEG

// Message for a code (0 or negative); never NULL.
ZKV_EXPORT const char *zkv_strerror (int code);
// Symbolic name for a code ("ZKV_ETRUNC"); never NULL.
ZKV_EXPORT const char *zkv_errname (int code);

#endif
