// Unit tests for the cluster view behind the status page (cluster/zkv_cluster_view.h) and its
// JSON writer (cluster/zkv_json.h): liveness by beats, leaders across an election, the shard
// map and shard moves, the bounded recent events, hostile bodies, and JSON that parses.
#include "zkv_test.h"

#include "zkv_cluster_view.h"
#include "zkv_json.h"
#include "zkv_msg.h"
#include "zkv_raft.h"
#include "zkv_routing.h"

#include <assert.h>
#include <stdbool.h>

// ---------------------------------------------------------------------------------------------
// A JSON syntax checker (RFC 8259's grammar, enough to say the renderer's text parses).

static const char *s_value (const char *p);

static const char *
s_ws (const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *
s_string (const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr ("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 4;
            } else if (!*p || !strchr ("\"\\/bfnrt", *p))
                return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *
s_number (const char *p)
{
    const char *start = p;
    if (*p == '-')
        p++;
    if (!(*p >= '0' && *p <= '9'))
        return NULL;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9')
        return NULL; // no leading zeros
    while (*p >= '0' && *p <= '9')
        p++;
    return p > start ? p : NULL;
}

static const char *
s_list (const char *p, char close, bool object)
{
    p = s_ws (p + 1);
    if (*p == close)
        return p + 1;
    while (p) {
        if (object) {
            p = s_string (s_ws (p));
            if (!p || *(p = s_ws (p)) != ':')
                return NULL;
            p++;
        }
        p = s_value (p);
        if (!p)
            return NULL;
        p = s_ws (p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p++;
    }
    return NULL;
}

static const char *
s_value (const char *p)
{
    p = s_ws (p);
    switch (*p) {
    case '{':
        return s_list (p, '}', true);
    case '[':
        return s_list (p, ']', false);
    case '"':
        return s_string (p);
    case 't':
        return strncmp (p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return strncmp (p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return strncmp (p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return s_number (p);
    }
}

static bool
s_json_ok (const char *text)
{
    const char *end = text ? s_value (text) : NULL;
    return end && *s_ws (end) == '\0';
}

// ---------------------------------------------------------------------------------------------
// Feeding the view

static zkv_cluster_view_t *
s_view (size_t max_events)
{
    zkv_cluster_view_config_t c;
    zkv_cluster_view_config_defaults (&c);
    c.self = 1;
    c.max_events = max_events;
    zkv_cluster_view_t *v = zkv_cluster_view_new (&c);
    assert (v);
    for (uint64_t n = 1; n <= 3; n++)
        assert (zkv_cluster_view_node (v, n, true) == 0);
    return v;
}

static int
s_feed (zkv_cluster_view_t *v, uint64_t from, const char *topic, const zkv_msg_t *msg,
        uint64_t now_ms)
{
    uint8_t *buf;
    size_t len;
    assert (zkv_msg_encode (msg, &buf, &len) == 0);
    int rc = zkv_cluster_view_event (v, from, topic, strlen (topic), buf, len, now_ms);
    free (buf);
    return rc;
}

static int
s_raft (zkv_cluster_view_t *v, const char *topic, uint64_t node, uint64_t group, uint64_t term,
        uint64_t leader, uint64_t role, uint64_t index, uint64_t now_ms)
{
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_RAFT};
    m.u.event_raft = (zkv_event_raft_t){.node = node,
                                        .time_ms = 1700000000000 + now_ms,
                                        .group = group,
                                        .term = term,
                                        .leader = leader,
                                        .role = role,
                                        .index = index};
    return s_feed (v, node, topic, &m, now_ms);
}

static int
s_shard (zkv_cluster_view_t *v, const char *topic, uint64_t node, uint64_t group, uint64_t config,
         uint64_t shard, uint64_t peer, uint64_t chunks, uint64_t bytes, uint64_t now_ms)
{
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_SHARD};
    m.u.event_shard = (zkv_event_shard_t){.node = node,
                                          .time_ms = 1700000000000 + now_ms,
                                          .group = group,
                                          .config = config,
                                          .shard = shard,
                                          .peer = peer,
                                          .chunks = chunks,
                                          .bytes = bytes};
    return s_feed (v, node, topic, &m, now_ms);
}

static int
s_node (zkv_cluster_view_t *v, const char *topic, uint64_t node, uint64_t now_ms)
{
    uint64_t groups[] = {0, 1};
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_NODE};
    m.u.event_node = (zkv_event_node_t){
        .node = node, .time_ms = 1700000000000 + now_ms, .groups = {groups, 2}, .pid = 4000 + node};
    return s_feed (v, node, topic, &m, now_ms);
}

// Configuration num: groups 0 and 1 on nodes 1..3, group 2 on nodes 4 and 5; 8 shards dealt
// to groups 1 and 2 (even shards to 1, odd to 2), shard 3 moved to group 1 from num 2 on.
static void
s_configure (zkv_cluster_view_t *v, uint64_t num)
{
    uint64_t ids[] = {0, 1, 2}, sizes[] = {3, 3, 2}, members[] = {1, 2, 3, 1, 2, 3, 4, 5};
    zkv_routing_t *r = zkv_routing_new (num, 8, ids, sizes, members, 3);
    assert (r);
    zkv_routing_deal (r);
    if (num >= 2)
        r->shard_group[3] = 1;
    zkv_bytes_t enc;
    assert (zkv_routing_encode (r, &enc) == 0);
    assert (zkv_cluster_view_configuration (v, enc.data, enc.len) == 0);
    zkv_bytes_free (&enc);
    zkv_routing_destroy (&r);
}

static char *
s_render (zkv_cluster_view_t *v, uint64_t now_ms)
{
    zkv_json_t j = {0};
    zkv_cluster_view_render (v, now_ms, 1700000000000 + now_ms, &j);
    return j.data; // the caller frees it
}

// ---------------------------------------------------------------------------------------------
// Tests

static void
test_json_writer (void)
{
    zkv_json_t j = {0};
    zkv_json_open (&j, '{');
    zkv_json_key (&j, "a");
    zkv_json_u64 (&j, 0);
    zkv_json_key (&j, "b");
    zkv_json_open (&j, '[');
    zkv_json_u64 (&j, UINT64_MAX);
    zkv_json_i64 (&j, -5);
    zkv_json_i64 (&j, INT64_MIN);
    zkv_json_null (&j);
    zkv_json_bool (&j, false);
    zkv_json_open (&j, '{');
    zkv_json_close (&j, '}');
    zkv_json_close (&j, ']');
    zkv_json_key (&j, "s");
    zkv_json_str (&j, "q\"b\\\n\x01\xff", 7);
    zkv_json_key (&j, "v");
    zkv_json_value (&j, "[1,2]", 5);
    zkv_json_close (&j, '}');
    const char *want = "{\"a\":0,\"b\":[18446744073709551615,-5,-9223372036854775808,null,false,"
                       "{}],\"s\":\"q\\\"b\\\\\\u000a\\u0001\\u00ff\",\"v\":[1,2]}";
    CHECK (j.data && strcmp (j.data, want) == 0);
    CHECK (s_json_ok (j.data));
    zkv_json_free (&j);
    CHECK (j.data == NULL && j.len == 0);
    // The checker itself refuses what is not JSON.
    CHECK (!s_json_ok ("{\"a\":1,}"));
    CHECK (!s_json_ok ("[1 2]"));
    CHECK (!s_json_ok ("\"\x01\""));
}

// A node is alive while heard within missed_beats beats, dead after, stopped once it says so,
// and alive again with its next word; a node never heard is unknown, one not watched unwatched.
static void
test_liveness (void)
{
    zkv_cluster_view_t *v = s_view (16);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 0), ZKV_NODE_UNKNOWN);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 9, 0), ZKV_NODE_UNWATCHED);
    CHECK (s_node (v, "zkv.node.started", 2, 1000) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 1000), ZKV_NODE_ALIVE);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 4000), ZKV_NODE_ALIVE); // 3 beats: not yet
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 4001), ZKV_NODE_DEAD);
    CHECK (s_raft (v, "zkv.raft.term", 2, 1, 5, 0, ZKV_ROLE_CANDIDATE, 9, 4500) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 4500), ZKV_NODE_ALIVE);
    CHECK (s_node (v, "zkv.node.stopping", 2, 5000) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 5000), ZKV_NODE_STOPPED);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 99000), ZKV_NODE_STOPPED);
    CHECK (s_node (v, "zkv.node.started", 2, 100000) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 100000), ZKV_NODE_ALIVE);
    // A node heard that was not in the list (events come only from watched sockets, but the
    // host may add the node after): judged by its beats too.
    CHECK (s_node (v, "zkv.node.started", 7, 100000) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 7, 100000), ZKV_NODE_ALIVE);
    char *json = s_render (v, 100500);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "{\"id\":2,\"self\":false,\"watched\":true,\"liveness\":\"alive\","
                         "\"heard_ago_ms\":500,") != NULL);
    CHECK (strstr (json, "{\"id\":3,\"self\":false,\"watched\":true,\"liveness\":\"unknown\","
                         "\"heard_ago_ms\":null,") != NULL);
    CHECK (strstr (json, "\"pid\":4002,\"started_ms\":1700000100000,") != NULL);
    free (json);
    zkv_cluster_view_destroy (&v);
    CHECK (v == NULL);
    zkv_cluster_view_destroy (&v); // idempotent
}

