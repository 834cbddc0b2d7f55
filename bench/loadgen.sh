#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Load-generator benchmarks, on loopback only, bounded in time, cleaning up every process:
#  1. `hiroba bench` (async mode) against wrk on the same nginx (1 worker, the seed's 27-byte
#     JSON body): the same threads, connections and duration, RUNS interleaved runs; medians of
#     requests/s and of the CPU each generator used (user + sys, from /usr/bin/time), and ratios.
#  2. The seed workload (600 GET over /hello/, /test/, /aaa/) in serial, threads and async mode
#     against uvicorn+FastAPI (bench/peer/fastapi_app.py) and against hiroba, as one table.
# SVG charts go to bench/out/. This machine is noisy: compare within one run, read the medians.
# Settings (environment): THREADS, CONNS, DURATION (seconds), RUNS, SEED_REQUESTS, SEED_THREADS,
# SEED_CONNS, HIROBA_BIN (the server, default build/hiroba), HIROBA_BENCH_BIN (the binary whose
# `bench` command is measured, default HIROBA_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=loadgen
# shellcheck source=bench/lib.sh
. bench/lib.sh

HIROBA=${HIROBA_BIN:-$PWD/build/hiroba}
BENCH=${HIROBA_BENCH_BIN:-$HIROBA}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
SEED_REQUESTS=${SEED_REQUESTS:-600}
SEED_THREADS=${SEED_THREADS:-5}
SEED_CONNS=${SEED_CONNS:-100}
OUT=$PWD/bench/out

need "$HIROBA" "$BENCH" /usr/sbin/nginx wrk /usr/bin/time "$PY"
"$BENCH" bench --help >/dev/null 2>&1 || die "'$BENCH' has no bench command"
"$PY" -c 'import fastapi, uvicorn' 2>/dev/null || die "python3-fastapi and python3-uvicorn needed"

mkdir -p "$OUT"
[ -f "$OUT/.gitignore" ] || echo '*' >"$OUT/.gitignore" # results stay out of git

# ---- 1. hiroba bench (async) vs wrk on nginx -------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@DIR@|$WORK/nginx|g" bench/nginx/nginx.conf >"$WORK/nginx/nginx.conf"
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/nginx-error.log" &
PIDS+=($!)
URL="http://127.0.0.1:$NGINX_PORT/"
wait_ready "$URL"

limit=$((DURATION + 30))
echo "== hiroba bench (async) vs wrk: nginx 1 worker, $THREADS threads, $CONNS connections," \
    "${DURATION}s, $RUNS interleaved runs"
for i in $(seq 1 "$RUNS"); do
    timeout "$limit" /usr/bin/time -f "%U %S" -o "$WORK/wrk-$i.time" \
        wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$URL" >"$WORK/wrk-$i.out"
    timeout "$limit" /usr/bin/time -f "%U %S" -o "$WORK/hb-$i.time" \
        "$BENCH" bench --mode async --loops "$THREADS" -c "$CONNS" -d "${DURATION}s" --json \
        --svg "$OUT/nginx-async.svg" "$URL" >"$WORK/hb-$i.json" || true
done

"$PY" - "$WORK" "$RUNS" <<'EOF'
import json, re, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])

def cpu(path):
    with open(path) as f:
        user, sys_ = f.read().split()[-2:]
    return float(user) + float(sys_)

rows = []
for i in range(1, runs + 1):
    text = open("%s/wrk-%d.out" % (work, i)).read()
    wrk_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    wrk_n = int(re.search(r"(\d+) requests in", text).group(1))
    wrk_err = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    wrk_err += int(m.group(1)) if m else 0
    doc = json.load(open("%s/hb-%d.json" % (work, i)))["modes"][0]
    wrk_cpu, hb_cpu = cpu("%s/wrk-%d.time" % (work, i)), cpu("%s/hb-%d.time" % (work, i))
    rows.append({"wrk_rps": wrk_rps, "wrk_cpu": wrk_cpu, "wrk_err": wrk_err,
                 "wrk_us": wrk_cpu / max(wrk_n, 1) * 1e6,
                 "hb_rps": doc["rps"], "hb_cpu": hb_cpu, "hb_err": doc["errors"],
                 "hb_us": hb_cpu / max(doc["requests"], 1) * 1e6})
