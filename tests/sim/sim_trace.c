// The trace: every event folded into a running FNV-1a hash (same seed, same hash), the last
// SIM_RING events kept for failure reports, and --trace printing as events happen.
#include "sim_internal.h"

#include <string.h>

static uint64_t
s_fnv (uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= 0x100000001b3ULL;
    }
    return h;
}

void
sim_trace (sim_t *self, const sim_trace_rec_t *rec_in)
{
    sim_trace_rec_t rec = *rec_in;
    rec.at = self->now;
    // Fold the fields one by one: struct padding never enters the hash.
    uint64_t h = self->trace_hash;
    h = s_fnv (h, rec.at);
    h = s_fnv (h, (uint64_t)rec.kind | (uint64_t)rec.node << 8 | (uint64_t)rec.peer << 16 |
                      (uint64_t)rec.mtype << 24 | (uint64_t)rec.c2 << 32);
    h = s_fnv (h, rec.term);
    h = s_fnv (h, rec.a);
    h = s_fnv (h, rec.b);
    h = s_fnv (h, rec.c);
    h = s_fnv (h, rec.d);
    if (rec.word)
        for (const char *p = rec.word; *p; p++)
            h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    self->trace_hash = h;
    self->ring[self->ring_n++ % SIM_RING] = rec;
    if (self->cfg.trace)
        sim_trace_print (self, stdout, &rec);
}

void
sim_trace_msg (sim_t *self, uint8_t kind, int node, int peer, const zkv_msg_t *m, uint8_t c2)
{
    sim_trace_rec_t r = {.kind = kind,
                         .node = (uint8_t)node,
                         .peer = (uint8_t)peer,
                         .mtype = (uint8_t)m->type,
                         .c2 = c2,
                         .term = zkv_msg_is_raft (m->type) ? m->u.hdr.term : 0};
    switch (m->type) {
    case ZKV_MSG_REQUEST_VOTE:
        r.a = m->u.request_vote.pre_vote;
        r.b = m->u.request_vote.last_log_index;
        r.c = m->u.request_vote.last_log_term;
        break;
    case ZKV_MSG_REQUEST_VOTE_REPLY:
        r.a = m->u.request_vote_reply.pre_vote;
        r.b = m->u.request_vote_reply.granted;
        break;
    case ZKV_MSG_APPEND_ENTRIES:
        r.a = m->u.append_entries.prev_log_index;
        r.b = m->u.append_entries.prev_log_term;
        r.c = m->u.append_entries.commit;
        r.d = m->u.append_entries.entries.count;
        break;
    case ZKV_MSG_APPEND_ENTRIES_REPLY:
        r.a = m->u.append_entries_reply.success;
        r.b = m->u.append_entries_reply.match_index;
        r.c = m->u.append_entries_reply.conflict_index;
        r.d = m->u.append_entries_reply.conflict_term;
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT:
        r.a = m->u.install_snapshot.last_index;
        r.b = m->u.install_snapshot.last_term;
        r.c = m->u.install_snapshot.offset;
        r.d = m->u.install_snapshot.done;
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT_REPLY:
        r.a = m->u.install_snapshot_reply.last_index;
        r.b = m->u.install_snapshot_reply.next_offset;
        r.c = m->u.install_snapshot_reply.done;
        break;
    default:
        break;
    }
    sim_trace (self, &r);
}

static void
s_print_msg (FILE *out, const sim_trace_rec_t *r)
{
    fprintf (out, "%s term %" PRIu64, zkv_msg_name ((zkv_msg_type_t)r->mtype), r->term);
    switch (r->mtype) {
    case ZKV_MSG_REQUEST_VOTE:
        fprintf (out, "%s last %" PRIu64 "/%" PRIu64, r->a ? " PRE" : "", r->b, r->c);
        break;
    case ZKV_MSG_REQUEST_VOTE_REPLY:
        fprintf (out, "%s %s", r->a ? " PRE" : "", r->b ? "granted" : "refused");
        break;
    case ZKV_MSG_APPEND_ENTRIES:
        fprintf (out, " prev %" PRIu64 "/%" PRIu64 " commit %" PRIu64 " n %" PRIu64, r->a, r->b,
                 r->c, r->d);
        break;
    case ZKV_MSG_APPEND_ENTRIES_REPLY:
        if (r->a)
            fprintf (out, " ok match %" PRIu64, r->b);
        else
            fprintf (out, " REJECT conflict %" PRIu64 "/%" PRIu64, r->c, r->d);
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT:
        fprintf (out, " last %" PRIu64 "/%" PRIu64 " off %" PRIu64 "%s", r->a, r->b, r->c,
                 r->d ? " done" : "");
        break;
    case ZKV_MSG_INSTALL_SNAPSHOT_REPLY:
        fprintf (out, " last %" PRIu64 " next %" PRIu64 "%s", r->a, r->b, r->c ? " done" : "");
        break;
    default:
        break;
    }
}