// The leader is the one of the highest term a member reported; when the leader is killed it
// stays shown, dead, until the others elect a new one in a higher term.
static void
test_leader_change (void)
{
    zkv_cluster_view_t *v = s_view (64);
    s_configure (v, 1);
    uint64_t leader, term;
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (leader, 0);
    CHECK_EQ_U64 (term, 0);
    // Node 2 hears of the leader before the leader's own event arrives.
    CHECK (s_raft (v, "zkv.raft.leader", 2, 1, 2, 1, ZKV_ROLE_FOLLOWER, 5, 0) == 0);
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (leader, 1);
    CHECK_EQ_U64 (term, 2);
    CHECK (s_raft (v, "zkv.raft.leader", 1, 1, 2, 1, ZKV_ROLE_LEADER, 7, 10) == 0);
    CHECK (s_raft (v, "zkv.raft.leader", 3, 1, 2, 1, ZKV_ROLE_FOLLOWER, 6, 20) == 0);
    // A stale follower naming another leader of an older term does not count.
    CHECK (s_raft (v, "zkv.raft.leader", 3, 0, 1, 3, ZKV_ROLE_FOLLOWER, 1, 20) == 0);
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (leader, 1);
    CHECK_EQ_U64 (term, 2);
    char *json = s_render (v, 100);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "{\"id\":1,\"term\":2,\"leader\":1,\"leader_liveness\":\"alive\","
                         "\"commit\":7,\"members\":[1,2,3],") != NULL);
    free (json);
    // Node 1 is killed: it says nothing more; nodes 2 and 3 keep talking.
    for (uint64_t t = 1000; t <= 5000; t += 1000) {
        CHECK (s_raft (v, "zkv.raft.term", 2, 0, 1, 1, ZKV_ROLE_FOLLOWER, 1, t) == 0);
        CHECK (s_raft (v, "zkv.raft.term", 3, 0, 1, 1, ZKV_ROLE_FOLLOWER, 1, t) == 0);
    }
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 1, 5000), ZKV_NODE_DEAD);
    json = s_render (v, 5000);
    CHECK (strstr (json, "\"leader\":1,\"leader_liveness\":\"dead\"") != NULL);
    free (json);
    // Node 3 wins the election in term 3; node 1's claim of term 2 no longer counts.
    CHECK (s_raft (v, "zkv.raft.term", 3, 1, 3, 0, ZKV_ROLE_CANDIDATE, 7, 5100) == 0);
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (leader, 0); // an election: no leader in term 3 yet
    CHECK_EQ_U64 (term, 3);
    CHECK (s_raft (v, "zkv.raft.leader", 3, 1, 3, 3, ZKV_ROLE_LEADER, 8, 5200) == 0);
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (leader, 3);
    CHECK_EQ_U64 (term, 3);
    json = s_render (v, 5300);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "{\"id\":1,\"term\":3,\"leader\":3,\"leader_liveness\":\"alive\","
                         "\"commit\":8,") != NULL);
    // Node 2's lag: it reported no applied index, so none can be told; node 1 is dead.
    const char *old = strstr (json, "{\"node\":1,\"liveness\":\"dead\",\"member\":true,"
                                    "\"role\":\"leader\",\"term\":2,");
    CHECK (old != NULL);
    // Its claim is history, node 3's is current.
    CHECK (strncmp (strstr (old, "\"current\":"), "\"current\":false}", 16) == 0);
    const char *now = strstr (json, "{\"node\":3,\"liveness\":\"alive\",\"member\":true,"
                                    "\"role\":\"leader\",\"term\":3,");
    CHECK (now != NULL);
    CHECK (strncmp (strstr (now, "\"current\":"), "\"current\":true}", 15) == 0);
    free (json);
    zkv_cluster_view_destroy (&v);
}

