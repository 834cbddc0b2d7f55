#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scale-out (issue #8): what PostgreSQL and Redis cost and what a second instance gives, on
# loopback only, bounded in time (about 4 to 5 minutes with the defaults), every process stopped
# at the end. A private PostgreSQL 15 cluster (initdb in a temporary directory, trust auth on
# 127.0.0.1, fsync off, as the `postgres` user when run as root) and a redis-server without
# persistence are started here. Servers (hiroba, postgres, redis-server, daphne) are pinned to
# CPU 0, the clients (wrk, `hiroba bench ws`) to the other CPUs, like the other bench scripts.
#  1. REST, hiroba on PostgreSQL against hiroba on SQLite (one instance, one worker each, 100
#     topics): authenticated GET /api/topics/ and authenticated POST /api/replies/ (a small
#     reply; /api/topics/<id>/replies/ is read-only, API.md §4.1), wrk -t1 -cCONNS, RUNS
#     interleaved runs of DUR seconds; medians of req/s and p99; the ratios PostgreSQL : SQLite,
#     and PostgreSQL with the API handlers as fibers on the loop (the default) : on the thread
#     pool (HIROBA_OFFLOAD_HANDLERS=pool).
#  2. Chat: one hiroba instance on PostgreSQL (no Redis: a single instance does not need it)
#     against two instances on one PostgreSQL database and one Redis, the same ROOMS rooms of
#     MEMBERS sockets (`hiroba bench ws URL_A URL_B` puts the members of every room on both
#     instances), RATE messages/s in; medians of RUNS interleaved runs of CHAT_DUR seconds:
#     deliveries/s, drops, p50/p99, hiroba's CPU summed over its instances, deliveries per
#     hiroba CPU-second, and the CPU of PostgreSQL and Redis over the run. RATE is one both
#     sustain on the servers' one core (hiroba and PostgreSQL share it: every message is an
#     insert); one run each at SAT_RATE (above it) with a 15 s drain gives the saturated rate
#     (deliveries / time to the last one) and the messages never delivered at all.
#  3. The Django Channels peer (bench/peer/channels) as the seed stack would scale it: two daphne
#     processes on one SQLite file and one Redis (channels_redis's RedisChannelLayer), the same
#     rooms, sockets spread over both the same way: at CH_RATE messages/s in (RUNS runs) and one
#     CH_DUR-second run at RATE (the load hiroba gets; 10 s drain): deliveries/s and drops.
# A final table sums it up; the issue's target is two instances >= 0.8x one instance in
# deliveries per server core-second.
# Settings (environment): HIROBA_BIN (default build/hiroba), PG_BIN (/usr/lib/postgresql/15/bin),
# DUR (5), RUNS (3), CONNS (32), TOPICS (100), MEMBERS (50), ROOMS (2), RATE (1000), SAT_RATE
# (2000), CHAT_DUR (5), CH_RATE (100), CH_DUR (3), LOOPS (client loops, default the client CPUs),
# SKIP_REST=1 (no part 1), SKIP_CHANNELS=1 (no part 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=scale
# shellcheck source=bench/lib.sh
. bench/lib.sh

HIROBA=${HIROBA_BIN:-$PWD/build/hiroba}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DUR=${DUR:-5}
RUNS=${RUNS:-3}
CONNS=${CONNS:-32}
TOPICS=${TOPICS:-100}
MEMBERS=${MEMBERS:-50}
ROOMS=${ROOMS:-2}
RATE=${RATE:-1000}
SAT_RATE=${SAT_RATE:-2000}
CHAT_DUR=${CHAT_DUR:-5}
CH_RATE=${CH_RATE:-100}
CH_DUR=${CH_DUR:-3}
LOOPS=${LOOPS:-$N_CLIENT_CPUS}
SKIP_CHANNELS=${SKIP_CHANNELS:-0}
SKIP_REST=${SKIP_REST:-0}
PEER=$PWD/bench/peer/channels
SOCKETS=$((MEMBERS * ROOMS))
# Only what this script passes: an inherited database or Redis must not reach a server.
unset DATABASE_URL REDIS_URL HIROBA_WORKERS

need "$HIROBA" wrk curl "$PY" redis-server "$PG_BIN/initdb" "$PG_BIN/postgres" "$PG_BIN/psql"
"$HIROBA" bench ws --help 2>/dev/null | grep -q "URL \[URL...\]" ||
    die "'$HIROBA' has no multi-URL 'bench ws' (make build-c)"
