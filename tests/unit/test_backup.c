// Backups: the file format and every check that refuses a file (cluster/zkv_backup.h), a
// group's save through its replica (cluster/zkv_replica_saves.c), and the restore into an
// empty node (cluster/zkv_restore.h), the controller's new endpoints included.
#include "zkv_test.h"
#include "zkv_bytes_order.h"

#include "zkv_backup.h"
#include "zkv_crc32c.h"
#include "zkv_ctrl_sm.h"
#include "zkv_kv.h"
#include "zkv_kv_sm.h"
#include "zkv_kvstores.h"
#include "zkv_memstore.h"
#include "zkv_replica.h"
#include "zkv_restore.h"

#include <assert.h>
#include <stdbool.h>

// ---------------------------------------------------------------------------------------------
// A file in memory

typedef struct {
    uint8_t *data;
    size_t len;
} s_file_t;

static void
s_file_add (s_file_t *f, const void *p, size_t n)
{
    f->data = realloc (f->data, f->len + n + 1);
    assert (f->data);
    memcpy (f->data + f->len, p, n);
    f->len += n;
}

static int
s_file_read (void *arg, uint64_t offset, uint8_t *buf, size_t len)
{
    s_file_t *f = arg;
    if (offset > f->len || f->len - offset < len)
        return ZKV_EIO;
    memcpy (buf, f->data + offset, len);
    return 0;
}

static zkv_backup_t *
s_open (s_file_t *f, int *err, char *why, size_t whylen)
{
    return zkv_backup_open (s_file_read, f, f->len, err, why, whylen);
}

// The cluster every file below is of: the controller and groups 1 and 2 on nodes 1..3, 8
// shards dealt to groups 1 and 2 in turn, in configuration 4.
static const uint64_t s_ids[] = {0, 1, 2}, s_sizes[] = {3, 3, 3};
static const uint64_t s_members[] = {1, 2, 3, 1, 2, 3, 1, 2, 3};
static const uint64_t s_map[] = {1, 2, 1, 2, 1, 2, 1, 2};

static zkv_backup_shape_t
s_shape (void)
{
    return (zkv_backup_shape_t){.nshards = 8,
                                .config = 4,
                                .shard_groups = s_map,
                                .n_groups = 3,
                                .group_ids = s_ids,
                                .group_sizes = s_sizes,
                                .members = s_members};
}

// The streams: group 0 one chunk, group 1 three, group 2 one empty last chunk after one.
static const char *s_chunks[3][3] = {
    {"controller state", NULL, NULL}, {"alpha", "beta", "gamma-gamma"}, {"z", "", NULL}};

// A sound file of s_shape with s_chunks.
static void
s_make (s_file_t *f)
{
    memset (f, 0, sizeof *f);
    zkv_backup_shape_t shape = s_shape ();
    int err = 0;
    zkv_backup_writer_t *w = zkv_backup_writer_new (&shape, 1700000000000, &err);
    assert (w && err == 0);
    uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES] = {0};
    s_file_add (f, prelude, sizeof prelude);
    for (size_t g = 0; g < 3; g++) {
        int rc = zkv_backup_writer_group (w, s_ids[g], g == 0 ? "controller" : "kv", 10 + g, 2,
                                          g == 0 ? 0 : 4);
        assert (rc == 0);
        uint64_t off = 0;
        for (size_t c = 0; c < 3 && s_chunks[g][c]; c++) {
            size_t len = strlen (s_chunks[g][c]);
            bool done = c == 2 || !s_chunks[g][c + 1];
            zkv_bytes_t rec = {0};
            rc = zkv_backup_writer_chunk (w, off, (const uint8_t *)s_chunks[g][c], len, done, &rec);
            assert (rc == 0);
            s_file_add (f, rec.data, rec.len);
            zkv_bytes_free (&rec);
            off += len;
        }
    }
    zkv_bytes_t header = {0};
    int rc = zkv_backup_writer_finish (w, &header, prelude);
    assert (rc == 0);
    s_file_add (f, header.data, header.len);
    memcpy (f->data, prelude, sizeof prelude);
    zkv_bytes_free (&header);
    zkv_backup_writer_destroy (&w);
}

typedef struct {
    char got[256];
    size_t len;
    uint64_t next;
    int calls;
    bool done;
} s_collect_t;