// The shard map follows the newest configuration and the moves the shard events show; a move
// goes forward whatever order its events arrive in, and a finished one lingers a minute.
static void
test_shard_moves (void)
{
    zkv_cluster_view_t *v = s_view (64);
    CHECK (zkv_cluster_view_wants_configuration (v, 0)); // none asked yet: at once
    zkv_cluster_view_asked (v, 0);
    CHECK (!zkv_cluster_view_wants_configuration (v, 500));
    s_configure (v, 1);
    CHECK_EQ_U64 (zkv_cluster_view_configuration_num (v), 1);
    uint64_t ids[8];
    CHECK_EQ_U64 (zkv_cluster_view_members (v, ids, 8), 5);
    CHECK (ids[0] == 1 && ids[4] == 5);
    char *json = s_render (v, 0);
    CHECK (strstr (json, "\"configuration\":1,\"nshards\":8,") != NULL);
    CHECK (strstr (json, "\"shard_groups\":[1,2,1,2,1,2,1,2]") != NULL);
    // Nodes 4 and 5 come from the configuration: shown, not watched.
    CHECK (strstr (json, "{\"id\":4,\"self\":false,\"watched\":false,\"liveness\":\"unwatched\"") !=
           NULL);
    free (json);
    // Configuration 2 moves shard 3 from group 2 to group 1: the new owner's pull starts
    // before the old owner's hand-off is heard.
    CHECK (s_shard (v, "zkv.shard.config", 1, 1, 2, 5, 0, 0, 0, 1000) == 0);
    CHECK (zkv_cluster_view_wants_configuration (v, 1000)); // an event named a newer one
    CHECK (s_shard (v, "zkv.shard.pull.started", 1, 1, 2, 3, 2, 0, 0, 1001) == 0);
    CHECK (s_shard (v, "zkv.shard.handoff", 4, 2, 2, 3, 1, 0, 0, 1002) == 0);
    CHECK (s_shard (v, "zkv.shard.pull.chunk", 1, 1, 2, 3, 2, 1, 4096, 1003) == 0);
    json = s_render (v, 1010);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "\"shard_groups\":[1,2,1,1,1,2,1,2]") != NULL); // ahead of config 1
    CHECK (strstr (json, "\"shard_states\":[\"serving\",\"serving\",\"serving\",\"moving\",") !=
           NULL);
    CHECK (strstr (json,
                   "\"moves\":[{\"config\":2,\"shard\":3,\"from\":2,\"to\":1,\"state\":"
                   "\"pulling\",\"step\":2,\"steps\":4,\"chunks\":1,\"bytes\":4096,") != NULL);
    free (json);
    // A late event of an older configuration changes nothing.
    CHECK (s_shard (v, "zkv.shard.gc", 4, 2, 1, 3, 1, 0, 0, 1020) == 0);
    CHECK (s_shard (v, "zkv.shard.pull.finished", 1, 1, 2, 3, 2, 2, 8192, 1030) == 0);
    CHECK (s_shard (v, "zkv.shard.pull.chunk", 1, 1, 2, 3, 2, 1, 4096, 1031) == 0); // late
    json = s_render (v, 1040);
    CHECK (strstr (json, "\"state\":\"installed\",\"step\":3,\"steps\":4,\"chunks\":2,"
                         "\"bytes\":8192,") != NULL);
    CHECK (strstr (json, "\"shard_states\":[\"serving\",\"serving\",\"serving\",\"serving\",") !=
           NULL);
    free (json);
    CHECK (s_shard (v, "zkv.shard.gc", 4, 2, 2, 3, 1, 0, 0, 1050) == 0);
    s_configure (v, 2);
    s_configure (v, 1); // older: ignored
    CHECK_EQ_U64 (zkv_cluster_view_configuration_num (v), 2);
    CHECK (!zkv_cluster_view_wants_configuration (v, 1060)); // asked at 0: not 10 s ago
    CHECK (zkv_cluster_view_wants_configuration (v, 10000));
    json = s_render (v, 1060);
    CHECK (strstr (json, "\"shard_groups\":[1,2,1,1,1,2,1,2]") != NULL);
    CHECK (strstr (json, "\"state\":\"done\",\"step\":4,") != NULL);
    free (json);
    json = s_render (v, 1050 + ZKV_CLUSTER_VIEW_MOVE_LINGER_MS + 1);
    CHECK (strstr (json, "\"moves\":[]") != NULL);
    free (json);
    // A shard past the configuration's count is no shard.
    CHECK (s_shard (v, "zkv.shard.pull.started", 1, 1, 3, 8, 2, 0, 0, 2000) == 0);
    json = s_render (v, 2000);
    CHECK (strstr (json, "{\"config\":3,\"shard\":8") == NULL);
    CHECK (strstr (json, "\"topic\":\"zkv.shard.pull.started\"") != NULL); // as an event
    free (json);
    // A configuration that is not one.
    uint8_t junk[] = {0x93, 1, 2, 3};
    CHECK (zkv_cluster_view_configuration (v, junk, sizeof junk) != 0);
    CHECK_EQ_U64 (zkv_cluster_view_configuration_num (v), 2);
    zkv_cluster_view_destroy (&v);
}

