# SPDX-License-Identifier: MIT
# Shared start-up boilerplate of the bench/*.sh scripts; sourced, never run. Before sourcing, set
# BENCH_NAME (the prefix of error messages and of the temporary directory). It provides:
#   PY             the Python every script uses (/usr/bin/python3)
#   die MSG        prints "BENCH_NAME: MSG" on stderr and exits 1
#   need TOOL...   dies unless every TOOL is an executable or a command on PATH
#   WORK, PIDS     a fresh temporary directory and the processes to stop: append every background
#                  PID to PIDS; on exit (normal, error, INT, TERM) they are killed and reaped and
#                  WORK is removed
#   free_port      an unused loopback TCP port
#   wait_ready URL waits (10 s at most) until URL answers anything, else dies
#   median         the median of the numbers on stdin, one a line
#   cpu_ticks PID  user + system CPU time of PID in clock ticks (CLK_TCK per second)
#   rss_kib PID    resident set size of PID in KiB
#   SERVER_CPU, CLIENT_CPU
#                  command prefixes that pin servers to CPU 0 and clients to the other CPUs
#                  (taskset), or empty arrays on one CPU or without taskset; N_CLIENT_CPUS
#   start_hiroba PORT LOG [ARGS...]
#                  migrates a SQLite database in WORK and starts `$HIROBA serve` on 127.0.0.1:PORT
#                  with one worker, no access log and a static dir in WORK, pinned like a server,
#                  plus ARGS; sets HIROBA_PID and waits for /healthz
PY=/usr/bin/python3

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "'$tool' not found (make build-c; scripts/setup)"
    done
}

WORK=$(mktemp -d "/tmp/hiroba-$BENCH_NAME.XXXXXX")
PIDS=()
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {
    "$PY" - "$1" <<'PYEOF' || die "nothing answers at $1"
import sys, time, urllib.error, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # it answers, if not with 200
    except Exception:
        time.sleep(0.05)
sys.exit(1)
PYEOF
}

median() {
    sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# Fields 14 and 15 counted after the command name, which may hold spaces.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

SERVER_CPU=()
CLIENT_CPU=()
N_CLIENT_CPUS=$(nproc)
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPU=(taskset -c 0)
    CLIENT_CPU=(taskset -c "1-$(($(nproc) - 1))")
    N_CLIENT_CPUS=$(($(nproc) - 1))
fi

start_hiroba() {
    local port=$1 log=$2
    shift 2
    local db="sqlite:///$WORK/hiroba-$port.sqlite3"
    "$HIROBA" migrate --database "$db" >/dev/null 2>&1 || die "hiroba migrate failed"
    mkdir -p "$WORK/static"
    "${SERVER_CPU[@]}" "$HIROBA" serve --listen "127.0.0.1:$port" --database "$db" --workers 1 \
        --access-log off --static-dir "$WORK/static" "$@" >"$log" 2>&1 &
    HIROBA_PID=$!
    PIDS+=("$HIROBA_PID")
    wait_ready "http://127.0.0.1:$port/healthz"
}
