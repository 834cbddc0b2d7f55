#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# WebSocket chat fan-out, hiroba against the stack it replaces, on loopback only, bounded in time
# (about 4 minutes with the defaults), cleaning up every process:
#  1. hiroba (release build, 1 worker, SQLite) and the Django Channels peer (bench/peer/channels:
#     daphne, one process, SQLite, in-memory channel layer) run side by side, both pinned to CPU 0;
#     `hiroba bench ws` runs on the other CPUs with --loops = their number. Rooms of MEMBERS
#     sockets, at each rate of RATES messages/s in total (each fanned out to the MEMBERS sockets
#     of its room): delivered messages/s, latency p50/p99, drops, errors, the server's CPU over
#     the run (from the start of sending until every delivery arrived or the drain ended, in %
#     of one core) and deliveries per server CPU-second; medians of RUNS interleaved runs, then
#     the ratio hiroba / Channels of deliveries per CPU-second.
#  2. Saturation, for both servers: the offered rate grows by SAT_STEP from SAT_START_HIROBA
#     (SAT_START_CHANNELS) messages/s until drops or errors appear or the delivered rate stops
#     growing (< 5% over the best so far); the best step with no drop is the max sustained rate,
#     given as deliveries/s (delivered / max(duration, time of the last delivery)) and as
#     deliveries per server CPU-second (the server is confined to one core).
#  3. IDLE idle sockets on hiroba (fewer when the fd limit is lower): RSS per idle connection.
# A final table sums it up against the issue's targets. Between runs each server is given time
# to go idle (an overloaded peer keeps working through its backlog after the client left).
# Settings (environment): HIROBA_BIN (default build/hiroba), MEMBERS (50), RATES ("400 2000"),
# DURATION (seconds per fixed-rate run, 5), RUNS (3), SAT_DURATION (3), SAT_STEP (1.5),
# SAT_START_HIROBA (400), SAT_START_CHANNELS (25), SAT_MAX_STEPS (9), IDLE (10000), LOOPS
# (client loops, default the client's CPUs), SKIP_CHANNELS=1 (hiroba only). REDIS_URL, if set,
# gives the peer channels_redis's RedisChannelLayer.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=ws
# shellcheck source=bench/lib.sh
. bench/lib.sh

HIROBA=${HIROBA_BIN:-$PWD/build/hiroba}
MEMBERS=${MEMBERS:-50}
RATES=${RATES:-400 2000}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
SAT_DURATION=${SAT_DURATION:-3}
SAT_STEP=${SAT_STEP:-1.5}
SAT_START_HIROBA=${SAT_START_HIROBA:-400}
SAT_START_CHANNELS=${SAT_START_CHANNELS:-25}
SAT_MAX_STEPS=${SAT_MAX_STEPS:-9}
IDLE=${IDLE:-10000}
LOOPS=${LOOPS:-$N_CLIENT_CPUS}
SKIP_CHANNELS=${SKIP_CHANNELS:-0}
PEER=$PWD/bench/peer/channels

need "$HIROBA" "$PY"
"$HIROBA" bench ws --help 2>/dev/null | grep -q -- --loops || die "'$HIROBA' has no 'bench ws --loops'"
if [ "$SKIP_CHANNELS" != 1 ]; then
    "$PY" -c 'import channels, daphne, rest_framework_simplejwt' 2>/dev/null ||
        die "python3-django-channels, python3-daphne, python3-djangorestframework-simplejwt needed"
