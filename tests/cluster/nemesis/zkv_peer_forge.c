// zkv-peer-forge: a peer that authenticates with a real node's certificate and sends the peer
// messages an attacker sent the plaintext cluster of old, each naming --claim as its sender. It
// connects to a node's peer endpoint over CURVE (--cert, --server-key) and sends, for each kind
// of --kind (a comma-separated list, in that order), --count rounds of:
//
//   heartbeat      an empty AppendEntries of term --term (the default kind): a leader of that
//                  term, which any follower of an older term believes from a real peer
//   append         an AppendEntries of term --term after prev = --index (of term --prev-term,
//                  default --term) carrying one entry at --index + 1, of term --term, that is a
//                  real KV put of --key = --value (a kv_command encoded as the leader encodes
//                  it, cluster/zkv_kv.c: a follower that took it would apply it), and commit =
//                  --commit (default --index + 1): the put commits on arrival
//   snapshot       the one and last chunk (done) of a streamed InstallSnapshot of term --term
//                  covering --index + 10 (of term --prev-term): an empty state, the stream
//                  header alone (cluster/zkv_kv.h) - a follower that installed it would lose
//                  every key of the group
//   append-reply   an AppendEntriesReply of term --term, success, match = --match: a leader
//                  that believed it would count the claimed node as holding its log through
//                  --match, and commit entries nobody else holds
//   vote           a PreVote and a RequestVote of term --term from a candidate whose log ends
//                  at --index + 1000 (more up to date than anyone's), then a granted PreVote
//                  reply and a granted vote of that term
//   forward-reply  a forward_reply answering a forwarded client request nobody made (fwd_id
//                  --fwd-id + round, client --client-id, seq --seq), with --value as a get's
//                  value. It names no sender (the node it came from is its connection's): its
//                  leader hint says --claim
//
// Whatever the kind, the node must drop the message when --claim is not the certificate's node
// (a peer message is taken only from the node whose key sent it), and its Raft core must refuse
// it when the claim is true but the message is wrong (a second leader in a term, an append
// contradicting committed entries). It judges nothing itself: forged.sh and curve.sh do.
//
//     zkv-peer-forge --cert NODE_CERT --server-key KEY --claim ID --to ID --group G
//                    [--kind K[,K...]] [--term T] [--count N] [--index N] [--prev-term T]
//                    [--commit N] [--match N] [--key K] [--value V] [--client-id C] [--seq S]
//                    [--fwd-id F] [--shards N] [--then-term T2 --then-count N2] tcp://HOST:PORT
//
// --then-term sends N2 more heartbeats of term T2 over the same connection, after the rest: the
// node takes them in order, so once its term shows T2 the first ones were dealt with.
//
// It prints what it sent, and "named N" for the number of messages that name a sender (every
// kind but forward-reply): a node that drops a lie counts each one of these.
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_kv.h"
#include "zkv_msg.h"
#include "zkv_version.h"

typedef enum {
    K_HEARTBEAT,
    K_APPEND,
    K_SNAPSHOT,
    K_APPEND_REPLY,
    K_VOTE,
    K_FORWARD_REPLY,
    K_NKINDS
} s_kind_t;

static const char *s_kind_names[K_NKINDS] = {
    "heartbeat", "append", "snapshot", "append-reply", "vote", "forward-reply",
};

typedef struct {
    zsock_t *dealer;
    uint64_t claim, to, group, term, index, prev_term, commit, match, client_id, seq, fwd_id,
        shards;
    const char *key, *value;
    uint64_t sent[K_NKINDS]; // messages sent, by kind
    uint64_t named;          // of them, messages that name a sender (all but forward_reply)
} s_forge_t;

// Encodes m and queues it on the connection. Returns 1 if it was queued, else 0.
static int
s_send (s_forge_t *self, zkv_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ok = zkv_msg_encode (m, &buf, &len) == 0 &&
             zmq_send (zsock_resolve (self->dealer), buf, len, 0) >= 0;
    free (buf);
    if (ok && zkv_msg_is_raft (m->type))
        self->named++;
    return ok;
}