static int
s_collect (void *arg, uint64_t offset, const uint8_t *data, size_t len, bool done)
{
    s_collect_t *c = arg;
    if (offset != c->next || c->len + len >= sizeof c->got || c->done)
        return -999;
    if (len)
        memcpy (c->got + c->len, data, len);
    c->len += len;
    c->next += len;
    c->calls++;
    c->done = done;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// The file

static void
test_backup_round_trip (void)
{
    s_file_t f;
    s_make (&f);
    char why[512] = "";
    int err = -1;
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
    CHECK (b);
    CHECK_EQ_U64 (err, 0);
    CHECK (memcmp (f.data, ZKV_BACKUP_MAGIC, 8) == 0);
    const zkv_backup_header_t *h = zkv_backup_header (b);
    CHECK_EQ_U64 (h->format, ZKV_BACKUP_FORMAT);
    CHECK_EQ_U64 (h->nshards, 8);
    CHECK_EQ_U64 (h->config, 4);
    CHECK_EQ_U64 (h->created_ms, 1700000000000);
    CHECK_EQ_U64 (h->group_ids.count, 3);
    CHECK_EQ_U64 (h->indexes.items[2], 12);
    CHECK_EQ_U64 (h->terms.items[1], 2);
    CHECK_EQ_U64 (h->configs.items[1], 4);
    CHECK_EQ_U64 (h->chunks.items[1], 3);
    CHECK_EQ_U64 (h->chunks.items[2], 2);
    CHECK_EQ_U64 (h->sizes.items[1], strlen ("alphabetagamma-gamma"));
    CHECK_EQ_U64 (h->offsets.items[0], ZKV_BACKUP_PRELUDE_BYTES);
    CHECK (h->machines.len == strlen ("controller\nkv\nkv") &&
           memcmp (h->machines.data, "controller\nkv\nkv", h->machines.len) == 0);
    CHECK_EQ_U64 (h->shard_groups.items[3], 2);
    CHECK_EQ_U64 (zkv_backup_slot (b, 2), 2);
    CHECK (zkv_backup_slot (b, 7) < 0);
    s_collect_t c = {0};
    CHECK_EQ_U64 (zkv_backup_each_chunk (b, 1, s_collect, &c), 0);
    CHECK (c.done && c.calls == 3 && c.len == 20 &&
           memcmp (c.got, "alphabetagamma-gamma", 20) == 0);
    c = (s_collect_t){0};
    CHECK_EQ_U64 (zkv_backup_each_chunk (b, 2, s_collect, &c), 0);
    CHECK (c.done && c.calls == 2 && c.len == 1 && c.got[0] == 'z');
    CHECK_EQ_U64 (zkv_backup_each_chunk (b, 9, s_collect, &c), (uint64_t)ZKV_ENOTFOUND);
    zkv_backup_destroy (&b);
    CHECK (b == NULL);
    free (f.data);
}

// Every byte of the file changed, every length it could be cut to, a byte more: refused, and
// said why.
static void
test_backup_refuses_damage (void)
{
    s_file_t f;
    s_make (&f);
    for (size_t i = 0; i < f.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            f.data[i] ^= (uint8_t)(1u << bit);
            char why[512] = "";
            int err = 0;
            zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
            f.data[i] ^= (uint8_t)(1u << bit);
            if (b)
                fprintf (stderr, "byte %zu bit %d: a damaged file opened\n", i, bit);
            CHECK (!b);
            CHECK (err == ZKV_ECORRUPT || err == ZKV_EPROTO || err == ZKV_EVERSION);
            CHECK (why[0] != 0);
        }
    }
    size_t full = f.len;
    for (size_t len = 0; len < full; len++) {
        f.len = len;
        char why[512] = "";
        int err = 0;
        zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
        CHECK (!b);
        CHECK (why[0] != 0);
    }
    f.len = full;
    s_file_add (&f, "x", 1);
    int err = 0;
    char why[512] = "";
    CHECK (!s_open (&f, &err, why, sizeof why));
    CHECK_EQ_U64 (err, (uint64_t)ZKV_ECORRUPT);
    free (f.data);
}

// The prelude's checksum made right again after an edit of its fields.
static void
s_reseal_prelude (s_file_t *f)
{
    zkv_put_be32 (f->data + 32, zkv_crc32c (0, f->data, 32));
}

// A file of another format or protocol, or none: ZKV_EVERSION / ZKV_EPROTO, saying which.
static void
test_backup_refuses_other_formats (void)
{
    s_file_t f;
    s_make (&f);
    char why[512];
    int err = 0;
    zkv_put_be32 (f.data + 8, ZKV_BACKUP_FORMAT + 1);
    s_reseal_prelude (&f);
    CHECK (!s_open (&f, &err, why, sizeof why));
    CHECK_EQ_U64 (err, (uint64_t)ZKV_EVERSION);
    CHECK (strstr (why, "format 2"));
    zkv_put_be32 (f.data + 8, ZKV_BACKUP_FORMAT);
    zkv_put_be32 (f.data + 12, ZKV_PROTOCOL_VERSION - 1);
    s_reseal_prelude (&f);
    CHECK (!s_open (&f, &err, why, sizeof why));
    CHECK_EQ_U64 (err, (uint64_t)ZKV_EVERSION);
    CHECK (strstr (why, "protocol"));
    zkv_put_be32 (f.data + 12, ZKV_PROTOCOL_VERSION);
    s_reseal_prelude (&f);
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why); // sealed right again: sound
    CHECK (b);
    zkv_backup_destroy (&b);
    free (f.data);
    s_file_t text = {0};
    s_file_add (&text, "cluster\n    name = local\n    shards = 16\n# more than 36 bytes\n", 62);
    CHECK (!s_open (&text, &err, why, sizeof why));
    CHECK_EQ_U64 (err, (uint64_t)ZKV_EPROTO);
    CHECK (strstr (why, "not a zkv backup"));
    free (text.data);
}

