// A backup file (zkv_backup.h): its writer, and its reader that checks everything first.
#include "zkv_backup.h"
#include "zkv_bytes_order.h"
#include "zkv_alloc.h"
#include "zkv_crc32c.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

// Bytes read at a time while checking the body's checksum.
#define S_SCAN_BYTES (1024u * 1024)

static uint64_t *
s_dup_u64s (const uint64_t *items, size_t n)
{
    uint64_t *p = zkv_calloc (n, sizeof (uint64_t));
    if (n)
        memcpy (p, items, n * sizeof (uint64_t));
    return p;
}

// ---------------------------------------------------------------------------------------------
// Writing

struct zkv_backup_writer {
    zkv_msg_t header;     // the header being filled (owns its arrays)
    size_t n_groups;      // groups of the shape
    size_t next;          // groups begun so far
    bool open;            // the current group's stream has not ended
    uint64_t stream;      // bytes of the current group's stream so far
    uint64_t offset;      // file offset of the next byte appended
    uint32_t crc;         // CRC-32C of the body so far
    zkv_bytes_t machines; // the machines' lines so far
};

static bool
s_shape_ok (const zkv_backup_shape_t *s)
{
    if (s->n_groups == 0 || s->n_groups > ZKV_BACKUP_MAX_GROUPS || s->nshards == 0 ||
        s->nshards > ZKV_MSG_MAX_U64S || !s->group_ids || !s->group_sizes || !s->shard_groups)
        return false;
    uint64_t n_members = 0;
    for (size_t i = 0; i < s->n_groups; i++) {
        if (i && s->group_ids[i] <= s->group_ids[i - 1])
            return false;
        if (s->group_sizes[i] == 0 || s->group_sizes[i] > ZKV_MSG_MAX_U64S)
            return false;
        n_members += s->group_sizes[i];
    }
    return n_members <= ZKV_MSG_MAX_U64S && (n_members == 0 || s->members);
}

zkv_backup_writer_t *
zkv_backup_writer_new (const zkv_backup_shape_t *shape, uint64_t created_ms, int *err)
{
    assert (shape && err);
    if (!s_shape_ok (shape)) {
        *err = ZKV_EINVAL;
        return NULL;
    }
    zkv_backup_writer_t *self = zkv_calloc (1, sizeof *self);
    size_t n = shape->n_groups, n_members = 0;
    for (size_t i = 0; i < n; i++)
        n_members += (size_t)shape->group_sizes[i];
    self->n_groups = n;
    self->offset = ZKV_BACKUP_PRELUDE_BYTES;
    self->header.type = ZKV_MSG_BACKUP_HEADER;
    zkv_backup_header_t *h = &self->header.u.backup_header;
    h->format = ZKV_BACKUP_FORMAT;
    h->created_ms = created_ms;
    h->nshards = shape->nshards;
    h->config = shape->config;
    h->shard_groups =
        (zkv_u64s_t){s_dup_u64s (shape->shard_groups, shape->nshards), shape->nshards};
    h->group_ids = (zkv_u64s_t){s_dup_u64s (shape->group_ids, n), n};
    h->group_sizes = (zkv_u64s_t){s_dup_u64s (shape->group_sizes, n), n};
    h->members = (zkv_u64s_t){s_dup_u64s (shape->members, n_members), n_members};
    zkv_u64s_t *cols[] = {&h->indexes, &h->terms, &h->configs, &h->offsets, &h->sizes, &h->chunks};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        *cols[c] = (zkv_u64s_t){zkv_calloc (n, sizeof (uint64_t)), n};
    *err = 0;
    return self;
}

void
zkv_backup_writer_destroy (zkv_backup_writer_t **self_p)
{
    zkv_backup_writer_t *self = *self_p;
    if (!self)
        return;
    zkv_msg_free (&self->header);
    zkv_bytes_free (&self->machines);
    free (self);
    *self_p = NULL;
}

