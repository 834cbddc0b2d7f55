#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# WebSocket chat benchmark, on loopback only, bounded in time, cleaning up every process:
#  1. hiroba (release build, 1 worker, no access log, a temporary SQLite database) under
#     `hiroba bench ws` with rooms of MEMBERS sockets, at 400 and at 2000 messages/s in total
#     (every message fanned out to the MEMBERS sockets of its room): delivered messages/s,
#     latency p50/p99, drops, the server's CPU (utime + stime from /proc/<pid>/stat, as a share
#     of one core over the run) and its RSS at the end.
#  2. IDLE idle sockets (default 10,000; fewer when the fd limit is lower): the server's RSS
#     before and while they are open, and the RSS per idle connection.
# Settings (environment): MEMBERS (default 50), DURATION (seconds, default 10), IDLE,
# RATES (total messages/s, default "400 2000"), HIROBA_BIN (default build/hiroba).
set -euo pipefail
cd "$(dirname "$0")/.."

HIROBA=${HIROBA_BIN:-$PWD/build/hiroba}
PY=/usr/bin/python3
MEMBERS=${MEMBERS:-50}
DURATION=${DURATION:-10}
IDLE=${IDLE:-10000}
RATES=${RATES:-400 2000}

die() {
    echo "ws: $*" >&2
    exit 1
}

[ -x "$HIROBA" ] || die "'$HIROBA' not found (make build-c)"
"$HIROBA" bench ws --help >/dev/null 2>&1 || die "'$HIROBA' has no 'bench ws' command"

# Both processes need an fd per socket (plus some): ask for 65536, settle for the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
if [ "$FD_LIMIT" != unlimited ] && [ "$IDLE" -gt $((FD_LIMIT - 200)) ]; then
    echo "ws: fd limit $FD_LIMIT: idle test with $((FD_LIMIT - 200)) sockets instead of $IDLE"
    IDLE=$((FD_LIMIT - 200))
fi

WORK=$(mktemp -d /tmp/hiroba-ws.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready URL: polls until URL answers (10 s at most).
wait_ready() {
    "$PY" - "$1" <<'EOF' || die "nothing answers at $1"
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# cpu_ticks PID: utime + stime in clock ticks (fields 14 and 15 after the command name).
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# rss_kib PID: resident set size in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

export HIROBA_SECRET_KEY=ws-bench-secret-key-that-is-long-enough-0123456789
PORT=$(free_port)
DB="sqlite:///$WORK/db.sqlite3"
URL="http://127.0.0.1:$PORT"
"$HIROBA" migrate --database "$DB" >/dev/null 2>&1 || die "migrate failed"
mkdir -p "$WORK/static"
"$HIROBA" serve --listen "127.0.0.1:$PORT" --database "$DB" --workers 1 --access-log off \
    --access-ttl 3600 --max-connections $((IDLE + 1000)) --static-dir "$WORK/static" \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=($SERVER)
wait_ready "$URL/healthz"
HZ=$(getconf CLK_TCK)

# field JSON KEY...: prints the values of the keys (latency_ns.* allowed) of a bench ws report.
field() {
    "$PY" - "$@" <<'EOF'
import json, sys
rep = json.loads(sys.argv[1])
out = []
for key in sys.argv[2:]:
    v = rep
    for part in key.split("."):
        v = v[part]
    out.append(str(v))
print(" ".join(out))
EOF
}

echo "== hiroba bench ws: rooms of $MEMBERS sockets, ${DURATION}s per rate, server: 1 worker, SQLite"
printf '%-10s %12s %14s %10s %10s %8s %7s %9s %9s\n' "msgs/s" "sent/s" "delivered/s" "p50" "p99" \
    "drops" "errors" "cpu" "rss"
for total in $RATES; do
    rate=$("$PY" -c "print($total / $MEMBERS)")
    t0=$(cpu_ticks "$SERVER")
    w0=$(date +%s.%N)
    json=$(timeout $((DURATION + 120)) "$HIROBA" bench ws -q --json -c "$MEMBERS" --rooms 1 \
        --rate "$rate" --duration "${DURATION}s" "$URL" 2>"$WORK/bench.err") || true
    t1=$(cpu_ticks "$SERVER")
    w1=$(date +%s.%N)
    rss=$(rss_kib "$SERVER")
    if [ -z "$json" ]; then
        echo "ws: bench failed at $total msgs/s: $(cat "$WORK/bench.err")" >&2
        continue
    fi
    read -r sent_s deliv_s p50 p99 drops errors <<<"$(field "$json" sent_per_s delivered_per_s \
        latency_ns.p50 latency_ns.p99 drops errors)"
    cpu=$("$PY" -c "print('%.0f%%' % (100 * ($t1 - $t0) / $HZ / ($w1 - $w0)))")
    printf '%-10s %12s %14s %9.2fms %9.2fms %8s %7s %9s %6d MiB\n' "$total" "$sent_s" "$deliv_s" \
        "$("$PY" -c "print($p50 / 1e6)")" "$("$PY" -c "print($p99 / 1e6)")" "$drops" "$errors" \
        "$cpu" $((rss / 1024))
    [ -s "$WORK/bench.err" ] && sed 's/^/    /' "$WORK/bench.err"
done
echo "   (cpu: server user+sys over the whole run, connects and drain included, in % of one core)"

echo
echo "== $IDLE idle sockets (one room each of $MEMBERS), server RSS"
rss0=$(rss_kib "$SERVER")
HOLD=$((IDLE / 1000 + 20))
"$HIROBA" bench ws -c "$IDLE" --rooms $(((IDLE + MEMBERS - 1) / MEMBERS)) --rate 0 \
    --duration "${HOLD}s" --drain 100ms --json "$URL" >"$WORK/idle.json" 2>"$WORK/idle.err" &
IDLE_PID=$!
PIDS+=($IDLE_PID)
# The bench says "N sockets open in Xs" on stderr once the ramp is over.
for _ in $(seq 1 600); do
    grep -q "sockets open in" "$WORK/idle.err" && break
    kill -0 "$IDLE_PID" 2>/dev/null || break
    sleep 0.1
done
sleep 2 # let the server settle (allocator, queues)
rss1=$(rss_kib "$SERVER")
grep -h "sockets open in" "$WORK/idle.err" | sed 's/^hiroba bench ws: /   /' || true
wait "$IDLE_PID" || true
open=$(field "$(cat "$WORK/idle.json")" connected 2>/dev/null || echo 0)
[ "$open" -gt 0 ] || die "idle run failed: $(cat "$WORK/idle.err")"
echo "   RSS before $((rss0 / 1024)) MiB, with $open idle sockets $((rss1 / 1024)) MiB:" \
    "$("$PY" -c "print('%.1f' % (($rss1 - $rss0) * 1024 / $open))") bytes per idle connection"
