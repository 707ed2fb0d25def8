#!/bin/bash
# status_page.sh: the status page (actors/www/status.html) in a real browser. Headless Chromium,
# driven through chromedriver's WebDriver API (webdriver.py), loads a node's page while a
# 3-node cluster (groups 0, 1 and 2 on every node) runs, and reads what it shows, as a person
# would see it:
#   1. group 1's leader, the one `zkv status` names, and that node alive; nothing the page
#      loaded came from another origin;
#   2. a shard moved (`zkv ctrl move`): the shard map shows the shard in its new group and the
#      move is listed;
#   3. kill -9 of group 1's leader: the page shows another leader (the one `zkv status` then
#      names, in a higher term), the killed node dead (3 missed beats), and the election among
#      the recent events; how long each took after the kill is printed.
# Every wait has a deadline (DEADLINE seconds, 30). A failure says what the page never showed,
# keeps the cluster's logs, the chromedriver log and a screenshot (page.png) in the temp dir.
#
#     ZKV_BUILD=build status_page.sh [--query '?interval=0'] [--deadline S]
#
# --query is added to the page's URL: '?interval=0' loads it once and never updates it, which
# must fail (ctest cluster.status_page_detects_frozen). Needs python3, curl, chromium and
# chromium-driver (Debian's packages; CHROMIUM and CHROMEDRIVER override their paths).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/cluster.sh"

query=""
deadline=30
while [ $# -gt 0 ]; do
    case $1 in
    --query) query=$2 ;;
    --deadline) deadline=$2 ;;
    *) echo "usage: status_page.sh [--query Q] [--deadline S]" >&2; exit 2 ;;
    esac
    shift 2
done
: "${CHROMIUM:=/usr/bin/chromium}"
: "${CHROMEDRIVER:=/usr/bin/chromedriver}"

WD_PGID=  # chromedriver's process group (it and the browsers it starts)
WD_URL=   # its WebDriver endpoint
WD_SESSION=

wd () {
    python3 "$here/webdriver.py" "$1" "$WD_URL" "${@:2}"
}

# Closes the browser, stops chromedriver's process group, then the cluster's trap.
s_cleanup () {
    local rc=$?
    set +e
    if [ -n "$WD_SESSION" ]; then
        [ "$rc" = 0 ] || wd shot "$WD_SESSION" "$CL_DIR/page.png" 2> /dev/null
        wd quit "$WD_SESSION" 2> /dev/null
    fi
    if [ -n "$WD_PGID" ]; then
        kill -TERM -- "-$WD_PGID" 2> /dev/null
        for _ in $(seq 50); do kill -0 -- "-$WD_PGID" 2> /dev/null || break; sleep 0.1; done
        kill -KILL -- "-$WD_PGID" 2> /dev/null
    fi
    (exit "$rc")
    cl_cleanup
}

# s_wait WHAT JS: waits until JS (a function body run in the page) returns something true;
# prints it. Dies saying the page never showed WHAT.
s_wait () {
    local what=$1 js=$2 out
    if ! out=$(wd wait "$WD_SESSION" "$deadline" "$js"); then
        cl_die "the page never showed $what within $deadline s"
    fi
    echo "$out" | tr -d '"'
}

s_now_ms () {
    date +%s%3N
}

for t in python3 curl "$CHROMIUM" "$CHROMEDRIVER"; do
    command -v "$t" > /dev/null || { echo "status_page.sh: $t is missing (tools/dev.sh deps installs it)" >&2; exit 1; }
done

CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
cl_init 3 lo
trap s_cleanup EXIT
cl_start_all
cl_wait_leaders 20

# chromedriver on this run's last port (cluster.sh's range: CL_BASE..CL_BASE+39), in a process
# group of its own so that it and its browsers go together.
wd_port=$((CL_BASE + 39))
WD_URL="http://127.0.0.1:$wd_port"
setsid "$CHROMEDRIVER" --port="$wd_port" --log-path="$CL_DIR/chromedriver.log" > /dev/null 2>&1 &
WD_PGID=$!
s_driver_ready () {
    curl -sf "$WD_URL/status" | grep -q '"ready": *true'
}
cl_wait_until 20 "chromedriver on port $wd_port (log: $CL_DIR/chromedriver.log)" s_driver_ready
WD_SESSION=$(wd start "$CHROMIUM") || cl_die "no browser session (log: $CL_DIR/chromedriver.log)"

# The page is read on a node that outlives the kill: one that does not lead group 1.
s_load () {
    page_node=$1
    url="$(cl_http_url "$page_node")/$query"
    cl_log "loading node $page_node's page: $url"
    wd go "$WD_SESSION" "$url" || cl_die "the browser could not load $url"
}
leader=$(cl_leader 1)
s_load $((leader == 1 ? 2 : 1))

