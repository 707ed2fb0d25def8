// zkv error codes: messages and names expanded from ZKV_ERROR_TABLE.
#include "zkv_error.h"

#define S_MSG(name, value, msg) [value] = msg,
static const char *s_messages[] = {ZKV_ERROR_TABLE (S_MSG)};
#undef S_MSG
#define S_NAME(name, value, msg) [value] = #name,
static const char *s_names[] = {ZKV_ERROR_TABLE (S_NAME)};
#undef S_NAME

static int
s_index (int code)
{
    int idx = code < 0 ? -code : code;
    if (idx >= (int) (sizeof s_messages / sizeof s_messages[0]) || !s_messages[idx])
        return -1;
    return idx;
}

const char *
zkv_strerror (int code)
{
    int idx = s_index (code);
    return idx < 0 ? "unknown error" : s_messages[idx];
}

const char *
zkv_errname (int code)
{
    int idx = s_index (code);
    return idx < 0 ? "ZKV_E?" : s_names[idx];
}