// A header that lies about the records, sealed with right checksums (as a bug would write it):
// refused as damaged.
static void
s_lying (void (*edit) (zkv_backup_header_t *h), const char *what)
{
    s_file_t f;
    s_make (&f);
    uint64_t hoff = 0;
    for (int i = 0; i < 8; i++)
        hoff = hoff << 8 | f.data[16 + i];
    zkv_msg_t m;
    int rc = zkv_msg_decode (f.data + hoff, f.len - hoff, &m);
    assert (rc == 0 && m.type == ZKV_MSG_BACKUP_HEADER);
    edit (&m.u.backup_header);
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = zkv_msg_encode (&m, &buf, &len);
    assert (rc == 0);
    zkv_msg_free (&m);
    f.len = hoff;
    s_file_add (&f, buf, len);
    free (buf);
    zkv_put_be32 (f.data + 24, (uint32_t)len);
    zkv_put_be32 (f.data + 28,
             zkv_crc32c (0, f.data + ZKV_BACKUP_PRELUDE_BYTES, f.len - ZKV_BACKUP_PRELUDE_BYTES));
    s_reseal_prelude (&f);
    char why[512] = "";
    int err = 0;
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
    if (b)
        fprintf (stderr, "a header that lies (%s) was taken\n", what);
    assert (!b);
    assert (err == ZKV_ECORRUPT && strstr (why, "damaged"));
    free (f.data);
}

static void
e_size (zkv_backup_header_t *h)
{
    h->sizes.items[1]++;
}
static void
e_chunks (zkv_backup_header_t *h)
{
    h->chunks.items[2] = 1;
}
static void
e_offset (zkv_backup_header_t *h)
{
    h->offsets.items[1] += 4;
}
static void
e_order (zkv_backup_header_t *h)
{
    h->group_ids.items[1] = 5;
}
static void
e_members (zkv_backup_header_t *h)
{
    h->group_sizes.items[0] = 2;
}
static void
e_machines (zkv_backup_header_t *h)
{
    h->machines.len = 13;
} // "controller\nkv"
static void
e_map (zkv_backup_header_t *h)
{
    h->shard_groups.items[0] = 9;
}
static void
e_format (zkv_backup_header_t *h)
{
    h->format = 7;
}
static void
e_index (zkv_backup_header_t *h)
{
    h->indexes.items[0] = 0;
}
static void
e_count (zkv_backup_header_t *h)
{
    h->terms.count = 2;
}

static void
test_backup_refuses_lying_header (void)
{
    s_lying (e_size, "a stream size");
    s_lying (e_chunks, "a chunk count");
    s_lying (e_offset, "an offset");
    s_lying (e_order, "group ids out of order");
    s_lying (e_members, "members that do not add up");
    s_lying (e_machines, "a machine missing");
    s_lying (e_map, "a shard of no group");
    s_lying (e_format, "another format in the header");
    s_lying (e_index, "a state at index 0");
    s_lying (e_count, "columns of other lengths");
}

// The writer takes the groups in the shape's order, each stream contiguous and ended.
static void
test_backup_writer_refuses (void)
{
    zkv_backup_shape_t shape = s_shape ();
    int err = 0;
    zkv_backup_writer_t *w = zkv_backup_writer_new (&shape, 1, &err);
    CHECK (w);
    zkv_bytes_t rec = {0}, header = {0};
    uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES];
    CHECK_EQ_U64 (zkv_backup_writer_chunk (w, 0, (const uint8_t *)"x", 1, true, &rec),
                  (uint64_t)ZKV_EINVAL); // no group begun
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 1, "kv", 5, 1, 0), (uint64_t)ZKV_EINVAL); // 0 first
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 0, "bad\nname", 5, 1, 0), (uint64_t)ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 0, "controller", 0, 1, 0), (uint64_t)ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 0, "controller", 5, 1, 0), 0);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 1, "kv", 5, 1, 0), (uint64_t)ZKV_EINVAL); // open
    CHECK_EQ_U64 (zkv_backup_writer_chunk (w, 3, (const uint8_t *)"x", 1, false, &rec),
                  (uint64_t)ZKV_EINVAL); // not at the stream's end
    CHECK_EQ_U64 (zkv_backup_writer_chunk (w, 0, (const uint8_t *)"x", 1, true, &rec), 0);
    zkv_bytes_free (&rec);
    CHECK_EQ_U64 (zkv_backup_writer_finish (w, &header, prelude), (uint64_t)ZKV_EINVAL);
    zkv_backup_writer_destroy (&w);
    uint64_t bad_ids[] = {0, 2, 1};
    shape.group_ids = bad_ids;
    CHECK (!zkv_backup_writer_new (&shape, 1, &err));
    CHECK_EQ_U64 (err, (uint64_t)ZKV_EINVAL);
    shape = s_shape ();
    shape.n_groups = 0;
    CHECK (!zkv_backup_writer_new (&shape, 1, &err));
}