// Appends len bytes of p to b (grows it).
static void
s_bytes_add (zkv_bytes_t *b, const void *p, size_t len)
{
    uint8_t *data = realloc (b->data, b->len + len + 1);
    if (!data)
        abort ();
    memcpy (data + b->len, p, len);
    b->data = data;
    b->len += len;
}

int
zkv_backup_writer_group (zkv_backup_writer_t *self, uint64_t group, const char *machine,
                         uint64_t index, uint64_t term, uint64_t config)
{
    assert (self && machine);
    zkv_backup_header_t *h = &self->header.u.backup_header;
    size_t len = strlen (machine);
    if (self->open || self->next == self->n_groups || h->group_ids.items[self->next] != group ||
        index == 0 || len == 0 || memchr (machine, '\n', len))
        return ZKV_EINVAL;
    size_t i = self->next++;
    h->indexes.items[i] = index;
    h->terms.items[i] = term;
    h->configs.items[i] = config;
    h->offsets.items[i] = self->offset;
    if (i)
        s_bytes_add (&self->machines, "\n", 1);
    s_bytes_add (&self->machines, machine, len);
    self->open = true;
    self->stream = 0;
    return 0;
}

int
zkv_backup_writer_chunk (zkv_backup_writer_t *self, uint64_t offset, const uint8_t *data,
                         size_t len, bool done, zkv_bytes_t *out)
{
    assert (self && (data || len == 0) && out);
    *out = (zkv_bytes_t){0};
    if (!self->open || offset != self->stream)
        return ZKV_EINVAL;
    size_t i = self->next - 1;
    zkv_backup_header_t *h = &self->header.u.backup_header;
    zkv_msg_t m = {.type = ZKV_MSG_BACKUP_CHUNK};
    m.u.backup_chunk = (zkv_backup_chunk_t){.group = h->group_ids.items[i],
                                            .offset = offset,
                                            .done = done,
                                            .data = {(uint8_t *)data, len}};
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = zkv_msg_encode (&m, &buf, &n);
    if (rc)
        return rc;
    if (n > ZKV_MSG_MAX_BYTES) {
        free (buf);
        return ZKV_ETOOBIG; // the reader refuses a record past the codec's limit
    }
    out->data = zkv_calloc (4 + n, 1);
    out->len = 4 + n;
    zkv_put_be32 (out->data, (uint32_t)n);
    memcpy (out->data + 4, buf, n);
    free (buf);
    self->crc = zkv_crc32c (self->crc, out->data, out->len);
    self->offset += out->len;
    self->stream += len;
    h->sizes.items[i] = self->stream;
    h->chunks.items[i]++;
    if (done)
        self->open = false;
    return 0;
}

