// The KV state machine: applying committed entries, one store batch per call.
//
// Writes of the batch are not visible in the store until it commits, so an overlay map holds
// the values written so far in this call (an Append reads the Put two entries before it). The
// dedup table, the session state and the shard states change in memory as entries apply (a
// retry proposed twice is applied once, even in one batch; a session evicted by one entry is
// gone for the next); a failed commit reloads them from the store, so it leaves the state
// machine as it was.
#include "zkv_kv_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_kv_shards.h"

typedef struct zkv_kv_exec s_apply_t;

// The dedup record of a client on a shard.
static const zkv_kv_slot_t *
s_dedup_find (const s_apply_t *a, uint32_t shard, const uint8_t ck[8])
{
    return zkv_kv_map_find (&a->kv->dedup, shard, ck, 8);
}

// The current value of key and its revision: this batch's, else the store's (*found false and
// *revision 0 when absent).
static int
s_current (s_apply_t *a, uint32_t shard, const zkv_bytes_t *key, zkv_bytes_t *cur, bool *found,
           uint64_t *revision)
{
    *found = false;
    *revision = 0;
    const zkv_kv_slot_t *slot = zkv_kv_map_find (&a->data, shard, key->data, key->len);
    if (slot && slot->deleted)
        return 0; // deleted earlier in this batch
    if (slot) {
        zkv_bytes_set (cur, slot->value.data, slot->value.len);
    } else if (a->deleted && shard < a->kv->nshards && a->deleted[shard]) {
        return 0; // the shard was deleted in this batch: the store's committed value is gone
    } else {
        int rc = zkv_kvstore_get (a->kv->store, a->kv->sid, shard, key->data, key->len, cur);
        if (rc)
            return rc == ZKV_ENOTFOUND ? 0 : rc;
    }
    int rc = zkv_kv_value_unpack (cur, revision);
    if (rc) {
        zkv_bytes_free (cur);
        return rc; // a stored value without its revision: the store is not ours
    }
    *found = true;
    return 0;
}

// Writes key's stored value (revision and value, taken from *stored) to the batch and the
// overlay.
static void
s_write (s_apply_t *a, uint32_t shard, const zkv_bytes_t *key, zkv_bytes_t *stored)
{
    zkv_kvstore_put (a->kv->store, a->batch, a->kv->sid, shard, key->data, key->len, stored->data,
                     stored->len);
    zkv_kv_slot_t *slot = zkv_kv_map_upsert (&a->data, shard, key->data, key->len);
    zkv_bytes_free (&slot->value);
    slot->value = *stored; // takes the bytes
    slot->deleted = false;
    *stored = (zkv_bytes_t){0};
}

static void
s_delete (s_apply_t *a, uint32_t shard, const zkv_bytes_t *key)
{
    zkv_kvstore_del (a->kv->store, a->batch, a->kv->sid, shard, key->data, key->len);
    zkv_kv_slot_t *slot = zkv_kv_map_upsert (&a->data, shard, key->data, key->len);
    zkv_bytes_free (&slot->value);
    slot->deleted = true;
}

// The revision a write of the entry being applied gives a key ("Revisions" in zkv_kv.h).
static uint64_t
s_revision (const s_apply_t *a)
{
    uint64_t config = a->kv->shards ? zkv_kv_shards_config (a->kv)->num : 0;
    return config << ZKV_KV_REV_INDEX_BITS | a->index;
}

void
zkv_kv_apply_write (s_apply_t *a, uint32_t shard, const zkv_bytes_t *key, zkv_bytes_t *value)
{
    s_write (a, shard, key, value);
}

void
zkv_kv_apply_dedup (s_apply_t *a, const zkv_kvdedup_t *rec)
{
    zkv_kvstore_put_dedup (a->kv->store, a->batch, a->kv->sid, rec);
    uint8_t ck[8];
    zkv_kv_client_key (rec->client_id, ck);
    zkv_kv_slot_set (zkv_kv_map_upsert (&a->kv->dedup, rec->shard, ck, 8), rec);
}