// At most max_events are kept, oldest first, the ones pushed out counted; every event lands
// there, the unknown and the undecodable too (as such).
static void
test_recent_events (void)
{
    zkv_cluster_view_t *v = s_view (4);
    for (uint64_t i = 0; i < 6; i++)
        CHECK (s_raft (v, "zkv.raft.term", 1 + i % 3, 1, 1 + i, 0, ZKV_ROLE_CANDIDATE, i,
                       100 * i) == 0);
    zkv_cluster_view_counters_t c;
    zkv_cluster_view_counters (v, &c);
    CHECK_EQ_U64 (c.events, 6);
    CHECK_EQ_U64 (c.events_dropped, 2);
    char *json = s_render (v, 1000);
    CHECK (s_json_ok (json));
    const char *first = strstr (json, "\"events\":[{\"seq\":2,\"from\":3,\"ago_ms\":800,"
                                      "\"time_ms\":1700000000200,\"topic\":\"zkv.raft.term\","
                                      "\"body\":{\"type\":\"event_raft\",\"node\":3,");
    CHECK (first != NULL);
    CHECK (strstr (first, "\"role\":\"candidate\"") != NULL);
    CHECK (strstr (json, "\"seq\":5,") != NULL);
    CHECK (strstr (json, "\"seq\":1,") == NULL);
    CHECK (strstr (json, "\"max_events\":4,") != NULL);
    free (json);
    // A client error's text, bytes past 0x7f included, is escaped.
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_CLIENT_ERROR};
    m.u.event_client_error.node = 2;
    m.u.event_client_error.error = (zkv_bytes_t){(uint8_t *)"busy \"x\"\xc3", 9};
    CHECK (s_feed (v, 2, "zkv.client.error", &m, 2000) == 0);
    json = s_render (v, 2000);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "\"error\":\"busy \\\"x\\\"\\u00c3\"") != NULL);
    free (json);
    zkv_cluster_view_destroy (&v);
}

