#!/bin/bash
# One command for issue 9: lavad against LAVA 2023.01 on this machine.
#
#   bench/run.sh               lavad side, then the LAVA side from this machine's last
#                              baseline run (or the recorded table), then the table
#   bench/run.sh --with-lava   also (re)build and measure the LAVA baseline first
#                              (shared/bench/lava-baseline: setup.sh + measure.sh,
#                              ~5 min + ~7 min populate the first time + ~15 min)
#   bench/run.sh --quick       short runs (3 s per row, 50 subscribers): a smoke test
#
# Environment: BENCH_DURATION (fast rows, default 20 s), BENCH_EXPORT_DURATION
# (exports and submission, default 30 s), LAVA_RUN (where the baseline's scripts are
# copied and run, default /var/tmp/lava-baseline-run; its results/ are reused),
# MEMORY_SIZES (export-memory check, default 1000,100000; "skip" to skip it),
# KEEP=1 keeps the temporary directory.
#
# Everything listens on 127.0.0.1 only, on free ports; the lavad data directory is a
# temporary directory.  Exit status 0 when every target is met.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="$ROOT/.venv/bin/python"
TWISTD="$ROOT/.venv/bin/twistd"
BASELINE="${BASELINE:-$(cd "$ROOT/../shared/bench/lava-baseline" 2>/dev/null && pwd || true)}"
LAVA_RUN="${LAVA_RUN:-/var/tmp/lava-baseline-run}"
WITH_LAVA=0
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --with-lava) WITH_LAVA=1 ;;
    --quick) QUICK=1 ;;
    *) echo "usage: $0 [--with-lava] [--quick]" >&2; exit 2 ;;
  esac
done
DURATION="${BENCH_DURATION:-20}"
EXPORT_DURATION="${BENCH_EXPORT_DURATION:-30}"
SUBSCRIBERS=200
EVENTS=1000
MEMORY_SIZES="${MEMORY_SIZES:-1000,100000}"
if [ "$QUICK" = 1 ]; then
  DURATION=3; EXPORT_DURATION=3; SUBSCRIBERS=50; EVENTS=200
  MEMORY_SIZES="${MEMORY_SIZES_QUICK:-1000,10000}"
fi
log() { echo "[bench] $*"; }

WORK="$(mktemp -d /tmp/lavad-bench.XXXXXX)"
LAVAD_PID=""
cleanup() {
  if [ -n "$LAVAD_PID" ] && kill -0 "$LAVAD_PID" 2>/dev/null; then
    kill "$LAVAD_PID"; wait "$LAVAD_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# -- 1. the LAVA side, first when asked (it takes the machine for ~20 minutes) -----------------
LAVA_RESULTS=""
if [ "$WITH_LAVA" = 1 ]; then
  [ -n "$BASELINE" ] && [ -x "$BASELINE/measure.sh" ] || { echo "no baseline scripts" >&2; exit 1; }
  log "LAVA baseline: copying $BASELINE to $LAVA_RUN and running setup.sh + measure.sh"
  mkdir -p "$LAVA_RUN"
  cp -r "$BASELINE/." "$LAVA_RUN/"
  chmod -R u+w "$LAVA_RUN"
  rm -rf "$LAVA_RUN/results.recorded"
  mv "$LAVA_RUN/results" "$LAVA_RUN/results.recorded" && mkdir "$LAVA_RUN/results"
  (cd "$LAVA_RUN" && ./setup.sh && ./measure.sh) > "$WORK/lava-measure.log" 2>&1 || {
    tail -20 "$WORK/lava-measure.log"; echo "the LAVA baseline failed (log above)" >&2; exit 1; }
  "$LAVA_RUN/stop.sh" --services >/dev/null 2>&1 || true   # idle LAVA off while lavad runs
fi
if [ -f "$LAVA_RUN/results/results.json" ]; then
  LAVA_RESULTS="$LAVA_RUN/results/results.json"
elif [ -n "$BASELINE" ] && [ -f "$BASELINE/results/table.md" ]; then
  LAVA_RESULTS="$BASELINE/results/table.md"
  log "no LAVA run on this machine yet: using the baseline's recorded table"
else
  echo "no LAVA results: run with --with-lava" >&2; exit 1
fi

# -- 2. the lavad dataset and server -------------------------------------------------------------
log "building the dataset in $WORK/data"
"$PY" "$HERE/dataset.py" --data-dir "$WORK/data" --ids "$WORK/ids.json"
read -r HTTP_PORT ZMQ_PORT < <("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
EOF
)
log "starting lavad on 127.0.0.1:$HTTP_PORT (events on $ZMQ_PORT)"
(cd "$WORK" && exec "$TWISTD" -n --pidfile= -l "$WORK/lavad.log" lavad --data-dir "$WORK/data" \
   --http "tcp:$HTTP_PORT:interface=127.0.0.1" --event-socket "tcp://127.0.0.1:$ZMQ_PORT") &
LAVAD_PID=$!
BASE="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$BASE/api/v0.2/system/version/" 2>/dev/null && break
  kill -0 "$LAVAD_PID" 2>/dev/null || { cat "$WORK/lavad.log"; exit 1; }
  sleep 0.2
done
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory: $(free -m | awk '/Mem:/{print $2" MiB total, "$7" MiB available"}')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "lavad: $(git -C "$ROOT" rev-parse --short HEAD), python $("$PY" -c 'import platform; print(platform.python_version())')"
  echo "wrk: $(command -v wrk >/dev/null && dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo absent)"
} > "$WORK/machine.txt"