// The shape against a config file's cluster: shards, groups, members and machines must match;
// endpoints and keys need not.
static void
test_backup_shape (void)
{
    s_file_t f;
    s_make (&f);
    int err = 0;
    char why[512] = "";
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
    CHECK (b);
    const char *machines[] = {"controller", "kv", "kv"};
    zkv_routing_t *r = zkv_routing_new (1, 8, s_ids, s_sizes, s_members, 3);
    zkv_routing_set_node (r, 1, "tcp://10.0.0.1:1", "tcp://10.0.0.1:2", NULL);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, machines, why, sizeof why), 0);
    zkv_routing_destroy (&r);

    r = zkv_routing_new (1, 16, s_ids, s_sizes, s_members, 3);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, machines, why, sizeof why), (uint64_t)ZKV_EINVAL);
    CHECK (strstr (why, "8 shards") && strstr (why, "16"));
    zkv_routing_destroy (&r);

    r = zkv_routing_new (1, 8, s_ids, s_sizes, s_members, 2);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, machines, why, sizeof why), (uint64_t)ZKV_EINVAL);
    CHECK (strstr (why, "3 groups"));
    zkv_routing_destroy (&r);

    uint64_t other_ids[] = {0, 1, 3};
    r = zkv_routing_new (1, 8, other_ids, s_sizes, s_members, 3);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, machines, why, sizeof why), (uint64_t)ZKV_EINVAL);
    CHECK (strstr (why, "group 2"));
    zkv_routing_destroy (&r);

    uint64_t other_members[] = {1, 2, 3, 1, 2, 4, 1, 2, 3};
    r = zkv_routing_new (1, 8, s_ids, s_sizes, other_members, 3);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, machines, why, sizeof why), (uint64_t)ZKV_EINVAL);
    CHECK (strstr (why, "group 1 had members 1, 2, 3") && strstr (why, "1, 2, 4"));
    zkv_routing_destroy (&r);

    const char *other_machines[] = {"controller", "kv", "hash"};
    r = zkv_routing_new (1, 8, s_ids, s_sizes, s_members, 3);
    CHECK_EQ_U64 (zkv_backup_check_shape (b, r, other_machines, why, sizeof why),
                  (uint64_t)ZKV_EINVAL);
    CHECK (strstr (why, "machine"));
    zkv_routing_destroy (&r);
    zkv_backup_destroy (&b);
    free (f.data);
}

// ---------------------------------------------------------------------------------------------
// A save through a replica, and the restore

// A one-member KV group's replica over memory stores, and what it answered.
typedef struct {
    zkv_logstore_t *log;
    zkv_kvstore_t *store;
    zkv_replica_t *rep;
    zkv_msg_t replies[64];
    size_t n;
    bool failed;
} s_node_t;

static void
h_send (void *a, const zkv_msg_t *m)
{
    (void)a, (void)m;
}
static int
h_sync (void *a)
{
    return zkv_logstore_sync (((s_node_t *)a)->log);
}
static void
h_state (void *a, const zkv_msg_t *m)
{
    (void)a, (void)m;
}
static void
h_event (void *a, const char *t, const zkv_msg_t *m)
{
    (void)a, (void)t, (void)m;
}
static void
h_fatal (void *a, const char *w, int rc)
{
    fprintf (stderr, "%s failed: %s\n", w, zkv_strerror (rc));
    ((s_node_t *)a)->failed = true;
}
static void
h_call (void *a, const zkv_msg_t *m)
{
    (void)a, (void)m;
}
static void
h_config (void *a, uint64_t g, const uint8_t *c, size_t l)
{
    (void)a, (void)g, (void)c, (void)l;
}

static void
h_reply (void *arg, const zkv_msg_t *m)
{
    s_node_t *nd = arg;
    assert (nd->n < 64);
    zkv_msg_clone (m, &nd->replies[nd->n++]);
}

static const zkv_replica_host_t s_host = {.send = h_send,
                                          .sync = h_sync,
                                          .reply = h_reply,
                                          .state = h_state,
                                          .event = h_event,
                                          .fatal = h_fatal,
                                          .call = h_call,
                                          .config = h_config};

static void
s_clear (s_node_t *nd)
{
    for (size_t i = 0; i < nd->n; i++)
        zkv_msg_free (&nd->replies[i]);
    nd->n = 0;
}

static const uint64_t s_one[] = {1};

static void
s_boot (s_node_t *nd, size_t max_saves)
{
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err = 0;
    zkv_sm_t *sm = zkv_kv_sm_new (nd->store, 1, 8, &limits, NULL, &err);
    assert (sm);
    zkv_replica_config_t cfg;
    zkv_replica_config_defaults (&cfg);
    cfg.raft.group = 1;
    cfg.raft.id = 1;
    cfg.raft.voters = s_one;
    cfg.raft.n_voters = 1;
    cfg.raft.snapshot_stream = true;
    cfg.raft.snapshot_chunk_bytes = 64; // several chunks for a few keys
    cfg.raft.seed = 7;
    cfg.max_saves = max_saves;
    nd->rep = zkv_replica_new (&cfg, nd->log, sm, &s_host, nd, &err);
    assert (nd->rep);
    for (int t = 0; t < 1000; t++) {
        zkv_raft_status_t st;
        zkv_raft_status (zkv_replica_raft (nd->rep), &st);
        if (st.role == ZKV_ROLE_LEADER)
            break;
        zkv_replica_tick (nd->rep);
        zkv_replica_run (nd->rep);
    }
}