int
zkv_kv_apply_delete_shard (s_apply_t *a, uint32_t shard)
{
    zkv_kv_t *kv = a->kv;
    int rc = zkv_kvstore_delete_shard (kv->store, a->batch, kv->sid, shard);
    if (rc)
        return rc;
    // The table forgets it now (a failed commit reloads it), and so does this batch's overlay:
    // later entries of the batch see the shard empty.
    zkv_kv_map_drop_shard (&kv->dedup, shard);
    zkv_kv_map_drop_shard (&a->data, shard);
    if (!a->deleted) {
        a->deleted = calloc (kv->nshards, sizeof (bool));
        if (!a->deleted)
            abort (); // out of memory aborts (STYLE.md)
    }
    a->deleted[shard] = true;
    return 0;
}

void
zkv_kv_set_exec (zkv_kv_t *self, zkv_kv_exec_fn *fn, void *arg)
{
    self->exec = fn;
    self->exec_arg = arg;
}

int
zkv_kv_exec_get (zkv_kv_exec_t *x, const uint8_t *key, size_t key_len, zkv_bytes_t *value,
                 bool *found)
{
    zkv_bytes_t k = {(uint8_t *)key, key_len};
    uint64_t revision;
    *value = (zkv_bytes_t){0};
    return s_current (x, x->shard, &k, value, found, &revision);
}

void
zkv_kv_exec_put (zkv_kv_exec_t *x, const uint8_t *key, size_t key_len, const uint8_t *value,
                 size_t value_len)
{
    zkv_bytes_t k = {(uint8_t *)key, key_len}, v;
    zkv_kv_value_pack (s_revision (x), value, value_len, &v);
    s_write (x, x->shard, &k, &v);
}

// True if the key's current state (found, value cur, revision) meets the command's condition.
static bool
s_cond_holds (const zkv_kv_command_t *cmd, bool found, const zkv_bytes_t *cur, uint64_t revision)
{
    if (cmd->cond == ZKV_COND_VALUE)
        return found && cur->len == cmd->expect.len &&
               (cur->len == 0 || memcmp (cur->data, cmd->expect.data, cur->len) == 0);
    if (cmd->cond == ZKV_COND_REVISION)
        return revision == cmd->expect_rev; // 0: the key must be absent
    return true;
}

// Executes a Put, Append or Delete whose client and seq passed the dedup check. Returns a
// store error (fatal for the call); the command's own outcome goes to r.
static int
s_execute (s_apply_t *a, uint32_t shard, const zkv_kv_command_t *cmd, zkv_kv_result_t *r)
{
    const zkv_kv_limits_t *limits = &a->kv->limits;
    bool kv_op = cmd->op == ZKV_OP_PUT || cmd->op == ZKV_OP_APPEND || cmd->op == ZKV_OP_DELETE;
    if (!kv_op && a->kv->exec) {
        a->shard = shard;
        return a->kv->exec (a->kv->exec_arg, a, cmd, r);
    }
    if (!kv_op) {
        r->status = ZKV_EINVAL;
        r->error = "unknown or unlogged operation";
        return 0;
    }
    r->status = zkv_kv_check (limits, cmd->op, cmd->key.len, cmd->value.len);
    if (r->status == 0 && cmd->op == ZKV_OP_DELETE && cmd->value.len)
        r->status = ZKV_EINVAL;
    if (r->status) {
        r->error = r->status == ZKV_ETOOBIG ? "key or value too large"
                   : cmd->key.len == 0      ? "empty key"
                                            : "a delete carries no value";
        return 0;
    }
    zkv_kv_cond_t cond = {.cond = cmd->cond,
                          .expect = cmd->expect.data,
                          .expect_len = cmd->expect.len,
                          .expect_rev = cmd->expect_rev};
    r->status = zkv_kv_cond_check (limits, cmd->op, &cond);
    if (r->status) {
        r->error = "invalid condition";
        return 0;
    }
    bool found = false;
    uint64_t revision = 0;
    zkv_bytes_t cur = {0};
    if (cmd->op == ZKV_OP_APPEND || cmd->cond || cmd->op == ZKV_OP_DELETE) {
        int rc = s_current (a, shard, &cmd->key, &cur, &found, &revision);
        if (rc)
            return rc;
    }
    if (!s_cond_holds (cmd, found, &cur, revision)) {
        zkv_bytes_free (&cur);
        r->status = ZKV_ECOMPARE;
        r->error = zkv_strerror (ZKV_ECOMPARE);
        r->revision = revision; // the current one: the client may retry from it
        return 0;
    }
    if (cmd->op == ZKV_OP_DELETE) {
        zkv_bytes_free (&cur);
        if (found) {
            s_delete (a, shard, &cmd->key);
            r->revision = s_revision (a);
        }
        return 0;
    }
    if (cmd->op == ZKV_OP_APPEND && cur.len + cmd->value.len > limits->max_value_bytes) {
        zkv_bytes_free (&cur);
        r->status = ZKV_ETOOBIG;
        r->error = "value would grow past the limit";
        return 0;
    }
    size_t keep = cmd->op == ZKV_OP_APPEND ? cur.len : 0;
    zkv_bytes_t stored;
    zkv_kv_value_pack (s_revision (a), cur.data, keep, &stored);
    zkv_bytes_free (&cur);
    // The new value after the kept prefix: stored was sized for the revision and prefix only.
    if (cmd->value.len) {
        uint8_t *grown = realloc (stored.data, stored.len + cmd->value.len);
        if (!grown)
            abort (); // out of memory aborts
        memcpy (grown + stored.len, cmd->value.data, cmd->value.len);
        stored.data = grown;
        stored.len += cmd->value.len;
    }
    r->revision = s_revision (a);
    s_write (a, shard, &cmd->key, &stored);
    return 0;
}

