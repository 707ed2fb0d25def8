// A node's figures (zkv_stats.h): kinds, outcome classes, histograms, the stats event.
#include "zkv_stats.h"

#include <stdlib.h>
#include <string.h>

const uint64_t zkv_stats_bounds_us[ZKV_STATS_BUCKETS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

const char *const zkv_stats_bounds_text[ZKV_STATS_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};

zkv_stats_kind_t
zkv_stats_kind_of (uint64_t op)
{
    switch (op) {
    case ZKV_OP_GET:
        return ZKV_STATS_GET;
    case ZKV_OP_PUT:
        return ZKV_STATS_PUT;
    case ZKV_OP_APPEND:
        return ZKV_STATS_APPEND;
    default:
        return ZKV_STATS_OTHER;
    }
}

zkv_stats_outcome_t
zkv_stats_outcome_of (uint64_t status)
{
    if (status == 0)
        return ZKV_STATS_OK;
    switch ((int)(status < ZKV_ERROR_COUNT_ ? status : 0)) {
    case ZKV_ENOTFOUND_VALUE:
        return ZKV_STATS_NOT_FOUND;
    case ZKV_ENOTLEADER_VALUE:
    case ZKV_EWRONGGROUP_VALUE:
    case ZKV_ENOTREADY_VALUE:
        return ZKV_STATS_REDIRECT;
    case ZKV_EBUSY_VALUE:
        return ZKV_STATS_BUSY;
    case ZKV_ETIMEOUT_VALUE:
        return ZKV_STATS_TIMEOUT;
    case ZKV_EINVAL_VALUE:
    case ZKV_ETOOBIG_VALUE:
    case ZKV_EDENIED_VALUE:
    case ZKV_ESTALE_VALUE:
    case ZKV_EPROTO_VALUE:
        return ZKV_STATS_INVALID;
    case ZKV_ESESSION_VALUE:
        return ZKV_STATS_SESSION;
    default:
        return ZKV_STATS_ERROR;
    }
}

const char *
zkv_stats_kind_name (zkv_stats_kind_t kind)
{
    static const char *names[ZKV_STATS_KINDS] = {"get", "put", "append", "other"};
    return kind < ZKV_STATS_KINDS ? names[kind] : "other";
}

const char *
zkv_stats_outcome_name (zkv_stats_outcome_t outcome)
{
    static const char *names[ZKV_STATS_OUTCOMES] = {
        "ok", "not_found", "redirect", "busy", "timeout", "invalid", "session_expired", "error"};
    return outcome < ZKV_STATS_OUTCOMES ? names[outcome] : "error";
}

void
zkv_stats_hist_observe (zkv_stats_hist_t *h, uint64_t us)
{
    size_t b = 0;
    while (b < ZKV_STATS_BUCKETS && us > zkv_stats_bounds_us[b])
        b++;
    h->buckets[b]++;
    h->count++;
    h->sum_us += us;
}

uint64_t
zkv_stats_lag (const zkv_group_stats_t *g, size_t follower)
{
    uint64_t match = g->follower_match[follower];
    return g->last_index > match ? g->last_index - match : 0;
}

static void
s_col (zkv_u64s_t *dst, size_t n)
{
    dst->count = n;
    dst->items = n ? calloc (n, sizeof (uint64_t)) : NULL;
    if (n && !dst->items)
        abort (); // out of memory aborts (STYLE.md)
}

void
zkv_stats_event (const zkv_node_stats_t *s, uint64_t seq, uint64_t time_ms, uint64_t interval_ms,
                 zkv_msg_t *out)
{
    memset (out, 0, sizeof *out);
    out->type = ZKV_MSG_EVENT_STATS;
    zkv_event_stats_t *e = &out->u.event_stats;
    e->node = s->node;
    e->time_ms = time_ms;
    e->seq = seq;
    e->interval_ms = interval_ms;
    e->uptime_ms = s->uptime_ms;
    const char *version = s->version ? s->version : "";
    zkv_bytes_set (&e->version, version, strlen (version));
    size_t n = s->n_groups, followers = 0;
    for (size_t i = 0; i < n; i++)
        followers += s->groups[i].n_followers;
    zkv_u64s_t *cols[] = {&e->groups,  &e->roles,    &e->terms,        &e->leaders,
                          &e->commits, &e->applieds, &e->last_indexes, &e->follower_counts};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        s_col (cols[c], n);
    s_col (&e->follower_ids, followers);
    s_col (&e->follower_lags, followers);
    size_t f = 0;
    for (size_t i = 0; i < n; i++) {
        const zkv_group_stats_t *g = &s->groups[i];
        e->groups.items[i] = g->group;
        e->roles.items[i] = g->role;
        e->terms.items[i] = g->term;
        e->leaders.items[i] = g->leader;
        e->commits.items[i] = g->commit;
        e->applieds.items[i] = g->applied;
        e->last_indexes.items[i] = g->last_index;
        e->follower_counts.items[i] = g->n_followers;
        for (size_t k = 0; k < g->n_followers; k++, f++) {
            e->follower_ids.items[f] = g->follower_ids[k];
            e->follower_lags.items[f] = zkv_stats_lag (g, k);
        }
    }
    s_col (&e->requests, ZKV_STATS_KINDS);
    s_col (&e->requests_ok, ZKV_STATS_KINDS);
    for (size_t k = 0; k < ZKV_STATS_KINDS; k++)
        for (size_t o = 0; o < ZKV_STATS_OUTCOMES; o++) {
            e->requests.items[k] += s->front.requests[k][o];
            if (o == ZKV_STATS_OK || o == ZKV_STATS_NOT_FOUND)
                e->requests_ok.items[k] += s->front.requests[k][o];
        }
    e->forwarded = s->front.forwarded;
    e->db_bytes = s->db_bytes;
}