int
zkv_backup_writer_finish (zkv_backup_writer_t *self, zkv_bytes_t *header,
                          uint8_t prelude[ZKV_BACKUP_PRELUDE_BYTES])
{
    assert (self && header && prelude);
    *header = (zkv_bytes_t){0};
    if (self->open || self->next != self->n_groups)
        return ZKV_EINVAL;
    zkv_backup_header_t *h = &self->header.u.backup_header;
    h->machines = self->machines; // lent for the encoding
    int rc = zkv_msg_encode (&self->header, &header->data, &header->len);
    h->machines = (zkv_bytes_t){0};
    if (rc)
        return rc;
    if (header->len > ZKV_MSG_MAX_BYTES || header->len > UINT32_MAX) {
        zkv_bytes_free (header);
        return ZKV_ETOOBIG;
    }
    uint32_t crc = zkv_crc32c (self->crc, header->data, header->len);
    memcpy (prelude, ZKV_BACKUP_MAGIC, 8);
    zkv_put_be32 (prelude + 8, ZKV_BACKUP_FORMAT);
    zkv_put_be32 (prelude + 12, ZKV_PROTOCOL_VERSION);
    zkv_put_be64 (prelude + 16, self->offset);
    zkv_put_be32 (prelude + 24, (uint32_t)header->len);
    zkv_put_be32 (prelude + 28, crc);
    zkv_put_be32 (prelude + 32, zkv_crc32c (0, prelude, 32));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading

struct zkv_backup {
    zkv_backup_read_fn *read; // the file
    void *arg;                //
    uint64_t size;            // its size
    uint64_t header_offset;   // where the header starts (the groups' records end)
    zkv_msg_t header;         // the decoded header
};

// Appends text to buf (of len bytes, used *at; always NUL-terminated).
static void
s_add (char *buf, size_t len, size_t *at, const char *text, size_t n)
{
    for (size_t i = 0; i < n && *at + 1 < len; i++)
        buf[(*at)++] = text[i];
    buf[*at] = 0;
}

// One sentence into why, from a format that knows %s, %.*s (int, then the string) and %U (a
// uint64_t, in decimal): the core formats its own messages without stdio.
static int
s_why (char *why, size_t len, int rc, const char *fmt, ...)
{
    if (!why || !len)
        return rc;
    size_t at = 0;
    why[0] = 0;
    va_list ap;
    va_start (ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            s_add (why, len, &at, p, 1);
            continue;
        }
        p++;
        if (*p == 's') {
            const char *s = va_arg (ap, const char *);
            s_add (why, len, &at, s, strlen (s));
        } else if (p[0] == '.' && p[1] == '*' && p[2] == 's') {
            int n = va_arg (ap, int);
            const char *s = va_arg (ap, const char *);
            s_add (why, len, &at, s, n > 0 ? (size_t)n : 0);
            p += 2;
        } else if (*p == 'U') {
            uint64_t v = va_arg (ap, uint64_t);
            char digits[24];
            size_t n = 0;
            do {
                digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            s_add (why, len, &at, digits + sizeof digits - n, n);
        } else {
            assert (!"s_why: a directive it does not know"); // our own formats
            break;
        }
    }
    va_end (ap);
    return rc;
}

// The prelude: magic, format, protocol, its own checksum, a header inside the file.
static int
s_prelude (zkv_backup_t *self, uint32_t *body_crc, uint32_t *header_len, char *why, size_t wl)
{
    uint8_t p[ZKV_BACKUP_PRELUDE_BYTES];
    if (self->size < sizeof p)
        return s_why (why, wl, ZKV_EPROTO, "not a zkv backup file (%U bytes: too short)",
                      self->size);
    int rc = self->read (self->arg, 0, p, sizeof p);
    if (rc)
        return s_why (why, wl, rc, "cannot read it: %s", zkv_strerror (rc));
    if (memcmp (p, ZKV_BACKUP_MAGIC, 8) != 0)
        return s_why (why, wl, ZKV_EPROTO,
                      "not a zkv backup file (it does not start with the backup magic)");
    if (zkv_get_be32 (p + 32) != zkv_crc32c (0, p, 32))
        return s_why (why, wl, ZKV_ECORRUPT, "damaged: the prelude's checksum does not match");
    uint32_t format = zkv_get_be32 (p + 8), protocol = zkv_get_be32 (p + 12);
    if (format != ZKV_BACKUP_FORMAT)
        return s_why (why, wl, ZKV_EVERSION,
                      "backup format %U, this zkv reads format %U: restore it with the zkv "
                      "version that wrote it",
                      (uint64_t)format, (uint64_t)ZKV_BACKUP_FORMAT);
    if (protocol != ZKV_PROTOCOL_VERSION)
        return s_why (why, wl, ZKV_EVERSION,
                      "written by a zkv of protocol %U, this one speaks protocol %U (the "
                      "saved states are in that version's format): restore it with the zkv "
                      "version that wrote it",
                      (uint64_t)protocol, (uint64_t)ZKV_PROTOCOL_VERSION);
    self->header_offset = zkv_get_be64 (p + 16);
    *header_len = zkv_get_be32 (p + 24);
    *body_crc = zkv_get_be32 (p + 28);
    if (self->header_offset < ZKV_BACKUP_PRELUDE_BYTES || self->header_offset > self->size ||
        self->size - self->header_offset != *header_len || *header_len == 0 ||
        *header_len > ZKV_MSG_MAX_BYTES)
        return s_why (why, wl, ZKV_ECORRUPT,
                      "damaged or cut short: the prelude places the header at %U (%U bytes) "
                      "in a file of %U bytes",
                      self->header_offset, (uint64_t)*header_len, self->size);
    return 0;
}

// The checksum of everything after the prelude.
static int
s_body_crc (zkv_backup_t *self, uint32_t want, char *why, size_t wl)
{
    uint8_t *buf = zkv_calloc (S_SCAN_BYTES, 1);
    uint32_t crc = 0;
    int rc = 0;
    for (uint64_t off = ZKV_BACKUP_PRELUDE_BYTES; off < self->size && rc == 0;) {
        size_t n = self->size - off < S_SCAN_BYTES ? (size_t)(self->size - off) : S_SCAN_BYTES;
        rc = self->read (self->arg, off, buf, n);
        crc = zkv_crc32c (crc, buf, n);
        off += n;
    }
    free (buf);
    if (rc)
        return s_why (why, wl, rc, "cannot read it: %s", zkv_strerror (rc));
    if (crc != want)
        return s_why (why, wl, ZKV_ECORRUPT,
                      "damaged: its checksum does not match (CRC-32C %U, the prelude says %U)",
                      (uint64_t)crc, (uint64_t)want);
    return 0;
}

// The n-th line of lines (NULL past the last), its length in *len.
static const uint8_t *
s_line (const zkv_bytes_t *lines, size_t n, size_t *len)
{
    size_t start = 0, at = 0;
    for (size_t i = 0; i <= lines->len; i++) {
        if (i == lines->len || lines->data[i] == '\n') {
            if (at == n) {
                *len = i - start;
                return lines->data + start;
            }
            at++;
            start = i + 1;
        }
    }
    return NULL;
}

// The header: decoded, and consistent in itself and with where the records are.
static int
s_header (zkv_backup_t *self, uint32_t len, char *why, size_t wl)
{
    uint8_t *buf = zkv_calloc (len, 1);
    int rc = self->read (self->arg, self->header_offset, buf, len);
    if (rc) {
        free (buf);
        return s_why (why, wl, rc, "cannot read it: %s", zkv_strerror (rc));
    }
    rc = zkv_msg_decode (buf, len, &self->header);
    free (buf);
    if (rc == 0 && self->header.type != ZKV_MSG_BACKUP_HEADER) {
        zkv_msg_free (&self->header);
        rc = ZKV_ETYPE;
    }
    if (rc)
        return s_why (why, wl, ZKV_ECORRUPT, "damaged: its header does not decode (%s)",
                      zkv_strerror (rc));
    const zkv_backup_header_t *h = &self->header.u.backup_header;
    size_t n = h->group_ids.count;
    const zkv_u64s_t *cols[] = {&h->group_sizes, &h->indexes, &h->terms, &h->configs,
                                &h->offsets,     &h->sizes,   &h->chunks};
    bool ok = h->format == ZKV_BACKUP_FORMAT && n > 0 && n <= ZKV_BACKUP_MAX_GROUPS &&
              h->nshards > 0 && h->nshards <= ZKV_MSG_MAX_U64S &&
              h->shard_groups.count == h->nshards;
    for (size_t c = 0; ok && c < sizeof cols / sizeof cols[0]; c++)
        ok = cols[c]->count == n;
    uint64_t members = 0;
    for (size_t i = 0; ok && i < n; i++) {
        size_t ml = 0;
        uint64_t end = i + 1 < n ? h->offsets.items[i + 1] : self->header_offset;
        ok = (i == 0 || h->group_ids.items[i] > h->group_ids.items[i - 1]) &&
             h->group_sizes.items[i] > 0 && h->group_sizes.items[i] <= ZKV_MSG_MAX_U64S &&
             h->indexes.items[i] > 0 && h->chunks.items[i] > 0 &&
             (i > 0 || h->offsets.items[0] == ZKV_BACKUP_PRELUDE_BYTES) &&
             h->offsets.items[i] < end && end <= self->header_offset &&
             s_line (&h->machines, i, &ml) && ml > 0;
        members += ok ? h->group_sizes.items[i] : 0;
    }
    size_t extra = 0;
    ok = ok && members == h->members.count && !s_line (&h->machines, n, &extra);
    for (size_t s = 0; ok && s < h->nshards; s++) {
        uint64_t g = h->shard_groups.items[s];
        bool known = g == 0;
        for (size_t i = 0; !known && i < n; i++)
            known = h->group_ids.items[i] == g;
        ok = known;
    }
    if (!ok)
        return s_why (why, wl, ZKV_ECORRUPT,
                      "damaged: its header does not describe a cluster (its groups, members, "
                      "shards or offsets do not add up)");
    return 0;
}

// Reads the record at *off (before end) into m (a backup_chunk); *off moves past it.
static int
s_record (zkv_backup_t *self, uint64_t *off, uint64_t end, zkv_msg_t *m)
{
    uint8_t lenb[4];
    if (end - *off < 4)
        return ZKV_ECORRUPT;
    int rc = self->read (self->arg, *off, lenb, 4);
    if (rc)
        return rc;
    uint32_t len = zkv_get_be32 (lenb);
    if (len == 0 || len > ZKV_MSG_MAX_BYTES || end - *off - 4 < len)
        return ZKV_ECORRUPT;
    uint8_t *buf = zkv_calloc (len, 1);
    rc = self->read (self->arg, *off + 4, buf, len);
    if (rc == 0) {
        rc = zkv_msg_decode (buf, len, m);
        if (rc == 0 && m->type != ZKV_MSG_BACKUP_CHUNK) {
            zkv_msg_free (m);
            rc = ZKV_ETYPE;
        }
        if (rc && rc != ZKV_EIO)
            rc = ZKV_ECORRUPT;
    }
    free (buf);
    *off += 4 + (uint64_t)len;
    return rc;
}

// Walks group slot i's records, checking them against the header; with fn, hands each chunk
// to it.
static int
s_walk (zkv_backup_t *self, size_t i, zkv_backup_chunk_fn *fn, void *arg)
{
    const zkv_backup_header_t *h = &self->header.u.backup_header;
    uint64_t off = h->offsets.items[i];
    uint64_t end = i + 1 < h->group_ids.count ? h->offsets.items[i + 1] : self->header_offset;
    uint64_t stream = 0, chunks = 0;
    bool done = false;
    while (off < end) {
        zkv_msg_t m;
        int rc = done ? ZKV_ECORRUPT : s_record (self, &off, end, &m);
        if (rc)
            return rc;
        const zkv_backup_chunk_t *c = &m.u.backup_chunk;
        if (c->group != h->group_ids.items[i] || c->offset != stream) {
            zkv_msg_free (&m);
            return ZKV_ECORRUPT;
        }
        if (fn)
            rc = fn (arg, c->offset, c->data.data, c->data.len, c->done);
        stream += c->data.len;
        chunks++;
        done = c->done;
        zkv_msg_free (&m);
        if (rc)
            return rc;
    }
    if (!done || stream != h->sizes.items[i] || chunks != h->chunks.items[i])
        return ZKV_ECORRUPT;
    return 0;
}

zkv_backup_t *
zkv_backup_open (zkv_backup_read_fn *read, void *arg, uint64_t size, int *err, char *why,
                 size_t whylen)
{
    assert (read && err);
    zkv_backup_t *self = zkv_calloc (1, sizeof *self);
    self->read = read;
    self->arg = arg;
    self->size = size;
    uint32_t body_crc = 0, header_len = 0;
    int rc = s_prelude (self, &body_crc, &header_len, why, whylen);
    if (rc == 0)
        rc = s_body_crc (self, body_crc, why, whylen);
    if (rc == 0)
        rc = s_header (self, header_len, why, whylen);
    const zkv_backup_header_t *h = &self->header.u.backup_header;
    for (size_t i = 0; rc == 0 && i < h->group_ids.count; i++) {
        rc = s_walk (self, i, NULL, NULL);
        if (rc == ZKV_ECORRUPT)
            s_why (why, whylen, rc,
                   "damaged: group %U's records do not match the header (a record that does "
                   "not decode, out of place, or a stream of another length)",
                   h->group_ids.items[i]);
        else if (rc)
            s_why (why, whylen, rc, "cannot read it: %s", zkv_strerror (rc));
    }
    if (rc) {
        *err = rc;
        zkv_backup_destroy (&self);
        return NULL;
    }
    *err = 0;
    return self;
}

void
zkv_backup_destroy (zkv_backup_t **self_p)
{
    zkv_backup_t *self = *self_p;
    if (!self)
        return;
    zkv_msg_free (&self->header);
    free (self);
    *self_p = NULL;
}

const zkv_backup_header_t *
zkv_backup_header (const zkv_backup_t *self)
{
    return &self->header.u.backup_header;
}

int
zkv_backup_slot (const zkv_backup_t *self, uint64_t group)
{
    const zkv_backup_header_t *h = &self->header.u.backup_header;
    for (size_t i = 0; i < h->group_ids.count; i++)
        if (h->group_ids.items[i] == group)
            return (int)i;
    return -1;
}

int
zkv_backup_each_chunk (zkv_backup_t *self, uint64_t group, zkv_backup_chunk_fn *fn, void *arg)
{
    assert (self && fn);
    int i = zkv_backup_slot (self, group);
    if (i < 0)
        return ZKV_ENOTFOUND;
    return s_walk (self, (size_t)i, fn, arg);
}

// Node ids as text ("1, 2, 3") into buf.
static void
s_members_text (const uint64_t *m, size_t n, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t k = 0; k < n; k++) {
        size_t at = strlen (buf);
        s_why (buf + at, len - at, 0, k ? ", %U" : "%U", m[k]);
    }
}