// Applies one NORMAL entry. Returns a store error; everything else is the entry's result.
static int
s_apply_command (s_apply_t *a, const zkv_entry_t *e, zkv_kv_result_t *r)
{
    zkv_msg_t msg;
    int rc = zkv_msg_decode (e->data.data, e->data.len, &msg);
    if (rc || msg.type != ZKV_MSG_KV_COMMAND) {
        // Not a command at all: nobody to answer, nothing to record.
        r->status = rc ? rc : ZKV_ETYPE;
        r->error = "entry is not a kv_command";
        zkv_msg_free (&msg);
        return 0;
    }
    const zkv_kv_command_t *cmd = &msg.u.kv_command;
    if (cmd->op == ZKV_OP_CONFIG || cmd->op == ZKV_OP_CHUNK || cmd->op == ZKV_OP_GC) {
        // The shard mover's own commands: no client, no dedup record, no time. They change
        // which shards are served (and so which sessions may be evicted), or add sessions of
        // another group's clock: the cap's cache is no longer a bound.
        r->op = cmd->op;
        a->kv->cap_wait_ms = 0;
        if (a->kv->shards)
            rc = zkv_kv_shards_apply (a, cmd, r);
        else {
            r->status = ZKV_EINVAL;
            r->error = "this group follows no configuration";
        }
        zkv_msg_free (&msg);
        return rc;
    }
    r->has_client = true;
    r->client_id = cmd->client_id;
    r->seq = cmd->seq;
    r->op = cmd->op;
    // The log time moves (and idle sessions go) whatever the command's fate: it was logged.
    zkv_kv_sessions_clock (a, cmd);
    r->log_ms = a->kv->log_ms;
    if (cmd->seq == 0) {
        r->status = ZKV_EINVAL;
        r->error = "sequence numbers start at 1";
        zkv_msg_free (&msg);
        return 0;
    }
    if (zkv_kv_check_shard (a->kv, cmd->key.data, cmd->key.len)) {
        // Logged under another configuration: the shard is not served here. Nothing applied,
        // nothing recorded: the client asks the group that serves it, with the same seq.
        r->status = ZKV_EWRONGGROUP;
        r->error = "wrong group: the key's shard is not served by this group";
        zkv_msg_free (&msg);
        return 0;
    }
    uint8_t ck[8];
    zkv_kv_client_key (cmd->client_id, ck);
    uint32_t shard = zkv_kv_shard_of (cmd->key.data, cmd->key.len, a->kv->nshards);
    const zkv_kv_slot_t *last = s_dedup_find (a, shard, ck);
    if (last && cmd->seq == last->seq) {
        r->duplicate = true; // a retry: the first answer, again
        r->status = -(int)last->status;
        r->error = r->status ? zkv_strerror (r->status) : NULL;
        if (a->kv->exec)
            zkv_bytes_set (&r->value, last->value.data, last->value.len);
        else
            r->revision = zkv_kv_dedup_revision (&last->value);
        zkv_msg_free (&msg);
        return 0;
    }
    if (!zkv_kv_seq_valid (last ? last->seq : 0, cmd->seq)) {
        // The same rule as the leader's check, on replicated state: every replica refuses it.
        r->status = ZKV_EINVAL;
        r->error = "invalid sequence number";
        zkv_msg_free (&msg);
        return 0;
    }
    if (last && cmd->seq < last->seq) {
        r->status = ZKV_KV_ESTALE;
        r->error = "stale request: a later one of this client was applied";
        zkv_msg_free (&msg);
        return 0;
    }
    if (!last && zkv_kv_sessions_admit (a, shard, cmd, r)) {
        // Its session there may have expired (a retry must not apply twice), or no room for a
        // new one: nothing applied, nothing recorded.
        zkv_msg_free (&msg);
        return 0;
    }
    rc = s_execute (a, shard, cmd, r);
    if (rc == 0) {
        // The outcome, failures included, is the answer every retry of this seq gets.
        // A KV write's answer is its revision (the value is empty); an executor's is its value.
        zkv_bytes_t answer = r->value;
        if (!a->kv->exec)
            zkv_kv_dedup_value (r->revision, &answer);
        zkv_kvdedup_t rec = {.shard = shard,
                             .client_id = cmd->client_id,
                             .seq = cmd->seq,
                             .status = (uint64_t)-r->status,
                             .last_ms = a->kv->log_ms,
                             .value = answer};
        zkv_kv_apply_dedup (a, &rec);
        if (!a->kv->exec)
            zkv_bytes_free (&answer);
    }
    zkv_msg_free (&msg);
    return rc;
}

