// zkv-hostile: sends malformed and hostile bytes to zkvd's client and peer ports, for a bounded
// time, from a seeded PRNG. It judges nothing itself: the caller checks the nodes survived.
//
//     zkv-hostile [--seed S] [--seconds T] [--flood N] tcp://HOST:PORT...
//     zkv-hostile --kind forged-chunk [--seed S] [--seconds T] [--shards N] CLIENT PEER...
//
// Each round, against each endpoint in turn, one of:
//   raw        a plain TCP connection that sends random bytes (no ZMTP greeting) and closes
//   zmtp-huge  a valid ZMTP 3.0 greeting, then a frame that declares 2^62 bytes
//   zmtp-trunc a greeting cut short at a random byte, then the connection dropped
//   random     a DEALER message of 1..4 frames of random bytes (empty frames among them)
//   truncated  a valid client_request / status_request / request_vote cut at a random byte
//   mutated    a valid message with 1..8 random bytes changed
//   huge-len   msgpack whose headers declare huge arrays, maps, strings and binaries
//   deep       msgpack arrays nested 100,000 deep
//   version    a valid message of every kind with protocol version 0, 2 or 2^64-1
//   bad-op     a valid-version client_request with an unknown op, or a key or value over the
//              configured limits (the node must answer with an error, or drop it)
//   flood      N plain TCP connections held open at once, then N DEALER sockets each sending
//              one random frame, all closed again
//
// --kind forged-chunk takes each node's client and peer endpoints, in pairs. Each round it asks
// every node for its status, learns group 1's leader and term, and sends every follower of that
// term install_snapshot chunks that claim to come from the leader (from = leader, to = the
// follower, the current term, last_index above the follower's commit) but whose data is no
// snapshot: random bytes, a stream header cut short, hostile msgpack, a header of another
// format / group / shard count, chunks at offsets no stream reached, and a valid header (staged
// by the follower) followed by a bad chunk at the right offset. Every forged stream is invalid
// by construction: each follower must reject it and change nothing (the caller checks). Exits 1
// if it never found a follower to send to.
// Prints what it sent, by kind, at the end. Exit 0 unless it could not run.
#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zkv_kv.h"
#include "zkv_msg.h"
#include "zkv_version.h"

typedef enum {
    S_RAW,
    S_ZMTP_HUGE,
    S_ZMTP_TRUNC,
    S_RANDOM,
    S_TRUNCATED,
    S_MUTATED,
    S_HUGE_LEN,
    S_DEEP,
    S_VERSION,
    S_BAD_OP,
    S_NKINDS
} s_kind_t;

static const char *s_kind_names[S_NKINDS] = {
    "raw",     "zmtp-huge", "zmtp-trunc", "random",  "truncated",
    "mutated", "huge-len",  "deep",       "version", "bad-op",
};

typedef struct {
    uint64_t rng;                // xorshift64* state
    uint64_t sent[S_NKINDS + 1]; // per kind; the last slot counts flood connections
    uint64_t refused;            // connects that failed (a node may be busy or down)
} s_state_t;

static uint64_t
s_rand (s_state_t *self)
{
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    return self->rng * 2685821657736338717ull;
}

static void
s_fill (s_state_t *self, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)s_rand (self);
}