print("%-4s %12s %8s %10s %6s   %12s %8s %10s %6s" % (
    "run", "wrk req/s", "cpu s", "cpu us/req", "errors",
    "hiroba req/s", "cpu s", "cpu us/req", "errors"))
for i, r in enumerate(rows, 1):
    print("%-4d %12.0f %8.2f %10.2f %6d   %12.0f %8.2f %10.2f %6d" % (
        i, r["wrk_rps"], r["wrk_cpu"], r["wrk_us"], r["wrk_err"],
        r["hb_rps"], r["hb_cpu"], r["hb_us"], r["hb_err"]))
med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
print("%-4s %12.0f %8.2f %10.2f %6s   %12.0f %8.2f %10.2f" % (
    "med", med["wrk_rps"], med["wrk_cpu"], med["wrk_us"], "",
    med["hb_rps"], med["hb_cpu"], med["hb_us"]))
print("hiroba/wrk (medians): req/s %.2fx, cpu %.2fx, cpu per request %.2fx" % (
    med["hb_rps"] / med["wrk_rps"], med["hb_cpu"] / med["wrk_cpu"], med["hb_us"] / med["wrk_us"]))
EOF
kill "${PIDS[0]}" 2>/dev/null || true
wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()

# ---- 2. the seed workload: uvicorn+FastAPI and hiroba, three client modes each ---------------
UV_PORT=$(free_port)
"$PY" -m uvicorn --app-dir bench/peer fastapi_app:app --host 127.0.0.1 --port "$UV_PORT" \
    --log-level warning >"$WORK/uvicorn.log" 2>&1 &
PIDS+=($!)
HB_PORT=$(free_port)
DB="sqlite:///$WORK/hiroba.sqlite3"
mkdir -p "$WORK/static"
"$HIROBA" migrate --database "$DB" >/dev/null 2>&1 || die "hiroba migrate failed"
HIROBA_SECRET_KEY="loadgen-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    HIROBA_LOG_FORMAT=json "$HIROBA" serve --listen "127.0.0.1:$HB_PORT" --database "$DB" \
    --workers 1 --static-dir "$WORK/static" >"$WORK/hiroba.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$UV_PORT/healthz"
wait_ready "http://127.0.0.1:$HB_PORT/healthz"

echo
echo "== seed workload: $SEED_REQUESTS GET over /hello/ /test/ /aaa/; servers on 1 process each;" \
    "threads $SEED_THREADS, async $THREADS loops x $SEED_CONNS connections"
for peer in fastapi:$UV_PORT hiroba:$HB_PORT; do
    name=${peer%%:*}
    base="http://127.0.0.1:${peer##*:}"
    # A discarded warm-up pass, so the first mode measured does not pay for cold caches.
    timeout 60 "$BENCH" bench --mode threads -n 300 -q "$base/hello/" >/dev/null 2>&1 || true
    timeout 300 "$BENCH" bench --mode all -n "$SEED_REQUESTS" -t "$SEED_THREADS" \
        --loops "$THREADS" -c "$SEED_CONNS" --json --svg "$OUT/seed-$name.svg" \
        "$base/hello/" "$base/test/" "$base/aaa/" >"$WORK/seed-$name.json" || true
done
"$PY" - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
print("%-16s %-8s %10s %10s %10s %10s %9s %7s" % ("server", "mode", "time s", "req/s", "p50 ms",
                                                  "p99 ms", "speed-up", "errors"))
rps = {}
for name, label in (("fastapi", "uvicorn+FastAPI"), ("hiroba", "hiroba")):
    doc = json.load(open("%s/seed-%s.json" % (work, name)))
    for m in doc["modes"]:
        rps[(name, m["mode"])] = m["rps"]
        print("%-16s %-8s %10.3f %10.0f %10.3f %10.3f %8.2fx %7d" % (
            label, m["mode"], m["elapsed_s"], m["rps"], m["latency_ms"]["p50"],
            m["latency_ms"]["p99"], m["speedup_vs_serial"] or 0, m["errors"]))
print("hiroba/FastAPI req/s: " + ", ".join(
    "%s %.1fx" % (mode, rps[("hiroba", mode)] / rps[("fastapi", mode)])
    for mode in ("serial", "threads", "async") if rps.get(("fastapi", mode))))
EOF
echo
echo "charts: $OUT/nginx-async.svg $OUT/seed-fastapi.svg $OUT/seed-hiroba.svg"