fi
[ ${#SERVER_CPU[@]} -gt 0 ] || echo "ws: one CPU or no taskset: server and client share the CPUs"

# Both processes need an fd per socket (plus some): ask for 65536, settle for the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
if [ "$FD_LIMIT" != unlimited ] && [ "$IDLE" -gt $((FD_LIMIT - 200)) ]; then
    echo "ws: fd limit $FD_LIMIT: idle test with $((FD_LIMIT - 200)) sockets instead of $IDLE"
    IDLE=$((FD_LIMIT - 200))
fi

# ---- servers ----
export HIROBA_SECRET_KEY=ws-bench-secret-key-that-is-long-enough-0123456789
HPORT=$(free_port)
start_hiroba "$HPORT" "$WORK/hiroba.log" --access-ttl 3600 --max-connections $((IDLE + 1000))
declare -A URL=([hiroba]="http://127.0.0.1:$HPORT") PID=([hiroba]=$HIROBA_PID)
SERVERS=(hiroba)
if [ "$SKIP_CHANNELS" != 1 ]; then
    CPORT=$(free_port)
    export PEER_DB=$WORK/peer.sqlite3 PYTHONDONTWRITEBYTECODE=1
    (cd "$PEER" && "$PY" manage.py migrate --run-syncdb -v0) || die "peer migrate failed"
    (cd "$PEER" && exec "${SERVER_CPU[@]}" "$PY" -m daphne -b 127.0.0.1 -p "$CPORT" -v 0 \
        chanpeer.asgi:application) >"$WORK/daphne.log" 2>&1 &
    PID[channels]=$!
    PIDS+=("${PID[channels]}")
    URL[channels]="http://127.0.0.1:$CPORT"
    wait_ready "${URL[channels]}/api/rooms/"
    SERVERS+=(channels)
fi
declare -A LABEL=([hiroba]="hiroba" [channels]="Channels (daphne)")

# wait_idle PID: up to 20 s until the process uses under 5% of a core over 0.5 s.
wait_idle() {
    local t0 t1
    for _ in $(seq 40); do
        t0=$(cpu_ticks "$1")
        sleep 0.5
        t1=$(cpu_ticks "$1")
        [ $(((t1 - t0) * 100 / 50)) -lt $(($(getconf CLK_TCK) * 5 / 100 + 1)) ] && return 0
    done
    echo "ws: pid $1 still busy after 20 s" >&2
}

# run NAME RATE_PER_SOCKET SECONDS OUT: one bench ws run against server NAME; the JSON report
# goes to OUT (empty if the client failed before reporting) and its stderr to OUT.err.
run() {
    local name=$1 rate=$2 secs=$3 out=$4
    wait_idle "${PID[$name]}"
    timeout $((secs + 120)) "${CLIENT_CPU[@]}" "$HIROBA" bench ws -q --json -c "$MEMBERS" \
        --rooms 1 --loops "$LOOPS" --rate "$rate" --duration "${secs}s" --drain 2s \
        --server-pid "${PID[$name]}" "${URL[$name]}" >"$out" 2>"$out.err" || true
    [ -s "$out" ] || echo "ws: $name at $rate/s per socket failed: $(head -c 300 "$out.err")" >&2
}

# fields FILE...: "delivered/s p50_ms p99_ms drops errors cpu% per_cpu_s sustained/s" per report.
fields() {
    "$PY" - "$@" <<'PYEOF'
import json, sys
for path in sys.argv[1:]:
    try:
        r = json.load(open(path))
    except Exception:
        print("nan nan nan nan nan nan nan nan")
        continue
    srv = r.get("server") or {}
    cpu, win = srv.get("cpu_s", 0), srv.get("window_s", 0)
    per_cpu = r["delivered"] / cpu if cpu > 0 else float("nan")
    sustained = r["delivered"] / max(r["duration_s"], r["last_delivery_s"])
    print("%.0f %.3f %.3f %d %d %.0f %.0f %.0f" % (
        r["delivered_per_s"], r["latency_ns"]["p50"] / 1e6, r["latency_ns"]["p99"] / 1e6,
        r["drops"], r["errors"], 100 * cpu / win if win > 0 else float("nan"), per_cpu, sustained))
PYEOF
}
col() { awk -v c="$1" '{print $c}' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0 && a == a + 0) printf "%.1f", a / b; else print "-"}'; }

echo "== rooms of $MEMBERS sockets; servers: one process on CPU 0${SERVER_CPU:+ (taskset)};" \
    "client: hiroba bench ws --loops $LOOPS${CLIENT_CPU:+ on CPUs ${CLIENT_CPU[2]}}"
# Warm-up (discarded): the account, the room, Python's imports and caches.
for name in "${SERVERS[@]}"; do run "$name" 1 1 "$WORK/warm-$name.json"; done

# ---- 1. fixed rates ----
for i in $(seq "$RUNS"); do
    for total in $RATES; do
        rate=$("$PY" -c "print($total / $MEMBERS)")
        for name in "${SERVERS[@]}"; do run "$name" "$rate" "$DURATION" "$WORK/fixed-$name-$total-$i.json"; done
    done
done
echo
echo "== fixed rates, ${DURATION}s each, median of $RUNS interleaved runs"
printf '  %-18s %7s %12s %9s %9s %8s %6s %6s %14s\n' server "msgs/s" "delivered/s" "p50 ms" \
    "p99 ms" drops errors cpu "deliv/CPU-s"
declare -A FIX
for total in $RATES; do
    for name in "${SERVERS[@]}"; do
        f=$(fields "$WORK"/fixed-"$name"-"$total"-*.json)
        for c in 1 2 3 4 5 6 7; do FIX[$name,$total,$c]=$(col "$c" <<<"$f"); done
        printf '  %-18s %7s %12.0f %9.2f %9.2f %8.0f %6.0f %5.0f%% %14.0f\n' "${LABEL[$name]}" "$total" \
            "${FIX[$name,$total,1]}" "${FIX[$name,$total,2]}" "${FIX[$name,$total,3]}" \
            "${FIX[$name,$total,4]}" "${FIX[$name,$total,5]}" "${FIX[$name,$total,6]}" \
            "${FIX[$name,$total,7]}"
    done
done
echo "  (cpu: the server's user + sys from the start of sending until every delivery arrived or"
echo "   the 2 s drain ended, in % of one core; deliv/CPU-s: deliveries per server CPU-second)"

# ---- 2. saturation ----
declare -A SAT
saturate() {
    local name=$1 total=$2 best=0 best_line="" step line d drops errors sus
    echo " ${LABEL[$name]}:"
    for step in $(seq "$SAT_MAX_STEPS"); do
        rate=$("$PY" -c "print($total / $MEMBERS)")
        run "$name" "$rate" "$SAT_DURATION" "$WORK/sat-$name-$step.json"
        line=$(fields "$WORK/sat-$name-$step.json")
        read -r d _ p99 drops errors cpu per sus <<<"$line"
        printf '   %8.0f msgs/s in: %10.0f delivered/s, p99 %9.2f ms, %6s drops, %s errors, cpu %s%%, %s/CPU-s\n' \
            "$total" "$sus" "$p99" "$drops" "$errors" "$cpu" "$per"
        if [ "$drops" != 0 ] || [ "$errors" != 0 ]; then break; fi
        if awk -v s="$sus" -v b="$best" 'BEGIN {exit !(s < 1.05 * b)}'; then break; fi
        best=$sus
        best_line="$total $line"
        total=$("$PY" -c "print(round($total * $SAT_STEP))")
    done
    SAT[$name]=${best_line:-"0 0 0 0 0 0 0 0 0"}
}
echo
echo "== saturation: ${SAT_DURATION}s steps, offered rate x$SAT_STEP until drops or no growth"
saturate hiroba "$SAT_START_HIROBA"
[ "$SKIP_CHANNELS" = 1 ] || saturate channels "$SAT_START_CHANNELS"

# ---- 3. idle sockets (hiroba) ----
echo
echo "== $IDLE idle hiroba sockets (rooms of $MEMBERS): server RSS"
wait_idle "${PID[hiroba]}"
rss0=$(rss_kib "${PID[hiroba]}")
"${CLIENT_CPU[@]}" "$HIROBA" bench ws -c "$IDLE" --rooms $(((IDLE + MEMBERS - 1) / MEMBERS)) \
    --rate 0 --duration 4s --drain 100ms --json "${URL[hiroba]}" >"$WORK/idle.json" \
    2>"$WORK/idle.err" &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
# The bench says "N sockets open in Xs" on stderr once the ramp is over.
for _ in $(seq 600); do
    grep -q "sockets open in" "$WORK/idle.err" && break
    kill -0 "$IDLE_PID" 2>/dev/null || break
    sleep 0.1
done
sleep 2 # let the server settle (allocator, queues)
rss1=$(rss_kib "${PID[hiroba]}")
grep -h "sockets open in" "$WORK/idle.err" | sed 's/^hiroba bench ws: /   /' || true
wait "$IDLE_PID" || true
open=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["connected"])' \
    "$WORK/idle.json" 2>/dev/null || echo 0)
