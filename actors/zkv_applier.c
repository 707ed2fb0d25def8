// The applier actor: one per group. Applies the group's committed entries to the KV state
// machine (cluster/zkv_kv.h) in one kvstore batch per hand-over, with the applied index in
// the same batch; reports the results of requests proposed on this node to the frontend;
// serves reads once it has applied up to their read index; writes snapshots of the state
// machine when its group asks, and installs the leader's snapshots.
#include "zkv_actors.h"
#include "zkv_kv.h"
#include "zkv_lockstore.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A read waiting for the applier to reach its index.
typedef struct {
    uint64_t rid;   // frontend's request id
    uint64_t index; // apply at least this far first
    zframe_t *key;  // the key
} s_read_t;

typedef struct {
    zkv_node_t *node;     // the node
    uint64_t group;       // our group
    zsock_t *in;          // PULL: from the group actor
    zsock_t *front;       // PUSH to the frontend
    zsock_t *group_in;    // PUSH to the group actor (snapshots)
    zkv_kvstore_t *store; // the KV data in the node's database
    zkv_kv_t *kv;         // the state machine
    zlistx_t *reads;      // s_read_t waiting for applied >= index, in arrival order
} s_applier_t;

static void
s_fatal (s_applier_t *self, const char *what, int rc)
{
    // The state machine can no longer follow the log: stop the node, a restart replays it.
    zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": %s failed: %s; stopping the node",
                self->node->id, self->group, what, zkv_strerror (rc));
    _exit (3);
}

static void
s_read_done (s_applier_t *self, uint64_t rid, int rc, const zkv_bytes_t *value)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "READ_DONE");
    zmsg_addmem (out, &rid, 8);
    uint64_t status = (uint64_t)-rc;
    zmsg_addmem (out, &status, 8);
    zmsg_addmem (out, value ? value->data : NULL, value ? value->len : 0);
    zmsg_addmem (out, &self->node->id, 8);
    zkv_actors_send (self->front, &out);
}

static void
s_read_serve (s_applier_t *self, uint64_t rid, zframe_t *key)
{
    zkv_bytes_t value = {0};
    int rc = zkv_kv_get (self->kv, zframe_data (key), zframe_size (key), &value);
    if (rc == ZKV_ENOTFOUND)
        rc = 0; // a missing key reads as the empty value (the append model)
    s_read_done (self, rid, rc, &value);
    zkv_bytes_free (&value);
}

static void
s_reads_release (s_applier_t *self)
{
    uint64_t applied = zkv_kv_applied (self->kv);
    s_read_t *r = (s_read_t *)zlistx_first (self->reads);
    while (r) {
        void *handle = zlistx_cursor (self->reads);
        s_read_t *ready = r->index <= applied ? r : NULL;
        r = (s_read_t *)zlistx_next (self->reads);
        if (ready) {
            s_read_serve (self, ready->rid, ready->key);
            zframe_destroy (&ready->key);
            zlistx_delete (self->reads, handle);
            free (ready);
        }
    }
}

static void
s_apply (s_applier_t *self, zmsg_t *msg)
{
    uint64_t n = 0;
    zframe_t *f = zmsg_first (msg);
    assert (f && zframe_size (f) == 8); // our own API
    memcpy (&n, zframe_data (f), 8);
    zkv_entry_t *entries = (zkv_entry_t *)zmalloc ((n ? n : 1) * sizeof (zkv_entry_t));
    uint8_t *local = (uint8_t *)zmalloc (n ? n : 1);
    for (uint64_t i = 0; i < n; i++) {
        zframe_t *fi = zmsg_next (msg), *ft = zmsg_next (msg), *fy = zmsg_next (msg);
        zframe_t *fl = zmsg_next (msg), *fd = zmsg_next (msg);
        assert (fi && ft && fy && fl && fd);
        memcpy (&entries[i].index, zframe_data (fi), 8);
        memcpy (&entries[i].term, zframe_data (ft), 8);
        entries[i].type = *zframe_data (fy);
        local[i] = *zframe_data (fl);
        // Borrowed: zkv_kv_apply reads the payloads, the frames outlive the call.
        entries[i].data.data = zframe_data (fd);
        entries[i].data.len = zframe_size (fd);
    }
    zkv_kv_results_t results = {0};
    int rc = zkv_kv_apply (self->kv, entries, n, &results);
    if (rc != 0)
        s_fatal (self, "applying committed entries", rc);
    for (size_t i = 0; i < results.count; i++) {
        zkv_kv_result_t *res = &results.items[i];
        if (!res->has_client || n == 0 || res->index < entries[0].index)
            continue;
        if (!local[res->index - entries[0].index])
            continue; // proposed elsewhere: that node answers its client
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "RESULT");
        zmsg_addmem (out, &self->group, 8);
        zmsg_addmem (out, &res->client_id, 8);
        zmsg_addmem (out, &res->seq, 8);
        uint64_t status = (uint64_t)-res->status;
        zmsg_addmem (out, &status, 8);
        zmsg_addmem (out, res->value.data, res->value.len);
        zkv_actors_send (self->front, &out);
    }
    zkv_kv_results_free (&results);
    free (entries);
    free (local);
    zkv_node_status_set_applied (self->node, self->group, zkv_kv_applied (self->kv));
    s_reads_release (self);
}