int
zkv_backup_check_shape (const zkv_backup_t *self, const zkv_routing_t *cluster,
                        const char *const *machines, char *why, size_t wl)
{
    assert (self && cluster && machines);
    const zkv_backup_header_t *h = &self->header.u.backup_header;
    if (h->nshards != cluster->nshards)
        return s_why (why, wl, ZKV_EINVAL,
                      "the backup is of a cluster of %U shards, the config file's has %U "
                      "(/cluster/shards must match)",
                      h->nshards, (uint64_t)cluster->nshards);
    if (h->group_ids.count != cluster->n_groups)
        return s_why (why, wl, ZKV_EINVAL,
                      "the backup holds %U groups, the config file declares %U (they must "
                      "declare the same groups)",
                      (uint64_t)h->group_ids.count, (uint64_t)cluster->n_groups);
    size_t first = 0;
    for (size_t i = 0; i < h->group_ids.count; i++) {
        uint64_t g = h->group_ids.items[i];
        size_t n = (size_t)h->group_sizes.items[i], ml = 0;
        const uint64_t *mine = h->members.items + first;
        first += n;
        if (cluster->group_ids[i] != g)
            return s_why (why, wl, ZKV_EINVAL,
                          "the backup holds group %U, which the config file does not declare", g);
        const uint8_t *machine = s_line (&h->machines, i, &ml);
        if (strlen (machines[i]) != ml || memcmp (machines[i], machine, ml) != 0)
            return s_why (why, wl, ZKV_EINVAL,
                          "group %U ran the %.*s machine, the config file gives it %s", g, (int)ml,
                          (const char *)machine, machines[i]);
        size_t cn = 0;
        const uint64_t *theirs = zkv_routing_members (cluster, g, &cn);
        bool same = cn == n;
        for (size_t k = 0; same && k < n; k++) {
            bool found = false;
            for (size_t j = 0; j < cn; j++)
                found = found || theirs[j] == mine[k];
            same = found;
        }
        if (!same) {
            char a[256], b[256];
            s_members_text (mine, n, a, sizeof a);
            s_members_text (theirs, cn, b, sizeof b);
            return s_why (why, wl, ZKV_EINVAL,
                          "group %U had members %s, the config file gives it %s (a restore "
                          "keeps node ids; their addresses and keys may change)",
                          g, a, b);
        }
    }
    return 0;
}