// One node's beat (zkv.node.stats) on group 1: role, term, leader and indexes; as the leader,
// its followers and their lags.
static int
s_beat (zkv_cluster_view_t *v, uint64_t node, uint64_t role, uint64_t term, uint64_t leader,
        uint64_t applied, const uint64_t *followers, const uint64_t *lags, size_t n_followers,
        uint64_t now_ms)
{
    uint64_t groups[] = {1}, roles[] = {role}, terms[] = {term}, leaders[] = {leader};
    uint64_t commits[] = {applied}, applieds[] = {applied}, lasts[] = {applied};
    uint64_t counts[] = {n_followers};
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_STATS};
    zkv_event_stats_t *e = &m.u.event_stats;
    e->node = node;
    e->time_ms = 1700000000000 + now_ms;
    e->seq = 1;
    e->interval_ms = 1000;
    e->uptime_ms = 60000 + now_ms;
    e->version = (zkv_bytes_t){(uint8_t *)"0.9.1\n", 6};
    e->groups = (zkv_u64s_t){groups, 1};
    e->roles = (zkv_u64s_t){roles, 1};
    e->terms = (zkv_u64s_t){terms, 1};
    e->leaders = (zkv_u64s_t){leaders, 1};
    e->commits = (zkv_u64s_t){commits, 1};
    e->applieds = (zkv_u64s_t){applieds, 1};
    e->last_indexes = (zkv_u64s_t){lasts, 1};
    e->follower_counts = (zkv_u64s_t){counts, 1};
    e->follower_ids = (zkv_u64s_t){(uint64_t *)followers, n_followers};
    e->follower_lags = (zkv_u64s_t){(uint64_t *)lags, n_followers};
    return s_feed (v, node, "zkv.node.stats", &m, now_ms);
}