static void
s_node_free (s_node_t *nd)
{
    s_clear (nd);
    zkv_replica_destroy (&nd->rep);
    zkv_kvstore_destroy (&nd->store);
    zkv_logstore_destroy (&nd->log);
}

// One request to the replica and its run: the answer (borrowed until s_clear), or NULL.
static const zkv_group_reply_t *
s_ask (s_node_t *nd, uint64_t op, const void *key, size_t key_len, const char *value)
{
    static uint64_t seq;
    zkv_group_request_t q = {.group = 1,
                             .handle = ++seq,
                             .client_id = 77,
                             .seq = seq,
                             .op = op,
                             .key = {(uint8_t *)key, key_len},
                             .value = {(uint8_t *)value, value ? strlen (value) : 0}};
    s_clear (nd);
    zkv_replica_request (nd->rep, &q, NULL, NULL);
    zkv_replica_run (nd->rep);
    return nd->n == 1 ? &nd->replies[0].u.group_reply : NULL;
}

// A save's request: the chunk answered into *out (owned), or its status.
static int
s_save (s_node_t *nd, uint64_t save_id, uint64_t index, uint64_t offset, zkv_msg_t *out)
{
    zkv_msg_t m = {.type = ZKV_MSG_SNAPSHOT_REQUEST};
    m.u.snapshot_request = (zkv_snapshot_request_t){
        .group = 1, .save_id = save_id, .index = index, .offset = offset, .max_bytes = 48};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = zkv_msg_encode (&m, &buf, &len);
    assert (rc == 0);
    const zkv_group_reply_t *r = s_ask (nd, ZKV_OP_SNAPSHOT, buf, len, NULL);
    free (buf);
    if (!r)
        return -1000;
    if (r->status)
        return -(int)r->status;
    rc = zkv_msg_decode (r->value.data, r->value.len, out);
    assert (rc == 0 && out->type == ZKV_MSG_SNAPSHOT_REPLY);
    return 0;
}

static void
s_put (s_node_t *nd, const char *key, const char *value)
{
    const zkv_group_reply_t *r = s_ask (nd, ZKV_OP_PUT, key, strlen (key), value);
    assert (r && r->status == 0);
    (void)r;
}

// A save of a group under writes: its stream is the state at the index its begin answered
// (writes after it are not in it), read in chunks that continue only with the save's id and
// index; the file it makes restores into an empty node that boots and serves that state.
static void
test_backup_save_and_restore (void)
{
    s_node_t a = {.log = zkv_memstore_new (), .store = zkv_kvstore_mem_new ()};
    s_boot (&a, 4);
    char key[32], val[32];
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "before-%d", i);
        snprintf (val, sizeof val, "v%d", i);
        s_put (&a, key, val);
    }
    zkv_msg_t ch;
    CHECK_EQ_U64 (s_save (&a, 0, 0, 0, &ch), 0);
    zkv_snapshot_reply_t *c = &ch.u.snapshot_reply;
    uint64_t id = c->save_id, index = c->index;
    CHECK (id != 0);
    CHECK (index >= 21); // the noop and the 20 puts
    CHECK (c->machine.len == 2 && memcmp (c->machine.data, "kv", 2) == 0);
    CHECK (!c->done); // 48 bytes at a time
    s_file_t f = {0};
    uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES] = {0};
    s_file_add (&f, prelude, sizeof prelude);
    uint64_t ids[] = {1}, sizes[] = {1}, map[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    zkv_backup_shape_t shape = {.nshards = 8,
                                .config = 0,
                                .shard_groups = map,
                                .n_groups = 1,
                                .group_ids = ids,
                                .group_sizes = sizes,
                                .members = s_one};
    int err = 0;
    zkv_backup_writer_t *w = zkv_backup_writer_new (&shape, 1, &err);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 1, "kv", index, c->term, c->config), 0);
    // Writes while the save goes on: not in it.
    for (int i = 0; i < 5; i++) {
        snprintf (key, sizeof key, "after-%d", i);
        s_put (&a, key, "late");
    }
    s_put (&a, "before-3", "overwritten");
    int chunks = 1;
    while (true) {
        zkv_bytes_t rec = {0};
        CHECK_EQ_U64 (
            zkv_backup_writer_chunk (w, c->offset, c->data.data, c->data.len, c->done, &rec), 0);
        s_file_add (&f, rec.data, rec.len);
        zkv_bytes_free (&rec);
        uint64_t next = c->offset + c->data.len;
        bool done = c->done;
        zkv_msg_free (&ch);
        if (done)
            break;
        // Another index, or another id: no such save.
        CHECK_EQ_U64 (s_save (&a, id, index + 1, next, &ch), (uint64_t)ZKV_ENOTFOUND);
        CHECK_EQ_U64 (s_save (&a, id + 1, index, next, &ch), (uint64_t)ZKV_ENOTFOUND);
        CHECK_EQ_U64 (s_save (&a, id, index, next, &ch), 0);
        CHECK_EQ_U64 (c->save_id, id);
        CHECK_EQ_U64 (c->index, index);
        CHECK_EQ_U64 (c->offset, next);
        chunks++;
    }
    CHECK (chunks > 2);
    // Done: the save is gone.
    CHECK_EQ_U64 (s_save (&a, id, index, 0, &ch), (uint64_t)ZKV_ENOTFOUND);
    zkv_bytes_t header = {0};
    CHECK_EQ_U64 (zkv_backup_writer_finish (w, &header, prelude), 0);
    s_file_add (&f, header.data, header.len);
    memcpy (f.data, prelude, sizeof prelude);
    zkv_bytes_free (&header);
    zkv_backup_writer_destroy (&w);
    zkv_replica_counters_t rc;
    zkv_replica_counters (a.rep, &rc);
    CHECK_EQ_U64 (rc.saves_begun, 1);
    CHECK_EQ_U64 (rc.save_chunks, (uint64_t)chunks);

    // The restore, into an empty node.
    char why[512] = "";
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
    CHECK (b);
    s_node_t z = {.log = zkv_memstore_new (), .store = zkv_kvstore_mem_new ()};
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    zkv_sm_t *sm = zkv_kv_sm_new (z.store, 1, 8, &limits, NULL, &err);
    CHECK_EQ_U64 (zkv_restore_empty (z.log, 1, sm), 0);
    CHECK_EQ_U64 (zkv_restore_group (b, 1, z.log, sm, NULL, why, sizeof why), 0);
    CHECK_EQ_U64 (sm->ops->applied (sm->impl), index);
    CHECK_EQ_U64 (zkv_restore_empty (z.log, 1, sm), (uint64_t)ZKV_EINVAL); // holds data now
    zkv_logstore_state_t st;
    CHECK_EQ_U64 (zkv_logstore_load (z.log, 1, &st), 0);
    CHECK_EQ_U64 (st.snapshot.index, index);
    CHECK_EQ_U64 (st.n_entries, 0);
    CHECK (st.hard_state.term >= st.snapshot.term && st.hard_state.vote == 0);
    zkv_logstore_state_free (&st);
    zkv_sm_destroy (&sm);
    zkv_backup_destroy (&b);
    // It boots as a member whose log was compacted to the saved state, and serves it.
    s_boot (&z, 4);
    CHECK (!z.failed);
    for (int i = 0; i < 20; i++) {
        snprintf (key, sizeof key, "before-%d", i);
        snprintf (val, sizeof val, "v%d", i);
        const zkv_group_reply_t *r = s_ask (&z, ZKV_OP_GET, key, strlen (key), NULL);
        CHECK (r && r->status == 0);
        CHECK (r->value.len == strlen (val) && memcmp (r->value.data, val, r->value.len) == 0);
    }
    const zkv_group_reply_t *r = s_ask (&z, ZKV_OP_GET, "after-0", 7, NULL);
    CHECK (r && r->status == ZKV_ENOTFOUND_VALUE); // written after the save began
    s_put (&z, "after-restore", "yes");
    r = s_ask (&z, ZKV_OP_GET, "after-restore", 13, NULL);
    CHECK (r && r->value.len == 3);
    s_node_free (&z);
    s_node_free (&a);
    free (f.data);
}

