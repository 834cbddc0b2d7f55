#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HTTP engine benchmark on loopback, bounded in time, cleaning up every process it starts:
# hiroba (--workers 1, --access-log=off) vs nginx (1 worker, bench/nginx/http-bench.conf.in) vs
# uvicorn+FastAPI (1 worker, bench/peer/hello_fastapi.py), all answering GET /hello/ with the
# seed's 27-byte JSON body. wrk drives each in turn, RUNS interleaved rounds; the medians of
# requests/s and of p99 latency are printed with the ratios. Then a 16-deep pipelined run
# (wrk + a Lua script written at runtime) against hiroba and nginx. With 2+ cores, servers run
# on CPU 0 and wrk on CPU 1 so they never compete. This machine is noisy: compare within one
# run, read the medians. Settings (environment): HIROBA_BIN (default build/hiroba, the release
# build), DURATION (seconds per run, 5), RUNS (3), CONNS (50), PIPELINE (16).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=http.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

HIROBA=${HIROBA_BIN:-$PWD/build/hiroba}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-16}

need "$HIROBA" /usr/sbin/nginx wrk "$PY"
"$PY" -c 'import fastapi, uvicorn' 2>/dev/null || die "python3-fastapi and python3-uvicorn needed"

WRK_CPU=("${CLIENT_CPU[@]}")

# check_hello URL: waits (10 s at most) until URL answers exactly the 27-byte body.
check_hello() {
    "$PY" - "$1" <<'EOF' || die "no hello at $1"
import sys, time, urllib.request
for _ in range(200):
    try:
        body = urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0 if body == b'{"message":"Hello, World!"}' else 2)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# ---- servers ----
HIROBA_PORT=$(free_port)
"$HIROBA" migrate --database "sqlite:///$WORK/db.sqlite3" >/dev/null 2>&1 || true
"${SERVER_CPU[@]}" "$HIROBA" serve --listen "127.0.0.1:$HIROBA_PORT" --workers 1 \
    --access-log=off --log-format text --database "sqlite:///$WORK/db.sqlite3" \
    --secret-key "bench-secret-key-that-is-long-enough-0123456789" \
    --static-dir "$WORK/static" 2>"$WORK/hiroba.log" &
PIDS+=($!)

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@DIR@|$WORK/nginx|g" bench/nginx/http-bench.conf.in \
    >"$WORK/nginx/nginx.conf"
"${SERVER_CPU[@]}" /usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
    -e "$WORK/nginx/error.log" &
PIDS+=($!)

UVICORN_PORT=$(free_port)
"${SERVER_CPU[@]}" "$PY" -m uvicorn hello_fastapi:app --app-dir bench/peer --host 127.0.0.1 \
    --port "$UVICORN_PORT" --workers 1 --no-access-log --log-level warning \
    2>"$WORK/uvicorn.log" &
PIDS+=($!)

declare -A URL=(
    [hiroba]="http://127.0.0.1:$HIROBA_PORT/hello/"
    [nginx]="http://127.0.0.1:$NGINX_PORT/hello/"
    [uvicorn]="http://127.0.0.1:$UVICORN_PORT/hello/"
)
for name in hiroba nginx uvicorn; do check_hello "${URL[$name]}"; done

# Lua for the pipelined runs: PIPELINE requests per write.
cat >"$WORK/pipeline.lua" <<EOF
init = function(args)
    local r = {}
    for i = 1, $PIPELINE do
        r[i] = wrk.format(nil, nil)
    end
    req = table.concat(r)
end
request = function()
    return req
end
EOF

# run_wrk NAME URL [LUA]: one wrk run; appends "rps p99_ms" to $WORK/NAME.
run_wrk() {
    local name=$1 url=$2 lua=${3:-}
    local args=(-t1 -c"$CONNS" -d"${DURATION}s" --latency --timeout 5s)
    [ -n "$lua" ] && args+=(-s "$lua")
    local out
    out=$(timeout $((DURATION + 30)) "${WRK_CPU[@]}" wrk "${args[@]}" "$url") ||
        die "wrk failed against $name"
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "warning: $name: $(grep "Non-2xx\|Socket errors" <<<"$out" | tr -s ' ')" >&2
    fi
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000}
        else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}
        print v}' <<<"$out")
    echo "$rps $p99" >>"$WORK/res-$name"
    printf '  %-16s %12.0f req/s   p99 %8.2f ms\n' "$name" "$rps" "$p99"
}

col() { awk -v c="$2" '{print $c}' "$WORK/res-$1" | median; }

echo "== GET /hello/, wrk -t1 -c$CONNS -d${DURATION}s, $RUNS interleaved rounds" \
    "(servers 1 worker${SERVER_CPU:+, pinned to CPU 0; wrk on CPU 1})"
# Warm-up (discarded): first connections, page cache, Python imports.
for name in hiroba nginx uvicorn; do
    timeout 30 wrk -t1 -c"$CONNS" -d1s "${URL[$name]}" >/dev/null
done
for round in $(seq 1 "$RUNS"); do
    echo " round $round"
    for name in hiroba nginx uvicorn; do run_wrk "$name" "${URL[$name]}"; done
done
echo " round ${PIPELINE}-deep pipelining"
for round in $(seq 1 "$RUNS"); do
    for name in hiroba nginx; do run_wrk "$name-pipelined" "${URL[$name]}" "$WORK/pipeline.lua"; done
done

echo
echo "== medians"
printf '  %-18s %12s %12s\n' server "req/s" "p99 ms"
for name in hiroba nginx uvicorn; do
    printf '  %-18s %12.0f %12.2f\n' "$name" "$(col "$name" 1)" "$(col "$name" 2)"
done
# wrk times pipelined responses from the previous one, so their p99 means little.
for name in hiroba-pipelined nginx-pipelined; do
    printf '  %-18s %12.0f %12s\n' "$name" "$(col "$name" 1)" "-"
done
ratio() { awk -v a="$(col "$1" 1)" -v b="$(col "$2" 1)" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "== ratios (req/s medians)"
echo "  hiroba / nginx             $(ratio hiroba nginx)"
echo "  hiroba / uvicorn+FastAPI   $(ratio hiroba uvicorn)"
echo "  hiroba / nginx, pipelined  $(ratio hiroba-pipelined nginx-pipelined)"
grep -i "error\|sanitizer" "$WORK/hiroba.log" >&2 || true