// Beats keep nodes alive and say how their groups are; the leader's report gives each
// follower's lag; beats are counted, not listed; a beat whose arrays do not match is not
// believed; a group a node no longer lists is no longer its.
static void
test_beats (void)
{
    zkv_cluster_view_t *v = s_view (16);
    s_configure (v, 1);
    uint64_t followers[] = {2, 3, 9}, lags[] = {0, 5, 7};
    for (uint64_t t = 0; t <= 6000; t += 1000) {
        CHECK (s_beat (v, 1, ZKV_ROLE_LEADER, 4, 1, 100, followers, lags, 3, t) == 0);
        CHECK (s_beat (v, 2, ZKV_ROLE_FOLLOWER, 4, 1, 100, NULL, NULL, 0, t) == 0);
        if (t < 2000) // node 3 stops beating
            CHECK (s_beat (v, 3, ZKV_ROLE_FOLLOWER, 4, 1, 90, NULL, NULL, 0, t) == 0);
    }
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 2, 6000), ZKV_NODE_ALIVE);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 3, 4000), ZKV_NODE_ALIVE);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 3, 4001), ZKV_NODE_DEAD);
    // A node whose beats announce 2 s is dead after 6 s.
    zkv_msg_t slow = {.type = ZKV_MSG_EVENT_STATS};
    slow.u.event_stats.node = 7;
    slow.u.event_stats.interval_ms = 2000;
    CHECK (s_feed (v, 7, "zkv.node.stats", &slow, 0) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 7, 6000), ZKV_NODE_ALIVE);
    CHECK_EQ_U64 (zkv_cluster_view_liveness (v, 7, 6001), ZKV_NODE_DEAD);
    zkv_cluster_view_counters_t c;
    zkv_cluster_view_counters (v, &c);
    CHECK_EQ_U64 (c.beats, 17);
    char *json = s_render (v, 6000);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "\"events\":[]") != NULL); // beats are not listed
    CHECK (strstr (json, "{\"id\":1,\"self\":true,\"watched\":true,\"liveness\":\"alive\","
                         "\"heard_ago_ms\":0,\"beats\":7,\"pid\":null,\"started_ms\":1699999940000,"
                         "\"uptime_ms\":66000,\"version\":\"0.9.1?\",\"groups\":[1]}") != NULL);
    CHECK (strstr (json, "{\"id\":1,\"term\":4,\"leader\":1,\"leader_liveness\":\"alive\","
                         "\"commit\":100,") != NULL);
    CHECK (strstr (json, "{\"node\":1,\"liveness\":\"alive\",\"member\":true,\"role\":"
                         "\"leader\",\"term\":4,\"leader\":1,\"commit\":100,\"applied\":100,"
                         "\"last_index\":100,\"config\":0,\"lag\":0,") != NULL);
    CHECK (strstr (json, "{\"node\":3,\"liveness\":\"dead\",\"member\":true,\"role\":"
                         "\"follower\",\"term\":4,\"leader\":1,\"commit\":90,\"applied\":90,"
                         "\"last_index\":90,\"config\":0,\"lag\":5,") != NULL);
    // Node 9, named a follower, is shown (not a member of the configuration's group 1).
    CHECK (strstr (json, "{\"node\":9,\"liveness\":\"unwatched\",\"member\":false,") != NULL);
    free (json);
    // A new leader in term 5 that has not reported lags yet: the lag is the entries it
    // committed that the member has not applied.
    CHECK (s_beat (v, 2, ZKV_ROLE_LEADER, 5, 2, 110, NULL, NULL, 0, 6500) == 0);
    json = s_render (v, 6500);
    CHECK (strstr (json, "\"node\":3,\"liveness\":\"dead\",\"member\":true,\"role\":"
                         "\"follower\",\"term\":4,\"leader\":1,\"commit\":90,\"applied\":90,"
                         "\"last_index\":90,\"config\":0,\"lag\":20,") != NULL);
    free (json);
    // Arrays that do not match: not believed.
    uint64_t g1[] = {1}, two[] = {2};
    zkv_msg_t bad = {.type = ZKV_MSG_EVENT_STATS};
    bad.u.event_stats.node = 2;
    bad.u.event_stats.groups = (zkv_u64s_t){g1, 1}; // and no roles, terms...
    CHECK (s_feed (v, 2, "zkv.node.stats", &bad, 7000) != 0);
    zkv_event_stats_t *e = &bad.u.event_stats; // every array, and more followers than listed
    e->roles = e->terms = e->leaders = e->commits = e->applieds = e->last_indexes = e->groups;
    e->follower_counts = (zkv_u64s_t){two, 1};
    e->follower_ids = e->follower_lags = (zkv_u64s_t){g1, 1};
    CHECK (s_feed (v, 2, "zkv.node.stats", &bad, 7000) != 0);
    e->follower_counts = (zkv_u64s_t){(uint64_t[]){UINT64_MAX}, 1}; // no overflow either
    CHECK (s_feed (v, 2, "zkv.node.stats", &bad, 7000) != 0);
    CHECK (s_beat (v, 2, ZKV_ROLE_LEADER, 6, 2, 120, NULL, NULL, 0, 7000) == 0);
    uint64_t leader, term;
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (term, 6);
    zkv_cluster_view_counters (v, &c);
    CHECK_EQ_U64 (c.undecoded, 3);
    // Node 2 lists no group: it hosts none now.
    zkv_msg_t m = {.type = ZKV_MSG_EVENT_STATS};
    m.u.event_stats.node = 2;
    CHECK (s_feed (v, 2, "zkv.node.stats", &m, 8000) == 0);
    json = s_render (v, 8000);
    CHECK (strstr (json, "{\"id\":2,\"self\":false,\"watched\":true,\"liveness\":\"alive\","
                         "\"heard_ago_ms\":0,\"beats\":10,") != NULL);
    CHECK (strstr (json, "\"version\":\"\",\"groups\":[]}") != NULL);
    free (json);
    zkv_cluster_view_destroy (&v);
}