// A save is refused by a replica that does not lead, past max_saves, and its view goes when
// nobody asks for a chunk for stream_idle_ms.
static void
test_backup_save_limits (void)
{
    s_node_t a = {.log = zkv_memstore_new (), .store = zkv_kvstore_mem_new ()};
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err = 0;
    zkv_replica_config_t cfg;
    zkv_replica_config_defaults (&cfg);
    // Not leading yet (no tick): "not leader".
    uint64_t voters[] = {1, 2, 3};
    cfg.raft.group = 1;
    cfg.raft.id = 1;
    cfg.raft.voters = voters;
    cfg.raft.n_voters = 3;
    cfg.raft.snapshot_stream = true;
    a.rep = zkv_replica_new (&cfg, a.log, zkv_kv_sm_new (a.store, 1, 8, &limits, NULL, &err),
                             &s_host, &a, &err);
    CHECK (a.rep);
    zkv_msg_t ch;
    CHECK_EQ_U64 (s_save (&a, 0, 0, 0, &ch), (uint64_t)ZKV_ENOTLEADER);
    zkv_replica_destroy (&a.rep);
    s_boot (&a, 1);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        s_put (&a, key, "some value");
    }
    CHECK_EQ_U64 (s_save (&a, 0, 0, 0, &ch), 0);
    uint64_t id = ch.u.snapshot_reply.save_id, index = ch.u.snapshot_reply.index;
    uint64_t next = ch.u.snapshot_reply.data.len;
    CHECK (!ch.u.snapshot_reply.done);
    zkv_msg_free (&ch);
    CHECK_EQ_U64 (s_save (&a, 0, 0, 0, &ch), (uint64_t)ZKV_EBUSY); // max_saves 1
    // The same chunk again (its answer was lost): the same bytes.
    zkv_msg_t again;
    CHECK_EQ_U64 (s_save (&a, id, index, 0, &again), 0);
    CHECK_EQ_U64 (again.u.snapshot_reply.data.len, next);
    zkv_msg_free (&again);
    for (int t = 0; t < 3001; t++) // stream_idle_ms (30 s) of 10 ms ticks
        zkv_replica_tick (a.rep);
    CHECK_EQ_U64 (s_save (&a, id, index, next, &ch), (uint64_t)ZKV_ENOTFOUND);
    zkv_replica_counters_t rc;
    zkv_replica_counters (a.rep, &rc);
    CHECK_EQ_U64 (rc.saves_busy, 1);
    CHECK_EQ_U64 (rc.saves_expired, 1);
    CHECK_EQ_U64 (s_save (&a, 0, 0, 0, &ch), 0); // room again
    zkv_msg_free (&ch);
    s_node_free (&a); // a save in progress goes with the replica (no leak)
}