if [ "$SKIP_CHANNELS" != 1 ]; then
    "$PY" -c 'import channels, channels_redis, daphne, rest_framework_simplejwt' 2>/dev/null ||
        die "python3-django-channels, python3-channels-redis, python3-daphne and" \
            "python3-djangorestframework-simplejwt needed"
fi
[ ${#SERVER_CPU[@]} -gt 0 ] || echo "scale: one CPU or no taskset: servers and clients share the CPUs"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HZ=$(getconf CLK_TCK)

# ---- PostgreSQL and Redis ----
# As root, postgres runs as the `postgres` user (it refuses root); setpriv execs, so the PID we
# keep is postgres's own and the cleanup signals the postmaster itself.
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian package postgresql)"
    need setpriv
    AS=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
PG_PID=
# Servers first (they hold database connections), then postgres with SIGINT (a fast shutdown:
# a smart one would wait for sessions), then lib.sh's cleanup of the rest and of WORK.
scale_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    if [ -n "$PG_PID" ]; then
        kill -INT "$PG_PID" 2>/dev/null || true
        wait "$PG_PID" 2>/dev/null || true
    fi
    bench_cleanup
}
trap scale_cleanup EXIT

chmod 755 "$WORK"
mkdir -p "$WORK/pg/sock"
[ ${#AS[@]} -eq 0 ] || chown -R postgres: "$WORK/pg"
(cd "$WORK/pg" && "${AS[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync) >"$WORK/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$WORK/initdb.log")"
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$WORK/pg/data/pg_hba.conf"
PG_PORT=$(free_port)
(cd "$WORK/pg" && exec "${SERVER_CPU[@]}" "${AS[@]}" "$PG_BIN/postgres" -D "$WORK/pg/data" \
    -p "$PG_PORT" -h 127.0.0.1 -k "$WORK/pg/sock" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB -c timezone=UTC) \
    >"$WORK/postgres.log" 2>&1 &
PG_PID=$!
psql_do() {
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"
}
for _ in $(seq 300); do
    psql_do "SELECT 1" >/dev/null 2>&1 && break
    kill -0 "$PG_PID" 2>/dev/null || die "postgres exited: $(tail -5 "$WORK/postgres.log")"
    sleep 0.1
done
psql_do "SELECT 1" >/dev/null || die "postgres does not answer: $(tail -5 "$WORK/postgres.log")"
pg_url() { echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"; }
for db in scale_rest scale_rest_pool scale_one scale_two; do psql_do "CREATE DATABASE $db"; done

# The whole cluster's CPU ticks: the postmaster, what it reaped from exited children, and the
# children alive now (each hiroba pool thread keeps a backend).
pg_ticks() {
    local total pid
    total=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$PG_PID/stat")
    for pid in $(ps -o pid= --ppid "$PG_PID"); do
        total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

REDIS_PORT=$(free_port)
(cd "$WORK" && exec "${SERVER_CPU[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$WORK" --daemonize no) >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
REDIS=redis://127.0.0.1:$REDIS_PORT
for _ in $(seq 100); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $REDIS_PORT), 1)" 2>/dev/null && break
    sleep 0.1
done

# ---- hiroba instances ----
export HIROBA_SECRET_KEY=scale-bench-secret-key-that-is-long-enough-0123456789
mkdir -p "$WORK/static"
# instance NAME DB [REDIS]: migrates DB and starts one hiroba (1 worker, pinned) on a free port;
# sets IPORT and IPID.
instance() {
    local name=$1 db=$2 redis=${3:-}
    "$HIROBA" migrate --database "$db" >"$WORK/$name.migrate.log" 2>&1 ||
        die "hiroba migrate $db failed: $(tail -3 "$WORK/$name.migrate.log")"
    IPORT=$(free_port)
    "${SERVER_CPU[@]}" "$HIROBA" serve --listen "127.0.0.1:$IPORT" --database "$db" \
        --workers 1 --access-log off --access-ttl 3600 --max-connections 20000 \
        --static-dir "$WORK/static" ${redis:+--redis "$redis"} >"$WORK/$name.log" 2>&1 &
    IPID=$!
    PIDS+=("$IPID")
    wait_ready "http://127.0.0.1:$IPORT/healthz"
}

# seed URL: registers and logs in "bench", creates a category and TOPICS topics; prints
# "TOKEN TOPIC_ID" (the first topic, the one replies go to).
seed() {
    "$PY" - "$1" "$TOPICS" <<'PYEOF'
import json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
def call(path, body, token=None):
    req = urllib.request.Request(url + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)
call("/api/register/", {"username": "bench", "password": "bench-password-0123",
                        "password_confirm": "bench-password-0123"})
token = call("/api/token/", {"username": "bench", "password": "bench-password-0123"})["access"]
cat = call("/api/categories/", {"name": "bench"}, token)["id"]
first = None
for i in range(n):
    t = call("/api/topics/", {"category": cat, "comment": "topic %d: ベンチマーク用の書き込み" % i}, token)
    first = first or t["id"]
print(token, first)
PYEOF
}

declare -A URL PID TOKEN TOPIC
if [ "$SKIP_REST" != 1 ]; then
    instance rest-sqlite "sqlite:///$WORK/rest.sqlite3"
    URL[sqlite]=http://127.0.0.1:$IPORT PID[sqlite]=$IPID
    instance rest-pg "$(pg_url scale_rest)"
    URL[pg]=http://127.0.0.1:$IPORT PID[pg]=$IPID
    # The same on PostgreSQL with the API handlers on the thread pool (blocking waits there)
    # instead of fibers on the loop: what the non-blocking path gains.
    HIROBA_OFFLOAD_HANDLERS=pool instance rest-pgpool "$(pg_url scale_rest_pool)"
    URL[pgpool]=http://127.0.0.1:$IPORT PID[pgpool]=$IPID
    for b in sqlite pg pgpool; do
        read -r TOKEN[$b] TOPIC[$b] <<<"$(seed "${URL[$b]}")"
        n=$(curl -sf -H "Authorization: Bearer ${TOKEN[$b]}" "${URL[$b]}/api/topics/" |
            "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
        [ "$n" = "$TOPICS" ] || die "hiroba on $b lists $n topics, not $TOPICS"
        # wrk's POST: a small reply to the first topic.
        cat >"$WORK/reply-$b.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"topic":${TOPIC[$b]},"comment":"返信: ベンチマーク用の短い書き込み"}'
wrk.headers["Content-Type"] = "application/json"
EOF
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer ${TOKEN[$b]}" \
            -H 'Content-Type: application/json' --data "{\"topic\":${TOPIC[$b]},\"comment\":\"x\"}" \
            "${URL[$b]}/api/replies/")
        [ "$code" = 201 ] || die "POST /api/replies/ on $b answered $code"
    done

    # ---- 1. REST ----
    rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
    p99_ms() {
        awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
            if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v }' "$1"
    }
    echo "== 1. REST: wrk -t1 -c$CONNS -d${DUR}s, $RUNS interleaved runs (hiroba, 1 worker, on CPU 0)"
    for i in $(seq "$RUNS"); do
        for b in sqlite pg pgpool; do
            "${CLIENT_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency \
                -H "Authorization: Bearer ${TOKEN[$b]}" "${URL[$b]}/api/topics/" >"$WORK/get-$b.$i"
            "${CLIENT_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/reply-$b.lua" \
                -H "Authorization: Bearer ${TOKEN[$b]}" "${URL[$b]}/api/replies/" >"$WORK/post-$b.$i"
        done
    done
    : >"$WORK/rest.tsv"
    for op in get post; do
        for b in sqlite pg pgpool; do
            for i in $(seq "$RUNS"); do
                ! grep -E 'Non-2xx|Socket errors' "$WORK/$op-$b.$i" >/dev/null ||
                    echo "scale: $op on $b, run $i: $(grep -E 'Non-2xx|Socket errors' "$WORK/$op-$b.$i")" >&2
            done
            r=$(for i in $(seq "$RUNS"); do rps "$WORK/$op-$b.$i"; done | median)
            p=$(for i in $(seq "$RUNS"); do p99_ms "$WORK/$op-$b.$i"; done | median)
            printf '%s\t%s\t%s\t%s\n' "$op" "$b" "$r" "$p" >>"$WORK/rest.tsv"
            printf '  %-5s %-7s %10.0f req/s  p99 %8.2f ms\n' "$op" "$b" "$r" "$p"
        done
    done
    kill "${PID[sqlite]}" "${PID[pg]}" "${PID[pgpool]}"
    wait "${PID[sqlite]}" "${PID[pg]}" "${PID[pgpool]}" || true
fi

# ---- 2. and 3. chat ----
instance one "$(pg_url scale_one)"
URL[one]=http://127.0.0.1:$IPORT PID[one]=$IPID
instance two-a "$(pg_url scale_two)" "$REDIS"
URL[two]=http://127.0.0.1:$IPORT PID[two]=$IPID
instance two-b "$(pg_url scale_two)" "$REDIS"
URL[two]+=" http://127.0.0.1:$IPORT" PID[two]+=" $IPID"
CONFIGS=(one two)
if [ "$SKIP_CHANNELS" != 1 ]; then
    export PEER_DB=$WORK/peer.sqlite3 PYTHONDONTWRITEBYTECODE=1
    (cd "$PEER" && "$PY" manage.py migrate --run-syncdb -v0) || die "peer migrate failed"
    URL[channels]="" PID[channels]=""
    for k in 1 2; do
        port=$(free_port)
        (cd "$PEER" && REDIS_URL=$REDIS exec "${SERVER_CPU[@]}" "$PY" -m daphne -b 127.0.0.1 \
            -p "$port" -v 0 chanpeer.asgi:application) >"$WORK/daphne-$k.log" 2>&1 &
        PIDS+=($!)
        PID[channels]+=" $!"
        URL[channels]+=" http://127.0.0.1:$port"
        wait_ready "http://127.0.0.1:$port/api/rooms/"
    done
    CONFIGS+=(channels)
fi

# wait_idle PID...: up to 20 s until each process uses under 5% of a core over 0.5 s (an
# overloaded peer works through its backlog after the client left).
wait_idle() {
    local pid t0 t1 k
    for pid in "$@"; do
        for k in $(seq 40); do
            t0=$(cpu_ticks "$pid")
            sleep 0.5
            t1=$(cpu_ticks "$pid")
            [ $(((t1 - t0) * 100 / 50)) -lt $((HZ * 5 / 100 + 1)) ] && break
            [ "$k" -lt 40 ] || echo "scale: pid $pid still busy after 20 s" >&2
        done
    done
}

# chat CONFIG TOTAL_RATE SECONDS OUT [DRAIN]: one bench ws run, JSON in OUT, its stderr in
# OUT.err, and "pg_cpu_s redis_cpu_s" over the whole run (connect to close) in OUT.aux.
chat() {
    local cfg=$1 total=$2 secs=$3 out=$4 drain=${5:-2s} rate pg0 pg1 r0 r1
    # shellcheck disable=SC2086 # lists of PIDs and URLs
    wait_idle ${PID[$cfg]}
    rate=$("$PY" -c "print($total / $SOCKETS)")
    pg0=$(pg_ticks)
    r0=$(cpu_ticks "$REDIS_PID")
    # shellcheck disable=SC2086
    timeout $((secs + 120)) "${CLIENT_CPU[@]}" "$HIROBA" bench ws -q --json -c "$SOCKETS" \
        --rooms "$ROOMS" --loops "$LOOPS" --rate "$rate" --duration "${secs}s" --drain "$drain" \
        --server-pid "$(echo ${PID[$cfg]} | tr ' ' ,)" ${URL[$cfg]} >"$out" 2>"$out.err" || true
    pg1=$(pg_ticks)
    r1=$(cpu_ticks "$REDIS_PID")
    echo "$((pg1 - pg0)) $((r1 - r0))" | awk -v hz="$HZ" '{printf "%.2f %.2f\n", $1 / hz, $2 / hz}' >"$out.aux"
    [ -s "$out" ] || echo "scale: $cfg at $total msgs/s failed: $(head -c 300 "$out.err")" >&2
}

echo
echo "== 2./3. chat: $ROOMS rooms of $MEMBERS sockets, hiroba bench ws --loops $LOOPS; every run's" \
    "sockets alternate over the instances of its configuration"
for cfg in "${CONFIGS[@]}"; do chat "$cfg" 50 1 "$WORK/warm-$cfg.json"; done # discarded
for i in $(seq "$RUNS"); do
    chat one "$RATE" "$CHAT_DUR" "$WORK/fixed-one-$i.json"
    chat two "$RATE" "$CHAT_DUR" "$WORK/fixed-two-$i.json"
    [ "$SKIP_CHANNELS" = 1 ] || chat channels "$CH_RATE" "$CHAT_DUR" "$WORK/low-channels-$i.json"
done
# Above what the servers' core sustains: a long drain lets the backlog arrive, so the rate is
# deliveries / time to the last one, and a drop is a message that never came, not a late one.
chat one "$SAT_RATE" 3 "$WORK/sat-one.json" 15s
chat two "$SAT_RATE" 3 "$WORK/sat-two.json" 15s
# Last: at hiroba's offered rate the peer falls behind and keeps working after the run.
[ "$SKIP_CHANNELS" = 1 ] || chat channels "$RATE" "$CH_DUR" "$WORK/same-channels.json" 10s
# shellcheck disable=SC2086
wait_idle ${PID[channels]:-}

# ---- summary ----
echo
"$PY" - "$WORK" "$RUNS" "$RATE" "$SAT_RATE" "$CH_RATE" "$ROOMS" "$MEMBERS" "$CONNS" "$DUR" \
    "$TOPICS" "$CHAT_DUR" "$CH_DUR" <<'PYEOF'
import glob, json, os, statistics, sys
work, runs, rate, sat_rate, ch_rate, rooms, members, conns, dur, topics, chat_dur, ch_dur = sys.argv[1:]
rest = {}
if os.path.exists(os.path.join(work, "rest.tsv")):
    for line in open(os.path.join(work, "rest.tsv")):
        op, b, r, p = line.split("\t")
        rest[op, b] = (float(r), float(p))

def load(pattern):
    out = []
    for path in sorted(glob.glob(os.path.join(work, pattern))):
        try:
            r = json.load(open(path))
        except (OSError, ValueError):
            continue
        aux = open(path + ".aux").read().split()
        srv = r.get("server") or {}
        cpu = srv.get("cpu_s") or 0.0
        pg, redis = float(aux[0]), float(aux[1])
        d = r["delivered"]
        out.append({
            "dps": r["delivered_per_s"],
            "sustained": d / max(r["duration_s"], r["last_delivery_s"]),
            "drops": r["drops"], "expected": r["expected"], "errors": r["errors"],
            "loss": 100.0 * r["drops"] / r["expected"] if r["expected"] else float("nan"),
            "p50": r["latency_ns"]["p50"] / 1e6, "p99": r["latency_ns"]["p99"] / 1e6,
            "cpu": cpu, "cpu_pct": 100 * cpu / srv["window_s"] if srv.get("window_s") else float("nan"),
            "per_core": d / cpu if cpu > 0 else float("nan"),
            "pg": pg, "redis": redis,
            "per_site_core": d / (cpu + pg + redis) if cpu + pg + redis > 0 else float("nan"),
        })
    return out

def med(rows, key):
    vals = [r[key] for r in rows]
    return statistics.median(vals) if vals else float("nan")

def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")

W = 62
def row(label, *cells):
    print("  %-*s" % (W, label) + "".join("%16s" % c for c in cells))

print("== summary (servers on CPU 0, clients on the others; medians of %s runs unless said)" % runs)
print()
if rest:
    row("1. REST, one instance, 1 worker, wrk -c%s -d%ss" % (conns, dur), "SQLite", "PostgreSQL",
        "PG : SQLite", "PG, pool thr.", "fibers : pool")
for op, label in (("get", "GET /api/topics/ (%s topics)" % topics),
                  ("post", "POST /api/replies/ (small reply)")):
    if not rest:
        break
    s, p, q = rest[op, "sqlite"], rest[op, "pg"], rest[op, "pgpool"]
    row(label + ": req/s", "%.0f" % s[0], "%.0f" % p[0], "%.2f" % ratio(p[0], s[0]), "%.0f" % q[0],
        "%.2f" % ratio(p[0], q[0]))
    row(label + ": p99 ms", "%.2f" % s[1], "%.2f" % p[1], "%.2f" % ratio(p[1], s[1]), "%.2f" % q[1],
        "%.2f" % ratio(p[1], q[1]))
print()
one, two = load("fixed-one-*.json"), load("fixed-two-*.json")
row("2. chat, %s rooms of %s, %s msgs/s in, %ss" % (rooms, members, rate, chat_dur),
    "1 instance", "2 instances", "2 : 1")
row("   (PostgreSQL; 2 instances share it and one Redis)", "", "", "")
for key, label, fmt in (("dps", "deliveries/s", "%.0f"),
                        ("sustained", "deliveries/s to the last delivery", "%.0f"),
                        ("drops", "drops", "%.0f"),
                        ("errors", "errors", "%.0f"),
                        ("p50", "latency p50 ms", "%.2f"), ("p99", "latency p99 ms", "%.2f"),
                        ("cpu_pct", "hiroba CPU, summed over instances, % of a core", "%.0f%%"),
                        ("per_core", "deliveries per hiroba core-second (target 2:1 >= 0.8)", "%.0f"),
                        ("pg", "PostgreSQL CPU-s over the run", "%.2f"),
                        ("redis", "Redis CPU-s over the run", "%.2f"),
                        ("per_site_core", "deliveries per core-second, hiroba+PG+Redis", "%.0f")):
    a, b = med(one, key), med(two, key)
    r = ratio(b, a) if key in ("dps", "per_core", "per_site_core", "p50", "p99") else None
    row("   " + label, fmt % a, fmt % b, "%.2f" % r if r is not None else "")
sat_one, sat_two = load("sat-one.json"), load("sat-two.json")
if sat_one and sat_two:
    a, b = sat_one[0], sat_two[0]
    row("   at %s msgs/s in (1 run, 3 s, 15 s drain): sustained deliveries/s" % sat_rate,
        "%.0f" % a["sustained"], "%.0f" % b["sustained"], "%.2f" % ratio(b["sustained"], a["sustained"]))
    row("   at %s msgs/s in: drops / p99 ms" % sat_rate, "%d / %.0f" % (a["drops"], a["p99"]),
        "%d / %.0f" % (b["drops"], b["p99"]), "")
    row("   at %s msgs/s in: deliveries per hiroba core-second" % sat_rate,
        "%.0f" % a["per_core"], "%.0f" % b["per_core"], "%.2f" % ratio(b["per_core"], a["per_core"]))
low, same = load("low-channels-*.json"), load("same-channels.json")
if low or same:
    print()
    row("3. Channels peer: 2 daphne, channels_redis, one SQLite", "hiroba 2 inst.", "Channels 2 d.", "")
    if low:
        row("   at %s msgs/s in (%ss): deliveries/s" % (ch_rate, chat_dur), "", "%.0f" % med(low, "dps"), "")
        row("   at %s msgs/s in: drops (loss %%)" % ch_rate, "",
            "%.0f (%.2f%%)" % (med(low, "drops"), med(low, "loss")), "")
        row("   at %s msgs/s in: p50 / p99 ms" % ch_rate, "",
            "%.1f / %.1f" % (med(low, "p50"), med(low, "p99")), "")
        row("   at %s msgs/s in: deliveries per server core-second" % ch_rate, "",
            "%.0f" % med(low, "per_core"), "")
    if same:
        s = same[0]
        row("   at %s msgs/s in (1 run, %ss, 10 s drain): deliveries/s" % (rate, ch_dur),
            "%.0f" % med(two, "dps"), "%.0f" % s["dps"], "%.1f" % ratio(med(two, "dps"), s["dps"]))
        row("   at %s msgs/s in: drops of expected (loss %%)" % rate,
            "%.0f (%.2f%%)" % (med(two, "drops"), med(two, "loss")),
            "%d (%.1f%%)" % (s["drops"], s["loss"]), "")
        row("   at %s msgs/s in: errors" % rate, "%.0f" % med(two, "errors"), "%d" % s["errors"], "")
        row("   at %s msgs/s in: deliveries per server core-second" % rate,
            "%.0f" % med(two, "per_core"), "%.0f" % s["per_core"],
            "%.1f" % ratio(med(two, "per_core"), s["per_core"]))
PYEOF
# The servers' own complaints (postgres.log holds the expected "room name taken" of bench ws).
for log in "$WORK"/rest-*.log "$WORK"/one.log "$WORK"/two-*.log "$WORK"/daphne-*.log; do
    [ ! -e "$log" ] || grep -iH "error\|sanitizer\|traceback" "$log" >&2 || true
done