static int
s_answer (zkv_cluster_view_t *v, uint64_t id, uint64_t node, const char *events, char *out)
{
    zkv_msg_t m = {.type = ZKV_MSG_STATUS_REPLY};
    m.u.status_reply.node = node;
    m.u.status_reply.events = (zkv_bytes_t){(uint8_t *)events, strlen (events)};
    uint8_t *buf;
    size_t len;
    assert (zkv_msg_encode (&m, &buf, &len) == 0);
    int rc = zkv_cluster_view_probe_answer (v, id, buf, len, out);
    free (buf);
    return rc;
}

// A node a configuration names, with endpoints, that the host does not watch is probed (once
// every PROBE_MS) until it is watched; its status reply's event endpoint is taken only from
// that node, and only when a SUB socket may connect to it.
static void
test_probe (void)
{
    zkv_cluster_view_t *v = s_view (16);
    uint64_t ids[8];
    CHECK_EQ_U64 (zkv_cluster_view_to_probe (v, 0, ids, 8), 0); // no configuration
    uint64_t gids[] = {0, 1, 2}, sizes[] = {3, 3, 2}, members[] = {1, 2, 3, 1, 2, 3, 4, 5};
    zkv_routing_t *r = zkv_routing_new (2, 8, gids, sizes, members, 3);
    assert (r);
    zkv_routing_deal (r);
    assert (zkv_routing_set_node (r, 3, "tcp://127.0.0.1:7003", "tcp://127.0.0.1:7103", NULL) == 0);
    assert (zkv_routing_set_node (r, 4, "tcp://127.0.0.1:7004", "tcp://127.0.0.1:7104",
                                  "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7") == 0);
    zkv_bytes_t enc;
    assert (zkv_routing_encode (r, &enc) == 0);
    CHECK (zkv_cluster_view_configuration (v, enc.data, enc.len) == 0);
    zkv_bytes_free (&enc);
    zkv_routing_destroy (&r);
    // Node 3 is watched, node 5 has no endpoints: only node 4.
    CHECK_EQ_U64 (zkv_cluster_view_to_probe (v, 100, ids, 8), 1);
    CHECK_EQ_U64 (ids[0], 4);
    CHECK_EQ_U64 (zkv_cluster_view_to_probe (v, 100 + ZKV_CLUSTER_VIEW_PROBE_MS - 1, ids, 8), 0);
    CHECK_EQ_U64 (zkv_cluster_view_to_probe (v, 100 + ZKV_CLUSTER_VIEW_PROBE_MS, ids, 8), 1);
    char client[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1], key[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1];
    CHECK (zkv_cluster_view_node_endpoint (v, 4, client, key));
    CHECK (strcmp (client, "tcp://127.0.0.1:7104") == 0);
    CHECK (strcmp (key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7") == 0);
    CHECK (zkv_cluster_view_node_endpoint (v, 3, client, key) && strcmp (key, "-") == 0);
    CHECK (!zkv_cluster_view_node_endpoint (v, 5, client, key));
    char events[ZKV_CLUSTER_VIEW_MAX_ENDPOINT + 1] = "";
    CHECK (s_answer (v, 4, 4, "tcp://127.0.0.1:7204", events) == 0);
    CHECK (strcmp (events, "tcp://127.0.0.1:7204") == 0);
    CHECK (s_answer (v, 4, 5, "tcp://127.0.0.1:7205", events) != 0); // another node's
    CHECK (s_answer (v, 4, 4, "tcp://1.2.3.4:1 x", events) != 0);    // a space
    CHECK (s_answer (v, 4, 4, "ipc:///tmp/x", events) != 0);         // not tcp
    CHECK (s_answer (v, 4, 4, "", events) != 0);                     // none (an older node)
    uint8_t junk[] = {0x92, 0x01};
    CHECK (zkv_cluster_view_probe_answer (v, 4, junk, sizeof junk, events) != 0);
    // Watched from now on: never probed again.
    CHECK (zkv_cluster_view_node (v, 4, true) == 0);
    CHECK_EQ_U64 (zkv_cluster_view_to_probe (v, 100000, ids, 8), 0);
    zkv_cluster_view_destroy (&v);
}

// Bytes that do not decode, a body that is not what its topic says, a topic the view does not
// know, more nodes or groups than it keeps: counted, and the view stays whole.
static void
test_hostile (void)
{
    zkv_cluster_view_config_t cfg;
    zkv_cluster_view_config_defaults (&cfg);
    cfg.max_events = 8;
    cfg.max_nodes = 2;
    cfg.max_groups = 2;
    zkv_cluster_view_t *v = zkv_cluster_view_new (&cfg);
    CHECK (v != NULL);
    uint8_t junk[] = {0xc1, 0xff, 0x00};
    CHECK (zkv_cluster_view_event (v, 1, "zkv.raft.leader", 15, junk, sizeof junk, 0) != 0);
    CHECK (zkv_cluster_view_event (v, 1, "zkv.raft.leader", 15, NULL, 0, 0) != 0);
    // An event_node under a raft topic.
    CHECK (s_node (v, "zkv.raft.leader", 1, 10) != 0);
    CHECK (s_raft (v, "zkv.something.new", 1, 1, 9, 1, ZKV_ROLE_LEADER, 1, 20) == 0);
    uint64_t leader, term;
    zkv_cluster_view_leader (v, 1, &leader, &term);
    CHECK_EQ_U64 (term, 0); // an unknown topic is not believed
    for (uint64_t g = 1; g <= 3; g++)
        CHECK (s_raft (v, "zkv.raft.leader", 1, g, 1, 1, ZKV_ROLE_LEADER, 1, 30) == 0);
    CHECK (zkv_cluster_view_node (v, 2, true) == 0);
    CHECK (zkv_cluster_view_node (v, 3, true) == ZKV_ETOOBIG);
    CHECK (s_raft (v, "zkv.raft.leader", 5, 1, 1, 5, ZKV_ROLE_LEADER, 1, 40) == 0);
    CHECK (zkv_cluster_view_node (v, 0, true) == ZKV_ETOOBIG);
    zkv_cluster_view_counters_t c;
    zkv_cluster_view_counters (v, &c);
    CHECK_EQ_U64 (c.undecoded, 3);
    CHECK_EQ_U64 (c.unknown_topics, 1);
    CHECK_EQ_U64 (c.groups_dropped, 1);
    CHECK_EQ_U64 (c.nodes_dropped, 3);
    char *json = s_render (v, 50);
    CHECK (s_json_ok (json));
    CHECK (strstr (json, "\"body\":{\"type\":\"undecoded\"}") != NULL);
    CHECK (strstr (json, "\"groups\":[1,2]") != NULL);
    free (json);
    zkv_cluster_view_destroy (&v);
    cfg.max_events = 0;
    CHECK (zkv_cluster_view_new (&cfg) == NULL);
    CHECK (zkv_cluster_view_new (NULL) == NULL);
}

ZKV_TEST_MAIN (TEST (test_json_writer) TEST (test_liveness) TEST (test_leader_change)
                   TEST (test_shard_moves) TEST (test_recent_events) TEST (test_beats)
                       TEST (test_probe) TEST (test_hostile))