# -- 3. the mix ------------------------------------------------------------------------------------
log "running the request mix (fast rows ${DURATION}s, exports/submission ${EXPORT_DURATION}s)"
"$PY" "$HERE/load.py" --base "$BASE" --ids "$WORK/ids.json" --pids "$LAVAD_PID" \
  --duration "$DURATION" --export-duration "$EXPORT_DURATION" \
  --ws "ws://127.0.0.1:$HTTP_PORT/ws/" --zmq "tcp://127.0.0.1:$ZMQ_PORT" \
  --subscribers "$SUBSCRIBERS" --events "$EVENTS" --out "$WORK/lavad.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/machine.txt"
kill "$LAVAD_PID"; wait "$LAVAD_PID" 2>/dev/null || true
LAVAD_PID=""

# -- 4. export memory, 1,000 to 100,000 cases ----------------------------------------------------
MEMORY_ARGS=()
if [ "$MEMORY_SIZES" != skip ] && [ -f "$HERE/export_memory.py" ]; then
  log "export memory check ($MEMORY_SIZES cases)"
  if (cd "$ROOT" && "$PY" "$HERE/export_memory.py" --sizes "$MEMORY_SIZES" \
        --json "$WORK/memory.json"); then
    MEMORY_ARGS=(--memory "$WORK/memory.json" --memory-ok yes)
  else
    MEMORY_ARGS=(--memory "$WORK/memory.json" --memory-ok no)
  fi
fi

# -- 5. the table ----------------------------------------------------------------------------------
echo
cat "$WORK/machine.txt"
echo
STATUS=0
"$PY" "$HERE/report.py" --lavad "$WORK/lavad.json" --lava "$LAVA_RESULTS" "${MEMORY_ARGS[@]}" \
  | tee "$WORK/table.md" || STATUS=$?
RECORDED="${BASELINE:+$BASELINE/results/table.md}"
if [ "${LAVA_RESULTS##*.}" = json ] && [ -n "$RECORDED" ] && [ -f "$RECORDED" ]; then
  echo
  log "the same lavad figures against the baseline's recorded run (a quieter machine):"
  "$PY" "$HERE/report.py" --lavad "$WORK/lavad.json" --lava "$RECORDED" "${MEMORY_ARGS[@]}" \
    | tee "$WORK/table-recorded.md" || true
fi
mkdir -p "$HERE/results"
cp "$WORK"/table*.md "$WORK/machine.txt" "$WORK/lavad.json" "$HERE/results/"
[ -f "$WORK/memory.json" ] && cp "$WORK/memory.json" "$HERE/results/"
[ "${LAVA_RESULTS##*.}" = json ] && cp "$LAVA_RESULTS" "$HERE/results/lava-results.json"
log "table, machine and raw results copied to $HERE/results/"
exit "$STATUS"