static void
s_install (s_applier_t *self, zmsg_t *msg)
{
    zframe_t *fi = zmsg_first (msg);
    zmsg_next (msg); // term: the blob carries what the state machine needs
    zframe_t *data = zmsg_next (msg);
    assert (fi && data); // our own API
    int rc = zkv_kv_snapshot_restore (self->kv, zframe_data (data), zframe_size (data));
    if (rc != 0)
        s_fatal (self, "installing the leader's snapshot", rc);
    zkv_node_status_set_applied (self->node, self->group, zkv_kv_applied (self->kv));
    s_reads_release (self);
}

static void
s_snapshot (s_applier_t *self)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_kv_snapshot_write (self->kv, &buf, &len);
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "SNAPSHOT");
    uint64_t applied = zkv_kv_applied (self->kv);
    if (rc != 0) {
        zsys_warning ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot write a snapshot: %s",
                      self->node->id, self->group, zkv_strerror (rc));
        applied = 0; // the group clears its request and refuses index 0
    }
    zmsg_addmem (out, &applied, 8);
    zmsg_addmem (out, buf, len);
    free (buf);
    zmsg_send (&out, self->group_in);
}

static void
s_input (s_applier_t *self, zmsg_t *msg)
{
    char *verb = zmsg_popstr (msg);
    assert (verb); // our own API
    if (streq (verb, "APPLY"))
        s_apply (self, msg);
    else if (streq (verb, "INSTALL"))
        s_install (self, msg);
    else if (streq (verb, "READ")) {
        s_read_t *r = (s_read_t *)zmalloc (sizeof *r);
        zframe_t *rid = zmsg_first (msg), *idx = zmsg_next (msg);
        assert (rid && idx); // our own API
        memcpy (&r->rid, zframe_data (rid), 8);
        memcpy (&r->index, zframe_data (idx), 8);
        r->key = zframe_dup (zmsg_next (msg));
        zlistx_add_end (self->reads, r);
        s_reads_release (self);
    } else if (streq (verb, "SNAPSHOT_WANTED"))
        s_snapshot (self);
    else
        assert (false); // our own API: no other command
    zstr_free (&verb);
}

// Opens the state machine, restoring the stored Raft snapshot if it is ahead of the data (a
// machine crash lost KV commits the log was compacted past: zkv_kv.h, "Boot").
static int
s_boot (s_applier_t *self)
{
    zkv_node_t *node = self->node;
    self->store = zkv_kvstore_ldb_new (zkv_lockstore_inner (node->logstore));
    if (!self->store)
        return ZKV_EINVAL;
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    limits.max_key_bytes = (size_t)zkv_config_max_key_bytes (node->config);
    limits.max_value_bytes = (size_t)zkv_config_max_value_bytes (node->config);
    int rc = 0;
    self->kv = zkv_kv_new (self->store, self->group, (uint32_t)zkv_config_shards (node->config),
                           &limits, &rc);
    if (!self->kv)
        return rc ? rc : ZKV_EINVAL;
    zkv_logstore_state_t st;
    rc = zkv_logstore_load (node->logstore, self->group, &st);
    if (rc != 0)
        return rc;
    if (st.snapshot.index > zkv_kv_applied (self->kv))
        rc = zkv_kv_snapshot_restore (self->kv, st.snapshot_data.data, st.snapshot_data.len);
    zkv_logstore_state_free (&st);
    if (rc != 0)
        return rc;
    zkv_node_status_set_applied (node, self->group, zkv_kv_applied (self->kv));
    return 0;
}

void
zkv_applier_actor (zsock_t *pipe, void *args)
{
    zkv_group_args_t *ga = (zkv_group_args_t *)args;
    s_applier_t self_ = {.node = ga->node, .group = ga->group};
    s_applier_t *self = &self_;
    self->reads = zlistx_new ();
    int rc = s_boot (self);
    if (rc != 0) {
        zsys_error ("zkvd %" PRIu64 ": group %" PRIu64 ": cannot open the KV state: %s",
                    self->node->id, self->group, zkv_strerror (rc));
        self->node->start_rc = -1;
        zsock_signal (pipe, 0); // zactor_new waits for it, whatever its status
        goto done;
    }
    self->in = zkv_actors_pull (self->node, "apply-in", self->group);
    self->front = zkv_actors_push (self->node, "front-in", UINT64_MAX);
    self->group_in = zkv_actors_push (self->node, "group-in", self->group);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self->in, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, -1);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            assert (term); // our own API
            break;
        }
        for (int i = 0; i < 1024 && (zsock_events (self->in) & ZMQ_POLLIN); i++) {
            zmsg_t *msg = zmsg_recv (self->in);
            if (!msg)
                break;
            s_input (self, msg);
            zmsg_destroy (&msg);
        }
    }
    zpoller_destroy (&poller);
done:
    for (s_read_t *r = (s_read_t *)zlistx_first (self->reads); r;
         r = (s_read_t *)zlistx_next (self->reads)) {
        zframe_destroy (&r->key);
        free (r);
    }
    zlistx_destroy (&self->reads);
    zkv_kv_destroy (&self->kv);
    zkv_kvstore_destroy (&self->store);
    zsock_destroy (&self->group_in);
    zsock_destroy (&self->front);
    zsock_destroy (&self->in);
}