// An AppendEntries of term with no entries (ctx: the round, as a leader numbers them).
static int
s_heartbeat (s_forge_t *self, uint64_t term, uint64_t round)
{
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES};
    zkv_append_entries_t *a = &m.u.append_entries;
    *a = (zkv_append_entries_t){.group = self->group, .from = self->claim, .to = self->to,
                                .term = term, .ctx = round};
    return s_send (self, &m);
}

// An AppendEntries whose one entry is a KV put, committed by the same message.
static int
s_append (s_forge_t *self, uint64_t round)
{
    // The entry's data is what the leader logs for a client's put (zkv_kv_encode): a
    // kv_command, so a follower that took the entry would apply it as a write.
    zkv_msg_t cmd = {.type = ZKV_MSG_KV_COMMAND};
    zkv_kv_command_t *c = &cmd.u.kv_command;
    c->client_id = self->client_id;
    c->seq = self->seq + round - 1; // a fresh seq each round: never taken as a retry
    c->op = ZKV_OP_PUT;
    c->key = (zkv_bytes_t){(uint8_t *)self->key, strlen (self->key)};
    c->value = (zkv_bytes_t){(uint8_t *)self->value, strlen (self->value)};
    zkv_entry_t e = {.term = self->term, .index = self->index + 1, .type = ZKV_ENTRY_NORMAL};
    if (zkv_msg_encode (&cmd, &e.data.data, &e.data.len) != 0)
        return 0;
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES};
    zkv_append_entries_t *a = &m.u.append_entries;
    *a = (zkv_append_entries_t){.group = self->group,
                                .from = self->claim,
                                .to = self->to,
                                .term = self->term,
                                .prev_log_index = self->index,
                                .prev_log_term = self->prev_term,
                                .commit = self->commit,
                                .ctx = round,
                                .entries = {&e, 1}};
    int ok = s_send (self, &m);
    free (e.data.data);
    return ok;
}

// The whole of a streamed snapshot of an empty state, in one last chunk.
static int
s_snapshot (s_forge_t *self)
{
    uint64_t last = self->index + 10;
    // A stream is kv_snap_* records (cluster/zkv_kv.h): a header announcing no dedup record,
    // and no item after it, is a group that holds nothing.
    zkv_msg_t h = {.type = ZKV_MSG_KV_SNAP_HEADER};
    h.u.kv_snap_header = (zkv_kv_snap_header_t){.format = ZKV_KV_SNAP_FORMAT,
                                                .group = self->group,
                                                .nshards = self->shards,
                                                .applied = last,
                                                .n_dedup = 0};
    zkv_msg_t m = {.type = ZKV_MSG_INSTALL_SNAPSHOT};
    zkv_install_snapshot_t *s = &m.u.install_snapshot;
    *s = (zkv_install_snapshot_t){.group = self->group,
                                  .from = self->claim,
                                  .to = self->to,
                                  .term = self->term,
                                  .last_index = last,
                                  .last_term = self->prev_term,
                                  .offset = 0,
                                  .done = true};
    if (zkv_msg_encode (&h, &s->data.data, &s->data.len) != 0)
        return 0;
    s->total_size = s->data.len;
    int ok = s_send (self, &m);
    free (s->data.data);
    return ok;
}

static int
s_append_reply (s_forge_t *self, uint64_t round)
{
    zkv_msg_t m = {.type = ZKV_MSG_APPEND_ENTRIES_REPLY};
    m.u.append_entries_reply = (zkv_append_entries_reply_t){.group = self->group,
                                                            .from = self->claim,
                                                            .to = self->to,
                                                            .term = self->term,
                                                            .success = true,
                                                            .match_index = self->match,
                                                            .ctx = round};
    return s_send (self, &m);
}

