// Restoring a node's groups from a backup file (zkv_restore.h).
#include "zkv_restore.h"
#include "zkv_crc32c.h"
#include "zkv_ctrl_sm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// The client id of the Nodes command a restore at index appends: top bits apart from clients'
// (below 2^63), the frontend's calls (2^63 | group) and saves (2^63 | 2^62).
#define S_NODES_CLIENT(index) ((1ULL << 63) | (1ULL << 61) | ((index) & ((1ULL << 61) - 1)))

int
zkv_restore_empty (zkv_logstore_t *log, uint64_t group, zkv_sm_t *sm)
{
    zkv_logstore_state_t st;
    int rc = zkv_logstore_load (log, group, &st);
    if (rc)
        return rc;
    bool empty = st.hard_state.term == 0 && st.snapshot.index == 0 && st.n_entries == 0;
    zkv_logstore_state_free (&st);
    return empty && sm->ops->applied (sm->impl) == 0 ? 0 : ZKV_EINVAL;
}

uint64_t
zkv_restore_nodes_term (uint64_t term, const uint8_t *cmd, size_t len)
{
    return term + 1 + (zkv_crc32c (0, cmd, len) & 0xffff);
}

// Appends "what: code" to why.
static int
s_fail (char *why, size_t len, const char *what, int rc)
{
    if (why && len) {
        why[0] = 0;
        const char *parts[] = {what, ": ", zkv_strerror (rc)};
        size_t at = 0;
        for (size_t p = 0; p < 3; p++)
            for (const char *c = parts[p]; *c && at + 1 < len; c++)
                why[at++] = *c;
        why[at] = 0;
    }
    return rc;
}

typedef struct {
    zkv_sm_t *sm;
    zkv_snapshot_meta_t meta;
} s_feed_t;

static int
s_feed (void *arg, uint64_t offset, const uint8_t *data, size_t len, bool done)
{
    s_feed_t *f = arg;
    return f->sm->ops->recv_chunk (f->sm->impl, &f->meta, offset, data, len, done);
}

int
zkv_restore_group (zkv_backup_t *backup, uint64_t group, zkv_logstore_t *log, zkv_sm_t *sm,
                   const zkv_routing_t *nodes, char *why, size_t whylen)
{
    assert (backup && log && sm);
    int slot = zkv_backup_slot (backup, group);
    if (slot < 0)
        return s_fail (why, whylen, "the backup holds no state of this group", ZKV_ENOTFOUND);
    const zkv_backup_header_t *h = zkv_backup_header (backup);
    s_feed_t feed = {.sm = sm,
                     .meta = {.index = h->indexes.items[slot], .term = h->terms.items[slot]}};
    // The stream, staged by the state machine apart from its (empty) current state.
    int rc = zkv_backup_each_chunk (backup, group, s_feed, &feed);
    if (rc)
        return s_fail (why, whylen,
                       zkv_sm_store_error (rc) ? "writing the group's state"
                                               : "the group's state machine refused the saved "
                                                 "state",
                       rc);
    // The Raft snapshot, and the controller's Nodes entry after it.
    zkv_entry_t entry = {0};
    zkv_hard_state_t hs = {.term = feed.meta.term, .vote = 0, .commit = feed.meta.index};
    if (nodes) {
        rc = zkv_ctrl_nodes_command (nodes, S_NODES_CLIENT (feed.meta.index), &entry.data.data,
                                     &entry.data.len);
        if (rc)
            return s_fail (why, whylen, "the config file's nodes do not make a command", rc);
        entry.index = feed.meta.index + 1;
        entry.term = zkv_restore_nodes_term (feed.meta.term, entry.data.data, entry.data.len);
        entry.type = ZKV_ENTRY_NORMAL;
        hs.term = entry.term;
    }
    rc = zkv_logstore_save_snapshot (log, group, &feed.meta, NULL, 0);
    if (rc == 0)
        rc = zkv_logstore_save_hard_state (log, group, &hs);
    if (rc == 0 && nodes)
        rc = zkv_logstore_append (log, group, &entry, 1);
    if (rc == 0)
        rc = zkv_logstore_sync (log);
    zkv_bytes_free (&entry.data);
    if (rc)
        return s_fail (why, whylen, "writing the group's Raft state", rc);
    // The snapshot's metadata is durable: the staged state becomes current (a crash before
    // this, and the boot makes it current: zkv_sm_ops_t.boot).
    rc = sm->ops->recv_finish (sm->impl, &feed.meta);
    if (rc == 0 && sm->ops->applied (sm->impl) != feed.meta.index)
        rc = ZKV_ECORRUPT;
    if (rc)
        return s_fail (why, whylen, "installing the group's state", rc);
    return 0;
}