// The controller's restore: its state, and after it in the log a Nodes entry (from the new
// config file) that, applied, makes the next configuration with the nodes' new endpoints and
// keys, groups and shards unchanged.
static void
test_backup_restore_controller (void)
{
    uint64_t ids[] = {0, 1}, sizes[] = {3, 3}, members[] = {1, 2, 3, 1, 2, 3};
    zkv_routing_t *old = zkv_routing_new (1, 8, ids, sizes, members, 2);
    zkv_routing_deal (old);
    for (uint64_t n = 1; n <= 3; n++) {
        char p[64], c[64];
        snprintf (p, sizeof p, "tcp://old:%d", (int)(100 + n));
        snprintf (c, sizeof c, "tcp://old:%d", (int)(200 + n));
        zkv_routing_set_node (old, n, p, c, "-");
    }
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    int err = 0;
    zkv_sm_t *sm = zkv_ctrl_sm_new (store, 0, old, &err);
    zkv_snapshot_meta_t none = {0, 0};
    CHECK_EQ_U64 (sm->ops->boot (sm->impl, &none, NULL, 0), 1);
    // A move makes configuration 2 (stored, with the old endpoints).
    zkv_msg_t mv = {.type = ZKV_MSG_CTRL_MOVE};
    mv.u.ctrl_move = (zkv_ctrl_move_t){.shard = 0, .group = 1};
    uint8_t *val = NULL, *cmd = NULL;
    size_t val_len = 0, cmd_len = 0;
    CHECK_EQ_U64 (zkv_msg_encode (&mv, &val, &val_len), 0);
    zkv_sm_request_t q = {.client_id = 5,
                          .seq = 1,
                          .op = ZKV_OP_MOVE,
                          .key = (const uint8_t *)"k",
                          .key_len = 1,
                          .value = val,
                          .value_len = val_len};
    zkv_sm_answer_t ans = {0};
    CHECK_EQ_U64 (sm->ops->prepare (sm->impl, &q, &cmd, &cmd_len, &ans), ZKV_SM_PROPOSE);
    free (val);
    zkv_entry_t e = {.term = 3, .index = 1, .type = ZKV_ENTRY_NORMAL, .data = {cmd, cmd_len}};
    zkv_sm_results_t res = {0};
    CHECK_EQ_U64 (sm->ops->apply (sm->impl, &e, 1, &res), 0);
    zkv_sm_results_free (&res);
    free (cmd);
    // Its stream, as a save reads it, into a file.
    void *view = sm->ops->view_open (sm->impl, &err);
    void *reader = sm->ops->reader_open (sm->impl, view, &err);
    uint64_t map[8];
    zkv_routing_t *two = zkv_ctrl_sm_config (sm, UINT64_MAX, &err);
    CHECK (two && two->num == 2);
    memcpy (map, two->shard_group, sizeof map);
    zkv_backup_shape_t shape = {.nshards = 8,
                                .config = 2,
                                .shard_groups = map,
                                .n_groups = 2,
                                .group_ids = ids,
                                .group_sizes = sizes,
                                .members = members};
    zkv_backup_writer_t *w = zkv_backup_writer_new (&shape, 1, &err);
    s_file_t f = {0};
    uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES] = {0};
    s_file_add (&f, prelude, sizeof prelude);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 0, "controller", 1, 3, 0), 0);
    uint64_t off = 0;
    for (bool done = false; !done;) {
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK_EQ_U64 (sm->ops->reader_read (sm->impl, reader, off, 1 << 20, &buf, &len, &done), 0);
        zkv_bytes_t rec = {0};
        CHECK_EQ_U64 (zkv_backup_writer_chunk (w, off, buf, len, done, &rec), 0);
        s_file_add (&f, rec.data, rec.len);
        zkv_bytes_free (&rec);
        free (buf);
        off += len;
    }
    sm->ops->reader_close (sm->impl, reader);
    sm->ops->view_close (sm->impl, view);
    CHECK_EQ_U64 (zkv_backup_writer_group (w, 1, "kv", 9, 3, 2), 0);
    zkv_bytes_t rec = {0}, header = {0};
    CHECK_EQ_U64 (zkv_backup_writer_chunk (w, 0, (const uint8_t *)"-", 1, true, &rec), 0);
    s_file_add (&f, rec.data, rec.len);
    zkv_bytes_free (&rec);
    CHECK_EQ_U64 (zkv_backup_writer_finish (w, &header, prelude), 0);
    s_file_add (&f, header.data, header.len);
    memcpy (f.data, prelude, sizeof prelude);
    zkv_bytes_free (&header);
    zkv_backup_writer_destroy (&w);
    zkv_sm_destroy (&sm);
    zkv_kvstore_destroy (&store);

    // The new cluster: the same nodes elsewhere, with keys.
    zkv_routing_t *now = zkv_routing_new (1, 8, ids, sizes, members, 2);
    zkv_routing_deal (now);
    const char *key = "rq:rqHGdP]mH>b&kqw=!vT@qz5.F[yVyO7Hb>E1y"; // 40 characters of Z85
    for (uint64_t n = 1; n <= 3; n++) {
        char p[64], c[64];
        snprintf (p, sizeof p, "tcp://new:%d", (int)(300 + n));
        snprintf (c, sizeof c, "tcp://new:%d", (int)(400 + n));
        CHECK_EQ_U64 (zkv_routing_set_node (now, n, p, c, key), 0);
    }
    char why[512] = "";
    zkv_backup_t *b = s_open (&f, &err, why, sizeof why);
    CHECK (b);
    zkv_logstore_t *log = zkv_memstore_new ();
    store = zkv_kvstore_mem_new ();
    sm = zkv_ctrl_sm_new (store, 0, now, &err);
    CHECK_EQ_U64 (zkv_restore_empty (log, 0, sm), 0);
    CHECK_EQ_U64 (zkv_restore_group (b, 0, log, sm, now, why, sizeof why), 0);
    zkv_backup_destroy (&b);
    zkv_logstore_state_t st;
    CHECK_EQ_U64 (zkv_logstore_load (log, 0, &st), 0);
    CHECK_EQ_U64 (st.snapshot.index, 1);
    CHECK_EQ_U64 (st.snapshot.term, 3);
    CHECK_EQ_U64 (st.n_entries, 1);
    CHECK_EQ_U64 (st.entries[0].index, 2);
    CHECK_EQ_U64 (st.entries[0].term,
                  zkv_restore_nodes_term (3, st.entries[0].data.data, st.entries[0].data.len));
    CHECK (st.entries[0].term > 3 && st.entries[0].term <= 3 + 65536);
    CHECK_EQ_U64 (st.hard_state.term, st.entries[0].term);
    // Still configuration 2 with the old endpoints, until the entry is applied.
    zkv_routing_t *r = zkv_ctrl_sm_config (sm, UINT64_MAX, &err);
    const char *client = NULL;
    CHECK (r && r->num == 2 && zkv_routing_node (r, 2, NULL, &client, NULL));
    CHECK (strcmp (client, "tcp://old:202") == 0);
    zkv_routing_destroy (&r);
    CHECK_EQ_U64 (sm->ops->apply (sm->impl, st.entries, 1, &res), 0);
    CHECK (res.count == 1 && res.items[0].answer.status == 0);
    zkv_sm_results_free (&res);
    zkv_logstore_state_free (&st);
    r = zkv_ctrl_sm_config (sm, UINT64_MAX, &err);
    const char *peer = NULL, *k = NULL;
    CHECK (r && r->num == 3);
    CHECK (zkv_routing_node (r, 2, &peer, &client, &k));
    CHECK (strcmp (peer, "tcp://new:302") == 0 && strcmp (client, "tcp://new:402") == 0);
    CHECK (strcmp (k, key) == 0);
    CHECK (memcmp (r->shard_group, map, sizeof map) == 0); // the shards stay where they were
    CHECK_EQ_U64 (r->n_groups, 2);
    zkv_routing_destroy (&r);
    zkv_routing_destroy (&two);
    zkv_routing_destroy (&now);
    zkv_routing_destroy (&old);
    zkv_sm_destroy (&sm);
    zkv_kvstore_destroy (&store);
    zkv_logstore_destroy (&log);
    free (f.data);
}