// A pre-vote and a vote request, then a granted pre-vote and a granted vote.
static int
s_vote (s_forge_t *self)
{
    int n = 0;
    for (int pre = 1; pre >= 0; pre--) {
        zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE};
        m.u.request_vote = (zkv_request_vote_t){.group = self->group,
                                                .from = self->claim,
                                                .to = self->to,
                                                .term = self->term,
                                                .pre_vote = pre,
                                                .last_log_index = self->index + 1000,
                                                .last_log_term = self->term};
        n += s_send (self, &m);
    }
    for (int pre = 1; pre >= 0; pre--) {
        zkv_msg_t m = {.type = ZKV_MSG_REQUEST_VOTE_REPLY};
        m.u.request_vote_reply = (zkv_request_vote_reply_t){.group = self->group,
                                                            .from = self->claim,
                                                            .to = self->to,
                                                            .term = self->term,
                                                            .pre_vote = pre,
                                                            .granted = true};
        n += s_send (self, &m);
    }
    return n;
}

static int
s_forward_reply (s_forge_t *self, uint64_t round)
{
    zkv_msg_t m = {.type = ZKV_MSG_FORWARD_REPLY};
    zkv_forward_reply_t *f = &m.u.forward_reply;
    f->group = self->group;
    f->fwd_id = self->fwd_id + round - 1;
    f->client_id = self->client_id;
    f->seq = self->seq;
    f->status = 0;
    f->value = (zkv_bytes_t){(uint8_t *)self->value, strlen (self->value)};
    f->leader = self->claim; // the only place a forward_reply names a node
    return s_send (self, &m);
}

// Parses "heartbeat,append,..." into kinds[]; returns how many, or -1 for an unknown name.
static int
s_parse_kinds (const char *list, s_kind_t *kinds, int cap)
{
    int n = 0;
    char *copy = strdup (list), *save = NULL;
    for (char *t = strtok_r (copy, ",", &save); t; t = strtok_r (NULL, ",", &save)) {
        int k = 0;
        while (k < K_NKINDS && !streq (t, s_kind_names[k]))
            k++;
        if (k == K_NKINDS || n == cap) {
            free (copy);
            return -1;
        }
        kinds[n++] = (s_kind_t)k;
    }
    free (copy);
    return n;
}

static int
s_usage (void)
{
    fprintf (stderr,
             "usage: zkv-peer-forge --cert FILE --server-key KEY --claim ID --to ID --group G\n"
             "         [--kind heartbeat|append|snapshot|append-reply|vote|forward-reply[,...]]\n"
             "         [--term T] [--count N] [--index N] [--prev-term T] [--commit N]\n"
             "         [--match N] [--key K] [--value V] [--client-id C] [--seq S] [--fwd-id F]\n"
             "         [--shards N] [--then-term T2 --then-count N2] ENDPOINT\n");
    return 2;
}