# 1. Group 1's leader, alive, the one zkv status names (elections right after the start may
# move it: the page and zkv status must agree at one moment).
shown_leader_js="
    const g = document.getElementById ('group-1');
    const n = g ? document.getElementById ('node-' + g.dataset.leader) : null;
    return g && n && n.dataset.liveness === 'alive'
        ? g.dataset.leader + ' ' + g.dataset.term + ' ' + g.querySelector ('.leader').textContent
        : '';"
agreed=""
give_up=$((SECONDS + deadline))
while [ -z "$agreed" ]; do
    [ $SECONDS -lt $give_up ] ||
        cl_die "the page never showed group 1's leader that zkv status names (node ${leader:-none}) within $deadline s"
    shown=$(wd eval "$WD_SESSION" "$shown_leader_js" | tr -d '"') || cl_die "cannot read the page"
    leader=$(cl_leader 1)
    if [ -n "$shown" ] && [ "${shown%% *}" = "$leader" ]; then
        if [ "$leader" = "$page_node" ]; then # it moved to the page's node: read another
            s_load $((leader == 1 ? 2 : 1))
        else
            agreed=$shown
        fi
    fi
    sleep 0.2
done
shown=$agreed
cl_log "the page shows group 1's leader: ${shown#* * }, term $(echo "$shown" | cut -d' ' -f2)"
term=$(echo "$shown" | cut -d' ' -f2)
foreign=$(wd eval "$WD_SESSION" "
    return performance.getEntriesByType ('resource').map (e => e.name)
        .filter (n => !n.startsWith (location.origin))
        .concat ([...document.querySelectorAll ('script[src], link[rel=stylesheet], img[src]')]
                 .map (e => e.src || e.href));") || cl_die "cannot read the page's resources"
[ "$foreign" = "[]" ] || cl_die "the page loaded something from elsewhere: $foreign"

# 2. A shard moves: shard 0 (group 1's under the first configuration) to group 2.
[ "$(s_wait "shard 0 in group 1" "
    const s = document.getElementById ('shard-0'); return s ? s.dataset.group : '';")" = 1 ] ||
    cl_die "the page shows shard 0 outside group 1 under configuration 1"
out=$(cl_zkv --timeout 10000 ctrl move 0 2 2>&1) || cl_die "zkv ctrl move 0 2: $out"
cl_log "zkv ctrl move 0 2: $out"
moved=$(s_wait "shard 0 moved to group 2" "
    const s = document.getElementById ('shard-0');
    const m = [...document.querySelectorAll ('#moves tbody tr')].find (r => r.id.endsWith ('-0'));
    return s && m && s.dataset.group === '2' && s.title.indexOf ('moving') < 0
        ? 'configuration ' + document.getElementById ('config').textContent + ', move: ' +
          m.innerText.replace (/\s+/g, ' ') : '';")
cl_log "the page shows the move: $moved"

# 3. kill -9 of the leader: a new one shown, the old one dead.
t0=$(s_now_ms)
cl_kill "$leader" KILL
cl_log "killed node $leader (kill -9)"
shown=$(s_wait "a new leader of group 1 after node $leader was killed" "
    const g = document.getElementById ('group-1');
    return g && g.dataset.leader !== '' && g.dataset.leader !== '$leader' &&
           g.dataset.leaderLiveness === 'alive'
        ? g.dataset.leader + ' ' + g.dataset.term + ' ' + g.querySelector ('.leader').textContent
        : '';")
t_leader=$(($(s_now_ms) - t0))
new_leader=${shown%% *}
rest=${shown#* }
new_term=${rest%% *}
cl_log "the page shows the new leader ${t_leader} ms after the kill: ${rest#* }, term $new_term"
dead=$(s_wait "node $leader dead" "
    const n = document.getElementById ('node-$leader');
    return n && n.dataset.liveness === 'dead' ? n.innerText.replace (/\s+/g, ' ') : '';")
t_dead=$(($(s_now_ms) - t0))
cl_log "the page shows node $leader dead ${t_dead} ms after the kill: $dead"
[ "$new_term" -gt "$term" ] || cl_die "the new leader's term ($new_term) is not above $term"
cl_wait_leaders 20
status_leader=$(cl_leader 1)
[ "$status_leader" = "$new_leader" ] ||
    cl_die "the page shows node $new_leader leading group 1, zkv status says node $status_leader"
s_wait "node $new_leader's election among the recent events" "
    return [...document.querySelectorAll ('#events tr')].some (r =>
        r.textContent.includes ('zkv.raft.leader') && r.textContent.includes ('leader=$new_leader') &&
        r.textContent.includes ('group=1')) ? 'yes' : '';" > /dev/null
wd shot "$WD_SESSION" "$CL_DIR/page.png" || true
cl_log "status page: leader shown after ${t_leader} ms, node dead after ${t_dead} ms"
echo "1 passed, 0 failed"
cl_pass
