#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The REST read path against the stack it replaces: authenticated GET /api/topics/ with 100
# topics, hiroba against a minimal DRF + SimpleJWT peer (bench/peer/drf) under uvicorn, both with
# one worker, the same wrk load, RUNS interleaved runs; prints medians of req/s and p99 latency and
# the ratio. Loopback only, bounded in time, every process cleaned up.
#   usage: bench/api.sh     (env: HIROBA_BIN, DUR seconds per run, RUNS, CONNS, TOPICS, WORKERS)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=api
# shellcheck source=bench/lib.sh
. bench/lib.sh
BIN=${HIROBA_BIN:-build/hiroba}
DUR=${DUR:-5}
RUNS=${RUNS:-3}
CONNS=${CONNS:-32}
TOPICS=${TOPICS:-100}
WORKERS=${WORKERS:-1}
PEER=$PWD/bench/peer/drf

need "$BIN" wrk curl "$PY"
"$PY" -c 'import rest_framework, rest_framework_simplejwt, uvicorn' 2>/dev/null ||
    die "python3-djangorestframework, python3-djangorestframework-simplejwt, python3-uvicorn needed"

tmp=$WORK

# ---- hiroba: register, log in, create the topics through the API ----
hport=$(free_port)
hurl=http://127.0.0.1:$hport
export HIROBA_SECRET_KEY=bench-secret-key-0123456789-0123456789-abcdef
hdb=sqlite:///$tmp/hiroba.sqlite3
"$BIN" migrate --database "$hdb" >/dev/null 2>&1
"$BIN" serve --listen 127.0.0.1:$hport --database "$hdb" --workers "$WORKERS" --access-log off \
    --access-ttl 3600 --static-dir "$tmp" 2>"$tmp/hiroba.log" &
PIDS+=($!)
wait_ready "$hurl/healthz"
htoken=$("$PY" - "$hurl" "$TOPICS" <<'PYEOF'
import json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
def call(path, body, token=None):
    req = urllib.request.Request(url + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)
call("/api/register/", {"username": "bench", "password": "bench-password",
                        "password_confirm": "bench-password"})
token = call("/api/token/", {"username": "bench", "password": "bench-password"})["access"]
cat = call("/api/categories/", {"name": "bench"}, token)["id"]
for i in range(n):
    call("/api/topics/", {"category": cat, "comment": "topic %d: ベンチマーク用の書き込み" % i}, token)
print(token)
PYEOF
)

# ---- the DRF peer: syncdb, seed through the ORM, uvicorn with one worker ----
pport=$(free_port)
purl=http://127.0.0.1:$pport
export PEER_DB=$tmp/peer.sqlite3 PYTHONDONTWRITEBYTECODE=1
(cd "$PEER" && "$PY" manage.py migrate --run-syncdb -v0)
ptoken=$(cd "$PEER" && "$PY" manage.py bench_setup --topics "$TOPICS")
"$PY" -m uvicorn drfpeer.asgi:application --app-dir "$PEER" --host 127.0.0.1 --port "$pport" \
    --workers "$WORKERS" --log-level warning --no-access-log 2>"$tmp/peer.log" &
PIDS+=($!)
wait_ready "$purl/api/"

# Both must answer the same list before anything is measured.
count() {
    curl -sf -H "Authorization: Bearer $2" "$1/api/topics/" |
        "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
[ "$(count "$hurl" "$htoken")" = "$TOPICS" ] || die "hiroba does not list $TOPICS topics"
[ "$(count "$purl" "$ptoken")" = "$TOPICS" ] || die "the DRF peer does not list $TOPICS topics"
hbytes=$(curl -s -H "Authorization: Bearer $htoken" "$hurl/api/topics/" | wc -c)
pbytes=$(curl -s -H "Authorization: Bearer $ptoken" "$purl/api/topics/" | wc -c)

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {found = 1} END {print found ? "yes" : "no"}' "$1"; }
p99_ms() {
    awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v }' "$1"
}

for i in $(seq "$RUNS"); do
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "Authorization: Bearer $htoken" \
        "$hurl/api/topics/" >"$tmp/hiroba.$i"
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "Authorization: Bearer $ptoken" \
        "$purl/api/topics/" >"$tmp/peer.$i"
done
for i in $(seq "$RUNS"); do
    for who in hiroba peer; do
        [ "$(errors "$tmp/$who.$i")" = no ] || echo "api: $who run $i had errors:" \
            "$(grep -E 'Non-2xx|Socket errors' "$tmp/$who.$i")" >&2
    done
done

h=$(for i in $(seq "$RUNS"); do rps "$tmp/hiroba.$i"; done | median)
p=$(for i in $(seq "$RUNS"); do rps "$tmp/peer.$i"; done | median)
h99=$(for i in $(seq "$RUNS"); do p99_ms "$tmp/hiroba.$i"; done | median)
p99=$(for i in $(seq "$RUNS"); do p99_ms "$tmp/peer.$i"; done | median)
echo "GET /api/topics/ ($TOPICS topics, Bearer JWT), wrk -t1 -c$CONNS -d${DUR}s, $WORKERS worker(s), median of $RUNS"
printf '%-40s %12s %12s %10s\n' "" "req/s" "p99 ms" "bytes"
printf '%-40s %12s %12s %10s\n' "hiroba" "$h" "$h99" "$hbytes"
printf '%-40s %12s %12s %10s\n' "DRF + SimpleJWT (uvicorn)" "$p" "$p99" "$pbytes"
printf '%-40s %12.1f\n' "ratio hiroba : DRF (req/s)" "$("$PY" -c "print($h/$p)")"