int
main (int argc, char **argv)
{
    if (zkv_version_option (argc, argv, "zkv-peer-forge"))
        return 0;
    const char *cert_path = NULL, *server_key = NULL, *endpoint = NULL, *kind_list = "heartbeat";
    uint64_t count = 50, then_term = 0, then_count = 0, commit = 0;
    bool prev_term_set = false, commit_set = false;
    s_forge_t self = {.term = 1000000,
                      .key = "forged",
                      .value = "forged",
                      .client_id = 0x466f726765640000ull, // "Forged\0\0": no client's id
                      .seq = 1,
                      .fwd_id = 1,
                      .shards = 16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (streq (a, "--cert") && more)
            cert_path = argv[++i];
        else if (streq (a, "--server-key") && more)
            server_key = argv[++i];
        else if (streq (a, "--kind") && more)
            kind_list = argv[++i];
        else if (streq (a, "--claim") && more)
            self.claim = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--to") && more)
            self.to = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--group") && more)
            self.group = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--term") && more)
            self.term = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--count") && more)
            count = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--index") && more)
            self.index = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--prev-term") && more) {
            self.prev_term = strtoull (argv[++i], NULL, 10);
            prev_term_set = true;
        } else if (streq (a, "--commit") && more) {
            commit = strtoull (argv[++i], NULL, 10);
            commit_set = true;
        } else if (streq (a, "--match") && more)
            self.match = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--key") && more)
            self.key = argv[++i];
        else if (streq (a, "--value") && more)
            self.value = argv[++i];
        else if (streq (a, "--client-id") && more)
            self.client_id = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--seq") && more)
            self.seq = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--fwd-id") && more)
            self.fwd_id = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--shards") && more)
            self.shards = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--then-term") && more)
            then_term = strtoull (argv[++i], NULL, 10);
        else if (streq (a, "--then-count") && more)
            then_count = strtoull (argv[++i], NULL, 10);
        else if (a[0] != '-' && !endpoint)
            endpoint = a;
        else
            return s_usage ();
    }
    s_kind_t kinds[16];
    int n_kinds = s_parse_kinds (kind_list, kinds, 16);
    if (n_kinds <= 0) {
        fprintf (stderr, "zkv-peer-forge: unknown --kind in '%s'\n", kind_list);
        return s_usage ();
    }
    if (!cert_path || !server_key || !endpoint || !self.claim || !self.to) {
        fprintf (stderr, "zkv-peer-forge: --cert, --server-key, --claim, --to and an endpoint "
                         "are needed\n");
        return 2;
    }
    if (!prev_term_set)
        self.prev_term = self.term;
    self.commit = commit_set ? commit : self.index + 1;
    zcert_t *cert = zcert_load (cert_path);
    if (!cert) {
        fprintf (stderr, "zkv-peer-forge: cannot read %s\n", cert_path);
        return 2;
    }
    self.dealer = zsock_new (ZMQ_DEALER);
    zcert_apply (cert, self.dealer);
    zsock_set_curve_serverkey (self.dealer, server_key);
    // Whatever is queued leaves before the process ends (zmq_ctx_term waits this long): every
    // message sent reaches the node, which the caller counts on.
    zsock_set_linger (self.dealer, 5000);
    if (zsock_connect (self.dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "zkv-peer-forge: cannot connect to %s\n", endpoint);
        return 2;
    }
    for (int k = 0; k < n_kinds; k++)
        for (uint64_t r = 1; r <= count; r++) {
            int n = 0;
            switch (kinds[k]) {
            case K_HEARTBEAT:
                n = s_heartbeat (&self, self.term, r);
                break;
            case K_APPEND:
                n = s_append (&self, r);
                break;
            case K_SNAPSHOT:
                n = s_snapshot (&self);
                break;
            case K_APPEND_REPLY:
                n = s_append_reply (&self, r);
                break;
            case K_VOTE:
                n = s_vote (&self);
                break;
            case K_FORWARD_REPLY:
                n = s_forward_reply (&self, r);
                break;
            default:
                break;
            }
            self.sent[kinds[k]] += (uint64_t)n;
            zclock_sleep (10); // pacing, so that a burst is not one batch; not a wait
        }
    for (uint64_t r = 1; r <= then_count; r++) {
        self.sent[K_HEARTBEAT] += (uint64_t)s_heartbeat (&self, then_term, count + r);
        zclock_sleep (10);
    }
    printf ("zkv-peer-forge: to node %" PRIu64 " (group %" PRIu64 "), claiming node %" PRIu64
            ":",
            self.to, self.group, self.claim);
    for (int k = 0; k < K_NKINDS; k++)
        if (self.sent[k])
            printf (" %s %" PRIu64, s_kind_names[k], self.sent[k]);
    printf ("; named %" PRIu64 "\n", self.named);
    zsock_destroy (&self.dealer);
    zcert_destroy (&cert);
    return 0;
}