int
zkv_kv_apply (zkv_kv_t *self, const zkv_entry_t *entries, size_t n, zkv_kv_results_t *results)
{
    assert (self && (entries || n == 0) && results);
    memset (results, 0, sizeof *results);
    size_t first = 0;
    while (first < n && entries[first].index <= self->applied)
        first++; // already applied (a redelivery after a restart)
    if (first == n)
        return 0;
    for (size_t i = first; i < n; i++)
        if (entries[i].index != self->applied + 1 + (i - first))
            return ZKV_EINVAL; // a gap or disorder: applying would diverge from the log

    s_apply_t a = {
        .kv = self, .batch = zkv_kvstore_batch_new (self->store), .log_ms = self->log_ms};
    results->items = calloc (n - first, sizeof (zkv_kv_result_t));
    if (!results->items)
        abort ();
    results->count = n - first;
    int rc = 0;
    for (size_t i = first; i < n && rc == 0; i++) {
        const zkv_entry_t *e = &entries[i];
        zkv_kv_result_t *r = &results->items[i - first];
        r->index = e->index;
        a.index = e->index;
        if (e->type == ZKV_ENTRY_NORMAL)
            rc = s_apply_command (&a, e, r);
        // a NOOP only advances the applied index
    }
    uint64_t last = entries[n - 1].index;
    if (rc == 0) {
        // The log time goes with the applied index, in the same batch.
        zkv_kv_sessions_flush (&a);
        zkv_kvstore_set_applied (self->store, a.batch, self->sid, last);
        rc = zkv_kvstore_commit (self->store, &a.batch);
    }
    zkv_kvstore_batch_destroy (self->store, &a.batch);
    if (rc == 0)
        self->applied = last;
    else {
        zkv_kv_results_free (results);
        // The store holds the state before the call: so does the state machine again (a
        // reload that fails too leaves the node to stop, as the first error does).
        zkv_kv_reload (self);
    }
    zkv_kv_map_free (&a.data);
    free (a.deleted);
    free (a.evicted_dirty);
    return rc;
}
