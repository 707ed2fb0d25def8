// Who may send what over an authenticated connection (zkv_auth.h).
#include "zkv_auth.h"

uint64_t
zkv_auth_claimed (const zkv_msg_t *msg)
{
    if (zkv_msg_is_raft (msg->type))
        return msg->u.hdr.from;
    if (msg->type == ZKV_MSG_FORWARD_REQUEST)
        return msg->u.forward_request.origin_node;
    return 0;
}

bool
zkv_auth_peer (const zkv_msg_t *msg, uint64_t sender)
{
    if (sender == ZKV_AUTH_ANYONE)
        return true;
    if (sender == 0)
        return false;
    uint64_t claimed = zkv_auth_claimed (msg);
    return claimed == 0 || claimed == sender;
}

bool
zkv_auth_monitor (const zkv_msg_t *msg)
{
    return msg->type == ZKV_MSG_STATUS_REQUEST || msg->type == ZKV_MSG_CONFIG_REQUEST ||
           (msg->type == ZKV_MSG_CLIENT_REQUEST && msg->u.client_request.op == ZKV_OP_QUERY);
}