// A node that holds any Raft state of the group is no restore's.
static void
test_backup_restore_refuses_data (void)
{
    zkv_logstore_t *log = zkv_memstore_new ();
    zkv_kvstore_t *store = zkv_kvstore_mem_new ();
    zkv_kv_limits_t limits;
    zkv_kv_limits_defaults (&limits);
    int err = 0;
    zkv_sm_t *sm = zkv_kv_sm_new (store, 1, 8, &limits, NULL, &err);
    CHECK_EQ_U64 (zkv_restore_empty (log, 1, sm), 0);
    zkv_hard_state_t hs = {.term = 1};
    CHECK_EQ_U64 (zkv_logstore_save_hard_state (log, 1, &hs), 0);
    CHECK_EQ_U64 (zkv_logstore_sync (log), 0);
    CHECK_EQ_U64 (zkv_restore_empty (log, 1, sm), (uint64_t)ZKV_EINVAL);
    CHECK_EQ_U64 (zkv_restore_empty (log, 2, sm), 0); // another group's is not
    zkv_sm_destroy (&sm);
    zkv_kvstore_destroy (&store);
    zkv_logstore_destroy (&log);
}

ZKV_TEST_MAIN (TEST (test_backup_round_trip) TEST (test_backup_refuses_damage)
                   TEST (test_backup_refuses_other_formats) TEST (test_backup_refuses_lying_header)
                       TEST (test_backup_writer_refuses) TEST (test_backup_shape)
                           TEST (test_backup_save_and_restore) TEST (test_backup_save_limits)
                               TEST (test_backup_restore_controller)
                                   TEST (test_backup_restore_refuses_data))