// Parses tcp://A.B.C.D:PORT. Returns 0 or -1.
static int
s_parse_ep (const char *ep, struct sockaddr_in *sa)
{
    char host[64];
    unsigned port;
    if (sscanf (ep, "tcp://%63[^:]:%u", host, &port) != 2 || port == 0 || port > 65535)
        return -1;
    memset (sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons ((uint16_t)port);
    return inet_pton (AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

// A plain TCP connection with 1 s send/receive timeouts, or -1.
static int
s_tcp (s_state_t *self, const struct sockaddr_in *sa)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 1};
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect (fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        self->refused++;
        close (fd);
        return -1;
    }
    return fd;
}

static void
s_send_all (int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send (fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; // the node hung up on us: that is its right
        buf += n;
        len -= (size_t)n;
    }
}

// The 64-byte ZMTP 3.0 greeting of a NULL-mechanism client.
static void
s_greeting (uint8_t g[64])
{
    memset (g, 0, 64);
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3; // version 3.0
    memcpy (g + 12, "NULL", 4);
}

static void
s_raw (s_state_t *self, const struct sockaddr_in *sa, s_kind_t kind)
{
    int fd = s_tcp (self, sa);
    if (fd < 0)
        return;
    uint8_t buf[4096];
    if (kind == S_RAW) {
        size_t len = 1 + s_rand (self) % sizeof buf;
        s_fill (self, buf, len);
        s_send_all (fd, buf, len);
    } else {
        uint8_t g[64];
        s_greeting (g);
        if (kind == S_ZMTP_TRUNC)
            s_send_all (fd, g, 1 + s_rand (self) % 63);
        else {
            s_send_all (fd, g, 64);
            // A long frame (flag 0x02) whose 8-byte size is 2^62, then some of its "body".
            uint8_t frame[9 + 256] = {0x02, 0x40};
            s_fill (self, frame + 9, 256);
            s_send_all (fd, frame, sizeof frame);
            // Read whatever the node says (its greeting) so it sees ours, then hang up.
            (void)!recv (fd, buf, sizeof buf, MSG_DONTWAIT);
        }
    }
    close (fd);
}

// A valid message of one of a few kinds, encoded.
static void
s_valid (s_state_t *self, uint8_t **buf, size_t *len)
{
    zkv_msg_t m = {0};
    switch (s_rand (self) % 4) {
    case 0:
        m.type = ZKV_MSG_CLIENT_REQUEST;
        m.u.client_request.client_id = s_rand (self);
        m.u.client_request.seq = 1;
        m.u.client_request.op = ZKV_OP_GET;
        zkv_bytes_set (&m.u.client_request.key, "hostile-key", 11);
        break;
    case 1:
        m.type = ZKV_MSG_STATUS_REQUEST;
        m.u.status_request.nonce = s_rand (self);
        break;
    case 2:
        m.type = ZKV_MSG_REQUEST_VOTE;
        m.u.request_vote.group = 1;
        m.u.request_vote.from = 1 + s_rand (self) % 5;
        m.u.request_vote.to = 1 + s_rand (self) % 5;
        m.u.request_vote.term = UINT64_MAX / 2; // would depose any leader, if it got through
        break;
    default:
        m.type = ZKV_MSG_APPEND_ENTRIES;
        m.u.append_entries.group = 1;
        m.u.append_entries.from = 1 + s_rand (self) % 5;
        m.u.append_entries.term = UINT64_MAX / 2;
        m.u.append_entries.commit = UINT64_MAX;
        break;
    }
    int rc = zkv_msg_encode (&m, buf, len);
    assert (rc == 0);
    zkv_msg_free (&m);
}

// Where the version element starts in an encoding: after the array header.
static size_t
s_version_at (const uint8_t *buf)
{
    return (buf[0] & 0xf0) == 0x90 ? 1 : buf[0] == 0xdc ? 3 : 5;
}

// Builds the payload of one hostile DEALER message of the given kind into a new zmsg.
static zmsg_t *
s_payload (s_state_t *self, s_kind_t kind)
{
    zmsg_t *msg = zmsg_new ();
    uint8_t *buf = NULL;
    size_t len = 0;
    switch (kind) {
    case S_RANDOM: {
        size_t frames = 1 + s_rand (self) % 4;
        for (size_t f = 0; f < frames; f++) {
            uint8_t b[512];
            size_t n = s_rand (self) % 4 ? s_rand (self) % sizeof b : 0;
            s_fill (self, b, n);
            zmsg_addmem (msg, b, n);
        }
        return msg;
    }
    case S_TRUNCATED:
        s_valid (self, &buf, &len);
        len = s_rand (self) % len;
        break;
    case S_MUTATED: {
        s_valid (self, &buf, &len);
        size_t flips = 1 + s_rand (self) % 8;
        for (size_t i = 0; i < flips; i++)
            buf[s_rand (self) % len] = (uint8_t)s_rand (self);
        break;
    }
    case S_HUGE_LEN: {
        // [1, 20, 1, 1, 1, <declared huge>, ...] and a few whole-message headers.
        static const uint8_t heads[][12] = {
            {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x14},                         // array32 2^32-1
            {0x96, 0x01, 0x14, 0x01, 0x01, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xf0}, // bin32 ~4 GiB
            {0x96, 0x01, 0x14, 0x01, 0x01, 0x01, 0xdb, 0x7f, 0xff, 0xff, 0xff}, // str32 2 GiB
            {0xdf, 0xff, 0xff, 0xff, 0xff},                                     // map32
            {0x9f, 0x01, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xdd, 0xff}, // entries
            {0x96, 0x01, 0x14, 0x01, 0x01, 0x01, 0xc5, 0xff, 0xff},                   // bin16
        };
        size_t h = s_rand (self) % (sizeof heads / sizeof heads[0]);
        len = sizeof heads[h] + s_rand (self) % 64;
        buf = (uint8_t *)zmalloc (len);
        memcpy (buf, heads[h], sizeof heads[h]);
        s_fill (self, buf + sizeof heads[h], len - sizeof heads[h]);
        break;
    }
    case S_DEEP:
        len = 100000;
        buf = (uint8_t *)zmalloc (len);
        memset (buf, 0x91, len);
        break;
    case S_VERSION: {
        s_valid (self, &buf, &len);
        static const uint8_t v2[] = {0x02};
        static const uint8_t v0[] = {0x00};
        static const uint8_t vmax[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        const uint8_t *v[] = {v2, v0, vmax};
        const size_t vlen[] = {1, 1, 9};
        size_t pick = s_rand (self) % 3;
        size_t at = s_version_at (buf);
        assert (at < len && buf[at] == ZKV_PROTOCOL_VERSION);
        uint8_t *out = (uint8_t *)zmalloc (len - 1 + vlen[pick]);
        memcpy (out, buf, at);
        memcpy (out + at, v[pick], vlen[pick]);
        memcpy (out + at + vlen[pick], buf + at + 1, len - at - 1);
        free (buf);
        buf = out;
        len = len - 1 + vlen[pick];
        break;
    }
    case S_BAD_OP: {
        zkv_msg_t m = {.type = ZKV_MSG_CLIENT_REQUEST};
        zkv_client_request_t *r = &m.u.client_request;
        r->client_id = s_rand (self);
        r->seq = 1 + s_rand (self) % 3;
        switch (s_rand (self) % 3) {
        case 0:
            r->op = 4 + s_rand (self) % 1000; // no such op
            zkv_bytes_set (&r->key, "hostile-op", 10);
            break;
        case 1: { // a key over max_key_bytes (1 KiB by default)
            r->op = ZKV_OP_PUT;
            uint8_t key[4096];
            memset (key, 'k', sizeof key);
            zkv_bytes_set (&r->key, key, sizeof key);
            break;
        }
        default: { // a value over max_value_bytes (1 MiB by default)
            r->op = ZKV_OP_APPEND;
            zkv_bytes_set (&r->key, "hostile-big", 11);
            size_t n = 2u << 20;
            uint8_t *v = (uint8_t *)zmalloc (n);
            zkv_bytes_set (&r->value, v, n);
            free (v);
            break;
        }
        }
        int rc = zkv_msg_encode (&m, &buf, &len);
        assert (rc == 0);
        zkv_msg_free (&m);
        break;
    }
    default:
        assert (false);
    }
    // Clients may put an empty delimiter frame first; do so now and then.
    if (s_rand (self) % 2)
        zmsg_addmem (msg, "", 0);
    zmsg_addmem (msg, buf, len);
    free (buf);
    return msg;
}

static void
s_dealer (s_state_t *self, const char *ep, s_kind_t kind)
{
    zsock_t *s = zsock_new (ZMQ_DEALER);
    assert (s);
    zsock_set_linger (s, 200);
    zsock_set_sndtimeo (s, 200);
    zsock_set_rcvtimeo (s, 50);
    if (zsock_connect (s, "%s", ep) != 0) {
        zsock_destroy (&s);
        return;
    }
    for (int i = 0; i < 4; i++) {
        zmsg_t *msg = s_payload (self, kind);
        if (zmsg_send (&msg, s) != 0)
            zmsg_destroy (&msg);
    }
    // Take (and drop) an answer, if any, so replies do not pile up in the node.
    zmsg_t *reply = zmsg_recv (s);
    zmsg_destroy (&reply);
    zsock_destroy (&s);
}

static void
s_flood (s_state_t *self, const char *ep, const struct sockaddr_in *sa, size_t n)
{
    int *fds = (int *)zmalloc (n * sizeof (int));
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = s_tcp (self, sa);
        if (fd >= 0)
            fds[open++] = fd;
    }
    for (size_t i = 0; i < open; i++)
        close (fds[i]);
    free (fds);
    self->sent[S_NKINDS] += open;
    zsock_t **socks = (zsock_t **)zmalloc (n * sizeof (zsock_t *));
    for (size_t i = 0; i < n; i++) {
        socks[i] = zsock_new (ZMQ_DEALER);
        assert (socks[i]);
        zsock_set_linger (socks[i], 100);
        zsock_set_sndtimeo (socks[i], 0);
        zsock_connect (socks[i], "%s", ep);
        zmsg_t *msg = s_payload (self, S_RANDOM);
        if (zmsg_send (&msg, socks[i]) != 0)
            zmsg_destroy (&msg);
    }
    for (size_t i = 0; i < n; i++)
        zsock_destroy (&socks[i]);
    free (socks);
    self->sent[S_NKINDS] += n;
}

// ---------------------------------------------------------------------------------------------
// forged-chunk: install_snapshot chunks that look like the leader's, with data that is no snapshot

// zkv_role_t values (cluster/zkv_raft.h) as status_reply carries them.
#define S_ROLE_FOLLOWER 0
#define S_ROLE_LEADER   3
// The stream format zkvd writes: kv_snap_* records (cluster/zkv_kv.h).
#define S_STREAM_FORMAT ZKV_KV_SNAP_FORMAT

typedef enum {
    F_RANDOM,  // offset 0, random bytes
    F_CUT,     // offset 0, a valid stream header cut short
    F_HOSTILE, // offset 0, msgpack with huge declared sizes or deep nesting
    F_WRONG,   // offset 0, a whole header of another format, group or shard count, or applied 0
    F_LATE,    // an offset no stream reached
    F_STAGED,  // a valid header (the follower stages it), then a bad chunk at the next offset
    F_NKINDS
} s_forge_t;

static const char *s_forge_names[F_NKINDS] = {
    "random", "cut-header", "hostile-msgpack", "wrong-header", "late-offset", "staged-then-bad",
};

// Group 1 as one node sees it.
typedef struct {
    bool ok;         // the node answered and hosts group 1
    uint64_t node;   // its id
    uint64_t role;   // zkv_role_t
    uint64_t term;   // its current term
    uint64_t leader; // the leader it knows, 0 none
    uint64_t commit; // its commit index
} s_view_t;

typedef struct {
    uint64_t sent[F_NKINDS];
    uint64_t rounds;      // status rounds
    uint64_t no_leader;   // rounds without an agreed leader
    uint64_t targets;     // follower bursts sent
    uint64_t status_fail; // status requests without an answer
    uint64_t *reject;     // per node: chunks that reach its applier, which must reject them
    uint64_t *ids;        // per node: its id, once it answered a status (0 before)
} s_forge_stats_t;

// Asks the node at ep (its client port) for its status, within timeout_ms.
static void
s_status (s_state_t *self, const char *ep, int timeout_ms, s_view_t *v)
{
    memset (v, 0, sizeof *v);
    zsock_t *s = zsock_new (ZMQ_DEALER);
    assert (s);
    zsock_set_linger (s, 0);
    if (zsock_connect (s, "%s", ep) != 0) {
        zsock_destroy (&s);
        return;
    }
    zkv_msg_t req = {.type = ZKV_MSG_STATUS_REQUEST};
    uint64_t nonce = s_rand (self);
    req.u.status_request.nonce = nonce;
    uint8_t *buf;
    size_t len;
    int rc = zkv_msg_encode (&req, &buf, &len);
    assert (rc == 0);
    zsock_set_sndtimeo (s, timeout_ms);
    rc = zmq_send (zsock_resolve (s), buf, len, 0);
    free (buf);
    int64_t deadline = zclock_mono () + timeout_ms;
    zmq_pollitem_t item = {.socket = zsock_resolve (s), .events = ZMQ_POLLIN};
    while (rc >= 0 && zclock_mono () < deadline && !zsys_interrupted) {
        if (zmq_poll (&item, 1, (long)(deadline - zclock_mono ())) <= 0)
            continue;
        zmsg_t *reply = zmsg_recv (s);
        zframe_t *last = reply ? zmsg_last (reply) : NULL;
        zkv_msg_t m;
        if (last && zkv_msg_decode (zframe_data (last), zframe_size (last), &m) == 0) {
            const zkv_status_reply_t *r = &m.u.status_reply;
            bool mine = m.type == ZKV_MSG_STATUS_REPLY && r->nonce == nonce;
            for (size_t g = 0; mine && g < r->groups.count; g++)
                if (r->groups.items[g] == 1 && g < r->roles.count && g < r->terms.count &&
                    g < r->leaders.count && g < r->commits.count) {
                    *v = (s_view_t){true,
                                    r->node,
                                    r->roles.items[g],
                                    r->terms.items[g],
                                    r->leaders.items[g],
                                    r->commits.items[g]};
                }
            zkv_msg_free (&m);
            if (mine) {
                zmsg_destroy (&reply);
                break;
            }
        }
        zmsg_destroy (&reply);
    }
    zsock_destroy (&s);
}

// A stream's first record, kv_snap_header {format, group, shards, applied, n_dedup}, encoded
// by the message codec into p (at most 64 bytes).
static size_t
s_header (uint8_t *p, uint64_t format, uint64_t group, uint64_t shards, uint64_t applied,
          uint64_t n_dedup)
{
    zkv_msg_t m = {.type = ZKV_MSG_KV_SNAP_HEADER};
    m.u.kv_snap_header.format = format;
    m.u.kv_snap_header.group = group;
    m.u.kv_snap_header.nshards = shards;
    m.u.kv_snap_header.applied = applied;
    m.u.kv_snap_header.n_dedup = n_dedup;
    uint8_t *buf;
    size_t len;
    int rc = zkv_msg_encode (&m, &buf, &len);
    assert (rc == 0 && len <= 64);
    memcpy (p, buf, len);
    free (buf);
    return len;
}

// Sends one install_snapshot over s. Returns true if it was queued.
static bool
s_send_chunk (zsock_t *s, const zkv_install_snapshot_t *is)
{
    zkv_msg_t m = {.type = ZKV_MSG_INSTALL_SNAPSHOT};
    m.u.install_snapshot = *is;
    uint8_t *buf;
    size_t len;
    int rc = zkv_msg_encode (&m, &buf, &len);
    assert (rc == 0);
    // One frame: the peer ROUTER sees [routing id][payload], as from a real peer's DEALER.
    rc = zmq_send (zsock_resolve (s), buf, len, 0);
    free (buf);
    return rc >= 0;
}

// Random data that is no record: its first byte is never an array header a record starts with.
static size_t
s_junk (s_state_t *self, uint8_t *buf, size_t cap)
{
    size_t len = 1 + s_rand (self) % cap;
    s_fill (self, buf, len);
    if ((buf[0] & 0xf0) == 0x90 || buf[0] == 0xdc || buf[0] == 0xdd)
        buf[0] = 0xc1; // never used in msgpack
    return len;
}

// One forged chunk of the given kind, data into buf (cap bytes); sets offset and done.
static size_t
s_forge_data (s_state_t *self, s_forge_t kind, uint64_t shards, uint64_t last_index, uint8_t *buf,
              size_t cap, uint64_t *offset, bool *done)
{
    *offset = 0;
    *done = s_rand (self) % 2;
    size_t len = 0;
    switch (kind) {
    case F_RANDOM:
        return s_junk (self, buf, cap);
    case F_CUT:
        len = s_header (buf, S_STREAM_FORMAT, 1, shards, last_index, s_rand (self) % 4);
        return 1 + s_rand (self) % (len - 1);
    case F_HOSTILE:
        switch (s_rand (self) % 4) {
        case 0: // array32 of 2^32-1 elements, then little
            memcpy (buf, "\xdd\xff\xff\xff\xff\x01\x01", 7);
            return 7 + s_rand (self) % 32;
        case 1: // a valid header announcing 2^62 dedup records, then a record claiming ~4 GiB
            len = s_header (buf, S_STREAM_FORMAT, 1, shards, last_index, 1ull << 62);
            memcpy (buf + len, "\x97\x02\x51\x00\x01\x01\x00\xc6\xff\xff\xff\xf0", 12);
            len += 12;
            *done = true; // whatever the bytes, it ends before its announced records
            return len;
        case 2: // a map32 / str32 where a header's array is
            memcpy (buf, s_rand (self) % 2 ? "\xdf\xff\xff\xff\xff" : "\xdb\x7f\xff\xff\xff", 5);
            return 5 + s_rand (self) % 32;
        default: // arrays nested deep
            len = cap < 50000 ? cap : 50000;
            memset (buf, 0x91, len);
            return len;
        }
    case F_WRONG:
        switch (s_rand (self) % 5) {
        case 0:
            return s_header (buf, S_STREAM_FORMAT + 1 + s_rand (self) % 1000, 1, shards, last_index,
                             0);
        case 1:
            return s_header (buf, S_STREAM_FORMAT, 2 + s_rand (self) % 1000, shards, last_index, 0);
        case 2:
            return s_header (buf, S_STREAM_FORMAT, 1, shards + 1 + s_rand (self) % 100, last_index,
                             0);
        case 3:
            return s_header (buf, S_STREAM_FORMAT, 1, shards, 0, 0); // applied 0: no snapshot
        default:
            return s_header (buf, S_STREAM_FORMAT, 1, shards, last_index | (1ull << 63), 0);
        }
    case F_LATE:
        *offset = 1 + s_rand (self) % (1u << 20);
        return s_junk (self, buf, cap);
    default:
        assert (false);
        return 0;
    }
}

// A burst of forged chunks at follower to, as from leader in term. Returns how many of them
// reach the follower's applier (a chunk at offset 0; the bad chunk after a staged header), all
// of which it must reject.
static int
s_forge_burst (s_state_t *self, s_forge_stats_t *fs, zsock_t *s, uint64_t shards, uint64_t leader,
               uint64_t to, uint64_t term, uint64_t commit)
{
    static uint8_t buf[64 * 1024];
    zkv_install_snapshot_t is = {.group = 1, .from = leader, .to = to, .term = term};
    is.last_index = commit + 1 + s_rand (self) % 1000;
    is.last_term = term;
    is.total_size = 0;
    s_forge_t kind = (s_forge_t)(s_rand (self) % F_NKINDS);
    if (kind == F_STAGED) {
        // A header the follower accepts and stages: 2^40 dedup records announced, so no forged
        // stream can ever be whole. Then a bad chunk at the offset right after it, sent again
        // a few times: the follower ignores it while the header is still being written.
        size_t hlen = s_header (buf, S_STREAM_FORMAT, 1, shards, is.last_index, 1ull << 40);
        zkv_bytes_set (&is.data, buf, hlen);
        is.offset = 0;
        is.done = false;
        bool ok = s_send_chunk (s, &is);
        zkv_bytes_free (&is.data);
        if (!ok)
            return 0;
        is.offset = hlen;
        is.done = s_rand (self) % 2;
        size_t len = s_junk (self, buf, 4096);
        zkv_bytes_set (&is.data, buf, len);
        for (int i = 0; i < 4; i++) {
            zclock_sleep (10 << i); // pacing the resends, not waiting on a condition
            s_send_chunk (s, &is);
        }
        zkv_bytes_free (&is.data);
        fs->sent[kind]++;
        return 1; // after a rejection the resends are no stream's: the core drops them
    }
    uint64_t offset;
    bool done;
    size_t len = s_forge_data (self, kind, shards, is.last_index, buf, sizeof buf, &offset, &done);
    is.offset = offset;
    is.done = done;
    zkv_bytes_set (&is.data, buf, len);
    bool ok = s_send_chunk (s, &is);
    zkv_bytes_free (&is.data);
    if (!ok)
        return 0;
    fs->sent[kind]++;
    return kind == F_LATE ? 0 : 1; // the core answers a late offset itself
}

// The forged-chunk run: eps holds n nodes' client and peer endpoints, in pairs.
static int
s_forged (s_state_t *self, char **eps, size_t n, long seconds, uint64_t shards)
{
    s_forge_stats_t fs = {0};
    fs.reject = (uint64_t *)zmalloc (n * sizeof (uint64_t));
    fs.ids = (uint64_t *)zmalloc (n * sizeof (uint64_t));
    s_view_t *views = (s_view_t *)zmalloc (n * sizeof *views);
    zsock_t **peers = (zsock_t **)zmalloc (n * sizeof *peers);
    for (size_t i = 0; i < n; i++) {
        peers[i] = zsock_new (ZMQ_DEALER);
        assert (peers[i]);
        zsock_set_linger (peers[i], 200);
        zsock_set_sndtimeo (peers[i], 200);
        zsock_set_sndhwm (peers[i], 1000);
        if (zsock_connect (peers[i], "%s", eps[2 * i + 1]) != 0) {
            fprintf (stderr, "zkv-hostile: cannot connect to %s\n", eps[2 * i + 1]);
            return 2;
        }
    }
    int64_t end = zclock_mono () + seconds * 1000;
    while (zclock_mono () < end && !zsys_interrupted) {
        fs.rounds++;
        uint64_t leader = 0, term = 0;
        for (size_t i = 0; i < n; i++) {
            s_status (self, eps[2 * i], 500, &views[i]);
            if (!views[i].ok) {
                fs.status_fail++;
                continue;
            }
            fs.ids[i] = views[i].node;
            if (views[i].role == S_ROLE_LEADER) {
                leader = views[i].node;
                term = views[i].term;
            }
        }
        size_t sent = 0;
        for (size_t i = 0; leader && i < n; i++)
            if (views[i].ok && views[i].role == S_ROLE_FOLLOWER && views[i].term == term &&
                views[i].leader == leader && views[i].node != leader) {
                fs.reject[i] += (uint64_t)s_forge_burst (self, &fs, peers[i], shards, leader,
                                                         views[i].node, term, views[i].commit);
                fs.targets++;
                sent++;
            }
        if (!sent) {
            fs.no_leader++;
            zclock_sleep (20); // pacing the status polls while there is no leader
        }
    }
    for (size_t i = 0; i < n; i++)
        zsock_destroy (&peers[i]);
    free (peers);
    printf ("zkv-hostile: forged-chunk: %" PRIu64 " rounds, %" PRIu64 " follower bursts, %" PRIu64
            " rounds without a leader and follower, %" PRIu64 " unanswered status requests;",
            fs.rounds, fs.targets, fs.no_leader, fs.status_fail);
    for (int k = 0; k < F_NKINDS; k++)
        printf (" %s=%" PRIu64, s_forge_names[k], fs.sent[k]);
    printf ("\n");
    // Node ids are learned from the status; a node that never answered gets none.
    for (size_t i = 0; i < n; i++)
        if (fs.ids[i])
            printf ("zkv-hostile: forged-chunk: node %" PRIu64 " must reject %" PRIu64 "\n",
                    fs.ids[i], fs.reject[i]);
    free (fs.reject);
    free (fs.ids);
    free (views);
    if (fs.targets == 0) {
        fprintf (stderr, "zkv-hostile: forged-chunk: never found a follower of a known leader\n");
        return 1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv-hostile"))
        return 0;
    uint64_t seed = 1;
    long seconds = 10;
    long flood = 200;
    long shards = 16;
    bool forged = false;
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (first + 1 >= argc)
            goto usage;
        if (streq (argv[first], "--seed"))
            seed = strtoull (argv[first + 1], NULL, 10);
        else if (streq (argv[first], "--seconds"))
            seconds = strtol (argv[first + 1], NULL, 10);
        else if (streq (argv[first], "--flood"))
            flood = strtol (argv[first + 1], NULL, 10);
        else if (streq (argv[first], "--shards"))
            shards = strtol (argv[first + 1], NULL, 10);
        else if (streq (argv[first], "--kind") && streq (argv[first + 1], "forged-chunk"))
            forged = true;
        else if (streq (argv[first], "--kind") && streq (argv[first + 1], "all"))
            forged = false;
        else
            goto usage;
        first += 2;
    }
    if (first >= argc || seconds < 1 || seconds > 3600 || flood < 0 || flood > 800 || shards < 1)
        goto usage;
    size_t n = (size_t)(argc - first);
    struct sockaddr_in *sas = (struct sockaddr_in *)zmalloc (n * sizeof *sas);
    for (size_t i = 0; i < n; i++)
        if (s_parse_ep (argv[first + i], &sas[i]) != 0) {
            fprintf (stderr, "zkv-hostile: '%s' is not tcp://A.B.C.D:PORT\n", argv[first + i]);
            return 2;
        }
    zsys_init ();
    zsys_set_max_sockets (4096);
    s_state_t st = {.rng = seed * 0x9e3779b97f4a7c15ull + 1};
    if (forged) {
        if (n % 2 != 0)
            goto usage;
        printf ("zkv-hostile: forged-chunk, seed %" PRIu64 ", %ld s, %zu nodes\n", seed, seconds,
                n / 2);
        int rc = s_forged (&st, argv + first, n / 2, seconds, (uint64_t)shards);
        free (sas);
        return rc;
    }
    printf ("zkv-hostile: seed %" PRIu64 ", %ld s, flood %ld, %zu endpoints\n", seed, seconds,
            flood, n);
    int64_t end = zclock_mono () + seconds * 1000;
    uint64_t rounds = 0;
    while (zclock_mono () < end && !zsys_interrupted) {
        for (size_t i = 0; i < n; i++) {
            s_kind_t kind = (s_kind_t)(s_rand (&st) % S_NKINDS);
            if (kind <= S_ZMTP_TRUNC)
                s_raw (&st, &sas[i], kind);
            else
                s_dealer (&st, argv[first + i], kind);
            st.sent[kind]++;
        }
        // A flood now and then: about every 200 rounds.
        if (flood > 0 && s_rand (&st) % 200 == 0)
            for (size_t i = 0; i < n; i++)
                s_flood (&st, argv[first + i], &sas[i], (size_t)flood);
        rounds++;
    }
    if (flood > 0) // at least one flood per endpoint
        for (size_t i = 0; i < n; i++)
            s_flood (&st, argv[first + i], &sas[i], (size_t)flood);
    printf ("zkv-hostile: %" PRIu64 " rounds;", rounds);
    for (int k = 0; k < S_NKINDS; k++)
        printf (" %s=%" PRIu64, s_kind_names[k], st.sent[k]);
    printf (" flood-connections=%" PRIu64 " refused-connects=%" PRIu64 "\n", st.sent[S_NKINDS],
            st.refused);
    free (sas);
    return 0;
usage:
    fprintf (stderr,
             "usage: zkv-hostile [--seed S] [--seconds T] [--flood N] tcp://A.B.C.D:PORT...\n"
             "       zkv-hostile --kind forged-chunk [--seed S] [--seconds T] [--shards N] "
             "CLIENT PEER [CLIENT PEER...]\n");
    return 2;
}
