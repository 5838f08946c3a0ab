#!/usr/bin/env bash
# reverse-cost.sh [SNAPSHOT-CYCLES...]: what a gdb reverse-stepi costs deep into a kernel run, with and without
# snapshots (docs/DEBUGGING.md, Snapshots). For each --gdb-snapshots value (default: 0 and 10000000) it boots
# `lvd boot --cpus 4 --isolate nullnet --workload nullnet --duration 300000000 --gdb 0`, lets real gdb stop at the
# first ndo_start_xmit_handler and then at the printk of the result line (~400M modeled cycles in), and times the
# reverse-stepi there and the whole session (wall seconds).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./lvd boot --cpus 1 >/dev/null   # builds the CLI and the kernel first, so the timings below measure only the sessions
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for snaps in "${@:-0 10000000}"; do
  for s in $snaps; do
    ./lvd boot --cpus 4 --isolate nullnet --workload nullnet --duration 300000000 --gdb 0 --gdb-snapshots "$s" \
      >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    port=""
    for _ in $(seq 1 600); do
      port="$(grep -o '127\.0\.0\.1:[0-9]*' "$tmp/err" | head -1 | cut -d: -f2 || true)"
      [ -n "$port" ] && break
      sleep 0.1
    done
    [ -n "$port" ] || { echo "lvd did not start the gdb stub:" >&2; cat "$tmp/err" >&2; exit 1; }
    start=$(date +%s.%N)
    gdb -batch -nx -ex "set pagination off" -ex "target remote :$port" -ex "break ndo_start_xmit_handler" -ex continue \
      -ex delete -ex "break printk" -ex continue -ex "shell date +%s.%N > $tmp/t1" -ex reverse-stepi \
      -ex "shell date +%s.%N > $tmp/t2" -ex "monitor snapshots" -ex delete -ex continue build/kernel/kernel.elf >"$tmp/gdb" 2>&1
    end=$(date +%s.%N)
    wait "$pid"
    kept="$(grep -o '^[0-9]* snapshots' "$tmp/gdb" || echo 'no snapshots')"
    printf -- '--gdb-snapshots %s: reverse-stepi %.2f s, whole session %.2f s (%s)\n' "$s" \
      "$(echo "$(cat "$tmp/t2") - $(cat "$tmp/t1")" | bc)" "$(echo "$end - $start" | bc)" "$kept"
  done
done