[ "$open" -gt 0 ] || die "idle run failed: $(cat "$WORK/idle.err")"
per_idle=$("$PY" -c "print('%.0f' % (($rss1 - $rss0) * 1024 / $open))")
echo "   RSS before $((rss0 / 1024)) MiB, with $open idle sockets $((rss1 / 1024)) MiB:" \
    "$per_idle bytes per idle connection"

# ---- summary ----
echo
echo "== summary (rooms of $MEMBERS; servers on one core; medians of $RUNS at fixed rates)"
printf '  %-56s %14s %14s %8s\n' "" hiroba Channels ratio
for total in $RATES; do
    h=${FIX[hiroba,$total,1]}
    c=${FIX[channels,$total,1]:-}
    printf '  %-56s %14.0f %14s %8s\n' "$total msgs/s in: delivered/s" "$h" "${c:--}" "$(ratio "$h" "${c:-0}")"
    printf '  %-56s %14s %14s\n' "$total msgs/s in: p50 / p99 ms" \
        "$(printf '%.2f / %.2f' "${FIX[hiroba,$total,2]}" "${FIX[hiroba,$total,3]}")" \
        "$(printf '%.0f / %.0f' "${FIX[channels,$total,2]:-0}" "${FIX[channels,$total,3]:-0}")"
    printf '  %-56s %14.0f %14s\n' "$total msgs/s in: drops (median)" "${FIX[hiroba,$total,4]}" \
        "${FIX[channels,$total,4]:--}"
    printf '  %-56s %13.0f%% %13s%%\n' "$total msgs/s in: server CPU" "${FIX[hiroba,$total,6]}" \
        "${FIX[channels,$total,6]:--}"
    h=${FIX[hiroba,$total,7]}
    c=${FIX[channels,$total,7]:-}
    printf '  %-56s %14.0f %14s %8s\n' "$total msgs/s in: deliveries per server CPU-second" "$h" \
        "${c:--}" "$(ratio "$h" "${c:-0}")"
done
read -r hin _ _ _ _ _ _ hper hsus <<<"${SAT[hiroba]}"
read -r cin _ _ _ _ _ _ cper csus <<<"${SAT[channels]:-0 0 0 0 0 0 0 0 0}"
printf '  %-56s %14.0f %14.0f %8s\n' "saturation: offered msgs/s at the best step" "$hin" "$cin" ""
printf '  %-56s %14.0f %14.0f %8s\n' "saturation: max sustained deliveries/s (target ratio >= 50)" \
    "$hsus" "$csus" "$(ratio "$hsus" "$csus")"
printf '  %-56s %14.0f %14.0f %8s\n' "saturation: deliveries per server CPU-second (>= 1 000 000)" \
    "$hper" "$cper" "$(ratio "$hper" "$cper")"
printf '  %-56s %14s\n' "RSS per idle connection, bytes (target <= 4096)" "$per_idle"
grep -i "error\|sanitizer" "$WORK/hiroba.log" >&2 || true