void
sim_trace_print (sim_t *self, FILE *out, const sim_trace_rec_t *r)
{
    (void)self;
    fprintf (out, "%6" PRIu64 ".%06" PRIu64 " n%d ", r->at / SIM_SEC, r->at % SIM_SEC, r->node + 1);
    static const char *fates[] = {"", " [DROPPED]", " [DUPLICATED]", " [LONG DELAY]"};
    static const char *roles[] = {"follower", "pre-candidate", "candidate", "leader"};
    switch (r->kind) {
    case SIM_T_TICK:
        fprintf (out, "tick");
        break;
    case SIM_T_SEND:
        fprintf (out, "send -> n%d ", r->peer + 1);
        s_print_msg (out, r);
        fprintf (out, "%s", r->c2 < 4 ? fates[r->c2] : "");
        break;
    case SIM_T_DELIVER:
        fprintf (out, "recv <- n%d ", r->peer + 1);
        s_print_msg (out, r);
        break;
    case SIM_T_DROP:
        fprintf (out, "lost <- n%d ", r->peer + 1);
        s_print_msg (out, r);
        break;
    case SIM_T_PROPOSE:
        if (r->a)
            fprintf (out, "propose -> index %" PRIu64 " term %" PRIu64 " (hash %016" PRIx64 ")",
                     r->a, r->b, r->c);
        else
            fprintf (out, "propose refused (hash %016" PRIx64 ")", r->c);
        break;
    case SIM_T_CRASH:
        fprintf (out, "CRASH%s%s", r->b ? " mid-write" : "", r->a ? " torn" : "");
        break;
    case SIM_T_RESTART:
        fprintf (out,
                 "RESTART incarnation %" PRIu64 " term %" PRIu64 " snapshot %" PRIu64
                 " last %" PRIu64,
                 r->a, r->b, r->c, r->d);
        break;
    case SIM_T_LINK:
        if (r->node == 0xff)
            fprintf (out, "network healed");
        else if (r->peer == 0xff)
            fprintf (out, "%s", r->a ? "connect" : "disconnect");
        else if (r->peer == 0xfe)
            fprintf (out, "partition group %" PRIu64, r->a);
        else
            fprintf (out, "link -> n%d %s", r->peer + 1, r->a ? "up" : "cut");
        break;
    case SIM_T_ROLE:
        fprintf (out, "becomes %s term %" PRIu64 " commit %" PRIu64 " last %" PRIu64,
                 r->a < 4 ? roles[r->a] : "?", r->b, r->c, r->d);
        break;
    case SIM_T_SNAPSHOT:
        fprintf (out, "snapshot taken at %" PRIu64, r->a);
        break;
    case SIM_T_INSTALL:
        fprintf (out, "snapshot installed at %" PRIu64 " term %" PRIu64, r->a, r->b);
        break;
    case SIM_T_APPLY:
        fprintf (out, "apply %" PRIu64 "..%" PRIu64, r->a, r->b);
        break;
    case SIM_T_NET:
        fprintf (out, "network unreliable=%" PRIu64 " long-reordering=%" PRIu64, r->a, r->b);
        break;
    case SIM_T_READ:
        if (r->b == 2)
            fprintf (out, "read %" PRIu64 " FAILED (no longer leader)", r->a);
        else
            fprintf (out, "read %" PRIu64 " %s %" PRIu64, r->a,
                     r->b == 0   ? "asked, committed"
                     : r->b == 1 ? "confirmed at"
                                 : "served at",
                     r->c);
        break;
    case SIM_T_NOTE:
        fprintf (out, "note %s %" PRIu64 " %" PRIu64, r->word ? r->word : "", r->a, r->b);
        break;
    default:
        fprintf (out, "? kind %d", r->kind);
    }
    fprintf (out, "\n");
}

void
sim_trace_dump (sim_t *self, FILE *out, size_t last)
{
    uint64_t n = self->ring_n < SIM_RING ? self->ring_n : SIM_RING;
    if (n > last)
        n = last;
    for (uint64_t i = self->ring_n - n; i < self->ring_n; i++)
        sim_trace_print (self, out, &self->ring[i % SIM_RING]);
}
