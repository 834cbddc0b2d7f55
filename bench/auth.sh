#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost of authentication: authenticated GET /api/me/ (JWT check + one indexed read) against
# GET /hello/ on the same server, as a req/s ratio; then /api/me/ p99 with and without a
# concurrent login load (argon2id hashing on the thread pool must not stall the loops).
# Loopback only, bounded in time; prints medians of RUNS interleaved runs.
#   usage: bench/auth.sh            (env: HIROBA_BIN, DUR seconds per run, RUNS, CONNS)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=auth
# shellcheck source=bench/lib.sh
. bench/lib.sh
BIN=${HIROBA_BIN:-build/hiroba}
DUR=${DUR:-5}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
need "$BIN" wrk curl "$PY"

tmp=$WORK
port=$(free_port)
url=http://127.0.0.1:$port
export HIROBA_SECRET_KEY=bench-secret-key-0123456789-0123456789-abcdef
db=sqlite:///$tmp/db.sqlite3
"$BIN" migrate --database "$db" >/dev/null 2>&1
"$BIN" serve --listen 127.0.0.1:$port --database "$db" --workers 1 --access-log off \
    --access-ttl 3600 --static-dir "$tmp" 2>"$tmp/server.log" &
PIDS+=($!)
wait_ready "$url/healthz"

curl -sf -X POST "$url/api/register/" -H 'Content-Type: application/json' \
    -d '{"username":"bench","password":"bench-password","password_confirm":"bench-password"}' >/dev/null
access=$(curl -sf -X POST "$url/api/token/" -H 'Content-Type: application/json' \
    -d '{"username":"bench","password":"bench-password"}' |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["access"])')

cat >"$tmp/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"username":"bench","password":"bench-password"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# wrk prints "Requests/sec: N" and, with --latency, "99% X"; both are normalised here.
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99_ms() {
    awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v }' "$1"
}

for i in $(seq "$RUNS"); do
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url/hello/" >"$tmp/hello.$i"
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "Authorization: Bearer $access" \
        "$url/api/me/" >"$tmp/me.$i"
    # Reads at a modest concurrency, alone and beside 4 clients logging in non-stop.
    wrk -t1 -c8 -d"${DUR}s" --latency -H "Authorization: Bearer $access" \
        "$url/api/me/" >"$tmp/quiet.$i"
    wrk -t1 -c4 -d"$((DUR + 1))s" -s "$tmp/login.lua" "$url/api/token/" >"$tmp/logins.$i" &
    lp=$!
    sleep 0.5
    wrk -t1 -c8 -d"${DUR}s" --latency -H "Authorization: Bearer $access" \
        "$url/api/me/" >"$tmp/busy.$i"
    wait "$lp"
done

hello=$(for i in $(seq "$RUNS"); do rps "$tmp/hello.$i"; done | median)
me=$(for i in $(seq "$RUNS"); do rps "$tmp/me.$i"; done | median)
quiet=$(for i in $(seq "$RUNS"); do p99_ms "$tmp/quiet.$i"; done | median)
busy=$(for i in $(seq "$RUNS"); do p99_ms "$tmp/busy.$i"; done | median)
logins=$(for i in $(seq "$RUNS"); do rps "$tmp/logins.$i"; done | median)
printf '%-44s %12s\n' "GET /hello/ req/s (c=$CONNS, median of $RUNS)" "$hello"
printf '%-44s %12s\n' "GET /api/me/ req/s (c=$CONNS)" "$me"
printf '%-44s %12.2f\n' "ratio /api/me/ : /hello/ (target >= 0.7)" "$($PY -c "print($me/$hello)")"
printf '%-44s %12s\n' "/api/me/ p99 ms, c=8, no login load" "$quiet"
printf '%-44s %12s\n' "/api/me/ p99 ms, c=8, with 4 login clients" "$busy"
printf '%-44s %12s\n' "  logins/s during that run" "$logins"
printf '%-44s %12.2f\n' "p99 ratio loaded : quiet (target <= 2)" "$($PY -c "print($busy/$quiet)")"
